//! Fairness across the groups of a protected attribute, as `fairlearn.metrics` 0.15 defines it.
//!
//! Per group: selection rate, true positive rate and false positive rate (a rate whose denominator is zero
//! in a group is 0.0, as fairlearn returns). Across groups: demographic parity difference and ratio
//! (`between_groups`), equalized odds difference (`worst_case`: the larger of the TPR gap and the FPR gap)
//! and equal opportunity difference (the TPR gap).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The rates of one group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupRates {
    /// Share predicted positive.
    pub selection_rate: f64,
    /// True positive rate.
    pub tpr: f64,
    /// False positive rate.
    pub fpr: f64,
    /// Rows in the group.
    pub count: u64,
    /// Actual positives in the group.
    pub n_pos: u64,
}

/// Fairness of one attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fairness {
    /// Group names in byte order.
    pub groups: Vec<String>,
    /// max − min selection rate.
    pub demographic_parity_difference: f64,
    /// min / max selection rate (disparate impact); `None` when every group's rate is 0.
    pub demographic_parity_ratio: Option<f64>,
    /// max(TPR gap, FPR gap).
    pub equalized_odds_difference: f64,
    /// TPR gap.
    pub equal_opportunity_difference: f64,
    /// Rates by group.
    pub by_group: BTreeMap<String, GroupRates>,
}

impl Fairness {
    /// Whether the four-fifths rule holds (selection-rate ratio at least 0.8).
    pub fn four_fifths_rule_holds(&self) -> Option<bool> {
        self.demographic_parity_ratio.map(|r| r >= 0.8)
    }
}

fn spread(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    let min = values.fold(f64::INFINITY, f64::min);
    (min, max)
}

/// Warden's convention for credit decisions, named wherever a fairness figure is shown: the favourable
/// outcome is approval (a score below the decision threshold, the score being the probability of the bad
/// event), and a qualified applicant is one whose outcome was good (label 0). Selection rates are approval
/// rates, and the parity ratio is the lowest group approval rate over the highest.
pub const FAVOURABLE_OUTCOME: &str = "approval (score below the threshold); qualified = good outcome (label 0)";

/// [`fairness`] under [`FAVOURABLE_OUTCOME`]: `bad[i]` is the outcome (true = the bad event), `declined[i]`
/// whether the score reached the threshold. `None` when there are no rows.
pub fn fairness_of_approvals<'a>(
    bad: &[bool],
    declined: &[bool],
    groups: impl Iterator<Item = &'a str>,
) -> Option<Fairness> {
    let good: Vec<bool> = bad.iter().map(|&b| !b).collect();
    let approved: Vec<bool> = declined.iter().map(|&d| !d).collect();
    fairness(&good, &approved, groups)
}

/// Fairness of predictions across groups. `None` when there are no rows.
pub fn fairness<'a>(labels: &[bool], predicted: &[bool], groups: impl Iterator<Item = &'a str>) -> Option<Fairness> {
    // (count, selected, positives, true positives, negatives, false positives)
    let mut tallies: BTreeMap<String, [u64; 6]> = BTreeMap::new();
    for ((&y, &p), group) in labels.iter().zip(predicted).zip(groups) {
        let t = match tallies.get_mut(group) {
            Some(t) => t,
            None => tallies.entry(group.to_owned()).or_default(),
        };
        t[0] += 1;
        t[1] += u64::from(p);
        t[2] += u64::from(y);
        t[3] += u64::from(y && p);
        t[4] += u64::from(!y);
        t[5] += u64::from(!y && p);
    }
    if tallies.is_empty() {
        return None;
    }
    let rate = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let by_group: BTreeMap<String, GroupRates> = tallies
        .iter()
        .map(|(g, t)| {
            let rates = GroupRates {
                selection_rate: rate(t[1], t[0]),
                tpr: rate(t[3], t[2]),
                fpr: rate(t[5], t[4]),
                count: t[0],
                n_pos: t[2],
            };
            (g.clone(), rates)
        })
        .collect();
    let (sel_min, sel_max) = spread(by_group.values().map(|r| r.selection_rate));
    let (tpr_min, tpr_max) = spread(by_group.values().map(|r| r.tpr));
    let (fpr_min, fpr_max) = spread(by_group.values().map(|r| r.fpr));
    Some(Fairness {
        groups: by_group.keys().cloned().collect(),
        demographic_parity_difference: sel_max - sel_min,
        demographic_parity_ratio: (sel_max > 0.0).then(|| sel_min / sel_max),
        equalized_odds_difference: (tpr_max - tpr_min).max(fpr_max - fpr_min),
        equal_opportunity_difference: tpr_max - tpr_min,
        by_group,
    })
}
