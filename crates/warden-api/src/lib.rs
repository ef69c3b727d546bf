/*!
Warden's HTTP API: the router, thin handlers, JSON wire types and the OpenAPI document.

[`app`] builds the whole router for a [`warden_lifecycle::Warden`]; tests drive it in-process with
`tower::ServiceExt::oneshot`, and `warden serve` binds it to a socket. Handlers parse the request, call one
lifecycle function and render its result; [`error::ApiError`] is the only place that maps errors to statuses.
The OpenAPI document is generated from the same route list, so it cannot drift from the router.

- `handlers`: one module per resource; [`wire`]: the JSON bodies, converted explicitly from lifecycle types.
- [`access`]: who may call what (one rule per route, fail closed), the per-token rate limit, the time limit.
- [`extract`]: the extractors (the caller's principal, JSON and multipart bodies with their limits).
- [`error`]: `ApiError`, the JSON error body and the middleware that gives every error that body.
- [`dashboard`]: the compliance dashboard under `/ui` (sessions, pages, SVG charts).
*/
#![deny(missing_docs)]

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warden_lifecycle::Warden;

pub mod access;
pub mod dashboard;
pub mod error;
pub mod extract;
mod handlers;
pub mod wire;

use handlers::*;

/// Largest JSON request body.
pub const JSON_BODY_LIMIT: usize = 1 << 20;
/// Largest batch scoring body (JSON array or NDJSON).
pub const BATCH_BODY_LIMIT: usize = 64 << 20;

/// Records every request's route, status and duration in the Prometheus metrics. Every label value comes
/// from Warden, never from the request: the route is the matched pattern (`/v1/models/{name}/score`, not the
/// path), and a method outside the standard ones is counted as `other`, so no request can add a series.
async fn record_http(
    axum::extract::State(warden): axum::extract::State<Arc<Warden>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    let started = std::time::Instant::now();
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let path = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    warden.scoring().record_http(method, &path, response.status().as_u16(), started.elapsed());
    response
}

/// Limits the router applies to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a JSON request may take, body included (408 after).
    pub request_timeout: std::time::Duration,
    /// Longest an upload (a version's artifact and reference, a validation's data) may take.
    pub upload_timeout: std::time::Duration,
    /// Requests per second each token may make on average, in bursts of as many (429 with Retry-After).
    pub rate_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: std::time::Duration::from_secs(60),
            upload_timeout: std::time::Duration::from_secs(900),
            rate_per_second: 50_000,
        }
    }
}

fn routes(max_upload_bytes: u64, limits: Limits) -> OpenApiRouter<Arc<Warden>> {
    let timeout = |limit| axum::middleware::from_fn_with_state(limit, access::time_limit);
    // Two files plus the metadata part and multipart framing.
    let upload_limit =
        usize::try_from(max_upload_bytes.saturating_mul(2)).unwrap_or(usize::MAX).saturating_add(2 << 20);
    let uploads = OpenApiRouter::new()
        .routes(routes!(versions::register_version, versions::list_versions))
        .routes(routes!(governance::validate, governance::list_validations))
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(timeout(limits.upload_timeout));
    let json = OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::whoami))
        .routes(routes!(health::identity_provider))
        .routes(routes!(models::create_model, models::list_models))
        .routes(routes!(models::get_model))
        .routes(routes!(models::retire_model))
        .routes(routes!(models::suspend_model))
        .routes(routes!(models::resume_model))
        .routes(routes!(models::model_suspension))
        .routes(routes!(models::get_data_policy, models::put_data_policy))
        .routes(routes!(models::erase_subject))
        .routes(routes!(scoring::review_decision))
        .routes(routes!(versions::get_version))
        .routes(routes!(versions::get_artifact))
        .routes(routes!(aliases::list_aliases))
        .routes(routes!(aliases::set_alias, aliases::delete_alias, aliases::get_alias))
        .routes(routes!(aliases::alias_history))
        .routes(routes!(tokens::create_token, tokens::list_tokens))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(audit::list_events))
        .routes(routes!(ledger::key))
        .routes(routes!(ledger::entries))
        .routes(routes!(ledger::proof))
        .routes(routes!(ledger::list_checkpoints, ledger::make_checkpoint))
        .routes(routes!(ledger::verify))
        .routes(routes!(ledger::evidence))
        .routes(routes!(ledger::docs))
        .routes(routes!(ledger::inventory_docs))
        .routes(routes!(ledger::export))
        .routes(routes!(ledger::traceability))
        .routes(routes!(governance::approve, governance::list_approvals))
        .routes(routes!(governance::gate_check, governance::gate_decisions))
        .routes(routes!(governance::promote))
        .routes(routes!(governance::put_policies, governance::get_policies))
        .routes(routes!(governance::policy_history))
        .routes(routes!(scoring::score))
        .routes(routes!(scoring::scoring_schema))
        .routes(routes!(scoring::record_outcomes))
        .routes(routes!(scoring::live_profiles))
        .routes(routes!(scoring::ingestion))
        .routes(routes!(scoring::live_drift))
        .routes(routes!(monitoring::list_monitors))
        .routes(routes!(monitoring::set_monitor))
        .routes(routes!(monitoring::monitor_history))
        .routes(routes!(monitoring::evaluate_monitors))
        .routes(routes!(monitoring::list_alerts))
        .routes(routes!(monitoring::get_alert))
        .routes(routes!(monitoring::acknowledge_alert))
        .routes(routes!(monitoring::list_incidents))
        .routes(routes!(monitoring::get_incident))
        .routes(routes!(monitoring::resolve_incident))
        .routes(routes!(monitoring::classify_incident))
        .routes(routes!(monitoring::record_incident_report))
        .routes(routes!(monitoring::incident_clocks))
        .routes(routes!(monitoring::dora_report))
        .routes(routes!(findings::raise_finding))
        .routes(routes!(findings::list_findings))
        .routes(routes!(findings::get_finding))
        .routes(routes!(findings::propose_remediation))
        .routes(routes!(findings::close_finding))
        .routes(routes!(findings::accept_finding))
        .routes(routes!(findings::except_finding))
        .routes(routes!(findings::list_attestations))
        .routes(routes!(findings::submit_attestation))
        .routes(routes!(findings::review_attestation))
        .routes(routes!(overview::inventory))
        .routes(routes!(inventory::inventory_schema, inventory::put_inventory_schema))
        .routes(routes!(inventory::set_model_fields))
        .routes(routes!(inventory::model_tier, inventory::override_model_tier))
        .routes(routes!(overview::kpis))
        .routes(routes!(overview::monitor_series))
        .routes(routes!(retraining::retrain, retraining::jobs))
        .routes(routes!(retraining::challenger_report))
        .routes(routes!(retraining::set_schedule, retraining::get_schedule))
        .routes(routes!(scoring::metrics))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(timeout(limits.request_timeout));
    let batches = OpenApiRouter::new()
        .routes(routes!(scoring::score_batch))
        // One path, two methods: reading the log, and ingestion's batch-sized bodies.
        .routes(routes!(scoring::list_decisions, scoring::ingest_decisions))
        .routes(routes!(scoring::kserve_event))
        .routes(routes!(findings::import_findings))
        .layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT))
        .layer(timeout(limits.upload_timeout));
    // Deliveries are small, but answering one downloads a model from MLflow.
    let integrations = OpenApiRouter::new()
        .routes(routes!(integrations::mlflow_webhook))
        .layer(DefaultBodyLimit::max(warden_registry::mlflow::MAX_DELIVERY_BYTES))
        .layer(timeout(limits.upload_timeout));
    uploads.merge(json).merge(batches).merge(integrations)
}

fn document(mut api: OpenApi) -> OpenApi {
    api.info.title = "Warden".into();
    api.info.version = env!("CARGO_PKG_VERSION").into();
    api.info.description =
        Some("Model risk control plane: registry, lineage, aliases, tokens, real-time scoring.".into());
    let components = api.components.get_or_insert_with(Default::default);
    components
        .add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    api.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    api
}

/// The OpenAPI document describing every endpoint.
pub fn openapi() -> OpenApi {
    document(routes(0, Limits::default()).split_for_parts().1)
}

async fn not_found() -> impl IntoResponse {
    error::ApiError::from(warden_registry::Error::NotFound("no such endpoint".into()))
}

/// The whole HTTP application, with the default limits.
pub fn app(warden: Arc<Warden>) -> Router {
    app_with(warden, Limits::default())
}

/// The whole HTTP application.
pub fn app_with(warden: Arc<Warden>, limits: Limits) -> Router {
    app_with_dashboard(warden, limits, dashboard::DashboardOptions::default())
}

/// The whole HTTP application with the dashboard served as `options` say.
pub fn app_with_dashboard(warden: Arc<Warden>, limits: Limits, options: dashboard::DashboardOptions) -> Router {
    let ui = dashboard::router(warden.clone(), options);
    let (router, api) = routes(warden.config().max_upload_bytes, limits).split_for_parts();
    let access = access::AccessState {
        warden: warden.clone(),
        limiter: Arc::new(access::RateLimiter::new(limits.rate_per_second.max(1))),
    };
    let api = Arc::new(document(api));
    router
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || {
                let api = api.clone();
                async move { (StatusCode::OK, axum::Json(api.as_ref().clone())) }
            }),
        )
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(access, access::authorize))
        .route_layer(axum::middleware::from_fn_with_state(warden.clone(), record_http))
        // Every error of the API is the JSON error body, whoever answered it (the dashboard answers pages).
        .layer(axum::middleware::from_fn(error::json_errors))
        .with_state(warden)
        .merge(ui)
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
}

/// The span of a request: method and path, never the query (a sign-in's callback carries its code there).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
}

#[cfg(test)]
mod access_tests;
#[cfg(test)]
mod control_tests;
#[cfg(test)]
mod governance_tests;
#[cfg(test)]
mod hardening_tests;
#[cfg(test)]
mod ingest_tests;
#[cfg(test)]
mod mlflow_tests;
#[cfg(test)]
mod monitoring_depth_tests;
#[cfg(test)]
mod multiclass_tests;
#[cfg(test)]
mod openapi_tests;
#[cfg(test)]
mod oversight_tests;
#[cfg(test)]
mod scoring_tests;
#[cfg(test)]
mod tests;
