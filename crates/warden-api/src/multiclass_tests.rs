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
        .map(|row| header.iter().cloned().zip(row.iter().map(|v| v.map_or(Value::Null, |x| json!(x)))).collect())
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

pub(crate) fn multiclass_metadata() -> Value {
    json!({"format": "xgboost-json", "serving": {"task": "multiclass_classification", "classes": CLASSES}})
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
    for reason in one["reasons"].as_array().unwrap() {
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
        (serving(json!({"task": "multiclass_classification"})), "0 given, 2 to 1000 allowed"),
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
    // A binary model named as a multiclass one.
    let binary = warden_testdata::read("models/xgb_german.json");
    let german = warden_testdata::read("models/german_test_encoded.csv");
    let (status, body) = app.register("card", multiclass_metadata(), &binary, &german).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("the model predicts one score"), "{body}");
    let (_, versions) = app.json(Method::GET, "/v1/models/card/versions", Some(&app.admin), Value::Null).await;
    assert_eq!(versions.as_array().map(Vec::len), Some(0), "nothing registered: {versions}");
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
