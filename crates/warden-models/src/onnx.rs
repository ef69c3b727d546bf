//! ONNX models through tract, with Warden's ONNX-ML extension operators.

use crate::trees::MAX_CLASSES;
use crate::{Cell, InputKind, InputSpec, ModelError, Prediction};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

const FORMAT: &str = "onnx";

fn invalid(message: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid { format: FORMAT, message: message.to_string() }
}

/// The largest tensor, in bytes, an ONNX graph may declare: 256 MiB.
///
/// tract computes every node whose inputs are all known while it loads a graph, so a few hundred bytes of
/// protobuf (a `ConstantOfShape` of a constant shape [100000, 100000, 100]) would otherwise allocate terabytes.
/// Each node's inputs and outputs are held to this limit from their declared shape and element type before tract
/// computes the node or translates it to typed operators, and every tensor of the typed graph is held to it for
/// the largest batch ([`MAX_BATCH_ROWS`] rows) before tract optimises it. The tensors tract computes while loading
/// (both plans together) are held to it in total, so that many nodes within the limit cannot add up. A model
/// declaring more is refused as unsafe, naming the node. It is well above tract's own folding budget (4 MiB).
pub const MAX_ONNX_TENSOR_BYTES: u64 = 256 << 20;

const _: () = assert!(MAX_ONNX_TENSOR_BYTES >= tract_onnx::tract_core::optim::CONST_FOLD_MEM_BUDGET);

/// The most rows one run of an ONNX plan takes (`predict` splits larger batches): tensors whose size grows with
/// the batch are held to [`MAX_ONNX_TENSOR_BYTES`] at this many rows. It is the scoring API's largest batch.
const MAX_BATCH_ROWS: usize = 10_000;

/// Why a graph is refused before tract computes a node: a tensor beyond [`MAX_ONNX_TENSOR_BYTES`], or one whose
/// size cannot be known before it is computed. Carried through tract's errors to [`refusal`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Unbounded(String);

/// A tract error as a `ModelError`: `Unsafe` with the node named when a tensor was refused for its size.
fn refusal(e: TractError) -> ModelError {
    match e.chain().find_map(|cause| cause.downcast_ref::<Unbounded>()) {
        Some(Unbounded(message)) => ModelError::Unsafe(message.clone()),
        None => invalid(format!("{e:#}")),
    }
}

/// Bytes of a tensor of `dims` (with the symbols in `values` replaced by their values) and `datum_type` (one
/// byte an element when not known yet), saturating; `None` when a dimension depends on another symbol.
fn tensor_bytes(dims: &[TDim], datum_type: Option<DatumType>, values: &SymbolValues) -> Option<u128> {
    let mut volume: u128 = 1;
    for dim in dims {
        let length = match dim.maybe_eval_to_i64(values) {
            Some(length) => u128::try_from(length).unwrap_or(0),
            // Every symbol has a value: the dimension overflows an i64.
            None if dim.symbols().iter().all(|symbol| values.get(symbol).is_some()) => u128::MAX,
            None => return None,
        };
        volume = volume.saturating_mul(length);
    }
    Some(volume.saturating_mul(datum_type.map_or(1, |dt| dt.size_of()) as u128))
}

/// `bytes` in binary units ("3.6 TiB", "256 MiB").
fn human_bytes(bytes: u128) -> String {
    let (mut value, mut unit) = (bytes as f64, "B");
    for next in ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    let text = if unit == "B" { value.to_string() } else { format!("{value:.1}") };
    format!("{} {unit}", text.strip_suffix(".0").unwrap_or(&text))
}

/// Refuses a tensor of `node` (an `op`) larger than [`MAX_ONNX_TENSOR_BYTES`], with the batch size symbol at
/// its value in `values`.
fn check_tensor(
    node: &str,
    op: &str,
    dims: &[TDim],
    datum_type: Option<DatumType>,
    values: &SymbolValues,
) -> TractResult<()> {
    let Some(bytes) = tensor_bytes(dims, datum_type, values) else { return Ok(()) };
    if bytes <= u128::from(MAX_ONNX_TENSOR_BYTES) {
        return Ok(());
    }
    let shape = if dims.is_empty() {
        "a scalar".into()
    } else {
        dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×")
    };
    let elements = datum_type.map_or_else(|| "elements".into(), |dt| format!("{dt:?}").to_lowercase());
    let mut symbols: Vec<String> = dims
        .iter()
        .flat_map(|d| d.symbols())
        .filter_map(|symbol| values.get(&symbol).map(|value| format!("{symbol} = {value}")))
        .collect();
    symbols.sort();
    symbols.dedup();
    let at = if symbols.is_empty() { String::new() } else { format!(" for a batch of {} rows", symbols.join(", ")) };
    Err(Unbounded(format!(
        "node '{node}' ({op}) would produce a tensor of {shape} {elements} ({}{at}); the limit is {}",
        human_bytes(bytes),
        human_bytes(u128::from(MAX_ONNX_TENSOR_BYTES)),
    ))
    .into())
}

fn check_inference_fact(node: &str, op: &str, fact: &InferenceFact, values: &SymbolValues) -> TractResult<()> {
    match fact.shape.concretize() {
        Some(dims) => check_tensor(node, op, &dims, fact.datum_type.concretize(), values),
        None => Ok(()),
    }
}

/// Checks every tensor of a typed graph (and of the graphs inside its If and Scan nodes), naming its node
/// (`prefix` names the enclosing nodes).
fn check_typed_model(model: &TypedModel, prefix: &str, context: &Context) -> TractResult<()> {
    check_typed_nodes(model, prefix, None, context)
}

/// As [`check_typed_model`], naming `only` (a node and its operator) for every tensor when given.
fn check_typed_nodes(
    model: &TypedModel,
    prefix: &str,
    only: Option<(&str, &str)>,
    context: &Context,
) -> TractResult<()> {
    use tract_onnx::tract_core::ops::{logic::IfThenElse, scan::Scan};
    for node in &model.nodes {
        let path = format!("{prefix}{}", node.name);
        let op_type = context.op_type(&path, node.op.as_op());
        let (name, op) = only.unwrap_or((&path, &op_type));
        for output in &node.outputs {
            check_tensor(name, op, &output.fact.shape.to_tvec(), Some(output.fact.datum_type), &context.largest)?;
        }
        let inner = format!("{path}/");
        if let Some(branches) = node.op_as::<IfThenElse>() {
            check_typed_nodes(&branches.then_body, &inner, only, context)?;
            check_typed_nodes(&branches.else_body, &inner, only, context)?;
        }
        if let Some(scan) = node.op_as::<Scan>() {
            check_typed_nodes(&scan.body, &inner, only, context)?;
        }
    }
    Ok(())
}

/// A tensor of the batch plan whose size depends on the batch size alone.
struct BatchTensor {
    node: String,
    op: String,
    dims: TVec<TDim>,
    datum_type: DatumType,
}

impl BatchTensor {
    fn check(&self, values: &SymbolValues) -> TractResult<()> {
        check_tensor(&self.node, &self.op, &self.dims, Some(self.datum_type), values)
    }
}

fn batch_tensors(model: &TypedModel, batch: &Symbol, context: &Context) -> Vec<BatchTensor> {
    let mut tensors = Vec::new();
    for node in &model.nodes {
        for output in &node.outputs {
            let dims = output.fact.shape.to_tvec();
            let symbols: Vec<Symbol> = dims.iter().flat_map(|d| d.symbols()).collect();
            if !symbols.is_empty() && symbols.iter().all(|s| s == batch) {
                let op = context.op_type(&node.name, node.op.as_op());
                tensors.push(BatchTensor { node: node.name.clone(), op, dims, datum_type: output.fact.datum_type });
            }
        }
    }
    tensors
}

/// What the checks need besides the graph: the batch size they assume, and each node's ONNX operator type.
#[derive(Debug, Clone)]
struct Context {
    /// The batch size symbol at [`MAX_BATCH_ROWS`].
    largest: SymbolValues,
    /// The ONNX operator type of each node, by name (after the names of the nodes whose subgraphs hold it).
    op_types: std::sync::Arc<HashMap<String, String>>,
    /// Bytes of the tensors tract has computed so far while loading, shared by every node.
    computed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Context {
    fn new(graph: Option<&tract_onnx::pb::GraphProto>, largest: SymbolValues) -> Context {
        fn walk(graph: &tract_onnx::pb::GraphProto, prefix: &str, out: &mut HashMap<String, String>) {
            for node in &graph.node {
                // As tract names nodes: their name, else their first output.
                let name = match node.output.first() {
                    _ if !node.name.is_empty() => &node.name,
                    Some(output) if !output.is_empty() => output,
                    _ => continue,
                };
                let path = format!("{prefix}{name}");
                for attribute in &node.attribute {
                    for graph in attribute.g.iter().chain(attribute.graphs.iter()) {
                        walk(graph, &format!("{path}/"), out);
                    }
                }
                out.insert(path, node.op_type.clone());
            }
        }
        let mut op_types = HashMap::new();
        if let Some(graph) = graph {
            walk(graph, "", &mut op_types);
        }
        Context { largest, op_types: std::sync::Arc::new(op_types), computed: Default::default() }
    }

    /// Counts the `bytes` tract is about to compute for `node` (an `op`) while loading, refusing the graph when
    /// they would bring the total beyond [`MAX_ONNX_TENSOR_BYTES`]: many nodes each within the limit must not add
    /// up to an unbounded amount of constants.
    fn compute(&self, node: &str, op: &str, bytes: u128) -> TractResult<()> {
        use std::sync::atomic::Ordering;
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        let before = self.computed.fetch_add(bytes, Ordering::Relaxed);
        let total = before.saturating_add(bytes);
        if total <= MAX_ONNX_TENSOR_BYTES {
            return Ok(());
        }
        Err(Unbounded(format!(
            "node '{node}' ({op}) would bring the tensors computed while loading the graph to {}; the limit is {}",
            human_bytes(u128::from(total)),
            human_bytes(u128::from(MAX_ONNX_TENSOR_BYTES)),
        ))
        .into())
    }

    /// The ONNX operator type of the node at `path`, else tract's name for `op`.
    fn op_type(&self, path: &str, op: &dyn Op) -> String {
        self.op_types.get(path).cloned().unwrap_or_else(|| op.name().to_string())
    }
}

/// Wraps every operator of `model` (and of the graphs inside its If and Scan nodes) in [`Bounded`]; sources
/// and constants stay as they are (tract recognises them by their type, and a constant is already in memory).
fn bound_graph(model: &mut InferenceModel, prefix: &str, context: &Context) {
    use tract_onnx::tract_hir::ops::{konst::Const, scan::InferenceScan, source::Source};
    for node in &mut model.nodes {
        let op = node.op.as_op();
        if op.downcast_ref::<Source>().is_some()
            || op.downcast_ref::<Const>().is_some()
            || op.downcast_ref::<Bounded>().is_some()
        {
            continue;
        }
        let path = format!("{prefix}{}", node.name);
        let inner = format!("{path}/");
        if let Some(branches) = node.op.as_op_mut().downcast_mut::<tract_onnx::ops::logic::If>() {
            bound_graph(&mut branches.then_body, &inner, context);
            bound_graph(&mut branches.else_body, &inner, context);
        }
        if let Some(scan) = node.op.as_op_mut().downcast_mut::<InferenceScan>() {
            bound_graph(&mut scan.body, &inner, context);
        }
        let op = std::mem::replace(&mut node.op, Box::new(tract_onnx::tract_core::ops::dummy::Dummy::new()));
        let op_type = context.op_type(&path, op.as_op());
        node.op = Box::new(Bounded { inner: op, node: path, op: op_type, context: context.clone() });
    }
}

/// An operator of the graph held to [`MAX_ONNX_TENSOR_BYTES`]: the facts of its inputs and outputs are checked
/// when tract infers them, before tract computes the node (which it does as soon as its inputs are all known), and
/// before the node is translated to typed operators (which computes nodes of tiny constant inputs). Everything
/// else is the wrapped operator's.
///
/// tract's own inference (`InferenceOp::infer`'s default, which no operator of tract-hir, tract-onnx or
/// Warden overrides) computes a node first and weighs the result against its folding budget afterwards; this one
/// follows the same rules but computes only outputs whose declared size is known and that tract would keep.
#[derive(Debug, Clone)]
struct Bounded {
    inner: Box<dyn InferenceOp>,
    /// The node's name, after the names of the nodes whose subgraphs hold it.
    node: String,
    /// Its ONNX operator type.
    op: String,
    context: Context,
}

impl PartialEq for Bounded {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node && self.inner.as_op() == other.inner.as_op()
    }
}

impl Eq for Bounded {}

/// How far the sizes tract infers for a node can be trusted (see [`Bounded::check_exactly`]).
enum Sizing {
    /// No input value is misread: the inferred facts stand.
    Read,
    /// Outputs inferred from input values saturated to i32, and checked.
    Saturated(Vec<InferenceFact>),
    /// An input value is misread and the outputs cannot be inferred from saturated values.
    Unknown,
}

/// Whether an integer tensor holds a value beyond i32, which tract's rules misread (see [`Bounded::check_exactly`]).
fn wraps(tensor: &Tensor) -> bool {
    let beyond = |v: i128| v < i128::from(i32::MIN) || v > i128::from(i32::MAX);
    let Ok(plain) = tensor.try_as_plain_ram() else { return false };
    match tensor.datum_type() {
        DatumType::I64 => plain.as_slice::<i64>().is_ok_and(|s| s.iter().any(|&v| beyond(i128::from(v)))),
        DatumType::U64 => plain.as_slice::<u64>().is_ok_and(|s| s.iter().any(|&v| beyond(i128::from(v)))),
        DatumType::U32 => plain.as_slice::<u32>().is_ok_and(|s| s.iter().any(|&v| beyond(i128::from(v)))),
        _ => false,
    }
}

/// The tensor with its values clamped to i32.
fn saturate(tensor: &Tensor) -> TractResult<Tensor> {
    let clamp = |v: i128| v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i64;
    let plain = tensor.try_as_plain_ram()?;
    let values: Vec<i64> = match tensor.datum_type() {
        DatumType::I64 => plain.as_slice::<i64>()?.iter().map(|&v| clamp(i128::from(v))).collect(),
        DatumType::U64 => plain.as_slice::<u64>()?.iter().map(|&v| clamp(i128::from(v))).collect(),
        DatumType::U32 => plain.as_slice::<u32>()?.iter().map(|&v| clamp(i128::from(v))).collect(),
        _ => return Ok(tensor.clone()),
    };
    Ok(Tensor::from_shape(tensor.shape(), &values)?.cast_to_dt(tensor.datum_type())?.into_owned())
}

/// Bytes of a tensor in memory, as tract weighs them when folding.
fn tensor_mem(tensor: &Tensor) -> u64 {
    (tensor.volume() * tensor.datum_type().size_of()) as u64
}

impl Bounded {
    fn check(&self, facts: &[&InferenceFact]) -> TractResult<()> {
        facts.iter().try_for_each(|fact| check_inference_fact(&self.node, &self.op, fact, &self.context.largest))
    }

    /// Infers the outputs for these input values and checks them, before the node is computed outside inference.
    fn check_values(&self, inputs: &[TValue]) -> TractResult<()> {
        let inputs: TVec<InferenceFact> =
            inputs.iter().map(|t| InferenceFact::try_from(t.clone().into_arc_tensor())).collect::<TractResult<_>>()?;
        match self.check_exactly(&inputs.iter().collect::<Vec<_>>())? {
            Sizing::Read => {}
            Sizing::Saturated(_) => return Ok(()),
            Sizing::Unknown => return Err(self.size_unknown()),
        }
        let outputs: TVec<InferenceFact> = (0..self.inner.nboutputs()?).map(|_| InferenceFact::default()).collect();
        let mut inner = self.inner.clone();
        let (_, outputs, _) = inner.infer_facts(inputs.iter().collect(), outputs.iter().collect(), tvec![])?;
        for output in &outputs {
            if output.shape.concretize().is_none() {
                return Err(self.size_unknown());
            }
        }
        self.check(&outputs.iter().collect::<Vec<_>>())
    }

    /// Checks what the node computes from known input values where tract's inference can be wrong about it.
    ///
    /// tract's rules read numbers as dimensions through i32, so an integer beyond it wraps around (2³² + 5 reads as
    /// 5), while several operators (Range, Pad) compute with the real value. A node given such a value has its
    /// outputs inferred again from the values saturated to i32 instead, which any size of 2³¹ or more exceeds
    /// the limit with. A Range's length, which is a difference of values, is computed exactly.
    fn check_exactly(&self, inputs: &[&InferenceFact]) -> TractResult<Sizing> {
        if self.inner.name() == "Range" {
            self.check_range(inputs)?;
        }
        if !inputs.iter().any(|i| i.value.concretize().is_some_and(|t| wraps(&t))) {
            return Ok(Sizing::Read);
        }
        let saturated = inputs
            .iter()
            .map(|i| {
                let mut fact = (*i).clone();
                if let Some(t) = i.value.concretize().filter(|t| wraps(t)) {
                    fact.value = GenericFactoid::Only(saturate(&t)?.into_arc_tensor());
                }
                Ok(fact)
            })
            .collect::<TractResult<TVec<InferenceFact>>>()?;
        let outputs: TVec<InferenceFact> = (0..self.inner.nboutputs()?).map(|_| InferenceFact::default()).collect();
        let mut inner = self.inner.clone();
        let Ok((_, outputs, _)) = inner.infer_facts(saturated.iter().collect(), outputs.iter().collect(), tvec![])
        else {
            return Ok(Sizing::Unknown);
        };
        self.check(&outputs.iter().collect::<Vec<_>>())?;
        Ok(Sizing::Saturated(outputs.into_vec()))
    }

    /// A Range's length from its start, limit and delta (tract's rules compute it through i32).
    fn check_range(&self, inputs: &[&InferenceFact]) -> TractResult<()> {
        let [start, limit, delta] = inputs else { return Ok(()) };
        let scalar = |f: &InferenceFact| f.value.concretize().and_then(|t| t.cast_to_scalar::<f64>().ok());
        let (Some(first), Some(limit), Some(delta)) = (scalar(start), scalar(limit), scalar(delta)) else {
            return Ok(());
        };
        let length = ((limit - first) / delta).ceil();
        if length.is_nan() || length <= 0.0 {
            return Ok(());
        }
        let length = if length >= i64::MAX as f64 { i64::MAX } else { length as i64 };
        let datum_type =
            start.datum_type.concretize().map(|dt| if dt == DatumType::TDim { DatumType::I64 } else { dt });
        check_tensor(&self.node, &self.op, &[TDim::from(length)], datum_type, &SymbolValues::default())
    }

    fn size_unknown(&self) -> TractError {
        Unbounded(format!(
            "node '{}' ({}) would compute a tensor whose size cannot be known before it is computed; tensors are \
             limited to {}",
            self.node,
            self.op,
            human_bytes(u128::from(MAX_ONNX_TENSOR_BYTES))
        ))
        .into()
    }

    /// Computes the node, its outputs already checked: `ctx` is `None` outside a plan. An expansion (an operator
    /// tract computes by building and running a small typed graph) has that graph's tensors checked first.
    fn evaluate(&self, ctx: Option<&EvalContext>, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        let Some(expansion) = self.inner.as_op().downcast_ref::<Box<dyn Expansion>>() else {
            return match ctx {
                Some(ctx) => self.inner.eval(ctx, inputs).map(Some),
                None => self.inner.eval_out_of_plan(inputs),
            };
        };
        if ctx.is_none() && !expansion.runs_out_of_plan() {
            return Ok(None);
        }
        // As `EvalOp for Box<dyn Expansion>` does, with a check between wiring and running.
        let mut adhoc = TypedModel::default();
        let wires = inputs
            .iter()
            .enumerate()
            .map(|(ix, i)| {
                adhoc.add_source(format!("adhoc-source-{ix}"), TypedFact::try_from(i.clone().into_arc_tensor())?)
            })
            .collect::<TractResult<TVec<OutletId>>>()?;
        let wires = expansion.wire("adhoc", &mut adhoc, &wires)?;
        check_typed_nodes(&adhoc, "", Some((&self.node, &self.op)), &self.context)?;
        adhoc.select_output_outlets(&wires)?;
        Ok(Some(SimplePlan::new(adhoc)?.run(inputs)?))
    }
}

impl Op for Bounded {
    fn name(&self) -> StaticName {
        self.inner.name()
    }

    fn validation(&self) -> Validation {
        self.inner.validation()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        self.inner.info()
    }

    fn mints_runtime_symbols(&self) -> bool {
        self.inner.mints_runtime_symbols()
    }

    fn required_bound_symbols(&self, inputs: &[&TypedFact]) -> TVec<Symbol> {
        self.inner.required_bound_symbols(inputs)
    }

    fn as_typed(&self) -> Option<&dyn TypedOp> {
        None
    }
}

impl EvalOp for Bounded {
    fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.check_values(&inputs)?;
        self.evaluate(Some(ctx), inputs)?.context("the operator computed nothing")
    }

    fn forwards_input(&self) -> Option<usize> {
        self.inner.forwards_input()
    }

    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        self.check_values(&inputs)?;
        self.evaluate(None, inputs)
    }

    fn state(&self, ctx: &EvalContext) -> TractResult<Option<Box<dyn OpState>>> {
        Ok(self.inner.state(ctx)?.map(|state| Box::new(BoundedState(state)) as Box<dyn OpState>))
    }

    fn drop_session(&self, session: SessionId, node_id: usize) {
        self.inner.drop_session(session, node_id)
    }
}

/// The state of a wrapped stateful operator, which expects its own operator when it computes.
#[derive(Debug, Clone)]
struct BoundedState(Box<dyn OpState>);

impl OpState for BoundedState {
    fn load_from(&mut self, state: &mut TurnState, values: &mut dyn Iterator<Item = TValue>) -> TractResult<()> {
        self.0.load_from(state, values)
    }

    fn save_to(&self, values: &mut Vec<TValue>) -> TractResult<()> {
        self.0.save_to(values)
    }

    fn init_tensor_fact(&self) -> Option<(String, TypedFact)> {
        self.0.init_tensor_fact()
    }

    fn has_init_tensor_fact(&self) -> bool {
        self.0.has_init_tensor_fact()
    }

    fn resolve_symbols(&mut self, state: &mut TurnState) -> TractResult<()> {
        self.0.resolve_symbols(state)
    }

    fn eval(&mut self, ctx: &EvalContext, op: &dyn Op, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let op = op.downcast_ref::<Bounded>().map_or(op, |bounded| bounded.inner.as_op());
        self.0.eval(ctx, op, inputs)
    }

    fn reset_lanes(&mut self, lanes: &[LaneId]) -> TractResult<()> {
        self.0.reset_lanes(lanes)
    }
}

impl InferenceOp for Bounded {
    fn infer(
        &mut self,
        inputs: TVec<&InferenceFact>,
        outputs: TVec<&InferenceFact>,
        observed: TVec<&InferenceFact>,
    ) -> TractResult<(TVec<InferenceFact>, TVec<InferenceFact>, TVec<InferenceFact>)> {
        use tract_onnx::tract_core::{optim::CONST_FOLD_MEM_BUDGET, tract_data::TooEarly};
        let (inputs, outputs, observed) = self.infer_facts(inputs, outputs, observed).context("Infering facts")?;
        if inputs.is_empty() {
            return Ok((inputs, outputs, observed));
        }
        let sized = match self.check_exactly(&inputs.iter().collect::<Vec<_>>())? {
            Sizing::Read => outputs.to_vec(),
            Sizing::Saturated(outputs) => outputs,
            Sizing::Unknown => return Ok((inputs, outputs, observed)),
        };
        // tract computes a node whose inputs are all known and small, and keeps the result when it is no larger
        // than its inputs or its folding budget: here only outputs of a known size that would be kept are computed.
        let values = inputs
            .iter()
            .map(|i| {
                i.value
                    .concretize()
                    .filter(|t| t.is_plain_ram() && tensor_mem(t) <= CONST_FOLD_MEM_BUDGET)
                    .map(|t| t.into_tvalue())
            })
            .collect::<Option<TVec<_>>>();
        let Some(values) = values else { return Ok((inputs, outputs, observed)) };
        let kept = values.iter().map(|t| tensor_mem(t)).sum::<u64>().max(CONST_FOLD_MEM_BUDGET);
        let declared = sized
            .iter()
            .map(|o| {
                o.shape
                    .concretize()
                    .and_then(|dims| tensor_bytes(&dims, o.datum_type.concretize(), &SymbolValues::default()))
            })
            .sum::<Option<u128>>();
        let Some(declared) = declared.filter(|&bytes| bytes <= u128::from(kept)) else {
            return Ok((inputs, outputs, observed));
        };
        self.context.compute(&self.node, &self.op, declared)?;
        match self.evaluate(None, values) {
            Ok(Some(values)) if values.iter().map(|t| tensor_mem(t)).sum::<u64>() <= kept => {
                let values =
                    values.into_iter().map(|t| t.into_arc_tensor().try_into()).collect::<TractResult<TVec<_>>>()?;
                Ok((inputs, values, observed))
            }
            Ok(_) => Ok((inputs, outputs, observed)),
            Err(e) if e.root_cause().downcast_ref::<TooEarly>().is_some() => Ok((inputs, outputs, observed)),
            Err(e) => Err(e).context("Eager eval during inference"),
        }
    }

    fn infer_facts(
        &mut self,
        inputs: TVec<&InferenceFact>,
        outputs: TVec<&InferenceFact>,
        observed: TVec<&InferenceFact>,
    ) -> TractResult<(TVec<InferenceFact>, TVec<InferenceFact>, TVec<InferenceFact>)> {
        // Known facts first: some operators build their output value from a shape while inferring (EyeLike).
        self.check(&inputs)?;
        self.check(&outputs)?;
        let inferred = self.inner.infer_facts(inputs, outputs, observed)?;
        self.check(&inferred.0.iter().chain(inferred.1.iter()).collect::<Vec<_>>())?;
        Ok(inferred)
    }

    fn observe_outlets(&self, model: &InferenceModel, node: &InferenceNode) -> TractResult<Vec<OutletId>> {
        self.inner.observe_outlets(model, node)
    }

    fn incorporate(&self, model: &InferenceModel, node: &InferenceNode) -> TractResult<Option<InferenceModelPatch>> {
        let Some(mut patch) = self.inner.incorporate(model, node)? else { return Ok(None) };
        let prefix = self.node.strip_suffix(node.name.as_str()).unwrap_or_default();
        bound_graph(&mut patch.model, prefix, &self.context);
        Ok(Some(patch))
    }

    fn nboutputs(&self) -> TractResult<usize> {
        self.inner.nboutputs()
    }

    fn as_op(&self) -> &dyn Op {
        self
    }

    fn as_op_mut(&mut self) -> &mut dyn Op {
        self
    }

    fn to_typed(
        &self,
        source: &InferenceModel,
        node: &InferenceNode,
        target: &mut TypedModel,
        mapping: &HashMap<OutletId, OutletId>,
    ) -> TractResult<TVec<OutletId>> {
        let outputs: Vec<&InferenceFact> = node.outputs.iter().map(|o| &o.fact).collect();
        self.check(&outputs)?;
        // The typed graph may know values inference did not (it computes some nodes as they are added).
        let mut inputs = Vec::with_capacity(node.inputs.len());
        for (outlet, fact) in node.inputs.iter().zip(source.node_input_facts(node.id)?) {
            let mut fact = fact.clone();
            if let Some(konst) = &target.outlet_fact(mapping[outlet])?.konst {
                fact.value = GenericFactoid::Only(konst.clone());
            }
            inputs.push(fact);
        }
        let inputs: Vec<&InferenceFact> = inputs.iter().collect();
        self.check(&inputs)?;
        let sizing = self.check_exactly(&inputs)?;
        // tract's typed graph computes a node as it is added when its inputs are all tiny constants.
        let tiny_constants = !node.inputs.is_empty()
            && node.inputs.iter().all(|i| {
                target.outlet_fact(mapping[i]).is_ok_and(|f| f.konst.as_ref().is_some_and(|k| k.volume() < 16))
            });
        let unknown = match sizing {
            Sizing::Read => outputs.iter().any(|o| o.shape.concretize().is_none()),
            Sizing::Saturated(_) => false,
            Sizing::Unknown => true,
        };
        if tiny_constants && unknown {
            return Err(self.size_unknown());
        }
        if tiny_constants {
            let sized: Vec<&InferenceFact> = match &sizing {
                Sizing::Saturated(outputs) => outputs.iter().collect(),
                _ => outputs,
            };
            let bytes = sized
                .iter()
                .filter_map(|o| tensor_bytes(&o.shape.concretize()?, o.datum_type.concretize(), &self.context.largest))
                .fold(0u128, u128::saturating_add);
            self.context.compute(&self.node, &self.op, bytes)?;
        }
        self.inner.to_typed(source, node, target, mapping)
    }
}

/// How rows map onto the graph's inputs.
#[derive(Debug, Clone, PartialEq)]
enum Layout {
    /// One `[N, 1]` input per feature (skl2onnx pipelines with a ColumnTransformer).
    PerColumn(Vec<(String, DatumType)>),
    /// One `[N, F]` input holding every feature in order (tree converters).
    Matrix { width: usize, datum_type: DatumType },
}

/// Which part of the chosen output is the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScoreColumn {
    /// `[N, 2]` class probabilities: column 1 is P(class 1).
    PositiveClass,
    /// `[N, C]` probabilities of C > 2 classes, beside a class-label output: a multiclass classifier.
    Classes(usize),
    /// `[N]` or `[N, 1]`: the value itself.
    Value,
}

pub(crate) struct OnnxModel {
    /// For any number of rows.
    plan: Plan,
    /// For exactly one row.
    single_row_plan: Plan,
    layout: Layout,
    score: ScoreColumn,
    /// The batch size symbol of `plan`.
    batch: Symbol,
    /// The tensors of `plan` whose size depends on the batch size only, checked again for each batch.
    batch_tensors: Vec<BatchTensor>,
}

/// A runnable plan with its idle execution states: building a state per call allocates a slot per node,
/// which costs more than running a small graph.
struct Plan {
    plan: std::sync::Arc<TypedSimplePlan>,
    states: std::sync::Mutex<Vec<TypedSimpleState>>,
}

impl Plan {
    fn new(plan: std::sync::Arc<TypedSimplePlan>) -> Plan {
        Plan { plan, states: std::sync::Mutex::new(Vec::new()) }
    }

    fn run(&self, inputs: TVec<TValue>) -> Result<TVec<TValue>, ModelError> {
        let idle = self.states.lock().expect("state pool lock").pop();
        let mut state = match idle {
            Some(state) => state,
            None => self.plan.spawn().map_err(|e| ModelError::Inference(format!("{e:#}")))?,
        };
        let outputs = state.run(inputs).map_err(|e| ModelError::Inference(format!("{e:#}")))?;
        self.states.lock().expect("state pool lock").push(state);
        Ok(outputs)
    }
}

/// Types the graph for inputs of `batch` rows, keeps only the score output and optimises it. Every tensor the
/// typed graph declares is held to [`MAX_ONNX_TENSOR_BYTES`] (for the batch size, at [`MAX_BATCH_ROWS`] rows),
/// before tract optimises the graph, which evaluates constant parts of it.
fn optimized_plan(
    mut model: InferenceModel,
    declared: &[(String, DatumType, Vec<Option<usize>>)],
    batch: TDim,
    context: &Context,
) -> Result<(std::sync::Arc<TypedSimplePlan>, ScoreColumn), ModelError> {
    for (i, (_, datum_type, shape)) in declared.iter().enumerate() {
        let mut shape: TVec<TDim> = shape.iter().map(|d| d.map_or(batch.clone(), |d| d.to_dim())).collect();
        shape[0] = batch.clone();
        model.set_input_fact(i, InferenceFact::dt_shape(*datum_type, shape)).map_err(invalid)?;
    }
    let mut typed = model.into_typed().map_err(refusal)?;
    check_typed_model(&typed, "", context).map_err(refusal)?;
    let (output, score) = choose_output(&typed)?;
    typed.select_output_outlets(&[output]).map_err(invalid)?;
    let optimized = typed.into_optimized().map_err(refusal)?;
    check_typed_model(&optimized, "", context).map_err(refusal)?;
    let plan = optimized.into_runnable().map_err(refusal)?;
    Ok((plan, score))
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel").field("layout", &self.layout).field("score", &self.score).finish()
    }
}

/// The declared dimensions (`None` for a symbolic one such as the batch size).
fn dims(fact: &InferenceFact) -> Option<Vec<Option<usize>>> {
    if fact.shape.is_open() {
        return None;
    }
    Some(fact.shape.dims().map(|d| d.concretize().and_then(|d| d.to_usize().ok())).collect())
}

impl OnnxModel {
    pub(crate) fn load(bytes: &[u8]) -> Result<OnnxModel, ModelError> {
        let mut onnx = tract_onnx::onnx();
        crate::onnx_ml::register(&mut onnx.op_register);
        // ZipMap's `seq(map(...))` output type cannot be a tensor type; the operator keeps the tensor.
        onnx.ignore_output_types = true;
        let proto = onnx.proto_model_for_read(&mut &bytes[..]).map_err(|e| invalid(format!("{e:#}")))?;
        // Everything a version scores with is in its one hashed artifact: tensors kept in other files
        // (ONNX external data) are refused, and a path leaving the directory is named as such.
        let external = proto.graph.as_ref().map(external_data_locations).unwrap_or_default();
        if let Some(location) = external.first() {
            let escapes = std::path::Path::new(location)
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
            return Err(ModelError::Unsafe(format!(
                "the ONNX model keeps {} tensor(s) in external files ('{location}'{}); save it with all \
                 tensors inside (onnx.save_model(..., save_as_external_data=False))",
                external.len(),
                if escapes { ", a path outside the model's directory" } else { "" }
            )));
        }
        let mut model = onnx.model_for_proto_model(&proto).map_err(|e| invalid(format!("{e:#}")))?;

        let batch = model.symbols.sym("N");
        // Before tract analyses the graph (which evaluates every node whose inputs are all known), each operator
        // is wrapped so that a node declaring a tensor beyond the limit is refused before it is computed.
        let largest = SymbolValues::default().with(&batch, MAX_BATCH_ROWS as i64);
        let context = Context::new(proto.graph.as_ref(), largest);
        bound_graph(&mut model, "", &context);
        let inputs = model.input_outlets().map_err(invalid)?.to_vec();
        let mut declared = Vec::new();
        for (i, outlet) in inputs.iter().enumerate() {
            let fact = model.input_fact(i).map_err(invalid)?.clone();
            let datum_type =
                fact.datum_type.concretize().ok_or_else(|| invalid(format!("input {i} has no declared type")))?;
            let shape = dims(&fact).ok_or_else(|| invalid(format!("input {i} has no declared shape")))?;
            let name = model.node(outlet.node).name.clone();
            declared.push((name, datum_type, shape));
        }
        let layout = match declared.as_slice() {
            [(_, datum_type, shape)] if shape.len() == 2 && shape[1].is_some_and(|w| w > 1) => {
                Layout::Matrix { width: shape[1].unwrap_or_default(), datum_type: *datum_type }
            }
            _ if declared.iter().all(|(_, _, shape)| shape.len() == 2 && shape[1] == Some(1)) => {
                Layout::PerColumn(declared.iter().map(|(name, dt, _)| (name.clone(), *dt)).collect())
            }
            _ => return Err(invalid("inputs must be one [N, F] tensor or one [N, 1] tensor per feature")),
        };
        for (datum_type, _) in layout_types(&layout) {
            if !matches!(datum_type, DatumType::F32 | DatumType::F64 | DatumType::I64 | DatumType::String) {
                return Err(ModelError::Unsupported { format: FORMAT, message: format!("input type {datum_type:?}") });
            }
        }
        let (plan, score) = optimized_plan(model.clone(), &declared, batch.to_dim(), &context)?;
        // A plan for one row lets tract fold every shape computation away: single-row scoring is the hot path.
        let (single_row_plan, _) = optimized_plan(model, &declared, 1.to_dim(), &context)?;
        let batch_tensors = batch_tensors(plan.model(), &batch, &context);
        Ok(OnnxModel {
            plan: Plan::new(plan),
            single_row_plan: Plan::new(single_row_plan),
            layout,
            score,
            batch,
            batch_tensors,
        })
    }

    pub(crate) fn inputs(&self) -> (Vec<InputSpec>, bool) {
        match &self.layout {
            Layout::PerColumn(columns) => (
                columns
                    .iter()
                    .map(|(name, dt)| InputSpec {
                        name: name.clone(),
                        kind: if *dt == DatumType::String { InputKind::Text } else { InputKind::Number },
                    })
                    .collect(),
                false,
            ),
            Layout::Matrix { width, .. } => {
                ((0..*width).map(|i| InputSpec { name: format!("f{i}"), kind: InputKind::Number }).collect(), true)
            }
        }
    }

    pub(crate) fn classes(&self) -> usize {
        match self.score {
            ScoreColumn::Classes(classes) => classes,
            ScoreColumn::PositiveClass | ScoreColumn::Value => 0,
        }
    }

    pub(crate) fn predict(&self, rows: &[&[Cell]]) -> Result<Vec<Prediction>, ModelError> {
        if rows.len() <= MAX_BATCH_ROWS {
            return self.predict_batch(rows);
        }
        let mut predictions = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(MAX_BATCH_ROWS) {
            predictions.extend(self.predict_batch(chunk)?);
        }
        Ok(predictions)
    }

    /// Scores at most [`MAX_BATCH_ROWS`] rows in one run of a plan.
    fn predict_batch(&self, rows: &[&[Cell]]) -> Result<Vec<Prediction>, ModelError> {
        let n = rows.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        if n > 1 {
            // Checked at load for the largest batch; a size that is not monotonic in the batch size is caught here.
            let rows = SymbolValues::default().with(&self.batch, n as i64);
            for tensor in &self.batch_tensors {
                tensor.check(&rows).map_err(|e| ModelError::Inference(e.to_string()))?;
            }
        }
        let tensors: TVec<TValue> = match &self.layout {
            Layout::PerColumn(columns) => columns
                .iter()
                .enumerate()
                .map(|(j, (name, dt))| column_tensor(rows.iter().map(|row| &row[j]), n, 1, *dt, name))
                .collect::<Result<_, _>>()?,
            Layout::Matrix { width, datum_type } => {
                tvec![column_tensor(rows.iter().flat_map(|row| row.iter()), n, *width, *datum_type, "input")?]
            }
        };
        let plan = if n == 1 { &self.single_row_plan } else { &self.plan };
        let outputs = plan.run(tensors)?;
        let output = outputs[0].cast_to::<f64>().map_err(|e| ModelError::Inference(format!("{e:#}")))?;
        let values = output.try_as_plain_ram().and_then(|p| p.as_slice::<f64>().map(|s| s.to_vec()));
        let values = values.map_err(|e| ModelError::Inference(format!("{e:#}")))?;
        let width = values.len() / n;
        if width * n != values.len() || width == 0 {
            return Err(ModelError::Inference(format!("output has {} values for {n} rows", values.len())));
        }
        Ok(values
            .chunks(width)
            .map(|row| match self.score {
                ScoreColumn::PositiveClass => Prediction { score: row[1], margin: None, probabilities: Vec::new() },
                ScoreColumn::Value => Prediction { score: row[0], margin: None, probabilities: Vec::new() },
                ScoreColumn::Classes(_) => {
                    let probabilities = row.to_vec();
                    let score = probabilities[crate::trees::most_probable(&probabilities)];
                    Prediction { score, margin: None, probabilities }
                }
            })
            .collect())
    }
}

/// The `location` of every tensor of the graph (and of its subgraphs) stored as external data.
fn external_data_locations(graph: &tract_onnx::pb::GraphProto) -> Vec<String> {
    fn tensor(t: &tract_onnx::pb::TensorProto, out: &mut Vec<String>) {
        // data_location 1 is EXTERNAL; `external_data` alone also points elsewhere.
        if t.data_location == Some(1) || !t.external_data.is_empty() {
            let location = t.external_data.iter().find(|e| e.key == "location").map(|e| e.value.clone());
            out.push(location.unwrap_or_else(|| "(no location)".into()));
        }
    }
    fn walk(graph: &tract_onnx::pb::GraphProto, out: &mut Vec<String>) {
        graph.initializer.iter().for_each(|t| tensor(t, out));
        for sparse in &graph.sparse_initializer {
            sparse.values.iter().chain(sparse.indices.iter()).for_each(|t| tensor(t, out));
        }
        for node in &graph.node {
            for attribute in &node.attribute {
                attribute.t.iter().chain(attribute.tensors.iter()).for_each(|t| tensor(t, out));
                attribute.g.iter().chain(attribute.graphs.iter()).for_each(|g| walk(g, out));
            }
        }
    }
    let mut out = Vec::new();
    walk(graph, &mut out);
    out
}

fn layout_types(layout: &Layout) -> Vec<(DatumType, usize)> {
    match layout {
        Layout::PerColumn(columns) => columns.iter().map(|(_, dt)| (*dt, 1)).collect(),
        Layout::Matrix { width, datum_type } => vec![(*datum_type, *width)],
    }
}

/// The probabilities output (`[N, 2]` float) when there is one; a classifier's `[N, C]` probabilities of C > 2
/// classes (a graph with a class-label output beside them, as classifier converters write); else a
/// single-value float output.
fn choose_output(model: &TypedModel) -> Result<(OutletId, ScoreColumn), ModelError> {
    let outlets = model.output_outlets().map_err(invalid)?.to_vec();
    let mut facts = Vec::with_capacity(outlets.len());
    for outlet in &outlets {
        facts.push(model.outlet_fact(*outlet).map_err(invalid)?);
    }
    let labelled = facts.iter().any(|f| f.rank() == 1 && !f.datum_type.is_float());
    let mut single = None;
    let mut classes = None;
    for (outlet, fact) in outlets.iter().zip(&facts) {
        if !fact.datum_type.is_float() {
            continue;
        }
        let last = fact.shape.iter().last().and_then(|d| d.to_usize().ok());
        match (fact.rank(), last) {
            (2, Some(2)) => return Ok((*outlet, ScoreColumn::PositiveClass)),
            (2, Some(n)) if labelled && (3..=MAX_CLASSES).contains(&n) && classes.is_none() => {
                classes = Some((*outlet, ScoreColumn::Classes(n)))
            }
            (2, Some(1)) | (1, _) if single.is_none() => single = Some(*outlet),
            _ => {}
        }
    }
    match (classes, single) {
        (Some(found), _) => Ok(found),
        (None, Some(outlet)) => Ok((outlet, ScoreColumn::Value)),
        (None, None) => Err(ModelError::Unsupported {
            format: FORMAT,
            message: format!(
                "no float output with class probabilities (2 to {MAX_CLASSES} classes beside a label) or one value per row"
            ),
        }),
    }
}

/// Builds one input tensor of `rows × width` cells.
fn column_tensor<'a>(
    cells: impl Iterator<Item = &'a Cell>,
    rows: usize,
    width: usize,
    datum_type: DatumType,
    name: &str,
) -> Result<TValue, ModelError> {
    let wrong = |cell: &Cell| ModelError::BadInput(format!("input '{name}' cannot take {cell:?}"));
    let shape = [rows, width];
    let tensor = match datum_type {
        DatumType::String => {
            let values = cells
                .map(|cell| match cell {
                    Cell::Text(text) => Ok(text.clone()),
                    // skl2onnx's string imputers mark a missing category with the empty string.
                    Cell::Missing => Ok(String::new()),
                    Cell::Number(_) => Err(wrong(cell)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            tract_ndarray::Array2::from_shape_vec(shape, values)
                .map_err(|e| ModelError::BadInput(e.to_string()))?
                .into_tensor()
        }
        DatumType::F32 | DatumType::F64 => {
            let values = cells
                .map(|cell| match cell {
                    Cell::Number(x) => Ok(*x),
                    Cell::Missing => Ok(f64::NAN),
                    Cell::Text(_) => Err(wrong(cell)),
                })
                .collect::<Result<Vec<f64>, _>>()?;
            if datum_type == DatumType::F32 {
                let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
                Tensor::from_shape(&shape, &values)
            } else {
                Tensor::from_shape(&shape, &values)
            }
            .map_err(|e| ModelError::BadInput(e.to_string()))?
        }
        DatumType::I64 => {
            let values = cells
                .map(|cell| match cell {
                    Cell::Number(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(*x as i64),
                    _ => Err(wrong(cell)),
                })
                .collect::<Result<Vec<i64>, _>>()?;
            Tensor::from_shape(&shape, &values).map_err(|e| ModelError::BadInput(e.to_string()))?
        }
        other => return Err(ModelError::Unsupported { format: FORMAT, message: format!("input type {other:?}") }),
    };
    Ok(tensor.into_tvalue())
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use tract_onnx::prelude::Framework;

    use crate::{Cell, Model, ModelError, ModelFormat};

    /// The scikit-learn pipeline with one initializer moved to an external file at `location`.
    fn with_external_tensor(location: &str) -> Vec<u8> {
        let bytes = warden_testdata::read("models/lr_german.onnx");
        let mut proto = tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]).unwrap();
        let graph = proto.graph.as_mut().unwrap();
        let tensor = graph.initializer.iter_mut().next().expect("the pipeline has initializers");
        tensor.raw_data.clear();
        tensor.float_data.clear();
        tensor.int64_data.clear();
        tensor.data_location = Some(1);
        for (key, value) in [("location", location), ("offset", "0"), ("length", "16")] {
            tensor.external_data.push(tract_onnx::pb::StringStringEntryProto { key: key.into(), value: value.into() });
        }
        proto.encode_to_vec()
    }

    /// Found by fuzzing: tract panics on this graph; the artifact is refused with a message instead.
    #[test]
    fn a_graph_tract_panics_on_is_refused() {
        let bytes = warden_testdata::read("models/fuzz/tract_undefined_value.onnx");
        let err = Model::load(ModelFormat::Onnx, &bytes).unwrap_err();
        assert!(matches!(err, ModelError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("could not read"), "{err}");
    }

    #[test]
    fn sizes_are_named_in_binary_units() {
        use super::human_bytes;
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(u128::from(super::MAX_ONNX_TENSOR_BYTES)), "256 MiB");
        assert_eq!(human_bytes(4_000_000_000_000), "3.6 TiB");
        assert_eq!(human_bytes(u128::MAX), "281474976710656 YiB");
    }

    #[test]
    fn typed_tensors_growing_with_the_batch_are_checked_at_the_largest_batch() {
        use super::*;
        let mut model = TypedModel::default();
        let n = model.symbols.sym("N");
        model.add_source("wide", f32::fact(tvec![n.to_dim(), 10_000.to_dim()])).unwrap();
        model.add_source("narrow", f32::fact(tvec![n.to_dim(), 1_000.to_dim()])).unwrap();
        let context = Context::new(None, SymbolValues::default().with(&n, MAX_BATCH_ROWS as i64));
        let err = refusal(check_typed_model(&model, "", &context).unwrap_err());
        let ModelError::Unsafe(message) = err else { panic!("{err}") };
        assert_eq!(
            message,
            "node 'wide' (Source) would produce a tensor of N×10000 f32 (381.5 MiB for a batch of N = 10000 rows); \
             the limit is 256 MiB"
        );
        // 10 000 rows of 1000 floats are 38 MiB; a batch of 80 000 would be too many.
        let narrow = batch_tensors(&model, &n, &context);
        assert_eq!(narrow.iter().map(|t| t.node.as_str()).collect::<Vec<_>>(), ["wide", "narrow"]);
        assert!(narrow[1].check(&SymbolValues::default().with(&n, 10_000)).is_ok());
        assert!(narrow[1].check(&SymbolValues::default().with(&n, 80_000)).is_err());
    }

    #[test]
    fn batches_larger_than_one_run_are_split_and_score_as_single_rows() {
        let bytes = warden_testdata::read("models/xgb_german.onnx");
        let model = Model::load(ModelFormat::Onnx, &bytes).unwrap();
        let width = model.inputs().len();
        let rows: Vec<Vec<Cell>> = (0..super::MAX_BATCH_ROWS + 3)
            .map(|i| (0..width).map(|j| Cell::Number(((i * 7 + j * 3) % 11) as f64)).collect())
            .collect();
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let scores = model.predict(&refs).unwrap();
        assert_eq!(scores.len(), rows.len());
        for i in [0, 1, super::MAX_BATCH_ROWS - 1, super::MAX_BATCH_ROWS, super::MAX_BATCH_ROWS + 2] {
            let single = model.predict(&[rows[i].as_slice()]).unwrap()[0].score;
            assert!((scores[i].score - single).abs() < 1e-6, "row {i}: {} vs {single}", scores[i].score);
        }
    }

    #[test]
    fn external_tensor_data_is_refused_and_traversal_named() {
        let original = warden_testdata::read("models/lr_german.onnx");
        assert!(Model::load(ModelFormat::Onnx, &original).is_ok());
        let err = Model::load(ModelFormat::Onnx, &with_external_tensor("../../../etc/passwd")).unwrap_err();
        let ModelError::Unsafe(message) = err else { panic!("{err}") };
        assert!(message.contains("../../../etc/passwd") && message.contains("outside"), "{message}");
        let err = Model::load(ModelFormat::Onnx, &with_external_tensor("weights.bin")).unwrap_err();
        let ModelError::Unsafe(message) = err else { panic!("{err}") };
        assert!(message.contains("weights.bin") && !message.contains("outside"), "{message}");
    }
}
