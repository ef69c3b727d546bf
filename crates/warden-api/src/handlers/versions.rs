use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use warden_lifecycle::Warden;
use warden_registry::Error;
use warden_registry::artifact_format::ArtifactFormat;
use warden_registry::dataset::ColumnPlan;
use warden_registry::registry::{self, FeatureSpec, Lineage, UnknownCategory, VersionRequest};

use super::AppState;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::wire::{ErrorBody, Feature, RegisterVersionForm, RegisterVersionMetadata, VersionBody, version_body};

/// Largest accepted `metadata` part.
pub(crate) const METADATA_LIMIT: usize = 1 << 20;

pub(crate) async fn stage_field(
    warden: &Warden,
    mut field: axum::extract::multipart::Field<'_>,
) -> Result<warden_registry::registry::StagedFile, ApiError> {
    let mut writer = warden.artifacts().stage(warden.config().max_upload_bytes).await.map_err(Error::from)?;
    while let Some(chunk) = field.chunk().await? {
        writer.write(&chunk).await.map_err(Error::from)?;
    }
    Ok(writer.finish().await.map_err(Error::from)?)
}

/// Reads a small part (metadata, a scenario file) into memory, refusing it (413, naming the part) as soon as it
/// is over `limit`, before the rest is read.
pub(crate) async fn read_part(
    mut field: axum::extract::multipart::Field<'_>,
    part: &str,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await? {
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::too_large(format!("the '{part}' part is over its limit of {limit} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn feature_spec(feature: Feature) -> Result<FeatureSpec, ApiError> {
    let kind = match feature.kind.as_str() {
        "numeric" => warden_stats::profile::ColumnType::Numeric,
        "categorical" => warden_stats::profile::ColumnType::Categorical,
        other => {
            return Err(Error::invalid(format!(
                "feature '{}' has unknown type '{other}' (expected numeric or categorical)",
                feature.name
            ))
            .into());
        }
    };
    let unknown_category = unknown_rule(feature.unknown_category.as_deref())?.unwrap_or_default();
    Ok(FeatureSpec {
        name: feature.name,
        kind,
        categories: feature.categories,
        nullable: feature.nullable,
        encoding: feature.encoding,
        unknown_category,
    })
}

fn unknown_rule(text: Option<&str>) -> Result<Option<UnknownCategory>, ApiError> {
    match text {
        None => Ok(None),
        Some("refuse") => Ok(Some(UnknownCategory::Refuse)),
        Some("missing") => Ok(Some(UnknownCategory::Missing)),
        Some(other) => Err(Error::invalid(format!("unknown_category '{other}' (expected refuse or missing)")).into()),
    }
}

/// Register a version: multipart with `metadata` (JSON), `artifact` and `reference` files
/// (data-scientist, admin).
#[utoipa::path(post, path = "/v1/models/{name}/versions", tag = "registry",
    params(("name" = String, Path, description = "Model name")),
    request_body(content = RegisterVersionForm, content_type = "multipart/form-data"),
    responses((status = 201, body = VersionBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn register_version(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    mut form: Multipart,
) -> Result<(StatusCode, Json<VersionBody>), ApiError> {
    // Refuse before reading uploads when the caller may not register or the model does not exist.
    caller.require(warden_registry::auth::Permission::WriteRegistry)?;
    registry::get_model(&warden, &caller, &name).await?;
    let (mut metadata, mut artifact, mut reference) = (None, None, None);
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_owned();
        let seen = match name.as_str() {
            "metadata" => metadata.is_some(),
            "artifact" => artifact.is_some(),
            "reference" => reference.is_some(),
            _ => false,
        };
        super::refuse_repeated_part(&name, seen)?;
        match name.as_str() {
            "metadata" => {
                let bytes = read_part(field, "metadata", METADATA_LIMIT).await?;
                let parsed: RegisterVersionMetadata = serde_json::from_slice(&bytes)
                    .map_err(|e| ApiError::bad_request(format!("malformed metadata JSON: {e}")))?;
                metadata = Some(parsed);
            }
            "artifact" => artifact = Some(stage_field(&warden, field).await?),
            "reference" => reference = Some(stage_field(&warden, field).await?),
            other => return Err(ApiError::bad_request(format!("unexpected multipart field '{other}'"))),
        }
    }
    let missing = |part: &str| ApiError::bad_request(format!("multipart body has no '{part}' part"));
    let metadata = metadata.ok_or_else(|| missing("metadata"))?;
    let artifact = artifact.ok_or_else(|| missing("artifact"))?;
    let reference = reference.ok_or_else(|| missing("reference"))?;
    let schema = match metadata.schema {
        Some(features) => Some(features.into_iter().map(feature_spec).collect::<Result<Vec<_>, _>>()?),
        None => None,
    };
    let request = VersionRequest {
        format: metadata.format.parse::<ArtifactFormat>()?,
        columns: ColumnPlan {
            target: metadata.target,
            protected: metadata.protected,
            exclude: metadata.exclude,
            score: None,
            schema,
        },
        lineage: Lineage {
            training_data_sha256: metadata.training_data_sha256,
            training_data_rows: metadata.training_data_rows,
            code_ref: metadata.code_ref,
            hyperparameters: metadata.hyperparameters,
            parent_version: metadata.parent_version,
            artifact_signature: metadata
                .artifact_signature
                .map(|s| warden_registry::signing::ArtifactSignature { signer: s.signer, signature: s.signature }),
        },
        serving: metadata.serving.map(crate::wire::lifecycle_serving_config).unwrap_or_default(),
        encodings: metadata.encodings,
        unknown_category: unknown_rule(metadata.unknown_category.as_deref())?,
    };
    let version = registry::register_version(&warden, &caller, &name, request, artifact, reference).await?;
    Ok((StatusCode::CREATED, Json(version_body(version, true))))
}

/// List a model's versions (without profiles).
#[utoipa::path(get, path = "/v1/models/{name}/versions", tag = "registry",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = Vec<VersionBody>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_versions(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<VersionBody>>, ApiError> {
    let versions = registry::list_versions(&warden, &caller, &name).await?;
    Ok(Json(versions.into_iter().map(|v| version_body(v, false)).collect()))
}

/// One version with its reference profile; `version` is a number or an alias.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}", tag = "registry",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version number or alias")),
    responses((status = 200, body = VersionBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_version(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<VersionBody>, ApiError> {
    Ok(Json(version_body(registry::get_version(&warden, &caller, &name, &version).await?, true)))
}

/// Download a version's artifact (its SHA-256 is verified first and sent in `x-warden-sha256`).
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}/artifact", tag = "registry",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version number or alias")),
    responses((status = 200, description = "Artifact bytes", content_type = "application/octet-stream"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_artifact(
    State(warden): State<AppState>,
    Caller(caller): Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (version, bytes) = registry::artifact_bytes(&warden, &caller, &name, &version).await?;
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("x-warden-sha256", version.artifact_sha256)
        .body(Body::from(bytes))
        .expect("valid response"))
}
