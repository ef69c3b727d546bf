//! Registrations and token grants in a loop, the server killed with SIGKILL, restarted: every acknowledged
//! version and token is present, every artifact's SHA-256 verifies, no half-written version exists, no
//! orphan blob or staging file is left, and the audit ledger (appended in the same transactions) verifies.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::{self, *};

const CYCLES: usize = 4;
/// Acknowledged registrations to wait for in each cycle before the kill.
const PER_CYCLE: usize = 25;
const WRITERS: usize = 4;

fn reference_csv(rows: usize) -> Vec<u8> {
    let mut csv = b"income,age,region,default\n".to_vec();
    for i in 0..rows {
        csv.extend_from_slice(
            format!("{},{},{},{}\n", 1000 + (i * 37) % 9000, 18 + i % 60, ["n", "s", "e", "w"][i % 4], i % 7 == 0)
                .as_bytes(),
        );
    }
    csv
}

async fn register(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    artifact: Vec<u8>,
    reference: Vec<u8>,
) -> Result<(i64, String), String> {
    let metadata = serde_json::json!({"format": "linear-json", "target": "default"}).to_string();
    let form = reqwest::multipart::Form::new()
        .text("metadata", metadata)
        .part("artifact", reqwest::multipart::Part::bytes(artifact).file_name("m.json"))
        .part("reference", reqwest::multipart::Part::bytes(reference).file_name("r.csv"));
    let response = client
        .post(format!("{url}/v1/models/scorecard/versions"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status() != reqwest::StatusCode::CREATED {
        return Err(format!("status {}", response.status()));
    }
    let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    Ok((body["version"].as_i64().unwrap(), body["artifact"]["sha256"].as_str().unwrap().to_owned()))
}

fn verify(server: &Server, acknowledged: &BTreeMap<i64, String>) {
    let versions = json_of(&server.cli(&["model", "show", "scorecard", "--json"]))["versions"].clone();
    let stored: BTreeMap<i64, serde_json::Value> =
        versions.as_array().unwrap().iter().map(|v| (v["version"].as_i64().unwrap(), v.clone())).collect();
    for (version, sha) in acknowledged {
        let row = stored.get(version).unwrap_or_else(|| panic!("acknowledged version {version} is missing"));
        assert_eq!(row["artifact"]["sha256"].as_str().unwrap(), sha, "version {version}");
    }
    // Versions are numbered without gaps: no half-inserted row was skipped over.
    let numbers: Vec<i64> = stored.keys().copied().collect();
    assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());

    let blob_path = |sha: &str| server.data_dir.join("artifacts/sha256").join(&sha[..2]).join(sha);
    let mut referenced = BTreeSet::new();
    for row in stored.values() {
        for blob in [&row["artifact"], &row["reference"]] {
            let sha = blob["sha256"].as_str().unwrap();
            let bytes = std::fs::read(blob_path(sha))
                .unwrap_or_else(|e| panic!("blob {sha} of v{} missing: {e}", row["version"]));
            assert_eq!(hex::encode(Sha256::digest(&bytes)), sha, "blob of v{} verifies", row["version"]);
            assert_eq!(bytes.len() as u64, blob["size"].as_u64().unwrap());
            referenced.insert(sha.to_owned());
        }
    }
    let mut on_disk = BTreeSet::new();
    for shard in std::fs::read_dir(server.data_dir.join("artifacts/sha256")).unwrap() {
        for blob in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            on_disk.insert(blob.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    assert_eq!(on_disk, referenced, "no orphan blobs after restart");
    assert_eq!(std::fs::read_dir(server.data_dir.join("tmp")).unwrap().count(), 0, "staging cleared");

    // Each version has exactly one registration event, written in the same transaction.
    let audit = server.get_json("/v1/audit/events?subject=model/scorecard&limit=10000");
    let registered: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "version.register")
        .map(|e| e["subject"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = stored.keys().map(|v| format!("model/scorecard/{v}")).collect();
    assert_eq!(registered, expected);
}

/// Kills the server with SIGKILL, cycle after cycle, under concurrent writers.
mod slow {
    use super::*;

    #[test]
    fn acknowledged_writes_survive_sigkill_and_the_ledger_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let acknowledged: Arc<Mutex<BTreeMap<i64, String>>> = Arc::default();
        let granted: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut counter = 0u64;

        for cycle in 0..CYCLES {
            let mut server = Server::start(&data);
            let token = server.admin_token();
            if cycle == 0 {
                assert!(
                    server
                        .cli(&["model", "create", "scorecard", "--owner", "o", "--risk-tier", "high"])
                        .status
                        .success()
                );
            }
            let url = server.url.clone();
            // Writers register until the server dies under them.
            let handles: Vec<_> = (0..WRITERS)
                .map(|writer| {
                    let (url, token, acknowledged) = (url.clone(), token.clone(), acknowledged.clone());
                    counter += 1_000;
                    let base = counter;
                    runtime.spawn(async move {
                        let client = support::http_client();
                        for i in 0.. {
                            let artifact =
                                format!(r#"{{"intercept": {}, "coefficients": {{"income": 0.001}}}}"#, base + i)
                                    .into_bytes();
                            let reference = reference_csv(500 + writer * 100 + (i as usize % 50));
                            match register(&client, &url, &token, artifact, reference).await {
                                Ok((version, sha)) => {
                                    acknowledged.lock().unwrap().insert(version, sha);
                                }
                                Err(_) => break,
                            }
                        }
                    })
                })
                .collect();
            // Another audited write beside them: token grants, each its own ledger append.
            let granter = {
                let (url, token, granted) = (url.clone(), token.clone(), granted.clone());
                runtime.spawn(async move {
                    let client = support::http_client();
                    for i in 0.. {
                        let name = format!("grant-{cycle}-{i}");
                        let response = client
                            .post(format!("{url}/v1/tokens"))
                            .bearer_auth(&token)
                            .json(&serde_json::json!({"name": name, "role": "viewer"}))
                            .send()
                            .await;
                        match response {
                            Ok(r) if r.status() == reqwest::StatusCode::CREATED => granted.lock().unwrap().push(name),
                            _ => break,
                        }
                    }
                })
            };
            let target = acknowledged.lock().unwrap().len() + PER_CYCLE;
            let deadline = std::time::Instant::now() + Duration::from_secs(120);
            while acknowledged.lock().unwrap().len() < target && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            // Kill at an arbitrary moment, with requests in flight.
            std::thread::sleep(Duration::from_millis(3 + 7 * cycle as u64));
            server.signal("KILL");
            let _ = server.child.wait();
            for handle in handles {
                runtime.block_on(handle).unwrap();
            }
            runtime.block_on(granter).unwrap();
            drop(server);

            let server = Server::start(&data);
            verify(&server, &acknowledged.lock().unwrap());
            let tokens = json_of(&server.cli(&["token", "list", "--json"]));
            let listed: BTreeSet<&str> =
                tokens.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
            for name in granted.lock().unwrap().iter() {
                assert!(listed.contains(name.as_str()), "acknowledged token {name} is missing");
            }
            let ledger = server.cli(&["audit", "verify"]);
            assert!(
                ledger.status.success(),
                "the ledger verifies after SIGKILL: {}{}",
                stdout(&ledger),
                stderr(&ledger)
            );
        }
        assert!(acknowledged.lock().unwrap().len() >= CYCLES * PER_CYCLE, "enough registrations were acknowledged");
    }
}
