//! The scoring path against a real server: the decision log's durability contract, and bulk scoring.

use std::path::{Path, PathBuf};

use crate::support::{self, *};

fn model_fixture(name: &str) -> PathBuf {
    warden_testdata::path(&format!("models/{name}"))
}

/// Makes a version champion by an administrator's override: these tests are about serving, not the gate.
fn promote(server: &Server, version: &str) {
    let out = server.cli(&["promote", "credit", version, "--override", "--reason", "serving test"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Registers the next version of `credit` on the German credit reference data (target risk, protected sex).
fn register(server: &Server, artifact: &Path, format: &str, extra: &[&str]) {
    support::register_german(server, None, artifact, format, &[&["--protected", "sex"], extra].concat());
}

/// Sends `count` score requests over 8 connections; returns how many were answered 200.
fn send_scores(url: &str, token: &str, count: usize, prefix: &str) -> usize {
    send_scores_over(url, token, count, prefix, 8).len()
}

/// Sends `count` score requests over `connections`; returns the request ids answered 200. A refused
/// request fails the test; a connection that breaks (the server was killed) ends its sender.
fn send_scores_over(url: &str, token: &str, count: usize, prefix: &str, connections: usize) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let client = support::http_client();
        let mut tasks = Vec::new();
        for worker in 0..connections {
            let (client, url, token, prefix) = (client.clone(), url.to_owned(), token.to_owned(), prefix.to_owned());
            tasks.push(tokio::spawn(async move {
                let mut answered = Vec::new();
                for i in (worker..count).step_by(connections) {
                    let id = format!("{prefix}-{i}");
                    let body = serde_json::json!({"request_id": id, "attributes": {"sex": "female"},
                        "features": {"duration": 12 + i % 30, "credit_amount": 1000 + i, "job": 2, "age": 30,
                        "housing": "own", "saving_accounts": "little", "checking_account": "little", "purpose": "car"}});
                    let response = client.post(format!("{url}/v1/models/credit/score")).bearer_auth(&token).json(&body).send().await;
                    match response {
                        Ok(r) if r.status().is_success() => answered.push(id),
                        Ok(r) => panic!("score failed: {}", r.status()),
                        Err(_) => break,
                    }
                }
                answered
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all
    })
}

fn logged(server: &Server) -> Vec<serde_json::Value> {
    server.get_json("/v1/models/credit/decisions?limit=100000").as_array().unwrap().clone()
}

#[test]
fn a_clean_shutdown_loses_no_decision() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    serve_linear_credit(&server, dir.path());
    let answered = send_scores(&server.url, &server.admin_token(), 3000, "clean");
    assert_eq!(answered, 3000);
    server.signal("TERM");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "clean shutdown exits 0: {status:?}");

    let server = Server::start(&data);
    let log = logged(&server);
    assert_eq!(log.len(), 3000, "every acknowledged decision is in the log after a clean shutdown");
    let mut ids: Vec<&str> = log.iter().map(|d| d["request_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3000);
    assert!(log.iter().all(|d| d["attributes"]["sex"] == "female" && d["route"] == "champion"));
}

#[test]
fn after_sigkill_every_answered_decision_is_logged_and_serving_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    serve_linear_credit(&server, dir.path());
    let (url, token) = (server.url.clone(), server.admin_token());
    // Twelve concurrent clients, killed mid-stream.
    let sender = std::thread::spawn(move || send_scores_over(&url, &token, 100_000, "kill", 12));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    server.signal("KILL");
    let _ = server.child.wait();
    let answered = sender.join().unwrap();

    let server = Server::start(&data);
    let log = logged(&server);
    let logged_ids: std::collections::HashSet<&str> = log.iter().map(|d| d["request_id"].as_str().unwrap()).collect();
    // A decision is answered only once committed: every answer is in the log. The log may hold a few more,
    // committed in the last group whose answers the kill cut off (at most one per connection).
    let missing: Vec<&String> = answered.iter().filter(|id| !logged_ids.contains(id.as_str())).collect();
    eprintln!(
        "kill -9 under 12 clients: {} answered 200, {} logged, {} answered but not logged",
        answered.len(),
        log.len(),
        missing.len()
    );
    assert!(answered.len() > 100, "only {} answered before the kill", answered.len());
    assert!(
        missing.is_empty(),
        "{} of {} answered decisions lost, e.g. {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(log.len() <= answered.len() + 12, "{} logged, {} answered", log.len(), answered.len());
    assert!(log.iter().all(
        |d| d["score"].as_f64().is_some_and(|s| (0.0..=1.0).contains(&s)) && d["features"]["duration"].is_number()
    ));
    assert_eq!(send_scores(&server.url, &server.admin_token(), 16, "after"), 16);
}

/// A server whose `credit` champion is the German credit XGBoost model (ordinal-coded categories, unknown
/// ones scored as missing).
fn serve_xgboost_credit(dir: &Path) -> Server {
    let server = Server::start(&dir.join("data"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model_fixture("manifest.json")).unwrap()).unwrap();
    let encodings = dir.join("encodings.json");
    std::fs::write(&encodings, manifest["suites"][0]["ordinal_codes"].to_string()).unwrap();
    let xgb = model_fixture("xgb_german.json");
    assert!(server.cli(&["model", "create", "credit", "--owner", "risk", "--risk-tier", "high"]).status.success());
    let encodings_arg = encodings.to_str().unwrap();
    register(&server, &xgb, "xgboost-json", &["--encodings", encodings_arg, "--unknown-category", "missing"]);
    promote(&server, "1");
    server
}

#[test]
fn bulk_scoring_a_file_matches_the_model_and_explains_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_xgboost_credit(dir.path());

    let input = model_fixture("german_test_raw.csv");
    let output = dir.path().join("scored.csv");
    let out = server.cli(&[
        "score",
        "credit",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--explain",
        "--batch-rows",
        "70",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("scored 300 rows"), "{}", stderr(&out));

    let mut scored = csv::Reader::from_path(&output).unwrap();
    let header = scored.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    assert_eq!(column("row"), 0, "input columns come first, in order");
    let mut expected = csv::Reader::from_path(model_fixture("german_test_expected_xgb.csv")).unwrap();
    let expected_header = expected.headers().unwrap().clone();
    let rows: Vec<_> = scored.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 300);
    for (row, want) in rows.iter().zip(expected.records().map(Result::unwrap)) {
        let want = |name: &str| want[expected_header.iter().position(|h| h == name).unwrap()].parse::<f64>().unwrap();
        let got = |name: &str| row[column(name)].parse::<f64>().unwrap();
        assert!((got("score") - want("proba_1")).abs() <= 1e-6);
        for f in ["duration", "credit_amount", "checking_account", "purpose"] {
            assert!((got(&format!("contribution_{f}")) - want(&format!("shap_{f}"))).abs() <= 1e-6);
        }
    }
    // Every row went through the logged scoring path, pinned to the resolved version: the champion, so each
    // is a production decision.
    let log = server.get_json("/v1/models/credit/decisions?limit=100000");
    assert_eq!(log.as_array().unwrap().len(), 300);
    assert!(log.as_array().unwrap().iter().all(|d| d["route"] == "champion" && d["version"] == 1));
}

#[test]
fn bulk_scoring_refuses_a_bad_cell_naming_its_rows_and_field_and_logs_nothing_of_its_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_xgboost_credit(dir.path());
    let input = model_fixture("german_test_raw.csv");
    let output = dir.path().join("scored.csv");

    // Bad cells are refused each with its row (in the file) and field; nothing of that chunk is logged.
    let bad = dir.path().join("bad.csv");
    let text = std::fs::read_to_string(&input).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for (line, value) in [(5, "forty"), (9, "ten"), (200, "soon")] {
        let mut fields: Vec<String> = lines[line].split(',').map(str::to_owned).collect();
        fields[8] = value.into(); // duration
        lines[line] = fields.join(",");
    }
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let out = server.cli(&["score", "credit", "--input", bad.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("3 invalid rows (data rows, counting from 1), so this batch was not scored"), "{err}");
    for row in [5, 9, 200] {
        assert!(err.contains(&format!("\n  row {row}: duration: expected a number")), "{err}");
    }
    assert_eq!(server.get_json("/v1/models/credit/decisions?limit=100000").as_array().unwrap().len(), 0);
}

#[test]
fn alias_changes_under_load_drop_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    serve_linear_credit(&server, dir.path());
    let second = dir.path().join("second.json");
    std::fs::write(&second, r#"{"intercept": -1, "coefficients": {"duration": 0.03, "credit_amount": 0.0001}}"#)
        .unwrap();
    register(&server, &second, "linear-json", &[]);

    let (url, token) = (server.url.clone(), server.admin_token());
    let sender = std::thread::spawn(move || send_scores(&url, &token, 4000, "flip"));
    for version in ["2", "1", "2"] {
        std::thread::sleep(std::time::Duration::from_millis(150));
        promote(&server, version);
    }
    assert_eq!(sender.join().unwrap(), 4000, "every request answered while the champion changed");
    let log = logged(&server);
    assert_eq!(log.len(), 4000);
    let answered_by = |v: i64| log.iter().filter(|d| d["version"] == v).count();
    assert!(
        answered_by(1) > 0 && answered_by(2) > 0,
        "both versions answered: {} / {}",
        answered_by(1),
        answered_by(2)
    );
}

/// A multiclass classifier registered and served through the CLI: `warden score` writes each class's
/// probability as XGBoost computes it and the decided class, and the decision log keeps every probability
/// (600 rows in one batch: PostgreSQL writes such a group by COPY).
#[test]
fn a_multiclass_classifier_is_scored_in_bulk_and_its_probabilities_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    assert!(server.cli(&["model", "create", "card", "--owner", "cards", "--risk-tier", "medium"]).status.success());
    let reference = model_fixture("mc_test_encoded.csv");
    let classes = ["highstreet_card", "prepaid_card", "upmarket_card"];
    let mut args = vec!["model", "register", "card", "--artifact", "", "--format", "xgboost-json"];
    let artifact = model_fixture("xgb_mc.json");
    args[4] = artifact.to_str().unwrap();
    args.extend(["--reference", reference.to_str().unwrap(), "--target", "y_true"]);
    args.extend(["--task", "multiclass_classification"]);
    for class in &classes {
        args.extend(["--class", class]);
    }
    let out = server.cli(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = server.cli(&["promote", "card", "1", "--override", "--reason", "serving test"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The scored rows twice over, without their realized class.
    let text = std::fs::read_to_string(&reference).unwrap();
    let lines: Vec<&str> = text.lines().map(|l| l.rsplit_once(',').unwrap().0).collect();
    let mut input = format!("{}\n", lines[0]);
    for _ in 0..2 {
        lines[1..].iter().for_each(|l| input.push_str(&format!("{l}\n")));
    }
    let (input_path, output) = (dir.path().join("cards.csv"), dir.path().join("scored.csv"));
    std::fs::write(&input_path, input).unwrap();
    let out = server.cli(&[
        "score",
        "card",
        "--input",
        input_path.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--batch-rows",
        "600",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut scored = csv::Reader::from_path(&output).unwrap();
    let header = scored.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let mut expected = csv::Reader::from_path(model_fixture("mc_test_expected_xgb.csv")).unwrap();
    let expected_header = expected.headers().unwrap().clone();
    let expected: Vec<Vec<f64>> = expected
        .records()
        .map(|r| {
            let r = r.unwrap();
            classes
                .iter()
                .map(|c| r[expected_header.iter().position(|h| *h == format!("proba_{c}")).unwrap()].parse().unwrap())
                .collect()
        })
        .collect();
    let rows: Vec<_> = scored.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 600);
    let mut answered = std::collections::HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let want = &expected[i % 300];
        let got: Vec<f64> = classes.iter().map(|c| row[column(&format!("probability_{c}"))].parse().unwrap()).collect();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-6, "row {i}: {got:?} against XGBoost's {want:?}");
        }
        let best = (0..3).fold(0, |b, k| if want[k] > want[b] { k } else { b });
        assert_eq!(&row[column("decision")], classes[best], "row {i}");
        answered.insert(row[column("request_id")].to_owned(), got);
    }
    let log = server.get_json("/v1/models/card/decisions?limit=100000");
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 600);
    for decision in log {
        let logged: Vec<f64> = serde_json::from_value(decision["probabilities"].clone()).unwrap();
        assert_eq!(&logged, &answered[decision["request_id"].as_str().unwrap()], "{decision}");
    }
}
