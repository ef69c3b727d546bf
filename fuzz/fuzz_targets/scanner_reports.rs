//! Scanner reports from untrusted bytes, read as each of the four formats: a report or a clear refusal,
//! never a panic; what reads is within the budget.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::ScanFormat;

fuzz_target!(|data: &[u8]| {
    for &format in ScanFormat::ALL {
        if let Ok(report) = warden_scans::read(format, data) {
            assert!(report.findings.len() <= warden_scans::MAX_FINDINGS);
            for finding in &report.findings {
                assert!(finding.description.chars().count() <= warden_scans::DESCRIPTION_CHARS + 1);
            }
        }
    }
});
