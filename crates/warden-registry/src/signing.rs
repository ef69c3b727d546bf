//! Artifact signatures: an Ed25519 signature over the 32 bytes of an artifact's SHA-256, by a signer the
//! server trusts (`--artifact-signers FILE`: one `NAME BASE64-PUBLIC-KEY` per line). Checked when a version
//! is registered and again whenever a version is loaded for serving.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

use crate::{Error, Result};

/// A signer whose artifact signatures this server accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedSigner {
    /// Name, as versions record it.
    pub name: String,
    /// Ed25519 public key.
    pub key: [u8; 32],
}

/// A version's artifact signature as given at registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactSignature {
    /// The signer's name (one of the trusted signers).
    pub signer: String,
    /// The Ed25519 signature over the artifact's SHA-256 digest, base64.
    pub signature: String,
}

/// Reads a trusted-signers file: `NAME BASE64-PUBLIC-KEY` per line; blank lines and `#` comments skipped.
pub fn read_trusted_signers(path: &Path) -> Result<Vec<TrustedSigner>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid(format!("cannot read the artifact signers file {}: {e}", path.display())))?;
    let mut signers: Vec<TrustedSigner> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| Error::invalid(format!("{} line {}: {why}", path.display(), n + 1));
        let (name, key) = line.split_once(char::is_whitespace).ok_or_else(|| bad("expected NAME BASE64-PUBLIC-KEY"))?;
        crate::registry::validate_name("signer", name)?;
        let key: [u8; 32] = STANDARD
            .decode(key.trim())
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| bad("the public key is not 32 bytes of base64"))?;
        VerifyingKey::from_bytes(&key).map_err(|_| bad("not an Ed25519 public key"))?;
        if signers.iter().any(|s| s.name == name) {
            return Err(bad(&format!("signer '{name}' appears twice")));
        }
        signers.push(TrustedSigner { name: name.to_owned(), key });
    }
    Ok(signers)
}

/// Checks `signature` over the artifact digest (`sha256_hex`) against the trusted signers.
pub fn verify(trusted: &[TrustedSigner], signature: &ArtifactSignature, sha256_hex: &str) -> Result<()> {
    let signer = trusted.iter().find(|s| s.name == signature.signer).ok_or_else(|| {
        Error::invalid(format!(
            "artifact signer '{}' is not trusted by this server (trusted: {})",
            signature.signer,
            if trusted.is_empty() {
                "none; start it with --artifact-signers".to_owned()
            } else {
                trusted.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            }
        ))
    })?;
    let bytes: [u8; 64] = STANDARD
        .decode(signature.signature.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::invalid("the artifact signature is not 64 bytes of base64"))?;
    let digest = hex::decode(sha256_hex).map_err(|_| Error::Inconsistent("the artifact digest is not hex".into()))?;
    let key = VerifyingKey::from_bytes(&signer.key)
        .map_err(|_| Error::Inconsistent(format!("trusted signer {} has an invalid key", signer.name)))?;
    key.verify(&digest, &Signature::from_bytes(&bytes)).map_err(|_| {
        Error::invalid(format!(
            "the artifact signature does not verify under signer '{}' for SHA-256 {sha256_hex}",
            signature.signer
        ))
    })
}

/// A new Ed25519 signing key: its 32-byte seed and its public key, base64.
pub fn new_key() -> ([u8; 32], String) {
    let mut seed = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
    let public = STANDARD.encode(SigningKey::from_bytes(&seed).verifying_key().to_bytes());
    (seed, public)
}

/// Signs an artifact digest with a 32-byte Ed25519 seed: the signature, base64 (what `warden artifact sign`
/// prints), and the public key, base64 (what the trusted-signers file lists).
pub fn sign(seed: &[u8; 32], sha256_hex: &str) -> Result<(String, String)> {
    let digest = hex::decode(sha256_hex).map_err(|_| Error::invalid("the digest is not hex"))?;
    let key = SigningKey::from_bytes(seed);
    Ok((STANDARD.encode(key.sign(&digest).to_bytes()), STANDARD.encode(key.verifying_key().to_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn signer(seed: u8, name: &str) -> (TrustedSigner, [u8; 32]) {
        let seed = [seed; 32];
        let (_, public) = sign(&seed, SHA).unwrap();
        let key = STANDARD.decode(public).unwrap().try_into().unwrap();
        (TrustedSigner { name: name.into(), key }, seed)
    }

    #[test]
    fn only_a_trusted_signers_signature_over_this_digest_verifies() {
        let (alice, alice_seed) = signer(1, "model-build");
        let (mallory, mallory_seed) = signer(2, "mallory");
        let trusted = [alice.clone()];
        let (good, _) = sign(&alice_seed, SHA).unwrap();
        let ok = ArtifactSignature { signer: "model-build".into(), signature: good.clone() };
        assert!(verify(&trusted, &ok, SHA).is_ok());
        let other_digest = SHA.replace('9', "8");
        assert!(verify(&trusted, &ok, &other_digest).unwrap_err().to_string().contains("does not verify"));
        let (forged, _) = sign(&mallory_seed, SHA).unwrap();
        let forged = ArtifactSignature { signer: "model-build".into(), signature: forged };
        assert!(verify(&trusted, &forged, SHA).is_err(), "another key's signature under a trusted name");
        let stranger = ArtifactSignature { signer: mallory.name.clone(), signature: good };
        assert!(verify(&trusted, &stranger, SHA).unwrap_err().to_string().contains("not trusted"));
        let garbled = ArtifactSignature { signer: "model-build".into(), signature: "bm90IGEgc2lnbmF0dXJl".into() };
        assert!(verify(&trusted, &garbled, SHA).unwrap_err().to_string().contains("64 bytes"));
    }

    #[test]
    fn the_signers_file_is_read_and_its_mistakes_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signers");
        let (alice, _) = signer(1, "model-build");
        let line = format!("# CI signing key\nmodel-build {}\n\n", STANDARD.encode(alice.key));
        std::fs::write(&path, &line).unwrap();
        assert_eq!(read_trusted_signers(&path).unwrap(), [alice]);
        std::fs::write(&path, format!("{line}{line}")).unwrap();
        assert!(read_trusted_signers(&path).unwrap_err().to_string().contains("appears twice"));
        std::fs::write(&path, "model-build AAAA\n").unwrap();
        assert!(read_trusted_signers(&path).unwrap_err().to_string().contains("line 1"));
        std::fs::write(&path, "lonely\n").unwrap();
        assert!(read_trusted_signers(&path).unwrap_err().to_string().contains("NAME BASE64-PUBLIC-KEY"));
    }
}
