//! Any text as a bundle's `gate.rego` (with the default bundle's `limits.json` beside it), compiled and asked
//! for a decision: a clear error (syntax, recursion, the evaluation limit) or a decision, never a crash or a
//! stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_policy::{Bundle, Gate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut files = Bundle::default_bundle().files().clone();
    files.retain(|path, _| path.ends_with(".json"));
    files.insert("gate.rego".into(), text.to_owned());
    let Ok(bundle) = Bundle::from_files(files) else { return };
    let Ok(mut gate) = Gate::compile(&bundle) else { return };
    let _ = gate.decide(&serde_json::json!({"model": {"risk_tier": "high"}, "approvals": []}));
});
