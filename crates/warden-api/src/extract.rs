//! Extractors: the authenticated caller, and JSON/query bodies whose rejections are `ApiError`s.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use warden_lifecycle::auth::{Principal, authenticate};
use warden_lifecycle::{Error, Warden};

use crate::error::ApiError;

/// The caller, authenticated from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<Warden>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, warden: &Arc<Warden>) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| Error::Unauthenticated("missing bearer token (Authorization: Bearer <token>)".into()))?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::Unauthenticated("malformed Authorization header: expected 'Bearer <token>'".into())
            })?;
        Ok(Caller(authenticate(warden, secret).await?))
    }
}

/// `axum::Json` with errors rendered as `ApiError`.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Query` with errors rendered as `ApiError`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);
