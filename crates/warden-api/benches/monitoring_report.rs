//! How long the monitoring report takes over 90 days of hourly monitor rounds, as the service writes it.
//!
//! One model is validated, approved and promoted, then the service's clock moves an hour at a time for 90
//! days: each hour 400 German credit applications are scored (every fifth day older applicants only, so the
//! drift monitors warn and alert) and one monitor round runs, which vouches for the hour before in a
//! `monitor.hour` ledger entry. Then the report of the last 90 days is written (and checked offline) several
//! times, beside the model documentation of the same ledger. Prints each run and the median.
//!
//! `cargo bench -p warden-api --bench monitoring_report [-- DAYS RUNS]` (default 90 5).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use serde_json::{Map, Value, json};
use warden_lifecycle::Warden;
use warden_oversight::governance::{self, PromotionRequest, Verdict};
use warden_oversight::monitoring::Round;
use warden_oversight::validation::{self, ValidationRequest};
use warden_registry::Config;
use warden_registry::auth::{Principal, Role};
use warden_registry::binding::ScoreRequest;
use warden_registry::registry::{self, ModelInput, RiskTier, VersionRequest};

const HOUR: i64 = 3_600_000_000;
const NUMERIC: [&str; 4] = ["job", "credit_amount", "duration", "age"];
const CATEGORICAL: [&str; 4] = ["housing", "saving_accounts", "checking_account", "purpose"];

async fn staged(warden: &Warden, bytes: &[u8]) -> registry::StagedFile {
    let mut writer = warden.artifacts().stage(1 << 30).await.unwrap();
    writer.write(bytes).await.unwrap();
    writer.finish().await.unwrap()
}

/// The German credit rows' features, and whether each is an older applicant.
fn applications(csv: &[u8]) -> Vec<(Map<String, Value>, bool)> {
    let text = std::str::from_utf8(csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            let cells: Map<String, Value> =
                header.iter().zip(line.split(',')).map(|(h, c)| (h.to_string(), json!(c))).collect();
            let mut features = Map::new();
            for c in NUMERIC {
                features.insert(c.into(), json!(cells[c].as_str().unwrap().parse::<f64>().unwrap()));
            }
            for c in CATEGORICAL {
                features.insert(c.into(), cells[c].clone());
            }
            let older = features["age"].as_f64().unwrap() >= 50.0;
            (features, older)
        })
        .collect()
}

fn main() {
    let args: Vec<i64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (days, runs) = (args.first().copied().unwrap_or(90), args.get(1).copied().unwrap_or(5) as usize);
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let german = warden_testdata::read("datasets/german.csv");
        let logistic = warden_testdata::read("models/lr_german_linear.json");
        let start = 1_800_000_000_000_000 - days * 24 * HOUR;
        let now = Arc::new(AtomicI64::new(start));
        let clock = now.clone();
        let (warden, _) =
            Warden::open_with_clock(Config::new(dir.path()), Arc::new(move || clock.load(Ordering::SeqCst)))
                .await
                .unwrap();
        let (dana, vera, rita) = (
            Principal::token("dana", Role::DataScientist),
            Principal::token("vera", Role::Validator),
            Principal::token("rita", Role::RiskOfficer),
        );
        let admin = Principal::token("bench", Role::Admin);
        let input = ModelInput {
            name: "credit".into(),
            description: "consumer credit default".into(),
            owner: "retail-risk".into(),
            risk_tier: RiskTier::Medium,
            use_case: "consumer credit".into(),
            business_line: "retail".into(),
            tags: vec![],
        };
        registry::create_model(&warden, &admin, input).await.unwrap();
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
        request.lineage.code_ref = Some("git:bench".into());
        request.lineage.training_data_sha256 = Some("9".repeat(64));
        request.lineage.training_data_rows = Some(700);
        let (artifact, reference) = (staged(&warden, &logistic).await, staged(&warden, &german).await);
        registry::register_version(&warden, &dana, "credit", request, artifact, reference).await.unwrap();
        let validation = ValidationRequest {
            target: "risk".into(),
            protected: vec![],
            bad_value: Some("0".into()),
            scenarios: None,
        };
        validation::validate(&warden, &vera, "credit", "1", validation, staged(&warden, &german).await).await.unwrap();
        for who in [&vera, &rita] {
            governance::approve(&warden, who, "credit", "1", Verdict::Approve, "benchmark").await.unwrap();
        }
        let promotion = PromotionRequest { reason: "release".into(), ..Default::default() };
        governance::promote(&warden, &dana, "credit", "1", promotion).await.unwrap();

        let rows = applications(&german);
        let older: Vec<&Map<String, Value>> = rows.iter().filter(|(_, o)| *o).map(|(r, _)| r).collect();
        let everyone: Vec<&Map<String, Value>> = rows.iter().map(|(r, _)| r).collect();
        let scorer = Principal::token("loan-app", Role::Scorer);
        let seeding = Instant::now();
        for hour in 0..days * 24 {
            now.store(start + hour * HOUR + 1, Ordering::SeqCst);
            let drifted = (hour / 24) % 5 == 4;
            let pool = if drifted { &older } else { &everyone };
            let batch = (0..400)
                .map(|i| ScoreRequest {
                    features: pool[(hour as usize * 37 + i) % pool.len()].clone(),
                    ..Default::default()
                })
                .collect();
            warden_serving::scoring::score_batch(&warden, &scorer, "credit", batch, None).await.unwrap();
            now.store(start + hour * HOUR + 120_000_000, Ordering::SeqCst);
            warden_oversight::round::run(&warden, Round::Now).await.unwrap();
        }
        now.store(start + days * 24 * HOUR + 60_000_000, Ordering::SeqCst);
        warden_oversight::round::run(&warden, Round::Now).await.unwrap();
        let query = warden_store::metadata::AuditQuery { subject: Some("model/credit".into()), limit: 1 << 30, ..Default::default() };
        let events = warden.metadata.audit_events(&query).await.unwrap();
        let entries = events.iter().filter(|e| e.event.action == warden_oversight::vouching::ACTION).count();
        eprintln!("{} hourly rounds in {:.0} s", days * 24, seeding.elapsed().as_secs_f64());

        let period = format!("last-{days}-days");
        let key = warden_proof::ledger::public_key(&warden);
        let (mut report, mut verify, mut documentation) = (Vec::new(), Vec::new(), Vec::new());
        let (mut figures, mut bytes, mut cited, mut breaches) = (0, 0, 0, String::new());
        for _ in 0..runs {
            let started = Instant::now();
            let document =
                warden_proof::docs::generate(&warden, &admin, "credit", None, "monitoring-report", Some(&period))
                    .await
                    .unwrap();
            report.push(started.elapsed().as_secs_f64() * 1e3);
            let started = Instant::now();
            let checked = warden_proof::docs::verify_document(&document.html, Some(&key));
            verify.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(checked.ok, "{:?}", checked.problems);
            (figures, bytes, cited) = (document.figures, document.html.len(), checked.entries);
            let drift = document.html.find("<h2 id=\"drift\">").unwrap();
            let paragraph = &document.html[drift..][..200];
            breaches = paragraph.split("<p>").nth(1).and_then(|p| p.split('<').next()).unwrap_or_default().to_owned();
            let started = Instant::now();
            warden_proof::docs::generate(&warden, &admin, "credit", None, "model-documentation", None).await.unwrap();
            documentation.push(started.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "\nmonitoring report of {days} days: {entries} monitor.hour entries; {figures} figures citing {cited} entries, {} KiB of HTML; {breaches}",
            bytes / 1024
        );
        println!("{:<48} {:>10}   runs (ms)", "", "median ms");
        for (name, values) in [
            ("monitoring report (HTML, bar 3000 ms)", &mut report),
            ("docs verify of that report (offline)", &mut verify),
            ("model documentation (HTML, bar 1000 ms)", &mut documentation),
        ] {
            let shown = values.iter().map(|ms| format!("{ms:.1}")).collect::<Vec<_>>().join(" / ");
            values.sort_by(f64::total_cmp);
            println!("{name:<48} {:>10.1}   {shown}", values[values.len() / 2]);
        }
    });
}
