/*!
Warden's tamper-evident ledger, the math only: no I/O, no clock.

- [`merkle`]: the RFC 9162 Merkle tree (leaf hash `SHA-256(0x00 ‖ entry)`, node hash
  `SHA-256(0x01 ‖ left ‖ right)`), inclusion and consistency proofs and their verification.
- [`note`]: checkpoints in the C2SP `tlog-checkpoint` format, signed as C2SP signed notes with Ed25519.
- [`hash_hex`]: 32-byte hashes to and from hex without allocating (verification handles millions).
- [`Entry`]: a ledger entry and its canonical JSON (keys in byte order, no whitespace) — the bytes that are
  hashed into the tree.
*/
#![deny(missing_docs)]

pub mod hash_hex;
pub mod merkle;
pub mod note;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use merkle::{Hash, leaf_hash};

/// JSON with object keys in byte order and no insignificant whitespace: the same value always gives the
/// same bytes.
pub fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// SHA-256 of a value's canonical JSON, hex.
pub fn payload_sha256(value: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(value).as_bytes()))
}

/// One ledger entry: who did what to what and when, the hash of the details, its position, and the hash of
/// the entry before it (so that an edited, removed or moved entry is named by the one after it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Position in the log (0, 1, ...).
    pub index: u64,
    /// When (µs since the Unix epoch).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What (`model.create`, `alias.set`, `alert.fired`, ...).
    pub action: String,
    /// To what (`model/credit/version/2`, ...).
    pub subject: String,
    /// SHA-256 (hex) of the canonical JSON of the details.
    pub payload_sha256: String,
    /// Leaf hash (hex) of the previous entry; 64 zeros for the first.
    pub prev: String,
}

/// Appends a JSON string literal, escaped as serde_json escapes it.
fn push_json_string(out: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&Value::String(text.to_owned()).to_string());
    }
}

/// Writes an entry's canonical JSON from its fields into `out` (cleared first): what [`Entry::canonical`]
/// gives, without building an `Entry`.
#[allow(clippy::too_many_arguments)]
pub fn write_canonical(
    out: &mut String,
    index: u64,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    payload_sha256: &str,
    prev: &str,
) {
    use std::fmt::Write;
    out.clear();
    out.push_str("{\"action\":");
    push_json_string(out, action);
    out.push_str(",\"actor\":");
    push_json_string(out, actor);
    let _ = write!(out, ",\"at\":{at},\"index\":{index},\"payload_sha256\":");
    push_json_string(out, payload_sha256);
    out.push_str(",\"prev\":");
    push_json_string(out, prev);
    out.push_str(",\"subject\":");
    push_json_string(out, subject);
    out.push('}');
}

/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Entry {
    /// The canonical JSON that is hashed into the tree: [`canonical_json`] of the seven fields, written
    /// directly (verification rebuilds a million of these).
    pub fn canonical(&self) -> String {
        let mut out = String::with_capacity(200 + self.actor.len() + self.action.len() + self.subject.len());
        write_canonical(
            &mut out,
            self.index,
            self.at,
            &self.actor,
            &self.action,
            &self.subject,
            &self.payload_sha256,
            &self.prev,
        );
        out
    }

    /// The entry's leaf hash.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(self.canonical().as_bytes())
    }

    /// Parses an entry's canonical JSON; refuses text that is not exactly the canonical form.
    pub fn parse(text: &str) -> Result<Entry, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let map: &Map<String, Value> = value.as_object().ok_or("not an object")?;
        let string = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned).ok_or(format!("no {k}"));
        let entry = Entry {
            index: map.get("index").and_then(Value::as_u64).ok_or("no index")?,
            at: map.get("at").and_then(Value::as_i64).ok_or("no at")?,
            actor: string("actor")?,
            action: string("action")?,
            subject: string("subject")?,
            payload_sha256: string("payload_sha256")?,
            prev: string("prev")?,
        };
        if map.len() != 7 || entry.canonical() != text {
            return Err("not in canonical form".into());
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth_and_entries_round_trip() {
        let value: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [2, {"d": null, "c": "x"}], "x": true}}"#).unwrap();
        assert_eq!(canonical_json(&value), r#"{"a":{"x":true,"y":[2,{"c":"x","d":null}]},"b":1}"#);
        let entry = Entry {
            index: 3,
            at: 1_700_000_000_000_000,
            actor: "token:alice".into(),
            action: "model.create".into(),
            subject: "model/credit".into(),
            payload_sha256: payload_sha256(&value),
            prev: GENESIS.into(),
        };
        let text = entry.canonical();
        assert_eq!(Entry::parse(&text).unwrap(), entry);
        assert!(Entry::parse(&text.replace("\"index\":3", "\"index\": 3")).is_err(), "not canonical");
        assert_ne!(entry.leaf_hash(), Entry { index: 4, ..entry.clone() }.leaf_hash());
        // The direct writer is the canonical form of the fields, escapes included.
        let odd = Entry { actor: "token:\"q\"\n\u{e9}".into(), ..entry.clone() };
        let via_value = canonical_json(&json!({
            "index": odd.index, "at": odd.at, "actor": odd.actor, "action": odd.action, "subject": odd.subject,
            "payload_sha256": odd.payload_sha256, "prev": odd.prev,
        }));
        assert_eq!(odd.canonical(), via_value);
    }
}
