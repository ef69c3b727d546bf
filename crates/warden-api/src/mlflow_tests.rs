//! MLflow's registry webhook at the API's edge: signatures, replays, events Warden does not act on, models it
//! does not have, an MLflow it cannot reach; every verified delivery audited. The import itself runs against
//! a real MLflow server in `crates/warden/tests/it/mlflow.rs`.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use serde_json::{Value, json};
use tower::ServiceExt;
use warden_registry::mlflow::MlflowConfig;

use crate::tests::TestApp;

const SECRET: &str = "an-mlflow-webhook-secret";
const PATH: &str = "/v1/integrations/mlflow/webhook";

async fn with_mlflow() -> TestApp {
    TestApp::with_config(|config| warden_registry::Config {
        mlflow: Some(MlflowConfig { tracking_uri: "http://127.0.0.1:9".into(), webhook_secret: SECRET.into() }),
        ..config
    })
    .await
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// MLflow's signature: `v1,` + base64(HMAC-SHA256(secret, "ID.TIMESTAMP.BODY")).
fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag.as_ref()))
}

fn event(entity: &str, action: &str, data: Value) -> String {
    json!({"entity": entity, "action": action, "timestamp": "2026-12-06T00:00:00+00:00", "data": data}).to_string()
}

impl TestApp {
    async fn deliver(&self, id: &str, timestamp: i64, signature: Option<&str>, body: &str) -> (StatusCode, Value) {
        let mut request = Request::post(PATH)
            .header("content-type", "application/json")
            .header("x-mlflow-delivery-id", id)
            .header("x-mlflow-timestamp", timestamp.to_string());
        if let Some(signature) = signature {
            request = request.header("x-mlflow-signature", signature);
        }
        let response =
            crate::app(self.warden.clone()).oneshot(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
        let status = response.status();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        if let Err(mismatch) = crate::openapi_tests::check(&Method::POST, PATH, status, content_type.as_deref(), &bytes)
        {
            panic!("{mismatch}");
        }
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn signed(&self, id: &str, body: &str) -> (StatusCode, Value) {
        let at = now_seconds();
        self.deliver(id, at, Some(&sign(SECRET, id, at, body)), body).await
    }

    async fn deliveries(&self) -> Vec<Value> {
        let (status, events) =
            self.json(Method::GET, "/v1/audit/events?limit=1000", Some(&self.admin), Value::Null).await;
        assert_eq!(status, StatusCode::OK);
        events.as_array().unwrap().iter().filter(|e| e["action"] == "mlflow.delivery").cloned().collect()
    }
}

#[tokio::test]
async fn deliveries_are_refused_unless_mlflow_is_configured_and_the_signature_holds() {
    let plain = TestApp::new().await;
    let body = event("registered_model", "created", json!({"name": "credit"}));
    let (status, answer) = plain.signed("d-0", &body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("--mlflow-tracking-uri"));

    let app = with_mlflow().await;
    let at = now_seconds();
    let forged = sign("another-secret-entirely", "d-1", at, &body);
    let (status, answer) = app.deliver("d-1", at, Some(&forged), &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("does not match"));
    // The signature covers the body: the same signature on another body fails.
    let signed = sign(SECRET, "d-1", at, &body);
    let other = event("model_version", "created", json!({"name": "credit", "version": "1"}));
    assert_eq!(app.deliver("d-1", at, Some(&signed), &other).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.deliver("d-1", at, None, &body).await.0, StatusCode::UNAUTHORIZED);
    // Signed, but six minutes old: a replay.
    let old = at - 360;
    let (status, answer) = app.deliver("d-1", old, Some(&sign(SECRET, "d-1", old, &body)), &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(answer["error"]["message"].as_str().unwrap().contains("replay"), "{answer}");
    // A bearer token is no substitute for the signature.
    let request = Request::post(PATH)
        .header("authorization", format!("Bearer {}", app.admin))
        .header("content-type", "application/json")
        .header("x-mlflow-delivery-id", "d-1")
        .header("x-mlflow-timestamp", at.to_string())
        .header("x-mlflow-signature", &forged)
        .body(Body::from(body.clone()))
        .unwrap();
    let response = crate::app(app.warden.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A header of many candidate signatures is refused before any is checked (each would cost an HMAC).
    let many = vec![forged.as_str(); 5].join(" ");
    let (status, answer) = app.deliver("d-1", at, Some(&many), &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(answer["error"]["message"].as_str().unwrap().contains("at most 4"), "{answer}");
    // Too large for a delivery.
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(300 << 10));
    assert_eq!(app.signed("d-2", &huge).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(app.deliveries().await.is_empty(), "refused deliveries are not audited");
}

#[tokio::test]
async fn verified_deliveries_are_audited_once_and_resent_ones_are_recognised() {
    let app = with_mlflow().await;
    app.create_model("credit").await;

    let other = event("registered_model", "created", json!({"name": "credit"}));
    let (status, answer) = app.signed("d-1", &other).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("ignored")), "{answer}");
    assert!(answer["reason"].as_str().unwrap().contains("registered_model.created"));
    let (status, answer) = app.signed("d-1", &other).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("duplicate")), "{answer}");

    let unknown = event("model_version", "created", json!({"name": "not-in-warden", "version": "3"}));
    let (status, answer) = app.signed("d-2", &unknown).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("ignored")), "{answer}");
    assert!(answer["reason"].as_str().unwrap().contains("'not-in-warden'"));

    // A model Warden has, from an MLflow it cannot reach: 503 so MLflow tries again, and the attempt audited.
    let created = event("model_version", "created", json!({"name": "credit", "version": "1", "run_id": "r"}));
    let (status, answer) = app.signed("d-3", &created).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("cannot reach the MLflow tracking server"));
    let (status, _) = app.signed("d-3", &created).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "a failed delivery is tried again, not taken as a duplicate");
    let malformed = event("model_version", "created", json!({"name": "credit"}));
    assert_eq!(app.signed("d-4", &malformed).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    let audited = app.deliveries().await;
    let outcomes: Vec<(&str, &str)> = audited
        .iter()
        .map(|e| (e["payload"]["delivery_id"].as_str().unwrap(), e["payload"]["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [("d-1", "ignored"), ("d-2", "ignored"), ("d-3", "failed"), ("d-3", "failed")]);
    for event in &audited {
        assert_eq!(event["actor"], "mlflow:http://127.0.0.1:9", "{event}");
    }
    assert_eq!(audited[2]["subject"], "model/credit");
    assert_eq!(audited[2]["payload"]["mlflow_model_uri"], "models:/credit/1");
}
