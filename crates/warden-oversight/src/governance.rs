/*!
Governance: policy bundles, approvals, gate decisions and promotion.

The gate's input document is assembled here and only here (`gate_input`), so `gate check` and `promote` see
the same thing. Every decision is recorded like an OPA decision log entry (decision id, bundle number and
digest, input hash, result, time) before anything acts on it. Separation of duties is enforced in code as
well as in policy: a version's registrant cannot approve it, and a person's latest decision is the only one
that counts.
*/

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warden_policy::{Bundle, Decision, Gate, PolicyError};
use warden_store::metadata::{AliasAssignment, AuditEventDraft, PolicyBundleRow, RecordKind, VersionRecord};

use crate::{Error, Oversight, Result};
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::{MoveCause, PRODUCTION_ALIASES, Version, audit, get_model, get_version, move_alias};

/// The compiled bundle in force, rebuilt when a new bundle is put in force.
#[derive(Default)]
pub(crate) struct GateCache {
    current: tokio::sync::Mutex<Option<(BundleInForce, Arc<std::sync::Mutex<Gate>>)>>,
}

/// A policy bundle as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyBundleInfo {
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

impl From<PolicyBundleRow> for PolicyBundleInfo {
    fn from(row: PolicyBundleRow) -> Self {
        PolicyBundleInfo {
            number: row.number,
            created_at: row.created_at,
            created_by: row.created_by,
            digest: row.digest,
            files: row.files,
        }
    }
}

pub(crate) fn policy_error(err: PolicyError) -> Error {
    match &err {
        PolicyError::Syntax { file, line, message } => Error::Invalid {
            message: err.to_string(),
            details: json!({ "file": file, "line": line, "message": message }),
        },
        PolicyError::Bundle(_) => Error::invalid(err.to_string()),
        PolicyError::Evaluation(_) => Error::failed("the policy bundle could not be evaluated", err),
    }
}

/// Puts the shipped default bundle in force when no bundle has been yet (first start).
pub(crate) async fn seed_default_bundle(warden: &Oversight) -> Result<()> {
    if warden.metadata.policy_bundle(None).await?.is_some() {
        return Ok(());
    }
    let bundle = Bundle::default_bundle();
    // Number 1 exactly: a replica starting at the same moment that seeds it first makes this one a no-op.
    let row = PolicyBundleRow {
        number: 1,
        created_at: warden.now(),
        created_by: "warden".into(),
        digest: bundle.digest(),
        files: bundle.files().clone(),
    };
    let event = AuditEventDraft {
        at: row.created_at,
        actor: "warden".into(),
        action: "policy.put".into(),
        subject: "policy".into(),
        payload: json!({ "digest": row.digest, "default": true }),
    };
    match warden.metadata.append_policy_bundle(row, event).await {
        Ok(_) | Err(warden_store::Error::Conflict(_)) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Checks a bundle (it must compile, define the gate and pass its own unit tests) and puts it in force.
pub async fn put_policy_bundle(
    warden: &Oversight,
    caller: &Principal,
    files: BTreeMap<String, String>,
) -> Result<PolicyBundleInfo> {
    caller.require(Permission::ManagePolicies)?;
    let bundle = Bundle::from_files(files).map_err(policy_error)?;
    let mut gate = Gate::compile(&bundle).map_err(policy_error)?;
    // Its tiering rules must give every model a tier it knows (or none) before it is in force.
    let mut tiers = std::collections::HashMap::new();
    for row in warden.metadata.list_models().await? {
        match crate::inventory::tiering_of(&mut gate, &row, &row.inventory.fields) {
            Ok(computed) => tiers.insert(row.model.name.clone(), computed),
            Err(why) => {
                return Err(Error::invalid(format!("the bundle's tiering rules fail: {why}; it was not put in force")));
            }
        };
    }
    // Its review settings must read, or every review and retraining job would fail once it is in force.
    if let Err(why) = gate.review_policy() {
        return Err(Error::invalid(format!("the bundle's review settings fail: {why}; it was not put in force")));
    }
    // So must its retention floor, or no data policy could be declared once it is in force.
    if let Err(why) = gate.min_decision_retention_days() {
        return Err(Error::invalid(format!("the bundle's retention floor fails: {why}; it was not put in force")));
    }
    let failed: Vec<Value> = warden_policy::run_tests(&bundle)
        .map_err(policy_error)?
        .into_iter()
        .filter(|t| !t.passed)
        .map(|t| json!({ "test": t.name, "file": t.file, "detail": t.detail }))
        .collect();
    if !failed.is_empty() {
        return Err(Error::Invalid {
            message: format!("{} of the bundle's own tests fail; it was not put in force", failed.len()),
            details: json!({ "failed_tests": failed }),
        });
    }
    let row = PolicyBundleRow {
        number: 0,
        created_at: warden.now(),
        created_by: caller.actor(),
        digest: bundle.digest(),
        files: bundle.files().clone(),
    };
    let event = audit(warden, caller, "policy.put", "policy".into(), json!({ "digest": row.digest }));
    let stored = warden.metadata.append_policy_bundle(row, event).await?;
    *warden.governance.current.lock().await = None;
    // Tiers follow the new rules (each change audited with the monitors it retunes).
    crate::inventory::retier_all(warden, caller, stored.number, tiers).await;
    Ok(stored.into())
}

/// The bundle in force (or by number).
pub async fn policy_bundle(warden: &Oversight, caller: &Principal, number: Option<i64>) -> Result<PolicyBundleInfo> {
    caller.require(Permission::ReadRegistry)?;
    warden.metadata.policy_bundle(number).await?.map(Into::into).ok_or_else(|| {
        Error::NotFound(format!("no policy bundle {}", number.map_or("in force".into(), |n| n.to_string())))
    })
}

/// Every bundle ever in force, oldest first.
pub async fn policy_bundles(warden: &Oversight, caller: &Principal) -> Result<Vec<PolicyBundleInfo>> {
    caller.require(Permission::ReadRegistry)?;
    Ok(warden.metadata.policy_bundles().await?.into_iter().map(Into::into).collect())
}

/// The bundle in force, compiled. The compiled gate is kept while the bundle number in the store is
/// unchanged, so another process putting a bundle in force is noticed at the next decision.
pub(crate) async fn gate_in_force(warden: &Oversight) -> Result<(BundleInForce, Arc<std::sync::Mutex<Gate>>)> {
    let number = warden
        .metadata
        .policy_bundle_number()
        .await?
        .ok_or_else(|| Error::Inconsistent("no policy bundle is in force".into()))?;
    let mut cache = warden.governance.current.lock().await;
    if let Some((cached, gate)) = cache.as_ref()
        && cached.number == number
    {
        return Ok((cached.clone(), gate.clone()));
    }
    let row = warden
        .metadata
        .policy_bundle(Some(number))
        .await?
        .ok_or_else(|| Error::Inconsistent(format!("policy bundle {number} disappeared")))?;
    let bundle = Bundle::from_files(row.files).map_err(policy_error)?;
    let gate = Arc::new(std::sync::Mutex::new(Gate::compile(&bundle).map_err(policy_error)?));
    let in_force = BundleInForce { number: row.number, digest: row.digest };
    *cache = Some((in_force.clone(), gate.clone()));
    Ok((in_force, gate))
}

/// A deviation of the compiled bundle in force from the stored one: another digest for the same bundle
/// number, or stored files that no longer hash to their recorded digest.
pub(crate) async fn bundle_deviation(warden: &Oversight) -> Result<Option<String>> {
    let Some((cached_number, cached_digest)) =
        warden.governance.current.lock().await.as_ref().map(|(b, _)| (b.number, b.digest.clone()))
    else {
        return Ok(None);
    };
    let Some(row) = warden.metadata.policy_bundle(Some(cached_number)).await? else {
        return Ok(Some(format!("policy bundle {cached_number} in force is missing from the store")));
    };
    if row.digest != cached_digest {
        return Ok(Some(format!(
            "policy bundle {cached_number} in force has digest {cached_digest}, the store records {}",
            row.digest
        )));
    }
    let recomputed = Bundle::from_files(row.files).map_err(policy_error)?.digest();
    Ok((recomputed != row.digest).then(|| {
        format!("stored policy bundle {cached_number} hashes to {recomputed}, not its recorded {}", row.digest)
    }))
}

/// Which bundle decided.
#[derive(Debug, Clone)]
pub(crate) struct BundleInForce {
    pub(crate) number: i64,
    digest: String,
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Sign-off.
    Approve,
    /// Refusal; any rejection denies promotion under the default bundle.
    Reject,
}

impl Verdict {
    /// "approved" or "rejected", for messages.
    pub fn past_tense(self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        }
    }
}

/// One person's decision on a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    /// The person (token name).
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

/// Records an approval or rejection of a version.
pub async fn approve(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    number: &str,
    decision: Verdict,
    comment: &str,
) -> Result<Approval> {
    caller.require(Permission::Approve)?;
    let version = get_version(warden, caller, model, number).await?;
    if version.created_by == caller.actor() {
        return Err(Error::Forbidden(format!(
            "{} registered {model} version {}: the registrant of a version can never approve it",
            caller.name, version.number
        )));
    }
    let comment = comment.trim();
    if comment.is_empty() {
        return Err(Error::invalid("an approval needs a comment (1-4096 characters)"));
    }
    warden_registry::text::check("comment", comment, warden_registry::text::LONG, warden_registry::text::Lines::Many)?;
    // Repeating one's standing decision would make the first comment vanish from the latest decisions;
    // a changed decision (approve, then reject) is recorded and becomes the one that counts.
    if let Some(earlier) =
        latest_approvals(warden, model, version.number).await?.into_iter().find(|a| a.by == caller.name)
        && earlier.decision == decision
    {
        return Err(Error::Conflict(format!(
            "{} already {} {model} version {} at {} (comment: {:?}); a decision is made once, and only a \
             different decision replaces it",
            caller.name,
            earlier.decision.past_tense(),
            version.number,
            warden_core::Timestamp::from_micros(earlier.at),
            earlier.comment
        )));
    }
    let approval = Approval {
        by: caller.name.clone(),
        role: caller.role_for(Permission::Approve).map_or_else(|| caller.roles_text(), |r| r.as_str().into()),
        decision,
        comment: comment.into(),
        at: warden.now(),
    };
    let body = serde_json::to_value(&approval).map_err(|e| Error::json("encoding approval", e))?;
    let action = match decision {
        Verdict::Approve => "version.approve",
        Verdict::Reject => "version.reject",
    };
    let event = audit(warden, caller, action, format!("model/{model}/{}", version.number), body.clone());
    let record = VersionRecord {
        id: 0,
        model_name: model.into(),
        version: version.number,
        at: approval.at,
        actor: caller.actor(),
        body,
    };
    // The store checks again under its write lock: of two identical decisions racing, one is recorded.
    warden.metadata.append_decision(record, Some(event)).await?;
    Ok(approval)
}

/// Each person's latest decision on a version, in the order they were made.
pub async fn approvals(warden: &Oversight, caller: &Principal, model: &str, number: &str) -> Result<Vec<Approval>> {
    caller.require(Permission::ReadRegistry)?;
    let version = get_version(warden, caller, model, number).await?;
    latest_approvals(warden, model, version.number).await
}

async fn latest_approvals(warden: &Oversight, model: &str, number: i64) -> Result<Vec<Approval>> {
    let records = warden.metadata.version_records(RecordKind::Approval, model, Some(number)).await?;
    let mut latest: Vec<Approval> = Vec::new();
    for record in records {
        let b = &record.body;
        let text = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let approval = Approval {
            by: text("by"),
            role: text("role"),
            decision: if text("decision") == "reject" { Verdict::Reject } else { Verdict::Approve },
            comment: text("comment"),
            at: record.at,
        };
        latest.retain(|a| a.by != approval.by);
        latest.push(approval);
    }
    Ok(latest)
}

/// Builds the documented input document `{model, version, validation, approvals, target, findings, now}`.
pub(crate) async fn gate_input(
    warden: &Oversight,
    caller: &Principal,
    version: &Version,
    alias: &str,
) -> Result<Value> {
    // Independent reads, concurrently: the input's latency is the slowest read, not their sum.
    let (model, reports, approvals, current, findings, revalidation) = tokio::try_join!(
        get_model(warden, caller, &version.model),
        crate::validation::latest_report(warden, &version.model, version.number),
        latest_approvals(warden, &version.model, version.number),
        async { Ok(warden.metadata.alias_at(&version.model, alias, i64::MAX).await?) },
        crate::findings::gate_view(warden, &version.model, version.number),
        // The promoted version's own schedule: a fresh validation lets a new version replace an overdue one.
        crate::revalidation::status(warden, &version.model, Some(version.number), warden.now()),
    )?;
    let validation = reports.map_or(Value::Null, |r| r.policy_view());
    let current = current.and_then(|a| a.version);
    Ok(json!({
        "model": {
            "name": model.input.name, "owner": model.input.owner,
            "risk_tier": model.input.risk_tier.as_str(), "use_case": model.input.use_case,
            "revalidation": {
                "due_at": revalidation.due_at / 1_000_000, "overdue": revalidation.overdue,
                "frequency_days": revalidation.frequency_days, "required": revalidation.required,
            },
        },
        "version": {
            "number": version.number,
            "format": version.format.as_str(),
            "artifact_sha256": version.artifact_sha256,
            "training_data_sha256": version.lineage.training_data_sha256,
            "code_ref": version.lineage.code_ref,
            "created_by": version.created_by.strip_prefix("token:").unwrap_or(&version.created_by),
            "created_at": version.created_at / 1_000_000,
            "protected": version.protected,
            // Verified against the server's trusted signers when registered, and again at every load.
            "artifact_signed": version.lineage.artifact_signature.is_some(),
            "artifact_signer": version.lineage.artifact_signature.as_ref().map(|s| &s.signer),
        },
        "validation": validation,
        "approvals": approvals.iter().map(|a| json!({
            "by": a.by, "role": a.role, "decision": a.decision, "comment": a.comment, "at": a.at / 1_000_000,
        })).collect::<Vec<_>>(),
        "target": { "alias": alias, "current_version": current },
        "findings": findings,
        "now": warden.now() / 1_000_000,
    }))
}

/// A recorded gate decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateDecision {
    /// Names the decision in the policy decision log and on the alias move it allowed.
    pub decision_id: String,
    /// Model and version decided on.
    pub model: String,
    /// Version number.
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
    /// The result.
    #[serde(flatten)]
    pub decision: Decision,
    /// The input document the policies saw.
    pub input: Value,
}

/// Evaluates the gate for moving `version` to `alias` and records the decision.
/// The input document and the bundle's decision on it, not yet recorded.
struct Evaluation {
    input: Value,
    bundle: BundleInForce,
    decision: Decision,
}

async fn evaluate(warden: &Oversight, caller: &Principal, version: &Version, alias: &str) -> Result<Evaluation> {
    let (input, (bundle, gate)) = tokio::try_join!(gate_input(warden, caller, version, alias), gate_in_force(warden))?;
    let decision = gate.lock().expect("gate lock").decide(&input).map_err(policy_error)?;
    Ok(Evaluation { input, bundle, decision })
}

/// The gate's decision on moving a version to a production alias, input assembly included, without
/// recording it: a preview. `gate_check` and `promote` record every decision they take.
pub async fn evaluate_gate(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    number: &str,
    alias: &str,
) -> Result<(Decision, Value)> {
    caller.require(Permission::ReadRegistry)?;
    check_production_alias(alias)?;
    let version = get_version(warden, caller, model, number).await?;
    let evaluation = evaluate(warden, caller, &version, alias).await?;
    Ok((evaluation.decision, evaluation.input))
}

/// Evaluates the gate for moving `version` to `alias` and records the decision.
async fn decide(
    warden: &Oversight,
    caller: &Principal,
    version: &Version,
    alias: &str,
    purpose: &str,
) -> Result<GateDecision> {
    let Evaluation { input, bundle, decision } = evaluate(warden, caller, version, alias).await?;
    let at = warden.now();
    let decision_id = format!("dec_{:014x}{:016x}", at.max(0), rand::Rng::next_u64(&mut rand::rng()));
    let input_sha256 = hex::encode(Sha256::digest(input.to_string().as_bytes()));
    let gate_decision = GateDecision {
        decision_id,
        model: version.model.clone(),
        version: version.number,
        alias: alias.into(),
        bundle_number: bundle.number,
        bundle_digest: bundle.digest,
        input_sha256,
        purpose: purpose.into(),
        at,
        decision,
        input,
    };
    let record = VersionRecord {
        id: 0,
        model_name: version.model.clone(),
        version: version.number,
        at,
        actor: caller.actor(),
        body: serde_json::to_value(&gate_decision).map_err(|e| Error::json("encoding gate decision", e))?,
    };
    // An audited write like every fact the evidence bundle presents: the entry carries the decision's hash,
    // so a decision edited in the store no longer matches it (`audit verify`, `evidence verify`).
    let mut event = audit(
        warden,
        caller,
        "gate.decide",
        format!("model/{}/{}", version.model, version.number),
        json!({
            "decision_id": gate_decision.decision_id, "alias": alias, "purpose": purpose,
            "allow": gate_decision.decision.allow, "deny": gate_decision.decision.deny,
            "warn": gate_decision.decision.warn, "bundle_number": gate_decision.bundle_number,
            "bundle_digest": gate_decision.bundle_digest, "input_sha256": gate_decision.input_sha256,
        }),
    );
    event.at = at;
    warden.metadata.append_version_record(RecordKind::PolicyDecision, record, Some(event)).await?;
    Ok(gate_decision)
}

fn check_production_alias(alias: &str) -> Result<()> {
    if PRODUCTION_ALIASES.contains(&alias) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "'{alias}' is not a production alias ({}); set it with `warden alias set`",
            PRODUCTION_ALIASES.join(", ")
        )))
    }
}

/// Takes a production alias away (the model, or its canary, leaves production): the authority to promote
/// and a reason are needed, the removal is an audited write, and scoring then answers 503 naming the model
/// and this withdrawal.
pub async fn withdraw(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    alias: &str,
    reason: &str,
) -> Result<warden_registry::registry::AliasAssignment> {
    caller.require(Permission::Promote)?;
    check_production_alias(alias)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(format!("taking '{alias}' out of production needs a reason")));
    }
    warden_registry::text::check("reason", reason, warden_registry::text::LONG, warden_registry::text::Lines::Many)?;
    move_alias(warden, caller, model, alias, None, reason, None, MoveCause::Withdrawal).await
}

/// Evaluates the gate without acting on it (CI pipelines); the decision is recorded all the same.
pub async fn gate_check(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    number: &str,
    alias: &str,
) -> Result<GateDecision> {
    caller.require(Permission::ReadRegistry)?;
    check_production_alias(alias)?;
    let version = get_version(warden, caller, model, number).await?;
    decide(warden, caller, &version, alias, "check").await
}

/// The gate's decisions on a version, oldest first.
pub async fn gate_decisions(warden: &Oversight, caller: &Principal, model: &str, number: &str) -> Result<Vec<Value>> {
    caller.require(Permission::ReadAudit)?;
    let version = get_version(warden, caller, model, number).await?;
    Ok(warden
        .metadata
        .version_records(RecordKind::PolicyDecision, model, Some(version.number))
        .await?
        .into_iter()
        .map(|r| r.body)
        .collect())
}

/// What a promotion asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromotionRequest {
    /// `champion` (default) or `canary`.
    pub alias: Option<String>,
    /// The canary's share of traffic.
    pub traffic: Option<f64>,
    /// Why (kept with the alias move).
    pub reason: String,
    /// Go ahead against a refusal: administrators only, with a reason; recorded as an override.
    pub override_gate: bool,
}

/// The outcome of a promotion that went ahead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Promotion {
    /// The gate's decision (a refusal when overridden).
    pub decision: GateDecision,
    /// The version the alias pointed at before (kept for rollback).
    pub previous_version: Option<i64>,
    /// The move itself.
    #[serde(skip)]
    pub assignment: AliasAssignment,
    /// Whether it went ahead against the gate.
    pub overridden: bool,
}

/// Moves a production alias to a version if the gate allows it, or on an administrator's override.
pub async fn promote(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    number: &str,
    request: PromotionRequest,
) -> Result<Promotion> {
    caller.require(Permission::Promote)?;
    let alias = request.alias.as_deref().unwrap_or("champion");
    check_production_alias(alias)?;
    warden_registry::text::check(
        "reason",
        &request.reason,
        warden_registry::text::LONG,
        warden_registry::text::Lines::Many,
    )?;
    if request.override_gate {
        caller.require(Permission::OverrideGate)?;
        if request.reason.trim().is_empty() {
            return Err(Error::invalid("an override needs a reason"));
        }
    }
    let version = get_version(warden, caller, model, number).await?;
    // A retired model is refused before the gate judges anything.
    if let Some(row) = warden.metadata.get_model(model).await? {
        warden_registry::registry::refuse_if_retired(&row)?;
    }
    let previous_version = warden.metadata.alias_at(model, alias, i64::MAX).await?.and_then(|a| a.version);
    let decision = decide(warden, caller, &version, alias, "promote").await?;
    let overridden = !decision.decision.allow;
    if overridden && !request.override_gate {
        return Err(Error::Refused {
            message: format!(
                "the gate refused to promote {model} version {} to {alias}: {}",
                version.number,
                decision.decision.deny.join("; ")
            ),
            details: json!({
                "decision_id": decision.decision_id,
                "deny": decision.decision.deny,
                "warn": decision.decision.warn,
                "bundle_number": decision.bundle_number,
            }),
        });
    }
    let cause = MoveCause::Gate { decision_id: decision.decision_id.clone(), overridden };
    let reason = if request.reason.trim().is_empty() {
        format!("gate decision {}", decision.decision_id)
    } else {
        request.reason
    };
    let assignment =
        move_alias(warden, caller, model, alias, Some(version.number), &reason, request.traffic, cause).await?;
    // A deployed model is watched: its first promotion gives it its tier's default monitors.
    crate::monitoring::ensure_defaults(warden, caller, model, &version).await?;
    Ok(Promotion { decision, previous_version, assignment, overridden })
}
