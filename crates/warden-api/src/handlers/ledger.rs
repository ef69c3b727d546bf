//! The tamper-evident ledger: public key, entries, inclusion proofs, checkpoints, verification.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::Response;
use warden_proof::ledger;
use warden_registry::auth::Permission;

use super::{AppState, to_json};
use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller};
use crate::wire::{
    CheckpointBody, DocsQuery, ErrorBody, EvidenceQuery, InclusionProofBody, InventoryDocsQuery, LedgerEntryBody,
    LedgerQuery, TraceabilityBody, TraceabilityQuery, VerificationBody,
};

/// The ledger's verifier key (`<name>+<key id>+<base64 Ed25519 key>`, C2SP signed-note format), public.
#[utoipa::path(get, path = "/v1/ledger/key", tag = "ledger", security(()), responses((status = 200, body = String)))]
pub(crate) async fn key(State(warden): State<AppState>) -> String {
    format!("{}\n", ledger::public_key(&warden))
}

/// Ledger entries in order (`subject`: one subject, or a prefix ending in `/`; `from` index; `limit`).
#[utoipa::path(get, path = "/v1/ledger/entries", tag = "ledger", params(LedgerQuery),
    responses((status = 200, body = Vec<LedgerEntryBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn entries(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<LedgerQuery>,
) -> Result<Json<Vec<LedgerEntryBody>>, ApiError> {
    let limit = query.limit.unwrap_or(1_000);
    to_json(ledger::log(&warden, &caller, query.subject.as_deref(), query.from.unwrap_or(0), limit).await?)
}

/// An entry's inclusion proof against the latest signed checkpoint (made now if none covers the entry).
#[utoipa::path(get, path = "/v1/ledger/entries/{index}/proof", tag = "ledger",
    params(("index" = u64, Path, description = "Entry index")),
    responses((status = 200, body = InclusionProofBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn proof(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(index): Path<u64>,
) -> Result<Json<InclusionProofBody>, ApiError> {
    to_json(ledger::proof(&warden, &caller, index).await?)
}

/// Signed checkpoints, oldest first.
#[utoipa::path(get, path = "/v1/ledger/checkpoints", tag = "ledger",
    responses((status = 200, body = Vec<CheckpointBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_checkpoints(
    State(warden): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<CheckpointBody>>, ApiError> {
    to_json(ledger::checkpoints(&warden, &caller).await?)
}

/// Sign a checkpoint now (the schedule makes one every minute).
#[utoipa::path(post, path = "/v1/ledger/checkpoints", tag = "ledger",
    responses((status = 200, body = CheckpointBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn make_checkpoint(
    State(warden): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<CheckpointBody>, ApiError> {
    caller.require(Permission::ReadAudit)?;
    to_json(ledger::checkpoint(&warden).await?)
}

/// Recompute the tree from every stored entry and audit event and check every checkpoint.
#[utoipa::path(post, path = "/v1/ledger/verify", tag = "ledger",
    responses((status = 200, body = VerificationBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn verify(
    State(warden): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<VerificationBody>, ApiError> {
    to_json(ledger::verify(&warden, &caller).await?)
}

/// A model document written from the ledger (HTML): every figure cites the entry that vouches for it, and
/// the document ends with the signed checkpoint and the cited entries' proofs (`warden docs verify`).
#[utoipa::path(get, path = "/v1/models/{name}/docs", tag = "ledger",
    params(("name" = String, Path, description = "Model name"), DocsQuery),
    responses((status = 200, description = "HTML document", content_type = "text/html"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn docs(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<DocsQuery>,
) -> Result<Response, ApiError> {
    let template = query.template.as_deref().unwrap_or(warden_proof::docs::Template::ModelDocumentation.as_str());
    let document =
        warden_proof::docs::generate(&warden, &caller, &name, query.version, template, query.period.as_deref()).await?;
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", document.file_name))
        .body(Body::from(document.html))
        .expect("valid response"))
}

/// The monitoring report of every model in the inventory over a period (HTML), written from the ledger like
/// a model's documents: each figure cites its entry, checked offline by `warden docs verify`.
#[utoipa::path(get, path = "/v1/inventory/docs", tag = "ledger", params(InventoryDocsQuery),
    responses((status = 200, description = "HTML document", content_type = "text/html"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn inventory_docs(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<InventoryDocsQuery>,
) -> Result<Response, ApiError> {
    let template = query.template.as_deref().unwrap_or(warden_proof::docs::Template::MonitoringReport.as_str());
    let document = warden_proof::docs::generate_inventory(&warden, &caller, template, query.period.as_deref()).await?;
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", document.file_name))
        .body(Body::from(document.html))
        .expect("valid response"))
}

/// A version as a machine-readable export written from what the ledger vouches for: `cyclonedx` (a CycloneDX
/// 1.6 ML-BOM, JSON) or `spdx` (SPDX 3.0.1 JSON-LD with the AI and Dataset profiles).
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}/exports/{format}", tag = "ledger",
    params(("name" = String, Path, description = "Model name"), ("version" = i64, Path, description = "Version number"),
        ("format" = String, Path, description = "`cyclonedx` or `spdx`")),
    responses((status = 200, description = "The export: CycloneDX JSON, or SPDX JSON-LD",
            content(("application/vnd.cyclonedx+json"), ("application/ld+json"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn export(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version, format)): Path<(String, i64, String)>,
) -> Result<Response, ApiError> {
    let format: warden_proof::exports::ExportFormat = format.parse()?;
    let export = warden_proof::exports::export(&warden, &caller, &name, version, format).await?;
    let body = serde_json::to_vec_pretty(&export.document).expect("a JSON value serialises");
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, format.media_type())
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", export.file_name))
        .body(Body::from(body))
        .expect("valid response"))
}

/// A model's regulatory traceability matrix: each requirement of the framework with the ledger entries that
/// evidence it, or "no evidence".
#[utoipa::path(get, path = "/v1/models/{name}/traceability", tag = "ledger",
    params(("name" = String, Path, description = "Model name"), TraceabilityQuery),
    responses((status = 200, body = TraceabilityBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn traceability(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<TraceabilityQuery>,
) -> Result<Json<TraceabilityBody>, ApiError> {
    let framework: warden_proof::traceability::Framework = query.framework.parse()?;
    to_json(warden_proof::traceability::matrix(&warden, &caller, &name, framework).await?)
}

/// A model's evidence bundle (tar): documents, ledger entries with inclusion proofs, the signed checkpoint,
/// and an index; `from`/`to` bound the period (µs since the epoch).
#[utoipa::path(get, path = "/v1/models/{name}/evidence", tag = "ledger",
    params(("name" = String, Path, description = "Model name"), EvidenceQuery),
    responses((status = 200, description = "tar archive", content_type = "application/x-tar"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn evidence(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<EvidenceQuery>,
) -> Result<Response, ApiError> {
    let bytes = warden_proof::evidence::export(&warden, &caller, &name, query.from, query.to).await?;
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/x-tar")
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}-evidence.tar\""))
        .body(Body::from(bytes))
        .expect("valid response"))
}
