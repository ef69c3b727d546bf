//! Kafka topics consumed into the decision log (`warden serve --kafka-brokers … --kafka-topic T=MODEL`): the
//! [`warden_stream`] consumer hands batches to a sink on the decision log, which stores each batch's records,
//! its dead records and the positions it reaches in one transaction (`ingest::ingest_stream`). Once a second
//! the consumer's state (brokers reachable, each partition's position, end and lag) is published to serving,
//! where `/metrics`, `GET /v1/ingestion`, the dashboard and the integrity monitor's lag check read it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use warden_registry::Error;
use warden_serving::ingest::{self, StreamKind, StreamRecord, StreamStatus};
use warden_store::metadata::StreamAdvance;
use warden_stream::{Batch, Brokers, Committed, Payload, RecordSink, SinkError, Turn};

use crate::Warden;

/// What `serve` consumes.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    /// `HOST:PORT[,HOST:PORT…]`.
    pub brokers: String,
    /// The consumer group replicas share (positions are kept per group in the database).
    pub group: String,
    /// Topics of decision records, each with the model its records are for.
    pub decisions: Vec<(String, String)>,
    /// Topics of outcome records, each with the model whose decisions they label.
    pub outcomes: Vec<(String, String)>,
    /// Lag (records, per partition) above which the integrity monitor raises an alert.
    pub lag_alert: i64,
    /// Further librdkafka properties (TLS, SASL, session timeout).
    pub properties: Vec<(String, String)>,
}

/// The running consumer and its status publisher.
pub struct Streams {
    consumer: warden_stream::Consumer,
    publisher: tokio::task::JoinHandle<()>,
}

impl Streams {
    /// Starts consuming; the consumer connects (and reconnects) in the background.
    pub fn start(warden: Arc<Warden>, config: StreamConfig) -> Result<Streams, warden_stream::Error> {
        let mut topics: HashMap<String, (String, StreamKind)> = HashMap::new();
        for (topic, model) in &config.decisions {
            topics.insert(topic.clone(), (model.clone(), StreamKind::Decisions));
        }
        for (topic, model) in &config.outcomes {
            topics.insert(topic.clone(), (model.clone(), StreamKind::Outcomes));
        }
        let names: Vec<String> = topics.keys().cloned().collect();
        let mut consumer_config = warden_stream::Config::new(config.brokers.clone(), config.group.clone(), names);
        consumer_config.properties = config.properties.clone();
        let sink = Arc::new(DecisionLogSink { warden: warden.clone(), topics: topics.clone() });
        let consumer = warden_stream::Consumer::start(consumer_config, sink)?;
        let status = consumer.status();
        let publisher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let snapshot = status.snapshot();
                for (topic, (model, kind)) in &topics {
                    let partitions = snapshot
                        .partitions
                        .iter()
                        .filter(|p| &p.topic == topic)
                        .map(|p| (p.partition, p.position, p.high_watermark))
                        .collect();
                    warden.scoring().publish_stream(StreamStatus {
                        group: config.group.clone(),
                        topic: topic.clone(),
                        model: model.clone(),
                        kind: *kind,
                        connected: snapshot.brokers == Brokers::Reachable,
                        last_error: snapshot.topic_errors.get(topic).or(snapshot.last_error.as_ref()).cloned(),
                        partitions,
                        lag_alert: config.lag_alert,
                        expired: snapshot.expired.get(topic).copied().unwrap_or(0),
                    });
                }
            }
        });
        Ok(Streams { consumer, publisher })
    }

    /// Stops consuming: the batch being stored finishes, nothing after it is read.
    pub async fn stop(self) {
        self.publisher.abort();
        if let Err(err) = self.consumer.stop().await {
            tracing::error!(error = %err, "the stream consumer stopped with an error");
        }
    }
}

/// The decision log as the consumer's sink.
struct DecisionLogSink {
    warden: Arc<Warden>,
    topics: HashMap<String, (String, StreamKind)>,
}

#[async_trait::async_trait]
impl RecordSink for DecisionLogSink {
    async fn positions(&self, group: &str, topic: &str) -> Result<Vec<(i32, i64)>, SinkError> {
        self.warden.metadata.stream_positions(group, topic).await.map_err(|e| SinkError::Unavailable(e.to_string()))
    }

    async fn commit(&self, batch: &Batch, turn: Turn) -> Result<Committed, SinkError> {
        let Some((model, kind)) = self.topics.get(&batch.topic) else {
            return Err(SinkError::Fatal(format!("topic '{}' was not asked for", batch.topic)));
        };
        let records: Vec<StreamRecord> = batch
            .records
            .iter()
            .map(|r| {
                let (payload, oversized) = match &r.payload {
                    Payload::Null => (None, None),
                    Payload::Bytes(bytes) => (Some(bytes.as_slice()), None),
                    Payload::Oversized { len, head } => (Some(head.as_slice()), Some(*len)),
                };
                StreamRecord { partition: r.partition, offset: r.offset, payload, oversized }
            })
            .collect();
        let advances = batch
            .advances
            .iter()
            .map(|a| StreamAdvance {
                group: batch.group.clone(),
                topic: batch.topic.clone(),
                partition: a.partition,
                from: a.from,
                to: a.to,
            })
            .collect();
        let total = records.len() as u64;
        match ingest::ingest_stream(&self.warden, model, *kind, &batch.topic, records, advances, turn.wait()).await {
            Ok(done) => {
                // An outcome waiting for its decision is stored too.
                let ingested = done.decisions + done.outcomes + done.pending_outcomes;
                Ok(Committed {
                    ingested,
                    skipped: total.saturating_sub(ingested + done.dead_letters),
                    dead: done.dead_letters,
                })
            }
            Err(Error::Conflict(message)) => Err(SinkError::Moved(message)),
            Err(err) => Err(SinkError::Unavailable(err.to_string())),
        }
    }
}
