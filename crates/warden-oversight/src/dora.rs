//! The content of a DORA major ICT-related incident report (initial notification, intermediate or final
//! report), in the data fields of the ESAs' reporting template (Annex II of Commission Implementing Regulation
//! (EU) 2025/302), filled with what Warden holds: the incident and its timeline, the DORA classification, the
//! reports recorded as submitted, the affected model, and its production decisions in the affected period
//! (counts, people, exposure, expected loss). A field only the firm knows (its identifiers and contacts, the
//! incident's type, costs, root cause) is listed as to be completed, never guessed.
//!
//! Each report includes the sections before its own (the template is cumulative: an intermediate report
//! updates the initial notification's fields). [`assemble`] is pure; [`report`] gathers its facts.

use serde::Serialize;
use serde_json::{Value, json};
use warden_core::{Framework, ReportKind, Timestamp};
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry;
use warden_store::metadata::{IncidentReportRow, PeriodDecisions};

use crate::alerts::Incident;
use crate::{Error, Oversight, Result};

pub use warden_core::ReportFieldSource as Source;

/// One data field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub key: &'static str,
    /// The template's name for it.
    pub label: &'static str,
    /// Null when the firm completes it.
    pub value: Value,
    pub source: Source,
}

/// One section of the template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub title: &'static str,
    pub fields: Vec<Field>,
}

/// A report's content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoraReport {
    pub incident_id: i64,
    pub kind: ReportKind,
    /// When it was assembled (µs).
    pub generated_at: i64,
    /// The affected period the decision figures cover: from the incident's occurrence to its resolution (or
    /// now), µs.
    pub period_from: i64,
    pub period_to: i64,
    pub sections: Vec<Section>,
    /// The keys of the fields the firm completes.
    pub to_complete: Vec<&'static str>,
}

/// What a report is assembled from.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub incident: Incident,
    /// The incident's timeline, oldest first (as `alerts::incident` gives it).
    pub timeline: Vec<Value>,
    /// The DORA classification in force: when classified, when the firm became aware, its note.
    pub classified_at: i64,
    pub aware_at: i64,
    pub note: String,
    /// Reports recorded as submitted under DORA.
    pub submitted: Vec<IncidentReportRow>,
    pub use_case: String,
    pub business_line: String,
    /// Versions the incident's alerts name, with their artifacts' SHA-256.
    pub versions: Vec<(i64, String)>,
    /// Production decisions in the period, and the people they name (`None`: the model declares no subject
    /// key).
    pub decisions: Vec<PeriodDecisions>,
    pub people: Option<i64>,
    /// The exposure column and, per version, its LGD and approving decision (for expected loss).
    pub exposure_column: Option<String>,
    pub loss_terms: Vec<(i64, Option<f64>, String)>,
    /// Seconds the model was suspended (its fallback answering) within the period.
    pub suspended_seconds: i64,
    pub now: i64,
}

/// The affected period: from the first decision of the window that first breached (the incident's opening less
/// its time to detect) to its resolution, or `now` while it is open.
pub fn period(incident: &Incident, now: i64) -> (i64, i64) {
    let from = incident.opened_at - (incident.time_to_detect_seconds * 1e6) as i64;
    (from.min(incident.opened_at), incident.resolved_at.unwrap_or(now).max(incident.opened_at))
}

fn at(micros: i64) -> Value {
    json!(Timestamp::from_micros(micros).to_string())
}

fn field(key: &'static str, label: &'static str, value: Value, source: Source) -> Field {
    Field { key, label, value, source }
}

fn firm(key: &'static str, label: &'static str) -> Field {
    Field { key, label, value: Value::Null, source: Source::Firm }
}

/// Assembles the report of `kind` from `facts`. Pure.
pub fn assemble(kind: ReportKind, facts: &Facts) -> DoraReport {
    let (from, to) = period(&facts.incident, facts.now);
    let decisions: i64 = facts.decisions.iter().map(|d| d.count).sum();
    let fallback: i64 = facts.decisions.iter().filter(|d| d.fallback).map(|d| d.count).sum();
    let mut by_decision: std::collections::BTreeMap<&str, i64> = Default::default();
    for d in &facts.decisions {
        *by_decision.entry(d.decision.as_str()).or_default() += d.count;
    }
    let exposure: f64 = facts.decisions.iter().map(|d| d.exposure).sum();
    let with_exposure: i64 = facts.decisions.iter().map(|d| d.with_exposure).sum();
    let expected_loss: f64 = facts
        .decisions
        .iter()
        .filter(|d| !d.fallback)
        .filter_map(|d| {
            let (_, lgd, approve) = facts.loss_terms.iter().find(|(v, _, _)| *v == d.version)?;
            (d.decision == *approve).then_some(lgd.map(|lgd| lgd * d.score_exposure)).flatten()
        })
        .sum();
    let has_loss_terms = facts.exposure_column.is_some() && facts.loss_terms.iter().any(|(_, lgd, _)| lgd.is_some());
    let actions: Vec<Value> = facts
        .timeline
        .iter()
        .filter(|e| e["kind"] == "action")
        .map(|e| json!({"at": e["at"].as_i64().map(at), "action": e["summary"]}))
        .collect();
    let first_report_reference =
        facts.submitted.iter().filter(|r| r.kind == "initial").map(|r| r.reference.clone()).next();
    let submission = match kind {
        ReportKind::Initial => "initial notification",
        ReportKind::Intermediate => "intermediate report",
        _ => "final report",
    };

    let mut sections = vec![Section {
        title: "General information about the financial entity",
        fields: vec![
            field("type_of_submission", "Type of submission", json!(submission), Source::Incident),
            firm("name_of_the_entity_submitting_the_report", "Name of the entity submitting the report"),
            firm(
                "identification_code_of_the_entity_submitting_the_report",
                "Identification code (LEI) of the entity submitting the report",
            ),
            firm("type_of_financial_entity_affected", "Type of financial entity affected"),
            firm("primary_contact_person", "Primary contact person: name, email, telephone"),
            firm("reporting_currency", "Reporting currency"),
        ],
    }];
    let description = format!(
        "{} (model '{}', {}); opened by Warden's monitoring at {}",
        facts.incident.title,
        facts.incident.model,
        if facts.use_case.is_empty() { "no use case recorded".to_owned() } else { facts.use_case.clone() },
        Timestamp::from_micros(facts.incident.opened_at)
    );
    sections.push(Section {
        title: "Initial notification",
        fields: vec![
            field(
                "incident_reference_code_provided_by_the_financial_entity",
                "Incident reference code provided by the financial entity",
                json!(format!("warden-incident-{}", facts.incident.id)),
                Source::Incident,
            ),
            field(
                "date_and_time_of_detection",
                "Date and time of detection of the incident",
                at(facts.aware_at),
                Source::Classification,
            ),
            field(
                "date_and_time_of_classification",
                "Date and time of classification of the incident as major",
                at(facts.classified_at),
                Source::Classification,
            ),
            field(
                "description_of_the_incident",
                "Description of the major ICT-related incident",
                json!(description),
                Source::Incident,
            ),
            field(
                "classification_criteria_evidence",
                "Classification criteria that triggered the report: what the decision log evidences",
                json!({"transactions_affected": decisions, "clients_affected": facts.people,
                       "expected_loss": has_loss_terms.then_some(expected_loss)}),
                Source::DecisionLog,
            ),
            field(
                "discovery_of_the_incident",
                "Discovery of the incident",
                json!("monitoring systems"),
                Source::Incident,
            ),
            firm(
                "originates_from_a_third_party_provider",
                "Indication whether the incident originates from a third-party provider",
            ),
            field(
                "activation_of_business_continuity_plan",
                "Activation of business continuity plan, if activated",
                json!(actions.iter().filter_map(|a| a["action"].as_str()).collect::<Vec<_>>()),
                Source::Incident,
            ),
            field("other_information", "Other information", json!(facts.note), Source::Classification),
        ],
    });
    if kind != ReportKind::Initial {
        let restored = facts.incident.resolved_at;
        sections.push(Section {
            title: "Intermediate report",
            fields: vec![
                field(
                    "incident_reference_code_provided_by_the_competent_authority",
                    "Incident reference code provided by the competent authority",
                    json!(first_report_reference),
                    Source::Reports,
                ),
                field("date_and_time_of_occurrence", "Date and time of occurrence of the incident", at(from), Source::Incident),
                field(
                    "date_and_time_services_restored",
                    "Date and time when services, activities or operations have been recovered",
                    json!(restored.map(|r| Timestamp::from_micros(r).to_string())),
                    Source::Incident,
                ),
                field("number_of_clients_affected", "Number of clients affected", json!(facts.people), Source::DecisionLog),
                field("number_of_affected_transactions", "Number of affected transactions", json!(decisions), Source::DecisionLog),
                field(
                    "value_of_affected_transactions",
                    "Value of affected transactions",
                    json!(facts.exposure_column.as_ref().map(|_| exposure)),
                    Source::DecisionLog,
                ),
                field(
                    "actual_or_estimate",
                    "Information whether the numbers are actual or estimates",
                    json!(format!(
                        "actual: counted from the decision log over {} to {}{}",
                        Timestamp::from_micros(from),
                        Timestamp::from_micros(to),
                        match &facts.exposure_column {
                            Some(column) => format!("; value is the sum of '{column}' over the {with_exposure} decisions that carry it"),
                            None => String::new(),
                        }
                    )),
                    Source::DecisionLog,
                ),
                field("duration_of_the_incident", "Duration of the incident (seconds)", json!((to - from) / 1_000_000), Source::Incident),
                field(
                    "service_downtime",
                    "Service downtime (seconds the model was suspended, its fallback answering)",
                    json!({"seconds": facts.suspended_seconds, "fallback_decisions": fallback}),
                    Source::Registry,
                ),
                firm("type_of_the_incident", "Type of the major ICT-related incident"),
                field(
                    "affected_functional_areas_and_business_processes",
                    "Information about affected functional areas and business processes",
                    json!({"model": facts.incident.model, "use_case": facts.use_case, "business_line": facts.business_line}),
                    Source::Registry,
                ),
                field(
                    "affected_infrastructure_components",
                    "Affected infrastructure components supporting business processes",
                    json!(facts.versions.iter().map(|(v, sha)| json!({"version": v, "artifact_sha256": sha})).collect::<Vec<_>>()),
                    Source::Registry,
                ),
                field(
                    "impact_on_the_financial_interest_of_clients",
                    "Impact on the financial interest of clients: decisions made in the period",
                    json!(by_decision),
                    Source::DecisionLog,
                ),
                firm("reporting_to_other_authorities", "Reporting to other authorities"),
                field(
                    "temporary_actions_taken",
                    "Temporary actions or measures taken or planned to recover from the incident",
                    json!(actions),
                    Source::Incident,
                ),
            ],
        });
    }
    if kind == ReportKind::Final {
        sections.push(Section {
            title: "Final report",
            fields: vec![
                firm(
                    "high_level_classification_of_root_causes",
                    "High-level classification of root causes of the incident",
                ),
                field(
                    "information_about_the_root_causes",
                    "Information about the root causes of the incident (the resolution recorded)",
                    json!(facts.incident.resolution),
                    Source::Incident,
                ),
                firm("date_and_time_root_cause_addressed", "Date and time when the incident root cause was addressed"),
                field(
                    "date_and_time_incident_resolved",
                    "Date and time when the incident was resolved",
                    json!(facts.incident.resolved_at.map(|r| Timestamp::from_micros(r).to_string())),
                    Source::Incident,
                ),
                field(
                    "expected_loss_on_approved_decisions",
                    "Warden's expected loss on the period's approved decisions (Σ PD × LGD × EAD), beside the costs",
                    json!(has_loss_terms.then_some(expected_loss)),
                    Source::DecisionLog,
                ),
                firm(
                    "gross_direct_and_indirect_costs_and_losses",
                    "Amount of gross direct and indirect costs and losses",
                ),
                firm("financial_recoveries", "Amount of financial recoveries"),
                firm(
                    "recurring_non_major_incidents",
                    "Information whether the non-major incidents have been recurring",
                ),
            ],
        });
    }
    // A field whose value Warden could not find is the firm's to complete too.
    let to_complete = sections.iter().flat_map(|s| &s.fields).filter(|f| f.value.is_null()).map(|f| f.key).collect();
    DoraReport {
        incident_id: facts.incident.id,
        kind,
        generated_at: facts.now,
        period_from: from,
        period_to: to,
        sections,
        to_complete,
    }
}

/// The report of `kind` for a DORA-classified incident, as it stands now (reading needs what reading incidents
/// needs). `Invalid` when the incident is not classified under DORA, or `kind` is not one DORA owes.
pub async fn report(warden: &Oversight, caller: &Principal, incident_id: i64, kind: ReportKind) -> Result<DoraReport> {
    caller.require(Permission::ReadDecisions)?;
    if !matches!(kind, ReportKind::Initial | ReportKind::Intermediate | ReportKind::Final) {
        return Err(Error::invalid(format!("kind: DORA owes initial, intermediate and final reports, not '{kind}'")));
    }
    let (incident, timeline) = crate::alerts::incident(warden, caller, incident_id).await?;
    let classification = warden
        .metadata
        .incident_classifications(Some(incident_id), i64::MIN)
        .await?
        .into_iter()
        .rfind(|c| c.framework == Framework::Dora.as_str())
        .ok_or_else(|| {
            Error::invalid(format!(
                "incident {incident_id} is not classified as a DORA major ICT-related incident: classify it first \
                 (`warden clocks classify {incident_id} --framework dora`)"
            ))
        })?;
    let submitted: Vec<IncidentReportRow> = warden
        .metadata
        .incident_reports(incident_id)
        .await?
        .into_iter()
        .filter(|r| r.framework == Framework::Dora.as_str())
        .collect();
    let model = registry::get_model(warden, &Principal::system(), &incident.model).await?;
    let now = warden.now();
    let (from, to) = period(&incident, now);
    let versions = registry::list_versions(warden, &Principal::system(), &incident.model).await?;
    let exposure_column = versions.iter().rev().find_map(|v| v.serving.exposure_column.clone());
    let decisions =
        warden.metadata.period_decisions(&incident.model, from, to, exposure_column.as_deref().unwrap_or("")).await?;
    let named: Vec<i64> = timeline.iter().filter_map(|e| e["version"].as_i64()).collect();
    let affected = versions
        .iter()
        .filter(|v| named.contains(&v.number) || decisions.iter().any(|d| d.version == v.number))
        .map(|v| (v.number, v.artifact_sha256.clone()))
        .collect();
    let loss_terms = versions.iter().map(|v| (v.number, v.serving.lgd, v.serving.negative_decision.clone())).collect();
    let policy = crate::retention::declared(warden, &incident.model).await?;
    let people = match policy.personal.subject_key {
        Some(_) => Some(warden.metadata.period_subjects(&incident.model, from, to).await?),
        None => None,
    };
    let suspended_seconds =
        suspended_within(&warden.metadata.suspensions(&incident.model).await?, from, to) / 1_000_000;
    let facts = Facts {
        incident,
        timeline,
        classified_at: classification.classified_at,
        aware_at: classification.aware_at,
        note: classification.note,
        submitted,
        use_case: model.input.use_case.clone(),
        business_line: model.input.business_line.clone(),
        versions: affected,
        decisions,
        people,
        exposure_column,
        loss_terms,
        suspended_seconds,
        now,
    };
    Ok(assemble(kind, &facts))
}

/// Microseconds of `[from, to)` the model was suspended, from its suspensions and resumptions in order.
fn suspended_within(history: &[warden_store::metadata::SuspensionRow], from: i64, to: i64) -> i64 {
    let mut total = 0;
    let mut since: Option<i64> = None;
    for row in history {
        match (row.action.as_str(), since) {
            ("suspend", None) => since = Some(row.at),
            ("resume", Some(start)) => {
                total += (row.at.min(to) - start.max(from)).max(0);
                since = None;
            }
            _ => {}
        }
    }
    if let Some(start) = since {
        total += (to - start.max(from)).max(0);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::IncidentState;

    const HOUR: i64 = 3_600_000_000;

    fn facts() -> Facts {
        let incident = Incident {
            id: 7,
            model: "credit".into(),
            title: "score_drift critical on credit".into(),
            state: IncidentState::Resolved,
            opened_at: 100 * HOUR,
            resolved_at: Some(130 * HOUR),
            time_to_detect_seconds: 7_200.0,
            time_to_resolve_seconds: Some(30.0 * 3600.0),
            resolved_by: Some("token:rita".into()),
            resolution: Some("a feed sent amounts in cents; fixed upstream".into()),
        };
        let decision = |version, decision: &str, fallback, count, exposure, score_exposure| PeriodDecisions {
            version,
            decision: decision.into(),
            fallback,
            count,
            with_exposure: count,
            exposure,
            score_exposure,
        };
        Facts {
            incident,
            timeline: vec![json!({"at": 101 * HOUR, "kind": "action", "summary": "rollback done", "version": 2})],
            classified_at: 101 * HOUR,
            aware_at: 100 * HOUR,
            note: "payments to 4,000 customers delayed".into(),
            submitted: vec![IncidentReportRow {
                id: 1,
                incident_id: 7,
                at: 102 * HOUR,
                actor: "token:rita".into(),
                framework: "dora".into(),
                kind: "initial".into(),
                submitted_at: 102 * HOUR,
                reference: "CA-2026-0042".into(),
                content_sha256: None,
            }],
            use_case: "consumer credit".into(),
            business_line: "retail".into(),
            versions: vec![(2, "ab".repeat(32))],
            decisions: vec![
                decision(2, "approve", false, 300, 3_000_000.0, 150_000.0),
                decision(2, "decline", false, 100, 1_000_000.0, 700_000.0),
                decision(2, "refer", true, 50, 0.0, 0.0),
            ],
            people: Some(420),
            exposure_column: Some("credit_amount".into()),
            loss_terms: vec![(2, Some(0.45), "approve".into())],
            suspended_seconds: 3_600,
            now: 200 * HOUR,
        }
    }

    fn value<'a>(report: &'a DoraReport, key: &str) -> &'a Value {
        &report.sections.iter().flat_map(|s| &s.fields).find(|f| f.key == key).unwrap_or_else(|| panic!("{key}")).value
    }

    #[test]
    fn each_report_carries_the_sections_before_its_own() {
        let facts = facts();
        let titles = |kind| assemble(kind, &facts).sections.iter().map(|s| s.title).collect::<Vec<_>>();
        assert_eq!(titles(ReportKind::Initial).len(), 2);
        assert_eq!(titles(ReportKind::Intermediate).len(), 3);
        assert_eq!(titles(ReportKind::Final).last(), Some(&"Final report"));
        assert_eq!(value(&assemble(ReportKind::Final, &facts), "type_of_submission"), "final report");
    }

    #[test]
    fn the_figures_come_from_the_period_decisions_and_the_timeline() {
        let report = assemble(ReportKind::Final, &facts());
        // Occurrence: two hours before the incident opened; to its resolution.
        assert_eq!((report.period_from, report.period_to), (98 * HOUR, 130 * HOUR));
        assert_eq!(value(&report, "date_and_time_of_occurrence"), &at(98 * HOUR));
        assert_eq!(value(&report, "duration_of_the_incident"), 32 * 3600);
        assert_eq!(value(&report, "number_of_affected_transactions"), 450);
        assert_eq!(value(&report, "number_of_clients_affected"), 420);
        assert_eq!(value(&report, "value_of_affected_transactions"), 4_000_000.0);
        // LGD × Σ score × exposure over the approved: 0.45 × 150,000.
        assert!((value(&report, "expected_loss_on_approved_decisions").as_f64().unwrap() - 67_500.0).abs() < 1e-6);
        assert_eq!(
            value(&report, "impact_on_the_financial_interest_of_clients"),
            &json!({"approve": 300, "decline": 100, "refer": 50})
        );
        assert_eq!(value(&report, "service_downtime"), &json!({"seconds": 3600, "fallback_decisions": 50}));
        assert_eq!(value(&report, "incident_reference_code_provided_by_the_competent_authority"), "CA-2026-0042");
        assert_eq!(value(&report, "temporary_actions_taken")[0]["action"], "rollback done");
        assert_eq!(value(&report, "date_and_time_of_detection"), &at(100 * HOUR));
    }

    #[test]
    fn what_warden_does_not_hold_is_left_to_the_firm_and_listed() {
        let mut facts = facts();
        facts.people = None;
        facts.exposure_column = None;
        facts.incident.resolved_at = None;
        let report = assemble(ReportKind::Intermediate, &facts);
        for key in [
            "name_of_the_entity_submitting_the_report",
            "type_of_the_incident",
            "number_of_clients_affected",
            "value_of_affected_transactions",
            "date_and_time_services_restored",
        ] {
            assert!(report.to_complete.contains(&key), "{key}: {:?}", report.to_complete);
            assert!(value(&report, key).is_null());
        }
        assert!(!report.to_complete.contains(&"number_of_affected_transactions"));
        // Open: the period runs to now.
        assert_eq!(report.period_to, 200 * HOUR);
    }

    #[test]
    fn suspended_time_counts_only_within_the_period() {
        let row = |action: &str, at: i64| warden_store::metadata::SuspensionRow {
            id: 0,
            model_name: "credit".into(),
            at,
            actor: "a".into(),
            action: action.into(),
            reason: "r".into(),
            fallback: None,
            fallback_version: None,
        };
        let history = [row("suspend", 5), row("resume", 15), row("suspend", 30)];
        assert_eq!(suspended_within(&history, 10, 40), 5 + 10);
        assert_eq!(suspended_within(&history, 16, 29), 0);
        assert_eq!(suspended_within(&[], 0, 100), 0);
    }
}
