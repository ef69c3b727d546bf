#!/usr/bin/env bash
# Installs MLflow (the serving peer for `cargo run -p xtask -- bench serve`) into ./.venv-mlflow, and the
# HTTP load generator (wrk, from Debian). Never needed by the test suite.
# MLflow gets its own environment: its pins conflict with Evidently's (see setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; else sudo apt-get install -y -qq wrk; fi
fi
if [ ! -x .venv-mlflow/bin/python ]; then
    python3 -m venv .venv-mlflow
fi
.venv-mlflow/bin/pip install --quiet --upgrade pip
# 3.18.0 does not install from the registry here; 3.17.2 does and serves offline.
.venv-mlflow/bin/pip install --quiet "mlflow==3.17.2" scikit-learn pandas skl2onnx onnx
.venv-mlflow/bin/python -c "import mlflow, sklearn, skl2onnx; print('mlflow', mlflow.__version__, 'sklearn', sklearn.__version__, 'skl2onnx', skl2onnx.__version__)"
