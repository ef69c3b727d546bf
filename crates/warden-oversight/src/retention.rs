//! Data retention and erasure. A risk officer or an administrator declares a model's data policy (how long its
//! decisions, their features and their outcomes are kept; which inputs are personal; which attribute names the
//! person), never keeping decisions shorter than the policy bundle's floor. Each monitor round purges what its
//! retention let go, a bounded batch at a time, and `warden erase --subject-key` erases one person's data.
//!
//! A purge or an erasure is recorded (`data_purges`) with the SHA-256 of the rows it took, in the same
//! transaction as its audit event, and the decision log's guards let rows go only under such a record. The
//! ledger stays verifiable: its entries hold hashes and counts, never the personal data, and a monitor's hourly
//! entry vouches for evaluations, which no purge touches.

use serde::Serialize;
use serde_json::json;
use warden_registry::auth::{Permission, Principal};
use warden_registry::personal_data::{DataPolicy, RetentionFloor};
use warden_registry::registry::{self, get_model};
use warden_registry::text::{self, Lines};
use warden_store::metadata::{DataPolicyRow, DataPurgeRow, Micros, PurgeKind};

use crate::{Error, Oversight, Result};

/// Who purges on schedule.
pub const RETENTION_ACTOR: &str = "system:retention";
/// Rows one purge takes (one transaction, one ledger entry).
pub const PURGE_BATCH: i64 = 10_000;
/// Purges one round makes per model and kind at most; a larger backlog goes over the next rounds.
pub const PURGES_PER_ROUND: usize = 10;
const DAY_MICROS: i64 = 86_400_000_000;

/// A model's data policy in force, and what was purged or erased under it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataPolicyView {
    pub model: String,
    /// The policy in force (the default, keeping everything in clear, when none was declared).
    pub policy: DataPolicy,
    /// Who declared it, when (µs) and why; `None` before any declaration.
    pub declared_by: Option<String>,
    pub declared_at: Option<Micros>,
    pub reason: Option<String>,
    /// The least the policy bundle in force lets decisions be kept, in days.
    pub min_decision_days: u32,
    /// Purges and erasures, oldest first.
    pub purges: Vec<DataPurgeRow>,
}

/// The retention floor of the policy bundle in force.
pub async fn floor(warden: &Oversight) -> Result<RetentionFloor> {
    let (_, gate) = crate::governance::gate_in_force(warden).await?;
    let days =
        gate.lock().expect("gate lock").min_decision_retention_days().map_err(crate::governance::policy_error)?;
    Ok(days.map_or_else(RetentionFloor::default, |min_decision_days| RetentionFloor { min_decision_days }))
}

/// The model's data policy in force.
pub async fn get(warden: &Oversight, caller: &Principal, model: &str) -> Result<DataPolicyView> {
    get_model(warden, caller, model).await?;
    let latest = warden.metadata.data_policies(model).await?.pop();
    let floor = floor(warden).await?;
    view(warden, model, latest, floor).await
}

async fn view(
    warden: &Oversight,
    model: &str,
    latest: Option<DataPolicyRow>,
    floor: RetentionFloor,
) -> Result<DataPolicyView> {
    let purges = warden.metadata.data_purges(model).await?;
    let Some(row) = latest else {
        return Ok(DataPolicyView {
            model: model.to_owned(),
            policy: DataPolicy::default(),
            declared_by: None,
            declared_at: None,
            reason: None,
            min_decision_days: floor.min_decision_days,
            purges,
        });
    };
    Ok(DataPolicyView {
        model: model.to_owned(),
        policy: parse(&row)?,
        declared_by: Some(row.actor),
        declared_at: Some(row.at),
        reason: Some(row.reason),
        min_decision_days: floor.min_decision_days,
        purges,
    })
}

/// The model's data policy in force, as declared (the default when none was).
pub async fn declared(warden: &Oversight, model: &str) -> Result<DataPolicy> {
    match warden.metadata.data_policies(model).await?.pop() {
        Some(row) => parse(&row),
        None => Ok(DataPolicy::default()),
    }
}

fn parse(row: &DataPolicyRow) -> Result<DataPolicy> {
    serde_json::from_str(&row.policy)
        .map_err(|e| Error::Inconsistent(format!("stored data policy {} of model '{}': {e}", row.id, row.model_name)))
}

/// Declares the model's data policy: checked against the policy bundle's retention floor and the model's inputs,
/// appended with its audit event; every replica's decision log applies it to the decisions it writes next
/// (those logged before stay as they were written).
pub async fn declare(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    policy: DataPolicy,
    reason: &str,
) -> Result<DataPolicyView> {
    caller.require(Permission::ManageDataPolicy)?;
    text::check("reason", reason, text::LONG, Lines::Many)?;
    if reason.trim().is_empty() {
        return Err(Error::invalid("reason: declaring a data policy says why"));
    }
    let found = get_model(warden, &Principal::system(), model).await?;
    if found.retired() {
        return Err(Error::Conflict(format!("model '{model}' is retired: its data policy is kept as it was")));
    }
    let mut features: Vec<String> = Vec::new();
    for version in registry::list_versions(warden, &Principal::system(), model).await? {
        features.extend(version.feature_schema.iter().map(|f| f.name.clone()));
    }
    features.sort_unstable();
    features.dedup();
    let floor = floor(warden).await?;
    policy.check(floor, &features)?;
    if policy.protects() {
        let key = &warden.personal_data_key;
        let claimed = warden.metadata.claim_personal_data_key(key.fingerprint()).await?;
        if claimed != key.fingerprint() {
            return Err(Error::Conflict(key.mismatch(&claimed)));
        }
    }
    let latest = warden.metadata.data_policies(model).await?.pop();
    let row = DataPolicyRow {
        id: 0,
        model_name: model.to_owned(),
        at: warden.now(),
        actor: caller.actor(),
        policy: serde_json::to_string(&policy).expect("a data policy serialises"),
        reason: reason.to_owned(),
    };
    let event = registry::audit(warden, caller, "model.data_policy", format!("model/{model}"), json!({}));
    let stored = warden.metadata.put_data_policy(&row, latest.map(|l| l.id), event).await?;
    // This replica's decision log reads it before the call returns; the others within their alias watch's period.
    warden.publish_alias_change(warden_registry::AliasChange::Model(model.to_owned())).await;
    view(warden, model, Some(stored), floor).await
}

/// Purges what every model's retention let go by `now`: outcomes, then features, then whole decisions (each
/// with its outcomes), each a bounded number of batches a round. Decisions are kept at least the floor of the
/// policy bundle in force now, even if the policy was declared under a lower one. A model whose purge fails is
/// logged and the others go on. Returns the purges made.
pub async fn enforce(warden: &Oversight, now: Micros) -> Result<Vec<DataPurgeRow>> {
    let mut made = Vec::new();
    let policies = warden.metadata.data_policies_in_force().await?;
    if policies.is_empty() {
        return Ok(made);
    }
    let floor = floor(warden).await?;
    for row in policies {
        if let Err(error) = enforce_one(warden, &row, floor, now, &mut made).await {
            tracing::error!(model = %row.model_name, %error, "data past its retention could not be purged");
        }
    }
    Ok(made)
}

async fn enforce_one(
    warden: &Oversight,
    row: &DataPolicyRow,
    floor: RetentionFloor,
    now: Micros,
    made: &mut Vec<DataPurgeRow>,
) -> Result<()> {
    let r = parse(row)?.retention;
    let decisions_days = r.decisions_days.map(|d| d.max(floor.min_decision_days));
    let kinds = [
        (PurgeKind::Outcomes, r.outcomes_days),
        (PurgeKind::Features, r.features_days),
        (PurgeKind::Decisions, decisions_days),
    ];
    for (kind, days) in kinds {
        let Some(days) = days else { continue };
        let before = now - i64::from(days) * DAY_MICROS;
        for _ in 0..PURGES_PER_ROUND {
            let event = registry::audit(
                warden,
                &Principal::system(),
                "retention.purge",
                format!("model/{}", row.model_name),
                json!({ "retention_days": days }),
            );
            let purged =
                warden.metadata.purge(&row.model_name, kind, before, PURGE_BATCH, now, RETENTION_ACTOR, event).await?;
            let Some(purge) = purged else { break };
            let full = purge.rows == PURGE_BATCH;
            made.push(purge);
            if !full {
                break;
            }
        }
    }
    Ok(())
}

/// Erases one person's data: every decision whose subject key is `subject_key` loses its features and
/// attributes, in every model, with a recorded erasure and an audit event per model. `NotFound` when no
/// decision names the key.
pub async fn erase(
    warden: &Oversight,
    caller: &Principal,
    subject_key: &str,
    reason: &str,
) -> Result<Vec<DataPurgeRow>> {
    // An erasure reaches every model: a role scoped to some models does not grant it.
    caller.without_scopes().require(Permission::ManageDataPolicy)?;
    text::check("subject_key", subject_key, text::SHORT, Lines::One)?;
    if subject_key.is_empty() {
        return Err(Error::invalid("subject_key: name the person by their subject key"));
    }
    text::check("reason", reason, text::LONG, Lines::Many)?;
    if reason.trim().is_empty() {
        return Err(Error::invalid("reason: an erasure says why (the request's reference)"));
    }
    let token = warden.personal_data_key.subject_token(subject_key);
    let audit = |model: &str| {
        registry::audit(warden, caller, "subject.erase", format!("model/{model}"), json!({ "reason": reason }))
    };
    warden.metadata.erase_subject(&token, warden.now(), &caller.actor(), &audit).await.map_err(|e| match e {
        warden_store::Error::NotFound(_) => Error::NotFound(
            "no decision names this subject key: nothing was erased (a model names its person by the subject key \
             its data policy declares, from the declaration on; an erased person is not found again)"
                .into(),
        ),
        other => other.into(),
    })
}
