//! A feature's reference and current distributions side by side, over the bins its drift statistics use, so
//! that a reviewer sees *how* a feature shifted, not only by how much (Evidently draws the same comparison).
//!
//! Numeric features are compared over the reference's decile bins with missing values as one more bin when
//! either side has any, categorical features over the union of both sides' categories: exactly the bins and
//! proportions [`crate::drift::binned_psi`] and [`crate::drift::categorical_drift`] compute PSI on.
//! A live window keeps only its counts ([`WindowCounts`]); the reference side comes from the version's
//! [`ColumnSummary`], so an evaluation stores a few integers per feature.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::drift::{binned_proportions, category_counts, proportions};
use crate::profile::ColumnSummary;

/// A window's values of one feature counted over its reference's bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum WindowCounts {
    /// A numeric feature: counts in the reference's right-closed decile bins (`edges + 1` of them).
    Numeric {
        /// Count per bin.
        bins: Vec<u64>,
        /// Missing or non-finite values.
        missing: u64,
    },
    /// A categorical feature: count per category seen in the window.
    Categorical {
        /// Count per category.
        categories: BTreeMap<String, u64>,
        /// Missing values.
        missing: u64,
    },
}

/// How many categories the reference never had a window keeps by name; the rest are pooled under
/// [`OTHER_UNSEEN`], so a flood of new values (identifiers, say) cannot grow what an evaluation stores.
pub const MAX_UNSEEN_KEPT: usize = 20;

/// The pooled category of the unseen categories past [`MAX_UNSEEN_KEPT`].
pub const OTHER_UNSEEN: &str = "(other unseen categories)";

impl WindowCounts {
    /// A categorical window's counts: every category of the reference, the [`MAX_UNSEEN_KEPT`] most frequent
    /// unseen ones, and the other unseen ones pooled.
    pub fn categorical(counts: &BTreeMap<String, u64>, reference: &BTreeMap<String, u64>, missing: u64) -> Self {
        let mut categories = BTreeMap::new();
        let mut unseen: Vec<(&String, u64)> = Vec::new();
        for (name, &n) in counts {
            if reference.contains_key(name) {
                categories.insert(name.clone(), n);
            } else {
                unseen.push((name, n));
            }
        }
        unseen.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let pooled: u64 = unseen.iter().skip(MAX_UNSEEN_KEPT).map(|(_, n)| n).sum();
        categories.extend(unseen.into_iter().take(MAX_UNSEEN_KEPT).map(|(name, n)| (name.clone(), n)));
        if pooled > 0 {
            *categories.entry(OTHER_UNSEEN.to_owned()).or_default() += pooled;
        }
        WindowCounts::Categorical { categories, missing }
    }
}

/// One bin of a [`Distribution`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Bin {
    /// Numbers in `(above, up_to]`; an open end is `None` (the outer decile bins are unbounded).
    Interval {
        /// Exclusive lower end.
        above: Option<f64>,
        /// Inclusive upper end.
        up_to: Option<f64>,
    },
    /// One category.
    Category {
        /// Its value.
        name: String,
        /// The reference never had it.
        unseen: bool,
    },
    /// Missing values.
    Missing,
}

/// Reference and current shares over the same bins. Each side's shares sum to 1 unless that side is empty
/// (then all are 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// The bins, in order (intervals ascending, missing last; categories in byte order).
    pub bins: Vec<Bin>,
    /// Share of the reference in each bin.
    pub reference: Vec<f64>,
    /// Share of the current window in each bin.
    pub current: Vec<f64>,
    /// Reference values counted (missing included for numeric features).
    pub reference_count: u64,
    /// Current values counted.
    pub current_count: u64,
}

/// The distributions of a window against its reference, or `None` when the two do not describe the same
/// feature (a numeric window against a categorical reference, or bin counts of other edges).
pub fn compare(reference: &ColumnSummary, window: &WindowCounts) -> Option<Distribution> {
    match (reference, window) {
        (ColumnSummary::Numeric(r), WindowCounts::Numeric { bins, missing }) => {
            if bins.len() != r.bin_counts.len() || r.bin_counts.len() != r.decile_edges.len() + 1 {
                return None;
            }
            let (reference_shares, current_shares) = binned_proportions(&r.bin_counts, r.missing, bins, *missing);
            let edges = &r.decile_edges;
            let mut labels: Vec<Bin> = (0..=edges.len())
                .map(|i| Bin::Interval { above: i.checked_sub(1).map(|j| edges[j]), up_to: edges.get(i).copied() })
                .collect();
            if reference_shares.len() > labels.len() {
                labels.push(Bin::Missing);
            }
            Some(Distribution {
                bins: labels,
                reference: reference_shares,
                current: current_shares,
                reference_count: r.bin_counts.iter().sum::<u64>() + r.missing,
                current_count: bins.iter().sum::<u64>() + missing,
            })
        }
        (ColumnSummary::Categorical(r), WindowCounts::Categorical { categories, .. }) => {
            let (names, reference_counts, current_counts) = category_counts(&r.frequencies, categories);
            let (reference_count, current_count) =
                (reference_counts.iter().sum::<u64>(), current_counts.iter().sum::<u64>());
            Some(Distribution {
                bins: names
                    .into_iter()
                    .map(|name| Bin::Category { unseen: !r.frequencies.contains_key(&name), name })
                    .collect(),
                reference: proportions(&reference_counts, reference_count),
                current: proportions(&current_counts, current_count),
                reference_count,
                current_count,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::{binned_psi, categorical_drift, psi};
    use crate::profile::{CategoricalSummary, NumericSummary, summarise_numeric};
    use crate::quantile::bin_index;

    fn numeric_reference(values: &[f64], missing: u64) -> (NumericSummary, ColumnSummary) {
        let summary = summarise_numeric(values.to_vec(), missing);
        (summary.clone(), ColumnSummary::Numeric(summary))
    }

    fn window(values: &[f64], edges: &[f64]) -> (Vec<u64>, u64) {
        let mut bins = vec![0; edges.len() + 1];
        let mut missing = 0;
        for &v in values {
            if v.is_nan() { missing += 1 } else { bins[bin_index(edges, v)] += 1 }
        }
        (bins, missing)
    }

    fn sums_to_one(shares: &[f64]) {
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{shares:?}");
    }

    #[test]
    fn a_numeric_window_is_compared_over_the_references_decile_bins() {
        let reference: Vec<f64> = (18..=75).map(f64::from).collect();
        let (summary, column) = numeric_reference(&reference, 0);
        let current: Vec<f64> = (40..=80).map(f64::from).collect();
        let (bins, missing) = window(&current, &summary.decile_edges);
        let d = compare(&column, &WindowCounts::Numeric { bins: bins.clone(), missing }).unwrap();
        assert_eq!(d.bins.len(), summary.decile_edges.len() + 1, "no missing bin when neither side misses");
        assert_eq!(d.bins[0], Bin::Interval { above: None, up_to: Some(summary.decile_edges[0]) });
        assert_eq!(d.bins.last(), Some(&Bin::Interval { above: summary.decile_edges.last().copied(), up_to: None }));
        for (i, b) in d.bins.iter().enumerate().skip(1).take(summary.decile_edges.len() - 1) {
            assert_eq!(
                b,
                &Bin::Interval { above: Some(summary.decile_edges[i - 1]), up_to: Some(summary.decile_edges[i]) }
            );
        }
        sums_to_one(&d.reference);
        sums_to_one(&d.current);
        assert_eq!((d.reference_count, d.current_count), (reference.len() as u64, current.len() as u64));
        // The shares are the ones PSI is computed on.
        assert_eq!(psi(&d.reference, &d.current), binned_psi(&summary.bin_counts, 0, &bins, 0));
        // Older ages gained share: the window's first bins are emptier than the reference's, its last fuller.
        assert!(d.current[0] < d.reference[0] && d.current[d.bins.len() - 1] > d.reference[d.bins.len() - 1]);
    }

    #[test]
    fn missing_values_are_one_more_bin_when_either_side_has_some() {
        let (summary, column) = numeric_reference(&[1.0, 2.0, 3.0, 4.0], 0);
        let (bins, missing) = window(&[1.0, f64::NAN, 4.0, f64::NAN], &summary.decile_edges);
        let d = compare(&column, &WindowCounts::Numeric { bins: bins.clone(), missing }).unwrap();
        assert_eq!(d.bins.last(), Some(&Bin::Missing));
        assert_eq!((d.reference.last(), d.current.last()), (Some(&0.0), Some(&0.5)));
        sums_to_one(&d.reference);
        sums_to_one(&d.current);
        assert_eq!(psi(&d.reference, &d.current), binned_psi(&summary.bin_counts, 0, &bins, missing));
    }

    #[test]
    fn an_empty_window_has_no_shares_and_other_edges_are_refused() {
        let (summary, column) = numeric_reference(&[1.0, 2.0, 3.0, 4.0, 5.0], 1);
        let empty = WindowCounts::Numeric { bins: vec![0; summary.bin_counts.len()], missing: 0 };
        let d = compare(&column, &empty).unwrap();
        sums_to_one(&d.reference);
        assert!(d.current.iter().all(|&s| s == 0.0));
        assert_eq!(compare(&column, &WindowCounts::Numeric { bins: vec![1, 2], missing: 0 }), None);
        let categorical = WindowCounts::Categorical { categories: BTreeMap::new(), missing: 0 };
        assert_eq!(compare(&column, &categorical), None);
    }

    #[test]
    fn a_categorical_window_is_compared_over_both_sides_categories() {
        let frequencies = BTreeMap::from([("female".to_owned(), 310), ("male".to_owned(), 690)]);
        let column = ColumnSummary::Categorical(CategoricalSummary {
            count: 1000,
            missing: 0,
            frequencies: frequencies.clone(),
        });
        let current = BTreeMap::from([("male".to_owned(), 20), ("other".to_owned(), 5), ("female".to_owned(), 75)]);
        let d = compare(&column, &WindowCounts::Categorical { categories: current.clone(), missing: 3 }).unwrap();
        let names: Vec<(&str, bool)> = d
            .bins
            .iter()
            .map(|b| match b {
                Bin::Category { name, unseen } => (name.as_str(), *unseen),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, vec![("female", false), ("male", false), ("other", true)]);
        assert_eq!(d.reference, vec![0.31, 0.69, 0.0]);
        assert_eq!(d.current, vec![0.75, 0.2, 0.05]);
        sums_to_one(&d.reference);
        sums_to_one(&d.current);
        assert_eq!(psi(&d.reference, &d.current), categorical_drift(&frequencies, &current).psi);
    }

    #[test]
    fn a_flood_of_unseen_categories_is_pooled() {
        let reference = BTreeMap::from([("a".to_owned(), 5)]);
        let mut counts: BTreeMap<String, u64> = (0..100).map(|i| (format!("id-{i:03}"), 1 + i as u64 % 3)).collect();
        counts.insert("a".into(), 7);
        let WindowCounts::Categorical { categories, missing } = WindowCounts::categorical(&counts, &reference, 2)
        else {
            unreachable!()
        };
        assert_eq!(categories.len(), 1 + MAX_UNSEEN_KEPT + 1);
        assert_eq!(categories["a"], 7);
        assert_eq!(categories.values().sum::<u64>(), counts.values().sum::<u64>(), "nothing is lost");
        assert!(categories.iter().filter(|(k, _)| k.starts_with("id-")).all(|(_, &n)| n == 3), "the largest kept");
        assert_eq!(missing, 2);
    }
}
