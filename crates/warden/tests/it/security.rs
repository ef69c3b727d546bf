//! Secrets stay secret: with every log at trace level, no token secret reaches the server's log, a CLI
//! error, or an answer, whether the token is good, revoked, expired, malformed or unknown.

use std::process::Stdio;

use crate::support::{self, Server, stderr, stdout, test_pki};

#[test]
fn no_token_secret_reaches_a_log_or_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start_logging(&data, &[], "trace", Stdio::from(log));
    let admin = server.admin_token();

    let created = server.cli(&["token", "create", "--name", "app", "--role", "scorer"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let scorer = stdout(&created).trim().to_owned();
    assert!(scorer.starts_with("wdn_") && scorer.len() == 68, "a 256-bit secret: {scorer}");
    let short = server.cli(&["token", "create", "--name", "brief", "--role", "viewer", "--expires-in", "1s"]);
    let brief = stdout(&short).trim().to_owned();
    let doomed = stdout(&server.cli(&["token", "create", "--name", "doomed", "--role", "viewer"])).trim().to_owned();
    assert!(server.cli(&["token", "revoke", "doomed"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(1_100));

    // Each token used where it is refused or fails, plus a made-up one and a mangled one.
    let made_up = format!("wdn_{}", "ab".repeat(32));
    let mangled = format!("{scorer}\u{7f}x");
    for token in [&scorer, &brief, &doomed, &made_up, &mangled] {
        let out = server.cli_as(Some(token), &["model", "list"]);
        assert!(!out.status.success());
        let text = format!("{}{}", stdout(&out), stderr(&out));
        for secret in [&admin, &scorer, &brief, &doomed, &made_up] {
            assert!(!text.contains(secret.as_str()), "a CLI error shows a secret: {text}");
        }
    }
    let scored = server.cli_as(Some(&scorer), &["model", "show", "absent"]);
    assert!(!scored.status.success());
    let listed = server.cli(&["token", "list", "--json"]);
    assert!(listed.status.success());
    for secret in [&scorer, &brief, &doomed] {
        assert!(!stdout(&listed).contains(secret.as_str()), "token list shows a secret");
    }

    server.signal("TERM");
    let _ = server.child.wait();
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(logged.lines().count() > 20, "the trace log was written: {logged}");
    for secret in [&admin, &scorer, &brief, &doomed, &made_up] {
        assert!(!logged.contains(secret.as_str()), "the server log holds a secret");
        // Nor the hex part alone.
        assert!(!logged.contains(&secret[4..]), "the server log holds a secret's digits");
    }
}

#[test]
fn tls_serves_the_api_to_clients_that_trust_its_ca_and_nobody_else() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki();
    let (ca_path, cert_path, key_path) =
        (dir.path().join("ca.pem"), dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&ca_path, ca).unwrap();
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(
        &data,
        &["--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()],
    );
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);

    // A client that opens a connection and never says hello holds nobody up.
    let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
    let _silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();

    let mut trusted = std::process::Command::new(support::WARDEN);
    trusted
        .args(["model", "create", "credit", "--owner", "retail-risk", "--risk-tier", "high"])
        .env("WARDEN_URL", &server.url)
        .env("WARDEN_DATA_DIR", &data)
        .env("WARDEN_CA_CERT", &ca_path);
    let started = std::time::Instant::now();
    let out = trusted.output().unwrap();
    assert!(out.status.success(), "over TLS with the CA trusted: {}", stderr(&out));
    // Handshakes wait for nobody: were they done one by one, this call would wait out the silent client's
    // 10-second handshake deadline.
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());

    // Without the CA the certificate is not trusted; plain HTTP to the TLS port gets no answer.
    let out = server.cli(&["model", "list"]);
    assert!(!out.status.success());
    assert!(stderr(&out).to_lowercase().contains("certificate"), "{}", stderr(&out));
    let plain = server.url.replace("https://", "http://");
    let out = std::process::Command::new(support::WARDEN)
        .args(["model", "list"])
        .env("WARDEN_URL", &plain)
        .env("WARDEN_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(!out.status.success(), "plain HTTP must not be served on the TLS port");
}

#[test]
fn tls_needs_both_files_and_refuses_bad_ones_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let only_cert = std::process::Command::new(support::WARDEN)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert", "cert.pem", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(only_cert.status.code(), Some(2), "{}", stderr(&only_cert));
    assert!(stderr(&only_cert).contains("--tls-key"), "{}", stderr(&only_cert));
    let missing = dir.path().join("absent.pem");
    let bad = std::process::Command::new(support::WARDEN)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&missing)
        .arg("--tls-key")
        .arg(&missing)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("absent.pem"), "{}", stderr(&bad));
    assert!(!stdout(&bad).contains("listening"), "nothing listens with a broken TLS setup");
}

/// Sends raw bytes on a fresh connection and reads until the server closes it or `wait` passes: what came
/// back, and how long the server took to close.
fn raw_exchange(
    url: &str,
    chunks: &[&[u8]],
    pause: std::time::Duration,
    wait: std::time::Duration,
) -> (String, Option<std::time::Duration>) {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let started = std::time::Instant::now();
    for chunk in chunks {
        if stream.write_all(chunk).is_err() {
            break;
        }
        std::thread::sleep(pause);
    }
    stream
        .set_read_timeout(Some(wait.saturating_sub(started.elapsed()).max(std::time::Duration::from_millis(10))))
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return (String::from_utf8_lossy(&answer).into_owned(), Some(started.elapsed())),
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&answer).into_owned(), Some(started.elapsed()));
            }
            Err(_) => return (String::from_utf8_lossy(&answer).into_owned(), None),
        }
    }
}

/// A server with a one-second header deadline, a two-second request time limit and 20 requests per second
/// per token; its admin token and its `host:port`.
fn limited_server(dir: &std::path::Path) -> (Server, String, String) {
    let server = Server::start_with(
        &dir.join("data"),
        &["--header-timeout-seconds", "1", "--request-timeout-seconds", "2", "--rate-limit", "20"],
    );
    let admin = server.admin_token();
    let host = server.url.trim_start_matches("http://").to_owned();
    (server, admin, host)
}

#[test]
fn a_client_dripping_its_headers_is_disconnected_at_the_header_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let (server, admin, host) = limited_server(dir.path());

    // A client that sends its headers a byte at a time is disconnected once the header deadline passes.
    let head = format!("GET /v1/whoami HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {admin}\r\n");
    let drip: Vec<&[u8]> = head.as_bytes().chunks(1).collect();
    let (answer, closed) =
        raw_exchange(&server.url, &drip, std::time::Duration::from_millis(100), std::time::Duration::from_secs(20));
    let closed = closed.expect("the server closes a connection whose headers never finish");
    assert!(closed < std::time::Duration::from_secs(12), "closed after {closed:?}");
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[test]
fn a_body_that_never_arrives_gets_408_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, admin, host) = limited_server(dir.path());

    // A body that never arrives: 408 once the request time limit passes, nothing half-written.
    let stalled = format!(
        "POST /v1/models HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{{\"name\": \"slow"
    );
    let (answer, _) =
        raw_exchange(&server.url, &[stalled.as_bytes()], std::time::Duration::ZERO, std::time::Duration::from_secs(6));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"timeout\""), "{answer}");
    let models = server.cli(&["model", "list", "--json"]);
    assert!(!stdout(&models).contains("slow"), "a timed-out request wrote nothing");
}

#[test]
fn too_many_header_fields_or_too_many_bytes_of_them_get_431() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _, host) = limited_server(dir.path());

    // Too many header fields, or too many bytes of them: 431, before anything else.
    let mut crowded = format!("GET /v1/whoami HTTP/1.1\r\nHost: {host}\r\n");
    for i in 0..100 {
        crowded.push_str(&format!("X-Filler-{i}: x\r\n"));
    }
    crowded.push_str("\r\n");
    let (answer, _) =
        raw_exchange(&server.url, &[crowded.as_bytes()], std::time::Duration::ZERO, std::time::Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let huge = format!("GET /v1/whoami HTTP/1.1\r\nHost: {host}\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000));
    let (answer, _) =
        raw_exchange(&server.url, &[huge.as_bytes()], std::time::Duration::ZERO, std::time::Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[test]
fn a_token_over_its_rate_gets_429_while_another_is_served_and_its_allowance_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (server, admin, _) = limited_server(dir.path());

    // A token that exceeds its rate gets 429 with Retry-After; another token is unaffected; the bucket refills.
    let other = stdout(&server.cli(&["token", "create", "--name", "other", "--role", "viewer"])).trim().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = support::http_client();
        let whoami = format!("{}/v1/whoami", server.url);
        let mut limited = None;
        for _ in 0..60 {
            let response = client.get(&whoami).bearer_auth(&admin).send().await.unwrap();
            if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
                limited = Some(response);
                break;
            }
        }
        let limited = limited.expect("60 requests at once exceed 20 per second");
        let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry), "Retry-After {retry}");
        let body: serde_json::Value = limited.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
        let fine = client.get(&whoami).bearer_auth(&other).send().await.unwrap();
        assert_eq!(fine.status(), reqwest::StatusCode::OK, "another token has its own allowance");
        tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
        // A fresh connection: the server closes idle keep-alive connections after its one-second header
        // deadline, and a pooled one may be reset as it is reused.
        let again = support::http_client().get(&whoami).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(again.status(), reqwest::StatusCode::OK, "the allowance comes back");
    });
}

#[test]
fn signed_artifacts_are_verified_at_registration_and_at_every_load() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| std::process::Command::new(support::WARDEN).args(args).output().unwrap();
    let key = dir.path().join("signing.key");
    let made = run(&["artifact", "keygen", "--out", key.to_str().unwrap(), "--name", "model-build"]);
    assert!(made.status.success(), "{}", stderr(&made));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(!run(&["artifact", "keygen", "--out", key.to_str().unwrap(), "--name", "again"]).status.success());
    let signers = dir.path().join("signers");
    std::fs::write(&signers, stdout(&made)).unwrap();

    let artifact = warden_testdata::path("models/lr_german_linear.json");
    let other = warden_testdata::path("models/lr_german.onnx");
    let sign = |file: &std::path::Path| {
        let out = run(&["artifact", "sign", file.to_str().unwrap(), "--key", key.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_owned()
    };
    let (good, wrong) = (sign(&artifact), sign(&other));

    let data = dir.path().join("data");
    let mut server = Server::start_with(&data, &["--artifact-signers", signers.to_str().unwrap()]);
    assert!(server.cli(&["model", "create", "credit", "--owner", "o", "--risk-tier", "high"]).status.success());
    let german = warden_testdata::path("datasets/german.csv");
    let register = |signer: &str, signature: &str| {
        server.cli(&[
            "model",
            "register",
            "credit",
            "--artifact",
            artifact.to_str().unwrap(),
            "--format",
            "linear-json",
            "--reference",
            german.to_str().unwrap(),
            "--target",
            "risk",
            "--signer",
            signer,
            "--signature",
            signature,
        ])
    };
    let refused = register("model-build", &wrong);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("does not verify"), "{}", stderr(&refused));
    let refused = register("someone", &good);
    assert!(stderr(&refused).contains("'someone' is not trusted"), "{}", stderr(&refused));
    let accepted = register("model-build", &good);
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    let version = server.get_json("/v1/models/credit/versions/1");
    assert_eq!(version["lineage"]["artifact_signer"], "model-build");
    let events = server.get_json("/v1/audit/events?subject=model/credit/1");
    assert_eq!(events[0]["payload"]["artifact_signature"], good.as_str(), "the signature is in the audit trail");
    assert!(server.cli(&["promote", "credit", "1", "--override", "--reason", "signing test"]).status.success());

    let score = |server: &Server| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let features = serde_json::json!({"features": {"duration": 12, "credit_amount": 1500, "age": 30, "job": 2,
                "housing": "own", "saving_accounts": "little", "checking_account": "moderate", "purpose": "car", "sex": "male"}});
            let response = support::http_client()
                .post(format!("{}/v1/models/credit/score", server.url))
                .bearer_auth(server.admin_token())
                .json(&features)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    };
    let (status, body) = score(&server);
    assert_eq!(status, 200, "{body}");

    // Restarted without trusting the signer, the server will not serve the signed version.
    server.signal("TERM");
    let _ = server.child.wait();
    let server = Server::start(&data);
    let (status, body) = score(&server);
    assert_eq!(status, 503, "a version whose signature no longer verifies is not served: {body}");
    assert!(body.contains("its artifact signature fails"), "{body}");
}
