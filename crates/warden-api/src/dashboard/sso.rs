//! Dashboard sign-in through the identity provider: `GET /ui/login/oidc` sends the browser to the provider
//! (authorization code flow with PKCE, `state` and `nonce`), `GET /ui/login/oidc/callback` takes it back,
//! exchanges the code, validates the ID token and starts a session.
//!
//! What a sign-in in progress needs (nonce, PKCE verifier, where to go after) stays on the server, keyed by
//! `state`, for ten minutes and one use; a `SameSite=Lax` cookie carrying `state` binds it to the browser that
//! began it, so a provider's answer replayed into another browser, or twice, is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::header::{HOST, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{DOCTYPE, html};
use serde::Deserialize;
use warden_registry::Error;
use warden_registry::identity::{CALLBACK_PATH, IdentityConfig, principal_of};
use warden_registry::sign_in::{self, Pending, SignInError, clip};

use super::session::{Credential, SESSION_COOKIE, SIGN_IN_COOKIE, cookie, same, set_cookie, set_sign_in_cookie};
use super::{LoginQuery, UiState, html as html_response, pages, redirect, safe_next};

/// How long a sign-in may take at the provider.
const SIGN_IN_LIFETIME: Duration = Duration::from_secs(600);
/// Most sign-ins in progress at once (a flood of abandoned ones cannot grow memory without bound).
const MAX_PENDING: usize = 10_000;

/// Sign-ins in progress, by `state`.
#[derive(Default)]
pub(crate) struct SignIns {
    pending: Mutex<HashMap<String, (Pending, String, Instant)>>,
}

impl SignIns {
    /// Keeps a sign-in until the browser returns. When too many are in progress the oldest is dropped: a
    /// flood of sign-ins nobody finishes cannot lock real people out, only make the flood's own go stale.
    fn put(&self, pending: Pending, next: String) {
        let mut all = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if all.len() >= MAX_PENDING {
            all.retain(|_, (_, _, began)| began.elapsed() < SIGN_IN_LIFETIME);
            if all.len() >= MAX_PENDING
                && let Some(oldest) = all.iter().min_by_key(|(_, (_, _, began))| *began).map(|(s, _)| s.clone())
            {
                all.remove(&oldest);
            }
        }
        all.insert(pending.state.clone(), (pending, next, Instant::now()));
    }

    /// The sign-in `state` names, once: taking it ends it.
    fn take(&self, state: &str) -> Option<(Pending, String)> {
        let mut all = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let (pending, next, began) = all.remove(state)?;
        (began.elapsed() < SIGN_IN_LIFETIME).then_some((pending, next))
    }
}

/// The page for a sign-in route of a server without an identity provider.
fn not_configured() -> Response {
    failed(StatusCode::NOT_FOUND, "Not configured", "Single sign-on is not configured on this server.")
}

/// A page explaining why signing in did not work, with the way back to the log-in page.
fn failed(status: StatusCode, title: &str, message: &str) -> Response {
    html_response(status, pages::sign_in_failed(title, message))
}

/// Where the provider sends the browser back: the configured redirect URI, else this server's address as the
/// browser used it.
fn redirect_uri(config: &IdentityConfig, headers: &HeaderMap, secure: bool) -> Option<String> {
    if let Some(configured) = &config.oidc.redirect_uri {
        return Some(configured.clone());
    }
    let host = headers.get(HOST)?.to_str().ok()?;
    let authority_like = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    authority_like.then(|| format!("{}://{host}{CALLBACK_PATH}", if secure { "https" } else { "http" }))
}

/// `GET /ui/login/oidc`: begins a sign-in and sends the browser to the provider.
pub(crate) async fn begin(
    State(state): State<UiState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let Some((config, verifier)) = state.warden.identity() else { return not_configured() };
    if let Err(why) = verifier.endpoints_or_retry().await {
        tracing::warn!(issuer = %config.oidc.issuer, error = %why, "single sign-on unavailable");
        let break_glass = if config.oidc.token_login { " Administrators can still log in with a token." } else { "" };
        return failed(
            StatusCode::SERVICE_UNAVAILABLE,
            "Single sign-on is unavailable",
            &format!(
                "{} does not answer ({}). Try again in a minute.{break_glass}",
                config.oidc.display_name,
                clip(&why)
            ),
        );
    }
    let Some(redirect_uri) = redirect_uri(&config, &headers, state.secure) else {
        return failed(StatusCode::BAD_REQUEST, "Refused", "The request does not say which host it was sent to.");
    };
    let started = match sign_in::start(verifier, &redirect_uri) {
        Ok(started) => started,
        Err(err) => return failed(StatusCode::SERVICE_UNAVAILABLE, "Single sign-on is unavailable", &err.to_string()),
    };
    let cookie = set_sign_in_cookie(&started.pending.state, SIGN_IN_LIFETIME, state.secure);
    state.sign_ins.put(started.pending, safe_next(query.next.as_deref()));
    let mut response = redirect(&started.url);
    response.headers_mut().insert(SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
    response
}

/// The provider's answer (RFC 6749 §4.1.2).
#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /ui/login/oidc/callback`: the browser back from the provider.
pub(crate) async fn callback(
    State(state): State<UiState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some((config, verifier)) = state.warden.identity() else { return not_configured() };
    if let Some(error) = &query.error {
        // A refusal starts nothing, so it is shown even without a state (some providers leave it out); a
        // sign-in it names ends here.
        if let Some(returned) = &query.state
            && cookie(&headers, SIGN_IN_COOKIE).is_some_and(|began| same(&began, returned))
        {
            state.sign_ins.take(returned);
        }
        let description = query.error_description.as_deref().map(|d| format!(": {}", clip(d))).unwrap_or_default();
        tracing::info!(error = %clip(error), "the identity provider refused a sign-in");
        return failed(
            StatusCode::UNAUTHORIZED,
            "Not signed in",
            &format!("{} refused the sign-in ({}{description}).", config.oidc.display_name, clip(error)),
        );
    }
    let Some(returned) = query.state.as_deref() else {
        return failed(StatusCode::BAD_REQUEST, "Refused", "The identity provider's answer carries no state.");
    };
    if !cookie(&headers, SIGN_IN_COOKIE).is_some_and(|began| same(&began, returned)) {
        tracing::info!("sign-in refused: its state is not the one this browser began");
        return failed(
            StatusCode::BAD_REQUEST,
            "Refused",
            "This sign-in did not begin in this browser (its state does not match), or it began at another \
             address than [oidc] redirect_uri names. Start again.",
        );
    }
    let Some((pending, next)) = state.sign_ins.take(returned) else {
        return failed(
            StatusCode::BAD_REQUEST,
            "Refused",
            "This sign-in expired or was already completed. Start again.",
        );
    };
    let Some(code) = query.code.as_deref() else {
        return failed(StatusCode::BAD_REQUEST, "Refused", "The identity provider's answer carries no code.");
    };
    let now = state.warden.now() / 1_000_000;
    let signed_in = match sign_in::finish(verifier, &pending, code, now).await {
        Ok(signed_in) => signed_in,
        Err(err @ SignInError::IdToken(_)) => {
            tracing::info!(reason = %err, "sign-in refused");
            return failed(StatusCode::UNAUTHORIZED, "Not signed in", &err.to_string());
        }
        Err(err) => {
            tracing::warn!(reason = %err, "sign-in failed");
            return failed(StatusCode::BAD_GATEWAY, "Not signed in", &err.to_string());
        }
    };
    let principal = match principal_of(&config, signed_in.identity.clone()) {
        Ok(principal) => principal,
        Err(Error::Forbidden(why)) => return failed(StatusCode::FORBIDDEN, "No access", &why),
        Err(err) => return failed(StatusCode::INTERNAL_SERVER_ERROR, "Not signed in", &err.to_string()),
    };
    tracing::info!(who = %principal.name, roles = %principal.roles_text(), "signed in through the identity provider");
    let id = state.sessions.start(Credential::Provider { identity: signed_in.identity, id_token: signed_in.id_token });
    // A page of this site moves on to `next`: the redirect from the provider was a cross-site navigation, on
    // which the browser would not send the new SameSite=Strict session cookie if it were redirected again.
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(format!("0;url={next}"));
                title { "Signed in · Warden" }
            }
            body { p { "Signed in as " (principal.display_name()) ". " a #continue href=(next) { "Continue" } } }
        }
    };
    let mut response = html_response(StatusCode::OK, page);
    let headers = response.headers_mut();
    let session = set_cookie(SESSION_COOKIE, &id, super::session::session_max_age(), state.secure);
    headers.append(SET_COOKIE, session.parse().expect("cookie is ASCII"));
    let spent = set_sign_in_cookie("", Duration::ZERO, state.secure);
    headers.append(SET_COOKIE, spent.parse().expect("cookie is ASCII"));
    response
}

/// Where a person signed in through the provider goes on logging out: the provider's end-session endpoint
/// (RP-initiated logout), which sends them back to the log-in page; `None` when the provider has none.
pub(crate) fn end_session_url(state: &UiState, headers: &HeaderMap, id_token: &str) -> Option<String> {
    let (config, verifier) = state.warden.identity()?;
    let callback = redirect_uri(&config, headers, state.secure)?;
    let back = format!("{}/ui/login", callback.strip_suffix(CALLBACK_PATH)?);
    sign_in::end_session_url(verifier, id_token, &back)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(state: &str) -> Pending {
        Pending { state: state.into(), nonce: "n".into(), code_verifier: "v".into(), redirect_uri: "r".into() }
    }

    #[test]
    fn a_sign_in_is_taken_once() {
        let sign_ins = SignIns::default();
        sign_ins.put(pending("s1"), "/ui/audit".into());
        assert_eq!(sign_ins.take("s1").map(|(p, next)| (p.state, next)), Some(("s1".into(), "/ui/audit".into())));
        assert!(sign_ins.take("s1").is_none(), "a replayed answer finds nothing");
        assert!(sign_ins.take("unknown").is_none());
    }

    #[test]
    fn the_redirect_uri_is_the_configured_one_or_this_host_and_never_a_made_up_host() {
        let config =
            IdentityConfig::parse("[oidc]\nissuer = \"https://idp.example\"\nclient_id = \"warden\"\n").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "warden.bank:8700".parse().unwrap());
        assert_eq!(redirect_uri(&config, &headers, true).unwrap(), "https://warden.bank:8700/ui/login/oidc/callback");
        headers.insert(HOST, "evil.example/path?".parse().unwrap());
        assert_eq!(redirect_uri(&config, &headers, false), None);
        let configured = IdentityConfig::parse(
            "[oidc]\nissuer = \"https://idp.example\"\nclient_id = \"warden\"\n\
             redirect_uri = \"https://warden.bank/ui/login/oidc/callback\"\n",
        )
        .unwrap();
        assert_eq!(redirect_uri(&configured, &headers, false).unwrap(), "https://warden.bank/ui/login/oidc/callback");
        let wrong = "[oidc]\nissuer = \"https://idp.example\"\nclient_id = \"w\"\nredirect_uri = \"https://w.bank/elsewhere\"\n";
        assert!(IdentityConfig::parse(wrong).unwrap_err().contains("must end in /ui/login/oidc/callback"));
    }
}
