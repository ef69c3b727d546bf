/*!
All of Warden's background work, in one place. [`Scheduler::start`] runs each job of [`jobs`] on a loop of
its own:

| job                    | period                          | lease       | runs                          |
|------------------------|---------------------------------|-------------|-------------------------------|
| `monitor-evaluation`   | `--monitor-interval-seconds`    | one replica | always                        |
| `ledger-checkpoint`    | `--checkpoint-interval-seconds` | one replica | always                        |
| `webhook-delivery`     | 1 s                             | one replica | always (idle without webhook) |
| `notification-routing` | 1 s                             | one replica | always (idle without routes)  |
| `retraining-schedules` | 60 s                            | one replica | always                        |
| `window-publishing`    | 1 s                             | none        | database shared               |
| `alias-watch`          | 250 ms                          | none        | database shared               |

- **Missed ticks are not made up**: when a run takes longer than the period, the next one starts a period
  after it ended (tokio's `MissedTickBehavior::Delay`), so slow rounds never pile up.
- **Leases**: a job with a lease runs only on the replica holding it (`warden_registry::leases`), held for
  three periods and renewed at every tick, so a dead replica's job resumes elsewhere within three periods.
  A database error counts as not holding the lease: the round is skipped rather than possibly run twice.
- **Failures**: a failed run is logged with the job's name; the next tick runs it again.

Every job is a function of the stages; the round it runs is its module's (`round::run`, `ledger::checkpoint`,
`notifications::deliver_due`, `routing::route_new` and `routing::deliver_due`, `retraining::run_due`, `replicas::publish_windows`,
`Registry::watch_alias_generation`).
*/

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use tokio::task::JoinHandle;
use warden_registry::leases::{holds_lease, lease_hold};

use warden_oversight::{monitoring, notifications, retraining, round};
use warden_proof::ledger;
use warden_serving::replicas;

use crate::{Result, Warden};

/// The periods an operator sets (`warden serve` flags).
#[derive(Debug, Clone, Copy)]
pub struct Periods {
    /// Between monitor rounds.
    pub monitor_evaluation: Duration,
    /// Between ledger checkpoints.
    pub ledger_checkpoint: Duration,
}

/// Whether a job runs on one replica among those sharing a database, or on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Work on shared state done once: the replica holding the lease named after the job runs it.
    OneReplica,
    /// Work on this replica's own state (its windows, its routes).
    EveryReplica,
}

type Run = Arc<dyn Fn(Arc<Warden>) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> + Send + Sync>;

/// One piece of background work.
pub struct Job {
    /// Its name in logs, and its lease's name.
    pub name: &'static str,
    /// Time between runs.
    pub every: Duration,
    /// Which replicas run it.
    pub lease: Lease,
    /// Runs only when replicas may share the database (PostgreSQL).
    pub shared_only: bool,
    run: Run,
}

fn job<F, Fut>(name: &'static str, every: Duration, lease: Lease, shared_only: bool, run: F) -> Job
where
    F: Fn(Arc<Warden>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    Job { name, every, lease, shared_only, run: Arc::new(move |warden| Box::pin(run(warden))) }
}

/// Every background job, with its period and lease.
pub fn jobs(periods: Periods) -> Vec<Job> {
    let mut jobs = vec![
        job("monitor-evaluation", periods.monitor_evaluation, Lease::OneReplica, false, |warden| async move {
            let evaluated = round::run(&warden, monitoring::Round::Scheduled).await.map(|_| ());
            // Buckets older than any window (an hour) are of no use; a replica that is gone left its own.
            if warden.shared() {
                let before = warden.now() - 2 * 3_600 * 1_000_000;
                if let Err(err) = warden.metadata.prune_window_buckets(before).await {
                    tracing::warn!(error = %err, "pruning old window buckets failed");
                }
            }
            evaluated
        }),
        job("ledger-checkpoint", periods.ledger_checkpoint, Lease::OneReplica, false, |warden| async move {
            ledger::checkpoint(&warden).await.map(|_| ())
        }),
        job("retraining-schedules", Duration::from_secs(60), Lease::OneReplica, false, |warden| async move {
            retraining::run_due(&warden).await.map(|_| ())
        }),
        job("window-publishing", Duration::from_secs(1), Lease::EveryReplica, true, |warden| async move {
            if let Err(err) = warden.scoring().flush().await {
                tracing::warn!(error = %err, "decision log flush before publishing windows failed");
            }
            replicas::publish_windows(&warden).await
        }),
    ];
    let seen = Arc::new(AtomicI64::new(warden_registry::UNSEEN));
    jobs.push(job("alias-watch", Duration::from_millis(250), Lease::EveryReplica, true, move |warden| {
        let seen = seen.clone();
        async move { warden.watch_alias_generation(&seen).await }
    }));
    warden_registry::install_tls_provider();
    match notifications::client() {
        Ok(client) => {
            let routed = client.clone();
            jobs.push(job("webhook-delivery", Duration::from_secs(1), Lease::OneReplica, false, move |warden| {
                let client = client.clone();
                async move { notifications::deliver_due(&warden, &client).await.map(|_| ()) }
            }));
            jobs.push(job("notification-routing", Duration::from_secs(1), Lease::OneReplica, false, move |warden| {
                let client = routed.clone();
                async move {
                    // Routing and delivering fail apart: a source that cannot be read holds no delivery up.
                    let routed = warden_oversight::routing::route_new(&warden).await.map(|_| ());
                    let delivered = warden_oversight::routing::deliver_due(&warden, &client).await.map(|_| ());
                    routed.and(delivered)
                }
            }))
        }
        Err(err) => tracing::error!(error = %err, "cannot build the webhook client; notifications stay queued"),
    }
    jobs
}

/// The running jobs; stopping it (or dropping it) ends them.
pub struct Scheduler {
    tasks: Vec<JoinHandle<()>>,
}

impl Scheduler {
    /// Starts every job that applies to this process.
    pub fn start(warden: Arc<Warden>, periods: Periods) -> Scheduler {
        let shared = warden.shared();
        let tasks = jobs(periods)
            .into_iter()
            .filter(|job| shared || !job.shared_only)
            .map(|job| tokio::spawn(run_job(warden.clone(), job)))
            .collect();
        Scheduler { tasks }
    }

    /// Ends every job (a run in progress stops at its next await).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn run_job(warden: Arc<Warden>, job: Job) {
    let mut ticker = tokio::time::interval(job.every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if job.lease == Lease::OneReplica && !holds_lease(&warden, job.name, lease_hold(job.every)).await {
            continue;
        }
        if let Err(err) = (job.run)(warden.clone()).await {
            tracing::error!(job = job.name, error = %err, "background job failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use warden_registry::Config;

    fn periods() -> Periods {
        Periods { monitor_evaluation: Duration::from_secs(60), ledger_checkpoint: Duration::from_secs(300) }
    }

    #[test]
    fn the_job_table_is_the_module_doc() {
        let jobs = jobs(periods());
        let listed: Vec<(&str, Lease, bool)> = jobs.iter().map(|j| (j.name, j.lease, j.shared_only)).collect();
        assert_eq!(
            listed,
            [
                ("monitor-evaluation", Lease::OneReplica, false),
                ("ledger-checkpoint", Lease::OneReplica, false),
                ("retraining-schedules", Lease::OneReplica, false),
                ("window-publishing", Lease::EveryReplica, true),
                ("alias-watch", Lease::EveryReplica, true),
                ("webhook-delivery", Lease::OneReplica, false),
                ("notification-routing", Lease::OneReplica, false),
            ]
        );
        for job in &jobs {
            assert!(
                include_str!("scheduler.rs").contains(&format!("| `{}`", job.name)),
                "{} is not documented",
                job.name
            );
        }
    }

    fn counting(name: &'static str, lease: Lease, runs: Arc<AtomicUsize>) -> Job {
        job(name, Duration::from_millis(20), lease, false, move |_| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
    }

    #[tokio::test]
    async fn a_job_whose_lease_another_replica_holds_does_not_run_here() {
        let dir = tempfile::tempdir().unwrap();
        let (warden, _) = Warden::open(Config::new(dir.path())).await.unwrap();
        let warden = Arc::new(warden);
        let far = warden.now() + 3_600 * 1_000_000;
        assert!(warden.metadata.try_lease("held-elsewhere", "another-replica", warden.now(), far).await.unwrap());
        let (held, free, everywhere) = (Arc::default(), Arc::default(), Arc::default());
        let tasks = [
            tokio::spawn(run_job(warden.clone(), counting("held-elsewhere", Lease::OneReplica, Arc::clone(&held)))),
            tokio::spawn(run_job(warden.clone(), counting("free", Lease::OneReplica, Arc::clone(&free)))),
            tokio::spawn(run_job(
                warden.clone(),
                counting("held-elsewhere", Lease::EveryReplica, Arc::clone(&everywhere)),
            )),
        ];
        tokio::time::sleep(Duration::from_millis(300)).await;
        for task in tasks {
            task.abort();
        }
        assert_eq!(held.load(Ordering::SeqCst), 0, "ran under another replica's lease");
        assert!(free.load(Ordering::SeqCst) >= 2, "a job with a free lease took it and ran every tick");
        assert!(everywhere.load(Ordering::SeqCst) >= 2, "a job without a lease runs on every replica");
    }

    #[tokio::test]
    async fn a_failing_run_does_not_stop_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let (warden, _) = Warden::open(Config::new(dir.path())).await.unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let failing = job("failing", Duration::from_millis(20), Lease::EveryReplica, false, move |_| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Err(warden_registry::Error::Inconsistent("on purpose".into()))
            }
        });
        let task = tokio::spawn(run_job(Arc::new(warden), failing));
        tokio::time::sleep(Duration::from_millis(200)).await;
        task.abort();
        assert!(runs.load(Ordering::SeqCst) >= 3, "runs after a failure: {}", runs.load(Ordering::SeqCst));
    }
}
