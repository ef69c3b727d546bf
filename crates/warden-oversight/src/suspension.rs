//! The stop switch (EU AI Act Art. 14(4)(e)): a risk officer or an administrator suspends a model, with a
//! reason and a fallback, and every replica stops answering production traffic with the model's versions and
//! answers the fallback instead — `decline` (the champion's adverse decision), `refer` (to manual review), or a
//! named version the gate let into the champion alias before (never an override's) — marked `fallback` in the
//! decision log. Resuming puts the aliases back in charge.
//!
//! Suspensions are append-only, each an audited write carrying it. This replica rebuilds the model's routes
//! before the call returns; the others learn it through the alias generation they watch every 250 ms. A monitor
//! whose action is `suspend` suspends the model on a critical alert, with `refer` as the fallback (a person
//! decides every request until someone resumes it).

use serde::Serialize;
use serde_json::json;
use warden_core::FallbackKind;
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::{self, get_model};
use warden_registry::text::{self, Lines};
use warden_store::metadata::SuspensionRow;

use crate::{Error, Oversight, Result};

/// A model's stop-switch state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspension {
    pub model: String,
    /// Whether production traffic is answered by the fallback.
    pub suspended: bool,
    /// The latest suspension or resumption: who, when (µs), why.
    pub by: Option<String>,
    pub at: Option<i64>,
    pub reason: Option<String>,
    /// While suspended: the fallback, and its version for `version`.
    pub fallback: Option<FallbackKind>,
    pub fallback_version: Option<i64>,
}

impl Suspension {
    fn of(model: &str, latest: Option<SuspensionRow>) -> Result<Suspension> {
        let Some(row) = latest else {
            return Ok(Suspension {
                model: model.to_owned(),
                suspended: false,
                by: None,
                at: None,
                reason: None,
                fallback: None,
                fallback_version: None,
            });
        };
        let fallback = row
            .fallback
            .as_deref()
            .map(str::parse::<FallbackKind>)
            .transpose()
            .map_err(|e| Error::Inconsistent(format!("stored suspension {}: {e}", row.id)))?;
        Ok(Suspension {
            model: model.to_owned(),
            suspended: row.action == "suspend",
            by: Some(row.actor),
            at: Some(row.at),
            reason: Some(row.reason),
            fallback,
            fallback_version: row.fallback_version,
        })
    }
}

/// The model's stop-switch state.
pub async fn state(warden: &Oversight, caller: &Principal, model: &str) -> Result<Suspension> {
    get_model(warden, caller, model).await?;
    Suspension::of(model, warden.metadata.suspensions(model).await?.pop())
}

/// Suspends `model`: its fallback answers production traffic on every replica until it is resumed.
pub async fn suspend(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    reason: &str,
    fallback: FallbackKind,
    fallback_version: Option<i64>,
) -> Result<Suspension> {
    caller.require(Permission::SuspendModels)?;
    check_reason(reason)?;
    let found = get_model(warden, &Principal::system(), model).await?;
    if found.retired() {
        return Err(Error::Conflict(format!("model '{model}' is retired: it serves nothing to suspend")));
    }
    let mut history = warden.metadata.suspensions(model).await?;
    let latest = history.pop();
    if let Some(latest) = latest.as_ref().filter(|l| l.action == "suspend") {
        return Err(Error::Conflict(format!(
            "model '{model}' is suspended already, by {} at {} ({}): resume it first to change the fallback",
            latest.actor,
            warden_core::Timestamp::from(latest.at).whole_seconds(),
            latest.reason
        )));
    }
    let champions = warden.metadata.alias_history(model, Some("champion")).await?;
    let Some(champion) = champions.last().and_then(|a| a.version) else {
        return Err(Error::Conflict(format!("model '{model}' has no champion: nothing answers its traffic to stop")));
    };
    match (fallback, fallback_version) {
        (FallbackKind::Version, None) => {
            return Err(Error::invalid("fallback_version: a version fallback names the version that answers"));
        }
        (FallbackKind::Decline | FallbackKind::Refer, Some(_)) => {
            return Err(Error::invalid(format!("fallback_version: a '{fallback}' fallback scores with no version")));
        }
        (FallbackKind::Version, Some(number)) if number == champion => {
            return Err(Error::invalid(format!(
                "fallback_version: version {number} is the champion being suspended; name an earlier one"
            )));
        }
        (FallbackKind::Version, Some(number)) => {
            let gated = champions.iter().any(|a| a.version == Some(number) && a.decision_id.is_some() && !a.overridden);
            let version = registry::get_version(warden, &Principal::system(), model, &number.to_string()).await?;
            if version.format == warden_registry::artifact_format::ArtifactFormat::External {
                return Err(Error::invalid(format!(
                    "fallback_version: version {number} is served outside Warden, which has no model to answer with"
                )));
            }
            if !gated {
                return Err(Error::invalid(format!(
                    "fallback_version: version {number} was never let into the champion alias by the gate (an \
                     override does not count); a fallback answers customers, so it must have passed the gate"
                )));
            }
            // The fallback answers the champion's callers: it must give the decisions they expect.
            let serving_champion =
                registry::get_version(warden, &Principal::system(), model, &champion.to_string()).await?.serving;
            if (version.serving.task, &version.serving.classes) != (serving_champion.task, &serving_champion.classes) {
                return Err(Error::invalid(format!(
                    "fallback_version: version {number} is a {} with classes {:?}, and the champion a {} with classes \
                     {:?}: a fallback answers with the champion's kind of decision",
                    version.serving.task, version.serving.classes, serving_champion.task, serving_champion.classes
                )));
            }
        }
        // A fixed decline is a binary classifier's decision; a multiclass classifier's callers expect a class.
        (FallbackKind::Decline, None) => {
            let serving_champion =
                registry::get_version(warden, &Principal::system(), model, &champion.to_string()).await?.serving;
            if serving_champion.task.is_multiclass() {
                return Err(Error::invalid(
                    "fallback: a multiclass classifier decides classes, not declines; fall back to 'refer' or to a \
                     version",
                ));
            }
        }
        _ => {}
    }
    let row = SuspensionRow {
        id: 0,
        model_name: model.to_owned(),
        at: warden.now(),
        actor: caller.actor(),
        action: "suspend".into(),
        reason: reason.to_owned(),
        fallback: Some(fallback.as_str().to_owned()),
        fallback_version,
    };
    let payload = json!({ "champion": champion });
    write(warden, caller, "model.suspend", row, latest.map(|l| l.id), payload).await
}

/// Resumes a suspended model: its aliases answer again.
pub async fn resume(warden: &Oversight, caller: &Principal, model: &str, reason: &str) -> Result<Suspension> {
    caller.require(Permission::SuspendModels)?;
    check_reason(reason)?;
    get_model(warden, &Principal::system(), model).await?;
    let latest = warden.metadata.suspensions(model).await?.pop();
    let Some(latest) = latest.filter(|l| l.action == "suspend") else {
        return Err(Error::Conflict(format!("model '{model}' is not suspended")));
    };
    let row = SuspensionRow {
        id: 0,
        model_name: model.to_owned(),
        at: warden.now(),
        actor: caller.actor(),
        action: "resume".into(),
        reason: reason.to_owned(),
        fallback: None,
        fallback_version: None,
    };
    let payload = json!({ "suspended_by": latest.actor, "suspended_at": latest.at });
    write(warden, caller, "model.resume", row, Some(latest.id), payload).await
}

fn check_reason(reason: &str) -> Result<()> {
    text::check("reason", reason, text::LONG, Lines::Many)?;
    if reason.trim().is_empty() {
        return Err(Error::invalid("reason: suspending or resuming a model says why"));
    }
    Ok(())
}

async fn write(
    warden: &Oversight,
    caller: &Principal,
    action: &str,
    row: SuspensionRow,
    latest_id: Option<i64>,
    payload: serde_json::Value,
) -> Result<Suspension> {
    let model = row.model_name.clone();
    let event = registry::audit(warden, caller, action, format!("model/{model}"), payload);
    let stored = warden.metadata.append_suspension(&row, latest_id, event).await?;
    // This replica switches before the call returns; the others within their alias watch's period.
    warden.publish_alias_change(warden_registry::AliasChange::Model(model.clone())).await;
    Suspension::of(&model, Some(stored))
}
