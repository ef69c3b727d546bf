//! Incidents on regulators' clocks. An incident is classified under a framework, with the classification's
//! time and when the firm became aware of it; Warden computes when each report to the authority is due,
//! shows what is left, reminds before a report lapses and once it has, and records each report as submitted.
//!
//! The clocks ([`owed`], pure):
//! - DORA major ICT-related incident (the RTS on incident reporting under Art. 20 of Regulation (EU)
//!   2022/2554): the initial notification within 4 hours of classification and no later than 24 hours after
//!   awareness; the intermediate report within 72 hours of the initial notification (submitted, else due);
//!   the final report within one month of the latest intermediate report (submitted, else due).
//! - EU AI Act serious incident (Art. 73): the report no later than 15 days after awareness, 10 days where a
//!   person died, 2 days for a widespread infringement or a serious disruption of critical infrastructure.
//! - Internal severity: recorded, no authority's clock.
//!
//! Classifications and reports are append-only audited writes carrying them; a later classification under the
//! same framework replaces the earlier one's clock (a reclassification). A reminder is sent once per report,
//! stage and due time: `due_soon` when a quarter of the report's span (at most a day) is left, `overdue` once
//! it has passed; each is an audit event and, through the incident's first alert, a webhook notification.

use serde::Serialize;
use serde_json::json;
pub use warden_core::ReportStage;
use warden_core::{AiActGround, Framework, ReportKind};
use warden_registry::auth::{Permission, Principal};
use warden_registry::text::{self, Lines};
use warden_store::metadata::{ClassificationRow, IncidentReportRow, ReportReminder};

use crate::{Error, Oversight, Result};

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
/// The longest a reminder comes ahead of a due time.
const MAX_LEAD: i64 = DAY;
/// How far back the round looks for incidents whose reports may still be owed (a DORA final report is due a
/// month after the intermediate one, which may itself be late).
const WATCHED_MICROS: i64 = 400 * DAY;

/// A classification, as the clocks read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classified {
    pub framework: Framework,
    pub classified_at: i64,
    pub aware_at: i64,
    pub ground: Option<AiActGround>,
}

/// A report submitted, as the clocks read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    pub kind: ReportKind,
    pub submitted_at: i64,
}

/// A report a classification owes, with its due time and whether (and when) it was submitted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Owed {
    pub framework: Framework,
    pub kind: ReportKind,
    /// When it is due (µs).
    pub due_at: i64,
    /// From what the due time is counted, in words.
    pub basis: &'static str,
    /// When the clock started (µs): the span a reminder's lead is a quarter of.
    pub since: i64,
    /// The latest submission of this report (µs): the next report's clock runs from it.
    pub submitted_at: Option<i64>,
    /// The first submission (µs): whether the report was in time is judged on it (a DORA intermediate report
    /// updated later was still in time).
    pub first_submitted_at: Option<i64>,
}

/// The reports a classification owes, in the order they are due. Pure: times in, due times out.
pub fn owed(c: &Classified, submitted: &[Submitted]) -> Vec<Owed> {
    let latest = |kind: ReportKind| submitted.iter().filter(|s| s.kind == kind).map(|s| s.submitted_at).max();
    let first = |kind: ReportKind| submitted.iter().filter(|s| s.kind == kind).map(|s| s.submitted_at).min();
    let report = |kind, since: i64, due_at, basis| Owed {
        framework: c.framework,
        kind,
        due_at,
        basis,
        since,
        submitted_at: latest(kind),
        first_submitted_at: first(kind),
    };
    match c.framework {
        Framework::Dora => {
            let initial_due = (c.classified_at + 4 * HOUR).min(c.aware_at + DAY);
            let initial = report(
                ReportKind::Initial,
                c.classified_at.min(initial_due),
                initial_due,
                "4 h after classification, and no later than 24 h after awareness",
            );
            let after_initial = initial.submitted_at.unwrap_or(initial.due_at);
            let intermediate = report(
                ReportKind::Intermediate,
                after_initial,
                after_initial + 72 * HOUR,
                "72 h after the initial notification (submitted, else due)",
            );
            let after_intermediate = intermediate.submitted_at.unwrap_or(intermediate.due_at);
            let last = report(
                ReportKind::Final,
                after_intermediate,
                add_month(after_intermediate),
                "1 month after the latest intermediate report (submitted, else due)",
            );
            vec![initial, intermediate, last]
        }
        Framework::AiAct => {
            let (days, basis) = match c.ground.unwrap_or(AiActGround::Other) {
                AiActGround::WidespreadOrCriticalInfrastructure => {
                    (2, "2 days after awareness (widespread infringement or critical infrastructure)")
                }
                AiActGround::Death => (10, "10 days after awareness (a death)"),
                AiActGround::Other => (15, "15 days after awareness"),
            };
            vec![report(ReportKind::Report, c.aware_at, c.aware_at + days * DAY, basis)]
        }
        Framework::Internal => Vec::new(),
    }
}

/// The same time a calendar month later (the last day of the month when the day does not exist), UTC.
fn add_month(micros: i64) -> i64 {
    let Some(at) = warden_core::Timestamp::from_micros(micros).to_datetime() else { return micros + 30 * DAY };
    let (year, month) = match at.month() {
        time::Month::December => (at.year() + 1, time::Month::January),
        month => (at.year(), month.next()),
    };
    let day = at.day().min(month.length(year));
    let Ok(date) = time::Date::from_calendar_date(year, month, day) else { return micros + 30 * DAY };
    let moved = at.replace_date(date);
    warden_core::Timestamp::from_datetime(moved).map_or(micros + 30 * DAY, |t| t.micros())
}

/// The stage a report is in at `now`: submitted, overdue, due soon (a quarter of its span, at most a day,
/// left) or running.
pub fn stage(owed: &Owed, now: i64) -> ReportStage {
    match owed.first_submitted_at {
        Some(at) if at <= owed.due_at => ReportStage::Submitted,
        Some(_) => ReportStage::SubmittedLate,
        None if now >= owed.due_at => ReportStage::Overdue,
        None if owed.due_at - now <= ((owed.due_at - owed.since) / 4).clamp(0, MAX_LEAD) => ReportStage::DueSoon,
        None => ReportStage::Running,
    }
}

/// What a person says when classifying an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifyInput {
    pub framework: Framework,
    /// When it was classified (µs): required, since the clock runs from it.
    pub classified_at: Option<i64>,
    /// When the firm became aware (µs); default: when Warden opened the incident.
    pub aware_at: Option<i64>,
    /// The AI Act's ground (AI Act only; default `other`).
    pub ground: Option<AiActGround>,
    /// The internal severity (internal only).
    pub severity: Option<String>,
    pub note: String,
}

/// An incident's clocks: its classifications in force, the reports they owe and where each stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentClocks {
    pub incident_id: i64,
    /// The latest classification per framework.
    pub classifications: Vec<ClassificationRow>,
    pub reports: Vec<IncidentReportRow>,
    /// Each owed report with its stage and the seconds left (negative: overdue).
    pub owed: Vec<(Owed, ReportStage, i64)>,
}

/// Classifies an incident under a framework (validators, risk officers, admins).
pub async fn classify(
    warden: &Oversight,
    caller: &Principal,
    incident_id: i64,
    input: ClassifyInput,
) -> Result<IncidentClocks> {
    caller.require(Permission::ManageMonitors)?;
    text::check("note", &input.note, text::LONG, Lines::Many)?;
    let incident = warden
        .metadata
        .incident(incident_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no incident {incident_id}")))?;
    let Some(classified_at) = input.classified_at else {
        return Err(Error::invalid("classified_at: a classification has a time (the clocks run from it)"));
    };
    let now = warden.now();
    let aware_at = input.aware_at.unwrap_or(incident.opened_at);
    if classified_at > now || aware_at > now {
        return Err(Error::invalid("classified_at and aware_at lie in the past: a clock cannot start in the future"));
    }
    if classified_at < aware_at {
        return Err(Error::invalid("classified_at: an incident is classified after the firm became aware of it"));
    }
    match (input.framework, &input.ground, &input.severity) {
        (Framework::AiAct, _, Some(_)) | (Framework::Dora, _, Some(_)) => {
            return Err(Error::invalid("severity: only an internal classification carries the firm's severity"));
        }
        (Framework::Dora | Framework::Internal, Some(_), _) => {
            return Err(Error::invalid("ground: only an AI Act classification carries a ground"));
        }
        (Framework::Internal, _, None) => {
            return Err(Error::invalid("severity: an internal classification names the firm's severity"));
        }
        (_, _, Some(severity)) => text::check("severity", severity, text::SHORT, Lines::One)?,
        _ => {}
    }
    let row = ClassificationRow {
        id: 0,
        incident_id,
        at: now,
        actor: caller.actor(),
        framework: input.framework.as_str().to_owned(),
        classified_at,
        aware_at,
        ground: input
            .ground
            .or((input.framework == Framework::AiAct).then_some(AiActGround::Other))
            .map(|g| g.as_str().to_owned()),
        severity: input.severity,
        note: input.note,
    };
    let subject = format!("incident/{incident_id}");
    let event = caller.audit_event(now, "incident.classify", subject, json!({}));
    warden.metadata.append_incident_classification(&row, event).await?;
    clocks_of(warden, incident_id, now).await
}

/// Records a report as submitted to the authority.
#[allow(clippy::too_many_arguments)]
pub async fn record_report(
    warden: &Oversight,
    caller: &Principal,
    incident_id: i64,
    framework: Framework,
    kind: ReportKind,
    submitted_at: Option<i64>,
    reference: &str,
    content_sha256: Option<String>,
) -> Result<IncidentClocks> {
    caller.require(Permission::ManageMonitors)?;
    text::check("reference", reference, text::SHORT, Lines::One)?;
    if reference.trim().is_empty() {
        return Err(Error::invalid("reference: a submitted report has the authority's reference (or the firm's)"));
    }
    if let Some(hash) = &content_sha256
        && !(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        return Err(Error::invalid("content_sha256: 64 lower-case hexadecimal digits"));
    }
    let now = warden.now();
    let submitted_at = submitted_at.unwrap_or(now);
    if submitted_at > now {
        return Err(Error::invalid("submitted_at: a report is recorded once it is submitted, not before"));
    }
    let current = clocks_of(warden, incident_id, now).await?;
    if !current.owed.iter().any(|(o, _, _)| o.framework == framework && o.kind == kind) {
        return Err(Error::invalid(format!(
            "incident {incident_id} owes no {framework} {kind} report: classify it under {framework} first (DORA \
             owes initial, intermediate and final reports, the AI Act one report)"
        )));
    }
    let row = IncidentReportRow {
        id: 0,
        incident_id,
        at: now,
        actor: caller.actor(),
        framework: framework.as_str().to_owned(),
        kind: kind.as_str().to_owned(),
        submitted_at,
        reference: reference.to_owned(),
        content_sha256,
    };
    let event = caller.audit_event(now, "incident.report", format!("incident/{incident_id}"), json!({}));
    warden.metadata.append_incident_report(&row, event).await?;
    clocks_of(warden, incident_id, now).await
}

/// An incident's clocks as they stand now (reading needs what reading incidents needs).
pub async fn clocks(warden: &Oversight, caller: &Principal, incident_id: i64) -> Result<IncidentClocks> {
    caller.require(Permission::ReadDecisions)?;
    warden
        .metadata
        .incident(incident_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no incident {incident_id}")))?;
    clocks_of(warden, incident_id, warden.now()).await
}

async fn clocks_of(warden: &Oversight, incident_id: i64, now: i64) -> Result<IncidentClocks> {
    let all = warden.metadata.incident_classifications(Some(incident_id), i64::MIN).await?;
    let reports = warden.metadata.incident_reports(incident_id).await?;
    let classifications = latest_per_framework(all);
    let owed_now = owed_by(&classifications, &reports)?
        .into_iter()
        .map(|o| {
            let (stage, left) = (stage(&o, now), (o.due_at - now).div_euclid(1_000_000));
            (o, stage, left)
        })
        .collect();
    Ok(IncidentClocks { incident_id, classifications, reports, owed: owed_now })
}

/// The reports the classifications in force owe, each under its own framework's submissions.
fn owed_by(classifications: &[ClassificationRow], reports: &[IncidentReportRow]) -> Result<Vec<Owed>> {
    let mut all = Vec::new();
    for c in classifications {
        all.extend(owed(&classified(c)?, &submitted_of(reports, &c.framework)?));
    }
    Ok(all)
}

fn latest_per_framework(all: Vec<ClassificationRow>) -> Vec<ClassificationRow> {
    let mut latest: Vec<ClassificationRow> = Vec::new();
    for row in all {
        latest.retain(|l| l.framework != row.framework);
        latest.push(row);
    }
    latest
}

fn classified(c: &ClassificationRow) -> Result<Classified> {
    let corrupt = |e: warden_core::UnknownValue| Error::Inconsistent(format!("stored classification {}: {e}", c.id));
    Ok(Classified {
        framework: c.framework.parse().map_err(corrupt)?,
        classified_at: c.classified_at,
        aware_at: c.aware_at,
        ground: c.ground.as_deref().map(str::parse).transpose().map_err(corrupt)?,
    })
}

fn submitted_of(reports: &[IncidentReportRow], framework: &str) -> Result<Vec<Submitted>> {
    reports
        .iter()
        .filter(|r| r.framework == framework)
        .map(|r| {
            let kind = r.kind.parse().map_err(|e| Error::Inconsistent(format!("stored report {}: {e}", r.id)))?;
            Ok(Submitted { kind, submitted_at: r.submitted_at })
        })
        .collect()
}

/// Sends the reminders due at `now` (the monitor round calls it): once per report, stage and due time.
/// Returns how many were sent.
pub async fn remind(warden: &Oversight, now: i64) -> Result<usize> {
    let all = warden.metadata.incident_classifications(None, now - WATCHED_MICROS).await?;
    let mut by_incident: std::collections::BTreeMap<i64, Vec<ClassificationRow>> = Default::default();
    for row in all {
        by_incident.entry(row.incident_id).or_default().push(row);
    }
    let mut sent = 0;
    for (incident_id, rows) in by_incident {
        let reports = warden.metadata.incident_reports(incident_id).await?;
        for o in owed_by(&latest_per_framework(rows), &reports)? {
            let stage = match stage(&o, now) {
                ReportStage::DueSoon => "due_soon",
                ReportStage::Overdue => "overdue",
                _ => continue,
            };
            let reminder = ReportReminder {
                incident_id,
                framework: o.framework.as_str().to_owned(),
                kind: o.kind.as_str().to_owned(),
                stage: stage.to_owned(),
                due_at: o.due_at,
                at: now,
            };
            let due = warden_core::Timestamp::from_micros(o.due_at).whole_seconds();
            let summary = match stage {
                "overdue" => format!("incident {incident_id}: the {} {} report was due {due}", o.framework, o.kind),
                _ => format!("incident {incident_id}: the {} {} report is due {due}", o.framework, o.kind),
            };
            let details = json!({"incident": incident_id, "framework": o.framework, "kind": o.kind,
                    "stage": stage, "due_at": o.due_at, "basis": o.basis});
            let event = Principal::system().audit_event(
                now,
                &format!("incident.report_{stage}"),
                format!("incident/{incident_id}"),
                details.clone(),
            );
            let routed = warden.config().webhook.is_some() || warden.config().notification_routes.is_some();
            let payload = routed.then(|| {
                json!({"event": format!("report_{stage}"), "at": now, "actor": "warden", "details": details,
                        "summary": summary})
            });
            if warden.metadata.remind_incident_report(&reminder, event, payload).await? {
                tracing::warn!(incident = incident_id, framework = %o.framework, kind = %o.kind, stage, "{summary}");
                sent += 1;
            }
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        warden_core::Timestamp::parse(text).unwrap().micros()
    }

    fn dora(classified: &str, aware: &str) -> Classified {
        Classified { framework: Framework::Dora, classified_at: at(classified), aware_at: at(aware), ground: None }
    }

    #[test]
    fn dora_owes_an_initial_notification_4_h_after_classification_and_at_most_24_h_after_awareness() {
        let early = owed(&dora("2026-03-02T09:00:00Z", "2026-03-02T08:00:00Z"), &[]);
        assert_eq!(early[0].due_at, at("2026-03-02T13:00:00Z"), "4 h after classification");
        let late = owed(&dora("2026-03-03T06:00:00Z", "2026-03-02T08:00:00Z"), &[]);
        assert_eq!(late[0].due_at, at("2026-03-03T08:00:00Z"), "24 h after awareness comes first");
        // Intermediate 72 h after the initial was due (not submitted); final a month after that.
        assert_eq!(early[1].due_at, at("2026-03-05T13:00:00Z"));
        assert_eq!(early[2].due_at, at("2026-04-05T13:00:00Z"));
        // Submitted, the next clocks run from the submissions (the latest intermediate).
        let submitted = [
            Submitted { kind: ReportKind::Initial, submitted_at: at("2026-03-02T11:30:00Z") },
            Submitted { kind: ReportKind::Intermediate, submitted_at: at("2026-03-04T10:00:00Z") },
            Submitted { kind: ReportKind::Intermediate, submitted_at: at("2026-03-31T10:00:00Z") },
        ];
        let after = owed(&dora("2026-03-02T09:00:00Z", "2026-03-02T08:00:00Z"), &submitted);
        assert_eq!(after[1].due_at, at("2026-03-05T11:30:00Z"));
        assert_eq!(after[1].submitted_at, Some(at("2026-03-31T10:00:00Z")));
        assert_eq!(after[2].due_at, at("2026-04-30T10:00:00Z"), "a month after the latest intermediate report");
    }

    #[test]
    fn a_month_later_keeps_the_day_or_takes_the_months_last() {
        assert_eq!(add_month(at("2026-01-31T10:00:00Z")), at("2026-02-28T10:00:00Z"));
        assert_eq!(add_month(at("2028-01-31T10:00:00Z")), at("2028-02-29T10:00:00Z"));
        assert_eq!(add_month(at("2026-12-15T23:59:59Z")), at("2027-01-15T23:59:59Z"));
    }

    #[test]
    fn the_ai_act_owes_one_report_within_2_10_or_15_days_of_awareness() {
        let aware = "2026-05-01T00:00:00Z";
        for (ground, due) in [
            (Some(AiActGround::WidespreadOrCriticalInfrastructure), "2026-05-03T00:00:00Z"),
            (Some(AiActGround::Death), "2026-05-11T00:00:00Z"),
            (Some(AiActGround::Other), "2026-05-16T00:00:00Z"),
            (None, "2026-05-16T00:00:00Z"),
        ] {
            let c = Classified { framework: Framework::AiAct, classified_at: at(aware), aware_at: at(aware), ground };
            let reports = owed(&c, &[]);
            assert_eq!((reports.len(), reports[0].kind, reports[0].due_at), (1, ReportKind::Report, at(due)));
        }
        let internal = Classified { framework: Framework::Internal, classified_at: 0, aware_at: 0, ground: None };
        assert!(owed(&internal, &[]).is_empty());
    }

    #[test]
    fn a_report_is_due_soon_in_the_last_quarter_of_its_span_at_most_a_day_ahead() {
        let c = dora("2026-03-02T09:00:00Z", "2026-03-02T08:00:00Z");
        let initial = &owed(&c, &[])[0];
        assert_eq!(stage(initial, at("2026-03-02T11:59:00Z")), ReportStage::Running);
        assert_eq!(stage(initial, at("2026-03-02T12:00:00Z")), ReportStage::DueSoon, "1 h of 4 left");
        assert_eq!(stage(initial, at("2026-03-02T13:00:00Z")), ReportStage::Overdue);
        let final_report = &owed(&c, &[])[2];
        let a_day_before = final_report.due_at - DAY;
        assert_eq!(stage(final_report, a_day_before - 1), ReportStage::Running, "a month's quarter is capped at a day");
        assert_eq!(stage(final_report, a_day_before), ReportStage::DueSoon);
        let late = Owed {
            submitted_at: Some(initial.due_at + 1),
            first_submitted_at: Some(initial.due_at + 1),
            ..initial.clone()
        };
        assert_eq!(stage(&late, 0), ReportStage::SubmittedLate);
        // An intermediate report in time and updated later stays in time.
        let submitted = [
            Submitted { kind: ReportKind::Initial, submitted_at: at("2026-03-02T11:30:00Z") },
            Submitted { kind: ReportKind::Intermediate, submitted_at: at("2026-03-04T10:00:00Z") },
            Submitted { kind: ReportKind::Intermediate, submitted_at: at("2026-03-31T10:00:00Z") },
        ];
        let intermediate = &owed(&c, &submitted)[1];
        assert_eq!(stage(intermediate, at("2026-04-01T00:00:00Z")), ReportStage::Submitted);
    }
}
