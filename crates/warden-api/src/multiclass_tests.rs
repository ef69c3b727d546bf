//! Multiclass classifiers served: registration checks the model's classes against the version's, scoring
//! answers every class's probability and the predicted class, and the decision log keeps them.

use crate::tests::TestApp;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) const CLASSES: [&str; 3] = ["highstreet_card", "prepaid_card", "upmarket_card"];

/// A fixture CSV of numbers (an empty cell is missing): its header and rows.
fn numeric_csv(name: &str) -> (Vec<String>, Vec<Vec<Option<f64>>>) {
    let text = String::from_utf8(warden_testdata::read(name)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(str::to_owned).collect();
    let rows = lines.map(|line| line.split(',').map(|v| v.parse().ok()).collect()).collect();
    (header, rows)
}

/// The multiclass models' scored rows (`models/mc_test_encoded.csv`), as scoring requests' features.
pub(crate) fn mc_rows() -> Vec<serde_json::Map<String, Value>> {
    let (header, rows) = numeric_csv("models/mc_test_encoded.csv");
    rows.iter()
        .map(|row| {
            let values = row.iter().map(|v| v.map_or(Value::Null, |x| json!(x)));
            // The realized class rides along; it is no input.
            header.iter().cloned().zip(values).filter(|(name, _)| name != "y_true").collect()
        })
        .collect()
}

/// XGBoost's own probabilities on those rows, per row in class order.
fn xgboost_probabilities() -> Vec<Vec<f64>> {
    let (header, rows) = numeric_csv("models/mc_test_expected_xgb.csv");
    let columns: Vec<usize> = CLASSES
        .iter()
        .map(|c| header.iter().position(|h| *h == format!("proba_{c}")).expect("a probability column"))
        .collect();
    rows.iter().map(|row| columns.iter().map(|&i| row[i].expect("a probability")).collect()).collect()
}

/// Each scored row's realized class (an index into [`CLASSES`]).
fn realized_classes() -> Vec<usize> {
    let text = String::from_utf8(warden_testdata::read("models/mc_test_encoded.csv")).unwrap();
    text.lines().skip(1).map(|line| CLASSES.iter().position(|c| line.ends_with(&format!(",{c}"))).unwrap()).collect()
}

pub(crate) fn multiclass_metadata() -> Value {
    json!({"format": "xgboost-json", "target": "y_true",
           "serving": {"task": "multiclass_classification", "classes": CLASSES}})
}

/// `card` v1: the XGBoost multiclass model, in production.
pub(crate) async fn card_model(app: &TestApp) {
    app.create_model("card").await;
    let reference = warden_testdata::read("models/mc_test_encoded.csv");
    let artifact = warden_testdata::read("models/xgb_mc.json");
    let (status, body) = app.register("card", multiclass_metadata(), &artifact, &reference).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["serving"]["classes"], json!(CLASSES), "{body}");
    let promote = json!({"reason": "multiclass tests", "override": true});
    let (status, body) = app.json(Method::POST, "/v1/models/card/versions/1/promote", Some(&app.admin), promote).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_multiclass_model_answers_every_classs_probability_and_the_log_keeps_them() {
    let app = TestApp::new().await;
    card_model(&app).await;
    let rows = mc_rows();
    let expected = xgboost_probabilities();
    let batch: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, features)| json!({"request_id": format!("c-{i}"), "features": features}))
        .collect();
    let (status, scored) =
        app.json(Method::POST, "/v1/models/card/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{scored}");
    let results = scored["results"].as_array().unwrap();
    assert_eq!(results.len(), rows.len());
    let mut decided = std::collections::BTreeMap::<String, usize>::new();
    for (i, (result, want)) in results.iter().zip(&expected).enumerate() {
        let probabilities = &result["probabilities"];
        for (class, p) in CLASSES.iter().zip(want) {
            let got = probabilities[class].as_f64().unwrap();
            assert!((got - p).abs() <= 1e-6, "row {i} {class}: {got} against XGBoost's {p}");
        }
        let best = (0..3).fold(0, |b, k| if want[k] > want[b] { k } else { b });
        assert_eq!(result["decision"], CLASSES[best], "row {i}: {result}");
        assert_eq!(result["score"], probabilities[CLASSES[best]], "row {i}: the score is the class's probability");
        *decided.entry(CLASSES[best].to_owned()).or_default() += 1;
    }
    assert_eq!(decided.len(), 3, "every class is decided on some row: {decided:?}");

    // The log keeps every class's probability in the version's class order.
    let (status, log) =
        app.json(Method::GET, "/v1/models/card/decisions?request_id=c-7", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let logged: Vec<f64> = serde_json::from_value(log[0]["probabilities"].clone()).unwrap();
    let answered: Vec<f64> = CLASSES.iter().map(|c| results[7]["probabilities"][c].as_f64().unwrap()).collect();
    assert_eq!(logged, answered, "{log}");
    assert_eq!(log[0]["decision"], results[7]["decision"]);

    // An explained answer explains the predicted class: its reasons push toward that class.
    let request = json!({"features": rows[3], "explain": true});
    let (status, one) = app.json(Method::POST, "/v1/models/card/score", Some(&app.admin), request).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    let contributions = one["contributions"].as_object().unwrap();
    assert_eq!(contributions.len(), rows[3].len(), "{one}");
    // XGBoost's own contributions to the decided class's margin (pred_contribs), feature by feature.
    let class = one["decision"].as_str().unwrap();
    let (header, expected_rows) = numeric_csv("models/mc_test_expected_xgb.csv");
    let want = |column: String| expected_rows[3][header.iter().position(|h| *h == column).unwrap()].unwrap();
    for (feature, c) in contributions {
        let expected = want(format!("contrib_{class}_{feature}"));
        assert!((c.as_f64().unwrap() - expected).abs() < 1e-6, "{feature}: {c} against XGBoost's {expected}");
    }
    let margin = one["base"].as_f64().unwrap() + contributions.values().map(|c| c.as_f64().unwrap()).sum::<f64>();
    assert!((margin - want(format!("margin_{class}"))).abs() < 1e-5, "base + contributions = the class's margin");
    let reasons = one["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty(), "{one}");
    for reason in reasons {
        assert!(reason["contribution"].as_f64().unwrap() > 0.0, "{one}");
    }
}

#[tokio::test]
async fn registration_refuses_classes_that_do_not_fit_the_model_or_the_task() {
    let app = TestApp::new().await;
    app.create_model("card").await;
    let reference = warden_testdata::read("models/mc_test_encoded.csv");
    let multiclass = warden_testdata::read("models/xgb_mc.json");
    let serving = |serving: Value| json!({"format": "xgboost-json", "serving": serving});
    let cases = [
        (
            serving(json!({"task": "multiclass_classification", "classes": ["a", "b"]})),
            "the model predicts 3 classes, and the version names 2",
        ),
        (
            serving(json!({})),
            "predicts the probabilities of 3 classes: register it with task 'multiclass_classification'",
        ),
        (serving(json!({"task": "multiclass_classification"})), "0 given, 2 to 100 allowed"),
        (serving(json!({"task": "multiclass_classification", "classes": ["a", "b", "a"]})), "class 'a' is named twice"),
        (
            serving(json!({"task": "multiclass_classification", "classes": CLASSES, "lgd": 0.4,
                           "exposure_column": "requested_credit_limit"})),
            "decisions are not priced",
        ),
        (serving(json!({"task": "regression", "classes": CLASSES})), "this version's task is regression"),
    ];
    for (metadata, needle) in cases {
        let (status, body) = app.register("card", metadata.clone(), &multiclass, &reference).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{metadata}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{metadata}: '{message}' does not say '{needle}'");
    }
    // An ONNX forest whose outputs are not probabilities (its leaf weights doubled: they sum to 2).
    let onnx = json!({"format": "onnx", "target": "y_true",
                      "serving": {"task": "multiclass_classification", "classes": CLASSES}});
    let unnormalised = warden_testdata::read("models/rf_mc_unnormalised.onnx");
    let (status, body) = app.register("card", onnx.clone(), &unnormalised, &reference).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("must be probabilities in [0, 1] summing to 1"),
        "{body}"
    );
    let (status, body) = app.register("card", onnx, &warden_testdata::read("models/rf_mc.onnx"), &reference).await;
    assert_eq!(status, StatusCode::CREATED, "the forest itself registers: {body}");
    // A class label with surrounding spaces would not read back from an outcome or validation file.
    let spaced = serving(json!({"task": "multiclass_classification", "classes": ["a", " b", "c"]}));
    let (status, body) = app.register("card", spaced, &multiclass, &reference).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A binary model named as a multiclass one.
    let binary = warden_testdata::read("models/xgb_german.json");
    let german = warden_testdata::read("models/german_test_encoded.csv");
    let metadata =
        json!({"format": "xgboost-json", "serving": {"task": "multiclass_classification", "classes": CLASSES}});
    let (status, body) = app.register("card", metadata, &binary, &german).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("the model predicts one score"), "{body}");
    let (_, versions) = app.json(Method::GET, "/v1/models/card/versions", Some(&app.admin), Value::Null).await;
    assert_eq!(versions.as_array().map(Vec::len), Some(1), "only the forest registered: {versions}");
}

#[tokio::test]
async fn a_multiclass_model_served_elsewhere_is_refused_since_its_decisions_carry_one_score() {
    let app = TestApp::new().await;
    app.create_model("vendor").await;
    let reference: String = String::from_utf8(warden_testdata::read("models/mc_test_encoded.csv"))
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, line)| if i == 0 { format!("{line},p\n") } else { format!("{line},0.5\n") })
        .collect();
    let metadata = json!({"format": "external", "serving": {"task": "multiclass_classification", "classes": CLASSES}});
    let descriptor = br#"{"score_column": "p", "platform": "kserve"}"#;
    let (status, body) = app.register("vendor", metadata, descriptor, reference.as_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("a multiclass classifier served elsewhere"), "{body}");
}

/// A multiclass classifier is validated on realized classes: accuracy as counted here, the macro AUC and
/// confusion matrix of `warden_stats::multiclass` (matched to scikit-learn) on XGBoost's own probabilities,
/// no calibration or approval rate; the model page, the CLI's figures and the gate follow.
#[tokio::test]
async fn a_multiclass_model_is_validated_on_realized_classes_and_gated_on_its_macro_auc() {
    let app = TestApp::new().await;
    card_model(&app).await;
    let data = warden_testdata::read("models/mc_test_encoded.csv");
    let metadata = json!({"target": "y_true"}).to_string();
    let (content_type, body) =
        crate::tests::multipart(&[("metadata", None, metadata.as_bytes()), ("data", Some("validation.csv"), &data)]);
    let uri = "/v1/models/card/versions/1/validations";
    let (status, report) = app.send(Method::POST, uri, Some(&app.admin), &content_type, body).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");

    let (expected, realized) = (xgboost_probabilities(), realized_classes());
    let decided: Vec<usize> = expected.iter().map(|p| (0..3).fold(0, |b, k| if p[k] > p[b] { k } else { b })).collect();
    let accuracy = decided.iter().zip(&realized).filter(|(d, r)| d == r).count() as f64 / realized.len() as f64;
    let reference = warden_stats::multiclass::multiclass_metrics(3, &realized, &decided, &expected).unwrap();
    let figures = &report["figures"];
    let multiclass = &figures["multiclass"];
    assert!((multiclass["accuracy"].as_f64().unwrap() - accuracy).abs() < 1e-12, "{multiclass}");
    let auc = multiclass["auc_macro"].as_f64().unwrap();
    assert!((auc - reference.auc_macro.unwrap()).abs() < 1e-6, "{auc} against {:?}", reference.auc_macro);
    assert_eq!(figures["discrimination"]["auc"], multiclass["auc_macro"]);
    assert_eq!(multiclass["confusion"], json!(reference.confusion));
    assert_eq!(multiclass["classes"], json!(CLASSES));
    assert!(figures["calibration"].is_null() && figures["approval_rate"].is_null(), "{figures}");
    assert!(report["bad_rate"].is_null(), "{report}");

    // The model page shows the figures on realized classes and the confusion matrix, no approval rate.
    let stored: warden_oversight::validation::ValidationReport = serde_json::from_value(report.clone()).unwrap();
    let html = crate::dashboard::validation_section(Some(&stored)).into_string();
    assert!(html.contains("macro ROC AUC (one-vs-rest)") && html.contains("confusion-matrix"), "{html}");
    assert!(html.contains("accuracy on realized classes") && !html.contains("approved at"), "{html}");

    // The model documentation cites them from the vouched report.
    let principal = warden_registry::auth::Principal::system();
    let document =
        warden_proof::docs::generate(&app.warden, &principal, "card", None, "model-documentation", None).await.unwrap();
    assert!(document.html.contains("Accuracy (realized classes)"), "the document shows the accuracy");
    assert!(document.html.contains("data-pointer=\"/figures/multiclass/accuracy\""), "and cites it");

    // The gate judges the macro AUC and asks for no calibration.
    let (status, decision) =
        app.json(Method::POST, "/v1/models/card/versions/1/gate", Some(&app.admin), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{decision}");
    let denied: Vec<&str> = decision["deny"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert!(!denied.iter().any(|m| m.contains("AUC") || m.starts_with("validation.")), "{denied:?}");

    // A class the version does not name is refused with its line.
    let text = String::from_utf8(data).unwrap().replacen(",upmarket_card\n", ",platinum_card\n", 1);
    let (content_type, body) = crate::tests::multipart(&[
        ("metadata", None, metadata.as_bytes()),
        ("data", Some("validation.csv"), text.as_bytes()),
    ]);
    let (status, refused) = app.send(Method::POST, uri, Some(&app.admin), &content_type, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("'platinum_card' is not one of the version's classes"), "{message}");
}

/// Scores `rows` (by index into the fixture rows) as requests `{prefix}-{i}`.
pub(crate) async fn score_card(app: &TestApp, indices: &[usize], prefix: &str) {
    let rows = mc_rows();
    let batch: Vec<Value> = indices
        .iter()
        .enumerate()
        .map(|(i, &row)| json!({"request_id": format!("{prefix}-{i}"), "features": rows[row]}))
        .collect();
    let (status, body) =
        app.json(Method::POST, "/v1/models/card/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A multiclass classifier's monitors: its defaults watch the decided classes and the macro AUC, and no
/// approvals; CBPE estimates its accuracy before outcomes as `warden_stats` does on XGBoost's own
/// probabilities; outcomes naming the realized classes give its live macro AUC; traffic deciding one class
/// only raises the class drift.
#[tokio::test]
async fn a_multiclass_models_monitors_watch_its_decided_and_realized_classes() {
    let (app, clock) = crate::access_tests::app_with_clock().await;
    card_model(&app).await;
    let (status, monitors) = app.json(Method::GET, "/v1/models/card/monitors", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{monitors}");
    let statistic = |name: &str| {
        let found = monitors.as_array().unwrap().iter().find(|m| m["name"] == name);
        found.unwrap_or_else(|| panic!("no {name}: {monitors}"))["config"]["statistic"].as_str().map(str::to_owned)
    };
    assert_eq!(statistic("performance").as_deref(), Some("macro_auc"));
    assert_eq!(statistic("score_drift").as_deref(), Some("class_psi"));
    assert!(!monitors.as_array().unwrap().iter().any(|m| m["kind"] == "fairness" || m["kind"] == "money_at_risk"));
    let settings = [
        ("score_drift", json!({"window_seconds": 60, "min_decisions": 100})),
        ("performance", json!({"window_seconds": 86_400, "window_decisions": 300, "min_decisions": 100})),
        (
            "card_cbpe",
            json!({"kind": "estimated_performance", "statistic": "accuracy", "window_seconds": 86_400,
                             "window_decisions": 300, "min_decisions": 100}),
        ),
        // A binary figure on a multiclass model: evaluated as unavailable, with the reason.
        ("card_brier", json!({"kind": "performance", "statistic": "brier", "warn": 0.2, "alert": 0.3})),
    ];
    for (name, setting) in settings {
        let uri = format!("/v1/models/card/monitors/{name}");
        let (status, body) = app.json(Method::PUT, &uri, Some(&app.admin), setting).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let expected = xgboost_probabilities();
    let realized = realized_classes();
    let every: Vec<usize> = (0..expected.len()).collect();
    score_card(&app, &every, "same").await;
    let same = crate::monitoring_depth_tests::latest_of(&app, "card").await;
    let drift = &same["score_drift"];
    assert_eq!(drift["status"], "ok", "the reference's own rows decide its classes: {drift}");
    assert!(drift["details"]["features"]["classes"]["value"].as_f64().unwrap().abs() < 1e-12, "{drift}");
    assert_eq!(same["card_brier"]["status"], "unavailable", "{}", same["card_brier"]);
    let reason = same["card_brier"]["details"]["features"]["model"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("does not apply to a multiclass classifier"), "{reason}");

    // CBPE before outcomes, as warden_stats estimates it from XGBoost's probabilities and the reference.
    let decided: Vec<usize> = expected.iter().map(|p| (0..3).fold(0, |b, k| if p[k] > p[b] { k } else { b })).collect();
    let reference = warden_stats::multiclass_cbpe::ClassRows {
        probabilities: &expected,
        predictions: &decided,
        labels: Some(&realized),
    };
    let classes: Vec<String> = CLASSES.map(String::from).to_vec();
    let cbpe = warden_registry::task_metrics::fit_multiclass_cbpe(&classes, reference, 100).unwrap();
    let unlabelled = warden_stats::multiclass_cbpe::ClassRows { labels: None, ..reference };
    let estimated = cbpe.estimate(unlabelled).unwrap();
    let accuracy = estimated.iter().find(|e| e.metric == warden_stats::cbpe::CbpeMetric::Accuracy).unwrap().value;
    let live = same["card_cbpe"]["details"]["features"]["model"]["value"].as_f64();
    assert!(live.is_some_and(|v| (v - accuracy).abs() < 1e-6), "{live:?} against {accuracy}: {}", same["card_cbpe"]);

    // Outcomes: each request's realized class.
    let outcomes: Vec<Value> = realized
        .iter()
        .enumerate()
        .map(|(i, &class)| json!({"request_id": format!("same-{i}"), "label": 0, "class": CLASSES[class]}))
        .collect();
    let (status, body) = app.json(Method::POST, "/v1/outcomes", Some(&app.admin), json!({"outcomes": outcomes})).await;
    assert_eq!((status, &body["recorded"]), (StatusCode::CREATED, &json!(300)), "{body}");
    let labelled = crate::monitoring_depth_tests::latest_of(&app, "card").await;
    let performance = &labelled["performance"]["details"]["features"]["model"];
    let reference = warden_stats::multiclass::multiclass_metrics(3, &realized, &decided, &expected).unwrap();
    let auc = performance["value"].as_f64().unwrap();
    assert!((auc - reference.auc_macro.unwrap()).abs() < 1e-6, "{auc} against {:?}", reference.auc_macro);
    assert_eq!(performance["figures"]["with_classes"], 300, "{performance}");

    // Two minutes on, traffic deciding one class only.
    clock.fetch_add(120 * 1_000_000, std::sync::atomic::Ordering::SeqCst);
    let one_class: Vec<usize> =
        (0..300).map(|i| every.iter().copied().filter(|&r| decided[r] == 1).nth(i % 50).unwrap()).collect();
    score_card(&app, &one_class, "shifted").await;
    let shifted = crate::monitoring_depth_tests::latest_of(&app, "card").await;
    let drift = &shifted["score_drift"];
    assert_eq!(drift["status"], "alert", "{drift}");
    let counts = &drift["details"]["features"]["classes"]["figures"]["classes"];
    assert_eq!(counts["prepaid_card"], 300, "{drift}");
}

/// A suspended multiclass classifier's callers get a class or a referral, never a decline.
#[tokio::test]
async fn a_multiclass_model_cannot_fall_back_to_declining() {
    let app = TestApp::new().await;
    card_model(&app).await;
    let suspend = |fallback: &str| json!({"reason": "incident 7", "fallback": fallback});
    let (status, body) = app.json(Method::POST, "/v1/models/card/suspend", Some(&app.admin), suspend("decline")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("decides classes, not declines"), "{body}");
    let (status, body) = app.json(Method::POST, "/v1/models/card/suspend", Some(&app.admin), suspend("refer")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
