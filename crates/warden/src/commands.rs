//! Each command: build the request, call the API (or run locally), render.

use anyhow::Context;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Map, Value, json};

use crate::cli::*;
use crate::client::{Client, encode};
use crate::render::{self, cell, fields, table};

/// Runs a command; the exit code on success (0, or 1 for a denying gate check or a failing policy test).
pub(crate) async fn run(cli: Cli) -> anyhow::Result<u8> {
    let done = match cli.command {
        Command::Gate(command) => return crate::governance::gate(command).await,
        Command::Audit(command) => return crate::audit::audit(command).await,
        Command::Evidence(command) => return crate::audit::evidence(command).await,
        Command::Artifact(command) => artifact(command).await,
        Command::Policy(command) => return crate::governance::policy(command).await,
        Command::Serve(args) => crate::serve::serve(args).await,
        Command::Model(command) => model(command).await,
        Command::Alias(command) => alias(command).await,
        Command::Token(command) => token(command).await,
        Command::Profile(args) => profile(args).await,
        Command::Drift(args) => crate::reports::drift(args).await,
        Command::Score(args) => crate::bulk::score(args).await,
        Command::Metrics(args) => crate::reports::metrics(args).await,
        Command::Validate(args) => crate::governance::validate(args).await,
        Command::Approve(args) => crate::governance::approve(args).await,
        Command::Promote(args) => crate::governance::promote(args).await,
        Command::Monitor(command) => monitor(command).await,
        Command::Alerts(args) => alerts(args).await,
        Command::Incidents(args) => incidents(args).await,
        Command::Inventory(args) => inventory(args).await,
        Command::Retrain(args) => retrain(args).await,
        Command::Challenger(args) => challenger(args).await,
        Command::Train(args) => train_local(args).await,
        Command::Kpis(args) => kpis(args).await,
        Command::Resolve(args) => {
            let path = format!("/v1/incidents/{}/resolve", args.id);
            let incident =
                Client::new(&args.connection)?.json(Method::POST, &path, &json!({"comment": args.comment})).await?;
            outln!("incident {} resolved", cell(&incident["id"]));
            Ok(())
        }
        Command::Ack(args) => {
            let path = format!("/v1/alerts/{}/acknowledge", args.id);
            let alert =
                Client::new(&args.connection)?.json(Method::POST, &path, &json!({"comment": args.comment})).await?;
            outln!("alert {} acknowledged by {}", cell(&alert["id"]), cell(&alert["acknowledged_by"]));
            Ok(())
        }
    };
    done.map(|()| 0)
}

fn print_model(model: &Value) {
    fields(&[
        ("name", cell(&model["name"])),
        ("description", cell(&model["description"])),
        ("owner", cell(&model["owner"])),
        ("risk tier", cell(&model["risk_tier"])),
        ("use case", cell(&model["use_case"])),
        ("tags", cell(&model["tags"])),
        ("latest version", cell(&model["latest_version"])),
        ("created", format!("{} by {}", cell(&model["created_at"]), cell(&model["created_by"]))),
    ]);
}

async fn model(command: ModelCommand) -> anyhow::Result<()> {
    match command {
        ModelCommand::Create { name, owner, risk_tier, description, use_case, tags, connection, json } => {
            let client = Client::new(&connection)?;
            let body = json!({"name": name, "owner": owner, "risk_tier": risk_tier, "description": description,
                              "use_case": use_case, "tags": tags});
            let model = client.json(Method::POST, "/v1/models", &body).await?;
            if json {
                render::json(&model);
            } else {
                outln!("created model {}", cell(&model["name"]));
            }
        }
        ModelCommand::Register(args) => register(args).await?,
        ModelCommand::List { connection, json } => {
            let models = Client::new(&connection)?.get("/v1/models").await?;
            if json {
                render::json(&models);
            } else {
                let rows: Vec<Vec<String>> = models
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| {
                        ["name", "risk_tier", "owner", "latest_version", "use_case", "created_at"]
                            .iter()
                            .map(|k| cell(&m[*k]))
                            .collect()
                    })
                    .collect();
                table(&["NAME", "RISK", "OWNER", "LATEST", "USE CASE", "CREATED"], &rows);
            }
        }
        ModelCommand::Show { name, version: None, connection, json } => {
            let client = Client::new(&connection)?;
            let model = client.get(&format!("/v1/models/{}", encode(&name))).await?;
            let versions = client.get(&format!("/v1/models/{}/versions", encode(&name))).await?;
            let aliases = client.get(&format!("/v1/models/{}/aliases", encode(&name))).await?;
            if json {
                render::json(&json!({"model": model, "versions": versions, "aliases": aliases}));
                return Ok(());
            }
            print_model(&model);
            outln!();
            let rows: Vec<Vec<String>> = versions
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| {
                    let number = v["version"].as_i64();
                    let names: Vec<String> = aliases
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|a| a["version"].as_i64() == number)
                        .map(|a| cell(&a["alias"]))
                        .collect();
                    vec![
                        cell(&v["version"]),
                        cell(&v["format"]),
                        v["artifact"]["sha256"].as_str().unwrap_or("").chars().take(12).collect(),
                        cell(&v["reference"]["rows"]),
                        cell(&v["lineage"]["code_ref"]),
                        names.join(","),
                        cell(&v["created_at"]),
                    ]
                })
                .collect();
            table(&["VERSION", "FORMAT", "ARTIFACT", "REF ROWS", "CODE", "ALIASES", "CREATED"], &rows);
        }
        ModelCommand::Show { name, version: Some(version), connection, json } => {
            let client = Client::new(&connection)?;
            let v = client.get(&format!("/v1/models/{}/versions/{}", encode(&name), encode(&version))).await?;
            if json {
                render::json(&v);
            } else {
                print_version(&v);
            }
        }
    }
    Ok(())
}

fn print_version(v: &Value) {
    let lineage = &v["lineage"];
    fields(&[
        ("model", cell(&v["model"])),
        ("version", cell(&v["version"])),
        ("format", cell(&v["format"])),
        ("artifact", format!("sha256:{} ({} bytes)", cell(&v["artifact"]["sha256"]), cell(&v["artifact"]["size"]))),
        (
            "reference",
            format!(
                "sha256:{} ({}, {} rows)",
                cell(&v["reference"]["sha256"]),
                cell(&v["reference"]["format"]),
                cell(&v["reference"]["rows"])
            ),
        ),
        ("target", cell(&v["reference"]["target"])),
        ("protected", cell(&v["reference"]["protected"])),
        (
            "training data",
            match lineage["training_data_sha256"].as_str() {
                Some(sha) => format!("sha256:{sha} ({} rows)", cell(&lineage["training_data_rows"])),
                None => "-".into(),
            },
        ),
        ("code ref", cell(&lineage["code_ref"])),
        ("parent", cell(&lineage["parent_version"])),
        ("hyperparameters", lineage["hyperparameters"].to_string()),
        ("created", format!("{} by {}", cell(&v["created_at"]), cell(&v["created_by"]))),
    ]);
    outln!();
    print_profile(&v["reference"]["profile"]);
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
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
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
            let (sha, rows) = tokio::task::spawn_blocking(move || warden_lifecycle::dataset::fingerprint(&path))
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
    let form = Form::new()
        .part("metadata", Part::text(metadata.to_string()).mime_str("application/json")?)
        .part("artifact", file_part(&args.artifact).await?)
        .part("reference", file_part(&args.reference).await?);
    let client = Client::new(&args.connection)?;
    let version = client.multipart(&format!("/v1/models/{}/versions", encode(&args.name)), form).await?;
    if args.json {
        render::json(&version);
    } else {
        outln!(
            "registered {} version {} (artifact sha256:{}, {} reference rows)",
            cell(&version["model"]),
            cell(&version["version"]),
            cell(&version["artifact"]["sha256"]),
            cell(&version["reference"]["rows"])
        );
    }
    Ok(())
}

fn alias_rows(assignments: &Value) -> Vec<Vec<String>> {
    assignments
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let version = if a["version"].is_null() { "(removed)".into() } else { cell(&a["version"]) };
            // An emergency override of the promotion gate is shown as such wherever an assignment is listed.
            let reason = match (a["overridden"].as_bool(), a["decision_id"].as_str()) {
                (Some(true), Some(id)) => format!("OVERRIDE of gate decision {id}: {}", cell(&a["reason"])),
                (_, Some(id)) => format!("{} (gate decision {id})", cell(&a["reason"])),
                _ => cell(&a["reason"]),
            };
            vec![cell(&a["alias"]), version, cell(&a["assigned_at"]), cell(&a["assigned_by"]), reason]
        })
        .collect()
}

const ALIAS_HEADER: [&str; 5] = ["ALIAS", "VERSION", "ASSIGNED", "BY", "REASON"];

async fn alias(command: AliasCommand) -> anyhow::Result<()> {
    match command {
        AliasCommand::Set { model, alias, version, reason, traffic, connection, json } => {
            let path = format!("/v1/models/{}/aliases/{}", encode(&model), encode(&alias));
            let assigned = Client::new(&connection)?
                .json(Method::PUT, &path, &json!({"version": version, "reason": reason, "traffic": traffic}))
                .await?;
            if json {
                render::json(&assigned);
            } else {
                outln!("{model}@{alias} -> version {}", cell(&assigned["version"]));
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
            let assigned = Client::new(&connection)?.get(&path).await?;
            if json {
                render::json(&assigned);
            } else {
                table(&ALIAS_HEADER, &alias_rows(&Value::Array(vec![assigned])));
            }
        }
        AliasCommand::History { model, alias, connection, json } => {
            let mut path = format!("/v1/models/{}/alias-history", encode(&model));
            if let Some(alias) = &alias {
                path.push_str(&format!("?alias={}", encode(alias)));
            }
            let history = Client::new(&connection)?.get(&path).await?;
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
        TokenCommand::Create { name, role, expires_in, expires_at, connection, json } => {
            let expires_at = match expires_in {
                Some(lifetime) => Some(
                    (time::OffsetDateTime::now_utc() + lifetime)
                        .format(&time::format_description::well_known::Rfc3339)
                        .map_err(|e| anyhow::anyhow!("expiry time: {e}"))?,
                ),
                None => expires_at,
            };
            let created = Client::new(&connection)?
                .json(Method::POST, "/v1/tokens", &json!({"name": name, "role": role, "expires_at": expires_at}))
                .await?;
            if json {
                render::json(&created);
            } else {
                eprintln!("token '{name}' ({role}) created; its secret is shown only now:");
                outln!("{}", cell(&created["secret"]));
            }
        }
        TokenCommand::Revoke { name, connection } => {
            Client::new(&connection)?.delete(&format!("/v1/tokens/{}", encode(&name))).await?;
            outln!("revoked token {name}");
        }
        TokenCommand::List { connection, json } => {
            let tokens = Client::new(&connection)?.get("/v1/tokens").await?;
            if json {
                render::json(&tokens);
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        ["name", "role", "created_at", "created_by", "expires_at", "revoked_at"]
                            .iter()
                            .map(|k| cell(&t[*k]))
                            .collect()
                    })
                    .collect();
                table(&["NAME", "ROLE", "CREATED", "BY", "EXPIRES", "REVOKED"], &rows);
            }
        }
    }
    Ok(())
}

async fn profile(args: ProfileArgs) -> anyhow::Result<()> {
    let plan = warden_lifecycle::dataset::ColumnPlan {
        target: args.columns.target,
        protected: args.columns.protected,
        exclude: args.columns.exclude,
        schema: None,
    };
    let file = args.file.clone();
    let started = std::time::Instant::now();
    let profiled = tokio::task::spawn_blocking(move || warden_lifecycle::dataset::profile_file(&file, &plan))
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
            let monitors = Client::new(&connection)?.get(&format!("/v1/models/{}/monitors", encode(&model))).await?;
            if json {
                render::json(&monitors);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = monitors
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let c = &m["config"];
                    vec![
                        cell(&m["name"]),
                        cell(&m["kind"]),
                        if m["enabled"].as_bool() == Some(true) { "yes".into() } else { "no".into() },
                        match c["window_decisions"].as_u64() {
                            Some(n) => format!("last {n}"),
                            None => format!("{} s", cell(&c["window_seconds"])),
                        },
                        cell(&c["min_decisions"]),
                        c["statistic"].as_str().unwrap_or("default").to_owned(),
                        match c["learned"]["k"].as_f64() {
                            Some(k) => format!("learned, k = {k}"),
                            None => format!("{} / {}", cell(&c["warn"]), cell(&c["alert"])),
                        },
                        cell(&c["action"]),
                        c["features"]
                            .as_array()
                            .map_or("all".into(), |f| f.iter().map(cell).collect::<Vec<_>>().join(",")),
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
            put("action", json!(action));
            if !features.is_empty() {
                put("features", json!(features));
            }
            if enable {
                put("enabled", json!(true));
            }
            let path = format!("/v1/models/{}/monitors/{}", encode(&model), encode(&monitor));
            let set = Client::new(&connection)?.json(Method::PUT, &path, &Value::Object(change)).await?;
            outln!("monitor {} of {model}: {}", cell(&set["name"]), set["config"]);
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
            let history = Client::new(&connection)?.get(&path).await?;
            if json {
                render::json(&history);
                return Ok(());
            }
            if csv {
                return monitor_history_csv(&history);
            }
            let rows: Vec<Vec<String>> = history
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    let at = e["at"].as_i64().map_or("-".into(), crate::render::micros_time);
                    // The key whose status is worst (the evaluation's status comes from it).
                    let worst = e["details"]["features"]
                        .as_object()
                        .and_then(|f| {
                            f.iter()
                                .filter(|(_, v)| v["status"] == e["status"])
                                .find_map(|(name, v)| v["value"].as_f64().map(|x| (name, x)))
                        })
                        .map_or("-".into(), |(name, v)| format!("{name} {v:.4}"));
                    vec![at, cell(&e["monitor"]), cell(&e["version"]), cell(&e["decisions"]), cell(&e["status"]), worst]
                })
                .collect();
            table(&["AT", "MONITOR", "VERSION", "DECISIONS", "STATUS", "WORST"], &rows);
        }
    }
    Ok(())
}

/// Monitor history as CSV on standard output: a row per evaluation and key.
fn monitor_history_csv(history: &Value) -> anyhow::Result<()> {
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
    for e in history.as_array().into_iter().flatten() {
        let at = e["at"].as_i64().map_or(String::new(), crate::render::micros_time);
        let head = [
            at,
            text(&e["at"]),
            text(&e["monitor"]),
            text(&e["version"]),
            text(&e["window_start"]),
            text(&e["decisions"]),
        ];
        for (key, result) in e["details"]["features"].as_object().into_iter().flatten() {
            let mut record: Vec<String> = head.to_vec();
            record.extend([text(&e["status"]), text(&e["value"]), key.clone()]);
            record.extend([text(&result["value"]), text(&result["status"])]);
            record.extend([text(&result["bands"]["warn"]), text(&result["bands"]["alert"])]);
            out.write_record(&record)?;
        }
    }
    out.flush()?;
    Ok(())
}

async fn alerts(args: AlertsArgs) -> anyhow::Result<()> {
    let mut query = Vec::new();
    if let Some(state) = &args.state {
        query.push(format!("state={}", encode(state)));
    }
    if let Some(model) = &args.model {
        query.push(format!("model={}", encode(model)));
    }
    let alerts = Client::new(&args.connection)?.get(&format!("/v1/alerts?{}", query.join("&"))).await?;
    if args.json {
        render::json(&alerts);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = alerts
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let at = a["opened_at"].as_i64().map_or("-".into(), crate::render::micros_time);
            let value = a["value"].as_f64().map_or("-".into(), |v| format!("{v:.4}"));
            vec![
                cell(&a["id"]),
                cell(&a["state"]),
                cell(&a["severity"]),
                format!("{} v{}", cell(&a["model"]), cell(&a["version"])),
                cell(&a["monitor"]),
                cell(&a["feature"]),
                value,
                at,
            ]
        })
        .collect();
    table(&["ID", "STATE", "SEVERITY", "MODEL", "MONITOR", "FEATURE", "VALUE", "OPENED"], &rows);
    Ok(())
}

async fn inventory(args: crate::cli::InventoryArgs) -> anyhow::Result<()> {
    let lines = Client::new(&args.connection)?.get("/v1/inventory").await?;
    if args.json {
        render::json(&lines);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = lines
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let challengers: Vec<String> = l["challengers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| format!("{}:{}", cell(&c[0]), cell(&c[1])))
                .collect();
            let validation = match l["last_validation"].as_object() {
                Some(v) => format!(
                    "v{} AUC {}",
                    cell(&v["version"]),
                    v["auc"].as_f64().map_or("-".into(), |a| format!("{a:.3}"))
                ),
                None => "-".into(),
            };
            let policy = match l["policy"].as_object() {
                Some(p) => {
                    format!("{} v{}", if p["allowed"] == true { "allowed" } else { "denied" }, cell(&p["version"]))
                }
                None => "-".into(),
            };
            vec![
                cell(&l["name"]),
                cell(&l["risk_tier"]),
                cell(&l["owner"]),
                l["champion"].as_i64().map_or("-".into(), |v| v.to_string()),
                challengers.join(" "),
                validation,
                policy,
                format!("{}/{}", cell(&l["open_alerts"]), cell(&l["open_incidents"])),
            ]
        })
        .collect();
    table(
        &["MODEL", "TIER", "OWNER", "CHAMPION", "CHALLENGERS", "LAST VALIDATION", "POLICY", "ALERTS/INCIDENTS"],
        &rows,
    );
    Ok(())
}

async fn retrain(args: crate::cli::RetrainArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.connection)?;
    let path = format!("/v1/models/{}/retrain", encode(&args.model));
    if let Some(every_hours) = args.every_hours {
        let body = json!({"trainer": args.trainer, "every_hours": every_hours});
        let schedule = client.json(Method::PUT, &format!("{path}/schedule"), &body).await?;
        if schedule.is_null() {
            outln!("{}: no scheduled retraining", args.model);
        } else {
            outln!(
                "{}: {} every {} h, first at the next round",
                args.model,
                cell(&schedule["trainer"]),
                cell(&schedule["every_hours"])
            );
        }
        return Ok(());
    }
    if args.list {
        let jobs = client.get(&path).await?;
        if args.json {
            render::json(&jobs);
            return Ok(());
        }
        let rows: Vec<Vec<String>> = jobs
            .as_array()
            .into_iter()
            .flatten()
            .map(|j| {
                vec![
                    cell(&j["id"]),
                    j["started_at"].as_i64().map_or("-".into(), crate::render::micros_time),
                    cell(&j["trainer"]),
                    cell(&j["status"]),
                    cell(&j["parent_version"]),
                    cell(&j["version"]),
                    cell(&j["requested_by"]),
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
    let job = client.json(Method::POST, &path, &body).await?;
    if args.json {
        render::json(&job);
    } else {
        for line in job["log"].as_array().into_iter().flatten() {
            outln!("{}", line.as_str().unwrap_or_default());
        }
        outln!("job {}: {}", cell(&job["id"]), cell(&job["status"]));
    }
    if job["status"] == "failed" {
        if let Some(log) = job["external"]["log"].as_str().filter(|l| !l.is_empty()) {
            eprintln!("{log}");
        }
        anyhow::bail!("retraining failed: {}", cell(&job["error"]));
    }
    Ok(())
}

async fn train_local(args: crate::cli::TrainArgs) -> anyhow::Result<()> {
    use warden_lifecycle::retraining::{self, Trainer};
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
    let r = Client::new(&args.connection)?.get(&path).await?;
    if args.json {
        render::json(&r);
        return Ok(());
    }
    let number = |v: &Value| v.as_f64().map_or("-".into(), |x| format!("{x:.4}"));
    fields(&[
        ("requests scored by both", cell(&r["requests"])),
        ("serving versions / shadow versions", format!("{} / {}", r["served_versions"], r["shadow_versions"])),
        ("same decision", number(&r["agreement"])),
        ("mean score difference", number(&r["mean_score_difference"])),
        ("with outcomes", cell(&r["labelled"])),
        ("AUC serving / shadow", format!("{} / {}", number(&r["served_auc"]), number(&r["shadow_auc"]))),
        ("Brier serving / shadow", format!("{} / {}", number(&r["served_brier"]), number(&r["shadow_brier"]))),
    ]);
    Ok(())
}

async fn kpis(args: crate::cli::KpiArgs) -> anyhow::Result<()> {
    let k = Client::new(&args.connection)?.get(&format!("/v1/kpis?days={}", args.days)).await?;
    if args.json {
        render::json(&k);
        return Ok(());
    }
    let seconds = |v: &Value| v.as_f64().map_or("-".into(), |s| format!("{s:.0} s"));
    let share = |v: &Value| v.as_f64().map_or("-".into(), |s| format!("{:.1}%", s * 100.0));
    fields(&[
        ("period", format!("{} days", cell(&k["period_days"]))),
        (
            "deployments",
            format!(
                "{} ({:.1} per 30 days, {} automatic rollbacks)",
                cell(&k["deployments"]),
                k["deployments_per_30_days"].as_f64().unwrap_or(0.0),
                cell(&k["rollbacks"])
            ),
        ),
        (
            "registration to production",
            k["median_hours_to_production"].as_f64().map_or("-".into(), |h| format!("{h:.1} h (median)")),
        ),
        ("time to detect", seconds(&k["median_seconds_to_detect"])),
        ("time to resolve", seconds(&k["median_seconds_to_resolve"])),
        ("drift detection latency", seconds(&k["median_drift_detection_seconds"])),
        (
            "audit coverage",
            format!(
                "{} ({} entries for {} changes)",
                share(&k["audit_coverage"]),
                cell(&k["ledger_entries"]),
                cell(&k["audited_changes"])
            ),
        ),
        (
            "policy adherence",
            format!(
                "{} ({} overrides in {} promotions)",
                share(&k["policy_adherence"]),
                cell(&k["overrides"]),
                cell(&k["promotions"])
            ),
        ),
        ("incidents", format!("{} opened, {} open", cell(&k["incidents"]), cell(&k["open_incidents"]))),
    ]);
    Ok(())
}

async fn incidents(args: IncidentsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.connection)?;
    let seconds = |v: &Value| v.as_f64().map_or("-".into(), |s| format!("{s:.1} s"));
    if let Some(id) = args.id {
        let incident = client.get(&format!("/v1/incidents/{id}")).await?;
        if args.json {
            render::json(&incident);
            return Ok(());
        }
        fields(&[
            ("incident", format!("{} ({})", cell(&incident["id"]), cell(&incident["state"]))),
            ("model", cell(&incident["model"])),
            ("title", cell(&incident["title"])),
            ("time to detect", seconds(&incident["time_to_detect_seconds"])),
            ("time to resolve", seconds(&incident["time_to_resolve_seconds"])),
        ]);
        let rows: Vec<Vec<String>> = incident["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let at = e["at"].as_i64().map_or("-".into(), crate::render::micros_time);
                vec![
                    at,
                    cell(&e["kind"]),
                    format!("alert {} {} {}", cell(&e["alert"]), cell(&e["monitor"]), cell(&e["feature"])),
                    cell(&e["actor"]),
                    e["details"].to_string(),
                ]
            })
            .collect();
        table(&["AT", "EVENT", "ALERT", "BY", "DETAILS"], &rows);
        return Ok(());
    }
    let path = match &args.state {
        Some(state) => format!("/v1/incidents?state={}", encode(state)),
        None => "/v1/incidents".to_owned(),
    };
    let incidents = client.get(&path).await?;
    if args.json {
        render::json(&incidents);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = incidents
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let at = i["opened_at"].as_i64().map_or("-".into(), crate::render::micros_time);
            vec![
                cell(&i["id"]),
                cell(&i["state"]),
                cell(&i["model"]),
                cell(&i["title"]),
                at,
                seconds(&i["time_to_detect_seconds"]),
                seconds(&i["time_to_resolve_seconds"]),
            ]
        })
        .collect();
    table(&["ID", "STATE", "MODEL", "TITLE", "OPENED", "TO DETECT", "TO RESOLVE"], &rows);
    Ok(())
}

async fn artifact(command: crate::cli::ArtifactCommand) -> anyhow::Result<()> {
    match command {
        crate::cli::ArtifactCommand::Keygen { out, name } => {
            warden_lifecycle::registry::validate_name("signer", &name)?;
            let (seed, public) = warden_lifecycle::signing::new_key();
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
            let (signature, _) = warden_lifecycle::signing::sign(&seed, &digest)?;
            eprintln!("signed SHA-256 {digest} of {}", file.display());
            outln!("{signature}");
        }
    }
    Ok(())
}
