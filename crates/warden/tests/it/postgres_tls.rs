//! Warden reaches PostgreSQL over TLS when the URL asks for it (`sslmode=verify-full` with the server's CA in
//! `sslrootcert`), and refuses to start when the server's certificate is not signed by that CA or the server
//! offers no TLS at all.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::support::{self, Server, json_of, start_postgres_server, stderr, test_pki};

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

/// A PostgreSQL server taking TLS with a certificate for 127.0.0.1 signed by a test CA, started once for
/// this module (and stopped with the test binary): its base URL, and the directory holding that CA
/// (`ca.pem`) and another one (`other-ca.pem`).
fn tls_postgres() -> &'static (String, PathBuf) {
    static SERVER: OnceLock<(String, PathBuf)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("postgres-tls-pki-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca, cert, key) = test_pki();
        let (other_ca, _, _) = test_pki();
        for (name, pem) in [("ca.pem", &ca), ("other-ca.pem", &other_ca), ("server.crt", &cert), ("server.key", &key)] {
            std::fs::write(dir.join(name), pem).unwrap();
        }
        let (cert_path, key_path) = (dir.join("server.crt"), dir.join("server.key"));
        let tls_server = start_postgres_server(
            "postgres-tls",
            &[("WARDEN_PG_TLS_CERT", cert_path.to_str().unwrap()), ("WARDEN_PG_TLS_KEY", key_path.to_str().unwrap())],
        );
        (tls_server, dir)
    })
}

/// The URL of the TLS server's `postgres` database, verified against the CA in `ca` (`ca.pem` or `other-ca.pem`).
fn url(ca: &str) -> String {
    let (tls_server, dir) = tls_postgres();
    format!("{tls_server}/postgres?sslmode=verify-full&sslrootcert={}", dir.join(ca).display())
}

/// Everything here starts PostgreSQL servers of its own (one with TLS).
mod slow {
    use super::*;

    #[test]
    fn the_database_connection_is_tls_verified_against_the_given_ca() {
        let dir = tempfile::tempdir().unwrap();
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
    }

    #[test]
    fn a_server_certificate_from_another_ca_stops_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let error = serve_fails(&dir.path().join("wrong-ca"), &url("other-ca.pem"));
        assert!(error.contains("invalid peer certificate"), "{error}");
    }

    #[test]
    fn a_server_without_tls_stops_start_up_and_the_url_is_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let plain = support::fresh_postgres_database();
        let error = serve_fails(&dir.path().join("plain"), &format!("{plain}?sslmode=require"));
        assert!(error.contains("server does not support TLS"), "{error}");
        assert!(!error.contains("sslrootcert") && !error.contains("127.0.0.1"), "the URL is not echoed: {error}");
    }

    #[test]
    fn a_database_without_a_ledger_key_named_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
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
}
