//! Each command: build the request, call the API (or run locally), render.

use anyhow::Context;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Map, Value, json};
use warden_core::words::counted;

use crate::cli::*;
use crate::client::{Client, encode};
use crate::render::{self, Cell, cell, fields, table};
use warden_api_types as api;

/// Runs a command; the exit code on success (0, or 1 for a denying gate check, a failing policy test, or a
/// `drift`/`metrics` verdict that reaches `--fail-on`).
pub(crate) async fn run(cli: Cli) -> anyhow::Result<u8> {
    let done = match cli.command {
        Command::Gate(command) => return crate::governance::gate(command).await,
        Command::Audit(command) => return crate::audit::audit(command).await,
        Command::Evidence(command) => return crate::audit::evidence(command).await,
        Command::Docs(command) => return crate::audit::docs(command).await,
        Command::Export(args) => crate::audit::export(args).await,
        Command::Traceability(args) => return crate::audit::traceability(args).await,
        Command::Findings(command) => crate::findings::findings(command).await,
        Command::Attest(command) => crate::findings::attest(command).await,
        Command::Clocks(command) => clocks(command).await,
        Command::Artifact(command) => artifact(command).await,
        Command::Policy(command) => return crate::governance::policy(command).await,
        Command::Serve(args) => crate::serve::serve(args).await,
        Command::Model(command) => model(command).await,
        Command::Alias(command) => alias(command).await,
        Command::Token(command) => token(command).await,
        Command::Import(ImportCommand::Mlflow(args)) => crate::mlflow::import(args).await,
        Command::Login(args) => crate::login::login(args).await,
        Command::Logout(connection) => crate::login::logout(&connection),
        Command::Whoami(connection) => crate::login::whoami(&connection).await,
        Command::Profile(args) => profile(args).await,
        Command::Drift(args) => return crate::reports::drift(args).await,
        Command::Score(args) => crate::bulk::score(args).await,
        Command::Outcomes(args) => crate::bulk::outcomes(args).await,
        Command::Metrics(args) => return crate::reports::metrics(args).await,
        Command::Validate(args) => crate::governance::validate(args).await,
        Command::Approve(args) => crate::governance::approve(args).await,
        Command::Promote(args) => crate::governance::promote(args).await,
        Command::Monitor(command) => monitor(command).await,
        Command::Alerts(args) => alerts(args).await,
        Command::Incidents(args) => incidents(args).await,
        Command::Inventory(args) => crate::inventory::inventory(args).await,
        Command::Retrain(args) => retrain(args).await,
        Command::Challenger(args) => challenger(args).await,
        Command::Train(args) => train_local(args).await,
        Command::Kpis(args) => kpis(args).await,
        Command::Resolve(args) => {
            let path = format!("/v1/incidents/{}/resolve", args.id);
            let incident: api::IncidentBody =
                Client::new(&args.connection)?.json_as(Method::POST, &path, &json!({"comment": args.comment})).await?;
            outln!(
                "incident {} resolved by {}: {}",
                incident.id.cell(),
                incident.resolved_by.as_deref().unwrap_or("-"),
                incident.resolution.as_deref().unwrap_or("-")
            );
            Ok(())
        }
        Command::Review(args) => review(args).await,
        Command::Erase(args) => {
            let body = json!({"subject_key": args.subject_key, "reason": args.reason});
            let erased: api::ErasureBody =
                Client::new(&args.connection)?.json_as(Method::POST, "/v1/subjects/erase", &body).await?;
            if args.json {
                render::json(&erased);
            } else {
                for e in &erased.erased {
                    outln!("{}: erased the data of {} decisions (sha256 {})", e.model, e.rows, e.sha256);
                }
            }
            Ok(())
        }
        Command::Ack(args) => {
            let path = format!("/v1/alerts/{}/acknowledge", args.id);
            let alert: api::AlertBody =
                Client::new(&args.connection)?.json_as(Method::POST, &path, &json!({"comment": args.comment})).await?;
            outln!("alert {} acknowledged by {}", alert.id.cell(), alert.acknowledged_by.cell());
            Ok(())
        }
    };
    done.map(|()| 0)
}

/// `warden clocks`: an incident's regulatory clocks.
async fn clocks(command: ClocksCommand) -> anyhow::Result<()> {
    let (state, json): (api::IncidentClocksBody, bool) = match command {
        ClocksCommand::DoraReport { id, kind, connection, json } => {
            let path = format!("/v1/incidents/{id}/dora-report?kind={}", encode(&kind));
            let report: api::DoraReportBody = Client::new(&connection)?.get_as(&path).await?;
            print_dora_report(&report, json);
            return Ok(());
        }
        ClocksCommand::Show { id, connection, json } => {
            (Client::new(&connection)?.get_as(&format!("/v1/incidents/{id}/clocks")).await?, json)
        }
        ClocksCommand::Classify {
            id,
            framework,
            classified_at,
            aware_at,
            ground,
            severity,
            note,
            connection,
            json,
        } => {
            let body = json!({"framework": framework, "classified_at": classified_at, "aware_at": aware_at,
                              "ground": ground, "severity": severity, "note": note});
            let path = format!("/v1/incidents/{id}/classify");
            (Client::new(&connection)?.json_as(Method::POST, &path, &body).await?, json)
        }
        ClocksCommand::Report { id, framework, kind, reference, submitted_at, content_sha256, connection, json } => {
            let body = json!({"framework": framework, "kind": kind, "reference": reference,
                              "submitted_at": submitted_at, "content_sha256": content_sha256});
            let path = format!("/v1/incidents/{id}/reports");
            (Client::new(&connection)?.json_as(Method::POST, &path, &body).await?, json)
        }
    };
    if json {
        render::json(&state);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = state
        .owed
        .iter()
        .map(|o| {
            let left = match (o.stage, o.seconds_left) {
                (api::ReportStage::Submitted | api::ReportStage::SubmittedLate, _) => "-".to_owned(),
                (_, left) if left < 0 => format!("{} h over", -left / 3600),
                (_, left) => format!("{} h {} min", left / 3600, left % 3600 / 60),
            };
            vec![
                o.framework.to_string(),
                o.kind.to_string(),
                o.due_at.cell(),
                o.stage.to_string(),
                left,
                o.submitted_at.cell(),
            ]
        })
        .collect();
    if rows.is_empty() {
        outln!("incident {}: not classified under a framework with a clock", state.incident_id);
    } else {
        table(&["framework", "report", "due", "stage", "left", "submitted"], &rows);
    }
    Ok(())
}

/// `warden review`: records a review, or shows the decision with its reviews.
async fn review(args: ReviewArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.connection)?;
    let action = match (args.confirm, &args.override_with, args.reverse) {
        (true, _, _) => Some("confirm"),
        (_, Some(_), _) => Some("override"),
        (_, _, true) => Some("reverse"),
        _ => None,
    };
    if let (Some(action), Some(reason)) = (action, &args.reason) {
        let body = json!({"model": args.model, "action": action, "decision": args.override_with,
                          "reason_code": reason, "note": args.note});
        let path = format!("/v1/decisions/{}/review", encode(&args.request_id));
        let review: api::DecisionReviewBody = client.json_as(Method::POST, &path, &body).await?;
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&review)?);
        } else {
            outln!(
                "decision {} of {} v{}: {} by {} ({}): {} -> {}",
                review.request_id.cell(),
                review.model.cell(),
                review.version,
                review.action,
                review.reviewer.cell(),
                review.reason_code.cell(),
                review.decision_before.cell(),
                review.decision.cell()
            );
        }
        return Ok(());
    }
    let path = format!("/v1/models/{}/decisions?request_id={}", encode(&args.model), encode(&args.request_id));
    let decisions: Vec<api::DecisionBody> = client.get_as(&path).await?;
    if decisions.is_empty() {
        anyhow::bail!("model '{}' has no decision with request id '{}'", args.model, args.request_id);
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&decisions)?);
        return Ok(());
    }
    for d in &decisions {
        let stands = d.reviews.last().map_or(&d.decision, |r| &r.decision);
        fields(&[
            ("request id", d.request_id.cell()),
            ("version", format!("{} ({})", d.version, d.route)),
            ("decided", d.at.cell()),
            ("score", d.score.map_or("-".into(), |s| format!("{s:.6}"))),
            ("model's decision", d.decision.cell()),
            ("stands as", stands.cell()),
        ]);
        let rows: Vec<Vec<String>> = d
            .reviews
            .iter()
            .map(|r| {
                vec![
                    r.at.cell(),
                    r.reviewer.cell(),
                    r.action.to_string(),
                    format!("{} -> {}", r.decision_before.cell(), r.decision.cell()),
                    r.reason_code.cell(),
                    r.note.cell(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            table(&["reviewed", "reviewer", "action", "decision", "reason", "note"], &rows);
        }
    }
    Ok(())
}

fn print_suspension(state: &api::SuspensionBody, json: bool) {
    if json {
        render::json(state);
        return;
    }
    let by = format!("{} at {} ({})", state.by.cell(), state.at.cell(), state.reason.cell());
    if state.suspended {
        let fallback = match (&state.fallback, state.fallback_version) {
            (Some(f), Some(v)) => format!("{f} {v}"),
            (Some(f), None) => f.to_string(),
            (None, _) => "-".into(),
        };
        outln!("{}: suspended by {by}; its fallback answers: {fallback}", state.model);
    } else if state.by.is_some() {
        outln!("{}: in service (resumed by {by})", state.model);
    } else {
        outln!("{}: in service (never suspended)", state.model);
    }
}

fn print_dora_report(report: &api::DoraReportBody, json: bool) {
    if json {
        render::json(report);
        return;
    }
    outln!(
        "DORA {} report, incident {}: decisions from {} to {}; {} fields to complete",
        report.kind,
        report.incident_id,
        report.period_from,
        report.period_to,
        report.to_complete.len()
    );
    for section in &report.sections {
        outln!();
        outln!("{}", section.title);
        for field in &section.fields {
            let value = if field.value.is_null() { "(to complete)".to_owned() } else { in_words(&field.value, 0) };
            outln!("  {}: {value}  [{}]", field.label, field.source);
        }
    }
}

/// A field's value as a person reads it: lists joined with "; ", objects as "key value" pairs; deeper than
/// three levels, JSON (the report's values are never that deep).
fn in_words(value: &serde_json::Value, depth: usize) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "none".into(),
        Value::String(text) => text.clone(),
        Value::Array(items) if depth < 3 => items.iter().map(|v| in_words(v, depth + 1)).collect::<Vec<_>>().join("; "),
        Value::Object(fields) if depth < 3 => fields
            .iter()
            .map(|(k, v)| format!("{} {}", k.replace('_', " "), in_words(v, depth + 1)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn print_data_policy(state: &api::DataPolicyBody, json: bool) {
    if json {
        render::json(state);
        return;
    }
    let days = |d: Option<u32>| d.map_or_else(|| "kept".to_owned(), |d| format!("{d} days"));
    let r = &state.retention;
    let personal: Vec<String> = state.personal.fields.iter().map(|(f, p)| format!("{f} ({p})")).collect();
    let declared = match &state.declared_by {
        Some(by) => format!("by {by} at {} ({})", state.declared_at.cell(), state.reason.cell()),
        None => "never: everything is kept, in clear".into(),
    };
    fields(&[
        ("model", state.model.cell()),
        ("declared", declared),
        ("decisions", format!("{} (the policy's floor: {} days)", days(r.decisions_days), state.min_decision_days)),
        ("features", days(r.features_days)),
        ("outcomes", days(r.outcomes_days)),
        ("personal fields", if personal.is_empty() { "none".into() } else { personal.join(", ") }),
        ("subject key", state.personal.subject_key.cell()),
    ]);
    if !state.purges.is_empty() {
        let rows: Vec<Vec<String>> = state
            .purges
            .iter()
            .map(|p| {
                vec![p.at.cell(), p.kind.to_string(), p.before.cell(), p.rows.cell(), p.actor.cell(), p.sha256.cell()]
            })
            .collect();
        outln!();
        render::table(&["at", "kind", "before", "rows", "by", "sha256"], &rows);
    }
}

fn print_model(model: &api::ModelBody) {
    fields(&[
        ("name", model.name.cell()),
        ("description", model.description.cell()),
        ("owner", model.owner.cell()),
        ("risk tier", model.risk_tier.cell()),
        ("use case", model.use_case.cell()),
        ("business line", model.business_line.cell()),
        ("tags", model.tags.cell()),
        ("latest version", model.latest_version.cell()),
        ("created", format!("{} by {}", model.created_at.cell(), model.created_by.cell())),
        ("retirement", retirement_text(model.retirement.as_ref())),
    ]);
}

/// A model's retirement in words ("-" while in service).
fn retirement_text(r: Option<&api::RetirementBody>) -> String {
    match r {
        None => "-".into(),
        Some(r) => match (&r.retired_by, &r.retired_at) {
            (Some(by), Some(at)) => {
                format!("retired {} by {by} ({}; asked by {})", at.cell(), r.reason, r.requested_by)
            }
            _ => format!(
                "asked {} by {} ({}); a second person confirms it",
                r.requested_at.cell(),
                r.requested_by,
                r.reason
            ),
        },
    }
}

async fn model(command: ModelCommand) -> anyhow::Result<()> {
    match command {
        ModelCommand::Create {
            name,
            owner,
            risk_tier,
            description,
            use_case,
            business_line,
            tags,
            connection,
            json,
        } => {
            let client = Client::new(&connection)?;
            let body = json!({"name": name, "owner": owner, "risk_tier": risk_tier, "description": description,
                              "use_case": use_case, "business_line": business_line, "tags": tags});
            let model: api::ModelBody = client.json_as(Method::POST, "/v1/models", &body).await?;
            if json {
                render::json(&model);
            } else {
                outln!("created model {}", model.name.cell());
            }
        }
        ModelCommand::Suspend { name, reason, fallback, fallback_version, connection, json } => {
            let client = Client::new(&connection)?;
            let state: api::SuspensionBody = match reason {
                Some(reason) => {
                    let body = json!({"reason": reason, "fallback": fallback, "fallback_version": fallback_version});
                    client.json_as(Method::POST, &format!("/v1/models/{}/suspend", encode(&name)), &body).await?
                }
                None => client.get_as(&format!("/v1/models/{}/suspension", encode(&name))).await?,
            };
            print_suspension(&state, json);
        }
        ModelCommand::DataPolicy { name, file, reason, connection, json } => {
            let client = Client::new(&connection)?;
            let path = format!("/v1/models/{}/data-policy", encode(&name));
            let state: api::DataPolicyBody = match (file, reason) {
                (Some(file), Some(reason)) => {
                    let text = std::fs::read_to_string(&file)
                        .with_context(|| format!("cannot read the data policy {}", file.display()))?;
                    let mut body: serde_json::Value =
                        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
                    let Some(fields) = body.as_object_mut() else {
                        anyhow::bail!(
                            "{}: a data policy is a JSON object with `retention` and `personal`",
                            file.display()
                        );
                    };
                    fields.insert("reason".into(), json!(reason));
                    client.json_as(Method::PUT, &path, &body).await?
                }
                _ => client.get_as(&path).await?,
            };
            print_data_policy(&state, json);
        }
        ModelCommand::Resume { name, reason, connection, json } => {
            let path = format!("/v1/models/{}/resume", encode(&name));
            let state: api::SuspensionBody =
                Client::new(&connection)?.json_as(Method::POST, &path, &json!({ "reason": reason })).await?;
            print_suspension(&state, json);
        }
        ModelCommand::Retire { name, reason, connection, json } => {
            let path = format!("/v1/models/{}/retire", encode(&name));
            let model: api::ModelBody =
                Client::new(&connection)?.json_as(Method::POST, &path, &json!({ "reason": reason })).await?;
            if json {
                render::json(&model);
            } else {
                outln!("{}: {}", model.name, retirement_text(model.retirement.as_ref()));
            }
        }
        ModelCommand::Fields { name, set, unset, connection, json } => {
            crate::inventory::model_fields(&name, &set, unset, &connection, json).await?
        }
        ModelCommand::Tier { name, override_tier, follow_rules, reason, connection, json } => {
            crate::inventory::model_tier(&name, override_tier.as_deref(), follow_rules, reason, &connection, json)
                .await?
        }
        ModelCommand::Register(args) => register(args).await?,
        ModelCommand::List { connection, json } => {
            let models: Vec<api::ModelBody> = Client::new(&connection)?.get_as("/v1/models").await?;
            if json {
                render::json(&models);
            } else {
                let rows: Vec<Vec<String>> = models
                    .iter()
                    .map(|m| {
                        vec![
                            m.name.cell(),
                            m.risk_tier.cell(),
                            m.owner.cell(),
                            m.latest_version.cell(),
                            m.use_case.cell(),
                            m.created_at.cell(),
                            match &m.retirement {
                                None => "in service".into(),
                                Some(r) if r.retired_at.is_some() => "retired".into(),
                                Some(_) => "retirement asked".into(),
                            },
                        ]
                    })
                    .collect();
                table(&["NAME", "RISK", "OWNER", "LATEST", "USE CASE", "CREATED", "STATE"], &rows);
            }
        }
        ModelCommand::Show { name, version: None, connection, json } => {
            let client = Client::new(&connection)?;
            let model: api::ModelBody = client.get_as(&format!("/v1/models/{}", encode(&name))).await?;
            let versions: Vec<api::VersionBody> =
                client.get_as(&format!("/v1/models/{}/versions", encode(&name))).await?;
            let aliases: Vec<api::AliasBody> = client.get_as(&format!("/v1/models/{}/aliases", encode(&name))).await?;
            if json {
                render::json(&json!({"model": model, "versions": versions, "aliases": aliases}));
                return Ok(());
            }
            print_model(&model);
            outln!();
            let rows: Vec<Vec<String>> = versions
                .iter()
                .map(|v| {
                    let names: Vec<String> =
                        aliases.iter().filter(|a| a.version == Some(v.version)).map(|a| a.alias.cell()).collect();
                    vec![
                        v.version.cell(),
                        v.format.cell(),
                        v.artifact.sha256.chars().take(12).collect(),
                        v.reference.rows.cell(),
                        v.lineage.code_ref.cell(),
                        names.join(","),
                        v.created_at.cell(),
                    ]
                })
                .collect();
            table(&["VERSION", "FORMAT", "ARTIFACT", "REF ROWS", "CODE", "ALIASES", "CREATED"], &rows);
        }
        ModelCommand::Show { name, version: Some(version), connection, json } => {
            let client = Client::new(&connection)?;
            let v: api::VersionBody =
                client.get_as(&format!("/v1/models/{}/versions/{}", encode(&name), encode(&version))).await?;
            if json {
                render::json(&v);
            } else {
                print_version(&v);
            }
        }
    }
    Ok(())
}

fn print_version(v: &api::VersionBody) {
    let lineage = &v.lineage;
    fields(&[
        ("model", v.model.cell()),
        ("version", v.version.cell()),
        ("format", v.format.cell()),
        ("artifact", format!("sha256:{} ({} bytes)", v.artifact.sha256.cell(), v.artifact.size.cell())),
        (
            "reference",
            format!(
                "sha256:{} ({}, {} rows)",
                v.reference.sha256.cell(),
                v.reference.format.cell(),
                v.reference.rows.cell()
            ),
        ),
        ("target", v.reference.target.cell()),
        ("protected", v.reference.protected.cell()),
        (
            "training data",
            match &lineage.training_data_sha256 {
                Some(sha) => format!("sha256:{sha} ({} rows)", lineage.training_data_rows.cell()),
                None => "-".into(),
            },
        ),
        ("code ref", lineage.code_ref.cell()),
        ("parent", lineage.parent_version.cell()),
        ("hyperparameters", render::details(&Value::Object(lineage.hyperparameters.clone()))),
        ("created", format!("{} by {}", v.created_at.cell(), v.created_by.cell())),
        (
            "input warnings",
            if v.input_warnings.is_empty() {
                "none".into()
            } else {
                v.input_warnings.iter().map(|w| w.message.cell()).collect::<Vec<_>>().join("; ")
            },
        ),
    ]);
    outln!();
    print_profile(v.reference.profile.as_ref().unwrap_or(&Value::Null));
}

fn print_profile(profile: &Value) {
    let rows: Vec<Vec<String>> = profile["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let summary = if c["type"] == "numeric" {
                format!(
                    "min {} mean {} max {} std {}",
                    cell(&c["min"]),
                    cell(&c["mean"]),
                    cell(&c["max"]),
                    cell(&c["std"])
                )
            } else {
                let frequencies = c["frequencies"].as_object().map(|f| f.len()).unwrap_or(0);
                format!("{frequencies} categories")
            };
            vec![cell(&c["name"]), cell(&c["role"]), cell(&c["type"]), cell(&c["count"]), cell(&c["missing"]), summary]
        })
        .collect();
    table(&["COLUMN", "ROLE", "TYPE", "COUNT", "MISSING", "SUMMARY"], &rows);
}

fn parse_param(text: &str) -> anyhow::Result<(String, Value)> {
    let (key, value) = text.split_once('=').with_context(|| format!("--param '{text}' is not KEY=VALUE"))?;
    if key.is_empty() {
        anyhow::bail!("--param '{text}' has an empty key");
    }
    Ok((key.to_owned(), json_or_text(value)))
}

/// A command-line value: JSON when it parses as JSON (`5000000`, `true`, `["a","b"]`, `"123"` for text that
/// looks like a number), else the text itself.
pub(crate) fn json_or_text(value: &str) -> Value {
    serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()))
}

async fn file_part(path: &std::path::Path) -> anyhow::Result<Part> {
    let file = tokio::fs::File::open(path).await.with_context(|| format!("cannot read {}", path.display()))?;
    let length = file.metadata().await.with_context(|| format!("cannot read {}", path.display()))?.len();
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    Ok(Part::stream_with_length(body, length).file_name(name))
}

async fn register(args: RegisterArgs) -> anyhow::Result<()> {
    let hyperparameters: Map<String, Value> =
        args.params.iter().map(|p| parse_param(p)).collect::<anyhow::Result<_>>()?;
    let schema: Option<Value> = match &args.schema {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?)
        }
        None => None,
    };
    let (training_data_sha256, training_data_rows) = match &args.training_data {
        Some(path) => {
            let path = path.clone();
            let (sha, rows) = tokio::task::spawn_blocking(move || warden_registry::dataset::fingerprint(&path))
                .await?
                .map_err(|e| anyhow::anyhow!("training data: {e}"))?;
            (Some(sha), Some(rows))
        }
        None => (None, None),
    };
    let encodings: Value = match &args.encodings {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?
        }
        None => json!({}),
    };
    let mut serving = Map::new();
    if let Some(threshold) = args.threshold {
        serving.insert("threshold".into(), json!(threshold));
    }
    if let Some(task) = &args.task {
        serving.insert("task".into(), json!(task));
    }
    if !args.classes.is_empty() {
        serving.insert("classes".into(), json!(args.classes));
    }
    if let Some(lgd) = args.lgd {
        serving.insert("lgd".into(), json!(lgd));
    }
    if let Some(column) = &args.exposure_column {
        serving.insert("exposure_column".into(), json!(column));
    }
    let metadata = json!({
        "format": args.format, "target": args.columns.target, "protected": args.columns.protected,
        "exclude": args.columns.exclude,
        "schema": schema, "training_data_sha256": training_data_sha256, "training_data_rows": training_data_rows,
        "code_ref": args.code_ref, "hyperparameters": hyperparameters, "parent_version": args.parent,
        "artifact_signature": args.signer.as_ref().map(|signer| json!({"signer": signer, "signature": args.signature})),
        "serving": serving, "encodings": encodings, "unknown_category": args.unknown_category,
    });
    // An external model's artifact is its descriptor, made here from the options that describe it.
    let artifact = match (&args.artifact, &args.score_column, args.format == "external") {
        (Some(path), None, false) => file_part(path).await?,
        (None, Some(score_column), true) => {
            let descriptor = warden_registry::external::ExternalModel {
                score_column: score_column.clone(),
                platform: args.platform.clone(),
                endpoint: args.endpoint.clone(),
                vendor: args.vendor.clone(),
            };
            Part::bytes(descriptor.to_bytes()).file_name("external-model.json")
        }
        (_, Some(_), false) => {
            anyhow::bail!("--score-column describes a model served outside Warden: use --format external")
        }
        (_, None, true) => anyhow::bail!("--format external needs --score-column (the data column holding its scores)"),
        (None, None, false) => anyhow::bail!("--artifact is needed for --format {}", args.format),
        (Some(_), Some(_), _) => unreachable!("clap refuses --artifact with --score-column"),
    };
    let form = Form::new()
        .part("metadata", Part::text(metadata.to_string()).mime_str("application/json")?)
        .part("artifact", artifact)
        .part("reference", file_part(&args.reference).await?);
    let client = Client::new(&args.connection)?;
    let version: api::VersionBody =
        client.multipart_as(&format!("/v1/models/{}/versions", encode(&args.name)), form).await?;
    if args.json {
        render::json(&version);
    } else {
        outln!(
            "registered {} version {} (artifact sha256:{}, {} reference rows)",
            version.model.cell(),
            version.version.cell(),
            version.artifact.sha256.cell(),
            version.reference.rows.cell()
        );
    }
    // On stderr, so `--json` output stays one document and the warnings are seen either way.
    for warning in &version.input_warnings {
        eprintln!("warning: {}", warning.message.cell());
    }
    Ok(())
}

fn alias_rows(assignments: &[api::AliasBody]) -> Vec<Vec<String>> {
    assignments
        .iter()
        .map(|a| {
            let version = match a.version {
                None => "(removed)".into(),
                Some(v) => v.cell(),
            };
            // An emergency override of the promotion gate is shown as such wherever an assignment is listed.
            let reason = match (a.overridden, &a.decision_id) {
                (true, Some(id)) => format!("OVERRIDE of gate decision {id}: {}", a.reason.cell()),
                (_, Some(id)) => format!("{} (gate decision {id})", a.reason.cell()),
                _ => a.reason.cell(),
            };
            vec![a.alias.cell(), version, a.assigned_at.cell(), a.assigned_by.cell(), reason]
        })
        .collect()
}

const ALIAS_HEADER: [&str; 5] = ["ALIAS", "VERSION", "ASSIGNED", "BY", "REASON"];

async fn alias(command: AliasCommand) -> anyhow::Result<()> {
    match command {
        AliasCommand::Set { model, alias, version, reason, traffic, connection, json } => {
            let path = format!("/v1/models/{}/aliases/{}", encode(&model), encode(&alias));
            let assigned: api::AliasBody = Client::new(&connection)?
                .json_as(Method::PUT, &path, &json!({"version": version, "reason": reason, "traffic": traffic}))
                .await?;
            if json {
                render::json(&assigned);
            } else {
                outln!("{model}@{alias} -> version {}", assigned.version.cell());
            }
        }
        AliasCommand::Unset { model, alias, reason, connection } => {
            Client::new(&connection)?
                .delete(&format!("/v1/models/{}/aliases/{}?reason={}", encode(&model), encode(&alias), encode(&reason)))
                .await?;
            outln!("removed alias {alias} of {model}");
        }
        AliasCommand::Get { model, alias, at, connection, json } => {
            let mut path = format!("/v1/models/{}/aliases/{}", encode(&model), encode(&alias));
            if let Some(at) = &at {
                path.push_str(&format!("?at={}", encode(at)));
            }
            let assigned: api::AliasBody = Client::new(&connection)?.get_as(&path).await?;
            if json {
                render::json(&assigned);
            } else {
                table(&ALIAS_HEADER, &alias_rows(&[assigned]));
            }
        }
        AliasCommand::History { model, alias, connection, json } => {
            let mut path = format!("/v1/models/{}/alias-history", encode(&model));
            if let Some(alias) = &alias {
                path.push_str(&format!("?alias={}", encode(alias)));
            }
            let history: Vec<api::AliasBody> = Client::new(&connection)?.get_as(&path).await?;
            if json {
                render::json(&history);
            } else {
                table(&ALIAS_HEADER, &alias_rows(&history));
            }
        }
    }
    Ok(())
}

async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name, role, expires_in, expires_at, subject, connection, json } => {
            let expires_at = match expires_in {
                Some(lifetime) => Some(
                    warden_core::Timestamp::from_datetime(time::OffsetDateTime::now_utc() + lifetime)
                        .ok_or_else(|| anyhow::anyhow!("expiry time: out of range"))?
                        .to_string(),
                ),
                None => expires_at,
            };
            let created: api::CreatedTokenBody = Client::new(&connection)?
                .json_as(
                    Method::POST,
                    "/v1/tokens",
                    &json!({"name": name, "role": role, "expires_at": expires_at, "subject": subject}),
                )
                .await?;
            if json {
                render::json(&created);
            } else {
                eprintln!("token '{name}' ({role}) created; its secret is shown only now:");
                outln!("{}", created.secret.cell());
            }
        }
        TokenCommand::Revoke { name, connection } => {
            Client::new(&connection)?.delete(&format!("/v1/tokens/{}", encode(&name))).await?;
            outln!("revoked token {name}");
        }
        TokenCommand::List { connection, json } => {
            let tokens: Vec<api::TokenBody> = Client::new(&connection)?.get_as("/v1/tokens").await?;
            if json {
                render::json(&tokens);
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.cell(),
                            t.role.cell(),
                            t.created_at.cell(),
                            t.created_by.cell(),
                            t.expires_at.cell(),
                            t.revoked_at.cell(),
                            t.subject.cell(),
                        ]
                    })
                    .collect();
                table(&["NAME", "ROLE", "CREATED", "BY", "EXPIRES", "REVOKED", "FOR"], &rows);
            }
        }
    }
    Ok(())
}

async fn profile(args: ProfileArgs) -> anyhow::Result<()> {
    let plan = warden_registry::dataset::ColumnPlan {
        target: args.columns.target,
        protected: args.columns.protected,
        exclude: args.columns.exclude,
        score: None,
        schema: None,
    };
    let file = args.file.clone();
    let started = std::time::Instant::now();
    let profiled = tokio::task::spawn_blocking(move || warden_registry::dataset::profile_file(&file, &plan))
        .await?
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    if args.timing {
        eprintln!(
            "profiled {} rows x {} columns in {:.3} s; peak memory {}",
            profiled.profile.rows,
            profiled.profile.columns.len(),
            started.elapsed().as_secs_f64(),
            crate::render::peak_memory()
        );
    }
    let value = serde_json::to_value(&profiled.profile)?;
    if args.json {
        render::json(&value);
    } else {
        outln!("{} rows, {}", profiled.profile.rows, profiled.format.as_str());
        print_profile(&value);
    }
    Ok(())
}

async fn monitor(command: MonitorCommand) -> anyhow::Result<()> {
    match command {
        MonitorCommand::List { model, connection, json } => {
            let monitors: Vec<api::MonitorBody> =
                Client::new(&connection)?.get_as(&format!("/v1/models/{}/monitors", encode(&model))).await?;
            if json {
                render::json(&monitors);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = monitors
                .iter()
                .map(|m| {
                    let c = &m.config;
                    vec![
                        m.name.cell(),
                        m.kind.cell(),
                        if m.enabled { "yes".into() } else { "no".into() },
                        match c.window_decisions {
                            Some(n) => format!("last {n}"),
                            None => format!("{} s", c.window_seconds.cell()),
                        },
                        c.min_decisions.cell(),
                        c.statistic.as_deref().unwrap_or("default").to_owned(),
                        match &c.learned {
                            Some(learned) => format!("learned, k = {}", learned.k),
                            None => format!("{} / {}", c.warn.cell(), c.alert.cell()),
                        },
                        c.action.cell(),
                        c.features.as_ref().map_or("all".into(), Cell::cell),
                    ]
                })
                .collect();
            table(
                &[
                    "MONITOR",
                    "KIND",
                    "ENABLED",
                    "WINDOW",
                    "MIN DECISIONS",
                    "STATISTIC",
                    "WARN / ALERT",
                    "ACTION",
                    "FEATURES",
                ],
                &rows,
            );
        }
        MonitorCommand::Set {
            model,
            monitor,
            kind,
            window_seconds,
            window_decisions,
            min_decisions,
            statistic,
            warn,
            alert,
            learned,
            chunk_size,
            attribute,
            target,
            bad_value,
            consecutive,
            resolve_after,
            segment_by,
            max_segments,
            min_segment_decisions,
            features,
            action,
            enable,
            connection,
        } => {
            let mut change = Map::new();
            let mut put = |key: &str, value: Value| {
                if !value.is_null() {
                    change.insert(key.into(), value);
                }
            };
            put("kind", json!(kind));
            put("window_seconds", json!(window_seconds));
            put("window_decisions", json!(window_decisions));
            put("min_decisions", json!(min_decisions));
            put("statistic", json!(statistic));
            put("warn", json!(warn));
            put("alert", json!(alert));
            put("learned", learned.map_or(Value::Null, |k| json!({"k": k, "chunk_size": chunk_size})));
            put("attribute", json!(attribute));
            put("target", json!(target));
            put("bad_value", json!(bad_value));
            put("consecutive", json!(consecutive));
            put("resolve_after", json!(resolve_after));
            put("segment_by", json!(segment_by));
            put("max_segments", json!(max_segments));
            put("min_segment_decisions", json!(min_segment_decisions));
            put("action", json!(action));
            if !features.is_empty() {
                put("features", json!(features));
            }
            if enable {
                put("enabled", json!(true));
            }
            let path = format!("/v1/models/{}/monitors/{}", encode(&model), encode(&monitor));
            let set: api::MonitorBody =
                Client::new(&connection)?.json_as(Method::PUT, &path, &Value::Object(change)).await?;
            outln!("monitor {} of {model}: {}", set.name.cell(), render::details(&serde_json::to_value(&set.config)?));
        }
        MonitorCommand::Disable { model, monitor, connection } => {
            let path = format!("/v1/models/{}/monitors/{}", encode(&model), encode(&monitor));
            Client::new(&connection)?.json(Method::PUT, &path, &json!({"enabled": false})).await?;
            outln!("monitor {monitor} of {model} disabled (its history is kept)");
        }
        MonitorCommand::History { model, monitor, limit, connection, json, csv } => {
            let mut path = format!("/v1/models/{}/monitors/history?limit={limit}", encode(&model));
            if let Some(m) = &monitor {
                path.push_str(&format!("&monitor={}", encode(m)));
            }
            let history: Vec<api::MonitorEvaluationBody> = Client::new(&connection)?.get_as(&path).await?;
            if json {
                render::json(&history);
                return Ok(());
            }
            if csv {
                return monitor_history_csv(&history);
            }
            let rows: Vec<Vec<String>> = history
                .iter()
                .map(|e| {
                    let at = crate::render::micros_time(e.at);
                    // The key whose status is worst (the evaluation's status comes from it).
                    let worst = e.details["features"]
                        .as_object()
                        .and_then(|f| {
                            f.iter()
                                .filter(|(_, v)| v["status"] == e.status.as_str())
                                .find_map(|(name, v)| v["value"].as_f64().map(|x| (name, x)))
                        })
                        .map_or("-".into(), |(name, v)| format!("{name} {v:.4}"));
                    vec![at, e.monitor.cell(), e.version.cell(), e.decisions.cell(), e.status.cell(), worst]
                })
                .collect();
            table(&["AT", "MONITOR", "VERSION", "DECISIONS", "STATUS", "WORST"], &rows);
        }
    }
    Ok(())
}

/// Monitor history as CSV on standard output: a row per evaluation and key.
fn monitor_history_csv(history: &[api::MonitorEvaluationBody]) -> anyhow::Result<()> {
    let mut out = csv::Writer::from_writer(std::io::stdout().lock());
    out.write_record([
        "at",
        "at_micros",
        "monitor",
        "version",
        "window_start_micros",
        "decisions",
        "status",
        "value",
        "key",
        "key_value",
        "key_status",
        "warn",
        "alert",
    ])?;
    // Numbers at full precision (charts and exports, not a terminal).
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        other => cell(other),
    };
    for e in history {
        let at = crate::render::micros_time(e.at);
        let head = [
            at,
            e.at.to_string(),
            e.monitor.clone(),
            e.version.to_string(),
            e.window_start.to_string(),
            e.decisions.to_string(),
        ];
        for (key, result) in e.details["features"].as_object().into_iter().flatten() {
            let mut record: Vec<String> = head.to_vec();
            record.extend([e.status.clone(), text(&json!(e.value)), key.clone()]);
            record.extend([text(&result["value"]), text(&result["status"])]);
            record.extend([text(&result["bands"]["warn"]), text(&result["bands"]["alert"])]);
            out.write_record(&record)?;
        }
    }
    out.flush()?;
    Ok(())
}

async fn alerts(args: AlertsArgs) -> anyhow::Result<()> {
    if let Some(id) = args.id {
        let alert: api::AlertWithEvents = Client::new(&args.connection)?.get_as(&format!("/v1/alerts/{id}")).await?;
        if args.json {
            render::json(&alert);
            return Ok(());
        }
        let a = &alert.alert;
        fields(&[
            ("alert", format!("{} ({}, {})", a.id, a.state.cell(), a.severity.cell())),
            ("model", format!("{} version {}", a.model, a.version)),
            ("monitor", format!("{} on '{}'", a.monitor, a.feature)),
            ("value", a.value.map_or("-".into(), |v| format!("{v:.4}"))),
            ("incident", a.incident_id.map_or("-".into(), |i| i.to_string())),
        ]);
        let rows: Vec<Vec<String>> = alert
            .events
            .iter()
            .map(|e| vec![crate::render::micros_time(e.at), e.kind.cell(), e.actor.cell(), e.summary.cell()])
            .collect();
        table(&["AT", "EVENT", "BY", "WHAT"], &rows);
        return Ok(());
    }
    let mut query = Vec::new();
    if let Some(state) = &args.state {
        query.push(format!("state={}", encode(state)));
    }
    if let Some(model) = &args.model {
        query.push(format!("model={}", encode(model)));
    }
    let alerts: Vec<api::AlertBody> =
        Client::new(&args.connection)?.get_as(&format!("/v1/alerts?{}", query.join("&"))).await?;
    if args.json {
        render::json(&alerts);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|a| {
            let at = crate::render::micros_time(a.opened_at);
            let value = a.value.map_or("-".into(), |v| format!("{v:.4}"));
            vec![
                a.id.cell(),
                a.state.cell(),
                a.severity.cell(),
                format!("{} v{}", a.model.cell(), a.version.cell()),
                a.monitor.cell(),
                a.feature.cell(),
                value,
                at,
            ]
        })
        .collect();
    table(&["ID", "STATE", "SEVERITY", "MODEL", "MONITOR", "FEATURE", "VALUE", "OPENED"], &rows);
    Ok(())
}

async fn retrain(args: crate::cli::RetrainArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.connection)?;
    let path = format!("/v1/models/{}/retrain", encode(&args.model));
    if let Some(every_hours) = args.every_hours {
        let body = json!({"trainer": args.trainer, "every_hours": every_hours});
        let schedule: Option<api::ScheduleInfo> =
            client.json_as(Method::PUT, &format!("{path}/schedule"), &body).await?;
        match schedule {
            None => outln!("{}: no scheduled retraining", args.model),
            Some(schedule) => outln!(
                "{}: {} every {} h, first at the next round",
                args.model,
                schedule.trainer.cell(),
                schedule.every_hours.cell()
            ),
        }
        return Ok(());
    }
    if args.list {
        let jobs: Vec<api::RetrainJobBody> = client.get_as(&path).await?;
        if args.json {
            render::json(&jobs);
            return Ok(());
        }
        let rows: Vec<Vec<String>> = jobs
            .iter()
            .map(|j| {
                vec![
                    j.id.cell(),
                    crate::render::micros_time(j.started_at),
                    j.trainer.cell(),
                    j.status.cell(),
                    j.parent_version.cell(),
                    j.version.cell(),
                    j.requested_by.cell(),
                ]
            })
            .collect();
        table(&["JOB", "STARTED", "TRAINER", "STATUS", "PARENT", "VERSION", "BY"], &rows);
        return Ok(());
    }
    let mut body =
        json!({"trainer": args.trainer, "holdout": args.holdout, "reference_bad_value": args.reference_bad_value});
    if args.trainer == "builtin-gbt" {
        body["n_estimators"] = json!(args.trees);
        body["max_depth"] = json!(args.depth);
    } else if args.trainer == "builtin-lr" {
        body["c"] = json!(args.c);
    }
    let job: api::RetrainJobBody = client.json_as(Method::POST, &path, &body).await?;
    if args.json {
        render::json(&job);
    } else {
        for line in &job.log {
            outln!("{line}");
        }
        outln!("job {}: {}", job.id.cell(), job.status.cell());
    }
    if job.status == api::JobStatus::Failed {
        if let Some(log) = job.external.as_ref().map(|e| e.log.as_str()).filter(|l| !l.is_empty()) {
            eprintln!("{log}");
        }
        anyhow::bail!("retraining failed: {}", job.error.cell());
    }
    Ok(())
}

async fn train_local(args: crate::cli::TrainArgs) -> anyhow::Result<()> {
    use warden_oversight::retraining::{self, Trainer};
    let mut trainer = Trainer::parse(&args.trainer)?;
    match &mut trainer {
        Trainer::BuiltinLogistic { c } => *c = args.c,
        Trainer::BuiltinGbt { options } => {
            options.n_estimators = args.trees;
            options.max_depth = args.depth;
        }
        Trainer::External { name } => anyhow::bail!("external:{name} runs only in a server's retraining job"),
    }
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<Value> {
        let started = std::time::Instant::now();
        let (features, labels) = retraining::read_training_csv(&args.data, &args.target)?;
        let load_seconds = started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        let candidate = retraining::train(&trainer, &features, &labels)?;
        let fit_seconds = started.elapsed().as_secs_f64();
        std::fs::write(&args.out, &candidate.artifact)
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        let test_auc = match &args.test {
            Some(path) => {
                let (test, test_labels) = retraining::read_training_csv(path, &args.target)?;
                retraining::held_out_auc(&candidate, &test, &test_labels)?
            }
            None => None,
        };
        Ok(json!({
            "trainer": args.trainer, "format": candidate.format, "rows": labels.len(), "features": features.len(),
            "load_seconds": load_seconds, "fit_seconds": fit_seconds, "test_auc": test_auc,
            "out": args.out.display().to_string(), "summary": candidate.summary,
            "encodings": candidate.encodings,
        }))
    })
    .await??;
    if args.json {
        render::json(&report);
    } else {
        outln!("{}", cell(&report["summary"]));
        outln!(
            "{} rows × {} features: read in {:.2} s, fitted in {:.2} s; model written to {} ({})",
            cell(&report["rows"]),
            cell(&report["features"]),
            report["load_seconds"].as_f64().unwrap_or(0.0),
            report["fit_seconds"].as_f64().unwrap_or(0.0),
            cell(&report["out"]),
            cell(&report["format"])
        );
        if let Some(auc) = report["test_auc"].as_f64() {
            outln!("held-out AUC {auc:.4}");
        }
    }
    Ok(())
}

async fn challenger(args: crate::cli::ChallengerArgs) -> anyhow::Result<()> {
    let path = format!("/v1/models/{}/challenger-report", encode(&args.model));
    let r: api::ChallengerReportBody = Client::new(&args.connection)?.get_as(&path).await?;
    if args.json {
        render::json(&r);
        return Ok(());
    }
    let number = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.4}"));
    fields(&[
        ("requests scored by both", r.requests.cell()),
        ("serving versions / shadow versions", format!("{} / {}", json!(r.served_versions), json!(r.shadow_versions))),
        ("same decision", number(r.agreement)),
        ("mean score difference", number(r.mean_score_difference)),
        ("with outcomes", r.labelled.cell()),
        ("AUC serving / shadow", format!("{} / {}", number(r.served_auc), number(r.shadow_auc))),
        ("Brier serving / shadow", format!("{} / {}", number(r.served_brier), number(r.shadow_brier))),
    ]);
    Ok(())
}

async fn kpis(args: crate::cli::KpiArgs) -> anyhow::Result<()> {
    let k: api::KpisBody = Client::new(&args.connection)?.get_as(&format!("/v1/kpis?days={}", args.days)).await?;
    if args.json {
        render::json(&k);
        return Ok(());
    }
    let seconds = |v: Option<f64>| v.map_or("-".into(), |s| format!("{s:.0} s"));
    let share = |v: Option<f64>| v.map_or("-".into(), |s| format!("{:.1}%", s * 100.0));
    fields(&[
        ("period", format!("{} days", k.period_days)),
        (
            "deployments",
            format!(
                "{} ({:.1} per 30 days, {})",
                k.deployments,
                k.deployments_per_30_days,
                counted(k.rollbacks, "automatic rollback", "automatic rollbacks")
            ),
        ),
        (
            "registration to production",
            k.median_hours_to_production.map_or("-".into(), |h| format!("{h:.1} h (median)")),
        ),
        ("time to detect", seconds(k.median_seconds_to_detect)),
        ("time to resolve", seconds(k.median_seconds_to_resolve)),
        ("drift detection latency", seconds(k.median_drift_detection_seconds)),
        (
            "audit coverage",
            format!("{} ({} entries for {} changes)", share(k.audit_coverage), k.ledger_entries, k.audited_changes),
        ),
        (
            "policy adherence",
            format!(
                "{} ({} in {})",
                share(k.policy_adherence),
                counted(k.overrides, "override", "overrides"),
                counted(k.promotions, "promotion", "promotions")
            ),
        ),
        ("incidents", format!("{} opened, {} open", k.incidents, k.open_incidents)),
    ]);
    let f = &k.findings;
    let open = &f.open_by_severity;
    let age = &f.open_by_age;
    let mut lines = vec![
        (
            "open findings".to_owned(),
            format!(
                "{} critical, {} high, {} medium, {} low ({} overdue)",
                open.critical, open.high, open.medium, open.low, f.overdue
            ),
        ),
        (
            "open findings' age".to_owned(),
            format!(
                "{} under 7 days, {} 7-30, {} 30-90, {} over 90",
                age.under_7_days, age.from_7_to_30_days, age.from_30_to_90_days, age.over_90_days
            ),
        ),
    ];
    for r in &f.time_to_remediate {
        let mean = r.mean_hours.map_or("-".into(), |h| format!("{h:.1} h mean"));
        let target = match (r.target_hours, r.within_target) {
            (Some(t), Some(within)) => format!(", target {t:.0} h: {within} of {} within", r.closed),
            _ => String::new(),
        };
        lines.push((
            format!("remediation: {} {}", r.severity, r.kind),
            format!("{mean} over {} closed{target}", r.closed),
        ));
    }
    for m in &f.per_model {
        lines.push((format!("findings of {}", m.model), format!("{} open, {} overdue", m.open, m.overdue)));
    }
    let borrowed: Vec<(&str, String)> = lines.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    fields(&borrowed);
    Ok(())
}

async fn incidents(args: IncidentsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.connection)?;
    let seconds = |v: Option<f64>| v.map_or("-".into(), |s| format!("{s:.1} s"));
    if let Some(id) = args.id {
        let incident: api::IncidentWithTimeline = client.get_as(&format!("/v1/incidents/{id}")).await?;
        if args.json {
            render::json(&incident);
            return Ok(());
        }
        let i = &incident.incident;
        fields(&[
            ("incident", format!("{} ({})", i.id, i.state)),
            ("model", i.model.cell()),
            ("title", i.title.cell()),
            ("time to detect", seconds(Some(i.time_to_detect_seconds))),
            ("time to resolve", seconds(i.time_to_resolve_seconds)),
            ("resolved by", i.resolved_by.as_deref().unwrap_or("-").to_owned()),
            ("resolution", i.resolution.as_deref().unwrap_or("-").to_owned()),
        ]);
        let rows: Vec<Vec<String>> = incident
            .timeline
            .iter()
            .map(|e| {
                let alert = match (e.alert, e.version) {
                    (Some(id), Some(v)) => format!("alert {id} {} '{}' v{v}", e.monitor, e.feature),
                    (Some(id), None) => format!("alert {id} {} '{}'", e.monitor, e.feature),
                    _ => "incident".to_owned(),
                };
                vec![crate::render::micros_time(e.at), e.kind.cell(), alert, e.actor.cell(), e.summary.cell()]
            })
            .collect();
        table(&["AT", "EVENT", "ABOUT", "BY", "WHAT"], &rows);
        return Ok(());
    }
    let path = match &args.state {
        Some(state) => format!("/v1/incidents?state={}", encode(state)),
        None => "/v1/incidents".to_owned(),
    };
    let incidents: Vec<api::IncidentBody> = client.get_as(&path).await?;
    if args.json {
        render::json(&incidents);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = incidents
        .iter()
        .map(|i| {
            vec![
                i.id.cell(),
                i.state.cell(),
                i.model.cell(),
                i.title.cell(),
                crate::render::micros_time(i.opened_at),
                seconds(Some(i.time_to_detect_seconds)),
                seconds(i.time_to_resolve_seconds),
            ]
        })
        .collect();
    table(&["ID", "STATE", "MODEL", "TITLE", "OPENED", "TO DETECT", "TO RESOLVE"], &rows);
    Ok(())
}

async fn artifact(command: crate::cli::ArtifactCommand) -> anyhow::Result<()> {
    match command {
        crate::cli::ArtifactCommand::Keygen { out, name } => {
            warden_registry::registry::validate_name("signer", &name)?;
            let (seed, public) = warden_registry::signing::new_key();
            let mut file = std::fs::OpenOptions::new();
            file.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
            let mut file = file.open(&out).with_context(|| format!("cannot create {}", out.display()))?;
            std::io::Write::write_all(&mut file, format!("{}\n", hex::encode(seed)).as_bytes())?;
            eprintln!(
                "signing key written to {} (keep it secret); add this line to the server's --artifact-signers file:",
                out.display()
            );
            outln!("{name} {public}");
        }
        crate::cli::ArtifactCommand::Sign { file, key } => {
            let text =
                std::fs::read_to_string(&key).with_context(|| format!("cannot read the key {}", key.display()))?;
            let seed: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|k| k.try_into().ok())
                .with_context(|| format!("{} is not a key made by `warden artifact keygen`", key.display()))?;
            let digest = {
                use sha2::Digest;
                use std::io::Read;
                let mut hasher = sha2::Sha256::new();
                let mut input =
                    std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))?;
                let mut buffer = vec![0u8; 1 << 20];
                loop {
                    let n = input.read(&mut buffer).with_context(|| format!("cannot read {}", file.display()))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buffer[..n]);
                }
                hex::encode(hasher.finalize())
            };
            let (signature, _) = warden_registry::signing::sign(&seed, &digest)?;
            eprintln!("signed SHA-256 {digest} of {}", file.display());
            outln!("{signature}");
        }
    }
    Ok(())
}
