//! What a running consumer shows metrics and the dashboard: positions, high watermarks and lag per partition,
//! whether the brokers answer, the last error, and counters.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sink::Committed;

/// A consumer's status, shared (`Arc<Status>`) between its thread and readers; [`Status::snapshot`] copies
/// it under a short lock.
#[derive(Debug, Default)]
pub struct Status {
    state: Mutex<State>,
}

/// Whether the consumer reaches Kafka.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Brokers {
    /// No broker has answered yet.
    #[default]
    Connecting,
    /// A broker answers.
    Reachable,
    /// No broker answers; librdkafka keeps reconnecting with back-off.
    Unreachable,
}

/// A copy of a consumer's status at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// Whether the brokers answer.
    pub brokers: Brokers,
    /// The last error (Kafka's or the sink's), until the consumer next commits a batch or reaches a broker
    /// again.
    pub last_error: Option<String>,
    /// Subscribed topics that cannot be consumed, with why (e.g. "topic 'x' does not exist").
    pub topic_errors: BTreeMap<String, String>,
    /// The partitions this consumer holds, by topic and partition.
    pub partitions: Vec<PartitionStatus>,
    /// Records committed to the sink (ingested, skipped or dead).
    pub records: u64,
    /// Records the sink stored.
    pub ingested: u64,
    /// Records the sink already had.
    pub skipped: u64,
    /// Records the sink kept as dead records.
    pub dead: u64,
    /// Records removed by their topic's retention before they were stored, by topic: lost to the log.
    pub expired: BTreeMap<String, u64>,
    /// Batches committed.
    pub batches: u64,
    /// Batches the sink refused because another consumer had moved a position.
    pub moved: u64,
    /// Sink calls retried because the sink was unavailable.
    pub retries: u64,
}

/// One partition held by the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStatus {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset the sink has stored (`None`: nothing stored yet).
    pub position: Option<i64>,
    /// The partition's high watermark as last known (kept while the brokers are unreachable).
    pub high_watermark: Option<i64>,
    /// How long ago the high watermark was last learnt.
    pub high_watermark_age: Option<Duration>,
    /// Records in the partition not yet stored: the high watermark less the position (or less the low
    /// watermark when nothing is stored).
    pub lag: Option<i64>,
}

impl StatusSnapshot {
    /// The lag summed over the partitions whose lag is known.
    pub fn total_lag(&self) -> i64 {
        self.partitions.iter().filter_map(|p| p.lag).sum()
    }

    /// The partition's status, if this consumer holds it.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionStatus> {
        self.partitions.iter().find(|p| p.topic == topic && p.partition == partition)
    }
}

#[derive(Debug, Default)]
struct State {
    brokers: Brokers,
    last_error: Option<String>,
    topic_errors: BTreeMap<String, String>,
    partitions: BTreeMap<(String, i32), Watermarks>,
    expired: BTreeMap<String, u64>,
    counters: Counters,
}

#[derive(Debug, Default)]
struct Watermarks {
    position: Option<i64>,
    low: Option<i64>,
    high: Option<i64>,
    high_at: Option<Instant>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    records: u64,
    ingested: u64,
    skipped: u64,
    dead: u64,
    batches: u64,
    moved: u64,
    retries: u64,
}

impl Status {
    /// A copy of the status now.
    pub fn snapshot(&self) -> StatusSnapshot {
        let state = self.lock();
        let now = Instant::now();
        let partitions = state
            .partitions
            .iter()
            .map(|((topic, partition), w)| {
                let start = w.position.or(w.low);
                PartitionStatus {
                    topic: topic.clone(),
                    partition: *partition,
                    position: w.position,
                    high_watermark: w.high,
                    high_watermark_age: w.high_at.map(|at| now.saturating_duration_since(at)),
                    lag: w.high.map(|high| (high - start.unwrap_or(0)).max(0)),
                }
            })
            .collect();
        let c = state.counters;
        StatusSnapshot {
            brokers: state.brokers,
            last_error: state.last_error.clone(),
            topic_errors: state.topic_errors.clone(),
            partitions,
            records: c.records,
            ingested: c.ingested,
            skipped: c.skipped,
            dead: c.dead,
            expired: state.expired.clone(),
            batches: c.batches,
            moved: c.moved,
            retries: c.retries,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain numbers behind: still worth showing.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn assigned(&self, topic: &str, partition: i32, position: Option<i64>) {
        let mut state = self.lock();
        let w = state.partitions.entry((topic.to_owned(), partition)).or_default();
        w.position = position;
        state.topic_errors.remove(topic);
    }

    pub(crate) fn revoked(&self, topic: &str, partition: i32) {
        self.lock().partitions.remove(&(topic.to_owned(), partition));
    }

    pub(crate) fn position(&self, topic: &str, partition: i32, position: Option<i64>) {
        if let Some(w) = self.lock().partitions.get_mut(&(topic.to_owned(), partition)) {
            w.position = position;
        }
    }

    /// A partition's watermarks as librdkafka's statistics report them (negative: not known).
    pub(crate) fn watermarks(&self, topic: &str, partition: i32, low: i64, high: i64) {
        if let Some(w) = self.lock().partitions.get_mut(&(topic.to_owned(), partition)) {
            if low >= 0 {
                w.low = Some(low);
            }
            if high >= 0 {
                w.high = Some(high);
                w.high_at = Some(Instant::now());
            }
        }
    }

    pub(crate) fn committed(&self, topic: &str, positions: &[(i32, i64)], records: usize, done: Committed) {
        let mut state = self.lock();
        for &(partition, to) in positions {
            if let Some(w) = state.partitions.get_mut(&(topic.to_owned(), partition)) {
                w.position = Some(to);
            }
        }
        let c = &mut state.counters;
        c.records += records as u64;
        c.ingested += done.ingested;
        c.skipped += done.skipped;
        c.dead += done.dead;
        c.batches += 1;
        state.last_error = None;
    }

    pub(crate) fn expired(&self, topic: &str, partition: i32, records: u64) {
        let mut state = self.lock();
        *state.expired.entry(topic.to_owned()).or_default() += records;
        state.last_error = Some(format!(
            "{records} records of partition {partition} of topic '{topic}' expired before they were stored"
        ));
    }

    pub(crate) fn moved(&self, error: &str) {
        let mut state = self.lock();
        state.counters.moved += 1;
        state.last_error = Some(error.to_owned());
    }

    pub(crate) fn retrying(&self, error: &str) {
        let mut state = self.lock();
        state.counters.retries += 1;
        state.last_error = Some(error.to_owned());
    }

    pub(crate) fn error(&self, error: &str) {
        self.lock().last_error = Some(error.to_owned());
    }

    /// Records whether a broker answers; reaching one again clears a broker error.
    pub(crate) fn brokers(&self, brokers: Brokers) {
        let mut state = self.lock();
        if brokers == Brokers::Reachable && state.brokers != Brokers::Reachable {
            state.last_error = None;
        }
        state.brokers = brokers;
    }

    pub(crate) fn brokers_now(&self) -> Brokers {
        self.lock().brokers
    }

    pub(crate) fn has_topic_errors(&self) -> bool {
        !self.lock().topic_errors.is_empty()
    }

    /// Sets the topics that cannot be consumed (the others' errors are cleared); returns the errors that are
    /// new.
    pub(crate) fn topic_errors(&self, errors: BTreeMap<String, String>) -> Vec<String> {
        let mut state = self.lock();
        let new = errors.iter().filter(|(topic, _)| !state.topic_errors.contains_key(*topic)).map(|(_, e)| e.clone());
        let new = new.collect();
        state.topic_errors = errors;
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_high_watermark_less_the_position() {
        let status = Status::default();
        status.assigned("t", 0, None);
        status.assigned("t", 1, Some(40));
        status.assigned("t", 2, None);
        status.watermarks("t", 0, 5, 100);
        status.watermarks("t", 1, 0, 100);
        status.watermarks("t", 3, 0, 100); // not held: ignored
        let snapshot = status.snapshot();
        let lags: Vec<_> = snapshot.partitions.iter().map(|p| (p.partition, p.lag)).collect();
        assert_eq!(lags, [(0, Some(95)), (1, Some(60)), (2, None)]);
        assert_eq!(snapshot.total_lag(), 155);

        // Unknown watermarks (librdkafka reports -1001) keep the last known ones.
        status.watermarks("t", 1, -1001, -1001);
        status.committed("t", &[(1, 70)], 30, Committed { ingested: 29, skipped: 0, dead: 1 });
        let snapshot = status.snapshot();
        assert_eq!(snapshot.partition("t", 1).unwrap().lag, Some(30));
        assert_eq!((snapshot.records, snapshot.ingested, snapshot.dead, snapshot.batches), (30, 29, 1, 1));
    }
}
