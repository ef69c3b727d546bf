//! `warden serve --demo`: a live example on a fresh data directory, driven through the public API exactly as
//! people and applications would drive it, so the dashboard shows the whole lifecycle within a minute.
//!
//! Timeline (seconds after start): the German credit data's logistic regression and XGBoost models are
//! registered with lineage, validated, approved by a validator and a risk officer, and promoted one after the
//! other (0–10); a business application scores applicants with outcomes arriving shortly after (from 5);
//! older applicants asking for larger loans start to arrive (`DRIFT_STARTS`); the drift monitor fires, an
//! incident opens and the champion is rolled back to the logistic regression automatically; the shift ends
//! (`DRIFT_ENDS`) and the alerts resolve.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::cli::Connection;
use crate::client::Client;

const GERMAN_CSV: &str = include_str!("../demo/german.csv");
const LOGISTIC: &[u8] = include_bytes!("../demo/lr_german_linear.json");
const XGBOOST: &[u8] = include_bytes!("../demo/xgb_german.json");
const XGBOOST_ENCODINGS: &str = include_str!("../demo/xgb_german_encodings.json");

/// The demo's model.
pub(crate) const MODEL: &str = "credit-approval";
/// When older applicants with larger loans start to arrive.
pub(crate) const DRIFT_STARTS: Duration = Duration::from_secs(40);
/// When they stop.
pub(crate) const DRIFT_ENDS: Duration = Duration::from_secs(160);
/// Scoring requests per second.
const REQUESTS_PER_SECOND: u64 = 40;
/// Marks a data directory the demo made (and may therefore start afresh).
const MARKER: &str = ".warden-demo";

/// The demo's people and application, with their roles.
const PEOPLE: [(&str, &str); 5] = [
    ("dana", "data-scientist"),
    ("vera", "validator"),
    ("rita", "risk-officer"),
    ("victor", "viewer"),
    ("loan-app", "scorer"),
];

/// Makes `dir` a fresh demo directory: a directory the demo made before is emptied; anything else that is
/// not empty is refused (the demo never deletes other data).
pub(crate) fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?.next().is_none();
        if !empty && !dir.join(MARKER).exists() {
            anyhow::bail!("{} holds data that the demo did not make; give the demo another --data-dir", dir.display());
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by `warden serve --demo`; the next demo start empties this directory\n")?;
    Ok(())
}

fn client(url: &str, token: &str) -> anyhow::Result<Client> {
    Client::new(&Connection {
        url: url.to_owned(),
        token: Some(token.to_owned()),
        data_dir: PathBuf::new(),
        ca_cert: None,
    })
}

fn say(message: &str) {
    let _ = writeln!(std::io::stdout(), "demo: {message}");
}

/// Runs the demo against the server at `url` until the process ends.
pub(crate) async fn run(url: String, data_dir: PathBuf) {
    if let Err(err) = script(&url, &data_dir).await {
        eprintln!("demo stopped: {err:#}");
    }
}

async fn script(url: &str, data_dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let admin_token = std::fs::read_to_string(data_dir.join("admin.token"))?.trim().to_owned();
    let admin = client(url, &admin_token)?;
    let mut tokens = vec![("admin".to_owned(), "admin".to_owned(), admin_token.clone())];
    for (name, role) in PEOPLE {
        let made: warden_api_types::CreatedTokenBody =
            admin.json_as(Method::POST, "/v1/tokens", &json!({"name": name, "role": role})).await?;
        let secret = made.secret;
        tokens.push((name.to_owned(), role.to_owned(), secret));
    }
    let token_file = data_dir.join("demo-tokens.txt");
    let listing: String = tokens.iter().map(|(n, r, s)| format!("{n:<9} {r:<15} {s}\n")).collect();
    write_private(&token_file, &listing)?;
    let token_of = |name: &str| tokens.iter().find(|t| t.0 == name).map(|t| t.2.clone()).expect("demo person");
    let (dana, vera, rita) =
        (client(url, &token_of("dana"))?, client(url, &token_of("vera"))?, client(url, &token_of("rita"))?);
    let app = client(url, &token_of("loan-app"))?;
    say(&format!("people and their tokens are in {} (log in to {url}/ui with any of them)", token_file.display()));

    admin
        .json(
            Method::POST,
            "/v1/models",
            &json!({"name": MODEL, "owner": "retail-credit-risk", "risk_tier": "medium",
                    "use_case": "consumer loan approval", "description": "Probability of default for consumer loan applications (German credit).",
                    "tags": ["retail", "demo"]}),
        )
        .await?;
    let reference_sha = sha256_hex(GERMAN_CSV.as_bytes());
    let logistic = register(&dana, "linear-json", LOGISTIC, json!({}), None, &reference_sha, "C=1.0, lbfgs").await?;
    say(&format!("registered version {logistic}: logistic regression"));
    let xgb_encodings: Value = serde_json::from_str(XGBOOST_ENCODINGS)?;
    let xgboost = register(
        &dana,
        "xgboost-json",
        XGBOOST,
        xgb_encodings,
        Some(logistic),
        &reference_sha,
        "max_depth=3, 50 trees",
    )
    .await?;
    say(&format!("registered version {xgboost}: XGBoost (parent {logistic})"));

    for version in [logistic, xgboost] {
        validate(&vera, version).await?;
        for (who, comment) in [(&vera, "model validation passed"), (&rita, "risk appetite: within limits")] {
            let path = format!("/v1/models/{MODEL}/versions/{version}/approvals");
            who.json(Method::POST, &path, &json!({"decision": "approve", "comment": comment})).await?;
        }
    }
    say("both versions validated and approved by vera (validator) and rita (risk officer)");
    promote(&dana, logistic, "first release").await?;
    say(&format!("version {logistic} is champion"));

    let drift = json!({"window_seconds": 30, "min_decisions": 100, "consecutive": 2, "action": "rollback"});
    rita.json(Method::PUT, &format!("/v1/models/{MODEL}/monitors/feature_drift"), &drift).await?;
    for monitor in ["score_drift", "data_quality", "fairness_sex"] {
        let path = format!("/v1/models/{MODEL}/monitors/{monitor}");
        let _ = rita.json(Method::PUT, &path, &json!({"window_seconds": 30, "min_decisions": 100})).await;
    }
    say("monitors watch the last 30 s of traffic; a critical feature drift rolls the champion back");

    let rows = Arc::new(applicants());
    tokio::spawn(traffic(app, rows, started));
    say(&format!("traffic: {REQUESTS_PER_SECOND} applications a second, outcomes a few seconds later"));

    tokio::time::sleep(Duration::from_secs(12).saturating_sub(started.elapsed())).await;
    promote(&dana, xgboost, "better discrimination on validation").await?;
    say(&format!(
        "version {xgboost} (XGBoost) promoted to champion; version {logistic} stays approved as the fallback"
    ));
    tokio::time::sleep(DRIFT_STARTS.saturating_sub(started.elapsed())).await;
    say("drift: older applicants asking for larger, longer loans start to arrive — watch Alerts & incidents");
    tokio::time::sleep(DRIFT_ENDS.saturating_sub(started.elapsed())).await;
    say("the shift is over: alerts resolve once the window is clean again");
    Ok(())
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())?;
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

async fn register(
    dana: &Client,
    format: &str,
    artifact: &'static [u8],
    encodings: Value,
    parent: Option<i64>,
    training_sha: &str,
    params: &str,
) -> anyhow::Result<i64> {
    let metadata = json!({
        "format": format, "target": "risk", "protected": ["sex"], "code_ref": "git:demo/credit-models@v1",
        "training_data_sha256": training_sha, "training_data_rows": 1000, "parent_version": parent,
        "hyperparameters": {"params": params}, "encodings": encodings, "unknown_category": "missing",
    });
    let form = Form::new()
        .part("metadata", Part::text(metadata.to_string()).mime_str("application/json")?)
        .part("artifact", Part::bytes(artifact).file_name("model.json"))
        .part("reference", Part::bytes(GERMAN_CSV.as_bytes()).file_name("german.csv"));
    let version: warden_api_types::VersionBody =
        dana.multipart_as(&format!("/v1/models/{MODEL}/versions"), form).await?;
    Ok(version.version)
}

async fn validate(vera: &Client, version: i64) -> anyhow::Result<()> {
    let scenarios = "[[scenario]]\nname = \"loans twice as large\"\nchanges = [\"credit_amount *= 2\"]\n\n\
                     [[scenario]]\nname = \"applicants ten years older\"\nchanges = [\"age += 10\"]\n";
    let form = Form::new()
        .part(
            "metadata",
            Part::text(json!({"target": "risk", "bad_value": "0", "protected": ["sex"]}).to_string())
                .mime_str("application/json")?,
        )
        .part("data", Part::bytes(GERMAN_CSV.as_bytes()).file_name("validation.csv"))
        .part("scenarios", Part::text(scenarios).file_name("stress.toml"));
    vera.multipart(&format!("/v1/models/{MODEL}/versions/{version}/validations"), form).await?;
    Ok(())
}

async fn promote(dana: &Client, version: i64, reason: &str) -> anyhow::Result<()> {
    dana.json(Method::POST, &format!("/v1/models/{MODEL}/versions/{version}/promote"), &json!({"reason": reason}))
        .await?;
    Ok(())
}

/// One applicant: the model's features and the outcome the data records (1 = bad credit).
struct Applicant {
    features: serde_json::Map<String, Value>,
    sex: String,
    bad: bool,
}

fn applicants() -> Vec<Applicant> {
    let mut reader = csv::Reader::from_reader(GERMAN_CSV.as_bytes());
    let header: Vec<String> = reader.headers().expect("demo data has a header").iter().map(str::to_owned).collect();
    reader
        .records()
        .map(|record| {
            let record = record.expect("demo data parses");
            let mut features = serde_json::Map::new();
            let (mut sex, mut bad) = (String::new(), false);
            for (name, cell) in header.iter().zip(record.iter()) {
                match name.as_str() {
                    "risk" => bad = cell == "0",
                    "sex" => sex = cell.to_owned(),
                    _ => {
                        let value = cell.parse::<f64>().map(|n| json!(n)).unwrap_or_else(|_| json!(cell));
                        features.insert(name.clone(), value);
                    }
                }
            }
            Applicant { features, sex, bad }
        })
        .collect()
}

/// Scores applicants at a steady rate, drifted between `DRIFT_STARTS` and `DRIFT_ENDS`, and reports each
/// outcome a few seconds after its decision.
async fn traffic(app: Client, rows: Arc<Vec<Applicant>>, started: Instant) {
    let mut ticker = tokio::time::interval(Duration::from_millis(1000 / REQUESTS_PER_SECOND));
    let mut pending: std::collections::VecDeque<(Instant, String, bool)> = Default::default();
    let mut sequence = 0u64;
    loop {
        ticker.tick().await;
        sequence += 1;
        let applicant = &rows[(sequence.wrapping_mul(7919) % rows.len() as u64) as usize];
        let drifting = (DRIFT_STARTS..DRIFT_ENDS).contains(&started.elapsed());
        let mut features = applicant.features.clone();
        if drifting {
            let shift = |features: &mut serde_json::Map<String, Value>, name: &str, f: &dyn Fn(f64) -> f64| {
                if let Some(v) = features.get(name).and_then(Value::as_f64) {
                    features.insert(name.into(), json!(f(v).round()));
                }
            };
            shift(&mut features, "age", &|a| a + 22.0);
            shift(&mut features, "credit_amount", &|c| c * 2.5);
            shift(&mut features, "duration", &|d| d + 18.0);
        }
        let request_id = format!("demo-{sequence}");
        let body = json!({"request_id": request_id, "features": features, "attributes": {"sex": applicant.sex}});
        match app.json(Method::POST, &format!("/v1/models/{MODEL}/score"), &body).await {
            Ok(_) => pending.push_back((
                Instant::now() + Duration::from_secs(3),
                request_id,
                applicant.bad || (drifting && sequence % 3 == 0),
            )),
            Err(err) => tracing::warn!(error = %err, "demo scoring request failed"),
        }
        let due: Vec<(Instant, String, bool)> = std::iter::from_fn(|| {
            if pending.front().is_some_and(|p| p.0 <= Instant::now()) { pending.pop_front() } else { None }
        })
        .collect();
        if !due.is_empty() {
            let outcomes: Vec<Value> =
                due.iter().map(|(_, id, bad)| json!({"request_id": id, "label": i64::from(*bad)})).collect();
            if let Err(err) = app.json(Method::POST, "/v1/outcomes", &json!({"outcomes": outcomes})).await {
                tracing::warn!(error = %err, "demo outcomes failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_data_parses_into_applicants_with_outcomes() {
        let rows = applicants();
        assert_eq!(rows.len(), 1000);
        assert_eq!(rows.iter().filter(|r| r.bad).count(), 300, "German credit has 300 bad loans");
        assert!(rows.iter().all(|r| r.features.len() == 8 && !r.sex.is_empty()));
    }

    #[test]
    fn only_a_demo_directory_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("demo");
        prepare_data_dir(&data).unwrap();
        std::fs::write(data.join("warden.db"), "x").unwrap();
        prepare_data_dir(&data).unwrap();
        assert!(!data.join("warden.db").exists(), "a demo directory starts afresh");
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("warden.db"), "x").unwrap();
        let err = prepare_data_dir(&other).unwrap_err().to_string();
        assert!(err.contains("did not make"), "{err}");
        assert!(other.join("warden.db").exists());
    }
}
