//! L2-regularised logistic regression.
//!
//! Minimises `½‖w‖² + C · Σᵢ log(1 + exp(−yᵢ(xᵢ·w + b)))` with labels `yᵢ ∈ {−1, +1}` and the intercept `b`
//! unpenalised — the objective of scikit-learn's `LogisticRegression(penalty="l2", C=C)` — by Newton's method
//! with a backtracking line search. The Hessian `I + C·Xᵀ diag(p(1−p)) X` (with a zero for the intercept) is
//! positive definite for `C > 0` and finite data, so each step solves one small Cholesky system: the cost is
//! `O(n·d²)` per iteration, and a handful of iterations reach the optimum to machine precision.

use crate::TrainError;

/// How to fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticOptions {
    /// Inverse regularisation strength (scikit-learn's `C`).
    pub c: f64,
    /// Newton iterations allowed.
    pub max_iterations: usize,
    /// Stop when the largest gradient component is below this times `1 + C·n`.
    pub tolerance: f64,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        LogisticOptions { c: 1.0, max_iterations: 100, tolerance: 1e-10 }
    }
}

/// A fitted model: `P(label) = 1 / (1 + exp(−(intercept + Σⱼ coefficients[j]·x[j])))`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticFit {
    /// One per column, in the columns' order.
    pub coefficients: Vec<f64>,
    /// The unpenalised intercept.
    pub intercept: f64,
    /// Newton iterations taken.
    pub iterations: usize,
    /// The largest gradient component at the solution.
    pub gradient_norm: f64,
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 { 1.0 / (1.0 + (-z).exp()) } else { z.exp() / (1.0 + z.exp()) }
}

/// `log(1 + exp(-z))` without overflow.
fn log1p_exp_neg(z: f64) -> f64 {
    if z > 0.0 { (-z).exp().ln_1p() } else { -z + z.exp().ln_1p() }
}

/// Fits on `columns` (column-major: `columns[j][i]` is feature `j` of row `i`) and `labels` (true = the event).
pub fn fit(columns: &[Vec<f64>], labels: &[bool], options: LogisticOptions) -> Result<LogisticFit, TrainError> {
    let n = labels.len();
    let d = columns.len();
    if n == 0 {
        return Err(TrainError::Data("no training rows".into()));
    }
    if let Some((j, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != n) {
        return Err(TrainError::Data(format!("column {j} has {} values for {n} labels", c.len())));
    }
    if let Some(j) = columns.iter().position(|c| c.iter().any(|v| !v.is_finite())) {
        return Err(TrainError::Data(format!("column {j} holds a missing or non-finite value")));
    }
    let positives = labels.iter().filter(|&&y| y).count();
    if positives == 0 || positives == n {
        return Err(TrainError::Data("the labels have only one class".into()));
    }
    if !(options.c > 0.0 && options.c.is_finite()) {
        return Err(TrainError::Data(format!("C must be a positive number, not {}", options.c)));
    }
    let c = options.c;
    // Parameters: d coefficients, then the intercept.
    let mut theta = vec![0.0; d + 1];
    let margins = |theta: &[f64]| -> Vec<f64> {
        let mut z = vec![theta[d]; n];
        for (j, column) in columns.iter().enumerate() {
            let w = theta[j];
            if w != 0.0 {
                for (zi, &x) in z.iter_mut().zip(column) {
                    *zi += w * x;
                }
            }
        }
        z
    };
    let objective = |theta: &[f64], z: &[f64]| -> f64 {
        let penalty: f64 = theta[..d].iter().map(|w| w * w).sum::<f64>() / 2.0;
        let loss: f64 = z.iter().zip(labels).map(|(&zi, &y)| log1p_exp_neg(if y { zi } else { -zi })).sum();
        penalty + c * loss
    };
    let mut z = margins(&theta);
    let mut value = objective(&theta, &z);
    for iteration in 0..options.max_iterations {
        // Gradient and Hessian.
        let p: Vec<f64> = z.iter().map(|&zi| sigmoid(zi)).collect();
        let residual: Vec<f64> = p.iter().zip(labels).map(|(&pi, &y)| pi - f64::from(u8::from(y))).collect();
        let weight: Vec<f64> = p.iter().map(|&pi| (pi * (1.0 - pi)).max(1e-300)).collect();
        let mut gradient = vec![0.0; d + 1];
        for j in 0..d {
            gradient[j] = theta[j] + c * columns[j].iter().zip(&residual).map(|(x, r)| x * r).sum::<f64>();
        }
        gradient[d] = c * residual.iter().sum::<f64>();
        let gradient_norm = gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        // The loss's gradient sums n terms: judge it relative to C·n, as rounding does.
        if gradient_norm <= options.tolerance * (1.0 + c * n as f64) {
            return Ok(LogisticFit {
                coefficients: theta[..d].to_vec(),
                intercept: theta[d],
                iterations: iteration,
                gradient_norm,
            });
        }
        let mut hessian = vec![0.0; (d + 1) * (d + 1)];
        for a in 0..=d {
            for b in 0..=a {
                let column = |k: usize, i: usize| if k == d { 1.0 } else { columns[k][i] };
                let mut sum = 0.0;
                for i in 0..n {
                    sum += weight[i] * column(a, i) * column(b, i);
                }
                let mut h = c * sum;
                if a == b && a < d {
                    h += 1.0;
                }
                hessian[a * (d + 1) + b] = h;
                hessian[b * (d + 1) + a] = h;
            }
        }
        let step = solve_cholesky(&mut hessian, &gradient, d + 1)
            .ok_or_else(|| TrainError::NotConverged("the Hessian is not positive definite".into()))?;
        // Backtracking: take the full Newton step unless it does not decrease the objective.
        let mut scale = 1.0;
        loop {
            let candidate: Vec<f64> = theta.iter().zip(&step).map(|(t, s)| t - scale * s).collect();
            let candidate_z = margins(&candidate);
            let candidate_value = objective(&candidate, &candidate_z);
            if candidate_value <= value || scale < 1e-10 {
                theta = candidate;
                z = candidate_z;
                value = candidate_value;
                break;
            }
            scale /= 2.0;
        }
    }
    Err(TrainError::NotConverged(format!("no optimum within {} Newton iterations", options.max_iterations)))
}

/// Solves `A x = b` for a symmetric positive definite `A` (row-major, `k × k`, overwritten by its factor).
fn solve_cholesky(a: &mut [f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    for j in 0..k {
        let mut diagonal = a[j * k + j];
        for m in 0..j {
            diagonal -= a[j * k + m] * a[j * k + m];
        }
        if diagonal <= 0.0 || !diagonal.is_finite() {
            return None;
        }
        let root = diagonal.sqrt();
        a[j * k + j] = root;
        for i in j + 1..k {
            let mut sum = a[i * k + j];
            for m in 0..j {
                sum -= a[i * k + m] * a[j * k + m];
            }
            a[i * k + j] = sum / root;
        }
    }
    let mut y = vec![0.0; k];
    for i in 0..k {
        let mut sum = b[i];
        for m in 0..i {
            sum -= a[i * k + m] * y[m];
        }
        y[i] = sum / a[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let mut sum = y[i];
        for m in i + 1..k {
            sum -= a[m * k + i] * x[m];
        }
        x[i] = sum / a[i * k + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let x = solve_cholesky(&mut a, &[2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-15 && x[1].abs() < 1e-15, "{x:?}");
        assert!(solve_cholesky(&mut [1.0, 2.0, 2.0, 1.0], &[1.0, 1.0], 2).is_none(), "indefinite");
    }

    #[test]
    fn bad_data_is_refused_with_the_reason() {
        let fit_err = |columns: &[Vec<f64>], labels: &[bool]| {
            fit(columns, labels, LogisticOptions::default()).unwrap_err().to_string()
        };
        assert!(fit_err(&[], &[]).contains("no training rows"));
        assert!(fit_err(&[vec![1.0]], &[true, false]).contains("column 0 has 1 values for 2 labels"));
        assert!(fit_err(&[vec![1.0, f64::NAN]], &[true, false]).contains("non-finite"));
        assert!(fit_err(&[vec![1.0, 2.0]], &[true, true]).contains("one class"));
    }

    #[test]
    fn the_gradient_vanishes_at_the_fit_and_a_separable_set_stays_bounded() {
        // Perfectly separable: without the penalty the coefficient would grow without bound.
        let x = vec![vec![-2.0, -1.0, 1.0, 2.0]];
        let labels = [false, false, true, true];
        let fit = fit(&x, &labels, LogisticOptions::default()).unwrap();
        assert!(fit.gradient_norm < 1e-9 && fit.coefficients[0].is_finite() && fit.coefficients[0] > 0.0);
        assert!(fit.intercept.abs() < 1e-12, "symmetric data: {}", fit.intercept);
    }
}
