use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use warden_registry::auth;

use super::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, Caller};
use crate::wire::{CreateToken, CreatedTokenBody, ErrorBody, ToWire, TokenBody};

/// Create a token (admin). The secret is in this response only.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedTokenBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_token(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedTokenBody>), ApiError> {
    let expires_at =
        match body.expires_at.as_deref() {
            None => None,
            Some(text) => Some(crate::wire::parse_timestamp(text).ok_or_else(|| {
                warden_registry::Error::invalid(format!("expires_at '{text}' is not an RFC 3339 time"))
            })?),
        };
    let created =
        auth::create_token(&warden, &caller, &body.name, body.role.parse()?, expires_at, body.subject.as_deref())
            .await?;
    Ok((StatusCode::CREATED, Json(CreatedTokenBody { secret: created.secret, token: created.info.to_wire() })))
}

/// List tokens (admin).
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_tokens(
    State(warden): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<TokenBody>>, ApiError> {
    Ok(Json(auth::list_tokens(&warden, &caller).await?.into_iter().map(ToWire::to_wire).collect()))
}

/// Revoke a token (admin); it stops working at once.
#[utoipa::path(delete, path = "/v1/tokens/{name}", tag = "tokens", params(("name" = String, Path, description = "Token name")),
    responses((status = 200, body = TokenBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn revoke_token(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<TokenBody>, ApiError> {
    Ok(Json(auth::revoke_token(&warden, &caller, &name).await?.to_wire()))
}
