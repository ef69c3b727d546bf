//! Hostile artifacts, one table per format: each must be refused with a message naming the place, or load
//! and score, on a thread with a small stack and inside a time budget (a stack overflow aborts the test
//! binary, which fails it).

use crate::{Cell, MAX_TREE_DEPTH, Model, ModelError, ModelFormat};
use std::time::{Duration, Instant};

/// Stack of the thread every hostile load runs on: far below the 2 MiB of a server's worker threads.
const STACK: usize = 256 * 1024;
const TIME: Duration = Duration::from_secs(5);

/// Loads (and, when it loads, scores and explains one row) on a small-stack thread.
fn run(format: ModelFormat, bytes: Vec<u8>) -> Result<(), ModelError> {
    let started = Instant::now();
    let outcome = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let model = Model::load(format, &bytes)?;
            let row: Vec<Cell> = model.inputs().iter().map(|_| Cell::Number(1.0)).collect();
            model.predict(&[&row])?;
            if model.can_explain() {
                model.explain(&row)?;
            }
            Ok(())
        })
        .unwrap()
        .join()
        .expect("a hostile artifact panicked");
    assert!(started.elapsed() < TIME, "{format:?} took {:?}", started.elapsed());
    outcome
}

/// XGBoost JSON with one tree: a chain of `depth` splits, each with a leaf on its left.
fn xgboost_chain(depth: usize) -> Vec<u8> {
    let n = 2 * depth + 1;
    let (mut left, mut right) = (vec![-1i64; n], vec![-1i64; n]);
    for k in 0..depth {
        left[2 * k] = (2 * k + 1) as i64;
        right[2 * k] = (2 * k + 2) as i64;
    }
    let tree = serde_json::json!({
        "left_children": left, "right_children": right,
        "split_indices": vec![0; n], "split_conditions": (0..n).map(|i| i as f32 * 0.001).collect::<Vec<_>>(),
        "default_left": vec![0; n], "sum_hessian": vec![1.0; n],
    });
    serde_json::to_vec(&serde_json::json!({"learner": {
        "gradient_booster": {"name": "gbtree", "model": {"trees": [tree]}},
        "learner_model_param": {"base_score": "5E-1", "num_feature": "1"},
        "objective": {"name": "binary:logistic"},
    }}))
    .unwrap()
}

/// LightGBM text with one tree: a chain of `depth` splits (internal node k's left child is leaf k).
fn lightgbm_chain(depth: usize) -> Vec<u8> {
    let join = |values: Vec<String>| values.join(" ");
    let inner = depth;
    let leaves = depth + 1;
    let right = (0..inner).map(|k| if k + 1 < inner { (k + 1).to_string() } else { (-(leaves as i64)).to_string() });
    format!(
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\nobjective=binary sigmoid:1\n\
         feature_names=x\n\nTree=0\nnum_leaves={leaves}\nnum_cat=0\nsplit_feature={}\nthreshold={}\n\
         decision_type={}\nleft_child={}\nright_child={}\nleaf_value={}\nleaf_count={}\ninternal_count={}\n\
         shrinkage=1\n\nend of trees\n",
        join(vec!["0".into(); inner]),
        join((0..inner).map(|k| format!("{}", k as f64 * 0.001)).collect()),
        join(vec!["2".into(); inner]),
        join((0..inner).map(|k| (-(k as i64) - 1).to_string()).collect()),
        join(right.collect()),
        join((0..leaves).map(|k| format!("{}", k as f64 * 0.01)).collect()),
        join(vec!["1".into(); leaves]),
        join(vec!["2".into(); inner]),
    )
    .into_bytes()
}

fn refused_naming(result: Result<(), ModelError>, needles: &[&str]) {
    let message = result.expect_err("a hostile artifact was accepted").to_string();
    for needle in needles {
        assert!(message.contains(needle), "'{message}' does not name '{needle}'");
    }
}

#[test]
fn deep_trees_are_refused_naming_tree_and_depth_and_the_limit_loads_and_explains() {
    for depth in [MAX_TREE_DEPTH + 1, 5_000, 100_000] {
        let expected = format!("{depth} splits deep");
        refused_naming(run(ModelFormat::XgboostJson, xgboost_chain(depth)), &["tree 0", &expected, "limit is 256"]);
        refused_naming(run(ModelFormat::LightgbmText, lightgbm_chain(depth)), &["tree 0", &expected, "limit is 256"]);
    }
    run(ModelFormat::XgboostJson, xgboost_chain(MAX_TREE_DEPTH)).unwrap();
    run(ModelFormat::LightgbmText, lightgbm_chain(MAX_TREE_DEPTH)).unwrap();
}

#[test]
fn trees_whose_nodes_the_root_does_not_reach_are_refused() {
    // Node 0 is a leaf; nodes 1 and 2 point at each other (each has exactly one parent).
    let tree = serde_json::json!({
        "left_children": [-1, 2, 1, -1, -1], "right_children": [-1, 3, 4, -1, -1],
        "split_indices": [0, 0, 0, 0, 0], "split_conditions": [0.0, 0.0, 0.0, 0.0, 0.0],
        "default_left": [0, 0, 0, 0, 0], "sum_hessian": [1.0, 1.0, 1.0, 1.0, 1.0],
    });
    let bytes = serde_json::to_vec(&serde_json::json!({"learner": {
        "gradient_booster": {"name": "gbtree", "model": {"trees": [tree]}},
        "learner_model_param": {"base_score": "5E-1", "num_feature": "1"},
        "objective": {"name": "binary:logistic"},
    }}))
    .unwrap();
    refused_naming(run(ModelFormat::XgboostJson, bytes), &["tree 0", "do not form a tree"]);
}
