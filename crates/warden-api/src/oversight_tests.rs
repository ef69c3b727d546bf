//! Human oversight through the router. Reviews confirm, override and reverse answered decisions under the
//! policy's reason codes and its rule that a second person reviews what another's review set, are audited and
//! ledgered, come back with the decision, feed the override-rate monitor and, where the policy says so,
//! retraining's labels. The stop switch suspends a model: its fallback answers, marked in the log, until it is
//! resumed, by a person or by a monitor's action.

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

    /// The decision logged for `request_id` on `route`.
    async fn decision_on(&self, request_id: &str, route: &str) -> Value {
        let uri = format!("/v1/models/credit/decisions?request_id={request_id}");
        let (status, body) = self.app.json(Method::GET, &uri, Some(&self.rob), Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_array().unwrap().iter().find(|d| d["route"] == route).cloned().unwrap_or_else(|| panic!("{body}"))
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
    // A malformed review setting is refused when the bundle is put, naming it; nothing changes.
    let mut broken = files.clone();
    let bad = files["limits.json"].as_str().unwrap().replace("\"self_review\": false", "\"self_review\": \"no\"");
    broken.insert("limits.json".into(), json!(bad));
    let (status, body) = s.app.json(Method::PUT, "/v1/policies", Some(&s.app.admin), json!({"files": broken})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("review.self_review must be true or false"), "{body}");
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

async fn suspend(s: &Scene, token: &str, body: Value) -> (StatusCode, Value) {
    s.app.json(Method::POST, "/v1/models/credit/suspend", Some(token), body).await
}

/// Decisions in the champion's live window.
async fn live_decisions(s: &Scene) -> Option<u64> {
    let (_, live) = s.app.json(Method::GET, "/v1/models/credit/live", Some(&s.app.admin), Value::Null).await;
    live[0]["profile"]["decisions"].as_u64()
}

async fn score_one(s: &Scene, request_id: &str) -> Value {
    let body =
        json!({"request_id": request_id, "features": features(&german_rows()[100]), "attributes": {"sex": "male"}});
    let (status, answer) = s.app.json(Method::POST, "/v1/models/credit/score", Some(&s.app.admin), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test]
async fn a_suspended_model_answers_its_fallback_marked_in_the_log_until_it_is_resumed() {
    let s = scene().await;
    let rita = s.app.token("rita", "risk-officer").await;
    let folded = live_decisions(&s).await;
    assert_eq!(folded, Some(40), "the scene's decisions are in the live window");

    // Only risk officers and administrators hold the switch; a reason is required.
    let refer = json!({"reason": "affordability rule breach under investigation", "fallback": "refer"});
    assert_eq!(suspend(&s, &s.dana, refer.clone()).await.0, StatusCode::FORBIDDEN);
    let (status, body) = suspend(&s, &rita, json!({"reason": " ", "fallback": "refer"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, state) = suspend(&s, &rita, refer.clone()).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!((state["suspended"].as_bool(), state["fallback"].as_str()), (Some(true), Some("refer")));
    let (status, body) = suspend(&s, &rita, refer.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("suspended already, by token:rita"), "{body}");

    // Production traffic gets the fallback, with no score, logged on route `fallback`, in no live window.
    let answer = score_one(&s, "while-suspended").await;
    assert_eq!((answer["route"].as_str(), answer["decision"].as_str()), (Some("fallback"), Some("refer")), "{answer}");
    assert!(answer["score"].is_null(), "{answer}");
    let logged = s.decision_on("while-suspended", "fallback").await;
    assert_eq!((logged["version"].as_i64(), logged["score"].is_null()), (Some(1), true), "{logged}");
    assert_eq!(live_decisions(&s).await, folded, "a fallback is not the model's traffic");
    // What a business application reads before sending says the fallback answers, and whose schema checks.
    let (status, schema) =
        s.app.json(Method::GET, "/v1/models/credit/score/schema", Some(&s.app.admin), Value::Null).await;
    assert_eq!(
        (status, schema["route"].as_str(), schema["version"].as_i64()),
        (StatusCode::OK, Some("fallback"), Some(1)),
        "{schema}"
    );

    // Declining instead answers the champion's adverse decision.
    let (status, _) =
        s.app.json(Method::POST, "/v1/models/credit/resume", Some(&rita), json!({"reason": "switch fallback"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = suspend(&s, &rita, json!({"reason": "decline all", "fallback": "decline"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(score_one(&s, "declined").await["decision"], "decline");

    // Resumed, the champion answers again; both acts are audited with their reasons.
    let (status, state) = s
        .app
        .json(Method::POST, "/v1/models/credit/resume", Some(&rita), json!({"reason": "fixed in release 12"}))
        .await;
    assert_eq!((status, state["suspended"].as_bool()), (StatusCode::OK, Some(false)), "{state}");
    let (status, body) =
        s.app.json(Method::POST, "/v1/models/credit/resume", Some(&rita), json!({"reason": "again"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(score_one(&s, "after").await["route"], "champion");
    let (_, events) =
        s.app.json(Method::GET, "/v1/audit/events?subject=model/credit", Some(&s.app.admin), Value::Null).await;
    let acts: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["subject"] == "model/credit" && ["model.suspend", "model.resume"].contains(&e["action"].as_str().unwrap())
        })
        .map(|e| (e["action"].as_str().unwrap(), e["payload"]["suspension"]["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        acts,
        [
            ("model.suspend", "affordability rule breach under investigation"),
            ("model.resume", "switch fallback"),
            ("model.suspend", "decline all"),
            ("model.resume", "fixed in release 12")
        ]
    );
}

#[tokio::test]
async fn a_version_fallback_must_have_passed_the_gate_and_then_scores_instead() {
    let s = scene().await;
    // Version 1 went in by an override: it never passed the gate, so it is no fallback.
    let metadata = json!({"format": "linear-json", "target": "risk", "protected": ["sex"]});
    let artifact = warden_testdata::read("models/lr_german_linear.json");
    assert_eq!(s.app.register("credit", metadata.clone(), &artifact, &german_csv()).await.0, StatusCode::CREATED);
    // A bundle whose gate allows everything (and has no warn rules): versions 2 and 3 go in through it.
    let (_, current) = s.app.json(Method::GET, "/v1/policies", Some(&s.app.admin), Value::Null).await;
    let mut files = current["files"].as_object().unwrap().clone();
    files.insert("gate.rego".into(), json!("package warden.gate\n\ndeny contains \"never\" if false\n"));
    files.remove("gate_test.rego");
    let (status, body) = s.app.json(Method::PUT, "/v1/policies", Some(&s.app.admin), json!({"files": files})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(s.app.register("credit", metadata, &artifact, &german_csv()).await.0, StatusCode::CREATED);
    for version in [2, 3] {
        let uri = format!("/v1/models/credit/versions/{version}/promote");
        let (status, body) = s.app.json(Method::POST, &uri, Some(&s.app.admin), json!({"reason": "gated"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let version = |n: i64| json!({"reason": "r", "fallback": "version", "fallback_version": n});
    for (body, message) in [
        (version(1), "never let into the champion alias by the gate"),
        (version(3), "is the champion being suspended"),
        (json!({"reason": "r", "fallback": "version"}), "names the version that answers"),
        (json!({"reason": "r", "fallback": "refer", "fallback_version": 2}), "scores with no version"),
    ] {
        let (status, answer) = suspend(&s, &s.app.admin, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(message), "{body}: {answer}");
    }
    let (_, state) = s.app.json(Method::GET, "/v1/models/credit/suspension", Some(&s.rob), Value::Null).await;
    assert_eq!(state["suspended"], false, "nothing was written: {state}");
    let (status, state) = suspend(&s, &s.app.admin, version(2)).await;
    assert_eq!((status, state["fallback_version"].as_i64()), (StatusCode::OK, Some(2)), "{state}");
    let answer = score_one(&s, "fallback-scored").await;
    assert_eq!((answer["route"].as_str(), answer["version"].as_i64()), (Some("fallback"), Some(2)), "{answer}");
    assert!(answer["score"].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)), "{answer}");
    assert_eq!(s.decision_on("fallback-scored", "fallback").await["version"], 2);
}

#[tokio::test]
async fn a_monitor_whose_action_is_suspend_stops_the_model_on_a_critical_alert() {
    let s = scene().await;
    drift(&s, json!({"action": "suspend", "min_decisions": 100})).await;
    let (_, state) = s.app.json(Method::GET, "/v1/models/credit/suspension", Some(&s.app.admin), Value::Null).await;
    assert_eq!((state["suspended"].as_bool(), state["fallback"].as_str()), (Some(true), Some("refer")), "{state}");
    assert!(state["reason"].as_str().unwrap().starts_with("automatic suspend on alert"), "{state}");
    assert_eq!(score_one(&s, "after-the-alert").await["route"], "fallback");
}

#[tokio::test]
async fn a_review_written_against_a_stale_state_is_refused_whole() {
    let s = scene().await;
    let body = json!({"model": "credit", "action": "confirm", "reason_code": "other"});
    let (status, first) = s.review(&s.rob, "req-5", body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // A second review that read the decision before the first was written: the compare and set refuses it.
    let stale = warden_store::metadata::DecisionReviewRow {
        id: 0,
        model_name: "credit".into(),
        version: 1,
        request_id: "req-5".into(),
        decision_at: first["decision_at"]
            .as_str()
            .and_then(|t| warden_core::Timestamp::parse(t).ok())
            .unwrap()
            .micros(),
        at: 0,
        reviewer: "token:ria".into(),
        action: "override".into(),
        decision_before: first["decision"].as_str().unwrap().into(),
        decision: "refer".into(),
        reason_code: "other".into(),
        note: String::new(),
    };
    let event = warden_store::metadata::AuditEventDraft {
        at: 0,
        actor: "token:ria".into(),
        action: "decision.review".into(),
        subject: "model/credit/decision/req-5".into(),
        payload: json!({}),
    };
    let refused = s.app.warden.metadata.append_decision_review(&stale, None, event).await.unwrap_err();
    assert!(matches!(refused, warden_store::Error::Conflict(_)), "{refused}");
    assert_eq!(s.decision("req-5").await["reviews"].as_array().unwrap().len(), 1, "nothing written");
}

/// `credit`'s feature-drift monitor changed by `change`, then its champion drifts (the reference's older
/// applicants only) and a round runs: a critical alert.
async fn drift(s: &Scene, change: Value) {
    let (status, body) =
        s.app.json(Method::PUT, "/v1/models/credit/monitors/feature_drift", Some(&s.app.admin), change).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let batch = Value::Array(crate::scoring_tests::older_applicants_batch());
    let (status, body) = s.app.json(Method::POST, "/v1/models/credit/score/batch", Some(&s.app.admin), batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = s.app.json(Method::POST, "/v1/monitors/evaluate", Some(&s.app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
}

/// `credit`'s champion drifts: a critical feature-drift alert opens an incident; its id.
async fn incident(s: &Scene) -> i64 {
    drift(s, json!({"min_decisions": 100})).await;
    let (_, incidents) = s.app.json(Method::GET, "/v1/incidents", Some(&s.app.admin), Value::Null).await;
    incidents[0]["id"].as_i64().unwrap_or_else(|| panic!("an incident: {incidents}"))
}

/// The time `hours` ago (the test app runs on the real clock).
fn ago(hours: i64) -> String {
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    crate::wire::timestamp(micros - hours * 3_600_000_000)
}

#[tokio::test]
async fn a_classified_incident_runs_the_regulators_clocks_and_records_its_reports() {
    let s = scene().await;
    let id = incident(&s).await;
    let rita = s.app.token("rita", "risk-officer").await;
    let classify = |body: Value| {
        let (app, rita) = (&s.app, rita.clone());
        async move { app.json(Method::POST, &format!("/v1/incidents/{id}/classify"), Some(&rita), body).await }
    };
    // A classification has a time, not in the future; only an internal one has a severity.
    for (body, message) in [
        (json!({"framework": "dora"}), "a classification has a time"),
        (json!({"framework": "dora", "classified_at": ago(-2)}), "cannot start in the future"),
        (json!({"framework": "dora", "classified_at": ago(3), "aware_at": ago(1)}), "after the firm became aware"),
        (json!({"framework": "internal", "classified_at": ago(1), "aware_at": ago(2)}), "names the firm's severity"),
        (
            json!({"framework": "dora", "classified_at": ago(1), "aware_at": ago(2), "ground": "death"}),
            "only an AI Act classification",
        ),
    ] {
        let (status, answer) = classify(body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(message), "{body}: {answer}");
    }
    let (status, answer) =
        s.app.json(Method::GET, &format!("/v1/incidents/{id}/clocks"), Some(&s.rob), Value::Null).await;
    assert_eq!(
        (status, answer["owed"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0)),
        "nothing written: {answer}"
    );
    let dora = |kind: &'static str| {
        let (app, rob) = (&s.app, s.rob.clone());
        async move {
            app.json(Method::GET, &format!("/v1/incidents/{id}/dora-report?kind={kind}"), Some(&rob), Value::Null).await
        }
    };
    let (status, answer) = dora("initial").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("not classified as a DORA"), "{answer}");

    // DORA: aware 2 h ago, classified 1 h ago: the initial notification is due in 3 h (4 h after classifying).
    let (status, clocks) = classify(json!({"framework": "dora", "classified_at": ago(1), "aware_at": ago(2)})).await;
    assert_eq!(status, StatusCode::OK, "{clocks}");
    let owed = clocks["owed"].as_array().unwrap();
    let kinds: Vec<&str> = owed.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["initial", "intermediate", "final"]);
    let left = owed[0]["seconds_left"].as_i64().unwrap();
    assert!((3 * 3600 - 60..=3 * 3600).contains(&left), "{left}");
    assert_eq!(owed[0]["stage"], "running");

    // The initial notification is submitted: recorded once, and the intermediate clock runs from it.
    let initial = json!({"framework": "dora", "kind": "initial", "reference": "DORA-2026-0042"});
    let uri = format!("/v1/incidents/{id}/reports");
    let (status, clocks) = s.app.json(Method::POST, &uri, Some(&rita), initial.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{clocks}");
    assert_eq!(clocks["owed"][0]["stage"], "submitted");
    let submitted = warden_core::Timestamp::parse(clocks["owed"][0]["submitted_at"].as_str().unwrap()).unwrap();
    let intermediate = warden_core::Timestamp::parse(clocks["owed"][1]["due_at"].as_str().unwrap()).unwrap();
    assert_eq!(intermediate.micros() - submitted.micros(), 72 * 3_600_000_000);
    let (status, body) = s.app.json(Method::POST, &uri, Some(&rita), initial).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The intermediate report's content: the initial notification's fields and its own, the authority's
    // reference from the report recorded, the decisions of the affected period counted; what only the firm
    // knows is listed for it to complete. A kind DORA does not owe, or one that does not exist, is refused.
    let (status, report) = dora("intermediate").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let titles: Vec<&str> =
        report["sections"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
    assert_eq!(titles[1..], ["Initial notification", "Intermediate report"]);
    let field = |key: &str| {
        let fields = report["sections"].as_array().unwrap().iter().flat_map(|s| s["fields"].as_array().unwrap());
        fields.into_iter().find(|f| f["key"] == key).unwrap_or_else(|| panic!("{key}: {report}")).clone()
    };
    assert_eq!(field("incident_reference_code_provided_by_the_competent_authority")["value"], "DORA-2026-0042");
    assert_eq!(field("date_and_time_of_classification")["source"], "classification");
    let transactions = field("number_of_affected_transactions");
    assert!(transactions["value"].as_i64().unwrap() > 0, "{transactions}");
    assert_eq!(transactions["source"], "decision_log");
    let to_complete: Vec<&str> =
        report["to_complete"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert!(to_complete.contains(&"name_of_the_entity_submitting_the_report"), "{to_complete:?}");
    assert!(!to_complete.contains(&"number_of_affected_transactions"), "{to_complete:?}");
    assert_eq!(dora("report").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(dora("annual").await.0, StatusCode::BAD_REQUEST);
    let ai_act = json!({"framework": "ai_act", "kind": "report", "reference": "r"});
    let (status, body) = s.app.json(Method::POST, &uri, Some(&rita), ai_act).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("owes no ai_act report"), "{body}");

    // AI Act, critical infrastructure, aware 3 days ago: 2 days, overdue. The round reminds once.
    let (status, clocks) = classify(json!({"framework": "ai_act", "classified_at": ago(60), "aware_at": ago(72),
        "ground": "widespread_or_critical_infrastructure"}))
    .await;
    assert_eq!(status, StatusCode::OK, "{clocks}");
    let report = clocks["owed"].as_array().unwrap().iter().find(|o| o["framework"] == "ai_act").unwrap().clone();
    assert_eq!(
        (report["stage"].as_str(), report["seconds_left"].as_i64().map(|s| s < 0)),
        (Some("overdue"), Some(true))
    );
    let now = s.app.warden.now();
    assert_eq!(warden_oversight::clocks::remind(&s.app.warden, now).await.unwrap(), 1, "the AI Act report");
    assert_eq!(warden_oversight::clocks::remind(&s.app.warden, now).await.unwrap(), 0, "once");
    let (_, events) = s
        .app
        .json(Method::GET, &format!("/v1/audit/events?subject=incident/{id}"), Some(&s.app.admin), Value::Null)
        .await;
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["incident.classify", "incident.report", "incident.classify", "incident.report_overdue"]);
}
