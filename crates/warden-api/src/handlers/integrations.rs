//! Systems around Warden that call in: MLflow's model registry webhook.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use warden_registry::mlflow::{self, DeliveryHeaders, DeliveryOutcome};

use super::AppState;
use crate::error::ApiError;
use crate::wire::{ErrorBody, MlflowDeliveryBody, MlflowDeliveryOutcome};

/// MLflow's registry webhook (`model_version.created`, `model_version_alias.created`): signed with the
/// configured secret (`X-MLflow-Signature`, HMAC-SHA256 of `ID.TIMESTAMP.BODY`), it makes the MLflow version a
/// candidate version of the Warden model of the same name, once. No bearer token: the signature is the
/// credential. 404 when MLflow is not configured; 503 when MLflow or the store cannot answer (MLflow retries).
#[utoipa::path(post, path = "/v1/integrations/mlflow/webhook", tag = "registry", security(()),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "MLflow's delivery: {entity, action, timestamp, data}"),
    params(("X-MLflow-Delivery-Id" = String, Header, description = "The delivery's id"),
        ("X-MLflow-Timestamp" = String, Header, description = "Unix seconds; refused five minutes away"),
        ("X-MLflow-Signature" = String, Header, description = "v1,BASE64(HMAC-SHA256)")),
    responses((status = 200, body = MlflowDeliveryBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn mlflow_webhook(
    State(warden): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<MlflowDeliveryBody>, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let delivery = DeliveryHeaders {
        id: header("x-mlflow-delivery-id"),
        timestamp: header("x-mlflow-timestamp"),
        signature: header("x-mlflow-signature"),
    };
    let outcome = mlflow::receive_delivery(&warden, &delivery, &body).await?;
    let (outcome, model, version, reason) = match outcome {
        DeliveryOutcome::Imported { model, version } => {
            (MlflowDeliveryOutcome::Imported, Some(model), Some(version), None)
        }
        DeliveryOutcome::AlreadyRegistered { model, version } => {
            (MlflowDeliveryOutcome::AlreadyRegistered, Some(model), Some(version), None)
        }
        DeliveryOutcome::Ignored { reason } => (MlflowDeliveryOutcome::Ignored, None, None, Some(reason)),
        DeliveryOutcome::Duplicate => (MlflowDeliveryOutcome::Duplicate, None, None, None),
    };
    Ok(Json(MlflowDeliveryBody { outcome, model, version, reason }))
}
