//! Isotonic calibration of scores, as `sklearn.isotonic.IsotonicRegression(increasing=True,
//! out_of_bounds='clip')`: pool-adjacent-violators on the unique scores, knots kept at the ends of each flat
//! run, prediction by linear interpolation between knots, clipped outside them.

use serde::{Deserialize, Serialize};

/// A fitted monotone calibration map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsotonicCalibrator {
    /// Knot positions (ascending scores).
    pub x: Vec<f64>,
    /// Calibrated values at the knots (non-decreasing).
    pub y: Vec<f64>,
}

impl IsotonicCalibrator {
    /// Fits on scores and binary outcomes. `None` for an empty sample.
    pub fn fit(scores: &[f64], labels: &[bool]) -> Option<Self> {
        if scores.is_empty() {
            return None;
        }
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(labels[a].cmp(&labels[b])));
        // Unique scores with the mean outcome and the count of each.
        let (mut xs, mut sums, mut weights): (Vec<f64>, Vec<f64>, Vec<f64>) = (vec![], vec![], vec![]);
        for &i in &order {
            let y = f64::from(u8::from(labels[i]));
            if xs.last() == Some(&scores[i]) {
                *sums.last_mut().unwrap() += y;
                *weights.last_mut().unwrap() += 1.0;
            } else {
                xs.push(scores[i]);
                sums.push(y);
                weights.push(1.0);
            }
        }
        let means: Vec<f64> = sums.iter().zip(&weights).map(|(s, w)| s / w).collect();
        let fitted = pool_adjacent_violators(&means, &weights);
        // Keep the first and last point and every point whose value differs from a neighbour.
        let n = fitted.len();
        let keep = |i: usize| i == 0 || i == n - 1 || fitted[i] != fitted[i - 1] || fitted[i] != fitted[i + 1];
        let (x, y) = (0..n).filter(|&i| keep(i)).map(|i| (xs[i], fitted[i])).unzip();
        Some(IsotonicCalibrator { x, y })
    }

    /// The calibrated value of a score.
    pub fn calibrate(&self, score: f64) -> f64 {
        let (first, last) = (self.x[0], self.x[self.x.len() - 1]);
        if score <= first {
            return self.y[0];
        }
        if score >= last {
            return self.y[self.y.len() - 1];
        }
        let j = self.x.partition_point(|&k| k <= score) - 1;
        let (x0, x1, y0, y1) = (self.x[j], self.x[j + 1], self.y[j], self.y[j + 1]);
        y0 + (score - x0) * (y1 - y0) / (x1 - x0)
    }
}

/// Weighted pool-adjacent-violators: the non-decreasing sequence closest to `values` in weighted least squares.
fn pool_adjacent_violators(values: &[f64], weights: &[f64]) -> Vec<f64> {
    // Blocks as (weighted sum, weight, length).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(values.len());
    for (&v, &w) in values.iter().zip(weights) {
        blocks.push((v * w, w, 1));
        while blocks.len() > 1 {
            let (s1, w1, l1) = blocks[blocks.len() - 1];
            let (s0, w0, l0) = blocks[blocks.len() - 2];
            if s0 / w0 <= s1 / w1 {
                break;
            }
            blocks.pop();
            *blocks.last_mut().unwrap() = (s0 + s1, w0 + w1, l0 + l1);
        }
    }
    blocks.iter().flat_map(|&(s, w, l)| std::iter::repeat_n(s / w, l)).collect()
}

/// Expected calibration error with 10 equal-width bins (see [`crate::metrics::expected_calibration_error`]).
fn ece(labels: &[bool], scores: &[f64]) -> f64 {
    crate::metrics::expected_calibration_error(labels, scores).0
}

/// Whether isotonic calibration makes the scores better calibrated on held-out data.
///
/// A deterministic version of NannyML's `needs_calibration` check: ten interleaved folds stratified by outcome;
/// for each, calibrate on the other nine and compare the held-out ECE before and after. Calibration is
/// needed when it lowers the mean held-out ECE.
pub fn needs_calibration(scores: &[f64], labels: &[bool]) -> bool {
    const FOLDS: usize = 10;
    let positives = labels.iter().filter(|&&y| y).count();
    if positives == 0 || positives == labels.len() || labels.len() < 2 * FOLDS {
        return false;
    }
    let (mut seen_pos, mut seen_neg) = (0usize, 0usize);
    let fold: Vec<usize> = labels
        .iter()
        .map(|&y| {
            let counter = if y { &mut seen_pos } else { &mut seen_neg };
            *counter += 1;
            *counter % FOLDS
        })
        .collect();
    let mut improvement = 0.0;
    for k in 0..FOLDS {
        let (mut train_s, mut train_y, mut test_s, mut test_y) = (vec![], vec![], vec![], vec![]);
        for i in 0..scores.len() {
            if fold[i] == k {
                test_s.push(scores[i]);
                test_y.push(labels[i]);
            } else {
                train_s.push(scores[i]);
                train_y.push(labels[i]);
            }
        }
        let Some(calibrator) = IsotonicCalibrator::fit(&train_s, &train_y) else { return false };
        let calibrated: Vec<f64> = test_s.iter().map(|&s| calibrator.calibrate(s)).collect();
        improvement += ece(&test_y, &test_s) - ece(&test_y, &calibrated);
    }
    improvement / FOLDS as f64 > 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pava_pools_violators_and_interpolates() {
        let calibrator = IsotonicCalibrator::fit(&[0.1, 0.2, 0.3, 0.4], &[false, true, false, true]).unwrap();
        // y = [0, 1, 0, 1] -> [0, 0.5, 0.5, 1]; the middle flat run keeps both its ends.
        assert_eq!(calibrator.x, vec![0.1, 0.2, 0.3, 0.4]);
        assert_eq!(calibrator.y, vec![0.0, 0.5, 0.5, 1.0]);
        assert!((calibrator.calibrate(0.15) - 0.25).abs() < 1e-15);
        assert_eq!(calibrator.calibrate(-1.0), 0.0);
        assert_eq!(calibrator.calibrate(2.0), 1.0);
    }

    #[test]
    fn miscalibrated_scores_need_calibration_and_calibrated_ones_do_not() {
        // Outcomes drawn so that P(y) = s exactly in each block of 100: calibrated by construction.
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        for block in 0..10 {
            let s = 0.05 + block as f64 * 0.1;
            for i in 0..100 {
                scores.push(s);
                labels.push((i as f64) < s * 100.0);
            }
        }
        assert!(!needs_calibration(&scores, &labels));
        let squeezed: Vec<f64> = scores.iter().map(|s| 0.4 + s * 0.2).collect();
        assert!(needs_calibration(&squeezed, &labels));
    }
}
