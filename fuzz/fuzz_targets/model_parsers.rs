//! Artifact bytes loaded as XGBoost JSON, LightGBM text, ONNX or linear JSON (chosen by the first byte),
//! then, when they load, a row of every kind of cell scored and explained.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_models::{Cell, InputKind, Model, ModelFormat};

fuzz_target!(|data: &[u8]| {
    contained_panics_are_not_crashes();
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

/// Warden contains the panics some dependencies raise on malformed input (`catch_unwind`, turned into a
/// refusal); libFuzzer's hook would abort on them anyway. This hook only prints: a panic that escapes Warden
/// still reaches libfuzzer-sys's own `catch_unwind` and aborts, so it is still reported as a crash.
fn contained_panics_are_not_crashes() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("panic (contained unless the run aborts): {info}"))));
}
