//! The lifecycle error type. Only the API layer turns it into HTTP statuses.

use serde_json::Value;

/// What went wrong in a lifecycle service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is well-formed but its content is unacceptable (bad data, unknown format, bad name).
    #[error("{message}")]
    Invalid {
        /// One line saying what is wrong.
        message: String,
        /// Structured details (line, column, field...).
        details: Value,
    },
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials without the needed role.
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The write clashes with existing state.
    #[error("{0}")]
    Conflict(String),
    /// The model is retired: it serves, ingests and takes new versions no more (its records stay).
    #[error("{0}")]
    Gone(String),
    /// A control refused the operation (the promotion gate); `details` carries every reason.
    #[error("{message}")]
    Refused {
        /// One line naming the reasons.
        message: String,
        /// Machine-readable reasons.
        details: Value,
    },
    /// An upload is over its limit.
    #[error("upload exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// Warden cannot do this now but will again without the caller changing anything (the decision log
    /// cannot commit, a serving version's artifact is missing, a model has no production version).
    #[error("{message}")]
    Unavailable {
        /// What is missing and, where known, why.
        message: String,
        /// Seconds after which a retry may succeed, when that is known.
        retry_after: Option<u32>,
    },
    /// The metadata database or the blob store failed.
    #[error("store: {0}")]
    Store(#[source] warden_store::Error),
    /// A file Warden manages (a staged copy, a key, a job directory) could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What Warden was doing.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// JSON Warden stored or built does not (de)serialise: a stored record changed outside Warden.
    #[error("{context}: {source}")]
    Json {
        /// Which record or value.
        context: String,
        /// serde_json's error, with its line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A task Warden started on another thread panicked or was cancelled.
    #[error("{task} task failed: {source}")]
    Task {
        /// Which work.
        task: &'static str,
        /// tokio's error (a panic's payload, or cancellation).
        #[source]
        source: tokio::task::JoinError,
    },
    /// A library Warden calls failed where the caller's input cannot be the cause (a model that cannot
    /// score the data it was registered with, a signing key that does not load, a CSV writer).
    #[error("{context}: {source}")]
    Failed {
        /// What Warden was doing.
        context: String,
        /// The library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Warden's own records contradict each other (a ledger shorter than its checkpoint, a policy bundle in
    /// force that is gone): an invariant broke, and no lower-level error says why.
    #[error("inconsistent state: {0}")]
    Inconsistent(String),
}

impl Error {
    /// An `Invalid` error without details.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid { message: message.into(), details: Value::Null }
    }

    /// An `Unavailable` error with no retry hint.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable { message: message.into(), retry_after: None }
    }

    /// An [`Error::Io`].
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// An [`Error::Json`].
    pub fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json { context: context.into(), source }
    }

    /// An [`Error::Task`].
    pub fn task(task: &'static str, source: tokio::task::JoinError) -> Self {
        Error::Task { task, source }
    }

    /// An [`Error::Failed`].
    pub fn failed(context: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Failed { context: context.into(), source: source.into() }
    }

    /// Whether the error is Warden's own fault (a 500 to an HTTP client).
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Error::Store(_)
                | Error::Io { .. }
                | Error::Json { .. }
                | Error::Task { .. }
                | Error::Failed { .. }
                | Error::Inconsistent(_)
        )
    }

    /// An `Invalid` error with details.
    pub fn invalid_with(message: impl Into<String>, details: Value) -> Self {
        Error::Invalid { message: message.into(), details }
    }
}

impl From<warden_store::Error> for Error {
    fn from(err: warden_store::Error) -> Self {
        match err {
            warden_store::Error::Conflict(m) => Error::Conflict(m),
            warden_store::Error::NotFound(m) => Error::NotFound(m),
            warden_store::Error::TooLarge { limit } => Error::TooLarge { limit },
            // A transient fault of the database, not of the request: 503 with a retry hint, so a sender (a
            // serving platform, a pipeline) backs off and sends again rather than giving up.
            other if other.is_unreachable() => {
                tracing::warn!(error = %other, "the metadata database is unreachable");
                Error::Unavailable {
                    message: "the metadata database cannot be reached; try again shortly".into(),
                    retry_after: Some(5),
                }
            }
            other => Error::Store(other),
        }
    }
}

impl From<warden_core::UnknownValue> for Error {
    fn from(err: warden_core::UnknownValue) -> Self {
        Error::invalid(err.to_string())
    }
}

/// Result alias for lifecycle services.
pub type Result<T, E = Error> = std::result::Result<T, E>;
