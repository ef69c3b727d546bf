//! Two `warden serve` replicas sharing one PostgreSQL database (always PostgreSQL: the server is started on
//! 127.0.0.1 by `scripts/test-postgres.sh`): registry changes are seen at once, alias moves reach the other
//! replica's scoring within a second, concurrent audited writes never fork the ledger, scheduled work runs on
//! one replica at a time and moves when it dies, and the monitors judge the traffic of both.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{self, Server, fresh_postgres_database, fresh_s3_bucket, json_of, stderr, stdout};

fn model_fixture(name: &str) -> PathBuf {
    warden_testdata::path(&format!("models/{name}"))
}

/// Two replicas on one fresh database and one S3 bucket, signing the ledger with one key; the second finds the
/// admin token the first made (copied to its data directory for the CLI).
fn two_replicas(dir: &Path, extra: &[&str]) -> (Server, Server, String) {
    let database = fresh_postgres_database();
    let bucket = fresh_s3_bucket();
    let artifacts = format!("s3://{}/models", bucket.bucket);
    let key = dir.join("ledger.key");
    std::fs::write(&key, format!("{}\n", hex::encode(rand::random::<[u8; 32]>()))).unwrap();
    let shared =
        ["--database", database.as_str(), "--artifacts", artifacts.as_str(), "--ledger-key", key.to_str().unwrap()];
    let args: Vec<&str> = [&shared[..], extra].concat();
    let start =
        |name: &str| Server::start_env(&dir.join(name), &args, &bucket.env(), "warn", std::process::Stdio::inherit());
    let a = start("a");
    let b = start("b");
    assert!(!dir.join("b/admin.token").exists(), "the second replica found the first one's tokens");
    std::fs::copy(dir.join("a/admin.token"), dir.join("b/admin.token")).unwrap();
    (a, b, database)
}

fn create_credit_model(server: &Server) {
    let out = server.cli(&["model", "create", "credit", "--owner", "retail-risk", "--risk-tier", "medium"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn register_logistic(server: &Server) {
    let artifact = model_fixture("lr_german_linear.json");
    support::register_german(server, None, &artifact, "linear-json", &["--protected", "sex"]);
}

fn score_once(client: &reqwest::Client, server: &Server, token: &str, i: usize) -> serde_json::Value {
    let body = serde_json::json!({"request_id": format!("r-{i}"), "attributes": {"sex": "female"},
        "features": {"duration": 12 + i % 30, "credit_amount": 1000 + i, "job": 2, "age": 30,
        "housing": "own", "saving_accounts": "little", "checking_account": "little", "purpose": "car"}});
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let response = client
            .post(format!("{}/v1/models/credit/score", server.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "score: {}", response.status());
        response.json().await.unwrap()
    })
}

/// Scores `rows` of the German data (header kept) through `server` with the batch command.
fn score_rows(server: &Server, dir: &Path, name: &str, rows: &[&str], header: &str) {
    let input = dir.join(format!("{name}.csv"));
    std::fs::write(&input, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let output = dir.join(format!("{name}-scored.csv"));
    let out =
        server.cli(&["score", "credit", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn lease_holders(database: &str) -> Vec<(String, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let pool = sqlx::PgPool::connect(database).await.unwrap();
        let rows = sqlx::query_as("SELECT name, holder FROM leases ORDER BY name").fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    })
}

fn evaluations(server: &Server) -> Vec<serde_json::Value> {
    let history = json_of(&server.cli(&[
        "monitor",
        "history",
        "credit",
        "--monitor",
        "feature_drift",
        "--limit",
        "10000",
        "--json",
    ]));
    history.as_array().unwrap().clone()
}

/// Two replicas on one PostgreSQL database and one bucket (both servers started on first use), waiting for leases, polls and a replica's death.
mod slow {
    use super::*;

    #[test]
    fn registry_changes_are_seen_at_once_and_alias_moves_reach_the_other_replica_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, _) = two_replicas(dir.path(), &[]);
        create_credit_model(&a);
        // Seen by the other replica at once: the next request after the acknowledged write.
        let listed = json_of(&b.cli(&["model", "list", "--json"]));
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        register_logistic(&a);
        let shown = json_of(&b.cli(&["model", "show", "credit", "1", "--json"]));
        assert_eq!(shown["version"].as_i64(), Some(1), "{shown}");
        // The second version through the other replica: its artifact goes to the shared bucket.
        let second = dir.path().join("second.json");
        std::fs::write(&second, r#"{"intercept": -1, "coefficients": {"duration": 0.03, "credit_amount": 0.0001}}"#)
            .unwrap();
        support::register_german(&b, None, &second, "linear-json", &["--protected", "sex"]);
        let versions = json_of(&a.cli(&["model", "show", "credit", "--json"]));
        assert_eq!(versions["model"]["latest_version"].as_i64(), Some(2), "{versions}");

        let promoted = a.cli(&["promote", "credit", "1", "--override", "--reason", "replica test"]);
        assert!(promoted.status.success(), "{}", stderr(&promoted));
        let token = a.admin_token();
        let client = support::http_client();
        // B serves version 1 (its routes load on its first request).
        assert_eq!(score_once(&client, &b, &token, 0)["version"].as_i64(), Some(1));
        let mut delays = Vec::new();
        for (round, target) in [2, 1, 2].into_iter().enumerate() {
            let moved = a.cli(&["promote", "credit", &target.to_string(), "--override", "--reason", "replica test"]);
            assert!(moved.status.success(), "{}", stderr(&moved));
            let started = Instant::now();
            let mut i = 0;
            loop {
                i += 1;
                let answer = score_once(&client, &b, &token, 1000 * (round + 1) + i);
                if answer["version"].as_i64() == Some(target) {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(1), "replica B still serves {answer} after 1 s");
                std::thread::sleep(Duration::from_millis(20));
            }
            delays.push(started.elapsed());
        }
        eprintln!("alias moves reached the other replica after {delays:?}");
    }

    #[test]
    fn a_suspension_on_one_replica_stops_the_other_within_a_second_and_a_resumption_restarts_it() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, _) = two_replicas(dir.path(), &[]);
        create_credit_model(&a);
        register_logistic(&a);
        let promoted = a.cli(&["promote", "credit", "1", "--override", "--reason", "replica test"]);
        assert!(promoted.status.success(), "{}", stderr(&promoted));
        let token = a.admin_token();
        let client = support::http_client();
        assert_eq!(score_once(&client, &b, &token, 0)["route"], "champion");
        let mut delays = Vec::new();
        for (round, (args, route)) in [
            (vec!["model", "suspend", "credit", "--reason", "stop drill", "--fallback", "refer"], "fallback"),
            (vec!["model", "resume", "credit", "--reason", "drill over"], "champion"),
        ]
        .into_iter()
        .enumerate()
        {
            let out = a.cli(&args);
            assert!(out.status.success(), "{}", stderr(&out));
            let started = Instant::now();
            let mut i = 0;
            loop {
                i += 1;
                let answer = score_once(&client, &b, &token, 1000 * (round + 1) + i);
                if answer["route"] == route {
                    if route == "fallback" {
                        assert_eq!(answer["decision"], "refer", "{answer}");
                    }
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(1), "replica B still answers {answer} after 1 s");
                std::thread::sleep(Duration::from_millis(20));
            }
            delays.push(started.elapsed());
        }
        eprintln!("the stop switch and its release reached the other replica after {delays:?}");
        let state = json_of(&b.cli(&["model", "suspend", "credit", "--json"]));
        assert_eq!((state["suspended"].as_bool(), state["by"].as_str()), (Some(false), Some("token:admin")), "{state}");
        // Both replicas logged their fallback answers, marked, in the one shared log.
        let log = b.get_json("/v1/models/credit/decisions?limit=100000");
        let fallbacks: Vec<&serde_json::Value> =
            log.as_array().unwrap().iter().filter(|d| d["route"] == "fallback").collect();
        assert!(!fallbacks.is_empty() && fallbacks.iter().all(|d| d["score"].is_null() && d["decision"] == "refer"));
    }

    #[test]
    fn two_replicas_appending_at_full_speed_never_fork_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, _) = two_replicas(dir.path(), &["--checkpoint-interval-seconds", "1"]);
        let token = a.admin_token();
        const PER_WRITER: usize = 60;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let created = runtime.block_on(async {
            let client = support::http_client();
            let mut writers = Vec::new();
            for (r, url) in [&a.url, &b.url].into_iter().enumerate() {
                for w in 0..4 {
                    let (client, url, token) = (client.clone(), url.clone(), token.clone());
                    writers.push(tokio::spawn(async move {
                        for i in 0..PER_WRITER {
                            let body = serde_json::json!({"name": format!("t-{r}-{w}-{i}"), "role": "viewer"});
                            let response = client
                                .post(format!("{url}/v1/tokens"))
                                .bearer_auth(&token)
                                .json(&body)
                                .send()
                                .await
                                .unwrap();
                            assert!(response.status().is_success(), "token create: {}", response.status());
                        }
                        PER_WRITER
                    }));
                }
            }
            let mut created = 0;
            for writer in writers {
                created += writer.await.unwrap();
            }
            created
        });
        assert_eq!(created, 8 * PER_WRITER);
        // Both replicas verify the whole ledger, including checkpoints either of them signed meanwhile.
        for replica in [&a, &b] {
            let out = replica.cli(&["audit", "verify"]);
            assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
            let report = json_of(&replica.cli(&["audit", "verify", "--json"]));
            let entries = report["entries"].as_u64().unwrap();
            assert!(entries >= created as u64, "{report}");
        }
        let tokens = json_of(&b.cli(&["token", "list", "--json"]));
        assert_eq!(tokens.as_array().unwrap().len(), created + 1, "every token and the admin's");
    }

    #[test]
    fn monitors_run_once_judge_both_replicas_traffic_and_move_when_their_replica_dies() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a, b, database) =
            two_replicas(dir.path(), &["--monitor-interval-seconds", "1", "--checkpoint-interval-seconds", "1"]);
        create_credit_model(&a);
        register_logistic(&a);
        assert!(a.cli(&["promote", "credit", "1", "--override", "--reason", "replica test"]).status.success());
        let out = a.cli(&["monitor", "set", "credit", "feature_drift", "--min-decisions", "100"]);
        assert!(out.status.success(), "{}", stderr(&out));

        // Older applicants only, half through each replica: each alone holds half of the drifted traffic.
        let text = std::fs::read_to_string(warden_testdata::path("datasets/german.csv")).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let age = header.split(',').position(|c| c == "age").unwrap();
        let older: Vec<&str> =
            lines.filter(|l| l.split(',').nth(age).unwrap().parse::<f64>().unwrap() > 40.0).collect();
        let (first, second) = older.split_at(older.len() / 2);
        score_rows(&a, dir.path(), "first", first, header);
        score_rows(&b, dir.path(), "second", second, header);

        let started = Instant::now();
        let alert = loop {
            let found = evaluations(&a).into_iter().find(|e| e["status"] == "alert" && e["decisions"] == older.len());
            if let Some(found) = found {
                break found;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no alert on all {} decisions: {:?}",
                older.len(),
                evaluations(&a).last()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(alert["details"]["features"]["age"]["status"], "alert", "{alert}");

        // Once per round, not once per replica: over a stretch of rounds, about one evaluation a second.
        std::thread::sleep(Duration::from_secs(6));
        let history = evaluations(&b);
        let times: Vec<i64> = history.iter().map(|e| e["at"].as_i64().unwrap()).collect();
        let span = (times[times.len() - 1] - times[0]) as f64 / 1e6;
        assert!(
            times.len() as f64 <= span / 1.0 + 2.0,
            "{} evaluations in {span:.1} s: both replicas evaluate",
            times.len()
        );
        let holders = lease_holders(&database);
        let names: Vec<&str> = holders.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"monitor-evaluation") && names.contains(&"ledger-checkpoint"), "{holders:?}");
        let evaluator = &holders.iter().find(|(n, _)| n == "monitor-evaluation").unwrap().1;
        let a_holds = evaluator.contains(&format!("-{}-", a.child.id()));
        assert!(a_holds || evaluator.contains(&format!("-{}-", b.child.id())), "{evaluator}");

        // The holder dies: the other replica takes the work over once the lease lapses (5 s).
        let (survivor, before) = if a_holds {
            a.kill();
            (&b, times.len())
        } else {
            drop(b);
            (&a, times.len())
        };
        let killed_at = Instant::now();
        loop {
            let now = evaluations(survivor).len();
            if now >= before + 3 {
                break;
            }
            assert!(killed_at.elapsed() < Duration::from_secs(20), "no evaluations after the holder died");
            std::thread::sleep(Duration::from_millis(250));
        }
        let holder = lease_holders(&database).into_iter().find(|(n, _)| n == "monitor-evaluation").unwrap().1;
        assert!(holder.contains(&format!("-{}-", survivor.child.id())), "{holder}");
        let out = survivor.cli(&["audit", "verify"]);
        assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    }

    #[test]
    fn replicas_starting_together_on_an_empty_database_set_it_up_once() {
        let dir = tempfile::tempdir().unwrap();
        let database = fresh_postgres_database();
        let bucket = fresh_s3_bucket();
        let artifacts = format!("s3://{}/models", bucket.bucket);
        let key = support::ledger_key_for(&dir.path().join("shared"));
        let args =
            ["--database", database.as_str(), "--artifacts", artifacts.as_str(), "--ledger-key", key.to_str().unwrap()];
        let (a, b) = std::thread::scope(|scope| {
            let start = |name: &'static str| {
                let (dir, env) = (dir.path().join(name), bucket.env());
                scope.spawn(move || Server::start_env(&dir, &args, &env, "warn", std::process::Stdio::inherit()))
            };
            let (a, b) = (start("a"), start("b"));
            (a.join().unwrap(), b.join().unwrap())
        });
        // One admin token, written by whichever replica made it; one default policy bundle.
        let tokens: Vec<&Server> = [&a, &b].into_iter().filter(|s| s.data_dir.join("admin.token").exists()).collect();
        assert_eq!(tokens.len(), 1, "exactly one replica wrote the admin token");
        let holder = tokens[0];
        let bundles = holder.get_json("/v1/policies/history");
        assert_eq!(bundles.as_array().unwrap().len(), 1, "{bundles}");
        let audit = json_of(&holder.cli(&["audit", "log", "--json", "--limit", "100"]));
        let creations = audit.as_array().unwrap().iter().filter(|e| e["action"] == "token.create").count();
        assert_eq!(creations, 1, "{audit}");
        let out = holder.cli(&["audit", "verify"]);
        assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    }
}
