//! validate, approve, promote, gate check and policy commands.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::cli::*;
use crate::client::{Client, encode};
use crate::render::{self, Cell, fields, micros_time, table};
use warden_api_types as api;

fn version_path(model: &str, version: &str) -> String {
    format!("/v1/models/{}/versions/{}", encode(model), encode(version))
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
    let report: api::ValidationReportBody = Client::new(&args.connection)?
        .multipart_as(&format!("{}/validations", version_path(&args.model, &args.version)), form)
        .await?;
    if args.json {
        render::json(&report);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &api::ValidationReportBody) {
    let f = &r.figures;
    let d = &f.discrimination;
    outln!("Validation report {} — {} version {}", r.id, r.model, r.version);
    fields(&[
        ("data", format!("{} rows, sha256 {}", r.rows, r.data_sha256)),
        (
            "target",
            match r.bad_rate {
                Some(rate) => format!("{} = {} is bad (bad rate {})", r.target, r.bad_value, num(Some(rate), 3)),
                None => format!("{}: the realized class", r.target),
            },
        ),
        ("by", r.created_by.cell()),
    ]);
    for warning in &r.warnings {
        outln!("WARNING: {}", warning.cell());
    }
    outln!("\nDiscrimination");
    let ci = match &d.auc_interval {
        None => String::new(),
        Some(interval) => {
            format!(" (95% CI {}–{})", num(Some(interval.lower), 3), num(Some(interval.upper), 3))
        }
    };
    let auc = if f.multiclass.is_some() { "macro AUC (one-vs-rest)" } else { "AUC" };
    fields(&[(auc, format!("{}{ci}", num(d.auc, 4))), ("Gini", num(d.gini, 4)), ("KS", num(d.ks, 4))]);
    if let Some(m) = &f.multiclass {
        outln!("\nOn the realized classes");
        fields(&[
            ("accuracy", num(Some(m.accuracy), 4)),
            ("macro F1", num(Some(m.f1_macro), 4)),
            ("macro precision", num(Some(m.precision_macro), 4)),
            ("macro recall", num(Some(m.recall_macro), 4)),
        ]);
        let rows: Vec<Vec<String>> = m
            .classes
            .iter()
            .enumerate()
            .map(|(i, class)| {
                let mut row = vec![class.cell()];
                row.extend(m.confusion[i].iter().map(|n| n.to_string()));
                row.extend([num(m.auc_per_class[i], 4), num(Some(m.realized_shares[i]), 3)]);
                row
            })
            .collect();
        outln!("Realized classes (rows) against decided classes (columns):");
        let mut header: Vec<String> = vec!["REALIZED".into()];
        header.extend(m.classes.iter().map(|c| c.to_uppercase()));
        header.extend(["AUC".into(), "SHARE".into()]);
        table(&header.iter().map(String::as_str).collect::<Vec<_>>(), &rows);
    }
    if let Some(g) = &f.regression {
        outln!("\nOn the realized values ({} rows)", g.n);
        fields(&[
            ("MAE", num(Some(g.mae), 4)),
            ("RMSE", num(Some(g.rmse), 4)),
            ("MAPE", num(Some(g.mape), 4)),
            ("R²", num(Some(g.r2), 4)),
            ("expected-loss error", num(Some(g.expected_loss_error), 2)),
            ("relative", num(g.relative_expected_loss_error, 4)),
        ]);
    }
    if let Some(c) = &f.calibration {
        outln!("\nCalibration");
        fields(&[
            ("Brier", num(Some(c.brier), 4)),
            ("ECE", num(Some(c.ece), 4)),
            ("log loss", num(Some(c.log_loss), 4)),
        ]);
        let bins: Vec<Vec<String>> = c
            .reliability
            .iter()
            .filter(|b| b.n > 0)
            .map(|b| {
                let lo = b.bin as f64 / 10.0;
                vec![format!("{lo:.1}–{:.1}", lo + 0.1), b.n.cell(), num(b.mean_pred, 3), num(b.mean_true, 3)]
            })
            .collect();
        table(&["SCORE BIN", "ROWS", "MEAN SCORE", "BAD RATE"], &bins);
    }
    match f.approval_rate {
        Some(approval) => outln!(
            "\nDecisions at threshold {}: approval rate {}, mean score {}",
            num(Some(r.threshold), 2),
            num(Some(approval), 3),
            num(Some(f.mean_score), 3)
        ),
        None => outln!("\nDecided classes: mean probability of the decided class {}", num(Some(f.mean_score), 3)),
    }
    if !r.fairness.is_empty() {
        let conventions: std::collections::BTreeSet<&str> =
            r.fairness.values().map(|a| a.favourable_outcome.as_str()).collect();
        outln!("\nFairness (favourable outcome: {})", conventions.into_iter().collect::<Vec<_>>().join("; "));
        let rows: Vec<Vec<String>> = r
            .fairness
            .iter()
            .map(|(name, a)| {
                let groups = a
                    .groups
                    .iter()
                    .map(|(k, v)| format!("{k} {}", num(Some(v.approval_rate), 3)))
                    .collect::<Vec<_>>()
                    .join(", ");
                vec![name.clone(), num(a.disparate_impact, 3), num(Some(a.equalized_odds_difference), 3), groups]
            })
            .collect();
        table(&["ATTRIBUTE", "DISPARATE IMPACT", "EQ. ODDS DIFF", "APPROVAL RATE BY GROUP"], &rows);
    }
    let s = &r.stability;
    outln!("\nStability against the reference (PSI): score {}", num(Some(s.score_psi), 4));
    let rows: Vec<Vec<String>> = s
        .psi
        .iter()
        .map(|(name, psi)| {
            vec![
                name.clone(),
                num(Some(*psi), 4),
                num(r.data_quality.get(name).map(|q| q.missing_rate), 3),
                match &r.explanation {
                    None => "-".into(),
                    Some(explanation) => num(explanation.get(name).copied(), 4),
                },
            ]
        })
        .collect();
    table(&["FEATURE", "PSI", "MISSING RATE", "MEAN |CONTRIBUTION|"], &rows);
    if !r.scenarios.is_empty() {
        outln!("\nStress scenarios (baseline -> stressed)");
        let delta = |d: Option<&api::Delta>, digits: usize| match d {
            None => "-".to_owned(),
            Some(d) => format!(
                "{} -> {} ({:+.digits$})",
                num(Some(d.baseline), digits),
                num(Some(d.stressed), digits),
                d.change
            ),
        };
        let rows: Vec<Vec<String>> = r
            .scenarios
            .iter()
            .map(|s| {
                vec![
                    s.name.cell(),
                    delta(Some(&s.approval_rate), 3),
                    delta(Some(&s.mean_pd), 4),
                    delta(s.expected_loss.as_ref(), 0),
                    s.changes.join("; "),
                ]
            })
            .collect();
        table(&["SCENARIO", "APPROVAL RATE", "MEAN PD", "EXPECTED LOSS", "CHANGES"], &rows);
    }
    if let Some(champion) = &r.champion {
        let cd = &champion.discrimination;
        outln!(
            "\nChampion (version {}) on the same data: AUC {}, Gini {}, KS {}, Brier {}, ECE {}, approval rate {}",
            champion.version,
            num(cd.auc, 4),
            num(cd.gini, 4),
            num(cd.ks, 4),
            num(champion.calibration.as_ref().map(|c| c.brier), 4),
            num(champion.calibration.as_ref().map(|c| c.ece), 4),
            num(champion.approval_rate, 3)
        );
    }
}

/// A figure to `digits` decimals, or "-".
fn num(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

pub(crate) async fn approve(args: ApproveArgs) -> anyhow::Result<()> {
    let decision = if args.reject { "reject" } else { "approve" };
    let body = json!({ "decision": decision, "comment": args.comment });
    let approval: api::ApprovalBody = Client::new(&args.connection)?
        .json_as(Method::POST, &format!("{}/approvals", version_path(&args.model, &args.version)), &body)
        .await?;
    outln!("{} {}d {} version {} as {}", approval.by, decision, args.model, args.version, approval.role);
    Ok(())
}

pub(crate) async fn promote(args: PromoteArgs) -> anyhow::Result<()> {
    let body = json!({
        "alias": args.alias, "traffic": args.traffic, "reason": args.reason, "override": args.override_gate,
    });
    let promoted: api::PromotionBody = Client::new(&args.connection)?
        .json_as(Method::POST, &format!("{}/promote", version_path(&args.model, &args.version)), &body)
        .await?;
    if args.json {
        render::json(&promoted);
        return Ok(());
    }
    let previous = match promoted.previous_version {
        None => "none".into(),
        Some(v) => format!("version {v}"),
    };
    let how = if promoted.overridden { "OVERRIDE of a gate refusal" } else { "gate allowed" };
    outln!(
        "{}@{} -> version {} ({how}, decision {}); previous: {previous}",
        args.model,
        args.alias,
        promoted.version.cell(),
        promoted.decision.decision_id
    );
    for reason in &promoted.decision.deny {
        outln!("  overridden: {reason}");
    }
    for reason in &promoted.decision.warn {
        outln!("  warning: {reason}");
    }
    Ok(())
}

/// Exit code of `gate check`: 0 allow, 1 deny (errors are 2, set by the caller).
pub(crate) async fn gate(command: GateCommand) -> anyhow::Result<u8> {
    let GateCommand::Check { model, version, alias, format, connection } = command;
    let decision: api::GateDecisionBody = Client::new(&connection)?
        .json_as(Method::POST, &format!("{}/gate", version_path(&model, &version)), &json!({ "alias": alias }))
        .await?;
    let allow = decision.allow;
    match format {
        GateFormat::Json => render::json(&decision),
        GateFormat::Text => {
            outln!(
                "{}: {model} version {} -> {alias} (decision {}, policy bundle {})",
                if allow { "ALLOW" } else { "DENY" },
                decision.version,
                decision.decision_id,
                decision.bundle_number
            );
            for reason in &decision.deny {
                outln!("  deny: {reason}");
            }
            for reason in &decision.warn {
                outln!("  warn: {reason}");
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

/// JUnit XML: one failing test case per refusal reason, or one passing case when the gate allows.
pub(crate) fn junit(decision: &api::GateDecisionBody) -> String {
    let (deny, warn) = (&decision.deny, &decision.warn);
    let subject = format!("{} version {} -> {}", decision.model, decision.version, decision.alias);
    let cases = deny.len().max(1);
    let timestamp = warden_core::Timestamp::from_micros(decision.at).to_string();
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
    for (key, value) in [
        ("decision_id", decision.decision_id.clone()),
        ("bundle_number", decision.bundle_number.to_string()),
        ("bundle_digest", decision.bundle_digest.clone()),
        ("input_sha256", decision.input_sha256.clone()),
    ] {
        xml.push_str(&format!("      <property name=\"{key}\" value=\"{}\"/>\n", xml_escape(&value)));
    }
    xml.push_str("    </properties>\n");
    if deny.is_empty() {
        xml.push_str(&format!(
            "    <testcase classname=\"warden.gate\" name=\"{}\" time=\"0\"/>\n",
            xml_escape(&format!("promotion allowed: {subject}"))
        ));
    }
    for reason in deny {
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
pub(crate) fn sarif(decision: &api::GateDecisionBody) -> Value {
    let location = format!("models/{}/versions/{}", decision.model, decision.version);
    let result = |rule: &str, level: &str, text: &str| {
        json!({
            "ruleId": rule,
            "level": level,
            "message": { "text": text },
            "locations": [{ "logicalLocations": [{ "fullyQualifiedName": location, "kind": "module" }] }],
        })
    };
    let mut results: Vec<Value> = decision.deny.iter().map(|r| result("warden.gate.deny", "error", r)).collect();
    results.extend(decision.warn.iter().map(|r| result("warden.gate.warn", "warning", r)));
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
                "decision_id": decision.decision_id, "allow": decision.allow, "alias": decision.alias,
                "bundle_number": decision.bundle_number, "bundle_digest": decision.bundle_digest,
                "input_sha256": decision.input_sha256,
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
            let bundle: api::PolicyBundleInfoBody =
                Client::new(&connection)?.json_as(Method::PUT, "/v1/policies", &json!({ "files": files })).await?;
            outln!("policy bundle {} in force (digest {})", bundle.number, bundle.digest);
            Ok(0)
        }
        PolicyCommand::Show { output, connection, json } => {
            let bundle: api::PolicyBundleInfoBody = Client::new(&connection)?.get_as("/v1/policies").await?;
            if json {
                render::json(&bundle);
            } else if let Some(dir) = output {
                for (path, text) in &bundle.files {
                    let target = dir.join(path);
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&target, text)?;
                }
                outln!("policy bundle {} written to {}", bundle.number, dir.display());
            } else {
                fields(&[
                    ("bundle", bundle.number.cell()),
                    ("digest", bundle.digest.cell()),
                    ("put in force", format!("{} by {}", micros_time(bundle.created_at), bundle.created_by)),
                ]);
                let rows: Vec<Vec<String>> =
                    bundle.files.iter().map(|(p, t)| vec![p.clone(), t.len().to_string()]).collect();
                table(&["FILE", "BYTES"], &rows);
            }
            Ok(0)
        }
        PolicyCommand::History { connection } => {
            let bundles: Vec<api::PolicyBundleSummary> =
                Client::new(&connection)?.get_as("/v1/policies/history").await?;
            let rows: Vec<Vec<String>> = bundles
                .iter()
                .map(|b| vec![b.number.cell(), micros_time(b.created_at), b.created_by.cell(), b.digest.cell()])
                .collect();
            table(&["BUNDLE", "PUT IN FORCE", "BY", "DIGEST"], &rows);
            Ok(0)
        }
    }
}
