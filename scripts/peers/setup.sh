#!/usr/bin/env bash
# Installs the peer tools for side-by-side benchmarks into ./.venv (never needed by the test suite).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
# Evidently 0.7.23 needs pandas < 3.
.venv/bin/pip install --quiet "evidently==0.7.23" "pandas<3" pyarrow scipy numpy scikit-learn xgboost-cpu
.venv/bin/python -c "import evidently, pandas, pyarrow; print('evidently', evidently.__version__, 'pandas', pandas.__version__)"
