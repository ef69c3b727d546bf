/*!
Alerts: raised by monitor evaluations, one open alert per model, monitor and feature.

States: firing → acknowledged (by a person) → resolved (when the monitor sees the feature back within its
bands). A `warn` result fires a `warning`, an `alert` result a `critical` alert; a warning that turns into an
alert is escalated. `insufficient` results change nothing. Every transition is an alert event.
*/

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use warden_core::{AlertState, IncidentState, Severity};
use warden_store::metadata::{AlertEvent, AlertRow, MonitorEvaluation};

use crate::{Error, Oversight, Result};
use warden_registry::auth::{Permission, Principal};

/// Who the monitors act as.
const SYSTEM: &str = "warden";

/// An alert as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: i64,
    pub model: String,
    pub monitor: String,
    /// The feature (empty for the monitor as a whole).
    pub feature: String,
    /// The version whose traffic raised it last.
    pub version: i64,
    pub severity: Severity,
    pub state: AlertState,
    /// When it fired (µs).
    pub opened_at: i64,
    /// Last change (µs).
    pub updated_at: i64,
    /// The monitor's latest value for it.
    pub value: Option<f64>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When it was resolved (µs).
    pub resolved_at: Option<i64>,
    /// The incident it belongs to (critical alerts).
    pub incident_id: Option<i64>,
}

impl TryFrom<AlertRow> for Alert {
    type Error = Error;
    fn try_from(r: AlertRow) -> Result<Self> {
        let corrupt = |e: warden_core::UnknownValue| Error::Inconsistent(format!("stored alert {}: {e}", r.id));
        let (severity, state) = (r.severity.parse().map_err(corrupt)?, r.state.parse().map_err(corrupt)?);
        Ok(Alert {
            id: r.id,
            model: r.model_name,
            monitor: r.monitor,
            feature: r.feature,
            version: r.version,
            severity,
            state,
            opened_at: r.opened_at,
            updated_at: r.updated_at,
            value: r.value,
            acknowledged_by: r.acknowledged_by,
            resolved_at: r.resolved_at,
            incident_id: r.incident_id,
        })
    }
}

/// (model, monitor, feature): what one open alert is about.
type AlertKey = (String, String, String);
/// The worst status rank seen in a round, the version that showed it, its value and its window's start.
type Worst = (u8, i64, Option<f64>, i64);

fn rank(status: &str) -> u8 {
    match status {
        "alert" => 3,
        "warn" => 2,
        "ok" => 1,
        _ => 0,
    }
}

/// A monitor's automatic action on a critical alert, for the monitor round to take once the alerts are saved.
pub(crate) struct PendingAction {
    alert: AlertRow,
    action: String,
}

/// Opens, escalates and resolves alerts from a round of evaluations; returns the actions their monitors ask
/// for on critical alerts (the round takes them: an evaluation never moves an alias or trains a model).
pub(crate) async fn apply(
    warden: &Oversight,
    monitors: &[crate::monitoring::Monitor],
    evaluations: &[MonitorEvaluation],
) -> Result<Vec<PendingAction>> {
    // The worst result per (model, monitor, feature) over the versions evaluated in this round.
    let mut worst: BTreeMap<AlertKey, Worst> = BTreeMap::new();
    for e in evaluations {
        let Some(features) = e.details["features"].as_object() else { continue };
        for (feature, result) in features {
            let status = rank(result["status"].as_str().unwrap_or_default());
            let key = (e.model_name.clone(), e.monitor.clone(), feature.clone());
            let entry = worst.entry(key).or_insert((0, e.version, None, e.window_start));
            if status > entry.0 {
                *entry = (status, e.version, result["value"].as_f64(), e.window_start);
            }
        }
    }
    // A monitor that asks for `consecutive` breaches fires (or escalates) only at the level held by each of
    // its last `consecutive` evaluations of that version.
    for ((model, monitor, feature), (status, version, _, _)) in worst.iter_mut() {
        let Some(m) = monitors.iter().find(|m| m.model == *model && m.name == *monitor) else { continue };
        let needed = m.config.consecutive.max(1) as usize;
        if *status < 2 || needed == 1 {
            continue;
        }
        let history = warden.metadata.monitor_evaluations(model, Some(monitor), (needed * 16) as i64).await?;
        let recent: Vec<u8> = history
            .iter()
            .rev()
            .filter(|e| e.version == *version)
            .take(needed)
            .map(|e| rank(e.details["features"][feature.as_str()]["status"].as_str().unwrap_or_default()))
            .collect();
        // Not held long enough: no change (an open alert is not resolved by a breach, either).
        let held = if recent.len() < needed { 0 } else { recent.into_iter().min().unwrap_or(0) };
        *status = if held < 2 { 0 } else { (*status).min(held) };
    }
    let open = warden.metadata.alerts(None, Some("open"), i64::MAX).await?;
    let now = warden.now();
    let mut actions = Vec::new();
    for ((model, monitor, feature), (status, version, value, window_start)) in worst {
        let current = open.iter().find(|a| a.model_name == model && a.monitor == monitor && a.feature == feature);
        let severity = match status {
            3 => "critical",
            2 => "warning",
            _ => "",
        };
        let details = json!({ "value": value, "version": version, "detect_micros": now - window_start });
        let (row, kind) = match (current, status) {
            (None, 2 | 3) => (
                AlertRow {
                    id: 0,
                    model_name: model,
                    monitor,
                    feature,
                    version,
                    severity: severity.into(),
                    state: "firing".into(),
                    opened_at: now,
                    updated_at: now,
                    value,
                    acknowledged_by: None,
                    resolved_at: None,
                    incident_id: None,
                },
                "fired",
            ),
            (Some(a), 3) if a.severity == "warning" => {
                (AlertRow { severity: "critical".into(), version, value, updated_at: now, ..a.clone() }, "escalated")
            }
            (Some(a), 1) => (
                AlertRow { state: "resolved".into(), value, updated_at: now, resolved_at: Some(now), ..a.clone() },
                "resolved",
            ),
            _ => continue,
        };
        let mut row = row;
        if matches!(kind, "fired" | "escalated") && row.severity == "critical" && row.incident_id.is_none() {
            // A critical alert opens its model's incident (or joins the open one). Time to detect is counted
            // from the start of the window that breached: an upper bound on the delay from the onset.
            let title = format!("{} of '{}' on {} version {}", row.monitor, row.feature, row.model_name, row.version);
            let incident = warden.metadata.open_incident(&row.model_name, &title, now, now - window_start).await?;
            row.incident_id = Some(incident.id);
        }
        let event = AlertEvent { at: now, kind: kind.into(), actor: SYSTEM.into(), details };
        let id = save(warden, &row, &event).await?;
        tracing::warn!(alert = id, model = %row.model_name, monitor = %row.monitor, feature = %row.feature,
            severity = %row.severity, kind, "alert");
        let row = AlertRow { id, ..row };
        if kind == "resolved"
            && let Some(incident) = row.incident_id
        {
            warden.metadata.resolve_incident_if_clear(incident, now).await?;
        }
        if matches!(kind, "fired" | "escalated") && row.severity == "critical" {
            let action = monitors
                .iter()
                .find(|m| m.model == row.model_name && m.name == row.monitor)
                .map_or("notify", |m| m.config.action.as_str());
            actions.push(PendingAction { alert: row, action: action.to_owned() });
        }
    }
    Ok(actions)
}

/// The version an automatic rollback of the champion goes to: the latest champion before the current one that
/// came in through the gate (not by an override), never one an automatic rollback already moved away from (under
/// a lasting drift the fallback alerts too, and the champion must not flip back and forth).
fn rollback_target(history: &[warden_store::metadata::AliasAssignment], system_actor: &str) -> Option<i64> {
    let current = history.last().and_then(|a| a.version);
    let rolled_back_from: Vec<i64> = history
        .windows(2)
        .filter(|pair| pair[1].assigned_by == system_actor)
        .filter_map(|pair| pair[0].version)
        .collect();
    history
        .iter()
        .rev()
        .filter(|a| a.decision_id.is_some() && !a.overridden)
        .filter_map(|a| a.version)
        .find(|v| Some(*v) != current && !rolled_back_from.contains(v))
}

/// The reason an automatic action records on the alias it moves (and so in the audit trail).
fn action_reason(action: &str, alert: i64, monitor: &str, feature: &str) -> String {
    format!("automatic {action} on alert {alert}: {monitor} of '{feature}'")
}

/// The alert an automatic action was taken on, read back from the reason [`act`] recorded on the alias.
pub fn alert_of_reason(reason: &str) -> Option<i64> {
    let rest = reason.strip_prefix("automatic ")?;
    let (_, rest) = rest.split_once(" on alert ")?;
    rest.split(':').next()?.parse().ok()
}

/// Takes a monitor's automatic action on a critical alert, and records what it did on the alert.
pub(crate) async fn act(warden: &Oversight, pending: &PendingAction) -> Result<()> {
    let (alert, action) = (&pending.alert, pending.action.as_str());
    use warden_registry::registry::{MoveCause, move_alias};
    let model = &alert.model_name;
    let system = Principal::system();
    let reason = action_reason(action, alert.id, &alert.monitor, &alert.feature);
    let outcome = match action {
        "rollback" => {
            let history = warden.metadata.alias_history(model, Some("champion")).await?;
            let current = history.last().and_then(|a| a.version);
            let previous = rollback_target(&history, &system.actor());
            match (current, previous) {
                (Some(current), _) if current != alert.version => {
                    json!({ "done": false, "why": format!("champion is version {current}, not the alerting {}", alert.version) })
                }
                (Some(current), Some(previous)) => {
                    let cause = MoveCause::Alert { alert_id: alert.id };
                    move_alias(warden, &system, model, "champion", Some(previous), &reason, None, cause).await?;
                    json!({ "done": true, "from": current, "to": previous })
                }
                _ => json!({ "done": false, "why": "no earlier gate-approved champion to roll back to" }),
            }
        }
        "stop_canary" => {
            let canary = warden.metadata.alias_at(model, "canary", i64::MAX).await?.and_then(|a| a.version);
            if canary == Some(alert.version) {
                let cause = MoveCause::Alert { alert_id: alert.id };
                move_alias(warden, &system, model, "canary", None, &reason, None, cause).await?;
                json!({ "done": true, "stopped": alert.version })
            } else {
                json!({ "done": false, "why": format!("the canary is not version {}", alert.version) })
            }
        }
        "retrain" => {
            let request = crate::retraining::RetrainRequest { alert_id: Some(alert.id), ..Default::default() };
            match Box::pin(crate::retraining::retrain(warden, &system, model, request)).await {
                Ok(job) => {
                    json!({ "done": job.status != warden_core::JobStatus::Failed, "job": job.id, "status": job.status,
                                   "version": job.version, "error": job.error })
                }
                Err(err) => json!({ "done": false, "why": err.to_string() }),
            }
        }
        _ => return Ok(()),
    };
    tracing::warn!(alert = alert.id, model = %model, action, outcome = %outcome, "automatic action");
    let event = AlertEvent {
        at: warden.now(),
        kind: "action".into(),
        actor: SYSTEM.into(),
        details: json!({ "action": action, "outcome": outcome }),
    };
    save(warden, alert, &event).await?;
    Ok(())
}

/// Saves an alert with its event, queueing the notification in the same transaction when a webhook is set.
async fn save(warden: &Oversight, alert: &AlertRow, event: &AlertEvent) -> Result<i64> {
    let notify = warden.config().webhook.as_ref().map(|_| {
        json!({
            "event": event.kind,
            "at": event.at,
            "actor": event.actor,
            "details": event.details,
            "alert": {
                "id": alert.id, "model": alert.model_name, "monitor": alert.monitor, "feature": alert.feature,
                "version": alert.version, "severity": alert.severity, "state": alert.state, "value": alert.value,
            },
        })
    });
    let id = warden.metadata.save_alert(alert, event, notify.as_ref()).await?;
    Ok(id)
}

/// Alerts, newest first: of a state (`firing`, `acknowledged`, `resolved`, or `open` for the first two) and
/// a model when given.
pub async fn list(
    warden: &Oversight,
    caller: &Principal,
    state: Option<&str>,
    model: Option<&str>,
) -> Result<Vec<Alert>> {
    caller.require(Permission::ReadDecisions)?;
    if let Some(s) = state
        && !["firing", "acknowledged", "resolved", "open"].contains(&s)
    {
        return Err(Error::invalid(format!("unknown alert state '{s}' (firing, acknowledged, resolved, open)")));
    }
    warden.metadata.alerts(model, state, 10_000).await?.into_iter().map(Alert::try_from).collect()
}

/// One alert with its events.
pub async fn get(warden: &Oversight, caller: &Principal, id: i64) -> Result<(Alert, Vec<Value>)> {
    caller.require(Permission::ReadDecisions)?;
    let alert = find(warden, id).await?;
    let events = warden
        .metadata
        .alert_events(id)
        .await?
        .into_iter()
        .map(|e| json!({ "at": e.at, "kind": e.kind, "actor": e.actor, "details": e.details }))
        .collect();
    Ok((alert.try_into()?, events))
}

async fn find(warden: &Oversight, id: i64) -> Result<AlertRow> {
    warden.metadata.alert(id).await?.ok_or_else(|| Error::NotFound(format!("alert {id} not found")))
}

/// A person takes a firing alert in hand (validator, risk officer, admin).
pub async fn acknowledge(warden: &Oversight, caller: &Principal, id: i64, comment: &str) -> Result<Alert> {
    caller.require(Permission::ManageMonitors)?;
    warden_registry::text::check("comment", comment, warden_registry::text::LONG, warden_registry::text::Lines::Many)?;
    let alert = find(warden, id).await?;
    if alert.state != "firing" {
        return Err(Error::Conflict(format!("alert {id} is {}, not firing", alert.state)));
    }
    let now = warden.now();
    let row =
        AlertRow { state: "acknowledged".into(), acknowledged_by: Some(caller.name.clone()), updated_at: now, ..alert };
    let event = AlertEvent {
        at: now,
        kind: "acknowledged".into(),
        actor: caller.actor(),
        details: json!({ "comment": comment }),
    };
    save(warden, &row, &event).await?;
    row.try_into()
}

/// An incident as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub model: String,
    /// What opened it.
    pub title: String,
    pub state: IncidentState,
    /// When (µs).
    pub opened_at: i64,
    /// When resolved (µs).
    pub resolved_at: Option<i64>,
    /// Seconds from the start of the first breaching window to the alert.
    pub time_to_detect_seconds: f64,
    /// Seconds from opening to resolution.
    pub time_to_resolve_seconds: Option<f64>,
}

impl TryFrom<warden_store::metadata::IncidentRow> for Incident {
    type Error = Error;
    fn try_from(r: warden_store::metadata::IncidentRow) -> Result<Self> {
        let state = r.state.parse().map_err(|e| Error::Inconsistent(format!("stored incident {}: {e}", r.id)))?;
        Ok(Incident {
            id: r.id,
            model: r.model_name,
            title: r.title,
            state,
            opened_at: r.opened_at,
            resolved_at: r.resolved_at,
            time_to_detect_seconds: r.detect_micros as f64 / 1e6,
            time_to_resolve_seconds: r.resolved_at.map(|t| (t - r.opened_at) as f64 / 1e6),
        })
    }
}

/// Resolves an open incident by hand (the alerts in it keep their own states), with the reason recorded.
pub async fn resolve_incident(warden: &Oversight, caller: &Principal, id: i64, comment: &str) -> Result<Incident> {
    caller.require(Permission::ManageMonitors)?;
    if comment.trim().is_empty() {
        return Err(Error::invalid("resolving an incident needs a comment saying why"));
    }
    warden_registry::text::check("comment", comment, warden_registry::text::LONG, warden_registry::text::Lines::Many)?;
    let Some(incident) = warden.metadata.incident(id).await? else {
        return Err(Error::NotFound(format!("incident {id} not found")));
    };
    let now = warden.now();
    let audit = warden_store::metadata::AuditEventDraft {
        at: now,
        actor: caller.actor(),
        action: "incident.resolve".into(),
        subject: format!("model/{}/incident/{id}", incident.model_name),
        payload: json!({"incident": id, "comment": comment}),
    };
    warden.metadata.resolve_incident(id, now, audit).await?.try_into()
}

/// Incidents, newest first (`open` or `resolved` when given).
pub async fn incidents(warden: &Oversight, caller: &Principal, state: Option<&str>) -> Result<Vec<Incident>> {
    caller.require(Permission::ReadDecisions)?;
    if let Some(s) = state
        && !["open", "resolved"].contains(&s)
    {
        return Err(Error::invalid(format!("unknown incident state '{s}' (open, resolved)")));
    }
    warden.metadata.incidents(state, 10_000).await?.into_iter().map(Incident::try_from).collect()
}

/// One incident with its timeline: every event of its alerts (fired, actions, acknowledgements,
/// resolution), in time order.
pub async fn incident(warden: &Oversight, caller: &Principal, id: i64) -> Result<(Incident, Vec<Value>)> {
    caller.require(Permission::ReadDecisions)?;
    let row = warden.metadata.incident(id).await?.ok_or_else(|| Error::NotFound(format!("incident {id} not found")))?;
    let mut timeline = Vec::new();
    for alert in warden.metadata.incident_alerts(id).await? {
        for e in warden.metadata.alert_events(alert.id).await? {
            timeline.push(json!({
                "at": e.at, "kind": e.kind, "actor": e.actor, "details": e.details,
                "alert": alert.id, "monitor": alert.monitor, "feature": alert.feature,
            }));
        }
    }
    timeline.sort_by_key(|e| e["at"].as_i64());
    Ok((row.try_into()?, timeline))
}

#[cfg(test)]
mod tests {
    use warden_store::metadata::AliasAssignment;

    use super::rollback_target;

    fn moved(version: i64, by: &str, gated: bool) -> AliasAssignment {
        AliasAssignment {
            model_name: "credit".into(),
            alias: "champion".into(),
            version: Some(version),
            assigned_at: 0,
            assigned_by: by.into(),
            reason: String::new(),
            traffic: None,
            decision_id: gated.then(|| "dec".into()),
            overridden: false,
        }
    }

    #[test]
    fn the_alert_behind_an_automatic_move_is_read_back_from_its_reason() {
        let reason = super::action_reason("rollback", 42, "drift", "age");
        assert_eq!(super::alert_of_reason(&reason), Some(42));
        assert_eq!(super::alert_of_reason(&super::action_reason("stop_canary", 7, "score: x", "")), Some(7));
        assert_eq!(super::alert_of_reason("promoted after review of alert 3"), None);
        assert_eq!(super::alert_of_reason(""), None);
    }

    #[test]
    fn a_rollback_goes_to_the_previous_gated_champion_and_never_back() {
        let promoted = [moved(1, "token:dana", true), moved(2, "token:dana", true)];
        assert_eq!(rollback_target(&promoted, "warden"), Some(1));
        // Rolled back to 1; the drift lasts and 1 alerts too: version 2 is not a way out.
        let rolled = [moved(1, "token:dana", true), moved(2, "token:dana", true), moved(1, "warden", false)];
        assert_eq!(rollback_target(&rolled, "warden"), None);
        // A later promotion of 3 can still be rolled back to 1.
        let later = [
            moved(1, "token:dana", true),
            moved(2, "token:dana", true),
            moved(1, "warden", false),
            moved(3, "token:dana", true),
        ];
        assert_eq!(rollback_target(&later, "warden"), Some(1));
        // An override is no fallback.
        let mut overridden = moved(1, "token:admin", true);
        overridden.overridden = true;
        assert_eq!(rollback_target(&[overridden, moved(2, "token:dana", true)], "warden"), None);
    }
}
