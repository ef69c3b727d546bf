#!/usr/bin/env bash
# The fast set, for a developer between changes: every test of the workspace on the embedded default
# (SQLite, local artifacts) except the slow scenarios, which sit in a `slow` module of their test file (a
# real browser, kill -9 loops, replicas, object storage, PostgreSQL over TLS, waits of tens of seconds).
# scripts/test.sh runs everything, on SQLite and then on PostgreSQL. Extra arguments go to the test
# binaries (e.g. a name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-kafka-deps.sh
cargo test --workspace -- --skip slow:: "$@"
