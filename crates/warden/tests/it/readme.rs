//! The README is tested: every command of its ```sh blocks runs, as a shell runs it, against a real server
//! started on 127.0.0.1, in a directory holding the files the commands name (made from `warden-testdata`).
//! An example that drifts from the code (a renamed option, a refused request, a missing header) fails.
//!
//! The examples run in the README's order. Where an example needs a state the README reaches by other means
//! (a gate that wants a validation and two approvals before `promote`, outcomes before `retrain`), the test
//! makes it first through the CLI: `prepare`. A few lines are not run, each for the reason in
//! `NOT_RUN`; a line that is neither run nor listed there fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

/// One command of a ```sh block (continuation lines joined), with the `# ->` lines after it (an answer's
/// shape, checked loosely: the answer has those fields).
#[derive(Debug)]
struct Example {
    section: String,
    line: usize,
    command: String,
    answer: String,
}

/// The README's sh commands in order.
fn examples(readme: &str) -> Vec<Example> {
    let (mut out, mut section, mut in_sh) = (Vec::<Example>::new(), String::new(), false);
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in readme.lines().enumerate() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading.to_owned();
        }
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some((start, mut text)) = pending.take() {
            text.push(' ');
            text.push_str(line.trim());
            push_or_continue(&mut out, &mut pending, &section, start, text);
            continue;
        }
        let trimmed = line.trim();
        if let Some(answer) = trimmed.strip_prefix("# ->").or_else(|| trimmed.strip_prefix("#  ")) {
            if let Some(last) = out.last_mut().filter(|e| trimmed.starts_with("# ->") || !e.answer.is_empty()) {
                last.answer.push_str(answer);
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        push_or_continue(&mut out, &mut pending, &section, i + 1, trimmed.to_owned());
    }
    out
}

/// A command goes on over the next line after a trailing backslash or inside an open single quote.
fn push_or_continue(
    out: &mut Vec<Example>,
    pending: &mut Option<(usize, String)>,
    section: &str,
    start: usize,
    text: String,
) {
    if let Some(more) = text.strip_suffix('\\') {
        *pending = Some((start, more.trim_end().to_owned()));
    } else if open_quote(&text) {
        *pending = Some((start, text));
    } else {
        out.push(Example { section: section.to_owned(), line: start, command: text, answer: String::new() });
    }
}

/// Whether a single or double quote is still open at the end of the line (a `#` after a space, outside
/// quotes, starts a comment, whose apostrophes do not count).
fn open_quote(text: &str) -> bool {
    let (mut quote, mut previous) = (None, ' ');
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => return false,
            None => {}
        }
        previous = c;
    }
    quote.is_some()
}

/// Lines the test does not run, and why (matched by prefix).
const NOT_RUN: &[(&str, &str)] = &[
    ("cargo run -- serve --demo", "the demo runs for minutes; tests/it/dashboard.rs drives it"),
    ("scripts/test.sh", "the test suite itself"),
    ("warden() {", "defines `warden` as the source build; the test runs the built binary under that name"),
    ("export WARDEN_DATABASE_URL", "replicas need PostgreSQL and S3: tests/it/replicas.rs and object_storage.rs"),
    ("export WARDEN_ARTIFACTS_URL", "replicas need PostgreSQL and S3: tests/it/replicas.rs and object_storage.rs"),
    ("warden serve --listen 0.0.0.0:8700", "replicas on PostgreSQL: tests/it/replicas.rs"),
    ("cargo run -p xtask -- bench", "benchmarks take minutes each and install peers"),
    ("cargo bench", "benchmarks take minutes each"),
    ("scripts/peers/", "benchmark peers (Python, MLflow, whylogs)"),
    (
        "warden serve --kafka-brokers",
        "needs Kafka brokers: tests/it/ingest.rs runs it against librdkafka's mock cluster",
    ),
];

/// `[--json]` and `[--json | --csv]` are the README's notation for options: each command runs without them
/// and with each alternative.
fn variants(command: &str) -> Vec<String> {
    let Some(open) = command.find(" [--") else { return vec![command.to_owned()] };
    let close = open + command[open..].find(']').expect("a closing bracket");
    let (head, options, tail) = (&command[..open], &command[open + 2..close], &command[close + 1..]);
    let mut out = vec![format!("{head}{tail}")];
    out.extend(options.split(" | ").map(|o| format!("{head} {}{tail}", o.trim())));
    out
}

/// The working directory of the examples and the tokens of the people in them.
struct Scene {
    server: Server,
    dir: PathBuf,
    bin: PathBuf,
    tokens: BTreeMap<&'static str, String>,
}

impl Scene {
    /// Runs a shell line in the examples' directory as `role` (the admin when `None`): `warden` is the built
    /// binary, `$TOKEN` a scorer's token.
    fn sh(&self, role: Option<&str>, line: &str) -> Output {
        let mut command = Command::new("bash");
        command
            .args(["-o", "pipefail", "-c", line])
            .current_dir(&self.dir)
            .env("PATH", format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default()))
            .env("WARDEN_URL", &self.server.url)
            .env("WARDEN_DATA_DIR", &self.server.data_dir)
            .env("TOKEN", self.tokens.get("scorer").map_or("", String::as_str))
            .env_remove("WARDEN_TOKEN");
        if let Some(role) = role {
            command.env("WARDEN_TOKEN", &self.tokens[role]);
        }
        command.output().unwrap()
    }

    /// A setup step: must succeed.
    fn run(&self, role: Option<&str>, line: &str) -> String {
        let out = self.sh(role, line);
        assert!(out.status.success(), "setup `{line}` failed: {}{}", stderr(&out), stdout(&out));
        stdout(&out)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Validates `version` of `model` on holdout.csv and approves it as a validator and a risk officer.
    fn gate_ready(&self, model: &str, version: &str) {
        self.run(
            Some("validator"),
            &format!("warden validate {model} {version} --data holdout.csv --target risk --bad-value 0"),
        );
        for role in ["validator", "risk-officer"] {
            self.run(Some(role), &format!("warden approve {model} {version} --comment 'ready ({role})'"));
        }
    }
}

/// German credit rows as CSV with `default` (1: the bad event, from `risk` 0) and `age_band` in place of
/// `risk`: the README's credit-default data.
fn credit_default_csv(rows: impl Iterator<Item = Vec<String>>, header: &[String]) -> String {
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (risk, age) = (at("risk"), at("age"));
    let kept: Vec<usize> = (0..header.len()).filter(|&i| i != risk).collect();
    let mut csv = kept.iter().map(|&i| header[i].clone()).collect::<Vec<_>>().join(",") + ",default,age_band\n";
    for row in rows {
        let years: f64 = row[age].parse().unwrap();
        let band = if years < 25.0 {
            "under-25"
        } else if years < 40.0 {
            "25-39"
        } else {
            "40-plus"
        };
        let cells: Vec<&str> = kept.iter().map(|&i| row[i].as_str()).collect();
        csv.push_str(&format!("{},{},{band}\n", cells.join(","), u8::from(row[risk] == "0")));
    }
    csv
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

/// Writes a CSV file as Parquet: columns whose every cell is a number as doubles, the others as text.
fn write_parquet(csv: &Path, out: &Path) {
    use std::sync::Arc;
    let (header, rows) = read_csv(csv);
    let mut fields = Vec::new();
    let mut columns: Vec<arrow_array::ArrayRef> = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let numbers: Option<Vec<f64>> = rows.iter().map(|r| r[i].parse::<f64>().ok()).collect();
        match numbers {
            Some(values) => {
                fields.push(arrow_schema::Field::new(name, arrow_schema::DataType::Float64, false));
                columns.push(Arc::new(arrow_array::Float64Array::from(values)));
            }
            None => {
                fields.push(arrow_schema::Field::new(name, arrow_schema::DataType::Utf8, false));
                columns.push(Arc::new(arrow_array::StringArray::from_iter_values(rows.iter().map(|r| r[i].clone()))));
            }
        }
    }
    let batch = arrow_array::RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(out).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// The files the examples name, made from the German credit fixtures.
fn write_files(dir: &Path) {
    let german = warden_testdata::path("datasets/german.csv");
    let models = |name: &str| warden_testdata::path(&format!("models/{name}"));
    let (header, rows) = read_csv(&german);
    // credit-default: 700 rows to register and train on, 300 held out.
    std::fs::write(dir.join("reference.csv"), credit_default_csv(rows[..700].iter().cloned(), &header)).unwrap();
    std::fs::write(dir.join("train.csv"), credit_default_csv(rows[..700].iter().cloned(), &header)).unwrap();
    std::fs::write(dir.join("test.csv"), credit_default_csv(rows[700..].iter().cloned(), &header)).unwrap();
    write_parquet(&dir.join("reference.csv"), &dir.join("reference.parquet"));
    // This month: older applicants asking for larger loans (the demo's drift), without their outcomes yet.
    let older =
        rows.iter().filter(|r| r[header.iter().position(|h| h == "age").unwrap()].parse::<f64>().unwrap() >= 35.0);
    let this_month = dir.join("this_month_labelled.csv");
    std::fs::write(&this_month, credit_default_csv(older.cloned(), &header)).unwrap();
    write_parquet(&this_month, &dir.join("this_month.parquet"));
    let unlabelled: Vec<String> = std::fs::read_to_string(&this_month)
        .unwrap()
        .lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let default = cells.len() - 2; // `default`, then `age_band`
            cells.iter().enumerate().filter(|(i, _)| *i != default).map(|(_, c)| *c).collect::<Vec<_>>().join(",")
        })
        .collect();
    std::fs::write(dir.join("this_month_input.csv"), unlabelled.join("\n") + "\n").unwrap();
    std::fs::copy(models("lr_german_linear.json"), dir.join("model.json")).unwrap();
    // credit: the XGBoost fixture with its category codes, on the German data as it is.
    std::fs::copy(&german, dir.join("german.csv")).unwrap();
    std::fs::copy(models("xgb_german.json"), dir.join("xgb.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(models("manifest.json")).unwrap()).unwrap();
    std::fs::write(dir.join("codes.json"), manifest["suites"][0]["ordinal_codes"].to_string()).unwrap();
    std::fs::copy(models("german_test_raw.csv"), dir.join("holdout.csv")).unwrap();
    write_parquet(&models("german_test_raw.csv"), &dir.join("applications.parquet"));
    std::fs::write(
        dir.join("stress.toml"),
        "[[scenario]]\nname = \"recession\"\nchanges = [\"credit_amount *= 1.2\", \"duration += 6\", \"housing = 'rent'\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("fields.json"),
        serde_json::json!({"type": "object", "properties": {
            "business_line": {"enum": ["retail", "cards", "corporate"]},
            "exposure": {"type": "number", "minimum": 0},
            "eu_ai_act_high_risk": {"type": "boolean"},
            "intended_use": {"type": "string", "maxLength": 200, "x-warden-material": true}}})
        .to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("webhook.secret"), "a shared secret of the webhook receiver\n").unwrap();
    std::fs::copy(warden_testdata::path("scans/bandit-mlflow-scoring-server.sarif"), dir.join("bandit.sarif")).unwrap();
    // A vendor's model: the German data with its score of each row, and two decisions its platform made.
    let mut vendor = header.join(",") + ",pd\n";
    for (i, row) in rows.iter().enumerate() {
        vendor.push_str(&format!("{},0.{}\n", row.join(","), 10 + i % 80));
    }
    std::fs::write(dir.join("vendor.csv"), vendor).unwrap();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let decisions: String = rows[..2]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut features = serde_json::Map::new();
            for name in ["job", "credit_amount", "duration", "age"] {
                features.insert(name.into(), serde_json::json!(r[at(name)].parse::<f64>().unwrap()));
            }
            for name in ["housing", "saving_accounts", "checking_account", "purpose"] {
                features.insert(name.into(), serde_json::json!(r[at(name)]));
            }
            let record = serde_json::json!({"request_id": format!("acme-{i}"), "version": 1,
                "at": "2026-11-30T09:00:00Z", "features": features, "attributes": {"sex": r[at("sex")]},
                "score": 0.2});
            format!("{record}\n")
        })
        .collect();
    std::fs::write(dir.join("decisions.ndjson"), decisions).unwrap();
}

/// The README's example values that stand for what the reader has: replaced by this run's.
fn fill(scene: &Scene, command: &str) -> String {
    // Whole seconds, so the next one: after this run's assignment.
    let now = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let now = warden_core::Timestamp::from_datetime(now).unwrap().whole_seconds();
    let mut command = command
        .replace("http://127.0.0.1:8700", &scene.server.url)
        // "the version it pointed at then": a time after this run's assignment.
        .replace("--at 2026-03-01T00:00:00Z", &format!("--at {now}"));
    // An alert and an incident of this run in place of the README's numbers.
    if command.starts_with("warden ack 17")
        || command.starts_with("warden alerts 17")
        || command.contains("warden incidents 4")
    {
        let alerts = scene.server.get_json("/v1/alerts");
        let incidents = scene.server.get_json("/v1/incidents");
        let first = |list: &serde_json::Value| list.as_array().and_then(|l| l.last()).map(|a| a["id"].to_string());
        if let Some(alert) = first(&alerts) {
            command = command
                .replace("warden ack 17", &format!("warden ack {alert}"))
                .replace("warden alerts 17", &format!("warden alerts {alert}"));
        }
        if let Some(incident) = first(&incidents) {
            command = command.replace("warden incidents 4", &format!("warden incidents {incident}"));
        }
    }
    command
}

/// Whose token a line runs with: the person its comment names, else the admin's (the CLI's default).
fn role_of(command: &str) -> Option<&'static str> {
    let comment = command.split_once(" # ").map_or("", |(_, c)| c);
    if comment.contains("as a validator") {
        Some("validator")
    } else if comment.contains("risk officer") {
        Some("risk-officer")
    } else if command.starts_with("warden score ") || command.starts_with("warden outcomes ") {
        Some("scorer") // the business application's path
    } else {
        None
    }
}

/// Brings the server to the state an example assumes, through the CLI.
fn prepare(scene: &Scene, command: &str) {
    let starts = |prefix: &str| command.starts_with(prefix);
    if starts("warden model register credit ") {
        scene.run(None, "warden model create credit --owner retail-risk --risk-tier medium --use-case 'loan approval'");
    } else if starts("warden metrics --data scored.csv") {
        // Labelled data as `warden score` writes it (a person testing version 1 of credit-default).
        scene.run(None, "warden score credit-default --version 1 --input reference.csv --output scored.csv");
        scene.run(None, "warden score credit-default --version 1 --input this_month_input.csv --output this_month.csv");
    } else if starts("warden promote credit 1") {
        scene.gate_ready("credit", "1");
    } else if starts("warden alias set credit challenger 2") {
        scene.run(None, "warden model register credit --artifact xgb.json --format xgboost-json --reference german.csv --target risk --protected sex --encodings codes.json --unknown-category missing --threshold 0.45 --training-data german.csv --code-ref git:4f2a9c1");
    } else if starts("warden promote credit 3") {
        scene.run(None, "warden model register credit --artifact xgb.json --format xgboost-json --reference german.csv --target risk --protected sex --encodings codes.json --unknown-category missing --threshold 0.5 --training-data german.csv --code-ref git:4f2a9c1");
        scene.gate_ready("credit", "3");
    } else if starts("warden outcomes --input repayments.csv") {
        // The outcomes of the applications just scored (risk 0 is a default; its loss is the amount).
        let (header, rows) = read_csv(&scene.file("scored.csv"));
        if !header.iter().any(|h| h == "risk") {
            return; // the scoring example above failed and says so
        }
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        let mut csv = String::from("request_id,defaulted,loss\n");
        for r in &rows {
            let bad = r[at("risk")] == "0";
            let loss = if bad { r[at("credit_amount")].clone() } else { String::new() };
            csv.push_str(&format!("{},{},{loss}\n", r[at("request_id")], u8::from(bad)));
        }
        std::fs::write(scene.file("repayments.csv"), csv).unwrap();
    } else if starts("warden policy test my-bundle/") {
        scene.run(None, "warden policy show --output my-bundle");
    } else if starts("warden alerts 17") {
        // An alert to read and acknowledge: a monitor whose bands the outcomes posted above are sure to breach.
        scene.run(None, "warden monitor set credit readme_auc --kind performance --statistic auc --warn 0.99 --alert 0.98 --min-decisions 10");
        let token = scene.server.admin_token();
        scene.run(
            None,
            &format!("curl -sf -X POST -H 'Authorization: Bearer {token}' {}/v1/monitors/evaluate", scene.server.url),
        );
    } else if starts("warden retrain credit-default ") || command == "warden retrain credit-default" {
        if scene
            .server
            .get_json("/v1/models/credit-default/aliases")
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["alias"] != "champion")
        {
            // Retraining learns from a champion's labelled decisions.
            scene.run(None, "warden promote credit-default 1 --override --reason 'README walkthrough'");
            scene.run(Some("scorer"), "warden score credit-default --input reference.csv --output served.csv");
            let (header, rows) = read_csv(&scene.file("served.csv"));
            let at = |name: &str| header.iter().position(|h| h == name).unwrap();
            let mut csv = String::from("id,bad\n");
            for r in &rows {
                csv.push_str(&format!("{},{}\n", r[at("request_id")], r[at("default")]));
            }
            std::fs::write(scene.file("served_outcomes.csv"), csv).unwrap();
            scene.run(
                Some("scorer"),
                "warden outcomes --input served_outcomes.csv --request-id-column id --label-column bad",
            );
        }
    } else if starts("warden evidence verify credit.tar --key ledger.pub") {
        scene.run(None, "warden audit key > ledger.pub");
    } else if starts("warden docs generate") {
        // The PDF is printed by Chromium.
        crate::dashboard::chromedriver();
    }
}

/// The field names an answer line shows (`"name":`).
fn answer_fields(answer: &str) -> Vec<String> {
    answer
        .split('"')
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[1].trim_start().starts_with(':'))
        .map(|w| w[0].to_owned())
        .collect()
}

// About five seconds: not a `slow` scenario, so `scripts/test-fast.sh` checks the README too.
#[test]
fn every_readme_example_runs_against_a_real_server() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let all = examples(&readme);
    assert!(all.len() > 60, "the README's examples were found: {}", all.len());
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("examples");
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(WARDEN, bin.join("warden")).unwrap();
    write_files(&dir);
    let server = Server::start(&work.path().join("data"));
    let mut scene = Scene { server, dir, bin, tokens: BTreeMap::new() };
    for (name, role) in [("vera", "validator"), ("rita", "risk-officer"), ("loan-app", "scorer")] {
        let secret = scene.run(None, &format!("warden token create --name {name} --role {role}"));
        scene.tokens.insert(role, secret.trim().to_owned());
    }

    let (mut ran, mut failures) = (0, Vec::new());
    for example in &all {
        if let Some((_, why)) = NOT_RUN.iter().find(|(prefix, _)| example.command.starts_with(prefix)) {
            eprintln!("README:{} not run ({why}): {}", example.line, example.command);
            continue;
        }
        assert!(
            example.command.starts_with("warden ") || example.command.starts_with("curl "),
            "README:{} ({}) is neither run nor listed in NOT_RUN: {}",
            example.line,
            example.section,
            example.command
        );
        if let Some(args) = example.command.strip_prefix("warden serve ") {
            // A server with the example's options, on this run's own port and directory.
            let args: Vec<&str> = args.split(" #").next().unwrap().split_whitespace().collect();
            let data = work.path().join(format!("serve-{}", example.line));
            let server = Server::start_with(
                &data,
                &args
                    .iter()
                    .map(|a| {
                        if *a == "webhook.secret" {
                            scene.file("webhook.secret").to_str().unwrap().to_owned()
                        } else {
                            (*a).to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            );
            assert!(server.url.starts_with("http://127.0.0.1:"), "README:{}", example.line);
            ran += 1;
            continue;
        }
        prepare(&scene, &example.command);
        for command in variants(&example.command) {
            // curl's exit status says nothing of the HTTP status without --fail-with-body.
            let line = fill(&scene, &command).replacen("curl ", "curl --fail-with-body -sS ", 1);
            let out = scene.sh(role_of(&command), &line);
            ran += 1;
            // A line whose comment says "exit 1 here" shows a command failing on purpose (CI).
            let expected = if command.contains("# exit 1 here") { 1 } else { 0 };
            if out.status.code() != Some(expected) {
                eprintln!("README:{} FAILED (expected exit {expected}) `{line}`: {}", example.line, stderr(&out));
                failures.push(format!(
                    "README:{} `{line}`: exit {:?}\n{}{}",
                    example.line,
                    out.status.code(),
                    stderr(&out),
                    stdout(&out)
                ));
                continue;
            }
            if !example.answer.is_empty() {
                let answer: serde_json::Value = match serde_json::from_slice(&out.stdout) {
                    Ok(answer) => answer,
                    Err(e) => {
                        failures.push(format!("README:{} answered no JSON ({e}): {}", example.line, stdout(&out)));
                        continue;
                    }
                };
                for field in answer_fields(&example.answer) {
                    if answer.get(&field).is_none() && answer["reasons"][0].get(&field).is_none() {
                        failures.push(format!("README:{}: the answer has no '{field}': {answer}", example.line));
                    }
                }
            }
        }
    }
    eprintln!("{ran} README commands ran");
    assert!(failures.is_empty(), "{} README examples failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn readme_examples_are_found_with_their_answers_and_option_variants() {
    let readme = "## A\n```sh\nwarden a \\\n    --b c   # note\ncurl x\n# -> {\"id\": 1,\n#     \"name\": 2}\n```\n\
                  text\n```text\nwarden no\n```\n";
    let found = examples(readme);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].command, "warden a --b c   # note");
    assert_eq!((found[1].command.as_str(), found[1].line), ("curl x", 5));
    assert_eq!(answer_fields(&found[1].answer), ["id", "name"]);
    assert_eq!(
        variants("warden h x [--json | --csv] # c"),
        ["warden h x # c", "warden h x --json # c", "warden h x --csv # c"]
    );
    assert_eq!(role_of("warden approve c 2 --comment \"x\"   # as a validator"), Some("validator"));
    assert!(open_quote("curl -d '{\"a\": 1,") && !open_quote("warden x   # this month's"));
}
