//! The serving path through the router: real models (the golden German credit fixtures), schema checks,
//! routing, the decision log, outcomes and metrics.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::tests::{TestApp, german_csv};

const NUMERIC: [&str; 4] = ["job", "credit_amount", "duration", "age"];
const CATEGORICAL: [&str; 4] = ["housing", "saving_accounts", "checking_account", "purpose"];

fn fixture(name: &str) -> Vec<u8> {
    warden_testdata::read(&format!("models/{name}"))
}

fn csv_rows(name: &str) -> Vec<HashMap<String, String>> {
    let text = String::from_utf8(fixture(name)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| header.iter().zip(line.split(',')).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

/// A test row as a request's features (raw values; the test rows have no missing cells).
pub(crate) fn features(row: &HashMap<String, String>) -> Map<String, Value> {
    let mut out = Map::new();
    for c in NUMERIC {
        out.insert(c.into(), json!(row[c].parse::<f64>().unwrap()));
    }
    for c in CATEGORICAL {
        out.insert(c.into(), json!(row[c]));
    }
    out
}

/// The German credit reference rows, by column name.
pub(crate) fn german_rows() -> Vec<HashMap<String, String>> {
    let text = String::from_utf8(german_csv()).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines.map(|l| header.iter().zip(l.split(',')).map(|(h, v)| (h.to_string(), v.to_string())).collect()).collect()
}

fn is_older_applicant(row: &HashMap<String, String>) -> bool {
    row["age"].parse::<f64>().unwrap() > 40.0
}

/// A drifted stream as a score batch: the reference's applicants over 40 only.
pub(crate) fn older_applicants_batch() -> Vec<Value> {
    german_rows().iter().filter(|r| is_older_applicant(r)).map(|r| json!({"features": features(r)})).collect()
}

fn german_metadata(format: &str) -> Value {
    json!({"format": format, "target": "risk", "protected": ["sex"]})
}

impl TestApp {
    async fn serve_version(&self, model: &str, metadata: Value, artifact: &[u8]) -> i64 {
        let (status, body) = self.register(model, metadata, artifact, &german_csv()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["version"].as_i64().unwrap()
    }

    /// Sets an alias; production aliases move by an administrator's override (these tests are about
    /// serving, not the gate).
    async fn alias(&self, model: &str, alias: &str, body: Value) {
        if !warden_registry::registry::PRODUCTION_ALIASES.contains(&alias) {
            let uri = format!("/v1/models/{model}/aliases/{alias}");
            let (status, body) = self.json(Method::PUT, &uri, Some(&self.admin), body).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            return;
        }
        let version = body["version"].as_i64().unwrap();
        let uri = format!("/v1/models/{model}/versions/{version}/promote");
        let promote = json!({"alias": alias, "traffic": body["traffic"], "override": true, "reason": "serving test"});
        let (status, body) = self.json(Method::POST, &uri, Some(&self.admin), promote).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn score(&self, model: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::POST, &format!("/v1/models/{model}/score"), Some(token), body).await
    }

    async fn decisions(&self, model: &str) -> Vec<Value> {
        let (status, body) = self
            .json(Method::GET, &format!("/v1/models/{model}/decisions?limit=100000"), Some(&self.admin), Value::Null)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_array().unwrap().clone()
    }
}

#[tokio::test]
async fn onnx_pipeline_champion_scores_like_onnx_runtime_and_logs_every_decision() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let version = app.serve_version("credit", german_metadata("onnx"), &fixture("lr_german.onnx")).await;
    app.alias("credit", "champion", json!({"version": version})).await;
    let scorer = app.token("loan-app", "scorer").await;

    let expected = csv_rows("german_test_expected_lr.csv");
    let rows = csv_rows("german_test_raw.csv");
    for (i, row) in rows.iter().enumerate().take(40) {
        let body =
            json!({"request_id": format!("app-{i}"), "features": features(row), "attributes": {"sex": row["sex"]}});
        let (status, body) = app.score("credit", &scorer, body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let want: f64 = expected[i]["ort_zipmap_proba_1"].parse().unwrap();
        let score = body["score"].as_f64().unwrap();
        assert!((score - want).abs() <= 1e-6, "row {i}: {score} vs ONNX Runtime {want}");
        assert_eq!(body["decision"], if score >= 0.5 { "decline" } else { "approve" });
        assert_eq!((body["version"].as_i64(), body["route"].as_str()), (Some(version), Some("champion")));
    }
    let log = app.decisions("credit").await;
    assert_eq!(log.len(), 40);
    assert_eq!(log[7]["request_id"], "app-7");
    assert_eq!(log[7]["attributes"]["sex"], rows[7]["sex"].as_str());
    assert_eq!(log[7]["features"]["purpose"], rows[7]["purpose"].as_str());
    assert!(log.iter().all(|d| d["route"] == "champion" && d["latency_us"].as_i64().unwrap() >= 0));

    // The live window profile counts the same decisions.
    let (status, live) = app.json(Method::GET, "/v1/models/credit/live", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{live}");
    assert_eq!(live[0]["profile"]["decisions"], 40);
    assert_eq!(live[0]["profile"]["features"]["duration"]["window"]["count"], 40);

    // ONNX graphs score but do not explain.
    let body = json!({"features": features(&rows[0]), "explain": true});
    let (status, body) = app.score("credit", &scorer, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("cannot explain"), "{body}");
}

#[tokio::test]
async fn xgboost_with_encodings_explains_with_treeshap_and_gives_reason_codes() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let manifest: Value = serde_json::from_slice(&fixture("manifest.json")).unwrap();
    let encodings = &manifest["suites"][0]["ordinal_codes"];
    let mut metadata = german_metadata("xgboost-json");
    // 'not_known' has no code: the encoded training data had it as missing.
    metadata["encodings"] = encodings.clone();
    metadata["unknown_category"] = json!("missing");
    metadata["serving"] = json!({"threshold": 0.4, "reason_count": 3});
    let version = app.serve_version("credit", metadata, &fixture("xgb_german.json")).await;
    app.alias("credit", "champion", json!({"version": version})).await;

    let expected = csv_rows("german_test_expected_xgb.csv");
    let rows = csv_rows("german_test_raw.csv");
    for (i, row) in rows.iter().enumerate().take(30) {
        let (status, body) = app.score("credit", &app.admin, json!({"features": features(row), "explain": true})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let want = &expected[i];
        let close =
            |a: f64, b: &str| (a - b.parse::<f64>().unwrap()).abs() <= 1e-6 * b.parse::<f64>().unwrap().abs().max(1.0);
        assert!(close(body["score"].as_f64().unwrap(), &want["proba_1"]), "row {i}: {body}");
        assert!(close(body["base"].as_f64().unwrap(), &want["shap_expected_value"]));
        let mut positive = Vec::new();
        for c in NUMERIC.iter().chain(&CATEGORICAL) {
            let got = body["contributions"][c].as_f64().unwrap();
            assert!(close(got, &want[&format!("shap_{c}")]), "row {i} {c}: {got} vs {}", want[&format!("shap_{c}")]);
            if got > 0.0 {
                positive.push((got, *c));
            }
        }
        positive.sort_by(|a, b| b.0.total_cmp(&a.0));
        let reasons: Vec<&str> =
            body["reasons"].as_array().unwrap().iter().map(|r| r["feature"].as_str().unwrap()).collect();
        let wanted: Vec<&str> = positive.iter().take(3).map(|(_, c)| *c).collect();
        assert_eq!(reasons, wanted, "row {i}: reasons are the top positive contributions");
        if let Some(first) = body["reasons"].as_array().unwrap().first() {
            assert_eq!(first["value"], features(row)[first["feature"].as_str().unwrap()]);
        }
        assert_eq!(body["decision"], if body["score"].as_f64().unwrap() >= 0.4 { "decline" } else { "approve" });
    }
}

#[tokio::test]
async fn a_model_that_takes_codes_needs_an_encoding_at_registration() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let (status, body) =
        app.register("credit", german_metadata("xgboost-json"), &fixture("xgb_german.json"), &german_csv()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("declare its encoding"), "{body}");
    let mut metadata = german_metadata("linear-json");
    metadata["serving"] = json!({"threshold": 1.5});
    let (status, body) =
        app.register("credit", metadata, br#"{"intercept": 0, "coefficients": {"age": 0.1}}"#, &german_csv()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .register(
            "credit",
            german_metadata("linear-json"),
            br#"{"intercept": 0, "coefficients": {"income": 0.1}}"#,
            &german_csv(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("'income'"), "{body}");
}

#[tokio::test]
async fn bad_input_is_refused_per_field_and_nothing_is_logged() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let version = app.serve_version("credit", german_metadata("onnx"), &fixture("lr_german.onnx")).await;
    let rows = csv_rows("german_test_raw.csv");
    let good = features(&rows[0]);

    // No champion yet: the model exists but nothing is in production (503, not 404).
    let (status, body) = app.score("credit", &app.admin, json!({"features": good})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("'credit' has no version in production"));
    app.alias("credit", "champion", json!({"version": version})).await;

    let mut bad = good.clone();
    bad.insert("income".into(), json!(1000));
    bad.remove("age");
    bad.insert("duration".into(), json!("twelve"));
    bad.insert("housing".into(), json!("castle"));
    bad.insert("job".into(), Value::Null);
    bad.insert("purpose".into(), json!(3));
    let (status, body) = app.score("credit", &app.admin, json!({"features": bad, "attributes": {"sex": ["f"]}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields = &body["error"]["details"]["fields"];
    for (field, words) in [
        ("income", "unknown feature"),
        ("age", "required"),
        ("duration", "expected a number, got a string"),
        ("housing", "category 'castle' was never declared"),
        ("job", "required"),
        ("purpose", "expected a category"),
        ("attributes.sex", "must be a string, number, boolean or null"),
    ] {
        assert!(fields[field].as_str().is_some_and(|m| m.contains(words)), "{field}: {fields}");
    }

    // Malformed JSON, unknown fields in the envelope, unknown model, roles.
    let (status, _) = app
        .send(
            Method::POST,
            "/v1/models/credit/score",
            Some(&app.admin),
            "application/json",
            b"{\"features\": ".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app.score("credit", &app.admin, json!({"features": good, "explian": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("explian"), "{body}");
    let (status, _) = app.score("no-such-model", &app.admin, json!({"features": good})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let viewer = app.token("dashboard", "viewer").await;
    let (status, _) = app.score("credit", &viewer, json!({"features": good})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.json(Method::POST, "/v1/models/credit/score", None, json!({"features": good})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.score("credit", &app.admin, json!({"features": good, "request_id": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let huge = json!({"features": good, "attributes": {"note": "x".repeat(2 << 20)}});
    let (status, body) = app.score("credit", &app.admin, huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    // A batch with one bad row scores nothing.
    let batch = json!([{"features": good}, {"features": good}, {"features": bad}]);
    let (status, body) = app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), batch).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["row"], 2);
    assert!(app.decisions("credit").await.is_empty(), "refused requests leave no decision");

    // Several bad rows: every one is named with its fields, up to the limit, and the rest are counted.
    let mut twelve = good.clone();
    twelve.insert("duration".into(), json!("twelve"));
    let batch = json!([{"features": good}, {"features": bad}, {"features": good}, {"features": twelve}]);
    let (status, body) = app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), batch).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let details = &body["error"]["details"];
    assert_eq!(details["invalid_rows"], 2, "{body}");
    let listed: Vec<&Value> = details["rows"].as_array().unwrap().iter().map(|r| &r["row"]).collect();
    assert_eq!(listed, [&json!(1), &json!(3)], "{body}");
    assert!(details["rows"][0]["fields"]["age"].as_str().is_some_and(|m| m.contains("required")), "{body}");
    assert!(details["rows"][1]["fields"]["duration"].as_str().is_some_and(|m| m.contains("expected a number")));
    assert!(body["error"]["message"].as_str().unwrap().starts_with("2 of 4 rows are invalid"), "{body}");
    let many: Vec<Value> = (0..150).map(|i| json!({"features": if i % 3 == 0 { &good } else { &twelve }})).collect();
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(many)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let details = &body["error"]["details"];
    assert_eq!(details["invalid_rows"], 100);
    assert_eq!(details["rows"].as_array().unwrap().len(), 100, "at most 100 rows listed");
    assert_eq!(details["rows"][99]["row"], 149, "the listed rows are the first 100 invalid ones");
    assert_eq!(details["unlisted_rows"], 0);
    let many: Vec<Value> = (0..130).map(|_| json!({"features": twelve})).collect();
    let (_, body) = app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(many)).await;
    assert_eq!(body["error"]["details"]["rows"].as_array().unwrap().len(), 100);
    assert_eq!(body["error"]["details"]["unlisted_rows"], 30, "{}", body["error"]["details"]["invalid_rows"]);
    assert!(app.decisions("credit").await.is_empty(), "refused requests leave no decision");

    // The same batch without the bad row, as NDJSON, scores in order.
    let ndjson: String = rows
        .iter()
        .take(5)
        .enumerate()
        .map(|(i, r)| json!({"request_id": format!("b{i}"), "features": features(r)}).to_string() + "\n")
        .collect();
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/models/credit/score/batch",
            Some(&app.admin),
            "application/x-ndjson",
            ndjson.into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<&str> =
        body["results"].as_array().unwrap().iter().map(|r| r["request_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["b0", "b1", "b2", "b3", "b4"]);
    assert_eq!(app.decisions("credit").await.len(), 5);
}

fn linear(intercept: f64) -> Vec<u8> {
    format!(r#"{{"intercept": {intercept}, "coefficients": {{"duration": 0.02, "credit_amount": 0.0001}}}}"#)
        .into_bytes()
}

#[tokio::test]
async fn champion_canary_and_shadow_routes_and_alias_changes_apply_without_restart() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let v1 = app.serve_version("credit", german_metadata("linear-json"), &linear(-2.0)).await;
    let v2 = app.serve_version("credit", german_metadata("linear-json"), &linear(-1.0)).await;
    app.alias("credit", "champion", json!({"version": v1})).await;
    app.alias("credit", "challenger", json!({"version": v2})).await;
    let request = |i: usize| {
        json!({"request_id": format!("r{i}"), "features": {"duration": 12, "credit_amount": 2000,
        "job": 2, "age": 30, "housing": "own", "saving_accounts": "little", "checking_account": "little", "purpose": "car"}})
    };

    // Champion answers, challenger is logged in shadow.
    for i in 0..10 {
        let (status, body) = app.score("credit", &app.admin, request(i)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((body["version"].as_i64(), body["route"].as_str()), (Some(v1), Some("champion")));
        let expected = 1.0 / (1.0 + (-(-2.0f64 + 0.02 * 12.0 + 0.0001 * 2000.0)).exp());
        assert!((body["score"].as_f64().unwrap() - expected).abs() < 1e-12);
    }
    let log = app.decisions("credit").await;
    let shadow: Vec<&Value> = log.iter().filter(|d| d["route"] == "shadow").collect();
    assert_eq!(shadow.len(), 10);
    assert!(shadow.iter().all(|d| d["version"] == v2));

    // A canary takes its stable share of request ids.
    app.alias("credit", "canary", json!({"version": v2, "traffic": 0.3})).await;
    let mut canary = 0;
    for i in 100..500 {
        let (_, body) = app.score("credit", &app.admin, request(i)).await;
        let in_share = warden_serving::scoring::in_canary_share("credit", &format!("r{i}"), 0.3);
        assert_eq!(body["route"] == "canary", in_share, "r{i}");
        assert_eq!(body["version"].as_i64() == Some(v2), in_share);
        canary += usize::from(in_share);
    }
    assert!((90..150).contains(&canary), "{canary} of 400 in a 30% share");
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/v1/models/credit/versions/{v2}/promote"),
            Some(&app.admin),
            json!({"alias": "canary", "traffic": 1.5, "override": true, "reason": "serving test"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Promotion takes effect on the next request.
    app.json(Method::DELETE, "/v1/models/credit/aliases/canary", Some(&app.admin), Value::Null).await;
    app.alias("credit", "champion", json!({"version": v2})).await;
    let (_, body) = app.score("credit", &app.admin, request(1000)).await;
    assert_eq!((body["version"].as_i64(), body["route"].as_str()), (Some(v2), Some("champion")));
    // Pinned to a version by number or alias.
    let (_, body) = app.json(Method::POST, "/v1/models/credit/score?version=1", Some(&app.admin), request(1001)).await;
    assert_eq!((body["version"].as_i64(), body["route"].as_str()), (Some(v1), Some("pinned")));
    let (status, _) =
        app.json(Method::POST, "/v1/models/credit/score?version=9", Some(&app.admin), request(1002)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn outcomes_join_decisions_all_or_none_and_metrics_count_everything() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let v1 = app.serve_version("credit", german_metadata("linear-json"), &linear(-2.0)).await;
    app.alias("credit", "champion", json!({"version": v1})).await;
    let scorer = app.token("loan-app", "scorer").await;
    let features = json!({"duration": 12, "credit_amount": 2000, "job": 2, "age": 30, "housing": "own",
        "saving_accounts": "little", "checking_account": "little", "purpose": "car"});
    for i in 0..3 {
        let (status, _) =
            app.score("credit", &scorer, json!({"request_id": format!("loan-{i}"), "features": features})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = app.score("credit", &scorer, json!({"features": {"duration": "x"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let outcomes = json!({"outcomes": [{"request_id": "loan-0", "label": 1, "amount": 2000.0},
        {"request_id": "loan-1", "label": 0, "kind": "default"}]});
    let (status, body) = app.json(Method::POST, "/v1/outcomes", Some(&scorer), outcomes).await;
    assert_eq!((status, body["recorded"].as_u64()), (StatusCode::CREATED, Some(2)), "{body}");
    let unknown =
        json!({"outcomes": [{"request_id": "loan-2", "label": 1}, {"request_id": "never-scored", "label": 1}]});
    let (status, body) = app.json(Method::POST, "/v1/outcomes", Some(&scorer), unknown).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("never-scored"));
    let (status, _) = app
        .json(Method::POST, "/v1/outcomes", Some(&scorer), json!({"outcomes": [{"request_id": "loan-2", "label": 7}]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let viewer = app.token("dash", "viewer").await;
    let (status, _) = app
        .json(Method::POST, "/v1/outcomes", Some(&viewer), json!({"outcomes": [{"request_id": "loan-2", "label": 1}]}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Prometheus exposition: rows, latency histogram and errors by model and version.
    let response = tower::ServiceExt::oneshot(
        crate::app(app.warden.clone()),
        axum::http::Request::get("/metrics")
            .header("authorization", format!("Bearer {scorer}"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text =
        String::from_utf8(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    assert!(text.contains(r#"warden_scored_rows_total{model="credit",version="1",route="champion"} 3"#), "{text}");
    assert!(
        text.contains(r#"warden_score_latency_seconds_count{model="credit",version="1",route="champion"} 3"#),
        "{text}"
    );
    assert!(text.contains(r#"warden_score_errors_total{model="credit",kind="invalid_input"} 1"#), "{text}");
    assert!(
        text.contains(r#"warden_http_requests_total{method="POST",path="/v1/models/{name}/score",status="422"} 1"#),
        "{text}"
    );
    let (status, _) = app.json(Method::GET, "/metrics", None, Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn live_drift_over_a_window_equals_the_statistics_core_on_the_same_rows() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let version = app.serve_version("credit", german_metadata("linear-json"), &fixture("lr_german_linear.json")).await;
    app.alias("credit", "champion", json!({"version": version})).await;
    let reference = german_rows();
    // Older applicants only: a shifted stream.
    let current: Vec<&HashMap<String, String>> = reference.iter().filter(|r| is_older_applicant(r)).collect();
    let batch = older_applicants_batch();
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, drift) =
        app.json(Method::GET, "/v1/models/credit/live/drift?seconds=600", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{drift}");
    assert_eq!(drift[0]["decisions"], current.len());
    let column = |rows: &[&HashMap<String, String>], c: &str| -> Vec<f64> {
        rows.iter().map(|r| r[c].parse().unwrap()).collect()
    };
    let all: Vec<&HashMap<String, String>> = reference.iter().collect();
    for feature in NUMERIC {
        let want = warden_stats::drift::numeric_drift(&column(&all, feature), &column(&current, feature)).psi;
        let got = drift[0]["features"][feature]["psi"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-12, "{feature}: live {got} vs drift report {want}");
    }
    assert!(drift[0]["features"]["age"]["psi"].as_f64().unwrap() > 0.25, "the shift is visible");
    assert_eq!(drift[0]["features"]["age"]["out_of_range_rate"], 0.0);
    for feature in CATEGORICAL {
        let counts = |rows: &[&HashMap<String, String>]| {
            let mut m = std::collections::BTreeMap::new();
            for r in rows {
                *m.entry(r[feature].clone()).or_insert(0u64) += 1;
            }
            m
        };
        let want = warden_stats::drift::categorical_drift(&counts(&all), &counts(&current)).psi;
        let got = drift[0]["features"][feature]["psi"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-12, "{feature}: live {got} vs drift report {want}");
        assert_eq!(drift[0]["features"][feature]["unseen_rate"], 0.0);
    }
    let (status, _) =
        app.json(Method::GET, "/v1/models/credit/live/drift?seconds=0", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_deployed_model_gets_default_monitors_that_flag_drift_and_keep_a_history() {
    let app = TestApp::new().await; // high-risk model
    app.create_model("credit").await;
    let version = app.serve_version("credit", german_metadata("linear-json"), &fixture("lr_german_linear.json")).await;
    let (_, none) = app.json(Method::GET, "/v1/models/credit/monitors", Some(&app.admin), Value::Null).await;
    assert_eq!(none, json!([]), "monitors come with deployment");
    app.alias("credit", "champion", json!({"version": version})).await;
    let (_, monitors) = app.json(Method::GET, "/v1/models/credit/monitors", Some(&app.admin), Value::Null).await;
    let names: Vec<&str> = monitors.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    // The tier's monitors, and fairness on the attribute the version declared protected.
    assert_eq!(
        names,
        [
            "data_quality",
            "fairness_sex",
            "feature_drift",
            "integrity",
            "override_rate",
            "performance",
            "revalidation",
            "score_drift"
        ]
    );
    assert_eq!(monitors[2]["config"]["window_seconds"], 300, "high risk: five-minute windows");
    assert_eq!(monitors[1]["config"]["attribute"], "sex");
    // This test follows the two input monitors; the others have tests of their own.
    for other in ["fairness_sex", "integrity", "override_rate", "performance", "revalidation", "score_drift"] {
        let uri = format!("/v1/models/credit/monitors/{other}");
        let (status, body) = app.json(Method::PUT, &uri, Some(&app.admin), json!({"enabled": false})).await;
        assert_eq!(status, StatusCode::OK, "{other}: {body}");
    }

    // Nothing scored yet: insufficient, never an alert.
    let evaluate = || app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null);
    assert_eq!(evaluate().await.0, StatusCode::OK);
    let older = older_applicants_batch();
    assert!(older.len() >= 200, "enough for the high-risk minimum sample");
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(older)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(evaluate().await.0, StatusCode::OK);

    let (status, history) = app
        .json(Method::GET, "/v1/models/credit/monitors/history?monitor=feature_drift", Some(&app.admin), Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0]["status"].as_str(), history[0]["decisions"].as_i64()), (Some("insufficient"), Some(0)));
    assert_eq!(history[1]["status"], "alert", "{}", history[1]);
    assert!(history[1]["value"].as_f64().unwrap() > 0.25);
    assert_eq!(history[1]["details"]["features"]["age"]["status"], "alert");
    assert_eq!(history[1]["details"]["features"]["job"]["status"], "ok");
    let (_, quality) = app
        .json(Method::GET, "/v1/models/credit/monitors/history?monitor=data_quality", Some(&app.admin), Value::Null)
        .await;
    assert_eq!(quality[1]["status"], "ok", "{quality}");

    // Monitors are edited by the second line; bad settings are refused; a disabled monitor is not evaluated.
    let scientist = app.token("dana", "data-scientist").await;
    let uri = "/v1/models/credit/monitors/feature_drift";
    assert_eq!(app.json(Method::PUT, uri, Some(&scientist), json!({"warn": 0.2})).await.0, StatusCode::FORBIDDEN);
    let (status, body) = app.json(Method::PUT, uri, Some(&app.admin), json!({"warn": 0.5, "alert": 0.3})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app.json(Method::PUT, uri, Some(&app.admin), json!({"min_decisions": 100000})).await;
    assert_eq!((status, body["config"]["min_decisions"].as_i64()), (StatusCode::OK, Some(100000)), "{body}");
    let quality_uri = "/v1/models/credit/monitors/data_quality";
    assert_eq!(app.json(Method::PUT, quality_uri, Some(&app.admin), json!({"enabled": false})).await.0, StatusCode::OK);
    assert_eq!(evaluate().await.0, StatusCode::OK);
    let (_, all) = app.json(Method::GET, "/v1/models/credit/monitors/history", Some(&app.admin), Value::Null).await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 5, "two rounds of two monitors, then one");
    assert_eq!((all[4]["monitor"].as_str(), all[4]["status"].as_str()), (Some("feature_drift"), Some("insufficient")));

    // The drift alert fired once (one open alert per monitor and feature), for age and only the drifted features.
    let (status, firing) = app.json(Method::GET, "/v1/alerts?state=firing", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{firing}");
    let age = firing.as_array().unwrap().iter().find(|a| a["feature"] == "age").expect("age alert");
    assert_eq!((age["monitor"].as_str(), age["severity"].as_str()), (Some("feature_drift"), Some("critical")));
    assert!(firing.as_array().unwrap().iter().all(|a| a["feature"] != "job"), "{firing}");
    let id = age["id"].as_i64().unwrap();
    let ack = format!("/v1/alerts/{id}/acknowledge");
    assert_eq!(app.json(Method::POST, &ack, Some(&scientist), json!({"comment": "x"})).await.0, StatusCode::FORBIDDEN);
    let (status, acked) = app.json(Method::POST, &ack, Some(&app.admin), json!({"comment": "looking"})).await;
    assert_eq!((status, acked["state"].as_str()), (StatusCode::OK, Some("acknowledged")), "{acked}");
    assert_eq!(app.json(Method::POST, &ack, Some(&app.admin), json!({})).await.0, StatusCode::CONFLICT);

    // Back within the bands (looser limits here), the alert resolves itself after `resolve_after` clean
    // evaluations in a row (3 by default), not at the first.
    let body = json!({"min_decisions": 100, "warn": 50.0, "alert": 100.0});
    let (status, changed) = app.json(Method::PUT, uri, Some(&app.admin), body).await;
    assert_eq!((status, changed["config"]["resolve_after"].as_u64()), (StatusCode::OK, Some(3)), "{changed}");
    for round in 1..=3 {
        assert_eq!(evaluate().await.0, StatusCode::OK);
        let (_, alert) = app.json(Method::GET, &format!("/v1/alerts/{id}"), Some(&app.admin), Value::Null).await;
        let want = if round < 3 { "acknowledged" } else { "resolved" };
        assert_eq!(alert["state"], want, "after {round} clean evaluations: {alert}");
    }
    let (_, alert) = app.json(Method::GET, &format!("/v1/alerts/{id}"), Some(&app.admin), Value::Null).await;
    let kinds: Vec<&str> = alert["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["fired", "acknowledged", "resolved"]);
    // The critical alerts opened one incident, resolved with them; its timeline holds their events.
    let incident_id = alert["incident_id"].as_i64().expect("a critical alert belongs to an incident");
    let (_, incident) =
        app.json(Method::GET, &format!("/v1/incidents/{incident_id}"), Some(&app.admin), Value::Null).await;
    assert_eq!(incident["state"], "resolved", "{incident}");
    assert!(incident["time_to_detect_seconds"].as_f64().unwrap() >= 0.0);
    assert!(incident["time_to_resolve_seconds"].as_f64().unwrap() >= 0.0);
    let timeline: Vec<&str> =
        incident["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(
        timeline.starts_with(&["fired"])
            && timeline.contains(&"acknowledged")
            && timeline.ends_with(&["resolved", "incident_resolved"]),
        "{incident}"
    );
    // Resolved by its monitors, not by a person.
    assert_eq!((incident["resolved_by"].as_str(), incident["resolution"].as_str()), (None, None), "{incident}");
    let (_, all) = app.json(Method::GET, "/v1/incidents", Some(&app.admin), Value::Null).await;
    assert_eq!(all.as_array().unwrap().len(), 1, "one incident per model at a time: {all}");
    // Prometheus sees the monitors and the alerts.
    let metrics = app.warden.scoring().metrics_text();
    assert!(
        metrics.contains(r#"warden_monitor_status{model="credit",monitor="feature_drift",version="1"} 0"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"warden_open_alerts{model="credit",severity="critical"} 0"#), "{metrics}");
    let (status, _) = app.json(Method::GET, "/v1/alerts?state=bogus", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Scores rows as one batch with request ids `{prefix}{i}` and `sex` as a monitor-only attribute; the scores.
async fn score_rows(app: &TestApp, rows: &[HashMap<String, String>], prefix: &str) -> Vec<f64> {
    let batch: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"request_id": format!("{prefix}{i}"), "features": features(r), "attributes": {"sex": r["sex"]}}))
        .collect();
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"].as_array().unwrap().iter().map(|r| r["score"].as_f64().unwrap()).collect()
}

/// The latest evaluation of each monitor.
async fn latest_evaluations(app: &TestApp) -> HashMap<String, Value> {
    let (status, body) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, history) =
        app.json(Method::GET, "/v1/models/credit/monitors/history?limit=1000", Some(&app.admin), Value::Null).await;
    let mut latest = HashMap::new();
    for e in history.as_array().unwrap() {
        latest.insert(e["monitor"].as_str().unwrap().to_owned(), e.clone());
    }
    latest
}

#[tokio::test]
async fn score_outcome_fairness_money_and_integrity_monitors_compute_what_the_statistics_core_does() {
    let app = TestApp::new().await; // high-risk model
    app.create_model("credit").await;
    let mut metadata = german_metadata("linear-json");
    metadata["serving"] = json!({"lgd": 0.45, "exposure_column": "credit_amount"});
    let version = app.serve_version("credit", metadata, &fixture("lr_german_linear.json")).await;
    app.alias("credit", "champion", json!({"version": version})).await;
    let app = &app;
    let set = |name: &str, body: Value| {
        let uri = format!("/v1/models/credit/monitors/{name}");
        async move {
            let (status, body) = app.json(Method::PUT, &uri, Some(&app.admin), body).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    set("fairness_sex", json!({"kind": "fairness", "attribute": "sex"})).await;
    set("money_at_risk", json!({"kind": "money_at_risk"})).await;
    set("cbpe", json!({"kind": "estimated_performance", "target": "risk", "bad_value": "0"})).await;
    set("drift_learned", json!({"kind": "feature_drift", "learned": {"k": 3, "chunk_size": 200}})).await;
    let (status, body) =
        app.json(Method::PUT, "/v1/models/credit/monitors/eo", Some(&app.admin), json!({"kind": "fairness"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a fairness monitor needs an attribute: {body}");

    // Live traffic exactly like the reference: every figure at its reference value.
    let reference = german_rows();
    let scores = score_rows(app, &reference, "ref-").await;
    // Ten requests the schema refuses (an undeclared field) count as schema violations in data quality.
    for _ in 0..10 {
        let mut bad = features(&reference[0]);
        bad.insert("colour".into(), json!("red"));
        assert_eq!(app.score("credit", &app.admin, json!({"features": bad})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let latest = latest_evaluations(app).await;
    let schema = &latest["data_quality"]["details"]["features"]["(schema)"];
    assert_eq!(schema["figures"]["refused"], 10, "{schema}");
    assert!((schema["value"].as_f64().unwrap() - 10.0 / 1010.0).abs() < 1e-12, "{schema}");
    assert_eq!(schema["status"], "ok", "1% is under the high tier's 2% warning: {schema}");
    for name in ["feature_drift", "score_drift", "data_quality", "fairness_sex", "money_at_risk", "drift_learned"] {
        assert_eq!(latest[name]["status"], "ok", "{name}: {}", latest[name]);
    }
    assert_eq!(latest["score_drift"]["value"].as_f64(), Some(0.0));
    assert!(latest["money_at_risk"]["value"].as_f64().unwrap().abs() < 1e-12, "{}", latest["money_at_risk"]);
    // Disparate impact from the approvals (score below the 0.5 threshold) per group.
    let rate = |sex: &str| {
        let group: Vec<f64> = reference.iter().zip(&scores).filter(|(r, _)| r["sex"] == sex).map(|(_, s)| *s).collect();
        group.iter().filter(|&&s| s < 0.5).count() as f64 / group.len() as f64
    };
    let (female, male) = (rate("female"), rate("male"));
    let want = female.min(male) / female.max(male);
    let got = latest["fairness_sex"]["value"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-12, "disparate impact {got} vs {want}");
    // Learned bands: five chunks of 200 reference rows, a band per feature.
    let learned = &latest["drift_learned"]["details"];
    assert_eq!(learned["learned"]["chunks"], 5, "{learned}");
    let age = &learned["features"]["age"]["bands"];
    assert!(age["alert"].as_f64().unwrap() > age["warn"].as_f64().unwrap(), "{age}");
    // Before outcomes arrive: performance has no labelled decision; CBPE estimates from the scores.
    assert_eq!(latest["performance"]["status"], "insufficient", "{}", latest["performance"]);
    let estimated = latest["cbpe"]["value"].as_f64().unwrap_or_else(|| panic!("no CBPE estimate: {}", latest["cbpe"]));
    assert_eq!(latest["integrity"]["status"], "ok", "{}", latest["integrity"]);

    // Outcomes arrive: AUC on the labelled decisions is the statistics core's, and CBPE estimated it closely.
    let labels: Vec<bool> = reference.iter().map(|r| r["risk"] == "0").collect();
    let outcomes: Vec<Value> = labels
        .iter()
        .enumerate()
        .map(|(i, &bad)| json!({"request_id": format!("ref-{i}"), "label": i64::from(bad)}))
        .collect();
    let (status, body) = app.json(Method::POST, "/v1/outcomes", Some(&app.admin), json!({"outcomes": outcomes})).await;
    assert_eq!((status, body["recorded"].as_i64()), (StatusCode::CREATED, Some(1000)), "{body}");
    let latest = latest_evaluations(app).await;
    let auc = warden_stats::metrics::roc_auc(&labels, &scores).unwrap();
    let got = latest["performance"]["value"].as_f64().unwrap();
    assert!((got - auc).abs() < 1e-12, "live AUC {got} vs {auc}");
    assert_eq!(latest["performance"]["status"], "ok", "AUC {auc} is above the high tier's 0.75");
    assert!((estimated - auc).abs() < 0.03, "CBPE estimated {estimated}, realized {auc}");
    // Equal opportunity (approval rate among good outcomes, per group) and the share of bad credit approved.
    set(
        "eo_sex",
        json!({"kind": "fairness", "attribute": "sex", "statistic": "equal_opportunity", "warn": 0.1, "alert": 0.2}),
    )
    .await;
    set("missed", json!({"kind": "money_at_risk", "statistic": "fraud_missed", "warn": 0.5, "alert": 0.9})).await;
    let latest = latest_evaluations(app).await;
    let tpr = |sex: &str| {
        let good: Vec<f64> =
            (0..reference.len()).filter(|&i| reference[i]["sex"] == sex && !labels[i]).map(|i| scores[i]).collect();
        good.iter().filter(|&&s| s < 0.5).count() as f64 / good.len() as f64
    };
    let want = (tpr("female") - tpr("male")).abs();
    let got = latest["eo_sex"]["value"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-12, "equal opportunity {got} vs {want}");
    let amount = |i: usize| reference[i]["credit_amount"].parse::<f64>().unwrap();
    let bad: Vec<usize> = (0..reference.len()).filter(|&i| labels[i]).collect();
    let want = bad.iter().filter(|&&i| scores[i] < 0.5).map(|&i| amount(i)).sum::<f64>()
        / bad.iter().map(|&i| amount(i)).sum::<f64>();
    let got = latest["missed"]["value"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-12, "approved share of bad credit {got} vs {want}");

    // A drifted stream: the score's PSI is the statistics core's over the reference scores' deciles.
    let older: Vec<HashMap<String, String>> = reference.iter().filter(|r| is_older_applicant(r)).cloned().collect();
    let older_scores = score_rows(app, &older, "old-").await;
    let latest = latest_evaluations(app).await;
    let current: Vec<f64> = scores.iter().chain(&older_scores).copied().collect();
    let want = warden_stats::drift::numeric_drift(&scores, &current).psi;
    let got = latest["score_drift"]["value"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-12, "score PSI {got} vs {want}");
    let age = &latest["drift_learned"]["details"]["features"]["age"];
    assert_eq!(age["status"], "alert", "{age}");
    assert_eq!(latest["feature_drift"]["details"]["features"]["age"]["status"], "ok", "static bands miss it: {age}");

    // Tampering with the stored artifact is a critical integrity alert that opens an incident.
    let sha = {
        let (_, v) = app.json(Method::GET, "/v1/models/credit/versions/1", Some(&app.admin), Value::Null).await;
        v["artifact"]["sha256"].as_str().unwrap().to_owned()
    };
    let blob = app.dir.path().join("artifacts/sha256").join(&sha[..2]).join(&sha);
    let mut permissions = std::fs::metadata(&blob).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&blob, permissions).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes.extend_from_slice(b" ");
    std::fs::write(&blob, bytes).unwrap();
    let latest = latest_evaluations(app).await;
    let integrity = &latest["integrity"];
    assert_eq!(integrity["status"], "alert", "{integrity}");
    assert!(integrity["details"]["features"]["artifact"]["reason"].as_str().unwrap().contains("stored artifact"));
    assert_eq!(integrity["details"]["features"]["routes"]["status"], "ok");
    let (_, alerts) = app.json(Method::GET, "/v1/alerts?state=firing", Some(&app.admin), Value::Null).await;
    let alert = alerts.as_array().unwrap().iter().find(|a| a["monitor"] == "integrity").expect("integrity alert");
    assert_eq!(alert["severity"], "critical");
    assert!(alert["incident_id"].as_i64().is_some(), "{alert}");
}

#[tokio::test]
async fn a_monitor_asking_for_consecutive_breaches_fires_only_when_the_breach_persists() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let version = app.serve_version("credit", german_metadata("linear-json"), &fixture("lr_german_linear.json")).await;
    app.alias("credit", "champion", json!({"version": version})).await;
    let uri = "/v1/models/credit/monitors/feature_drift";
    let (status, body) = app.json(Method::PUT, uri, Some(&app.admin), json!({"consecutive": 2})).await;
    assert_eq!((status, body["config"]["consecutive"].as_u64()), (StatusCode::OK, Some(2)), "{body}");
    let (status, _) = app.json(Method::PUT, uri, Some(&app.admin), json!({"consecutive": 0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(older_applicants_batch()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let drift_alerts = || async {
        let (_, alerts) = app.json(Method::GET, "/v1/alerts?model=credit", Some(&app.admin), Value::Null).await;
        alerts.as_array().unwrap().iter().filter(|a| a["monitor"] == "feature_drift").cloned().collect::<Vec<_>>()
    };
    // The first breach is evaluated as one, but raises nothing yet.
    let latest = latest_evaluations(&app).await;
    assert_eq!(latest["feature_drift"]["details"]["features"]["age"]["status"], "alert");
    assert!(drift_alerts().await.is_empty());
    // The second in a row fires, at the level both held.
    latest_evaluations(&app).await;
    let fired = drift_alerts().await;
    let age = fired.iter().find(|a| a["feature"] == "age").expect("age alert after two breaches");
    assert_eq!(age["severity"], "critical");
}

/// The German reference restricted to applicants over 40, as CSV: a reference against which ordinary
/// traffic looks drifted.
fn older_reference_csv() -> Vec<u8> {
    let text = String::from_utf8(german_csv()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let age = header.split(',').position(|h| h == "age").unwrap();
    let older = lines.filter(|l| l.split(',').nth(age).unwrap().parse::<f64>().unwrap() > 40.0);
    std::iter::once(header).chain(older).collect::<Vec<_>>().join("\n").into_bytes()
}

/// Champion and shadow challenger: each version's alerts are its own (label and value), a challenger's alerts
/// open no incident and take no action, a rollback that cannot happen says why, an incident resolved by hand
/// records who and why and resolves its alerts with it (a breach that lasts opens a new one), and a version
/// that leaves every alias takes its alerts and its `/metrics` series with it.
#[tokio::test]
async fn a_shadow_challengers_alerts_are_its_own_and_a_champion_incident_is_resolved_by_hand() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let artifact = fixture("lr_german_linear.json");
    let v1 = app.serve_version("credit", german_metadata("linear-json"), &artifact).await;
    app.alias("credit", "champion", json!({"version": v1})).await;
    let (status, body) =
        app.register("credit", german_metadata("linear-json"), &artifact, &older_reference_csv()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v2 = body["version"].as_i64().unwrap();
    app.alias("credit", "challenger", json!({"version": v2})).await;
    for other in ["fairness_sex", "integrity", "performance", "score_drift", "data_quality"] {
        let uri = format!("/v1/models/credit/monitors/{other}");
        let (status, body) = app.json(Method::PUT, &uri, Some(&app.admin), json!({"enabled": false})).await;
        assert_eq!(status, StatusCode::OK, "{other}: {body}");
    }
    let drift_uri = "/v1/models/credit/monitors/feature_drift";
    let change = json!({"action": "rollback", "min_decisions": 100});
    assert_eq!(app.json(Method::PUT, drift_uri, Some(&app.admin), change).await.0, StatusCode::OK);
    let evaluate = || app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null);
    let alerts = || async {
        let (_, alerts) = app.json(Method::GET, "/v1/alerts?model=credit", Some(&app.admin), Value::Null).await;
        alerts.as_array().unwrap().clone()
    };
    let age_alert = |alerts: &[Value], version: i64| {
        alerts.iter().find(|a| a["feature"] == "age" && a["version"] == version && a["state"] != "resolved").cloned()
    };

    // Ordinary traffic: the champion sees its own reference, the challenger (in shadow) a drift.
    let batch: Vec<Value> = german_rows().iter().map(|r| json!({"features": features(r)})).collect();
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(evaluate().await.0, StatusCode::OK);
    let first = alerts().await;
    let shadow_age = age_alert(&first, v2).expect("the challenger's age alert");
    assert!(first.iter().all(|a| a["version"] == v2), "only the challenger alerts: {first:?}");
    assert_eq!(shadow_age["incident_id"], Value::Null, "a shadow alert opens no incident");
    let (_, shadow_events) =
        app.json(Method::GET, &format!("/v1/alerts/{}", shadow_age["id"]), Some(&app.admin), Value::Null).await;
    let kinds: Vec<&str> =
        shadow_events["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["fired"], "no automatic action on a shadow alert: {shadow_events}");
    assert!(shadow_events["events"][0]["summary"].as_str().unwrap().contains("shadow"), "{shadow_events}");
    let (_, incidents) = app.json(Method::GET, "/v1/incidents", Some(&app.admin), Value::Null).await;
    assert_eq!(incidents, json!([]));
    let (_, champion) =
        app.json(Method::GET, "/v1/models/credit/aliases/champion", Some(&app.admin), Value::Null).await;
    assert_eq!(champion["version"], v1);

    // Older applicants arrive and tight bands make the champion breach too: its alerts are its own, and the
    // challenger's alert keeps its version and its value.
    let tight = json!({"warn": 0.001, "alert": 0.002});
    assert_eq!(app.json(Method::PUT, drift_uri, Some(&app.admin), tight).await.0, StatusCode::OK);
    let (status, body) = app
        .json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(older_applicants_batch()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(evaluate().await.0, StatusCode::OK);
    let second = alerts().await;
    let champion_age = age_alert(&second, v1).expect("the champion's age alert");
    let still_shadow = age_alert(&second, v2).expect("the challenger's alert is still open");
    assert_eq!(
        (&still_shadow["id"], &still_shadow["version"], &still_shadow["value"], &still_shadow["incident_id"]),
        (&shadow_age["id"], &json!(v2), &shadow_age["value"], &Value::Null),
        "another version's evaluation changes nothing on it: {still_shadow}"
    );
    assert_eq!(champion_age["severity"], "critical");
    let incident_id = champion_age["incident_id"].as_i64().expect("a champion's critical alert opens an incident");

    // The rollback it asked for was not possible, and says why in words.
    let (_, alert) =
        app.json(Method::GET, &format!("/v1/alerts/{}", champion_age["id"]), Some(&app.admin), Value::Null).await;
    let action = alert["events"].as_array().unwrap().iter().find(|e| e["kind"] == "action").expect("action");
    assert_eq!(action["details"]["outcome"]["result"], "not_possible", "{action}");
    assert_eq!(action["summary"], "rollback not possible: no earlier gate-approved version to roll back to");
    let (_, champion) =
        app.json(Method::GET, "/v1/models/credit/aliases/champion", Some(&app.admin), Value::Null).await;
    assert_eq!(champion["version"], v1);

    // Time to detect runs from the first decision of the breaching window, not from the window's start
    // (five minutes before the evaluation for this high-risk model).
    let fired = alert["events"].as_array().unwrap().iter().find(|e| e["kind"] == "fired").unwrap();
    let first_decision = fired["details"]["first_decision_at"].as_i64().unwrap();
    assert_eq!(fired["details"]["detect_micros"].as_i64().unwrap(), fired["at"].as_i64().unwrap() - first_decision);
    let (_, incident) =
        app.json(Method::GET, &format!("/v1/incidents/{incident_id}"), Some(&app.admin), Value::Null).await;
    assert!(incident["time_to_detect_seconds"].as_f64().unwrap() < 60.0, "{incident}");
    let (_, kpis) = app.json(Method::GET, "/v1/kpis?days=1", Some(&app.admin), Value::Null).await;
    assert!(kpis["median_drift_detection_seconds"].as_f64().unwrap() < 60.0, "{kpis}");

    // Resolved by hand: who and why are kept, and the champion's alerts are resolved with the incident.
    let rita = app.token("rita", "risk-officer").await;
    let why = "older applicants come from a new campaign; pricing reviewed";
    let resolve = format!("/v1/incidents/{incident_id}/resolve");
    let (status, resolved) = app.json(Method::POST, &resolve, Some(&rita), json!({"comment": why})).await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!((resolved["resolved_by"].as_str(), resolved["resolution"].as_str()), (Some("rita"), Some(why)));
    let (_, incident) =
        app.json(Method::GET, &format!("/v1/incidents/{incident_id}"), Some(&app.admin), Value::Null).await;
    let last = incident["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["kind"].as_str(), last["actor"].as_str()), (Some("incident_resolved"), Some("token:rita")));
    assert_eq!(last["summary"], format!("incident resolved by rita: {why}"));
    let after = alerts().await;
    let open_production: Vec<&Value> = after
        .iter()
        .filter(|a| a["state"] != "resolved" && a["version"] == v1 && a["severity"] == "critical")
        .collect();
    assert!(open_production.is_empty(), "no critical alert stays open beside a resolved incident: {open_production:?}");
    let (_, resolved_alert) =
        app.json(Method::GET, &format!("/v1/alerts/{}", champion_age["id"]), Some(&app.admin), Value::Null).await;
    let event = resolved_alert["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((event["kind"].as_str(), event["actor"].as_str()), (Some("resolved"), Some("token:rita")));
    assert_eq!(event["summary"], format!("resolved by rita with incident {incident_id}: {why}"));
    let (_, inventory) = app.json(Method::GET, "/v1/inventory", Some(&app.admin), Value::Null).await;
    assert_eq!(inventory[0]["open_incidents"], 0, "{inventory}");
    let (_, audit) = app
        .json(
            Method::GET,
            &format!("/v1/audit/events?subject=model/credit/incident/{incident_id}"),
            Some(&app.admin),
            Value::Null,
        )
        .await;
    let audited = audit.as_array().unwrap().iter().find(|e| e["action"] == "incident.resolve").expect("audited");
    assert_eq!(audited["payload"]["comment"], why);
    assert!(audited["payload"]["resolved_alerts"].as_array().unwrap().contains(&champion_age["id"]), "{audited}");

    // The breach lasts: the next round fires a new alert, which opens a new incident.
    assert_eq!(evaluate().await.0, StatusCode::OK);
    let refired = age_alert(&alerts().await, v1).expect("the lasting breach fires again");
    assert_ne!(refired["id"], champion_age["id"]);
    let reopened = refired["incident_id"].as_i64().expect("in a new incident");
    assert_ne!(reopened, incident_id);

    // The challenger leaves: its alerts resolve (saying why) and its series leave /metrics.
    let series = |version: i64| {
        format!(r#"warden_monitor_status{{model="credit",monitor="feature_drift",version="{version}"}}"#)
    };
    let metrics = app.warden.scoring().metrics_text();
    assert!(metrics.contains(&series(v1)) && metrics.contains(&series(v2)), "{metrics}");
    let (status, _) =
        app.json(Method::DELETE, "/v1/models/credit/aliases/challenger", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let metrics = app.warden.scoring().metrics_text();
    assert!(metrics.contains(&series(v1)), "{metrics}");
    assert!(!metrics.contains(&format!(r#"version="{v2}""#)), "no series of a version nothing serves: {metrics}");
    assert_eq!(evaluate().await.0, StatusCode::OK);
    let (_, gone) =
        app.json(Method::GET, &format!("/v1/alerts/{}", shadow_age["id"]), Some(&app.admin), Value::Null).await;
    assert_eq!(gone["state"], "resolved", "{gone}");
    let last = gone["events"].as_array().unwrap().last().unwrap();
    assert_eq!(last["summary"], format!("resolved: version {v2} no longer serves any alias"));
    let metrics = app.warden.scoring().metrics_text();
    assert!(!metrics.contains(&format!(r#"version="{v2}""#)), "{metrics}");
}
