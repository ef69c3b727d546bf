use crate::wire::LiveDriftQuery;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warden_core::DecisionSource;
use warden_oversight::reviews;
use warden_serving::ingest;
use warden_serving::scoring::{self, Outcome};

use super::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::wire::{
    BatchResponseBody, DecisionBody, DecisionQuery, DecisionRecordBody, DecisionReviewBody, ErrorBody, IngestedBody,
    IngestionBody, KserveEventBody, LiveDriftBody, LiveProfileBody, OutcomesBody, OutcomesRecorded, ReviewRequestBody,
    ScoreQuery, ScoreRequestBody, ScoreResponseBody, ScoringSchemaBody, ToWire, score_request,
};

/// Score one request: the champion answers (or the canary, for its share of request ids); a challenger is
/// scored in shadow. Every decision is logged (scorer, data-scientist, admin).
#[utoipa::path(post, path = "/v1/models/{name}/score", tag = "scoring", request_body = ScoreRequestBody,
    params(ScoreQuery, ("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ScoreResponseBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn score(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ScoreQuery>,
    ApiJson(body): ApiJson<ScoreRequestBody>,
) -> Result<Json<ScoreResponseBody>, ApiError> {
    let response = scoring::score(&warden, &caller, &name, score_request(body), query.version.as_deref()).await?;
    Ok(Json(response.to_wire()))
}

/// The version the caller's requests would be scored with (the champion, or `?version=`, under the rules of
/// scoring) and what a request must carry: its input schema and monitor-only attributes. Bulk scoring reads
/// it, so a business application needs no right to read the registry (scorer, data-scientist, admin;
/// validators naming a version).
#[utoipa::path(get, path = "/v1/models/{name}/score/schema", tag = "scoring",
    params(ScoreQuery, ("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ScoringSchemaBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn scoring_schema(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ScoreQuery>,
) -> Result<Json<ScoringSchemaBody>, ApiError> {
    let (version, route) = scoring::scoring_version(&warden, &caller, &name, query.version.as_deref()).await?;
    Ok(Json(ScoringSchemaBody {
        model: version.model,
        version: version.number,
        route,
        features: version.feature_schema.into_iter().map(ToWire::to_wire).collect(),
        attributes: version.protected,
        classes: version.serving.classes,
    }))
}

/// Parses a batch: a JSON array, or NDJSON (one request per line) with `Content-Type: application/x-ndjson`.
fn parse_batch(headers: &HeaderMap, body: &[u8]) -> Result<Vec<ScoreRequestBody>, ApiError> {
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson") || v.starts_with("application/ndjson"));
    if ndjson {
        let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("NDJSON body is not UTF-8"))?;
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .map_err(|e| ApiError::bad_request(format!("NDJSON line {}: malformed request: {e}", i + 1)))
            })
            .collect()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("malformed batch (a JSON array of requests): {e}")))
    }
}

/// A request id names one decision: a batch that repeats one is refused (409, naming the id and both rows,
/// 0-based) before anything is scored. Ids the lifecycle will refuse anyway (too long, control characters)
/// are left to its check, so a hostile id is never echoed.
fn distinct_request_ids(requests: &[ScoreRequestBody]) -> Result<(), ApiError> {
    let mut seen = std::collections::HashMap::with_capacity(requests.len());
    for (row, request) in requests.iter().enumerate() {
        let Some(id) = request.request_id.as_deref() else { continue };
        // The lifecycle's own check: 1 to 128 bytes, no control character.
        if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
            continue;
        }
        if let Some(first) = seen.insert(id, row) {
            return Err(ApiError::conflict_with(
                format!(
                    "request_id '{id}' is used twice in the batch (rows {first} and {row}); a request id names one decision"
                ),
                serde_json::json!({"request_id": id, "rows": [first, row]}),
            ));
        }
    }
    Ok(())
}

/// Score many requests in one call: a JSON array, or NDJSON. All rows are checked first; if any is invalid,
/// nothing is scored and the error names the row and its fields. Request ids must be distinct (409).
#[utoipa::path(post, path = "/v1/models/{name}/score/batch", tag = "scoring", request_body = Vec<ScoreRequestBody>,
    params(ScoreQuery, ("name" = String, Path, description = "Model name")),
    responses((status = 200, body = BatchResponseBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn score_batch(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ScoreQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BatchResponseBody>, ApiError> {
    let body = batch_body(body, "a batch")?;
    let requests = parse_batch(&headers, &body)?;
    distinct_request_ids(&requests)?;
    let requests = requests.into_iter().map(score_request).collect();
    let results = scoring::score_batch(&warden, &caller, &name, requests, query.version.as_deref()).await?;
    Ok(Json(BatchResponseBody { results: results.into_iter().map(ToWire::to_wire).collect() }))
}

/// Take in decisions made outside Warden by versions registered as external (the serving platform's scorer
/// token, or an admin): a JSON array of decision records, or NDJSON (one per line). The batch is logged
/// whole or not at all: every bad row is reported (422, `details.rows` with each row's index, 0-based, and
/// fields). A request id already ingested for the version is skipped and counted as a duplicate, so a retried
/// batch adds nothing. Answered once committed.
#[utoipa::path(post, path = "/v1/models/{name}/decisions", tag = "scoring", request_body = Vec<DecisionRecordBody>,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = IngestedBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn ingest_decisions(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestedBody>, ApiError> {
    let body = batch_body(body, "a batch")?;
    // Who may send is checked before the body is read as decisions.
    caller.require(warden_registry::auth::Permission::Score).map_err(warden_registry::Error::from)?;
    let records = ingest::parse_batch(&body)?;
    let report = ingest::ingest(&warden, &caller, &name, DecisionSource::Http, records).await?;
    Ok(Json(IngestedBody { logged: report.logged, duplicates: report.duplicates, unapproved: report.unapproved }))
}

/// KServe's payload logger for a version registered as external: point the InferenceService's
/// `spec.predictor.logger.url` here. Each CloudEvent (binary or structured mode; V1 or V2 bodies) is kept until
/// its other half arrives, in either order, then request and response are joined by `ce-id` into decisions
/// and logged (200); a half still waiting answers 202. A malformed event, or a pair the version's checks
/// refuse, is kept as a dead record (`GET /v1/ingestion`) and refused (422).
#[utoipa::path(post, path = "/v1/models/{name}/versions/{version}/kserve-events", tag = "scoring",
    request_body(content = Object, description = "A CloudEvent: binary mode (ce-* headers, the V1 or V2 \
        inference body) or structured mode (application/cloudevents+json)"),
    params(("name" = String, Path, description = "Model name"), ("version" = i64, Path, description = "Version")),
    responses((status = 200, body = KserveEventBody), (status = 202, body = KserveEventBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn kserve_event(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, i64)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<KserveEventBody>), ApiError> {
    let body = batch_body(body, "an event")?;
    let headers = headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes()));
    let outcome = ingest::ingest_kserve_event(&warden, &caller, &name, version, headers, &body).await?;
    Ok(match outcome {
        ingest::KserveOutcome::Waiting => (
            StatusCode::ACCEPTED,
            Json(KserveEventBody { status: "waiting".into(), logged: 0, duplicates: 0, unapproved: 0 }),
        ),
        ingest::KserveOutcome::Logged(r) => (
            StatusCode::OK,
            Json(KserveEventBody {
                status: "logged".into(),
                logged: r.logged,
                duplicates: r.duplicates,
                unapproved: r.unapproved,
            }),
        ),
    })
}

/// The state of ingestion: records set aside (dead letters, newest first), KServe halves waiting for their
/// other half (requests whose response never came), and this replica's Kafka consumers with each partition's
/// position, end and lag (data-scientist, validator, risk-officer, admin).
#[utoipa::path(get, path = "/v1/ingestion", tag = "scoring",
    responses((status = 200, body = IngestionBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn ingestion(
    State(warden): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<IngestionBody>, ApiError> {
    let status = ingest::status(&warden, &caller, 50).await?;
    Ok(Json(status.to_wire()))
}

/// Record late outcomes (default, chargeback) by request id: all or none (scorer, admin).
#[utoipa::path(post, path = "/v1/outcomes", tag = "scoring", request_body = OutcomesBody,
    responses((status = 201, body = OutcomesRecorded), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn record_outcomes(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<OutcomesBody>,
) -> Result<(StatusCode, Json<OutcomesRecorded>), ApiError> {
    let outcomes = body
        .outcomes
        .into_iter()
        .map(|o| Outcome {
            request_id: o.request_id,
            label: o.label,
            kind: o.kind,
            amount: o.amount,
            value: o.value,
            class: o.class,
        })
        .collect();
    let recorded = scoring::record_outcomes(&warden, &caller, outcomes).await?;
    Ok((StatusCode::CREATED, Json(OutcomesRecorded { recorded })))
}

/// The decision log of a model, oldest first (data-scientist, validator, risk-officer, admin).
#[utoipa::path(get, path = "/v1/models/{name}/decisions", tag = "scoring",
    params(DecisionQuery, ("name" = String, Path, description = "Model name")),
    responses((status = 200, body = Vec<DecisionBody>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_decisions(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<DecisionQuery>,
) -> Result<Json<Vec<DecisionBody>>, ApiError> {
    let limit = query.limit.unwrap_or(1000);
    let rows = reviews::decisions_with_reviews(&warden, &caller, &name, query.request_id.as_deref(), limit).await?;
    Ok(Json(rows.into_iter().map(ToWire::to_wire).collect::<Result<_, _>>()?))
}

/// Review one decision the production routes answered: confirm it, override it with another decision, or
/// reverse it, with one of the policy's reason codes (reviewer, admin). Append-only and audited; the person
/// whose review set the decision's current state may not review it again unless the policy allows it.
#[utoipa::path(post, path = "/v1/decisions/{request_id}/review", tag = "scoring", request_body = ReviewRequestBody,
    params(("request_id" = String, Path, description = "The decision's request id")),
    responses((status = 201, body = DecisionReviewBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn review_decision(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(request_id): Path<String>,
    ApiJson(body): ApiJson<ReviewRequestBody>,
) -> Result<(StatusCode, Json<DecisionReviewBody>), ApiError> {
    let input = reviews::ReviewInput {
        model: body.model,
        action: body.action,
        decision: body.decision,
        reason_code: body.reason_code,
        note: body.note,
    };
    let review = reviews::review(&warden, &caller, &request_id, input).await?;
    Ok((StatusCode::CREATED, Json(review.to_wire())))
}

/// Live window profiles of the model's loaded versions since they were loaded.
#[utoipa::path(get, path = "/v1/models/{name}/live", tag = "scoring",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = Vec<LiveProfileBody>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn live_profiles(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<LiveProfileBody>>, ApiError> {
    let profiles = scoring::live_profiles(&warden, &caller, &name).await?;
    Ok(Json(profiles.into_iter().map(|(version, profile)| LiveProfileBody { version, profile }).collect()))
}

/// Drift of the last `seconds` (default 600, at most 3600) of live traffic of each loaded version against its
/// reference: PSI, missing rate, out-of-range and unseen-category shares per feature.
#[utoipa::path(get, path = "/v1/models/{name}/live/drift", tag = "scoring",
    params(("name" = String, Path, description = "Model name"), LiveDriftQuery),
    responses((status = 200, body = Vec<LiveDriftBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn live_drift(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<LiveDriftQuery>,
) -> Result<Json<Vec<LiveDriftBody>>, ApiError> {
    let drift = scoring::live_drift(&warden, &caller, &name, query.seconds.unwrap_or(600)).await?;
    Ok(Json(crate::wire::retype_all(drift)?))
}

/// Prometheus metrics: scored rows, latency histograms and errors per model and version; HTTP requests
/// by route and status; the decision log's queue (any valid token).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, body = String, content_type = "text/plain"), (status = 401, body = ErrorBody)))]
pub(crate) async fn metrics(State(warden): State<AppState>, Caller(_caller): Caller) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], warden.scoring().metrics_text())
        .into_response()
}

/// A batch-sized body, or why it could not be read (`what`: the body's name with its article, "a batch").
pub(crate) fn batch_body(body: Result<Bytes, BytesRejection>, what: &str) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!("{what} body is at most {} bytes", crate::BATCH_BODY_LIMIT))
        } else {
            let noun = what.split_once(' ').map_or(what, |(_, noun)| noun);
            ApiError::bad_request(format!("the {noun} body could not be read: {}", rejection.body_text()))
        }
    })
}
