//! The `warden` binary's integration tests, in one test binary: each module runs the built `warden` (CLI
//! and `warden serve` on 127.0.0.1) for one area; `support` starts servers and the peers they need.
//!
//! Scenarios slower than about 20 s (a real browser, kill -9 loops, replicas, object storage, PostgreSQL over
//! TLS, training on real data sets) sit in a `slow` module of their area: `cargo test -- --skip slow::` runs
//! the rest (`scripts/test-fast.sh`).

mod cli;
mod crash;
mod dashboard;
mod demo;
mod deploy;
mod faults;
mod governance;
mod identity;
mod ingest;
mod ledger;
mod mlflow;
mod object_storage;
mod postgres_tls;
mod readme;
mod replicas;
mod reports;
mod retention;
mod routing;
mod scoring;
mod security;
mod sso;
mod support;
mod train;
mod vouching;
