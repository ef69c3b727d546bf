//! Decisions made outside Warden: versions registered as external, their decisions ingested over HTTP, the
//! alias history deciding the route, unapproved serving raising its alert, and bad batches refused whole.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scoring_tests::{features, german_rows, older_applicants_batch};
use crate::tests::{TestApp, german_csv};
use warden_registry::external::ExternalModel;

const LINEAR: &str = "models/lr_german_linear.json";

fn descriptor(platform: &str) -> Vec<u8> {
    ExternalModel { score_column: "pd".into(), platform: Some(platform.into()), endpoint: None, vendor: None }
        .to_bytes()
}

fn metadata(format: &str) -> Value {
    json!({"format": format, "target": "risk", "protected": ["sex"],
        "serving": {"lgd": 0.45, "exposure_column": "credit_amount"}})
}

/// The German credit reference data with a `pd` column: the linear model's score of each row, as the platform
/// serving it would report them.
fn reference_with_scores(scores: &[f64]) -> Vec<u8> {
    let text = String::from_utf8(german_csv()).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        out.push_str(line);
        match i {
            0 => out.push_str(",pd"),
            _ => out.push_str(&format!(",{}", scores[i - 1])),
        }
        out.push('\n');
    }
    out.into_bytes()
}

impl TestApp {
    async fn register_version_ok(&self, model: &str, metadata: Value, artifact: &[u8], reference: &[u8]) -> i64 {
        let (status, body) = self.register(model, metadata, artifact, reference).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["version"].as_i64().unwrap()
    }

    /// Moves a production alias by an administrator's override (these tests are about ingestion, not the gate).
    async fn override_alias(&self, model: &str, version: i64, alias: &str) {
        let uri = format!("/v1/models/{model}/versions/{version}/promote");
        let body = json!({"alias": alias, "override": true, "reason": "ingestion test"});
        let (status, body) = self.json(Method::POST, &uri, Some(&self.admin), body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn ingest(&self, model: &str, token: &str, rows: &[Value]) -> (StatusCode, Value) {
        let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
        let uri = format!("/v1/models/{model}/decisions");
        self.send(Method::POST, &uri, Some(token), "application/x-ndjson", body.into_bytes()).await
    }

    fn now_text(&self) -> String {
        warden_core::Timestamp::from(self.warden.now()).to_string()
    }

    /// The linear model's scores of the reference rows, through the serving path's own checks.
    async fn linear_reference_scores(&self, model: &str, version: i64) -> Vec<f64> {
        let v = warden_registry::registry::get_version(
            &self.warden,
            &warden_registry::auth::Principal::system(),
            model,
            &version.to_string(),
        )
        .await
        .unwrap();
        let linear = v.format.load(&warden_testdata::read(LINEAR)).unwrap();
        german_rows()
            .iter()
            .map(|r| {
                let request = warden_registry::binding::ScoreRequest { features: features(r), ..Default::default() };
                warden_registry::binding::check_and_score(&linear, &v.feature_schema, request).unwrap()
            })
            .collect()
    }
}

/// The same decisions scored by Warden and made elsewhere give the same value for every monitor: one decision
/// log, one set of windows.
#[tokio::test]
async fn ingested_decisions_give_every_monitor_the_values_of_the_same_decisions_scored() {
    let app = TestApp::new().await;
    app.create_model("scored").await;
    let scored =
        app.register_version_ok("scored", metadata("linear-json"), &warden_testdata::read(LINEAR), &german_csv()).await;
    app.override_alias("scored", scored, "champion").await;
    let scores = app.linear_reference_scores("scored", scored).await;
    app.create_model("vendor").await;
    let external = app
        .register_version_ok("vendor", metadata("external"), &descriptor("kserve"), &reference_with_scores(&scores))
        .await;
    app.override_alias("vendor", external, "champion").await;

    // The drifted stream (applicants over 40), scored by Warden, then the same decisions sent by the platform.
    let older = older_applicants_batch();
    let rows = german_rows();
    let older_rows: Vec<&HashMap<String, String>> =
        rows.iter().filter(|r| r["age"].parse::<f64>().unwrap() > 40.0).collect();
    assert_eq!(older.len(), older_rows.len());
    let batch: Vec<Value> = older_rows
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"request_id": format!("s-{i}"), "features": features(r), "attributes": {"sex": r["sex"]}}))
        .collect();
    let (status, body) =
        app.json(Method::POST, "/v1/models/scored/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let platform = app.token("kserve-prod", "scorer").await;
    let at = app.now_text();
    let decisions: Vec<Value> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&older_rows)
        .enumerate()
        .map(|(i, (result, r))| {
            json!({"request_id": format!("e-{i}"), "version": external, "at": at, "features": features(r),
                "attributes": {"sex": r["sex"]}, "score": result["score"]})
        })
        .collect();
    let (status, body) = app.ingest("vendor", &platform, &decisions).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"logged": decisions.len(), "duplicates": 0, "unapproved": 0}));

    // Outcomes arrive for the first 150 of each, the same way.
    for prefix in ["s", "e"] {
        let outcomes: Vec<Value> = older_rows
            .iter()
            .take(150)
            .enumerate()
            .map(|(i, r)| json!({"request_id": format!("{prefix}-{i}"), "label": r["risk"].parse::<i64>().unwrap(), "kind": "default"}))
            .collect();
        let (status, body) =
            app.json(Method::POST, "/v1/outcomes", Some(&app.admin), json!({"outcomes": outcomes})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let (status, body) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let app = &app;
    let latest = |model: &str| {
        let uri = format!("/v1/models/{model}/monitors/history?limit=1000");
        async move {
            let (status, history) = app.json(Method::GET, &uri, Some(&app.admin), Value::Null).await;
            assert_eq!(status, StatusCode::OK, "{history}");
            let mut latest: HashMap<String, Value> = HashMap::new();
            for e in history.as_array().unwrap() {
                latest.insert(e["monitor"].as_str().unwrap().to_owned(), e.clone());
            }
            latest
        }
    };
    let (scored_eval, vendor_eval) = (latest("scored").await, latest("vendor").await);
    let mut names: Vec<&String> = scored_eval.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "data_quality",
            "fairness_sex",
            "feature_drift",
            "integrity",
            "money_at_risk",
            "override_rate",
            "performance",
            "revalidation",
            "score_drift"
        ]
    );
    // The revalidation schedule is each model's own (its creation and validations), not the decisions'.
    names.retain(|n| *n != "revalidation");
    let mut alerting = 0;
    for name in names {
        let (a, b) = (&scored_eval[name], &vendor_eval[name]);
        for field in ["status", "value", "decisions"] {
            assert_eq!(a[field], b[field], "{name}.{field}: scored {a} vs ingested {b}");
        }
        if name != "integrity" {
            assert_eq!(a["details"], b["details"], "{name}");
        }
        alerting += usize::from(a["status"] == "alert");
    }
    assert!(alerting >= 1, "the drifted stream alerts somewhere: {scored_eval:?}");
    assert_eq!(scored_eval["performance"]["decisions"], 150);

    // The log says how each decision arrived.
    let (_, log) = app.json(Method::GET, "/v1/models/vendor/decisions?limit=2", Some(&app.admin), Value::Null).await;
    assert_eq!(
        (log[0]["source"].as_str(), log[0]["route"].as_str(), log[0]["latency_us"].as_i64()),
        (Some("http"), Some("champion"), Some(0))
    );
    let (_, log) = app.json(Method::GET, "/v1/models/scored/decisions?limit=1", Some(&app.admin), Value::Null).await;
    assert_eq!(log[0]["source"], "scored");
    // Warden has no model to score an external version with: the caller is told where its decisions go.
    let (status, body) = app
        .json(Method::POST, "/v1/models/vendor/score", Some(&platform), json!({"features": features(&rows[0])}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("served outside Warden (on kserve)"), "{body}");
}

/// A version the gate never let in: its decisions are logged as unapproved and the next round raises the
/// critical `unapproved_version_serving` alert and opens an incident, even for a model nothing was deployed of.
#[tokio::test]
async fn decisions_of_a_version_no_production_alias_holds_raise_a_critical_alert_within_one_round() {
    let app = TestApp::new().await;
    app.create_model("vendor").await;
    let scores = app_scores(&app).await;
    let reference = reference_with_scores(&scores);
    let approved = app.register_version_ok("vendor", metadata("external"), &descriptor("sagemaker"), &reference).await;
    let rogue = app.register_version_ok("vendor", metadata("external"), &descriptor("sagemaker"), &reference).await;
    let platform = app.token("sagemaker", "scorer").await;
    let rows = german_rows();
    let at = app.now_text();
    let decision = |i: usize, version: i64| {
        json!({"request_id": format!("r-{version}-{i}"), "version": version, "at": at, "features": features(&rows[i]),
            "score": scores[i]})
    };
    // Nothing of the model was ever deployed: the first decisions are unapproved.
    let (status, body) = app.ingest("vendor", &platform, &[decision(0, approved), decision(1, approved)]).await;
    assert_eq!((status, body["unapproved"].as_u64()), (StatusCode::OK, Some(2)), "{body}");
    app.override_alias("vendor", approved, "champion").await;
    let at_now = app.now_text();
    let later: Vec<Value> = (2..5)
        .map(|i| {
            let mut d = decision(i, if i == 4 { rogue } else { approved });
            d["at"] = json!(at_now);
            d
        })
        .collect();
    let (status, body) = app.ingest("vendor", &platform, &later).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"logged": 3, "duplicates": 0, "unapproved": 1}));
    let (_, log) = app.json(Method::GET, "/v1/models/vendor/decisions", Some(&app.admin), Value::Null).await;
    let routes: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["request_id"].as_str().unwrap(), d["route"].as_str().unwrap()))
        .collect();
    let expected_routes =
        [("r-1-0", "unapproved"), ("r-1-1", "unapproved"), ("r-1-2", "champion"), ("r-1-3", "champion")];
    for (id, route) in expected_routes {
        assert!(routes.contains(&(id, route)), "{id} {route}: {routes:?}");
    }
    assert!(routes.contains(&(format!("r-{rogue}-4").as_str(), "unapproved")), "{routes:?}");

    let (status, _) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let (_, firing) = app.json(Method::GET, "/v1/alerts?state=firing", Some(&app.admin), Value::Null).await;
    let unapproved: Vec<&Value> =
        firing.as_array().unwrap().iter().filter(|a| a["feature"] == "unapproved_version_serving").collect();
    let versions: Vec<i64> = unapproved.iter().map(|a| a["version"].as_i64().unwrap()).collect();
    assert_eq!(versions.len(), 2, "{firing}");
    assert!(versions.contains(&approved) && versions.contains(&rogue), "{versions:?}");
    assert!(unapproved.iter().all(|a| a["severity"] == "critical" && a["incident_id"].is_i64()), "{unapproved:?}");
    let rogue_alert = unapproved.iter().find(|a| a["version"] == rogue).unwrap();
    assert_eq!(rogue_alert["value"], 1.0);

    // The next round sees no new unapproved decision: nothing new fires, and the alert is not retired as if
    // its version had stopped serving.
    let (status, _) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let (_, firing) = app.json(Method::GET, "/v1/alerts?state=firing", Some(&app.admin), Value::Null).await;
    let still = firing.as_array().unwrap().iter().filter(|a| a["feature"] == "unapproved_version_serving").count();
    assert_eq!(still, 2, "{firing}");

    // The stop switch binds the platform too: the champion's decisions made while the model is suspended are
    // unapproved; resumed, they are the champion's again.
    let rita = app.token("rita", "risk-officer").await;
    let suspend = json!({"reason": "complaints", "fallback": "refer"});
    let (status, body) = app.json(Method::POST, "/v1/models/vendor/suspend", Some(&rita), suspend).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut during = decision(5, approved);
    during["at"] = json!(app.now_text());
    let (status, body) = app.ingest("vendor", &platform, &[during]).await;
    assert_eq!((status, body["unapproved"].as_u64()), (StatusCode::OK, Some(1)), "{body}");
    let resume = json!({"reason": "fixed"});
    let (status, body) = app.json(Method::POST, "/v1/models/vendor/resume", Some(&rita), resume).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut after = decision(6, approved);
    after["at"] = json!(app.now_text());
    let (status, body) = app.ingest("vendor", &platform, &[after]).await;
    assert_eq!((status, body["unapproved"].as_u64()), (StatusCode::OK, Some(0)), "{body}");
}

/// Decisions older than the live windows (the last hour) land in the log and get their hour re-evaluated:
/// the revised evaluation of every window-based monitor equals what the live round gives the same decisions
/// sent on time.
#[tokio::test]
async fn late_decisions_older_than_the_live_windows_get_a_revised_evaluation_of_their_hour() {
    let (app, clock) = crate::access_tests::app_with_clock().await;
    let scores = app_scores(&app).await;
    let reference = reference_with_scores(&scores);
    let mut versions = HashMap::new();
    for model in ["on-time", "late"] {
        app.create_model(model).await;
        let v = app.register_version_ok(model, metadata("external"), &descriptor("seldon"), &reference).await;
        app.override_alias(model, v, "champion").await;
        versions.insert(model, v);
    }
    let platform = app.token("seldon", "scorer").await;
    let rows = german_rows();
    let batch = |model: &str, at: &str| -> Vec<Value> {
        rows.iter()
            .enumerate()
            .filter(|(_, r)| r["age"].parse::<f64>().unwrap() > 40.0)
            .map(|(i, r)| {
                json!({"request_id": format!("r-{i}"), "version": versions[model], "at": at, "features": features(r),
                    "attributes": {"sex": r["sex"]}, "score": scores[i]})
            })
            .collect()
    };
    // Decided ten minutes after the promotion, sent three hours later (the platform's log shipper was down).
    let promoted = clock.load(std::sync::atomic::Ordering::SeqCst);
    let decided = promoted + 600_000_000;
    clock.store(promoted + 3 * 3_600_000_000, std::sync::atomic::Ordering::SeqCst);
    let late = batch("late", &warden_core::Timestamp::from(decided).to_string());
    let (status, body) = app.ingest("late", &platform, &late).await;
    assert_eq!((status, body["logged"].as_u64()), (StatusCode::OK, Some(late.len() as u64)), "{body}");
    assert_eq!(body["unapproved"], 0, "the champion held the version when it decided: {body}");
    let on_time = batch("on-time", &app.now_text());
    let (status, body) = app.ingest("on-time", &platform, &on_time).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let history = |model: &str| {
        let uri = format!("/v1/models/{model}/monitors/history?limit=1000");
        let app = &app;
        async move { app.json(Method::GET, &uri, Some(&app.admin), Value::Null).await.1 }
    };
    let hour = 3_600_000_000i64;
    let start = decided.div_euclid(hour) * hour;
    let (live, revised) = (history("on-time").await, history("late").await);
    let revised: HashMap<&str, &Value> = revised
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["details"]["late_revision"].is_null())
        .map(|e| (e["monitor"].as_str().unwrap(), e))
        .collect();
    let mut names: Vec<&str> = revised.keys().copied().collect();
    names.sort();
    assert_eq!(names, ["data_quality", "fairness_sex", "feature_drift", "money_at_risk", "score_drift"]);
    for name in names {
        let e = revised[name];
        assert_eq!((e["window_start"].as_i64(), e["at"].as_i64()), (Some(start), Some(start + hour)), "{e}");
        assert_eq!(e["decisions"].as_u64(), Some(late.len() as u64), "{e}");
        let on_time = live.as_array().unwrap().iter().find(|l| l["monitor"] == name).unwrap();
        for field in ["status", "value", "decisions"] {
            assert_eq!(e[field], on_time[field], "{name}.{field}: on time {on_time} vs revised {e}");
        }
    }
    // The live round of the late model saw nothing in its windows: no alert comes from the past hour.
    let (_, firing) = app.json(Method::GET, "/v1/alerts?state=firing&model=late", Some(&app.admin), Value::Null).await;
    assert_eq!(firing, json!([]));
    // A second round has nothing new to revise.
    let (status, _) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let again = history("late").await;
    let count = again.as_array().unwrap().iter().filter(|e| !e["details"]["late_revision"].is_null()).count();
    assert_eq!(count, 5);
}

async fn app_scores(app: &TestApp) -> Vec<f64> {
    app.create_model("oracle").await;
    let v =
        app.register_version_ok("oracle", metadata("linear-json"), &warden_testdata::read(LINEAR), &german_csv()).await;
    app.linear_reference_scores("oracle", v).await
}

/// Every way a batch can be wrong is reported, row by row, and nothing of it is logged; a retried batch adds
/// nothing; a late decision lands; a decision time in the future is refused.
#[tokio::test]
async fn a_bad_batch_is_refused_whole_naming_every_bad_row_and_a_retry_adds_nothing() {
    let app = TestApp::new().await;
    app.create_model("vendor").await;
    let scores = app_scores(&app).await;
    let external = app
        .register_version_ok(
            "vendor",
            metadata("external"),
            &descriptor("vendor-engine"),
            &reference_with_scores(&scores),
        )
        .await;
    let scored =
        app.register_version_ok("vendor", metadata("linear-json"), &warden_testdata::read(LINEAR), &german_csv()).await;
    app.override_alias("vendor", external, "champion").await;
    let platform = app.token("engine", "scorer").await;
    let rows = german_rows();
    let at = app.now_text();
    let good = |i: usize| {
        json!({"request_id": format!("g-{i}"), "version": external, "at": at, "features": features(&rows[i]),
            "attributes": {"sex": rows[i]["sex"]}, "score": scores[i], "decision": "approve"})
    };
    let mut bad = vec![good(0)];
    let mut wrong = |i: usize, change: &dyn Fn(&mut Value)| {
        let mut row = good(i);
        change(&mut row);
        bad.push(row);
    };
    wrong(1, &|r| r["version"] = json!(99));
    wrong(2, &|r| r["version"] = json!(scored));
    wrong(3, &|r| r["features"]["age"] = json!("old"));
    wrong(4, &|r| r["score"] = json!(1.5));
    wrong(5, &|r| r["at"] = json!("2999-01-01T00:00:00Z"));
    wrong(6, &|r| r["request_id"] = json!("g-0"));
    wrong(7, &|r| r["decision"] = json!("maybe"));
    wrong(8, &|r| r["features"]["colour"] = json!("red"));
    let (status, body) = app.ingest("vendor", &platform, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let details = &body["error"]["details"];
    assert_eq!(details["invalid_rows"], 8, "{body}");
    let by_row: HashMap<i64, &Value> =
        details["rows"].as_array().unwrap().iter().map(|r| (r["row"].as_i64().unwrap(), &r["fields"])).collect();
    let expect = |row: i64, field: &str, text: &str| {
        let message = by_row[&row][field].as_str().unwrap_or_else(|| panic!("row {row} has no {field}: {body}"));
        assert!(message.contains(text), "row {row} {field}: {message}");
    };
    expect(1, "version", "has no version 99");
    expect(2, "version", "is scored by Warden");
    expect(3, "age", "expected a number");
    expect(4, "score", "not a probability");
    expect(5, "at", "is in the future");
    expect(6, "request_id", "also row 0");
    expect(7, "decision", "'maybe' is not one of");
    expect(8, "colour", "unknown feature");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("8 of 9 rows are invalid, so none was logged"));
    let (_, log) = app.json(Method::GET, "/v1/models/vendor/decisions", Some(&app.admin), Value::Null).await;
    assert_eq!(log, json!([]), "nothing of a refused batch is logged");

    // A malformed line names its row; the JSON array form reads the same records.
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/models/vendor/decisions",
            Some(&platform),
            "application/x-ndjson",
            format!("{}\n{{\"request_id\": \n", good(0)).into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["row"], 1, "{body}");
    let late = {
        let mut row = good(2);
        row["at"] = json!(warden_core::Timestamp::from(app.warden.now() - 3 * 3_600_000_000).to_string());
        row
    };
    let array = json!([good(0), good(1), late]);
    let (status, body) = app.json(Method::POST, "/v1/models/vendor/decisions", Some(&platform), array.clone()).await;
    // The late decision is dated before the version became champion: the alias history at its time says it was
    // made without approval.
    assert_eq!((status, body), (StatusCode::OK, json!({"logged": 3, "duplicates": 0, "unapproved": 1})));
    // The same batch again (a retry after a lost answer) adds nothing.
    let (status, body) = app.json(Method::POST, "/v1/models/vendor/decisions", Some(&platform), array).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"logged": 0, "duplicates": 3, "unapproved": 0})));
    let (_, log) = app.json(Method::GET, "/v1/models/vendor/decisions", Some(&app.admin), Value::Null).await;
    assert_eq!(log.as_array().unwrap().len(), 3);
    // The late decision is in the log and the version's totals, not in the last hour's windows.
    let (_, live) = app.json(Method::GET, "/v1/models/vendor/live", Some(&app.admin), Value::Null).await;
    assert_eq!(live[0]["profile"]["decisions"], 3, "{live}");
    let (_, drift) =
        app.json(Method::GET, "/v1/models/vendor/live/drift?seconds=3600", Some(&app.admin), Value::Null).await;
    assert_eq!(drift[0]["decisions"], 2, "{drift}");

    // Who may send, and to what.
    let officer = app.token("olga", "risk-officer").await;
    let (status, _) = app.ingest("vendor", &officer, &[good(9)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.ingest("nothing", &platform, &[good(9)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app
        .send(Method::POST, "/v1/models/vendor/decisions", Some(&platform), "application/json", b"   ".to_vec())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// KServe's payload logger: the response may come before its request; the pair is joined by `ce-id` into a
/// decision; a request whose response never came stays visible; a malformed event is refused and kept.
#[tokio::test]
async fn kserve_logger_events_are_joined_by_their_id_in_either_order_and_bad_ones_are_kept_visible() {
    let app = TestApp::new().await;
    app.create_model("vendor").await;
    let scores = app_scores(&app).await;
    let external = app
        .register_version_ok("vendor", metadata("external"), &descriptor("kserve"), &reference_with_scores(&scores))
        .await;
    app.override_alias("vendor", external, "champion").await;
    let platform = app.token("kserve-agent", "scorer").await;
    let rows = german_rows();
    let uri = format!("/v1/models/vendor/versions/{external}/kserve-events");
    let warden = app.warden.clone();
    // Binary content mode, as KServe's agent sends (kserve pkg/logger/worker.go): ce-* headers, the model
    // server's body as it was.
    let send = |id: &str, kind: &str, body: Value| {
        let uri = uri.clone();
        let (id, kind, platform, warden) = (id.to_owned(), kind.to_owned(), platform.clone(), warden.clone());
        async move {
            let request = axum::http::Request::builder()
                .method(Method::POST)
                .uri(&uri)
                .header("authorization", format!("Bearer {platform}"))
                .header("content-type", "application/json")
                .header("ce-specversion", "1.0")
                .header("ce-id", &id)
                .header("ce-type", format!("org.kubeflow.serving.inference.{kind}"))
                .header("ce-source", "http://localhost:9081/")
                .header("ce-inferenceservicename", "credit-vendor")
                .header("ce-namespace", "risk")
                .header("ce-component", "predictor")
                .header("ce-endpoint", "")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            let response = tower::ServiceExt::oneshot(crate::app(warden), request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    let instance = |i: usize| Value::Object(features(&rows[i]));
    // The response first, its request later.
    let (status, body) = send("ev-1", "response", json!({"predictions": [scores[3]]})).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::ACCEPTED, Some("waiting")), "{body}");
    let (status, body) = send("ev-1", "request", json!({"instances": [instance(3)]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "logged", "logged": 1, "duplicates": 0, "unapproved": 0}));
    // A request of two instances, then its response: two decisions, `ce-id/0` and `ce-id/1`.
    assert_eq!(send("ev-2", "request", json!({"instances": [instance(4), instance(5)]})).await.0, StatusCode::ACCEPTED);
    let (status, body) = send("ev-2", "response", json!({"predictions": [scores[4], scores[5]]})).await;
    assert_eq!((status, body["logged"].as_u64()), (StatusCode::OK, Some(2)), "{body}");
    // A request that never gets its response.
    assert_eq!(send("ev-3", "request", json!({"instances": [instance(6)]})).await.0, StatusCode::ACCEPTED);
    // Malformed: an unknown type, and a pair whose counts differ (set aside once both halves are in).
    let (status, body) = send("ev-4", "explanation", json!({"instances": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("ce-type"), "{body}");
    assert_eq!(send("ev-5", "request", json!({"instances": [instance(7)]})).await.0, StatusCode::ACCEPTED);
    let (status, body) = send("ev-5", "response", json!({"predictions": [0.1, 0.2]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("kept as a dead record"), "{body}");

    let (_, log) = app.json(Method::GET, "/v1/models/vendor/decisions", Some(&app.admin), Value::Null).await;
    let ids: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["request_id"].as_str().unwrap(), d["source"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, [("ev-1", "kserve"), ("ev-2/0", "kserve"), ("ev-2/1", "kserve")]);
    assert_eq!(log[0]["score"], json!(scores[3]));
    let (status, state) = app.json(Method::GET, "/v1/ingestion", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["dead_letters"], 2, "{state}");
    assert_eq!(state["recent_dead_letters"][0]["source"], "kserve");
    assert_eq!(
        (
            state["kserve_waiting"][0]["model"].as_str(),
            state["kserve_waiting"][0]["requests"].as_i64(),
            state["kserve_waiting"][0]["responses"].as_i64()
        ),
        (Some("vendor"), Some(1), Some(0)),
        "{state}"
    );
    // A version Warden scores does not take logger events.
    let scored =
        app.register_version_ok("vendor", metadata("linear-json"), &warden_testdata::read(LINEAR), &german_csv()).await;
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/v1/models/vendor/versions/{scored}/kserve-events"),
            Some(&platform),
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}
