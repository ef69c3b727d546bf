"""The client against a real server: every API operation has its method, errors carry the server's code,
tokens come from where the CLI finds them, and a notebook's work (train, register with lineage, gate,
promote, score a DataFrame, read decisions and drift) gives the numbers scikit-learn gives."""

from __future__ import annotations

import hashlib
import io
import json
import time

import httpx
import numpy as np
import pandas as pd
import pytest

from conftest import GERMAN, REPO
from warden_client import Client, WardenError

NUMERIC = ["job", "credit_amount", "duration", "age"]
CATEGORICAL = ["housing", "saving_accounts", "checking_account", "purpose"]


def test_every_operation_of_the_api_has_a_method(server):
    api = httpx.get(f"{server.url}/v1/openapi.json").json()
    operations = {
        operation["operationId"]
        for item in api["paths"].values()
        for method, operation in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    }
    assert len(operations) > 60
    missing = sorted(op for op in operations if not callable(getattr(Client, op, None)))
    assert missing == [], f"operations without a client method: {missing}"


def test_errors_carry_the_servers_status_code_and_message(server):
    warden = Client(server.url, token=server.admin_token)
    with pytest.raises(WardenError) as refused:
        warden.get_model("no-such-model")
    assert refused.value.status == 404
    assert "no-such-model" in refused.value.message
    with pytest.raises(WardenError) as unauthenticated:
        Client(server.url, token="wdn_" + "0" * 64).list_models()
    assert unauthenticated.value.status == 401
    assert "invalid token" in unauthenticated.value.message


def test_the_token_comes_from_where_the_cli_finds_it(server, monkeypatch, tmp_path):
    monkeypatch.delenv("WARDEN_TOKEN", raising=False)
    monkeypatch.setenv("WARDEN_CONFIG_DIR", str(tmp_path / "config"))
    assert Client(server.url, data_dir=server.data_dir).whoami()["name"] == "admin"
    monkeypatch.setenv("WARDEN_TOKEN", "wdn_" + "1" * 64)
    with pytest.raises(WardenError):
        Client(server.url, data_dir=server.data_dir).whoami()
    monkeypatch.delenv("WARDEN_TOKEN")
    # A sign-in kept by `warden login` comes before the admin token file; an expired one says so.
    (tmp_path / "config").mkdir()
    credentials = {"servers": {server.url: {"token": server.admin_token, "expires_at": None, "name": "kept"}}}
    (tmp_path / "config/credentials.json").write_text(json.dumps(credentials))
    assert Client(server.url, data_dir=tmp_path / "nowhere").whoami()["name"] == "admin"
    credentials["servers"][server.url]["expires_at"] = int(time.time()) - 5
    (tmp_path / "config/credentials.json").write_text(json.dumps(credentials))
    with pytest.raises(WardenError, match="has expired"):
        Client(server.url, data_dir=tmp_path / "nowhere")
    with pytest.raises(WardenError, match="not signed in"):
        Client("http://127.0.0.1:9", data_dir=tmp_path / "nowhere")


SPDX = REPO / "crates/warden-testdata/data/schemas/spdx"


def assert_spdx_valid(document: dict) -> None:
    """Checks an SPDX 3.0.1 document against the published JSON schema (draft 2020-12) and, read as RDF with
    the published JSON-LD context, against the SHACL shapes of the SPDX model (pySHACL)."""
    import jsonschema
    import pyshacl
    import rdflib

    schema = json.loads((SPDX / "schema.json").read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(document), key=str)
    assert not errors, f"schema: {errors[0].message}"
    local = dict(document, **{"@context": json.loads((SPDX / "spdx-context.jsonld").read_text())["@context"]})
    data = rdflib.Graph().parse(data=json.dumps(local), format="json-ld")
    shapes = rdflib.Graph().parse(SPDX / "spdx-model.ttl", format="turtle")
    conforms, _, text = pyshacl.validate(data, shacl_graph=shapes, ont_graph=shapes, inference="none")
    assert conforms, f"SHACL: {text[:2000]}"


def german() -> pd.DataFrame:
    frame = pd.read_csv(GERMAN, keep_default_na=False, na_values=[""])
    for column in CATEGORICAL:
        frame[column] = frame[column].fillna("")
    return frame


def pipeline():
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return Pipeline([
        ("prep", ColumnTransformer([
            ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), NUMERIC),
            ("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent", missing_values="")),
                              ("onehot", OneHotEncoder(handle_unknown="ignore"))]), CATEGORICAL),
        ])),
        ("lr", LogisticRegression(max_iter=1000, C=0.5)),
    ])


def fitted():
    """The German credit data, its model inputs, and the pipeline fitted on them."""
    frame = german()
    features = frame[NUMERIC + CATEGORICAL].copy()
    features[NUMERIC] = features[NUMERIC].astype("float32")
    return frame, features, pipeline().fit(features, frame["risk"])


def test_a_notebook_registers_a_pipeline_with_lineage_and_scores_a_dataframe(server):
    warden = Client(server.url, token=server.admin_token)
    frame, features, model = fitted()

    warden.create_model("credit-nb", owner="retail-risk", risk_tier="medium", use_case="consumer loans")
    reference = frame[NUMERIC + CATEGORICAL + ["sex", "risk"]]
    version = warden.register("credit-nb", model, reference=reference, target="risk", protected=["sex"],
                              training_data=frame, code_ref="notebook@1")
    assert version["version"] == 1
    assert version["format"] == "onnx"
    lineage = version["lineage"]
    training = io.StringIO()
    frame.to_csv(training, index=False)
    assert lineage["training_data_sha256"] == hashlib.sha256(training.getvalue().encode()).hexdigest()
    assert lineage["training_data_rows"] == len(frame)
    assert lineage["hyperparameters"]["C"] == 0.5
    assert lineage["code_ref"] == "notebook@1"

    # The gate says why not; the admin promotes against it with a reason, as an emergency would.
    decision = warden.gate_check("credit-nb", 1)
    assert decision["allow"] is False and decision["deny"], decision
    warden.promote("credit-nb", 1, override=True, reason="notebook test")

    scored = warden.score_frame("credit-nb", reference.drop(columns=["risk"]).head(200), attributes=["sex"])
    expected = model.predict_proba(features.head(200))[:, 1]
    assert isinstance(scored, pd.DataFrame) and len(scored) == 200
    assert np.max(np.abs(scored["score"].to_numpy() - expected)) <= 1e-6

    decisions = warden.list_decisions("credit-nb", limit=500)
    assert isinstance(decisions, pd.DataFrame) and len(decisions) == 200
    # A person reverses one decision; the review comes back with it.
    first = decisions.iloc[0]
    review = warden.review_decision("credit-nb", first["request_id"], action="reverse", reason_code="model_error",
                                    note="checked by hand")
    assert review["decision_before"] == first["decision"] and review["decision"] != first["decision"], review
    again = warden.list_decisions("credit-nb", request_id=first["request_id"], as_frame=False)
    assert [r["id"] for r in again[0]["reviews"]] == [review["id"]]
    # The stop switch: a fallback answers (no score), marked; resumed, the champion answers again.
    assert warden.suspend_model("credit-nb", reason="notebook drill", fallback="refer")["suspended"] is True
    row = reference.drop(columns=["risk", "sex"]).dropna().iloc[0]
    answered = warden.score("credit-nb", {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    assert (answered["route"], answered["decision"], answered["score"]) == ("fallback", "refer", None), answered
    assert warden.model_suspension("credit-nb")["fallback"] == "refer"
    assert warden.resume_model("credit-nb", reason="drill over")["suspended"] is False
    # A data policy names the person; scored, their data is erased once, and the second erasure is a 404.
    policy = warden.put_data_policy("credit-nb", reason="notebook drill", retention={"decisions_days": 400},
                                   personal={"subject_key": "customer"})
    assert policy["personal"]["subject_key"] == "customer" and policy["min_decision_days"] == 183, policy
    features = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    warden.score("credit-nb", features, attributes={"customer": "N-1"})
    erased = warden.erase_subject("N-1", reason="notebook request")
    assert [(e["kind"], e["rows"]) for e in erased["erased"]] == [("erasure", 1)], erased
    with pytest.raises(WardenError) as refused:
        warden.erase_subject("N-1", reason="again")
    assert refused.value.status == 404
    assert [p["kind"] for p in warden.get_data_policy("credit-nb")["purges"]] == ["erasure"]
    drift = warden.live_drift("credit-nb", seconds=3600)
    assert isinstance(drift, pd.DataFrame)
    events = warden.list_events(subject="model/credit-nb")
    assert "version.register" in set(events["action"])


def test_a_conversion_that_disagrees_with_scikit_learn_is_not_uploaded(server):
    warden = Client(server.url, token=server.admin_token)
    frame, _, model = fitted()
    warden.create_model("credit-strict", owner="retail-risk", risk_tier="low", use_case="test")
    # No conversion is exact to a negative tolerance: the check runs, and refuses before anything is sent.
    with pytest.raises(ValueError, match="not registered"):
        warden.register("credit-strict", model, reference=frame[NUMERIC + CATEGORICAL + ["risk"]], target="risk",
                        tolerance=-1.0)
    assert warden.list_versions("credit-strict") == []


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_boosters_are_registered_in_their_text_formats_and_score_as_they_predict(server, library):
    warden = Client(server.url, token=server.admin_token)
    frame = german()
    columns = ["duration", "credit_amount", "age", "job"]
    x = frame[columns].astype("float64")
    y = 1 - frame["risk"]
    if library == "xgboost":
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, learning_rate=0.3).fit(x, y)
        expected_format = "xgboost-json"
    else:
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(x, y)
        expected_format = "lightgbm-text"
    name = f"credit-{library}"
    warden.create_model(name, owner="retail-risk", risk_tier="low", use_case="test")
    reference = frame[columns + ["risk"]]
    version = warden.register(name, model, reference=reference, target="risk")
    assert version["format"] == expected_format
    assert version["lineage"]["hyperparameters"]["n_estimators"] == 20
    warden.promote(name, 1, override=True, reason="booster test")
    scored = warden.score_frame(name, frame[columns].head(100))
    expected = model.predict_proba(x.head(100))[:, 1]
    assert np.max(np.abs(scored["score"].to_numpy() - expected)) <= 1e-6


def test_inventory_fields_set_the_tier_and_filter_the_inventory(server):
    warden = Client(server.url, token=server.admin_token)
    warden.create_model("tiered", owner="cards-risk", risk_tier="low", use_case="fraud screening")
    schema = {"type": "object", "properties": {"business_line": {"enum": ["retail", "cards"]},
                                               "exposure": {"type": "number", "minimum": 0}}}
    assert warden.put_inventory_schema(schema)["fields"] == ["business_line", "exposure"]
    assert warden.inventory_schema()["schema"] == schema
    with pytest.raises(WardenError) as refused:
        warden.set_model_fields("tiered", set={"vendor": "acme"})
    assert refused.value.status == 422
    assert "unknown inventory field 'vendor'" in refused.value.message
    tier = warden.set_model_fields("tiered", set={"business_line": "cards", "exposure": 150_000_000})
    assert (tier["tier"], tier["basis"]) == ("high", "computed")
    assert warden.model_tier("tiered")["reasons"] == ["exposure 150000000 is at least 100000000"]
    overridden = warden.override_model_tier("tiered", tier="medium", reason="exposure capped by the committee")
    assert (overridden["tier"], overridden["basis"], overridden["computed"]["tier"]) == ("medium", "override", "high")
    assert warden.override_model_tier("tiered", tier=None, reason="cap lifted")["tier"] == "high"
    names = [line["name"] for line in warden.inventory(where={"business_line": "cards"}, tier="high")]
    assert names == ["tiered"]
    assert warden.inventory(where={"business_line": "retail"}) == []
    frame = warden.inventory(q="FRAUD SCREEN", as_frame=True)
    assert list(frame["name"]) == ["tiered"]


def test_a_version_exports_as_cyclonedx_and_spdx_that_their_reference_libraries_read(server):
    """CycloneDX: cyclonedx-python-lib's strict validator finds the ML-BOM valid against the 1.6 schema, and
    its model reads it and writes it back valid with the same components, hashes and dependencies (the
    library does not model `modelCard`: the schema check covers it). SPDX: the 3.0.1 bindings generated
    from the specification's model read every element (each property type-checked) and write them back
    (which checks every required property)."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.output.json import JsonV1Dot6
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from spdx_python_model import v3_0_1 as spdx

    admin = Client(server.url, token=server.admin_token)
    frame, _, model = fitted()
    admin.create_model("credit-bom", owner="retail-risk", risk_tier="high", use_case="consumer loans")
    reference = frame[NUMERIC + CATEGORICAL + ["sex", "risk"]]
    admin.register("credit-bom", model, reference=reference, target="risk", protected=["sex"],
                   training_data=frame, code_ref="notebook@2")
    validator = Client(server.url, token=admin.create_token("vic-bom", role="validator")["secret"])
    held_out = io.StringIO()
    reference.to_csv(held_out, index=False)
    report = validator.validate("credit-bom", 1, data=held_out.getvalue().encode(), metadata={"target": "risk"})
    auc = report["figures"]["discrimination"]["auc"]

    bom = admin.export("credit-bom", 1, "cyclonedx")
    strict = JsonStrictValidator(SchemaVersion.V1_6)
    assert strict.validate_str(json.dumps(bom)) is None
    broken = json.loads(json.dumps(bom))
    broken["components"][0]["modelCard"]["modelParameters"]["approach"]["type"] = "guesswork"
    assert strict.validate_str(json.dumps(broken)) is not None, "the validator refuses what the schema does"
    metrics = bom["components"][0]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    assert next(m for m in metrics if m["type"] == "AUC")["value"] == json.dumps(auc)
    read = Bom.from_json(bom)
    written = json.loads(JsonV1Dot6(read).output_as_string())
    assert strict.validate_str(json.dumps(written)) is None

    def components(document):
        return {c["bom-ref"]: (c["type"], c["name"], c.get("version"), json.dumps(c["hashes"]))
                for c in document["components"]}

    def dependencies(document):
        return {d["ref"]: sorted(d.get("dependsOn", [])) for d in document["dependencies"]}

    assert components(written) == components(bom)
    assert dependencies(written) == dependencies(bom)
    assert written["serialNumber"] == bom["serialNumber"]
    assert admin.export("credit-bom", 1, "cyclonedx")["serialNumber"] != bom["serialNumber"], "new for each BOM"

    document = admin.export("credit-bom", 1, "spdx")
    objects = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().deserialize_data(document, objects)
    packages = list(objects.foreach_type(spdx.ai_AIPackage))
    assert len(packages) == 1
    package = packages[0]
    assert package.name == "credit-bom" and package.software_packageVersion == "1"
    assert {e.key: e.value for e in package.ai_metric}["AUC"] == json.dumps(auc)
    assert "Model risk tier: high" in package.comment
    assert package.suppliedBy.name == "retail-risk"
    datasets = list(objects.foreach_type(spdx.dataset_DatasetPackage))
    assert len(datasets) == 3, "training, reference and validation data"
    kinds = sorted(r.relationshipType.rsplit("/", 1)[-1] for r in objects.foreach_type(spdx.Relationship))
    assert kinds == ["other", "testedOn", "trainedOn"]
    out = io.BytesIO()
    spdx.JSONLDSerializer().write(objects, out)
    again = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().deserialize_data(json.loads(out.getvalue()), again)
    assert len(list(again.foreach())) == len(list(objects.foreach()))
    # The SPDX 3.0.1 JSON schema and the model's SHACL shapes, as published with the specification.
    assert_spdx_valid(document)
    # Each check can fail: a package without its creation information fails the schema; a relationship from
    # an element the document does not hold (any IRI passes the schema) fails the shapes.
    broken = json.loads(json.dumps(document))
    del next(e for e in broken["@graph"] if e["type"] == "ai_AIPackage")["creationInfo"]
    with pytest.raises(AssertionError, match="^schema"):
        assert_spdx_valid(broken)
    dangling = json.loads(json.dumps(document))
    next(e for e in dangling["@graph"] if e["type"] == "Relationship")["from"] = "https://example.invalid/none"
    with pytest.raises(AssertionError, match="^SHACL"):
        assert_spdx_valid(dangling)

    with pytest.raises(WardenError) as refused:
        admin.export("credit-bom", 1, "sbom")
    assert refused.value.status == 422 and "no export format 'sbom'" in str(refused.value)

    report = admin.docs("credit-bom", template="monitoring-report", period="last-7-days")
    assert "<h1>Ongoing monitoring report: credit-bom</h1>" in report and 'id="warden-ledger"' in report
    with pytest.raises(WardenError) as refused:
        admin.docs("credit-bom", template="monitoring-report", period="2026-13")
    assert refused.value.status == 422 and "period '2026-13'" in str(refused.value)
    inventory = admin.inventory_docs(period="2026-Q4")
    assert "<h1>Ongoing monitoring report: the inventory</h1>" in inventory and 'id="model-credit-bom"' in inventory
    with pytest.raises(WardenError) as refused:
        admin.inventory_docs(template="model-documentation")
    assert refused.value.status == 422 and "written per model" in str(refused.value)
