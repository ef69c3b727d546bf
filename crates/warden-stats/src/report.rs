//! A drift report for one feature: every drift statistic, data quality on both sides, and a verdict.
//!
//! The statistics come from [`crate::drift`]; this module only gathers them under their plain names and
//! decides the verdict from stated bands.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::drift::{CategoricalDrift, NumericDrift, categorical_drift, numeric_drift_sorted};

/// Fewest rows on either side for which drift gets a verdict rather than "insufficient".
pub const MIN_ROWS_FOR_DRIFT: u64 = 30;

/// PSI bands for the verdict, and the number of PSI bins.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftBands {
    /// PSI at or above this warns.
    pub psi_warn: f64,
    /// PSI at or above this alerts.
    pub psi_alert: f64,
    /// Equal-frequency reference bins for PSI and Jensen–Shannon on numeric features.
    pub bins: usize,
}

impl Default for DriftBands {
    /// The industry's usual bands, 0.10 and 0.25, on reference deciles.
    fn default() -> Self {
        DriftBands { psi_warn: 0.10, psi_alert: 0.25, bins: crate::drift::DEFAULT_BINS }
    }
}

/// A feature's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Below the warning band.
    Ok,
    /// In the warning band.
    Warn,
    /// At or above the alert band.
    Alert,
    /// Too few rows to judge.
    Insufficient,
}

/// One feature's values as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValues {
    /// Numbers; NaN marks a missing value.
    Numeric {
        /// The values, NaN = missing (infinities and unparsable cells are counted apart and not included).
        values: Vec<f64>,
        /// Infinite values seen.
        non_finite: u64,
        /// Cells that were not numbers.
        type_violations: u64,
    },
    /// Categories with their counts.
    Categorical {
        /// Count per category.
        counts: BTreeMap<String, u64>,
        /// Missing values.
        missing: u64,
    },
}

/// Data quality of one side of one feature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Rows.
    pub rows: u64,
    /// Missing values.
    pub missing: u64,
    /// missing / rows.
    pub missing_rate: f64,
    /// Infinite values.
    pub non_finite: u64,
    /// Cells of the wrong type.
    pub type_violations: u64,
    /// Values outside the reference range (numeric, current side).
    pub out_of_range: Option<u64>,
    /// Rows whose category the reference never saw (categorical, current side).
    pub unseen_categories: Option<u64>,
}

/// The drift statistics of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FeatureDrift {
    /// Numeric statistics.
    Numeric(NumericDrift),
    /// Categorical statistics.
    Categorical(CategoricalDrift),
}

/// Everything about one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureReport {
    /// Feature name.
    pub name: String,
    /// The statistics.
    pub drift: FeatureDrift,
    /// Reference data quality.
    pub reference_quality: Quality,
    /// Current data quality.
    pub current_quality: Quality,
    /// Verdict from the PSI bands.
    pub verdict: Verdict,
}

impl FeatureReport {
    /// The statistics under their plain names, in report order (`None` where undefined).
    pub fn statistics(&self) -> Vec<(&'static str, Option<f64>)> {
        match &self.drift {
            FeatureDrift::Numeric(d) => vec![
                ("ks_statistic", d.ks.map(|k| k.statistic)),
                ("ks_pvalue", d.ks.map(|k| k.pvalue)),
                ("psi", Some(d.psi)),
                ("js_distance", Some(d.js_distance)),
                ("wasserstein", d.wasserstein),
                ("wasserstein_normed", d.wasserstein_normed),
            ],
            FeatureDrift::Categorical(d) => vec![
                ("chi2_statistic", d.chi2.map(|c| c.statistic)),
                ("chi2_pvalue", d.chi2.map(|c| c.pvalue)),
                ("chi2_dof", d.chi2.map(|c| c.dof as f64)),
                ("psi", Some(d.psi)),
                ("js_distance", Some(d.js_distance)),
                ("linf", Some(d.linf)),
                ("unseen_count", Some(d.unseen_count as f64)),
            ],
        }
    }

    /// The feature's PSI.
    pub fn psi(&self) -> f64 {
        match &self.drift {
            FeatureDrift::Numeric(d) => d.psi,
            FeatureDrift::Categorical(d) => d.psi,
        }
    }
}

fn quality(rows: u64, missing: u64, non_finite: u64, type_violations: u64) -> Quality {
    Quality {
        rows,
        missing,
        missing_rate: if rows == 0 { 0.0 } else { missing as f64 / rows as f64 },
        non_finite,
        type_violations,
        out_of_range: None,
        unseen_categories: None,
    }
}

/// Compares one feature's reference and current values.
pub fn feature_report(
    name: &str,
    reference: FeatureValues,
    current: FeatureValues,
    bands: DriftBands,
) -> FeatureReport {
    let (drift, reference_quality, current_quality) = match (reference, current) {
        (
            FeatureValues::Numeric { values: r, non_finite: rnf, type_violations: rtv },
            FeatureValues::Numeric { values: c, non_finite: cnf, type_violations: ctv },
        ) => {
            let (rows_r, rows_c) = (r.len() as u64 + rnf + rtv, c.len() as u64 + cnf + ctv);
            let (r, r_missing) = present_sorted(r);
            let (c, c_missing) = present_sorted(c);
            // Infinities and unparsable cells are missing for drift, and counted apart for quality.
            let (r_missing, c_missing) = (r_missing + rnf + rtv, c_missing + cnf + ctv);
            let mut current_quality = quality(rows_c, c_missing - cnf - ctv, cnf, ctv);
            if let (Some(lo), Some(hi)) = (r.first(), r.last()) {
                current_quality.out_of_range = Some(c.iter().filter(|&&v| v < *lo || v > *hi).count() as u64);
            }
            let drift = numeric_drift_sorted(&r, r_missing, &c, c_missing, bands.bins);
            (FeatureDrift::Numeric(drift), quality(rows_r, r_missing - rnf - rtv, rnf, rtv), current_quality)
        }
        (
            FeatureValues::Categorical { counts: r, missing: rm },
            FeatureValues::Categorical { counts: c, missing: cm },
        ) => {
            let drift = categorical_drift(&r, &c);
            let reference_quality = quality(drift.n_ref + rm, rm, 0, 0);
            let mut current_quality = quality(drift.n_cur + cm, cm, 0, 0);
            current_quality.unseen_categories = Some(drift.unseen_count);
            (FeatureDrift::Categorical(drift), reference_quality, current_quality)
        }
        (reference, current) => {
            // A type mismatch between the files: read both as categories so the report still says something.
            let (r, rm) = as_categories(reference);
            let (c, cm) = as_categories(current);
            let drift = categorical_drift(&r, &c);
            let (reference_quality, current_quality) =
                (quality(drift.n_ref + rm, rm, 0, 0), quality(drift.n_cur + cm, cm, 0, 0));
            (FeatureDrift::Categorical(drift), reference_quality, current_quality)
        }
    };
    let enough = reference_quality.rows.min(current_quality.rows) >= MIN_ROWS_FOR_DRIFT;
    let psi = match &drift {
        FeatureDrift::Numeric(d) => d.psi,
        FeatureDrift::Categorical(d) => d.psi,
    };
    let verdict = if !enough {
        Verdict::Insufficient
    } else if psi >= bands.psi_alert {
        Verdict::Alert
    } else if psi >= bands.psi_warn {
        Verdict::Warn
    } else {
        Verdict::Ok
    };
    FeatureReport { name: name.to_owned(), drift, reference_quality, current_quality, verdict }
}

fn present_sorted(values: Vec<f64>) -> (Vec<f64>, u64) {
    let total = values.len();
    let mut present: Vec<f64> = values;
    present.retain(|v| !v.is_nan());
    let missing = (total - present.len()) as u64;
    crate::sort::sort_floats(&mut present);
    (present, missing)
}

fn as_categories(values: FeatureValues) -> (BTreeMap<String, u64>, u64) {
    match values {
        FeatureValues::Categorical { counts, missing } => (counts, missing),
        FeatureValues::Numeric { values, .. } => {
            let mut counts = BTreeMap::new();
            let mut missing = 0;
            for v in values {
                if v.is_nan() {
                    missing += 1;
                } else {
                    *counts.entry(v.to_string()).or_insert(0) += 1;
                }
            }
            (counts, missing)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(values: Vec<f64>) -> FeatureValues {
        FeatureValues::Numeric { values, non_finite: 0, type_violations: 0 }
    }

    #[test]
    fn verdict_follows_the_bands_and_small_samples_are_insufficient() {
        let reference: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let same = feature_report("x", numeric(reference.clone()), numeric(reference.clone()), DriftBands::default());
        assert_eq!(same.verdict, Verdict::Ok);
        let shifted: Vec<f64> = reference.iter().map(|v| v + 400.0).collect();
        let moved = feature_report("x", numeric(reference.clone()), numeric(shifted), DriftBands::default());
        assert_eq!(moved.verdict, Verdict::Alert);
        assert_eq!(moved.current_quality.out_of_range, Some(400));
        let tiny = feature_report("x", numeric(reference), numeric(vec![1.0, 2.0]), DriftBands::default());
        assert_eq!(tiny.verdict, Verdict::Insufficient);
        let names: Vec<&str> = same.statistics().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["ks_statistic", "ks_pvalue", "psi", "js_distance", "wasserstein", "wasserstein_normed"]);
    }

    #[test]
    fn a_type_mismatch_is_compared_as_categories_with_its_real_row_counts() {
        let reference = numeric((0..100).map(|i| f64::from(i % 3)).collect());
        let mut counts = BTreeMap::new();
        counts.insert("0".to_owned(), 40);
        counts.insert("7".to_owned(), 50);
        let current = FeatureValues::Categorical { counts, missing: 10 };
        let report = feature_report("x", reference, current, DriftBands::default());
        assert_eq!((report.reference_quality.rows, report.current_quality.rows), (100, 100));
        assert_eq!(report.current_quality.missing, 10);
        assert_eq!(report.verdict, Verdict::Alert, "enough rows for a verdict; '7' was never seen");
    }

    #[test]
    fn quality_counts_missing_infinite_and_wrong_types() {
        let reference =
            FeatureValues::Numeric { values: (0..100).map(f64::from).collect(), non_finite: 0, type_violations: 0 };
        let mut values: Vec<f64> = (0..90).map(f64::from).collect();
        values.extend([f64::NAN; 5]);
        let current = FeatureValues::Numeric { values, non_finite: 2, type_violations: 3 };
        let report = feature_report("x", reference, current, DriftBands::default());
        let q = report.current_quality;
        assert_eq!((q.rows, q.missing, q.non_finite, q.type_violations), (100, 5, 2, 3));
        assert_eq!(q.missing_rate, 0.05);
        let FeatureDrift::Numeric(d) = &report.drift else { panic!() };
        assert_eq!(d.n_cur_missing, 10, "infinite and unparsable cells are missing for drift");
    }
}
