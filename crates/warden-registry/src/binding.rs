/*!
How a version's schema feeds its model: a request's features are checked against the schema (unknown,
missing, wrong type, undeclared category; every problem reported per field) and converted into the model's
input cells. Registration scores the reference data through these same checks, and so does serving.
*/

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};
use warden_models::{Cell, InputKind, Model};
use warden_stats::profile::ColumnType;

use crate::reference::MonitorReference;
use crate::registry::{FeatureSpec, UnknownCategory};
use crate::{Error, Result};

/// Largest number of monitor-only attributes per request.
pub const MAX_ATTRIBUTES: usize = 64;
/// Longest request id.
pub const MAX_REQUEST_ID: usize = 128;

/// Largest batch the API accepts in one request.
pub const MAX_BATCH_ROWS: usize = 10_000;

/// How each model input is fed from the schema.
#[derive(Debug, Clone)]
pub struct Binding {
    schema: Vec<FeatureSpec>,
    index: HashMap<String, usize>,
    /// Per model input: the schema feature and how its value becomes a cell.
    inputs: Vec<(usize, Conversion)>,
}

#[derive(Debug, Clone)]
enum Conversion {
    Number,
    Text,
    Code(BTreeMap<String, f64>),
}

impl Binding {
    /// Binds a model to a schema; `Invalid` when the schema cannot feed the model.
    pub fn new(model: &Model, schema: &[FeatureSpec]) -> Result<Binding> {
        let index: HashMap<String, usize> = schema.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
        let positions: Vec<usize> = if model.positional_inputs() {
            if model.inputs().len() != schema.len() {
                return Err(Error::invalid(format!(
                    "the model takes {} inputs by position and the schema declares {} features",
                    model.inputs().len(),
                    schema.len()
                )));
            }
            (0..schema.len()).collect()
        } else {
            model
                .inputs()
                .iter()
                .map(|input| {
                    index.get(&input.name).copied().ok_or_else(|| {
                        Error::invalid(format!(
                            "the model takes input '{}', which the schema does not declare",
                            input.name
                        ))
                    })
                })
                .collect::<Result<_>>()?
        };
        let mut inputs = Vec::with_capacity(positions.len());
        for (input, position) in model.inputs().iter().zip(positions) {
            let feature = &schema[position];
            let conversion = match (input.kind, feature.kind, &feature.encoding) {
                (InputKind::Number, ColumnType::Numeric, None) => Conversion::Number,
                (InputKind::Number, ColumnType::Categorical, Some(codes)) => Conversion::Code(codes.clone()),
                (InputKind::Number, ColumnType::Categorical, None) => {
                    return Err(Error::invalid(format!(
                        "feature '{}' is categorical but the model takes a number: declare its encoding",
                        feature.name
                    )));
                }
                (InputKind::Text, ColumnType::Categorical, None) => Conversion::Text,
                (InputKind::Text, ColumnType::Numeric, _) => {
                    return Err(Error::invalid(format!(
                        "feature '{}' is numeric but the model takes text",
                        feature.name
                    )));
                }
                (_, _, Some(_)) => {
                    return Err(Error::invalid(format!(
                        "feature '{}' declares an encoding, but the model takes it {}",
                        feature.name,
                        if input.kind == InputKind::Text { "as text" } else { "as a number" }
                    )));
                }
            };
            inputs.push((position, conversion));
        }
        Ok(Binding { schema: schema.to_vec(), index, inputs })
    }

    /// The schema's checks without a model (a version served outside Warden): requests are checked exactly as
    /// for scoring, and there are no model inputs.
    pub fn schema_only(schema: &[FeatureSpec]) -> Binding {
        let index = schema.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
        Binding { schema: schema.to_vec(), index, inputs: Vec::new() }
    }

    /// Checks a request's features; returns one value per schema feature, or every problem by field.
    pub fn parse(&self, features: &Map<String, Value>) -> std::result::Result<Vec<Parsed>, BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        for name in features.keys() {
            if !self.index.contains_key(name) {
                errors.insert(name.clone(), "unknown feature: the version's schema does not declare it".to_owned());
            }
        }
        let mut values = Vec::with_capacity(self.schema.len());
        for feature in &self.schema {
            let parsed = match features.get(&feature.name) {
                None | Some(Value::Null) if feature.nullable => Ok(Parsed::Missing),
                None | Some(Value::Null) => {
                    Err("required: the feature is missing and the schema does not allow that".into())
                }
                Some(value) => parse_value(feature, value),
            };
            match parsed {
                Ok(p) => values.push(p),
                Err(message) => {
                    errors.insert(feature.name.clone(), message);
                    values.push(Parsed::Missing);
                }
            }
        }
        if errors.is_empty() { Ok(values) } else { Err(errors) }
    }

    /// The schema feature that feeds each model input, in input order (explanations sum contributions by it).
    pub fn input_features(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().map(|(position, _)| self.schema[*position].name.as_str())
    }

    pub fn cells(&self, values: &[Parsed]) -> Vec<Cell> {
        self.inputs
            .iter()
            .map(|(position, conversion)| match (&values[*position], conversion) {
                (Parsed::Missing, _) => Cell::Missing,
                (Parsed::Number(x), _) => Cell::Number(*x),
                (Parsed::Category(c), Conversion::Code(codes)) => {
                    codes.get(c).map_or(Cell::Missing, |&k| Cell::Number(k))
                }
                (Parsed::Category(c), Conversion::Text | Conversion::Number) => Cell::Text(c.clone()),
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Number(f64),
    Category(String),
    Missing,
}

fn parse_value(feature: &FeatureSpec, value: &Value) -> std::result::Result<Parsed, String> {
    match feature.kind {
        ColumnType::Numeric => match value {
            Value::Number(n) => match n.as_f64() {
                Some(x) if x.is_finite() => Ok(Parsed::Number(x)),
                _ => Err("expected a finite number".into()),
            },
            other => Err(format!("expected a number, got {}", kind_of(other))),
        },
        ColumnType::Categorical => match value {
            Value::String(category) => {
                let known = match (&feature.encoding, &feature.categories) {
                    (Some(codes), _) => codes.contains_key(category),
                    (None, Some(categories)) => categories.iter().any(|c| c == category),
                    (None, None) => true,
                };
                match (known, feature.unknown_category) {
                    (true, _) => Ok(Parsed::Category(category.clone())),
                    (false, UnknownCategory::Missing) => Ok(Parsed::Missing),
                    (false, UnknownCategory::Refuse) => {
                        Err(format!("category '{category}' was never declared for this feature"))
                    }
                }
            }
            other => Err(format!("expected a category (a string), got {}", kind_of(other))),
        },
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Scores every row of the reference data through the serving path's checks (rows the schema refuses are
/// NaN). A score that is not a finite number is an error naming the row: a model that overflows on the data
/// it was registered with would answer 500 to live traffic like it.
pub fn score_reference(model: &Model, binding: &Binding, reference: &MonitorReference) -> Result<Vec<f64>> {
    let mut scores = vec![f64::NAN; reference.len()];
    for start in (0..reference.len()).step_by(MAX_BATCH_ROWS) {
        let end = (start + MAX_BATCH_ROWS).min(reference.len());
        let (mut rows, mut cells) = (Vec::with_capacity(end - start), Vec::with_capacity(end - start));
        for i in start..end {
            let request =
                ScoreRequest { request_id: None, features: reference.row(i), attributes: Map::new(), explain: false };
            if let Ok(checked) = check(binding, request) {
                rows.push(i);
                cells.push(binding.cells(&checked.values));
            }
        }
        let refs: Vec<&[Cell]> = cells.iter().map(Vec::as_slice).collect();
        for (&i, prediction) in rows.iter().zip(model.predict(&refs).map_err(model_error)?) {
            if !prediction.score.is_finite() || prediction.margin.is_some_and(|m| !m.is_finite()) {
                return Err(Error::invalid(format!(
                    "the model scores row {} of the reference data as {} (margin {:?}): scores and margins must \
                     be finite numbers",
                    i + 1,
                    prediction.score,
                    prediction.margin
                )));
            }
            scores[i] = prediction.score;
        }
    }
    Ok(scores)
}

/// A request to score.
#[derive(Debug, Clone, Default)]
pub struct ScoreRequest {
    /// Caller's id for the request (correlates outcomes); Warden makes one when absent.
    pub request_id: Option<String>,
    /// Model inputs.
    pub features: Map<String, Value>,
    /// Monitor-only columns (sex, age band, amount at risk) that never reach the model.
    pub attributes: Map<String, Value>,
    /// Whether to return contributions and reason codes.
    pub explain: bool,
}

/// A request after checking, ready to score on one version.
pub struct Checked {
    pub request_id: String,
    pub values: Vec<Parsed>,
    pub features: Map<String, Value>,
    pub attributes: Map<String, Value>,
    pub explain: bool,
}

fn check_envelope(request: &ScoreRequest) -> std::result::Result<(), BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    if let Some(id) = &request.request_id
        && (id.is_empty() || id.len() > MAX_REQUEST_ID || id.chars().any(char::is_control))
    {
        errors.insert("request_id".into(), format!("must be 1-{MAX_REQUEST_ID} printable characters"));
    }
    if request.attributes.len() > MAX_ATTRIBUTES {
        errors.insert("attributes".into(), format!("at most {MAX_ATTRIBUTES} attributes"));
    }
    for (name, value) in &request.attributes {
        if request.features.contains_key(name) {
            errors.insert(
                format!("attributes.{name}"),
                "also given as a feature: attributes never reach the model".into(),
            );
        } else if matches!(value, Value::Array(_) | Value::Object(_)) {
            errors.insert(format!("attributes.{name}"), "must be a string, number, boolean or null".into());
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

pub fn field_errors(errors: BTreeMap<String, String>, row: Option<usize>) -> Error {
    let count = errors.len();
    let first = errors.iter().next().map(|(f, m)| format!("{f}: {m}")).unwrap_or_default();
    let message = match row {
        Some(r) => format!("row {r}: {count} invalid field(s); {first}"),
        None => format!("{count} invalid field(s); {first}"),
    };
    let fields: Map<String, Value> = errors.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let details = match row {
        Some(r) => json!({ "row": r, "fields": fields }),
        None => json!({ "fields": fields }),
    };
    Error::Invalid { message, details }
}

pub fn check(binding: &Binding, request: ScoreRequest) -> std::result::Result<Checked, BTreeMap<String, String>> {
    let envelope = check_envelope(&request);
    let values = binding.parse(&request.features);
    let values = match (envelope, values) {
        (Ok(()), Ok(values)) => values,
        (Err(mut a), Err(b)) => {
            a.extend(b);
            return Err(a);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    Ok(Checked {
        request_id: request.request_id.unwrap_or_default(),
        values,
        features: request.features,
        attributes: request.attributes,
        explain: request.explain,
    })
}

/// Checks one request against a schema and scores it with a model, as the serving path does, without a
/// server or a store: the scoring-input fuzz target drives this. `Invalid` names every bad field.
pub fn check_and_score(model: &Model, schema: &[FeatureSpec], request: ScoreRequest) -> Result<f64> {
    let binding = Binding::new(model, schema)?;
    let checked = check(&binding, request).map_err(|fields| field_errors(fields, None))?;
    let cells = binding.cells(&checked.values);
    let prediction = model.predict(&[cells.as_slice()]).map_err(model_error)?;
    let score = prediction
        .first()
        .map(|p| p.score)
        .ok_or_else(|| Error::Inconsistent("the model returned no prediction for one row".into()))?;
    if checked.explain && model.can_explain() {
        model.explain(&cells).map_err(model_error)?;
    }
    Ok(score)
}

pub fn model_error(err: warden_models::ModelError) -> Error {
    match err {
        warden_models::ModelError::BadInput(message) => Error::invalid(message),
        other => Error::failed("the model failed", other),
    }
}
