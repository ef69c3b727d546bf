//! `warden audit`: the ledger's entries, proofs (checked here with the ledger's own math), checkpoints and
//! verification.

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};
use warden_ledger::merkle::{Hash, verify_inclusion};
use warden_ledger::note::{Checkpoint, NoteVerifier};

use crate::cli::AuditCommand;
use crate::client::{Client, encode};
use crate::render::{self, cell, table};

/// Runs an audit command; the exit code (1 when verification finds a problem).
pub(crate) async fn audit(command: AuditCommand) -> anyhow::Result<u8> {
    match command {
        AuditCommand::Log { subject, from, limit, connection, json } => {
            let mut path = format!("/v1/ledger/entries?from={from}&limit={limit}");
            if let Some(s) = &subject {
                path.push_str(&format!("&subject={}", encode(s)));
            }
            let entries = Client::new(&connection)?.get(&path).await?;
            if json {
                render::json(&entries);
                return Ok(0);
            }
            let rows: Vec<Vec<String>> = entries
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    let at = e["at"].as_i64().map_or("-".into(), crate::render::micros_time);
                    let leaf = e["leaf_hash"].as_str().unwrap_or_default();
                    vec![
                        cell(&e["index"]),
                        at,
                        cell(&e["actor"]),
                        cell(&e["action"]),
                        cell(&e["subject"]),
                        leaf[..16.min(leaf.len())].to_owned(),
                    ]
                })
                .collect();
            table(&["ENTRY", "AT", "ACTOR", "ACTION", "SUBJECT", "LEAF HASH"], &rows);
        }
        AuditCommand::Proof { entry, key, connection, json } => {
            let client = Client::new(&connection)?;
            let proof = client.get(&format!("/v1/ledger/entries/{entry}/proof")).await?;
            let key = match key {
                Some(k) => k,
                None => client.get_text("/v1/ledger/key").await?,
            };
            check_proof(&proof, &key)?;
            if json {
                render::json(&proof);
                return Ok(0);
            }
            let e = &proof["entry"];
            let c = &proof["checkpoint"];
            println!(
                "entry {}: {} {} by {}",
                cell(&e["index"]),
                cell(&e["action"]),
                cell(&e["subject"]),
                cell(&e["actor"])
            );
            println!("leaf hash {}", cell(&e["leaf_hash"]));
            println!("checkpoint {} (tree size {}, root {})", cell(&c["id"]), cell(&c["tree_size"]), cell(&c["root"]));
            for (i, h) in proof["proof"].as_array().into_iter().flatten().enumerate() {
                println!("  proof[{i}] {}", cell(h));
            }
            println!("verified here: the checkpoint's signature and the inclusion proof check out");
        }
        AuditCommand::Verify { connection, json } => {
            let report = Client::new(&connection)?.json(Method::POST, "/v1/ledger/verify", &json!({})).await?;
            let ok = report["ok"].as_bool().context("the server's report has no 'ok'")?;
            if json {
                render::json(&report);
            } else if ok {
                println!(
                    "ledger OK: {} entries, {} checkpoints verified in {:.2} s",
                    cell(&report["entries"]),
                    cell(&report["checkpoints"]),
                    report["seconds"].as_f64().unwrap_or_default()
                );
            } else {
                println!("LEDGER TAMPERED: first bad entry {}", cell(&report["first_bad_entry"]));
                for problem in report["problems"].as_array().into_iter().flatten() {
                    println!("  - {}", cell(problem));
                }
            }
            return Ok(if ok { 0 } else { 1 });
        }
        AuditCommand::Checkpoint { connection } => {
            let c = Client::new(&connection)?.json(Method::POST, "/v1/ledger/checkpoints", &json!({})).await?;
            println!("checkpoint {}: tree size {}, root {}", cell(&c["id"]), cell(&c["tree_size"]), cell(&c["root"]));
            print!("{}", c["note"].as_str().unwrap_or_default());
        }
        AuditCommand::Key { connection } => {
            print!("{}", Client::new(&connection)?.get_text("/v1/ledger/key").await?);
        }
    }
    Ok(0)
}

fn hash(text: &Value) -> anyhow::Result<Hash> {
    hex::decode(text.as_str().unwrap_or_default())
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("a hash in the proof is not 32 bytes of hex")
}

/// Checks an inclusion proof as an auditor would: the checkpoint's signature under `key`, then the proof
/// from the entry's own canonical text to the signed root.
pub(crate) fn check_proof(proof: &Value, key: &str) -> anyhow::Result<()> {
    let verifier = NoteVerifier::parse(key).context("the ledger key is malformed")?;
    let text = verifier
        .open(proof["checkpoint"]["note"].as_str().unwrap_or_default())
        .context("the checkpoint's signature does not verify")?;
    let checkpoint = Checkpoint::parse(text).context("the checkpoint is malformed")?;
    let canonical = proof["entry"]["canonical"].as_str().context("no canonical entry")?;
    let leaf = warden_ledger::leaf_hash(canonical.as_bytes());
    if hex::encode(leaf) != proof["entry"]["leaf_hash"].as_str().unwrap_or_default() {
        bail!("the entry's text does not hash to its leaf hash");
    }
    let path: Vec<Hash> = proof["proof"].as_array().into_iter().flatten().map(hash).collect::<anyhow::Result<_>>()?;
    let index = proof["entry"]["index"].as_u64().context("no entry index")?;
    verify_inclusion(index, checkpoint.size, &leaf, &path, &checkpoint.root)
        .context("the inclusion proof does not verify")?;
    Ok(())
}
