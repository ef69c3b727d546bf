//! Periodic revalidation: the version a model serves is validated again within its tier's frequency (policy
//! data `revalidation_days`: a year for the high tier, two for medium, three for low by default), counted from
//! that version's latest validation report (from the model's creation when it has none). Validating another
//! version moves nothing until that version is promoted: the gate judges a promotion by the promoted
//! version's own report. A version registered after the served version's latest report is a material change
//! (a new artifact, features or reference data), and so is a change to an inventory field the organisation's
//! schema marks material (a changed intended use): the model shows "revalidation required".
//!
//! The `revalidation` monitor (one of every tier's defaults; added at the next promotion to a model deployed
//! before it existed) evaluates it hourly while the model has a champion and is in service: its value is the
//! days to the due date (negative once past), warning 30 days ahead and alerting once due, so an overdue model
//! raises a critical alert on its champion's version (a webhook, an incident, and a monitoring-breach finding
//! on that version). It only notifies. The gate's input carries the schedule (`model.revalidation`), and the
//! default bundle denies promotions of an overdue model.

use serde::Serialize;
use serde_json::{Value, json};
use warden_core::RiskTier;
use warden_store::metadata::{MonitorEvaluation, RecordKind};

use crate::monitoring::{Bands, Monitor};
use crate::{Oversight, Result};

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// Days between validations when the policy in force does not say (the shipped bundle's figures).
pub(crate) fn default_days(tier: RiskTier) -> i64 {
    match tier {
        RiskTier::High => 365,
        RiskTier::Medium => 730,
        RiskTier::Low => 1_095,
    }
}

/// Where a model stands against its revalidation schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revalidation {
    /// Days between validations for its tier.
    pub frequency_days: i64,
    /// Its latest validation report (µs), of any version.
    pub last_validated_at: Option<i64>,
    /// When it must be validated again (µs).
    pub due_at: i64,
    /// Whether that is past.
    pub overdue: bool,
    /// Why it must be revalidated before its due date: a version registered, or a material inventory field
    /// changed, after its latest validation.
    pub required: Option<String>,
}

/// The model's revalidation status at `now`, counted from the validations of `version` (`None`: the
/// champion's version, else any version while nothing is in production).
pub async fn status(warden: &Oversight, model: &str, version: Option<i64>, now: i64) -> Result<Revalidation> {
    let row = warden
        .metadata
        .get_model(model)
        .await?
        .ok_or_else(|| crate::Error::NotFound(format!("model '{model}' not found")))?;
    let tier: RiskTier =
        row.model.risk_tier.parse().map_err(|e| crate::Error::Inconsistent(format!("stored model {model}: {e}")))?;
    let (_, gate) = crate::governance::gate_in_force(warden).await?;
    let days = gate
        .lock()
        .expect("gate lock")
        .revalidation_days(tier.as_str())
        .map_err(crate::governance::policy_error)?
        .unwrap_or_else(|| default_days(tier));
    let version = match version {
        Some(number) => Some(number),
        None => warden
            .metadata
            .current_aliases(model)
            .await?
            .into_iter()
            .find(|a| a.alias == "champion")
            .and_then(|a| a.version),
    };
    let reports = warden.metadata.version_records(RecordKind::ValidationReport, model, version).await?;
    let last = reports.iter().map(|r| r.at).max();
    let due_at = last.unwrap_or(row.model.created_at).saturating_add(days.saturating_mul(DAY_MICROS));
    let versions = warden.metadata.list_versions(model).await?;
    let newer = versions.iter().filter(|v| last.is_none_or(|at| v.content.created_at > at)).map(|v| v.version).max();
    let material = (row.inventory.material_change_at.zip(row.inventory.material_change.as_ref()))
        .filter(|(at, _)| last.is_none_or(|last| *at > last))
        .map(|(_, what)| format!("{what} after the latest validation"));
    let required = match (newer, last) {
        (Some(n), Some(_)) => Some(format!("version {n} was registered after the latest validation")),
        (Some(n), None) => Some(format!("version {n} has never been validated")),
        (None, _) => material,
    };
    Ok(Revalidation { frequency_days: days, last_validated_at: last, due_at, overdue: now > due_at, required })
}

/// The `revalidation` monitor's evaluation of its model at `at`: days to the due date (negative once past),
/// judged against the monitor's bands, on the champion's version. None for a model with no champion (nothing
/// in production to revalidate) or a retired one.
pub(crate) async fn evaluate(warden: &Oversight, monitor: &Monitor, at: i64) -> Result<Option<MonitorEvaluation>> {
    let retired = warden.metadata.get_model(&monitor.model).await?.is_none_or(|m| m.retirement.retired_at.is_some());
    let champion = warden
        .metadata
        .current_aliases(&monitor.model)
        .await?
        .into_iter()
        .find(|a| a.alias == "champion")
        .and_then(|a| a.version);
    let Some(version) = champion.filter(|_| !retired) else { return Ok(None) };
    let status = status(warden, &monitor.model, Some(version), at).await?;
    let days_to_due = (status.due_at - at) as f64 / DAY_MICROS as f64;
    let judged = Bands::of(monitor).status(days_to_due);
    let figures: Value = json!({
        "due_at": status.due_at, "last_validated_at": status.last_validated_at,
        "frequency_days": status.frequency_days, "required": status.required,
    });
    Ok(Some(MonitorEvaluation {
        model_name: monitor.model.clone(),
        monitor: monitor.name.clone(),
        at,
        version,
        // No decisions are judged: the time to detect is not measured back to any.
        window_start: at,
        decisions: 0,
        status: judged.into(),
        value: Some(days_to_due),
        details: json!({ "features": { "schedule": { "value": days_to_due, "status": judged, "figures": figures } } }),
    }))
}
