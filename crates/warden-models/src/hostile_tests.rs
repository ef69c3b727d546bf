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

/// ONNX graphs built in code: one `[N, 1]` float input `x` and one `[N, 1]` float output `y`.
mod onnx_graph {
    use prost::Message;
    use tract_onnx::pb::{
        AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
        TypeProto, ValueInfoProto, attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto,
        type_proto,
    };

    /// A tensor of int64 `values` with shape `dims` (a scalar when `dims` is empty).
    pub(super) fn ints(name: &str, dims: &[i64], values: &[i64]) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: DataType::Int64 as i32,
            int64_data: values.to_vec(),
            ..TensorProto::default()
        }
    }

    pub(super) fn float_scalar(name: &str, value: f32) -> TensorProto {
        TensorProto {
            name: name.into(),
            data_type: DataType::Float as i32,
            float_data: vec![value],
            ..TensorProto::default()
        }
    }

    pub(super) fn int_attribute(name: &str, value: i64) -> AttributeProto {
        AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i: value, ..AttributeProto::default() }
    }

    /// ConstantOfShape's `value`: a float zero (tract's default is a double).
    pub(super) fn float_zero() -> AttributeProto {
        AttributeProto {
            name: "value".into(),
            r#type: AttributeType::Tensor as i32,
            t: Some(TensorProto { dims: vec![1], ..float_scalar("", 0.0) }),
            ..AttributeProto::default()
        }
    }

    pub(super) fn graph_attribute(name: &str, graph: GraphProto) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Graph as i32,
            g: Some(graph),
            ..AttributeProto::default()
        }
    }

    pub(super) fn node(
        name: &str,
        op_type: &str,
        inputs: &[&str],
        output: &str,
        attribute: Vec<AttributeProto>,
    ) -> NodeProto {
        NodeProto {
            name: name.into(),
            op_type: op_type.into(),
            input: inputs.iter().map(|i| i.to_string()).collect(),
            output: vec![output.into()],
            attribute,
            ..NodeProto::default()
        }
    }

    /// A float tensor value named `name` with `dims` (a symbol such as `N`, or a number).
    pub(super) fn value(name: &str, dims: &[&str]) -> ValueInfoProto {
        let dim = dims
            .iter()
            .map(|d| tensor_shape_proto::Dimension {
                value: Some(match d.parse() {
                    Ok(n) => tensor_shape_proto::dimension::Value::DimValue(n),
                    Err(_) => tensor_shape_proto::dimension::Value::DimParam(d.to_string()),
                }),
                ..Default::default()
            })
            .collect();
        let tensor = type_proto::Tensor { elem_type: DataType::Float as i32, shape: Some(TensorShapeProto { dim }) };
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }),
            ..Default::default()
        }
    }

    /// A model whose `nodes` compute a float tensor `big`, which is summed to a scalar and added to `x`.
    pub(super) fn summing(mut nodes: Vec<NodeProto>, initializer: Vec<TensorProto>) -> Vec<u8> {
        nodes.push(node("sum", "ReduceSum", &["big"], "total", vec![int_attribute("keepdims", 0)]));
        nodes.push(node("add", "Add", &["x", "total"], "y", vec![]));
        model(nodes, initializer)
    }

    pub(super) fn model(node: Vec<NodeProto>, initializer: Vec<TensorProto>) -> Vec<u8> {
        let graph = GraphProto {
            name: "hostile".into(),
            node,
            initializer,
            input: vec![value("x", &["N", "1"])],
            output: vec![value("y", &["N", "1"])],
            ..GraphProto::default()
        };
        ModelProto {
            ir_version: 7,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
            graph: Some(graph),
            ..ModelProto::default()
        }
        .encode_to_vec()
    }
}

/// The reported attack: `ConstantOfShape` of a constant shape [100000, 100000, 100] (4 TB of float zeros)
/// summed by `ReduceSum`, a few hundred bytes of protobuf. Before the limit, tract allocated the 4 TB while loading
/// (under `ulimit -v` its allocation fails and it panics). These bytes after a format byte 2 seed the fuzz corpus
/// (`fuzz/corpus/model_parsers/2159075b800d0cf2cb4d573f59ccb1fa52cf2419`).
fn constant_of_shape_bomb() -> Vec<u8> {
    use onnx_graph::*;
    summing(
        vec![node("big", "ConstantOfShape", &["shape"], "big", vec![float_zero()])],
        vec![ints("shape", &[3], &[100_000, 100_000, 100])],
    )
}

#[test]
fn onnx_constant_of_shape_bomb_is_refused_naming_node_size_and_limit() {
    let bytes = constant_of_shape_bomb();
    assert!(bytes.len() < 400, "{} bytes", bytes.len());
    refused_naming(
        run(ModelFormat::Onnx, bytes),
        &["node 'big'", "ConstantOfShape", "100000×100000×100 f32", "TiB", "the limit is 256 MiB"],
    );
}

#[test]
fn onnx_bomb_shape_computed_from_small_constants_is_refused() {
    use onnx_graph::*;
    // [1000, 1000] × [100, 100] = [100000, 100000], then [100] appended: every step is a tiny tensor that
    // tract folds, and only the last node's output is large.
    let bytes = summing(
        vec![
            node("wide", "Mul", &["a", "b"], "wide", vec![]),
            node("shape", "Concat", &["wide", "c"], "shape", vec![int_attribute("axis", 0)]),
            node("big", "ConstantOfShape", &["shape"], "big", vec![float_zero()]),
        ],
        vec![ints("a", &[2], &[1000, 1000]), ints("b", &[2], &[100, 100]), ints("c", &[1], &[100])],
    );
    refused_naming(run(ModelFormat::Onnx, bytes), &["node 'big'", "ConstantOfShape", "100000×100000×100 f32"]);
}

#[test]
fn onnx_expand_of_a_scalar_to_a_huge_shape_is_refused() {
    use onnx_graph::*;
    let bytes = summing(
        vec![node("big", "Expand", &["one", "shape"], "big", vec![])],
        vec![float_scalar("one", 1.0), ints("shape", &[3], &[100_000, 100_000, 100])],
    );
    refused_naming(
        run(ModelFormat::Onnx, bytes),
        &["node 'big'", "Expand", "100000×100000×100 f32", "limit is 256 MiB"],
    );
}

#[test]
fn onnx_range_with_a_huge_limit_is_refused() {
    use onnx_graph::*;
    // 0, 1, …, 10¹² - 1 as int64: 8 TB.
    let bytes = summing(
        vec![
            node("range", "Range", &["start", "limit", "delta"], "numbers", vec![]),
            node("big", "Cast", &["numbers"], "big", vec![int_attribute("to", 1)]),
        ],
        vec![ints("start", &[], &[0]), ints("limit", &[], &[1_000_000_000_000]), ints("delta", &[], &[1])],
    );
    refused_naming(run(ModelFormat::Onnx, bytes), &["node 'range'", "Range", "1000000000000 i64", "limit is 256 MiB"]);
}

#[test]
fn onnx_sizes_beyond_what_tract_reads_as_dimensions_are_refused() {
    use onnx_graph::*;
    // tract's inference reads numbers as dimensions through i32, so 2³² + 10 reads as 10; Range and Pad compute
    // with the real value (tens of GB).
    let wrapped = (1i64 << 32) + 10;
    let range = summing(
        vec![
            node("range", "Range", &["start", "limit", "delta"], "numbers", vec![]),
            node("big", "Cast", &["numbers"], "big", vec![int_attribute("to", 1)]),
        ],
        vec![ints("start", &[], &[0]), ints("limit", &[], &[wrapped]), ints("delta", &[], &[1])],
    );
    refused_naming(run(ModelFormat::Onnx, range), &["node 'range'", "Range", "4294967306 i64", "limit is 256 MiB"]);
    let pad = summing(
        vec![node("big", "Pad", &["data", "pads"], "big", vec![])],
        vec![
            tract_onnx::pb::TensorProto { dims: vec![1], ..float_scalar("data", 1.0) },
            ints("pads", &[2], &[0, wrapped]),
        ],
    );
    refused_naming(run(ModelFormat::Onnx, pad), &["node 'big'", "Pad", "f32", "limit is 256 MiB"]);
}

#[test]
fn onnx_bomb_inside_an_if_branch_is_refused() {
    use onnx_graph::*;
    let branch = |name: &str, dims: &[i64]| tract_onnx::pb::GraphProto {
        name: name.into(),
        node: vec![node(
            &format!("{name}_big"),
            "ConstantOfShape",
            &[&format!("{name}_shape")],
            "branch_out",
            vec![float_zero()],
        )],
        initializer: vec![ints(&format!("{name}_shape"), &[dims.len() as i64], dims)],
        output: vec![value("branch_out", &[])],
        ..Default::default()
    };
    let bytes = summing(
        vec![node(
            "choose",
            "If",
            &["yes"],
            "big",
            vec![
                graph_attribute("then_branch", branch("then", &[100_000, 100_000, 100])),
                graph_attribute("else_branch", branch("else", &[1])),
            ],
        )],
        vec![tract_onnx::pb::TensorProto {
            name: "yes".into(),
            data_type: tract_onnx::pb::tensor_proto::DataType::Bool as i32,
            int32_data: vec![1],
            ..Default::default()
        }],
    );
    refused_naming(run(ModelFormat::Onnx, bytes), &["then_big", "ConstantOfShape", "100000×100000×100 f32"]);
}

#[test]
fn onnx_tensor_growing_with_the_batch_is_refused_at_the_largest_batch() {
    use onnx_graph::*;
    // [N, 100000] floats: 400 kB for one row, 4 GB for a batch of 10 000 rows.
    let bytes = summing(
        vec![
            node("rows", "Shape", &["x"], "x_shape", vec![]),
            node("n", "Slice", &["x_shape", "zero", "one"], "n", vec![]),
            node("shape", "Concat", &["n", "width"], "shape", vec![int_attribute("axis", 0)]),
            node("big", "ConstantOfShape", &["shape"], "big", vec![float_zero()]),
        ],
        vec![ints("zero", &[1], &[0]), ints("one", &[1], &[1]), ints("width", &[1], &[100_000])],
    );
    refused_naming(
        run(ModelFormat::Onnx, bytes),
        &["node 'big'", "ConstantOfShape", "N×100000 f32", "for a batch of N = 10000 rows", "limit is 256 MiB"],
    );
}

#[test]
fn onnx_many_tensors_within_the_limit_cannot_add_up_while_loading() {
    use onnx_graph::*;
    // 70 constants of 4 MiB, each within the limit and folded by tract as the graph loads: 280 MiB in all.
    let mut nodes: Vec<_> = (0..70)
        .map(|k| node(&format!("big{k}"), "ConstantOfShape", &["shape"], &format!("big{k}"), vec![float_zero()]))
        .collect();
    let all: Vec<String> = (0..70).map(|k| format!("big{k}")).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    nodes.push(node("big", "Concat", &all, "big", vec![int_attribute("axis", 0)]));
    let bytes = summing(nodes, vec![ints("shape", &[2], &[1024, 1024])]);
    refused_naming(
        run(ModelFormat::Onnx, bytes),
        &["ConstantOfShape", "would bring the tensors computed while loading the graph to 260 MiB", "limit is 256 MiB"],
    );
}

#[test]
fn onnx_graphs_with_tensors_within_the_limit_load_and_score() {
    use onnx_graph::*;
    // 1000 × 1000 floats (4 MB), far below the limit.
    let bytes = summing(
        vec![node("big", "ConstantOfShape", &["shape"], "big", vec![float_zero()])],
        vec![ints("shape", &[2], &[1000, 1000])],
    );
    run(ModelFormat::Onnx, bytes).unwrap();
}

/// The multiclass XGBoost fixture with one field of its learner replaced.
fn xgboost_multiclass_with(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut model: serde_json::Value =
        serde_json::from_slice(&warden_testdata::read("models/xgb_mc.json")).expect("fixture");
    edit(&mut model["learner"]);
    serde_json::to_vec(&model).unwrap()
}

#[test]
fn multiclass_artifacts_whose_classes_do_not_add_up_are_refused_naming_the_field() {
    let cases: [(fn(&mut serde_json::Value), &[&str]); 5] = [
        (|l| l["gradient_booster"]["model"]["tree_info"][4] = 7.into(), &["tree_info names class 7 of 3"]),
        (
            |l| l["gradient_booster"]["model"]["tree_info"] = serde_json::json!([0, 1]),
            &["tree_info", "2 classes for 60 trees"],
        ),
        (|l| l["learner_model_param"]["num_class"] = "5000".into(), &["num_class 5000", "100 classes"]),
        (|l| l["objective"]["name"] = "binary:logistic".into(), &["num_class 3", "binary:logistic"]),
        (|l| l["learner_model_param"]["base_score"] = "[0.5,0.5]".into(), &["base_score has 2 values for 3 outputs"]),
    ];
    for (edit, needles) in cases {
        refused_naming(run(ModelFormat::XgboostJson, xgboost_multiclass_with(edit)), needles);
    }
    let lightgbm = String::from_utf8(warden_testdata::read("models/lgbm_mc.txt")).expect("fixture");
    for (from, to, needles) in [
        ("num_tree_per_iteration=3", "num_tree_per_iteration=1", &["num_class 3 with num_tree_per_iteration 1"][..]),
        (
            "objective=multiclass num_class:3",
            "objective=binary sigmoid:1",
            &["objective 'binary sigmoid:1'", "num_class 3"],
        ),
        ("num_class=3", "num_class=1", &["num_class 1 with num_tree_per_iteration 3"]),
    ] {
        let bytes = lightgbm.replacen(from, to, 1).into_bytes();
        refused_naming(run(ModelFormat::LightgbmText, bytes), needles);
    }
    // Unchanged, both load and score.
    run(ModelFormat::XgboostJson, xgboost_multiclass_with(|_| {})).unwrap();
    run(ModelFormat::LightgbmText, lightgbm.into_bytes()).unwrap();
}

#[test]
fn lightgbm_class_counts_that_make_no_whole_iterations_are_refused() {
    let lightgbm = String::from_utf8(warden_testdata::read("models/lgbm_mc.txt")).expect("fixture");
    // No classes: no tree could belong to one.
    let none = lightgbm.replacen("num_class=3", "num_class=0", 1).replacen(
        "num_tree_per_iteration=3",
        "num_tree_per_iteration=0",
        1,
    );
    refused_naming(run(ModelFormat::LightgbmText, none.into_bytes()), &["num_class 0"]);
    // 60 trees in iterations of 7 classes.
    let seven = lightgbm
        .replacen("num_class=3", "num_class=7", 1)
        .replacen("num_tree_per_iteration=3", "num_tree_per_iteration=7", 1)
        .replacen("objective=multiclass num_class:3", "objective=multiclass num_class:7", 1);
    refused_naming(
        run(ModelFormat::LightgbmText, seven.into_bytes()),
        &["60 trees do not make whole iterations of 7 classes"],
    );
}
