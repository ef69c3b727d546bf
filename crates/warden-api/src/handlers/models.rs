use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use warden_registry::registry::{self, ModelInput};

use super::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, Caller};
use crate::wire::{
    CreateModel, DataPolicyBody, DataPolicyPutBody, EraseBody, ErasureBody, ErrorBody, ModelBody, RetireBody,
    SuspendBody, SuspensionBody, ToWire,
};

/// Create a model (data-scientist, admin).
#[utoipa::path(post, path = "/v1/models", tag = "registry", request_body = CreateModel,
    responses((status = 201, body = ModelBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create_model(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateModel>,
) -> Result<(StatusCode, Json<ModelBody>), ApiError> {
    let input = ModelInput {
        name: body.name,
        description: body.description,
        owner: body.owner,
        risk_tier: body.risk_tier.parse().map_err(warden_registry::Error::from)?,
        use_case: body.use_case,
        business_line: body.business_line,
        tags: body.tags,
    };
    Ok((StatusCode::CREATED, Json(registry::create_model(&warden, &caller, input).await?.to_wire())))
}

/// List models.
#[utoipa::path(get, path = "/v1/models", tag = "registry",
    responses((status = 200, body = Vec<ModelBody>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_models(
    State(warden): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<ModelBody>>, ApiError> {
    Ok(Json(registry::list_models(&warden, &caller).await?.into_iter().map(ToWire::to_wire).collect()))
}

/// One model.
#[utoipa::path(get, path = "/v1/models/{name}", tag = "registry", params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_model(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<ModelBody>, ApiError> {
    Ok(Json(registry::get_model(&warden, &caller, &name).await?.to_wire()))
}

/// Suspend a model (risk-officer, admin): the stop switch. Every replica stops answering production traffic
/// with its versions within a second and answers the fallback instead (decline, refer, or a version the gate
/// let into the champion alias before), logged on route `fallback`.
#[utoipa::path(post, path = "/v1/models/{name}/suspend", tag = "registry", request_body = SuspendBody,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = SuspensionBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn suspend_model(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<SuspendBody>,
) -> Result<Json<SuspensionBody>, ApiError> {
    use warden_oversight::suspension;
    let state =
        suspension::suspend(&warden, &caller, &name, &body.reason, body.fallback, body.fallback_version).await?;
    Ok(Json(state.to_wire()))
}

/// Resume a suspended model (risk-officer, admin): its aliases answer again.
#[utoipa::path(post, path = "/v1/models/{name}/resume", tag = "registry", request_body = RetireBody,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = SuspensionBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn resume_model(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<RetireBody>,
) -> Result<Json<SuspensionBody>, ApiError> {
    let state = warden_oversight::suspension::resume(&warden, &caller, &name, &body.reason).await?;
    Ok(Json(state.to_wire()))
}

/// A model's stop-switch state: whether it is suspended, by whom, why, and its fallback.
#[utoipa::path(get, path = "/v1/models/{name}/suspension", tag = "registry",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = SuspensionBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn model_suspension(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<SuspensionBody>, ApiError> {
    Ok(Json(warden_oversight::suspension::state(&warden, &caller, &name).await?.to_wire()))
}

/// A model's data policy in force (retention, personal fields, subject key) and its purges and erasures.
#[utoipa::path(get, path = "/v1/models/{name}/data-policy", tag = "registry",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = DataPolicyBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_data_policy(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<DataPolicyBody>, ApiError> {
    Ok(Json(warden_oversight::retention::get(&warden, &caller, &name).await?.to_wire()?))
}

/// Declare a model's data policy (risk-officer, admin): how long its decisions, features and outcomes are
/// kept (decisions at least the policy bundle's floor), which inputs are personal (kept tokenised or
/// encrypted) and which attribute names the person. Applied to the decisions logged from now on.
#[utoipa::path(put, path = "/v1/models/{name}/data-policy", tag = "registry", request_body = DataPolicyPutBody,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = DataPolicyBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn put_data_policy(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<DataPolicyPutBody>,
) -> Result<Json<DataPolicyBody>, ApiError> {
    let (policy, reason) = crate::wire::data_policy(body);
    Ok(Json(warden_oversight::retention::declare(&warden, &caller, &name, policy, &reason).await?.to_wire()?))
}

/// Erase one person's data (risk-officer, admin): every decision naming the subject key loses its features and
/// attributes, in every model; each model's erasure is recorded with the SHA-256 of what went, and audited.
/// 404 when no decision names the key.
#[utoipa::path(post, path = "/v1/subjects/erase", tag = "registry", request_body = EraseBody,
    responses((status = 200, body = ErasureBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn erase_subject(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<EraseBody>,
) -> Result<Json<ErasureBody>, ApiError> {
    let erased = warden_oversight::retention::erase(&warden, &caller, &body.subject_key, &body.reason).await?;
    Ok(Json(ErasureBody { erased: erased.into_iter().map(ToWire::to_wire).collect::<Result<_, _>>()? }))
}

/// Retire a model (risk-officer, admin): it stops serving (scoring answers 410), ingesting and taking new
/// versions; every record stays. A high tier model needs two people: the first call asks (202), a second
/// person's call retires it (200).
#[utoipa::path(post, path = "/v1/models/{name}/retire", tag = "registry", request_body = RetireBody,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelBody), (status = 202, body = ModelBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn retire_model(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<RetireBody>,
) -> Result<(StatusCode, Json<ModelBody>), ApiError> {
    use warden_oversight::retirement::{self, Retired};
    let (state, model) = retirement::retire(&warden, &caller, &name, &body.reason).await?;
    let status = match state {
        Retired::Requested => StatusCode::ACCEPTED,
        Retired::Retired => StatusCode::OK,
    };
    Ok((status, Json(model.to_wire())))
}
