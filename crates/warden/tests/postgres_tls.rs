//! Warden reaches PostgreSQL over TLS when the URL asks for it (`sslmode=verify-full` with the server's CA in
//! `sslrootcert`), and refuses to start when the server's certificate is not signed by that CA or the server
//! offers no TLS at all.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::{Server, json_of, start_postgres_server, stderr, test_pki};

fn serve_fails(dir: &Path, database: &str) -> String {
    let out = Command::new(support::WARDEN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(["--database", database, "--ledger-key"])
        .arg(support::ledger_key_for(dir))
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "started: {}", stderr(&out));
    stderr(&out)
}

#[test]
fn the_database_connection_is_tls_verified_against_the_given_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki();
    let (other_ca, _, _) = test_pki();
    for (name, pem) in [("ca.pem", &ca), ("other-ca.pem", &other_ca), ("server.crt", &cert), ("server.key", &key)] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    let (cert_path, key_path) = (dir.path().join("server.crt"), dir.path().join("server.key"));
    let tls_server = start_postgres_server(
        "postgres-tls",
        &[("WARDEN_PG_TLS_CERT", cert_path.to_str().unwrap()), ("WARDEN_PG_TLS_KEY", key_path.to_str().unwrap())],
    );
    let url =
        |ca: &str| format!("{tls_server}/postgres?sslmode=verify-full&sslrootcert={}", dir.path().join(ca).display());

    let data = dir.path().join("data");
    let key = support::ledger_key_for(&data);
    let server = Server::start_with(&data, &["--database", &url("ca.pem"), "--ledger-key", key.to_str().unwrap()]);
    let out = server.cli(&["model", "create", "credit", "--owner", "risk", "--risk-tier", "low"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_of(&server.cli(&["model", "list", "--json"])).as_array().unwrap().len(), 1);
    drop(server);

    // The connection really is TLS: PostgreSQL's own view of it.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let encrypted: bool = runtime.block_on(async {
        let pool = sqlx::PgPool::connect(&url("ca.pem")).await.unwrap();
        let ssl = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        ssl
    });
    assert!(encrypted, "the session is not encrypted");

    // A certificate from another CA, and a server without TLS, stop start-up.
    let error = serve_fails(&dir.path().join("wrong-ca"), &url("other-ca.pem"));
    assert!(error.contains("invalid peer certificate"), "{error}");
    let plain = support::fresh_postgres_database();
    let error = serve_fails(&dir.path().join("plain"), &format!("{plain}?sslmode=require"));
    assert!(error.contains("server does not support TLS"), "{error}");
    assert!(!error.contains("sslrootcert") && !error.contains("127.0.0.1"), "the URL is not echoed: {error}");

    // Without a ledger key named, replicas would each make their own: a usage error.
    let out = Command::new(support::WARDEN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("keyless"))
        .args(["--database", &url("ca.pem")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--ledger-key"), "{}", stderr(&out));
}
