//! Models served outside Warden, end to end: a vendor model registered with `--format external`, validated on
//! data carrying its scores, let in by the gate the external pipeline calls, and its decisions sent over HTTP
//! by the serving platform's scorer token.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{self, *};

fn token(server: &Server, name: &str, role: &str) -> String {
    let out = server.cli(&["token", "create", "--name", name, "--role", role]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

/// The vendor's score of a German credit row: a scorecard the test knows (the platform reports its scores).
fn vendor_score(get: &dyn Fn(&str) -> String) -> f64 {
    let number = |name: &str| get(name).parse::<f64>().unwrap();
    let checking = match get("checking_account").as_str() {
        "little" => 1.2,
        "moderate" => 0.6,
        "not_known" => -1.0,
        _ => 0.0,
    };
    let savings = match get("saving_accounts").as_str() {
        "little" => 0.4,
        "moderate" => 0.2,
        "quite rich" => -0.3,
        _ => -0.5,
    };
    let z = -2.0 + 0.03 * number("duration") + 0.0001 * number("credit_amount") + checking + savings
        - 0.01 * (number("age") - 35.0);
    1.0 / (1.0 + (-z).exp())
}

/// The German credit data with the vendor's score of each row in `pd`.
fn scored_german(dir: &Path) -> (std::path::PathBuf, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(warden_testdata::path("datasets/german.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut out = format!("{},pd\n", header.join(","));
    let mut rows = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let get = |name: &str| cells[header.iter().position(|h| *h == name).unwrap()].to_owned();
        let score = vendor_score(&get);
        out.push_str(&format!("{line},{score}\n"));
        let mut features = serde_json::Map::new();
        for name in ["job", "credit_amount", "duration", "age"] {
            features.insert(name.into(), serde_json::json!(get(name).parse::<f64>().unwrap()));
        }
        for name in ["housing", "saving_accounts", "checking_account", "purpose"] {
            features.insert(name.into(), serde_json::json!(get(name)));
        }
        rows.push(serde_json::json!({"features": features, "attributes": {"sex": get("sex")}, "score": score}));
    }
    let path = dir.join("scored.csv");
    std::fs::write(&path, out).unwrap();
    (path, rows)
}

/// Posts NDJSON decision records; returns the status and the body.
fn send_decisions(
    server: &Server,
    token: &str,
    model: &str,
    records: &[serde_json::Value],
) -> (u16, serde_json::Value) {
    let body: String = records.iter().map(|r| format!("{r}\n")).collect();
    post(server, token, &format!("/v1/models/{model}/decisions"), &body)
}

fn post(server: &Server, token: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let response = support::http_client()
            .post(format!("{}{path}", server.url))
            .bearer_auth(token)
            .header("content-type", "application/x-ndjson")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    })
}

#[test]
fn a_vendor_model_goes_through_validation_and_the_gate_and_its_platform_sends_its_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let out = server.cli(&["model", "create", "vendor", "--owner", "retail-risk", "--risk-tier", "medium"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (dana, vera, rita) = (
        token(&server, "dana", "data-scientist"),
        token(&server, "vera", "validator"),
        token(&server, "rita", "risk-officer"),
    );
    let (scored, rows) = scored_german(dir.path());
    let scored = scored.to_str().unwrap();

    // Registration: the descriptor is made from the options; a wrong combination is refused before sending.
    let out =
        server.cli_as(Some(&dana), &["model", "register", "vendor", "--format", "external", "--reference", scored]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = server.cli_as(
        Some(&dana),
        &[
            "model",
            "register",
            "vendor",
            "--format",
            "linear-json",
            "--score-column",
            "pd",
            "--reference",
            scored,
            "--target",
            "risk",
        ],
    );
    assert!(stderr(&out).contains("use --format external"), "{}", stderr(&out));
    let register = [
        "model",
        "register",
        "vendor",
        "--format",
        "external",
        "--score-column",
        "pd",
        "--platform",
        "kserve",
        "--endpoint",
        "http://credit.kserve.internal/v1/models/credit",
        "--vendor",
        "Acme Scoring",
        "--reference",
        scored,
        "--target",
        "risk",
        "--protected",
        "sex",
        "--code-ref",
        "vendor:7.2",
        "--training-data",
        scored,
        "--json",
    ];
    let version = json_of(&server.cli_as(Some(&dana), &register));
    assert_eq!((version["version"].as_i64(), version["format"].as_str()), (Some(1), Some("external")), "{version}");
    let features: Vec<&str> =
        version["feature_schema"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(!features.contains(&"pd"), "the score column is not a feature: {features:?}");
    // A reference without the scores is refused, naming the column.
    let german = warden_testdata::path("datasets/german.csv");
    let mut missing = register.to_vec();
    let at = missing.iter().position(|a| *a == scored).unwrap();
    missing[at] = german.to_str().unwrap();
    let out = server.cli_as(Some(&dana), &missing);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("reference data has no column 'pd' (declared as the external model's score column)"),
        "{}",
        stderr(&out)
    );

    // The external pipeline asks the gate before switching: no validation yet, so no.
    let out = server.cli_as(Some(&dana), &["gate", "check", "vendor", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let out = server.cli_as(
        Some(&vera),
        &["validate", "vendor", "1", "--data", scored, "--target", "risk", "--bad-value", "0", "--json"],
    );
    let report = json_of(&out);
    let auc = report["figures"]["discrimination"]["auc"].as_f64().unwrap();
    assert!(auc > 0.5 && auc < 1.0, "{report}");
    for (who, comment) in [(&vera, "validated on data carrying its scores"), (&rita, "vendor model within appetite")] {
        let out = server.cli_as(Some(who), &["approve", "vendor", "1", "--comment", comment]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = server.cli_as(Some(&dana), &["gate", "check", "vendor", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = server.cli_as(Some(&dana), &["promote", "vendor", "1", "--reason", "vendor release 7.2"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The platform's identity sends what the model decided; version 2, registered but never let in, too.
    let platform = token(&server, "kserve-credit", "scorer");
    let now = now_at();
    let records: Vec<serde_json::Value> =
        rows.iter().take(50).enumerate().map(|(i, r)| vendor_decision(r, format!("k-{i}"), &now)).collect();
    let (status, body) = send_decisions(&server, &platform, "vendor", &records);
    assert_eq!((status, &body), (200, &serde_json::json!({"logged": 50, "duplicates": 0, "unapproved": 0})));
    // A batch large enough for PostgreSQL's bulk path (COPY) reads back exactly as sent: request ids with
    // quotes, a backslash, a comma and non-ASCII, features and attributes as JSON, scores to the last bit.
    let bulk: Vec<serde_json::Value> = rows
        .iter()
        .cycle()
        .take(1_200)
        .enumerate()
        .map(|(i, r)| {
            let mut record = vendor_decision(r, format!("b-\"{i}\",\\N ß€"), &now);
            record["score"] = serde_json::json!(r["score"].as_f64().unwrap() * (1.0 - 1e-9 * i as f64));
            record
        })
        .collect();
    let (status, body) = send_decisions(&server, &platform, "vendor", &bulk);
    assert_eq!((status, body["logged"].as_i64()), (200, Some(1_200)), "{body}");
    let log = server.get_json("/v1/models/vendor/decisions?limit=100000");
    let logged: std::collections::HashMap<&str, &serde_json::Value> =
        log.as_array().unwrap().iter().map(|d| (d["request_id"].as_str().unwrap(), d)).collect();
    for sent in &bulk {
        let got = logged[sent["request_id"].as_str().unwrap()];
        assert_eq!(got["score"].as_f64().unwrap().to_bits(), sent["score"].as_f64().unwrap().to_bits(), "{got}");
        assert_eq!((&got["features"], &got["attributes"]), (&sent["features"], &sent["attributes"]), "{got}");
        assert_eq!((got["source"].as_str(), got["route"].as_str()), (Some("http"), Some("champion")), "{got}");
    }
    let version = json_of(&server.cli_as(Some(&dana), &register));
    assert_eq!(version["version"], 2);
    let mut rogue = records[0].clone();
    rogue["request_id"] = serde_json::json!("k-rogue");
    rogue["version"] = serde_json::json!(2);
    let (status, body) = send_decisions(&server, &platform, "vendor", &[rogue]);
    assert_eq!((status, body["unapproved"].as_i64()), (200, Some(1)), "{body}");
    // A validator may not send decisions.
    let (status, _) = send_decisions(&server, &vera, "vendor", &records[..1]);
    assert_eq!(status, 403);
    // An alias change rebuilds the routes and unloads version 2 (loaded when its decision arrived): the
    // breach is raised for a version this process does not run.
    let out = server.cli_as(Some(&dana), &["alias", "set", "vendor", "staging", "1", "--reason", "retest"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let (status, body) = post(&server, &server.admin_token(), "/v1/monitors/evaluate", "");
    assert_eq!(status, 200, "{body}");
    // Fired by this round or by a scheduled one just before it (then this round's clean look may have begun
    // resolving it): every alert, whatever its state.
    let alerts = server.get_json("/v1/alerts");
    let breach = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["feature"] == "unapproved_version_serving")
        .unwrap_or_else(|| panic!("no unapproved_version_serving alert: {alerts}"));
    assert_eq!((breach["version"].as_i64(), breach["severity"].as_str()), (Some(2), Some("critical")), "{breach}");
    let log = server.get_json("/v1/models/vendor/decisions?request_id=k-rogue");
    assert_eq!((log[0]["route"].as_str(), log[0]["source"].as_str()), (Some("unapproved"), Some("http")), "{log}");
}

// Kafka: `warden serve --kafka-brokers … --kafka-topic TOPIC=MODEL` against librdkafka's mock cluster (a broker
// inside this test process, listening on 127.0.0.1), the records produced by the test.

type Cluster = rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>;

/// A mock cluster of one broker (id 1) with `topics` (name, partitions).
fn kafka_cluster(topics: &[(&str, i32)]) -> Cluster {
    let cluster = Cluster::new(1).expect("mock cluster");
    for (topic, partitions) in topics {
        cluster.create_topic(topic, *partitions, 1).expect("topic");
    }
    cluster
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// Produces (key, value) records, spread over the partitions by their keys' hash; waits for every
/// acknowledgement.
fn produce(brokers: &str, topic: &str, records: Vec<(String, Vec<u8>)>) {
    let n = records.len() as u64;
    let records = records.into_iter().map(|(key, value)| (Some(key.into_bytes()), value));
    assert_eq!(block_on(warden_stream::produce(brokers, topic, records)).expect("produce"), n);
}

/// Produces one record to `partition`; its offset.
fn produce_to(brokers: &str, topic: &str, partition: i32, value: &[u8]) -> i64 {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", brokers).set("acks", "all").create().unwrap();
    let record = FutureRecord::<(), [u8]>::to(topic).partition(partition).payload(value);
    let delivery = block_on(producer.send(record, Duration::from_secs(30))).map_err(|(e, _)| e).expect("delivered");
    assert_eq!(delivery.partition, partition);
    delivery.offset
}

/// The German credit data set's labels (1: bad credit, `risk` 0), in row order.
fn german_labels() -> Vec<i64> {
    let text = std::fs::read_to_string(warden_testdata::path("datasets/german.csv")).unwrap();
    let mut lines = text.lines();
    let at = lines.next().unwrap().split(',').position(|h| h == "risk").unwrap();
    lines.map(|line| i64::from(line.split(',').nth(at).unwrap() == "0")).collect()
}

/// Creates `model` (medium risk) with version 1 registered as served elsewhere (the vendor's scores of the
/// German credit data) and promoted to champion by an administrator's override; the rows its decision records
/// are made of.
fn promoted_vendor(server: &Server, dir: &Path, model: &str) -> Vec<serde_json::Value> {
    let out = server.cli(&["model", "create", model, "--owner", "retail-risk", "--risk-tier", "medium"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (scored, rows) = scored_german(dir);
    let scored = scored.to_str().unwrap();
    let register = ["model", "register", model, "--format", "external", "--score-column", "pd"];
    let out = server.cli(&[&register[..], &["--reference", scored, "--target", "risk", "--protected", "sex"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let out = server.cli(&["promote", model, "1", "--override", "--reason", "Kafka ingestion test"]);
    assert!(out.status.success(), "{}", stderr(&out));
    rows
}

/// The time now, as a decision record's `at`.
fn now_at() -> serde_json::Value {
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    serde_json::json!(warden_core::Timestamp::from_micros(micros).to_string())
}

/// A scored German credit row (`scored_german`) as a decision record of version 1 with `request_id`, decided `at`.
fn vendor_decision(row: &serde_json::Value, request_id: String, at: &serde_json::Value) -> serde_json::Value {
    let mut record = row.clone();
    record["request_id"] = serde_json::json!(request_id);
    record["version"] = serde_json::json!(1);
    record["at"] = at.clone();
    record
}

/// Decision records `from..to` of version 1, decided now: request id `{prefix}-{i}`, the features of German
/// credit row `i % 1000`.
fn vendor_decisions(rows: &[serde_json::Value], prefix: &str, from: usize, to: usize) -> Vec<serde_json::Value> {
    let now = now_at();
    (from..to).map(|i| vendor_decision(&rows[i % rows.len()], format!("{prefix}-{i}"), &now)).collect()
}

/// The same records as Kafka records: the request id (also the key) and the JSON.
fn decision_records(rows: &[serde_json::Value], prefix: &str, from: usize, to: usize) -> Vec<(String, Vec<u8>)> {
    vendor_decisions(rows, prefix, from, to)
        .into_iter()
        .map(|record| (record["request_id"].as_str().unwrap().to_owned(), record.to_string().into_bytes()))
        .collect()
}

/// The start of a Kafka test: a data directory whose model `vendor` has version 1 promoted (the server
/// stopped again), the rows its records are made of, and a mock cluster with `topics` (name, partitions).
fn vendor_and_cluster(dir: &Path, topics: &[(&str, i32)]) -> (std::path::PathBuf, Vec<serde_json::Value>, Cluster) {
    let data = dir.join("data");
    let server = Server::start(&data);
    let rows = promoted_vendor(&server, dir, "vendor");
    stop(server);
    (data, rows, kafka_cluster(topics))
}

/// The options that make a server consume `brokers`.
fn kafka_args<'a>(brokers: &'a str, options: &[&'a str]) -> Vec<&'a str> {
    [&["--kafka-brokers", brokers][..], options].concat()
}

/// Stops a server as its supervisor would (SIGTERM) and waits for it to exit.
fn stop(mut server: Server) {
    server.signal("TERM");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "warden serve exited with {status}");
}

/// Waits until `done` holds, looking every 100 ms; fails after `limit` naming `what` and showing `show()`.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool, show: impl Fn() -> String) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}: {}", show());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ingestion(server: &Server) -> serde_json::Value {
    server.get_json("/v1/ingestion")
}

/// The status of the consumer of `topic` by `group` in `GET /v1/ingestion`.
fn stream_of(ingestion: &serde_json::Value, group: &str, topic: &str) -> Option<serde_json::Value> {
    ingestion["streams"].as_array()?.iter().find(|s| s["group"] == group && s["topic"] == topic).cloned()
}

/// The positions `group` has stored for `topic` (next offsets, summed over the partitions it holds): the
/// records consumed.
fn consumed(server: &Server, group: &str, topic: &str) -> i64 {
    let Some(stream) = stream_of(&ingestion(server), group, topic) else { return 0 };
    stream["partitions"].as_array().unwrap().iter().map(|p| p["position"].as_i64().unwrap_or(0)).sum()
}

/// Waits until `group` has consumed `records` records of `topic`.
fn wait_consumed(server: &Server, group: &str, topic: &str, records: i64, limit: Duration) {
    wait_until(
        &format!("{records} records of '{topic}' consumed by group '{group}'"),
        limit,
        || consumed(server, group, topic) >= records,
        || format!("{:#}", ingestion(server)),
    );
    assert_eq!(consumed(server, group, topic), records, "{:#}", ingestion(server));
}

/// The request ids of the model's logged decisions; fails if one is logged twice.
fn logged_ids(server: &Server, model: &str) -> HashSet<String> {
    let log = server.get_json(&format!("/v1/models/{model}/decisions?limit=100000"));
    let ids: Vec<String> =
        log.as_array().unwrap().iter().map(|d| d["request_id"].as_str().unwrap().to_owned()).collect();
    let unique: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a request id is logged more than once");
    unique
}

fn metrics_text(server: &Server) -> String {
    block_on(async {
        let response = support::http_client()
            .get(format!("{}/metrics", server.url))
            .bearer_auth(server.admin_token())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "GET /metrics: {}", response.status());
        response.text().await.unwrap()
    })
}

/// The value of the series `name` with exactly `labels` in a Prometheus text exposition.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    wanted.sort();
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, rest) = series.split_once('{').unwrap_or((series, "}"));
        let mut got: Vec<String> =
            rest.strip_suffix('}')?.split(',').filter(|l| !l.is_empty()).map(str::to_owned).collect();
        got.sort();
        (series_name == name && got == wanted).then(|| value.parse().unwrap())
    })
}

/// `warden_ingested_decisions_total` of `model` from Kafka with `outcome` (0 when the series is absent).
fn ingested(text: &str, model: &str, outcome: &str) -> f64 {
    let labels = [("model", model), ("source", "kafka"), ("outcome", outcome)];
    metric(text, "warden_ingested_decisions_total", &labels).unwrap_or(0.0)
}

/// Dead letters read from `topic`, by (partition, offset), with their reasons.
fn dead_letters_of(ingestion: &serde_json::Value, topic: &str) -> BTreeMap<(i64, i64), serde_json::Value> {
    let letters = ingestion["recent_dead_letters"].as_array().unwrap();
    letters
        .iter()
        .filter(|d| d["topic"] == topic)
        .map(|d| ((d["partition"].as_i64().unwrap(), d["offset"].as_i64().unwrap()), d.clone()))
        .collect()
}

/// The newest evaluation of a monitor history (the scheduled rounds evaluate too, and may store theirs last).
fn newest(history: &serde_json::Value) -> Option<&serde_json::Value> {
    history.as_array()?.iter().max_by_key(|e| e["at"].as_i64())
}

fn admin_post(server: &Server, path: &str) -> serde_json::Value {
    let (status, body) = post(server, &server.admin_token(), path, "");
    assert_eq!(status, 200, "POST {path}: {body}");
    body
}

#[test]
fn kafka_decisions_are_logged_once_and_bad_records_kept_as_dead_letters_with_their_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let (data, rows, cluster) = vendor_and_cluster(dir.path(), &[("decisions", 4)]);
    let brokers = cluster.bootstrap_servers();
    // Good records before and after the bad ones in every partition: consumption goes on past them.
    produce(&brokers, "decisions", decision_records(&rows, "d", 0, 2_500));
    let mut refused: serde_json::Value =
        serde_json::from_slice(&decision_records(&rows, "refused", 0, 1)[0].1).unwrap();
    refused["features"]["duration"] = serde_json::json!("many");
    // Its reason quotes the category, NUL and all (which PostgreSQL's text cannot hold).
    refused["features"]["housing"] = serde_json::json!("own\u{0}");
    // Bytes that are not UTF-8, and a NUL.
    let bad: Vec<(i32, Vec<u8>)> = vec![
        (0, b"not json".to_vec()),
        (1, br#"{"request_id": "cut-short", "version": 1"#.to_vec()),
        (2, vec![0xff, 0xfe, 0x00, 0x01]),
        (3, refused.to_string().into_bytes()),
    ];
    let bad: BTreeMap<(i64, i64), Vec<u8>> = bad
        .into_iter()
        .map(|(partition, value)| ((i64::from(partition), produce_to(&brokers, "decisions", partition, &value)), value))
        .collect();
    produce(&brokers, "decisions", decision_records(&rows, "d", 2_500, 5_000));

    let started = Instant::now();
    let server = Server::start_with(&data, &kafka_args(&brokers, &["--kafka-topic", "decisions=vendor"]));
    wait_consumed(&server, "warden", "decisions", 5_004, Duration::from_secs(90));
    eprintln!("5,004 records consumed in {:?}", started.elapsed());

    // Every good record logged once, as Kafka-sourced decisions of the champion.
    let expected: HashSet<String> = (0..5_000).map(|i| format!("d-{i}")).collect();
    assert_eq!(logged_ids(&server, "vendor"), expected);
    let one = server.get_json("/v1/models/vendor/decisions?request_id=d-4999");
    assert_eq!((one[0]["source"].as_str(), one[0]["route"].as_str()), (Some("kafka"), Some("champion")), "{one}");

    // The bad ones are dead letters with where they were read and why.
    let status = ingestion(&server);
    assert_eq!(status["dead_letters"], 4, "{status:#}");
    let dead = dead_letters_of(&status, "decisions");
    assert_eq!(dead.keys().collect::<Vec<_>>(), bad.keys().collect::<Vec<_>>(), "{status:#}");
    for ((partition, offset), letter) in &dead {
        let reason = letter["reason"].as_str().unwrap();
        assert_eq!((letter["source"].as_str(), letter["model"].as_str()), (Some("kafka"), Some("vendor")), "{letter}");
        if *partition == 3 {
            assert!(reason.contains("duration") && reason.contains("category 'own\u{FFFD}'"), "{letter}");
            assert_eq!(letter["payload"].as_str().unwrap(), String::from_utf8_lossy(&bad[&(3, *offset)]), "{letter}");
        } else if *partition == 2 {
            assert_eq!(letter["payload"], "\u{FFFD}\u{FFFD}\u{FFFD}\u{1}", "{letter}");
            assert!(reason.starts_with("not a decision record"), "{letter}");
        } else {
            assert!(reason.starts_with("not a decision record"), "{letter}");
        }
    }
    let stream = stream_of(&status, "warden", "decisions").unwrap();
    assert_eq!(
        (&stream["model"], &stream["kind"], &stream["connected"]),
        (&"vendor".into(), &"decisions".into(), &true.into())
    );
    let partitions = stream["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 4, "{stream:#}");
    for p in partitions {
        // Records follow the bad one in each partition.
        let position = p["position"].as_i64().unwrap();
        let (_, offset) = bad.keys().find(|(partition, _)| Some(*partition) == p["partition"].as_i64()).unwrap();
        assert!(position > offset + 1, "{p}");
    }

    // /metrics: the lag reaches 0 (the high watermarks arrive with librdkafka's statistics), the counters.
    wait_until(
        "the lag of every partition to be 0 on /metrics",
        Duration::from_secs(30),
        || {
            let text = metrics_text(&server);
            (0..4).all(|p| {
                let partition = p.to_string();
                let labels = [("group", "warden"), ("topic", "decisions"), ("partition", partition.as_str())];
                metric(&text, "warden_stream_lag", &labels) == Some(0.0)
            })
        },
        || metrics_text(&server).lines().filter(|l| l.starts_with("warden_stream")).collect::<Vec<_>>().join("\n"),
    );
    let text = metrics_text(&server);
    assert_eq!(metric(&text, "warden_stream_connected", &[("group", "warden"), ("topic", "decisions")]), Some(1.0));
    let counts = ["logged", "duplicate", "unapproved", "dead"].map(|outcome| ingested(&text, "vendor", outcome));
    assert_eq!(counts, [5_000.0, 0.0, 0.0, 4.0]);
    let status = ingestion(&server);
    let stream = stream_of(&status, "warden", "decisions").unwrap();
    for p in stream["partitions"].as_array().unwrap() {
        assert_eq!((p["lag"].as_i64(), &p["position"]), (Some(0), &p["high_watermark"]), "{stream:#}");
    }

    // Once the model is retired, what its stream still carries is set aside as dead records naming the
    // retirement; the consumer goes on past them.
    let out = server.cli(&["model", "retire", "vendor", "--reason", "the vendor contract ended"]);
    assert!(out.status.success(), "{}", stderr(&out));
    produce(&brokers, "decisions", decision_records(&rows, "late", 0, 10));
    wait_consumed(&server, "warden", "decisions", 5_014, Duration::from_secs(60));
    assert_eq!(logged_ids(&server, "vendor").len(), 5_000, "nothing more logged");
    let status = ingestion(&server);
    assert_eq!(status["dead_letters"], 14, "{status:#}");
    let retired = dead_letters_of(&status, "decisions")
        .values()
        .filter(|l| l["reason"].as_str().unwrap().contains("was retired by token:admin"))
        .count();
    assert_eq!(retired, 10, "{status:#}");
    stop(server);
}

/// A producer's retries repeat records across the consumer's batches: on PostgreSQL two batches of a stream
/// are written at once, and two that share a request id would each wait for the other's row; the log writes
/// them one after the other, and every repeat is skipped (or set aside, when it lands in its original's
/// batch).
#[test]
fn kafka_records_repeated_across_batches_are_logged_once_without_stalling() {
    let dir = tempfile::tempdir().unwrap();
    // Four partitions: the mock cluster keeps 5 MiB of each (these 20,000 records are 6 MiB).
    let (data, rows, cluster) = vendor_and_cluster(dir.path(), &[("decisions", 4)]);
    let brokers = cluster.bootstrap_servers();
    // d-0 to d-9,999 (a batch of 10,000), then d-5,000 to d-9,999 again (each in its original's partition,
    // keyed by its request id) and on to d-14,999.
    produce(&brokers, "decisions", decision_records(&rows, "d", 0, 10_000));
    produce(&brokers, "decisions", decision_records(&rows, "d", 5_000, 15_000));
    let server = Server::start_with(&data, &kafka_args(&brokers, &["--kafka-topic", "decisions=vendor"]));
    wait_consumed(&server, "warden", "decisions", 20_000, Duration::from_secs(120));
    let expected: HashSet<String> = (0..15_000).map(|i| format!("d-{i}")).collect();
    let logged_ids = logged_ids(&server, "vendor");
    let mut missing: Vec<&String> = expected.difference(&logged_ids).collect();
    missing.sort();
    assert_eq!((logged_ids.len(), missing.len()), (15_000, 0), "missing {:?}", &missing[..missing.len().min(20)]);
    let text = metrics_text(&server);
    let [logged, duplicate, dead] = ["logged", "duplicate", "dead"].map(|outcome| ingested(&text, "vendor", outcome));
    assert_eq!((logged, duplicate + dead), (15_000.0, 5_000.0), "duplicates {duplicate}, dead {dead}");
    stop(server);
}

#[test]
fn kafka_outcomes_label_ingested_decisions_and_one_ahead_of_its_decision_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let (data, rows, cluster) = vendor_and_cluster(dir.path(), &[("decisions", 2), ("outcomes", 2)]);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "decisions", decision_records(&rows, "o", 0, 600));
    let options = ["--kafka-topic", "decisions=vendor", "--kafka-outcomes-topic", "outcomes=vendor"];
    let server = Server::start_with(&data, &kafka_args(&brokers, &options));
    wait_consumed(&server, "warden", "decisions", 600, Duration::from_secs(60));

    // The platform's labels of the first 500 decisions, one for a decision not logged yet, and two malformed.
    let labels = german_labels();
    let outcomes = (0..500)
        .map(|i| {
            let id = format!("o-{i}");
            let record = serde_json::json!({"request_id": id, "label": labels[i], "kind": "default"});
            (id, record.to_string().into_bytes())
        })
        .collect();
    produce(&brokers, "outcomes", outcomes);
    let early = serde_json::json!({"request_id": "o-600", "label": 1, "kind": "default"}).to_string();
    produce_to(&brokers, "outcomes", 0, early.as_bytes());
    let malformed = serde_json::json!({"request_id": "o-1", "label": 7, "kind": "default"}).to_string();
    let malformed_at = produce_to(&brokers, "outcomes", 1, malformed.as_bytes());
    let control = serde_json::json!({"request_id": "o-2\u{0}", "label": 1, "kind": "default"}).to_string();
    let control_at = produce_to(&brokers, "outcomes", 1, control.as_bytes());
    wait_consumed(&server, "warden", "outcomes", 503, Duration::from_secs(60));

    let status = ingestion(&server);
    let dead = dead_letters_of(&status, "outcomes");
    let keys = [(1, malformed_at), (1, control_at)];
    assert_eq!(dead.keys().copied().collect::<Vec<_>>(), keys, "{status:#}");
    let reason = |key| dead[&key]["reason"].as_str().unwrap().to_owned();
    assert!(reason((1, malformed_at)).contains("label: must be 0 or 1"), "{status:#}");
    assert!(reason((1, control_at)).contains("request_id: must be"), "{status:#}");
    assert!(dead.values().all(|d| d["source"] == "kafka" && d["model"] == "vendor"), "{status:#}");
    assert_eq!(status["dead_letters"], 2, "{status:#}");
    assert_eq!(status["pending_outcomes"], 1, "the outcome ahead of its decision waits: {status:#}");
    assert_eq!(stream_of(&status, "warden", "outcomes").unwrap()["kind"], "outcomes");
    assert_eq!(ingested(&metrics_text(&server), "vendor", "dead"), 2.0, "dead records on /metrics");

    // The performance monitor reads the labelled decisions: 500 of them, and its AUC is theirs.
    admin_post(&server, "/v1/monitors/evaluate");
    let history = server.get_json("/v1/models/vendor/monitors/history?monitor=performance");
    let latest = newest(&history).unwrap_or_else(|| panic!("no performance evaluation: {history}"));
    assert_eq!(latest["decisions"], 500, "{latest:#}");
    let bad: Vec<bool> = labels[..500].iter().map(|&l| l == 1).collect();
    let scores: Vec<f64> = rows[..500].iter().map(|r| r["score"].as_f64().unwrap()).collect();
    let auc = warden_stats::metrics::roc_auc(&bad, &scores).unwrap();
    let got = latest["value"].as_f64().unwrap_or_else(|| panic!("no AUC: {latest:#}"));
    assert!((got - auc).abs() < 1e-12, "AUC {got} on the labelled decisions, {auc} expected");

    // Its decision arrives: the next round records the waiting outcome, and the monitor reads 501.
    produce(&brokers, "decisions", decision_records(&rows, "o", 600, 601));
    wait_consumed(&server, "warden", "decisions", 601, Duration::from_secs(60));
    admin_post(&server, "/v1/monitors/evaluate");
    assert_eq!(ingestion(&server)["pending_outcomes"], 0);
    let history = server.get_json("/v1/models/vendor/monitors/history?monitor=performance");
    assert_eq!(newest(&history).unwrap()["decisions"], 501, "{history:#}");
    stop(server);

    // A new consumer group replays both topics from offset 0: no decision, outcome or dead record is added.
    let mut replay = options.to_vec();
    replay.extend(["--kafka-group", "replay"]);
    let server = Server::start_with(&data, &kafka_args(&brokers, &replay));
    wait_consumed(&server, "replay", "decisions", 601, Duration::from_secs(60));
    wait_consumed(&server, "replay", "outcomes", 503, Duration::from_secs(60));
    let status = ingestion(&server);
    assert_eq!(
        (&status["dead_letters"], &status["pending_outcomes"]),
        (&serde_json::json!(2), &serde_json::json!(0)),
        "{status:#}"
    );
    let text = metrics_text(&server);
    let counts = ["logged", "duplicate", "dead"].map(|outcome| ingested(&text, "vendor", outcome));
    assert_eq!(counts, [0.0, 601.0, 0.0]);
    admin_post(&server, "/v1/monitors/evaluate");
    let history = server.get_json("/v1/models/vendor/monitors/history?monitor=performance");
    let latest = newest(&history).unwrap_or_else(|| panic!("no performance evaluation: {history}"));
    assert_eq!(latest["decisions"], 501, "{latest:#}");
    stop(server);
}

#[test]
fn a_kafka_topic_that_does_not_exist_is_reported_and_the_others_are_consumed() {
    let dir = tempfile::tempdir().unwrap();
    let (data, rows, cluster) = vendor_and_cluster(dir.path(), &[("decisions", 2)]);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "decisions", decision_records(&rows, "m", 0, 300));

    let options = ["--kafka-topic", "decisions=vendor", "--kafka-outcomes-topic", "no-such-topic=vendor"];
    let server = Server::start_with(&data, &kafka_args(&brokers, &options));
    wait_consumed(&server, "warden", "decisions", 300, Duration::from_secs(60));
    assert_eq!(logged_ids(&server, "vendor").len(), 300);
    wait_until(
        "the missing topic's error",
        Duration::from_secs(30),
        || {
            let missing = stream_of(&ingestion(&server), "warden", "no-such-topic");
            missing.is_some_and(|s| s["last_error"].as_str().is_some_and(|e| e.contains("'no-such-topic'")))
        },
        || format!("{:#}", ingestion(&server)),
    );
    let status = ingestion(&server);
    let missing = stream_of(&status, "warden", "no-such-topic").unwrap();
    assert_eq!(missing["last_error"], "topic 'no-such-topic' does not exist", "{missing:#}");
    assert_eq!(missing["partitions"], serde_json::json!([]), "{missing:#}");
    let decisions = stream_of(&status, "warden", "decisions").unwrap();
    assert_eq!(decisions["connected"], true, "{decisions:#}");
    stop(server);
}

/// Runs `warden serve` with `options` on `data` (and the suite's database); its output once it exits (killed
/// after 60 s: a server that should have refused to start).
pub(crate) fn serve_exits(data: &Path, options: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(WARDEN);
    command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data).args(options);
    if on_postgres() {
        command.args(["--database", &database_for(data), "--ledger-key"]).arg(ledger_key_for(data));
    }
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("warden serve {options:?} is still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn bad_kafka_options_stop_the_server_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let out = server.cli(&["model", "create", "vendor", "--owner", "retail-risk", "--risk-tier", "medium"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stop(server);

    let cases: [(&[&str], i32, &str); 9] = [
        (&["--kafka-brokers", "127.0.0.1:9", "--kafka-topic", "nonsense"], 2, "'nonsense' is not TOPIC=MODEL"),
        (&["--kafka-brokers", "127.0.0.1:9", "--kafka-topic", "=vendor"], 2, "'=vendor' is not TOPIC=MODEL"),
        (&["--kafka-topic", "decisions=vendor"], 2, "--kafka-brokers"),
        (&["--kafka-brokers", "127.0.0.1:9"], 1, "--kafka-brokers needs at least one --kafka-topic"),
        (
            &["--kafka-brokers", "127.0.0.1:9", "--kafka-topic", "decisions=nomodel"],
            1,
            "--kafka-topic names model 'nomodel', which does not exist",
        ),
        (
            &["--kafka-brokers", "127.0.0.1:9", "--kafka-outcomes-topic", "outcomes=nomodel"],
            1,
            "--kafka-outcomes-topic names model 'nomodel', which does not exist",
        ),
        (
            &["--kafka-brokers", "kafka.internal", "--kafka-topic", "decisions=vendor"],
            1,
            "broker 'kafka.internal' is not HOST:PORT",
        ),
        (
            &["--kafka-brokers", "127.0.0.1:9", "--kafka-topic", "decisions=vendor", "--kafka-property", "acks"],
            2,
            "'acks' is not KEY=VALUE",
        ),
        (
            &["--kafka-brokers", "127.0.0.1:9", "--kafka-topic", "decisions=vendor", "--kafka-property", "group.id=x"],
            1,
            "property 'group.id' is set by the consumer itself",
        ),
    ];
    for (options, code, message) in cases {
        let out = serve_exits(&data, options);
        assert_eq!(out.status.code(), Some(code), "{options:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{options:?}: {}", stderr(&out));
        assert!(!stdout(&out).contains("warden listening"), "{options:?} announced it listens: {}", stdout(&out));
    }
}

#[test]
fn a_kafka_broker_outage_is_reported_and_alerted_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, rows, cluster) = vendor_and_cluster(dir.path(), &[("decisions", 2)]);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "decisions", decision_records(&rows, "b", 0, 1_000));
    let server = Server::start_with(&data, &kafka_args(&brokers, &["--kafka-topic", "decisions=vendor"]));
    wait_consumed(&server, "warden", "decisions", 1_000, Duration::from_secs(60));
    let connected = |server: &Server| {
        metric(&metrics_text(server), "warden_stream_connected", &[("group", "warden"), ("topic", "decisions")])
    };
    assert_eq!(connected(&server), Some(1.0));

    cluster.broker_down(1).unwrap();
    wait_until(
        "the outage to show in /v1/ingestion",
        Duration::from_secs(60),
        || stream_of(&ingestion(&server), "warden", "decisions").is_some_and(|s| s["connected"] == false),
        || format!("{:#}", ingestion(&server)),
    );
    let status = ingestion(&server);
    let stream = stream_of(&status, "warden", "decisions").unwrap();
    assert!(stream["last_error"].is_string(), "{stream:#}");
    assert_eq!(connected(&server), Some(0.0));
    // The integrity monitor raises it: a critical alert on the model, feature `stream_lag`.
    admin_post(&server, "/v1/monitors/evaluate");
    let alerts = server.get_json("/v1/alerts?state=firing");
    let alert = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["feature"] == "stream_lag")
        .unwrap_or_else(|| panic!("no stream_lag alert: {alerts:#}"));
    let what = (alert["model"].as_str(), alert["monitor"].as_str(), alert["severity"].as_str());
    assert_eq!(what, (Some("vendor"), Some("integrity"), Some("critical")), "{alert:#}");

    // A producer started during the outage waits for the broker; once it is back, its records and the rest are
    // consumed, each once.
    let producer = std::thread::spawn({
        let (brokers, records) = (brokers.clone(), decision_records(&rows, "b", 1_000, 2_000));
        move || produce(&brokers, "decisions", records)
    });
    cluster.broker_up(1).unwrap();
    producer.join().unwrap();
    wait_consumed(&server, "warden", "decisions", 2_000, Duration::from_secs(90));
    let expected: HashSet<String> = (0..2_000).map(|i| format!("b-{i}")).collect();
    assert_eq!(logged_ids(&server, "vendor"), expected);
    let text = metrics_text(&server);
    let counts = ["logged", "duplicate", "dead"].map(|outcome| ingested(&text, "vendor", outcome));
    assert_eq!(counts, [2_000.0, 0.0, 0.0]);
    wait_until(
        "the stream to show connected again",
        Duration::from_secs(30),
        || connected(&server) == Some(1.0),
        || format!("{:#}", ingestion(&server)),
    );
    let status = ingestion(&server);
    assert_eq!(stream_of(&status, "warden", "decisions").unwrap()["connected"], true);
    // The next round finds the stream healthy again.
    admin_post(&server, "/v1/monitors/evaluate");
    let history = server.get_json("/v1/models/vendor/monitors/history?monitor=integrity");
    let latest = newest(&history).unwrap();
    assert_eq!(latest["details"]["features"]["stream_lag"]["status"], "ok", "{latest:#}");
    stop(server);
}

mod slow {
    use super::*;

    /// Partitions of `topic` this replica holds (as `GET /v1/ingestion` shows them).
    fn held(server: &Server, topic: &str) -> usize {
        stream_of(&ingestion(server), "warden", topic).map_or(0, |s| s["partitions"].as_array().unwrap().len())
    }

    #[test]
    fn two_replicas_share_a_topic_and_when_one_is_killed_the_other_loses_and_repeats_nothing() {
        let _heavy = crate::support::heavy();
        let dir = tempfile::tempdir().unwrap();
        let (data, rows, cluster) = vendor_and_cluster(dir.path(), &[("decisions", 4)]);
        let brokers = cluster.bootstrap_servers();
        // One database (the same data directory), one consumer group; a short session so that the survivor
        // takes the dead member's partitions within seconds.
        let options = [
            "--kafka-topic",
            "decisions=vendor",
            "--kafka-property",
            "session.timeout.ms=6000",
            "--kafka-property",
            "heartbeat.interval.ms=500",
        ];
        let a = Server::start_with(&data, &kafka_args(&brokers, &options));
        let mut b = Server::start_with(&data, &kafka_args(&brokers, &options));
        let show = || format!("a: {:#}\nb: {:#}", ingestion(&a), ingestion(&b));
        wait_until(
            "each replica to hold two partitions",
            Duration::from_secs(60),
            || held(&a, "decisions") == 2 && held(&b, "decisions") == 2,
            show,
        );
        produce(&brokers, "decisions", decision_records(&rows, "k", 0, 20_000));
        wait_until("b to store records", Duration::from_secs(60), || consumed(&b, "warden", "decisions") > 0, show);
        b.signal("KILL");
        b.child.wait().unwrap();

        // The survivor takes b's partitions at b's stored positions and finishes the topic.
        wait_consumed(&a, "warden", "decisions", 20_000, Duration::from_secs(180));
        assert_eq!(held(&a, "decisions"), 4);
        let expected: HashSet<String> = (0..20_000).map(|i| format!("k-{i}")).collect();
        assert_eq!(logged_ids(&a, "vendor"), expected);
        assert_eq!(ingested(&metrics_text(&a), "vendor", "duplicate"), 0.0, "no record was handed on twice");
        stop(a);
    }

    #[test]
    fn kafka_ingestion_survives_kill_9_and_a_new_group_replays_without_adding_decisions() {
        let _heavy = crate::support::heavy();
        let dir = tempfile::tempdir().unwrap();
        let (data, rows, cluster) = vendor_and_cluster(dir.path(), &[("decisions", 4)]);
        let brokers = cluster.bootstrap_servers();
        let options = ["--kafka-topic", "decisions=vendor"];

        // Records arrive 500 at a time while the server consumes, so that however fast the machine, the
        // SIGKILL that follows the first stored batch lands with records still to come.
        let mut server = Server::start_with(&data, &kafka_args(&brokers, &options));
        let killed = std::sync::atomic::AtomicBool::new(false);
        let (before, produced) = std::thread::scope(|scope| {
            let producer = scope.spawn(|| {
                let mut produced = 0;
                while produced < 20_000 && !killed.load(std::sync::atomic::Ordering::SeqCst) {
                    produce(&brokers, "decisions", decision_records(&rows, "k", produced, produced + 500));
                    produced += 500;
                    std::thread::sleep(Duration::from_millis(100));
                }
                produced
            });
            let start = Instant::now();
            let before = loop {
                let logged = ingested(&metrics_text(&server), "vendor", "logged");
                if logged > 0.0 {
                    break logged;
                }
                assert!(start.elapsed() < Duration::from_secs(60), "nothing was consumed in 60 s");
                std::thread::sleep(Duration::from_millis(10));
            };
            server.signal("KILL");
            killed.store(true, std::sync::atomic::Ordering::SeqCst);
            (before, producer.join().unwrap())
        });
        let status = server.child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{status}");
        assert!(before < produced as f64, "the server was killed after consuming everything ({before} of {produced})");
        // Records keep arriving while it is down.
        produce(&brokers, "decisions", decision_records(&rows, "k", produced, 22_000));

        // The same data directory and options: it goes on from the positions stored with the decisions (the
        // group first waits for the killed member's session to time out).
        let started = Instant::now();
        let server = Server::start_with(&data, &kafka_args(&brokers, &options));
        wait_consumed(&server, "warden", "decisions", 22_000, Duration::from_secs(240));
        eprintln!("consumption resumed and finished {:?} after the restart", started.elapsed());
        let expected: HashSet<String> = (0..22_000).map(|i| format!("k-{i}")).collect();
        assert_eq!(logged_ids(&server, "vendor"), expected);
        let text = metrics_text(&server);
        assert_eq!(ingested(&text, "vendor", "duplicate"), 0.0, "no record was handed on twice");
        let after = ingested(&text, "vendor", "logged");
        assert!(after > 0.0 && after <= 22_000.0 - before, "{before} logged before the kill, {after} after");
        stop(server);

        // A new consumer group has no positions: it reads the topic from offset 0 and adds nothing.
        let mut replay = options.to_vec();
        replay.extend(["--kafka-group", "other"]);
        let server = Server::start_with(&data, &kafka_args(&brokers, &replay));
        wait_consumed(&server, "other", "decisions", 22_000, Duration::from_secs(120));
        assert_eq!(logged_ids(&server, "vendor"), expected);
        let text = metrics_text(&server);
        let counts = ["logged", "duplicate", "dead"].map(|outcome| ingested(&text, "vendor", outcome));
        assert_eq!(counts, [0.0, 22_000.0, 0.0]);
        stop(server);
    }
}

/// Decisions three hours old, consumed from a topic, then `kill -9` before any monitor round: after the
/// restart the round still stores the revised evaluations of their hour, since the hour was noted with them.
#[test]
fn a_late_decisions_hour_is_revised_after_a_kill_before_the_round() {
    let dir = tempfile::tempdir().unwrap();
    let (data, rows, cluster) = vendor_and_cluster(dir.path(), &[("decisions", 1)]);
    let brokers = cluster.bootstrap_servers();
    let hour = 3_600_000_000i64;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    let decided = warden_core::Timestamp::from_micros(now - 3 * hour).to_string();
    let late: Vec<(String, Vec<u8>)> = decision_records(&rows, "late", 0, 300)
        .into_iter()
        .map(|(id, bytes)| {
            let mut record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            record["at"] = serde_json::json!(decided);
            (id, record.to_string().into_bytes())
        })
        .collect();
    // No scheduled round but the one at start, before anything is consumed.
    let options = ["--kafka-topic", "decisions=vendor", "--monitor-interval-seconds", "3600"];
    let mut server = Server::start_with(&data, &kafka_args(&brokers, &options));
    std::thread::sleep(Duration::from_secs(1));
    produce(&brokers, "decisions", late);
    wait_consumed(&server, "warden", "decisions", 300, Duration::from_secs(60));
    let before = server.get_json("/v1/models/vendor/monitors/history?limit=1000");
    let revised_before = before.as_array().unwrap().iter().filter(|e| !e["details"]["late_revision"].is_null()).count();
    assert_eq!(revised_before, 0, "no round may have revised the hour before the kill: {before:#}");
    server.signal("KILL");
    let _ = server.child.wait();

    let server = Server::start(&data);
    admin_post(&server, "/v1/monitors/evaluate");
    let history = server.get_json("/v1/models/vendor/monitors/history?limit=1000");
    let revised: Vec<&serde_json::Value> =
        history.as_array().unwrap().iter().filter(|e| !e["details"]["late_revision"].is_null()).collect();
    assert!(!revised.is_empty(), "no revision after the restart: {history:#}");
    let start = (now - 3 * hour).div_euclid(hour) * hour;
    for e in &revised {
        assert_eq!((e["window_start"].as_i64(), e["decisions"].as_u64()), (Some(start), Some(300)), "{e:#}");
    }
    // Revised once: a second round has nothing left to revise.
    admin_post(&server, "/v1/monitors/evaluate");
    let again = server.get_json("/v1/models/vendor/monitors/history?limit=1000");
    let count = again.as_array().unwrap().iter().filter(|e| !e["details"]["late_revision"].is_null()).count();
    assert_eq!(count, revised.len());
    stop(server);
}

/// PostgreSQL going away under ingestion (stopped at once, as when its machine is lost): a batch sent
/// meanwhile is refused with 503 and nothing of it is kept, readiness says the store is gone, and the server
/// recovers by itself when the database is back; every decision acknowledged before is in the log, and the
/// refused batch sent again lands whole.
#[test]
fn decisions_sent_while_the_database_is_gone_are_refused_with_503_and_land_whole_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let postgres = support::OwnPostgres::start("lost-database");
    let database = postgres.database("warden");
    let data = dir.path().join("data");
    let key = support::ledger_key_for(&data);
    let server = Server::start_with(&data, &["--database", &database, "--ledger-key", key.to_str().unwrap()]);
    let rows = promoted_vendor(&server, dir.path(), "vendor");
    let platform = token(&server, "platform", "scorer");
    // 600 rows a batch: the bulk path (COPY) on PostgreSQL.
    let batch = |prefix: &str| vendor_decisions(&rows, prefix, 0, 600);
    let (status, body) = send_decisions(&server, &platform, "vendor", &batch("a"));
    assert_eq!((status, body["logged"].as_i64()), (200, Some(600)), "{body}");

    postgres.stop();
    let (status, body) = send_decisions(&server, &platform, "vendor", &batch("b"));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let readiness = || format!("/readyz answers {}", server.ready());
    wait_until("readiness to report the database gone", Duration::from_secs(30), || server.ready() == 503, readiness);

    postgres.start_again();
    wait_until("readiness again", Duration::from_secs(60), || server.ready() == 200, readiness);
    let (status, body) = send_decisions(&server, &platform, "vendor", &batch("b"));
    assert_eq!(
        (status, &body),
        (200, &serde_json::json!({"logged": 600, "duplicates": 0, "unapproved": 0})),
        "nothing of the refused batch was kept"
    );
    let ids = logged_ids(&server, "vendor");
    assert_eq!(ids.len(), 1_200);
    assert!(ids.contains("a-0") && ids.contains("b-599"), "both batches whole");
}
