//! Monitoring beyond one feature at a time, through the router: the multivariate (reconstruction error)
//! monitor on live traffic, segments, explanation drift, and a regression model's monitors, validation and
//! gate.

use std::sync::atomic::Ordering::SeqCst;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::tests::TestApp;

/// Four standard normal features, x0 and x1 correlated by `rho` (a fixed generator per `seed`).
pub(crate) fn correlated_rows(rows: usize, rho: f64, seed: u64) -> Vec<[f64; 4]> {
    let mut state = seed;
    let mut uniform = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut normal = move || (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos();
    (0..rows)
        .map(|_| {
            let (a, b, c, d) = (normal(), normal(), normal(), normal());
            let round = |v: f64| (v * 1e4).round() / 1e4;
            [round(a), round(rho * a + (1.0 - rho * rho).sqrt() * b), round(c), round(d)]
        })
        .collect()
}

// x0 and x1 are inputs the score does not weigh, so the score's own distribution stays as it was too.
const MODEL: &[u8] = br#"{"intercept": -1.0, "coefficients": {"x0": 0.0, "x1": 0.0, "x2": -0.2, "x3": 0.1}}"#;

/// `mv` v1 (linear, on x0…x3) serving as champion, its reference 5,000 rows with x0 and x1 correlated 0.8.
async fn correlated_model(app: &TestApp) {
    app.create_model("mv").await;
    let mut reference = String::from("x0,x1,x2,x3,y\n");
    for (i, r) in correlated_rows(5_000, 0.8, 11).iter().enumerate() {
        reference.push_str(&format!("{},{},{},{},{}\n", r[0], r[1], r[2], r[3], i % 2));
    }
    let metadata = json!({"format": "linear-json", "target": "y"});
    let (status, body) = app.register("mv", metadata, MODEL, reference.as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let promote = json!({"reason": "monitoring tests", "override": true});
    let (status, body) = app.json(Method::POST, "/v1/models/mv/versions/1/promote", Some(&app.admin), promote).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn score_rows(app: &TestApp, rows: &[[f64; 4]], prefix: &str) {
    score_on(app, "mv", rows, prefix, None).await;
}

/// Scores `rows` on `model`, the i-th on channel `channels[i % len]` when given.
async fn score_on(app: &TestApp, model: &str, rows: &[[f64; 4]], prefix: &str, channels: Option<&[&str]>) {
    let batch: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut request = json!({"request_id": format!("{prefix}-{i}"),
                                     "features": {"x0": r[0], "x1": r[1], "x2": r[2], "x3": r[3]}});
            if let Some(channels) = channels {
                request["attributes"] = json!({"channel": channels[i % channels.len()]});
            }
            request
        })
        .collect();
    let uri = format!("/v1/models/{model}/score/batch");
    let (status, body) = app.json(Method::POST, &uri, Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The newest evaluation of each monitor of `mv`.
async fn latest(app: &TestApp) -> std::collections::BTreeMap<String, Value> {
    latest_of(app, "mv").await
}

/// A round of every monitor now, then the newest evaluation of each monitor of `model`.
pub(crate) async fn latest_of(app: &TestApp, model: &str) -> std::collections::BTreeMap<String, Value> {
    let (status, body) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uri = format!("/v1/models/{model}/monitors/history");
    let (status, history) = app.json(Method::GET, &uri, Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    history.as_array().unwrap().iter().map(|e| (e["monitor"].as_str().unwrap().to_owned(), e.clone())).collect()
}

/// A correlation turned around, with every feature's own distribution unchanged, raises the multivariate
/// monitor while feature and score drift stay quiet; the same relation keeps it within its learned bands.
#[tokio::test]
async fn a_turned_correlation_raises_the_multivariate_monitor_and_no_univariate_one() {
    let (app, clock) = crate::access_tests::app_with_clock().await;
    correlated_model(&app).await;
    let change = json!({"kind": "multivariate_drift"});
    let (status, monitor) =
        app.json(Method::PUT, "/v1/models/mv/monitors/multivariate", Some(&app.admin), change).await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    assert_eq!(monitor["config"]["learned"]["k"], 3.0, "NannyML's bands by default: {monitor}");
    assert_eq!(monitor["config"]["window_decisions"], 1000, "judged on windows of the chunks' size: {monitor}");
    // The univariate monitors look at the same minute.
    for name in ["feature_drift", "score_drift", "data_quality"] {
        let uri = format!("/v1/models/mv/monitors/{name}");
        let (status, body) = app.json(Method::PUT, &uri, Some(&app.admin), json!({"window_seconds": 60})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The model is fitted and installed at the first round; until then no decision carries an error.
    let first = latest(&app).await;
    assert_eq!(first["multivariate"]["status"], "insufficient", "{}", first["multivariate"]);

    score_rows(&app, &correlated_rows(1_000, 0.8, 12), "same").await;
    let same = latest(&app).await;
    let m = &same["multivariate"];
    assert_eq!(m["status"], "ok", "the same relation stays within the bands: {m}");
    let figures = &m["details"]["features"]["model"];
    assert_eq!(figures["figures"]["sample"], 1000, "{figures}");
    assert_eq!(figures["figures"]["features"], json!(["x0", "x1", "x2", "x3"]));
    assert!(figures["bands"]["alert"].as_f64().unwrap() > figures["value"].as_f64().unwrap());
    assert_eq!(m["details"]["learned"]["chunks"], 5, "five reference chunks of 1,000: {m}");

    // Two minutes on, the turned relation.
    clock.fetch_add(120 * 1_000_000, SeqCst);
    score_rows(&app, &correlated_rows(1_000, -0.8, 13), "turned").await;
    let turned = latest(&app).await;
    assert_eq!(turned["multivariate"]["status"], "alert", "{}", turned["multivariate"]);
    assert_eq!(turned["multivariate"]["decisions"], 1000);
    for name in ["feature_drift", "score_drift", "data_quality"] {
        assert_eq!(turned[name]["status"], "ok", "{name} sees no change in any one distribution: {}", turned[name]);
    }
    let (_, alerts) = app.json(Method::GET, "/v1/alerts?model=mv", Some(&app.admin), Value::Null).await;
    let monitors: Vec<&str> = alerts.as_array().unwrap().iter().map(|a| a["monitor"].as_str().unwrap()).collect();
    assert_eq!(monitors, ["multivariate"], "{alerts}");
}

#[tokio::test]
async fn a_multivariate_monitor_refuses_what_it_cannot_watch() {
    let app = TestApp::new().await;
    correlated_model(&app).await;
    let cases = [
        (json!({"kind": "multivariate_drift", "features": ["x0"]}), "at least 2 features"),
        (json!({"kind": "multivariate_drift", "learned": {"k": 0}}), "learns its bands from the reference"),
        (json!({"kind": "multivariate_drift", "statistic": "psi"}), "no statistic 'psi'"),
        (json!({"kind": "multivariate_drift", "min_decisions": 200}), "judges windows of its reference chunks' size"),
        (json!({"kind": "multivariate_drift", "window_decisions": 0}), "judges windows of its reference chunks' size"),
    ];
    for (change, message) in cases {
        let (status, body) =
            app.json(Method::PUT, "/v1/models/mv/monitors/mvd", Some(&app.admin), change.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{change}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(message), "{change}: {body}");
    }
    // A feature the version does not have: the monitor is kept, and its evaluation says why it is unavailable.
    let change = json!({"kind": "multivariate_drift", "features": ["x0", "salary"]});
    let (status, body) = app.json(Method::PUT, "/v1/models/mv/monitors/mvd", Some(&app.admin), change).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let evaluations = latest(&app).await;
    let mvd = &evaluations["mvd"];
    assert_eq!(mvd["status"], "unavailable", "{mvd}");
    assert!(
        mvd["details"]["features"]["model"]["reason"].as_str().unwrap().contains("'salary' is not a feature"),
        "{mvd}"
    );
}

const CHANNELS: [&str; 10] = ["web", "branch", "phone", "partner", "mobile", "broker", "agent", "kiosk", "mail", "app"];

/// `seg` v1 serving as champion: the model on x0…x3, its reference 5,000 rows over ten channels (a column left
/// out of the features; live decisions carry it as an attribute).
async fn channel_model(app: &TestApp) {
    app.create_model("seg").await;
    let mut reference = String::from("x0,x1,x2,x3,channel,y\n");
    for (i, r) in correlated_rows(5_000, 0.0, 21).iter().enumerate() {
        reference.push_str(&format!("{},{},{},{},{},{}\n", r[0], r[1], r[2], r[3], CHANNELS[i % 10], i % 2));
    }
    let metadata = json!({"format": "linear-json", "target": "y", "exclude": ["channel"]});
    let (status, body) = app.register("seg", metadata, MODEL, reference.as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let promote = json!({"reason": "monitoring tests", "override": true});
    let (status, body) = app.json(Method::POST, "/v1/models/seg/versions/1/promote", Some(&app.admin), promote).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Drift confined to one channel raises that segment's alert, named with it, and neither the overall figures
/// nor any other segment's; the model page shows the segment × time heat map.
#[tokio::test]
async fn drift_in_one_segment_alerts_that_segment_and_not_the_whole() {
    let app = TestApp::new().await;
    channel_model(&app).await;
    let change = json!({"segment_by": "channel", "min_segment_decisions": 100, "warn": 0.2, "alert": 0.4});
    let (status, monitor) =
        app.json(Method::PUT, "/v1/models/seg/monitors/feature_drift", Some(&app.admin), change).await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    assert_eq!(monitor["config"]["segment_by"], "channel", "{monitor}");
    // The segmentation is installed at the first round: decisions from then on are split.
    let (status, _) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    // 5,000 decisions like the reference, except that the web channel's x2 moved by two standard deviations.
    let rows: Vec<[f64; 4]> = correlated_rows(5_000, 0.0, 22)
        .into_iter()
        .enumerate()
        .map(|(i, r)| if CHANNELS[i % 10] == "web" { [r[0], r[1], r[2] + 2.0, r[3]] } else { r })
        .collect();
    score_on(&app, "seg", &rows, "s", Some(&CHANNELS)).await;
    let evaluations = latest_of(&app, "seg").await;
    let keys = &evaluations["feature_drift"]["details"]["features"];
    let web = &keys["channel=web"];
    assert_eq!(web["status"], "alert", "{web}");
    assert_eq!(web["figures"]["worst"], "x2", "{web}");
    assert_eq!(web["figures"]["sample"], 500);
    assert_eq!(web["figures"]["baseline"], "segment", "the web rows of the reference: {web}");
    for feature in ["x0", "x1", "x2", "x3"] {
        assert_eq!(
            keys[feature]["status"], "ok",
            "{feature} over every channel stays within the bands: {}",
            keys[feature]
        );
    }
    for channel in &CHANNELS[1..] {
        let key = format!("channel={channel}");
        assert_eq!(keys[&key]["status"], "ok", "{key}: {}", keys[&key]);
    }
    let (_, alerts) = app.json(Method::GET, "/v1/alerts?model=seg", Some(&app.admin), Value::Null).await;
    let raised: Vec<(&str, &str)> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["monitor"].as_str().unwrap(), a["feature"].as_str().unwrap()))
        .collect();
    assert_eq!(raised, [("feature_drift", "channel=web")], "{alerts}");
    // The monitoring page: the segment × time heat map, a row per segment, and the feature map without them.
    use warden_registry::auth::{Principal, Role};
    let rita = || Principal::token("rita", Role::RiskOfficer);
    let data = crate::dashboard::MonitoringData::load(&app.warden, &rita(), "seg", None).await.unwrap();
    let viewer = crate::dashboard::Viewer { principal: rita(), csrf: "c".into() };
    let html = crate::dashboard::monitoring_page(&viewer, &data).into_string();
    assert!(html.contains("Segments of feature_drift by channel over time"), "the segments' section");
    let heat = html
        .split("<svg")
        .find(|svg| svg.contains("feature_drift of version 1 by segment of channel over time"))
        .expect("the segment heat map");
    for channel in CHANNELS {
        assert!(heat.contains(&format!(">channel={channel}<")), "a row for {channel}");
    }
    let features =
        html.split("<svg").find(|svg| svg.contains("Feature drift of version 1 by feature over time")).unwrap();
    assert!(features.contains(">x2<") && !features.contains("channel=web"), "segments stay out of the feature map");
}

#[tokio::test]
async fn segments_are_bounded_and_refused_where_they_do_not_apply() {
    let app = TestApp::new().await;
    channel_model(&app).await;
    let cases = [
        (json!({"kind": "performance", "segment_by": "channel"}), "segments split feature_drift"),
        (json!({"kind": "feature_drift", "segment_by": "channel", "max_segments": 51}), "max_segments is 1 to 50"),
        (
            json!({"kind": "feature_drift", "segment_by": "channel", "min_segment_decisions": 0}),
            "min_segment_decisions is 1",
        ),
        (json!({"kind": "feature_drift", "segment_by": "channel", "learned": {"k": 3}}), "static bands"),
        (json!({"kind": "feature_drift", "segment_by": " "}), "segment_by names an attribute"),
    ];
    for (change, message) in cases {
        let (status, body) =
            app.json(Method::PUT, "/v1/models/seg/monitors/segmented", Some(&app.admin), change.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{change}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(message), "{change}: {body}");
    }
    // Three segments at most: the reference's most frequent channels (ties by name), the rest in "(other)".
    let change =
        json!({"kind": "score_drift", "segment_by": "channel", "max_segments": 3, "min_segment_decisions": 10});
    let (status, body) = app.json(Method::PUT, "/v1/models/seg/monitors/segmented", Some(&app.admin), change).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    score_on(&app, "seg", &correlated_rows(300, 0.0, 23), "b", Some(&CHANNELS)).await;
    let evaluations = latest_of(&app, "seg").await;
    let features = &evaluations["segmented"]["details"]["features"];
    let keys: Vec<&String> = features.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["channel=(other)", "channel=agent", "channel=app", "channel=branch", "score"], "{features}");
    let other = &features["channel=(other)"];
    assert_eq!(other["figures"]["sample"], 210, "seven channels' decisions share it: {other}");
}

/// The model starts deciding by x2 more than it did: its contributions' distribution moves and the
/// explanation-drift monitor says so for x2 alone, by PSI and by the mean absolute contribution.
#[tokio::test]
async fn explanation_drift_names_the_feature_whose_contributions_moved() {
    let app = TestApp::new().await;
    correlated_model(&app).await;
    for (name, statistic) in [("reasons", "psi"), ("reasons_size", "mean_abs_shift")] {
        let change = json!({"kind": "explanation_drift", "statistic": statistic, "window_seconds": 600, "min_decisions": 500,
                            "warn": 0.2, "alert": 0.5});
        let uri = format!("/v1/models/mv/monitors/{name}");
        let (status, body) = app.json(Method::PUT, &uri, Some(&app.admin), change).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let shifted: Vec<[f64; 4]> =
        correlated_rows(1_000, 0.8, 31).into_iter().map(|r| [r[0], r[1], r[2] + 1.5, r[3]]).collect();
    score_rows(&app, &shifted, "shifted").await;
    let evaluations = latest(&app).await;
    for name in ["reasons", "reasons_size"] {
        let keys = &evaluations[name]["details"]["features"];
        assert_eq!(keys["x2"]["status"], "alert", "{name}: {}", keys["x2"]);
        assert_eq!(keys["x2"]["figures"]["sample"], 1000);
        assert_eq!(keys["x3"]["status"], "ok", "{name}: {}", keys["x3"]);
        assert_eq!(keys["x0"]["figures"]["reference_mean_abs"], 0.0, "x0 weighs nothing: {}", keys["x0"]);
    }
    let shift = evaluations["reasons_size"]["details"]["features"]["x2"]["value"].as_f64().unwrap();
    assert!(shift > 0.5, "x2's mean absolute contribution grew: {shift}");
    // Refused: learned bands and count windows.
    for change in [
        json!({"kind": "explanation_drift", "learned": {"k": 3}}),
        json!({"kind": "explanation_drift", "window_decisions": 10}),
    ] {
        let (status, body) = app.json(Method::PUT, "/v1/models/mv/monitors/bad", Some(&app.admin), change).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
}

// A loss-given-default model: identity link, LGD = 0.45 + 0.05·x2; `ead` (the exposure) does not move it.
const LGD_MODEL: &[u8] = br#"{"link": "identity", "intercept": 0.45, "coefficients": {"x2": 0.05, "ead": 0.0}}"#;

/// `lgd` v1 serving as champion, its reference 1,000 rows with realized LGDs near the predictions, priced by
/// its `ead` column.
async fn lgd_model(app: &TestApp) {
    lgd_model_erring(app, "lgd", &|_| 0.01).await;
}

/// `name` v1 (the LGD model) serving as champion, its reference 1,000 rows each realized the prediction ±
/// `error(x2)` (alternately above and below), priced by its `ead` column.
async fn lgd_model_erring(app: &TestApp, name: &str, error: &dyn Fn(f64) -> f64) {
    app.create_model(name).await;
    let mut reference = String::from("x2,ead,y\n");
    for (i, r) in correlated_rows(1_000, 0.0, 21).iter().enumerate() {
        let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
        let realized = 0.45 + 0.05 * r[2] + sign * error(r[2]);
        reference.push_str(&format!("{},{},{realized}\n", r[2], 1_000 + i));
    }
    let metadata = json!({"format": "linear-json", "target": "y",
                          "serving": {"task": "regression", "exposure_column": "ead"}});
    let (status, body) = app.register(name, metadata, LGD_MODEL, reference.as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let promote = json!({"reason": "monitoring tests", "override": true});
    let uri = format!("/v1/models/{name}/versions/1/promote");
    let (status, body) = app.json(Method::POST, &uri, Some(&app.admin), promote).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Scores 200 loans named `{prefix}-i` and records each one's realized LGD: the prediction plus `bias`,
/// ± 0.01.
async fn lgd_decisions_with_outcomes(app: &TestApp, prefix: &str, bias: f64) {
    let rows = correlated_rows(200, 0.0, 22);
    let batch: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"request_id": format!("{prefix}-{i}"), "features": {"x2": r[2], "ead": 10_000.0}}))
        .collect();
    let (status, scored) =
        app.json(Method::POST, "/v1/models/lgd/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{scored}");
    let outcomes: Vec<Value> = scored["results"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, decision)| {
            let predicted = decision["score"].as_f64().unwrap();
            let noise = if i % 2 == 0 { 0.01 } else { -0.01 };
            json!({"request_id": format!("{prefix}-{i}"), "label": 1, "value": predicted + bias + noise})
        })
        .collect();
    let (status, body) = app.json(Method::POST, "/v1/outcomes", Some(&app.admin), json!({"outcomes": outcomes})).await;
    assert_eq!((status, &body["recorded"]), (StatusCode::CREATED, &json!(200)), "{body}");
}

/// A regression model's live performance on realized values (MAE against scikit-learn's definition) and its
/// money at risk: LGDs realized 0.2 above the predictions raise both, and the loss is under-provisioned by
/// 0.2 of every loan's exposure.
#[tokio::test]
async fn a_regression_models_realized_values_raise_its_error_and_its_expected_loss_error() {
    let (app, clock) = crate::access_tests::app_with_clock().await;
    lgd_model(&app).await;
    // Its defaults judge realized values: R² and the expected-loss error, not AUC.
    let (status, monitors) = app.json(Method::GET, "/v1/models/lgd/monitors", Some(&app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{monitors}");
    let statistic = |name: &str| {
        let monitor =
            monitors.as_array().unwrap().iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("{monitors}"));
        monitor["config"]["statistic"].as_str().map(str::to_owned)
    };
    assert_eq!(statistic("performance").as_deref(), Some("r2"));
    assert_eq!(statistic("money_at_risk").as_deref(), Some("expected_loss_error"));
    let mae = json!({"kind": "performance", "statistic": "mae", "warn": 0.05, "alert": 0.1,
                     "window_seconds": 86_400, "window_decisions": 200, "min_decisions": 100});
    let (status, body) = app.json(Method::PUT, "/v1/models/lgd/monitors/lgd_mae", Some(&app.admin), mae).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let money = json!({"kind": "money_at_risk", "statistic": "expected_loss_error", "warn": 0.1, "alert": 0.2,
                       "window_seconds": 86_400, "window_decisions": 200, "min_decisions": 100});
    let (status, body) = app.json(Method::PUT, "/v1/models/lgd/monitors/lgd_money", Some(&app.admin), money).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // MAE's bands need warn <= alert: a lower-is-worse ordering is refused.
    let reversed = json!({"kind": "performance", "statistic": "mae", "warn": 0.1, "alert": 0.05});
    let (status, body) = app.json(Method::PUT, "/v1/models/lgd/monitors/bad", Some(&app.admin), reversed).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A realized value past the amounts' bound is refused by field, and nothing of the batch is recorded.
    let batch = json!({"outcomes": [{"request_id": "none-yet", "label": 1, "value": 0.4},
                                    {"request_id": "none-yet-2", "label": 1, "value": 1e300}]});
    let (status, body) = app.json(Method::POST, "/v1/outcomes", Some(&app.admin), batch).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["details"]["fields"]["outcomes[1].value"].is_string(), "{body}");

    lgd_decisions_with_outcomes(&app, "calm", 0.0).await;
    let calm = latest_of(&app, "lgd").await;
    let figures = &calm["lgd_mae"]["details"]["features"]["model"];
    assert_eq!(calm["lgd_mae"]["status"], "ok", "{}", calm["lgd_mae"]);
    assert!((figures["value"].as_f64().unwrap() - 0.01).abs() < 1e-9, "every error is 0.01: {figures}");
    assert_eq!(figures["figures"]["with_values"], 200);
    assert_eq!(calm["lgd_money"]["status"], "ok", "{}", calm["lgd_money"]);

    clock.fetch_add(120 * 1_000_000, SeqCst);
    lgd_decisions_with_outcomes(&app, "worse", 0.2).await;
    let worse = latest_of(&app, "lgd").await;
    let mae = &worse["lgd_mae"];
    assert_eq!(mae["status"], "alert", "{mae}");
    let value = mae["details"]["features"]["model"]["value"].as_f64().unwrap();
    assert!((value - 0.2).abs() < 0.011, "the newest 200 decisions err by 0.2 ± 0.01: {value}");
    let money = &worse["lgd_money"]["details"]["features"]["model"];
    assert_eq!(worse["lgd_money"]["status"], "alert", "{}", worse["lgd_money"]);
    let (predicted, realized) =
        (money["figures"]["predicted_loss"].as_f64().unwrap(), money["figures"]["realized_loss"].as_f64().unwrap());
    assert!((realized - predicted - 200.0 * 0.2 * 10_000.0).abs() < 1e-6, "0.2 of each 10,000 exposure: {money}");
    assert_eq!(money["figures"]["under_provisioned"], true);
}

/// Validation data for `lgd`: 300 loans, each realized LGD the prediction plus `bias` ± 0.02, exposures 1,000
/// to 1,299; with the predictions.
fn lgd_validation_data(bias: f64) -> (String, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut csv = String::from("x2,ead,y\n");
    let (mut predicted, mut realized, mut exposures) = (vec![], vec![], vec![]);
    for (i, r) in correlated_rows(300, 0.0, 31).iter().enumerate() {
        let prediction = 0.45 + 0.05 * r[2];
        let value = prediction + bias + if i % 2 == 0 { 0.02 } else { -0.02 };
        let ead = 1_000.0 + i as f64;
        csv.push_str(&format!("{},{ead},{value}\n", r[2]));
        predicted.push(prediction);
        realized.push(value);
        exposures.push(ead);
    }
    (csv, predicted, realized, exposures)
}

/// The gate's refusals for `lgd` v1.
async fn lgd_gate_denials(app: &TestApp) -> Vec<String> {
    let (status, decision) =
        app.json(Method::POST, "/v1/models/lgd/versions/1/gate", Some(&app.admin), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{decision}");
    decision["deny"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect()
}

async fn validate_lgd(app: &TestApp, data: &str) -> Value {
    let metadata = json!({"target": "y"}).to_string();
    let (content_type, body) = crate::tests::multipart(&[
        ("metadata", None, metadata.as_bytes()),
        ("data", Some("validation.csv"), data.as_bytes()),
    ]);
    let (status, report) =
        app.send(Method::POST, "/v1/models/lgd/versions/1/validations", Some(&app.admin), &content_type, body).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    report
}

/// A regression model is validated on its realized values: MAE, RMSE, R² and the expected-loss error (each
/// loan's error times its exposure) as figured here from the same rows, no calibration, and the gate judges
/// it on them (its default limits in policy data), not on AUC.
#[tokio::test]
async fn a_regression_model_is_validated_and_gated_on_its_realized_values() {
    let (app, clock) = crate::access_tests::app_with_clock().await;
    lgd_model(&app).await;
    let (data, predicted, realized, exposures) = lgd_validation_data(0.0);
    let report = validate_lgd(&app, &data).await;
    let figures = &report["figures"];
    assert!(figures["calibration"].is_null(), "a predicted LGD is not a probability: {figures}");
    let regression = &figures["regression"];
    let n = predicted.len() as f64;
    let mae = predicted.iter().zip(&realized).map(|(p, y)| (p - y).abs()).sum::<f64>() / n;
    let sse: f64 = predicted.iter().zip(&realized).map(|(p, y)| (p - y).powi(2)).sum();
    let mean = realized.iter().sum::<f64>() / n;
    let sst: f64 = realized.iter().map(|y| (y - mean).powi(2)).sum();
    let error: f64 = (0..predicted.len()).map(|i| (predicted[i] - realized[i]) * exposures[i]).sum();
    for (field, expected) in
        [("mae", mae), ("rmse", (sse / n).sqrt()), ("r2", 1.0 - sse / sst), ("expected_loss_error", error)]
    {
        let got = regression[field].as_f64().unwrap();
        assert!((got - expected).abs() < 1e-9 * expected.abs().max(1.0), "{field}: {got} against {expected}");
    }
    assert!((mae - 0.02).abs() < 1e-12);
    assert_eq!(report["bad_value"], ">= 0.5", "the decision rule's bad event: {report}");
    // The model page shows the figures on realized values, and no calibration.
    let stored: warden_oversight::validation::ValidationReport = serde_json::from_value(report.clone()).unwrap();
    let html = crate::dashboard::validation_section(Some(&stored)).into_string();
    assert!(html.contains("MAE on realized values") && html.contains("expected-loss error"), "{html}");
    assert!(!html.contains("Brier") && !html.contains("Reliability"), "{html}");

    let denied = lgd_gate_denials(&app).await;
    assert!(
        !denied.iter().any(|m| m.contains("AUC")
            || m.starts_with("validation.")
            || m.contains("R²")
            || m.contains("expected-loss")),
        "{denied:?}"
    );

    // Realized LGDs 0.2 above every prediction: the loss is under-provisioned by far more than the limit.
    clock.fetch_add(60 * 1_000_000, SeqCst);
    let (data, _, _, _) = lgd_validation_data(0.2);
    let worse = validate_lgd(&app, &data).await;
    assert!(
        worse["figures"]["regression"]["expected_loss_error"].as_f64().unwrap() < 0.0,
        "{}",
        worse["figures"]["regression"]
    );
    let denied = lgd_gate_denials(&app).await;
    assert!(denied.iter().any(|m| m.starts_with("the expected-loss error is 0.")), "{denied:?}");
}

/// Scores loans with the given x2 on `lgd2`, each of exposure 5,000.
async fn score_lgd2(app: &TestApp, x2: Vec<f64>, prefix: &str) {
    let batch: Vec<Value> = x2
        .iter()
        .enumerate()
        .map(|(i, x2)| json!({"request_id": format!("{prefix}-{i}"), "features": {"x2": x2, "ead": 5_000.0}}))
        .collect();
    let (status, body) =
        app.json(Method::POST, "/v1/models/lgd2/score/batch", Some(&app.admin), Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Direct loss estimation on live traffic, before any outcome: the reference's errors grow with |x2|, so when
/// applicants come with |x2| near 2 the estimated MAE rises past its band while no outcome has arrived.
#[tokio::test]
async fn dle_estimates_a_regressions_error_from_its_inputs_before_outcomes_arrive() {
    let (app, clock) = crate::access_tests::app_with_clock().await;
    lgd_model_erring(&app, "lgd2", &|x2| 0.01 + 0.05 * x2.abs()).await;
    let dle = json!({"kind": "estimated_performance", "statistic": "mae", "warn": 0.07, "alert": 0.09,
                     "window_seconds": 86_400, "window_decisions": 300, "min_decisions": 100});
    let (status, body) = app.json(Method::PUT, "/v1/models/lgd2/monitors/dle", Some(&app.admin), dle).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // As the reference: |x2| about 0.8 on average, an error of about 0.05.
    score_lgd2(&app, correlated_rows(300, 0.0, 41).iter().map(|r| r[2]).collect(), "calm").await;
    let calm = latest_of(&app, "lgd2").await;
    let figures = &calm["dle"]["details"]["features"]["model"];
    assert_eq!(calm["dle"]["status"], "ok", "{}", calm["dle"]);
    let estimate = figures["value"].as_f64().unwrap();
    assert!((estimate - 0.05).abs() < 0.01, "estimated MAE {estimate} against about 0.05: {figures}");
    assert_eq!(figures["figures"]["metric"], "mae", "{figures}");
    assert!(figures["figures"]["sampling_error"].as_f64().unwrap() > 0.0);

    // Applicants with |x2| near 2: the true error is about 0.11, and no outcome is known yet.
    clock.fetch_add(120 * 1_000_000, SeqCst);
    let far: Vec<f64> = correlated_rows(300, 0.0, 42)
        .iter()
        .enumerate()
        .map(|(i, r)| if i % 2 == 0 { 2.0 } else { -2.0 } + 0.2 * r[2])
        .collect();
    score_lgd2(&app, far, "far").await;
    let shifted = latest_of(&app, "lgd2").await;
    let value = shifted["dle"]["details"]["features"]["model"]["value"].as_f64().unwrap();
    assert_eq!(shifted["dle"]["status"], "alert", "estimated MAE {value}: {}", shifted["dle"]);
    assert!((value - 0.11).abs() < 0.02, "estimated MAE {value} against about 0.11");
}
