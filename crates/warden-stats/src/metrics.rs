//! Binary classification performance from labels `y ∈ {0, 1}` and scores `p ∈ [0, 1]`.
//!
//! Definitions follow scikit-learn 1.9 (`roc_auc_score`, `brier_score_loss`, `log_loss`,
//! `confusion_matrix`, `precision/recall/f1` with `zero_division=0`) and the golden README, section 1.3.

use serde::{Deserialize, Serialize};

use crate::ks::ks_statistic_sorted;

/// Cumulative (false positives, true positives) after each distinct score, from the highest down, starting
/// at (0, 0); with the class totals. `None` unless both classes occur.
fn roc_counts(labels: &[bool], scores: &[f64]) -> Option<(Vec<(u64, u64)>, u64, u64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let positives = labels.iter().filter(|&&y| y).count() as u64;
    let negatives = labels.len() as u64 - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut counts = vec![(0, 0)];
    let (mut fp, mut tp) = (0u64, 0u64);
    let mut i = 0;
    while i < order.len() {
        let score = scores[order[i]];
        while i < order.len() && scores[order[i]] == score {
            if labels[order[i]] {
                tp += 1
            } else {
                fp += 1
            }
            i += 1;
        }
        counts.push((fp, tp));
    }
    Some((counts, negatives, positives))
}

/// ROC AUC with tied scores counted half (`sklearn.metrics.roc_auc_score`). `None` unless both classes occur.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let (counts, negatives, positives) = roc_counts(labels, scores)?;
    // Trapezoids between distinct thresholds, summed exactly in integers (twice the area × P × N).
    let twice_area: u128 = counts.windows(2).map(|w| u128::from(w[1].0 - w[0].0) * u128::from(w[1].1 + w[0].1)).sum();
    Some(twice_area as f64 / (2 * u128::from(positives) * u128::from(negatives)) as f64)
}

/// The ROC curve as `(false positive rate, true positive rate)` points, one per distinct score from the highest
/// down, starting at `(0, 0)` (`sklearn.metrics.roc_curve` with `drop_intermediate=False`); the trapezoids under
/// it sum to [`roc_auc`]. `None` unless both classes occur.
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Option<Vec<(f64, f64)>> {
    let (counts, negatives, positives) = roc_counts(labels, scores)?;
    Some(counts.into_iter().map(|(fp, tp)| (fp as f64 / negatives as f64, tp as f64 / positives as f64)).collect())
}

/// Confusion matrix and rates at one threshold; a score `≥ threshold` is predicted positive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdMetrics {
    /// The threshold.
    pub threshold: f64,
    /// True negatives.
    pub tn: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub r#fn: u64,
    /// True positives.
    pub tp: u64,
    /// (tp + tn) / n.
    pub accuracy: f64,
    /// tp / (tp + fp), 0 when nothing is predicted positive.
    pub precision: f64,
    /// tp / (tp + fn) (TPR), 0 without positives.
    pub recall: f64,
    /// fp / (fp + tn), 0 without negatives.
    pub fpr: f64,
    /// Harmonic mean of precision and recall, 0 when both are 0.
    pub f1: f64,
    /// Share predicted positive.
    pub selection_rate: f64,
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 { 0.0 } else { numerator as f64 / denominator as f64 }
}

/// The metrics of a confusion matrix.
pub fn from_confusion(threshold: f64, tn: u64, fp: u64, fn_: u64, tp: u64) -> ThresholdMetrics {
    let n = tn + fp + fn_ + tp;
    let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    ThresholdMetrics {
        threshold,
        tn,
        fp,
        r#fn: fn_,
        tp,
        accuracy: ratio(tp + tn, n),
        precision,
        recall,
        fpr: ratio(fp, fp + tn),
        // sklearn's f1 = 2tp / (2tp + fp + fn), 0 when that denominator is 0.
        f1: ratio(2 * tp, 2 * tp + fp + fn_),
        selection_rate: ratio(tp + fp, n),
    }
}

/// Confusion-matrix metrics for predictions given as booleans.
pub fn at_predictions(threshold: f64, labels: &[bool], predicted: impl Iterator<Item = bool>) -> ThresholdMetrics {
    let (mut tn, mut fp, mut fn_, mut tp) = (0, 0, 0, 0);
    for (&y, p) in labels.iter().zip(predicted) {
        match (y, p) {
            (false, false) => tn += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (true, true) => tp += 1,
        }
    }
    from_confusion(threshold, tn, fp, fn_, tp)
}

/// Confusion-matrix metrics at a threshold.
pub fn at_threshold(labels: &[bool], scores: &[f64], threshold: f64) -> ThresholdMetrics {
    at_predictions(threshold, labels, scores.iter().map(|&s| s >= threshold))
}

/// One calibration bin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Bin index 0..9.
    pub bin: usize,
    /// Rows in the bin.
    pub n: u64,
    /// Mean score in the bin (`None` when empty).
    pub mean_pred: Option<f64>,
    /// Observed positive rate in the bin.
    pub mean_true: Option<f64>,
}

/// Expected calibration error over 10 equal-width bins (`min(floor(p·10), 9)`), weighted by bin size.
pub fn expected_calibration_error(labels: &[bool], scores: &[f64]) -> (f64, Vec<CalibrationBin>) {
    let mut sums = [(0u64, 0.0f64, 0u64); 10];
    for (&y, &p) in labels.iter().zip(scores) {
        let bin = ((p * 10.0).floor() as usize).min(9);
        sums[bin].0 += 1;
        sums[bin].1 += p;
        sums[bin].2 += u64::from(y);
    }
    let total = labels.len() as f64;
    let mut ece = 0.0;
    let bins = sums
        .iter()
        .enumerate()
        .map(|(bin, &(n, sum_p, positives))| {
            if n == 0 {
                return CalibrationBin { bin, n, mean_pred: None, mean_true: None };
            }
            let (mean_pred, mean_true) = (sum_p / n as f64, positives as f64 / n as f64);
            ece += n as f64 / total * (mean_pred - mean_true).abs();
            CalibrationBin { bin, n, mean_pred: Some(mean_pred), mean_true: Some(mean_true) }
        })
        .collect();
    (ece, bins)
}

/// `sklearn.metrics.log_loss(y, p)`: both columns `[1-p, p]` clipped to `[eps, 1-eps]`, mean of `-ln` of the
/// true column.
pub fn log_loss(labels: &[bool], scores: &[f64]) -> f64 {
    let eps = f64::EPSILON;
    let total: f64 = labels
        .iter()
        .zip(scores)
        .map(|(&y, &p)| {
            let q = if y { p } else { 1.0 - p };
            -q.clamp(eps, 1.0 - eps).ln()
        })
        .sum();
    total / labels.len() as f64
}

/// Every label-based performance statistic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// Rows.
    pub n: u64,
    /// Positives.
    pub n_pos: u64,
    /// Positive rate.
    pub base_rate: f64,
    /// ROC AUC (`None` with one class only).
    pub roc_auc: Option<f64>,
    /// 2·AUC − 1.
    pub gini: Option<f64>,
    /// Mean squared error of the score.
    pub brier: f64,
    /// Log loss.
    pub log_loss: f64,
    /// KS statistic between the scores of positives and of negatives.
    pub ks_separation: Option<f64>,
    /// Expected calibration error.
    pub ece: f64,
    /// The 10 calibration bins.
    pub ece_bins: Vec<CalibrationBin>,
    /// Confusion-matrix metrics at each requested threshold.
    pub at_threshold: Vec<ThresholdMetrics>,
}

/// Computes every metric. Labels and scores must be the same length and non-empty.
pub fn binary_metrics(labels: &[bool], scores: &[f64], thresholds: &[f64]) -> BinaryMetrics {
    let n = labels.len() as u64;
    let n_pos = labels.iter().filter(|&&y| y).count() as u64;
    let roc_auc = roc_auc(labels, scores);
    let brier = labels.iter().zip(scores).map(|(&y, &p)| (p - f64::from(u8::from(y))).powi(2)).sum::<f64>() / n as f64;
    let (mut positives, mut negatives): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for (&y, &p) in labels.iter().zip(scores) {
        if y { positives.push(p) } else { negatives.push(p) }
    }
    positives.sort_unstable_by(f64::total_cmp);
    negatives.sort_unstable_by(f64::total_cmp);
    let ks_separation =
        (!positives.is_empty() && !negatives.is_empty()).then(|| ks_statistic_sorted(&positives, &negatives));
    let (ece, ece_bins) = expected_calibration_error(labels, scores);
    BinaryMetrics {
        n,
        n_pos,
        base_rate: n_pos as f64 / n as f64,
        roc_auc,
        gini: roc_auc.map(|a| 2.0 * a - 1.0),
        brier,
        log_loss: log_loss(labels, scores),
        ks_separation,
        ece,
        ece_bins,
        at_threshold: thresholds.iter().map(|&t| at_threshold(labels, scores, t)).collect(),
    }
}

/// Fewest positives and negatives for which an AUC (and its interval) is reported as a value rather than as
/// insufficient data.
pub const MIN_CLASS_COUNT_FOR_AUC: u64 = 30;

/// ROC AUC with a DeLong confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AucInterval {
    /// ROC AUC.
    pub auc: f64,
    /// DeLong variance of the AUC.
    pub variance: f64,
    /// Lower bound (normal approximation, clipped to [0, 1]).
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
}

/// Midranks (ties share the mean rank, 1-based) of `values`.
fn midranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

fn sample_variance(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
}

/// The two-sided normal quantile for a confidence level (Acklam's rational approximation, |error| < 1.2e-9).
// Acklam's coefficients as published.
#[allow(clippy::excessive_precision)]
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let low = 0.02425;
    if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

/// ROC AUC with DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988, computed with midranks as Sun & Xu
/// 2014) and a normal-approximation interval. `None` below [`MIN_CLASS_COUNT_FOR_AUC`] of either class.
pub fn auc_delong(labels: &[bool], scores: &[f64], level: f64) -> Option<AucInterval> {
    let positives: Vec<f64> = labels.iter().zip(scores).filter(|(y, _)| **y).map(|(_, &s)| s).collect();
    let negatives: Vec<f64> = labels.iter().zip(scores).filter(|(y, _)| !**y).map(|(_, &s)| s).collect();
    let (m, n) = (positives.len(), negatives.len());
    if (m as u64) < MIN_CLASS_COUNT_FOR_AUC || (n as u64) < MIN_CLASS_COUNT_FOR_AUC {
        return None;
    }
    let combined: Vec<f64> = positives.iter().chain(&negatives).copied().collect();
    let (tz, tx, ty) = (midranks(&combined), midranks(&positives), midranks(&negatives));
    let v10: Vec<f64> = (0..m).map(|i| (tz[i] - tx[i]) / n as f64).collect();
    let v01: Vec<f64> = (0..n).map(|j| 1.0 - (tz[m + j] - ty[j]) / m as f64).collect();
    let auc = v10.iter().sum::<f64>() / m as f64;
    let variance = sample_variance(&v10) / m as f64 + sample_variance(&v01) / n as f64;
    let z = normal_quantile(0.5 + level / 2.0);
    let half = z * variance.sqrt();
    Some(AucInterval { auc, variance, lower: (auc - half).max(0.0), upper: (auc + half).min(1.0), level })
}

#[cfg(test)]
mod delong_tests {
    use super::*;

    #[test]
    fn delong_agrees_with_the_pairwise_definition() {
        // A sample with ties between and within classes.
        let scores: Vec<f64> = (0..200).map(|i| ((i * 37) % 23) as f64 / 23.0).collect();
        let labels: Vec<bool> = (0..200).map(|i| (i * 13) % 7 < 3).collect();
        let got = auc_delong(&labels, &scores, 0.95).unwrap();
        assert!((got.auc - roc_auc(&labels, &scores).unwrap()).abs() < 1e-12);
        // Direct structural components: psi(x, y) = 1 if x > y, 0.5 if equal.
        let pos: Vec<f64> = labels.iter().zip(&scores).filter(|(y, _)| **y).map(|(_, &s)| s).collect();
        let neg: Vec<f64> = labels.iter().zip(&scores).filter(|(y, _)| !**y).map(|(_, &s)| s).collect();
        let psi = |x: f64, y: f64| {
            if x > y {
                1.0
            } else if x == y {
                0.5
            } else {
                0.0
            }
        };
        let v10: Vec<f64> =
            pos.iter().map(|&x| neg.iter().map(|&y| psi(x, y)).sum::<f64>() / neg.len() as f64).collect();
        let v01: Vec<f64> =
            neg.iter().map(|&y| pos.iter().map(|&x| psi(x, y)).sum::<f64>() / pos.len() as f64).collect();
        let variance = sample_variance(&v10) / pos.len() as f64 + sample_variance(&v01) / neg.len() as f64;
        assert!((got.variance - variance).abs() < 1e-14, "{} vs {variance}", got.variance);
        assert!(got.lower < got.auc && got.auc < got.upper);
        assert!(auc_delong(&labels[..40], &scores[..40], 0.95).is_none(), "too few of a class");
    }

    #[test]
    fn normal_quantile_known_values() {
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090232306167813).abs() < 1e-8);
    }
}
