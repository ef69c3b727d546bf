//! Human-readable output: aligned tables and key/value blocks.

use serde_json::Value;

/// Widest cell a table prints; longer text is cut with an ellipsis (`model show` prints it whole).
const MAX_CELL: usize = 160;

/// Prints rows under a header, columns padded to their widest cell. Cells are printable (control characters
/// escaped) and cut at [`MAX_CELL`] characters, so stored text can neither drive the terminal nor make
/// the table unprintable.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) {
    let shown = |cell: &str| -> String {
        let text = warden_registry::text::printable(cell);
        if text.chars().count() <= MAX_CELL {
            text.into_owned()
        } else {
            text.chars().take(MAX_CELL - 1).chain(['…']).collect()
        }
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let rows: Vec<Vec<String>> = rows.iter().map(|row| row.iter().map(|c| shown(c)).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count()))))
            .collect();
        outln!("{}", padded.join("  ").trim_end());
    };
    line(&header);
    for row in &rows {
        line(row);
    }
}

/// Prints `key: value` lines; each line of a value is printable (control characters escaped).
pub(crate) fn fields(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in pairs {
        let value: Vec<_> = value.split('\n').map(warden_registry::text::printable).collect();
        outln!("{:<width$}  {}", format!("{key}:"), value.join("\n"), width = width + 1);
    }
}

/// A JSON value as a cell: strings bare, null as "-".
pub(crate) fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format_number(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Numbers to a readable precision.
pub(crate) fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.6}").trim_end_matches('0').to_string()
    }
}

/// Prints JSON (keys sorted, as `serde_json::Value` keeps them, whatever type it comes from).
pub(crate) fn json(value: &impl serde::Serialize) {
    let value = serde_json::to_value(value).expect("JSON prints");
    outln!("{}", serde_json::to_string_pretty(&value).expect("JSON prints"));
}

/// A typed field as a cell, as [`cell`] shows the same field's JSON: strings bare, null as "-", floats to a
/// readable precision, lists joined with commas.
pub(crate) trait Cell {
    /// The cell.
    fn cell(&self) -> String;
}

impl Cell for str {
    fn cell(&self) -> String {
        self.to_owned()
    }
}

impl Cell for String {
    fn cell(&self) -> String {
        self.clone()
    }
}

impl Cell for f64 {
    fn cell(&self) -> String {
        format_number(*self)
    }
}

impl Cell for bool {
    fn cell(&self) -> String {
        self.to_string()
    }
}

macro_rules! display_cells {
    ($($t:ty),*) => {$(
        impl Cell for $t {
            fn cell(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
display_cells!(
    i64,
    u64,
    i32,
    u32,
    usize,
    warden_core::RiskTier,
    warden_core::Severity,
    warden_core::AlertState,
    warden_core::IncidentState,
    warden_core::MonitorKind,
    warden_core::JobStatus,
    warden_core::Route,
    warden_core::FindingKind,
    warden_core::FindingSeverity,
    warden_core::FindingState
);

/// A time as a person reads it: RFC 3339 in UTC, to the second (`--json` keeps the microseconds).
impl Cell for warden_core::Timestamp {
    fn cell(&self) -> String {
        self.whole_seconds().to_string()
    }
}

impl<T: Cell> Cell for Option<T> {
    fn cell(&self) -> String {
        self.as_ref().map_or_else(|| "-".into(), Cell::cell)
    }
}

impl<T: Cell> Cell for Vec<T> {
    fn cell(&self) -> String {
        self.iter().map(Cell::cell).collect::<Vec<_>>().join(",")
    }
}

impl<T: Cell + ?Sized> Cell for &T {
    fn cell(&self) -> String {
        (**self).cell()
    }
}

/// Peak resident memory of this process (Linux `VmHWM`), for `--timing` lines.
pub(crate) fn peak_memory() -> String {
    let kib = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse::<f64>().ok()
    });
    kib.map_or("unknown".into(), |kib| format!("{:.1} MiB", kib / 1024.0))
}

/// Microseconds since the epoch as RFC 3339 (UTC, whole seconds).
pub(crate) fn micros_time(micros: i64) -> String {
    warden_core::Timestamp::from_micros(micros).whole_seconds().to_string()
}

/// Open-ended JSON (an event's details, a monitor's settings) for a person: `key value` pairs joined by
/// commas, nested objects in parentheses, lists joined by commas; null and empty values are left out.
pub(crate) fn details(value: &Value) -> String {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !is_empty(v))
            .map(|(k, v)| match (k.strip_suffix("_micros"), v.as_i64()) {
                // Microseconds: a time since the epoch as a date, a duration in seconds.
                (Some(name), Some(micros)) if micros >= EPOCH_TIMES_FROM => {
                    format!("{} {}", name.replace('_', " "), micros_time(micros))
                }
                (Some(name), Some(micros)) => {
                    format!("{} {} s", name.replace('_', " "), format_number(micros as f64 / 1e6))
                }
                _ if v.is_object() => format!("{} ({})", k.replace('_', " "), details(v)),
                _ => format!("{} {}", k.replace('_', " "), details(v)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(items) => {
            let shown: Vec<String> = items.iter().map(details).collect();
            if items.iter().all(|i| !i.is_object()) { shown.join(",") } else { shown.join("; ") }
        }
        Value::Bool(b) => {
            if *b {
                "yes".into()
            } else {
                "no".into()
            }
        }
        other => cell(other),
    }
}

/// Microsecond counts from this one on (1973) are times since the epoch, smaller ones durations.
const EPOCH_TIMES_FROM: i64 = 100_000_000_000_000;

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn details_read_as_words_not_json() {
        let event = json!({"value": 0.31, "refused": 0, "fields": {}, "note": null,
                           "groups": {"female": [428, 306], "male": [612, 540]}, "done": false});
        assert_eq!(details(&event), "done no, groups (female 428,306, male 612,540), refused 0, value 0.31");
        assert_eq!(
            details(&json!({"window_seconds": 600, "learned": {"k": 3.0}})),
            "learned (k 3), window seconds 600"
        );
        assert_eq!(details(&json!({})), "");
        assert_eq!(
            details(&json!({"detect_micros": 78_996, "opened_at_micros": 1_764_892_800_123_456_i64})),
            "detect 0.078996 s, opened at 2025-12-05T00:00:00Z"
        );
    }

    #[test]
    fn micros_read_as_utc_dates() {
        assert_eq!(micros_time(1_764_892_800_123_456), "2025-12-05T00:00:00Z");
        assert_eq!(warden_core::Timestamp::from_micros(1_764_892_800_123_456).cell(), "2025-12-05T00:00:00Z");
    }
}
