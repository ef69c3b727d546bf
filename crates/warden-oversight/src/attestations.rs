//! Periodic owner attestations: the model is still used as documented and its limitations still hold.
//!
//! Every deployed model in service owes one per period of its tier (policy data `attestation_days`: high 90,
//! medium 180, low 365 by default), counted from its latest accepted attestation, else from its creation.
//! Warden opens it [`OPEN_AHEAD_DAYS`] days before it is due (`open_due`, each monitor round). The first
//! line (data scientists, admins) submits it; the second line (validators, risk officers, admins) accepts it or
//! rejects it, never the one who submitted it; a rejected one is submitted again. An attestation unresolved
//! past its due date is overdue, and counts on the board. Every change is an audited write carrying it.

use std::str::FromStr;

use serde::Serialize;
use serde_json::json;
use warden_core::RiskTier;
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::get_model;
use warden_registry::text::{self, Lines};
use warden_store::metadata::AttestationRow;

use crate::{Error, Oversight, Result};

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// How many days before its due date an attestation opens.
pub const OPEN_AHEAD_DAYS: i64 = 30;

/// Days between attestations when the policy in force does not say (the shipped bundle's figures).
fn default_days(tier: RiskTier) -> i64 {
    match tier {
        RiskTier::High => 90,
        RiskTier::Medium => 180,
        RiskTier::Low => 365,
    }
}

/// An attestation as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attestation {
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
    /// Who submitted it, when (µs).
    pub submitted_by: Option<String>,
    pub submitted_at: Option<i64>,
    /// Who reviewed it, when (µs), and what they said.
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    pub review_comment: Option<String>,
}

impl Attestation {
    fn of(row: AttestationRow, now: i64) -> Attestation {
        let statement: serde_json::Value =
            row.statement.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
        Attestation {
            id: row.id,
            model: row.model_name,
            opened_at: row.opened_at,
            due_at: row.due_at,
            overdue: row.state != "accepted" && row.due_at < now,
            state: row.state,
            still_used_as_documented: statement["still_used_as_documented"].as_bool(),
            limitations_hold: statement["limitations_hold"].as_bool(),
            comment: statement["comment"].as_str().map(str::to_owned),
            submitted_by: row.submitted_by,
            submitted_at: row.submitted_at,
            reviewed_by: row.reviewed_by,
            reviewed_at: row.reviewed_at,
            review_comment: row.review_comment,
        }
    }
}

/// Opens the attestations that have come within [`OPEN_AHEAD_DAYS`] of their due date, for every deployed
/// model in service without an unresolved one (Warden acts). Returns those opened.
pub async fn open_due(warden: &Oversight, now: i64) -> Result<Vec<Attestation>> {
    let all = warden.metadata.attestations(None).await?;
    let mut opened = Vec::new();
    for row in warden.metadata.list_models().await? {
        let name = &row.model.name;
        if row.retirement.retired_at.is_some() || all.iter().any(|a| &a.model_name == name && a.state != "accepted") {
            continue;
        }
        let deployed =
            warden.metadata.current_aliases(name).await?.iter().any(|a| a.alias == "champion" && a.version.is_some());
        if !deployed {
            continue;
        }
        let tier = RiskTier::from_str(&row.model.risk_tier)
            .map_err(|e| Error::Inconsistent(format!("stored model {name}: {e}")))?;
        let days = attestation_days(warden, tier).await?;
        let since = all
            .iter()
            .filter(|a| &a.model_name == name && a.state == "accepted")
            .filter_map(|a| a.reviewed_at)
            .max()
            .unwrap_or(row.model.created_at);
        let due_at = since.saturating_add(days.saturating_mul(DAY_MICROS));
        if now < due_at - OPEN_AHEAD_DAYS * DAY_MICROS {
            continue;
        }
        let system = Principal::system();
        let new = AttestationRow {
            id: 0,
            model_name: name.clone(),
            opened_at: now,
            due_at,
            state: "open".into(),
            statement: None,
            submitted_by: None,
            submitted_at: None,
            reviewed_by: None,
            reviewed_at: None,
            review_comment: None,
            revision: 1,
        };
        let event = system.audit_event(now, "attestation.open", format!("model/{name}/attestation"), json!({}));
        match warden.metadata.open_attestation(&new, event).await {
            Ok(stored) => opened.push(Attestation::of(stored, now)),
            // Another replica opened it first.
            Err(warden_store::Error::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(opened)
}

/// The owner's side submits an open (or rejected) attestation.
pub async fn submit(
    warden: &Oversight,
    caller: &Principal,
    id: i64,
    still_used_as_documented: bool,
    limitations_hold: bool,
    comment: &str,
) -> Result<Attestation> {
    caller.require(Permission::SubmitAttestations)?;
    text::check("comment", comment, text::LONG, Lines::Many)?;
    let row = stored(warden, caller, id).await?;
    if !["open", "rejected"].contains(&row.state.as_str()) {
        return Err(Error::Conflict(format!(
            "attestation {id} is {}: only an open or rejected one is submitted",
            row.state
        )));
    }
    if !(still_used_as_documented && limitations_hold) && comment.trim().is_empty() {
        return Err(Error::invalid(
            "comment: say what changed when the model is not used as documented or a limitation no longer holds",
        ));
    }
    let now = warden.now();
    let statement = json!({
        "still_used_as_documented": still_used_as_documented, "limitations_hold": limitations_hold, "comment": comment,
    });
    let changed = AttestationRow {
        state: "submitted".into(),
        statement: Some(statement.to_string()),
        submitted_by: Some(caller.actor()),
        submitted_at: Some(now),
        reviewed_by: None,
        reviewed_at: None,
        review_comment: None,
        revision: row.revision + 1,
        ..row.clone()
    };
    write(warden, caller, "attestation.submit", changed, now).await
}

/// The second line accepts or rejects a submitted attestation, never the one who submitted it.
pub async fn review(
    warden: &Oversight,
    caller: &Principal,
    id: i64,
    accept: bool,
    comment: &str,
) -> Result<Attestation> {
    caller.require(Permission::ReviewAttestations)?;
    text::check("comment", comment, text::LONG, Lines::Many)?;
    if !accept && comment.trim().is_empty() {
        return Err(Error::invalid("comment: a rejection says why"));
    }
    let row = stored(warden, caller, id).await?;
    if row.state != "submitted" {
        return Err(Error::Conflict(format!("attestation {id} is {}: only a submitted one is reviewed", row.state)));
    }
    if row.submitted_by.as_deref() == Some(caller.actor().as_str()) {
        return Err(Error::Forbidden(format!("you submitted attestation {id}: somebody else reviews it")));
    }
    let now = warden.now();
    let changed = AttestationRow {
        state: if accept { "accepted" } else { "rejected" }.into(),
        reviewed_by: Some(caller.actor()),
        reviewed_at: Some(now),
        review_comment: Some(comment.to_owned()),
        revision: row.revision + 1,
        ..row.clone()
    };
    write(warden, caller, if accept { "attestation.accept" } else { "attestation.reject" }, changed, now).await
}

/// Attestations, newest first: of one model when given; `overdue` keeps those unresolved past their due date.
pub async fn list(
    warden: &Oversight,
    caller: &Principal,
    model: Option<&str>,
    overdue: bool,
) -> Result<Vec<Attestation>> {
    let readable = crate::findings::readable_models(warden, caller, model).await?;
    let now = warden.now();
    Ok(warden
        .metadata
        .attestations(model)
        .await?
        .into_iter()
        .filter(|a| readable.contains(&a.model_name))
        .map(|a| Attestation::of(a, now))
        .filter(|a| !overdue || a.overdue)
        .collect())
}

/// How many attestations are unresolved, and of those how many are past due, at `now`.
pub(crate) async fn counts(warden: &Oversight, now: i64) -> Result<(u64, u64)> {
    let rows = warden.metadata.attestations(None).await?;
    let unresolved: Vec<&AttestationRow> = rows.iter().filter(|a| a.state != "accepted").collect();
    let overdue = unresolved.iter().filter(|a| a.due_at < now).count();
    Ok((unresolved.len() as u64, overdue as u64))
}

async fn attestation_days(warden: &Oversight, tier: RiskTier) -> Result<i64> {
    let (_, gate) = crate::governance::gate_in_force(warden).await?;
    let days =
        gate.lock().expect("gate lock").attestation_days(tier.as_str()).map_err(crate::governance::policy_error)?;
    Ok(days.unwrap_or_else(|| default_days(tier)))
}

async fn stored(warden: &Oversight, caller: &Principal, id: i64) -> Result<AttestationRow> {
    let row = warden.metadata.attestation(id).await?.ok_or_else(|| Error::NotFound(format!("no attestation {id}")))?;
    // Acting on it needs the right to read its model.
    get_model(warden, caller, &row.model_name).await?;
    Ok(row)
}

async fn write(
    warden: &Oversight,
    caller: &Principal,
    action: &str,
    row: AttestationRow,
    now: i64,
) -> Result<Attestation> {
    let subject = format!("model/{}/attestation/{}", row.model_name, row.id);
    let event = caller.audit_event(now, action, subject, json!({}));
    let stored = warden.metadata.update_attestation(&row, event).await?;
    Ok(Attestation::of(stored, warden.now()))
}
