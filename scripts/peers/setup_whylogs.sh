#!/usr/bin/env bash
# Installs whylogs (the profiling peer of `cargo run -p xtask -- bench ingest`) into ./.venv-whylogs, and the
# HTTP load generator (wrk, from Debian) the benchmark's /healthz limit uses. Never needed by the test suite.
# whylogs gets its own environment: 1.6.4 still calls numpy.unicode_, removed in NumPy 2, so it pins numpy < 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; else sudo apt-get install -y -qq wrk; fi
fi
if [ ! -x .venv-whylogs/bin/python ]; then
    python3 -m venv .venv-whylogs
fi
.venv-whylogs/bin/pip install --quiet --upgrade pip
.venv-whylogs/bin/pip install --quiet "whylogs==1.6.4" "numpy<2" "pandas<3"
.venv-whylogs/bin/python -c "import whylogs, pandas; print('whylogs', whylogs.__version__, 'pandas', pandas.__version__)"
