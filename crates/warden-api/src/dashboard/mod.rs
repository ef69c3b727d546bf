//! The compliance dashboard: HTML pages served under `/ui` by the same binary, reading through the same
//! lifecycle services as the API and the CLI (no second way to the data).
//!
//! Pages are rendered on the server (maud templates, charts as inline SVG in `charts`), so they need no
//! script, no build step and no network. A person signs in through the bank's identity provider (`sso`) or
//! logs in with a token, either exchanged for a session cookie (`session`); every form carries the session's
//! cross-site token, and every action goes through the lifecycle function that checks the role, exactly as
//! the API does.

use warden_charts as charts;
mod deployments;
mod distributions;
#[cfg(test)]
mod page_tests;
mod pages;
#[cfg(test)]
pub(crate) use pages::{MonitoringData, monitoring as monitoring_page, validation_section};
mod session;
mod sso;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;
use warden_lifecycle::Warden;
use warden_proof::ledger::Verification;
use warden_registry::Error;
use warden_registry::auth::{Principal, authenticate};

use session::{Credential, LOGIN_COOKIE, SESSION_COOKIE, Sessions, cookie, same, set_cookie};

/// How the dashboard is served.
#[derive(Debug, Clone, Copy, Default)]
pub struct DashboardOptions {
    /// Cookies are marked `Secure` (the server speaks TLS).
    pub secure_cookies: bool,
}

#[derive(Clone)]
pub(crate) struct UiState {
    warden: Arc<Warden>,
    sessions: Arc<Sessions>,
    sign_ins: Arc<sso::SignIns>,
    secure: bool,
    /// The latest ledger verification and when it finished (µs); `None` while none has run.
    verification: Arc<Mutex<VerificationStatus>>,
}

#[derive(Default, Clone)]
pub(crate) struct VerificationStatus {
    pub(crate) last: Option<(i64, Verification)>,
    pub(crate) running: bool,
}

/// The dashboard's routes, to be merged into the application.
pub fn router(warden: Arc<Warden>, options: DashboardOptions) -> Router {
    let state = UiState {
        warden,
        sessions: Arc::new(Sessions::default()),
        sign_ins: Arc::default(),
        secure: options.secure_cookies,
        verification: Arc::default(),
    };
    Router::new()
        .route("/ui", get(inventory))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/login/oidc", get(sso::begin))
        .route("/ui/login/oidc/callback", get(sso::callback))
        .route("/ui/logout", post(logout))
        .route("/ui/models/{name}", get(model))
        .route("/ui/models/{name}/monitoring", get(monitoring))
        .route("/ui/models/{name}/docs", get(docs))
        .route("/ui/models/{name}/decisions", get(decisions))
        .route("/ui/models/{name}/decisions/review", post(review_decision))
        .route("/ui/findings", get(findings))
        .route("/ui/alerts", get(alerts))
        .route("/ui/alerts/{id}/acknowledge", post(acknowledge))
        .route("/ui/incidents/{id}/resolve", post(resolve))
        .route("/ui/incidents/{id}/dora-report", get(dora_report))
        .route("/ui/audit", get(audit))
        .route("/ui/audit/verify", post(verify))
        .route("/ui/kpis", get(kpis))
        .route("/ui/summary", get(summary))
        .route("/ui/style.css", get(style))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

/// A logged-in person: the principal their token stands for, and their session's cross-site token.
#[derive(Clone)]
pub(crate) struct Viewer {
    pub(crate) principal: Principal,
    pub(crate) csrf: String,
}

/// Why a page was not served.
pub(crate) enum PageError {
    /// Not logged in (or the session's token was revoked or expired): to the login page.
    Login(String),
    /// A lifecycle error, shown as a page with its status (and, to a logged-in person, their navigation).
    Failed(Error, Option<Viewer>),
    /// A form without the session's cross-site token, or posted from another site.
    Forgery(Option<Viewer>),
}

/// A lifecycle result on a page: its error is shown to the person with their navigation and log-out button.
trait OnPage<T> {
    fn on_page(self, viewer: &Viewer) -> Result<T, PageError>;
}

impl<T> OnPage<T> for Result<T, Error> {
    fn on_page(self, viewer: &Viewer) -> Result<T, PageError> {
        self.map_err(|err| PageError::Failed(err, Some(viewer.clone())))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Login(next) => redirect(&format!("/ui/login?next={}", encode_query(&next))),
            PageError::Forgery(viewer) => html(
                StatusCode::FORBIDDEN,
                pages::error_page(
                    viewer.as_ref(),
                    "Refused",
                    "This form did not come from this session's page. Reload the page and try again.",
                ),
            ),
            PageError::Failed(err, viewer) => {
                let (status, title) = match &err {
                    Error::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
                    Error::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
                    Error::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "Not accepted"),
                    Error::Conflict(_) => (StatusCode::CONFLICT, "Not possible now"),
                    Error::Gone(_) => (StatusCode::GONE, "Retired"),
                    Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "Not logged in"),
                    _ => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
                };
                let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
                    tracing::error!(error = %err, "dashboard page failed");
                    "The server could not build this page; the error is in its log.".to_owned()
                } else {
                    err.to_string()
                };
                html(status, pages::error_page(viewer.as_ref(), title, &message))
            }
        }
    }
}

impl Viewer {
    /// The viewer on one model's pages: roles scoped to that model in force, as on the API's model routes.
    async fn on_model(self, state: &UiState, model: &str) -> Result<Viewer, PageError> {
        let principal =
            warden_registry::registry::narrowed_to(&state.warden, &self.principal, model).await.on_page(&self)?;
        Ok(Viewer { principal, ..self })
    }
}

impl FromRequestParts<UiState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Self, Self::Rejection> {
        let next = parts.uri.path_and_query().map_or("/ui", |p| p.as_str()).to_owned();
        let Some(session) = state.sessions.find(&parts.headers) else {
            return Err(PageError::Login(next));
        };
        let principal = match &session.credential {
            Credential::Token(secret) => authenticate(&state.warden, secret).await,
            // The roles from the groups as the mapping stands now.
            Credential::Provider { identity, .. } => match state.warden.identity() {
                Some((config, _)) => warden_registry::identity::principal_of(&config, identity.clone()),
                None => Err(Error::Unauthenticated("single sign-on is not configured".into())),
            },
        };
        match principal {
            Ok(principal) => Ok(Viewer { principal, csrf: session.csrf }),
            Err(_) => {
                // Revoked or expired since login, or no longer granted a role: the session ends with it.
                state.sessions.end(&parts.headers);
                Err(PageError::Login(next))
            }
        }
    }
}

fn html(status: StatusCode, markup: Markup) -> Response {
    (status, [(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")], markup.into_string())
        .into_response()
}

fn page(markup: Markup) -> Response {
    html(StatusCode::OK, markup)
}

/// A 303 to `to`; a target that cannot be a header value (never expected: targets are checked or built
/// here) goes to `/ui` rather than answering without a `Location`.
fn redirect(to: &str) -> Response {
    let location = axum::http::HeaderValue::from_str(to).unwrap_or(axum::http::HeaderValue::from_static("/ui"));
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A posted form is accepted only with this session's cross-site token and, when the browser says where it
/// was posted from, from this host.
fn check_form(headers: &HeaderMap, viewer: &Viewer, csrf: &str) -> Result<(), PageError> {
    if !same(csrf, &viewer.csrf) || !same_origin(headers) {
        return Err(PageError::Forgery(Some(viewer.clone())));
    }
    Ok(())
}

fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else { return true };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

async fn style() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "max-age=3600")], pages::STYLE).into_response()
}

#[derive(Deserialize, Default)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    failed: Option<String>,
}

/// Only a dashboard path is a place to go after login (no open redirect): `/ui`, or a path or query under
/// it, in printable ASCII (no control character that could end the `Location` header, no space), with no `//`,
/// no backslash and no `..` segment a browser would resolve to somewhere else. Anything else goes to `/ui`.
fn safe_next(next: Option<&str>) -> String {
    let safe = |n: &str| {
        let path = n.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
        (n == "/ui" || n.starts_with("/ui/") || n.starts_with("/ui?"))
            && n.bytes().all(|b| b.is_ascii_graphic())
            && !n.contains("//")
            && !n.contains('\\')
            && !path.split('/').any(|segment| matches!(segment, "." | ".."))
            && !["%2e", "%2f", "%5c"].iter().any(|encoded| path.contains(encoded))
    };
    match next {
        Some(n) if safe(n) => n.to_owned(),
        _ => "/ui".to_owned(),
    }
}

async fn login_page(State(state): State<UiState>, Query(query): Query<LoginQuery>) -> Response {
    let nonce = session::random_id();
    let next = safe_next(query.next.as_deref());
    let identity = state.warden.identity().map(|(config, _)| config);
    let options = pages::LoginOptions {
        provider: identity.as_ref().map(|c| c.oidc.display_name.as_str()),
        token_login: identity.as_ref().is_none_or(|c| c.oidc.token_login),
        failed: query.failed.is_some(),
    };
    let mut response = page(pages::login(&nonce, &next, &options));
    let cookie = set_cookie(LOGIN_COOKIE, &nonce, std::time::Duration::from_secs(1800), state.secure);
    response.headers_mut().insert(SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
    response
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    nonce: String,
    next: Option<String>,
}

async fn login(State(state): State<UiState>, headers: HeaderMap, axum::Form(form): axum::Form<LoginForm>) -> Response {
    let nonce_ok = cookie(&headers, LOGIN_COOKIE).is_some_and(|c| same(&c, &form.nonce)) && same_origin(&headers);
    if !nonce_ok {
        return PageError::Forgery(None).into_response();
    }
    let next = safe_next(form.next.as_deref());
    let secret = form.token.trim().to_owned();
    if authenticate(&state.warden, &secret).await.is_err() {
        // The reason (unknown, revoked, expired) is not shown to whoever holds the form.
        return redirect(&format!("/ui/login?failed=1&next={}", encode_query(&next)));
    }
    let id = state.sessions.start(Credential::Token(secret));
    let mut response = redirect(&next);
    let headers = response.headers_mut();
    let session = set_cookie(SESSION_COOKIE, &id, session::session_max_age(), state.secure);
    headers.append(SET_COOKIE, session.parse().expect("cookie is ASCII"));
    let spent = set_cookie(LOGIN_COOKIE, "", std::time::Duration::ZERO, state.secure);
    headers.append(SET_COOKIE, spent.parse().expect("cookie is ASCII"));
    response
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    #[serde(default)]
    comment: String,
}

async fn logout(
    State(state): State<UiState>,
    headers: HeaderMap,
    viewer: Viewer,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    if let Err(err) = check_form(&headers, &viewer, &form.csrf) {
        return err.into_response();
    }
    let ended = state.sessions.end(&headers);
    // Signed in through the provider: signed out there too (RP-initiated logout), which comes back here.
    let provider = ended.and_then(|s| match s.credential {
        Credential::Provider { id_token, .. } => sso::end_session_url(&state, &headers, &id_token),
        Credential::Token(_) => None,
    });
    let mut response = redirect(provider.as_deref().unwrap_or("/ui/login"));
    let cleared = set_cookie(SESSION_COOKIE, "", std::time::Duration::ZERO, state.secure);
    response.headers_mut().insert(SET_COOKIE, cleared.parse().expect("cookie is ASCII"));
    response
}

#[derive(Deserialize, Default)]
pub(crate) struct InventoryQuery {
    pub(crate) tier: Option<String>,
    pub(crate) q: Option<String>,
    /// Inventory field filters, `name=value;name=value` (the API's `where`).
    #[serde(rename = "where")]
    pub(crate) field: Option<String>,
    pub(crate) sort: Option<String>,
}

async fn inventory(
    State(state): State<UiState>,
    viewer: Viewer,
    Query(query): Query<InventoryQuery>,
) -> Result<Response, PageError> {
    let lines = warden_oversight::overview::inventory(&state.warden, &viewer.principal).await.on_page(&viewer)?;
    Ok(page(pages::inventory(&viewer, lines, &query)))
}

#[derive(Deserialize, Default)]
struct ModelQuery {
    version: Option<i64>,
}

async fn model(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(query): Query<ModelQuery>,
) -> Result<Response, PageError> {
    let viewer = viewer.on_model(&state, &name).await?;
    let data = pages::ModelData::load(&state.warden, &viewer.principal, &name, query.version).await.on_page(&viewer)?;
    Ok(page(pages::model(&viewer, &data, state.warden.now())))
}

#[derive(Deserialize)]
struct DocsPageQuery {
    version: Option<i64>,
    template: Option<String>,
}

/// A document of the version asked for (the latest by default; the model documentation unless another
/// template is named), as written for the CLI and the API: the browser shows and prints it.
async fn docs(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(query): Query<DocsPageQuery>,
) -> Result<Response, PageError> {
    let viewer = viewer.on_model(&state, &name).await?;
    let shipped = warden_proof::docs::Template::ModelDocumentation.as_str();
    let template = query.template.as_deref().unwrap_or(shipped);
    let document = warden_proof::docs::generate(&state.warden, &viewer.principal, &name, query.version, template, None)
        .await
        .on_page(&viewer)?;
    Ok((StatusCode::OK, [(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")], document.html)
        .into_response())
}

#[derive(Deserialize)]
struct DaysQuery {
    days: Option<i64>,
}

/// The monitoring page's window: hours or days; neither fits the data's age.
#[derive(Deserialize)]
struct WindowQuery {
    days: Option<i64>,
    hours: Option<i64>,
}

async fn monitoring(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(query): Query<WindowQuery>,
) -> Result<Response, PageError> {
    const HOUR: i64 = 3_600_000_000;
    let window = match (query.hours, query.days) {
        (Some(hours), _) => Some(hours.clamp(1, 24 * 3650) * HOUR),
        (None, Some(days)) => Some(days.clamp(1, 3650) * 24 * HOUR),
        (None, None) => None,
    };
    let viewer = viewer.on_model(&state, &name).await?;
    let data = pages::MonitoringData::load(&state.warden, &viewer.principal, &name, window).await.on_page(&viewer)?;
    Ok(page(pages::monitoring(&viewer, &data)))
}

#[derive(Deserialize)]
struct DecisionQuery {
    request_id: Option<String>,
}

async fn decisions(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(query): Query<DecisionQuery>,
) -> Result<Response, PageError> {
    let viewer = viewer.on_model(&state, &name).await?;
    let request_id = query.request_id.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let data =
        pages::DecisionsData::load(&state.warden, &viewer.principal, &name, request_id).await.on_page(&viewer)?;
    Ok(page(pages::decisions(&viewer, &data)))
}

#[derive(Deserialize)]
struct ReviewForm {
    csrf: String,
    request_id: String,
    action: String,
    #[serde(default)]
    decision: String,
    reason_code: String,
    #[serde(default)]
    note: String,
}

async fn review_decision(
    State(state): State<UiState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<ReviewForm>,
) -> Result<Response, PageError> {
    check_form(&headers, &viewer, &form.csrf)?;
    let action =
        form.action.parse::<warden_core::ReviewAction>().map_err(|e| warden_registry::Error::invalid(e.to_string()));
    let input = warden_oversight::reviews::ReviewInput {
        model: name.clone(),
        action: action.on_page(&viewer)?,
        decision: Some(form.decision.trim().to_owned()).filter(|d| !d.is_empty()),
        reason_code: form.reason_code,
        note: form.note,
    };
    warden_oversight::reviews::review(&state.warden, &viewer.principal, &form.request_id, input)
        .await
        .on_page(&viewer)?;
    Ok(redirect(&format!("/ui/models/{}/decisions?request_id={}", encode_query(&name), encode_query(&form.request_id))))
}

async fn findings(
    State(state): State<UiState>,
    viewer: Viewer,
    Query(filter): Query<pages::FindingsFilter>,
) -> Result<Response, PageError> {
    let all =
        warden_oversight::findings::list(&state.warden, &viewer.principal, None, None, false).await.on_page(&viewer)?;
    Ok(page(pages::findings(&viewer, &all, &filter)))
}

async fn alerts(State(state): State<UiState>, viewer: Viewer) -> Result<Response, PageError> {
    let data = pages::AlertsData::load(&state.warden, &viewer.principal).await.on_page(&viewer)?;
    Ok(page(pages::alerts(&viewer, &data)))
}

async fn acknowledge(
    State(state): State<UiState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, PageError> {
    check_form(&headers, &viewer, &form.csrf)?;
    let comment = if form.comment.trim().is_empty() { "acknowledged on the dashboard" } else { form.comment.trim() };
    warden_oversight::alerts::acknowledge(&state.warden, &viewer.principal, id, comment).await.on_page(&viewer)?;
    Ok(redirect("/ui/alerts"))
}

#[derive(Deserialize)]
struct DoraReportPageQuery {
    kind: warden_core::ReportKind,
}

async fn dora_report(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(query): Query<DoraReportPageQuery>,
) -> Result<Response, PageError> {
    let report =
        warden_oversight::dora::report(&state.warden, &viewer.principal, id, query.kind).await.on_page(&viewer)?;
    Ok(page(pages::dora_report(&viewer, &report)))
}

async fn resolve(
    State(state): State<UiState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, PageError> {
    check_form(&headers, &viewer, &form.csrf)?;
    warden_oversight::alerts::resolve_incident(&state.warden, &viewer.principal, id, &form.comment)
        .await
        .on_page(&viewer)?;
    Ok(redirect("/ui/alerts"))
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<u64>,
}

async fn audit(
    State(state): State<UiState>,
    viewer: Viewer,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let data = pages::AuditData::load(&state.warden, &viewer.principal, query.before).await.on_page(&viewer)?;
    // A verification older than a minute is refreshed in the background; the page shows the latest result.
    let status = {
        let mut status = state.verification.lock().unwrap_or_else(|e| e.into_inner());
        let stale = status.last.as_ref().is_none_or(|(at, _)| state.warden.now() - at > 60_000_000);
        if stale && !status.running {
            status.running = true;
            spawn_verification(state.clone(), viewer.principal.clone());
        }
        status.clone()
    };
    Ok(page(pages::audit(&viewer, &data, &status)))
}

fn spawn_verification(state: UiState, principal: Principal) {
    tokio::spawn(async move {
        let result = warden_proof::ledger::verify(&state.warden, &principal).await;
        let mut status = state.verification.lock().unwrap_or_else(|e| e.into_inner());
        status.running = false;
        match result {
            Ok(verification) => status.last = Some((state.warden.now(), verification)),
            Err(err) => tracing::warn!(error = %err, "dashboard ledger verification failed"),
        }
    });
}

async fn verify(
    State(state): State<UiState>,
    headers: HeaderMap,
    viewer: Viewer,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, PageError> {
    check_form(&headers, &viewer, &form.csrf)?;
    let verification = warden_proof::ledger::verify(&state.warden, &viewer.principal).await.on_page(&viewer)?;
    state.verification.lock().unwrap_or_else(|e| e.into_inner()).last = Some((state.warden.now(), verification));
    Ok(redirect("/ui/audit"))
}

async fn kpis(
    State(state): State<UiState>,
    viewer: Viewer,
    Query(query): Query<DaysQuery>,
) -> Result<Response, PageError> {
    let days = query.days.unwrap_or(90).clamp(1, 3650);
    let data = pages::BoardData::load(&state.warden, &viewer.principal, days).await.on_page(&viewer)?;
    Ok(page(pages::kpis(&viewer, &data)))
}

async fn summary(
    State(state): State<UiState>,
    viewer: Viewer,
    Query(query): Query<DaysQuery>,
) -> Result<Response, PageError> {
    let days = query.days.unwrap_or(90).clamp(1, 3650);
    let data = pages::BoardData::load(&state.warden, &viewer.principal, days).await.on_page(&viewer)?;
    Ok(page(pages::summary(&viewer, &data, state.warden.now())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dashboard_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/ui/alerts?x=1")), "/ui/alerts?x=1");
        for bad in ["https://evil.example/ui", "//evil.example/ui", "/v1/tokens", "/ui\\..\\x"] {
            assert_eq!(safe_next(Some(bad)), "/ui", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui");
    }

    #[test]
    fn origin_must_match_host_when_given() {
        let mut headers = HeaderMap::new();
        assert!(same_origin(&headers));
        headers.insert(HOST, "127.0.0.1:8700".parse().unwrap());
        headers.insert(ORIGIN, "http://127.0.0.1:8700".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&headers));
    }
}
