//! Signing people in through the identity provider: the authorization code flow with PKCE, `state` and
//! `nonce` (the dashboard), and the device authorization flow (the CLI's `warden login`).
//!
//! These are the client's halves of the protocols (OpenID Connect Core §3.1, RFC 7636, RFC 8628); the
//! provider's endpoints come from its discovery document ([`crate::identity::Verifier::endpoints`]), and the
//! ID token is validated like a bearer token, with Warden's client id as audience and the sign-in's nonce.

use std::time::Duration;

use base64::Engine;
use rand::Rng;
use serde_json::Value;
use sha2::Digest;

use crate::identity::{Identity, Refusal, Verifier};

/// Why a sign-in did not succeed: each names the step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The provider's endpoints are not known (it has not answered, or names none).
    #[error("single sign-on is unavailable: {0}")]
    Unavailable(String),
    /// The provider did not exchange the code (or the device code) for tokens.
    #[error("the identity provider did not complete the sign-in: {0}")]
    Exchange(String),
    /// The ID token failed a check.
    #[error("the identity provider's ID token was refused: {0}")]
    IdToken(Refusal),
}

/// A sign-in begun: what the browser is sent to, and what its return must match.
#[derive(Debug, Clone)]
pub struct Started {
    /// The provider's authorization URL with the request's parameters.
    pub url: String,
    /// Kept by Warden until the browser returns.
    pub pending: Pending,
}

/// What Warden keeps of a sign-in in progress (never sent to the browser but `state`).
#[derive(Debug, Clone)]
pub struct Pending {
    /// Binds the provider's answer to this request (and, through a cookie, to this browser).
    pub state: String,
    /// Binds the ID token to this sign-in.
    pub nonce: String,
    /// The PKCE code verifier; the provider saw only its SHA-256.
    pub code_verifier: String,
    /// The redirect URI sent, which the code exchange repeats.
    pub redirect_uri: String,
}

/// A person the provider signed in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who, with their groups.
    pub identity: Identity,
    /// The ID token, for RP-initiated logout's `id_token_hint`.
    pub id_token: String,
}

/// 256 random bits, base64url: state, nonce and code verifier (43 characters, as RFC 7636 asks at least).
fn random_value() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The scopes asked for: the ID token's standard claims (the groups claim is the provider's configuration).
const SCOPES: &str = "openid profile email";

/// Begins a sign-in: fresh state, nonce and PKCE verifier, and the provider's authorization URL for them.
pub fn start(verifier: &Verifier, redirect_uri: &str) -> Result<Started, SignInError> {
    let endpoints = verifier.endpoints().map_err(SignInError::Unavailable)?;
    let pending = Pending {
        state: random_value(),
        nonce: random_value(),
        code_verifier: random_value(),
        redirect_uri: redirect_uri.to_owned(),
    };
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(pending.code_verifier.as_bytes()));
    let mut url = reqwest::Url::parse(&endpoints.authorization)
        .map_err(|e| SignInError::Unavailable(format!("the authorization endpoint is not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &verifier.config().client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", SCOPES)
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(Started { url: url.into(), pending })
}

/// Finishes a sign-in the provider answered with `code`: exchanges it (with the PKCE verifier and, for a
/// confidential client, the client secret) and validates the ID token at `now` (unix seconds).
pub async fn finish(verifier: &Verifier, pending: &Pending, code: &str, now: i64) -> Result<SignedIn, SignInError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", pending.redirect_uri.as_str()),
        ("code_verifier", pending.code_verifier.as_str()),
    ];
    let tokens = token_request(verifier, &form).await.map_err(|e| match e {
        TokenAnswer::Failed(why) | TokenAnswer::Pending(why) => SignInError::Exchange(why),
    })?;
    let id_token = tokens["id_token"]
        .as_str()
        .ok_or_else(|| SignInError::Exchange("the token endpoint's answer has no id_token".into()))?
        .to_owned();
    let identity = verifier.verify_id_token(&id_token, now, &pending.nonce).await.map_err(SignInError::IdToken)?;
    Ok(SignedIn { identity, id_token })
}

/// The provider's end-session URL (OpenID Connect RP-Initiated Logout) for a person signed in with
/// `id_token`, sending them back to `back`; `None` when the provider has no end-session endpoint.
pub fn end_session_url(verifier: &Verifier, id_token: &str, back: &str) -> Option<String> {
    let end_session = verifier.endpoints().ok()?.end_session?;
    let mut url = reqwest::Url::parse(&end_session).ok()?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("client_id", &verifier.config().client_id)
        .append_pair("post_logout_redirect_uri", back);
    Some(url.into())
}

/// The answer of the token endpoint when it is not tokens.
enum TokenAnswer {
    /// An error that ends the attempt.
    Failed(String),
    /// The device flow's `authorization_pending` or `slow_down`: ask again later.
    Pending(String),
}

/// POSTs a grant to the token endpoint, authenticating as Warden's client (HTTP Basic with the secret when
/// there is one, else `client_id` in the form, as a public client).
async fn token_request(verifier: &Verifier, form: &[(&str, &str)]) -> Result<Value, TokenAnswer> {
    let endpoints = verifier.endpoints().map_err(TokenAnswer::Failed)?;
    let response = post_as_client(verifier, &endpoints.token, form)
        .await
        .map_err(|e| TokenAnswer::Failed(format!("the token endpoint did not answer: {e}")))?;
    let status = response.status();
    let body = verifier.read_json("the token endpoint", response).await.map_err(TokenAnswer::Failed)?;
    if status.is_success() {
        return Ok(body);
    }
    let error = body["error"].as_str().unwrap_or("no error code");
    let description = body["error_description"].as_str().map(|d| format!(": {}", clip(d))).unwrap_or_default();
    let why = format!("{status} {}{description}", clip(error));
    match error {
        "authorization_pending" | "slow_down" => Err(TokenAnswer::Pending(why)),
        _ => Err(TokenAnswer::Failed(why)),
    }
}

/// POSTs a form to one of the provider's endpoints as Warden's client: HTTP Basic with the secret when there
/// is one, else `client_id` in the form (a public client).
async fn post_as_client(
    verifier: &Verifier,
    url: &str,
    form: &[(&str, &str)],
) -> Result<reqwest::Response, reqwest::Error> {
    let config = verifier.config();
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    let mut request = verifier.http().post(url);
    match &config.client_secret {
        Some(secret) => request = request.basic_auth(&config.client_id, Some(&secret.0)),
        None => fields.push(("client_id", config.client_id.as_str())),
    }
    request.form(&fields).send().await
}

/// A text from another system (an identity provider, MLflow) in a message: at most 200 characters, no control
/// characters.
pub fn clip(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// A device sign-in begun (RFC 8628 §3.2): what the person is told, and what the CLI polls with.
#[derive(Debug, Clone)]
pub struct DeviceStarted {
    /// The code the person confirms at the provider.
    pub user_code: String,
    /// Where they go.
    pub verification_uri: String,
    /// The same with the code filled in, when the provider gives it.
    pub verification_uri_complete: Option<String>,
    /// What the CLI polls the token endpoint with.
    pub device_code: String,
    /// How long the codes live.
    pub expires_in: Duration,
    /// How often to poll.
    pub interval: Duration,
}

/// Begins the device authorization flow: asks the provider for a device code and a user code.
pub async fn start_device(verifier: &Verifier) -> Result<DeviceStarted, SignInError> {
    let endpoints = verifier.endpoints().map_err(SignInError::Unavailable)?;
    let url = endpoints.device_authorization.ok_or_else(|| {
        SignInError::Unavailable("the identity provider does not offer the device authorization flow".into())
    })?;
    let response = post_as_client(verifier, &url, &[("scope", SCOPES)])
        .await
        .map_err(|e| SignInError::Exchange(format!("the device authorization endpoint did not answer: {e}")))?;
    let status = response.status();
    let body =
        verifier.read_json("the device authorization endpoint", response).await.map_err(SignInError::Exchange)?;
    if !status.is_success() {
        let error = body["error"].as_str().unwrap_or("no error code");
        return Err(SignInError::Exchange(format!("{status} {}", clip(error))));
    }
    let text = |name: &str| {
        body[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SignInError::Exchange(format!("the device authorization answer has no {name}")))
    };
    Ok(DeviceStarted {
        user_code: text("user_code")?,
        verification_uri: text("verification_uri")?,
        verification_uri_complete: body["verification_uri_complete"].as_str().map(str::to_owned),
        device_code: text("device_code")?,
        expires_in: Duration::from_secs(body["expires_in"].as_u64().unwrap_or(600).min(3600)),
        interval: Duration::from_secs(body["interval"].as_u64().unwrap_or(5).clamp(1, 60)),
    })
}

/// What one poll of the device flow found.
#[derive(Debug)]
pub enum DevicePoll {
    /// The person has not confirmed yet; poll again after the interval (longer after `slow_down`).
    Pending {
        /// Whether the provider asked to slow down.
        slow_down: bool,
    },
    /// Confirmed: the access token for Warden's API and when it expires.
    Done {
        /// The access token (a bearer JWT for Warden's audience).
        access_token: String,
        /// Its lifetime, if the provider said.
        expires_in: Option<u64>,
    },
}

/// Polls the token endpoint once for a device sign-in.
pub async fn poll_device(verifier: &Verifier, device_code: &str) -> Result<DevicePoll, SignInError> {
    let form = [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", device_code)];
    match token_request(verifier, &form).await {
        Ok(tokens) => {
            let access_token = tokens["access_token"]
                .as_str()
                .ok_or_else(|| SignInError::Exchange("the token endpoint's answer has no access_token".into()))?;
            Ok(DevicePoll::Done { access_token: access_token.to_owned(), expires_in: tokens["expires_in"].as_u64() })
        }
        Err(TokenAnswer::Pending(why)) => Ok(DevicePoll::Pending { slow_down: why.contains("slow_down") }),
        Err(TokenAnswer::Failed(why)) => Err(SignInError::Exchange(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_values_are_long_enough_for_pkce_and_differ() {
        let (a, b) = (random_value(), random_value());
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn a_providers_text_is_clipped_and_loses_control_characters() {
        assert_eq!(clip("bad\r\nthing"), "badthing");
        assert_eq!(clip(&"x".repeat(500)).len(), 200);
    }
}
