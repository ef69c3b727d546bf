//! Performance reports of a scored file for multiclass classifiers and regressors (binary classifiers:
//! [`crate::compare::metrics_report`]): figures on outcomes when the file has them, estimates from a labelled
//! reference when it does not, and the drift of the predictions against the reference's.

use std::path::{Path, PathBuf};

use warden_stats::cbpe::{CbpeEstimate, chunk_ranges};
use warden_stats::multiclass::{MulticlassMetrics, multiclass_metrics};
use warden_stats::multiclass_cbpe::{ClassRows, MulticlassCbpeModel, fit_calibrators};
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
    let calibrators = fit_calibrators(classes.len(), reference_file.rows());
    let calibrated = calibrators.iter().map(Option::is_some).collect();
    let model = MulticlassCbpeModel::fit(classes.len(), reference_file.rows(), options.chunk_size, calibrators)
        .map_err(|e| match e {
            warden_stats::multiclass_cbpe::MulticlassCbpeError::MissingClass(c) => Error::invalid(format!(
                "{}: class '{}' never occurs among the reference's outcomes",
                reference.display(),
                classes[c]
            )),
            other => Error::invalid(format!("{}: {other}", reference.display())),
        })?;
    let rows = file.rows();
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
                prediction_counts(&reference_file.predictions, &classes),
                prediction_counts(chunk.predictions, &classes),
                DriftBands::default(),
            );
            Ok(MulticlassChunk { start, end, estimates, prediction_drift })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(MulticlassReport::Estimated { classes, calibrated, chunks })
}
