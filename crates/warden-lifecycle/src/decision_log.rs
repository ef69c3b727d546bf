/*!
The decision log: every scored request is appended to the store with group commit, then folded into the live
window profiles.

Durability contract: a decision is acknowledged to the caller once it is queued, not once it is on disk. The
writer commits whatever has queued while the previous commit ran, in one transaction (SQLite, WAL,
`synchronous=FULL`), so on a power cut or `SIGKILL` the decisions of the commit in progress and of the queue
behind it (typically the last few milliseconds of traffic) may be lost. On a clean shutdown (SIGINT/SIGTERM)
nothing is lost: the server stops taking requests, lets those in flight finish, and [`DecisionLog::flush`]
commits the queue before the process exits. The queue is bounded, so a slow disk slows callers down instead
of dropping decisions; only shadow (challenger) decisions are dropped, and counted, when it is full.
*/

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use warden_stats::profile::ColumnType;
use warden_stats::window::{CategoricalWindow, Mergeable, NumericWindow, TimeBuckets};
use warden_store::metadata::{MetadataStore, NewDecision};

use crate::metrics::ScoringMetrics;
use crate::registry::Version;
use crate::{Error, Result};

/// Decisions waiting for a commit before callers wait for room.
const QUEUE_CAPACITY: usize = 65_536;
/// Most decisions in one transaction.
const MAX_GROUP: usize = 4_096;
/// Pauses between commit attempts when the store fails.
const RETRY_BACKOFF: [Duration; 3] = [Duration::from_millis(50), Duration::from_millis(250), Duration::from_secs(1)];

enum Message {
    Decision(Arc<LiveProfile>, NewDecision),
    Flush(oneshot::Sender<std::result::Result<(), String>>),
}

/// The queue in front of the store's decision table.
pub(crate) struct DecisionLog {
    sender: mpsc::Sender<Message>,
}

impl DecisionLog {
    /// Starts the writer on its own thread and runtime: serialising and folding a group of thousands of
    /// decisions takes milliseconds, which must not hold up a worker that answers requests.
    pub(crate) fn start(store: Arc<dyn MetadataStore>, metrics: Arc<ScoringMetrics>) -> std::io::Result<DecisionLog> {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || runtime.block_on(writer(store, receiver, metrics)))?;
        Ok(DecisionLog { sender })
    }

    /// Queues a decision, waiting for room when the queue is full.
    pub(crate) async fn append(&self, live: Arc<LiveProfile>, decision: NewDecision) -> Result<()> {
        self.sender
            .send(Message::Decision(live, decision))
            .await
            .map_err(|_| Error::Internal("the decision log has stopped".into()))
    }

    /// Queues a decision unless the queue is full (shadow traffic must never slow the answer down).
    pub(crate) fn try_append(&self, live: Arc<LiveProfile>, decision: NewDecision) -> bool {
        self.sender.try_send(Message::Decision(live, decision)).is_ok()
    }

    /// Returns once every decision queued before the call is committed.
    pub(crate) async fn flush(&self) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.sender
            .send(Message::Flush(done))
            .await
            .map_err(|_| Error::Internal("the decision log has stopped".into()))?;
        wait.await
            .map_err(|_| Error::Internal("the decision log has stopped".into()))?
            .map_err(|e| Error::Internal(format!("decision log commit failed: {e}")))
    }
}

async fn writer(store: Arc<dyn MetadataStore>, mut receiver: mpsc::Receiver<Message>, metrics: Arc<ScoringMetrics>) {
    let (mut lives, mut rows): (Vec<Arc<LiveProfile>>, Vec<NewDecision>) = (Vec::new(), Vec::new());
    let mut waiters = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Decision(live, decision) => {
                    lives.push(live);
                    rows.push(decision);
                }
                Message::Flush(done) => waiters.push(done),
            }
            if rows.len() < MAX_GROUP {
                next = receiver.try_recv().ok();
            }
        }
        metrics.log_queue.set(receiver.len() as i64);
        let mut outcome = Ok(());
        if !rows.is_empty() {
            outcome = commit(store.as_ref(), &rows).await;
            match &outcome {
                Ok(()) => {
                    metrics.log_committed.inc_by(rows.len() as u64);
                    for (live, decision) in lives.iter().zip(&rows) {
                        live.fold(decision);
                    }
                }
                Err(err) => {
                    metrics.log_lost.inc_by(rows.len() as u64);
                    tracing::error!(error = %err, lost = rows.len(), "decision log commit failed after retries");
                }
            }
            lives.clear();
            rows.clear();
        }
        for done in waiters.drain(..) {
            let _ = done.send(outcome.clone());
        }
    }
}

async fn commit(store: &dyn MetadataStore, rows: &[NewDecision]) -> std::result::Result<(), String> {
    let mut last = String::new();
    for pause in std::iter::once(Duration::ZERO).chain(RETRY_BACKOFF) {
        tokio::time::sleep(pause).await;
        match store.insert_decisions(rows).await {
            Ok(()) => return Ok(()),
            Err(err) => {
                tracing::warn!(error = %err, rows = rows.len(), "decision log commit failed; retrying");
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
#[derive(Debug, Clone)]
pub(crate) enum FeatureWindow {
    Numeric(NumericWindow),
    Categorical(CategoricalWindow),
}

/// Every window of a version over some stretch of decisions: all of them, or one time bucket.
#[derive(Debug, Clone)]
pub(crate) struct LiveWindows {
    features: Vec<FeatureWindow>,
    score: NumericWindow,
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
    }
}

/// Score deciles on [0, 1].
const SCORE_EDGES: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
/// Width of a recent-traffic bucket, in microseconds.
pub(crate) const BUCKET_MICROS: i64 = 10_000_000;
/// Buckets kept: one hour of recent traffic.
const BUCKETS_KEPT: usize = 360;

#[derive(Debug)]
struct LiveState {
    decisions: u64,
    by_decision: std::collections::BTreeMap<String, u64>,
    by_route: std::collections::BTreeMap<String, u64>,
    /// Every decision since the version was loaded.
    total: LiveWindows,
    /// The last hour, in 10-second buckets (what monitors read).
    recent: TimeBuckets<LiveWindows>,
    first_at: Option<i64>,
    last_at: Option<i64>,
}

/// The live window profile of one version: the statistics core's windows, fed by committed decisions.
#[derive(Debug)]
pub(crate) struct LiveProfile {
    features: Vec<LiveFeature>,
    state: Mutex<LiveState>,
}

impl LiveProfile {
    pub(crate) fn new(version: &Version) -> LiveProfile {
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
        let empty = LiveWindows {
            features: features
                .iter()
                .map(|f| match &f.numeric {
                    Some((edges, _)) => FeatureWindow::Numeric(NumericWindow::new(edges.len())),
                    None => FeatureWindow::Categorical(CategoricalWindow::default()),
                })
                .collect(),
            score: NumericWindow::new(SCORE_EDGES.len()),
        };
        LiveProfile {
            features,
            state: Mutex::new(LiveState {
                decisions: 0,
                by_decision: Default::default(),
                by_route: Default::default(),
                recent: TimeBuckets::new(BUCKET_MICROS, BUCKETS_KEPT, empty.clone()),
                total: empty,
                first_at: None,
                last_at: None,
            }),
        }
    }

    fn add(&self, windows: &mut LiveWindows, decision: &NewDecision) {
        windows.score.add(decision.score, &SCORE_EDGES, (0.0, 1.0));
        for (feature, window) in self.features.iter().zip(&mut windows.features) {
            let value = decision.features.get(feature.name.as_str());
            match (window, &feature.numeric) {
                (FeatureWindow::Numeric(w), Some((edges, range))) => {
                    w.add(value.and_then(Value::as_f64).unwrap_or(f64::NAN), edges, *range)
                }
                (FeatureWindow::Categorical(w), _) => w.add(value.and_then(Value::as_str)),
                (FeatureWindow::Numeric(_), None) => unreachable!("numeric windows are made for numeric features"),
            }
        }
    }

    fn fold(&self, decision: &NewDecision) {
        let mut guard = self.state.lock().expect("live profile lock");
        let state = &mut *guard;
        state.decisions += 1;
        *state.by_decision.entry(decision.decision.clone()).or_default() += 1;
        *state.by_route.entry(decision.route.clone()).or_default() += 1;
        state.first_at = Some(state.first_at.map_or(decision.at, |t| t.min(decision.at)));
        state.last_at = Some(state.last_at.map_or(decision.at, |t| t.max(decision.at)));
        self.add(&mut state.total, decision);
        if let Some(bucket) = state.recent.record(decision.at) {
            self.add(bucket, decision);
        }
    }

    /// Feature windows (by name) and the score window of the decisions made at or after `since` (µs), with
    /// how many decisions they hold.
    pub(crate) fn recent(&self, since: i64) -> (Vec<(String, FeatureWindow)>, NumericWindow, u64) {
        let (windows, count) = self.state.lock().expect("live profile lock").recent.since(since);
        let names = self.features.iter().map(|f| f.name.clone());
        (names.zip(windows.features).collect(), windows.score, count)
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
            "features": features,
        })
    }
}
