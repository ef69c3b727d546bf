//! `warden score`: a data file scored in bulk through the server's scoring path, so every row is checked,
//! scored and logged exactly as live traffic is; `warden outcomes`: a file of late outcomes posted in chunks.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{Map, Value, json};

use crate::cli::{OutcomesArgs, ScoreArgs};
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
    version: &warden_api_types::ScoringSchemaBody,
    id_column: Option<&str>,
) -> anyhow::Result<Layout> {
    let schema = &version.features;
    let protected: Vec<&str> = version.attributes.iter().map(String::as_str).collect();
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

/// A file's header and rows, a chunk of at most `batch_rows` (1 to 10,000) at a time.
type Chunk = (Vec<String>, Vec<Vec<Option<String>>>);

/// Reads `input` on a blocking thread, handing its chunks over a short queue to `task`, which posts them: the
/// file is never read far ahead of what the server has taken.
fn read_in_chunks(
    input: PathBuf,
    batch_rows: usize,
    task: &'static str,
) -> (tokio::sync::mpsc::Receiver<Chunk>, tokio::task::JoinHandle<warden_registry::Result<()>>) {
    let (sender, chunks) = tokio::sync::mpsc::channel::<Chunk>(2);
    let reader = tokio::task::spawn_blocking(move || {
        warden_registry::dataset::for_each_chunk(&input, batch_rows.clamp(1, 10_000), |header, rows| {
            sender
                .blocking_send((header.to_vec(), rows))
                .map_err(|_| warden_registry::Error::failed(task, "the task posting the rows stopped"))
        })
    });
    (chunks, reader)
}

pub(crate) async fn score(args: ScoreArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.connection)?;
    let model = encode(&args.model);
    // What scoring needs of the version, under the scoring rules (a `scorer` may not read the registry).
    let version: warden_api_types::ScoringSchemaBody = client
        .get_as(&match &args.version {
            Some(version) => format!("/v1/models/{model}/score/schema?version={}", encode(version)),
            None => format!("/v1/models/{model}/score/schema"),
        })
        .await?;
    let number = version.version;
    // Pin the resolved number: an alias change during the run cannot mix two versions in one file.
    let path = format!("/v1/models/{model}/score/batch?version={number}");

    let (mut chunks, reader) = read_in_chunks(args.input.clone(), args.batch_rows, "scoring");

    let out_path: PathBuf = args.output.clone();
    let mut writer =
        csv::Writer::from_path(&out_path).with_context(|| format!("cannot create {}", out_path.display()))?;
    let (mut layout, mut first_row, mut scored) = (None, 1usize, 0usize);
    while let Some((header, rows)) = chunks.recv().await {
        if layout.is_none() {
            let l = plan_columns(&header, &version, args.id_column.as_deref())?;
            let mut out_header = header.clone();
            out_header.extend(["request_id", "version", "score", "decision"].map(String::from));
            // A multiclass classifier's answer: each class's probability.
            out_header.extend(version.classes.iter().map(|c| format!("probability_{c}")));
            if let Some(taken) = out_header.iter().enumerate().find(|(i, h)| out_header[..*i].contains(h)) {
                anyhow::bail!("the input has a column '{}', which the scored file adds: rename it", taken.1);
            }
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
        let response = match client.post_bytes(&path, "application/x-ndjson", body).await {
            Ok(response) => response,
            Err(err) => {
                let file = args.input.display().to_string();
                // Invalid rows are named by their place in the file, not in the batch.
                match err.downcast_ref::<crate::client::ApiFailure>().and_then(|f| f.rows_in_file(first_row, &file)) {
                    Some(failure) => return Err(failure.into()),
                    None => return Err(err.context(format!("rows {first_row}-{last_row} of {file}"))),
                }
            }
        };
        let response: warden_api_types::BatchResponseBody =
            serde_json::from_value(response).context("the server sent no results")?;
        let results = &response.results;
        for (row, result) in rows.iter().zip(results) {
            let mut record: Vec<String> = row.iter().map(|c| c.clone().unwrap_or_default()).collect();
            record.push(result.request_id.clone());
            record.push(result.version.to_string());
            // As JSON writes it (the shortest text that reads back as the same number); empty for a suspended
            // model's fallback that scored nothing.
            record.push(result.score.map(|s| Value::from(s).to_string()).unwrap_or_default());
            record.push(result.decision.clone());
            for class in &version.classes {
                let p = result.probabilities.as_ref().and_then(|p| p.get(class));
                record.push(p.map(|p| Value::from(*p).to_string()).unwrap_or_default());
            }
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

/// Where each outcome field is in the input's header.
struct OutcomeColumns {
    request_id: usize,
    label: usize,
    kind: Option<usize>,
    amount: Option<usize>,
    value: Option<usize>,
    class: Option<usize>,
}

impl OutcomeColumns {
    fn find(header: &[String], args: &OutcomesArgs) -> anyhow::Result<OutcomeColumns> {
        let at = |name: &str, option: &str| {
            header
                .iter()
                .position(|h| h == name)
                .with_context(|| format!("the input has no column '{name}' ({option})"))
        };
        Ok(OutcomeColumns {
            request_id: at(&args.request_id_column, "--request-id-column")?,
            label: at(&args.label_column, "--label-column")?,
            kind: args.kind_column.as_deref().map(|c| at(c, "--kind-column")).transpose()?,
            amount: args.amount_column.as_deref().map(|c| at(c, "--amount-column")).transpose()?,
            value: args.value_column.as_deref().map(|c| at(c, "--value-column")).transpose()?,
            class: args.class_column.as_deref().map(|c| at(c, "--class-column")).transpose()?,
        })
    }

    /// One row as an outcome; `line` is its data row (from 1), for the message.
    fn outcome(&self, row: &[Option<String>], line: usize) -> anyhow::Result<Value> {
        let text = |at: usize| row.get(at).and_then(|c| c.as_deref()).map(str::trim).filter(|t| !t.is_empty());
        let request_id = text(self.request_id).with_context(|| format!("row {line}: no request id"))?;
        let label = match text(self.label) {
            Some("1" | "1.0" | "true" | "True" | "TRUE") => 1,
            Some("0" | "0.0" | "false" | "False" | "FALSE") => 0,
            other => anyhow::bail!("row {line}: the label must be 0 or 1, found '{}'", other.unwrap_or("")),
        };
        let mut outcome = json!({"request_id": request_id, "label": label});
        if let Some(kind) = self.kind.and_then(text) {
            outcome["kind"] = json!(kind);
        }
        if let Some(amount) = self.amount.and_then(text) {
            let amount: f64 =
                amount.parse().ok().with_context(|| format!("row {line}: the amount '{amount}' is not a number"))?;
            outcome["amount"] = json!(amount);
        }
        if let Some(value) = self.value.and_then(text) {
            let value: f64 =
                value.parse().ok().with_context(|| format!("row {line}: the value '{value}' is not a number"))?;
            outcome["value"] = json!(value);
        }
        if let Some(class) = self.class.and_then(text) {
            outcome["class"] = json!(class);
        }
        Ok(outcome)
    }
}

/// Posts a file's outcomes in chunks. `POST /v1/outcomes` records a chunk whole or not at all, so when one is
/// refused the rows before it stay recorded, it and the rows after it are not: the report says which.
pub(crate) async fn outcomes(args: OutcomesArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.connection)?;
    let (mut chunks, reader) = read_in_chunks(args.input.clone(), args.batch_rows, "outcomes");
    let file = args.input.display().to_string();
    let (mut columns, mut first_row, mut recorded, mut requests) = (None, 1usize, 0usize, 0usize);
    while let Some((header, rows)) = chunks.recv().await {
        if columns.is_none() {
            columns = Some(OutcomeColumns::find(&header, &args)?);
        }
        let c = columns.as_ref().expect("columns found on the first chunk");
        let last_row = first_row + rows.len() - 1;
        let not_recorded = |recorded: usize| {
            format!(
                "{file}: rows {first_row}-{last_row} were not recorded, nor any row after them; {}",
                match recorded {
                    0 => "nothing was recorded".to_owned(),
                    n => format!("rows 1-{} were recorded ({n} outcomes)", first_row - 1),
                }
            )
        };
        let outcomes = rows
            .iter()
            .enumerate()
            .map(|(i, row)| c.outcome(row, first_row + i))
            .collect::<anyhow::Result<Vec<Value>>>()
            .map_err(|e| e.context(not_recorded(recorded)))?;
        let answer: warden_api_types::OutcomesRecorded = client
            .json_as(reqwest::Method::POST, "/v1/outcomes", &json!({"outcomes": outcomes}))
            .await
            .map_err(|e| e.context(not_recorded(recorded)))?;
        recorded += answer.recorded;
        requests += 1;
        eprintln!("rows {first_row}-{last_row}: {} outcomes recorded", answer.recorded);
        first_row = last_row + 1;
    }
    reader.await?.map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    let chunks = if requests == 1 { "1 request".to_owned() } else { format!("{requests} requests") };
    outln!("recorded {recorded} outcomes from {file} in {chunks}");
    Ok(())
}
