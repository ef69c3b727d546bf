//! Any JSON document as the gate's input to the default policy bundle: the decision must come back (deny
//! with reasons), never an engine error or a crash.
#![no_main]

use std::sync::{LazyLock, Mutex};

use libfuzzer_sys::fuzz_target;
use warden_policy::{Bundle, Gate};

static GATE: LazyLock<Mutex<Gate>> = LazyLock::new(|| Mutex::new(Gate::compile(&Bundle::default_bundle()).unwrap()));

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let mut gate = GATE.lock().unwrap();
    let _ = gate.decide(&input);
});
