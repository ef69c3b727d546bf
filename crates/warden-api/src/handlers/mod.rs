//! Handlers: parse, call one lifecycle function, render.

pub(crate) mod aliases;
pub(crate) mod audit;
pub(crate) mod governance;
pub(crate) mod health;
pub(crate) mod ledger;
pub(crate) mod models;
pub(crate) mod monitoring;
pub(crate) mod overview;
pub(crate) mod retraining;
pub(crate) mod scoring;
pub(crate) mod tokens;
pub(crate) mod versions;

use std::sync::Arc;

use warden_lifecycle::Warden;

pub(crate) type AppState = Arc<Warden>;

/// A lifecycle value in its own serde form (reports, decisions, monitors, alerts: stored as that JSON).
/// Refuses a multipart part that came before: which of two `artifact` (or `metadata`, …) parts would count
/// is not for the server to guess. Checked before the part is read.
pub(crate) fn refuse_repeated_part(name: &str, seen: bool) -> Result<(), crate::error::ApiError> {
    if seen {
        return Err(crate::error::ApiError::bad_request(format!("the multipart body has more than one '{name}' part")));
    }
    Ok(())
}

pub(crate) fn to_json_value(value: impl serde::Serialize) -> Result<serde_json::Value, crate::error::ApiError> {
    Ok(serde_json::to_value(value).map_err(|e| warden_lifecycle::Error::json("encoding the response", e))?)
}

/// [`to_json_value`] as a response body.
pub(crate) fn to_json(value: impl serde::Serialize) -> Result<axum::Json<serde_json::Value>, crate::error::ApiError> {
    Ok(axum::Json(to_json_value(value)?))
}
