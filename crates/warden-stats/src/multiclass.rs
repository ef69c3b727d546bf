//! Multiclass classifiers on outcomes, as scikit-learn computes them: each class's one-vs-rest AUC (the binary
//! [`crate::metrics::roc_auc`] of "this class" against the class's probability), their unweighted mean
//! (`roc_auc_score(multi_class="ovr", average="macro")`), accuracy, the confusion matrix, and macro precision,
//! recall and F1 (`average="macro"`, a class with nothing to divide by counting 0, as `zero_division` does).

use serde::Serialize;

use crate::metrics::roc_auc;

/// The figures of one set of multiclass predictions against their outcomes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MulticlassMetrics {
    /// Rows counted.
    pub n: usize,
    /// Each class's one-vs-rest AUC, in the classes' order (`None`: the class is absent, or is every outcome).
    pub auc_per_class: Vec<Option<f64>>,
    /// The mean of the per-class AUCs (`None` when any is undefined, as scikit-learn refuses then).
    pub auc_macro: Option<f64>,
    /// Share of rows whose predicted class is the outcome.
    pub accuracy: f64,
    /// `confusion[actual][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    /// Unweighted mean of the classes' precision.
    pub precision_macro: f64,
    /// Unweighted mean of the classes' recall.
    pub recall_macro: f64,
    /// Unweighted mean of the classes' F1.
    pub f1_macro: f64,
}

/// The figures of `predicted` classes and `probabilities` (one row per outcome, one column per class) against
/// `actual` classes, all as indices below `classes`; `None` when there is no row, the lengths or widths differ,
/// an index is out of range or a probability is not finite.
pub fn multiclass_metrics(
    classes: usize,
    actual: &[usize],
    predicted: &[usize],
    probabilities: &[Vec<f64>],
) -> Option<MulticlassMetrics> {
    let n = actual.len();
    let fits = n > 0
        && classes > 1
        && predicted.len() == n
        && probabilities.len() == n
        && actual.iter().chain(predicted).all(|&c| c < classes)
        && probabilities.iter().all(|row| row.len() == classes && row.iter().all(|p| p.is_finite()));
    if !fits {
        return None;
    }
    let auc_per_class: Vec<Option<f64>> = (0..classes)
        .map(|class| {
            let labels: Vec<bool> = actual.iter().map(|&a| a == class).collect();
            let scores: Vec<f64> = probabilities.iter().map(|row| row[class]).collect();
            roc_auc(&labels, &scores)
        })
        .collect();
    let auc_macro =
        auc_per_class.iter().copied().collect::<Option<Vec<f64>>>().map(|a| a.iter().sum::<f64>() / a.len() as f64);
    let mut confusion = vec![vec![0u64; classes]; classes];
    for (&a, &p) in actual.iter().zip(predicted) {
        confusion[a][p] += 1;
    }
    let correct: u64 = (0..classes).map(|c| confusion[c][c]).sum();
    let ratio = |num: u64, den: u64| if den == 0 { 0.0 } else { num as f64 / den as f64 };
    let macro_mean = |per_class: &dyn Fn(u64, u64, u64) -> f64| {
        let sum: f64 = (0..classes)
            .map(|c| {
                let predicted: u64 = (0..classes).map(|a| confusion[a][c]).sum();
                per_class(confusion[c][c], predicted, confusion[c].iter().sum())
            })
            .sum();
        sum / classes as f64
    };
    Some(MulticlassMetrics {
        n,
        auc_per_class,
        auc_macro,
        accuracy: correct as f64 / n as f64,
        precision_macro: macro_mean(&|tp, predicted, _| ratio(tp, predicted)),
        recall_macro: macro_mean(&|tp, _, actual| ratio(tp, actual)),
        f1_macro: macro_mean(&|tp, predicted, actual| ratio(2 * tp, predicted + actual)),
        confusion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_cannot_be_figured_is_none_and_an_absent_class_has_no_auc() {
        assert_eq!(multiclass_metrics(3, &[], &[], &[]), None);
        assert_eq!(multiclass_metrics(2, &[0, 2], &[0, 1], &[vec![0.5, 0.5], vec![0.5, 0.5]]), None);
        assert_eq!(multiclass_metrics(2, &[0], &[0], &[vec![f64::NAN, 0.5]]), None);
        let m = multiclass_metrics(
            3,
            &[0, 1, 0],
            &[0, 1, 1],
            &[vec![0.8, 0.1, 0.1], vec![0.2, 0.7, 0.1], vec![0.4, 0.5, 0.1]],
        )
        .unwrap();
        assert_eq!(m.auc_per_class[2], None, "no outcome of class 2");
        assert_eq!(m.auc_macro, None);
        assert_eq!(m.confusion, vec![vec![1, 1, 0], vec![0, 1, 0], vec![0, 0, 0]]);
        assert!((m.accuracy - 2.0 / 3.0).abs() < 1e-15);
        // Class 2 is neither predicted nor an outcome: its precision, recall and F1 count 0.
        assert!((m.precision_macro - (1.0 + 0.5 + 0.0) / 3.0).abs() < 1e-15);
        assert!((m.recall_macro - (0.5 + 1.0 + 0.0) / 3.0).abs() < 1e-15);
        assert!((m.f1_macro - (2.0 / 3.0 + 2.0 / 3.0 + 0.0) / 3.0).abs() < 1e-15);
    }
}
