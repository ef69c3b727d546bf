//! Starts the real `warden serve` on 127.0.0.1 with a random port and a temporary data directory.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// Whether this run of the suite keeps Warden's metadata on PostgreSQL (`WARDEN_TEST_DATABASE=postgres`)
/// rather than SQLite in each data directory.
pub fn on_postgres() -> bool {
    std::env::var("WARDEN_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// Tests whose assertions depend on timing (the live demo's traffic must fill its windows in time) hold this
/// shared; tests that load both cores for minutes (Kafka consumers taking thousands of records) hold it alone,
/// so that the two never overlap. A panicking holder leaves it usable.
static TIMING: std::sync::RwLock<()> = std::sync::RwLock::new(());

pub fn timing_sensitive() -> std::sync::RwLockReadGuard<'static, ()> {
    TIMING.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn heavy() -> std::sync::RwLockWriteGuard<'static, ()> {
    TIMING.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The PostgreSQL database of a data directory on the suite's PostgreSQL server, made on first use: a
/// restarted server (same data directory) finds its database again.
pub fn database_for(data_dir: &Path) -> String {
    static DATABASES: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    let mut databases = DATABASES.lock().unwrap();
    if let Some((_, url)) = databases.iter().find(|(dir, _)| dir == data_dir) {
        return url.clone();
    }
    let url = fresh_postgres_database();
    databases.push((data_dir.to_owned(), url.clone()));
    url
}

/// Starts a PostgreSQL server for this test binary (`scripts/test-postgres.sh`, with `env` for its options;
/// stopped when the test binary exits); its base URL, `postgres://warden@127.0.0.1:PORT`.
pub fn start_postgres_server(name: &str, env: &[(&str, &str)]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-postgres.sh");
    let dir = postgres_server_dir(name);
    let out = Command::new("bash")
        .arg(script)
        .arg(&dir)
        .arg(std::process::id().to_string())
        .envs(env.iter().copied())
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/test-postgres.sh runs");
    assert!(out.status.success(), "the test PostgreSQL server did not start");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Where the test PostgreSQL server `name` of this test binary keeps its files (`data/`, `server.log`).
fn postgres_server_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()))
}

/// A PostgreSQL server of one test's own, which the test stops and starts again (the database going away).
pub struct OwnPostgres {
    /// `postgres://warden@127.0.0.1:PORT`.
    pub url: String,
    data: PathBuf,
}

impl OwnPostgres {
    /// Durable (fsync, synchronous commit), as production's: what it acknowledged survives its crash.
    pub fn start(name: &str) -> OwnPostgres {
        let url = start_postgres_server(name, &[("WARDEN_PG_DURABLE", "1")]);
        let data = postgres_server_dir(name).join("data");
        OwnPostgres { url, data }
    }

    /// A new database on this server; its URL.
    pub fn database(&self, name: &str) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let pool = sqlx::PgPool::connect(&format!("{}/postgres", self.url)).await.expect("test PostgreSQL answers");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
            pool.close().await;
        });
        format!("{}/{name}", self.url)
    }

    /// Stops the server at once (`immediate`: as if its machine went away, no goodbye to the clients).
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "immediate", "stop"]);
    }

    /// Starts the stopped server again, on the same port with the same options (`postmaster.opts`).
    pub fn start_again(&self) {
        self.pg_ctl(&["-w", "-t", "60", "-l", self.data.with_file_name("server.log").to_str().unwrap(), "restart"]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .map(|e| e.unwrap().path().join("bin/pg_ctl"))
            .filter(|p| p.exists())
            .max()
            .expect("PostgreSQL's pg_ctl");
        // PostgreSQL refuses to run as root: as the user the package made, as scripts/test-postgres.sh does.
        let mut command = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        let status = command.arg("-D").arg(&self.data).args(args).stdout(Stdio::null()).status().unwrap();
        assert!(status.success(), "pg_ctl {args:?} failed");
    }
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The ledger key of a data directory on PostgreSQL (which needs one named): a file beside the directory,
/// made on first use, so the directory itself stays as the test made it.
pub fn ledger_key_for(data_dir: &Path) -> PathBuf {
    let path = data_dir.with_extension("ledger.key");
    if !path.exists() {
        std::fs::write(&path, format!("{}\n", hex::encode(rand::random::<[u8; 32]>()))).unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
    path
}

/// Where a test server started on `data_dir` keeps its ledger key: in the data directory (made at first
/// start), or beside it when the suite runs on PostgreSQL.
pub fn ledger_key_path(data_dir: &Path) -> PathBuf {
    if on_postgres() { ledger_key_for(data_dir) } else { data_dir.join("ledger.key") }
}

/// A new, empty database on this test binary's PostgreSQL server (started on 127.0.0.1 by
/// `scripts/test-postgres.sh` on first use, and stopped when the test binary exits).
pub fn fresh_postgres_database() -> String {
    static SERVER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let server = SERVER.get_or_init(|| start_postgres_server("postgres", &[]));
    let name = format!("warden_{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let pool = sqlx::PgPool::connect(&format!("{server}/postgres")).await.expect("test PostgreSQL answers");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
        pool.close().await;
    });
    format!("{server}/{name}")
}

/// A bucket on this test binary's S3-compatible server (s3s-fs, started on 127.0.0.1 by `scripts/test-s3.sh`
/// on first use and stopped when the test binary exits).
pub struct S3Bucket {
    pub endpoint: String,
    pub bucket: String,
    root: PathBuf,
}

impl S3Bucket {
    /// The `AWS_*` settings a Warden server needs to reach the bucket.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// The objects stored under `prefix` (their paths in the bucket), from the server's own directory.
    pub fn objects(&self, prefix: &str) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else {
                    out.push(path.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        let base = self.root.join("data").join(&self.bucket);
        let mut out = Vec::new();
        walk(&base.join(prefix), &base, &mut out);
        out.sort();
        out
    }

    /// Where the server keeps an object's bytes.
    pub fn object_file(&self, key: &str) -> PathBuf {
        self.root.join("data").join(&self.bucket).join(key)
    }
}

const S3_ACCESS_KEY: &str = "warden-test";
const S3_SECRET_KEY: &str = "warden-test-secret-key";

/// A new, empty bucket on the test S3-compatible server.
pub fn fresh_s3_bucket() -> S3Bucket {
    static SERVER: std::sync::OnceLock<(String, PathBuf)> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let (endpoint, root) = SERVER.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-s3.sh");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("s3-{}", std::process::id()));
        let out = Command::new("bash")
            .arg(script)
            .arg(&dir)
            .arg(std::process::id().to_string())
            .args([S3_ACCESS_KEY, S3_SECRET_KEY, "warden-0"])
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/test-s3.sh runs");
        assert!(out.status.success(), "the test S3 server did not start");
        (String::from_utf8(out.stdout).unwrap().trim().to_owned(), dir)
    });
    let bucket = format!("warden-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    // s3s-fs keeps a bucket as a directory of its root.
    std::fs::create_dir_all(root.join("data").join(&bucket)).unwrap();
    S3Bucket { endpoint: endpoint.clone(), bucket, root: root.clone() }
}

/// A CA and a server certificate for localhost and 127.0.0.1 signed by it: (CA PEM, cert PEM, key PEM).
pub fn test_pki() -> (String, String, String) {
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

pub struct Server {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub stdout_lines: Vec<String>,
}

impl Server {
    /// Starts a server and waits until it listens.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_logging(data_dir, extra, "warn", Stdio::inherit())
    }

    /// Starts a server whose log (`RUST_LOG` filter `filter`) goes to `log`.
    pub fn start_logging(data_dir: &Path, extra: &[&str], filter: &str, log: Stdio) -> Server {
        Self::start_env(data_dir, extra, &[], filter, log)
    }

    /// Starts a server with `env` set in its environment (e.g. the `AWS_*` settings of an S3 store).
    pub fn start_env(data_dir: &Path, extra: &[&str], env: &[(String, String)], filter: &str, log: Stdio) -> Server {
        Self::spawn(data_dir, extra, env, filter, log, on_postgres())
    }

    /// Starts a server on the embedded default (SQLite in the data directory) whichever database the suite
    /// runs on: for faults of the data directory's own disk.
    pub fn start_embedded(data_dir: &Path, filter: &str, log: Stdio) -> Server {
        Self::spawn(data_dir, &[], &[], filter, log, false)
    }

    fn spawn(
        data_dir: &Path,
        extra: &[&str],
        env: &[(String, String)],
        filter: &str,
        log: Stdio,
        postgres: bool,
    ) -> Server {
        let mut command = Command::new(WARDEN);
        command.envs(env.iter().map(|(k, v)| (k, v)));
        command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir).args(extra);
        if postgres && !extra.contains(&"--database") {
            command.args(["--database", &database_for(data_dir)]);
            if !extra.contains(&"--ledger-key") {
                command.arg("--ledger-key").arg(ledger_key_for(data_dir));
            }
        }
        let mut child =
            command.env("RUST_LOG", filter).stdout(Stdio::piped()).stderr(log).spawn().expect("warden serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut lines = Vec::new();
        let url = loop {
            let line =
                rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("server prints its address");
            lines.push(line.clone());
            if let Some(rest) = line.strip_prefix("warden listening on ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Server { child, url, data_dir: data_dir.to_owned(), stdout_lines: lines }
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin.token")).unwrap().trim().to_owned()
    }

    /// Runs the CLI against this server with the admin token (found through the data directory).
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(None, args)
    }

    pub fn cli_as(&self, token: Option<&str>, args: &[&str]) -> Output {
        let mut command = Command::new(WARDEN);
        command
            .args(args)
            .env("WARDEN_URL", &self.url)
            .env("WARDEN_DATA_DIR", &self.data_dir)
            // `warden login` keeps sign-ins here: never the home directory of whoever runs the tests.
            .env("WARDEN_CONFIG_DIR", self.data_dir.with_extension("cli-config"))
            .env_remove("WARDEN_TOKEN");
        if let Some(token) = token {
            command.env("WARDEN_TOKEN", token);
        }
        command.output().expect("warden CLI runs")
    }

    /// GET over plain HTTP with the admin token; the body as JSON.
    /// What `/readyz` answers (no credentials: a load balancer's probe).
    pub fn ready(&self) -> u16 {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            http_client().get(format!("{}/readyz", self.url)).send().await.unwrap().status().as_u16()
        })
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let response =
                http_client().get(format!("{}{path}", self.url)).bearer_auth(self.admin_token()).send().await.unwrap();
            assert!(response.status().is_success(), "GET {path}: {}", response.status());
            response.json().await.unwrap()
        })
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal by name (TERM, INT, KILL) with the shell's `kill` builtin.
    pub fn signal(&self, signal: &str) {
        let script = format!("kill -{signal} {}", self.child.id());
        let status = Command::new("sh").args(["-c", &script]).status().unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Registers the next version of `credit` on the German credit reference data (target `risk`), as `token` (the
/// admin's when `None`), with `extra` options.
pub fn register_german(server: &Server, token: Option<&str>, artifact: &Path, format: &str, extra: &[&str]) {
    let out = register_german_as(server, token, "credit", artifact, format, extra);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Registers `artifact` as a version of `model` on the German credit reference data (target `risk`), as
/// `token`'s holder; the CLI's output, whether it succeeded or not.
pub fn register_german_as(
    server: &Server,
    token: Option<&str>,
    model: &str,
    artifact: &Path,
    format: &str,
    extra: &[&str],
) -> Output {
    let german = warden_testdata::path("datasets/german.csv");
    let mut args = vec!["model", "register", model, "--artifact", artifact.to_str().unwrap(), "--format", format];
    args.extend(["--reference", german.to_str().unwrap(), "--target", "risk"]);
    args.extend_from_slice(extra);
    server.cli_as(token, &args)
}

/// Creates `credit` with a linear champion on the German credit reference data (threshold 0.3, protected
/// `sex`), promoted by an administrator's override: for tests about serving, not the gate.
pub fn serve_linear_credit(server: &Server, dir: &Path) {
    let out = server.cli(&["model", "create", "credit", "--owner", "retail-risk", "--risk-tier", "high"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let artifact = dir.join("linear.json");
    std::fs::write(&artifact, r#"{"intercept": -2, "coefficients": {"duration": 0.02, "credit_amount": 0.0001}}"#)
        .unwrap();
    register_german(server, None, &artifact, "linear-json", &["--protected", "sex", "--threshold", "0.3"]);
    let out = server.cli(&["promote", "credit", "1", "--override", "--reason", "serving test"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and parses stdout as JSON.
pub fn json_of(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "command failed: {}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

/// An HTTP client for tests (the process's TLS provider installed first, as the CLI does).
pub fn http_client() -> reqwest::Client {
    warden_registry::install_tls_provider();
    reqwest::Client::new()
}

/// Runs one SQL statement against the server's database, beside the server: to write a record as an older
/// release did, or to inject a fault (a trigger refusing writes).
pub fn execute_sql(data: &std::path::Path, statement: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        if on_postgres() {
            let pool =
                sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&database_for(data)).await.unwrap();
            sqlx::query(statement).execute(&pool).await.unwrap();
            pool.close().await;
        } else {
            let url = format!("sqlite://{}", data.join("warden.db").display());
            let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&url).await.unwrap();
            sqlx::query(statement).execute(&pool).await.unwrap();
            pool.close().await;
        }
    });
}
