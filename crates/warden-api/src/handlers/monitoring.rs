//! Monitors: list, set, evaluate now, history.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use warden_oversight::monitoring::{self, MonitorChange};
use warden_oversight::{alerts, clocks};
use warden_registry::auth::Permission;

use super::{AppState, to_json};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::wire::{
    AcknowledgeBody, AlertBody, AlertWithEvents, AlertsQuery, ClassifyBody, DoraReportBody, DoraReportQuery, ErrorBody,
    EvaluationCount, IncidentBody, IncidentClocksBody, IncidentWithTimeline, IncidentsQuery, MonitorBody,
    MonitorChangeBody, MonitorEvaluationBody, MonitorHistoryQuery, ReportSubmittedBody, ToWire, retype,
};

/// A model's monitors.
#[utoipa::path(get, path = "/v1/models/{name}/monitors", tag = "monitoring",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = Vec<MonitorBody>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_monitors(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<MonitorBody>>, ApiError> {
    to_json(monitoring::list(&warden, &caller, &name).await?)
}

/// Create or change a monitor: `kind`, `window_seconds`, `min_decisions`, `warn`, `alert`, `features`,
/// `enabled` (validator, risk-officer, admin).
#[utoipa::path(put, path = "/v1/models/{name}/monitors/{monitor}", tag = "monitoring", request_body = MonitorChangeBody,
    params(("name" = String, Path, description = "Model name"), ("monitor" = String, Path, description = "Monitor")),
    responses((status = 200, body = MonitorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn set_monitor(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, monitor)): Path<(String, String)>,
    ApiJson(change): ApiJson<MonitorChangeBody>,
) -> Result<Json<MonitorBody>, ApiError> {
    // The same fields under the same names: the lifecycle reads the body's serde form.
    let change: MonitorChange = serde_json::to_value(change)
        .and_then(serde_json::from_value)
        .map_err(|e| ApiError::bad_request(format!("monitor change: {e}")))?;
    to_json(monitoring::set(&warden, &caller, &name, &monitor, change).await?)
}

/// Evaluate every enabled monitor now (the schedule does it every few seconds too).
#[utoipa::path(post, path = "/v1/monitors/evaluate", tag = "monitoring",
    responses((status = 200, body = EvaluationCount), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn evaluate_monitors(
    State(warden): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<EvaluationCount>, ApiError> {
    caller.require(Permission::ManageMonitors)?;
    let evaluations = warden_oversight::round::run(&warden, monitoring::Round::Now).await?;
    Ok(Json(EvaluationCount { evaluations: evaluations.len() }))
}

/// A model's monitor evaluations, oldest first (`monitor` to pick one, `limit` newest, default 1000).
#[utoipa::path(get, path = "/v1/models/{name}/monitors/history", tag = "monitoring",
    params(("name" = String, Path, description = "Model name"), MonitorHistoryQuery),
    responses((status = 200, body = Vec<MonitorEvaluationBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn monitor_history(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<MonitorHistoryQuery>,
) -> Result<Json<Vec<MonitorEvaluationBody>>, ApiError> {
    let limit = query.limit.unwrap_or(1000);
    to_json(monitoring::history(&warden, &caller, &name, query.monitor.as_deref(), limit).await?)
}

/// Alerts, newest first (`state`: firing, acknowledged, resolved or open; `model`).
#[utoipa::path(get, path = "/v1/alerts", tag = "monitoring", params(AlertsQuery),
    responses((status = 200, body = Vec<AlertBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn list_alerts(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<AlertsQuery>,
) -> Result<Json<Vec<AlertBody>>, ApiError> {
    to_json(alerts::list(&warden, &caller, query.state.as_deref(), query.model.as_deref()).await?)
}

/// One alert with its timeline of events.
#[utoipa::path(get, path = "/v1/alerts/{id}", tag = "monitoring",
    params(("id" = i64, Path, description = "Alert id")),
    responses((status = 200, body = AlertWithEvents), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_alert(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Result<Json<AlertWithEvents>, ApiError> {
    let (alert, events) = alerts::get(&warden, &caller, id).await?;
    Ok(Json(AlertWithEvents { alert: retype(alert)?, events: retype(events)? }))
}

/// Acknowledge a firing alert (validator, risk-officer, admin).
#[utoipa::path(post, path = "/v1/alerts/{id}/acknowledge", tag = "monitoring", request_body = AcknowledgeBody,
    params(("id" = i64, Path, description = "Alert id")),
    responses((status = 200, body = AlertBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn acknowledge_alert(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AcknowledgeBody>,
) -> Result<Json<AlertBody>, ApiError> {
    to_json(alerts::acknowledge(&warden, &caller, id, &body.comment).await?)
}

/// Classify an incident under a framework (validator, risk-officer, admin): DORA's major ICT-related
/// incident, the AI Act's serious incident, or the firm's own severity. The answer is its clocks: each report
/// owed to the authority, when it is due and what is left.
#[utoipa::path(post, path = "/v1/incidents/{id}/classify", tag = "monitoring", request_body = ClassifyBody,
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentClocksBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn classify_incident(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ClassifyBody>,
) -> Result<Json<IncidentClocksBody>, ApiError> {
    let input = clocks::ClassifyInput {
        framework: body.framework,
        classified_at: body.classified_at.map(|t| t.micros()),
        aware_at: body.aware_at.map(|t| t.micros()),
        ground: body.ground,
        severity: body.severity,
        note: body.note,
    };
    Ok(Json(clocks::classify(&warden, &caller, id, input).await?.to_wire()?))
}

/// Record a report as submitted to the authority (validator, risk-officer, admin).
#[utoipa::path(post, path = "/v1/incidents/{id}/reports", tag = "monitoring", request_body = ReportSubmittedBody,
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 201, body = IncidentClocksBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn record_incident_report(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ReportSubmittedBody>,
) -> Result<(StatusCode, Json<IncidentClocksBody>), ApiError> {
    let submitted_at = body.submitted_at.map(|t| t.micros());
    let state = clocks::record_report(
        &warden,
        &caller,
        id,
        body.framework,
        body.kind,
        submitted_at,
        &body.reference,
        body.content_sha256,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(state.to_wire()?)))
}

/// An incident's regulatory clocks: its classifications, the reports they owe, each report's due time,
/// stage and seconds left, and the reports recorded as submitted.
#[utoipa::path(get, path = "/v1/incidents/{id}/clocks", tag = "monitoring",
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentClocksBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn incident_clocks(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Result<Json<IncidentClocksBody>, ApiError> {
    Ok(Json(clocks::clocks(&warden, &caller, id).await?.to_wire()?))
}

/// A DORA major incident report's content (`kind`: initial, intermediate or final) in the ESAs' template
/// fields, filled from the incident, its timeline, the affected model and its decisions in the affected period;
/// the fields only the firm knows are listed in `to_complete`. 422 when the incident is not classified under
/// DORA.
#[utoipa::path(get, path = "/v1/incidents/{id}/dora-report", tag = "monitoring",
    params(("id" = i64, Path, description = "Incident id"), DoraReportQuery),
    responses((status = 200, body = DoraReportBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn dora_report(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiQuery(query): ApiQuery<DoraReportQuery>,
) -> Result<Json<DoraReportBody>, ApiError> {
    Ok(Json(warden_oversight::dora::report(&warden, &caller, id, query.kind).await?.to_wire()))
}

/// Resolve an open incident by hand, with the reason (validator, risk-officer, admin).
#[utoipa::path(post, path = "/v1/incidents/{id}/resolve", tag = "monitoring", request_body = AcknowledgeBody,
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn resolve_incident(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AcknowledgeBody>,
) -> Result<Json<IncidentBody>, ApiError> {
    to_json(alerts::resolve_incident(&warden, &caller, id, &body.comment).await?)
}

/// Incidents, newest first (`state`: open or resolved).
#[utoipa::path(get, path = "/v1/incidents", tag = "monitoring", params(IncidentsQuery),
    responses((status = 200, body = Vec<IncidentBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn list_incidents(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<IncidentsQuery>,
) -> Result<Json<Vec<IncidentBody>>, ApiError> {
    to_json(alerts::incidents(&warden, &caller, query.state.as_deref()).await?)
}

/// One incident with its timeline (alerts, actions, acknowledgements, resolution).
#[utoipa::path(get, path = "/v1/incidents/{id}", tag = "monitoring",
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentWithTimeline), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_incident(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Result<Json<IncidentWithTimeline>, ApiError> {
    let (incident, timeline) = alerts::incident(&warden, &caller, id).await?;
    Ok(Json(IncidentWithTimeline { incident: retype(incident)?, timeline: retype(timeline)? }))
}
