//! What a consumer hands its records to: the [`RecordSink`] trait and the batches it receives.

use async_trait::async_trait;

/// Where a consumer stores what it reads; the server implements it on the decision log.
///
/// The sink's database is the only record of how far each partition has been consumed: the consumer never
/// commits offsets to Kafka. Exactly-once follows from two rules the sink keeps: a batch's records and its
/// partitions' new positions are stored in one transaction, and a batch whose `from` positions are no longer
/// the stored ones is refused whole ([`SinkError::Moved`]).
#[async_trait]
pub trait RecordSink: Send + Sync + 'static {
    /// The stored next offset of each partition of `topic` consumed by `group`; partitions never committed are
    /// absent.
    async fn positions(&self, group: &str, topic: &str) -> Result<Vec<(i32, i64)>, SinkError>;

    /// Stores a batch in one transaction: each record either ingested or kept as a dead record with its offset
    /// and the reason (the sink decides: a payload that is not JSON, an [`Payload::Oversized`] one), and each
    /// partition's advance. Refuses the whole batch with [`SinkError::Moved`] when a partition's stored
    /// position is not the advance's `from`.
    ///
    /// Several commits may run at once: the sink checks the batch, then waits for `turn`, which returns once
    /// the commits handed on before this one have reached the database (or ended), and hands back the
    /// [`Handoff`] that lets the next commit in: the sink drops it once this batch is on its way to the
    /// database behind the earlier ones (holding it to the end of the commit is always correct), so batches
    /// reach the database in the order they were handed on.
    async fn commit(&self, batch: &Batch, turn: Turn) -> Result<Committed, SinkError>;
}

/// A commit's place in line: waits for the commit handed on before it ([`Turn::wait`]), and lets the next
/// one in when the [`Handoff`] it returns is dropped.
#[derive(Debug, Default)]
pub struct Turn {
    before: Option<tokio::sync::oneshot::Receiver<()>>,
    next: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Held while a commit is not yet on its way to the database; dropping it is the next commit's turn.
#[derive(Debug)]
#[must_use = "the next commit's turn comes when the handoff is dropped: hold it until the batch is queued"]
pub struct Handoff(#[allow(dead_code)] Option<tokio::sync::oneshot::Sender<()>>);

impl Turn {
    /// A turn that has come already, with nobody after it.
    pub fn now() -> Turn {
        Turn::default()
    }

    /// A turn that comes when the commit holding `before`'s sender hands off (or ends, or drops it), and hands
    /// off to the commit waiting on `next`.
    pub(crate) fn between(
        before: Option<tokio::sync::oneshot::Receiver<()>>,
        next: tokio::sync::oneshot::Sender<()>,
    ) -> Turn {
        Turn { before, next: Some(next) }
    }

    /// Waits for the turn; the next commit's turn comes when the returned handoff is dropped.
    pub async fn wait(self) -> Handoff {
        if let Some(before) = self.before {
            // A dropped sender (the commit before it panicked or was abandoned) ends the wait too.
            let _ = before.await;
        }
        Handoff(self.next)
    }
}

/// Records of one topic read by one consumer group, with the positions they move the partitions to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The consumer group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The records, in offset order within each partition.
    pub records: Vec<Record>,
    /// One per partition with records in the batch.
    pub advances: Vec<Advance>,
}

/// One Kafka record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The partition it was read from.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// The producer's (or the broker's log-append) time, in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
    /// The key, if any (cut to its first [`OVERSIZED_HEAD_BYTES`] when the record is oversized).
    pub key: Option<Vec<u8>>,
    /// The headers, in order (none when the record is oversized).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The value.
    pub payload: Payload,
}

/// A record's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// No value (a tombstone).
    Null,
    /// The value, whole.
    Bytes(Vec<u8>),
    /// A record (key, headers and value together) longer than the consumer's `max_record_bytes`: its value's
    /// length and first [`OVERSIZED_HEAD_BYTES`] bytes. The sink keeps it as a dead record.
    Oversized {
        /// The whole record's length in bytes.
        len: usize,
        /// The value's first bytes.
        head: Vec<u8>,
    },
}

/// How many bytes of an oversized record's key and value are handed on (enough for a dead record).
pub const OVERSIZED_HEAD_BYTES: usize = 4096;

/// A partition's move in one batch: from the position read from the sink to the offset after the batch's last
/// record of that partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advance {
    /// The partition.
    pub partition: i32,
    /// The stored position the consumer started from (`None`: none was stored).
    pub from: Option<i64>,
    /// The next offset to consume after this batch (its last record's offset + 1).
    pub to: i64,
}

/// What the sink did with a committed batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    /// Records stored.
    pub ingested: u64,
    /// Records already stored (e.g. a decision whose request id is logged), skipped.
    pub skipped: u64,
    /// Records kept as dead records.
    pub dead: u64,
}

/// Why a sink refused a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// A partition's stored position is not the batch's `from`: another consumer moved it. Nothing was
    /// stored; the consumer reads the positions again and goes on from there.
    #[error("position moved: {0}")]
    Moved(String),
    /// The store cannot be reached: the consumer retries the same batch with back-off and does not move on.
    #[error("sink unavailable: {0}")]
    Unavailable(String),
    /// Anything else: the consumer stops.
    #[error("sink failed: {0}")]
    Fatal(String),
}
