//! A consumer's settings, their defaults and checks, and the librdkafka properties they become.

use std::time::Duration;

use rdkafka::ClientConfig;

use crate::Error;

/// How a [`Consumer`](crate::Consumer) reads: where, as which group, what, and in which batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bootstrap brokers, `HOST:PORT[,HOST:PORT…]`.
    pub brokers: String,
    /// The consumer group: replicas with the same group share the topics' partitions, and the sink keeps
    /// positions per group.
    pub group: String,
    /// The topics to consume. One that does not exist is reported in the status and looked for again every
    /// `topic_refresh`; the others are consumed meanwhile.
    pub topics: Vec<String>,
    /// Most records in one sink commit (default 10,000).
    pub batch_records: usize,
    /// Most bytes (keys, headers and values) in one sink commit (default 64 MiB); a single record may exceed it.
    pub batch_bytes: usize,
    /// Longest a record waits for its batch to fill before the batch is committed anyway (default 50 ms).
    pub batch_wait: Duration,
    /// Largest record (key, headers and value) handed on whole (default 1 MiB, Kafka's default
    /// `message.max.bytes`); a larger one is handed as [`Payload::Oversized`](crate::Payload::Oversized).
    pub max_record_bytes: usize,
    /// How often librdkafka reports its statistics (high watermarks, broker states) to the status
    /// (default 1 s).
    pub status_interval: Duration,
    /// How often topic metadata is refreshed, so a topic created later is found (default 30 s).
    pub topic_refresh: Duration,
    /// Longest wait between two retries of a sink that is unavailable (default 5 s; the first waits 50 ms).
    pub retry_max: Duration,
    /// Further librdkafka properties (TLS and SASL settings, `session.timeout.ms`, …), set after Warden's.
    /// The properties that keep offsets out of Kafka and name the brokers and group cannot be set here.
    pub properties: Vec<(String, String)>,
}

/// Properties a consumer sets itself: the brokers and group have their own fields, and offsets are never
/// committed to (or stored for) Kafka.
const RESERVED: [&str; 6] = [
    "bootstrap.servers",
    "metadata.broker.list",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "statistics.interval.ms",
];

/// Most bytes of pre-fetched records librdkafka keeps in memory (`queued.max.messages.kbytes`).
const PREFETCH_KIB: usize = 32 * 1024;

impl Config {
    /// A configuration with the defaults.
    pub fn new(brokers: impl Into<String>, group: impl Into<String>, topics: Vec<String>) -> Config {
        Config {
            brokers: brokers.into(),
            group: group.into(),
            topics,
            batch_records: 10_000,
            batch_bytes: 64 << 20,
            batch_wait: Duration::from_millis(50),
            max_record_bytes: 1 << 20,
            status_interval: Duration::from_secs(1),
            topic_refresh: Duration::from_secs(30),
            retry_max: Duration::from_secs(5),
            properties: Vec::new(),
        }
    }

    /// Checks every field, naming the first one that is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |what: String| Err(Error::Config(what));
        for broker in self.brokers.split(',') {
            let port = broker.trim().rsplit_once(':').filter(|(host, _)| !host.is_empty()).map(|(_, port)| port);
            if !port.is_some_and(|port| port.parse::<u16>().is_ok_and(|port| port > 0)) {
                return invalid(format!("broker '{broker}' is not HOST:PORT"));
            }
        }
        if self.group.trim().is_empty() || self.group.len() > 255 {
            return invalid("the consumer group must be 1 to 255 characters".into());
        }
        if self.topics.is_empty() {
            return invalid("no topic to consume".into());
        }
        for (i, topic) in self.topics.iter().enumerate() {
            if !valid_topic(topic) {
                return invalid(format!(
                    "'{topic}' is not a Kafka topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-')"
                ));
            }
            if self.topics[..i].contains(topic) {
                return invalid(format!("topic '{topic}' is listed twice"));
            }
        }
        if self.batch_records == 0 || self.batch_bytes == 0 || self.max_record_bytes == 0 {
            return invalid("batch_records, batch_bytes and max_record_bytes must be positive".into());
        }
        for (name, duration) in [("status_interval", self.status_interval), ("topic_refresh", self.topic_refresh)] {
            if duration < Duration::from_millis(10) || duration > Duration::from_secs(86_400) {
                return invalid(format!("{name} must be between 10 ms and a day"));
            }
        }
        if let Some((key, _)) = self.properties.iter().find(|(key, _)| RESERVED.contains(&key.as_str())) {
            return invalid(format!("property '{key}' is set by the consumer itself"));
        }
        Ok(())
    }

    /// The librdkafka properties of this configuration.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        let millis = |d: Duration| d.as_millis().to_string();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", &self.group)
            // The sink's database is the source of truth for positions: nothing is committed to Kafka.
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // Partitions without a stored position start at the beginning (set explicitly at assignment too);
            // this also applies when a stored position is older than the topic's retention.
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "false")
            .set("statistics.interval.ms", millis(self.status_interval))
            .set("topic.metadata.refresh.interval.ms", millis(self.topic_refresh))
            .set("queued.max.messages.kbytes", PREFETCH_KIB.to_string());
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

/// Kafka's rule for topic names (`Topic.validate` in the Java client).
fn valid_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::new("127.0.0.1:9092,kafka-1.internal:9093", "warden", vec!["decisions".into(), "outcomes".into()])
    }

    fn check(change: impl FnOnce(&mut Config), expect: Option<&str>) {
        let mut config = config();
        change(&mut config);
        let got = config.validate().err().map(|e| e.to_string());
        assert_eq!(got.as_deref(), expect);
    }

    #[test]
    fn validates_each_field() {
        check(|_| {}, None);
        check(|c| c.brokers = "localhost".into(), Some("invalid configuration: broker 'localhost' is not HOST:PORT"));
        check(|c| c.brokers = "a:1,:2".into(), Some("invalid configuration: broker ':2' is not HOST:PORT"));
        check(|c| c.brokers = "a:0".into(), Some("invalid configuration: broker 'a:0' is not HOST:PORT"));
        check(|c| c.topics.clear(), Some("invalid configuration: no topic to consume"));
        check(
            |c| c.topics.push("bad topic".into()),
            Some(
                "invalid configuration: 'bad topic' is not a Kafka topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-')",
            ),
        );
        check(|c| c.topics.push("outcomes".into()), Some("invalid configuration: topic 'outcomes' is listed twice"));
        check(
            |c| c.properties.push(("enable.auto.commit".into(), "true".into())),
            Some("invalid configuration: property 'enable.auto.commit' is set by the consumer itself"),
        );
        check(|c| c.properties.push(("security.protocol".into(), "SSL".into())), None);
    }

    #[test]
    fn never_commits_to_kafka() {
        let config = config().client_config();
        assert_eq!(config.get("enable.auto.commit"), Some("false"));
        assert_eq!(config.get("enable.auto.offset.store"), Some("false"));
    }
}
