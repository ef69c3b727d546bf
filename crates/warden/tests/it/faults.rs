//! Faults injected into a running server: a full disk under the data directory (a small tmpfs, filled and
//! freed), a champion whose artifact is missing or corrupt at start, and a database refusing one table's
//! writes. Each checks that nothing answered
//! 200 is lost, that readiness tells the truth, and that the server recovers by itself when the fault clears.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// A tmpfs mounted for the test, unmounted when dropped. Mounting needs root, as the machines that run this
/// suite (developers' and CI's) are.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let status =
            Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(path).status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "mounting a tmpfs at {} failed ({status:?}): the full-disk test needs root",
            path.display()
        );
        Tmpfs { path: path.to_owned() }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn request(i: usize, prefix: &str) -> serde_json::Value {
    serde_json::json!({"request_id": format!("{prefix}-{i}"), "attributes": {"sex": "female"},
        "features": {"duration": 12 + i % 30, "credit_amount": 1000 + i, "job": 2, "age": 30, "housing": "own",
        "saving_accounts": "little", "checking_account": "little", "purpose": "car"}})
}

/// What one request was answered.
#[derive(Debug)]
struct Answer {
    id: String,
    status: u16,
    retry_after: Option<String>,
    body: String,
}

/// Sends `count` score requests over 4 connections and returns every answer.
fn score_many(server: &Server, count: usize, prefix: &str) -> Vec<Answer> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (url, token) = (server.url.clone(), server.admin_token());
    runtime.block_on(async move {
        let client = http_client();
        let mut tasks = Vec::new();
        for worker in 0..4 {
            let (client, url, token, prefix) = (client.clone(), url.clone(), token.clone(), prefix.to_owned());
            tasks.push(tokio::spawn(async move {
                let mut answers = Vec::new();
                for i in (worker..count).step_by(4) {
                    let body = request(i, &prefix);
                    let response = client
                        .post(format!("{url}/v1/models/credit/score"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    let status = response.status().as_u16();
                    let retry_after =
                        response.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_owned());
                    let body = response.text().await.unwrap();
                    answers.push(Answer { id: format!("{prefix}-{i}"), status, retry_after, body });
                }
                answers
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all
    })
}

fn status_of(server: &Server, method: reqwest::Method, path: &str, body: Option<serde_json::Value>) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut request =
            http_client().request(method, format!("{}{path}", server.url)).bearer_auth(server.admin_token());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

fn wait_ready(server: &Server, within: Duration) {
    let started = Instant::now();
    while server.ready() != 200 {
        assert!(started.elapsed() < within, "not ready again within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Fills the file system holding `dir` with a file of zeros until a write fails for want of space.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match file.write_all(&chunk).and_then(|()| file.sync_data()) {
            Ok(()) => {}
            Err(err) if err.raw_os_error() == Some(libc_enospc()) => return path,
            Err(err) => panic!("filling {}: {err}", dir.display()),
        }
    }
}

fn libc_enospc() -> i32 {
    28 // ENOSPC on Linux
}

#[test]
fn a_full_disk_refuses_scoring_with_503_loses_nothing_answered_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mount = Tmpfs::mount(&dir.path().join("disk"), "48m");
    let data = mount.path.join("data");
    let server = Server::start_embedded(&data, "warn", Stdio::null());
    serve_linear_credit(&server, dir.path());

    let before = score_many(&server, 200, "before");
    assert!(before.iter().all(|a| a.status == 200), "{:?}", before.iter().find(|a| a.status != 200));
    assert_eq!(server.ready(), 200);

    let filler = fill(&mount.path);
    let during = score_many(&server, 400, "full");
    let refused: Vec<&Answer> = during.iter().filter(|a| a.status != 200).collect();
    assert!(!refused.is_empty(), "a full disk refused nothing");
    for answer in &refused {
        assert_eq!(answer.status, 503, "{answer:?}");
        assert_eq!(answer.retry_after.as_deref(), Some("1"), "{answer:?}");
        assert!(answer.body.contains("the decision log cannot commit"), "{answer:?}");
    }
    assert_eq!(server.ready(), 503, "readiness says not ready while the log cannot commit");
    // Audited writes and outcomes fail loudly too, never a silent success.
    let (status, body) = status_of(
        &server,
        reqwest::Method::POST,
        "/v1/tokens",
        Some(serde_json::json!({"name": "during-full-disk", "role": "viewer"})),
    );
    assert!(status >= 500, "a token created on a full disk: {status} {body}");
    let outcome = serde_json::json!({"outcomes": [{"request_id": "before-1", "label": 1, "kind": "default"}]});
    let (status, body) = status_of(&server, reqwest::Method::POST, "/v1/outcomes", Some(outcome.clone()));
    assert!(status >= 500, "an outcome recorded on a full disk: {status} {body}");

    // Space returns: the server becomes ready by itself (the log's probe), with no request and no restart.
    std::fs::remove_file(filler).unwrap();
    wait_ready(&server, Duration::from_secs(10));
    let after = score_many(&server, 100, "after");
    assert!(after.iter().all(|a| a.status == 200), "{:?}", after.iter().find(|a| a.status != 200));
    let (status, body) = status_of(
        &server,
        reqwest::Method::POST,
        "/v1/tokens",
        Some(serde_json::json!({"name": "after-full-disk", "role": "viewer"})),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = status_of(&server, reqwest::Method::POST, "/v1/outcomes", Some(outcome));
    assert_eq!(status, 201, "{body}");

    // Every decision answered 200 is in the log; no refused one is.
    let log = server.get_json("/v1/models/credit/decisions?limit=100000");
    let logged: std::collections::HashSet<&str> =
        log.as_array().unwrap().iter().map(|d| d["request_id"].as_str().unwrap()).collect();
    let answered: Vec<&Answer> = before.iter().chain(&during).chain(&after).filter(|a| a.status == 200).collect();
    let lost: Vec<&str> = answered.iter().map(|a| a.id.as_str()).filter(|id| !logged.contains(id)).collect();
    assert!(lost.is_empty(), "{} answered decisions are not in the log: {:?}", lost.len(), &lost[..lost.len().min(5)]);
    let kept: Vec<&str> = refused.iter().map(|a| a.id.as_str()).filter(|id| logged.contains(id)).collect();
    assert!(kept.is_empty(), "refused decisions were logged: {kept:?}");
    assert_eq!(logged.len(), answered.len());
}

/// The champion's artifact file in the data directory.
fn champion_blob(server: &Server, data: &Path) -> PathBuf {
    let version = server.get_json("/v1/models/credit/versions/1");
    let sha = version["artifact"]["sha256"].as_str().unwrap().to_owned();
    data.join("artifacts/sha256").join(&sha[..2]).join(&sha)
}

#[test]
fn a_champion_whose_artifact_is_missing_or_corrupt_makes_the_server_not_ready_until_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    serve_linear_credit(&server, dir.path());
    let blob = champion_blob(&server, &data);
    let original = std::fs::read(&blob).unwrap();
    server.signal("TERM");
    let _ = server.child.wait();

    for (fault, expected) in [("missing", "its artifact cannot be read"), ("corrupt", "its artifact is corrupt")] {
        match fault {
            "missing" => std::fs::remove_file(&blob).unwrap(),
            _ => std::fs::write(&blob, br#"{"intercept": 9, "coefficients": {"duration": 1}}"#).unwrap(),
        }
        let mut server = Server::start(&data);
        assert_eq!(server.ready(), 503, "{fault}: ready with an unservable champion");
        let answers = score_many(&server, 4, fault);
        for answer in &answers {
            assert_eq!(answer.status, 503, "{fault}: {answer:?}");
            assert!(
                answer.body.contains("'credit' version 1 cannot be served") && answer.body.contains(expected),
                "{answer:?}"
            );
        }
        // The integrity monitor raises a critical alert naming the cause.
        let (status, body) = status_of(&server, reqwest::Method::POST, "/v1/monitors/evaluate", None);
        assert_eq!(status, 200, "{body}");
        let alerts = server.get_json("/v1/alerts?model=credit");
        let integrity = alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["monitor"] == "integrity")
            .unwrap_or_else(|| panic!("{fault}: no integrity alert: {alerts}"));
        assert_eq!(integrity["severity"], "critical", "{integrity}");

        // The artifact comes back: readiness returns without a restart, and scoring with it.
        std::fs::write(&blob, &original).unwrap();
        wait_ready(&server, Duration::from_secs(10));
        let answers = score_many(&server, 8, &format!("{fault}-back"));
        assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
        server.signal("TERM");
        let _ = server.child.wait();
        server.kill();
    }
}

/// The store refuses finding writes (a trigger) while a critical alert opens an incident on the champion: the
/// alert and the incident stand, the breach finding is missing; once writes are accepted again, the next round
/// raises it, once.
#[test]
fn a_breach_finding_lost_to_a_failed_write_is_raised_by_the_next_round() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    serve_linear_credit(&server, dir.path());
    // Findings refused by the database itself, as a full or failing disk would refuse them.
    if on_postgres() {
        execute_sql(
            &data,
            "CREATE FUNCTION refuse_findings() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected: findings refused'; END $$",
        );
        execute_sql(
            &data,
            "CREATE TRIGGER refuse_findings BEFORE INSERT ON findings FOR EACH ROW EXECUTE FUNCTION refuse_findings()",
        );
    } else {
        execute_sql(
            &data,
            "CREATE TRIGGER refuse_findings BEFORE INSERT ON findings BEGIN SELECT RAISE(ABORT, 'injected'); END",
        );
    }
    // The champion's stored artifact changes under it: the integrity monitor's alert is critical.
    let blob = champion_blob(&server, &data);
    let original = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, br#"{"intercept": 9, "coefficients": {"duration": 1}}"#).unwrap();
    let evaluate = || {
        let (status, body) = status_of(&server, reqwest::Method::POST, "/v1/monitors/evaluate", None);
        assert_eq!(status, 200, "{body}");
    };
    evaluate();
    let alerts = server.get_json("/v1/alerts?model=credit");
    let alert = alerts.as_array().unwrap().iter().find(|a| a["monitor"] == "integrity").expect("an integrity alert");
    let incident = alert["incident_id"].as_i64().unwrap_or_else(|| panic!("an incident: {alert}"));
    let breaches = || -> Vec<serde_json::Value> {
        let findings = server.get_json("/v1/findings?model=credit");
        findings.as_array().unwrap().iter().filter(|f| f["kind"] == "monitoring_breach").cloned().collect()
    };
    assert!(breaches().is_empty(), "the write was refused");

    execute_sql(
        &data,
        if on_postgres() { "DROP TRIGGER refuse_findings ON findings" } else { "DROP TRIGGER refuse_findings" },
    );
    evaluate();
    evaluate();
    let raised = breaches();
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!((raised[0]["severity"].as_str(), raised[0]["version"].as_i64()), (Some("critical"), Some(1)));
    assert_eq!(raised[0]["description"], format!("a critical alert opened incident {incident}"));
    std::fs::write(&blob, &original).unwrap();
    server.kill();
}
