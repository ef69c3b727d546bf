//! `ApiError`: the only place that knows HTTP status codes.

use axum::extract::multipart::MultipartError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use warden_registry::Error;

/// An error rendered as `{"error": {"code", "message", "details"}}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
    retry_after: Option<u32>,
}

impl ApiError {
    /// A 400 for a request Warden could not parse.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }

    /// A 409 with structured details.
    pub fn conflict_with(message: impl Into<String>, details: Value) -> Self {
        ApiError { status: StatusCode::CONFLICT, code: "conflict", message: message.into(), details, retry_after: None }
    }

    /// The status this error is sent with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// A 408: the request did not finish in time.
    pub fn timed_out(limit: std::time::Duration) -> Self {
        ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            code: "timeout",
            message: format!("the request did not finish within {} s", limit.as_secs_f64()),
            details: Value::Null,
            retry_after: None,
        }
    }

    /// A 429: the caller's token has used its requests for now.
    pub fn rate_limited(per_second: u32) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "rate_limited",
            message: format!(
                "this token may make {per_second} requests per second; retry after the Retry-After header"
            ),
            details: Value::Null,
            retry_after: None,
        }
    }

    /// A 413: a body or a part of it is over its limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }
}

/// A 405: the route exists, the method is not one of its `allowed` (sent in the `Allow` header).
pub fn method_not_allowed(method: &str, allowed: &[&str]) -> Response {
    let allow = allowed.join(", ");
    let error = ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!("this endpoint does not answer {method} (it answers {allow})"),
        details: json!({ "allowed": allowed }),
        retry_after: None,
    };
    let mut response = error.into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(axum::http::header::ALLOW, value);
    }
    response
}

/// The code of an error answered with `status` by something other than Warden's handlers.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Middleware over the whole API: an error that something other than Warden's handlers answered in plain
/// text or with no body (an axum extractor's rejection — a body over its limit, a path segment that does not
/// parse, a multipart body without its boundary — or a layer's answer) is rewritten as the JSON error body,
/// keeping its status and headers (`Allow`, `Retry-After`). A 5xx says only that it was the server's fault.
pub(crate) async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if status.is_server_error() {
        tracing::error!(status = status.as_u16(), body = %text, "request failed outside a handler");
        "internal error".to_owned()
    } else if text.is_empty() {
        status.canonical_reason().unwrap_or("request refused").to_lowercase()
    } else {
        text
    };
    let error = ApiError { status, code: code_of(status), message, details: Value::Null, retry_after: None };
    let mut response = error.into_response();
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let (status, code) = match &err {
            Error::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Error::Gone(_) => (StatusCode::GONE, "gone"),
            Error::Refused { .. } => (StatusCode::CONFLICT, "refused"),
            Error::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Error::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if let Error::Unavailable { message, retry_after } = err {
            // Said to the client: what is unavailable is its business (which model, until when).
            tracing::warn!(error = %message, "request refused: unavailable");
            return ApiError { status, code, message, details: Value::Null, retry_after };
        }
        let details = match &err {
            Error::Invalid { details, .. } | Error::Refused { details, .. } => details.clone(),
            _ => Value::Null,
        };
        if status.is_server_error() {
            // The detail goes to the log; the client learns only that it was our fault.
            tracing::error!(error = %err, "request failed");
            return ApiError {
                status,
                code,
                message: "internal error".into(),
                details: Value::Null,
                retry_after: None,
            };
        }
        ApiError { status, code, message: err.to_string(), details, retry_after: None }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(rejection.body_text()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "unsupported_media_type",
                message: rejection.body_text(),
                details: Value::Null,
                retry_after: None,
            },
            _ => ApiError::bad_request(rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<MultipartError> for ApiError {
    fn from(err: MultipartError) -> Self {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(err.body_text())
        } else {
            ApiError::bad_request(format!("malformed multipart body: {}", err.body_text()))
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message, "details": self.details } });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
