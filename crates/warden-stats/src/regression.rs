//! Regression figures on outcomes (MAE, MSE, RMSE, MAPE, R²), each as scikit-learn's `sklearn.metrics`
//! computes it: MAPE divides by `max(|y|, ε)` with ε the float64 machine epsilon, and R² follows
//! `r2_score(force_finite=True)` (a constant target gives 1 when every prediction is exact, else 0).

use serde::{Deserialize, Serialize};

/// The figures of one set of predictions against their outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Pairs counted.
    pub n: usize,
    /// Mean absolute error.
    pub mae: f64,
    /// Mean squared error.
    pub mse: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute percentage error, as a fraction (0.1 is 10%).
    pub mape: f64,
    /// Coefficient of determination.
    pub r2: f64,
}

/// The figures of `predicted` against `actual`; `None` when there is no pair, the lengths differ or a value is
/// not finite (a caller drops missing values first, as scikit-learn refuses them).
pub fn regression_metrics(actual: &[f64], predicted: &[f64]) -> Option<RegressionMetrics> {
    let n = actual.len();
    if n == 0 || predicted.len() != n || actual.iter().chain(predicted).any(|v| !v.is_finite()) {
        return None;
    }
    let count = n as f64;
    let mean = actual.iter().sum::<f64>() / count;
    let (mut absolute, mut squared, mut percentage, mut total) = (0.0, 0.0, 0.0, 0.0);
    for (&y, &p) in actual.iter().zip(predicted) {
        let error = y - p;
        absolute += error.abs();
        squared += error * error;
        percentage += error.abs() / y.abs().max(f64::EPSILON);
        total += (y - mean) * (y - mean);
    }
    let mse = squared / count;
    let r2 = match (squared == 0.0, total == 0.0) {
        (_, false) => 1.0 - squared / total,
        (true, true) => 1.0,
        (false, true) => 0.0,
    };
    Some(RegressionMetrics { n, mae: absolute / count, mse, rmse: mse.sqrt(), mape: percentage / count, r2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_cannot_be_figured_is_none() {
        assert_eq!(regression_metrics(&[], &[]), None);
        assert_eq!(regression_metrics(&[1.0], &[1.0, 2.0]), None);
        assert_eq!(regression_metrics(&[1.0, f64::NAN], &[1.0, 2.0]), None);
    }
}
