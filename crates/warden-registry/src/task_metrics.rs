//! Performance reports of a scored file for multiclass classifiers and regressors (binary classifiers:
//! [`crate::compare::metrics_report`]): figures on outcomes when the file has them, estimates from a labelled
//! reference when it does not, and the drift of the predictions against the reference's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use warden_stats::cbpe::{CbpeEstimate, chunk_ranges};
use warden_stats::dle::{DleEstimate, DleModel, LossMetric, RowLoss};
use warden_stats::multiclass::{MulticlassMetrics, multiclass_metrics};
use warden_stats::multiclass_cbpe::{ClassRows, MulticlassCbpeModel, fit_calibrators};
use warden_stats::regression::{RegressionMetrics, regression_metrics};
use warden_stats::report::{DriftBands, FeatureReport, FeatureValues, feature_report};

use crate::compare::{RowValues, header, read_rows};
use crate::dataset::DataFormat;
use crate::{Error, Result};

/// What `multiclass_report` reads.
#[derive(Debug, Clone)]
pub struct MulticlassOptions {
    /// Each class with the column holding its probability.
    pub classes: Vec<(String, String)>,
    /// The predicted-class column; by default the class with the highest probability (the first on a tie).
    pub prediction: Option<String>,
    /// The outcome column (class names). When the data file lacks it, performance is estimated (CBPE) from
    /// the reference, which must have it.
    pub label: Option<String>,
    /// Labelled reference to fit CBPE on and to compare predictions with.
    pub reference: Option<PathBuf>,
    /// Rows per estimation chunk.
    pub chunk_size: usize,
}

/// A multiclass classifier's performance: on outcomes, or estimated without them.
#[derive(Debug, Clone, PartialEq)]
pub enum MulticlassReport {
    /// The file has outcomes.
    Realized {
        /// The classes, sorted (the order of every per-class figure).
        classes: Vec<String>,
        /// One-vs-rest and macro AUC, accuracy, macro precision, recall and F1, the confusion matrix.
        metrics: MulticlassMetrics,
    },
    /// No outcomes: multiclass CBPE fitted on the reference.
    Estimated {
        /// The classes, sorted.
        classes: Vec<String>,
        /// Per class, whether its probabilities are recalibrated.
        calibrated: Vec<bool>,
        /// Per chunk: the estimates and the drift of the predicted classes against the reference's.
        chunks: Vec<MulticlassChunk>,
    },
}

/// One chunk of a multiclass estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct MulticlassChunk {
    /// First row and the row after the last (0-based).
    pub start: usize,
    pub end: usize,
    /// ROC AUC, accuracy, precision, recall, F1 (macro), each with its sampling error and thresholds.
    pub estimates: Vec<CbpeEstimate>,
    /// The predicted classes' shares against the reference's (χ², PSI, Jensen–Shannon; PSI bands).
    pub prediction_drift: FeatureReport,
}

/// The class rows of one file, classes as indices into the sorted class names.
struct ClassFile {
    probabilities: Vec<Vec<f64>>,
    predictions: Vec<usize>,
    labels: Option<Vec<usize>>,
}

impl ClassFile {
    fn rows(&self) -> ClassRows<'_> {
        ClassRows { probabilities: &self.probabilities, predictions: &self.predictions, labels: self.labels.as_deref() }
    }
}

/// Predicted-class counts by class name.
fn prediction_counts(predictions: &[usize], classes: &[String]) -> FeatureValues {
    let mut counts = std::collections::BTreeMap::new();
    for &p in predictions {
        *counts.entry(classes[p].clone()).or_insert(0u64) += 1;
    }
    FeatureValues::Categorical { counts, missing: 0 }
}

/// The sorted classes and their probability columns, refused when fewer than two or repeated.
fn sorted_classes(options: &MulticlassOptions) -> Result<(Vec<String>, Vec<String>)> {
    let mut classes = options.classes.clone();
    classes.sort();
    if classes.len() < 2 {
        return Err(Error::invalid("a multiclass report needs at least two classes with their probability columns"));
    }
    if let Some(pair) = classes.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(Error::invalid(format!("class '{}' is named twice", pair[0].0)));
    }
    Ok(classes.into_iter().unzip())
}

fn read_class_file(
    path: &Path,
    classes: &[String],
    columns: &[String],
    options: &MulticlassOptions,
    label: Option<&String>,
) -> Result<ClassFile> {
    let mut names = columns.to_vec();
    names.extend(options.prediction.clone());
    names.extend(label.cloned());
    let numeric: Vec<bool> = (0..names.len()).map(|i| i < columns.len()).collect();
    let mut read = read_rows(path, &names, &numeric)?.into_iter();
    let mut probability_columns = Vec::with_capacity(columns.len());
    for column in columns {
        let Some(RowValues::Numbers(values)) = read.next() else { unreachable!("numeric column") };
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
            return Err(Error::invalid(format!(
                "{}: row {}: probability column '{column}' must be within [0, 1], found {v}",
                path.display(),
                i + 1
            )));
        }
        probability_columns.push(values);
    }
    let rows = probability_columns[0].len();
    if rows == 0 {
        return Err(Error::invalid(format!("{} has no data rows", path.display())));
    }
    let probabilities: Vec<Vec<f64>> =
        (0..rows).map(|i| probability_columns.iter().map(|column| column[i]).collect()).collect();
    let mut class_column = |column: &str| -> Result<Vec<usize>> {
        let Some(RowValues::Texts(values)) = read.next() else { unreachable!("text column") };
        values
            .iter()
            .enumerate()
            .map(|(i, value)| {
                value.as_deref().and_then(|v| classes.iter().position(|c| c == v)).ok_or_else(|| {
                    Error::invalid(format!(
                        "{}: row {}: column '{column}' holds {}, which is not one of the classes ({})",
                        path.display(),
                        i + 1,
                        value.as_deref().map_or("nothing".to_owned(), |v| format!("'{v}'")),
                        classes.join(", ")
                    ))
                })
            })
            .collect()
    };
    let predictions = match &options.prediction {
        Some(column) => class_column(column)?,
        None => probabilities
            .iter()
            .map(|row| row.iter().enumerate().fold(0, |best, (c, &p)| if p > row[best] { c } else { best }))
            .collect(),
    };
    let labels = label.map(|column| class_column(column)).transpose()?;
    Ok(ClassFile { probabilities, predictions, labels })
}

/// A multiclass classifier's performance on a scored file.
pub fn multiclass_report(data: &Path, options: &MulticlassOptions) -> Result<MulticlassReport> {
    let (classes, columns) = sorted_classes(options)?;
    let data_label = match &options.label {
        Some(label) if header(data, DataFormat::detect(data)?)?.contains(label) => Some(label),
        _ => None,
    };
    let file = read_class_file(data, &classes, &columns, options, data_label)?;
    if let Some(labels) = &file.labels {
        let metrics = multiclass_metrics(classes.len(), labels, &file.predictions, &file.probabilities)
            .expect("rows checked as they were read");
        return Ok(MulticlassReport::Realized { classes, metrics });
    }
    let (Some(reference), Some(label)) = (&options.reference, &options.label) else {
        return Err(Error::invalid(
            "the data has no outcome column: give --label and a labelled --reference to estimate performance (CBPE)",
        ));
    };
    let reference_file = read_class_file(reference, &classes, &columns, options, Some(label))?;
    let model = fit_multiclass_cbpe(&classes, reference_file.rows(), options.chunk_size)
        .map_err(|problem| Error::invalid(format!("{}: {problem}", reference.display())))?;
    let calibrated = model.calibrators.iter().map(Option::is_some).collect();
    let rows = file.rows();
    let reference_counts = prediction_counts(&reference_file.predictions, &classes);
    let chunks = chunk_ranges(file.predictions.len(), options.chunk_size)
        .into_iter()
        .map(|(start, end)| {
            let chunk = ClassRows {
                probabilities: &rows.probabilities[start..end],
                predictions: &rows.predictions[start..end],
                labels: None,
            };
            let estimates = model.estimate(chunk).map_err(|e| Error::invalid(e.to_string()))?;
            let prediction_drift = feature_report(
                "predicted class",
                reference_counts.clone(),
                prediction_counts(chunk.predictions, &classes),
                DriftBands::default(),
            );
            Ok(MulticlassChunk { start, end, estimates, prediction_drift })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(MulticlassReport::Estimated { classes, calibrated, chunks })
}

/// Multiclass CBPE fitted on a labelled reference (calibrating each class where that lowers its calibration
/// error): the file report's and the live monitor's. The error names a class the outcomes never hold.
pub fn fit_multiclass_cbpe(
    classes: &[String],
    reference: ClassRows<'_>,
    chunk_size: usize,
) -> std::result::Result<MulticlassCbpeModel, String> {
    let calibrators = fit_calibrators(classes.len(), reference);
    MulticlassCbpeModel::fit(classes.len(), reference, chunk_size, calibrators).map_err(|e| match e {
        warden_stats::multiclass_cbpe::MulticlassCbpeError::MissingClass(c) => {
            format!("class '{}' never occurs among the reference's outcomes", classes[c])
        }
        other => other.to_string(),
    })
}

/// What `regression_report` reads.
#[derive(Debug, Clone)]
pub struct RegressionOptions {
    /// The predicted-value column.
    pub prediction: String,
    /// The outcome column. When the data file lacks it, performance is estimated (DLE) from the reference,
    /// which must have it.
    pub label: Option<String>,
    /// The feature columns DLE's loss models read (with the prediction).
    pub features: Vec<String>,
    /// Labelled reference to fit DLE on and to compare predictions with.
    pub reference: Option<PathBuf>,
    /// Rows per estimation chunk.
    pub chunk_size: usize,
}

/// A regression model's performance: on outcomes, or estimated without them.
#[derive(Debug, Clone, PartialEq)]
pub enum RegressionReport {
    /// The file has outcomes: MAE, MSE, RMSE, MAPE and R² (scikit-learn's).
    Realized {
        /// The figures.
        metrics: RegressionMetrics,
    },
    /// No outcomes: direct loss estimation, with loss models trained on the reference.
    Estimated {
        /// How each loss-model input is read.
        inputs: LossEncoding,
        /// Per chunk: the estimates and the drift of the predictions against the reference's.
        chunks: Vec<RegressionChunk>,
    },
}

/// One chunk of a regression estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionChunk {
    /// First row and the row after the last (0-based).
    pub start: usize,
    pub end: usize,
    /// MAE, MSE, RMSE and MAPE, each with its sampling error and thresholds.
    pub estimates: Vec<DleEstimate>,
    /// The predictions against the reference's (KS, PSI, Jensen–Shannon, Wasserstein; PSI bands).
    pub prediction_drift: FeatureReport,
}

/// Most reference rows DLE trains its loss models on (each of the three is 100 trees over every row).
pub const MAX_DLE_REFERENCE_ROWS: usize = 1_000_000;

/// The category NannyML gives a missing categorical value before encoding it.
const MISSING_CATEGORY: &str = "NML_missing_value";

/// How a loss model reads one feature.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LossInput {
    /// A number (missing: NaN, which the trees send their default way).
    Number,
    /// A category, as NannyML's DLE encodes it: its index among the reference's sorted categories (a missing
    /// value being the category `NML_missing_value`) plus 1; an unseen category is 0.
    Category {
        /// The reference's categories, sorted.
        categories: Vec<String>,
    },
}

/// The loss models' inputs: each feature with how it is read, then the prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LossEncoding {
    /// Feature name and how it is read, in the order given.
    pub features: Vec<(String, LossInput)>,
}

impl LossEncoding {
    /// Reads each feature as a number when every present reference cell is one, else as a category.
    pub fn fit(names: &[String], reference: &[Vec<Option<String>>]) -> LossEncoding {
        let features = names
            .iter()
            .zip(reference)
            .map(|(name, cells)| {
                let numeric = cells.iter().flatten().all(|cell| cell.parse::<f64>().is_ok_and(f64::is_finite));
                let input = if numeric {
                    LossInput::Number
                } else {
                    let mut categories: Vec<String> =
                        cells.iter().map(|c| c.clone().unwrap_or_else(|| MISSING_CATEGORY.to_owned())).collect();
                    categories.sort();
                    categories.dedup();
                    LossInput::Category { categories }
                };
                (name.clone(), input)
            })
            .collect();
        LossEncoding { features }
    }

    /// The loss models' input columns (each feature, then `predictions`); a number feature's cell that is not
    /// a number is refused with its row, `source` naming where the rows came from.
    pub fn encode(
        &self,
        source: &dyn std::fmt::Display,
        cells: &[Vec<Option<String>>],
        predictions: &[f64],
    ) -> Result<Vec<Vec<f64>>> {
        let mut columns = Vec::with_capacity(self.features.len() + 1);
        for ((name, input), column) in self.features.iter().zip(cells) {
            let encoded = column
                .iter()
                .enumerate()
                .map(|(i, cell)| match (input, cell.as_deref()) {
                    (LossInput::Number, None) => Ok(f64::NAN),
                    (LossInput::Number, Some(text)) => {
                        text.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                            Error::invalid(format!(
                                "{source}: row {}: feature '{name}' is numeric in the reference, found '{text}'",
                                i + 1
                            ))
                        })
                    }
                    (LossInput::Category { categories }, value) => {
                        let value = value.unwrap_or(MISSING_CATEGORY);
                        Ok(categories.binary_search_by(|c| c.as_str().cmp(value)).map_or(0.0, |at| at as f64 + 1.0))
                    }
                })
                .collect::<Result<Vec<f64>>>()?;
            columns.push(encoded);
        }
        columns.push(predictions.to_vec());
        Ok(columns)
    }
}

/// The loss-model settings: LightGBM's defaults (NannyML's DLE uses `LGBMRegressor()`) where the two trainers
/// share a setting: 100 trees, learning rate 0.1, no L2 penalty, at least 20 rows a leaf.
pub fn loss_model_options() -> warden_train::gbt::GbtOptions {
    warden_train::gbt::GbtOptions {
        n_estimators: 100,
        max_depth: 6,
        learning_rate: 0.1,
        lambda: 0.0,
        min_child_weight: 20.0,
        max_bins: 255,
    }
}

/// Loss models trained on encoded reference `columns` (column-major) for each row loss of `actual` against
/// `predicted`, with [`loss_model_options`].
pub fn train_loss_models(
    columns: &[Vec<f64>],
    actual: &[f64],
    predicted: &[f64],
) -> std::result::Result<BTreeMap<RowLoss, warden_train::gbt::Booster>, warden_train::TrainError> {
    RowLoss::ALL
        .into_iter()
        .map(|loss| {
            let targets: Vec<f64> = actual.iter().zip(predicted).map(|(&y, &p)| loss.of(y, p)).collect();
            Ok((loss, warden_train::gbt::fit_regression(columns, &targets, loss_model_options())?))
        })
        .collect()
}

/// Each row loss's model outputs on every row of encoded `columns`.
pub fn row_losses(
    models: &BTreeMap<RowLoss, warden_train::gbt::Booster>,
    columns: &[Vec<f64>],
) -> BTreeMap<RowLoss, Vec<f64>> {
    let rows = columns.first().map_or(0, Vec::len);
    models
        .iter()
        .map(|(&loss, booster)| {
            let mut row = vec![0.0; columns.len()];
            let outputs = (0..rows)
                .map(|i| {
                    row.iter_mut().zip(columns).for_each(|(cell, column)| *cell = column[i]);
                    booster.predict(&row)
                })
                .collect();
            (loss, outputs)
        })
        .collect()
}

/// DLE's estimates per chunk of rows, from each row loss's model outputs on every row (`row_losses`) and the
/// rows' outcomes when known.
pub fn dle_chunks(
    dle: &DleModel,
    row_losses: &BTreeMap<RowLoss, Vec<f64>>,
    outcomes: Option<(&[f64], &[f64])>,
    rows: usize,
    chunk_size: usize,
) -> Result<Vec<(usize, usize, Vec<DleEstimate>)>> {
    chunk_ranges(rows, chunk_size)
        .into_iter()
        .map(|(start, end)| {
            let estimates = LossMetric::ALL
                .into_iter()
                .map(|metric| {
                    let losses = &row_losses[&metric.row_loss()][start..end];
                    let chunk_outcomes = outcomes.map(|(a, p)| (&a[start..end], &p[start..end]));
                    dle.estimate(metric, losses, chunk_outcomes).map_err(|e| Error::invalid(e.to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((start, end, estimates))
        })
        .collect()
}

/// One file's regression columns: predictions, outcomes when read, feature cells as text.
struct RegressionFile {
    predictions: Vec<f64>,
    outcomes: Option<Vec<f64>>,
    features: Vec<Vec<Option<String>>>,
}

fn read_regression_file(path: &Path, options: &RegressionOptions, label: Option<&String>) -> Result<RegressionFile> {
    let mut names = vec![options.prediction.clone()];
    names.extend(label.cloned());
    let numbers = names.len();
    names.extend(options.features.iter().cloned());
    let numeric: Vec<bool> = (0..names.len()).map(|i| i < numbers).collect();
    let mut read = read_rows(path, &names, &numeric)?.into_iter();
    let mut number_column = || match read.next() {
        Some(RowValues::Numbers(values)) => values,
        _ => unreachable!("numeric column"),
    };
    let predictions = number_column();
    if predictions.is_empty() {
        return Err(Error::invalid(format!("{} has no data rows", path.display())));
    }
    let outcomes = label.map(|_| number_column());
    let features = read
        .map(|column| match column {
            RowValues::Texts(values) => values,
            RowValues::Numbers(_) => unreachable!("text column"),
        })
        .collect();
    Ok(RegressionFile { predictions, outcomes, features })
}

/// A regression model's performance on a scored file.
pub fn regression_report(data: &Path, options: &RegressionOptions) -> Result<RegressionReport> {
    let data_label = match &options.label {
        Some(label) if header(data, DataFormat::detect(data)?)?.contains(label) => Some(label),
        _ => None,
    };
    let file = read_regression_file(data, options, data_label)?;
    if let Some(outcomes) = &file.outcomes {
        let metrics = regression_metrics(outcomes, &file.predictions).expect("finite numbers of equal length");
        return Ok(RegressionReport::Realized { metrics });
    }
    let (Some(reference), Some(label)) = (&options.reference, &options.label) else {
        return Err(Error::invalid(
            "the data has no outcome column: give --label and a labelled --reference to estimate performance (DLE)",
        ));
    };
    if options.features.is_empty() {
        return Err(Error::invalid(
            "estimating a regression's performance (DLE) needs --feature columns to learn from",
        ));
    }
    let reference_file = read_regression_file(reference, options, Some(label))?;
    let rows = reference_file.predictions.len();
    if rows > MAX_DLE_REFERENCE_ROWS {
        return Err(Error::invalid(format!(
            "{}: {rows} rows; DLE trains on at most {MAX_DLE_REFERENCE_ROWS} reference rows (sample the reference)",
            reference.display()
        )));
    }
    let outcomes = reference_file.outcomes.as_deref().expect("read with the label");
    let dle = DleModel::fit(outcomes, &reference_file.predictions, options.chunk_size)
        .map_err(|e| Error::invalid(format!("{}: {e}", reference.display())))?;
    let inputs = LossEncoding::fit(&options.features, &reference_file.features);
    let training = inputs.encode(&reference.display(), &reference_file.features, &reference_file.predictions)?;
    let current = inputs.encode(&data.display(), &file.features, &file.predictions)?;
    let models = train_loss_models(&training, outcomes, &reference_file.predictions)
        .map_err(|e| Error::invalid(format!("{}: the loss models cannot be trained: {e}", reference.display())))?;
    let row_losses = row_losses(&models, &current);
    let reference_predictions =
        FeatureValues::Numeric { values: reference_file.predictions.clone(), non_finite: 0, type_violations: 0 };
    let chunks = dle_chunks(&dle, &row_losses, None, file.predictions.len(), options.chunk_size)?
        .into_iter()
        .map(|(start, end, estimates)| {
            let current = FeatureValues::Numeric {
                values: file.predictions[start..end].to_vec(),
                non_finite: 0,
                type_violations: 0,
            };
            let prediction_drift =
                feature_report("prediction", reference_predictions.clone(), current, DriftBands::default());
            RegressionChunk { start, end, estimates, prediction_drift }
        })
        .collect();
    Ok(RegressionReport::Estimated { inputs, chunks })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use warden_models::{Cell, Model, ModelFormat};

    use super::*;

    fn golden() -> Value {
        serde_json::from_str(&warden_testdata::read_to_string("stats/golden/dle.json")).unwrap()
    }

    fn options(golden: &Value) -> RegressionOptions {
        RegressionOptions {
            prediction: "y_pred".into(),
            label: Some("y_true".into()),
            features: serde_json::from_value(golden["features"].clone()).unwrap(),
            reference: None,
            chunk_size: golden["chunk_size"].as_u64().unwrap() as usize,
        }
    }

    /// NannyML's fitted loss model for one row loss, run on encoded columns.
    fn nannyml_losses(loss: RowLoss, columns: &[Vec<f64>]) -> Vec<f64> {
        let name = match loss {
            RowLoss::Absolute => "mae",
            RowLoss::Squared => "mse",
            RowLoss::AbsolutePercentage => "mape",
        };
        let text = warden_testdata::read_to_string(&format!("stats/golden/dle_models/{name}.txt"));
        let model = Model::load(ModelFormat::LightgbmText, text.as_bytes()).unwrap();
        let rows: Vec<Vec<Cell>> = (0..columns[0].len())
            .map(|i| columns.iter().map(|c| if c[i].is_nan() { Cell::Missing } else { Cell::Number(c[i]) }).collect())
            .collect();
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        model.predict(&refs).unwrap().into_iter().map(|p| p.score).collect()
    }

    /// With NannyML's own loss models, Warden's encoding of the inputs and its DLE give NannyML 0.13.1's
    /// figures for every chunk (reference and analysis), metric and field: relative 1e-9.
    #[test]
    fn dle_matches_nannyml_on_the_car_price_set_given_its_loss_models() {
        let golden = golden();
        let options = options(&golden);
        let path = |side: &str| warden_testdata::path(&format!("stats/golden/dle_{side}.csv"));
        let label = options.label.clone().unwrap();
        let reference = read_regression_file(&path("reference"), &options, Some(&label)).unwrap();
        let analysis = read_regression_file(&path("analysis"), &options, Some(&label)).unwrap();
        let encoding = LossEncoding::fit(&options.features, &reference.features);
        for (name, categories) in golden["categories"].as_object().unwrap() {
            let (_, input) = encoding.features.iter().find(|(n, _)| n == name).unwrap();
            let want: Vec<String> = serde_json::from_value(categories.clone()).unwrap();
            assert_eq!(input, &LossInput::Category { categories: want }, "{name}");
        }
        assert_eq!(encoding.features.iter().filter(|(_, i)| *i == LossInput::Number).count(), 5);
        let outcomes = reference.outcomes.as_deref().unwrap();
        let dle = DleModel::fit(outcomes, &reference.predictions, options.chunk_size).unwrap();
        let names = [
            (LossMetric::Mae, "mae"),
            (LossMetric::Mse, "mse"),
            (LossMetric::Rmse, "rmse"),
            (LossMetric::Mape, "mape"),
        ];
        let mut checked = 0;
        for (period, file) in [("reference", &reference), ("analysis", &analysis)] {
            let columns = encoding.encode(&path(period).display(), &file.features, &file.predictions).unwrap();
            let row_losses: BTreeMap<RowLoss, Vec<f64>> =
                RowLoss::ALL.into_iter().map(|loss| (loss, nannyml_losses(loss, &columns))).collect();
            let outcomes = (file.outcomes.as_deref().unwrap(), file.predictions.as_slice());
            let chunks =
                dle_chunks(&dle, &row_losses, Some(outcomes), file.predictions.len(), options.chunk_size).unwrap();
            let expected: Vec<&Value> =
                golden["chunks"].as_array().unwrap().iter().filter(|c| c["period"] == period).collect();
            assert_eq!(chunks.len(), expected.len());
            for ((start, _, estimates), want) in chunks.iter().zip(expected) {
                for (metric, name) in names {
                    let got = estimates.iter().find(|e| e.metric == metric).unwrap();
                    let want = &want[name];
                    let close = |field: &str, value: f64| {
                        let expected = want[field].as_f64().unwrap();
                        assert!(
                            (value - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                            "{period} chunk {start}: {name} {field} {value} vs NannyML {expected}"
                        );
                    };
                    close("value", got.value);
                    close("sampling_error", got.sampling_error);
                    close("realized", got.realized.unwrap());
                    close("upper_confidence_boundary", got.upper_confidence_boundary);
                    close("lower_confidence_boundary", got.lower_confidence_boundary);
                    close("upper_threshold", got.upper_threshold.unwrap());
                    close("lower_threshold", got.lower_threshold.unwrap());
                    let alert = got.status == warden_stats::cbpe::CbpeStatus::Alert;
                    assert_eq!(alert, want["alert"].as_bool().unwrap(), "{period} chunk {start}: {name} alert");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 8 * 4);
    }
}
