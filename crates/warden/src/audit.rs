//! `warden audit`: the ledger's entries, proofs (checked here with the ledger's own math), checkpoints and
//! verification.

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};
use warden_core::words::counted;
use warden_ledger::merkle::{Hash, verify_inclusion};
use warden_ledger::note::{Checkpoint, NoteVerifier};
use warden_proof::docs::Template;

use crate::cli::{AuditCommand, DocsCommand, EvidenceCommand, ExportArgs, TraceabilityArgs};
use crate::client::{Client, encode};
use crate::render::{self, Cell, table};
use warden_api_types as api;

/// Runs an audit command; the exit code (1 when verification finds a problem).
pub(crate) async fn audit(command: AuditCommand) -> anyhow::Result<u8> {
    match command {
        AuditCommand::Log { subject, from, limit, connection, json } => {
            let mut path = format!("/v1/ledger/entries?from={from}&limit={limit}");
            if let Some(s) = &subject {
                path.push_str(&format!("&subject={}", encode(s)));
            }
            let entries: Vec<api::LedgerEntryBody> = Client::new(&connection)?.get_as(&path).await?;
            if json {
                render::json(&entries);
                return Ok(0);
            }
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    let leaf = e.leaf_hash.as_str();
                    vec![
                        e.index.cell(),
                        crate::render::micros_time(e.at),
                        e.actor.cell(),
                        e.action.cell(),
                        e.subject.cell(),
                        leaf[..16.min(leaf.len())].to_owned(),
                    ]
                })
                .collect();
            table(&["ENTRY", "AT", "ACTOR", "ACTION", "SUBJECT", "LEAF HASH"], &rows);
        }
        AuditCommand::Proof { entry, key, connection, json } => {
            let client = Client::new(&connection)?;
            let proof: api::InclusionProofBody = client.get_as(&format!("/v1/ledger/entries/{entry}/proof")).await?;
            let key = match key {
                Some(k) => k,
                None => client.get_text("/v1/ledger/key").await?,
            };
            check_proof(&serde_json::to_value(&proof)?, &key)?;
            if json {
                render::json(&proof);
                return Ok(0);
            }
            let (e, c) = (&proof.entry, &proof.checkpoint);
            outln!("entry {}: {} {} by {}", e.index, e.action, e.subject, e.actor);
            outln!("leaf hash {}", e.leaf_hash);
            outln!(
                "checkpoint {} of {} (tree size {}, root {})",
                c.id,
                crate::render::micros_time(c.at),
                c.tree_size,
                c.root
            );
            for (i, h) in proof.proof.iter().enumerate() {
                outln!("  proof[{i}] {h}");
            }
            outln!("verified here: the checkpoint's signature and the inclusion proof check out");
        }
        AuditCommand::Verify { connection, json } => {
            let report: api::VerificationBody =
                Client::new(&connection)?.json_as(Method::POST, "/v1/ledger/verify", &json!({})).await?;
            let ok = report.ok;
            if json {
                render::json(&report);
            } else if ok {
                outln!(
                    "ledger OK: {}, {} verified in {:.2} s",
                    counted(report.entries, "entry", "entries"),
                    counted(report.checkpoints, "checkpoint", "checkpoints"),
                    report.seconds
                );
            } else {
                outln!("LEDGER TAMPERED: first bad entry {}", report.first_bad_entry.cell());
                for problem in &report.problems {
                    outln!("  - {problem}");
                }
            }
            return Ok(if ok { 0 } else { 1 });
        }
        AuditCommand::Checkpoint { connection } => {
            let c: api::CheckpointBody =
                Client::new(&connection)?.json_as(Method::POST, "/v1/ledger/checkpoints", &json!({})).await?;
            outln!(
                "checkpoint {} signed at {}: tree size {}, root {}",
                c.id,
                crate::render::micros_time(c.at),
                c.tree_size,
                c.root
            );
            out!("{}", c.note);
        }
        AuditCommand::Key { connection } => {
            out!("{}", Client::new(&connection)?.get_text("/v1/ledger/key").await?);
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

/// Microseconds since the epoch of an RFC 3339 time.
fn micros(text: &str) -> anyhow::Result<i64> {
    Ok(warden_core::Timestamp::parse(text)?.micros())
}

/// The ledger key given to an offline check: the key itself, or a file holding it.
fn trusted_key(key: Option<String>) -> anyhow::Result<Option<String>> {
    Ok(match key {
        Some(k) if std::path::Path::new(&k).is_file() => Some(std::fs::read_to_string(&k)?.trim().to_owned()),
        other => other,
    })
}

/// Writes a version's export (CycloneDX or SPDX) to `--out`, whole or not at all.
pub(crate) async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let ExportArgs { format, model, version, out, connection } = args;
    let path = format!("/v1/models/{}/versions/{version}/exports/{}", encode(&model), encode(&format));
    let bytes = Client::new(&connection)?.get_bytes(&path).await?;
    let document: serde_json::Value =
        serde_json::from_slice(&bytes).context("the server sent an export that is not JSON")?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot make {}", parent.display()))?;
    }
    let partial = out.with_extension("partial");
    std::fs::write(&partial, &bytes).with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, &out).with_context(|| format!("cannot write {}", out.display()))?;
    let what = match format.as_str() {
        "cyclonedx" => format!("CycloneDX {} ML-BOM", document["specVersion"].as_str().unwrap_or("?")),
        _ => "SPDX 3.0.1 document (AI and Dataset profiles)".to_owned(),
    };
    outln!("{what} of {model} version {version} written to {}", out.display());
    Ok(())
}

/// Prints a model's traceability matrix; exit 1 when a requirement has no evidence.
pub(crate) async fn traceability(args: TraceabilityArgs) -> anyhow::Result<u8> {
    let TraceabilityArgs { model, framework, json, connection } = args;
    let path = format!("/v1/models/{}/traceability?framework={}", encode(&model), encode(&framework));
    let value = Client::new(&connection)?.get(&path).await?;
    let matrix: api::TraceabilityBody = serde_json::from_value(value.clone())?;
    if json {
        render::json(&value);
    } else {
        outln!("{}: {} — {}", matrix.model, matrix.framework_title, counted(matrix.gaps as i128, "gap", "gaps"));
        let rows: Vec<Vec<String>> = matrix
            .requirements
            .iter()
            .map(|r| {
                let latest: Vec<String> = r.latest.iter().map(|e| format!("#{} {}", e.index, e.action)).collect();
                vec![r.id.cell(), r.title.cell(), r.status.cell(), r.entries.to_string(), latest.join(", ").cell()]
            })
            .collect();
        table(&["REQUIREMENT", "TITLE", "STATUS", "ENTRIES", "LATEST"], &rows);
    }
    Ok(u8::from(matrix.gaps > 0))
}

/// Runs a docs command; the exit code (1 when a document does not check out).
pub(crate) async fn docs(command: DocsCommand) -> anyhow::Result<u8> {
    match command {
        DocsCommand::Generate { model, version, inventory, template, period, out, no_pdf, chromium, connection } => {
            let template = template.unwrap_or_else(|| {
                let default = if inventory { Template::MonitoringReport } else { Template::ModelDocumentation };
                default.as_str().to_owned()
            });
            let mut path = match &model {
                Some(model) if !inventory => {
                    format!("/v1/models/{}/docs?template={}", encode(model), encode(&template))
                }
                _ => format!("/v1/inventory/docs?template={}", encode(&template)),
            };
            if let Some(v) = version {
                path.push_str(&format!("&version={v}"));
            }
            if let Some(p) = &period {
                path.push_str(&format!("&period={}", encode(p)));
            }
            let bytes = Client::new(&connection)?.get_bytes(&path).await?;
            let html = String::from_utf8(bytes).context("the server sent a document that is not UTF-8")?;
            let report = warden_proof::docs::verify_document(&html, None);
            let (name, what) = match (&model, report.version) {
                (Some(model), Some(version)) if !inventory => {
                    (format!("{model}-v{version}-{template}.html"), format!("{template} of {model} version {version}"))
                }
                (Some(_), None) if !inventory => bail!("the document names no version"),
                _ => (format!("inventory-{template}.html"), format!("{template} of the inventory")),
            };
            std::fs::create_dir_all(&out).with_context(|| format!("cannot make {}", out.display()))?;
            let file = out.join(name);
            // All or nothing: write beside the target, then rename.
            let partial = file.with_extension("partial");
            std::fs::write(&partial, &html).with_context(|| format!("cannot write {}", partial.display()))?;
            std::fs::rename(&partial, &file).with_context(|| format!("cannot write {}", file.display()))?;
            outln!(
                "{what} written to {}: {} figures citing {} ledger entries",
                file.display(),
                report.figures,
                report.entries
            );
            if !no_pdf {
                // Chromium prints only a document whose figures check out against its own appendix.
                if !report.ok {
                    bail!(
                        "the HTML is written, but its figures do not check out ({}): no PDF printed",
                        report.problems.first().map(String::as_str).unwrap_or_default()
                    );
                }
                let pdf = file.with_extension("pdf");
                print_pdf(&chromium, &file, &pdf).await?;
                outln!("printed to {}", pdf.display());
            }
        }
        DocsCommand::Verify { file, key, json } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let html = String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", file.display()))?;
            let key = trusted_key(key)?;
            let report = warden_proof::docs::verify_document(&html, key.as_deref());
            if json {
                render::json(&serde_json::to_value(&report)?);
            } else if report.ok {
                let of = if report.inventory {
                    "the inventory".to_owned()
                } else {
                    format!("{} version {}", report.model, report.version.unwrap_or_default())
                };
                outln!(
                    "document OK: {} of {of} — {} figures, each equal to what its entry vouches for; {} entries proved against the signed checkpoint{}",
                    report.template,
                    report.figures,
                    report.entries,
                    if report.key_from_document {
                        "; checked with the document's own key (pass --key to use one you trust)"
                    } else {
                        ""
                    }
                );
            } else {
                outln!("DOCUMENT DOES NOT CHECK OUT: {}", file.display());
                for problem in &report.problems {
                    outln!("  - {problem}");
                }
            }
            return Ok(if report.ok { 0 } else { 1 });
        }
    }
    Ok(0)
}

/// Prints `html` to `pdf` with headless Chromium, within a minute. The document's content policy lets it
/// load nothing and run no script, and Chromium has no network, so it runs without its sandbox (which needs
/// a user namespace that containers often lack). Turning scripts off in Chromium itself stops headless
/// printing, so the policy is what keeps them out.
async fn print_pdf(chromium: &std::path::Path, html: &std::path::Path, pdf: &std::path::Path) -> anyhow::Result<()> {
    let html = std::fs::canonicalize(html)?;
    let partial = pdf.with_extension("pdf.partial");
    // A profile of its own, removed after: nothing of the user's browser is read or changed.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let profile = std::env::temp_dir().join(format!("warden-print-{}-{nanos}", std::process::id()));
    // A new folder, never one made before by someone else.
    std::fs::create_dir(&profile).context("cannot make a profile folder for Chromium")?;
    let printed = run_chromium(chromium, &html, &partial, &profile).await;
    let _ = std::fs::remove_dir_all(&profile);
    printed?;
    std::fs::rename(&partial, pdf).with_context(|| format!("cannot write {}", pdf.display()))?;
    Ok(())
}

async fn run_chromium(
    chromium: &std::path::Path,
    html: &std::path::Path,
    partial: &std::path::Path,
    profile: &std::path::Path,
) -> anyhow::Result<()> {
    let mut command = tokio::process::Command::new(chromium);
    command
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-pdf-header-footer"])
        .args(["--disable-background-networking", "--proxy-server=127.0.0.1:9", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", partial.display()))
        .arg(
            reqwest::Url::from_file_path(html)
                .map_err(|()| anyhow::anyhow!("{} is not a file path", html.display()))?
                .as_str(),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().with_context(|| {
        format!(
            "the HTML is written; printing the PDF needs Chromium ({} did not start: install it, pass --chromium \
             PATH, or --no-pdf)",
            chromium.display()
        )
    })?;
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .context("Chromium did not print the PDF within 60 s")??;
    let printed = std::fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
    if !output.status.success() || printed == 0 {
        let _ = std::fs::remove_file(partial);
        let said = String::from_utf8_lossy(&output.stderr);
        bail!("Chromium did not print the PDF ({}): {}", output.status, said.lines().last().unwrap_or_default());
    }
    Ok(())
}

/// Runs an evidence command; the exit code (1 when a bundle does not check out).
pub(crate) async fn evidence(command: EvidenceCommand) -> anyhow::Result<u8> {
    match command {
        EvidenceCommand::Export { model, from, to, out, connection } => {
            let mut query = Vec::new();
            if let Some(f) = &from {
                query.push(format!("from={}", micros(f)?));
            }
            if let Some(t) = &to {
                query.push(format!("to={}", micros(t)?));
            }
            let path = format!("/v1/models/{}/evidence?{}", encode(&model), query.join("&"));
            let bytes = Client::new(&connection)?.get_bytes(&path).await?;
            // All or nothing: write beside the target, then rename.
            let partial = out.with_extension("partial");
            std::fs::write(&partial, &bytes).with_context(|| format!("cannot write {}", partial.display()))?;
            std::fs::rename(&partial, &out).with_context(|| format!("cannot write {}", out.display()))?;
            let report = warden_proof::evidence::verify_bundle(&warden_proof::evidence::read_archive(&bytes)?, None);
            outln!(
                "evidence bundle of {model} written to {} ({} bytes): {} ledger entries, {} documents ({} ledger-backed)",
                out.display(),
                bytes.len(),
                report.entries,
                report.documents,
                report.ledger_backed
            );
        }
        EvidenceCommand::Verify { file, key, json } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let files = warden_proof::evidence::read_archive(&bytes)?;
            let key = trusted_key(key)?;
            let report = warden_proof::evidence::verify_bundle(&files, key.as_deref());
            if json {
                render::json(&serde_json::to_value(&report)?);
            } else if report.ok {
                outln!(
                    "bundle OK: {} — {} ledger entries proved against the signed checkpoint, {} documents ({} ledger-backed){}",
                    report.model,
                    report.entries,
                    report.documents,
                    report.ledger_backed,
                    if report.key_from_bundle {
                        "; checked with the bundle's own key (pass --key to use one you trust)"
                    } else {
                        ""
                    }
                );
            } else {
                outln!("BUNDLE DOES NOT CHECK OUT: {}", report.model);
                for problem in &report.problems {
                    outln!("  - {problem}");
                }
            }
            return Ok(if report.ok { 0 } else { 1 });
        }
    }
    Ok(0)
}
