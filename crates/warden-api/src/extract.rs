//! Extractors: the authenticated caller, and JSON/query bodies whose rejections are `ApiError`s.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use warden_lifecycle::Warden;
use warden_registry::auth::{Principal, authenticate};

use crate::error::ApiError;

/// The caller, authenticated from `Authorization: Bearer <token>` (by the access layer, which leaves the
/// principal in the request's extensions; authenticated here when a request did not pass through it).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<Warden>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, warden: &Arc<Warden>) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Caller(principal.clone()));
        }
        Ok(Caller(authenticate(warden, crate::access::bearer(&parts.headers)?).await?))
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
