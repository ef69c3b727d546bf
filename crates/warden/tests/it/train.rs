//! `warden train`: the built-in trainers on a local CSV file, and its refusals of bad input.

use std::process::Command;

use crate::support::{stderr, stdout};

fn warden(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_warden")).args(args).output().expect("warden runs")
}

/// German credit split in two files with a 0/1 `label` (1 = bad credit).
fn split(dir: &std::path::Path) -> (String, String) {
    let text = std::fs::read_to_string(warden_testdata::path("datasets/german.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let risk = header.iter().position(|h| *h == "risk").unwrap();
    let keep: Vec<usize> = (0..header.len()).filter(|&i| i != risk && header[i] != "sex").collect();
    let mut files = (String::new(), String::new());
    for part in [&mut files.0, &mut files.1] {
        part.push_str(&keep.iter().map(|&i| header[i]).collect::<Vec<_>>().join(","));
        part.push_str(",label\n");
    }
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let row = keep.iter().map(|&i| cells[i]).collect::<Vec<_>>().join(",");
        let label = if cells[risk] == "0" { 1 } else { 0 };
        let target = if n % 10 < 7 { &mut files.0 } else { &mut files.1 };
        target.push_str(&format!("{row},{label}\n"));
    }
    let (train, test) = (dir.join("train.csv"), dir.join("test.csv"));
    std::fs::write(&train, &files.0).unwrap();
    std::fs::write(&test, &files.1).unwrap();
    (train.display().to_string(), test.display().to_string())
}

/// Trains German credit with `trainer` (50 trees of depth 3 where it grows trees): it writes a model and
/// reports the model's format, the training rows and features, and an AUC on the held-out rows over 0.7.
fn trains_and_reports_its_held_out_auc(trainer: &str, format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = split(dir.path());
    let model = dir.path().join(format!("{trainer}.json"));
    let out = warden(&[
        "train",
        "--data",
        &train,
        "--test",
        &test,
        "--target",
        "label",
        "--trainer",
        trainer,
        "--trees",
        "50",
        "--depth",
        "3",
        "--out",
        model.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (report["format"].as_str(), report["rows"].as_u64(), report["features"].as_u64()),
        (Some(format), Some(700), Some(8))
    );
    assert!(report["test_auc"].as_f64().unwrap() > 0.7, "{report}");
    assert!(std::fs::metadata(&model).unwrap().len() > 100);
}

#[test]
fn builtin_lr_writes_a_model_and_reports_its_held_out_auc() {
    trains_and_reports_its_held_out_auc("builtin-lr", "linear-json");
}

#[test]
fn builtin_gbt_writes_a_model_and_reports_its_held_out_auc() {
    trains_and_reports_its_held_out_auc("builtin-gbt", "xgboost-json");
}

#[test]
fn bad_input_is_refused_with_the_reason_and_writes_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = split(dir.path());
    let model = dir.path().join("model.json");
    let model = model.to_str().unwrap();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--data", &train, "--target", "nope"], "has no column 'nope'".into()),
        (vec!["--data", &train, "--target", "label", "--trainer", "magic"], "unknown trainer 'magic'".into()),
        (
            vec!["--data", &train, "--target", "label", "--trainer", "external:sk"],
            "runs only in a server's retraining job".into(),
        ),
        (vec!["--data", "/nonexistent.csv", "--target", "label"], "cannot read /nonexistent.csv".into()),
    ];
    let bad_label = dir.path().join("bad.csv");
    std::fs::write(&bad_label, "x,label\n1,0\n2,yes\n").unwrap();
    let bad_label = bad_label.to_str().unwrap().to_owned();
    let mut cases = cases;
    cases.push((vec!["--data", &bad_label, "--target", "label"], "line 3: the label 'yes' is not 0 or 1".into()));
    let one_class = dir.path().join("one.csv");
    std::fs::write(&one_class, "x,label\n1,0\n2,0\n").unwrap();
    let one_class = one_class.to_str().unwrap().to_owned();
    cases.push((vec!["--data", &one_class, "--target", "label"], "only one class".into()));
    for (args, expected) in cases {
        let mut full = vec!["train", "--out", model];
        full.extend(args.iter().copied());
        let out = warden(&full);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr(&out).contains(&expected), "{args:?}: {}", stderr(&out));
        assert!(!std::path::Path::new(model).exists(), "{args:?} wrote a model");
    }
}
