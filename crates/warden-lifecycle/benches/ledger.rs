//! The ledger's two costs: durable appends of audited writes (each an audit event and its ledger entry,
//! committed in batches with fsync, as the store writes them), and `audit verify` over the result (every
//! entry recomputed from its audit event, the tree rebuilt, every checkpoint checked). Prints a table.
//!
//! `cargo bench -p warden-lifecycle --bench ledger [-- ENTRIES [BATCH]]` (default 1,000,000 and 1,000).

use std::time::Instant;

use serde_json::json;
use warden_lifecycle::Warden;
use warden_proof::ledger;
use warden_registry::Config;
use warden_registry::auth::{Principal, Role};
use warden_store::metadata::AuditEventDraft;
use warden_store::prelude::*;
use warden_store::sqlite::SqliteStore;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let entries: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let batch: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // WARDEN_BENCH_DIR keeps the data directory for inspection.
    let path = std::env::var_os("WARDEN_BENCH_DIR").map_or_else(|| dir.path().to_owned(), std::path::PathBuf::from);
    runtime.block_on(async {
        let event = |i: usize| AuditEventDraft {
            at: 1_795_000_000_000_000 + i as i64,
            actor: format!("token:scorer-{}", i % 7),
            action: ["alias.set", "monitor.set", "alert.fired", "model.promote"][i % 4].into(),
            subject: format!("model/credit-{}/version/{}", i % 13, i % 5),
            payload: json!({"version": i % 5, "reason": "benchmark", "traffic": 0.1, "decision_id": format!("dec_{i:08}")}),
        };
        // A kept data directory that already holds the ledger is verified again without appending.
        let reused = path.join("warden.db").exists();
        // One commit per append, as a single audited write does it.
        let store = SqliteStore::open(&path.join("warden.db")).await.unwrap();
        let singles = if reused { 0 } else { 2_000 };
        let started = Instant::now();
        for i in 0..singles {
            store.append_audit_batch(&[event(i)]).await.unwrap();
        }
        let single_rate = singles as f64 / started.elapsed().as_secs_f64();
        // Batches: many audited writes in one commit.
        let started = Instant::now();
        let mut appended = if reused { entries } else { singles };
        while appended < entries {
            let n = batch.min(entries - appended);
            let events: Vec<AuditEventDraft> = (appended..appended + n).map(event).collect();
            store.append_audit_batch(&events).await.unwrap();
            appended += n;
        }
        let batch_seconds = started.elapsed().as_secs_f64();
        let batch_rate = (entries - singles) as f64 / batch_seconds;
        drop(store);

        let (warden, _) = Warden::open(Config::new(&path)).await.unwrap();
        let admin = Principal::token("bench", Role::Admin);
        let started = Instant::now();
        let checkpoint = ledger::checkpoint(&warden).await.unwrap();
        let checkpoint_seconds = started.elapsed().as_secs_f64();
        let mut verify_seconds = Vec::new();
        for _ in 0..3 {
            let report = ledger::verify(&warden, &admin).await.unwrap();
            assert!(report.ok, "{:?}", report.problems);
            verify_seconds.push(report.seconds);
        }
        verify_seconds.sort_by(f64::total_cmp);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!("\nledger of {} entries ({} audit events created at start), {cores} cores", checkpoint.tree_size, checkpoint.tree_size as usize - entries);
        println!("| what | figure |");
        println!("|---|---|");
        if reused {
            println!("| durable appends | (not measured: the kept ledger was reused) |");
        } else {
            println!("| durable appends, one audited write per commit | {single_rate:.0} /s |");
            println!("| durable appends, batches of {batch} per commit | {batch_rate:.0} /s ({batch_seconds:.1} s for {}) |", entries - singles);
        }
        println!("| first checkpoint (reads every leaf hash, signs) | {checkpoint_seconds:.2} s |");
        println!(
            "| audit verify (median of 3: {}) | {:.2} s |",
            verify_seconds.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(" / "),
            verify_seconds[1]
        );
    });
}
