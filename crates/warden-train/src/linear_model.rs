//! A logistic regression trained on raw tabular columns and written as Warden's linear JSON
//! (`warden-models/src/linear.rs`): numbers are median-imputed and standardised (population standard
//! deviation, as scikit-learn's `StandardScaler`), categories are imputed with the most frequent one and
//! one-hot encoded, unseen categories score zero — the pipeline of the scikit-learn fixture.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::TrainError;
use crate::logistic::{LogisticFit, LogisticOptions, fit};

/// One training column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers; `None` is missing.
    Numeric(Vec<Option<f64>>),
    /// Categories; `None` is missing.
    Categorical(Vec<Option<String>>),
}

/// A named training column.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// The feature's name (as the model's input).
    pub name: String,
    /// Its values, one per row.
    pub column: Column,
}

/// The trained model: Warden's linear JSON, and the fit behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedLinear {
    /// The model document (`"format": "warden-linear"`).
    pub model: Value,
    /// The solver's result on the encoded columns.
    pub fit: LogisticFit,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// Trains on `features` and `labels` (true = the event the score predicts) with L2 strength `c`.
pub fn train_logistic(features: &[Feature], labels: &[bool], c: f64) -> Result<TrainedLinear, TrainError> {
    let n = labels.len();
    let mut encoded: Vec<Vec<f64>> = Vec::new();
    // Per feature: how to write it back into the model document once the coefficients are known.
    enum Plan {
        Numeric { center: f64, scale: f64, impute: f64, column: usize },
        Categorical { categories: Vec<String>, impute: String, first: usize },
    }
    let mut plans = Vec::new();
    for feature in features {
        match &feature.column {
            Column::Numeric(values) => {
                if values.len() != n {
                    return Err(TrainError::Data(format!(
                        "'{}' has {} values for {n} labels",
                        feature.name,
                        values.len()
                    )));
                }
                let mut present: Vec<f64> = values.iter().flatten().copied().collect();
                if present.is_empty() {
                    return Err(TrainError::Data(format!("'{}' has no values", feature.name)));
                }
                if present.iter().any(|v| !v.is_finite()) {
                    return Err(TrainError::Data(format!("'{}' holds a non-finite number", feature.name)));
                }
                let impute = median(&mut present);
                let filled: Vec<f64> = values.iter().map(|v| v.unwrap_or(impute)).collect();
                let center = filled.iter().sum::<f64>() / n as f64;
                let variance = filled.iter().map(|v| (v - center).powi(2)).sum::<f64>() / n as f64;
                // A constant column keeps scale 1 (as StandardScaler does).
                let scale = if variance > 0.0 { variance.sqrt() } else { 1.0 };
                plans.push(Plan::Numeric { center, scale, impute, column: encoded.len() });
                encoded.push(filled.iter().map(|v| (v - center) / scale).collect());
            }
            Column::Categorical(values) => {
                if values.len() != n {
                    return Err(TrainError::Data(format!(
                        "'{}' has {} values for {n} labels",
                        feature.name,
                        values.len()
                    )));
                }
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for v in values.iter().flatten() {
                    *counts.entry(v.as_str()).or_default() += 1;
                }
                // Most frequent; ties go to the first in sorted order (scikit-learn's SimpleImputer).
                let Some(impute) =
                    counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(k, _)| k.to_string())
                else {
                    return Err(TrainError::Data(format!("'{}' has no values", feature.name)));
                };
                let categories: Vec<String> = counts.keys().map(|k| k.to_string()).collect();
                plans.push(Plan::Categorical {
                    categories: categories.clone(),
                    impute: impute.clone(),
                    first: encoded.len(),
                });
                for category in &categories {
                    encoded.push(
                        values
                            .iter()
                            .map(|v| f64::from(u8::from(v.as_deref().unwrap_or(&impute) == category)))
                            .collect(),
                    );
                }
            }
        }
    }
    let fit = fit(&encoded, labels, LogisticOptions { c, ..LogisticOptions::default() })?;
    let documents: Vec<Value> = features
        .iter()
        .zip(&plans)
        .map(|(feature, plan)| match plan {
            Plan::Numeric { center, scale, impute, column } => json!({
                "name": feature.name, "type": "numeric", "coefficient": fit.coefficients[*column],
                "center": center, "scale": scale, "impute": impute,
            }),
            Plan::Categorical { categories, impute, first } => {
                let points: serde_json::Map<String, Value> =
                    categories.iter().enumerate().map(|(k, c)| (c.clone(), json!(fit.coefficients[first + k]))).collect();
                json!({"name": feature.name, "type": "categorical", "points": points, "impute": impute, "unknown_points": 0.0})
            }
        })
        .collect();
    let model = json!({
        "format": "warden-linear", "version": 1, "link": "logistic", "intercept": fit.intercept, "features": documents,
    });
    Ok(TrainedLinear { model, fit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imputation_standardisation_and_encoding_follow_the_pipeline() {
        let features = vec![
            Feature { name: "x".into(), column: Column::Numeric(vec![Some(1.0), None, Some(3.0), Some(4.0)]) },
            Feature {
                name: "c".into(),
                column: Column::Categorical(vec![Some("b".into()), Some("a".into()), None, Some("b".into())]),
            },
        ];
        let trained = train_logistic(&features, &[false, true, false, true], 1.0).unwrap();
        let x = &trained.model["features"][0];
        // Median of 1, 3, 4 is 3; filled 1, 3, 3, 4: mean 2.75, population sd sqrt(1.1875).
        assert_eq!((x["impute"].as_f64(), x["center"].as_f64()), (Some(3.0), Some(2.75)));
        assert!((x["scale"].as_f64().unwrap() - 1.1875f64.sqrt()).abs() < 1e-15);
        let c = &trained.model["features"][1];
        assert_eq!(c["impute"], "b", "most frequent");
        assert_eq!(c["points"].as_object().unwrap().keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(trained.fit.coefficients.len(), 3);
    }

    #[test]
    fn a_column_without_values_is_refused_by_name() {
        let features = vec![Feature { name: "empty".into(), column: Column::Numeric(vec![None, None]) }];
        let err = train_logistic(&features, &[true, false], 1.0).unwrap_err().to_string();
        assert!(err.contains("'empty' has no values"), "{err}");
    }
}
