//! How long each dashboard page takes to serve (request in, HTML out: queries and rendering, in process) on a
//! large inventory: 100 models × 50 versions, each model with five promotions, ten validated and approved
//! versions, its monitors' hourly history over 90 days and some alerts and incidents. Prints a table.
//!
//! `cargo bench -p warden-api --bench dashboard [-- MODELS VERSIONS DAYS]` (default 100 50 90).
//! `WARDEN_BENCH_DIR=DIR` keeps the data directory; a later run with the same DIR only measures.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use warden_lifecycle::Warden;
use warden_oversight::governance::{self, PromotionRequest, Verdict};
use warden_oversight::validation::{self, ValidationRequest};
use warden_registry::Config;
use warden_registry::auth::{Principal, Role};
use warden_registry::registry::{self, ModelInput, RiskTier, VersionRequest};
use warden_store::metadata::{AlertEvent, AlertRow, MonitorEvaluation};
use warden_store::prelude::*;
use warden_store::sqlite::SqliteStore;

static GERMAN: LazyLock<Vec<u8>> = LazyLock::new(|| warden_testdata::read("datasets/german.csv"));
static LOGISTIC: LazyLock<Vec<u8>> = LazyLock::new(|| warden_testdata::read("models/lr_german_linear.json"));
const HOUR: i64 = 3_600_000_000;
const FEATURES: [&str; 8] =
    ["age", "checking_account", "credit_amount", "duration", "housing", "job", "purpose", "saving_accounts"];

fn person(name: &str, role: Role) -> Principal {
    Principal::token(name, role)
}

async fn staged(warden: &Warden, bytes: &[u8]) -> registry::StagedFile {
    let mut writer = warden.artifacts().stage(1 << 30).await.unwrap();
    writer.write(bytes).await.unwrap();
    writer.finish().await.unwrap()
}

/// Registers, validates, approves and promotes through the lifecycle services, as people would.
async fn seed_registry(warden: &Warden, models: usize, versions: i64) {
    let (dana, vera, rita) =
        (person("dana", Role::DataScientist), person("vera", Role::Validator), person("rita", Role::RiskOfficer));
    let admin = person("bench", Role::Admin);
    for m in 0..models {
        let name = format!("model-{m:03}");
        let tier = [RiskTier::Medium, RiskTier::Low, RiskTier::Medium][m % 3];
        let input = ModelInput {
            name: name.clone(),
            description: "benchmark model".into(),
            owner: format!("team-{}", m % 7),
            risk_tier: tier,
            use_case: "consumer credit".into(),
            business_line: "retail".into(),
            tags: vec![],
        };
        registry::create_model(warden, &admin, input).await.unwrap();
        for v in 1..=versions {
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
            request.lineage.code_ref = Some(format!("git:bench@{v}"));
            request.lineage.training_data_sha256 = Some(format!("{:064x}", m * 1000 + v as usize));
            request.lineage.training_data_rows = Some(700);
            request.lineage.parent_version = (v > 1).then_some(v - 1);
            let (artifact, reference) = (staged(warden, &LOGISTIC).await, staged(warden, &GERMAN).await);
            registry::register_version(warden, &dana, &name, request, artifact, reference).await.unwrap();
            if v % 10 == 0 {
                let number = v.to_string();
                let request = ValidationRequest {
                    target: "risk".into(),
                    protected: vec![],
                    bad_value: Some("0".into()),
                    scenarios: None,
                };
                validation::validate(warden, &vera, &name, &number, request, staged(warden, &GERMAN).await)
                    .await
                    .unwrap();
                for who in [&vera, &rita] {
                    governance::approve(warden, who, &name, &number, Verdict::Approve, "benchmark").await.unwrap();
                }
                let promotion = PromotionRequest { reason: "release".into(), ..Default::default() };
                governance::promote(warden, &dana, &name, &number, promotion).await.unwrap();
            }
        }
    }
}

/// Each monitor's hourly evaluations over `days` days, shaped as the monitors write them, and a few alerts.
async fn seed_history(store: &SqliteStore, models: usize, days: i64, now: i64) {
    let monitors = store.monitors(None).await.unwrap();
    let hours = days * 24;
    for (i, monitor) in monitors.iter().enumerate() {
        let keys: Vec<&str> = match monitor.kind.as_str() {
            "feature_drift" | "data_quality" => FEATURES.to_vec(),
            "score_drift" => vec!["score"],
            "fairness" => vec!["sex"],
            _ => vec!["model"],
        };
        let mut batch = Vec::with_capacity(hours as usize);
        for h in 0..hours {
            let wave = ((h as f64 + i as f64 * 13.0) / 37.0).sin().abs();
            let features: serde_json::Map<String, Value> = keys
                .iter()
                .enumerate()
                .map(|(k, key)| {
                    let value = 0.02 + 0.2 * wave * (k as f64 + 1.0) / keys.len() as f64;
                    let status = if value > 0.2 { "alert" } else if value > 0.1 { "warn" } else { "ok" };
                    let figures = json!({"psi": value, "jensen_shannon": value / 2.0, "missing_rate": 0.0, "reference_missing_rate": 0.0});
                    (key.to_string(), json!({"value": value, "status": status, "figures": figures,
                        "bands": {"warn": 0.1, "alert": 0.2, "lower_is_worse": false, "learned": false}}))
                })
                .collect();
            let value = features.values().filter_map(|f| f["value"].as_f64()).fold(0.0, f64::max);
            batch.push(MonitorEvaluation {
                model_name: monitor.model_name.clone(),
                monitor: monitor.name.clone(),
                at: now - (hours - h) * HOUR,
                version: 50,
                window_start: now - (hours - h) * HOUR - 300_000_000,
                decisions: 900,
                status: if value > 0.2 {
                    "alert"
                } else if value > 0.1 {
                    "warn"
                } else {
                    "ok"
                }
                .into(),
                value: Some(value),
                details: json!({ "features": features }),
            });
        }
        store.insert_monitor_evaluations(&batch, &[]).await.unwrap();
    }
    for m in 0..models {
        let model = format!("model-{m:03}");
        for (k, feature) in ["age", "duration", "credit_amount"].iter().enumerate() {
            let opened = now - (k as i64 + 1) * 20 * HOUR;
            let mut alert = AlertRow {
                id: 0,
                model_name: model.clone(),
                monitor: "feature_drift".into(),
                feature: (*feature).into(),
                version: 50,
                severity: if k == 0 { "critical" } else { "warning" }.into(),
                state: if k == 2 { "resolved" } else { "firing" }.into(),
                opened_at: opened,
                updated_at: opened,
                value: Some(0.3),
                acknowledged_by: None,
                resolved_at: (k == 2).then_some(opened + HOUR),
                incident_id: None,
            };
            if k == 0 && m % 10 == 0 {
                alert.incident_id =
                    Some(store.open_incident(&model, "feature drift", opened, 600_000_000).await.unwrap().id);
            }
            let event =
                AlertEvent { at: opened, kind: "fired".into(), actor: "warden".into(), details: json!({"value": 0.3}) };
            store.save_alert(&alert, &event, None).await.unwrap();
        }
    }
}

fn cookie_of(response: &axum::response::Response, name: &str) -> String {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap().to_owned()))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

fn main() {
    let args: Vec<i64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (models, versions, days) = (
        args.first().copied().unwrap_or(100) as usize,
        args.get(1).copied().unwrap_or(50),
        args.get(2).copied().unwrap_or(90),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var_os("WARDEN_BENCH_DIR").map_or_else(|| dir.path().to_owned(), std::path::PathBuf::from);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let seeded = path.join("dashboard-bench-seeded");
        if !seeded.exists() {
            let started = Instant::now();
            let (warden, _) = Warden::open(Config::new(&path)).await.unwrap();
            seed_registry(&warden, models, versions).await;
            let now = warden.now();
            drop(warden);
            let store = SqliteStore::open(&path.join("warden.db")).await.unwrap();
            seed_history(&store, models, days, now).await;
            drop(store);
            std::fs::write(&seeded, format!("{models} {versions} {days}\n")).unwrap();
            eprintln!("seeded in {:.0} s", started.elapsed().as_secs_f64());
        }
        let (warden, _) = Warden::open(Config::new(&path)).await.unwrap();
        let evaluations = seeded_evaluations(&path, days).await;
        let app = warden_api::app(std::sync::Arc::new(warden));
        let admin = std::fs::read_to_string(path.join("admin.token")).unwrap().trim().to_owned();

        // Log in as a person would.
        let login = app.clone().oneshot(Request::get("/ui/login").body(Body::empty()).unwrap()).await.unwrap();
        let nonce = cookie_of(&login, "warden_login");
        let form = format!("token={admin}&nonce={nonce}&next=/ui");
        let request = Request::post("/ui/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("warden_login={nonce}"))
            .body(Body::from(form))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let session = format!("warden_session={}", cookie_of(&response, "warden_session"));

        let middle = format!("model-{:03}", models / 2);
        let pages = [
            ("inventory", "/ui".to_owned()),
            ("model", format!("/ui/models/{middle}")),
            (format!("monitoring ({days} days)").leak() as &str, format!("/ui/models/{middle}/monitoring?days={days}")),
            ("alerts and incidents", "/ui/alerts".to_owned()),
            ("audit ledger", "/ui/audit".to_owned()),
            ("board KPIs", "/ui/kpis".to_owned()),
            ("printable summary", "/ui/summary".to_owned()),
        ];
        println!(
            "\n{models} models × {versions} versions, {days} days of hourly monitor history ({evaluations} evaluations)\n"
        );
        println!("| page | median | p95 | max | HTML |");
        println!("|---|---|---|---|---|");
        for (name, uri) in pages {
            let mut times = Vec::new();
            let mut bytes = 0;
            for run in 0..22 {
                let request = Request::get(&uri).header(header::COOKIE, &session).body(Body::empty()).unwrap();
                let started = Instant::now();
                let response = app.clone().oneshot(request).await.unwrap();
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
                let elapsed = started.elapsed();
                assert_eq!(status, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&body));
                bytes = body.len();
                if run >= 2 {
                    times.push(elapsed);
                }
            }
            times.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
            println!(
                "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {} KB |",
                ms(times[times.len() / 2]),
                ms(p95),
                ms(*times.last().unwrap()),
                bytes / 1024
            );
        }
    });
}

/// Evaluations seeded: every monitor's hourly history.
async fn seeded_evaluations(path: &std::path::Path, days: i64) -> i64 {
    let store = SqliteStore::open(&path.join("warden.db")).await.unwrap();
    store.monitors(None).await.unwrap().len() as i64 * days * 24
}
