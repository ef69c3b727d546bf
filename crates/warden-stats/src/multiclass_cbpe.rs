//! Performance of a multiclass classifier estimated without labels: NannyML 0.13's CBPE for
//! `classification_multiclass`.
//!
//! Each class's probability is calibrated one-vs-rest (isotonic, or left as it is when calibration does not
//! help that class), and each row's calibrated probabilities are normalised to sum to 1 (uniform when they
//! sum to 0). Accuracy is estimated as the mean calibrated probability of the predicted class; ROC AUC, F1,
//! precision and recall are the unweighted means of the one-vs-rest binary estimates of [`crate::cbpe`].
//! Sampling errors follow NannyML's multiclass components (per class, combined as
//! `sqrt(Σ varₖ / (n · fractionₖ)) / K`, times 1.2 for AUC); thresholds and confidence bounds are the binary
//! ones ([`Thresholds::learn`], ±3 sampling errors).

use serde::{Deserialize, Serialize};

use crate::calibration::{IsotonicCalibrator, needs_calibration};
use crate::cbpe::{CbpeEstimate, CbpeMetric, Estimate, Thresholds, chunk_ranges, estimate_roc_auc, undefined_reason};
use crate::multiclass::multiclass_metrics;
use crate::profile::population_std;

/// Multiclass rows: each row's class probabilities (uncalibrated), its predicted class and, when known, its
/// outcome, classes as indices below the number of classes.
#[derive(Debug, Clone, Copy)]
pub struct ClassRows<'a> {
    /// One row of class probabilities per prediction.
    pub probabilities: &'a [Vec<f64>],
    /// Predicted classes.
    pub predictions: &'a [usize],
    /// Outcomes, when known.
    pub labels: Option<&'a [usize]>,
}

impl ClassRows<'_> {
    fn len(&self) -> usize {
        self.predictions.len()
    }

    fn slice(&self, start: usize, end: usize) -> ClassRows<'_> {
        ClassRows {
            probabilities: &self.probabilities[start..end],
            predictions: &self.predictions[start..end],
            labels: self.labels.map(|l| &l[start..end]),
        }
    }

    fn class_scores(&self, class: usize) -> Vec<f64> {
        self.probabilities.iter().map(|row| row[class]).collect()
    }
}

/// Why multiclass CBPE cannot be fitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MulticlassCbpeError {
    /// The reference has no outcomes.
    #[error("the reference has no outcomes")]
    NoLabels,
    /// Rows of different lengths, a class index out of range or a probability that is not finite.
    #[error("{0}")]
    Shape(String),
    /// A class never occurs among the reference's outcomes (NannyML refuses this too).
    #[error("class {0} never occurs among the reference's outcomes")]
    MissingClass(usize),
}

/// A metric's sampling error: per-class (variance, fraction) components, or one standard deviation for
/// accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClassSamplingError {
    /// `sqrt(Σ varianceₖ / (n · fractionₖ)) / K · factor`.
    PerClass {
        /// (variance, fraction) per class.
        components: Vec<(f64, f64)>,
        /// 1.2 for AUC (NannyML's correction), else 1.
        factor: f64,
    },
    /// `std / sqrt(n)`.
    Overall {
        /// Standard deviation of the per-row correctness on the reference.
        std: f64,
    },
}

impl ClassSamplingError {
    /// The sampling error for a chunk of `rows` rows.
    pub fn for_rows(&self, rows: usize) -> f64 {
        let n = rows as f64;
        match self {
            ClassSamplingError::PerClass { components, factor } => {
                let sum: f64 = components.iter().map(|&(variance, fraction)| variance / (n * fraction)).sum();
                sum.sqrt() / components.len() as f64 * factor
            }
            ClassSamplingError::Overall { std } => std / n.sqrt(),
        }
    }
}

/// Multiclass CBPE fitted on a labelled reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MulticlassCbpeModel {
    /// Number of classes.
    pub classes: usize,
    /// Per class, its calibration (`None`: the class's probability is used as it is).
    pub calibrators: Vec<Option<IsotonicCalibrator>>,
    /// Per metric: sampling error and alert thresholds.
    pub metrics: Vec<(CbpeMetric, ClassSamplingError, Thresholds)>,
}

/// Per class, the isotonic calibrator of its one-vs-rest probability, or `None` where calibration does not
/// lower the held-out calibration error ([`needs_calibration`]).
pub fn fit_calibrators(classes: usize, reference: ClassRows<'_>) -> Vec<Option<IsotonicCalibrator>> {
    let Some(labels) = reference.labels else { return vec![None; classes] };
    (0..classes)
        .map(|class| {
            let outcomes: Vec<bool> = labels.iter().map(|&l| l == class).collect();
            let scores = reference.class_scores(class);
            needs_calibration(&scores, &outcomes).then(|| IsotonicCalibrator::fit(&scores, &outcomes)).flatten()
        })
        .collect()
}

fn check(classes: usize, rows: &ClassRows<'_>) -> Result<(), MulticlassCbpeError> {
    let n = rows.len();
    let shape = |what: String| Err(MulticlassCbpeError::Shape(what));
    if classes < 2 {
        return shape(format!("{classes} class(es); at least 2 are needed"));
    }
    if rows.probabilities.len() != n || rows.labels.is_some_and(|l| l.len() != n) {
        return shape("probabilities, predictions and outcomes have different lengths".into());
    }
    if let Some(i) =
        rows.probabilities.iter().position(|row| row.len() != classes || !row.iter().all(|p| p.is_finite()))
    {
        return shape(format!("row {i} does not have {classes} finite probabilities"));
    }
    let labels = rows.labels.unwrap_or_default();
    if let Some(&c) = rows.predictions.iter().chain(labels).find(|&&c| c >= classes) {
        return shape(format!("class index {c} is out of range (there are {classes} classes)"));
    }
    Ok(())
}

/// Population variance and the share of rows measured, NannyML's (variance, fraction) per class.
fn variance_and_fraction(values: &[f64], fraction: f64) -> (f64, f64) {
    let std = population_std(values);
    (std * std, fraction)
}

fn sampling_error(metric: CbpeMetric, classes: usize, rows: &ClassRows<'_>, labels: &[usize]) -> ClassSamplingError {
    let n = labels.len() as f64;
    let per_class = |component: &dyn Fn(usize) -> (f64, f64), factor: f64| ClassSamplingError::PerClass {
        components: (0..classes).map(component).collect(),
        factor,
    };
    let counts = |class: usize| {
        // (true positives, false positives, false negatives) of "this class" against the rest.
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        for (&y, &p) in labels.iter().zip(rows.predictions) {
            match (y == class, p == class) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fn_ += 1,
                (false, false) => {}
            }
        }
        (tp, fp, fn_)
    };
    let ones_and_zeros = |ones: usize, zeros: usize| -> Vec<f64> {
        std::iter::repeat_n(1.0, ones).chain(std::iter::repeat_n(0.0, zeros)).collect()
    };
    match metric {
        CbpeMetric::RocAuc => per_class(
            &|class| {
                let outcomes: Vec<bool> = labels.iter().map(|&l| l == class).collect();
                let scores = rows.class_scores(class);
                auc_components(&outcomes, &scores)
            },
            1.2,
        ),
        CbpeMetric::F1 => per_class(
            &|class| {
                let (tp, fp, fn_) = counts(class);
                variance_and_fraction(&ones_and_zeros(tp, fp + fn_), (tp + fp + fn_) as f64 / n)
            },
            1.0,
        ),
        CbpeMetric::Precision => per_class(
            &|class| {
                let (tp, fp, _) = counts(class);
                variance_and_fraction(&ones_and_zeros(tp, fp), (tp + fp) as f64 / n)
            },
            1.0,
        ),
        CbpeMetric::Recall => per_class(
            &|class| {
                let (tp, _, fn_) = counts(class);
                variance_and_fraction(&ones_and_zeros(tp, fn_), (tp + fn_) as f64 / n)
            },
            1.0,
        ),
        CbpeMetric::Accuracy => {
            let correct: Vec<f64> =
                labels.iter().zip(rows.predictions).map(|(y, p)| f64::from(u8::from(y == p))).collect();
            ClassSamplingError::Overall { std: population_std(&correct) }
        }
    }
}

/// NannyML's per-class AUC components: the Mann–Whitney terms of the positives' ranks (outcomes flipped when
/// positives are the majority), their variance and the positives' share.
fn auc_components(labels: &[bool], scores: &[f64]) -> (f64, f64) {
    let n = labels.len() as f64;
    let flip = labels.iter().filter(|&&y| y).count() as f64 / n > 0.5;
    let (y, p): (Vec<bool>, Vec<f64>) =
        labels.iter().zip(scores).map(|(&y, &s)| if flip { (!y, 1.0 - s) } else { (y, s) }).unzip();
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let ranks: Vec<usize> =
        order.iter().enumerate().filter(|&(rank, &i)| y[i] && rank > 0).map(|(rank, _)| rank).collect();
    let n_pos = y.iter().filter(|&&v| v).count() as f64;
    let n_neg = n - n_pos;
    let terms: Vec<f64> = ranks.iter().enumerate().map(|(i, &r)| (r - i) as f64 / n_neg).collect();
    variance_and_fraction(&terms, n_pos / n)
}

/// The macro-averaged metric from outcomes, as scikit-learn and NannyML compute it (`None` where NannyML
/// reports NaN: AUC without every class among the outcomes, the others with a single outcome or a single
/// predicted class).
fn realized(metric: CbpeMetric, classes: usize, rows: &ClassRows<'_>) -> Option<f64> {
    let labels = rows.labels?;
    let distinct = |values: &[usize]| {
        let mut seen = vec![false; classes];
        values.iter().for_each(|&v| seen[v] = true);
        seen.iter().filter(|&&s| s).count()
    };
    if metric == CbpeMetric::RocAuc {
        if distinct(labels) < classes {
            return None;
        }
        return multiclass_metrics(classes, labels, rows.predictions, rows.probabilities)?.auc_macro;
    }
    if distinct(labels) <= 1 || distinct(rows.predictions) <= 1 {
        return None;
    }
    let figures = multiclass_metrics(classes, labels, rows.predictions, rows.probabilities)?;
    Some(match metric {
        CbpeMetric::Accuracy => figures.accuracy,
        CbpeMetric::Precision => figures.precision_macro,
        CbpeMetric::Recall => figures.recall_macro,
        _ => figures.f1_macro,
    })
}

/// The metric estimated from calibrated, row-normalised probabilities.
fn estimated(metric: CbpeMetric, classes: usize, rows: &ClassRows<'_>, calibrated: &[Vec<f64>]) -> f64 {
    if metric == CbpeMetric::Accuracy {
        let total: f64 = calibrated.iter().zip(rows.predictions).map(|(row, &p)| row[p]).sum();
        return total / rows.len() as f64;
    }
    let per_class = (0..classes).map(|class| {
        let probability: Vec<f64> = calibrated.iter().map(|row| row[class]).collect();
        if metric == CbpeMetric::RocAuc {
            return estimate_roc_auc(&rows.class_scores(class), &probability);
        }
        let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
        for (&p, &predicted) in probability.iter().zip(rows.predictions) {
            if predicted == class {
                tp += p;
                fp += 1.0 - p;
            } else {
                fn_ += p;
            }
        }
        let denominator = match metric {
            CbpeMetric::Precision => tp + fp,
            CbpeMetric::Recall => tp + fn_,
            _ => tp + 0.5 * (fp + fn_),
        };
        if denominator == 0.0 { 0.0 } else { tp / denominator }
    });
    per_class.sum::<f64>() / classes as f64
}

impl MulticlassCbpeModel {
    /// Fits on a labelled reference with the given per-class `calibrators` (see [`fit_calibrators`]): sampling
    /// errors on all of it, thresholds from its chunks of `chunk_size` rows.
    pub fn fit(
        classes: usize,
        reference: ClassRows<'_>,
        chunk_size: usize,
        calibrators: Vec<Option<IsotonicCalibrator>>,
    ) -> Result<Self, MulticlassCbpeError> {
        let labels = reference.labels.ok_or(MulticlassCbpeError::NoLabels)?;
        check(classes, &reference)?;
        if calibrators.len() != classes {
            return Err(MulticlassCbpeError::Shape(format!("{} calibrators for {classes} classes", calibrators.len())));
        }
        if let Some(class) = (0..classes).find(|c| !labels.contains(c)) {
            return Err(MulticlassCbpeError::MissingClass(class));
        }
        let chunks: Vec<ClassRows<'_>> =
            chunk_ranges(reference.len(), chunk_size).into_iter().map(|(s, e)| reference.slice(s, e)).collect();
        let metrics = CbpeMetric::ALL
            .into_iter()
            .map(|metric| {
                let values: Vec<f64> = chunks.iter().filter_map(|c| realized(metric, classes, c)).collect();
                (metric, sampling_error(metric, classes, &reference, labels), Thresholds::learn(&values))
            })
            .collect();
        Ok(MulticlassCbpeModel { classes, calibrators, metrics })
    }

    /// Each row's calibrated probabilities, normalised to sum to 1 (uniform where they sum to 0).
    pub fn calibrate(&self, probabilities: &[Vec<f64>]) -> Vec<Vec<f64>> {
        probabilities
            .iter()
            .map(|row| {
                let calibrated: Vec<f64> = row
                    .iter()
                    .zip(&self.calibrators)
                    .map(|(&p, calibrator)| calibrator.as_ref().map_or(p, |c| c.calibrate(p)))
                    .collect();
                let sum: f64 = calibrated.iter().sum();
                if sum == 0.0 {
                    vec![1.0 / self.classes as f64; self.classes]
                } else {
                    calibrated.iter().map(|p| p / sum).collect()
                }
            })
            .collect()
    }

    /// Estimates every metric for one chunk; a shape error when the chunk does not fit the model's classes.
    pub fn estimate(&self, chunk: ClassRows<'_>) -> Result<Vec<CbpeEstimate>, MulticlassCbpeError> {
        check(self.classes, &chunk)?;
        if chunk.len() == 0 {
            return Err(MulticlassCbpeError::Shape("the chunk has no rows".into()));
        }
        let calibrated = self.calibrate(chunk.probabilities);
        Ok(self
            .metrics
            .iter()
            .map(|(metric, error, thresholds)| {
                let value = estimated(*metric, self.classes, &chunk, &calibrated);
                let realized = realized(*metric, self.classes, &chunk);
                let estimate = (value, error.for_rows(chunk.len()));
                let undefined = undefined_reason(value);
                Estimate::judged(*metric, estimate, realized, *thresholds, Some(1.0), undefined)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::cbpe::CbpeStatus;

    struct Rows {
        probabilities: Vec<Vec<f64>>,
        predictions: Vec<usize>,
        labels: Vec<usize>,
    }

    impl Rows {
        fn read(name: &str) -> Rows {
            let text = warden_testdata::read_to_string(&format!("stats/golden/multiclass_cbpe_{name}.csv"));
            let mut rows = Rows { probabilities: vec![], predictions: vec![], labels: vec![] };
            for line in text.lines().skip(1) {
                let cells: Vec<&str> = line.split(',').collect();
                rows.probabilities.push(cells[..3].iter().map(|c| c.parse().unwrap()).collect());
                rows.predictions.push(cells[3].parse().unwrap());
                rows.labels.push(cells[4].parse().unwrap());
            }
            rows
        }

        fn view(&self) -> ClassRows<'_> {
            ClassRows { probabilities: &self.probabilities, predictions: &self.predictions, labels: Some(&self.labels) }
        }
    }

    fn golden() -> Value {
        serde_json::from_str(&warden_testdata::read_to_string("stats/golden/multiclass_cbpe.json")).unwrap()
    }

    fn calibrators(golden: &Value) -> Vec<Option<IsotonicCalibrator>> {
        let floats = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        golden["calibrators"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (!c.is_null()).then(|| IsotonicCalibrator { x: floats(&c["x"]), y: floats(&c["y"]) }))
            .collect()
    }

    /// Where NannyML calibrated a class, fitting on the reference reproduces its knots.
    #[test]
    fn per_class_isotonic_fits_reproduce_nannyml_knots() {
        let golden = golden();
        let reference = Rows::read("reference");
        for (class, want) in calibrators(&golden).into_iter().enumerate() {
            let Some(want) = want else { continue };
            let outcomes: Vec<bool> = reference.labels.iter().map(|&l| l == class).collect();
            let scores = reference.view().class_scores(class);
            let got = IsotonicCalibrator::fit(&scores, &outcomes).unwrap();
            assert_eq!(got.x, want.x, "class {class} knot positions");
            for (k, (g, w)) in got.y.iter().zip(&want.y).enumerate() {
                assert!((g - w).abs() < 1e-12, "class {class} knot {k}: {g} vs {w}");
            }
        }
    }

    /// Every chunk (reference and analysis), every metric, every field, against NannyML 0.13.1 (absolute 1e-6).
    #[test]
    fn multiclass_cbpe_matches_nannyml_on_the_credit_card_set() {
        let golden = golden();
        let (reference, analysis) = (Rows::read("reference"), Rows::read("analysis"));
        let chunk_size = golden["chunk_size"].as_u64().unwrap() as usize;
        let model = MulticlassCbpeModel::fit(3, reference.view(), chunk_size, calibrators(&golden)).unwrap();
        let names = [
            (CbpeMetric::RocAuc, "roc_auc"),
            (CbpeMetric::F1, "f1"),
            (CbpeMetric::Precision, "precision"),
            (CbpeMetric::Recall, "recall"),
            (CbpeMetric::Accuracy, "accuracy"),
        ];
        let mut alerts = 0;
        for chunk in golden["chunks"].as_array().unwrap() {
            let rows = if chunk["period"] == "reference" { &reference } else { &analysis };
            let (start, end) = (chunk["start"].as_u64().unwrap() as usize, chunk["end"].as_u64().unwrap() as usize);
            let estimates = model.estimate(rows.view().slice(start, end)).unwrap();
            for (metric, name) in names {
                let got = estimates.iter().find(|e| e.metric == metric).unwrap();
                let want = &chunk[name];
                let close = |field: &str, value: f64| {
                    let expected = want[field].as_f64().unwrap();
                    assert!(
                        (value - expected).abs() < 1e-6,
                        "{} chunk {start}: {name} {field} {value} vs NannyML {expected}",
                        chunk["period"]
                    );
                };
                if metric == CbpeMetric::RocAuc {
                    // NannyML ranks tied probabilities in numpy's unstable (CPU-dependent) sort order, Warden in
                    // a stable one: against NannyML run with a stable sort, 1e-6; against NannyML as it is, the
                    // value within 5e-6 and the sampling error within relative 1e-3.
                    let stable = &want["stable_ties"];
                    let near = |field: &str, value: f64| {
                        let expected = stable[field].as_f64().unwrap();
                        assert!((value - expected).abs() < 1e-6, "chunk {start}: AUC {field} {value} vs {expected}");
                    };
                    near("value", got.value);
                    near("sampling_error", got.sampling_error);
                    near("upper_confidence_boundary", got.upper_confidence_boundary);
                    near("lower_confidence_boundary", got.lower_confidence_boundary);
                    assert!((got.value - want["value"].as_f64().unwrap()).abs() < 5e-6, "AUC at {start}");
                    let nannyml = want["sampling_error"].as_f64().unwrap();
                    assert!((got.sampling_error / nannyml - 1.0).abs() < 1e-3, "AUC sampling error at {start}");
                } else {
                    close("value", got.value);
                    close("sampling_error", got.sampling_error);
                    close("upper_confidence_boundary", got.upper_confidence_boundary);
                    close("lower_confidence_boundary", got.lower_confidence_boundary);
                }
                close("realized", got.realized.unwrap());
                assert_eq!(got.status == CbpeStatus::Alert, want["alert"].as_bool().unwrap(), "{name} at {start}");
                alerts += usize::from(got.status == CbpeStatus::Alert);
            }
        }
        assert_eq!(alerts, 25, "the five shifted analysis chunks alert on all five metrics");
    }

    #[test]
    fn what_cannot_be_fitted_or_estimated_is_refused_with_the_reason() {
        let probabilities = vec![vec![0.6, 0.3, 0.1], vec![0.2, 0.7, 0.1], vec![0.5, 0.4, 0.1]];
        let (predictions, labels) = (vec![0, 1, 0], vec![0, 1, 1]);
        let rows = ClassRows { probabilities: &probabilities, predictions: &predictions, labels: Some(&labels) };
        let fit = |rows, calibrators| MulticlassCbpeModel::fit(3, rows, 2, calibrators);
        assert_eq!(fit(rows, vec![None; 3]), Err(MulticlassCbpeError::MissingClass(2)));
        assert_eq!(fit(ClassRows { labels: None, ..rows }, vec![None; 3]), Err(MulticlassCbpeError::NoLabels));
        assert!(matches!(fit(rows, vec![None; 2]), Err(MulticlassCbpeError::Shape(_))));
        let out_of_range = vec![0, 3, 0];
        let error = fit(ClassRows { predictions: &out_of_range, ..rows }, vec![None; 3]).unwrap_err();
        assert_eq!(error.to_string(), "class index 3 is out of range (there are 3 classes)");
        let labels = vec![0, 1, 2];
        let model = fit(ClassRows { labels: Some(&labels), ..rows }, vec![None; 3]).unwrap();
        let narrow = vec![vec![0.5, 0.5]];
        let error = model.estimate(ClassRows { probabilities: &narrow, predictions: &[0], labels: None }).unwrap_err();
        assert_eq!(error.to_string(), "row 0 does not have 3 finite probabilities");
        // Class 2 is never predicted on the reference: precision's sampling error is undefined, so the estimate
        // is not judged, and its bounds are not made up.
        let estimates = model.estimate(ClassRows { labels: None, ..rows }).unwrap();
        let precision = estimates.iter().find(|e| e.metric == CbpeMetric::Precision).unwrap();
        assert_eq!(precision.status, crate::cbpe::CbpeStatus::Insufficient, "{precision:?}");
        assert!(precision.reason.as_deref().unwrap().contains("sampling error is undefined"));
        assert_eq!(precision.upper_confidence_boundary, precision.value.min(1.0));
        // A row whose calibrated probabilities sum to 0 counts as uniform.
        assert_eq!(model.calibrate(&[vec![0.0, 0.0, 0.0]]), vec![vec![1.0 / 3.0; 3]]);
    }
}
