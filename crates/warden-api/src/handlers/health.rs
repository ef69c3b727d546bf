use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use crate::extract::Caller;
use crate::wire::{ErrorBody, Health, IdentityProviderBody, WhoAmI};
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

/// The identity provider people sign in through (404 when none is configured): what `warden login` needs.
#[utoipa::path(get, path = "/v1/identity-provider", tag = "tokens", security(()),
    responses((status = 200, body = IdentityProviderBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn identity_provider(
    State(warden): State<AppState>,
) -> Result<Json<IdentityProviderBody>, crate::error::ApiError> {
    let (config, _) = warden.identity().ok_or_else(|| {
        warden_registry::Error::NotFound("no identity provider is configured (serve --identity)".into())
    })?;
    Ok(Json(IdentityProviderBody {
        issuer: config.oidc.issuer.clone(),
        cli_client_id: config.oidc.cli_client_id.clone(),
        display_name: config.oidc.display_name.clone(),
        token_login: config.oidc.token_login,
    }))
}

/// Who the caller is: its unique name, roles, and how it proved it.
#[utoipa::path(get, path = "/v1/whoami", tag = "tokens",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub(crate) async fn whoami(Caller(caller): Caller) -> Json<WhoAmI> {
    let (via, display_name) = match &caller.via {
        Via::Provider { display_name } => ("oidc", display_name.clone()),
        Via::Token => ("token", None),
        Via::PersonalToken { token } => ("token", Some(format!("token '{token}'"))),
        Via::System => ("system", None),
        Via::Mlflow => ("mlflow", None),
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
