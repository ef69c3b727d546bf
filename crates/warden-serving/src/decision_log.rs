/*!
The decision log: every scored request is appended to the store with group commit, then folded into the live
window profiles.

Durability contract: a decision is acknowledged to the caller only once it is committed (SQLite in WAL mode
with `synchronous=FULL`, or PostgreSQL with synchronous commit), so `SIGKILL` or a power cut loses no
decision that was answered. The writer commits, in one transaction, everything that queued while the
earlier commits ran (as many run at once as the store has decision-log connections: PostgreSQL two, SQLite
one), so concurrent callers share one sync. When the store refuses a commit (a full disk, a
lost connection) after a short retry, every caller of that group is refused (`Unavailable`: the API's 503
with `Retry-After`), nothing of it is kept, and the log reports itself unhealthy, so `/readyz` says not
ready; while unhealthy it tries each new group once and, when idle, rewrites a probe row every second, and
it is healthy again at the first commit that succeeds. Shadow (challenger) decisions are never waited for:
they are dropped, and counted, when the queue is full or their commit fails. On a clean shutdown
(SIGINT/SIGTERM) the server stops taking requests, lets those in flight finish, and [`DecisionLog::flush`]
commits the rest.
*/

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value, json};
use tokio::sync::oneshot::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinError;
use warden_stats::profile::ColumnType;
use warden_stats::reconstruction::{ErrorWindow, ReconstructionModel};
use warden_stats::window::{CategoricalWindow, GroupRateWindow, Mergeable, NumericWindow, TimeBuckets};
use warden_store::metadata::{MetadataStore, NewDecision, StreamCommit, StreamCommitted, StreamTurn};

use crate::metrics::ScoringMetrics;
use crate::protection::Protections;
use crate::{Error, Result};
use warden_registry::binding::Given;
use warden_registry::reference::MonitorReference;
use warden_registry::registry::Version;

/// Decisions waiting for a commit before callers wait for room.
const QUEUE_CAPACITY: usize = 65_536;
/// Most decisions in one transaction (a scoring batch is never split).
const MAX_GROUP: usize = 4_096;
/// Pauses between commit attempts while the log is healthy; a failure after the last one refuses the group.
const RETRY_BACKOFF: [Duration; 2] = [Duration::from_millis(50), Duration::from_millis(250)];
/// While the log cannot commit and no decision arrives, how often it tries the probe row.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// What a refused caller is told to wait before retrying (seconds).
const RETRY_AFTER_SECS: u32 = 1;

/// Hears which of its decisions were new (an ingested decision logged before is skipped), or why the group
/// was refused.
type Waiter = oneshot::Sender<std::result::Result<Vec<bool>, String>>;
type FlushWaiter = oneshot::Sender<std::result::Result<(), String>>;
type StreamWaiter = oneshot::Sender<warden_store::Result<StreamCommitted>>;

enum Message {
    /// Decisions to commit together; the waiter (none for shadow decisions) hears how the commit went.
    Decisions(Vec<(Fold, NewDecision)>, Option<Waiter>),
    /// A stream's batch with its positions, committed in a transaction of its own (its position check may
    /// refuse it, which must not refuse anybody else's decisions); the decisions' profiles in order.
    Stream(Vec<Fold>, StreamCommit, StreamWaiter),
    Flush(FlushWaiter),
}

/// Whether the log can commit, shared between the writer and readiness.
#[derive(Default)]
struct Health {
    failing: AtomicBool,
    last_error: Mutex<String>,
}

/// The queue in front of the store's decision table.
pub struct DecisionLog {
    sender: mpsc::Sender<Message>,
    health: Arc<Health>,
    /// Personal data policies, applied to what is written.
    pub protections: Arc<Protections>,
}

impl DecisionLog {
    /// Starts the writer on its own thread and runtime: serialising and folding a group of thousands of
    /// decisions takes milliseconds, which must not hold up a worker that answers requests.
    pub fn start(
        store: Arc<dyn MetadataStore>,
        metrics: Arc<ScoringMetrics>,
        protections: Arc<Protections>,
    ) -> std::io::Result<DecisionLog> {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let health = Arc::new(Health::default());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let writer_health = health.clone();
        let writer_protections = protections.clone();
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || runtime.block_on(writer(store, receiver, metrics, writer_health, writer_protections)))?;
        Ok(DecisionLog { sender, health, protections })
    }

    /// Why the log cannot commit now, if it cannot.
    pub fn failing(&self) -> Option<String> {
        self.health.failing.load(Ordering::Acquire).then(|| self.health.last_error.lock().expect("health lock").clone())
    }

    /// Commits decisions, returning once they are on disk and folded, with which of them were new (an
    /// ingested decision logged before is skipped, and not folded again): `Unavailable` when the store refused
    /// them (none of them is kept; the caller must not acknowledge them).
    pub(crate) async fn append(&self, decisions: Vec<(Fold, NewDecision)>) -> Result<Vec<bool>> {
        if decisions.is_empty() {
            return Ok(Vec::new());
        }
        let (done, wait) = oneshot::channel();
        self.sender.send(Message::Decisions(decisions, Some(done))).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?.map_err(|cause| Error::Unavailable {
            message: format!("the decision log cannot commit ({cause}); the request was not recorded, retry later"),
            retry_after: Some(RETRY_AFTER_SECS),
        })
    }

    /// Commits a stream's batch (decisions, outcomes, dead records and the positions reached) in one
    /// transaction of its own, returning once it is committed; its decisions are folded into their profiles
    /// right after, while the next batch commits ([`DecisionLog::flush`] waits for the folds). `queued` is
    /// dropped once the batch is queued: the stream's next batch, queued after it, may then be written while
    /// this one is, and its positions move after this one's. The store's error is returned as is: `Conflict`
    /// when a position moved (the consumer re-reads it), anything else when it cannot commit.
    pub(crate) async fn commit_stream(
        &self,
        lives: Vec<Fold>,
        commit: StreamCommit,
        queued: impl Send,
    ) -> Result<StreamCommitted> {
        let (done, wait) = oneshot::channel();
        self.sender.send(Message::Stream(lives, commit, done)).await.map_err(|_| stopped())?;
        drop(queued);
        Ok(wait.await.map_err(|_| stopped())??)
    }

    /// Queues a decision unless the queue is full (shadow traffic must never slow the answer down).
    pub(crate) fn try_append(&self, live: Arc<LiveProfile>, decision: NewDecision) -> bool {
        self.sender.try_send(Message::Decisions(vec![(Fold::of(live), decision)], None)).is_ok()
    }

    /// Returns once every decision queued before the call is committed and folded; an error when a group still
    /// being committed when the call came was refused.
    pub async fn flush(&self) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.sender.send(Message::Flush(done)).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?.map_err(|e| Error::failed("decision log commit failed", e))
    }
}

fn stopped() -> Error {
    Error::failed("the decision log", "its writer has stopped")
}

async fn writer(
    store: Arc<dyn MetadataStore>,
    mut receiver: mpsc::Receiver<Message>,
    metrics: Arc<ScoringMetrics>,
    health: Arc<Health>,
    protections: Arc<Protections>,
) {
    let (mut lives, mut rows): (Vec<Fold>, Vec<NewDecision>) = (Vec::new(), Vec::new());
    // Each waiter with where its decisions start in the group and how many there are.
    let (mut waiters, mut flushes): (Vec<(Waiter, usize, usize)>, Vec<FlushWaiter>) = (Vec::new(), Vec::new());
    // Groups being committed (as many as the store commits at once), each handing its folding on; the folds
    // run on the blocking pool while the next groups commit.
    let in_flight = store.decision_log_connections().max(1);
    let mut commits = Commits::default();
    let mut probe_at = 0i64;
    // Ends when the last stream commit handed on ends: the next one's turn to move positions; and that
    // commit's decision keys.
    let (mut stream_turn, mut stream_keys): (Option<oneshot::Receiver<()>>, HashSet<u64>) = Default::default();
    let key_hasher = std::hash::RandomState::new();
    // A stream batch that came after decisions of the group being gathered: it waits for the next slot.
    let mut held: Option<Message> = None;
    loop {
        // A slot first, then the group: it takes in everything that queued while the earlier commits ran.
        while commits.running.len() >= in_flight {
            commits.reap_one().await;
        }
        let first = if let Some(message) = held.take() {
            Some(message)
        } else if health.failing.load(Ordering::Acquire) {
            match tokio::time::timeout(PROBE_INTERVAL, receiver.recv()).await {
                Ok(message) => message,
                Err(_) => {
                    probe_at += 1;
                    match store.probe_write(probe_at).await {
                        Ok(()) => recovered(&health),
                        Err(err) => *health.last_error.lock().expect("health lock") = err.to_string(),
                    }
                    continue;
                }
            }
        } else {
            receiver.recv().await
        };
        let Some(first) = first else { break };
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                // The group gathered so far takes this slot; the stream batch waits for the next.
                message @ Message::Stream(..) if !rows.is_empty() => {
                    held = Some(message);
                    break;
                }
                Message::Stream(stream_lives, commit, done) => {
                    // Written at once with the stream batch before it (each on a connection of its own); its
                    // positions move once that one's commit has ended. Not when the two share a decision key
                    // (a producer's retry across the batches' boundary): each would wait for the other's
                    // row, one in the database and one here, so this one waits for that one first.
                    let keys = decision_keys(&commit.decisions, &key_hasher);
                    // A receiver that has seen its end must not be awaited again: an ended one is let go.
                    let running = match stream_turn.as_mut().map(oneshot::Receiver::try_recv) {
                        Some(Err(TryRecvError::Empty)) => true,
                        _ => {
                            stream_turn = None;
                            false
                        }
                    };
                    if running && !keys.is_disjoint(&stream_keys) {
                        if let Some(before) = stream_turn.take() {
                            let _ = before.await;
                        }
                    }
                    stream_keys = keys;
                    let (ended, next_turn) = oneshot::channel::<()>();
                    let turn = std::mem::replace(&mut stream_turn, Some(next_turn));
                    let turn: StreamTurn = Box::pin(async move {
                        if let Some(before) = turn {
                            // Ended, or its task is gone: either way the positions are read as stored.
                            let _ = before.await;
                        }
                    });
                    let task = commit_stream(
                        (store.clone(), protections.clone()),
                        metrics.clone(),
                        stream_lives,
                        commit,
                        turn,
                        done,
                        ended,
                    );
                    commits.running.spawn(task);
                    // It takes a slot: the next message waits for one.
                    next = None;
                    continue;
                }
                Message::Decisions(decisions, waiter) => {
                    let (start, count) = (rows.len(), decisions.len());
                    for (live, decision) in decisions {
                        lives.push(live);
                        rows.push(decision);
                    }
                    waiters.extend(waiter.map(|w| (w, start, count)));
                }
                Message::Flush(done) => {
                    // Groups refused before the flush came have told their callers already.
                    commits.forget_ended();
                    flushes.push(done);
                }
            }
            if rows.len() < MAX_GROUP {
                next = receiver.try_recv().ok();
            }
        }
        metrics.log_queue.set(receiver.len() as i64);
        if !rows.is_empty() {
            let group = Group {
                lives: std::mem::take(&mut lives),
                rows: std::mem::take(&mut rows),
                waiters: std::mem::take(&mut waiters),
            };
            let store = (store.clone(), protections.clone());
            commits.running.spawn(commit_group(store, metrics.clone(), health.clone(), group));
        }
        // A flush returns once everything before it is committed and in the windows, with the first refusal
        // among them.
        if !flushes.is_empty() {
            let outcome = commits.settle().await;
            for done in flushes.drain(..) {
                let _ = done.send(outcome.clone());
            }
        }
    }
    let _ = commits.settle().await;
}

/// How a commit ended: its fold, under way (none for a refused stream batch: its consumer hears why), or why
/// the store refused a group.
type CommitEnd = std::result::Result<Option<tokio::task::JoinHandle<()>>, String>;

/// The writer's commits in flight, the folds they handed on, and the first refusal a flush must hear of.
#[derive(Default)]
struct Commits {
    running: tokio::task::JoinSet<CommitEnd>,
    folding: Vec<tokio::task::JoinHandle<()>>,
    refused: Option<String>,
}

impl Commits {
    /// Waits for one commit to end.
    async fn reap_one(&mut self) {
        if let Some(ended) = self.running.join_next().await {
            self.note(ended);
        }
        self.folding.retain(|fold| !fold.is_finished());
    }

    fn note(&mut self, ended: std::result::Result<CommitEnd, JoinError>) {
        match ended {
            Ok(Ok(fold)) => self.folding.extend(fold),
            Ok(Err(refused)) => {
                self.refused.get_or_insert(refused);
            }
            Err(panicked) => {
                // Its callers hear that the writer stopped (their answer channel is gone); the flush hears it too.
                tracing::error!(error = %panicked, "a decision log commit panicked");
                self.refused.get_or_insert(format!("a commit panicked: {panicked}"));
            }
        }
    }

    /// Takes in the commits that have ended and forgets their refusals.
    fn forget_ended(&mut self) {
        while let Some(ended) = self.running.try_join_next() {
            self.note(ended);
        }
        self.refused = None;
    }

    /// Waits for every commit and fold; the first refusal among the commits that ended since the last
    /// [`Commits::forget_ended`], if any.
    async fn settle(&mut self) -> std::result::Result<(), String> {
        while let Some(ended) = self.running.join_next().await {
            self.note(ended);
        }
        for fold in self.folding.drain(..) {
            let _ = fold.await;
        }
        self.refused.take().map_or(Ok(()), Err)
    }
}

/// A hash of each decision's key in the log (model, version, request id), by the writer's one `state`: two
/// stream batches sharing one must not be written at once.
fn decision_keys(decisions: &[NewDecision], state: &std::hash::RandomState) -> HashSet<u64> {
    use std::hash::{BuildHasher, Hash, Hasher};
    decisions
        .iter()
        .map(|d| {
            let mut hasher = state.build_hasher();
            (&d.model_name, d.version, &d.request_id).hash(&mut hasher);
            hasher.finish()
        })
        .collect()
}

/// Folds decisions into their profiles, taking a profile's lock once for each run of decisions sharing it
/// (a batch is mostly one version's), not once per decision.
fn fold_all<'a>(decisions: impl Iterator<Item = (&'a Fold, &'a NewDecision)>) {
    let mut decisions = decisions.peekable();
    while let Some((fold, first)) = decisions.next() {
        let Some(live) = &fold.live else { continue };
        let mut state = live.state.lock().expect("live profile lock");
        live.fold_locked(&mut state, first, fold.given.as_deref());
        while let Some((next_fold, next)) =
            decisions.next_if(|(other, _)| other.live.as_ref().is_some_and(|l| Arc::ptr_eq(l, live)))
        {
            live.fold_locked(&mut state, next, next_fold.given.as_deref());
        }
    }
}

/// Where a decision is folded once it is logged: its version's live profile, with the decision's features
/// in the profile's order when they were read straight from a record's text (the decision's `features` is
/// then not an object, and the fold reads these instead).
pub(crate) struct Fold {
    /// `None`: the decision is in no live window (a fallback answered while the model was suspended).
    pub(crate) live: Option<Arc<LiveProfile>>,
    pub(crate) given: Option<Vec<Given>>,
}

impl Fold {
    /// A decision whose `features` object the fold reads.
    pub(crate) fn of(live: Arc<LiveProfile>) -> Fold {
        Fold { live: Some(live), given: None }
    }

    /// A decision folded into no live window.
    pub(crate) fn none() -> Fold {
        Fold { live: None, given: None }
    }
}

/// Commits a stream's batch, its positions moving after `turn`; `ended` is dropped once its commit has ended
/// (the next stream batch's turn). Committed, its decisions are folded on the blocking pool while the next
/// batch commits (a flush, and so every monitor round, waits for the fold).
async fn commit_stream(
    (store, protections): (Arc<dyn MetadataStore>, Arc<Protections>),
    metrics: Arc<ScoringMetrics>,
    lives: Vec<Fold>,
    commit: StreamCommit,
    turn: StreamTurn,
    done: StreamWaiter,
    ended: oneshot::Sender<()>,
) -> CommitEnd {
    let outcome = match protections.protect(store.as_ref(), &commit.decisions).await {
        Ok(None) => store.commit_stream_after(&commit, turn).await,
        Ok(Some(decisions)) => {
            let protected = StreamCommit { decisions, ..commit.clone() };
            store.commit_stream_after(&protected, turn).await
        }
        Err(err) => Err(err),
    };
    drop(ended);
    let fold = outcome.as_ref().ok().map(|committed| {
        metrics.log_committed.inc_by(committed.decisions);
        let new = committed.new_decisions.clone();
        let mut decisions = commit.decisions;
        protections.strip_identifiers(&mut decisions);
        tokio::task::spawn_blocking(move || {
            let decisions = lives.iter().zip(&decisions).zip(&new);
            fold_all(decisions.filter(|(_, new)| **new).map(|(d, _)| d));
        })
    });
    let _ = done.send(outcome);
    Ok(fold)
}

/// Decisions committed in one transaction, with their profiles and who waits for them.
struct Group {
    lives: Vec<Fold>,
    rows: Vec<NewDecision>,
    waiters: Vec<(Waiter, usize, usize)>,
}

/// Commits a group; once committed, folds it on the blocking pool (returned: a flush waits for it) and its
/// callers hear once it is folded, so what they read next includes it. Refused: every caller is told, and so
/// is the next flush.
async fn commit_group(
    (store, protections): (Arc<dyn MetadataStore>, Arc<Protections>),
    metrics: Arc<ScoringMetrics>,
    health: Arc<Health>,
    group: Group,
) -> CommitEnd {
    let Group { lives, mut rows, waiters } = group;
    let retries: &[Duration] = if health.failing.load(Ordering::Acquire) { &[] } else { &RETRY_BACKOFF };
    match commit(store.as_ref(), &protections, &rows, retries).await {
        Ok(new) => {
            protections.strip_identifiers(&mut rows);
            recovered(&health);
            metrics.log_committed.inc_by(new.iter().filter(|n| **n).count() as u64);
            // Pinned decisions (people testing a version) are logged but never count as production, and a
            // decision skipped as logged before is not counted twice.
            Ok(Some(tokio::task::spawn_blocking(move || {
                let group = lives.iter().zip(&rows).zip(&new);
                fold_all(group.filter(|((_, d), n)| **n && d.route != "pinned").map(|(d, _)| d));
                for (done, start, count) in waiters {
                    let _ = done.send(Ok(new[start..start + count].to_vec()));
                }
            })))
        }
        Err(err) => {
            *health.last_error.lock().expect("health lock") = err.clone();
            if !health.failing.swap(true, Ordering::AcqRel) {
                tracing::error!(error = %err, "the decision log cannot commit: scoring answers 503");
            }
            // Callers are told; only decisions nobody waits for (shadow) are lost.
            let unacknowledged = rows.iter().filter(|d| d.route != "shadow").count();
            metrics.log_refused.inc_by(unacknowledged as u64);
            metrics.log_lost.inc_by((rows.len() - unacknowledged) as u64);
            for (done, _, _) in waiters {
                let _ = done.send(Err(err.clone()));
            }
            Err(err)
        }
    }
}

fn recovered(health: &Health) {
    if health.failing.swap(false, Ordering::AcqRel) {
        tracing::info!("the decision log commits again");
    }
}

async fn commit(
    store: &dyn MetadataStore,
    protections: &Protections,
    rows: &[NewDecision],
    retries: &[Duration],
) -> std::result::Result<Vec<bool>, String> {
    let mut last = String::new();
    // Protected once: a retry writes the same tokens and ciphertext.
    let mut protected: Option<Option<Vec<NewDecision>>> = None;
    for pause in std::iter::once(Duration::ZERO).chain(retries.iter().copied()) {
        tokio::time::sleep(pause).await;
        if protected.is_none() {
            match protections.protect(store, rows).await {
                Ok(done) => protected = Some(done),
                Err(err) => {
                    tracing::warn!(error = %err, rows = rows.len(), "decision log commit failed");
                    last = err.to_string();
                    continue;
                }
            }
        }
        let written = protected.as_ref().and_then(|p| p.as_deref()).unwrap_or(rows);
        match store.insert_decisions(written).await {
            Ok(new) => return Ok(new),
            Err(err) => {
                tracing::warn!(error = %err, rows = rows.len(), "decision log commit failed");
                last = err.to_string();
            }
        }
    }
    Err(last)
}

/// How one feature is binned, from the version's reference profile.
#[derive(Debug, Clone)]
struct LiveFeature {
    name: String,
    /// Reference decile edges and range (numeric features).
    numeric: Option<(Vec<f64>, (f64, f64))>,
}

/// One feature's window.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum FeatureWindow {
    Numeric(NumericWindow),
    Categorical(CategoricalWindow),
}

/// Every window of a version over some stretch of decisions: all of them, or one time bucket.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiveWindows {
    pub(crate) features: Vec<FeatureWindow>,
    /// Scores, on the reference scores' deciles.
    pub score: NumericWindow,
    /// A multiclass classifier's decisions per class, in its class order (empty for other models).
    #[serde(default)]
    pub classes: Vec<u64>,
    /// Approvals (score below the threshold) per group of each monitor-only attribute.
    pub approvals: BTreeMap<String, GroupRateWindow>,
    /// Approved decisions.
    pub approved: u64,
    /// Σ PD × LGD × EAD over approved decisions (when the version has an LGD and an exposure column).
    pub expected_loss: f64,
    /// Approved decisions without an exposure value.
    pub exposure_missing: u64,
    /// Requests refused by the version's schema checks (never logged as decisions), and per field.
    pub refused: u64,
    pub refused_fields: BTreeMap<String, u64>,
    /// Reconstruction errors per installed multivariate model (by its key), from the moment it was installed.
    #[serde(default)]
    pub reconstruction: BTreeMap<String, ErrorWindow>,
    /// Per installed segmentation (by attribute), per segment: the windows of its decisions (features and
    /// score, bins only), from the moment it was installed.
    #[serde(default)]
    pub segments: BTreeMap<String, BTreeMap<String, SegmentWindows>>,
}

/// One segment's decisions and their windows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentWindows {
    pub decisions: u64,
    pub windows: LiveWindows,
}

impl Mergeable for LiveWindows {
    fn merge_from(&mut self, other: &Self) {
        for (mine, theirs) in self.features.iter_mut().zip(&other.features) {
            match (mine, theirs) {
                (FeatureWindow::Numeric(a), FeatureWindow::Numeric(b)) => a.merge(b),
                (FeatureWindow::Categorical(a), FeatureWindow::Categorical(b)) => a.merge(b),
                _ => unreachable!("windows of one version have one shape"),
            }
        }
        self.score.merge(&other.score);
        if self.classes.len() < other.classes.len() {
            self.classes.resize(other.classes.len(), 0);
        }
        for (mine, theirs) in self.classes.iter_mut().zip(&other.classes) {
            *mine += theirs;
        }
        for (name, window) in &other.approvals {
            self.approvals.entry(name.clone()).or_default().merge_from(window);
        }
        self.approved += other.approved;
        self.expected_loss += other.expected_loss;
        self.exposure_missing += other.exposure_missing;
        self.refused += other.refused;
        for (field, n) in &other.refused_fields {
            *self.refused_fields.entry(field.clone()).or_default() += n;
        }
        for (key, window) in &other.reconstruction {
            self.reconstruction.entry(key.clone()).or_default().merge(window);
        }
        for (attribute, segments) in &other.segments {
            let mine = self.segments.entry(attribute.clone()).or_default();
            for (segment, theirs) in segments {
                match mine.get_mut(segment) {
                    Some(w) => {
                        w.decisions += theirs.decisions;
                        w.windows.merge_from(&theirs.windows);
                    }
                    None => {
                        mine.insert(segment.clone(), theirs.clone());
                    }
                }
            }
        }
    }
}

/// Another replica's bucket of a version: (start, decisions, windows).
pub type RemoteBucket = (i64, u64, LiveWindows);

/// Width of a recent-traffic bucket, in microseconds.
pub const BUCKET_MICROS: i64 = 10_000_000;
/// Buckets kept: one hour of recent traffic.
const BUCKETS_KEPT: usize = 360;
/// How far back the live windows reach; an older decision is late for them.
pub const LIVE_SPAN_MICROS: i64 = BUCKET_MICROS * BUCKETS_KEPT as i64;
/// Monitor-only attributes folded per decision (further ones are logged, not windowed).
const MAX_ATTRIBUTES: usize = 16;
/// Multivariate models one version folds (each costs every decision a projection).
pub const MAX_RECONSTRUCTIONS: usize = 4;

/// Segmentations one version folds (each keeps a window per segment in every bucket).
pub const MAX_SEGMENTATIONS: usize = 4;
/// Most segments of one segmentation with windows of their own; the values beyond share one.
pub const MAX_SEGMENTS: usize = 50;
/// The segment of values beyond a segmentation's own.
pub const OTHER_SEGMENT: &str = "(other)";
/// The segment of decisions without a value of the attribute.
pub const MISSING_SEGMENT: &str = "(missing)";

/// Decisions split by the value of an attribute or feature: the first `max` values seen (the reference's
/// most frequent first) get windows of their own, later ones share [`OTHER_SEGMENT`].
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    pub attribute: String,
    pub max: usize,
    known: Vec<String>,
}

impl Segmentation {
    /// A segmentation by `attribute` with its first segments already named (at most `max` of them taken).
    pub fn new(attribute: &str, max: usize, mut seeded: Vec<String>) -> Segmentation {
        seeded.truncate(max);
        Segmentation { attribute: attribute.to_owned(), max, known: seeded }
    }

    /// The segment of a value, naming a new one while there is room when `grow`.
    fn segment(&mut self, value: Option<&str>, grow: bool) -> String {
        let value = value.unwrap_or(MISSING_SEGMENT);
        if self.known.iter().any(|k| k == value) {
            return value.to_owned();
        }
        if grow && self.known.len() < self.max {
            self.known.push(value.to_owned());
            return value.to_owned();
        }
        OTHER_SEGMENT.to_owned()
    }
}

/// What each decision folds besides the version's own windows, installed by the monitors that read it.
#[derive(Debug, Clone, Default)]
struct Extras {
    reconstructions: Vec<InstalledReconstruction>,
    segmentations: Vec<Segmentation>,
}

/// A multivariate drift model whose reconstruction error each decision adds to the windows.
#[derive(Debug, Clone)]
struct InstalledReconstruction {
    key: String,
    model: Arc<ReconstructionModel>,
    /// The position among the profile's features of each of the model's columns.
    columns: Vec<usize>,
}

#[derive(Debug)]
struct LiveState {
    decisions: u64,
    by_decision: BTreeMap<String, u64>,
    by_route: BTreeMap<String, u64>,
    /// Every decision since the version was loaded.
    total: LiveWindows,
    /// The last hour, in 10-second buckets (what monitors read).
    recent: TimeBuckets<LiveWindows>,
    first_at: Option<i64>,
    last_at: Option<i64>,
    /// What each bucket held when it was last published for other replicas: (decisions, refusals).
    published: BTreeMap<i64, (u64, u64)>,
    /// Multivariate models and segmentations folded, installed by the monitors that read them.
    extras: Extras,
}

/// A value as the windows take it: a number, a text, or neither (missing, null, anything else).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell<'a> {
    Number(f64),
    Text(&'a str),
    Neither,
}

impl<'a> Cell<'a> {
    fn of(value: Option<&'a Value>) -> Cell<'a> {
        match value {
            Some(Value::Number(n)) => n.as_f64().map_or(Cell::Neither, Cell::Number),
            Some(Value::String(s)) => Cell::Text(s),
            _ => Cell::Neither,
        }
    }

    fn given(value: &'a Given) -> Cell<'a> {
        match value {
            Given::Number(x) => Cell::Number(*x),
            Given::Text(s) => Cell::Text(s),
            Given::Absent | Given::Null | Given::Other(_) => Cell::Neither,
        }
    }

    fn number(self) -> Option<f64> {
        match self {
            Cell::Number(x) => Some(x),
            _ => None,
        }
    }

    fn text(self) -> Option<&'a str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// One scored row as the windows read it: a logged decision, or a reference row replayed.
trait RowView {
    fn value(&self, feature: &str) -> Option<&Value>;
    fn score(&self) -> f64;
    /// Each monitor-only attribute and the row's group of it.
    fn attributes(&self) -> Vec<(&str, Cow<'_, str>)>;
    /// The row's value of a feature or attribute as a group name (a segment).
    fn group_of(&self, name: &str) -> Option<Cow<'_, str>>;
    /// A multiclass classifier's decided class.
    fn class(&self) -> Option<usize>;
}

impl RowView for NewDecision {
    fn value(&self, feature: &str) -> Option<&Value> {
        self.features.get(feature).or_else(|| self.attributes.get(feature))
    }
    fn score(&self) -> f64 {
        self.score
    }
    fn attributes(&self) -> Vec<(&str, Cow<'_, str>)> {
        let Some(attributes) = self.attributes.as_object() else { return Vec::new() };
        attributes
            .iter()
            .take(MAX_ATTRIBUTES)
            .filter_map(|(name, value)| Some((name.as_str(), group(value)?)))
            .collect()
    }
    fn group_of(&self, name: &str) -> Option<Cow<'_, str>> {
        self.value(name).and_then(group)
    }
    fn class(&self) -> Option<usize> {
        warden_models::predicted_class(&self.probabilities)
    }
}

/// A monitor-only attribute's value as a group name (text, number or boolean; anything else is no group).
fn group(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// A reference row with its score, and the reference columns that play the monitor-only attributes.
struct ReferenceRow<'a> {
    reference: &'a MonitorReference,
    row: usize,
    features: Map<String, Value>,
    attributes: &'a [String],
}

impl RowView for ReferenceRow<'_> {
    fn value(&self, feature: &str) -> Option<&Value> {
        self.features.get(feature)
    }
    fn score(&self) -> f64 {
        self.reference.scores[self.row]
    }
    fn attributes(&self) -> Vec<(&str, Cow<'_, str>)> {
        let mut groups = Vec::with_capacity(self.attributes.len());
        for name in self.attributes {
            if let Some(group) = self.reference.text(name, self.row) {
                groups.push((name.as_str(), Cow::Owned(group)));
            }
        }
        groups
    }
    fn group_of(&self, name: &str) -> Option<Cow<'_, str>> {
        self.reference.text(name, self.row).map(Cow::Owned)
    }
    fn class(&self) -> Option<usize> {
        warden_models::predicted_class(self.reference.probabilities.get(self.row)?)
    }
}

/// A row's values as the windows take them: the features in the profile's order, the monitor-only groups,
/// and the exposure (read only when the version prices approvals; `Some(None)`: missing or not finite).
struct RowValues<'a> {
    score: f64,
    class: Option<usize>,
    features: Vec<Cell<'a>>,
    groups: Vec<(&'a str, Cow<'a, str>)>,
    exposure: Option<Option<f64>>,
}

/// Adds one to `key`'s count, allocating the key only the first time it is seen.
fn count(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// The live window profile of one version: the statistics core's windows, fed by committed decisions.
#[derive(Debug)]
pub struct LiveProfile {
    features: Vec<LiveFeature>,
    score_bins: (Vec<f64>, (f64, f64)),
    /// The reference scores in the score bins.
    pub reference_score_counts: Vec<u64>,
    /// A multiclass classifier's reference rows per decided class (empty for other models).
    pub reference_class_counts: Vec<u64>,
    threshold: f64,
    /// LGD and exposure column, when the version can price its approvals.
    money: Option<(f64, String)>,
    /// The position among `features` of the exposure column, when it is a feature.
    exposure_feature: Option<usize>,
    empty: LiveWindows,
    state: Mutex<LiveState>,
}

impl LiveProfile {
    pub fn new(version: &Version, reference: &MonitorReference) -> LiveProfile {
        let features: Vec<LiveFeature> = version
            .feature_schema
            .iter()
            .map(|f| LiveFeature {
                name: f.name.clone(),
                numeric: (f.kind == ColumnType::Numeric).then(|| {
                    crate::scoring::reference_bins(version, &f.name)
                        .unwrap_or((Vec::new(), (f64::NEG_INFINITY, f64::INFINITY)))
                }),
            })
            .collect();
        let score_bins = (reference.score_edges.clone(), reference.score_range);
        let mut reference_scores = NumericWindow::new(score_bins.0.len());
        for &score in &reference.scores {
            reference_scores.add(score, &score_bins.0, score_bins.1);
        }
        let empty = LiveWindows {
            features: features
                .iter()
                .map(|f| match &f.numeric {
                    Some((edges, _)) => FeatureWindow::Numeric(NumericWindow::new(edges.len())),
                    None => FeatureWindow::Categorical(CategoricalWindow::default()),
                })
                .collect(),
            score: NumericWindow::new(score_bins.0.len()),
            classes: vec![0; version.serving.classes.len()],
            approvals: BTreeMap::new(),
            approved: 0,
            expected_loss: 0.0,
            exposure_missing: 0,
            refused: 0,
            refused_fields: BTreeMap::new(),
            reconstruction: BTreeMap::new(),
            segments: BTreeMap::new(),
        };
        let serving = &version.serving;
        let exposure_feature =
            serving.exposure_column.as_ref().and_then(|column| features.iter().position(|f| f.name == *column));
        LiveProfile {
            features,
            score_bins,
            reference_score_counts: reference_scores.bin_counts,
            reference_class_counts: {
                let mut counts = vec![0; version.serving.classes.len()];
                for class in reference.probabilities.iter().filter_map(|p| warden_models::predicted_class(p)) {
                    if let Some(n) = counts.get_mut(class) {
                        *n += 1;
                    }
                }
                counts
            },
            threshold: serving.threshold,
            money: serving.lgd.zip(serving.exposure_column.clone()),
            exposure_feature,
            state: Mutex::new(LiveState {
                decisions: 0,
                by_decision: Default::default(),
                by_route: Default::default(),
                recent: TimeBuckets::new(BUCKET_MICROS, BUCKETS_KEPT, empty.clone()),
                total: empty.clone(),
                first_at: None,
                last_at: None,
                published: BTreeMap::new(),
                extras: Extras::default(),
            }),
            empty,
        }
    }

    /// What the windows take from a row, read once (a decision goes into its running totals and its bucket).
    fn read<'a>(&self, row: &'a dyn RowView) -> RowValues<'a> {
        let exposure = self.money.as_ref().map(|(_, column)| row.value(column).and_then(Value::as_f64));
        RowValues {
            score: row.score(),
            class: row.class(),
            features: self.features.iter().map(|f| Cell::of(row.value(f.name.as_str()))).collect(),
            groups: row.attributes(),
            exposure: exposure.map(|e| e.filter(|v| v.is_finite())),
        }
    }

    /// [`LiveProfile::read`] of a decision whose features were read into the profile's order (`given`): a
    /// feature it does not give is looked for among its attributes, as for any decision.
    fn read_given<'a>(&self, decision: &'a NewDecision, given: &'a [Given]) -> RowValues<'a> {
        let attribute = |name: &str| decision.attributes.get(name);
        let features: Vec<Cell> = self
            .features
            .iter()
            .zip(given)
            .map(|(f, g)| match g {
                Given::Absent => Cell::of(attribute(&f.name)),
                g => Cell::given(g),
            })
            .collect();
        // The exposure as its feature's cell was read (from the features, else the attributes).
        let exposure = self.money.as_ref().map(|(_, column)| match self.exposure_feature {
            Some(i) => features[i].number(),
            None => attribute(column).and_then(Value::as_f64),
        });
        RowValues {
            score: decision.score,
            class: decision.class(),
            features,
            groups: decision.attributes(),
            exposure: exposure.map(|e| e.filter(|v| v.is_finite())),
        }
    }

    /// Each installed multivariate model's reconstruction error of a row (computed once per decision).
    fn errors_of(extras: &Extras, row: &RowValues) -> Vec<f64> {
        let mut scratch = Vec::new();
        extras
            .reconstructions
            .iter()
            .map(|installed| {
                installed.model.row_error(&mut scratch, |j| match row.features[installed.columns[j]] {
                    Cell::Number(x) => warden_stats::reconstruction::Cell::Number(x),
                    Cell::Text(s) => warden_stats::reconstruction::Cell::Text(s),
                    Cell::Neither => warden_stats::reconstruction::Cell::Missing,
                })
            })
            .collect()
    }

    /// Folds a row into `windows`, and into its segment's windows of each segmentation (`segments`: the row's
    /// segment of each, in order), with its reconstruction error under each installed model (`errors`).
    fn add(&self, windows: &mut LiveWindows, row: &RowValues, extras: &Extras, segments: &[String], errors: &[f64]) {
        for (segmentation, segment) in extras.segmentations.iter().zip(segments) {
            let of_attribute = match windows.segments.get_mut(&segmentation.attribute) {
                Some(s) => s,
                None => windows.segments.entry(segmentation.attribute.clone()).or_default(),
            };
            let window = match of_attribute.get_mut(segment) {
                Some(w) => w,
                None => of_attribute
                    .entry(segment.clone())
                    .or_insert_with(|| SegmentWindows { decisions: 0, windows: self.empty.clone() }),
            };
            window.decisions += 1;
            self.add_features(&mut window.windows, row, false);
        }
        for (installed, &error) in extras.reconstructions.iter().zip(errors) {
            match windows.reconstruction.get_mut(&installed.key) {
                Some(w) => w.add(error),
                None => windows.reconstruction.entry(installed.key.clone()).or_default().add(error),
            }
        }
        self.add_features(windows, row, true);
        // A multiclass classifier decides classes: it approves nothing.
        if row.class.is_some() {
            return;
        }
        let score = row.score;
        let approved = score < self.threshold;
        for (name, group) in &row.groups {
            match windows.approvals.get_mut(*name) {
                Some(w) => w.add(group, approved),
                None => windows.approvals.entry((*name).to_owned()).or_default().add(group, approved),
            }
        }
        if approved {
            windows.approved += 1;
            if let (Some((lgd, _)), Some(exposure)) = (&self.money, row.exposure) {
                match exposure {
                    Some(exposure) => windows.expected_loss += score * lgd * exposure,
                    None => windows.exposure_missing += 1,
                }
            }
        }
    }

    /// Folds the row's score and features (with the quantile sketches when `sketch`).
    fn add_features(&self, windows: &mut LiveWindows, row: &RowValues, sketch: bool) {
        let add = |w: &mut NumericWindow, value: f64, edges: &[f64], range: (f64, f64)| {
            if sketch {
                w.add(value, edges, range)
            } else {
                w.add_unsketched(value, edges, range);
            }
        };
        add(&mut windows.score, row.score, &self.score_bins.0, self.score_bins.1);
        if let Some(n) = row.class.and_then(|class| windows.classes.get_mut(class)) {
            *n += 1;
        }
        for ((feature, window), value) in self.features.iter().zip(&mut windows.features).zip(&row.features) {
            match (window, &feature.numeric) {
                (FeatureWindow::Numeric(w), Some((edges, range))) => {
                    add(w, value.number().unwrap_or(f64::NAN), edges, *range)
                }
                (FeatureWindow::Categorical(w), _) => w.add(value.text()),
                (FeatureWindow::Numeric(_), None) => unreachable!("numeric windows are made for numeric features"),
            }
        }
    }

    /// The row's segment of each segmentation, naming new segments while there is room when `grow`.
    fn segments_of(segmentations: &mut [Segmentation], row: &dyn RowView, grow: bool) -> Vec<String> {
        segmentations.iter_mut().map(|s| s.segment(row.group_of(&s.attribute).as_deref(), grow)).collect()
    }

    fn fold_locked(&self, state: &mut LiveState, decision: &NewDecision, given: Option<&[Given]>) {
        state.decisions += 1;
        count(&mut state.by_decision, &decision.decision);
        count(&mut state.by_route, &decision.route);
        state.first_at = Some(state.first_at.map_or(decision.at, |t| t.min(decision.at)));
        state.last_at = Some(state.last_at.map_or(decision.at, |t| t.max(decision.at)));
        let row = match given {
            Some(given) if given.len() == self.features.len() => self.read_given(decision, given),
            _ => self.read(decision),
        };
        let segments = Self::segments_of(&mut state.extras.segmentations, decision, true);
        let errors = Self::errors_of(&state.extras, &row);
        self.add(&mut state.total, &row, &state.extras, &segments, &errors);
        if let Some(bucket) = state.recent.record(decision.at) {
            self.add(bucket, &row, &state.extras, &segments, &errors);
        }
    }

    /// Counts a request the version's schema checks refused, by the fields named in the refusal.
    pub fn refused<'a>(&self, at: i64, fields: impl Iterator<Item = &'a String>) {
        let mut guard = self.state.lock().expect("live profile lock");
        let state = &mut *guard;
        let fields: Vec<&String> = fields.collect();
        let count = |w: &mut LiveWindows| {
            w.refused += 1;
            for field in &fields {
                *w.refused_fields.entry((*field).clone()).or_default() += 1;
            }
        };
        count(&mut state.total);
        if let Some(bucket) = state.recent.window_at(at) {
            count(bucket);
        }
    }

    /// The windows of reference rows `rows` (scored by the version), with `attributes` naming the reference
    /// columns that play monitor-only attributes: what live traffic exactly like the reference would give.
    pub fn reference_windows(
        &self,
        reference: &MonitorReference,
        rows: std::ops::Range<usize>,
        attributes: &[String],
    ) -> LiveWindows {
        let mut windows = self.empty.clone();
        let mut extras = self.extras();
        for row in rows {
            let view = ReferenceRow { reference, row, features: reference.row(row), attributes };
            let segments = Self::segments_of(&mut extras.segmentations, &view, false);
            let row = self.read(&view);
            let errors = Self::errors_of(&extras, &row);
            self.add(&mut windows, &row, &extras, &segments, &errors);
        }
        windows
    }

    /// Windows of decisions read back from the log (a late period's revision), as the live fold would have
    /// built them; pinned decisions are left out as the fold leaves them out.
    pub fn decision_windows(&self, decisions: &[NewDecision]) -> LiveWindows {
        let mut windows = self.empty.clone();
        let mut extras = self.extras();
        for decision in decisions.iter().filter(|d| d.route != "pinned") {
            let segments = Self::segments_of(&mut extras.segmentations, decision, false);
            let row = self.read(decision);
            let errors = Self::errors_of(&extras, &row);
            self.add(&mut windows, &row, &extras, &segments, &errors);
        }
        windows
    }

    fn extras(&self) -> Extras {
        self.state.lock().expect("live profile lock").extras.clone()
    }

    /// Splits the windows by `segmentation` from now on (installing the same attribute again changes nothing;
    /// the first installed keeps its segments). Refused when the version splits by [`MAX_SEGMENTATIONS`]
    /// attributes already.
    pub fn install_segmentation(&self, segmentation: Segmentation) -> std::result::Result<(), String> {
        let mut state = self.state.lock().expect("live profile lock");
        let installed = &mut state.extras.segmentations;
        if installed.iter().any(|s| s.attribute == segmentation.attribute) {
            return Ok(());
        }
        if installed.len() >= MAX_SEGMENTATIONS {
            return Err(format!("the version is split by {MAX_SEGMENTATIONS} attributes already"));
        }
        installed.push(segmentation);
        Ok(())
    }

    /// Folds a multivariate model's reconstruction error into the windows from now on, under `key` (installing
    /// the same key again changes nothing). Refused when a column is not a feature, or when the version folds
    /// [`MAX_RECONSTRUCTIONS`] models already.
    pub fn install_reconstruction(
        &self,
        key: &str,
        model: Arc<ReconstructionModel>,
    ) -> std::result::Result<(), String> {
        let columns = model
            .names()
            .iter()
            .map(|name| {
                self.features.iter().position(|f| f.name == *name).ok_or_else(|| format!("'{name}' is not a feature"))
            })
            .collect::<std::result::Result<Vec<usize>, String>>()?;
        let mut state = self.state.lock().expect("live profile lock");
        if state.extras.reconstructions.iter().any(|r| r.key == key) {
            return Ok(());
        }
        if state.extras.reconstructions.len() >= MAX_RECONSTRUCTIONS {
            return Err(format!(
                "the version folds {MAX_RECONSTRUCTIONS} multivariate models already (one per distinct feature list)"
            ));
        }
        state.extras.reconstructions.push(InstalledReconstruction { key: key.to_owned(), model, columns });
        Ok(())
    }

    /// The windows of the decisions made at or after `since` (µs), and how many decisions they hold, with
    /// `others` (other replicas' buckets of this version) merged in.
    pub fn since(&self, since: i64, others: &[RemoteBucket]) -> (LiveWindows, u64) {
        self.with_others(others, |buckets| buckets.since(since))
    }

    /// The windows of the newest 10-second buckets holding at least `decisions` decisions, how many they
    /// hold, and the start of the oldest bucket taken, with `others` merged in.
    pub fn last(&self, decisions: u64, others: &[RemoteBucket]) -> (LiveWindows, u64, Option<i64>) {
        self.with_others(others, |buckets| buckets.last(decisions))
    }

    /// Reads this process's recent buckets, with `others` merged into a copy when there are any (the copy is
    /// made under the lock, the merge after it, so the decision-log writer waits only for the copy).
    fn with_others<T>(&self, others: &[RemoteBucket], read: impl FnOnce(&TimeBuckets<LiveWindows>) -> T) -> T {
        let state = self.state.lock().expect("live profile lock");
        if others.is_empty() {
            return read(&state.recent);
        }
        let mut all = state.recent.clone();
        drop(state);
        for (start, decisions, windows) in others {
            all.add_bucket(*start, *decisions, windows);
        }
        read(&all)
    }

    /// Makes every kept bucket count as changed (after publishing them failed).
    pub(crate) fn forget_published(&self) {
        self.state.lock().expect("live profile lock").published.clear();
    }

    /// The buckets that changed since the last call (for other replicas' monitors), and the start of the
    /// oldest bucket still kept.
    pub(crate) fn changed_buckets(&self) -> (Vec<RemoteBucket>, Option<i64>) {
        let mut state = self.state.lock().expect("live profile lock");
        let state = &mut *state;
        let mut changed = Vec::new();
        let mut oldest = None;
        for (start, count, windows) in state.recent.buckets() {
            oldest.get_or_insert(*start);
            let now = (*count, windows.refused);
            if state.published.get(start) != Some(&now) {
                state.published.insert(*start, now);
                changed.push((*start, *count, windows.clone()));
            }
        }
        if let Some(oldest) = oldest {
            state.published.retain(|start, _| *start >= oldest);
        }
        (changed, oldest)
    }

    /// Names of the features, in window order.
    pub fn feature_names(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|f| f.name.as_str())
    }

    /// The windows as JSON.
    pub(crate) fn snapshot(&self) -> Value {
        let state = self.state.lock().expect("live profile lock");
        let features: serde_json::Map<String, Value> = self
            .features
            .iter()
            .zip(&state.total.features)
            .map(|(f, w)| match w {
                FeatureWindow::Numeric(window) => (f.name.clone(), json!({"type": "numeric", "window": window})),
                FeatureWindow::Categorical(window) => {
                    (f.name.clone(), json!({"type": "categorical", "window": window}))
                }
            })
            .collect();
        json!({
            "decisions": state.decisions,
            "by_decision": state.by_decision,
            "by_route": state.by_route,
            "first_at": state.first_at,
            "last_at": state.last_at,
            "score": state.total.score,
            "approved": state.total.approved,
            "refused": state.total.refused,
            "refused_fields": state.total.refused_fields,
            "approvals": state.total.approvals,
            "features": features,
        })
    }
}
