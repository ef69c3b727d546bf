//! Dashboard sessions: a token, or a sign-in through the identity provider, exchanged once for a random
//! session id in an HttpOnly, SameSite=Strict cookie (Secure when served over TLS), and a per-session token
//! every form carries against cross-site forgery.
//!
//! What the session stands for stays in server memory only. A token is re-authenticated on each request, so
//! revoking or expiring it ends its sessions at once; a person signed in through the provider has their roles
//! worked out from their groups on each request, so a changed mapping applies at once. Sessions live in
//! memory and end at restart (people sign in again).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use rand::Rng;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "warden_session";
/// The login form's cross-site token cookie (double submit: the form field must equal it).
pub(crate) const LOGIN_COOKIE: &str = "warden_login";
/// A session ends this long after login, whatever the token's own expiry.
const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// At most this many sessions are kept (the oldest go first).
const MAX_SESSIONS: usize = 10_000;

/// What a session stands for.
#[derive(Clone)]
pub(crate) enum Credential {
    /// The token it logged in with (never sent back to the browser).
    Token(String),
    /// A person the identity provider signed in, and the ID token (the hint for signing out at the provider).
    Provider { identity: warden_registry::identity::Identity, id_token: String },
}

/// One logged-in browser.
#[derive(Clone)]
pub(crate) struct Session {
    /// Who.
    pub(crate) credential: Credential,
    /// Every form of this session carries it.
    pub(crate) csrf: String,
    created: Instant,
}

/// The live sessions.
#[derive(Default)]
pub(crate) struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

/// 256 random bits as hex.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    /// Starts a session for a token that has just authenticated, or a person just signed in; returns its id.
    pub(crate) fn start(&self, credential: Credential) -> String {
        let id = random_id();
        let session = Session { credential, csrf: random_id(), created: Instant::now() };
        let mut sessions = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.created.elapsed() < SESSION_LIFETIME);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.created).map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), session);
        id
    }

    /// The session behind a request's cookie, if it is live.
    pub(crate) fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let mut sessions = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get(&id) {
            Some(s) if s.created.elapsed() < SESSION_LIFETIME => Some(s.clone()),
            Some(_) => {
                sessions.remove(&id);
                None
            }
            None => None,
        }
    }

    /// Ends the session behind a request's cookie; what it stood for.
    pub(crate) fn end(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, SESSION_COOKIE)?;
        self.by_id.lock().unwrap_or_else(|e| e.into_inner()).remove(&id)
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(COOKIE).iter().filter_map(|h| h.to_str().ok()).flat_map(|h| h.split(';')).find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then(|| value.to_owned())
    })
}

/// A `Set-Cookie` value for the dashboard's cookies (`max_age` 0 deletes it).
pub(crate) fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}", max_age.as_secs())
}

/// The cookie binding a sign-in through the provider to the browser that began it. `SameSite=Lax`: the
/// provider's redirect back is a cross-site navigation, on which a `Strict` cookie is not sent.
pub(crate) fn set_sign_in_cookie(value: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SIGN_IN_COOKIE}={value}; Path=/ui/login/oidc; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        max_age.as_secs()
    )
}

/// The sign-in cookie's name.
pub(crate) const SIGN_IN_COOKIE: &str = "warden_sign_in";

pub(crate) use warden_registry::auth::same;

/// How long a session cookie lives in the browser.
pub(crate) fn session_max_age() -> Duration {
    SESSION_LIFETIME
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(cookies: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(cookies).unwrap());
        headers
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_ended() {
        let sessions = Sessions::default();
        let id = sessions.start(Credential::Token("secret".into()));
        let request = headers(&format!("other=1; {SESSION_COOKIE}={id}"));
        let session = sessions.find(&request).unwrap();
        assert!(matches!(session.credential, Credential::Token(secret) if secret == "secret"));
        assert_eq!(session.csrf.len(), 64);
        assert!(sessions.find(&headers(&format!("{SESSION_COOKIE}={id}x"))).is_none());
        sessions.end(&request);
        assert!(sessions.find(&request).is_none());
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_under_tls() {
        let plain = set_cookie(SESSION_COOKIE, "abc", Duration::from_secs(60), false);
        assert_eq!(plain, "warden_session=abc; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=60");
        assert!(set_cookie(SESSION_COOKIE, "abc", Duration::from_secs(60), true).ends_with("; Secure"));
    }
}
