//! Views across the inventory: one line per model, the governance KPIs, a model's monitor history.

use axum::Json;
use axum::extract::{Path, State};
use warden_oversight::overview;

use super::{AppState, to_json};
use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller};
use crate::wire::{
    ErrorBody, InventoryLineBody, InventoryQuery, KpiQuery, KpisBody, MonitorPointBody, MonitorSeriesQuery,
};

/// Every model with its tier, owner, champion and challengers, last validation, last gate decision, open
/// alerts and incidents, and its inventory fields (`where`, `q` and `tier` narrow them).
#[utoipa::path(get, path = "/v1/inventory", tag = "overview", params(InventoryQuery),
    responses((status = 200, body = Vec<InventoryLineBody>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn inventory(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<InventoryQuery>,
) -> Result<Json<Vec<InventoryLineBody>>, ApiError> {
    let filter = overview::InventoryFilter {
        fields: overview::parse_field_filters(query.filter.as_deref().unwrap_or_default())?,
        search: query.q.filter(|q| !q.is_empty()),
        tier: query.tier,
    };
    let mut lines = overview::inventory(&warden, &caller).await?;
    lines.retain(|line| filter.matches(line));
    to_json(lines)
}

/// Governance KPIs over the last `days` days (default 90).
#[utoipa::path(get, path = "/v1/kpis", tag = "overview", params(KpiQuery),
    responses((status = 200, body = KpisBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn kpis(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> Result<Json<KpisBody>, ApiError> {
    to_json(overview::kpis(&warden, &caller, query.days.unwrap_or(90)).await?)
}

/// A model's monitor history over the last `days` days (default 90), about `points` per monitor (default 360).
#[utoipa::path(get, path = "/v1/models/{name}/monitors/series", tag = "overview", params(MonitorSeriesQuery,
        ("name" = String, Path, description = "Model name")),
    responses((status = 200, body = Vec<MonitorPointBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn monitor_series(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<MonitorSeriesQuery>,
) -> Result<Json<Vec<MonitorPointBody>>, ApiError> {
    let series =
        overview::monitor_series(&warden, &caller, &name, query.days.unwrap_or(90), query.points.unwrap_or(360))
            .await?;
    to_json(series)
}
