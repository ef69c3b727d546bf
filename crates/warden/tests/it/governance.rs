//! The governance commands end to end: validate, approve, gate check (exit codes and report formats),
//! promote, and `policy test`.

use std::path::{Path, PathBuf};

use crate::support::{self, Server, json_of, stderr, stdout};

fn model_fixture(name: &str) -> PathBuf {
    warden_testdata::path(&format!("models/{name}"))
}

fn schema_file(name: &str) -> PathBuf {
    warden_testdata::path(&format!("schemas/{name}"))
}

fn token(server: &Server, name: &str, role: &str) -> String {
    let out = server.cli(&["token", "create", "--name", name, "--role", role]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

/// A medium-risk model with the German credit logistic regression registered by a data scientist.
fn setup(server: &Server) -> (String, String, String) {
    assert!(
        server.cli(&["model", "create", "credit", "--owner", "retail-risk", "--risk-tier", "medium"]).status.success()
    );
    let dana = token(server, "dana", "data-scientist");
    let vera = token(server, "vera", "validator");
    let rita = token(server, "rita", "risk-officer");
    let german = warden_testdata::path("datasets/german.csv");
    let lineage = ["--protected", "sex", "--code-ref", "git:4e1a2b", "--training-data", german.to_str().unwrap()];
    register_german_model(server, &dana, &lineage);
    (dana, vera, rita)
}

/// Registers the German credit logistic regression (reference: the German data, target `risk`) as `who`.
fn register_german_model(server: &Server, who: &str, extra: &[&str]) {
    support::register_german(server, Some(who), &model_fixture("lr_german_linear.json"), "linear-json", extra);
}

#[test]
fn gate_check_exits_0_on_allow_1_on_deny_2_on_error_and_promote_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (dana, vera, rita) = setup(&server);
    let german = warden_testdata::path("datasets/german.csv");

    let out = server.cli_as(Some(&dana), &["gate", "check", "credit", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("DENY: credit version 1 -> champion"), "{}", stdout(&out));
    assert!(stdout(&out).contains("deny: no validation report"), "{}", stdout(&out));

    let out = server.cli_as(Some(&dana), &["promote", "credit", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("the gate refused to promote credit version 1 to champion:"), "{err}");
    assert!(err.contains("\n  - no validation report"), "{err}");

    let out = server.cli_as(
        Some(&vera),
        &["validate", "credit", "1", "--data", german.to_str().unwrap(), "--target", "risk", "--bad-value", "0"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for part in [
        "Discrimination",
        "AUC:",
        "95% CI",
        "Calibration",
        "Fairness (favourable outcome: approval",
        "Stability",
        "MEAN |CONTRIBUTION|",
    ] {
        assert!(text.contains(part), "{part} missing from\n{text}");
    }
    // `setup` registered with the same file as training data.
    assert!(text.contains("WARNING: the validation data is the training data (sha256 "), "{text}");
    let out = server.cli_as(Some(&dana), &["approve", "credit", "1", "--comment", "mine"]);
    assert_eq!(out.status.code(), Some(1), "a data scientist cannot approve");
    for (who, comment) in [(&vera, "validation passed"), (&rita, "within appetite")] {
        let out = server.cli_as(Some(who), &["approve", "credit", "1", "--comment", comment]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // Approving again is refused (409, exit 1) and names the standing approval, which keeps its comment.
    let out = server.cli_as(Some(&vera), &["approve", "credit", "1", "--comment", "looked again"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("vera already approved credit version 1"), "{}", stderr(&out));
    assert!(stderr(&out).contains("validation passed"), "{}", stderr(&out));

    let out = server.cli_as(Some(&dana), &["gate", "check", "credit", "1", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(json_of(&out)["allow"], true);

    let out = server.cli_as(Some(&dana), &["promote", "credit", "1", "--reason", "release 2026.11"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("credit@champion -> version 1 (gate allowed"), "{}", stdout(&out));
    let alias = json_of(&server.cli(&["alias", "get", "credit", "champion", "--json"]));
    assert_eq!((alias["version"].as_i64(), alias["overridden"].as_bool()), (Some(1), Some(false)));
}

#[test]
fn registration_shows_and_keeps_warnings_about_identifier_and_protected_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    assert!(
        server.cli(&["model", "create", "credit", "--owner", "retail-risk", "--risk-tier", "low"]).status.success()
    );
    // The German reference with an application number, unique per row, left in as an input.
    let german = std::fs::read_to_string(warden_testdata::path("datasets/german.csv")).unwrap();
    let numbered: String = german
        .lines()
        .enumerate()
        .map(|(i, line)| if i == 0 { format!("application_no,{line}\n") } else { format!("{},{line}\n", 70_000 + i) })
        .collect();
    let reference = dir.path().join("numbered.csv");
    std::fs::write(&reference, numbered).unwrap();
    let out = server.cli(&[
        "model",
        "register",
        "credit",
        "--artifact",
        model_fixture("lr_german_linear.json").to_str().unwrap(),
        "--format",
        "linear-json",
        "--reference",
        reference.to_str().unwrap(),
        "--target",
        "risk",
        "--protected",
        "sex",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: input 'application_no' has a different value in each of the 1000 reference rows"),
        "{err}"
    );
    assert!(err.contains("warning: input 'age' is named like a protected attribute (age)"), "{err}");
    assert!(!err.contains("'credit_amount'"), "{err}");
    let out = server.cli(&["model", "show", "credit", "1"]);
    assert!(stdout(&out).contains("input warnings:"), "{}", stdout(&out));
    assert!(stdout(&out).contains("input 'application_no' has a different value"), "{}", stdout(&out));
    let shown = json_of(&server.cli(&["model", "show", "credit", "1", "--json"]));
    let kinds: Vec<&str> =
        shown["input_warnings"].as_array().unwrap().iter().map(|w| w["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["identifier", "protected_attribute"], "{shown}");
}

#[test]
fn gate_check_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (dana, _, _) = setup(&server);

    // Errors exit 2: an unknown model, an unknown alias kind, an unreachable server.
    let out = server.cli_as(Some(&dana), &["gate", "check", "nosuch", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = server.cli_as(Some(&dana), &["gate", "check", "credit", "1", "--alias", "shadow"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = std::process::Command::new(support::WARDEN)
        .args(["gate", "check", "credit", "1", "--url", "http://127.0.0.1:9", "--token", &dana])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_gate_report_in_sarif_validates_against_the_sarif_schema() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (dana, _, _) = setup(&server);

    let sarif_schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_file("sarif-2.1.0.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&sarif_schema).expect("the SARIF schema compiles");
    let out = server.cli_as(Some(&dana), &["gate", "check", "credit", "1", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let errors: Vec<String> = validator.iter_errors(&sarif).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["level"] == "error" && r["message"]["text"].as_str().unwrap().contains("validation"))
    );
    // The validator is not a rubber stamp: a result without its message is refused.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0].as_object_mut().unwrap().remove("message");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn a_gate_report_in_junit_xml_validates_against_the_junit_schema() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (dana, _, _) = setup(&server);

    let xsd = std::fs::read_to_string(schema_file("junit-10.xsd")).unwrap();
    let out = server.cli_as(Some(&dana), &["gate", "check", "credit", "1", "--format", "junit"]);
    assert_eq!(out.status.code(), Some(1));
    let xml = stdout(&out);
    xsd_check(&xsd, &xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let document = roxmltree::Document::parse(&xml).unwrap();
    let failures = document.descendants().filter(|n| n.has_tag_name("failure")).count();
    assert!(failures >= 3, "one failing case per reason: {xml}");
    assert!(xsd_check(&xsd, &xml.replace("<testcase classname", "<testcase nameless")).is_err());
    assert!(
        xsd_check(&xsd, &xml.replace("<properties>", "<metadata>").replace("</properties>", "</metadata>")).is_err()
    );
}

/// Checks an XML document against the subset of XML Schema that junit-10.xsd uses: global elements with
/// complex types whose children come from `sequence`/`choice` of element references, string attributes
/// (required or optional, no others allowed), and the `SUREFIRE_TIME` number pattern.
fn xsd_check(xsd: &str, xml: &str) -> Result<(), String> {
    let schema = roxmltree::Document::parse(xsd).map_err(|e| e.to_string())?;
    let document = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let xs = |n: &roxmltree::Node, tag: &str| n.is_element() && n.tag_name().name() == tag;
    let globals: std::collections::HashMap<&str, roxmltree::Node> = schema
        .root_element()
        .children()
        .filter(|n| xs(n, "element"))
        .map(|n| (n.attribute("name").unwrap(), n))
        .collect();
    fn check(
        node: roxmltree::Node,
        globals: &std::collections::HashMap<&str, roxmltree::Node>,
        xs: &dyn Fn(&roxmltree::Node, &str) -> bool,
    ) -> Result<(), String> {
        let name = node.tag_name().name();
        let declaration = globals.get(name).ok_or_else(|| format!("element <{name}> is not declared"))?;
        let complex = declaration.children().find(|n| xs(n, "complexType"));
        let Some(complex) = complex else {
            // A simple string element: text only.
            return match node.children().find(|c| c.is_element()) {
                Some(c) => Err(format!("<{name}> holds text only, found <{}>", c.tag_name().name())),
                None => Ok(()),
            };
        };
        let attributes: Vec<roxmltree::Node> = complex.children().filter(|n| xs(n, "attribute")).collect();
        for a in &attributes {
            let attribute = a.attribute("name").unwrap();
            match node.attribute(attribute) {
                None if a.attribute("use") == Some("required") => {
                    return Err(format!("<{name}> lacks required attribute '{attribute}'"));
                }
                Some(v)
                    if a.attribute("type") == Some("SUREFIRE_TIME") && v.replace(',', "").parse::<f64>().is_err() =>
                {
                    return Err(format!("<{name} {attribute}=\"{v}\"> is not a SUREFIRE_TIME"));
                }
                _ => {}
            }
        }
        for a in node.attributes() {
            if !attributes.iter().any(|d| d.attribute("name") == Some(a.name())) {
                return Err(format!("<{name}> has undeclared attribute '{}'", a.name()));
            }
        }
        let allowed: Vec<&str> =
            complex.descendants().filter(|n| xs(n, "element")).filter_map(|n| n.attribute("ref")).collect();
        for child in node.children().filter(|c| c.is_element()) {
            if !allowed.contains(&child.tag_name().name()) {
                return Err(format!("<{}> is not allowed inside <{name}>", child.tag_name().name()));
            }
            check(child, globals, xs)?;
        }
        Ok(())
    }
    check(document.root_element(), &globals, &xs)
}

/// The default policy bundle that ships with Warden.
fn default_bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../warden-policy/bundle")
}

/// A copy of the default bundle in `dir`.
fn copy_of_the_default_bundle(dir: &Path) {
    for entry in std::fs::read_dir(default_bundle()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
}

#[test]
fn policy_test_runs_a_bundles_rego_tests() {
    let bundle = default_bundle();
    let out = std::process::Command::new(support::WARDEN).args(["policy", "test"]).arg(&bundle).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("PASS warden.gate_test.test_low_auc_is_refused"), "{}", stdout(&out));
    assert!(stdout(&out).contains("PASS warden.tiering_test.test_the_highest_fact_wins"), "{}", stdout(&out));
    assert!(stdout(&out).contains(" passed, 0 failed"), "{}", stdout(&out));
}

#[test]
fn policy_test_exits_1_when_a_rego_test_fails() {
    let dir = tempfile::tempdir().unwrap();
    copy_of_the_default_bundle(dir.path());
    let limits = std::fs::read_to_string(dir.path().join("limits.json"))
        .unwrap()
        .replace("\"max_psi\": 0.25", "\"max_psi\": 0.01");
    std::fs::write(dir.path().join("limits.json"), limits).unwrap();
    let out = std::process::Command::new(support::WARDEN).args(["policy", "test"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a tightened limit breaks the good-input test: {}", stdout(&out));
    assert!(stdout(&out).contains("FAIL warden.gate_test.test_good_input_is_allowed"), "{}", stdout(&out));
}

#[test]
fn policy_test_reports_a_syntax_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    copy_of_the_default_bundle(dir.path());
    std::fs::write(dir.path().join("gate.rego"), "package warden.gate\n\ndeny contains msg if {\n    msg := \n}\n")
        .unwrap();
    let out = std::process::Command::new(support::WARDEN).args(["policy", "test"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("gate.rego:4") || err.contains("gate.rego:5"), "{err}");
}

#[test]
fn an_override_is_shown_as_such_in_the_alias_history() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (dana, _, _) = setup(&server);
    let out = server.cli_as(Some(&dana), &["promote", "credit", "1", "--override", "--reason", "INC-1"]);
    assert_eq!(out.status.code(), Some(1), "only an admin overrides: {}", stderr(&out));
    let out = server.cli(&["promote", "credit", "1", "--override", "--reason", "INC-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("OVERRIDE of a gate refusal"), "{}", stdout(&out));
    assert!(stdout(&out).contains("overridden: no validation report"), "{}", stdout(&out));
    let history = stdout(&server.cli(&["alias", "history", "credit", "champion"]));
    assert!(history.contains("OVERRIDE of gate decision dec_"), "{history}");
    assert!(history.contains(": INC-1"), "{history}");
}

/// Scores the German credit applicants over 40 (a drifted stream) in bulk; returns how many.
fn score_older_applicants(server: &Server, dir: &Path) -> usize {
    let text = std::fs::read_to_string(warden_testdata::path("datasets/german.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let age = header.split(',').position(|c| c == "age").unwrap();
    let older: Vec<&str> = lines.filter(|l| l.split(',').nth(age).unwrap().parse::<f64>().unwrap() > 40.0).collect();
    let input = dir.join("older.csv");
    std::fs::write(&input, format!("{header}\n{}\n", older.join("\n"))).unwrap();
    let output = dir.join("scored.csv");
    let out =
        server.cli(&["score", "credit", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    older.len()
}

#[test]
fn monitors_run_on_the_schedule_and_their_history_shows_a_drift_alert() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--monitor-interval-seconds", "1"]);
    setup(&server);
    assert!(server.cli(&["promote", "credit", "1", "--override", "--reason", "monitor test"]).status.success());
    let listed = stdout(&server.cli(&["monitor", "list", "credit"]));
    assert!(
        listed.contains("feature_drift") && listed.contains("data_quality") && listed.contains("600 s"),
        "{listed}"
    );
    let out = server.cli(&["monitor", "set", "credit", "feature_drift", "--min-decisions", "100"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = server.cli(&["monitor", "set", "credit", "feature_drift", "--warn", "0.5", "--alert", "0.3"]);
    assert_eq!(out.status.code(), Some(1), "warn above alert is refused");
    assert!(server.cli(&["monitor", "disable", "credit", "data_quality"]).status.success());

    // A stream of older applicants only.
    let older = score_older_applicants(&server, dir.path());

    let started = std::time::Instant::now();
    let alert = loop {
        let history = json_of(&server.cli(&["monitor", "history", "credit", "--monitor", "feature_drift", "--json"]));
        if let Some(found) = history.as_array().unwrap().iter().find(|e| e["status"] == "alert") {
            break found.clone();
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "no alert in 20 s: {history}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(alert["decisions"].as_u64(), Some(older as u64));
    assert_eq!(alert["details"]["features"]["age"]["status"], "alert");
    let table = stdout(&server.cli(&["monitor", "history", "credit"]));
    assert!(table.contains("feature_drift") && table.contains("alert") && table.contains("age "), "{table}");
    // The same history as CSV for charting: a row per evaluation and feature, with the bands.
    let csv = stdout(&server.cli(&["monitor", "history", "credit", "--monitor", "feature_drift", "--csv"]));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let age_rows: Vec<Vec<&str>> =
        lines.map(|l| l.split(',').collect::<Vec<_>>()).filter(|r| r[column("key")] == "age").collect();
    let alerting = age_rows.iter().find(|r| r[column("key_status")] == "alert").expect("an alerting age row");
    assert_eq!(alerting[column("alert")], "0.25", "{csv}");
    let value: f64 = alerting[column("key_value")].parse().unwrap();
    assert!((value - alert["details"]["features"]["age"]["value"].as_f64().unwrap()).abs() < 1e-9, "{csv}");
    let alerts = stdout(&server.cli(&["alerts", "--state", "firing"]));
    assert!(alerts.contains("critical") && alerts.contains("feature_drift") && alerts.contains("age"), "{alerts}");
    let listed = json_of(&server.cli(&["alerts", "--model", "credit", "--json"]));
    let id = listed.as_array().unwrap().iter().find(|a| a["feature"] == "age").unwrap()["id"].to_string();
    let out = server.cli(&["ack", &id, "--comment", "on it"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = server.cli(&["ack", &id]);
    assert_eq!(out.status.code(), Some(1), "an acknowledged alert is not firing");
    let out = server.cli(&["alerts", "--state", "sideways"]);
    assert_eq!(out.status.code(), Some(1));
    // Disabled before any scoring: whatever it evaluated (a tick may have come first) saw no decisions.
    let quality = json_of(&server.cli(&["monitor", "history", "credit", "--monitor", "data_quality", "--json"]));
    assert!(quality.as_array().unwrap().iter().all(|e| e["decisions"] == 0), "{quality}");
}

/// A loopback HTTP receiver: answers 503 to the first `fail_first` calls, then 200; hands over every call's
/// headers (lower-case names) and body.
/// One call the receiver got: its headers and body.
type WebhookCall = (Vec<(String, String)>, String);

fn webhook_receiver(fail_first: usize) -> (String, std::sync::mpsc::Receiver<WebhookCall>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/warden", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                let (k, v) = trimmed.split_once(':').unwrap();
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
            let length: usize =
                headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let status = if n < fail_first { "503 Service Unavailable" } else { "200 OK" };
            write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
            if tx.send((headers, String::from_utf8(body).unwrap())).is_err() {
                break;
            }
        }
    });
    (url, rx)
}

/// Validates, approves (validator and risk officer) and promotes version 1 through the gate.
fn promote_through_the_gate(server: &Server, (dana, vera, rita): &(String, String, String)) {
    let german = warden_testdata::path("datasets/german.csv");
    let out = server.cli_as(
        Some(vera),
        &["validate", "credit", "1", "--data", german.to_str().unwrap(), "--target", "risk", "--bad-value", "0"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for (who, comment) in [(vera, "validation passed"), (rita, "within appetite")] {
        let out = server.cli_as(Some(who), &["approve", "credit", "1", "--comment", comment]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = server.cli_as(Some(dana), &["promote", "credit", "1", "--reason", "release 2026.11"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Scores the German credit reference rows themselves (a stream without drift); returns how many.
fn score_reference_rows(server: &Server, dir: &Path) -> usize {
    let input = warden_testdata::path("datasets/german.csv");
    let output = dir.join("stable.csv");
    let out =
        server.cli(&["score", "credit", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::read_to_string(input).unwrap().lines().count() - 1
}

/// Waits for scheduled monitors and for a 10-second monitoring window to turn over (over 20 s).
mod slow {
    use super::*;

    #[test]
    fn a_drift_onset_fires_a_signed_webhook_after_a_failed_attempt_rolls_back_and_is_an_incident() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "s3cret-shared-with-the-receiver";
        let secret_file = dir.path().join("webhook.secret");
        std::fs::write(&secret_file, secret).unwrap();
        let (url, calls) = webhook_receiver(1);
        let data = dir.path().join("data");
        let server = Server::start_with(
            &data,
            &[
                "--monitor-interval-seconds",
                "1",
                "--alert-webhook",
                &url,
                "--alert-webhook-secret-file",
                secret_file.to_str().unwrap(),
            ],
        );
        let people = setup(&server);
        // Version 1 is gate-approved; version 2 (a hotfix) goes in by an administrator's override.
        promote_through_the_gate(&server, &people);
        register_german_model(&server, &people.0, &[]);
        let out = server.cli(&["promote", "credit", "2", "--override", "--reason", "hotfix"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let out = server.cli(&[
            "monitor",
            "set",
            "credit",
            "feature_drift",
            "--min-decisions",
            "100",
            "--window-seconds",
            "10",
            "--action",
            "rollback",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let listed = stdout(&server.cli(&["monitor", "list", "credit"]));
        assert!(
            listed.contains("rollback") && listed.contains("score_drift") && listed.contains("integrity"),
            "{listed}"
        );

        // Stable traffic first: evaluated, no drift alert.
        let stable_at = std::time::Instant::now();
        let stable = score_reference_rows(&server, dir.path());
        let history = loop {
            let history =
                json_of(&server.cli(&["monitor", "history", "credit", "--monitor", "feature_drift", "--json"]));
            if history.as_array().unwrap().iter().any(|e| e["decisions"].as_u64() >= Some(stable as u64)) {
                break history;
            }
            assert!(stable_at.elapsed() < std::time::Duration::from_secs(20), "no evaluation in 20 s: {history}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        assert!(
            history.as_array().unwrap().iter().all(|e| e["status"] != "alert" && e["status"] != "warn"),
            "{history}"
        );
        // The drift onset, once the stable traffic has left the 10-second window (whole 10-second buckets).
        std::thread::sleep(std::time::Duration::from_secs(21).saturating_sub(stable_at.elapsed()));
        let onset = std::time::Instant::now();
        score_older_applicants(&server, dir.path());

        // The first call is refused (503) and retried with the same delivery id; every call carries a verifiable
        // signature.
        let mut fired = None;
        let mut deliveries: Vec<String> = Vec::new();
        while fired.is_none() || deliveries.iter().filter(|d| **d == deliveries[0]).count() < 2 {
            let (headers, body) = calls.recv_timeout(std::time::Duration::from_secs(30)).expect("a webhook call");
            let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
            assert_eq!(
                header("x-warden-signature"),
                warden_oversight::notifications::signature(secret, body.as_bytes())
            );
            assert_ne!(
                header("x-warden-signature"),
                warden_oversight::notifications::signature("wrong", body.as_bytes())
            );
            deliveries.push(header("x-warden-delivery"));
            let payload: serde_json::Value = serde_json::from_str(&body).unwrap();
            if payload["event"] == "fired" && payload["alert"]["feature"] == "age" {
                assert_eq!(payload["alert"]["severity"], "critical");
                assert_eq!(payload["alert"]["monitor"], "feature_drift");
                fired = Some(payload);
            }
        }
        let detected = onset.elapsed();
        assert!(detected < std::time::Duration::from_secs(30), "alert {detected:?} after the onset");

        // The automatic action rolled the champion back to the gate-approved version 1, as the system.
        let id = fired.unwrap()["alert"]["id"].to_string();
        let alert = server.get_json(&format!("/v1/alerts/{id}"));
        let action = alert["events"].as_array().unwrap().iter().find(|e| e["kind"] == "action").expect("action");
        assert_eq!(action["details"]["outcome"]["result"], "rolled_back", "{action}");
        let champion = json_of(&server.cli(&["alias", "get", "credit", "champion", "--json"]));
        assert_eq!(champion["version"], 1, "{champion}");
        assert_eq!(champion["assigned_by"], "warden", "{champion}");
        // The critical alert opened an incident whose timeline has the alert and the rollback.
        let incident = alert["incident_id"].to_string();
        let shown = stdout(&server.cli(&["incidents", &incident]));
        assert!(shown.contains("fired") && shown.contains("action") && shown.contains("time to detect"), "{shown}");
        let record = server.get_json(&format!("/v1/incidents/{incident}"));
        let rollback = record["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "action").expect("action");
        assert_eq!(rollback["details"]["outcome"]["result"], "rolled_back", "{record}");
        assert!(shown.contains("rolled back: champion from version 2 to version 1"), "{shown}");
        let open = stdout(&server.cli(&["incidents", "--state", "open"]));
        assert!(open.contains("feature_drift") && open.contains("credit"), "{open}");
        let shown = stdout(&server.cli(&["alerts", &id]));
        assert!(shown.contains("rolled back: champion from version 2 to version 1"), "{shown}");

        // Resolved by hand: who and why, in the answer, in `incidents ID` and in the timeline.
        let why = "older applicants are a new campaign";
        let out = server.cli(&["resolve", &incident, "--comment", why]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains(why), "{}", stdout(&out));
        let shown = stdout(&server.cli(&["incidents", &incident]));
        assert!(shown.contains("resolved by") && shown.contains("incident_resolved"), "{shown}");
        assert!(shown.contains(&format!("incident resolved by admin: {why}")), "{shown}");
        let open = stdout(&server.cli(&["alerts", "--state", "open", "--model", "credit"]));
        assert!(!open.contains("critical"), "resolved with the incident: {open}");
    }
}

#[test]
fn findings_from_the_cli_block_the_gate_until_closed_and_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (dana, vera, rita) = setup(&server);
    promote_through_the_gate(&server, &(dana.clone(), vera.clone(), rita.clone()));

    let raise = ["findings", "raise", "credit", "--version", "1", "--kind", "validation", "--severity", "high"];
    let out = server.cli_as(Some(&vera), &[&raise[..], &["--title", "thin segment", "--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let id = json_of(&out)["id"].as_i64().unwrap();
    let out = server.cli_as(Some(&dana), &["gate", "check", "credit", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("finding {id} (validation, high) is unresolved: thin segment")),
        "{}",
        stdout(&out)
    );

    let out = server.cli_as(Some(&dana), &["findings", "list", "--model", "credit"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&out);
    assert!(listed.contains("thin segment") && listed.contains("open") && listed.contains("retail-risk"), "{listed}");

    let out = server.cli_as(Some(&dana), &["findings", "close", &id.to_string(), "--evidence", "mine"]);
    assert_eq!(out.status.code(), Some(1), "a data scientist closes nothing");
    let out = server.cli_as(Some(&dana), &["findings", "propose", &id.to_string(), "--remediation", "more data"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = server.cli_as(Some(&vera), &["findings", "close", &id.to_string(), "--evidence", "report 2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("finding {id}: closed"));
    let out = server.cli_as(Some(&dana), &["findings", "show", &id.to_string()]);
    assert!(stdout(&out).contains("report 2") && stdout(&out).contains("token:vera"), "{}", stdout(&out));
    let out = server.cli_as(Some(&dana), &["gate", "check", "credit", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // Scanner reports: Trivy on the training dependencies raises two vulnerabilities (the high one blocks the
    // gate); a later Bandit scan of the scoring service without B108 closes that finding as remediated.
    let report = |name: &str| warden_testdata::path(&format!("scans/{name}")).to_string_lossy().into_owned();
    let import = |format: &str, file: &str| {
        let args = ["findings", "import", "--model", "credit", "--version", "1", "--format", format, file];
        server.cli_as(Some(&vera), &args)
    };
    let out = import("trivy", &report("trivy-pip.json"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .starts_with("Trivy of testdata/fixtures/repo/pip: 2 raised, 0 closed as remediated, 0 still reported"),
        "{}",
        stdout(&out)
    );
    let out = server.cli_as(Some(&dana), &["gate", "check", "credit", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("(vulnerability, high) is unresolved"), "{}", stdout(&out));
    assert!(import("sarif", &report("bandit-mlflow-scoring-server.sarif")).status.success());
    let out = import("sarif", &report("bandit-mlflow-scoring-server-without-b108.sarif"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Bandit 1.9.4: 0 raised, 1 closed as remediated, 3 still reported"),
        "{}",
        stdout(&out)
    );
    // A report that is not the format named, or a format Warden does not read.
    let out = import("grype", &report("trivy-pip.json"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the report is not grype: \"matches\" is missing (it looks like trivy)"),
        "{}",
        stderr(&out)
    );
    let out = import("docx", &report("trivy-pip.json"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown scan format 'docx'"), "{}", stderr(&out));

    // Attestations from the command line: none open yet (one opens 30 days before it is due); answers that are
    // not yes or no are refused before anything is sent, an unknown id by the server.
    let out = server.cli_as(Some(&vera), &["attest", "list", "--model", "credit"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ID") && !stdout(&out).contains("open"), "{}", stdout(&out));
    let submit = ["attest", "submit", "999", "--used-as-documented", "maybe", "--limitations-hold", "yes"];
    assert_eq!(server.cli_as(Some(&dana), &submit).status.code(), Some(2));
    let submit = ["attest", "submit", "999", "--used-as-documented", "yes", "--limitations-hold", "yes"];
    let out = server.cli_as(Some(&dana), &submit);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no attestation 999"), "{}", stderr(&out));

    // The evidence bundle holds the finding as it stands, vouched for by the entry of its last change.
    let key_file = dir.path().join("ledger.pub");
    std::fs::write(&key_file, stdout(&server.cli(&["audit", "key"])).trim()).unwrap();
    let bundle = dir.path().join("credit.tar");
    let out = server.cli(&["evidence", "export", "credit", "--out", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = server.cli(&["evidence", "verify", bundle.to_str().unwrap(), "--key", key_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let mut files = std::collections::BTreeMap::new();
    for file in tar::Archive::new(std::fs::File::open(&bundle).unwrap()).entries().unwrap() {
        let mut file = file.unwrap();
        let path = file.path().unwrap().to_string_lossy().into_owned();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).unwrap();
        files.insert(path, text);
    }
    let path = format!("documents/findings/{id}.json");
    let document: serde_json::Value = serde_json::from_str(&files[&path]).unwrap();
    assert_eq!((document["state"].as_str(), document["evidence"].as_str()), (Some("closed"), Some("report 2")));
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    let listed = manifest["documents"].as_array().unwrap().iter().find(|d| d["path"] == path.as_str()).unwrap();
    assert_eq!(listed["backed_by"], "document_sha256", "{listed}");
    // Imported findings too, the one a later scan closed with its evidence.
    let imported: Vec<serde_json::Value> = files
        .iter()
        .filter(|(path, _)| path.starts_with("documents/findings/"))
        .map(|(_, text)| serde_json::from_str(text).unwrap())
        .filter(|d: &serde_json::Value| d["scan_key"].is_string())
        .collect();
    assert_eq!(imported.len(), 6, "two from Trivy, four from Bandit");
    let closed: Vec<&serde_json::Value> = imported.iter().filter(|d| d["state"] == "closed").collect();
    assert_eq!(closed.len(), 1);
    assert!(
        closed[0]["evidence"].as_str().unwrap().starts_with("absent from the Bandit 1.9.4 report"),
        "{}",
        closed[0]
    );

    // A value outside the closed set is refused before anything is sent.
    let out = server.cli_as(
        Some(&vera),
        &["findings", "raise", "credit", "--kind", "rumour", "--severity", "high", "--title", "t"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown finding kind 'rumour'"), "{}", stderr(&out));
    let out =
        server.cli_as(Some(&rita), &["findings", "except", "999", "--until", "2099-01-01T00:00:00Z", "--reason", "r"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no finding 999"), "{}", stderr(&out));
}
