/*!
Warden's first stage: the service context every later stage builds on, and the registry.

- [`Registry`]: the stores, the clock, the configuration and this replica's name; the stages above
  ([`warden_serving`], then oversight and proof) wrap it and reach it through `Deref`.
- [`auth`]: roles, permissions, principals, bearer tokens (only their hashes are stored), the first-start
  admin token.
- [`identity`]: the bank's identity provider: its bearer JWTs validated against its published keys, and the
  roles (over the whole inventory or scoped to some models) its groups map to; [`sign_in`]: the client's
  half of signing people in through it (authorization code flow with PKCE for the dashboard, device flow).
- [`leases`]: which replica runs a piece of scheduled work.
- [`mlflow`]: MLflow's model registry as a source of versions: read over its REST API (`warden import
  mlflow`), and its signed registry webhooks, which make a new MLflow version a candidate.
- [`registry`]: models, immutable versions with lineage and reference profiles, aliases with history. Alias
  changes are published to subscribers ([`AliasSubscriber`]): serving rebuilds its routes from them.
- [`binding`]: how a version's schema feeds its model (request checks and input cells).
- [`dataset`], [`reference`], [`compare`]: reading reference data (CSV, Parquet; `parquet_pages` checks every
  page header first), the reference rows kept for monitoring, and local drift reports between two files;
  [`task_metrics`]: the performance reports of multiclass classifiers and regressors on a scored file.
- [`artifact_format`], [`signing`]: the model formats Warden accepts and artifact signatures; [`external`]: the
  descriptor that is the artifact of a version served outside Warden.
- [`input_warnings`]: identifier-like and protected-looking inputs, found at registration and kept with the
  version.
- [`routing`]: notification receivers (signed webhook, Slack, PagerDuty, Jira, ServiceNow) and the rules
  routing events to them.
- [`personal_data`]: a model's data policy (retention, personal fields, the subject key) and the key
  personal data is tokenised or encrypted with.
- [`error`], [`text`]: the services' error type and the bounds on free text.

Services check the caller's permission, validate input, and write through [`warden_store`], whose audited
writes append their audit event in the same transaction. They know nothing of HTTP.

[`warden_serving`]: ../warden_serving/index.html
*/

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use warden_store::artifacts::{ArtifactStore, FsArtifactStore};
use warden_store::metadata::{MetadataStore, Micros};
use warden_store::postgres::PostgresStore;
use warden_store::s3::S3ArtifactStore;
use warden_store::sqlite::SqliteStore;

pub mod artifact_format;
pub mod auth;
pub mod binding;
pub mod compare;
pub mod dataset;
pub mod error;
pub mod external;
pub mod identity;
pub mod input_warnings;
pub mod leases;
pub mod mlflow;
mod parquet_pages;
pub mod personal_data;
pub mod reference;
pub mod registry;
pub mod routing;
pub mod sign_in;
pub mod signing;
pub mod task_metrics;
pub mod text;

pub use error::{Error, Result};

/// Where the current time comes from (replaceable in tests).
pub type Clock = Arc<dyn Fn() -> Micros + Send + Sync>;

/// Makes ring the process's TLS crypto provider (webhooks over https, the CLI's client, `serve --tls-cert`):
/// every HTTPS client and server in the process needs one, and ring builds without a C toolchain of its own.
pub fn install_tls_provider() {
    // Err means a provider is installed already, which is all this wants.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The system clock, in microseconds since the Unix epoch.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        now.as_micros() as Micros
    })
}

/// How Warden is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory for the database, artifacts and the admin token file.
    pub data_dir: PathBuf,
    /// Largest accepted upload (artifact or reference file), in bytes.
    pub max_upload_bytes: u64,
    /// Where alert notifications are POSTed, signed with HMAC-SHA256.
    pub webhook: Option<Webhook>,
    /// Receivers and the rules routing alert, report and governance events to them.
    pub notification_routes: Option<routing::Routes>,
    /// The ledger's Ed25519 seed file (default: `ledger.key` in the data directory, made at first start).
    pub ledger_key: Option<PathBuf>,
    /// The key personal data is kept under (default: `personal-data.key` in the data directory, made at
    /// first start).
    pub personal_data_key: Option<PathBuf>,
    /// Signers whose artifact signatures are accepted (none: a signed registration is refused).
    pub artifact_signers: Vec<signing::TrustedSigner>,
    /// Training commands retraining jobs may run (`external:NAME`).
    pub external_trainers: Vec<ExternalTrainer>,
    /// The metadata database: `None` for SQLite in the data directory, or a `postgres://` URL (which
    /// several replicas may share).
    pub database: Option<String>,
    /// Where artifacts live: `None` for the data directory, or an `s3://bucket/prefix` URL (credentials
    /// and endpoint from the `AWS_*` environment variables), which several replicas may share.
    pub artifacts: Option<String>,
    /// The bank's identity provider, whose tokens are accepted besides (or instead of) Warden's own.
    pub identity: Option<identity::IdentityConfig>,
    /// The MLflow tracking server whose registry webhooks make candidate versions.
    pub mlflow: Option<mlflow::MlflowConfig>,
    /// Document templates the bank added (`serve --document-templates DIR`), beside the ones Warden ships.
    pub document_templates: Vec<DocumentTemplate>,
}

/// A document template the bank added: a minijinja file, named by its file's stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentTemplate {
    pub name: String,
    pub source: String,
}

/// A webhook sink for alert notifications.
#[derive(Clone, PartialEq)]
pub struct Webhook {
    /// The receiver's URL.
    pub url: String,
    /// The shared secret the `X-Warden-Signature` HMAC is keyed with.
    pub secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults for a data directory: uploads up to 1 GiB.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            max_upload_bytes: 1 << 30,
            webhook: None,
            notification_routes: None,
            ledger_key: None,
            personal_data_key: None,
            artifact_signers: Vec::new(),
            external_trainers: Vec::new(),
            database: None,
            artifacts: None,
            identity: None,
            mlflow: None,
            document_templates: Vec::new(),
        }
    }
}

/// A training command the server's operator configured (`warden serve --external-trainer NAME=FORMAT:COMMAND`).
/// `{data}` in the command is replaced by the training CSV's path (features as logged, protected attributes,
/// then `label`), `{model}` by the path the command must write the model to, in `format`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalTrainer {
    /// The name jobs ask for (`external:NAME`).
    pub name: String,
    /// The format of the model the command writes (`onnx`, `xgboost-json`, …).
    pub format: String,
    /// The command, run with `sh -c`.
    pub command: String,
}

impl std::str::FromStr for ExternalTrainer {
    type Err = Error;
    /// `NAME=FORMAT:COMMAND`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = || Error::invalid(format!("external trainer '{text}' is not NAME=FORMAT:COMMAND"));
        let (name, rest) = text.split_once('=').ok_or_else(bad)?;
        let (format, command) = rest.split_once(':').ok_or_else(bad)?;
        format.parse::<crate::artifact_format::ArtifactFormat>()?;
        crate::registry::validate_name("trainer", name)?;
        if !command.contains("{data}") || !command.contains("{model}") {
            return Err(Error::invalid(format!(
                "external trainer '{name}': the command must use {{data}} and {{model}}"
            )));
        }
        Ok(ExternalTrainer { name: name.into(), format: format.into(), command: command.into() })
    }
}

/// Which models' aliases changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasChange {
    /// This process changed this model's aliases.
    Model(String),
    /// Another replica changed some alias (the shared alias generation moved); which is not known.
    Elsewhere,
}

/// Told of every alias change. Serving subscribes and rebuilds its routes.
///
/// Publication is synchronous: an alias write returns only after every subscriber has handled the change,
/// so a withdrawn or replaced version answers no request after its alias moved away from it.
#[async_trait::async_trait]
pub trait AliasSubscriber: Send + Sync {
    /// Handles one change; failures are the subscriber's to record (serving marks the model unservable).
    async fn aliases_changed(&self, registry: &Registry, change: &AliasChange);
}

/// What [`Registry::watch_alias_generation`] starts from: no generation seen yet.
pub const UNSEEN: i64 = i64::MIN;

/// The service context: stores, clock, configuration, and the registry's caches. Cheap to share behind an
/// `Arc` (inside the stages above it).
pub struct Registry {
    /// The metadata database. Stages above use it; the HTTP layer goes through the services.
    pub metadata: Arc<dyn MetadataStore>,
    artifacts: Arc<dyn ArtifactStore>,
    clock: Clock,
    config: Config,
    /// Serialises "store blob, insert version, clean up on failure" so that cleaning up a failed
    /// registration never removes a blob another registration is about to reference.
    pub blob_commit: tokio::sync::Mutex<()>,
    pub(crate) tokens: auth::TokenCache,
    /// The identity provider's token verifier, when one is configured.
    pub(crate) verifier: Option<Arc<identity::Verifier>>,
    /// The identity configuration in force (read again when its file changes).
    live_identity: Option<identity::LiveIdentity>,
    /// This process's name among replicas sharing the database.
    replica: String,
    /// Parsed versions by (model, number): versions are immutable.
    pub versions: RwLock<std::collections::HashMap<(String, i64), registry::Version>>,
    alias_subscribers: RwLock<Vec<Arc<dyn AliasSubscriber>>>,
    /// MLflow webhook deliveries answered lately.
    pub(crate) mlflow_deliveries: mlflow::Deliveries,
    /// The key personal data is tokenised and encrypted with.
    pub personal_data_key: Arc<personal_data::PersonalDataKey>,
}

impl Registry {
    /// Opens the stores the configuration names (SQLite in the data directory or PostgreSQL; the data
    /// directory or S3 for blobs) and applies migrations.
    pub async fn open(config: Config, clock: Clock) -> Result<Registry> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| Error::io(format!("cannot create data directory {}", config.data_dir.display()), e))?;
        let metadata: Arc<dyn MetadataStore> = match config.database.as_deref() {
            None => Arc::new(SqliteStore::open(&config.data_dir.join("warden.db")).await?),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Arc::new(PostgresStore::open(url).await?)
            }
            Some(_) => {
                return Err(Error::invalid(
                    "--database must be a postgres:// URL (leave it out for SQLite in the data directory)",
                ));
            }
        };
        let artifacts: Arc<dyn ArtifactStore> = match config.artifacts.as_deref() {
            None => Arc::new(FsArtifactStore::open(&config.data_dir)?),
            Some(url) if url.starts_with("s3://") => {
                // The S3 client is reqwest's, which needs the process's TLS provider even for http endpoints.
                install_tls_provider();
                Arc::new(S3ArtifactStore::open(url, &config.data_dir).await?)
            }
            Some(_) => return Err(Error::invalid("--artifacts must be an s3://bucket/prefix URL")),
        };
        let verifier = config.identity.as_ref().map(|c| Arc::new(identity::Verifier::new(c.oidc.clone())));
        if let Some(verifier) = &verifier {
            // Unreachable now is not fatal: Warden's own tokens keep working (unless switched off), and the
            // keys are asked for again when a provider's token arrives.
            match verifier.refresh().await {
                Ok(keys) => tracing::info!(issuer = %verifier.config().issuer, keys, "identity provider keys loaded"),
                Err(error) => {
                    tracing::warn!(%error, "identity provider unavailable; its tokens are refused until it answers")
                }
            }
        }
        let personal_data_key =
            Arc::new(personal_data::PersonalDataKey::load(&config.data_dir, config.personal_data_key.as_deref())?);
        // A replica with another key than the one the database's personal data was protected with would write
        // tokens no erasure finds and ciphertext nobody reads back.
        if let Some(claimed) = metadata.personal_data_key_fingerprint().await?
            && claimed != personal_data_key.fingerprint()
        {
            return Err(Error::invalid(personal_data_key.mismatch(&claimed)));
        }
        let live_identity = config.identity.clone().map(|c| {
            let source = c.source.clone();
            identity::LiveIdentity::new(c, source)
        });
        Ok(Registry {
            metadata,
            artifacts,
            clock,
            config,
            blob_commit: tokio::sync::Mutex::new(()),
            tokens: auth::TokenCache::default(),
            verifier,
            live_identity,
            replica: leases::replica_id(),
            versions: Default::default(),
            alias_subscribers: RwLock::new(Vec::new()),
            mlflow_deliveries: mlflow::Deliveries::default(),
            personal_data_key,
        })
    }

    /// The identity provider's configuration and token verifier, when `--identity` configured one.
    pub fn identity(&self) -> Option<(Arc<identity::IdentityConfig>, &Arc<identity::Verifier>)> {
        self.live_identity.as_ref().map(identity::LiveIdentity::current).zip(self.verifier.as_ref())
    }

    /// Clears interrupted uploads and removes blobs no version refers to (left by a crash mid-registration).
    /// Returns how many blobs were removed.
    pub async fn tidy_blobs(&self) -> Result<usize> {
        self.artifacts.clear_staging().await?;
        let _guard = self.blob_commit.lock().await;
        let mut removed = 0;
        for sha in self.artifacts.orphan_candidates().await? {
            if !self.metadata.blob_referenced(&sha).await? {
                self.artifacts.remove(&sha).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Adds a subscriber to alias changes.
    pub fn subscribe_aliases(&self, subscriber: Arc<dyn AliasSubscriber>) {
        self.alias_subscribers.write().expect("subscribers lock").push(subscriber);
    }

    /// Tells every subscriber of an alias change, and waits until each has handled it.
    pub async fn publish_alias_change(&self, change: AliasChange) {
        let subscribers = self.alias_subscribers.read().expect("subscribers lock").clone();
        for subscriber in subscribers {
            subscriber.aliases_changed(self, &change).await;
        }
    }

    /// Publishes [`AliasChange::Elsewhere`] when the shared alias generation moved since the last call
    /// (another replica changed an alias). The first call only records the generation.
    pub async fn watch_alias_generation(&self, seen: &AtomicI64) -> Result<()> {
        let generation = self.metadata.alias_generation().await?;
        let before = seen.swap(generation, Ordering::Relaxed);
        if before != UNSEEN && before != generation {
            self.publish_alias_change(AliasChange::Elsewhere).await;
        }
        Ok(())
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Whether other replicas may share this database (PostgreSQL).
    pub fn shared(&self) -> bool {
        self.config.database.is_some()
    }

    /// This process's name among replicas.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The service's clock (µs since the epoch); tests may run it on a fixed or moving clock of their own.
    pub fn now(&self) -> Micros {
        (self.clock)()
    }

    /// Artifact and reference blobs (the HTTP layer stages uploads in it).
    pub fn artifacts(&self) -> &dyn ArtifactStore {
        self.artifacts.as_ref()
    }
}
