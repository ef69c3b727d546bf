//! A consumer group member: librdkafka's `BaseConsumer` polled on a thread of its own, batching records into
//! sink commits.
//!
//! The loop, in one place:
//! - **Assignment** (librdkafka's rebalance callback, inside `poll`): the sink's stored positions of the
//!   assigned partitions are read (retried while the sink is unavailable) and each partition is assigned at
//!   its stored offset, or at the beginning when none is stored. Kafka's committed offsets are never read.
//! - **Records** of held partitions are appended to their topic's pending batch; a record below the
//!   partition's next offset (one already stored) is skipped.
//! - **A batch is committed** when it holds `batch_records` records or `batch_bytes` bytes, or its first
//!   record has waited `batch_wait`: one sink commit per topic, with each partition's advance from the stored
//!   position it started at to its last record's offset + 1. Commits run on the runtime while the loop reads
//!   on: at most [`IN_FLIGHT`] at once, so one batch is checked while the two before it are written. A batch
//!   handed on while another is in flight starts from where that one ends, and the sink sends it to the
//!   database only after that one is on its way there (its [`Turn`]). Results are taken oldest first. Success moves the stored
//!   positions. `Moved`: the batch, the batches after it and every record read since are dropped, the
//!   positions are read again and the partitions sought there, so records another consumer stored are
//!   skipped and none is lost. `Unavailable`: the same batch is retried with back-off (50 ms doubling to
//!   `retry_max`) and nothing else is read meanwhile. `Fatal`: the consumer stops with the error.
//! - **Revocation**: the pending batch is committed once (so the next owner starts after it) unless the
//!   assignment was lost or the consumer is being dropped, and the revoked partitions' records are dropped.
//! - **Status**: librdkafka's statistics (every `status_interval`) give each partition's watermarks and each
//!   broker's state; its error events give the last error; a subscribed topic the cluster lacks is found
//!   through metadata, reported, and looked for again every `topic_refresh`.
//! - **Stopping**: [`Consumer::stop`] commits the pending batch (once: a sink still unavailable loses nothing,
//!   since nothing was acknowledged) and leaves the group; dropping a [`Consumer`] drops the batch unstored.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

use crate::sink::{Advance, Batch, Committed, OVERSIZED_HEAD_BYTES, Payload, Record, RecordSink, SinkError, Turn};
use crate::status::{Brokers, Status};
use crate::{Config, Error};

/// A running consumer group member. Start it with [`Consumer::start`], read its [`Status`], and end it with
/// [`Consumer::stop`] (or drop it, which abandons the pending batch).
pub struct Consumer {
    status: Arc<Status>,
    control: Arc<Control>,
    done: Option<oneshot::Receiver<Result<(), Error>>>,
}

impl Consumer {
    /// Subscribes to the configured topics and starts consuming on a thread of its own. Must be called inside
    /// a tokio runtime, which drives the sink's futures; the sink must not need the calling task to progress.
    pub fn start(config: Config, sink: Arc<dyn RecordSink>) -> Result<Consumer, Error> {
        config.validate()?;
        let runtime = Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let status = Arc::new(Status::default());
        let control = Arc::new(Control::default());
        let context = Context {
            group: config.group.clone(),
            sink,
            runtime,
            status: status.clone(),
            control: control.clone(),
            retry_max: config.retry_max,
            work: Mutex::default(),
            in_flight: Mutex::default(),
            next_turn: Mutex::default(),
        };
        let consumer: BaseConsumer<Context> = config.client_config().create_with_context(context)?;
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let (done_tx, done) = oneshot::channel();
        std::thread::Builder::new()
            .name("warden-stream".into())
            .spawn(move || {
                let result = run_loop(&consumer, &config);
                if let Err(error) = &result {
                    error!(group = config.group, %error, "stream consumer stopped");
                    consumer.context().status.error(&error.to_string());
                }
                consumer.context().control.request(ABORT);
                // Dropping the consumer leaves the group (the revocation runs in this thread).
                drop(consumer);
                let _ = done_tx.send(result);
            })
            .map_err(|e| Error::Thread(e.to_string()))?;
        Ok(Consumer { status, control, done: Some(done) })
    }

    /// The consumer's status, shared with its thread.
    pub fn status(&self) -> Arc<Status> {
        self.status.clone()
    }

    /// Commits the pending batch, leaves the group and waits for the thread to end; returns the error that
    /// stopped the consumer earlier, if one did.
    pub async fn stop(mut self) -> Result<(), Error> {
        self.control.request(STOP);
        let done = self.done.take().expect("the result is taken only here and in run_until");
        done.await.unwrap_or_else(|_| Err(Error::Thread("ended without a result".into())))
    }

    /// Consumes until `shutdown` completes, then stops as [`Consumer::stop`] does; returns early with the error
    /// that stops the consumer by itself (a fatal sink or Kafka error).
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let mut done = self.done.take().expect("the result is taken only here and in stop");
        tokio::select! {
            result = &mut done => result.unwrap_or_else(|_| Err(Error::Thread("ended without a result".into()))),
            () = shutdown => {
                self.control.request(STOP);
                done.await.unwrap_or_else(|_| Err(Error::Thread("ended without a result".into())))
            }
        }
    }
}

impl Drop for Consumer {
    /// Stops the thread without committing the pending batch (as a crash would; nothing was acknowledged).
    fn drop(&mut self) {
        self.control.request(ABORT);
    }
}

const RUN: u8 = 0;
const STOP: u8 = 1;
const ABORT: u8 = 2;

/// Asks the consumer's thread to stop, gracefully (`STOP`) or not (`ABORT`).
#[derive(Debug, Default)]
struct Control {
    state: AtomicU8,
}

impl Control {
    fn request(&self, state: u8) {
        self.state.fetch_max(state, Ordering::SeqCst);
    }

    fn state(&self) -> u8 {
        self.state.load(Ordering::SeqCst)
    }

    fn stopping(&self) -> bool {
        self.state() != RUN
    }

    /// Sleeps `duration`, or less when a stop is requested.
    fn sleep(&self, duration: Duration) {
        let end = Instant::now() + duration;
        while !self.stopping() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }
}

/// The consumer's state, reached from the loop and from librdkafka's callbacks (both on the consumer's thread).
struct Context {
    group: String,
    sink: Arc<dyn RecordSink>,
    runtime: Handle,
    status: Arc<Status>,
    control: Arc<Control>,
    retry_max: Duration,
    work: Mutex<Work>,
    /// Batches whose commits are running on the runtime, oldest first.
    in_flight: Mutex<VecDeque<InFlight>>,
    /// Ends when the last commit handed on hands off: the next one's [`Turn`].
    next_turn: Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
}

/// Commits running at once: one batch is checked while the two before it are written.
const IN_FLIGHT: usize = 3;

/// A batch handed to the sink, and the task storing it.
struct InFlight {
    batch: Arc<Batch>,
    task: tokio::task::JoinHandle<Result<Committed, SinkError>>,
}

#[derive(Default)]
struct Work {
    /// The held partitions and pending records, by topic.
    topics: BTreeMap<String, TopicWork>,
    /// Set when a consumer error suggests a subscribed topic is missing.
    check_topics: bool,
    /// Set by a callback that met an error the consumer cannot go on after.
    fatal: Option<Error>,
}

impl Work {
    fn held(&mut self, topic: &str, partition: i32) -> Option<&mut Held> {
        self.topics.get_mut(topic)?.held.get_mut(&partition)
    }

    /// Every held partition, by topic.
    fn held_partitions(&self) -> Vec<(String, i32)> {
        let each =
            |(topic, work): (&String, &TopicWork)| work.held.keys().map(|p| (topic.clone(), *p)).collect::<Vec<_>>();
        self.topics.iter().flat_map(each).collect()
    }
}

/// One topic's held partitions and the records read from them and not yet committed.
#[derive(Default)]
struct TopicWork {
    held: BTreeMap<i32, Held>,
    records: Vec<Record>,
    bytes: usize,
    /// When the oldest pending record was read.
    since: Option<Instant>,
}

impl TopicWork {
    fn take_pending(&mut self) -> Vec<Record> {
        self.bytes = 0;
        self.since = None;
        std::mem::take(&mut self.records)
    }
}

/// A partition held by this consumer.
#[derive(Debug)]
struct Held {
    /// The sink's stored position, as last read or committed.
    stored: Option<i64>,
    /// The next offset to accept (`None`: any, the partition is read from its beginning).
    next: Option<i64>,
    /// Where the last batch handed to the sink leaves the partition, while it is in flight.
    handed: Option<i64>,
    /// Whether no record has been accepted since the partition was positioned.
    fresh: bool,
    /// Whether the partition must still be sought to `stored`; its records are dropped until then.
    seek: bool,
}

impl Held {
    fn at(stored: Option<i64>) -> Held {
        Held { stored, next: stored, handed: None, fresh: true, seek: false }
    }
}

impl Context {
    fn work(&self) -> MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fail(&self, error: Error) {
        self.work().fatal.get_or_insert(error);
    }

    /// Calls the sink, retrying with back-off while it is unavailable; gives up (returning `Unavailable`) when
    /// a stop is requested or `retry` is false. While it waits, the held partitions' high watermarks are
    /// asked of the brokers, since librdkafka's statistics arrive only through `poll`.
    fn call<'a, T>(
        &self,
        consumer: &BaseConsumer<Context>,
        retry: bool,
        mut call: impl FnMut() -> std::pin::Pin<Box<dyn Future<Output = Result<T, SinkError>> + Send + 'a>>,
    ) -> Result<T, SinkError> {
        let first = self.runtime.block_on(call());
        self.retry_unavailable(consumer, retry, first, call)
    }

    /// [`Context::call`] once the first answer (`result`) is in.
    fn retry_unavailable<'a, T>(
        &self,
        consumer: &BaseConsumer<Context>,
        retry: bool,
        mut result: Result<T, SinkError>,
        mut call: impl FnMut() -> std::pin::Pin<Box<dyn Future<Output = Result<T, SinkError>> + Send + 'a>>,
    ) -> Result<T, SinkError> {
        let mut wait = Duration::from_millis(50);
        loop {
            match result {
                Err(SinkError::Unavailable(reason)) => {
                    let error = SinkError::Unavailable(reason);
                    self.status.retrying(&error.to_string());
                    if !retry || self.control.stopping() {
                        return Err(error);
                    }
                    warn!(group = self.group, %error, retry_in = ?wait, "stream sink unavailable");
                    let until = Instant::now() + wait;
                    self.refresh_watermarks(consumer);
                    self.control.sleep(until.saturating_duration_since(Instant::now()));
                    wait = (wait * 2).min(self.retry_max.max(Duration::from_millis(50)));
                    result = self.runtime.block_on(call());
                }
                other => return other,
            }
        }
    }

    /// The stored positions of `topic`, retried while the sink is unavailable. `None` when the consumer stops
    /// first (or, with a fatal answer, after recording it).
    fn positions(&self, consumer: &BaseConsumer<Context>, topic: &str) -> Option<BTreeMap<i32, i64>> {
        match self.call(consumer, true, || self.sink.positions(&self.group, topic)) {
            Ok(positions) => Some(positions.into_iter().collect()),
            Err(SinkError::Unavailable(_)) => None,
            Err(SinkError::Moved(reason) | SinkError::Fatal(reason)) => {
                self.fail(Error::Sink(reason));
                None
            }
        }
    }

    /// Appends a record of a held partition to its topic's batch.
    fn accept(&self, consumer: &BaseConsumer<Context>, message: &BorrowedMessage<'_>, max_record_bytes: usize) {
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        let mut work = self.work();
        let Some(topic_work) = work.topics.get_mut(topic) else { return };
        let Some(held) = topic_work.held.get_mut(&partition) else {
            return; // revoked: the next owner reads it
        };
        if held.seek {
            return;
        }
        if held.next.is_some_and(|next| offset < next) {
            return; // stored already
        }
        let gap = (held.fresh && offset > held.next.unwrap_or(0)).then(|| held.next.unwrap_or(0));
        held.next = Some(offset + 1);
        held.fresh = false;
        let (record, bytes) = record(message, max_record_bytes);
        topic_work.records.push(record);
        topic_work.bytes += bytes;
        topic_work.since.get_or_insert_with(Instant::now);
        drop(work);
        if let Some(from) = gap {
            self.expired(consumer, topic, partition, from, offset);
        }
    }

    /// The first record read after positioning a partition at `from` is at `offset`: the records between were
    /// removed by the topic's retention before they were stored (counted and logged), or were transaction
    /// markers, which are not records (the broker's low watermark tells them apart).
    fn expired(&self, consumer: &BaseConsumer<Context>, topic: &str, partition: i32, from: i64, offset: i64) {
        match consumer.fetch_watermarks(topic, partition, Duration::from_secs(2)) {
            Ok((low, _)) if low.min(offset) > from => {
                let lost = low.min(offset) - from;
                warn!(
                    topic,
                    partition,
                    from,
                    to = low.min(offset),
                    "records expired from the topic before they were stored"
                );
                self.status.expired(topic, partition, lost as u64);
            }
            Ok(_) => {}
            Err(error) => {
                warn!(topic, partition, from, to = offset, %error, "offsets were skipped; the low watermark is unknown")
            }
        }
    }

    /// When the pending batches must be committed (`None`: nothing pending).
    fn due(&self, config: &Config) -> Option<Instant> {
        let work = self.work();
        let (records, bytes) = work.topics.values().fold((0, 0), |(r, b), t| (r + t.records.len(), b + t.bytes));
        if records >= config.batch_records || bytes >= config.batch_bytes {
            return Some(Instant::now());
        }
        work.topics.values().filter_map(|t| t.since).min().map(|since| since + config.batch_wait)
    }

    /// Commits every topic's pending batch. `pipelined`: commits may be left running (the loop reads on
    /// meanwhile); otherwise every commit has ended on return.
    fn flush(&self, consumer: &BaseConsumer<Context>, retry: bool, pipelined: bool) -> Result<(), Error> {
        let topics: Vec<String> = self.work().topics.keys().cloned().collect();
        for topic in topics {
            self.flush_topic(consumer, &topic, retry, pipelined)?;
        }
        if !pipelined {
            self.settle_all(consumer, retry)?;
        }
        Ok(())
    }

    /// Hands `topic`'s pending batch to the sink once fewer than [`IN_FLIGHT`] commits run (`pipelined`), or
    /// once none runs (and then waits for it).
    fn flush_topic(
        &self,
        consumer: &BaseConsumer<Context>,
        topic: &str,
        retry: bool,
        pipelined: bool,
    ) -> Result<(), Error> {
        let room = if pipelined { IN_FLIGHT } else { 1 };
        while self.in_flight().len() >= room {
            self.settle_oldest(consumer, retry)?;
        }
        let Some(batch) = self.take_batch(topic) else { return Ok(()) };
        let batch = Arc::new(batch);
        let sink = self.sink.clone();
        let handed = batch.clone();
        let (handoff, next) = tokio::sync::oneshot::channel();
        let turn = Turn::between(std::mem::replace(&mut *self.next_turn(), Some(next)), handoff);
        // The next batch's turn comes when the sink drops the handoff, at the latest when the commit ends.
        let task = self.runtime.spawn(async move { sink.commit(&handed, turn).await });
        self.in_flight().push_back(InFlight { batch, task });
        if !pipelined {
            self.settle_all(consumer, retry)?;
        }
        Ok(())
    }

    fn in_flight(&self) -> MutexGuard<'_, VecDeque<InFlight>> {
        self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn next_turn(&self) -> MutexGuard<'_, Option<tokio::sync::oneshot::Receiver<()>>> {
        self.next_turn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `topic`'s pending records as a batch, each partition advancing from where the batch in flight before
    /// it leaves it, or else from its stored position.
    fn take_batch(&self, topic: &str) -> Option<Batch> {
        let mut work = self.work();
        let topic_work = work.topics.get_mut(topic)?;
        let records = topic_work.take_pending();
        if records.is_empty() {
            return None;
        }
        let mut last = BTreeMap::new();
        for record in &records {
            last.insert(record.partition, record.offset);
        }
        let advances = last
            .into_iter()
            .map(|(partition, offset)| {
                let held = topic_work.held.get_mut(&partition);
                let from = held.as_ref().and_then(|h| h.handed.or(h.stored));
                if let Some(held) = held {
                    held.handed = Some(offset + 1);
                }
                Advance { partition, from, to: offset + 1 }
            })
            .collect();
        Some(Batch { group: self.group.clone(), topic: topic.to_owned(), records, advances })
    }

    /// Whether the oldest commit in flight has ended (its result is then taken without waiting).
    fn oldest_ended(&self) -> bool {
        self.in_flight().front().is_some_and(|f| f.task.is_finished())
    }

    /// Takes the result of every commit in flight, oldest first.
    fn settle_all(&self, consumer: &BaseConsumer<Context>, retry: bool) -> Result<(), Error> {
        while !self.in_flight().is_empty() {
            self.settle_oldest(consumer, retry)?;
        }
        Ok(())
    }

    /// Waits for the oldest commit in flight and acts on its result (retrying it while the sink is
    /// unavailable, when `retry`). A refused batch is dropped with the batches after it and everything read
    /// since, and the topic's partitions are sought back to the stored positions (read again after `Moved`).
    fn settle_oldest(&self, consumer: &BaseConsumer<Context>, retry: bool) -> Result<(), Error> {
        let Some(InFlight { batch, task }) = self.in_flight().pop_front() else { return Ok(()) };
        // Every batch before it has ended: a retry need not wait for a turn.
        let first = self.join(task);
        let result = self.retry_unavailable(consumer, retry, first, || self.sink.commit(&batch, Turn::now()));
        let topic = batch.topic.as_str();
        match result {
            Ok(done) => {
                self.stored(&batch, done);
                Ok(())
            }
            Err(refusal @ (SinkError::Moved(_) | SinkError::Unavailable(_))) => {
                // The batches after it start where it ends: they are refused too, unless another consumer
                // stored exactly up to there (then they are stored, and count).
                let later: Vec<InFlight> = self.in_flight().drain(..).collect();
                let mut refused = BTreeSet::new();
                for InFlight { batch, task } in later {
                    match self.join(task) {
                        Ok(done) => self.stored(&batch, done),
                        Err(SinkError::Fatal(reason)) => return Err(Error::Sink(reason)),
                        Err(_) => {
                            refused.insert(batch.topic.clone());
                        }
                    }
                }
                refused.remove(topic);
                for other in refused {
                    self.reposition(&other, None);
                }
                let positions = match refusal {
                    SinkError::Moved(reason) => {
                        warn!(
                            group = self.group,
                            topic, reason, "stream positions moved by another consumer; reading them again"
                        );
                        self.status.moved(&SinkError::Moved(reason).to_string());
                        if retry { self.positions(consumer, topic) } else { None }
                    }
                    _ => None,
                };
                self.reposition(topic, positions);
                Ok(())
            }
            Err(SinkError::Fatal(reason)) => Err(Error::Sink(reason)),
        }
    }

    /// A commit task's result (a task that panicked or was cancelled is a fatal sink error).
    fn join(&self, task: tokio::task::JoinHandle<Result<Committed, SinkError>>) -> Result<Committed, SinkError> {
        self.runtime
            .block_on(task)
            .unwrap_or_else(|join| Err(SinkError::Fatal(format!("the sink's commit did not finish: {join}"))))
    }

    /// A batch the sink stored: its partitions' stored positions move to its advances.
    fn stored(&self, batch: &Batch, done: Committed) {
        let topic = batch.topic.as_str();
        let mut work = self.work();
        for advance in &batch.advances {
            if let Some(held) = work.held(topic, advance.partition) {
                held.stored = Some(advance.to);
                if held.handed == Some(advance.to) {
                    held.handed = None;
                }
            }
        }
        drop(work);
        let positions: Vec<_> = batch.advances.iter().map(|a| (a.partition, a.to)).collect();
        self.status.committed(topic, &positions, batch.records.len(), done);
        debug!(topic, records = batch.records.len(), ?positions, "stream batch committed");
    }

    /// Drops `topic`'s pending records and marks its held partitions to be sought to their stored positions
    /// (`positions`, when read again, replace them).
    fn reposition(&self, topic: &str, positions: Option<BTreeMap<i32, i64>>) {
        let mut work = self.work();
        let Some(topic_work) = work.topics.get_mut(topic) else { return };
        topic_work.take_pending();
        for (partition, held) in &mut topic_work.held {
            if let Some(positions) = &positions {
                held.stored = positions.get(partition).copied();
                self.status.position(topic, *partition, held.stored);
            }
            *held = Held { seek: true, ..Held::at(held.stored) };
        }
    }

    /// Seeks the partitions marked for it; one that fails is tried again on the next turn.
    fn seek_marked(&self, consumer: &BaseConsumer<Context>) {
        let marked: Vec<(String, i32, Option<i64>)> = {
            let work = self.work();
            let each = |(topic, work): (&String, &TopicWork)| {
                work.held.iter().filter(|(_, h)| h.seek).map(|(p, h)| (topic.clone(), *p, h.stored)).collect::<Vec<_>>()
            };
            work.topics.iter().flat_map(each).collect()
        };
        for (topic, partition, stored) in marked {
            let offset = stored.map_or(Offset::Beginning, Offset::Offset);
            match consumer.seek(&topic, partition, offset, Duration::from_secs(5)) {
                Ok(()) => {
                    if let Some(held) = self.work().held(&topic, partition) {
                        held.seek = false;
                    }
                }
                Err(error) => warn!(topic, partition, %error, "seek failed; trying again"),
            }
        }
    }

    /// Asks the brokers for the held partitions' high watermarks (unless they are known to be unreachable).
    fn refresh_watermarks(&self, consumer: &BaseConsumer<Context>) {
        if self.status.brokers_now() == Brokers::Unreachable {
            return;
        }
        let held = self.work().held_partitions();
        for (topic, partition) in held {
            if let Ok((low, high)) = consumer.fetch_watermarks(&topic, partition, Duration::from_secs(1)) {
                self.status.watermarks(&topic, partition, low, high);
            }
        }
    }

    /// Drops every pending record (the consumer is being dropped).
    fn abandon(&self) {
        for in_flight in self.in_flight().drain(..) {
            in_flight.task.abort();
        }
        for topic_work in self.work().topics.values_mut() {
            topic_work.take_pending();
        }
    }

    fn assign(&self, consumer: &BaseConsumer<Context>, tpl: &mut TopicPartitionList, cooperative: bool) {
        let partitions: Vec<(String, i32)> =
            tpl.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect();
        let topics: BTreeSet<&str> = partitions.iter().map(|(t, _)| t.as_str()).collect();
        let mut stored = BTreeMap::new();
        for topic in topics {
            match self.positions(consumer, topic) {
                Some(positions) => stored.insert(topic.to_owned(), positions),
                None => {
                    // Stopping (or failed): take nothing rather than start at unknown offsets.
                    if !cooperative {
                        let _ = consumer.assign(&TopicPartitionList::new());
                    }
                    return;
                }
            };
        }
        let mut work = self.work();
        for (topic, partition) in &partitions {
            let position = stored.get(topic).and_then(|p| p.get(partition)).copied();
            let offset = position.map_or(Offset::Beginning, Offset::Offset);
            if let Err(error) = tpl.set_partition_offset(topic, *partition, offset) {
                work.fatal.get_or_insert(Error::Kafka(error));
            }
            work.topics.entry(topic.clone()).or_default().held.insert(*partition, Held::at(position));
            self.status.assigned(topic, *partition, position);
        }
        drop(work);
        info!(group = self.group, ?partitions, "stream partitions assigned");
        let assigned = if cooperative { consumer.incremental_assign(tpl) } else { consumer.assign(tpl) };
        if let Err(error) = assigned {
            self.fail(Error::Kafka(error));
        }
    }

    fn revoke(&self, consumer: &BaseConsumer<Context>, tpl: &TopicPartitionList, cooperative: bool) {
        let partitions: Vec<(String, i32)> =
            tpl.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect();
        if self.control.state() != ABORT && !consumer.assignment_lost() {
            // Hand over what was read: the next owner starts after it. One attempt; a refusal drops it.
            let topics: BTreeSet<&str> = partitions.iter().map(|(t, _)| t.as_str()).collect();
            if let Err(error) = self.settle_all(consumer, false) {
                self.fail(error);
            }
            for topic in topics {
                if let Err(error) = self.flush_topic(consumer, topic, false, false) {
                    self.fail(error);
                }
            }
        }
        let mut work = self.work();
        for (topic, partition) in &partitions {
            self.status.revoked(topic, *partition);
            if let Some(topic_work) = work.topics.get_mut(topic) {
                topic_work.held.remove(partition);
                topic_work.records.retain(|r| r.partition != *partition);
            }
        }
        work.topics.retain(|_, t| !t.held.is_empty() || !t.records.is_empty());
        drop(work);
        info!(group = self.group, ?partitions, "stream partitions revoked");
        let unassigned = if cooperative { consumer.incremental_unassign(tpl) } else { consumer.unassign() };
        if let Err(error) = unassigned {
            warn!(%error, "unassign failed");
        }
    }

    /// Drops the whole assignment (after a failed rebalance).
    fn drop_assignment(&self) {
        let mut work = self.work();
        for (topic, partition) in work.held_partitions() {
            self.status.revoked(&topic, partition);
        }
        work.topics.clear();
    }

    /// Looks for the subscribed topics in the cluster's metadata and reports those missing.
    fn check_topics(&self, consumer: &BaseConsumer<Context>, topics: &[String]) {
        let metadata = match consumer.fetch_metadata(None, Duration::from_secs(2)) {
            Ok(metadata) => metadata,
            Err(error) => {
                debug!(%error, "metadata unavailable; topics checked later");
                return;
            }
        };
        let present: BTreeSet<&str> =
            metadata.topics().iter().filter(|t| t.error().is_none()).map(|t| t.name()).collect();
        let missing: BTreeMap<String, String> = topics
            .iter()
            .filter(|t| !present.contains(t.as_str()))
            .map(|t| (t.clone(), format!("topic '{t}' does not exist")))
            .collect();
        for error in self.status.topic_errors(missing) {
            warn!(group = self.group, "{error}; its records are consumed once it is created");
        }
    }
}

/// A message as a [`Record`], and the bytes it counts for in a batch.
fn record(message: &BorrowedMessage<'_>, max_record_bytes: usize) -> (Record, usize) {
    let key = message.key();
    let payload = message.payload();
    let headers: Vec<(String, Option<Vec<u8>>)> = message
        .headers()
        .map(|headers| headers.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect())
        .unwrap_or_default();
    let len = key.map_or(0, <[u8]>::len)
        + payload.map_or(0, <[u8]>::len)
        + headers.iter().map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len)).sum::<usize>();
    let head = |bytes: &[u8]| bytes[..bytes.len().min(OVERSIZED_HEAD_BYTES)].to_vec();
    let timestamp_ms = message.timestamp().to_millis();
    let (partition, offset) = (message.partition(), message.offset());
    if len > max_record_bytes {
        let record = Record {
            partition,
            offset,
            timestamp_ms,
            key: key.map(head),
            headers: Vec::new(),
            payload: Payload::Oversized { len, head: payload.map(head).unwrap_or_default() },
        };
        return (record, 2 * OVERSIZED_HEAD_BYTES);
    }
    let payload = payload.map_or(Payload::Null, |p| Payload::Bytes(p.to_vec()));
    (Record { partition, offset, timestamp_ms, key: key.map(<[u8]>::to_vec), headers, payload }, len)
}

/// The consumer's thread: polls, commits due batches, and stops when asked or on a fatal error.
fn run_loop(consumer: &BaseConsumer<Context>, config: &Config) -> Result<(), Error> {
    let context = consumer.context();
    let mut topics_checked: Option<Instant> = None;
    loop {
        if let Some(error) = context.work().fatal.take() {
            return Err(error);
        }
        match context.control.state() {
            RUN => {}
            STOP => return context.flush(consumer, false, false),
            _ => {
                context.abandon();
                return Ok(());
            }
        }
        context.seek_marked(consumer);
        let now = Instant::now();
        let timeout = match context.due(config) {
            Some(due) => due.saturating_duration_since(now).min(Duration::from_millis(100)),
            None => Duration::from_millis(100),
        };
        match consumer.poll(timeout) {
            Some(Ok(message)) => context.accept(consumer, &message, config.max_record_bytes),
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(KafkaError::MessageConsumptionFatal(code))) => {
                return Err(Error::Kafka(KafkaError::MessageConsumptionFatal(code)));
            }
            // Errors of the consumer queue reach `ClientContext::error` too, which records them.
            Some(Err(_)) => {}
        }
        while context.oldest_ended() {
            context.settle_oldest(consumer, true)?;
        }
        if context.due(config).is_some_and(|due| due <= Instant::now()) {
            context.flush(consumer, true, true)?;
        }
        let check = std::mem::take(&mut context.work().check_topics);
        let missing = context.status.has_topic_errors();
        let recheck = missing && topics_checked.is_none_or(|at| at.elapsed() >= config.topic_refresh);
        let reachable = context.status.brokers_now() == Brokers::Reachable;
        // Once the brokers answer, the subscription is checked for missing topics.
        if (check || recheck || topics_checked.is_none()) && reachable {
            context.check_topics(consumer, &config.topics);
            topics_checked = Some(Instant::now());
        }
    }
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        // librdkafka logs every failed connection as an error; the consumer's own warnings say what matters.
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                warn!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Warning | RDKafkaLogLevel::Notice => info!(target: "librdkafka", facility, "{message}"),
            RDKafkaLogLevel::Info | RDKafkaLogLevel::Debug => debug!(target: "librdkafka", facility, "{message}"),
        }
    }

    fn stats(&self, statistics: Statistics) {
        for (name, topic) in &statistics.topics {
            for (partition, p) in &topic.partitions {
                if *partition >= 0 {
                    self.status.watermarks(name, *partition, p.lo_offset, p.hi_offset);
                }
            }
        }
        let up =
            statistics.brokers.values().any(|b| b.state == "UP" && b.source != "internal" && b.source != "logical");
        match (up, self.status.brokers_now()) {
            (true, _) => self.status.brokers(Brokers::Reachable),
            (false, Brokers::Reachable) => self.status.brokers(Brokers::Unreachable),
            (false, _) => {}
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        match code {
            Some(RDKafkaErrorCode::AllBrokersDown) => self.status.brokers(Brokers::Unreachable),
            Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
                self.work().check_topics = true;
            }
            _ => {}
        }
        warn!(group = self.group, "kafka: {reason}");
        self.status.error(reason);
    }
}

impl ConsumerContext for Context {
    fn rebalance(&self, consumer: &BaseConsumer<Context>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl, cooperative),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, tpl, cooperative),
            other => {
                let code: RDKafkaErrorCode = other.into();
                error!(group = self.group, %code, "rebalance failed; dropping the assignment");
                self.drop_assignment();
                let _ = consumer.unassign();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_consumer_and_its_status_move_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<super::Consumer>();
        shared::<crate::Status>();
    }
}
