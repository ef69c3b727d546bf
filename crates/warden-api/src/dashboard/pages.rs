//! The pages: what each one loads (through the lifecycle services, with the viewer's role) and how it is drawn.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, html};
use serde_json::Value;
use warden_core::{
    AlertState, FindingSeverity, FindingState, IncidentState, MonitorKind, ReportStage, RiskTier, Severity, TierBasis,
};
use warden_lifecycle::Warden;
use warden_oversight::alerts::{Alert, Incident};
use warden_oversight::findings::{Finding, FindingKpis};
use warden_oversight::governance::Approval;
use warden_oversight::monitoring::Monitor;
use warden_oversight::overview::{InventoryLine, Kpis, MonitorPoint, PeriodEvents};
use warden_oversight::reviews::DecisionReview;
use warden_oversight::validation::ValidationReport;
use warden_proof::ledger::{CheckpointInfo, LedgerEntry};
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::{Model, Version};
use warden_registry::{Error, Result};
use warden_store::metadata::AliasAssignment;

use super::charts::{self, ALERT, LineChart, Marker, MarkerKind, Series, Threshold, WARN, XAxis, number};
use super::deployments;
use super::distributions::{self, FeatureShift};
use super::{InventoryQuery, VerificationStatus, Viewer};

pub(crate) const STYLE: &str = include_str!("style.css");

/// A time as people read it (UTC): the RFC 3339 form of [`Timestamp`] to the second, with a space for the `T`.
fn when(micros: i64) -> String {
    let at = warden_core::Timestamp::from_micros(micros);
    match at.to_datetime() {
        Some(_) => format!("{} UTC", at.whole_seconds().to_string().trim_end_matches('Z').replacen('T', " ", 1)),
        None => "–".into(),
    }
}

/// A time in a page: [`when`] in a `<time>` element (kept on one line; its `datetime` for machines).
fn date(micros: i64) -> Markup {
    let at = warden_core::Timestamp::from_micros(micros);
    html! { time datetime=(at.whole_seconds()) { (when(micros)) } }
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7_200.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} days", s / 86_400.0),
    }
}

pub(crate) use warden_core::words::{counted, noun};

/// A period as people say it: "the last day", "the last 30 days".
pub(crate) fn period(days: i64) -> String {
    if days == 1 { "the last day".into() } else { format!("the last {days} days") }
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

/// The dashboard's sections and the permission each one's page needs: a role is shown only those it may open.
const SECTIONS: [(&str, &str, Permission); 5] = [
    ("/ui", "Inventory", Permission::ReadRegistry),
    ("/ui/findings", "Findings", Permission::ReadRegistry),
    ("/ui/alerts", "Alerts & incidents", Permission::ReadDecisions),
    ("/ui/audit", "Audit", Permission::ReadAudit),
    ("/ui/kpis", "Board KPIs", Permission::ReadRegistry),
];

/// The sections a principal may open, as (path, label).
pub(crate) fn navigation(principal: &Principal) -> Vec<(&'static str, &'static str)> {
    SECTIONS.iter().filter(|(_, _, needs)| may(principal, *needs)).map(|&(href, label, _)| (href, label)).collect()
}

/// The roles holding a permission, for sentences such as "shown to validator, risk-officer and admin".
fn roles_holding(permission: Permission) -> String {
    let names: Vec<&str> = permission.roles().iter().map(|r| r.as_str()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => "no role".into(),
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
                            @for (href, label) in navigation(&viewer.principal) {
                                a href=(href) class=[(label == active).then_some("active")] { (label) }
                            }
                        }
                        form.who method="post" action="/ui/logout" {
                            span #whoami title=(viewer.principal.name) {
                                (viewer.principal.display_name())
                                @match viewer.principal.issuer() {
                                    Some(issuer) => { " (signed in through " (issuer) ")" }
                                    None => { " (Warden token)" }
                                }
                                @if !viewer.principal.roles.is_empty() { " · " (viewer.principal.roles_text()) }
                                @for scope in viewer.principal.scopes_text() { " · " (scope) }
                            }
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

/// A page that could not be served. A logged-in person keeps the navigation their role may use and the
/// log-out button.
pub(crate) fn error_page(viewer: Option<&Viewer>, title: &str, message: &str) -> Markup {
    let sections = viewer.map(|v| navigation(&v.principal));
    layout(
        viewer,
        title,
        "",
        html! {
            h1 { (title) }
            p.error #error { (message) }
            @match (&sections, viewer) {
                (Some(sections), Some(v)) if sections.is_empty() => p #no-sections {
                    "The dashboard has no page for the role " strong { (v.principal.roles_text()) }
                    " (a token for applications that score through the API). Log out and log in with a person's token."
                },
                (Some(sections), _) if !sections.iter().any(|(href, _)| *href == "/ui") => {},
                _ => p { a href="/ui" { "Back to the inventory" } },
            }
        },
    )
}

/// What the log-in page offers.
pub(crate) struct LoginOptions<'a> {
    /// The identity provider's name, when single sign-on is configured.
    pub(crate) provider: Option<&'a str>,
    /// Whether Warden's own tokens may log in (off: single sign-on only).
    pub(crate) token_login: bool,
    /// A token was just refused.
    pub(crate) failed: bool,
}

pub(crate) fn login(nonce: &str, next: &str, options: &LoginOptions<'_>) -> Markup {
    layout(
        None,
        "Log in",
        "",
        html! {
            section.login {
                h1 { "Log in to Warden" }
                @if let Some(provider) = options.provider {
                    p { a #sign-in.button href=(format!("/ui/login/oidc?next={}", super::encode_query(next))) {
                        "Sign in with " (provider)
                    } }
                }
                @if options.token_login {
                    @if options.provider.is_some() {
                        h2 { "Break-glass token" }
                    }
                    p { "Paste your Warden token. It stays on the server; your browser keeps only a session cookie." }
                    @if options.failed { p.error #login-failed { "That token was not accepted (unknown, revoked or expired)." } }
                    form method="post" action="/ui/login" {
                        input type="hidden" name="nonce" value=(nonce);
                        input type="hidden" name="next" value=(next);
                        label for="token" { "Token" }
                        input #token type="password" name="token" autocomplete="off" required;
                        button #login type="submit" { "Log in" }
                    }
                }
            }
        },
    )
}

/// Why signing in through the provider did not work, and the way back.
pub(crate) fn sign_in_failed(title: &str, message: &str) -> Markup {
    layout(
        None,
        title,
        "",
        html! {
            section.login {
                h1 { (title) }
                p.error #sign-in-failed { (message) }
                p { a href="/ui/login" { "Back to the log-in page" } }
            }
        },
    )
}

// ---------------------------------------------------------------------------------------------------------
// Inventory

pub(crate) fn inventory(viewer: &Viewer, mut lines: Vec<InventoryLine>, query: &InventoryQuery) -> Markup {
    // Retired models are listed apart, under the table of those in service.
    let (retired, in_service): (Vec<InventoryLine>, Vec<InventoryLine>) =
        lines.into_iter().partition(|l| l.retired_at.is_some());
    lines = in_service;
    let total = lines.len();
    let tier = query.tier.as_deref().filter(|t| !t.is_empty());
    let field = query.field.as_deref().filter(|f| !f.is_empty());
    // The API's filter, so the page and `GET /v1/inventory` agree; a tier or field filter that does not parse
    // shows nothing, and says why.
    let fields = field.map(warden_oversight::overview::parse_field_filters).transpose();
    let parsed_tier = tier.map(str::parse::<RiskTier>).transpose();
    let bad_filter = match (&fields, &parsed_tier) {
        (Err(err), _) => Some(err.to_string()),
        (_, Err(err)) => Some(err.to_string()),
        _ => None,
    };
    let filter = warden_oversight::overview::InventoryFilter {
        fields: fields.unwrap_or_default().unwrap_or_default(),
        search: query.q.clone().filter(|q| !q.is_empty()),
        tier: parsed_tier.unwrap_or_default(),
    };
    lines.retain(|l| bad_filter.is_none() && filter.matches(l));
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
        if let Some(f) = field {
            href.push_str(&format!("&where={}", super::encode_query(f)));
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
                div.card { span.big #models-count { (lines.len()) } span { (noun(lines.len() as i128, "model", "models")) " shown (of " (total) ")" } }
                div.card { span.big { (in_production) } span { "with a champion in production" } }
                div.card.(if open_alerts > 0 { "warn" } else { "" }) { span.big #open-alerts { (open_alerts) } span { (noun(open_alerts, "open alert", "open alerts")) } }
                div.card.(if open_incidents > 0 { "bad" } else { "" }) { span.big { (open_incidents) } span { (noun(open_incidents, "open incident", "open incidents")) } }
                div.card.(if denied > 0 { "warn" } else { "" }) { span.big { (denied) } span { (noun(denied as i128, "model whose last gate decision was denied", "models whose last gate decision was denied")) } }
            }
            form.filters method="get" action="/ui" {
                label { "Risk tier " select name="tier" {
                    option value="" { "any" }
                    @for t in ["high", "medium", "low"] { option value=(t) selected[tier == Some(t)] { (t) } }
                } }
                label { "Search " input type="search" name="q" value=(query.q.clone().unwrap_or_default()) placeholder="name, owner, use, fields"; }
                label { "Fields " input type="text" name="where" value=(field.unwrap_or_default()) placeholder="business_line=retail;exposure=1000"; }
                input type="hidden" name="sort" value=(query.sort.clone().unwrap_or_default());
                button type="submit" { "Filter" }
            }
            @if let Some(why) = &bad_filter { p.bad #filter-error { (why) } }
            table.data #inventory {
                thead { tr {
                    th { a href=(sort_link("name")) { "Model" } }
                    th { a href=(sort_link("tier")) { "Tier" } }
                    th { a href=(sort_link("owner")) { "Owner" } }
                    th { "Champion" } th { "Challengers" } th { "Versions" }
                    th { a href=(sort_link("validated")) { "Last validation" } }
                    th { "Policy" }
                    th { a href=(sort_link("alerts")) { "Alerts / incidents" } }
                    th { "Fields" }
                } }
                tbody {
                    @for l in &lines {
                        tr {
                            td { a href={"/ui/models/" (l.name)} { (l.name) } br; small { (l.use_case) } }
                            td { span class={"tier " (l.risk_tier)} { (l.risk_tier) }
                                 @if l.tier_basis != TierBasis::Declared { br; small { (l.tier_basis) } } }
                            td { (l.owner) }
                            td { @if let Some(v) = l.champion { "v" (v) } @else { span.muted { "none" } } }
                            td { @for (alias, v) in &l.challengers { span.pill { (alias) " v" (v) } " " } }
                            td { (l.versions) }
                            td { @if let Some(v) = &l.last_validation {
                                "v" (v.version) " · AUC " (v.auc.map_or("–".into(), number)) br; small { (date(v.at)) }
                            } @else { span.muted { "never" } } }
                            td { @if let Some(p) = &l.policy {
                                @if p.allowed { span.ok { "allowed" } } @else { span.bad { "denied" } } " v" (p.version)
                            } @else { span.muted { "not gated" } } }
                            td { span class=[(l.open_alerts > 0).then_some("warn")] { (l.open_alerts) } " / "
                                 span class=[(l.open_incidents > 0).then_some("bad")] { (l.open_incidents) }
                                 @if let Some(by) = &l.retirement_requested_by { br; small.warn { "retirement asked by " (by) } }
                                 @if let Some(r) = &l.revalidation {
                                     @if r.overdue { br; small.bad.revalidation-overdue { "revalidation overdue since " (date(r.due_at)) } }
                                     @else if let Some(why) = &r.required { br; small.warn { "revalidation required: " (why) } }
                                 } }
                            td.fields { (field_list(&l.fields))
                                 @if let Some(why) = &l.out_of_schema { br; small.warn.out-of-schema { "out of schema: " (why) } } }
                        }
                    }
                }
            }
            @if !retired.is_empty() {
                h2 { "Retired models" }
                p.muted { "They serve, ingest and take new versions no more; every record and their evidence bundles stay." }
                div.scroll { table.data #retired {
                    thead { tr { th { "Model" } th { "Tier" } th { "Owner" } th { "Versions" } th { "Retired" } } }
                    tbody { @for l in &retired { tr {
                        td { a href={"/ui/models/" (l.name)} { (l.name) } br; small { (l.use_case) } }
                        td { (l.risk_tier) } td { (l.owner) } td { (l.versions) }
                        td { (l.retired_at.map(date).unwrap_or_default()) }
                    } } }
                } }
            }
        },
    )
}

/// A model's inventory fields, `name: value` each.
fn field_list(fields: &Value) -> Markup {
    html! { @for (name, value) in fields.as_object().into_iter().flatten() {
        span.pill { (name) ": " (warden_oversight::overview::field_text(value)) } " "
    } }
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
    /// The model's findings, newest first.
    findings: Vec<Finding>,
    /// Its revalidation schedule.
    revalidation: warden_oversight::revalidation::Revalidation,
    /// Its tier, how it was set, and its inventory fields.
    tier: warden_oversight::inventory::ModelTier,
    /// The stop switch's state.
    suspension: warden_oversight::suspension::Suspension,
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
        let findings = warden_oversight::findings::list(warden, caller, Some(name), None, false).await?;
        let revalidation = warden_oversight::revalidation::status(warden, name, None, warden.now()).await?;
        let tier = warden_oversight::inventory::tier(warden, caller, name).await?;
        let suspension = warden_oversight::suspension::state(warden, caller, name).await?;
        Ok(ModelData {
            model,
            versions,
            aliases,
            history,
            selected,
            report,
            approvals,
            gate,
            findings,
            revalidation,
            tier,
            suspension,
        })
    }
}

/// The moves that put `version` in production against the gate's refusal, oldest first.
fn overrides_of(history: &[AliasAssignment], version: i64) -> Vec<&AliasAssignment> {
    history.iter().filter(|a| a.overridden && a.version == Some(version)).collect()
}

/// Whether the alias still serves what `moved` (an entry of `history`, oldest first) put there: no later move.
fn still_serves(history: &[AliasAssignment], moved: &AliasAssignment) -> bool {
    let Some(position) = history.iter().position(|a| std::ptr::eq(a, moved)) else { return false };
    !history[position + 1..].iter().any(|a| a.alias == moved.alias)
}

/// A banner for each time the selected version went to production by an administrator's override: who, why,
/// and the gate decision that was overridden (with its reasons when the role may read gate decisions).
fn override_banner(data: &ModelData, version: i64) -> Markup {
    let moves = overrides_of(&data.history, version);
    html! {
        @for moved in moves {
            @let decision = moved.decision_id.as_deref().and_then(|id| {
                data.gate.as_ref()?.iter().find(|d| d["decision_id"].as_str() == Some(id))
            });
            section.banner.override #override-banner {
                h2 { "Version " (version) " went to " (moved.alias) " by an override of the gate" }
                dl.facts {
                    dt { "When" } dd { (date(moved.assigned_at)) }
                    dt { "Overridden by" } dd .actor { (moved.assigned_by) }
                    dt { "Reason" } dd .reason { (moved.reason) }
                    dt { "Gate decision" } dd { code .decision { (moved.decision_id.as_deref().unwrap_or("–")) } }
                    @if let Some(d) = decision {
                        dt { "The gate refused because" } dd { ul.reasons {
                            @for r in d["deny"].as_array().into_iter().flatten() { li { (r.as_str().unwrap_or_default()) } }
                        } }
                    }
                    dt { "Now" } dd { @if still_serves(&data.history, moved) { "still serving as " (moved.alias) } @else { "no longer serving as " (moved.alias) } }
                }
            }
        }
    }
}

pub(crate) fn model(viewer: &Viewer, data: &ModelData, now: i64) -> Markup {
    let m = &data.model;
    let name = &m.input.name;
    let (lanes, events) = deployments::lanes(&data.history, now as f64);
    let moves = deployments::notable(&data.history);
    layout(
        Some(viewer),
        name,
        "Inventory",
        html! {
            p.crumbs { a href="/ui" { "Inventory" } " › " (name) }
            h1 { (name) " " span class={"tier " (m.input.risk_tier.as_str())} { (m.input.risk_tier.as_str()) } }
            @let r = &m.retirement;
            @if let (Some(at), Some(by)) = (r.retired_at, &r.retired_by) {
                div.banner.bad #retired-banner { strong { "Retired " (date(at)) " by " (by) } ": "
                    (r.reason.clone().unwrap_or_default()) " (asked by " (r.requested_by.clone().unwrap_or_default())
                    "). It serves, ingests and takes new versions no more; its records and evidence stay." }
            } @else if let Some(by) = &r.requested_by {
                div.banner.warn #retirement-asked { strong { "Retirement asked by " (by) } ": "
                    (r.reason.clone().unwrap_or_default()) "; a second person confirms it." }
            }
            @let s = &data.suspension;
            @if s.suspended {
                div.banner.bad #suspended-banner {
                    strong { "Suspended " (date(s.at.unwrap_or_default())) " by " (s.by.clone().unwrap_or_default()) } ": "
                    (s.reason.clone().unwrap_or_default()) ". Its production traffic is answered by its fallback ("
                    @match (s.fallback, s.fallback_version) {
                        (Some(f), Some(v)) => { (f) " " (v) }
                        (Some(f), None) => { (f) }
                        (None, _) => { "none" }
                    }
                    "), logged on route fallback, until it is resumed (warden model resume)." }
            }
            p { (m.input.description) }
            dl.facts {
                dt { "Owner" } dd { (m.input.owner) }
                dt { "Use" } dd { @if m.input.use_case.is_empty() { span.muted { "not stated" } } @else { (m.input.use_case) } }
                dt { "Created" } dd { (date(m.created_at)) " by " (m.created_by) }
                @let t = &data.tier;
                dt { "Tier" } dd #tier {
                    (t.tier) " (" (t.basis)
                    @if let (Some(by), Some(at)) = (&t.set_by, t.set_at) { " by " (by) " " (date(at)) } ")"
                    @if !t.reasons.is_empty() { ": " (t.reasons.join("; ")) }
                    @if let Some(c) = t.computed.as_ref().filter(|c| c.tier != t.tier) {
                        " · " span.warn { "the policy computes " (c.tier) " (" (c.reasons.join("; ")) ")" } }
                    @if let Some(why) = &t.computed_error { " · " span.bad { "the tiering rules fail: " (why) } } }
                dt { "Inventory fields" } dd #inventory-fields {
                    @if is_empty(&t.fields) { span.muted { "none recorded" } } @else { (field_list(&t.fields)) } }
                @let r = &data.revalidation;
                dt { "Revalidation" } dd #revalidation {
                    "every " (r.frequency_days) " days; last validated " @match r.last_validated_at { Some(at) => (date(at)), None => "never" }
                    "; due " (date(r.due_at))
                    @if r.overdue { " " span.bad { "overdue" } }
                    @if let Some(why) = &r.required { " · " span.warn { "revalidation required: " (why) } } }
                dt { "Aliases" } dd #aliases { @for a in &data.aliases { span.pill { (a.alias) " → v" (a.version.unwrap_or_default())
                    @if let Some(t) = a.traffic { " (" (percent(t)) ")" } } " " } }
            }
            @if let Some(number) = data.selected { (override_banner(data, number)) }
            p {
                @if may(&viewer.principal, Permission::ReadDecisions) {
                    a.button href={"/ui/models/" (name) "/monitoring"} { "Monitoring →" } " "
                    a.button #decisions href={"/ui/models/" (name) "/decisions"} { "Decisions and reviews →" } " "
                }
                @if may(&viewer.principal, Permission::ReadAudit) {
                    @let version = data.selected.map(|v| format!("?version={v}")).unwrap_or_default();
                    a.button #model-docs href={"/ui/models/" (name) "/docs" (version)} { "Model documentation →" } " "
                    a.button #monitoring-report href={"/ui/models/" (name) "/docs?template=monitoring-report"} {
                        "Monitoring report, last 30 days →" }
                }
            }
            h2 { "Deployments" }
            div.chart-scroll { (charts::timeline("Which version each alias served when", &lanes, &events, now as f64)) }
            @if !moves.is_empty() {
                ol.timeline #deployment-events { @for m in moves.iter().rev() { li {
                    span.when { (when(m.assignment.assigned_at)) } " "
                    strong { (m.kind.name()) } " · " (m.describe())
                } } }
            }
            h2 { "Versions and lineage" }
            table.data #versions {
                thead { tr { th { "Version" } th { "Registered" } th { "Format" } th { "Artifact" } th { "Reference data" } th { "Training data" } th { "Code" } th { "Parent" } th { "Signed" } } }
                tbody { @for v in data.versions.iter().rev() {
                    tr class=[(Some(v.number) == data.selected).then_some("selected")] {
                        td { a href={"/ui/models/" (name) "?version=" (v.number)} { "v" (v.number) }
                            @if !overrides_of(&data.history, v.number).is_empty() { " " span.pill.override title="went to production by an override of the gate" { "override" } } }
                        td { (date(v.created_at)) br; small { (v.created_by) } }
                        td { (v.format.as_str()) }
                        td { code title=(v.artifact_sha256) { (short(&v.artifact_sha256)) } }
                        td { code title=(v.reference_sha256) { (short(&v.reference_sha256)) } br; small { (counted(v.profile.rows as i128, "row", "rows")) } }
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
                            td { (date(a.at)) } td { (a.by) } td { (a.role) }
                            td { @match serde_json::to_value(a.decision).ok().and_then(|v| v.as_str().map(str::to_owned)).as_deref() {
                                Some("approve") => span.ok { "approve" },
                                Some(other) => span.bad { (other) },
                                None => "–",
                            } }
                            td.text { (a.comment) }
                        } } } }
                }
                h3 { "Findings on this version" }
                (findings_table(data.findings.iter().filter(|f| f.version.is_none_or(|v| v == number)), "version-findings", false))
                h3 { "Gate decisions" }
                @match &data.gate {
                    None => p.muted { "Gate decisions are shown to validators, risk officers and administrators." },
                    Some(decisions) if decisions.is_empty() => p.muted { "The gate has not judged this version." },
                    Some(decisions) => table.data #gate { thead { tr { th { "When" } th { "Alias" } th { "Purpose" } th { "Decision" } th { "Reasons" } th { "Bundle" } } }
                        tbody { @for d in decisions.iter().rev() { tr {
                            td { (date(d["at"].as_i64().unwrap_or_default())) }
                            td { (d["alias"].as_str().unwrap_or_default()) }
                            td { (d["purpose"].as_str().unwrap_or_default()) }
                            td { @if d["allow"].as_bool() == Some(true) { span.ok { "allow" } } @else { span.bad { "deny" } }
                                br; code title="decision id" { (d["decision_id"].as_str().unwrap_or_default()) } }
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

/// Findings as a table: id, kind, severity, state, due date (overdue marked), owner, title, and (when asked)
/// the model and version.
fn findings_table<'a>(findings: impl Iterator<Item = &'a Finding>, id: &str, with_model: bool) -> Markup {
    let findings: Vec<&Finding> = findings.collect();
    html! {
        @if findings.is_empty() { p.muted.empty #{(id) "-none"} { "No findings." } } @else {
            div.scroll { table.data #(id) {
                thead { tr { th { "#" } @if with_model { th { "Model" } } th { "Kind" } th { "Severity" } th { "State" } th { "Due" } th { "Owner" } th { "Title" } } }
                tbody { @for f in &findings { tr #{"finding-" (f.id)} {
                    td { (f.id) }
                    @if with_model { td { (model_link(&f.model, f.version)) } }
                    td { (f.kind) }
                    td { span class=(match f.severity { FindingSeverity::Critical | FindingSeverity::High => "bad", FindingSeverity::Medium => "warn", FindingSeverity::Low => "" }) { (f.severity) } }
                    td.state { (f.state)
                        @if let Some(until) = f.exception_until { br; small { "exception until " (date(until)) } }
                        @if let (FindingState::Accepted, Some(until)) = (f.state, f.accepted_until) { br; small { "until " (date(until)) } } }
                    td { @if f.state == FindingState::Closed { "–" } @else {
                        (date(f.due_at)) @if f.overdue { " " span.bad.overdue { "overdue" } } } }
                    td { (f.owner) }
                    td.text { (f.title) @if let Some(evidence) = &f.evidence { br; small { "evidence: " (evidence) } } }
                } } }
            } }
        }
    }
}

/// Which findings the findings page shows.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct FindingsFilter {
    pub(crate) model: Option<String>,
    #[serde(default, deserialize_with = "any_when_empty")]
    pub(crate) severity: Option<FindingSeverity>,
    pub(crate) owner: Option<String>,
    #[serde(default, deserialize_with = "any_when_empty")]
    pub(crate) state: Option<FindingState>,
    #[serde(default, deserialize_with = "checked")]
    pub(crate) overdue: bool,
}

/// A checkbox: "true" (or "on") when ticked; absent or empty when not.
fn checked<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<bool, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("" | "false") => Ok(false),
        Some("true" | "on") => Ok(true),
        Some(other) => Err(serde::de::Error::custom(format!("overdue: '{other}' is not true or false"))),
    }
}

/// A filter's select sends "" for "any".
fn any_when_empty<'de, D, T>(deserializer: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl FindingsFilter {
    fn keeps(&self, f: &Finding) -> bool {
        self.model.as_deref().is_none_or(|m| m.is_empty() || f.model == m)
            && self.severity.is_none_or(|s| f.severity == s)
            && self.owner.as_deref().is_none_or(|o| o.is_empty() || f.owner == o)
            && self.state.is_none_or(|s| f.state == s)
            && (!self.overdue || f.overdue)
    }
}

pub(crate) fn findings(viewer: &Viewer, all: &[Finding], filter: &FindingsFilter) -> Markup {
    let shown: Vec<&Finding> = all.iter().filter(|f| filter.keeps(f)).collect();
    let mut models: Vec<&str> = all.iter().map(|f| f.model.as_str()).collect();
    models.sort_unstable();
    models.dedup();
    let mut owners: Vec<&str> = all.iter().map(|f| f.owner.as_str()).collect();
    owners.sort_unstable();
    owners.dedup();
    let selected = |value: &str, current: Option<&str>| current == Some(value);
    layout(
        Some(viewer),
        "Findings",
        "Findings",
        html! {
            h1 { "Findings" }
            form.filters #findings-filter method="get" action="/ui/findings" {
                label { "Model " select name="model" { option value="" { "any" }
                    @for m in &models { option value=(m) selected[selected(m, filter.model.as_deref())] { (m) } } } }
                label { "Severity " select name="severity" { option value="" { "any" }
                    @for s in FindingSeverity::ALL { option value=(s) selected[filter.severity == Some(*s)] { (s) } } } }
                label { "Owner " select name="owner" { option value="" { "any" }
                    @for o in &owners { option value=(o) selected[selected(o, filter.owner.as_deref())] { (o) } } } }
                label { "State " select name="state" { option value="" { "any" }
                    @for s in FindingState::ALL { option value=(s) selected[filter.state == Some(*s)] { (s) } } } }
                label { input type="checkbox" name="overdue" value="true" checked[filter.overdue]; " overdue only" }
                button type="submit" { "Filter" }
            }
            p #findings-count { (counted(shown.len() as i128, "finding", "findings")) " of " (all.len()) "." }
            (findings_table(shown.into_iter(), "findings", true))
        },
    )
}

pub(crate) fn validation_section(report: Option<&ValidationReport>) -> Markup {
    let Some(r) = report else {
        return html! { h3 { "Validation" } p.muted #no-validation { "This version has not been validated." } };
    };
    let f = &r.figures;
    let d = &f.discrimination;
    let reliability: Vec<(f64, f64)> = f
        .calibration
        .iter()
        .flat_map(|c| c.reliability.iter().filter_map(|b| Some((b.mean_pred?, b.mean_true?))))
        .collect();
    let histogram = f.score_histogram.as_ref();
    let bins: Vec<String> = (0..20).map(|i| format!("{:.2}", i as f64 / 20.0)).collect();
    html! {
        h3 { "Validation" }
        p { "Report " (r.id) " · " (date(r.created_at)) " by " (r.created_by) " · " (counted(r.rows as i128, "row", "rows")) @if let Some(b) = r.bad_rate { ", bad rate " (percent(b)) } " · data " code { (short(&r.data_sha256)) } }
        @if !r.warnings.is_empty() {
            ul.reasons #validation-warnings { @for w in &r.warnings { li.warn { "Warning: " (w) } } }
        }
        div.cards #validation-figures {
            div.card { span.big { (d.auc.map_or("–".into(), number)) } span { @if f.multiclass.is_some() { "macro ROC AUC (one-vs-rest)" } @else { "ROC AUC" }
                @if let Some(i) = d.auc_interval { " (" (number(i.lower)) "–" (number(i.upper)) ")" } } }
            div.card { span.big { (d.gini.map_or("–".into(), number)) } span { "Gini" } }
            div.card { span.big { (d.ks.map_or("–".into(), number)) } span { "KS" } }
            @if let Some(c) = &f.calibration {
                div.card { span.big { (number(c.brier)) } span { "Brier" } }
                div.card { span.big { (number(c.ece)) } span { "ECE" } }
            }
            @if let Some(g) = &f.regression {
                div.card #regression-mae { span.big { (number(g.metrics.mae)) } span { "MAE on realized values" } }
                div.card { span.big { (number(g.metrics.rmse)) } span { "RMSE" } }
                div.card { span.big { (number(g.metrics.mape)) } span { "MAPE" } }
                div.card { span.big { (number(g.metrics.r2)) } span { "R²" } }
                div.card #expected-loss-error { span.big { (number(g.expected_loss_error)) } span { "expected-loss error (predicted − realized"
                    @if g.expected_loss_error < 0.0 { ", " span.bad { "under-provisioned" } } ")" } }
            }
            @if let Some(m) = &f.multiclass {
                div.card #multiclass-accuracy { span.big { (percent(m.accuracy)) } span { "accuracy on realized classes" } }
                div.card { span.big { (number(m.f1_macro)) } span { "macro F1" } }
                div.card { span.big { (number(m.precision_macro)) } span { "macro precision" } }
                div.card { span.big { (number(m.recall_macro)) } span { "macro recall" } }
            }
            @if let Some(approval) = f.approval_rate {
                div.card { span.big { (percent(approval)) } span { "approved at " (number(r.threshold)) } }
            }
            div.card { span.big { (number(r.stability.max_feature_psi)) } span { "largest feature PSI" } }
            @if let Some(m) = &r.stability.multivariate {
                div.card #multivariate { span.big { (number(m.reconstruction_error)) } span { "reconstruction error (reference " (number(m.reference_error)) @if m.alert { ", " span.bad { "outside its bands" } } ")" } }
            }
            @if let Some(worst) = r.stability.explanation_shift.as_ref().and_then(|s| s.iter().max_by(|a, b| a.1.total_cmp(b.1))) {
                div.card #explanation-shift { span.big { (percent(*worst.1)) } span { "largest change in a feature's mean |contribution| (" (worst.0) ")" } }
            }
        }
        @if let Some(m) = &f.multiclass {
            table.data #confusion-matrix {
                caption { "Realized class (rows) against decided class (columns), with each class's one-vs-rest AUC" }
                thead { tr { th { "realized ↓ / decided →" } @for c in &m.classes { th { (c) } } th { "AUC" } th { "share realized" } } }
                tbody { @for (i, c) in m.classes.iter().enumerate() { tr {
                    th { (c) }
                    @for n in &m.confusion[i] { td { (n) } }
                    td { (m.auc_per_class[i].map_or("–".into(), number)) }
                    td { (percent(m.realized_shares[i])) }
                } } }
            }
        }
        div.grid {
            @if !d.roc.is_empty() {
                figure { figcaption { "ROC curve" } (charts::unit_curve("ROC curve", &d.roc, "false positive rate", "true positive rate")) }
            }
            @if f.calibration.is_some() {
                figure { figcaption { "Reliability" } (charts::unit_curve("Reliability diagram", &reliability, "mean score", "observed bad rate")) }
            }
            @if let Some(h) = histogram {
                figure { figcaption { "Score distribution" }
                    (charts::bar_chart("Score distribution by outcome", &bins, &[("good", h.good.iter().map(|&c| c as f64).collect()), ("bad", h.bad.iter().map(|&c| c as f64).collect())], None)) }
            }
            @for (attribute, fairness) in &r.fairness {
                figure { figcaption { @if f.multiclass.is_some() { "Rate " (fairness.favourable_outcome) " by " (attribute) } @else { "Approval rate by " (attribute) } " · disparate impact " (fairness.disparate_impact.map_or("–".into(), number)) }
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
    /// The window asked for (µs); `None` fits the data's age.
    window: Option<i64>,
    /// The time range every chart shows: from the first evaluation shown (never before the window asked for)
    /// to now, so that a young model's charts are not mostly empty and an old one's are not cut.
    range: (i64, i64),
    monitors: Vec<Monitor>,
    points: Vec<MonitorPoint>,
    alerts: Vec<Alert>,
    history: Vec<AliasAssignment>,
    /// The feature-drift monitor's latest evaluation that kept window counts, and each feature's shift.
    shifts: Option<(MonitorPoint, Vec<FeatureShift>)>,
    /// Decisions made outside Warden: this replica's streams of the model, its dead records, KServe halves
    /// waiting.
    ingestion: warden_serving::ingest::IngestionStatus,
}

/// How far back the monitoring page looks when no window is asked for.
const DEFAULT_HORIZON: i64 = 365 * 86_400_000_000;
const HOUR_MICROS: i64 = 3_600_000_000;

/// The windows offered on the monitoring page: label and query.
const WINDOWS: [(&str, &str, i64); 7] = [
    ("1 h", "hours=1", HOUR_MICROS),
    ("6 h", "hours=6", 6 * HOUR_MICROS),
    ("1 d", "days=1", 24 * HOUR_MICROS),
    ("7 d", "days=7", 7 * 24 * HOUR_MICROS),
    ("30 d", "days=30", 30 * 24 * HOUR_MICROS),
    ("90 d", "days=90", 90 * 24 * HOUR_MICROS),
    ("1 y", "days=365", 365 * 24 * HOUR_MICROS),
];

impl MonitoringData {
    pub(crate) async fn load(
        warden: &Warden,
        caller: &Principal,
        name: &str,
        window: Option<i64>,
    ) -> Result<MonitoringData> {
        use warden_oversight::{alerts, monitoring, overview};
        use warden_registry::registry;
        let model = registry::get_model(warden, caller, name).await?;
        let monitors = monitoring::list(warden, caller, name).await?;
        let now = warden.now();
        let since = now - window.unwrap_or(DEFAULT_HORIZON);
        let points = overview::monitor_series_since(warden, caller, name, since, 360).await?;
        let first = points.iter().map(|p| p.at).min().unwrap_or(now - window.unwrap_or(HOUR_MICROS));
        let range = (first.max(since).min(now), now);
        let mut alerts = alerts::list(warden, caller, None, Some(name)).await?;
        alerts.retain(|a| a.opened_at >= range.0);
        let history = registry::alias_history(warden, caller, name, None).await?;
        let mut shifts = None;
        if let Some(drift) = monitors.iter().find(|m| m.kind == MonitorKind::FeatureDrift) {
            let counted = |p: &&MonitorPoint| {
                p.monitor == drift.name
                    && p.details["features"]
                        .as_object()
                        .is_some_and(|f| f.values().any(|k| k["figures"]["window"].is_object()))
            };
            // The latest evaluation of the version shown (the champion's when it was evaluated).
            let shown = shown_version(&history, points.iter().filter(|p| counted(p)));
            let latest = points.iter().rev().filter(|p| Some(p.version) == shown).find(counted);
            if let Some(point) = latest {
                let version = registry::get_version(warden, caller, name, &point.version.to_string()).await?;
                shifts = Some((point.clone(), distributions::shifts(point, &version.profile)));
            }
        }
        let mut ingestion = warden_serving::ingest::status(warden, caller, 1000).await?;
        ingestion.streams.retain(|s| s.model == name);
        ingestion.dead_letters.1.retain(|l| l.model.as_deref() == Some(name));
        ingestion.dead_letters.1.truncate(5);
        ingestion.kserve_waiting.retain(|(model, ..)| model == name);
        Ok(MonitoringData { model, window, range, monitors, points, alerts, history, shifts, ingestion })
    }
}

/// Decisions made outside Warden, when the model has any source of them here: each stream partition's lag,
/// the newest dead records, KServe halves waiting for their other half.
fn ingestion(state: &warden_serving::ingest::IngestionStatus) -> Markup {
    let letters = &state.dead_letters.1;
    if state.streams.is_empty() && letters.is_empty() && state.kserve_waiting.is_empty() && state.pending_outcomes == 0
    {
        return html! {};
    }
    html! {
        h2 #ingestion { "Decisions from outside Warden" }
        @if state.pending_outcomes > 0 {
            p { (warden_core::words::counted(state.pending_outcomes, "outcome", "outcomes")) " read before their decisions, waiting for them" }
        }
        @for stream in &state.streams {
            p {
                "Kafka topic " strong { (stream.topic) } " (" (stream.kind.as_str()) ", group " (stream.group) "): "
                @if stream.connected { span.ok { "brokers answer" } } @else { span.bad { "brokers do not answer" } }
                @if let Some(error) = &stream.last_error { " · " span.muted { (error) } }
                @if let Some(deviation) = stream.deviation() { " · " span.bad { (deviation) } }
            }
            table.stream-lag {
                thead { tr { th { "partition" } th.num { "next offset" } th.num { "end" } th.num { "lag" } } }
                tbody {
                    @for (partition, position, end) in &stream.partitions {
                        @let lag = warden_serving::ingest::StreamStatus::lag(*position, *end);
                        tr {
                            td { (partition) }
                            td.num { (position.map_or("—".to_owned(), |p| p.to_string())) }
                            td.num { (end.map_or("—".to_owned(), |e| e.to_string())) }
                            td.num.bad[lag.is_some_and(|l| l > stream.lag_alert)] {
                                (lag.map_or("—".to_owned(), |l| l.to_string()))
                            }
                        }
                    }
                }
            }
        }
        @for (_, requests, responses, oldest) in &state.kserve_waiting {
            p #kserve-waiting {
                "KServe: " (counted(*requests as u64, "request", "requests")) " waiting for a response, "
                (counted(*responses as u64, "response", "responses")) " waiting for a request"
                @if let Some(oldest) = oldest { " (the oldest since " (when(*oldest)) ")" }
            }
        }
        @if !letters.is_empty() {
            p { "Records set aside (newest first):" }
            ul #dead-letters {
                @for letter in letters {
                    li {
                        (when(letter.at)) " · " (letter.source)
                        @if let (Some(topic), Some(partition), Some(offset)) = (&letter.topic, letter.partition, letter.offset) {
                            " " (topic) "/" (partition) "@" (offset)
                        }
                        " · " (letter.reason)
                    }
                }
            }
        }
    }
}

/// The version a per-version view shows: the one serving `champion` now when it has evaluations, else the
/// version evaluated last (a model without a champion, or a champion not yet evaluated).
fn shown_version<'a>(
    history: &[AliasAssignment],
    points: impl DoubleEndedIterator<Item = &'a MonitorPoint> + Clone,
) -> Option<i64> {
    let champion = history.iter().rev().find(|a| a.alias == "champion").and_then(|a| a.version);
    champion.filter(|v| points.clone().any(|p| p.version == *v)).or_else(|| points.last().map(|p| p.version))
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
    let deployments = deployments::markers(&data.history);
    let (from, to) = data.range;
    layout(
        Some(viewer),
        &format!("{name} monitoring"),
        "Inventory",
        html! {
            p.crumbs { a href="/ui" { "Inventory" } " › " a href={"/ui/models/" (name)} { (name) } " › monitoring" }
            h1 { "Monitoring: " (name) }
            p #range { "Showing " (when(from)) " to " (when(to)) " (" (duration((to - from) as f64 / 1e6)) ") · "
                a href={"/ui/models/" (name) "/monitoring"} class=[data.window.is_none().then_some("active")] { "all data" } " "
                @for (label, query, micros) in WINDOWS {
                    a href={"/ui/models/" (name) "/monitoring?" (query)} class=[(data.window == Some(micros)).then_some("active")] { (label) } " "
                } }
            @if data.monitors.is_empty() { p.muted { "No monitors." } }
            @if let Some(drift) = drift {
                h2 { "Feature drift over time" }
                div.chart-scroll { (drift_heat_map(drift, by_monitor.get(drift.name.as_str()).map(Vec::as_slice).unwrap_or_default(), &data.history, data.range, HeatRows::Features)) }
            }
            @for monitor in data.monitors.iter().filter(|m| m.config.segment_by.is_some()) {
                h2.segments { "Segments of " (monitor.name) " by " (monitor.config.segment_by.as_deref().unwrap_or_default()) " over time" }
                p.muted { "Each segment against the reference rows of the same segment (the whole reference when it holds fewer than the segment minimum); a cell is the worst feature's value, empty below the segment minimum." }
                div.chart-scroll { (drift_heat_map(monitor, by_monitor.get(monitor.name.as_str()).map(Vec::as_slice).unwrap_or_default(), &data.history, data.range, HeatRows::Segments)) }
            }
            @if let Some((point, shifts)) = &data.shifts {
                h2 #feature-shifts { "How features shifted" }
                p.muted { "The latest drift evaluation (" (when(point.at)) ", version " (point.version) "): the share of values in each bin of the version's reference data against the monitored window, over the bins PSI is computed on — the reference's deciles for numbers (each holds about a tenth of the reference), with missing values as one more bin, and the categories for categories." }
                (distributions::figures(shifts))
            }
            (ingestion(&data.ingestion))
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
                        div.chart-scroll { (monitor_chart(monitor, points, &data.alerts, &deployments, data.range)) }
                    }
                }
            }
            @for monitor in data.monitors.iter().filter(|m| m.kind == MonitorKind::ScoreDrift && m.config.statistic.as_deref() == Some("class_psi")) {
                @if let Some(latest) = by_monitor.get(monitor.name.as_str()).and_then(|p| p.last()) {
                    h2 #decided-classes { "Decided classes (latest): " (monitor.name) }
                    (latest_table(latest))
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

/// A monitor's values over the page's range, its bands, the alerts it raised and every alias move
/// (automatic rollbacks, overrides, manual moves, promotions) as markers.
fn monitor_chart(
    monitor: &Monitor,
    points: &[&MonitorPoint],
    alerts: &[Alert],
    deployments: &[Marker],
    range: (i64, i64),
) -> Markup {
    // One line per version: a shadow challenger's values never run into the champion's.
    let mut by_version: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
    for p in points {
        if let Some(value) = p.value {
            by_version.entry(p.version).or_default().push((p.at as f64, value));
        }
    }
    let names: Vec<String> = by_version.keys().map(|v| format!("version {v}")).collect();
    let series: Vec<Series> =
        by_version.into_values().zip(&names).map(|(points, name)| Series { name, points }).collect();
    let (warn, alert) =
        points.iter().rev().find_map(|p| bands_of(p)).unwrap_or((monitor.config.warn, monitor.config.alert));
    let thresholds = [
        Threshold { value: warn, label: "warn", colour: WARN },
        Threshold { value: alert, label: "alert", colour: ALERT },
    ];
    let mut markers: Vec<Marker> = alerts
        .iter()
        .filter(|a| a.monitor == monitor.name)
        .map(|a| Marker {
            at: a.opened_at as f64,
            kind: MarkerKind::Alert,
            label: format!("alert {} ({}) on {} of version {}", a.id, a.severity, a.feature, a.version),
        })
        .collect();
    markers.extend(deployments.iter().cloned());
    charts::line_chart(&LineChart {
        title: &format!("{} over time", monitor.name),
        series: &series,
        thresholds: &thresholds,
        markers: &markers,
        x_axis: XAxis::Time,
        x_range: Some((range.0 as f64, range.1 as f64)),
    })
}

/// Which keys of a monitor's evaluations a heat map shows as rows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum HeatRows {
    /// The features (and other whole-traffic keys).
    Features,
    /// The segments of a segmented monitor.
    Segments,
}

fn drift_heat_map(
    monitor: &Monitor,
    points: &[&MonitorPoint],
    history: &[AliasAssignment],
    range: (i64, i64),
    rows_shown: HeatRows,
) -> Markup {
    let (what, by) = match rows_shown {
        HeatRows::Features => ("Feature drift".to_owned(), "by feature".to_owned()),
        HeatRows::Segments => (
            monitor.name.clone(),
            format!("by segment of {}", monitor.config.segment_by.as_deref().unwrap_or_default()),
        ),
    };
    // One version's keys per map: the champion's, or the version evaluated last.
    let Some(version) = shown_version(history, points.iter().copied()) else {
        let title = format!("{what} {by} over time");
        return charts::heat_map(&title, &[], &[], monitor.config.warn, monitor.config.alert, None);
    };
    let points: Vec<&MonitorPoint> = points.iter().copied().filter(|p| p.version == version).collect();
    let is_segment = |key: &Value| key["figures"]["segment"].is_string();
    let mut features: Vec<String> = points
        .iter()
        .flat_map(|p| {
            p.details["features"]
                .as_object()
                .into_iter()
                .flat_map(|f| f.iter().filter(|(_, k)| is_segment(k) == (rows_shown == HeatRows::Segments)))
                .map(|(name, _)| name.clone())
        })
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
    charts::heat_map(
        &format!("{what} of version {version} {by} over time"),
        &rows,
        &columns,
        monitor.config.warn,
        monitor.config.alert,
        Some((range.0 as f64, range.1 as f64)),
    )
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

/// Monitor figures (a JSON object) in one line people read: words for keys, numbers shortened, durations for
/// `_micros`, yes/no, per-group counts as "306 of 428 favourable", and nothing for empty parts, so that no
/// debug structure (`fields: {}`, `[428,306]`) reaches a page.
fn compact(value: &Value) -> String {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !is_empty(v))
            .map(|(k, v)| match (k.strip_suffix("_micros"), v.as_f64()) {
                (Some(name), Some(micros)) => format!("{}: {}", words(name), duration(micros / 1e6)),
                _ if k.ends_with("_rate") && v.is_number() => {
                    format!("{}: {}", words(k), percent(v.as_f64().unwrap_or_default()))
                }
                _ if k == "groups" && v.is_object() => format!("groups: {}", group_counts(v)),
                _ if v.is_object() => format!("{} ({})", words(k), compact(v)),
                _ => format!("{}: {}", words(k), compact(v)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(items) => items.iter().map(compact).collect::<Vec<_>>().join(", "),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
        Value::Bool(b) => (if *b { "yes" } else { "no" }).into(),
        Value::Null => "–".into(),
        Value::String(s) => s.clone(),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().all(is_empty),
        Value::Array(items) => items.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// `jensen_shannon` → "jensen shannon".
fn words(key: &str) -> String {
    key.replace('_', " ")
}

/// Per-group `[decisions, favourable]` pairs as "female 306 of 428 favourable; male …".
fn group_counts(groups: &Value) -> String {
    groups
        .as_object()
        .into_iter()
        .flatten()
        .map(|(group, counts)| match (counts[0].as_u64(), counts[1].as_u64()) {
            (Some(decisions), Some(favourable)) => format!("{group} {favourable} of {decisions} favourable"),
            _ => format!("{group} {}", compact(counts)),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------------------------
// Alerts and incidents

pub(crate) struct AlertsData {
    alerts: Vec<Alert>,
    incidents: Vec<(Incident, Vec<Value>)>,
    /// Each listed incident's regulatory clocks, by incident id.
    clocks: BTreeMap<i64, warden_oversight::clocks::IncidentClocks>,
}

impl AlertsData {
    pub(crate) async fn load(warden: &Warden, caller: &Principal) -> Result<AlertsData> {
        use warden_oversight::alerts;
        let mut all = alerts::list(warden, caller, None, None).await?;
        all.truncate(200);
        let mut incidents = Vec::new();
        let mut clocks = BTreeMap::new();
        for incident in alerts::incidents(warden, caller, None).await?.into_iter().take(20) {
            clocks.insert(incident.id, warden_oversight::clocks::clocks(warden, caller, incident.id).await?);
            incidents.push(alerts::incident(warden, caller, incident.id).await?);
        }
        Ok(AlertsData { alerts: all, incidents, clocks })
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
                        td { (a.id) } td { (date(a.opened_at)) }
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
                        " (from the first decision of the first breaching window)"
                        @if let Some(s) = incident.time_to_resolve_seconds { " · resolved in " (duration(s)) } }
                    @if let Some(by) = &incident.resolved_by {
                        p.resolution { "Resolved by " strong { (by) } ": " (incident.resolution.as_deref().unwrap_or_default()) }
                    }
                    ol.timeline { @for e in timeline { li {
                        span.when { (when(e["at"].as_i64().unwrap_or_default())) } " "
                        strong { (e["kind"].as_str().unwrap_or_default()) } " · "
                        @if let Some(alert) = e["alert"].as_i64() {
                            "alert " (alert) " " (e["monitor"].as_str().unwrap_or_default()) " on '" (e["feature"].as_str().unwrap_or_default()) "'"
                            @if let Some(v) = e["version"].as_i64() { " v" (v) }
                            " · "
                        }
                        (e["summary"].as_str().unwrap_or_default())
                    } } }
                    @if let Some(clocks) = data.clocks.get(&incident.id).filter(|c| !c.owed.is_empty()) {
                        table.data.clocks id={"clocks-" (incident.id)} {
                            thead { tr { th { "Report owed" } th { "Due" } th { "Stage" } th { "Left" } th { "Basis" } th { "Content" } } }
                            tbody { @for (owed, stage, left) in &clocks.owed { tr {
                                td { (owed.framework) " " (owed.kind) } td { (date(owed.due_at)) }
                                td { span class=(match stage {
                                    ReportStage::Overdue | ReportStage::SubmittedLate => "bad",
                                    ReportStage::DueSoon => "warn",
                                    _ => "ok",
                                }) { (stage) } }
                                td { @if matches!(stage, ReportStage::Submitted | ReportStage::SubmittedLate) { "–" }
                                     @else if *left < 0 { (duration(-*left as f64)) " over" } @else { (duration(*left as f64)) } }
                                td.muted { (owed.basis) }
                                td { @if owed.framework == warden_core::Framework::Dora {
                                    a.dora-report href={"/ui/incidents/" (incident.id) "/dora-report?kind=" (owed.kind)} { "fields" }
                                } }
                            } } }
                        }
                    }
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
                    td { (a.id) } td { (a.model) " v" (a.version) } td { (a.monitor) } td { (a.feature) } td { (date(a.opened_at)) }
                    td { @if let Some(at) = a.resolved_at { (date(at)) } @else { "–" } }
                } } } }
        },
    )
}

/// A DORA report's content, to print: each section's fields with who filled them; the firm's to complete
/// are marked.
pub(crate) fn dora_report(viewer: &Viewer, report: &warden_oversight::dora::DoraReport) -> Markup {
    let title = format!("DORA {} report, incident {}", report.kind, report.incident_id);
    let shown = |value: &Value| match value {
        Value::Null => "to complete".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    layout(
        Some(viewer),
        &title,
        "Alerts & incidents",
        html! {
            h1 { (title) }
            p { "Assembled " (when(report.generated_at)) " from Warden's records; the decision figures cover "
                (when(report.period_from)) " to " (when(report.period_to)) ". "
                (report.to_complete.len()) " fields are the firm's to complete before submission." }
            @for section in &report.sections {
                h2 { (section.title) }
                table.data.dora-fields { thead { tr { th { "Field" } th { "Value" } th { "Source" } } }
                    tbody { @for f in &section.fields { tr id={"dora-" (f.key)} class=[f.value.is_null().then_some("to-complete")] {
                        td { (f.label) } td { (shown(&f.value)) } td.muted { (f.source) }
                    } } } }
            }
            p.noprint { a href="/ui/alerts" { "Back to alerts and incidents" } " · print this page for the submission file" }
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
                div.card { span.big #ledger-size { (data.size) } span { (noun(data.size, "entry", "entries")) } }
                @match &status.last {
                    Some((at, v)) if v.ok => div.card.good #verification { span.big { "verified" } span { (counted(v.entries, "entry", "entries")) ", " (counted(v.checkpoints, "checkpoint", "checkpoints")) " · " (date(*at)) } },
                    Some((at, v)) => div.card.bad #verification { span.big { "FAILED" } span { "first bad entry " (v.first_bad_entry.map_or("–".into(), |e| e.to_string())) " · " (date(*at)) } },
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
                p { "Covers " (counted(c.tree_size, "entry", "entries")) " · signed " (date(c.at)) }
                pre.note #checkpoint { (c.note) }
            } @else { p.muted { "No checkpoint yet." } }
            p { "Verifier key: " code { (data.key) } }
            h2 { "Entries" }
            table.data #ledger { thead { tr { th { "#" } th { "When" } th { "Actor" } th { "Action" } th { "Subject" } th { "Leaf hash" } } }
                tbody { @for e in &data.entries { tr {
                    td { (e.entry.index) } td { (date(e.entry.at)) } td { (e.entry.actor) } td { (e.entry.action) } td { (e.entry.subject) }
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
    events: PeriodEvents,
}

impl BoardData {
    pub(crate) async fn load(warden: &Warden, caller: &Principal, days: i64) -> Result<BoardData> {
        use warden_oversight::overview;
        let kpis = overview::kpis(warden, caller, days).await?;
        let inventory = overview::inventory(warden, caller).await?;
        let events = overview::period_events(warden, caller, days).await?;
        Ok(BoardData { kpis, inventory, events })
    }
}

fn kpi_cards(k: &Kpis) -> Markup {
    let or_dash = |v: Option<f64>, f: fn(f64) -> String| v.map_or("–".into(), f);
    let in_period = period(k.period_days);
    html! {
        div.cards #kpis {
            div.card { span.big { (format!("{:.1}", k.deployments_per_30_days)) } span { "deployments per 30 days ("
                (counted(k.deployments, "deployment", "deployments")) " in " (in_period) ", " (counted(k.rollbacks, "automatic rollback", "automatic rollbacks")) ")" } }
            div.card { span.big { (or_dash(k.median_hours_to_production, |h| duration(h * 3600.0))) } span { "median registration → production" } }
            div.card { span.big { (or_dash(k.median_seconds_to_detect, duration)) } span { "median time to detect" } small.definition { "from the first decision of the first breaching window to the alert that opened the incident" } }
            div.card { span.big { (or_dash(k.median_seconds_to_resolve, duration)) } span { "median time to resolve" } }
            div.card { span.big { (or_dash(k.median_drift_detection_seconds, duration)) } span { "median drift detection latency" } small.definition { "drift alerts: from the first decision of the first breaching window to the alert" } }
            div.card.(if k.audit_coverage.is_some_and(|c| c < 1.0) { "bad" } else { "good" }) { span.big #audit-coverage { (or_dash(k.audit_coverage, percent)) } span { "audit coverage (" (counted(k.ledger_entries, "ledger entry", "ledger entries")) " / " (counted(k.audited_changes, "change", "changes")) ")" } }
            div.card.(if k.overrides > 0 { "warn" } else { "" }) { span.big #policy-adherence { (or_dash(k.policy_adherence, percent)) } span { "policy adherence (" (counted(k.overrides, "override", "overrides")) " in " (counted(k.promotions, "promotion", "promotions")) ")" } }
            div.card.(if k.open_incidents > 0 { "bad" } else { "" }) { span.big { (k.open_incidents) } span { (noun(k.open_incidents, "open incident", "open incidents")) " (" (k.incidents) " opened in " (in_period) ")" } }
        }
    }
}

/// The findings figures: unresolved by severity and age, overdue, time to remediate against its target, and
/// the models with the most unresolved findings (each linking to the findings page, filtered).
fn finding_kpis(f: &FindingKpis, period_days: i64) -> Markup {
    let open = &f.open_by_severity;
    let age = &f.open_by_age;
    let hours = |h: Option<f64>| h.map_or("–".into(), |h| duration(h * 3600.0));
    html! {
        section #finding-kpis {
            h2 { "Findings" }
            div.cards {
                div.card.(if open.critical + open.high > 0 { "bad" } else { "" }) {
                    span.big #open-findings { (open.critical + open.high + open.medium + open.low) }
                    span { "unresolved: " (open.critical) " critical, " (open.high) " high, " (open.medium) " medium, " (open.low) " low" } }
                div.card.(if f.overdue > 0 { "bad" } else { "good" }) {
                    span.big #overdue-findings { a href="/ui/findings?overdue=true" { (f.overdue) } }
                    span { "overdue (unresolved past the due date its severity set)" } }
                div.card { span.big { (age.over_90_days) } span { "unresolved for 90 days or more ("
                    (age.under_7_days) " under 7 days, " (age.from_7_to_30_days) " 7–30, " (age.from_30_to_90_days) " 30–90)" } }
            }
            div.scroll { table.data #time-to-remediate {
                caption { "Time to remediate, over findings closed in " (period(period_days)) }
                thead { tr { th { "Kind" } th { "Severity" } th { "Closed" } th { "Mean" } th { "Target" } th { "Within target" } } }
                tbody { @for r in &f.time_to_remediate {
                    tr.(if r.target_hours.is_some() && r.within_target.is_some_and(|w| w < r.closed) { "bad" } else { "" }) {
                        td { (r.kind) } td { (r.severity) } td { (r.closed) } td { (hours(r.mean_hours)) }
                        td { (hours(r.target_hours)) }
                        td { @match r.within_target { Some(w) => (format!("{w} of {}", r.closed)), None => "–" } } } } } } }
            @if !f.per_model.is_empty() {
                div.scroll { table.data #findings-per-model {
                    caption { "Unresolved findings per model" }
                    thead { tr { th { "Model" } th { "Unresolved" } th { "Overdue" } } }
                    tbody { @for m in &f.per_model { tr {
                        td { a href={"/ui/findings?model=" (m.model)} { (m.model) } } td { (m.open) } td { (m.overdue) } } } } } }
            }
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

fn model_link(model: &str, version: Option<i64>) -> Markup {
    html! {
        @match version {
            Some(v) => a href={"/ui/models/" (model) "?version=" (v)} { (model) " v" (v) },
            None => a href={"/ui/models/" (model)} { (model) },
        }
    }
}

/// What happened in the period, not only what is open now: incidents, automatic rollbacks, overrides and the
/// gate's refusals, each with its date, model and version, who and why, linking to the model pages.
fn period_events(events: &PeriodEvents) -> Markup {
    let in_period = period(events.period_days);
    html! {
        section.period #period-incidents {
            h2 { "Incidents in " (in_period) }
            @match &events.incidents {
                None => p.muted { "Incidents are shown to the " (roles_holding(Permission::ReadDecisions)) " roles." },
                Some(incidents) if incidents.is_empty() => p.empty { "No incident was open in " (in_period) "." },
                Some(incidents) => {
                    p { (counted(incidents.len() as i128, "incident", "incidents")) " open at some time in " (in_period) "." }
                    div.scroll { table.data { thead { tr { th { "#" } th { "Opened" } th { "Model" } th { "What" } th { "State" } } }
                        tbody { @for i in incidents { tr {
                            td { (i.incident.id) }
                            td { (date(i.incident.opened_at)) }
                            td { (model_link(&i.incident.model, None))
                                @if !i.versions.is_empty() { br; small { (i.versions.iter().map(|v| format!("v{v}")).collect::<Vec<_>>().join(", ")) } } }
                            td.text { (i.incident.title) }
                            td { @match i.incident.resolved_at {
                                Some(at) => { span.ok { "resolved" } " " (date(at))
                                    @if let Some(by) = &i.incident.resolved_by { " by " (by.strip_prefix("token:").unwrap_or(by)) }
                                    @if let Some(why) = &i.incident.resolution { ": " (why) } },
                                None => span.bad { "open" },
                            } }
                        } } } } }
                }
            }
        }
        section.period #period-rollbacks {
            h2 { "Automatic rollbacks in " (in_period) }
            @if events.rollbacks.is_empty() { p.empty { "No automatic rollback in " (in_period) "." } } @else {
                p { (counted(events.rollbacks.len() as i128, "rollback", "rollbacks")) "." }
                div.scroll { table.data { thead { tr { th { "When" } th { "Model" } th { "Alias" } th { "From → to" } th { "By" } th { "Why" } } }
                    tbody { @for r in &events.rollbacks { tr {
                        td { (date(r.at)) }
                        td { (model_link(&r.model, Some(r.version))) }
                        td { (r.alias) }
                        td { @if let Some(p) = r.previous { "v" (p) } @else { "–" } " → v" (r.version) }
                        td { (r.actor) }
                        td.text { (r.reason) }
                    } } } } }
            }
        }
        section.period #period-overrides {
            h2 { "Overrides of the gate in " (in_period) }
            @if events.overrides.is_empty() { p.empty { "No promotion went against the gate in " (in_period) "." } } @else {
                p { (counted(events.overrides.len() as i128, "override", "overrides")) "." }
                div.scroll { table.data { thead { tr { th { "When" } th { "Model" } th { "Alias" } th { "By" } th { "Reason" } th { "Gate decision" } } }
                    tbody { @for o in &events.overrides { tr {
                        td { (date(o.at)) }
                        td { (model_link(&o.model, Some(o.version))) }
                        td { (o.alias) }
                        td { (o.actor) }
                        td.text { (o.reason) }
                        td { code { (o.decision_id.as_deref().unwrap_or("–")) } }
                    } } } } }
            }
        }
        section.period #period-denied {
            h2 { "Denied gate decisions in " (in_period) }
            @match &events.denied {
                None => p.muted { "Gate decisions are shown to the " (roles_holding(Permission::ReadAudit)) " roles." },
                Some(denied) if denied.is_empty() => p.empty { "The gate refused nothing in " (in_period) "." },
                Some(denied) => {
                    p { (counted(denied.len() as i128, "denied decision", "denied decisions")) "." }
                    div.scroll { table.data { thead { tr { th { "When" } th { "Model" } th { "Alias" } th { "Asked by" } th { "Reasons" } th { "Then" } } }
                        tbody { @for d in denied { tr {
                            td { (date(d.at)) br; code { (d.decision_id) } }
                            td { (model_link(&d.model, Some(d.version))) }
                            td { (d.alias) br; small { (d.purpose) } }
                            td { (d.actor) }
                            td { ul.reasons { @for r in &d.reasons { li { (r) } } } }
                            td { @if d.overridden { span.warn { "overridden" } } @else { "not promoted" } }
                        } } } } }
                }
            }
        }
    }
}

pub(crate) fn kpis(viewer: &Viewer, data: &BoardData) -> Markup {
    let k = &data.kpis;
    layout(
        Some(viewer),
        "Board KPIs",
        "Board KPIs",
        html! {
            h1 { "Model risk KPIs" }
            p #period { "Figures for " strong { (period(k.period_days)) } " · "
                @for d in [1, 7, 30, 90, 365] {
                    @if d == k.period_days { strong { (d) " d" } } @else { a href={"/ui/kpis?days=" (d)} { (d) " d" } } " "
                }
                " · " a href={"/ui/summary?days=" (k.period_days)} #printable { "printable one-page summary" } }
            (kpi_cards(k))
            (finding_kpis(&k.findings, k.period_days))
            h2 { "Inventory by risk tier" }
            div.scroll { table.data { thead { tr { th { "Tier" } th { "Models" } th { "In production" } } }
                tbody { @for (t, n, live) in tier_counts(&data.inventory) { tr { td { (t) } td { (n) } td { (live) } } } } } }
            (period_events(&data.events))
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
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Model risk summary · Warden" }
                link rel="stylesheet" href="/ui/style.css";
            }
            body.print {
                main {
                    p.noprint { a href={"/ui/kpis?days=" (k.period_days)} { "← Board KPIs" } }
                    h1 { "Model risk summary" }
                    p #period { "Prepared " (date(now)) " by " (viewer.principal.name) ", for " strong { (period(k.period_days)) }
                        " (since " (date(data.events.since)) "). Figures come from Warden's registry and its audit ledger." }
                    (kpi_cards(k))
                    (finding_kpis(&k.findings, k.period_days))
                    h2 { "Inventory" }
                    table.data { thead { tr { th { "Tier" } th { "Models" } th { "In production" } } }
                        tbody { @for (t, n, live) in tier_counts(&data.inventory) { tr { td { (t) } td { (n) } td { (live) } } } } }
                    h2 { "Needs attention now" }
                    @if attention.is_empty() { p { "No model has an open incident or a denied gate decision." } } @else {
                        ul { @for l in attention { li { (model_link(&l.name, None)) " (" (l.risk_tier) "): "
                            @if l.open_incidents > 0 { (counted(l.open_incidents, "open incident", "open incidents")) "; " }
                            @if l.policy.as_ref().is_some_and(|p| !p.allowed) { "last gate decision denied" } } } }
                    }
                    (period_events(&data.events))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_figures_read_as_words_not_debug_structures() {
        let figures = serde_json::json!({
            "groups": {"female": [428, 306], "male": [572, 420]},
            "min_group_decisions": 50,
            "fields": {},
            "refused": 0,
            "window_micros": 600_000_000,
            "learned": true,
            "bins": [0.1, 0.25],
            "reference": null,
        });
        assert_eq!(
            compact(&figures),
            "bins: 0.1, 0.25, groups: female 306 of 428 favourable; male 420 of 572 favourable, learned: yes, \
             min group decisions: 50, refused: 0, window: 10 min"
        );
        assert_eq!(
            compact(&serde_json::json!({"outcome": {"done": false, "why": "no earlier version"}})),
            "outcome (done: no, why: no earlier version)"
        );
    }

    #[test]
    fn counts_and_periods_read_in_the_singular_and_the_plural() {
        assert_eq!(counted(1, "rollback", "rollbacks"), "1 rollback");
        assert_eq!(counted(2u64, "rollback", "rollbacks"), "2 rollbacks");
        assert_eq!(counted(0, "override", "overrides"), "0 overrides");
        assert_eq!(counted(1, "entry", "entries"), "1 entry");
        assert_eq!(period(1), "the last day");
        assert_eq!(period(30), "the last 30 days");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(600.0), "10 min");
        assert_eq!(duration(36_000.0), "10.0 h");
        assert_eq!(duration(864_000.0), "10.0 days");
    }

    /// The incident section names who resolved an incident by hand and why, and reads each event in words.
    #[test]
    fn an_incident_resolved_by_hand_shows_who_and_why() {
        let incident = Incident {
            id: 4,
            model: "credit".into(),
            title: "feature_drift of 'age' on credit version 1".into(),
            state: IncidentState::Resolved,
            opened_at: 1_000_000,
            resolved_at: Some(61_000_000),
            time_to_detect_seconds: 2.5,
            time_to_resolve_seconds: Some(60.0),
            resolved_by: Some("rita".into()),
            resolution: Some("a new campaign; pricing reviewed".into()),
        };
        let timeline = vec![
            serde_json::json!({"at": 1_000_000, "kind": "action", "actor": "warden", "alert": 9, "monitor": "feature_drift",
                "feature": "age", "version": 1, "details": {},
                "summary": "rollback not possible: no earlier gate-approved version to roll back to"}),
            serde_json::json!({"at": 61_000_000, "kind": "incident_resolved", "actor": "token:rita", "alert": null,
                "monitor": "", "feature": "", "version": null, "details": {},
                "summary": "incident resolved by rita: a new campaign; pricing reviewed"}),
        ];
        let viewer =
            Viewer { principal: Principal::token("vera", warden_registry::auth::Role::Validator), csrf: "x".into() };
        let html = alerts(
            &viewer,
            &AlertsData { alerts: Vec::new(), incidents: vec![(incident, timeline)], clocks: BTreeMap::new() },
        )
        .into_string();
        assert!(html.contains("Resolved by <strong>rita</strong>: a new campaign; pricing reviewed"), "{html}");
        assert!(html.contains("rollback not possible: no earlier gate-approved version to roll back to"), "{html}");
        assert!(
            html.contains("alert 9 feature_drift on &#39;age&#39; v1")
                || html.contains("alert 9 feature_drift on 'age' v1"),
            "{html}"
        );
        assert!(html.contains("from the first decision of the first breaching window"), "{html}");
        assert!(!html.contains("done: false"), "{html}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Decisions and their reviews

/// A decision looked up by request id, with its reviews, and what a review may say.
pub(crate) struct DecisionsData {
    model: String,
    request_id: Option<String>,
    decisions: Vec<(warden_store::metadata::NewDecision, Vec<DecisionReview>)>,
    /// The policy's reason codes, for the review form.
    reason_codes: Vec<String>,
}

impl DecisionsData {
    pub(crate) async fn load(
        warden: &Warden,
        principal: &Principal,
        model: &str,
        request_id: Option<&str>,
    ) -> Result<DecisionsData> {
        warden_registry::registry::get_model(warden, principal, model).await?;
        let decisions = match request_id {
            Some(request_id) => {
                warden_oversight::reviews::decisions_with_reviews(warden, principal, model, Some(request_id), 100)
                    .await?
            }
            None => {
                principal.require(Permission::ReadDecisions)?;
                Vec::new()
            }
        };
        let reason_codes = warden_oversight::reviews::policy(warden).await?.reason_codes;
        Ok(DecisionsData {
            model: model.to_owned(),
            request_id: request_id.map(str::to_owned),
            decisions,
            reason_codes,
        })
    }
}

pub(crate) fn decisions(viewer: &Viewer, data: &DecisionsData) -> Markup {
    let name = &data.model;
    let can_review = may(&viewer.principal, Permission::ReviewDecisions);
    layout(
        Some(viewer),
        &format!("{name} decisions"),
        "Inventory",
        html! {
            p.crumbs { a href="/ui" { "Inventory" } " › " a href={"/ui/models/" (name)} { (name) } " › decisions" }
            h1 { "Decisions: " (name) }
            form.inline #lookup method="get" action={"/ui/models/" (name) "/decisions"} {
                label { "Request id " input type="text" name="request_id" value=[data.request_id.as_deref()] required; }
                button type="submit" { "Look up" }
            }
            @if let Some(request_id) = &data.request_id {
                @if data.decisions.is_empty() {
                    p.muted #no-decision { "No decision of " (name) " has request id '" (request_id) "'." }
                }
                @for (decision, reviews) in &data.decisions {
                    @let answered = !["shadow", "pinned"].contains(&decision.route.as_str());
                    @let stands = reviews.last().map_or(decision.decision.as_str(), |r| r.decision.as_str());
                    section.decision id={"decision-v" (decision.version)} {
                        h2 { "Version " (decision.version) " · " (decision.route) }
                        table.facts { tbody {
                            tr { th { "Decided" } td { (when(decision.at)) } }
                            tr { th { "Score" } td { (number(decision.score)) } }
                            tr { th { "Model's decision" } td { (decision.decision) } }
                            tr { th { "Stands as" } td.stands { strong { (stands) }
                                @if !reviews.is_empty() { " (after " (warden_core::words::counted(reviews.len() as u64, "review", "reviews")) ")" } } }
                            tr { th { "Arrived" } td { (decision.source) } }
                        } }
                        h3 { "Features" }
                        table.data.features { tbody {
                            @if let Value::Object(features) = &decision.features { @for (key, value) in features {
                                tr { th { (key) } td { (value_text(value)) } }
                            } }
                        } }
                        @if let Value::Object(attributes) = &decision.attributes { @if !attributes.is_empty() {
                            h3 { "Attributes" }
                            table.data.attributes { tbody { @for (key, value) in attributes {
                                tr { th { (key) } td { (value_text(value)) } }
                            } } }
                        } }
                        h3 { "Reviews" }
                        @if reviews.is_empty() { p.muted.no-reviews { "Not reviewed." } } @else {
                            table.data.reviews { thead { tr { th { "When" } th { "Reviewer" } th { "Action" } th { "Decision" } th { "Reason" } th { "Note" } } }
                                tbody { @for r in reviews { tr {
                                    td { (date(r.at)) } td { (r.reviewer) } td { (r.action) }
                                    td { (r.decision_before) " → " (r.decision) } td { (r.reason_code) } td { (r.note) }
                                } } } }
                        }
                        @if !answered {
                            p.muted { "A " (decision.route) " decision answered nobody and is not reviewed." }
                        } @else if can_review {
                            form.review method="post" action={"/ui/models/" (name) "/decisions/review"} {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                input type="hidden" name="request_id" value=(decision.request_id);
                                label { "Action " select name="action" {
                                    option value="confirm" { "confirm" } option value="override" { "override" } option value="reverse" { "reverse" }
                                } }
                                label { "New decision (override) " input type="text" name="decision"; }
                                label { "Reason " select name="reason_code" { @for code in &data.reason_codes { option value=(code) { (code) } } } }
                                label { "Note " textarea name="note" rows="2" {} }
                                button type="submit" { "Record review" }
                            }
                        } @else {
                            p.muted { "Decisions are reviewed by the " (roles_holding(Permission::ReviewDecisions)) " roles." }
                        }
                    }
                }
            }
        },
    )
}

/// A feature or attribute value as text (strings without their quotes).
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}
