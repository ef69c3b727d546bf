//! The logistic trainer against scikit-learn 1.9.1's `LogisticRegression` (L2, C = 1) on the German credit
//! training split, standardised and one-hot encoded by the fixture pipeline whose parameters are in
//! `models/lr_german_params.json` in warden-testdata (the split is the complement of the test rows in
//! `german_test_raw.csv`). The reference coefficients are scikit-learn's at convergence (`tol=1e-12`,
//! `train/lr_german_converged.json`, made by `scripts/fixtures/sklearn_lr_converged.py`): with its default
//! `tol=1e-4`, L-BFGS stops 0.013 short of the optimum, which the trainer computes.

use std::collections::HashSet;

use serde_json::Value;
use warden_train::logistic::{LogisticOptions, fit};

/// The fixture pipeline's parameters, the held-out rows' indices, and a reader of the whole German file.
fn fixture() -> (Value, HashSet<usize>, csv::Reader<std::fs::File>) {
    let params: Value =
        serde_json::from_slice(&std::fs::read(warden_testdata::path("models/lr_german_params.json")).unwrap()).unwrap();
    let mut test_rows = HashSet::new();
    let mut reader = csv::Reader::from_path(warden_testdata::path("models/german_test_raw.csv")).unwrap();
    for record in reader.records() {
        test_rows.insert(record.unwrap()[0].parse::<usize>().unwrap());
    }
    (params, test_rows, csv::Reader::from_path(warden_testdata::path("datasets/german.csv")).unwrap())
}

#[test]
fn coefficients_match_scikit_learn_within_1e_4() {
    let (params, test_rows, mut reader) = fixture();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .map(Result::unwrap)
        .enumerate()
        .filter(|(i, _)| !test_rows.contains(i))
        .map(|(_, r)| r)
        .collect();
    assert_eq!(rows.len(), 700);

    // The pipeline's transform, with its fitted parameters: standardised numbers, then one-hot categories.
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for numeric in params["numeric"].as_array().unwrap() {
        let (index, mean, scale) = (
            column(numeric["name"].as_str().unwrap()),
            numeric["mean"].as_f64().unwrap(),
            numeric["scale"].as_f64().unwrap(),
        );
        let median = numeric["impute_median"].as_f64().unwrap();
        columns.push(rows.iter().map(|r| (r[index].parse::<f64>().unwrap_or(median) - mean) / scale).collect());
    }
    for categorical in params["categorical"].as_array().unwrap() {
        let index = column(categorical["name"].as_str().unwrap());
        let frequent = categorical["impute_most_frequent"].as_str().unwrap();
        for category in categorical["categories"].as_array().unwrap() {
            let category = category.as_str().unwrap();
            columns.push(
                rows.iter()
                    .map(|r| {
                        let value = if r[index].is_empty() { frequent } else { &r[index] };
                        f64::from(u8::from(value == category))
                    })
                    .collect(),
            );
        }
    }
    // bad = 1 − risk.
    let labels: Vec<bool> = rows.iter().map(|r| &r[column("risk")] == "0").collect();

    let fitted = fit(&columns, &labels, LogisticOptions { c: 1.0, ..LogisticOptions::default() }).unwrap();
    let reference: Value =
        serde_json::from_str(&warden_testdata::read_to_string("train/lr_german_converged.json")).unwrap();
    assert_eq!(reference["feature_names_out"], params["feature_names_out"]);
    let expected: Vec<f64> = reference["coef"].as_array().unwrap().iter().map(|c| c.as_f64().unwrap()).collect();
    assert_eq!(fitted.coefficients.len(), expected.len());
    let names = params["feature_names_out"].as_array().unwrap();
    for ((got, want), name) in fitted.coefficients.iter().zip(&expected).zip(names) {
        assert!((got - want).abs() <= 1e-4, "{name}: {got} vs scikit-learn {want}");
    }
    let intercept = reference["intercept"].as_f64().unwrap();
    assert!((fitted.intercept - intercept).abs() <= 1e-4, "intercept {} vs {intercept}", fitted.intercept);
    let worst = fitted.coefficients.iter().zip(&expected).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
    eprintln!("largest coefficient difference from scikit-learn: {worst:.2e} after {} Newton steps", fitted.iterations);
}

/// From raw columns to a model Warden serves: the trainer's pipeline finds the fixture pipeline's parameters
/// (medians, means, scales, categories), its coefficients are scikit-learn's at convergence, and the written
/// linear JSON loads and scores the held-out rows.
#[test]
fn a_model_trained_on_raw_columns_is_the_pipeline_and_serves() {
    use warden_models::{Cell, Model, ModelFormat};
    use warden_train::linear_model::{Column, Feature, train_logistic};

    let (params, test_rows, mut reader) = fixture();
    let reference: Value =
        serde_json::from_str(&warden_testdata::read_to_string("train/lr_german_converged.json")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let all: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let (train, test): (Vec<_>, Vec<_>) = all.iter().enumerate().partition(|(i, _)| !test_rows.contains(i));
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let numeric = ["job", "credit_amount", "duration", "age"];
    let categorical = ["housing", "saving_accounts", "checking_account", "purpose"];
    let features: Vec<Feature> = numeric
        .iter()
        .map(|&name| Feature {
            name: name.into(),
            column: Column::Numeric(train.iter().map(|(_, r)| r[column(name)].parse().ok()).collect()),
        })
        .chain(categorical.iter().map(|&name| Feature {
            name: name.into(),
            column: Column::Categorical(
                train.iter().map(|(_, r)| Some(r[column(name)].to_owned()).filter(|v| !v.is_empty())).collect(),
            ),
        }))
        .collect();
    let labels: Vec<bool> = train.iter().map(|(_, r)| &r[column("risk")] == "0").collect();
    let trained = train_logistic(&features, &labels, 1.0).unwrap();

    for (k, spec) in params["numeric"].as_array().unwrap().iter().enumerate() {
        let got = &trained.model["features"][k];
        for (ours, theirs) in [("center", "mean"), ("scale", "scale"), ("impute", "impute_median")] {
            let (g, w) = (got[ours].as_f64().unwrap(), spec[theirs].as_f64().unwrap());
            assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{} {ours}: {g} vs {w}", spec["name"]);
        }
    }
    for (k, spec) in params["categorical"].as_array().unwrap().iter().enumerate() {
        let got = &trained.model["features"][numeric.len() + k];
        let categories: Vec<&String> = got["points"].as_object().unwrap().keys().collect();
        let expected: Vec<&str> = spec["categories"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(categories, expected, "{}", spec["name"]);
    }
    let expected: Vec<f64> = reference["coef"].as_array().unwrap().iter().map(|c| c.as_f64().unwrap()).collect();
    for (got, want) in trained.fit.coefficients.iter().zip(&expected) {
        assert!((got - want).abs() <= 1e-4, "{got} vs scikit-learn {want}");
    }

    let model = Model::load(ModelFormat::LinearJson, trained.model.to_string().as_bytes()).unwrap();
    let names: Vec<String> = model.inputs().iter().map(|i| i.name.clone()).collect();
    let rows: Vec<Vec<Cell>> = test
        .iter()
        .map(|(_, r)| {
            names
                .iter()
                .map(|name| {
                    let text = &r[column(name)];
                    match (numeric.contains(&name.as_str()), text.is_empty()) {
                        (_, true) => Cell::Missing,
                        (true, false) => Cell::Number(text.parse().unwrap()),
                        (false, false) => Cell::Text(text.to_owned()),
                    }
                })
                .collect()
        })
        .collect();
    let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
    let scores: Vec<f64> = model.predict(&refs).unwrap().iter().map(|p| p.score).collect();
    let bad: Vec<bool> = test.iter().map(|(_, r)| &r[column("risk")] == "0").collect();
    // Scored through Warden's own linear model: a working credit model on rows it never saw.
    let auc = warden_stats::metrics::roc_auc(&bad, &scores).unwrap();
    eprintln!("held-out AUC {auc:.4}");
    assert!(auc > 0.7, "held-out AUC {auc}");
}
