#!/usr/bin/env bash
# The Python client's test suite (python/tests): a virtual environment in target/tools/python-client with the
# client and what its tests need (pandas, scikit-learn, skl2onnx, ONNX Runtime, XGBoost, LightGBM, MLflow, pytest,
# cyclonedx-python-lib, spdx-python-model, pySHACL),
# then pytest against the debug `warden` binary, which each test starts on 127.0.0.1 itself.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/tools/python-client
# MLflow 3.18.0 does not install from the registry here; 3.17.2 does.
# The exports are read by their formats' reference libraries: cyclonedx-python-lib (with its JSON schema
# validator), the SPDX 3.0.1 bindings generated from the specification's model, and pySHACL for the model's
# SHACL shapes.
scripts/python-venv.sh "$venv" "./python[pandas,sklearn,test]" xgboost-cpu lightgbm pyyaml "mlflow==3.17.2" \
    "cyclonedx-python-lib[json-validation]==11.12.0" "spdx-python-model==0.0.6" "pyshacl==0.40.1"
# The client as it is in the tree now, not as first installed.
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall ./python
[ -x target/debug/warden ] || cargo build -p warden
WARDEN_BIN="$PWD/target/debug/warden" "$venv/bin/python" -m pytest -q python/tests "$@"
