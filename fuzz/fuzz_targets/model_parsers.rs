//! Artifact bytes loaded as XGBoost JSON, LightGBM text, ONNX or linear JSON (chosen by the first byte),
//! then, when they load, a row of every kind of cell scored and explained.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_models::{Cell, InputKind, Model, ModelFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, bytes)) = data.split_first() else { return };
    let format = match choice % 4 {
        0 => ModelFormat::XgboostJson,
        1 => ModelFormat::LightgbmText,
        2 => ModelFormat::Onnx,
        _ => ModelFormat::LinearJson,
    };
    let Ok(model) = Model::load(format, bytes) else { return };
    if model.inputs().len() > 10_000 {
        return;
    }
    for fill in [0.5, f64::NAN, -1e300] {
        let row: Vec<Cell> = model
            .inputs()
            .iter()
            .enumerate()
            .map(|(i, input)| match (input.kind, i % 3) {
                (InputKind::Text, _) => Cell::Text("unseen".into()),
                (_, 0) => Cell::Missing,
                _ => Cell::Number(fill),
            })
            .collect();
        let _ = model.predict(&[row.as_slice()]);
        if model.can_explain() {
            let _ = model.explain(&row);
        }
    }
});
