//! Reference profiles: what a column of reference data looks like, computed once at registration.
//!
//! A [`ProfileBuilder`] takes cells one at a time (from any reader: CSV, Parquet, live windows later),
//! decides or checks each column's type, and [`ProfileBuilder::finish`] turns the columns into a
//! [`DatasetProfile`]. Numeric summaries use the decile binning of [`crate::quantile`], so drift computed
//! later against this profile uses the very same edges.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::quantile::{bin_counts_sorted, decile_edges_sorted};

/// A feature's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Real numbers; missing values allowed only where the schema says nullable.
    Numeric,
    /// Strings from a finite set of categories.
    Categorical,
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::Numeric => "numeric",
            ColumnType::Categorical => "categorical",
        })
    }
}

/// What a column is for. Targets and protected attributes are profiled but are never model inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnRole {
    /// A model input.
    Feature,
    /// The outcome the model predicts.
    Target,
    /// A monitor-only attribute such as sex or age, used for fairness and never fed to the model.
    Protected,
}

/// How one column is to be read: its name, role and (when declared) type and allowed categories.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Column name as it appears in the header.
    pub name: String,
    /// Feature, target or protected attribute.
    pub role: ColumnRole,
    /// Declared type; `None` means infer it from the data.
    pub declared_type: Option<ColumnType>,
    /// For declared categorical columns: the allowed categories (`None` = any).
    pub allowed_categories: Option<Vec<String>>,
    /// Whether missing values are allowed (`true` when undeclared).
    pub nullable: bool,
}

impl ColumnSpec {
    /// A column whose type is inferred from the data.
    pub fn inferred(name: impl Into<String>, role: ColumnRole) -> Self {
        ColumnSpec { name: name.into(), role, declared_type: None, allowed_categories: None, nullable: true }
    }
}

/// Summary of a numeric column. Statistics use the non-missing values only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    /// Number of non-missing values.
    pub count: u64,
    /// Number of missing values.
    pub missing: u64,
    /// Smallest value (`None` when every value is missing).
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Population standard deviation (ddof = 0, as `np.std`).
    pub std: Option<f64>,
    /// `np.unique(np.quantile(x, [0.1, ..., 0.9]))`: between 0 and 9 ascending edges.
    pub decile_edges: Vec<f64>,
    /// Counts of the `decile_edges.len() + 1` right-closed bins; missing values are counted apart.
    pub bin_counts: Vec<u64>,
}

/// Summary of a categorical column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalSummary {
    /// Number of non-missing values.
    pub count: u64,
    /// Number of missing values.
    pub missing: u64,
    /// Count of each category, in byte order of the category string.
    pub frequencies: BTreeMap<String, u64>,
}

/// A column's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ColumnSummary {
    /// A numeric column.
    Numeric(NumericSummary),
    /// A categorical column.
    Categorical(CategoricalSummary),
}

impl ColumnSummary {
    /// The column's type.
    pub fn column_type(&self) -> ColumnType {
        match self {
            ColumnSummary::Numeric(_) => ColumnType::Numeric,
            ColumnSummary::Categorical(_) => ColumnType::Categorical,
        }
    }

    /// Number of missing values.
    pub fn missing(&self) -> u64 {
        match self {
            ColumnSummary::Numeric(s) => s.missing,
            ColumnSummary::Categorical(s) => s.missing,
        }
    }
}

/// One profiled column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Feature, target or protected attribute.
    pub role: ColumnRole,
    /// The summary.
    #[serde(flatten)]
    pub summary: ColumnSummary,
}

/// The profile of a whole reference dataset, columns in header order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetProfile {
    /// Number of data rows.
    pub rows: u64,
    /// Profiled columns (features, target and protected attributes; other columns are not kept).
    pub columns: Vec<ColumnProfile>,
}

impl DatasetProfile {
    /// The columns with the given role, in order.
    pub fn with_role(&self, role: ColumnRole) -> impl Iterator<Item = &ColumnProfile> {
        self.columns.iter().filter(move |c| c.role == role)
    }
}

/// Why a cell could not be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// A value that is not a finite number in a numeric column.
    #[error("line {line}, column '{column}': expected a number, found '{found}'")]
    NotANumber {
        /// 1-based line (CSV) or row (columnar files) of the cell.
        line: u64,
        /// Column name.
        column: String,
        /// The offending text, shortened.
        found: String,
    },
    /// `inf` or `-inf` (or an overflow) where a finite number is required.
    #[error("line {line}, column '{column}': value '{found}' is not finite")]
    NotFinite {
        /// 1-based line or row.
        line: u64,
        /// Column name.
        column: String,
        /// The offending text.
        found: String,
    },
    /// A missing value in a column declared not nullable.
    #[error("line {line}, column '{column}': missing value in a column declared not nullable")]
    MissingNotAllowed {
        /// 1-based line or row.
        line: u64,
        /// Column name.
        column: String,
    },
    /// A category outside the declared set.
    #[error("line {line}, column '{column}': category '{found}' is not among the declared categories")]
    UnknownCategory {
        /// 1-based line or row.
        line: u64,
        /// Column name.
        column: String,
        /// The category seen.
        found: String,
    },
}

/// Cell texts read as missing (pandas' common defaults).
pub const MISSING_TOKENS: [&str; 9] = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "<NA>"];

/// Whether a cell's text means "missing".
pub fn is_missing_token(text: &str) -> bool {
    MISSING_TOKENS.contains(&text)
}

fn shorten(text: &str) -> String {
    const LIMIT: usize = 40;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

enum Values {
    /// No non-missing value seen yet and no declared type.
    Undecided,
    Numeric(Vec<f64>),
    Categorical(HashMap<String, u64>),
}

struct ColumnAccumulator {
    spec: ColumnSpec,
    missing: u64,
    values: Values,
}

impl ColumnAccumulator {
    fn new(spec: ColumnSpec, capacity_hint: usize) -> Self {
        let values = match spec.declared_type {
            Some(ColumnType::Numeric) => Values::Numeric(Vec::with_capacity(capacity_hint)),
            Some(ColumnType::Categorical) => Values::Categorical(HashMap::new()),
            None => Values::Undecided,
        };
        ColumnAccumulator { spec, missing: 0, values }
    }

    fn push_missing(&mut self, line: u64) -> Result<(), ProfileError> {
        if !self.spec.nullable {
            return Err(ProfileError::MissingNotAllowed { line, column: self.spec.name.clone() });
        }
        self.missing += 1;
        Ok(())
    }

    fn push_text(&mut self, text: &str, line: u64) -> Result<(), ProfileError> {
        let text = text.trim();
        if is_missing_token(text) {
            return self.push_missing(line);
        }
        if let Values::Undecided = self.values {
            // The first non-missing value decides an undeclared column's type; a later value of the other
            // kind is then an error naming its line, not a silent switch to categorical.
            self.values = if text.parse::<f64>().is_ok() {
                Values::Numeric(Vec::new())
            } else {
                Values::Categorical(HashMap::new())
            };
        }
        match &mut self.values {
            Values::Numeric(_) => {
                let value = text.parse::<f64>().map_err(|_| ProfileError::NotANumber {
                    line,
                    column: self.spec.name.clone(),
                    found: shorten(text),
                })?;
                self.push_parsed_number(value, text, line)
            }
            Values::Categorical(counts) => {
                if let Some(allowed) = &self.spec.allowed_categories
                    && !allowed.iter().any(|a| a == text)
                {
                    return Err(ProfileError::UnknownCategory {
                        line,
                        column: self.spec.name.clone(),
                        found: shorten(text),
                    });
                }
                match counts.get_mut(text) {
                    Some(count) => *count += 1,
                    None => {
                        counts.insert(text.to_owned(), 1);
                    }
                }
                Ok(())
            }
            Values::Undecided => unreachable!("decided above"),
        }
    }

    fn push_category(&mut self, text: &str, line: u64) -> Result<(), ProfileError> {
        if let Values::Undecided = self.values
            && !is_missing_token(text.trim())
        {
            self.values = Values::Categorical(HashMap::new());
        }
        self.push_text(text, line)
    }

    fn push_number(&mut self, value: f64, line: u64) -> Result<(), ProfileError> {
        if value.is_nan() {
            return self.push_missing(line);
        }
        match &mut self.values {
            Values::Categorical(_) => {
                // A numeric cell in a categorical column is its decimal text (as pandas' astype(str)).
                let text =
                    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{value:.0}") } else { value.to_string() };
                self.push_text(&text, line)
            }
            Values::Undecided => {
                self.values = Values::Numeric(Vec::new());
                self.push_parsed_number(value, "", line)
            }
            Values::Numeric(_) => self.push_parsed_number(value, "", line),
        }
    }

    fn push_parsed_number(&mut self, value: f64, text: &str, line: u64) -> Result<(), ProfileError> {
        if value.is_nan() {
            return self.push_missing(line);
        }
        if !value.is_finite() {
            let found = if text.is_empty() { value.to_string() } else { shorten(text) };
            return Err(ProfileError::NotFinite { line, column: self.spec.name.clone(), found });
        }
        if let Values::Numeric(values) = &mut self.values {
            values.push(value);
        }
        Ok(())
    }

    fn finish(self) -> ColumnProfile {
        let summary = match self.values {
            Values::Numeric(values) => ColumnSummary::Numeric(summarise_numeric(values, self.missing)),
            Values::Undecided if self.spec.declared_type != Some(ColumnType::Categorical) => {
                ColumnSummary::Numeric(summarise_numeric(Vec::new(), self.missing))
            }
            Values::Undecided => ColumnSummary::Categorical(CategoricalSummary {
                count: 0,
                missing: self.missing,
                frequencies: BTreeMap::new(),
            }),
            Values::Categorical(counts) => ColumnSummary::Categorical(CategoricalSummary {
                count: counts.values().sum(),
                missing: self.missing,
                frequencies: counts.into_iter().collect(),
            }),
        };
        ColumnProfile { name: self.spec.name, role: self.spec.role, summary }
    }
}

/// Summarises the non-missing values of a numeric column (consumes and sorts them).
pub fn summarise_numeric(mut values: Vec<f64>, missing: u64) -> NumericSummary {
    crate::sort::sort_floats(&mut values);
    let n = values.len();
    let (mean, std) = if n == 0 {
        (None, None)
    } else {
        let (mean, std) = mean_and_std(&values);
        (Some(mean), Some(std))
    };
    let decile_edges = decile_edges_sorted(&values);
    let bin_counts = bin_counts_sorted(&values, &decile_edges);
    NumericSummary {
        count: n as u64,
        missing,
        min: values.first().copied(),
        max: values.last().copied(),
        mean,
        std,
        decile_edges,
        bin_counts,
    }
}

/// Mean and population standard deviation (ddof = 0, as `np.std`) of a non-empty sample, in two passes.
pub fn mean_and_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = compensated_sum(values.iter().copied()) / n;
    (mean, (compensated_sum(values.iter().map(|v| (v - mean) * (v - mean))) / n).sqrt())
}

/// Population standard deviation (ddof = 0, as `np.std`) of a non-empty sample.
pub fn population_std(values: &[f64]) -> f64 {
    mean_and_std(values).1
}

/// Kahan–Babuška (Neumaier) summation: stable means over millions of rows.
fn compensated_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for v in values {
        let t = sum + v;
        compensation += if sum.abs() >= v.abs() { (sum - t) + v } else { (v - t) + sum };
        sum = t;
    }
    sum + compensation
}

/// Builds a [`DatasetProfile`] from cells pushed row by row.
///
/// ```
/// use warden_stats::profile::{ColumnRole, ColumnSpec, ProfileBuilder};
/// let mut builder = ProfileBuilder::new(vec![
///     ColumnSpec::inferred("income", ColumnRole::Feature),
///     ColumnSpec::inferred("default", ColumnRole::Target),
/// ]);
/// builder.push_text(0, "1200.5", 2).unwrap();
/// builder.push_text(1, "0", 2).unwrap();
/// builder.end_row();
/// let profile = builder.finish();
/// assert_eq!(profile.rows, 1);
/// assert_eq!(profile.columns[0].summary.column_type(), warden_stats::profile::ColumnType::Numeric);
/// ```
pub struct ProfileBuilder {
    columns: Vec<ColumnAccumulator>,
    rows: u64,
}

impl ProfileBuilder {
    /// A builder for the given columns (indices in `push_*` refer to this order).
    pub fn new(specs: Vec<ColumnSpec>) -> Self {
        Self::with_capacity(specs, 0)
    }

    /// Like [`ProfileBuilder::new`], reserving room for `rows` numeric values per column.
    pub fn with_capacity(specs: Vec<ColumnSpec>, rows: usize) -> Self {
        let columns = specs.into_iter().map(|spec| ColumnAccumulator::new(spec, rows)).collect();
        ProfileBuilder { columns, rows: 0 }
    }

    /// The column specs, in order.
    pub fn specs(&self) -> impl Iterator<Item = &ColumnSpec> {
        self.columns.iter().map(|c| &c.spec)
    }

    /// Adds a cell given as text (CSV). `line` is used in error messages only.
    pub fn push_text(&mut self, column: usize, text: &str, line: u64) -> Result<(), ProfileError> {
        self.columns[column].push_text(text, line)
    }

    /// Adds a cell stored as a string in a typed file (Parquet): an undeclared column becomes categorical
    /// even if its strings look like numbers (pandas categoricals often hold codes such as `"1"`).
    pub fn push_category(&mut self, column: usize, text: &str, line: u64) -> Result<(), ProfileError> {
        self.columns[column].push_category(text, line)
    }

    /// Adds a cell that is already a number (columnar files); NaN is missing.
    pub fn push_number(&mut self, column: usize, value: f64, line: u64) -> Result<(), ProfileError> {
        self.columns[column].push_number(value, line)
    }

    /// Adds a missing cell.
    pub fn push_missing(&mut self, column: usize, line: u64) -> Result<(), ProfileError> {
        self.columns[column].push_missing(line)
    }

    /// Marks the end of a row.
    pub fn end_row(&mut self) {
        self.rows += 1;
    }

    /// Adds `count` rows at once (columnar readers push whole columns, then the row count).
    pub fn end_rows(&mut self, count: u64) {
        self.rows += count;
    }

    /// Computes every column's summary, several columns at a time.
    pub fn finish(self) -> DatasetProfile {
        let rows = self.rows;
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(self.columns.len().max(1));
        let mut slots: Vec<Option<ColumnAccumulator>> = self.columns.into_iter().map(Some).collect();
        let total = slots.len();
        let mut results: Vec<Option<ColumnProfile>> = (0..total).map(|_| None).collect();
        // Sorting a million values per column dominates; spread columns over the cores.
        std::thread::scope(|scope| {
            let mut chunks_in = Vec::new();
            let per_worker = total.div_ceil(workers.max(1)).max(1);
            for (slot_chunk, result_chunk) in slots.chunks_mut(per_worker).zip(results.chunks_mut(per_worker)) {
                chunks_in.push(scope.spawn(move || {
                    for (slot, result) in slot_chunk.iter_mut().zip(result_chunk.iter_mut()) {
                        *result = slot.take().map(ColumnAccumulator::finish);
                    }
                }));
            }
            for handle in chunks_in {
                handle.join().expect("column summary worker panicked");
            }
        });
        DatasetProfile { rows, columns: results.into_iter().flatten().collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(specs: Vec<ColumnSpec>, rows: &[&[&str]]) -> Result<DatasetProfile, ProfileError> {
        let mut builder = ProfileBuilder::new(specs);
        for (i, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                builder.push_text(c, cell, i as u64 + 2)?;
            }
            builder.end_row();
        }
        Ok(builder.finish())
    }

    #[test]
    fn infers_types_and_counts_missing() {
        let profile = build(
            vec![ColumnSpec::inferred("x", ColumnRole::Feature), ColumnSpec::inferred("c", ColumnRole::Protected)],
            &[&["1", "a"], &["", "b"], &["3", "a"], &["NA", ""]],
        )
        .unwrap();
        assert_eq!(profile.rows, 4);
        let ColumnSummary::Numeric(x) = &profile.columns[0].summary else { panic!("x numeric") };
        assert_eq!((x.count, x.missing, x.min, x.max, x.mean), (2, 2, Some(1.0), Some(3.0), Some(2.0)));
        assert_eq!(x.std, Some(1.0));
        let ColumnSummary::Categorical(c) = &profile.columns[1].summary else { panic!("c categorical") };
        assert_eq!(c.frequencies.get("a"), Some(&2));
        assert_eq!((c.count, c.missing), (3, 1));
        assert_eq!(profile.columns[1].role, ColumnRole::Protected);
    }

    #[test]
    fn text_in_numeric_column_names_line_and_column() {
        let err =
            build(vec![ColumnSpec::inferred("age", ColumnRole::Feature)], &[&["30"], &["41"], &["old"]]).unwrap_err();
        assert_eq!(err.to_string(), "line 4, column 'age': expected a number, found 'old'");
    }

    #[test]
    fn infinity_is_rejected() {
        let err = build(vec![ColumnSpec::inferred("x", ColumnRole::Feature)], &[&["1"], &["inf"]]).unwrap_err();
        assert!(matches!(err, ProfileError::NotFinite { line: 3, .. }), "{err}");
        let err = build(vec![ColumnSpec::inferred("x", ColumnRole::Feature)], &[&["1e999"]]).unwrap_err();
        assert!(matches!(err, ProfileError::NotFinite { .. }), "{err}");
    }

    #[test]
    fn declared_schema_is_enforced() {
        let spec = ColumnSpec {
            name: "housing".into(),
            role: ColumnRole::Feature,
            declared_type: Some(ColumnType::Categorical),
            allowed_categories: Some(vec!["own".into(), "rent".into()]),
            nullable: false,
        };
        let err = build(vec![spec.clone()], &[&["own"], &["castle"]]).unwrap_err();
        assert!(matches!(err, ProfileError::UnknownCategory { line: 3, .. }), "{err}");
        let err = build(vec![spec], &[&["own"], &[""]]).unwrap_err();
        assert!(matches!(err, ProfileError::MissingNotAllowed { line: 3, .. }), "{err}");
        // A declared categorical column keeps numeric-looking codes as text.
        let job = ColumnSpec {
            declared_type: Some(ColumnType::Categorical),
            ..ColumnSpec::inferred("job", ColumnRole::Feature)
        };
        let profile = build(vec![job], &[&["0"], &["2"], &["2"]]).unwrap();
        assert_eq!(profile.columns[0].summary.column_type(), ColumnType::Categorical);
        // Strings from a typed source are categories even when they look like numbers.
        let mut builder = ProfileBuilder::new(vec![ColumnSpec::inferred("sex", ColumnRole::Protected)]);
        builder.push_category(0, "1", 1).unwrap();
        builder.push_category(0, "2", 2).unwrap();
        let ColumnSummary::Categorical(sex) = &builder.finish().columns[0].summary else { panic!("categorical") };
        assert_eq!(sex.frequencies.len(), 2);
    }

    #[test]
    fn mean_is_stable_for_large_offsets() {
        let values: Vec<f64> = (0..100_000).map(|i| 1e9 + (i % 2) as f64 * 0.1).collect();
        let summary = summarise_numeric(values, 0);
        assert!((summary.mean.unwrap() - (1e9 + 0.05)).abs() < 1e-6);
        assert!((summary.std.unwrap() - 0.05).abs() < 1e-6);
    }

    /// Every numeric golden case: the profile's edges and bin counts equal numpy's exactly.
    #[test]
    fn decile_edges_and_counts_match_numpy_golden_cases() {
        let text = warden_testdata::read_to_string("stats/golden/drift_cases.json");
        let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut checked = 0;
        for case in golden["cases"].as_array().unwrap() {
            if case["kind"] != "numeric" {
                continue;
            }
            let name = case["name"].as_str().unwrap();
            let expected = &case["expected"];
            let mut builder = ProfileBuilder::new(vec![ColumnSpec::inferred("x", ColumnRole::Feature)]);
            for (i, v) in case["ref"].as_array().unwrap().iter().enumerate() {
                match v.as_f64() {
                    Some(v) => builder.push_number(0, v, i as u64 + 1).unwrap(),
                    None => builder.push_missing(0, i as u64 + 1).unwrap(),
                }
                builder.end_row();
            }
            let profile = builder.finish();
            let ColumnSummary::Numeric(summary) = &profile.columns[0].summary else { panic!("{name}") };
            let edges: Vec<f64> = expected["edges"].as_array().unwrap().iter().map(|e| e.as_f64().unwrap()).collect();
            assert_eq!(summary.decile_edges, edges, "{name}: edges");
            let mut counts: Vec<u64> =
                expected["ref_counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
            if expected["has_missing_bin"] == true {
                assert_eq!(counts.pop(), Some(summary.missing), "{name}: missing bin");
            }
            assert_eq!(summary.bin_counts, counts, "{name}: bin counts");
            assert_eq!(summary.missing, expected["n_ref_missing"].as_u64().unwrap(), "{name}");
            if let Some(std) = expected["ref_std"].as_f64() {
                let got = summary.std.unwrap();
                assert!((got - std).abs() <= 1e-9 * std.abs().max(1e-3), "{name}: std {got} vs {std}");
            }
            checked += 1;
        }
        assert_eq!(checked, 29, "all numeric golden cases checked");
    }
}
