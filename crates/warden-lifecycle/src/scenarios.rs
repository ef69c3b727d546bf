/*!
Stress scenarios: named sets of changes to the validation data (`income *= 0.8`, `utilisation += 0.1`,
`unemployment_rate = 9`, `housing = rent`), scored by the version and compared with the unchanged data on
approval rate, mean predicted default probability and expected loss (PD × LGD × EAD).

A scenario file is TOML or YAML:

```toml
[[scenario]]
name = "recession"
changes = ["credit_amount *= 1.2", "duration += 6"]
```
*/

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use warden_stats::profile::ColumnType;

use crate::registry::FeatureSpec;
use crate::{Error, Result};

/// Largest scenario file accepted.
pub const MAX_SCENARIO_BYTES: usize = 256 * 1024;
/// Most scenarios in one file (each one scores the whole validation set).
pub const MAX_SCENARIOS: usize = 50;

/// The file's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioFormat {
    /// TOML.
    Toml,
    /// YAML.
    Yaml,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenario: Vec<ScenarioText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioText {
    name: String,
    changes: Vec<String>,
}

/// How a change acts on a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Set,
    /// `+=`
    Add,
    /// `-=`
    Subtract,
    /// `*=`
    Multiply,
    /// `/=`
    Divide,
}

/// One change: `feature op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The feature changed.
    pub feature: String,
    /// How.
    pub op: Op,
    /// A number, or a category for `=` on a categorical feature.
    pub value: Value,
    /// The change as written.
    pub text: String,
}

/// A named set of changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// Its changes, applied in order.
    pub changes: Vec<Change>,
}

/// A figure before and under a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// On the data as given.
    pub baseline: f64,
    /// Under the scenario.
    pub stressed: f64,
    /// Stressed minus baseline.
    pub change: f64,
}

impl Delta {
    pub(crate) fn new(baseline: f64, stressed: f64) -> Delta {
        Delta { baseline, stressed, change: stressed - baseline }
    }
}

/// One scenario's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// Its changes as written.
    pub changes: Vec<String>,
    /// Share of rows approved (score below the threshold).
    pub approval_rate: Delta,
    /// Mean predicted probability of default.
    pub mean_pd: Delta,
    /// Σ PD × LGD × EAD over the rows (`None` when the version has no loss configuration).
    pub expected_loss: Option<Delta>,
}

/// Parses a scenario file and checks every change against the schema.
pub fn parse(text: &str, format: ScenarioFormat, schema: &[FeatureSpec]) -> Result<Vec<Scenario>> {
    if text.len() > MAX_SCENARIO_BYTES {
        return Err(Error::invalid(format!("the scenario file is over {MAX_SCENARIO_BYTES} bytes")));
    }
    let file: ScenarioFile = match format {
        ScenarioFormat::Toml => {
            toml::from_str(text).map_err(|e| Error::invalid(format!("scenario file (TOML): {}", e.message())))?
        }
        ScenarioFormat::Yaml => {
            serde_yaml_ng::from_str(text).map_err(|e| Error::invalid(format!("scenario file (YAML): {e}")))?
        }
    };
    if file.scenario.is_empty() || file.scenario.len() > MAX_SCENARIOS {
        return Err(Error::invalid(format!("a scenario file holds 1 to {MAX_SCENARIOS} scenarios")));
    }
    let mut scenarios = Vec::with_capacity(file.scenario.len());
    for s in file.scenario {
        if s.name.trim().is_empty() || scenarios.iter().any(|o: &Scenario| o.name == s.name) {
            return Err(Error::invalid(format!("scenario names must be non-empty and distinct ('{}')", s.name)));
        }
        if s.changes.is_empty() {
            return Err(Error::invalid(format!("scenario '{}' has no changes", s.name)));
        }
        let changes = s
            .changes
            .iter()
            .map(|c| parse_change(c, schema).map_err(|e| Error::invalid(format!("scenario '{}': {e}", s.name))))
            .collect::<Result<_>>()?;
        scenarios.push(Scenario { name: s.name, changes });
    }
    Ok(scenarios)
}

fn parse_change(text: &str, schema: &[FeatureSpec]) -> std::result::Result<Change, String> {
    let ops = [("*=", Op::Multiply), ("/=", Op::Divide), ("+=", Op::Add), ("-=", Op::Subtract), ("=", Op::Set)];
    let (at, token, op) = ops
        .iter()
        .filter_map(|(token, op)| text.find(token).map(|at| (at, *token, *op)))
        .min_by_key(|(at, token, _)| (*at, std::cmp::Reverse(token.len())))
        .ok_or_else(|| format!("'{text}' is not 'feature op value' (op: =, +=, -=, *=, /=)"))?;
    let feature = text[..at].trim();
    let raw = text[at + token.len()..].trim();
    let spec = schema
        .iter()
        .find(|f| f.name == feature)
        .ok_or_else(|| format!("'{text}': '{feature}' is not a feature of the model"))?;
    let unquoted = raw.trim_matches(|c| c == '"' || c == '\'');
    let value = match spec.kind {
        ColumnType::Numeric => {
            let number: f64 = raw.parse().map_err(|_| format!("'{text}': '{raw}' is not a number"))?;
            if !number.is_finite() || (op == Op::Divide && number == 0.0) {
                return Err(format!("'{text}': the value must be finite (and not 0 for /=)"));
            }
            serde_json::Number::from_f64(number).map(Value::Number).expect("finite")
        }
        ColumnType::Categorical if op == Op::Set && !unquoted.is_empty() => Value::String(unquoted.to_owned()),
        ColumnType::Categorical => {
            return Err(format!("'{text}': a categorical feature can only be set (=) to a category"));
        }
    };
    Ok(Change { feature: feature.to_owned(), op, value, text: text.trim().to_owned() })
}

/// Applies a scenario's changes to the rows; a missing value stays missing under arithmetic.
pub(crate) fn apply(scenario: &Scenario, rows: &mut [Map<String, Value>]) {
    for change in &scenario.changes {
        for row in rows.iter_mut() {
            let current = row.get(&change.feature).and_then(Value::as_f64);
            let next = match (change.op, current, change.value.as_f64()) {
                (Op::Set, _, _) => Some(change.value.clone()),
                (_, None, _) | (_, _, None) => None,
                (Op::Add, Some(x), Some(v)) => number(x + v),
                (Op::Subtract, Some(x), Some(v)) => number(x - v),
                (Op::Multiply, Some(x), Some(v)) => number(x * v),
                (Op::Divide, Some(x), Some(v)) => number(x / v),
            };
            if let Some(next) = next {
                row.insert(change.feature.clone(), next);
            }
        }
    }
}

fn number(x: f64) -> Option<Value> {
    serde_json::Number::from_f64(x).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::UnknownCategory;
    use serde_json::json;

    fn schema() -> Vec<FeatureSpec> {
        let spec = |name: &str, kind| FeatureSpec {
            name: name.into(),
            kind,
            categories: None,
            nullable: true,
            encoding: None,
            unknown_category: UnknownCategory::default(),
        };
        vec![spec("income", ColumnType::Numeric), spec("housing", ColumnType::Categorical)]
    }

    #[test]
    fn toml_and_yaml_give_the_same_scenarios_and_changes_apply_in_order() {
        let toml =
            "[[scenario]]\nname = \"shock\"\nchanges = [\"income *= 0.8\", \"income += 100\", \"housing = 'rent'\"]\n";
        let yaml =
            "scenario:\n  - name: shock\n    changes: [\"income *= 0.8\", \"income += 100\", \"housing = 'rent'\"]\n";
        let a = parse(toml, ScenarioFormat::Toml, &schema()).unwrap();
        let b = parse(yaml, ScenarioFormat::Yaml, &schema()).unwrap();
        assert_eq!(a, b);
        let mut rows = vec![
            json!({"income": 1000.0, "housing": "own"}).as_object().unwrap().clone(),
            json!({"income": null, "housing": null}).as_object().unwrap().clone(),
        ];
        apply(&a[0], &mut rows);
        assert_eq!(rows[0]["income"], json!(900.0));
        assert_eq!(rows[0]["housing"], json!("rent"));
        assert_eq!(rows[1]["income"], Value::Null, "missing stays missing");
        assert_eq!(rows[1]["housing"], json!("rent"));
    }

    #[test]
    fn bad_scenarios_are_refused_with_the_reason() {
        let cases = [
            ("[[scenario]]\nname = \"x\"\nchanges = [\"salary *= 2\"]\n", "'salary' is not a feature"),
            ("[[scenario]]\nname = \"x\"\nchanges = [\"income *= lots\"]\n", "'lots' is not a number"),
            ("[[scenario]]\nname = \"x\"\nchanges = [\"income /= 0\"]\n", "not 0 for /="),
            ("[[scenario]]\nname = \"x\"\nchanges = [\"housing += 1\"]\n", "can only be set"),
            ("[[scenario]]\nname = \"x\"\nchanges = [\"income\"]\n", "is not 'feature op value'"),
            ("[[scenario]]\nname = \"x\"\nchanges = []\n", "has no changes"),
            ("[[scenario]]\nname = \"x\"\n", "scenario file (TOML)"),
            ("scenario = 3", "scenario file (TOML)"),
        ];
        for (text, want) in cases {
            let err = parse(text, ScenarioFormat::Toml, &schema()).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
