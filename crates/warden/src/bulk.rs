//! `warden score`: a data file scored in bulk through the server's scoring path, so every row is checked,
//! scored and logged exactly as live traffic is.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{Map, Value, json};

use crate::cli::ScoreArgs;
use crate::client::{Client, encode};

struct Layout {
    /// Per input column: what it is for the version.
    roles: Vec<ColumnUse>,
    features: Vec<String>,
}

enum ColumnUse {
    Numeric(String),
    Categorical(String),
    Attribute(String),
    Id,
    Other,
}

fn plan_columns(
    header: &[String],
    version: &warden_api_types::VersionBody,
    id_column: Option<&str>,
) -> anyhow::Result<Layout> {
    let schema = &version.feature_schema;
    let protected: Vec<&str> = version.reference.protected.iter().map(String::as_str).collect();
    let kind = |name: &str| schema.iter().find(|f| f.name == name).map(|f| f.kind.as_str());
    if let Some(id) = id_column
        && !header.iter().any(|h| h == id)
    {
        anyhow::bail!("the input has no column '{id}' (given as --id-column)");
    }
    let roles = header
        .iter()
        .map(|h| match (kind(h), id_column) {
            (_, Some(id)) if id == h => ColumnUse::Id,
            (Some("numeric"), _) => ColumnUse::Numeric(h.clone()),
            (Some(_), _) => ColumnUse::Categorical(h.clone()),
            (None, _) if protected.contains(&h.as_str()) => ColumnUse::Attribute(h.clone()),
            (None, _) => ColumnUse::Other,
        })
        .collect();
    let features = schema.iter().map(|f| f.name.clone()).collect();
    Ok(Layout { roles, features })
}

/// One input row as a scoring request. Text that is not a number goes to the server as text, so the server's
/// schema check names the row and field.
fn request(layout: &Layout, row: &[Option<String>], explain: bool) -> Value {
    let (mut features, mut attributes, mut id) = (Map::new(), Map::new(), None);
    for (role, cell) in layout.roles.iter().zip(row) {
        match role {
            ColumnUse::Numeric(name) => {
                let value = match cell {
                    None => Value::Null,
                    Some(text) => match text.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                        Some(n) => Value::Number(n),
                        None => Value::String(text.clone()),
                    },
                };
                features.insert(name.clone(), value);
            }
            ColumnUse::Categorical(name) => {
                features.insert(name.clone(), cell.clone().map_or(Value::Null, Value::String));
            }
            ColumnUse::Attribute(name) => {
                attributes.insert(name.clone(), cell.clone().map_or(Value::Null, Value::String));
            }
            ColumnUse::Id => id = cell.clone(),
            ColumnUse::Other => {}
        }
    }
    let mut request = json!({"features": features, "attributes": attributes, "explain": explain});
    if let Some(id) = id {
        request["request_id"] = Value::String(id);
    }
    request
}

pub(crate) async fn score(args: ScoreArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.connection)?;
    let model = encode(&args.model);
    let version: warden_api_types::VersionBody =
        client.get_as(&format!("/v1/models/{model}/versions/{}", encode(&args.version))).await?;
    let number = version.version;
    // Pin the resolved number: an alias change during the run cannot mix two versions in one file.
    let path = format!("/v1/models/{model}/score/batch?version={number}");

    let (sender, mut chunks) = tokio::sync::mpsc::channel::<(Vec<String>, Vec<Vec<Option<String>>>)>(2);
    let (input, batch_rows) = (args.input.clone(), args.batch_rows.clamp(1, 10_000));
    let reader = tokio::task::spawn_blocking(move || {
        warden_registry::dataset::for_each_chunk(&input, batch_rows, |header, rows| {
            sender
                .blocking_send((header.to_vec(), rows))
                .map_err(|_| warden_registry::Error::failed("scoring", "the scoring task stopped"))
        })
    });

    let out_path: PathBuf = args.output.clone();
    let mut writer =
        csv::Writer::from_path(&out_path).with_context(|| format!("cannot create {}", out_path.display()))?;
    let (mut layout, mut first_row, mut scored) = (None, 1usize, 0usize);
    while let Some((header, rows)) = chunks.recv().await {
        if layout.is_none() {
            let l = plan_columns(&header, &version, args.id_column.as_deref())?;
            let mut out_header = header.clone();
            out_header.extend(["request_id", "version", "score", "decision"].map(String::from));
            if args.explain {
                out_header.extend(l.features.iter().map(|f| format!("contribution_{f}")));
            }
            writer.write_record(&out_header)?;
            layout = Some(l);
        }
        let l = layout.as_ref().expect("layout set on the first chunk");
        let mut body = Vec::new();
        for row in &rows {
            serde_json::to_writer(&mut body, &request(l, row, args.explain))?;
            body.push(b'\n');
        }
        let last_row = first_row + rows.len() - 1;
        let response = client.post_bytes(&path, "application/x-ndjson", body).await.with_context(|| {
            format!(
                "rows {first_row}-{last_row} of {} (row numbers in the message count from 0 within these)",
                args.input.display()
            )
        })?;
        let response: warden_api_types::BatchResponseBody =
            serde_json::from_value(response).context("the server sent no results")?;
        let results = &response.results;
        for (row, result) in rows.iter().zip(results) {
            let mut record: Vec<String> = row.iter().map(|c| c.clone().unwrap_or_default()).collect();
            record.push(result.request_id.clone());
            record.push(result.version.to_string());
            // As JSON writes it (the shortest text that reads back as the same number).
            record.push(Value::from(result.score).to_string());
            record.push(result.decision.clone());
            if args.explain {
                for f in &l.features {
                    let contribution = result.contributions.as_ref().and_then(|c| c.get(f));
                    record.push(contribution.map(|c| c.to_string()).unwrap_or_default());
                }
            }
            writer.write_record(&record)?;
        }
        scored += results.len();
        first_row = last_row + 1;
    }
    reader.await?.map_err(|e| anyhow::anyhow!("{}: {e}", args.input.display()))?;
    writer.flush()?;
    eprintln!("scored {scored} rows with {} version {number}; wrote {}", args.model, out_path.display());
    Ok(())
}
