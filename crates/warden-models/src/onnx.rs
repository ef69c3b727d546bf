//! ONNX models through tract, with Warden's ONNX-ML extension operators.

use crate::{Cell, InputKind, InputSpec, ModelError, Prediction};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

const FORMAT: &str = "onnx";

fn invalid(message: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid { format: FORMAT, message: message.to_string() }
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
    /// `[N, C]` class probabilities: column 1 is P(class 1).
    PositiveClass,
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

/// Types the graph for inputs of `batch` rows, keeps only the score output and optimises it.
fn optimized_plan(
    mut model: InferenceModel,
    declared: &[(String, DatumType, Vec<Option<usize>>)],
    batch: TDim,
) -> Result<(std::sync::Arc<TypedSimplePlan>, ScoreColumn), ModelError> {
    for (i, (_, datum_type, shape)) in declared.iter().enumerate() {
        let mut shape: TVec<TDim> = shape.iter().map(|d| d.map_or(batch.clone(), |d| d.to_dim())).collect();
        shape[0] = batch.clone();
        model.set_input_fact(i, InferenceFact::dt_shape(*datum_type, shape)).map_err(invalid)?;
    }
    let mut typed = model.into_typed().map_err(|e| invalid(format!("{e:#}")))?;
    let (output, score) = choose_output(&typed)?;
    typed.select_output_outlets(&[output]).map_err(invalid)?;
    let plan = typed.into_optimized().and_then(|m| m.into_runnable()).map_err(|e| invalid(format!("{e:#}")))?;
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
        let model = onnx.model_for_proto_model(&proto).map_err(|e| invalid(format!("{e:#}")))?;

        let batch = model.symbols.sym("N");
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
        let (plan, score) = optimized_plan(model.clone(), &declared, batch.to_dim())?;
        // A plan for one row lets tract fold every shape computation away: single-row scoring is the hot path.
        let (single_row_plan, _) = optimized_plan(model, &declared, 1.to_dim())?;
        Ok(OnnxModel { plan: Plan::new(plan), single_row_plan: Plan::new(single_row_plan), layout, score })
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

    pub(crate) fn predict(&self, rows: &[&[Cell]]) -> Result<Vec<Prediction>, ModelError> {
        let n = rows.len();
        if n == 0 {
            return Ok(Vec::new());
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
            .map(|row| Prediction {
                score: match self.score {
                    ScoreColumn::PositiveClass => row[1],
                    ScoreColumn::Value => row[0],
                },
                margin: None,
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

/// The probabilities output (`[N, 2]` float) when there is one, else a single-value float output.
fn choose_output(model: &TypedModel) -> Result<(OutletId, ScoreColumn), ModelError> {
    let outlets = model.output_outlets().map_err(invalid)?.to_vec();
    let mut single = None;
    for outlet in &outlets {
        let fact = model.outlet_fact(*outlet).map_err(invalid)?;
        if !fact.datum_type.is_float() {
            continue;
        }
        let last = fact.shape.iter().last().and_then(|d| d.to_usize().ok());
        match (fact.rank(), last) {
            (2, Some(2)) => return Ok((*outlet, ScoreColumn::PositiveClass)),
            (2, Some(1)) | (1, _) if single.is_none() => single = Some(*outlet),
            _ => {}
        }
    }
    match single {
        Some(outlet) => Ok((outlet, ScoreColumn::Value)),
        None => Err(ModelError::Unsupported {
            format: FORMAT,
            message: "no float output with two class probabilities or one value per row".into(),
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

    use crate::{Model, ModelError, ModelFormat};

    /// The scikit-learn pipeline with one initializer moved to an external file at `location`.
    fn with_external_tensor(location: &str) -> Vec<u8> {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/lr_german.onnx")).unwrap();
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
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/fuzz/tract_undefined_value.onnx")).unwrap();
        let err = Model::load(ModelFormat::Onnx, &bytes).unwrap_err();
        assert!(matches!(err, ModelError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("could not read"), "{err}");
    }

    #[test]
    fn external_tensor_data_is_refused_and_traversal_named() {
        let original = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/lr_german.onnx")).unwrap();
        assert!(Model::load(ModelFormat::Onnx, &original).is_ok());
        let err = Model::load(ModelFormat::Onnx, &with_external_tensor("../../../etc/passwd")).unwrap_err();
        let ModelError::Unsafe(message) = err else { panic!("{err}") };
        assert!(message.contains("../../../etc/passwd") && message.contains("outside"), "{message}");
        let err = Model::load(ModelFormat::Onnx, &with_external_tensor("weights.bin")).unwrap_err();
        let ModelError::Unsafe(message) = err else { panic!("{err}") };
        assert!(message.contains("weights.bin") && !message.contains("outside"), "{message}");
    }
}
