//! Retraining jobs and the champion-versus-challenger report.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use warden_oversight::retraining::{self, RetrainRequest, Trainer};

use super::{AppState, to_json};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::wire::{
    ChallengerQuery, ChallengerReportBody, ErrorBody, RetrainBody, RetrainJobBody, ScheduleBody, ScheduleInfo,
};

/// Train a candidate from the logged decisions and their outcomes, register, validate, gate, and deploy it as
/// challenger when the gate's only objections are sign-offs (data-scientist, admin).
#[utoipa::path(post, path = "/v1/models/{name}/retrain", tag = "retraining", request_body = RetrainBody,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 201, body = RetrainJobBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn retrain(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<RetrainBody>,
) -> Result<(StatusCode, Json<RetrainJobBody>), ApiError> {
    let mut trainer = Trainer::parse(body.trainer.as_deref().unwrap_or("builtin-lr"))?;
    match &mut trainer {
        Trainer::BuiltinLogistic { c } => *c = body.c.unwrap_or(*c),
        Trainer::BuiltinGbt { options } => {
            options.n_estimators = body.n_estimators.unwrap_or(options.n_estimators).clamp(1, 5_000);
            options.max_depth = body.max_depth.unwrap_or(options.max_depth).clamp(1, 16);
            options.learning_rate = body.learning_rate.unwrap_or(options.learning_rate);
            if !(options.learning_rate > 0.0 && options.learning_rate <= 1.0) {
                return Err(warden_registry::Error::invalid("learning_rate must be in (0, 1]").into());
            }
        }
        Trainer::External { .. } => {}
    }
    let request = RetrainRequest {
        trainer,
        since: body.since,
        holdout: body.holdout.unwrap_or(0.3),
        alert_id: None,
        reference_bad_value: body.reference_bad_value,
    };
    // The job runs on a task of its own: if the request's time limit cuts the answer off, the job still
    // finishes and is recorded (`GET .../retrain` lists it) instead of stopping half-way.
    let job = tokio::spawn(async move { retraining::retrain(&warden, &caller, &name, request).await })
        .await
        .map_err(|e| warden_registry::Error::task("retraining job", e))??;
    Ok((StatusCode::CREATED, to_json(job)?))
}

/// A model's retraining jobs, oldest first.
#[utoipa::path(get, path = "/v1/models/{name}/retrain", tag = "retraining",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = Vec<RetrainJobBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn jobs(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<RetrainJobBody>>, ApiError> {
    to_json(retraining::jobs(&warden, &caller, &name).await?)
}

/// The champion-versus-challenger report: both scores on the same requests, agreement, and both models'
/// performance once outcomes arrive.
#[utoipa::path(get, path = "/v1/models/{name}/challenger-report", tag = "retraining", params(ChallengerQuery,
        ("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ChallengerReportBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn challenger_report(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ChallengerQuery>,
) -> Result<Json<ChallengerReportBody>, ApiError> {
    to_json(retraining::challenger_report(&warden, &caller, &name, query.since.unwrap_or(i64::MIN)).await?)
}

/// Set or clear a model's retraining schedule (data-scientist, admin): `{"trainer": "builtin-lr",
/// "every_hours": 24}`; `every_hours: 0` clears it. The first job runs at the scheduler's next round.
#[utoipa::path(put, path = "/v1/models/{name}/retrain/schedule", tag = "retraining", request_body = ScheduleBody,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = Option<ScheduleInfo>, description = "null when the model has no schedule"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn set_schedule(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> Result<Json<Option<ScheduleInfo>>, ApiError> {
    let schedule =
        (body.every_hours != 0.0).then(|| (body.trainer.as_deref().unwrap_or("builtin-lr"), body.every_hours));
    to_json(retraining::set_schedule(&warden, &caller, &name, schedule).await?)
}

/// A model's retraining schedule (`null` when it has none).
#[utoipa::path(get, path = "/v1/models/{name}/retrain/schedule", tag = "retraining",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = Option<ScheduleInfo>, description = "null when the model has no schedule"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_schedule(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Option<ScheduleInfo>>, ApiError> {
    to_json(retraining::schedule(&warden, &caller, &name).await?)
}
