//! validate, approve, promote, gate check and policy commands.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::cli::*;
use crate::client::{Client, encode};
use crate::render::{self, cell, fields, table};

fn version_path(model: &str, version: &str) -> String {
    format!("/v1/models/{}/versions/{}", encode(model), encode(version))
}

fn number(value: &Value, digits: usize) -> String {
    value.as_f64().map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

pub(crate) async fn validate(args: ValidateArgs) -> anyhow::Result<()> {
    let data = tokio::fs::read(&args.data).await.with_context(|| format!("cannot read {}", args.data.display()))?;
    let metadata = json!({ "target": args.target, "protected": args.protected, "bad_value": args.bad_value });
    let mut form = Form::new()
        .part("metadata", Part::text(metadata.to_string()).mime_str("application/json")?)
        .part("data", Part::bytes(data).file_name("data"));
    if let Some(path) = &args.scenarios {
        let text = tokio::fs::read(path).await.with_context(|| format!("cannot read {}", path.display()))?;
        let name = path.file_name().map_or("scenarios.toml".into(), |n| n.to_string_lossy().into_owned());
        form = form.part("scenarios", Part::bytes(text).file_name(name));
    }
    let report = Client::new(&args.connection)?
        .multipart(&format!("{}/validations", version_path(&args.model, &args.version)), form)
        .await?;
    if args.json {
        render::json(&report);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &Value) {
    let f = &r["figures"];
    let d = &f["discrimination"];
    let interval = &d["auc_interval"];
    outln!("Validation report {} — {} version {}", cell(&r["id"]), cell(&r["model"]), cell(&r["version"]));
    fields(&[
        ("data", format!("{} rows, sha256 {}", cell(&r["rows"]), cell(&r["data_sha256"]))),
        (
            "target",
            format!(
                "{} = {} is bad (bad rate {})",
                cell(&r["target"]),
                cell(&r["bad_value"]),
                number(&r["bad_rate"], 3)
            ),
        ),
        ("by", cell(&r["created_by"])),
    ]);
    outln!("\nDiscrimination");
    let ci = if interval.is_null() {
        String::new()
    } else {
        format!(" (95% CI {}–{})", number(&interval["lower"], 3), number(&interval["upper"], 3))
    };
    fields(&[
        ("AUC", format!("{}{ci}", number(&d["auc"], 4))),
        ("Gini", number(&d["gini"], 4)),
        ("KS", number(&d["ks"], 4)),
    ]);
    let c = &f["calibration"];
    outln!("\nCalibration");
    fields(&[
        ("Brier", number(&c["brier"], 4)),
        ("ECE", number(&c["ece"], 4)),
        ("log loss", number(&c["log_loss"], 4)),
    ]);
    let bins: Vec<Vec<String>> = c["reliability"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["n"].as_u64().unwrap_or(0) > 0)
        .map(|b| {
            let lo = b["bin"].as_u64().unwrap_or(0) as f64 / 10.0;
            vec![
                format!("{lo:.1}–{:.1}", lo + 0.1),
                cell(&b["n"]),
                number(&b["mean_pred"], 3),
                number(&b["mean_true"], 3),
            ]
        })
        .collect();
    table(&["SCORE BIN", "ROWS", "MEAN SCORE", "BAD RATE"], &bins);
    outln!(
        "\nDecisions at threshold {}: approval rate {}, mean score {}",
        number(&r["threshold"], 2),
        number(&f["approval_rate"], 3),
        number(&f["mean_score"], 3)
    );
    if let Some(fairness) = r["fairness"].as_object().filter(|m| !m.is_empty()) {
        outln!("\nFairness (approvals)");
        let rows: Vec<Vec<String>> = fairness
            .iter()
            .map(|(name, a)| {
                let groups = a["groups"]
                    .as_object()
                    .map(|g| {
                        g.iter()
                            .map(|(k, v)| format!("{k} {}", number(&v["approval_rate"], 3)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                vec![
                    name.clone(),
                    number(&a["disparate_impact"], 3),
                    number(&a["equalized_odds_difference"], 3),
                    groups,
                ]
            })
            .collect();
        table(&["ATTRIBUTE", "DISPARATE IMPACT", "EQ. ODDS DIFF", "APPROVAL RATE BY GROUP"], &rows);
    }
    let s = &r["stability"];
    outln!("\nStability against the reference (PSI): score {}", number(&s["score_psi"], 4));
    let quality = &r["data_quality"];
    let explanation = &r["explanation"];
    let rows: Vec<Vec<String>> = s["psi"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, psi)| {
            vec![
                name.clone(),
                number(psi, 4),
                number(&quality[name]["missing_rate"], 3),
                if explanation.is_null() { "-".into() } else { number(&explanation[name], 4) },
            ]
        })
        .collect();
    table(&["FEATURE", "PSI", "MISSING RATE", "MEAN |CONTRIBUTION|"], &rows);
    if let Some(scenarios) = r["scenarios"].as_array().filter(|s| !s.is_empty()) {
        outln!("\nStress scenarios (baseline -> stressed)");
        let delta = |d: &Value, digits: usize| {
            if d.is_null() {
                "-".to_owned()
            } else {
                format!(
                    "{} -> {} ({:+.digits$})",
                    number(&d["baseline"], digits),
                    number(&d["stressed"], digits),
                    d["change"].as_f64().unwrap_or(0.0)
                )
            }
        };
        let rows: Vec<Vec<String>> = scenarios
            .iter()
            .map(|s| {
                vec![
                    cell(&s["name"]),
                    delta(&s["approval_rate"], 3),
                    delta(&s["mean_pd"], 4),
                    delta(&s["expected_loss"], 0),
                    strings(&s["changes"]).join("; "),
                ]
            })
            .collect();
        table(&["SCENARIO", "APPROVAL RATE", "MEAN PD", "EXPECTED LOSS", "CHANGES"], &rows);
    }
    if let Some(champion) = r["champion"].as_object() {
        let cd = &champion["discrimination"];
        outln!(
            "\nChampion (version {}) on the same data: AUC {}, Gini {}, KS {}, Brier {}, ECE {}, approval rate {}",
            cell(&champion["version"]),
            number(&cd["auc"], 4),
            number(&cd["gini"], 4),
            number(&cd["ks"], 4),
            number(&champion["calibration"]["brier"], 4),
            number(&champion["calibration"]["ece"], 4),
            number(&champion["approval_rate"], 3)
        );
    }
}

pub(crate) async fn approve(args: ApproveArgs) -> anyhow::Result<()> {
    let decision = if args.reject { "reject" } else { "approve" };
    let body = json!({ "decision": decision, "comment": args.comment });
    let approval = Client::new(&args.connection)?
        .json(Method::POST, &format!("{}/approvals", version_path(&args.model, &args.version)), &body)
        .await?;
    outln!(
        "{} {}d {} version {} as {}",
        cell(&approval["by"]),
        decision,
        args.model,
        args.version,
        cell(&approval["role"])
    );
    Ok(())
}

pub(crate) async fn promote(args: PromoteArgs) -> anyhow::Result<()> {
    let body = json!({
        "alias": args.alias, "traffic": args.traffic, "reason": args.reason, "override": args.override_gate,
    });
    let promoted = Client::new(&args.connection)?
        .json(Method::POST, &format!("{}/promote", version_path(&args.model, &args.version)), &body)
        .await?;
    if args.json {
        render::json(&promoted);
        return Ok(());
    }
    let previous = if promoted["previous_version"].is_null() {
        "none".into()
    } else {
        format!("version {}", cell(&promoted["previous_version"]))
    };
    let how =
        if promoted["overridden"].as_bool() == Some(true) { "OVERRIDE of a gate refusal" } else { "gate allowed" };
    outln!(
        "{}@{} -> version {} ({how}, decision {}); previous: {previous}",
        args.model,
        args.alias,
        cell(&promoted["version"]),
        cell(&promoted["decision"]["decision_id"])
    );
    for reason in promoted["decision"]["deny"].as_array().into_iter().flatten() {
        outln!("  overridden: {}", cell(reason));
    }
    for reason in promoted["decision"]["warn"].as_array().into_iter().flatten() {
        outln!("  warning: {}", cell(reason));
    }
    Ok(())
}

/// Exit code of `gate check`: 0 allow, 1 deny (errors are 2, set by the caller).
pub(crate) async fn gate(command: GateCommand) -> anyhow::Result<u8> {
    let GateCommand::Check { model, version, alias, format, connection } = command;
    let decision = Client::new(&connection)?
        .json(Method::POST, &format!("{}/gate", version_path(&model, &version)), &json!({ "alias": alias }))
        .await?;
    let allow = decision["allow"].as_bool().context("the server's decision has no 'allow'")?;
    match format {
        GateFormat::Json => render::json(&decision),
        GateFormat::Text => {
            outln!(
                "{}: {model} version {} -> {alias} (decision {}, policy bundle {})",
                if allow { "ALLOW" } else { "DENY" },
                cell(&decision["version"]),
                cell(&decision["decision_id"]),
                cell(&decision["bundle_number"])
            );
            for reason in decision["deny"].as_array().into_iter().flatten() {
                outln!("  deny: {}", cell(reason));
            }
            for reason in decision["warn"].as_array().into_iter().flatten() {
                outln!("  warn: {}", cell(reason));
            }
        }
        GateFormat::Junit => out!("{}", junit(&decision)),
        GateFormat::Sarif => render::json(&sarif(&decision)),
    }
    Ok(if allow { 0 } else { 1 })
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().map(cell).collect()
}

/// JUnit XML: one failing test case per refusal reason, or one passing case when the gate allows.
pub(crate) fn junit(decision: &Value) -> String {
    let deny = strings(&decision["deny"]);
    let warn = strings(&decision["warn"]);
    let subject =
        format!("{} version {} -> {}", cell(&decision["model"]), cell(&decision["version"]), cell(&decision["alias"]));
    let cases = deny.len().max(1);
    let timestamp =
        time::OffsetDateTime::from_unix_timestamp_nanos(decision["at"].as_i64().unwrap_or(0) as i128 * 1000)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default();
    let timestamp = timestamp.split('.').next().unwrap_or_default().trim_end_matches('Z').to_owned();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"warden gate\" tests=\"{cases}\" failures=\"{}\" errors=\"0\">\n",
        deny.len()
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{cases}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"0\" timestamp=\"{timestamp}\" hostname=\"warden\" id=\"0\" package=\"warden.gate\">\n",
        xml_escape(&subject),
        deny.len()
    ));
    xml.push_str("    <properties>\n");
    for key in ["decision_id", "bundle_number", "bundle_digest", "input_sha256"] {
        xml.push_str(&format!("      <property name=\"{key}\" value=\"{}\"/>\n", xml_escape(&cell(&decision[key]))));
    }
    xml.push_str("    </properties>\n");
    if deny.is_empty() {
        xml.push_str(&format!(
            "    <testcase classname=\"warden.gate\" name=\"{}\" time=\"0\"/>\n",
            xml_escape(&format!("promotion allowed: {subject}"))
        ));
    }
    for reason in &deny {
        let reason = xml_escape(reason);
        xml.push_str(&format!(
            "    <testcase classname=\"warden.gate\" name=\"{reason}\" time=\"0\">\n      <failure message=\"{reason}\" type=\"deny\">{reason}</failure>\n    </testcase>\n"
        ));
    }
    let out: String = warn.iter().map(|w| format!("warn: {w}\n")).collect();
    xml.push_str(&format!("    <system-out>{}</system-out>\n", xml_escape(&out)));
    xml.push_str("    <system-err></system-err>\n");
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// SARIF 2.1.0: one result per refusal (error) and warning (warning), located at the model version.
pub(crate) fn sarif(decision: &Value) -> Value {
    let location = format!("models/{}/versions/{}", cell(&decision["model"]), cell(&decision["version"]));
    let result = |rule: &str, level: &str, text: &str| {
        json!({
            "ruleId": rule,
            "level": level,
            "message": { "text": text },
            "locations": [{ "logicalLocations": [{ "fullyQualifiedName": location, "kind": "module" }] }],
        })
    };
    let mut results: Vec<Value> =
        strings(&decision["deny"]).iter().map(|r| result("warden.gate.deny", "error", r)).collect();
    results.extend(strings(&decision["warn"]).iter().map(|r| result("warden.gate.warn", "warning", r)));
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "warden",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": [
                    { "id": "warden.gate.deny", "shortDescription": { "text": "The promotion gate refuses the version" },
                      "defaultConfiguration": { "level": "error" } },
                    { "id": "warden.gate.warn", "shortDescription": { "text": "The promotion gate warns about the version" },
                      "defaultConfiguration": { "level": "warning" } },
                ],
            }},
            "invocations": [{ "executionSuccessful": true }],
            "results": results,
            "properties": {
                "decision_id": decision["decision_id"], "allow": decision["allow"], "alias": decision["alias"],
                "bundle_number": decision["bundle_number"], "bundle_digest": decision["bundle_digest"],
                "input_sha256": decision["input_sha256"],
            },
        }],
    })
}

/// Reads a bundle directory: every .rego and .json file below it, by relative path.
fn read_bundle(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).with_context(|| format!("cannot read {}", current.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rego" || e == "json") {
                let relative = path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
                let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                files.insert(relative, text);
            }
        }
    }
    if files.is_empty() {
        anyhow::bail!("{} holds no .rego or .json files", dir.display());
    }
    Ok(files)
}

/// Exit code: 0 every test passes, 1 one fails (errors are 2, set by the caller).
pub(crate) async fn policy(command: PolicyCommand) -> anyhow::Result<u8> {
    match command {
        PolicyCommand::Test { dir } => {
            let bundle = warden_policy::Bundle::from_files(read_bundle(&dir)?)?;
            let outcomes = warden_policy::run_tests(&bundle)?;
            if outcomes.is_empty() {
                anyhow::bail!("no test rules (test_*) in {}", dir.display());
            }
            let failed = outcomes.iter().filter(|o| !o.passed).count();
            for o in &outcomes {
                match &o.detail {
                    None => outln!("PASS {} ({})", o.name, o.file),
                    Some(detail) => outln!("FAIL {} ({}): {detail}", o.name, o.file),
                }
            }
            outln!("{} passed, {failed} failed", outcomes.len() - failed);
            Ok(if failed == 0 { 0 } else { 1 })
        }
        PolicyCommand::Push { dir, connection } => {
            let files = read_bundle(&dir)?;
            let bundle =
                Client::new(&connection)?.json(Method::PUT, "/v1/policies", &json!({ "files": files })).await?;
            outln!("policy bundle {} in force (digest {})", cell(&bundle["number"]), cell(&bundle["digest"]));
            Ok(0)
        }
        PolicyCommand::Show { output, connection, json } => {
            let bundle = Client::new(&connection)?.get("/v1/policies").await?;
            if json {
                render::json(&bundle);
            } else if let Some(dir) = output {
                for (path, text) in bundle["files"].as_object().into_iter().flatten() {
                    let target = dir.join(path);
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&target, text.as_str().unwrap_or_default())?;
                }
                outln!("policy bundle {} written to {}", cell(&bundle["number"]), dir.display());
            } else {
                fields(&[
                    ("bundle", cell(&bundle["number"])),
                    ("digest", cell(&bundle["digest"])),
                    ("put in force", format!("{} by {}", cell(&bundle["created_at"]), cell(&bundle["created_by"]))),
                ]);
                let rows: Vec<Vec<String>> = bundle["files"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(p, t)| vec![p.clone(), t.as_str().map_or(0, str::len).to_string()])
                    .collect();
                table(&["FILE", "BYTES"], &rows);
            }
            Ok(0)
        }
        PolicyCommand::History { connection } => {
            let bundles = Client::new(&connection)?.get("/v1/policies/history").await?;
            let rows: Vec<Vec<String>> = bundles
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| vec![cell(&b["number"]), cell(&b["created_at"]), cell(&b["created_by"]), cell(&b["digest"])])
                .collect();
            table(&["BUNDLE", "PUT IN FORCE", "BY", "DIGEST"], &rows);
            Ok(0)
        }
    }
}
