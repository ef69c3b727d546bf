//! A monitor round: evaluate every enabled monitor and store the evaluations, turn them into alerts and
//! incidents, then take the automatic actions critical alerts ask for (rollback, stop the canary, retrain).
//! Before it, the round's housekeeping: attestations falling due, report reminders, and purges of data past
//! its retention.
//! Each step is its own module's; only the round calls them in this order, so an evaluation never acts.

use std::collections::BTreeMap;

use warden_store::metadata::MonitorEvaluation;

use crate::monitoring::{self, Round};
use crate::{Oversight, Result, alerts};

/// Runs one round and returns its evaluations.
pub async fn run(warden: &Oversight, round: Round) -> Result<Vec<MonitorEvaluation>> {
    // Attestations falling due open with the round (a failure is logged: monitoring goes on).
    if let Err(error) = crate::attestations::open_due(warden, warden.now()).await {
        tracing::error!(%error, "attestations could not be opened this round");
    }
    // Reports to authorities falling due, or lapsed, are reminded of with the round, once each.
    if let Err(error) = crate::clocks::remind(warden, warden.now()).await {
        tracing::error!(%error, "incident report reminders could not be sent this round");
    }
    // Data past its models' retention goes, a bounded amount a round.
    if let Err(error) = crate::retention::enforce(warden, warden.now()).await {
        tracing::error!(%error, "data past its retention could not be purged this round");
    }
    let (monitors, evaluations) = monitoring::evaluate_all(warden, round).await?;
    if monitors.is_empty() {
        return Ok(evaluations);
    }
    let actions = alerts::apply(warden, &monitors, &evaluations).await?;
    for action in &actions {
        alerts::act(warden, action).await?;
    }
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
