//! Validation, approvals, policy bundles, gate decisions and promotion.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use warden_oversight::governance::{self, PromotionRequest, Verdict};
use warden_oversight::scenarios::{MAX_SCENARIO_BYTES, ScenarioFormat};
use warden_oversight::validation::{self, ValidationRequest};
use warden_registry::{Error, registry};

use super::versions::{METADATA_LIMIT, read_part, stage_field};
use super::{AppState, to_json};
use crate::error::ApiError;
use crate::extract::{ApiJson, Caller};
use crate::wire::{
    ApprovalBody, ApprovalRequestBody, ErrorBody, GateCheckBody, GateDecisionBody, PolicyBundleBody,
    PolicyBundleInfoBody, PolicyBundleSummary, PromoteBody, PromotionBody, ValidateForm, ValidateMetadata,
    ValidationReportBody, retype,
};

/// Validate a version on labelled data: multipart with `metadata` (JSON: `target`, `protected`,
/// `bad_value`), `data` (CSV or Parquet) and optionally `scenarios` (stress scenarios, TOML, or YAML when
/// the file name ends in .yaml/.yml). Stores an immutable report (validator, admin).
#[utoipa::path(post, path = "/v1/models/{name}/versions/{version}/validations", tag = "governance",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Number or alias")),
    request_body(content = ValidateForm, content_type = "multipart/form-data"),
    responses((status = 201, body = ValidationReportBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn validate(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
    mut form: Multipart,
) -> Result<(StatusCode, Json<ValidationReportBody>), ApiError> {
    caller.require(warden_registry::auth::Permission::Validate)?;
    registry::get_version(&warden, &caller, &name, &version).await?;
    let (mut metadata, mut data, mut scenarios) = (None, None, None);
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_owned();
        let seen = match name.as_str() {
            "metadata" => metadata.is_some(),
            "data" => data.is_some(),
            "scenarios" => scenarios.is_some(),
            _ => false,
        };
        super::refuse_repeated_part(&name, seen)?;
        match name.as_str() {
            "metadata" => {
                let bytes = read_part(field, "metadata", METADATA_LIMIT).await?;
                let parsed: ValidateMetadata = serde_json::from_slice(&bytes)
                    .map_err(|e| ApiError::bad_request(format!("malformed metadata JSON: {e}")))?;
                metadata = Some(parsed);
            }
            "data" => data = Some(stage_field(&warden, field).await?),
            "scenarios" => {
                let yaml = field.file_name().is_some_and(|f| f.ends_with(".yaml") || f.ends_with(".yml"));
                let bytes = read_part(field, "scenarios", MAX_SCENARIO_BYTES).await?;
                let text =
                    String::from_utf8(bytes).map_err(|_| Error::invalid("the scenario file is not UTF-8 text"))?;
                scenarios = Some((text, if yaml { ScenarioFormat::Yaml } else { ScenarioFormat::Toml }));
            }
            other => return Err(ApiError::bad_request(format!("unexpected multipart field '{other}'"))),
        }
    }
    let missing = |part: &str| ApiError::bad_request(format!("multipart body has no '{part}' part"));
    let metadata = metadata.ok_or_else(|| missing("metadata"))?;
    let data = data.ok_or_else(|| missing("data"))?;
    let request = ValidationRequest {
        target: metadata.target,
        protected: metadata.protected,
        bad_value: metadata.bad_value,
        scenarios,
    };
    let report = validation::validate(&warden, &caller, &name, &version, request, data).await?;
    Ok((StatusCode::CREATED, to_json(report)?))
}

/// A version's validation reports, oldest first.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}/validations", tag = "governance",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Number or alias")),
    responses((status = 200, body = Vec<ValidationReportBody>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_validations(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Vec<ValidationReportBody>>, ApiError> {
    to_json(validation::reports(&warden, &caller, &name, &version).await?)
}

/// Approve or reject a version (validator, risk-officer; never its registrant). Repeating one's standing
/// decision is refused (409).
#[utoipa::path(post, path = "/v1/models/{name}/versions/{version}/approvals", tag = "governance",
    request_body = ApprovalRequestBody,
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Number or alias")),
    responses((status = 201, body = ApprovalBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn approve(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
    ApiJson(body): ApiJson<ApprovalRequestBody>,
) -> Result<(StatusCode, Json<ApprovalBody>), ApiError> {
    let verdict = match body.decision.as_str() {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject,
        other => return Err(Error::invalid(format!("decision '{other}' (expected approve or reject)")).into()),
    };
    let approval = governance::approve(&warden, &caller, &name, &version, verdict, &body.comment).await?;
    Ok((StatusCode::CREATED, to_json(approval)?))
}

/// Each person's latest decision on a version.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}/approvals", tag = "governance",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Number or alias")),
    responses((status = 200, body = Vec<ApprovalBody>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_approvals(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Vec<ApprovalBody>>, ApiError> {
    to_json(governance::approvals(&warden, &caller, &name, &version).await?)
}

/// Evaluate the promotion gate without acting on it; the decision is recorded. 200 whether it allows or not.
#[utoipa::path(post, path = "/v1/models/{name}/versions/{version}/gate", tag = "governance", request_body = GateCheckBody,
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Number or alias")),
    responses((status = 200, body = GateDecisionBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn gate_check(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
    ApiJson(body): ApiJson<GateCheckBody>,
) -> Result<Json<GateDecisionBody>, ApiError> {
    let alias = body.alias.as_deref().unwrap_or("champion");
    to_json(governance::gate_check(&warden, &caller, &name, &version, alias).await?)
}

/// The gate's recorded decisions on a version (validator, risk-officer, admin).
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}/gate", tag = "governance",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Number or alias")),
    responses((status = 200, body = Vec<GateDecisionBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn gate_decisions(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Vec<GateDecisionBody>>, ApiError> {
    to_json(governance::gate_decisions(&warden, &caller, &name, &version).await?)
}

/// Promote a version to a production alias through the gate; 409 with every reason when refused. An
/// administrator may override with a reason; the override is recorded.
#[utoipa::path(post, path = "/v1/models/{name}/versions/{version}/promote", tag = "governance", request_body = PromoteBody,
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Number or alias")),
    responses((status = 200, body = PromotionBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn promote(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
    ApiJson(body): ApiJson<PromoteBody>,
) -> Result<Json<PromotionBody>, ApiError> {
    let request = PromotionRequest {
        alias: body.alias,
        traffic: body.traffic,
        reason: body.reason,
        override_gate: body.override_gate,
    };
    let promotion = governance::promote(&warden, &caller, &name, &version, request).await?;
    Ok(Json(PromotionBody {
        model: name,
        alias: promotion.assignment.alias,
        version: promotion.assignment.version,
        previous_version: promotion.previous_version,
        overridden: promotion.overridden,
        reason: promotion.assignment.reason,
        decision: retype(&promotion.decision)?,
    }))
}

/// Put a policy bundle in force (risk-officer, admin): it must compile, define `warden.gate` and pass its
/// own tests.
#[utoipa::path(put, path = "/v1/policies", tag = "governance", request_body = PolicyBundleBody,
    responses((status = 201, body = PolicyBundleInfoBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn put_policies(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<PolicyBundleBody>,
) -> Result<(StatusCode, Json<PolicyBundleInfoBody>), ApiError> {
    let files: BTreeMap<String, String> = body.files;
    let bundle = governance::put_policy_bundle(&warden, &caller, files).await?;
    Ok((StatusCode::CREATED, to_json(bundle)?))
}

/// The policy bundle in force.
#[utoipa::path(get, path = "/v1/policies", tag = "governance",
    responses((status = 200, body = PolicyBundleInfoBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn get_policies(
    State(warden): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<PolicyBundleInfoBody>, ApiError> {
    to_json(governance::policy_bundle(&warden, &caller, None).await?)
}

/// Every policy bundle ever in force, oldest first (digests and authors; files by number).
#[utoipa::path(get, path = "/v1/policies/history", tag = "governance",
    responses((status = 200, body = Vec<PolicyBundleSummary>), (status = 401, body = ErrorBody)))]
pub(crate) async fn policy_history(
    State(warden): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<PolicyBundleSummary>>, ApiError> {
    let bundles = governance::policy_bundles(&warden, &caller).await?;
    Ok(Json(
        bundles
            .into_iter()
            .map(|b| PolicyBundleSummary {
                number: b.number,
                created_at: b.created_at,
                created_by: b.created_by,
                digest: b.digest,
                files: b.files.into_keys().collect(),
            })
            .collect(),
    ))
}
