//! Models served outside Warden, end to end: a vendor model registered with `--format external`, validated on
//! data carrying its scores, let in by the gate the external pipeline calls, and its decisions sent over HTTP
//! by the serving platform's scorer token.

use std::path::Path;

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
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    let now = serde_json::json!(warden_core::Timestamp::from_micros(micros).to_string());
    let records: Vec<serde_json::Value> = rows
        .iter()
        .take(50)
        .enumerate()
        .map(|(i, r)| {
            let mut record = r.clone();
            record["request_id"] = serde_json::json!(format!("k-{i}"));
            record["version"] = serde_json::json!(1);
            record["at"] = now.clone();
            record
        })
        .collect();
    let (status, body) = send_decisions(&server, &platform, "vendor", &records);
    assert_eq!((status, &body), (200, &serde_json::json!({"logged": 50, "duplicates": 0, "unapproved": 0})));
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

    let (status, body) = post(&server, &server.admin_token(), "/v1/monitors/evaluate", "");
    assert_eq!(status, 200, "{body}");
    let alerts = json_of(&server.cli(&["alerts", "--json"]));
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
