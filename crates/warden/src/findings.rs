//! `warden findings …`: findings against models, through the API.

use reqwest::Method;
use serde_json::json;

use crate::cli::{AttestCommand, FindingsCommand};
use crate::client::{Client, encode};
use crate::render::{self, Cell, fields, micros_time, table};
use warden_api_types as api;

pub(crate) async fn findings(command: FindingsCommand) -> anyhow::Result<()> {
    match command {
        FindingsCommand::List { model, state, overdue, connection, json } => {
            let mut query = Vec::new();
            if let Some(model) = &model {
                query.push(format!("model={}", encode(model)));
            }
            if let Some(state) = state {
                query.push(format!("state={state}"));
            }
            if overdue {
                query.push("overdue=true".to_owned());
            }
            let path =
                if query.is_empty() { "/v1/findings".to_owned() } else { format!("/v1/findings?{}", query.join("&")) };
            let found: Vec<api::FindingBody> = Client::new(&connection)?.get_as(&path).await?;
            if json {
                render::json(&found);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|f| {
                    vec![
                        f.id.cell(),
                        f.model.clone(),
                        f.version.map_or("all".into(), |v| v.to_string()),
                        f.kind.cell(),
                        f.severity.cell(),
                        f.state.cell(),
                        format!("{}{}", micros_time(f.due_at), if f.overdue { " (overdue)" } else { "" }),
                        f.owner.clone(),
                        f.title.clone(),
                    ]
                })
                .collect();
            table(&["ID", "MODEL", "VERSION", "KIND", "SEVERITY", "STATE", "DUE", "OWNER", "TITLE"], &rows);
        }
        FindingsCommand::Show { id, connection, json } => {
            let found: api::FindingBody = Client::new(&connection)?.get_as(&format!("/v1/findings/{id}")).await?;
            if json {
                render::json(&found);
            } else {
                show(&found);
            }
        }
        FindingsCommand::Raise { model, version, kind, severity, title, description, owner, connection, json } => {
            let body = json!({
                "version": version, "kind": kind, "severity": severity, "title": title,
                "description": description, "owner": owner,
            });
            let path = format!("/v1/models/{}/findings", encode(&model));
            let raised: api::FindingBody = Client::new(&connection)?.json_as(Method::POST, &path, &body).await?;
            if json {
                render::json(&raised);
            } else {
                outln!(
                    "raised finding {} on {model}: {} {}, due {}",
                    raised.id,
                    raised.severity,
                    raised.kind,
                    micros_time(raised.due_at)
                );
            }
        }
        FindingsCommand::Import { model, version, format, target, file, connection, json } => {
            let report = std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let mut path = format!("/v1/models/{}/versions/{version}/findings/import?format={format}", encode(&model));
            if let Some(target) = &target {
                path.push_str(&format!("&target={}", encode(target)));
            }
            let answer = Client::new(&connection)?.post_bytes(&path, "application/json", report).await?;
            let import: api::ScanImportBody = serde_json::from_value(answer)?;
            if json {
                render::json(&import);
                return Ok(());
            }
            let target = if import.target.is_empty() { String::new() } else { format!(" of {}", import.target) };
            outln!(
                "{}{target}: {} raised, {} closed as remediated, {} still reported",
                import.tool,
                import.raised.len(),
                import.closed.len(),
                import.still_reported.len()
            );
            let rows: Vec<Vec<String>> = import
                .raised
                .iter()
                .map(|f| vec!["raised".into(), f.id.cell(), f.severity.cell(), micros_time(f.due_at), f.title.clone()])
                .chain(
                    import
                        .closed
                        .iter()
                        .map(|f| vec!["closed".into(), f.id.cell(), f.severity.cell(), "-".into(), f.title.clone()]),
                )
                .collect();
            if !rows.is_empty() {
                table(&["", "ID", "SEVERITY", "DUE", "TITLE"], &rows);
            }
        }
        FindingsCommand::Propose { id, remediation, connection } => {
            let body = json!({ "remediation": remediation });
            let changed = change(&connection, id, "propose", &body).await?;
            outln!("finding {id}: {}", changed.state);
        }
        FindingsCommand::Close { id, evidence, connection } => {
            let changed = change(&connection, id, "close", &json!({ "evidence": evidence })).await?;
            outln!("finding {id}: {}", changed.state);
        }
        FindingsCommand::Accept { id, until, reason, connection } => {
            let until = expiry(&until)?;
            let changed = change(&connection, id, "accept", &json!({ "until": until, "reason": reason })).await?;
            let until = changed.accepted_until.map_or("-".into(), micros_time);
            outln!("finding {id}: accepted as a limitation until {until}");
        }
        FindingsCommand::Except { id, until, reason, connection } => {
            let until = expiry(&until)?;
            let changed = change(&connection, id, "except", &json!({ "until": until, "reason": reason })).await?;
            let until = changed.exception_until.map_or("-".into(), micros_time);
            outln!("finding {id}: a policy exception covers it until {until}");
        }
    }
    Ok(())
}

/// `--until`: an RFC 3339 time, or a span from now in days or hours (`30d`, `12h`), as RFC 3339.
fn expiry(text: &str) -> anyhow::Result<String> {
    let span = |unit: char, micros: i64| text.strip_suffix(unit)?.parse::<i64>().ok()?.checked_mul(micros);
    let Some(span) = span('d', 86_400_000_000).or_else(|| span('h', 3_600_000_000)) else {
        return Ok(text.to_owned());
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_micros() as i64;
    let until = now.checked_add(span).ok_or_else(|| anyhow::anyhow!("--until {text} is too far ahead"))?;
    Ok(warden_core::Timestamp::from_micros(until).to_string())
}

async fn change(
    connection: &crate::cli::Connection,
    id: i64,
    action: &str,
    body: &serde_json::Value,
) -> anyhow::Result<api::FindingBody> {
    Client::new(connection)?.json_as(Method::POST, &format!("/v1/findings/{id}/{action}"), body).await
}

fn show(f: &api::FindingBody) {
    let optional = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    let time = |value: Option<i64>| value.map_or("-".into(), micros_time);
    fields(&[
        ("finding", format!("{} ({}, {}, {})", f.id, f.kind, f.severity, f.state)),
        ("model", format!("{} {}", f.model, f.version.map_or("(every version)".into(), |v| format!("version {v}")))),
        ("title", f.title.clone()),
        ("description", f.description.clone()),
        ("owner", f.owner.clone()),
        ("raised", format!("{} by {}", micros_time(f.raised_at), f.raised_by)),
        ("due", format!("{}{}", micros_time(f.due_at), if f.overdue { " (overdue)" } else { "" })),
        ("remediation", format!("{} ({})", optional(&f.remediation), optional(&f.remediation_by))),
        ("closed", format!("{} by {}: {}", time(f.closed_at), optional(&f.closed_by), optional(&f.evidence))),
        ("accepted until", format!("{} by {}", time(f.accepted_until), optional(&f.accepted_by))),
        (
            "exception until",
            format!("{} by {}: {}", time(f.exception_until), optional(&f.exception_by), optional(&f.exception_reason)),
        ),
    ]);
}

/// `warden attest …`: owner attestations, through the API.
pub(crate) async fn attest(command: AttestCommand) -> anyhow::Result<()> {
    match command {
        AttestCommand::List { model, overdue, connection, json } => {
            let mut query = Vec::new();
            if let Some(model) = &model {
                query.push(format!("model={}", encode(model)));
            }
            if overdue {
                query.push("overdue=true".to_owned());
            }
            let path = format!("/v1/attestations?{}", query.join("&"));
            let found: Vec<api::AttestationBody> = Client::new(&connection)?.get_as(&path).await?;
            if json {
                render::json(&found);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|a| {
                    vec![
                        a.id.cell(),
                        a.model.clone(),
                        a.state.clone(),
                        format!("{}{}", micros_time(a.due_at), if a.overdue { " (overdue)" } else { "" }),
                        a.submitted_by.clone().unwrap_or_else(|| "-".into()),
                        a.reviewed_by.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            table(&["ID", "MODEL", "STATE", "DUE", "SUBMITTED BY", "REVIEWED BY"], &rows);
        }
        AttestCommand::Submit { id, used_as_documented, limitations_hold, comment, connection } => {
            let body = json!({
                "still_used_as_documented": used_as_documented, "limitations_hold": limitations_hold, "comment": comment,
            });
            let path = format!("/v1/attestations/{id}/submit");
            let done: api::AttestationBody = Client::new(&connection)?.json_as(Method::POST, &path, &body).await?;
            outln!("attestation {id} of {}: {}", done.model, done.state);
        }
        AttestCommand::Review { id, accept, reject: _, comment, connection } => {
            let path = format!("/v1/attestations/{id}/review");
            let body = json!({ "accept": accept, "comment": comment });
            let done: api::AttestationBody = Client::new(&connection)?.json_as(Method::POST, &path, &body).await?;
            outln!("attestation {id} of {}: {}", done.model, done.state);
        }
    }
    Ok(())
}
