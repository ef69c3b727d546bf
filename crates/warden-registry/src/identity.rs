//! People and applications known to the bank's OpenID provider: bearer JWTs (access tokens of applications'
//! client-credentials grants, people's tokens for the CLI) validated against the provider's published keys,
//! and Warden's roles from the token's groups claim.
//!
//! - [`IdentityConfig`]: `warden serve --identity FILE` (TOML): the provider, the audience Warden is, the
//!   groups claim, group → roles, and whether Warden's own bearer tokens (`wdn_…`) still work (break-glass).
//! - [`Verifier`]: a token's header names its key (`kid`) and algorithm; only asymmetric algorithms are
//!   accepted (never `none`, never an HMAC, which a public key could forge), and the key's own algorithm must
//!   be the header's. The keys come from the provider's discovery document's `jwks_uri`, cached; a `kid` not in
//!   the cache makes one refresh (single-flight, at most every [`REFRESH_AT_MOST_EVERY`]), waited for only by
//!   the requests carrying that `kid`: requests with known keys never wait. A provider unreachable at start
//!   leaves the verifier without keys (its tokens refused with a reason) and is asked again on each refresh.
//! - A refusal names the check that failed ([`Refusal`]), never the token.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use serde::Deserialize;
use serde_json::Value;
use sha2::Digest;

use crate::auth::{ModelScope, Principal, Role, ScopedRole};
use crate::{Error, Result};

/// What `--identity FILE` configures.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityConfig {
    /// The provider.
    pub oidc: OidcConfig,
    /// Group (as the groups claim names it) → the roles it grants over the whole inventory.
    pub roles: BTreeMap<String, Vec<Role>>,
    /// Roles groups hold over some models only.
    pub scopes: Vec<GroupScope>,
    /// The file it was read from ([`IdentityConfig::load`]), watched for changes.
    pub source: Option<std::path::PathBuf>,
}

/// `[[scopes]]`: a group's role granted over a set of models.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupScope {
    /// The group.
    pub group: String,
    /// The role, which holds only over `models`.
    pub role: Role,
    /// The models.
    pub models: ModelScope,
}

/// The OpenID provider and how Warden reads its tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcConfig {
    /// The issuer URL: tokens' `iss` must be exactly this, and discovery is
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// Warden's client id at the provider.
    pub client_id: String,
    /// The audience bearer tokens must carry (`aud`); the client id unless set.
    pub audience: String,
    /// The claim listing the caller's groups (or app roles): `groups` unless set.
    pub groups_claim: String,
    /// Whether Warden's own bearer tokens are accepted besides the provider's (break-glass use).
    pub token_login: bool,
    /// The file holding the client secret, as written (relative to the identity file).
    pub client_secret_file: Option<String>,
    /// The secret Warden authenticates to the provider's token endpoint with, read from
    /// `client_secret_file` by [`IdentityConfig::load`]; a public client (PKCE alone) has none.
    pub client_secret: Option<ClientSecret>,
    /// Where the provider sends the browser back after sign-in: `https://warden.example/ui/login/oidc/callback`.
    /// Unset, it is built from the address the browser used (fine on one host, wrong behind a proxy that
    /// rewrites `Host`).
    pub redirect_uri: Option<String>,
    /// The provider's name on the dashboard's sign-in button: `display_name`, else the issuer's host.
    pub display_name: String,
    /// The client id the CLI's `warden login` signs in as (a public client of the device flow): `cli_client_id`,
    /// else `client_id`.
    pub cli_client_id: String,
}

/// A client secret: never shown by `Debug`.
#[derive(Clone, PartialEq)]
pub struct ClientSecret(pub String);

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(…)")
    }
}

/// The TOML file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    oidc: OidcFile,
    #[serde(default)]
    roles: BTreeMap<String, RolesValue>,
    #[serde(default)]
    scopes: Vec<ScopeFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeFile {
    group: String,
    role: String,
    #[serde(default)]
    models_tagged: Option<String>,
    #[serde(default)]
    models_owned_by: Option<String>,
    #[serde(default)]
    models_in_business_line: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcFile {
    issuer: String,
    client_id: String,
    #[serde(default)]
    client_secret_file: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    groups_claim: Option<String>,
    #[serde(default)]
    token_login: Option<bool>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    cli_client_id: Option<String>,
}

/// `"group" = "role"` or `"group" = ["role", …]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RolesValue {
    One(String),
    Several(Vec<String>),
}

/// Largest client secret file read.
const MAX_SECRET_FILE_BYTES: u64 = 4096;

fn read_client_secret(path: &Path) -> std::result::Result<ClientSecret, String> {
    let size = std::fs::metadata(path).map_err(|e| format!("[oidc] client_secret_file {}: {e}", path.display()))?.len();
    if size > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "[oidc] client_secret_file {} is {size} bytes; at most {MAX_SECRET_FILE_BYTES}",
            path.display()
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("[oidc] client_secret_file {}: {e}", path.display()))?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(format!("[oidc] client_secret_file {} is empty", path.display()));
    }
    Ok(ClientSecret(secret.to_owned()))
}

/// Largest identity file read.
const MAX_IDENTITY_FILE_BYTES: u64 = 1 << 20;

impl IdentityConfig {
    /// Reads and checks `--identity FILE`.
    pub fn load(path: &Path) -> Result<IdentityConfig> {
        let size = std::fs::metadata(path)
            .map_err(|e| Error::invalid(format!("cannot read identity file {}: {e}", path.display())))?
            .len();
        if size > MAX_IDENTITY_FILE_BYTES {
            return Err(Error::invalid(format!(
                "identity file {} is {size} bytes; at most {MAX_IDENTITY_FILE_BYTES}",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid(format!("cannot read identity file {}: {e}", path.display())))?;
        let place = |e: String| Error::invalid(format!("identity file {}: {e}", path.display()));
        let mut config = IdentityConfig::parse(&text).map_err(place)?;
        if let Some(secret_file) = &config.oidc.client_secret_file {
            // Relative to the identity file, as a deployment's secrets usually sit beside it.
            let secret_path = path.parent().unwrap_or(Path::new(".")).join(secret_file);
            config.oidc.client_secret = Some(read_client_secret(&secret_path).map_err(place)?);
        }
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// Parses the TOML text of an identity file.
    pub fn parse(text: &str) -> std::result::Result<IdentityConfig, String> {
        let file: IdentityFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let issuer = file.oidc.issuer.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&issuer).map_err(|e| format!("[oidc] issuer '{issuer}' is not a URL: {e}"))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(format!("[oidc] issuer '{issuer}' must be an https:// URL (http:// only on loopback)"));
        }
        if file.oidc.client_id.trim().is_empty() {
            return Err("[oidc] client_id is empty".into());
        }
        let redirect_uri = match file.oidc.redirect_uri {
            Some(uri) => {
                let parsed =
                    reqwest::Url::parse(&uri).map_err(|e| format!("[oidc] redirect_uri '{uri}' is not a URL: {e}"))?;
                if parsed.path() != CALLBACK_PATH || parsed.query().is_some() {
                    return Err(format!("[oidc] redirect_uri '{uri}' must end in {CALLBACK_PATH}, with no query"));
                }
                Some(uri)
            }
            None => None,
        };
        let display_name =
            file.oidc.display_name.unwrap_or_else(|| url.host_str().unwrap_or("the identity provider").to_owned());
        let mut roles = BTreeMap::new();
        for (group, value) in file.roles {
            let names = match value {
                RolesValue::One(name) => vec![name],
                RolesValue::Several(names) => names,
            };
            let parsed: std::result::Result<Vec<Role>, String> =
                names.iter().map(|n| n.parse::<Role>().map_err(|e| format!("[roles] \"{group}\": {e}"))).collect();
            let mut parsed = parsed?;
            if parsed.is_empty() {
                return Err(format!("[roles] \"{group}\" grants no role"));
            }
            parsed.sort_by_key(|r| r.as_str());
            parsed.dedup();
            roles.insert(group, parsed);
        }
        let mut scopes = Vec::new();
        for (n, scope) in file.scopes.into_iter().enumerate() {
            let place = format!("[[scopes]] #{} (group \"{}\")", n + 1, scope.group);
            let role: Role = scope.role.parse().map_err(|e| format!("{place}: {e}"))?;
            let models = ModelScope {
                tagged: scope.models_tagged,
                owned_by: scope.models_owned_by,
                business_line: scope.models_in_business_line,
            };
            let criteria = [&models.tagged, &models.owned_by, &models.business_line];
            if criteria.iter().all(|c| c.is_none()) {
                return Err(format!(
                    "{place} names no models: give models_tagged, models_owned_by or models_in_business_line"
                ));
            }
            if criteria.into_iter().flatten().any(|v| v.trim().is_empty()) {
                return Err(format!("{place}: an empty tag, owner or business line would match no model"));
            }
            if roles.get(&scope.group).is_some_and(|held: &Vec<Role>| held.contains(&role)) {
                return Err(format!(
                    "{place}: [roles] already grants \"{}\" the role '{role}' over every model, so the scope would \
                     narrow nothing; grant it in one place",
                    scope.group
                ));
            }
            scopes.push(GroupScope { group: scope.group, role, models });
        }
        let audience = file.oidc.audience.unwrap_or_else(|| file.oidc.client_id.clone());
        let cli_client_id = file.oidc.cli_client_id.unwrap_or_else(|| file.oidc.client_id.clone());
        Ok(IdentityConfig {
            oidc: OidcConfig {
                issuer,
                client_id: file.oidc.client_id,
                audience,
                groups_claim: file.oidc.groups_claim.unwrap_or_else(|| "groups".into()),
                token_login: file.oidc.token_login.unwrap_or(true),
                client_secret_file: file.oidc.client_secret_file,
                client_secret: None,
                redirect_uri,
                display_name,
                cli_client_id,
            },
            roles,
            scopes,
            source: None,
        })
    }

    /// The roles `groups` grant, sorted, each once.
    pub fn roles_of(&self, groups: &[String]) -> Vec<Role> {
        let granted: BTreeSet<&'static str> =
            groups.iter().filter_map(|g| self.roles.get(g)).flatten().map(|r| r.as_str()).collect();
        Role::ALL.into_iter().filter(|r| granted.contains(r.as_str())).collect()
    }

    /// The roles `groups` hold over some models only.
    pub fn scoped_roles_of(&self, groups: &[String]) -> Vec<ScopedRole> {
        let mut scoped: Vec<ScopedRole> = self
            .scopes
            .iter()
            .filter(|s| groups.contains(&s.group))
            .map(|s| ScopedRole { role: s.role, scope: s.models.clone() })
            .collect();
        scoped.dedup();
        scoped
    }
}

/// Why a bearer JWT was refused: the check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not three base64url parts with a JSON header.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// `alg` is `none`, an HMAC, or one Warden does not accept.
    #[error("the token's algorithm {0} is not accepted (only RS256/384/512, PS256/384/512, ES256/384, EdDSA)")]
    Algorithm(String),
    /// No `kid` in the header, and the provider publishes more than one key.
    #[error("the token's header names no key (kid), and the identity provider has more than one")]
    NoKeyId,
    /// The `kid` is not among the provider's keys, even after asking the provider again.
    #[error("the token's key '{0}' is not among the identity provider's keys")]
    UnknownKey(String),
    /// The provider's keys could not be fetched (yet).
    #[error("the identity provider's keys are unavailable: {0}")]
    KeysUnavailable(String),
    /// The key is for another algorithm than the header's.
    #[error("the token's algorithm {header} does not match its key's ({key})")]
    KeyAlgorithm { header: String, key: String },
    /// The signature does not verify.
    #[error("the token's signature does not verify against the identity provider's key")]
    Signature,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by '{0}', not by the configured identity provider")]
    Issuer(String),
    /// `aud` does not include Warden's audience.
    #[error("the token is not meant for this service (its audience does not include '{0}')")]
    Audience(String),
    /// `exp` has passed.
    #[error("the token expired at {0} (unix seconds)")]
    Expired(i64),
    /// `nbf` or `iat` is in the future.
    #[error("the token is not valid before {0} (unix seconds)")]
    NotYetValid(i64),
    /// A claim the check needs is missing or of the wrong type.
    #[error("the token's claim '{0}' is missing or malformed")]
    Claim(String),
    /// An ID token (it carries a `nonce`) sent as a bearer token.
    #[error("the token is an ID token (it carries a nonce): the API takes the identity provider's access tokens")]
    IdTokenAsBearer,
    /// An ID token without the nonce its sign-in sent, or with another (a replayed token).
    #[error("the ID token's nonce is {0} (a token of another sign-in, or replayed)")]
    Nonce(&'static str),
}

/// What a validated token says about its bearer.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// A name for people to read: `name`, `preferred_username`, `email`, or the client (`azp`, `client_id`).
    pub display_name: Option<String>,
    /// The groups claim's entries.
    pub groups: Vec<String>,
}

impl Identity {
    /// The unique name of the bearer across providers: `issuer|subject`.
    pub fn unique_name(&self) -> String {
        format!("{}|{}", self.issuer, self.subject)
    }
}

/// The identity configuration in force, read again from its file when the file changes: a changed group →
/// role mapping or scope applies from the next request (the file is looked at at most once a second). The
/// `[oidc]` section is fixed at start: a change to it is logged and ignored until a restart, since the
/// verifier's keys and endpoints belong to that provider. A file that no longer reads keeps the mapping in
/// force and logs why.
pub struct LiveIdentity {
    config: RwLock<Arc<IdentityConfig>>,
    path: Option<std::path::PathBuf>,
    /// When this was made: the clock `next_check` counts from.
    started: Instant,
    /// When to look at the file next (milliseconds after `started`): most requests read only this.
    next_check: std::sync::atomic::AtomicU64,
    /// The file's modification time when last looked at; held while looking.
    modified: std::sync::Mutex<Option<std::time::SystemTime>>,
}

/// How often the identity file is looked at for changes.
pub const RELOAD_CHECK_EVERY: Duration = Duration::from_secs(1);

impl LiveIdentity {
    /// The configuration as loaded; `path` is the file to watch (none: fixed).
    pub fn new(config: IdentityConfig, path: Option<std::path::PathBuf>) -> LiveIdentity {
        let modified = path.as_deref().and_then(|p| std::fs::metadata(p).ok()?.modified().ok());
        LiveIdentity {
            config: RwLock::new(Arc::new(config)),
            path,
            started: Instant::now(),
            next_check: std::sync::atomic::AtomicU64::new(RELOAD_CHECK_EVERY.as_millis() as u64),
            modified: std::sync::Mutex::new(modified),
        }
    }

    /// The configuration in force now.
    pub fn current(&self) -> Arc<IdentityConfig> {
        if let Some(path) = &self.path {
            self.reload_if_changed(path);
        }
        self.config.read().expect("identity config lock").clone()
    }

    fn reload_if_changed(&self, path: &Path) {
        use std::sync::atomic::Ordering;
        let now = self.started.elapsed().as_millis() as u64;
        if now < self.next_check.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut seen) = self.modified.try_lock() else { return }; // another request is looking
        self.next_check.store(now + RELOAD_CHECK_EVERY.as_millis() as u64, Ordering::Relaxed);
        let modified = std::fs::metadata(path).ok().and_then(|m| m.modified().ok());
        if modified == *seen {
            return;
        }
        *seen = modified;
        match IdentityConfig::load(path) {
            Ok(mut fresh) => {
                let mut config = self.config.write().expect("identity config lock");
                if fresh.oidc != config.oidc {
                    tracing::warn!(file = %path.display(), "[oidc] changed: it applies after a restart; the roles and scopes apply now");
                    fresh.oidc = config.oidc.clone();
                }
                tracing::info!(file = %path.display(), groups = fresh.roles.len(), scopes = fresh.scopes.len(), "identity file read again");
                *config = Arc::new(fresh);
            }
            Err(error) => {
                tracing::error!(%error, "the changed identity file was not applied; the mapping in force stays")
            }
        }
    }
}

/// The dashboard's path the provider sends the browser back to.
pub const CALLBACK_PATH: &str = "/ui/login/oidc/callback";

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: i64 = 60;

/// Refreshes of the provider's keys triggered by an unknown `kid` happen at most this often (a caller sending
/// made-up key ids must not make Warden hammer the provider).
pub const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(10);

/// The keys are refreshed at least this often, so a key the provider withdrew stops being accepted.
pub const REFRESH_EVERY: Duration = Duration::from_secs(600);

/// Largest token accepted (headers and claims included).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Largest discovery document or key set read from the provider.
const MAX_PROVIDER_DOCUMENT_BYTES: usize = 1 << 20;

/// One of the provider's keys.
struct Key {
    algorithm: Algorithm,
    public: PublicKey,
}

/// A verification key's public part, as ring takes it.
enum PublicKey {
    /// RSA: big-endian modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// ECDSA (the uncompressed point `04 || x || y`) or Ed25519 (the 32-byte key).
    Point(Vec<u8>),
}

impl Key {
    /// Whether `signature` is this key's over `message` (ring; RSA moduli of 2048 to 8192 bits only).
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature as sig;
        match &self.public {
            PublicKey::Rsa { n, e } => {
                let parameters: &sig::RsaParameters = match self.algorithm {
                    Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
                    Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                sig::RsaPublicKeyComponents { n, e }.verify(parameters, message, signature).is_ok()
            }
            PublicKey::Point(point) => {
                let algorithm: &'static dyn sig::VerificationAlgorithm = match self.algorithm {
                    Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
                    Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
                    Algorithm::EdDSA => &sig::ED25519,
                    _ => return false,
                };
                sig::UnparsedPublicKey::new(algorithm, point).verify(message, signature).is_ok()
            }
        }
    }
}

/// Where the provider's discovery document says its sign-in endpoints are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Where the browser is sent to sign in.
    pub authorization: String,
    /// Where a sign-in's code is exchanged for tokens.
    pub token: String,
    /// Where the browser is sent to sign out (RP-initiated logout), if the provider has one.
    pub end_session: Option<String>,
    /// Where a device (the CLI) asks for a sign-in code, if the provider offers the device flow.
    pub device_authorization: Option<String>,
}

/// The provider's keys by `kid`, and when they were fetched.
#[derive(Default)]
struct Keys {
    by_id: HashMap<String, Arc<Key>>,
    /// The sign-in endpoints of the last discovery document read.
    endpoints: Option<Endpoints>,
    fetched: Option<Instant>,
    /// Why the last fetch failed, when it did.
    error: Option<String>,
}

/// Validates bearer JWTs of one provider.
pub struct Verifier {
    config: OidcConfig,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    /// Held while the keys are fetched: one fetch at a time, which the others wait for.
    refreshing: tokio::sync::Mutex<()>,
    /// Tokens verified lately, by their SHA-256: an application sends the same access token until it expires,
    /// and a signature check costs tens of microseconds.
    verified: RwLock<HashMap<[u8; 32], Verified>>,
}

/// A token verified lately.
struct Verified {
    identity: Identity,
    exp: i64,
    at: Instant,
}

/// How long a verified token is trusted without checking its signature again (a key the provider withdraws
/// stops being trusted within this, once the keys are refreshed).
pub const VERIFIED_LIFETIME: Duration = Duration::from_secs(60);

/// Most tokens remembered as verified.
const MAX_VERIFIED: usize = 10_000;

impl Verifier {
    /// A verifier with no keys yet: [`Verifier::refresh`] fetches them.
    pub fn new(config: OidcConfig) -> Verifier {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with a timeout and no redirects builds");
        Verifier {
            config,
            http,
            keys: RwLock::default(),
            refreshing: tokio::sync::Mutex::new(()),
            verified: RwLock::default(),
        }
    }

    /// The provider's configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Fetches the provider's discovery document and its key set, replacing the cached keys. A failure keeps
    /// the keys there were and is returned (and shown by [`Verifier::keys_error`]).
    pub async fn refresh(&self) -> std::result::Result<usize, String> {
        let _one = self.refreshing.lock().await;
        self.fetch_locked().await
    }

    /// The periodic refresh: fetches the keys when they are due, unless a fetch is running already. `None`:
    /// nothing was fetched. Every request finding the keys due may call it; one of them fetches.
    pub async fn refresh_if_due(&self) -> Option<std::result::Result<usize, String>> {
        let _one = self.refreshing.try_lock().ok()?;
        if !self.refresh_due() {
            return None;
        }
        Some(self.fetch_locked().await)
    }

    /// Why the last fetch of the keys failed, if it did.
    pub fn keys_error(&self) -> Option<String> {
        self.keys.read().expect("keys lock").error.clone()
    }

    async fn fetch_locked(&self) -> std::result::Result<usize, String> {
        let result = self.fetch().await;
        let mut keys = self.keys.write().expect("keys lock");
        keys.fetched = Some(Instant::now());
        match result {
            Ok((by_id, endpoints)) => {
                keys.endpoints = endpoints;
                let count = by_id.len();
                // A key no longer published verifies nothing more, even remembered.
                let withdrawn = keys.by_id.keys().any(|kid| !by_id.contains_key(kid));
                keys.by_id = by_id;
                keys.error = None;
                if withdrawn {
                    self.verified.write().expect("verified lock").clear();
                }
                Ok(count)
            }
            Err(error) => {
                keys.error = Some(error.clone());
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> std::result::Result<(HashMap<String, Arc<Key>>, Option<Endpoints>), String> {
        let discovery_url = format!("{}/.well-known/openid-configuration", self.config.issuer);
        let discovery = self.get_json(&discovery_url).await?;
        if discovery["issuer"].as_str().map(|i| i.trim_end_matches('/')) != Some(self.config.issuer.as_str()) {
            return Err(format!(
                "the discovery document at {discovery_url} names issuer {}, not {}",
                discovery["issuer"], self.config.issuer
            ));
        }
        let jwks_uri = discovery["jwks_uri"]
            .as_str()
            .ok_or_else(|| format!("the discovery document at {discovery_url} has no jwks_uri"))?;
        let set: JwkSet = serde_json::from_value(self.get_json(jwks_uri).await?)
            .map_err(|e| format!("the key set at {jwks_uri} is not a JWK set: {e}"))?;
        let text = |name: &str| discovery[name].as_str().map(str::to_owned);
        // A provider without the code flow's endpoints still signs bearer tokens; sign-in is then unavailable.
        let endpoints =
            text("authorization_endpoint").zip(text("token_endpoint")).map(|(authorization, token)| Endpoints {
                authorization,
                token,
                end_session: text("end_session_endpoint"),
                device_authorization: text("device_authorization_endpoint"),
            });
        Ok((keys_of(&set), endpoints))
    }

    /// The provider's sign-in endpoints, or why they are not known (the provider has not answered yet, or
    /// its discovery document names none). A caller finding them unknown may ask [`Verifier::refresh`].
    pub fn endpoints(&self) -> std::result::Result<Endpoints, String> {
        let keys = self.keys.read().expect("keys lock");
        match (&keys.endpoints, &keys.error) {
            (Some(endpoints), _) => Ok(endpoints.clone()),
            (None, Some(error)) => Err(error.clone()),
            (None, None) => Err(format!(
                "the discovery document of {} names no authorization and token endpoints",
                self.config.issuer
            )),
        }
    }

    /// The sign-in endpoints; when they are not known, the provider is asked again first (unless it was asked
    /// under [`REFRESH_AT_MOST_EVERY`] ago), so sign-in works again once a provider down at start answers.
    pub async fn endpoints_or_retry(&self) -> std::result::Result<Endpoints, String> {
        if let Ok(endpoints) = self.endpoints() {
            return Ok(endpoints);
        }
        {
            let _one = self.refreshing.lock().await;
            let recent =
                self.keys.read().expect("keys lock").fetched.is_some_and(|at| at.elapsed() < REFRESH_AT_MOST_EVERY);
            if !recent && self.endpoints().is_err() {
                let _ = self.fetch_locked().await;
            }
        }
        self.endpoints()
    }

    /// The HTTP client the provider is called with (timeouts, no redirects).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Reads a JSON answer of the provider, at most [`MAX_PROVIDER_DOCUMENT_BYTES`].
    pub async fn read_json(&self, url: &str, mut response: reqwest::Response) -> std::result::Result<Value, String> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_PROVIDER_DOCUMENT_BYTES {
                return Err(format!("{url}: the answer is over {MAX_PROVIDER_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))
    }

    /// Replaces the cached keys with `set`'s (what a fetch does; for benchmarks and tests without a
    /// provider). How many keys Warden verifies with.
    pub fn load_keys(&self, set: &JwkSet) -> usize {
        let by_id = keys_of(set);
        let count = by_id.len();
        let mut keys = self.keys.write().expect("keys lock");
        keys.by_id = by_id;
        keys.fetched = Some(Instant::now());
        keys.error = None;
        count
    }

    async fn get_json(&self, url: &str) -> std::result::Result<Value, String> {
        let response = self.http.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        self.read_json(&format!("GET {url}"), response).await
    }

    /// Whether the keys are due for their periodic refresh.
    pub fn refresh_due(&self) -> bool {
        self.keys.read().expect("keys lock").fetched.is_none_or(|at| at.elapsed() >= REFRESH_EVERY)
    }

    /// The key named `kid`: from the cache, or after one refresh (waited for only by callers whose key is
    /// not cached; at most one every [`REFRESH_AT_MOST_EVERY`]).
    async fn key(&self, kid: &str) -> std::result::Result<Arc<Key>, Refusal> {
        if let Some(key) = self.keys.read().expect("keys lock").by_id.get(kid) {
            return Ok(key.clone());
        }
        {
            let _one = self.refreshing.lock().await;
            let (cached, recent) = {
                let keys = self.keys.read().expect("keys lock");
                let recent = keys.fetched.is_some_and(|at| at.elapsed() < REFRESH_AT_MOST_EVERY);
                (keys.by_id.get(kid).cloned(), recent)
            };
            if let Some(key) = cached {
                return Ok(key); // another caller's refresh brought it
            }
            if !recent {
                let _ = self.fetch_locked().await;
            }
        }
        let keys = self.keys.read().expect("keys lock");
        match (keys.by_id.get(kid), &keys.error) {
            (Some(key), _) => Ok(key.clone()),
            (None, Some(error)) if keys.by_id.is_empty() => Err(Refusal::KeysUnavailable(error.clone())),
            (None, _) => Err(Refusal::UnknownKey(kid.to_owned())),
        }
    }

    /// The provider's one key, for a token that names none.
    fn only_key(&self) -> std::result::Result<Arc<Key>, Refusal> {
        let keys = self.keys.read().expect("keys lock");
        match (keys.by_id.len(), &keys.error) {
            (1, _) => Ok(keys.by_id.values().next().expect("one key").clone()),
            (0, Some(error)) => Err(Refusal::KeysUnavailable(error.clone())),
            _ => Err(Refusal::NoKeyId),
        }
    }

    /// Validates a bearer JWT at `now` (unix seconds): header, key, signature, issuer, audience, times. A
    /// token verified in the last [`VERIFIED_LIFETIME`] is only checked for expiry.
    pub async fn verify(&self, token: &str, now: i64) -> std::result::Result<Identity, Refusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::Malformed);
        }
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if let Some(seen) = self.verified.read().expect("verified lock").get(&digest)
            && seen.at.elapsed() < VERIFIED_LIFETIME
        {
            if now > seen.exp + LEEWAY_SECONDS {
                return Err(Refusal::Expired(seen.exp));
            }
            return Ok(seen.identity.clone());
        }
        let (identity, exp) = self.verify_uncached(token, now).await?;
        let mut verified = self.verified.write().expect("verified lock");
        if verified.len() >= MAX_VERIFIED {
            verified.retain(|_, v| v.at.elapsed() < VERIFIED_LIFETIME && now <= v.exp + LEEWAY_SECONDS);
            if verified.len() >= MAX_VERIFIED {
                verified.clear();
            }
        }
        verified.insert(digest, Verified { identity: identity.clone(), exp, at: Instant::now() });
        Ok(identity)
    }

    /// [`Verifier::verify`] without the memory of verified tokens (what a token seen for the first time
    /// costs); also the token's `exp`.
    pub async fn verify_uncached(&self, token: &str, now: i64) -> std::result::Result<(Identity, i64), Refusal> {
        let claims = self.verified_claims(token).await?;
        if claims.get("nonce").is_some() {
            // A dashboard sign-in's ID token (its audience is the client id, often the API's too): not a key to
            // the API, which would outlive the session it was issued for.
            return Err(Refusal::IdTokenAsBearer);
        }
        self.check_claims(&claims, now, &self.config.audience)
    }

    /// Validates an ID token of a dashboard sign-in at `now`: as a bearer token, but its audience is Warden's
    /// client id and its `nonce` must be the one the sign-in sent.
    pub async fn verify_id_token(&self, token: &str, now: i64, nonce: &str) -> std::result::Result<Identity, Refusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::Malformed);
        }
        let claims = self.verified_claims(token).await?;
        let (identity, _) = self.check_claims(&claims, now, &self.config.client_id)?;
        match claims["nonce"].as_str() {
            None => Err(Refusal::Nonce("missing")),
            Some(sent) if crate::auth::same(sent, nonce) => Ok(identity),
            Some(_) => Err(Refusal::Nonce("not this sign-in's")),
        }
    }

    /// A token's claims once its algorithm, key and signature are checked.
    async fn verified_claims(&self, token: &str) -> std::result::Result<Value, Refusal> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut parts = token.split('.');
        let (Some(header_part), Some(payload), Some(signature_part), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refusal::Malformed);
        };
        let signed = &token[..header_part.len() + 1 + payload.len()];
        let header: Value = serde_json::from_slice(&b64.decode(header_part).map_err(|_| Refusal::Malformed)?)
            .map_err(|_| Refusal::Malformed)?;
        // The algorithm first, as written: `none` and names Warden does not verify with are refused by name.
        let alg = header["alg"].as_str().ok_or(Refusal::Malformed)?;
        let Some(algorithm) = ACCEPTED.into_iter().find(|a| format!("{a:?}") == alg) else {
            return Err(Refusal::Algorithm(alg.to_owned()));
        };
        let key = match &header["kid"] {
            Value::String(kid) => self.key(kid).await?,
            // OpenID Connect Core §10.1: a provider with one key need not name it.
            Value::Null => self.only_key()?,
            _ => return Err(Refusal::Malformed),
        };
        if key.algorithm != algorithm {
            return Err(Refusal::KeyAlgorithm { header: alg.to_owned(), key: format!("{:?}", key.algorithm) });
        }
        // The signature here; the claims after, against Warden's clock and with messages of its own.
        let signature = b64.decode(signature_part).map_err(|_| Refusal::Malformed)?;
        if !key.verifies(signed.as_bytes(), &signature) {
            return Err(Refusal::Signature);
        }
        serde_json::from_slice(&b64.decode(payload).map_err(|_| Refusal::Malformed)?).map_err(|_| Refusal::Malformed)
    }

    fn check_claims(&self, claims: &Value, now: i64, audience: &str) -> std::result::Result<(Identity, i64), Refusal> {
        let text = |name: &str| claims[name].as_str().map(str::to_owned);
        let issuer = text("iss").ok_or_else(|| Refusal::Claim("iss".into()))?;
        if issuer.trim_end_matches('/') != self.config.issuer {
            return Err(Refusal::Issuer(issuer));
        }
        let audience_ok = match &claims["aud"] {
            Value::String(one) => one == audience,
            Value::Array(many) => many.iter().any(|a| a.as_str() == Some(audience)),
            _ => return Err(Refusal::Claim("aud".into())),
        };
        if !audience_ok {
            return Err(Refusal::Audience(audience.to_owned()));
        }
        let exp = claims["exp"].as_i64().ok_or_else(|| Refusal::Claim("exp".into()))?;
        if now > exp + LEEWAY_SECONDS {
            return Err(Refusal::Expired(exp));
        }
        for name in ["nbf", "iat"] {
            match &claims[name] {
                Value::Null => {}
                value => {
                    let at = value.as_i64().ok_or_else(|| Refusal::Claim(name.into()))?;
                    if at > now + LEEWAY_SECONDS {
                        return Err(Refusal::NotYetValid(at));
                    }
                }
            }
        }
        let subject = text("sub").filter(|s| !s.is_empty()).ok_or_else(|| Refusal::Claim("sub".into()))?;
        let groups = match &claims[self.config.groups_claim.as_str()] {
            Value::Null => Vec::new(),
            Value::Array(items) => items
                .iter()
                .map(|g| g.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Refusal::Claim(self.config.groups_claim.clone()))?,
            _ => return Err(Refusal::Claim(self.config.groups_claim.clone())),
        };
        let display_name = ["name", "preferred_username", "email", "azp", "client_id"].into_iter().find_map(text);
        // The configured issuer, not the token's spelling of it (a trailing `/`): one person, one name.
        let issuer = self.config.issuer.clone();
        Ok((Identity { issuer, subject, display_name, groups }, exp))
    }
}

/// The algorithms Warden verifies with: asymmetric only.
const ACCEPTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The keys of a set Warden verifies with, by `kid` (keys for encryption or of a kind Warden does not verify
/// with are skipped).
fn keys_of(set: &JwkSet) -> HashMap<String, Arc<Key>> {
    let mut by_id = HashMap::new();
    for jwk in &set.keys {
        // A key without `kid` is kept under "": a provider with one key may name it nowhere.
        let kid = jwk.common.key_id.clone().unwrap_or_default();
        if let Some(key) = key_of(jwk) {
            by_id.insert(kid, Arc::new(key));
        }
    }
    by_id
}

/// A JWK as a verification key with its algorithm (the JWK's `alg`, or the one its key type implies).
fn key_of(jwk: &Jwk) -> Option<Key> {
    if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature) {
        return None;
    }
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        // A shared secret (`oct`) is never a provider's public key; kinds jsonwebtoken adds later are skipped.
        _ => return None,
    };
    let algorithm = match jwk.common.key_algorithm {
        Some(named) => named.to_string().parse::<Algorithm>().ok()?,
        None => implied,
    };
    if !ACCEPTED.contains(&algorithm) {
        return None;
    }
    use base64::Engine;
    let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok();
    let public = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => PublicKey::Rsa { n: b64(&rsa.n)?, e: b64(&rsa.e)? },
        AlgorithmParameters::EllipticCurve(ec) => {
            let (x, y) = (b64(&ec.x)?, b64(&ec.y)?);
            PublicKey::Point([&[4u8][..], &x, &y].concat())
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => PublicKey::Point(b64(&okp.x)?),
        _ => return None,
    };
    Some(Key { algorithm, public })
}

/// The principal of a validated identity: its roles are those its groups grant; none is `Forbidden`, naming
/// the groups.
pub fn principal_of(config: &IdentityConfig, identity: Identity) -> Result<Principal> {
    let roles = config.roles_of(&identity.groups);
    let scoped = config.scoped_roles_of(&identity.groups);
    if roles.is_empty() && scoped.is_empty() {
        let groups = if identity.groups.is_empty() {
            format!("the token carries no '{}' claim", config.oidc.groups_claim)
        } else {
            format!("its groups ({}) map to none", identity.groups.join(", "))
        };
        return Err(Error::Forbidden(format!(
            "{} is known to the identity provider but has no Warden role: {groups}",
            identity.display_name.as_deref().unwrap_or(&identity.subject)
        )));
    }
    Ok(Principal::provider(identity, roles, scoped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_file_maps_groups_to_roles_and_refuses_what_it_does_not_know() {
        let config = IdentityConfig::parse(
            r#"
            [oidc]
            issuer = "https://login.example-bank.com/realms/staff/"
            client_id = "warden"
            client_secret_file = "/run/secrets/oidc"
            token_login = false
            [roles]
            "mrm-validators" = "validator"
            "retail-ds" = ["data-scientist", "viewer"]
            "#,
        )
        .unwrap();
        assert_eq!(config.oidc.issuer, "https://login.example-bank.com/realms/staff");
        assert_eq!((config.oidc.audience.as_str(), config.oidc.groups_claim.as_str()), ("warden", "groups"));
        assert!(!config.oidc.token_login);
        let groups = ["retail-ds".to_owned(), "mrm-validators".to_owned(), "unmapped".to_owned()];
        assert_eq!(config.roles_of(&groups), [Role::Viewer, Role::DataScientist, Role::Validator]);
        assert_eq!(config.roles_of(&["unmapped".to_owned()]), []);

        let refused = |text: &str| IdentityConfig::parse(text).unwrap_err();
        let base = "[oidc]\nissuer = \"https://idp.example\"\nclient_id = \"warden\"\n";
        assert!(refused(&format!("{base}[roles]\n\"g\" = \"wizard\"")).contains("unknown role 'wizard'"));
        assert!(refused(&format!("{base}[roles]\n\"g\" = []")).contains("grants no role"));
        assert!(refused(&format!("{base}surprise = 1")).contains("unknown field"));
        assert!(refused("[oidc]\nissuer = \"http://idp.example\"\nclient_id = \"w\"").contains("https://"));
        assert!(refused("[oidc]\nissuer = \"not a url\"\nclient_id = \"w\"").contains("not a URL"));
    }

    #[test]
    fn scopes_grant_a_groups_role_over_some_models_and_ambiguous_ones_are_refused() {
        let base = "[oidc]\nissuer = \"https://idp.example\"\nclient_id = \"warden\"\n";
        let config = IdentityConfig::parse(&format!(
            "{base}[roles]\n\"mrm\" = \"validator\"\n\
             [[scopes]]\ngroup = \"cards-ds\"\nrole = \"data-scientist\"\nmodels_tagged = \"cards\"\n\
             [[scopes]]\ngroup = \"retail-mrm\"\nrole = \"validator\"\nmodels_owned_by = \"retail-credit\"\n"
        ))
        .unwrap();
        let groups = ["cards-ds".to_owned()];
        assert_eq!(config.roles_of(&groups), []);
        let scoped = config.scoped_roles_of(&groups);
        assert_eq!(scoped.len(), 1);
        assert_eq!(
            (scoped[0].role, scoped[0].scope.to_string().as_str()),
            (Role::DataScientist, "models tagged 'cards'")
        );

        let refused = |extra: &str| IdentityConfig::parse(&format!("{base}{extra}")).unwrap_err();
        assert!(refused("[[scopes]]\ngroup = \"g\"\nrole = \"viewer\"\n").contains("names no models"));
        assert!(
            refused("[[scopes]]\ngroup = \"g\"\nrole = \"wizard\"\nmodels_tagged = \"x\"\n").contains("unknown role")
        );
        assert!(refused("[[scopes]]\ngroup = \"g\"\nrole = \"viewer\"\nmodels_tagged = \" \"\n").contains("empty tag"));
        assert!(
            refused(
                "[roles]\n\"g\" = \"viewer\"\n[[scopes]]\ngroup = \"g\"\nrole = \"viewer\"\nmodels_tagged = \"x\"\n"
            )
            .contains("narrow nothing")
        );
        assert!(refused("[[scopes]]\ngroup = \"g\"\nrole = \"viewer\"\nmodels_in = \"x\"\n").contains("unknown field"));
    }
}
