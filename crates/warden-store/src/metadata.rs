//! The metadata interface and its row types.

use async_trait::async_trait;
use serde_json::Value;

use crate::Result;

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// An audit event about to be appended, together with the write it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEventDraft {
    /// When it happened.
    pub at: Micros,
    /// Who did it (e.g. `token:alice`).
    pub actor: String,
    /// What was done (e.g. `model.create`).
    pub action: String,
    /// What it was done to (e.g. `model/credit-default/1`).
    pub subject: String,
    /// The details.
    pub payload: Value,
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Position in the append-only sequence (1, 2, ...).
    pub seq: i64,
    /// The event.
    pub event: AuditEventDraft,
}

/// A model to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewModel {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Accountable owner.
    pub owner: String,
    /// `high`, `medium` or `low`.
    pub risk_tier: String,
    /// The business use.
    pub use_case: String,
    /// The business line it serves (empty: not said).
    pub business_line: String,
    /// Labels.
    pub tags: Vec<String>,
    /// Creation time.
    pub created_at: Micros,
    /// Creator.
    pub created_by: String,
}

/// A stored model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    /// Internal id.
    pub id: i64,
    /// The model as created.
    pub model: NewModel,
    /// Highest version number, if any version exists.
    pub latest_version: Option<i64>,
    /// Its retirement, requested or done (all `None`: in service).
    pub retirement: ModelRetirement,
    /// Its inventory fields and how its tier was set.
    pub inventory: ModelInventory,
}

/// A model's inventory record beyond its registration: the organisation's fields, how its risk tier was set,
/// and its latest material change.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInventory {
    /// The organisation's fields (a JSON object valid against the schema in force when written).
    pub fields: Value,
    /// The tier given at registration: the model's tier when no rule or override decides.
    pub declared_tier: String,
    /// The tier the latest change lowered the model from (`None` after a change that raised it).
    pub tier_lowered_from: Option<String>,
    /// `declared` (at registration), `computed` (by the bundle's tiering rules) or `override`.
    pub tier_basis: String,
    /// The tiering rules' reasons, or the override's reason.
    pub tier_reasons: Vec<String>,
    /// Who last set the tier (`None`: as registered).
    pub tier_set_by: Option<String>,
    /// When (µs).
    pub tier_set_at: Option<Micros>,
    /// When a field the schema marks material last changed (µs), and what changed.
    pub material_change_at: Option<Micros>,
    /// What changed.
    pub material_change: Option<String>,
    /// Grows with every change of the above: a write based on an older read is refused.
    pub revision: i64,
}

impl ModelInventory {
    /// A new model's record: its declared tier, nothing else yet.
    pub fn declared(tier: &str) -> Self {
        ModelInventory {
            fields: Value::Object(Default::default()),
            declared_tier: tier.to_owned(),
            tier_lowered_from: None,
            tier_basis: "declared".into(),
            tier_reasons: Vec::new(),
            tier_set_by: None,
            tier_set_at: None,
            material_change_at: None,
            material_change: None,
            revision: 0,
        }
    }
}

/// A monitor's settings moved from one tier's defaults to another's: written only if they are still `from`.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorRetune {
    /// The monitor with its new settings.
    pub monitor: MonitorRow,
    /// The settings it had when read.
    pub from: Value,
}

/// The organisation's inventory schema as put in force.
#[derive(Debug, Clone, PartialEq)]
pub struct InventorySchemaRow {
    /// 1, 2, ... in the order they were put in force; the highest is in force.
    pub number: i64,
    /// The JSON Schema.
    pub schema: Value,
    /// Who put it in force.
    pub put_by: String,
    /// When (µs).
    pub put_at: Micros,
}

/// A model's data policy as declared: append-only, the latest is in force.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct DataPolicyRow {
    /// The store's id (0 for a new row).
    pub id: i64,
    /// Model name.
    pub model_name: String,
    /// When (µs).
    pub at: Micros,
    /// Who declared it.
    pub actor: String,
    /// The policy (JSON, `warden_registry::personal_data::DataPolicy`).
    pub policy: String,
    /// Why.
    pub reason: String,
}

/// What a purge or an erasure takes from the decision log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeKind {
    /// Whole decisions made before the time (and nothing else of them stays).
    Decisions,
    /// Features and attributes of decisions made before the time.
    Features,
    /// Outcomes of decisions made before the time.
    Outcomes,
}

impl PurgeKind {
    /// As `data_purges.kind` stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            PurgeKind::Decisions => "decisions",
            PurgeKind::Features => "features",
            PurgeKind::Outcomes => "outcomes",
        }
    }
}

/// One purge of a retention period, or one erasure of a person's data from one model's decisions: what went,
/// vouched for by its SHA-256 (see `data_purges` in the migrations for the rows' text).
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct DataPurgeRow {
    /// The store's id.
    pub id: i64,
    /// Model name.
    pub model_name: String,
    /// When (µs).
    pub at: Micros,
    /// Who (the scheduler is `system:retention`).
    pub actor: String,
    /// `decisions`, `features`, `outcomes` or `erasure`.
    pub kind: String,
    /// A retention purge: it took decisions made before this time (µs).
    pub before: Option<Micros>,
    /// An erasure: the subject key's token.
    pub subject: Option<String>,
    /// Rows taken (decisions, or outcomes).
    pub rows: i64,
    /// SHA-256 (hex) of the rows' text as they were, in id order.
    pub sha256: String,
}

/// A model's production decisions of one version and decision in a period (see
/// [`OversightStore::period_decisions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodDecisions {
    /// The version that decided (or, for a fallback, the one logged).
    pub version: i64,
    /// The decision.
    pub decision: String,
    /// Whether they were answered by a suspended model's fallback.
    pub fallback: bool,
    /// How many.
    pub count: i64,
    /// How many had an exposure (a number under the exposure column).
    pub with_exposure: i64,
    /// Σ exposure over them.
    pub exposure: f64,
    /// Σ score × exposure over them (expected loss before LGD, for the approved).
    pub score_exposure: f64,
}

/// A suspension or a resumption of a model (the stop switch): append-only, the latest says whether the model
/// is suspended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct SuspensionRow {
    /// The store's id (0 for a new row).
    pub id: i64,
    /// Model name.
    pub model_name: String,
    /// When (µs).
    pub at: Micros,
    /// Who.
    pub actor: String,
    /// `suspend` or `resume`.
    pub action: String,
    /// Why.
    pub reason: String,
    /// A suspension's fallback: `decline`, `refer` or `version`; `None` for a resumption.
    pub fallback: Option<String>,
    /// The version a `version` fallback answers with.
    pub fallback_version: Option<i64>,
}

/// A model's retirement: who asked and why, then who retired it (the same person below the high tier).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelRetirement {
    /// Who asked for it.
    pub requested_by: Option<String>,
    /// When (µs).
    pub requested_at: Option<Micros>,
    /// Why.
    pub reason: Option<String>,
    /// Who retired it (for a high tier model, a second person).
    pub retired_by: Option<String>,
    /// When (µs): from then on it serves and ingests nothing.
    pub retired_at: Option<Micros>,
}

/// A version to insert. The store assigns its number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    /// SHA-256 of the artifact, lowercase hex.
    pub artifact_sha256: String,
    /// Artifact size in bytes.
    pub artifact_size: i64,
    /// Declared artifact format.
    pub format: String,
    /// Feature schema (JSON array).
    pub feature_schema: Value,
    /// Target column, if declared.
    pub target_column: Option<String>,
    /// Protected attribute columns.
    pub protected_columns: Vec<String>,
    /// SHA-256 of the stored reference data.
    pub reference_sha256: String,
    /// Reference data size in bytes.
    pub reference_size: i64,
    /// `csv` or `parquet`.
    pub reference_format: String,
    /// Reference profile (JSON).
    pub reference_profile: Value,
    /// SHA-256 of the training data.
    pub training_data_sha256: Option<String>,
    /// Training data row count.
    pub training_data_rows: Option<i64>,
    /// Code reference such as a git commit.
    pub code_ref: Option<String>,
    /// Hyperparameters (JSON object).
    pub hyperparameters: Value,
    /// The version this one was derived from.
    pub parent_version: Option<i64>,
    /// Who signed the artifact's SHA-256 (a signer the server trusted at registration).
    pub artifact_signer: Option<String>,
    /// The Ed25519 signature over the artifact's SHA-256 digest, base64.
    pub artifact_signature: Option<String>,
    /// Serving configuration (JSON object: decision threshold, labels, reason count).
    pub serving_config: Value,
    /// Warnings about the inputs found at registration (JSON array).
    pub input_warnings: Value,
    /// Creation time.
    pub created_at: Micros,
    /// Creator.
    pub created_by: String,
}

/// A stored version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    /// Model name.
    pub model_name: String,
    /// Version number (1, 2, ...).
    pub version: i64,
    /// The version's content.
    pub content: NewVersion,
}

/// One alias assignment (or removal, when `version` is `None`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AliasAssignment {
    /// Model name.
    pub model_name: String,
    /// Alias name.
    pub alias: String,
    /// Version pointed to; `None` records the alias's removal.
    pub version: Option<i64>,
    /// When.
    pub assigned_at: Micros,
    /// Who.
    pub assigned_by: String,
    /// Why.
    pub reason: String,
    /// The share of traffic the alias takes (canary), if any.
    pub traffic: Option<f64>,
    /// The gate decision that allowed the move (production aliases).
    pub decision_id: Option<String>,
    /// The move went ahead against the gate by an administrator's emergency override.
    #[sqlx(rename = "override", try_from = "crate::sql::Flag")]
    pub overridden: bool,
}

/// The kinds of record kept per version, each in its own append-only table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// Validation reports (immutable).
    ValidationReport,
    /// Approvals and rejections.
    Approval,
    /// Gate decisions (the policy decision log).
    PolicyDecision,
}

impl RecordKind {
    /// The table the records are kept in (also how an audit event names the record it vouches for).
    pub fn table(self) -> &'static str {
        match self {
            RecordKind::ValidationReport => "validation_reports",
            RecordKind::Approval => "approvals",
            RecordKind::PolicyDecision => "policy_decisions",
        }
    }
}

/// A record about one version: who, when, and its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    /// The store's id (increasing in insertion order within a kind).
    pub id: i64,
    /// Model name.
    pub model_name: String,
    /// Version number.
    pub version: i64,
    /// When.
    pub at: Micros,
    /// Who (e.g. `token:vera`).
    pub actor: String,
    /// The record itself.
    pub body: Value,
}

/// A monitor of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorRow {
    /// Model name.
    pub model_name: String,
    /// Unique per model.
    pub name: String,
    /// What it watches (`feature_drift`, `data_quality`).
    pub kind: String,
    /// Window, minimum sample and thresholds.
    pub config: Value,
    /// Evaluated on the schedule when set.
    pub enabled: bool,
    /// Last change (µs).
    pub updated_at: Micros,
    /// Who changed it last.
    pub updated_by: String,
}

/// One evaluation of a monitor on one version's window.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorEvaluation {
    /// Model name.
    pub model_name: String,
    /// Monitor name.
    pub monitor: String,
    /// When (µs).
    pub at: Micros,
    /// The version whose traffic was evaluated.
    pub version: i64,
    /// Start of the window (µs).
    pub window_start: Micros,
    /// Decisions in the window.
    pub decisions: i64,
    /// `ok`, `warn`, `alert` or `insufficient`.
    pub status: String,
    /// The headline value (for example the largest PSI).
    pub value: Option<f64>,
    /// Per-feature figures.
    pub details: Value,
}

/// An alert raised by a monitor.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AlertRow {
    /// The store's id (0 for a new alert).
    pub id: i64,
    /// Model name.
    pub model_name: String,
    /// Monitor name.
    pub monitor: String,
    /// The feature, or empty for the monitor as a whole.
    pub feature: String,
    /// The version whose traffic raised it.
    pub version: i64,
    /// `warning` or `critical`.
    pub severity: String,
    /// `firing`, `acknowledged` or `resolved`.
    pub state: String,
    /// When it fired (µs).
    pub opened_at: Micros,
    /// Last change (µs).
    pub updated_at: Micros,
    /// The monitor's latest value for it.
    pub value: Option<f64>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When it was resolved (µs).
    pub resolved_at: Option<Micros>,
    /// The incident it belongs to (critical alerts).
    pub incident_id: Option<i64>,
}

/// An incident.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IncidentRow {
    /// Id.
    pub id: i64,
    /// Model name.
    pub model_name: String,
    /// What opened it.
    pub title: String,
    /// `open` or `resolved`.
    pub state: String,
    /// When (µs).
    pub opened_at: Micros,
    /// Time to detect: from the first decision of the first breaching window to the alert (µs).
    pub detect_micros: i64,
    /// When resolved (µs).
    pub resolved_at: Option<Micros>,
    /// Who resolved it by hand (none when it resolved with its alerts).
    pub resolved_by: Option<String>,
    /// Why it was resolved by hand.
    pub resolution: Option<String>,
}

/// A finding as it stands (the closed sets are `warden_core`'s `FindingKind`, `FindingSeverity` and
/// `FindingState`, as text). Every change to it is an audit event carrying it whole.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct FindingRow {
    /// Id (0 until stored).
    pub id: i64,
    /// Model name.
    pub model_name: String,
    /// The version it concerns (`None`: every version of the model).
    pub version: Option<i64>,
    /// What it records.
    pub kind: String,
    /// How grave it is.
    pub severity: String,
    /// A line.
    pub title: String,
    /// What was found.
    pub description: String,
    /// Who must remediate it.
    pub owner: String,
    /// Where it is in its life.
    pub state: String,
    /// Who raised it.
    pub raised_by: String,
    /// When (µs).
    pub raised_at: Micros,
    /// When it must be remediated by (µs).
    pub due_at: Micros,
    /// The owner's proposed remediation.
    pub remediation: Option<String>,
    /// Who proposed it.
    pub remediation_by: Option<String>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// When (µs).
    pub closed_at: Option<Micros>,
    /// What shows it remediated.
    pub evidence: Option<String>,
    /// Who accepted it as a limitation.
    pub accepted_by: Option<String>,
    /// Until when (µs); then it counts as open again.
    pub accepted_until: Option<Micros>,
    /// Who granted the policy exception that covers it.
    pub exception_by: Option<String>,
    /// Until when (µs); then the gate reads it again.
    pub exception_until: Option<Micros>,
    /// Why the exception was granted.
    pub exception_reason: Option<String>,
    /// When it last changed (µs).
    pub updated_at: Micros,
    /// 1 when raised, one more with every change.
    pub revision: i64,
    /// The scan an imported finding came from (`trivy:trivy:registry/scoring:1.4`); `None` when raised by hand.
    /// Left out of the finding's document when `None`, as it was before imports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_scope: Option<String>,
    /// What makes an imported finding the same from one import of its scan to the next (rule and location).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_key: Option<String>,
}

/// An owner attestation as it stands: opened on schedule, submitted, then accepted or rejected.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct AttestationRow {
    /// Id (0 until stored).
    pub id: i64,
    /// Model name.
    pub model_name: String,
    /// When it opened (µs).
    pub opened_at: Micros,
    /// When it must be submitted and reviewed by (µs).
    pub due_at: Micros,
    /// `open`, `submitted`, `accepted` or `rejected`.
    pub state: String,
    /// The owner's statement (JSON text).
    pub statement: Option<String>,
    /// Who submitted it.
    pub submitted_by: Option<String>,
    /// When (µs).
    pub submitted_at: Option<Micros>,
    /// Who reviewed it.
    pub reviewed_by: Option<String>,
    /// When (µs).
    pub reviewed_at: Option<Micros>,
    /// The reviewer's comment.
    pub review_comment: Option<String>,
    /// 1 when opened, one more with every change.
    pub revision: i64,
}

/// Who resolved an incident by hand, when and why.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentResolution {
    /// When (µs).
    pub at: Micros,
    /// The person (their token's name).
    pub by: String,
    /// Why.
    pub comment: String,
}

/// One model's line in the inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryRow {
    /// The model.
    pub model: ModelRow,
    /// How many versions it has.
    pub versions: i64,
    /// Its current aliases.
    pub aliases: Vec<AliasAssignment>,
    /// The latest validation report: version, when, ROC AUC.
    pub last_validation: Option<(i64, Micros, Option<f64>)>,
    /// The latest gate decision: version, when, allowed.
    pub last_gate: Option<(i64, Micros, bool)>,
    /// Alerts firing or acknowledged.
    pub open_alerts: i64,
    /// Open incidents (at most one).
    pub open_incidents: i64,
}

/// An alias assignment with the registration time of the version it points to.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DeploymentRow {
    /// The assignment.
    #[sqlx(flatten)]
    pub assignment: AliasAssignment,
    /// When the version was registered (`None` for a removal).
    #[sqlx(rename = "registered_at")]
    pub version_registered_at: Option<Micros>,
}

/// A labelled decision for training: the features as logged at decision time and the latest outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRow {
    /// When the decision was made (µs).
    pub at: Micros,
    /// The request.
    pub request_id: String,
    /// The version that decided.
    pub version: i64,
    /// The features as logged.
    pub features: Value,
    /// The attributes as logged (protected attributes).
    pub attributes: Value,
    /// The latest outcome: true = the event (bad).
    pub label: bool,
}

/// A person's review of one decision (human oversight): append-only, the latest says how the decision stands.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct DecisionReviewRow {
    /// The store's id (0 for a new review).
    pub id: i64,
    /// Model name.
    pub model_name: String,
    /// The version that made the decision.
    pub version: i64,
    /// The decision's request id.
    pub request_id: String,
    /// When the decision was made (µs).
    pub decision_at: Micros,
    /// When it was reviewed (µs).
    pub at: Micros,
    /// Who reviewed it (a unique name).
    pub reviewer: String,
    /// `confirm`, `override` or `reverse`.
    pub action: String,
    /// The decision as it stood before this review (the model's, or an earlier review's).
    pub decision_before: String,
    /// The decision as it stands after.
    pub decision: String,
    /// One of the policy's reason codes.
    pub reason_code: String,
    /// The reviewer's free text.
    pub note: String,
}

/// A review read with the decision it reviews, for the override-rate monitor.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ReviewOfDecision {
    /// The decision's request id.
    pub request_id: String,
    /// When it was reviewed (µs).
    pub at: Micros,
    /// The decision the model made.
    pub model_decision: String,
    /// The decision as this review left it.
    pub decision: String,
    /// The decision's attributes as logged (JSON text; `{}` unless asked for).
    pub attributes: String,
    /// The decision's features as logged (JSON text; `{}` unless asked for).
    pub features: String,
}

/// A reviewed production decision with no outcome, for training on reviews: the decision as its latest review
/// left it stands in for the label.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewedDecision {
    /// When the decision was made (µs).
    pub at: Micros,
    /// The request.
    pub request_id: String,
    /// The version that decided.
    pub version: i64,
    /// The features as logged.
    pub features: Value,
    /// The attributes as logged.
    pub attributes: Value,
    /// The decision as the latest review left it.
    pub decision: String,
}

/// One request scored by a production route and by the shadow.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowPair {
    /// The request.
    pub request_id: String,
    /// When.
    pub at: Micros,
    /// The version that decided, its score and decision.
    pub served: (i64, f64, String),
    /// The shadow version, its score and decision.
    pub shadow: (i64, f64, String),
    /// The latest outcome, if one arrived.
    pub label: Option<bool>,
}

/// A model's retraining schedule.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RetrainSchedule {
    /// Model name.
    pub model_name: String,
    /// The trainer, as a job asks for it (`builtin-lr`, `builtin-gbt`, `external:NAME`).
    pub trainer: String,
    /// How often.
    pub every_seconds: i64,
    /// When the next job is due (µs).
    pub next_at: Micros,
    /// Last change.
    pub updated_at: Micros,
    /// By whom.
    pub updated_by: String,
}

/// One transition of an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    /// When (µs).
    pub at: Micros,
    /// `fired`, `escalated`, `acknowledged` or `resolved`.
    pub kind: String,
    /// Who (`warden` for the monitors).
    pub actor: String,
    /// What was seen or said.
    pub details: Value,
}

/// An incident's classification under a framework (append-only: the latest per framework counts).
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct ClassificationRow {
    /// The store's id (0 for a new one).
    pub id: i64,
    /// The incident.
    pub incident_id: i64,
    /// When it was recorded (µs), and by whom.
    pub at: Micros,
    /// Who recorded it.
    pub actor: String,
    /// `dora`, `ai_act` or `internal`.
    pub framework: String,
    /// When the incident was classified (µs), as the person says.
    pub classified_at: Micros,
    /// When the firm became aware of it (µs).
    pub aware_at: Micros,
    /// The AI Act's ground (`death`, `widespread_or_critical_infrastructure`, `other`).
    pub ground: Option<String>,
    /// The internal severity, for `internal`.
    pub severity: Option<String>,
    /// Free text.
    pub note: String,
}

/// A report submitted to an authority about a classified incident (append-only).
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct IncidentReportRow {
    /// The store's id (0 for a new one).
    pub id: i64,
    /// The incident.
    pub incident_id: i64,
    /// When it was recorded (µs).
    pub at: Micros,
    /// Who recorded it.
    pub actor: String,
    /// `dora` or `ai_act`.
    pub framework: String,
    /// `initial`, `intermediate`, `final` or `report`.
    pub kind: String,
    /// When it was submitted to the authority (µs).
    pub submitted_at: Micros,
    /// The authority's reference, or the firm's.
    pub reference: String,
    /// SHA-256 of the content submitted, when given.
    pub content_sha256: Option<String>,
}

/// A reminder that a report is due soon, or overdue: sent once per stage and due time.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportReminder {
    /// The incident.
    pub incident_id: i64,
    /// The framework and report.
    pub framework: String,
    /// The report.
    pub kind: String,
    /// `due_soon` or `overdue`.
    pub stage: String,
    /// The due time it is about (µs).
    pub due_at: Micros,
    /// When sent (µs).
    pub at: Micros,
}

/// A notification waiting in (or delivered from) the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Id (the delivery id receivers see).
    pub id: i64,
    /// The alert it is about.
    pub alert_id: i64,
    /// The JSON body sent.
    pub payload: Value,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Not before this time (µs).
    pub next_attempt_at: Micros,
    /// When delivered (µs).
    pub delivered_at: Option<Micros>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// A routed notification to queue: one receiver, one source event.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// The receiver's name (from the routes file).
    pub receiver: String,
    /// `alert` (an outbox row) or `audit` (an audit event).
    pub source: &'static str,
    /// The outbox id or the audit seq.
    pub source_id: i64,
    /// The `NotificationEvent`.
    pub event: String,
    /// The event as routed.
    pub payload: Value,
}

/// A routed notification and how its delivery stands.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeliveryRow {
    /// Id (the delivery id receivers see, prefixed `r`).
    pub id: i64,
    /// When it was routed (µs).
    pub created_at: Micros,
    /// The receiver's name.
    pub receiver: String,
    /// `alert` or `audit`.
    pub source: String,
    /// The outbox id or the audit seq.
    pub source_id: i64,
    /// The `NotificationEvent`.
    pub event: String,
    /// The event as routed.
    pub payload: Value,
    /// Attempts so far.
    pub attempts: i64,
    /// Not before this time (µs).
    pub next_attempt_at: Micros,
    /// When delivered (µs).
    pub delivered_at: Option<Micros>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// What the receiver answered on success (an issue key, an incident number).
    pub response: Option<String>,
}

/// A stored policy bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyBundleRow {
    /// 1, 2, ... in the order they were put in force.
    pub number: i64,
    /// When it was put in force.
    pub created_at: Micros,
    /// Who put it in force.
    pub created_by: String,
    /// The bundle's content digest.
    pub digest: String,
    /// Path → text.
    pub files: std::collections::BTreeMap<String, String>,
}

/// Decisions of one version logged as made outside the gate (`route = 'unapproved'`).
#[derive(Debug, Clone, PartialEq)]
pub struct UnapprovedDecisions {
    /// The version that made them.
    pub version: i64,
    /// How many.
    pub count: i64,
    /// The earliest decision time among them.
    pub first: Micros,
}

/// One logged decision.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDecision {
    /// When it was scored.
    pub at: Micros,
    /// The caller's request id (or one Warden made).
    pub request_id: String,
    /// Model name.
    pub model_name: String,
    /// Version that scored.
    pub version: i64,
    /// `champion`, `canary`, `shadow`, `batch`, `pinned`, or `unapproved` (an ingested decision of a version no
    /// production alias held when it was made).
    pub route: String,
    /// The features as received (JSON object); `Null` when `features_text` holds them.
    pub features: Value,
    /// The features' JSON text as received, when the caller kept it (ingestion reads a record's features
    /// straight from it and never builds the object): written as it came. Read back from the log, a decision's
    /// `features` is the object and this is `None`.
    pub features_text: Option<Box<str>>,
    /// Monitor-only attributes (JSON object).
    pub attributes: Value,
    /// The score; NaN for a fallback answered without a model (`decline`, `refer`), which the log stores as no
    /// score.
    pub score: f64,
    /// A multiclass classifier's probability of each class, in its version's class order; empty for other
    /// models (their score is the whole answer).
    pub probabilities: Vec<f64>,
    /// The decision.
    pub decision: String,
    /// Time spent scoring, in microseconds (0 when the decision was made elsewhere).
    pub latency_us: i64,
    /// How it arrived: `scored` by Warden, or ingested over `http`, from `kserve`'s logger or from `kafka`.
    /// An ingested decision is logged once per model, version and request id; a repeat is skipped.
    pub source: String,
    /// For a decision older than the live windows, the start of its period: noted (a [`LatePeriod`]) in the
    /// transaction that logs it, so the period's evaluations are revised even if the process dies next.
    pub late_period: Option<Micros>,
    /// The token of the person the decision names (its model's subject key), noted with it so an erasure finds
    /// it; `None` when its model declares no subject key. Never read back from the log.
    pub subject: Option<String>,
}

impl NewDecision {
    /// The score as the log stores it: none (NaN in memory) for a fallback answered without a model.
    pub fn stored_score(&self) -> Option<f64> {
        (!self.score.is_nan()).then_some(self.score)
    }

    /// The class probabilities as the log stores them: a JSON array, none for a model with one score.
    pub fn stored_probabilities(&self) -> Option<String> {
        (!self.probabilities.is_empty()).then(|| serde_json::to_string(&self.probabilities).expect("numbers serialise"))
    }

    /// The features as the log stores them: the text they were read from, else `features` serialised.
    pub fn features_json(&self) -> std::borrow::Cow<'_, str> {
        match &self.features_text {
            Some(text) => std::borrow::Cow::Borrowed(text),
            None => std::borrow::Cow::Owned(self.features.to_string()),
        }
    }
}

/// How far a model's monitor evaluations are vouched for by `monitor.hour` ledger entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorVouch {
    /// Model name.
    pub model_name: String,
    /// The last evaluation id vouched for (0: none).
    pub through_id: i64,
    /// The start of the hour (µs) of the round that vouched for them (0: never).
    pub hour_start: Micros,
}

/// A period of a version that decisions older than the live windows arrived for, waiting for a monitor round
/// to store revised evaluations of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatePeriod {
    /// Model name.
    pub model_name: String,
    /// The version the decisions are of.
    pub version: i64,
    /// The period's start (µs since the epoch).
    pub start: Micros,
    /// Grows with every note of the period: a round clears the period only if no note came after its read.
    pub generation: i64,
}

/// Moves a stream partition's stored position in the same transaction as the records consumed before it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAdvance {
    /// The consumer group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset the consumer read from the store before consuming (`None`: none was stored). The
    /// commit is refused when the stored position is no longer this one: another consumer moved it.
    pub from: Option<i64>,
    /// The next offset to consume after this commit.
    pub to: i64,
}

/// A record that could not be ingested, with where it came from and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// When it was set aside.
    pub at: Micros,
    /// `http`, `kserve` or `kafka`.
    pub source: String,
    /// The topic, partition and offset it was read from (stream records).
    pub topic: Option<String>,
    /// See `topic`.
    pub partition: Option<i32>,
    /// See `topic`.
    pub offset: Option<i64>,
    /// The model it was meant for, when known.
    pub model: Option<String>,
    /// Why it could not be ingested.
    pub reason: String,
    /// The record as received (at most [`MAX_DEAD_LETTER_PAYLOAD`] bytes of it, lossy UTF-8).
    pub payload: String,
}

/// Most bytes of a dead record's payload kept.
pub const MAX_DEAD_LETTER_PAYLOAD: usize = 4096;

/// What one stream commit writes in one transaction: decisions, outcomes, dead records and the positions
/// reached. Outcomes whose request id has no decision are kept as dead records instead.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamCommit {
    /// When it is committed (the positions' `updated_at`).
    pub at: Micros,
    /// Decisions to log.
    pub decisions: Vec<NewDecision>,
    /// Outcomes to record, each with where it was read from (a [`DeadLetter`] without a reason): kept waiting
    /// there when no decision has its request id yet.
    pub outcomes: Vec<(NewOutcome, DeadLetter)>,
    /// Records set aside.
    pub dead_letters: Vec<DeadLetter>,
    /// Positions reached.
    pub advances: Vec<StreamAdvance>,
}

/// Resolves when the commit before a stream commit has ended ([`ServingStore::commit_stream_after`]).
pub type StreamTurn = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What a stream commit stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamCommitted {
    /// Which of the commit's decisions were new, in order (repeats of logged ones are skipped).
    pub new_decisions: Vec<bool>,
    /// Decisions logged.
    pub decisions: u64,
    /// Outcomes recorded (one already read from the same place of its topic is skipped).
    pub outcomes: u64,
    /// Outcomes kept waiting for their decision ([`ServingStore::settle_pending_outcomes`]).
    pub pending_outcomes: u64,
    /// Dead records kept (one already kept from the same place of its topic, with the same payload, is
    /// skipped).
    pub dead_letters: u64,
}

/// What settling the outcomes that waited for their decisions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingSettled {
    /// Recorded as outcomes: their decisions are logged now.
    pub recorded: u64,
    /// Set aside as dead records: no decision came in time.
    pub expired: u64,
}

/// A ledger entry with its canonical text, rebuilt from its audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    /// Leaf index.
    pub index: u64,
    /// Canonical JSON of the entry (empty when its audit event is gone).
    pub entry: String,
    /// Stored leaf hash.
    pub leaf_hash: Vec<u8>,
    /// The audit event it records.
    pub audit_seq: i64,
}

/// A ledger entry's stored columns.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LedgerLeaf {
    /// Leaf index.
    #[sqlx(rename = "idx", try_from = "i64")]
    pub index: u64,
    /// The audit event it records.
    pub audit_seq: i64,
    /// SHA-256 of the payload's canonical JSON.
    pub payload_sha256: Vec<u8>,
    /// The leaf hash the tree is built from.
    pub leaf_hash: Vec<u8>,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CheckpointRow {
    /// Id (0 before it is stored).
    pub id: i64,
    /// Leaves covered.
    #[sqlx(try_from = "i64")]
    pub tree_size: u64,
    /// Root hash.
    pub root: Vec<u8>,
    /// When (µs).
    pub at: Micros,
    /// The C2SP signed note.
    pub note: String,
}

/// An audit event's columns as stored (the payload as its stored text), for the ledger's cross-check.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditRecord {
    /// Sequence number.
    pub seq: i64,
    /// When (µs).
    pub at: Micros,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// The payload's JSON text as stored.
    pub payload: String,
}

/// A logged decision with its latest outcome, as performance monitors read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredOutcome {
    /// When it was scored.
    pub at: Micros,
    /// The score.
    pub score: f64,
    /// The features as received.
    pub features: Value,
    /// Monitor-only attributes.
    pub attributes: Value,
    /// The outcome (1 = the event happened), when one was recorded.
    pub label: Option<bool>,
    /// The outcome's amount, when given.
    pub amount: Option<f64>,
    /// The realized value a regression model predicted, when given.
    pub value: Option<f64>,
    /// A multiclass decision's probability of each class, in its version's class order (empty otherwise).
    pub probabilities: Vec<f64>,
    /// The realized class a multiclass classifier predicted, when given.
    pub class: Option<String>,
}

/// A late label for a scored request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutcome {
    /// The request the label belongs to.
    pub request_id: String,
    /// When it was recorded.
    pub at: Micros,
    /// 1 = the event happened (default, chargeback), 0 = it did not.
    pub label: i64,
    /// What kind of outcome (`default`, `chargeback`, …).
    pub kind: String,
    /// Amount involved, if any.
    pub amount: Option<f64>,
    /// The realized value a regression model predicted (loss given default, exposure, income), if any.
    pub value: Option<f64>,
    /// The realized class a multiclass classifier predicted (one of its class labels), if any.
    pub class: Option<String>,
    /// Who recorded it.
    pub recorded_by: String,
}

/// A token to create. Only the secret's hash is stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NewToken {
    /// Unique name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// SHA-256 of the secret, lowercase hex.
    pub secret_sha256: String,
    /// Creation time.
    pub created_at: Micros,
    /// Creator.
    pub created_by: String,
    /// After this time the token no longer authenticates; `None`: it does not expire.
    pub expires_at: Option<Micros>,
    /// The identity provider's `issuer|subject` the token is tied to (a person's personal token); `None`: the
    /// token is its own identity.
    pub subject: Option<String>,
}

/// A stored token.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TokenRow {
    /// Internal id.
    pub id: i64,
    /// The token as created.
    #[sqlx(flatten)]
    pub token: NewToken,
    /// When it was revoked.
    pub revoked_at: Option<Micros>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
}

/// Filter for reading audit events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    /// Only events with `seq` greater than this.
    pub after_seq: i64,
    /// Only events whose subject equals this or starts with it followed by `/`.
    pub subject: Option<String>,
    /// At most this many events.
    pub limit: i64,
}

/// Everything Warden keeps: the five stage stores together, as services hold it (`Arc<dyn MetadataStore>`).
/// `use warden_store::prelude::*` brings the stage traits into scope for calls on a concrete store.
///
/// Every method that changes state takes the audit event describing the change and appends it in the same
/// transaction.
pub trait MetadataStore: CoreStore + RegistryStore + ServingStore + OversightStore + ProofStore {}

impl<T: CoreStore + RegistryStore + ServingStore + OversightStore + ProofStore + ?Sized> MetadataStore for T {}

/// Cross-cutting: the database itself, tokens (principals) and leases.
#[async_trait]
pub trait CoreStore: Send + Sync {
    /// Whether the database answers.
    async fn ping(&self) -> Result<()>;
    /// Whether the database takes a commit on the decision log's connection (a row rewritten with a page of
    /// data): what the decision log tries while it cannot commit, to learn that it can again.
    async fn probe_write(&self, at: i64) -> Result<()>;
    /// How many decision-log commits the store runs at once (each on a connection of its own).
    fn decision_log_connections(&self) -> usize {
        1
    }
    /// Creates a token. `Conflict` when the name is taken.
    async fn create_token(&self, token: NewToken, audit: AuditEventDraft) -> Result<TokenRow>;
    /// The token whose secret hashes to this value, revoked or not.
    async fn find_token(&self, secret_sha256: &str) -> Result<Option<TokenRow>>;
    /// All tokens.
    async fn list_tokens(&self) -> Result<Vec<TokenRow>>;
    /// Revokes a token by name. `NotFound` if no such token, `Conflict` if already revoked.
    async fn revoke_token(&self, name: &str, at: Micros, by: &str, audit: AuditEventDraft) -> Result<TokenRow>;
    /// Number of tokens ever created.
    async fn count_tokens(&self) -> Result<i64>;
    /// Takes or renews the lease `name` for `holder` until `until`: granted when nobody holds it, `holder`
    /// already does, or the holder's lease ran out before `now`. Replicas sharing a database run scheduled
    /// work only while they hold its lease.
    async fn try_lease(&self, name: &str, holder: &str, now: Micros, until: Micros) -> Result<bool>;
}

/// The registry: models, their immutable versions (and the blobs they refer to), and alias assignments with
/// their history.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Creates a model. `Conflict` when the name is taken.
    async fn create_model(&self, model: NewModel, audit: AuditEventDraft) -> Result<ModelRow>;
    /// All models, by name.
    async fn list_models(&self) -> Result<Vec<ModelRow>>;
    /// One model by name.
    async fn get_model(&self, name: &str) -> Result<Option<ModelRow>>;
    /// Inserts the next version of a model; `audit` builds the event from the number assigned.
    async fn insert_version(
        &self,
        model_name: &str,
        version: NewVersion,
        audit: &(dyn Fn(i64) -> AuditEventDraft + Send + Sync),
    ) -> Result<VersionRow>;
    /// All versions of a model, oldest first.
    async fn list_versions(&self, model_name: &str) -> Result<Vec<VersionRow>>;
    /// One version.
    async fn get_version(&self, model_name: &str, version: i64) -> Result<Option<VersionRow>>;
    /// Whether any version refers to this blob as artifact or reference data.
    async fn blob_referenced(&self, sha256: &str) -> Result<bool>;
    /// Records that `by` asks for the model's retirement at `at` for `reason`, with its audit event.
    /// `Conflict` when it is retired or a retirement is already asked for.
    async fn request_retirement(
        &self,
        name: &str,
        by: &str,
        at: Micros,
        reason: &str,
        audit: AuditEventDraft,
    ) -> Result<ModelRow>;
    /// Appends a suspension or resumption of a model if its latest one is still `latest_id` (`None`: it has
    /// none), with its audit event, in one transaction: `Conflict` when another came first. Replicas learn it
    /// through [`RegistryStore::alias_generation`].
    async fn append_suspension(
        &self,
        row: &SuspensionRow,
        latest_id: Option<i64>,
        audit: AuditEventDraft,
    ) -> Result<SuspensionRow>;
    /// A model's suspensions and resumptions, oldest first.
    async fn suspensions(&self, model_name: &str) -> Result<Vec<SuspensionRow>>;
    /// Appends a model's data policy if its latest one is still `latest_id`, with its audit event, in one
    /// transaction: `Conflict` when another came first. Replicas learn it through
    /// [`RegistryStore::alias_generation`].
    async fn put_data_policy(
        &self,
        row: &DataPolicyRow,
        latest_id: Option<i64>,
        audit: AuditEventDraft,
    ) -> Result<DataPolicyRow>;
    /// A model's data policies, oldest first.
    async fn data_policies(&self, model_name: &str) -> Result<Vec<DataPolicyRow>>;
    /// The fingerprint of the key personal data is protected with, once a data policy claimed one.
    async fn personal_data_key_fingerprint(&self) -> Result<Option<String>>;
    /// Claims `fingerprint` as the personal data key's unless one is claimed already; the one in force.
    async fn claim_personal_data_key(&self, fingerprint: &str) -> Result<String>;
    /// Every model's data policy in force.
    async fn data_policies_in_force(&self) -> Result<Vec<DataPolicyRow>>;
    /// Retires the model at `at` by `by` (recording the request too when none is pending, with `reason`), with
    /// its audit event, and removes every alias it still has (each removal with its `alias.retire` event), in one
    /// transaction. `Conflict` when it is retired already, or when it is high tier (or `by` lowered it from
    /// high) and nobody else asked for its retirement (four eyes, kept here too so no caller can skip them).
    async fn retire_model(
        &self,
        name: &str,
        by: &str,
        at: Micros,
        reason: &str,
        audit: AuditEventDraft,
    ) -> Result<ModelRow>;
    /// Writes a model's risk tier and inventory record, together with monitors retuned for the new tier and the
    /// audit events, in one transaction. `Conflict` (nothing written) when the model changed since it was read
    /// (its `revision`), is retired, another policy bundle than `bundle` (the one whose rules computed the tier)
    /// is in force, or a monitor's settings are no longer the ones the retune started from.
    async fn update_model_inventory(
        &self,
        name: &str,
        risk_tier: &str,
        inventory: &ModelInventory,
        bundle: Option<i64>,
        monitors: &[MonitorRetune],
        audit: &[AuditEventDraft],
    ) -> Result<ModelRow>;
    /// Puts an inventory schema in force, with its audit event.
    async fn put_inventory_schema(
        &self,
        schema: &Value,
        by: &str,
        at: Micros,
        audit: AuditEventDraft,
    ) -> Result<InventorySchemaRow>;
    /// The inventory schema in force, if any was put.
    async fn inventory_schema(&self) -> Result<Option<InventorySchemaRow>>;
    /// Appends an alias assignment (or removal). The version, if any, must exist.
    async fn assign_alias(&self, assignment: AliasAssignment, audit: AuditEventDraft) -> Result<AliasAssignment>;
    /// The alias's assignment in force at `at` (latest at or before it), removal included.
    async fn alias_at(&self, model_name: &str, alias: &str, at: Micros) -> Result<Option<AliasAssignment>>;
    /// Each alias's latest assignment, removed aliases excluded, by alias name.
    async fn current_aliases(&self, model_name: &str) -> Result<Vec<AliasAssignment>>;
    /// The full history of one alias, or of all aliases, oldest first.
    async fn alias_history(&self, model_name: &str, alias: Option<&str>) -> Result<Vec<AliasAssignment>>;
    /// A number that grows whenever any alias of any model changes, a model is retired, suspended or resumed
    /// (replicas poll it to rebuild routes).
    async fn alias_generation(&self) -> Result<i64>;
}

/// Serving: the decision log, outcomes joined to it by request id, and replicas' live window buckets.
#[async_trait]
pub trait ServingStore: Send + Sync {
    /// Appends decisions in one transaction (the decision log's group commit); an ingested decision already
    /// logged (same model, version and request id) is skipped. Which of them were new, in order. `NotFound`
    /// (nothing written) when a decision names a version that does not exist.
    async fn insert_decisions(&self, decisions: &[NewDecision]) -> Result<Vec<bool>>;
    /// Writes a stream commit in one transaction. `Conflict` (and nothing written) when a partition's stored
    /// position is not the advance's `from`. An outcome whose request id no decision has yet is kept waiting.
    async fn commit_stream(&self, commit: &StreamCommit) -> Result<StreamCommitted> {
        self.commit_stream_after(commit, Box::pin(std::future::ready(()))).await
    }
    /// [`ServingStore::commit_stream`], writing the records at once and awaiting `turn` (the commit of the
    /// stream's batch before this one ending) before it notes late periods and checks and moves the
    /// positions: two batches of a stream are written at once, and their positions still move in order. A
    /// batch continuing a partition the batch before it failed to move is refused (`Conflict`). The caller
    /// must not run two batches at once that share a decision key (each would wait for the other's row); on
    /// PostgreSQL a lock wait longer than 10 s is refused as a safeguard.
    async fn commit_stream_after(&self, commit: &StreamCommit, turn: StreamTurn) -> Result<StreamCommitted>;
    /// In one transaction: records the waiting outcomes whose decisions are logged now, and sets aside (dead
    /// records, at `now`) those read before `expire_before` that still have none.
    async fn settle_pending_outcomes(&self, now: Micros, expire_before: Micros) -> Result<PendingSettled>;
    /// How many outcomes wait for their decisions.
    async fn pending_outcome_count(&self) -> Result<i64>;
    /// Decisions of a model logged as `unapproved` with an id above `after`, per version (ascending): how
    /// many and the earliest decision time among them; and the largest id seen (`after` when none).
    async fn unapproved_decisions(&self, model_name: &str, after: i64) -> Result<(Vec<UnapprovedDecisions>, i64)>;
    /// Keeps one half (`request` or `response`) of a KServe inference event until its other half arrives; a
    /// half sent again is ignored. Returns the other half's body when it is already kept.
    async fn put_kserve_half(
        &self,
        model_name: &str,
        version: i64,
        event_id: &str,
        kind: &str,
        at: Micros,
        body: &str,
    ) -> Result<Option<(Micros, String)>>;
    /// Forgets both halves of an event (its decision is logged, or set aside).
    async fn remove_kserve_event(&self, model_name: &str, version: i64, event_id: &str) -> Result<()>;
    /// Per model: halves waiting for their other half received before `before` (request halves, response
    /// halves), and the oldest one's time.
    async fn kserve_waiting(&self, before: Micros) -> Result<Vec<(String, i64, i64, Option<Micros>)>>;
    /// The stored next offset of each partition of `topic` consumed by `group`.
    async fn stream_positions(&self, group: &str, topic: &str) -> Result<Vec<(i32, i64)>>;
    /// Appends dead records.
    async fn insert_dead_letters(&self, letters: &[DeadLetter]) -> Result<()>;
    /// The newest dead records, newest first, at most `limit`, and how many there are in all.
    async fn dead_letters(&self, limit: i64) -> Result<(Vec<DeadLetter>, i64)>;
    /// Decisions of a model, oldest first, at most `limit`, optionally of one request.
    async fn decisions(&self, model_name: &str, request_id: Option<&str>, limit: i64) -> Result<Vec<NewDecision>>;
    /// Decisions of a version made in `[from, until)`, oldest first, at most `limit` (through the
    /// model-version-time index); fallbacks answered while the model was suspended are not the version's.
    async fn decisions_between(
        &self,
        model_name: &str,
        version: i64,
        from: Micros,
        until: Micros,
        limit: i64,
    ) -> Result<Vec<NewDecision>>;
    /// Number of logged decisions of a model.
    async fn count_decisions(&self, model_name: &str) -> Result<i64>;
    /// When the first decision of a version at or after `since` was made (through the model-version-time index).
    async fn first_decision_at(&self, model_name: &str, version: i64, since: Micros) -> Result<Option<Micros>>;
    /// Which of `request_ids` already name a decision of the model (through the request-id index).
    async fn used_request_ids(&self, model_name: &str, request_ids: &[&str]) -> Result<Vec<String>>;
    /// Appends outcomes in one transaction; refuses them all (naming them) if any request id has no decision.
    async fn insert_outcomes(&self, outcomes: &[NewOutcome]) -> Result<()>;
    /// Decisions of one version made at or after `since`, the newest `limit`, each with its latest outcome;
    /// only those with an outcome when `labelled_only`. Pinned decisions (people testing) are left out.
    async fn scored_outcomes(
        &self,
        model_name: &str,
        version: i64,
        since: Micros,
        limit: i64,
        labelled_only: bool,
    ) -> Result<Vec<ScoredOutcome>>;
    /// Labelled decisions of a model made at or after `since` by its serving routes (not the shadow), oldest
    /// first, at most `limit` (the newest), each with its latest outcome.
    async fn training_rows(&self, model_name: &str, since: Micros, limit: i64) -> Result<Vec<TrainingRow>>;
    /// Requests scored by the shadow alias and by a serving route since `since`, newest `limit`, oldest first.
    async fn shadow_pairs(&self, model_name: &str, since: Micros, limit: i64) -> Result<Vec<ShadowPair>>;
    /// Stores (replacing) one replica's live window buckets of a version: `(bucket start, decisions, body)`,
    /// and drops that replica's buckets of the version starting before `keep_from`.
    async fn put_window_buckets(
        &self,
        model_name: &str,
        version: i64,
        replica: &str,
        buckets: &[WindowBucket],
        keep_from: Micros,
    ) -> Result<()>;
    /// The stored window buckets of a version starting at or after `since`, of every replica but `except`.
    async fn window_buckets(
        &self,
        model_name: &str,
        version: i64,
        since: Micros,
        except: &str,
    ) -> Result<Vec<WindowBucket>>;
    /// Drops every replica's window buckets starting before `before` (those of replicas that are gone).
    async fn prune_window_buckets(&self, before: Micros) -> Result<()>;
}

/// Oversight: validation reports, approvals, gate bundles and decisions, monitors and their evaluations, alerts,
/// incidents, notifications, retraining jobs and schedules, and the overview queries across them.
#[async_trait]
pub trait OversightStore: Send + Sync {
    /// Appends a record about a version, with its audit event when given, in one transaction. `NotFound`
    /// when the version does not exist.
    async fn append_version_record(
        &self,
        kind: RecordKind,
        record: VersionRecord,
        audit: Option<AuditEventDraft>,
    ) -> Result<VersionRecord>;
    /// Appends a person's approval or rejection of a version unless their latest one on it has the same
    /// `decision`: checked and written under the write lock, so two identical decisions racing record one.
    /// `Conflict` when it repeats; `NotFound` when the version does not exist.
    async fn append_decision(&self, record: VersionRecord, audit: Option<AuditEventDraft>) -> Result<VersionRecord>;
    /// Records of one kind for a version (or for every version of the model), oldest first.
    async fn version_records(
        &self,
        kind: RecordKind,
        model_name: &str,
        version: Option<i64>,
    ) -> Result<Vec<VersionRecord>>;
    /// Puts a bundle in force as the next number (or as exactly `bundle.number` when that is positive:
    /// `Conflict` if it is taken, so replicas starting together seed the first bundle once), with its audit
    /// event.
    async fn append_policy_bundle(&self, bundle: PolicyBundleRow, audit: AuditEventDraft) -> Result<PolicyBundleRow>;
    /// A bundle by number, or the one in force when `None`.
    async fn policy_bundle(&self, number: Option<i64>) -> Result<Option<PolicyBundleRow>>;
    /// Every bundle, oldest first.
    async fn policy_bundles(&self) -> Result<Vec<PolicyBundleRow>>;
    /// The number of the bundle in force (a cheap check that a cached bundle is still current).
    async fn policy_bundle_number(&self) -> Result<Option<i64>>;
    /// Creates or replaces a monitor (by model and name), with its audit event when given.
    async fn put_monitor(&self, monitor: MonitorRow, audit: Option<AuditEventDraft>) -> Result<MonitorRow>;
    /// The monitors of a model (every model when `None`), by model and name.
    async fn monitors(&self, model_name: Option<&str>) -> Result<Vec<MonitorRow>>;
    /// Appends evaluations in one transaction, clearing the late periods they revise (those not noted again since
    /// they were read).
    async fn insert_monitor_evaluations(&self, evaluations: &[MonitorEvaluation], revised: &[LatePeriod])
    -> Result<()>;
    /// Models with an enabled monitor whose last `monitor.hour` entry (if any) is of an hour before
    /// `hour_start` (µs) and that have evaluations stored after it, some of a time before `hour_start` (a
    /// model first evaluated this hour waits for the next): each with how far it is vouched for (0: never).
    /// A model with no enabled monitor is left out: its last rows wait until one is enabled again, and no
    /// round searches the evaluations stored since for it.
    async fn unvouched_monitor_models(&self, hour_start: Micros) -> Result<Vec<MonitorVouch>>;
    /// A model's evaluations stored after id `after_id`, by id, at most `limit`: each with its id.
    async fn monitor_evaluations_after(
        &self,
        model_name: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, MonitorEvaluation)>>;
    /// Records that `vouch.model_name`'s evaluations through `vouch.through_id` are vouched for by `audit` (its
    /// ledger entry), in one transaction, if they were vouched through `after_id` (0: never) until now; `false`
    /// (nothing written) if another round moved it first.
    async fn vouch_monitor_evaluations(
        &self,
        vouch: &MonitorVouch,
        after_id: i64,
        audit: AuditEventDraft,
    ) -> Result<bool>;
    /// At most `limit` of the late periods waiting for revision, by model, version and start (the order they
    /// are noted in, so a round clearing them and ingestion noting them lock rows in the same order).
    async fn late_periods(&self, limit: i64) -> Result<Vec<LatePeriod>>;
    /// A model's evaluations (of one monitor when given), newest last, at most `limit` of the newest.
    async fn monitor_evaluations(
        &self,
        model_name: &str,
        monitor: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MonitorEvaluation>>;
    /// A model's evaluations since `since`, about `points` per monitor: the time from the first to the last
    /// evaluation is cut into `points` equal slices and the last evaluation of each slice is kept for each
    /// monitor and version, oldest first
    /// (a long history at the resolution a chart can show).
    async fn monitor_series(&self, model_name: &str, since: Micros, points: i64) -> Result<Vec<MonitorEvaluation>>;
    /// Alerts, newest first: of one state (`open` = firing or acknowledged) and model when given.
    async fn alerts(&self, model_name: Option<&str>, state: Option<&str>, limit: i64) -> Result<Vec<AlertRow>>;
    /// One alert by id.
    async fn alert(&self, id: i64) -> Result<Option<AlertRow>>;
    /// Inserts (`id` 0) or updates an alert with one event, and queues `notify` (a notification body) in the
    /// outbox (its `alert.id` set to the alert's id), in one transaction; returns the alert's id.
    async fn save_alert(&self, alert: &AlertRow, event: &AlertEvent, notify: Option<&Value>) -> Result<i64>;
    /// An alert's events, oldest first.
    async fn alert_events(&self, alert_id: i64) -> Result<Vec<AlertEvent>>;
    /// The open incident of a model, opening one with this title and detection time when there is none.
    async fn open_incident(&self, model_name: &str, title: &str, at: Micros, detect_micros: i64)
    -> Result<IncidentRow>;
    /// Resolves an incident when none of its alerts is open any more; returns whether it did.
    async fn resolve_incident_if_clear(&self, id: i64, at: Micros) -> Result<bool>;
    /// Resolves an open incident by hand: records who and why, saves each of `alerts` (its open alerts,
    /// resolved with it) with its event and notification as [`OversightStore::save_alert`] does, and appends
    /// the incident's audit event, in one transaction. `NotFound` for an unknown id, `Conflict` when it is
    /// already resolved.
    async fn resolve_incident(
        &self,
        id: i64,
        resolution: &IncidentResolution,
        alerts: &[(AlertRow, AlertEvent, Option<Value>)],
        audit: AuditEventDraft,
    ) -> Result<IncidentRow>;
    /// One incident by id.
    async fn incident(&self, id: i64) -> Result<Option<IncidentRow>>;
    /// Incidents, newest first (`open` or `resolved` only when given).
    async fn incidents(&self, state: Option<&str>, limit: i64) -> Result<Vec<IncidentRow>>;
    /// Alerts of an incident, oldest first.
    async fn incident_alerts(&self, id: i64) -> Result<Vec<AlertRow>>;
    /// Stores a new finding (its `id` and `revision` are given by the store: revision 1) with its audit event in
    /// one transaction: the event's subject
    /// gets `/{id}` appended and its payload the stored finding as `finding`. `NotFound` when the model or
    /// the version does not exist.
    async fn insert_finding(&self, finding: &FindingRow, audit: AuditEventDraft) -> Result<FindingRow>;
    /// Replaces a finding by `finding` (its `revision` one more than the stored one) when the stored revision is
    /// still `finding.revision - 1` (`Conflict` otherwise: somebody changed it first; `NotFound` for an
    /// unknown id), with its audit event, whose payload gets the finding after the change as `finding`, in one
    /// transaction.
    async fn update_finding(&self, finding: &FindingRow, audit: AuditEventDraft) -> Result<FindingRow>;
    /// Applies a scanner report's import to a version in one transaction: stores `raised` (as
    /// `insert_finding` does, each with its event), applies `closed` (as `update_finding` does) and appends
    /// `import`, the import's own event. Nothing is stored when any part fails: `Conflict` when another change
    /// got there first (a finding changed meanwhile, or the same unresolved scan finding raised by a concurrent
    /// import). Returns the raised and the closed findings as stored.
    async fn import_findings(
        &self,
        raised: Vec<(FindingRow, AuditEventDraft)>,
        closed: Vec<(FindingRow, AuditEventDraft)>,
        import: AuditEventDraft,
    ) -> Result<(Vec<FindingRow>, Vec<FindingRow>)>;
    /// One finding by id.
    async fn finding(&self, id: i64) -> Result<Option<FindingRow>>;
    /// Stores a new attestation (revision 1) with its audit event, whose subject gets `/{id}` appended and whose
    /// payload the attestation as `attestation`. `Conflict` when the model has an unresolved one already.
    async fn open_attestation(&self, attestation: &AttestationRow, audit: AuditEventDraft) -> Result<AttestationRow>;
    /// Replaces an attestation whose stored revision is still `attestation.revision - 1` (`Conflict` otherwise),
    /// with its audit event (the attestation after it in the payload), in one transaction.
    async fn update_attestation(&self, attestation: &AttestationRow, audit: AuditEventDraft) -> Result<AttestationRow>;
    /// Attestations, newest first (of one model when given).
    async fn attestations(&self, model: Option<&str>) -> Result<Vec<AttestationRow>>;
    /// One attestation by id.
    async fn attestation(&self, id: i64) -> Result<Option<AttestationRow>>;
    /// Appends an incident's classification with its audit event, in one transaction. `NotFound` when the
    /// incident does not exist.
    async fn append_incident_classification(
        &self,
        row: &ClassificationRow,
        audit: AuditEventDraft,
    ) -> Result<ClassificationRow>;
    /// Appends a report submitted about an incident with its audit event, in one transaction. `Conflict` when
    /// a report of that framework and kind (other than an intermediate one, which is updated) is recorded
    /// already.
    async fn append_incident_report(
        &self,
        row: &IncidentReportRow,
        audit: AuditEventDraft,
    ) -> Result<IncidentReportRow>;
    /// Classifications (of one incident when given; else of incidents opened since `opened_since`), oldest
    /// first.
    async fn incident_classifications(
        &self,
        incident_id: Option<i64>,
        opened_since: Micros,
    ) -> Result<Vec<ClassificationRow>>;
    /// An incident's reports, oldest first.
    async fn incident_reports(&self, incident_id: i64) -> Result<Vec<IncidentReportRow>>;
    /// Records a reminder with its audit event and, for the incident's first alert, a webhook notification
    /// (`payload`), in one transaction: `false` (nothing written) when it was sent already.
    async fn remind_incident_report(
        &self,
        reminder: &ReportReminder,
        audit: AuditEventDraft,
        payload: Option<Value>,
    ) -> Result<bool>;
    /// Appends a review of a decision if the latest review of that decision (model, request id, version and
    /// decision time) is still `latest_id` (`None`: it has none), with its audit event, in one transaction:
    /// `Conflict` when another review came first.
    async fn append_decision_review(
        &self,
        review: &DecisionReviewRow,
        latest_id: Option<i64>,
        audit: AuditEventDraft,
    ) -> Result<DecisionReviewRow>;
    /// Reviews of a model's decisions, oldest first, at most `limit`: of one request id when given, and of
    /// decisions made between `decided.0` and `decided.1` (µs, both included).
    async fn decision_reviews(
        &self,
        model_name: &str,
        request_id: Option<&str>,
        decided: (Micros, Micros),
        limit: i64,
    ) -> Result<Vec<DecisionReviewRow>>;
    /// Reviews of a version's own decisions (not shadow or fallback ones) made at or after `since` (review
    /// time), newest first, at most `limit`, each with the model's decision; with the decision's attributes and features when `segments`.
    async fn reviews_of_decisions(
        &self,
        model_name: &str,
        version: i64,
        since: Micros,
        limit: i64,
        segments: bool,
    ) -> Result<Vec<ReviewOfDecision>>;
    /// A model's production decisions (champion, canary) made at or after `since` that were reviewed and have
    /// no outcome, each as its latest review left it: the newest `limit`, oldest first.
    async fn reviewed_decisions(&self, model_name: &str, since: Micros, limit: i64) -> Result<Vec<ReviewedDecision>>;
    /// Purges up to `limit` of a model's rows of `kind` (the oldest first) for decisions made before `before`,
    /// recording the purge (its rows' SHA-256) with its audit event in the same transaction; `None` when
    /// nothing is left to purge. A replica purging the same rows meanwhile makes this one take none.
    async fn purge(
        &self,
        model_name: &str,
        kind: PurgeKind,
        before: Micros,
        limit: i64,
        at: Micros,
        actor: &str,
        audit: AuditEventDraft,
    ) -> Result<Option<DataPurgeRow>>;
    /// Erases the features and attributes of every decision naming `subject` (a subject key's token), one
    /// recorded erasure per model, each with its audit event (`audit` builds it from the model's name), in one
    /// transaction, and forgets which decisions named the subject. `NotFound` when no decision names it.
    async fn erase_subject(
        &self,
        subject: &str,
        at: Micros,
        actor: &str,
        audit: &(dyn for<'n> Fn(&'n str) -> AuditEventDraft + Send + Sync),
    ) -> Result<Vec<DataPurgeRow>>;
    /// A model's purges and erasures, oldest first.
    async fn data_purges(&self, model_name: &str) -> Result<Vec<DataPurgeRow>>;
    /// Where the notification router has read a source to (`None`: never).
    async fn notification_cursor(&self, name: &str) -> Result<Option<i64>>;
    /// The newest alert outbox id and audit seq (0 when none): where a router that never ran starts.
    async fn notification_sources_end(&self) -> Result<(i64, i64)>;
    /// Alert outbox rows after `after_id`, oldest first.
    async fn outbox_after(&self, after_id: i64, limit: i64) -> Result<Vec<OutboxRow>>;
    /// Moves a cursor from `from` (`None`: it does not exist yet) to `to` and queues the deliveries routed from
    /// what lay between, in one transaction; `false`, writing nothing, when the cursor is elsewhere (another
    /// replica routed it).
    async fn route_notifications(
        &self,
        name: &str,
        from: Option<i64>,
        to: i64,
        deliveries: &[NewDelivery],
        at: Micros,
    ) -> Result<bool>;
    /// Routed deliveries due at `now`, oldest first.
    async fn due_deliveries(&self, now: Micros, limit: i64) -> Result<Vec<DeliveryRow>>;
    /// Records one delivery attempt: delivered at `delivered_at` (with the receiver's `response`), or failed with
    /// `error` and retried at `retry_at`.
    async fn record_routed_delivery(
        &self,
        id: i64,
        delivered_at: Option<Micros>,
        error: Option<&str>,
        retry_at: Micros,
        response: Option<&str>,
    ) -> Result<()>;
    /// Routed deliveries, newest first: to one receiver when named.
    async fn deliveries(&self, receiver: Option<&str>, limit: i64) -> Result<Vec<DeliveryRow>>;
    /// A model's production decisions made in `[from, to)` (shadow and pinned left out), by version, decision
    /// and whether a fallback answered, with the exposure `exposure_column` (a feature or attribute) holds.
    async fn period_decisions(
        &self,
        model_name: &str,
        from: Micros,
        to: Micros,
        exposure_column: &str,
    ) -> Result<Vec<PeriodDecisions>>;
    /// How many different people (subject tokens) a model's production decisions in `[from, to)` name.
    async fn period_subjects(&self, model_name: &str, from: Micros, to: Micros) -> Result<i64>;
    /// Findings, newest first: of one model when `model` is given, in one state when `state` is.
    async fn findings(&self, model: Option<&str>, state: Option<&str>) -> Result<Vec<FindingRow>>;
    /// Undelivered notifications due at `now`, oldest first.
    async fn due_notifications(&self, now: Micros, limit: i64) -> Result<Vec<OutboxRow>>;
    /// Records a delivery attempt: delivered at `delivered_at`, or failed with `error` and retried at `retry_at`.
    async fn record_delivery(
        &self,
        id: i64,
        delivered_at: Option<Micros>,
        error: Option<&str>,
        retry_at: Micros,
    ) -> Result<()>;
    /// Every notification of an alert, oldest first.
    async fn notifications(&self, alert_id: i64) -> Result<Vec<OutboxRow>>;
    /// Appends a retraining job's record, with its audit event.
    async fn append_retrain_job(
        &self,
        model_name: &str,
        at: Micros,
        body: &Value,
        audit: AuditEventDraft,
    ) -> Result<i64>;
    /// A model's retraining jobs, oldest first: id, time, record.
    async fn retrain_jobs(&self, model_name: &str) -> Result<Vec<(i64, Micros, Value)>>;
    /// Sets (or with `None` removes) a model's retraining schedule, with its audit event.
    async fn put_retrain_schedule(
        &self,
        model_name: &str,
        schedule: Option<&RetrainSchedule>,
        audit: AuditEventDraft,
    ) -> Result<()>;
    /// Every retraining schedule, by model name.
    async fn retrain_schedules(&self) -> Result<Vec<RetrainSchedule>>;
    /// Moves a schedule's next run to `next_at`.
    async fn advance_retrain_schedule(&self, model_name: &str, next_at: Micros) -> Result<()>;
    /// Every model's inventory line, by name.
    async fn inventory(&self) -> Result<Vec<InventoryRow>>;
    /// Every alias assignment made at or after `since`, oldest first.
    async fn deployments(&self, since: Micros) -> Result<Vec<DeploymentRow>>;
}

/// Proof: the append-only audit trail, the ledger built over it, and signed checkpoints.
#[async_trait]
pub trait ProofStore: Send + Sync {
    /// Reads audit events in sequence order.
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>>;
    /// Appends audit events (and their ledger entries) in one transaction.
    async fn append_audit_batch(&self, events: &[AuditEventDraft]) -> Result<()>;
    /// Gives ledger entries to the audit events after the last one the ledger records (those written before
    /// the ledger existed); how many.
    async fn ledger_backfill(&self) -> Result<u64>;
    /// Entries in the ledger.
    async fn ledger_size(&self) -> Result<u64>;
    /// Ledger entries from index `from` on (of one subject, or under a subject prefix ending in `/`), at
    /// most `limit`, in order.
    async fn ledger_entries(&self, subject: Option<&str>, from: u64, limit: i64) -> Result<Vec<LedgerRow>>;
    /// Ledger entries with index in `from..to`, each with the audit event it records (if that exists), in
    /// order — read as one row per page, since the whole ledger is walked a page at a time.
    async fn ledger_page(&self, from: u64, to: u64) -> Result<Vec<(LedgerLeaf, Option<AuditRecord>)>>;
    /// The stored leaf hashes of entries `from..to`, concatenated (32 bytes each), in index order.
    async fn ledger_leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<u8>>;
    /// Audit events stored.
    async fn audit_event_count(&self) -> Result<u64>;
    /// Audit events no ledger entry records, lowest first, at most `limit`.
    async fn unrecorded_audit_events(&self, limit: i64) -> Result<Vec<i64>>;
    /// Audit events from sequence number `from_seq` on, at most `limit`, in order.
    async fn audit_records(&self, from_seq: i64, limit: i64) -> Result<Vec<AuditRecord>>;
    /// The audit events with these sequence numbers (those that exist), in order.
    async fn audit_records_of(&self, seqs: &[i64]) -> Result<Vec<AuditRecord>>;
    /// Stores a signed checkpoint.
    async fn append_checkpoint(&self, checkpoint: CheckpointRow) -> Result<CheckpointRow>;
    /// Every checkpoint, oldest first.
    async fn checkpoints(&self) -> Result<Vec<CheckpointRow>>;
}

/// One replica's live windows of a version over one 10-second bucket.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WindowBucket {
    /// The bucket's start (µs).
    #[sqlx(rename = "bucket_start")]
    pub start: Micros,
    /// Decisions in it.
    pub decisions: i64,
    /// The windows, as the lifecycle serialises them (JSON).
    pub body: String,
}
