//! The consumer against librdkafka's mock cluster (a Kafka broker inside the test process, on 127.0.0.1),
//! storing into an in-memory sink that keeps the decision log's two guards: positions moved only from where
//! the batch started, and a decision logged once per request id.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use warden_stream::{
    Batch, Brokers, Committed, Config, Consumer, Payload, RecordSink, SinkError, StatusSnapshot, Turn, produce,
};

/// How the test sink misbehaves.
#[derive(Default)]
struct Faults {
    /// Commits answer `Unavailable` (nothing stored) while set.
    unavailable: bool,
    /// The next commit is stored as if another consumer had stored it, and answered `Moved`.
    steal_next: bool,
    /// Each commit takes this long (a slow database).
    delay: Duration,
    /// The next commit answers `Unavailable` (nothing stored).
    unavailable_next: bool,
    /// Commits running now, and the most that ever ran at once.
    running: usize,
    most_running: usize,
}

/// The decision log, in memory.
#[derive(Default)]
struct Log {
    /// Stored next offsets by group, topic and partition.
    positions: HashMap<(String, String, i32), i64>,
    /// Logged request ids, by topic: a repeat is skipped.
    logged: HashMap<String, HashSet<String>>,
    /// How often each record was in a committed batch, by group, topic, partition and offset.
    handed: HashMap<(String, String, i32, i64), u32>,
    /// The length and head length of each oversized record.
    oversized: Vec<(usize, usize)>,
}

#[derive(Default)]
struct MemorySink {
    log: Mutex<Log>,
    faults: Mutex<Faults>,
}

impl MemorySink {
    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap()
    }

    fn logged(&self, topic: &str) -> usize {
        self.log.lock().unwrap().logged.get(topic).map_or(0, HashSet::len)
    }

    /// Records handed to the sink in committed batches of `group`, and the most times one was.
    fn handed(&self, group: &str) -> (usize, u32) {
        let log = self.log.lock().unwrap();
        let of_group = log.handed.iter().filter(|((g, ..), _)| g == group);
        of_group.fold((0, 0), |(n, most), (_, times)| (n + 1, most.max(*times)))
    }

    fn positions(&self, group: &str, topic: &str) -> BTreeMap<i32, i64> {
        let log = self.log.lock().unwrap();
        log.positions.iter().filter(|((g, t, _), _)| g == group && t == topic).map(|((_, _, p), o)| (*p, *o)).collect()
    }

    /// The transaction: check every advance's `from`, then store records and positions together.
    fn store(&self, batch: &Batch) -> Result<Committed, SinkError> {
        let mut log = self.log.lock().unwrap();
        for advance in &batch.advances {
            let key = (batch.group.clone(), batch.topic.clone(), advance.partition);
            let stored = log.positions.get(&key).copied();
            if stored != advance.from {
                return Err(SinkError::Moved(format!(
                    "partition {} is at {stored:?}, not {:?}",
                    advance.partition, advance.from
                )));
            }
        }
        let mut done = Committed::default();
        for record in &batch.records {
            *log.handed
                .entry((batch.group.clone(), batch.topic.clone(), record.partition, record.offset))
                .or_default() += 1;
            let request_id = match &record.payload {
                Payload::Bytes(bytes) => serde_json::from_slice::<serde_json::Value>(bytes)
                    .ok()
                    .and_then(|v| v["request_id"].as_str().map(str::to_owned)),
                Payload::Oversized { len, head } => {
                    log.oversized.push((*len, head.len()));
                    None
                }
                Payload::Null => None,
            };
            match request_id {
                None => done.dead += 1,
                Some(id) => {
                    if log.logged.entry(batch.topic.clone()).or_default().insert(id) {
                        done.ingested += 1;
                    } else {
                        done.skipped += 1;
                    }
                }
            }
        }
        for advance in &batch.advances {
            log.positions.insert((batch.group.clone(), batch.topic.clone(), advance.partition), advance.to);
        }
        Ok(done)
    }
}

#[async_trait::async_trait]
impl RecordSink for MemorySink {
    async fn positions(&self, group: &str, topic: &str) -> Result<Vec<(i32, i64)>, SinkError> {
        Ok(MemorySink::positions(self, group, topic).into_iter().collect())
    }

    async fn commit(&self, batch: &Batch, turn: Turn) -> Result<Committed, SinkError> {
        let delay = {
            let mut faults = self.faults();
            faults.running += 1;
            faults.most_running = faults.most_running.max(faults.running);
            faults.delay
        };
        let result = self.commit_now(batch, delay, turn).await;
        self.faults().running -= 1;
        result
    }
}

impl MemorySink {
    async fn commit_now(&self, batch: &Batch, delay: Duration, turn: Turn) -> Result<Committed, SinkError> {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        // Held to the end of the commit: the next batch is stored after this one.
        let _next = turn.wait().await;
        if std::mem::take(&mut self.faults().unavailable_next) {
            return Err(SinkError::Unavailable("database restarting".into()));
        }
        if self.faults().unavailable {
            return Err(SinkError::Unavailable("database is down".into()));
        }
        if std::mem::take(&mut self.faults().steal_next) {
            self.store(batch)?;
            return Err(SinkError::Moved("another consumer stored this batch".into()));
        }
        self.store(batch)
    }
}

/// A mock cluster of one broker with `topics` (name, partitions). Also sends the test's logs to its output
/// (`RUST_LOG=warden_stream=debug,librdkafka=debug` to see them).
fn cluster(topics: &[(&str, i32)]) -> MockCluster<'static, DefaultProducerContext> {
    let filter = tracing_subscriber::EnvFilter::from_default_env();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    let cluster = MockCluster::new(1).expect("mock cluster");
    for (topic, partitions) in topics {
        cluster.create_topic(topic, *partitions, 1).expect("topic");
    }
    cluster
}

/// A consumer configuration with the test's quick timings.
fn config(brokers: &str, group: &str, topics: &[&str]) -> Config {
    let mut config = Config::new(brokers, group, topics.iter().map(|t| t.to_string()).collect());
    config.status_interval = Duration::from_millis(100);
    config.topic_refresh = Duration::from_millis(500);
    config.properties = vec![
        ("session.timeout.ms".into(), "6000".into()),
        ("heartbeat.interval.ms".into(), "300".into()),
        ("reconnect.backoff.max.ms".into(), "500".into()),
    ];
    config
}

/// Records `from..to` of `topic`: keyed and identified by request id `{topic}-{i}`.
async fn produce_range(brokers: &str, topic: &str, from: usize, to: usize) {
    let records = (from..to).map(|i| {
        let id = format!("{topic}-{i}");
        (Some(id.clone().into_bytes()), format!(r#"{{"request_id":"{id}","score":0.5}}"#).into_bytes())
    });
    assert_eq!(produce(brokers, topic, records).await.expect("produce"), (to - from) as u64);
}

/// Waits until `done` holds, checking every 20 ms; fails naming `what` after `limit`.
async fn wait_for(what: &str, limit: Duration, done: impl FnMut() -> bool) {
    wait_showing(what, limit, done, String::new).await
}

/// [`wait_for`], showing `show()` when it fails.
async fn wait_showing(what: &str, limit: Duration, mut done: impl FnMut() -> bool, show: impl Fn() -> String) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}: {}", show());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the consumer holds `partitions` partitions with no lag.
async fn caught_up(status: &warden_stream::Status, partitions: usize) -> StatusSnapshot {
    let done = |s: &StatusSnapshot| {
        s.partitions.len() == partitions
            && s.partitions.iter().all(|p| p.lag == Some(0) && p.position == p.high_watermark)
    };
    let show = || format!("{:#?}", status.snapshot());
    wait_showing("the consumer to catch up", Duration::from_secs(30), || done(&status.snapshot()), show).await;
    status.snapshot()
}

/// Each partition's high watermark, asked of the cluster by a client of its own.
fn high_watermarks(brokers: &str, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let client: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    (0..partitions).map(|p| (p, client.fetch_watermarks(topic, p, Duration::from_secs(5)).unwrap().1)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_every_record_once_and_lag_reaches_zero() {
    let cluster = cluster(&[("decisions", 4)]);
    let brokers = cluster.bootstrap_servers();
    produce_range(&brokers, "decisions", 0, 20_000).await;
    let sink = Arc::new(MemorySink::default());

    let consumer = Consumer::start(config(&brokers, "warden", &["decisions"]), sink.clone()).unwrap();
    let status = consumer.status();
    wait_for("20,000 decisions", Duration::from_secs(30), || sink.logged("decisions") == 20_000).await;
    let snapshot = caught_up(&status, 4).await;

    assert_eq!(sink.handed("warden"), (20_000, 1), "each record handed once");
    let watermarks = high_watermarks(&brokers, "decisions", 4);
    assert_eq!(sink.positions("warden", "decisions"), watermarks);
    assert!(watermarks.values().all(|&w| w > 0), "every partition has records: {watermarks:?}");
    assert_eq!((snapshot.records, snapshot.ingested, snapshot.skipped, snapshot.dead), (20_000, 20_000, 0, 0));
    assert_eq!(snapshot.brokers, Brokers::Reachable);
    assert_eq!(snapshot.total_lag(), 0);
    consumer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_and_replays_add_nothing() {
    let cluster = cluster(&[("decisions", 4)]);
    let brokers = cluster.bootstrap_servers();
    produce_range(&brokers, "decisions", 0, 2_000).await;
    let sink = Arc::new(MemorySink::default());
    let first = Consumer::start(config(&brokers, "warden", &["decisions"]), sink.clone()).unwrap();
    wait_for("2,000 decisions", Duration::from_secs(30), || sink.logged("decisions") == 2_000).await;
    first.stop().await.unwrap();

    // Kafka's own offsets for the group say "from the start" (as `kafka-consumer-groups --reset-offsets
    // --to-earliest` would leave them; the mock cluster takes commits from members only, so a member commits
    // them); the consumer never reads them.
    let reset: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "warden")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "300")
        .create()
        .unwrap();
    reset.subscribe(&["decisions"]).unwrap();
    let start = Instant::now();
    while reset.assignment().unwrap().count() < 4 {
        assert!(start.elapsed() < Duration::from_secs(30), "the resetting member got no partitions");
        let _ = reset.poll(Duration::from_millis(50));
    }
    let mut earliest = TopicPartitionList::new();
    for partition in 0..4 {
        earliest.add_partition_offset("decisions", partition, Offset::Offset(0)).unwrap();
    }
    reset.commit(&earliest, CommitMode::Sync).unwrap();
    assert_eq!(reset.committed(Duration::from_secs(5)).unwrap().elements()[0].offset(), Offset::Offset(0));
    drop(reset);

    // A restart in the same group reads the sink's positions: one new record is the only one handed on.
    let again = Consumer::start(config(&brokers, "warden", &["decisions"]), sink.clone()).unwrap();
    caught_up(&again.status(), 4).await;
    produce_range(&brokers, "decisions", 2_000, 2_001).await;
    wait_for("the new decision", Duration::from_secs(30), || sink.logged("decisions") == 2_001).await;
    assert_eq!(sink.handed("warden"), (2_001, 1));
    // The consumer reads the commit's result on its next turn (the commit runs beside the loop).
    let status = again.status();
    wait_for("the commit's status", Duration::from_secs(5), || status.snapshot().records == 1).await;
    again.stop().await.unwrap();

    // A new group has no positions and replays the topic from offset 0: the sink sees every record again
    // and skips each as already logged.
    let replay = Consumer::start(config(&brokers, "replay", &["decisions"]), sink.clone()).unwrap();
    let status = replay.status();
    wait_for("the replay", Duration::from_secs(30), || status.snapshot().records == 2_001).await;
    let snapshot = caught_up(&status, 4).await;
    assert_eq!((snapshot.ingested, snapshot.skipped), (0, 2_001));
    assert_eq!(sink.logged("decisions"), 2_001);
    assert_eq!(sink.handed("replay"), (2_001, 1));
    replay.stop().await.unwrap();
}

/// A consumer down longer than the topic keeps its records finds its stored position below the partition's
/// start: what was removed is counted as expired (not silently skipped) and the rest is stored. The mock
/// cluster keeps at most 5 MiB of a partition, which stands in for `retention.ms`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_removed_by_retention_before_they_were_stored_are_counted_as_expired() {
    let cluster = cluster(&[("decisions", 1)]);
    let brokers = cluster.bootstrap_servers();
    let padded = |from: usize, to: usize| {
        (from..to).map(|i| {
            let id = format!("decisions-{i}");
            let value = format!(r#"{{"request_id":"{id}","pad":"{}"}}"#, "x".repeat(4_000));
            (Some(id.into_bytes()), value.into_bytes())
        })
    };
    produce(&brokers, "decisions", padded(0, 100)).await.unwrap();
    let sink = Arc::new(MemorySink::default());
    let first = Consumer::start(config(&brokers, "warden", &["decisions"]), sink.clone()).unwrap();
    wait_for("100 decisions", Duration::from_secs(30), || sink.logged("decisions") == 100).await;
    assert!(first.status().snapshot().expired.is_empty());
    first.stop().await.unwrap();

    // 12 MiB more while it is down: the partition's start moves past the stored position (100).
    produce(&brokers, "decisions", padded(100, 3_100)).await.unwrap();
    let client: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    let (low, high) = client.fetch_watermarks("decisions", 0, Duration::from_secs(5)).unwrap();
    assert!(low > 100 && high == 3_100, "the mock cluster kept {low}..{high}");

    let again = Consumer::start(config(&brokers, "warden", &["decisions"]), sink.clone()).unwrap();
    let snapshot = caught_up(&again.status(), 1).await;
    assert_eq!(snapshot.expired.get("decisions"), Some(&((low - 100) as u64)), "{snapshot:#?}");
    assert_eq!(sink.logged("decisions"), 100 + (high - low) as usize);
    assert_eq!(sink.positions("warden", "decisions"), BTreeMap::from([(0, high)]));
    again.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surviving_consumer_takes_over_the_partitions_of_one_that_died() {
    let cluster = cluster(&[("decisions", 4)]);
    let brokers = cluster.bootstrap_servers();
    produce_range(&brokers, "decisions", 0, 20_000).await;
    let sink = Arc::new(MemorySink::default());
    sink.faults().delay = Duration::from_millis(25);
    let mut small_batches = config(&brokers, "warden", &["decisions"]);
    small_batches.batch_records = 200;

    let doomed = Consumer::start(small_batches.clone(), sink.clone()).unwrap();
    let survivor = Consumer::start(small_batches, sink.clone()).unwrap();
    let (doomed_status, survivor_status) = (doomed.status(), survivor.status());
    wait_for("both consumers to commit", Duration::from_secs(30), || {
        let (a, b) = (doomed_status.snapshot(), survivor_status.snapshot());
        a.batches >= 3 && b.batches >= 3 && a.partitions.len() == 2 && b.partitions.len() == 2
    })
    .await;
    let taken: Vec<i32> = doomed_status.snapshot().partitions.iter().map(|p| p.partition).collect();
    assert!(sink.logged("decisions") < 20_000, "the consumers were still consuming");
    drop(doomed);

    let snapshot = caught_up(&survivor_status, 4).await;
    wait_for("20,000 decisions", Duration::from_secs(30), || sink.logged("decisions") == 20_000).await;
    assert_eq!(sink.handed("warden"), (20_000, 1), "each record handed once");
    assert_eq!(sink.positions("warden", "decisions"), high_watermarks(&brokers, "decisions", 4));
    assert!(taken.iter().all(|p| snapshot.partition("decisions", *p).is_some()));
    survivor.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_position_loses_and_repeats_nothing() {
    let cluster = cluster(&[("decisions", 4)]);
    let brokers = cluster.bootstrap_servers();
    produce_range(&brokers, "decisions", 0, 4_000).await;
    let sink = Arc::new(MemorySink::default());
    sink.faults().steal_next = true;
    let mut small_batches = config(&brokers, "warden", &["decisions"]);
    small_batches.batch_records = 500;

    let consumer = Consumer::start(small_batches, sink.clone()).unwrap();
    wait_for("4,000 decisions", Duration::from_secs(30), || sink.logged("decisions") == 4_000).await;
    let snapshot = caught_up(&consumer.status(), 4).await;
    assert_eq!(snapshot.moved, 1);
    assert_eq!(sink.handed("warden"), (4_000, 1), "the stolen batch's records were skipped, not handed again");
    assert_eq!(snapshot.skipped, 0);
    consumer.stop().await.unwrap();
}

/// Two commits run at once (one checked while the one before it is written). The first is refused while the
/// second is in flight: the second, which starts where the first ends, is refused too, and every record is
/// still stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_while_the_next_is_in_flight_loses_and_repeats_nothing() {
    for fault in ["unavailable", "moved"] {
        let cluster = cluster(&[("decisions", 2)]);
        let brokers = cluster.bootstrap_servers();
        produce_range(&brokers, "decisions", 0, 3_000).await;
        let sink = Arc::new(MemorySink::default());
        {
            let mut faults = sink.faults();
            faults.delay = Duration::from_millis(150);
            match fault {
                "unavailable" => faults.unavailable_next = true,
                _ => faults.steal_next = true,
            }
        }
        let mut small_batches = config(&brokers, "warden", &["decisions"]);
        small_batches.batch_records = 500;

        let consumer = Consumer::start(small_batches, sink.clone()).unwrap();
        wait_for("3,000 decisions", Duration::from_secs(30), || sink.logged("decisions") == 3_000).await;
        let snapshot = caught_up(&consumer.status(), 2).await;
        assert_eq!(sink.faults().most_running, 3, "{fault}: three commits in flight, never more");
        assert_eq!(sink.handed("warden"), (3_000, 1), "{fault}: every record handed once");
        assert_eq!(sink.positions("warden", "decisions"), high_watermarks(&brokers, "decisions", 2));
        if fault == "moved" {
            assert_eq!(snapshot.moved, 1);
        }
        consumer.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_sink_is_retried_and_lag_keeps_growing() {
    let cluster = cluster(&[("decisions", 4)]);
    let brokers = cluster.bootstrap_servers();
    produce_range(&brokers, "decisions", 0, 1_000).await;
    let sink = Arc::new(MemorySink::default());
    sink.faults().unavailable = true;

    let consumer = Consumer::start(config(&brokers, "warden", &["decisions"]), sink.clone()).unwrap();
    let status = consumer.status();
    wait_for("retries", Duration::from_secs(30), || status.snapshot().retries >= 3).await;
    let snapshot = status.snapshot();
    assert_eq!(snapshot.last_error.as_deref(), Some("sink unavailable: database is down"));
    assert!(sink.positions("warden", "decisions").is_empty(), "no position moves while nothing is stored");
    assert!(snapshot.partitions.iter().all(|p| p.position.is_none()));

    // Records keep arriving while the database is down: the lag says so.
    produce_range(&brokers, "decisions", 1_000, 1_500).await;
    wait_for("the lag to grow", Duration::from_secs(30), || status.snapshot().total_lag() == 1_500).await;
    assert_eq!(sink.logged("decisions"), 0);

    sink.faults().unavailable = false;
    wait_for("1,500 decisions", Duration::from_secs(30), || sink.logged("decisions") == 1_500).await;
    let snapshot = caught_up(&status, 4).await;
    assert_eq!(sink.handed("warden"), (1_500, 1));
    assert_eq!(snapshot.last_error, None);
    consumer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_is_reported_and_consumed_once_created() {
    let cluster = cluster(&[("decisions", 4)]);
    let brokers = cluster.bootstrap_servers();
    produce_range(&brokers, "decisions", 0, 100).await;
    let sink = Arc::new(MemorySink::default());

    let consumer = Consumer::start(config(&brokers, "warden", &["decisions", "outcomes"]), sink.clone()).unwrap();
    let status = consumer.status();
    wait_for("the other topic's decisions", Duration::from_secs(30), || sink.logged("decisions") == 100).await;
    wait_for("the missing topic's error", Duration::from_secs(30), || {
        status.snapshot().topic_errors.get("outcomes").map(String::as_str) == Some("topic 'outcomes' does not exist")
    })
    .await;

    cluster.create_topic("outcomes", 2, 1).unwrap();
    produce_range(&brokers, "outcomes", 0, 50).await;
    wait_for("the outcomes", Duration::from_secs(30), || sink.logged("outcomes") == 50).await;
    let snapshot = caught_up(&status, 6).await;
    assert!(snapshot.topic_errors.is_empty(), "{:?}", snapshot.topic_errors);
    assert_eq!(sink.handed("warden"), (150, 1));
    consumer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_loses_nothing() {
    let cluster = cluster(&[("decisions", 4)]);
    let brokers = cluster.bootstrap_servers();
    produce_range(&brokers, "decisions", 0, 1_000).await;
    let sink = Arc::new(MemorySink::default());
    let consumer = Consumer::start(config(&brokers, "warden", &["decisions"]), sink.clone()).unwrap();
    let status = consumer.status();
    wait_for("1,000 decisions", Duration::from_secs(30), || sink.logged("decisions") == 1_000).await;
    caught_up(&status, 4).await;

    cluster.broker_down(1).unwrap();
    wait_for("the outage to show", Duration::from_secs(30), || status.snapshot().brokers == Brokers::Unreachable).await;
    let snapshot = status.snapshot();
    assert!(snapshot.last_error.is_some());
    // The last known watermarks stay: the lag is still reported.
    assert_eq!(snapshot.partitions.len(), 4);
    assert!(snapshot.partitions.iter().all(|p| p.lag == Some(0) && p.high_watermark.is_some()), "{snapshot:?}");

    // A producer waits for the broker; once it is back, everything arrives, once.
    let producer = tokio::spawn({
        let brokers = brokers.clone();
        async move { produce_range(&brokers, "decisions", 1_000, 2_000).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.broker_up(1).unwrap();
    producer.await.unwrap();
    wait_for("2,000 decisions", Duration::from_secs(60), || sink.logged("decisions") == 2_000).await;
    let snapshot = caught_up(&status, 4).await;
    assert_eq!(snapshot.brokers, Brokers::Reachable);
    assert_eq!(sink.handed("warden"), (2_000, 1));
    consumer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_records_reach_the_sink_as_such() {
    let cluster = cluster(&[("decisions", 1)]);
    let brokers = cluster.bootstrap_servers();
    let big = format!(r#"{{"request_id":"big","features":"{}"}}"#, "x".repeat(10_000));
    let big_len = big.len();
    let records = [r#"{"request_id":"fine"}"#.to_owned(), "not json".to_owned(), big];
    produce(&brokers, "decisions", records.map(|r| (None, r.into_bytes()))).await.unwrap();
    let sink = Arc::new(MemorySink::default());
    let mut small_records = config(&brokers, "warden", &["decisions"]);
    small_records.max_record_bytes = 2_048;

    let consumer = Consumer::start(small_records, sink.clone()).unwrap();
    let snapshot = caught_up(&consumer.status(), 1).await;
    assert_eq!((snapshot.records, snapshot.ingested, snapshot.dead), (3, 1, 2));
    assert_eq!(sink.log.lock().unwrap().oversized, [(big_len, 4_096)]);
    consumer.stop().await.unwrap();
}
