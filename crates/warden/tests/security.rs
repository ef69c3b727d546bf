//! Secrets stay secret: with every log at trace level, no token secret reaches the server's log, a CLI
//! error, or an answer, whether the token is good, revoked, expired, malformed or unknown.

mod support;

use std::process::Stdio;

use support::{Server, stderr, stdout};

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

/// A CA and a server certificate for localhost and 127.0.0.1 signed by it: (CA PEM, cert PEM, key PEM).
fn test_pki() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Warden test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server = server_params.signed_by(&server_key, &issuer).unwrap();
    (ca.pem(), server.pem(), server_key.serialize_pem())
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
