//! `warden import mlflow`: a version of MLflow's model registry registered in Warden, with what MLflow knows
//! about it. `warden_registry::mlflow` reads it (the server's webhook receiver reads it the same way); this
//! uploads it through the API like `warden version register`.

use anyhow::Context;
use reqwest::multipart::{Form, Part};
use serde_json::json;
use warden_api_types as api;
use warden_registry::mlflow::{self, ModelRef, Tracking};

use crate::cli::ImportMlflowArgs;
use crate::client::{Client, encode};

/// Largest model file downloaded.
const MAX_ARTIFACT_BYTES: u64 = 1 << 30;

/// `warden import mlflow`.
pub(crate) async fn import(args: ImportMlflowArgs) -> anyhow::Result<()> {
    let model_ref: ModelRef = args.model_uri.parse()?;
    let tracking = Tracking::new(&args.tracking_uri)?;
    let described = tracking.describe(&model_ref, args.reference.is_none()).await?;
    let reference = match &args.reference {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        None => match &described.reference {
            Some(found) => found.clone(),
            None => anyhow::bail!(
                "{} logged no input example or evaluation dataset: give reference data with --reference FILE",
                described.model_uri
            ),
        },
    };
    let mut download = tracking.download(&described, MAX_ARTIFACT_BYTES).await?;
    let mut artifact = Vec::new();
    while let Some(chunk) = download.chunk().await? {
        artifact.extend_from_slice(&chunk);
    }
    // The command line's columns, else the MLflow version's `warden.*` tags.
    let tagged = mlflow::column_plan(&described, None);
    let target = args.target.clone().or(tagged.target);
    let protected = if args.protected.is_empty() { tagged.protected } else { args.protected.clone() };
    let metadata = json!({
        "format": described.format.as_str(), "target": target, "protected": protected,
        "schema": described.schema, "code_ref": described.code_ref, "hyperparameters": described.hyperparameters,
    });
    let target_model = args.as_model.clone().unwrap_or_else(|| described.name.clone());
    let form = Form::new()
        .part("metadata", Part::text(metadata.to_string()).mime_str("application/json")?)
        .part("artifact", Part::bytes(artifact).file_name(described.file.clone()))
        .part("reference", Part::bytes(reference).file_name("reference"));
    let client = Client::new(&args.connection)?;
    let registered: api::VersionBody =
        client.multipart_as(&format!("/v1/models/{}/versions", encode(&target_model)), form).await?;
    outln!(
        "imported {} ({}) as {target_model} version {}",
        described.model_uri,
        described.format.as_str(),
        registered.version
    );
    Ok(())
}
