//! Artifacts on S3-compatible object storage (s3s-fs on 127.0.0.1, started by `scripts/test-s3.sh`): blobs are
//! stored under the bucket's prefix by their SHA-256, a server with an empty data directory serves them from
//! the bucket, a changed object is refused at load, and an unreachable endpoint stops start-up with a reason.

use std::path::Path;
use std::process::Stdio;

use crate::support::{self, S3Bucket, Server, fresh_s3_bucket, json_of, stderr};

/// A server on the bucket (prefix `tenant-a`) and the database, logging to `<dir>.log`.
fn start(dir: &Path, bucket: &S3Bucket, database: &str) -> Server {
    let artifacts = format!("s3://{}/tenant-a", bucket.bucket);
    // The servers of one test share a ledger key, as replicas must.
    let key = support::ledger_key_for(&dir.parent().unwrap().join("shared"));
    let args = ["--artifacts", artifacts.as_str(), "--database", database, "--ledger-key", key.to_str().unwrap()];
    let log = std::fs::File::create(dir.with_extension("log")).unwrap();
    Server::start_env(dir, &args, &bucket.env(), "warn", Stdio::from(log))
}

/// Needs the S3-compatible test server (s3s-fs, installed from crates.io on first use).
mod slow {
    use super::*;

    #[test]
    fn artifacts_live_in_the_bucket_and_are_checked_when_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = fresh_s3_bucket();
        // The metadata must outlive the first server's data directory: PostgreSQL.
        let database = support::fresh_postgres_database();
        let first = start(&dir.path().join("first"), &bucket, &database);
        let out = first.cli(&["model", "create", "credit", "--owner", "risk", "--risk-tier", "low"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let artifact = warden_testdata::path("models/lr_german_linear.json");
        support::register_german(&first, None, &artifact, "linear-json", &[]);
        let version = json_of(&first.cli(&["model", "show", "credit", "1", "--json"]));
        let sha = version["artifact"]["sha256"].as_str().unwrap().to_owned();
        let reference = version["reference"]["sha256"].as_str().unwrap().to_owned();
        let objects = bucket.objects("tenant-a");
        let key = |sha: &str| format!("tenant-a/sha256/{}/{sha}", &sha[..2]);
        assert!(objects.contains(&key(&sha)) && objects.contains(&key(&reference)), "{objects:?}");
        assert!(!dir.path().join("first/artifacts/sha256").exists(), "nothing stored locally");
        let token = first.admin_token();
        drop(first);

        // A new server with an empty data directory serves the version from the bucket.
        let second = start(&dir.path().join("second"), &bucket, &database);
        std::fs::write(dir.path().join("second/admin.token"), &token).unwrap();
        assert!(second.cli(&["promote", "credit", "1", "--override", "--reason", "s3 test"]).status.success());
        let input = warden_testdata::path("datasets/german.csv");
        let output = dir.path().join("scored.csv");
        let out =
            second.cli(&["score", "credit", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        drop(second);

        // The object changed in the bucket: a new server refuses to serve it, naming the version.
        std::fs::write(bucket.object_file(&key(&sha)), b"{\"intercept\": 9, \"coefficients\": {}}").unwrap();
        let third = start(&dir.path().join("third"), &bucket, &database);
        std::fs::write(dir.path().join("third/admin.token"), &token).unwrap();
        let out =
            third.cli(&["score", "credit", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
        assert!(!out.status.success(), "a changed artifact was served");
        let log = std::fs::read_to_string(dir.path().join("third.log")).unwrap();
        assert!(log.contains("'credit' version 1 cannot be served: its artifact is corrupt: stored SHA-256"), "{log}");
        assert!(stderr(&out).contains("cannot be served: its artifact is corrupt"), "{}", stderr(&out));
        assert_eq!(out.status.code(), Some(3), "503: the server cannot serve it now");
    }

    #[test]
    fn an_unreachable_bucket_stops_start_up_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = fresh_s3_bucket();
        let mut env = bucket.env();
        // A port nothing listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        env.retain(|(k, _)| k != "AWS_ENDPOINT");
        env.push(("AWS_ENDPOINT".into(), closed));
        let out = std::process::Command::new(support::WARDEN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--artifacts", &format!("s3://{}/x", bucket.bucket)])
            .envs(env)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(&format!("s3://{}/x", bucket.bucket)), "{}", stderr(&out));
        let out = std::process::Command::new(support::WARDEN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--artifacts", "gs://elsewhere"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("s3://"), "{}", stderr(&out));
    }
}
