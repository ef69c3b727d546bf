//! Validation, approvals, the gate and promotion over HTTP, on the German credit logistic regression.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::tests::{TestApp, german_csv, multipart};

/// The scikit-learn logistic regression's parameters (German credit, P(bad)) in Warden's linear format.
fn lr_artifact() -> Vec<u8> {
    warden_testdata::read("models/lr_german_linear.json")
}

fn metadata() -> Value {
    json!({"format": "linear-json", "target": "risk", "protected": ["sex"], "code_ref": "git:4f2a9c1",
           "training_data_sha256": "9".repeat(64), "training_data_rows": 700})
}

impl TestApp {
    /// Scores every German credit row (request ids `r0`…) through `path` and records each one's outcome
    /// (1 = bad credit): a thousand labelled decisions.
    async fn german_traffic(&self, path: &str) {
        use crate::scoring_tests::{features, german_rows};
        let rows = german_rows();
        let batch: Vec<Value> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"request_id": format!("r{i}"), "features": features(r), "attributes": {"sex": r["sex"]}}))
            .collect();
        let (status, body) = self.json(Method::POST, path, Some(&self.admin), Value::Array(batch)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let outcomes: Vec<Value> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"request_id": format!("r{i}"), "label": i64::from(r["risk"] == "0")}))
            .collect();
        let (status, body) =
            self.json(Method::POST, "/v1/outcomes", Some(&self.admin), json!({"outcomes": outcomes})).await;
        assert_eq!((status, body["recorded"].as_u64()), (StatusCode::CREATED, Some(1000)), "{body}");
    }

    async fn register_as(&self, token: &str, model: &str, metadata: Value, artifact: &[u8]) -> i64 {
        let csv = german_csv();
        let (content_type, body) = multipart(&[
            ("metadata", None, metadata.to_string().as_bytes()),
            ("artifact", Some("model.json"), artifact),
            ("reference", Some("reference.csv"), &csv),
        ]);
        let (status, body) =
            self.send(Method::POST, &format!("/v1/models/{model}/versions"), Some(token), &content_type, body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["version"].as_i64().unwrap()
    }

    async fn validate(&self, token: &str, model: &str, version: i64, data: &[u8]) -> (StatusCode, Value) {
        let metadata = json!({"target": "risk", "bad_value": "0"}).to_string();
        let (content_type, body) =
            multipart(&[("metadata", None, metadata.as_bytes()), ("data", Some("validation.csv"), data)]);
        let uri = format!("/v1/models/{model}/versions/{version}/validations");
        self.send(Method::POST, &uri, Some(token), &content_type, body).await
    }

    async fn approve(&self, token: &str, version: i64, decision: &str) -> (StatusCode, Value) {
        let uri = format!("/v1/models/credit/versions/{version}/approvals");
        self.json(Method::POST, &uri, Some(token), json!({"decision": decision, "comment": "reviewed the report"}))
            .await
    }

    async fn gate(&self, token: &str, version: i64) -> Value {
        let uri = format!("/v1/models/credit/versions/{version}/gate");
        let (status, body) = self.json(Method::POST, &uri, Some(token), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn promote(&self, token: &str, version: i64, body: Value) -> (StatusCode, Value) {
        self.json(Method::POST, &format!("/v1/models/credit/versions/{version}/promote"), Some(token), body).await
    }
}

struct People {
    dana: String,
    vera: String,
    victor: String,
    rita: String,
}

async fn people(app: &TestApp) -> People {
    People {
        dana: app.token("dana", "data-scientist").await,
        vera: app.token("vera", "validator").await,
        victor: app.token("victor", "validator").await,
        rita: app.token("rita", "risk-officer").await,
    }
}

/// A version of `credit` registered by dana, validated by vera and approved by vera, victor and rita: all a
/// high tier promotion needs.
async fn ready_for_the_gate(app: &TestApp, p: &People) -> i64 {
    let version = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    assert_eq!(app.validate(&p.vera, "credit", version, &german_csv()).await.0, StatusCode::CREATED);
    for who in [&p.vera, &p.victor, &p.rita] {
        assert_eq!(app.approve(who, version, "approve").await.0, StatusCode::CREATED);
    }
    version
}

fn denies(decision: &Value, prefix: &str) -> bool {
    decision["deny"].as_array().unwrap().iter().any(|m| m.as_str().unwrap().starts_with(prefix))
}

#[tokio::test]
async fn a_version_reaches_champion_only_through_validation_approvals_and_the_gate() {
    let app = TestApp::new().await;
    app.create_model("credit").await; // high risk: two validators and a risk officer
    let p = people(&app).await;
    let v1 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;

    // Nothing validated or approved yet: refused with every reason, and nothing moved.
    let (status, refused) = app.promote(&p.dana, v1, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "refused");
    let deny: Vec<&str> =
        refused["error"]["details"]["deny"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert!(
        deny.contains(&"no validation report: validate the version (warden validate) before promoting it"),
        "{deny:?}"
    );
    assert!(deny.contains(&"high-risk models need 2 approval(s) from the validator role; 0 given"), "{deny:?}");
    assert!(deny.contains(&"high-risk models need 1 approval(s) from the risk-officer role; 0 given"), "{deny:?}");
    let (status, _) = app.json(Method::GET, "/v1/models/credit/aliases/champion", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, report) = app.validate(&p.vera, "credit", v1, &german_csv()).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let auc = report["figures"]["discrimination"]["auc"].as_f64().unwrap();
    assert!((0.75..0.8).contains(&auc), "AUC {auc}");

    // One person counts once (a repeated approval is refused); a data scientist cannot approve at all.
    assert_eq!(app.approve(&p.vera, v1, "approve").await.0, StatusCode::CREATED);
    assert_eq!(app.approve(&p.vera, v1, "approve").await.0, StatusCode::CONFLICT);
    assert_eq!(app.approve(&p.dana, v1, "approve").await.0, StatusCode::FORBIDDEN);
    let decision = app.gate(&p.dana, v1).await;
    assert_eq!(decision["allow"], false);
    assert!(denies(&decision, "high-risk models need 2 approval(s) from the validator role; 1 given"), "{decision}");

    assert_eq!(app.approve(&p.victor, v1, "approve").await.0, StatusCode::CREATED);
    assert_eq!(app.approve(&p.rita, v1, "approve").await.0, StatusCode::CREATED);
    let decision = app.gate(&p.dana, v1).await;
    assert_eq!(decision["allow"], true, "{decision}");
    assert_eq!(decision["bundle_number"], 1);
    assert_eq!(decision["input"]["validation"]["version"], v1);
    assert_eq!(decision["input"]["approvals"].as_array().unwrap().len(), 3);

    let (status, promoted) = app.promote(&p.dana, v1, json!({"reason": "quarterly release"})).await;
    assert_eq!(status, StatusCode::OK, "{promoted}");
    assert_eq!((promoted["overridden"].as_bool(), promoted["previous_version"].is_null()), (Some(false), true));
    let (_, champion) =
        app.json(Method::GET, "/v1/models/credit/aliases/champion", Some(&app.admin), Value::Null).await;
    assert_eq!(champion["version"], v1);
    assert_eq!(champion["decision_id"], promoted["decision"]["decision_id"]);
    assert_eq!(champion["overridden"], false);

    // A rejection denies a later version; its validation shows the champion side by side.
    let v2 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    let (_, report) = app.validate(&p.vera, "credit", v2, &german_csv()).await;
    assert_eq!(report["champion"]["version"], v1);
    assert_eq!(report["champion"]["discrimination"]["auc"], report["figures"]["discrimination"]["auc"]);
    assert_eq!(app.approve(&p.victor, v2, "reject").await.0, StatusCode::CREATED);
    let decision = app.gate(&p.dana, v2).await;
    assert!(denies(&decision, "rejected by victor (validator): reviewed the report"), "{decision}");
    assert_eq!(decision["input"]["target"]["current_version"], v1);

    // Every decision is in the policy decision log with its bundle and input hash.
    let (status, log) =
        app.json(Method::GET, &format!("/v1/models/credit/versions/{v1}/gate"), Some(&p.vera), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 4, "promote refused, two checks, promote allowed");
    assert!(
        log.iter().all(
            |d| d["bundle_digest"].as_str().unwrap().len() == 64 && d["input_sha256"].as_str().unwrap().len() == 64
        )
    );
    assert_eq!(
        log.iter().map(|d| d["purpose"].as_str().unwrap()).collect::<Vec<_>>(),
        ["promote", "check", "check", "promote"]
    );
}

#[tokio::test]
async fn a_second_approval_by_the_same_person_is_refused_and_keeps_the_first_comment() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let v1 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    let uri = format!("/v1/models/credit/versions/{v1}/approvals");
    let decide = |decision: &'static str, comment: &'static str| {
        app.json(Method::POST, &uri, Some(&p.vera), json!({"decision": decision, "comment": comment}))
    };
    assert_eq!(decide("approve", "first look: fine").await.0, StatusCode::CREATED);
    let (status, body) = decide("approve", "second look").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("vera already approved credit version 1 at 20"), "{message}");
    assert!(message.contains("\"first look: fine\""), "the refusal names the earlier approval: {message}");
    let (_, approvals) = app.json(Method::GET, &uri, Some(&p.vera), Value::Null).await;
    assert_eq!(approvals.as_array().unwrap().len(), 1);
    assert_eq!(approvals[0]["comment"], "first look: fine");

    // A changed decision is a new decision with its own comment, and the one that counts.
    assert_eq!(decide("reject", "found a leak").await.0, StatusCode::CREATED);
    assert_eq!(decide("reject", "still leaking").await.0, StatusCode::CONFLICT);
    let (_, approvals) = app.json(Method::GET, &uri, Some(&p.vera), Value::Null).await;
    assert_eq!(
        (approvals[0]["decision"].as_str(), approvals[0]["comment"].as_str()),
        (Some("reject"), Some("found a leak"))
    );
}

#[tokio::test]
async fn identical_approvals_racing_record_one() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let v1 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    let uri = format!("/v1/models/credit/versions/{v1}/approvals");
    let decide = |comment: &'static str| {
        app.json(Method::POST, &uri, Some(&p.vera), json!({"decision": "approve", "comment": comment}))
    };
    // Eight at once: the store checks under its write lock, so exactly one lands whatever the interleaving.
    let results = futures_util::future::join_all((0..8).map(|_| decide("racing"))).await;
    let statuses: Vec<StatusCode> = results.iter().map(|r| r.0).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 7, "{statuses:?}");
    let records = app
        .warden
        .metadata
        .version_records(warden_store::metadata::RecordKind::Approval, "credit", Some(v1))
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "one approval stored");
}

#[tokio::test]
async fn registration_warns_of_protected_inputs_and_validation_of_in_sample_data() {
    use sha2::Digest;
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let german = german_csv();
    let training_sha = hex::encode(sha2::Sha256::digest(&german));
    let mut lineage = metadata();
    lineage["training_data_sha256"] = json!(training_sha);
    let csv = german_csv();
    let (content_type, body) = multipart(&[
        ("metadata", None, lineage.to_string().as_bytes()),
        ("artifact", Some("model.json"), &lr_artifact()),
        ("reference", Some("reference.csv"), &csv),
    ]);
    let (status, version) =
        app.send(Method::POST, "/v1/models/credit/versions", Some(&p.dana), &content_type, body).await;
    assert_eq!(status, StatusCode::CREATED, "{version}");
    // `age` is an input of the German credit models; `sex` is declared protected and is not an input.
    let warnings = version["input_warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        (warnings[0]["column"].as_str(), warnings[0]["kind"].as_str()),
        (Some("age"), Some("protected_attribute"))
    );
    let (_, shown) = app.json(Method::GET, "/v1/models/credit/versions/1", Some(&p.vera), Value::Null).await;
    assert_eq!(shown["input_warnings"], version["input_warnings"], "the warning is kept with the version");

    let (status, report) = app.validate(&p.vera, "credit", 1, &german).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let warnings = report["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{report}");
    assert!(warnings[0].as_str().unwrap().starts_with("the validation data is the training data"), "{warnings:?}");
    // Held-out rows (the last 300) are not the training data: no warning.
    let text = String::from_utf8(german).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let holdout = format!("{}\n{}\n", lines[0], lines[lines.len() - 300..].join("\n"));
    let (status, report) = app.validate(&p.vera, "credit", 1, holdout.as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["warnings"], json!([]), "{report}");
}

#[tokio::test]
async fn the_registrant_can_never_approve_their_own_version() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    // The administrator may approve in general, but not what they registered themselves.
    let version = app.register_as(&app.admin.clone(), "credit", metadata(), &lr_artifact()).await;
    let (status, body) = app.approve(&app.admin, version, "approve").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("the registrant of a version can never approve it"));
    let (_, approvals) = app
        .json(Method::GET, &format!("/v1/models/credit/versions/{version}/approvals"), Some(&app.admin), Value::Null)
        .await;
    assert_eq!(approvals, json!([]));
}

#[tokio::test]
async fn an_override_needs_an_administrator_and_a_reason_and_is_recorded_as_such() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let version = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    let (status, _) = app.promote(&p.dana, version, json!({"override": true, "reason": "urgent"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.promote(&app.admin, version, json!({"override": true})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, promoted) =
        app.promote(&app.admin, version, json!({"override": true, "reason": "INC-4711: fraud wave"})).await;
    assert_eq!(status, StatusCode::OK, "{promoted}");
    assert_eq!(promoted["overridden"], true);
    assert!(denies(&promoted["decision"], "no validation report"));
    let (_, champion) =
        app.json(Method::GET, "/v1/models/credit/aliases/champion", Some(&app.admin), Value::Null).await;
    assert_eq!(
        (champion["overridden"].as_bool(), champion["reason"].as_str()),
        (Some(true), Some("INC-4711: fraud wave"))
    );
    let (_, events) =
        app.json(Method::GET, "/v1/audit/events?subject=model/credit", Some(&app.admin), Value::Null).await;
    let promote = events.as_array().unwrap().iter().find(|e| e["action"] == "model.promote").expect("audited");
    assert_eq!(promote["payload"]["override"], true);
    assert_eq!(promote["payload"]["decision_id"], promoted["decision"]["decision_id"]);
}

#[tokio::test]
async fn policy_bundles_are_versioned_checked_and_change_the_gate() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let (status, current) = app.json(Method::GET, "/v1/policies", Some(&p.dana), Value::Null).await;
    assert_eq!((status, current["number"].as_i64()), (StatusCode::OK, Some(1)));
    let mut files: serde_json::Map<String, Value> = current["files"].as_object().unwrap().clone();

    // Only risk officers and administrators change policy.
    let (status, _) = app.json(Method::PUT, "/v1/policies", Some(&p.dana), json!({"files": files})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A syntax error is refused with its file and line; nothing changes.
    let mut broken = files.clone();
    broken.insert("gate.rego".into(), json!("package warden.gate\n\ndeny contains msg if {\n    msg := \n}\n"));
    let (status, body) = app.json(Method::PUT, "/v1/policies", Some(&p.rita), json!({"files": broken})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["file"], "gate.rego");
    assert!(body["error"]["details"]["line"].as_u64().is_some_and(|l| (4..=5).contains(&l)), "{body}");

    // A bundle whose own tests fail is refused too.
    let stricter = files["limits.json"].as_str().unwrap().replace("\"high\": 0.75", "\"high\": 0.90");
    files.insert("limits.json".into(), json!(stricter));
    let (status, body) = app.json(Method::PUT, "/v1/policies", Some(&p.rita), json!({"files": files})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["details"]["failed_tests"].as_array().is_some_and(|t| !t.is_empty()), "{body}");

    // Without the tests it goes in force as bundle 2, and the gate applies the stricter limit.
    files.remove("gate_test.rego");
    let (status, body) = app.json(Method::PUT, "/v1/policies", Some(&p.rita), json!({"files": files})).await;
    assert_eq!((status, body["number"].as_i64()), (StatusCode::CREATED, Some(2)), "{body}");
    let version = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    app.validate(&p.vera, "credit", version, &german_csv()).await;
    let decision = app.gate(&p.dana, version).await;
    assert_eq!(decision["bundle_number"], 2);
    assert!(denies(&decision, "AUC 0.7"), "{decision}");
    assert!(decision["deny"].to_string().contains("below the minimum 0.90 for a high-risk model"), "{decision}");

    let (_, history) = app.json(Method::GET, "/v1/policies/history", Some(&p.dana), Value::Null).await;
    assert_eq!(history.as_array().unwrap().len(), 2);
    let (_, events) = app.json(Method::GET, "/v1/audit/events?subject=policy", Some(&app.admin), Value::Null).await;
    assert_eq!(events.as_array().unwrap().iter().filter(|e| e["action"] == "policy.put").count(), 2);
}

#[tokio::test]
async fn a_validation_report_is_complete_and_bad_data_is_refused_with_its_line() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let version = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    let (status, report) = app.validate(&p.vera, "credit", version, &german_csv()).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let d = &report["figures"]["discrimination"];
    let (auc, lower, upper) = (
        d["auc"].as_f64().unwrap(),
        d["auc_interval"]["lower"].as_f64().unwrap(),
        d["auc_interval"]["upper"].as_f64().unwrap(),
    );
    assert!(lower < auc && auc < upper);
    assert!((d["gini"].as_f64().unwrap() - (2.0 * auc - 1.0)).abs() < 1e-12);
    assert!(d["ks"].as_f64().unwrap() > 0.2);
    assert_eq!(report["figures"]["calibration"]["reliability"].as_array().unwrap().len(), 10);
    assert!(report["fairness"]["sex"]["disparate_impact"].as_f64().unwrap() > 0.8);
    assert_eq!(report["stability"]["psi"].as_object().unwrap().len(), 8);
    // Validated on its own reference data: nothing moved.
    assert!(report["stability"]["max_feature_psi"].as_f64().unwrap() < 1e-9);
    assert!(report["stability"]["score_psi"].as_f64().unwrap() < 1e-9);
    let multivariate = &report["stability"]["multivariate"];
    let (error, reference) =
        (multivariate["reconstruction_error"].as_f64().unwrap(), multivariate["reference_error"].as_f64().unwrap());
    assert!(error > 0.0 && (error - reference).abs() < 1e-12, "the same rows, the same error: {multivariate}");
    assert!(multivariate["upper_band"].is_null(), "one chunk of the reference's size: no bands: {multivariate}");
    assert_eq!(multivariate["alert"], false);
    let shifts = report["stability"]["explanation_shift"].as_object().unwrap();
    assert_eq!(shifts.len(), 8, "{shifts:?}");
    assert!(shifts.values().all(|v| v.as_f64().unwrap() < 1e-9), "nothing decides differently: {shifts:?}");
    assert_eq!(report["explanation"].as_object().unwrap().len(), 8, "a linear model explains every feature");
    assert_eq!(report["data_quality"]["age"]["missing"], 0);

    // The reports of a version are kept, oldest first.
    let (_, listed) = app
        .json(Method::GET, &format!("/v1/models/credit/versions/{version}/validations"), Some(&p.dana), Value::Null)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], report["id"]);

    // Bad data: a missing feature column, a malformed number, a missing label, too few rows.
    let text = String::from_utf8(german_csv()).unwrap();
    let without_age = text.lines().map(|l| l.rsplit_once(',').unwrap().0.to_owned() + "\n").collect::<String>();
    let malformed = text.replacen(",67\n", ",old\n", 1);
    let unlabelled = text.replacen("\n1,male", "\n,male", 1);
    let short: String = text.lines().take(20).map(|l| format!("{l}\n")).collect();
    for (data, message) in [
        (without_age, "the data has no column 'age'"),
        (malformed, "line 2, column 'age': expected a number, found 'old'"),
        (unlabelled, "line 2, target column 'risk': the label is missing"),
        (short, "at least 50 are needed"),
    ] {
        let (status, body) = app.validate(&p.vera, "credit", version, data.as_bytes()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(message), "{message}: {body}");
    }
    let (_, listed) = app
        .json(Method::GET, &format!("/v1/models/credit/versions/{version}/validations"), Some(&p.dana), Value::Null)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "refused validations store nothing");
    // Only validators (and administrators) validate.
    assert_eq!(app.validate(&p.dana, "credit", version, &german_csv()).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn stress_scenarios_report_approval_rate_mean_pd_and_expected_loss() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let mut with_loss = metadata();
    with_loss["serving"] = json!({"lgd": 0.45, "exposure_column": "credit_amount"});
    let version = app.register_as(&p.dana, "credit", with_loss, &lr_artifact()).await;
    let validate = |file: &'static str, text: &'static str| {
        let metadata = json!({"target": "risk", "bad_value": "0"}).to_string();
        let csv = german_csv();
        let (content_type, body) = multipart(&[
            ("metadata", None, metadata.as_bytes()),
            ("data", Some("validation.csv"), &csv),
            ("scenarios", Some(file), text.as_bytes()),
        ]);
        let uri = format!("/v1/models/credit/versions/{version}/validations");
        let vera = p.vera.clone();
        let app = &app;
        async move { app.send(Method::POST, &uri, Some(&vera), &content_type, body).await }
    };
    let toml = "[[scenario]]\nname = \"unchanged\"\nchanges = [\"credit_amount *= 1\", \"duration += 0\"]\n\n\
                [[scenario]]\nname = \"double loans\"\nchanges = [\"credit_amount *= 2\"]\n";
    let (status, report) = validate("stress.toml", toml).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let scenarios = report["scenarios"].as_array().unwrap();
    let unchanged = &scenarios[0];
    for figure in ["approval_rate", "mean_pd", "expected_loss"] {
        assert_eq!(unchanged[figure]["change"], 0.0, "{figure}: {unchanged}");
    }
    assert_eq!(unchanged["approval_rate"]["baseline"], report["figures"]["approval_rate"]);
    let doubled = &scenarios[1];
    // Bigger loans raise the predicted default rate, so expected loss more than doubles.
    assert!(doubled["mean_pd"]["change"].as_f64().unwrap() > 0.0, "{doubled}");
    assert!(doubled["approval_rate"]["change"].as_f64().unwrap() < 0.0, "{doubled}");
    let loss = &doubled["expected_loss"];
    assert!(loss["stressed"].as_f64().unwrap() > 2.0 * loss["baseline"].as_f64().unwrap(), "{loss}");

    // The same scenarios in YAML give the same figures.
    let yaml = "scenario:\n  - name: unchanged\n    changes: [\"credit_amount *= 1\", \"duration += 0\"]\n  \
                - name: double loans\n    changes: [\"credit_amount *= 2\"]\n";
    let (status, again) = validate("stress.yaml", yaml).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["scenarios"], report["scenarios"]);

    // A bad scenario is refused before anything is scored or stored.
    let (status, body) = validate("bad.toml", "[[scenario]]\nname = \"x\"\nchanges = [\"salary *= 2\"]\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"].as_str().unwrap().contains("'salary' is not a feature of the model"), "{body}");
    let (_, listed) = app
        .json(Method::GET, &format!("/v1/models/credit/versions/{version}/validations"), Some(&p.dana), Value::Null)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

/// Versions 1 and 2 of `credit`, each validated, approved by three and promoted to champion in turn.
async fn release_two_versions(app: &TestApp, p: &People) {
    for _ in 0..2 {
        let version = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
        app.validate(&p.vera, "credit", version, &german_csv()).await;
        for who in [&p.vera, &p.victor, &p.rita] {
            assert_eq!(app.approve(who, version, "approve").await.0, StatusCode::CREATED);
        }
        let (status, body) = app.promote(&p.dana, version, json!({"reason": "release"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// Monitor rounds over three hours of the test's clock: each hour's evaluations are vouched for by one
/// `monitor.hour` entry hashing the stored rows, and the monitoring report cites those entries, the alert,
/// the rollback and the incident, each figure checking out offline and an edited one caught.
#[tokio::test]
async fn hourly_entries_vouch_for_the_evaluations_and_the_monitoring_report_cites_them() {
    use std::sync::atomic::Ordering::SeqCst;
    use warden_oversight::vouching;
    const HOUR: i64 = 3_600 * 1_000_000;
    let (app, clock) = crate::access_tests::app_with_clock().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    release_two_versions(&app, &p).await;
    let change = json!({"action": "rollback", "min_decisions": 100});
    let (status, body) = app.json(Method::PUT, "/v1/models/credit/monitors/feature_drift", Some(&p.rita), change).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let start = clock.load(SeqCst);
    // Round 1 (hour 0): version 2 answers older applicants only, alerts and is rolled back.
    let round = || async {
        let batch = crate::scoring_tests::older_applicants_batch();
        let (status, body) =
            app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(batch)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await.0,
            StatusCode::OK
        );
    };
    round().await;
    let hours = || async {
        let uri = "/v1/audit/events?subject=model/credit";
        let (_, events) = app.json(Method::GET, uri, Some(&app.admin), Value::Null).await;
        events.as_array().unwrap().iter().filter(|e| e["action"] == vouching::ACTION).cloned().collect::<Vec<_>>()
    };
    assert!(hours().await.is_empty(), "nothing of a past hour to vouch for yet");
    // Rounds 2 and 3 in hour 1: the first vouches for hour 0's rows, the second writes no entry.
    clock.store(start + HOUR, SeqCst);
    round().await;
    round().await;
    // Round 4 in hour 2 vouches for hour 1's two rounds.
    clock.store(start + 2 * HOUR + 1, SeqCst);
    round().await;
    let entries = hours().await;
    assert_eq!(entries.len(), 2, "one entry per model and hour: {entries:?}");
    // Each entry hashes exactly the rows stored after the one before it, read back from the store.
    let stored = app.warden.metadata.monitor_evaluations_after("credit", 0, 100_000).await.unwrap();
    let mut after = 0;
    for entry in &entries {
        let payload = &entry["payload"];
        let through = payload["through_id"].as_i64().unwrap();
        let rows: Vec<_> = stored.iter().filter(|(id, _)| *id > after && *id <= through).cloned().collect();
        assert_eq!(payload["rows"].as_u64(), Some(rows.len() as u64), "{payload}");
        let sha = warden_ledger::payload_sha256(&vouching::rows_record(&rows));
        assert_eq!(payload["rows_sha256"].as_str(), Some(sha.as_str()), "the stored rows hash as vouched");
        after = through;
    }
    let (first, second) = (&entries[0]["payload"], &entries[1]["payload"]);
    assert!(first["to"].as_i64().unwrap() < start + HOUR, "hour 0's rounds only: {first}");
    assert!(second["from"].as_i64().unwrap() >= start + HOUR && second["to"].as_i64().unwrap() < start + 2 * HOUR);
    let drift = |payload: &Value, version: i64| {
        let monitors = payload["monitors"].as_array().unwrap();
        monitors.iter().find(|m| m["monitor"] == "feature_drift" && m["version"] == version).cloned().unwrap()
    };
    assert_eq!(drift(first, 2)["alert"].as_u64(), Some(1), "{first}");
    assert_eq!(drift(second, 1)["evaluations"].as_u64(), Some(2), "{second}");

    // The report of the last day: its sections, the figures equal to the entries, checked offline.
    let principal = warden_registry::auth::Principal::system();
    let report =
        warden_proof::docs::generate(&app.warden, &principal, "credit", None, "monitoring-report", Some("last-1-days"))
            .await
            .unwrap();
    let html = &report.html;
    for section in ["results", "drift", "alerts", "incidents", "rollbacks", "findings", "outcomes", "plan"] {
        assert!(html.contains(&format!("<h2 id=\"{section}\">")), "section {section} missing");
    }
    let highest = [drift(first, 2)["max"].as_f64().unwrap()];
    let shown = format!(">{:.4}</data>", highest[0]);
    assert!(html.contains(&shown), "the highest drift of version 2 is shown: {shown}");
    assert!(html.contains("<td>model.rollback</td>"), "the rollback is listed");
    assert!(html.contains("<td>alert.fired</td>") && html.contains("<td>incident.open</td>"));
    // Hour 0: version 2's feature and score drift; hour 1: version 1's.
    assert!(html.contains("<p>4 monitor-hours warned or alerted.</p>"), "the breaches are counted");
    assert!(!html.contains("None"), "no fact is shown as None");
    // The dashboard's charts: one per monitor with values (drift, quality, integrity, revalidation), alerts
    // flagged on the feature drift chart.
    assert!(html.contains("aria-label=\"feature_drift: the last value of each hour\""), "the drift chart");
    assert!(html.matches("<svg class=\"chart").count() >= 4, "a chart per monitor with values");
    assert!(html.contains("class=\"marker alert\""), "alerts marked");
    let key = warden_proof::ledger::public_key(&app.warden);
    let checked = warden_proof::docs::verify_document(html, Some(&key));
    assert!(checked.ok, "{:?}", checked.problems);
    assert!(checked.figures > 20 && checked.entries >= 4, "{checked:?}");
    let at = html.find(&shown).unwrap();
    let tampered = format!("{}>0.0001</data>{}", &html[..at], &html[at + shown.len()..]);
    let checked = warden_proof::docs::verify_document(&tampered, Some(&key));
    assert!(!checked.ok && checked.problems[0].contains("where the vouched value shows"), "{:?}", checked.problems);
    // A period before the rounds has no results; a bad period is refused naming the forms.
    let before =
        warden_proof::docs::generate(&app.warden, &principal, "credit", None, "monitoring-report", Some("2020-01"))
            .await
            .unwrap();
    assert!(before.html.contains("No monitor warned or alerted in the period"));
    let uri = "/v1/models/credit/docs?template=monitoring-report&period=2026-13";
    let (status, body) = app.json(Method::GET, uri, Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("YYYY-QN"), "{body}");
    // The inventory's report: the same sections for each model, checked the same way.
    app.create_model("fraud").await;
    let inventory =
        warden_proof::docs::generate_inventory(&app.warden, &principal, "monitoring-report", None).await.unwrap();
    let html = &inventory.html;
    assert_eq!(inventory.file_name, "inventory-monitoring-report.html");
    assert!(html.contains("<h1>Ongoing monitoring report: the inventory</h1>"));
    for model in ["credit", "fraud"] {
        assert!(html.contains(&format!("<h2 id=\"model-{model}\" class=\"model\">")), "{model}'s section");
    }
    assert!(html.contains("<h3 id=\"credit-drift\">") && html.contains(&shown), "credit's drift, cited");
    assert!(!html.contains("<svg"), "no charts in the inventory's report");
    let checked = warden_proof::docs::verify_document(html, Some(&key));
    assert!(checked.ok && checked.inventory, "{:?}", checked.problems);
    let at = html.find(&shown).unwrap();
    let tampered = format!("{}>0.0001</data>{}", &html[..at], &html[at + shown.len()..]);
    assert!(!warden_proof::docs::verify_document(&tampered, Some(&key)).ok);
    // A figure of credit's copied into fraud's section is caught; so is a model's document claiming the
    // inventory's scope (to cite other models' entries).
    let figure = &html[html.find("<data class=\"figure\"").unwrap()..];
    let figure = &figure[..figure.find("</data>").unwrap() + "</data>".len()];
    let fraud = "<h2 id=\"model-fraud\" class=\"model\">Model fraud</h2>";
    let moved = html.replacen(fraud, &format!("{fraud}<p>{figure}</p>"), 1);
    let checked = warden_proof::docs::verify_document(&moved, Some(&key));
    assert!(
        checked.problems.iter().any(|p| p.contains("about model credit in the section of model fraud")),
        "{:?}",
        checked.problems
    );
    let format = "\"format\":\"warden-document/1\"";
    assert!(report.html.contains(format));
    let widened = report.html.replacen(format, &format!("{format},\"scope\":\"inventory\""), 1);
    let checked = warden_proof::docs::verify_document(&widened, Some(&key));
    assert!(
        !checked.ok && checked.problems[0].contains("covers the inventory, yet names a model"),
        "{:?}",
        checked.problems
    );
    let refused = warden_proof::docs::generate_inventory(&app.warden, &principal, "model-documentation", None).await;
    assert!(refused.unwrap_err().to_string().contains("written per model"));
    // The model documentation shows each monitor's last vouched result.
    let documentation =
        warden_proof::docs::generate(&app.warden, &principal, "credit", None, "model-documentation", None)
            .await
            .unwrap();
    assert!(documentation.html.contains("data-pointer=\"/monitors/"), "last results cited");
    assert!(documentation.html.contains("aria-label=\"ROC curve\""), "the validation's ROC curve is drawn");
    assert!(warden_proof::docs::verify_document(&documentation.html, Some(&key)).ok);
}

#[tokio::test]
async fn a_critical_drift_alert_rolls_the_champion_back_to_the_previous_approved_version() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    release_two_versions(&app, &p).await;
    let uri = "/v1/models/credit/monitors/feature_drift";
    let change = json!({"action": "rollback", "min_decisions": 100});
    let (status, body) = app.json(Method::PUT, uri, Some(&p.rita), change).await;
    assert_eq!((status, body["config"]["action"].as_str()), (StatusCode::OK, Some("rollback")), "{body}");
    let (status, _) = app.json(Method::PUT, uri, Some(&p.rita), json!({"action": "reboot"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Version 2 answers a stream of older applicants only.
    let batch = crate::scoring_tests::older_applicants_batch();
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["version"], 2, "{body}");
    let (status, _) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);

    let (_, champion) =
        app.json(Method::GET, "/v1/models/credit/aliases/champion", Some(&app.admin), Value::Null).await;
    assert_eq!(champion["version"], 1, "{champion}");
    assert_eq!(champion["assigned_by"], "warden");
    assert!(champion["reason"].as_str().unwrap().starts_with("automatic rollback on alert"), "{champion}");
    let (_, alerts) =
        app.json(Method::GET, "/v1/alerts?state=firing&model=credit", Some(&app.admin), Value::Null).await;
    let age_alert = alerts.as_array().unwrap().iter().find(|a| a["feature"] == "age").expect("age alert");
    let (_, alert) =
        app.json(Method::GET, &format!("/v1/alerts/{}", age_alert["id"]), Some(&app.admin), Value::Null).await;
    let action = alert["events"].as_array().unwrap().iter().find(|e| e["kind"] == "action").expect("action event");
    assert_eq!(action["details"]["outcome"], json!({"result": "rolled_back", "from": 2, "to": 1}));
    assert_eq!(action["summary"], "rolled back: champion from version 2 to version 1", "{action}");
    let (_, events) =
        app.json(Method::GET, "/v1/audit/events?subject=model/credit", Some(&app.admin), Value::Null).await;
    let rollback = events.as_array().unwrap().iter().find(|e| e["action"] == "model.rollback").expect("audited");
    assert_eq!(rollback["payload"]["alert_id"], age_alert["id"]);
    assert_eq!(rollback["actor"], "warden");

    // The drift lasts: the fallback (version 1) alerts too, but the champion never goes back to the version
    // it was rolled back from.
    let batch = crate::scoring_tests::older_applicants_batch();
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!((status, body["results"][0]["version"].as_i64()), (StatusCode::OK, Some(1)), "{body}");
    let (status, _) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let (_, champion) =
        app.json(Method::GET, "/v1/models/credit/aliases/champion", Some(&app.admin), Value::Null).await;
    assert_eq!(champion["version"], 1, "{champion}");
    let (_, events) =
        app.json(Method::GET, "/v1/audit/events?subject=model/credit", Some(&app.admin), Value::Null).await;
    let rollbacks = events.as_array().unwrap().iter().filter(|e| e["action"] == "model.rollback").count();
    assert_eq!(rollbacks, 1, "one rollback, no flip back: {events}");

    // The inventory and the KPIs tell the same story.
    let (status, inventory) = app.json(Method::GET, "/v1/inventory", Some(&p.vera), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{inventory}");
    let line = &inventory[0];
    assert_eq!(
        (line["name"].as_str(), line["champion"].as_i64(), line["versions"].as_i64()),
        (Some("credit"), Some(1), Some(2))
    );
    assert_eq!(
        (line["last_validation"]["version"].as_i64(), line["policy"]["allowed"].as_bool()),
        (Some(2), Some(true))
    );
    assert!(line["open_alerts"].as_i64().unwrap() >= 1 && line["open_incidents"] == 1, "{line}");
    let (status, kpis) = app.json(Method::GET, "/v1/kpis?days=30", Some(&p.vera), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{kpis}");
    assert_eq!(
        (kpis["deployments"].as_u64(), kpis["rollbacks"].as_u64(), kpis["promotions"].as_u64()),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!((kpis["overrides"].as_u64(), kpis["policy_adherence"].as_f64()), (Some(0), Some(1.0)));
    assert_eq!(
        (kpis["audit_coverage"].as_f64(), kpis["incidents"].as_u64(), kpis["open_incidents"].as_u64()),
        (Some(1.0), Some(1), Some(1))
    );
    assert!(kpis["median_drift_detection_seconds"].as_f64().is_some(), "{kpis}");
    assert!(kpis["median_hours_to_production"].as_f64().unwrap() >= 0.0, "{kpis}");

    // An incident is resolved by hand with a reason, once, by a role that manages monitors.
    let (_, incidents) = app.json(Method::GET, "/v1/incidents?state=open", Some(&p.rita), Value::Null).await;
    let id = incidents[0]["id"].as_i64().unwrap();
    // Each version's breach in it is a critical finding on that version, raised by Warden once.
    let (_, findings) = app.json(Method::GET, "/v1/findings?model=credit", Some(&p.rita), Value::Null).await;
    let mut breaches: Vec<(Option<i64>, Option<&str>, Option<&str>, Option<&str>)> = findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "monitoring_breach")
        .map(|f| (f["version"].as_i64(), f["severity"].as_str(), f["raised_by"].as_str(), f["description"].as_str()))
        .collect();
    breaches.sort();
    let description = format!("a critical alert opened incident {id}");
    assert_eq!(
        breaches,
        [1, 2].map(|v| (Some(v), Some("critical"), Some("warden"), Some(description.as_str()))),
        "{findings}"
    );
    let resolve = format!("/v1/incidents/{id}/resolve");
    let (status, _) = app.json(Method::POST, &resolve, Some(&p.dana), json!({"comment": "fixed"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.json(Method::POST, &resolve, Some(&p.rita), json!({"comment": " "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a reason is required");
    let (status, resolved) = app
        .json(Method::POST, &resolve, Some(&p.rita), json!({"comment": "older applicants are a new campaign"}))
        .await;
    assert_eq!((status, resolved["state"].as_str()), (StatusCode::OK, Some("resolved")), "{resolved}");
    let (status, _) = app.json(Method::POST, &resolve, Some(&p.rita), json!({"comment": "again"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, events) = app
        .json(
            Method::GET,
            &format!("/v1/audit/events?subject=model/credit/incident/{id}"),
            Some(&app.admin),
            Value::Null,
        )
        .await;
    let audited = events.as_array().unwrap().iter().find(|e| e["action"] == "incident.resolve").expect("audited");
    assert_eq!(
        (audited["actor"].as_str(), audited["payload"]["comment"].as_str()),
        (Some("token:rita"), Some("older applicants are a new campaign"))
    );

    // The monitors' history at chart resolution: every evaluation so far, at most one per slice.
    let (status, series) =
        app.json(Method::GET, "/v1/models/credit/monitors/series?days=1&points=10", Some(&p.rita), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{series}");
    let drift_points = series.as_array().unwrap().iter().filter(|p| p["monitor"] == "feature_drift").count();
    assert!((1..=11).contains(&drift_points), "{series}");
}

/// The retraining loop end to end: labelled traffic, a drift, the drift monitor's critical alert starts a
/// retraining job, whose candidate is trained on the logged features and outcomes, registered with its lineage,
/// validated on held-out requests, judged by the gate, and deployed as challenger (shadow); then the
/// champion-versus-challenger report compares both on the same requests.
#[tokio::test]
async fn a_drift_alert_retrains_a_challenger_that_is_validated_and_compared_in_shadow() {
    use crate::scoring_tests::{features, german_rows, older_applicants_batch};
    let app = TestApp::new().await;
    // Medium risk: the gate asks for AUC 0.70 (a high-risk model's 0.75 refuses this candidate, AUC 0.749 on
    // its held-out requests: then the job registers it and deploys nothing).
    let body =
        json!({"name": "credit", "owner": "retail-risk", "risk_tier": "medium", "use_case": "credit origination"});
    assert_eq!(app.json(Method::POST, "/v1/models", Some(&app.admin), body).await.0, StatusCode::CREATED);
    let p = people(&app).await;
    let v1 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    app.validate(&p.vera, "credit", v1, &german_csv()).await;
    for who in [&p.vera, &p.rita] {
        app.approve(who, v1, "approve").await;
    }
    let (status, body) = app.promote(&p.dana, v1, json!({"reason": "release"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Too little labelled traffic: a job is refused, and says why.
    let (status, job) = app.json(Method::POST, "/v1/models/credit/retrain", Some(&p.dana), json!({})).await;
    assert_eq!((status, job["status"].as_str()), (StatusCode::CREATED, Some("failed")), "{job}");
    assert!(job["error"].as_str().unwrap().contains("labelled decisions"), "{job}");
    let (status, _) = app.json(Method::POST, "/v1/models/credit/retrain", Some(&p.vera), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "validators do not register versions");

    // A thousand labelled decisions, then a drifted stream.
    app.german_traffic("/v1/models/credit/score/batch").await;
    let rows = german_rows();
    let uri = "/v1/models/credit/monitors/feature_drift";
    let (status, body) =
        app.json(Method::PUT, uri, Some(&p.rita), json!({"action": "retrain", "min_decisions": 100})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Older applicants, again and again: they outnumber the earlier traffic in the monitor's window.
    for _ in 0..5 {
        let (status, body) = app
            .json(
                Method::POST,
                "/v1/models/credit/score/batch",
                Some(&app.admin),
                Value::Array(older_applicants_batch()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);

    // The alert's action ran a job.
    let (_, jobs) = app.json(Method::GET, "/v1/models/credit/retrain", Some(&p.victor), Value::Null).await;
    let Some(job) = jobs.as_array().unwrap().iter().find(|j| j["alert_id"].is_i64()).cloned() else {
        let (_, alerts) = app.json(Method::GET, "/v1/alerts?model=credit", Some(&app.admin), Value::Null).await;
        panic!("no job started by an alert: jobs {jobs}, alerts {alerts}");
    };
    assert_eq!((job["status"].as_str(), job["requested_by"].as_str()), (Some("deployed"), Some("warden")), "{job}");
    assert_eq!((job["parent_version"].as_i64(), job["version"].as_i64()), (Some(1), Some(2)), "{job}");
    assert_eq!(job["training_rows"].as_u64().unwrap() + job["validation_rows"].as_u64().unwrap(), 1000, "{job}");
    assert!(job["validation_auc"].as_f64().unwrap() > 0.7, "{job}");
    assert!(job["gate_deny"].as_array().unwrap().iter().all(|d| d.as_str().unwrap().contains("approval(s)")), "{job}");
    let (_, alert) =
        app.json(Method::GET, &format!("/v1/alerts/{}", job["alert_id"]), Some(&app.admin), Value::Null).await;
    let action = alert["events"].as_array().unwrap().iter().find(|e| e["kind"] == "action").expect("action event");
    assert_eq!(action["details"]["outcome"]["version"], 2, "{alert}");

    // The candidate: lineage, reference = the exported training data, a validation report and a gate decision.
    let (_, v2) = app.json(Method::GET, "/v1/models/credit/versions/2", Some(&p.rita), Value::Null).await;
    assert_eq!(v2["lineage"]["parent_version"], 1, "{v2}");
    assert_eq!(v2["lineage"]["training_data_sha256"], job["training_data_sha256"], "{v2}");
    assert_eq!(v2["reference"]["sha256"], job["training_data_sha256"], "the exported data is the reference: {v2}");
    assert_eq!(v2["lineage"]["hyperparameters"]["triggered_by_alert"], job["alert_id"], "{v2}");
    let (_, reports) =
        app.json(Method::GET, "/v1/models/credit/versions/2/validations", Some(&p.rita), Value::Null).await;
    assert_eq!(reports.as_array().unwrap().len(), 1);
    let (_, gate) = app.json(Method::GET, "/v1/models/credit/versions/2/gate", Some(&p.rita), Value::Null).await;
    assert_eq!(gate.as_array().unwrap().len(), 1);
    let (_, challenger) =
        app.json(Method::GET, "/v1/models/credit/aliases/challenger", Some(&p.rita), Value::Null).await;
    assert_eq!((challenger["version"].as_i64(), challenger["assigned_by"].as_str()), (Some(2), Some("warden")));
    let (_, champion) = app.json(Method::GET, "/v1/models/credit/aliases/champion", Some(&p.rita), Value::Null).await;
    assert_eq!(champion["version"], 1, "promotion to champion still needs people");

    // Traffic now scores both; outcomes arrive; the report compares them on the same requests.
    let batch: Vec<Value> = rows
        .iter()
        .enumerate()
        .take(300)
        .map(|(i, r)| json!({"request_id": format!("s{i}"), "features": features(r), "attributes": {"sex": r["sex"]}}))
        .collect();
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["results"].as_array().unwrap().iter().all(|r| r["version"] == 1), "the champion answers");
    let outcomes: Vec<Value> = rows
        .iter()
        .enumerate()
        .take(300)
        .map(|(i, r)| json!({"request_id": format!("s{i}"), "label": i64::from(r["risk"] == "0")}))
        .collect();
    let (status, _) = app.json(Method::POST, "/v1/outcomes", Some(&app.admin), json!({"outcomes": outcomes})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, report) =
        app.json(Method::GET, "/v1/models/credit/challenger-report", Some(&p.rita), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["requests"].as_u64(), report["labelled"].as_u64()), (Some(300), Some(300)), "{report}");
    assert_eq!((report["served_versions"].clone(), report["shadow_versions"].clone()), (json!([1]), json!([2])));
    let agreement = report["agreement"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&agreement), "{report}");
    assert!(report["served_auc"].as_f64().unwrap() > 0.7 && report["shadow_auc"].as_f64().unwrap() > 0.7, "{report}");

    // The boosted-trees trainer on the same loop: an XGBoost JSON candidate whose schema carries the category
    // codes, so requests keep sending text.
    let body = json!({"trainer": "builtin-gbt", "n_estimators": 50, "max_depth": 3});
    let (status, job) = app.json(Method::POST, "/v1/models/credit/retrain", Some(&p.dana), body).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    assert_eq!((job["trainer"].as_str(), job["version"].as_i64()), (Some("builtin-gbt"), Some(3)), "{job}");
    assert!(job["validation_auc"].as_f64().unwrap() > 0.6, "{job}");
    let (_, v3) = app.json(Method::GET, "/v1/models/credit/versions/3", Some(&p.rita), Value::Null).await;
    assert_eq!(v3["format"], "xgboost-json", "{v3}");
    assert_eq!(v3["lineage"]["hyperparameters"]["max_depth"], 3, "{v3}");
    let purpose = v3["feature_schema"].as_array().unwrap().iter().find(|f| f["name"] == "purpose").unwrap().clone();
    assert_eq!(purpose["encoding"]["business"], 0.0, "{purpose}");
    let (status, _) =
        app.json(Method::POST, "/v1/models/credit/retrain", Some(&p.dana), json!({"trainer": "magic"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A challenger a person set is never replaced by a job: the candidate is registered, not deployed, and the
    // job says why.
    let (status, body) =
        app.json(Method::PUT, "/v1/models/credit/aliases/challenger", Some(&app.admin), json!({"version": 2})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, job) = app.json(Method::POST, "/v1/models/credit/retrain", Some(&p.dana), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    assert_eq!((job["status"].as_str(), job["deployed_as"].as_str()), (Some("registered"), None), "{job}");
    let log: Vec<&str> = job["log"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(log.iter().any(|l| l.contains("never replaces a challenger a person chose")), "{log:?}");
    let (_, challenger) =
        app.json(Method::GET, "/v1/models/credit/aliases/challenger", Some(&p.rita), Value::Null).await;
    assert_eq!(challenger["version"], 2, "{challenger}");
    assert_ne!(challenger["assigned_by"], "warden", "{challenger}");
}

/// An operator-configured training command: it gets the exported data at `{data}` and writes the model to
/// `{model}`; its exit code, duration and output are kept with the job, and its model is registered like any
/// other version. A failing command fails the job with its output; an unconfigured name is refused.
#[tokio::test]
async fn an_external_trainer_runs_with_the_exported_data_and_its_model_is_registered() {
    let fixture = warden_testdata::path("models/lr_german_linear.json");
    let copy = format!(
        "linear-json:head -1 {{data}} && echo rows $(($(wc -l < {{data}}) - 1)) && cp '{}' {{model}}",
        fixture.display()
    );
    let app = TestApp::with_config(|config| warden_registry::Config {
        external_trainers: vec![
            format!("copy={copy}").parse().unwrap(),
            "broken=onnx:echo out of memory >&2; test -s {data} && exit 3; echo {model}".parse().unwrap(),
        ],
        ..config
    })
    .await;
    let body = json!({"name": "credit", "owner": "retail-risk", "risk_tier": "medium", "use_case": "credit"});
    assert_eq!(app.json(Method::POST, "/v1/models", Some(&app.admin), body).await.0, StatusCode::CREATED);
    let p = people(&app).await;
    app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    // Production traffic (pinned decisions never train a model): version 1 goes live by an override.
    let override_ = json!({"override": true, "reason": "first release of the test model"});
    assert_eq!(app.promote(&app.admin, 1, override_).await.0, StatusCode::OK);
    app.german_traffic("/v1/models/credit/score/batch").await;

    let (status, job) =
        app.json(Method::POST, "/v1/models/credit/retrain", Some(&p.dana), json!({"trainer": "external:copy"})).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    assert_eq!((job["status"].as_str(), job["version"].as_i64()), (Some("deployed"), Some(2)), "{job}");
    let external = &job["external"];
    assert_eq!(external["exit_code"], 0, "{job}");
    let log = external["log"].as_str().unwrap();
    assert!(
        log.starts_with("job,credit_amount,duration,age") || log.contains("label"),
        "the header of {{data}}: {log}"
    );
    assert!(log.contains(&format!("rows {}", job["training_rows"])), "{log}");
    let (_, v2) = app.json(Method::GET, "/v1/models/credit/versions/2", Some(&p.rita), Value::Null).await;
    assert_eq!(v2["format"], "linear-json");
    assert_eq!(v2["lineage"]["hyperparameters"]["trainer"], "external:copy", "{v2}");

    // The loop's rows plus the parent's reference data. The parent is the champion, version 1, whose
    // reference data is the German credit file (1,000 rows, `risk`, 0 = bad): the reference rows only train,
    // the held-out requests stay the loop's.
    let body = json!({"trainer": "builtin-lr", "reference_bad_value": "0"});
    let (status, combined) = app.json(Method::POST, "/v1/models/credit/retrain", Some(&p.dana), body).await;
    assert_eq!(status, StatusCode::CREATED, "{combined}");
    let loop_rows = job["training_rows"].as_u64().unwrap();
    assert_eq!(combined["training_rows"].as_u64(), Some(loop_rows + 1000), "{combined}");
    assert_eq!(combined["validation_rows"], job["validation_rows"], "{combined}");
    let added = "added 1000 rows of version 1's reference data".to_owned();
    assert!(combined["log"].to_string().contains(&added), "{combined}");
    assert!(combined["validation_auc"].as_f64().unwrap() > 0.7, "{combined}");

    let (status, job) =
        app.json(Method::POST, "/v1/models/credit/retrain", Some(&p.dana), json!({"trainer": "external:broken"})).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    assert_eq!((job["status"].as_str(), job["external"]["exit_code"].as_i64()), (Some("failed"), Some(3)), "{job}");
    assert!(job["external"]["log"].as_str().unwrap().contains("out of memory"), "{job}");
    assert!(job["error"].as_str().unwrap().contains("exit code 3"), "{job}");

    let (status, job) =
        app.json(Method::POST, "/v1/models/credit/retrain", Some(&p.dana), json!({"trainer": "external:nope"})).await;
    assert_eq!((status, job["status"].as_str()), (StatusCode::CREATED, Some("failed")));
    assert!(
        job["error"].as_str().unwrap().contains("no external trainer 'nope' is configured (configured: copy, broken)"),
        "{job}"
    );
}

#[test]
fn external_trainer_settings_are_checked() {
    use warden_oversight::retraining::ExternalTrainer;
    for bad in
        ["nameonly", "x=onnx", "x=pickle:run {data} {model}", "x=onnx:run {data}", "Bad Name=onnx:run {data} {model}"]
    {
        assert!(bad.parse::<ExternalTrainer>().is_err(), "{bad}");
    }
    let ok: ExternalTrainer = "sk=onnx:python train.py --data {data} --out {model}".parse().unwrap();
    assert_eq!((ok.name.as_str(), ok.format.as_str()), ("sk", "onnx"));
}

/// A schedule runs a job per model when due, as Warden, and moves on: the next round finds nothing due.
#[tokio::test]
async fn a_retraining_schedule_runs_when_due_and_moves_on() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    let uri = "/v1/models/credit/retrain/schedule";
    let (status, none) = app.json(Method::GET, uri, Some(&p.victor), Value::Null).await;
    assert_eq!((status, none), (StatusCode::OK, Value::Null));
    let (status, _) = app.json(Method::PUT, uri, Some(&p.dana), json!({"trainer": "magic", "every_hours": 24})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.json(Method::PUT, uri, Some(&p.dana), json!({"every_hours": -1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, set) =
        app.json(Method::PUT, uri, Some(&p.dana), json!({"trainer": "builtin-gbt", "every_hours": 24})).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(
        (set["trainer"].as_str(), set["every_hours"].as_f64(), set["updated_by"].as_str()),
        (Some("builtin-gbt"), Some(24.0), Some("token:dana"))
    );

    let jobs = warden_oversight::retraining::run_due(&app.warden).await.unwrap();
    assert_eq!(jobs.len(), 1, "due at once");
    assert_eq!((jobs[0].trainer.as_str(), jobs[0].requested_by.as_str()), ("builtin-gbt", "warden"));
    assert_eq!(jobs[0].status, warden_core::JobStatus::Failed, "no labelled traffic yet: the job says so");
    let (_, after) = app.json(Method::GET, uri, Some(&p.victor), Value::Null).await;
    let moved = after["next_at"].as_i64().unwrap() - set["next_at"].as_i64().unwrap();
    assert!(moved >= 24 * 3_600_000_000, "next in a day: {after}");
    assert!(warden_oversight::retraining::run_due(&app.warden).await.unwrap().is_empty(), "nothing due twice");

    let (status, cleared) = app.json(Method::PUT, uri, Some(&p.dana), json!({"every_hours": 0})).await;
    assert_eq!((status, cleared), (StatusCode::OK, Value::Null));
    let (_, events) =
        app.json(Method::GET, "/v1/audit/events?subject=model/credit", Some(&app.admin), Value::Null).await;
    let audited = events.as_array().unwrap().iter().filter(|e| e["action"] == "model.retrain_schedule").count();
    assert_eq!(audited, 2, "set and cleared");
}

/// RFC 3339 text of a time on the test clock.
fn at(micros: i64) -> String {
    warden_core::Timestamp::from_micros(micros).to_string()
}

#[tokio::test]
async fn a_high_finding_blocks_the_gate_until_an_exception_covers_it_and_again_when_it_lapses() {
    const HOUR: i64 = 3_600 * 1_000_000;
    let (app, clock) = crate::access_tests::app_with_clock().await;
    let now = || clock.load(std::sync::atomic::Ordering::SeqCst);
    app.create_model("credit").await;
    let p = people(&app).await;
    let v1 = ready_for_the_gate(&app, &p).await;
    assert_eq!(app.gate(&p.dana, v1).await["allow"], true);

    // Raised by a validator (a data scientist may not); due in 30 days by the default bundle's data.
    let raise = json!({"version": v1, "kind": "validation", "severity": "high", "title": "unstable on recent vintages",
                       "description": "AUC 0.71 on 2026Q3 applications"});
    let (status, refused) = app.json(Method::POST, "/v1/models/credit/findings", Some(&p.dana), raise.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, finding) = app.json(Method::POST, "/v1/models/credit/findings", Some(&p.vera), raise).await;
    assert_eq!(status, StatusCode::CREATED, "{finding}");
    let id = finding["id"].as_i64().unwrap();
    assert_eq!((finding["state"].as_str(), finding["owner"].as_str()), (Some("open"), Some("retail-risk")));
    assert_eq!(finding["due_at"].as_i64().unwrap(), now() + 30 * 24 * HOUR);
    let gate = app.gate(&p.dana, v1).await;
    assert!(denies(&gate, &format!("finding {id} (validation, high) is unresolved")), "{gate}");

    // A policy exception covers it until its expiry, with a warning; then the gate denies again.
    let uri = format!("/v1/findings/{id}/except");
    let until = json!({"until": at(now() + HOUR), "reason": "remediation scheduled for the next release"});
    assert_eq!(app.json(Method::POST, &uri, Some(&p.vera), until.clone()).await.0, StatusCode::FORBIDDEN);
    let past = json!({"until": at(now() - HOUR), "reason": "r"});
    assert_eq!(app.json(Method::POST, &uri, Some(&p.rita), past).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, excepted) = app.json(Method::POST, &uri, Some(&p.rita), until).await;
    assert_eq!(status, StatusCode::OK, "{excepted}");
    let gate = app.gate(&p.dana, v1).await;
    assert_eq!(gate["allow"], true, "{gate}");
    assert!(gate["warn"].to_string().contains("covered by a policy exception"), "{gate}");
    clock.fetch_add(2 * HOUR, std::sync::atomic::Ordering::SeqCst);
    let gate = app.gate(&p.dana, v1).await;
    assert!(denies(&gate, &format!("finding {id} (validation, high) is unresolved")), "{gate}");

    // Remediation proposed by the developer, closed by a validator with evidence; the proposer may not close.
    let (status, proposed) = app
        .json(
            Method::POST,
            &format!("/v1/findings/{id}/propose"),
            Some(&p.dana),
            json!({"remediation": "retrain on 2026"}),
        )
        .await;
    assert_eq!((status, proposed["state"].as_str()), (StatusCode::OK, Some("remediation_proposed")), "{proposed}");
    assert!(denies(&app.gate(&p.dana, v1).await, &format!("finding {id}")));
    let close = json!({"evidence": "validation report 2 of version 1"});
    let (status, empty) =
        app.json(Method::POST, &format!("/v1/findings/{id}/close"), Some(&p.vera), json!({"evidence": " "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{empty}");
    let (status, closed) =
        app.json(Method::POST, &format!("/v1/findings/{id}/close"), Some(&p.vera), close.clone()).await;
    assert_eq!((status, closed["state"].as_str()), (StatusCode::OK, Some("closed")), "{closed}");
    assert_eq!(closed["closed_by"], "token:vera");
    assert_eq!(app.gate(&p.dana, v1).await["allow"], true);
    // Closing twice is a conflict, not a second record.
    assert_eq!(
        app.json(Method::POST, &format!("/v1/findings/{id}/close"), Some(&p.vera), close).await.0,
        StatusCode::CONFLICT
    );

    // Every change is an audit event carrying the finding as it then stood.
    let uri = format!("/v1/audit/events?subject=model/credit/finding/{id}");
    let (status, events) = app.json(Method::GET, &uri, Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let trail: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["payload"]["finding"]["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        trail,
        [
            ("finding.raise", "open"),
            ("finding.except", "open"),
            ("finding.propose", "remediation_proposed"),
            ("finding.close", "closed")
        ]
    );

    // The board: remediated in the period, two hours after it was raised; nothing unresolved.
    let (_, kpis) = app.json(Method::GET, "/v1/kpis?days=30", Some(&p.dana), Value::Null).await;
    let findings = &kpis["findings"];
    let row = findings["time_to_remediate"].as_array().unwrap().iter().find(|r| r["kind"] == "validation").unwrap();
    assert_eq!((row["severity"].as_str(), row["closed"].as_u64()), (Some("high"), Some(1)), "{kpis}");
    assert_eq!(row["mean_hours"].as_f64(), Some(2.0), "{row}");
    let target = findings["time_to_remediate"].as_array().unwrap().iter().find(|r| r["kind"] == "vulnerability");
    assert_eq!(target.unwrap()["target_hours"].as_f64(), Some(48.0), "{kpis}");
    assert_eq!(findings["open_by_severity"], json!({"low": 0, "medium": 0, "high": 0, "critical": 0}));
    assert_eq!((findings["overdue"].as_u64(), findings["per_model"].clone()), (Some(0), json!([])));
}

#[tokio::test]
async fn findings_keep_duties_apart_and_refuse_bad_input_whole() {
    let (app, clock) = crate::access_tests::app_with_clock().await;
    let now = clock.load(std::sync::atomic::Ordering::SeqCst);
    app.create_model("credit").await;
    // The admin registers this version: it may not raise or close a validation finding on it.
    let v1 = app.register_as(&app.admin, "credit", metadata(), &lr_artifact()).await;
    let p = people(&app).await;
    let raise = |kind: &str, severity: &str| json!({"version": v1, "kind": kind, "severity": severity, "title": "t"});
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/findings", Some(&app.admin), raise("validation", "low")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("you registered version 1"), "{body}");

    let (status, finding) =
        app.json(Method::POST, "/v1/models/credit/findings", Some(&p.vera), raise("validation", "critical")).await;
    assert_eq!(status, StatusCode::CREATED, "{finding}");
    assert_eq!(finding["due_at"].as_i64().unwrap(), now + 2 * 86_400 * 1_000_000, "critical: 2 days");
    let id = finding["id"].as_i64().unwrap();
    let close = json!({"evidence": "fixed"});
    let (status, body) =
        app.json(Method::POST, &format!("/v1/findings/{id}/close"), Some(&app.admin), close.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the registrant closes no validation finding: {body}");

    // Whoever proposed the remediation does not close it either.
    let (status, vuln) =
        app.json(Method::POST, "/v1/models/credit/findings", Some(&p.vera), raise("vulnerability", "high")).await;
    assert_eq!(status, StatusCode::CREATED, "{vuln}");
    let vuln = vuln["id"].as_i64().unwrap();
    let proposal = json!({"remediation": "upgrade openssl"});
    assert_eq!(
        app.json(Method::POST, &format!("/v1/findings/{vuln}/propose"), Some(&app.admin), proposal).await.0,
        StatusCode::OK
    );
    let (status, body) =
        app.json(Method::POST, &format!("/v1/findings/{vuln}/close"), Some(&app.admin), close.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        app.json(Method::POST, &format!("/v1/findings/{vuln}/close"), Some(&p.vera), close).await.0,
        StatusCode::OK
    );

    // Nor does the registrant raise one on the whole model, or decide on any finding of its version; nobody
    // raises a monitoring breach by hand.
    let whole = json!({"kind": "validation", "severity": "low", "title": "t"});
    assert_eq!(
        app.json(Method::POST, "/v1/models/credit/findings", Some(&app.admin), whole).await.0,
        StatusCode::FORBIDDEN
    );
    let until = json!({"until": at(now + 86_400 * 1_000_000), "reason": "r"});
    let except = format!("/v1/findings/{id}/except");
    assert_eq!(app.json(Method::POST, &except, Some(&app.admin), until).await.0, StatusCode::FORBIDDEN);
    let (status, body) =
        app.json(Method::POST, "/v1/models/credit/findings", Some(&p.vera), raise("monitoring_breach", "high")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // An exception lasts no longer than the policy's 90 days.
    let long = json!({"until": at(now + 91 * 86_400 * 1_000_000), "reason": "r"});
    let (status, body) = app.json(Method::POST, &except, Some(&p.rita), long).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("more than the policy's 90 days ahead"), "{body}");

    // Bad input names the field and stores nothing.
    for (body, field) in [
        (json!({"kind": "rumour", "severity": "high", "title": "t"}), "kind"),
        (json!({"kind": "validation", "severity": "dire", "title": "t"}), "severity"),
        (json!({"kind": "validation", "severity": "high", "title": ""}), "title"),
        (json!({"kind": "validation", "severity": "high", "title": "t", "colour": "red"}), "colour"),
    ] {
        let (status, refused) = app.json(Method::POST, "/v1/models/credit/findings", Some(&p.vera), body).await;
        assert!(status.is_client_error(), "{refused}");
        assert!(refused.to_string().contains(field), "{field}: {refused}");
    }
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/models/credit/findings",
            Some(&p.vera),
            json!({"version": 9, "kind": "validation", "severity": "high", "title": "t"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/models/absent/findings",
            Some(&p.vera),
            json!({"kind": "validation", "severity": "high", "title": "t"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = app.json(Method::GET, "/v1/findings?model=credit", Some(&p.dana), Value::Null).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let (_, open) = app.json(Method::GET, "/v1/findings?model=credit&state=open", Some(&p.dana), Value::Null).await;
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");

    // Past its due date, a finding still open is overdue.
    clock.fetch_add(3 * 86_400 * 1_000_000, std::sync::atomic::Ordering::SeqCst);
    let (_, overdue) = app.json(Method::GET, "/v1/findings?overdue=true", Some(&p.dana), Value::Null).await;
    let ids: Vec<i64> = overdue.as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [id], "{overdue}");

    // Accepted as a limitation, it is not overdue until the acceptance expires; then it may be renewed, and a
    // limitation is closed once remediated.
    const DAY: i64 = 86_400 * 1_000_000;
    let later = |days: i64| at(clock.load(std::sync::atomic::Ordering::SeqCst) + days * DAY);
    let accept = format!("/v1/findings/{id}/accept");
    let (status, accepted) =
        app.json(Method::POST, &accept, Some(&p.rita), json!({"until": later(1), "reason": "manual review"})).await;
    assert_eq!((status, accepted["state"].as_str()), (StatusCode::OK, Some("accepted")), "{accepted}");
    let (_, overdue) = app.json(Method::GET, "/v1/findings?overdue=true", Some(&p.dana), Value::Null).await;
    assert_eq!(overdue.as_array().unwrap().len(), 0, "{overdue}");
    clock.fetch_add(2 * DAY, std::sync::atomic::Ordering::SeqCst);
    let (_, overdue) = app.json(Method::GET, "/v1/findings?overdue=true", Some(&p.dana), Value::Null).await;
    assert_eq!(overdue.as_array().unwrap().len(), 1, "the acceptance expired: {overdue}");
    let renew = json!({"until": later(30), "reason": "renewed"});
    assert_eq!(app.json(Method::POST, &accept, Some(&p.rita), renew).await.0, StatusCode::OK);
    let (status, closed) =
        app.json(Method::POST, &format!("/v1/findings/{id}/close"), Some(&p.vera), json!({"evidence": "v2"})).await;
    assert_eq!((status, closed["state"].as_str()), (StatusCode::OK, Some("closed")), "{closed}");
}

/// Imports a scanner report from the test data on `version` of `credit` as `who`.
async fn import_report(app: &TestApp, who: &str, version: i64, format: &str, file: &str) -> (StatusCode, Value) {
    let uri = format!("/v1/models/credit/versions/{version}/findings/import?format={format}");
    app.send(Method::POST, &uri, Some(who), "application/json", warden_testdata::read(&format!("scans/{file}"))).await
}

#[tokio::test]
async fn scanner_reports_raise_each_vulnerability_once_close_what_a_later_scan_lacks_and_block_the_gate() {
    let (app, clock) = crate::access_tests::app_with_clock().await;
    let now = clock.load(std::sync::atomic::Ordering::SeqCst);
    app.create_model("credit").await;
    let p = people(&app).await;
    let v1 = ready_for_the_gate(&app, &p).await;
    assert_eq!(app.gate(&p.dana, v1).await["allow"], true);

    // Trivy on the Python dependencies the model was trained with: two Werkzeug CVEs, high and medium.
    let (status, import) = import_report(&app, &p.vera, v1, "trivy", "trivy-pip.json").await;
    assert_eq!(status, StatusCode::OK, "{import}");
    assert_eq!(import["scope"], "trivy:trivy:testdata/fixtures/repo/pip");
    let raised = import["raised"].as_array().unwrap();
    let shown: Vec<(&str, &str, &str)> = raised
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["severity"].as_str().unwrap(), f["scan_key"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            ("vulnerability", "high", "CVE-2019-14806 at requirements.txt: Werkzeug@0.11"),
            ("vulnerability", "medium", "CVE-2020-28724 at requirements.txt: Werkzeug@0.11"),
        ]
    );
    assert_eq!(raised[0]["due_at"].as_i64().unwrap(), now + 30 * 86_400 * 1_000_000, "high: 30 days");
    let high = raised[0]["id"].as_i64().unwrap();
    let gate = app.gate(&p.dana, v1).await;
    assert!(denies(&gate, &format!("finding {high} (vulnerability, high) is unresolved")), "{gate}");

    // The same report again raises nothing: both are still reported.
    let (status, again) = import_report(&app, &p.vera, v1, "trivy", "trivy-pip.json").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!((again["raised"].as_array().unwrap().len(), again["still_reported"].as_array().unwrap().len()), (0, 2));

    // Bandit on the scoring service, then a later scan without B108: its finding is closed as remediated, with
    // the report as the evidence; the Trivy scan's findings are another scan's and stay open.
    let (status, first) = import_report(&app, &p.vera, v1, "sarif", "bandit-mlflow-scoring-server.sarif").await;
    assert_eq!((status, first["raised"].as_array().unwrap().len()), (StatusCode::OK, 4), "{first}");
    let b108 = first["raised"].as_array().unwrap().iter().find(|f| f["title"].as_str().unwrap().contains("temp"));
    let b108 = b108.expect("bandit's B108 finding")["id"].as_i64().unwrap();
    let later = "bandit-mlflow-scoring-server-without-b108.sarif";
    assert_eq!(import_report(&app, &p.dana, v1, "sarif", later).await.0, StatusCode::FORBIDDEN, "a data scientist");
    // A version's registrant may import raising findings, but not a later scan that would close one.
    let v2 = app.register_as(&app.admin, "credit", metadata(), &lr_artifact()).await;
    let full = "bandit-mlflow-scoring-server.sarif";
    assert_eq!(import_report(&app, &app.admin, v2, "sarif", full).await.0, StatusCode::OK);
    let (status, refused) = import_report(&app, &app.admin, v2, "sarif", later).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("an import that closes findings"), "{refused}");
    let (status, second) = import_report(&app, &p.vera, v1, "sarif", later).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let closed = second["closed"].as_array().unwrap();
    assert_eq!(closed.len(), 1, "{second}");
    assert_eq!((closed[0]["id"].as_i64(), closed[0]["state"].as_str()), (Some(b108), Some("closed")));
    let evidence = closed[0]["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("absent from the Bandit 1.9.4 report")
            && evidence.contains(second["report_sha256"].as_str().unwrap()),
        "{evidence}"
    );
    let (_, open) = app.json(Method::GET, "/v1/findings?model=credit&state=open", Some(&p.vera), Value::Null).await;
    assert_eq!(open.as_array().unwrap().len(), 2 + 3 + 4, "version 1's five, version 2's four: {open}");

    // Every change is in the audit trail, the import with its report's hash.
    let (_, events) =
        app.json(Method::GET, "/v1/audit/events?subject=model/credit&limit=1000", Some(&app.admin), Value::Null).await;
    let imports: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["action"] == "finding.import").collect();
    assert_eq!(imports.len(), 5, "one event per import that landed");
    assert!(imports.iter().any(|e| e["payload"]["closed"] == json!([b108])), "{imports:?}");
}

#[tokio::test]
async fn a_scanner_report_that_is_not_what_it_claims_or_names_no_such_version_stores_nothing() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let v1 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    for (format, file, status, words) in [
        (
            "grype",
            "trivy-pip.json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "the report is not grype: \"matches\" is missing (it looks like trivy)",
        ),
        (
            "cyclonedx-vex",
            "bandit-mlflow-scoring-server.sarif",
            StatusCode::UNPROCESSABLE_ENTITY,
            "(it looks like sarif)",
        ),
        ("docx", "trivy-pip.json", StatusCode::BAD_REQUEST, "format"),
    ] {
        let (got, body) = import_report(&app, &p.vera, v1, format, file).await;
        assert_eq!(got, status, "{format} {file}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(words), "{body}");
    }
    let (got, body) = import_report(&app, &p.vera, 9, "trivy", "trivy-pip.json").await;
    assert_eq!(got, StatusCode::NOT_FOUND, "{body}");
    let uri = format!("/v1/models/credit/versions/{v1}/findings/import?format=trivy");
    let broken = br#"{"SchemaVersion": 2, "ArtifactName": "img", "Results": [{"Target": "t", "Vulnerabilities": [
        {"VulnerabilityID": "CVE-1", "PkgName": "a", "Severity": "LOW"}, {"VulnerabilityID": "CVE-2", "Severity": "HIGH"}]}]}"#;
    let (got, body) = app.send(Method::POST, &uri, Some(&p.vera), "application/json", broken.to_vec()).await;
    assert_eq!(got, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at Results[0].Vulnerabilities[1]: missing field `PkgName`")
    );
    let viewer = app.token("vic", "viewer").await;
    assert_eq!(import_report(&app, &viewer, v1, "trivy", "trivy-pip.json").await.0, StatusCode::FORBIDDEN);
    let (_, stored) = app.json(Method::GET, "/v1/findings?model=credit", Some(&app.admin), Value::Null).await;
    assert_eq!(stored, json!([]), "nothing refused was stored");
    // Two imports of one report at once: whichever comes second either finds both findings or is refused
    // whole (409); never four findings.
    let (first, second) = tokio::join!(
        import_report(&app, &p.victor, v1, "trivy", "trivy-pip.json"),
        import_report(&app, &p.vera, v1, "trivy", "trivy-pip.json")
    );
    let statuses = [first.0, second.0];
    assert!(statuses.contains(&StatusCode::OK), "{first:?} {second:?}");
    assert!(statuses.iter().all(|s| [StatusCode::OK, StatusCode::CONFLICT].contains(s)), "{first:?} {second:?}");
    let (_, stored) = app.json(Method::GET, "/v1/findings?model=credit", Some(&app.admin), Value::Null).await;
    assert_eq!(stored.as_array().unwrap().len(), 2, "{stored}");
}

/// One scoring request of the German data on `model` (a version named with `?version=N` when `pinned`).
async fn score_one(app: &TestApp, token: &str, model: &str, pinned: Option<i64>) -> (StatusCode, Value) {
    use crate::scoring_tests::{features, german_rows};
    let row = &german_rows()[0];
    let uri = match pinned {
        Some(v) => format!("/v1/models/{model}/score?version={v}"),
        None => format!("/v1/models/{model}/score"),
    };
    app.json(Method::POST, &uri, Some(token), json!({"features": features(row), "attributes": {"sex": row["sex"]}}))
        .await
}

#[tokio::test]
async fn a_retired_model_serves_ingests_and_registers_nothing_and_keeps_its_records() {
    let app = TestApp::new().await;
    let p = people(&app).await;
    let body = json!({"name": "scorecard", "owner": "cards", "risk_tier": "medium", "use_case": "limits"});
    assert_eq!(app.json(Method::POST, "/v1/models", Some(&app.admin), body).await.0, StatusCode::CREATED);
    let v1 = app.register_as(&p.dana, "scorecard", metadata(), &lr_artifact()).await;
    let promote = json!({"reason": "pilot", "override": true});
    let uri = format!("/v1/models/scorecard/versions/{v1}/promote");
    assert_eq!(app.json(Method::POST, &uri, Some(&app.admin), promote).await.0, StatusCode::OK);
    assert_eq!(score_one(&app, &app.admin, "scorecard", None).await.0, StatusCode::OK);

    // Only risk officers and admins retire, and only with a reason.
    let retire = |reason: &str| json!({"reason": reason});
    let uri = "/v1/models/scorecard/retire";
    assert_eq!(app.json(Method::POST, uri, Some(&p.dana), retire("done")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.json(Method::POST, uri, Some(&p.rita), retire("  ")).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    // Medium tier: one person retires it.
    let (status, retired) = app.json(Method::POST, uri, Some(&p.rita), retire("replaced by scorecard-2")).await;
    assert_eq!(status, StatusCode::OK, "{retired}");
    assert_eq!(retired["retirement"]["state"], "retired");
    assert_eq!(retired["retirement"]["retired_by"], "token:rita");

    // Scoring answers 410 naming the retirement, a named version too; nothing new is registered or promoted.
    let (status, refused) = score_one(&app, &app.admin, "scorecard", None).await;
    assert_eq!(status, StatusCode::GONE, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("was retired by token:rita") && message.contains("replaced by scorecard-2"), "{message}");
    assert_eq!(score_one(&app, &p.vera, "scorecard", Some(v1)).await.0, StatusCode::GONE);
    let csv = german_csv();
    let (content_type, form) = multipart(&[
        ("metadata", None, metadata().to_string().as_bytes()),
        ("artifact", Some("model.json"), &lr_artifact()),
        ("reference", Some("reference.csv"), &csv),
    ]);
    let (status, body) =
        app.send(Method::POST, "/v1/models/scorecard/versions", Some(&p.dana), &content_type, form).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    let again = json!({"reason": "again", "override": true});
    let uri = format!("/v1/models/scorecard/versions/{v1}/promote");
    assert_eq!(app.json(Method::POST, &uri, Some(&app.admin), again).await.0, StatusCode::GONE);
    let uri = "/v1/models/scorecard/retire";
    assert_eq!(app.json(Method::POST, uri, Some(&app.admin), retire("twice")).await.0, StatusCode::CONFLICT);

    // Its records stay: the champion's removal is on the alias history, the decision log and the evidence
    // bundle are there, and the inventory lists it as retired.
    let (_, history) =
        app.json(Method::GET, "/v1/models/scorecard/alias-history?alias=champion", Some(&app.admin), Value::Null).await;
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["version"].clone(), last["reason"].as_str()),
        (Value::Null, Some("retired: replaced by scorecard-2"))
    );
    let (status, decisions) =
        app.json(Method::GET, "/v1/models/scorecard/decisions", Some(&app.admin), Value::Null).await;
    assert_eq!((status, decisions.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{decisions}");
    let (status, _) = app.send(Method::GET, "/v1/models/scorecard/evidence", Some(&app.admin), "", Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let (_, inventory) = app.json(Method::GET, "/v1/inventory", Some(&p.dana), Value::Null).await;
    let line = inventory.as_array().unwrap().iter().find(|l| l["name"] == "scorecard").unwrap();
    assert!(line["retired_at"].as_i64().is_some() && line["champion"].is_null(), "{line}");
    let (_, events) = app
        .json(Method::GET, "/v1/audit/events?subject=model/scorecard&limit=100", Some(&app.admin), Value::Null)
        .await;
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.ends_with(&["model.retire", "alias.retire"]), "{actions:?}");
}

#[tokio::test]
async fn a_high_tier_model_is_retired_by_two_different_people() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let v1 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    let promote = json!({"reason": "pilot", "override": true});
    assert_eq!(app.promote(&app.admin, v1, promote).await.0, StatusCode::OK);

    let uri = "/v1/models/credit/retire";
    let (status, asked) = app.json(Method::POST, uri, Some(&p.rita), json!({"reason": "decommissioned"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{asked}");
    assert_eq!(
        (asked["retirement"]["state"].as_str(), asked["retirement"]["requested_by"].as_str()),
        (Some("requested"), Some("token:rita"))
    );
    assert_eq!(score_one(&app, &app.admin, "credit", None).await.0, StatusCode::OK, "asked for is not retired");
    // The one who asked does not confirm.
    let (status, body) = app.json(Method::POST, uri, Some(&p.rita), json!({"reason": "confirm"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("retired by a second person"), "{body}");
    let (status, done) = app.json(Method::POST, uri, Some(&app.admin), json!({"reason": "confirmed"})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let r = &done["retirement"];
    assert_eq!(
        (r["state"].as_str(), r["requested_by"].as_str(), r["retired_by"].as_str(), r["reason"].as_str()),
        (Some("retired"), Some("token:rita"), Some("token:admin"), Some("decommissioned"))
    );
    assert_eq!(score_one(&app, &app.admin, "credit", None).await.0, StatusCode::GONE);
}

#[tokio::test]
async fn an_overdue_model_raises_its_revalidation_alert_and_the_gate_denies_until_a_version_is_validated() {
    const DAY: i64 = 86_400 * 1_000_000;
    let (app, clock) = crate::access_tests::app_with_clock().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let v1 = ready_for_the_gate(&app, &p).await;
    assert_eq!(app.promote(&p.dana, v1, json!({"reason": "release"})).await.0, StatusCode::OK);
    let line =
        |inventory: &Value| inventory.as_array().unwrap().iter().find(|l| l["name"] == "credit").unwrap().clone();
    let (_, inventory) = app.json(Method::GET, "/v1/inventory", Some(&p.dana), Value::Null).await;
    let schedule = line(&inventory)["revalidation"].clone();
    let validated = schedule["last_validated_at"].as_i64().unwrap();
    assert_eq!(
        (schedule["frequency_days"].as_i64(), schedule["due_at"].as_i64()),
        (Some(365), Some(validated + 365 * DAY))
    );
    assert_eq!((schedule["overdue"].as_bool(), schedule["required"].clone()), (Some(false), Value::Null), "{schedule}");

    // A year and a day later: the revalidation monitor alerts (critical: an incident, and the breach's finding).
    clock.fetch_add(366 * DAY, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await.0, StatusCode::OK);
    let (_, alerts) = app.json(Method::GET, "/v1/alerts?state=open", Some(&p.rita), Value::Null).await;
    let alert =
        alerts.as_array().unwrap().iter().find(|a| a["monitor"] == "revalidation").expect("a revalidation alert");
    assert_eq!((alert["severity"].as_str(), alert["version"].as_i64()), (Some("critical"), Some(v1)), "{alert}");
    assert!(alert["value"].as_f64().unwrap() < 0.0, "days to due, past: {alert}");
    let (_, inventory) = app.json(Method::GET, "/v1/inventory", Some(&p.dana), Value::Null).await;
    assert_eq!(line(&inventory)["revalidation"]["overdue"], true);
    // The gate refuses to move the overdue model's versions.
    let gate = app.gate(&p.dana, v1).await;
    assert!(denies(&gate, "model credit is overdue for revalidation"), "{gate}");

    // A new version is a material change: required until validated; validating it moves the due date.
    let v2 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    let (_, inventory) = app.json(Method::GET, "/v1/inventory", Some(&p.dana), Value::Null).await;
    let required = line(&inventory)["revalidation"]["required"].clone();
    assert_eq!(required, json!(format!("version {v2} was registered after the latest validation")));
    assert_eq!(app.validate(&p.vera, "credit", v2, &german_csv()).await.0, StatusCode::CREATED);
    // Validating another version moves nothing for the one in production: still overdue.
    let (_, inventory) = app.json(Method::GET, "/v1/inventory", Some(&p.dana), Value::Null).await;
    assert_eq!(line(&inventory)["revalidation"]["overdue"], true, "{inventory}");
    // The gate judges the promoted version by its own report: the new one goes through and takes over.
    for who in [&p.vera, &p.victor, &p.rita] {
        assert_eq!(app.approve(who, v2, "approve").await.0, StatusCode::CREATED);
    }
    let gate = app.gate(&p.dana, v2).await;
    assert!(!denies(&gate, "model credit is overdue"), "{gate}");
    assert_eq!(app.promote(&p.dana, v2, json!({"reason": "revalidated"})).await.0, StatusCode::OK);
    let (_, inventory) = app.json(Method::GET, "/v1/inventory", Some(&p.dana), Value::Null).await;
    let schedule = line(&inventory)["revalidation"].clone();
    assert_eq!((schedule["overdue"].as_bool(), schedule["required"].clone()), (Some(false), Value::Null), "{schedule}");
}

#[tokio::test]
async fn attestations_open_on_schedule_are_submitted_by_the_first_line_and_reviewed_by_the_second() {
    const DAY: i64 = 86_400 * 1_000_000;
    let (app, clock) = crate::access_tests::app_with_clock().await;
    let start = clock.load(std::sync::atomic::Ordering::SeqCst);
    app.create_model("credit").await;
    let p = people(&app).await;
    let v1 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    assert_eq!(app.promote(&app.admin, v1, json!({"reason": "pilot", "override": true})).await.0, StatusCode::OK);
    let app = &app;
    let evaluate = || async { app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await };
    let list = |who: String| async move {
        app.json(Method::GET, "/v1/attestations?model=credit", Some(&who), Value::Null).await.1
    };

    // High tier: every 90 days, opened 30 days ahead: nothing yet at day 59, one at day 61 due at day 90.
    clock.store(start + 59 * DAY, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(evaluate().await.0, StatusCode::OK);
    assert_eq!(list(p.vera.clone()).await, json!([]));
    clock.store(start + 61 * DAY, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(evaluate().await.0, StatusCode::OK);
    assert_eq!(evaluate().await.0, StatusCode::OK, "a second round opens no second one");
    let opened = list(p.vera.clone()).await;
    assert_eq!(opened.as_array().unwrap().len(), 1, "{opened}");
    let id = opened[0]["id"].as_i64().unwrap();
    assert_eq!((opened[0]["state"].as_str(), opened[0]["due_at"].as_i64()), (Some("open"), Some(start + 90 * DAY)));

    // Past due it is overdue, on the board too.
    clock.store(start + 91 * DAY, std::sync::atomic::Ordering::SeqCst);
    let (_, kpis) = app.json(Method::GET, "/v1/kpis", Some(&p.rita), Value::Null).await;
    assert_eq!(
        (kpis["open_attestations"].as_u64(), kpis["overdue_attestations"].as_u64()),
        (Some(1), Some(1)),
        "{kpis}"
    );
    let (_, overdue) = app.json(Method::GET, "/v1/attestations?overdue=true", Some(&p.rita), Value::Null).await;
    assert_eq!(overdue.as_array().unwrap().len(), 1);

    // Submitted by the first line; a change needs words; reviewed by the second, never by the submitter.
    let submit = format!("/v1/attestations/{id}/submit");
    let review = format!("/v1/attestations/{id}/review");
    let changed = json!({"still_used_as_documented": false, "limitations_hold": true});
    assert_eq!(app.json(Method::POST, &submit, Some(&p.dana), changed).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.json(
            Method::POST,
            &submit,
            Some(&p.vera),
            json!({"still_used_as_documented": true, "limitations_hold": true})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let fine = json!({"still_used_as_documented": true, "limitations_hold": true, "comment": "unchanged"});
    let (status, submitted) = app.json(Method::POST, &submit, Some(&app.admin), fine.clone()).await;
    assert_eq!((status, submitted["state"].as_str()), (StatusCode::OK, Some("submitted")), "{submitted}");
    let (status, body) = app.json(Method::POST, &review, Some(&app.admin), json!({"accept": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the submitter does not review: {body}");
    assert_eq!(
        app.json(Method::POST, &review, Some(&p.vera), json!({"accept": false})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, rejected) = app
        .json(Method::POST, &review, Some(&p.vera), json!({"accept": false, "comment": "the cut-off changed in May"}))
        .await;
    assert_eq!((status, rejected["state"].as_str()), (StatusCode::OK, Some("rejected")), "{rejected}");
    let (status, _) = app
        .json(
            Method::POST,
            &submit,
            Some(&p.dana),
            json!({"still_used_as_documented": false,
        "limitations_hold": true, "comment": "cut-off moved to 0.45 in May; documentation updated"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, accepted) = app.json(Method::POST, &review, Some(&p.rita), json!({"accept": true})).await;
    assert_eq!(
        (status, accepted["state"].as_str(), accepted["reviewed_by"].as_str()),
        (StatusCode::OK, Some("accepted"), Some("token:rita"))
    );
    assert_eq!(accepted["still_used_as_documented"], false);
    assert_eq!(app.json(Method::POST, &review, Some(&p.vera), json!({"accept": true})).await.0, StatusCode::CONFLICT);
    let (_, kpis) = app.json(Method::GET, "/v1/kpis", Some(&p.rita), Value::Null).await;
    assert_eq!((kpis["open_attestations"].as_u64(), kpis["overdue_attestations"].as_u64()), (Some(0), Some(0)));

    // The next one is due 90 days after the acceptance.
    clock.store(start + 91 * DAY + 61 * DAY, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(evaluate().await.0, StatusCode::OK);
    let all = list(p.vera.clone()).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    assert_eq!((all[0]["state"].as_str(), all[0]["due_at"].as_i64()), (Some("open"), Some(start + 181 * DAY)));
    // Every change is audited with the attestation as it stood.
    let uri = format!("/v1/audit/events?subject=model/credit/attestation/{id}");
    let (_, events) = app.json(Method::GET, &uri, Some(&app.admin), Value::Null).await;
    let trail: Vec<&str> =
        events.as_array().unwrap().iter().map(|e| e["payload"]["attestation"]["state"].as_str().unwrap()).collect();
    assert_eq!(trail, ["open", "submitted", "rejected", "submitted", "accepted"]);
}

#[tokio::test]
async fn an_import_closes_only_its_own_scans_findings_and_keeps_the_duties_of_closing() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let v1 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    let app = &app;
    let import = |who: &str, target: &str, file: &str| {
        let uri = format!("/v1/models/credit/versions/{v1}/findings/import?format=sarif&target={target}");
        let who = who.to_owned();
        let file = file.to_owned();
        async move {
            app.send(
                Method::POST,
                &uri,
                Some(&who),
                "application/json",
                warden_testdata::read(&format!("scans/{file}")),
            )
            .await
        }
    };
    let (full, later) = ("bandit-mlflow-scoring-server.sarif", "bandit-mlflow-scoring-server-without-b108.sarif");
    let (status, first) = import(&p.vera, "scoring-service", full).await;
    assert_eq!((status, first["scope"].as_str()), (StatusCode::OK, Some("sarif:bandit:scoring-service")), "{first}");
    // A scan of another target closes nothing of this one's.
    let (status, other) = import(&p.vera, "batch-job", later).await;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert_eq!((other["raised"].as_array().unwrap().len(), other["closed"].as_array().unwrap().len()), (3, 0));
    // Whoever proposed a finding's remediation does not close it by importing the scan that lacks it.
    let b108 = first["raised"].as_array().unwrap().iter().find(|f| f["scan_key"].as_str().unwrap().starts_with("B108"));
    let b108 = b108.unwrap()["id"].as_i64().unwrap();
    let proposal = json!({"remediation": "use tempfile.mkdtemp"});
    assert_eq!(
        app.json(Method::POST, &format!("/v1/findings/{b108}/propose"), Some(&app.admin), proposal).await.0,
        StatusCode::OK
    );
    let (status, refused) = import(&app.admin, "scoring-service", later).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("proposed finding"), "{refused}");
    let (status, closed) = import(&p.rita, "scoring-service", later).await;
    assert_eq!((status, closed["closed"][0]["id"].as_i64()), (StatusCode::OK, Some(b108)), "{closed}");

    // A revalidation monitor only notifies: no rollback, retraining or learned bands.
    let uri = "/v1/models/credit/monitors/revalidation";
    let (status, body) =
        app.json(Method::PUT, uri, Some(&p.rita), json!({"kind": "revalidation", "action": "rollback"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// The inventory schema a risk officer puts in force in the tiering tests.
fn inventory_schema() -> Value {
    json!({"type": "object", "properties": {
        "business_line": {"enum": ["retail", "cards", "corporate"]},
        "exposure": {"type": "number", "minimum": 0},
        "eu_ai_act_high_risk": {"type": "boolean"},
        "intended_use": {"type": "string", "maxLength": 200, "x-warden-material": true}}})
}

#[tokio::test]
async fn a_models_tier_follows_its_inventory_fields_through_the_policy_and_an_override_needs_a_reason() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let p = people(&app).await;
    let v1 = ready_for_the_gate(&app, &p).await;
    assert_eq!(app.promote(&p.dana, v1, json!({"reason": "release"})).await.0, StatusCode::OK);
    // A validator tunes one monitor by hand: tier changes leave it alone.
    let (status, body) =
        app.json(Method::PUT, "/v1/models/credit/monitors/score_drift", Some(&p.vera), json!({"warn": 0.12})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let monitor = |monitors: &Value, name: &str| -> Value {
        monitors.as_array().unwrap().iter().find(|m| m["name"] == name).unwrap()["config"].clone()
    };
    let monitors = async || app.json(Method::GET, "/v1/models/credit/monitors", Some(&p.rita), Value::Null).await.1;
    let tier = async || app.json(Method::GET, "/v1/models/credit/tier", Some(&p.dana), Value::Null).await.1;
    let fields = |body: Value| json!({"set": body});
    let uri = "/v1/models/credit/fields";

    // No schema yet: nothing to validate against.
    let (status, body) = app.json(Method::PATCH, uri, Some(&p.dana), fields(json!({"exposure": 1}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("no inventory schema is in force"), "{body}");
    // Only risk officers and administrators put the schema; a schema that is not an object schema is refused.
    let put = async |who: &str, schema: Value| app.json(Method::PUT, "/v1/inventory/fields", Some(who), schema).await;
    assert_eq!(put(&p.dana, inventory_schema()).await.0, StatusCode::FORBIDDEN);
    let (status, body) = put(&p.rita, json!({"type": "object", "properties": {"a": {"type": "nonsense"}}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("not a valid JSON Schema"), "{body}");
    let (status, body) =
        put(&p.rita, json!({"type": "object", "properties": {"a": {"x-warden-material": "yes"}}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("schema.properties.a.x-warden-material"), "{body}");
    let refs =
        json!({"type": "object", "$defs": {"d": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/d"}}});
    let (status, body) = put(&p.rita, refs).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("schema.properties.a.$ref: the inventory schema may not use $ref"),
        "{body}"
    );
    let mut deep = json!({"type": "string"});
    for _ in 0..40 {
        deep = json!({"allOf": [deep]});
    }
    let (status, body) = put(&p.rita, json!({"type": "object", "properties": {"a": deep}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("nests deeper than 32 levels"), "{body}");
    let (status, body) = put(&p.rita, inventory_schema()).await;
    assert_eq!((status, body["number"].as_i64()), (StatusCode::OK, Some(1)), "{body}");
    assert_eq!(body["material"], json!(["intended_use"]));

    // Unknown fields and values outside the schema are refused naming the field; nothing is stored.
    let (status, body) = app.json(Method::PATCH, uri, Some(&p.dana), fields(json!({"legal_entity": "Bank plc"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("unknown inventory field 'legal_entity'"), "{body}");
    let bad = fields(json!({"business_line": "mortgages", "exposure": -5}));
    let (status, body) = app.json(Method::PATCH, uri, Some(&p.dana), bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let named: Vec<&str> =
        body["error"]["details"]["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(named.len(), 2, "{body}");
    assert!(named.contains(&"business_line") && named.contains(&"exposure"), "{body}");
    assert_eq!(tier().await["fields"], json!({}));
    let viewer = app.token("vic", "viewer").await;
    assert_eq!(
        app.json(Method::PATCH, uri, Some(&viewer), fields(json!({"exposure": 1}))).await.0,
        StatusCode::FORBIDDEN
    );

    // The fields say low. A data scientist's write does not lower the tier: the lower one shows beside it.
    let written = fields(json!({"business_line": "retail", "exposure": 5_000_000, "intended_use": "consumer loans"}));
    let (status, body) = app.json(Method::PATCH, uri, Some(&p.dana), written).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["tier"].as_str(), body["basis"].as_str()), (Some("high"), Some("declared")), "{body}");
    assert_eq!(body["computed"]["tier"], "low");
    assert_eq!(body["computed"]["reasons"], json!(["exposure 5000000 is below 10000000"]));
    // A risk officer applies it: the monitors on the high tier's defaults take the low tier's (the tuned one
    // stays); revalidation is every three years; the new intended use is a material change.
    let put_tier =
        async |who: &str, body: Value| app.json(Method::PUT, "/v1/models/credit/tier", Some(who), body).await;
    let (status, body) = put_tier(&p.rita, json!({"tier": null, "reason": "the exposure is small"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["tier"].as_str(), body["basis"].as_str()), (Some("low"), Some("computed")), "{body}");
    assert_eq!(
        body["reasons"],
        json!(["exposure 5000000 is below 10000000", "applied by token:rita: the exposure is small"])
    );
    let after = monitors().await;
    assert_eq!(monitor(&after, "feature_drift")["window_seconds"], 1800, "{after}");
    assert_eq!(monitor(&after, "score_drift")["window_seconds"], 300, "tuned by hand: {after}");
    let (_, inventory) = app.json(Method::GET, "/v1/inventory", Some(&p.rita), Value::Null).await;
    let line = inventory.as_array().unwrap().iter().find(|l| l["name"] == "credit").unwrap().clone();
    assert_eq!((line["risk_tier"].as_str(), line["tier_basis"].as_str()), (Some("low"), Some("computed")));
    assert_eq!(line["revalidation"]["frequency_days"], 1095);
    let required = line["revalidation"]["required"].as_str().unwrap();
    assert!(required.contains("intended_use: (none) → \"consumer loans\""), "{required}");
    let (_, events) =
        app.json(Method::GET, "/v1/audit/events?subject=model/credit", Some(&app.admin), Value::Null).await;
    let change = events.as_array().unwrap().iter().find(|e| e["action"] == "model.tier").expect("a model.tier event");
    assert_eq!((change["payload"]["from"].as_str(), change["payload"]["to"].as_str()), (Some("high"), Some("low")));
    assert!(change["payload"]["monitors_retuned"].as_array().unwrap().contains(&json!("feature_drift")), "{change}");
    assert_eq!(change["actor"], "token:rita");

    // An override needs a risk officer and a reason; it holds whatever the fields say, until it is cleared.
    let high = json!({"tier": "high", "reason": "a pilot on vulnerable customers"});
    assert_eq!(put_tier(&p.dana, high.clone()).await.0, StatusCode::FORBIDDEN);
    let (status, body) = put_tier(&p.rita, json!({"tier": "high", "reason": "  "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = put_tier(&p.rita, high).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["tier"].as_str(), body["basis"].as_str()), (Some("high"), Some("override")), "{body}");
    assert_eq!(
        (body["reasons"][0].as_str(), body["set_by"].as_str()),
        (Some("a pilot on vulnerable customers"), Some("token:rita"))
    );
    assert_eq!(monitor(&monitors().await, "feature_drift")["window_seconds"], 300);
    // The gate counts approvals by the tier in force: one validator is enough for a low tier model, not a high.
    let v2 = app.register_as(&p.dana, "credit", metadata(), &lr_artifact()).await;
    assert_eq!(app.validate(&p.vera, "credit", v2, &german_csv()).await.0, StatusCode::CREATED);
    assert_eq!(app.approve(&p.vera, v2, "approve").await.0, StatusCode::CREATED);
    let decision = app.gate(&p.dana, v2).await;
    assert!(denies(&decision, "high-risk models need 2 approval(s) from the validator role; 1 given"), "{decision}");
    let (_, body) = app.json(Method::PATCH, uri, Some(&p.dana), fields(json!({"exposure": 1}))).await;
    assert_eq!((body["tier"].as_str(), body["computed"]["tier"].as_str()), (Some("high"), Some("low")), "{body}");
    let (status, body) = put_tier(&p.rita, json!({"tier": null, "reason": "pilot over"})).await;
    assert_eq!(
        (status, body["tier"].as_str(), body["basis"].as_str()),
        (StatusCode::OK, Some("low"), Some("computed"))
    );
    let decision = app.gate(&p.dana, v2).await;
    assert!(!decision["deny"].to_string().contains("approval(s)"), "low tier: one validator suffices: {decision}");
    let (status, _) = put_tier(&p.rita, json!({"tier": null, "reason": "again"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "it follows the rules already");

    // The inventory filters by field, text and tier.
    let names = async |query: &str| -> Vec<String> {
        let (status, body) = app.json(Method::GET, &format!("/v1/inventory?{query}"), Some(&p.rita), Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names("where=business_line=retail;exposure=1").await, ["credit"]);
    assert!(names("where=business_line=cards").await.is_empty());
    assert_eq!(names("q=CONSUMER").await, ["credit"]);
    assert!(names("tier=high").await.is_empty());
    let (status, _) = app.json(Method::GET, "/v1/inventory?where=exposure", Some(&p.rita), Value::Null).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A bundle put in force re-tiers every model by its rules; one whose rules give an unknown tier is refused.
    app.json(Method::PATCH, uri, Some(&p.dana), fields(json!({"exposure": 5_000_000}))).await;
    let (_, current) = app.json(Method::GET, "/v1/policies", Some(&p.rita), Value::Null).await;
    let mut files = current["files"].as_object().unwrap().clone();
    let mut broken = files.clone();
    broken.insert("tiering.rego".into(), json!("package warden.tiering\n\ntier := \"extreme\"\n"));
    broken.remove("tiering_test.rego");
    let (status, body) = app.json(Method::PUT, "/v1/policies", Some(&p.rita), json!({"files": broken})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("unknown risk tier 'extreme'"), "{body}");
    let lower =
        files["limits.json"].as_str().unwrap().replace("\"medium_exposure\": 10000000", "\"medium_exposure\": 1000000");
    files.insert("limits.json".into(), json!(lower));
    files.remove("tiering_test.rego");
    let (status, body) = app.json(Method::PUT, "/v1/policies", Some(&p.rita), json!({"files": files})).await;
    assert_eq!((status, body["number"].as_i64()), (StatusCode::CREATED, Some(2)), "{body}");
    let now = tier().await;
    assert_eq!((now["tier"].as_str(), now["computed"]["bundle"].as_i64()), (Some("medium"), Some(2)), "{now}");
    assert_eq!(now["reasons"], json!(["exposure 5000000 is at least 1000000"]));

    // Rules that fail for the fields a write brings refuse the write (422), and store nothing.
    let mut failing = files.clone();
    let rules = failing["tiering.rego"].as_str().unwrap().to_owned();
    failing.insert("tiering.rego".into(), json!(rules + "\ntier := \"extreme\" if fields.exposure >= 1000000000000\n"));
    let (status, body) = app.json(Method::PUT, "/v1/policies", Some(&p.rita), json!({"files": failing})).await;
    assert_eq!((status, body["number"].as_i64()), (StatusCode::CREATED, Some(3)), "{body}");
    let (status, body) = app.json(Method::PATCH, uri, Some(&p.dana), fields(json!({"exposure": 2e12}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("the policy's tiering rules fail"), "{body}");
    assert_eq!(tier().await["fields"]["exposure"], 5_000_000);

    // Whoever lowered a model from the high tier does not retire it alone.
    put_tier(&p.rita, json!({"tier": "high", "reason": "back under review"})).await;
    let (status, body) = put_tier(&p.rita, json!({"tier": "low", "reason": "review closed"})).await;
    assert_eq!((status, body["tier"].as_str()), (StatusCode::OK, Some("low")), "{body}");
    let retire = json!({"reason": "replaced"});
    let (status, body) = app.json(Method::POST, "/v1/models/credit/retire", Some(&p.rita), retire.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "asked, not retired: {body}");
    let (status, body) = app.json(Method::POST, "/v1/models/credit/retire", Some(&app.admin), retire).await;
    assert_eq!(status, StatusCode::OK, "a second person confirms: {body}");
}
