//! A reference/validation data file, read and profiled as registration reads it: CSV (first byte even) or
//! Parquet (odd).
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_registry::dataset::{ColumnPlan, profile_file};

fuzz_target!(|data: &[u8]| {
    contained_panics_are_not_crashes();
    let Some((&choice, bytes)) = data.split_first() else { return };
    let suffix = if choice % 2 == 0 { ".csv" } else { ".parquet" };
    let mut file = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    std::io::Write::write_all(&mut file, bytes).unwrap();
    let plan = ColumnPlan { target: (choice & 2 != 0).then(|| "risk".to_owned()), ..ColumnPlan::default() };
    let _ = profile_file(file.path(), &plan);
});

/// Warden contains the panics some dependencies raise on malformed input (`catch_unwind`, turned into a
/// refusal); libFuzzer's hook would abort on them anyway. This hook only prints: a panic that escapes Warden
/// still reaches libfuzzer-sys's own `catch_unwind` and aborts, so it is still reported as a crash.
fn contained_panics_are_not_crashes() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("panic (contained unless the run aborts): {info}"))));
}
