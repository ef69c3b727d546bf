//! `warden import mlflow`: a version of MLflow's model registry registered in Warden, with what MLflow knows
//! about it. Read over MLflow's REST API: the model version (`model-versions/get`), where its files are
//! (`get-download-uri`, artifacts proxied by the tracking server), its `MLmodel` (flavours, signature, input
//! example) and its run (parameters, metrics, git commit, dataset digests).
//!
//! Only flavours Warden reads without running code are taken: `onnx`, `xgboost` saved as JSON or UBJSON,
//! `lightgbm` boosters. A
//! scikit-learn or pyfunc-only model is a pickle: refused with the way to convert it on the client (the Python
//! client's `import_mlflow` converts scikit-learn to ONNX there). Nothing is unpickled.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::multipart::{Form, Part};
use serde_json::{Map, Value, json};
use warden_api_types as api;

use crate::cli::ImportMlflowArgs;
use crate::client::{Client, encode};

/// Largest `MLmodel`, input example or REST answer read from MLflow.
const MAX_DOCUMENT_BYTES: usize = 4 << 20;
/// Largest model file downloaded.
const MAX_ARTIFACT_BYTES: usize = 1 << 30;

/// A `models:/NAME/VERSION` or `models:/NAME@ALIAS` URI.
#[derive(Debug, PartialEq)]
enum ModelRef {
    Version { name: String, version: String },
    Alias { name: String, alias: String },
}

fn parse_model_uri(uri: &str) -> anyhow::Result<ModelRef> {
    let rest = uri.strip_prefix("models:/").with_context(|| format!("'{uri}' is not a models:/NAME/VERSION URI"))?;
    if let Some((name, alias)) = rest.split_once('@') {
        if name.is_empty() || alias.is_empty() {
            bail!("'{uri}' names no model or alias");
        }
        return Ok(ModelRef::Alias { name: name.into(), alias: alias.into() });
    }
    match rest.rsplit_once('/') {
        Some((name, version)) if !name.is_empty() && version.parse::<u64>().is_ok() => {
            Ok(ModelRef::Version { name: name.into(), version: version.into() })
        }
        _ => bail!("'{uri}' is not models:/NAME/VERSION (a version number) or models:/NAME@ALIAS"),
    }
}

/// The tracking server's REST API.
struct Mlflow {
    http: reqwest::Client,
    base: String,
}

impl Mlflow {
    async fn get(&self, path: &str, query: &[(&str, &str)], limit: usize) -> anyhow::Result<Vec<u8>> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query)
            .with_context(|| format!("'{}' is not a URL", shown(&self.base)))?;
        let mut response = self
            .http
            .get(url.clone())
            .send()
            .await
            .with_context(|| format!("cannot reach the MLflow tracking server at {}", shown(&self.base)))?;
        let status = response.status();
        // An error answer is read only as far as its message needs.
        let limit = if status.is_success() { limit } else { MAX_DOCUMENT_BYTES };
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.with_context(|| format!("reading {path}"))? {
            if body.len() + chunk.len() > limit {
                bail!("MLflow's answer to {path} is over {limit} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let text = message["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            let text = warden_registry::sign_in::clip(&text);
            bail!("MLflow answered {status} to {path}: {text}");
        }
        Ok(body)
    }

    async fn json(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<Value> {
        let body = self.get(path, query, MAX_DOCUMENT_BYTES).await?;
        serde_json::from_slice(&body).with_context(|| format!("MLflow's answer to {path} is not JSON"))
    }

    /// A file under a `mlflow-artifacts:/` URI, through the tracking server's artifact proxy. The model's
    /// directory and the file's name are plain path segments (letters, digits, `.`, `_`, `-`): nothing that
    /// URL parsing or the server could read as going elsewhere (`..`, `%2e`, `\\`, `?`, `#`).
    async fn artifact(&self, root: &str, file: &str, limit: usize) -> anyhow::Result<Vec<u8>> {
        let path = root.trim_end_matches('/');
        for (what, text) in [("the model's directory", path), ("MLmodel's file", file)] {
            let plain = |segment: &str| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            };
            if !text.split('/').all(plain) {
                bail!("{what} '{text}' is not a plain relative path: refused");
            }
        }
        self.get(&format!("/api/2.0/mlflow-artifacts/artifacts/{path}/{file}"), &[], limit).await
    }
}

/// A tracking URI as recorded and shown: without the user, password or query it may carry.
fn shown(uri: &str) -> String {
    match reqwest::Url::parse(uri) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// What MLflow's `MLmodel` says, as far as Warden uses it.
struct Flavour {
    format: &'static str,
    file: String,
}

/// The flavour Warden registers, or why none can be.
fn flavour(mlmodel: &serde_yaml_ng::Value) -> anyhow::Result<Flavour> {
    let flavors = mlmodel.get("flavors").context("MLmodel has no flavors")?;
    let data = |name: &str, default: &str| {
        flavors
            .get(name)
            .and_then(|f| f.get("data").or_else(|| f.get("model_data")))
            .and_then(|d| d.as_str())
            .unwrap_or(default)
            .to_owned()
    };
    if flavors.get("onnx").is_some() {
        return Ok(Flavour { format: "onnx", file: data("onnx", "model.onnx") });
    }
    if let Some(xgboost) = flavors.get("xgboost") {
        let format = xgboost.get("model_format").and_then(|f| f.as_str()).unwrap_or("xgb");
        let file = data("xgboost", &format!("model.{format}"));
        return match format {
            "json" => Ok(Flavour { format: "xgboost-json", file }),
            "ubj" => Ok(Flavour { format: "xgboost-ubj", file }),
            other => bail!(
                "the xgboost flavour is saved as '{other}' (XGBoost's legacy binary); Warden reads its JSON and \
                 UBJSON: log it with mlflow.xgboost.log_model(..., model_format=\"ubj\")"
            ),
        };
    }
    if let Some(lightgbm) = flavors.get("lightgbm") {
        // A booster is saved as LightGBM's text; a scikit-learn estimator as a pickle (or skops).
        let class = lightgbm.get("model_class").and_then(|c| c.as_str()).unwrap_or("lightgbm.basic.Booster");
        if class != "lightgbm.basic.Booster" {
            bail!(
                "the lightgbm flavour holds a {class}, saved as a pickle: log its booster (model.booster_) with \
                 mlflow.lightgbm.log_model, which saves LightGBM's text format"
            );
        }
        return Ok(Flavour { format: "lightgbm-text", file: data("lightgbm", "model.lgb") });
    }
    let names: Vec<String> = flavors
        .as_mapping()
        .map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    bail!(
        "this MLflow model has only the flavours {} — a pickle, which Warden never loads: log an onnx flavour \
         (skl2onnx), or import it with the Python client's import_mlflow, which converts scikit-learn to ONNX on \
         your machine",
        names.join(", ")
    )
}

/// The signature's inputs as Warden's feature schema: numbers numeric, text and booleans categorical.
fn schema_of(mlmodel: &serde_yaml_ng::Value) -> anyhow::Result<Option<Vec<Value>>> {
    let Some(inputs) = mlmodel.get("signature").and_then(|s| s.get("inputs")).and_then(|i| i.as_str()) else {
        return Ok(None);
    };
    let columns: Vec<Value> = serde_json::from_str(inputs).context("the MLmodel signature's inputs are not JSON")?;
    let mut features = Vec::new();
    for column in &columns {
        let Some(name) = column["name"].as_str() else {
            // A tensor signature names no columns: the reference data says what they are.
            return Ok(None);
        };
        let kind = match column["type"].as_str() {
            Some("double" | "float" | "long" | "integer") => "numeric",
            Some("string" | "boolean") => "categorical",
            other => bail!("the signature's column '{name}' has the type {other:?}, which Warden does not score"),
        };
        features.push(json!({"name": name, "type": kind, "nullable": true}));
    }
    Ok(Some(features))
}

/// An input example as CSV: pandas' `split` orientation (`columns`, `data`) or a column → values object.
fn example_csv(example: &Value) -> anyhow::Result<Vec<u8>> {
    let (columns, rows): (Vec<String>, Vec<Vec<Value>>) = match example {
        Value::Object(o) if o.contains_key("columns") && o.contains_key("data") => {
            let columns = o["columns"].as_array().context("input example: columns")?;
            let columns = columns
                .iter()
                .map(|c| c.as_str().map(str::to_owned).context("a column name"))
                .collect::<anyhow::Result<_>>()?;
            let rows = o["data"].as_array().context("input example: data")?;
            let rows = rows.iter().map(|r| r.as_array().cloned().context("a row")).collect::<anyhow::Result<_>>()?;
            (columns, rows)
        }
        Value::Object(o) => {
            let columns: Vec<String> = o.keys().cloned().collect();
            let values: Vec<Vec<Value>> = o
                .values()
                .map(|v| {
                    v.as_array()
                        .map(|cells| {
                            cells
                                .iter()
                                .map(|c| c.as_array().and_then(|a| a.first()).cloned().unwrap_or_else(|| c.clone()))
                                .collect()
                        })
                        .context("input example: a column that is not a list")
                })
                .collect::<anyhow::Result<_>>()?;
            let height = values.first().map_or(0, Vec::len);
            let rows = (0..height)
                .map(|r| values.iter().map(|column| column.get(r).cloned().unwrap_or(Value::Null)).collect())
                .collect();
            (columns, rows)
        }
        _ => bail!("the input example is not a table (pandas split orientation or columns of values)"),
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&columns)?;
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        writer.write_record(&cells)?;
    }
    Ok(writer.into_inner()?)
}

/// A run's parameters as hyperparameters (numbers where they are numbers), with MLflow's provenance under
/// `mlflow.*`: the model URI, run id, metrics and the digests of the datasets the run logged.
fn lineage_of(run: &Value, model_uri: &str, tracking: &str) -> (Map<String, Value>, Option<String>) {
    let mut hyperparameters = Map::new();
    for param in run["data"]["params"].as_array().into_iter().flatten() {
        if let (Some(key), Some(value)) = (param["key"].as_str(), param["value"].as_str()) {
            let parsed = value.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| json!(v));
            hyperparameters.insert(key.into(), parsed.unwrap_or_else(|| json!(value)));
        }
    }
    hyperparameters.insert("mlflow.tracking_uri".into(), json!(shown(tracking)));
    hyperparameters.insert("mlflow.model_uri".into(), json!(model_uri));
    hyperparameters.insert("mlflow.run_id".into(), run["info"]["run_id"].clone());
    for metric in run["data"]["metrics"].as_array().into_iter().flatten() {
        if let Some(key) = metric["key"].as_str() {
            hyperparameters.insert(format!("mlflow.metric.{key}"), metric["value"].clone());
        }
    }
    for input in run["inputs"]["dataset_inputs"].as_array().into_iter().flatten() {
        if let Some(name) = input["dataset"]["name"].as_str() {
            hyperparameters.insert(format!("mlflow.dataset.{name}.digest"), input["dataset"]["digest"].clone());
        }
    }
    let tags: BTreeMap<&str, &str> = run["data"]["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["key"].as_str()?, t["value"].as_str()?)))
        .collect();
    let code_ref = tags.get("mlflow.source.git.commit").map(|commit| format!("git:{commit}"));
    (hyperparameters, code_ref)
}

/// `warden import mlflow`.
pub(crate) async fn import(args: ImportMlflowArgs) -> anyhow::Result<()> {
    let model_ref = parse_model_uri(&args.model_uri)?;
    warden_registry::install_tls_provider();
    let mlflow = Mlflow {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client")?,
        base: args.tracking_uri.trim_end_matches('/').to_owned(),
    };
    let version = match &model_ref {
        ModelRef::Version { name, version } => {
            mlflow.json("/api/2.0/mlflow/model-versions/get", &[("name", name), ("version", version)]).await?
        }
        ModelRef::Alias { name, alias } => {
            mlflow.json("/api/2.0/mlflow/registered-models/alias", &[("name", name), ("alias", alias)]).await?
        }
    }["model_version"]
        .clone();
    let (name, number) = (
        version["name"].as_str().context("MLflow's model version has no name")?.to_owned(),
        version["version"].as_str().context("MLflow's model version has no version")?.to_owned(),
    );
    let download = mlflow
        .json("/api/2.0/mlflow/model-versions/get-download-uri", &[("name", &name), ("version", &number)])
        .await?;
    let artifact_uri = download["artifact_uri"].as_str().context("MLflow gave no download URI")?;
    let root = artifact_uri.strip_prefix("mlflow-artifacts:/").with_context(|| {
        format!(
            "the model's files are at {artifact_uri}, outside the tracking server: run `mlflow server` with its \
             artifact proxy (the default) so Warden reads them through it"
        )
    })?;
    let mlmodel_text = mlflow.artifact(root, "MLmodel", MAX_DOCUMENT_BYTES).await?;
    let mlmodel: serde_yaml_ng::Value =
        serde_yaml_ng::from_slice(&mlmodel_text).context("the model's MLmodel is not YAML")?;
    let flavour = flavour(&mlmodel)?;
    let artifact = mlflow.artifact(root, &flavour.file, MAX_ARTIFACT_BYTES).await?;
    let schema = schema_of(&mlmodel)?;

    let reference = match &args.reference {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        None => {
            let example = mlmodel
                .get("saved_input_example_info")
                .and_then(|i| i.get("artifact_path"))
                .and_then(|p| p.as_str())
                .context("the model logged no input example: give reference data with --reference FILE")?;
            let bytes = mlflow.artifact(root, example, MAX_DOCUMENT_BYTES).await?;
            example_csv(&serde_json::from_slice(&bytes).context("the input example is not JSON")?)?
        }
    };
    let model_uri = format!("models:/{name}/{number}");
    let run = match version["run_id"].as_str().filter(|r| !r.is_empty()) {
        Some(run_id) => mlflow.json("/api/2.0/mlflow/runs/get", &[("run_id", run_id)]).await?["run"].clone(),
        None => json!({}),
    };
    let (hyperparameters, code_ref) = lineage_of(&run, &model_uri, &mlflow.base);
    let metadata = json!({
        "format": flavour.format, "target": args.target, "protected": args.protected, "schema": schema,
        "code_ref": code_ref, "hyperparameters": hyperparameters,
    });
    let target = args.as_model.clone().unwrap_or_else(|| name.clone());
    let form = Form::new()
        .part("metadata", Part::text(metadata.to_string()).mime_str("application/json")?)
        .part("artifact", Part::bytes(artifact).file_name(flavour.file.clone()))
        .part("reference", Part::bytes(reference).file_name("reference.csv"));
    let client = Client::new(&args.connection)?;
    let registered: api::VersionBody =
        client.multipart_as(&format!("/v1/models/{}/versions", encode(&target)), form).await?;
    outln!("imported {model_uri} ({}) as {target} version {}", flavour.format, registered.version);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_uris_name_a_version_or_an_alias() {
        assert_eq!(
            parse_model_uri("models:/credit/3").unwrap(),
            ModelRef::Version { name: "credit".into(), version: "3".into() }
        );
        assert_eq!(
            parse_model_uri("models:/credit@champion").unwrap(),
            ModelRef::Alias { name: "credit".into(), alias: "champion".into() }
        );
        for bad in ["runs:/abc/model", "models:/credit", "models:/credit/latest", "models:/@x"] {
            assert!(parse_model_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pickle_flavours_are_refused_and_xgboost_must_be_json() {
        let yaml = |text: &str| serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text).unwrap();
        let refused = flavour(&yaml("flavors:\n  sklearn: {pickled_model: model.pkl}\n  python_function: {}\n"))
            .err()
            .unwrap()
            .to_string();
        assert!(refused.contains("sklearn, python_function") && refused.contains("never loads"), "{refused}");
        let ubj = flavour(&yaml("flavors:\n  xgboost: {data: model.ubj, model_format: ubj}\n")).unwrap();
        assert_eq!((ubj.format, ubj.file.as_str()), ("xgboost-ubj", "model.ubj"));
        let legacy = flavour(&yaml("flavors:\n  xgboost: {data: model.xgb, model_format: xgb}\n")).err().unwrap();
        assert!(legacy.to_string().contains("legacy binary"));
        let estimator =
            flavour(&yaml("flavors:\n  lightgbm: {data: model.lgb, model_class: lightgbm.sklearn.LGBMClassifier}\n"));
        assert!(estimator.err().unwrap().to_string().contains("log its booster"));
        let onnx = flavour(&yaml("flavors:\n  onnx: {data: model.onnx}\n  python_function: {}\n")).unwrap();
        assert_eq!((onnx.format, onnx.file.as_str()), ("onnx", "model.onnx"));
    }

    #[test]
    fn a_tracking_uri_is_recorded_without_its_credentials() {
        assert_eq!(shown("https://ana:s3cret@mlflow.bank:5000/?token=x"), "https://mlflow.bank:5000");
        assert_eq!(shown("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
    }

    #[tokio::test]
    async fn artifact_names_that_could_leave_the_models_directory_are_refused_before_any_request() {
        warden_registry::install_tls_provider();
        let mlflow = Mlflow { http: reqwest::Client::new(), base: "http://127.0.0.1:9".into() };
        for file in ["../x", "%2e%2e/x", "a\\..\\b", "m?x=1", "m#f", "/abs", "a//b", "./m"] {
            let refused = mlflow.artifact("0/models/m-1/artifacts", file, 10).await.unwrap_err().to_string();
            assert!(refused.contains("not a plain relative path"), "{file}: {refused}");
        }
    }

    #[test]
    fn input_examples_become_csv() {
        let split = json!({"columns": ["a", "b"], "data": [[1.5, "x"], [null, "y"]]});
        assert_eq!(String::from_utf8(example_csv(&split).unwrap()).unwrap(), "a,b\n1.5,x\n,y\n");
        let columns = json!({"a": [[0.25], [0.5]], "b": [[1.0], [2.0]]});
        assert_eq!(String::from_utf8(example_csv(&columns).unwrap()).unwrap(), "a,b\n0.25,1.0\n0.5,2.0\n");
    }
}
