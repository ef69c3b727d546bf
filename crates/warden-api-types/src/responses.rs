//! Bodies of the responses that mirror the lifecycle's records: validation reports, approvals, gate
//! decisions, policy bundles, the ledger, monitors, alerts, incidents, retraining, the overview.
//!
//! Times here are microseconds since the epoch (integers), as they have always been on these routes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use warden_core::{
    AlertState, FindingKind, FindingSeverity, FindingState, IncidentState, JobStatus, ModelTask, MonitorKind, RiskTier,
    ScanFormat, Severity, TierBasis,
};

/// A version's decision threshold and labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServingConfig {
    /// What the score is: `binary_classification` (default; a probability), `regression` (a predicted value) or
    /// `multiclass_classification` (the predicted class's probability; the decision is the class).
    #[serde(default, skip_serializing_if = "ModelTask::is_binary")]
    pub task: ModelTask,
    /// A multiclass classifier's class labels, in the order of the model's outputs: its decisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// Scores at or above it get the positive decision (default 0.5; in [0, 1] unless a regression).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// The decision for a score at or above the threshold (default `decline`).
    #[serde(default = "default_positive")]
    pub positive_decision: String,
    /// The decision below the threshold (default `approve`).
    #[serde(default = "default_negative")]
    pub negative_decision: String,
    /// Reason codes returned with explain (default 4).
    #[serde(default = "default_reason_count")]
    pub reason_count: usize,
    /// Loss given default, for expected loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lgd: Option<f64>,
    /// The column holding the exposure at default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure_column: Option<String>,
}

fn default_threshold() -> f64 {
    0.5
}
fn default_positive() -> String {
    "decline".into()
}
fn default_negative() -> String {
    "approve".into()
}
fn default_reason_count() -> usize {
    4
}

// ---------------------------------------------------------------- validation

/// ROC AUC with its DeLong confidence interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AucInterval {
    /// ROC AUC.
    pub auc: f64,
    /// DeLong variance of the AUC.
    pub variance: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
}

/// Discrimination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Discrimination {
    /// ROC AUC.
    pub auc: Option<f64>,
    /// 95% DeLong interval (null with fewer than 30 of either class).
    pub auc_interval: Option<AucInterval>,
    /// 2·AUC − 1.
    pub gini: Option<f64>,
    /// Kolmogorov–Smirnov separation.
    pub ks: Option<f64>,
    /// The ROC curve: `[false positive rate, true positive rate]` points.
    #[serde(default)]
    pub roc: Vec<[f64; 2]>,
}

/// One calibration bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CalibrationBin {
    /// Bin index 0..9.
    pub bin: usize,
    /// Rows in the bin.
    pub n: u64,
    /// Mean score in the bin (null when empty).
    pub mean_pred: Option<f64>,
    /// Observed bad rate in the bin.
    pub mean_true: Option<f64>,
}

/// Calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Calibration {
    /// Brier score.
    pub brier: f64,
    /// Log loss.
    pub log_loss: f64,
    /// Expected calibration error (10 bins).
    pub ece: f64,
    /// Mean score against observed bad rate per bin.
    pub reliability: Vec<CalibrationBin>,
}

/// A regression model's figures on realized values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegressionFigures {
    /// Rows.
    pub n: usize,
    /// Mean absolute error.
    pub mae: f64,
    /// Mean squared error.
    pub mse: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute percentage error (a fraction).
    pub mape: f64,
    /// Coefficient of determination.
    pub r2: f64,
    /// Σ predicted − Σ realized, weighed by each row's exposure when the version names an exposure column;
    /// negative: under-provisioned.
    pub expected_loss_error: f64,
    /// |expected_loss_error| over Σ realized (weighed likewise).
    pub relative_expected_loss_error: Option<f64>,
}

/// The score distribution by outcome, 20 bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScoreHistogram {
    /// Bad rows per bin.
    pub bad: Vec<u64>,
    /// Good rows per bin.
    pub good: Vec<u64>,
}

/// A multiclass classifier's figures on realized classes (scikit-learn's definitions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MulticlassFigures {
    /// The class labels, in the version's order (every list below follows it).
    pub classes: Vec<String>,
    /// Share of rows whose decided class is the realized one.
    pub accuracy: f64,
    /// Mean of the classes' one-vs-rest AUCs (null when a class is absent from the outcomes).
    pub auc_macro: Option<f64>,
    /// Each class's one-vs-rest AUC.
    pub auc_per_class: Vec<Option<f64>>,
    /// Unweighted mean of the classes' precision.
    pub precision_macro: f64,
    /// Unweighted mean of the classes' recall.
    pub recall_macro: f64,
    /// Unweighted mean of the classes' F1.
    pub f1_macro: f64,
    /// `confusion[realized][decided]` row counts.
    pub confusion: Vec<Vec<u64>>,
    /// Share of rows realized in each class.
    pub realized_shares: Vec<f64>,
    /// Share of rows decided as each class.
    pub decided_shares: Vec<f64>,
}

/// One version's figures on the validation data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Figures {
    /// Version number.
    pub version: i64,
    /// Discrimination (for a regression model, of its decision rule: a realized value at or above the
    /// threshold counts as the bad event).
    pub discrimination: Discrimination,
    /// Calibration (null for a regression model: a predicted value is not a probability).
    pub calibration: Option<Calibration>,
    /// A regression model's figures on the realized values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<RegressionFigures>,
    /// A multiclass classifier's figures on the realized classes (its discrimination holds the macro AUC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiclass: Option<MulticlassFigures>,
    /// Share approved (null for a multiclass classifier, whose decision is a class).
    pub approval_rate: Option<f64>,
    /// Mean score.
    pub mean_score: f64,
    /// The score distribution by outcome.
    #[serde(default)]
    pub score_histogram: Option<ScoreHistogram>,
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupFigures {
    /// Rows.
    pub rows: u64,
    /// Share approved.
    pub approval_rate: f64,
}

/// Fairness for one protected attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttributeFairness {
    /// Which outcome the figures count as favourable, and who is qualified: approval (a score below the
    /// threshold), a good outcome (label 0).
    pub favourable_outcome: String,
    /// Lowest group approval rate over the highest.
    pub disparate_impact: Option<f64>,
    /// Highest minus lowest approval rate.
    pub approval_rate_difference: f64,
    /// Largest gap in true- or false-positive rate between groups.
    pub equalized_odds_difference: f64,
    /// Per group.
    pub groups: BTreeMap<String, GroupFigures>,
}

/// Stability against the reference data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stability {
    /// PSI per feature.
    pub psi: BTreeMap<String, f64>,
    /// The largest feature PSI.
    pub max_feature_psi: f64,
    /// PSI of the score.
    pub score_psi: f64,
    /// Multivariate drift of the validation data (NannyML's reconstruction error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multivariate: Option<MultivariateStability>,
    /// Per feature, the relative change of the mean absolute contribution from the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation_shift: Option<BTreeMap<String, f64>>,
}

/// The validation data's reconstruction error against the reference's chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MultivariateStability {
    /// Mean reconstruction error of the validation rows.
    pub reconstruction_error: f64,
    /// Mean reconstruction error of the reference rows.
    pub reference_error: f64,
    /// Upper band (reference chunks' mean + 3σ).
    pub upper_band: Option<f64>,
    /// Lower band, when above 0.
    pub lower_band: Option<f64>,
    /// Outside the bands.
    pub alert: bool,
    /// Principal components kept.
    pub components: usize,
}

/// Data quality of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Quality {
    /// Rows.
    pub rows: u64,
    /// Missing values.
    pub missing: u64,
    /// Share missing.
    pub missing_rate: f64,
    /// NaN or infinite values.
    pub non_finite: u64,
    /// Values of the wrong type.
    pub type_violations: u64,
    /// Values outside the reference range (numeric).
    pub out_of_range: Option<u64>,
    /// Categories the reference never saw (categorical).
    pub unseen_categories: Option<u64>,
}

/// A figure before and under stress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delta {
    /// On the data as given.
    pub baseline: f64,
    /// Under the scenario.
    pub stressed: f64,
    /// Stressed minus baseline.
    pub change: f64,
}

/// One stress scenario's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScenarioResult {
    /// Name.
    pub name: String,
    /// Its changes as written.
    pub changes: Vec<String>,
    /// Share approved.
    pub approval_rate: Delta,
    /// Mean predicted probability of default.
    pub mean_pd: Delta,
    /// Σ PD × LGD × EAD (null without a loss configuration).
    pub expected_loss: Option<Delta>,
}

/// A stored validation report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ValidationReportBody {
    /// Id.
    pub id: i64,
    /// Model.
    pub model: String,
    /// Version.
    pub version: i64,
    /// When (µs since the epoch).
    pub created_at: i64,
    /// Who ran it.
    pub created_by: String,
    /// SHA-256 of the validation data.
    pub data_sha256: String,
    /// Rows.
    pub rows: u64,
    /// Share of bad rows (null for a multiclass classifier, whose target holds classes).
    pub bad_rate: Option<f64>,
    /// The label column.
    pub target: String,
    /// The target value counted as bad (empty for a multiclass classifier).
    pub bad_value: String,
    /// The version's decision threshold.
    pub threshold: f64,
    /// What the version's score is: `binary_classification`, `regression` or `multiclass_classification`.
    #[serde(default)]
    pub task: ModelTask,
    /// This version's figures.
    pub figures: Figures,
    /// Per protected attribute.
    pub fairness: BTreeMap<String, AttributeFairness>,
    /// Against the reference data.
    pub stability: Stability,
    /// Per feature.
    pub data_quality: BTreeMap<String, Quality>,
    /// Mean absolute contribution per feature (null when the model cannot explain).
    pub explanation: Option<BTreeMap<String, f64>>,
    /// The champion's figures on the same data.
    pub champion: Option<Figures>,
    /// Stress scenarios.
    #[serde(default)]
    pub scenarios: Vec<ScenarioResult>,
    /// What a reader must know before trusting the figures: the validation data's SHA-256 equal to the
    /// training data's recorded in the lineage (in-sample figures), for one.
    #[serde(default)]
    pub warnings: Vec<String>,
}

// ---------------------------------------------------------------- governance

/// `approve` or `reject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Sign-off.
    Approve,
    /// Refusal.
    Reject,
}

/// One person's decision on a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalBody {
    /// Token name.
    pub by: String,
    /// Their role when they decided.
    pub role: String,
    /// Approve or reject.
    pub decision: Verdict,
    /// Why.
    pub comment: String,
    /// When (µs since the epoch).
    pub at: i64,
}

/// A recorded gate decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GateDecisionBody {
    /// Names the decision in the decision log and on the alias move it allowed.
    pub decision_id: String,
    /// Model.
    pub model: String,
    /// Version.
    pub version: i64,
    /// The alias the version would move to.
    pub alias: String,
    /// The bundle in force.
    pub bundle_number: i64,
    /// Its digest.
    pub bundle_digest: String,
    /// SHA-256 of the input document (canonical JSON).
    pub input_sha256: String,
    /// `check` or `promote`.
    pub purpose: String,
    /// When (µs since the epoch).
    pub at: i64,
    /// Whether the gate allows.
    pub allow: bool,
    /// Every objection.
    pub deny: Vec<String>,
    /// Warnings.
    pub warn: Vec<String>,
    /// The input document the policies saw (free-form: whatever the bundle's policies read).
    #[schema(value_type = Value)]
    pub input: Value,
}

/// A promotion that went ahead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromotionBody {
    /// Model.
    pub model: String,
    /// The alias moved.
    pub alias: String,
    /// The version it points at now.
    pub version: Option<i64>,
    /// The version it pointed at before.
    pub previous_version: Option<i64>,
    /// Went ahead against the gate.
    pub overridden: bool,
    /// Why.
    pub reason: String,
    /// The gate's decision (a refusal when overridden).
    pub decision: GateDecisionBody,
}

/// A policy bundle with its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyBundleInfoBody {
    /// 1, 2, ... in the order they were put in force.
    pub number: i64,
    /// When (µs since the epoch).
    pub created_at: i64,
    /// Who.
    pub created_by: String,
    /// SHA-256 over the bundle's paths and texts.
    pub digest: String,
    /// Path → text.
    pub files: BTreeMap<String, String>,
}

/// A policy bundle in the history: its file paths only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyBundleSummary {
    /// Number.
    pub number: i64,
    /// When (µs since the epoch).
    pub created_at: i64,
    /// Who.
    pub created_by: String,
    /// Digest.
    pub digest: String,
    /// Paths.
    pub files: Vec<String>,
}

// ---------------------------------------------------------------- ledger

/// A ledger entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntryBody {
    /// Index.
    pub index: u64,
    /// When (µs since the epoch).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// SHA-256 of the payload.
    pub payload_sha256: String,
    /// Hash of the previous entry.
    pub prev: String,
    /// The Merkle leaf hash.
    pub leaf_hash: String,
    /// The canonical JSON hashed.
    pub canonical: String,
}

/// A signed checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckpointBody {
    /// Id.
    pub id: i64,
    /// Entries covered.
    pub tree_size: u64,
    /// Merkle root.
    pub root: String,
    /// When (µs since the epoch).
    pub at: i64,
    /// The signed note.
    pub note: String,
}

/// An inclusion proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InclusionProofBody {
    /// The entry.
    pub entry: LedgerEntryBody,
    /// Sibling hashes.
    pub proof: Vec<String>,
    /// The checkpoint proven against.
    pub checkpoint: CheckpointBody,
    /// The verifier key.
    pub key: String,
}

/// A model's regulatory traceability matrix for one framework.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceabilityBody {
    pub model: String,
    /// `sr-26-2`, `ss1-23` or `eu-ai-act`.
    pub framework: String,
    pub framework_title: String,
    /// The size of the signed checkpoint the entries were read under.
    pub ledger_size: u64,
    pub requirements: Vec<TracedRequirementBody>,
    /// Requirements with no evidence.
    pub gaps: usize,
}

/// One requirement of a framework and the entries that evidence it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TracedRequirementBody {
    pub id: String,
    pub title: String,
    /// The kinds of record looked for.
    pub looked_for: Vec<String>,
    /// The model's entries of those kinds.
    pub entries: usize,
    /// The newest of them (at most five).
    pub latest: Vec<TracedEntryBody>,
    /// `evidenced` or `no evidence`.
    pub status: String,
}

/// A ledger entry a matrix cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TracedEntryBody {
    pub index: u64,
    pub action: String,
    pub subject: String,
    /// µs since the epoch.
    pub at: i64,
    pub actor: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VerificationBody {
    /// Everything checks out.
    pub ok: bool,
    /// Entries checked.
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// The first entry that does not.
    pub first_bad_entry: Option<u64>,
    /// What is wrong.
    pub problems: Vec<String>,
    /// Time taken.
    pub seconds: f64,
}

// ---------------------------------------------------------------- monitoring

/// Thresholds learned from the reference data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LearnedThresholds {
    /// Standard deviations (default 3).
    #[serde(default = "default_k")]
    pub k: f64,
    /// Rows per chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<u64>,
}

fn default_k() -> f64 {
    3.0
}

/// A change to a monitor (absent fields keep their value; a new monitor starts from its kind's defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorChangeBody {
    /// One of the monitor kinds (a new monitor needs it unless its name is a kind). Text here: an unknown kind
    /// is refused by the lifecycle with the list of kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<MonitorKind>)]
    pub kind: Option<String>,
    /// Window length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<i64>,
    /// Window of the newest N decisions instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_decisions: Option<u64>,
    /// Minimum decisions in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_decisions: Option<u64>,
    /// The statistic watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// Warning threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<f64>,
    /// Alert threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<f64>,
    /// Learn the thresholds from the reference data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<LearnedThresholds>,
    /// Only these features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// Protected attribute (fairness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// Target (performance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Bad value (performance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_value: Option<String>,
    /// Consecutive breaching evaluations before alerting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive: Option<u32>,
    /// Consecutive clean evaluations before an open alert resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_after: Option<u32>,
    /// Split by the value of this decision attribute or feature (drift and data quality): each segment gets
    /// its own figures, bands and alerts; `""` stops splitting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_by: Option<String>,
    /// Most segments with figures of their own (1 to 50, default 20); later values share `(other)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_segments: Option<u32>,
    /// Below this many decisions a segment is `insufficient` (default `min_decisions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_segment_decisions: Option<u64>,
    /// Evaluated on the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// What a critical alert does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// A monitor's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonitorConfigBody {
    /// Window length.
    pub window_seconds: i64,
    /// Window of the newest N decisions instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_decisions: Option<u64>,
    /// Minimum decisions in the window.
    pub min_decisions: u64,
    /// The statistic watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// Warning threshold.
    pub warn: f64,
    /// Alert threshold.
    pub alert: f64,
    /// Learned thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<LearnedThresholds>,
    /// Only these features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// Protected attribute (fairness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// Target (performance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Bad value (performance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_value: Option<String>,
    /// Consecutive breaching evaluations before alerting.
    pub consecutive: u32,
    /// Consecutive clean (`ok`) evaluations before an open alert resolves.
    pub resolve_after: u32,
    /// Split by the value of this decision attribute or feature (drift and data quality): each segment gets
    /// its own figures, bands and alerts;
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_by: Option<String>,
    /// Most segments with figures of their own (1 to 50, default 20); later values share `(other)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_segments: Option<u32>,
    /// Below this many decisions a segment is `insufficient` (default `min_decisions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_segment_decisions: Option<u64>,
    /// What a critical alert does.
    pub action: String,
}

/// A monitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonitorBody {
    /// Model.
    pub model: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: MonitorKind,
    /// Configuration.
    pub config: MonitorConfigBody,
    /// Evaluated on the schedule.
    pub enabled: bool,
    /// Last change (µs since the epoch).
    pub updated_at: i64,
    /// Who changed it last.
    pub updated_by: String,
}

/// How many evaluations a round made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvaluationCount {
    /// Evaluations.
    pub evaluations: usize,
}

/// A monitor evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonitorEvaluationBody {
    /// Monitor.
    pub monitor: String,
    /// When (µs since the epoch).
    pub at: i64,
    /// The version evaluated.
    pub version: i64,
    /// Start of the window (µs).
    pub window_start: i64,
    /// Decisions in the window.
    pub decisions: i64,
    /// `ok`, `warn`, `alert` or `insufficient`.
    pub status: String,
    /// The headline value.
    pub value: Option<f64>,
    /// Per-feature figures (their shape depends on the monitor's kind).
    #[schema(value_type = Value)]
    pub details: Value,
}

/// An alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertBody {
    /// Id.
    pub id: i64,
    /// Model.
    pub model: String,
    /// Monitor.
    pub monitor: String,
    /// Feature (empty for the monitor as a whole).
    pub feature: String,
    /// The version whose traffic raised it (an alert never changes version).
    pub version: i64,
    /// Severity.
    pub severity: Severity,
    /// State.
    pub state: AlertState,
    /// When it fired (µs).
    pub opened_at: i64,
    /// Last change (µs).
    pub updated_at: i64,
    /// The monitor's value when it fired, escalated or resolved.
    pub value: Option<f64>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When resolved (µs).
    pub resolved_at: Option<i64>,
    /// Its incident.
    pub incident_id: Option<i64>,
}

/// An event in an alert's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertEventBody {
    /// When (µs).
    pub at: i64,
    /// `fired`, `escalated`, `acknowledged`, `resolved`, an action...
    pub kind: String,
    /// Who.
    pub actor: String,
    /// Details (their shape depends on the kind; an `action`'s `outcome` is tagged by `result`:
    /// `rolled_back`, `canary_stopped`, `retrained` or `not_possible` with its `reason`).
    #[schema(value_type = Value)]
    pub details: Value,
    /// The event in words ("rollback not possible: no earlier gate-approved version to roll back to").
    pub summary: String,
}

/// An alert with its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertWithEvents {
    /// The alert.
    #[serde(flatten)]
    pub alert: AlertBody,
    /// Its events, oldest first.
    pub events: Vec<AlertEventBody>,
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncidentBody {
    /// Id.
    pub id: i64,
    /// Model.
    pub model: String,
    /// What opened it.
    pub title: String,
    /// State.
    pub state: IncidentState,
    /// When (µs).
    pub opened_at: i64,
    /// When resolved (µs).
    pub resolved_at: Option<i64>,
    /// Seconds from the first decision of the first breaching window to the alert that opened it.
    pub time_to_detect_seconds: f64,
    /// Seconds from opening to resolution.
    pub time_to_resolve_seconds: Option<f64>,
    /// Who resolved it by hand (none while open, or when it resolved with its alerts).
    pub resolved_by: Option<String>,
    /// Why they resolved it.
    pub resolution: Option<String>,
}

/// A finding as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FindingBody {
    /// Id.
    pub id: i64,
    /// Model.
    pub model: String,
    /// The version it concerns (none: every version).
    pub version: Option<i64>,
    /// What it records.
    pub kind: FindingKind,
    /// How grave it is.
    pub severity: FindingSeverity,
    /// A line.
    pub title: String,
    /// What was found.
    pub description: String,
    /// Who must remediate it.
    pub owner: String,
    /// Where it is in its life.
    pub state: FindingState,
    /// Who raised it.
    pub raised_by: String,
    /// When (µs).
    pub raised_at: i64,
    /// When it must be remediated by (µs).
    pub due_at: i64,
    /// Whether it is unresolved past its due date.
    pub overdue: bool,
    /// The proposed remediation.
    pub remediation: Option<String>,
    /// Who proposed it.
    pub remediation_by: Option<String>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// When (µs).
    pub closed_at: Option<i64>,
    /// What shows it remediated.
    pub evidence: Option<String>,
    /// Who accepted it as a limitation.
    pub accepted_by: Option<String>,
    /// Until when (µs).
    pub accepted_until: Option<i64>,
    /// Who granted the policy exception covering it.
    pub exception_by: Option<String>,
    /// Until when (µs).
    pub exception_until: Option<i64>,
    /// Why.
    pub exception_reason: Option<String>,
    /// When it last changed (µs).
    pub updated_at: i64,
    /// The scan an imported vulnerability came from (format, tool and target).
    pub scan_scope: Option<String>,
    /// What makes it the same finding from one import of its scan to the next (rule and location).
    pub scan_key: Option<String>,
}

/// What importing a scanner report did to a version's findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScanImportBody {
    /// The report's format.
    pub format: ScanFormat,
    /// The scanner, as the report names it.
    pub tool: String,
    /// What it scanned, as the report names it.
    pub target: String,
    /// The scan this import follows up (format, tool and target): its findings that the report no longer has
    /// are closed.
    pub scope: String,
    /// SHA-256 of the report's bytes (hex).
    pub report_sha256: String,
    /// Findings raised: reported now, unresolved in no earlier import of this scan.
    pub raised: Vec<FindingBody>,
    /// Findings of this scan's earlier imports that the report no longer has, closed as remediated.
    pub closed: Vec<FindingBody>,
    /// Ids of this scan's findings reported again, left as they are.
    pub still_reported: Vec<i64>,
}

/// An event of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncidentEventBody {
    /// When (µs).
    pub at: i64,
    /// What happened.
    pub kind: String,
    /// Who.
    pub actor: String,
    /// Details (their shape depends on the kind).
    #[schema(value_type = Value)]
    pub details: Value,
    /// The event in words.
    pub summary: String,
    /// The alert's id (none for the incident's own resolution).
    pub alert: Option<i64>,
    /// Its monitor (empty for the incident's own resolution).
    pub monitor: String,
    /// Its feature.
    pub feature: String,
    /// The version the alert belongs to.
    pub version: Option<i64>,
}

/// An incident with its timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncidentWithTimeline {
    /// The incident.
    #[serde(flatten)]
    pub incident: IncidentBody,
    /// Alerts, actions, acknowledgements, resolution, oldest first.
    pub timeline: Vec<IncidentEventBody>,
}

// ---------------------------------------------------------------- scoring

/// Live drift of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LiveFeatureDriftBody {
    /// PSI.
    pub psi: Option<f64>,
    /// Jensen-Shannon distance.
    pub jensen_shannon: Option<f64>,
    /// Share missing.
    pub missing_rate: f64,
    /// Share missing in the reference.
    pub reference_missing_rate: f64,
    /// Share out of the reference range.
    pub out_of_range_rate: Option<f64>,
    /// Share of unseen categories.
    pub unseen_rate: Option<f64>,
    /// The window's values counted over the reference's bins: with the version's profile (its decile edges
    /// and bin counts, or category frequencies), the reference and current distributions.
    pub window: WindowCountsBody,
}

/// A window's values of one feature counted over its reference's bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum WindowCountsBody {
    /// A numeric feature: counts in the reference's right-closed decile bins (one more than its edges).
    Numeric {
        /// Count per bin.
        bins: Vec<u64>,
        /// Missing or non-finite values.
        missing: u64,
    },
    /// A categorical feature: count per category (every reference category seen, the 20 most frequent
    /// unseen ones, the other unseen ones pooled as `(other unseen categories)`).
    Categorical {
        /// Count per category.
        categories: BTreeMap<String, u64>,
        /// Missing values.
        missing: u64,
    },
}

/// Approvals per group of a protected attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupRateWindowBody {
    /// Group → `[approved, total]`.
    pub groups: BTreeMap<String, [u64; 2]>,
}

/// Live drift of one loaded version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LiveDriftBody {
    /// Version.
    pub version: i64,
    /// Start of the window (µs).
    pub since: i64,
    /// Decisions in the window.
    pub decisions: u64,
    /// Per feature.
    pub features: BTreeMap<String, LiveFeatureDriftBody>,
    /// PSI of the score.
    pub score_psi: Option<f64>,
    /// Jensen-Shannon distance of the score.
    pub score_jensen_shannon: Option<f64>,
    /// A multiclass classifier's decisions per class in the window, by class label (empty for other models).
    #[serde(default)]
    pub classes: BTreeMap<String, u64>,
    /// PSI of the decided classes' shares against the reference's (a multiclass classifier's prediction
    /// drift); null for other models or with no decisions.
    pub class_psi: Option<f64>,
    /// Share approved.
    pub approval_rate: Option<f64>,
    /// Per protected attribute.
    pub approvals: BTreeMap<String, GroupRateWindowBody>,
    /// Expected loss.
    pub expected_loss: Option<f64>,
    /// Requests refused.
    pub refused: u64,
    /// Refusals per field.
    pub refused_fields: BTreeMap<String, u64>,
}

// ---------------------------------------------------------------- retraining

/// An external trainer's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExternalRunBody {
    /// The command.
    pub command: String,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Time taken.
    pub seconds: f64,
    /// Output (tail).
    pub log: String,
}

/// A retraining job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RetrainJobBody {
    /// Id.
    pub id: i64,
    /// Model.
    pub model: String,
    /// Trainer.
    pub trainer: String,
    /// Who asked.
    pub requested_by: String,
    /// The alert that triggered it.
    pub alert_id: Option<i64>,
    /// How it ended.
    pub status: JobStatus,
    /// The version the candidate descends from.
    pub parent_version: Option<i64>,
    /// The candidate.
    pub version: Option<i64>,
    /// Training rows.
    pub training_rows: usize,
    /// Held-out rows.
    pub validation_rows: usize,
    /// SHA-256 of the training data.
    pub training_data_sha256: Option<String>,
    /// Held-out AUC.
    pub validation_auc: Option<f64>,
    /// The gate's objections for champion.
    pub gate_deny: Vec<String>,
    /// The alias deployed to.
    pub deployed_as: Option<String>,
    /// What went wrong.
    pub error: Option<String>,
    /// External trainers' run.
    pub external: Option<ExternalRunBody>,
    /// When it started (µs).
    pub started_at: i64,
    /// Time taken.
    pub seconds: f64,
    /// Steps.
    pub log: Vec<String>,
}

/// A retraining schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleInfo {
    /// Model.
    pub model: String,
    /// Trainer.
    pub trainer: String,
    /// Hours between jobs.
    pub every_hours: f64,
    /// Next run (µs).
    pub next_at: i64,
    /// Who set it.
    pub updated_by: String,
}

/// Champion versus challenger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChallengerReportBody {
    /// Model.
    pub model: String,
    /// Requests scored by both.
    pub requests: usize,
    /// Versions that answered.
    pub served_versions: Vec<i64>,
    /// Versions in shadow.
    pub shadow_versions: Vec<i64>,
    /// Share of equal decisions.
    pub agreement: Option<f64>,
    /// Mean shadow minus served score.
    pub mean_score_difference: Option<f64>,
    /// Requests with outcomes.
    pub labelled: usize,
    /// Served AUC.
    pub served_auc: Option<f64>,
    /// Shadow AUC.
    pub shadow_auc: Option<f64>,
    /// Served Brier.
    pub served_brier: Option<f64>,
    /// Shadow Brier.
    pub shadow_brier: Option<f64>,
}

// ---------------------------------------------------------------- overview

/// A model's last validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LastValidation {
    /// Version.
    pub version: i64,
    /// When (µs).
    pub at: i64,
    /// AUC.
    pub auc: Option<f64>,
}

/// A model's last gate decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LastGate {
    /// Version.
    pub version: i64,
    /// When (µs).
    pub at: i64,
    /// Allowed.
    pub allowed: bool,
}

/// A challenger: `[alias, version]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenger(pub String, pub i64);

/// One line of the inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InventoryLineBody {
    /// Model.
    pub name: String,
    /// Risk tier.
    pub risk_tier: RiskTier,
    /// Owner.
    pub owner: String,
    /// Use case.
    pub use_case: String,
    /// Versions.
    pub versions: i64,
    /// Champion version.
    pub champion: Option<i64>,
    /// Challengers, each `[alias, version]` (a string and an integer).
    #[schema(value_type = Vec<Vec<Value>>)]
    pub challengers: Vec<Challenger>,
    /// Last validation.
    pub last_validation: Option<LastValidation>,
    /// Last gate decision.
    pub policy: Option<LastGate>,
    /// Open alerts.
    pub open_alerts: i64,
    /// Open incidents.
    pub open_incidents: i64,
    /// When it was retired (µs); none while in service.
    pub retired_at: Option<i64>,
    /// Who asked for its retirement while a second person has yet to confirm it (high tier).
    pub retirement_requested_by: Option<String>,
    /// Its revalidation schedule (none once retired).
    pub revalidation: Option<RevalidationBody>,
    /// How its tier was set: declared at registration, computed from its inventory fields, or overridden.
    pub tier_basis: TierBasis,
    /// The organisation's inventory fields (an object).
    #[schema(value_type = Object)]
    pub fields: Value,
    /// Why its fields are not valid against the inventory schema in force (one put after they were written).
    pub out_of_schema: Option<String>,
}

/// The organisation's inventory schema in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InventorySchemaBody {
    /// 1, 2, ... in the order they were put in force.
    pub number: i64,
    /// The JSON Schema.
    #[schema(value_type = Object)]
    pub schema: Value,
    /// Its fields, by name.
    pub fields: Vec<String>,
    /// The fields whose change is material (`"x-warden-material": true`): the model must be revalidated.
    pub material: Vec<String>,
    /// Who put it in force.
    pub put_by: String,
    /// When (µs).
    pub put_at: i64,
}

/// A model's tier, how it was set, and what the tiering rules in force compute now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelTierBody {
    /// Model.
    pub model: String,
    /// The tier in force.
    pub tier: RiskTier,
    /// How it was set.
    pub basis: TierBasis,
    /// The tiering rules' reasons, or the override's reason.
    pub reasons: Vec<String>,
    /// Who set it (none: as registered).
    pub set_by: Option<String>,
    /// When (µs).
    pub set_at: Option<i64>,
    /// What the policy bundle in force computes from the fields now (none: its rules decide nothing for them,
    /// or fail).
    pub computed: Option<ComputedTierBody>,
    /// Why the tiering rules fail for the fields, when they do.
    pub computed_error: Option<String>,
    /// The model's inventory fields.
    #[schema(value_type = Object)]
    pub fields: Value,
    /// The latest change to a material field (µs).
    pub material_change_at: Option<i64>,
    /// What changed.
    pub material_change: Option<String>,
}

/// A tier the policy bundle's tiering rules computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComputedTierBody {
    /// The tier.
    pub tier: RiskTier,
    /// The facts that decided it.
    pub reasons: Vec<String>,
    /// The bundle whose rules computed it.
    pub bundle: i64,
}

/// A model's revalidation schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RevalidationBody {
    /// Days between validations for its tier (policy data `revalidation_days`).
    pub frequency_days: i64,
    /// Its latest validation report, of any version (µs).
    pub last_validated_at: Option<i64>,
    /// When it must be validated again (µs).
    pub due_at: i64,
    /// Whether that is past.
    pub overdue: bool,
    /// Why it must be revalidated sooner: a version registered, or a material inventory field changed, since its
    /// latest validation.
    pub required: Option<String>,
}

/// Governance KPIs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KpisBody {
    /// Period.
    pub period_days: i64,
    /// Deployments.
    pub deployments: u64,
    /// Rollbacks.
    pub rollbacks: u64,
    /// Deployments per 30 days.
    pub deployments_per_30_days: f64,
    /// Median hours from registration to production.
    pub median_hours_to_production: Option<f64>,
    /// Median seconds to detect: from the first decision of the first breaching window to the alert that
    /// opened the incident, over incidents opened in the period.
    pub median_seconds_to_detect: Option<f64>,
    /// Median seconds to resolve.
    pub median_seconds_to_resolve: Option<f64>,
    /// Median drift detection latency: seconds from the first decision of the first breaching window to the
    /// alert, over drift monitors' alerts opened in the period.
    pub median_drift_detection_seconds: Option<f64>,
    /// Audited changes.
    pub audited_changes: u64,
    /// Ledger entries.
    pub ledger_entries: u64,
    /// Ledger entries over audited changes.
    pub audit_coverage: Option<f64>,
    /// Promotions.
    pub promotions: u64,
    /// Overrides.
    pub overrides: u64,
    /// Share of promotions without override.
    pub policy_adherence: Option<f64>,
    /// Incidents.
    pub incidents: u64,
    /// Open incidents.
    pub open_incidents: u64,
    /// Findings: unresolved by severity, age and model, overdue, and time to remediate over the period.
    pub findings: FindingKpisBody,
    /// Owner attestations unresolved now.
    pub open_attestations: u64,
    /// Of which past their due date.
    pub overdue_attestations: u64,
}

/// An owner attestation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttestationBody {
    /// Id.
    pub id: i64,
    /// Model.
    pub model: String,
    /// When it opened (µs).
    pub opened_at: i64,
    /// When it must be submitted and accepted by (µs).
    pub due_at: i64,
    /// `open`, `submitted`, `accepted` or `rejected`.
    pub state: String,
    /// Whether it is unresolved past its due date.
    pub overdue: bool,
    /// The owner's side says the model is still used as documented.
    pub still_used_as_documented: Option<bool>,
    /// ... and its limitations still hold.
    pub limitations_hold: Option<bool>,
    /// Their comment.
    pub comment: Option<String>,
    /// Who submitted it.
    pub submitted_by: Option<String>,
    /// When (µs).
    pub submitted_at: Option<i64>,
    /// Who reviewed it.
    pub reviewed_by: Option<String>,
    /// When (µs).
    pub reviewed_at: Option<i64>,
    /// What the reviewer said.
    pub review_comment: Option<String>,
}

/// Unresolved findings by severity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeverityCountsBody {
    /// Low.
    pub low: u64,
    /// Medium.
    pub medium: u64,
    /// High.
    pub high: u64,
    /// Critical.
    pub critical: u64,
}

/// Unresolved findings by the days since they were raised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgeCountsBody {
    /// Under 7 days.
    pub under_7_days: u64,
    /// 7 to 30 days.
    pub from_7_to_30_days: u64,
    /// 30 to 90 days.
    pub from_30_to_90_days: u64,
    /// 90 days or more.
    pub over_90_days: u64,
}

/// How long findings of one kind and severity took to remediate over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RemediationTimeBody {
    /// Kind.
    pub kind: FindingKind,
    /// Severity.
    pub severity: FindingSeverity,
    /// Findings closed in the period.
    pub closed: u64,
    /// Mean hours from raised to closed (none when none closed).
    pub mean_hours: Option<f64>,
    /// The target, where the board has one (critical vulnerabilities: 48 hours).
    pub target_hours: Option<f64>,
    /// Of those closed, how many within the target.
    pub within_target: Option<u64>,
}

/// A model's unresolved and overdue findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelFindingsBody {
    /// Model.
    pub model: String,
    /// Unresolved now.
    pub open: u64,
    /// Of which past due.
    pub overdue: u64,
}

/// The board's findings figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FindingKpisBody {
    /// Unresolved now, by severity.
    pub open_by_severity: SeverityCountsBody,
    /// Unresolved now, by age.
    pub open_by_age: AgeCountsBody,
    /// Unresolved past their due date now.
    pub overdue: u64,
    /// Mean time to remediate by kind and severity over findings closed in the period (always a row for
    /// critical vulnerabilities, with their 48-hour target).
    pub time_to_remediate: Vec<RemediationTimeBody>,
    /// Models with unresolved findings, most first.
    pub per_model: Vec<ModelFindingsBody>,
}

/// One point of a monitor's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonitorPointBody {
    /// Monitor.
    pub monitor: String,
    /// When (µs).
    pub at: i64,
    /// Version.
    pub version: i64,
    /// `ok`, `warn`, `alert` or `insufficient`.
    pub status: String,
    /// Headline value.
    pub value: Option<f64>,
    /// Per-feature figures (their shape depends on the monitor's kind).
    #[schema(value_type = Value)]
    pub details: Value,
}

/// What one delivery of MLflow's registry webhook came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MlflowDeliveryOutcome {
    /// The MLflow version is now a candidate version of the Warden model of the same name.
    Imported,
    /// An earlier delivery imported that MLflow version already.
    AlreadyRegistered,
    /// Nothing to do (another event, or no Warden model of that name); `reason` says which.
    Ignored,
    /// This delivery was answered before (MLflow resent it).
    Duplicate,
}

/// The answer to a delivery of MLflow's registry webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MlflowDeliveryBody {
    /// What it came to.
    pub outcome: MlflowDeliveryOutcome,
    /// The Warden model, when a version was imported or found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The Warden version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Why nothing was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
