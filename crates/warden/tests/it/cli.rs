//! The built `warden` binary against a real server: CLI and HTTP, exit codes, shutdown.

use crate::support::*;

fn linear_artifact(dir: &std::path::Path, intercept: f64) -> std::path::PathBuf {
    let path = dir.join(format!("model-{intercept}.json"));
    std::fs::write(&path, format!(r#"{{"intercept": {intercept}, "coefficients": {{"duration": 0.02}}}}"#)).unwrap();
    path
}

#[test]
fn register_inspect_and_alias_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    assert!(server.stdout_lines.iter().any(|l| l.starts_with("admin token written to")), "{:?}", server.stdout_lines);

    let out = server.cli(&[
        "model",
        "create",
        "credit-default",
        "--owner",
        "retail-risk",
        "--risk-tier",
        "high",
        "--tag",
        "retail",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let artifact = linear_artifact(dir.path(), -0.5);
    let german = warden_testdata::path("datasets/german.csv");
    let (artifact, german) = (artifact.to_str().unwrap(), german.to_str().unwrap());
    let version = json_of(&server.cli(&[
        "model",
        "register",
        "credit-default",
        "--artifact",
        artifact,
        "--format",
        "linear-json",
        "--reference",
        german,
        "--target",
        "risk",
        "--protected",
        "sex",
        "--training-data",
        german,
        "--code-ref",
        "git:4f2a9c1",
        "--param",
        "C=0.5",
        "--param",
        "solver=lbfgs",
        "--json",
    ]));
    assert_eq!(version["version"], 1);
    assert_eq!(version["lineage"]["training_data_rows"], 1000);
    assert_eq!(version["lineage"]["hyperparameters"]["C"], 0.5);
    assert_eq!(version["lineage"]["hyperparameters"]["solver"], "lbfgs");
    assert_eq!(version["reference"]["protected"][0], "sex");
    // The reference's SHA-256 is that of the file we sent.
    let expected = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(german).unwrap()))
    };
    assert_eq!(version["reference"]["sha256"], expected.as_str());
    assert_eq!(version["lineage"]["training_data_sha256"], expected.as_str());

    let second = linear_artifact(dir.path(), -0.7);
    let out = server.cli(&[
        "model",
        "register",
        "credit-default",
        "--artifact",
        second.to_str().unwrap(),
        "--format",
        "linear-json",
        "--reference",
        german,
        "--target",
        "risk",
        "--parent",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("registered credit-default version 2"), "{}", stdout(&out));

    assert!(server.cli(&["alias", "set", "credit-default", "stable", "1", "--reason", "approved"]).status.success());
    assert!(server.cli(&["alias", "set", "credit-default", "stable", "2"]).status.success());
    let history = json_of(&server.cli(&["alias", "history", "credit-default", "stable", "--json"]));
    assert_eq!(history.as_array().unwrap().len(), 2);
    let first_at = history[0]["assigned_at"].as_str().unwrap();
    let then = json_of(&server.cli(&["alias", "get", "credit-default", "stable", "--at", first_at, "--json"]));
    assert_eq!(then["version"], 1);

    let listing = stdout(&server.cli(&["model", "list"]));
    assert!(listing.lines().next().unwrap().starts_with("NAME"), "{listing}");
    assert!(listing.contains("credit-default") && listing.contains("high"), "{listing}");
    let shown = stdout(&server.cli(&["model", "show", "credit-default"]));
    assert!(shown.contains("stable"), "{shown}");
    let by_alias = json_of(&server.cli(&["model", "show", "credit-default", "stable", "--json"]));
    assert_eq!(by_alias["version"], 2);
    assert_eq!(by_alias["lineage"]["parent_version"], 1);
    let human = stdout(&server.cli(&["model", "show", "credit-default", "1"]));
    assert!(human.contains("git:4f2a9c1") && human.contains("protected"), "{human}");

    // The same data over plain HTTP.
    let body = server.get_json("/v1/models/credit-default/versions/1");
    assert_eq!(body["reference"]["rows"], 1000);
}

#[test]
fn failures_exit_non_zero_with_one_line_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let german = warden_testdata::path("datasets/german.csv");
    let artifact = linear_artifact(dir.path(), 0.1);
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, "risk,sex,age\n1,m,30\n0,f,old\n").unwrap();
    assert!(server.cli(&["model", "create", "m1", "--owner", "o", "--risk-tier", "low"]).status.success());

    let (artifact, german, bad_csv) = (artifact.to_str().unwrap(), german.to_str().unwrap(), bad_csv.to_str().unwrap());
    let register = |artifact: &str, format: &str, reference: &str, extra: &[&str]| -> Vec<String> {
        let base = ["model", "register", "m1", "--artifact", artifact, "--format", format, "--reference", reference];
        base.iter().chain(extra).map(|a| a.to_string()).collect()
    };
    let words = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).collect() };
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (words(&["model", "create", "m1", "--owner", "o", "--risk-tier", "low"]), 1, "already exists"),
        (words(&["model", "create", "Bad Name", "--owner", "o", "--risk-tier", "low"]), 1, "invalid model name"),
        (words(&["model", "show", "nope"]), 1, "model 'nope' not found"),
        (words(&["model", "show", "m1", "9"]), 1, "has no version 9"),
        (register("/no/such/file", "linear-json", german, &[]), 1, "cannot read /no/such/file"),
        (register(artifact, "pmml", german, &[]), 1, "unknown artifact format 'pmml'"),
        (
            register(artifact, "linear-json", bad_csv, &["--target", "risk"]),
            1,
            "line 3, column 'age': expected a number, found 'old'",
        ),
        (register(artifact, "linear-json", german, &["--target", "bad"]), 1, "no column 'bad' (declared as target)"),
        (register(artifact, "linear-json", german, &["--param", "novalue"]), 1, "not KEY=VALUE"),
        (words(&["alias", "set", "m1", "stable", "3"]), 1, "has no version 3"),
        (words(&["alias", "set", "m1", "champion", "1"]), 1, "is a production alias"),
        (words(&["token", "create", "--name", "t", "--role", "superuser"]), 1, "unknown role 'superuser'"),
        (words(&["model", "frobnicate"]), 2, "unrecognized subcommand"),
    ];
    for (args, code, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = server.cli(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: '{err}' should contain '{message}'");
        if code == 1 {
            assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line: {err}");
        }
    }
    let models = json_of(&server.cli(&["model", "show", "m1", "--json"]));
    assert!(models["versions"].as_array().unwrap().is_empty(), "no failed registration left a version");
}

#[test]
fn no_server_to_reach_exits_3() {
    // No server: exit 3.
    let mut unreachable = std::process::Command::new(WARDEN);
    unreachable.args(["model", "list"]).env("WARDEN_URL", "http://127.0.0.1:9").env("WARDEN_TOKEN", "wdn_x");
    let out = unreachable.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot reach Warden"));
}

#[test]
fn tokens_by_role_and_revocation_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let out = server.cli(&["token", "create", "--name", "viewer-1", "--role", "viewer"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let viewer = stdout(&out).trim().to_owned();
    assert!(viewer.starts_with("wdn_"), "{viewer}");
    assert!(server.cli_as(Some(&viewer), &["model", "list"]).status.success());
    let denied = server.cli_as(Some(&viewer), &["model", "create", "x", "--owner", "o", "--risk-tier", "low"]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(stderr(&denied).contains("may not"), "{}", stderr(&denied));
    let tokens = json_of(&server.cli(&["token", "list", "--json"]));
    assert_eq!(tokens.as_array().unwrap().len(), 2);
    assert!(tokens.to_string().find("wdn_").is_none(), "secrets are never listed");
    assert!(server.cli(&["token", "revoke", "viewer-1"]).status.success());
    let revoked = server.cli_as(Some(&viewer), &["model", "list"]);
    assert_eq!(revoked.status.code(), Some(1));
    assert!(stderr(&revoked).contains("revoked"));
}

#[test]
fn sigterm_shuts_down_gracefully_and_restart_keeps_state_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let token = server.admin_token();
    assert!(server.cli(&["model", "create", "kept", "--owner", "o", "--risk-tier", "medium"]).status.success());
    server.signal("TERM");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "graceful exit, got {status}");

    let restarted = Server::start(&data);
    assert!(!restarted.stdout_lines.iter().any(|l| l.starts_with("admin token written")), "no second admin token");
    assert_eq!(restarted.admin_token(), token);
    let model = json_of(&restarted.cli(&["model", "show", "kept", "--json"]));
    assert_eq!(model["model"]["risk_tier"], "medium");
}

#[test]
fn profile_runs_locally_without_a_server() {
    let parquet = warden_testdata::path("datasets/employment_MA_reference.pq");
    let out = std::process::Command::new(WARDEN)
        .args([
            "profile",
            parquet.to_str().unwrap(),
            "--target",
            "employed",
            "--protected",
            "SEX",
            "--exclude",
            "id",
            "--json",
        ])
        .output()
        .unwrap();
    let profile = json_of(&out);
    assert_eq!(profile["rows"], 68_785);
}

#[test]
fn profile_of_a_missing_file_exits_1() {
    let bad = std::process::Command::new(WARDEN).args(["profile", "/no/such.csv"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

/// A stopped server's data directory with 40 models, one of them (`m1`) with an owner written straight into
/// the database: an escape sequence and 100,000 characters. The server restarted on it.
fn server_with_a_hostile_owner(data: &std::path::Path) -> Server {
    let mut server = Server::start(data);
    for i in 0..40 {
        let out = server.cli(&["model", "create", &format!("m{i}"), "--owner", "risk", "--risk-tier", "low"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    server.signal("TERM");
    let _ = server.child.wait();
    let (escape, long) =
        if on_postgres() { ("chr(27)", "repeat('x', 100000)") } else { ("char(27)", "printf('%.*c', 100000, 'x')") };
    execute_sql(data, &format!("UPDATE models SET owner = 'evil' || {escape} || '[2J' || {long} WHERE name = 'm1'"));
    Server::start(data)
}

#[test]
fn stored_control_characters_print_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = server_with_a_hostile_owner(&data);

    let list = server.cli(&["model", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    assert!(!text.contains('\u{1b}'), "an escape sequence reached the terminal");
    assert!(text.contains("evil\\u{1b}[2J"), "{}", &text[..text.len().min(2000)]);
    assert!(text.lines().all(|l| l.chars().count() < 400), "a table line carries the whole field");
    let show = server.cli(&["model", "show", "m1"]);
    assert!(show.status.success(), "{}", stderr(&show));
    assert!(!stdout(&show).contains('\u{1b}'));
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = server_with_a_hostile_owner(&data);

    // `warden model list | head -0`: the reader is gone before the first line is written.
    let mut child = std::process::Command::new(WARDEN)
        .args(["model", "list"])
        .env("WARDEN_URL", &server.url)
        .env("WARDEN_DATA_DIR", &data)
        .env_remove("WARDEN_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A token of `role` made by the admin: its secret.
fn token_of(server: &Server, name: &str, role: &str) -> String {
    let out = server.cli(&["token", "create", "--name", name, "--role", role]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

/// The first `rows` data rows of the German credit data, with a request id column, in `dir`.
fn applications(dir: &std::path::Path, rows: usize) -> std::path::PathBuf {
    let text = std::fs::read_to_string(warden_testdata::path("datasets/german.csv")).unwrap();
    let mut lines = text.lines();
    let mut csv = format!("application,{}\n", lines.next().unwrap());
    for (i, line) in lines.take(rows).enumerate() {
        csv.push_str(&format!("app-{i},{line}\n"));
    }
    let path = dir.join("applications.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn a_scorer_scores_a_file_in_bulk_and_posts_its_outcomes_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    serve_linear_credit(&server, dir.path());
    let scorer = token_of(&server, "loan-app", "scorer");

    // Bulk scoring is the business application's path: a scorer needs no right to read the registry.
    let input = applications(dir.path(), 7);
    let scored = dir.path().join("scored.csv");
    let (input_arg, scored_arg) = (input.to_str().unwrap(), scored.to_str().unwrap());
    let out = server.cli_as(
        Some(&scorer),
        &["score", "credit", "--input", input_arg, "--output", scored_arg, "--id-column", "application"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("scored 7 rows with credit version 1"), "{}", stderr(&out));
    let log = server.get_json("/v1/models/credit/decisions?limit=100");
    assert_eq!(log.as_array().unwrap().len(), 7);
    assert!(log.as_array().unwrap().iter().all(|d| d["route"] == "champion"), "{log}");
    // The registry itself stays closed to it.
    let out = server.cli_as(Some(&scorer), &["model", "show", "credit", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // Outcomes from the scored file: the request ids and the German data's outcome (risk 0 is the bad event).
    let outcomes = dir.path().join("outcomes.csv");
    let mut reader = csv::Reader::from_path(&scored).unwrap();
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut text = String::from("id,defaulted,event,loss\n");
    for record in reader.records().map(Result::unwrap) {
        let bad = record[at("risk")] == *"0";
        let loss = if bad { record[at("credit_amount")].to_owned() } else { String::new() };
        text.push_str(&format!("{},{},default,{loss}\n", &record[at("request_id")], u8::from(bad)));
    }
    std::fs::write(&outcomes, &text).unwrap();
    let outcomes_arg = outcomes.to_str().unwrap();
    let post = |file: &str| {
        server.cli_as(
            Some(&scorer),
            &[
                "outcomes",
                "--input",
                file,
                "--request-id-column",
                "id",
                "--label-column",
                "defaulted",
                "--kind-column",
                "event",
                "--amount-column",
                "loss",
                "--batch-rows",
                "3",
            ],
        )
    };
    let out = post(outcomes_arg);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("recorded 7 outcomes from {outcomes_arg} in 3 requests"));
    for chunk in ["rows 1-3: 3 outcomes recorded", "rows 4-6: 3 outcomes recorded", "rows 7-7: 1 outcomes recorded"] {
        assert!(stderr(&out).contains(chunk), "{}", stderr(&out));
    }

    // A chunk with an id that was never scored is refused whole; the report says what was recorded and what not.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[5] = lines[5].replacen("app-4", "app-unknown", 1);
    let partly = dir.path().join("partly.csv");
    std::fs::write(&partly, lines.join("\n")).unwrap();
    let out = post(partly.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("rows 1-3: 3 outcomes recorded"), "{err}");
    assert!(err.contains("rows 4-6 were not recorded, nor any row after them; rows 1-3 were recorded"), "{err}");
    assert!(err.contains("app-unknown"), "the server's reason is shown: {err}");
    // A label that is not 0 or 1 names its row before anything of its chunk is sent.
    std::fs::write(&partly, text.replacen(",1,default", ",yes,default", 1)).unwrap();
    let out = post(partly.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("the label must be 0 or 1, found 'yes'"), "{}", stderr(&out));
    // A missing column is named with its option.
    let out = server.cli_as(
        Some(&scorer),
        &["outcomes", "--input", outcomes_arg, "--request-id-column", "request", "--label-column", "defaulted"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no column 'request' (--request-id-column)"), "{}", stderr(&out));
}

#[test]
fn alias_unset_withdraws_the_champion_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    serve_linear_credit(&server, dir.path());
    let out = server.cli(&["alias", "unset", "credit", "champion"]);
    assert_eq!(out.status.code(), Some(1), "a production alias needs a reason: {}", stderr(&out));
    let out = server.cli(&["alias", "unset", "credit", "champion", "--reason", "INC-7: scores drifted"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let history = json_of(&server.cli(&["alias", "history", "credit", "champion", "--json"]));
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["version"].clone(), last["reason"].clone()),
        (serde_json::Value::Null, "INC-7: scores drifted".into())
    );
    let out = server.cli(&["alias", "history", "credit", "champion"]);
    assert!(stdout(&out).contains("(removed)") && stdout(&out).contains("INC-7: scores drifted"), "{}", stdout(&out));
    // Scoring now answers that the model is out of production, and why.
    let input = applications(dir.path(), 2);
    let scored = dir.path().join("scored.csv");
    let out =
        server.cli(&["score", "credit", "--input", input.to_str().unwrap(), "--output", scored.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "503: {}", stderr(&out));
    assert!(
        stderr(&out).contains("withdrawn by token:admin") && stderr(&out).contains("INC-7: scores drifted"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn validate_and_metrics_give_the_same_fairness_figure_under_one_named_convention() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    serve_linear_credit(&server, dir.path()); // threshold 0.3, protected sex
    let german = warden_testdata::path("datasets/german.csv");
    let german_arg = german.to_str().unwrap();
    let validate = ["validate", "credit", "1", "--data", german_arg, "--target", "risk", "--bad-value", "0"];
    let report = json_of(&server.cli(&[&validate[..], &["--json"]].concat()));
    let by_sex = &report["fairness"]["sex"];
    let convention = "approval (score below the threshold); qualified = good outcome (label 0)";
    assert_eq!(by_sex["favourable_outcome"], convention, "{by_sex}");
    let validated = by_sex["disparate_impact"].as_f64().unwrap();
    let text = stdout(&server.cli(&validate));
    assert!(text.contains(&format!("Fairness (favourable outcome: {convention})")), "{text}");

    // The same rows scored through the same version, with the bad event as the label (risk 0 is bad).
    let scored = dir.path().join("scored.csv");
    let out = server.cli(&["score", "credit", "--input", german_arg, "--output", scored.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(&scored).unwrap();
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut labelled = String::from("score,decision,bad,sex\n");
    for r in reader.records().map(Result::unwrap) {
        let bad = u8::from(&r[at("risk")] == "0");
        labelled.push_str(&format!("{},{},{bad},{}\n", &r[at("score")], &r[at("decision")], &r[at("sex")]));
    }
    let labelled_path = dir.path().join("labelled.csv");
    std::fs::write(&labelled_path, labelled).unwrap();
    let metrics = |extra: &[&str]| {
        let data = labelled_path.to_str().unwrap();
        let args = ["metrics", "--data", data, "--score", "score", "--label", "bad", "--group", "sex"];
        server.cli(&[&args[..], extra].concat())
    };
    // From the scores at the version's threshold, and from the decisions `warden score` wrote.
    for extra in [&["--threshold", "0.3"][..], &["--threshold", "0.3", "--prediction", "decision"][..]] {
        let report = json_of(&metrics(&[extra, &["--json"]].concat()));
        let fairness = &report["fairness"][0];
        assert_eq!(fairness["favourable_outcome"], convention, "{report}");
        let measured = fairness["fairness"]["demographic_parity_ratio"].as_f64().unwrap();
        assert!((measured - validated).abs() < 1e-12, "{extra:?}: metrics {measured}, validate {validated}");
        let text = stdout(&metrics(extra));
        assert!(text.contains(&format!("fairness (favourable outcome: {convention})")), "{text}");
        assert!(text.contains(&format!("ratio {}", format!("{validated:.6}").trim_end_matches('0'))), "{text}");
    }
}

#[test]
fn text_output_reads_as_words_dates_and_plurals() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    serve_linear_credit(&server, dir.path()); // one promotion, by override
    let text = |args: &[&str]| {
        let out = server.cli(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let is_date = |s: &str| warden_core::Timestamp::parse(s).is_ok() && s.ends_with('Z');
    let raw = |s: &str| s.contains("Some(") || s.contains('{') || s.contains("\":");

    // Times a person reads are dates, never microseconds.
    let policy = text(&["policy", "show"]);
    let in_force = policy.lines().find(|l| l.starts_with("put in force:")).unwrap();
    let when = in_force.split_whitespace().nth(3).unwrap();
    assert!(is_date(when), "{policy}");
    let history = text(&["policy", "history"]);
    assert!(history.lines().nth(1).unwrap().split_whitespace().nth(1).is_some_and(is_date), "{history}");
    let checkpoint = text(&["audit", "checkpoint"]);
    let signed = checkpoint.split(" signed at ").nth(1).unwrap().split(':').take(3).collect::<Vec<_>>().join(":");
    assert!(is_date(&signed), "{checkpoint}");

    // Counts take their noun's number.
    let kpis = text(&["kpis"]);
    assert!(kpis.contains("0 automatic rollbacks") && kpis.contains("(1 override in 1 promotion)"), "{kpis}");
    let verify = text(&["audit", "verify"]);
    assert!(verify.contains(" entries, 1 checkpoint verified") || verify.contains(" checkpoints verified"), "{verify}");

    // Open-ended settings and lineage read as words, not JSON or debug output.
    let set = text(&["monitor", "set", "credit", "feature_drift", "--window-seconds", "300", "--warn", "0.1"]);
    assert!(!raw(&set) && set.contains("window seconds 300") && set.contains("warn 0.1"), "{set}");
    let artifact = dir.path().join("with-params.json");
    std::fs::write(&artifact, r#"{"intercept": -1, "coefficients": {"duration": 0.02}}"#).unwrap();
    register_german(&server, None, &artifact, "linear-json", &["--param", "C=0.5", "--param", "solver=lbfgs"]);
    let version = text(&["model", "show", "credit", "2"]);
    let params = version.lines().find(|l| l.starts_with("hyperparameters:")).unwrap();
    assert!(!raw(params) && params.ends_with("C 0.5, solver lbfgs"), "{params}");
    // An incident's timeline: its events' details as words. A performance monitor whose bands the labelled
    // decisions are sure to breach opens one.
    let input = applications(dir.path(), 40);
    let scored = dir.path().join("scored.csv");
    let (input_arg, scored_arg) = (input.to_str().unwrap(), scored.to_str().unwrap());
    text(&["score", "credit", "--input", input_arg, "--output", scored_arg, "--id-column", "application"]);
    let outcomes = dir.path().join("outcomes.csv");
    let mut csv = String::from("id,bad\n");
    for i in 0..40 {
        csv.push_str(&format!("app-{i},{}\n", u8::from(i % 3 == 0)));
    }
    std::fs::write(&outcomes, csv).unwrap();
    let scorer = token_of(&server, "loan-app", "scorer");
    let post =
        ["outcomes", "--input", outcomes.to_str().unwrap(), "--request-id-column", "id", "--label-column", "bad"];
    let out = server.cli_as(Some(&scorer), &post);
    assert!(out.status.success(), "{}", stderr(&out));
    let bands =
        ["--kind", "performance", "--statistic", "auc", "--warn", "0.99", "--alert", "0.98", "--min-decisions", "10"];
    text(&[&["monitor", "set", "credit", "strict_auc"][..], &bands].concat());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let evaluated = runtime.block_on(async {
        let url = format!("{}/v1/monitors/evaluate", server.url);
        http_client().post(url).bearer_auth(server.admin_token()).send().await.unwrap().status()
    });
    assert!(evaluated.is_success(), "{evaluated}");
    let incidents = server.get_json("/v1/incidents");
    let id = incidents[0]["id"].to_string();
    let incident = text(&["incidents", &id]);
    assert!(incident.contains("strict_auc") && incident.contains("fired"), "{incident}");
    assert!(!raw(&incident) && !incident.contains("micros"), "{incident}");
    // Its regulators' clocks: classified as a DORA major incident an hour ago (aware two hours ago), the
    // initial notification runs for three more hours; recorded as submitted, it is.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    let hours_ago = |h: i64| warden_core::Timestamp::from_micros(now - h * 3_600_000_000).to_string();
    let (classified, aware) = (hours_ago(1), hours_ago(2));
    let clocks =
        text(&["clocks", "classify", &id, "--framework", "dora", "--classified-at", &classified, "--aware-at", &aware]);
    let initial = clocks.lines().find(|l| l.starts_with("dora") && l.contains("initial")).unwrap_or_default();
    assert!(initial.contains("running") && initial.contains("2 h 5"), "about three hours left: {clocks}");
    let reported =
        text(&["clocks", "report", &id, "--framework", "dora", "--kind", "initial", "--reference", "DORA-1"]);
    let words = |table: &str| -> Vec<String> {
        let line = table.lines().find(|l| l.starts_with("dora") && l.contains("initial")).unwrap_or_default();
        line.split_whitespace().map(str::to_owned).collect()
    };
    assert_eq!(words(&reported)[3..5], ["submitted", "-"], "{reported}");
    let shown = text(&["clocks", "show", &id]);
    assert_eq!(words(&shown), words(&reported), "shown as recorded: {shown}");
    // The intermediate report's content in words; as JSON, what is submitted, whose hash the report records.
    let content = text(&["clocks", "dora-report", &id, "--kind", "intermediate"]);
    assert!(content.contains("Incident reference code provided by the competent authority: DORA-1"), "{content}");
    // The count is the decision log's over the period the report states (from the first decision of the
    // breaching window to now).
    let period: Vec<warden_core::Timestamp> = content
        .lines()
        .next()
        .and_then(|head| head.split("decisions from ").nth(1))
        .and_then(|rest| rest.split(';').next())
        .map(|span| span.split(" to ").filter_map(|t| warden_core::Timestamp::parse(t).ok()).collect())
        .unwrap_or_default();
    assert_eq!(period.len(), 2, "{content}");
    let (from, to) = (period[0].micros(), period[1].micros());
    let log = server.get_json("/v1/models/credit/decisions?limit=1000");
    let in_period = log
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| warden_core::Timestamp::parse(d["at"].as_str()?).ok())
        .filter(|at| (from..to).contains(&at.micros()))
        .count();
    assert!(content.contains(&format!("Number of affected transactions: {in_period}  [decision_log]")), "{content}");
    assert!(content.contains("Name of the entity submitting the report: (to complete)  [firm]"), "{content}");
    assert!(!raw(&content), "{content}");
    let out = server.cli(&["clocks", "dora-report", &id, "--kind", "intermediate", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_of(&out)["kind"], "intermediate");
    let out = server.cli(&["clocks", "dora-report", &id, "--kind", "quarterly"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("quarterly"), "{}", stderr(&out));

    // A data policy, declared from a file and shown in words; below the floor, or erasing a key no decision
    // names, exits 1 saying why, and the policy stays as it was.
    let policy = dir.path().join("policy.json");
    let write = |value: serde_json::Value| std::fs::write(&policy, value.to_string()).unwrap();
    write(serde_json::json!({"retention": {"decisions_days": 2557, "features_days": 365},
                 "personal": {"fields": {"age": "encrypt"}, "subject_key": "customer"}}));
    let declared = text(&["model", "data-policy", "credit", "--file", policy.to_str().unwrap(), "--reason", "7 years"]);
    assert!(
        declared.contains("2557 days (the policy's floor: 183 days)") && declared.contains("age (encrypt)"),
        "{declared}"
    );
    assert!(declared.contains("outcomes") && declared.contains("kept") && !raw(&declared), "{declared}");
    write(serde_json::json!({"retention": {"decisions_days": 30}}));
    let out = server.cli(&["model", "data-policy", "credit", "--file", policy.to_str().unwrap(), "--reason", "short"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("retention.decisions_days: 30 days is shorter than the 183 days"),
        "{}",
        stderr(&out)
    );
    assert_eq!(text(&["model", "data-policy", "credit"]), declared, "unchanged");
    let out = server.cli(&["erase", "--subject-key", "C-404", "--reason", "request 9"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no decision names this subject key"), "{}", stderr(&out));
    assert_eq!(server.cli(&["erase", "--subject-key", "C-404"]).status.code(), Some(2), "an erasure says why");

    for args in [
        &["model", "show", "credit"][..],
        &["monitor", "list", "credit"],
        &["inventory"],
        &["alias", "history", "credit"],
        &["alerts"],
        &["incidents"],
    ] {
        let shown = text(args);
        assert!(!shown.contains("Some(") && !shown.contains("\":"), "{args:?}: {shown}");
    }
}

#[test]
fn a_reviewer_overrides_a_decision_from_the_command_line_and_a_second_person_confirms_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    serve_linear_credit(&server, dir.path());
    let input = applications(dir.path(), 3);
    let scored = dir.path().join("scored.csv");
    let out = server.cli(&[
        "score",
        "credit",
        "--input",
        input.to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
        "--id-column",
        "application",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let made =
        server.get_json("/v1/models/credit/decisions?request_id=app-0")[0]["decision"].as_str().unwrap().to_owned();
    let (rob, ria) = (token_of(&server, "rob", "reviewer"), token_of(&server, "ria", "reviewer"));
    let review = |token: &str, args: &[&str]| {
        let mut all = vec!["review", "credit", "app-0"];
        all.extend_from_slice(args);
        server.cli_as(Some(token), &all)
    };

    let out = review(&rob, &["--override", "refer", "--reason", "affordability", "--note", "needs payslips"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("override by token:rob (affordability)") && said.contains(&format!("{made} -> refer")),
        "{said}"
    );
    // Rob set its state: a second person confirms it.
    let out = review(&rob, &["--confirm", "--reason", "other"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("somebody else"), "{}", stderr(&out));
    let out = review(&ria, &["--reverse", "--reason", "model_error"]);
    assert_eq!(out.status.code(), Some(1), "refer has no opposite: {}", stderr(&out));
    let out = review(&ria, &["--confirm", "--reason", "other", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_of(&out)["decision"], "refer");

    // Without an action: the decision and its reviews.
    let out = review(&rob, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains("stands as") && shown.contains("refer"), "{shown}");
    assert!(shown.contains("token:rob") && shown.contains("token:ria") && shown.contains("payslips"), "{shown}");
    let out = review(&rob, &["--json"]);
    let decisions = json_of(&out);
    let reviews = decisions[0]["reviews"].as_array().unwrap();
    assert_eq!(reviews.iter().map(|r| r["action"].as_str().unwrap()).collect::<Vec<_>>(), ["override", "confirm"]);

    // Bad input: a decision that does not exist, a reason without an action, an action without a reason.
    let out = server.cli_as(Some(&rob), &["review", "credit", "no-such", "--confirm", "--reason", "other"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no decision with request id 'no-such'"), "{}", stderr(&out));
    assert_eq!(review(&rob, &["--reason", "other"]).status.code(), Some(2));
    assert_eq!(review(&rob, &["--confirm"]).status.code(), Some(2));
    assert_eq!(review(&rob, &["--confirm", "--reverse", "--reason", "other"]).status.code(), Some(2));
    // Nothing more was written.
    let log = server.get_json("/v1/models/credit/decisions?request_id=app-0");
    assert_eq!(log[0]["reviews"].as_array().unwrap().len(), 2, "{log}");
}

#[test]
fn the_clocks_command_names_an_unknown_incident_and_a_time_that_does_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let out = server.cli(&["clocks", "show", "999"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no incident 999"), "{}", stderr(&out));
    let out = server.cli(&["clocks", "classify", "999", "--framework", "dora", "--classified-at", "yesterday"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("classified_at"), "{}", stderr(&out));
    let out = server.cli(&["clocks", "classify", "999", "--framework", "dora"]);
    assert_eq!(out.status.code(), Some(2), "a classification needs its time: {}", stderr(&out));
}
