//! Gate decision latency with the default bundle on a complete high-risk input.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use warden_policy::{Bundle, Gate};

fn input() -> serde_json::Value {
    let psi: serde_json::Map<String, serde_json::Value> =
        (0..20).map(|i| (format!("feature_{i}"), json!(0.01 * i as f64))).collect();
    json!({
        "model": {"name": "credit", "risk_tier": "high", "owner": "retail-risk"},
        "version": {"number": 3, "format": "onnx", "created_by": "dana", "training_data_sha256": "ab12",
                    "code_ref": "git:4e1a", "protected": ["sex", "race"]},
        "validation": {"version": 3, "created_at": 1_700_000_000, "auc": 0.81, "auc_lower": 0.78, "ece": 0.03,
                       "max_feature_psi": 0.19, "psi": psi, "score_psi": 0.02,
                       "fairness": {"sex": {"disparate_impact": 0.9}, "race": {"disparate_impact": 0.85}}},
        "approvals": [{"by": "vera", "role": "validator", "decision": "approve", "comment": "fine"},
                      {"by": "victor", "role": "validator", "decision": "approve", "comment": "fine"},
                      {"by": "rita", "role": "risk-officer", "decision": "approve", "comment": "fine"}],
        "target": {"alias": "champion"},
        "now": 1_700_100_000
    })
}

fn gate(c: &mut Criterion) {
    let bundle = Bundle::default_bundle();
    let mut gate = Gate::compile(&bundle).expect("default bundle compiles");
    let input = input();
    assert!(gate.decide(&input).unwrap().allow);
    c.bench_function("gate decision (default bundle, high risk, 20 features)", |b| {
        b.iter(|| gate.decide(std::hint::black_box(&input)).unwrap())
    });
    c.bench_function("compile the default bundle", |b| {
        b.iter(|| Gate::compile(std::hint::black_box(&bundle)).unwrap())
    });
}

criterion_group!(benches, gate);
criterion_main!(benches);
