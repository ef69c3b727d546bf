/*!
Warden's oversight stage: what the second line of defence does with models and what the monitors see.

- [`validation`], [`scenarios`]: validation reports on held-out data and stress scenarios, scored through
  the serving path's own checks.
- [`governance`]: policy bundles, approvals, and the promotion gate every production alias passes.
- [`findings`]: findings, limitations and policy exceptions against models, which the gate reads.
  [`attestations`]: the owners' periodic attestations, opened on schedule and reviewed by the second line.
- [`monitoring`]: monitor configuration and evaluation (drift, data quality, performance, fairness, money at
  risk, integrity via `integrity`), with learned bands it caches itself ([`monitoring::LearnedCache`]).
- [`alerts`]: alerts and incidents from evaluations, and the automatic actions they ask for. [`clocks`]:
  incidents classified under DORA, the AI Act or an internal severity, the reports each owes and when;
  [`dora`]: a DORA report's content in the ESAs' template fields, filled from what Warden holds.
- [`round`]: a monitor round, the one place where evaluation, alerts and actions meet, in that order.
- [`vouching`]: one `monitor.hour` ledger entry per model an hour, vouching for the evaluations stored.
- [`reviews`]: people's reviews of single decisions (confirm, override, reverse), which the `override_rate`
  monitor watches and retraining may take as labels.
- [`suspension`]: the stop switch: a suspended model's fallback answers on every replica.
- [`retention`]: each model's data policy (retention, personal fields, subject key), the purges the rounds
  make under it, and erasing one person's data.
- [`notifications`]: the webhook outbox. [`routing`]: events routed to receivers (signed webhooks, Slack,
  PagerDuty, Jira, ServiceNow) by the rules of `serve --notification-routes`. [`retraining`]: retraining jobs and schedules.
- [`inventory`]: the organisation's inventory fields (a JSON Schema) and each model's materiality tier,
  computed from them by the policy bundle's tiering rules or overridden with a reason.
- [`overview`]: the portfolio overview. [`retirement`]: retiring a model (four eyes for the high tier).
  [`revalidation`]: each model's revalidation schedule, which its `revalidation` monitor watches.
*/

use std::ops::Deref;

use warden_serving::Serving;

pub mod alerts;
pub mod attestations;
pub mod clocks;
pub mod dora;
pub mod findings;
pub mod governance;
mod integrity;
pub mod inventory;
pub mod monitoring;
pub mod notifications;
pub mod overview;
pub mod retention;
pub mod retirement;
pub mod retraining;
pub mod revalidation;
pub mod reviews;
pub mod round;
pub mod routing;
pub mod scenarios;
pub mod suspension;
pub mod validation;
pub mod vouching;

pub use warden_registry::{Error, Result};

/// The serving context with oversight's own caches.
pub struct Oversight {
    serving: Serving,
    /// The gate's compiled policy bundle.
    pub(crate) governance: governance::GateCache,
    /// What monitors learned from loaded versions' reference data.
    pub(crate) learned: monitoring::LearnedCache,
}

impl Oversight {
    /// Wraps the serving context.
    pub fn new(serving: Serving) -> Oversight {
        Oversight { serving, governance: Default::default(), learned: Default::default() }
    }

    /// Installs the default policy bundle when none is in force (first start).
    pub async fn seed_default_bundle(&self) -> Result<()> {
        governance::seed_default_bundle(self).await
    }
}

impl Deref for Oversight {
    type Target = Serving;

    fn deref(&self) -> &Serving {
        &self.serving
    }
}
