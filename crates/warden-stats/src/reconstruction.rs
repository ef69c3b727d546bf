//! Multivariate drift as NannyML's `DataReconstructionDriftCalculator` (0.13.1) measures it: what a
//! reference-fitted PCA cannot reconstruct of a row grows when the relations between features change, even
//! when every feature's own distribution stays the same.
//!
//! Fitting follows NannyML's defaults step by step: numeric columns impute a missing value with the reference
//! mean, categorical ones with the most frequent category (the smallest on a tie, as scikit-learn's
//! `SimpleImputer`); a category becomes its share of the reference (`CountEncoder(normalize=True)`; an unseen
//! one 0); every column is standardised (`StandardScaler`: population σ, 1 when σ is 0); and PCA keeps the
//! fewest leading components whose explained variance passes the share asked for (0.65 by default). A row's
//! error is the Euclidean distance between its standardised values and their reconstruction from the
//! components; a chunk's value is the mean error, its sampling error the errors' σ (n − 1) over √n, and the
//! bands the reference chunks' mean ± 3σ (population σ), a lower band at or below 0 dropped.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// NannyML's default share of variance the components keep.
pub const DEFAULT_VARIANCE_SHARE: f64 = 0.65;
/// Most columns one model is fitted on: fitting costs rows × columns², the eigen decomposition columns³.
pub const MAX_COLUMNS: usize = 256;

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReconstructionError {
    /// Fewer than two columns, or more than [`MAX_COLUMNS`].
    #[error("reconstruction drift needs 2 to {MAX_COLUMNS} columns (got {0})")]
    Columns(usize),
    /// Fewer than two reference rows.
    #[error("reconstruction drift needs at least 2 reference rows (got {0})")]
    Rows(usize),
    /// Columns of different lengths.
    #[error("column '{0}' has {1} rows where the first has {2}")]
    Ragged(String, usize, usize),
    /// A column without a single value to impute from.
    #[error("column '{0}' has no value in the reference to impute missing ones with")]
    Empty(String),
    /// The variance share is outside (0, 1).
    #[error("the variance share kept is between 0 and 1, exclusive (got {0})")]
    Share(f64),
}

/// One column's values: numbers (`NaN` is missing) or categories (`None` is missing).
#[derive(Debug, Clone, Copy)]
pub enum ColumnValues<'a> {
    /// A numeric column.
    Numeric(&'a [f64]),
    /// A categorical column.
    Categorical(&'a [Option<&'a str>]),
}

impl ColumnValues<'_> {
    fn len(&self) -> usize {
        match self {
            ColumnValues::Numeric(v) => v.len(),
            ColumnValues::Categorical(v) => v.len(),
        }
    }
}

/// One cell of a row being scored (a number that is not finite counts as missing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// A number (`NaN` is missing); read as a category in a categorical column.
    Number(f64),
    /// A category; read as missing in a numeric column.
    Text(&'a str),
    /// No value.
    Missing,
}

/// How one column becomes a number before standardising.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Encoding {
    /// Missing values become the reference mean.
    Numeric { mean: f64 },
    /// A category becomes its reference share (unseen: 0); missing values become the most frequent one's.
    Categorical { shares: HashMap<String, f64>, most_frequent_share: f64 },
}

/// A PCA reconstruction fitted on reference data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconstructionModel {
    names: Vec<String>,
    encodings: Vec<Encoding>,
    /// The scaler's means and scales, per column.
    means: Vec<f64>,
    scales: Vec<f64>,
    /// PCA's mean of the standardised reference (≈ 0), and its kept components, row-major (`kept` × columns).
    pca_mean: Vec<f64>,
    components: Vec<f64>,
    /// Components kept, and each component's share of the variance (every component, descending).
    pub kept: usize,
    /// Explained variance ratio of every component, largest first.
    pub explained_variance_ratio: Vec<f64>,
}

/// Mean, σ and count of reconstruction errors, mergeable (Chan's parallel update), so that live buckets and
/// replicas combine exactly as one pass would.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorWindow {
    /// Rows.
    pub count: u64,
    /// Mean error.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl ErrorWindow {
    /// Adds one row's error; an error that is not finite (a value so extreme its square overflows) is left
    /// out, as it would make every later figure NaN.
    pub fn add(&mut self, error: f64) {
        if !error.is_finite() {
            return;
        }
        self.count += 1;
        let delta = error - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (error - self.mean);
    }

    /// Merges another window in.
    pub fn merge(&mut self, other: &ErrorWindow) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let (n, m) = (self.count as f64, other.count as f64);
        let delta = other.mean - self.mean;
        let total = n + m;
        self.mean += delta * m / total;
        self.m2 += other.m2 + delta * delta * n * m / total;
        self.count += other.count;
    }

    /// The chunk's figures; `None` without rows.
    pub fn chunk(&self) -> Option<ChunkFigures> {
        if self.count == 0 {
            return None;
        }
        let n = self.count as f64;
        let std = if self.count > 1 { (self.m2 / (n - 1.0)).max(0.0).sqrt() } else { f64::NAN };
        let sampling_error = std / n.sqrt();
        Some(ChunkFigures {
            rows: self.count,
            value: self.mean,
            sampling_error,
            upper_confidence_boundary: self.mean + 3.0 * sampling_error,
            // NaN for a single row, as NannyML's `np.maximum` keeps it (`f64::max` would give 0).
            lower_confidence_boundary: if sampling_error.is_nan() {
                f64::NAN
            } else {
                (self.mean - 3.0 * sampling_error).max(0.0)
            },
        })
    }
}

/// One chunk's reconstruction error and its uncertainty (NaN σ figures for a single row).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChunkFigures {
    /// Rows in the chunk.
    pub rows: u64,
    /// Mean reconstruction error.
    pub value: f64,
    /// σ of the errors (n − 1) over √n.
    pub sampling_error: f64,
    /// Value + 3 sampling errors.
    pub upper_confidence_boundary: f64,
    /// Value − 3 sampling errors, at least 0.
    pub lower_confidence_boundary: f64,
}

/// Bands from reference chunk values: mean ± `k` population σ, a lower band at or below 0 dropped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bands {
    /// Below this is an alert (`None`: no lower band).
    pub lower: Option<f64>,
    /// Above this is an alert.
    pub upper: f64,
}

impl Bands {
    /// NannyML's `StandardDeviationThreshold` over the reference chunks' values; `None` without a value.
    pub fn from_reference(values: &[f64], k: f64) -> Option<Bands> {
        let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        if finite.is_empty() {
            return None;
        }
        let mean = finite.iter().sum::<f64>() / finite.len() as f64;
        let std = crate::profile::population_std(&finite);
        let lower = mean - k * std;
        Some(Bands { lower: (lower > 0.0).then_some(lower), upper: mean + k * std })
    }

    /// Whether a value lies outside the bands (on a band is outside, as NannyML's strict inequalities say).
    pub fn alert(&self, value: f64) -> bool {
        !(self.lower.unwrap_or(f64::NEG_INFINITY) < value && value < self.upper)
    }
}

impl ReconstructionModel {
    /// Fits the encoding, scaler and PCA on the reference columns, keeping components up to `variance_share`.
    pub fn fit(
        columns: &[(&str, ColumnValues)],
        variance_share: f64,
    ) -> Result<ReconstructionModel, ReconstructionError> {
        let d = columns.len();
        if !(2..=MAX_COLUMNS).contains(&d) {
            return Err(ReconstructionError::Columns(d));
        }
        if !(variance_share > 0.0 && variance_share < 1.0) {
            return Err(ReconstructionError::Share(variance_share));
        }
        let n = columns[0].1.len();
        if let Some((name, values)) = columns.iter().find(|(_, v)| v.len() != n) {
            return Err(ReconstructionError::Ragged((*name).to_owned(), values.len(), n));
        }
        if n < 2 {
            return Err(ReconstructionError::Rows(n));
        }
        let mut encodings = Vec::with_capacity(d);
        for (name, values) in columns {
            encodings.push(fit_encoding(name, values, n)?);
        }
        let mut model = ReconstructionModel {
            names: columns.iter().map(|(name, _)| (*name).to_owned()).collect(),
            encodings,
            means: vec![0.0; d],
            scales: vec![1.0; d],
            pca_mean: vec![0.0; d],
            components: Vec::new(),
            kept: 0,
            explained_variance_ratio: Vec::new(),
        };
        // The encoded reference, column by column (scaler statistics are per column).
        let encoded: Vec<Vec<f64>> = columns
            .iter()
            .zip(&model.encodings)
            .map(|((_, values), encoding)| (0..n).map(|i| encode(encoding, cell_of(values, i))).collect())
            .collect();
        let count = n as f64;
        let standardised: Vec<Vec<f64>> = encoded
            .into_iter()
            .enumerate()
            .map(|(j, column)| {
                let mean = column.iter().sum::<f64>() / count;
                let variance = column.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
                // scikit-learn's `_is_constant_feature`: a variance within rounding of zero scales by 1.
                let bound = count * f64::EPSILON * variance + (count * mean * f64::EPSILON).powi(2);
                let scale = if variance > bound { variance.sqrt() } else { 1.0 };
                model.means[j] = mean;
                model.scales[j] = scale;
                column.into_iter().map(|v| (v - mean) / scale).collect()
            })
            .collect();
        for (j, column) in standardised.iter().enumerate() {
            model.pca_mean[j] = column.iter().sum::<f64>() / count;
        }
        // Covariance of the standardised reference (n − 1, as PCA's explained variance).
        let mut covariance = nalgebra::DMatrix::<f64>::zeros(d, d);
        for a in 0..d {
            for b in a..d {
                let (ma, mb) = (model.pca_mean[a], model.pca_mean[b]);
                let sum: f64 = standardised[a].iter().zip(&standardised[b]).map(|(x, y)| (x - ma) * (y - mb)).sum();
                covariance[(a, b)] = sum / (count - 1.0);
                covariance[(b, a)] = covariance[(a, b)];
            }
        }
        let eigen = nalgebra::SymmetricEigen::new(covariance);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let variances: Vec<f64> = order.iter().map(|&i| eigen.eigenvalues[i].max(0.0)).collect();
        let total: f64 = variances.iter().sum();
        model.explained_variance_ratio = variances.iter().map(|v| if total > 0.0 { v / total } else { 0.0 }).collect();
        // scikit-learn: the first component whose cumulative share is above the share asked for, counted.
        let mut cumulative = 0.0;
        let mut kept = d;
        for (i, ratio) in model.explained_variance_ratio.iter().enumerate() {
            cumulative += ratio;
            if cumulative > variance_share {
                kept = i + 1;
                break;
            }
        }
        model.kept = kept;
        model.components = order[..kept]
            .iter()
            .flat_map(|&i| eigen.eigenvectors.column(i).iter().copied().collect::<Vec<_>>())
            .collect();
        Ok(model)
    }

    /// The columns, in the order rows are read.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// One row's reconstruction error; `cell(j)` reads column `j`. `scratch` is reused between rows.
    pub fn row_error<'a>(&self, scratch: &mut Vec<f64>, mut cell: impl FnMut(usize) -> Cell<'a>) -> f64 {
        let d = self.names.len();
        scratch.clear();
        for j in 0..d {
            let value = encode(&self.encodings[j], cell(j));
            scratch.push((value - self.means[j]) / self.scales[j] - self.pca_mean[j]);
        }
        // The row, then its residual, side by side in the scratch.
        scratch.extend_from_within(..);
        let (row, residual) = scratch.split_at_mut(d);
        for component in self.components.chunks_exact(d) {
            let projection: f64 = component.iter().zip(row.iter()).map(|(c, z)| c * z).sum();
            for (r, c) in residual.iter_mut().zip(component) {
                *r -= projection * c;
            }
        }
        residual.iter().map(|r| r * r).sum::<f64>().sqrt()
    }

    /// The errors of every row of some columns given in the model's order.
    pub fn errors(&self, columns: &[ColumnValues]) -> Vec<f64> {
        let n = columns.first().map_or(0, ColumnValues::len);
        let mut scratch = Vec::with_capacity(self.names.len());
        (0..n).map(|i| self.row_error(&mut scratch, |j| cell_of(&columns[j], i))).collect()
    }
}

fn cell_of<'a>(values: &ColumnValues<'a>, i: usize) -> Cell<'a> {
    match values {
        ColumnValues::Numeric(v) => Cell::Number(v[i]),
        ColumnValues::Categorical(v) => v[i].map_or(Cell::Missing, Cell::Text),
    }
}

fn encode(encoding: &Encoding, cell: Cell) -> f64 {
    match encoding {
        // An infinity is missing too (scikit-learn refuses one outright).
        Encoding::Numeric { mean } => match cell {
            Cell::Number(x) if x.is_finite() => x,
            _ => *mean,
        },
        Encoding::Categorical { shares, most_frequent_share } => {
            let share = |s: &str| shares.get(s).copied().unwrap_or(0.0);
            match cell {
                Cell::Text(s) => share(s),
                Cell::Number(x) if !x.is_nan() => share(&x.to_string()),
                _ => *most_frequent_share,
            }
        }
    }
}

fn fit_encoding(name: &str, values: &ColumnValues, n: usize) -> Result<Encoding, ReconstructionError> {
    match values {
        ColumnValues::Numeric(v) => {
            let present: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            if present.is_empty() {
                return Err(ReconstructionError::Empty(name.to_owned()));
            }
            Ok(Encoding::Numeric { mean: present.iter().sum::<f64>() / present.len() as f64 })
        }
        ColumnValues::Categorical(v) => {
            let mut counts: HashMap<&str, u64> = HashMap::new();
            let mut missing = 0u64;
            for value in v.iter() {
                match value {
                    Some(s) => *counts.entry(s).or_default() += 1,
                    None => missing += 1,
                }
            }
            // The most frequent category, the smallest of a tie.
            let (&mode, _) = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .ok_or_else(|| ReconstructionError::Empty(name.to_owned()))?;
            *counts.get_mut(mode).expect("the mode is counted") += missing;
            let shares: HashMap<String, f64> =
                counts.iter().map(|(k, &c)| ((*k).to_owned(), c as f64 / n as f64)).collect();
            let most_frequent_share = shares[mode];
            Ok(Encoding::Categorical { shares, most_frequent_share })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_windows_merge_as_one_pass() {
        let values: Vec<f64> = (0..100).map(|i| (i as f64 * 0.37).sin() + 1.5).collect();
        let mut whole = ErrorWindow::default();
        values.iter().for_each(|&v| whole.add(v));
        let (mut a, mut b) = (ErrorWindow::default(), ErrorWindow::default());
        values[..37].iter().for_each(|&v| a.add(v));
        values[37..].iter().for_each(|&v| b.add(v));
        a.merge(&b);
        assert_eq!(a.count, whole.count);
        assert!((a.mean - whole.mean).abs() < 1e-12 && (a.m2 - whole.m2).abs() < 1e-9, "{a:?} {whole:?}");
    }

    #[test]
    fn an_overflowing_row_is_left_out_and_a_single_row_has_no_bounds() {
        let x: Vec<f64> = (0..50).map(f64::from).collect();
        let y: Vec<f64> = (0..50).map(|i| f64::from(i * i % 17)).collect();
        let model =
            ReconstructionModel::fit(&[("x", ColumnValues::Numeric(&x)), ("y", ColumnValues::Numeric(&y))], 0.65)
                .unwrap();
        let mut scratch = Vec::new();
        let huge = model.row_error(&mut scratch, |j| Cell::Number(if j == 0 { 1e200 } else { 1.0 }));
        assert!(!huge.is_finite());
        let mut window = ErrorWindow::default();
        window.add(huge);
        window.add(1.5);
        assert_eq!(window.count, 1, "the overflowing row is left out");
        let figures = window.chunk().unwrap();
        assert_eq!(figures.value, 1.5);
        assert!(figures.sampling_error.is_nan() && figures.lower_confidence_boundary.is_nan(), "{figures:?}");
    }

    #[test]
    fn a_constant_column_within_rounding_scales_by_one_as_scikit_learn_does() {
        // 0.3 summed and divided gives a variance of rounding size, not 0.
        let constant = vec![0.3; 1000];
        let x: Vec<f64> = (0..1000).map(|i| f64::from(i % 7)).collect();
        let model = ReconstructionModel::fit(
            &[("c", ColumnValues::Numeric(&constant)), ("x", ColumnValues::Numeric(&x))],
            0.65,
        )
        .unwrap();
        assert_eq!(model.scales[0], 1.0);
        let mut scratch = Vec::new();
        let error = model.row_error(&mut scratch, |j| Cell::Number(if j == 0 { 0.4 } else { 3.0 }));
        assert!(error < 10.0, "an off-constant value is a small error, not a 1e16 one: {error}");
    }

    #[test]
    fn bad_inputs_are_refused_with_the_place() {
        let x = [1.0, 2.0, 3.0];
        let short = [1.0, 2.0];
        let empty = [f64::NAN; 3];
        let fit = |columns: &[(&str, ColumnValues)]| ReconstructionModel::fit(columns, 0.65).unwrap_err().to_string();
        assert!(fit(&[("a", ColumnValues::Numeric(&x))]).contains("2 to 256 columns"));
        assert!(fit(&[("a", ColumnValues::Numeric(&x)), ("b", ColumnValues::Numeric(&short))]).contains("'b'"));
        assert!(
            fit(&[("a", ColumnValues::Numeric(&x)), ("b", ColumnValues::Numeric(&empty))]).contains("'b' has no value")
        );
        let share =
            ReconstructionModel::fit(&[("a", ColumnValues::Numeric(&x)), ("b", ColumnValues::Numeric(&x))], 1.0);
        assert!(share.unwrap_err().to_string().contains("variance share"));
    }
}
