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
        let (given, unknown) = self.given(features);
        self.check_given(&given, &unknown)
    }

    /// A features object's values in schema order, and the names the schema does not declare (sorted).
    pub fn given(&self, features: &Map<String, Value>) -> (Vec<Given>, Vec<String>) {
        let mut unknown: Vec<String> =
            features.keys().filter(|name| !self.index.contains_key(*name)).cloned().collect();
        unknown.sort_unstable();
        let given = self.schema.iter().map(|f| features.get(&f.name).map_or(Given::Absent, Given::of)).collect();
        (given, unknown)
    }

    /// Reads a request's features from their JSON text straight into schema order, without building a JSON
    /// object: one value per schema feature (the last one given, as a JSON object keeps it) and the names the
    /// schema does not declare (sorted). [`Binding::check_given`] then checks them exactly as [`Binding::parse`] checks
    /// an object. `Err` when the text is not a JSON object (serde_json's own nesting limit applies).
    pub fn read_features(&self, text: &str) -> std::result::Result<(Vec<Given>, Vec<String>), serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let read = serde::de::DeserializeSeed::deserialize(FeaturesSeed { binding: self }, &mut deserializer)?;
        deserializer.end()?;
        Ok(read)
    }

    /// Checks features read per schema feature ([`Binding::read_features`]) with the names of any the schema
    /// does not declare: one value per schema feature, or every problem by field.
    pub fn check_given(
        &self,
        given: &[Given],
        unknown: &[impl AsRef<str>],
    ) -> std::result::Result<Vec<Parsed>, BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        for name in unknown {
            errors.insert(
                name.as_ref().to_owned(),
                "unknown feature: the version's schema does not declare it".to_owned(),
            );
        }
        let mut values = Vec::with_capacity(self.schema.len());
        for (feature, value) in self.schema.iter().zip(given) {
            let parsed = match value {
                Given::Absent | Given::Null if feature.nullable => Ok(Parsed::Missing),
                Given::Absent | Given::Null => {
                    Err("required: the feature is missing and the schema does not allow that".into())
                }
                value => parse_value(feature, value),
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

/// One feature's value as the request gave it, before the schema's checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Given {
    /// Not in the request.
    Absent,
    /// JSON `null`.
    Null,
    /// A JSON number (as `f64`, as serde_json reads one).
    Number(f64),
    /// A JSON string.
    Text(String),
    /// A boolean, array or object: what it is, as an error names it.
    Other(&'static str),
}

impl Given {
    fn of(value: &Value) -> Given {
        match value {
            Value::Null => Given::Null,
            Value::Number(n) => Given::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Given::Text(s.clone()),
            other => Given::Other(kind_of(other)),
        }
    }

    /// The number given, if it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Given::Number(x) => Some(*x),
            _ => None,
        }
    }

    /// The text given, if it is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Given::Text(s) => Some(s),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Given::Absent | Given::Null => "null",
            Given::Number(_) => "a number",
            Given::Text(_) => "a string",
            Given::Other(kind) => kind,
        }
    }
}

/// Reads a features object into schema order ([`Binding::read_features`]).
struct FeaturesSeed<'b> {
    binding: &'b Binding,
}

impl<'de> serde::de::DeserializeSeed<'de> for FeaturesSeed<'_> {
    type Value = (Vec<Given>, Vec<String>);

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FeaturesSeed<'_> {
    type Value = (Vec<Given>, Vec<String>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object of features")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let mut given = vec![Given::Absent; self.binding.schema.len()];
        let mut unknown = std::collections::BTreeSet::new();
        while let Some(FeatureName(name)) = map.next_key()? {
            match self.binding.index.get(name.as_ref()) {
                Some(&i) => given[i] = map.next_value::<GivenValue>()?.0,
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    unknown.insert(name.into_owned());
                }
            }
        }
        Ok((given, unknown.into_iter().collect()))
    }
}

/// A key of a features object, borrowed from the text when it has no escapes.
struct FeatureName<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for FeatureName<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Name;
        impl<'de> serde::de::Visitor<'de> for Name {
            type Value = FeatureName<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a feature's name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> std::result::Result<FeatureName<'de>, E> {
                Ok(FeatureName(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> std::result::Result<FeatureName<'de>, E> {
                Ok(FeatureName(std::borrow::Cow::Owned(s.to_owned())))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

/// A feature's value read from JSON text.
struct GivenValue(Given);

impl<'de> serde::Deserialize<'de> for GivenValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(GivenVisitor)
    }
}

struct GivenVisitor;

impl<'de> serde::de::Visitor<'de> for GivenVisitor {
    type Value = GivenValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a feature's value")
    }
    fn visit_unit<E>(self) -> std::result::Result<GivenValue, E> {
        Ok(GivenValue(Given::Null))
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<GivenValue, E> {
        Ok(GivenValue(Given::Other("a boolean")))
    }
    fn visit_i64<E>(self, x: i64) -> std::result::Result<GivenValue, E> {
        Ok(GivenValue(Given::Number(x as f64)))
    }
    fn visit_u64<E>(self, x: u64) -> std::result::Result<GivenValue, E> {
        Ok(GivenValue(Given::Number(x as f64)))
    }
    fn visit_f64<E>(self, x: f64) -> std::result::Result<GivenValue, E> {
        Ok(GivenValue(Given::Number(x)))
    }
    fn visit_str<E>(self, s: &str) -> std::result::Result<GivenValue, E> {
        Ok(GivenValue(Given::Text(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> std::result::Result<GivenValue, E> {
        Ok(GivenValue(Given::Text(s)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<GivenValue, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(GivenValue(Given::Other("an array")))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<GivenValue, A::Error> {
        while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok(GivenValue(Given::Other("an object")))
    }
}

fn parse_value(feature: &FeatureSpec, value: &Given) -> std::result::Result<Parsed, String> {
    match feature.kind {
        ColumnType::Numeric => match value {
            Given::Number(x) if x.is_finite() => Ok(Parsed::Number(*x)),
            Given::Number(_) => Err("expected a finite number".into()),
            other => Err(format!("expected a number, got {}", other.kind())),
        },
        ColumnType::Categorical => match value {
            Given::Text(category) => {
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
            other => Err(format!("expected a category (a string), got {}", other.kind())),
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

/// The reference data's scores, and a multiclass classifier's class probabilities (empty otherwise).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceScores {
    /// Per row; NaN where the schema refused the row.
    pub scores: Vec<f64>,
    /// Per row, every class's probability (empty where the row was refused); no rows for a single score.
    pub probabilities: Vec<Vec<f64>>,
}

/// Scores every row of the reference data through the serving path's checks (rows the schema refuses are
/// NaN). A score that is not a finite number is an error naming the row: a model that overflows on the data
/// it was registered with would answer 500 to live traffic like it.
pub fn score_reference(model: &Model, binding: &Binding, reference: &MonitorReference) -> Result<ReferenceScores> {
    let mut scores = vec![f64::NAN; reference.len()];
    let mut probabilities = vec![Vec::new(); if model.classes() > 0 { reference.len() } else { 0 }];
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
            let finite = prediction.probabilities.iter().all(|p| p.is_finite());
            if !finite || !prediction.score.is_finite() || prediction.margin.is_some_and(|m| !m.is_finite()) {
                return Err(Error::invalid(format!(
                    "the model scores row {} of the reference data as {} (margin {:?}): scores and margins must \
                     be finite numbers",
                    i + 1,
                    prediction.score,
                    prediction.margin
                )));
            }
            scores[i] = prediction.score;
            if !probabilities.is_empty() {
                // A classifier's outputs are probabilities: an ONNX graph's raw scores (a boosted forest without
                // its softmax) would be served as if they were.
                let sum: f64 = prediction.probabilities.iter().sum();
                if prediction.probabilities.iter().any(|p| !(0.0..=1.0).contains(p)) || (sum - 1.0).abs() > 1e-4 {
                    return Err(Error::invalid(format!(
                        "the model's class outputs for row {} of the reference data are {:?}: a multiclass \
                         classifier's outputs must be probabilities in [0, 1] summing to 1",
                        i + 1,
                        prediction.probabilities
                    )));
                }
                probabilities[i] = prediction.probabilities;
            }
        }
    }
    Ok(ReferenceScores { scores, probabilities })
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

/// Checks what surrounds the features: the request id and the attributes (`has_feature`: whether the request
/// gives a feature of that name).
fn check_envelope(
    request_id: Option<&str>,
    attributes: &Map<String, Value>,
    has_feature: impl Fn(&str) -> bool,
) -> std::result::Result<(), BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    if let Some(id) = request_id
        && (id.is_empty() || id.len() > MAX_REQUEST_ID || id.chars().any(char::is_control))
    {
        errors.insert("request_id".into(), format!("must be 1-{MAX_REQUEST_ID} printable characters"));
    }
    if attributes.len() > MAX_ATTRIBUTES {
        errors.insert("attributes".into(), format!("at most {MAX_ATTRIBUTES} attributes"));
    }
    for (name, value) in attributes {
        if has_feature(name) {
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

/// Merges two checks' outcomes: the value when both passed, else every problem of both.
fn both<T>(
    envelope: std::result::Result<(), BTreeMap<String, String>>,
    values: std::result::Result<T, BTreeMap<String, String>>,
) -> std::result::Result<T, BTreeMap<String, String>> {
    match (envelope, values) {
        (Ok(()), Ok(values)) => Ok(values),
        (Err(mut a), Err(b)) => {
            a.extend(b);
            Err(a)
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

pub fn check(binding: &Binding, request: ScoreRequest) -> std::result::Result<Checked, BTreeMap<String, String>> {
    let envelope =
        check_envelope(request.request_id.as_deref(), &request.attributes, |name| request.features.contains_key(name));
    let values = both(envelope, binding.parse(&request.features))?;
    Ok(Checked {
        request_id: request.request_id.unwrap_or_default(),
        values,
        features: request.features,
        attributes: request.attributes,
        explain: request.explain,
    })
}

/// [`check`] of a request whose features were read into schema order ([`Binding::read_features`] or
/// [`Binding::given`]), with the names the schema does not declare (sorted): their checked values, or every problem by
/// field, exactly as [`check`] reports them.
pub fn check_given(
    binding: &Binding,
    request_id: Option<&str>,
    given: &[Given],
    unknown: &[String],
    attributes: &Map<String, Value>,
) -> std::result::Result<Vec<Parsed>, BTreeMap<String, String>> {
    let has_feature = |name: &str| match binding.index.get(name) {
        Some(&i) => given[i] != Given::Absent,
        None => unknown.binary_search_by(|u| u.as_str().cmp(name)).is_ok(),
    };
    both(check_envelope(request_id, attributes, has_feature), binding.check_given(given, unknown))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading features from their text must check them exactly as checking the parsed object does: same
    /// values, same problems, same messages.
    #[test]
    fn features_read_from_text_are_checked_as_the_object_is() {
        let schema: Vec<FeatureSpec> = serde_json::from_value(json!([
            {"name": "amount", "type": "numeric"},
            {"name": "age", "type": "numeric", "nullable": true},
            {"name": "purpose", "type": "categorical", "categories": ["car", "education"]},
            {"name": "housing", "type": "categorical", "categories": ["own", "rent"], "unknown_category": "missing"},
            {"name": "job", "type": "categorical", "nullable": true},
        ]))
        .unwrap();
        let binding = Binding::schema_only(&schema);
        let cases = [
            r#"{"amount": 1200, "age": 35, "purpose": "car", "housing": "own", "job": "skilled"}"#,
            r#"{"amount": 1.5e3, "purpose": "education", "housing": "castle"}"#,
            r#"{"amount": "1200", "purpose": "boat", "housing": 3, "job": true, "extra": 1, "more": [1, {"a": 2}]}"#,
            r#"{"age": null, "purpose": null, "housing": {"x": 1}, "job": null}"#,
            r#"{"amount": 5, "amount": 7, "purpose": "car", "housing": "rent", "extra": 1, "extra": 2}"#,
            r#"{"am\u006fu\nnt": 1, "amount": -0.0, "purpose": "c\u0061r", "housing": "own"}"#,
            r#"{"amount": 18446744073709551615, "purpose": "car", "housing": "own", "job": ""}"#,
            r#"{}"#,
        ];
        for text in cases {
            let object: Map<String, Value> = serde_json::from_str(text).unwrap();
            let (given, unknown) = binding.read_features(text).unwrap();
            assert_eq!((given.clone(), unknown.clone()), binding.given(&object), "{text}");
            assert_eq!(binding.check_given(&given, &unknown), binding.parse(&object), "{text}");
            for attributes in [json!({}), json!({"amount": 1, "extra": "x", "sex": "f"}), json!({"sex": [1]})] {
                let attributes = attributes.as_object().unwrap().clone();
                let request = ScoreRequest {
                    request_id: Some("r-1".into()),
                    features: object.clone(),
                    attributes: attributes.clone(),
                    explain: false,
                };
                let expected = check(&binding, request).map(|c| c.values);
                assert_eq!(check_given(&binding, Some("r-1"), &given, &unknown, &attributes), expected, "{text}");
            }
        }
        // Not an object, or not JSON: an error, never a panic.
        for text in [r#"[1, 2]"#, r#""amount""#, r#"{"amount": 1"#, r#"{"amount": 1} x"#] {
            assert!(binding.read_features(text).is_err(), "{text}");
        }
        // A deeply nested value is skipped without recursion (serde_json ignores values iteratively) and
        // refused by the checks.
        let deep = format!(r#"{{"amount": {}1{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
        let (given, _) = binding.read_features(&deep).unwrap();
        assert_eq!(given[0], Given::Other("an array"));
        assert_eq!(
            binding.check_given(&given, &[] as &[String]).unwrap_err()["amount"],
            "expected a number, got an array"
        );
    }
}
