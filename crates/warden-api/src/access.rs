//! Who may call which endpoint, decided once per request before anything is parsed.
//!
//! `ACCESS.md` at the repository root is the same table for people; `access_tests.rs` calls every endpoint
//! with every role and checks the answers against that file. The lifecycle services check the permission
//! again (they are also called from the CLI and tests), so this layer decides early and uniformly — a role
//! that may not call an endpoint learns nothing about its body — but is not the only check.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use warden_lifecycle::Warden;
use warden_registry::Error;
use warden_registry::auth::{Permission, authenticate};
use warden_registry::registry::narrowed_to;

use crate::error::ApiError;

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No token.
    Public,
    /// Any valid token.
    AnyRole,
    /// A valid token whose role holds the permission.
    Needs(Permission),
    /// A valid token whose role holds the first permission, or the second, narrower one (the service decides
    /// what the narrower one allows: scoring only a version the caller names, for testing).
    NeedsOr(Permission, Permission),
    /// Like `Needs`, but a role holding the permission over only some models (a scope) is let through too:
    /// the service shows or accepts only models inside the caller's scopes (the inventory, creating a model,
    /// findings and attestations).
    InScope(Permission),
}

use Permission::*;
use Rule::*;

/// Every endpoint's rule, by method and route pattern.
pub const RULES: &[(&str, &str, Rule)] = &[
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/v1/openapi.json", Public),
    ("GET", "/v1/ledger/key", Public),
    ("GET", "/v1/identity-provider", Public),
    // The delivery's HMAC signature is its credential, checked by the service.
    ("POST", "/v1/integrations/mlflow/webhook", Public),
    ("GET", "/v1/whoami", AnyRole),
    ("GET", "/metrics", AnyRole),
    ("GET", "/v1/models", InScope(ReadRegistry)),
    ("POST", "/v1/models", InScope(WriteRegistry)),
    ("GET", "/v1/models/{name}", Needs(ReadRegistry)),
    ("GET", "/v1/models/{name}/versions", Needs(ReadRegistry)),
    ("POST", "/v1/models/{name}/versions", Needs(WriteRegistry)),
    ("GET", "/v1/models/{name}/versions/{version}", Needs(ReadRegistry)),
    ("GET", "/v1/models/{name}/versions/{version}/artifact", Needs(ReadRegistry)),
    ("GET", "/v1/models/{name}/aliases", Needs(ReadRegistry)),
    ("GET", "/v1/models/{name}/aliases/{alias}", Needs(ReadRegistry)),
    ("PUT", "/v1/models/{name}/aliases/{alias}", Needs(SetAlias)),
    ("DELETE", "/v1/models/{name}/aliases/{alias}", Needs(SetAlias)),
    ("GET", "/v1/models/{name}/alias-history", Needs(ReadRegistry)),
    ("POST", "/v1/models/{name}/versions/{version}/validations", Needs(Validate)),
    ("GET", "/v1/models/{name}/versions/{version}/validations", Needs(ReadRegistry)),
    ("POST", "/v1/models/{name}/versions/{version}/approvals", Needs(Approve)),
    ("GET", "/v1/models/{name}/versions/{version}/approvals", Needs(ReadRegistry)),
    ("POST", "/v1/models/{name}/versions/{version}/gate", Needs(ReadRegistry)),
    ("GET", "/v1/models/{name}/versions/{version}/gate", Needs(ReadAudit)),
    ("POST", "/v1/models/{name}/versions/{version}/promote", Needs(Promote)),
    ("GET", "/v1/policies", Needs(ReadRegistry)),
    ("PUT", "/v1/policies", Needs(ManagePolicies)),
    ("GET", "/v1/policies/history", Needs(ReadRegistry)),
    ("POST", "/v1/models/{name}/score", NeedsOr(Score, ScorePinned)),
    ("POST", "/v1/models/{name}/score/batch", NeedsOr(Score, ScorePinned)),
    ("GET", "/v1/models/{name}/score/schema", NeedsOr(Score, ScorePinned)),
    ("POST", "/v1/outcomes", Needs(RecordOutcomes)),
    ("GET", "/v1/models/{name}/decisions", Needs(ReadDecisions)),
    ("POST", "/v1/models/{name}/decisions", Needs(Score)),
    // The model is in the body: the service narrows a scoped reviewer to it.
    ("POST", "/v1/decisions/{request_id}/review", InScope(ReviewDecisions)),
    ("POST", "/v1/models/{name}/versions/{version}/kserve-events", Needs(Score)),
    ("GET", "/v1/ingestion", Needs(ReadDecisions)),
    ("GET", "/v1/models/{name}/live", Needs(ReadDecisions)),
    ("GET", "/v1/models/{name}/live/drift", Needs(ReadDecisions)),
    ("GET", "/v1/models/{name}/monitors", Needs(ReadRegistry)),
    ("PUT", "/v1/models/{name}/monitors/{monitor}", Needs(ManageMonitors)),
    ("GET", "/v1/models/{name}/monitors/history", Needs(ReadDecisions)),
    ("POST", "/v1/monitors/evaluate", Needs(ManageMonitors)),
    ("GET", "/v1/alerts", Needs(ReadDecisions)),
    ("GET", "/v1/alerts/{id}", Needs(ReadDecisions)),
    ("POST", "/v1/alerts/{id}/acknowledge", Needs(ManageMonitors)),
    ("GET", "/v1/incidents", Needs(ReadDecisions)),
    ("GET", "/v1/incidents/{id}", Needs(ReadDecisions)),
    ("POST", "/v1/incidents/{id}/resolve", Needs(ManageMonitors)),
    ("POST", "/v1/incidents/{id}/classify", Needs(ManageMonitors)),
    ("POST", "/v1/incidents/{id}/reports", Needs(ManageMonitors)),
    ("GET", "/v1/incidents/{id}/clocks", Needs(ReadDecisions)),
    ("GET", "/v1/incidents/{id}/dora-report", Needs(ReadDecisions)),
    ("POST", "/v1/models/{name}/retire", Needs(RetireModels)),
    ("POST", "/v1/models/{name}/suspend", Needs(SuspendModels)),
    ("POST", "/v1/models/{name}/resume", Needs(SuspendModels)),
    ("GET", "/v1/models/{name}/data-policy", InScope(ReadRegistry)),
    ("PUT", "/v1/models/{name}/data-policy", Needs(ManageDataPolicy)),
    ("POST", "/v1/subjects/erase", Needs(ManageDataPolicy)),
    ("GET", "/v1/models/{name}/suspension", Needs(ReadRegistry)),
    ("POST", "/v1/models/{name}/findings", Needs(RaiseFindings)),
    ("POST", "/v1/models/{name}/versions/{version}/findings/import", Needs(RaiseFindings)),
    ("GET", "/v1/findings", InScope(ReadRegistry)),
    ("GET", "/v1/findings/{id}", InScope(ReadRegistry)),
    ("POST", "/v1/findings/{id}/propose", Needs(ProposeRemediation)),
    ("POST", "/v1/findings/{id}/close", Needs(CloseFindings)),
    ("POST", "/v1/findings/{id}/accept", Needs(GrantExceptions)),
    ("POST", "/v1/findings/{id}/except", Needs(GrantExceptions)),
    ("GET", "/v1/attestations", InScope(ReadRegistry)),
    ("POST", "/v1/attestations/{id}/submit", Needs(SubmitAttestations)),
    ("POST", "/v1/attestations/{id}/review", Needs(ReviewAttestations)),
    ("GET", "/v1/inventory", InScope(ReadRegistry)),
    ("GET", "/v1/inventory/fields", InScope(ReadRegistry)),
    ("PUT", "/v1/inventory/fields", Needs(ManageInventorySchema)),
    ("PATCH", "/v1/models/{name}/fields", Needs(EditInventoryFields)),
    ("GET", "/v1/models/{name}/tier", Needs(ReadRegistry)),
    ("PUT", "/v1/models/{name}/tier", Needs(OverrideTier)),
    ("GET", "/v1/kpis", Needs(ReadRegistry)),
    ("GET", "/v1/models/{name}/monitors/series", Needs(ReadDecisions)),
    ("POST", "/v1/models/{name}/retrain", Needs(WriteRegistry)),
    ("GET", "/v1/models/{name}/retrain", Needs(ReadRegistry)),
    ("GET", "/v1/models/{name}/challenger-report", Needs(ReadDecisions)),
    ("PUT", "/v1/models/{name}/retrain/schedule", Needs(WriteRegistry)),
    ("GET", "/v1/models/{name}/retrain/schedule", Needs(ReadRegistry)),
    ("GET", "/v1/audit/events", Needs(ReadAudit)),
    ("GET", "/v1/ledger/entries", Needs(ReadAudit)),
    ("GET", "/v1/ledger/entries/{index}/proof", Needs(ReadAudit)),
    ("GET", "/v1/ledger/checkpoints", Needs(ReadAudit)),
    ("POST", "/v1/ledger/checkpoints", Needs(ReadAudit)),
    ("POST", "/v1/ledger/verify", Needs(ReadAudit)),
    ("GET", "/v1/models/{name}/evidence", Needs(ReadAudit)),
    ("GET", "/v1/models/{name}/docs", Needs(ReadAudit)),
    ("GET", "/v1/inventory/docs", Needs(ReadAudit)),
    ("GET", "/v1/models/{name}/versions/{version}/exports/{format}", Needs(ReadAudit)),
    ("GET", "/v1/models/{name}/traceability", Needs(ReadAudit)),
    ("POST", "/v1/tokens", Needs(ManageTokens)),
    ("GET", "/v1/tokens", Needs(ManageTokens)),
    ("DELETE", "/v1/tokens/{name}", Needs(ManageTokens)),
];

/// The rule for a method and route pattern; `None` for an endpoint nobody listed (refused).
pub fn rule(method: &Method, route: &str) -> Option<Rule> {
    RULES.iter().find(|(m, r, _)| *m == method.as_str() && *r == route).map(|(_, _, rule)| *rule)
}

/// The model a `/v1/models/{name}/…` route acts on: the path's segment where the pattern has `{name}`.
fn model_of<'p>(route: &str, path: &'p str) -> Option<&'p str> {
    let position = route.split('/').position(|segment| segment == "{name}")?;
    route.starts_with("/v1/models/").then(|| path.split('/').nth(position)).flatten()
}

/// The bearer secret of a request, or why there is none. Never echoes the header. The scheme is
/// case-insensitive (RFC 9110 §11.1); a request with two `Authorization` headers is refused, since which
/// one a proxy or the server would read is not defined.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Result<&str, Error> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let header = values
        .next()
        .ok_or_else(|| Error::Unauthenticated("missing bearer token (Authorization: Bearer <token>)".into()))?;
    if values.next().is_some() {
        return Err(Error::Unauthenticated("more than one Authorization header: send one".into()));
    }
    header
        .to_str()
        .ok()
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::Unauthenticated("malformed Authorization header: expected 'Bearer <token>'".into()))
}

/// A token bucket per token name: `per_second` requests a second on average, bursts of up to `per_second`.
pub(crate) struct RateLimiter {
    per_second: u32,
    buckets: std::sync::Mutex<std::collections::HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    refilled: std::time::Instant,
}

impl RateLimiter {
    pub(crate) fn new(per_second: u32) -> RateLimiter {
        RateLimiter { per_second, buckets: Default::default() }
    }

    /// Takes one request from the token's bucket; `Err(seconds)` until one is available again.
    fn take(&self, token: &str, now: std::time::Instant) -> Result<(), u64> {
        let rate = f64::from(self.per_second);
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() > 100_000 {
            // Buckets refilled a while ago are full again: forgetting them changes nothing.
            buckets.retain(|_, b| now.duration_since(b.refilled).as_secs_f64() * rate < rate);
        }
        let bucket = buckets.entry(token.to_owned()).or_insert(Bucket { tokens: rate, refilled: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.refilled).as_secs_f64() * rate).min(rate);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// What the access layer needs: the service (to authenticate) and the per-token rate limiter.
#[derive(Clone)]
pub(crate) struct AccessState {
    pub(crate) warden: Arc<Warden>,
    pub(crate) limiter: Arc<RateLimiter>,
}

/// Middleware: authenticates the caller, checks the route's rule and the token's rate before the handler's
/// extractors run; the principal travels to the handler in the request's extensions.
pub(crate) async fn authorize(State(state): State<AccessState>, mut request: Request, next: Next) -> Response {
    let warden = &state.warden;
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let Some(rule) = route.as_deref().and_then(|route| rule(request.method(), route)) else {
        // A route that answers other methods: 405 with the methods it does answer.
        let allowed: Vec<&str> =
            RULES.iter().filter(|(_, r, _)| Some(*r) == route.as_deref()).map(|(m, _, _)| *m).collect();
        if !allowed.is_empty() {
            return crate::error::method_not_allowed(request.method().as_str(), &allowed);
        }
        // Fail closed: an endpoint without a rule is a mistake, not an open door.
        return ApiError::from(Error::Forbidden("this endpoint has no access rule".into())).into_response();
    };
    if rule == Public {
        return next.run(request).await;
    }
    let principal = match bearer(request.headers()) {
        Ok(secret) => authenticate(warden, secret).await,
        Err(err) => Err(err),
    };
    let principal = match principal {
        Ok(principal) => principal,
        Err(err) => return refuse(request, err).await,
    };
    // A caller with roles scoped to some models acts on a model route with the roles that cover that model.
    let model = route.as_deref().and_then(|route| model_of(route, request.uri().path()));
    let principal = match model {
        // Callers without scoped roles (every token, most people) go on as they are, without a store read.
        Some(model) if !principal.scoped.is_empty() => match narrowed_to(warden, &principal, model).await {
            Ok(narrowed) => narrowed,
            Err(err) => return refuse(request, err).await,
        },
        _ => principal,
    };
    let allowed = match rule {
        Needs(permission) => principal.require(permission),
        NeedsOr(wide, narrow) => principal.require(wide).or_else(|_| principal.require(narrow)),
        InScope(permission) => principal.require_somewhere(permission),
        Public | AnyRole => Ok(()),
    };
    if let Err(err) = allowed {
        return refuse(request, err).await;
    }
    if let Err(wait) = state.limiter.take(&principal.name, std::time::Instant::now()) {
        let mut response = ApiError::rate_limited(state.limiter.per_second).into_response();
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, wait.into());
        return response;
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// Most of a refused request's body read (and dropped) before answering.
const DRAINED_AT_MOST: usize = 8 << 20;

/// The refusal of a request, after reading (never parsing) up to [`DRAINED_AT_MOST`] of its body for at most
/// two seconds: a client still sending an upload when the answer comes would otherwise find the connection
/// reset under it, and report a broken connection instead of the refusal.
async fn refuse(request: Request, err: Error) -> Response {
    let drain = axum::body::to_bytes(request.into_body(), DRAINED_AT_MOST);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
    ApiError::from(err).into_response()
}

/// Middleware: answers 408 when the handler has not finished within the limit. Dropping the handler rolls
/// back any transaction it had open, so a timed-out write leaves nothing half done.
pub(crate) async fn time_limit(State(limit): State<std::time::Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::timed_out(limit).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_route_names_its_model_and_other_routes_none() {
        assert_eq!(model_of("/v1/models/{name}/score", "/v1/models/card-limit/score"), Some("card-limit"));
        assert_eq!(model_of("/v1/models/{name}", "/v1/models/card-limit"), Some("card-limit"));
        assert_eq!(model_of("/v1/models", "/v1/models"), None);
        assert_eq!(model_of("/v1/tokens/{name}", "/v1/tokens/alice"), None, "a token's name is not a model");
    }

    #[test]
    fn buckets_allow_the_rate_per_token_and_tell_when_to_retry() {
        let limiter = RateLimiter::new(3);
        let start = std::time::Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take("a", start), Ok(()));
        }
        assert_eq!(limiter.take("a", start), Err(1));
        assert_eq!(limiter.take("b", start), Ok(()), "another token has its own bucket");
        // A third of a second later one request is back; a second later the bucket is full, not fuller.
        let later = start + std::time::Duration::from_millis(340);
        assert_eq!(limiter.take("a", later), Ok(()));
        assert_eq!(limiter.take("a", later), Err(1));
        let much_later = start + std::time::Duration::from_secs(10);
        for _ in 0..3 {
            assert_eq!(limiter.take("a", much_later), Ok(()));
        }
        assert!(limiter.take("a", much_later).is_err());
    }
}
