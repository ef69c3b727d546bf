//! The request and response bodies of Warden's HTTP API, shared by the server (`warden-api`) and its client
//! (the `warden` CLI): a field renamed here is a compile error on both sides.
//!
//! No logic and no I/O: serde and OpenAPI derives, doc comments, and the vocabulary of `warden-core`.
//! `warden-api` converts the lifecycle's types into these; the lifecycle never sees them.
//!
//! A few parts are open by nature and typed `serde_json::Value` (each says so in its schema): model inputs
//! and attributes, hyperparameters, a reference profile, an audit payload, a policy input document, a
//! monitor's per-feature details, an error's details.
//!
//! The bodies of the registry, tokens, aliases, scoring and errors are here; those of governance, the
//! ledger, monitoring, retraining and the overview are in `responses` (all re-exported at the root).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
pub use warden_core::{
    AiActGround, AlertState, DataPurgeKind, DecisionSource, FallbackKind, FindingKind, FindingSeverity, FindingState,
    Framework, IncidentState, JobStatus, MonitorKind, Protection, ReportFieldSource, ReportKind, ReportStage,
    ReviewAction, RiskTier, Route, ScanFormat, Severity, StreamKind, TierBasis, Timestamp,
};

mod responses;
pub use responses::*;

fn default_outcome_kind() -> String {
    "default".into()
}

/// Error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code: bad_request, invalid, unauthenticated, forbidden, not_found, conflict, too_large, internal.
    pub code: String,
    /// One line for a person.
    pub message: String,
    /// Structured details (line, column...), or null.
    #[schema(value_type = Value)]
    pub details: Value,
}

/// Health answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    pub status: String,
}

/// A model to create.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateModel {
    /// Unique name: 1-64 of a-z 0-9 . _ -.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Accountable owner.
    pub owner: String,
    /// high, medium or low (a string here: an unknown tier is refused with the lifecycle's 422).
    #[schema(value_type = RiskTier)]
    pub risk_tier: String,
    /// Business use, e.g. retail credit origination.
    #[serde(default)]
    pub use_case: String,
    /// The business line it serves, e.g. cards (roles can be scoped to one).
    #[serde(default)]
    pub business_line: String,
    /// Labels.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A model.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelBody {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Owner.
    pub owner: String,
    /// Risk tier.
    pub risk_tier: RiskTier,
    /// Use case.
    pub use_case: String,
    /// The business line it serves (empty: not said).
    #[serde(default)]
    pub business_line: String,
    /// Tags.
    pub tags: Vec<String>,
    /// When.
    pub created_at: Timestamp,
    /// Creator.
    pub created_by: String,
    /// Highest version number.
    pub latest_version: Option<i64>,
    /// Its retirement, when asked for or done (none: in service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retirement: Option<RetirementBody>,
}

/// A model's retirement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RetirementBody {
    /// `requested` (a high tier model waits for a second person) or `retired`.
    pub state: String,
    /// Who asked for it.
    pub requested_by: String,
    /// When.
    pub requested_at: Timestamp,
    /// Why.
    pub reason: String,
    /// Who retired it.
    pub retired_by: Option<String>,
    /// When it was retired: from then on it serves, ingests and takes new versions no more.
    pub retired_at: Option<Timestamp>,
}

/// Why a model is retired.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetireBody {
    /// Why (required).
    pub reason: String,
}

/// Classifying an incident: `POST /v1/incidents/{id}/classify`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyBody {
    /// dora (a major ICT-related incident), ai_act (a serious incident) or internal.
    pub framework: Framework,
    /// When it was classified: required (the clocks run from it); not in the future.
    pub classified_at: Option<Timestamp>,
    /// When the firm became aware of it; default: when Warden opened the incident.
    #[serde(default)]
    pub aware_at: Option<Timestamp>,
    /// AI Act only: death (10 days), widespread_or_critical_infrastructure (2 days) or other (15 days).
    #[serde(default)]
    pub ground: Option<AiActGround>,
    /// Internal only (required there): the firm's severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// Free text.
    #[serde(default)]
    pub note: String,
}

/// A report submitted to an authority: `POST /v1/incidents/{id}/reports`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSubmittedBody {
    /// dora or ai_act.
    pub framework: Framework,
    /// initial, intermediate or final (DORA); report (AI Act).
    pub kind: ReportKind,
    /// When it was submitted; default now (not in the future).
    #[serde(default)]
    pub submitted_at: Option<Timestamp>,
    /// The authority's reference, or the firm's.
    pub reference: String,
    /// SHA-256 of the content submitted.
    #[serde(default)]
    pub content_sha256: Option<String>,
}

/// An incident's classification under a framework.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClassificationBody {
    /// Id.
    pub id: i64,
    /// When recorded.
    pub at: Timestamp,
    /// Who recorded it.
    pub actor: String,
    /// The framework.
    pub framework: Framework,
    /// When it was classified.
    pub classified_at: Timestamp,
    /// When the firm became aware.
    pub aware_at: Timestamp,
    /// The AI Act's ground.
    pub ground: Option<AiActGround>,
    /// The internal severity.
    pub severity: Option<String>,
    /// Free text.
    pub note: String,
}

/// A report recorded as submitted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubmittedReportBody {
    /// Id.
    pub id: i64,
    /// When recorded.
    pub at: Timestamp,
    /// Who recorded it.
    pub actor: String,
    /// The framework.
    pub framework: Framework,
    /// The report.
    pub kind: ReportKind,
    /// When it was submitted.
    pub submitted_at: Timestamp,
    /// The reference.
    pub reference: String,
    /// SHA-256 of its content.
    pub content_sha256: Option<String>,
}

/// A report a classification owes, and where it stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OwedReportBody {
    /// The framework.
    pub framework: Framework,
    /// The report.
    pub kind: ReportKind,
    /// When it is due.
    pub due_at: Timestamp,
    /// From what the due time is counted.
    pub basis: String,
    /// Its latest submission.
    pub submitted_at: Option<Timestamp>,
    /// running, due_soon, overdue, submitted or submitted_late.
    pub stage: ReportStage,
    /// Seconds to its due time (negative: past it).
    pub seconds_left: i64,
}

/// An incident's regulatory clocks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentClocksBody {
    /// The incident.
    pub incident_id: i64,
    /// The latest classification per framework.
    pub classifications: Vec<ClassificationBody>,
    /// Reports recorded as submitted, oldest first.
    pub reports: Vec<SubmittedReportBody>,
    /// The reports owed, in the order they are due.
    pub owed: Vec<OwedReportBody>,
}

/// Suspending a model: `POST /v1/models/{name}/suspend`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    /// Why (required).
    pub reason: String,
    /// What answers instead: decline, refer, or version (with `fallback_version`).
    pub fallback: FallbackKind,
    /// The version a `version` fallback answers with (one the gate let into the champion alias before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_version: Option<i64>,
}

/// A model's stop-switch state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SuspensionBody {
    /// Model.
    pub model: String,
    /// Whether its fallback answers production traffic.
    pub suspended: bool,
    /// Who suspended or resumed it last.
    pub by: Option<String>,
    /// When.
    pub at: Option<Timestamp>,
    /// Why.
    pub reason: Option<String>,
    /// While suspended: the fallback.
    pub fallback: Option<FallbackKind>,
    /// The version a `version` fallback answers with.
    pub fallback_version: Option<i64>,
}

/// How long a model's data is kept, in days after the decision; absent keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// Whole decisions (with their features and outcomes); at least the policy bundle's floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions_days: Option<u32>,
    /// Features and attributes; the decision's time, version, score and decision stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features_days: Option<u32>,
    /// Outcomes, counted from their decision's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcomes_days: Option<u32>,
}

/// A model's personal data: fields kept tokenised or encrypted, and the attribute naming the person.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonalDataBody {
    /// Feature or attribute → `tokenise` or `encrypt` (a model input only `encrypt`).
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, Protection>,
    /// The attribute naming the person (always tokenised), which an erasure finds the person's decisions by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_key: Option<String>,
}

/// Declaring a model's data policy: `PUT /v1/models/{name}/data-policy`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataPolicyPutBody {
    #[serde(default)]
    pub retention: RetentionBody,
    #[serde(default)]
    pub personal: PersonalDataBody,
    /// Why (required).
    pub reason: String,
}

/// One purge of a retention period or one erasure of a person's data from a model's decisions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DataPurgeBody {
    pub id: i64,
    pub model: String,
    pub at: Timestamp,
    /// Who (`system:retention` for the scheduler).
    pub actor: String,
    pub kind: DataPurgeKind,
    /// A retention purge: it took decisions made before this time.
    pub before: Option<Timestamp>,
    /// Rows taken (decisions, or outcomes).
    pub rows: i64,
    /// SHA-256 of the rows' text as they were, in id order (see the README's "Retention and personal data").
    pub sha256: String,
}

/// A model's data policy in force, and its purges and erasures.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DataPolicyBody {
    pub model: String,
    pub retention: RetentionBody,
    pub personal: PersonalDataBody,
    /// Who declared it, when and why (null before any declaration: everything kept, in clear).
    pub declared_by: Option<String>,
    pub declared_at: Option<Timestamp>,
    pub reason: Option<String>,
    /// The least the policy bundle in force lets decisions be kept, in days.
    pub min_decision_days: u32,
    /// Purges and erasures, oldest first.
    pub purges: Vec<DataPurgeBody>,
}

/// Erasing one person's data: `POST /v1/subjects/erase`. The key travels in the body, never in a URL.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    /// The person's subject key, as the business application sends it (e.g. a customer number).
    pub subject_key: String,
    /// Why (the erasure request's reference).
    pub reason: String,
}

/// What an erasure took: one record per model.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErasureBody {
    pub erased: Vec<DataPurgeBody>,
}

/// Values to write into a model's inventory fields, and fields to remove.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryFieldsBody {
    /// Field → value, validated against the inventory schema in force.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub set: Map<String, Value>,
    /// Fields to remove.
    #[serde(default)]
    pub unset: Vec<String>,
}

/// A tier override, or (`tier` null) following the rules again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierOverrideBody {
    /// The tier to hold whatever the fields say; null follows the rules again (clears an override, or applies
    /// a lower computed tier that a field write could not).
    pub tier: Option<RiskTier>,
    /// Why (required).
    pub reason: String,
}

/// Which inventory lines to show.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct InventoryQuery {
    /// Inventory field filters, `name=value` pairs separated by `;` (a field matches when its value as text
    /// equals the value, or when it is a list holding it).
    #[serde(rename = "where")]
    #[param(rename = "where")]
    pub filter: Option<String>,
    /// Text found, in any case, in the name, owner, use case or any field's value.
    pub q: Option<String>,
    /// Only this tier.
    pub tier: Option<RiskTier>,
}

/// One feature of the input schema.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    /// Column name.
    pub name: String,
    /// numeric or categorical.
    #[serde(rename = "type")]
    pub kind: String,
    /// Allowed categories (categorical only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Whether missing values are allowed.
    #[serde(default)]
    pub nullable: bool,
    /// Category → code the model was trained with (categorical features of models that take codes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<BTreeMap<String, f64>>,
    /// `refuse` (default) or `missing`: what a category outside the schema becomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_category: Option<String>,
}

/// The `metadata` part of a version registration.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterVersionMetadata {
    /// onnx, xgboost-json, xgboost-ubj, lightgbm-text or linear-json.
    pub format: String,
    /// Target column of the reference data.
    #[serde(default)]
    pub target: Option<String>,
    /// Protected attribute columns (monitor-only).
    #[serde(default)]
    pub protected: Vec<String>,
    /// Reference columns to ignore (identifiers).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Declared feature schema; inferred from the reference data when absent.
    #[serde(default)]
    pub schema: Option<Vec<Feature>>,
    /// SHA-256 of the training data.
    #[serde(default)]
    pub training_data_sha256: Option<String>,
    /// Training data rows.
    #[serde(default)]
    pub training_data_rows: Option<u64>,
    /// Code reference such as a git commit.
    #[serde(default)]
    pub code_ref: Option<String>,
    /// Hyperparameters.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub hyperparameters: Map<String, Value>,
    /// Version this one derives from.
    #[serde(default)]
    pub parent_version: Option<i64>,
    /// An Ed25519 signature over the artifact's SHA-256 digest by a signer the server trusts.
    #[serde(default)]
    pub artifact_signature: Option<ArtifactSignatureBody>,
    /// Decision threshold and labels (default: score >= 0.5 is `decline`, else `approve`; 4 reason codes).
    #[serde(default)]
    pub serving: Option<ServingConfig>,
    /// Categorical encodings the model was trained with: feature -> category -> code.
    #[serde(default)]
    pub encodings: BTreeMap<String, BTreeMap<String, f64>>,
    /// Default rule for undeclared categories: `refuse` (422) or `missing`.
    #[serde(default)]
    pub unknown_category: Option<String>,
}

/// An artifact signature.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactSignatureBody {
    /// The signer's name, as listed in the server's trusted-signers file.
    pub signer: String,
    /// The Ed25519 signature over the 32 bytes of the artifact's SHA-256, base64.
    pub signature: String,
}

/// Multipart form of a version registration.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct RegisterVersionForm {
    /// JSON `RegisterVersionMetadata`.
    metadata: RegisterVersionMetadata,
    /// The model artifact.
    #[schema(value_type = String, format = Binary)]
    artifact: Vec<u8>,
    /// Reference data, CSV with a header row or Parquet.
    #[schema(value_type = String, format = Binary)]
    reference: Vec<u8>,
}

/// A blob reference.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Blob {
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// Reference data of a version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Reference {
    /// The stored file.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// csv or parquet.
    pub format: String,
    /// Data rows.
    pub rows: u64,
    /// Target column.
    pub target: Option<String>,
    /// Protected attributes.
    pub protected: Vec<String>,
    /// Per-column profile (present on single-version reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Value)]
    pub profile: Option<Value>,
}

/// Lineage of a version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LineageBody {
    /// SHA-256 of the training data.
    pub training_data_sha256: Option<String>,
    /// Training data rows.
    pub training_data_rows: Option<u64>,
    /// Code reference.
    pub code_ref: Option<String>,
    /// Hyperparameters.
    #[schema(value_type = Object)]
    pub hyperparameters: Map<String, Value>,
    /// Parent version.
    pub parent_version: Option<i64>,
    /// The trusted signer whose signature of the artifact's SHA-256 was verified, if it was signed.
    pub artifact_signer: Option<String>,
}

/// A version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionBody {
    /// Model name.
    pub model: String,
    /// Version number.
    pub version: i64,
    /// Artifact format.
    pub format: String,
    /// The artifact.
    pub artifact: Blob,
    /// Input schema.
    pub feature_schema: Vec<Feature>,
    /// Reference data.
    pub reference: Reference,
    /// Lineage.
    pub lineage: LineageBody,
    /// Decision threshold and labels.
    pub serving: ServingConfig,
    /// Warnings about the inputs found at registration: identifier-like or protected-looking columns.
    #[serde(default)]
    pub input_warnings: Vec<InputWarningBody>,
    /// When.
    pub created_at: Timestamp,
    /// Creator.
    pub created_by: String,
}

/// A warning about one input column of a version, found at registration and kept with it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InputWarningBody {
    /// The input column.
    pub column: String,
    /// `identifier` (unique per reference row, or named like an id) or `protected_attribute` (declared
    /// protected, or named like one).
    pub kind: String,
    /// What was found and what to do about it.
    pub message: String,
}

/// Point an alias at a version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAlias {
    /// Version number.
    pub version: i64,
    /// Why (kept in the history).
    #[serde(default)]
    pub reason: String,
    /// Share of traffic the alias answers, in [0, 1] (the `canary` alias).
    #[serde(default)]
    pub traffic: Option<f64>,
}

/// One alias assignment; `version` null records a removal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AliasBody {
    /// Model name.
    pub model: String,
    /// Alias.
    pub alias: String,
    /// Version pointed at, or null when removed.
    pub version: Option<i64>,
    /// When.
    pub assigned_at: Timestamp,
    /// Who.
    pub assigned_by: String,
    /// Why.
    pub reason: String,
    /// Share of traffic, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<f64>,
    /// The gate decision behind a production alias move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    /// The move went ahead against the gate (administrator's emergency override).
    #[serde(default)]
    pub overridden: bool,
}

/// Query of an alias lookup.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct AliasAtQuery {
    /// RFC 3339 time; the alias as it was then (default: now).
    pub at: Option<String>,
}

/// Query of an alias removal.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct RemoveAliasQuery {
    /// Why; required for a production alias (`champion`, `canary`), whose removal takes the model (or its
    /// canary) out of production.
    pub reason: Option<String>,
}

/// Query of the alias history.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct AliasHistoryQuery {
    /// Only this alias.
    pub alias: Option<String>,
}

/// Create a token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Unique name (shown as the actor in the audit trail).
    pub name: String,
    /// viewer, data-scientist, validator, risk-officer, admin or scorer.
    pub role: String,
    /// RFC 3339; after this time the token no longer authenticates. Absent: it does not expire.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// A person of the identity provider (`issuer|subject`) the token is tied to: acts through it are theirs.
    #[serde(default)]
    pub subject: Option<String>,
}

/// A token (never its secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenBody {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// When.
    pub created_at: Timestamp,
    /// Creator.
    pub created_by: String,
    /// When revoked.
    pub revoked_at: Option<Timestamp>,
    /// When it expires (null: never).
    pub expires_at: Option<Timestamp>,
    /// The person (`issuer|subject`) it is tied to (null: the token is its own identity).
    #[serde(default)]
    pub subject: Option<String>,
}

/// A new token with its secret, shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedTokenBody {
    /// The bearer secret.
    pub secret: String,
    /// The token.
    pub token: TokenBody,
}

/// The caller.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// The unique name: a token's name, or the identity provider's `issuer|subject`.
    pub name: String,
    /// The roles, as `viewer, validator` (a token's one role).
    pub role: String,
    /// The roles held over the whole inventory.
    pub roles: Vec<String>,
    /// Roles held over some models only, as `data-scientist over models tagged 'cards'`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `token` (one of Warden's bearer tokens) or `oidc` (a token of the identity provider).
    pub via: String,
    /// The identity provider's name for the caller, when it gives one.
    pub display_name: Option<String>,
}

/// The identity provider people sign in through, for clients that sign in themselves (`warden login`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdentityProviderBody {
    /// The issuer URL (discovery is below it).
    pub issuer: String,
    /// The client id the CLI signs in as (device authorization flow).
    pub cli_client_id: String,
    /// The provider's name for people.
    pub display_name: String,
    /// Whether Warden's own bearer tokens are accepted too.
    pub token_login: bool,
}

/// Audit events query.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct AuditEventsQuery {
    /// Events after this sequence number.
    pub after: Option<i64>,
    /// Subject prefix, e.g. `model/credit-default`.
    pub subject: Option<String>,
    /// At most this many (default 100, max 10000).
    pub limit: Option<i64>,
}

/// Evidence bundle period.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct EvidenceQuery {
    /// From this time (µs since the epoch).
    pub from: Option<i64>,
    /// Up to this time (µs since the epoch).
    pub to: Option<i64>,
}

/// Which document to write, of which version.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct DocsQuery {
    /// The template: `model-documentation` (the default), `eu-ai-act-annex-iv`, `monitoring-report`, or one
    /// the bank added.
    pub template: Option<String>,
    /// The version (default: the latest).
    pub version: Option<i64>,
    /// The period a monitoring report covers: `YYYY-MM`, `YYYY-QN` or `last-N-days` (default `last-30-days`).
    pub period: Option<String>,
}

/// The inventory's document and its period.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct InventoryDocsQuery {
    /// The template: `monitoring-report` (the one document written for the whole inventory).
    pub template: Option<String>,
    /// The period it covers: `YYYY-MM`, `YYYY-QN` or `last-N-days` (default `last-30-days`).
    pub period: Option<String>,
}

/// Which framework a traceability matrix is drawn for.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct TraceabilityQuery {
    /// `sr-26-2`, `ss1-23` or `eu-ai-act`.
    pub framework: String,
}

/// Ledger entries query.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct LedgerQuery {
    /// One subject, or every subject under a prefix ending in `/` (e.g. `model/credit/`).
    pub subject: Option<String>,
    /// From this entry index on.
    pub from: Option<u64>,
    /// At most this many (default 1000, max 10000).
    pub limit: Option<i64>,
}

/// An audit event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEventBody {
    /// Sequence number.
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// Details.
    #[schema(value_type = Value)]
    pub payload: Value,
}

/// One request to score.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequestBody {
    /// Your id for the request (outcomes refer to it; it also picks the canary share). Made up when absent.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Model inputs, raw (categories as text): checked against the version's schema.
    #[schema(value_type = Object)]
    pub features: Map<String, Value>,
    /// Monitor-only columns (sex, age band, amount at risk) that never reach the model.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// Return contributions and reason codes.
    #[serde(default)]
    pub explain: bool,
}

/// A reason code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReasonBody {
    /// Feature.
    pub feature: String,
    /// The value given.
    #[schema(value_type = Value)]
    pub value: Value,
    /// Contribution toward the positive decision (log-odds).
    pub contribution: f64,
}

/// A decision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScoreResponseBody {
    /// The request id.
    pub request_id: String,
    /// Model.
    pub model: String,
    /// Version that answered.
    pub version: i64,
    /// champion, canary, pinned, or fallback (the model is suspended: its fallback answered).
    pub route: Route,
    /// Score (probability of the bad event; a regression's predicted value; a multiclass classifier's
    /// predicted class's probability); absent when a suspended model's fallback answered without a model
    /// (decline, refer).
    pub score: Option<f64>,
    /// Decision from the version's threshold, or the fallback's; a multiclass classifier's predicted class.
    pub decision: String,
    /// A multiclass classifier's probability of each class, by class label (the score is the predicted class's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<BTreeMap<String, f64>>,
    /// Top reasons toward the positive decision (with explain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<ReasonBody>>,
    /// Contribution of every feature (with explain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contributions: Option<BTreeMap<String, f64>>,
    /// Expected margin the contributions add to (with explain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<f64>,
}

/// Decisions of a batch, in request order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchResponseBody {
    /// One per request.
    pub results: Vec<ScoreResponseBody>,
}

/// The version a caller's scoring requests go to, with what a request must carry (a business application
/// builds its requests from this, without reading the registry).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScoringSchemaBody {
    /// Model name.
    pub model: String,
    /// The version that answers.
    pub version: i64,
    /// The route it answers on: champion, canary, or pinned (a person testing a version).
    pub route: Route,
    /// The input schema: the request's `features`.
    pub features: Vec<Feature>,
    /// Monitor-only attributes (protected attributes), sent as the request's `attributes`, never model inputs.
    pub attributes: Vec<String>,
    /// A multiclass classifier's class labels, in its order: each answer's `probabilities` name them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
}

/// Which version answers: by default the routes (champion, canary); a number or alias pins one.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct ScoreQuery {
    /// Version number or alias to score with instead of the routes.
    #[serde(default)]
    pub version: Option<String>,
}

/// One late label.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    /// The scored request.
    pub request_id: String,
    /// 1 = the bad event happened (default, chargeback), 0 = it did not.
    pub label: i64,
    /// Kind of event (default `default`).
    #[serde(default = "default_outcome_kind")]
    pub kind: String,
    /// Amount involved.
    #[serde(default)]
    pub amount: Option<f64>,
    /// The realized value a regression model predicted (the loss given default, the exposure at default,
    /// the income).
    #[serde(default)]
    pub value: Option<f64>,
    /// The realized class a multiclass classifier predicted: one of its version's class labels.
    #[serde(default)]
    pub class: Option<String>,
}

/// Late labels to record (all or none).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomesBody {
    /// The outcomes.
    pub outcomes: Vec<OutcomeBody>,
}

/// How many outcomes were recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutcomesRecorded {
    /// Count.
    pub recorded: usize,
}

/// A logged decision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecisionBody {
    /// When.
    pub at: Timestamp,
    /// Request id.
    pub request_id: String,
    /// Version.
    pub version: i64,
    /// champion, canary, shadow, pinned, or unapproved (made elsewhere by a version no production alias held).
    pub route: Route,
    /// Features as received.
    #[schema(value_type = Value)]
    pub features: Value,
    /// Monitor-only attributes.
    #[schema(value_type = Value)]
    pub attributes: Value,
    /// Score; absent for a fallback answered without a model while the model was suspended.
    pub score: Option<f64>,
    /// A multiclass classifier's probability of each class, in the order of its version's `classes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probabilities: Vec<f64>,
    /// Decision.
    pub decision: String,
    /// Scoring latency, microseconds (0 for a decision made elsewhere).
    pub latency_us: i64,
    /// How the decision arrived: scored by Warden, or ingested over http, from kserve or from kafka.
    pub source: DecisionSource,
    /// People's reviews of it, oldest first: the latest says how the decision stands.
    #[serde(default)]
    pub reviews: Vec<DecisionReviewBody>,
}

/// A person's review of a decision (human oversight): append-only, audited.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecisionReviewBody {
    /// Id.
    pub id: i64,
    /// Model.
    pub model: String,
    /// The version that made the decision.
    pub version: i64,
    /// The decision's request id.
    pub request_id: String,
    /// When the decision was made.
    pub decision_at: Timestamp,
    /// When it was reviewed.
    pub at: Timestamp,
    /// Who reviewed it.
    pub reviewer: String,
    /// confirm, override or reverse.
    pub action: ReviewAction,
    /// The decision before this review (the model's, or an earlier review's).
    pub decision_before: String,
    /// The decision after it.
    pub decision: String,
    /// One of the policy's reason codes.
    pub reason_code: String,
    /// The reviewer's text.
    pub note: String,
}

/// A review of one decision: `POST /v1/decisions/{request_id}/review`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequestBody {
    /// The model whose decision it is.
    pub model: String,
    /// confirm (it stands), override (it becomes `decision`) or reverse (it becomes the other of its version's
    /// two decisions).
    pub action: ReviewAction,
    /// The new decision, for an override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// One of the reason codes of the policy in force (`review.reason_codes`).
    pub reason_code: String,
    /// Free text.
    #[serde(default)]
    pub note: String,
}

/// A decision made outside Warden by a version registered as external: one element of the JSON array (or one
/// line of NDJSON) sent to `POST /v1/models/{name}/decisions`, and the value of a Kafka decision record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRecordBody {
    /// The platform's id of the request (outcomes join on it); logged once per version.
    pub request_id: String,
    /// The version that decided (registered with format `external`).
    pub version: i64,
    /// When the platform decided (at most 5 minutes ahead of the server's clock).
    pub at: Timestamp,
    /// The model's inputs, checked against the version's schema as scoring checks them.
    #[schema(value_type = Object)]
    pub features: serde_json::Map<String, Value>,
    /// Monitor-only columns.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, Value>,
    /// The model's score, a probability in [0, 1].
    pub score: f64,
    /// The decision made (one of the version's two); absent: the version's threshold gives it.
    #[serde(default)]
    pub decision: Option<String>,
}

/// What a KServe payload-logger event did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KserveEventBody {
    /// `waiting` (kept until its other half arrives) or `logged` (joined; the decisions are committed).
    pub status: String,
    /// Decisions logged (0 while waiting).
    pub logged: usize,
    /// Decisions already ingested.
    pub duplicates: usize,
    /// Of the logged, those of a version no production alias held at their time.
    pub unapproved: usize,
}

/// A record that could not be ingested.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterBody {
    /// When it was set aside.
    pub at: Timestamp,
    /// http, kserve or kafka.
    pub source: String,
    /// The topic, partition and offset it was read from (stream records).
    pub topic: Option<String>,
    /// See `topic`.
    pub partition: Option<i32>,
    /// See `topic`.
    pub offset: Option<i64>,
    /// The model it was meant for.
    pub model: Option<String>,
    /// Why it could not be ingested.
    pub reason: String,
    /// The record as received (its first 4 KiB).
    pub payload: String,
}

/// KServe event halves of one model still waiting for their other half.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KserveWaitingBody {
    /// Model.
    pub model: String,
    /// Requests without their response yet (KServe logs no response when the model server failed).
    pub requests: i64,
    /// Responses without their request yet.
    pub responses: i64,
    /// The oldest waiting half's arrival.
    pub oldest: Option<Timestamp>,
}

/// One partition of a stream Warden consumes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StreamPartitionBody {
    /// Partition.
    pub partition: i32,
    /// The next offset to consume (stored with the records before it).
    pub position: Option<i64>,
    /// The partition's end, when known.
    pub high_watermark: Option<i64>,
    /// Records not yet consumed.
    pub lag: Option<i64>,
}

/// A stream consumer of this replica.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StreamBody {
    /// Consumer group.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// The model its records are for.
    pub model: String,
    /// Decisions or outcomes.
    pub kind: StreamKind,
    /// Whether the brokers answer.
    pub connected: bool,
    /// The last error (a broker down, a topic that does not exist).
    pub last_error: Option<String>,
    /// Its partitions assigned to this replica.
    pub partitions: Vec<StreamPartitionBody>,
    /// Records removed by the topic's retention before this replica stored them (since it started): their
    /// decisions are not in the log.
    pub expired: u64,
}

/// The state of ingestion: records set aside, KServe halves waiting, stream consumers and their lag.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestionBody {
    /// Records set aside, in all.
    pub dead_letters: i64,
    /// The newest of them.
    pub recent_dead_letters: Vec<DeadLetterBody>,
    /// KServe halves waiting, per model.
    pub kserve_waiting: Vec<KserveWaitingBody>,
    /// Stream consumers of this replica.
    pub streams: Vec<StreamBody>,
    /// Outcomes read from a stream before their decisions were logged, waiting for them (recorded by the
    /// monitor round after the decision arrives; set aside after seven days).
    pub pending_outcomes: i64,
}

/// What an ingested batch did (all of it is committed when this is returned).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestedBody {
    /// Decisions logged.
    pub logged: usize,
    /// Decisions skipped: their request id was already ingested for their version.
    pub duplicates: usize,
    /// Of the logged, those of a version no production alias held at their time (each raises the critical
    /// `unapproved_version_serving` alert at the next monitor round).
    pub unapproved: usize,
}

/// Query of the decision log.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct DecisionQuery {
    /// Only this request.
    #[serde(default)]
    pub request_id: Option<String>,
    /// At most this many (default 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// A version's live window profile.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LiveProfileBody {
    /// Version.
    pub version: i64,
    /// Windows per feature and for the score, decision and route counts.
    #[schema(value_type = Value)]
    pub profile: Value,
}

/// Metadata of a validation: the label column and protected attributes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateMetadata {
    /// Label column (1 = the bad event the score predicts).
    pub target: String,
    /// Protected attribute columns (default: the version's).
    #[serde(default)]
    pub protected: Vec<String>,
    /// The target value that marks the bad event (default `1`).
    #[serde(default)]
    pub bad_value: Option<String>,
}

/// Multipart form of a validation.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ValidateForm {
    /// JSON `ValidateMetadata`.
    metadata: ValidateMetadata,
    /// Labelled data, CSV with a header row or Parquet.
    #[schema(value_type = String, format = Binary)]
    data: Vec<u8>,
    /// Optional stress scenarios (TOML, or YAML when the file name ends in .yaml/.yml).
    #[schema(value_type = Option<String>, format = Binary)]
    scenarios: Option<Vec<u8>>,
}

/// An approval or rejection.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequestBody {
    /// `approve` or `reject`.
    pub decision: String,
    /// Why (required).
    pub comment: String,
}

/// Which alias the gate decides on.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GateCheckBody {
    /// `champion` (default) or `canary`.
    #[serde(default)]
    pub alias: Option<String>,
}

/// A promotion.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    /// `champion` (default) or `canary`.
    #[serde(default)]
    pub alias: Option<String>,
    /// The canary's share of traffic, in [0, 1].
    #[serde(default)]
    pub traffic: Option<f64>,
    /// Why (kept with the alias move; required for an override).
    #[serde(default)]
    pub reason: String,
    /// Go ahead against the gate's refusal (admin only; recorded as an override).
    #[serde(default, rename = "override")]
    pub override_gate: bool,
}

/// A policy bundle: path → text (`.rego` policies and tests, `.json` data).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBundleBody {
    /// Path inside the bundle → file text.
    pub files: BTreeMap<String, String>,
}

/// Window of a live drift query.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct LiveDriftQuery {
    /// Seconds of recent traffic, 1 to 3600 (default 600).
    pub seconds: Option<i64>,
}

/// Which evaluations to list.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct MonitorHistoryQuery {
    /// Only this monitor.
    pub monitor: Option<String>,
    /// The newest N (default 1000).
    pub limit: Option<i64>,
}

/// Which alerts to list.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct AlertsQuery {
    /// firing, acknowledged, resolved or open (firing and acknowledged).
    pub state: Option<String>,
    /// Only this model's.
    pub model: Option<String>,
}

/// An acknowledgement.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeBody {
    /// What is being done about it.
    #[serde(default)]
    pub comment: String,
}

/// Which DORA report to assemble.
#[derive(Debug, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DoraReportQuery {
    /// initial, intermediate or final.
    pub kind: ReportKind,
}

/// One data field of a DORA incident report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DoraFieldBody {
    pub key: String,
    /// The template's name for it.
    pub label: String,
    /// Null when the firm completes it.
    #[schema(value_type = Value)]
    pub value: Value,
    pub source: ReportFieldSource,
}

/// One section of a DORA incident report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DoraSectionBody {
    pub title: String,
    pub fields: Vec<DoraFieldBody>,
}

/// A DORA major incident report's content, in the ESAs' template fields, as Warden can fill them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DoraReportBody {
    pub incident_id: i64,
    pub kind: ReportKind,
    pub generated_at: Timestamp,
    /// The affected period the decision figures cover.
    pub period_from: Timestamp,
    pub period_to: Timestamp,
    pub sections: Vec<DoraSectionBody>,
    /// The keys of the fields the firm completes before submission.
    pub to_complete: Vec<String>,
}

/// Which incidents to list.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct IncidentsQuery {
    /// open or resolved.
    pub state: Option<String>,
}

/// A finding to raise against a model.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaiseFindingBody {
    /// The version it concerns (absent: every version of the model).
    #[serde(default)]
    pub version: Option<i64>,
    /// What it records.
    pub kind: FindingKind,
    /// How grave it is; its due date follows from it.
    pub severity: FindingSeverity,
    /// A line.
    pub title: String,
    /// What was found.
    #[serde(default)]
    pub description: String,
    /// Who must remediate it (default: the model's owner).
    #[serde(default)]
    pub owner: Option<String>,
}

/// A proposed remediation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeRemediationBody {
    /// How the finding is remediated.
    pub remediation: String,
}

/// Closing a finding as remediated.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseFindingBody {
    /// What shows it remediated (a document, a report, the version that fixes it).
    pub evidence: String,
}

/// Accepting a finding as a limitation, or granting a policy exception that covers it, until an expiry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UntilBody {
    /// Until when (RFC 3339).
    pub until: Timestamp,
    /// Why.
    pub reason: String,
}

/// Which findings to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct FindingsQuery {
    /// One model's.
    pub model: Option<String>,
    /// In one state.
    pub state: Option<FindingState>,
    /// Only those unresolved past their due date.
    #[serde(default)]
    pub overdue: bool,
}

/// An owner's attestation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitAttestationBody {
    /// The model is still used as documented.
    pub still_used_as_documented: bool,
    /// Its limitations still hold.
    pub limitations_hold: bool,
    /// What changed (required when either is false).
    #[serde(default)]
    pub comment: String,
}

/// A review of a submitted attestation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewAttestationBody {
    /// Accept (true) or reject (false).
    pub accept: bool,
    /// Why (required to reject).
    #[serde(default)]
    pub comment: String,
}

/// Which attestations to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct AttestationsQuery {
    /// One model's.
    pub model: Option<String>,
    /// Only those unresolved past their due date.
    #[serde(default)]
    pub overdue: bool,
}

/// The format of a scanner report being imported.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportFindingsQuery {
    /// `sarif`, `cyclonedx-vex`, `trivy` or `grype`.
    pub format: ScanFormat,
    /// What was scanned, when the report does not say or to tell two scans of one tool apart (a later import
    /// of the same format, tool and target closes what it no longer reports).
    pub target: Option<String>,
}

/// The period of the KPIs.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct KpiQuery {
    /// Days back from now (default 90).
    pub days: Option<i64>,
}

/// How much monitor history, at what resolution.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct MonitorSeriesQuery {
    /// Days back from now (default 90).
    pub days: Option<i64>,
    /// About this many points per monitor (default 360).
    pub points: Option<i64>,
}

/// A retraining job's settings.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrainBody {
    /// `builtin-lr` (default).
    #[serde(default)]
    pub trainer: Option<String>,
    /// The logistic regression's inverse regularisation strength (default 1).
    #[serde(default)]
    pub c: Option<f64>,
    /// Only decisions made at or after this time (µs since the epoch).
    #[serde(default)]
    pub since: Option<i64>,
    /// Share of requests held out for validation (default 0.3).
    #[serde(default)]
    pub holdout: Option<f64>,
    /// Boosted trees: how many (default 100).
    #[serde(default)]
    pub n_estimators: Option<usize>,
    /// Boosted trees: the deepest split level (default 6).
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// Boosted trees: the learning rate (default 0.3).
    #[serde(default)]
    pub learning_rate: Option<f64>,
    /// Also train on the champion's reference data; its target value that marks the bad event.
    #[serde(default)]
    pub reference_bad_value: Option<String>,
}

/// Which shadow requests the report covers.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ChallengerQuery {
    /// Only requests since this time (µs since the epoch).
    pub since: Option<i64>,
}

/// A retraining schedule.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// `builtin-lr` (default), `builtin-gbt` or `external:NAME`.
    #[serde(default)]
    pub trainer: Option<String>,
    /// Hours between jobs; 0 clears the schedule.
    pub every_hours: f64,
}
