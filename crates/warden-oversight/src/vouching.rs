//! Monitor evaluations vouched for by the ledger. Once an hour of the rounds' clock, one `monitor.hour` entry
//! per model vouches for every evaluation of the model stored since the entry before it: the SHA-256 of those
//! rows, and per monitor and version what they came to (how many of each status, the lowest, highest and last
//! value). A round evaluates every ten seconds; reports over months cite these entries (about two thousand a
//! quarter) instead of the evaluations (millions), and the ledger grows by one entry a model an hour.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use warden_ledger::payload_sha256;
use warden_store::metadata::{AuditEventDraft, Micros, MonitorEvaluation, MonitorVouch};

use crate::{Oversight, Result};

/// An hour in µs.
pub const HOUR_MICROS: i64 = 3_600_000_000;
/// The action of the entries.
pub const ACTION: &str = "monitor.hour";
/// Most evaluations one entry vouches for, and one round reads per model: a model with more waiting (after an
/// upgrade, or a ledger that could not be written for a while) catches up one entry per round.
pub const MAX_ROWS: i64 = 20_000;

/// Vouches for the evaluations of every model not vouched for in the hour `at` falls in (a model first
/// evaluated in this hour waits for the next), at most `max_rows` of each model ([`MAX_ROWS`] in a round):
/// how many entries it wrote. The round calls it before it stores its own evaluations, so an entry covers
/// whole rounds of the hours before.
pub async fn vouch(warden: &Oversight, at: Micros, max_rows: i64) -> Result<usize> {
    let hour_start = at - at.rem_euclid(HOUR_MICROS);
    let mut written = 0;
    for vouched in warden.metadata.unvouched_monitor_models(hour_start).await? {
        let rows = warden.metadata.monitor_evaluations_after(&vouched.model_name, vouched.through_id, max_rows).await?;
        let Some(&(through_id, _)) = rows.last() else { continue };
        let event = AuditEventDraft {
            at,
            actor: "warden".into(),
            action: ACTION.into(),
            subject: format!("model/{}", vouched.model_name),
            payload: summary(hour_start, &rows),
        };
        // A full batch leaves the model due again next round, for the rows after it.
        let hour = if rows.len() as i64 == max_rows { vouched.hour_start } else { hour_start };
        let next = MonitorVouch { model_name: vouched.model_name.clone(), through_id, hour_start: hour };
        // `false`: another replica's round vouched first, and its entry covers these rows.
        if warden.metadata.vouch_monitor_evaluations(&next, vouched.through_id, event).await? {
            written += 1;
        }
    }
    Ok(written)
}

/// The rows of one model as one record: each row with its id, in id order.
pub fn rows_record(rows: &[(i64, MonitorEvaluation)]) -> Value {
    Value::Array(
        rows.iter()
            .map(|(id, e)| {
                json!({
                    "id": id, "monitor": e.monitor, "version": e.version, "at": e.at, "window_start": e.window_start,
                    "decisions": e.decisions, "status": e.status, "value": e.value, "details": e.details,
                })
            })
            .collect(),
    )
}

/// A `monitor.hour` payload: the range of rows, their SHA-256, and per monitor and version what they came to.
/// Late revisions (evaluations of a past period, `details.late_revision`) are counted apart: their time is
/// the period's, not the round's.
fn summary(hour_start: Micros, rows: &[(i64, MonitorEvaluation)]) -> Value {
    #[derive(Default)]
    struct Tally {
        statuses: BTreeMap<String, u64>,
        evaluations: u64,
        late_revisions: u64,
        min: Option<f64>,
        max: Option<f64>,
        last: Option<(Micros, Option<f64>, String, i64)>,
    }
    let mut tallies = BTreeMap::<(&str, i64), Tally>::new();
    let (mut from, mut to) = (Micros::MAX, Micros::MIN);
    for (_, e) in rows {
        let tally = tallies.entry((e.monitor.as_str(), e.version)).or_default();
        if e.details.get("late_revision").is_some() {
            tally.late_revisions += 1;
            continue;
        }
        (from, to) = (from.min(e.at), to.max(e.at));
        tally.evaluations += 1;
        *tally.statuses.entry(e.status.clone()).or_default() += 1;
        if let Some(v) = e.value.filter(|v| v.is_finite()) {
            tally.min = Some(tally.min.map_or(v, |m| m.min(v)));
            tally.max = Some(tally.max.map_or(v, |m| m.max(v)));
        }
        tally.last = Some((e.at, e.value.filter(|v| v.is_finite()), e.status.clone(), e.decisions));
    }
    let monitors: Vec<Value> = tallies
        .into_iter()
        .map(|((monitor, version), t)| {
            let (last_at, last, last_status, decisions) = t.last.unwrap_or((0, None, String::new(), 0));
            let mut row = json!({
                "monitor": monitor, "version": version, "evaluations": t.evaluations,
                "late_revisions": t.late_revisions, "min": t.min, "max": t.max, "last": last,
                "last_at": last_at, "last_status": last_status, "last_decisions": decisions,
            });
            for status in ["ok", "warn", "alert", "insufficient", "unavailable"] {
                row[status] = t.statuses.get(status).copied().unwrap_or(0).into();
            }
            row
        })
        .collect();
    let (first_id, through_id) = (rows.first().map_or(0, |r| r.0), rows.last().map_or(0, |r| r.0));
    json!({
        "hour_start": hour_start,
        "first_id": first_id,
        "through_id": through_id,
        "rows": rows.len(),
        "from": (from != Micros::MAX).then_some(from),
        "to": (to != Micros::MIN).then_some(to),
        "rows_sha256": payload_sha256(&rows_record(rows)),
        "monitors": monitors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluation(monitor: &str, at: Micros, status: &str, value: Option<f64>, late: bool) -> MonitorEvaluation {
        let details = if late { json!({"late_revision": {"period_start": 0}}) } else { json!({}) };
        MonitorEvaluation {
            model_name: "m".into(),
            monitor: monitor.into(),
            at,
            version: 1,
            window_start: at - 10,
            decisions: at,
            status: status.into(),
            value,
            details,
        }
    }

    #[test]
    fn a_summary_counts_each_monitors_statuses_and_keeps_late_revisions_apart() {
        let rows = vec![
            (4, evaluation("psi", 100, "ok", Some(0.05), false)),
            (5, evaluation("auc", 100, "insufficient", None, false)),
            (6, evaluation("psi", 200, "alert", Some(0.31), false)),
            (7, evaluation("psi", 50, "warn", Some(0.9), true)),
            (9, evaluation("psi", 300, "warn", Some(0.12), false)),
        ];
        let s = summary(3_600_000_000, &rows);
        assert_eq!((s["first_id"].as_i64(), s["through_id"].as_i64(), s["rows"].as_i64()), (Some(4), Some(9), Some(5)));
        assert_eq!((s["from"].as_i64(), s["to"].as_i64()), (Some(100), Some(300)));
        let psi = &s["monitors"][1];
        assert_eq!(psi["monitor"], "psi");
        assert_eq!(
            [&psi["evaluations"], &psi["ok"], &psi["warn"], &psi["alert"], &psi["late_revisions"]].map(|v| v.as_u64()),
            [Some(3), Some(1), Some(1), Some(1), Some(1)]
        );
        // The late revision's 0.9 is not this hour's.
        assert_eq!(
            (psi["min"].as_f64(), psi["max"].as_f64(), psi["last"].as_f64()),
            (Some(0.05), Some(0.31), Some(0.12))
        );
        assert_eq!((psi["last_at"].as_i64(), psi["last_status"].as_str()), (Some(300), Some("warn")));
        let auc = &s["monitors"][0];
        assert_eq!((auc["insufficient"].as_u64(), auc["max"].is_null()), (Some(1), true));
        // The rows' hash changes with any row.
        let mut edited = rows.clone();
        edited[2].1.value = Some(0.30);
        assert_ne!(s["rows_sha256"], summary(3_600_000_000, &edited)["rows_sha256"]);
    }
}
