/*!
Warden's persistence layer. It knows SQL and files, and nothing of HTTP, roles or statistics.

- [`metadata::MetadataStore`] is the interface every service writes through. Each audited write takes the
  [`metadata::AuditEventDraft`] describing it and appends that event **in the same transaction** as the
  write, so an acknowledged change always has its audit event and a failed one has neither.
  It is five traits, one per lifecycle stage and the tables that stage owns: [`metadata::CoreStore`]
  (database health, tokens, leases), [`metadata::RegistryStore`] (models, versions, aliases),
  [`metadata::ServingStore`] (decisions, outcomes, live window buckets), [`metadata::OversightStore`]
  (validation, approvals, gate bundles and decisions, monitors, alerts, incidents, notifications,
  retraining, overview queries) and [`metadata::ProofStore`] (audit events, ledger, checkpoints).
  Methods are called on an `Arc<dyn MetadataStore>` as before; code calling them on a concrete store
  (`SqliteStore`, `PostgresStore`) or a generic one writes `use warden_store::prelude::*;`.
- [`sql::SqlStore`] implements them once, generic over the database, with a [`sql::Dialect`] for what
  differs: [`sqlite::SqliteStore`] on SQLite (WAL, versioned migrations applied at open) and
  [`postgres::PostgresStore`] on PostgreSQL, which several replicas may share; both run the same SQL.
- [`artifacts::ArtifactStore`] keeps blobs (model artifacts, reference data) content-addressed by SHA-256.
  [`artifacts::FsArtifactStore`] writes them atomically (temporary file, fsync, rename, fsync directory).
  [`s3::S3ArtifactStore`] keeps them in an S3-compatible bucket.

The store never reads the clock: callers pass every timestamp in.
*/
#![deny(missing_docs)]

pub mod artifacts;
pub mod metadata;
pub mod postgres;
pub mod s3;
pub mod sql;
pub mod sqlite;

/// The store traits, to call their methods on a concrete or generic store (a trait's methods need it in scope;
/// `dyn MetadataStore` offers its supertraits' methods without).
pub mod prelude {
    pub use crate::metadata::{CoreStore, MetadataStore, OversightStore, ProofStore, RegistryStore, ServingStore};
}

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A uniqueness rule was broken (e.g. a model name already taken).
    #[error("{0}")]
    Conflict(String),
    /// The thing referred to does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A filesystem operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A stored JSON column could not be decoded (the database was edited by hand or is corrupt).
    #[error("corrupt stored value in {column}: {source}")]
    Corrupt {
        /// Table and column.
        column: &'static str,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// An upload exceeded its size limit.
    #[error("upload exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

impl Error {
    /// Whether the database could not be reached (connection refused or lost, no connection free in time, the
    /// server shutting down or starting): the same request may succeed once it is back.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Database(err) => match err {
                sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                // SQLSTATE class 08 (connection exception) and 57P01-57P03 (shut down, crashed, starting).
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")),
                _ => false,
            },
            _ => false,
        }
    }
}

/// Result alias for the store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}
