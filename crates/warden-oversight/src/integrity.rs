/*!
Runtime integrity: what the serving process runs, checked against the approved state in the store.

At most every `window_seconds` the `integrity` monitor re-hashes every loaded artifact (the bytes in
memory, and the stored blob), compares each loaded version's serving configuration and schema with the
stored version, the running routes with the current alias assignments (and those with how they were made:
production aliases move only through the gate, an override or an automatic action), and the compiled
policy bundle with the stored one; it also raises decisions made outside Warden by a version no production
alias held (`unapproved_version_serving`) and, for a model fed by Kafka, brokers that do not answer or a lag
above the alert level (`stream_lag`). Any deviation is a critical result, so it opens an incident.
*/

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::Digest;
use warden_store::metadata::MonitorEvaluation;

use crate::Result;
use crate::monitoring::Monitor;
use crate::{Error, Oversight};
use warden_registry::registry::{PRODUCTION_ALIASES, Version};
use warden_serving::scoring::{RouteNumbers, loaded_versions, running_routes};

/// Checks one model; one evaluation per loaded version (model-wide checks are in each).
pub(crate) async fn evaluate(warden: &Oversight, monitor: &Monitor, at: i64) -> Result<Vec<MonitorEvaluation>> {
    let model = &monitor.model;
    let mut shared = serde_json::Map::new();
    shared.insert("routes".into(), check(routes_deviation(warden, model).await?));
    shared.insert("policy_bundle".into(), check(crate::governance::bundle_deviation(warden).await?));
    // A production version this process cannot serve (artifact missing or corrupt) is a deviation too.
    shared.insert("serving".into(), check(warden.scoring.unservable().remove(model)));
    // Streams this replica consumes for the model: brokers that do not answer, or a lag above its alert level.
    let streams: Vec<_> = warden.scoring.streams().into_iter().filter(|s| &s.model == model).collect();
    if !streams.is_empty() {
        let deviations: Vec<String> = streams.iter().filter_map(|s| s.deviation()).collect();
        shared.insert(STREAM_LAG.into(), check((!deviations.is_empty()).then(|| deviations.join("; "))));
    }
    // Every version with unapproved decisions is checked, loaded or not: a version no alias serves is
    // unloaded here, and is exactly the one an external platform must not be answering with.
    let (mut unapproved, checked_through) = unapproved_serving(warden, monitor).await?;
    let unapproved_check = |found: Option<Value>| {
        let mut check = found.unwrap_or_else(|| json!({"value": 0.0, "status": "ok"}));
        check["checked_through"] = json!(checked_through);
        check
    };
    let loaded = loaded_versions(warden, model);
    let mut evaluations = Vec::new();
    for version in &loaded {
        let mut checks = shared.clone();
        let memory = hex::encode(sha2::Sha256::digest(&version.artifact));
        let expected = &version.version.artifact_sha256;
        let artifact = if memory != *expected {
            Some(format!("the loaded artifact hashes to {memory}, the approved version's is {expected}"))
        } else {
            match warden.artifacts().read(expected).await {
                Ok(bytes) => {
                    let stored = hex::encode(sha2::Sha256::digest(&bytes));
                    (stored != *expected).then(|| format!("the stored artifact hashes to {stored}, not {expected}"))
                }
                Err(err) => Some(format!("the stored artifact cannot be read: {err}")),
            }
        };
        checks.insert("artifact".into(), check(artifact));
        checks.insert("serving_config".into(), check(config_deviation(warden, &version.version).await?));
        let number = version.version.number;
        checks.insert(UNAPPROVED_SERVING.into(), unapproved_check(unapproved.remove(&number)));
        evaluations.push(evaluation(monitor, number, at, checks));
    }
    if loaded.is_empty() {
        let mut checks = shared;
        checks.insert(UNAPPROVED_SERVING.into(), unapproved_check(None));
        evaluations.push(evaluation(monitor, 0, at, checks));
    }
    // A version this process does not run: its evaluation carries the breach alone.
    for (number, breach) in unapproved {
        let mut checks = serde_json::Map::new();
        checks.insert(UNAPPROVED_SERVING.into(), unapproved_check(Some(breach)));
        evaluations.push(evaluation(monitor, number, at, checks));
    }
    Ok(evaluations)
}

/// The check (and alert) of the Kafka streams feeding a model.
pub(crate) const STREAM_LAG: &str = "stream_lag";

/// The check (and alert) of decisions made outside Warden by a version no production alias held then.
pub(crate) const UNAPPROVED_SERVING: &str = "unapproved_version_serving";

/// Unapproved decisions of the model logged since this check last looked (every result keeps the last
/// decision id it saw, `checked_through`), per version: any is a critical deviation. Also the new
/// `checked_through`.
async fn unapproved_serving(warden: &Oversight, monitor: &Monitor) -> Result<(BTreeMap<i64, Value>, i64)> {
    let previous = warden.metadata.monitor_evaluations(&monitor.model, Some(&monitor.name), 200).await?;
    let after = previous
        .iter()
        .filter_map(|e| e.details["features"][UNAPPROVED_SERVING]["checked_through"].as_i64())
        .max()
        .unwrap_or(0);
    let (versions, through) = warden.metadata.unapproved_decisions(&monitor.model, after).await?;
    let breaches = versions
        .into_iter()
        .map(|v| {
            let reason = format!(
                "{} of version {} made outside Warden while no production alias held it, or while the model was \
                 suspended (the first at {}): it serves without having passed the gate, or against the stop switch",
                warden_core::words::counted(v.count as u64, "decision", "decisions"),
                v.version,
                warden_core::Timestamp::from(v.first).whole_seconds()
            );
            (v.version, json!({"value": v.count as f64, "status": "alert", "reason": reason}))
        })
        .collect();
    Ok((breaches, through))
}

fn check(deviation: Option<String>) -> Value {
    match deviation {
        Some(reason) => json!({"value": 1.0, "status": "alert", "reason": reason}),
        None => json!({"value": 0.0, "status": "ok"}),
    }
}

fn evaluation(monitor: &Monitor, version: i64, at: i64, checks: serde_json::Map<String, Value>) -> MonitorEvaluation {
    let deviations = checks.values().filter(|c| c["status"] == "alert").count();
    MonitorEvaluation {
        model_name: monitor.model.clone(),
        monitor: monitor.name.clone(),
        at,
        version,
        window_start: at,
        decisions: 0,
        status: if deviations as f64 >= monitor.config.alert { "alert" } else { "ok" }.into(),
        value: Some(deviations as f64),
        details: json!({ "features": checks }),
    }
}

/// The stored version's serving configuration and schema against the loaded ones.
async fn config_deviation(warden: &Oversight, loaded: &Version) -> Result<Option<String>> {
    let Some(row) = warden.metadata.get_version(&loaded.model, loaded.number).await? else {
        return Ok(Some(format!("version {} is running but missing from the store", loaded.number)));
    };
    let stored: Version = row.try_into()?;
    let differs =
        |name: &str, a: Value, b: Value| (a != b).then(|| format!("running {name} {a} differs from stored {b}"));
    let serving = serde_json::to_value(&loaded.serving).map_err(|e| Error::json("encoding loaded serving", e))?;
    let stored_serving =
        serde_json::to_value(&stored.serving).map_err(|e| Error::json("encoding stored serving", e))?;
    let schema =
        serde_json::to_value(&loaded.feature_schema).map_err(|e| Error::json("encoding loaded feature schema", e))?;
    let stored_schema =
        serde_json::to_value(&stored.feature_schema).map_err(|e| Error::json("encoding stored feature schema", e))?;
    Ok(differs("serving configuration", serving, stored_serving)
        .or_else(|| differs("feature schema", schema, stored_schema))
        .or_else(|| {
            (loaded.artifact_sha256 != stored.artifact_sha256).then(|| {
                format!(
                    "running artifact {} is not the stored version's {}",
                    loaded.artifact_sha256, stored.artifact_sha256
                )
            })
        }))
}

/// The running routes against the current alias assignments, and how those were made.
async fn routes_deviation(warden: &Oversight, model: &str) -> Result<Option<String>> {
    let aliases = warden.metadata.current_aliases(model).await?;
    for a in &aliases {
        let approved = a.decision_id.is_some() || a.assigned_by == warden_registry::auth::Principal::system().actor();
        if PRODUCTION_ALIASES.contains(&a.alias.as_str()) && a.version.is_some() && !approved {
            return Ok(Some(format!(
                "alias {} points at version {} without a gate decision (set by {} at {})",
                a.alias,
                a.version.unwrap_or_default(),
                a.assigned_by,
                a.assigned_at
            )));
        }
    }
    let stored = |aliases: &[warden_store::metadata::AliasAssignment]| -> RouteNumbers {
        let find = |name: &str| aliases.iter().find(|a| a.alias == name);
        (
            find("champion").and_then(|a| a.version),
            find("canary").and_then(|a| a.version.map(|v| (v, a.traffic.unwrap_or(0.0)))),
            find("challenger").and_then(|a| a.version),
        )
    };
    let Some(running) = running_routes(warden, model) else { return Ok(None) };
    if running == stored(&aliases) {
        return Ok(None);
    }
    // An alias move commits, then rebuilds the routes: look again before calling it a deviation.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let aliases = warden.metadata.current_aliases(model).await?;
    let expected = stored(&aliases);
    Ok(running_routes(warden, model)
        .filter(|running| *running != expected)
        .map(|running| format!("running routes {running:?} differ from the assigned aliases {expected:?}")))
}
