//! Reading tabular files (CSV, Parquet) into a reference profile.
//!
//! The reader decides which columns are features, the target and protected attributes, checks them
//! against a declared schema when there is one, and streams every cell into a
//! [`warden_stats::profile::ProfileBuilder`]. Errors name the line (CSV) or row (Parquet) and the column.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use serde_json::json;
use warden_stats::profile::{ColumnRole, ColumnSpec, ColumnSummary, DatasetProfile, ProfileBuilder, ProfileError};

use crate::registry::FeatureSpec;
use crate::{Error, Result};

/// A tabular file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl DataFormat {
    /// The format's name.
    pub fn as_str(self) -> &'static str {
        match self {
            DataFormat::Csv => "csv",
            DataFormat::Parquet => "parquet",
        }
    }

    /// Parquet files start with the magic bytes `PAR1`; anything else is read as CSV.
    pub fn detect(path: &Path) -> Result<Self> {
        let mut magic = [0u8; 4];
        let mut file = open(path)?;
        let read = file.read(&mut magic).map_err(|e| unreadable(path, e))?;
        Ok(if read == 4 && &magic == b"PAR1" { DataFormat::Parquet } else { DataFormat::Csv })
    }
}

/// Which columns play which part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnPlan {
    /// The target column, if any.
    pub target: Option<String>,
    /// Protected attributes (monitor-only, never model inputs).
    pub protected: Vec<String>,
    /// Columns to leave out entirely (identifiers, timestamps).
    pub exclude: Vec<String>,
    /// An external model's score column (left out of the features, and required).
    pub score: Option<String>,
    /// The declared feature schema; `None` = every other column is a feature, types inferred.
    pub schema: Option<Vec<FeatureSpec>>,
}

/// A profiled file.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfiledData {
    /// The file's format.
    pub format: DataFormat,
    /// The profile of the used columns.
    pub profile: DatasetProfile,
    /// The feature schema: the declared one, or the one inferred from the data.
    pub feature_schema: Vec<FeatureSpec>,
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| unreadable(path, e))
}

fn unreadable(path: &Path, err: std::io::Error) -> Error {
    Error::invalid(format!("cannot read {}: {err}", path.display()))
}

fn profile_error(err: ProfileError) -> Error {
    let details = match &err {
        ProfileError::NotANumber { line, column, found }
        | ProfileError::NotFinite { line, column, found }
        | ProfileError::UnknownCategory { line, column, found } => {
            json!({ "line": line, "column": column, "value": found })
        }
        ProfileError::MissingNotAllowed { line, column } => json!({ "line": line, "column": column }),
        _ => serde_json::Value::Null,
    };
    Error::invalid_with(err.to_string(), details)
}

/// Decides the part each header column plays. Returns the specs and, for each, its index in the header.
fn plan_columns(header: &[String], plan: &ColumnPlan) -> Result<(Vec<ColumnSpec>, Vec<usize>)> {
    let mut seen = HashSet::new();
    for (i, name) in header.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(Error::invalid(format!("column {} of the header has no name", i + 1)));
        }
        if !seen.insert(name.as_str()) {
            return Err(Error::invalid(format!("column '{name}' appears twice in the header")));
        }
    }
    let position = |name: &str, part: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            Error::invalid_with(
                format!("reference data has no column '{name}' (declared as {part})"),
                json!({ "column": name, "columns": header }),
            )
        })
    };
    let mut specs = Vec::new();
    let mut indices = Vec::new();
    let mut claimed: HashSet<String> = HashSet::new();
    let claim = |claimed: &mut HashSet<String>, name: &str, part: &str| -> Result<()> {
        if claimed.insert(name.to_owned()) {
            Ok(())
        } else {
            Err(Error::invalid(format!("column '{name}' is declared twice (again as {part})")))
        }
    };
    if let Some(score) = &plan.score {
        position(score, "the external model's score column")?;
        claim(&mut claimed, score, "the external model's score column")?;
    }
    for name in &plan.exclude {
        position(name, "excluded")?;
        claim(&mut claimed, name, "excluded")?;
    }
    if let Some(target) = &plan.target {
        indices.push(position(target, "target")?);
        claim(&mut claimed, target, "target")?;
        specs.push(ColumnSpec::inferred(target.clone(), ColumnRole::Target));
    }
    for name in &plan.protected {
        indices.push(position(name, "protected attribute")?);
        claim(&mut claimed, name, "protected attribute")?;
        specs.push(ColumnSpec::inferred(name.clone(), ColumnRole::Protected));
    }
    match &plan.schema {
        Some(schema) => {
            for feature in schema {
                indices.push(position(&feature.name, "feature")?);
                claim(&mut claimed, &feature.name, "feature")?;
                specs.push(ColumnSpec {
                    name: feature.name.clone(),
                    role: ColumnRole::Feature,
                    declared_type: Some(feature.kind),
                    allowed_categories: feature.categories.clone(),
                    nullable: feature.nullable,
                });
            }
        }
        None => {
            for (i, name) in header.iter().enumerate() {
                if !claimed.contains(name.as_str()) {
                    indices.push(i);
                    specs.push(ColumnSpec::inferred(name.clone(), ColumnRole::Feature));
                }
            }
        }
    }
    if !specs.iter().any(|s| s.role == ColumnRole::Feature) {
        return Err(Error::invalid("reference data has no feature columns"));
    }
    Ok((specs, indices))
}

/// Profiles a CSV or Parquet file according to the plan. CPU-bound: call it off the async runtime.
pub fn profile_file(path: &Path, plan: &ColumnPlan) -> Result<ProfiledData> {
    let format = DataFormat::detect(path)?;
    let profile = match format {
        DataFormat::Csv => profile_csv(path, plan)?,
        DataFormat::Parquet => checked_parquet_read(path, || profile_parquet(path, plan))?,
    };
    if profile.rows == 0 {
        return Err(Error::invalid("reference data has a header but no data rows"));
    }
    // Column names become feature names: shown in tables, pages and reason codes.
    for column in &profile.columns {
        crate::text::check("a column name", &column.name, crate::text::SHORT, crate::text::Lines::One)?;
    }
    let feature_schema = match &plan.schema {
        Some(schema) => schema.clone(),
        None => profile.with_role(ColumnRole::Feature).map(FeatureSpec::inferred_from).collect(),
    };
    Ok(ProfiledData { format, profile, feature_schema })
}

pub(crate) fn csv_error(err: csv::Error) -> Error {
    let line = err.position().map(|p| p.line());
    match err.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => Error::invalid_with(
            format!("line {}: expected {expected_len} fields, found {len}", line.unwrap_or(0)),
            json!({ "line": line, "expected_fields": expected_len, "found_fields": len }),
        ),
        csv::ErrorKind::Utf8 { .. } => {
            Error::invalid_with(format!("line {}: text is not valid UTF-8", line.unwrap_or(0)), json!({ "line": line }))
        }
        _ => Error::invalid(format!("malformed CSV: {err}")),
    }
}

fn profile_csv(path: &Path, plan: &ColumnPlan) -> Result<DatasetProfile> {
    let file = open(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let header = reader.headers().map_err(csv_error)?;
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(Error::invalid("reference data is empty (no header row)"));
    }
    let header: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    let (specs, indices) = plan_columns(&header, plan)?;
    let mut builder = ProfileBuilder::new(specs);
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        let line = record.position().map_or(0, |p| p.line());
        for (column, &index) in indices.iter().enumerate() {
            let bytes = &record[index];
            let text = std::str::from_utf8(bytes).map_err(|_| {
                Error::invalid_with(
                    format!("line {line}, column '{}': text is not valid UTF-8", header[index]),
                    json!({ "line": line, "column": header[index] }),
                )
            })?;
            builder.push_text(column, text, line).map_err(profile_error)?;
        }
        builder.end_row();
    }
    Ok(builder.finish())
}

/// Runs a Parquet read, turning a panic in the reader into an `Invalid` error naming the file: the parquet
/// crate panics on some malformed metadata (found by fuzzing: a column chunk with a negative offset), and a
/// bad upload must be refused with a message, never take down the thread reading it.
pub(crate) fn parquet_guard<T>(path: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(Error::invalid(format!("{}: malformed Parquet file ({what})", path.display())))
    })
}

/// The first read of a Parquet file: its page headers are checked, then `read` runs under [`parquet_guard`].
/// Later reads of the same file need only the guard.
pub(crate) fn checked_parquet_read<T>(path: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    parquet_guard(path, || {
        check_parquet_pages(path)?;
        read()
    })
}

/// Every page header is checked first (`parquet_pages`): the parquet reader cannot be bounded from outside
/// on some malformed headers.
fn check_parquet_pages(path: &Path) -> Result<()> {
    let bad = |e: &dyn std::fmt::Display| Error::invalid(format!("{}: malformed Parquet file: {e}", path.display()));
    let mut file = open(path)?;
    let metadata =
        parquet::file::metadata::ParquetMetaDataReader::new().parse_and_finish(&file).map_err(|e| bad(&e))?;
    crate::parquet_pages::check_page_headers(&mut file, &metadata).map_err(|e| bad(&e))
}

fn profile_parquet(path: &Path, plan: &ColumnPlan) -> Result<DatasetProfile> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let bad = |e: &dyn std::fmt::Display| Error::invalid(format!("malformed Parquet file: {e}"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(open(path)?).map_err(|e| bad(&e))?;
    let header: Vec<String> = reader.schema().fields().iter().map(|f| f.name().clone()).collect();
    let (specs, indices) = plan_columns(&header, plan)?;
    let mask = ProjectionMask::roots(reader.parquet_schema(), indices.iter().copied());
    let batches = reader.with_projection(mask).with_batch_size(64 * 1024).build().map_err(|e| bad(&e))?;
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let mut builder = ProfileBuilder::new(specs);
    let mut first_row = 1u64;
    for batch in batches {
        let batch = batch.map_err(|e| bad(&e))?;
        for (column, name) in names.iter().enumerate() {
            let array = batch.column_by_name(name).expect("projected column present");
            push_arrow_column(&mut builder, column, name, array, first_row)?;
        }
        builder.end_rows(batch.num_rows() as u64);
        first_row += batch.num_rows() as u64;
    }
    Ok(builder.finish())
}

/// Every numeric Arrow type, each mapped through `$each!(ArrowType)`; other types give `$other`.
macro_rules! numeric_types {
    ($data_type:expr, $each:ident, $other:expr) => {
        match $data_type {
            DataType::Float64 => $each!(Float64Type),
            DataType::Float32 => $each!(Float32Type),
            DataType::Int8 => $each!(Int8Type),
            DataType::Int16 => $each!(Int16Type),
            DataType::Int32 => $each!(Int32Type),
            DataType::Int64 => $each!(Int64Type),
            DataType::UInt8 => $each!(UInt8Type),
            DataType::UInt16 => $each!(UInt16Type),
            DataType::UInt32 => $each!(UInt32Type),
            DataType::UInt64 => $each!(UInt64Type),
            _ => $other,
        }
    };
}

/// Calls `f(row, value)` for every cell of a numeric Arrow array (`None` for a null). Returns `Ok(false)`,
/// calling nothing, when the array is not numeric.
pub(crate) fn for_each_number(array: &ArrayRef, mut f: impl FnMut(usize, Option<f64>) -> Result<()>) -> Result<bool> {
    macro_rules! each {
        ($t:ty) => {{
            let values = array.as_primitive::<$t>();
            for i in 0..values.len() {
                f(i, (!values.is_null(i)).then(|| values.value(i) as f64))?;
            }
            Ok(true)
        }};
    }
    numeric_types!(array.data_type(), each, Ok(false))
}

/// The number in one cell of a numeric Arrow array (`None` for a null or a non-numeric array).
pub(crate) fn number_at(array: &ArrayRef, i: usize) -> Option<f64> {
    macro_rules! at {
        ($t:ty) => {{
            let values = array.as_primitive::<$t>();
            (!values.is_null(i)).then(|| values.value(i) as f64)
        }};
    }
    numeric_types!(array.data_type(), at, None)
}

fn push_arrow_column(
    builder: &mut ProfileBuilder,
    column: usize,
    name: &str,
    array: &ArrayRef,
    first_row: u64,
) -> Result<()> {
    let row = |i: usize| first_row + i as u64;
    macro_rules! texts {
        ($values:expr) => {{
            let values = $values;
            for i in 0..values.len() {
                if values.is_null(i) {
                    builder.push_missing(column, row(i))
                } else {
                    builder.push_category(column, values.value(i), row(i))
                }
                .map_err(profile_error)?;
            }
        }};
    }
    let numeric = for_each_number(array, |i, value| {
        match value {
            Some(v) => builder.push_number(column, v, row(i)),
            None => builder.push_missing(column, row(i)),
        }
        .map_err(profile_error)
    })?;
    if numeric {
        return Ok(());
    }
    match array.data_type() {
        DataType::Utf8 => texts!(array.as_string::<i32>()),
        DataType::LargeUtf8 => texts!(array.as_string::<i64>()),
        DataType::Utf8View => texts!(array.as_string_view()),
        DataType::Boolean => {
            let values = array.as_boolean();
            for i in 0..values.len() {
                if values.is_null(i) {
                    builder.push_missing(column, row(i))
                } else {
                    // Python's spelling, as pandas' astype(str) gives it.
                    builder.push_category(column, if values.value(i) { "True" } else { "False" }, row(i))
                }
                .map_err(profile_error)?;
            }
        }
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            let keys = dictionary.normalized_keys();
            let values = dictionary.values();
            for (i, &key) in keys.iter().enumerate() {
                if dictionary.is_null(i) {
                    builder.push_missing(column, row(i)).map_err(profile_error)?;
                    continue;
                }
                push_arrow_column(builder, column, name, &values.slice(key, 1), row(i))?;
            }
        }
        other => {
            return Err(Error::invalid_with(
                format!(
                    "column '{name}' has Parquet type {other}, which Warden cannot profile (numbers, strings and booleans are supported)"
                ),
                json!({ "column": name, "type": other.to_string() }),
            ));
        }
    }
    Ok(())
}

/// One cell of an Arrow array as text (`None` for a null): numbers in shortest round-trip form, booleans as
/// `True`/`False` (pandas' spelling), strings as they are.
fn cell_text(array: &ArrayRef, i: usize) -> Result<Option<String>> {
    if array.is_null(i) {
        return Ok(None);
    }
    if let Some(x) = number_at(array, i) {
        return Ok(Some(x.to_string()));
    }
    Ok(Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).to_owned(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i).to_owned(),
        DataType::Utf8View => array.as_string_view().value(i).to_owned(),
        DataType::Boolean => (if array.as_boolean().value(i) { "True" } else { "False" }).to_owned(),
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            let key = dictionary.normalized_keys()[i];
            return cell_text(dictionary.values(), key);
        }
        other => return Err(Error::invalid(format!("a column has Parquet type {other}, which Warden cannot read"))),
    }))
}

/// Reads a CSV or Parquet file in chunks of at most `chunk` rows, every cell as text (`None`: an empty CSV
/// cell or a Parquet null), calling `f(header, rows)` per chunk. Memory stays bounded by the chunk size.
pub fn for_each_chunk(
    path: &Path,
    chunk: usize,
    mut f: impl FnMut(&[String], Vec<Vec<Option<String>>>) -> Result<()>,
) -> Result<()> {
    let chunk = chunk.max(1);
    match DataFormat::detect(path)? {
        DataFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(false)
                .from_reader(BufReader::with_capacity(1 << 20, open(path)?));
            let header: Vec<String> =
                reader.headers().map_err(csv_error)?.iter().map(|h| h.trim().to_owned()).collect();
            let mut rows = Vec::with_capacity(chunk);
            for record in reader.records() {
                let record = record.map_err(csv_error)?;
                rows.push(record.iter().map(|c| (!c.is_empty()).then(|| c.to_owned())).collect());
                if rows.len() == chunk {
                    f(&header, std::mem::take(&mut rows))?;
                }
            }
            if !rows.is_empty() {
                f(&header, rows)?;
            }
        }
        DataFormat::Parquet => {
            use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
            let bad = |e: &dyn std::fmt::Display| Error::invalid(format!("malformed Parquet file: {e}"));
            let reader = ParquetRecordBatchReaderBuilder::try_new(open(path)?).map_err(|e| bad(&e))?;
            let header: Vec<String> = reader.schema().fields().iter().map(|f| f.name().clone()).collect();
            for batch in reader.with_batch_size(chunk).build().map_err(|e| bad(&e))? {
                let batch = batch.map_err(|e| bad(&e))?;
                let mut rows = vec![Vec::with_capacity(header.len()); batch.num_rows()];
                for column in batch.columns() {
                    for (i, row) in rows.iter_mut().enumerate() {
                        row.push(cell_text(column, i)?);
                    }
                }
                f(&header, rows)?;
            }
        }
    }
    Ok(())
}

/// Counts a data file's rows and hashes its bytes (for training-data lineage).
pub fn fingerprint(path: &Path) -> Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut file = open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(|e| unreadable(path, e))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    let rows = match DataFormat::detect(path)? {
        DataFormat::Parquet => {
            let reader = parquet::file::reader::SerializedFileReader::new(open(path)?)
                .map_err(|e| Error::invalid(format!("malformed Parquet file: {e}")))?;
            use parquet::file::reader::FileReader;
            reader.metadata().file_metadata().num_rows() as u64
        }
        DataFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(BufReader::new(open(path)?));
            let mut record = csv::ByteRecord::new();
            let mut rows = 0u64;
            while reader.read_byte_record(&mut record).map_err(csv_error)? {
                rows += 1;
            }
            rows
        }
    };
    Ok((hex::encode(hasher.finalize()), rows))
}

impl FeatureSpec {
    /// The schema entry implied by a profiled feature column.
    pub fn inferred_from(column: &warden_stats::profile::ColumnProfile) -> Self {
        let categories = match &column.summary {
            ColumnSummary::Categorical(summary) => Some(summary.frequencies.keys().cloned().collect()),
            ColumnSummary::Numeric(_) => None,
        };
        FeatureSpec {
            name: column.name.clone(),
            kind: column.summary.column_type(),
            categories,
            nullable: column.summary.missing() > 0,
            encoding: None,
            unknown_category: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_stats::profile::ColumnType;

    fn csv_file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    /// Found by fuzzing: the parquet crate panics reading this file's metadata; it is refused instead.
    #[test]
    fn a_parquet_file_the_reader_panics_on_is_refused() {
        let path = warden_testdata::path("datasets/fuzz/negative_column_offset.parquet");
        let message = invalid_message(profile_file(&path, &ColumnPlan::default()));
        assert!(message.contains("malformed Parquet file"), "{message}");
    }

    /// Found by fuzzing: a 1 KB file whose dictionary page declares 870 million doubles; the parquet reader
    /// would allocate 7 GB for it. Refused before the reader sees it.
    #[test]
    fn a_parquet_dictionary_larger_than_its_bytes_is_refused() {
        let path = warden_testdata::path("datasets/fuzz/dictionary_value_count_oom.parquet");
        let message = invalid_message(profile_file(&path, &ColumnPlan::default()));
        assert!(message.contains("malformed Parquet file") && message.contains("dictionary"), "{message}");
        assert!(message.contains("declares 870829983 values in 24 bytes"), "{message}");
    }

    /// Found by fuzzing: a 3 KB file whose page header nests Thrift lists of billions of elements past the
    /// end of the file; the parquet reader spent over a minute skipping them. Refused at once.
    #[test]
    fn a_parquet_page_header_with_endless_lists_is_refused_at_once() {
        let path = warden_testdata::path("datasets/fuzz/endless_header_lists.parquet");
        let started = std::time::Instant::now();
        let message = invalid_message(profile_file(&path, &ColumnPlan::default()));
        assert!(message.contains("malformed Parquet file") && message.contains("page header"), "{message}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    }

    /// Hostile CSV shapes: each is profiled or refused with a clear error, on a small stack, within a time
    /// budget (the upload limit bounds the bytes; nothing here may depend on more than that).
    #[test]
    fn hostile_csv_files_are_profiled_or_refused_within_budget() {
        let wide = (0..50_000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
        let wide_row = vec!["1"; 50_000].join(",");
        let cases: Vec<(&str, String, Option<&str>)> = vec![
            ("an 8 MiB cell", format!("a,b\n1,{}\n", "x".repeat(8 << 20)), None),
            ("50,000 columns", format!("{wide}\n{wide_row}\n"), None),
            ("infinity", "a,b\n1,2\ninf,3\n".into(), Some("line 3")),
            ("an overflowing number", "a,b\n1,2\n1e999,3\n".into(), Some("line 3")),
            ("a control character in a column name", "a\u{1b}[2J,b\n1,2\n".into(), Some("control character")),
            ("a column name of 1,000 characters", format!("{},b\n1,2\n", "n".repeat(1000)), Some("the limit is 256")),
            ("a quote never closed", "a,b\n1,\"2\n".repeat(10_000), None),
            ("ragged rows", "a,b\n1,2\n1,2,3\n".into(), Some("expected 2 fields")),
        ];
        for (name, text, expected) in cases {
            let file = csv_file(&text);
            let path = file.path().to_owned();
            let started = std::time::Instant::now();
            let outcome = std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || profile_file(&path, &ColumnPlan::default()).map(|p| p.profile.rows))
                .unwrap()
                .join()
                .unwrap_or_else(|_| panic!("{name}: panicked"));
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "{name}: {:?}", started.elapsed());
            match (expected, outcome) {
                (Some(needle), Err(err)) => assert!(err.to_string().contains(needle), "{name}: {err}"),
                (Some(needle), Ok(rows)) => panic!("{name}: profiled {rows} rows, expected an error naming {needle}"),
                (None, result) => {
                    if let Err(err) = result {
                        assert!(!err.to_string().is_empty(), "{name}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_page_header_of_a_written_file_passes_the_check() {
        let path = warden_testdata::path("datasets/employment_MA_reference.pq");
        check_parquet_pages(&path).unwrap();
    }

    fn invalid_message(result: Result<ProfiledData>) -> String {
        match result {
            Err(Error::Invalid { message, .. }) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn csv_roles_are_kept_apart_and_schema_inferred() {
        let file = csv_file("id,age,housing,sex,bad\n1,30,own,f,0\n2,45,rent,m,1\n3,,own,m,0\n");
        let plan = ColumnPlan {
            target: Some("bad".into()),
            protected: vec!["sex".into()],
            exclude: vec!["id".into()],
            score: None,
            schema: None,
        };
        let data = profile_file(file.path(), &plan).unwrap();
        assert_eq!(data.format, DataFormat::Csv);
        assert_eq!(data.profile.rows, 3);
        let roles: Vec<_> = data.profile.columns.iter().map(|c| (c.name.as_str(), c.role)).collect();
        assert_eq!(
            roles,
            [
                ("bad", ColumnRole::Target),
                ("sex", ColumnRole::Protected),
                ("age", ColumnRole::Feature),
                ("housing", ColumnRole::Feature)
            ]
        );
        let names: Vec<_> = data.feature_schema.iter().map(|f| (f.name.as_str(), f.kind, f.nullable)).collect();
        assert_eq!(names, [("age", ColumnType::Numeric, true), ("housing", ColumnType::Categorical, false)]);
        assert_eq!(data.feature_schema[1].categories, Some(vec!["own".into(), "rent".into()]));
    }

    #[test]
    fn malformed_csv_names_line_and_column() {
        let plan = ColumnPlan::default();
        let ragged = invalid_message(profile_file(csv_file("a,b\n1,2\n3\n").path(), &plan));
        assert_eq!(ragged, "line 3: expected 2 fields, found 1");
        let text = invalid_message(profile_file(csv_file("a,b\n1,2\n3,x\n4,5\n").path(), &plan));
        assert_eq!(text, "line 3, column 'b': expected a number, found 'x'");
        let header_only = invalid_message(profile_file(csv_file("a,b\n").path(), &plan));
        assert!(header_only.contains("no data rows"), "{header_only}");
        let empty = invalid_message(profile_file(csv_file("").path(), &plan));
        assert!(empty.contains("empty"), "{empty}");
        let dup = invalid_message(profile_file(csv_file("a,a\n1,2\n").path(), &plan));
        assert!(dup.contains("appears twice"), "{dup}");
    }

    #[test]
    fn missing_target_is_named() {
        let plan = ColumnPlan { target: Some("default".into()), ..Default::default() };
        let message = invalid_message(profile_file(csv_file("a,b\n1,2\n").path(), &plan));
        assert_eq!(message, "reference data has no column 'default' (declared as target)");
    }

    #[test]
    fn fingerprint_counts_rows() {
        let file = csv_file("a,b\n1,2\n3,4\n");
        let (sha, rows) = fingerprint(file.path()).unwrap();
        assert_eq!(rows, 2);
        assert_eq!(sha.len(), 64);
    }

    /// The NannyML employment reference ships as Parquet with pandas categoricals (dictionary columns).
    #[test]
    fn parquet_with_dictionary_columns_matches_its_csv_rendering() {
        let dir = warden_testdata::path("datasets");
        let plan = ColumnPlan {
            target: Some("employed".into()),
            protected: vec!["SEX".into(), "RAC1P".into()],
            exclude: vec!["id".into()],
            score: None,
            schema: None,
        };
        let parquet = profile_file(&dir.join("employment_MA_reference.pq"), &plan);
        let csv = profile_file(&dir.join("employment_MA_reference.csv"), &plan);
        let (parquet, csv) = (parquet.unwrap(), csv.unwrap());
        assert_eq!(parquet.format, DataFormat::Parquet);
        assert_eq!(parquet.profile.rows, 68_785);
        let sex = parquet.profile.columns.iter().find(|c| c.name == "SEX").unwrap();
        let ColumnSummary::Categorical(sex) = &sex.summary else { panic!("SEX is categorical in Parquet") };
        assert_eq!((sex.frequencies["1"], sex.frequencies["2"]), (33_094, 35_691));
        // Numeric columns agree exactly between the two renderings.
        for column in parquet.profile.columns.iter().filter(|c| c.summary.column_type() == ColumnType::Numeric) {
            let twin = csv.profile.columns.iter().find(|c| c.name == column.name).unwrap();
            assert_eq!(column.summary, twin.summary, "{}", column.name);
        }
    }
}
