/*!
Decisions made outside Warden, by versions registered as served elsewhere (`--format external`), taken into
the one decision log: over HTTP (`POST /v1/models/{name}/decisions`), from KServe's payload logger, and from
Kafka topics. Every monitor, the retraining loop and the evidence bundle then read them like decisions Warden
scored.

- A decision record (one JSON object, [`DecisionRecord`]) names its `request_id`, `version`, `at` (when the
  platform decided, RFC 3339), `features`, `attributes`, `score` and optionally `decision`. Its features are
  checked against the version's schema exactly as scoring checks a request.
- A batch lands whole or not at all: every bad row is reported with its index and field, and nothing of the
  batch is logged. A request id already ingested for the version is skipped and counted as a duplicate, so a
  retried batch adds nothing.
- Which alias the decision was made under is read from the alias history at its `at`: `champion`, `canary`,
  `shadow` (the challenger), or `unapproved` when no production alias held the version then. An unapproved
  decision is still logged; the monitor round raises a critical `unapproved_version_serving` alert for it.
- Time: a decision more than [`FUTURE_TOLERANCE_MICROS`] ahead of the server's clock is refused. A late one
  lands in the log, in the version's running totals, and in its 10-second bucket while that bucket is still
  kept (the last hour), so the next monitor round's windows over that time include it. Older than the kept
  hour, it is in the log and in everything read from the log (performance on outcomes, CBPE, fairness on
  outcomes, the evidence bundle), not in the live windows; its clock hour is noted in the store in the
  transaction that logs it ([`NewDecision::late_period`]), and the next monitor round (on whichever replica
  runs it) stores a revised evaluation of that hour for every window-based monitor, computed from the hour's
  decisions read back from the log, and clears the note in the same transaction: a crash in between loses
  no revision.
*/

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
/// What a stream's records are ([`DecisionRecord`]s or [`OutcomeRecord`]s).
pub use warden_core::StreamKind;
use warden_core::{DecisionSource, Route, Timestamp};
use warden_store::metadata::{
    AliasAssignment, DeadLetter, MAX_DEAD_LETTER_PAYLOAD, Micros, NewDecision, NewOutcome, StreamAdvance, StreamCommit,
    StreamCommitted, SuspensionRow,
};

use crate::decision_log::Fold;
use crate::scoring::LoadedVersion;
use crate::{Error, Result, Serving};
use warden_registry::auth::{Permission, Principal};
use warden_registry::binding::{Binding, Given, MAX_REQUEST_ID, check_given};

/// Most decisions one batch may carry.
pub const MAX_INGEST_ROWS: usize = 10_000;
/// How far ahead of the server's clock a decision time may be (clocks of two platforms drift apart).
pub const FUTURE_TOLERANCE_MICROS: i64 = 5 * 60 * 1_000_000;
/// Largest decision record (bytes of JSON).
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// The period a late decision's revised evaluation covers: its clock hour.
pub const LATE_PERIOD_MICROS: i64 = 3_600 * 1_000_000;

/// One decision made elsewhere, as it arrives (HTTP body row, Kafka record).
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    /// The platform's id of the request (joins outcomes to it).
    pub request_id: String,
    /// The version that decided.
    pub version: i64,
    /// When the platform decided.
    pub at: Timestamp,
    /// The model's inputs.
    pub features: RecordFeatures,
    /// Monitor-only columns (protected attributes, exposure).
    pub attributes: Map<String, Value>,
    /// The model's score: the probability of the bad event.
    pub score: f64,
    /// The decision made; when absent, the version's threshold gives it.
    pub decision: Option<String>,
}

/// A decision's features as they arrive.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordFeatures {
    /// The JSON text of an object, as a record carried it: checked while it is read straight into the
    /// version's feature order (no JSON object is built), and logged as it came (serialising an object again
    /// would cost as much as reading it).
    Text(Box<str>),
    /// An object (a KServe request's instance joined to the schema's names).
    Object(Map<String, Value>),
}

/// A decision record as read, its features still JSON text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordText<'a> {
    request_id: String,
    version: i64,
    at: Timestamp,
    #[serde(borrow)]
    features: &'a RawValue,
    #[serde(default)]
    attributes: Map<String, Value>,
    score: f64,
    #[serde(default)]
    decision: Option<String>,
}

impl DecisionRecord {
    /// Reads one record of at most [`MAX_RECORD_BYTES`]; the error says what is wrong with the JSON. The
    /// attributes are built (serde_json refuses nesting deeper than 128 levels first); the features stay
    /// text, skipped without recursion here and read into the version's features when it is known (a nested
    /// value there is refused by the version's checks).
    pub fn parse(bytes: &[u8]) -> std::result::Result<DecisionRecord, String> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(format!("the record is {} bytes; at most {MAX_RECORD_BYTES} are accepted", bytes.len()));
        }
        let record: RecordText = serde_json::from_slice(bytes).map_err(|e| format!("not a decision record: {e}"))?;
        // Valid JSON (serde_json read it); read into the version's features once the version is known.
        let features = record.features.get();
        if !features.starts_with('{') {
            return Err(format!("not a decision record: features: expected an object, got `{features:.40}`"));
        }
        Ok(DecisionRecord {
            request_id: record.request_id,
            version: record.version,
            at: record.at,
            features: RecordFeatures::Text(features.into()),
            attributes: record.attributes,
            score: record.score,
            decision: record.decision,
        })
    }
}

/// Reads a batch body: a JSON array of records, or NDJSON (one record per line, blank lines ignored). A row
/// that does not parse is an error naming its index (0-based, as for every other row error).
pub fn parse_batch(body: &[u8]) -> Result<Vec<DecisionRecord>> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let mut rows = Vec::new();
    let mut invalid: Vec<(usize, BTreeMap<String, String>)> = Vec::new();
    match start.map(|i| body[i]) {
        None => return Err(Error::invalid("the body holds no decisions")),
        Some(b'[') => {
            let values: Vec<Box<serde_json::value::RawValue>> = serde_json::from_slice(body)
                .map_err(|e| Error::invalid(format!("the body is not a JSON array of decisions: {e}")))?;
            check_count(values.len())?;
            for (i, value) in values.iter().enumerate() {
                match DecisionRecord::parse(value.get().as_bytes()) {
                    Ok(row) => rows.push(row),
                    Err(e) => invalid.push((i, BTreeMap::from([("record".to_owned(), e)]))),
                }
            }
        }
        Some(_) => {
            let lines = body.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace));
            for (i, line) in lines.enumerate() {
                check_count(i + 1)?;
                match DecisionRecord::parse(line) {
                    Ok(row) => rows.push(row),
                    Err(e) => invalid.push((i, BTreeMap::from([("record".to_owned(), e)]))),
                }
            }
        }
    }
    let total = rows.len() + invalid.len();
    if !invalid.is_empty() {
        return Err(row_errors(invalid, total));
    }
    Ok(rows)
}

fn check_count(rows: usize) -> Result<()> {
    if rows > MAX_INGEST_ROWS {
        return Err(Error::invalid(format!("a batch holds at most {MAX_INGEST_ROWS} decisions")));
    }
    Ok(())
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Decisions logged.
    pub logged: usize,
    /// Decisions skipped because their request id was already logged for their version.
    pub duplicates: usize,
    /// Logged decisions of a version no production alias held at their time.
    pub unapproved: usize,
}

impl IngestReport {
    /// The report of rows the log said were `new` (or skipped as logged before), of which `unapproved` were.
    fn of(new: &[bool], unapproved: &[bool]) -> IngestReport {
        let logged = new.iter().filter(|n| **n).count();
        IngestReport {
            logged,
            duplicates: new.len() - logged,
            unapproved: new.iter().zip(unapproved).filter(|(n, u)| **n && **u).count(),
        }
    }
}

/// A checked batch, ready for the log.
pub(crate) struct Prepared {
    pub(crate) rows: Vec<(Fold, NewDecision)>,
}

/// Takes a batch of decisions made elsewhere into the decision log: all or none, returning once committed.
pub async fn ingest(
    warden: &Serving,
    caller: &Principal,
    model: &str,
    source: DecisionSource,
    records: Vec<DecisionRecord>,
) -> Result<IngestReport> {
    caller.require(Permission::Score)?;
    let prepared = prepare(warden, model, source, records).await.map_err(|(_, err)| err)?;
    let unapproved: Vec<bool> = prepared.rows.iter().map(|(_, d)| d.route == Route::Unapproved.as_str()).collect();
    let new = warden.scoring.log.append(prepared.rows).await?;
    let report = IngestReport::of(&new, &unapproved);
    warden.scoring.metrics.ingested(model, source.as_str(), report.logged, report.duplicates, report.unapproved);
    if report.unapproved > 0 {
        warden.scoring.saw_unapproved(model);
    }
    Ok(report)
}

/// Checks a batch against the model's versions and the alias history; on failure also returns the bad rows
/// (index, reason) so a stream can set exactly those aside.
pub(crate) async fn prepare(
    warden: &Serving,
    model: &str,
    source: DecisionSource,
    records: Vec<DecisionRecord>,
) -> std::result::Result<Prepared, (Vec<(usize, String)>, Error)> {
    let whole = |err: Error| (Vec::new(), err);
    if records.is_empty() {
        return Err(whole(Error::invalid("the batch holds no decisions")));
    }
    check_count(records.len()).map_err(whole)?;
    match warden.metadata.get_model(model).await.map_err(|e| whole(e.into()))? {
        None => return Err(whole(Error::NotFound(format!("model '{model}' not found")))),
        Some(row) => warden_registry::registry::refuse_if_retired(&row).map_err(whole)?,
    }
    let now = warden.now();
    let mut versions: HashMap<i64, std::result::Result<Arc<LoadedVersion>, String>> = HashMap::new();
    for number in records.iter().map(|r| r.version).collect::<HashSet<_>>() {
        let loaded = match crate::scoring::loaded_version(warden, &warden.scoring, model, number).await {
            Ok(v) if v.external.is_some() => Ok(v),
            Ok(v) => Err(format!(
                "version {number} is scored by Warden (format {}): only versions registered with --format external \
                 take decisions made elsewhere",
                v.version.format
            )),
            Err(Error::NotFound(m)) => Err(m),
            Err(other) => return Err(whole(other)),
        };
        versions.insert(number, loaded);
    }
    let history = warden.metadata.alias_history(model, None).await.map_err(|e| whole(e.into()))?;
    let suspensions = warden.metadata.suspensions(model).await.map_err(|e| whole(e.into()))?;

    let total = records.len();
    let mut invalid: Vec<(usize, BTreeMap<String, String>)> = Vec::new();
    let mut seen: HashMap<(i64, String), usize> = HashMap::new();
    let mut rows = Vec::with_capacity(total);
    for (i, record) in records.into_iter().enumerate() {
        let mut errors = BTreeMap::new();
        let version = match &versions[&record.version] {
            Ok(v) => Some(v.clone()),
            Err(message) => {
                errors.insert("version".to_owned(), message.clone());
                None
            }
        };
        let probability = version.as_ref().is_none_or(|v| v.version.serving.task.is_binary());
        if !record.score.is_finite() || (probability && !(0.0..=1.0).contains(&record.score)) {
            let expected = if probability { "a probability in [0, 1]" } else { "a finite number" };
            errors.insert("score".into(), format!("{} is not {expected}", record.score));
        }
        let at = i64::from(record.at);
        if at > now + FUTURE_TOLERANCE_MICROS {
            errors.insert(
                "at".into(),
                format!(
                    "{} is in the future (the server's clock reads {}; at most {} minutes ahead are accepted)",
                    record.at,
                    Timestamp::from(now),
                    FUTURE_TOLERANCE_MICROS / 60_000_000
                ),
            );
        } else if at <= 0 {
            errors.insert("at".into(), format!("{} is not a decision time", record.at));
        }
        if let Some(first) = seen.insert((record.version, record.request_id.clone()), i) {
            errors.insert("request_id".into(), format!("'{}' is also row {first} of this batch", record.request_id));
        }
        let checked = match &version {
            Some(v) => match check_record(&v.binding, &record.request_id, &record.features, &record.attributes) {
                Ok(given) => Some(given),
                Err(fields) => {
                    v.live.refused(at, fields.keys());
                    errors.extend(fields);
                    None
                }
            },
            None => None,
        };
        if let (Some(v), Some(decision)) = (&version, &record.decision) {
            let serving = &v.version.serving;
            if decision != &serving.positive_decision && decision != &serving.negative_decision {
                errors.insert(
                    "decision".into(),
                    format!(
                        "'{decision}' is not one of version {}'s decisions ('{}', '{}')",
                        record.version, serving.negative_decision, serving.positive_decision
                    ),
                );
            }
        }
        if record.request_id.is_empty()
            || record.request_id.len() > MAX_REQUEST_ID
            || record.request_id.chars().any(char::is_control)
        {
            errors.insert("request_id".into(), format!("must be 1-{MAX_REQUEST_ID} printable characters"));
        }
        if !errors.is_empty() {
            invalid.push((i, errors));
            continue;
        }
        let (version, checked) = (version.expect("checked"), checked.expect("checked"));
        let route = route_at(&history, &suspensions, record.version, at);
        let late_period = (at < now - crate::decision_log::LIVE_SPAN_MICROS)
            .then(|| at.div_euclid(LATE_PERIOD_MICROS) * LATE_PERIOD_MICROS);
        let decision = record.decision.unwrap_or_else(|| version.decide_score(record.score).to_owned());
        let (features, features_text) = match record.features {
            RecordFeatures::Text(text) => (Value::Null, Some(text)),
            RecordFeatures::Object(object) => (Value::Object(object), None),
        };
        rows.push((
            Fold { live: Some(version.live.clone()), given: Some(checked) },
            NewDecision {
                at,
                request_id: record.request_id,
                model_name: model.to_owned(),
                version: record.version,
                route: route.as_str().to_owned(),
                features,
                features_text,
                attributes: Value::Object(record.attributes),
                score: record.score,
                probabilities: Vec::new(),
                decision,
                latency_us: 0,
                source: source.as_str().to_owned(),
                late_period,
                subject: None,
            },
        ));
    }
    if !invalid.is_empty() {
        let reasons = invalid
            .iter()
            .map(|(i, fields)| (*i, fields.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; ")))
            .collect();
        return Err((reasons, row_errors(invalid, total)));
    }
    Ok(Prepared { rows })
}

/// Checks a record's features and attributes against the version's schema as scoring checks a request
/// ([`warden_registry::binding::check`]): its features in the schema's order, or every problem by field.
fn check_record(
    binding: &Binding,
    request_id: &str,
    features: &RecordFeatures,
    attributes: &Map<String, Value>,
) -> std::result::Result<Vec<Given>, BTreeMap<String, String>> {
    let (given, unknown) = match features {
        RecordFeatures::Text(text) => binding
            .read_features(text)
            .map_err(|e| BTreeMap::from([("features".to_owned(), format!("not an object of features: {e}"))]))?,
        RecordFeatures::Object(object) => binding.given(object),
    };
    check_given(binding, Some(request_id), &given, &unknown, attributes)?;
    Ok(given)
}

/// The route a decision of `version` made at `at` was made under: the production alias holding the version
/// then, or `unapproved`.
fn route_at(history: &[AliasAssignment], suspensions: &[SuspensionRow], version: i64, at: Micros) -> Route {
    let holder = |alias: &str| {
        history.iter().filter(|a| a.alias == alias && a.assigned_at <= at).last().and_then(|a| a.version)
            == Some(version)
    };
    // While the model was suspended no production version was let answer: the platform's decisions then were
    // made outside the controls, as a version no alias held.
    let suspended = suspensions.iter().filter(|s| s.at <= at).last().is_some_and(|s| s.action == "suspend");
    if suspended && (holder("champion") || holder("canary")) {
        Route::Unapproved
    } else if holder("champion") {
        Route::Champion
    } else if holder("canary") {
        Route::Canary
    } else if holder("challenger") {
        Route::Shadow
    } else {
        Route::Unapproved
    }
}

/// A batch refused for its bad rows (0-based): every one up to [`crate::scoring::MAX_LISTED_ROWS`] with its
/// fields.
fn row_errors(invalid: Vec<(usize, BTreeMap<String, String>)>, total: usize) -> Error {
    crate::scoring::batch_errors(invalid, total, "logged")
}

/// A late label as a stream carries it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRecord {
    /// The decision's request id.
    pub request_id: String,
    /// 1 = the bad event happened, 0 = it did not.
    pub label: i64,
    /// What kind of event (`default`, `chargeback`, ...).
    pub kind: String,
    /// Amount involved, if any.
    #[serde(default)]
    pub amount: Option<f64>,
    /// The realized value a regression model predicted, if any.
    #[serde(default)]
    pub value: Option<f64>,
    /// The realized class a multiclass classifier predicted (one of its class labels), if any.
    #[serde(default)]
    pub class: Option<String>,
}

/// One record read from a stream partition (borrowing the consumer's batch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamRecord<'a> {
    /// Partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// The record's value (`None`: a tombstone); for a record over the consumer's size limit, its head.
    pub payload: Option<&'a [u8]>,
    /// The size of a record over the consumer's size limit (set aside whole).
    pub oversized: Option<usize>,
}

/// Takes a stream's batch into the log in one transaction with the positions it reaches: records that cannot
/// be ingested (not JSON, not a record, refused by the version's checks, a model that does not exist) are kept
/// as dead records with their offset and reason, and consumption goes on. The records are checked first, then
/// `turn` is awaited (the consumer's earlier batches are queued for the log before this one), then the batch
/// is queued, what the turn gave is dropped (the consumer's next batch may be queued), and the batch is
/// written. `Conflict` when a position moved (another consumer took the partition; nothing was written); any
/// other error: nothing was written, retry.
pub async fn ingest_stream<Next: Send>(
    warden: &Serving,
    model: &str,
    kind: StreamKind,
    topic: &str,
    records: Vec<StreamRecord<'_>>,
    advances: Vec<StreamAdvance>,
    turn: impl std::future::Future<Output = Next>,
) -> Result<StreamCommitted> {
    let now = warden.now();
    let dead = |record: &StreamRecord, reason: String| DeadLetter {
        at: now,
        source: DecisionSource::Kafka.as_str().to_owned(),
        topic: Some(topic.to_owned()),
        partition: Some(record.partition),
        offset: Some(record.offset),
        model: Some(model.to_owned()),
        reason,
        payload: record.payload.as_deref().map(payload_text).unwrap_or_default(),
    };
    let mut commit = StreamCommit { at: now, advances, ..Default::default() };
    let mut lives = Vec::new();
    match kind {
        StreamKind::Outcomes => {
            for record in &records {
                let parsed = record
                    .payload
                    .as_deref()
                    .filter(|_| record.oversized.is_none())
                    .ok_or_else(|| match record.oversized {
                        Some(len) => format!("the record is {len} bytes, over the consumer's limit"),
                        None => "the record has no value".to_owned(),
                    })
                    .and_then(|bytes| {
                        if bytes.len() > MAX_RECORD_BYTES {
                            return Err(format!("the record is {} bytes; at most {MAX_RECORD_BYTES}", bytes.len()));
                        }
                        serde_json::from_slice::<OutcomeRecord>(bytes)
                            .map_err(|e| format!("not an outcome record: {e}"))
                    });
                let outcome = parsed.and_then(|o| {
                    let outcome = crate::scoring::Outcome {
                        request_id: o.request_id,
                        label: o.label,
                        kind: o.kind,
                        amount: o.amount,
                        value: o.value,
                        class: o.class,
                    };
                    let errors = crate::scoring::outcome_errors(&outcome);
                    match errors.is_empty() {
                        true => Ok(outcome),
                        false => Err(errors.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; ")),
                    }
                });
                match outcome {
                    Ok(o) => commit.outcomes.push((
                        NewOutcome {
                            request_id: o.request_id,
                            at: now,
                            label: o.label,
                            kind: o.kind,
                            amount: o.amount,
                            value: o.value,
                            class: o.class,
                            recorded_by: format!("kafka:{topic}"),
                        },
                        // Kept instead (the store gives the reason) when no decision has the request id.
                        dead(record, String::new()),
                    )),
                    Err(reason) => commit.dead_letters.push(dead(record, reason)),
                }
            }
        }
        StreamKind::Decisions => {
            let parse = |record: &StreamRecord| match (record.oversized, record.payload) {
                (Some(len), _) => Err(format!("the record is {len} bytes, over the consumer's limit")),
                (None, Some(bytes)) => DecisionRecord::parse(bytes),
                (None, None) => Err("the record has no value".to_owned()),
            };
            // The records that parse (their indices), and their rows.
            let (mut good, mut rows) = (Vec::with_capacity(records.len()), Vec::with_capacity(records.len()));
            for (i, record) in records.iter().enumerate() {
                match parse(record) {
                    Ok(row) => {
                        good.push(i);
                        rows.push(row);
                    }
                    Err(reason) => commit.dead_letters.push(dead(record, reason)),
                }
            }
            // At most two passes: the first names every row the version's checks refuse, the second takes the
            // rest (parsed again: the rows went to the first pass, and a refusal is rare).
            for _ in 0..2 {
                if good.is_empty() {
                    break;
                }
                match prepare(warden, model, DecisionSource::Kafka, std::mem::take(&mut rows)).await {
                    Ok(prepared) => {
                        for (live, decision) in prepared.rows {
                            lives.push(live);
                            commit.decisions.push(decision);
                        }
                        good.clear();
                    }
                    Err((bad, _)) if !bad.is_empty() => {
                        let bad: HashMap<usize, String> = bad.into_iter().collect();
                        let mut kept = Vec::with_capacity(good.len());
                        for (j, i) in good.into_iter().enumerate() {
                            match bad.get(&j) {
                                Some(reason) => commit.dead_letters.push(dead(&records[i], reason.clone())),
                                None => match parse(&records[i]) {
                                    Ok(row) => {
                                        kept.push(i);
                                        rows.push(row);
                                    }
                                    Err(reason) => commit.dead_letters.push(dead(&records[i], reason)),
                                },
                            }
                        }
                        good = kept;
                    }
                    // No such model, or a retired one: nothing of this batch will ever land.
                    Err((_, Error::NotFound(reason) | Error::Gone(reason))) => {
                        for i in good.drain(..) {
                            commit.dead_letters.push(dead(&records[i], reason.clone()));
                        }
                    }
                    Err((_, err)) => return Err(err),
                }
            }
            for i in good {
                commit.dead_letters.push(dead(&records[i], "refused twice by the version's checks".into()));
            }
        }
    }
    // Checked; the batches handed on before this one are written first.
    let next = turn.await;
    if kind == StreamKind::Outcomes {
        // Decisions of this stream's batch may still be queued: outcomes must find them.
        warden.scoring.log.flush().await?;
    }
    let unapproved: Vec<bool> = commit.decisions.iter().map(|d| d.route == Route::Unapproved.as_str()).collect();
    let committed = warden.scoring.log.commit_stream(lives, commit, next).await?;
    let report = IngestReport::of(&committed.new_decisions, &unapproved);
    let source = DecisionSource::Kafka.as_str();
    warden.scoring.metrics.ingested(model, source, report.logged, report.duplicates, report.unapproved);
    if report.unapproved > 0 {
        warden.scoring.saw_unapproved(model);
    }
    // The store's count: outcomes without a decision are dead records too.
    warden.scoring.metrics.dead_records(model, DecisionSource::Kafka.as_str(), committed.dead_letters as usize);
    Ok(committed)
}

/// A dead record's payload as kept: lossy UTF-8, at most [`MAX_DEAD_LETTER_PAYLOAD`] bytes of it.
fn payload_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_DEAD_LETTER_PAYLOAD)]).into_owned()
}

/// What one KServe event did.
#[derive(Debug, Clone, PartialEq)]
pub enum KserveOutcome {
    /// Kept until its other half (the request's response, or the response's request) arrives.
    Waiting,
    /// Joined with its other half; the decisions are committed.
    Logged(IngestReport),
}

/// Takes one CloudEvent of KServe's payload logger for a version registered as external: kept until its
/// other half arrives (in either order, however far apart: the halves wait in the store), then joined by the
/// event id into decisions and logged like any ingested batch, and the halves forgotten. A malformed event,
/// or a pair the version's checks refuse, is kept as a dead record with its reason and refused (`Invalid`).
pub async fn ingest_kserve_event<'h>(
    warden: &Serving,
    caller: &Principal,
    model: &str,
    version: i64,
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
    body: &[u8],
) -> Result<KserveOutcome> {
    caller.require(Permission::Score)?;
    // A retired model takes neither half of an event.
    match warden.metadata.get_model(model).await? {
        None => return Err(Error::NotFound(format!("model '{model}' not found"))),
        Some(row) => warden_registry::registry::refuse_if_retired(&row)?,
    }
    let loaded = crate::scoring::loaded_version(warden, &warden.scoring, model, version).await?;
    if loaded.external.is_none() {
        return Err(Error::Conflict(format!(
            "version {version} of '{model}' is scored by Warden: only versions registered with --format external take \
             decisions made elsewhere"
        )));
    }
    let now = warden.now();
    let set_aside = |reason: String, payload: &[u8]| DeadLetter {
        at: now,
        source: DecisionSource::Kserve.as_str().to_owned(),
        topic: None,
        partition: None,
        offset: None,
        model: Some(model.to_owned()),
        reason,
        payload: payload_text(payload),
    };
    let event = match crate::kserve::parse_event(headers, body) {
        Ok(event) => event,
        Err(err) => {
            let reason = format!("not a KServe inference event: {err}");
            warden.metadata.insert_dead_letters(&[set_aside(reason.clone(), body)]).await?;
            warden.scoring.metrics.dead_records(model, DecisionSource::Kserve.as_str(), 1);
            return Err(Error::invalid(reason));
        }
    };
    let at = event.time.map_or(now, i64::from);
    let other =
        warden.metadata.put_kserve_half(model, version, &event.id, event.kind.as_str(), at, &event.data).await?;
    let Some((other_at, other_data)) = other else { return Ok(KserveOutcome::Waiting) };
    let other_kind = match event.kind {
        crate::kserve::EventKind::Request => crate::kserve::EventKind::Response,
        crate::kserve::EventKind::Response => crate::kserve::EventKind::Request,
    };
    // The decision was made when the request came in.
    let decided_at = if event.kind == crate::kserve::EventKind::Request { at } else { other_at };
    let features: Vec<String> = loaded.version.feature_schema.iter().map(|f| f.name.clone()).collect();
    let joined = crate::kserve::KserveEvent::from_stored(&event.id, other_kind, &other_data)
        .map_err(|e| e.to_string())
        .and_then(|other| crate::kserve::join(&event, &other, &features).map_err(|e| e.to_string()));
    let outcome = match joined {
        Ok(decisions) => {
            let records = decisions
                .into_iter()
                .map(|d| DecisionRecord {
                    request_id: d.request_id,
                    version,
                    at: Timestamp::from(decided_at),
                    features: RecordFeatures::Object(d.features),
                    attributes: Map::new(),
                    score: d.score,
                    decision: None,
                })
                .collect();
            ingest(warden, caller, model, DecisionSource::Kserve, records).await
        }
        Err(reason) => {
            Err(Error::invalid(format!("the request and response of event '{}' do not join: {reason}", event.id)))
        }
    };
    match outcome {
        Ok(report) => {
            warden.metadata.remove_kserve_event(model, version, &event.id).await?;
            Ok(KserveOutcome::Logged(report))
        }
        // A pair the version refuses is set aside (and forgotten: the same halves would be refused again).
        Err(Error::Invalid { message, details }) => {
            let payload = format!("{{\"{}\": {}, \"{}\": {}}}", event.kind, event.data, other_kind, other_data);
            warden.metadata.insert_dead_letters(&[set_aside(message.clone(), payload.as_bytes())]).await?;
            warden.scoring.metrics.dead_records(model, DecisionSource::Kserve.as_str(), 1);
            warden.metadata.remove_kserve_event(model, version, &event.id).await?;
            Err(Error::Invalid { message: format!("{message} (kept as a dead record)"), details })
        }
        Err(other) => Err(other),
    }
}

/// A stream consumer's state as this replica last saw it (its consumer publishes it with
/// [`crate::scoring::Scoring::publish_stream`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamStatus {
    /// Consumer group.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// The model its records are for.
    pub model: String,
    /// What its records are.
    pub kind: StreamKind,
    /// Whether the brokers answer.
    pub connected: bool,
    /// The last error (a broker down, a topic that does not exist).
    pub last_error: Option<String>,
    /// Per partition assigned here: (partition, next offset stored, high watermark).
    pub partitions: Vec<(i32, Option<i64>, Option<i64>)>,
    /// Lag (records) above which the integrity monitor raises an alert.
    pub lag_alert: i64,
    /// Records removed by the topic's retention before this replica stored them (since it started).
    pub expired: u64,
}

impl StreamStatus {
    /// A partition's lag, when both ends are known.
    pub fn lag(position: Option<i64>, high_watermark: Option<i64>) -> Option<i64> {
        Some((high_watermark? - position.unwrap_or(0)).max(0))
    }

    /// Why the stream needs attention, if it does: its brokers do not answer, a partition's lag is above the
    /// alert level, or records expired from the topic before they were stored.
    pub fn deviation(&self) -> Option<String> {
        let mut reasons = Vec::new();
        if !self.connected {
            reasons.push(format!(
                "the brokers of topic '{}' do not answer ({}); lag grows until they do",
                self.topic,
                self.last_error.as_deref().unwrap_or("no error reported")
            ));
        }
        let behind: Vec<String> = self
            .partitions
            .iter()
            .filter_map(|(p, position, end)| Some((p, Self::lag(*position, *end)?)))
            .filter(|(_, lag)| *lag > self.lag_alert)
            .map(|(p, lag)| format!("partition {p} is {lag} records behind"))
            .collect();
        if !behind.is_empty() {
            reasons.push(format!("topic '{}': {} (alert above {})", self.topic, behind.join(", "), self.lag_alert));
        }
        if self.expired > 0 {
            reasons.push(format!(
                "{} records of topic '{}' expired from it before they were stored: their decisions are not in the log",
                self.expired, self.topic
            ));
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

/// The state of ingestion.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestionStatus {
    /// Records set aside, in all, and the newest of them.
    pub dead_letters: (i64, Vec<DeadLetter>),
    /// Per model: KServe request halves and response halves waiting, and the oldest one's arrival.
    pub kserve_waiting: Vec<(String, i64, i64, Option<Micros>)>,
    /// This replica's stream consumers.
    pub streams: Vec<StreamStatus>,
    /// Outcomes read from a stream that wait for their decisions.
    pub pending_outcomes: i64,
}

/// Records set aside, KServe halves waiting, and this replica's stream consumers with their lag.
pub async fn status(warden: &Serving, caller: &Principal, recent: i64) -> Result<IngestionStatus> {
    caller.require(Permission::ReadDecisions)?;
    Ok(IngestionStatus {
        dead_letters: {
            let (letters, total) = warden.metadata.dead_letters(recent.clamp(0, 1000)).await?;
            (total, letters)
        },
        kserve_waiting: warden.metadata.kserve_waiting(Micros::MAX).await?,
        streams: warden.scoring.streams(),
        pending_outcomes: warden.metadata.pending_outcome_count().await?,
    })
}
