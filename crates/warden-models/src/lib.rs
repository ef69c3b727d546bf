/*!
Model inference and explanations for Warden: bytes in, numbers out.

A [`Model`] is loaded once from an artifact's bytes ([`Model::load`]) and then scores rows of [`Cell`]s. Every
format reproduces its producing library's own predictions (see `models/` in warden-testdata and the golden tests):

- ONNX through tract (`onnx`), with the ONNX-ML operators tract lacks (Imputer, Scaler, OneHotEncoder,
  LabelEncoder, ZipMap, TreeEnsembleRegressor) added as extension operators in [`onnx_ml`];
- XGBoost's native JSON (`xgboost`: float32 arithmetic emulated bit for bit), or its UBJSON (read by
  [`ubjson`] into the same structure), and LightGBM's text model (`lightgbm`), both evaluated by one tree
  engine with TreeSHAP (`trees`);
- Warden's own linear/scorecard JSON ([`linear`]).

[`safety`] screens the bytes before any parser runs (pickles, archives, compressed files are refused).

A multiclass classifier (XGBoost `multi:softprob`/`multi:softmax`, LightGBM `multiclass`, ONNX classifiers with
a `[N, C]` probabilities output beside their label) predicts every class's probability
([`Prediction::probabilities`]); its score is the predicted class's probability, and its explanations explain a
class's margin ([`Model::explain_class`]).

Explanations are in the model's margin (log-odds) units: exact term-by-term contributions for linear models and
path-dependent TreeSHAP for tree ensembles, so `base + Σ contributions = margin`.

The crate does no I/O, reads no clock and knows nothing of HTTP or SQL.
*/
#![deny(missing_docs)]

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod hostile_tests;

mod lightgbm;
pub mod linear;
mod onnx;
pub use onnx::MAX_ONNX_TENSOR_BYTES;
pub mod onnx_ml;
pub mod safety;
mod trees;
pub mod ubjson;
pub use trees::{MAX_CLASSES, MAX_FEATURES, MAX_TREE_DEPTH};
mod xgboost;

use serde::{Deserialize, Serialize};

/// Why a model could not be loaded or could not score.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    /// The artifact is not a valid model of its declared format.
    #[error("invalid {format} model: {message}")]
    Invalid {
        /// The declared format.
        format: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The model is valid but uses something Warden does not implement.
    #[error("unsupported {format} model: {message}")]
    Unsupported {
        /// The declared format.
        format: &'static str,
        /// What is not supported.
        message: String,
    },
    /// The bytes are not safe to parse (a pickle, an archive, a decompression bomb, external references).
    #[error("unsafe artifact: {0}")]
    Unsafe(String),
    /// A row does not fit the model's inputs.
    #[error("{0}")]
    BadInput(String),
    /// The inference engine failed on valid input.
    #[error("inference failed: {0}")]
    Inference(String),
}

/// Runs `f`, turning a panic inside it into an `Invalid` error: tract panics on some malformed graphs (found
/// by fuzzing: an index into a map of value names that the graph never defined), and an artifact must be
/// refused with a message, never bring down the thread that reads it.
fn contain_panics<T>(format: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(ModelError::Invalid { format, message: format!("the inference engine could not read it ({what})") })
    })
}

/// Result alias for this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// The artifact formats Warden can score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelFormat {
    /// ONNX (`ModelProto`), including the ONNX-ML domain.
    Onnx,
    /// XGBoost's native JSON (`Booster.save_model("model.json")`).
    XgboostJson,
    /// XGBoost's UBJSON, its default from 2.1 (`Booster.save_model("model.ubj")`).
    XgboostUbj,
    /// LightGBM's text model (`Booster.save_model("model.txt")`).
    LightgbmText,
    /// Warden's linear/scorecard JSON.
    LinearJson,
}

/// One input value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A number (categorical features of tree models arrive here already encoded as codes).
    Number(f64),
    /// A category as text (ONNX string inputs, scorecard categories).
    Text(String),
    /// No value.
    Missing,
}

/// What kind of value an input takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// A number (or a category code).
    Number,
    /// A category as text.
    Text,
}

/// One input of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Feature name (for positional models, `f0`, `f1`, …).
    pub name: String,
    /// Number or text.
    pub kind: InputKind,
}

/// The output for one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The score: P(class 1) for binary classifiers, the predicted value for regressors, the predicted
    /// class's probability for multiclass classifiers.
    pub score: f64,
    /// The raw margin (log-odds) when the model exposes one (a multiclass model's: the predicted class's).
    pub margin: Option<f64>,
    /// A multiclass classifier's probability of each class, in the model's class order (they sum to 1; the
    /// predicted class is the first most probable); empty for other models.
    pub probabilities: Vec<f64>,
}

impl Prediction {
    /// The predicted class of a multiclass classifier: the first most probable.
    pub fn class(&self) -> Option<usize> {
        predicted_class(&self.probabilities)
    }
}

/// The class a multiclass classifier decides from its class probabilities: the first most probable (the
/// libraries' argmax); `None` for no probabilities.
pub fn predicted_class(probabilities: &[f64]) -> Option<usize> {
    (!probabilities.is_empty()).then(|| trees::most_probable(probabilities))
}

/// Per-feature contributions to one row's margin: `base + Σ contributions = margin`.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The expected margin (the contribution of no feature).
    pub base: f64,
    /// One contribution per input, in input order.
    pub contributions: Vec<f64>,
}

/// A loaded model.
#[derive(Debug)]
pub struct Model {
    inputs: Vec<InputSpec>,
    positional: bool,
    engine: Engine,
}

#[derive(Debug)]
enum Engine {
    Linear(linear::LinearModel),
    Trees(trees::Forest),
    Onnx(onnx::OnnxModel),
}

impl Model {
    /// Parses and prepares a model from its artifact bytes.
    pub fn load(format: ModelFormat, bytes: &[u8]) -> Result<Model> {
        safety::screen(bytes).map_err(|refusal| ModelError::Unsafe(refusal.to_string()))?;
        let (engine, inputs, positional) = match format {
            ModelFormat::LinearJson => {
                let model = linear::LinearModel::from_json(bytes)?;
                let inputs = model.inputs();
                (Engine::Linear(model), inputs, false)
            }
            ModelFormat::XgboostJson | ModelFormat::XgboostUbj => {
                let (forest, names) = match format {
                    ModelFormat::XgboostUbj => xgboost::parse_ubj(bytes)?,
                    _ => xgboost::parse(bytes)?,
                };
                let (positional, n) = (names.is_none(), forest.n_features());
                (Engine::Trees(forest), number_inputs(names, n), positional)
            }
            ModelFormat::LightgbmText => {
                let (forest, names) = lightgbm::parse(bytes)?;
                let n = forest.n_features();
                (Engine::Trees(forest), number_inputs(Some(names), n), false)
            }
            ModelFormat::Onnx => {
                let model = contain_panics("onnx", || onnx::OnnxModel::load(bytes))?;
                let (inputs, positional) = model.inputs();
                (Engine::Onnx(model), inputs, positional)
            }
        };
        Ok(Model { inputs, positional, engine })
    }

    /// The model's inputs, in the order rows give them.
    pub fn inputs(&self) -> &[InputSpec] {
        &self.inputs
    }

    /// Whether the inputs are known only by position (an ONNX model with one `[N, F]` tensor input, an
    /// XGBoost model saved without feature names): the caller maps its schema onto them in order.
    pub fn positional_inputs(&self) -> bool {
        self.positional
    }

    /// How many classes a multiclass classifier's predictions carry probabilities for; 0 for a model with one
    /// score (a binary classifier, a regressor).
    pub fn classes(&self) -> usize {
        match &self.engine {
            Engine::Linear(_) => 0,
            Engine::Trees(forest) => forest.classes(),
            Engine::Onnx(model) => model.classes(),
        }
    }

    /// Whether [`Model::explain`] is available.
    pub fn can_explain(&self) -> bool {
        !matches!(self.engine, Engine::Onnx(_))
    }

    /// Scores rows (each row holds one [`Cell`] per input, in [`Model::inputs`] order).
    pub fn predict(&self, rows: &[&[Cell]]) -> Result<Vec<Prediction>> {
        for row in rows {
            self.check_width(row)?;
        }
        match &self.engine {
            Engine::Linear(model) => rows.iter().map(|row| model.predict(row)).collect(),
            Engine::Trees(forest) => {
                let mut x = Vec::with_capacity(self.inputs.len());
                rows.iter()
                    .map(|row| {
                        numbers(row, &mut x)?;
                        Ok(forest.predict(&x))
                    })
                    .collect()
            }
            Engine::Onnx(model) => contain_panics("onnx", || model.predict(rows)),
        }
    }

    /// Explains one row: per-feature contributions to its margin (a multiclass model's: to the margin of its
    /// predicted class).
    pub fn explain(&self, row: &[Cell]) -> Result<Explanation> {
        self.explain_margin(row, None)
    }

    /// Explains one row's margin for one class of a multiclass model (0-based, in the model's class order).
    pub fn explain_class(&self, row: &[Cell], class: usize) -> Result<Explanation> {
        if class >= self.classes() {
            return Err(ModelError::BadInput(format!("class {class} is not one of the model's {}", self.classes())));
        }
        self.explain_margin(row, Some(class))
    }

    fn explain_margin(&self, row: &[Cell], class: Option<usize>) -> Result<Explanation> {
        self.check_width(row)?;
        match &self.engine {
            Engine::Linear(model) => model.explain(row),
            Engine::Trees(forest) => {
                let mut x = Vec::with_capacity(self.inputs.len());
                numbers(row, &mut x)?;
                Ok(forest.explain(&x, class))
            }
            Engine::Onnx(_) => Err(ModelError::BadInput(
                "explanations are available for linear and tree models, not for ONNX graphs".into(),
            )),
        }
    }

    fn check_width(&self, row: &[Cell]) -> Result<()> {
        if row.len() != self.inputs.len() {
            return Err(ModelError::BadInput(format!(
                "row has {} values, the model takes {}",
                row.len(),
                self.inputs.len()
            )));
        }
        Ok(())
    }
}

fn number_inputs(names: Option<Vec<String>>, n: usize) -> Vec<InputSpec> {
    let names = names.unwrap_or_else(|| (0..n).map(|i| format!("f{i}")).collect());
    names.into_iter().map(|name| InputSpec { name, kind: InputKind::Number }).collect()
}

/// Copies a row of numeric cells into `out` (missing becomes NaN).
fn numbers(row: &[Cell], out: &mut Vec<f64>) -> Result<()> {
    out.clear();
    for cell in row {
        out.push(match cell {
            Cell::Number(x) => *x,
            Cell::Missing => f64::NAN,
            Cell::Text(text) => {
                return Err(ModelError::BadInput(format!(
                    "tree models take numbers; got the text '{text}' (encode categories first)"
                )));
            }
        });
    }
    Ok(())
}

/// Sigmoid in float64.
pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
