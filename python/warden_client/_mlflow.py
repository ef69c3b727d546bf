"""`Client.import_mlflow`: a version of MLflow's model registry registered in Warden, read over MLflow's REST API
as `warden import mlflow` reads it. A scikit-learn flavour (a pickle) is loaded here, on the data scientist's
machine, with MLflow itself, and converted to ONNX by `register`: the server never sees a pickle."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ._errors import WardenError

_MAX_DOCUMENT_BYTES = 4 << 20
# A path segment that neither URL parsing nor the server reads as going elsewhere.
_PLAIN = re.compile(r"[A-Za-z0-9._-]+")


def _shown(uri: str) -> str:
    """A tracking URI as recorded: without the user, password or query it may carry."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


class _Mlflow:
    def __init__(self, tracking_uri: str, timeout: float):
        self.base = tracking_uri.rstrip("/")
        self.http = httpx.Client(timeout=timeout)

    def get(self, path: str, params: dict | None = None) -> bytes:
        try:
            response = self.http.get(f"{self.base}{path}", params=params)
        except httpx.HTTPError as err:
            raise WardenError(None, "mlflow", f"cannot reach the MLflow tracking server at {_shown(self.base)}: {err}") from err
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text[:200])
            except ValueError:
                message = response.text[:200]
            raise WardenError(response.status_code, "mlflow", f"MLflow answered {response.status_code} to {path}: {message}")
        return response.content

    def json(self, path: str, params: dict | None = None) -> Any:
        return json.loads(self.get(path, params))

    def artifact(self, root: str, file: str) -> bytes:
        root = root.rstrip("/")
        for what, text in (("the model's directory", root), ("MLmodel's file", file)):
            if not all(_PLAIN.fullmatch(segment) and segment not in (".", "..") for segment in text.split("/")):
                raise WardenError(None, "mlflow", f"{what} '{text}' is not a plain relative path: refused")
        return self.get(f"/api/2.0/mlflow-artifacts/artifacts/{root}/{file}")


def _model_version(mlflow: _Mlflow, model_uri: str) -> dict:
    if not model_uri.startswith("models:/"):
        raise WardenError(None, "mlflow", f"'{model_uri}' is not a models:/NAME/VERSION URI")
    rest = model_uri[len("models:/"):]
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return mlflow.json("/api/2.0/mlflow/registered-models/alias", {"name": name, "alias": alias})["model_version"]
    name, _, version = rest.rpartition("/")
    if not name or not version.isdigit():
        raise WardenError(None, "mlflow", f"'{model_uri}' is not models:/NAME/VERSION or models:/NAME@ALIAS")
    return mlflow.json("/api/2.0/mlflow/model-versions/get", {"name": name, "version": version})["model_version"]


def _lineage(run: dict, model_uri: str, tracking: str) -> tuple[dict, str | None]:
    params: dict = {}
    for param in run.get("data", {}).get("params", []):
        try:
            value: Any = float(param["value"])
        except ValueError:
            value = param["value"]
        params[param["key"]] = value
    params["mlflow.tracking_uri"] = _shown(tracking)
    params["mlflow.model_uri"] = model_uri
    params["mlflow.run_id"] = run.get("info", {}).get("run_id")
    for metric in run.get("data", {}).get("metrics", []):
        params[f"mlflow.metric.{metric['key']}"] = metric["value"]
    for entry in run.get("inputs", {}).get("dataset_inputs", []):
        dataset = entry.get("dataset", {})
        if "name" in dataset:
            params[f"mlflow.dataset.{dataset['name']}.digest"] = dataset.get("digest")
    tags = {t["key"]: t["value"] for t in run.get("data", {}).get("tags", [])}
    commit = tags.get("mlflow.source.git.commit")
    return params, (f"git:{commit}" if commit else None)


def _evaluation_dataset(mlflow: _Mlflow, run: dict):
    """The file of the run's dataset logged with context `evaluation`, when the tracking server holds it (a
    `mlflow-artifacts:/` URI or a URL of this server's artifact proxy); sources elsewhere are not fetched."""
    proxy = f"{mlflow.base}/api/2.0/mlflow-artifacts/artifacts/"
    for entry in run.get("inputs", {}).get("dataset_inputs", []):
        if {t["key"]: t["value"] for t in entry.get("tags", [])}.get("mlflow.data.context") != "evaluation":
            continue
        try:
            source = json.loads(entry.get("dataset", {}).get("source", "{}"))
        except ValueError:
            continue
        uri, url = source.get("uri", ""), source.get("url", "")
        path = (uri[len("mlflow-artifacts:/"):] if uri.startswith("mlflow-artifacts:/")
                else url[len(proxy):] if url.startswith(proxy) else None)
        if path and path.lower().endswith((".csv", ".parquet")):
            import io

            import pandas as pd

            directory, _, file = path.rpartition("/")
            data = io.BytesIO(mlflow.artifact(directory, file))
            return pd.read_parquet(data) if path.lower().endswith(".parquet") else pd.read_csv(data)
    return None


def import_mlflow(client, tracking_uri: str, model_uri: str, *, as_model: str | None = None, reference=None,
                  target: str | None = None, protected=(), timeout: float = 300.0) -> dict:
    import yaml

    mlflow = _Mlflow(tracking_uri, timeout)
    version = _model_version(mlflow, model_uri)
    name, number = version["name"], version["version"]
    uri = mlflow.json("/api/2.0/mlflow/model-versions/get-download-uri", {"name": name, "version": number})["artifact_uri"]
    if not uri.startswith("mlflow-artifacts:/"):
        raise WardenError(None, "mlflow", f"the model's files are at {uri}, outside the tracking server's artifact proxy")
    root = uri[len("mlflow-artifacts:/"):]
    mlmodel = yaml.safe_load(mlflow.artifact(root, "MLmodel"))
    flavors = mlmodel.get("flavors", {})
    canonical = f"models:/{name}/{number}"
    run = mlflow.json("/api/2.0/mlflow/runs/get", {"run_id": version["run_id"]})["run"] if version.get("run_id") else {}
    params, code_ref = _lineage(run, canonical, mlflow.base)
    # The command line's columns, else the version's (or registered model's) `warden.*` tags.
    tags = {t["key"]: t["value"] for t in version.get("tags", [])}
    registered = mlflow.json("/api/2.0/mlflow/registered-models/get", {"name": name})["registered_model"]
    tags = {t["key"]: t["value"] for t in registered.get("tags", [])} | tags
    if target is None:
        target = tags.get("warden.target")
    if not protected and "warden.protected" in tags:
        protected = [p.strip() for p in tags["warden.protected"].split(",") if p.strip()]
    if reference is None:
        reference = _evaluation_dataset(mlflow, run)
    if reference is None:
        example = mlmodel.get("saved_input_example_info", {}).get("artifact_path")
        if example is None:
            raise WardenError(None, "mlflow", "the model logged no input example or evaluation dataset: give reference data")
        import pandas as pd

        document = json.loads(mlflow.artifact(root, example))
        reference = (pd.DataFrame(document["data"], columns=document["columns"])
                     if "columns" in document else pd.DataFrame({k: [v[0] if isinstance(v, list) else v for v in vs]
                                                                  for k, vs in document.items()}))
    target_model = as_model or name
    common = dict(reference=reference, target=target, protected=list(protected), params=params, code_ref=code_ref)
    if "onnx" in flavors:
        return client.register(target_model, mlflow.artifact(root, flavors["onnx"].get("data", "model.onnx")),
                               format="onnx", **common)
    xgboost_format = flavors.get("xgboost", {}).get("model_format")
    if xgboost_format in ("json", "ubj"):
        return client.register(target_model, mlflow.artifact(root, flavors["xgboost"].get("data", f"model.{xgboost_format}")),
                               format=f"xgboost-{xgboost_format}", **common)
    if "lightgbm" in flavors and flavors["lightgbm"].get("model_class", "lightgbm.basic.Booster") == "lightgbm.basic.Booster":
        return client.register(target_model, mlflow.artifact(root, flavors["lightgbm"].get("data", "model.lgb")),
                               format="lightgbm-text", **common)
    if "sklearn" in flavors:
        # Loaded here, on this machine, by MLflow; converted to ONNX and checked by `register`.
        import mlflow as mlflow_library

        mlflow_library.set_tracking_uri(tracking_uri)
        model = mlflow_library.sklearn.load_model(canonical)
        return client.register(target_model, model, **common)
    raise WardenError(None, "mlflow", f"no flavour Warden can take: {', '.join(flavors)}")
