//! The retraining loop: logged decisions joined with their late outcomes become a candidate version, under
//! the same controls as any other.
//!
//! A job reads the labelled decisions of the model's serving routes (the features exactly as they were logged
//! at decision time, the latest outcome of each request; where the policy's `review.labels_from_reviews` says
//! so, also the reviewed decisions without an outcome, labelled by their latest review), exports them as CSV (its SHA-256 is the candidate's
//! training-data lineage, and the file is its reference data), holds out a deterministic share of requests
//! (by the hash of their ids) for validation, trains, registers the candidate with its parent and the alert
//! that triggered it, validates it on the held-out rows, records the gate's decision for champion, and deploys
//! it as `challenger` (scored in shadow on every request, never answering) when the only objections are the
//! sign-offs people still have to give and the challenger alias is not one a person set (a job replaces only
//! a challenger a job deployed; otherwise it says so and leaves the candidate registered). Promotion to champion
//! still goes through approvals and the gate. Jobs act as Warden itself; the person who asked is recorded.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warden_stats::profile::ColumnType;
use warden_store::metadata::TrainingRow;
pub use warden_train::gbt::GbtOptions;
use warden_train::linear_model::{Column, Feature, train_logistic};

use crate::validation::ValidationRequest;
use crate::{Error, Oversight, Result};
use warden_core::JobStatus;
use warden_registry::auth::{Permission, Principal};
use warden_registry::dataset::ColumnPlan;
use warden_registry::registry::{Lineage, Version, VersionRequest, current_aliases, get_model, get_version};

/// The label column of exported training data (1 = the bad event).
pub const LABEL_COLUMN: &str = "label";
/// Fewest labelled decisions a job trains on.
pub const MIN_ROWS: usize = 200;
/// Most labelled decisions a job reads (the newest).
pub const MAX_ROWS: i64 = 1_000_000;

/// Which trainer.
#[derive(Debug, Clone, PartialEq)]
pub enum Trainer {
    /// Warden's L2 logistic regression with inverse regularisation strength `c`.
    BuiltinLogistic {
        /// scikit-learn's `C`.
        c: f64,
    },
    /// Warden's gradient-boosted trees (XGBoost's `hist` settings), served as XGBoost JSON.
    BuiltinGbt {
        /// Trees, depth, learning rate…
        options: GbtOptions,
    },
    /// A command the server's operator configured.
    External { name: String },
}

impl Trainer {
    fn name(&self) -> String {
        match self {
            Trainer::BuiltinLogistic { .. } => "builtin-lr".into(),
            Trainer::BuiltinGbt { .. } => "builtin-gbt".into(),
            Trainer::External { name } => format!("external:{name}"),
        }
    }
}

pub use warden_registry::ExternalTrainer;

/// The longest an external training command may run.
const EXTERNAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);
/// How much of an external command's output a job keeps (the end of it).
const EXTERNAL_LOG_BYTES: usize = 64 * 1024;

/// What an external training command did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalRun {
    /// The command as run.
    pub command: String,
    /// Its exit code (`None` when it was killed or timed out).
    pub exit_code: Option<i32>,
    /// Seconds it took.
    pub seconds: f64,
    /// The end of its standard output and error.
    pub log: String,
}

fn shell_quote(path: &std::path::Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// Runs an external trainer on the exported training data; the model it writes is the candidate.
async fn run_external(
    warden: &Oversight,
    trainer: &ExternalTrainer,
    training_csv: &[u8],
    job: &mut RetrainJob,
) -> Result<Vec<u8>> {
    let dir = tempfile::Builder::new()
        .prefix("retrain-")
        .tempdir_in(warden.config().data_dir.join("tmp"))
        .map_err(|e| Error::io("cannot make a job directory", e))?;
    let (data, model) = (dir.path().join("train.csv"), dir.path().join("model"));
    std::fs::write(&data, training_csv).map_err(|e| Error::io("cannot write the training data", e))?;
    let command = trainer.command.replace("{data}", &shell_quote(&data)).replace("{model}", &shell_quote(&model));
    let started = std::time::Instant::now();
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(dir.path())
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .output();
    let output = tokio::time::timeout(EXTERNAL_TIMEOUT, child).await;
    let seconds = started.elapsed().as_secs_f64();
    let (exit_code, log) = match output {
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            let keep = text.len().saturating_sub(EXTERNAL_LOG_BYTES);
            let start = (keep..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
            (out.status.code(), text[start..].to_owned())
        }
        Ok(Err(err)) => (None, format!("could not run the command: {err}")),
        Err(_) => (None, format!("timed out after {} s", EXTERNAL_TIMEOUT.as_secs())),
    };
    job.external = Some(ExternalRun { command: trainer.command.clone(), exit_code, seconds, log });
    if exit_code != Some(0) {
        return Err(Error::invalid(format!(
            "the external trainer '{}' failed (exit code {})",
            trainer.name,
            exit_code.map_or("none".into(), |c| c.to_string())
        )));
    }
    std::fs::read(&model)
        .map_err(|_| Error::invalid(format!("the external trainer '{}' wrote no model to {{model}}", trainer.name)))
}

/// A trained candidate: the artifact, its format, the encodings its schema needs, and what to record.
pub struct Candidate {
    /// The model file.
    pub artifact: Vec<u8>,
    /// Its format (`linear-json`, `xgboost-json`).
    pub format: &'static str,
    /// Category codes per feature (boosted trees take codes; the schema carries them).
    pub encodings: BTreeMap<String, BTreeMap<String, f64>>,
    /// The trainer's settings.
    pub hyperparameters: serde_json::Map<String, Value>,
    /// One line about the fit.
    pub summary: String,
}

/// Trains on typed columns (the one path for jobs and for `warden train`).
pub fn train(trainer: &Trainer, features: &[Feature], labels: &[bool]) -> Result<Candidate> {
    let mut hyperparameters = serde_json::Map::new();
    hyperparameters.insert("trainer".into(), json!(trainer.name()));
    match trainer {
        Trainer::BuiltinLogistic { c } => {
            let trained =
                train_logistic(features, labels, *c).map_err(|e| Error::invalid(format!("training failed: {e}")))?;
            hyperparameters.insert("C".into(), json!(c));
            Ok(Candidate {
                artifact: trained.model.to_string().into_bytes(),
                format: "linear-json",
                encodings: BTreeMap::new(),
                hyperparameters,
                summary: format!("trained builtin-lr (C = {c}) in {} Newton steps", trained.fit.iterations),
            })
        }
        Trainer::External { name } => Err(Error::invalid(format!(
            "external:{name} runs only in a retraining job (it needs the server's configuration)"
        ))),
        Trainer::BuiltinGbt { options } => {
            let (columns, encodings) = coded_columns(features);
            let booster = warden_train::gbt::fit(&columns, labels, *options)
                .map_err(|e| Error::invalid(format!("training failed: {e}")))?;
            let names: Vec<String> = features.iter().map(|f| f.name.clone()).collect();
            for (key, value) in [
                ("n_estimators", json!(options.n_estimators)),
                ("max_depth", json!(options.max_depth)),
                ("learning_rate", json!(options.learning_rate)),
                ("lambda", json!(options.lambda)),
                ("min_child_weight", json!(options.min_child_weight)),
                ("max_bins", json!(options.max_bins)),
            ] {
                hyperparameters.insert(key.into(), value);
            }
            Ok(Candidate {
                artifact: booster.to_xgboost_json(&names).to_string().into_bytes(),
                format: "xgboost-json",
                encodings,
                hyperparameters,
                summary: format!("trained builtin-gbt ({} trees of depth {})", options.n_estimators, options.max_depth),
            })
        }
    }
}

/// Numbers as they are (missing = NaN); categories as codes in sorted order (the schema carries the encoding,
/// so requests still send text; a category the training data never saw scores as missing).
fn coded_columns(features: &[Feature]) -> (Vec<Vec<f64>>, BTreeMap<String, BTreeMap<String, f64>>) {
    let mut encodings = BTreeMap::new();
    let columns = features
        .iter()
        .map(|feature| match &feature.column {
            Column::Numeric(values) => values.iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
            Column::Categorical(values) => {
                let mut categories: Vec<&String> = values.iter().flatten().collect();
                categories.sort();
                categories.dedup();
                let codes: BTreeMap<String, f64> =
                    categories.iter().enumerate().map(|(k, c)| ((*c).clone(), k as f64)).collect();
                let column =
                    values.iter().map(|v| v.as_ref().and_then(|v| codes.get(v)).copied().unwrap_or(f64::NAN)).collect();
                encodings.insert(feature.name.clone(), codes);
                column
            }
        })
        .collect();
    (columns, encodings)
}

/// The ROC AUC of a candidate on labelled columns, scored by the model as Warden serves it.
pub fn held_out_auc(candidate: &Candidate, features: &[Feature], labels: &[bool]) -> Result<Option<f64>> {
    use warden_models::{Cell, Model, ModelFormat};
    let format = match candidate.format {
        "linear-json" => ModelFormat::LinearJson,
        _ => ModelFormat::XgboostJson,
    };
    let model =
        Model::load(format, &candidate.artifact).map_err(|e| Error::failed("the trained model does not load", e))?;
    let cell = |feature: &Feature, i: usize| match &feature.column {
        Column::Numeric(values) => values[i].map_or(Cell::Missing, Cell::Number),
        Column::Categorical(values) => match (&values[i], candidate.encodings.get(&feature.name)) {
            (None, _) => Cell::Missing,
            (Some(text), Some(codes)) => codes.get(text).map_or(Cell::Missing, |&c| Cell::Number(c)),
            (Some(text), None) => Cell::Text(text.clone()),
        },
    };
    let mut scores = Vec::with_capacity(labels.len());
    for start in (0..labels.len()).step_by(4096) {
        let end = (start + 4096).min(labels.len());
        let rows: Vec<Vec<Cell>> = (start..end).map(|i| features.iter().map(|f| cell(f, i)).collect()).collect();
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        scores.extend(model.predict(&refs).map_err(|e| Error::invalid(e.to_string()))?.into_iter().map(|p| p.score));
    }
    Ok(warden_stats::metrics::roc_auc(labels, &scores))
}

/// A CSV file as training columns and labels: `target` holds 1 (the event) or 0; a column whose every
/// non-empty cell is a number is numeric, any other is categorical; empty cells are missing.
pub fn read_training_csv(path: &std::path::Path, target: &str) -> Result<(Vec<Feature>, Vec<bool>)> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let label_index = header
        .iter()
        .position(|h| h == target)
        .ok_or_else(|| Error::invalid(format!("{} has no column '{target}'", path.display())))?;
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    let mut labels = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
        match record.get(label_index).map(str::trim) {
            Some("1") => labels.push(true),
            Some("0") => labels.push(false),
            other => {
                return Err(Error::invalid(format!(
                    "{} line {}: the label '{}' is not 0 or 1",
                    path.display(),
                    line + 2,
                    other.unwrap_or_default()
                )));
            }
        }
        for (j, cell) in record.iter().enumerate().take(header.len()) {
            cells[j].push(cell.trim().to_owned());
        }
    }
    let features = header
        .iter()
        .zip(cells)
        .enumerate()
        .filter(|(j, _)| *j != label_index)
        .map(|(_, (name, values))| {
            let numbers: Option<Vec<Option<f64>>> =
                values
                    .iter()
                    .map(|v| {
                        if v.is_empty() {
                            Some(None)
                        } else {
                            v.parse::<f64>().ok().filter(|x| x.is_finite()).map(Some)
                        }
                    })
                    .collect();
            let column = match numbers {
                Some(numbers) => Column::Numeric(numbers),
                None => Column::Categorical(values.into_iter().map(|v| Some(v).filter(|v| !v.is_empty())).collect()),
            };
            Feature { name: name.clone(), column }
        })
        .collect();
    Ok((features, labels))
}

impl Trainer {
    /// A trainer by name: `builtin-lr`, `builtin-gbt` (default settings) or `external:NAME`.
    pub fn parse(text: &str) -> Result<Trainer> {
        match text {
            "builtin-lr" => Ok(Trainer::BuiltinLogistic { c: 1.0 }),
            "builtin-gbt" => Ok(Trainer::BuiltinGbt { options: GbtOptions::default() }),
            other if other.starts_with("external:") && other.len() > "external:".len() => {
                Ok(Trainer::External { name: other["external:".len()..].to_owned() })
            }
            other => Err(Error::invalid(format!(
                "unknown trainer '{other}' (expected builtin-lr, builtin-gbt or external:NAME)"
            ))),
        }
    }
}

/// A model's retraining schedule as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    pub model: String,
    /// The trainer each job uses.
    pub trainer: String,
    /// Hours between jobs.
    pub every_hours: f64,
    /// When the next job is due (µs).
    pub next_at: i64,
    /// Who set it.
    pub updated_by: String,
}

impl From<warden_store::metadata::RetrainSchedule> for Schedule {
    fn from(s: warden_store::metadata::RetrainSchedule) -> Self {
        Schedule {
            model: s.model_name,
            trainer: s.trainer,
            every_hours: s.every_seconds as f64 / 3600.0,
            next_at: s.next_at,
            updated_by: s.updated_by,
        }
    }
}

/// Sets a model's retraining schedule (data scientist, admin): the first job at the scheduler's next round,
/// then one every `every_hours`; `None` removes it. Audited.
pub async fn set_schedule(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    schedule: Option<(&str, f64)>,
) -> Result<Option<Schedule>> {
    caller.require(Permission::WriteRegistry)?;
    get_model(warden, caller, model).await?;
    let now = warden.now();
    let row = match schedule {
        None => None,
        Some((trainer, every_hours)) => {
            Trainer::parse(trainer)?;
            if !(every_hours.is_finite() && (1.0 / 60.0..=24.0 * 365.0).contains(&every_hours)) {
                return Err(Error::invalid("a schedule runs between every minute and once a year (every_hours)"));
            }
            Some(warden_store::metadata::RetrainSchedule {
                model_name: model.into(),
                trainer: trainer.into(),
                every_seconds: (every_hours * 3600.0).round() as i64,
                next_at: now,
                updated_at: now,
                updated_by: caller.actor(),
            })
        }
    };
    let audit = caller.audit_event(
        now,
        "model.retrain_schedule",
        format!("model/{model}"),
        json!({"trainer": row.as_ref().map(|r| &r.trainer), "every_seconds": row.as_ref().map(|r| r.every_seconds)}),
    );
    warden.metadata.put_retrain_schedule(model, row.as_ref(), audit).await?;
    Ok(row.map(Schedule::from))
}

/// A model's retraining schedule, if it has one.
pub async fn schedule(warden: &Oversight, caller: &Principal, model: &str) -> Result<Option<Schedule>> {
    caller.require(Permission::ReadRegistry)?;
    get_model(warden, caller, model).await?;
    Ok(warden.metadata.retrain_schedules().await?.into_iter().find(|s| s.model_name == model).map(Schedule::from))
}

/// Runs the jobs that are due, each as Warden; a job's schedule moves on before it runs, so a failing job
/// waits for its next turn instead of repeating at once.
pub async fn run_due(warden: &Oversight) -> Result<Vec<RetrainJob>> {
    let now = warden.now();
    let mut jobs = Vec::new();
    for due in warden.metadata.retrain_schedules().await?.into_iter().filter(|s| s.next_at <= now) {
        warden.metadata.advance_retrain_schedule(&due.model_name, now + due.every_seconds * 1_000_000).await?;
        let request = RetrainRequest { trainer: Trainer::parse(&due.trainer)?, ..RetrainRequest::default() };
        match retrain(warden, &Principal::system(), &due.model_name, request).await {
            Ok(job) => jobs.push(job),
            Err(err) => tracing::error!(model = %due.model_name, error = %err, "scheduled retraining failed"),
        }
    }
    Ok(jobs)
}

/// What a job is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrainRequest {
    pub trainer: Trainer,
    /// Only decisions made at or after this time (µs); all when `None`.
    pub since: Option<i64>,
    /// Share of requests held out for validation.
    pub holdout: f64,
    /// The alert that asked for it, if a monitor did.
    pub alert_id: Option<i64>,
    /// Also train on the parent version's reference data (its target column, this value = the bad event).
    pub reference_bad_value: Option<String>,
}

impl Default for RetrainRequest {
    fn default() -> Self {
        RetrainRequest {
            trainer: Trainer::BuiltinLogistic { c: 1.0 },
            since: None,
            holdout: 0.3,
            alert_id: None,
            reference_bad_value: None,
        }
    }
}

/// What a job did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrainJob {
    /// The job's id.
    pub id: i64,
    pub model: String,
    /// `builtin-lr`.
    pub trainer: String,
    /// Who asked (`warden` for a monitor's action).
    pub requested_by: String,
    /// The alert that triggered it.
    pub alert_id: Option<i64>,
    pub status: JobStatus,
    /// The version the candidate descends from (the champion when the job ran).
    pub parent_version: Option<i64>,
    /// The candidate.
    pub version: Option<i64>,
    /// Labelled decisions used: for training and held out for validation.
    pub training_rows: usize,
    /// Held-out rows.
    pub validation_rows: usize,
    /// SHA-256 of the exported training data.
    pub training_data_sha256: Option<String>,
    /// The held-out AUC of the candidate (from its validation report).
    pub validation_auc: Option<f64>,
    /// The gate's objections for champion (sign-offs included).
    pub gate_deny: Vec<String>,
    /// The alias the candidate was deployed to.
    pub deployed_as: Option<String>,
    /// What went wrong, for a failed job.
    pub error: Option<String>,
    /// The external command's exit code, duration and output (external trainers).
    pub external: Option<ExternalRun>,
    /// When it started and how long it took.
    pub started_at: i64,
    pub seconds: f64,
    /// Steps, in order.
    pub log: Vec<String>,
}

/// Runs a retraining job for `model` now and records it (data scientist, admin; or a monitor's action).
pub async fn retrain(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    request: RetrainRequest,
) -> Result<RetrainJob> {
    caller.require(Permission::WriteRegistry)?;
    get_model(warden, caller, model).await?;
    if !(0.05..=0.5).contains(&request.holdout) {
        return Err(Error::invalid("the held-out share must be between 0.05 and 0.5"));
    }
    let started = std::time::Instant::now();
    let mut job = RetrainJob {
        id: 0,
        model: model.into(),
        trainer: request.trainer.name(),
        requested_by: caller.actor(),
        alert_id: request.alert_id,
        status: JobStatus::Failed,
        parent_version: None,
        version: None,
        training_rows: 0,
        validation_rows: 0,
        training_data_sha256: None,
        validation_auc: None,
        gate_deny: Vec::new(),
        deployed_as: None,
        error: None,
        external: None,
        started_at: warden.now(),
        seconds: 0.0,
        log: Vec::new(),
    };
    if let Err(err) = run(warden, model, &request, &mut job).await {
        job.log.push(format!("failed: {err}"));
        job.error = Some(err.to_string());
    }
    job.seconds = started.elapsed().as_secs_f64();
    let body = serde_json::to_value(&job).map_err(|e| Error::json("encoding job", e))?;
    let audit = caller.audit_event(
        warden.now(),
        "model.retrain",
        format!("model/{model}"),
        json!({"trainer": job.trainer, "status": job.status, "version": job.version,
               "parent_version": job.parent_version, "alert_id": job.alert_id,
               "training_data_sha256": job.training_data_sha256}),
    );
    job.id = warden.metadata.append_retrain_job(model, job.started_at, &body, audit).await?;
    Ok(job)
}

/// A model's retraining jobs, oldest first.
pub async fn jobs(warden: &Oversight, caller: &Principal, model: &str) -> Result<Vec<Value>> {
    caller.require(Permission::ReadRegistry)?;
    get_model(warden, caller, model).await?;
    Ok(warden
        .metadata
        .retrain_jobs(model)
        .await?
        .into_iter()
        .map(|(id, _, mut body)| {
            body["id"] = json!(id);
            body
        })
        .collect())
}

async fn run(warden: &Oversight, model: &str, request: &RetrainRequest, job: &mut RetrainJob) -> Result<()> {
    let system = Principal::system();
    let champion = current_aliases(warden, &system, model).await?.into_iter().find(|a| a.alias == "champion");
    let parent_number = match champion.and_then(|a| a.version) {
        Some(v) => v,
        None => get_model(warden, &system, model)
            .await?
            .latest_version
            .ok_or_else(|| Error::invalid(format!("model '{model}' has no version to retrain")))?,
    };
    let parent = get_version(warden, &system, model, &parent_number.to_string()).await?;
    job.parent_version = Some(parent.number);
    // Retraining data carries the 0/1 outcome, which the trainers learn; a multiclass classifier learns classes.
    if parent.serving.task.is_multiclass() {
        return Err(Error::invalid(format!(
            "version {} is a multiclass classifier: retraining learns from 0/1 outcomes, not realized classes; \
             train it outside Warden and register the new version",
            parent.number
        )));
    }

    let since = request.since.unwrap_or(i64::MIN);
    let mut rows = warden.metadata.training_rows(model, since, MAX_ROWS).await?;
    // Where the policy says so, reviewed decisions without an outcome are labelled by their review.
    let reviewed = crate::reviews::training_rows(warden, model, since, MAX_ROWS).await?;
    if reviewed.is_empty() {
        job.log.push(format!("read {} labelled decisions", rows.len()));
    } else {
        job.log.push(format!(
            "read {} labelled decisions ({} labelled by outcomes, {} by their reviews, as the policy allows)",
            rows.len() + reviewed.len(),
            rows.len(),
            reviewed.len()
        ));
        rows.extend(reviewed);
        // The newest MAX_ROWS of both, oldest first, as either read alone.
        rows.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.request_id.cmp(&b.request_id)));
        let excess = rows.len().saturating_sub(MAX_ROWS as usize);
        rows.drain(..excess);
    }
    // Decisions whose data a retention purge or an erasure took are left out; encrypted personal inputs are
    // read back with the key.
    let logged = rows.len();
    rows.retain(|r| r.features.as_object().is_some_and(|f| !f.is_empty()));
    if rows.len() < logged {
        job.log.push(format!("left out {} decisions whose data was purged or erased", logged - rows.len()));
    }
    for row in &mut rows {
        for values in [&mut row.features, &mut row.attributes] {
            if let Value::Object(values) = values {
                warden.personal_data_key.reveal(values)?;
            }
        }
    }
    let (train, holdout): (Vec<&TrainingRow>, Vec<&TrainingRow>) =
        rows.iter().partition(|r| !held_out(&r.request_id, request.holdout));
    job.training_rows = train.len();
    job.validation_rows = holdout.len();
    if train.len() < MIN_ROWS || holdout.len() < MIN_ROWS / 4 {
        return Err(Error::invalid(format!(
            "{} labelled decisions ({} to train on, {} held out); a job needs at least {MIN_ROWS} to train on and \
             {} held out",
            rows.len(),
            train.len(),
            holdout.len(),
            MIN_ROWS / 4
        )));
    }
    let schema = training_schema(&parent);
    let protected = parent.protected.clone();
    let reference_rows = match &request.reference_bad_value {
        Some(bad) => {
            let rows = reference_rows(warden, &parent, &schema, bad).await?;
            job.log.push(format!(
                "added {} rows of version {}'s reference data (sha256 {})",
                rows.len(),
                parent.number,
                parent.reference_sha256
            ));
            rows
        }
        None => Vec::new(),
    };
    let train: Vec<&TrainingRow> = train.into_iter().chain(reference_rows.iter()).collect();
    job.training_rows = train.len();
    let training_csv = export(&schema, &protected, &train)?;
    let validation_csv = export(&schema, &protected, &holdout)?;
    let sha = hex::encode(Sha256::digest(&training_csv));
    job.training_data_sha256 = Some(sha.clone());
    job.log.push(format!("exported {} training rows (sha256 {sha}) and {} held-out rows", train.len(), holdout.len()));

    let candidate = match &request.trainer {
        Trainer::External { name } => {
            let Some(external) = warden.config().external_trainers.iter().find(|t| &t.name == name).cloned() else {
                let known: Vec<&str> = warden.config().external_trainers.iter().map(|t| t.name.as_str()).collect();
                return Err(Error::invalid(format!(
                    "no external trainer '{name}' is configured (configured: {})",
                    if known.is_empty() { "none".into() } else { known.join(", ") }
                )));
            };
            let artifact = run_external(warden, &external, &training_csv, job).await?;
            let format: &'static str = warden_registry::artifact_format::ArtifactFormat::ALL
                .into_iter()
                .find(|f| f.as_str() == external.format)
                .map(|f| f.as_str())
                .ok_or_else(|| Error::Inconsistent(format!("unknown format {}", external.format)))?;
            let mut hyperparameters = serde_json::Map::new();
            hyperparameters.insert("trainer".into(), json!(request.trainer.name()));
            hyperparameters.insert("command".into(), json!(external.command));
            Candidate {
                artifact,
                format,
                encodings: BTreeMap::new(),
                hyperparameters,
                summary: format!("external trainer '{}' wrote a {} model", external.name, external.format),
            }
        }
        trainer => {
            let trainer = trainer.clone();
            let features = feature_columns(&schema, &train)?;
            let labels: Vec<bool> = train.iter().map(|r| r.label).collect();
            tokio::task::spawn_blocking(move || self::train(&trainer, &features, &labels))
                .await
                .map_err(|e| Error::task("training", e))??
        }
    };
    job.log.push(candidate.summary.clone());

    let mut hyperparameters = candidate.hyperparameters.clone();
    hyperparameters.insert("holdout".into(), json!(request.holdout));
    if let Some(alert) = request.alert_id {
        hyperparameters.insert("triggered_by_alert".into(), json!(alert));
    }
    let version_request = VersionRequest {
        format: candidate.format.parse()?,
        columns: ColumnPlan {
            target: Some(LABEL_COLUMN.into()),
            protected: protected.clone(),
            exclude: Vec::new(),
            score: None,
            schema: Some(schema.clone()),
        },
        lineage: Lineage {
            training_data_sha256: Some(sha),
            training_data_rows: Some(train.len() as u64),
            code_ref: Some(format!("warden:retrain/{}", env!("CARGO_PKG_VERSION"))),
            hyperparameters,
            parent_version: Some(parent.number),
            artifact_signature: None,
        },
        serving: parent.serving.clone(),
        encodings: candidate.encodings.clone(),
        unknown_category: (candidate.format == "xgboost-json")
            .then_some(warden_registry::registry::UnknownCategory::Missing),
    };
    let artifact = staged(warden, &candidate.artifact).await?;
    let reference = staged(warden, &training_csv).await?;
    let version =
        warden_registry::registry::register_version(warden, &system, model, version_request, artifact, reference)
            .await?;
    job.version = Some(version.number);
    job.status = JobStatus::Registered;
    job.log.push(format!("registered version {} (parent {})", version.number, parent.number));

    let validation = ValidationRequest {
        target: LABEL_COLUMN.into(),
        protected: protected.clone(),
        bad_value: Some("1".into()),
        scenarios: None,
    };
    let number = version.number.to_string();
    let data = staged(warden, &validation_csv).await?;
    let report = crate::validation::validate(warden, &system, model, &number, validation, data).await?;
    job.validation_auc = report.figures.discrimination.auc;
    job.log.push(format!("validated on {} held-out rows: AUC {:?}", report.rows, report.figures.discrimination.auc));

    let decision = crate::governance::gate_check(warden, &system, model, &number, "champion").await?;
    job.gate_deny = decision.decision.deny.clone();
    let beyond_sign_off: Vec<&String> = job.gate_deny.iter().filter(|d| !awaits_sign_off(d)).collect();
    // A challenger a person chose stays: jobs only ever replace their own.
    let current = current_aliases(warden, &system, model).await?.into_iter().find(|a| a.alias == "challenger");
    let hand_set = current.filter(|a| a.version.is_some() && a.assigned_by != system.actor());
    if let Some(held) = hand_set {
        job.log.push(format!(
            "not deployed: the challenger alias holds version {}, set by hand by {}; a retraining job never \
             replaces a challenger a person chose (remove that alias, or deploy version {} by hand)",
            held.version.unwrap_or_default(),
            held.assigned_by,
            version.number
        ));
    } else if beyond_sign_off.is_empty() {
        let reason = format!("retraining job: candidate from version {}", parent.number);
        warden_registry::registry::set_alias(warden, &system, model, "challenger", Some(version.number), &reason, None)
            .await?;
        job.deployed_as = Some("challenger".into());
        job.status = JobStatus::Deployed;
        job.log.push("the gate's only objections are sign-offs: deployed as challenger (shadow)".into());
    } else {
        job.log.push(format!(
            "not deployed: {}",
            beyond_sign_off.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ")
        ));
    }
    Ok(())
}

/// The parent's reference data as training rows: its features as the schema reads them, protected attributes,
/// and its target column as the label (`bad` marks the event; rows without a target value are left out).
async fn reference_rows(
    warden: &Oversight,
    parent: &Version,
    schema: &[warden_registry::registry::FeatureSpec],
    bad: &str,
) -> Result<Vec<TrainingRow>> {
    let Some(target) = parent.target.clone() else {
        return Err(Error::invalid(format!(
            "version {}'s reference data has no target column to train on",
            parent.number
        )));
    };
    let bytes = warden.artifacts().read(&parent.reference_sha256).await?;
    let dir = tempfile::Builder::new()
        .prefix("retrain-")
        .tempdir_in(warden.config().data_dir.join("tmp"))
        .map_err(|e| Error::io("cannot make a job directory", e))?;
    let path = dir.path().join(format!("reference.{}", parent.reference_format));
    std::fs::write(&path, bytes).map_err(|e| Error::io("cannot write the parent's reference data", e))?;
    let (schema, protected, bad) = (schema.to_vec(), parent.protected.clone(), bad.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut rows = Vec::new();
        warden_registry::dataset::for_each_chunk(&path, 4096, |header, chunk| {
            let position = |name: &str| header.iter().position(|h| h == name);
            let label_at = position(&target)
                .ok_or_else(|| Error::invalid(format!("the reference data has no column '{target}'")))?;
            for cells in chunk {
                let Some(label) = cells[label_at].as_deref() else { continue };
                let mut features = serde_json::Map::new();
                for spec in &schema {
                    let value = position(&spec.name).and_then(|i| cells[i].clone());
                    let value = match (spec.kind, value) {
                        (_, None) => Value::Null,
                        (ColumnType::Numeric, Some(text)) => text.parse::<f64>().map_or(Value::Null, |n| json!(n)),
                        (ColumnType::Categorical, Some(text)) => json!(text),
                    };
                    features.insert(spec.name.clone(), value);
                }
                let attributes: serde_json::Map<String, Value> = protected
                    .iter()
                    .map(|p| (p.clone(), position(p).and_then(|i| cells[i].clone()).map_or(Value::Null, Value::String)))
                    .collect();
                rows.push(TrainingRow {
                    at: 0,
                    request_id: String::new(),
                    version: 0,
                    features: Value::Object(features),
                    attributes: Value::Object(attributes),
                    label: label == bad,
                });
            }
            Ok(())
        })?;
        Ok(rows)
    })
    .await
    .map_err(|e| Error::task("reading the reference data", e))?
}

/// The gate's objections that people resolve by signing off (the default bundle's approval rule).
fn awaits_sign_off(reason: &str) -> bool {
    reason.contains(" approval(s) from the ")
}

/// A request is held out when the first byte of its id's SHA-256 falls in the held-out share: the same
/// requests every time, whatever else the log holds.
fn held_out(request_id: &str, share: f64) -> bool {
    let first = Sha256::digest(request_id.as_bytes())[0];
    f64::from(first) < share * 256.0
}

/// The parent's features with raw categories (a linear model takes categories as text, not codes).
fn training_schema(parent: &Version) -> Vec<warden_registry::registry::FeatureSpec> {
    parent
        .feature_schema
        .iter()
        .cloned()
        .map(|mut f| {
            f.encoding = None;
            f.nullable = true;
            f
        })
        .collect()
}

fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The rows as CSV: features in schema order, protected attributes, then the label.
fn export(
    schema: &[warden_registry::registry::FeatureSpec],
    protected: &[String],
    rows: &[&TrainingRow],
) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = schema.iter().map(|f| f.name.as_str()).collect();
    header.extend(protected.iter().map(String::as_str));
    header.push(LABEL_COLUMN);
    writer.write_record(&header).map_err(|e| Error::failed("writing the training CSV", e))?;
    for row in rows {
        let mut record: Vec<String> = schema.iter().map(|f| cell_text(&row.features[f.name.as_str()])).collect();
        record.extend(protected.iter().map(|p| cell_text(&row.attributes[p.as_str()])));
        record.push(if row.label { "1".into() } else { "0".into() });
        writer.write_record(&record).map_err(|e| Error::failed("writing the training CSV", e))?;
    }
    writer.into_inner().map_err(|e| Error::failed("writing the training CSV", e))
}

fn feature_columns(schema: &[warden_registry::registry::FeatureSpec], rows: &[&TrainingRow]) -> Result<Vec<Feature>> {
    schema
        .iter()
        .map(|spec| {
            let values = rows.iter().map(|r| &r.features[spec.name.as_str()]);
            let column = match spec.kind {
                ColumnType::Numeric => Column::Numeric(values.map(|v| v.as_f64()).collect()),
                ColumnType::Categorical => {
                    Column::Categorical(values.map(|v| Some(cell_text(v)).filter(|t| !t.is_empty())).collect())
                }
            };
            Ok(Feature { name: spec.name.clone(), column })
        })
        .collect()
}

async fn staged(warden: &Oversight, bytes: &[u8]) -> Result<warden_registry::registry::StagedFile> {
    let mut writer = warden.artifacts().stage(warden.config().max_upload_bytes).await?;
    writer.write(bytes).await?;
    Ok(writer.finish().await?)
}

/// Both versions' scores on the same requests (the shadow's and the serving route's), and once outcomes
/// arrive, both versions' performance on them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChallengerReport {
    pub model: String,
    /// Requests scored by both.
    pub requests: usize,
    /// The versions that served them.
    pub served_versions: Vec<i64>,
    pub shadow_versions: Vec<i64>,
    /// Share of requests where both reached the same decision.
    pub agreement: Option<f64>,
    /// Mean absolute difference of the scores (`None` for multiclass classifiers, whose scores are of the
    /// classes each decided).
    pub mean_score_difference: Option<f64>,
    /// Requests with an outcome (0 for multiclass classifiers: their AUC and Brier score are not computed
    /// here).
    pub labelled: usize,
    /// ROC AUC of the served scores on the labelled requests.
    pub served_auc: Option<f64>,
    /// ROC AUC of the shadow scores on the same requests.
    pub shadow_auc: Option<f64>,
    /// Brier score of the served scores.
    pub served_brier: Option<f64>,
    /// Brier score of the shadow scores.
    pub shadow_brier: Option<f64>,
}

/// The champion-versus-challenger report over the shadow's requests since `since`.
pub async fn challenger_report(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    since: i64,
) -> Result<ChallengerReport> {
    caller.require(Permission::ReadDecisions)?;
    get_model(warden, caller, model).await?;
    let pairs = warden.metadata.shadow_pairs(model, since, 1_000_000).await?;
    let n = pairs.len();
    let mut served_versions: Vec<i64> = pairs.iter().map(|p| p.served.0).collect();
    served_versions.sort_unstable();
    served_versions.dedup();
    let mut shadow_versions: Vec<i64> = pairs.iter().map(|p| p.shadow.0).collect();
    shadow_versions.sort_unstable();
    shadow_versions.dedup();
    let share = |count: usize| (n > 0).then(|| count as f64 / n as f64);
    // A multiclass classifier's score is its decided class's probability: two versions' scores may be of
    // different classes, and a 0/1 outcome judges neither.
    let mut multiclass = false;
    for version in served_versions.iter().chain(&shadow_versions) {
        multiclass |= get_version(warden, caller, model, &version.to_string()).await?.serving.task.is_multiclass();
    }
    let labelled: Vec<_> = if multiclass {
        Vec::new()
    } else {
        pairs.iter().filter_map(|p| Some((p.label?, p.served.1, p.shadow.1))).collect()
    };
    let labels: Vec<bool> = labelled.iter().map(|l| l.0).collect();
    let served: Vec<f64> = labelled.iter().map(|l| l.1).collect();
    let shadow: Vec<f64> = labelled.iter().map(|l| l.2).collect();
    let brier = |scores: &[f64]| {
        (!scores.is_empty()).then(|| {
            scores.iter().zip(&labels).map(|(s, &y)| (s - f64::from(u8::from(y))).powi(2)).sum::<f64>()
                / scores.len() as f64
        })
    };
    Ok(ChallengerReport {
        model: model.into(),
        requests: n,
        served_versions,
        shadow_versions,
        agreement: share(pairs.iter().filter(|p| p.served.2 == p.shadow.2).count()),
        mean_score_difference: (n > 0 && !multiclass)
            .then(|| pairs.iter().map(|p| (p.served.1 - p.shadow.1).abs()).sum::<f64>() / n as f64),
        labelled: labelled.len(),
        served_auc: warden_stats::metrics::roc_auc(&labels, &served),
        shadow_auc: warden_stats::metrics::roc_auc(&labels, &shadow),
        served_brier: brier(&served),
        shadow_brier: brier(&shadow),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_held_out_share_is_stable_and_about_right() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("req-{i}")).collect();
        let held = ids.iter().filter(|id| held_out(id, 0.3)).count();
        assert!((2_800..3_200).contains(&held), "{held}");
        assert!(ids.iter().all(|id| held_out(id, 0.3) == held_out(id, 0.3)));
    }

    #[test]
    fn only_the_approval_rule_awaits_sign_off() {
        assert!(awaits_sign_off("medium-risk models need 1 approval(s) from the validator role; 0 given"));
        assert!(!awaits_sign_off("AUC 0.612 is below the minimum 0.70 for a medium-risk model"));
        assert!(!awaits_sign_off("rejected by vera (validator): not fit"));
    }
}
