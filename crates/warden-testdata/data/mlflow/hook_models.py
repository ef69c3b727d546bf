"""Points MLflow's registry webhook at Warden, then registers versions that must reach it by themselves; for
`crates/warden/tests/it/mlflow.rs`.

Usage: python hook_models.py TRACKING_URI WARDEN_URL SECRET GERMAN_CSV OUT_DIR
Creates the webhook (model_version.created, model_version_alias.created, signed with SECRET), then registers
credit-hook version 1 (an XGBoost booster saved as UBJSON, no input example; its run logs OUT_DIR/eval.csv as
an artifact and as its evaluation dataset; the registered model is tagged warden.target=risk), a version of
not-in-warden, and the alias champion on credit-hook version 1. OUT_DIR/hook-expected.json holds pyfunc's
P(bad) for the first 200 rows of eval.csv.
"""
import json
import os
import sys

import mlflow
import pandas as pd
import xgboost
from mlflow import MlflowClient

tracking, warden, secret, german, out = sys.argv[1:6]
mlflow.set_tracking_uri(tracking)
client = MlflowClient()
client.create_webhook(
    name="warden",
    url=f"{warden}/v1/integrations/mlflow/webhook",
    events=["model_version.created", "model_version_alias.created"],
    secret=secret,
)
NUMERIC = ["job", "credit_amount", "duration", "age"]
frame = pd.read_csv(german, keep_default_na=False, na_values=[""])
numeric = frame[NUMERIC].astype("float64")
bad = 1 - frame["risk"]
os.makedirs(out, exist_ok=True)
evaluation = os.path.join(out, "eval.csv")
frame[NUMERIC + ["risk"]].to_csv(evaluation, index=False)

client.create_registered_model("credit-hook", tags={"warden.target": "risk"})
booster = xgboost.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.5}, xgboost.DMatrix(numeric, label=bad), 10)
with mlflow.start_run():
    mlflow.log_params({"max_depth": 2, "eta": 0.5, "rounds": 10})
    mlflow.log_artifact(evaluation, "data")
    # The file as the tracking server's artifact proxy serves it: an http source MLflow can resolve.
    path = mlflow.get_artifact_uri("data/eval.csv").removeprefix("mlflow-artifacts:/")
    source = f"{tracking}/api/2.0/mlflow-artifacts/artifacts/{path}"
    dataset = mlflow.data.from_pandas(frame[NUMERIC + ["risk"]], source=source, targets="risk", name="german-eval")
    mlflow.log_input(dataset, context="evaluation")
    mlflow.xgboost.log_model(booster, name="model", model_format="ubj", registered_model_name="credit-hook")
predicted = mlflow.pyfunc.load_model("models:/credit-hook/1").predict(numeric.head(200))

with mlflow.start_run():
    mlflow.xgboost.log_model(booster, name="model", model_format="ubj", registered_model_name="not-in-warden")
client.set_registered_model_alias("credit-hook", "champion", "1")

with open(os.path.join(out, "hook-expected.json"), "w") as f:
    json.dump([float(p) for p in predicted], f)
print("registered credit-hook 1 and not-in-warden 1 with the webhook on")
