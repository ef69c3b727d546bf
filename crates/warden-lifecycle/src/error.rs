//! The lifecycle error type. Only the API layer turns it into HTTP statuses.

use serde_json::Value;

/// What went wrong in a lifecycle service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// Something failed inside Warden; the detail is logged, not shown to clients.
    #[error("internal error: {0}")]
    Internal(String),
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
            other => Error::Internal(other.to_string()),
        }
    }
}

/// Result alias for lifecycle services.
pub type Result<T, E = Error> = std::result::Result<T, E>;
