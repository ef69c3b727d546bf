//! `warden serve --demo`: a live example on a fresh data directory, driven through the public API exactly as
//! people and applications would drive it, so the dashboard shows a small bank's model portfolio within a
//! minute.
//!
//! The portfolio (seconds 0–10): four models of different tiers and kinds, each registered with lineage and
//! validated on data held out from its training data:
//! - `credit-approval` (medium risk, retail credit PD, German credit): a logistic regression and an XGBoost
//!   model (pre-trained, shipped in `demo/`), approved by a validator and a risk officer and promoted one
//!   after the other; it is the model that drifts.
//! - `card-fraud` (high risk, card payments): a logistic regression trained at start on **synthetic**
//!   transactions generated from a fixed seed (no public fraud data set is in the repository); approved by two
//!   validators and a risk officer and promoted; outcomes carry the transaction amount, so its money-at-risk
//!   monitor reports the share of fraud value let through. It stays healthy.
//! - `collections-priority` (low risk, UCI credit-card clients): a logistic regression trained at start;
//!   promoted by an administrator's override of the gate, with its reason, before any sign-off.
//! - `card-limit-review` (medium risk, same data): gradient-boosted trees trained at start; validated and
//!   awaiting approval.
//!
//! Then applications score traffic with outcomes arriving shortly after (from about 5 s); at `DRIFT_STARTS`
//! older applicants asking for larger loans start to arrive at `credit-approval`; its drift monitor fires, an
//! incident opens and the champion is rolled back to the logistic regression automatically; the shift ends
//! (`DRIFT_ENDS`) and the alerts resolve. The monitors are set so that the stable phase raises no alert.

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Map, Value, json};

use crate::cli::Connection;
use crate::client::Client;

const GERMAN_TRAIN: &str = include_str!("../demo/german_train.csv");
const GERMAN_HOLDOUT: &str = include_str!("../demo/german_holdout.csv");
const UCI_CREDIT_CARD: &str = include_str!("../demo/uci_credit_card.csv");
const LOGISTIC: &[u8] = include_bytes!("../demo/lr_german_linear.json");
const XGBOOST: &[u8] = include_bytes!("../demo/xgb_german.json");
const XGBOOST_ENCODINGS: &str = include_str!("../demo/xgb_german_encodings.json");

/// The model that drifts.
pub(crate) const MODEL: &str = "credit-approval";
/// The card-fraud model (synthetic data).
pub(crate) const FRAUD: &str = "card-fraud";
/// The collections model, promoted by override.
pub(crate) const COLLECTIONS: &str = "collections-priority";
/// The credit-line review model, awaiting approval.
pub(crate) const LIMIT_REVIEW: &str = "card-limit-review";
/// When older applicants with larger loans start to arrive.
pub(crate) const DRIFT_STARTS: Duration = Duration::from_secs(75);
/// When they stop.
pub(crate) const DRIFT_ENDS: Duration = Duration::from_secs(195);
/// When XGBoost replaces the logistic regression as `credit-approval`'s champion.
const CHALLENGER_PROMOTED: Duration = Duration::from_secs(12);
/// Requests per second, per application.
const LOAN_REQUESTS_PER_SECOND: u64 = 40;
const CARD_REQUESTS_PER_SECOND: u64 = 50;
const COLLECTIONS_REQUESTS_PER_SECOND: u64 = 25;
/// Seeds of the synthetic card transactions: training, holdout, live traffic.
const FRAUD_SEEDS: [u64; 3] = [20_261_205, 20_261_206, 20_261_207];
/// Synthetic transactions generated to train the fraud model, and to validate it.
const FRAUD_TRAINING_ROWS: usize = 6_000;
const FRAUD_HOLDOUT_ROWS: usize = 3_000;
/// `card-fraud` blocks a payment at this probability of fraud or above (about 5% of payments).
const FRAUD_THRESHOLD: f64 = 0.1;
/// Marks a data directory the demo made (and may therefore start afresh).
const MARKER: &str = ".warden-demo";

/// The demo's people and applications, with their roles.
const PEOPLE: [(&str, &str); 8] = [
    ("dana", "data-scientist"),
    ("vera", "validator"),
    ("omar", "validator"),
    ("rita", "risk-officer"),
    ("victor", "viewer"),
    ("loan-app", "scorer"),
    ("card-switch", "scorer"),
    ("collections-app", "scorer"),
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

/// The demo's people, as API clients.
struct People {
    admin: Client,
    dana: Client,
    vera: Client,
    omar: Client,
    rita: Client,
}

async fn script(url: &str, data_dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let admin_token = std::fs::read_to_string(data_dir.join("admin.token"))?.trim().to_owned();
    let admin = client(url, &admin_token)?;
    let mut tokens = vec![("admin".to_owned(), "admin".to_owned(), admin_token.clone())];
    for (name, role) in PEOPLE {
        let made: warden_api_types::CreatedTokenBody =
            admin.json_as(Method::POST, "/v1/tokens", &json!({"name": name, "role": role})).await?;
        tokens.push((name.to_owned(), role.to_owned(), made.secret));
    }
    let token_of = |name: &str| tokens.iter().find(|t| t.0 == name).map(|t| t.2.clone()).expect("demo person");
    let people = People {
        admin,
        dana: client(url, &token_of("dana"))?,
        vera: client(url, &token_of("vera"))?,
        omar: client(url, &token_of("omar"))?,
        rita: client(url, &token_of("rita"))?,
    };
    let apps = [
        client(url, &token_of("loan-app"))?,
        client(url, &token_of("card-switch"))?,
        client(url, &token_of("collections-app"))?,
    ];
    let token_file = data_dir.join("demo-tokens.txt");
    let listing: String = tokens.iter().map(|(n, r, s)| format!("{n:<15} {r:<15} {s}\n")).collect();
    // Written once every model is in place, so that a reader of the file finds the whole portfolio.
    let [loan_app, card_switch, collections_app] = apps;

    let credit = credit_approval(&people).await?;
    tokio::spawn(traffic(loan_app, Box::new(LoanApplications::new()), LOAN_REQUESTS_PER_SECOND, MODEL, started));
    card_fraud(&people).await?;
    tokio::spawn(traffic(card_switch, Box::new(CardPayments::new()), CARD_REQUESTS_PER_SECOND, FRAUD, started));
    let uci = UciCredit::parse(UCI_CREDIT_CARD)?;
    collections(&people, &uci).await?;
    tokio::spawn(traffic(
        collections_app,
        Box::new(CollectionsAccounts::new(&uci)),
        COLLECTIONS_REQUESTS_PER_SECOND,
        COLLECTIONS,
        started,
    ));
    limit_review(&people, &uci).await?;
    write_private(&token_file, &listing)?;
    say(&format!("people and their tokens are in {} (log in to {url}/ui with any of them)", token_file.display()));
    say(&format!(
        "traffic: {LOAN_REQUESTS_PER_SECOND} loan applications, {CARD_REQUESTS_PER_SECOND} card payments and \
         {COLLECTIONS_REQUESTS_PER_SECOND} collections accounts a second, outcomes a few seconds later"
    ));

    tokio::time::sleep(CHALLENGER_PROMOTED.saturating_sub(started.elapsed())).await;
    promote(&people.dana, MODEL, credit.xgboost, "better discrimination on the holdout").await?;
    say(&format!(
        "{MODEL} version {} (XGBoost) promoted to champion; version {} stays approved as the fallback",
        credit.xgboost, credit.logistic
    ));
    tokio::time::sleep(DRIFT_STARTS.saturating_sub(started.elapsed())).await;
    say("drift: older applicants asking for larger, longer loans start to arrive — watch Alerts & incidents");
    tokio::time::sleep(DRIFT_ENDS.saturating_sub(started.elapsed())).await;
    say("the shift is over: alerts resolve once the window is clean again");
    Ok(())
}

/// `credit-approval`'s versions.
struct CreditVersions {
    logistic: i64,
    xgboost: i64,
}

async fn credit_approval(p: &People) -> anyhow::Result<CreditVersions> {
    create_model(
        &p.admin,
        json!({"name": MODEL, "owner": "retail-credit-risk", "risk_tier": "medium", "use_case": "consumer loan approval",
               "description": "Probability of default for consumer loan applications (UCI Statlog German credit, 700 \
                               applicants to train, 300 held out to validate).",
               "tags": ["retail", "credit", "demo"]}),
    )
    .await?;
    let training = Lineage::of(GERMAN_TRAIN, "git:demo/credit-models@v1");
    let base = json!({"target": "risk", "protected": ["sex"], "unknown_category": "missing"});
    let logistic = register(
        &p.dana,
        MODEL,
        with(&base, json!({"format": "linear-json", "hyperparameters": {"C": 1.0, "solver": "lbfgs"}})),
        LOGISTIC.to_vec(),
        GERMAN_TRAIN,
        &training,
    )
    .await?;
    let xgboost = register(
        &p.dana,
        MODEL,
        with(
            &base,
            json!({"format": "xgboost-json", "hyperparameters": {"max_depth": 3, "n_estimators": 50},
                   "encodings": serde_json::from_str::<Value>(XGBOOST_ENCODINGS)?, "parent_version": logistic}),
        ),
        XGBOOST.to_vec(),
        GERMAN_TRAIN,
        &training,
    )
    .await?;
    let scenarios = "[[scenario]]\nname = \"loans twice as large\"\nchanges = [\"credit_amount *= 2\"]\n\n\
                     [[scenario]]\nname = \"applicants ten years older\"\nchanges = [\"age += 10\"]\n";
    for version in [logistic, xgboost] {
        validate(
            &p.vera,
            MODEL,
            version,
            GERMAN_HOLDOUT,
            json!({"target": "risk", "bad_value": "0", "protected": ["sex"]}),
            Some(scenarios),
        )
        .await?;
        approve(
            &[(&p.vera, "model validation passed on the holdout"), (&p.rita, "risk appetite: within limits")],
            MODEL,
            version,
        )
        .await?;
    }
    promote(&p.dana, MODEL, logistic, "first release").await?;
    say(&format!(
        "{MODEL}: versions {logistic} (logistic regression) and {xgboost} (XGBoost) validated on 300 held-out applicants and approved; version {logistic} is champion"
    ));
    // The drift monitor acts on two critical evaluations in a row; every monitor waits for a whole pass over
    // the applicants (1,000 decisions) in its window before it judges, so that sampling noise on a partial
    // window is not read as drift.
    let window = json!({"window_seconds": 30, "min_decisions": 1000});
    set_monitor(&p.rita, MODEL, "feature_drift", with(&window, json!({"consecutive": 2, "action": "rollback"})))
        .await?;
    for monitor in ["score_drift", "data_quality"] {
        set_monitor(&p.rita, MODEL, monitor, window.clone()).await?;
    }
    // Fairness over a minute of decisions (at least 1,500, some 460 from women), at the tier's bands.
    set_monitor(&p.rita, MODEL, "fairness_sex", json!({"window_seconds": 60, "min_decisions": 1500})).await?;
    // The AUC of the newest 1,000 labelled decisions (one pass), not of the first few hundred.
    set_monitor(&p.rita, MODEL, "performance", json!({"min_decisions": 1000})).await?;
    Ok(CreditVersions { logistic, xgboost })
}

async fn card_fraud(p: &People) -> anyhow::Result<i64> {
    create_model(
        &p.admin,
        json!({"name": FRAUD, "owner": "payments-fraud", "risk_tier": "high", "use_case": "card payment fraud screening",
               "description": "Probability that a card payment is fraudulent; payments at 0.1 or above are blocked. \
                               Trained and validated on SYNTHETIC transactions generated from a fixed seed (no public \
                               card-fraud data set is available to the demo); outcomes carry the payment amount.",
               "tags": ["payments", "fraud", "synthetic", "demo"]}),
    )
    .await?;
    let training_rows = synthetic_transactions(FRAUD_SEEDS[0], FRAUD_TRAINING_ROWS);
    let holdout = transactions_csv(&synthetic_transactions(FRAUD_SEEDS[1], FRAUD_HOLDOUT_ROWS));
    let training_csv = transactions_csv(&training_rows);
    let (artifact, summary) = train_fraud_model(&training_rows)?;
    let lineage = Lineage::of(&training_csv, "git:demo/fraud-models@v1");
    let version = register(
        &p.dana,
        FRAUD,
        json!({"format": "linear-json", "target": "fraud",
               "hyperparameters": {"trainer": "warden-train logistic", "C": 1.0, "fit": summary},
               "serving": {"threshold": FRAUD_THRESHOLD, "positive_decision": "block", "negative_decision": "allow",
                           "lgd": 1.0, "exposure_column": "amount"}}),
        artifact,
        &training_csv,
        &lineage,
    )
    .await?;
    validate(&p.vera, FRAUD, version, &holdout, json!({"target": "fraud"}), None).await?;
    approve(
        &[
            (&p.vera, "validated on 3,000 held-out synthetic payments"),
            (&p.omar, "second validation: calibration and stability reviewed"),
            (&p.rita, "fraud loss appetite: within limits"),
        ],
        FRAUD,
        version,
    )
    .await?;
    promote(&p.dana, FRAUD, version, "first release").await?;
    say(&format!(
        "{FRAUD}: version {version} trained on synthetic payments, validated, approved by two validators and a risk officer, champion"
    ));
    let window = json!({"window_seconds": 60, "min_decisions": 1000});
    for monitor in ["feature_drift", "score_drift", "data_quality"] {
        set_monitor(&p.rita, FRAUD, monitor, window.clone()).await?;
    }
    // About 2% of payments are fraud: the AUC needs a few thousand labelled payments (some 55 frauds) to
    // mean anything.
    set_monitor(&p.rita, FRAUD, "performance", json!({"window_decisions": 3000, "min_decisions": 2500})).await?;
    // Money at risk: the share of fraud value let through (outcomes carry each payment's amount), over the
    // last ten minutes. The model lets about 40% through at its threshold; 60% is a deterioration worth a
    // look, 75% an alert. 1,500 labelled payments (some 30 frauds) are judged half a minute after traffic
    // starts, well before the drift even on a slow machine.
    set_monitor(
        &p.rita,
        FRAUD,
        "money_at_risk",
        json!({"statistic": "fraud_missed", "window_seconds": 600, "min_decisions": 1500, "warn": 0.6, "alert": 0.75}),
    )
    .await?;
    Ok(version)
}

async fn collections(p: &People, uci: &UciCredit) -> anyhow::Result<i64> {
    create_model(
        &p.admin,
        json!({"name": COLLECTIONS, "owner": "collections", "risk_tier": "low", "use_case": "collections call prioritisation",
               "description": "Probability that a card account defaults next month, to order collections calls (UCI \
                               default of credit card clients, Taiwan 2005: 2,100 accounts to train, 900 held out).",
               "tags": ["cards", "collections", "demo"]}),
    )
    .await?;
    let (training, holdout) = uci.split();
    let artifact = {
        let features: Vec<warden_train::linear_model::Feature> = UciCredit::FEATURES
            .iter()
            .enumerate()
            .map(|(j, name)| warden_train::linear_model::Feature {
                name: (*name).to_owned(),
                column: warden_train::linear_model::Column::Numeric(
                    training.iter().map(|r| Some(r.values[j])).collect(),
                ),
            })
            .collect();
        let labels: Vec<bool> = training.iter().map(|r| r.default).collect();
        warden_train::linear_model::train_logistic(&features, &labels, 1.0)?.model.to_string().into_bytes()
    };
    let training_csv = uci.csv(&training);
    let lineage = Lineage::of(&training_csv, "git:demo/collections-models@v1");
    let version = register(
        &p.dana,
        COLLECTIONS,
        json!({"format": "linear-json", "target": "default", "hyperparameters": {"trainer": "warden-train logistic", "C": 1.0},
               "serving": {"threshold": 0.3, "positive_decision": "call-first", "negative_decision": "standard-queue"}}),
        artifact,
        &training_csv,
        &lineage,
    )
    .await?;
    let report: Value =
        validate(&p.vera, COLLECTIONS, version, &uci.csv(&holdout), json!({"target": "default"}), None).await?;
    p.admin
        .json(
            Method::POST,
            &format!("/v1/models/{COLLECTIONS}/versions/{version}/promote"),
            &json!({"override": true, "reason": "collections campaign starts today; validator sign-off pending (ticket COLL-112), accepted by the head of collections"}),
        )
        .await?;
    say(&format!(
        "{COLLECTIONS}: version {version} validated, promoted by the administrator's override of the gate (no sign-off yet)"
    ));
    // Performance is watched against the level accepted at validation, not the tier's gate minimum the
    // override set aside: a warning 0.06 below the validated AUC, an alert 0.10 below, on the newest 2,000
    // labelled decisions (at least 1,200: the AUC of a few hundred varies by more than that).
    let auc = report["figures"]["discrimination"]["auc"].as_f64().unwrap_or(0.65);
    set_monitor(
        &p.rita,
        COLLECTIONS,
        "performance",
        json!({"warn": round3(auc - 0.06), "alert": round3(auc - 0.10), "window_decisions": 2000, "min_decisions": 1200}),
    )
    .await?;
    let window = json!({"window_seconds": 120, "min_decisions": 600});
    for monitor in ["feature_drift", "score_drift", "data_quality"] {
        set_monitor(&p.rita, COLLECTIONS, monitor, window.clone()).await?;
    }
    Ok(version)
}

async fn limit_review(p: &People, uci: &UciCredit) -> anyhow::Result<i64> {
    create_model(
        &p.admin,
        json!({"name": LIMIT_REVIEW, "owner": "cards-credit-risk", "risk_tier": "medium", "use_case": "credit-line increase reviews",
               "description": "Probability of default next month for card holders considered for a higher limit (UCI \
                               default of credit card clients, Taiwan 2005: 2,100 accounts to train, 900 held out).",
               "tags": ["cards", "credit", "demo"]}),
    )
    .await?;
    let (training, holdout) = uci.split();
    let options =
        warden_train::gbt::GbtOptions { n_estimators: 40, max_depth: 3, learning_rate: 0.1, ..Default::default() };
    let columns: Vec<Vec<f64>> =
        (0..UciCredit::FEATURES.len()).map(|j| training.iter().map(|r| r.values[j]).collect()).collect();
    let labels: Vec<bool> = training.iter().map(|r| r.default).collect();
    let names: Vec<String> = UciCredit::FEATURES.iter().map(|n| (*n).to_owned()).collect();
    let artifact = warden_train::gbt::fit(&columns, &labels, options)?.to_xgboost_json(&names).to_string().into_bytes();
    let training_csv = uci.csv(&training);
    let lineage = Lineage::of(&training_csv, "git:demo/limit-models@v1");
    let version = register(
        &p.dana,
        LIMIT_REVIEW,
        json!({"format": "xgboost-json", "target": "default",
               "hyperparameters": {"trainer": "warden-train gbt", "n_estimators": 40, "max_depth": 3, "learning_rate": 0.1}}),
        artifact,
        &training_csv,
        &lineage,
    )
    .await?;
    validate(&p.vera, LIMIT_REVIEW, version, &uci.csv(&holdout), json!({"target": "default"}), None).await?;
    say(&format!("{LIMIT_REVIEW}: version {version} trained and validated; awaiting approval"));
    Ok(version)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `base` with `extra`'s fields added.
fn with(base: &Value, extra: Value) -> Value {
    let mut merged = base.clone();
    if let (Some(m), Value::Object(e)) = (merged.as_object_mut(), extra) {
        m.extend(e);
    }
    merged
}

async fn create_model(admin: &Client, body: Value) -> anyhow::Result<()> {
    admin.json(Method::POST, "/v1/models", &body).await?;
    Ok(())
}

/// A version's training data, as its lineage records it.
struct Lineage {
    sha256: String,
    rows: usize,
    code_ref: &'static str,
}

impl Lineage {
    fn of(csv: &str, code_ref: &'static str) -> Lineage {
        Lineage { sha256: sha256_hex(csv.as_bytes()), rows: csv.lines().count().saturating_sub(1), code_ref }
    }
}

async fn register(
    dana: &Client,
    model: &str,
    metadata: Value,
    artifact: Vec<u8>,
    reference: &str,
    lineage: &Lineage,
) -> anyhow::Result<i64> {
    let metadata = with(
        &metadata,
        json!({"code_ref": lineage.code_ref, "training_data_sha256": lineage.sha256, "training_data_rows": lineage.rows}),
    );
    let form = Form::new()
        .part("metadata", Part::text(metadata.to_string()).mime_str("application/json")?)
        .part("artifact", Part::bytes(artifact).file_name("model.json"))
        .part("reference", Part::bytes(reference.as_bytes().to_vec()).file_name("reference.csv"));
    let version: warden_api_types::VersionBody =
        dana.multipart_as(&format!("/v1/models/{model}/versions"), form).await?;
    for warning in &version.input_warnings {
        say(&format!("{model} version {}: registration warning: {}", version.version, warning.message));
    }
    Ok(version.version)
}

async fn validate(
    vera: &Client,
    model: &str,
    version: i64,
    data: &str,
    metadata: Value,
    scenarios: Option<&str>,
) -> anyhow::Result<Value> {
    let mut form = Form::new()
        .part("metadata", Part::text(metadata.to_string()).mime_str("application/json")?)
        .part("data", Part::bytes(data.as_bytes().to_vec()).file_name("holdout.csv"));
    if let Some(scenarios) = scenarios {
        form = form.part("scenarios", Part::text(scenarios.to_owned()).file_name("stress.toml"));
    }
    vera.multipart(&format!("/v1/models/{model}/versions/{version}/validations"), form).await
}

async fn approve(people: &[(&Client, &str)], model: &str, version: i64) -> anyhow::Result<()> {
    for (who, comment) in people {
        let path = format!("/v1/models/{model}/versions/{version}/approvals");
        who.json(Method::POST, &path, &json!({"decision": "approve", "comment": comment})).await?;
    }
    Ok(())
}

async fn promote(dana: &Client, model: &str, version: i64, reason: &str) -> anyhow::Result<()> {
    dana.json(Method::POST, &format!("/v1/models/{model}/versions/{version}/promote"), &json!({"reason": reason}))
        .await?;
    Ok(())
}

async fn set_monitor(rita: &Client, model: &str, monitor: &str, change: Value) -> anyhow::Result<()> {
    rita.json(Method::PUT, &format!("/v1/models/{model}/monitors/{monitor}"), &change)
        .await
        .with_context(|| format!("setting {model}'s monitor {monitor}"))?;
    Ok(())
}

/// Writes a file only its owner may read (on Unix, created with mode 0600).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
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

/// One scoring request an application makes, and the outcome it reports later.
struct Request {
    features: Map<String, Value>,
    attributes: Map<String, Value>,
    /// The bad event happened (default, fraud).
    bad: bool,
    /// The money involved, reported with the outcome.
    amount: Option<f64>,
}

/// Where an application's requests come from: request `sequence`, drifted or not.
trait Source: Send {
    fn next(&mut self, sequence: u64, drifting: bool) -> Request;
}

/// One applicant of the German credit data: the model's features and the outcome the data records.
struct Applicant {
    features: Map<String, Value>,
    sex: String,
    bad: bool,
}

fn applicants() -> Vec<Applicant> {
    let mut rows = parse_applicants(GERMAN_TRAIN);
    rows.extend(parse_applicants(GERMAN_HOLDOUT));
    rows
}

fn parse_applicants(csv_text: &str) -> Vec<Applicant> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader.headers().expect("demo data has a header").iter().map(str::to_owned).collect();
    reader
        .records()
        .map(|record| {
            let record = record.expect("demo data parses");
            let mut features = Map::new();
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

/// Loan applications: every German credit applicant once per 1,000 requests, in a fixed shuffled order;
/// drifted between `DRIFT_STARTS` and `DRIFT_ENDS` (older applicants, larger and longer loans, more defaults).
struct LoanApplications {
    rows: Vec<Applicant>,
}

impl LoanApplications {
    fn new() -> Self {
        LoanApplications { rows: applicants() }
    }
}

impl Source for LoanApplications {
    fn next(&mut self, sequence: u64, drifting: bool) -> Request {
        let applicant = &self.rows[(sequence.wrapping_mul(7919) % self.rows.len() as u64) as usize];
        let mut features = applicant.features.clone();
        if drifting {
            let shift = |features: &mut Map<String, Value>, name: &str, f: &dyn Fn(f64) -> f64| {
                if let Some(v) = features.get(name).and_then(Value::as_f64) {
                    features.insert(name.into(), json!(f(v).round()));
                }
            };
            shift(&mut features, "age", &|a| a + 22.0);
            shift(&mut features, "credit_amount", &|c| c * 2.5);
            shift(&mut features, "duration", &|d| d + 18.0);
        }
        let mut attributes = Map::new();
        attributes.insert("sex".into(), json!(applicant.sex));
        let amount = features.get("credit_amount").and_then(Value::as_f64);
        Request { features, attributes, bad: applicant.bad || (drifting && sequence.is_multiple_of(3)), amount }
    }
}

/// A small deterministic generator (SplitMix64), so that the synthetic data is the same on every start and
/// every platform, whatever a random-number crate's next version does.
struct Seeded(u64);

impl Seeded {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// One synthetic card payment.
#[derive(Debug, Clone, PartialEq)]
struct Payment {
    amount: f64,
    merchant_category: &'static str,
    hour: u32,
    card_present: bool,
    distance_km: f64,
    payments_last_24h: u32,
    fraud: bool,
}

/// Merchant categories: share of payments, log-amount centre, fraud propensity.
const MERCHANTS: [(&str, f64, f64, f64); 7] = [
    ("grocery", 0.30, 3.4, 0.0),
    ("fuel", 0.14, 3.8, 0.2),
    ("restaurants", 0.20, 3.3, 0.0),
    ("online_retail", 0.20, 4.0, 1.0),
    ("electronics", 0.08, 5.3, 1.3),
    ("travel", 0.05, 5.6, 0.8),
    ("gambling", 0.03, 4.4, 1.6),
];

/// Synthetic card payments: about 2% fraud, more likely for large, card-not-present, night-time payments
/// far from home, at risky merchants, on busy cards. Made up, not measured: the demo needs a fraud model with
/// money at risk and no public fraud data set is in the repository.
fn synthetic_payment(rng: &mut Seeded) -> Payment {
    let pick = rng.uniform();
    let mut cumulative = 0.0;
    let mut merchant = MERCHANTS[MERCHANTS.len() - 1];
    for m in MERCHANTS {
        cumulative += m.1;
        if pick < cumulative {
            merchant = m;
            break;
        }
    }
    let (merchant_category, _, centre, propensity) = merchant;
    let amount = ((centre + 0.8 * rng.normal()).exp() * 100.0).round() / 100.0;
    let hour = if rng.uniform() < 0.85 { 7 + (rng.uniform() * 17.0) as u32 } else { (rng.uniform() * 7.0) as u32 };
    let card_present = merchant_category != "online_retail" && rng.uniform() < 0.75;
    let distance_km = ((1.5 + 1.1 * rng.normal()).exp() * 10.0).round() / 10.0;
    let payments_last_24h = (0.7 + 0.6 * rng.normal()).exp() as u32;
    let z = -8.4
        + 1.5 * propensity
        + 0.8 * (amount / 40.0).ln()
        + 1.8 * f64::from(u8::from(hour < 6))
        + 1.4 * f64::from(u8::from(!card_present))
        + 0.5 * distance_km.ln_1p()
        + 0.3 * f64::from(payments_last_24h);
    let fraud = rng.uniform() < 1.0 / (1.0 + (-z).exp());
    Payment { amount, merchant_category, hour, card_present, distance_km, payments_last_24h, fraud }
}

fn synthetic_transactions(seed: u64, rows: usize) -> Vec<Payment> {
    let mut rng = Seeded(seed);
    (0..rows).map(|_| synthetic_payment(&mut rng)).collect()
}

impl Payment {
    fn features(&self) -> Map<String, Value> {
        let mut features = Map::new();
        features.insert("amount".into(), json!(self.amount));
        features.insert("merchant_category".into(), json!(self.merchant_category));
        features.insert("hour".into(), json!(self.hour));
        features.insert("card_present".into(), json!(if self.card_present { "yes" } else { "no" }));
        features.insert("distance_km".into(), json!(self.distance_km));
        features.insert("payments_last_24h".into(), json!(self.payments_last_24h));
        features
    }
}

fn transactions_csv(payments: &[Payment]) -> String {
    let mut csv = String::from("amount,merchant_category,hour,card_present,distance_km,payments_last_24h,fraud\n");
    for p in payments {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            p.amount,
            p.merchant_category,
            p.hour,
            if p.card_present { "yes" } else { "no" },
            p.distance_km,
            p.payments_last_24h,
            u8::from(p.fraud)
        ));
    }
    csv
}

/// Trains the fraud model (Warden's own logistic regression) and returns its artifact and a fit summary.
fn train_fraud_model(payments: &[Payment]) -> anyhow::Result<(Vec<u8>, String)> {
    use warden_train::linear_model::{Column, Feature, train_logistic};
    let numeric = |name: &str, f: &dyn Fn(&Payment) -> f64| Feature {
        name: name.into(),
        column: Column::Numeric(payments.iter().map(|p| Some(f(p))).collect()),
    };
    let categorical = |name: &str, f: &dyn Fn(&Payment) -> String| Feature {
        name: name.into(),
        column: Column::Categorical(payments.iter().map(|p| Some(f(p))).collect()),
    };
    let features = [
        numeric("amount", &|p| p.amount),
        categorical("merchant_category", &|p| p.merchant_category.to_owned()),
        numeric("hour", &|p| f64::from(p.hour)),
        categorical("card_present", &|p| if p.card_present { "yes".into() } else { "no".into() }),
        numeric("distance_km", &|p| p.distance_km),
        numeric("payments_last_24h", &|p| f64::from(p.payments_last_24h)),
    ];
    let labels: Vec<bool> = payments.iter().map(|p| p.fraud).collect();
    let trained = train_logistic(&features, &labels, 1.0)?;
    Ok((trained.model.to_string().into_bytes(), format!("{} Newton steps", trained.fit.iterations)))
}

/// Card payments as the card switch sends them: a seeded stream of the same synthetic population.
struct CardPayments {
    rng: Seeded,
}

impl CardPayments {
    fn new() -> Self {
        CardPayments { rng: Seeded(FRAUD_SEEDS[2]) }
    }
}

impl Source for CardPayments {
    fn next(&mut self, _sequence: u64, _drifting: bool) -> Request {
        let payment = synthetic_payment(&mut self.rng);
        Request {
            features: payment.features(),
            attributes: Map::new(),
            bad: payment.fraud,
            amount: Some(payment.amount),
        }
    }
}

/// One account of the UCI credit-card sample.
#[derive(Debug, Clone, PartialEq)]
struct Account {
    /// In the order of [`UciCredit::FEATURES`].
    values: [f64; 4],
    default: bool,
}

/// The UCI "default of credit card clients" sample: four features and the default flag.
struct UciCredit {
    accounts: Vec<Account>,
}

impl UciCredit {
    const FEATURES: [&str; 4] = ["EDUCATION", "MARRIAGE", "LIMIT_BAL", "BILL_AMT1"];

    fn parse(text: &str) -> anyhow::Result<UciCredit> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
        let at = |name: &str| header.iter().position(|h| h == name).with_context(|| format!("no column {name}"));
        let positions =
            [at(Self::FEATURES[0])?, at(Self::FEATURES[1])?, at(Self::FEATURES[2])?, at(Self::FEATURES[3])?];
        let target = at("default")?;
        let mut accounts = Vec::new();
        for record in reader.records() {
            let record = record?;
            let number = |i: usize| record[i].parse::<f64>().with_context(|| format!("not a number: {}", &record[i]));
            accounts.push(Account {
                values: [number(positions[0])?, number(positions[1])?, number(positions[2])?, number(positions[3])?],
                default: &record[target] == "1",
            });
        }
        Ok(UciCredit { accounts })
    }

    /// Training (7 of every 10 accounts) and held-out accounts (the other 3).
    fn split(&self) -> (Vec<Account>, Vec<Account>) {
        let (training, holdout): (Vec<_>, Vec<_>) = self.accounts.iter().enumerate().partition(|(i, _)| i % 10 < 7);
        (training.into_iter().map(|(_, a)| a.clone()).collect(), holdout.into_iter().map(|(_, a)| a.clone()).collect())
    }

    fn csv(&self, accounts: &[Account]) -> String {
        let mut csv = format!("{},default\n", Self::FEATURES.join(","));
        for a in accounts {
            let values: Vec<String> = a.values.iter().map(f64::to_string).collect();
            csv.push_str(&format!("{},{}\n", values.join(","), u8::from(a.default)));
        }
        csv
    }
}

/// Collections accounts: every account once per pass, in a fixed shuffled order; the outcome's amount is
/// the bill at risk.
struct CollectionsAccounts {
    accounts: Vec<Account>,
}

impl CollectionsAccounts {
    fn new(uci: &UciCredit) -> Self {
        CollectionsAccounts { accounts: uci.accounts.clone() }
    }
}

impl Source for CollectionsAccounts {
    fn next(&mut self, sequence: u64, _drifting: bool) -> Request {
        let account = &self.accounts[(sequence.wrapping_mul(7919) % self.accounts.len() as u64) as usize];
        let features =
            UciCredit::FEATURES.iter().zip(account.values).map(|(n, v)| ((*n).to_owned(), json!(v))).collect();
        Request { features, attributes: Map::new(), bad: account.default, amount: Some(account.values[3].max(0.0)) }
    }
}

/// Scores `source`'s requests on `model` at a steady rate (drifted between `DRIFT_STARTS` and `DRIFT_ENDS`
/// where the source drifts), and reports each outcome, with its amount, three seconds after its decision.
async fn traffic(app: Client, mut source: Box<dyn Source>, per_second: u64, model: &'static str, started: Instant) {
    let mut ticker = tokio::time::interval(Duration::from_millis(1000 / per_second));
    let mut pending: VecDeque<(Instant, String, bool, Option<f64>)> = VecDeque::new();
    let mut sequence = 0u64;
    loop {
        ticker.tick().await;
        sequence += 1;
        let drifting = (DRIFT_STARTS..DRIFT_ENDS).contains(&started.elapsed());
        let request = source.next(sequence, drifting);
        let request_id = format!("{model}-{sequence}");
        let body = json!({"request_id": request_id, "features": request.features, "attributes": request.attributes});
        match app.json(Method::POST, &format!("/v1/models/{model}/score"), &body).await {
            Ok(_) => {
                pending.push_back((Instant::now() + Duration::from_secs(3), request_id, request.bad, request.amount))
            }
            Err(err) => tracing::warn!(error = %err, model, "demo scoring request failed"),
        }
        let due: Vec<_> = std::iter::from_fn(|| {
            if pending.front().is_some_and(|p| p.0 <= Instant::now()) { pending.pop_front() } else { None }
        })
        .collect();
        if !due.is_empty() {
            let outcomes: Vec<Value> = due
                .iter()
                .map(|(_, id, bad, amount)| json!({"request_id": id, "label": i64::from(*bad), "amount": amount}))
                .collect();
            if let Err(err) = app.json(Method::POST, "/v1/outcomes", &json!({"outcomes": outcomes})).await {
                tracing::warn!(error = %err, model, "demo outcomes failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_german_data_is_split_into_the_fixtures_training_and_holdout_rows() {
        let rows = applicants();
        assert_eq!(rows.len(), 1000);
        assert_eq!(rows.iter().filter(|r| r.bad).count(), 300, "German credit has 300 bad loans");
        assert!(rows.iter().all(|r| r.features.len() == 8 && !r.sex.is_empty()));
        assert_eq!((parse_applicants(GERMAN_TRAIN).len(), parse_applicants(GERMAN_HOLDOUT).len()), (700, 300));
        assert_ne!(sha256_hex(GERMAN_TRAIN.as_bytes()), sha256_hex(GERMAN_HOLDOUT.as_bytes()));
    }

    #[test]
    fn synthetic_payments_are_the_same_on_every_start_and_about_two_percent_fraud() {
        let first = synthetic_transactions(FRAUD_SEEDS[0], FRAUD_TRAINING_ROWS);
        assert_eq!(first, synthetic_transactions(FRAUD_SEEDS[0], FRAUD_TRAINING_ROWS), "seeded");
        assert_ne!(first, synthetic_transactions(FRAUD_SEEDS[1], FRAUD_TRAINING_ROWS), "the holdout is other data");
        let rate = first.iter().filter(|p| p.fraud).count() as f64 / first.len() as f64;
        assert!((0.01..0.04).contains(&rate), "fraud rate {rate}");
        assert!(first.iter().all(|p| p.amount > 0.0 && p.hour < 24));
        let csv = transactions_csv(&first[..2]);
        assert_eq!(csv.lines().count(), 3);
    }

    #[test]
    fn the_fraud_model_trains_and_the_uci_accounts_split_seven_to_three() {
        let (artifact, _) = train_fraud_model(&synthetic_transactions(FRAUD_SEEDS[0], 2_000)).unwrap();
        let model: Value = serde_json::from_slice(&artifact).unwrap();
        assert_eq!(model["format"], "warden-linear");
        let uci = UciCredit::parse(UCI_CREDIT_CARD).unwrap();
        assert_eq!(uci.accounts.len(), 3000);
        let (training, holdout) = uci.split();
        assert_eq!((training.len(), holdout.len()), (2100, 900));
        assert!(uci.csv(&holdout).starts_with("EDUCATION,MARRIAGE,LIMIT_BAL,BILL_AMT1,default\n"));
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
