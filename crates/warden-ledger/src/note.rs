//! Checkpoints in the C2SP `tlog-checkpoint` format, signed as C2SP signed notes with Ed25519.
//!
//! A checkpoint's text is `<origin>\n<tree size>\n<base64 root hash>\n` followed by extension lines (Warden
//! adds `time <unix seconds>`). The signed note is that text, an empty line, and one line per signature:
//! `— <key name> <base64(key id ‖ signature)>`, where the key id is the first four bytes of
//! `SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)`. A verifier key is written
//! `<key name>+<hex key id>+<base64(0x01 ‖ public key)>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// Why a note or checkpoint is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Not in the format.
    #[error("malformed {0}")]
    Malformed(String),
    /// No signature by the key, or a signature that does not verify.
    #[error("no valid signature by {0}")]
    Signature(String),
}

/// Ed25519 in the signed-note algorithm byte.
const ED25519: u8 = 0x01;

/// A checkpoint: the state of a log at some size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity (the first line).
    pub origin: String,
    /// Leaves.
    pub size: u64,
    /// Root hash of the first `size` leaves.
    pub root: Hash,
    /// When it was made (Unix seconds).
    pub time: i64,
}

impl Checkpoint {
    /// The checkpoint's text (what is signed).
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\ntime {}\n", self.origin, self.size, STANDARD.encode(self.root), self.time)
    }

    /// Parses a checkpoint's text.
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |what: &str| NoteError::Malformed(format!("checkpoint: {what}"));
        let body = text.strip_suffix('\n').ok_or_else(|| bad("no final newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or_else(|| bad("no origin"))?.to_owned();
        let size = lines.next().and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| bad("no tree size"))?;
        let root = lines
            .next()
            .and_then(|r| STANDARD.decode(r).ok())
            .and_then(|r| <Hash>::try_from(r.as_slice()).ok())
            .ok_or_else(|| bad("no 32-byte base64 root hash"))?;
        let time = lines
            .next()
            .and_then(|l| l.strip_prefix("time "))
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| bad("no time line"))?;
        if lines.next().is_some() {
            return Err(bad("unexpected extension lines"));
        }
        Ok(Checkpoint { origin, size, root, time })
    }
}

/// An Ed25519 note signer with its key name.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519]);
    h.update(public.as_bytes());
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn new(name: &str, seed: &[u8; 32]) -> Result<NoteSigner, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::Malformed(format!("key name '{name}'")));
        }
        Ok(NoteSigner { name: name.to_owned(), key: SigningKey::from_bytes(seed) })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The verifier key, as published.
    pub fn verifier_key(&self) -> String {
        let public = self.key.verifying_key();
        let mut encoded = vec![ED25519];
        encoded.extend_from_slice(public.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(key_id(&self.name, &public)), STANDARD.encode(encoded))
    }

    /// Signs `text` (which must end in a newline) as a note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') || text.contains("\n\n") {
            return Err(NoteError::Malformed("note text must end in one newline and have no empty line".into()));
        }
        let signature = self.key.sign(text.as_bytes());
        let mut blob = key_id(&self.name, &self.key.verifying_key()).to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!("{text}\n\u{2014} {} {}\n", self.name, STANDARD.encode(blob)))
    }
}

/// A published verifier key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
    pub fn parse(text: &str) -> Result<NoteVerifier, NoteError> {
        let bad = || NoteError::Malformed(format!("verifier key '{}'", text.trim()));
        // The base64 key may itself contain '+': only the first two separate fields.
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let id: [u8; 4] = hex::decode(id).ok().and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
        let key = STANDARD.decode(key).map_err(|_| bad())?;
        let (&[algorithm], public) = key.split_at_checked(1).ok_or_else(bad)? else { return Err(bad()) };
        let public: [u8; 32] = public.try_into().map_err(|_| bad())?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad())?;
        if algorithm != ED25519 || !valid_name(name) || key_id(name, &key) != id {
            return Err(bad());
        }
        Ok(NoteVerifier { name: name.to_owned(), id, key })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks a signed note and returns its text: it must carry a valid signature by this key.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let split = note.rfind("\n\n").ok_or_else(|| NoteError::Malformed("note without signatures".into()))?;
        let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
        for line in signatures.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(NoteError::Malformed(format!("signature line '{line}'")));
            };
            let Some((name, blob)) = rest.split_once(' ') else {
                return Err(NoteError::Malformed(format!("signature line '{line}'")));
            };
            let Ok(blob) = STANDARD.decode(blob) else { continue };
            if name != self.name || blob.len() != 68 || blob[..4] != self.id {
                continue;
            }
            let signature = Signature::from_slice(&blob[4..]).map_err(|_| NoteError::Signature(self.name.clone()))?;
            if self.key.verify(text.as_bytes(), &signature).is_ok() {
                return Ok(text);
            }
            return Err(NoteError::Signature(self.name.clone()));
        }
        Err(NoteError::Signature(self.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of golang.org/x/mod/sumdb/note (the signed-note reference implementation): the same
    /// key signs the same text into the same bytes, and its published verifier key opens it.
    #[test]
    fn the_go_reference_note_is_reproduced_byte_for_byte() {
        let private = STANDARD.decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz").unwrap();
        assert_eq!(private[0], ED25519);
        let seed: [u8; 32] = private[1..].try_into().unwrap();
        let signer = NoteSigner::new("PeterNeumann", &seed).unwrap();
        assert_eq!(signer.verifier_key(), "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
        let text =
            "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        let want = format!(
            "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        );
        assert_eq!(signer.sign(text).unwrap(), want);
        let verifier =
            NoteVerifier::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").unwrap();
        assert_eq!(verifier.open(&want).unwrap(), text);
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_key_and_not_when_changed_or_under_another_key() {
        let signer = NoteSigner::new("warden.example/ledger", &[7u8; 32]).unwrap();
        let verifier = NoteVerifier::parse(&signer.verifier_key()).unwrap();
        let checkpoint =
            Checkpoint { origin: "warden.example/ledger".into(), size: 42, root: [9u8; 32], time: 1_700_000_000 };
        let note = signer.sign(&checkpoint.text()).unwrap();
        assert!(note.contains("\n\n\u{2014} warden.example/ledger "), "{note}");
        let text = verifier.open(&note).unwrap();
        assert_eq!(Checkpoint::parse(text).unwrap(), checkpoint);
        // A changed size, a changed signature, another key: refused.
        assert!(verifier.open(&note.replacen("\n42\n", "\n43\n", 1)).is_err());
        let mut flipped = note.clone().into_bytes();
        let at = flipped.len() - 5;
        flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
        assert!(verifier.open(&String::from_utf8(flipped).unwrap()).is_err());
        let other = NoteSigner::new("warden.example/ledger", &[8u8; 32]).unwrap();
        assert!(NoteVerifier::parse(&other.verifier_key()).unwrap().open(&note).is_err());
        // Malformed keys and names.
        assert!(NoteVerifier::parse("name+00000000+AAAA").is_err());
        assert!(NoteSigner::new("with space", &[1u8; 32]).is_err());
        assert!(Checkpoint::parse("origin\n12\nnot-base64\ntime 1\n").is_err());
    }
}
