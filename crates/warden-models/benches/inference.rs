//! Per-row latency of each model format on the German credit fixtures (one applicant per call, as the
//! serving path scores a single-row request). `cargo bench -p warden-models`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use warden_models::{Cell, Model, ModelFormat};

fn fixture(name: &str) -> Vec<u8> {
    warden_testdata::read(&format!("models/{name}"))
}

fn raw_row() -> Vec<Cell> {
    // First row of german_test_raw.csv.
    vec![
        Cell::Number(2.0),
        Cell::Number(5951.0),
        Cell::Number(48.0),
        Cell::Number(22.0),
        Cell::Text("own".into()),
        Cell::Text("little".into()),
        Cell::Text("moderate".into()),
        Cell::Text("radio/TV".into()),
    ]
}

fn encoded_row() -> Vec<Cell> {
    [2.0, 5951.0, 48.0, 22.0, 1.0, 0.0, 1.0, 5.0].into_iter().map(Cell::Number).collect()
}

fn inference(c: &mut Criterion) {
    let cases = [
        ("linear-json (sklearn LR)", ModelFormat::LinearJson, "lr_german_linear.json", raw_row()),
        ("xgboost-json (50 trees)", ModelFormat::XgboostJson, "xgb_german.json", encoded_row()),
        ("lightgbm-text (50 trees)", ModelFormat::LightgbmText, "lgbm_german.txt", encoded_row()),
        ("onnx sklearn pipeline (LR)", ModelFormat::Onnx, "lr_german_nozipmap.onnx", raw_row()),
        ("onnx xgboost (50 trees)", ModelFormat::Onnx, "xgb_german.onnx", encoded_row()),
    ];
    let mut group = c.benchmark_group("predict one row");
    for (name, format, file, row) in &cases {
        let model = Model::load(*format, &fixture(file)).expect("model loads");
        group.bench_function(*name, |b| b.iter(|| model.predict(&[black_box(row.as_slice())]).expect("scores")));
    }
    group.finish();
    let mut group = c.benchmark_group("explain one row");
    for (name, format, file, row) in cases.iter().filter(|(_, f, ..)| *f != ModelFormat::Onnx) {
        let model = Model::load(*format, &fixture(file)).expect("model loads");
        group.bench_function(*name, |b| b.iter(|| model.explain(black_box(row.as_slice())).expect("explains")));
    }
    group.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
