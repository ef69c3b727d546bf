//! Several `warden serve` replicas sharing one database (PostgreSQL).
//!
//! Replicas keep no state of their own that another needs, except what this module publishes or watches:
//! - **Scheduled work runs once**: monitor evaluation, checkpoints, webhook delivery and retraining schedules
//!   each run only on the replica holding their lease (`warden_registry::leases`).
//! - **Live windows are shared**: each replica publishes its window profiles' changed 10-second buckets
//!   every second, and the monitors merge the other replicas' buckets into their own, so drift is judged on
//!   all traffic.
//! - **Alias changes reach every replica within a second**: each polls the alias generation every 250 ms
//!   (`Registry::watch_alias_generation`), and serving rebuilds the routes it serves when it moves.
//!
//! Registry reads go to the database, so they are seen at once; token lookups are cached for at most a second.

use crate::decision_log::{BUCKET_MICROS, RemoteBucket};
use crate::scoring::{LoadedVersion, Window};
use crate::{Result, Serving};

/// Other replicas' buckets of a loaded version that a monitor window can reach.
pub async fn other_buckets(warden: &Serving, version: &LoadedVersion, window: Window) -> Result<Vec<RemoteBucket>> {
    if !warden.shared() {
        return Ok(Vec::new());
    }
    let since = match window {
        Window::Since(since) => since.div_euclid(BUCKET_MICROS) * BUCKET_MICROS,
        // Any kept bucket may be among the newest holding enough decisions.
        Window::Last(_) => warden.now() - 3_600 * 1_000_000 - BUCKET_MICROS,
    };
    let model = &version.version.model;
    let rows = warden.metadata.window_buckets(model, version.version.number, since, warden.replica()).await?;
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

/// Publishes this replica's changed window buckets of every loaded version (the scheduler calls this every
/// second when the database is shared).
pub async fn publish_windows(warden: &Serving) -> Result<()> {
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
                    body: serde_json::to_string(&windows).map_err(|e| crate::Error::json("window bucket", e))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let keep_from = oldest.unwrap_or(i64::MIN);
        let stored = warden
            .metadata
            .put_window_buckets(&version.version.model, version.version.number, warden.replica(), &buckets, keep_from)
            .await;
        if let Err(err) = stored {
            // Not stored: publish every kept bucket again next time.
            version.live.forget_published();
            return Err(err.into());
        }
    }
    Ok(())
}
