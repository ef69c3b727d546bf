//! Local, stateless reports on data files: drift between a reference file and a current file, read column by
//! column so that large Parquet files stay within bounded memory.
//!
//! A feature's type comes from the reference: `--categorical` columns and text columns are categorical,
//! the rest numeric. Reading is lenient on the current side: a missing value, an infinity or a cell of the
//! wrong type is counted in the data-quality section instead of failing the report.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use serde_json::json;
use warden_stats::profile::is_missing_token;
use warden_stats::report::{DriftBands, FeatureReport, FeatureValues, feature_report};

use crate::dataset::{DataFormat, csv_error, for_each_number, number_at};
use crate::{Error, Result};

/// Which columns to compare and how.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriftOptions {
    /// Columns to treat as categorical even if they hold numbers.
    pub categorical: Vec<String>,
    /// Columns to leave out.
    pub exclude: Vec<String>,
    /// Verdict bands.
    pub bands: DriftBands,
}

/// The kind a feature is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Numeric,
    Categorical,
}

/// A drift report over every shared feature.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftReport {
    pub reference_rows: u64,
    pub current_rows: u64,
    /// One report per feature, in reference column order.
    pub features: Vec<FeatureReport>,
    /// Current columns absent from the reference (ignored).
    pub extra_current_columns: Vec<String>,
}

pub(crate) fn header(path: &Path, format: DataFormat) -> Result<Vec<String>> {
    let open = || File::open(path).map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())));
    match format {
        DataFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new().from_reader(BufReader::new(open()?));
            let header = reader.headers().map_err(|e| in_file(path, csv_error(e)))?;
            Ok(header.iter().map(|h| h.trim().to_owned()).collect())
        }
        // Every read of a file starts here, so its page headers are checked once.
        DataFormat::Parquet => crate::dataset::checked_parquet_read(path, || {
            let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open()?)
                .map_err(|e| Error::invalid(format!("{}: malformed Parquet file: {e}", path.display())))?;
            Ok(builder.schema().fields().iter().map(|f| f.name().clone()).collect())
        }),
    }
}

/// Prefixes an error's message with the file it is about (two files are read, so say which).
fn in_file(path: &Path, err: Error) -> Error {
    match err {
        Error::Invalid { message, details } => {
            Error::Invalid { message: format!("{}: {message}", path.display()), details }
        }
        other => other,
    }
}

/// Compares every reference feature with the same column of the current file.
pub fn drift_report(reference: &Path, current: &Path, options: &DriftOptions) -> Result<DriftReport> {
    let (rf, cf) = (DataFormat::detect(reference)?, DataFormat::detect(current)?);
    let (rh, ch) = (header(reference, rf)?, header(current, cf)?);
    for name in options.categorical.iter().chain(&options.exclude) {
        if !rh.contains(name) {
            return Err(Error::invalid(format!("reference data has no column '{name}'")));
        }
    }
    let features: Vec<String> = rh.iter().filter(|c| !options.exclude.contains(c)).cloned().collect();
    if let Some(missing) = features.iter().find(|f| !ch.contains(f)) {
        return Err(Error::invalid_with(
            format!("current data has no column '{missing}' (a reference feature)"),
            json!({ "column": missing }),
        ));
    }
    if features.is_empty() {
        return Err(Error::invalid("no feature columns to compare"));
    }
    let extra_current_columns =
        ch.iter().filter(|c| !rh.contains(c) && !options.exclude.contains(c)).cloned().collect();

    let reports: Vec<FeatureReport> = if rf == DataFormat::Parquet && cf == DataFormat::Parquet {
        // One column at a time from each file, several features in parallel: memory stays bounded by a few
        // columns whatever the row count.
        parallel_map(features, |name| {
            let forced = options.categorical.contains(&name);
            let r = read_parquet_column(reference, &name, forced, None)?;
            let kind = if matches!(r, FeatureValues::Numeric { .. }) { Kind::Numeric } else { Kind::Categorical };
            let c = read_parquet_column(current, &name, forced, Some(kind))?;
            Ok(feature_report(&name, r, c, options.bands))
        })?
    } else {
        // A CSV reference's kinds come from its first values: with them known, both files are read at once.
        let known = match rf {
            DataFormat::Csv => csv_kinds(reference, &features, options)?,
            DataFormat::Parquet => None,
        };
        let ((r, _), (c, _)) = match known {
            Some(kinds) => std::thread::scope(|scope| {
                let current_side = scope.spawn(|| read_file_columns(current, cf, &features, options, Some(&kinds)));
                let reference_side = read_file_columns(reference, rf, &features, options, Some(&kinds));
                let current_side =
                    current_side.join().map_err(|_| Error::failed("drift", "reading the current data stopped"))?;
                Ok::<_, Error>((reference_side?, current_side?))
            })?,
            None => {
                let (r, kinds) = read_file_columns(reference, rf, &features, options, None)?;
                let c = read_file_columns(current, cf, &features, options, Some(&kinds))?;
                ((r, kinds), c)
            }
        };
        let pairs: Vec<(String, FeatureValues, FeatureValues)> =
            features.into_iter().zip(r).zip(c).map(|((n, r), c)| (n, r, c)).collect();
        parallel_map(pairs, |(name, r, c)| Ok(feature_report(&name, r, c, options.bands)))?
    };
    let rows = |q: fn(&FeatureReport) -> u64| reports.first().map_or(0, q);
    Ok(DriftReport {
        reference_rows: rows(|f| f.reference_quality.rows),
        current_rows: rows(|f| f.current_quality.rows),
        features: reports,
        extra_current_columns,
    })
}

/// Runs `f` over the items on all cores, keeping order; the first error wins.
fn parallel_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> Result<R> + Sync) -> Result<Vec<R>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len()).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Each worker takes items by index; the slots hand each item over exactly once.
    let items: Vec<std::sync::Mutex<Option<T>>> = items.into_iter().map(|t| std::sync::Mutex::new(Some(t))).collect();
    let results: Vec<std::sync::Mutex<Option<Result<R>>>> = items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    let item = items[i].lock().expect("item lock").take().expect("each item taken once");
                    *results[i].lock().expect("result lock") = Some(f(item));
                }
            });
        }
    });
    results.into_iter().map(|r| r.into_inner().expect("result lock").expect("every item ran")).collect()
}

enum Accumulator {
    Numeric { values: Vec<f64>, non_finite: u64, type_violations: u64 },
    Categorical { counts: BTreeMap<String, u64>, missing: u64 },
    Undecided { missing: u64 },
}

impl Accumulator {
    fn push_text(&mut self, text: &str) {
        let text = text.trim();
        if let Accumulator::Undecided { missing } = self {
            if is_missing_token(text) {
                *missing += 1;
                return;
            }
            let missing = *missing;
            *self = if text.parse::<f64>().is_ok() {
                Accumulator::Numeric { values: vec![f64::NAN; missing as usize], non_finite: 0, type_violations: 0 }
            } else {
                Accumulator::Categorical { counts: BTreeMap::new(), missing }
            };
        }
        match self {
            Accumulator::Numeric { values, non_finite, type_violations } => {
                if is_missing_token(text) {
                    values.push(f64::NAN);
                } else {
                    match text.parse::<f64>() {
                        Ok(v) if v.is_finite() => values.push(v),
                        Ok(_) => *non_finite += 1,
                        Err(_) => *type_violations += 1,
                    }
                }
            }
            Accumulator::Categorical { counts, missing } => {
                if is_missing_token(text) {
                    *missing += 1;
                } else if let Some(c) = counts.get_mut(text) {
                    *c += 1;
                } else {
                    counts.insert(text.to_owned(), 1);
                }
            }
            Accumulator::Undecided { .. } => unreachable!("decided above"),
        }
    }

    /// Room for `more` values of a numeric column.
    fn reserve(&mut self, more: usize) {
        if let Accumulator::Numeric { values, .. } = self {
            values.reserve_exact(more);
        }
    }

    fn finish(self) -> FeatureValues {
        match self {
            Accumulator::Numeric { values, non_finite, type_violations } => {
                FeatureValues::Numeric { values, non_finite, type_violations }
            }
            Accumulator::Categorical { counts, missing } => FeatureValues::Categorical { counts, missing },
            Accumulator::Undecided { missing } => {
                FeatureValues::Numeric { values: vec![f64::NAN; missing as usize], non_finite: 0, type_violations: 0 }
            }
        }
    }
}

/// Rows of a CSV reference read to learn its columns' kinds before the files are read whole.
const KIND_SCAN_ROWS: usize = 10_000;

/// The kind of each feature of a CSV file, decided as reading it whole would (by the column's first value that
/// is not missing, unless forced categorical), from its first [`KIND_SCAN_ROWS`] rows; `None` when a column has
/// no value there.
fn csv_kinds(path: &Path, features: &[String], options: &DriftOptions) -> Result<Option<Vec<Kind>>> {
    let file = File::open(path).map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
    let mut reader = csv::ReaderBuilder::new().from_reader(BufReader::with_capacity(1 << 16, file));
    let header: Vec<String> =
        reader.headers().map_err(|e| in_file(path, csv_error(e)))?.iter().map(|h| h.trim().to_owned()).collect();
    let indices: Vec<usize> = features.iter().map(|f| header.iter().position(|h| h == f).expect("checked")).collect();
    let mut columns: Vec<Accumulator> = features
        .iter()
        .map(|name| match options.categorical.contains(name) {
            true => Accumulator::Categorical { counts: BTreeMap::new(), missing: 0 },
            false => Accumulator::Undecided { missing: 0 },
        })
        .collect();
    let mut record = csv::ByteRecord::new();
    for _ in 0..KIND_SCAN_ROWS {
        let undecided: Vec<usize> =
            (0..columns.len()).filter(|&i| matches!(columns[i], Accumulator::Undecided { .. })).collect();
        if undecided.is_empty() {
            break;
        }
        // A malformed file is named when it is read whole.
        if !reader.read_byte_record(&mut record).unwrap_or(false) {
            break;
        }
        for i in undecided {
            columns[i].push_text(&String::from_utf8_lossy(&record[indices[i]]));
        }
    }
    Ok(columns
        .iter()
        .map(|c| match c {
            Accumulator::Numeric { .. } => Some(Kind::Numeric),
            Accumulator::Categorical { .. } => Some(Kind::Categorical),
            Accumulator::Undecided { .. } => None,
        })
        .collect())
}

/// Rows read before a CSV's row count is estimated (for the columns' room).
const RESERVE_AFTER_ROWS: usize = 1_000;

/// Reads the named columns of a whole file (CSV, or Parquet when the other side is CSV).
fn read_file_columns(
    path: &Path,
    format: DataFormat,
    features: &[String],
    options: &DriftOptions,
    kinds: Option<&[Kind]>,
) -> Result<(Vec<FeatureValues>, Vec<Kind>)> {
    let values: Vec<FeatureValues> = match format {
        DataFormat::Parquet => features
            .iter()
            .enumerate()
            .map(|(i, name)| read_parquet_column(path, name, options.categorical.contains(name), kinds.map(|k| k[i])))
            .collect::<Result<_>>()?,
        DataFormat::Csv => {
            let file = File::open(path).map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
            let mut reader = csv::ReaderBuilder::new().from_reader(BufReader::with_capacity(1 << 20, file));
            let header: Vec<String> = reader
                .headers()
                .map_err(|e| in_file(path, csv_error(e)))?
                .iter()
                .map(|h| h.trim().to_owned())
                .collect();
            let indices: Vec<usize> =
                features.iter().map(|f| header.iter().position(|h| h == f).expect("checked")).collect();
            let mut columns: Vec<Accumulator> = features
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let kind = kinds.map(|k| k[i]).or(options.categorical.contains(name).then_some(Kind::Categorical));
                    match kind {
                        Some(Kind::Numeric) => {
                            Accumulator::Numeric { values: Vec::new(), non_finite: 0, type_violations: 0 }
                        }
                        Some(Kind::Categorical) => Accumulator::Categorical { counts: BTreeMap::new(), missing: 0 },
                        None => Accumulator::Undecided { missing: 0 },
                    }
                })
                .collect();
            let mut record = csv::ByteRecord::new();
            let file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let mut rows = 0usize;
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => return Err(in_file(path, csv_error(e))),
                }
                for (column, &index) in columns.iter_mut().zip(&indices) {
                    match std::str::from_utf8(&record[index]) {
                        Ok(text) => column.push_text(text),
                        Err(_) => column.push_text(&String::from_utf8_lossy(&record[index])),
                    }
                }
                rows += 1;
                // The rows the file holds, from the bytes its first rows took: numeric columns grow once
                // instead of doubling (each doubling copies the column into fresh pages).
                if rows == RESERVE_AFTER_ROWS {
                    let per_row = (reader.position().byte() / rows as u64).max(1);
                    let expected = (file_bytes / per_row) as usize + rows / 10;
                    for column in &mut columns {
                        column.reserve(expected.saturating_sub(rows));
                    }
                }
            }
            columns.into_iter().map(Accumulator::finish).collect()
        }
    };
    let kinds = values
        .iter()
        .map(|v| if matches!(v, FeatureValues::Numeric { .. }) { Kind::Numeric } else { Kind::Categorical })
        .collect();
    Ok((values, kinds))
}

/// Reads one Parquet column. Unless told the kind, numeric Arrow types read as numbers (or as categories when
/// `categorical`), strings, booleans and dictionaries as categories.
fn read_parquet_column(path: &Path, name: &str, categorical: bool, kind: Option<Kind>) -> Result<FeatureValues> {
    crate::dataset::parquet_guard(path, || read_parquet_column_unguarded(path, name, categorical, kind))
}

/// One column of a Parquet file, read alone.
struct ParquetColumn<'a> {
    path: &'a Path,
    /// Rows, from the file's metadata.
    rows: usize,
    /// Whether the column is stored as numbers.
    stored_numeric: bool,
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
}

impl<'a> ParquetColumn<'a> {
    fn open(path: &'a Path, name: &str) -> Result<ParquetColumn<'a>> {
        use parquet::arrow::ProjectionMask;
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let file = File::open(path).map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| malformed(path, &e))?;
        let index = builder
            .schema()
            .fields()
            .iter()
            .position(|f| f.name() == name)
            .ok_or_else(|| Error::invalid(format!("{} has no column '{name}'", path.display())))?;
        let stored_numeric = builder.schema().field(index).data_type().is_numeric();
        let rows = builder.metadata().file_metadata().num_rows().max(0) as usize;
        let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
        let reader =
            builder.with_projection(mask).with_batch_size(64 * 1024).build().map_err(|e| malformed(path, &e))?;
        Ok(ParquetColumn { path, rows, stored_numeric, reader })
    }

    /// The column's values, a batch at a time.
    fn arrays(self) -> impl Iterator<Item = Result<ArrayRef>> + 'a {
        let path = self.path;
        self.reader.map(move |batch| batch.map(|b| b.column(0).clone()).map_err(|e| malformed(path, &e)))
    }
}

fn malformed(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::invalid(format!("{}: malformed Parquet file: {e}", path.display()))
}

fn read_parquet_column_unguarded(
    path: &Path,
    name: &str,
    categorical: bool,
    kind: Option<Kind>,
) -> Result<FeatureValues> {
    let column = ParquetColumn::open(path, name)?;
    let numeric = kind.map_or(column.stored_numeric && !categorical, |k| k == Kind::Numeric);
    let mut acc = if numeric {
        Accumulator::Numeric { values: Vec::with_capacity(column.rows), non_finite: 0, type_violations: 0 }
    } else {
        Accumulator::Categorical { counts: BTreeMap::new(), missing: 0 }
    };
    for array in column.arrays() {
        let array = &array?;
        if numeric && array.data_type().is_numeric() {
            push_numbers(&mut acc, array, name)?;
        } else {
            push_cells(&mut acc, array, name)?;
        }
    }
    Ok(acc.finish())
}

fn push_numbers(acc: &mut Accumulator, array: &ArrayRef, name: &str) -> Result<()> {
    let Accumulator::Numeric { values, non_finite, .. } = acc else { unreachable!("numeric accumulator") };
    let numeric = for_each_number(array, |_, value| {
        match value {
            None => values.push(f64::NAN),
            Some(v) if v.is_infinite() => *non_finite += 1,
            Some(v) => values.push(v),
        }
        Ok(())
    })?;
    if numeric { Ok(()) } else { Err(unsupported(name, array.data_type())) }
}

fn unsupported(name: &str, data_type: &DataType) -> Error {
    Error::invalid(format!("column '{name}' has Parquet type {data_type}, which Warden cannot compare"))
}

/// Pushes every cell of a column as text (categories, or numbers parsed leniently).
fn push_cells(acc: &mut Accumulator, array: &ArrayRef, name: &str) -> Result<()> {
    if let (DataType::Dictionary(_, _), Accumulator::Categorical { counts, missing }) = (array.data_type(), &mut *acc) {
        // Count keys, then name each distinct key once.
        let dictionary = array.as_any_dictionary();
        let values = dictionary.values().clone();
        let mut key_counts = vec![0u64; values.len()];
        for (i, &k) in dictionary.normalized_keys().iter().enumerate() {
            if dictionary.is_null(i) { *missing += 1 } else { key_counts[k] += 1 }
        }
        for (k, &c) in key_counts.iter().enumerate() {
            if c > 0 {
                let label = cell_text(&values, k, name)?;
                if is_missing_token(label.trim()) {
                    *missing += c;
                } else {
                    *counts.entry(label.trim().to_owned()).or_default() += c;
                }
            }
        }
        return Ok(());
    }
    if let DataType::Dictionary(_, _) = array.data_type() {
        let dictionary = array.as_any_dictionary();
        for (i, &k) in dictionary.normalized_keys().iter().enumerate() {
            if dictionary.is_null(i) {
                acc.push_text("");
            } else {
                acc.push_text(&cell_text(dictionary.values(), k, name)?);
            }
        }
        return Ok(());
    }
    for i in 0..array.len() {
        if array.is_null(i) {
            acc.push_text("");
        } else {
            acc.push_text(&cell_text(array, i, name)?);
        }
    }
    Ok(())
}

/// The text of one cell: strings as they are, booleans as Python spells them, numbers as pandas' `astype(str)`
/// for integral values.
fn cell_text(array: &ArrayRef, i: usize, name: &str) -> Result<String> {
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).to_owned(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i).to_owned(),
        DataType::Utf8View => array.as_string_view().value(i).to_owned(),
        DataType::Boolean => (if array.as_boolean().value(i) { "True" } else { "False" }).to_owned(),
        other => match number_at(array, i) {
            Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
            Some(v) => v.to_string(),
            None => return Err(unsupported(name, other)),
        },
    })
}

/// What `metrics_report` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsOptions {
    /// Score column (probability of the positive class).
    pub score: String,
    /// Label column (0/1 or true/false). When the data file lacks it, performance is estimated (CBPE) from
    /// the reference, which must have it.
    pub label: Option<String>,
    /// Predicted-label column (1 or the positive decision's text: the bad event predicted, declined; 0 or the
    /// negative decision's text); default `score >= threshold` at the first threshold.
    pub prediction: Option<String>,
    /// The decisions' texts in a prediction column, as a version's serving configuration names them
    /// (`warden score` writes them): (positive, negative), by default ("decline", "approve").
    pub decisions: (String, String),
    /// Protected attribute columns for fairness.
    pub groups: Vec<String>,
    /// Thresholds for confusion metrics and fairness.
    pub thresholds: Vec<f64>,
    /// Labelled reference to fit CBPE on (needed without labels).
    pub reference: Option<std::path::PathBuf>,
    /// Rows per CBPE chunk.
    pub chunk_size: usize,
}

/// Performance, calibration and fairness with labels, or CBPE estimates without.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsReport {
    /// Labels were given.
    Realized {
        /// Every label-based metric.
        metrics: warden_stats::metrics::BinaryMetrics,
        /// AUC with a 95% DeLong interval (`None` below the minimum class count).
        auc_interval: Option<warden_stats::metrics::AucInterval>,
        /// Per attribute and threshold: fairness under `warden_stats::fairness::FAVOURABLE_OUTCOME` (the
        /// favourable outcome is approval, as in validation reports and fairness monitors).
        fairness: Vec<(String, f64, warden_stats::fairness::Fairness)>,
    },
    /// No labels: estimated from a labelled reference.
    Estimated {
        /// Whether the reference scores were recalibrated.
        calibrated: bool,
        /// Per chunk (start row, end row exclusive): every metric's estimate.
        chunks: Vec<(usize, usize, Vec<warden_stats::cbpe::CbpeEstimate>)>,
    },
}

/// One column of a file, per row.
pub(crate) enum RowValues {
    Numbers(Vec<f64>),
    Texts(Vec<Option<String>>),
}

/// Reads whole columns per row: `numeric[i]` says whether column i is parsed as numbers (errors name the line).
pub(crate) fn read_rows(path: &Path, names: &[String], numeric: &[bool]) -> Result<Vec<RowValues>> {
    let format = DataFormat::detect(path)?;
    let available = header(path, format)?;
    if let Some(missing) = names.iter().find(|n| !available.contains(n)) {
        return Err(Error::invalid(format!("{} has no column '{missing}'", path.display())));
    }
    let mut out: Vec<RowValues> = numeric
        .iter()
        .map(|&n| if n { RowValues::Numbers(Vec::new()) } else { RowValues::Texts(Vec::new()) })
        .collect();
    let mut push = |column: usize, text: Option<&str>, line: u64| -> Result<()> {
        match &mut out[column] {
            RowValues::Numbers(values) => {
                let text = text.unwrap_or("").trim();
                let value = match text {
                    "true" | "True" | "TRUE" => 1.0,
                    "false" | "False" | "FALSE" => 0.0,
                    _ => text.parse::<f64>().map_err(|_| {
                        Error::invalid_with(
                            format!(
                                "{}: line {line}, column '{}': expected a number, found '{text}'",
                                path.display(),
                                names[column]
                            ),
                            json!({ "line": line, "column": names[column] }),
                        )
                    })?,
                };
                if !value.is_finite() {
                    return Err(Error::invalid(format!(
                        "{}: line {line}, column '{}': value is not finite",
                        path.display(),
                        names[column]
                    )));
                }
                values.push(value);
            }
            RowValues::Texts(values) => values.push(text.map(|t| t.trim().to_owned()).filter(|t| !is_missing_token(t))),
        }
        Ok(())
    };
    match format {
        DataFormat::Csv => {
            let file = File::open(path).map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
            let mut reader = csv::ReaderBuilder::new().from_reader(BufReader::with_capacity(1 << 20, file));
            let indices: Vec<usize> =
                names.iter().map(|n| available.iter().position(|a| a == n).expect("checked")).collect();
            let mut record = csv::StringRecord::new();
            loop {
                match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => return Err(in_file(path, csv_error(e))),
                }
                let line = record.position().map_or(0, |p| p.line());
                for (column, &index) in indices.iter().enumerate() {
                    push(column, Some(&record[index]), line)?;
                }
            }
        }
        DataFormat::Parquet => {
            for (column, name) in names.iter().enumerate() {
                read_parquet_rows(path, name, &mut |i, text| push(column, text, i as u64 + 1))?;
            }
        }
    }
    Ok(out)
}

fn read_parquet_rows(path: &Path, name: &str, push: &mut dyn FnMut(usize, Option<&str>) -> Result<()>) -> Result<()> {
    crate::dataset::parquet_guard(path, || read_parquet_rows_unguarded(path, name, push))
}

fn read_parquet_rows_unguarded(
    path: &Path,
    name: &str,
    push: &mut dyn FnMut(usize, Option<&str>) -> Result<()>,
) -> Result<()> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let bad = |e: &dyn std::fmt::Display| Error::invalid(format!("{}: malformed Parquet file: {e}", path.display()));
    let file = File::open(path).map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(&e))?;
    let index = builder.schema().fields().iter().position(|f| f.name() == name).expect("checked");
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    let reader = builder.with_projection(mask).build().map_err(|e| bad(&e))?;
    let mut row = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let array = batch.column(0);
        let (values, keys): (ArrayRef, Option<Vec<usize>>) = match array.data_type() {
            DataType::Dictionary(_, _) => {
                let d = array.as_any_dictionary();
                (d.values().clone(), Some(d.normalized_keys()))
            }
            _ => (array.clone(), None),
        };
        for i in 0..array.len() {
            if array.is_null(i) {
                push(row, None)?;
            } else {
                let at = keys.as_ref().map_or(i, |k| k[i]);
                push(row, Some(&cell_text(&values, at, name)?))?;
            }
            row += 1;
        }
    }
    Ok(())
}

fn labels_of(values: &[f64], column: &str) -> Result<Vec<bool>> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| match v {
            1.0 => Ok(true),
            0.0 => Ok(false),
            other => {
                Err(Error::invalid(format!("row {}: label column '{column}' must be 0 or 1, found {other}", i + 1)))
            }
        })
        .collect()
}

/// A prediction column: 1/0, true/false, or the decisions' texts (positive: the bad event predicted).
fn predictions_of(
    values: &[Option<String>],
    column: &str,
    (positive, negative): &(String, String),
) -> Result<Vec<bool>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| match v.as_deref() {
            Some(t) if t == positive => Ok(true),
            Some(t) if t == negative => Ok(false),
            Some("1" | "1.0" | "true" | "True" | "TRUE") => Ok(true),
            Some("0" | "0.0" | "false" | "False" | "FALSE") => Ok(false),
            other => Err(Error::invalid(format!(
                "row {}: prediction column '{column}' must be 1, 0, '{positive}' or '{negative}', found {}",
                i + 1,
                other.map_or("nothing".to_owned(), |t| format!("'{t}'"))
            ))),
        })
        .collect()
}

fn scores_of(values: Vec<f64>, column: &str) -> Result<Vec<f64>> {
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
        return Err(Error::invalid(format!("row {}: score column '{column}' must be within [0, 1], found {v}", i + 1)));
    }
    Ok(values)
}

/// The columns `metrics_report` reads from one file.
struct ScoredFile {
    scores: Vec<f64>,
    labels: Option<Vec<bool>>,
    predictions: Vec<bool>,
    /// One column per protected attribute.
    groups: Vec<Vec<Option<String>>>,
}

/// Reads score, label, prediction and group columns of a file.
fn scored(path: &Path, options: &MetricsOptions, label: Option<&String>) -> Result<ScoredFile> {
    let mut names = vec![options.score.clone()];
    names.extend(label.cloned());
    let texts_from = names.len();
    names.extend(options.prediction.clone());
    names.extend(options.groups.iter().cloned());
    let numeric: Vec<bool> = (0..names.len()).map(|i| i < texts_from).collect();
    let mut columns = read_rows(path, &names, &numeric)?.into_iter();
    let numbers = |c: Option<RowValues>| match c {
        Some(RowValues::Numbers(v)) => v,
        _ => unreachable!("numeric column"),
    };
    let scores = scores_of(numbers(columns.next()), &options.score)?;
    if scores.is_empty() {
        return Err(Error::invalid(format!("{} has no data rows", path.display())));
    }
    let labels = match label {
        Some(l) => Some(labels_of(&numbers(columns.next()), l)?),
        None => None,
    };
    let threshold = options.thresholds.first().copied().unwrap_or(0.5);
    let predictions = match &options.prediction {
        Some(p) => match columns.next() {
            Some(RowValues::Texts(t)) => predictions_of(&t, p, &options.decisions)?,
            _ => unreachable!("text column"),
        },
        None => scores.iter().map(|&s| s >= threshold).collect(),
    };
    let groups = columns
        .map(|c| match c {
            RowValues::Texts(t) => t,
            RowValues::Numbers(_) => unreachable!("text column"),
        })
        .collect();
    Ok(ScoredFile { scores, labels, predictions, groups })
}

/// Performance, calibration and fairness of a scored file.
pub fn metrics_report(data: &Path, options: &MetricsOptions) -> Result<MetricsReport> {
    use warden_stats::cbpe::{CbpeModel, ScoredRows, chunk_ranges};
    if options.thresholds.iter().any(|t| !(0.0..=1.0).contains(t)) {
        return Err(Error::invalid("thresholds must be within [0, 1]"));
    }
    let data_label = match &options.label {
        Some(label) if header(data, DataFormat::detect(data)?)?.contains(label) => Some(label),
        _ => None,
    };
    let ScoredFile { scores, labels, predictions, groups } = scored(data, options, data_label)?;
    if let Some(labels) = labels {
        let metrics = warden_stats::metrics::binary_metrics(&labels, &scores, &options.thresholds);
        let auc_interval = warden_stats::metrics::auc_delong(&labels, &scores, 0.95);
        let mut fairness = Vec::new();
        for (name, values) in options.groups.iter().zip(&groups) {
            let group_names: Vec<&str> = values.iter().map(|v| v.as_deref().unwrap_or("(missing)")).collect();
            for &t in &options.thresholds {
                let predicted: Vec<bool> = match &options.prediction {
                    Some(_) => predictions.clone(),
                    None => scores.iter().map(|&s| s >= t).collect(),
                };
                let fair =
                    warden_stats::fairness::fairness_of_approvals(&labels, &predicted, group_names.iter().copied());
                if let Some(f) = fair {
                    fairness.push((name.clone(), t, f));
                }
            }
        }
        return Ok(MetricsReport::Realized { metrics, auc_interval, fairness });
    }
    let Some(reference) = &options.reference else {
        return Err(Error::invalid(
            "the data has no label column: give a labelled --reference to estimate performance (CBPE)",
        ));
    };
    let Some(label) = &options.label else {
        return Err(Error::invalid("estimating performance needs --label to name the reference's label column"));
    };
    let reference_options = MetricsOptions { groups: Vec::new(), ..options.clone() };
    let reference_file = scored(reference, &reference_options, Some(label))?;
    let (r_scores, r_predictions) = (reference_file.scores, reference_file.predictions);
    let r_labels = reference_file.labels.expect("reference read with labels");
    let calibrated = warden_stats::calibration::needs_calibration(&r_scores, &r_labels);
    let calibrator =
        if calibrated { warden_stats::calibration::IsotonicCalibrator::fit(&r_scores, &r_labels) } else { None };
    let model = CbpeModel::fit(
        ScoredRows { scores: &r_scores, predictions: &r_predictions, labels: Some(&r_labels) },
        options.chunk_size,
        calibrator,
    )
    .ok_or_else(|| Error::invalid("the reference has no labels"))?;
    let rows = ScoredRows { scores: &scores, predictions: &predictions, labels: None };
    let chunks = chunk_ranges(scores.len(), options.chunk_size)
        .into_iter()
        .map(|(s, e)| {
            let chunk = ScoredRows { scores: &rows.scores[s..e], predictions: &rows.predictions[s..e], labels: None };
            (s, e, model.estimate(chunk))
        })
        .collect();
    Ok(MetricsReport::Estimated { calibrated, chunks })
}

/// Multivariate drift of a current file against a reference file: NannyML's data reconstruction error per
/// chunk of rows (see `warden_stats::reconstruction`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReconstructionReport {
    /// The features, numeric and categorical, the PCA was fitted on.
    pub features: Vec<String>,
    /// Principal components kept, and the share of the reference's variance they explain.
    pub components: usize,
    pub explained_variance: f64,
    /// Rows per chunk.
    pub chunk_size: usize,
    /// Bands from the reference chunks (mean ± 3σ); `None` with fewer than two reference chunks.
    pub bands: Option<warden_stats::reconstruction::Bands>,
    /// Each chunk of the reference, then of the current data, with whether it lies outside the bands.
    pub reference: Vec<ReconstructionChunk>,
    pub current: Vec<ReconstructionChunk>,
}

/// One chunk's reconstruction error.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReconstructionChunk {
    /// First and last row (0-based, inclusive) in its file.
    pub start: usize,
    pub end: usize,
    #[serde(flatten)]
    pub figures: warden_stats::reconstruction::ChunkFigures,
    pub alert: bool,
}

/// Most rows of one side the multivariate report reads (it holds every feature of every row: 8 bytes a
/// numeric cell; a categorical cell its text).
pub const MAX_RECONSTRUCTION_ROWS: usize = 5_000_000;

/// The feature columns of a data file as the multivariate report reads them (each feature with the kind the
/// drift report gave it): every row in memory, refused past [`MAX_RECONSTRUCTION_ROWS`].
pub fn read_features(
    path: &Path,
    features: &[(String, warden_stats::profile::ColumnType)],
) -> Result<crate::reference::MonitorReference> {
    let schema: Vec<crate::registry::FeatureSpec> = features
        .iter()
        .map(|(name, kind)| crate::registry::FeatureSpec {
            name: name.clone(),
            kind: *kind,
            categories: None,
            nullable: true,
            encoding: None,
            unknown_category: Default::default(),
        })
        .collect();
    let numeric = features.iter().all(|(_, kind)| *kind == warden_stats::profile::ColumnType::Numeric);
    if numeric && DataFormat::detect(path)? == DataFormat::Parquet {
        // Column by column and in parallel, without making text of every cell.
        let columns = parallel_map(features.to_vec(), |(name, _)| {
            crate::dataset::parquet_guard(path, || read_parquet_numbers(path, &name)).map(|v| (name, v))
        })?;
        let rows = columns.first().map_or(0, |(_, v)| v.len());
        return Ok(crate::reference::MonitorReference {
            features: columns.into_iter().map(|(n, v)| (n, crate::reference::ReferenceColumn::Numeric(v))).collect(),
            scores: vec![f64::NAN; rows],
            ..Default::default()
        });
    }
    crate::reference::MonitorReference::read_bounded(path, &schema, MAX_RECONSTRUCTION_ROWS)
}

/// A numeric Parquet column, one value per row (`NaN` for a null), refused past [`MAX_RECONSTRUCTION_ROWS`].
fn read_parquet_numbers(path: &Path, name: &str) -> Result<Vec<f64>> {
    let column = ParquetColumn::open(path, name)?;
    if column.rows > MAX_RECONSTRUCTION_ROWS {
        return Err(Error::invalid(format!(
            "{} has more than {MAX_RECONSTRUCTION_ROWS} rows, the most this reads",
            path.display()
        )));
    }
    let mut values = Vec::with_capacity(column.rows);
    for array in column.arrays() {
        let array = &array?;
        let numeric = for_each_number(array, |_, value| {
            values.push(value.unwrap_or(f64::NAN));
            Ok(())
        })?;
        if !numeric {
            return Err(unsupported(name, array.data_type()));
        }
    }
    Ok(values)
}

/// The reconstruction error of the current rows against the reference rows (both from [`read_features`]), in
/// chunks of `chunk_size` rows (default: a tenth of the reference).
pub fn reconstruction_report(
    reference_data: &crate::reference::MonitorReference,
    current_data: &crate::reference::MonitorReference,
    chunk_size: Option<usize>,
    variance_share: f64,
) -> Result<ReconstructionReport> {
    use warden_stats::reconstruction::{Bands, ColumnValues, ErrorWindow, ReconstructionModel};
    let (reference_texts, current_texts) = (reference_data.category_texts(), current_data.category_texts());
    let named = reference_data.feature_columns(&reference_texts);
    let reference_views: Vec<ColumnValues> = named.iter().map(|(_, v)| *v).collect();
    let model = ReconstructionModel::fit(&named, variance_share).map_err(|e| Error::invalid(e.to_string()))?;
    let size = chunk_size.unwrap_or_else(|| reference_data.len().div_ceil(10)).max(1);
    let chunked = |errors: Vec<f64>| -> Vec<(usize, usize, ErrorWindow)> {
        errors
            .chunks(size)
            .enumerate()
            .map(|(i, c)| {
                let mut window = ErrorWindow::default();
                c.iter().for_each(|&e| window.add(e));
                (i * size, i * size + c.len() - 1, window)
            })
            .collect()
    };
    let reference_chunks = chunked(model.errors(&reference_views));
    let values: Vec<f64> = reference_chunks.iter().filter_map(|(_, _, w)| w.chunk()).map(|f| f.value).collect();
    let bands = (values.len() >= 2).then(|| Bands::from_reference(&values, 3.0)).flatten();
    let judged = |chunks: Vec<(usize, usize, ErrorWindow)>| -> Vec<ReconstructionChunk> {
        chunks
            .into_iter()
            .filter_map(|(start, end, w)| {
                let figures = w.chunk()?;
                Some(ReconstructionChunk { start, end, figures, alert: bands.is_some_and(|b| b.alert(figures.value)) })
            })
            .collect()
    };
    let current_views: Vec<ColumnValues> =
        current_data.feature_columns(&current_texts).into_iter().map(|(_, v)| v).collect();
    Ok(ReconstructionReport {
        features: model.names().to_vec(),
        components: model.kept,
        explained_variance: model.explained_variance_ratio[..model.kept].iter().sum(),
        chunk_size: size,
        bands,
        reference: judged(reference_chunks),
        current: judged(chunked(model.errors(&current_views))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns whose first values are missing, a text column, a column forced categorical and one missing
    /// throughout the first rows: read with the kinds the first rows give, each column is what inferring it
    /// over the whole file gives; a column with no value within the scan leaves the kinds unknown.
    #[test]
    fn kinds_learned_from_the_first_rows_read_a_csv_as_inferring_them_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        let mut text = String::from("late,region,code,sparse\n");
        for i in 0..3_000 {
            let late = if i < 5 { String::new() } else { format!("{}.5", i % 97) };
            let sparse = if i < 2_500 { String::new() } else { (i % 11).to_string() };
            text.push_str(&format!("{late},{},{},{sparse}\n", ["north", "south"][i % 2], i % 7));
        }
        std::fs::write(&path, &text).unwrap();
        let features: Vec<String> = ["late", "region", "code", "sparse"].map(String::from).to_vec();
        let options =
            DriftOptions { categorical: vec!["code".into()], exclude: Vec::new(), bands: DriftBands::default() };
        let kinds = csv_kinds(&path, &features, &options).unwrap().expect("every column has a value");
        assert_eq!(kinds, [Kind::Numeric, Kind::Categorical, Kind::Categorical, Kind::Numeric]);
        let (inferred, inferred_kinds) = read_file_columns(&path, DataFormat::Csv, &features, &options, None).unwrap();
        let (known, _) = read_file_columns(&path, DataFormat::Csv, &features, &options, Some(&kinds)).unwrap();
        // Missing numbers are NaN, which equals nothing: the columns are compared as printed.
        assert!(format!("{inferred:?}") == format!("{known:?}"), "the columns read differ");
        assert!(
            matches!(&known[0], FeatureValues::Numeric { values, .. } if values.len() == 3_000 && values[0].is_nan())
        );
        assert_eq!(inferred_kinds, kinds);

        // More missing values than the scan reads: the kinds stay unknown, and the file is read as before.
        let mut text = String::from("x,empty_start\n");
        for i in 0..KIND_SCAN_ROWS + 10 {
            let value = if i < KIND_SCAN_ROWS + 5 { String::new() } else { "1.5".into() };
            text.push_str(&format!("{i},{value}\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let features: Vec<String> = ["x", "empty_start"].map(String::from).to_vec();
        let options = DriftOptions { categorical: Vec::new(), exclude: Vec::new(), bands: DriftBands::default() };
        assert_eq!(csv_kinds(&path, &features, &options).unwrap(), None);
    }
}
