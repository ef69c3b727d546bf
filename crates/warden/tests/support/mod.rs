//! Starts the real `warden serve` on 127.0.0.1 with a random port and a temporary data directory.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../warden-lifecycle/testdata").join(name)
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
        let mut child = Command::new(WARDEN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", filter)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("warden serve starts");
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
            .env_remove("WARDEN_TOKEN");
        if let Some(token) = token {
            command.env("WARDEN_TOKEN", token);
        }
        command.output().expect("warden CLI runs")
    }

    /// GET over plain HTTP with the admin token; the body as JSON.
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
    let german = testdata("german.csv");
    let mut args = vec!["model", "register", "credit", "--artifact", artifact.to_str().unwrap(), "--format", format];
    args.extend(["--reference", german.to_str().unwrap(), "--target", "risk"]);
    args.extend_from_slice(extra);
    let out = server.cli_as(token, &args);
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
    warden_lifecycle::install_tls_provider();
    reqwest::Client::new()
}
