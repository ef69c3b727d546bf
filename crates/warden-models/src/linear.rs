/*!
Warden's linear/scorecard JSON format: `margin = intercept + Σ term(feature)`, score = link(margin).

```json
{
  "format": "warden-linear", "version": 1, "link": "logistic", "intercept": -0.92,
  "features": [
    {"name": "age", "type": "numeric", "coefficient": -0.215, "center": 35.9, "scale": 11.57, "impute": 33},
    {"name": "housing", "type": "categorical", "points": {"own": -0.13, "rent": 0.32}, "impute": "own",
     "unknown_points": 0.0},
    {"name": "income", "type": "binned", "edges": [1000, 3000], "points": [0.4, 0.1, -0.3], "missing_points": 0.2}
  ]
}
```

- `numeric`: term = coefficient × (x − center) / scale (center 0 and scale 1 by default); a missing value takes
  `impute` when given and is refused otherwise.
- `categorical`: term = the category's points; missing takes the `impute` category; a category without points
  takes `unknown_points` when given and is refused otherwise (a one-hot encoder that ignores unknown
  categories has `unknown_points: 0`).
- `binned` (scorecard): bins are right-open `[e(i-1), e(i))`, so bin = number of edges ≤ x, and `points` has one
  entry per bin; a missing value takes `missing_points` when given and is refused otherwise.
- The compact form `{"intercept": -0.5, "coefficients": {"age": 0.01}}` is a logistic model with one plain
  numeric term per coefficient.
- Every feature may carry `expected`, its mean term over the training data. Explanations subtract it, so a
  contribution says how far this applicant's term is from the typical one; `base` = intercept + Σ expected.
*/

use crate::{Cell, Explanation, InputKind, InputSpec, ModelError, Prediction, sigmoid};
use serde::Deserialize;
use std::collections::HashMap;

const FORMAT: &str = "linear-json";

/// The file as written: the full form, or the compact `coefficients` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinearFile {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    link: Option<LinkName>,
    intercept: f64,
    #[serde(default)]
    features: Option<Vec<Feature>>,
    #[serde(default)]
    coefficients: Option<std::collections::BTreeMap<String, f64>>,
}

/// A parsed linear/scorecard model.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    link: LinkName,
    intercept: f64,
    features: Vec<Feature>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum LinkName {
    Logistic,
    Identity,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Feature {
    name: String,
    #[serde(flatten)]
    term: Term,
    #[serde(default)]
    expected: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Term {
    Numeric {
        coefficient: f64,
        #[serde(default)]
        center: f64,
        #[serde(default = "one")]
        scale: f64,
        #[serde(default)]
        impute: Option<f64>,
    },
    Categorical {
        points: HashMap<String, f64>,
        #[serde(default)]
        impute: Option<String>,
        #[serde(default)]
        unknown_points: Option<f64>,
    },
    Binned {
        edges: Vec<f64>,
        points: Vec<f64>,
        #[serde(default)]
        missing_points: Option<f64>,
    },
}

fn one() -> f64 {
    1.0
}

fn invalid(message: impl Into<String>) -> ModelError {
    ModelError::Invalid { format: FORMAT, message: message.into() }
}

impl LinearModel {
    /// Parses and checks a model.
    pub fn from_json(bytes: &[u8]) -> Result<LinearModel, ModelError> {
        let file: LinearFile = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        let (format, version) = (file.format.as_deref().unwrap_or("warden-linear"), file.version.unwrap_or(1));
        if format != "warden-linear" || version != 1 {
            return Err(invalid(format!("format '{format}' version {version} (expected 'warden-linear' version 1)")));
        }
        let features = match (file.features, file.coefficients) {
            (Some(features), None) => features,
            (None, Some(coefficients)) => coefficients
                .into_iter()
                .map(|(name, coefficient)| Feature {
                    name,
                    term: Term::Numeric { coefficient, center: 0.0, scale: 1.0, impute: None },
                    expected: 0.0,
                })
                .collect(),
            _ => return Err(invalid("give exactly one of 'features' and 'coefficients'")),
        };
        let model = LinearModel { link: file.link.unwrap_or(LinkName::Logistic), intercept: file.intercept, features };
        if model.features.is_empty() {
            return Err(invalid("no features"));
        }
        let finite = |v: f64, what: &str, name: &str| {
            if v.is_finite() { Ok(()) } else { Err(invalid(format!("feature '{name}': {what} is not finite"))) }
        };
        finite(model.intercept, "intercept", "-")?;
        let mut seen = std::collections::HashSet::new();
        for f in &model.features {
            if !seen.insert(f.name.as_str()) {
                return Err(invalid(format!("feature '{}' appears twice", f.name)));
            }
            finite(f.expected, "expected", &f.name)?;
            match &f.term {
                Term::Numeric { coefficient, center, scale, impute } => {
                    finite(*coefficient, "coefficient", &f.name)?;
                    finite(*center, "center", &f.name)?;
                    if !(scale.is_finite() && *scale != 0.0) {
                        return Err(invalid(format!("feature '{}': scale must be finite and non-zero", f.name)));
                    }
                    if let Some(v) = impute {
                        finite(*v, "impute", &f.name)?;
                    }
                }
                Term::Categorical { points, impute, unknown_points } => {
                    for v in points.values().chain(unknown_points) {
                        finite(*v, "points", &f.name)?;
                    }
                    if let Some(category) = impute
                        && !points.contains_key(category)
                        && unknown_points.is_none()
                    {
                        return Err(invalid(format!("feature '{}': impute category has no points", f.name)));
                    }
                }
                Term::Binned { edges, points, missing_points } => {
                    if points.len() != edges.len() + 1 {
                        return Err(invalid(format!(
                            "feature '{}': {} edges need {} points",
                            f.name,
                            edges.len(),
                            edges.len() + 1
                        )));
                    }
                    if edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| w[0] >= w[1]) {
                        return Err(invalid(format!("feature '{}': edges must be finite and increasing", f.name)));
                    }
                    for v in points.iter().chain(missing_points) {
                        finite(*v, "points", &f.name)?;
                    }
                }
            }
        }
        Ok(model)
    }

    /// The model's inputs.
    pub fn inputs(&self) -> Vec<InputSpec> {
        self.features
            .iter()
            .map(|f| InputSpec {
                name: f.name.clone(),
                kind: match f.term {
                    Term::Categorical { .. } => InputKind::Text,
                    Term::Numeric { .. } | Term::Binned { .. } => InputKind::Number,
                },
            })
            .collect()
    }

    fn term(feature: &Feature, cell: &Cell) -> Result<f64, ModelError> {
        let refuse = |why: &str| Err(ModelError::BadInput(format!("feature '{}': {why}", feature.name)));
        match (&feature.term, cell) {
            (Term::Numeric { coefficient, center, scale, impute }, cell) => {
                let x = match cell {
                    Cell::Number(x) if !x.is_nan() => *x,
                    Cell::Number(_) | Cell::Missing => match impute {
                        Some(v) => *v,
                        None => return refuse("missing, and the model declares no imputation"),
                    },
                    Cell::Text(_) => return refuse("expected a number"),
                };
                Ok(coefficient * ((x - center) / scale))
            }
            (Term::Categorical { points, impute, unknown_points }, cell) => {
                let category = match cell {
                    Cell::Text(text) => text.as_str(),
                    Cell::Missing => match impute {
                        Some(category) => category.as_str(),
                        None => return refuse("missing, and the model declares no imputation"),
                    },
                    Cell::Number(_) => return refuse("expected a category"),
                };
                match (points.get(category), unknown_points) {
                    (Some(p), _) | (None, Some(p)) => Ok(*p),
                    (None, None) => refuse(&format!("category '{category}' has no points")),
                }
            }
            (Term::Binned { edges, points, missing_points }, cell) => match cell {
                Cell::Number(x) if !x.is_nan() => Ok(points[edges.partition_point(|e| e <= x)]),
                Cell::Number(_) | Cell::Missing => match missing_points {
                    Some(p) => Ok(*p),
                    None => refuse("missing, and the scorecard has no points for missing"),
                },
                Cell::Text(_) => refuse("expected a number"),
            },
        }
    }

    fn score(&self, margin: f64) -> f64 {
        match self.link {
            LinkName::Logistic => sigmoid(margin),
            LinkName::Identity => margin,
        }
    }

    pub(crate) fn predict(&self, row: &[Cell]) -> Result<Prediction, ModelError> {
        let mut margin = self.intercept;
        for (feature, cell) in self.features.iter().zip(row) {
            margin += Self::term(feature, cell)?;
        }
        Ok(Prediction { score: self.score(margin), margin: Some(margin), probabilities: Vec::new() })
    }

    pub(crate) fn explain(&self, row: &[Cell]) -> Result<Explanation, ModelError> {
        let contributions = self
            .features
            .iter()
            .zip(row)
            .map(|(feature, cell)| Ok(Self::term(feature, cell)? - feature.expected))
            .collect::<Result<Vec<_>, ModelError>>()?;
        let base = self.intercept + self.features.iter().map(|f| f.expected).sum::<f64>();
        Ok(Explanation { base, contributions })
    }
}
