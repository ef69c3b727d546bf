//! Hostile and careless input at the API's edges: stress scenarios that overflow, `/metrics` label values
//! taken from request paths, unbounded monitor settings, login redirects, repeated multipart parts, errors
//! answered outside the handlers, request ids used twice in a batch.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::tests::{TestApp, german_csv, multipart};

const LINEAR: &[u8] = br#"{"intercept": -0.5, "coefficients": {"duration": 0.02, "credit_amount": 0.0001}}"#;

fn metadata() -> Value {
    json!({"format": "linear-json", "target": "risk", "protected": ["sex"]})
}

fn applicant(id: &str) -> Value {
    json!({"request_id": id, "features": {"duration": 12, "credit_amount": 1000, "job": 2, "age": 30,
        "housing": "own", "saving_accounts": "little", "checking_account": "little", "purpose": "car"},
        "attributes": {"sex": "female"}})
}

impl TestApp {
    /// Sends a request as it is; the status, the headers and the body's bytes.
    async fn raw(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = crate::app(self.warden.clone()).oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, headers, bytes.to_vec())
    }

    /// Model `credit` with one version of the linear model serving as champion; its number.
    async fn credit_in_production(&self) -> i64 {
        self.create_model("credit").await;
        let (status, body) = self.register("credit", metadata(), LINEAR, &german_csv()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let version = body["version"].as_i64().unwrap();
        let promote = json!({"alias": "champion", "override": true, "reason": "hardening test"});
        let uri = format!("/v1/models/credit/versions/{version}/promote");
        let (status, body) = self.json(Method::POST, &uri, Some(&self.admin), promote).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        version
    }

    async fn metrics_text(&self) -> String {
        let request = Request::get("/metrics")
            .header("authorization", format!("Bearer {}", self.admin))
            .body(Body::empty())
            .unwrap();
        let (status, _, body) = self.raw(request).await;
        assert_eq!(status, StatusCode::OK);
        String::from_utf8(body).unwrap()
    }
}

/// `application/x-www-form-urlencoded` text.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Asserts a response is the JSON error body with `code`, and returns its message.
fn json_error(status: StatusCode, headers: &HeaderMap, body: &[u8], code: &str) -> String {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{status}: {content_type}: {}",
        String::from_utf8_lossy(body)
    );
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["error"]["code"], code, "{status}: {body}");
    assert!(body["error"].as_object().unwrap().contains_key("details"), "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}

/// Item 1: `credit_amount *= 1e308` overflows on every row of the German data. It used to leave the rows
/// unchanged and store a report saying the scenario changed nothing (`+0.000`).
#[tokio::test]
async fn a_scenario_that_overflows_is_refused_naming_the_scenario_the_feature_and_the_first_row() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let (status, body) = app.register("credit", metadata(), LINEAR, &german_csv()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let csv = german_csv();
    let validate_version = |version: i64, parts: Vec<(&'static str, Option<&'static str>, Vec<u8>)>| {
        let app = &app;
        async move {
            let parts: Vec<(&str, Option<&str>, &[u8])> =
                parts.iter().map(|(n, f, b)| (*n, *f, b.as_slice())).collect();
            let (content_type, body) = multipart(&parts);
            let uri = format!("/v1/models/credit/versions/{version}/validations");
            app.send(Method::POST, &uri, Some(&app.admin), &content_type, body).await
        }
    };
    let validate = |parts| validate_version(1, parts);
    let meta = || ("metadata", None, json!({"target": "risk", "bad_value": "0"}).to_string().into_bytes());
    let data = || ("data", Some("validation.csv"), csv.clone());
    let scenarios = |text: &str| ("scenarios", Some("stress.toml"), text.as_bytes().to_vec());

    let overflow = "[[scenario]]\nname = \"mild\"\nchanges = [\"duration += 1\"]\n\n\
                    [[scenario]]\nname = \"astronomical loans\"\nchanges = [\"credit_amount *= 1e308\"]\n";
    let (status, body) = validate(vec![meta(), data(), scenarios(overflow)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("scenario 'astronomical loans'")
            && message.contains("feature 'credit_amount' inf at row 1")
            && message.contains("finite"),
        "{message}"
    );
    assert_eq!(body["error"]["details"]["row"], 1, "{body}");
    assert_eq!(body["error"]["details"]["feature"], "credit_amount", "{body}");
    // Finite values whose expected loss overflows are refused too (the figure would be stored as null).
    let mut with_loss = metadata();
    with_loss["serving"] = json!({"lgd": 0.45, "exposure_column": "credit_amount"});
    let (status, body) = app.register("credit", with_loss, LINEAR, &german_csv()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let big = "[[scenario]]\nname = \"big\"\nchanges = [\"credit_amount *= 1e303\"]\n";
    let (status, body) = validate_version(2, vec![meta(), data(), scenarios(big)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("expected loss under the scenario is not finite"),
        "{body}"
    );

    // A deeply nested scenario file is refused before it is parsed; a file over the limit before it is read.
    let deep = format!("scenario: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let (status, body) = validate(vec![meta(), data(), ("scenarios", Some("s.yaml"), deep.into_bytes())]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("more than 1000 '[' and '{'"), "{body}");
    let huge = vec![b'#'; 300 * 1024];
    let (status, body) = validate(vec![meta(), data(), ("scenarios", Some("s.toml"), huge)]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("'scenarios' part"), "{body}");

    // Nothing refused was stored.
    for version in [1, 2] {
        let uri = format!("/v1/models/credit/versions/{version}/validations");
        let (_, listed) = app.json(Method::GET, &uri, Some(&app.admin), Value::Null).await;
        assert_eq!(listed.as_array().unwrap().len(), 0, "{listed}");
    }
}

/// Item 2: each request to a model that does not exist added a permanent `score_errors` series named after
/// the request's path; a request with a made-up method added an `http_requests` series named after it.
#[tokio::test]
async fn metrics_do_not_grow_with_requests_naming_models_that_do_not_exist() {
    let app = TestApp::new().await;
    let score = |name: String, batch: bool, method: Method| {
        let app = &app;
        async move {
            let (uri, body) = if batch {
                (format!("/v1/models/{name}/score/batch"), json!([applicant("a")]))
            } else {
                (format!("/v1/models/{name}/score"), applicant("a"))
            };
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {}", app.admin))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            app.raw(request).await.0
        }
    };
    // Every series these requests can touch exists once.
    for batch in [false, true] {
        assert_eq!(score("warm-up".into(), batch, Method::POST).await, StatusCode::NOT_FOUND);
        assert!(score("warm-up".into(), batch, Method::from_bytes(b"WARMUP").unwrap()).await.is_client_error());
    }
    app.metrics_text().await;
    let before = app.metrics_text().await;
    for i in 0..400u32 {
        let name = format!("no-such-model-{:08x}", i.wrapping_mul(2_654_435_761));
        assert_eq!(score(name.clone(), i % 2 == 0, Method::POST).await, StatusCode::NOT_FOUND);
        if i % 20 == 0 {
            let method = Method::from_bytes(format!("X{i}").as_bytes()).unwrap();
            assert!(score(name, i % 2 == 0, method).await.is_client_error());
        }
    }
    let after = app.metrics_text().await;
    // Counts grow by a few digits; no series is added.
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    let added: Vec<&str> = after
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            let name = l.rsplit_once(' ').map_or(*l, |(n, _)| n);
            !before.lines().any(|b| b.starts_with(name))
        })
        .collect();
    assert!(added.is_empty(), "series were added: {added:#?}");
    assert_eq!(series(&after), series(&before));
    assert!(after.len() <= before.len() + 512, "{} -> {} bytes", before.len(), after.len());
    assert!(!after.contains("no-such-model") && !after.contains("X20"), "{after}");
    assert!(after.contains("path=\"/v1/models/{name}/score\""), "{after}");
}

/// Item 3: `--window-decisions 9999999999999` used to be accepted.
#[tokio::test]
async fn monitor_settings_over_their_documented_maximum_are_refused() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let uri = "/v1/models/credit/monitors/feature_drift";
    let cases = [
        (json!({"window_decisions": 9_999_999_999_999u64}), "window_decisions is at most 10000000"),
        (json!({"min_decisions": 10_000_001}), "min_decisions is at most 10000000"),
        (json!({"learned": {"k": 3, "chunk_size": 10_000_001}}), "chunk_size is at most 10000000"),
        (json!({"learned": {"k": 1e300}}), "1 <= k <= 100"),
        (json!({"window_seconds": 9_999_999_999_999i64}), "window_seconds is 10 to 3600"),
        (json!({"consecutive": 4_000_000_000u32}), "consecutive is 1 to 60"),
        (json!({"resolve_after": 0}), "resolve_after is 1 to 60"),
        (json!({"resolve_after": 61}), "resolve_after is 1 to 60"),
    ];
    for (change, want) in cases {
        let (status, body) = app.json(Method::PUT, uri, Some(&app.admin), change.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{change}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(want), "{change}: {body}");
    }
    let (status, body) = app
        .json(Method::PUT, uri, Some(&app.admin), json!({"window_decisions": 10_000_000, "min_decisions": 500}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["config"]["window_decisions"], 10_000_000, "{body}");
}

/// Item 4: a `next` holding CR/LF used to answer 303 with no Location header at all.
#[tokio::test]
async fn login_goes_only_to_a_dashboard_path_and_always_says_where() {
    let app = TestApp::new().await;
    let login = |token: String, next: &'static str| {
        let app = &app;
        async move {
            let nonce = "n".repeat(64);
            let form = format!("token={}&nonce={nonce}&next={}", urlencode(&token), urlencode(next));
            let request = Request::post("/ui/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("warden_login={nonce}"))
                .body(Body::from(form))
                .unwrap();
            let (status, headers, _) = app.raw(request).await;
            assert_eq!(status, StatusCode::SEE_OTHER, "{next:?}");
            let location = headers.get(header::LOCATION).unwrap_or_else(|| panic!("{next:?}: no Location"));
            location.to_str().unwrap().to_owned()
        }
    };
    let refused = [
        "/ui/models/credit\r\nSet-Cookie: warden_session=stolen",
        "/ui\n",
        "/ui/\u{7f}",
        "/ui/mod\u{e9}les",
        "/ui/ x",
        "//evil.example/ui",
        "/ui//evil.example",
        "/ui\\\\evil.example",
        "/ui/../v1/tokens",
        "/ui/%2e%2e/v1/tokens",
        "/uiadmin",
        "https://evil.example/ui",
        "ui",
        "",
    ];
    for next in refused {
        assert_eq!(login(app.admin.clone(), next).await, "/ui", "{next:?}");
    }
    for next in ["/ui", "/ui/models/credit", "/ui/audit?actor=token%3Aadmin&limit=50", "/ui?tier=high"] {
        assert_eq!(login(app.admin.clone(), next).await, next);
    }
    // A failed login goes back to the form, carrying only a checked target.
    let location = login("wdn_wrong".into(), "/ui/x\r\nX-Injected: 1").await;
    assert_eq!(location, "/ui/login?failed=1&next=/ui");
}

/// Item 5: a second `artifact` (or `reference`, `metadata`, `data`, `scenarios`) part used to replace the
/// first silently.
#[tokio::test]
async fn a_multipart_part_sent_twice_is_refused_naming_it() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let csv = german_csv();
    let meta = metadata().to_string();
    let register = [
        (
            "artifact",
            vec![
                ("metadata", None, meta.as_bytes()),
                ("artifact", Some("a.json"), LINEAR),
                ("artifact", Some("b.json"), LINEAR),
                ("reference", Some("r.csv"), csv.as_slice()),
            ],
        ),
        (
            "reference",
            vec![
                ("metadata", None, meta.as_bytes()),
                ("reference", Some("r.csv"), csv.as_slice()),
                ("artifact", Some("a.json"), LINEAR),
                ("reference", Some("r2.csv"), csv.as_slice()),
            ],
        ),
        (
            "metadata",
            vec![
                ("metadata", None, meta.as_bytes()),
                ("artifact", Some("a.json"), LINEAR),
                ("reference", Some("r.csv"), csv.as_slice()),
                ("metadata", None, meta.as_bytes()),
            ],
        ),
    ];
    for (part, parts) in register {
        let (content_type, body) = multipart(&parts);
        let (status, answer) =
            app.send(Method::POST, "/v1/models/credit/versions", Some(&app.admin), &content_type, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{part}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("more than one '{part}' part")), "{message}");
    }
    let (_, versions) = app.json(Method::GET, "/v1/models/credit/versions", Some(&app.admin), Value::Null).await;
    assert_eq!(versions.as_array().unwrap().len(), 0, "{versions}");
    assert!(std::fs::read_dir(app.dir.path().join("tmp")).unwrap().next().is_none(), "staging holds files");

    let (status, body) = app.register("credit", metadata(), LINEAR, &csv).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let vmeta = json!({"target": "risk", "bad_value": "0"}).to_string();
    let scenario = b"[[scenario]]\nname = \"x\"\nchanges = [\"duration += 1\"]\n".as_slice();
    let validate = [
        (
            "data",
            vec![
                ("metadata", None, vmeta.as_bytes()),
                ("data", Some("v.csv"), csv.as_slice()),
                ("data", Some("w.csv"), csv.as_slice()),
            ],
        ),
        (
            "scenarios",
            vec![
                ("metadata", None, vmeta.as_bytes()),
                ("data", Some("v.csv"), csv.as_slice()),
                ("scenarios", Some("s.toml"), scenario),
                ("scenarios", Some("t.toml"), scenario),
            ],
        ),
        (
            "metadata",
            vec![
                ("metadata", None, vmeta.as_bytes()),
                ("metadata", None, vmeta.as_bytes()),
                ("data", Some("v.csv"), csv.as_slice()),
            ],
        ),
    ];
    for (part, parts) in validate {
        let (content_type, body) = multipart(&parts);
        let uri = "/v1/models/credit/versions/1/validations";
        let (status, answer) = app.send(Method::POST, uri, Some(&app.admin), &content_type, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{part}: {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(&format!("more than one '{part}' part")),
            "{answer}"
        );
    }
}

/// Item 6: a batch over 64 MiB was answered `413` in text/plain by axum's body limit; every other answer
/// given outside a handler (unknown route, wrong method, a path or multipart body axum cannot parse) must
/// be the JSON error body too.
#[tokio::test]
async fn every_error_is_the_json_error_body_whoever_answers_it() {
    let app = TestApp::new().await;
    app.create_model("credit").await;
    let bearer = format!("Bearer {}", app.admin);
    let request = |method: &str, uri: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut builder = Request::builder().method(method).uri(uri).header("authorization", bearer.clone());
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(Body::from(body)).unwrap()
    };

    let mut huge = b"[".to_vec();
    huge.resize(crate::BATCH_BODY_LIMIT + 1, b' ');
    let (status, headers, body) =
        app.raw(request("POST", "/v1/models/credit/score/batch", Some("application/json"), huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let message = json_error(status, &headers, &body, "too_large");
    assert!(message.contains(&crate::BATCH_BODY_LIMIT.to_string()), "{message}");

    let (status, headers, body) = app.raw(request("GET", "/v1/no/such/route", None, vec![])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    json_error(status, &headers, &body, "not_found");
    let (status, headers, body) = app.raw(request("GET", "/nothing", None, vec![])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    json_error(status, &headers, &body, "not_found");

    let (status, headers, body) = app.raw(request("PATCH", "/v1/models", None, vec![])).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers.get(header::ALLOW).unwrap(), "GET, POST");
    json_error(status, &headers, &body, "method_not_allowed");

    // Path and multipart bodies axum's own extractors refuse.
    let (status, headers, body) = app.raw(request("GET", "/v1/alerts/not-a-number", None, vec![])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    json_error(status, &headers, &body, "bad_request");
    let (status, headers, body) =
        app.raw(request("POST", "/v1/models/credit/versions", Some("multipart/form-data"), b"x".to_vec())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    json_error(status, &headers, &body, "bad_request");
    let (status, headers, body) =
        app.raw(request("POST", "/v1/models/credit/versions", Some("text/plain"), b"x".to_vec())).await;
    assert!(status.is_client_error(), "{status}");
    json_error(
        status,
        &headers,
        &body,
        if status == StatusCode::BAD_REQUEST { "bad_request" } else { "unsupported_media_type" },
    );
    // JSON and query rejections were already JSON.
    let (status, headers, body) = app.raw(request("POST", "/v1/models", Some("application/json"), b"{".to_vec())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    json_error(status, &headers, &body, "bad_request");
    let (status, headers, body) = app.raw(request("POST", "/v1/models", None, b"{}".to_vec())).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    json_error(status, &headers, &body, "unsupported_media_type");
    let (status, headers, body) = app.raw(request("GET", "/v1/audit/events?limit=many", None, vec![])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    json_error(status, &headers, &body, "bad_request");
}

/// Item 7: two rows of one batch under one request id used to make two decisions under it.
#[tokio::test]
async fn a_batch_using_a_request_id_twice_is_refused_and_nothing_is_scored() {
    let app = TestApp::new().await;
    app.credit_in_production().await;
    let batch = json!([applicant("app-1"), applicant("app-2"), applicant("app-1")]);
    let (status, body) = app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), batch).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert!(body["error"]["message"].as_str().unwrap().contains("request_id 'app-1' is used twice"), "{body}");
    assert_eq!(body["error"]["details"], json!({"request_id": "app-1", "rows": [0, 2]}));
    // NDJSON is the same batch.
    let ndjson = format!("{}\n{}\n", applicant("app-3"), applicant("app-3"));
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/models/credit/score/batch",
            Some(&app.admin),
            "application/x-ndjson",
            ndjson.into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, log) = app.json(Method::GET, "/v1/models/credit/decisions", Some(&app.admin), Value::Null).await;
    assert_eq!(log.as_array().unwrap().len(), 0, "nothing was scored: {log}");

    // Distinct ids, and rows without one (each gets its own), are scored.
    let mut anonymous = applicant("x");
    anonymous.as_object_mut().unwrap().remove("request_id");
    let batch = json!([applicant("app-1"), applicant("app-2"), anonymous.clone(), anonymous]);
    let (status, body) = app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"].as_array().unwrap().len(), 4);
}
