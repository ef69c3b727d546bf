//! The transparency-dev/merkle test vectors (copied into warden-testdata's `merkle/`, see PROVENANCE.md
//! there): every happy path verifies, every negative case is refused, and this crate's own proofs of the
//! reference tree equal the vectors' proofs.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use warden_ledger::merkle::{Hash, Tree, leaf_hash, verify_consistency, verify_inclusion};

fn cases(kind: &str) -> Vec<(PathBuf, Value)> {
    let root = warden_testdata::path("merkle").join(kind);
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            out.push((path, value));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A hash field, or `None` when it is not 32 bytes of base64 (a malformed-proof case).
fn hash(v: &Value) -> Option<Hash> {
    STANDARD.decode(v.as_str()?).ok()?.try_into().ok()
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        _ => None,
    }
}

fn reference_tree() -> Tree {
    let leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
    Tree::from_leaf_hashes(leaves.iter().map(|h| leaf_hash(&hex::decode(h).unwrap())).collect())
}

#[test]
fn inclusion_vectors() {
    let tree = reference_tree();
    let all = cases("inclusion");
    assert!(all.len() >= 20, "{} cases", all.len());
    let (mut happy, mut refused) = (0, 0);
    for (path, case) in all {
        let (index, size) = (case["leafIdx"].as_u64().unwrap(), case["treeSize"].as_u64().unwrap());
        let verdict = match (hash(&case["root"]), hash(&case["leafHash"]), proof(&case["proof"])) {
            (Some(root), Some(leaf), Some(proof)) => verify_inclusion(index, size, &leaf, &proof, &root).is_ok(),
            _ => false,
        };
        let want_error = case["wantErr"].as_bool().unwrap();
        assert_eq!(verdict, !want_error, "{}: {}", path.display(), case["desc"]);
        if want_error {
            refused += 1;
        } else {
            happy += 1;
            // Our own proof of the same leaf is the vector's.
            let ours = tree.inclusion_proof(index, size).unwrap();
            assert_eq!(Some(ours), proof(&case["proof"]), "{}", path.display());
            assert_eq!(Some(tree.root(size).unwrap()), hash(&case["root"]));
        }
    }
    assert!(happy >= 4 && refused >= 15, "{happy} happy, {refused} refused");
}

#[test]
fn consistency_vectors() {
    let tree = reference_tree();
    let all = cases("consistency");
    assert!(all.len() >= 25, "{} cases", all.len());
    let (mut happy, mut refused) = (0, 0);
    for (path, case) in all {
        let (first, second) = (case["size1"].as_u64().unwrap(), case["size2"].as_u64().unwrap());
        let verdict = match (hash(&case["root1"]), hash(&case["root2"]), proof(&case["proof"])) {
            (Some(r1), Some(r2), Some(proof)) => verify_consistency(first, second, &r1, &r2, &proof).is_ok(),
            _ => false,
        };
        let want_error = case["wantErr"].as_bool().unwrap();
        assert_eq!(verdict, !want_error, "{}: {}", path.display(), case["desc"]);
        if want_error {
            refused += 1;
        } else {
            happy += 1;
            let ours = tree.consistency_proof(first, second).unwrap();
            assert_eq!(Some(ours), proof(&case["proof"]), "{}", path.display());
        }
    }
    assert!(happy >= 5 && refused >= 20, "{happy} happy, {refused} refused");
}
