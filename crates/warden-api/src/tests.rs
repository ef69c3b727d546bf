//! Router tests: the whole app in-process (`oneshot`), a fresh data directory per test.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use warden_lifecycle::Warden;
use warden_registry::Config;

const LINEAR: &[u8] = br#"{"intercept": -0.5, "coefficients": {"duration": 0.02, "credit_amount": 0.0001}}"#;

pub(crate) struct TestApp {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) warden: Arc<Warden>,
    pub(crate) admin: String,
}

pub(crate) fn german_csv() -> Vec<u8> {
    warden_testdata::read("datasets/german.csv")
}

impl TestApp {
    pub(crate) async fn new() -> Self {
        Self::with_config(|config| config).await
    }

    /// A test application whose configuration `adjust` changes.
    pub(crate) async fn with_config(adjust: impl FnOnce(Config) -> Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = adjust(Config { max_upload_bytes: 256 * 1024, ..Config::new(dir.path()) });
        let (warden, startup) = Warden::open(config).await.unwrap();
        let token_file = startup.admin_token_file.expect("first start writes the admin token");
        let admin = std::fs::read_to_string(&token_file).unwrap().trim().to_owned();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        TestApp { dir, warden: Arc::new(warden), admin }
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method.clone()).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if !body.is_empty() {
            request = request.header("content-type", content_type);
        }
        let response = crate::app(self.warden.clone()).oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        // Every answer of every test fits the OpenAPI document.
        if let Err(mismatch) = crate::openapi_tests::check(&method, uri, status, content_type.as_deref(), &bytes) {
            panic!("{mismatch}");
        }
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub(crate) async fn json(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        self.send(method, uri, token, "application/json", bytes).await
    }

    pub(crate) async fn token(&self, name: &str, role: &str) -> String {
        let (status, body) =
            self.json(Method::POST, "/v1/tokens", Some(&self.admin), json!({"name": name, "role": role})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["secret"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn create_model(&self, name: &str) {
        let body = json!({"name": name, "owner": "retail-risk", "risk_tier": "high", "use_case": "credit origination"});
        let (status, body) = self.json(Method::POST, "/v1/models", Some(&self.admin), body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub(crate) async fn register(
        &self,
        model: &str,
        metadata: Value,
        artifact: &[u8],
        reference: &[u8],
    ) -> (StatusCode, Value) {
        let (content_type, body) = multipart(&[
            ("metadata", None, metadata.to_string().as_bytes()),
            ("artifact", Some("model.json"), artifact),
            ("reference", Some("reference.csv"), reference),
        ]);
        self.send(Method::POST, &format!("/v1/models/{model}/versions"), Some(&self.admin), &content_type, body).await
    }

    fn blobs(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for shard in std::fs::read_dir(self.dir.path().join("artifacts/sha256")).unwrap() {
            for blob in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                found.push(blob.unwrap().path());
            }
        }
        found
    }

    fn staging_is_empty(&self) -> bool {
        std::fs::read_dir(self.dir.path().join("tmp")).unwrap().next().is_none()
    }
}

pub(crate) fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "warden-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(file) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn german_metadata() -> Value {
    json!({"format": "linear-json", "target": "risk", "protected": ["sex"], "code_ref": "git:4f2a9c1",
           "hyperparameters": {"C": 1.0, "penalty": "l2"}})
}

#[tokio::test]
async fn health_is_open_and_everything_else_needs_a_valid_token() {
    let app = TestApp::new().await;
    assert_eq!(app.json(Method::GET, "/healthz", None, Value::Null).await.0, StatusCode::OK);
    let (status, body) = app.json(Method::GET, "/readyz", None, Value::Null).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ready")));
    let (status, body) = app.json(Method::GET, "/v1/models", None, Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    let (status, _) = app.json(Method::GET, "/v1/models", Some("wdn_forged"), Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app.json(Method::GET, "/v1/whoami", Some(&app.admin), Value::Null).await;
    assert_eq!((status, body["role"].as_str()), (StatusCode::OK, Some("admin")));
    let (status, body) = app.json(Method::GET, "/v1/nothing-here", Some(&app.admin), Value::Null).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test]
async fn roles_decide_what_a_token_may_do_and_revoked_tokens_stop_working() {
    let app = TestApp::new().await;
    let viewer = app.token("dashboard", "viewer").await;
    let scientist = app.token("alice", "data-scientist").await;
    let model = json!({"name": "credit-default", "owner": "retail-risk", "risk_tier": "high"});
    let (status, body) = app.json(Method::POST, "/v1/models", Some(&viewer), model.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    assert_eq!(app.json(Method::POST, "/v1/models", Some(&scientist), model).await.0, StatusCode::CREATED);
    assert_eq!(app.json(Method::GET, "/v1/models", Some(&viewer), Value::Null).await.0, StatusCode::OK);
    assert_eq!(app.json(Method::GET, "/v1/tokens", Some(&scientist), Value::Null).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.json(Method::GET, "/v1/audit/events", Some(&scientist), Value::Null).await.0, StatusCode::FORBIDDEN);
    let (status, body) =
        app.json(Method::POST, "/v1/tokens", Some(&app.admin), json!({"name": "x", "role": "root"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        app.json(Method::POST, "/v1/tokens", Some(&app.admin), json!({"name": "alice", "role": "viewer"})).await.0,
        StatusCode::CONFLICT
    );

    assert_eq!(app.json(Method::DELETE, "/v1/tokens/alice", Some(&app.admin), Value::Null).await.0, StatusCode::OK);
    let (status, body) = app.json(Method::GET, "/v1/models", Some(&scientist), Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"]["message"].as_str().unwrap().contains("revoked"));
    assert_eq!(
        app.json(Method::DELETE, "/v1/tokens/alice", Some(&app.admin), Value::Null).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.json(Method::DELETE, "/v1/tokens/nobody", Some(&app.admin), Value::Null).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn model_creation_rejects_bad_input_with_the_right_status() {
    let app = TestApp::new().await;
    app.create_model("credit-default").await;
    let cases = [
        (json!({"name": "credit-default", "owner": "o", "risk_tier": "high"}), StatusCode::CONFLICT, "conflict"),
        (
            json!({"name": "Credit Default", "owner": "o", "risk_tier": "high"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (json!({"name": "ok", "owner": "o", "risk_tier": "extreme"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        (json!({"name": "ok", "owner": "", "risk_tier": "low"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        (
            json!({"name": "ok", "owner": "o", "risk_tier": "low", "colour": "red"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = app.json(Method::POST, "/v1/models", Some(&app.admin), body.clone()).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body} -> {answer}");
    }
    let malformed =
        app.send(Method::POST, "/v1/models", Some(&app.admin), "application/json", b"{\"name\": ".to_vec()).await;
    assert_eq!(malformed.0, StatusCode::BAD_REQUEST, "{}", malformed.1);
    let huge =
        json!({"name": "big", "owner": "o", "risk_tier": "low", "description": "x".repeat(crate::JSON_BODY_LIMIT + 1)});
    let (status, body) = app.json(Method::POST, "/v1/models", Some(&app.admin), huge).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")));
    let (_, models) = app.json(Method::GET, "/v1/models", Some(&app.admin), Value::Null).await;
    assert_eq!(models.as_array().unwrap().len(), 1, "no failed request created a model");
    assert_eq!(
        app.json(Method::GET, "/v1/models/unknown", Some(&app.admin), Value::Null).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn registration_profiles_the_reference_and_records_lineage() {
    let app = TestApp::new().await;
    app.create_model("credit-default").await;
    let (status, version) = app.register("credit-default", german_metadata(), LINEAR, &german_csv()).await;
    assert_eq!(status, StatusCode::CREATED, "{version}");
    assert_eq!(version["version"], 1);
    assert_eq!(version["reference"]["rows"], 1000);
    assert_eq!(version["lineage"]["code_ref"], "git:4f2a9c1");
    assert_eq!(version["lineage"]["hyperparameters"]["penalty"], "l2");
    let features: Vec<&str> =
        version["feature_schema"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        features,
        ["job", "housing", "saving_accounts", "checking_account", "credit_amount", "duration", "purpose", "age"]
    );
    let columns = version["reference"]["profile"]["columns"].as_array().unwrap();
    let sex = columns.iter().find(|c| c["name"] == "sex").unwrap();
    assert_eq!((sex["role"].as_str(), sex["frequencies"]["female"].as_u64()), (Some("protected"), Some(310)));
    let risk = columns.iter().find(|c| c["name"] == "risk").unwrap();
    assert_eq!(risk["role"], "target");
    let age = columns.iter().find(|c| c["name"] == "age").unwrap();
    assert_eq!((age["min"].as_f64(), age["max"].as_f64(), age["count"].as_u64()), (Some(19.0), Some(75.0), Some(1000)));
    assert_eq!(age["bin_counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum::<u64>(), 1000);

    // The artifact round-trips and is verified by hash.
    let response = crate::app(app.warden.clone())
        .oneshot(
            Request::get("/v1/models/credit-default/versions/1/artifact")
                .header("authorization", format!("Bearer {}", app.admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-warden-sha256"], version["artifact"]["sha256"].as_str().unwrap());
    assert_eq!(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().as_ref(), LINEAR);

    // A second version with a parent; listing omits profiles.
    let mut metadata = german_metadata();
    metadata["parent_version"] = json!(1);
    let (status, v2) = app.register("credit-default", metadata, LINEAR, &german_csv()).await;
    assert_eq!((status, v2["version"].as_i64()), (StatusCode::CREATED, Some(2)), "{v2}");
    let (_, list) = app.json(Method::GET, "/v1/models/credit-default/versions", Some(&app.admin), Value::Null).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[0]["reference"].get("profile").is_none());
    let (_, model) = app.json(Method::GET, "/v1/models/credit-default", Some(&app.admin), Value::Null).await;
    assert_eq!(model["latest_version"], 2);
    // Same artifact and reference bytes are stored once.
    assert_eq!(app.blobs().len(), 2);
    assert!(app.staging_is_empty());
}

#[tokio::test]
async fn failed_registrations_leave_no_version_no_blob_and_no_event() {
    let app = TestApp::new().await;
    app.create_model("credit-default").await;
    let german = german_csv();
    let with = |key: &str, value: Value| {
        let mut m = german_metadata();
        m[key] = value;
        m
    };
    let big_reference = {
        let mut csv = b"a,b\n".to_vec();
        while csv.len() <= 256 * 1024 {
            csv.extend_from_slice(b"1.5,2.5\n");
        }
        csv
    };
    // (what, metadata, artifact, reference, expected status, expected message)
    type Case<'a> = (&'a str, Value, &'a [u8], &'a [u8], StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            "ragged row",
            german_metadata(),
            LINEAR,
            b"risk,sex,a\n1,m,2\n0,f\n",
            StatusCode::UNPROCESSABLE_ENTITY,
            "line 3: expected 3 fields, found 2",
        ),
        (
            "text in numeric column",
            german_metadata(),
            LINEAR,
            b"risk,sex,a\n1,m,2\n0,f,abc\n",
            StatusCode::UNPROCESSABLE_ENTITY,
            "line 3, column 'a': expected a number, found 'abc'",
        ),
        (
            "unknown format",
            with("format", json!("pickle")),
            LINEAR,
            &german,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown artifact format 'pickle'",
        ),
        (
            "artifact not of its format",
            with("format", json!("xgboost-json")),
            LINEAR,
            &german,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid xgboost-json model",
        ),
        ("empty artifact", german_metadata(), b"", &german, StatusCode::UNPROCESSABLE_ENTITY, "artifact is empty"),
        (
            // What Python writes for an object whose __reduce__ runs os.system("id"), declared as a model.
            "a pickle that runs a command",
            with("format", json!("onnx")),
            b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.",
            &german,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Python pickle (it runs code when loaded; export the model to ONNX or the library's JSON/text format) refused; dangerous imports: posix.system",
        ),
        (
            "a zip archive",
            german_metadata(),
            b"PK\x03\x04\x14\x00\x00\x00data.pkl",
            &german,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a zip archive or compressed file",
        ),
        (
            "missing target",
            with("target", json!("default")),
            LINEAR,
            &german,
            StatusCode::UNPROCESSABLE_ENTITY,
            "no column 'default' (declared as target)",
        ),
        ("unknown parent", with("parent_version", json!(7)), LINEAR, &german, StatusCode::NOT_FOUND, "no version 7"),
        (
            "bad training hash",
            with("training_data_sha256", json!("xyz")),
            LINEAR,
            &german,
            StatusCode::UNPROCESSABLE_ENTITY,
            "not 64 hex digits",
        ),
        (
            "reference over the limit",
            german_metadata(),
            LINEAR,
            &big_reference,
            StatusCode::PAYLOAD_TOO_LARGE,
            "exceeds the limit",
        ),
        (
            "NaN-free infinity",
            german_metadata(),
            LINEAR,
            b"risk,sex,a\n1,m,inf\n",
            StatusCode::UNPROCESSABLE_ENTITY,
            "is not finite",
        ),
    ];
    for (what, metadata, artifact, reference, status, message) in cases {
        let (got, body) = app.register("credit-default", metadata, artifact, reference).await;
        assert_eq!(got, status, "{what}: {body}");
        let text = body["error"]["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{what}: '{text}' should contain '{message}'");
        assert!(app.blobs().is_empty(), "{what}: a blob was left behind");
        assert!(app.staging_is_empty(), "{what}: a staging file was left behind");
    }
    let (status, body) = app.register("no-such-model", german_metadata(), LINEAR, &german).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (content_type, body) = multipart(&[("metadata", None, german_metadata().to_string().as_bytes())]);
    let (status, answer) =
        app.send(Method::POST, "/v1/models/credit-default/versions", Some(&app.admin), &content_type, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (content_type, body) = multipart(&[
        ("metadata", None, b"{not json"),
        ("artifact", Some("a"), LINEAR),
        ("reference", Some("r"), &german),
    ]);
    let (status, _) =
        app.send(Method::POST, "/v1/models/credit-default/versions", Some(&app.admin), &content_type, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, versions) =
        app.json(Method::GET, "/v1/models/credit-default/versions", Some(&app.admin), Value::Null).await;
    assert!(versions.as_array().unwrap().is_empty());
    let (_, events) = app.json(Method::GET, "/v1/audit/events", Some(&app.admin), Value::Null).await;
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    // (The first start put the default policy bundle in force.)
    assert_eq!(actions, ["token.create", "policy.put", "model.create"], "failed registrations appended no event");
}

#[tokio::test]
async fn aliases_keep_a_history_that_answers_which_version_was_live_when() {
    let app = TestApp::new().await;
    app.create_model("credit-default").await;
    for _ in 0..2 {
        assert_eq!(
            app.register("credit-default", german_metadata(), LINEAR, &german_csv()).await.0,
            StatusCode::CREATED
        );
    }
    let set = |version: i64| json!({"version": version, "reason": "quarterly review"});
    // Production aliases move only through the gate.
    let (status, refused) =
        app.json(Method::PUT, "/v1/models/credit-default/aliases/champion", Some(&app.admin), set(1)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("warden promote"), "{refused}");
    let (status, first) =
        app.json(Method::PUT, "/v1/models/credit-default/aliases/stable", Some(&app.admin), set(1)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let between = first["assigned_at"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (_, second) = app.json(Method::PUT, "/v1/models/credit-default/aliases/stable", Some(&app.admin), set(2)).await;
    assert_eq!(second["version"], 2);

    let (_, now) =
        app.json(Method::GET, "/v1/models/credit-default/aliases/stable", Some(&app.admin), Value::Null).await;
    assert_eq!(now["version"], 2);
    let uri = format!("/v1/models/credit-default/aliases/stable?at={}", between.replace('+', "%2B"));
    let (status, then) = app.json(Method::GET, &uri, Some(&app.admin), Value::Null).await;
    assert_eq!((status, then["version"].as_i64()), (StatusCode::OK, Some(1)), "{then}");
    let (status, _) = app
        .json(
            Method::GET,
            "/v1/models/credit-default/aliases/stable?at=2001-01-01T00:00:00Z",
            Some(&app.admin),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .json(Method::GET, "/v1/models/credit-default/aliases/stable?at=yesterday", Some(&app.admin), Value::Null)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A version can be read through its alias.
    let (_, by_alias) =
        app.json(Method::GET, "/v1/models/credit-default/versions/stable", Some(&app.admin), Value::Null).await;
    assert_eq!(by_alias["version"], 2);
    assert_eq!(
        app.json(Method::PUT, "/v1/models/credit-default/aliases/stable", Some(&app.admin), set(9)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.json(Method::PUT, "/v1/models/credit-default/aliases/42", Some(&app.admin), set(1)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.json(Method::DELETE, "/v1/models/credit-default/aliases/stable", Some(&app.admin), Value::Null).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.json(Method::GET, "/v1/models/credit-default/aliases/stable", Some(&app.admin), Value::Null).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, history) = app
        .json(Method::GET, "/v1/models/credit-default/alias-history?alias=stable", Some(&app.admin), Value::Null)
        .await;
    let versions: Vec<Value> = history.as_array().unwrap().iter().map(|a| a["version"].clone()).collect();
    assert_eq!(versions, [json!(1), json!(2), Value::Null]);
    assert_eq!(history[0]["reason"], "quarterly review");

    let (_, events) =
        app.json(Method::GET, "/v1/audit/events?subject=model/credit-default", Some(&app.admin), Value::Null).await;
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["model.create", "version.register", "version.register", "alias.set", "alias.set", "alias.delete"]
    );
}

#[tokio::test]
async fn openapi_describes_every_endpoint() {
    let app = TestApp::new().await;
    let (status, doc) = app.json(Method::GET, "/v1/openapi.json", None, Value::Null).await;
    // The document describes the API and reveals no data, so it needs no token.
    assert_eq!(status, StatusCode::OK);
    let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for expected in [
        "/healthz",
        "/readyz",
        "/v1/whoami",
        "/v1/models",
        "/v1/models/{name}",
        "/v1/models/{name}/versions",
        "/v1/models/{name}/versions/{version}",
        "/v1/models/{name}/versions/{version}/artifact",
        "/v1/models/{name}/aliases",
        "/v1/models/{name}/aliases/{alias}",
        "/v1/models/{name}/alias-history",
        "/v1/tokens",
        "/v1/tokens/{name}",
        "/v1/audit/events",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(
        doc["paths"]["/v1/models/{name}/versions"]["post"]["requestBody"]["content"]["multipart/form-data"].is_object()
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_two_authorization_headers_are_refused() {
    let app = TestApp::new().await;
    let whoami = |headers: Vec<String>| {
        let mut request = Request::builder().method(Method::GET).uri("/v1/whoami");
        for value in headers {
            request = request.header("authorization", value);
        }
        crate::app(app.warden.clone()).oneshot(request.body(Body::empty()).unwrap())
    };
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = whoami(vec![format!("{scheme} {}", app.admin)]).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "scheme {scheme}");
    }
    for refused in [vec![format!("Basic {}", app.admin)], vec![format!("Bearer{}", app.admin)], vec!["Bearer ".into()]]
    {
        let response = whoami(refused.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{refused:?}");
    }
    let twice = whoami(vec![format!("Bearer {}", app.admin), format!("Bearer {}", app.admin)]).await.unwrap();
    assert_eq!(twice.status(), StatusCode::UNAUTHORIZED);
    let body = axum::body::to_bytes(twice.into_body(), usize::MAX).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("more than one Authorization header"));
}
