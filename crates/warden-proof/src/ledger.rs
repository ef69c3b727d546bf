/*!
The tamper-evident ledger: every audited write appends an entry in its own transaction (the store does
that), and this module signs checkpoints of the Merkle tree over the entries, serves inclusion proofs, and
verifies the whole ledger.

The signing key is an Ed25519 seed in `ledger.key` (hex, mode 0600) in the data directory, made at first
start, or a file given at start (`--ledger-key`). The log's name (checkpoint origin and key name) is
`warden-ledger/<first 16 hex digits of SHA-256 of the public key>`.

`verify` recomputes every entry from its audit event (who, what, to what, when and the payload's hash), its
leaf hash, the chain of predecessor hashes, the tree at every checkpoint's size against the signed root,
every signature, and the consistency proof between consecutive checkpoints. The first bad entry is named.
Entries after the latest checkpoint are protected by the chain and the audit cross-check only until the next
checkpoint signs them; checkpoints are made on a schedule (every minute by default) and on demand.
*/

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};
use warden_ledger::merkle::{CompactRange, Hash, Tree, verify_consistency, verify_inclusion};
use warden_ledger::note::{Checkpoint, NoteSigner, NoteVerifier};
use warden_ledger::{Entry, GENESIS};
use warden_store::metadata::{AuditRecord, CheckpointRow, LedgerLeaf, LedgerRow};

use crate::{Error, Proof, Result};
use warden_registry::auth::{Permission, Principal};

/// Rows read per page when the whole ledger is walked.
const PAGE: i64 = 50_000;

/// The signing side of the ledger, loaded at start.
pub(crate) struct LedgerKey {
    signer: NoteSigner,
    /// The right edge of the tree as of the last checkpoint made by this process.
    frontier: tokio::sync::Mutex<CompactRange>,
}

impl LedgerKey {
    /// Loads the seed from `path`, or from `ledger.key` in the data directory (made at first start).
    pub(crate) fn load(data_dir: &Path, path: Option<&Path>) -> Result<LedgerKey> {
        let seed = warden_registry::auth::read_or_make_key(&data_dir.join("ledger.key"), path, "ledger key")?;
        let probe =
            NoteSigner::new("warden-ledger", &seed).map_err(|e| Error::failed("the ledger key does not load", e))?;
        let name = format!("warden-ledger/{}", &hex::encode(Sha256::digest(probe.public_key()))[..16]);
        let signer = NoteSigner::new(&name, &seed).map_err(|e| Error::failed("the ledger key does not load", e))?;
        Ok(LedgerKey { signer, frontier: Default::default() })
    }
}

/// Signs `text` (lines ending in a newline, none empty) as a C2SP signed note with the ledger's key: what an
/// evidence bundle's manifest is vouched for with.
pub(crate) fn sign_note(warden: &Proof, text: &str) -> Result<String> {
    warden.ledger.signer.sign(text).map_err(|e| Error::failed("signing a note", e))
}

/// The published verifier key (`<name>+<key id>+<base64 key>`).
pub fn public_key(warden: &Proof) -> String {
    warden.ledger.signer.verifier_key()
}

/// A ledger entry as listed: its fields, its leaf hash and the canonical text that is hashed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
    /// This entry's leaf hash (hex).
    pub leaf_hash: String,
    /// The canonical JSON that is hashed.
    pub canonical: String,
}

fn view(row: &LedgerRow) -> Result<LedgerEntry> {
    let entry = Entry::parse(&row.entry)
        .map_err(|e| Error::failed(format!("ledger entry {} is corrupt: run `warden audit verify`", row.index), e))?;
    Ok(LedgerEntry { entry, leaf_hash: hex::encode(&row.leaf_hash), canonical: row.entry.clone() })
}

/// Ledger entries from `from` on (of one subject, or every subject under a prefix ending in `/`).
pub async fn log(
    warden: &Proof,
    caller: &Principal,
    subject: Option<&str>,
    from: u64,
    limit: i64,
) -> Result<Vec<LedgerEntry>> {
    caller.require(Permission::ReadAudit)?;
    warden.metadata.ledger_entries(subject, from, limit.clamp(1, 10_000)).await?.iter().map(view).collect()
}

/// How many entries the ledger holds.
pub async fn size(warden: &Proof, caller: &Principal) -> Result<u64> {
    caller.require(Permission::ReadAudit)?;
    Ok(warden.metadata.ledger_size().await?)
}

/// A signed checkpoint as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointInfo {
    pub id: i64,
    /// Entries covered.
    pub tree_size: u64,
    /// Root hash (hex).
    pub root: String,
    /// When (µs).
    pub at: i64,
    /// The signed note.
    pub note: String,
}

impl From<CheckpointRow> for CheckpointInfo {
    fn from(c: CheckpointRow) -> Self {
        CheckpointInfo { id: c.id, tree_size: c.tree_size, root: hex::encode(&c.root), at: c.at, note: c.note }
    }
}

/// Every checkpoint, oldest first.
pub async fn checkpoints(warden: &Proof, caller: &Principal) -> Result<Vec<CheckpointInfo>> {
    caller.require(Permission::ReadAudit)?;
    Ok(warden.metadata.checkpoints().await?.into_iter().map(Into::into).collect())
}

/// Signs a checkpoint of the ledger as it is now; when nothing was appended since the latest checkpoint,
/// that one is returned.
pub async fn checkpoint(warden: &Proof) -> Result<CheckpointInfo> {
    let mut frontier = warden.ledger.frontier.lock().await;
    let latest = warden.metadata.checkpoints().await?.pop();
    let size = warden.metadata.ledger_size().await?;
    if let Some(latest) = &latest
        && latest.tree_size == size
    {
        return Ok(latest.clone().into());
    }
    // Extend the remembered right edge with the entries appended since; start over if it is ahead (a
    // restored database) or unknown.
    if frontier.size() > size {
        *frontier = CompactRange::default();
    }
    for leaf in leaves(warden, frontier.size(), size).await? {
        frontier.push(leaf);
    }
    let at = warden.now();
    let checkpoint = Checkpoint {
        origin: warden.ledger.signer.name().to_owned(),
        size: frontier.size(),
        root: frontier.root(),
        time: at.div_euclid(1_000_000),
    };
    let note = warden.ledger.signer.sign(&checkpoint.text()).map_err(|e| Error::failed("signing a checkpoint", e))?;
    let row = CheckpointRow { id: 0, tree_size: checkpoint.size, root: checkpoint.root.to_vec(), at, note };
    Ok(warden.metadata.append_checkpoint(row).await?.into())
}

/// Every record of every model (validation reports, approvals, gate decisions) that no audit event vouches
/// for, or that differs from what its event records (the event's payload carries the record's table, id and
/// the SHA-256 of its canonical JSON; the event is a ledger entry, checked above).
async fn unvouched_records(warden: &Proof) -> Result<Vec<String>> {
    use warden_store::metadata::{AuditQuery, RecordKind};
    let mut problems = Vec::new();
    for model in warden.metadata.list_models().await? {
        let name = model.model.name;
        let mut vouched: std::collections::HashMap<(String, i64), (i64, String)> = Default::default();
        let mut after_seq = 0;
        loop {
            let query = AuditQuery { after_seq, subject: Some(format!("model/{name}")), limit: 10_000 };
            let page = warden.metadata.audit_events(&query).await?;
            let Some(last) = page.last() else { break };
            after_seq = last.seq;
            for event in page {
                let p = &event.event.payload;
                if let (Some(table), Some(id), Some(sha)) =
                    (p["record"].as_str(), p["record_id"].as_i64(), p["document_sha256"].as_str())
                {
                    vouched.insert((table.to_owned(), id), (event.seq, sha.to_owned()));
                }
            }
        }
        for (kind, what) in [
            (RecordKind::ValidationReport, "validation report"),
            (RecordKind::Approval, "approval"),
            (RecordKind::PolicyDecision, "gate decision"),
        ] {
            let table = kind.table();
            for record in warden.metadata.version_records(kind, &name, None).await? {
                let label = format!("{what} {} of {name} version {}", record.id, record.version);
                match vouched.get(&(table.to_owned(), record.id)) {
                    None => problems.push(format!("{label} is not vouched for by any ledger entry")),
                    Some((seq, sha)) if *sha != warden_ledger::payload_sha256(&record.body) => problems.push(format!(
                        "{label} does not match what audit event {seq} records of it: it was changed after it was written"
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    Ok(problems)
}

fn stored_hash(row: &LedgerRow) -> Result<Hash> {
    row.leaf_hash
        .as_slice()
        .try_into()
        .map_err(|_| Error::Inconsistent(format!("ledger entry {} has a malformed leaf hash", row.index)))
}

/// Every leaf hash of entries `from..to`, read from the store a page at a time.
async fn leaves(warden: &Proof, from: u64, to: u64) -> Result<Vec<Hash>> {
    let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
    let mut at = from;
    while at < to {
        let end = (at + PAGE as u64).min(to);
        let bytes = warden.metadata.ledger_leaf_hashes(at, end).await?;
        if bytes.len() as u64 != (end - at) * 32 {
            return Err(Error::Inconsistent(format!(
                "ledger entries {at} to {} are not all stored: run `warden audit verify`",
                end - 1
            )));
        }
        out.extend(bytes.chunks_exact(32).map(|c| <Hash>::try_from(c).expect("32 bytes")));
        at = end;
    }
    Ok(out)
}

/// An entry's inclusion proof against a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InclusionProof {
    pub entry: LedgerEntry,
    /// Sibling hashes from the leaf up (hex).
    pub proof: Vec<String>,
    /// The checkpoint it proves against.
    pub checkpoint: CheckpointInfo,
    /// The verifier key that checks the checkpoint.
    pub key: String,
}

/// The inclusion proof of entry `index` against the latest checkpoint (one is made if none covers it yet).
pub async fn proof(warden: &Proof, caller: &Principal, index: u64) -> Result<InclusionProof> {
    caller.require(Permission::ReadAudit)?;
    let row = warden
        .metadata
        .ledger_entries(None, index, 1)
        .await?
        .into_iter()
        .find(|r| r.index == index)
        .ok_or_else(|| Error::NotFound(format!("ledger entry {index} not found")))?;
    let latest = match warden.metadata.checkpoints().await?.pop() {
        Some(c) if c.tree_size > index => CheckpointInfo::from(c),
        _ => checkpoint(warden).await?,
    };
    let tree = Tree::from_leaf_hashes(leaves(warden, 0, latest.tree_size).await?);
    let proof =
        tree.inclusion_proof(index, latest.tree_size).map_err(|e| Error::failed("building an inclusion proof", e))?;
    // Never hand out a proof that does not check.
    let root: Hash = hex::decode(&latest.root).ok().and_then(|r| r.try_into().ok()).unwrap_or_default();
    verify_inclusion(index, latest.tree_size, &stored_hash(&row)?, &proof, &root)
        .map_err(|e| Error::failed("the stored ledger does not match its checkpoint: run `warden audit verify`", e))?;
    Ok(InclusionProof {
        entry: view(&row)?,
        proof: proof.iter().map(hex::encode).collect(),
        checkpoint: latest,
        key: public_key(warden),
    })
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Everything checked out.
    pub ok: bool,
    /// Entries read.
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// The first entry found bad, if any.
    pub first_bad_entry: Option<u64>,
    /// Every problem found, in order.
    pub problems: Vec<String>,
    /// Seconds the verification took.
    pub seconds: f64,
}

/// What checking one stored entry against its audit event found.
struct RowCheck {
    /// The stored leaf hash (what the tree is built from).
    leaf: Hash,
    /// The stored payload hash is the hash of the audit event's payload.
    payload_matches: bool,
    /// The entry rebuilt from the audit event at this position after the previous stored leaf hashes to the
    /// stored leaf hash.
    leaf_matches: bool,
}

fn check_row(row: &LedgerLeaf, record: Option<&AuditRecord>, link: &str, text: &mut String) -> RowCheck {
    let leaf: Hash = row.leaf_hash.as_slice().try_into().unwrap_or([0; 32]);
    let Some(record) = record else { return RowCheck { leaf, payload_matches: false, leaf_matches: false } };
    // The store writes payloads in canonical form: hash the text; if it is stored in another form, hash
    // its canonical form.
    let mut payload: [u8; 32] = Sha256::digest(record.payload.as_bytes()).into();
    if payload.as_slice() != row.payload_sha256
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(&record.payload)
    {
        payload = Sha256::digest(warden_ledger::canonical_json(&value).as_bytes()).into();
    }
    let mut payload_hex = [0u8; 64];
    hex::encode_to_slice(payload, &mut payload_hex).expect("64 hex digits");
    let payload_hex = std::str::from_utf8(&payload_hex).expect("hex is ASCII");
    warden_ledger::write_canonical(
        text,
        row.index,
        record.at,
        &record.actor,
        &record.action,
        &record.subject,
        payload_hex,
        link,
    );
    let rebuilt = warden_ledger::leaf_hash(text.as_bytes());
    RowCheck { leaf, payload_matches: payload.as_slice() == row.payload_sha256, leaf_matches: rebuilt == leaf }
}

/// Appends a stored hash as hex: 64 digits for a 32-byte hash, any other length as it is.
fn push_hash_hex(out: &mut String, hash: &[u8]) {
    match <&[u8; 32]>::try_from(hash) {
        Ok(hash) => out.push_str(std::str::from_utf8(&warden_ledger::hash_hex::encode(hash)).expect("hex is ASCII")),
        Err(_) => out.push_str(&hex::encode(hash)),
    }
}

/// Checks every row of a page, split across cores (`prev` links the page's first row).
fn check_page(page: &[(LedgerLeaf, Option<AuditRecord>)], prev: &str) -> Vec<RowCheck> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = page.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..page.len())
            .step_by(chunk)
            .map(|start| {
                scope.spawn(move || {
                    let (mut text, mut link) = (String::with_capacity(512), String::with_capacity(64));
                    (start..(start + chunk).min(page.len()))
                        .map(|i| {
                            link.clear();
                            if i == 0 {
                                link.push_str(prev);
                            } else {
                                push_hash_hex(&mut link, &page[i - 1].0.leaf_hash);
                            }
                            check_row(&page[i].0, page[i].1.as_ref(), &link, &mut text)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|p| p.join().expect("checking thread")).collect()
    })
}

/// Recomputes the ledger from every stored entry and audit event and checks every checkpoint.
pub async fn verify(warden: &Proof, caller: &Principal) -> Result<Verification> {
    caller.require(Permission::ReadAudit)?;
    let started = std::time::Instant::now();
    let mut problems: Vec<String> = Vec::new();
    let mut first_bad: Option<u64> = None;
    let mut bad = |index: u64, problem: String, problems: &mut Vec<String>| {
        first_bad = Some(first_bad.map_or(index, |f: u64| f.min(index)));
        if problems.len() < 100 {
            problems.push(problem);
        }
    };
    let mut tree = Tree::new();
    let mut prev = GENESIS.to_owned();
    let mut expected_index = 0u64;
    let mut last_seq = 0i64;
    // The audit event each position records, to place audit events no entry records.
    let mut seqs: Vec<i64> = Vec::new();
    let mut recorded = 0u64;
    let size = warden.metadata.ledger_size().await?;
    // Pages are read ahead of the one being checked, and each page's checks are split across cores.
    let fetch = |from: u64| {
        let store = warden.metadata.clone();
        tokio::spawn(async move { store.ledger_page(from, from + PAGE as u64).await })
    };
    // Two pages are read ahead, on two connections: SQLite reads them in parallel.
    const AHEAD: usize = 2;
    let mut requested = 0u64;
    let mut pending = std::collections::VecDeque::new();
    while requested < size && pending.len() < AHEAD {
        pending.push_back(fetch(requested));
        requested += PAGE as u64;
    }
    while let Some(next) = pending.pop_front() {
        let page = next.await.map_err(|e| Error::task("ledger read", e))??;
        if requested < size {
            pending.push_back(fetch(requested));
            requested += PAGE as u64;
        }
        let carried = prev.clone();
        let (page, checks) = tokio::task::spawn_blocking(move || {
            let checks = check_page(&page, &carried);
            (page, checks)
        })
        .await
        .map_err(|e| Error::task("ledger checking", e))?;
        // The next page links to this page's last stored leaf hash.
        if let Some((last, _)) = page.last() {
            prev.clear();
            push_hash_hex(&mut prev, &last.leaf_hash);
        }
        for ((row, record), check) in page.into_iter().zip(checks) {
            if row.index != expected_index {
                let why = format!("entry {expected_index} is missing (the next stored entry is {})", row.index);
                bad(expected_index, why, &mut problems);
                expected_index = row.index;
            }
            let i = row.index;
            seqs.push(row.audit_seq);
            tree.push(check.leaf);
            expected_index += 1;
            let Some(record) = record else {
                bad(i, format!("entry {i} records audit event {}, which does not exist", row.audit_seq), &mut problems);
                continue;
            };
            recorded += 1;
            if record.seq <= last_seq {
                // Entries follow their audit events' order: the one before broke it (moved or inserted).
                let culprit = i.saturating_sub(1);
                let why = format!(
                    "entries {culprit} and {i} record audit events out of order ({last_seq}, then {}): one was moved or inserted",
                    record.seq
                );
                bad(culprit, why, &mut problems);
            }
            last_seq = last_seq.max(record.seq);
            if !check.payload_matches {
                bad(i, format!("entry {i} does not match the payload of audit event {}", record.seq), &mut problems);
            } else if !check.leaf_matches {
                let why = format!(
                    "entry {i} does not match audit event {} (when, who, what, to what) at this position after entry {}",
                    record.seq,
                    i.saturating_sub(1)
                );
                bad(i, why, &mut problems);
            }
        }
    }
    // Audit events no entry records: only looked for when the counts say there are some.
    if warden.metadata.audit_event_count().await? != recorded {
        for seq in warden.metadata.unrecorded_audit_events(100).await? {
            let position = seqs.partition_point(|s| *s < seq) as u64;
            bad(
                position,
                format!("audit event {seq} has no ledger entry (it belongs at entry {position})"),
                &mut problems,
            );
        }
    }

    // Records (validation reports, approvals, gate decisions) against the entries that vouch for them.
    for problem in unvouched_records(warden).await? {
        if problems.len() < 100 {
            problems.push(problem);
        }
    }

    let verifier = NoteVerifier::parse(&public_key(warden))
        .map_err(|e| Error::failed("the ledger's own public key does not parse", e))?;
    let stored_checkpoints = warden.metadata.checkpoints().await?;
    let mut previous: Option<(i64, u64, Hash)> = None;
    let mut last_good_size = 0u64;
    let mut unnamed: Option<u64> = None;
    for c in &stored_checkpoints {
        let parsed = verifier
            .open(&c.note)
            .map_err(|e| e.to_string())
            .and_then(|text| Checkpoint::parse(text).map_err(|e| e.to_string()));
        let checkpoint = match parsed {
            Ok(cp) => cp,
            Err(e) => {
                problems.push(format!("checkpoint {} does not verify: {e}", c.id));
                continue;
            }
        };
        if checkpoint.size != c.tree_size || checkpoint.root.as_slice() != c.root.as_slice() {
            problems.push(format!("checkpoint {}: its stored size or root differs from its signed note", c.id));
        }
        if checkpoint.size > tree.size() {
            bad(
                tree.size(),
                format!(
                    "checkpoint {} covers {} entries but only {} are stored: entries from {} on are missing",
                    c.id,
                    checkpoint.size,
                    tree.size(),
                    tree.size()
                ),
                &mut problems,
            );
            continue;
        }
        let root = tree.root(checkpoint.size).expect("within the tree");
        if root != checkpoint.root {
            problems.push(format!(
                "checkpoint {}: the entries do not hash to its signed root; an entry from {} to {} was changed",
                c.id,
                last_good_size,
                checkpoint.size - 1
            ));
            // Only a range is known from the roots; the entry checks above usually name the entry itself.
            unnamed.get_or_insert(last_good_size);
        } else {
            last_good_size = checkpoint.size;
        }
        if let Some((id, size, previous_root)) = previous {
            let consistent = tree.consistency_proof(size, checkpoint.size).map_err(|e| e.to_string()).and_then(|p| {
                verify_consistency(size, checkpoint.size, &previous_root, &checkpoint.root, &p)
                    .map_err(|e| e.to_string())
            });
            if let Err(e) = consistent {
                problems.push(format!("checkpoints {id} and {} are not consistent: {e}", c.id));
            }
        }
        previous = Some((c.id, checkpoint.size, checkpoint.root));
    }
    Ok(Verification {
        ok: problems.is_empty(),
        entries: tree.size(),
        checkpoints: stored_checkpoints.len() as u64,
        first_bad_entry: first_bad.or(unnamed),
        problems,
        seconds: started.elapsed().as_secs_f64(),
    })
}
