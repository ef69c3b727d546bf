use axum::Json;
use axum::extract::State;
use warden_registry::registry::{self, AuditQuery};

use super::AppState;
use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller};
use crate::wire::{AuditEventBody, AuditEventsQuery, ErrorBody, ToWire};

/// Audit events in order (validator, risk-officer, admin).
#[utoipa::path(get, path = "/v1/audit/events", tag = "audit", params(AuditEventsQuery),
    responses((status = 200, body = Vec<AuditEventBody>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn list_events(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<AuditEventsQuery>,
) -> Result<Json<Vec<AuditEventBody>>, ApiError> {
    let query =
        AuditQuery { after_seq: query.after.unwrap_or(0), subject: query.subject, limit: query.limit.unwrap_or(100) };
    let events = registry::audit_events(&warden, &caller, query).await?;
    Ok(Json(events.into_iter().map(ToWire::to_wire).collect()))
}
