//! A scoring request body, parsed as the API parses it, checked against the German credit schema and
//! scored by the linear model (first byte even) or the scikit-learn ONNX pipeline (odd).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use warden_registry::dataset::{ColumnPlan, profile_file};
use warden_registry::registry::FeatureSpec;
use warden_models::{Model, ModelFormat};

static SETUP: LazyLock<(Model, Model, Vec<FeatureSpec>)> = LazyLock::new(|| {
    let read = warden_testdata::read;
    let linear = Model::load(ModelFormat::LinearJson, &read("models/lr_german_linear.json")).unwrap();
    let onnx = Model::load(ModelFormat::Onnx, &read("models/lr_german.onnx")).unwrap();
    let plan = ColumnPlan { target: Some("risk".into()), ..ColumnPlan::default() };
    let german = warden_testdata::path("datasets/german.csv");
    (linear, onnx, profile_file(&german, &plan).unwrap().feature_schema)
});

fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else { return };
    let Ok(request) = serde_json::from_slice::<warden_api::wire::ScoreRequestBody>(body) else { return };
    let (linear, onnx, schema) = &*SETUP;
    let model = if choice % 2 == 0 { linear } else { onnx };
    if let Ok(score) = warden_serving::scoring::check_and_score(model, schema, request.into()) {
        assert!(score.is_finite() && (0.0..=1.0).contains(&score), "score {score}");
    }
});
