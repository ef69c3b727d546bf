//! Controls that must hold whoever calls: production traffic is answered only by versions the gate let into a
//! production alias; taking a model out of production needs the authority to promote and a reason; an
//! artifact that cannot score its own reference data is refused; free text is bounded and printable.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::tests::{TestApp, german_csv};

const LINEAR: &[u8] = br#"{"intercept": -0.5, "coefficients": {"duration": 0.02, "credit_amount": 0.0001}}"#;

fn metadata() -> Value {
    json!({"format": "linear-json", "target": "risk", "protected": ["sex"]})
}

fn applicant(i: usize) -> Value {
    json!({"request_id": format!("applicant-{i}"), "features": {"duration": 12 + i % 30, "credit_amount": 1000 + 7 * i,
        "job": 2, "age": 30, "housing": "own", "saving_accounts": "little", "checking_account": "little",
        "purpose": "car"}, "attributes": {"sex": "female"}})
}

impl TestApp {
    async fn version(&self) -> i64 {
        let (status, body) = self.register("credit", metadata(), LINEAR, &german_csv()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["version"].as_i64().unwrap()
    }

    /// Moves a production alias by an administrator's override (the gate's own tests are elsewhere).
    async fn production(&self, alias: &str, version: i64, traffic: Option<f64>) {
        let body = json!({"alias": alias, "traffic": traffic, "override": true, "reason": "control test"});
        let uri = format!("/v1/models/credit/versions/{version}/promote");
        let (status, body) = self.json(Method::POST, &uri, Some(&self.admin), body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// For every route that can answer a scoring request and every way of naming a version, a scorer is
/// answered only by the champion or the canary, each of which came through the gate into its alias; a
/// person testing may name another version, and that decision is marked `pinned` and counts nowhere.
#[tokio::test]
async fn production_traffic_is_answered_only_by_versions_the_gate_let_into_the_alias() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let (v1, v2, v3, v4) = (app.version().await, app.version().await, app.version().await, app.version().await);
    app.production("champion", v1, None).await;
    app.production("canary", v2, Some(0.5)).await;
    let (status, body) =
        app.json(Method::PUT, "/v1/models/credit/aliases/challenger", Some(&app.admin), json!({"version": v3})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let scorer = app.token("checkout", "scorer").await;
    let tester = app.token("dana", "data-scientist").await;

    let pins: [Option<&str>; 7] =
        [None, Some("1"), Some("2"), Some("3"), Some("4"), Some("challenger"), Some("champion")];
    let mut i = 0;
    for pin in pins {
        for batch in [false, true] {
            i += 1;
            let path = if batch { "/v1/models/credit/score/batch" } else { "/v1/models/credit/score" };
            let uri = match pin {
                Some(p) => format!("{path}?version={p}"),
                None => path.to_owned(),
            };
            let body = if batch { json!([applicant(i), applicant(i + 1000)]) } else { applicant(i) };
            let (status, answer) = app.json(Method::POST, &uri, Some(&scorer), body).await;
            let answers: Vec<Value> =
                if batch { answer["results"].as_array().cloned().unwrap_or_default() } else { vec![answer.clone()] };
            let production = matches!(pin, None | Some("1") | Some("2") | Some("champion"));
            if production {
                assert_eq!(status, StatusCode::OK, "{uri}: {answer}");
                for a in &answers {
                    let (version, route) = (a["version"].as_i64().unwrap(), a["route"].as_str().unwrap());
                    assert!(
                        (version == v1 && route == "champion") || (version == v2 && route == "canary"),
                        "{uri}: a scorer was answered by version {version} on route {route}"
                    );
                }
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {answer}");
                assert!(answer["error"]["message"].as_str().unwrap().contains("not serving a production alias"));
            }
            // A person testing may name any version; a non-production one is marked pinned (new request ids:
            // an id names one decision).
            let body = if batch { json!([applicant(i + 2000), applicant(i + 3000)]) } else { applicant(i + 2000) };
            let (status, answer) = app.json(Method::POST, &uri, Some(&tester), body).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {answer}");
            let first = if batch { answer["results"][0].clone() } else { answer };
            if !production {
                assert_eq!(first["route"], "pinned", "{uri}: {first}");
            }
        }
    }
    // A validator scores only a version it names, and is always answered as a person testing.
    let validator = app.token("vera", "validator").await;
    let (status, answer) = app.json(Method::POST, "/v1/models/credit/score", Some(&validator), applicant(900)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let uri = "/v1/models/credit/score?version=champion";
    let (status, answer) = app.json(Method::POST, uri, Some(&validator), applicant(901)).await;
    assert_eq!((status, answer["route"].as_str()), (StatusCode::OK, Some("pinned")), "{answer}");
    // Pinned decisions are logged, marked, and kept out of the live windows production monitors read.
    let (_, log) = app.json(Method::GET, "/v1/models/credit/decisions?limit=1000", Some(&app.admin), Value::Null).await;
    let pinned: Vec<&Value> = log.as_array().unwrap().iter().filter(|d| d["route"] == "pinned").collect();
    assert!(
        pinned.iter().all(|d| d["version"] == v3 || d["version"] == v4 || d["request_id"] == "applicant-901"),
        "{pinned:?}"
    );
    assert!(pinned.iter().any(|d| d["version"] == v4));
    let (_, live) = app.json(Method::GET, "/v1/models/credit/live", Some(&app.admin), Value::Null).await;
    let v4_live = live.as_array().unwrap().iter().find(|p| p["version"] == v4);
    assert!(v4_live.is_none_or(|p| p["profile"]["decisions"] == 0), "pinned traffic counted as live: {v4_live:?}");
}

#[tokio::test]
async fn taking_a_model_out_of_production_needs_the_authority_to_promote_and_a_reason() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let v1 = app.version().await;
    app.production("champion", v1, None).await;
    let dana = app.token("dana", "data-scientist").await;
    let vera = app.token("vera", "validator").await;

    let uri = "/v1/models/credit/aliases/champion";
    let (status, body) = app.json(Method::DELETE, uri, Some(&dana), Value::Null).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no reason: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("needs a reason"), "{body}");
    let (status, _) = app.json(Method::DELETE, &format!("{uri}?reason=INC-7"), Some(&vera), Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.json(Method::POST, "/v1/models/credit/score", Some(&app.admin), applicant(1)).await;
    assert_eq!(status, StatusCode::OK, "still in production after refused removals");

    let (status, body) =
        app.json(Method::DELETE, &format!("{uri}?reason=INC-7%20bias%20finding"), Some(&dana), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.json(Method::POST, "/v1/models/credit/score", Some(&app.admin), applicant(2)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'credit' has no version in production") && message.contains("INC-7 bias finding"),
        "{message}"
    );
    let (_, events) = app
        .json(Method::GET, "/v1/audit/events?subject=model/credit/alias/champion", Some(&app.admin), Value::Null)
        .await;
    let withdrawal = events.as_array().unwrap().iter().find(|e| e["action"] == "model.withdraw");
    let withdrawal = withdrawal.unwrap_or_else(|| panic!("no model.withdraw event: {events}"));
    assert_eq!(withdrawal["payload"]["reason"], "INC-7 bias finding", "{withdrawal}");
    assert_eq!(withdrawal["actor"], "token:dana");

    // A non-production alias is removed as before, a reason optional.
    let (status, _) =
        app.json(Method::PUT, "/v1/models/credit/aliases/staging", Some(&dana), json!({"version": v1})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.json(Method::DELETE, "/v1/models/credit/aliases/staging", Some(&dana), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_artifact_that_cannot_score_its_reference_data_finitely_is_refused() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    // Each term overflows to infinity; their sum is NaN (and a margin of ±inf would be as bad for reasons).
    let overflowing = br#"{"intercept": 0, "coefficients": {"duration": 1e308, "credit_amount": -1e308}}"#;
    let (status, body) = app.register("credit", metadata(), overflowing, &german_csv()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("row 1 of the reference data") && message.contains("finite"), "{message}");
    let (_, versions) = app.json(Method::GET, "/v1/models/credit/versions", Some(&app.admin), Value::Null).await;
    assert_eq!(versions.as_array().unwrap().len(), 0, "{versions}");
}

#[tokio::test]
async fn free_text_is_bounded_and_free_of_control_characters() {
    let app = TestApp::new().await;
    let model = |owner: Value, description: Value, tags: Value| {
        json!({"name": "credit", "owner": owner, "risk_tier": "high", "use_case": "credit",
               "description": description, "tags": tags})
    };
    let cases = [
        (model(json!("x".repeat(900_000)), json!(""), json!([])), "owner is 900000 characters; the limit is 256"),
        (model(json!("risk"), json!(""), json!(vec!["t"; 50_000])), "at most 32 tags"),
        (model(json!("risk\u{1b}[31m"), json!(""), json!([])), "owner holds the control character U+001B"),
        (model(json!("risk"), json!("a\u{7}b"), json!([])), "description holds the control character U+0007"),
        (model(json!("risk"), json!(""), json!(["ok", "bad\ttag"])), "a tag holds the control character U+0009"),
    ];
    for (body, expected) in cases {
        let (status, answer) = app.json(Method::POST, "/v1/models", Some(&app.admin), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
    // A description may hold several lines.
    let (status, answer) = app
        .json(Method::POST, "/v1/models", Some(&app.admin), model(json!("risk"), json!("one\ntwo"), json!([])))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    // Outcomes: amounts are bounded and finite.
    let outcome = json!({"outcomes": [{"request_id": "r1", "label": 1, "kind": "default", "amount": -1e308}]});
    let (status, answer) = app.json(Method::POST, "/v1/outcomes", Some(&app.admin), outcome).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer.to_string().contains("must be a number from 0 to 1e15"), "{answer}");
}

/// JSON bodies: nesting deeper than serde_json's limit (128), non-finite numbers and control characters are
/// refused with a clear status on every JSON route tried, never a crash.
#[tokio::test]
async fn hostile_json_bodies_are_refused_with_a_clear_status() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let v1 = app.version().await;
    app.production("champion", v1, None).await;
    let deep = format!("{{\"features\": {}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let huge_number = r#"{"features": {"duration": 1e999, "credit_amount": 1}}"#.to_owned();
    let nan_token = r#"{"features": {"duration": NaN, "credit_amount": 1}}"#.to_owned();
    for (route, body) in [
        ("/v1/models/credit/score", deep.clone()),
        ("/v1/models/credit/score/batch", format!("[{deep}]")),
        ("/v1/outcomes", format!("{{\"outcomes\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000))),
        ("/v1/models", deep.clone()),
        ("/v1/models/credit/score", huge_number),
        ("/v1/models/credit/score", nan_token),
    ] {
        let started = std::time::Instant::now();
        let (status, answer) =
            app.send(Method::POST, route, Some(&app.admin), "application/json", body.into_bytes()).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{route}: {status} {answer}"
        );
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{route}: {answer}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{route}: {:?}", started.elapsed());
    }
    // A control character in a feature's text is refused by the schema (categories are known values).
    let mut request = applicant(1);
    request["features"]["housing"] = json!("own\u{1b}[2J");
    let (status, answer) = app.json(Method::POST, "/v1/models/credit/score", Some(&app.admin), request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
}

/// A request id names one decision: a second request with an id already scored for the model is refused
/// (409), alone or in a batch, and nothing of it is logged.
#[tokio::test]
async fn a_request_id_already_scored_is_refused_with_409() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let v1 = app.version().await;
    app.production("champion", v1, None).await;
    let first = applicant(7);
    let (status, body) = app.json(Method::POST, "/v1/models/credit/score", Some(&app.admin), first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.json(Method::POST, "/v1/models/credit/score", Some(&app.admin), first.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("'applicant-7' was already scored"), "{body}");
    let batch = json!([applicant(8), first]);
    let (status, body) = app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), batch).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, log) = app.json(Method::GET, "/v1/models/credit/decisions?limit=100", Some(&app.admin), Value::Null).await;
    let ids: Vec<&str> = log.as_array().unwrap().iter().map(|d| d["request_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["applicant-7"], "only the first request was logged");
}
