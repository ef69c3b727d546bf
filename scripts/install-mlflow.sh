#!/usr/bin/env bash
# Installs MLflow 3 and the libraries its test models need (scikit-learn, skl2onnx, ONNX Runtime, XGBoost,
# LightGBM, pandas) into target/tools/mlflow (or the directory given), for the MLflow bridge's test
# (crates/warden/tests/it/mlflow.rs), which runs this script itself when MLflow is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-target/tools/mlflow}
if [ -x "$venv/bin/mlflow" ] && "$venv/bin/python" -c "import xgboost, lightgbm, skl2onnx, onnxruntime" 2>/dev/null; then
    exit 0
fi
# 3.18.0 does not install from the registry here; 3.17.2 does.
scripts/python-venv.sh "$venv" "mlflow==3.17.2" scikit-learn pandas skl2onnx onnx onnxruntime xgboost-cpu lightgbm
"$venv/bin/python" -c "import mlflow; print('mlflow', mlflow.__version__)"
