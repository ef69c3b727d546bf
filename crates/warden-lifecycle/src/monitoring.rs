/*!
Monitors: what is watched on each deployed model, evaluated on a schedule over the live windows, every
evaluation kept as a time series.

A model gets default monitors from its risk tier when a version is first promoted to a production alias;
they can be changed or disabled (`warden monitor set|disable`). Each evaluation reads the last
`window_seconds` of each loaded version's traffic (the 10-second buckets of the live profile), and below
`min_decisions` the result is `insufficient`, never an alert.

Kinds:
- `feature_drift`: PSI per feature against the version's reference (the statistics core's, through the
  reference deciles or categories); the value is the largest.
- `data_quality`: per feature, the largest of the missing-rate increase over the reference, the
  out-of-range share (numeric) and the unseen-category share (categorical); the value is the largest.
*/

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warden_store::metadata::{MonitorEvaluation, MonitorRow};

use crate::auth::{Permission, Principal};
use crate::registry::{RiskTier, audit, get_model};
use crate::scoring::{LiveDrift, LiveFeatureDrift};
use crate::{Error, Result, Warden};

/// The kinds of monitor.
pub const KINDS: [&str; 2] = ["feature_drift", "data_quality"];

/// A monitor's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Seconds of recent traffic evaluated (10 to 3600).
    pub window_seconds: i64,
    /// Below this many decisions in the window the result is `insufficient`.
    pub min_decisions: u64,
    /// Value at or above which the result is `warn`.
    pub warn: f64,
    /// Value at or above which the result is `alert`.
    pub alert: f64,
    /// Only these features (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// What a critical alert does besides notifying: `notify` (nothing more), `rollback` (the champion goes
    /// back to the previous gate-approved champion) or `stop_canary` (the canary alias is removed).
    #[serde(default = "default_action")]
    pub action: String,
}

fn default_action() -> String {
    "notify".into()
}

/// Actions a monitor can take.
pub const ACTIONS: [&str; 3] = ["notify", "rollback", "stop_canary"];

impl MonitorConfig {
    fn check(&self) -> Result<()> {
        if !ACTIONS.contains(&self.action.as_str()) {
            return Err(Error::invalid(format!("unknown action '{}' (expected {})", self.action, ACTIONS.join(", "))));
        }
        if !(10..=3600).contains(&self.window_seconds) {
            return Err(Error::invalid("window_seconds is 10 to 3600"));
        }
        if self.min_decisions == 0 {
            return Err(Error::invalid("min_decisions is at least 1"));
        }
        if !(self.warn.is_finite() && self.alert.is_finite() && 0.0 <= self.warn && self.warn <= self.alert) {
            return Err(Error::invalid("thresholds need 0 <= warn <= alert"));
        }
        Ok(())
    }
}

/// A monitor as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Monitor {
    /// Model name.
    pub model: String,
    /// Unique per model.
    pub name: String,
    /// `feature_drift` or `data_quality`.
    pub kind: String,
    /// Window, minimum sample and thresholds.
    pub config: MonitorConfig,
    /// Evaluated on the schedule when set.
    pub enabled: bool,
    /// Last change (µs) and by whom.
    pub updated_at: i64,
    /// Who changed it last.
    pub updated_by: String,
}

impl TryFrom<MonitorRow> for Monitor {
    type Error = Error;
    fn try_from(row: MonitorRow) -> Result<Self> {
        Ok(Monitor {
            config: serde_json::from_value(row.config)
                .map_err(|e| Error::Internal(format!("stored monitor config is corrupt: {e}")))?,
            model: row.model_name,
            name: row.name,
            kind: row.kind,
            enabled: row.enabled,
            updated_at: row.updated_at,
            updated_by: row.updated_by,
        })
    }
}

/// The monitors a model of this tier starts with: tighter, faster and on smaller samples the higher the risk.
pub fn defaults(tier: RiskTier) -> Vec<(&'static str, MonitorConfig)> {
    let (window_seconds, min_decisions, drift, quality) = match tier {
        RiskTier::High => (300, 200, (0.10, 0.20), (0.02, 0.05)),
        RiskTier::Medium => (600, 300, (0.10, 0.25), (0.05, 0.10)),
        RiskTier::Low => (1800, 500, (0.15, 0.30), (0.05, 0.10)),
    };
    let config = |(warn, alert): (f64, f64)| MonitorConfig {
        window_seconds,
        min_decisions,
        warn,
        alert,
        features: None,
        action: default_action(),
    };
    vec![("feature_drift", config(drift)), ("data_quality", config(quality))]
}

fn row(model: &str, name: &str, kind: &str, config: &MonitorConfig, enabled: bool, at: i64, by: &str) -> MonitorRow {
    MonitorRow {
        model_name: model.into(),
        name: name.into(),
        kind: kind.into(),
        config: serde_json::to_value(config).expect("a config serialises"),
        enabled,
        updated_at: at,
        updated_by: by.into(),
    }
}

/// Gives a model its tier's default monitors unless it has monitors already (a first deployment).
pub(crate) async fn ensure_defaults(warden: &Warden, caller: &Principal, model: &str) -> Result<()> {
    if !warden.metadata.monitors(Some(model)).await?.is_empty() {
        return Ok(());
    }
    let tier = get_model(warden, caller, model).await?.input.risk_tier;
    for (kind, config) in defaults(tier) {
        let monitor = row(model, kind, kind, &config, true, warden.now(), &caller.actor());
        let event = audit(warden, caller, "monitor.default", format!("model/{model}/monitor/{kind}"), json!(config));
        warden.metadata.put_monitor(monitor, Some(event)).await?;
    }
    Ok(())
}

/// A model's monitors.
pub async fn list(warden: &Warden, caller: &Principal, model: &str) -> Result<Vec<Monitor>> {
    caller.require(Permission::ReadRegistry)?;
    get_model(warden, caller, model).await?;
    warden.metadata.monitors(Some(model)).await?.into_iter().map(Monitor::try_from).collect()
}

/// What `set` changes; unset fields keep their value (or the tier default for a new monitor).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorChange {
    /// `feature_drift` or `data_quality` (a new monitor needs it unless its name is a kind).
    pub kind: Option<String>,
    /// Seconds of recent traffic.
    pub window_seconds: Option<i64>,
    /// Minimum decisions.
    pub min_decisions: Option<u64>,
    /// Warn threshold.
    pub warn: Option<f64>,
    /// Alert threshold.
    pub alert: Option<f64>,
    /// Only these features.
    pub features: Option<Vec<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// `notify`, `rollback` or `stop_canary`.
    pub action: Option<String>,
}

/// Creates or changes a monitor (validator, risk officer, admin); audited.
pub async fn set(
    warden: &Warden,
    caller: &Principal,
    model: &str,
    name: &str,
    change: MonitorChange,
) -> Result<Monitor> {
    caller.require(Permission::ManageMonitors)?;
    crate::registry::validate_name("monitor", name)?;
    let tier = get_model(warden, caller, model).await?.input.risk_tier;
    let existing = warden.metadata.monitors(Some(model)).await?.into_iter().find(|m| m.name == name);
    let (kind, mut config, enabled) = match existing {
        Some(m) => {
            let monitor = Monitor::try_from(m)?;
            (monitor.kind, monitor.config, monitor.enabled)
        }
        None => {
            let kind = change
                .kind
                .clone()
                .or_else(|| KINDS.contains(&name).then(|| name.to_owned()))
                .ok_or_else(|| Error::invalid(format!("a new monitor needs a kind ({})", KINDS.join(", "))))?;
            let config = defaults(tier).into_iter().find(|(k, _)| *k == kind).map(|(_, c)| c);
            (kind, config.unwrap_or_else(|| defaults(tier).remove(0).1), true)
        }
    };
    let kind = change.kind.clone().unwrap_or(kind);
    if !KINDS.contains(&kind.as_str()) {
        return Err(Error::invalid(format!("unknown monitor kind '{kind}' (expected {})", KINDS.join(", "))));
    }
    if let Some(v) = change.window_seconds {
        config.window_seconds = v;
    }
    if let Some(v) = change.min_decisions {
        config.min_decisions = v;
    }
    if let Some(v) = change.warn {
        config.warn = v;
    }
    if let Some(v) = change.alert {
        config.alert = v;
    }
    if let Some(v) = change.features.clone() {
        config.features = Some(v);
    }
    if let Some(v) = change.action.clone() {
        config.action = v;
    }
    config.check()?;
    let enabled = change.enabled.unwrap_or(enabled);
    let stored = row(model, name, &kind, &config, enabled, warden.now(), &caller.actor());
    let event = audit(
        warden,
        caller,
        if enabled { "monitor.set" } else { "monitor.disable" },
        format!("model/{model}/monitor/{name}"),
        json!({ "kind": kind, "config": config, "enabled": enabled }),
    );
    warden.metadata.put_monitor(stored.clone(), Some(event)).await?.try_into()
}

/// A result per feature and overall.
fn status(value: Option<f64>, decisions: u64, config: &MonitorConfig) -> &'static str {
    match value {
        _ if decisions < config.min_decisions => "insufficient",
        None => "insufficient",
        Some(v) if v >= config.alert => "alert",
        Some(v) if v >= config.warn => "warn",
        Some(_) => "ok",
    }
}

fn feature_value(kind: &str, f: &LiveFeatureDrift) -> Option<f64> {
    match kind {
        "feature_drift" => f.psi,
        _ => {
            let missing_increase = (f.missing_rate - f.reference_missing_rate).max(0.0);
            Some(
                [missing_increase, f.out_of_range_rate.unwrap_or(0.0), f.unseen_rate.unwrap_or(0.0)]
                    .into_iter()
                    .fold(0.0, f64::max),
            )
        }
    }
}

/// Evaluates one monitor on one version's window.
fn evaluate(monitor: &Monitor, drift: &LiveDrift, at: i64) -> MonitorEvaluation {
    let mut per_feature = BTreeMap::new();
    let mut value: Option<f64> = None;
    for (name, figures) in &drift.features {
        if monitor.config.features.as_ref().is_some_and(|only| !only.contains(name)) {
            continue;
        }
        let v = feature_value(&monitor.kind, figures);
        if let Some(v) = v {
            value = Some(value.map_or(v, |m: f64| m.max(v)));
        }
        per_feature.insert(
            name.clone(),
            json!({ "value": v, "status": status(v, drift.decisions, &monitor.config), "figures": figures }),
        );
    }
    MonitorEvaluation {
        model_name: monitor.model.clone(),
        monitor: monitor.name.clone(),
        at,
        version: drift.version,
        window_start: drift.since,
        decisions: drift.decisions as i64,
        status: status(value, drift.decisions, &monitor.config).into(),
        value: if drift.decisions >= monitor.config.min_decisions { value } else { None },
        details: json!({ "features": per_feature }),
    }
}

/// Evaluates every enabled monitor on each loaded version of its model, and stores the results.
pub async fn evaluate_all(warden: &Warden) -> Result<Vec<MonitorEvaluation>> {
    let monitors: Vec<Monitor> = warden
        .metadata
        .monitors(None)
        .await?
        .into_iter()
        .filter(|m| m.enabled)
        .map(Monitor::try_from)
        .collect::<Result<_>>()?;
    if monitors.is_empty() {
        return Ok(Vec::new());
    }
    // Every decision acknowledged so far is in the windows.
    warden.scoring.log.flush().await?;
    let at = warden.now();
    let mut evaluations = Vec::new();
    for monitor in &monitors {
        let since = at - monitor.config.window_seconds * 1_000_000;
        for drift in crate::scoring::loaded_versions_drift(warden, &monitor.model, since) {
            evaluations.push(evaluate(monitor, &drift, at));
        }
    }
    warden.metadata.insert_monitor_evaluations(&evaluations).await?;
    for e in &evaluations {
        warden.scoring.metrics.monitor(&e.model_name, &e.monitor, e.version, &e.status, e.value);
    }
    crate::alerts::apply(warden, &monitors, &evaluations).await?;
    // Open alerts per model and severity, zero for the ones that closed.
    let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for m in &monitors {
        for severity in ["warning", "critical"] {
            counts.insert((m.model.clone(), severity.to_owned()), 0);
        }
    }
    for alert in warden.metadata.alerts(None, Some("open"), i64::MAX).await? {
        *counts.entry((alert.model_name, alert.severity)).or_default() += 1;
    }
    warden.scoring.metrics.open_alerts(&counts);
    Ok(evaluations)
}

/// Runs `evaluate_all` every `every` until the process ends; a failed round is logged and the next one runs.
pub fn spawn_evaluator(warden: Arc<Warden>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = evaluate_all(&warden).await {
                tracing::error!(error = %err, "monitor evaluation failed");
            }
        }
    })
}

/// A model's evaluations (of one monitor when given), oldest first, the newest `limit`.
pub async fn history(
    warden: &Warden,
    caller: &Principal,
    model: &str,
    monitor: Option<&str>,
    limit: i64,
) -> Result<Vec<Value>> {
    caller.require(Permission::ReadDecisions)?;
    get_model(warden, caller, model).await?;
    Ok(warden
        .metadata
        .monitor_evaluations(model, monitor, limit.clamp(1, 100_000))
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "monitor": e.monitor, "at": e.at, "version": e.version, "window_start": e.window_start,
                "decisions": e.decisions, "status": e.status, "value": e.value, "details": e.details,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drift(decisions: u64, psi: f64, missing: f64) -> LiveDrift {
        let figures = LiveFeatureDrift {
            psi: Some(psi),
            missing_rate: missing,
            reference_missing_rate: 0.01,
            out_of_range_rate: Some(0.0),
            unseen_rate: None,
        };
        LiveDrift { version: 1, since: 0, decisions, features: BTreeMap::from([("age".to_owned(), figures)]) }
    }

    fn monitor(kind: &str) -> Monitor {
        Monitor {
            model: "m".into(),
            name: kind.into(),
            kind: kind.into(),
            config: MonitorConfig {
                window_seconds: 60,
                min_decisions: 100,
                warn: 0.1,
                alert: 0.25,
                features: None,
                action: default_action(),
            },
            enabled: true,
            updated_at: 0,
            updated_by: "t".into(),
        }
    }

    #[test]
    fn statuses_follow_the_bands_and_small_samples_are_insufficient_not_alerts() {
        let drift_monitor = monitor("feature_drift");
        assert_eq!(evaluate(&drift_monitor, &drift(500, 0.05, 0.0), 1).status, "ok");
        assert_eq!(evaluate(&drift_monitor, &drift(500, 0.1, 0.0), 1).status, "warn");
        assert_eq!(evaluate(&drift_monitor, &drift(500, 0.4, 0.0), 1).status, "alert");
        let small = evaluate(&drift_monitor, &drift(99, 0.9, 0.0), 1);
        assert_eq!((small.status.as_str(), small.value), ("insufficient", None));
        // Data quality: the missing-rate increase over the reference.
        let quality = monitor("data_quality");
        let e = evaluate(&quality, &drift(500, 0.0, 0.31), 1);
        assert_eq!(e.status, "alert");
        assert!((e.value.unwrap() - 0.30).abs() < 1e-12);
    }

    #[test]
    fn defaults_are_tighter_for_higher_risk_and_bad_settings_are_refused() {
        let (high, low) = (defaults(RiskTier::High), defaults(RiskTier::Low));
        assert!(high[0].1.window_seconds < low[0].1.window_seconds);
        assert!(high[0].1.alert < low[0].1.alert);
        let mut config = high[0].1.clone();
        config.warn = 0.5;
        assert!(config.check().is_err(), "warn above alert");
        config.warn = 0.1;
        config.window_seconds = 5;
        assert!(config.check().is_err());
    }
}
