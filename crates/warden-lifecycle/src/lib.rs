/*!
Warden assembled: [`Warden::open`] opens the stores and stacks the stages, each wrapping the one below and
reaching it through `Deref`:

```text
warden_registry::Registry  →  warden_serving::Serving  →  warden_oversight::Oversight  →  warden_proof::Proof  →  Warden
 stores, clock, config,        routes, scoring,             validation, gates, monitors,    ledger, evidence
 tokens, registry              decision log, windows        alerts, retraining
```

A service takes the lowest stage it needs, so `&Warden` works wherever a stage is asked for: callers import
each service from its stage's crate. The [`scheduler`] runs all background work; [`streams`] consumes Kafka
topics into the decision log.
*/

use std::ops::Deref;
use std::path::PathBuf;

use warden_oversight::Oversight;
use warden_proof::Proof;
use warden_registry::{Clock, Config, Registry, Result, auth, system_clock};
use warden_serving::Serving;

pub mod scheduler;
pub mod streams;

/// The running service: every stage, from the registry up to proof. Cheap to share behind an `Arc`.
pub struct Warden {
    proof: Proof,
}

/// What happened when Warden opened its data directory.
#[derive(Debug, Default)]
pub struct Startup {
    /// Set when a new admin token was written to this file (first start).
    pub admin_token_file: Option<PathBuf>,
    /// Blobs deleted because no version refers to them (left by a crash mid-registration).
    pub orphan_blobs_removed: usize,
}

impl Warden {
    /// Opens the data directory: applies migrations, clears interrupted uploads, removes orphan blobs and
    /// creates the admin token on first start.
    pub async fn open(config: Config) -> Result<(Self, Startup)> {
        Self::open_with_clock(config, system_clock()).await
    }

    /// Like [`Warden::open`] with a given clock.
    pub async fn open_with_clock(config: Config, clock: Clock) -> Result<(Self, Startup)> {
        let registry = Registry::open(config, clock).await?;
        let serving = Serving::new(registry)?;
        let oversight = Oversight::new(serving);
        let warden = Warden { proof: Proof::new(oversight)? };
        // Audit events written before the ledger existed get their entries, in order, before any new write.
        warden.metadata.ledger_backfill().await?;
        let orphan_blobs_removed = warden.tidy_blobs().await?;
        let admin_token_file = auth::bootstrap_admin_token(&warden).await?;
        warden.seed_default_bundle().await?;
        warden.load_production_routes().await?;
        Ok((warden, Startup { admin_token_file, orphan_blobs_removed }))
    }
}

impl Deref for Warden {
    type Target = Proof;

    fn deref(&self) -> &Proof {
        &self.proof
    }
}
