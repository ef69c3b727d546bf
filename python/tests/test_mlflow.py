"""`Client.import_mlflow` against a real MLflow 3 tracking server (on SQLite, 127.0.0.1) with the models
`warden-testdata/data/mlflow/log_models.py` logs: the boosters and the ONNX pipeline score as MLflow's pyfunc
predicts, and the pickled scikit-learn model, which the server would refuse, is loaded here and converted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import GERMAN, REPO
from warden_client import Client, WardenError

NUMERIC = ["job", "credit_amount", "duration", "age"]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mlflow")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{directory / 'mlflow.db'}",
         "--artifacts-destination", str(directory / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        # Its own process group: the job consumers it starts outlive it unless the group is stopped.
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "mlflow server did not listen"
                time.sleep(0.3)
        out = directory / "logged"
        script = REPO / "crates/warden-testdata/data/mlflow/log_models.py"
        subprocess.run([sys.executable, str(script), url, str(GERMAN), str(out)], check=True, capture_output=True)
        yield url, json.loads((out / "expected.json").read_text())
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def rows() -> pd.DataFrame:
    frame = pd.read_csv(GERMAN, keep_default_na=False, na_values=[""])
    return frame


def test_imported_boosters_score_as_mlflow_predicts_and_carry_the_runs_lineage(server, mlflow_server):
    tracking, expected = mlflow_server
    warden = Client(server.url, token=server.admin_token)
    numeric = rows()[NUMERIC].astype("float64")
    for name in ["credit-xgb", "credit-xgb-ubj", "credit-lgb"]:
        warden.create_model(f"py-{name}", owner="retail-risk", risk_tier="low", use_case="test")
        version = warden.import_mlflow(tracking, f"models:/{name}/1", as_model=f"py-{name}")
        assert version["lineage"]["hyperparameters"]["mlflow.model_uri"] == f"models:/{name}/1"
        warden.promote(f"py-{name}", 1, override=True, reason="import test")
        scored = warden.score_frame(f"py-{name}", numeric.head(200))
        assert np.max(np.abs(scored["score"].to_numpy() - np.array(expected[name]))) <= 1e-6


def test_a_pickled_scikit_learn_model_is_converted_here_and_never_sent(server, mlflow_server):
    import mlflow

    tracking, _ = mlflow_server
    warden = Client(server.url, token=server.admin_token)
    warden.create_model("py-credit-pickle", owner="retail-risk", risk_tier="low", use_case="test")
    frame = rows()
    reference = frame[NUMERIC + ["risk"]].astype({c: "float64" for c in NUMERIC})
    version = warden.import_mlflow(tracking, "models:/credit-pickle/1", as_model="py-credit-pickle",
                                   reference=reference, target="risk")
    assert version["format"] == "onnx"
    warden.promote("py-credit-pickle", 1, override=True, reason="import test")
    mlflow.set_tracking_uri(tracking)
    model = mlflow.sklearn.load_model("models:/credit-pickle/1")
    scored = warden.score_frame("py-credit-pickle", reference[NUMERIC].head(200))
    expected = model.predict_proba(reference[NUMERIC].head(200).astype("float32"))[:, 1]
    assert np.max(np.abs(scored["score"].to_numpy() - expected)) <= 1e-6


def test_an_unknown_version_is_an_error_naming_mlflows_answer(server, mlflow_server):
    tracking, _ = mlflow_server
    warden = Client(server.url, token=server.admin_token)
    with pytest.raises(WardenError, match="MLflow answered 404"):
        warden.import_mlflow(tracking, "models:/credit-xgb/99", as_model="py-credit-xgb")


def test_the_runs_evaluation_dataset_is_the_reference_and_warden_tags_name_the_target(server, mlflow_server, tmp_path):
    import mlflow
    import xgboost
    from mlflow import MlflowClient

    tracking, _ = mlflow_server
    mlflow.set_tracking_uri(tracking)
    frame = rows()
    numeric = frame[NUMERIC].astype("float64")
    evaluation = tmp_path / "eval.csv"
    frame[NUMERIC + ["risk"]].head(300).to_csv(evaluation, index=False)
    MlflowClient().create_registered_model("py-eval", tags={"warden.target": "risk"})
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 2}, xgboost.DMatrix(numeric, label=1 - frame["risk"]), 5)
    with mlflow.start_run():
        mlflow.log_artifact(str(evaluation), "data")
        path = mlflow.get_artifact_uri("data/eval.csv").removeprefix("mlflow-artifacts:/")
        source = f"{tracking}/api/2.0/mlflow-artifacts/artifacts/{path}"
        dataset = mlflow.data.from_pandas(frame[NUMERIC + ["risk"]].head(300), source=source, name="eval")
        mlflow.log_input(dataset, context="evaluation")
        mlflow.xgboost.log_model(booster, name="model", model_format="json", registered_model_name="py-eval")

    warden = Client(server.url, token=server.admin_token)
    warden.create_model("py-eval", owner="retail-risk", risk_tier="medium")
    version = warden.import_mlflow(tracking, "models:/py-eval/1")
    assert version["reference"]["rows"] == 300, "the evaluation dataset, not an input example"
    assert version["reference"]["target"] == "risk", "from the registered model's warden.target tag"
