//! Inclusion and consistency proofs, signed notes and checkpoints from untrusted bytes: verification
//! answers yes or no, never panics; what verifies must agree with a tree built from the same leaves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_ledger::merkle::{Hash, Tree, verify_consistency, verify_inclusion};
use warden_ledger::note::{Checkpoint, NoteVerifier};

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes.chunks_exact(32).map(|c| c.try_into().unwrap()).collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 18 {
        return;
    }
    let (head, rest) = data.split_at(18);
    let index = u64::from(u32::from_le_bytes(head[0..4].try_into().unwrap()));
    let size = u64::from(u32::from_le_bytes(head[4..8].try_into().unwrap()));
    let second = u64::from(u32::from_le_bytes(head[8..12].try_into().unwrap()));
    let leaves = usize::from(head[12] % 64) + 1;
    let all = hashes(rest);
    if all.len() >= 2 {
        let (leaf, root, proof) = (&all[0], &all[1], &all[2..]);
        let _ = verify_inclusion(index, size, leaf, proof, root);
        let _ = verify_consistency(size, second, leaf, root, proof);
    }
    // A real tree over fuzzed leaves: its own proofs verify, and a tampered root does not.
    let mut tree = Tree::new();
    for i in 0..leaves {
        tree.push(all.get(i).copied().unwrap_or([i as u8; 32]));
    }
    let n = tree.size();
    let (i, m) = (index % n, (size % n) + 1);
    if i < m {
        let proof = tree.inclusion_proof(i, m).unwrap();
        let root = tree.root(m).unwrap();
        assert!(verify_inclusion(i, m, &tree.leaf(i).unwrap(), &proof, &root).is_ok());
        let mut wrong = root;
        wrong[usize::from(head[13]) % 32] ^= 1 | head[14];
        assert!(verify_inclusion(i, m, &tree.leaf(i).unwrap(), &proof, &wrong).is_err());
    }
    // Notes and checkpoints as text.
    let text = String::from_utf8_lossy(rest);
    let _ = Checkpoint::parse(&text);
    if let Some((key, note)) = text.split_once('\n') {
        if let Ok(verifier) = NoteVerifier::parse(key) {
            let _ = verifier.open(note);
        }
    }
});
