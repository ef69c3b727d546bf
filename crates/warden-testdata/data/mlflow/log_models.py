"""Logs the models `crates/warden/tests/it/mlflow.rs` imports, to an MLflow tracking server, and writes what
MLflow's own pyfunc predicts for them.

Usage: python log_models.py TRACKING_URI GERMAN_CSV OUT_DIR
Registers credit-onnx (a scikit-learn pipeline through skl2onnx, per-column inputs), credit-xgb (an XGBoost
booster saved as JSON, with an input example and its signature), credit-xgb-ubj (the same saved as UBJSON),
credit-lgb (a LightGBM booster) and
credit-pickle (a scikit-learn model, pickled only). OUT_DIR/reference.csv holds the rows scored;
OUT_DIR/expected.json holds pyfunc's P(bad) per model for them.
"""
import json
import os
import sys

import lightgbm
import mlflow
import numpy as np
import pandas as pd
import xgboost
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

tracking, german, out = sys.argv[1], sys.argv[2], sys.argv[3]
mlflow.set_tracking_uri(tracking)
NUMERIC = ["job", "credit_amount", "duration", "age"]
CATEGORICAL = ["housing", "saving_accounts", "checking_account", "purpose"]
frame = pd.read_csv(german, keep_default_na=False, na_values=[""])
for column in CATEGORICAL:
    frame[column] = frame[column].fillna("")
frame[NUMERIC] = frame[NUMERIC].astype("float32")
bad = 1 - frame["risk"]
rows = frame[NUMERIC + CATEGORICAL].head(200)
os.makedirs(out, exist_ok=True)
frame[NUMERIC + CATEGORICAL + ["risk"]].to_csv(os.path.join(out, "reference.csv"), index=False)
expected = {}

# A scikit-learn pipeline as ONNX, with a signature and an input example.
pipe = Pipeline([
    ("prep", ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), NUMERIC),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent", missing_values="")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), CATEGORICAL),
    ])),
    ("lr", LogisticRegression(max_iter=1000, C=0.7)),
])
pipe.fit(frame[NUMERIC + CATEGORICAL], bad)
types = [(c, FloatTensorType([None, 1])) for c in NUMERIC] + [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
onnx = to_onnx(pipe, initial_types=types, options={id(pipe.steps[-1][1]): {"zipmap": False}})
with mlflow.start_run():
    mlflow.log_params({"C": 0.7, "max_iter": 1000})
    mlflow.log_metric("train_auc", 0.79)
    mlflow.set_tag("mlflow.source.git.commit", "4f2a9c1d")
    mlflow.log_input(mlflow.data.from_pandas(frame, name="german-train"), context="training")
    info = mlflow.onnx.log_model(onnx, name="model", registered_model_name="credit-onnx")
pyfunc = mlflow.pyfunc.load_model("models:/credit-onnx/1")
feed = {c: rows[c].to_numpy().reshape(-1, 1) for c in NUMERIC}
feed |= {c: rows[c].astype(str).to_numpy().reshape(-1, 1) for c in CATEGORICAL}
predicted = pyfunc.predict(feed)
probabilities = predicted["probabilities"] if isinstance(predicted, dict) else predicted.iloc[:, -1]
expected["credit-onnx"] = [float(p) for p in np.asarray(probabilities)[:, 1]]

numeric = frame[NUMERIC].astype("float64")
# An XGBoost booster saved as JSON.
booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3}, xgboost.DMatrix(numeric, label=bad), 20)
with mlflow.start_run():
    mlflow.log_params({"max_depth": 3, "eta": 0.3, "rounds": 20})
    mlflow.xgboost.log_model(booster, name="model", model_format="json", input_example=numeric.head(20),
                             registered_model_name="credit-xgb")
expected["credit-xgb"] = [float(p) for p in mlflow.pyfunc.load_model("models:/credit-xgb/1").predict(numeric.head(200))]
# The same booster in UBJSON, XGBoost's default format from 2.1.
with mlflow.start_run():
    mlflow.xgboost.log_model(booster, name="model", model_format="ubj", input_example=numeric.head(20),
                             registered_model_name="credit-xgb-ubj")
expected["credit-xgb-ubj"] = [
    float(p) for p in mlflow.pyfunc.load_model("models:/credit-xgb-ubj/1").predict(numeric.head(200))
]

# A LightGBM booster.
lgb = lightgbm.train({"objective": "binary", "num_leaves": 7, "verbose": -1}, lightgbm.Dataset(numeric, label=bad), 20)
with mlflow.start_run():
    mlflow.log_params({"num_leaves": 7, "rounds": 20})
    mlflow.lightgbm.log_model(lgb, name="model", input_example=numeric.head(20), registered_model_name="credit-lgb")
expected["credit-lgb"] = [float(p) for p in mlflow.pyfunc.load_model("models:/credit-lgb/1").predict(numeric.head(200))]

# A scikit-learn model with no safe flavour: Warden must refuse it.
with mlflow.start_run():
    mlflow.sklearn.log_model(LogisticRegression().fit(numeric, bad), name="model", registered_model_name="credit-pickle",
                             serialization_format="cloudpickle")

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f)
print("logged", ", ".join(expected), "and credit-pickle")
