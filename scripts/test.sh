#!/usr/bin/env bash
# The whole test suite: every test on the embedded default (SQLite, local artifacts), then the integration
# suite (crates/*/tests) again with Warden's metadata on PostgreSQL. The tests start what they need on
# 127.0.0.1 themselves (PostgreSQL through scripts/test-postgres.sh, an S3-compatible server through
# scripts/test-s3.sh, Chromium through scripts/install-browser.sh, an OpenID provider through
# scripts/install-oidc-provider.sh), installing it on first use. The build itself needs a C toolchain for
# librdkafka: scripts/install-kafka-deps.sh installs what is missing. Last, the Python client's tests
# (scripts/test-python.sh) against the debug binary the first step built.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-kafka-deps.sh
cargo test --workspace
WARDEN_TEST_DATABASE=postgres cargo test --workspace --test '*'
scripts/test-python.sh
