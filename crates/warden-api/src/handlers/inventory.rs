//! The organisation's inventory fields (a JSON Schema), each model's values, and its materiality tier.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;
use warden_oversight::inventory::{self, FieldsChange};

use super::{AppState, to_json};
use crate::error::ApiError;
use crate::extract::{ApiJson, Caller};
use crate::wire::{ErrorBody, InventoryFieldsBody, InventorySchemaBody, ModelTierBody, TierOverrideBody};

/// The inventory schema in force: the fields the organisation records for every model.
#[utoipa::path(get, path = "/v1/inventory/fields", tag = "overview",
    responses((status = 200, body = InventorySchemaBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn inventory_schema(
    State(warden): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<InventorySchemaBody>, ApiError> {
    match inventory::schema(&warden, &caller).await? {
        Some(schema) => to_json(schema),
        None => Err(ApiError::from(warden_registry::Error::NotFound("no inventory schema is in force".into()))),
    }
}

/// Put an inventory schema in force (risk-officer, admin): a JSON Schema of an object whose `properties` are
/// the fields; a property with `"x-warden-material": true` is a material change when its value changes.
#[utoipa::path(put, path = "/v1/inventory/fields", tag = "overview", request_body(content = Object),
    responses((status = 200, body = InventorySchemaBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn put_inventory_schema(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiJson(schema): ApiJson<Value>,
) -> Result<Json<InventorySchemaBody>, ApiError> {
    to_json(inventory::put_schema(&warden, &caller, schema).await?)
}

/// Write a model's inventory fields (data-scientist, risk-officer, admin), validated against the schema in
/// force; the tier follows them through the policy's tiering rules unless it is overridden.
#[utoipa::path(patch, path = "/v1/models/{name}/fields", tag = "registry", request_body = InventoryFieldsBody,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelTierBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn set_model_fields(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<InventoryFieldsBody>,
) -> Result<Json<ModelTierBody>, ApiError> {
    let change = FieldsChange { set: body.set, unset: body.unset };
    to_json(inventory::set_fields(&warden, &caller, &name, change).await?)
}

/// A model's tier, how it was set, and what the tiering rules in force compute from its fields now.
#[utoipa::path(get, path = "/v1/models/{name}/tier", tag = "registry",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelTierBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn model_tier(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<ModelTierBody>, ApiError> {
    to_json(inventory::tier(&warden, &caller, &name).await?)
}

/// Override a model's tier with a reason, or clear the override (`tier` null) (risk-officer, admin).
#[utoipa::path(put, path = "/v1/models/{name}/tier", tag = "registry", request_body = TierOverrideBody,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelTierBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn override_model_tier(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<TierOverrideBody>,
) -> Result<Json<ModelTierBody>, ApiError> {
    to_json(inventory::override_tier(&warden, &caller, &name, body.tier, &body.reason).await?)
}
