//! Gate decision latency, input assembly included: `governance::gate_check` on a validated, approved
//! version of the German credit model (reads the model, version, latest validation report, approvals and
//! alias from SQLite, evaluates the bundle in force), without and with recording the decision (one SQLite
//! commit with fsync). Prints p50, p99 and max.

use std::time::Instant;

use warden_lifecycle::Warden;
use warden_oversight::governance::{self, Verdict};
use warden_oversight::validation::{self, ValidationRequest};
use warden_registry::Config;
use warden_registry::artifact_format::ArtifactFormat;
use warden_registry::auth::{Principal, Role};
use warden_registry::dataset::ColumnPlan;
use warden_registry::registry::{self, Lineage, ModelInput, RiskTier, ServingConfig, VersionRequest};

fn principal(name: &str, role: Role) -> Principal {
    Principal::token(name, role)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let german = warden_testdata::path("datasets/german.csv");
    let artifact = warden_testdata::path("models/lr_german_linear.json");
    runtime.block_on(async {
        let (warden, _) = Warden::open(Config::new(dir.path())).await.unwrap();
        let (dana, vera, victor, rita) = (
            principal("dana", Role::DataScientist),
            principal("vera", Role::Validator),
            principal("victor", Role::Validator),
            principal("rita", Role::RiskOfficer),
        );
        let input = ModelInput {
            name: "credit".into(),
            description: String::new(),
            owner: "retail-risk".into(),
            risk_tier: RiskTier::High,
            use_case: "credit origination".into(),
            business_line: "retail".into(),
            tags: Vec::new(),
        };
        registry::create_model(&warden, &dana, input).await.unwrap();
        let request = VersionRequest {
            format: ArtifactFormat::LinearJson,
            columns: ColumnPlan {
                target: Some("risk".into()),
                protected: vec!["sex".into()],
                exclude: Vec::new(),
                score: None,
                schema: None,
            },
            lineage: Lineage {
                training_data_sha256: Some("9".repeat(64)),
                training_data_rows: Some(700),
                code_ref: Some("git:4e1a".into()),
                ..Lineage::default()
            },
            serving: ServingConfig::default(),
            encodings: Default::default(),
            unknown_category: None,
        };
        let store = warden.artifacts();
        let (a, r) =
            (store.stage_file(&artifact, 1 << 30).await.unwrap(), store.stage_file(&german, 1 << 30).await.unwrap());
        registry::register_version(&warden, &dana, "credit", request, a, r).await.unwrap();
        let data = store.stage_file(&german, 1 << 30).await.unwrap();
        let request = ValidationRequest {
            target: "risk".into(),
            protected: Vec::new(),
            bad_value: Some("0".into()),
            scenarios: None,
        };
        validation::validate(&warden, &vera, "credit", "1", request, data).await.unwrap();
        for who in [&vera, &victor, &rita] {
            governance::approve(&warden, who, "credit", "1", Verdict::Approve, "reviewed").await.unwrap();
        }
        let first = governance::gate_check(&warden, &dana, "credit", "1", "champion").await.unwrap();
        assert!(first.decision.allow, "{:?}", first.decision);

        let runs = 2_000;
        let mut preview = Vec::with_capacity(runs);
        let mut recorded = Vec::with_capacity(runs);
        // Two separate loops: the recorded check's commits would otherwise disturb the preview's timings.
        for _ in 0..runs {
            let started = Instant::now();
            let (decision, _) = governance::evaluate_gate(&warden, &dana, "credit", "1", "champion").await.unwrap();
            preview.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(decision.allow);
        }
        for _ in 0..runs {
            let started = Instant::now();
            let decision = governance::gate_check(&warden, &dana, "credit", "1", "champion").await.unwrap();
            recorded.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(decision.decision.allow);
        }
        println!(
            "{:<72} {:>9} {:>9} {:>9}",
            format!("gate decision, default bundle, {runs} runs"),
            "p50 ms",
            "p99 ms",
            "max ms"
        );
        for (label, times) in [
            ("assemble input + evaluate (evaluate_gate)", &mut preview),
            ("assemble input + evaluate + record durably (gate_check, fsync)", &mut recorded),
        ] {
            times.sort_by(f64::total_cmp);
            println!(
                "{label:<72} {:>9.3} {:>9.3} {:>9.3}",
                percentile(times, 0.5),
                percentile(times, 0.99),
                times[times.len() - 1]
            );
        }
    });
}
