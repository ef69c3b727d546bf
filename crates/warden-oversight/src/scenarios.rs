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

use crate::{Error, Result};
use warden_registry::registry::FeatureSpec;

/// Largest scenario file accepted.
pub const MAX_SCENARIO_BYTES: usize = 256 * 1024;
/// Most scenarios in one file (each one scores the whole validation set).
pub const MAX_SCENARIOS: usize = 50;
/// Most changes in one scenario.
pub const MAX_CHANGES: usize = 100;
/// Longest scenario name, in characters (it is printed in the report, the CLI and the dashboard).
pub const MAX_NAME_CHARS: usize = 200;
/// Longest change, in characters.
pub const MAX_CHANGE_CHARS: usize = 1024;
/// Most `[` and `{` in a file, wherever they are. A YAML parser takes time quadratic in the nesting depth (a
/// 200 kB file of brackets takes a minute), and counting every bracket bounds the depth whatever quotes and
/// comments an attacker arranges; a scenario file needs about three per scenario.
pub const MAX_BRACKETS: usize = 1000;

/// The file's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioFormat {
    Toml,
    Yaml,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(deserialize_with = "bounded::<_, MAX_SCENARIOS, _>")]
    scenario: Vec<ScenarioText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioText {
    name: Text<{ 4 * MAX_NAME_CHARS }>,
    #[serde(deserialize_with = "bounded::<_, MAX_CHANGES, _>")]
    changes: Vec<Text<{ 4 * MAX_CHANGE_CHARS }>>,
}

/// Text of at most `MAX` bytes, refused before it is copied: a YAML alias naming a 200 kB string 5,000 times
/// must not become a gigabyte of changes.
#[derive(Debug)]
struct Text<const MAX: usize>(String);

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Visitor<const MAX: usize>;
        impl<const MAX: usize> serde::de::Visitor<'_> for Visitor<MAX> {
            type Value = Text<MAX>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "text of at most {MAX} bytes")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Text<MAX>, E> {
                if v.len() > MAX {
                    return Err(E::custom(format!("a text of {} bytes; the limit is {MAX}", v.len())));
                }
                Ok(Text(v.to_owned()))
            }
        }
        deserializer.deserialize_str(Visitor::<MAX>)
    }
}

/// A sequence of at most `MAX` elements, refused at the first one over: a YAML alias cannot make a small file
/// expand into millions of changes before the counts are checked.
fn bounded<'de, T: Deserialize<'de>, const MAX: usize, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<T>, D::Error> {
    struct Bounded<T, const MAX: usize>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>, const MAX: usize> serde::de::Visitor<'de> for Bounded<T, MAX> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX} items")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element()? {
                if items.len() == MAX {
                    return Err(serde::de::Error::custom(format!("more than {MAX} items")));
                }
                items.push(item);
            }
            Ok(items)
        }
    }
    deserializer.deserialize_seq(Bounded::<T, MAX>(std::marker::PhantomData))
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
        return Err(Error::TooLarge { limit: MAX_SCENARIO_BYTES as u64 });
    }
    if text.bytes().filter(|b| matches!(b, b'[' | b'{')).count() > MAX_BRACKETS {
        return Err(Error::invalid(format!(
            "the scenario file holds more than {MAX_BRACKETS} '[' and '{{' (lists and tables nest at most that \
             deep; a scenario file needs about three per scenario)"
        )));
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
        let (name, texts): (String, Vec<String>) = (s.name.0, s.changes.into_iter().map(|c| c.0).collect());
        warden_registry::text::check("a scenario name", &name, MAX_NAME_CHARS, warden_registry::text::Lines::One)?;
        if name.trim().is_empty() || scenarios.iter().any(|o: &Scenario| o.name == name) {
            return Err(Error::invalid(format!("scenario names must be non-empty and distinct ('{name}')")));
        }
        if texts.is_empty() {
            return Err(Error::invalid(format!("scenario '{name}' has no changes")));
        }
        let mut changes = Vec::with_capacity(texts.len());
        for text in &texts {
            let field = format!("a change of scenario '{name}'");
            warden_registry::text::check(&field, text, MAX_CHANGE_CHARS, warden_registry::text::Lines::One)?;
            changes.push(parse_change(text, schema).map_err(|e| Error::invalid(format!("scenario '{name}': {e}")))?);
        }
        scenarios.push(Scenario { name, changes });
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

/// Applies a scenario's changes to the rows; a missing value stays missing under arithmetic. A change whose
/// result is not a finite number (`credit_amount *= 1e308` overflows) refuses the scenario, naming the
/// change, the feature and the first such row (1-based): a value that cannot be scored must not leave the
/// row unchanged and the report saying the scenario changed nothing.
pub(crate) fn apply(scenario: &Scenario, rows: &mut [Map<String, Value>]) -> Result<()> {
    for change in &scenario.changes {
        for (i, row) in rows.iter_mut().enumerate() {
            let current = row.get(&change.feature).and_then(Value::as_f64);
            let (before, after) = match (change.op, current, change.value.as_f64()) {
                (Op::Set, _, _) => {
                    row.insert(change.feature.clone(), change.value.clone());
                    continue;
                }
                (_, None, _) | (_, _, None) => continue,
                (Op::Add, Some(x), Some(v)) => (x, x + v),
                (Op::Subtract, Some(x), Some(v)) => (x, x - v),
                (Op::Multiply, Some(x), Some(v)) => (x, x * v),
                (Op::Divide, Some(x), Some(v)) => (x, x / v),
            };
            let Some(after) = serde_json::Number::from_f64(after) else {
                return Err(Error::invalid_with(
                    format!(
                        "scenario '{}': '{}' makes feature '{}' {after} at row {} (from {before}); a scenario must \
                         leave every value finite",
                        scenario.name,
                        change.text,
                        change.feature,
                        i + 1
                    ),
                    serde_json::json!({"scenario": scenario.name, "change": change.text,
                        "feature": change.feature, "row": i + 1}),
                ));
            };
            row.insert(change.feature.clone(), Value::Number(after));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use warden_registry::registry::UnknownCategory;

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
        apply(&a[0], &mut rows).unwrap();
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

    #[test]
    fn a_change_that_overflows_refuses_the_scenario_naming_the_feature_and_the_first_row() {
        let toml = "[[scenario]]\nname = \"huge loans\"\nchanges = [\"income *= 1e300\"]\n";
        let scenarios = parse(toml, ScenarioFormat::Toml, &schema()).unwrap();
        let mut rows = vec![
            json!({"income": 1.0}).as_object().unwrap().clone(),
            json!({"income": null}).as_object().unwrap().clone(),
            json!({"income": 1e10}).as_object().unwrap().clone(),
            json!({"income": -1e20}).as_object().unwrap().clone(),
        ];
        let err = apply(&scenarios[0], &mut rows).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("scenario 'huge loans'"), "{message}");
        assert!(message.contains("feature 'income' inf at row 3"), "{message}");
        let Error::Invalid { details, .. } = err else { panic!("{message}") };
        assert_eq!(
            details,
            json!({"scenario": "huge loans", "change": "income *= 1e300", "feature": "income",
            "row": 3})
        );
        // Subtraction and division overflow too; a finite result is applied.
        let cases =
            [("income -= 1.7e308", -1e308, false), ("income /= 1e-300", 1e10, false), ("income *= 1e-300", 1e10, true)];
        for (change, value, ok) in cases {
            let text = format!("[[scenario]]\nname = \"x\"\nchanges = [\"{change}\"]\n");
            let scenario = &parse(&text, ScenarioFormat::Toml, &schema()).unwrap()[0];
            let mut rows = vec![json!({"income": value}).as_object().unwrap().clone()];
            assert_eq!(apply(scenario, &mut rows).is_ok(), ok, "{change}");
        }
    }

    #[test]
    fn hostile_scenario_files_are_refused_quickly_with_a_clear_error() {
        let started = std::time::Instant::now();
        let deep = |open: &str, close: &str, n: usize| format!("scenario = {}{}\n", open.repeat(n), close.repeat(n));
        let yaml_deep = |n: usize| format!("scenario: {}{}\n", "[".repeat(n), "]".repeat(n));
        let many_changes = format!(
            "[[scenario]]\nname = \"x\"\nchanges = [{}]\n",
            vec!["\"income *= 1\""; MAX_CHANGES + 1].join(", ")
        );
        // One list of 100 changes named by an alias 2,000 times: millions of changes from 60 kB.
        let mut laughs =
            format!("scenario:\n  - {{name: a, changes: &c [{}]}}\n", vec!["\"income *= 1\""; 100].join(","));
        for i in 0..2000 {
            laughs.push_str(&format!("  - name: b{i}\n    changes: *c\n"));
        }
        // One 200 kB change named by an alias 5,000 times: a gigabyte of text from 220 kB.
        let mut long = format!("scenario:\n  - name: a\n    changes: [&c \"income *= 1{}\"]\n", " ".repeat(200_000));
        for i in 0..49 {
            long.push_str(&format!("  - name: b{i}\n    changes: [{}]\n", vec!["*c"; 100].join(",")));
        }
        let cases: Vec<(String, ScenarioFormat, &str)> = vec![
            (long, ScenarioFormat::Yaml, "bytes; the limit is 4096"),
            (deep("[", "]", 100_000), ScenarioFormat::Toml, "more than 1000 '[' and '{'"),
            (deep("{a=", "}", 60_000), ScenarioFormat::Toml, "more than 1000 '[' and '{'"),
            (yaml_deep(100_000), ScenarioFormat::Yaml, "more than 1000 '[' and '{'"),
            (yaml_deep(500), ScenarioFormat::Yaml, "scenario file (YAML)"),
            (deep("[", "]", 500), ScenarioFormat::Toml, "scenario file (TOML)"),
            (format!("scenario:\n{}x\n", "- ".repeat(100_000)), ScenarioFormat::Yaml, "scenario file (YAML)"),
            (many_changes, ScenarioFormat::Toml, "more than 100 items"),
            (laughs, ScenarioFormat::Yaml, "more than 50 items"),
            ("x".repeat(MAX_SCENARIO_BYTES + 1), ScenarioFormat::Toml, "exceeds the limit of 262144 bytes"),
            (
                format!("[[scenario]]\nname = \"{}\"\nchanges = [\"income *= 2\"]\n", "n".repeat(MAX_NAME_CHARS + 1)),
                ScenarioFormat::Toml,
                "a scenario name is 201 characters; the limit is 200",
            ),
            (
                "[[scenario]]\nname = \"red\\u001b[31m\"\nchanges = [\"income *= 2\"]\n".to_owned(),
                ScenarioFormat::Toml,
                "a scenario name holds the control character U+001B",
            ),
        ];
        for (text, format, want) in cases {
            let err = parse(&text, format, &schema()).unwrap_err().to_string();
            assert!(err.contains(want), "{}...: {err}", &text[..text.len().min(60)]);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
    }
}
