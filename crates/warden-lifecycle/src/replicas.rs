//! Several `warden serve` replicas sharing one database (PostgreSQL).
//!
//! Replicas keep no state of their own that another needs, except what this module publishes or watches:
//! - **Scheduled work runs once**: monitor evaluation, checkpoints, webhook delivery and retraining schedules
//!   each run only on the replica holding their lease (`try_lease`, renewed every round, lapsing after a few
//!   missed rounds so another replica takes over).
//! - **Live windows are shared**: each replica publishes its window profiles' changed 10-second buckets
//!   every second, and the monitors merge the other replicas' buckets into their own, so drift is judged on
//!   all traffic.
//! - **Alias changes reach every replica within a second**: each polls the alias generation every 250 ms and
//!   rebuilds the routes it serves when it moves.
//!
//! Registry reads go to the database, so they are seen at once; token lookups are cached for at most a second.

use std::sync::Arc;
use std::time::Duration;

use crate::decision_log::{BUCKET_MICROS, RemoteBucket};
use crate::scoring::{LoadedVersion, Window};
use crate::{Result, Warden};

/// This process's name among replicas: the host name (the pod's, on Kubernetes), process id and a random
/// suffix, so a restarted replica never takes over its predecessor's published windows.
pub(crate) fn replica_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "warden".into());
    format!("{host}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// Whether this replica holds (or has just taken) the lease of scheduled work `name`, for `hold`. A database
/// error counts as not holding it: the work is skipped this round rather than possibly run twice.
pub(crate) async fn holds_lease(warden: &Warden, name: &str, hold: Duration) -> bool {
    let now = warden.now();
    let until = now.saturating_add(hold.as_micros() as i64);
    match warden.metadata.try_lease(name, &warden.replica, now, until).await {
        Ok(held) => held,
        Err(err) => {
            tracing::warn!(lease = name, error = %err, "cannot take the lease; skipping this round");
            false
        }
    }
}

/// How long a lease of work done every `every` is held: three rounds, so one slow round does not hand it
/// over, and a dead replica's work resumes elsewhere within three rounds.
pub(crate) fn lease_hold(every: Duration) -> Duration {
    (every * 3).max(Duration::from_secs(5))
}

/// Other replicas' buckets of a loaded version that a monitor window can reach.
pub(crate) async fn other_buckets(
    warden: &Warden,
    version: &LoadedVersion,
    window: Window,
) -> Result<Vec<RemoteBucket>> {
    if !warden.shared() {
        return Ok(Vec::new());
    }
    let since = match window {
        Window::Since(since) => since.div_euclid(BUCKET_MICROS) * BUCKET_MICROS,
        // Any kept bucket may be among the newest holding enough decisions.
        Window::Last(_) => warden.now() - 3_600 * 1_000_000 - BUCKET_MICROS,
    };
    let model = &version.version.model;
    let rows = warden.metadata.window_buckets(model, version.version.number, since, &warden.replica).await?;
    let mut buckets = Vec::with_capacity(rows.len());
    for row in rows {
        match serde_json::from_str(&row.body) {
            Ok(windows) => buckets.push((row.start, row.decisions.max(0) as u64, windows)),
            // Another build's shape (a rolling upgrade): that bucket is left out, not the whole evaluation.
            Err(err) => tracing::warn!(model, bucket = row.start, error = %err, "unreadable window bucket skipped"),
        }
    }
    Ok(buckets)
}

/// Publishes this replica's changed window buckets of every loaded version.
pub(crate) async fn publish_windows(warden: &Warden) -> Result<()> {
    for version in crate::scoring::all_loaded_versions(warden) {
        let (changed, oldest) = version.live.changed_buckets();
        if changed.is_empty() {
            continue;
        }
        let buckets = changed
            .into_iter()
            .map(|(start, decisions, windows)| {
                Ok(warden_store::metadata::WindowBucket {
                    start,
                    decisions: decisions as i64,
                    body: serde_json::to_string(&windows)
                        .map_err(|e| crate::Error::Internal(format!("window bucket: {e}")))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let keep_from = oldest.unwrap_or(i64::MIN);
        let stored = warden
            .metadata
            .put_window_buckets(&version.version.model, version.version.number, &warden.replica, &buckets, keep_from)
            .await;
        if let Err(err) = stored {
            // Not stored: publish every kept bucket again next time.
            version.live.forget_published();
            return Err(err.into());
        }
    }
    Ok(())
}

/// Every second, publishes this replica's window buckets (only when the database is shared).
pub fn spawn_window_publisher(warden: Arc<Warden>) -> Option<tokio::task::JoinHandle<()>> {
    warden.shared().then(|| {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(err) = warden.scoring().flush().await {
                    tracing::warn!(error = %err, "decision log flush before publishing windows failed");
                }
                if let Err(err) = publish_windows(&warden).await {
                    tracing::warn!(error = %err, "publishing window buckets failed");
                }
            }
        })
    })
}

/// Every 250 ms, rebuilds the routes this replica serves when any alias changed (only when the database is
/// shared: a lone server rebuilds them itself when it changes an alias).
pub fn spawn_route_watcher(warden: Arc<Warden>) -> Option<tokio::task::JoinHandle<()>> {
    warden.shared().then(|| {
        tokio::spawn(async move {
            let mut seen = warden.metadata.alias_generation().await.unwrap_or(0);
            let mut ticker = tokio::time::interval(Duration::from_millis(250));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                match warden.metadata.alias_generation().await {
                    Ok(generation) if generation != seen => {
                        seen = generation;
                        for model in warden.scoring().routed_models() {
                            warden.scoring().routes_changed(&warden, &model).await;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "cannot read the alias generation"),
                }
            }
        })
    })
}
