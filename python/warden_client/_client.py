"""The client: one method per operation of the HTTP API, named as the operation is in `/v1/openapi.json`
(`tests/test_client.py` checks that every operation has its method), and the notebook helpers."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import httpx

from . import _auth, _models
from ._errors import WardenError


def _seg(value: Any) -> str:
    """A path segment, percent-encoded."""
    return quote(str(value), safe="")


def _query(**params: Any) -> dict:
    """Query parameters without the ones not given."""
    return {k: v for k, v in params.items() if v is not None}


def _frame(rows: Any, as_frame: bool):
    """Rows as a pandas DataFrame when pandas is installed and a frame is wanted; the JSON otherwise."""
    if not as_frame:
        return rows
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.json_normalize(rows) if isinstance(rows, list) else rows


class Client:
    """A connection to one Warden server.

    `token`: a Warden token or the identity provider's access token; without one, `WARDEN_TOKEN`, then the
    sign-in `warden login` (or `Client.login`) kept for this server, then `data_dir`'s `admin.token`.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8700",
        token: str | None = None,
        *,
        data_dir: str | os.PathLike | None = None,
        timeout: float = 120.0,
        verify: bool | str = True,
    ):
        self.url = url.rstrip("/")
        self.token = token if token is not None else _auth.resolve_token(self.url, data_dir)
        self._http = httpx.Client(base_url=self.url, timeout=timeout, verify=verify)

    @classmethod
    def login(cls, url: str = "http://127.0.0.1:8700", **kwargs) -> "Client":
        """Signs in through the identity provider the server names (device flow), keeps the token where the
        CLI keeps it, and returns a client using it."""
        _auth.device_login(url)
        return cls(url, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -----------------------------------------------------------------------------------------------------
    # The wire

    def _call(self, method: str, path: str, *, params=None, json_body=None, files=None, content=None,
              headers=None, raw: bool = False, public: bool = False):
        sent = dict(headers or {})
        if not public:
            sent["authorization"] = f"Bearer {self.token}"
        try:
            response = self._http.request(method, path, params=params, json=json_body, files=files,
                                          content=content, headers=sent)
        except httpx.HTTPError as err:
            raise WardenError(None, "unreachable", f"cannot reach Warden at {self.url}: {err}") from err
        if response.status_code >= 400:
            raise WardenError.of(response)
        if raw:
            return response
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    # -----------------------------------------------------------------------------------------------------
    # Health and identity

    def healthz(self) -> dict:
        return self._call("GET", "/healthz", public=True)

    def readyz(self) -> dict:
        response = self._call("GET", "/readyz", public=True, raw=True)
        return response.json()

    def whoami(self) -> dict:
        return self._call("GET", "/v1/whoami")

    def identity_provider(self) -> dict:
        return self._call("GET", "/v1/identity-provider", public=True)

    def metrics(self) -> str:
        return self._call("GET", "/metrics")

    def mlflow_webhook(self, body: bytes, *, delivery_id: str, timestamp: str, signature: str) -> dict:
        """Hands Warden one delivery of MLflow's registry webhook as MLflow sent it (to replay one MLflow gave
        up on): the signature, not a token, is its credential."""
        headers = {"content-type": "application/json", "x-mlflow-delivery-id": delivery_id,
                   "x-mlflow-timestamp": timestamp, "x-mlflow-signature": signature}
        return self._call("POST", "/v1/integrations/mlflow/webhook", content=body, headers=headers, public=True)

    # -----------------------------------------------------------------------------------------------------
    # Registry

    def create_model(self, name: str, *, owner: str, risk_tier: str, use_case: str = "", description: str = "",
                     business_line: str = "", tags: list[str] | None = None) -> dict:
        body = {"name": name, "owner": owner, "risk_tier": risk_tier, "use_case": use_case,
                "description": description, "business_line": business_line, "tags": tags or []}
        return self._call("POST", "/v1/models", json_body=body)

    def list_models(self) -> list:
        return self._call("GET", "/v1/models")

    def get_model(self, name: str) -> dict:
        return self._call("GET", f"/v1/models/{_seg(name)}")

    def register_version(self, model: str, *, artifact: bytes, reference: bytes, metadata: dict,
                         reference_name: str = "reference.csv") -> dict:
        """Registers a version from an artifact's bytes, a reference data file's bytes (CSV or Parquet) and
        the metadata (`format`, `target`, `protected`, lineage, …). `register` builds all three."""
        files = [
            ("metadata", ("metadata.json", json.dumps(metadata, allow_nan=False).encode(), "application/json")),
            ("artifact", ("artifact", artifact, "application/octet-stream")),
            ("reference", (reference_name, reference, "application/octet-stream")),
        ]
        return self._call("POST", f"/v1/models/{_seg(model)}/versions", files=files)

    def list_versions(self, model: str) -> list:
        return self._call("GET", f"/v1/models/{_seg(model)}/versions")

    def get_version(self, model: str, version: int | str) -> dict:
        return self._call("GET", f"/v1/models/{_seg(model)}/versions/{_seg(version)}")

    def get_artifact(self, model: str, version: int | str) -> bytes:
        return self._call("GET", f"/v1/models/{_seg(model)}/versions/{_seg(version)}/artifact", raw=True).content

    def list_aliases(self, model: str) -> list:
        return self._call("GET", f"/v1/models/{_seg(model)}/aliases")

    def get_alias(self, model: str, alias: str, *, at: str | None = None) -> dict:
        return self._call("GET", f"/v1/models/{_seg(model)}/aliases/{_seg(alias)}", params=_query(at=at))

    def set_alias(self, model: str, alias: str, version: int, *, reason: str = "", traffic: float | None = None) -> dict:
        body = _query(version=version, reason=reason, traffic=traffic)
        return self._call("PUT", f"/v1/models/{_seg(model)}/aliases/{_seg(alias)}", json_body=body)

    def delete_alias(self, model: str, alias: str, *, reason: str | None = None) -> Any:
        return self._call("DELETE", f"/v1/models/{_seg(model)}/aliases/{_seg(alias)}", params=_query(reason=reason))

    def alias_history(self, model: str, *, alias: str | None = None, as_frame: bool = True):
        rows = self._call("GET", f"/v1/models/{_seg(model)}/alias-history", params=_query(alias=alias))
        return _frame(rows, as_frame)

    # -----------------------------------------------------------------------------------------------------
    # Validation, approval, the gate, policies

    def validate(self, model: str, version: int | str, *, data: bytes | None = None, metadata: dict | None = None,
                 scenarios: bytes | None = None, data_name: str = "data.csv") -> dict:
        """Runs a validation: `data` (CSV or Parquet bytes) is the held-out data, `metadata` the options."""
        files = [("metadata", ("metadata.json", json.dumps(metadata or {}).encode(), "application/json"))]
        if data is not None:
            files.append(("data", (data_name, data, "application/octet-stream")))
        if scenarios is not None:
            files.append(("scenarios", ("scenarios.yaml", scenarios, "application/octet-stream")))
        return self._call("POST", f"/v1/models/{_seg(model)}/versions/{_seg(version)}/validations", files=files)

    def list_validations(self, model: str, version: int | str, *, as_frame: bool = True):
        """The version's validation reports, one row each (figures flattened into columns) as a DataFrame."""
        return _frame(self._call("GET", f"/v1/models/{_seg(model)}/versions/{_seg(version)}/validations"), as_frame)

    def approve(self, model: str, version: int | str, *, comment: str, decision: str = "approve") -> dict:
        body = {"decision": decision, "comment": comment}
        return self._call("POST", f"/v1/models/{_seg(model)}/versions/{_seg(version)}/approvals", json_body=body)

    def list_approvals(self, model: str, version: int | str) -> list:
        return self._call("GET", f"/v1/models/{_seg(model)}/versions/{_seg(version)}/approvals")

    def gate_check(self, model: str, version: int | str, *, alias: str | None = None) -> dict:
        return self._call("POST", f"/v1/models/{_seg(model)}/versions/{_seg(version)}/gate",
                          json_body=_query(alias=alias))

    def gate_decisions(self, model: str, version: int | str) -> list:
        return self._call("GET", f"/v1/models/{_seg(model)}/versions/{_seg(version)}/gate")

    def promote(self, model: str, version: int | str, *, alias: str = "champion", override: bool = False,
                reason: str = "", traffic: float | None = None) -> dict:
        """Moves a production alias through the gate (`override=True` with a `reason`: against it, admin only)."""
        body = _query(alias=alias, override=override, reason=reason, traffic=traffic)
        return self._call("POST", f"/v1/models/{_seg(model)}/versions/{_seg(version)}/promote", json_body=body)

    def get_policies(self) -> dict:
        return self._call("GET", "/v1/policies")

    def put_policies(self, files: dict[str, str]) -> dict:
        return self._call("PUT", "/v1/policies", json_body={"files": files})

    def policy_history(self) -> list:
        return self._call("GET", "/v1/policies/history")

    # -----------------------------------------------------------------------------------------------------
    # Scoring and decisions

    def score(self, model: str, features: dict, *, attributes: dict | None = None, request_id: str | None = None,
              version: int | str | None = None) -> dict:
        body = _query(features=features, attributes=attributes, request_id=request_id)
        return self._call("POST", f"/v1/models/{_seg(model)}/score", json_body=body, params=_query(version=version))

    def score_batch(self, model: str, requests: list[dict], *, version: int | str | None = None) -> dict:
        return self._call("POST", f"/v1/models/{_seg(model)}/score/batch", json_body=requests,
                          params=_query(version=version))

    def scoring_schema(self, model: str, *, version: int | str | None = None) -> dict:
        return self._call("GET", f"/v1/models/{_seg(model)}/score/schema", params=_query(version=version))

    def record_outcomes(self, outcomes: list[dict]) -> dict:
        return self._call("POST", "/v1/outcomes", json_body={"outcomes": outcomes})

    def list_decisions(self, model: str, *, limit: int | None = None, request_id: str | None = None,
                       as_frame: bool = True):
        rows = self._call("GET", f"/v1/models/{_seg(model)}/decisions", params=_query(limit=limit, request_id=request_id))
        return _frame(rows, as_frame)

    def review_decision(self, model: str, request_id: str, *, action: str, reason_code: str,
                        decision: str | None = None, note: str = "") -> dict:
        """Reviews one decision: `action` is confirm, override (to `decision`) or reverse, with one of the
        policy's reason codes. The decision's reviews come back with it from `list_decisions`."""
        body = {"model": model, "action": action, "reason_code": reason_code, "note": note}
        if decision is not None:
            body["decision"] = decision
        return self._call("POST", f"/v1/decisions/{_seg(request_id)}/review", json_body=body)

    def ingest_decisions(self, model: str, records: list[dict]) -> dict:
        return self._call("POST", f"/v1/models/{_seg(model)}/decisions", json_body=records)

    def kserve_event(self, model: str, version: int | str, event: dict, headers: dict) -> dict:
        """Posts one KServe inference logger CloudEvent (binary mode: `headers` carry `ce-*`)."""
        sent = {"content-type": "application/json", **headers}
        return self._call("POST", f"/v1/models/{_seg(model)}/versions/{_seg(version)}/kserve-events",
                          content=json.dumps(event).encode(), headers=sent)

    def ingestion(self, *, recent: int | None = None) -> dict:
        return self._call("GET", "/v1/ingestion", params=_query(recent=recent))

    def live_profiles(self, model: str) -> Any:
        return self._call("GET", f"/v1/models/{_seg(model)}/live")

    def live_drift(self, model: str, *, seconds: int | None = None, as_frame: bool = True):
        rows = self._call("GET", f"/v1/models/{_seg(model)}/live/drift", params=_query(seconds=seconds))
        return _frame(rows, as_frame)

    # -----------------------------------------------------------------------------------------------------
    # Monitoring, alerts, incidents, overview

    def list_monitors(self, model: str) -> list:
        return self._call("GET", f"/v1/models/{_seg(model)}/monitors")

    def set_monitor(self, model: str, monitor: str, change: dict) -> dict:
        return self._call("PUT", f"/v1/models/{_seg(model)}/monitors/{_seg(monitor)}", json_body=change)

    def evaluate_monitors(self) -> Any:
        return self._call("POST", "/v1/monitors/evaluate")

    def monitor_history(self, model: str, *, monitor: str | None = None, limit: int | None = None,
                        as_frame: bool = True):
        rows = self._call("GET", f"/v1/models/{_seg(model)}/monitors/history", params=_query(monitor=monitor, limit=limit))
        return _frame(rows, as_frame)

    def monitor_series(self, model: str, *, as_frame: bool = True, **query):
        return _frame(self._call("GET", f"/v1/models/{_seg(model)}/monitors/series", params=_query(**query)), as_frame)

    def list_alerts(self, *, as_frame: bool = False, **query):
        return _frame(self._call("GET", "/v1/alerts", params=_query(**query)), as_frame)

    def get_alert(self, alert_id: int) -> dict:
        return self._call("GET", f"/v1/alerts/{_seg(alert_id)}")

    def acknowledge_alert(self, alert_id: int, *, comment: str) -> dict:
        return self._call("POST", f"/v1/alerts/{_seg(alert_id)}/acknowledge", json_body={"comment": comment})

    def list_incidents(self, *, state: str | None = None) -> list:
        return self._call("GET", "/v1/incidents", params=_query(state=state))

    def get_incident(self, incident_id: int) -> dict:
        return self._call("GET", f"/v1/incidents/{_seg(incident_id)}")

    def resolve_incident(self, incident_id: int, *, comment: str) -> dict:
        return self._call("POST", f"/v1/incidents/{_seg(incident_id)}/resolve", json_body={"comment": comment})

    # Findings

    def raise_finding(
        self,
        model: str,
        *,
        kind: str,
        severity: str,
        title: str,
        description: str = "",
        version: int | None = None,
        owner: str | None = None,
    ) -> dict:
        body = {"kind": kind, "severity": severity, "title": title, "description": description,
                "version": version, "owner": owner}
        return self._call("POST", f"/v1/models/{_seg(model)}/findings", json_body=body)

    def list_attestations(self, *, model: str | None = None, overdue: bool = False) -> list:
        return self._call("GET", "/v1/attestations", params=_query(model=model, overdue="true" if overdue else None))

    def submit_attestation(self, attestation_id: int, *, still_used_as_documented: bool, limitations_hold: bool,
                           comment: str = "") -> dict:
        body = {"still_used_as_documented": still_used_as_documented, "limitations_hold": limitations_hold,
                "comment": comment}
        return self._call("POST", f"/v1/attestations/{_seg(attestation_id)}/submit", json_body=body)

    def review_attestation(self, attestation_id: int, *, accept: bool, comment: str = "") -> dict:
        return self._call("POST", f"/v1/attestations/{_seg(attestation_id)}/review",
                          json_body={"accept": accept, "comment": comment})

    def classify_incident(self, incident_id: int, *, framework: str, classified_at: str,
                          aware_at: str | None = None, ground: str | None = None, severity: str | None = None,
                          note: str = "") -> dict:
        """Classifies an incident (dora, ai_act, internal); the answer is its regulatory clocks."""
        body = {"framework": framework, "classified_at": classified_at, "note": note}
        body.update({k: v for k, v in {"aware_at": aware_at, "ground": ground, "severity": severity}.items() if v})
        return self._call("POST", f"/v1/incidents/{_seg(incident_id)}/classify", json_body=body)

    def record_incident_report(self, incident_id: int, *, framework: str, kind: str, reference: str,
                               submitted_at: str | None = None, content_sha256: str | None = None) -> dict:
        body = {"framework": framework, "kind": kind, "reference": reference}
        body.update({k: v for k, v in {"submitted_at": submitted_at, "content_sha256": content_sha256}.items() if v})
        return self._call("POST", f"/v1/incidents/{_seg(incident_id)}/reports", json_body=body)

    def incident_clocks(self, incident_id: int) -> dict:
        return self._call("GET", f"/v1/incidents/{_seg(incident_id)}/clocks")

    def dora_report(self, incident_id: int, *, kind: str) -> dict:
        """A DORA report's content (`kind`: initial, intermediate or final) in the ESAs' template fields;
        `to_complete` lists the fields the firm fills in."""
        return self._call("GET", f"/v1/incidents/{_seg(incident_id)}/dora-report", params={"kind": kind})

    def suspend_model(self, model: str, *, reason: str, fallback: str = "refer",
                      fallback_version: int | None = None) -> dict:
        """The stop switch: the model's fallback (decline, refer, or a gate-approved `fallback_version`) answers
        its production traffic on every replica until it is resumed."""
        body = {"reason": reason, "fallback": fallback}
        if fallback_version is not None:
            body["fallback_version"] = fallback_version
        return self._call("POST", f"/v1/models/{_seg(model)}/suspend", json_body=body)

    def resume_model(self, model: str, *, reason: str) -> dict:
        return self._call("POST", f"/v1/models/{_seg(model)}/resume", json_body={"reason": reason})

    def model_suspension(self, model: str) -> dict:
        return self._call("GET", f"/v1/models/{_seg(model)}/suspension")

    def get_data_policy(self, model: str) -> dict:
        """The model's data policy in force (retention, personal fields, subject key) and its purges."""
        return self._call("GET", f"/v1/models/{_seg(model)}/data-policy")

    def put_data_policy(self, model: str, *, reason: str, retention: dict | None = None,
                        personal: dict | None = None) -> dict:
        """Declares the model's data policy: `retention` (`decisions_days`, `features_days`, `outcomes_days`)
        and `personal` (`fields`: name -> "tokenise" or "encrypt"; `subject_key`)."""
        body = {"reason": reason, "retention": retention or {}, "personal": personal or {}}
        return self._call("PUT", f"/v1/models/{_seg(model)}/data-policy", json_body=body)

    def erase_subject(self, subject_key: str, *, reason: str) -> dict:
        """Erases one person's data from every model's decisions (the key travels in the body)."""
        return self._call("POST", "/v1/subjects/erase", json_body={"subject_key": subject_key, "reason": reason})

    def retire_model(self, model: str, *, reason: str) -> dict:
        """Retires a model (a high tier one: asks, and a second person's call confirms)."""
        return self._call("POST", f"/v1/models/{_seg(model)}/retire", json_body={"reason": reason})

    def import_findings(self, model: str, version: int, report: bytes | str, *, format: str,
                        target: str | None = None) -> dict:
        """Imports a scanner report (`format`: sarif, cyclonedx-vex, trivy or grype) as it was written:
        bytes, or the path of the file."""
        if isinstance(report, str):
            with open(report, "rb") as f:
                report = f.read()
        return self._call("POST", f"/v1/models/{_seg(model)}/versions/{_seg(version)}/findings/import",
                          params=_query(format=format, target=target), content=report,
                          headers={"Content-Type": "application/json"})

    def list_findings(self, *, model: str | None = None, state: str | None = None, overdue: bool = False) -> list:
        return self._call("GET", "/v1/findings", params=_query(model=model, state=state, overdue="true" if overdue else None))

    def get_finding(self, finding_id: int) -> dict:
        return self._call("GET", f"/v1/findings/{_seg(finding_id)}")

    def propose_remediation(self, finding_id: int, *, remediation: str) -> dict:
        return self._call("POST", f"/v1/findings/{_seg(finding_id)}/propose", json_body={"remediation": remediation})

    def close_finding(self, finding_id: int, *, evidence: str) -> dict:
        return self._call("POST", f"/v1/findings/{_seg(finding_id)}/close", json_body={"evidence": evidence})

    def accept_finding(self, finding_id: int, *, until: str, reason: str) -> dict:
        """Accepts the finding as a limitation until `until` (RFC 3339)."""
        body = {"until": until, "reason": reason}
        return self._call("POST", f"/v1/findings/{_seg(finding_id)}/accept", json_body=body)

    def except_finding(self, finding_id: int, *, until: str, reason: str) -> dict:
        """Grants a policy exception covering the finding until `until` (RFC 3339)."""
        body = {"until": until, "reason": reason}
        return self._call("POST", f"/v1/findings/{_seg(finding_id)}/except", json_body=body)

    def inventory(self, *, where: dict | None = None, q: str | None = None, tier: str | None = None,
                  as_frame: bool = False):
        """Every model's inventory line; `where` keeps those whose fields have these values, `q` those
        holding the text, `tier` those of that tier."""
        filters = ";".join(f"{name}={value}" for name, value in (where or {}).items()) or None
        return _frame(self._call("GET", "/v1/inventory", params=_query(where=filters, q=q, tier=tier)), as_frame)

    def inventory_schema(self) -> dict:
        """The organisation's inventory schema in force (a JSON Schema of the fields kept for every model)."""
        return self._call("GET", "/v1/inventory/fields")

    def put_inventory_schema(self, schema: dict) -> dict:
        return self._call("PUT", "/v1/inventory/fields", json_body=schema)

    def set_model_fields(self, model: str, *, set: dict | None = None, unset: list | None = None) -> dict:
        """Writes a model's inventory fields (validated against the schema in force); returns its tier."""
        body = {"set": set or {}, "unset": unset or []}
        return self._call("PATCH", f"/v1/models/{_seg(model)}/fields", json_body=body)

    def model_tier(self, model: str) -> dict:
        return self._call("GET", f"/v1/models/{_seg(model)}/tier")

    def override_model_tier(self, model: str, *, tier: str | None, reason: str) -> dict:
        """Overrides the model's tier with a reason; `tier=None` clears the override."""
        return self._call("PUT", f"/v1/models/{_seg(model)}/tier", json_body={"tier": tier, "reason": reason})

    def kpis(self, *, days: int | None = None) -> dict:
        return self._call("GET", "/v1/kpis", params=_query(days=days))

    # -----------------------------------------------------------------------------------------------------
    # Retraining

    def retrain(self, model: str, **body) -> dict:
        return self._call("POST", f"/v1/models/{_seg(model)}/retrain", json_body=body)

    def jobs(self, model: str) -> list:
        return self._call("GET", f"/v1/models/{_seg(model)}/retrain")

    def challenger_report(self, model: str, **query) -> dict:
        return self._call("GET", f"/v1/models/{_seg(model)}/challenger-report", params=_query(**query))

    def set_schedule(self, model: str, **body) -> Any:
        return self._call("PUT", f"/v1/models/{_seg(model)}/retrain/schedule", json_body=body)

    def get_schedule(self, model: str) -> Any:
        return self._call("GET", f"/v1/models/{_seg(model)}/retrain/schedule")

    # -----------------------------------------------------------------------------------------------------
    # Audit, ledger, evidence, tokens

    def list_events(self, *, after: int | None = None, subject: str | None = None, limit: int | None = None,
                    as_frame: bool = True):
        rows = self._call("GET", "/v1/audit/events", params=_query(after=after, subject=subject, limit=limit))
        return _frame(rows, as_frame)

    def entries(self, *, subject: str | None = None, start: int | None = None, limit: int | None = None) -> Any:
        return self._call("GET", "/v1/ledger/entries", params=_query(subject=subject, **{"from": start}, limit=limit))

    def proof(self, index: int) -> dict:
        return self._call("GET", f"/v1/ledger/entries/{_seg(index)}/proof")

    def list_checkpoints(self) -> list:
        return self._call("GET", "/v1/ledger/checkpoints")

    def make_checkpoint(self) -> dict:
        return self._call("POST", "/v1/ledger/checkpoints")

    def verify(self) -> dict:
        return self._call("POST", "/v1/ledger/verify")

    def key(self) -> Any:
        return self._call("GET", "/v1/ledger/key", public=True)

    def evidence(self, model: str, *, start: str | None = None, end: str | None = None) -> bytes:
        """The evidence bundle (bytes as the server sends them)."""
        return self._call("GET", f"/v1/models/{_seg(model)}/evidence", params=_query(**{"from": start, "to": end}),
                          raw=True).content

    def docs(self, model: str, *, template: str = "model-documentation", version: int | None = None,
             period: str | None = None) -> str:
        """A model document written from the ledger (HTML; check it with `warden docs verify`). `period` is what
        a `monitoring-report` covers: `YYYY-MM`, `YYYY-QN` or `last-N-days` (default `last-30-days`)."""
        return self._call("GET", f"/v1/models/{_seg(model)}/docs",
                          params=_query(template=template, version=version, period=period), raw=True).text

    def inventory_docs(self, *, template: str = "monitoring-report", period: str | None = None) -> str:
        """The monitoring report of every model in the inventory over `period` (HTML, checked like a model's
        documents by `warden docs verify`)."""
        return self._call("GET", "/v1/inventory/docs", params=_query(template=template, period=period), raw=True).text

    def export(self, model: str, version: int, format: str) -> dict:
        """A version as a CycloneDX 1.6 ML-BOM (`format="cyclonedx"`) or an SPDX 3.0.1 document with the AI
        and Dataset profiles (`format="spdx"`), written from the ledger."""
        path = f"/v1/models/{_seg(model)}/versions/{int(version)}/exports/{_seg(format)}"
        return self._call("GET", path, raw=True).json()

    def traceability(self, model: str, *, framework: str) -> dict:
        """The model's regulatory traceability matrix: each requirement of `framework` (`sr-26-2`, `ss1-23`,
        `eu-ai-act`) with the ledger entries that evidence it, or "no evidence"."""
        return self._call("GET", f"/v1/models/{_seg(model)}/traceability", params=_query(framework=framework))

    def create_token(self, name: str, *, role: str, expires_at: str | None = None, subject: str | None = None) -> dict:
        body = _query(name=name, role=role, expires_at=expires_at, subject=subject)
        return self._call("POST", "/v1/tokens", json_body=body)

    def list_tokens(self) -> list:
        return self._call("GET", "/v1/tokens")

    def revoke_token(self, name: str) -> Any:
        return self._call("DELETE", f"/v1/tokens/{_seg(name)}")

    # -----------------------------------------------------------------------------------------------------
    # Notebook helpers

    def register(self, model: str, artifact: Any, *, reference, target: str | None = None,
                 protected: list[str] | tuple = (), exclude: list[str] | tuple = (), training_data=None,
                 params: dict | None = None, code_ref: str | None = None, format: str | None = None,
                 serving: dict | None = None, parent_version: int | None = None, tolerance: float = 1e-6) -> dict:
        """Registers `artifact` with its reference data and lineage.

        `artifact` is a fitted scikit-learn pipeline or classifier (converted to ONNX here, and refused unless
        ONNX Runtime and scikit-learn agree within `tolerance` on every reference row), an XGBoost or LightGBM
        model (their text formats), or the bytes of an artifact with its `format`. `reference` and
        `training_data` are DataFrames (or CSV bytes); the training data's SHA-256 and rows become lineage.
        """
        reference_bytes = _models.csv_bytes(reference)
        features = _models.feature_columns(reference, target, protected, exclude)
        packed = _models.pack(artifact, reference, features, format, tolerance)
        metadata: dict = {"format": packed.format, "protected": list(protected), "exclude": list(exclude),
                          "hyperparameters": params if params is not None else packed.params}
        if target is not None:
            metadata["target"] = target
        if training_data is not None:
            training = _models.csv_bytes(training_data)
            metadata["training_data_sha256"] = _models.sha256(training)
            metadata["training_data_rows"] = _models.rows(training_data)
        if code_ref is not None:
            metadata["code_ref"] = code_ref
        if serving is not None:
            metadata["serving"] = serving
        if parent_version is not None:
            metadata["parent_version"] = parent_version
        return self.register_version(model, artifact=packed.bytes, reference=reference_bytes, metadata=metadata)

    def import_mlflow(self, tracking_uri: str, model_uri: str, *, as_model: str | None = None, reference=None,
                      target: str | None = None, protected: list[str] | tuple = ()) -> dict:
        """Registers a version of MLflow's model registry (`models:/NAME/VERSION` or `models:/NAME@ALIAS`) as
        `warden import mlflow` does, with one more flavour: a scikit-learn model is loaded here by MLflow and
        converted to ONNX (checked against scikit-learn) before anything is sent. The Warden model must exist."""
        from ._mlflow import import_mlflow

        return import_mlflow(self, tracking_uri, model_uri, as_model=as_model, reference=reference, target=target,
                             protected=protected)

    def score_frame(self, model: str, frame, *, attributes: list[str] | tuple = (), version: int | str | None = None,
                    chunk: int = 10_000, as_frame: bool = True):
        """Scores every row of a DataFrame through the batch route (`attributes` columns are sent as
        attributes, not features); the answers in row order, as a DataFrame when pandas is installed."""
        records = frame.to_dict(orient="records") if hasattr(frame, "to_dict") else list(frame)
        answers: list = []
        for start in range(0, len(records), chunk):
            requests = []
            for row in records[start:start + chunk]:
                row = {k: _models.plain(v) for k, v in row.items()}
                request = {"features": {k: v for k, v in row.items() if k not in attributes}}
                if attributes:
                    request["attributes"] = {k: row[k] for k in attributes if k in row}
                requests.append(request)
            answers.extend(self.score_batch(model, requests, version=version)["results"])
        return _frame(answers, as_frame)
