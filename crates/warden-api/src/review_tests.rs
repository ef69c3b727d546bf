//! Human oversight of single decisions through the router: reviews confirm, override and reverse answered
//! decisions under the policy's reason codes and four-eyes rule, are audited and ledgered, come back with the
//! decision, feed the override-rate monitor and, where the policy says so, retraining's labels.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scoring_tests::{features, german_rows};
use crate::tests::{TestApp, german_csv};

struct Scene {
    app: TestApp,
    rob: String,
    ria: String,
    dana: String,
}

/// `credit` v1 serving as champion (by an administrator's override), 40 applicants scored with request ids
/// `req-0`… and their sex as an attribute, and two reviewers and a data scientist.
async fn scene() -> Scene {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let metadata = json!({"format": "linear-json", "target": "risk", "protected": ["sex"]});
    let artifact = warden_testdata::read("models/lr_german_linear.json");
    let (status, body) = app.register("credit", metadata, &artifact, &german_csv()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let promote = json!({"reason": "review tests", "override": true});
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/versions/1/promote", Some(&app.admin), promote).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let batch: Vec<Value> = german_rows()
        .iter()
        .take(40)
        .enumerate()
        .map(|(i, r)| json!({"request_id": format!("req-{i}"), "features": features(r), "attributes": {"sex": r["sex"]}}))
        .collect();
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rob = app.token("rob", "reviewer").await;
    let ria = app.token("ria", "reviewer").await;
    let dana = app.token("dana", "data-scientist").await;
    Scene { app, rob, ria, dana }
}

impl Scene {
    async fn review(&self, token: &str, request_id: &str, body: Value) -> (StatusCode, Value) {
        let uri = format!("/v1/decisions/{request_id}/review");
        self.app.json(Method::POST, &uri, Some(token), body).await
    }

    async fn decision(&self, request_id: &str) -> Value {
        let uri = format!("/v1/models/credit/decisions?request_id={request_id}");
        let (status, body) = self.app.json(Method::GET, &uri, Some(&self.rob), Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let answered: Vec<&Value> = body.as_array().unwrap().iter().filter(|d| d["route"] == "champion").collect();
        assert_eq!(answered.len(), 1, "{body}");
        answered[0].clone()
    }
}

fn opposite(decision: &str) -> &'static str {
    if decision == "approve" { "decline" } else { "approve" }
}

#[tokio::test]
async fn reviews_confirm_override_and_reverse_under_the_policy_and_come_back_with_the_decision() {
    let s = scene().await;
    let made = s.decision("req-0").await["decision"].as_str().unwrap().to_owned();

    // Rob confirms; he may not review his own confirmation again, Ria may, and overrides it.
    let confirm = json!({"model": "credit", "action": "confirm", "reason_code": "policy_rule", "note": "ok"});
    let (status, first) = s.review(&s.rob, "req-0", confirm.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!((first["decision_before"].as_str(), first["decision"].as_str()), (Some(&*made), Some(&*made)));
    assert_eq!(first["reviewer"], "token:rob");
    let override_refer =
        json!({"model": "credit", "action": "override", "decision": "refer", "reason_code": "affordability"});
    let (status, body) = s.review(&s.rob, "req-0", override_refer.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("somebody else"), "{body}");
    let (status, second) = s.review(&s.ria, "req-0", override_refer).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!((second["decision_before"].as_str(), second["decision"].as_str()), (Some(&*made), Some("refer")));
    // "refer" is neither of the version's decisions: it is overridden, not reversed.
    let reverse = json!({"model": "credit", "action": "reverse", "reason_code": "model_error"});
    let (status, body) = s.review(&s.rob, "req-0", reverse.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("neither of version 1's decisions"), "{body}");

    // A reversal turns a decision into the other of its version's pair.
    let other = s.decision("req-1").await["decision"].as_str().unwrap().to_owned();
    let (status, reversed) = s.review(&s.rob, "req-1", reverse.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{reversed}");
    assert_eq!(reversed["decision"], opposite(&other));

    // The decision carries its reviews, oldest first; the latest says how it stands.
    let shown = s.decision("req-0").await;
    let ids: Vec<i64> = shown["reviews"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [first["id"].as_i64().unwrap(), second["id"].as_i64().unwrap()]);
    assert_eq!(shown["decision"], made, "the log keeps the model's decision");

    // Each review is an audit event whose payload is the review, vouched for by the ledger.
    let uri = "/v1/audit/events?subject=model/credit/decision/req-0";
    let (_, events) = s.app.json(Method::GET, uri, Some(&s.app.admin), Value::Null).await;
    let events: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["action"] == "decision.review").collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().any(|e| e["actor"] == "token:ria" && e["payload"]["review"]["decision"] == "refer"));
    let (status, verified) = s.app.json(Method::POST, "/v1/ledger/verify", Some(&s.app.admin), Value::Null).await;
    assert_eq!((status, verified["ok"].as_bool()), (StatusCode::OK, Some(true)), "{verified}");
}

#[tokio::test]
async fn bad_reviews_are_refused_with_a_clear_reason_and_leave_nothing_behind() {
    let s = scene().await;
    let body = |action: &str, reason: &str| json!({"model": "credit", "action": action, "reason_code": reason});
    let cases: Vec<(&str, &str, Value, StatusCode, &str)> = vec![
        (
            "rob",
            "req-2",
            body("confirm", "gut_feeling"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not one of the policy's reason codes",
        ),
        ("rob", "no-such-request", body("confirm", "other"), StatusCode::NOT_FOUND, "no decision with request id"),
        (
            "rob",
            "req-2",
            json!({"model": "nope", "action": "confirm", "reason_code": "other"}),
            StatusCode::NOT_FOUND,
            "'nope'",
        ),
        (
            "rob",
            "req-2",
            body("override", "other"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "an override names the new decision",
        ),
        ("rob", "req-2", body("veto", "other"), StatusCode::BAD_REQUEST, "unknown variant `veto`"),
        ("dana", "req-2", body("confirm", "other"), StatusCode::FORBIDDEN, "data-scientist"),
    ];
    for (who, request_id, body, status, message) in cases {
        let token = if who == "rob" { &s.rob } else { &s.dana };
        let (got, answer) = s.review(token, request_id, body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap_or_default().contains(message), "{body}: {answer}");
    }
    // The refusal of an unknown code lists the codes allowed.
    let (_, answer) = s.review(&s.rob, "req-2", body("confirm", "gut_feeling")).await;
    assert!(answer["error"]["details"]["allowed"].as_array().is_some_and(|a| a.contains(&json!("model_error"))));
    // A decision made by a person testing a version answered nobody: it is not reviewed.
    let metadata = json!({"format": "linear-json", "target": "risk", "protected": ["sex"]});
    let artifact = warden_testdata::read("models/lr_german_linear.json");
    assert_eq!(s.app.register("credit", metadata, &artifact, &german_csv()).await.0, StatusCode::CREATED);
    let pinned = json!({"request_id": "test-1", "features": features(&german_rows()[0])});
    let (status, body2) = s.app.json(Method::POST, "/v1/models/credit/score?version=2", Some(&s.dana), pinned).await;
    assert_eq!((status, body2["route"].as_str()), (StatusCode::OK, Some("pinned")), "{body2}");
    let (status, answer) = s.review(&s.rob, "test-1", body("confirm", "other")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("answered nobody"), "{answer}");
    // Nothing was written.
    assert!(s.decision("req-2").await["reviews"].as_array().unwrap().is_empty());
    let uri = "/v1/audit/events?subject=model/credit/decision";
    let (_, events) = s.app.json(Method::GET, uri, Some(&s.app.admin), Value::Null).await;
    assert_eq!(events.as_array().map(Vec::len), Some(0), "{events}");
}

#[tokio::test]
async fn the_override_rate_monitor_counts_each_decisions_latest_review_per_segment() {
    let s = scene().await;
    let rows = german_rows();
    // 12 decisions reviewed: 3 overridden or reversed; req-0 overridden, then confirmed back by a second person
    // (it stands as the model made it, so it is not overridden).
    let mut overridden_by_sex: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for i in 0..12 {
        let request_id = format!("req-{i}");
        let made = s.decision(&request_id).await["decision"].as_str().unwrap().to_owned();
        let body = match i {
            1 | 2 => json!({"model": "credit", "action": "reverse", "reason_code": "model_error"}),
            3 => json!({"model": "credit", "action": "override", "decision": "refer", "reason_code": "affordability"}),
            _ => json!({"model": "credit", "action": "confirm", "reason_code": "other"}),
        };
        let (status, answer) = s.review(&s.rob, &request_id, body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        if i == 0 {
            let back =
                json!({"model": "credit", "action": "override", "decision": opposite(&made), "reason_code": "other"});
            let (status, answer) = s.review(&s.ria, &request_id, back).await;
            assert_eq!(status, StatusCode::CREATED, "{answer}");
            let again = json!({"model": "credit", "action": "override", "decision": made, "reason_code": "other"});
            let (status, answer) = s.review(&s.rob, &request_id, again).await;
            assert_eq!(status, StatusCode::CREATED, "{answer}");
        }
        let entry = overridden_by_sex.entry(rows[i]["sex"].clone()).or_default();
        entry.0 += 1;
        entry.1 += u64::from((1..=3).contains(&i));
    }
    let change = json!({"min_decisions": 2, "attribute": "sex"});
    let (status, monitor) =
        s.app.json(Method::PUT, "/v1/models/credit/monitors/override_rate", Some(&s.app.admin), change).await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    assert_eq!(monitor["kind"], "override_rate");
    let (status, _) = s.app.json(Method::POST, "/v1/monitors/evaluate", Some(&s.app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let uri = "/v1/models/credit/monitors/history?monitor=override_rate";
    let (_, history) = s.app.json(Method::GET, uri, Some(&s.app.admin), Value::Null).await;
    let latest = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(latest["decisions"], 12, "{latest}");
    let figures = &latest["details"]["features"];
    assert_eq!(figures["model"]["figures"]["overridden"], 3, "{latest}");
    // 3 of 12 = 0.25: beyond the high tier's alert band (0.20).
    assert_eq!((figures["model"]["value"].as_f64(), figures["model"]["status"].as_str()), (Some(0.25), Some("alert")));
    let mut worst = 0.25f64;
    for (sex, (reviewed, overridden)) in overridden_by_sex {
        let segment = &figures[format!("sex={sex}")];
        let counts = (segment["figures"]["reviewed"].as_u64(), segment["figures"]["overridden"].as_u64());
        assert_eq!(counts, (Some(reviewed), Some(overridden)), "sex={sex}: {latest}");
        assert_eq!(segment["value"].as_f64(), Some(overridden as f64 / reviewed as f64));
        worst = worst.max(overridden as f64 / reviewed as f64);
    }
    // The headline is the worst segment's, as for every monitor with keys.
    assert_eq!((latest["value"].as_f64(), latest["status"].as_str()), (Some(worst), Some("alert")), "{latest}");
    let (_, alerts) = s.app.json(Method::GET, "/v1/alerts?model=credit", Some(&s.app.admin), Value::Null).await;
    assert!(alerts.as_array().unwrap().iter().any(|a| a["monitor"] == "override_rate"), "{alerts}");

    // Bands are static: a learned band or a count window is refused.
    let learned = json!({"learned": {"k": 3}});
    let (status, body) =
        s.app.json(Method::PUT, "/v1/models/credit/monitors/override_rate", Some(&s.app.admin), learned).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn reviews_are_labels_only_where_the_policy_says_so() {
    let s = scene().await;
    for (i, action) in [(0, "reverse"), (1, "confirm"), (2, "reverse")] {
        let body = json!({"model": "credit", "action": action, "reason_code": "other"});
        let (status, answer) = s.review(&s.rob, &format!("req-{i}"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let override_refer = json!({"model": "credit", "action": "override", "decision": "refer", "reason_code": "other"});
    assert_eq!(s.review(&s.rob, "req-3", override_refer).await.0, StatusCode::CREATED);
    // req-2 has an outcome: the outcome is its label, not the review.
    let outcome = json!({"outcomes": [{"request_id": "req-2", "label": 1}]});
    let (status, body) = s.app.json(Method::POST, "/v1/outcomes", Some(&s.app.admin), outcome).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let warden = &s.app.warden;
    let off = warden_oversight::reviews::training_rows(warden, "credit", i64::MIN, 1000).await.unwrap();
    assert!(off.is_empty(), "off by default");

    let (_, current) = s.app.json(Method::GET, "/v1/policies", Some(&s.app.admin), Value::Null).await;
    let mut files = current["files"].as_object().unwrap().clone();
    let limits = files["limits.json"]
        .as_str()
        .unwrap()
        .replace("\"labels_from_reviews\": false", "\"labels_from_reviews\": true");
    files.insert("limits.json".into(), json!(limits));
    let (status, body) = s.app.json(Method::PUT, "/v1/policies", Some(&s.app.admin), json!({"files": files})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rows = warden_oversight::reviews::training_rows(warden, "credit", i64::MIN, 1000).await.unwrap();
    let labels: Vec<(&str, bool)> = rows.iter().map(|r| (r.request_id.as_str(), r.label)).collect();
    // The version declines at or above its threshold (the event); a reversal flips the model's decision, and
    // "refer" is neither decision, so req-3 is left out.
    let declined_0 = s.decision("req-0").await["decision"] == "decline";
    let declined_1 = s.decision("req-1").await["decision"] == "decline";
    assert_eq!(labels, [("req-0", !declined_0), ("req-1", declined_1)]);
}
