//! Warden's domain vocabulary: the words the lifecycle, the HTTP API and the CLI share. No I/O, no logic
//! beyond naming, parsing and formatting.
//!
//! - [`Timestamp`] (module `timestamp`): a time, microseconds since the epoch inside, RFC 3339 UTC outside (one way to format it).
//! - The closed sets (module `enums`): [`Severity`], [`AlertState`], [`IncidentState`], [`ModelTask`], [`MonitorKind`], [`JobStatus`],
//!   [`Route`], [`DecisionSource`], [`StreamKind`], [`RiskTier`], [`TierBasis`], [`FindingKind`], [`FindingSeverity`],
//!   [`FindingState`], [`ScanFormat`], [`ReviewAction`], [`FallbackKind`], [`Framework`], [`ReportKind`], [`AiActGround`], each with its exact wire strings.
//! - Counts with their nouns (module `words`): [`words::counted`] ("1 rollback", "2 rollbacks").

mod enums;
mod timestamp;
pub mod words;

pub use enums::{
    AiActGround, AlertState, DataPurgeKind, DecisionSource, FallbackKind, FindingKind, FindingSeverity, FindingState,
    Framework, IncidentState, JobStatus, ModelTask, MonitorKind, NotificationEvent, Protection, ReceiverKind,
    ReportFieldSource, ReportKind, ReportStage, ReviewAction, RiskTier, Route, ScanFormat, Severity, StreamKind,
    TierBasis, UnknownValue,
};
pub use timestamp::{Timestamp, TimestampError};
