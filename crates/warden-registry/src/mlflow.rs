//! MLflow's model registry as a source of versions: read one over MLflow's REST API (the model version, where
//! its files are, its `MLmodel` with flavours, signature and input example, its run's parameters, metrics, git
//! commit and datasets), and take MLflow's registry webhooks (`model_version.created`,
//! `model_version_alias.created`) so a new MLflow version becomes a Warden candidate by itself.
//!
//! Only flavours Warden reads without running code are taken: `onnx`, `xgboost` saved as JSON or UBJSON,
//! `lightgbm` boosters. A scikit-learn or pyfunc-only model is a pickle: refused with the way to convert it on
//! the client. Nothing is unpickled. Everything MLflow sends is bounded: documents at 4 MiB (YAML nesting and
//! aliases within serde_yaml_ng's limits), model files at the server's upload limit, paths plain segments.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use warden_stats::profile::ColumnType;
use warden_store::metadata::Micros;

use crate::artifact_format::ArtifactFormat;
use crate::auth::{Principal, Role};
use crate::dataset::ColumnPlan;
use crate::registry::{self, FeatureSpec, Lineage, StagedFile, Version, VersionRequest};
use crate::{Error, Registry, Result};

/// Largest `MLmodel`, input example, webhook body or REST answer read from MLflow.
pub const MAX_DOCUMENT_BYTES: usize = 4 << 20;
/// How far a webhook's timestamp may be from Warden's clock (Standard Webhooks' tolerance).
const DELIVERY_TOLERANCE: Micros = 5 * 60 * 1_000_000;
/// Completed deliveries remembered (for twice the tolerance) to refuse replays.
const REMEMBERED_DELIVERIES: usize = 10_000;
/// Signatures read from one `X-MLflow-Signature` (several while a secret is rotated).
const MAX_SIGNATURES: usize = 4;
/// Largest webhook delivery: MLflow's are a few hundred bytes (name, version, tags, description).
pub const MAX_DELIVERY_BYTES: usize = 256 << 10;
/// How long one replica holds an MLflow version's import for itself.
const IMPORT_HOLD: Duration = Duration::from_secs(15 * 60);

/// The MLflow tracking server webhooks are answered from, and the secret they are signed with.
#[derive(Clone, PartialEq)]
pub struct MlflowConfig {
    /// The tracking server's URL (`http(s)://host:port`).
    pub tracking_uri: String,
    /// The webhook's shared secret (MLflow's `create_webhook(..., secret=...)`).
    pub webhook_secret: String,
}

impl std::fmt::Debug for MlflowConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowConfig").field("tracking_uri", &shown(&self.tracking_uri)).finish_non_exhaustive()
    }
}

/// A `models:/NAME/VERSION` or `models:/NAME@ALIAS` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// One version by number.
    Version {
        /// The registered model.
        name: String,
        /// Its version number, as MLflow writes it.
        version: String,
    },
    /// The version an alias points at.
    Alias {
        /// The registered model.
        name: String,
        /// The alias.
        alias: String,
    },
}

impl std::str::FromStr for ModelRef {
    type Err = Error;
    fn from_str(uri: &str) -> Result<ModelRef> {
        let rest = uri
            .strip_prefix("models:/")
            .ok_or_else(|| Error::invalid(format!("'{uri}' is not a models:/NAME/VERSION URI")))?;
        if let Some((name, alias)) = rest.split_once('@') {
            if name.is_empty() || alias.is_empty() {
                return Err(Error::invalid(format!("'{uri}' names no model or alias")));
            }
            return Ok(ModelRef::Alias { name: name.into(), alias: alias.into() });
        }
        match rest.rsplit_once('/') {
            Some((name, version)) if !name.is_empty() && version.parse::<u64>().is_ok() => {
                Ok(ModelRef::Version { name: name.into(), version: version.into() })
            }
            _ => Err(Error::invalid(format!(
                "'{uri}' is not models:/NAME/VERSION (a version number) or models:/NAME@ALIAS"
            ))),
        }
    }
}

/// A tracking URI as recorded and shown: without the user, password or query it may carry.
pub fn shown(uri: &str) -> String {
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

/// A tracking server's REST API.
pub struct Tracking {
    http: reqwest::Client,
    base: String,
}

/// One MLflow model version as Warden registers it, its model file not yet downloaded.
#[derive(Debug, Clone)]
pub struct Described {
    /// The registered model's name.
    pub name: String,
    /// The version number.
    pub number: String,
    /// `models:/NAME/NUMBER`.
    pub model_uri: String,
    /// The flavour Warden reads.
    pub format: ArtifactFormat,
    /// The model file's name inside the model's directory.
    pub file: String,
    /// The signature's columns, when the signature names them.
    pub schema: Option<Vec<FeatureSpec>>,
    /// The run's parameters, with MLflow's provenance under `mlflow.*`.
    pub hyperparameters: Map<String, Value>,
    /// `git:COMMIT` when the run recorded its commit.
    pub code_ref: Option<String>,
    /// The version's tags, then the registered model's for keys the version lacks.
    pub tags: BTreeMap<String, String>,
    /// Reference data MLflow holds, as CSV or Parquet bytes: the run's evaluation dataset when it is one of
    /// the tracking server's artifacts, else the model's input example.
    pub reference: Option<Vec<u8>>,
    root: String,
}

impl Tracking {
    /// A client for the tracking server at `uri`.
    pub fn new(uri: &str) -> Result<Tracking> {
        crate::install_tls_provider();
        let base = uri.trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => return Err(Error::invalid(format!("the MLflow tracking URI '{}' is not an http(s) URL", shown(uri)))),
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Tracking { http, base })
    }

    /// The tracking URI without credentials.
    pub fn shown(&self) -> String {
        shown(&self.base)
    }

    async fn send(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Response> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query)
            .map_err(|_| Error::invalid(format!("'{}{path}' is not a URL", self.shown())))?;
        let response = self.http.get(url).send().await.map_err(|e| {
            Error::unavailable(format!("cannot reach the MLflow tracking server at {}: {e}", self.shown()))
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = read_limited(response, MAX_DOCUMENT_BYTES as u64, path).await.unwrap_or_default();
        let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let text =
            message["message"].as_str().map(str::to_owned).unwrap_or_else(|| String::from_utf8_lossy(&body).into());
        let text = format!("MLflow answered {status} to {path}: {}", crate::sign_in::clip(&text));
        Err(match status.as_u16() {
            404 => Error::NotFound(text),
            400..=499 => Error::invalid(text),
            _ => Error::unavailable(text),
        })
    }

    async fn json(&self, path: &str, query: &[(&str, &str)]) -> Result<Value> {
        let response = self.send(path, query).await?;
        let body = read_limited(response, MAX_DOCUMENT_BYTES as u64, path).await?;
        serde_json::from_slice(&body).map_err(|e| Error::invalid(format!("MLflow's answer to {path} is not JSON: {e}")))
    }

    /// A file under a `mlflow-artifacts:/` URI, through the tracking server's artifact proxy. The directory and
    /// the file's name are plain path segments (letters, digits, `.`, `_`, `-`): nothing that URL parsing or
    /// the server could read as going elsewhere (`..`, `%2e`, `\\`, `?`, `#`).
    async fn open(&self, root: &str, file: &str) -> Result<reqwest::Response> {
        let root = root.trim_end_matches('/');
        for (what, text) in [("the model's directory", root), ("the file", file)] {
            if !plain_path(text) {
                return Err(Error::invalid(format!("{what} '{}' is not a plain relative path: refused", clip(text))));
            }
        }
        self.send(&format!("/api/2.0/mlflow-artifacts/artifacts/{root}/{file}"), &[]).await
    }

    async fn document(&self, root: &str, file: &str) -> Result<Vec<u8>> {
        let response = self.open(root, file).await?;
        read_limited(response, MAX_DOCUMENT_BYTES as u64, file).await
    }

    /// Reads a model version and what MLflow knows of it, all but the model file; its reference data only when
    /// `reference` is true (an evaluation dataset of at most [`MAX_REFERENCE_BYTES`], else the input example).
    pub async fn describe(&self, model: &ModelRef, reference: bool) -> Result<Described> {
        let version = match model {
            ModelRef::Version { name, version } => {
                self.json("/api/2.0/mlflow/model-versions/get", &[("name", name), ("version", version)]).await?
            }
            ModelRef::Alias { name, alias } => {
                self.json("/api/2.0/mlflow/registered-models/alias", &[("name", name), ("alias", alias)]).await?
            }
        }["model_version"]
            .take();
        let text = |field: &str| {
            version[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| Error::invalid(format!("MLflow's model version has no {field}")))
        };
        let (name, number) = (text("name")?, text("version")?);
        let download = self
            .json("/api/2.0/mlflow/model-versions/get-download-uri", &[("name", &name), ("version", &number)])
            .await?;
        let artifact_uri =
            download["artifact_uri"].as_str().ok_or_else(|| Error::invalid("MLflow gave no download URI"))?;
        let root = artifact_uri
            .strip_prefix("mlflow-artifacts:/")
            .ok_or_else(|| {
                Error::invalid(format!(
                    "the model's files are at {}, outside the tracking server: run `mlflow server` with its \
                     artifact proxy (the default) so Warden reads them through it",
                    clip(artifact_uri)
                ))
            })?
            .to_owned();
        let mlmodel: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&self.document(&root, "MLmodel").await?)
            .map_err(|e| Error::invalid(format!("the model's MLmodel is not YAML: {e}")))?;
        let (format, file) = flavour(&mlmodel)?;
        let schema = schema_of(&mlmodel)?;

        let mut tags = key_values(&version["tags"]);
        let registered = self.json("/api/2.0/mlflow/registered-models/get", &[("name", &name)]).await?;
        for (key, value) in key_values(&registered["registered_model"]["tags"]) {
            tags.entry(key).or_insert(value);
        }
        let model_uri = format!("models:/{name}/{number}");
        let run = match version["run_id"].as_str().filter(|r| !r.is_empty()) {
            Some(run_id) => self.json("/api/2.0/mlflow/runs/get", &[("run_id", run_id)]).await?["run"].take(),
            None => json!({}),
        };
        let (hyperparameters, code_ref) = lineage_of(&run, &model_uri, &self.base);
        let reference = match reference {
            true => self.reference_data(&run, &mlmodel, &root).await?,
            false => None,
        };
        Ok(Described {
            name,
            number,
            model_uri,
            format,
            file,
            schema,
            hyperparameters,
            code_ref,
            tags,
            reference,
            root,
        })
    }

    /// Where under the tracking server's artifacts a dataset source is: a `mlflow-artifacts:/` URI, or a URL of
    /// this tracking server's artifact proxy (`HTTPDatasetSource`). Sources anywhere else are not fetched.
    fn artifact_path<'a>(&self, source: &'a Value) -> Option<&'a str> {
        let path = match source["uri"].as_str().and_then(|u| u.strip_prefix("mlflow-artifacts:/")) {
            Some(path) => path,
            None => {
                let url = source["url"].as_str()?;
                [self.base.clone(), self.shown()]
                    .iter()
                    .find_map(|base| url.strip_prefix(&format!("{base}/api/2.0/mlflow-artifacts/artifacts/")))?
            }
        };
        // Only a file in a directory, by plain segments: anything else is not read (the input example is).
        let (dir, file) = path.rsplit_once('/')?;
        (plain_path(dir) && plain_path(file)).then_some(path)
    }

    /// The run's evaluation dataset when this server holds its file, else the model's input example as CSV.
    async fn reference_data(&self, run: &Value, mlmodel: &serde_yaml_ng::Value, root: &str) -> Result<Option<Vec<u8>>> {
        if let Some(dataset) = self.evaluation_dataset(run).await? {
            return Ok(Some(dataset));
        }
        let Some(path) = input_example_path(mlmodel) else { return Ok(None) };
        let example: Value = serde_json::from_slice(&self.document(root, &path).await?)
            .map_err(|e| Error::invalid(format!("the input example is not JSON: {e}")))?;
        Ok(Some(example_csv(&example)?))
    }

    /// The run's dataset logged with the context `evaluation` whose source is a file the tracking server
    /// holds (`mlflow.log_artifact`, then `mlflow.data.from_pandas(df, source=<its URL on the artifact
    /// proxy>)`).
    async fn evaluation_dataset(&self, run: &Value) -> Result<Option<Vec<u8>>> {
        for input in run["inputs"]["dataset_inputs"].as_array().into_iter().flatten() {
            if key_values(&input["tags"]).get("mlflow.data.context").map(String::as_str) != Some("evaluation") {
                continue;
            }
            let source: Value =
                input["dataset"]["source"].as_str().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
            let Some(path) = self.artifact_path(&source) else {
                continue;
            };
            let (dir, file) = path.rsplit_once('/').expect("artifact_path gives a directory and a file");
            let lower = file.to_ascii_lowercase();
            if !(lower.ends_with(".csv") || lower.ends_with(".parquet")) {
                continue;
            }
            let response = self.open(dir, file).await?;
            return Ok(Some(read_limited(response, MAX_REFERENCE_BYTES, file).await?));
        }
        Ok(None)
    }

    /// Starts downloading the model file; [`Download::chunk`] refuses it past `limit` bytes.
    pub async fn download(&self, described: &Described, limit: u64) -> Result<Download> {
        let response = self.open(&described.root, &described.file).await?;
        if response.content_length().is_some_and(|length| length > limit) {
            return Err(Error::TooLarge { limit });
        }
        Ok(Download { response, limit, read: 0 })
    }
}

/// Largest evaluation dataset read as reference data (it is held in memory until staged).
pub const MAX_REFERENCE_BYTES: u64 = 256 << 20;

/// A model file arriving from MLflow.
pub struct Download {
    response: reqwest::Response,
    limit: u64,
    read: u64,
}

impl Download {
    /// The next piece, or `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>> {
        let chunk = self
            .response
            .chunk()
            .await
            .map_err(|e| Error::unavailable(format!("the model file's download broke off: {e}")))?;
        if let Some(chunk) = &chunk {
            self.read += chunk.len() as u64;
            if self.read > self.limit {
                return Err(Error::TooLarge { limit: self.limit });
            }
        }
        Ok(chunk)
    }
}

async fn read_limited(mut response: reqwest::Response, limit: u64, what: &str) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::unavailable(format!("reading MLflow's answer for {}: {e}", clip(what))))?
    {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(Error::invalid(format!("MLflow's answer for {} is over {limit} bytes", clip(what))));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A relative path of plain segments (letters, digits, `.`, `_`, `-`; not `.` or `..`).
fn plain_path(text: &str) -> bool {
    text.split('/').all(|segment| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

fn clip(text: &str) -> String {
    crate::sign_in::clip(text)
}

/// MLflow's `[{key, value}]` lists as a map.
fn key_values(list: &Value) -> BTreeMap<String, String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["key"].as_str()?.to_owned(), t["value"].as_str()?.to_owned())))
        .collect()
}

/// The flavour Warden registers and its file, or why none can be.
fn flavour(mlmodel: &serde_yaml_ng::Value) -> Result<(ArtifactFormat, String)> {
    let flavors = mlmodel.get("flavors").ok_or_else(|| Error::invalid("MLmodel has no flavors"))?;
    let data = |name: &str, default: &str| {
        flavors
            .get(name)
            .and_then(|f| f.get("data").or_else(|| f.get("model_data")))
            .and_then(|d| d.as_str())
            .unwrap_or(default)
            .to_owned()
    };
    if flavors.get("onnx").is_some() {
        return Ok((ArtifactFormat::Onnx, data("onnx", "model.onnx")));
    }
    if let Some(xgboost) = flavors.get("xgboost") {
        let format = xgboost.get("model_format").and_then(|f| f.as_str()).unwrap_or("xgb");
        let file = data("xgboost", &format!("model.{format}"));
        return match format {
            "json" => Ok((ArtifactFormat::XgboostJson, file)),
            "ubj" => Ok((ArtifactFormat::XgboostUbj, file)),
            other => Err(Error::invalid(format!(
                "the xgboost flavour is saved as '{}' (XGBoost's legacy binary); Warden reads its JSON and UBJSON: \
                 log it with mlflow.xgboost.log_model(..., model_format=\"ubj\")",
                clip(other)
            ))),
        };
    }
    if let Some(lightgbm) = flavors.get("lightgbm") {
        // A booster is saved as LightGBM's text; a scikit-learn estimator as a pickle (or skops).
        let class = lightgbm.get("model_class").and_then(|c| c.as_str()).unwrap_or("lightgbm.basic.Booster");
        if class != "lightgbm.basic.Booster" {
            return Err(Error::invalid(format!(
                "the lightgbm flavour holds a {}, saved as a pickle: log its booster (model.booster_) with \
                 mlflow.lightgbm.log_model, which saves LightGBM's text format",
                clip(class)
            )));
        }
        return Ok((ArtifactFormat::LightgbmText, data("lightgbm", "model.lgb")));
    }
    let names: Vec<String> = flavors
        .as_mapping()
        .map(|m| m.keys().filter_map(|k| k.as_str().map(clip)).take(20).collect())
        .unwrap_or_default();
    Err(Error::invalid(format!(
        "this MLflow model has only the flavours {} — a pickle, which Warden never loads: log an onnx flavour \
         (skl2onnx), or import it with the Python client's import_mlflow, which converts scikit-learn to ONNX on \
         your machine",
        names.join(", ")
    )))
}

/// The signature's inputs as Warden's feature schema: numbers numeric, text and booleans categorical.
fn schema_of(mlmodel: &serde_yaml_ng::Value) -> Result<Option<Vec<FeatureSpec>>> {
    let Some(inputs) = mlmodel.get("signature").and_then(|s| s.get("inputs")).and_then(|i| i.as_str()) else {
        return Ok(None);
    };
    let columns: Vec<Value> = serde_json::from_str(inputs)
        .map_err(|e| Error::invalid(format!("the MLmodel signature's inputs are not JSON: {e}")))?;
    let mut features = Vec::new();
    for column in &columns {
        let Some(name) = column["name"].as_str() else {
            // A tensor signature names no columns: the reference data says what they are.
            return Ok(None);
        };
        let kind = match column["type"].as_str() {
            Some("double" | "float" | "long" | "integer") => ColumnType::Numeric,
            Some("string" | "boolean") => ColumnType::Categorical,
            other => {
                return Err(Error::invalid(format!(
                    "the signature's column '{}' has the type {}, which Warden does not score",
                    clip(name),
                    clip(&format!("{other:?}"))
                )));
            }
        };
        features.push(FeatureSpec {
            name: name.to_owned(),
            kind,
            categories: None,
            nullable: true,
            encoding: None,
            unknown_category: Default::default(),
        });
    }
    Ok(Some(features))
}

fn input_example_path(mlmodel: &serde_yaml_ng::Value) -> Option<String> {
    let info = mlmodel.get("saved_input_example_info")?;
    info.get("artifact_path").and_then(|p| p.as_str()).map(str::to_owned)
}

/// An input example as CSV: pandas' `split` orientation (`columns`, `data`) or a column → values object.
fn example_csv(example: &Value) -> Result<Vec<u8>> {
    let bad = |what: &str| Error::invalid(format!("the input example: {what}"));
    let (columns, rows): (Vec<String>, Vec<Vec<Value>>) = match example {
        Value::Object(o) if o.contains_key("columns") && o.contains_key("data") => {
            let columns = o["columns"].as_array().ok_or_else(|| bad("columns is not a list"))?;
            let columns = columns
                .iter()
                .map(|c| c.as_str().map(str::to_owned).ok_or_else(|| bad("a column name is not text")))
                .collect::<Result<_>>()?;
            let rows = o["data"].as_array().ok_or_else(|| bad("data is not a list"))?;
            let rows = rows
                .iter()
                .map(|r| r.as_array().cloned().ok_or_else(|| bad("a row is not a list")))
                .collect::<Result<_>>()?;
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
                        .ok_or_else(|| bad("a column is not a list"))
                })
                .collect::<Result<_>>()?;
            let height = values.first().map_or(0, Vec::len);
            let rows = (0..height)
                .map(|r| values.iter().map(|column| column.get(r).cloned().unwrap_or(Value::Null)).collect())
                .collect();
            (columns, rows)
        }
        _ => return Err(bad("not a table (pandas split orientation or columns of values)")),
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| Error::invalid(format!("the input example as CSV: {e}"));
    writer.write_record(&columns).map_err(failed)?;
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        writer.write_record(&cells).map_err(failed)?;
    }
    writer.into_inner().map_err(|e| Error::invalid(format!("the input example as CSV: {e}")))
}

/// A run's parameters as hyperparameters (numbers where they are numbers), with MLflow's provenance under
/// `mlflow.*`: the tracking server, model URI, run id, metrics and the digests of the datasets the run logged.
fn lineage_of(run: &Value, model_uri: &str, tracking: &str) -> (Map<String, Value>, Option<String>) {
    let mut hyperparameters = Map::new();
    for param in run["data"]["params"].as_array().into_iter().flatten() {
        if let (Some(key), Some(value)) = (param["key"].as_str(), param["value"].as_str()) {
            let parsed = value.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| json!(v));
            hyperparameters.insert(key.into(), parsed.unwrap_or_else(|| json!(value)));
        }
    }
    hyperparameters.insert(TRACKING_KEY.into(), json!(shown(tracking)));
    hyperparameters.insert(MODEL_URI_KEY.into(), json!(model_uri));
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
    let code_ref = key_values(&run["data"]["tags"]).get("mlflow.source.git.commit").map(|c| format!("git:{c}"));
    (hyperparameters, code_ref)
}

const TRACKING_KEY: &str = "mlflow.tracking_uri";
const MODEL_URI_KEY: &str = "mlflow.model_uri";

/// The MLflow version `version` was imported from, as (tracking URI, model URI).
pub fn imported_from(version: &Version) -> Option<(&str, &str)> {
    let hyperparameters = &version.lineage.hyperparameters;
    Some((hyperparameters.get(TRACKING_KEY)?.as_str()?, hyperparameters.get(MODEL_URI_KEY)?.as_str()?))
}

/// A webhook delivery's headers.
#[derive(Debug, Clone, Default)]
pub struct DeliveryHeaders {
    /// `X-MLflow-Delivery-Id`.
    pub id: Option<String>,
    /// `X-MLflow-Timestamp` (Unix seconds).
    pub timestamp: Option<String>,
    /// `X-MLflow-Signature`: `v1,BASE64` (several, space-separated, while a secret is rotated).
    pub signature: Option<String>,
}

/// What a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The MLflow version is now this Warden version.
    Imported {
        /// The Warden model.
        model: String,
        /// Its new version.
        version: i64,
    },
    /// An earlier delivery imported it already.
    AlreadyRegistered {
        /// The Warden model.
        model: String,
        /// The version imported before.
        version: i64,
    },
    /// Nothing to do, and why.
    Ignored {
        /// Why.
        reason: String,
    },
    /// This delivery was answered before (MLflow resent it).
    Duplicate,
}

/// Remembers completed deliveries (a resent one is answered `Duplicate`) and the versions being imported (a
/// second delivery for one is answered 503 until the first is done, so MLflow tries it again).
#[derive(Default)]
pub struct Deliveries {
    completed: std::sync::Mutex<HashMap<String, Micros>>,
    /// MLflow versions (model URIs) being imported by this process now.
    importing: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Checks a delivery's signature and age: the HMAC-SHA256 of `ID.TIMESTAMP.BODY` keyed with the secret,
/// compared in constant time; a timestamp more than five minutes from `now` is refused (a replay).
pub fn verify_delivery(secret: &str, headers: &DeliveryHeaders, body: &[u8], now: Micros) -> Result<()> {
    let missing = |header: &str| Error::Unauthenticated(format!("the delivery has no {header} header"));
    let id = headers.id.as_deref().ok_or_else(|| missing("X-MLflow-Delivery-Id"))?;
    let timestamp = headers.timestamp.as_deref().ok_or_else(|| missing("X-MLflow-Timestamp"))?;
    let signatures = headers.signature.as_deref().ok_or_else(|| missing("X-MLflow-Signature"))?;
    let seconds: i64 =
        timestamp.parse().map_err(|_| Error::Unauthenticated("X-MLflow-Timestamp is not Unix seconds".into()))?;
    if seconds.saturating_mul(1_000_000).abs_diff(now) > DELIVERY_TOLERANCE as u64 {
        return Err(Error::Unauthenticated(
            "the delivery's timestamp is more than five minutes from Warden's clock: refused as a replay".into(),
        ));
    }
    let candidates: Vec<&str> = signatures.split(' ').filter(|s| !s.is_empty()).collect();
    if candidates.len() > MAX_SIGNATURES {
        return Err(Error::Unauthenticated(format!(
            "X-MLflow-Signature holds {} signatures; at most {MAX_SIGNATURES} are read",
            candidates.len()
        )));
    }
    // The body is hashed once, whatever the number of candidates; each is compared in constant time.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
        mac.update(part);
    }
    let matches = candidates.iter().filter_map(|s| s.strip_prefix("v1,")).any(|encoded| {
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .is_ok_and(|tag| mac.clone().verify_slice(&tag).is_ok())
    });
    if !matches {
        return Err(Error::Unauthenticated("the delivery's X-MLflow-Signature does not match: refused".into()));
    }
    Ok(())
}

/// The identity MLflow's deliveries act under: the tracking server, with a data scientist's rights.
pub fn principal(config: &MlflowConfig) -> Principal {
    Principal {
        name: shown(&config.tracking_uri),
        roles: vec![Role::DataScientist],
        scoped: Vec::new(),
        via: crate::auth::Via::Mlflow,
    }
}

/// Takes a signed delivery of MLflow's registry webhook: a new version, or an alias set on one, of a
/// registered model with a Warden model of the same name becomes that model's candidate version (once). Each
/// verified delivery is audited (`mlflow.delivery`) with what it came to, refusals and failures included.
pub async fn receive_delivery(warden: &Registry, headers: &DeliveryHeaders, body: &[u8]) -> Result<DeliveryOutcome> {
    let config = warden.config().mlflow.clone().ok_or_else(|| {
        Error::NotFound(
            "MLflow webhooks are not configured: start the server with --mlflow-tracking-uri and \
             --mlflow-webhook-secret-file"
                .into(),
        )
    })?;
    let now = warden.now();
    verify_delivery(&config.webhook_secret, headers, body, now)?;
    let delivery_id = headers.id.clone().unwrap_or_default();
    let event: Value =
        serde_json::from_slice(body).map_err(|e| Error::invalid(format!("the delivery is not JSON: {e}")))?;
    let kind = format!("{}.{}", event["entity"].as_str().unwrap_or("?"), event["action"].as_str().unwrap_or("?"));
    let data = &event["data"];
    let target = match (kind.as_str(), data["name"].as_str(), data["version"].as_str()) {
        ("model_version.created" | "model_version_alias.created", Some(name), Some(version)) => {
            Some((name.to_owned(), version.to_owned()))
        }
        ("model_version.created" | "model_version_alias.created", ..) => {
            return Err(Error::invalid(format!("the {kind} delivery names no model and version")));
        }
        _ => None,
    };

    {
        let mut completed = warden.mlflow_deliveries.completed.lock().expect("deliveries lock");
        completed.retain(|_, at| now - *at < 2 * DELIVERY_TOLERANCE);
        if completed.contains_key(&delivery_id) {
            return Ok(DeliveryOutcome::Duplicate);
        }
    }
    let caller = principal(&config);
    let outcome = match &target {
        None => Ok(DeliveryOutcome::Ignored {
            reason: format!(
                "Warden acts on model_version.created and model_version_alias.created, not {}",
                clip(&kind)
            ),
        }),
        Some((name, number)) => import_candidate(warden, &caller, &config, name, number).await,
    };
    let mut payload = json!({
        "delivery_id": clip(&delivery_id),
        "event": clip(&kind),
        "tracking_uri": shown(&config.tracking_uri),
    });
    if let Some((name, number)) = &target {
        payload["mlflow_model_uri"] = json!(format!("models:/{name}/{number}"));
    }
    let named = target.as_ref().map_or_else(|| "mlflow".to_owned(), |(name, _)| format!("model/{name}"));
    let (subject, outcome_text, version, reason) = match &outcome {
        Ok(DeliveryOutcome::Imported { model, version }) => {
            (format!("model/{model}/{version}"), "imported", Some(*version), None)
        }
        Ok(DeliveryOutcome::AlreadyRegistered { model, version }) => {
            (format!("model/{model}/{version}"), "already_registered", Some(*version), None)
        }
        Ok(DeliveryOutcome::Ignored { reason }) => (named, "ignored", None, Some(reason.clone())),
        Ok(DeliveryOutcome::Duplicate) => unreachable!("duplicates return before importing"),
        Err(err) => (named, "failed", None, Some(clip(&err.to_string()))),
    };
    payload["outcome"] = json!(outcome_text);
    if let Some(version) = version {
        payload["version"] = json!(version);
    }
    if let Some(reason) = reason {
        payload["reason"] = json!(reason);
    }
    let audit = caller.audit_event(warden.now(), "mlflow.delivery", subject, payload);
    let audited = warden.metadata.append_audit_batch(&[audit]).await;
    let outcome = outcome?;
    audited?;
    let mut completed = warden.mlflow_deliveries.completed.lock().expect("deliveries lock");
    if completed.len() >= REMEMBERED_DELIVERIES
        && let Some(oldest) = completed.iter().min_by_key(|(_, at)| **at).map(|(id, _)| id.clone())
    {
        completed.remove(&oldest);
    }
    completed.insert(delivery_id, now);
    Ok(outcome)
}

/// Registers MLflow's `name`/`number` as a version of the Warden model `name`, unless it is there already.
async fn import_candidate(
    warden: &Registry,
    caller: &Principal,
    config: &MlflowConfig,
    name: &str,
    number: &str,
) -> Result<DeliveryOutcome> {
    match registry::get_model(warden, caller, name).await {
        Ok(_) => {}
        Err(Error::NotFound(_)) => {
            return Ok(DeliveryOutcome::Ignored {
                reason: format!("Warden has no model named '{}': create it to receive its MLflow versions", clip(name)),
            });
        }
        Err(other) => return Err(other),
    }
    let tracking_uri = shown(&config.tracking_uri);
    let model_uri = format!("models:/{name}/{number}");
    // One import of a version at a time: in this process, and across replicas by a lease.
    let busy = || Error::Unavailable {
        message: format!("{model_uri} is being imported by another delivery; try again when it is done"),
        retry_after: Some(10),
    };
    if !warden.mlflow_deliveries.importing.lock().expect("imports lock").insert(model_uri.clone()) {
        return Err(busy());
    }
    let _importing = Importing { warden, model_uri: model_uri.clone() };
    if !crate::leases::holds_lease(warden, &format!("mlflow-import {tracking_uri} {model_uri}"), IMPORT_HOLD).await {
        return Err(busy());
    }
    let versions = registry::list_versions(warden, caller, name).await?;
    if let Some(existing) =
        versions.iter().find(|v| imported_from(v) == Some((tracking_uri.as_str(), model_uri.as_str())))
    {
        return Ok(DeliveryOutcome::AlreadyRegistered { model: name.to_owned(), version: existing.number });
    }
    let tracking = Tracking::new(&config.tracking_uri)?;
    let model = ModelRef::Version { name: name.to_owned(), version: number.to_owned() };
    let described = tracking.describe(&model, true).await?;
    let latest = versions.iter().max_by_key(|v| v.number);
    let columns = column_plan(&described, latest);
    let reference = described.reference.as_ref().ok_or_else(|| {
        Error::invalid(format!(
            "{model_uri} has no reference data in MLflow: log an input example or an evaluation dataset with it, \
             or import it with `warden import mlflow --reference FILE`"
        ))
    })?;
    let limit = warden.config().max_upload_bytes;
    let mut staged_reference = warden.artifacts().stage(limit).await?;
    staged_reference.write(reference).await?;
    let staged_reference: StagedFile = staged_reference.finish().await?;
    let mut download = tracking.download(&described, limit).await?;
    let mut staged_artifact = warden.artifacts().stage(limit).await?;
    while let Some(chunk) = download.chunk().await? {
        staged_artifact.write(&chunk).await?;
    }
    let staged_artifact = staged_artifact.finish().await?;
    let request = VersionRequest {
        format: described.format,
        columns,
        lineage: Lineage {
            code_ref: described.code_ref.clone(),
            hyperparameters: described.hyperparameters.clone(),
            ..Lineage::default()
        },
        serving: latest.map(|v| v.serving.clone()).unwrap_or_default(),
        encodings: Default::default(),
        unknown_category: None,
    };
    let version = registry::register_version(warden, caller, name, request, staged_artifact, staged_reference).await?;
    Ok(DeliveryOutcome::Imported { model: name.to_owned(), version: version.number })
}

/// Marks an MLflow version as no longer being imported here when dropped.
struct Importing<'a> {
    warden: &'a Registry,
    model_uri: String,
}

impl Drop for Importing<'_> {
    fn drop(&mut self) {
        self.warden.mlflow_deliveries.importing.lock().expect("imports lock").remove(&self.model_uri);
    }
}

/// Target and protected attributes: the MLflow version's (or registered model's) `warden.target` and
/// `warden.protected` (comma-separated) tags, else those of the Warden model's latest version.
pub fn column_plan(described: &Described, latest: Option<&Version>) -> ColumnPlan {
    let target = described.tags.get("warden.target").cloned().or_else(|| latest.and_then(|v| v.target.clone()));
    let protected = match described.tags.get("warden.protected") {
        Some(list) => list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        None => latest.map(|v| v.protected.clone()).unwrap_or_default(),
    };
    ColumnPlan { target, protected, exclude: Vec::new(), score: None, schema: described.schema.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_uris_name_a_version_or_an_alias() {
        assert_eq!(
            "models:/credit/3".parse::<ModelRef>().unwrap(),
            ModelRef::Version { name: "credit".into(), version: "3".into() }
        );
        assert_eq!(
            "models:/credit@champion".parse::<ModelRef>().unwrap(),
            ModelRef::Alias { name: "credit".into(), alias: "champion".into() }
        );
        for bad in ["runs:/abc/model", "models:/credit", "models:/credit/latest", "models:/@x"] {
            assert!(bad.parse::<ModelRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn pickle_flavours_are_refused_and_xgboost_must_be_json_or_ubjson() {
        let yaml = |text: &str| serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text).unwrap();
        let refused = flavour(&yaml("flavors:\n  sklearn: {pickled_model: model.pkl}\n  python_function: {}\n"))
            .unwrap_err()
            .to_string();
        assert!(refused.contains("sklearn, python_function") && refused.contains("never loads"), "{refused}");
        let ubj = flavour(&yaml("flavors:\n  xgboost: {data: model.ubj, model_format: ubj}\n")).unwrap();
        assert_eq!(ubj, (ArtifactFormat::XgboostUbj, "model.ubj".to_owned()));
        let legacy = flavour(&yaml("flavors:\n  xgboost: {data: model.xgb, model_format: xgb}\n")).unwrap_err();
        assert!(legacy.to_string().contains("legacy binary"));
        let estimator =
            flavour(&yaml("flavors:\n  lightgbm: {data: model.lgb, model_class: lightgbm.sklearn.LGBMClassifier}\n"));
        assert!(estimator.unwrap_err().to_string().contains("log its booster"));
        let onnx = flavour(&yaml("flavors:\n  onnx: {data: model.onnx}\n  python_function: {}\n")).unwrap();
        assert_eq!(onnx, (ArtifactFormat::Onnx, "model.onnx".to_owned()));
    }

    #[test]
    fn a_tracking_uri_is_recorded_without_its_credentials() {
        assert_eq!(shown("https://ana:s3cret@mlflow.bank:5000/?token=x"), "https://mlflow.bank:5000");
        assert_eq!(shown("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
    }

    #[tokio::test]
    async fn file_names_that_could_leave_the_models_directory_are_refused_before_any_request() {
        let tracking = Tracking::new("http://127.0.0.1:9").unwrap();
        for file in ["../x", "%2e%2e/x", "a\\..\\b", "m?x=1", "m#f", "/abs", "a//b", "./m"] {
            let refused = tracking.open("0/models/m-1/artifacts", file).await.unwrap_err().to_string();
            assert!(refused.contains("not a plain relative path"), "{file}: {refused}");
        }
    }

    #[test]
    fn evaluation_datasets_are_read_only_from_the_tracking_servers_artifacts() {
        let tracking = Tracking::new("http://127.0.0.1:5000/").unwrap();
        let path = |source: Value| tracking.artifact_path(&source).map(str::to_owned);
        assert_eq!(
            path(json!({"uri": "mlflow-artifacts:/0/r/artifacts/eval.csv"})).as_deref(),
            Some("0/r/artifacts/eval.csv")
        );
        let proxied = json!({"url": "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/eval.csv"});
        assert_eq!(path(proxied).as_deref(), Some("0/r/artifacts/eval.csv"));
        for elsewhere in [
            json!({"url": "http://169.254.169.254/api/2.0/mlflow-artifacts/artifacts/x.csv"}),
            json!({"url": "http://127.0.0.1:5000.evil/api/2.0/mlflow-artifacts/artifacts/x.csv"}),
            json!({"uri": "/etc/passwd"}),
            json!({"uri": "s3://bucket/eval.csv"}),
        ] {
            assert_eq!(path(elsewhere.clone()), None, "{elsewhere}");
        }
    }

    #[test]
    fn input_examples_become_csv() {
        let split = json!({"columns": ["a", "b"], "data": [[1.5, "x"], [null, "y"]]});
        assert_eq!(String::from_utf8(example_csv(&split).unwrap()).unwrap(), "a,b\n1.5,x\n,y\n");
        let columns = json!({"a": [[0.25], [0.5]], "b": [[1.0], [2.0]]});
        assert_eq!(String::from_utf8(example_csv(&columns).unwrap()).unwrap(), "a,b\n0.25,1.0\n0.5,2.0\n");
    }

    /// MLflow's own signing (`mlflow/webhooks/delivery.py`), computed with Python for this body and secret.
    #[test]
    fn deliveries_are_checked_as_mlflow_signs_them() {
        let body = br#"{"entity": "model_version", "action": "created"}"#;
        let headers = |signature: &str, timestamp: &str| DeliveryHeaders {
            id: Some("d-1".into()),
            timestamp: Some(timestamp.into()),
            signature: Some(signature.into()),
        };
        let now = 1_700_000_000 * 1_000_000;
        let signature = "v1,vmslMCrId1BSszi8w0UGwJaEDeOASEXEkeCAQVUhxnQ=";
        verify_delivery("s3cret", &headers(signature, "1700000000"), body, now).unwrap();
        // Rotation: any of several signatures may match.
        verify_delivery("s3cret", &headers(&format!("v1,AAAA {signature}"), "1700000000"), body, now).unwrap();
        let forged = verify_delivery("other", &headers(signature, "1700000000"), body, now).unwrap_err();
        assert!(matches!(forged, Error::Unauthenticated(_)), "{forged}");
        let tampered = verify_delivery("s3cret", &headers(signature, "1700000000"), b"{}", now).unwrap_err();
        assert!(tampered.to_string().contains("does not match"));
        let stale = verify_delivery("s3cret", &headers(signature, "1700000000"), body, now + 301 * 1_000_000);
        assert!(stale.unwrap_err().to_string().contains("replay"));
        let unsigned = DeliveryHeaders { signature: None, ..headers(signature, "1700000000") };
        assert!(
            verify_delivery("s3cret", &unsigned, body, now).unwrap_err().to_string().contains("X-MLflow-Signature")
        );
    }
}
