use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use crate::extract::Caller;
use crate::wire::{ErrorBody, Health, WhoAmI};
use warden_registry::auth::Via;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn readyz(State(warden): State<AppState>) -> (StatusCode, Json<Health>) {
    match warden.ready().await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "ready".into() })),
        Err(err) => {
            tracing::warn!(error = %err, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable".into() }))
        }
    }
}

/// Who the caller is: its unique name, roles, and how it proved it.
#[utoipa::path(get, path = "/v1/whoami", tag = "tokens",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub(crate) async fn whoami(Caller(caller): Caller) -> Json<WhoAmI> {
    let (via, display_name) = match &caller.via {
        Via::Provider { display_name } => ("oidc", display_name.clone()),
        Via::Token => ("token", None),
        Via::System => ("system", None),
    };
    Json(WhoAmI {
        role: caller.roles_text(),
        roles: caller.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        scopes: caller.scopes_text(),
        via: via.into(),
        display_name,
        name: caller.name,
    })
}
