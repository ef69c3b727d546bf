"""Turning what a data scientist holds into what Warden registers: a scikit-learn pipeline into ONNX (checked
against scikit-learn before it leaves the notebook), XGBoost and LightGBM models into their text formats,
DataFrames into CSV. Nothing here pickles: the server never sees a pickle."""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Packed:
    """An artifact ready to upload."""

    bytes: bytes
    format: str
    params: dict = field(default_factory=dict)


def csv_bytes(data) -> bytes:
    """A DataFrame (or CSV bytes, or a path) as CSV bytes."""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        with open(data, "rb") as f:
            return f.read()
    buffer = io.StringIO()
    data.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def rows(data) -> int:
    if hasattr(data, "shape"):
        return int(data.shape[0])
    return max(csv_bytes(data).count(b"\n") - 1, 0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plain(value: Any) -> Any:
    """A cell as JSON: NumPy scalars as Python numbers, NaN as null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def feature_columns(reference, target, protected, exclude) -> list[str]:
    """The reference's columns the model reads: all but the target, protected and excluded ones."""
    if not hasattr(reference, "columns"):
        return []
    skip = {target, *protected, *exclude}
    return [c for c in reference.columns if c not in skip]


def _json_params(params: dict) -> dict:
    """The hyperparameters that are JSON (finite numbers, text, booleans, None)."""
    def is_json(v):
        if isinstance(v, float):
            return math.isfinite(v)
        return isinstance(v, (int, str, bool)) or v is None

    return {k: v for k, v in params.items() if is_json(v)}


def pack(artifact, reference, features: list[str], format: str | None, tolerance: float) -> Packed:
    """The artifact's bytes and format: bytes as given (with `format`), XGBoost and LightGBM in their text
    formats, and anything with `predict_proba` (scikit-learn) converted to ONNX and checked."""
    if isinstance(artifact, (bytes, bytearray)):
        if format is None:
            raise ValueError("an artifact given as bytes needs its format (onnx, xgboost-json, lightgbm-text, linear-json)")
        return Packed(bytes(artifact), format)
    module = type(artifact).__module__
    if module.startswith("xgboost"):
        booster = artifact.get_booster() if hasattr(artifact, "get_booster") else artifact
        params = _json_params(artifact.get_params()) if hasattr(artifact, "get_params") else {}
        return Packed(bytes(booster.save_raw(raw_format="json")), "xgboost-json", params)
    if module.startswith("lightgbm"):
        booster = artifact.booster_ if hasattr(artifact, "booster_") else artifact
        params = _json_params(artifact.get_params()) if hasattr(artifact, "get_params") else {}
        return Packed(booster.model_to_string().encode(), "lightgbm-text", params)
    if hasattr(artifact, "predict_proba"):
        return _sklearn_to_onnx(artifact, reference, features, tolerance)
    raise TypeError(f"cannot register a {type(artifact).__name__}: give a scikit-learn, XGBoost or LightGBM model, or bytes")


def _takes_columns(model) -> bool:
    """Whether a scikit-learn model starts by picking named columns (a ColumnTransformer, first in a Pipeline)."""
    first = model.steps[0][1] if hasattr(model, "steps") else model
    return type(first).__name__ == "ColumnTransformer"


def _sklearn_to_onnx(model, reference, features: list[str], tolerance: float) -> Packed:
    import numpy as np
    import onnxruntime
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    frame = reference[features]
    numeric = {c for c in features if frame[c].dtype.kind in "biuf"}
    if not _takes_columns(model):
        # A bare estimator reads one matrix; Warden feeds named columns: a pass-through column step joins them.
        if numeric != set(features):
            raise ValueError("a bare estimator over text columns cannot be converted: register a Pipeline that encodes them")
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline

        columns = ColumnTransformer([("columns", "passthrough", features)]).fit(frame.astype("float32"))
        model = Pipeline([("columns", columns), ("model", model)])
    types = [(c, FloatTensorType([None, 1]) if c in numeric else StringTensorType([None, 1])) for c in features]
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    onnx = to_onnx(model, initial_types=types, options={id(final): {"zipmap": False}})
    artifact = onnx.SerializeToString()

    # The converted model must score the reference rows as scikit-learn does before it is uploaded.
    session = onnxruntime.InferenceSession(artifact, providers=["CPUExecutionProvider"])
    inputs = {}
    for c in features:
        column = frame[c]
        if c in numeric:
            inputs[c] = column.to_numpy(dtype=np.float32).reshape(-1, 1)
        else:
            inputs[c] = column.fillna("").astype(str).to_numpy(dtype=object).reshape(-1, 1)
    probabilities = [o for o in session.run(None, inputs) if getattr(o, "ndim", 0) == 2][-1]
    cast = frame.copy()
    for c in numeric:
        cast[c] = cast[c].astype("float32")
    for c in set(features) - numeric:
        cast[c] = cast[c].fillna("").astype(str)
    expected = model.predict_proba(cast)
    worst = float(np.max(np.abs(probabilities[:, -1] - expected[:, -1])))
    if not worst <= tolerance:
        raise ValueError(
            f"the ONNX conversion scores the reference rows up to {worst:.3g} away from scikit-learn "
            f"(tolerance {tolerance}): not registered"
        )
    params = _json_params(final.get_params()) if hasattr(final, "get_params") else {}
    return Packed(artifact, "onnx", params)
