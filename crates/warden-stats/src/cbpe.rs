//! Performance estimated without labels: confidence-based performance estimation as NannyML 0.13's CBPE
//! does it for binary classification.
//!
//! Calibrated probabilities give an expected confusion matrix per chunk, from which accuracy, precision,
//! recall and F1 are estimated; ROC AUC is estimated by ranking on the uncalibrated score and accumulating
//! calibrated probabilities as expected true positives. Each estimate carries NannyML's sampling error
//! (components fitted on the reference), confidence bounds at ±3 sampling errors, and alert thresholds at
//! the mean ± 3 standard deviations of the realized reference-chunk values, clipped to [0, 1].
//!
//! Thresholds need a reference that spans several chunks: from fewer than [`MIN_THRESHOLD_CHUNKS`] realized
//! chunk values, or values that are all equal, mean ± 3σ collapses to (nearly) one point and every estimate
//! would fall outside it. Such a metric's thresholds are [`Thresholds::Insufficient`], and its estimates have
//! the status [`CbpeStatus::Insufficient`] with the reason instead of an alert.

use serde::{Deserialize, Serialize};

use crate::calibration::IsotonicCalibrator;
use crate::metrics::{at_predictions, roc_auc};
use crate::profile::population_std;

/// A metric CBPE estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CbpeMetric {
    /// ROC AUC.
    RocAuc,
    /// Accuracy.
    Accuracy,
    /// Precision.
    Precision,
    /// Recall.
    Recall,
    /// F1.
    F1,
}

impl CbpeMetric {
    /// All metrics, in report order.
    pub const ALL: [CbpeMetric; 5] =
        [CbpeMetric::RocAuc, CbpeMetric::Accuracy, CbpeMetric::Precision, CbpeMetric::Recall, CbpeMetric::F1];
}

/// One chunk of scored rows: uncalibrated probability, predicted label, and the outcome when known.
#[derive(Debug, Clone, Copy)]
pub struct ScoredRows<'a> {
    /// Model probabilities, uncalibrated.
    pub scores: &'a [f64],
    /// Predicted labels.
    pub predictions: &'a [bool],
    /// Outcomes, when known.
    pub labels: Option<&'a [bool]>,
}

impl ScoredRows<'_> {
    fn len(&self) -> usize {
        self.scores.len()
    }

    fn slice(&self, start: usize, end: usize) -> ScoredRows<'_> {
        ScoredRows {
            scores: &self.scores[start..end],
            predictions: &self.predictions[start..end],
            labels: self.labels.map(|l| &l[start..end]),
        }
    }
}

/// Half-open row ranges of size-based chunks; the last, incomplete chunk is kept (NannyML's default).
pub fn chunk_ranges(rows: usize, size: usize) -> Vec<(usize, usize)> {
    (0..rows.div_ceil(size.max(1))).map(|i| (i * size, ((i + 1) * size).min(rows))).collect()
}

/// Reference-derived pieces of one metric's sampling error: `std / sqrt(n · fraction)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingErrorComponents {
    /// Standard deviation of the observation-level metric on the reference.
    pub std: f64,
    /// Fraction of rows the metric is measured on.
    pub fraction: f64,
}

impl SamplingErrorComponents {
    /// Sampling error for a chunk of `rows` rows.
    pub fn for_rows(&self, rows: usize) -> f64 {
        self.std / (rows as f64 * self.fraction).sqrt()
    }
}

fn sampling_components(
    metric: CbpeMetric,
    scores: &[f64],
    predictions: &[bool],
    labels: &[bool],
) -> SamplingErrorComponents {
    let n = labels.len() as f64;
    let observations =
        |values: Vec<f64>, fraction: f64| SamplingErrorComponents { std: population_std(&values), fraction };
    match metric {
        CbpeMetric::RocAuc => {
            // AUC as a Mann–Whitney statistic (NannyML's `auroc_sampling_error_components`).
            let flip = labels.iter().filter(|&&y| y).count() as f64 / n > 0.5;
            let (y, p): (Vec<bool>, Vec<f64>) =
                labels.iter().zip(scores).map(|(&y, &s)| if flip { (!y, 1.0 - s) } else { (y, s) }).unzip();
            let mut order: Vec<usize> = (0..p.len()).collect();
            order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
            let ranks: Vec<usize> =
                order.iter().enumerate().filter(|&(_, &i)| y[i]).map(|(rank, _)| rank).filter(|&r| r > 0).collect();
            let n_pos = y.iter().filter(|&&v| v).count() as f64;
            let n_neg = n - n_pos;
            let ser: Vec<f64> = ranks.iter().enumerate().map(|(i, &r)| (r - i) as f64 / n_neg).collect();
            observations(ser, n_pos / n)
        }
        CbpeMetric::Accuracy => {
            let correct = labels.iter().zip(predictions).map(|(y, p)| f64::from(u8::from(y == p))).collect();
            observations(correct, 1.0)
        }
        CbpeMetric::Precision => {
            let values: Vec<f64> =
                labels.iter().zip(predictions).filter(|(_, p)| **p).map(|(&y, _)| f64::from(u8::from(y))).collect();
            let fraction = values.len() as f64 / n;
            observations(values, fraction)
        }
        CbpeMetric::Recall => {
            let values: Vec<f64> =
                labels.iter().zip(predictions).filter(|(y, _)| **y).map(|(_, &p)| f64::from(u8::from(p))).collect();
            let fraction = values.len() as f64 / n;
            observations(values, fraction)
        }
        CbpeMetric::F1 => {
            let (mut tp, mut fp_fn) = (0usize, 0usize);
            for (&y, &p) in labels.iter().zip(predictions) {
                match (y, p) {
                    (true, true) => tp += 1,
                    (false, true) | (true, false) => fp_fn += 1,
                    _ => {}
                }
            }
            let total = (tp + fp_fn) as f64;
            let correcting = total / (fp_fn as f64 * 0.5 + tp as f64);
            let values: Vec<f64> = std::iter::repeat_n(correcting, tp).chain(std::iter::repeat_n(0.0, fp_fn)).collect();
            observations(values, total / n)
        }
    }
}

/// The metric computed from labels.
fn realized(metric: CbpeMetric, rows: &ScoredRows<'_>) -> Option<f64> {
    let labels = rows.labels?;
    let positives = labels.iter().filter(|&&y| y).count();
    if positives == 0 || positives == labels.len() {
        return None; // NannyML reports NaN with a single class
    }
    let m = at_predictions(0.5, labels, rows.predictions.iter().copied());
    match metric {
        CbpeMetric::RocAuc => roc_auc(labels, rows.scores),
        CbpeMetric::Accuracy => Some(m.accuracy),
        CbpeMetric::Precision => (m.tp + m.fp > 0).then_some(m.precision),
        CbpeMetric::Recall => Some(m.recall),
        CbpeMetric::F1 => Some(m.f1),
    }
}

/// The metric estimated from calibrated probabilities.
fn estimated(metric: CbpeMetric, uncalibrated: &[f64], calibrated: &[f64], predictions: &[bool]) -> f64 {
    if metric == CbpeMetric::RocAuc {
        return estimate_roc_auc(uncalibrated, calibrated);
    }
    let (mut tp, mut fp, mut fn_, mut tn) = (0.0, 0.0, 0.0, 0.0);
    for (&p, &predicted) in calibrated.iter().zip(predictions) {
        if predicted {
            tp += p;
            fp += 1.0 - p;
        } else {
            fn_ += p;
            tn += 1.0 - p;
        }
    }
    match metric {
        CbpeMetric::Accuracy => (tp + tn) / calibrated.len() as f64,
        CbpeMetric::Precision => tp / (tp + fp),
        CbpeMetric::Recall => tp / (tp + fn_),
        CbpeMetric::F1 => tp / (tp + 0.5 * (fp + fn_)),
        CbpeMetric::RocAuc => unreachable!(),
    }
}

/// NannyML's `estimate_roc_auc`: rank by uncalibrated score (descending), cumulate calibrated probabilities
/// as expected true positives, round the cumulative counts to 5 decimals, integrate by trapezoids.
///
/// NannyML reverses an ascending numpy argsort, whose order among tied scores the CPU's sort kernel decides;
/// this is that order with a stable sort (ties end in reverse row order). It matters only where tied scores
/// have different calibrated probabilities (multiclass, after row normalisation).
pub fn estimate_roc_auc(uncalibrated: &[f64], calibrated: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..uncalibrated.len()).collect();
    order.sort_by(|&a, &b| uncalibrated[a].total_cmp(&uncalibrated[b]));
    order.reverse();
    let round5 = |v: f64| (v * 1e5).round_ties_even() / 1e5;
    let mut tps = Vec::with_capacity(order.len() + 1);
    let mut fps = Vec::with_capacity(order.len() + 1);
    tps.push(0.0);
    fps.push(0.0);
    let mut cumulative = 0.0;
    for (index, &i) in order.iter().enumerate() {
        cumulative += calibrated[i];
        tps.push(round5(cumulative));
        fps.push(round5(1.0 + index as f64 - cumulative));
    }
    let (tp_total, fp_total) = (tps[tps.len() - 1], fps[fps.len() - 1]);
    let mut area = 0.0;
    for k in 1..tps.len() {
        let (x0, x1) = (fps[k - 1] / fp_total, fps[k] / fp_total);
        area += (x1 - x0) * (tps[k] / tp_total + tps[k - 1] / tp_total) / 2.0;
    }
    area
}

/// Realized reference-chunk values needed to learn a metric's alert thresholds.
pub const MIN_THRESHOLD_CHUNKS: usize = 3;

/// A metric's alert thresholds, learned from the reference chunks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Thresholds {
    /// Mean ± 3σ of the realized reference-chunk values, clipped to the metric's limits ([0, 1] for CBPE).
    Learned {
        /// Alert below.
        lower: f64,
        /// Alert above.
        upper: f64,
    },
    /// The reference is too small to calibrate thresholds: too few chunks with a realized value, or values
    /// that are all equal.
    Insufficient {
        /// Reference chunks with a realized value.
        chunks: usize,
        /// Distinct values among them.
        distinct_values: usize,
    },
}

impl Thresholds {
    /// Mean ± 3σ of the realized reference-chunk `values`, clipped to [0, 1]; insufficient from fewer than
    /// [`MIN_THRESHOLD_CHUNKS`] values or values that are all equal.
    pub fn learn(values: &[f64]) -> Thresholds {
        Thresholds::learn_within(values, Some(0.0), Some(1.0))
    }

    /// As [`Thresholds::learn`], clipped to the metric's own limits (none: unbounded on that side).
    pub fn learn_within(values: &[f64], lower_limit: Option<f64>, upper_limit: Option<f64>) -> Thresholds {
        let mut distinct = values.to_vec();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        if values.len() < MIN_THRESHOLD_CHUNKS || distinct.len() < 2 {
            return Thresholds::Insufficient { chunks: values.len(), distinct_values: distinct.len() };
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let deviation = SAMPLING_ERROR_RANGE * population_std(values);
        Thresholds::Learned {
            lower: lower_limit.map_or(mean - deviation, |limit| (mean - deviation).max(limit)),
            upper: upper_limit.map_or(mean + deviation, |limit| (mean + deviation).min(limit)),
        }
    }

    /// Why there are no thresholds, in words.
    pub fn problem(&self) -> Option<String> {
        match *self {
            Thresholds::Learned { .. } => None,
            Thresholds::Insufficient { chunks, distinct_values } => Some(format!(
                "the reference is too small to calibrate thresholds: {chunks} chunk(s) with a realized value \
                 ({distinct_values} distinct), at least {MIN_THRESHOLD_CHUNKS} distinct needed (a larger reference or \
                 a smaller chunk size)"
            )),
        }
    }

    /// The (lower, upper) band, when learned.
    pub fn band(&self) -> Option<(f64, f64)> {
        match *self {
            Thresholds::Learned { lower, upper } => Some((lower, upper)),
            Thresholds::Insufficient { .. } => None,
        }
    }
}

/// An estimate's verdict against its thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CbpeStatus {
    /// Within the thresholds.
    Ok,
    /// Outside the thresholds.
    Alert,
    /// No thresholds: the reference is too small to calibrate them.
    Insufficient,
}

/// CBPE fitted on a labelled reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CbpeModel {
    /// Calibration applied to scores before estimating (`None` when the scores are used as they are).
    pub calibrator: Option<IsotonicCalibrator>,
    /// Per metric: sampling-error components and alert thresholds.
    pub metrics: Vec<(CbpeMetric, SamplingErrorComponents, Thresholds)>,
}

/// One metric's estimate for one chunk, with its bounds and its verdict: CBPE's ([`CbpeEstimate`]) and direct
/// loss estimation's ([`crate::dle::DleEstimate`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate<M> {
    /// The metric.
    pub metric: M,
    /// Estimated value.
    pub value: f64,
    /// Value computed from outcomes, when the chunk has them.
    pub realized: Option<f64>,
    /// Sampling error of the estimate.
    pub sampling_error: f64,
    /// `value + 3 · sampling_error`, at most the metric's upper limit (1 for CBPE's; DLE's have none).
    pub upper_confidence_boundary: f64,
    /// `max(0, value - 3 · sampling_error)`.
    pub lower_confidence_boundary: f64,
    /// Alert threshold above (none when the reference is too small to calibrate it).
    pub upper_threshold: Option<f64>,
    /// Alert threshold below.
    pub lower_threshold: Option<f64>,
    /// `alert` when the estimate lies outside the thresholds; `insufficient` without thresholds.
    pub status: CbpeStatus,
    /// Why the status is `insufficient`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A CBPE metric's estimate for one chunk.
pub type CbpeEstimate = Estimate<CbpeMetric>;

/// Why an estimate or its sampling error is undefined (NannyML reports NaN for both).
pub(crate) fn undefined_reason(value: f64) -> &'static str {
    if value.is_finite() {
        "the sampling error is undefined: a class the metric averages over never occurs where the reference \
         measures it"
    } else {
        "the estimate is undefined for this chunk: a class has no expected positive in it"
    }
}

/// Width of the confidence band, in sampling errors (NannyML's `SAMPLING_ERROR_RANGE`).
pub const SAMPLING_ERROR_RANGE: f64 = 3.0;

impl CbpeModel {
    /// Fits on a labelled reference: sampling-error components on all of it, thresholds from its chunks.
    /// `None` when the reference has no labels.
    pub fn fit(reference: ScoredRows<'_>, chunk_size: usize, calibrator: Option<IsotonicCalibrator>) -> Option<Self> {
        let labels = reference.labels?;
        let chunks: Vec<ScoredRows<'_>> =
            chunk_ranges(reference.len(), chunk_size).into_iter().map(|(s, e)| reference.slice(s, e)).collect();
        let metrics = CbpeMetric::ALL
            .into_iter()
            .map(|metric| {
                let components = sampling_components(metric, reference.scores, reference.predictions, labels);
                let values: Vec<f64> = chunks.iter().filter_map(|c| realized(metric, c)).collect();
                (metric, components, Thresholds::learn(&values))
            })
            .collect();
        Some(CbpeModel { calibrator, metrics })
    }

    /// Estimates every metric for one chunk.
    pub fn estimate(&self, chunk: ScoredRows<'_>) -> Vec<CbpeEstimate> {
        let calibrated: Vec<f64> = match &self.calibrator {
            Some(c) => chunk.scores.iter().map(|&s| c.calibrate(s)).collect(),
            None => chunk.scores.to_vec(),
        };
        self.metrics
            .iter()
            .map(|&(metric, components, thresholds)| {
                let value = estimated(metric, chunk.scores, &calibrated, chunk.predictions);
                let sampling_error = components.for_rows(chunk.len());
                let undefined = undefined_reason(value);
                let estimate = (value, sampling_error);
                Estimate::judged(metric, estimate, realized(metric, &chunk), thresholds, Some(1.0), undefined)
            })
            .collect()
    }
}

impl<M> Estimate<M> {
    /// An estimate with its confidence bounds (±3 sampling errors, within 0 and `upper_limit`) and its verdict
    /// against `thresholds`. An estimate or sampling error that is not finite is never judged: its status is
    /// `insufficient` with `undefined` as the reason, and its bounds are the value itself.
    pub(crate) fn judged(
        metric: M,
        (value, sampling_error): (f64, f64),
        realized: Option<f64>,
        thresholds: Thresholds,
        upper_limit: Option<f64>,
        undefined: &str,
    ) -> Estimate<M> {
        let band = thresholds.band();
        let (status, reason) = match band {
            _ if !(value.is_finite() && sampling_error.is_finite()) => {
                (CbpeStatus::Insufficient, Some(undefined.to_owned()))
            }
            None => (CbpeStatus::Insufficient, thresholds.problem()),
            Some((lower, upper)) if value < lower || value > upper => (CbpeStatus::Alert, None),
            Some(_) => (CbpeStatus::Ok, None),
        };
        let bound = |b: f64| if b.is_finite() { b } else { value };
        let upper = bound(value + SAMPLING_ERROR_RANGE * sampling_error);
        Estimate {
            metric,
            value,
            realized,
            sampling_error,
            upper_confidence_boundary: upper_limit.map_or(upper, |limit| upper.min(limit)),
            lower_confidence_boundary: bound(value - SAMPLING_ERROR_RANGE * sampling_error).max(0.0),
            upper_threshold: band.map(|b| b.1),
            lower_threshold: band.map(|b| b.0),
            status,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::golden_tests::employment;

    fn golden() -> Value {
        serde_json::from_str(&warden_testdata::read_to_string("stats/golden/cbpe.json")).unwrap()
    }

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
    }

    /// Fitting isotonic regression on the reference reproduces the knots scikit-learn fitted.
    #[test]
    fn isotonic_fit_reproduces_sklearn_knots() {
        let golden = golden();
        let reference = employment("employment_MA_reference.csv");
        let fitted = IsotonicCalibrator::fit(&reference.scores, &reference.labels).unwrap();
        let (x, y) = (
            floats(&golden["calibration"]["isotonic"]["X_thresholds"]),
            floats(&golden["calibration"]["isotonic"]["y_thresholds"]),
        );
        assert_eq!(fitted.x.len(), x.len());
        for (k, (got, want)) in fitted.x.iter().zip(&x).enumerate() {
            assert_eq!(got, want, "knot {k} position");
        }
        for (k, (got, want)) in fitted.y.iter().zip(&y).enumerate() {
            assert!((got - want).abs() < 1e-12, "knot {k} value {got} vs {want}");
        }
    }

    /// Every chunk, every metric, every field, against NannyML 0.13.1 (absolute 1e-4).
    #[test]
    fn cbpe_matches_nannyml_on_employment() {
        let golden = golden();
        let calibrator = IsotonicCalibrator {
            x: floats(&golden["calibration"]["isotonic"]["X_thresholds"]),
            y: floats(&golden["calibration"]["isotonic"]["y_thresholds"]),
        };
        let reference = employment("employment_MA_reference.csv");
        let analysis = employment("employment_MA_analysis_with_target.csv");
        let rows = |d: &crate::golden_tests::Employment| (d.scores.clone(), d.predictions.clone(), d.labels.clone());
        let (rs, rp, rl) = rows(&reference);
        let (a_s, ap, al) = rows(&analysis);
        let reference_rows = ScoredRows { scores: &rs, predictions: &rp, labels: Some(&rl) };
        let analysis_rows = ScoredRows { scores: &a_s, predictions: &ap, labels: Some(&al) };
        let model = CbpeModel::fit(reference_rows, 10_000, Some(calibrator)).unwrap();
        let mut chunks = Vec::new();
        for (period, rows) in [("reference", reference_rows), ("analysis", analysis_rows)] {
            for (start, end) in chunk_ranges(rows.len(), 10_000) {
                chunks.push((period, start, end - 1, model.estimate(rows.slice(start, end))));
            }
        }
        let expected = golden["chunks"].as_array().unwrap();
        assert_eq!(chunks.len(), expected.len());
        let mut alerts = Vec::new();
        for ((period, start, end, estimates), want) in chunks.iter().zip(expected) {
            assert_eq!(
                (*period, *start as u64, *end as u64),
                (
                    want["period"].as_str().unwrap(),
                    want["start_index"].as_u64().unwrap(),
                    want["end_index"].as_u64().unwrap()
                )
            );
            for e in estimates {
                let name = serde_json::to_value(e.metric).unwrap();
                let w = &want[name.as_str().unwrap()];
                let what = format!("{period} [{start}:{end}] {name}");
                for (field, got) in [
                    ("value", e.value),
                    ("sampling_error", e.sampling_error),
                    ("upper_confidence_boundary", e.upper_confidence_boundary),
                    ("lower_confidence_boundary", e.lower_confidence_boundary),
                    ("upper_threshold", e.upper_threshold.unwrap()),
                    ("lower_threshold", e.lower_threshold.unwrap()),
                    ("realized", e.realized.unwrap()),
                ] {
                    let want = w[field].as_f64().unwrap();
                    assert!((got - want).abs() <= 1e-4, "{what} {field}: {got} vs NannyML {want}");
                }
                let alert = e.status == CbpeStatus::Alert;
                assert_eq!(alert, w["alert"].as_bool().unwrap(), "{what} alert");
                if alert && e.metric == CbpeMetric::RocAuc {
                    alerts.push(*start);
                }
            }
        }
        assert_eq!(alerts, vec![130_000, 140_000], "the ROC AUC alerts NannyML raises");
    }

    /// A reference too small to calibrate (one chunk: its mean ± 3σ is a single point) says so for every
    /// metric instead of alerting on every estimate; the same reference in enough chunks learns thresholds.
    #[test]
    fn a_reference_too_small_to_calibrate_is_insufficient_not_an_alert() {
        let reference = employment("employment_MA_reference.csv");
        let n = 300;
        let rows = ScoredRows {
            scores: &reference.scores[..n],
            predictions: &reference.predictions[..n],
            labels: Some(&reference.labels[..n]),
        };
        let chunk = ScoredRows { labels: None, ..rows.slice(0, 100) };
        let one_chunk = CbpeModel::fit(rows, 10_000, None).unwrap();
        for e in one_chunk.estimate(chunk) {
            assert_eq!(e.status, CbpeStatus::Insufficient, "{:?}", e.metric);
            assert_eq!((e.lower_threshold, e.upper_threshold), (None, None));
            assert!(e.reason.as_deref().unwrap().contains("too small to calibrate"), "{:?}", e.reason);
        }
        assert_eq!(
            one_chunk.metrics[0].2,
            Thresholds::Insufficient { chunks: 1, distinct_values: 1 },
            "one chunk of 300 rows"
        );
        let six_chunks = CbpeModel::fit(rows, 50, None).unwrap();
        for e in six_chunks.estimate(chunk) {
            assert_ne!(e.status, CbpeStatus::Insufficient, "{:?}", e.metric);
            let (lower, upper) = (e.lower_threshold.unwrap(), e.upper_threshold.unwrap());
            assert!(lower < upper, "{:?}: a band, not a point", e.metric);
        }
    }
}
