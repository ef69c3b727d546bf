//! The MLflow bridge against a real MLflow 3 tracking server (`mlflow server` on SQLite, on 127.0.0.1, from a
//! virtual environment `scripts/install-mlflow.sh` makes on first use), with models the test logs itself
//! (`warden-testdata/data/mlflow/log_models.py`): an ONNX pipeline, an XGBoost booster saved as JSON and as
//! UBJSON, a LightGBM booster, and a pickled scikit-learn model. Imported versions must score what MLflow's own pyfunc
//! predicts to 1e-6, carry the run's lineage, and the pickle must be refused. Then MLflow's registry webhook,
//! pointed at Warden, must make a new MLflow version a Warden candidate by itself, with its evaluation dataset
//! as reference data, and every delivery audited.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{self, Server};

/// `mlflow server` and the workers it starts (its job consumers outlive it if only it is killed): one process
/// group, stopped whole when dropped.
struct MlflowServer(Child);

impl Drop for MlflowServer {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn mlflow_venv() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("the target directory").to_owned();
    let venv = target.join("tools/mlflow");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-mlflow.sh");
    let status = Command::new("bash").arg(&script).arg(&venv).status().expect("the install script runs");
    assert!(status.success(), "{} failed: the MLflow bridge test needs MLflow", script.display());
    venv
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `mlflow server` on SQLite with its artifact proxy, on a free port; its URL.
fn start_mlflow(venv: &Path, dir: &Path) -> (MlflowServer, String) {
    let port = free_port();
    let child = Command::new(venv.join("bin/mlflow"))
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
        .arg("--artifacts-destination")
        .arg(dir.join("artifacts"))
        // MLflow delivers webhooks only over https to public addresses unless told otherwise.
        .env("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true")
        .env("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "http,https")
        // It caches each event's webhooks for a minute: the webhook the test adds must count at once.
        .env("MLFLOW_WEBHOOK_CACHE_TTL", "1")
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mlflow server starts");
    let server = MlflowServer(child);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mlflow server did not listen on {url}");
        std::thread::sleep(Duration::from_millis(300));
    }
    (server, url)
}

fn post(server: &Server, path: &str, body: &Value) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let response = support::http_client()
            .post(format!("{}{path}", server.url))
            .bearer_auth(server.admin_token())
            .json(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "POST {path}: {}", response.status());
        response.json().await.unwrap()
    })
}

mod slow {
    use super::*;

    #[test]
    fn mlflow_versions_import_with_their_lineage_and_score_as_mlflow_predicts() {
        let venv = mlflow_venv();
        let dir = tempfile::tempdir().unwrap();
        let (_mlflow, tracking) = start_mlflow(&venv, dir.path());
        let out = dir.path().join("logged");
        let script = warden_testdata::path("mlflow/log_models.py");
        let german = warden_testdata::path("datasets/german.csv");
        let logged =
            Command::new(venv.join("bin/python")).arg(&script).arg(&tracking).arg(&german).arg(&out).output().unwrap();
        assert!(logged.status.success(), "{}", String::from_utf8_lossy(&logged.stderr));
        let expected: Value = serde_json::from_slice(&std::fs::read(out.join("expected.json")).unwrap()).unwrap();
        let reference = out.join("reference.csv");

        let secret_file = dir.path().join("mlflow-webhook.secret");
        std::fs::write(&secret_file, format!("{WEBHOOK_SECRET}\n")).unwrap();
        let server = Server::start_with(
            &dir.path().join("data"),
            &["--mlflow-tracking-uri", &tracking, "--mlflow-webhook-secret-file", secret_file.to_str().unwrap()],
        );
        for model in ["credit-onnx", "credit-xgb", "credit-xgb-ubj", "credit-lgb", "credit-pickle", "credit-hook"] {
            let made = server.cli(&["model", "create", model, "--owner", "retail-risk", "--risk-tier", "medium"]);
            assert!(made.status.success(), "{}", support::stderr(&made));
        }
        // The ONNX pipeline with the reference data given; the boosters with their logged input examples.
        let import = |uri: &str, extra: &[&str]| {
            let mut args = vec!["import", "mlflow", "--tracking-uri", tracking.as_str(), uri];
            args.extend_from_slice(extra);
            server.cli(&args)
        };
        let onnx = import("models:/credit-onnx/1", &["--reference", reference.to_str().unwrap(), "--target", "risk"]);
        assert!(onnx.status.success(), "{}", support::stderr(&onnx));
        assert!(support::stdout(&onnx).contains("imported models:/credit-onnx/1 (onnx) as credit-onnx version 1"));
        for uri in ["models:/credit-xgb/1", "models:/credit-xgb-ubj/1", "models:/credit-lgb/1"] {
            let out = import(uri, &[]);
            assert!(out.status.success(), "{uri}: {}", support::stderr(&out));
        }

        // The run's lineage came along.
        let version = server.get_json("/v1/models/credit-onnx/versions/1");
        let lineage = &version["lineage"];
        assert_eq!(lineage["code_ref"], "git:4f2a9c1d");
        assert_eq!(lineage["hyperparameters"]["C"], json!(0.7));
        assert_eq!(lineage["hyperparameters"]["mlflow.metric.train_auc"], json!(0.79));
        assert_eq!(lineage["hyperparameters"]["mlflow.model_uri"], "models:/credit-onnx/1");
        assert!(lineage["hyperparameters"]["mlflow.dataset.german-train.digest"].is_string(), "{lineage}");
        let xgb = server.get_json("/v1/models/credit-xgb/versions/1");
        assert_eq!(xgb["format"], "xgboost-json");
        let schema: Vec<&str> =
            xgb["feature_schema"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(schema, ["job", "credit_amount", "duration", "age"], "the signature's columns");

        // Each scores the rows as MLflow's pyfunc predicts them.
        assert_eq!(server.get_json("/v1/models/credit-xgb-ubj/versions/1")["format"], "xgboost-ubj");
        for (model, numeric_only) in
            [("credit-onnx", false), ("credit-xgb", true), ("credit-xgb-ubj", true), ("credit-lgb", true)]
        {
            let promoted = server.cli(&["promote", model, "1", "--override", "--reason", "MLflow import test"]);
            assert!(promoted.status.success(), "{}", support::stderr(&promoted));
            let requests: Vec<Value> = csv_rows(&reference, numeric_only);
            let answer = post(&server, &format!("/v1/models/{model}/score/batch"), &Value::Array(requests));
            let scores: Vec<f64> =
                answer["results"].as_array().unwrap().iter().map(|r| r["score"].as_f64().unwrap()).collect();
            let wanted: Vec<f64> = expected[model].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            assert_eq!(scores.len(), wanted.len());
            let worst = scores.iter().zip(&wanted).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(worst <= 1e-6, "{model}: scores differ from MLflow's pyfunc by up to {worst}");
        }

        // A pickle is refused with the way out; a version that does not exist and an unreachable server say so.
        let pickle = import("models:/credit-pickle/1", &[]);
        assert_eq!(pickle.status.code(), Some(1));
        assert!(support::stderr(&pickle).contains("never loads"), "{}", support::stderr(&pickle));
        let missing = import("models:/credit-onnx/9", &[]);
        assert_eq!(missing.status.code(), Some(1));
        assert!(
            support::stderr(&missing).contains("RESOURCE_DOES_NOT_EXIST")
                || support::stderr(&missing).contains("not found")
        );
        let nowhere = server.cli(&["import", "mlflow", "--tracking-uri", "http://127.0.0.1:9", "models:/x/1"]);
        assert_eq!(nowhere.status.code(), Some(1));
        assert!(support::stderr(&nowhere).contains("cannot reach the MLflow tracking server"));
        assert_eq!(server.get_json("/v1/models/credit-pickle/versions").as_array().map(Vec::len), Some(0));

        webhooks_make_candidates(&venv, &tracking, &server, &out);
    }

    /// MLflow's webhook, pointed at Warden: a new version of a model Warden has becomes its candidate, with the
    /// evaluation dataset its run logged as reference data and the registered model's `warden.target` tag; an
    /// alias set on it later finds it registered; a model Warden does not have is left alone. Each delivery is
    /// audited as the tracking server's identity.
    fn webhooks_make_candidates(venv: &Path, tracking: &str, server: &Server, out: &Path) {
        let script = warden_testdata::path("mlflow/hook_models.py");
        let german = warden_testdata::path("datasets/german.csv");
        let hooked = Command::new(venv.join("bin/python"))
            .arg(&script)
            .args([tracking, server.url.as_str(), WEBHOOK_SECRET])
            .arg(&german)
            .arg(out)
            .env("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true")
            .env("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "http,https")
            .output()
            .unwrap();
        assert!(hooked.status.success(), "{}", String::from_utf8_lossy(&hooked.stderr));

        // Deliveries are sent after MLflow answers: wait for the three to be audited.
        let deadline = Instant::now() + Duration::from_secs(90);
        let deliveries = loop {
            let events = server.get_json("/v1/audit/events?limit=10000");
            let deliveries: Vec<Value> =
                events.as_array().unwrap().iter().filter(|e| e["action"] == "mlflow.delivery").cloned().collect();
            if deliveries.len() >= 3 {
                break deliveries;
            }
            assert!(Instant::now() < deadline, "MLflow's deliveries did not arrive: {deliveries:#?}");
            std::thread::sleep(Duration::from_millis(300));
        };
        let mut outcomes: Vec<(String, String)> = deliveries
            .iter()
            .map(|e| {
                (
                    e["payload"]["mlflow_model_uri"].as_str().unwrap().into(),
                    e["payload"]["outcome"].as_str().unwrap().into(),
                )
            })
            .collect();
        outcomes.sort();
        assert_eq!(
            outcomes,
            [
                ("models:/credit-hook/1".to_owned(), "already_registered".to_owned()),
                ("models:/credit-hook/1".to_owned(), "imported".to_owned()),
                ("models:/not-in-warden/1".to_owned(), "ignored".to_owned()),
            ],
            "{deliveries:#?}"
        );
        let actor = format!("mlflow:{tracking}");
        assert!(deliveries.iter().all(|e| e["actor"] == actor.as_str()), "{deliveries:#?}");

        let version = server.get_json("/v1/models/credit-hook/versions/1");
        assert_eq!(version["format"], "xgboost-ubj");
        assert_eq!(version["created_by"], actor.as_str());
        assert_eq!(version["reference"]["target"], "risk", "from the registered model's warden.target tag");
        assert_eq!(version["lineage"]["hyperparameters"]["mlflow.model_uri"], "models:/credit-hook/1");
        assert_eq!(version["lineage"]["hyperparameters"]["max_depth"], json!(2.0));
        // The evaluation dataset (all 1,000 rows), not an input example, is the reference.
        assert_eq!(version["reference"]["rows"], json!(1000), "{}", version["reference"]);
        assert_eq!(server.get_json("/v1/models/credit-hook/versions").as_array().map(Vec::len), Some(1));

        let promoted = server.cli(&["promote", "credit-hook", "1", "--override", "--reason", "MLflow webhook test"]);
        assert!(promoted.status.success(), "{}", support::stderr(&promoted));
        let requests = csv_rows(&out.join("eval.csv"), true);
        let answer = post(server, "/v1/models/credit-hook/score/batch", &Value::Array(requests));
        let scores: Vec<f64> =
            answer["results"].as_array().unwrap().iter().map(|r| r["score"].as_f64().unwrap()).collect();
        let wanted: Vec<f64> = serde_json::from_slice(&std::fs::read(out.join("hook-expected.json")).unwrap()).unwrap();
        assert_eq!(scores.len(), wanted.len());
        let worst = scores.iter().zip(&wanted).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-6, "credit-hook: scores differ from MLflow's pyfunc by up to {worst}");
    }
}

const WEBHOOK_SECRET: &str = "mlflow-webhook-secret-for-the-test";

/// The first 200 data rows of the reference file as scoring requests (numeric columns only, for the boosters).
fn csv_rows(path: &Path, numeric_only: bool) -> Vec<Value> {
    let numeric = ["job", "credit_amount", "duration", "age"];
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .take(200)
        .map(|record| {
            let record = record.unwrap();
            let mut features = serde_json::Map::new();
            for (name, value) in headers.iter().zip(record.iter()) {
                if name == "risk" || (numeric_only && !numeric.contains(&name)) {
                    continue;
                }
                let cell = if numeric.contains(&name) { json!(value.parse::<f64>().unwrap()) } else { json!(value) };
                features.insert(name.to_owned(), cell);
            }
            json!({"features": features})
        })
        .collect()
}
