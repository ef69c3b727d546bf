//! Performance of a regression model estimated without outcomes: NannyML 0.13's direct loss estimation (DLE).
//!
//! On a labelled reference, a loss model learns each row's loss from the row's features and prediction (the
//! absolute error for MAE, the squared error for MSE and RMSE, the absolute percentage error for MAPE). A
//! chunk's estimate is the mean of the loss model's outputs on its rows, negative outputs counted as 0 (the
//! square root of that mean for RMSE). The loss model itself is not fitted here (this crate has no trainer):
//! callers pass its outputs. Sampling errors use NannyML's reference components (for MAPE NannyML divides by
//! `y` itself; here by `max(ε, |y|)`, the same wherever outcomes are positive, and finite where one is 0); confidence bounds are the
//! estimate ± 3 sampling errors, not below 0; thresholds are the mean ± 3σ of the realized reference-chunk
//! values, not below 0 ([`Thresholds::learn_within`]).

use serde::{Deserialize, Serialize};

use crate::cbpe::{Estimate, Thresholds, chunk_ranges};
use crate::profile::population_std;
use crate::regression::regression_metrics;

/// A regression metric DLE estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossMetric {
    /// Mean absolute error.
    Mae,
    /// Mean squared error.
    Mse,
    /// Root mean squared error.
    Rmse,
    /// Mean absolute percentage error (a fraction).
    Mape,
}

/// The per-row loss a loss model learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowLoss {
    /// `|y − ŷ|`.
    Absolute,
    /// `(y − ŷ)²`.
    Squared,
    /// `|y − ŷ| / max(ε, |y|)`, ε the float64 machine epsilon (scikit-learn's MAPE).
    AbsolutePercentage,
}

impl RowLoss {
    /// Every kind of row loss, in the order loss models are fitted.
    pub const ALL: [RowLoss; 3] = [RowLoss::Absolute, RowLoss::Squared, RowLoss::AbsolutePercentage];

    /// One row's loss.
    pub fn of(self, actual: f64, predicted: f64) -> f64 {
        let error = actual - predicted;
        match self {
            RowLoss::Absolute => error.abs(),
            RowLoss::Squared => error * error,
            RowLoss::AbsolutePercentage => error.abs() / actual.abs().max(f64::EPSILON),
        }
    }
}

impl LossMetric {
    /// Every metric, in report order.
    pub const ALL: [LossMetric; 4] = [LossMetric::Mae, LossMetric::Mse, LossMetric::Rmse, LossMetric::Mape];

    /// The row loss whose mean the metric is (RMSE: the square root of that mean).
    pub fn row_loss(self) -> RowLoss {
        match self {
            LossMetric::Mae => RowLoss::Absolute,
            LossMetric::Mse | LossMetric::Rmse => RowLoss::Squared,
            LossMetric::Mape => RowLoss::AbsolutePercentage,
        }
    }

    fn realized(self, actual: &[f64], predicted: &[f64]) -> Option<f64> {
        let figures = regression_metrics(actual, predicted)?;
        Some(match self {
            LossMetric::Mae => figures.mae,
            LossMetric::Mse => figures.mse,
            LossMetric::Rmse => figures.rmse,
            LossMetric::Mape => figures.mape,
        })
    }
}

/// The reference's sampling-error components of one metric: the population standard deviation of its row
/// losses and, for RMSE, their mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossSamplingError {
    /// Standard deviation of the row losses on the reference.
    pub std: f64,
    /// Mean of the row losses on the reference.
    pub mean: f64,
}

impl LossSamplingError {
    fn for_rows(&self, metric: LossMetric, rows: usize) -> f64 {
        let n = rows as f64;
        match metric {
            // NannyML's delta-method error of a square root: sqrt(σ² / (4 n μ)).
            LossMetric::Rmse => (self.std * self.std / (4.0 * n * self.mean)).sqrt(),
            _ => self.std / n.sqrt(),
        }
    }
}

/// DLE fitted on a labelled reference (apart from its loss models).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DleModel {
    /// Per metric: sampling-error components and alert thresholds.
    pub metrics: Vec<(LossMetric, LossSamplingError, Thresholds)>,
}

/// A DLE metric's estimate for one chunk (no upper limit on its bounds).
pub type DleEstimate = Estimate<LossMetric>;

/// Why DLE cannot be fitted or cannot estimate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DleError {
    /// No rows, lengths that differ, or a value that is not finite.
    #[error("{0}")]
    Shape(String),
}

fn check(actual: &[f64], predicted: &[f64]) -> Result<(), DleError> {
    if actual.is_empty() || actual.len() != predicted.len() {
        return Err(DleError::Shape(format!("{} outcomes for {} predictions", actual.len(), predicted.len())));
    }
    if actual.iter().chain(predicted).any(|v| !v.is_finite()) {
        return Err(DleError::Shape("an outcome or a prediction is not finite".into()));
    }
    Ok(())
}

impl DleModel {
    /// Fits on a labelled reference: sampling-error components on all of it, thresholds from its chunks of
    /// `chunk_size` rows.
    pub fn fit(actual: &[f64], predicted: &[f64], chunk_size: usize) -> Result<Self, DleError> {
        check(actual, predicted)?;
        let chunks = chunk_ranges(actual.len(), chunk_size);
        let metrics = LossMetric::ALL
            .into_iter()
            .map(|metric| {
                let losses: Vec<f64> =
                    actual.iter().zip(predicted).map(|(&y, &p)| metric.row_loss().of(y, p)).collect();
                let components = LossSamplingError {
                    std: population_std(&losses),
                    mean: losses.iter().sum::<f64>() / losses.len() as f64,
                };
                let values: Vec<f64> =
                    chunks.iter().filter_map(|&(s, e)| metric.realized(&actual[s..e], &predicted[s..e])).collect();
                (metric, components, Thresholds::learn_within(&values, Some(0.0), None))
            })
            .collect();
        Ok(DleModel { metrics })
    }

    /// Estimates `metric` for a chunk from its loss model's outputs on the chunk's rows (`row_losses`, one per
    /// row), with the realized value when the chunk's `outcomes` (actual, predicted) are known.
    pub fn estimate(
        &self,
        metric: LossMetric,
        row_losses: &[f64],
        outcomes: Option<(&[f64], &[f64])>,
    ) -> Result<DleEstimate, DleError> {
        let Some((_, components, thresholds)) = self.metrics.iter().find(|(m, _, _)| *m == metric) else {
            return Err(DleError::Shape(format!("{metric:?} was not fitted")));
        };
        if row_losses.is_empty() || row_losses.iter().any(|v| !v.is_finite()) {
            return Err(DleError::Shape("the loss model's outputs are empty or not finite".into()));
        }
        let mean = row_losses.iter().map(|&v| v.max(0.0)).sum::<f64>() / row_losses.len() as f64;
        let value = if metric == LossMetric::Rmse { mean.sqrt() } else { mean };
        let sampling_error = components.for_rows(metric, row_losses.len());
        // RMSE's sampling error divides by the reference's mean squared error: none for a perfect reference.
        let undefined = "the sampling error is undefined: the reference's predictions have no error";
        let realized = outcomes.and_then(|(actual, predicted)| metric.realized(actual, predicted));
        Ok(Estimate::judged(metric, (value, sampling_error), realized, *thresholds, None, undefined))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbpe::CbpeStatus;

    #[test]
    fn row_losses_and_their_estimates_follow_nannyml() {
        assert_eq!(RowLoss::Absolute.of(3.0, 5.0), 2.0);
        assert_eq!(RowLoss::Squared.of(3.0, 5.0), 4.0);
        assert_eq!(RowLoss::AbsolutePercentage.of(4.0, 5.0), 0.25);
        assert_eq!(
            RowLoss::AbsolutePercentage.of(0.0, 1.0),
            1.0 / f64::EPSILON,
            "scikit-learn's ε, not a division by 0"
        );
        let actual: Vec<f64> = (0..40).map(|i| f64::from(i % 7)).collect();
        let predicted: Vec<f64> = (0..40).map(|i| f64::from(i % 5)).collect();
        let model = DleModel::fit(&actual, &predicted, 10).unwrap();
        // Negative loss-model outputs count as 0; RMSE is the square root of the mean squared estimate.
        let mae = model.estimate(LossMetric::Mae, &[-1.0, 1.0, 2.0], None).unwrap();
        assert_eq!(mae.value, 1.0);
        let rmse = model.estimate(LossMetric::Rmse, &[4.0, 0.0], None).unwrap();
        assert!((rmse.value - 2.0f64.sqrt()).abs() < 1e-15);
        assert!(mae.lower_threshold.unwrap() >= 0.0, "thresholds are not below 0");
        assert!(model.estimate(LossMetric::Mae, &[f64::NAN], None).is_err());
        assert!(DleModel::fit(&[1.0], &[1.0, 2.0], 10).is_err());
        // A reference without error: RMSE's sampling error is undefined, so its estimates are never judged.
        let perfect = DleModel::fit(&actual, &actual, 10).unwrap();
        let estimate = perfect.estimate(LossMetric::Rmse, &[1.0, 1.0], None).unwrap();
        assert_eq!(estimate.status, CbpeStatus::Insufficient);
        assert!(estimate.upper_confidence_boundary.is_finite(), "{estimate:?}");
        // One chunk of reference: its thresholds cannot be learned, so estimates are insufficient, never alerts.
        let small = DleModel::fit(&actual[..10], &predicted[..10], 10).unwrap();
        let estimate = small.estimate(LossMetric::Mae, &[100.0], None).unwrap();
        assert_eq!(estimate.status, CbpeStatus::Insufficient);
        assert!(estimate.reason.unwrap().contains("too small to calibrate"));
    }
}
