//! The views across the whole inventory that risk officers and the board read: one line per model, the
//! governance KPIs, and a model's monitor history at chart resolution. The API, the CLI and the dashboard
//! all read them here.

use serde::Serialize;
use serde_json::Value;
use warden_store::metadata::{AliasAssignment, DeploymentRow, RecordKind};

use crate::{Error, Oversight, Result};
use warden_core::{RiskTier, TierBasis};
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::{PRODUCTION_ALIASES, get_model};

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// One model's line in the inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventoryLine {
    /// Model name.
    pub name: String,
    pub risk_tier: RiskTier,
    /// Owning team.
    pub owner: String,
    /// What it decides.
    pub use_case: String,
    /// How many versions it has.
    pub versions: i64,
    /// The version the champion alias serves.
    pub champion: Option<i64>,
    /// Challenger versions: every other alias (shadow, canary, challenger…) with its version.
    pub challengers: Vec<(String, i64)>,
    /// The latest validation: version, when (µs), ROC AUC.
    pub last_validation: Option<LastValidation>,
    /// The latest gate decision.
    pub policy: Option<LastGate>,
    /// Alerts firing or acknowledged.
    pub open_alerts: i64,
    pub open_incidents: i64,
    /// When it was retired (µs): retired models are listed apart.
    pub retired_at: Option<i64>,
    /// Who asked for its retirement, while a second person has yet to confirm it (high tier).
    pub retirement_requested_by: Option<String>,
    /// Its revalidation schedule: when it is due, whether that is past, and why it is required sooner.
    pub revalidation: Option<crate::revalidation::Revalidation>,
    /// How its tier was set.
    pub tier_basis: TierBasis,
    /// The organisation's inventory fields.
    pub fields: serde_json::Value,
    /// Why its fields are not valid against the schema in force (one put after they were written).
    pub out_of_schema: Option<String>,
}

/// Which inventory lines to show: every filter must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InventoryFilter {
    /// Inventory fields and their values: a field matches when its value, as text (a string without its
    /// quotes), equals the value, or when it is a list holding it.
    pub fields: Vec<(String, String)>,
    /// Text found, in any case, in the name, owner, use case or any field's value.
    pub search: Option<String>,
    pub tier: Option<RiskTier>,
}

/// A field's value as text: a string without its quotes, anything else as JSON (numbers exactly as stored).
pub fn field_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Parses `name=value` pairs separated by `;` (the API's `where`; names and values trimmed, repeats dropped),
/// refusing a pair without a name and more than [`crate::inventory::MAX_FIELD_FILTERS`] pairs.
pub fn parse_field_filters(text: &str) -> Result<Vec<(String, String)>> {
    let mut filters: Vec<(String, String)> = text
        .split(';')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_owned(), value.trim().to_owned())),
            _ => Err(Error::invalid(format!("where: '{pair}' is not name=value"))),
        })
        .collect::<Result<_>>()?;
    filters.sort();
    filters.dedup();
    if filters.len() > crate::inventory::MAX_FIELD_FILTERS {
        return Err(Error::invalid(format!(
            "where: {} filters; the limit is {}",
            filters.len(),
            crate::inventory::MAX_FIELD_FILTERS
        )));
    }
    Ok(filters)
}

impl InventoryFilter {
    /// Whether `line` passes every filter.
    pub fn matches(&self, line: &InventoryLine) -> bool {
        let field_matches = |(name, wanted): &(String, String)| match line.fields.get(name) {
            Some(serde_json::Value::Array(items)) => items.iter().any(|item| field_text(item) == *wanted),
            Some(value) => field_text(value) == *wanted,
            None => false,
        };
        let searched = self.search.as_ref().is_none_or(|text| {
            let text = text.to_lowercase();
            let values = line.fields.as_object().into_iter().flat_map(|f| f.values()).map(field_text);
            [line.name.clone(), line.owner.clone(), line.use_case.clone()]
                .into_iter()
                .chain(values)
                .any(|v| v.to_lowercase().contains(&text))
        });
        self.fields.iter().all(field_matches) && searched && self.tier.is_none_or(|t| t == line.risk_tier)
    }
}

/// The latest validation report of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastValidation {
    /// Version validated.
    pub version: i64,
    /// When (µs).
    pub at: i64,
    /// ROC AUC on the validation data.
    pub auc: Option<f64>,
}

/// The latest gate decision of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastGate {
    /// Version the gate judged.
    pub version: i64,
    /// When (µs).
    pub at: i64,
    /// Whether the policies allowed promotion.
    pub allowed: bool,
}

/// Every model's inventory line, by name (a caller with scoped roles sees the models its scopes cover).
pub async fn inventory(warden: &Oversight, caller: &Principal) -> Result<Vec<InventoryLine>> {
    caller.require_somewhere(Permission::ReadRegistry)?;
    let mut lines = lines(warden, caller).await?;
    let now = warden.now();
    let schema = crate::inventory::checker(warden).await?;
    for line in lines.iter_mut() {
        line.out_of_schema = crate::inventory::out_of_schema(schema.as_ref(), &line.fields);
        if line.retired_at.is_none() {
            line.revalidation = Some(crate::revalidation::status(warden, &line.name, None, now).await?);
        }
    }
    Ok(lines)
}

async fn lines(warden: &Oversight, caller: &Principal) -> Result<Vec<InventoryLine>> {
    warden
        .metadata
        .inventory()
        .await?
        .into_iter()
        .filter(|row| warden_registry::registry::may_read(caller, &row.model))
        .map(|row| {
            let retirement = row.model.retirement.clone();
            let model = row.model.model;
            let champion = row.aliases.iter().find(|a| a.alias == "champion").and_then(|a| a.version);
            let challengers = row
                .aliases
                .iter()
                .filter(|a| a.alias != "champion")
                .filter_map(|a| Some((a.alias.clone(), a.version?)))
                .collect();
            let corrupt =
                |e: warden_core::UnknownValue| Error::Inconsistent(format!("stored model {}: {e}", model.name));
            let risk_tier = model.risk_tier.parse().map_err(corrupt)?;
            let tier_basis = row.model.inventory.tier_basis.parse().map_err(corrupt)?;
            Ok(InventoryLine {
                name: model.name,
                risk_tier,
                owner: model.owner,
                use_case: model.use_case,
                versions: row.versions,
                champion,
                challengers,
                last_validation: row.last_validation.map(|(version, at, auc)| LastValidation { version, at, auc }),
                policy: row.last_gate.map(|(version, at, allowed)| LastGate { version, at, allowed }),
                revalidation: None,
                retired_at: retirement.retired_at,
                retirement_requested_by: retirement.requested_by.filter(|_| retirement.retired_at.is_none()),
                open_alerts: row.open_alerts,
                open_incidents: row.open_incidents,
                tier_basis,
                fields: row.model.inventory.fields.clone(),
                out_of_schema: None,
            })
        })
        .collect()
}

/// The board's governance figures over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpis {
    /// Days covered (up to now).
    pub period_days: i64,
    /// Production alias moves (promotions, rollbacks, canaries) in the period.
    pub deployments: u64,
    /// Of which rollbacks.
    pub rollbacks: u64,
    pub deployments_per_30_days: f64,
    /// Median hours from a version's registration to its first production alias, over versions first put in
    /// production in the period.
    pub median_hours_to_production: Option<f64>,
    /// Median seconds from the first decision of the first breaching window to the alert that opened the
    /// incident, over incidents opened in the period.
    pub median_seconds_to_detect: Option<f64>,
    /// Median seconds from opening to resolution, over incidents resolved in the period.
    pub median_seconds_to_resolve: Option<f64>,
    /// Median seconds to detect (from the first decision of the first breaching window to the alert), over
    /// alerts of drift monitors opened in the period.
    pub median_drift_detection_seconds: Option<f64>,
    /// Audited changes (every period) and how many have a ledger entry.
    pub audited_changes: u64,
    pub ledger_entries: u64,
    /// Share of audited changes with a ledger entry.
    pub audit_coverage: Option<f64>,
    /// Promotions (moves of production aliases by people) in the period, and how many went against the gate.
    pub promotions: u64,
    /// Promotions made with an emergency override.
    pub overrides: u64,
    /// Share of promotions made without an override.
    pub policy_adherence: Option<f64>,
    /// Incidents opened in the period; of which still open.
    pub incidents: u64,
    /// Incidents still open.
    pub open_incidents: u64,
    /// Findings: unresolved by severity, age and model, overdue, and time to remediate over the period.
    pub findings: crate::findings::FindingKpis,
    /// Owner attestations unresolved now, and of those past due.
    pub open_attestations: u64,
    pub overdue_attestations: u64,
}

/// The governance figures over the last `days` days.
pub async fn kpis(warden: &Oversight, caller: &Principal, days: i64) -> Result<Kpis> {
    caller.require(Permission::ReadRegistry)?;
    let days = days.clamp(1, 3_650);
    let now = warden.now();
    let since = now - days * DAY_MICROS;
    let deployments = warden.metadata.deployments(since).await?;
    let production: Vec<&DeploymentRow> = deployments.iter().filter(|d| is_production_move(&d.assignment)).collect();
    let rollbacks = production.iter().filter(|d| is_rollback(&d.assignment)).count();
    let people: Vec<&&DeploymentRow> = production.iter().filter(|d| !is_rollback(&d.assignment)).collect();
    let overrides = people.iter().filter(|d| d.assignment.overridden).count();

    // First production move of each version in the period (a version's earlier moves are before `since`, so
    // a move counts as first when no earlier one of the same version is in the period).
    let mut seen = std::collections::HashSet::new();
    let mut hours_to_production = Vec::new();
    for d in &production {
        let key = (d.assignment.model_name.clone(), d.assignment.version);
        if seen.insert(key)
            && let Some(registered) = d.version_registered_at
        {
            hours_to_production.push((d.assignment.assigned_at - registered) as f64 / 3.6e9);
        }
    }

    let incidents = warden.metadata.incidents(None, 100_000).await?;
    let in_period: Vec<_> = incidents.iter().filter(|i| i.opened_at >= since).collect();
    let detect: Vec<f64> = in_period.iter().map(|i| i.detect_micros as f64 / 1e6).collect();
    let resolve: Vec<f64> = incidents
        .iter()
        .filter_map(|i| i.resolved_at.filter(|&t| t >= since).map(|t| (t - i.opened_at) as f64 / 1e6))
        .collect();

    let drift_monitors: std::collections::HashSet<(String, String)> = warden
        .metadata
        .monitors(None)
        .await?
        .into_iter()
        .filter(|m| m.kind == "feature_drift" || m.kind == "score_drift")
        .map(|m| (m.model_name, m.name))
        .collect();
    let mut drift_detect = Vec::new();
    for alert in warden.metadata.alerts(None, None, 100_000).await? {
        if alert.opened_at < since || !drift_monitors.contains(&(alert.model_name.clone(), alert.monitor.clone())) {
            continue;
        }
        let fired = warden.metadata.alert_events(alert.id).await?.into_iter().find(|e| e.kind == "fired");
        if let Some(seconds) = fired.and_then(|e| e.details["detect_micros"].as_i64()) {
            drift_detect.push(seconds as f64 / 1e6);
        }
    }

    let attestations = crate::attestations::counts(warden, now).await?;
    let audited_changes = warden.metadata.audit_event_count().await?;
    let ledger_entries = warden.metadata.ledger_size().await?;
    Ok(Kpis {
        period_days: days,
        deployments: production.len() as u64,
        rollbacks: rollbacks as u64,
        deployments_per_30_days: production.len() as f64 * 30.0 / days as f64,
        median_hours_to_production: median(hours_to_production),
        median_seconds_to_detect: median(detect),
        median_seconds_to_resolve: median(resolve),
        median_drift_detection_seconds: median(drift_detect),
        audited_changes,
        ledger_entries,
        audit_coverage: (audited_changes > 0)
            .then(|| ledger_entries.min(audited_changes) as f64 / audited_changes as f64),
        promotions: people.len() as u64,
        overrides: overrides as u64,
        policy_adherence: (!people.is_empty()).then(|| 1.0 - overrides as f64 / people.len() as f64),
        incidents: in_period.len() as u64,
        open_incidents: incidents.iter().filter(|i| i.state == "open").count() as u64,
        findings: crate::findings::kpis(warden, since, now).await?,
        open_attestations: attestations.0,
        overdue_attestations: attestations.1,
    })
}

/// A move of a production alias to a version (a removal is no deployment).
fn is_production_move(assignment: &AliasAssignment) -> bool {
    PRODUCTION_ALIASES.contains(&assignment.alias.as_str()) && assignment.version.is_some()
}

/// A production move Warden made itself: an automatic rollback.
fn is_rollback(assignment: &AliasAssignment) -> bool {
    assignment.assigned_by == Principal::system().actor()
}

/// What happened in a period that a model-risk reviewer must see, not only what is open now: the incidents,
/// the automatic rollbacks, the promotions made against the gate and the gate's refusals. The KPIs count
/// the same moves ([`kpis`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodEvents {
    /// Days covered (up to now).
    pub period_days: i64,
    /// Start of the period (µs).
    pub since: i64,
    /// Incidents open at any time in the period (opened in it, or earlier and resolved in it or still open),
    /// newest first; `None` when the caller's role may not read incidents.
    pub incidents: Option<Vec<PeriodIncident>>,
    /// Automatic rollbacks of a production alias, newest first.
    pub rollbacks: Vec<ProductionMove>,
    /// Promotions made against the gate's refusal, newest first.
    pub overrides: Vec<ProductionMove>,
    /// Gate decisions that refused a version, newest first; `None` when the caller's role may not read gate
    /// decisions.
    pub denied: Option<Vec<DeniedDecision>>,
}

/// An incident with the versions its alerts were raised on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodIncident {
    pub incident: crate::alerts::Incident,
    /// Versions whose traffic raised its alerts, ascending.
    pub versions: Vec<i64>,
}

/// A move of a production alias, with the version it replaced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductionMove {
    pub model: String,
    /// `champion` or `canary`.
    pub alias: String,
    /// The version moved to.
    pub version: i64,
    /// The version the alias served before, if any.
    pub previous: Option<i64>,
    /// When (µs).
    pub at: i64,
    /// Who (`warden` for automatic actions).
    pub actor: String,
    /// Why, as recorded with the move.
    pub reason: String,
    /// The gate decision the move went ahead on (refused, for an override).
    pub decision_id: Option<String>,
}

/// A gate decision that refused a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeniedDecision {
    pub decision_id: String,
    pub model: String,
    pub version: i64,
    /// The production alias the version would have moved to.
    pub alias: String,
    /// `check` or `promote`.
    pub purpose: String,
    /// When (µs).
    pub at: i64,
    /// Who asked.
    pub actor: String,
    /// The policies' reasons.
    pub reasons: Vec<String>,
    /// Whether an administrator promoted the version against this refusal.
    pub overridden: bool,
}

/// The incidents, rollbacks, overrides and gate refusals of the last `days` days. Incidents need the right
/// to read decisions and gate decisions the right to read the audit trail; a role without one gets `None`
/// for that part, not an error.
pub async fn period_events(warden: &Oversight, caller: &Principal, days: i64) -> Result<PeriodEvents> {
    caller.require(Permission::ReadRegistry)?;
    let days = days.clamp(1, 3_650);
    let since = warden.now() - days * DAY_MICROS;

    let mut previous: std::collections::HashMap<(String, String), Option<i64>> = std::collections::HashMap::new();
    let (mut rollbacks, mut overrides) = (Vec::new(), Vec::new());
    for d in warden.metadata.deployments(0).await? {
        let a = d.assignment;
        let key = (a.model_name.clone(), a.alias.clone());
        let before = previous.insert(key, a.version).flatten();
        let rollback = is_rollback(&a);
        if a.assigned_at < since || !is_production_move(&a) || !(rollback || a.overridden) {
            continue;
        }
        let moved = ProductionMove {
            model: a.model_name,
            alias: a.alias,
            version: a.version.unwrap_or_default(),
            previous: before,
            at: a.assigned_at,
            actor: a.assigned_by,
            reason: a.reason,
            decision_id: a.decision_id,
        };
        if rollback { rollbacks.push(moved) } else { overrides.push(moved) }
    }
    rollbacks.reverse();
    overrides.reverse();

    let incidents = if caller.require(Permission::ReadDecisions).is_ok() {
        let mut listed = Vec::new();
        for row in warden.metadata.incidents(None, 100_000).await? {
            if row.resolved_at.is_some_and(|t| t < since) {
                continue;
            }
            let mut versions: Vec<i64> =
                warden.metadata.incident_alerts(row.id).await?.into_iter().map(|a| a.version).collect();
            versions.sort_unstable();
            versions.dedup();
            listed.push(PeriodIncident { incident: row.try_into()?, versions });
        }
        listed.sort_by_key(|i| std::cmp::Reverse((i.incident.opened_at, i.incident.id)));
        Some(listed)
    } else {
        None
    };

    let denied = if caller.require(Permission::ReadAudit).is_ok() {
        let overridden: std::collections::HashSet<&str> =
            overrides.iter().filter_map(|o| o.decision_id.as_deref()).collect();
        let mut listed = Vec::new();
        for model in warden.metadata.list_models().await? {
            let name = &model.model.name;
            for record in warden.metadata.version_records(RecordKind::PolicyDecision, name, None).await? {
                let body = &record.body;
                if record.at < since || body["allow"].as_bool() != Some(false) {
                    continue;
                }
                let decision_id = body["decision_id"].as_str().unwrap_or_default().to_owned();
                listed.push(DeniedDecision {
                    overridden: overridden.contains(decision_id.as_str()),
                    decision_id,
                    model: record.model_name.clone(),
                    version: record.version,
                    alias: body["alias"].as_str().unwrap_or_default().to_owned(),
                    purpose: body["purpose"].as_str().unwrap_or_default().to_owned(),
                    at: record.at,
                    actor: record.actor,
                    reasons: body["deny"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect(),
                });
            }
        }
        listed.sort_by_key(|d| std::cmp::Reverse(d.at));
        Some(listed)
    } else {
        None
    };
    Ok(PeriodEvents { period_days: days, since, incidents, rollbacks, overrides, denied })
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

/// One point of a monitor's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorPoint {
    pub monitor: String,
    /// When (µs).
    pub at: i64,
    /// Version evaluated.
    pub version: i64,
    /// `ok`, `warn`, `alert`, `insufficient` or `unavailable`.
    pub status: String,
    /// The monitor's headline value.
    pub value: Option<f64>,
    /// Per feature (or group, or `model`): value, status, bands, figures.
    pub details: Value,
}

/// A model's monitor history over the last `days` days, about `points` per monitor (the last evaluation of
/// each equal slice of the time the evaluations span), oldest first.
pub async fn monitor_series(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    days: i64,
    points: i64,
) -> Result<Vec<MonitorPoint>> {
    let since = warden.now() - days.clamp(1, 3_650) * DAY_MICROS;
    monitor_series_since(warden, caller, model, since, points).await
}

/// A model's monitor history since `since` (µs), about `points` per monitor, as [`monitor_series`].
pub async fn monitor_series_since(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    since: i64,
    points: i64,
) -> Result<Vec<MonitorPoint>> {
    caller.require(Permission::ReadDecisions)?;
    get_model(warden, caller, model).await?;
    Ok(warden
        .metadata
        .monitor_series(model, since, points.clamp(10, 10_000))
        .await?
        .into_iter()
        .map(|e| MonitorPoint {
            monitor: e.monitor,
            at: e.at,
            version: e.version,
            status: e.status,
            value: e.value,
            details: e.details,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
