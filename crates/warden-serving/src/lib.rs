/*!
Warden's serving stage: answering live traffic with the version an alias holds, and keeping what the
monitors read.

- [`scoring`]: routes by alias (champion, canary share, challenger in shadow, pinned versions), request
  checks through the registry's binding, scoring and explanations, late outcomes, live drift.
- [`ingest`]: decisions made outside Warden (versions registered as external) taken into the same log, over
  HTTP, from KServe's logger and from Kafka topics.
- `decision_log`: the decision log's group commit (a decision is answered only once committed) and the
  live window profiles it folds decisions into; [`protection`]: personal fields tokenised or encrypted before
  the log writes them.
- [`replicas`]: what replicas sharing a database publish to each other (window buckets).
- `metrics`: the Prometheus exposition of scoring, HTTP and monitor figures.
- [`kserve`]: KServe's payload logger read: its request and response CloudEvents parsed (pure, bounded) and
  joined by their shared id into decisions made outside Warden.

[`Serving`] wraps the registry's context and subscribes to its alias changes: routes are rebuilt before an
alias write returns.
*/

use std::ops::Deref;
use std::sync::Arc;

use warden_registry::{AliasChange, AliasSubscriber, Registry};

pub mod decision_log;
pub mod ingest;
pub mod kserve;
pub mod metrics;
pub mod protection;
pub mod replicas;
pub mod scoring;

pub use warden_registry::{Error, Result};

/// The registry's context with the scoring state.
pub struct Serving {
    registry: Registry,
    /// Routes, loaded versions, the decision log and the metrics.
    pub scoring: Arc<scoring::Scoring>,
}

impl Serving {
    /// Starts the decision log's writer and subscribes to the registry's alias changes.
    pub fn new(registry: Registry) -> Result<Serving> {
        let scoring = Arc::new(scoring::Scoring::start(registry.metadata.clone(), registry.personal_data_key.clone())?);
        registry.subscribe_aliases(scoring.clone());
        Ok(Serving { registry, scoring })
    }

    /// Builds the routes of every model with a production alias (at start-up): a version that cannot be
    /// served is found now, and readiness says so, rather than at the first request.
    pub async fn load_production_routes(&self) -> Result<()> {
        scoring::load_production_routes(self).await
    }

    /// The scoring service (its metrics, and the decision log flush clean shutdown needs).
    pub fn scoring(&self) -> &scoring::Scoring {
        &self.scoring
    }

    /// Readiness: the database answers, the decision log commits, and every model with a production alias
    /// can be served.
    pub async fn ready(&self) -> Result<()> {
        self.metadata.ping().await?;
        if let Some(cause) = self.scoring.log.failing() {
            return Err(Error::unavailable(format!("the decision log cannot commit: {cause}")));
        }
        // Probes try the unservable models again (at most once a second: `/readyz` needs no token), so
        // readiness returns by itself once the fault clears.
        if self.scoring.retry_due() {
            for model in self.scoring.unservable().into_keys() {
                self.scoring.routes_changed(self, &model).await;
            }
        }
        let unservable = self.scoring.unservable();
        if !unservable.is_empty() {
            let causes: Vec<String> =
                unservable.into_iter().map(|(model, cause)| format!("{model}: {cause}")).collect();
            return Err(Error::unavailable(format!("production models cannot be served: {}", causes.join("; "))));
        }
        Ok(())
    }
}

impl Deref for Serving {
    type Target = Registry;

    fn deref(&self) -> &Registry {
        &self.registry
    }
}

#[async_trait::async_trait]
impl AliasSubscriber for scoring::Scoring {
    async fn aliases_changed(&self, registry: &Registry, change: &AliasChange) {
        match change {
            AliasChange::Model(model) => self.routes_changed(registry, model).await,
            AliasChange::Elsewhere => {
                self.log.protections.forget_all();
                for model in self.routed_models() {
                    self.routes_changed(registry, &model).await;
                }
            }
        }
    }
}
