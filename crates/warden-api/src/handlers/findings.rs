//! Findings: raise, import from scanner reports, list, show, and move through their life (propose, close,
//! accept, except).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use warden_oversight::findings::{self, NewFinding};

use super::{AppState, to_json};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::wire::{
    AttestationBody, AttestationsQuery, CloseFindingBody, ErrorBody, FindingBody, FindingsQuery, ImportFindingsQuery,
    ProposeRemediationBody, RaiseFindingBody, ReviewAttestationBody, ScanImportBody, SubmitAttestationBody, UntilBody,
};

/// Raise a finding against a model or one of its versions (validator, risk-officer, admin); its due date
/// follows from its severity by the policy in force.
#[utoipa::path(post, path = "/v1/models/{name}/findings", tag = "findings", request_body = RaiseFindingBody,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 201, body = FindingBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn raise_finding(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<RaiseFindingBody>,
) -> Result<(StatusCode, Json<FindingBody>), ApiError> {
    let new = NewFinding {
        version: body.version,
        kind: body.kind,
        severity: body.severity,
        title: body.title,
        description: body.description,
        owner: body.owner,
    };
    Ok((StatusCode::CREATED, to_json(findings::raise(&warden, &caller, &name, new).await?)?))
}

/// Findings, newest first (`model`, `state` and `overdue` narrow them).
#[utoipa::path(get, path = "/v1/findings", tag = "findings", params(FindingsQuery),
    responses((status = 200, body = Vec<FindingBody>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn list_findings(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<FindingsQuery>,
) -> Result<Json<Vec<FindingBody>>, ApiError> {
    to_json(findings::list(&warden, &caller, query.model.as_deref(), query.state, query.overdue).await?)
}

/// One finding.
#[utoipa::path(get, path = "/v1/findings/{id}", tag = "findings",
    params(("id" = i64, Path, description = "Finding id")),
    responses((status = 200, body = FindingBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_finding(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Result<Json<FindingBody>, ApiError> {
    to_json(findings::get(&warden, &caller, id).await?)
}

/// Propose how an open finding is remediated (data-scientist, admin).
#[utoipa::path(post, path = "/v1/findings/{id}/propose", tag = "findings", request_body = ProposeRemediationBody,
    params(("id" = i64, Path, description = "Finding id")),
    responses((status = 200, body = FindingBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn propose_remediation(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ProposeRemediationBody>,
) -> Result<Json<FindingBody>, ApiError> {
    to_json(findings::propose(&warden, &caller, id, &body.remediation).await?)
}

/// Close a finding as remediated, with the evidence (validator, risk-officer, admin; never the version's
/// registrant for a validation finding, nor whoever proposed the remediation).
#[utoipa::path(post, path = "/v1/findings/{id}/close", tag = "findings", request_body = CloseFindingBody,
    params(("id" = i64, Path, description = "Finding id")),
    responses((status = 200, body = FindingBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn close_finding(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<CloseFindingBody>,
) -> Result<Json<FindingBody>, ApiError> {
    to_json(findings::close(&warden, &caller, id, &body.evidence).await?)
}

/// Accept an open finding as a limitation until an expiry, with the reason (risk-officer, admin).
#[utoipa::path(post, path = "/v1/findings/{id}/accept", tag = "findings", request_body = UntilBody,
    params(("id" = i64, Path, description = "Finding id")),
    responses((status = 200, body = FindingBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn accept_finding(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UntilBody>,
) -> Result<Json<FindingBody>, ApiError> {
    to_json(findings::accept(&warden, &caller, id, body.until.micros(), &body.reason).await?)
}

/// Grant a policy exception covering an unresolved finding until an expiry, with the reason (risk-officer,
/// admin): the gate passes over the finding until then.
#[utoipa::path(post, path = "/v1/findings/{id}/except", tag = "findings", request_body = UntilBody,
    params(("id" = i64, Path, description = "Finding id")),
    responses((status = 200, body = FindingBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn except_finding(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UntilBody>,
) -> Result<Json<FindingBody>, ApiError> {
    to_json(findings::except(&warden, &caller, id, body.until.micros(), &body.reason).await?)
}

/// Import a scanner report (SARIF, CycloneDX VEX, Trivy or Grype JSON; the body is the report as the scanner
/// wrote it) on a version (validator, risk-officer, admin): each vulnerability becomes a finding once per rule
/// and location; findings of this scan's earlier imports that the report no longer has are closed as
/// remediated. One transaction: a refused report stores nothing.
#[utoipa::path(post, path = "/v1/models/{name}/versions/{version}/findings/import", tag = "findings",
    params(("name" = String, Path, description = "Model name"), ("version" = i64, Path, description = "Version number"), ImportFindingsQuery),
    request_body(content = String, content_type = "application/json", description = "The scanner's report, as it wrote it (at most 64 MiB)"),
    responses((status = 200, body = ScanImportBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn import_findings(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, i64)>,
    ApiQuery(query): ApiQuery<ImportFindingsQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ScanImportBody>, ApiError> {
    let report = super::scoring::batch_body(body, "a scanner report")?;
    let target = query.target.as_deref();
    to_json(findings::import(&warden, &caller, &name, version, query.format, target, Vec::from(report)).await?)
}

/// Owner attestations, newest first (`model` and `overdue` narrow them).
#[utoipa::path(get, path = "/v1/attestations", tag = "findings", params(AttestationsQuery),
    responses((status = 200, body = Vec<AttestationBody>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_attestations(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<AttestationsQuery>,
) -> Result<Json<Vec<AttestationBody>>, ApiError> {
    to_json(warden_oversight::attestations::list(&warden, &caller, query.model.as_deref(), query.overdue).await?)
}

/// Submit an open (or rejected) attestation: the model is still used as documented, its limitations still
/// hold (data-scientist, admin).
#[utoipa::path(post, path = "/v1/attestations/{id}/submit", tag = "findings", request_body = SubmitAttestationBody,
    params(("id" = i64, Path, description = "Attestation id")),
    responses((status = 200, body = AttestationBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn submit_attestation(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<SubmitAttestationBody>,
) -> Result<Json<AttestationBody>, ApiError> {
    use warden_oversight::attestations::submit;
    to_json(submit(&warden, &caller, id, body.still_used_as_documented, body.limitations_hold, &body.comment).await?)
}

/// Accept or reject a submitted attestation (validator, risk-officer, admin; never the one who submitted it).
#[utoipa::path(post, path = "/v1/attestations/{id}/review", tag = "findings", request_body = ReviewAttestationBody,
    params(("id" = i64, Path, description = "Attestation id")),
    responses((status = 200, body = AttestationBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn review_attestation(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ReviewAttestationBody>,
) -> Result<Json<AttestationBody>, ApiError> {
    to_json(warden_oversight::attestations::review(&warden, &caller, id, body.accept, &body.comment).await?)
}
