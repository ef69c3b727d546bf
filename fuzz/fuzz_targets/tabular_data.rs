//! A reference/validation data file, read and profiled as registration reads it: CSV (first byte even) or
//! Parquet (odd).
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_lifecycle::dataset::{ColumnPlan, profile_file};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, bytes)) = data.split_first() else { return };
    let suffix = if choice % 2 == 0 { ".csv" } else { ".parquet" };
    let mut file = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    std::io::Write::write_all(&mut file, bytes).unwrap();
    let plan = ColumnPlan { target: (choice & 2 != 0).then(|| "risk".to_owned()), ..ColumnPlan::default() };
    let _ = profile_file(file.path(), &plan);
});
