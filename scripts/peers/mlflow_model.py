"""Trains the German credit logistic regression once and writes it for both servers.

The pipeline is the golden fixtures' model (a): median imputation + standard scaling of the numeric columns,
most-frequent imputation + one-hot encoding of the categorical ones, LogisticRegression(max_iter=1000), target
bad = 1 - risk. Writes OUT/mlflow (an MLflow model whose pyfunc returns predict_proba), OUT/model.onnx (the same
fitted pipeline through skl2onnx, no ZipMap), and OUT/request.json (one applicant).
Usage: .venv-mlflow/bin/python scripts/peers/mlflow_model.py GERMAN_CSV OUT_DIR
"""
import json
import os
import shutil
import sys

import mlflow.sklearn
import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["job", "credit_amount", "duration", "age"]
CATEGORICAL = ["housing", "saving_accounts", "checking_account", "purpose"]

source, out = sys.argv[1], sys.argv[2]
df = pd.read_csv(source)
df[NUMERIC] = df[NUMERIC].astype("float32")
y = 1 - df["risk"]
pipe = Pipeline([
    ("prep", ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), NUMERIC),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent", missing_values="")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), CATEGORICAL),
    ])),
    ("lr", LogisticRegression(max_iter=1000)),
])
pipe.fit(df[NUMERIC + CATEGORICAL], y)

shutil.rmtree(os.path.join(out, "mlflow"), ignore_errors=True)
os.makedirs(out, exist_ok=True)
mlflow.sklearn.save_model(pipe, os.path.join(out, "mlflow"), pyfunc_predict_fn="predict_proba",
                         skops_trusted_types=["numpy.dtype"])

types = [(c, FloatTensorType([None, 1])) for c in NUMERIC] + [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
onnx = to_onnx(pipe, initial_types=types, options={id(pipe.steps[-1][1]): {"zipmap": False}})
with open(os.path.join(out, "model.onnx"), "wb") as f:
    f.write(onnx.SerializeToString())

row = df.iloc[1]
features = {c: float(row[c]) for c in NUMERIC} | {c: str(row[c]) for c in CATEGORICAL}
expected = float(pipe.predict_proba(df[NUMERIC + CATEGORICAL].iloc[[1]])[0, 1])
json.dump({"features": features, "expected_score": expected}, open(os.path.join(out, "request.json"), "w"))
print(f"trained on {len(df)} rows; P(bad) of the request row = {expected:.6f}")
