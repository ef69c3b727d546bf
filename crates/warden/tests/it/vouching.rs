//! Monitor evaluations vouched for hourly, on the suite's store (SQLite, or PostgreSQL with
//! `WARDEN_TEST_DATABASE=postgres`): the service runs in this process on a clock the test moves an hour at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Map, Value, json};
use warden_lifecycle::Warden;
use warden_oversight::governance::{self, PromotionRequest, Verdict};
use warden_oversight::monitoring::Round;
use warden_oversight::validation::{self, ValidationRequest};
use warden_oversight::vouching;
use warden_registry::Config;
use warden_registry::auth::{Principal, Role};
use warden_registry::binding::ScoreRequest;
use warden_registry::registry::{self, ModelInput, RiskTier, VersionRequest};
use warden_store::metadata::{AuditEventDraft, AuditQuery, MonitorVouch};

use crate::support::{database_for, on_postgres};

const HOUR: i64 = 3_600_000_000;

/// The evaluations of `credit` stored after id `after`.
async fn stored_after(warden: &Warden, after: i64) -> Vec<(i64, warden_store::metadata::MonitorEvaluation)> {
    warden.metadata.monitor_evaluations_after("credit", after, 100_000).await.unwrap()
}

async fn staged(warden: &Warden, bytes: &[u8]) -> registry::StagedFile {
    let mut writer = warden.artifacts().stage(1 << 30).await.unwrap();
    writer.write(bytes).await.unwrap();
    writer.finish().await.unwrap()
}

/// Registers, validates, approves and promotes version 1 of `credit` (the German credit logistic regression).
pub(crate) async fn deployed(warden: &Warden) {
    let (dana, vera, rita) = (
        Principal::token("dana", Role::DataScientist),
        Principal::token("vera", Role::Validator),
        Principal::token("rita", Role::RiskOfficer),
    );
    let input = ModelInput {
        name: "credit".into(),
        description: "consumer credit default".into(),
        owner: "retail-risk".into(),
        risk_tier: RiskTier::Medium,
        use_case: "consumer credit".into(),
        business_line: "retail".into(),
        tags: vec![],
    };
    registry::create_model(warden, &Principal::token("admin", Role::Admin), input).await.unwrap();
    let mut request = VersionRequest {
        format: "linear-json".parse().unwrap(),
        columns: Default::default(),
        lineage: Default::default(),
        serving: Default::default(),
        encodings: Default::default(),
        unknown_category: None,
    };
    request.columns.target = Some("risk".into());
    request.columns.protected = vec!["sex".into()];
    request.lineage.code_ref = Some("git:4f2a9c1".into());
    request.lineage.training_data_sha256 = Some("9".repeat(64));
    request.lineage.training_data_rows = Some(700);
    let german = warden_testdata::read("datasets/german.csv");
    let logistic = warden_testdata::read("models/lr_german_linear.json");
    let (artifact, reference) = (staged(warden, &logistic).await, staged(warden, &german).await);
    registry::register_version(warden, &dana, "credit", request, artifact, reference).await.unwrap();
    let check =
        ValidationRequest { target: "risk".into(), protected: vec![], bad_value: Some("0".into()), scenarios: None };
    validation::validate(warden, &vera, "credit", "1", check, staged(warden, &german).await).await.unwrap();
    for who in [&vera, &rita] {
        governance::approve(warden, who, "credit", "1", Verdict::Approve, "sound").await.unwrap();
    }
    let promotion = PromotionRequest { reason: "release".into(), ..Default::default() };
    governance::promote(warden, &dana, "credit", "1", promotion).await.unwrap();
}

/// The German credit applications' features (older applicants only when `older`).
pub(crate) fn applications(older: bool) -> Vec<Map<String, Value>> {
    let text = String::from_utf8(warden_testdata::read("datasets/german.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| header.iter().zip(line.split(',')).map(|(h, c)| (*h, c)).collect::<Vec<_>>())
        .map(|cells| {
            let mut features = Map::new();
            for (name, cell) in cells {
                match name {
                    "job" | "credit_amount" | "duration" | "age" => {
                        features.insert(name.into(), json!(cell.parse::<f64>().unwrap()));
                    }
                    "housing" | "saving_accounts" | "checking_account" | "purpose" => {
                        features.insert(name.into(), json!(cell));
                    }
                    _ => {}
                }
            }
            features
        })
        .filter(|f| !older || f["age"].as_f64().unwrap() >= 50.0)
        .collect()
}

#[test]
fn each_hour_of_evaluations_is_vouched_for_once_by_an_entry_hashing_the_stored_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The database is made before the service's runtime starts (making it runs a runtime of its own).
    let config = Config { database: on_postgres().then(|| database_for(&data)), ..Config::new(&data) };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(vouched_hours(config));
}

async fn vouched_hours(config: Config) {
    let start = 1_800_000_000_000_000 - 1_800_000_000_000_000 % HOUR;
    let now = Arc::new(AtomicI64::new(start));
    let clock = now.clone();
    let (warden, _) = Warden::open_with_clock(config, Arc::new(move || clock.load(Ordering::SeqCst))).await.unwrap();
    deployed(&warden).await;
    let scorer = Principal::token("loan-app", Role::Scorer);
    let (everyone, older) = (applications(false), applications(true));
    // Rounds at minutes 1 and 2 of hours 0 to 2; hour 1's traffic is older applicants only.
    for hour in 0..3 {
        for minute in 1..=2 {
            now.store(start + hour * HOUR + minute * 60_000_000, Ordering::SeqCst);
            let pool = if hour == 1 { &older } else { &everyone };
            let batch = (0..400).map(|i| ScoreRequest { features: pool[i % pool.len()].clone(), ..Default::default() });
            warden_serving::scoring::score_batch(&warden, &scorer, "credit", batch.collect(), None).await.unwrap();
            warden_oversight::round::run(&warden, Round::Now).await.unwrap();
        }
    }
    let query = AuditQuery { subject: Some("model/credit".into()), limit: 10_000, ..Default::default() };
    let hourly = |events: Vec<warden_store::metadata::AuditEvent>| {
        events.into_iter().filter(|e| e.event.action == vouching::ACTION).map(|e| e.event).collect::<Vec<_>>()
    };
    let entries = hourly(warden.metadata.audit_events(&query).await.unwrap());
    assert_eq!(entries.len(), 2, "hours 0 and 1, each vouched for once by the first round after it");
    // Each entry hashes the rows stored since the one before, as read back from the store.
    let stored = warden.metadata.monitor_evaluations_after("credit", 0, 100_000).await.unwrap();
    let mut after = 0;
    for (hour, entry) in entries.iter().enumerate() {
        let payload = &entry.payload;
        let through = payload["through_id"].as_i64().unwrap();
        let rows: Vec<_> = stored.iter().filter(|(id, _)| *id > after && *id <= through).cloned().collect();
        assert_eq!(payload["rows"].as_u64(), Some(rows.len() as u64), "{payload}");
        assert!(
            rows.iter().all(|(_, e)| e.at >= start + hour as i64 * HOUR && e.at < start + (hour as i64 + 1) * HOUR)
        );
        let sha = warden_ledger::payload_sha256(&vouching::rows_record(&rows));
        assert_eq!(payload["rows_sha256"].as_str(), Some(sha.as_str()), "the stored rows hash as vouched");
        assert_eq!(entry.at, start + (hour as i64 + 1) * HOUR + 60_000_000, "vouched by the next hour's first round");
        after = through;
    }
    let drift = |payload: &Value| {
        let monitors = payload["monitors"].as_array().unwrap();
        monitors.iter().find(|m| m["monitor"] == "feature_drift").cloned().unwrap()
    };
    assert_eq!(drift(&entries[0].payload)["ok"].as_u64(), Some(2), "{}", entries[0].payload);
    assert_eq!(drift(&entries[1].payload)["alert"].as_u64(), Some(2), "{}", entries[1].payload);

    // Hour 2's rows wait for hour 3; a replica whose view is stale vouches for nothing.
    assert!(warden.metadata.unvouched_monitor_models(start + 2 * HOUR).await.unwrap().is_empty());
    let waiting = warden.metadata.unvouched_monitor_models(start + 3 * HOUR).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!((waiting[0].through_id, waiting[0].hour_start), (after, start + 2 * HOUR));
    let stale = MonitorVouch { model_name: "credit".into(), through_id: after + 1_000, hour_start: start + 3 * HOUR };
    let event = AuditEventDraft {
        at: start + 3 * HOUR,
        actor: "warden".into(),
        action: vouching::ACTION.into(),
        subject: "model/credit".into(),
        payload: json!({}),
    };
    assert!(!warden.metadata.vouch_monitor_evaluations(&stale, 0, event).await.unwrap(), "compare and set");
    assert_eq!(hourly(warden.metadata.audit_events(&query).await.unwrap()).len(), 2, "nothing written");

    // A backlog is caught up a bounded batch an entry: hour 2's rows, at most 5 a call, leave the model due
    // after each full batch, each batch hashing exactly its rows.
    let due = |w: Vec<MonitorVouch>| w.into_iter().map(|v| (v.through_id, v.hour_start)).collect::<Vec<_>>();
    let backlog = stored_after(&warden, after).await;
    let mut batches = 0;
    loop {
        let written = vouching::vouch(&warden, start + 3 * HOUR, 5).await.unwrap();
        let waiting = due(warden.metadata.unvouched_monitor_models(start + 3 * HOUR).await.unwrap());
        if written == 0 {
            break;
        }
        batches += 1;
        assert!(batches <= backlog.len().div_ceil(5), "each call vouches for up to 5 rows");
        let entry = hourly(warden.metadata.audit_events(&query).await.unwrap()).pop().unwrap();
        let through = entry.payload["through_id"].as_i64().unwrap();
        let rows: Vec<_> = backlog.iter().filter(|(id, _)| *id > after && *id <= through).cloned().collect();
        assert!(!rows.is_empty() && rows.len() <= 5);
        let sha = warden_ledger::payload_sha256(&vouching::rows_record(&rows));
        assert_eq!(entry.payload["rows_sha256"].as_str(), Some(sha.as_str()));
        assert_eq!(!waiting.is_empty(), rows.len() == 5, "due again after a full batch only: {waiting:?}");
        after = through;
    }
    assert_eq!(batches, backlog.len().div_ceil(5), "{} rows", backlog.len());
    assert_eq!(after, backlog.last().unwrap().0, "every row of the backlog vouched for");

    // A model with no enabled monitor is not searched: its rows wait.
    for round in 0..2 {
        now.store(start + 4 * HOUR + round * 60_000_000, Ordering::SeqCst);
        warden_oversight::round::run(&warden, Round::Now).await.unwrap();
    }
    let admin = Principal::token("admin", Role::Admin);
    for monitor in warden_oversight::monitoring::list(&warden, &admin, "credit").await.unwrap() {
        let off = warden_oversight::monitoring::MonitorChange { enabled: Some(false), ..Default::default() };
        warden_oversight::monitoring::set(&warden, &admin, "credit", &monitor.name, off).await.unwrap();
    }
    assert!(warden.metadata.unvouched_monitor_models(start + 5 * HOUR).await.unwrap().is_empty());

    // The month's report cites them and checks out against the ledger's key.
    let report = warden_proof::docs::generate(
        &warden,
        &Principal::system(),
        "credit",
        None,
        "monitoring-report",
        Some("last-1-days"),
    )
    .await;
    let html = report.unwrap().html;
    let checked = warden_proof::docs::verify_document(&html, Some(&warden_proof::ledger::public_key(&warden)));
    assert!(checked.ok, "{:?}", checked.problems);
    let drifted = &html[html.find("<h2 id=\"drift\">").unwrap()..html.find("<h2 id=\"alerts\">").unwrap()];
    assert!(drifted.contains("<td>feature_drift</td><td>1</td>"), "hour 1's drift of version 1 is listed: {drifted}");
}
