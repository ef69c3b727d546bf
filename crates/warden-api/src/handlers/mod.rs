//! Handlers: parse, call one lifecycle function, render.

pub(crate) mod aliases;
pub(crate) mod audit;
pub(crate) mod findings;
pub(crate) mod governance;
pub(crate) mod health;
pub(crate) mod integrations;
pub(crate) mod inventory;
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

/// Refuses a multipart part that came before: which of two `artifact` (or `metadata`, …) parts would count
/// is not for the server to guess. Checked before the part is read.
pub(crate) fn refuse_repeated_part(name: &str, seen: bool) -> Result<(), crate::error::ApiError> {
    if seen {
        return Err(crate::error::ApiError::bad_request(format!("the multipart body has more than one '{name}' part")));
    }
    Ok(())
}

/// A lifecycle record as the wire type that describes its serde form (see [`crate::wire::retype`]).
pub(crate) fn to_json<W: serde::de::DeserializeOwned + serde::Serialize>(
    value: impl serde::Serialize,
) -> Result<axum::Json<W>, crate::error::ApiError> {
    Ok(axum::Json(crate::wire::retype(value)?))
}
