//! The tamper-evident ledger end to end: every audited write is an entry, proofs check out against signed
//! checkpoints, and `warden audit verify` names the entry for every kind of tampering with the database
//! (the SQLite file, or the PostgreSQL database when the suite runs on PostgreSQL).

use std::path::Path;

use crate::support::{self, Server, database_for, json_of, on_postgres, stderr, stdout};

/// A model with a version, tokens, a promotion and a monitor change: a few dozen audited writes, and two
/// signed checkpoints (one in the middle).
fn populate(server: &Server) {
    let run = |args: &[&str]| {
        let out = server.cli(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    run(&["model", "create", "credit", "--owner", "retail-risk", "--risk-tier", "medium"]);
    for name in ["dana", "vera"] {
        run(&["token", "create", "--name", name, "--role", "validator"]);
    }
    run(&["audit", "checkpoint"]);
    let artifact = warden_testdata::path("models/lr_german_linear.json");
    support::register_german(server, None, &artifact, "linear-json", &[]);
    run(&["promote", "credit", "1", "--override", "--reason", "ledger test"]);
    run(&["monitor", "set", "credit", "feature_drift", "--min-decisions", "50"]);
    run(&["token", "revoke", "dana"]);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Copies a (stopped) server's data directory and database, to tamper with the copy.
fn copy_data(from: &Path, to: &Path) {
    copy_dir(from, to);
    if on_postgres() {
        // The copy signs with the same key, as the original server did.
        std::fs::copy(support::ledger_key_for(from), to.with_extension("ledger.key")).unwrap();
        let (source, target) = (database_for(from), database_for(to));
        let name = |url: &str| url.rsplit('/').next().unwrap().to_owned();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let admin = format!("{}/postgres", source.rsplit_once('/').unwrap().0);
            let pool = sqlx::PgPool::connect(&admin).await.unwrap();
            for sql in [
                format!("DROP DATABASE {}", name(&target)),
                format!("CREATE DATABASE {} TEMPLATE {}", name(&target), name(&source)),
            ] {
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
            }
            pool.close().await;
        });
    }
}

/// Runs SQL against a (stopped) data directory's database, as someone with access to it would.
fn tamper(data: &Path, statements: &[String]) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        // One connection: the statements share temporary tables.
        if on_postgres() {
            let pool =
                sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&database_for(data)).await.unwrap();
            for statement in statements {
                sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
            }
            pool.close().await;
        } else {
            let url = format!("sqlite://{}", data.join("warden.db").display());
            let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&url).await.unwrap();
            for statement in statements {
                sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
            }
            pool.close().await;
        }
    });
}

/// The size of the ledger and one entry's leaf hash.
fn ledger_size_and_leaf(data: &Path, index: i64) -> (i64, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let size = "SELECT MAX(idx) + 1 FROM ledger_entries";
    let leaf = "SELECT leaf_hash FROM ledger_entries WHERE idx = $1";
    runtime.block_on(async {
        if on_postgres() {
            let pool = sqlx::PgPool::connect(&database_for(data)).await.unwrap();
            let out = (
                sqlx::query_scalar(size).fetch_one(&pool).await.unwrap(),
                sqlx::query_scalar(leaf).bind(index).fetch_one(&pool).await.unwrap(),
            );
            pool.close().await;
            out
        } else {
            let pool =
                sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("warden.db").display())).await.unwrap();
            let out = (
                sqlx::query_scalar(size).fetch_one(&pool).await.unwrap(),
                sqlx::query_scalar(leaf).bind(index).fetch_one(&pool).await.unwrap(),
            );
            pool.close().await;
            out
        }
    })
}

/// SQL that differs between the two databases.
fn dialect(sqlite: &str, postgres: &str) -> String {
    if on_postgres() { postgres.to_owned() } else { sqlite.to_owned() }
}

/// A blob literal of hex digits.
fn blob(hex: &str) -> String {
    dialect(&format!("x'{hex}'"), &format!("'\\x{hex}'::bytea"))
}

/// A server on `dir` with [`populate`]d history.
fn populated(dir: &Path) -> Server {
    let server = Server::start(dir);
    populate(&server);
    server
}

#[test]
fn audit_verify_passes_on_an_untouched_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let server = populated(dir.path());
    let out = server.cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("ledger OK: "), "{}", stdout(&out));
}

#[test]
fn every_audited_write_is_a_ledger_entry_in_order_and_the_log_filters_by_subject() {
    let dir = tempfile::tempdir().unwrap();
    let server = populated(dir.path());
    let log = json_of(&server.cli(&["audit", "log", "--json", "--limit", "1000"]));
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in ["token.create", "model.create", "version.register", "model.promote", "monitor.set", "token.revoke"]
    {
        assert!(actions.iter().any(|a| a.starts_with(expected.split('.').next().unwrap())), "{expected}: {actions:?}");
    }
    for (i, e) in log.as_array().unwrap().iter().enumerate() {
        assert_eq!(e["index"], i as u64);
    }
    let credit = json_of(&server.cli(&["audit", "log", "--subject", "model/credit/", "--json"]));
    assert!(credit.as_array().unwrap().iter().all(|e| e["subject"].as_str().unwrap().starts_with("model/credit/")));
    assert!(!credit.as_array().unwrap().is_empty());
}

#[test]
fn a_proof_checks_against_a_signed_checkpoint_and_not_under_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = populated(dir.path());
    let log = json_of(&server.cli(&["audit", "log", "--json", "--limit", "1000"]));
    // An entry after the last checkpoint gets one made for its proof; the CLI checks the proof itself.
    let last = log.as_array().unwrap().len() - 1;
    let out = server.cli(&["audit", "proof", &last.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("verified here"), "{}", stdout(&out));
    let out = server.cli(&["audit", "proof", "2", "--json"]);
    let proof = json_of(&out);
    assert!(proof["checkpoint"]["note"].as_str().unwrap().contains("\n\n\u{2014} warden-ledger/"));
    // Under another key the same proof is refused.
    let other = warden_ledger::note::NoteSigner::new("warden-ledger/0000000000000000", &[3u8; 32]).unwrap();
    let out = server.cli(&["audit", "proof", "2", "--key", &other.verifier_key()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("signature does not verify"), "{}", stderr(&out));
}

#[test]
fn the_ledger_key_is_public_without_a_token_and_its_file_private() {
    let dir = tempfile::tempdir().unwrap();
    let server = populated(dir.path());
    let proof = json_of(&server.cli(&["audit", "proof", "2", "--json"]));
    // The public key needs no token, and the key file is private.
    let key = stdout(&server.cli(&["audit", "key"]));
    assert_eq!(key.trim(), proof["key"].as_str().unwrap());
    let out =
        std::process::Command::new("curl").args(["-sf", &format!("{}/v1/ledger/key", server.url)]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), key.trim());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(support::ledger_key_path(dir.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_proof_of_an_unknown_entry_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = populated(dir.path());
    let out = server.cli(&["audit", "proof", "100000"]);
    assert_eq!(out.status.code(), Some(1), "an unknown entry is an error");
    assert!(stderr(&out).contains("ledger entry 100000 not found"), "{}", stderr(&out));
}

#[test]
fn audit_verify_names_the_entry_for_every_kind_of_tampering_with_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let mut server = Server::start(&base);
    populate(&server);
    server.signal("TERM");
    let _ = server.child.wait();
    let (size, leaf4) = ledger_size_and_leaf(&base, 4);
    assert!(size >= 12, "{size} entries");

    let unlock = |table: &str| {
        if on_postgres() {
            vec![format!("ALTER TABLE {table} DISABLE TRIGGER USER")]
        } else {
            vec![format!("DROP TRIGGER {table}_append_only_u"), format!("DROP TRIGGER {table}_append_only_d")]
        }
    };
    let random_hash = dialect("randomblob(32)", "sha256(CAST(CAST(random() AS TEXT) AS BYTEA))");
    // The forged entry: well formed, linked to entry 4, with an audit event of its own.
    let forged = warden_ledger::Entry {
        index: 5,
        at: 1_800_000_000_000_000,
        actor: "token:mallory".into(),
        action: "model.promote".into(),
        subject: "model/credit/alias/champion".into(),
        payload_sha256: warden_ledger::payload_sha256(&serde_json::json!({})),
        prev: hex::encode(&leaf4),
    };
    let forged_leaf = hex::encode(forged.leaf_hash());
    let other = warden_ledger::note::NoteSigner::new("warden-ledger/0000000000000000", &[3u8; 32]).unwrap();
    let fake = warden_ledger::note::Checkpoint {
        origin: other.name().into(),
        size: size as u64,
        root: [7u8; 32],
        time: 1_800_000_000,
    };
    let fake_note = other.sign(&fake.text()).unwrap().replace('\'', "''");

    let mut scenarios: Vec<(&str, Vec<String>, Option<i64>, &str)> = vec![
        (
            "a changed audit event",
            [
                unlock("audit_events"),
                vec![
                    "UPDATE audit_events SET actor = 'token:mallory' WHERE seq = \
                (SELECT audit_seq FROM ledger_entries WHERE idx = 4)"
                        .into(),
                ],
            ]
            .concat(),
            Some(4),
            "entry 4 does not match audit event",
        ),
        (
            "a changed entry (its payload hash)",
            [
                unlock("ledger_entries"),
                vec![format!("UPDATE ledger_entries SET payload_sha256 = {random_hash} WHERE idx = 5")],
            ]
            .concat(),
            Some(5),
            "entry 5 does not match the payload of audit event",
        ),
        (
            "a changed entry (its leaf hash)",
            [
                unlock("ledger_entries"),
                vec![format!("UPDATE ledger_entries SET leaf_hash = {random_hash} WHERE idx = 6")],
            ]
            .concat(),
            Some(6),
            "entry 6 does not match audit event",
        ),
        (
            "an audit event given a separator character (the page is read row by row)",
            [
                unlock("audit_events"),
                vec![format!(
                    "UPDATE audit_events SET actor = 'token:a' || {} || 'b' WHERE seq = \
                (SELECT audit_seq FROM ledger_entries WHERE idx = 7)",
                    dialect("char(30)", "chr(30)")
                )],
            ]
            .concat(),
            Some(7),
            "entry 7 does not match audit event",
        ),
        (
            "a deleted entry",
            [unlock("ledger_entries"), vec!["DELETE FROM ledger_entries WHERE idx = 3".into()]].concat(),
            Some(3),
            "entry 3 is missing",
        ),
        (
            "two entries swapped",
            [
                unlock("ledger_entries"),
                vec![
                    "UPDATE ledger_entries SET idx = 1000000000 WHERE idx = 2".into(),
                    "UPDATE ledger_entries SET idx = 2 WHERE idx = 3".into(),
                    "UPDATE ledger_entries SET idx = 3 WHERE idx = 1000000000".into(),
                ],
            ]
            .concat(),
            Some(2),
            "entry 2 ",
        ),
        (
            "the tail truncated (entries and their audit events)",
            [
                unlock("ledger_entries"),
                unlock("audit_events"),
                vec![
                    format!("CREATE TEMP TABLE gone AS SELECT audit_seq FROM ledger_entries WHERE idx >= {}", size - 3),
                    format!("DELETE FROM ledger_entries WHERE idx >= {}", size - 3),
                    "DELETE FROM audit_events WHERE seq IN (SELECT audit_seq FROM gone)".into(),
                ],
            ]
            .concat(),
            Some(size - 3),
            "are missing",
        ),
        (
            "a forged entry inserted",
            [
                unlock("ledger_entries"),
                vec![
                    "UPDATE ledger_entries SET idx = idx + 1000000 WHERE idx >= 5".into(),
                    "UPDATE ledger_entries SET idx = idx - 999999 WHERE idx >= 1000000".into(),
                    format!(
                        "INSERT INTO audit_events (seq, at, actor, action, subject, payload) VALUES \
                    ((SELECT MAX(seq) + 1 FROM audit_events), {}, '{}', '{}', '{}', '{{}}')",
                        forged.at, forged.actor, forged.action, forged.subject
                    ),
                    format!(
                        "INSERT INTO ledger_entries (idx, audit_seq, payload_sha256, leaf_hash) VALUES (5, \
                    (SELECT MAX(seq) FROM audit_events), {}, {})",
                        blob(&forged.payload_sha256),
                        blob(&forged_leaf)
                    ),
                ],
            ]
            .concat(),
            Some(5),
            "entries 5 and 6 record audit events out of order",
        ),
        (
            "a refused gate decision rewritten to allow",
            [
                unlock("policy_decisions"),
                vec!["UPDATE policy_decisions SET body = replace(body, '\"allow\":false', '\"allow\":true')".into()],
            ]
            .concat(),
            None,
            "gate decision 1 of credit version 1 does not match what audit event",
        ),
        (
            "a gate decision inserted without an entry",
            [
                unlock("policy_decisions"),
                vec![
                    "INSERT INTO policy_decisions (model_id, version, at, actor, body) \
                     SELECT model_id, version, at, 'token:mallory', body FROM policy_decisions WHERE id = 1"
                        .into(),
                ],
            ]
            .concat(),
            None,
            "gate decision 2 of credit version 1 is not vouched for by any ledger entry",
        ),
        (
            "a checkpoint replaced",
            [
                unlock("ledger_checkpoints"),
                vec![format!("UPDATE ledger_checkpoints SET note = '{fake_note}' WHERE id = 1")],
            ]
            .concat(),
            None,
            "checkpoint 1 does not verify",
        ),
    ];
    for (n, (name, statements, first_bad, problem)) in scenarios.drain(..).enumerate() {
        let data = dir.path().join(format!("case-{n}"));
        copy_data(&base, &data);
        tamper(&data, &statements);
        let server = Server::start(&data);
        let out = server.cli(&["audit", "verify"]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{name} went unnoticed: {text}{}", stderr(&out));
        let report: serde_json::Value =
            serde_json::from_str(&stdout(&server.cli(&["audit", "verify", "--json"]))).unwrap();
        assert_eq!(report["first_bad_entry"].as_i64(), first_bad, "{name}: {report}");
        let problems = report["problems"].to_string();
        assert!(problems.contains(problem), "{name}: {problem:?} not in {problems}");
        assert!(text.starts_with("LEDGER TAMPERED"), "{name}: {text}");
        drop(server);
    }
}

/// A bundle's files by path.
type Files = std::collections::BTreeMap<String, Vec<u8>>;
/// A tampering with a bundle.
type Change = Box<dyn FnOnce(&mut Files)>;

/// Rewrites a bundle with `change` applied to its files.
fn rewrite(bundle: &Path, out: &Path, change: impl FnOnce(&mut std::collections::BTreeMap<String, Vec<u8>>)) {
    use std::io::Read;
    let mut files = std::collections::BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(bundle).unwrap());
    for file in archive.entries().unwrap() {
        let mut file = file.unwrap();
        let path = file.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        files.insert(path, bytes);
    }
    change(&mut files);
    let mut builder = tar::Builder::new(std::fs::File::create(out).unwrap());
    for (path, bytes) in &files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, bytes.as_slice()).unwrap();
    }
    builder.finish().unwrap();
}

/// Replaces a document and its SHA-256 in the manifest (what a forger who cannot sign would do).
fn rehash(files: &mut Files, path: &str, bytes: Vec<u8>) {
    let sha = sha256_hex(&bytes);
    files.insert(path.to_owned(), bytes);
    let mut manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    for d in manifest["documents"].as_array_mut().unwrap() {
        if d["path"] == path {
            d["sha256"] = sha.clone().into();
        }
    }
    files.insert("manifest.json".into(), serde_json::to_vec(&manifest).unwrap());
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn an_evidence_bundle_verifies_offline_and_every_tampering_with_it_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("data"));
    populate(&server);
    let token = |name: &str, role: &str| {
        stdout(&server.cli(&["token", "create", "--name", name, "--role", role])).trim().to_owned()
    };
    let (vera, rita) = (token("vera2", "validator"), token("rita", "risk-officer"));
    let german = warden_testdata::path("datasets/german.csv");
    let out = server.cli_as(
        Some(&vera),
        &["validate", "credit", "1", "--data", german.to_str().unwrap(), "--target", "risk", "--bad-value", "0"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for who in [&vera, &rita] {
        let out = server.cli_as(Some(who), &["approve", "credit", "1", "--comment", "ok"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // The gate refuses (no lineage on this version): a recorded refusal is evidence too.
    let out = server.cli(&["gate", "check", "credit", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let key = stdout(&server.cli(&["audit", "key"])).trim().to_owned();
    let key_file = dir.path().join("ledger.pub");
    std::fs::write(&key_file, &key).unwrap();
    let bundle = dir.path().join("credit.tar");
    let out = server.cli(&["evidence", "export", "credit", "--out", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ledger-backed"), "{}", stdout(&out));
    // Offline: the server is gone.
    server.kill();

    let verify = |file: &Path, key: &str| {
        std::process::Command::new(support::WARDEN)
            .args(["evidence", "verify", file.to_str().unwrap(), "--key", key])
            .output()
            .unwrap()
    };
    let out = verify(&bundle, key_file.to_str().unwrap());
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("bundle OK: credit"), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(
        &std::process::Command::new(support::WARDEN)
            .args(["evidence", "verify", bundle.to_str().unwrap(), "--key", &key, "--json"])
            .output()
            .unwrap(),
    ))
    .unwrap();
    assert!(report["entries"].as_u64().unwrap() >= 10, "{report}");
    assert!(
        report["ledger_backed"].as_u64().unwrap() >= 5,
        "validation, approvals, gate decisions, versions: {report}"
    );

    // The files an auditor reads: the index names the documents; the validation report is ledger-backed.
    let mut files = std::collections::BTreeMap::new();
    rewrite(&bundle, &dir.path().join("copy.tar"), |f| files = f.clone());
    let index = String::from_utf8(files["index.md"].clone()).unwrap();
    assert!(index.starts_with("# Evidence bundle: credit"), "{index}");
    // Times read as dates: the first entry's row shows its UTC time, not microseconds.
    let mut lines = index.lines().skip_while(|l| !l.starts_with("| entry | time (UTC) |"));
    let first_row = lines.nth(2).expect("an entry listed");
    let time = first_row.split('|').nth(2).unwrap().trim();
    assert!(warden_core::Timestamp::parse(time).is_ok() && time.ends_with('Z') && time.len() == 20, "{first_row}");
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let documents = manifest["documents"].as_array().unwrap();
    let report_doc =
        documents.iter().find(|d| d["path"].as_str().unwrap().starts_with("documents/validations/")).unwrap();
    assert_eq!(report_doc["backed_by"], "document_sha256", "{report_doc}");
    let report_path = report_doc["path"].as_str().unwrap().to_owned();
    for path in [
        "documents/docs/credit-v1-model-documentation.html",
        "documents/docs/credit-v1-eu-ai-act-annex-iv.html",
        "documents/docs/credit-v1-monitoring-report.html",
        "documents/deployments.json",
        "documents/monitor-history.json",
        "documents/alerts.json",
        "documents/incidents.json",
        "documents/model.json",
    ] {
        assert!(files.contains_key(path), "{path} missing");
    }

    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "a report changed (manifest left alone)",
            Box::new({
                let p = report_path.clone();
                move |f| {
                    let text = String::from_utf8(f[&p].clone()).unwrap().replacen("\"auc\":0.", "\"auc\":0.9", 1);
                    f.insert(p.clone(), text.into_bytes());
                }
            }),
            "does not match its SHA-256 in the manifest",
        ),
        (
            "a report changed and the manifest updated to match",
            Box::new({
                let p = report_path.clone();
                move |f| {
                    let text = String::from_utf8(f[&p].clone()).unwrap().replacen("\"auc\":0.", "\"auc\":0.9", 1);
                    let sha = sha256_hex(text.as_bytes());
                    f.insert(p.clone(), text.into_bytes());
                    let mut manifest: serde_json::Value = serde_json::from_slice(&f["manifest.json"]).unwrap();
                    for d in manifest["documents"].as_array_mut().unwrap() {
                        if d["path"] == p.as_str() {
                            d["sha256"] = sha.clone().into();
                        }
                    }
                    f.insert("manifest.json".into(), serde_json::to_vec(&manifest).unwrap());
                }
            }),
            "does not match what ledger entry",
        ),
        (
            "the model documentation's AUC edited and the manifest updated to match",
            Box::new(|f| {
                let path = "documents/docs/credit-v1-model-documentation.html";
                let html = String::from_utf8(f[path].clone()).unwrap();
                let auc = figure_at(&html, "/figures/discrimination/auc").to_owned();
                let shown = &auc[auc.find('>').unwrap() + 1..auc.rfind("</data>").unwrap()];
                let edited = auc.replace(&format!(">{shown}<"), ">0.9999<");
                assert_ne!(auc, edited);
                rehash(f, path, html.replace(&auc, &edited).into_bytes());
            }),
            "where the vouched value shows",
        ),
        (
            "an entry's payload changed",
            Box::new(|f| {
                let path = f.keys().find(|k| k.starts_with("ledger/payloads/")).unwrap().clone();
                let mut value: serde_json::Value = serde_json::from_slice(&f[&path]).unwrap();
                value["forged"] = true.into();
                f.insert(path, serde_json::to_vec(&value).unwrap());
            }),
            "does not match the payload hash of entry",
        ),
        (
            "a proof changed",
            Box::new(|f| {
                let mut entries: serde_json::Value = serde_json::from_slice(&f["ledger/entries.json"]).unwrap();
                entries[0]["proof"][0] = "00".repeat(32).into();
                let bytes = serde_json::to_vec(&entries).unwrap();
                let mut manifest: serde_json::Value = serde_json::from_slice(&f["manifest.json"]).unwrap();
                manifest["entries"]["sha256"] = sha256_hex(&bytes).into();
                f.insert("ledger/entries.json".into(), bytes);
                f.insert("manifest.json".into(), serde_json::to_vec(&manifest).unwrap());
            }),
            "inclusion proof does not lead to the checkpoint's root",
        ),
        (
            "a refused gate decision rewritten to allow and the manifest updated to match",
            Box::new(|f| {
                let path = f.keys().find(|k| k.starts_with("documents/gate-decisions/")).unwrap().clone();
                let text = String::from_utf8(f[&path].clone()).unwrap().replace("\"allow\":false", "\"allow\":true");
                assert!(text.contains("\"allow\":true"));
                rehash(f, &path, text.into_bytes());
            }),
            "does not match what ledger entry",
        ),
        (
            "a gate decision's ledger backing removed from the manifest",
            Box::new(|f| {
                let mut manifest: serde_json::Value = serde_json::from_slice(&f["manifest.json"]).unwrap();
                for d in manifest["documents"].as_array_mut().unwrap() {
                    if d["path"].as_str().unwrap().starts_with("documents/gate-decisions/") {
                        d["ledger_entry"] = serde_json::Value::Null;
                        d["backed_by"] = serde_json::Value::Null;
                    }
                }
                f.insert("manifest.json".into(), serde_json::to_vec(&manifest).unwrap());
            }),
            "no ledger entry vouches for this record",
        ),
        (
            "the deployment history changed and the manifest updated to match",
            Box::new(|f| {
                let path = "documents/deployments.json";
                let text = String::from_utf8(f[path].clone()).unwrap().replace("ledger test", "approved release");
                rehash(f, path, text.into_bytes());
            }),
            "manifest.sig: the signed note does not match",
        ),
        (
            "the index changed",
            Box::new(|f| {
                f.insert("index.md".into(), b"# Evidence bundle: credit\nAll clear.\n".to_vec());
            }),
            "manifest.sig: the signed note does not match",
        ),
        (
            "the manifest's signature removed",
            Box::new(|f| {
                f.remove("manifest.sig");
            }),
            "manifest's signature does not verify",
        ),
        (
            "a document added",
            Box::new(|f| {
                f.insert("documents/extra.json".into(), b"{}".to_vec());
            }),
            "documents/extra.json is not in the manifest",
        ),
    ];
    for (n, (name, change, problem)) in cases.into_iter().enumerate() {
        let tampered = dir.path().join(format!("tampered-{n}.tar"));
        rewrite(&bundle, &tampered, change);
        let out = verify(&tampered, &key);
        assert_eq!(out.status.code(), Some(1), "{name} went unnoticed: {}", stdout(&out));
        assert!(stdout(&out).contains(problem), "{name}: {problem:?} not in {}", stdout(&out));
    }
    // Another key: the checkpoint does not verify.
    let other = warden_ledger::note::NoteSigner::new("warden-ledger/0000000000000000", &[3u8; 32]).unwrap();
    let out = verify(&bundle, &other.verifier_key());
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("signature does not verify"), "{}", stdout(&out));
    // Not a bundle at all: an error, not a panic.
    std::fs::write(dir.path().join("junk.tar"), b"not a tar").unwrap();
    let out = verify(&dir.path().join("junk.tar"), &key);
    assert!(!out.status.success());
}

/// The figure of `html` cited at `pointer`: its whole markup.
fn figure_at<'a>(html: &'a str, pointer: &str) -> &'a str {
    let at = html.find(&format!("data-pointer=\"{pointer}\"")).unwrap_or_else(|| panic!("no figure at {pointer}"));
    let start = html[..at].rfind("<data class=\"figure\"").unwrap();
    let end = at + html[at..].find("</data>").unwrap() + "</data>".len();
    &html[start..end]
}

#[test]
fn a_model_document_cites_every_figure_and_an_edited_one_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("data"));
    populate(&server);
    let vera = stdout(&server.cli(&["token", "create", "--name", "vera3", "--role", "validator"])).trim().to_owned();
    let german = warden_testdata::path("datasets/german.csv");
    let scenarios = dir.path().join("scenarios.toml");
    std::fs::write(&scenarios, "[[scenario]]\nname = \"longer loans\"\nchanges = [\"duration *= 1.5\"]\n").unwrap();
    let out = server.cli_as(
        Some(&vera),
        &[
            "validate",
            "credit",
            "1",
            "--data",
            german.to_str().unwrap(),
            "--target",
            "risk",
            "--bad-value",
            "0",
            "--scenarios",
            scenarios.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let validation: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let auc = &validation["figures"]["discrimination"]["auc"];
    assert!(auc.is_f64(), "{validation}");
    let out = server.cli_as(Some(&vera), &["approve", "credit", "1", "--comment", "sound"]);
    assert!(out.status.success(), "{}", stderr(&out));
    exports_present_the_vouched_facts(&server, dir.path(), &validation);
    traceability_names_the_evidence_and_the_gaps(&server);
    let docs = dir.path().join("docs");
    // Chromium prints the PDF (and poppler reads it back).
    crate::dashboard::chromedriver();
    let out = server.cli(&["docs", "generate", "credit", "--out", docs.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = docs.join("credit-v1-model-documentation.html");
    let pdf = docs.join("credit-v1-model-documentation.pdf");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"), "a PDF");
    let pdfinfo = std::process::Command::new("pdfinfo").arg(&pdf).output().unwrap();
    let pages: u32 = stdout(&pdfinfo)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("pdfinfo names the pages");
    assert!(pages >= 2, "eleven sections fill more than a page: {pages}");
    let text = stdout(&std::process::Command::new("pdftotext").arg(&pdf).arg("-").output().unwrap());
    let shown_auc = format!("{:.4}", auc.as_f64().unwrap());
    assert!(text.contains("Model documentation: credit, version 1"), "{text}");
    assert!(text.contains(&format!("AUC {shown_auc}")) || text.contains(&shown_auc), "{text}");
    let html = std::fs::read_to_string(&file).unwrap();
    // Every section the template promises, and the figures equal to the stored records.
    for section in [
        "purpose",
        "tier",
        "lineage",
        "performance",
        "fairness",
        "stability",
        "stress",
        "findings",
        "approvals",
        "deployment",
        "monitoring",
    ] {
        assert!(html.contains(&format!("<h2 id=\"{section}\">")), "section {section} missing");
    }
    let auc_figure = figure_at(&html, "/figures/discrimination/auc");
    assert!(auc_figure.contains(&format!("value=\"{auc}\"")), "{auc_figure} is not {auc}");
    assert!(auc_figure.ends_with(&format!(">{:.4}</data>", auc.as_f64().unwrap())), "{auc_figure}");
    assert!(figure_at(&html, "/comment").ends_with(">sound</data>"));
    // A stress scenario's measures as given, stressed and their change, each a figure of the report.
    let stressed = &validation["scenarios"][0]["approval_rate"]["stressed"];
    assert!(figure_at(&html, "/scenarios/0/approval_rate/stressed").contains(&format!("value=\"{stressed}\"")));
    assert!(figure_at(&html, "/scenarios/0/name").ends_with(">longer loans</data>"));
    // The EU AI Act's Annex IV from the same entries: its sections, the same AUC, the monitors' actions.
    let out = server.cli(&[
        "docs",
        "generate",
        "credit",
        "--template",
        "eu-ai-act-annex-iv",
        "--no-pdf",
        "--out",
        docs.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let annex = std::fs::read_to_string(docs.join("credit-v1-eu-ai-act-annex-iv.html")).unwrap();
    let sections = [
        "general",
        "development",
        "functioning",
        "metrics",
        "risk",
        "changes",
        "standards",
        "conformity",
        "post-market",
    ];
    for section in sections {
        assert!(annex.contains(&format!("<h2 id=\"{section}\">")), "Annex IV section {section} missing");
    }
    assert_eq!(figure_at(&annex, "/figures/discrimination/auc"), auc_figure);
    assert!(figure_at(&annex, "/config/action").ends_with(">notify</data>"), "the default monitors notify");
    let unknown = server.cli(&["docs", "generate", "credit", "--template", "novel", "--out", docs.to_str().unwrap()]);
    let no_browser =
        server.cli(&["docs", "generate", "credit", "--chromium", "/nonexistent", "--out", docs.to_str().unwrap()]);
    assert_eq!(no_browser.status.code(), Some(1));
    assert!(
        stderr(&no_browser).contains("the HTML is written; printing the PDF needs Chromium"),
        "{}",
        stderr(&no_browser)
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no template 'novel'"), "{}", stderr(&unknown));
    let key = stdout(&server.cli(&["audit", "key"])).trim().to_owned();
    // Offline: the server is gone.
    server.kill();

    let verify = |html: &str, key: &str| {
        let path = dir.path().join("checked.html");
        std::fs::write(&path, html).unwrap();
        let out = std::process::Command::new(support::WARDEN)
            .args(["docs", "verify", path.to_str().unwrap(), "--key", key])
            .output()
            .unwrap();
        (out.status.code(), stdout(&out))
    };
    let (code, text) = verify(&html, &key);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("document OK: model-documentation of credit version 1"), "{text}");
    let (code, text) = verify(&annex, &key);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("document OK: eu-ai-act-annex-iv of credit version 1"), "{text}");
    let edited_text = auc_figure.replace(&format!(">{shown_auc}<"), ">0.9999<");
    let edited_both = edited_text.replace(&format!("value=\"{auc}\""), "value=\"0.9999\"");
    let appendix_at = html.find("id=\"warden-ledger\"").unwrap();
    let record_auc = format!("\"auc\":{auc}");
    assert!(html[appendix_at..].contains(&record_auc), "the appendix holds the report");
    let cases: Vec<(&str, String, &str)> = vec![
        ("the shown AUC edited", html.replace(auc_figure, &edited_text), "where the vouched value shows"),
        ("the AUC and its value edited", html.replace(auc_figure, &edited_both), "as vouched for"),
        (
            "the report in the appendix edited too",
            html.replace(auc_figure, &edited_both).replace(&record_auc, "\"auc\":0.9999"),
            "does not hash to its name",
        ),
        (
            "a paragraph added after the appendix",
            html.replace("</body>", "<p>AUC 0.99, approved by the board</p></body>"),
            "goes on after its ledger appendix",
        ),
        (
            "twenty thousand malformed figures",
            html.replacen(
                "<h2 id=\"purpose\">",
                &format!("{}<h2 id=\"purpose\">", "<data class=\"figure\" x>".repeat(20_000)),
                1,
            ),
            "more than 100 problems",
        ),
        (
            "the citation moved to another entry",
            html.replace(auc_figure, &auc_figure.replace("data-entry=\"", "data-entry=\"9")),
            "cites an entry the appendix does not prove",
        ),
    ];
    for (case, tampered, expect) in cases {
        let (code, text) = verify(&tampered, &key);
        assert_eq!(code, Some(1), "{case}: {text}");
        assert!(text.contains(expect), "{case}: {text}");
    }
    let other_key = {
        let other = tempfile::tempdir().unwrap();
        let mut s = Server::start(&other.path().join("data"));
        let k = stdout(&s.cli(&["audit", "key"])).trim().to_owned();
        s.kill();
        k
    };
    let (code, text) = verify(&html, &other_key);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the checkpoint"), "{text}");
}

/// `warden export`: the CycloneDX ML-BOM validates against the published CycloneDX 1.6 schema, and both
/// exports present the registration's hashes and the validation's figures, citing the entries that vouch
/// for them.
fn exports_present_the_vouched_facts(server: &Server, dir: &Path, validation: &serde_json::Value) {
    use serde_json::Value;
    use sha2::Digest;
    let export = |format: &str| -> Value {
        let file = dir.join("exports").join(format!("credit-v1.{format}.json"));
        let out = server.cli(&["export", format, "credit", "1", "--out", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
    };
    let schemas = warden_testdata::path("schemas/cyclonedx");
    let schema =
        |name: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(schemas.join(name)).unwrap()).unwrap() };
    let validator = ["spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"]
        .into_iter()
        .fold(jsonschema::options(), |options, name| {
            let uri = format!("http://cyclonedx.org/schema/{name}");
            options.with_resource(uri, jsonschema::Resource::from_contents(schema(name)))
        })
        .build(&schema("bom-1.6.SNAPSHOT.schema.json"))
        .expect("the CycloneDX 1.6 schema compiles");

    let bom = export("cyclonedx");
    let errors: Vec<String> = validator.iter_errors(&bom).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema is not a rubber stamp: a model component of a type CycloneDX does not have is refused.
    let mut broken = bom.clone();
    broken["components"][0]["type"] = "model".into();
    assert!(!validator.is_valid(&broken));

    let artifact = std::fs::read(warden_testdata::path("models/lr_german_linear.json")).unwrap();
    let artifact_sha = hex::encode(sha2::Sha256::digest(&artifact));
    let model = &bom["components"][0];
    assert_eq!(model["type"], "machine-learning-model");
    assert_eq!(model["hashes"][0]["content"], artifact_sha.as_str(), "the artifact as registered");
    let metrics = model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"].as_array().unwrap();
    let auc = metrics.iter().find(|m| m["type"] == "AUC").expect("the AUC");
    let discrimination = &validation["figures"]["discrimination"];
    assert_eq!(auc["value"], discrimination["auc"].to_string());
    assert_eq!(auc["confidenceInterval"]["lowerBound"], discrimination["auc_interval"]["lower"].to_string());
    assert_eq!(auc["confidenceInterval"]["upperBound"], discrimination["auc_interval"]["upper"].to_string());
    let datasets: Vec<&Value> = bom["components"].as_array().unwrap()[1..].iter().collect();
    let validation_data = datasets.iter().find(|c| c["bom-ref"].as_str().unwrap().ends_with("/validation")).unwrap();
    assert_eq!(validation_data["hashes"][0]["content"], validation["data_sha256"]);
    assert_eq!(
        bom["dependencies"][0]["dependsOn"].as_array().unwrap().len(),
        datasets.len(),
        "the model depends on each dataset"
    );
    // The validation's figures cite the entry that vouches for the report: that entry is `version.validate`
    // of this version, its payload the report's hash.
    let property = |name: &str| {
        let properties = model["properties"].as_array().unwrap();
        properties.iter().find(|p| p["name"] == name).map(|p| p["value"].as_str().unwrap().to_owned())
    };
    let cited = property("warden:ledger:version.validate").expect("the validation's entry is cited");
    let (index, leaf) = cited.split_once(':').unwrap();
    let out = server.cli(&["audit", "log", "--subject", "model/credit/1", "--json"]);
    let entries: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let entry = entries.as_array().unwrap().iter().find(|e| e["index"].to_string() == index).expect("the cited entry");
    assert_eq!(entry["action"], "version.validate", "{entry}");
    assert_eq!(entry["leaf_hash"], leaf, "{entry}");
    assert_eq!(property("warden:risk-tier").as_deref(), Some("medium"));

    let spdx = export("spdx");
    assert_eq!(spdx["@context"], "https://spdx.org/rdf/3.0.1/spdx-context.jsonld");
    // The SPDX 3.0.1 JSON schema as published with the specification (draft 2020-12); a package without its
    // creation information is refused.
    let spdx_schema: Value =
        serde_json::from_str(&std::fs::read_to_string(warden_testdata::path("schemas/spdx/schema.json")).unwrap())
            .unwrap();
    let spdx_validator = jsonschema::validator_for(&spdx_schema).expect("the SPDX 3.0.1 schema compiles");
    let errors: Vec<String> =
        spdx_validator.iter_errors(&spdx).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut broken = spdx.clone();
    let at = broken["@graph"].as_array().unwrap().iter().position(|e| e["type"] == "ai_AIPackage").unwrap();
    broken["@graph"][at].as_object_mut().unwrap().remove("creationInfo");
    assert!(!spdx_validator.is_valid(&broken));
    let graph = spdx["@graph"].as_array().unwrap();
    let of_type = |t: &str| graph.iter().filter(|e| e["type"] == t).collect::<Vec<_>>();
    let package = of_type("ai_AIPackage")[0];
    assert_eq!(package["verifiedUsing"][0]["hashValue"], artifact_sha.as_str());
    assert!(package["comment"].as_str().unwrap().contains("Model risk tier: medium"), "{package}");
    assert!(package.get("ai_safetyRiskAssessment").is_none(), "a model-risk tier is not a product-safety grade");
    let metric = |key: &str| package["ai_metric"].as_array().unwrap().iter().find(|m| m["key"] == key).cloned();
    assert_eq!(metric("AUC").unwrap()["value"], discrimination["auc"].to_string());
    let relationships: Vec<&str> =
        of_type("Relationship").iter().map(|r| r["relationshipType"].as_str().unwrap()).collect();
    assert!(relationships.contains(&"testedOn") && relationships.contains(&"other"), "{relationships:?}");
    let document = of_type("SpdxDocument")[0];
    assert_eq!(document["rootElement"][0], package["spdxId"]);
    assert_eq!(of_type("dataset_DatasetPackage").len(), datasets.len());

    let unknown = server.cli(&["export", "sbom", "credit", "1", "--out", dir.join("x.json").to_str().unwrap()]);
    assert_eq!(unknown.status.code(), Some(2), "clap refuses a format it does not know");
}

/// `warden traceability`: each requirement with the entries that evidence it; a requirement with none is a gap
/// (exit 1) until a record of its kind is written.
fn traceability_names_the_evidence_and_the_gaps(server: &Server) {
    let matrix = |framework: &str| {
        let out = server.cli(&["traceability", "credit", "--framework", framework, "--json"]);
        let matrix: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        (out.status.code(), matrix)
    };
    let row = |matrix: &serde_json::Value, id: &str| {
        matrix["requirements"].as_array().unwrap().iter().find(|r| r["id"] == id).cloned().unwrap()
    };
    let actions = |row: &serde_json::Value| -> Vec<String> {
        row["latest"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
    };
    // The tier was declared at registration; no tiering decision or inventory field backs it yet.
    let (code, sr) = matrix("sr-26-2");
    assert_eq!(code, Some(1), "{sr}");
    assert_eq!(row(&sr, "materiality")["status"], "no evidence", "{sr}");
    assert_eq!(row(&sr, "limitations")["status"], "no evidence", "no finding was ever raised");
    assert_eq!(sr["gaps"], 2, "{sr}");
    assert_eq!(actions(&row(&sr, "governance"))[..1], ["model.promote"], "the promotion");
    let validation = row(&sr, "validation");
    assert_eq!(validation["status"], "evidenced");
    assert_eq!(actions(&validation)[..2], ["version.approve", "version.validate"], "{validation}");
    assert_eq!(row(&sr, "outcomes-analysis")["status"], "evidenced", "the default performance monitor");
    let (_, eu) = matrix("eu-ai-act");
    assert_eq!(actions(&row(&eu, "art-14")), ["version.approve"]);
    // The text view names the gap.
    let text = stdout(&server.cli(&["traceability", "credit", "--framework", "sr-26-2"]));
    assert!(text.contains("materiality") && text.contains("no evidence"), "{text}");

    let out = server.cli(&["model", "tier", "credit", "--override", "high", "--reason", "traceability test"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = server.cli(&[
        "findings",
        "raise",
        "credit",
        "--kind",
        "limitation",
        "--severity",
        "low",
        "--title",
        "thin-file applicants",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, sr) = matrix("sr-26-2");
    let materiality = row(&sr, "materiality");
    assert_eq!(materiality["status"], "evidenced", "{materiality}");
    assert_eq!(actions(&materiality), ["model.tier"]);
    assert_eq!(actions(&row(&sr, "limitations")), ["finding.raise"]);
    assert_eq!(sr["gaps"], 0, "{sr}");
    assert_eq!(server.cli(&["traceability", "credit", "--framework", "sr-26-2"]).status.code(), Some(0));

    let unknown = server.cli(&["traceability", "credit", "--framework", "iso-42001"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn a_bank_template_is_written_and_checked_like_the_shipped_ones() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("board-summary.html"),
        "<!doctype html><html><head><title>Board summary</title></head><body>\
         <h1>Board summary: {{ model }}, version {{ version }}</h1>\
         <p>Owner {{ purpose.owner }}; tier declared {{ purpose.risk_tier }}.</p>{{ appendix }}</body></html>",
    )
    .unwrap();
    // Four nested loops over the 80-odd characters of the key: some 40 million steps.
    let runaway = "{% for a in key %}{% for b in key %}{% for c in key %}{% for d in key %}x{% endfor %}{% endfor %}\
                   {% endfor %}{% endfor %}{{ appendix }}";
    std::fs::write(templates.join("runaway.html"), runaway).unwrap();
    let mut server =
        Server::start_with(&dir.path().join("data"), &["--document-templates", templates.to_str().unwrap()]);
    populate(&server);
    let docs = dir.path().join("docs");
    let generate = |template: &str| {
        server.cli(&["docs", "generate", "credit", "--template", template, "--no-pdf", "--out", docs.to_str().unwrap()])
    };
    let out = generate("board-summary");
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(docs.join("credit-v1-board-summary.html")).unwrap();
    assert!(figure_at(&html, "/owner").ends_with(">retail-risk</data>"), "the bank's template cites its figures");
    assert!(figure_at(&html, "/risk_tier").ends_with(">medium</data>"));
    let out = generate("runaway");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("template 'runaway' ran past its budget"), "{}", stderr(&out));
    let out = generate("novel");
    assert!(
        stderr(&out).contains("model-documentation, eu-ai-act-annex-iv, monitoring-report, board-summary, runaway"),
        "{}",
        stderr(&out)
    );
    let key = stdout(&server.cli(&["audit", "key"])).trim().to_owned();
    server.kill();
    let out = std::process::Command::new(support::WARDEN)
        .args(["docs", "verify", docs.join("credit-v1-board-summary.html").to_str().unwrap(), "--key", &key])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("document OK: board-summary of credit version 1"), "{}", stdout(&out));

    // A template that does not compile, or a file that is not NAME.html, stops the server before it starts.
    for (file, text, expect) in [
        ("broken.html", "{% if %}", "does not compile"),
        ("notes.txt", "hello", "a document template is a NAME.html file"),
        ("model-documentation.html", "x", "is one Warden ships"),
    ] {
        let bad = dir.path().join(format!("bad-{file}"));
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join(file), text).unwrap();
        let out = std::process::Command::new(support::WARDEN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--document-templates", bad.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(file) && stderr(&out).contains(expect), "{file}: {}", stderr(&out));
    }
}
