//! `warden login`, `warden logout`, `warden whoami`: a person signs the CLI in through the bank's identity
//! provider with the device authorization flow (RFC 8628), and the access token is kept per server in the
//! user's credentials file (`$WARDEN_CONFIG_DIR`, else `$XDG_CONFIG_HOME/warden`, else `~/.config/warden`;
//! `credentials.json`, readable by the user alone). Commands without `--token` use it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use warden_api_types as api;
use warden_registry::identity::{OidcConfig, Verifier};
use warden_registry::sign_in::{self, DevicePoll};

use crate::cli::{Connection, LoginArgs};

/// The credentials file: a saved sign-in per server URL.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Credentials {
    servers: BTreeMap<String, Saved>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    /// The provider's access token.
    token: String,
    /// When it expires (unix seconds), if the provider said.
    expires_at: Option<i64>,
    /// Who it is, as Warden named them at sign-in.
    name: String,
}

/// Largest credentials file read.
const MAX_CREDENTIALS_BYTES: u64 = 1 << 20;

fn credentials_path() -> Option<PathBuf> {
    let dir = std::env::var_os("WARDEN_CONFIG_DIR").map(PathBuf::from).or_else(|| {
        std::env::var_os("XDG_CONFIG_HOME")
            .map(|d| PathBuf::from(d).join("warden"))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/warden")))
    })?;
    Some(dir.join("credentials.json"))
}

fn read_credentials() -> anyhow::Result<Credentials> {
    let Some(path) = credentials_path() else { return Ok(Credentials::default()) };
    let Ok(metadata) = std::fs::metadata(&path) else { return Ok(Credentials::default()) };
    if metadata.len() > MAX_CREDENTIALS_BYTES {
        bail!("{} is {} bytes; at most {MAX_CREDENTIALS_BYTES}", path.display(), metadata.len());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a Warden credentials file", path.display()))
}

fn write_credentials(credentials: &Credentials) -> anyhow::Result<PathBuf> {
    let path = credentials_path().context("no HOME, XDG_CONFIG_HOME or WARDEN_CONFIG_DIR to keep the sign-in in")?;
    let dir = path.parent().expect("the file is in a directory");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Written beside and renamed over: a crash leaves the old file or the new one, never half of one.
    let staged = dir.join(".credentials.json.new");
    let _ = std::fs::remove_file(&staged);
    // Created afresh (never through a link someone put there), readable by the user alone.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(
        &mut options.open(&staged).with_context(|| format!("cannot create {}", staged.display()))?,
        serde_json::to_string_pretty(credentials)?.as_bytes(),
    )
    .with_context(|| format!("cannot write {}", staged.display()))?;
    std::fs::rename(&staged, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn server_key(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The token `warden login` saved for this server, if any; an expired one is an error saying what to do.
pub(crate) fn saved_token(url: &str) -> anyhow::Result<Option<String>> {
    let credentials = read_credentials()?;
    let Some(saved) = credentials.servers.get(&server_key(url)) else { return Ok(None) };
    if saved.expires_at.is_some_and(|at| at <= unix_now()) {
        bail!("the sign-in of {} to {url} has expired: run `warden login` again (or pass --token)", saved.name);
    }
    Ok(Some(saved.token.clone()))
}

/// `warden login`: the device flow against the provider the server names (or the one given).
pub(crate) async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let url = server_key(&args.connection.url);
    let provider = match (args.issuer, args.client_id) {
        (Some(issuer), Some(client_id)) => api::IdentityProviderBody {
            display_name: issuer.clone(),
            issuer,
            cli_client_id: client_id,
            token_login: true,
        },
        (None, None) => public_get(&args.connection, "/v1/identity-provider").await?,
        _ => bail!("give both --issuer and --client-id, or neither (to ask the server)"),
    };
    // The issuer comes from an unauthenticated answer: signing in is only offered over TLS (or on loopback).
    let issuer_url = reqwest::Url::parse(&provider.issuer).context("the identity provider's issuer is not a URL")?;
    let loopback = matches!(issuer_url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if issuer_url.scheme() != "https" && !loopback {
        bail!("the identity provider {} is not an https:// URL: refusing to sign in through it", provider.issuer);
    }
    let verifier = Verifier::new(OidcConfig {
        issuer: provider.issuer.trim_end_matches('/').to_owned(),
        client_id: provider.cli_client_id.clone(),
        audience: provider.cli_client_id.clone(),
        groups_claim: "groups".into(),
        token_login: true,
        client_secret_file: None,
        client_secret: None,
        redirect_uri: None,
        display_name: provider.display_name.clone(),
        cli_client_id: provider.cli_client_id.clone(),
    });
    verifier.refresh().await.map_err(|e| anyhow::anyhow!("cannot reach the identity provider: {e}"))?;
    let started = sign_in::start_device(&verifier).await?;
    match &started.verification_uri_complete {
        Some(complete) => eprintln!(
            "To sign in to {url}, open {complete}\n(or {} and enter the code {})",
            started.verification_uri, started.user_code
        ),
        None => {
            eprintln!("To sign in to {url}, open {} and enter the code {}", started.verification_uri, started.user_code)
        }
    }
    let deadline = std::time::Instant::now() + started.expires_in;
    let mut interval = started.interval;
    let (token, expires_in) = loop {
        if std::time::Instant::now() >= deadline {
            bail!("the code expired before the sign-in was confirmed: run `warden login` again");
        }
        tokio::time::sleep(interval).await;
        match sign_in::poll_device(&verifier, &started.device_code).await? {
            DevicePoll::Pending { slow_down: true } => interval += Duration::from_secs(5),
            DevicePoll::Pending { slow_down: false } => {}
            DevicePoll::Done { access_token, expires_in } => break (access_token, expires_in),
        }
    };
    // Warden, not the CLI, decides whether the token is good and what it grants.
    let me: api::WhoAmI = crate::client::Client::with_token(&args.connection, token.clone())?
        .get_as("/v1/whoami")
        .await
        .context("the provider signed you in, but Warden refused its token")?;
    let mut credentials = read_credentials()?;
    let expires_at = expires_in.map(|s| unix_now() + s as i64);
    credentials.servers.insert(url.clone(), Saved { token, expires_at, name: me.name.clone() });
    let path = write_credentials(&credentials)?;
    let who = me.display_name.as_deref().unwrap_or(&me.name);
    let mut granted: Vec<String> = me.roles.clone();
    granted.extend(me.scopes.iter().cloned());
    outln!("signed in to {url} as {who} ({}); kept in {}", granted.join(", "), path.display());
    Ok(())
}

/// `warden logout`: forgets this server's sign-in.
pub(crate) fn logout(connection: &Connection) -> anyhow::Result<()> {
    let url = server_key(&connection.url);
    let mut credentials = read_credentials()?;
    match credentials.servers.remove(&url) {
        Some(saved) => {
            write_credentials(&credentials)?;
            outln!("signed {} out of {url}", saved.name);
        }
        None => outln!("not signed in to {url}"),
    }
    Ok(())
}

/// `warden whoami`: who the server takes the caller for.
pub(crate) async fn whoami(connection: &Connection) -> anyhow::Result<()> {
    let me: api::WhoAmI = crate::client::Client::new(connection)?.get_as("/v1/whoami").await?;
    outln!("{}", me.name);
    if let Some(display) = &me.display_name {
        outln!("  name: {display}");
    }
    outln!("  via: {}", me.via);
    outln!("  roles: {}", if me.roles.is_empty() { "-".to_owned() } else { me.roles.join(", ") });
    for scope in &me.scopes {
        outln!("  scoped: {scope}");
    }
    Ok(())
}

/// A GET of a public endpoint (no token).
async fn public_get<T: serde::de::DeserializeOwned>(connection: &Connection, path: &str) -> anyhow::Result<T> {
    crate::client::Client::with_token(connection, String::new())?.get_as(path).await
}
