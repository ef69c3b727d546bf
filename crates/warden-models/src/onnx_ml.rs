/*!
ONNX-ML operators tract does not implement, registered as tract extension operators.

scikit-learn pipelines exported by skl2onnx use `Imputer`, `Scaler`, `OneHotEncoder`, `LabelEncoder` and
`ZipMap`; tree models exported by skl2onnx and onnxmltools use `TreeEnsembleRegressor` and
`TreeEnsembleClassifier`. Each follows the
ONNX-ML specification and ONNX Runtime's arithmetic (float32):

- `Imputer`: replaces `replaced_value_float` (NaN by default) by `imputed_value_floats` (one value, or one per
  column).
- `Scaler`: `y = (x - offset) * scale`, per column or broadcast, in float32.
- `OneHotEncoder`: appends a dimension of size C; unknown categories give all zeros when `zeros = 1` and are an
  error otherwise.
- `LabelEncoder` (opset 2): string/int64 keys to string/int64 values with the declared default.
- `ZipMap`: a sequence of maps cannot be a tensor, so Warden keeps the probabilities tensor it would have been
  built from (column i = class label i in `classlabels_*` order).
- `TreeEnsembleRegressor` (one target) and `TreeEnsembleClassifier` (binary: one score column as onnxmltools
  writes for XGBoost and LightGBM, or one per class as skl2onnx writes for forests; multiclass: one per class,
  post transform `NONE`, as skl2onnx writes for forests), `SUM` aggregation, post transform `NONE` or
  `LOGISTIC`: evaluated by Warden's tree engine in float32. tract has its own
  `TreeEnsembleClassifier`, but it refuses a binary model with one base value (onnxmltools' XGBoost export) and
  reports every binary label as class 0, so Warden's replaces it.
*/

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::{args_1, as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;
use tract_onnx_opl::ml::{DirectLookup, ReverseLookup};

use crate::trees::{Ensemble, Link, MAX_CLASSES, Node, Precision, Split, Tree};

/// Registers every extension operator of this module.
pub fn register(register: &mut OnnxOpRegister) {
    register.insert("Imputer", imputer);
    register.insert("Scaler", scaler);
    register.insert("OneHotEncoder", one_hot_encoder);
    register.insert("LabelEncoder", label_encoder);
    register.insert("ZipMap", zip_map);
    register.insert("TreeEnsembleRegressor", tree_ensemble_regressor);
    register.insert("TreeEnsembleClassifier", tree_ensemble_classifier);
}

/// Broadcast-or-per-column float parameters, bit-exact for equality.
fn float_param(values: Vec<f32>) -> Arc<Tensor> {
    rctensor1(&values)
}

fn per_column(values: &[f32], column: usize) -> f32 {
    if values.len() == 1 { values[0] } else { values[column] }
}

fn check_columns(name: &str, params: &[&Arc<Tensor>], columns: usize) -> TractResult<()> {
    for p in params {
        let len = p.len();
        if len != 1 && len != columns {
            bail!("{name}: {len} parameters for {columns} columns");
        }
    }
    Ok(())
}

/// Rules of a one-input, one-output operator that keeps its input's shape; `None` leaves a type free.
fn same_shape_rules<'r, 'p: 'r>(
    s: &mut Solver<'r>,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
    input_type: Option<DatumType>,
    output_type: Option<DatumType>,
) -> InferenceResult {
    check_input_arity(inputs, 1)?;
    check_output_arity(outputs, 1)?;
    s.equals(&inputs[0].shape, &outputs[0].shape)?;
    if let Some(dt) = input_type {
        s.equals(&inputs[0].datum_type, dt)?;
    }
    match output_type {
        Some(dt) => s.equals(&outputs[0].datum_type, dt)?,
        None => s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?,
    }
    Ok(())
}

/// Casts `input` to `datum_type` unless it already is.
fn wire_cast(prefix: &str, model: &mut TypedModel, input: OutletId, datum_type: DatumType) -> TractResult<OutletId> {
    if model.outlet_fact(input)?.datum_type == datum_type {
        return Ok(input);
    }
    let cast = tract_onnx::tract_core::ops::cast::cast(datum_type);
    Ok(model.wire_node(format!("{prefix}.cast"), cast, &[input])?[0])
}

// ---------------------------------------------------------------- Imputer

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Imputer {
    imputed: Arc<Tensor>,
    replaced_bits: u32,
}

fn imputer(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let imputed: Vec<f32> = node
        .get_attr_opt_vec("imputed_value_floats")?
        .ok_or_else(|| format_err!("Imputer: only imputed_value_floats is supported"))?;
    ensure!(!imputed.is_empty(), "Imputer: imputed_value_floats is empty");
    let replaced: f32 = node.get_attr_opt("replaced_value_float")?.unwrap_or(0.0);
    Ok((expand(Imputer { imputed: float_param(imputed), replaced_bits: replaced.to_bits() }), vec![]))
}

impl Imputer {
    fn replace(&self, x: f32) -> bool {
        let replaced = f32::from_bits(self.replaced_bits);
        if replaced.is_nan() { x.is_nan() } else { x == replaced }
    }
}

impl Expansion for Imputer {
    fn name(&self) -> StaticName {
        "Imputer".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        same_shape_rules(s, inputs, outputs, Some(DatumType::F32), Some(DatumType::F32))
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, ColumnwiseOp::Impute(self.clone()), inputs)
    }
}

// ---------------------------------------------------------------- Scaler

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Scaler {
    offset: Arc<Tensor>,
    scale: Arc<Tensor>,
}

fn scaler(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let offset: Vec<f32> = node.get_attr_opt_vec("offset")?.unwrap_or_else(|| vec![0.0]);
    let scale: Vec<f32> = node.get_attr_opt_vec("scale")?.unwrap_or_else(|| vec![1.0]);
    ensure!(!offset.is_empty() && !scale.is_empty(), "Scaler: empty offset or scale");
    Ok((expand(Scaler { offset: float_param(offset), scale: float_param(scale) }), vec![]))
}

impl Expansion for Scaler {
    fn name(&self) -> StaticName {
        "Scaler".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        same_shape_rules(s, inputs, outputs, None, Some(DatumType::F32))
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let x = wire_cast(prefix, model, inputs[0], DatumType::F32)?;
        model.wire_node(prefix, ColumnwiseOp::Scale(self.clone()), &[x])
    }
}

/// Imputer and Scaler share their evaluation: a float32 map over the last axis.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ColumnwiseOp {
    Impute(Imputer),
    Scale(Scaler),
}

impl Op for ColumnwiseOp {
    fn name(&self) -> StaticName {
        match self {
            ColumnwiseOp::Impute(_) => "WardenImputer".into(),
            ColumnwiseOp::Scale(_) => "WardenScaler".into(),
        }
    }

    op_as_typed_op!();
}

impl EvalOp for ColumnwiseOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let mut output = input.into_tensor();
        let columns = *output.shape().last().unwrap_or(&1);
        let mut plain = output.try_as_plain_ram_mut()?;
        let data = plain.as_slice_mut::<f32>()?;
        match self {
            ColumnwiseOp::Impute(op) => {
                let plain = op.imputed.try_as_plain_ram()?;
                let values = plain.as_slice::<f32>()?;
                check_columns("Imputer", &[&op.imputed], columns)?;
                for (i, x) in data.iter_mut().enumerate() {
                    if op.replace(*x) {
                        *x = per_column(values, i % columns);
                    }
                }
            }
            ColumnwiseOp::Scale(op) => {
                let (offset, scale) = (op.offset.try_as_plain_ram()?, op.scale.try_as_plain_ram()?);
                let (offset, scale) = (offset.as_slice::<f32>()?, scale.as_slice::<f32>()?);
                check_columns("Scaler", &[&op.offset, &op.scale], columns)?;
                for (i, x) in data.iter_mut().enumerate() {
                    let c = i % columns;
                    *x = (*x - per_column(offset, c)) * per_column(scale, c);
                }
            }
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for ColumnwiseOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(inputs[0].shape.iter())))
    }

    as_op!();
}

// ---------------------------------------------------------------- OneHotEncoder

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OneHotEncoder {
    categories: Arc<Tensor>,
    unknown_is_zeros: bool,
}

fn one_hot_encoder(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let strings: Option<Vec<String>> = node.get_attr_opt_vec("cats_strings")?;
    let ints: Option<Vec<i64>> = node.get_attr_opt_vec("cats_int64s")?;
    let categories = match (strings, ints) {
        (Some(s), None) => rctensor1(&s),
        (None, Some(i)) => rctensor1(&i),
        _ => bail!("OneHotEncoder needs exactly one of cats_strings and cats_int64s"),
    };
    let zeros: i64 = node.get_attr_opt("zeros")?.unwrap_or(1);
    Ok((expand(OneHotEncoder { categories, unknown_is_zeros: zeros != 0 }), vec![]))
}

impl Expansion for OneHotEncoder {
    fn name(&self) -> StaticName {
        "OneHotEncoder".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].rank, inputs[0].rank.bex() + 1)?;
        let width = self.categories.len() as i64;
        s.given(&inputs[0].rank, move |s, rank| {
            let rank = rank as usize;
            for axis in 0..rank {
                s.equals(&outputs[0].shape[axis], &inputs[0].shape[axis])?;
            }
            s.equals(&outputs[0].shape[rank], width.to_dim())
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let fact = model.outlet_fact(inputs[0])?;
        if self.categories.datum_type() == DatumType::String {
            ensure!(fact.datum_type == DatumType::String, "OneHotEncoder: string categories need a string input");
        }
        let x = if self.categories.datum_type() == DatumType::I64 {
            wire_cast(prefix, model, inputs[0], DatumType::I64)?
        } else {
            inputs[0]
        };
        model.wire_node(prefix, self.clone(), &[x])
    }
}

impl OneHotEncoder {
    fn encode<T: Datum + PartialEq>(&self, input: &Tensor, out: &mut [f32]) -> TractResult<()> {
        let plain = self.categories.try_as_plain_ram()?;
        let categories = plain.as_slice::<T>()?;
        let width = categories.len();
        for (row, value) in input.try_as_plain_ram()?.as_slice::<T>()?.iter().enumerate() {
            match categories.iter().position(|c| c == value) {
                Some(k) => out[row * width + k] = 1.0,
                None if self.unknown_is_zeros => {}
                None => bail!("OneHotEncoder: unknown category {value:?}"),
            }
        }
        Ok(())
    }
}

impl Op for OneHotEncoder {
    fn name(&self) -> StaticName {
        "WardenOneHotEncoder".into()
    }

    op_as_typed_op!();
}

impl EvalOp for OneHotEncoder {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let mut shape: Vec<usize> = input.shape().to_vec();
        shape.push(self.categories.len());
        let mut output = Tensor::zero::<f32>(&shape)?;
        {
            let mut plain = output.try_as_plain_ram_mut()?;
            let out = plain.as_slice_mut::<f32>()?;
            if self.categories.datum_type() == DatumType::String {
                self.encode::<String>(&input, out)?;
            } else {
                self.encode::<i64>(&input, out)?;
            }
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for OneHotEncoder {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        shape.push(self.categories.len().to_dim());
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}

// ---------------------------------------------------------------- LabelEncoder

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LabelEncoder {
    keys: Arc<Tensor>,
    values: Arc<Tensor>,
    default: Arc<Tensor>,
}

fn label_encoder(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let keys = match (node.get_attr_opt_vec::<String>("keys_strings")?, node.get_attr_opt_vec::<i64>("keys_int64s")?) {
        (Some(s), None) => rctensor1(&s),
        (None, Some(i)) => rctensor1(&i),
        _ => bail!("LabelEncoder: Warden supports exactly one of keys_strings and keys_int64s"),
    };
    let (values, default) =
        match (node.get_attr_opt_vec::<String>("values_strings")?, node.get_attr_opt_vec::<i64>("values_int64s")?) {
            (Some(s), None) => {
                let default: String = node.get_attr_opt("default_string")?.unwrap_or_else(|| "_Unused".to_owned());
                (rctensor1(&s), rctensor0(default))
            }
            (None, Some(i)) => (rctensor1(&i), rctensor0(node.get_attr_opt::<i64>("default_int64")?.unwrap_or(-1))),
            _ => bail!("LabelEncoder: Warden supports exactly one of values_strings and values_int64s"),
        };
    ensure!(keys.len() == values.len(), "LabelEncoder: {} keys for {} values", keys.len(), values.len());
    Ok((expand(LabelEncoder { keys, values, default }), vec![]))
}

impl Expansion for LabelEncoder {
    fn name(&self) -> StaticName {
        "LabelEncoder".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        same_shape_rules(s, inputs, outputs, Some(self.keys.datum_type()), Some(self.values.datum_type()))
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let index = model.wire_node(format!("{prefix}.reverse"), ReverseLookup::new(self.keys.clone(), -1)?, inputs)?;
        model.wire_node(
            format!("{prefix}.direct"),
            DirectLookup::new(self.values.clone(), self.default.clone())?,
            &index,
        )
    }
}

// ---------------------------------------------------------------- ZipMap

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ZipMap;

fn zip_map(_ctx: &ParsingContext, _node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(ZipMap), vec![]))
}

impl Expansion for ZipMap {
    fn name(&self) -> StaticName {
        "ZipMap".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        same_shape_rules(s, inputs, outputs, None, None)
    }

    fn wire(&self, _prefix: &str, _model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        Ok(inputs.into())
    }
}

// ---------------------------------------------------------------- TreeEnsembleRegressor / Classifier

/// The most tree nodes a tree ensemble operator may build over all its score columns (each column is its
/// own set of trees, so a classifier's nodes count once per class).
const MAX_COLUMN_NODES: usize = 10_000_000;

/// A tree ensemble operator: one [`Ensemble`] per score column.
#[derive(Debug, Clone, PartialEq)]
struct TreeEnsembleOp {
    columns: Vec<Ensemble>,
    logistic: bool,
    /// `None` for a regressor; the class labels of a classifier (one score column per label, or one column
    /// holding P(second label) for a binary classifier).
    labels: Option<Vec<i64>>,
}

impl Eq for TreeEnsembleOp {}

impl TreeEnsembleOp {
    /// Columns of the scores output: one for a regressor, one per class for a classifier.
    fn score_width(&self) -> usize {
        self.labels.as_ref().map_or(1, Vec::len)
    }
}

impl std::hash::Hash for TreeEnsembleOp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.columns.len().hash(state);
        self.labels.hash(state);
        for c in &self.columns {
            c.trees.len().hash(state);
            c.base_margin.to_bits().hash(state);
        }
    }
}

fn tree_ensemble_regressor(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let targets: i64 = node.get_attr_opt("n_targets")?.unwrap_or(1);
    ensure!(targets == 1, "TreeEnsembleRegressor: only one target is supported");
    let (columns, logistic) = tree_columns(node, "target", 1)?;
    Ok((expand(TreeEnsembleOp { columns, logistic, labels: None }), vec![]))
}

fn tree_ensemble_classifier(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let labels: Vec<i64> = node
        .get_attr_opt_vec("classlabels_int64s")?
        .ok_or_else(|| format_err!("TreeEnsembleClassifier: Warden supports integer class labels"))?;
    ensure!(
        (2..=MAX_CLASSES).contains(&labels.len()),
        "TreeEnsembleClassifier: {} class labels (Warden scores 2 to {MAX_CLASSES} classes)",
        labels.len()
    );
    let class_ids: Vec<i64> = node.get_attr_vec("class_ids")?;
    // One score column (all weights on class 0) is the binary layout: P(class 1) = transform(score).
    let width = if labels.len() == 2 && class_ids.iter().all(|&c| c == 0) { 1 } else { labels.len() };
    let (columns, logistic) = tree_columns(node, "class", width)?;
    // A multiclass forest's columns are its probabilities (the trees' weights are averaged votes); a
    // per-column logistic would not make them sum to 1.
    ensure!(
        labels.len() == 2 || !logistic,
        "TreeEnsembleClassifier: post_transform LOGISTIC with {} classes is not supported",
        labels.len()
    );
    Ok((expand(TreeEnsembleOp { columns, logistic, labels: Some(labels) }), vec![]))
}

/// Builds one ensemble per output column from the ONNX-ML node attributes (`leaf` is "target" or "class").
fn tree_columns(node: &NodeProto, leaf: &str, width: usize) -> TractResult<(Vec<Ensemble>, bool)> {
    let aggregate: String = node.get_attr_opt("aggregate_function")?.unwrap_or_else(|| "SUM".into());
    ensure!(aggregate == "SUM", "tree ensemble: only SUM aggregation is supported");
    let transform: String = node.get_attr_opt("post_transform")?.unwrap_or_else(|| "NONE".into());
    let logistic = match transform.as_str() {
        "NONE" => false,
        "LOGISTIC" => true,
        other => bail!("tree ensemble: post_transform {other} is not supported"),
    };
    let base: Vec<f32> = node.get_attr_opt_vec("base_values")?.unwrap_or_default();
    ensure!(base.is_empty() || base.len() == width, "tree ensemble: {} base values for {width} columns", base.len());

    let tree_ids: Vec<i64> = node.get_attr_vec("nodes_treeids")?;
    let node_ids: Vec<i64> = node.get_attr_vec("nodes_nodeids")?;
    let features: Vec<i64> = node.get_attr_vec("nodes_featureids")?;
    let thresholds: Vec<f32> = node.get_attr_vec("nodes_values")?;
    let modes: Vec<String> = node.get_attr_vec("nodes_modes")?;
    let true_ids: Vec<i64> = node.get_attr_vec("nodes_truenodeids")?;
    let false_ids: Vec<i64> = node.get_attr_vec("nodes_falsenodeids")?;
    let missing_true: Vec<i64> = node.get_attr_opt_vec("nodes_missing_value_tracks_true")?.unwrap_or_default();
    let hit_rates: Vec<f32> = node.get_attr_opt_vec("nodes_hitrates")?.unwrap_or_default();
    let leaf_tree: Vec<i64> = node.get_attr_vec(&format!("{leaf}_treeids"))?;
    let leaf_node: Vec<i64> = node.get_attr_vec(&format!("{leaf}_nodeids"))?;
    let leaf_column: Vec<i64> = node.get_attr_vec(&format!("{leaf}_ids"))?;
    let leaf_weight: Vec<f32> = node.get_attr_vec(&format!("{leaf}_weights"))?;
    let n = tree_ids.len();
    ensure!(n > 0, "tree ensemble: no nodes");
    // Each column is built as its own trees: the nodes are copied once per column.
    ensure!(
        n.saturating_mul(width) <= MAX_COLUMN_NODES,
        "tree ensemble: {n} nodes × {width} columns exceed the limit of {MAX_COLUMN_NODES}"
    );
    for len in [node_ids.len(), features.len(), thresholds.len(), modes.len(), true_ids.len(), false_ids.len()] {
        ensure!(len == n, "tree ensemble: node attributes have different lengths");
    }
    let m = leaf_tree.len();
    ensure!(
        leaf_node.len() == m && leaf_column.len() == m && leaf_weight.len() == m,
        "tree ensemble: leaf attributes have different lengths"
    );

    let mut columns = Vec::with_capacity(width);
    for column in 0..width {
        let mut leaf_values: std::collections::HashMap<(i64, i64), f64> = Default::default();
        for k in 0..m {
            ensure!(
                (0..width as i64).contains(&leaf_column[k]),
                "tree ensemble: leaf for column {} of {width}",
                leaf_column[k]
            );
            if leaf_column[k] == column as i64 {
                *leaf_values.entry((leaf_tree[k], leaf_node[k])).or_default() += leaf_weight[k] as f64;
            }
        }
        let mut trees: std::collections::BTreeMap<i64, Vec<Option<Node>>> = Default::default();
        let mut n_features = 0usize;
        for k in 0..n {
            let id = usize::try_from(node_ids[k]).map_err(|_| format_err!("tree ensemble: negative node id"))?;
            ensure!(id < n, "tree ensemble: node id {id} out of range");
            let nodes = trees.entry(tree_ids[k]).or_default();
            if nodes.len() <= id {
                nodes.resize(id + 1, None);
            }
            let cover = hit_rates.get(k).copied().unwrap_or(1.0) as f64;
            let child = |c: i64| usize::try_from(c).map_err(|_| format_err!("tree ensemble: negative child id"));
            let threshold = thresholds[k];
            let default_true = missing_true.get(k).copied().unwrap_or(0) != 0;
            let feature =
                usize::try_from(features[k]).map_err(|_| format_err!("tree ensemble: negative feature id"))?;
            // ONNX's "true" branch becomes Warden's left for `<` and `<=`, its right for `>=` and `>`;
            // `x <= t` is `x < next_up(t)` in float32.
            let (split, left, right, default_left) = match modes[k].as_str() {
                "LEAF" => {
                    let value = leaf_values.get(&(tree_ids[k], node_ids[k])).copied().unwrap_or(0.0);
                    nodes[id] = Some(Node::Leaf { value, cover });
                    continue;
                }
                "BRANCH_LT" => (Split::Less(threshold), child(true_ids[k])?, child(false_ids[k])?, default_true),
                "BRANCH_GTE" => (Split::Less(threshold), child(false_ids[k])?, child(true_ids[k])?, !default_true),
                "BRANCH_LEQ" => {
                    (Split::Less(threshold.next_up()), child(true_ids[k])?, child(false_ids[k])?, default_true)
                }
                "BRANCH_GT" => {
                    (Split::Less(threshold.next_up()), child(false_ids[k])?, child(true_ids[k])?, !default_true)
                }
                other => bail!("tree ensemble: node mode {other} is not supported"),
            };
            n_features = n_features.max(feature + 1);
            nodes[id] = Some(Node::Internal { feature, split, default_left, left, right, cover });
        }
        let trees = trees
            .into_values()
            .map(|nodes| {
                let nodes = nodes
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format_err!("tree ensemble: a tree has gaps in its node ids"))?;
                let tree = Tree { nodes };
                tree.check(n_features).map_err(|m| format_err!("tree ensemble: {m}"))?;
                Ok(tree)
            })
            .collect::<TractResult<Vec<_>>>()?;
        columns.push(Ensemble::new(
            trees,
            base.get(column).copied().unwrap_or(0.0) as f64,
            if logistic { Link::Logistic(1.0) } else { Link::Identity },
            Precision::F32,
            n_features,
        ));
    }
    Ok((columns, logistic))
}

impl Expansion for TreeEnsembleOp {
    fn name(&self) -> StaticName {
        "TreeEnsemble".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(if self.labels.is_some() { 2 } else { 1 })
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        s.equals(&inputs[0].rank, 2)?;
        let scores = if self.labels.is_some() {
            check_output_arity(outputs, 2)?;
            s.equals(&outputs[0].datum_type, DatumType::I64)?;
            s.equals(&outputs[0].rank, 1)?;
            s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
            &outputs[1]
        } else {
            check_output_arity(outputs, 1)?;
            &outputs[0]
        };
        s.equals(&scores.datum_type, DatumType::F32)?;
        s.equals(&scores.rank, 2)?;
        s.equals(&scores.shape[0], &inputs[0].shape[0])?;
        s.equals(&scores.shape[1], self.score_width().to_dim())?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let x = wire_cast(prefix, model, inputs[0], DatumType::F32)?;
        model.wire_node(prefix, self.clone(), &[x])
    }
}

impl Op for TreeEnsembleOp {
    fn name(&self) -> StaticName {
        "WardenTreeEnsemble".into()
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape();
        ensure!(shape.len() == 2, "tree ensemble: input must be [N, F]");
        let (rows, width) = (shape[0], shape[1]);
        let needed = self.columns.iter().map(|c| c.n_features).max().unwrap_or(0);
        ensure!(width >= needed, "tree ensemble: {width} columns, the trees use {needed}");
        let data = input.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
        let mut x = vec![0f64; width];
        let mut scores = Vec::with_capacity(rows * 2);
        let mut labels = Vec::with_capacity(rows);
        for row in 0..rows {
            for (slot, v) in x.iter_mut().zip(&data[row * width..(row + 1) * width]) {
                *slot = *v as f64;
            }
            let column = |c: &Ensemble| c.predict(&x).score as f32;
            match (self.labels.as_deref(), self.columns.as_slice()) {
                (None, [only]) => scores.push(column(only)),
                (Some(classes), [only]) => {
                    let p = column(only);
                    scores.extend([1.0 - p, p]);
                    labels.push(if p > 0.5 { classes[1] } else { classes[0] });
                }
                (Some(classes), [c0, c1]) => {
                    let (p0, p1) = (column(c0), column(c1));
                    scores.extend([p0, p1]);
                    labels.push(if p1 > p0 { classes[1] } else { classes[0] });
                }
                (Some(classes), columns) if columns.len() == classes.len() => {
                    let start = scores.len();
                    scores.extend(columns.iter().map(column));
                    let row_scores = &scores[start..];
                    // ONNX Runtime's label is the first highest score.
                    let mut best = 0;
                    for (k, v) in row_scores.iter().enumerate() {
                        if *v > row_scores[best] {
                            best = k;
                        }
                    }
                    labels.push(classes[best]);
                }
                _ => bail!("tree ensemble: unexpected column layout"),
            }
        }
        let scores = Tensor::from_shape(&[rows, self.score_width()], &scores)?.into_tvalue();
        Ok(if self.labels.is_some() {
            tvec!(Tensor::from_shape(&[rows], &labels)?.into_tvalue(), scores)
        } else {
            tvec!(scores)
        })
    }
}

impl TypedOp for TreeEnsembleOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rows = inputs[0].shape[0].clone();
        Ok(if self.labels.is_some() {
            tvec!(i64::fact([rows.clone()]), f32::fact([rows, self.score_width().to_dim()]))
        } else {
            tvec!(f32::fact([rows, 1.to_dim()]))
        })
    }

    as_op!();
}
