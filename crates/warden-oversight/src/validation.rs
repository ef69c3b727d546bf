/*!
Validation: an immutable report on a version, computed on labelled data with the statistics core.

The version scores the data through the serving path's own input checks and model (`scoring::score_rows`,
nothing logged). The report holds discrimination (AUC with its DeLong interval, Gini, KS), calibration
(Brier, ECE and its reliability table), fairness per protected attribute (on approvals: the disparate-impact
ratio is the lowest group approval rate over the highest), stability against the version's reference data
(PSI per feature and for the score, through `warden_stats::report::feature_report`, the same function the
drift report uses), data quality per feature, the global explanation (mean absolute contribution per feature)
and, when the model has a champion other than this version, the champion's figures on the same data.
*/

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use warden_core::ModelTask;
use warden_stats::metrics::{AucInterval, CalibrationBin};
use warden_stats::profile::{ColumnType, is_missing_token};
use warden_stats::report::{DriftBands, FeatureReport, FeatureValues, Quality, feature_report};
use warden_store::artifacts::StagedFile;
use warden_store::metadata::{RecordKind, VersionRecord};

use crate::scenarios::{Delta, Scenario, ScenarioResult};
use crate::{Error, Oversight, Result};
use warden_registry::auth::{Permission, Principal};
use warden_registry::external::ExternalModel;
use warden_registry::registry::{Version, get_version};
use warden_serving::scoring::RowScore;

/// Rows scored per model call while validating.
const CHUNK_ROWS: usize = 4_096;
/// A validation set smaller than this cannot support the figures a gate relies on.
const MIN_ROWS: usize = 50;

/// What to validate on.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationRequest {
    /// The label column (1 = the bad event the score predicts, 0 = good).
    pub target: String,
    /// Protected attribute columns for fairness (default: the version's).
    pub protected: Vec<String>,
    /// The target value that marks the bad event the score predicts (default `1`); every other value is
    /// good. German credit's `risk` column, for one, is 1 for good credit, so it validates with `0`.
    pub bad_value: Option<String>,
    /// Stress scenarios (file text and syntax).
    pub scenarios: Option<(String, crate::scenarios::ScenarioFormat)>,
}

/// Discrimination figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discrimination {
    /// ROC AUC.
    pub auc: Option<f64>,
    /// 95% DeLong interval (`None` with fewer than 30 of either class).
    pub auc_interval: Option<AucInterval>,
    /// 2·AUC − 1.
    pub gini: Option<f64>,
    /// Kolmogorov–Smirnov separation of the score between bad and good.
    pub ks: Option<f64>,
    /// The ROC curve, `(false positive rate, true positive rate)`, at most [`ROC_POINTS`] points.
    #[serde(default)]
    pub roc: Vec<(f64, f64)>,
}

/// The most ROC points a report keeps (enough to draw it; the AUC is computed on all of them).
pub const ROC_POINTS: usize = 201;

/// Scores in twenty equal-width bins over [0, 1], counted separately for bad and good rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreHistogram {
    /// Rows with the bad outcome, per bin.
    pub bad: Vec<u64>,
    /// Rows with the good outcome, per bin.
    pub good: Vec<u64>,
}

impl ScoreHistogram {
    /// Twenty bins; bin `i` holds scores in `[i/20, (i+1)/20)`, the last also 1.
    pub fn of(labels: &[bool], scores: &[f64]) -> ScoreHistogram {
        const BINS: usize = 20;
        let mut histogram = ScoreHistogram { bad: vec![0; BINS], good: vec![0; BINS] };
        for (&bad, &score) in labels.iter().zip(scores) {
            let bin = ((score.clamp(0.0, 1.0) * BINS as f64) as usize).min(BINS - 1);
            if bad { histogram.bad[bin] += 1 } else { histogram.good[bin] += 1 }
        }
        histogram
    }
}

/// Keeps at most `max` points of a curve, always the first and last, evenly spaced by index.
fn thin(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points;
    }
    let last = points.len() - 1;
    (0..max).map(|i| points[i * last / (max - 1)]).collect()
}

/// Calibration figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Brier score.
    pub brier: f64,
    pub log_loss: f64,
    /// Expected calibration error (10 bins).
    pub ece: f64,
    /// Ten equal-width bins: mean score against observed bad rate.
    pub reliability: Vec<CalibrationBin>,
}

/// Fairness of the decisions for one protected attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeFairness {
    /// The convention the figures follow (`warden_stats::fairness::FAVOURABLE_OUTCOME`); reports stored before
    /// it was named followed the same one.
    #[serde(default = "favourable_outcome")]
    pub favourable_outcome: String,
    /// Lowest group approval rate over the highest (four-fifths rule: at least 0.8).
    pub disparate_impact: Option<f64>,
    /// Highest minus lowest approval rate.
    pub approval_rate_difference: f64,
    /// Largest gap in true-positive or false-positive rate between groups (on approving good applicants).
    pub equalized_odds_difference: f64,
    /// Approval rate and row count per group.
    pub groups: BTreeMap<String, GroupFigures>,
}

fn favourable_outcome() -> String {
    warden_stats::fairness::FAVOURABLE_OUTCOME.to_owned()
}

/// One group's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    pub rows: u64,
    /// Share approved.
    pub approval_rate: f64,
}

/// Stability against the version's reference data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stability {
    /// PSI per feature.
    pub psi: BTreeMap<String, f64>,
    /// The largest feature PSI.
    pub max_feature_psi: f64,
    /// PSI of the score on this data against the score on the reference data.
    pub score_psi: f64,
    /// Multivariate drift of this data against the reference (NannyML's reconstruction error); `None` for
    /// fewer than two features, or a reference it cannot be fitted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multivariate: Option<MultivariateStability>,
    /// Per feature, the relative change of the mean absolute contribution from the reference to this data
    /// (models Warden explains): explanation drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation_shift: Option<BTreeMap<String, f64>>,
}

/// The validation data's reconstruction error under a PCA fitted on the reference, against the reference's
/// own chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultivariateStability {
    /// Mean reconstruction error of the validation rows.
    pub reconstruction_error: f64,
    /// Mean reconstruction error of the reference rows.
    pub reference_error: f64,
    /// The bands: the reference in whole chunks of the validation data's size, mean ± 3σ of their errors
    /// (`None` with fewer than 5 such chunks).
    pub upper_band: Option<f64>,
    pub lower_band: Option<f64>,
    /// Whether the validation data's error lies outside the bands.
    pub alert: bool,
    /// Principal components kept (0.65 of the reference's variance).
    pub components: usize,
}

/// Reference chunks of the validation data's size needed before its multivariate error is judged by bands.
const MIN_BAND_CHUNKS: usize = 5;

/// Multivariate drift of `rows` against `reference` over the version's features.
fn multivariate_stability(
    version: &Version,
    reference: &[Map<String, Value>],
    rows: &[Map<String, Value>],
) -> Option<MultivariateStability> {
    use warden_stats::reconstruction::{Bands, ColumnValues, ErrorWindow, ReconstructionModel};
    type Owned = (Vec<f64>, Vec<Option<String>>);
    let owned = |rows: &[Map<String, Value>]| -> Vec<Owned> {
        version
            .feature_schema
            .iter()
            .map(|f| match f.kind {
                ColumnType::Numeric => (
                    rows.iter().map(|r| r.get(&f.name).and_then(Value::as_f64).unwrap_or(f64::NAN)).collect(),
                    Vec::new(),
                ),
                ColumnType::Categorical => (
                    Vec::new(),
                    rows.iter()
                        .map(|r| match r.get(&f.name) {
                            Some(Value::String(s)) => Some(s.clone()),
                            Some(Value::Number(n)) => Some(n.to_string()),
                            Some(Value::Bool(b)) => Some(b.to_string()),
                            _ => None,
                        })
                        .collect(),
                ),
            })
            .collect()
    };
    let (reference_owned, rows_owned) = (owned(reference), owned(rows));
    fn texts(owned: &[Owned]) -> Vec<Vec<Option<&str>>> {
        owned.iter().map(|(_, t)| t.iter().map(|v| v.as_deref()).collect()).collect()
    }
    fn views<'a>(kinds: &[ColumnType], owned: &'a [Owned], texts: &'a [Vec<Option<&'a str>>]) -> Vec<ColumnValues<'a>> {
        kinds
            .iter()
            .enumerate()
            .map(|(j, kind)| match kind {
                ColumnType::Numeric => ColumnValues::Numeric(&owned[j].0),
                ColumnType::Categorical => ColumnValues::Categorical(&texts[j]),
            })
            .collect()
    }
    let kinds: Vec<ColumnType> = version.feature_schema.iter().map(|f| f.kind).collect();
    let (reference_texts, rows_texts) = (texts(&reference_owned), texts(&rows_owned));
    let reference_views = views(&kinds, &reference_owned, &reference_texts);
    let named: Vec<(&str, ColumnValues)> =
        version.feature_schema.iter().map(|f| f.name.as_str()).zip(reference_views.iter().copied()).collect();
    let model = ReconstructionModel::fit(&named, warden_stats::reconstruction::DEFAULT_VARIANCE_SHARE).ok()?;
    let window = |errors: &[f64]| {
        let mut w = ErrorWindow::default();
        errors.iter().for_each(|&e| w.add(e));
        w
    };
    let reference_errors = model.errors(&reference_views);
    let current = window(&model.errors(&views(&kinds, &rows_owned, &rows_texts))).chunk()?;
    // Whole chunks only, and enough of them for a σ worth judging by.
    let size = rows.len().max(1);
    let chunk_values: Vec<f64> =
        reference_errors.chunks_exact(size).filter_map(|c| window(c).chunk()).map(|f| f.value).collect();
    let bands = (chunk_values.len() >= MIN_BAND_CHUNKS).then(|| Bands::from_reference(&chunk_values, 3.0)).flatten();
    Some(MultivariateStability {
        reconstruction_error: current.value,
        reference_error: window(&reference_errors).chunk()?.value,
        upper_band: bands.map(|b| b.upper),
        lower_band: bands.and_then(|b| b.lower),
        alert: bands.is_some_and(|b| b.alert(current.value)),
        components: model.kept,
    })
}

/// A regression model's figures on realized values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionFigures {
    /// MAE, MSE, RMSE, MAPE and R² (scikit-learn's).
    #[serde(flatten)]
    pub metrics: warden_stats::regression::RegressionMetrics,
    /// Σ predicted − Σ realized, each row weighed by its exposure when the version names an exposure column
    /// (a predicted rate times the exposure is money); negative: the loss is under-provisioned.
    pub expected_loss_error: f64,
    /// `|expected_loss_error|` over Σ realized (weighed likewise); `None` when that sum is not positive.
    pub relative_expected_loss_error: Option<f64>,
}

/// A multiclass classifier's figures on realized classes (scikit-learn's definitions, `warden_stats::multiclass`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MulticlassFigures {
    /// The class labels, in the version's order (every list below follows it).
    pub classes: Vec<String>,
    /// Share of rows whose decided class is the realized one.
    pub accuracy: f64,
    /// The mean of the classes' one-vs-rest AUCs (`None` when a class is absent from the outcomes).
    pub auc_macro: Option<f64>,
    /// Each class's one-vs-rest AUC.
    pub auc_per_class: Vec<Option<f64>>,
    /// Unweighted means over the classes.
    pub precision_macro: f64,
    pub recall_macro: f64,
    pub f1_macro: f64,
    /// `confusion[realized][decided]` row counts.
    pub confusion: Vec<Vec<u64>>,
    /// Share of rows realized in each class, and decided as each class.
    pub realized_shares: Vec<f64>,
    pub decided_shares: Vec<f64>,
}

/// One version's figures on the validation data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Version number.
    pub version: i64,
    /// For a regression model, of its decision rule: a realized value at or above the decision threshold
    /// counts as the bad event.
    pub discrimination: Discrimination,
    /// `None` for a regression model (a predicted value is not a probability).
    pub calibration: Option<Calibration>,
    /// A regression model's figures on the realized values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<RegressionFigures>,
    /// A multiclass classifier's figures on the realized classes (its `discrimination` holds the macro AUC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiclass: Option<MulticlassFigures>,
    /// Share of rows whose score is below the threshold (approved); `None` for a multiclass classifier, whose
    /// decision is a class.
    pub approval_rate: Option<f64>,
    /// Mean score (predicted probability of the bad event).
    pub mean_score: f64,
    /// The score distribution by outcome.
    #[serde(default)]
    pub score_histogram: Option<ScoreHistogram>,
}

/// The stored report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// The store's id for the report.
    #[serde(default)]
    pub id: i64,
    pub model: String,
    /// Version number.
    pub version: i64,
    /// When (µs since the epoch).
    pub created_at: i64,
    /// Who ran it.
    pub created_by: String,
    /// SHA-256 and row count of the validation data.
    pub data_sha256: String,
    pub rows: u64,
    /// Share of rows with label 1; `None` for a multiclass classifier (its target holds classes).
    pub bad_rate: Option<f64>,
    /// The label column.
    pub target: String,
    /// The target value counted as the bad event (empty for a multiclass classifier).
    #[serde(default = "default_bad_value")]
    pub bad_value: String,
    /// The version's decision threshold.
    pub threshold: f64,
    /// What the version's score is (reports stored before tasks existed are binary classifiers').
    #[serde(default)]
    pub task: ModelTask,
    /// This version's figures.
    pub figures: Figures,
    /// Per protected attribute.
    pub fairness: BTreeMap<String, AttributeFairness>,
    /// Against the reference data.
    pub stability: Stability,
    /// Per feature, on this data.
    pub data_quality: BTreeMap<String, Quality>,
    /// Mean absolute contribution per feature (in the model's margin units); `None` when the model cannot
    /// explain (ONNX).
    pub explanation: Option<BTreeMap<String, f64>>,
    /// The champion's figures on the same data, when another version is champion.
    pub champion: Option<Figures>,
    /// Stress scenarios against the data as given.
    #[serde(default)]
    pub scenarios: Vec<ScenarioResult>,
    /// What a reader must know before trusting the figures (validated on the training data, for one).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl ValidationReport {
    /// The part of the report the gate's policies see (`input.validation`).
    pub fn policy_view(&self) -> Value {
        let fairness: Map<String, Value> = self
            .fairness
            .iter()
            .map(|(name, f)| {
                (name.clone(), json!({"disparate_impact": f.disparate_impact, "approval_rate_difference": f.approval_rate_difference}))
            })
            .collect();
        let d = &self.figures.discrimination;
        json!({
            "id": self.id,
            "version": self.version,
            "created_at": self.created_at / 1_000_000,
            "created_by": self.created_by,
            "rows": self.rows,
            "task": self.task,
            "auc": d.auc,
            "auc_lower": d.auc_interval.map(|i| i.lower),
            "gini": d.gini,
            "ks": d.ks,
            "brier": self.figures.calibration.as_ref().map(|c| c.brier),
            "ece": self.figures.calibration.as_ref().map(|c| c.ece),
            "mae": self.figures.regression.map(|r| r.metrics.mae),
            "rmse": self.figures.regression.map(|r| r.metrics.rmse),
            "mape": self.figures.regression.map(|r| r.metrics.mape),
            "r2": self.figures.regression.map(|r| r.metrics.r2),
            "relative_expected_loss_error": self.figures.regression.and_then(|r| r.relative_expected_loss_error),
            "accuracy": self.figures.multiclass.as_ref().map(|m| m.accuracy),
            "macro_f1": self.figures.multiclass.as_ref().map(|m| m.f1_macro),
            "approval_rate": self.figures.approval_rate,
            "psi": self.stability.psi,
            "max_feature_psi": self.stability.max_feature_psi,
            "score_psi": self.stability.score_psi,
            "reconstruction_error": self.stability.multivariate.as_ref().map(|m| m.reconstruction_error),
            "multivariate_alert": self.stability.multivariate.as_ref().map(|m| m.alert),
            "max_explanation_shift": self.stability.explanation_shift.as_ref().and_then(|s| s.values().copied().reduce(f64::max)),
            "fairness": fairness,
            "champion_auc": self.champion.as_ref().and_then(|c| c.discrimination.auc),
        })
    }
}

/// Warnings about the validation data itself: the same bytes as the training data (by SHA-256, the
/// fingerprint the version's lineage records) make every figure in-sample.
fn data_warnings(version: &Version, data_sha256: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    if version.lineage.training_data_sha256.as_deref() == Some(data_sha256) {
        warnings.push(format!(
            "the validation data is the training data (sha256 {data_sha256}, as recorded in the version's \
             lineage): these figures are in-sample and overstate performance; validate on held-out data"
        ));
    }
    warnings
}

fn default_bad_value() -> String {
    "1".into()
}

/// The data, read once: features as JSON values per row, labels, protected groups, per-feature values.
struct Dataset {
    rows: Vec<Map<String, Value>>,
    /// The exposure column's values when it is not a feature (a feature's are in `rows`).
    exposures: Vec<Option<f64>>,
    labels: Vec<bool>,
    /// A regression model's realized values (its labels are then the values at or above the threshold).
    realized: Vec<f64>,
    /// A multiclass classifier's realized classes (indices into its classes; it has no labels).
    classes: Vec<usize>,
    groups: BTreeMap<String, Vec<String>>,
    values: BTreeMap<String, FeatureValues>,
    /// An external model's scores, read from its score column.
    external_scores: Vec<f64>,
}

fn read_dataset(
    path: &Path,
    version: &Version,
    target: Option<(&str, &str)>,
    protected: &[String],
    external: Option<&ExternalModel>,
) -> Result<Dataset> {
    let schema = &version.feature_schema;
    let mut data = Dataset {
        rows: Vec::new(),
        exposures: Vec::new(),
        labels: Vec::new(),
        realized: Vec::new(),
        classes: Vec::new(),
        groups: BTreeMap::new(),
        values: BTreeMap::new(),
        external_scores: Vec::new(),
    };
    let mut score_texts: Vec<Option<String>> = Vec::new();
    // Exposures are read with labels (validation data), not from reference data.
    let exposure =
        version.serving.exposure_column.as_deref().filter(|c| target.is_some() && !schema.iter().any(|f| f.name == *c));
    for feature in schema {
        let empty = match feature.kind {
            ColumnType::Numeric => FeatureValues::Numeric { values: Vec::new(), non_finite: 0, type_violations: 0 },
            ColumnType::Categorical => FeatureValues::Categorical { counts: BTreeMap::new(), missing: 0 },
        };
        data.values.insert(feature.name.clone(), empty);
    }
    let mut line = 1u64;
    warden_registry::dataset::for_each_chunk(path, CHUNK_ROWS, |header, chunk| {
        let position = |name: &str| header.iter().position(|h| h == name);
        let columns: Vec<(usize, &warden_registry::registry::FeatureSpec)> = schema
            .iter()
            .map(|f| {
                position(&f.name).map(|i| (i, f)).ok_or_else(|| {
                    Error::invalid(format!("the data has no column '{}', a feature of the model", f.name))
                })
            })
            .collect::<Result<_>>()?;
        let target_at = match target {
            Some((t, _)) => {
                Some(position(t).ok_or_else(|| Error::invalid(format!("the data has no target column '{t}'")))?)
            }
            None => None,
        };
        let exposure_at = match exposure {
            Some(c) => {
                Some(position(c).ok_or_else(|| Error::invalid(format!("the data has no exposure column '{c}'")))?)
            }
            None => None,
        };
        let score_at = match external {
            Some(e) => Some(position(&e.score_column).ok_or_else(|| {
                Error::invalid(format!(
                    "the data has no score column '{}' (the external model's scores)",
                    e.score_column
                ))
            })?),
            None => None,
        };
        let protected_at: Vec<(usize, &String)> = protected
            .iter()
            .map(|p| {
                position(p)
                    .map(|i| (i, p))
                    .ok_or_else(|| Error::invalid(format!("the data has no protected column '{p}'")))
            })
            .collect::<Result<_>>()?;
        for cells in chunk {
            line += 1;
            let mut row = Map::new();
            for (i, feature) in &columns {
                let text = cells[*i].as_deref().map(str::trim).filter(|t| !is_missing_token(t));
                let value = match (feature.kind, text) {
                    (_, None) => Value::Null,
                    (ColumnType::Numeric, Some(t)) => {
                        let number: f64 = t.parse().map_err(|_| {
                            Error::invalid(format!(
                                "line {line}, column '{}': expected a number, found '{t}'",
                                feature.name
                            ))
                        })?;
                        serde_json::Number::from_f64(number).map(Value::Number).ok_or_else(|| {
                            Error::invalid(format!("line {line}, column '{}': value is not finite", feature.name))
                        })?
                    }
                    (ColumnType::Categorical, Some(t)) => Value::String(t.to_owned()),
                };
                match data.values.get_mut(&feature.name).expect("every feature has values") {
                    FeatureValues::Numeric { values, .. } => values.push(value.as_f64().unwrap_or(f64::NAN)),
                    FeatureValues::Categorical { counts, missing } => match &value {
                        Value::String(s) => *counts.entry(s.clone()).or_default() += 1,
                        _ => *missing += 1,
                    },
                }
                row.insert(feature.name.clone(), value);
            }
            if let (Some(at), Some((name, _))) = (target_at, target)
                && version.serving.task.is_multiclass()
            {
                let text = cells[at].as_deref().map(str::trim).filter(|t| !is_missing_token(t));
                let classes = &version.serving.classes;
                let class = text.and_then(|t| classes.iter().position(|c| c == t)).ok_or_else(|| {
                    Error::invalid(format!(
                        "line {line}, target column '{name}': {} is not one of the version's classes ({})",
                        text.map_or("nothing".to_owned(), |t| format!("'{t}'")),
                        classes.join(", ")
                    ))
                })?;
                data.classes.push(class);
            } else if let (Some(at), Some((name, _))) = (target_at, target)
                && version.serving.task == ModelTask::Regression
            {
                let text = cells[at].as_deref().map(str::trim).filter(|t| !is_missing_token(t));
                let value = text.and_then(|t| t.parse::<f64>().ok()).filter(|v| v.is_finite()).ok_or_else(|| {
                    Error::invalid(format!(
                        "line {line}, target column '{name}': a regression's realized value must be a finite \
                         number, found {}",
                        text.map_or("nothing".to_owned(), |t| format!("'{t}'"))
                    ))
                })?;
                data.realized.push(value);
                data.labels.push(value >= version.serving.threshold);
            } else if let (Some(at), Some((name, bad))) = (target_at, target) {
                let label = match cells[at].as_deref().map(str::trim).filter(|t| !is_missing_token(t)) {
                    Some(value) => {
                        value == bad
                            || value.parse::<f64>().ok().zip(bad.parse::<f64>().ok()).is_some_and(|(v, b)| v == b)
                    }
                    None => {
                        return Err(Error::invalid(format!(
                            "line {line}, target column '{name}': the label is missing"
                        )));
                    }
                };
                data.labels.push(label);
            }
            if let Some(at) = score_at {
                score_texts.push(cells[at].clone());
            }
            if let Some(at) = exposure_at {
                data.exposures.push(cells[at].as_deref().and_then(|t| t.trim().parse::<f64>().ok()));
            }
            for (at, name) in &protected_at {
                let group = cells[*at].as_deref().map(str::trim).filter(|t| !is_missing_token(t));
                data.groups.entry((*name).clone()).or_default().push(group.unwrap_or("(missing)").to_owned());
            }
            data.rows.push(row);
        }
        Ok(())
    })?;
    if let Some(external) = external {
        data.external_scores =
            external.scores(score_texts.iter().map(Option::as_deref), version.serving.task.is_binary())?;
    }
    Ok(data)
}

/// The scores of a version on a data set, with per-feature contributions when asked and the model explains:
/// run by Warden, or read from an external model's score column.
/// The mean absolute contribution of each feature over scored rows: the global explanation; `None` when a
/// row carries no contributions (a model that cannot explain).
fn mean_abs_contributions(scored: &[RowScore]) -> Option<BTreeMap<String, f64>> {
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for row in scored {
        for (feature, c) in row.contributions.as_ref()? {
            *sums.entry(feature.clone()).or_default() += c.abs();
        }
    }
    let n = scored.len() as f64;
    Some(sums.into_iter().map(|(f, s)| (f, s / n)).collect())
}

async fn version_scores(warden: &Oversight, version: &Version, data: &Dataset, explain: bool) -> Result<Vec<RowScore>> {
    if version.format.is_external() {
        let external = |score: f64| RowScore { score, probabilities: Vec::new(), class: None, contributions: None };
        return Ok(data.external_scores.iter().copied().map(external).collect());
    }
    warden_serving::scoring::score_rows(warden, &version.model, version.number, data.rows.clone(), explain).await
}

/// An external version's descriptor (its artifact); `None` for a version Warden runs.
async fn external_model(warden: &Oversight, version: &Version) -> Result<Option<ExternalModel>> {
    if !version.format.is_external() {
        return Ok(None);
    }
    let bytes = warden.artifacts().read(&version.artifact_sha256).await?;
    Ok(Some(ExternalModel::parse(&bytes)?))
}

/// A regression model's figures: its predictions against the realized values, each row's error weighed by
/// `weights` (the exposures) when given.
fn regression_figures(realized: &[f64], predicted: &[f64], weights: Option<&[f64]>) -> Option<RegressionFigures> {
    let metrics = warden_stats::regression::regression_metrics(realized, predicted)?;
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let predicted_loss: f64 = predicted.iter().enumerate().map(|(i, p)| p * weight(i)).sum();
    let realized_loss: f64 = realized.iter().enumerate().map(|(i, y)| y * weight(i)).sum();
    let error = predicted_loss - realized_loss;
    Some(RegressionFigures {
        metrics,
        expected_loss_error: error,
        relative_expected_loss_error: (realized_loss > 0.0).then(|| error.abs() / realized_loss),
    })
}

/// Each row's exposure when the version names an exposure column (a feature's value, else the column read
/// beside the features; 0 when missing).
fn exposures(version: &Version, dataset: &Dataset) -> Option<Vec<f64>> {
    let column = version.serving.exposure_column.as_deref()?;
    Some(
        (0..dataset.rows.len())
            .map(|i| {
                dataset
                    .exposures
                    .get(i)
                    .copied()
                    .flatten()
                    .or_else(|| dataset.rows[i].get(column)?.as_f64())
                    .unwrap_or(0.0)
            })
            .collect(),
    )
}

fn figures(
    version: i64,
    labels: &[bool],
    scores: &[f64],
    threshold: f64,
    regression: Option<RegressionFigures>,
) -> Figures {
    let m = warden_stats::metrics::binary_metrics(labels, scores, &[]);
    let probability = regression.is_none();
    let n = scores.len().max(1) as f64;
    Figures {
        version,
        discrimination: Discrimination {
            auc: m.roc_auc,
            auc_interval: warden_stats::metrics::auc_delong(labels, scores, 0.95),
            gini: m.gini,
            ks: m.ks_separation,
            roc: thin(warden_stats::metrics::roc_curve(labels, scores).unwrap_or_default(), ROC_POINTS),
        },
        calibration: probability.then_some(Calibration {
            brier: m.brier,
            log_loss: m.log_loss,
            ece: m.ece,
            reliability: m.ece_bins,
        }),
        regression,
        multiclass: None,
        approval_rate: Some(scores.iter().filter(|&&s| s < threshold).count() as f64 / n),
        mean_score: scores.iter().sum::<f64>() / n,
        score_histogram: probability.then(|| ScoreHistogram::of(labels, scores)),
    }
}

/// A multiclass classifier's figures: its decided classes and probabilities against the realized classes;
/// `discrimination` holds the macro one-vs-rest AUC (and its Gini), the other binary figures are undefined.
fn multiclass_figures(version: i64, classes: &[String], realized: &[usize], scored: &[RowScore]) -> Result<Figures> {
    let decided: Vec<usize> = scored.iter().map(|r| r.class.unwrap_or(0)).collect();
    let probabilities: Vec<Vec<f64>> = scored.iter().map(|r| r.probabilities.clone()).collect();
    let m = warden_stats::multiclass::multiclass_metrics(classes.len(), realized, &decided, &probabilities)
        .ok_or_else(|| {
            Error::Inconsistent(format!(
                "version {version} did not give one probability per class ({}) for every row",
                classes.len()
            ))
        })?;
    let n = realized.len() as f64;
    let shares = |of: &[usize]| (0..classes.len()).map(|k| of.iter().filter(|&&c| c == k).count() as f64 / n).collect();
    Ok(Figures {
        version,
        discrimination: Discrimination {
            auc: m.auc_macro,
            auc_interval: None,
            gini: m.auc_macro.map(|auc| 2.0 * auc - 1.0),
            ks: None,
            roc: Vec::new(),
        },
        calibration: None,
        regression: None,
        multiclass: Some(MulticlassFigures {
            classes: classes.to_vec(),
            accuracy: m.accuracy,
            auc_macro: m.auc_macro,
            auc_per_class: m.auc_per_class,
            precision_macro: m.precision_macro,
            recall_macro: m.recall_macro,
            f1_macro: m.f1_macro,
            confusion: m.confusion,
            realized_shares: shares(realized),
            decided_shares: shares(&decided),
        }),
        approval_rate: None,
        mean_score: scored.iter().map(|r| r.score).sum::<f64>() / n,
        score_histogram: None,
    })
}

/// A multiclass classifier's fairness for one attribute: for each class, the parity of the groups' rates of
/// being decided that class (and equalized odds against being realized that class); the report keeps the
/// class whose groups' rates differ most (the lowest ratio), and names it.
fn multiclass_attribute_fairness(
    classes: &[String],
    realized: &[usize],
    decided: &[usize],
    groups: &[String],
) -> Option<AttributeFairness> {
    let mut worst: Option<(usize, warden_stats::fairness::Fairness)> = None;
    for k in 0..classes.len() {
        let not_realized: Vec<bool> = realized.iter().map(|&c| c != k).collect();
        let not_decided: Vec<bool> = decided.iter().map(|&c| c != k).collect();
        let f = warden_stats::fairness::fairness_of_approvals(
            &not_realized,
            &not_decided,
            groups.iter().map(String::as_str),
        )?;
        let ratio = f.demographic_parity_ratio.unwrap_or(f64::INFINITY);
        if worst.as_ref().is_none_or(|(_, w)| ratio < w.demographic_parity_ratio.unwrap_or(f64::INFINITY)) {
            worst = Some((k, f));
        }
    }
    let (class, f) = worst?;
    let favourable = format!(
        "decided '{}', the class whose groups' rates differ most; qualified = realized that class",
        classes[class]
    );
    Some(AttributeFairness::of(favourable, &f))
}

fn attribute_fairness(labels: &[bool], scores: &[f64], threshold: f64, groups: &[String]) -> Option<AttributeFairness> {
    let declined: Vec<bool> = scores.iter().map(|&s| s >= threshold).collect();
    let f = warden_stats::fairness::fairness_of_approvals(labels, &declined, groups.iter().map(String::as_str))?;
    Some(AttributeFairness::of(warden_stats::fairness::FAVOURABLE_OUTCOME.to_owned(), &f))
}

impl AttributeFairness {
    /// The report's figures of one attribute, under the named convention.
    fn of(favourable_outcome: String, f: &warden_stats::fairness::Fairness) -> AttributeFairness {
        AttributeFairness {
            favourable_outcome,
            disparate_impact: f.demographic_parity_ratio,
            approval_rate_difference: f.demographic_parity_difference,
            equalized_odds_difference: f.equalized_odds_difference,
            groups: f
                .by_group
                .iter()
                .map(|(g, r)| (g.clone(), GroupFigures { rows: r.count, approval_rate: r.selection_rate }))
                .collect(),
        }
    }
}

/// Validates `number` of `model` on the staged data and stores the report.
pub async fn validate(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    number: &str,
    request: ValidationRequest,
    data: StagedFile,
) -> Result<ValidationReport> {
    caller.require(Permission::Validate)?;
    let version = get_version(warden, caller, model, number).await?;
    let scenarios = match &request.scenarios {
        Some((text, format)) => crate::scenarios::parse(text, *format, &version.feature_schema)?,
        None => Vec::new(),
    };
    let external = external_model(warden, &version).await?;
    let multiclass = version.serving.task.is_multiclass();
    if multiclass && !scenarios.is_empty() {
        return Err(Error::invalid(format!(
            "version {} is a multiclass classifier: stress scenarios measure approval and expected loss, which \
             its decisions (classes) do not have; validate it without scenarios",
            version.number
        )));
    }
    if external.is_some() && !scenarios.is_empty() {
        return Err(Error::invalid(format!(
            "version {} is served outside Warden: stress scenarios re-score changed inputs, which needs a model \
             Warden runs; validate it without scenarios",
            version.number
        )));
    }
    let protected = if request.protected.is_empty() { version.protected.clone() } else { request.protected.clone() };
    let (path, schema_version) = (data.path().to_path_buf(), version.clone());
    let bad_value = request.bad_value.clone().unwrap_or_else(|| "1".into());
    let (target, protected_cols, bad) = (request.target.clone(), protected.clone(), bad_value.clone());
    let data_external = external.clone();
    let mut dataset = blocking(move || {
        read_dataset(&path, &schema_version, Some((&target, &bad)), &protected_cols, data_external.as_ref())
    })
    .await?;
    if dataset.rows.len() < MIN_ROWS {
        return Err(Error::invalid(format!(
            "the validation data has {} rows; at least {MIN_ROWS} are needed",
            dataset.rows.len()
        )));
    }
    let regression = version.serving.task == ModelTask::Regression;
    if multiclass && dataset.classes.iter().all(|&c| c == dataset.classes[0]) {
        return Err(Error::invalid(format!(
            "the target column '{}' holds one class only ('{}'): a multiclass classifier is validated on several",
            request.target, version.serving.classes[dataset.classes[0]]
        )));
    }
    if !regression && !multiclass && (dataset.labels.iter().all(|&l| l) || dataset.labels.iter().all(|&l| !l)) {
        return Err(Error::invalid(format!(
            "the target column '{}' holds one class only (bad value '{bad_value}')",
            request.target
        )));
    }
    let threshold = version.serving.threshold;
    let scored = version_scores(warden, &version, &dataset, true).await?;
    let scores: Vec<f64> = scored.iter().map(|r| r.score).collect();
    let explanation = mean_abs_contributions(&scored);

    // Stability: the reference data, scored by the same version, against this data.
    let reference = warden.artifacts().read(&version.reference_sha256).await?;
    let staged = tempfile::NamedTempFile::new().map_err(|e| Error::io("temporary file", e))?;
    std::fs::write(staged.path(), &reference).map_err(|e| Error::io("temporary file", e))?;
    let (reference_path, schema_version) = (staged.path().to_path_buf(), version.clone());
    let reference_external = external.clone();
    let reference_data =
        blocking(move || read_dataset(&reference_path, &schema_version, None, &[], reference_external.as_ref()))
            .await?;
    drop(staged);
    let reference_scored = version_scores(warden, &version, &reference_data, explanation.is_some()).await?;
    let explanation_shift =
        explanation.as_ref().zip(mean_abs_contributions(&reference_scored)).map(|(live, reference)| {
            live.iter()
                .filter_map(|(feature, &mean)| {
                    let reference = *reference.get(feature)?;
                    (reference > 0.0).then(|| (feature.clone(), (mean - reference).abs() / reference))
                })
                .collect()
        });
    let reference_scores: Vec<f64> = reference_scored.into_iter().map(|r| r.score).collect();
    let multivariate = {
        let (schema_version, reference_rows, rows) =
            (version.clone(), reference_data.rows.clone(), dataset.rows.clone());
        blocking(move || Ok(multivariate_stability(&schema_version, &reference_rows, &rows))).await?
    };
    let bands = DriftBands::default();
    let mut reference_values = reference_data.values;
    let mut psi = BTreeMap::new();
    let mut data_quality = BTreeMap::new();
    for (name, current) in std::mem::take(&mut dataset.values) {
        let reference = reference_values.remove(&name).expect("same schema");
        let report: FeatureReport = feature_report(&name, reference, current, bands);
        psi.insert(name.clone(), report.psi());
        data_quality.insert(name, report.current_quality);
    }
    let numeric = |values: Vec<f64>| FeatureValues::Numeric { values, non_finite: 0, type_violations: 0 };
    let score_psi = feature_report("score", numeric(reference_scores), numeric(scores.clone()), bands).psi();
    let max_feature_psi = psi.values().copied().fold(0.0, f64::max);

    let mut fairness = BTreeMap::new();
    let decided: Vec<usize> = scored.iter().map(|r| r.class.unwrap_or(0)).collect();
    for (name, groups) in &dataset.groups {
        let f = match multiclass {
            true => multiclass_attribute_fairness(&version.serving.classes, &dataset.classes, &decided, groups),
            false => attribute_fairness(&dataset.labels, &scores, threshold, groups),
        };
        if let Some(f) = f {
            fairness.insert(name.clone(), f);
        }
    }

    // The champion, when it is another version, on the same rows.
    let champion = match warden.metadata.alias_at(model, "champion", i64::MAX).await?.and_then(|a| a.version) {
        Some(champion) if champion != version.number => {
            let champion_version = get_version(warden, caller, model, &champion.to_string()).await?;
            // An external champion's scores are not in this data (it carries the candidate's); a champion of
            // another task, or with other classes, cannot be judged on these outcomes.
            if champion_version.format.is_external()
                || champion_version.serving.task != version.serving.task
                || champion_version.serving.classes != version.serving.classes
            {
                None
            } else if multiclass {
                let rows = dataset.rows.clone();
                let champion_scored = warden_serving::scoring::score_rows(warden, model, champion, rows, false).await?;
                Some(multiclass_figures(champion, &version.serving.classes, &dataset.classes, &champion_scored)?)
            } else {
                let rows = dataset.rows.clone();
                let champion_scores: Vec<f64> =
                    warden_serving::scoring::score_rows(warden, model, champion, rows, false)
                        .await?
                        .into_iter()
                        .map(|r| r.score)
                        .collect();
                let champion_regression = regression
                    .then(|| {
                        let weights = exposures(&champion_version, &dataset);
                        regression_figures(&dataset.realized, &champion_scores, weights.as_deref())
                    })
                    .flatten();
                Some(figures(
                    champion,
                    &dataset.labels,
                    &champion_scores,
                    champion_version.serving.threshold,
                    champion_regression,
                ))
            }
        }
        _ => None,
    };

    let scenario_results = stress(warden, &version, &scenarios, &dataset.rows, &dataset.exposures, &scores).await?;
    let bad_rate =
        (!multiclass).then(|| dataset.labels.iter().filter(|&&l| l).count() as f64 / dataset.labels.len() as f64);
    let own_regression = regression
        .then(|| regression_figures(&dataset.realized, &scores, exposures(&version, &dataset).as_deref()))
        .flatten();
    // A regression's bad event is its decision rule's: a realized value at or above the threshold; a
    // multiclass classifier's target holds classes, none of them bad.
    let bad_value = match version.serving.task {
        ModelTask::Regression => format!(">= {threshold}"),
        ModelTask::MulticlassClassification => String::new(),
        ModelTask::BinaryClassification => bad_value,
    };
    let own_figures = match multiclass {
        true => multiclass_figures(version.number, &version.serving.classes, &dataset.classes, &scored)?,
        false => figures(version.number, &dataset.labels, &scores, threshold, own_regression),
    };
    let data_sha256 = data.blob().sha256.clone();
    let warnings = data_warnings(&version, &data_sha256);
    let mut report = ValidationReport {
        id: 0,
        model: model.to_owned(),
        version: version.number,
        created_at: warden.now(),
        created_by: caller.actor(),
        data_sha256,
        rows: scores.len() as u64,
        bad_rate,
        target: request.target,
        bad_value,
        threshold,
        task: version.serving.task,
        figures: own_figures,
        fairness,
        stability: Stability { psi, max_feature_psi, score_psi, multivariate, explanation_shift },
        data_quality,
        explanation,
        champion,
        scenarios: scenario_results,
        warnings,
    };
    let body = serde_json::to_value(&report).map_err(|e| Error::json("encoding report", e))?;
    let audit = warden_registry::registry::audit(
        warden,
        caller,
        "version.validate",
        format!("model/{model}/{}", version.number),
        json!({ "data_sha256": report.data_sha256, "rows": report.rows, "auc": report.figures.discrimination.auc }),
    );
    let record = VersionRecord {
        id: 0,
        model_name: model.to_owned(),
        version: version.number,
        at: report.created_at,
        actor: report.created_by.clone(),
        body,
    };
    let stored = warden.metadata.append_version_record(RecordKind::ValidationReport, record, Some(audit)).await?;
    report.id = stored.id;
    Ok(report)
}

/// The reports of a version, oldest first.
pub async fn reports(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    number: &str,
) -> Result<Vec<ValidationReport>> {
    caller.require(Permission::ReadRegistry)?;
    let version = get_version(warden, caller, model, number).await?;
    stored_reports(warden, model, version.number).await
}

pub(crate) async fn stored_reports(warden: &Oversight, model: &str, number: i64) -> Result<Vec<ValidationReport>> {
    let records = warden.metadata.version_records(RecordKind::ValidationReport, model, Some(number)).await?;
    records.into_iter().map(parse_report).collect()
}

/// The newest report of a version (what the gate sees), parsing only that one.
pub(crate) async fn latest_report(warden: &Oversight, model: &str, number: i64) -> Result<Option<ValidationReport>> {
    let mut records = warden.metadata.version_records(RecordKind::ValidationReport, model, Some(number)).await?;
    records.pop().map(parse_report).transpose()
}

fn parse_report(record: VersionRecord) -> Result<ValidationReport> {
    let mut report: ValidationReport = serde_json::from_value(record.body)
        .map_err(|e| Error::json(format!("stored validation report {}", record.id), e))?;
    report.id = record.id;
    Ok(report)
}

/// Approval rate, mean PD and expected loss of scores (and their rows, for exposures).
fn portfolio(
    version: &Version,
    rows: &[Map<String, Value>],
    exposures: &[Option<f64>],
    scores: &[f64],
) -> Result<(f64, f64, Option<f64>)> {
    let n = scores.len() as f64;
    let approval = scores.iter().filter(|&&s| s < version.serving.threshold).count() as f64 / n;
    let mean_pd = scores.iter().sum::<f64>() / n;
    let (Some(lgd), Some(column)) = (version.serving.lgd, &version.serving.exposure_column) else {
        return Ok((approval, mean_pd, None));
    };
    let mut loss = 0.0;
    for (i, (row, pd)) in rows.iter().zip(scores).enumerate() {
        let ead = match row.get(column) {
            Some(value) => value.as_f64(),
            None => exposures.get(i).copied().flatten(),
        };
        let ead = ead.filter(|e| e.is_finite() && *e >= 0.0).ok_or_else(|| {
            Error::invalid(format!("row {}: exposure column '{column}' is missing or not a number", i + 1))
        })?;
        loss += pd * lgd * ead;
    }
    Ok((approval, mean_pd, Some(loss)))
}

async fn stress(
    warden: &Oversight,
    version: &Version,
    scenarios: &[Scenario],
    rows: &[Map<String, Value>],
    exposures: &[Option<f64>],
    scores: &[f64],
) -> Result<Vec<ScenarioResult>> {
    if scenarios.is_empty() {
        return Ok(Vec::new());
    }
    let (approval, mean_pd, loss) = portfolio(version, rows, exposures, scores)?;
    let mut results = Vec::with_capacity(scenarios.len());
    for scenario in scenarios {
        let mut stressed = rows.to_vec();
        crate::scenarios::apply(scenario, &mut stressed)?;
        let stressed_scores: Vec<f64> =
            warden_serving::scoring::score_rows(warden, &version.model, version.number, stressed.clone(), false)
                .await
                .map_err(|e| match e {
                    Error::Invalid { message, details } => {
                        Error::Invalid { message: format!("scenario '{}': {message}", scenario.name), details }
                    }
                    other => other,
                })?
                .into_iter()
                .map(|r| r.score)
                .collect();
        let (s_approval, s_mean_pd, s_loss) = portfolio(version, &stressed, exposures, &stressed_scores)?;
        // A figure that overflowed would be stored as null and the report could not be read back.
        for (figure, value) in [("mean predicted default", Some(s_mean_pd)), ("expected loss", s_loss)] {
            if let Some(value) = value.filter(|v| !v.is_finite()) {
                return Err(Error::invalid_with(
                    format!("scenario '{}': the {figure} under the scenario is not finite ({value})", scenario.name),
                    json!({"scenario": scenario.name, "figure": figure}),
                ));
            }
        }
        results.push(ScenarioResult {
            name: scenario.name.clone(),
            changes: scenario.changes.iter().map(|c| c.text.clone()).collect(),
            approval_rate: Delta::new(approval, s_approval),
            mean_pd: Delta::new(mean_pd, s_mean_pd),
            expected_loss: loss.zip(s_loss).map(|(b, s)| Delta::new(b, s)),
        });
    }
    Ok(results)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::task("validation", e))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_curve_is_thinned_to_its_ends_and_even_steps() {
        let points: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64, i as f64)).collect();
        let thinned = thin(points.clone(), 11);
        assert_eq!(thinned.len(), 11);
        assert_eq!(thinned.first(), points.first());
        assert_eq!(thinned.last(), points.last());
        assert_eq!(thin(points[..5].to_vec(), 11).len(), 5);
    }

    #[test]
    fn multiclass_fairness_keeps_the_class_whose_groups_differ_most() {
        let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        // Group x is decided a, b, c, a; group y a, c, c, c: b is decided for a quarter of x and none of y.
        let decided = [0, 1, 2, 0, 0, 2, 2, 2];
        let realized = [0, 1, 2, 0, 0, 1, 2, 2];
        let groups: Vec<String> = ["x", "x", "x", "x", "y", "y", "y", "y"].map(String::from).to_vec();
        let f = multiclass_attribute_fairness(&classes, &realized, &decided, &groups).unwrap();
        assert!(f.favourable_outcome.starts_with("decided 'b'"), "{}", f.favourable_outcome);
        assert_eq!(f.disparate_impact, Some(0.0));
        assert_eq!((f.groups["x"].approval_rate, f.groups["y"].approval_rate), (0.25, 0.0));
        assert_eq!(f.approval_rate_difference, 0.25);
    }

    #[test]
    fn the_score_histogram_counts_each_row_once_by_outcome() {
        let histogram = ScoreHistogram::of(&[true, false, false, true], &[0.0, 0.049, 0.05, 1.0]);
        assert_eq!((histogram.bad[0], histogram.good[0], histogram.good[1], histogram.bad[19]), (1, 1, 1, 1));
        assert_eq!(histogram.bad.iter().chain(&histogram.good).sum::<u64>(), 4);
    }
}
