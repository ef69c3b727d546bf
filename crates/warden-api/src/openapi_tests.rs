//! Real responses against the OpenAPI document: every JSON body the in-process app answers in any test of this
//! crate (through `TestApp::send`) is validated against the schema the document declares for its route and
//! status, and `every_route_answers_as_the_document_says` drives every route to a success and an error and
//! requires each status it sees to be declared.
//!
//! Object schemas are made strict for the check (`unevaluatedProperties: false`), so a field the server adds
//! without the document knowing fails as surely as a missing or mistyped one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::tests::{TestApp, german_csv, multipart};

/// The document, made strict for validation.
struct Checker {
    doc: Value,
    components: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn checker() -> &'static Checker {
    static CHECKER: OnceLock<Checker> = OnceLock::new();
    CHECKER.get_or_init(|| {
        let doc = serde_json::to_value(crate::openapi()).expect("the document serialises");
        let mut components = doc["components"].clone();
        strict_components(&mut components);
        Checker { doc, components, validators: Mutex::new(HashMap::new()) }
    })
}

/// Adds `unevaluatedProperties: false` to every object schema of the components, except those that other
/// schemas compose with `allOf` (a flattened struct: the composite is made strict instead).
fn strict_components(components: &mut Value) {
    let mut composed = BTreeSet::new();
    fn refs_in_all_of(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(parts)) = map.get("allOf") {
                    for part in parts {
                        if let Some(Value::String(r)) = part.get("$ref") {
                            out.insert(r.rsplit('/').next().unwrap_or_default().to_owned());
                        }
                    }
                }
                map.values().for_each(|v| refs_in_all_of(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs_in_all_of(v, out)),
            _ => {}
        }
    }
    refs_in_all_of(components, &mut composed);
    if let Some(Value::Object(schemas)) = components.get_mut("schemas") {
        for (name, schema) in schemas.iter_mut() {
            if composed.contains(name) {
                continue;
            }
            if let Value::Object(map) = schema
                && (map.contains_key("properties") || map.contains_key("allOf"))
                && !map.contains_key("additionalProperties")
            {
                map.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
        }
    }
}

/// Which (method, route, status) the tests saw.
fn seen() -> &'static Mutex<BTreeSet<(String, String, u16)>> {
    static SEEN: OnceLock<Mutex<BTreeSet<(String, String, u16)>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// The document's path template that `path` matches (literal segments before parameters).
fn template(doc: &Value, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut best: Option<(usize, &String)> = None;
    for candidate in doc["paths"].as_object()?.keys() {
        let parts: Vec<&str> = candidate.split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let mut params = 0;
        let matches = parts.iter().zip(&segments).all(|(p, s)| {
            if p.starts_with('{') {
                params += 1;
                !s.is_empty()
            } else {
                p == s
            }
        });
        if matches && best.is_none_or(|(n, _)| params < n) {
            best = Some((params, candidate));
        }
    }
    best.map(|(_, t)| t.clone())
}

/// How a response compares with the document.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Not an API route (the dashboard, the fallback).
    NotInDocument,
    /// The route does not declare the status.
    Undeclared,
    /// Declared, and the body fits (or the declared content is not JSON).
    Fits,
}

/// Checks one response against the document: `Err` when a JSON body does not fit the declared schema.
pub(crate) fn check(
    method: &Method,
    uri: &str,
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Verdict, String> {
    let checker = checker();
    let path = uri.split('?').next().unwrap_or(uri);
    let Some(route) = template(&checker.doc, path) else { return Ok(Verdict::NotInDocument) };
    let method_name = method.as_str().to_ascii_lowercase();
    let Some(operation) = checker.doc["paths"][&route].get(&method_name) else {
        return Ok(Verdict::NotInDocument);
    };
    seen().lock().unwrap().insert((method.as_str().to_owned(), route.clone(), status.as_u16()));
    let Some(response) = operation["responses"].get(status.as_str()) else { return Ok(Verdict::Undeclared) };
    let Some(schema) = response["content"].get("application/json").map(|c| &c["schema"]) else {
        return Ok(Verdict::Fits);
    };
    if !content_type.is_some_and(|c| c.starts_with("application/json")) {
        return Err(format!("{method} {uri} -> {status}: declared JSON, answered {content_type:?}"));
    }
    let instance: Value =
        serde_json::from_slice(body).map_err(|e| format!("{method} {uri} -> {status}: the body is not JSON ({e})"))?;
    let key = format!("{method_name} {route} {status}");
    let validator = {
        let mut validators = checker.validators.lock().unwrap();
        match validators.get(&key) {
            Some(v) => v.clone(),
            None => {
                let wrapper = json!({"components": checker.components, "allOf": [schema]});
                let v = Arc::new(
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .build(&wrapper)
                        .map_err(|e| format!("{key}: the declared schema does not compile: {e}"))?,
                );
                validators.insert(key.clone(), v.clone());
                v
            }
        }
    };
    let errors: Vec<String> =
        validator.iter_errors(&instance).map(|e| format!("{} at {}", e, e.instance_path())).take(5).collect();
    if errors.is_empty() {
        Ok(Verdict::Fits)
    } else {
        Err(format!(
            "{method} {uri} -> {status}: the body does not fit the document ({key}):\n  {}\n{instance:#}",
            errors.join("\n  ")
        ))
    }
}

/// The (method, route) pairs of the document.
fn operations() -> BTreeSet<(String, String)> {
    let doc = &checker().doc;
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                out.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn no_response_of_the_document_is_a_bare_object() {
    let doc = &checker().doc;
    let mut bare = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                if let Some(schema) = response["content"].get("application/json").map(|c| &c["schema"])
                    && (schema == &json!({"type": "object"}) || schema == &json!({}))
                {
                    bare.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(bare.is_empty(), "responses with no schema: {bare:#?}");
}

#[test]
fn a_body_that_does_not_fit_is_caught() {
    let uri = "/v1/models/credit";
    let model = json!({"name": "credit", "description": "", "owner": "o", "risk_tier": "high", "use_case": "",
                       "tags": [], "created_at": "2026-01-01T00:00:00Z", "created_by": "token:admin",
                       "latest_version": null});
    let fits =
        |body: &Value| check(&Method::GET, uri, StatusCode::OK, Some("application/json"), body.to_string().as_bytes());
    assert_eq!(fits(&model), Ok(Verdict::Fits));
    let mut renamed = model.clone();
    let tier = renamed.as_object_mut().unwrap().remove("risk_tier").unwrap();
    renamed["tier"] = tier;
    assert!(fits(&renamed).is_err(), "a renamed field");
    let mut bad_tier = model.clone();
    bad_tier["risk_tier"] = json!("extreme");
    assert!(fits(&bad_tier).is_err(), "a value outside the closed set");
    let mut extra = model.clone();
    extra["secret"] = json!("x");
    assert!(fits(&extra).is_err(), "a field the document does not know");
    assert!(
        check(&Method::GET, uri, StatusCode::NOT_FOUND, Some("application/json"), br#"{"error": "gone"}"#).is_err(),
        "an error body of the wrong shape"
    );
}

const LR: &[u8] = br#"{"intercept": -0.5, "coefficients": {"duration": 0.02, "credit_amount": 0.0001}}"#;

/// Drives every route of the document to at least one success and one error; every status seen must be
/// declared, and every JSON body fits (checked in `TestApp::send`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_as_the_document_says() {
    let app = TestApp::new().await;
    let csv = german_csv();
    let admin = app.admin.clone();
    let a = Some(admin.as_str());
    let mut calls: Vec<(Method, String, StatusCode)> = Vec::new();
    macro_rules! call {
        ($method:expr, $uri:expr, $token:expr, $body:expr) => {{
            let (m, u): (Method, String) = ($method, $uri.to_string());
            let (status, body) = app.json(m.clone(), &u, $token, $body).await;
            calls.push((m, u, status));
            (status, body)
        }};
    }
    let viewer = app.token("viewer-1", "viewer").await;
    let v = Some(viewer.as_str());
    let validator = app.token("val-1", "validator").await;
    let risk = app.token("risk-1", "risk-officer").await;

    // Health, tokens.
    call!(Method::GET, "/healthz", None, Value::Null);
    call!(Method::GET, "/readyz", None, Value::Null);
    call!(Method::GET, "/v1/whoami", a, Value::Null);
    call!(Method::GET, "/v1/whoami", None, Value::Null);
    call!(
        Method::POST,
        "/v1/tokens",
        a,
        json!({"name": "tmp", "role": "viewer", "expires_at": "2099-01-01T00:00:00Z"})
    );
    call!(Method::POST, "/v1/tokens", a, json!({"name": "tmp", "role": "viewer"}));
    call!(Method::GET, "/v1/tokens", a, Value::Null);
    call!(Method::GET, "/v1/tokens", v, Value::Null);
    call!(Method::DELETE, "/v1/tokens/tmp", a, Value::Null);
    call!(Method::DELETE, "/v1/tokens/nobody", a, Value::Null);

    // Registry.
    call!(Method::POST, "/v1/models", a, json!({"name": "credit", "owner": "retail-risk", "risk_tier": "high"}));
    call!(Method::POST, "/v1/models", a, json!({"name": "credit", "owner": "retail-risk", "risk_tier": "high"}));
    call!(Method::GET, "/v1/models", a, Value::Null);
    call!(Method::GET, "/v1/models", None, Value::Null);
    call!(Method::GET, "/v1/models/credit", a, Value::Null);
    call!(Method::GET, "/v1/models/none", a, Value::Null);
    let metadata = json!({"format": "linear-json", "target": "risk", "protected": ["sex"],
                          "hyperparameters": {"C": 1.0}, "serving": {"lgd": 0.45, "exposure_column": "credit_amount"}});
    let register = |metadata: &Value| {
        multipart(&[
            ("metadata", None, metadata.to_string().as_bytes()),
            ("artifact", Some("model.json"), LR),
            ("reference", Some("reference.csv"), csv.as_slice()),
        ])
    };
    for _ in 0..2 {
        let (content_type, body) = register(&metadata);
        let (status, _) = app.send(Method::POST, "/v1/models/credit/versions", a, &content_type, body).await;
        calls.push((Method::POST, "/v1/models/credit/versions".into(), status));
    }
    let (content_type, body) = register(&json!({"format": "nope"}));
    let (status, _) = app.send(Method::POST, "/v1/models/credit/versions", a, &content_type, body).await;
    calls.push((Method::POST, "/v1/models/credit/versions".into(), status));
    call!(Method::GET, "/v1/models/credit/versions", a, Value::Null);
    call!(Method::GET, "/v1/models/none/versions", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/versions/1", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/versions/9", a, Value::Null);
    let (status, _) = app.send(Method::GET, "/v1/models/credit/versions/1/artifact", a, "", Vec::new()).await;
    calls.push((Method::GET, "/v1/models/credit/versions/1/artifact".into(), status));
    call!(Method::GET, "/v1/models/credit/versions/9/artifact", a, Value::Null);

    // Aliases.
    call!(Method::PUT, "/v1/models/credit/aliases/staging", a, json!({"version": 1, "reason": "try"}));
    call!(Method::PUT, "/v1/models/credit/aliases/staging", a, json!({"version": 99}));
    call!(Method::GET, "/v1/models/credit/aliases/staging", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/aliases/staging?at=yesterday", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/aliases", a, Value::Null);
    call!(Method::GET, "/v1/models/none/aliases", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/alias-history", a, Value::Null);
    call!(Method::GET, "/v1/models/none/alias-history", a, Value::Null);
    call!(Method::DELETE, "/v1/models/credit/aliases/staging", a, Value::Null);
    call!(Method::DELETE, "/v1/models/credit/aliases/champion", a, Value::Null);

    // Governance: validation, approvals, gate, policies, promotion.
    let validate = |target: &str| {
        multipart(&[
            ("metadata", None, json!({"target": target}).to_string().as_bytes()),
            ("data", Some("d.csv"), csv.as_slice()),
        ])
    };
    for (token, target) in [(validator.as_str(), "risk"), (validator.as_str(), "nope")] {
        let (content_type, body) = validate(target);
        let uri = "/v1/models/credit/versions/1/validations";
        let (status, _) = app.send(Method::POST, uri, Some(token), &content_type, body).await;
        calls.push((Method::POST, uri.into(), status));
    }
    call!(Method::GET, "/v1/models/credit/versions/1/validations", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/versions/9/validations", a, Value::Null);
    call!(
        Method::POST,
        "/v1/models/credit/versions/1/approvals",
        Some(validator.as_str()),
        json!({"decision": "approve", "comment": "fine"})
    );
    call!(
        Method::POST,
        "/v1/models/credit/versions/1/approvals",
        Some(risk.as_str()),
        json!({"decision": "maybe", "comment": "hm"})
    );
    call!(
        Method::POST,
        "/v1/models/credit/versions/1/approvals",
        Some(risk.as_str()),
        json!({"decision": "approve", "comment": "ok"})
    );
    call!(Method::GET, "/v1/models/credit/versions/1/approvals", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/versions/9/approvals", a, Value::Null);
    call!(Method::POST, "/v1/models/credit/versions/1/gate", a, json!({}));
    call!(Method::POST, "/v1/models/credit/versions/1/gate", a, json!({"alias": "staging"}));
    call!(Method::GET, "/v1/models/credit/versions/1/gate", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/versions/1/gate", v, Value::Null);
    call!(Method::GET, "/v1/policies", a, Value::Null);
    call!(Method::GET, "/v1/policies", None, Value::Null);
    call!(Method::PUT, "/v1/policies", a, json!({"files": {"gate.rego": "package warden\n"}}));
    let (_, bundle) = call!(Method::GET, "/v1/policies", a, Value::Null);
    call!(Method::PUT, "/v1/policies", a, bundle.get("files").map_or(Value::Null, |f| json!({"files": f})));
    call!(Method::GET, "/v1/policies/history", a, Value::Null);
    call!(Method::GET, "/v1/policies/history", None, Value::Null);
    call!(Method::POST, "/v1/models/credit/versions/2/promote", a, json!({}));
    call!(Method::POST, "/v1/models/credit/versions/1/promote", a, json!({"override": true, "reason": "INC-0"}));
    call!(
        Method::POST,
        "/v1/models/credit/versions/2/promote",
        a,
        json!({"alias": "canary", "traffic": 0.5, "override": true, "reason": "INC-1"})
    );

    // Scoring.
    use crate::scoring_tests::{features, german_rows};
    let rows = german_rows();
    let row = features(&rows[0]);
    call!(
        Method::POST,
        "/v1/models/credit/score",
        a,
        json!({"request_id": "one", "features": row, "explain": true,
        "attributes": {"sex": rows[0]["sex"]}})
    );
    call!(Method::POST, "/v1/models/credit/score", a, json!({"features": {"duration": "long"}}));
    call!(Method::GET, "/v1/models/credit/score/schema", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/score/schema?version=99", a, Value::Null);
    let batch: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"request_id": format!("r{i}"), "features": features(r), "attributes": {"sex": r["sex"]}}))
        .collect();
    call!(Method::POST, "/v1/models/credit/score/batch", a, Value::Array(batch));
    call!(
        Method::POST,
        "/v1/models/credit/score/batch",
        a,
        json!([{"request_id": "dup", "features": row}, {"request_id": "dup", "features": row}])
    );
    let labels: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"request_id": format!("r{i}"), "label": i64::from(r["risk"] == "0")}))
        .collect();
    call!(Method::POST, "/v1/outcomes", a, json!({"outcomes": labels}));
    call!(Method::POST, "/v1/outcomes", a, json!({"outcomes": [{"request_id": "nope", "label": 1}]}));
    // Decisions made elsewhere: a version served outside Warden, its reference data carrying its scores.
    call!(Method::POST, "/v1/models", a, json!({"name": "vendor", "owner": "retail-risk", "risk_tier": "low"}));
    let scored_csv: String = String::from_utf8(csv.clone())
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, line)| if i == 0 { format!("{line},pd\n") } else { format!("{line},0.{}\n", i % 10) })
        .collect();
    let (content_type, body) = multipart(&[
        (
            "metadata",
            None,
            json!({"format": "external", "target": "risk", "protected": ["sex"]}).to_string().as_bytes(),
        ),
        ("artifact", Some("model.json"), br#"{"score_column": "pd", "platform": "kserve"}"#),
        ("reference", Some("reference.csv"), scored_csv.as_bytes()),
    ]);
    let (status, _) = app.send(Method::POST, "/v1/models/vendor/versions", a, &content_type, body).await;
    assert_eq!(status, StatusCode::CREATED);
    let record = json!({"request_id": "e1", "version": 1, "at": "2026-01-01T00:00:00Z", "features": row,
        "score": 0.2});
    call!(Method::POST, "/v1/models/vendor/decisions", a, json!([record]));
    call!(Method::POST, "/v1/models/credit/decisions", a, json!([record]));
    // KServe's logger in structured mode (the whole CloudEvent in the body).
    let event = json!({"specversion": "1.0", "id": "ev-1", "type": "org.kubeflow.serving.inference.request",
        "source": "http://localhost:9081/", "datacontenttype": "application/json", "data": {"instances": [row]}});
    let uri = "/v1/models/vendor/versions/1/kserve-events";
    let (status, _) =
        app.send(Method::POST, uri, a, "application/cloudevents+json", event.to_string().into_bytes()).await;
    calls.push((Method::POST, uri.into(), status));
    let (status, _) = app.send(Method::POST, uri, a, "application/json", b"{}".to_vec()).await;
    calls.push((Method::POST, uri.into(), status));
    call!(Method::GET, "/v1/ingestion", a, Value::Null);
    call!(Method::GET, "/v1/ingestion", v, Value::Null);
    let (_, logged) = call!(Method::GET, "/v1/models/credit/decisions?limit=10", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/decisions", v, Value::Null);
    let request_id = logged[0]["request_id"].as_str().expect("credit has decisions").to_owned();
    let review = json!({"model": "credit", "action": "reverse", "reason_code": "model_error", "note": "n"});
    call!(Method::POST, format!("/v1/decisions/{request_id}/review"), a, review.clone());
    call!(Method::POST, format!("/v1/decisions/{request_id}/review"), v, review.clone());
    call!(Method::POST, "/v1/decisions/no-such-request/review", a, review);
    call!(Method::GET, format!("/v1/models/credit/decisions?request_id={request_id}"), a, Value::Null);
    call!(Method::GET, "/v1/models/credit/live", a, Value::Null);
    call!(Method::GET, "/v1/models/none/live", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/live/drift?seconds=60", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/live/drift?seconds=0", a, Value::Null);
    let (status, _) = app.send(Method::GET, "/metrics", a, "", Vec::new()).await;
    calls.push((Method::GET, "/metrics".into(), status));
    call!(Method::GET, "/metrics", None, Value::Null);

    // Monitoring.
    call!(Method::GET, "/v1/models/credit/monitors", a, Value::Null);
    call!(Method::GET, "/v1/models/none/monitors", a, Value::Null);
    call!(
        Method::PUT,
        "/v1/models/credit/monitors/feature_drift",
        a,
        json!({"window_seconds": 60, "min_decisions": 1, "warn": 0.0001, "alert": 0.0002})
    );
    call!(Method::PUT, "/v1/models/credit/monitors/odd", a, json!({"kind": "odd"}));
    call!(Method::POST, "/v1/monitors/evaluate", a, Value::Null);
    call!(Method::POST, "/v1/monitors/evaluate", v, Value::Null);
    call!(Method::GET, "/v1/models/credit/monitors/history?limit=5", a, Value::Null);
    call!(Method::GET, "/v1/models/none/monitors/history", a, Value::Null);
    let (_, alerts) = call!(Method::GET, "/v1/alerts", a, Value::Null);
    call!(Method::GET, "/v1/alerts?state=sleeping", a, Value::Null);
    let alert = alerts.as_array().and_then(|l| l.first()).and_then(|x| x["id"].as_i64());
    if let Some(id) = alert {
        call!(Method::GET, format!("/v1/alerts/{id}"), a, Value::Null);
        call!(Method::POST, format!("/v1/alerts/{id}/acknowledge"), a, json!({"comment": "on it"}));
    }
    call!(Method::GET, "/v1/alerts/999999", a, Value::Null);
    call!(Method::POST, "/v1/alerts/999999/acknowledge", a, json!({"comment": "?"}));
    let (_, incidents) = call!(Method::GET, "/v1/incidents", a, Value::Null);
    call!(Method::GET, "/v1/incidents?state=sleeping", a, Value::Null);
    if let Some(id) = incidents.as_array().and_then(|l| l.first()).and_then(|x| x["id"].as_i64()) {
        call!(Method::GET, format!("/v1/incidents/{id}"), a, Value::Null);
        call!(Method::POST, format!("/v1/incidents/{id}/resolve"), a, json!({"comment": "handled"}));
    }
    call!(Method::GET, "/v1/incidents/999999", a, Value::Null);
    call!(Method::POST, "/v1/incidents/999999/resolve", a, json!({"comment": "?"}));

    // Findings.
    let val = Some(validator.as_str());
    let ro = Some(risk.as_str());
    let raise = json!({"kind": "limitation", "severity": "medium", "title": "thin data for young applicants"});
    let (_, finding) = call!(Method::POST, "/v1/models/credit/findings", val, raise);
    call!(Method::POST, "/v1/models/credit/findings", val, json!({"kind": "rumour", "severity": "low", "title": "t"}));
    call!(Method::GET, "/v1/findings?model=credit&state=open", a, Value::Null);
    call!(Method::GET, "/v1/findings?state=sleeping", a, Value::Null);
    call!(Method::GET, "/v1/findings/999999", a, Value::Null);
    let id = finding["id"].as_i64().expect("a finding was raised");
    let tomorrow = warden_core::Timestamp::from_micros(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64 + 86_400_000_000,
    )
    .to_string();
    call!(Method::GET, format!("/v1/findings/{id}"), a, Value::Null);
    call!(Method::POST, format!("/v1/findings/{id}/propose"), a, json!({"remediation": "collect more"}));
    call!(Method::POST, format!("/v1/findings/{id}/except"), ro, json!({"until": tomorrow, "reason": "r"}));
    call!(Method::POST, format!("/v1/findings/{id}/accept"), ro, json!({"until": tomorrow, "reason": "r"}));
    call!(Method::POST, format!("/v1/findings/{id}/close"), val, json!({"evidence": "more data"}));
    call!(Method::POST, format!("/v1/findings/{id}/close"), val, json!({"evidence": "again"}));
    for action in ["propose", "except", "accept"] {
        call!(Method::POST, format!("/v1/findings/{id}/{action}"), ro, json!({"until": "soon"}));
    }
    call!(Method::GET, "/v1/attestations?model=credit&overdue=true", a, Value::Null);
    call!(Method::GET, "/v1/attestations?overdue=maybe", a, Value::Null);
    call!(
        Method::POST,
        "/v1/attestations/999999/submit",
        a,
        json!({"still_used_as_documented": true, "limitations_hold": true})
    );
    call!(Method::POST, "/v1/attestations/999999/submit", a, json!({"still_used_as_documented": "yes"}));
    call!(Method::POST, "/v1/attestations/999999/review", ro, json!({"accept": true}));
    call!(Method::POST, "/v1/attestations/999999/review", ro, json!({}));
    let report = warden_testdata::read("scans/trivy-pip.json");
    for (uri, body) in [
        ("/v1/models/credit/versions/1/findings/import?format=trivy", report.clone()),
        ("/v1/models/credit/versions/1/findings/import?format=sarif", report.clone()),
        ("/v1/models/credit/versions/1/findings/import?format=docx", report.clone()),
        ("/v1/models/credit/versions/9/findings/import?format=trivy", report.clone()),
        ("/v1/models/credit/versions/1/findings/import?format=grype", b"not json".to_vec()),
    ] {
        let (status, _) = app.send(Method::POST, uri, val, "application/json", body).await;
        calls.push((Method::POST, uri.into(), status));
    }

    // Retraining.
    call!(Method::POST, "/v1/models/credit/retrain", a, json!({}));
    call!(Method::POST, "/v1/models/credit/retrain", a, json!({"trainer": "nope"}));
    call!(Method::GET, "/v1/models/credit/retrain", a, Value::Null);
    call!(Method::GET, "/v1/models/none/retrain", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/challenger-report", a, Value::Null);
    call!(Method::GET, "/v1/models/none/challenger-report", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/retrain/schedule", a, Value::Null);
    call!(Method::PUT, "/v1/models/credit/retrain/schedule", a, json!({"every_hours": 24}));
    call!(Method::GET, "/v1/models/credit/retrain/schedule", a, Value::Null);
    call!(Method::PUT, "/v1/models/credit/retrain/schedule", a, json!({"trainer": "nope", "every_hours": 1}));
    call!(Method::GET, "/v1/models/none/retrain/schedule", a, Value::Null);

    // Overview, audit, ledger.
    call!(Method::GET, "/v1/inventory", a, Value::Null);
    call!(Method::GET, "/v1/inventory", None, Value::Null);
    call!(Method::GET, "/v1/kpis?days=30", a, Value::Null);
    call!(Method::GET, "/v1/kpis", None, Value::Null);
    call!(Method::GET, "/v1/models/credit/monitors/series?days=1&points=10", a, Value::Null);
    call!(Method::GET, "/v1/models/none/monitors/series", a, Value::Null);
    call!(Method::GET, "/v1/audit/events?limit=5", a, Value::Null);
    call!(Method::GET, "/v1/audit/events", v, Value::Null);
    let (status, _) = app.send(Method::GET, "/v1/ledger/key", None, "", Vec::new()).await;
    calls.push((Method::GET, "/v1/ledger/key".into(), status));
    call!(Method::GET, "/v1/identity-provider", None, Value::Null);
    call!(Method::POST, "/v1/integrations/mlflow/webhook", None, json!({"entity": "model_version"}));
    call!(Method::POST, "/v1/ledger/checkpoints", a, Value::Null);
    call!(Method::POST, "/v1/ledger/checkpoints", v, Value::Null);
    call!(Method::GET, "/v1/ledger/checkpoints", a, Value::Null);
    call!(Method::GET, "/v1/ledger/checkpoints", v, Value::Null);
    call!(Method::GET, "/v1/ledger/entries?limit=3", a, Value::Null);
    call!(Method::GET, "/v1/ledger/entries", v, Value::Null);
    call!(Method::GET, "/v1/ledger/entries/0/proof", a, Value::Null);
    call!(Method::GET, "/v1/ledger/entries/999999/proof", a, Value::Null);
    call!(Method::POST, "/v1/ledger/verify", a, Value::Null);
    call!(Method::POST, "/v1/ledger/verify", v, Value::Null);
    let (status, _) = app.send(Method::GET, "/v1/models/credit/evidence", a, "", Vec::new()).await;
    calls.push((Method::GET, "/v1/models/credit/evidence".into(), status));
    call!(Method::GET, "/v1/models/none/evidence", a, Value::Null);
    let docs = "/v1/models/credit/docs?template=model-documentation";
    let (status, _) = app.send(Method::GET, docs, a, "", Vec::new()).await;
    calls.push((Method::GET, docs.into(), status));
    call!(Method::GET, "/v1/models/credit/docs?template=novel", a, Value::Null);
    call!(Method::GET, "/v1/models/none/docs?template=model-documentation", a, Value::Null);
    let inventory = "/v1/inventory/docs?period=last-7-days";
    let (status, _) = app.send(Method::GET, inventory, a, "", Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{inventory}");
    calls.push((Method::GET, inventory.into(), status));
    call!(Method::GET, "/v1/inventory/docs?template=eu-ai-act-annex-iv", a, Value::Null);
    call!(Method::GET, "/v1/inventory/docs?period=2026-13", v, Value::Null);
    for format in ["cyclonedx", "spdx"] {
        let path = format!("/v1/models/credit/versions/1/exports/{format}");
        let (status, _) = app.send(Method::GET, &path, a, "", Vec::new()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        calls.push((Method::GET, path, status));
    }
    call!(Method::GET, "/v1/models/credit/versions/1/exports/sbom", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/versions/99/exports/spdx", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/versions/one/exports/spdx", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/traceability?framework=eu-ai-act", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/traceability?framework=iso-42001", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/traceability", a, Value::Null);
    call!(Method::GET, "/v1/models/none/traceability?framework=ss1-23", a, Value::Null);

    // Inventory fields and tiering: the schema, a model's fields (the default tiering keeps `credit` high), an
    // override and its clearing.
    call!(Method::GET, "/v1/inventory/fields", a, Value::Null);
    call!(Method::PATCH, "/v1/models/credit/fields", ro, json!({"set": {"exposure": 1}}));
    call!(Method::PUT, "/v1/inventory/fields", ro, json!({"type": "object"}));
    let schema = json!({"type": "object", "properties": {
        "exposure": {"type": "number", "minimum": 0},
        "intended_use": {"type": "string", "x-warden-material": true}}});
    call!(Method::PUT, "/v1/inventory/fields", ro, schema);
    call!(Method::GET, "/v1/inventory/fields", a, Value::Null);
    call!(
        Method::PATCH,
        "/v1/models/credit/fields",
        ro,
        json!({"set": {"exposure": 250000000, "intended_use": "loans"}})
    );
    call!(Method::PATCH, "/v1/models/credit/fields", ro, json!({"set": {"exposure": -1}}));
    call!(Method::PATCH, "/v1/models/credit/fields", ro, json!({"set": 1}));
    call!(Method::PATCH, "/v1/models/none/fields", ro, json!({"set": {"exposure": 1}}));
    call!(Method::GET, "/v1/inventory?where=intended_use=loans&q=LOA&tier=high", a, Value::Null);
    call!(Method::GET, "/v1/inventory?where=intended_use", a, Value::Null);
    call!(Method::GET, "/v1/models/credit/tier", a, Value::Null);
    call!(Method::GET, "/v1/models/none/tier", a, Value::Null);
    call!(Method::PUT, "/v1/models/credit/tier", ro, json!({"tier": null, "reason": "not overridden"}));
    call!(Method::PUT, "/v1/models/credit/tier", ro, json!({"tier": "low", "reason": " "}));
    call!(Method::PUT, "/v1/models/credit/tier", ro, json!({"tier": "extreme", "reason": "r"}));
    call!(Method::PUT, "/v1/models/credit/tier", ro, json!({"tier": "low", "reason": "pilot with ten customers"}));
    call!(Method::PUT, "/v1/models/credit/tier", ro, json!({"tier": null, "reason": "pilot over"}));
    call!(Method::PUT, "/v1/models/none/tier", ro, json!({"tier": "low", "reason": "r"}));

    // Regulators' clocks on an incident that does not exist.
    call!(
        Method::POST,
        "/v1/incidents/999999/classify",
        ro,
        json!({"framework": "dora", "classified_at": "2026-01-01T00:00:00Z"})
    );
    call!(
        Method::POST,
        "/v1/incidents/999999/reports",
        ro,
        json!({"framework": "dora", "kind": "initial", "reference": "r"})
    );
    call!(Method::GET, "/v1/incidents/999999/clocks", a, Value::Null);
    call!(Method::GET, "/v1/incidents/999999/dora-report?kind=initial", a, Value::Null);
    call!(Method::GET, "/v1/incidents/999999/dora-report?kind=annual", a, Value::Null);

    // The stop switch: suspended, scored by its fallback (no score), resumed.
    call!(Method::GET, "/v1/models/credit/suspension", v, Value::Null);
    call!(Method::GET, "/v1/models/none/suspension", v, Value::Null);
    call!(Method::POST, "/v1/models/credit/suspend", ro, json!({"reason": "r", "fallback": "version"}));
    call!(Method::POST, "/v1/models/credit/suspend", ro, json!({"reason": "r", "fallback": "halt"}));
    call!(Method::POST, "/v1/models/credit/suspend", v, json!({"reason": "r", "fallback": "refer"}));
    call!(Method::POST, "/v1/models/none/suspend", ro, json!({"reason": "r", "fallback": "refer"}));
    call!(Method::POST, "/v1/models/credit/suspend", ro, json!({"reason": "kill switch drill", "fallback": "refer"}));
    call!(Method::POST, "/v1/models/credit/suspend", ro, json!({"reason": "again", "fallback": "refer"}));
    call!(Method::GET, "/v1/models/credit/suspension", v, Value::Null);
    let (status, answered) = call!(Method::POST, "/v1/models/credit/score", a, json!({"features": row}));
    assert_eq!(
        (status, answered["route"].as_str(), answered["decision"].as_str()),
        (StatusCode::OK, Some("fallback"), Some("refer"))
    );
    assert!(answered["score"].is_null(), "{answered}");
    call!(Method::GET, "/v1/models/credit/decisions?limit=100000", a, Value::Null);
    call!(Method::POST, "/v1/models/credit/resume", ro, json!({"reason": "drill over"}));
    call!(Method::POST, "/v1/models/credit/resume", ro, json!({"reason": "again"}));

    // A data policy: refused below the bundle's floor, for an unknown field, or to a validator; then declared,
    // and one person's data erased once (a second erasure finds nothing).
    call!(Method::GET, "/v1/models/credit/data-policy", v, Value::Null);
    call!(Method::GET, "/v1/models/none/data-policy", v, Value::Null);
    call!(
        Method::PUT,
        "/v1/models/credit/data-policy",
        ro,
        json!({"retention": {"decisions_days": 30}, "reason": "r"})
    );
    call!(Method::PUT, "/v1/models/credit/data-policy", ro, json!({"retention": {"days": 30}, "reason": "r"}));
    call!(Method::PUT, "/v1/models/credit/data-policy", v, json!({"reason": "r"}));
    call!(Method::PUT, "/v1/models/none/data-policy", ro, json!({"reason": "r"}));
    let policy = json!({"retention": {"decisions_days": 2557, "features_days": 365},
        "personal": {"subject_key": "customer"}, "reason": "credit files are kept seven years"});
    let (status, declared) = call!(Method::PUT, "/v1/models/credit/data-policy", ro, policy);
    assert_eq!((status, declared["min_decision_days"].as_u64()), (StatusCode::OK, Some(183)), "{declared}");
    call!(Method::POST, "/v1/models/credit/score", a, json!({"features": row, "attributes": {"customer": "C-77"}}));
    call!(Method::POST, "/v1/subjects/erase", ro, json!({"subject_key": "", "reason": "r"}));
    call!(Method::POST, "/v1/subjects/erase", v, json!({"subject_key": "C-77", "reason": "r"}));
    let (status, erased) =
        call!(Method::POST, "/v1/subjects/erase", ro, json!({"subject_key": "C-77", "reason": "request 2026-118"}));
    assert_eq!((status, erased["erased"][0]["rows"].as_i64()), (StatusCode::OK, Some(1)), "{erased}");
    call!(Method::POST, "/v1/subjects/erase", ro, json!({"subject_key": "C-77", "reason": "again"}));

    // Retirement, last: `credit` is high tier, so a risk officer asks and the administrator confirms; then
    // scoring, ingestion and registration answer 410.
    call!(Method::POST, "/v1/models/credit/retire", ro, json!({"reason": " "}));
    call!(Method::POST, "/v1/models/credit/retire", ro, json!({"reason": "replaced by credit-2027"}));
    call!(Method::POST, "/v1/models/credit/retire", ro, json!({"reason": "again"}));
    call!(Method::POST, "/v1/models/none/retire", ro, json!({"reason": "r"}));
    call!(Method::POST, "/v1/models/credit/retire", a, json!({"reason": "confirmed"}));
    call!(Method::POST, "/v1/models/credit/retire", a, json!({"reason": "twice"}));
    call!(Method::POST, "/v1/models/credit/score", a, json!({"features": {}}));
    call!(Method::POST, "/v1/models/credit/score/batch", a, json!([{"features": {}}]));
    call!(Method::PATCH, "/v1/models/credit/fields", ro, json!({"set": {"exposure": 1}}));
    call!(Method::PUT, "/v1/models/credit/tier", ro, json!({"tier": "low", "reason": "retired"}));
    call!(Method::GET, "/v1/models/credit/score/schema", a, Value::Null);
    let (status, _) =
        call!(Method::POST, "/v1/models/vendor/retire", ro, json!({"reason": "the vendor contract ended"}));
    assert_eq!(status, StatusCode::OK, "a low tier model is retired at once");
    let (status, _) = call!(Method::POST, "/v1/models/vendor/decisions", a, json!([record]));
    assert_eq!(status, StatusCode::GONE, "a retired model ingests nothing");
    let event = json!({"specversion": "1.0", "id": "ev-2", "type": "org.kubeflow.serving.inference.request",
        "source": "http://localhost:9081/", "datacontenttype": "application/json", "data": {"instances": [row]}});
    let uri = "/v1/models/vendor/versions/1/kserve-events";
    let (status, _) =
        app.send(Method::POST, uri, a, "application/cloudevents+json", event.to_string().into_bytes()).await;
    calls.push((Method::POST, uri.into(), status));
    assert_eq!(status, StatusCode::GONE, "nor either half of a KServe event");
    let (status, _) = app.send(Method::GET, "/v1/models/credit/evidence", a, "", Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "a retired model's evidence is still exported");

    // Every status seen is declared; every operation answered a success and an error.
    let doc = &checker().doc;
    let mut undeclared = Vec::new();
    let mut outcomes: BTreeMap<(String, String), (bool, bool)> = BTreeMap::new();
    for (method, uri, status) in &calls {
        let path = uri.split('?').next().unwrap();
        let Some(route) = template(doc, path) else { panic!("{uri} is not in the document") };
        if doc["paths"][&route][method.as_str().to_ascii_lowercase()]["responses"].get(status.as_str()).is_none() {
            undeclared.push(format!("{method} {uri} -> {status}"));
        }
        let entry = outcomes.entry((method.as_str().to_owned(), route)).or_default();
        if status.is_success() {
            entry.0 = true;
        } else {
            entry.1 = true;
        }
    }
    assert!(undeclared.is_empty(), "statuses the document does not declare: {undeclared:#?}");
    let operations = operations();
    let missing: Vec<_> = operations.iter().filter(|op| !outcomes.contains_key(*op)).collect();
    assert!(missing.is_empty(), "operations the test never called: {missing:#?}");
    let no_success: Vec<_> = outcomes.iter().filter(|(_, (ok, _))| !ok).map(|(op, _)| op).collect();
    let no_error: Vec<_> = outcomes
        .iter()
        .filter(|(op, (_, err))| {
            !err && op.1 != "/healthz" && op.1 != "/readyz" && op.1 != "/v1/ledger/key" && op.1 != "/v1/openapi.json"
        })
        .map(|(op, _)| op)
        .collect();
    // An alert or incident to read, acknowledge or resolve needs traffic that drifts for a while: those
    // successes are checked (by the same hook) in the monitoring and governance tests. The identity provider
    // is answered only with one configured: `warden login` reads it in crates/warden/tests/it/identity.rs; the
    // MLflow webhook likewise, in mlflow_tests.rs. An attestation opens 30 days before it is due: submitting
    // and reviewing one succeed (under the same hook) in governance_tests.rs, which moves the clock.
    let no_success: Vec<_> = no_success
        .into_iter()
        .filter(|(_, route)| {
            !route.starts_with("/v1/attestations/{id}")
                && !route.starts_with("/v1/alerts/{id}")
                && !route.starts_with("/v1/incidents/{id}")
                && route != "/v1/identity-provider"
                && route != "/v1/integrations/mlflow/webhook"
        })
        .collect();
    assert!(no_success.is_empty(), "operations that never succeeded: {no_success:#?}");
    assert!(no_error.is_empty(), "operations never driven to an error: {no_error:#?}");
    eprintln!(
        "{} operations, {} (method, route, status) seen across this crate's tests so far",
        operations.len(),
        seen().lock().unwrap().len()
    );
}
