/*!
The scoring path: route a request by alias, check it against the version's schema, score and explain it with
the version's model, answer, and log the decision.

- Routing: the `champion` alias answers; a `canary` alias with a traffic share answers that stable fraction of
  request ids (FNV-1a hash of the id); a `challenger` alias is scored in shadow (logged, never returned).
  Routes are rebuilt when an alias changes, so a change takes effect without a restart; requests in flight
  finish on the routes they started with.
- Input: every feature is checked against the schema (unknown, missing, wrong type, undeclared category) and
  every problem is reported per field; nothing is scored from a guess.
- Logging: decisions go to the [`DecisionLog`], which commits them in groups (see its durability contract)
  and folds them into the live window profiles.
*/

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};
use warden_models::{Cell, Model};
use warden_stats::distribution::WindowCounts;
use warden_stats::profile::ColumnSummary;
use warden_stats::window::GroupRateWindow;
use warden_store::metadata::{Micros, NewDecision, NewOutcome};

use crate::decision_log::{DecisionLog, Fold, LiveProfile, LiveWindows, RemoteBucket};
use crate::metrics::ScoringMetrics;
use crate::{Error, Result, Serving};
use warden_registry::Registry;
use warden_registry::auth::{Permission, Principal};
use warden_registry::binding::{Binding, Checked, MAX_REQUEST_ID, check, field_errors, model_error, score_reference};
pub use warden_registry::binding::{MAX_BATCH_ROWS, ScoreRequest, check_and_score};
use warden_registry::reference::MonitorReference;
use warden_registry::registry::{PRODUCTION_ALIASES, ServingConfig, Version};

/// Largest amount an outcome may carry (a loss or chargeback): a quadrillion in any currency is a mistake,
/// and money-at-risk sums must not overflow.
pub const MAX_OUTCOME_AMOUNT: f64 = 1e15;

/// A version ready to score.
pub struct LoadedVersion {
    pub version: Version,
    /// The model Warden runs; `None` for a version served outside Warden (its decisions are ingested).
    model: Option<Model>,
    /// What an external version's descriptor says.
    pub external: Option<warden_registry::external::ExternalModel>,
    pub(crate) binding: Binding,
    pub live: Arc<LiveProfile>,
    /// The reference data with this version's scores (score drift, learned thresholds, CBPE).
    pub reference: Arc<MonitorReference>,
    /// The artifact's bytes as loaded, re-hashed by the integrity monitor.
    pub artifact: Vec<u8>,
}

impl LoadedVersion {
    /// Loads the model, reads the reference data and scores it with the model (rows the version refuses are
    /// left unscored: NaN).
    /// An external version's reference scores are its score column.
    fn load(version: Version, artifact: Vec<u8>, reference_path: &std::path::Path) -> Result<LoadedVersion> {
        let (model, external, binding) = match version.format.is_external() {
            true => {
                let external = warden_registry::external::ExternalModel::parse(&artifact)?;
                (None, Some(external), Binding::schema_only(&version.feature_schema))
            }
            false => {
                let model = version.format.load(&artifact)?;
                let binding = Binding::new(&model, &version.feature_schema)?;
                (Some(model), None, binding)
            }
        };
        let mut reference = MonitorReference::read(reference_path, &version.feature_schema)?;
        let placeholder = Arc::new(LiveProfile::new(&version, &reference));
        let mut loaded = LoadedVersion {
            version,
            model,
            external,
            binding,
            live: placeholder,
            reference: Arc::new(MonitorReference::default()),
            artifact,
        };
        let scored = match (&loaded.model, &loaded.external) {
            (Some(model), _) => score_reference(model, &loaded.binding, &reference)?,
            (None, Some(external)) => warden_registry::binding::ReferenceScores {
                scores: reference.external_scores(external, loaded.version.serving.task)?,
                probabilities: Vec::new(),
            },
            (None, None) => unreachable!("a version has a model or a descriptor"),
        };
        reference.set_scores(scored.scores);
        reference.probabilities = scored.probabilities;
        loaded.live = Arc::new(LiveProfile::new(&loaded.version, &reference));
        loaded.reference = Arc::new(reference);
        Ok(loaded)
    }

    /// The model Warden runs for this version; `Conflict` for a version served outside Warden.
    fn model(&self) -> Result<&Model> {
        self.model.as_ref().ok_or_else(|| {
            let version = &self.version;
            let platform = self.external.as_ref().and_then(|e| e.platform.as_deref());
            Error::Conflict(format!(
                "model '{}' version {} is served outside Warden{}: Warden has no model to score it with; send the \
                 decisions it makes to POST /v1/models/{}/decisions",
                version.model,
                version.number,
                platform.map(|p| format!(" (on {p})")).unwrap_or_default(),
                version.model
            ))
        })
    }

    /// The decision on a score: the threshold's, or a multiclass classifier's predicted class.
    pub(crate) fn decide(&self, scored: &Scored) -> Result<&str> {
        let serving: &ServingConfig = &self.version.serving;
        match scored.class {
            None => Ok(self.decide_score(scored.score)),
            Some(class) => serving.class_label(class).ok_or_else(|| {
                Error::Inconsistent(format!(
                    "version {} predicted class {class}, and names {} classes",
                    self.version.number,
                    serving.classes.len()
                ))
            }),
        }
    }

    /// The threshold's decision on a score.
    pub(crate) fn decide_score(&self, score: f64) -> &str {
        let serving: &ServingConfig = &self.version.serving;
        if score >= serving.threshold { &serving.positive_decision } else { &serving.negative_decision }
    }
}

pub use warden_core::Route;

/// What a suspended model answers with instead of its production versions.
#[derive(Clone)]
pub enum Fallback {
    /// The champion's adverse decision (its `positive_decision`, `decline` by default), without scoring.
    Decline,
    /// `refer`: to a person (manual review), without scoring.
    Refer,
    /// A version the gate let into the alias before, which scores instead.
    Version(Arc<LoadedVersion>),
}

/// A model's suspension as its routes carry it.
pub struct Suspended {
    /// Who suspended it, when (µs) and why.
    pub by: String,
    pub at: Micros,
    pub reason: String,
    pub fallback: Fallback,
}

/// The decision a fallback without a model answers.
pub const REFER_DECISION: &str = "refer";

/// A model's routes as of the last alias change.
#[derive(Clone)]
struct Routes {
    champion: Option<Arc<LoadedVersion>>,
    canary: Option<(Arc<LoadedVersion>, f64)>,
    challenger: Option<Arc<LoadedVersion>>,
    /// Why nothing is served, not even a version a caller names: the model is retired.
    retired: Option<String>,
    /// The stop switch: while set, production traffic is answered by the fallback, never the aliases.
    suspended: Option<Arc<Suspended>>,
}

/// One reason code: a feature that pushed the score toward the positive decision (decline).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub feature: String,
    /// The value the request gave (null when missing).
    pub value: Value,
    /// Its contribution to the margin (log-odds).
    pub contribution: f64,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreResponse {
    /// The request id (given or made).
    pub request_id: String,
    pub model: String,
    /// Version that answered.
    pub version: i64,
    /// Which route answered.
    pub route: Route,
    /// The score (probability of the bad event for binary classifiers, the predicted value for regressions, the
    /// predicted class's probability for multiclass classifiers).
    pub score: f64,
    /// The decision from the version's threshold; a multiclass classifier's predicted class.
    pub decision: String,
    /// A multiclass classifier's probability of each class, by class label (the score is the predicted
    /// class's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<BTreeMap<String, f64>>,
    /// Top reasons toward the positive decision (with `explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<Reason>>,
    /// Every feature's contribution (with `explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributions: Option<BTreeMap<String, f64>>,
    /// The expected margin the contributions start from (with `explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<f64>,
}

/// The scoring service's state inside [`Serving`].
pub struct Scoring {
    routes: RwLock<HashMap<String, Routes>>,
    versions: RwLock<HashMap<(String, i64), Arc<LoadedVersion>>>,
    load_lock: tokio::sync::Mutex<()>,
    /// Models whose production routes cannot be built (an artifact missing or corrupt, a signature that
    /// no longer holds), with the cause: readiness and the integrity monitor report them, scoring answers 503.
    unservable: RwLock<std::collections::BTreeMap<String, String>>,
    /// When readiness last retried the unservable models: at most once a second, since `/readyz` is public.
    last_retry: Mutex<Option<Instant>>,
    pub log: DecisionLog,
    pub metrics: Arc<ScoringMetrics>,
    /// Models with decisions ingested as `unapproved` since the last monitor round took them (the round
    /// checks them at once instead of at the integrity monitor's usual pace).
    unapproved: Mutex<std::collections::BTreeSet<String>>,
    /// This replica's stream consumers, as they last published themselves, by (group, topic).
    streams: Mutex<BTreeMap<(String, String), crate::ingest::StreamStatus>>,
}

impl Scoring {
    /// Starts the decision log's writer on the store.
    pub fn start(
        store: Arc<dyn warden_store::metadata::MetadataStore>,
        key: Arc<warden_registry::personal_data::PersonalDataKey>,
    ) -> Result<Scoring> {
        let metrics = Arc::new(ScoringMetrics::new());
        let protections = Arc::new(crate::protection::Protections::new(key));
        let log = DecisionLog::start(store, metrics.clone(), protections)
            .map_err(|e| Error::io("cannot start the decision log writer", e))?;
        Ok(Scoring {
            routes: RwLock::new(HashMap::new()),
            versions: RwLock::new(HashMap::new()),
            load_lock: tokio::sync::Mutex::new(()),
            unservable: RwLock::new(Default::default()),
            last_retry: Mutex::new(None),
            log,
            metrics,
            unapproved: Mutex::new(Default::default()),
            streams: Mutex::new(Default::default()),
        })
    }

    /// Notes that a model logged unapproved decisions.
    pub(crate) fn saw_unapproved(&self, model: &str) {
        self.unapproved.lock().expect("unapproved lock").insert(model.to_owned());
    }

    /// The models that logged unapproved decisions since the last call.
    pub fn take_unapproved(&self) -> std::collections::BTreeSet<String> {
        std::mem::take(&mut *self.unapproved.lock().expect("unapproved lock"))
    }

    /// Records a stream consumer's state (its lag goes to the metrics too).
    pub fn publish_stream(&self, status: crate::ingest::StreamStatus) {
        for (partition, position, end) in &status.partitions {
            let lag = crate::ingest::StreamStatus::lag(*position, *end);
            self.metrics.stream_lag(&status.group, &status.topic, *partition, lag);
        }
        self.metrics.stream_state(&status.group, &status.topic, status.connected, status.expired);
        let key = (status.group.clone(), status.topic.clone());
        self.streams.lock().expect("streams lock").insert(key, status);
    }

    /// This replica's stream consumers.
    pub fn streams(&self) -> Vec<crate::ingest::StreamStatus> {
        self.streams.lock().expect("streams lock").values().cloned().collect()
    }

    /// Commits every queued decision (clean shutdown calls this after the last request finished).
    pub async fn flush(&self) -> Result<()> {
        self.log.flush().await
    }

    /// Records one HTTP request (the API's middleware calls this).
    pub fn record_http(&self, method: &str, path: &str, status: u16, duration: std::time::Duration) {
        self.metrics.http(method, path, status, duration);
    }

    /// The models whose routes this process has built.
    pub(crate) fn routed_models(&self) -> Vec<String> {
        self.routes.read().expect("routes lock").keys().cloned().collect()
    }

    /// Called after an alias changes: rebuilds the model's routes (loading any new version first, so no
    /// request waits for a load), then swaps them in.
    pub(crate) async fn routes_changed(&self, registry: &Registry, model: &str) {
        self.log.protections.forget(model);
        match build_routes(registry, self, model).await {
            Ok(routes) => {
                let fallback = routes.suspended.as_ref().and_then(|s| match &s.fallback {
                    Fallback::Version(version) => Some(version),
                    Fallback::Decline | Fallback::Refer => None,
                });
                let routed: Vec<i64> = [
                    routes.champion.as_ref(),
                    routes.canary.as_ref().map(|(v, _)| v),
                    routes.challenger.as_ref(),
                    fallback,
                ]
                .into_iter()
                .flatten()
                .map(|v| v.version.number)
                .collect();
                self.routes.write().expect("routes lock").insert(model.to_owned(), routes);
                self.unservable.write().expect("unservable lock").remove(model);
                // A version no alias serves any more is unloaded (requests in flight keep their own handle):
                // otherwise every version a canary ever pointed at would stay in memory, with its model,
                // reference scores and live windows, for the life of the process.
                let mut unloaded = Vec::new();
                self.versions.write().expect("versions lock").retain(|(m, v), _| {
                    let keep = m != model || routed.contains(v);
                    if !keep {
                        unloaded.push(*v);
                    }
                    keep
                });
                // Its metrics go with it: nothing serves it, so no series may say how it is doing.
                for version in unloaded {
                    self.metrics.forget_version(model, version);
                }
            }
            Err(err) => {
                tracing::error!(model, error = %err, "could not rebuild routes; they will load on the next request");
                self.routes.write().expect("routes lock").remove(model);
                self.unservable.write().expect("unservable lock").insert(model.to_owned(), err.to_string());
            }
        }
    }

    /// Whether readiness may retry the unservable models now (at most once a second).
    pub(crate) fn retry_due(&self) -> bool {
        let mut last = self.last_retry.lock().expect("retry lock");
        let due = last.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(1));
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// Models whose production routes cannot be built now, with the cause.
    pub fn unservable(&self) -> std::collections::BTreeMap<String, String> {
        self.unservable.read().expect("unservable lock").clone()
    }

    /// The Prometheus text exposition of the scoring metrics.
    pub fn metrics_text(&self) -> String {
        self.metrics.encode()
    }
}

pub(crate) async fn loaded_version(
    registry: &Registry,
    scoring: &Scoring,
    model: &str,
    number: i64,
) -> Result<Arc<LoadedVersion>> {
    let key = (model.to_owned(), number);
    if let Some(v) = scoring.versions.read().expect("versions lock").get(&key) {
        return Ok(v.clone());
    }
    let _guard = scoring.load_lock.lock().await;
    if let Some(v) = scoring.versions.read().expect("versions lock").get(&key) {
        return Ok(v.clone());
    }
    let row = registry
        .metadata
        .get_version(model, number)
        .await?
        .ok_or_else(|| Error::NotFound(format!("model '{model}' has no version {number}")))?;
    let version: Version = row.try_into()?;
    // The serving path re-verifies the artifact's hash before loading it. A version that cannot be served is
    // unavailable (503, the cause named), never "not found": the version exists, its bytes do not.
    let unservable =
        |cause: String| Error::unavailable(format!("model '{model}' version {number} cannot be served: {cause}"));
    let bytes = registry
        .artifacts()
        .read(&version.artifact_sha256)
        .await
        .map_err(|e| unservable(format!("its artifact cannot be read ({e})")))?;
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    if digest != version.artifact_sha256 {
        return Err(unservable(format!(
            "its artifact is corrupt: stored SHA-256 {} but the bytes hash to {digest}",
            version.artifact_sha256
        )));
    }
    // A signed artifact is served only while its signer is still trusted and the signature still holds.
    if let Some(signature) = &version.lineage.artifact_signature {
        warden_registry::signing::verify(&registry.config().artifact_signers, signature, &version.artifact_sha256)
            .map_err(|e| unservable(format!("its artifact signature fails: {e}")))?;
    }
    let reference = registry
        .artifacts()
        .read(&version.reference_sha256)
        .await
        .map_err(|e| unservable(format!("its reference data cannot be read ({e})")))?;
    let loaded = tokio::task::spawn_blocking(move || {
        let staged = tempfile::NamedTempFile::new().map_err(|e| Error::io("temporary file", e))?;
        std::fs::write(staged.path(), &reference).map_err(|e| Error::io("temporary file", e))?;
        LoadedVersion::load(version, bytes, staged.path())
    })
    .await
    .map_err(|e| Error::task("model load", e))??;
    let loaded = Arc::new(loaded);
    scoring.versions.write().expect("versions lock").insert(key, loaded.clone());
    Ok(loaded)
}

async fn build_routes(registry: &Registry, scoring: &Scoring, model: &str) -> Result<Routes> {
    let mut routes = Routes { champion: None, canary: None, challenger: None, retired: None, suspended: None };
    if let Some(row) = registry.metadata.get_model(model).await?
        && let Err(Error::Gone(why)) = warden_registry::registry::refuse_if_retired(&row)
    {
        routes.retired = Some(why);
        return Ok(routes);
    }
    if let Some(latest) = registry.metadata.suspensions(model).await?.pop()
        && latest.action == "suspend"
    {
        let fallback = match (latest.fallback.as_deref(), latest.fallback_version) {
            (Some("version"), Some(number)) => {
                Fallback::Version(loaded_version(registry, scoring, model, number).await?)
            }
            (Some("refer"), _) => Fallback::Refer,
            (Some("decline"), _) => Fallback::Decline,
            (other, _) => {
                return Err(Error::Inconsistent(format!("model '{model}''s suspension has no fallback ({other:?})")));
            }
        };
        routes.suspended =
            Some(Arc::new(Suspended { by: latest.actor, at: latest.at, reason: latest.reason, fallback }));
    }
    let aliases = registry.metadata.current_aliases(model).await?;
    for alias in aliases {
        let Some(number) = alias.version else { continue };
        match alias.alias.as_str() {
            "champion" => routes.champion = Some(loaded_version(registry, scoring, model, number).await?),
            "canary" => {
                let share = alias.traffic.unwrap_or(0.0);
                routes.canary = Some((loaded_version(registry, scoring, model, number).await?, share));
            }
            // A challenger only scores in shadow: one that cannot load must not stop the champion answering
            // (the integrity monitor reports the running routes differing from the aliases).
            "challenger" => match loaded_version(registry, scoring, model, number).await {
                Ok(version) => routes.challenger = Some(version),
                Err(err) => tracing::error!(model, error = %err, "the challenger cannot be loaded; no shadow scoring"),
            },
            _ => {}
        }
    }
    Ok(routes)
}

/// The routes that answer a model's traffic; `Gone` when it is retired.
async fn routes(warden: &Serving, model: &str) -> Result<Routes> {
    let routes = current_routes(warden, model).await?;
    match &routes.retired {
        Some(why) => Err(Error::Gone(why.clone())),
        None => Ok(routes),
    }
}

async fn current_routes(warden: &Serving, model: &str) -> Result<Routes> {
    if let Some(r) = warden.scoring.routes.read().expect("routes lock").get(model) {
        return Ok(r.clone());
    }
    if warden.metadata.get_model(model).await?.is_none() {
        return Err(Error::NotFound(format!("model '{model}' not found")));
    }
    match build_routes(warden, &warden.scoring, model).await {
        Ok(built) => {
            warden.scoring.routes.write().expect("routes lock").insert(model.to_owned(), built.clone());
            warden.scoring.unservable.write().expect("unservable lock").remove(model);
            Ok(built)
        }
        Err(err) => {
            warden.scoring.unservable.write().expect("unservable lock").insert(model.to_owned(), err.to_string());
            Err(err)
        }
    }
}

/// Builds the routes of every model with a production alias (at start-up): a version that cannot be served
/// is found now, and readiness says so, rather than at the first request.
pub async fn load_production_routes(warden: &Serving) -> Result<()> {
    for model in warden.metadata.list_models().await? {
        let name = model.model.name;
        let aliases = warden.metadata.current_aliases(&name).await?;
        if aliases.iter().any(|a| a.version.is_some() && PRODUCTION_ALIASES.contains(&a.alias.as_str())) {
            warden.scoring.routes_changed(warden, &name).await;
        }
    }
    Ok(())
}

/// What a model's routes serve: (champion, canary and its share, challenger) version numbers.
pub type RouteNumbers = (Option<i64>, Option<(i64, f64)>, Option<i64>);

/// The routes the serving path is running for a model, if it has built them.
pub fn running_routes(warden: &Serving, model: &str) -> Option<RouteNumbers> {
    let routes = warden.scoring.routes.read().expect("routes lock");
    routes.get(model).map(|r| {
        (
            r.champion.as_ref().map(|v| v.version.number),
            r.canary.as_ref().map(|(v, share)| (v.version.number, *share)),
            r.challenger.as_ref().map(|v| v.version.number),
        )
    })
}

/// FNV-1a: a stable hash (the same on every replica and release) for canary assignment.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Whether a request id falls in the canary's share.
pub fn in_canary_share(model: &str, request_id: &str, share: f64) -> bool {
    let unit = (fnv1a(&[model.as_bytes(), request_id.as_bytes()]) >> 11) as f64 / (1u64 << 53) as f64;
    unit < share
}

/// A time-ordered request id (microseconds, then 64 random bits), so the decision log's index on request
/// ids grows at its end instead of at random pages.
fn new_request_id(now: Micros) -> String {
    format!("req_{:014x}{:016x}", now.max(0), rand::Rng::next_u64(&mut rand::rng()))
}

/// What a version answered for one row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scored {
    pub(crate) score: f64,
    /// A multiclass classifier's probability of each class, in its class order (empty otherwise).
    pub(crate) probabilities: Vec<f64>,
    /// A multiclass classifier's predicted class.
    class: Option<usize>,
    /// When asked for: the explanation's base and per-input contributions.
    explanation: Option<(f64, Vec<f64>)>,
}

impl Scored {
    /// A score made without a model (a fallback's fixed decision has none).
    fn unscored() -> Scored {
        Scored { score: f64::NAN, probabilities: Vec::new(), class: None, explanation: None }
    }

    /// The class probabilities by class label, for a multiclass version's answer.
    fn by_class(&self, serving: &ServingConfig) -> Option<BTreeMap<String, f64>> {
        (!self.probabilities.is_empty())
            .then(|| serving.classes.iter().cloned().zip(self.probabilities.iter().copied()).collect())
    }
}

/// Scores checked rows on one version; the model runs them as one batch.
fn run(version: &LoadedVersion, rows: &[&Checked]) -> Result<Vec<Scored>> {
    let cells: Vec<Vec<Cell>> = rows.iter().map(|r| version.binding.cells(&r.values)).collect();
    let refs: Vec<&[Cell]> = cells.iter().map(Vec::as_slice).collect();
    let model = version.model()?;
    let predictions = model.predict(&refs).map_err(model_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for ((row, cells), prediction) in rows.iter().zip(&cells).zip(predictions) {
        if !prediction.score.is_finite() || prediction.probabilities.iter().any(|p| !p.is_finite()) {
            return Err(Error::Inconsistent(format!(
                "the model produced a non-finite score for request {}",
                row.request_id
            )));
        }
        let explanation = if row.explain {
            if !model.can_explain() {
                return Err(Error::invalid(format!(
                    "version {} ({}) cannot explain its scores: explanations need a linear or tree model",
                    version.version.number, version.version.format
                )));
            }
            let e = model.explain(cells).map_err(model_error)?;
            Some((e.base, e.contributions))
        } else {
            None
        };
        let class = prediction.class();
        out.push(Scored { score: prediction.score, probabilities: prediction.probabilities, class, explanation });
    }
    Ok(out)
}

/// Turns model-input contributions into per-feature contributions and the top reasons.
fn explain(version: &LoadedVersion, row: &Checked, contributions: &[f64]) -> (BTreeMap<String, f64>, Vec<Reason>) {
    let mut by_feature: BTreeMap<String, f64> = BTreeMap::new();
    for (feature, c) in version.binding.input_features().zip(contributions) {
        *by_feature.entry(feature.to_owned()).or_default() += c;
    }
    let mut reasons: Vec<Reason> = by_feature
        .iter()
        .filter(|(_, c)| **c > 0.0)
        .map(|(feature, c)| Reason {
            feature: feature.clone(),
            value: row.features.get(feature).cloned().unwrap_or(Value::Null),
            contribution: *c,
        })
        .collect();
    reasons.sort_by(|a, b| b.contribution.total_cmp(&a.contribution).then_with(|| a.feature.cmp(&b.feature)));
    reasons.truncate(version.version.serving.reason_count);
    (by_feature, reasons)
}

/// A row scored outside the serving path.
#[derive(Debug, Clone, PartialEq)]
pub struct RowScore {
    /// The score (a multiclass classifier's: its predicted class's probability).
    pub score: f64,
    /// A multiclass classifier's probability of each class, in its class order (empty otherwise).
    pub probabilities: Vec<f64>,
    /// A multiclass classifier's predicted class (the first most probable).
    pub class: Option<usize>,
    /// Per-feature contributions, when asked for and the model explains.
    pub contributions: Option<BTreeMap<String, f64>>,
}

/// Scores rows on a version outside the serving path (nothing logged, no metrics): validation. With
/// `explain`, adds per-feature contributions when the model can explain. Errors name the 1-based row.
pub async fn score_rows(
    warden: &Serving,
    model: &str,
    number: i64,
    rows: Vec<Map<String, Value>>,
    explain: bool,
) -> Result<Vec<RowScore>> {
    let version = loaded_version(warden, &warden.scoring, model, number).await?;
    let explain = explain && version.model()?.can_explain();
    tokio::task::spawn_blocking(move || {
        let mut checked = Vec::with_capacity(rows.len());
        for (i, features) in rows.into_iter().enumerate() {
            let request = ScoreRequest { request_id: None, features, attributes: Map::new(), explain };
            checked.push(check(&version.binding, request).map_err(|fields| field_errors(fields, Some(i + 1)))?);
        }
        let mut out = Vec::with_capacity(checked.len());
        for chunk in checked.chunks(MAX_BATCH_ROWS) {
            let refs: Vec<&Checked> = chunk.iter().collect();
            for (row, scored) in chunk.iter().zip(run(&version, &refs)?) {
                out.push(RowScore {
                    score: scored.score,
                    class: scored.class,
                    contributions: scored.explanation.map(|(_, c)| self::explain(&version, row, &c).0),
                    probabilities: scored.probabilities,
                });
            }
        }
        Ok(out)
    })
    .await
    .map_err(|e| Error::task("scoring", e))?
}

/// Per-feature contributions of rows on a loaded version (blocking: runs the model), for the rows that pass
/// its schema checks (the others are `None`); an error when the model cannot explain.
pub fn contributions_of(
    version: &LoadedVersion,
    rows: Vec<Map<String, Value>>,
) -> Result<Vec<Option<BTreeMap<String, f64>>>> {
    if !version.model()?.can_explain() {
        return Err(Error::invalid(format!(
            "version {} ({}) cannot explain its scores: explanations need a linear or tree model",
            version.version.number, version.version.format
        )));
    }
    let checked: Vec<Option<Checked>> = rows
        .into_iter()
        .map(|features| {
            let request = ScoreRequest { request_id: None, features, attributes: Map::new(), explain: true };
            check(&version.binding, request).ok()
        })
        .collect();
    let valid: Vec<&Checked> = checked.iter().flatten().collect();
    let mut explained = Vec::with_capacity(valid.len());
    for chunk in valid.chunks(MAX_BATCH_ROWS) {
        for (row, scored) in chunk.iter().zip(run(version, chunk)?) {
            explained.push(scored.explanation.map(|(_, c)| explain(version, row, &c).0));
        }
    }
    let mut explained = explained.into_iter();
    Ok(checked.iter().map(|c| c.as_ref().and_then(|_| explained.next().flatten())).collect())
}

/// Scores one request (`pinned`: a version number or alias chosen by the caller instead of the routes).
pub async fn score(
    warden: &Serving,
    caller: &Principal,
    model: &str,
    request: ScoreRequest,
    pinned: Option<&str>,
) -> Result<ScoreResponse> {
    let mut out = score_batch(warden, caller, model, vec![request], pinned).await?;
    Ok(out.pop().expect("one response per request"))
}

/// Scores many requests. All are checked first; if any is invalid nothing is scored or logged.
pub async fn score_batch(
    warden: &Serving,
    caller: &Principal,
    model: &str,
    requests: Vec<ScoreRequest>,
    pinned: Option<&str>,
) -> Result<Vec<ScoreResponse>> {
    let production_caller = scoring_caller(caller, pinned)?;
    let started = Instant::now();
    if requests.is_empty() {
        return Err(Error::invalid("the batch is empty"));
    }
    if requests.len() > MAX_BATCH_ROWS {
        return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH_ROWS} rows (got {})", requests.len())));
    }
    let result = score_inner(warden, caller, production_caller, model, requests, pinned, started).await;
    if let Err(err) = &result {
        // A name not in the registry is the caller's text: counted under no model, never a series of its own.
        let label = if matches!(err, Error::NotFound(_)) { "" } else { model };
        warden.scoring.metrics.error(label, error_kind(err));
    }
    result
}

/// Whether the caller scores production traffic (`Score`) rather than only a version it names
/// (`ScorePinned`, validators: always answered as a person testing). Refused when it may do neither.
fn scoring_caller(caller: &Principal, pinned: Option<&str>) -> Result<bool> {
    if caller.require(Permission::Score).is_ok() {
        return Ok(true);
    }
    caller.require(Permission::ScorePinned)?;
    if pinned.is_none() {
        return Err(Error::Forbidden(format!(
            "role '{}' may score only a version it names (?version=N), for testing",
            caller.roles_text()
        )));
    }
    Ok(false)
}

/// The version a named version or alias scores with and the route it answers on. A version serving a
/// production alias answers as that alias (bulk scoring names the champion's number so an alias move cannot
/// mix two versions in one file); any other is a person testing it: allowed to the roles that may, and marked
/// `pinned`, never counted as production.
async fn resolve_pinned(
    warden: &Serving,
    caller: &Principal,
    production_caller: bool,
    model: &str,
    routes: &Routes,
    name: &str,
) -> Result<(Arc<LoadedVersion>, Route)> {
    let number = warden_registry::registry::version_number(warden, model, name).await?;
    let serving = |v: Option<&Arc<LoadedVersion>>| v.is_some_and(|v| v.version.number == number);
    let route = if production_caller && serving(routes.champion.as_ref()) {
        Route::Champion
    } else if production_caller && serving(routes.canary.as_ref().map(|(v, _)| v)) {
        Route::Canary
    } else {
        caller.require(Permission::ScorePinned).map_err(|_| {
            Error::Forbidden(format!(
                "role '{}' is answered only by versions in production: {model} version {number} is not serving a \
                 production alias, and naming another version is for people testing it",
                caller.roles_text()
            ))
        })?;
        Route::Pinned
    };
    Ok((loaded_version(warden, &warden.scoring, model, number).await?, route))
}

/// The version a caller's requests would be scored with (the champion, or the version or alias named, under
/// the same rules as scoring) and the route it answers on: what a business application needs to build its
/// requests (the input schema and the monitor-only attributes), without the right to read the registry.
pub async fn scoring_version(
    warden: &Serving,
    caller: &Principal,
    model: &str,
    pinned: Option<&str>,
) -> Result<(Version, Route)> {
    let production_caller = scoring_caller(caller, pinned)?;
    let routes = routes(warden, model).await?;
    match pinned {
        Some(name) => {
            let (version, route) = resolve_pinned(warden, caller, production_caller, model, &routes, name).await?;
            Ok((version.version.clone(), route))
        }
        // Suspended: the fallback answers, and requests are checked by its version (a version fallback's) or
        // the champion's schema.
        None => match (routes.suspended.as_ref().map(|s| &s.fallback), &routes.champion) {
            (Some(Fallback::Version(version)), _) => Ok((version.version.clone(), Route::Fallback)),
            (Some(_), Some(champion)) => Ok((champion.version.clone(), Route::Fallback)),
            (None, Some(champion)) => Ok((champion.version.clone(), Route::Champion)),
            (_, None) => Err(no_champion(warden, model).await),
        },
    }
}

fn error_kind(err: &Error) -> &'static str {
    match err {
        Error::Invalid { .. } => "invalid_input",
        Error::NotFound(_) => "not_found",
        Error::Unauthenticated(_) | Error::Forbidden(_) => "auth",
        Error::Conflict(_) | Error::Refused { .. } => "conflict",
        Error::Gone(_) => "gone",
        Error::TooLarge { .. } => "too_large",
        Error::Unavailable { .. } => "unavailable",
        _ => "internal",
    }
}

#[allow(clippy::too_many_arguments)]
async fn score_inner(
    warden: &Serving,
    caller: &Principal,
    production_caller: bool,
    model: &str,
    requests: Vec<ScoreRequest>,
    pinned: Option<&str>,
    started: Instant,
) -> Result<Vec<ScoreResponse>> {
    let routes = routes(warden, model).await?;
    // A request id names one decision: one already scored for this model is refused, not scored twice (two
    // requests racing with the same new id are not caught here; ids the server makes are unique).
    let given: Vec<&str> = requests.iter().filter_map(|r| r.request_id.as_deref()).collect();
    if let Some(used) = warden.metadata.used_request_ids(model, &given).await?.first() {
        return Err(Error::Conflict(format!(
            "request id '{used}' was already scored for model '{model}': a request id names one decision (send a \
             new id for a new request)"
        )));
    }
    let pinned = match pinned {
        None => None,
        Some(name) => Some(resolve_pinned(warden, caller, production_caller, model, &routes, name).await?),
    };
    let testing = matches!(pinned, Some((_, Route::Pinned)));
    // The stop switch: production traffic gets the fallback; a person testing a version still may.
    if let Some(suspended) = &routes.suspended
        && !testing
    {
        return answer_fallback(warden, model, &routes, suspended, requests, (warden.now(), started)).await;
    }
    let champion = match (&pinned, &routes.champion) {
        (Some(_), _) => None,
        (None, Some(c)) => Some(c.clone()),
        (None, None) => return Err(no_champion(warden, model).await),
    };

    // Route each request (every request has an id from here on), then check it against its version's schema.
    let now = warden.now();
    let mut assigned: Vec<(Arc<LoadedVersion>, Route, Checked)> = Vec::with_capacity(requests.len());
    let mut invalid: Vec<(usize, BTreeMap<String, String>)> = Vec::new();
    let total = requests.len();
    for (i, mut request) in requests.into_iter().enumerate() {
        let id = request.request_id.get_or_insert_with(|| new_request_id(now)).clone();
        let (version, route) = match (&pinned, &champion, &routes.canary) {
            (Some((version, route)), _, _) => (version.clone(), *route),
            (None, _, Some((canary, share))) if in_canary_share(model, &id, *share) => (canary.clone(), Route::Canary),
            (None, Some(c), _) => (c.clone(), Route::Champion),
            (None, None, _) => unreachable!("a champion exists when nothing is pinned"),
        };
        match check(&version.binding, request) {
            Ok(checked) => assigned.push((version, route, checked)),
            Err(fields) => {
                // Schema violations on the scoring path are a data-quality figure of the version.
                version.live.refused(now, fields.keys());
                invalid.push((i, fields));
            }
        }
    }
    if !invalid.is_empty() {
        return Err(if total == 1 {
            field_errors(invalid.pop().expect("one invalid row").1, None)
        } else {
            batch_errors(invalid, total, "scored")
        });
    }

    // Score per version (a batch usually has one), keeping request order.
    let mut results: Vec<Option<ScoreResponse>> = vec![None; assigned.len()];
    let mut decisions = Vec::with_capacity(assigned.len());
    let mut groups: Vec<(Arc<LoadedVersion>, Route, Vec<usize>)> = Vec::new();
    for (i, (version, route, _)) in assigned.iter().enumerate() {
        match groups.iter_mut().find(|(v, r, _)| Arc::ptr_eq(v, version) && r == route) {
            Some(group) => group.2.push(i),
            None => groups.push((version.clone(), *route, vec![i])),
        }
    }
    for (version, route, members) in &groups {
        let rows: Vec<&Checked> = members.iter().map(|&i| &assigned[i].2).collect();
        let scored = run(version, &rows)?;
        let latency = started.elapsed();
        for ((&i, row), scored) in members.iter().zip(&rows).zip(scored) {
            let decision = version.decide(&scored)?.to_owned();
            let probabilities = scored.by_class(&version.version.serving);
            let (contributions, reasons, base) = match &scored.explanation {
                Some((base, c)) => {
                    let (by_feature, reasons) = explain(version, row, c);
                    (Some(by_feature), Some(reasons), Some(*base))
                }
                None => (None, None, None),
            };
            let record = decision_record(now, model, version, *route, row, &scored, &decision, latency);
            decisions.push((version.clone(), record));
            results[i] = Some(ScoreResponse {
                request_id: row.request_id.clone(),
                model: model.to_owned(),
                version: version.version.number,
                route: *route,
                score: scored.score,
                decision,
                probabilities,
                reasons,
                contributions,
                base,
            });
        }
        warden.scoring.metrics.scored(model, version.version.number, route.as_str(), members.len(), latency);
    }

    // Shadow: the challenger scores the same requests; its answers are logged, never returned.
    if !testing
        && let Some(challenger) = &routes.challenger
        && challenger.model.is_some()
        && !groups.iter().any(|(v, _, _)| Arc::ptr_eq(v, challenger))
    {
        shadow(warden, model, challenger, &assigned, now);
    }
    // Answered only once committed: a decision the log cannot keep is refused (503), never acknowledged.
    warden.scoring.log.append(decisions.into_iter().map(|(v, d)| (Fold::of(v.live.clone()), d)).collect()).await?;
    Ok(results.into_iter().map(|r| r.expect("every request scored")).collect())
}

/// Answers production requests while the model is suspended: the fallback version scores them, or each gets
/// the fixed decision; logged on route `fallback` (under the version that scored, else the suspended champion's
/// number, with no score) and folded into no live window. Requests are checked against the schema of the
/// version that would have answered (the fallback version's, else the champion's).
async fn answer_fallback(
    warden: &Serving,
    model: &str,
    routes: &Routes,
    suspended: &Suspended,
    requests: Vec<ScoreRequest>,
    (now, started): (Micros, Instant),
) -> Result<Vec<ScoreResponse>> {
    let checked_by = match (&suspended.fallback, &routes.champion) {
        (Fallback::Version(version), _) => version.clone(),
        (_, Some(champion)) => champion.clone(),
        (_, None) => return Err(no_champion(warden, model).await),
    };
    let total = requests.len();
    let mut rows = Vec::with_capacity(total);
    let mut invalid = Vec::new();
    for (i, mut request) in requests.into_iter().enumerate() {
        request.request_id.get_or_insert_with(|| new_request_id(now));
        match check(&checked_by.binding, request) {
            Ok(checked) => rows.push(checked),
            Err(fields) => invalid.push((i, fields)),
        }
    }
    if !invalid.is_empty() {
        return Err(if total == 1 {
            field_errors(invalid.pop().expect("one invalid row").1, None)
        } else {
            batch_errors(invalid, total, "answered")
        });
    }
    let scored: Vec<Scored> = match &suspended.fallback {
        Fallback::Version(version) => run(version, &rows.iter().collect::<Vec<_>>())?,
        Fallback::Decline | Fallback::Refer => rows.iter().map(|_| Scored::unscored()).collect(),
    };
    let latency = started.elapsed();
    let mut decisions = Vec::with_capacity(rows.len());
    let mut answers = Vec::with_capacity(rows.len());
    for (row, scored) in rows.iter().zip(scored) {
        let decision = match &suspended.fallback {
            Fallback::Version(version) => version.decide(&scored)?.to_owned(),
            Fallback::Decline => checked_by.version.serving.positive_decision.clone(),
            Fallback::Refer => REFER_DECISION.to_owned(),
        };
        let probabilities = scored.by_class(&checked_by.version.serving);
        let (contributions, reasons, base) = match &scored.explanation {
            Some((base, c)) => {
                let (by_feature, reasons) = explain(&checked_by, row, c);
                (Some(by_feature), Some(reasons), Some(*base))
            }
            None => (None, None, None),
        };
        let record = decision_record(now, model, &checked_by, Route::Fallback, row, &scored, &decision, latency);
        decisions.push((Fold::none(), record));
        answers.push(ScoreResponse {
            request_id: row.request_id.clone(),
            model: model.to_owned(),
            version: checked_by.version.number,
            route: Route::Fallback,
            score: scored.score,
            decision,
            probabilities,
            reasons,
            contributions,
            base,
        });
    }
    warden.scoring.metrics.scored(model, checked_by.version.number, Route::Fallback.as_str(), answers.len(), latency);
    warden.scoring.log.append(decisions).await?;
    Ok(answers)
}

/// The most invalid rows of a batch one refusal lists; the rest are counted.
pub const MAX_LISTED_ROWS: usize = 100;

/// A batch refused for its invalid rows (0-based): every one up to [`MAX_LISTED_ROWS`] with its fields in
/// `details.rows`, the count of the others in `details.unlisted_rows`; `details.row` and `details.fields` are
/// the first's.
pub(crate) fn batch_errors(invalid: Vec<(usize, BTreeMap<String, String>)>, total: usize, verb: &str) -> Error {
    let count = invalid.len();
    let fields = |errors: &BTreeMap<String, String>| -> Map<String, Value> {
        errors.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()
    };
    let (first_row, first) = &invalid[0];
    let first_text = first.iter().next().map(|(f, m)| format!("{f}: {m}")).unwrap_or_default();
    let rows: Vec<Value> = invalid
        .iter()
        .take(MAX_LISTED_ROWS)
        .map(|(row, errors)| serde_json::json!({"row": row, "fields": fields(errors)}))
        .collect();
    let message = format!(
        "{count} of {total} rows are invalid, so none was {verb}; the first, row {first_row}: {} invalid field{}; {first_text}",
        first.len(),
        if first.len() == 1 { "" } else { "s" }
    );
    Error::invalid_with(
        message,
        serde_json::json!({
            "row": first_row, "fields": fields(first), "rows": rows, "invalid_rows": count,
            "unlisted_rows": count.saturating_sub(MAX_LISTED_ROWS),
        }),
    )
}

/// Why a model with no champion cannot answer: 503, naming the model and, when the champion was withdrawn,
/// who withdrew it, when and why (a business application must learn the model is out of production, not
/// that it does not exist).
async fn no_champion(warden: &Serving, model: &str) -> Error {
    let withdrawn = warden.metadata.alias_at(model, "champion", Micros::MAX).await.ok().flatten();
    let message = match withdrawn {
        Some(a) => format!(
            "model '{model}' has no version in production: its champion was withdrawn by {} at {} ({})",
            a.assigned_by,
            warden_core::Timestamp::from(a.assigned_at).whole_seconds(),
            a.reason
        ),
        None => format!("model '{model}' has no version in production: promote one to 'champion' through the gate"),
    };
    Error::Unavailable { message, retry_after: None }
}

#[allow(clippy::too_many_arguments)]
fn decision_record(
    now: Micros,
    model: &str,
    version: &LoadedVersion,
    route: Route,
    row: &Checked,
    scored: &Scored,
    decision: &str,
    latency: std::time::Duration,
) -> NewDecision {
    NewDecision {
        at: now,
        request_id: row.request_id.clone(),
        model_name: model.to_owned(),
        version: version.version.number,
        route: route.as_str().to_owned(),
        features: Value::Object(row.features.clone()),
        features_text: None,
        attributes: Value::Object(row.attributes.clone()),
        score: scored.score,
        probabilities: scored.probabilities.clone(),
        decision: decision.to_owned(),
        latency_us: latency.as_micros() as i64,
        source: warden_core::DecisionSource::Scored.as_str().to_owned(),
        late_period: None,
        subject: None,
    }
}

/// Scores the challenger on the same requests after the answering version. It runs on the request's task
/// (so a shadow adds its model's time to the answer) but never changes the answer, and its decisions are
/// dropped, and counted, rather than wait when the log's queue is full.
fn shadow(
    warden: &Serving,
    model: &str,
    challenger: &Arc<LoadedVersion>,
    assigned: &[(Arc<LoadedVersion>, Route, Checked)],
    now: Micros,
) {
    let started = Instant::now();
    let mut rows = Vec::with_capacity(assigned.len());
    for (_, _, checked) in assigned {
        // The challenger may have its own schema: re-check against it.
        let request = ScoreRequest {
            request_id: Some(checked.request_id.clone()),
            features: checked.features.clone(),
            attributes: checked.attributes.clone(),
            explain: false,
        };
        match check(&challenger.binding, request) {
            Ok(c) => rows.push(c),
            Err(_) => warden.scoring.metrics.error(model, "shadow_invalid_input"),
        }
    }
    if rows.is_empty() {
        return;
    }
    let refs: Vec<&Checked> = rows.iter().collect();
    match run(challenger, &refs) {
        Ok(scored) => {
            let latency = started.elapsed();
            for (row, scored) in rows.iter().zip(scored) {
                let Ok(decision) = challenger.decide(&scored).map(str::to_owned) else {
                    warden.scoring.metrics.error(model, "shadow_failed");
                    continue;
                };
                let record = decision_record(now, model, challenger, Route::Shadow, row, &scored, &decision, latency);
                if !warden.scoring.log.try_append(challenger.live.clone(), record) {
                    warden.scoring.metrics.error(model, "shadow_log_full");
                }
            }
            warden.scoring.metrics.scored(model, challenger.version.number, "shadow", rows.len(), latency);
        }
        Err(err) => {
            tracing::warn!(model, error = %err, "shadow scoring failed");
            warden.scoring.metrics.error(model, "shadow_failed");
        }
    }
}

/// A late label.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The scored request.
    pub request_id: String,
    /// 1 = the bad event happened (default, chargeback), 0 = it did not.
    pub label: i64,
    /// What kind of event (`default`, `chargeback`, …).
    pub kind: String,
    /// Amount involved (loss, chargeback value), if any.
    pub amount: Option<f64>,
    /// The realized value a regression model predicted (loss given default, exposure, income), if any.
    pub value: Option<f64>,
    /// The realized class a multiclass classifier predicted (one of its class labels), if any.
    pub class: Option<String>,
}

/// What is wrong with an outcome, by field.
pub(crate) fn outcome_errors(o: &Outcome) -> BTreeMap<&'static str, String> {
    let mut errors = BTreeMap::new();
    // Printable, as a decision's request id must be (so a control character, NUL among them, matches none).
    if o.request_id.is_empty() || o.request_id.len() > MAX_REQUEST_ID || o.request_id.chars().any(char::is_control) {
        errors.insert("request_id", format!("must be 1-{MAX_REQUEST_ID} printable characters"));
    }
    if !(o.label == 0 || o.label == 1) {
        errors.insert("label", "must be 0 or 1".to_owned());
    }
    if o.amount.is_some_and(|a| !(a.is_finite() && (0.0..=MAX_OUTCOME_AMOUNT).contains(&a))) {
        errors.insert("amount", format!("must be a number from 0 to {MAX_OUTCOME_AMOUNT:e}"));
    }
    if o.value.is_some_and(|v| !(v.is_finite() && v.abs() <= MAX_OUTCOME_AMOUNT)) {
        errors.insert("value", format!("must be a finite number of magnitude at most {MAX_OUTCOME_AMOUNT:e}"));
    }
    if o.kind.is_empty()
        || warden_registry::text::check("kind", &o.kind, 64, warden_registry::text::Lines::One).is_err()
    {
        errors.insert("kind", "must be 1-64 characters, no control characters".to_owned());
    }
    if o.class.as_deref().is_some_and(|class| {
        class.trim().is_empty()
            || warden_registry::text::check("class", class, 64, warden_registry::text::Lines::One).is_err()
    }) {
        errors.insert("class", "must be 1-64 characters, no control characters (a class label)".to_owned());
    }
    errors
}

/// Records late outcomes: all or none.
pub async fn record_outcomes(warden: &Serving, caller: &Principal, outcomes: Vec<Outcome>) -> Result<usize> {
    caller.require(Permission::RecordOutcomes)?;
    if outcomes.is_empty() {
        return Err(Error::invalid("no outcomes given"));
    }
    if outcomes.len() > MAX_BATCH_ROWS {
        return Err(Error::invalid(format!("at most {MAX_BATCH_ROWS} outcomes per request")));
    }
    let mut errors = BTreeMap::new();
    for (i, o) in outcomes.iter().enumerate() {
        errors.extend(outcome_errors(o).into_iter().map(|(f, m)| (format!("outcomes[{i}].{f}"), m)));
    }
    if !errors.is_empty() {
        return Err(field_errors(errors, None));
    }
    // Decisions still queued for the log must be visible before outcomes are matched to them.
    warden.scoring.log.flush().await?;
    let (at, by) = (warden.now(), caller.actor());
    let count = outcomes.len();
    let rows: Vec<NewOutcome> = outcomes
        .into_iter()
        .map(|o| NewOutcome {
            request_id: o.request_id,
            at,
            label: o.label,
            kind: o.kind,
            amount: o.amount,
            value: o.value,
            class: o.class,
            recorded_by: by.clone(),
        })
        .collect();
    warden.metadata.insert_outcomes(&rows).await?;
    Ok(count)
}

/// Logged decisions of a model, oldest first.
pub async fn decisions(
    warden: &Serving,
    caller: &Principal,
    model: &str,
    request_id: Option<&str>,
    limit: i64,
) -> Result<Vec<NewDecision>> {
    caller.require(Permission::ReadDecisions)?;
    if warden.metadata.get_model(model).await?.is_none() {
        return Err(Error::NotFound(format!("model '{model}' not found")));
    }
    warden.scoring.log.flush().await?;
    Ok(warden.metadata.decisions(model, request_id, limit.clamp(1, 100_000)).await?)
}

/// The live window profile of each loaded version of a model since it was loaded.
pub async fn live_profiles(warden: &Serving, caller: &Principal, model: &str) -> Result<Vec<(i64, Value)>> {
    caller.require(Permission::ReadDecisions)?;
    if warden.metadata.get_model(model).await?.is_none() {
        return Err(Error::NotFound(format!("model '{model}' not found")));
    }
    warden.scoring.log.flush().await?;
    let versions = warden.scoring.versions.read().expect("versions lock");
    let mut out: Vec<(i64, Value)> =
        versions.iter().filter(|((m, _), _)| m == model).map(|((_, n), v)| (*n, v.live.snapshot())).collect();
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}

/// One feature's drift over a recent window of live traffic against the version's reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveFeatureDrift {
    /// PSI: numeric features over the reference deciles (missing values as one more bin), categorical over
    /// categories; `None` with no decisions in the window.
    pub psi: Option<f64>,
    /// Jensen–Shannon distance over the same bins.
    pub jensen_shannon: Option<f64>,
    /// Share of decisions without a value.
    pub missing_rate: f64,
    /// Share of the reference without a value.
    pub reference_missing_rate: f64,
    /// Share of values outside the reference's range (numeric).
    pub out_of_range_rate: Option<f64>,
    /// Share of values in categories the reference never had (categorical).
    pub unseen_rate: Option<f64>,
    /// The window's values counted over the reference's bins (with the version's profile, the reference and
    /// current distributions: `warden_stats::distribution::compare`).
    pub window: WindowCounts,
}

/// A loaded version's recent traffic against its reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveDrift {
    /// Version number.
    pub version: i64,
    /// Start of the window (µs since the epoch, aligned to the 10-second buckets).
    pub since: i64,
    /// Decisions in the window.
    pub decisions: u64,
    /// Per feature.
    pub features: BTreeMap<String, LiveFeatureDrift>,
    /// PSI of the scores over the reference scores' deciles; `None` with no decisions.
    pub score_psi: Option<f64>,
    /// Jensen–Shannon distance of the scores over the same bins.
    pub score_jensen_shannon: Option<f64>,
    /// A multiclass classifier's decisions per class in the window, by class label (empty for other models).
    pub classes: BTreeMap<String, u64>,
    /// PSI of the decided classes' shares against the reference's (prediction drift of a multiclass
    /// classifier); `None` for other models or with no decisions.
    pub class_psi: Option<f64>,
    /// Share of decisions approved (score below the threshold).
    pub approval_rate: Option<f64>,
    /// Decisions and approvals per group of each monitor-only attribute.
    pub approvals: BTreeMap<String, GroupRateWindow>,
    /// Mean expected loss (PD × LGD × EAD of approved decisions) per decision, when the version has an LGD and
    /// an exposure column.
    pub expected_loss: Option<f64>,
    /// Requests refused by the schema checks in the window, and per field named in the refusals.
    pub refused: u64,
    /// Refusals per field.
    pub refused_fields: BTreeMap<String, u64>,
    /// Reconstruction errors per multivariate model installed on the version (by its key); the multivariate
    /// monitor's evaluations publish their figures.
    #[serde(skip_serializing)]
    pub reconstruction: BTreeMap<String, warden_stats::reconstruction::ErrorWindow>,
    /// Each segmentation's segments with their windows (segmented monitors compare each with its baseline).
    #[serde(skip_serializing)]
    pub segments: BTreeMap<String, BTreeMap<String, crate::decision_log::SegmentWindows>>,
}

/// Drift of the last `seconds` of live traffic (at most an hour) of each loaded version of a model, with the
/// statistics core's PSI: the computation the monitors run.
pub async fn live_drift(warden: &Serving, caller: &Principal, model: &str, seconds: i64) -> Result<Vec<LiveDrift>> {
    caller.require(Permission::ReadDecisions)?;
    if !(1..=3600).contains(&seconds) {
        return Err(Error::invalid("the window is 1 to 3600 seconds"));
    }
    if warden.metadata.get_model(model).await?.is_none() {
        return Err(Error::NotFound(format!("model '{model}' not found")));
    }
    warden.scoring.log.flush().await?;
    let since = warden.now() - seconds * 1_000_000;
    let mut drifts = Vec::new();
    for version in loaded_versions(warden, model) {
        let others = crate::replicas::other_buckets(warden, &version, Window::Since(since)).await?;
        drifts.push(version_drift(&version, Window::Since(since), &others));
    }
    Ok(drifts)
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Every loaded version of every model.
pub(crate) fn all_loaded_versions(warden: &Serving) -> Vec<Arc<LoadedVersion>> {
    warden.scoring.versions.read().expect("versions lock").values().cloned().collect()
}

/// The loaded versions of a model, by number.
pub fn loaded_versions(warden: &Serving, model: &str) -> Vec<Arc<LoadedVersion>> {
    let mut loaded: Vec<Arc<LoadedVersion>> = warden
        .scoring
        .versions
        .read()
        .expect("versions lock")
        .iter()
        .filter(|((m, _), _)| m == model)
        .map(|(_, v)| v.clone())
        .collect();
    loaded.sort_by_key(|v| v.version.number);
    loaded
}

/// Which recent decisions a monitor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// Those made at or after this time (µs).
    Since(i64),
    /// The newest 10-second buckets holding at least this many.
    Last(u64),
}

/// A loaded version's recent traffic against its reference, with other replicas' buckets merged in.
pub fn version_drift(version: &LoadedVersion, window: Window, others: &[RemoteBucket]) -> LiveDrift {
    let (windows, decisions, since) = match window {
        Window::Since(since) => {
            let (w, n) = version.live.since(since, others);
            let aligned = since.div_euclid(crate::decision_log::BUCKET_MICROS) * crate::decision_log::BUCKET_MICROS;
            (w, n, aligned)
        }
        Window::Last(count) => {
            let (w, n, start) = version.live.last(count, others);
            (w, n, start.unwrap_or(i64::MAX))
        }
    };
    windows_drift(version, windows, decisions, since, None)
}

/// Figures of some windows of a version (live, or reference rows replayed) against its reference. With
/// `held_out` (reference rows replayed), they are compared with the rest of the reference: a live sample is
/// independent of the reference, and a chunk compared with a reference that contains it looks closer than
/// such a sample would.
pub fn windows_drift(
    version: &LoadedVersion,
    windows: LiveWindows,
    decisions: u64,
    since: i64,
    held_out: Option<&LiveWindows>,
) -> LiveDrift {
    drift_against(version, windows, decisions, since, None, held_out)
}

/// Figures of one segment's windows against the reference rows of that segment (`baseline`, replayed through
/// the same windows), or against the whole reference without one.
pub fn segment_drift(
    version: &LoadedVersion,
    windows: LiveWindows,
    decisions: u64,
    since: i64,
    baseline: Option<&LiveWindows>,
) -> LiveDrift {
    drift_against(version, windows, decisions, since, baseline, None)
}

fn drift_against(
    version: &LoadedVersion,
    windows: LiveWindows,
    decisions: u64,
    since: i64,
    baseline: Option<&LiveWindows>,
    held_out: Option<&LiveWindows>,
) -> LiveDrift {
    use crate::decision_log::FeatureWindow;
    let profile = &version.version.profile;
    let share = |part: u64| if decisions == 0 { 0.0 } else { part as f64 / decisions as f64 };
    let minus = |all: &[u64], part: Option<&[u64]>| -> Vec<u64> {
        all.iter().enumerate().map(|(i, &n)| n.saturating_sub(part.map_or(0, |p| p[i]))).collect()
    };
    let names: Vec<String> = version.live.feature_names().map(str::to_owned).collect();
    let features = names
        .into_iter()
        .zip(windows.features)
        .enumerate()
        .filter_map(|(i, (name, window))| {
            let reference = &profile.columns.iter().find(|c| c.name == name)?.summary;
            let held = held_out.map(|h| &h.features[i]);
            let base = baseline.map(|b| &b.features[i]);
            let drift = match (window, reference) {
                (FeatureWindow::Numeric(w), ColumnSummary::Numeric(r)) => {
                    let (all, all_missing) = match base {
                        Some(FeatureWindow::Numeric(b)) => (b.bin_counts.clone(), b.missing + b.non_finite),
                        _ => (r.bin_counts.clone(), r.missing),
                    };
                    let reference_missing_rate = rate(all_missing, all.iter().sum::<u64>() + all_missing);
                    let (counts, missing) = match held {
                        Some(FeatureWindow::Numeric(h)) => {
                            (minus(&all, Some(&h.bin_counts)), all_missing.saturating_sub(h.missing + h.non_finite))
                        }
                        _ => (all, all_missing),
                    };
                    LiveFeatureDrift {
                        psi: binned(decisions, warden_stats::drift::binned_psi, (&counts, missing), &w),
                        jensen_shannon: binned(decisions, warden_stats::drift::binned_js, (&counts, missing), &w),
                        missing_rate: share(w.missing + w.non_finite),
                        reference_missing_rate: match base {
                            Some(_) => reference_missing_rate,
                            None => rate(r.missing, r.count + r.missing),
                        },
                        out_of_range_rate: Some(share(w.out_of_range)),
                        unseen_rate: None,
                        window: WindowCounts::Numeric { bins: w.bin_counts.clone(), missing: w.missing + w.non_finite },
                    }
                }
                (FeatureWindow::Categorical(w), ColumnSummary::Categorical(r)) => {
                    let (mut frequencies, reference_missing_rate) = match base {
                        Some(FeatureWindow::Categorical(b)) => {
                            let counted = b.counts.values().sum::<u64>();
                            (b.counts.clone(), rate(b.missing, counted + b.missing))
                        }
                        _ => (r.frequencies.clone(), rate(r.missing, r.count + r.missing)),
                    };
                    let shown = frequencies.clone();
                    if let Some(FeatureWindow::Categorical(h)) = held {
                        for (category, n) in &h.counts {
                            if let Some(f) = frequencies.get_mut(category) {
                                *f = f.saturating_sub(*n);
                            }
                        }
                    }
                    let drift = warden_stats::drift::categorical_drift(&frequencies, &w.counts);
                    LiveFeatureDrift {
                        psi: (decisions > 0).then_some(drift.psi),
                        jensen_shannon: (decisions > 0).then_some(drift.js_distance),
                        missing_rate: share(w.missing),
                        reference_missing_rate,
                        out_of_range_rate: None,
                        unseen_rate: Some(share(drift.unseen_count)),
                        window: WindowCounts::categorical(&w.counts, &shown, w.missing),
                    }
                }
                _ => return None,
            };
            Some((name, drift))
        })
        .collect();
    let all_scores =
        baseline.map_or_else(|| version.live.reference_score_counts.clone(), |b| b.score.bin_counts.clone());
    let reference_scores = minus(&all_scores, held_out.map(|h| h.score.bin_counts.as_slice()));
    let scored = if windows.score.count > 0 { decisions } else { 0 };
    let score_psi = binned(scored, warden_stats::drift::binned_psi, (&reference_scores, 0), &windows.score);
    let score_jensen_shannon = binned(scored, warden_stats::drift::binned_js, (&reference_scores, 0), &windows.score);
    let labels = &version.version.serving.classes;
    let by_label =
        |counts: &[u64]| -> BTreeMap<String, u64> { labels.iter().cloned().zip(counts.iter().copied()).collect() };
    let class_psi = (!labels.is_empty() && windows.classes.iter().sum::<u64>() > 0).then(|| {
        let all = baseline.map_or_else(|| version.live.reference_class_counts.clone(), |b| b.classes.clone());
        let reference = minus(&all, held_out.map(|h| h.classes.as_slice()));
        warden_stats::drift::categorical_drift(&by_label(&reference), &by_label(&windows.classes)).psi
    });
    let priced = version.version.serving.lgd.is_some() && version.version.serving.exposure_column.is_some();
    LiveDrift {
        version: version.version.number,
        since,
        decisions,
        features,
        score_psi,
        score_jensen_shannon,
        classes: by_label(&windows.classes),
        class_psi,
        approval_rate: (decisions > 0 && labels.is_empty()).then(|| share(windows.approved)),
        approvals: windows.approvals,
        refused: windows.refused,
        refused_fields: windows.refused_fields,
        reconstruction: windows.reconstruction,
        segments: windows.segments,
        expected_loss: (priced && decisions > 0).then(|| windows.expected_loss / decisions as f64),
    }
}

/// A binned statistic of a numeric window against reference bin counts and missing count; `None` without
/// decisions. Non-finite values count as missing, as the drift report counts them.
fn binned(
    decisions: u64,
    statistic: fn(&[u64], u64, &[u64], u64) -> f64,
    (reference, reference_missing): (&[u64], u64),
    window: &warden_stats::window::NumericWindow,
) -> Option<f64> {
    (decisions > 0)
        .then(|| statistic(reference, reference_missing, &window.bin_counts, window.missing + window.non_finite))
}

/// Reference edges and range of a numeric feature (for the live windows).
pub(crate) fn reference_bins(version: &Version, feature: &str) -> Option<(Vec<f64>, (f64, f64))> {
    version.profile.columns.iter().find(|c| c.name == feature).and_then(|c| match &c.summary {
        ColumnSummary::Numeric(s) => Some((s.decile_edges.clone(), (s.min?, s.max?))),
        ColumnSummary::Categorical(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_share_is_stable_and_close_to_the_fraction() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("app-{i}")).collect();
        let hits = ids.iter().filter(|id| in_canary_share("credit", id, 0.1)).count();
        assert!((1_800..2_200).contains(&hits), "{hits} of 20000 in a 10% share");
        assert!(ids.iter().all(|id| in_canary_share("credit", id, 0.1) == in_canary_share("credit", id, 0.1)));
        assert!(!ids.iter().any(|id| in_canary_share("credit", id, 0.0)));
        assert!(ids.iter().all(|id| in_canary_share("credit", id, 1.0)));
    }
}
