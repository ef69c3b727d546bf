//! Retiring a model: it stops serving (scoring answers `410 Gone` naming the retirement, a named version
//! included), ingesting decisions made elsewhere, and taking new versions or aliases; every record it has stays,
//! and its evidence bundle can still be exported. A low or medium tier model is retired by one risk officer or
//! administrator; a high tier one needs two different people: the first asks, the second confirms. So does a
//! model whose tier the caller lowered from high (an override, or fields they wrote), so that lowering a tier
//! is never a way around the second person. Each step is
//! an audited write; the aliases the model still had are removed, each with its own event.

use serde_json::json;
use warden_core::RiskTier;
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::{self, Model};
use warden_registry::text::{self, Lines};

use crate::{Error, Oversight, Result};

/// Where a retirement stands after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {
    /// Asked for: a high tier model waits for a second person.
    Requested,
    /// Done.
    Retired,
}

/// Retires `model` for `reason`, or (high tier) asks for its retirement, or confirms another person's request.
pub async fn retire(warden: &Oversight, caller: &Principal, model: &str, reason: &str) -> Result<(Retired, Model)> {
    caller.require(Permission::RetireModels)?;
    text::check("reason", reason, text::LONG, Lines::Many)?;
    if reason.trim().is_empty() {
        return Err(Error::invalid("reason: a retirement needs a reason"));
    }
    // Read once: the model and its inventory record (who last lowered its tier).
    caller.require(Permission::ReadRegistry)?;
    let row = warden.metadata.get_model(model).await?;
    let row = row.ok_or_else(|| Error::NotFound(format!("model '{model}' not found")))?;
    let inventory = row.inventory.clone();
    let found = Model::try_from(row)?;
    if let (Some(by), Some(at)) = (&found.retirement.retired_by, found.retirement.retired_at) {
        return Err(Error::Conflict(format!(
            "model '{model}' was retired by {by} at {}",
            warden_core::Timestamp::from(at).whole_seconds()
        )));
    }
    let now = warden.now();
    let actor = caller.actor();
    let pending = found.retirement.requested_by.clone();
    // Whoever lowered a high tier does not retire the model alone either.
    let lowered_by_caller =
        inventory.tier_lowered_from.as_deref() == Some("high") && inventory.tier_set_by.as_deref() == Some(&actor);
    if (found.input.risk_tier == RiskTier::High || lowered_by_caller) && pending.is_none() {
        let event = registry::audit(
            warden,
            caller,
            "model.retire_request",
            format!("model/{model}"),
            json!({ "reason": reason, "risk_tier": found.input.risk_tier.as_str(),
                "lowered_from_high_by_requester": lowered_by_caller }),
        );
        let row = warden.metadata.request_retirement(model, &actor, now, reason, event).await?;
        return Ok((Retired::Requested, Model::try_from(row)?));
    }
    if let Some(by) = &pending
        && *by == actor
    {
        return Err(Error::Forbidden(format!(
            "you asked for '{model}''s retirement: a high tier model is retired by a second person"
        )));
    }
    let event = registry::audit(
        warden,
        caller,
        "model.retire",
        format!("model/{model}"),
        json!({ "reason": reason, "requested_by": pending, "risk_tier": found.input.risk_tier.as_str() }),
    );
    // The model and its aliases in one transaction; serving answers 410 from here on (its routes know).
    let row = warden.metadata.retire_model(model, &actor, now, reason, event).await?;
    warden.publish_alias_change(warden_registry::AliasChange::Model(model.to_owned())).await;
    Ok((Retired::Retired, Model::try_from(row)?))
}
