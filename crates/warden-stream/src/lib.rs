/*!
Consumes Kafka topics of records (decisions, outcomes) into a [`RecordSink`] exactly once.

The crate knows nothing of Warden's store or serving: the `warden` binary implements [`RecordSink`] on the
decision log (the way ripgrep's searcher hands lines to a `Sink`). The sink's database is the only record of
how far each partition has been read — nothing is ever committed to Kafka — and it stores each [`Batch`]'s
records together with the partitions' new positions in one transaction, refusing a batch whose starting
positions another consumer has moved ([`SinkError::Moved`]). So a record is stored once however consumers
crash, restart or rebalance.

- `sink`: the [`RecordSink`] trait, [`Batch`], [`Record`], [`Payload`], [`Advance`], [`Committed`],
  [`SinkError`], [`Turn`], [`Handoff`].
- `config`: [`Config`], its defaults and checks.
- `consumer`: [`Consumer`], a consumer group member on a thread of its own: its loop, batching, retries and
  rebalances are documented there.
- `status`: [`Status`], the shared, cheaply read view for metrics and the dashboard (positions, high
  watermarks, lag, broker reachability, the last error, counters).
- `produce`: [`produce`], writing records to a topic, for tests and the ingestion benchmark.

# Example

```no_run
use std::sync::Arc;
use warden_stream::{Batch, Committed, Config, Consumer, RecordSink, SinkError, Turn};

struct Log;

#[async_trait::async_trait]
impl RecordSink for Log {
    async fn positions(&self, _group: &str, _topic: &str) -> Result<Vec<(i32, i64)>, SinkError> {
        Ok(Vec::new()) // read from the database
    }
    async fn commit(&self, batch: &Batch, turn: Turn) -> Result<Committed, SinkError> {
        // Check the records, wait for the commits before this one, then in one transaction: check each
        // advance's `from`, store the records, move the positions; the next batch's turn comes at the end.
        let _next = turn.wait().await;
        Ok(Committed { ingested: batch.records.len() as u64, ..Committed::default() })
    }
}

# async fn example() -> Result<(), warden_stream::Error> {
let config = Config::new("kafka-1:9092,kafka-2:9092", "warden", vec!["decisions".into()]);
let consumer = Consumer::start(config, Arc::new(Log))?;
let status = consumer.status(); // read by metrics and the dashboard
println!("lag {}", status.snapshot().total_lag());
consumer.run_until(async { /* a shutdown signal */ }).await
# }
```

# Why a `BaseConsumer` on a thread

librdkafka calls the rebalance callback from inside `poll`, and an assignment cannot start until the sink has
said where each partition stands. On a thread of its own, the consumer can wait there for the sink (a tokio
runtime handle drives the sink's futures), set each partition's offset in the assignment itself, and never
block a runtime worker; a `StreamConsumer` would poll on a worker, where blocking is not allowed, and would
have to assign first and seek afterwards.

# Limits

A record (key, headers and value) longer than [`Config::max_record_bytes`] (1 MiB) is handed on as
[`Payload::Oversized`] with its first [`OVERSIZED_HEAD_BYTES`] bytes, for the sink to keep as a dead record;
a batch holds at most [`Config::batch_records`] records and, beyond its first, [`Config::batch_bytes`] bytes;
librdkafka pre-fetches at most 32 MiB.
*/
#![deny(missing_docs)]

mod config;
mod consumer;
mod produce;
mod sink;
mod status;

pub use config::Config;
pub use consumer::Consumer;
pub use produce::produce;
pub use sink::{
    Advance, Batch, Committed, Handoff, OVERSIZED_HEAD_BYTES, Payload, Record, RecordSink, SinkError, Turn,
};
pub use status::{Brokers, PartitionStatus, Status, StatusSnapshot};

/// Why a consumer could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A [`Config`] field is wrong.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// librdkafka refused (client creation, subscription, a fatal consumer error).
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The sink answered [`SinkError::Fatal`].
    #[error("sink failed: {0}")]
    Sink(String),
    /// [`Consumer::start`] was called outside a tokio runtime.
    #[error("a consumer must be started inside a tokio runtime")]
    NoRuntime,
    /// The consumer's thread could not start or ended without a result.
    #[error("consumer thread: {0}")]
    Thread(String),
}
