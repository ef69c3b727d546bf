//! Scheduled work that must run once among replicas sharing a database is guarded by a lease: the replica
//! holding it runs the work, renewing it each round; a lease lapses after a few missed rounds so another
//! replica takes over.

use std::time::Duration;

use crate::Registry;

/// This process's name among replicas: the host name (the pod's, on Kubernetes), process id and a random
/// suffix, so a restarted replica never takes over its predecessor's published windows.
pub fn replica_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "warden".into());
    format!("{host}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// Whether this replica holds (or has just taken) the lease of scheduled work `name`, for `hold`. A database
/// error counts as not holding it: the work is skipped this round rather than possibly run twice.
pub async fn holds_lease(registry: &Registry, name: &str, hold: Duration) -> bool {
    let now = registry.now();
    let until = now.saturating_add(hold.as_micros() as i64);
    match registry.metadata.try_lease(name, registry.replica(), now, until).await {
        Ok(held) => held,
        Err(err) => {
            tracing::warn!(lease = name, error = %err, "cannot take the lease; skipping this round");
            false
        }
    }
}

/// How long a lease of work done every `every` is held: three rounds, so one slow round does not hand it
/// over, and a dead replica's work resumes elsewhere within three rounds.
pub fn lease_hold(every: Duration) -> Duration {
    (every * 3).max(Duration::from_secs(5))
}
