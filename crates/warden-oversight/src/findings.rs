/*!
Findings: what the second line records against a model and follows to its end — validation findings,
limitations, policy exceptions, vulnerabilities and monitoring breaches.

- A finding is raised with a kind, a severity, a title and a description, on one version or the whole model;
  its due date follows from its severity by the policy in force (`finding_due_days` in the bundle's data).
- Its life: `open` → `remediation_proposed` (the developers say how) → `closed` (a validator, with the
  evidence; also straight from `open`, or from `accepted`), or `accepted` as a limitation until an expiry (a
  risk officer; renewable once expired). A risk officer may grant a policy exception that covers an
  unresolved finding until an expiry; neither lasts longer than the policy's `finding_exception_max_days`.
- Separation of duties, in code: whoever registered a version the finding concerns (any version, for a
  finding on the whole model) never raises a validation finding on it, never closes a finding on it, and
  never accepts or excepts one; whoever proposed a remediation never closes the finding; monitoring breaches
  are raised by Warden only.
- Every change is one audited write: the finding as it then stands is in its ledger entry's payload.
- A critical monitoring breach that opens an incident raises a critical finding on its version by itself.
- The gate reads the findings that concern a version (`gate_view`); the default bundle denies promotion while
  a high or critical one is unresolved and no unexpired exception covers it.
*/

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warden_core::{FindingKind, FindingSeverity, FindingState, ScanFormat};
use warden_scans::ScanFinding;
use warden_store::metadata::{AlertRow, FindingRow};

use crate::{Error, Oversight, Result};
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::{get_model, list_models, list_versions, narrowed_to};
use warden_registry::text::{self, Lines};

/// Days a finding of each severity has when the policy in force does not say (the shipped bundle's figures).
const DEFAULT_DUE_DAYS: [(FindingSeverity, i64); 4] = [
    (FindingSeverity::Critical, 2),
    (FindingSeverity::High, 30),
    (FindingSeverity::Medium, 90),
    (FindingSeverity::Low, 180),
];

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// The longest an exception or acceptance lasts when the policy in force does not say (the shipped figure).
const DEFAULT_EXCEPTION_MAX_DAYS: i64 = 90;

/// A finding as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Id.
    pub id: i64,
    /// Model.
    pub model: String,
    /// The version it concerns (`None`: every version).
    pub version: Option<i64>,
    /// What it records.
    pub kind: FindingKind,
    /// How grave it is.
    pub severity: FindingSeverity,
    /// A line.
    pub title: String,
    /// What was found.
    pub description: String,
    /// Who must remediate it.
    pub owner: String,
    /// Where it is in its life.
    pub state: FindingState,
    /// Who raised it.
    pub raised_by: String,
    /// When (µs since the epoch).
    pub raised_at: i64,
    /// When it must be remediated by (µs).
    pub due_at: i64,
    /// Whether it is unresolved past its due date now.
    pub overdue: bool,
    /// The proposed remediation.
    pub remediation: Option<String>,
    /// Who proposed it.
    pub remediation_by: Option<String>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// When (µs).
    pub closed_at: Option<i64>,
    /// What shows it remediated.
    pub evidence: Option<String>,
    /// Who accepted it as a limitation.
    pub accepted_by: Option<String>,
    /// Until when (µs).
    pub accepted_until: Option<i64>,
    /// Who granted the exception covering it.
    pub exception_by: Option<String>,
    /// Until when (µs).
    pub exception_until: Option<i64>,
    /// Why.
    pub exception_reason: Option<String>,
    /// When it last changed (µs).
    pub updated_at: i64,
    /// The scan an imported vulnerability came from (format, tool and target).
    pub scan_scope: Option<String>,
    /// What makes it the same finding from one import of its scan to the next (rule and location).
    pub scan_key: Option<String>,
}

impl Finding {
    fn of(row: FindingRow, now: i64) -> Result<Finding> {
        let corrupt =
            |what: &str, value: &str| Error::Inconsistent(format!("finding {}: stored {what} '{value}'", row.id));
        let kind = FindingKind::from_str(&row.kind).map_err(|_| corrupt("kind", &row.kind))?;
        let severity = FindingSeverity::from_str(&row.severity).map_err(|_| corrupt("severity", &row.severity))?;
        let state = FindingState::from_str(&row.state).map_err(|_| corrupt("state", &row.state))?;
        let overdue = unresolved(state, row.accepted_until, now) && row.due_at < now;
        Ok(Finding {
            id: row.id,
            model: row.model_name,
            version: row.version,
            kind,
            severity,
            title: row.title,
            description: row.description,
            owner: row.owner,
            state,
            raised_by: row.raised_by,
            raised_at: row.raised_at,
            due_at: row.due_at,
            overdue,
            remediation: row.remediation,
            remediation_by: row.remediation_by,
            closed_by: row.closed_by,
            closed_at: row.closed_at,
            evidence: row.evidence,
            accepted_by: row.accepted_by,
            accepted_until: row.accepted_until,
            exception_by: row.exception_by,
            exception_until: row.exception_until,
            exception_reason: row.exception_reason,
            updated_at: row.updated_at,
            scan_scope: row.scan_scope,
            scan_key: row.scan_key,
        })
    }
}

/// Whether a finding still needs remediating at `now`: open, proposed, or accepted past its expiry.
fn unresolved(state: FindingState, accepted_until: Option<i64>, now: i64) -> bool {
    match state {
        FindingState::Open | FindingState::RemediationProposed => true,
        FindingState::Accepted => accepted_until.is_none_or(|until| until <= now),
        FindingState::Closed => false,
    }
}

/// What a new finding says.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    /// The version it concerns (`None`: every version of the model).
    pub version: Option<i64>,
    /// What it records.
    pub kind: FindingKind,
    /// How grave.
    pub severity: FindingSeverity,
    /// A line.
    pub title: String,
    /// What was found.
    pub description: String,
    /// Who must remediate it (default: the model's owner).
    pub owner: Option<String>,
}

/// Raises a finding on a model (or one of its versions); its due date follows from its severity.
pub async fn raise(warden: &Oversight, caller: &Principal, model: &str, new: NewFinding) -> Result<Finding> {
    caller.require(Permission::RaiseFindings)?;
    text::check("title", &new.title, text::SHORT, Lines::One)?;
    if new.title.trim().is_empty() {
        return Err(Error::invalid("title: a finding needs a title"));
    }
    text::check("description", &new.description, text::LONG, Lines::Many)?;
    if let Some(owner) = &new.owner {
        text::check("owner", owner, text::SHORT, Lines::One)?;
    }
    let found = get_model(warden, caller, model).await?;
    if new.kind == FindingKind::MonitoringBreach && caller.actor() != Principal::system().actor() {
        return Err(Error::Forbidden("monitoring breaches are raised by Warden's monitors, not by hand".into()));
    }
    let registered = registered_by(warden, caller, model, new.version).await?;
    if new.kind == FindingKind::Validation
        && let Some(number) = registered
    {
        return Err(Error::Forbidden(format!(
            "you registered version {number} of '{model}': its validation findings are raised by somebody else"
        )));
    }
    let now = warden.now();
    let days = due_days(warden, new.severity).await?;
    let due_at = days
        .checked_mul(DAY_MICROS)
        .and_then(|span| now.checked_add(span))
        .ok_or_else(|| Error::invalid(format!("the policy's {days} days to remediate are too many")))?;
    let owner = new.owner.clone().unwrap_or(found.input.owner);
    let row = open_row(model, &new, owner, caller.actor(), now, due_at);
    // The event's time is the finding's: the evidence bundle's period selects both alike.
    let event = caller.audit_event(now, "finding.raise", format!("model/{model}/finding"), json!({}));
    let stored = warden.metadata.insert_finding(&row, event).await?;
    Finding::of(stored, now)
}

/// What a breach finding of `incident` says: the mark that it exists (one per incident and version).
fn breach_description(incident: i64) -> String {
    format!("a critical alert opened incident {incident}")
}

/// The breach findings that open critical alerts with an incident should have and lack, raised now: a write
/// that failed, or a stop, between an incident and its finding is healed by the next round. One read of a
/// model's findings covers all its alerts; raising is idempotent (one finding per incident and version, in
/// any state, so a closed one is not raised again).
pub(crate) async fn raise_missing_breaches(warden: &Oversight, open: &[AlertRow]) {
    let mut by_model: BTreeMap<&str, Vec<&AlertRow>> = BTreeMap::new();
    for alert in open.iter().filter(|a| a.severity == "critical" && a.incident_id.is_some()) {
        by_model.entry(alert.model_name.as_str()).or_default().push(alert);
    }
    for (model, alerts) in by_model {
        let known = match warden.metadata.findings(Some(model), None).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::error!(model, %error, "the breach findings could not be checked");
                continue;
            }
        };
        let mut raised: Vec<(i64, i64)> = Vec::new();
        for alert in alerts {
            let Some(incident) = alert.incident_id else { continue };
            let description = breach_description(incident);
            let exists = known.iter().any(|r| {
                r.kind == FindingKind::MonitoringBreach.as_str()
                    && r.version == Some(alert.version)
                    && r.description == description
            });
            if !exists && !raised.contains(&(alert.version, incident)) {
                raised.push((alert.version, incident));
                raise_breach(warden, model, alert.version, &breach_title(alert), incident).await;
            }
        }
    }
}

/// A breach finding's title: what breached, on which version.
pub(crate) fn breach_title(alert: &AlertRow) -> String {
    format!("{} of '{}' on {} version {}", alert.monitor, alert.feature, alert.model_name, alert.version)
}

/// A critical monitoring breach of a production version, which opened incident `incident` or joined it, as a
/// critical finding on that version (raised by Warden, once per incident and version): the version is not
/// promoted again until it is closed or an exception covers it. A failure is logged, never allowed to stop
/// the monitor round that found the breach: the next round raises the finding ([`raise_missing_breaches`]).
pub(crate) async fn raise_breach(warden: &Oversight, model: &str, version: i64, title: &str, incident: i64) {
    let description = breach_description(incident);
    // One finding per incident and version: later critical alerts of the version join it.
    let known = match warden.metadata.findings(Some(model), None).await {
        Ok(rows) => rows.iter().any(|r| {
            r.kind == FindingKind::MonitoringBreach.as_str()
                && r.version == Some(version)
                && r.description == description
        }),
        Err(error) => {
            tracing::error!(model, version, incident, %error, "the breach's finding was not recorded");
            return;
        }
    };
    if known {
        return;
    }
    let new = NewFinding {
        version: Some(version),
        kind: FindingKind::MonitoringBreach,
        severity: FindingSeverity::Critical,
        title: title.chars().take(text::SHORT).collect(),
        description,
        owner: None,
    };
    if let Err(error) = raise(warden, &Principal::system(), model, new).await {
        tracing::error!(model, version, incident, %error, "the breach's finding was not recorded");
    }
}

/// What importing a scanner report did to a version's findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanImport {
    /// The report's format.
    pub format: ScanFormat,
    /// The scanner, as the report names it.
    pub tool: String,
    /// What it scanned, as the report names it.
    pub target: String,
    /// The scan this import replaces the previous import of (format, tool and target).
    pub scope: String,
    /// SHA-256 of the report's bytes, as imported (hex).
    pub report_sha256: String,
    /// Findings the report raised: reported now, unresolved before in no import of this scan.
    pub raised: Vec<Finding>,
    /// Findings of this scan's earlier imports the report no longer has: closed as remediated.
    pub closed: Vec<Finding>,
    /// Findings of this scan's earlier imports reported again (their ids): they stay as they are.
    pub still_reported: Vec<i64>,
}

/// Imports a scanner report on `version` of `model`: each vulnerability it reports becomes a finding, once per
/// rule and location however many imports report it; an unresolved finding of an earlier import of the same
/// scan that this one does not report is closed as remediated, the report being the evidence. The whole import
/// is one transaction with an event per finding and one for the import (its report's SHA-256, what it raised
/// and closed); the report itself is not kept.
pub async fn import(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    version: i64,
    format: ScanFormat,
    target: Option<&str>,
    report: Vec<u8>,
) -> Result<ScanImport> {
    caller.require(Permission::RaiseFindings)?;
    let found = get_model(warden, caller, model).await?;
    // NotFound for a version the model does not have, before the report is read.
    let registered = registered_by(warden, caller, model, Some(version)).await?;
    if let Some(target) = target {
        text::check("target", target, text::SHORT, Lines::One)?;
    }
    let report_sha256 = hex::encode(Sha256::digest(&report));
    // Reading up to 64 MiB is CPU work: off the async workers.
    let mut read = tokio::task::spawn_blocking(move || warden_scans::read(format, &report))
        .await
        .map_err(|e| Error::task("reading the scanner report", e))?
        .map_err(|e| Error::invalid(e.to_string()))?;
    // The caller names what was scanned when the report does not (or to tell two scans of one tool apart).
    if let Some(target) = target.filter(|t| !t.trim().is_empty()) {
        read.target = target.trim().to_owned();
    }
    let scope = read.scope();
    let now = warden.now();

    let earlier: Vec<FindingRow> = warden
        .metadata
        .findings(Some(model), None)
        .await?
        .into_iter()
        .filter(|r| r.version == Some(version) && r.scan_scope.as_deref() == Some(&scope))
        .filter(|r| r.state != FindingState::Closed.as_str())
        .collect();
    let reported: std::collections::HashSet<String> = read.findings.iter().map(ScanFinding::key).collect();
    let known: std::collections::HashMap<&str, i64> =
        earlier.iter().filter_map(|r| Some((r.scan_key.as_deref()?, r.id))).collect();

    let mut due = std::collections::HashMap::new();
    let mut raised = Vec::new();
    for finding in read.findings.iter().filter(|f| !known.contains_key(f.key().as_str())) {
        let days = match due.get(&finding.severity) {
            Some(&days) => days,
            None => *due.entry(finding.severity).or_insert(due_days(warden, finding.severity).await?),
        };
        let new = NewFinding {
            version: Some(version),
            kind: FindingKind::Vulnerability,
            severity: finding.severity,
            title: finding.title.lines().next().unwrap_or("").to_owned(),
            description: format!(
                "{}\n\nReported by {} at {}.",
                finding.description,
                read.tool,
                if finding.location.is_empty() { &read.target } else { &finding.location }
            ),
            owner: None,
        };
        let due_at = now.saturating_add(days.saturating_mul(DAY_MICROS));
        let row = FindingRow {
            scan_scope: Some(scope.clone()),
            scan_key: Some(finding.key()),
            ..open_row(model, &new, found.input.owner.clone(), caller.actor(), now, due_at)
        };
        let payload = json!({ "report_sha256": report_sha256 });
        raised.push((row, caller.audit_event(now, "finding.raise", format!("model/{model}/finding"), payload)));
    }

    let evidence = format!(
        "absent from the {} report of {} imported at {} (SHA-256 {report_sha256})",
        read.tool,
        if read.target.is_empty() { "the same scan" } else { &read.target },
        warden_core::Timestamp::from(now)
    );
    let mut closed = Vec::new();
    let mut still_reported = Vec::new();
    for row in earlier {
        if row.scan_key.as_ref().is_some_and(|key| reported.contains(key)) {
            still_reported.push(row.id);
            continue;
        }
        let changed = FindingRow {
            state: FindingState::Closed.as_str().to_owned(),
            closed_by: Some(caller.actor()),
            closed_at: Some(now),
            evidence: Some(evidence.clone()),
            updated_at: now,
            revision: row.revision + 1,
            ..row.clone()
        };
        let subject = format!("model/{model}/finding/{}", row.id);
        let payload = json!({ "report_sha256": report_sha256 });
        closed.push((changed, caller.audit_event(now, "finding.close", subject, payload)));
    }
    if !closed.is_empty() {
        // Closing is closing, whoever imports: the rights and the separation of duties of `close`.
        caller.require(Permission::CloseFindings)?;
        if let Some(number) = registered {
            return Err(Error::Forbidden(format!(
                "you registered version {number} of '{model}': an import that closes findings on it comes from somebody else"
            )));
        }
        let actor = caller.actor();
        if let Some((row, _)) = closed.iter().find(|(row, _)| row.remediation_by.as_deref() == Some(actor.as_str())) {
            return Err(Error::Forbidden(format!(
                "you proposed finding {}'s remediation: an import that closes it comes from somebody else",
                row.id
            )));
        }
    }

    let summary = json!({
        "format": format, "tool": read.tool, "target": read.target, "scope": scope, "report_sha256": report_sha256,
        "raised": raised.iter().map(|(r, _)| r.scan_key.clone()).collect::<Vec<_>>(),
        "closed": closed.iter().map(|(r, _)| r.id).collect::<Vec<_>>(),
        "still_reported": still_reported,
    });
    let event = caller.audit_event(now, "finding.import", format!("model/{model}/version/{version}/scan"), summary);
    let (raised, closed) = warden.metadata.import_findings(raised, closed, event).await?;
    let shown = |rows: Vec<FindingRow>| rows.into_iter().map(|r| Finding::of(r, now)).collect::<Result<Vec<_>>>();
    Ok(ScanImport {
        format,
        tool: read.tool,
        target: read.target,
        scope,
        report_sha256,
        raised: shown(raised)?,
        closed: shown(closed)?,
        still_reported,
    })
}

/// A new finding's row: open, raised by `raised_by` at `now`, due at `due_at`, owned by `owner`.
fn open_row(model: &str, new: &NewFinding, owner: String, raised_by: String, now: i64, due_at: i64) -> FindingRow {
    FindingRow {
        id: 0,
        model_name: model.to_owned(),
        version: new.version,
        kind: new.kind.as_str().to_owned(),
        severity: new.severity.as_str().to_owned(),
        title: new.title.clone(),
        description: new.description.clone(),
        owner,
        state: FindingState::Open.as_str().to_owned(),
        raised_by,
        raised_at: now,
        due_at,
        remediation: None,
        remediation_by: None,
        closed_by: None,
        closed_at: None,
        evidence: None,
        accepted_by: None,
        accepted_until: None,
        exception_by: None,
        exception_until: None,
        exception_reason: None,
        updated_at: now,
        revision: 1,
        scan_scope: None,
        scan_key: None,
    }
}

/// One finding.
pub async fn get(warden: &Oversight, caller: &Principal, id: i64) -> Result<Finding> {
    caller.require_somewhere(Permission::ReadRegistry)?;
    let row = stored(warden, id).await?;
    // Reading it needs the right to read its model (a scoped role: a scope covering it).
    let narrowed = narrowed_to(warden, caller, &row.model_name).await?;
    get_model(warden, &narrowed, &row.model_name).await?;
    Finding::of(row, warden.now())
}

/// Findings, newest first: of one model and in one state when given; `overdue` keeps those past due.
pub async fn list(
    warden: &Oversight,
    caller: &Principal,
    model: Option<&str>,
    state: Option<FindingState>,
    overdue: bool,
) -> Result<Vec<Finding>> {
    let readable = readable_models(warden, caller, model).await?;
    let now = warden.now();
    let mut rows = warden.metadata.findings(model, state.map(FindingState::as_str)).await?;
    rows.retain(|row| readable.contains(&row.model_name));
    let all: Result<Vec<Finding>> = rows.into_iter().map(|row| Finding::of(row, now)).collect();
    Ok(all?.into_iter().filter(|f| !overdue || f.overdue).collect())
}

/// The models whose records the caller may read: `model` alone when given (refused when it may not read it),
/// else every model its roles or scopes cover.
pub(crate) async fn readable_models(
    warden: &Oversight,
    caller: &Principal,
    model: Option<&str>,
) -> Result<std::collections::HashSet<String>> {
    Ok(match model {
        Some(model) => {
            let narrowed = narrowed_to(warden, caller, model).await?;
            std::iter::once(get_model(warden, &narrowed, model).await?.input.name).collect()
        }
        None => list_models(warden, caller).await?.into_iter().map(|m| m.input.name).collect(),
    })
}

/// The owner proposes how an open finding is remediated.
pub async fn propose(warden: &Oversight, caller: &Principal, id: i64, remediation: &str) -> Result<Finding> {
    caller.require(Permission::ProposeRemediation)?;
    required("remediation", remediation)?;
    let row = stored(warden, id).await?;
    let state = state_of(&row)?;
    if state != FindingState::Open {
        return Err(Error::Conflict(format!("finding {id} is {state}: only an open finding takes a remediation")));
    }
    let now = warden.now();
    let changed = FindingRow {
        state: FindingState::RemediationProposed.as_str().to_owned(),
        remediation: Some(remediation.to_owned()),
        remediation_by: Some(caller.actor()),
        updated_at: now,
        revision: row.revision + 1,
        ..row.clone()
    };
    write(warden, caller, "finding.propose", &row, changed, json!({})).await
}

/// A validator closes a finding as remediated (an accepted limitation too, once a version fixes it), with the
/// evidence.
pub async fn close(warden: &Oversight, caller: &Principal, id: i64, evidence: &str) -> Result<Finding> {
    caller.require(Permission::CloseFindings)?;
    required("evidence", evidence)?;
    let row = stored(warden, id).await?;
    let state = state_of(&row)?;
    if state == FindingState::Closed {
        return Err(Error::Conflict(format!("finding {id} is closed already")));
    }
    if let Some(number) = registered_by(warden, caller, &row.model_name, row.version).await? {
        return Err(Error::Forbidden(format!(
            "you registered version {number} of '{}': findings on it are closed by somebody else",
            row.model_name
        )));
    }
    if row.remediation_by.as_ref().is_some_and(|by| *by == caller.actor()) {
        return Err(Error::Forbidden(format!("you proposed finding {id}'s remediation: somebody else must close it")));
    }
    let now = warden.now();
    let changed = FindingRow {
        state: FindingState::Closed.as_str().to_owned(),
        closed_by: Some(caller.actor()),
        closed_at: Some(now),
        evidence: Some(evidence.to_owned()),
        updated_at: now,
        revision: row.revision + 1,
        ..row.clone()
    };
    write(warden, caller, "finding.close", &row, changed, json!({})).await
}

/// A risk officer accepts an unresolved finding as a limitation until `until` (µs), with the reason.
pub async fn accept(warden: &Oversight, caller: &Principal, id: i64, until: i64, reason: &str) -> Result<Finding> {
    // An acceptance that has expired may be renewed.
    let (row, now) = to_decide(warden, caller, id, until, reason, "only an unresolved finding can be accepted").await?;
    let changed = FindingRow {
        state: FindingState::Accepted.as_str().to_owned(),
        accepted_by: Some(caller.actor()),
        accepted_until: Some(until),
        updated_at: now,
        revision: row.revision + 1,
        ..row.clone()
    };
    write(warden, caller, "finding.accept", &row, changed, json!({ "reason": reason })).await
}

/// A risk officer grants a policy exception covering an unresolved finding until `until` (µs): the gate
/// passes over it until then.
pub async fn except(warden: &Oversight, caller: &Principal, id: i64, until: i64, reason: &str) -> Result<Finding> {
    let (row, now) = to_decide(warden, caller, id, until, reason, "it needs no exception").await?;
    let changed = FindingRow {
        exception_by: Some(caller.actor()),
        exception_until: Some(until),
        exception_reason: Some(reason.to_owned()),
        updated_at: now,
        revision: row.revision + 1,
        ..row.clone()
    };
    write(warden, caller, "finding.except", &row, changed, json!({})).await
}

/// The unresolved finding a risk officer accepts or excepts until `until`, with the time now: the caller may
/// grant, gives a reason and an expiry the policy allows, and did not register a version it concerns.
/// `Conflict` (with `refusal`) when the finding is resolved.
async fn to_decide(
    warden: &Oversight,
    caller: &Principal,
    id: i64,
    until: i64,
    reason: &str,
    refusal: &str,
) -> Result<(FindingRow, i64)> {
    caller.require(Permission::GrantExceptions)?;
    required("reason", reason)?;
    let now = warden.now();
    let row = stored(warden, id).await?;
    expiry(warden, until, now).await?;
    if let Some(number) = registered_by(warden, caller, &row.model_name, row.version).await? {
        return Err(Error::Forbidden(format!(
            "you registered version {number} of '{}': somebody else decides on its findings",
            row.model_name
        )));
    }
    let state = state_of(&row)?;
    if !unresolved(state, row.accepted_until, now) {
        return Err(Error::Conflict(format!("finding {id} is {state}: {refusal}")));
    }
    Ok((row, now))
}

/// The remediation target the board draws for critical vulnerabilities (hours from raised to closed), as the
/// DevSecOps practice measures it.
pub const CRITICAL_VULNERABILITY_TARGET_HOURS: f64 = 48.0;

/// Unresolved findings by severity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SeverityCounts {
    /// Low.
    pub low: u64,
    /// Medium.
    pub medium: u64,
    /// High.
    pub high: u64,
    /// Critical.
    pub critical: u64,
}

/// Unresolved findings by the days since they were raised.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgeCounts {
    /// Under 7 days.
    pub under_7_days: u64,
    /// 7 to 30 days.
    pub from_7_to_30_days: u64,
    /// 30 to 90 days.
    pub from_30_to_90_days: u64,
    /// 90 days or more.
    pub over_90_days: u64,
}

/// How long findings of one kind and severity took to remediate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemediationTime {
    /// Kind.
    pub kind: FindingKind,
    /// Severity.
    pub severity: FindingSeverity,
    /// Findings closed in the period.
    pub closed: u64,
    /// Mean hours from raised to closed (`None`: none closed).
    pub mean_hours: Option<f64>,
    /// The target, where the board has one (critical vulnerabilities: 48 hours).
    pub target_hours: Option<f64>,
    /// Of those closed, how many within the target.
    pub within_target: Option<u64>,
}

/// A model's unresolved and overdue findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFindings {
    /// Model.
    pub model: String,
    /// Unresolved now.
    pub open: u64,
    /// Of which past due.
    pub overdue: u64,
}

/// The board's findings figures: what is unresolved now (by severity, age and model, and how much is overdue)
/// and how long remediation took over the period (closed findings, by kind and severity).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FindingKpis {
    /// Unresolved now, by severity.
    pub open_by_severity: SeverityCounts,
    /// Unresolved now, by age.
    pub open_by_age: AgeCounts,
    /// Unresolved past their due date now.
    pub overdue: u64,
    /// Mean time to remediate, by kind and severity, over findings closed in the period (and always a row for
    /// critical vulnerabilities, with their target).
    pub time_to_remediate: Vec<RemediationTime>,
    /// Models with unresolved findings, most first.
    pub per_model: Vec<ModelFindings>,
}

/// The findings figures at `now`, remediation over findings closed since `since` (µs).
pub(crate) async fn kpis(warden: &Oversight, since: i64, now: i64) -> Result<FindingKpis> {
    let rows = warden.metadata.findings(None, None).await?;
    let mut k = FindingKpis::default();
    let mut per_model: std::collections::BTreeMap<String, (u64, u64)> = std::collections::BTreeMap::new();
    let mut remediation: std::collections::BTreeMap<(FindingKind, FindingSeverity), Vec<f64>> =
        std::collections::BTreeMap::new();
    remediation.insert((FindingKind::Vulnerability, FindingSeverity::Critical), Vec::new());
    for row in rows {
        let f = Finding::of(row, now)?;
        if unresolved(f.state, f.accepted_until, now) {
            let severity = match f.severity {
                FindingSeverity::Low => &mut k.open_by_severity.low,
                FindingSeverity::Medium => &mut k.open_by_severity.medium,
                FindingSeverity::High => &mut k.open_by_severity.high,
                FindingSeverity::Critical => &mut k.open_by_severity.critical,
            };
            *severity += 1;
            let age = match (now - f.raised_at) / DAY_MICROS {
                ..7 => &mut k.open_by_age.under_7_days,
                7..30 => &mut k.open_by_age.from_7_to_30_days,
                30..90 => &mut k.open_by_age.from_30_to_90_days,
                _ => &mut k.open_by_age.over_90_days,
            };
            *age += 1;
            k.overdue += u64::from(f.overdue);
            let entry = per_model.entry(f.model.clone()).or_default();
            entry.0 += 1;
            entry.1 += u64::from(f.overdue);
        }
        if f.state == FindingState::Closed
            && let Some(closed_at) = f.closed_at.filter(|&at| at >= since)
        {
            let hours = (closed_at - f.raised_at) as f64 / 3.6e9;
            remediation.entry((f.kind, f.severity)).or_default().push(hours);
        }
    }
    k.time_to_remediate = remediation
        .into_iter()
        .map(|((kind, severity), hours)| {
            let target = (kind == FindingKind::Vulnerability && severity == FindingSeverity::Critical)
                .then_some(CRITICAL_VULNERABILITY_TARGET_HOURS);
            RemediationTime {
                kind,
                severity,
                closed: hours.len() as u64,
                mean_hours: (!hours.is_empty()).then(|| hours.iter().sum::<f64>() / hours.len() as f64),
                target_hours: target,
                within_target: target.map(|t| hours.iter().filter(|&&h| h <= t).count() as u64),
            }
        })
        .collect();
    let mut per_model: Vec<ModelFindings> =
        per_model.into_iter().map(|(model, (open, overdue))| ModelFindings { model, open, overdue }).collect();
    per_model.sort_by(|a, b| b.open.cmp(&a.open).then_with(|| a.model.cmp(&b.model)));
    k.per_model = per_model;
    Ok(k)
}

/// The findings that concern `version` of `model`, as the gate's input holds them (times in Unix seconds):
/// `{id, kind, severity, state, title, due_at, accepted_until, exception_until}`.
pub(crate) async fn gate_view(warden: &Oversight, model: &str, version: i64) -> Result<Value> {
    let rows = warden.metadata.findings(Some(model), None).await?;
    let seconds = |micros: Option<i64>| micros.map(|m| m.div_euclid(1_000_000));
    let concerning = rows.into_iter().filter(|r| r.version.is_none_or(|v| v == version));
    Ok(Value::Array(
        concerning
            .map(|r| {
                json!({
                    "id": r.id, "kind": r.kind, "severity": r.severity, "state": r.state, "title": r.title,
                    "due_at": r.due_at.div_euclid(1_000_000),
                    "accepted_until": seconds(r.accepted_until),
                    "exception_until": seconds(r.exception_until),
                })
            })
            .collect(),
    ))
}

/// Days a finding of `severity` has: the policy in force's figure, else the shipped default.
async fn due_days(warden: &Oversight, severity: FindingSeverity) -> Result<i64> {
    let (_, gate) = crate::governance::gate_in_force(warden).await?;
    let days =
        gate.lock().expect("gate lock").finding_due_days(severity.as_str()).map_err(crate::governance::policy_error)?;
    Ok(days.unwrap_or_else(|| DEFAULT_DUE_DAYS.iter().find(|(s, _)| *s == severity).map_or(30, |(_, d)| *d)))
}

async fn stored(warden: &Oversight, id: i64) -> Result<FindingRow> {
    warden.metadata.finding(id).await?.ok_or_else(|| Error::NotFound(format!("no finding {id}")))
}

fn state_of(row: &FindingRow) -> Result<FindingState> {
    FindingState::from_str(&row.state)
        .map_err(|_| Error::Inconsistent(format!("finding {}: stored state '{}'", row.id, row.state)))
}

fn required(field: &str, value: &str) -> Result<()> {
    text::check(field, value, text::LONG, Lines::Many)?;
    if value.trim().is_empty() {
        return Err(Error::invalid(format!("{field}: required")));
    }
    Ok(())
}

/// An expiry in the future and no further ahead than the policy's `finding_exception_max_days` (90 days
/// when the bundle in force sets none).
async fn expiry(warden: &Oversight, until: i64, now: i64) -> Result<()> {
    if until <= now {
        return Err(Error::invalid(format!("until: {} is not in the future", warden_core::Timestamp::from(until))));
    }
    let (_, gate) = crate::governance::gate_in_force(warden).await?;
    let max_days = gate
        .lock()
        .expect("gate lock")
        .finding_exception_max_days()
        .map_err(crate::governance::policy_error)?
        .unwrap_or(DEFAULT_EXCEPTION_MAX_DAYS);
    if (until - now) / DAY_MICROS >= max_days {
        return Err(Error::invalid(format!(
            "until: {} is more than the policy's {max_days} days ahead",
            warden_core::Timestamp::from(until)
        )));
    }
    Ok(())
}

/// The version the caller registered among those a finding concerns (`version`, or every version of the
/// model when `None`): whoever registered a version does not judge findings on it.
async fn registered_by(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    version: Option<i64>,
) -> Result<Option<i64>> {
    let actor = caller.actor();
    let versions = list_versions(warden, caller, model).await?;
    if let Some(number) = version
        && !versions.iter().any(|v| v.number == number)
    {
        return Err(Error::NotFound(format!("model '{model}' has no version {number}")));
    }
    Ok(versions
        .iter()
        .filter(|v| version.is_none_or(|n| n == v.number))
        .find(|v| v.created_by == actor)
        .map(|v| v.number))
}

/// Stores a change of `before` into `after` with its audit event (the finding after it goes in the payload),
/// the event at the change's time.
async fn write(
    warden: &Oversight,
    caller: &Principal,
    action: &str,
    before: &FindingRow,
    after: FindingRow,
    payload: Value,
) -> Result<Finding> {
    let subject = format!("model/{}/finding/{}", before.model_name, before.id);
    let event = caller.audit_event(after.updated_at, action, subject, payload);
    let stored = warden.metadata.update_finding(&after, event).await?;
    Finding::of(stored, warden.now())
}
