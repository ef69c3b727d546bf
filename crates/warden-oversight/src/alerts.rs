/*!
Alerts: raised by monitor evaluations, one open alert per model, monitor, feature and version (each version's
evaluations open, escalate and resolve its own alerts; an alert never changes version).

States: firing → acknowledged (by a person) → resolved. A `warn` result fires a `warning`, an `alert` result a
`critical` alert; a warning that turns into an alert is escalated. A monitor's `consecutive` breaching
evaluations in a row fire (or escalate) an alert, and its `resolve_after` clean ones in a row resolve it, so
that a figure hovering at a band does not open and close alerts over and over. `insufficient` and
`unavailable` results change nothing. An alert of a version that no alias serves any more is resolved.
Every transition is an alert event.

Only alerts of a version serving a production alias (champion, canary) open incidents and take automatic
actions: a shadow challenger's alerts are recorded as its own and touch neither. Resolving an incident by
hand resolves its open alerts with it.
*/

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
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
    /// The version whose traffic raised it (an alert never changes version).
    pub version: i64,
    pub severity: Severity,
    pub state: AlertState,
    /// When it fired (µs).
    pub opened_at: i64,
    /// Last change (µs).
    pub updated_at: i64,
    /// The monitor's value when it fired, escalated or resolved.
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

/// (model, monitor, feature, version): what one alert is about. An alert never changes version: each
/// version's evaluations open, escalate and resolve its own alerts.
type AlertKey = (String, String, String, i64);
/// A key's status rank in this round, its value and its evaluation's window start.
type Judged = (u8, Option<f64>, i64);

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

/// What the round knows of one model's recent evaluations and aliases (read once per model and monitor).
#[derive(Default)]
struct Context {
    /// Per (model, monitor): recent evaluations, oldest first.
    history: BTreeMap<(String, String), Vec<MonitorEvaluation>>,
    /// Per model: the versions each current alias serves, and which of them serve a production alias.
    aliases: BTreeMap<String, Vec<warden_store::metadata::AliasAssignment>>,
}

/// Evaluations read back to find a breach's streak and the clean evaluations before a resolution.
const HISTORY: i64 = 500;

impl Context {
    async fn history(&mut self, warden: &Oversight, model: &str, monitor: &str) -> Result<&[MonitorEvaluation]> {
        let key = (model.to_owned(), monitor.to_owned());
        if !self.history.contains_key(&key) {
            let rows = warden.metadata.monitor_evaluations(model, Some(monitor), HISTORY).await?;
            self.history.insert(key.clone(), rows);
        }
        Ok(&self.history[&key])
    }

    async fn aliases(&mut self, warden: &Oversight, model: &str) -> Result<&[warden_store::metadata::AliasAssignment]> {
        if !self.aliases.contains_key(model) {
            let rows = warden.metadata.current_aliases(model).await?;
            self.aliases.insert(model.to_owned(), rows);
        }
        Ok(&self.aliases[model])
    }

    /// Whether the version serves a production alias (champion or canary): only those alerts open incidents
    /// and take automatic actions; a shadow challenger's alerts are its own.
    async fn in_production(&mut self, warden: &Oversight, model: &str, version: i64) -> Result<bool> {
        Ok(self.aliases(warden, model).await?.iter().any(|a| {
            a.version == Some(version) && warden_registry::registry::PRODUCTION_ALIASES.contains(&a.alias.as_str())
        }))
    }

    async fn serves(&mut self, warden: &Oversight, model: &str, version: i64) -> Result<bool> {
        Ok(self.aliases(warden, model).await?.iter().any(|a| a.version == Some(version)))
    }
}

/// The ranks of one key in its version's evaluations, newest first (evaluations with no result for the key are
/// left out).
fn ranks_newest_first<'a>(
    history: &'a [MonitorEvaluation],
    version: i64,
    feature: &'a str,
) -> impl Iterator<Item = (u8, &'a MonitorEvaluation)> + 'a {
    history.iter().rev().filter(move |e| e.version == version).filter_map(move |e| {
        let status = e.details["features"].get(feature)?["status"].as_str()?;
        Some((rank(status), e))
    })
}

/// What the hysteresis makes of a key's newest ranks (newest first, this round's included): the level a breach
/// has held for `consecutive` evaluations in a row (0: not long enough), and whether the last `resolve_after`
/// evaluations were all clean.
fn held(ranks: &[u8], consecutive: usize, resolve_after: usize) -> (u8, bool) {
    let breach = match ranks.get(..consecutive.max(1)) {
        Some(last) => last.iter().copied().min().filter(|&r| r >= 2).unwrap_or(0),
        None => 0,
    };
    let clean = ranks.get(..resolve_after.max(1)).is_some_and(|last| last.iter().all(|&r| r == 1));
    (breach, clean)
}

/// The window start of the oldest evaluation in the current streak at `level` or worse (the first breaching
/// window), newest-first ranks.
fn streak_start<'a>(mut ranks: impl Iterator<Item = (u8, &'a MonitorEvaluation)>, level: u8) -> Option<i64> {
    let mut start = None;
    for (rank, e) in ranks.by_ref() {
        if rank < level {
            break;
        }
        start = Some(e.window_start);
    }
    start
}

/// Opens, escalates and resolves alerts from a round of evaluations; returns the actions their monitors ask
/// for on critical alerts (the round takes them: an evaluation never moves an alias or trains a model).
pub(crate) async fn apply(
    warden: &Oversight,
    monitors: &[crate::monitoring::Monitor],
    evaluations: &[MonitorEvaluation],
) -> Result<Vec<PendingAction>> {
    let mut judged: BTreeMap<AlertKey, Judged> = BTreeMap::new();
    for e in evaluations {
        let Some(features) = e.details["features"].as_object() else { continue };
        for (feature, result) in features {
            let status = rank(result["status"].as_str().unwrap_or_default());
            let key = (e.model_name.clone(), e.monitor.clone(), feature.clone(), e.version);
            judged.insert(key, (status, result["value"].as_f64(), e.window_start));
        }
    }
    let open = warden.metadata.alerts(None, Some("open"), i64::MAX).await?;
    crate::findings::raise_missing_breaches(warden, &open).await;
    let now = warden.now();
    let mut context = Context::default();
    let mut actions = Vec::new();
    let mut transitions: Vec<(AlertRow, &'static str, Value)> = Vec::new();

    for ((model, monitor, feature, version), (status, value, _)) in judged {
        let Some(m) = monitors.iter().find(|m| m.model == model && m.name == monitor) else { continue };
        let current = open
            .iter()
            .find(|a| a.model_name == model && a.monitor == monitor && a.feature == feature && a.version == version);
        if status == 0 || (status == 1 && current.is_none()) {
            continue; // insufficient or unavailable changes nothing; ok with nothing open neither
        }
        let production = context.in_production(warden, &model, version).await?;
        let history = context.history(warden, &model, &monitor).await?;
        let ranks: Vec<u8> = ranks_newest_first(history, version, &feature).map(|(r, _)| r).take(120).collect();
        let (breach, clean) = held(&ranks, m.config.consecutive as usize, m.config.resolve_after as usize);
        let level = match status {
            1 => 1,
            _ => breach.min(status),
        };
        // Time to detect: from the first decision of the first window of the streak that breached.
        let detect = |level: u8| {
            let start = streak_start(ranks_newest_first(history, version, &feature), level);
            start.unwrap_or(now)
        };
        let row = match (current, level) {
            (None, 2 | 3) => {
                let first = first_decision(warden, &model, version, detect(level)).await?;
                let severity = if level == 3 { "critical" } else { "warning" };
                let row = AlertRow {
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
                };
                let details = json!({ "value": value, "version": version, "severity": severity,
                    "first_decision_at": first, "detect_micros": now - first });
                (row, "fired", details)
            }
            (Some(a), 3) if a.severity == "warning" => {
                let first = first_decision(warden, &model, version, detect(3)).await?;
                let row = AlertRow { severity: "critical".into(), value, updated_at: now, ..a.clone() };
                let details = json!({ "value": value, "version": version, "severity": "critical",
                    "first_decision_at": first, "detect_micros": now - first });
                (row, "escalated", details)
            }
            (Some(a), 3) if a.severity == "critical" && a.incident_id.is_none() && production => {
                // A shadow version's critical alert, still firing now that the version serves production.
                let first = first_decision(warden, &model, version, detect(3)).await?;
                let row = AlertRow { value, updated_at: now, ..a.clone() };
                let details = json!({ "value": value, "version": version, "severity": "critical",
                    "reason": format!("version {version} now serves a production alias"),
                    "first_decision_at": first, "detect_micros": now - first });
                (row, "escalated", details)
            }
            (Some(a), 1) if clean => {
                let row =
                    AlertRow { state: "resolved".into(), value, updated_at: now, resolved_at: Some(now), ..a.clone() };
                let details =
                    json!({ "value": value, "version": version, "clean_evaluations": m.config.resolve_after });
                (row, "resolved", details)
            }
            _ => continue,
        };
        transitions.push(row);
    }

    // Alerts of versions no alias serves any more (rolled back, replaced, retired) have nothing left to watch.
    let changed: Vec<i64> = transitions.iter().map(|(row, _, _)| row.id).filter(|&id| id != 0).collect();
    for a in &open {
        if !changed.contains(&a.id)
            && a.feature != crate::integrity::UNAPPROVED_SERVING
            && monitors.iter().any(|m| m.model == a.model_name && m.name == a.monitor)
            && !context.serves(warden, &a.model_name, a.version).await?
        {
            let row = AlertRow { state: "resolved".into(), updated_at: now, resolved_at: Some(now), ..a.clone() };
            let details = json!({ "version": a.version,
                "reason": format!("version {} no longer serves any alias", a.version) });
            transitions.push((row, "resolved", details));
        }
    }

    for (mut row, kind, details) in transitions {
        // A version serving outside the gate answers production traffic by definition.
        let production = row.feature == crate::integrity::UNAPPROVED_SERVING
            || context.in_production(warden, &row.model_name, row.version).await?;
        if matches!(kind, "fired" | "escalated")
            && row.severity == "critical"
            && row.incident_id.is_none()
            && production
        {
            // A critical alert on a production version opens its model's incident (or joins the open one).
            let title = crate::findings::breach_title(&row);
            let detect = details["detect_micros"].as_i64().unwrap_or_default();
            let incident = warden.metadata.open_incident(&row.model_name, &title, now, detect).await?;
            row.incident_id = Some(incident.id);
            crate::findings::raise_breach(warden, &row.model_name, row.version, &title, incident.id).await;
        }
        let mut details = details;
        if !production && kind != "resolved" {
            details["shadow"] = json!(true);
        }
        let event = AlertEvent { at: now, kind: kind.into(), actor: SYSTEM.into(), details };
        let id = save(warden, &row, &event).await?;
        tracing::warn!(alert = id, model = %row.model_name, monitor = %row.monitor, feature = %row.feature,
            version = row.version, severity = %row.severity, kind, "alert");
        let row = AlertRow { id, ..row };
        // An incident resolves by itself only when its monitors saw its alerts back within the bands: an alert
        // that ended because its version stopped serving (a rollback) leaves the incident to a person.
        let retired = event.details["reason"].is_string();
        if kind == "resolved"
            && !retired
            && let Some(incident) = row.incident_id
        {
            warden.metadata.resolve_incident_if_clear(incident, now).await?;
        }
        if matches!(kind, "fired" | "escalated") && row.severity == "critical" && production {
            let action = monitors
                .iter()
                .find(|m| m.model == row.model_name && m.name == row.monitor)
                .map_or("notify", |m| m.config.action.as_str());
            actions.push(PendingAction { alert: row, action: action.to_owned() });
        }
    }
    Ok(actions)
}

/// The first decision of a version at or after `since` (the start of the first breaching window); `since`
/// itself when the log has none there (outcome-based windows start at a decision already).
async fn first_decision(warden: &Oversight, model: &str, version: i64, since: i64) -> Result<i64> {
    Ok(warden.metadata.first_decision_at(model, version, since).await?.unwrap_or(since))
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

/// What an automatic action did: a closed set, so that one that could not act says why in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ActionOutcome {
    /// The champion moved back.
    RolledBack { from: i64, to: i64 },
    /// The canary alias was removed.
    CanaryStopped { version: i64 },
    /// The model was suspended: its fallback answers until someone resumes it.
    Suspended { fallback: warden_core::FallbackKind },
    /// A retraining job ran (its status says how far it got).
    Retrained { job: i64, status: warden_core::JobStatus, version: Option<i64>, error: Option<String> },
    /// The action was not possible; nothing changed.
    NotPossible { reason: String },
}

impl ActionOutcome {
    /// One line for people: "rolled back: champion from version 2 to version 1", "rollback not possible: …".
    pub fn describe(&self, action: &str) -> String {
        match self {
            ActionOutcome::RolledBack { from, to } => {
                format!("rolled back: champion from version {from} to version {to}")
            }
            ActionOutcome::CanaryStopped { version } => format!("canary stopped: version {version} no longer serves"),
            ActionOutcome::Suspended { fallback } => {
                format!("model suspended: its fallback ({fallback}) answers until someone resumes it")
            }
            ActionOutcome::Retrained { job, status, version, error } => {
                let mut text = format!("retraining job {job}: {status}");
                if let Some(v) = version {
                    text.push_str(&format!(", candidate version {v}"));
                }
                if let Some(e) = error {
                    text.push_str(&format!(" ({e})"));
                }
                text
            }
            ActionOutcome::NotPossible { reason } => format!("{} not possible: {reason}", action.replace('_', " ")),
        }
    }
}

/// One line for people about an alert event (the timeline, the API's `summary`, the CLI and the dashboard).
pub fn describe_event(kind: &str, actor: &str, details: &Value) -> String {
    let actor = actor.strip_prefix("token:").unwrap_or(actor);
    let value = details["value"].as_f64().map(|v| format!(" at {v:.4}")).unwrap_or_default();
    let version = details["version"].as_i64().map(|v| format!(" on version {v}")).unwrap_or_default();
    let shadow = if details["shadow"] == true { " (shadow: no incident, no automatic action)" } else { "" };
    let text = |key: &str| details[key].as_str().filter(|t| !t.is_empty()).map(str::to_owned);
    match kind {
        "fired" => {
            let severity = text("severity").unwrap_or_else(|| "alert".into());
            format!("{severity} fired{value}{version}{shadow}")
        }
        "escalated" => match text("reason") {
            Some(reason) => format!("critical{value}: {reason}"),
            None => format!("escalated to critical{value}{version}{shadow}"),
        },
        "acknowledged" => match text("comment") {
            Some(comment) => format!("acknowledged by {actor}: {comment}"),
            None => format!("acknowledged by {actor}"),
        },
        "resolved" => match (text("reason"), text("comment"), details["incident"].as_i64()) {
            (Some(reason), _, _) => format!("resolved: {reason}"),
            (None, Some(comment), Some(incident)) => {
                format!("resolved by {actor} with incident {incident}: {comment}")
            }
            (None, Some(comment), None) => format!("resolved by {actor}: {comment}"),
            _ => match details["clean_evaluations"].as_u64() {
                Some(n) => format!(
                    "resolved: back within the bands{value} for {}",
                    warden_core::words::counted(n, "evaluation", "evaluations")
                ),
                None => format!("resolved: back within the bands{value}"),
            },
        },
        "action" => {
            let action = details["action"].as_str().unwrap_or("action");
            match serde_json::from_value::<ActionOutcome>(details["outcome"].clone()) {
                Ok(outcome) => outcome.describe(action),
                // Recorded before outcomes were a closed set.
                Err(_) => match (details["outcome"]["done"].as_bool(), details["outcome"]["why"].as_str()) {
                    (Some(false), Some(why)) => format!("{} not possible: {why}", action.replace('_', " ")),
                    (Some(true), _) => format!("{} done", action.replace('_', " ")),
                    _ => format!("{action}: {}", details["outcome"]),
                },
            }
        }
        "incident_resolved" => match text("comment") {
            Some(comment) => format!("incident resolved by {actor}: {comment}"),
            None => "incident resolved: every alert in it resolved".into(),
        },
        other => other.to_owned(),
    }
}

/// Takes a monitor's automatic action on a critical alert, and records what it did on the alert.
pub(crate) async fn act(warden: &Oversight, pending: &PendingAction) -> Result<()> {
    let (alert, action) = (&pending.alert, pending.action.as_str());
    use warden_registry::registry::{MoveCause, move_alias};
    let model = &alert.model_name;
    let system = Principal::system();
    let reason = action_reason(action, alert.id, &alert.monitor, &alert.feature);
    let not_possible = |reason: String| ActionOutcome::NotPossible { reason };
    let outcome = match action {
        "rollback" => {
            let history = warden.metadata.alias_history(model, Some("champion")).await?;
            let current = history.last().and_then(|a| a.version);
            let previous = rollback_target(&history, &system.actor());
            match (current, previous) {
                (None, _) => not_possible("the model has no champion".into()),
                (Some(current), _) if current != alert.version => not_possible(format!(
                    "the champion is version {current}, not the alerting version {}",
                    alert.version
                )),
                (Some(current), Some(previous)) => {
                    let cause = MoveCause::Alert { alert_id: alert.id };
                    move_alias(warden, &system, model, "champion", Some(previous), &reason, None, cause).await?;
                    ActionOutcome::RolledBack { from: current, to: previous }
                }
                (Some(_), None) => not_possible("no earlier gate-approved version to roll back to".into()),
            }
        }
        "stop_canary" => {
            let canary = warden.metadata.alias_at(model, "canary", i64::MAX).await?.and_then(|a| a.version);
            if canary == Some(alert.version) {
                let cause = MoveCause::Alert { alert_id: alert.id };
                move_alias(warden, &system, model, "canary", None, &reason, None, cause).await?;
                ActionOutcome::CanaryStopped { version: alert.version }
            } else {
                not_possible(match canary {
                    Some(v) => format!("the canary is version {v}, not the alerting version {}", alert.version),
                    None => "the model has no canary".into(),
                })
            }
        }
        "suspend" => {
            let champion = warden.metadata.alias_at(model, "champion", i64::MAX).await?.and_then(|a| a.version);
            if champion != Some(alert.version) {
                not_possible(match champion {
                    Some(v) => format!("the champion is version {v}, not the alerting version {}", alert.version),
                    None => "the model has no champion".into(),
                })
            } else {
                let fallback = warden_core::FallbackKind::Refer;
                match crate::suspension::suspend(warden, &system, model, &reason, fallback, None).await {
                    Ok(_) => ActionOutcome::Suspended { fallback },
                    Err(Error::Conflict(why)) => not_possible(why),
                    Err(err) => return Err(err),
                }
            }
        }
        "retrain" => {
            let request = crate::retraining::RetrainRequest { alert_id: Some(alert.id), ..Default::default() };
            match Box::pin(crate::retraining::retrain(warden, &system, model, request)).await {
                Ok(job) => {
                    ActionOutcome::Retrained { job: job.id, status: job.status, version: job.version, error: job.error }
                }
                Err(err) => not_possible(err.to_string()),
            }
        }
        _ => return Ok(()),
    };
    let summary = outcome.describe(action);
    tracing::warn!(alert = alert.id, model = %model, action, outcome = %summary, "automatic action");
    let event = AlertEvent {
        at: warden.now(),
        kind: "action".into(),
        actor: SYSTEM.into(),
        details: json!({ "action": action, "outcome": outcome }),
    };
    save(warden, alert, &event).await?;
    Ok(())
}

/// The notification of an alert event, when a webhook or notification routes are set.
fn notification(warden: &Oversight, alert: &AlertRow, event: &AlertEvent) -> Option<Value> {
    let routed = warden.config().webhook.is_some() || warden.config().notification_routes.is_some();
    routed.then(|| {
        json!({
            "event": event.kind,
            "at": event.at,
            "actor": event.actor,
            "details": event.details,
            "summary": describe_event(&event.kind, &event.actor, &event.details),
            "alert": {
                "id": alert.id, "model": alert.model_name, "monitor": alert.monitor, "feature": alert.feature,
                "version": alert.version, "severity": alert.severity, "state": alert.state, "value": alert.value,
            },
        })
    })
}

/// Saves an alert with its event, queueing the notification in the same transaction when a webhook is set.
async fn save(warden: &Oversight, alert: &AlertRow, event: &AlertEvent) -> Result<i64> {
    let notify = notification(warden, alert, event);
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
        .map(|e| {
            let summary = describe_event(&e.kind, &e.actor, &e.details);
            json!({ "at": e.at, "kind": e.kind, "actor": e.actor, "details": e.details, "summary": summary })
        })
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
    /// Seconds from the first decision of the first breaching window to the alert that opened it.
    pub time_to_detect_seconds: f64,
    /// Seconds from opening to resolution.
    pub time_to_resolve_seconds: Option<f64>,
    /// Who resolved it by hand (none while open, or when it resolved with its alerts).
    pub resolved_by: Option<String>,
    /// Why they resolved it.
    pub resolution: Option<String>,
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
            resolved_by: r.resolved_by,
            resolution: r.resolution,
        })
    }
}

/// Resolves an open incident by hand, recording who and why. Its alerts still open are resolved with it
/// (each with an event naming the person and the reason), so that no critical alert stays open outside an
/// incident: if the monitor still sees the breach, a new alert fires and opens a new incident.
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
    let mut alerts = Vec::new();
    for alert in warden.metadata.incident_alerts(id).await?.into_iter().filter(|a| a.state != "resolved") {
        let row = AlertRow { state: "resolved".into(), updated_at: now, resolved_at: Some(now), ..alert };
        let event = AlertEvent {
            at: now,
            kind: "resolved".into(),
            actor: caller.actor(),
            details: json!({ "incident": id, "comment": comment, "version": row.version }),
        };
        let notify = notification(warden, &row, &event);
        alerts.push((row, event, notify));
    }
    let resolved_alerts: Vec<i64> = alerts.iter().map(|(a, _, _)| a.id).collect();
    let audit = caller.audit_event(
        now,
        "incident.resolve",
        format!("model/{}/incident/{id}", incident.model_name),
        json!({"incident": id, "comment": comment, "resolved_by": caller.name, "resolved_alerts": resolved_alerts}),
    );
    let resolution =
        warden_store::metadata::IncidentResolution { at: now, by: caller.name.clone(), comment: comment.to_owned() };
    warden.metadata.resolve_incident(id, &resolution, &alerts, audit).await?.try_into()
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
/// resolution) and its own resolution by hand, in time order, each with a line for people (`summary`).
pub async fn incident(warden: &Oversight, caller: &Principal, id: i64) -> Result<(Incident, Vec<Value>)> {
    caller.require(Permission::ReadDecisions)?;
    let row = warden.metadata.incident(id).await?.ok_or_else(|| Error::NotFound(format!("incident {id} not found")))?;
    let mut timeline = Vec::new();
    for alert in warden.metadata.incident_alerts(id).await? {
        for e in warden.metadata.alert_events(alert.id).await? {
            let summary = describe_event(&e.kind, &e.actor, &e.details);
            timeline.push(json!({
                "at": e.at, "kind": e.kind, "actor": e.actor, "details": e.details, "summary": summary,
                "alert": alert.id, "monitor": alert.monitor, "feature": alert.feature, "version": alert.version,
            }));
        }
    }
    if let Some(at) = row.resolved_at {
        let (actor, details) = match (&row.resolved_by, &row.resolution) {
            (Some(by), comment) => (format!("token:{by}"), json!({ "resolved_by": by, "comment": comment })),
            (None, _) => (SYSTEM.to_owned(), json!({})),
        };
        let summary = match &row.resolved_by {
            Some(by) => describe_event("incident_resolved", by, &details),
            None => describe_event("incident_resolved", SYSTEM, &details),
        };
        timeline.push(json!({
            "at": at, "kind": "incident_resolved", "actor": actor, "details": details, "summary": summary,
            "alert": null, "monitor": "", "feature": "", "version": null,
        }));
    }
    // Stable: the incident's own resolution comes after the alert events of the same instant.
    timeline.sort_by_key(|e| e["at"].as_i64());
    Ok((row.try_into()?, timeline))
}

#[cfg(test)]
mod tests {
    use warden_store::metadata::AliasAssignment;

    use super::{ActionOutcome, describe_event, held, rollback_target, streak_start};
    use serde_json::json;
    use warden_store::metadata::MonitorEvaluation;

    /// Ranks, newest first: 3 alert, 2 warn, 1 ok, 0 insufficient.
    #[test]
    fn hysteresis_fires_after_consecutive_breaches_and_resolves_after_clean_runs() {
        // One breach fires at once by default, not with `consecutive` 2; two in a row fire at the lower level.
        assert_eq!(held(&[3, 1, 1], 1, 3), (3, false));
        assert_eq!(held(&[3, 1, 1], 2, 3), (0, false));
        assert_eq!(held(&[3, 2, 1], 2, 3), (2, false));
        assert_eq!(held(&[3, 3], 2, 3), (3, false));
        assert_eq!(held(&[3], 2, 3), (0, false), "not enough history yet");
        // A figure hovering at the band (ok, warn, ok, warn…) never counts three clean evaluations in a row.
        let hovering = [1, 2, 1, 2, 1, 2];
        assert!(!held(&hovering, 1, 3).1);
        assert!(held(&[1, 1, 1, 2], 1, 3).1, "three clean in a row resolve");
        assert!(!held(&[1, 0, 1, 2], 1, 3).1, "an insufficient evaluation breaks the run");
        assert!(held(&[1, 2], 1, 1).1, "resolve_after 1: the first clean evaluation");
    }

    #[test]
    fn the_first_breaching_window_is_the_oldest_of_the_current_run() {
        let evaluation = |window_start: i64| MonitorEvaluation {
            model_name: "credit".into(),
            monitor: "feature_drift".into(),
            at: window_start + 300,
            version: 1,
            window_start,
            decisions: 500,
            status: String::new(),
            value: None,
            details: json!({}),
        };
        let (a, b, c, d) = (evaluation(40), evaluation(30), evaluation(20), evaluation(10));
        let ranks = vec![(3, &a), (2, &b), (3, &c), (1, &d)];
        assert_eq!(streak_start(ranks.clone().into_iter(), 2), Some(20), "warn or worse since the window at 20");
        assert_eq!(streak_start(ranks.into_iter(), 3), Some(40), "alert level only since 40");
        assert_eq!(streak_start(vec![(1, &a)].into_iter(), 2), None);
    }

    #[test]
    fn an_action_that_could_not_act_says_so_in_words() {
        let not_possible =
            ActionOutcome::NotPossible { reason: "no earlier gate-approved version to roll back to".into() };
        assert_eq!(
            not_possible.describe("rollback"),
            "rollback not possible: no earlier gate-approved version to roll back to"
        );
        let stored = json!({"action": "stop_canary", "outcome": {"result": "not_possible", "reason": "the model has no canary"}});
        assert_eq!(describe_event("action", "warden", &stored), "stop canary not possible: the model has no canary");
        let done = json!({"action": "rollback", "outcome": {"result": "rolled_back", "from": 2, "to": 1}});
        assert_eq!(describe_event("action", "warden", &done), "rolled back: champion from version 2 to version 1");
        // Recorded before outcomes were a closed set.
        let legacy = json!({"action": "rollback", "outcome": {"done": false, "why": "no earlier gate-approved champion to roll back to"}});
        assert_eq!(
            describe_event("action", "warden", &legacy),
            "rollback not possible: no earlier gate-approved champion to roll back to"
        );
        let resolved = json!({"incident": 4, "comment": "new campaign"});
        assert_eq!(
            describe_event("resolved", "token:rita", &resolved),
            "resolved by rita with incident 4: new campaign"
        );
    }

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
