//! Every model format against its producing library's own outputs (warden-testdata's `models/`, PROVENANCE.md).
//! Tolerance 1e-6: absolute for probabilities, relative to max(1, |value|) for margins and contributions.

use crate::{Cell, Model, ModelFormat};
use serde_json::Value;
use std::collections::HashMap;

const NUMERIC: [&str; 4] = ["job", "credit_amount", "duration", "age"];
const CATEGORICAL: [&str; 4] = ["housing", "saving_accounts", "checking_account", "purpose"];
const SETS: [&str; 2] = ["test", "edge"];

fn testdata(name: &str) -> Vec<u8> {
    warden_testdata::read(&format!("models/{name}"))
}

/// A CSV as rows of column → text.
fn csv_rows(name: &str) -> Vec<HashMap<String, String>> {
    let bytes = testdata(name);
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            headers.iter().zip(r.iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect()
        })
        .collect()
}

fn number(row: &HashMap<String, String>, column: &str) -> f64 {
    let text = &row[column];
    if text.is_empty() { f64::NAN } else { text.parse().unwrap_or_else(|_| panic!("{column}: '{text}'")) }
}

fn numeric_cell(row: &HashMap<String, String>, column: &str) -> Cell {
    let x = number(row, column);
    if x.is_nan() { Cell::Missing } else { Cell::Number(x) }
}

fn text_cell(row: &HashMap<String, String>, column: &str) -> Cell {
    let text = &row[column];
    if text.is_empty() { Cell::Missing } else { Cell::Text(text.clone()) }
}

fn close(actual: f64, expected: f64, relative: bool, what: &str) {
    let scale = if relative { expected.abs().max(1.0) } else { 1.0 };
    assert!((actual - expected).abs() <= 1e-6 * scale, "{what}: got {actual}, expected {expected}");
}

fn load(format: ModelFormat, file: &str) -> Model {
    Model::load(format, &testdata(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn encoded_rows(set: &str) -> Vec<Vec<Cell>> {
    let names: Vec<&str> = NUMERIC.iter().chain(&CATEGORICAL).copied().collect();
    csv_rows(&format!("german_{set}_encoded.csv"))
        .iter()
        .map(|row| names.iter().map(|c| numeric_cell(row, c)).collect())
        .collect()
}

/// Compares proba, margin and contributions of a tree model with an expected-output CSV.
fn check_trees(model: &Model, rows: &[Vec<Cell>], expected: &str, columns: (&str, &str, &str, &str)) {
    let (proba, margin, contrib_prefix, bias) = columns;
    let expected = csv_rows(expected);
    assert_eq!(rows.len(), expected.len());
    let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
    let predictions = model.predict(&refs).expect("predict");
    for (i, (row, want)) in rows.iter().zip(&expected).enumerate() {
        close(predictions[i].score, number(want, proba), false, &format!("row {i} proba"));
        close(
            predictions[i].margin.expect("trees expose margins"),
            number(want, margin),
            true,
            &format!("row {i} margin"),
        );
        let explanation = model.explain(row).expect("explain");
        close(explanation.base, number(want, bias), true, &format!("row {i} bias"));
        for (k, input) in model.inputs().iter().enumerate() {
            let column = format!("{contrib_prefix}{}", input.name);
            close(explanation.contributions[k], number(want, &column), true, &format!("row {i} {column}"));
        }
    }
}

#[test]
fn xgboost_3_json_matches_xgboost_and_shap() {
    let model = load(ModelFormat::XgboostJson, "xgb_german.json");
    assert_eq!(model.inputs().iter().map(|i| i.name.as_str()).collect::<Vec<_>>()[..4], NUMERIC);
    for set in SETS {
        let expected = format!("german_{set}_expected_xgb.csv");
        check_trees(&model, &encoded_rows(set), &expected, ("proba_1", "margin", "shap_", "shap_expected_value"));
    }
}

#[test]
fn xgboost_margins_are_bit_exact_float32() {
    let model = load(ModelFormat::XgboostJson, "xgb_german.json");
    let rows = encoded_rows("test");
    let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
    let predictions = model.predict(&refs).expect("predict");
    for (p, want) in predictions.iter().zip(csv_rows("german_test_expected_xgb.csv")) {
        assert_eq!(p.margin, Some(number(&want, "margin")));
        assert_eq!(p.score, number(&want, "proba_1"));
    }
}

#[test]
fn xgboost_ubjson_scores_what_its_json_scores_bit_for_bit() {
    let json = load(ModelFormat::XgboostJson, "xgb_german.json");
    let ubj = load(ModelFormat::XgboostUbj, "xgb_german.ubj");
    assert_eq!(json.inputs(), ubj.inputs());
    for set in SETS {
        let rows = encoded_rows(set);
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        assert_eq!(json.predict(&refs).unwrap(), ubj.predict(&refs).unwrap(), "{set}");
        let expected = format!("german_{set}_expected_xgb.csv");
        check_trees(&ubj, &rows, &expected, ("proba_1", "margin", "shap_", "shap_expected_value"));
    }
}

#[test]
fn xgboost_2_json_dialect_matches() {
    let model = load(ModelFormat::XgboostJson, "xgb_german_xgb2.json");
    for set in SETS {
        let expected = format!("german_{set}_expected_xgb_xgb2.csv");
        check_trees(&model, &encoded_rows(set), &expected, ("proba_1", "margin", "xgb_contrib_", "xgb_contrib_bias"));
    }
}

#[test]
fn xgboost_categorical_splits_match() {
    let manifest: Value = serde_json::from_slice(&testdata("manifest.json")).expect("manifest");
    let entry = manifest["models"].as_array().expect("models").iter().find(|m| m["id"] == "german_xgb_categorical");
    let categories = &entry.expect("categorical model")["inputs"]["categorical"];
    let model = load(ModelFormat::XgboostJson, "xgb_cat_german.json");
    for set in SETS {
        // Category code = index in pandas' category order; missing and unseen categories are missing.
        let rows: Vec<Vec<Cell>> = csv_rows(&format!("german_{set}_raw.csv"))
            .iter()
            .map(|row| {
                let mut cells: Vec<Cell> = NUMERIC.iter().map(|c| numeric_cell(row, c)).collect();
                for c in CATEGORICAL {
                    let codes = categories[c]["pandas_categories_in_code_order"].as_array().expect("codes");
                    let code = codes.iter().position(|v| v.as_str() == Some(row[c].as_str()));
                    cells.push(code.map_or(Cell::Missing, |k| Cell::Number(k as f64)));
                }
                cells
            })
            .collect();
        let expected = format!("german_{set}_expected_xgb_cat.csv");
        check_trees(&model, &rows, &expected, ("proba_1", "margin", "xgb_contrib_", "xgb_contrib_bias"));
    }
}

#[test]
fn lightgbm_text_matches_lightgbm() {
    let model = load(ModelFormat::LightgbmText, "lgbm_german.txt");
    for set in SETS {
        let expected = format!("german_{set}_expected_lgbm.csv");
        check_trees(&model, &encoded_rows(set), &expected, ("proba_1", "raw_score", "contrib_", "contrib_bias"));
    }
}

fn raw_rows(set: &str) -> Vec<Vec<Cell>> {
    csv_rows(&format!("german_{set}_raw.csv"))
        .iter()
        .map(|row| {
            let mut cells: Vec<Cell> = NUMERIC.iter().map(|c| numeric_cell(row, c)).collect();
            cells.extend(CATEGORICAL.iter().map(|c| text_cell(row, c)));
            cells
        })
        .collect()
}

#[test]
fn linear_json_matches_scikit_learn_and_explains_exactly() {
    // The scikit-learn pipeline's parameters in Warden's linear format (see PROVENANCE.md).
    let model = load(ModelFormat::LinearJson, "lr_german_linear.json");
    for set in SETS {
        let rows = raw_rows(set);
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let predictions = model.predict(&refs).expect("predict");
        for (i, (p, want)) in predictions.iter().zip(csv_rows(&format!("german_{set}_expected_lr.csv"))).enumerate() {
            close(p.score, number(&want, "sklearn_proba_1"), false, &format!("{set} row {i}"));
            let explanation = model.explain(refs[i]).expect("explain");
            let total = explanation.base + explanation.contributions.iter().sum::<f64>();
            assert!((total - p.margin.unwrap()).abs() < 1e-12, "contributions add up to the margin");
        }
    }
}

#[test]
fn onnx_scikit_learn_pipeline_matches_onnx_runtime_with_and_without_zipmap() {
    for (file, column) in
        [("lr_german.onnx", "ort_zipmap_proba_1"), ("lr_german_nozipmap.onnx", "ort_nozipmap_proba_1")]
    {
        let model = load(ModelFormat::Onnx, file);
        let names: Vec<&str> = model.inputs().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, NUMERIC.iter().chain(&CATEGORICAL).copied().collect::<Vec<_>>());
        assert!(!model.positional_inputs());
        for set in SETS {
            let rows = raw_rows(set);
            let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
            let predictions = model.predict(&refs).expect("predict");
            for (i, (p, want)) in predictions.iter().zip(csv_rows(&format!("german_{set}_expected_lr.csv"))).enumerate()
            {
                close(p.score, number(&want, column), false, &format!("{file} {set} row {i}"));
            }
            // One row at a time runs the single-row plan: it must agree with the reference too.
            for (i, (row, want)) in refs.iter().zip(csv_rows(&format!("german_{set}_expected_lr.csv"))).enumerate() {
                let single = model.predict(&[row]).expect("predict one");
                close(single[0].score, number(&want, column), false, &format!("{file} {set} row {i} alone"));
            }
        }
    }
}

#[test]
fn onnx_xgboost_tree_ensemble_matches_onnx_runtime() {
    let model = load(ModelFormat::Onnx, "xgb_german.onnx");
    assert!(model.positional_inputs());
    assert_eq!(model.inputs().len(), 8);
    for set in SETS {
        let rows = encoded_rows(set);
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let predictions = model.predict(&refs).expect("predict");
        for (i, (p, want)) in predictions.iter().zip(csv_rows(&format!("german_{set}_expected_xgb.csv"))).enumerate() {
            close(p.score, number(&want, "ort_proba_1"), false, &format!("{set} row {i}"));
        }
    }
}

/// The encoded test rows with missing codes as -1, as the forest fixtures were trained.
fn encoded_rows_filled(set: &str) -> Vec<Vec<Cell>> {
    encoded_rows(set)
        .into_iter()
        .map(|row| row.into_iter().map(|c| if c == Cell::Missing { Cell::Number(-1.0) } else { c }).collect())
        .collect()
}

#[test]
fn onnx_forest_classifier_and_boosted_regressor_match_onnx_runtime() {
    let expected = csv_rows("german_test_expected_onnx_trees.csv");
    let rows = encoded_rows_filled("test");

    let forest = load(ModelFormat::Onnx, "rf_german.onnx");
    let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
    for (i, (p, want)) in forest.predict(&refs).unwrap().iter().zip(&expected).enumerate() {
        close(p.score, number(want, "ort_rf_proba_1"), false, &format!("forest row {i}"));
    }

    // The regressor takes every feature but credit_amount (column 1).
    let regressor = load(ModelFormat::Onnx, "gbr_german.onnx");
    assert_eq!(regressor.inputs().len(), 7);
    let rows: Vec<Vec<Cell>> =
        rows.iter().map(|r| r.iter().enumerate().filter(|(k, _)| *k != 1).map(|(_, c)| c.clone()).collect()).collect();
    let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
    for (i, (p, want)) in regressor.predict(&refs).unwrap().iter().zip(&expected).enumerate() {
        close(p.score, number(want, "ort_gbr_value"), true, &format!("regressor row {i}"));
    }
}

#[test]
fn malformed_models_are_refused_with_a_reason_not_a_panic() {
    let cases: [(ModelFormat, &[u8], &str); 9] = [
        (ModelFormat::XgboostJson, b"{}", "missing field `learner`"),
        (ModelFormat::XgboostJson, b"[1,2", "invalid xgboost-json model"),
        (ModelFormat::LightgbmText, b"tree\nversion=v4\nnum_class=1\n", "header has no"),
        (ModelFormat::LightgbmText, &[0xff, 0xfe, 0x00], "not UTF-8"),
        (ModelFormat::LinearJson, br#"{"intercept": 1, "coefficients": {"a": 1}, "features": []}"#, "exactly one"),
        (
            ModelFormat::LinearJson,
            br#"{"intercept": 1, "features": [{"name": "a", "type": "binned", "edges": [2, 1], "points": [0, 1, 2]}]}"#,
            "increasing",
        ),
        (ModelFormat::Onnx, b"not a protobuf at all", "invalid onnx model"),
        (ModelFormat::Onnx, &[], "invalid onnx model"),
        (ModelFormat::LinearJson, br#"{"intercept": 1, "coefficients": {"a": 1e999}}"#, "invalid linear-json model"),
    ];
    for (format, bytes, words) in cases {
        let err = Model::load(format, bytes).unwrap_err().to_string();
        assert!(err.contains(words), "{format:?}: '{err}' should contain '{words}'");
    }
    // A tree whose child points outside the tree, and one with a cycle.
    let mut xgb: Value = serde_json::from_slice(&testdata("xgb_german.json")).unwrap();
    xgb["learner"]["gradient_booster"]["model"]["trees"][3]["left_children"][0] = 9999.into();
    let err = Model::load(ModelFormat::XgboostJson, &serde_json::to_vec(&xgb).unwrap()).unwrap_err().to_string();
    assert!(err.contains("tree 3") && err.contains("outside the tree"), "{err}");
    xgb["learner"]["gradient_booster"]["model"]["trees"][3]["left_children"][0] = 0.into();
    assert!(Model::load(ModelFormat::XgboostJson, &serde_json::to_vec(&xgb).unwrap()).is_err());
    // Rows of the wrong width, and text where a tree model takes numbers.
    let model = load(ModelFormat::LightgbmText, "lgbm_german.txt");
    assert!(model.predict(&[&[Cell::Number(1.0)]]).unwrap_err().to_string().contains("takes 8"));
    let mut row = encoded_rows("test").remove(0);
    row[4] = Cell::Text("own".into());
    assert!(model.explain(&row).unwrap_err().to_string().contains("encode categories first"));
}

#[test]
fn onnx_lightgbm_export_matches_onnx_runtime() {
    let model = load(ModelFormat::Onnx, "lgbm_german.onnx");
    let rows = encoded_rows("test");
    let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
    let expected = csv_rows("german_test_expected_lgbm_onnx.csv");
    for (i, (p, want)) in model.predict(&refs).unwrap().iter().zip(&expected).enumerate() {
        close(p.score, number(want, "ort_proba_1"), false, &format!("row {i}"));
    }
}

const MC_CLASSES: [&str; 3] = ["highstreet_card", "prepaid_card", "upmarket_card"];
const MC_FEATURES: [&str; 7] = [
    "acq_channel",
    "app_behavioral_score",
    "requested_credit_limit",
    "app_channel",
    "credit_bureau_score",
    "stated_income",
    "is_customer",
];

/// Multiclass models (`scripts/fixtures/multiclass_models.py`): every class's probability, the predicted
/// class's margin and every class's contributions against the producing library's own outputs.
fn check_multiclass(model: &Model, expected: &str) {
    assert_eq!(model.classes(), 3);
    let rows: Vec<Vec<Cell>> = csv_rows("mc_test_encoded.csv")
        .iter()
        .map(|row| model.inputs().iter().map(|input| numeric_cell(row, &input.name)).collect())
        .collect();
    let expected = csv_rows(expected);
    assert_eq!(rows.len(), expected.len());
    let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
    let predictions = model.predict(&refs).expect("predict");
    let mut classes_seen = [0; 3];
    for (i, ((row, prediction), want)) in rows.iter().zip(&predictions).zip(&expected).enumerate() {
        for (k, class) in MC_CLASSES.iter().enumerate() {
            close(
                prediction.probabilities[k],
                number(want, &format!("proba_{class}")),
                false,
                &format!("row {i} {class}"),
            );
        }
        let class = prediction.class().expect("a multiclass prediction names its class");
        classes_seen[class] += 1;
        assert_eq!(prediction.score, prediction.probabilities[class]);
        let margin = number(want, &format!("margin_{}", MC_CLASSES[class]));
        close(prediction.margin.expect("trees expose margins"), margin, true, &format!("row {i} margin"));
        for (k, class) in MC_CLASSES.iter().enumerate() {
            let explanation = model.explain_class(row, k).expect("explain");
            close(explanation.base, number(want, &format!("contrib_{class}_bias")), true, &format!("row {i} bias"));
            for (j, input) in model.inputs().iter().enumerate() {
                let column = format!("contrib_{class}_{}", input.name);
                close(explanation.contributions[j], number(want, &column), true, &format!("row {i} {column}"));
            }
        }
        assert_eq!(
            model.explain(row).unwrap(),
            model.explain_class(row, class).unwrap(),
            "explains the predicted class"
        );
    }
    assert!(classes_seen.iter().all(|n| *n > 0), "every class is predicted on some row: {classes_seen:?}");
    assert!(model.explain_class(&rows[0], 3).is_err());
}

#[test]
fn xgboost_multiclass_matches_xgboost_in_json_and_ubjson() {
    let json = load(ModelFormat::XgboostJson, "xgb_mc.json");
    check_multiclass(&json, "mc_test_expected_xgb.csv");
    let ubj = load(ModelFormat::XgboostUbj, "xgb_mc.ubj");
    check_multiclass(&ubj, "mc_test_expected_xgb.csv");
}

#[test]
fn lightgbm_multiclass_matches_lightgbm() {
    check_multiclass(&load(ModelFormat::LightgbmText, "lgbm_mc.txt"), "mc_test_expected_lgbm.csv");
}

#[test]
fn onnx_multiclass_classifiers_match_onnx_runtime() {
    // `make_onnx_multiclass.py`: missing values are -1 for these models.
    let rows: Vec<Vec<Cell>> = csv_rows("mc_test_encoded.csv")
        .iter()
        .map(|row| {
            MC_FEATURES
                .iter()
                .map(|name| Cell::Number(Some(number(row, name)).filter(|x| !x.is_nan()).unwrap_or(-1.0)))
                .collect()
        })
        .collect();
    let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
    let expected = csv_rows("mc_test_expected_onnx.csv");
    for name in ["lr", "rf"] {
        let model = load(ModelFormat::Onnx, &format!("{name}_mc.onnx"));
        assert_eq!(model.classes(), 3, "{name}");
        let predictions = model.predict(&refs).expect("predict");
        for (i, (prediction, want)) in predictions.iter().zip(&expected).enumerate() {
            for (k, class) in MC_CLASSES.iter().enumerate() {
                let column = format!("{name}_ort_proba_{class}");
                close(prediction.probabilities[k], number(want, &column), false, &format!("row {i} {column}"));
            }
            let label = number(want, &format!("{name}_ort_label")) as usize;
            assert_eq!(prediction.class(), Some(label), "{name} row {i}");
            assert_eq!(prediction.score, prediction.probabilities[label]);
        }
    }
}
