/*!
Evidence bundles: one tar archive per model that an auditor can check offline, with no server.

Layout:
- `index.md` — what is in it, for a person.
- `manifest.json` — the model, the period, the ledger's verifier key, the signed checkpoint, and every
  document with its SHA-256 and, when it is backed by the ledger, the entry that vouches for it.
- `manifest.sig` — a signed note, by the ledger's key, over the SHA-256 of `manifest.json` and of
  `index.md`: every file of the bundle is vouched for by it through the manifest.
- `ledger/entries.json` — the ledger entries concerned (the model's subjects, and policy changes), each with
  its canonical text, leaf hash and inclusion proof against the checkpoint; `ledger/payloads/<n>.json` — each
  entry's audit payload, whose canonical SHA-256 is in the entry.
- `documents/` — validation reports, approvals and gate decisions (their SHA-256 is in their entry's
  payload), policy bundles (their digest is), the version registrations (the payloads themselves), and
  views made at export time: the model record, deployment history, monitors and their history, alerts,
  incidents; and `documents/docs/` the latest version's documents ([`crate::docs`]: the model documentation
  and the EU AI Act Annex IV technical documentation), whose figures cite ledger entries (of any time: the period does not bound the document) proved in its own
  appendix, under the bundle's key.

[`verify_bundle`] checks it: the checkpoint's and the manifest's signatures (with a key given by the
auditor, or the bundle's own), each entry's leaf hash and inclusion proof, each payload against its entry,
each document against the manifest and, when ledger-backed, against its entry; a record (validation report,
approval, gate decision, policy bundle) that no entry vouches for is a problem.
*/

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warden_ledger::merkle::{Hash, Tree, verify_inclusion};
use warden_ledger::note::{Checkpoint, NoteVerifier};
use warden_ledger::{Entry, canonical_json, payload_sha256};
use warden_store::metadata::RecordKind;

use crate::{Error, Proof, Result};
use warden_registry::auth::{Permission, Principal};

/// The bundle format's name, in the manifest.
pub const FORMAT: &str = "warden-evidence/1";

/// Folders of records, each of which must be vouched for by a ledger entry.
const RECORD_FOLDERS: [&str; 5] = [
    "documents/validations/",
    "documents/approvals/",
    "documents/gate-decisions/",
    "documents/policies/",
    "documents/findings/",
];

/// The text the manifest's signature covers.
fn manifest_note(model: &str, manifest: &[u8], index: &[u8]) -> String {
    format!("{FORMAT}\nmodel {model}\nmanifest.json {}\nindex.md {}\n", sha256_hex(manifest), sha256_hex(index))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A document in the bundle.
struct Document {
    path: String,
    bytes: Vec<u8>,
    /// The entry vouching for it, and how: `payload` (it is the entry's payload), `document_sha256` (its
    /// SHA-256 is in the payload) or `digest` (a policy bundle's digest is in the payload).
    backed_by: Option<(u64, &'static str)>,
}

fn json_document(path: String, value: &Value, backed_by: Option<(u64, &'static str)>) -> Document {
    Document { path, bytes: canonical_json(value).into_bytes(), backed_by }
}

/// Builds the evidence bundle of `model` for entries and records from `from` to `to` (µs, inclusive).
pub async fn export(
    warden: &Proof,
    caller: &Principal,
    model: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Vec<u8>> {
    caller.require(Permission::ReadAudit)?;
    let record = warden_registry::registry::get_model(warden, caller, model).await?;
    let in_period = |at: i64| from.is_none_or(|f| at >= f) && to.is_none_or(|t| at <= t);
    let ledger = ModelLedger::read(warden, model).await?;
    let checkpoint = &ledger.checkpoint;
    let entries: Vec<&(Entry, Value)> = ledger.entries.iter().filter(|(e, _)| in_period(e.at)).collect();

    let mut documents: Vec<Document> = Vec::new();
    let mut entries_json = Vec::new();
    for (entry, payload) in entries.iter().copied() {
        let proof = ledger.proof(entry.index)?;
        entries_json.push(json!({
            "index": entry.index,
            "canonical": entry.canonical(),
            "leaf_hash": hex::encode(entry.leaf_hash()),
            "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
            "payload": format!("ledger/payloads/{}.json", entry.index),
        }));
        documents.push(json_document(
            format!("ledger/payloads/{}.json", entry.index),
            payload,
            Some((entry.index, "payload")),
        ));
        if entry.action == "version.register" {
            let version = entry.subject.rsplit('/').next().unwrap_or_default();
            documents.push(json_document(
                format!("documents/versions/{version}.json"),
                payload,
                Some((entry.index, "payload")),
            ));
        }
    }
    // Records whose hash an entry's payload carries.
    let backing = |key: &str, value: &str| -> Option<u64> {
        entries.iter().find(|(_, p)| p[key].as_str() == Some(value)).map(|(e, _)| e.index)
    };
    for (kind, folder) in [
        (RecordKind::ValidationReport, "validations"),
        (RecordKind::Approval, "approvals"),
        (RecordKind::PolicyDecision, "gate-decisions"),
    ] {
        for r in warden.metadata.version_records(kind, model, None).await? {
            if !in_period(r.at) {
                continue;
            }
            let backed = backing("document_sha256", &payload_sha256(&r.body)).map(|i| (i, "document_sha256"));
            documents.push(json_document(format!("documents/{folder}/{}-v{}.json", r.id, r.version), &r.body, backed));
        }
    }
    // Each finding as it stands, vouched for by the entry of its last change (made in the period).
    for finding in warden.metadata.findings(Some(model), None).await? {
        if !in_period(finding.updated_at) {
            continue;
        }
        let value = serde_json::to_value(&finding).map_err(|e| Error::json("encoding a finding", e))?;
        let backed = backing("document_sha256", &payload_sha256(&value)).map(|i| (i, "document_sha256"));
        documents.push(json_document(format!("documents/findings/{}.json", finding.id), &value, backed));
    }
    for bundle in warden_oversight::governance::policy_bundles(warden, &Principal::system()).await? {
        let backed = backing("digest", &bundle.digest).map(|i| (i, "digest"));
        let value = serde_json::to_value(&bundle).map_err(|e| Error::json("encoding bundle", e))?;
        documents.push(json_document(format!("documents/policies/{}.json", bundle.number), &value, backed));
    }
    // The latest version's documents (each template), their figures citing the entries above.
    if let Some(version) = record.latest_version {
        // The monitoring report covers the bundle's period.
        let to = to.map_or(warden.now(), |t| t.saturating_add(1));
        let from = from.or_else(|| ledger.entries.first().map(|(e, _)| e.at)).unwrap_or(0);
        let label = format!("{} to {}", crate::docs::time_text(from), crate::docs::time_text(to));
        let period = crate::docs::Period { from, to, label };
        for template in crate::docs::template_names(warden) {
            let document = crate::docs::render(warden, model, version, &template, &ledger, &period).await?;
            documents.push(Document {
                path: format!("documents/docs/{}", document.file_name),
                bytes: document.html.into_bytes(),
                backed_by: None,
            });
        }
    }
    // Views made now (each of their changes is also an entry above).
    let system = Principal::system();
    let model_view = json!({
        "name": record.input.name, "description": record.input.description, "owner": record.input.owner,
        "risk_tier": record.input.risk_tier.as_str(), "use_case": record.input.use_case, "tags": record.input.tags,
        "created_at": record.created_at, "created_by": record.created_by, "latest_version": record.latest_version,
    });
    documents.push(json_document("documents/model.json".into(), &model_view, None));
    let deployments: Vec<Value> = warden_registry::registry::alias_history(warden, &system, model, None)
        .await?
        .into_iter()
        .filter(|a| in_period(a.assigned_at))
        .map(|a| {
            json!({
                "alias": a.alias, "version": a.version, "assigned_at": a.assigned_at, "assigned_by": a.assigned_by,
                "reason": a.reason, "traffic": a.traffic, "decision_id": a.decision_id, "overridden": a.overridden,
            })
        })
        .collect();
    documents.push(json_document("documents/deployments.json".into(), &Value::Array(deployments.clone()), None));
    let monitors = warden_oversight::monitoring::list(warden, &system, model).await?;
    documents.push(json_document(
        "documents/monitors.json".into(),
        &serde_json::to_value(&monitors).unwrap_or_default(),
        None,
    ));
    let history: Vec<Value> = warden_oversight::monitoring::history(warden, &system, model, None, 100_000)
        .await?
        .into_iter()
        .filter(|e| e["at"].as_i64().is_some_and(in_period))
        .collect();
    documents.push(json_document("documents/monitor-history.json".into(), &Value::Array(history.clone()), None));
    let mut alerts = Vec::new();
    for alert in warden_oversight::alerts::list(warden, &system, None, Some(model)).await? {
        if in_period(alert.opened_at) {
            let (alert, events) = warden_oversight::alerts::get(warden, &system, alert.id).await?;
            alerts.push(json!({"alert": alert, "events": events}));
        }
    }
    documents.push(json_document("documents/alerts.json".into(), &Value::Array(alerts.clone()), None));
    let incidents: Vec<Value> = warden_oversight::alerts::incidents(warden, &system, None)
        .await?
        .into_iter()
        .filter(|i| i.model == model && in_period(i.opened_at))
        .map(|i| serde_json::to_value(i).unwrap_or_default())
        .collect();
    documents.push(json_document("documents/incidents.json".into(), &Value::Array(incidents.clone()), None));

    let entries_bytes =
        serde_json::to_vec_pretty(&entries_json).map_err(|e| Error::json("encoding entries json", e))?;
    let manifest = json!({
        "format": FORMAT,
        "model": model,
        "from": from,
        "to": to,
        "created_at": warden.now(),
        "key": crate::ledger::public_key(warden),
        "checkpoint": {"note": checkpoint.note, "tree_size": checkpoint.tree_size, "root": checkpoint.root},
        "entries": {"path": "ledger/entries.json", "sha256": sha256_hex(&entries_bytes)},
        "documents": documents.iter().map(|d| json!({
            "path": d.path,
            "sha256": sha256_hex(&d.bytes),
            "ledger_entry": d.backed_by.map(|(i, _)| i),
            "backed_by": d.backed_by.map(|(_, how)| how),
        })).collect::<Vec<_>>(),
    });
    let index = index_markdown(
        &manifest,
        &entries,
        &documents,
        deployments.len(),
        history.len(),
        alerts.len(),
        incidents.len(),
    );

    let mut archive = tar::Builder::new(Vec::new());
    let mut add = |path: &str, bytes: &[u8]| -> Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        archive.append_data(&mut header, path, bytes).map_err(|e| Error::io("writing the evidence archive", e))
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::json("encoding manifest", e))?;
    let signature = crate::ledger::sign_note(warden, &manifest_note(model, &manifest_bytes, index.as_bytes()))?;
    add("index.md", index.as_bytes())?;
    add("manifest.json", &manifest_bytes)?;
    add("manifest.sig", signature.as_bytes())?;
    add("ledger/entries.json", &entries_bytes)?;
    for d in &documents {
        add(&d.path, &d.bytes)?;
    }
    archive.into_inner().map_err(|e| Error::io("writing the evidence archive", e))
}

/// The ledger as a model's documents cite it: a checkpoint signed now, the entries of the model's subjects
/// and of policy changes it covers (each with its audit payload), and the tree that proves them.
pub(crate) struct ModelLedger {
    pub(crate) checkpoint: crate::ledger::CheckpointInfo,
    pub(crate) entries: Vec<(Entry, Value)>,
    tree: Tree,
}

impl ModelLedger {
    pub(crate) async fn read(warden: &Proof, model: &str) -> Result<ModelLedger> {
        Self::read_subjects(warden, &Self::subjects_of(model), &|_| true).await
    }

    /// The subjects a model's ledger holds: the model's own, and the policy bundles.
    pub(crate) fn subjects_of(model: &str) -> [String; 3] {
        [format!("model/{model}/"), format!("model/{model}"), "policy".to_owned()]
    }

    /// The entries of these subjects (a prefix ending in `/`, or one subject) that `keep` keeps, with their
    /// payloads (read for those kept only), under a checkpoint signed now.
    pub(crate) async fn read_subjects(
        warden: &Proof,
        subjects: &[String],
        keep: &(dyn Fn(&Entry) -> bool + Sync),
    ) -> Result<ModelLedger> {
        // Sign the ledger as it is now: every entry below is covered.
        let checkpoint = crate::ledger::checkpoint(warden).await?;
        let mut rows = Vec::new();
        for subject in subjects {
            let mut start = 0;
            loop {
                let page = warden.metadata.ledger_entries(Some(subject), start, 10_000).await?;
                let Some(last) = page.last() else { break };
                start = last.index + 1;
                rows.extend(page);
            }
        }
        // In index order (documents find an entry by binary search).
        rows.sort_by_key(|r| r.index);
        rows.dedup_by_key(|r| r.index);
        rows.retain(|r| r.index < checkpoint.tree_size);
        let mut kept = Vec::new();
        for row in rows {
            let entry = Entry::parse(&row.entry).map_err(|e| {
                Error::failed(format!("ledger entry {} is corrupt: run `warden audit verify`", row.index), e)
            })?;
            if keep(&entry) {
                kept.push((row, entry));
            }
        }
        // The entries' audit events, read together (one query per few hundred, not one per entry).
        let seqs: Vec<i64> = kept.iter().map(|(r, _)| r.audit_seq).collect();
        let mut payloads: HashMap<i64, String> =
            warden.metadata.audit_records_of(&seqs).await?.into_iter().map(|r| (r.seq, r.payload)).collect();
        let mut entries = Vec::new();
        for (row, entry) in kept {
            let payload = payloads.remove(&row.audit_seq).ok_or_else(|| {
                Error::Inconsistent(format!("audit event {} of entry {} is missing", row.audit_seq, row.index))
            })?;
            let payload: Value =
                serde_json::from_str(&payload).map_err(|e| Error::json(format!("audit event {}", row.audit_seq), e))?;
            entries.push((entry, payload));
        }
        let leaves = {
            let bytes = warden.metadata.ledger_leaf_hashes(0, checkpoint.tree_size).await?;
            bytes.chunks_exact(32).map(|c| <Hash>::try_from(c).expect("32 bytes")).collect::<Vec<_>>()
        };
        if leaves.len() as u64 != checkpoint.tree_size {
            return Err(Error::Inconsistent(
                "the ledger is shorter than its checkpoint: run `warden audit verify`".into(),
            ));
        }
        Ok(ModelLedger { checkpoint, entries, tree: Tree::from_leaf_hashes(leaves) })
    }

    /// The inclusion proof of entry `index` against the checkpoint.
    pub(crate) fn proof(&self, index: u64) -> Result<Vec<Hash>> {
        self.tree
            .inclusion_proof(index, self.checkpoint.tree_size)
            .map_err(|e| Error::failed("building an inclusion proof", e))
    }
}

fn index_markdown(
    manifest: &Value,
    entries: &[&(Entry, Value)],
    documents: &[Document],
    deployments: usize,
    evaluations: usize,
    alerts: usize,
    incidents: usize,
) -> String {
    let mut out = String::new();
    let model = manifest["model"].as_str().unwrap_or_default();
    out.push_str(&format!("# Evidence bundle: {model}\n\n"));
    out.push_str(&format!(
        "Format `{FORMAT}`. Ledger checkpoint of {} entries, root `{}`, signed by `{}`.\n\n",
        manifest["checkpoint"]["tree_size"],
        manifest["checkpoint"]["root"].as_str().unwrap_or_default(),
        manifest["key"].as_str().unwrap_or_default()
    ));
    out.push_str("Check it offline with `warden evidence verify FILE --key KEY`, giving the ledger key you trust.\n\n");
    out.push_str(&format!(
        "Contents: {} ledger entries with inclusion proofs, {} documents ({} backed by a ledger entry), {deployments} \
         deployment changes, {evaluations} monitor evaluations, {alerts} alerts, {incidents} incidents.\n\n",
        entries.len(),
        documents.len(),
        documents.iter().filter(|d| d.backed_by.is_some()).count()
    ));
    out.push_str("## Ledger entries\n\n| entry | time (UTC) | actor | action | subject |\n|---|---|---|---|---|\n");
    for (e, _) in entries.iter().copied() {
        // For a person: to the second (each entry's exact time is in the bundle's ledger entries).
        let at = warden_core::Timestamp::from_micros(e.at).whole_seconds();
        out.push_str(&format!("| {} | {at} | {} | {} | {} |\n", e.index, e.actor, e.action, e.subject));
    }
    out.push_str("\n## Documents\n\n| document | SHA-256 | vouched for by |\n|---|---|---|\n");
    for d in documents {
        let by = match d.backed_by {
            Some((i, "payload")) => format!("entry {i} (its payload)"),
            Some((i, how)) => format!("entry {i} ({how} in its payload)"),
            None => "view made at export time".into(),
        };
        out.push_str(&format!("| `{}` | `{}` | {by} |\n", d.path, &sha256_hex(&d.bytes)[..16]));
    }
    out
}

/// The files of a bundle archive, by path.
pub fn read_archive(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes);
    let entries = archive.entries().map_err(|e| Error::invalid(format!("not a tar archive: {e}")))?;
    for file in entries {
        let mut file = file.map_err(|e| Error::invalid(format!("malformed archive: {e}")))?;
        let path =
            file.path().map_err(|e| Error::invalid(format!("malformed path: {e}")))?.to_string_lossy().into_owned();
        let mut content = Vec::new();
        file.read_to_end(&mut content).map_err(|e| Error::invalid(format!("cannot read {path}: {e}")))?;
        if files.insert(path.clone(), content).is_some() {
            return Err(Error::invalid(format!("{path} appears twice in the archive")));
        }
    }
    Ok(files)
}

/// What checking a bundle found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BundleReport {
    /// Everything checked out.
    pub ok: bool,
    pub model: String,
    /// Entries whose proofs were checked.
    pub entries: usize,
    /// Documents checked.
    pub documents: usize,
    /// Documents vouched for by a ledger entry.
    pub ledger_backed: usize,
    /// The key the checkpoint was checked with came from the bundle itself, not from the auditor.
    pub key_from_bundle: bool,
    /// Every problem, naming the file or entry.
    pub problems: Vec<String>,
}

fn parse_json(files: &BTreeMap<String, Vec<u8>>, path: &str) -> std::result::Result<Value, String> {
    let bytes = files.get(path).ok_or_else(|| format!("{path} is missing"))?;
    serde_json::from_slice(bytes).map_err(|e| format!("{path} is not JSON: {e}"))
}

/// Checks a bundle's files offline: signatures, proofs, and every document against its entry.
pub fn verify_bundle(files: &BTreeMap<String, Vec<u8>>, key: Option<&str>) -> BundleReport {
    let mut problems = Vec::new();
    let mut report = BundleReport {
        ok: false,
        model: String::new(),
        entries: 0,
        documents: 0,
        ledger_backed: 0,
        key_from_bundle: key.is_none(),
        problems: Vec::new(),
    };
    let manifest = match parse_json(files, "manifest.json") {
        Ok(m) => m,
        Err(e) => {
            report.problems.push(e);
            return report;
        }
    };
    report.model = manifest["model"].as_str().unwrap_or_default().to_owned();
    if manifest["format"] != FORMAT {
        problems.push(format!("manifest.json: unknown format {}", manifest["format"]));
    }
    let key_text = key.map(str::to_owned).or_else(|| manifest["key"].as_str().map(str::to_owned)).unwrap_or_default();
    let checkpoint =
        NoteVerifier::parse(&key_text).map_err(|e| format!("the ledger key is malformed: {e}")).and_then(|v| {
            v.open(manifest["checkpoint"]["note"].as_str().unwrap_or_default())
                .map_err(|e| format!("the checkpoint's signature does not verify: {e}"))
                .and_then(|text| Checkpoint::parse(text).map_err(|e| format!("the checkpoint is malformed: {e}")))
        });
    let checkpoint = match checkpoint {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push(e);
            None
        }
    };
    // The manifest and index, signed with the same key as the checkpoint.
    let signed = String::from_utf8(files.get("manifest.sig").cloned().unwrap_or_default()).unwrap_or_default();
    let expected = manifest_note(
        &report.model,
        files.get("manifest.json").map_or(&[][..], Vec::as_slice),
        files.get("index.md").map_or(&[][..], Vec::as_slice),
    );
    match NoteVerifier::parse(&key_text)
        .map_err(|e| e.to_string())
        .and_then(|v| v.open(&signed).map(str::to_owned).map_err(|e| e.to_string()))
    {
        Ok(text) if text == expected => {}
        Ok(_) => problems.push("manifest.sig: the signed note does not match manifest.json and index.md".into()),
        Err(e) => problems.push(format!("manifest.sig: the manifest's signature does not verify: {e}")),
    }
    // Entries: text, leaf hash, proof, payload.
    let mut payload_of: BTreeMap<u64, Value> = BTreeMap::new();
    let entries_bytes = files.get("ledger/entries.json").cloned().unwrap_or_default();
    if manifest["entries"]["sha256"].as_str() != Some(sha256_hex(&entries_bytes).as_str()) {
        problems.push("ledger/entries.json does not match its SHA-256 in the manifest".into());
    }
    match parse_json(files, "ledger/entries.json") {
        Err(e) => problems.push(e),
        Ok(list) => {
            for e in list.as_array().into_iter().flatten() {
                report.entries += 1;
                let index = e["index"].as_u64().unwrap_or(u64::MAX);
                let name = format!("entry {index}");
                let canonical = e["canonical"].as_str().unwrap_or_default();
                let entry = match Entry::parse(canonical) {
                    Ok(entry) if entry.index == index => entry,
                    Ok(_) => {
                        problems.push(format!("{name}: its text records another position"));
                        continue;
                    }
                    Err(err) => {
                        problems.push(format!("{name}: {err}"));
                        continue;
                    }
                };
                let leaf = entry.leaf_hash();
                if e["leaf_hash"].as_str() != Some(hex::encode(leaf).as_str()) {
                    problems.push(format!("{name}: its text does not hash to its leaf hash"));
                }
                if let Some(cp) = &checkpoint {
                    let proof: Option<Vec<Hash>> = e["proof"]
                        .as_array()
                        .map(|p| p.iter().filter_map(|h| hex::decode(h.as_str()?).ok()?.try_into().ok()).collect());
                    let proved = proof.is_some_and(|p| verify_inclusion(index, cp.size, &leaf, &p, &cp.root).is_ok());
                    if !proved {
                        problems.push(format!("{name}: its inclusion proof does not lead to the checkpoint's root"));
                    }
                }
                let payload_path = format!("ledger/payloads/{index}.json");
                match parse_json(files, &payload_path) {
                    Ok(payload) if payload_sha256(&payload) == entry.payload_sha256 => {
                        payload_of.insert(index, payload);
                    }
                    Ok(_) => problems.push(format!("{payload_path}: does not match the payload hash of {name}")),
                    Err(err) => problems.push(err),
                }
            }
        }
    }
    // Documents: hash in the manifest, and what their entry says of them.
    let mut listed: Vec<&str> = vec!["index.md", "manifest.json", "manifest.sig", "ledger/entries.json"];
    for d in manifest["documents"].as_array().into_iter().flatten() {
        report.documents += 1;
        let path = d["path"].as_str().unwrap_or_default();
        listed.push(path);
        let Some(bytes) = files.get(path) else {
            problems.push(format!("{path} is missing"));
            continue;
        };
        if d["sha256"].as_str() != Some(sha256_hex(bytes).as_str()) {
            problems.push(format!("{path} does not match its SHA-256 in the manifest"));
        }
        // A model document: each figure against the entry it cites, under the same key (once per path).
        if path.starts_with("documents/docs/") && !listed[..listed.len() - 1].contains(&path) {
            let checked = crate::docs::verify_document(&String::from_utf8_lossy(bytes), Some(&key_text));
            problems.extend(checked.problems.into_iter().map(|p| format!("{path}: {p}")));
        }
        let Some(index) = d["ledger_entry"].as_u64() else {
            if RECORD_FOLDERS.iter().any(|folder| path.starts_with(folder)) {
                problems.push(format!("{path}: no ledger entry vouches for this record"));
            }
            continue;
        };
        report.ledger_backed += 1;
        let Some(payload) = payload_of.get(&index) else {
            problems.push(format!("{path}: its entry {index} is not a verified entry of the bundle"));
            continue;
        };
        let document: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{path} is not JSON: {e}"));
                continue;
            }
        };
        let vouched = match d["backed_by"].as_str() {
            Some("payload") => payload_sha256(&document) == payload_sha256(payload),
            Some("document_sha256") => payload["document_sha256"].as_str() == Some(payload_sha256(&document).as_str()),
            Some("digest") => {
                let files: BTreeMap<String, String> =
                    serde_json::from_value(document["files"].clone()).unwrap_or_default();
                let recomputed = warden_policy::Bundle::from_files(files).map(|b| b.digest()).unwrap_or_default();
                payload["digest"].as_str() == Some(recomputed.as_str()) && document["digest"] == payload["digest"]
            }
            _ => false,
        };
        if !vouched {
            problems.push(format!("{path}: does not match what ledger entry {index} records of it"));
        }
    }
    for path in files.keys() {
        if !listed.contains(&path.as_str()) && !path.starts_with("ledger/payloads/") {
            problems.push(format!("{path} is not in the manifest"));
        }
    }
    report.ok = problems.is_empty();
    report.problems = problems;
    report
}
