/*!
Warden's lifecycle services: the operations users perform, each one a function taking the [`Warden`]
context and the acting [`auth::Principal`].

- [`registry`]: models, immutable versions with lineage and reference profiles, aliases with history.
- [`auth`]: roles, bearer tokens (only their hashes are stored), the first-start admin token.
- [`dataset`]: reading reference data (CSV, Parquet) into a [`warden_stats::profile::DatasetProfile`].
- [`compare`]: local drift reports between two data files, read column by column.
- [`artifact_format`]: the model formats Warden accepts; an artifact is valid when it loads as a model.
- [`scoring`]: the serving path (routing by alias, schema checks, scoring, explanations, the decision log
  with group commit and live window profiles, late outcomes, metrics).

Services check the caller's role, validate input, and write through [`warden_store`], whose audited writes
append their audit event in the same transaction. They know nothing of HTTP.
*/
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use warden_store::artifacts::{ArtifactStore, FsArtifactStore};
use warden_store::metadata::{MetadataStore, Micros};
use warden_store::postgres::PostgresStore;
use warden_store::s3::S3ArtifactStore;
use warden_store::sqlite::SqliteStore;

pub mod alerts;
pub mod artifact_format;
pub mod auth;
pub mod compare;
pub mod dataset;
mod decision_log;
pub mod error;
pub mod evidence;
pub mod governance;
mod integrity;
pub mod ledger;
mod metrics;
pub mod monitoring;
pub mod notifications;
pub mod overview;
mod parquet_pages;
mod reference;
pub mod registry;
pub mod replicas;
pub mod retraining;
pub mod scenarios;
pub mod scoring;
pub mod signing;
pub mod text;
pub mod validation;

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
    /// The ledger's Ed25519 seed file (default: `ledger.key` in the data directory, made at first start).
    pub ledger_key: Option<PathBuf>,
    /// Signers whose artifact signatures are accepted (none: a signed registration is refused).
    pub artifact_signers: Vec<signing::TrustedSigner>,
    /// Training commands retraining jobs may run (`external:NAME`).
    pub external_trainers: Vec<retraining::ExternalTrainer>,
    /// The metadata database: `None` for SQLite in the data directory, or a `postgres://` URL (which
    /// several replicas may share).
    pub database: Option<String>,
    /// Where artifacts live: `None` for the data directory, or an `s3://bucket/prefix` URL (credentials
    /// and endpoint from the `AWS_*` environment variables), which several replicas may share.
    pub artifacts: Option<String>,
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
            ledger_key: None,
            artifact_signers: Vec::new(),
            external_trainers: Vec::new(),
            database: None,
            artifacts: None,
        }
    }
}

/// The running service: stores, clock and limits. Cheap to share behind an `Arc`.
pub struct Warden {
    metadata: Arc<dyn MetadataStore>,
    artifacts: Arc<dyn ArtifactStore>,
    clock: Clock,
    config: Config,
    /// Serialises "store blob, insert version, clean up on failure" so that cleaning up a failed
    /// registration never removes a blob another registration is about to reference.
    blob_commit: tokio::sync::Mutex<()>,
    scoring: scoring::Scoring,
    tokens: auth::TokenCache,
    governance: governance::GateCache,
    ledger: ledger::LedgerKey,
    /// This process's name among replicas sharing the database.
    replica: String,
    /// Parsed versions by (model, number): versions are immutable.
    versions: std::sync::RwLock<std::collections::HashMap<(String, i64), registry::Version>>,
}

/// What happened when Warden opened its data directory.
#[derive(Debug, Default)]
pub struct Startup {
    /// Set when a new admin token was written to this file (first start).
    pub admin_token_file: Option<PathBuf>,
    /// Blobs deleted because no version refers to them (left by a crash mid-registration).
    pub orphan_blobs_removed: usize,
}

impl Warden {
    /// Opens the data directory: applies migrations, clears interrupted uploads, removes orphan blobs and
    /// creates the admin token on first start.
    pub async fn open(config: Config) -> Result<(Self, Startup)> {
        Self::open_with_clock(config, system_clock()).await
    }

    /// Like [`Warden::open`] with a given clock.
    pub async fn open_with_clock(config: Config, clock: Clock) -> Result<(Self, Startup)> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| Error::Internal(format!("cannot create data directory {}: {e}", config.data_dir.display())))?;
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
        let warden = Warden {
            scoring: scoring::Scoring::start(metadata.clone())?,
            tokens: auth::TokenCache::default(),
            governance: governance::GateCache::default(),
            ledger: ledger::LedgerKey::load(&config.data_dir, config.ledger_key.as_deref())?,
            versions: Default::default(),
            replica: replicas::replica_id(),
            metadata,
            artifacts,
            clock,
            config,
            blob_commit: tokio::sync::Mutex::new(()),
        };
        // Audit events written before the ledger existed get their entries, in order, before any new write.
        warden.metadata.ledger_backfill().await?;
        warden.artifacts.clear_staging().await?;
        let orphan_blobs_removed = warden.remove_orphan_blobs().await?;
        let admin_token_file = auth::bootstrap_admin_token(&warden).await?;
        governance::seed_default_bundle(&warden).await?;
        scoring::load_production_routes(&warden).await?;
        Ok((warden, Startup { admin_token_file, orphan_blobs_removed }))
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

    /// The blob store (for staging uploads).
    pub fn artifacts(&self) -> &dyn ArtifactStore {
        self.artifacts.as_ref()
    }

    /// Readiness: the database answers, the decision log commits, and every model with a production alias
    /// can be served.
    pub async fn ready(&self) -> Result<()> {
        self.metadata.ping().await?;
        if let Some(cause) = self.scoring.log.failing() {
            return Err(Error::unavailable(format!("the decision log cannot commit: {cause}")));
        }
        // Probes try the unservable models again (at most once a second: `/readyz` needs no token), so
        // readiness returns by itself once the fault clears.
        if self.scoring.retry_due() {
            for model in self.scoring.unservable().into_keys() {
                self.scoring.routes_changed(self, &model).await;
            }
        }
        let unservable = self.scoring.unservable();
        if !unservable.is_empty() {
            let causes: Vec<String> =
                unservable.into_iter().map(|(model, cause)| format!("{model}: {cause}")).collect();
            return Err(Error::unavailable(format!("production models cannot be served: {}", causes.join("; "))));
        }
        Ok(())
    }

    /// The scoring service (its metrics, and the decision log flush clean shutdown needs).
    pub fn scoring(&self) -> &scoring::Scoring {
        &self.scoring
    }

    fn now(&self) -> Micros {
        (self.clock)()
    }

    /// The service's clock (µs since the epoch); tests may run it on a fixed or moving clock of their own.
    pub fn now_micros(&self) -> Micros {
        self.now()
    }

    async fn remove_orphan_blobs(&self) -> Result<usize> {
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
}
