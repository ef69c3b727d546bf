use axum::Json;
use axum::extract::{Path, State};
use warden_oversight::governance;
use warden_registry::registry;

use super::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::wire::{
    AliasAtQuery, AliasBody, AliasHistoryQuery, ErrorBody, RemoveAliasQuery, SetAlias, ToWire, parse_timestamp,
};

/// Point an alias at a version (data-scientist, admin).
#[utoipa::path(put, path = "/v1/models/{name}/aliases/{alias}", tag = "aliases", request_body = SetAlias,
    params(("name" = String, Path, description = "Model name"), ("alias" = String, Path, description = "Alias")),
    responses((status = 200, body = AliasBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn set_alias(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, alias)): Path<(String, String)>,
    ApiJson(body): ApiJson<SetAlias>,
) -> Result<Json<AliasBody>, ApiError> {
    Ok(Json(
        registry::set_alias(&warden, &caller, &name, &alias, Some(body.version), &body.reason, body.traffic)
            .await?
            .to_wire(),
    ))
}

/// Remove an alias (recorded in its history). Removing a production alias (`champion`, `canary`) takes the
/// model or its canary out of production: it needs the authority to promote and a `reason`.
#[utoipa::path(delete, path = "/v1/models/{name}/aliases/{alias}", tag = "aliases", params(RemoveAliasQuery,
    ("name" = String, Path, description = "Model name"), ("alias" = String, Path, description = "Alias")),
    responses((status = 200, body = AliasBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn delete_alias(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, alias)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<RemoveAliasQuery>,
) -> Result<Json<AliasBody>, ApiError> {
    let reason = query.reason.unwrap_or_default();
    let removed = if registry::PRODUCTION_ALIASES.contains(&alias.as_str()) {
        governance::withdraw(&warden, &caller, &name, &alias, &reason).await?
    } else {
        registry::set_alias(&warden, &caller, &name, &alias, None, &reason, None).await?
    };
    Ok(Json(removed.to_wire()))
}

/// The version an alias points at now, or at time `at`.
#[utoipa::path(get, path = "/v1/models/{name}/aliases/{alias}", tag = "aliases", params(AliasAtQuery,
    ("name" = String, Path, description = "Model name"), ("alias" = String, Path, description = "Alias")),
    responses((status = 200, body = AliasBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_alias(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, alias)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<AliasAtQuery>,
) -> Result<Json<AliasBody>, ApiError> {
    let at = match query.at.as_deref() {
        Some(text) => Some(
            parse_timestamp(text)
                .ok_or_else(|| ApiError::bad_request(format!("'at' must be an RFC 3339 time, got '{text}'")))?,
        ),
        None => None,
    };
    Ok(Json(registry::alias_at(&warden, &caller, &name, &alias, at).await?.to_wire()))
}

/// The aliases in force.
#[utoipa::path(get, path = "/v1/models/{name}/aliases", tag = "aliases",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = Vec<AliasBody>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_aliases(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<AliasBody>>, ApiError> {
    Ok(Json(registry::current_aliases(&warden, &caller, &name).await?.into_iter().map(ToWire::to_wire).collect()))
}

/// Every assignment and removal of a model's aliases, oldest first.
#[utoipa::path(get, path = "/v1/models/{name}/alias-history", tag = "aliases", params(AliasHistoryQuery,
    ("name" = String, Path, description = "Model name")),
    responses((status = 200, body = Vec<AliasBody>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn alias_history(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<AliasHistoryQuery>,
) -> Result<Json<Vec<AliasBody>>, ApiError> {
    let history = registry::alias_history(&warden, &caller, &name, query.alias.as_deref()).await?;
    Ok(Json(history.into_iter().map(ToWire::to_wire).collect()))
}
