/*!
A version's reference data as the monitors need it, read once when the version is loaded: the feature
columns, the version's own scores on them, and every other column (outcomes, protected attributes,
exposures) as text. Score drift bins live scores on the reference scores' deciles; learned thresholds and
CBPE replay chunks of it through the same computations as live windows.
*/

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use warden_stats::profile::{ColumnType, is_missing_token};

use crate::Result;
use crate::registry::FeatureSpec;

/// One feature's reference values.
#[derive(Debug, Clone)]
pub(crate) enum ReferenceColumn {
    /// NaN for missing.
    Numeric(Vec<f64>),
    /// `None` for missing.
    Categorical(Vec<Option<String>>),
}

impl ReferenceColumn {
    fn json(&self, row: usize) -> Value {
        match self {
            ReferenceColumn::Numeric(v) => serde_json::Number::from_f64(v[row]).map_or(Value::Null, Value::Number),
            ReferenceColumn::Categorical(v) => v[row].clone().map_or(Value::Null, Value::String),
        }
    }
}

/// The reference data of a loaded version.
#[derive(Debug, Clone, Default)]
pub struct MonitorReference {
    /// Feature columns in schema order.
    pub(crate) features: Vec<(String, ReferenceColumn)>,
    /// The version's score per row; NaN where the row could not be scored.
    pub scores: Vec<f64>,
    /// A multiclass classifier's probability of each class per row (empty where the row could not be
    /// scored); no rows for other models.
    pub probabilities: Vec<Vec<f64>>,
    /// Other columns, as text (`None` for missing).
    pub others: BTreeMap<String, Vec<Option<String>>>,
    /// Decile edges of the scores (what live scores are binned on).
    pub score_edges: Vec<f64>,
    /// Smallest and largest score.
    pub score_range: (f64, f64),
}

impl MonitorReference {
    /// Rows.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Reads the feature and other columns of a CSV or Parquet file; scores are filled in by the caller.
    pub fn read(path: &Path, schema: &[FeatureSpec]) -> Result<MonitorReference> {
        Self::read_bounded(path, schema, usize::MAX)
    }

    /// [`MonitorReference::read`], refusing a file of more than `max_rows` rows.
    pub fn read_bounded(path: &Path, schema: &[FeatureSpec], max_rows: usize) -> Result<MonitorReference> {
        let mut reference = MonitorReference::default();
        let mut rows_read = 0usize;
        let mut positions: Vec<Option<usize>> = Vec::new();
        let mut other_positions: Vec<(usize, String)> = Vec::new();
        crate::dataset::for_each_chunk(path, 8_192, |header, chunk| {
            if reference.features.is_empty() {
                for f in schema {
                    positions.push(header.iter().position(|h| *h == f.name));
                    let column = match f.kind {
                        ColumnType::Numeric => ReferenceColumn::Numeric(Vec::new()),
                        ColumnType::Categorical => ReferenceColumn::Categorical(Vec::new()),
                    };
                    reference.features.push((f.name.clone(), column));
                }
                for (i, h) in header.iter().enumerate() {
                    if !schema.iter().any(|f| f.name == *h) {
                        other_positions.push((i, h.clone()));
                        reference.others.insert(h.clone(), Vec::new());
                    }
                }
            }
            rows_read += chunk.len();
            if rows_read > max_rows {
                return Err(crate::Error::invalid(format!(
                    "{} has more than {max_rows} rows, the most this reads",
                    path.display()
                )));
            }
            for cells in chunk {
                let text = |i: Option<usize>| {
                    i.and_then(|i| cells[i].as_deref()).map(str::trim).filter(|t| !is_missing_token(t))
                };
                for ((_, column), at) in reference.features.iter_mut().zip(&positions) {
                    match column {
                        ReferenceColumn::Numeric(v) => {
                            v.push(text(*at).and_then(|t| t.parse::<f64>().ok()).unwrap_or(f64::NAN))
                        }
                        ReferenceColumn::Categorical(v) => v.push(text(*at).map(str::to_owned)),
                    }
                }
                for (i, name) in &other_positions {
                    let value = text(Some(*i)).map(str::to_owned);
                    reference.others.get_mut(name).expect("made with the header").push(value);
                }
            }
            Ok(())
        })?;
        let rows = reference.features.first().map_or(0, |(_, c)| match c {
            ReferenceColumn::Numeric(v) => v.len(),
            ReferenceColumn::Categorical(v) => v.len(),
        });
        reference.scores = vec![f64::NAN; rows];
        Ok(reference)
    }

    /// Each categorical feature's values as text slices (an empty list for a numeric feature), for
    /// [`MonitorReference::feature_columns`].
    pub fn category_texts(&self) -> Vec<Vec<Option<&str>>> {
        self.features
            .iter()
            .map(|(_, c)| match c {
                ReferenceColumn::Categorical(v) => v.iter().map(Option::as_deref).collect(),
                ReferenceColumn::Numeric(_) => Vec::new(),
            })
            .collect()
    }

    /// The feature columns by name, as the statistics core reads whole columns.
    pub fn feature_columns<'a>(
        &'a self,
        texts: &'a [Vec<Option<&'a str>>],
    ) -> Vec<(&'a str, warden_stats::reconstruction::ColumnValues<'a>)> {
        use warden_stats::reconstruction::ColumnValues;
        self.features
            .iter()
            .zip(texts)
            .map(|((name, c), t)| {
                let values = match c {
                    ReferenceColumn::Numeric(v) => ColumnValues::Numeric(v),
                    ReferenceColumn::Categorical(_) => ColumnValues::Categorical(t),
                };
                (name.as_str(), values)
            })
            .collect()
    }

    /// Row `i`'s features, as a scoring request carries them.
    pub fn row(&self, i: usize) -> Map<String, Value> {
        self.features.iter().map(|(name, column)| (name.clone(), column.json(i))).collect()
    }

    /// Row `i`'s value of a column: a feature or another column; numbers as their text.
    pub fn text(&self, column: &str, i: usize) -> Option<String> {
        if let Some(values) = self.others.get(column) {
            return values[i].clone();
        }
        self.features.iter().find(|(n, _)| n == column).and_then(|(_, c)| match c {
            ReferenceColumn::Numeric(v) => v[i].is_finite().then(|| v[i].to_string()),
            ReferenceColumn::Categorical(v) => v[i].clone(),
        })
    }

    /// Row `i`'s value of a numeric column (a feature or another column).
    pub fn number(&self, column: &str, i: usize) -> Option<f64> {
        self.text(column, i).and_then(|t| t.parse::<f64>().ok()).filter(|v| v.is_finite())
    }

    /// An external model's scores on these rows, from its score column (every row must carry one).
    pub fn external_scores(
        &self,
        external: &crate::external::ExternalModel,
        task: warden_core::ModelTask,
    ) -> Result<Vec<f64>> {
        let column = self.others.get(&external.score_column).ok_or_else(|| {
            crate::Error::invalid(format!(
                "the reference data has no score column '{}' (the external model's scores)",
                external.score_column
            ))
        })?;
        external.scores(column.iter().map(Option::as_deref), task.is_binary())
    }

    /// Sets the scores and derives the score bins.
    pub fn set_scores(&mut self, scores: Vec<f64>) {
        let mut sorted: Vec<f64> = scores.iter().copied().filter(|s| s.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        self.score_edges = warden_stats::quantile::decile_edges_sorted(&sorted);
        self.score_range = match (sorted.first(), sorted.last()) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            _ => (0.0, 1.0),
        };
        self.scores = scores;
    }
}
