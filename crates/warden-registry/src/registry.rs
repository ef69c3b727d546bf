//! The model registry: models, immutable versions with lineage and reference profiles, and aliases whose
//! full history answers "which version was champion at time T".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use warden_stats::profile::{ColumnType, DatasetProfile};
pub use warden_store::artifacts::StagedFile;
pub use warden_store::metadata::{AliasAssignment, AuditEvent, AuditQuery, Micros, NewDecision};
use warden_store::metadata::{AuditEventDraft, ModelRow, NewModel, NewVersion, VersionRow};

use crate::artifact_format::ArtifactFormat;
use crate::auth::{ModelFacts, Permission, Principal};
use crate::dataset::{ColumnPlan, profile_file};
use crate::text::{self, Lines};
use crate::{Error, Registry, Result};

/// Checks a model, alias or token name: 1–64 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn validate_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_with(
            format!(
                "invalid {kind} name '{name}': use 1-64 characters a-z, 0-9, '.', '_', '-', starting with a letter or digit"
            ),
            json!({ "field": "name", "value": name }),
        ))
    }
}

pub use warden_core::RiskTier;

/// One feature of a version's input schema. This is a persisted format (stored as JSON with the version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Column name.
    pub name: String,
    /// Numeric or categorical.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Allowed categories (categorical features); `None` means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Whether the feature may be missing.
    #[serde(default)]
    pub nullable: bool,
    /// The categorical encoding the model was trained with (category → code), for models that take codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<BTreeMap<String, f64>>,
    /// What a category outside `categories` / `encoding` becomes: refused (422) or missing.
    #[serde(default, skip_serializing_if = "UnknownCategory::is_refuse")]
    pub unknown_category: UnknownCategory,
}

/// The rule for a category the schema never declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownCategory {
    /// Refuse the request with a message for the field.
    #[default]
    Refuse,
    /// Score it as a missing value.
    Missing,
}

impl UnknownCategory {
    fn is_refuse(&self) -> bool {
        *self == UnknownCategory::Refuse
    }
}

/// How a version turns scores into decisions. This is a persisted format (stored as JSON with the version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServingConfig {
    /// What the score is.
    #[serde(default, skip_serializing_if = "warden_core::ModelTask::is_binary")]
    pub task: warden_core::ModelTask,
    /// A multiclass classifier's class labels, in the order of the model's outputs: the decision is the most
    /// probable class's label (the threshold and the two decision labels do not apply).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// Scores at or above the threshold get `positive_decision` (a probability in [0, 1]; for a regression,
    /// any finite value of the prediction).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// The decision for scores at or above the threshold (the score is the probability of the bad event).
    #[serde(default = "default_positive")]
    pub positive_decision: String,
    /// The decision below the threshold.
    #[serde(default = "default_negative")]
    pub negative_decision: String,
    /// How many reason codes an explained decision carries.
    #[serde(default = "default_reason_count")]
    pub reason_count: usize,
    /// Loss given default, in [0, 1], for expected loss in stress scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lgd: Option<f64>,
    /// The data column holding the exposure at default (a feature or another column of the data).
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

impl Default for ServingConfig {
    fn default() -> Self {
        ServingConfig {
            task: warden_core::ModelTask::BinaryClassification,
            classes: Vec::new(),
            threshold: default_threshold(),
            positive_decision: default_positive(),
            negative_decision: default_negative(),
            reason_count: default_reason_count(),
            lgd: None,
            exposure_column: None,
        }
    }
}

impl ServingConfig {
    fn check(&self) -> Result<()> {
        self.check_classes()?;
        let probability = self.task.is_binary();
        if !(self.threshold.is_finite() && (!probability || (0.0..=1.0).contains(&self.threshold))) {
            return Err(Error::invalid(format!(
                "decision threshold {} is not {}",
                self.threshold,
                if probability { "in [0, 1]" } else { "a finite number" }
            )));
        }
        for d in [&self.positive_decision, &self.negative_decision] {
            if d.trim().is_empty() || d.len() > 64 {
                return Err(Error::invalid("decision labels must be 1-64 characters"));
            }
            text::check("a decision label", d, 64, Lines::One)?;
        }
        if self.positive_decision == self.negative_decision {
            return Err(Error::invalid("the two decision labels must differ"));
        }
        if self.reason_count > 32 {
            return Err(Error::invalid("reason_count is at most 32"));
        }
        if let Some(lgd) = self.lgd
            && !(lgd.is_finite() && (0.0..=1.0).contains(&lgd))
        {
            return Err(Error::invalid(format!("loss given default {lgd} is not in [0, 1]")));
        }
        // A probability of default prices a decision with both; a regression (an LGD model) weighs its errors by
        // the exposure alone.
        let priced = self.lgd.is_some() == self.exposure_column.is_some();
        let weighed = self.task == warden_core::ModelTask::Regression && self.lgd.is_none();
        if !(priced || weighed) {
            return Err(Error::invalid("expected loss needs both a loss given default and an exposure column"));
        }
        Ok(())
    }
}

impl ServingConfig {
    /// A multiclass classifier names 2 to [`warden_models::MAX_CLASSES`] distinct classes and prices no
    /// decision (expected loss is a probability of default's); other tasks name none.
    fn check_classes(&self) -> Result<()> {
        if !self.task.is_multiclass() {
            if !self.classes.is_empty() {
                return Err(Error::invalid(format!(
                    "classes are a multiclass classifier's; this version's task is {}",
                    self.task
                )));
            }
            return Ok(());
        }
        if !(2..=warden_models::MAX_CLASSES).contains(&self.classes.len()) {
            return Err(Error::invalid(format!(
                "a multiclass classifier names its classes in the model's output order: {} given, 2 to {} allowed",
                self.classes.len(),
                warden_models::MAX_CLASSES
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for class in &self.classes {
            // Outcome and validation files are read trimmed: a label must read back as itself.
            if class.trim().is_empty() || class.len() > 64 || class.trim() != class {
                return Err(Error::invalid(format!(
                    "class label '{class}' must be 1-64 characters without leading or trailing spaces"
                )));
            }
            text::check("a class label", class, 64, Lines::One)?;
            if !seen.insert(class.as_str()) {
                return Err(Error::invalid(format!("class '{class}' is named twice")));
            }
        }
        if self.lgd.is_some() || self.exposure_column.is_some() {
            return Err(Error::invalid(
                "a multiclass classifier's decisions are not priced: expected loss needs a probability of default",
            ));
        }
        Ok(())
    }

    /// The decision a multiclass prediction makes: its class's label.
    pub fn class_label(&self, class: usize) -> Option<&str> {
        self.classes.get(class).map(String::as_str)
    }

    /// Whether `model` predicts what the task says: one probability per named class for a multiclass
    /// classifier, one score otherwise.
    pub fn check_model(&self, model: &warden_models::Model) -> Result<()> {
        match (self.task.is_multiclass(), model.classes()) {
            (true, n) if n == self.classes.len() => Ok(()),
            (true, 0) => Err(Error::invalid(format!(
                "the model predicts one score, and the version names {} classes: a multiclass classifier's model \
                 predicts one probability per class",
                self.classes.len()
            ))),
            (true, n) => Err(Error::invalid(format!(
                "the model predicts {n} classes, and the version names {} (classes, in the model's output order)",
                self.classes.len()
            ))),
            (false, 0) => Ok(()),
            (false, n) => Err(Error::invalid(format!(
                "the model predicts the probabilities of {n} classes: register it with task \
                 'multiclass_classification' and its class labels in the model's output order"
            ))),
        }
    }
}

/// What a user gives to create a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInput {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Accountable owner.
    pub owner: String,
    pub risk_tier: RiskTier,
    /// Business use.
    pub use_case: String,
    /// The business line it serves (retail credit, cards…); empty when not said.
    pub business_line: String,
    /// Labels.
    pub tags: Vec<String>,
}

/// A registered model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The model's attributes.
    pub input: ModelInput,
    /// Creation time.
    pub created_at: Micros,
    /// Creator.
    pub created_by: String,
    /// Highest version number, if any.
    pub latest_version: Option<i64>,
    /// Its retirement, requested or done.
    pub retirement: warden_store::metadata::ModelRetirement,
}

impl Model {
    /// Whether it is retired.
    pub fn retired(&self) -> bool {
        self.retirement.retired_at.is_some()
    }
}

/// `Gone` naming the retirement when the model is retired.
pub fn refuse_if_retired(row: &ModelRow) -> Result<()> {
    let r = &row.retirement;
    match (r.retired_at, &r.retired_by) {
        (Some(at), Some(by)) => Err(Error::Gone(format!(
            "model '{}' was retired by {by} at {} ({}): it serves, ingests and takes new versions no more",
            row.model.name,
            warden_core::Timestamp::from(at).whole_seconds(),
            r.reason.as_deref().unwrap_or("no reason given")
        ))),
        _ => Ok(()),
    }
}

impl TryFrom<ModelRow> for Model {
    type Error = Error;
    fn try_from(row: ModelRow) -> Result<Self> {
        let m = row.model;
        Ok(Model {
            input: ModelInput {
                name: m.name,
                description: m.description,
                owner: m.owner,
                risk_tier: m.risk_tier.parse()?,
                use_case: m.use_case,
                business_line: m.business_line,
                tags: m.tags,
            },
            created_at: m.created_at,
            created_by: m.created_by,
            latest_version: row.latest_version,
            retirement: row.retirement,
        })
    }
}

pub fn audit(warden: &Registry, caller: &Principal, action: &str, subject: String, payload: Value) -> AuditEventDraft {
    caller.audit_event(warden.now(), action, subject, payload)
}

/// Most tags a model carries.
pub const MAX_TAGS: usize = 32;

/// Creates a model.
pub async fn create_model(warden: &Registry, caller: &Principal, input: ModelInput) -> Result<Model> {
    caller.require_somewhere(Permission::WriteRegistry)?;
    // A role scoped to some models registers only models inside its scope.
    let new =
        ModelFacts { name: &input.name, owner: &input.owner, business_line: &input.business_line, tags: &input.tags };
    let caller = &caller.for_model(new);
    caller.require(Permission::WriteRegistry).map_err(|err| match err {
        Error::Forbidden(why) => {
            Error::Forbidden(format!("model '{}' would fall outside your scopes: {why}", input.name))
        }
        other => other,
    })?;
    validate_name("model", &input.name)?;
    if input.owner.trim().is_empty() {
        return Err(Error::invalid("a model needs an owner"));
    }
    text::check("owner", &input.owner, text::SHORT, Lines::One)?;
    text::check("use case", &input.use_case, text::SHORT, Lines::One)?;
    text::check("business line", &input.business_line, text::SHORT, Lines::One)?;
    text::check("description", &input.description, text::LONG, Lines::Many)?;
    if input.tags.len() > MAX_TAGS {
        return Err(Error::invalid(format!("a model has at most {MAX_TAGS} tags (got {})", input.tags.len())));
    }
    for tag in &input.tags {
        text::check("a tag", tag, 64, Lines::One)?;
        if tag.trim().is_empty() {
            return Err(Error::invalid("a tag is empty"));
        }
    }
    let now = warden.now();
    let event = audit(
        warden,
        caller,
        "model.create",
        format!("model/{}", input.name),
        json!({
            "name": input.name, "description": input.description, "owner": input.owner,
            "risk_tier": input.risk_tier.as_str(), "use_case": input.use_case, "business_line": input.business_line,
            "tags": input.tags,
        }),
    );
    let row = warden
        .metadata
        .create_model(
            NewModel {
                name: input.name.clone(),
                description: input.description.clone(),
                owner: input.owner.clone(),
                risk_tier: input.risk_tier.as_str().into(),
                use_case: input.use_case.clone(),
                business_line: input.business_line.clone(),
                tags: input.tags.clone(),
                created_at: now,
                created_by: caller.actor(),
            },
            event,
        )
        .await?;
    row.try_into()
}

/// Lists every model the caller may read (a caller with scoped roles sees the models its scopes cover).
pub async fn list_models(warden: &Registry, caller: &Principal) -> Result<Vec<Model>> {
    caller.require_somewhere(Permission::ReadRegistry)?;
    let rows = warden.metadata.list_models().await?;
    rows.into_iter().filter(|row| may_read(caller, row)).map(Model::try_from).collect()
}

/// Whether the caller may read the model (through a role over the inventory or a scope covering it).
pub fn may_read(caller: &Principal, row: &ModelRow) -> bool {
    caller.for_model(facts(row)).require(Permission::ReadRegistry).is_ok()
}

/// What scopes are matched against.
pub fn facts(row: &ModelRow) -> ModelFacts<'_> {
    ModelFacts {
        name: &row.model.name,
        owner: &row.model.owner,
        business_line: &row.model.business_line,
        tags: &row.model.tags,
    }
}

/// The caller acting on the named model: roles scoped to it now in force ([`Principal::for_model`]); a caller
/// without scoped roles is returned as it is, without reading the store.
pub async fn narrowed_to(warden: &Registry, caller: &Principal, model: &str) -> Result<Principal> {
    if caller.scoped.is_empty() {
        return Ok(caller.clone());
    }
    Ok(match warden.metadata.get_model(model).await? {
        Some(row) => caller.for_model(facts(&row)),
        None => caller.without_scopes(),
    })
}

/// One model by name.
pub async fn get_model(warden: &Registry, caller: &Principal, name: &str) -> Result<Model> {
    caller.require(Permission::ReadRegistry)?;
    model_row(warden, name).await?.try_into()
}

async fn model_row(warden: &Registry, name: &str) -> Result<ModelRow> {
    warden.metadata.get_model(name).await?.ok_or_else(|| Error::NotFound(format!("model '{name}' not found")))
}

/// Lineage given at registration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lineage {
    /// SHA-256 of the training data.
    pub training_data_sha256: Option<String>,
    pub training_data_rows: Option<u64>,
    /// Code reference (a git commit, a tag).
    pub code_ref: Option<String>,
    pub hyperparameters: Map<String, Value>,
    /// The version this one derives from.
    pub parent_version: Option<i64>,
    /// The artifact's signature, verified against the server's trusted signers at registration.
    pub artifact_signature: Option<crate::signing::ArtifactSignature>,
}

/// Everything but the files needed to register a version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRequest {
    /// Declared artifact format.
    pub format: ArtifactFormat,
    /// Which reference columns are target, protected, excluded, and the declared schema if any.
    pub columns: ColumnPlan,
    pub lineage: Lineage,
    /// Decision threshold and labels.
    pub serving: ServingConfig,
    /// Categorical encodings (feature → category → code) merged into the schema, for models taking codes.
    pub encodings: BTreeMap<String, BTreeMap<String, f64>>,
    /// The unknown-category rule for categorical features that do not set their own.
    pub unknown_category: Option<UnknownCategory>,
}

/// Merges encodings and the default unknown-category rule into a schema.
fn apply_encodings(
    schema: &mut [FeatureSpec],
    encodings: &BTreeMap<String, BTreeMap<String, f64>>,
    unknown: Option<UnknownCategory>,
) -> Result<()> {
    for (name, codes) in encodings {
        let feature = schema
            .iter_mut()
            .find(|f| &f.name == name)
            .ok_or_else(|| Error::invalid(format!("encoding given for '{name}', which is not a feature")))?;
        if feature.kind != ColumnType::Categorical {
            return Err(Error::invalid(format!("encoding given for '{name}', which is numeric")));
        }
        if codes.is_empty() || codes.values().any(|c| !c.is_finite()) {
            return Err(Error::invalid(format!("encoding of '{name}' must map categories to finite codes")));
        }
        // With an encoding, the known categories are exactly the encoded ones.
        feature.categories = Some(codes.keys().cloned().collect());
        feature.encoding = Some(codes.clone());
    }
    if let Some(rule) = unknown {
        for feature in schema.iter_mut().filter(|f| f.kind == ColumnType::Categorical) {
            feature.unknown_category = rule;
        }
    }
    Ok(())
}

/// A registered version.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub model: String,
    /// Version number.
    pub number: i64,
    /// Artifact SHA-256.
    pub artifact_sha256: String,
    pub artifact_size: u64,
    /// Artifact format.
    pub format: ArtifactFormat,
    /// Input schema.
    pub feature_schema: Vec<FeatureSpec>,
    /// Target column.
    pub target: Option<String>,
    /// Protected attributes.
    pub protected: Vec<String>,
    /// Reference data SHA-256 (the data itself is stored too).
    pub reference_sha256: String,
    /// Reference data size.
    pub reference_size: u64,
    /// `csv` or `parquet`.
    pub reference_format: String,
    /// The reference profile.
    pub profile: DatasetProfile,
    pub lineage: Lineage,
    /// Decision threshold and labels.
    pub serving: ServingConfig,
    /// Warnings about the inputs, found at registration.
    pub input_warnings: Vec<crate::input_warnings::InputWarning>,
    /// Creation time.
    pub created_at: Micros,
    /// Creator.
    pub created_by: String,
}

impl TryFrom<VersionRow> for Version {
    type Error = Error;
    fn try_from(row: VersionRow) -> Result<Self> {
        let c = row.content;
        let corrupt = |what: &str, e: serde_json::Error| Error::json(format!("stored {what}"), e);
        Ok(Version {
            model: row.model_name,
            number: row.version,
            artifact_sha256: c.artifact_sha256,
            artifact_size: c.artifact_size as u64,
            format: c.format.parse()?,
            feature_schema: serde_json::from_value(c.feature_schema).map_err(|e| corrupt("feature schema", e))?,
            target: c.target_column,
            protected: c.protected_columns,
            reference_sha256: c.reference_sha256,
            reference_size: c.reference_size as u64,
            reference_format: c.reference_format,
            profile: serde_json::from_value(c.reference_profile).map_err(|e| corrupt("profile", e))?,
            lineage: Lineage {
                training_data_sha256: c.training_data_sha256,
                training_data_rows: c.training_data_rows.map(|r| r as u64),
                code_ref: c.code_ref,
                hyperparameters: match c.hyperparameters {
                    Value::Object(map) => map,
                    _ => Map::new(),
                },
                parent_version: c.parent_version,
                artifact_signature: c
                    .artifact_signer
                    .zip(c.artifact_signature)
                    .map(|(signer, signature)| crate::signing::ArtifactSignature { signer, signature }),
            },
            serving: serde_json::from_value(c.serving_config).map_err(|e| corrupt("serving config", e))?,
            input_warnings: serde_json::from_value(c.input_warnings).map_err(|e| corrupt("input warnings", e))?,
            created_at: c.created_at,
            created_by: c.created_by,
        })
    }
}

fn check_lineage(lineage: &Lineage) -> Result<()> {
    if let Some(sha) = &lineage.training_data_sha256
        && !(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(Error::invalid(format!("training data SHA-256 '{sha}' is not 64 hex digits")));
    }
    if lineage.training_data_rows.is_some() != lineage.training_data_sha256.is_some() {
        return Err(Error::invalid("training data needs both its SHA-256 and its row count"));
    }
    if let Some(code_ref) = &lineage.code_ref {
        if code_ref.trim().is_empty() {
            return Err(Error::invalid("code reference must be 1-256 characters"));
        }
        text::check("code reference", code_ref, text::SHORT, Lines::One)?;
    }
    Ok(())
}

/// Registers a new version of a model from a staged artifact and staged reference data.
///
/// The reference data is profiled, the artifact checked against its declared format, both blobs stored,
/// and the version row and its audit event written in one transaction. On any failure nothing is left:
/// no version row, no audit event, no blob that no version refers to.
pub async fn register_version(
    warden: &Registry,
    caller: &Principal,
    model: &str,
    request: VersionRequest,
    artifact: StagedFile,
    reference: StagedFile,
) -> Result<Version> {
    caller.require(Permission::WriteRegistry)?;
    let model_row = model_row(warden, model).await?;
    refuse_if_retired(&model_row)?;
    check_lineage(&request.lineage)?;
    request.serving.check()?;
    if let Some(parent) = request.lineage.parent_version
        && (parent < 1 || model_row.latest_version.is_none_or(|latest| parent > latest))
    {
        return Err(Error::NotFound(format!("model '{model}' has no version {parent} (given as parent)")));
    }

    let (artifact_path, reference_path) = (artifact.path().to_owned(), reference.path().to_owned());
    let (format, columns) = (request.format, request.columns.clone());
    let (encodings, unknown) = (request.encodings.clone(), request.unknown_category);
    let protected = request.columns.protected.clone();
    let serving = request.serving.clone();
    let (profiled, input_warnings) = tokio::task::spawn_blocking(move || -> Result<_> {
        let bytes = std::fs::read(&artifact_path).map_err(|e| Error::invalid(format!("cannot read artifact: {e}")))?;
        let mut columns = columns;
        // An external version's artifact is its descriptor; its score column is the model's output, never a
        // feature.
        let model = match format.is_external() {
            true => {
                let external = crate::external::ExternalModel::parse(&bytes)?;
                columns.score = Some(external.score_column.clone());
                Err(external)
            }
            false => Ok(format.load(&bytes)?),
        };
        drop(bytes);
        let mut profiled = profile_file(&reference_path, &columns)?;
        apply_encodings(&mut profiled.feature_schema, &encodings, unknown)?;
        let reference = crate::reference::MonitorReference::read(&reference_path, &profiled.feature_schema)?;
        match &model {
            // The model must be servable from this schema, and give every reference row a finite score:
            // refused now rather than at the first request.
            Ok(model) => {
                serving.check_model(model)?;
                let binding = crate::binding::Binding::new(model, &profiled.feature_schema)?;
                crate::binding::score_reference(model, &binding, &reference)
                    .map_err(|e| Error::invalid(format!("artifact rejected: {e}")))?;
            }
            // The reference data must carry the model's score on every row.
            Err(_) if serving.task.is_multiclass() => {
                return Err(Error::invalid(
                    "an external version's decisions carry one score: a multiclass classifier served elsewhere \
                     cannot be registered",
                ));
            }
            Err(external) => {
                reference.external_scores(external, serving.task)?;
            }
        }
        let input_warnings = crate::input_warnings::input_warnings(&reference, &protected);
        Ok((profiled, input_warnings))
    })
    .await
    .map_err(|e| Error::task("profiling", e))??;

    let artifact_blob = artifact.blob().clone();
    let reference_blob = reference.blob().clone();
    let lineage = request.lineage;
    if let Some(signature) = &lineage.artifact_signature {
        crate::signing::verify(&warden.config().artifact_signers, signature, &artifact_blob.sha256)?;
    }
    let new_version = NewVersion {
        artifact_sha256: artifact_blob.sha256.clone(),
        artifact_size: artifact_blob.size as i64,
        format: format.as_str().into(),
        feature_schema: serde_json::to_value(&profiled.feature_schema).expect("schema serialises"),
        target_column: request.columns.target.clone(),
        protected_columns: request.columns.protected.clone(),
        reference_sha256: reference_blob.sha256.clone(),
        reference_size: reference_blob.size as i64,
        reference_format: profiled.format.as_str().into(),
        reference_profile: serde_json::to_value(&profiled.profile).expect("profile serialises"),
        training_data_sha256: lineage.training_data_sha256.clone(),
        training_data_rows: lineage.training_data_rows.map(|r| r as i64),
        code_ref: lineage.code_ref.clone(),
        hyperparameters: Value::Object(lineage.hyperparameters.clone()),
        parent_version: lineage.parent_version,
        artifact_signer: lineage.artifact_signature.as_ref().map(|s| s.signer.clone()),
        artifact_signature: lineage.artifact_signature.as_ref().map(|s| s.signature.clone()),
        serving_config: serde_json::to_value(&request.serving).expect("serving config serialises"),
        input_warnings: serde_json::to_value(&input_warnings).expect("warnings serialise"),
        created_at: warden.now(),
        created_by: caller.actor(),
    };
    let payload = json!({
        "artifact_sha256": artifact_blob.sha256, "artifact_size": artifact_blob.size, "format": format.as_str(),
        "reference_sha256": reference_blob.sha256, "reference_rows": profiled.profile.rows,
        "target": request.columns.target, "protected": request.columns.protected,
        "training_data_sha256": lineage.training_data_sha256, "training_data_rows": lineage.training_data_rows,
        "code_ref": lineage.code_ref, "hyperparameters": lineage.hyperparameters, "parent_version": lineage.parent_version,
        "artifact_signer": lineage.artifact_signature.as_ref().map(|s| &s.signer),
        "artifact_signature": lineage.artifact_signature.as_ref().map(|s| &s.signature),
        "serving": request.serving, "input_warnings": input_warnings,
    });
    let at = warden.now();
    let make_event = move |number: i64| {
        caller.audit_event(at, "version.register", format!("model/{model}/{number}"), payload.clone())
    };

    // Blobs go in place before the row that refers to them, so an acknowledged version always has them.
    let _guard = warden.blob_commit.lock().await;
    warden.artifacts.put(artifact).await?;
    warden.artifacts.put(reference).await?;
    match warden.metadata.insert_version(model, new_version, &make_event).await {
        Ok(row) => row.try_into(),
        Err(err) => {
            for sha in [&artifact_blob.sha256, &reference_blob.sha256] {
                if !warden.metadata.blob_referenced(sha).await.unwrap_or(true) {
                    let _ = warden.artifacts.remove(sha).await;
                }
            }
            Err(err.into())
        }
    }
}

/// Every version of a model, oldest first.
pub async fn list_versions(warden: &Registry, caller: &Principal, model: &str) -> Result<Vec<Version>> {
    caller.require(Permission::ReadRegistry)?;
    model_row(warden, model).await?;
    warden.metadata.list_versions(model).await?.into_iter().map(Version::try_from).collect()
}

/// One version, named by number or by an alias currently pointing at it.
pub async fn get_version(warden: &Registry, caller: &Principal, model: &str, version: &str) -> Result<Version> {
    caller.require(Permission::ReadRegistry)?;
    // Versions are immutable (and models never deleted), so a parsed version can be kept.
    let key = version.parse::<i64>().ok().map(|n| (model.to_owned(), n));
    if let Some(key) = &key
        && let Some(cached) = warden.versions.read().expect("version cache lock").get(key)
    {
        return Ok(cached.clone());
    }
    model_row(warden, model).await?;
    let number = version_number(warden, model, version).await?;
    let parsed: Version = warden
        .metadata
        .get_version(model, number)
        .await?
        .ok_or_else(|| Error::NotFound(format!("model '{model}' has no version {number}")))?
        .try_into()?;
    let mut cache = warden.versions.write().expect("version cache lock");
    if cache.len() >= VERSION_CACHE_LIMIT {
        cache.clear();
    }
    cache.insert((model.to_owned(), number), parsed.clone());
    Ok(parsed)
}

/// Parsed versions kept in memory at most (each holds its reference profile).
const VERSION_CACHE_LIMIT: usize = 1024;

/// The number a version is named by: itself, or the version an alias points at now.
pub async fn version_number(warden: &Registry, model: &str, version: &str) -> Result<i64> {
    match version.parse::<i64>() {
        Ok(number) => Ok(number),
        Err(_) => {
            validate_name("alias", version)?;
            warden
                .metadata
                .alias_at(model, version, Micros::MAX)
                .await?
                .and_then(|a| a.version)
                .ok_or_else(|| Error::NotFound(format!("model '{model}' has no alias '{version}'")))
        }
    }
}

/// A version's artifact bytes (their SHA-256 is checked before they are returned).
pub async fn artifact_bytes(
    warden: &Registry,
    caller: &Principal,
    model: &str,
    version: &str,
) -> Result<(Version, Vec<u8>)> {
    let version = get_version(warden, caller, model, version).await?;
    let bytes = warden.artifacts.read(&version.artifact_sha256).await?;
    let actual = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    if actual != version.artifact_sha256 {
        return Err(Error::Inconsistent(format!(
            "artifact of {model} v{} does not match its SHA-256 (stored {}, found {actual})",
            version.number, version.artifact_sha256
        )));
    }
    Ok((version, bytes))
}

fn check_alias(alias: &str) -> Result<()> {
    validate_name("alias", alias)?;
    if alias.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(format!("alias '{alias}' would read as a version number")));
    }
    Ok(())
}

/// Aliases that answer live traffic: they move only through the gate (`governance::promote`).
pub const PRODUCTION_ALIASES: [&str; 2] = ["champion", "canary"];

/// Points an alias at a version (or, with `None`, removes it), recording who, when and why. Production
/// aliases are refused here: they move through `governance::promote`, which evaluates the gate first.
pub async fn set_alias(
    warden: &Registry,
    caller: &Principal,
    model: &str,
    alias: &str,
    version: Option<i64>,
    reason: &str,
    traffic: Option<f64>,
) -> Result<AliasAssignment> {
    caller.require(Permission::SetAlias)?;
    if version.is_some() && PRODUCTION_ALIASES.contains(&alias) {
        return Err(Error::Conflict(format!(
            "'{alias}' is a production alias: promote the version through the gate (warden promote {model} VERSION \
             --alias {alias})"
        )));
    }
    if version.is_none() && PRODUCTION_ALIASES.contains(&alias) {
        return Err(Error::Conflict(format!(
            "'{alias}' is a production alias: removing it takes {model} out of production, which needs the \
             authority to promote and a reason (warden alias unset {model} {alias} --reason TEXT)"
        )));
    }
    text::check("reason", reason, text::LONG, Lines::Many)?;
    move_alias(warden, caller, model, alias, version, reason, traffic, MoveCause::Manual).await
}

/// Why an alias moves.
#[derive(Debug, Clone, PartialEq)]
pub enum MoveCause {
    /// A person set it (non-production aliases).
    Manual,
    /// A promotion the gate allowed (or an administrator overrode).
    Gate { decision_id: String, overridden: bool },
    /// An automatic action taken on an alert.
    Alert { alert_id: i64 },
    /// A person with the authority to promote took a production alias away, with a reason.
    Withdrawal,
}

#[allow(clippy::too_many_arguments)]
pub async fn move_alias(
    warden: &Registry,
    caller: &Principal,
    model: &str,
    alias: &str,
    version: Option<i64>,
    reason: &str,
    traffic: Option<f64>,
    cause: MoveCause,
) -> Result<AliasAssignment> {
    check_alias(alias)?;
    if let Some(share) = traffic {
        if !(share.is_finite() && (0.0..=1.0).contains(&share)) {
            return Err(Error::invalid(format!("traffic share {share} is not in [0, 1]")));
        }
        if version.is_none() {
            return Err(Error::invalid("a traffic share needs a version"));
        }
    }
    if version.is_some() {
        refuse_if_retired(&model_row(warden, model).await?)?;
    }
    let current = warden.metadata.alias_at(model, alias, Micros::MAX).await?;
    if version.is_none() && current.as_ref().is_none_or(|a| a.version.is_none()) {
        return Err(Error::NotFound(format!("model '{model}' has no alias '{alias}'")));
    }
    let action = match (version, &cause) {
        (Some(_), MoveCause::Gate { .. }) => "model.promote",
        (Some(_), MoveCause::Alert { .. }) => "model.rollback",
        (None, MoveCause::Alert { .. }) => "alias.stop",
        (Some(_), MoveCause::Manual) => "alias.set",
        (None, MoveCause::Withdrawal) => "model.withdraw",
        (Some(_), MoveCause::Withdrawal) => {
            return Err(Error::invalid("a withdrawal removes the alias; it names no version"));
        }
        (None, _) => "alias.delete",
    };
    let subject = format!("model/{model}/alias/{alias}");
    let (decision_id, overridden, alert_id) = match &cause {
        MoveCause::Gate { decision_id, overridden } => (Some(decision_id.clone()), *overridden, None),
        MoveCause::Alert { alert_id } => (None, false, Some(*alert_id)),
        MoveCause::Manual | MoveCause::Withdrawal => (None, false, None),
    };
    // "Which version at time T" needs assignment times that never go backwards, even if the wall clock does.
    let assigned_at = current.as_ref().map_or(warden.now(), |c| warden.now().max(c.assigned_at));
    let previous = current.and_then(|a| a.version);
    let mut event = audit(
        warden,
        caller,
        action,
        subject,
        json!({
            "version": version, "previous": previous, "reason": reason, "traffic": traffic,
            "decision_id": decision_id, "override": overridden, "alert_id": alert_id,
        }),
    );
    event.at = assigned_at;
    let assignment = AliasAssignment {
        model_name: model.into(),
        alias: alias.into(),
        version,
        assigned_at,
        assigned_by: caller.actor(),
        reason: reason.into(),
        traffic,
        decision_id,
        overridden,
    };
    let assignment = warden.metadata.assign_alias(assignment, event).await?;
    // Serving picks the change up before this returns, without a restart; requests in flight finish on the
    // old routes.
    warden.publish_alias_change(crate::AliasChange::Model(model.to_owned())).await;
    Ok(assignment)
}

/// The aliases currently in force.
pub async fn current_aliases(warden: &Registry, caller: &Principal, model: &str) -> Result<Vec<AliasAssignment>> {
    caller.require(Permission::ReadRegistry)?;
    model_row(warden, model).await?;
    Ok(warden.metadata.current_aliases(model).await?)
}

/// The assignment of an alias in force at `at` (now when `None`). `NotFound` if it pointed nowhere then.
pub async fn alias_at(
    warden: &Registry,
    caller: &Principal,
    model: &str,
    alias: &str,
    at: Option<Micros>,
) -> Result<AliasAssignment> {
    caller.require(Permission::ReadRegistry)?;
    model_row(warden, model).await?;
    check_alias(alias)?;
    warden
        .metadata
        .alias_at(model, alias, at.unwrap_or(Micros::MAX))
        .await?
        .filter(|a| a.version.is_some())
        .ok_or_else(|| Error::NotFound(format!("alias '{alias}' of model '{model}' pointed at no version then")))
}

/// The full history of one alias or of all of a model's aliases.
pub async fn alias_history(
    warden: &Registry,
    caller: &Principal,
    model: &str,
    alias: Option<&str>,
) -> Result<Vec<AliasAssignment>> {
    caller.require(Permission::ReadRegistry)?;
    model_row(warden, model).await?;
    Ok(warden.metadata.alias_history(model, alias).await?)
}

/// Audit events in order, optionally for one subject and its children (`model/credit` takes in
/// `model/credit/1`).
pub async fn audit_events(warden: &Registry, caller: &Principal, query: AuditQuery) -> Result<Vec<AuditEvent>> {
    caller.require(Permission::ReadAudit)?;
    Ok(warden.metadata.audit_events(&AuditQuery { limit: query.limit.clamp(1, 10_000), ..query }).await?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;
    use crate::auth::Role;
    use crate::{Config, Registry};

    #[test]
    fn names_are_checked() {
        for good in ["credit-default", "fraud.v2", "a", "m_1"] {
            assert!(validate_name("model", good).is_ok(), "{good}");
        }
        for bad in ["", "Credit", "-lead", "has space", "x/y", &"a".repeat(65)] {
            assert!(matches!(validate_name("model", bad), Err(Error::Invalid { .. })), "{bad}");
        }
        assert!(check_alias("champion").is_ok());
        assert!(check_alias("7").is_err(), "an alias must not read as a version number");
    }

    /// Alias history stays ordered when the wall clock steps back between two assignments.
    #[tokio::test]
    async fn alias_times_never_go_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let now = Arc::new(AtomicI64::new(1_000_000));
        let clock_now = now.clone();
        let clock: crate::Clock = Arc::new(move || clock_now.load(Ordering::SeqCst));
        let warden = Registry::open(Config::new(dir.path()), clock).await.unwrap();
        let admin = Principal::token("admin", Role::Admin);
        let input = ModelInput {
            name: "m".into(),
            description: String::new(),
            owner: "o".into(),
            risk_tier: RiskTier::Low,
            use_case: String::new(),
            business_line: String::new(),
            tags: vec![],
        };
        create_model(&warden, &admin, input).await.unwrap();
        let csv = dir.path().join("r.csv");
        std::fs::write(&csv, "x,y\n1,0\n2,1\n").unwrap();
        let model_file = dir.path().join("a.json");
        std::fs::write(&model_file, r#"{"intercept": 0, "coefficients": {"x": 0.5}}"#).unwrap();
        for _ in 0..2 {
            let artifact_file = warden.artifacts().stage_file(&model_file, 1 << 20).await.unwrap();
            let reference = warden.artifacts().stage_file(&csv, 1 << 20).await.unwrap();
            let request = VersionRequest {
                format: ArtifactFormat::LinearJson,
                columns: ColumnPlan { target: Some("y".into()), ..Default::default() },
                lineage: Lineage::default(),
                serving: ServingConfig::default(),
                encodings: Default::default(),
                unknown_category: None,
            };
            register_version(&warden, &admin, "m", request, artifact_file, reference).await.unwrap();
        }
        let first = set_alias(&warden, &admin, "m", "stable", Some(1), "", None).await.unwrap();
        now.store(500_000, Ordering::SeqCst); // the clock steps back
        let second = set_alias(&warden, &admin, "m", "stable", Some(2), "", None).await.unwrap();
        assert!(second.assigned_at >= first.assigned_at);
        let live = alias_at(&warden, &admin, "m", "stable", Some(first.assigned_at)).await.unwrap();
        assert_eq!(live.version, Some(2), "the later assignment wins at the shared instant");
        let history = alias_history(&warden, &admin, "m", Some("stable")).await.unwrap();
        assert_eq!(history.iter().map(|a| a.version).collect::<Vec<_>>(), [Some(1), Some(2)]);
    }
}
