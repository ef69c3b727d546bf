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
