//! The pages: what each one loads (through the lifecycle services, with the viewer's role) and how it is drawn.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, html};
use serde_json::Value;
use warden_core::{AlertState, IncidentState, MonitorKind, RiskTier, Severity};
use warden_lifecycle::Warden;
use warden_oversight::alerts::{Alert, Incident};
use warden_oversight::governance::Approval;
use warden_oversight::monitoring::Monitor;
use warden_oversight::overview::{InventoryLine, Kpis, MonitorPoint};
use warden_oversight::validation::ValidationReport;
use warden_proof::ledger::{CheckpointInfo, LedgerEntry};
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::{Model, Version};
use warden_registry::{Error, Result};
use warden_store::metadata::AliasAssignment;

use super::charts::{self, Series, Threshold, XAxis, number};
use super::{InventoryQuery, VerificationStatus, Viewer};

pub(crate) const STYLE: &str = include_str!("style.css");

const WARN: &str = "#E69F00";
const ALERT: &str = "#C0392B";

/// A time as people read it (UTC): the RFC 3339 form of [`Timestamp`] to the second, with a space for the `T`.
fn when(micros: i64) -> String {
    let at = warden_core::Timestamp::from_micros(micros);
    match at.to_datetime() {
        Some(_) => format!("{} UTC", at.whole_seconds().to_string().trim_end_matches('Z').replacen('T', " ", 1)),
        None => "–".into(),
    }
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7_200.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} days", s / 86_400.0),
    }
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn may(principal: &Principal, permission: Permission) -> bool {
    principal.require(permission).is_ok()
}

/// Reads what a role may read, leaves out what it may not (the page says so), and fails on anything else.
fn allowed<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Error::Forbidden(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

fn layout(viewer: Option<&Viewer>, title: &str, active: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Warden" }
                link rel="stylesheet" href="/ui/style.css";
            }
            body {
                header.top {
                    a.brand href="/ui" { "Warden" }
                    @if let Some(viewer) = viewer {
                        nav {
                            @for (href, label) in [("/ui", "Inventory"), ("/ui/alerts", "Alerts & incidents"), ("/ui/audit", "Audit"), ("/ui/kpis", "Board KPIs")] {
                                a href=(href) class=[(label == active).then_some("active")] { (label) }
                            }
                        }
                        form.who method="post" action="/ui/logout" {
                            span #whoami { (viewer.principal.name) " · " (viewer.principal.role.as_str()) }
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub(crate) fn error_page(title: &str, message: &str) -> Markup {
    layout(
        None,
        title,
        "",
        html! {
            h1 { (title) }
            p.error #error { (message) }
            p { a href="/ui" { "Back to the inventory" } }
        },
    )
}

pub(crate) fn login(nonce: &str, next: &str, failed: bool) -> Markup {
    layout(
        None,
        "Log in",
        "",
        html! {
            section.login {
                h1 { "Log in to Warden" }
                p { "Paste your Warden token. It stays on the server; your browser keeps only a session cookie." }
                @if failed { p.error #login-failed { "That token was not accepted (unknown, revoked or expired)." } }
                form method="post" action="/ui/login" {
                    input type="hidden" name="nonce" value=(nonce);
                    input type="hidden" name="next" value=(next);
                    label for="token" { "Token" }
                    input #token type="password" name="token" autocomplete="off" required;
                    button #login type="submit" { "Log in" }
                }
            }
        },
    )
}

// ---------------------------------------------------------------------------------------------------------
// Inventory

pub(crate) fn inventory(viewer: &Viewer, mut lines: Vec<InventoryLine>, query: &InventoryQuery) -> Markup {
    let total = lines.len();
    let tier = query.tier.as_deref().filter(|t| !t.is_empty());
    let text = query.q.as_deref().map(str::to_lowercase).filter(|t| !t.is_empty());
    lines.retain(|l| tier.is_none_or(|t| l.risk_tier.as_str() == t));
    if let Some(text) = &text {
        lines.retain(|l| {
            l.name.to_lowercase().contains(text)
                || l.owner.to_lowercase().contains(text)
                || l.use_case.to_lowercase().contains(text)
        });
    }
    match query.sort.as_deref().unwrap_or("name") {
        "tier" => lines.sort_by(|a, b| a.risk_tier.cmp(&b.risk_tier).then(a.name.cmp(&b.name))),
        "alerts" => lines.sort_by(|a, b| {
            (b.open_incidents, b.open_alerts).cmp(&(a.open_incidents, a.open_alerts)).then(a.name.cmp(&b.name))
        }),
        "validated" => lines.sort_by_key(|l| std::cmp::Reverse(l.last_validation.as_ref().map(|v| v.at))),
        "owner" => lines.sort_by(|a, b| a.owner.cmp(&b.owner).then(a.name.cmp(&b.name))),
        _ => {}
    }
    let open_alerts: i64 = lines.iter().map(|l| l.open_alerts).sum();
    let open_incidents: i64 = lines.iter().map(|l| l.open_incidents).sum();
    let in_production = lines.iter().filter(|l| l.champion.is_some()).count();
    let denied = lines.iter().filter(|l| l.policy.as_ref().is_some_and(|p| !p.allowed)).count();
    let sort_link = |key: &str| {
        let mut href = format!("/ui?sort={key}");
        if let Some(t) = tier {
            href.push_str(&format!("&tier={t}"));
        }
        if let Some(q) = &query.q {
            href.push_str(&format!("&q={}", super::encode_query(q)));
        }
        href
    };
    layout(
        Some(viewer),
        "Inventory",
        "Inventory",
        html! {
            h1 { "Model inventory" }
            div.cards {
                div.card { span.big #models-count { (lines.len()) } span { "models shown (of " (total) ")" } }
                div.card { span.big { (in_production) } span { "with a champion in production" } }
                div.card.(if open_alerts > 0 { "warn" } else { "" }) { span.big #open-alerts { (open_alerts) } span { "open alerts" } }
                div.card.(if open_incidents > 0 { "bad" } else { "" }) { span.big { (open_incidents) } span { "open incidents" } }
                div.card.(if denied > 0 { "warn" } else { "" }) { span.big { (denied) } span { "last gate decision denied" } }
            }
            form.filters method="get" action="/ui" {
                label { "Risk tier " select name="tier" {
                    option value="" { "any" }
                    @for t in ["high", "medium", "low"] { option value=(t) selected[tier == Some(t)] { (t) } }
                } }
                label { "Search " input type="search" name="q" value=(query.q.clone().unwrap_or_default()) placeholder="name, owner, use"; }
                input type="hidden" name="sort" value=(query.sort.clone().unwrap_or_default());
                button type="submit" { "Filter" }
            }
            table.data #inventory {
                thead { tr {
                    th { a href=(sort_link("name")) { "Model" } }
                    th { a href=(sort_link("tier")) { "Tier" } }
                    th { a href=(sort_link("owner")) { "Owner" } }
                    th { "Champion" } th { "Challengers" } th { "Versions" }
                    th { a href=(sort_link("validated")) { "Last validation" } }
                    th { "Policy" }
                    th { a href=(sort_link("alerts")) { "Alerts / incidents" } }
                } }
                tbody {
                    @for l in &lines {
                        tr {
                            td { a href={"/ui/models/" (l.name)} { (l.name) } br; small { (l.use_case) } }
                            td { span class={"tier " (l.risk_tier)} { (l.risk_tier) } }
                            td { (l.owner) }
                            td { @if let Some(v) = l.champion { "v" (v) } @else { span.muted { "none" } } }
                            td { @for (alias, v) in &l.challengers { span.pill { (alias) " v" (v) } " " } }
                            td { (l.versions) }
                            td { @if let Some(v) = &l.last_validation {
                                "v" (v.version) " · AUC " (v.auc.map_or("–".into(), number)) br; small { (when(v.at)) }
                            } @else { span.muted { "never" } } }
                            td { @if let Some(p) = &l.policy {
                                @if p.allowed { span.ok { "allowed" } } @else { span.bad { "denied" } } " v" (p.version)
                            } @else { span.muted { "not gated" } } }
                            td { span class=[(l.open_alerts > 0).then_some("warn")] { (l.open_alerts) } " / "
                                 span class=[(l.open_incidents > 0).then_some("bad")] { (l.open_incidents) } }
                        }
                    }
                }
            }
        },
    )
}

// ---------------------------------------------------------------------------------------------------------
// Model

pub(crate) struct ModelData {
    model: Model,
    versions: Vec<Version>,
    aliases: Vec<AliasAssignment>,
    history: Vec<AliasAssignment>,
    selected: Option<i64>,
    report: Option<ValidationReport>,
    approvals: Vec<Approval>,
    /// `None` when the role may not read gate decisions.
    gate: Option<Vec<Value>>,
}

impl ModelData {
    pub(crate) async fn load(
        warden: &Warden,
        caller: &Principal,
        name: &str,
        version: Option<i64>,
    ) -> Result<ModelData> {
        use warden_oversight::{governance, validation};
        use warden_registry::registry;
        let model = registry::get_model(warden, caller, name).await?;
        let versions = registry::list_versions(warden, caller, name).await?;
        let aliases = registry::current_aliases(warden, caller, name).await?;
        let history = registry::alias_history(warden, caller, name, None).await?;
        let champion = aliases.iter().find(|a| a.alias == "champion").and_then(|a| a.version);
        let selected = version.or(champion).or(model.latest_version);
        let (mut report, mut approvals, mut gate) = (None, Vec::new(), Some(Vec::new()));
        if let Some(number) = selected {
            let text = number.to_string();
            report = validation::reports(warden, caller, name, &text).await?.pop();
            approvals = governance::approvals(warden, caller, name, &text).await?;
            gate = allowed(governance::gate_decisions(warden, caller, name, &text).await)?;
        }
        Ok(ModelData { model, versions, aliases, history, selected, report, approvals, gate })
    }
}

fn deployment_lanes(history: &[AliasAssignment], now: f64) -> Vec<(String, Vec<(f64, f64, String)>)> {
    let mut lanes: BTreeMap<&str, Vec<(f64, f64, String)>> = BTreeMap::new();
    let mut open: BTreeMap<&str, (f64, i64)> = BTreeMap::new();
    for a in history {
        let at = a.assigned_at as f64;
        if let Some((from, version)) = open.remove(a.alias.as_str()) {
            lanes.entry(&a.alias).or_default().push((from, at, version.to_string()));
        }
        if let Some(version) = a.version {
            open.insert(&a.alias, (at, version));
        }
        lanes.entry(&a.alias).or_default();
    }
    for (alias, (from, version)) in open {
        lanes.entry(alias).or_default().push((from, now, version.to_string()));
    }
    // Champion first, then the others by name.
    let mut ordered: Vec<(String, Vec<(f64, f64, String)>)> =
        lanes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    ordered.sort_by_key(|(alias, _)| (alias != "champion", alias.clone()));
    ordered
}

pub(crate) fn model(viewer: &Viewer, data: &ModelData, now: i64) -> Markup {
    let m = &data.model;
    let name = &m.input.name;
    let lanes = deployment_lanes(&data.history, now as f64);
    layout(
        Some(viewer),
        name,
        "Inventory",
        html! {
            p.crumbs { a href="/ui" { "Inventory" } " › " (name) }
            h1 { (name) " " span class={"tier " (m.input.risk_tier.as_str())} { (m.input.risk_tier.as_str()) } }
            p { (m.input.description) }
            dl.facts {
                dt { "Owner" } dd { (m.input.owner) }
                dt { "Use" } dd { (m.input.use_case) }
                dt { "Created" } dd { (when(m.created_at)) " by " (m.created_by) }
                dt { "Aliases" } dd #aliases { @for a in &data.aliases { span.pill { (a.alias) " → v" (a.version.unwrap_or_default())
                    @if let Some(t) = a.traffic { " (" (percent(t)) ")" } } " " } }
            }
            p { a.button href={"/ui/models/" (name) "/monitoring"} { "Monitoring →" } }
            h2 { "Deployments" }
            (charts::timeline("Which version each alias served when", &lanes, now as f64))
            h2 { "Versions and lineage" }
            table.data #versions {
                thead { tr { th { "Version" } th { "Registered" } th { "Format" } th { "Artifact" } th { "Reference data" } th { "Training data" } th { "Code" } th { "Parent" } th { "Signed" } } }
                tbody { @for v in data.versions.iter().rev() {
                    tr class=[(Some(v.number) == data.selected).then_some("selected")] {
                        td { a href={"/ui/models/" (name) "?version=" (v.number)} { "v" (v.number) } }
                        td { (when(v.created_at)) br; small { (v.created_by) } }
                        td { (v.format.as_str()) }
                        td { code title=(v.artifact_sha256) { (short(&v.artifact_sha256)) } }
                        td { code title=(v.reference_sha256) { (short(&v.reference_sha256)) } br; small { (v.profile.rows) " rows" } }
                        td { @if let Some(h) = &v.lineage.training_data_sha256 { code title=(h) { (short(h)) } } @else { span.muted { "–" } } }
                        td { (v.lineage.code_ref.clone().unwrap_or_else(|| "–".into())) }
                        td { @if let Some(p) = v.lineage.parent_version { "v" (p) } @else { "–" } }
                        td { @if let Some(s) = &v.lineage.artifact_signature { span.ok { (s.signer) } } @else { span.muted { "no" } } }
                    }
                } }
            }
            @if let Some(number) = data.selected {
                h2 #selected-version { "Version " (number) }
                @if let Some(v) = data.versions.iter().find(|v| v.number == number) && !v.input_warnings.is_empty() {
                    h3 { "Input warnings (found at registration)" }
                    ul.reasons #input-warnings { @for w in &v.input_warnings { li.warn { (w.message) } } }
                }
                (validation_section(data.report.as_ref()))
                h3 { "Approvals" }
                @if data.approvals.is_empty() { p.muted { "No approvals yet." } } @else {
                    table.data #approvals { thead { tr { th { "When" } th { "Who" } th { "Role" } th { "Decision" } th { "Comment" } } }
                        tbody { @for a in &data.approvals { tr {
                            td { (when(a.at)) } td { (a.by) } td { (a.role) }
                            td { @match serde_json::to_value(a.decision).ok().and_then(|v| v.as_str().map(str::to_owned)).as_deref() {
                                Some("approve") => span.ok { "approve" },
                                Some(other) => span.bad { (other) },
                                None => "–",
                            } }
                            td { (a.comment) }
                        } } } }
                }
                h3 { "Gate decisions" }
                @match &data.gate {
                    None => p.muted { "Gate decisions are shown to validators, risk officers and administrators." },
                    Some(decisions) if decisions.is_empty() => p.muted { "The gate has not judged this version." },
                    Some(decisions) => table.data #gate { thead { tr { th { "When" } th { "Alias" } th { "Purpose" } th { "Decision" } th { "Reasons" } th { "Bundle" } } }
                        tbody { @for d in decisions.iter().rev() { tr {
                            td { (when(d["at"].as_i64().unwrap_or_default())) }
                            td { (d["alias"].as_str().unwrap_or_default()) }
                            td { (d["purpose"].as_str().unwrap_or_default()) }
                            td { @if d["allow"].as_bool() == Some(true) { span.ok { "allow" } } @else { span.bad { "deny" } } }
                            td { ul.reasons {
                                @for r in d["deny"].as_array().into_iter().flatten() { li.bad { (r.as_str().unwrap_or_default()) } }
                                @for r in d["warn"].as_array().into_iter().flatten() { li.warn { (r.as_str().unwrap_or_default()) } }
                            } }
                            td { "#" (d["bundle_number"].as_i64().unwrap_or_default()) }
                        } } } },
                }
            }
        },
    )
}

fn validation_section(report: Option<&ValidationReport>) -> Markup {
    let Some(r) = report else {
        return html! { h3 { "Validation" } p.muted #no-validation { "This version has not been validated." } };
    };
    let f = &r.figures;
    let d = &f.discrimination;
    let reliability: Vec<(f64, f64)> =
        f.calibration.reliability.iter().filter_map(|b| Some((b.mean_pred?, b.mean_true?))).collect();
    let histogram = f.score_histogram.as_ref();
    let bins: Vec<String> = (0..20).map(|i| format!("{:.2}", i as f64 / 20.0)).collect();
    html! {
        h3 { "Validation" }
        p { "Report " (r.id) " · " (when(r.created_at)) " by " (r.created_by) " · " (r.rows) " rows, bad rate " (percent(r.bad_rate)) " · data " code { (short(&r.data_sha256)) } }
        @if !r.warnings.is_empty() {
            ul.reasons #validation-warnings { @for w in &r.warnings { li.warn { "Warning: " (w) } } }
        }
        div.cards #validation-figures {
            div.card { span.big { (d.auc.map_or("–".into(), number)) } span { "ROC AUC"
                @if let Some(i) = d.auc_interval { " (" (number(i.lower)) "–" (number(i.upper)) ")" } } }
            div.card { span.big { (d.gini.map_or("–".into(), number)) } span { "Gini" } }
            div.card { span.big { (d.ks.map_or("–".into(), number)) } span { "KS" } }
            div.card { span.big { (number(f.calibration.brier)) } span { "Brier" } }
            div.card { span.big { (number(f.calibration.ece)) } span { "ECE" } }
            div.card { span.big { (percent(f.approval_rate)) } span { "approved at " (number(r.threshold)) } }
            div.card { span.big { (number(r.stability.max_feature_psi)) } span { "largest feature PSI" } }
        }
        div.grid {
            figure { figcaption { "ROC curve" } (charts::unit_curve("ROC curve", &d.roc, "false positive rate", "true positive rate")) }
            figure { figcaption { "Reliability" } (charts::unit_curve("Reliability diagram", &reliability, "mean score", "observed bad rate")) }
            @if let Some(h) = histogram {
                figure { figcaption { "Score distribution" }
                    (charts::bar_chart("Score distribution by outcome", &bins, &[("good", h.good.iter().map(|&c| c as f64).collect()), ("bad", h.bad.iter().map(|&c| c as f64).collect())], None)) }
            }
            @for (attribute, fairness) in &r.fairness {
                figure { figcaption { "Approval rate by " (attribute) " · disparate impact " (fairness.disparate_impact.map_or("–".into(), number)) }
                    (charts::bar_chart(&format!("Approval rate by {attribute}"),
                        &fairness.groups.keys().cloned().collect::<Vec<_>>(),
                        &[("approval rate", fairness.groups.values().map(|g| g.approval_rate).collect())],
                        fairness.groups.values().map(|g| g.approval_rate).fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))).map(|top| Threshold { value: 0.8 * top, label: "four-fifths", colour: WARN }))) }
            }
        }
        @if !r.scenarios.is_empty() {
            h3 { "Stress scenarios" }
            table.data #scenarios { thead { tr { th { "Scenario" } th { "Changes" } th { "Approval rate" } th { "Mean PD" } th { "Expected loss" } } }
                tbody { @for s in &r.scenarios { tr {
                    td { (s.name) } td { (s.changes.join("; ")) }
                    td { (percent(s.approval_rate.baseline)) " → " (percent(s.approval_rate.stressed)) }
                    td { (number(s.mean_pd.baseline)) " → " (number(s.mean_pd.stressed)) }
                    td { @if let Some(e) = &s.expected_loss { (number(e.baseline)) " → " (number(e.stressed)) } @else { "–" } }
                } } } }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Monitoring

pub(crate) struct MonitoringData {
    model: Model,
    days: i64,
    monitors: Vec<Monitor>,
    points: Vec<MonitorPoint>,
    alerts: Vec<Alert>,
}

impl MonitoringData {
    pub(crate) async fn load(warden: &Warden, caller: &Principal, name: &str, days: i64) -> Result<MonitoringData> {
        use warden_oversight::{alerts, monitoring, overview};
        use warden_registry::registry;
        let model = registry::get_model(warden, caller, name).await?;
        let monitors = monitoring::list(warden, caller, name).await?;
        let points = overview::monitor_series(warden, caller, name, days, 360).await?;
        let since = warden.now() - days * 86_400_000_000;
        let mut alerts = alerts::list(warden, caller, None, Some(name)).await?;
        alerts.retain(|a| a.opened_at >= since);
        Ok(MonitoringData { model, days, monitors, points, alerts })
    }
}

/// The bands a monitor's evaluation was judged against (those of its worst key).
fn bands_of(point: &MonitorPoint) -> Option<(f64, f64)> {
    let features = point.details["features"].as_object()?;
    let worst = features.values().find(|f| f["value"].as_f64() == point.value).or_else(|| features.values().next())?;
    Some((worst["bands"]["warn"].as_f64()?, worst["bands"]["alert"].as_f64()?))
}

pub(crate) fn monitoring(viewer: &Viewer, data: &MonitoringData) -> Markup {
    let name = &data.model.input.name;
    let mut by_monitor: BTreeMap<&str, Vec<&MonitorPoint>> = BTreeMap::new();
    for p in &data.points {
        by_monitor.entry(p.monitor.as_str()).or_default().push(p);
    }
    let drift = data.monitors.iter().find(|m| m.kind == MonitorKind::FeatureDrift);
    layout(
        Some(viewer),
        &format!("{name} monitoring"),
        "Inventory",
        html! {
            p.crumbs { a href="/ui" { "Inventory" } " › " a href={"/ui/models/" (name)} { (name) } " › monitoring" }
            h1 { "Monitoring: " (name) }
            p { "Last " (data.days) " days · "
                @for d in [1, 7, 30, 90] { a href={"/ui/models/" (name) "/monitoring?days=" (d)} { (d) " d" } " " } }
            @if data.monitors.is_empty() { p.muted { "No monitors." } }
            @if let Some(drift) = drift {
                h2 { "Feature drift over time" }
                (drift_heat_map(drift, by_monitor.get(drift.name.as_str()).map(Vec::as_slice).unwrap_or_default()))
            }
            h2 { "Monitors" }
            div.grid #monitor-charts {
                @for monitor in &data.monitors {
                    @let points = by_monitor.get(monitor.name.as_str()).map(Vec::as_slice).unwrap_or_default();
                    @let latest = points.last();
                    figure.monitor {
                        figcaption {
                            strong { (monitor.name) } " · " (monitor.kind) " · "
                            @match latest.map(|p| p.status.as_str()) {
                                Some("alert") => span.bad { "alert" },
                                Some("warn") => span.warn { "warn" },
                                Some("ok") => span.ok { "ok" },
                                Some(other) => span.muted { (other) },
                                None => span.muted { "not evaluated" },
                            }
                            @if !monitor.enabled { " · " span.muted { "disabled" } }
                        }
                        (monitor_chart(monitor, points, &data.alerts))
                    }
                }
            }
            @for (kind, title) in [(MonitorKind::DataQuality, "Data quality (latest)"), (MonitorKind::Fairness, "Fairness (latest)"), (MonitorKind::MoneyAtRisk, "Money at risk (latest)")] {
                @for monitor in data.monitors.iter().filter(|m| m.kind == kind) {
                    @if let Some(latest) = by_monitor.get(monitor.name.as_str()).and_then(|p| p.last()) {
                        h2 { (title) ": " (monitor.name) }
                        (latest_table(latest))
                    }
                }
            }
        },
    )
}

fn monitor_chart(monitor: &Monitor, points: &[&MonitorPoint], alerts: &[Alert]) -> Markup {
    let series =
        [Series { name: &monitor.name, points: points.iter().filter_map(|p| Some((p.at as f64, p.value?))).collect() }];
    let (warn, alert) =
        points.iter().rev().find_map(|p| bands_of(p)).unwrap_or((monitor.config.warn, monitor.config.alert));
    let thresholds = [
        Threshold { value: warn, label: "warn", colour: WARN },
        Threshold { value: alert, label: "alert", colour: ALERT },
    ];
    let labels: Vec<(f64, String)> = alerts
        .iter()
        .filter(|a| a.monitor == monitor.name)
        .map(|a| (a.opened_at as f64, format!("alert {} ({}) on {}", a.id, a.severity, a.feature)))
        .collect();
    let markers: Vec<(f64, &str)> = labels.iter().map(|(x, l)| (*x, l.as_str())).collect();
    charts::line_chart(&format!("{} over time", monitor.name), &series, &thresholds, &markers, XAxis::Time)
}

fn drift_heat_map(monitor: &Monitor, points: &[&MonitorPoint]) -> Markup {
    let mut features: Vec<String> = points
        .iter()
        .flat_map(|p| p.details["features"].as_object().into_iter().flat_map(|f| f.keys().cloned()))
        .collect();
    features.sort();
    features.dedup();
    let rows: Vec<(String, Vec<Option<f64>>)> = features
        .into_iter()
        .map(|f| {
            // A value judged on too few decisions is shown as no value.
            let values = points
                .iter()
                .map(|p| {
                    let key = &p.details["features"][f.as_str()];
                    key["value"].as_f64().filter(|_| key["status"] != "insufficient")
                })
                .collect();
            (f, values)
        })
        .collect();
    let columns: Vec<f64> = points.iter().map(|p| p.at as f64).collect();
    charts::heat_map("Feature drift by feature over time", &rows, &columns, monitor.config.warn, monitor.config.alert)
}

fn latest_table(point: &MonitorPoint) -> Markup {
    html! {
        p.muted { "Evaluated " (when(point.at)) " on version " (point.version) }
        table.data { thead { tr { th { "Key" } th { "Value" } th { "Status" } th { "Figures" } } }
            tbody { @for (key, f) in point.details["features"].as_object().into_iter().flatten() { tr {
                td { (key) }
                td { (f["value"].as_f64().map_or("–".into(), number)) }
                td { (f["status"].as_str().unwrap_or_default()) }
                td { small { (compact(&f["figures"])) } }
            } } } }
    }
}

/// A JSON value in one line, numbers shortened.
fn compact(value: &Value) -> String {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match (k.strip_suffix("_micros"), v.as_f64()) {
                (Some(name), Some(micros)) => format!("{name}: {}", duration(micros / 1e6)),
                _ => format!("{k}: {}", compact(v)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
        Value::Null => "–".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Alerts and incidents

pub(crate) struct AlertsData {
    alerts: Vec<Alert>,
    incidents: Vec<(Incident, Vec<Value>)>,
}

impl AlertsData {
    pub(crate) async fn load(warden: &Warden, caller: &Principal) -> Result<AlertsData> {
        use warden_oversight::alerts;
        let mut all = alerts::list(warden, caller, None, None).await?;
        all.truncate(200);
        let mut incidents = Vec::new();
        for incident in alerts::incidents(warden, caller, None).await?.into_iter().take(20) {
            incidents.push(alerts::incident(warden, caller, incident.id).await?);
        }
        Ok(AlertsData { alerts: all, incidents })
    }
}

pub(crate) fn alerts(viewer: &Viewer, data: &AlertsData) -> Markup {
    let can_act = may(&viewer.principal, Permission::ManageMonitors);
    let open: Vec<&Alert> = data.alerts.iter().filter(|a| a.state != AlertState::Resolved).collect();
    layout(
        Some(viewer),
        "Alerts and incidents",
        "Alerts & incidents",
        html! {
            h1 { "Alerts and incidents" }
            h2 { "Open alerts (" (open.len()) ")" }
            @if open.is_empty() { p.muted #no-open-alerts { "Nothing is firing." } } @else {
                table.data #open-alerts { thead { tr { th { "#" } th { "Opened" } th { "Model" } th { "Monitor" } th { "Key" } th { "Severity" } th { "State" } th { "Value" } th {} } }
                    tbody { @for a in &open { tr #{"alert-" (a.id)} {
                        td { (a.id) } td { (when(a.opened_at)) }
                        td { a href={"/ui/models/" (a.model) "/monitoring"} { (a.model) } " v" (a.version) }
                        td { (a.monitor) } td { (a.feature) }
                        td { span class=(if a.severity == Severity::Critical { "bad" } else { "warn" }) { (a.severity) } }
                        td.state { (a.state) @if let Some(by) = &a.acknowledged_by { " by " (by) } }
                        td { (a.value.map_or("–".into(), number)) }
                        td { @if can_act && a.state == AlertState::Firing {
                            form.inline method="post" action={"/ui/alerts/" (a.id) "/acknowledge"} {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                input type="text" name="comment" placeholder="comment";
                                button.ack type="submit" { "Acknowledge" }
                            }
                        } }
                    } } } }
            }
            h2 { "Incidents" }
            @if data.incidents.is_empty() { p.muted { "No incidents." } }
            @for (incident, timeline) in &data.incidents {
                section.incident #{"incident-" (incident.id)} {
                    h3 { "#" (incident.id) " " (incident.title) " "
                        @if incident.state == IncidentState::Open { span.bad { "open" } } @else { span.ok { "resolved" } } }
                    p { "Opened " (when(incident.opened_at)) " · time to detect " (duration(incident.time_to_detect_seconds))
                        @if let Some(s) = incident.time_to_resolve_seconds { " · resolved in " (duration(s)) } }
                    ol.timeline { @for e in timeline { li {
                        span.when { (when(e["at"].as_i64().unwrap_or_default())) } " "
                        strong { (e["kind"].as_str().unwrap_or_default()) } " · " (e["monitor"].as_str().unwrap_or_default()) " on '" (e["feature"].as_str().unwrap_or_default()) "' by " (e["actor"].as_str().unwrap_or_default())
                        @let details = compact(&e["details"]);
                        @if !details.is_empty() { " · " small { (details) } }
                    } } }
                    @if can_act && incident.state == IncidentState::Open {
                        form.inline method="post" action={"/ui/incidents/" (incident.id) "/resolve"} {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            input type="text" name="comment" placeholder="why it is resolved" required;
                            button type="submit" { "Resolve incident" }
                        }
                    }
                }
            }
            h2 { "Recently resolved alerts" }
            table.data { thead { tr { th { "#" } th { "Model" } th { "Monitor" } th { "Key" } th { "Opened" } th { "Resolved" } } }
                tbody { @for a in data.alerts.iter().filter(|a| a.state == AlertState::Resolved).take(50) { tr {
                    td { (a.id) } td { (a.model) } td { (a.monitor) } td { (a.feature) } td { (when(a.opened_at)) }
                    td { (a.resolved_at.map_or("–".into(), when)) }
                } } } }
        },
    )
}

// ---------------------------------------------------------------------------------------------------------
// Audit

pub(crate) struct AuditData {
    size: u64,
    entries: Vec<LedgerEntry>,
    checkpoint: Option<CheckpointInfo>,
    key: String,
    before: u64,
}

const AUDIT_PAGE: u64 = 50;

impl AuditData {
    pub(crate) async fn load(warden: &Warden, caller: &Principal, before: Option<u64>) -> Result<AuditData> {
        use warden_proof::ledger;
        let size = ledger::size(warden, caller).await?;
        let before = before.unwrap_or(size).min(size);
        let from = before.saturating_sub(AUDIT_PAGE);
        let mut entries = ledger::log(warden, caller, None, from, (before - from).max(1) as i64).await?;
        entries.retain(|e| e.entry.index < before);
        entries.reverse();
        let checkpoint = ledger::checkpoints(warden, caller).await?.pop();
        Ok(AuditData { size, entries, checkpoint, key: ledger::public_key(warden), before })
    }
}

pub(crate) fn audit(viewer: &Viewer, data: &AuditData, status: &VerificationStatus) -> Markup {
    layout(
        Some(viewer),
        "Audit ledger",
        "Audit",
        html! {
            h1 { "Audit ledger" }
            div.cards {
                div.card { span.big #ledger-size { (data.size) } span { "entries" } }
                @match &status.last {
                    Some((at, v)) if v.ok => div.card.good #verification { span.big { "verified" } span { (v.entries) " entries, " (v.checkpoints) " checkpoints · " (when(*at)) } },
                    Some((at, v)) => div.card.bad #verification { span.big { "FAILED" } span { "first bad entry " (v.first_bad_entry.map_or("–".into(), |e| e.to_string())) " · " (when(*at)) } },
                    None => div.card #verification { span.big { "…" } span { "verification running" } },
                }
            }
            @if let Some((_, v)) = &status.last { @if !v.ok {
                ul.problems { @for p in &v.problems { li.bad { (p) } } }
            } }
            form.inline method="post" action="/ui/audit/verify" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                button #verify type="submit" { "Verify the whole ledger now" }
                @if status.running { " " span.muted { "(a verification is running)" } }
            }
            h2 { "Latest signed checkpoint" }
            @if let Some(c) = &data.checkpoint {
                p { "Covers " (c.tree_size) " entries · signed " (when(c.at)) }
                pre.note #checkpoint { (c.note) }
            } @else { p.muted { "No checkpoint yet." } }
            p { "Verifier key: " code { (data.key) } }
            h2 { "Entries" }
            table.data #ledger { thead { tr { th { "#" } th { "When" } th { "Actor" } th { "Action" } th { "Subject" } th { "Leaf hash" } } }
                tbody { @for e in &data.entries { tr {
                    td { (e.entry.index) } td { (when(e.entry.at)) } td { (e.entry.actor) } td { (e.entry.action) } td { (e.entry.subject) }
                    td { code title=(e.leaf_hash) { (short(&e.leaf_hash)) } }
                } } } }
            p.pager {
                @if data.before < data.size { a href={"/ui/audit?before=" ((data.before + AUDIT_PAGE).min(data.size))} { "← newer" } " " }
                @if data.before > AUDIT_PAGE { a href={"/ui/audit?before=" (data.before - AUDIT_PAGE)} { "older →" } }
            }
        },
    )
}

// ---------------------------------------------------------------------------------------------------------
// Board

pub(crate) struct BoardData {
    kpis: Kpis,
    inventory: Vec<InventoryLine>,
    incidents: Option<Vec<Incident>>,
}

impl BoardData {
    pub(crate) async fn load(warden: &Warden, caller: &Principal, days: i64) -> Result<BoardData> {
        use warden_oversight::{alerts, overview};
        let kpis = overview::kpis(warden, caller, days).await?;
        let inventory = overview::inventory(warden, caller).await?;
        let incidents = allowed(alerts::incidents(warden, caller, Some("open")).await)?;
        Ok(BoardData { kpis, inventory, incidents })
    }
}

fn kpi_cards(k: &Kpis) -> Markup {
    let or_dash = |v: Option<f64>, f: fn(f64) -> String| v.map_or("–".into(), f);
    html! {
        div.cards #kpis {
            div.card { span.big { (format!("{:.1}", k.deployments_per_30_days)) } span { "deployments per 30 days (" (k.deployments) " in " (k.period_days) " d, " (k.rollbacks) " automatic rollbacks)" } }
            div.card { span.big { (or_dash(k.median_hours_to_production, |h| duration(h * 3600.0))) } span { "median registration → production" } }
            div.card { span.big { (or_dash(k.median_seconds_to_detect, duration)) } span { "median time to detect" } }
            div.card { span.big { (or_dash(k.median_seconds_to_resolve, duration)) } span { "median time to resolve" } }
            div.card { span.big { (or_dash(k.median_drift_detection_seconds, duration)) } span { "median drift detection latency" } }
            div.card.(if k.audit_coverage.is_some_and(|c| c < 1.0) { "bad" } else { "good" }) { span.big #audit-coverage { (or_dash(k.audit_coverage, percent)) } span { "audit coverage (" (k.ledger_entries) " ledger entries / " (k.audited_changes) " changes)" } }
            div.card.(if k.overrides > 0 { "warn" } else { "" }) { span.big #policy-adherence { (or_dash(k.policy_adherence, percent)) } span { "policy adherence (" (k.overrides) " overrides in " (k.promotions) " promotions)" } }
            div.card.(if k.open_incidents > 0 { "bad" } else { "" }) { span.big { (k.open_incidents) } span { "open incidents (" (k.incidents) " opened in the period)" } }
        }
    }
}

fn tier_counts(inventory: &[InventoryLine]) -> Vec<(&'static str, usize, usize)> {
    RiskTier::ALL
        .iter()
        .map(|&t| {
            let of_tier: Vec<_> = inventory.iter().filter(|l| l.risk_tier == t).collect();
            (t.as_str(), of_tier.len(), of_tier.iter().filter(|l| l.champion.is_some()).count())
        })
        .collect()
}

pub(crate) fn kpis(viewer: &Viewer, data: &BoardData) -> Markup {
    let k = &data.kpis;
    layout(
        Some(viewer),
        "Board KPIs",
        "Board KPIs",
        html! {
            h1 { "Model risk KPIs" }
            p { "Last " (k.period_days) " days · "
                @for d in [30, 90, 365] { a href={"/ui/kpis?days=" (d)} { (d) " d" } " " }
                " · " a href={"/ui/summary?days=" (k.period_days)} #printable { "printable one-page summary" } }
            (kpi_cards(k))
            h2 { "Inventory by risk tier" }
            table.data { thead { tr { th { "Tier" } th { "Models" } th { "In production" } } }
                tbody { @for (t, n, live) in tier_counts(&data.inventory) { tr { td { (t) } td { (n) } td { (live) } } } } }
        },
    )
}

pub(crate) fn summary(viewer: &Viewer, data: &BoardData, now: i64) -> Markup {
    let k = &data.kpis;
    let attention: Vec<&InventoryLine> = data
        .inventory
        .iter()
        .filter(|l| l.open_incidents > 0 || l.policy.as_ref().is_some_and(|p| !p.allowed))
        .collect();
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Model risk summary · Warden" } link rel="stylesheet" href="/ui/style.css"; }
            body.print {
                main {
                    h1 { "Model risk summary" }
                    p { "Prepared " (when(now)) " for the last " (k.period_days) " days by " (viewer.principal.name) ". Figures come from Warden's registry and its audit ledger." }
                    (kpi_cards(k))
                    h2 { "Inventory" }
                    table.data { thead { tr { th { "Tier" } th { "Models" } th { "In production" } } }
                        tbody { @for (t, n, live) in tier_counts(&data.inventory) { tr { td { (t) } td { (n) } td { (live) } } } } }
                    h2 { "Needs attention" }
                    @if attention.is_empty() { p { "No model has an open incident or a denied gate decision." } } @else {
                        ul { @for l in attention { li { strong { (l.name) } " (" (l.risk_tier) "): "
                            @if l.open_incidents > 0 { "open incident; " }
                            @if l.policy.as_ref().is_some_and(|p| !p.allowed) { "last gate decision denied" } } } }
                    }
                    @if let Some(incidents) = &data.incidents { @if !incidents.is_empty() {
                        h2 { "Open incidents" }
                        ul { @for i in incidents { li { (i.model) ": " (i.title) " (opened " (when(i.opened_at)) ")" } } }
                    } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(alias: &str, version: Option<i64>, at: i64) -> AliasAssignment {
        AliasAssignment {
            model_name: "m".into(),
            alias: alias.into(),
            version,
            assigned_at: at,
            assigned_by: "token:a".into(),
            reason: String::new(),
            traffic: None,
            decision_id: None,
            overridden: false,
        }
    }

    #[test]
    fn the_deployment_timeline_follows_every_move() {
        let history = [
            assignment("champion", Some(1), 0),
            assignment("shadow", Some(2), 10),
            assignment("champion", Some(2), 20),
            assignment("shadow", None, 20),
            assignment("champion", Some(1), 30),
        ];
        let lanes = deployment_lanes(&history, 40.0);
        assert_eq!(lanes[0].0, "champion", "champion first");
        assert_eq!(lanes[0].1, vec![(0.0, 20.0, "1".into()), (20.0, 30.0, "2".into()), (30.0, 40.0, "1".into())]);
        assert_eq!(lanes[1], ("shadow".into(), vec![(10.0, 20.0, "2".into())]));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(600.0), "10 min");
        assert_eq!(duration(36_000.0), "10.0 h");
        assert_eq!(duration(864_000.0), "10.0 days");
    }
}
