//! Drift between a reference sample and a current sample of one feature.
//!
//! Numeric: KS ([`crate::ks`]), Wasserstein-1 (`scipy.stats.wasserstein_distance`) and the same over the
//! reference's population standard deviation, PSI and Jensen–Shannon distance on bins from the reference
//! deciles. Categorical: χ² on the 2 × K table (`scipy.stats.chi2_contingency(correction=False)`), PSI,
//! Jensen–Shannon and L∞ on category proportions, and categories unseen in the reference.
//! Every definition is the contract in the golden README, section 1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ks::{EcdfSteps, KsTest, ks_2samp_sorted};
use crate::quantile::{bin_counts_sorted, quantile_edges_sorted};

/// Default number of PSI / Jensen–Shannon bins: the reference deciles.
pub const DEFAULT_BINS: usize = 10;
use crate::special::chi2_sf;

/// Floor applied to each bin proportion before PSI (no renormalisation).
pub const PSI_FLOOR: f64 = 1e-4;

/// `sum((cur - ref) * ln(cur / ref))` with both proportions floored at [`PSI_FLOOR`].
pub fn psi(p_ref: &[f64], p_cur: &[f64]) -> f64 {
    p_ref
        .iter()
        .zip(p_cur)
        .map(|(&r, &c)| {
            let (r, c) = (r.max(PSI_FLOOR), c.max(PSI_FLOOR));
            (c - r) * (c / r).ln()
        })
        .sum()
}

/// `scipy.spatial.distance.jensenshannon(p, q)` with the natural log: each vector is normalised to sum 1.
pub fn js_distance(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let rel_entr = |x: f64, y: f64| {
        if x > 0.0 && y > 0.0 {
            x * (x / y).ln()
        } else if x == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    };
    let (mut left, mut right) = (0.0, 0.0);
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        left += rel_entr(a, m);
        right += rel_entr(b, m);
    }
    ((left + right) / 2.0).sqrt()
}

/// `scipy.stats.wasserstein_distance(a, b)` for ascending, NaN-free, non-empty samples.
pub fn wasserstein_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    // Between consecutive pooled values both CDFs are constant: sum |F_a - F_b| times the gap.
    let mut total = 0.0;
    let mut previous: Option<(f64, usize, usize)> = None;
    for (x, i, j) in EcdfSteps::new(a, b) {
        if let Some((p, pi, pj)) = previous {
            total += ((pi as f64 / na) - (pj as f64 / nb)).abs() * (x - p);
        }
        previous = Some((x, i, j));
    }
    total
}

/// Every numeric drift statistic of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericDrift {
    /// Reference rows (missing included).
    pub n_ref: u64,
    /// Current rows (missing included).
    pub n_cur: u64,
    /// Missing reference values.
    pub n_ref_missing: u64,
    /// Missing current values.
    pub n_cur_missing: u64,
    /// KS test on the non-missing values (`None` if either side has none).
    pub ks: Option<KsTest>,
    /// Wasserstein-1 distance on the non-missing values.
    pub wasserstein: Option<f64>,
    /// Wasserstein over the reference's population standard deviation (`None` when that is 0).
    pub wasserstein_normed: Option<f64>,
    /// PSI on the decile bins (plus a missing bin when either side has missing values).
    pub psi: f64,
    /// Jensen–Shannon distance on the unfloored bin proportions.
    pub js_distance: f64,
    /// Reference decile edges.
    pub edges: Vec<f64>,
    /// Reference counts per bin (missing bin last when present).
    pub ref_counts: Vec<u64>,
    /// Current counts per bin.
    pub cur_counts: Vec<u64>,
}

fn split_missing(values: &[f64]) -> (Vec<f64>, u64) {
    let mut present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    crate::sort::sort_floats(&mut present);
    let missing = (values.len() - present.len()) as u64;
    (present, missing)
}

pub(crate) fn proportions(counts: &[u64], total: u64) -> Vec<f64> {
    counts.iter().map(|&c| if total == 0 { 0.0 } else { c as f64 / total as f64 }).collect()
}

/// PSI of binned counts, missing values as one more bin when either side has any: the binning every numeric
/// PSI in Warden uses, whether the counts come from raw samples or from live windows.
pub fn binned_psi(ref_counts: &[u64], ref_missing: u64, cur_counts: &[u64], cur_missing: u64) -> f64 {
    let (p_ref, p_cur) = binned_proportions(ref_counts, ref_missing, cur_counts, cur_missing);
    psi(&p_ref, &p_cur)
}

/// Jensen–Shannon distance of binned counts, binned as [`binned_psi`] bins them.
pub fn binned_js(ref_counts: &[u64], ref_missing: u64, cur_counts: &[u64], cur_missing: u64) -> f64 {
    let (p_ref, p_cur) = binned_proportions(ref_counts, ref_missing, cur_counts, cur_missing);
    js_distance(&p_ref, &p_cur)
}

/// The proportions [`binned_psi`] and [`binned_js`] compare: missing values as one more bin when either side has any.
pub(crate) fn binned_proportions(
    ref_counts: &[u64],
    ref_missing: u64,
    cur_counts: &[u64],
    cur_missing: u64,
) -> (Vec<f64>, Vec<f64>) {
    let (mut r, mut c) = (ref_counts.to_vec(), cur_counts.to_vec());
    if ref_missing > 0 || cur_missing > 0 {
        r.push(ref_missing);
        c.push(cur_missing);
    }
    let (n_ref, n_cur) = (r.iter().sum(), c.iter().sum());
    (proportions(&r, n_ref), proportions(&c, n_cur))
}

/// Numeric drift from raw samples (NaN = missing). Sorts copies of both.
pub fn numeric_drift(reference: &[f64], current: &[f64]) -> NumericDrift {
    let (r, r_missing) = split_missing(reference);
    let (c, c_missing) = split_missing(current);
    numeric_drift_sorted(&r, r_missing, &c, c_missing, DEFAULT_BINS)
}

/// Numeric drift from ascending non-missing values and missing counts, with `bins` equal-frequency reference
/// bins for PSI and Jensen–Shannon (outer bins open-ended).
pub fn numeric_drift_sorted(r: &[f64], r_missing: u64, c: &[f64], c_missing: u64, bins: usize) -> NumericDrift {
    let edges = quantile_edges_sorted(r, bins);
    let mut ref_counts = bin_counts_sorted(r, &edges);
    let mut cur_counts = bin_counts_sorted(c, &edges);
    let (p_ref, p_cur) = binned_proportions(&ref_counts, r_missing, &cur_counts, c_missing);
    if r_missing > 0 || c_missing > 0 {
        ref_counts.push(r_missing);
        cur_counts.push(c_missing);
    }
    let (n_ref, n_cur) = (r.len() as u64 + r_missing, c.len() as u64 + c_missing);
    let both = !r.is_empty() && !c.is_empty();
    let wasserstein = both.then(|| wasserstein_sorted(r, c));
    let std = (!r.is_empty()).then(|| crate::profile::population_std(r));
    let wasserstein_normed = match (wasserstein, std) {
        (Some(w), Some(s)) if s > 0.0 => Some(w / s),
        _ => None,
    };
    NumericDrift {
        n_ref,
        n_cur,
        n_ref_missing: r_missing,
        n_cur_missing: c_missing,
        ks: ks_2samp_sorted(r, c),
        wasserstein,
        wasserstein_normed,
        psi: psi(&p_ref, &p_cur),
        js_distance: js_distance(&p_ref, &p_cur),
        edges,
        ref_counts,
        cur_counts,
    }
}

/// The χ² test of a 2 × K table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Chi2Test {
    /// Pearson's statistic (no continuity correction).
    pub statistic: f64,
    /// p-value.
    pub pvalue: f64,
    /// Degrees of freedom (K - 1).
    pub dof: u64,
}

/// Every categorical drift statistic of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalDrift {
    /// Reference rows.
    pub n_ref: u64,
    /// Current rows.
    pub n_cur: u64,
    /// Union of categories, in byte order.
    pub categories: Vec<String>,
    /// Reference counts per category.
    pub ref_counts: Vec<u64>,
    /// Current counts per category.
    pub cur_counts: Vec<u64>,
    /// χ² test (`None` when either sample is empty).
    pub chi2: Option<Chi2Test>,
    /// PSI on category proportions.
    pub psi: f64,
    /// Jensen–Shannon distance on category proportions.
    pub js_distance: f64,
    /// Largest absolute difference of proportions.
    pub linf: f64,
    /// Current rows whose category never occurs in the reference.
    pub unseen_count: u64,
    /// Those categories.
    pub unseen_categories: Vec<String>,
}

/// `scipy.stats.chi2_contingency(table, correction=False)` for a 2 × K table of counts.
pub fn chi2_two_rows(row0: &[u64], row1: &[u64]) -> Option<Chi2Test> {
    let (s0, s1): (u64, u64) = (row0.iter().sum(), row1.iter().sum());
    if s0 == 0 || s1 == 0 || row0.is_empty() {
        return None;
    }
    if row0.len() == 1 {
        return Some(Chi2Test { statistic: 0.0, pvalue: 1.0, dof: 0 });
    }
    let total = (s0 + s1) as f64;
    let mut statistic = 0.0;
    for (&a, &b) in row0.iter().zip(row1) {
        let column = (a + b) as f64;
        for (observed, row_sum) in [(a, s0), (b, s1)] {
            let expected = row_sum as f64 * column / total;
            statistic += (observed as f64 - expected).powi(2) / expected;
        }
    }
    let dof = row0.len() as u64 - 1;
    Some(Chi2Test { statistic, pvalue: chi2_sf(statistic, dof as f64), dof })
}

/// The union of both samples' categories in byte order, with each sample's count per category.
pub(crate) fn category_counts(
    reference: &BTreeMap<String, u64>,
    current: &BTreeMap<String, u64>,
) -> (Vec<String>, Vec<u64>, Vec<u64>) {
    let mut categories: Vec<String> = reference.keys().chain(current.keys()).cloned().collect();
    categories.sort();
    categories.dedup();
    let count = |map: &BTreeMap<String, u64>, c: &String| map.get(c).copied().unwrap_or(0);
    let ref_counts = categories.iter().map(|c| count(reference, c)).collect();
    let cur_counts = categories.iter().map(|c| count(current, c)).collect();
    (categories, ref_counts, cur_counts)
}

/// Categorical drift from category counts of each sample.
pub fn categorical_drift(reference: &BTreeMap<String, u64>, current: &BTreeMap<String, u64>) -> CategoricalDrift {
    let (categories, ref_counts, cur_counts) = category_counts(reference, current);
    let count = |map: &BTreeMap<String, u64>, c: &String| map.get(c).copied().unwrap_or(0);
    let (n_ref, n_cur) = (ref_counts.iter().sum::<u64>(), cur_counts.iter().sum::<u64>());
    let (p_ref, p_cur) = (proportions(&ref_counts, n_ref), proportions(&cur_counts, n_cur));
    let unseen_categories: Vec<String> = categories.iter().filter(|c| count(reference, c) == 0).cloned().collect();
    let unseen_count = unseen_categories.iter().map(|c| count(current, c)).sum();
    CategoricalDrift {
        n_ref,
        n_cur,
        chi2: chi2_two_rows(&ref_counts, &cur_counts),
        psi: psi(&p_ref, &p_cur),
        js_distance: js_distance(&p_ref, &p_cur),
        linf: p_ref.iter().zip(&p_cur).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max),
        categories,
        ref_counts,
        cur_counts,
        unseen_count,
        unseen_categories,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::golden_tests::check;

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
    }

    fn counts(v: &Value) -> Vec<u64> {
        v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
    }

    /// Every golden drift case (scipy 1.17.1, numpy 2.4.6), every statistic, at the stated tolerances.
    #[test]
    fn drift_statistics_match_scipy_golden_cases() {
        let golden: Value =
            serde_json::from_str(&warden_testdata::read_to_string("stats/golden/drift_cases.json")).unwrap();
        let mut checked = 0;
        for case in golden["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let e = &case["expected"];
            if case["kind"] == "numeric" {
                let d = numeric_drift(&floats(&case["ref"]), &floats(&case["cur"]));
                assert_eq!(
                    (d.n_ref_missing, d.n_cur_missing),
                    (e["n_ref_missing"].as_u64().unwrap(), e["n_cur_missing"].as_u64().unwrap()),
                    "{name}"
                );
                let ks = d.ks.unwrap();
                check(&format!("{name} ks statistic"), ks.statistic, e["ks"]["statistic"].as_f64().unwrap());
                let pvalue = e["ks"]["pvalue"].as_f64().unwrap();
                assert!((ks.pvalue - pvalue).abs() <= 1e-6, "{name}: ks pvalue {} vs golden {pvalue}", ks.pvalue);
                let method = serde_json::to_value(ks.method).unwrap();
                assert_eq!(method, e["ks"]["method_used"], "{name}");
                check(&format!("{name} wasserstein"), d.wasserstein.unwrap(), e["wasserstein"].as_f64().unwrap());
                match e["wasserstein_normed"].as_f64() {
                    Some(w) => check(&format!("{name} wasserstein_normed"), d.wasserstein_normed.unwrap(), w),
                    None => assert!(d.wasserstein_normed.is_none(), "{name}"),
                }
                assert_eq!(d.edges, floats(&e["edges"]), "{name}");
                assert_eq!(d.ref_counts, counts(&e["ref_counts"]), "{name}");
                assert_eq!(d.cur_counts, counts(&e["cur_counts"]), "{name}");
                check(&format!("{name} psi"), d.psi, e["psi"].as_f64().unwrap());
                check(&format!("{name} js"), d.js_distance, e["js_distance"].as_f64().unwrap());
            } else {
                let tally = |values: &Value| {
                    let mut map = BTreeMap::new();
                    for v in values.as_array().unwrap() {
                        *map.entry(v.as_str().unwrap().to_owned()).or_insert(0u64) += 1;
                    }
                    map
                };
                let d = categorical_drift(&tally(&case["ref"]), &tally(&case["cur"]));
                let categories: Vec<&str> =
                    e["categories"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
                assert_eq!(d.categories, categories, "{name}");
                assert_eq!(d.ref_counts, counts(&e["ref_counts"]), "{name}");
                assert_eq!(d.cur_counts, counts(&e["cur_counts"]), "{name}");
                let chi2 = d.chi2.unwrap();
                check(&format!("{name} chi2"), chi2.statistic, e["chi2"]["statistic"].as_f64().unwrap());
                let pvalue = e["chi2"]["pvalue"].as_f64().unwrap();
                assert!((chi2.pvalue - pvalue).abs() <= 1e-6, "{name}: chi2 pvalue {} vs {pvalue}", chi2.pvalue);
                assert_eq!(chi2.dof, e["chi2"]["dof"].as_u64().unwrap(), "{name}");
                check(&format!("{name} psi"), d.psi, e["psi"].as_f64().unwrap());
                check(&format!("{name} js"), d.js_distance, e["js_distance"].as_f64().unwrap());
                check(&format!("{name} linf"), d.linf, e["linf"].as_f64().unwrap());
                assert_eq!(d.unseen_count, e["unseen_count"].as_u64().unwrap(), "{name}");
                let unseen: Vec<&str> =
                    e["unseen_categories"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
                assert_eq!(d.unseen_categories, unseen, "{name}");
            }
            checked += 1;
        }
        assert_eq!(checked, 39);
    }

    #[test]
    fn identical_samples_have_no_drift_and_statistics_are_symmetric() {
        let a: Vec<f64> = (0..500).map(|i| ((i * 7919) % 1000) as f64 / 7.0).collect();
        let b: Vec<f64> = (0..400).map(|i| ((i * 104_729) % 997) as f64 / 6.0 + 3.0).collect();
        let same = numeric_drift(&a, &a);
        assert_eq!(same.psi, 0.0);
        assert_eq!(same.js_distance, 0.0);
        assert_eq!(same.ks.unwrap().pvalue, 1.0);
        let (ab, ba) = (numeric_drift(&a, &b), numeric_drift(&b, &a));
        assert_eq!(ab.ks.unwrap().statistic, ba.ks.unwrap().statistic);
        assert!((ab.ks.unwrap().pvalue - ba.ks.unwrap().pvalue).abs() < 1e-12);
        assert!((ab.wasserstein.unwrap() - ba.wasserstein.unwrap()).abs() < 1e-12);
        assert!((0.0..=1.0).contains(&ab.ks.unwrap().pvalue));
    }
}
