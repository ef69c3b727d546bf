/*!
Notifications routed to receivers (`serve --notification-routes`): alert events and report reminders from the
alert outbox, and registry and governance events (a version registered, promoted, promoted by override, a
rollback, a suspension, a resumption, a retirement) from the audit trail, each sent to the receivers whose rules
match its event, model, tier and severity.

[`route_new`] reads each source past its cursor (the outbox by id, the audit trail by seq; a router that never
ran starts at the end, so enabling routes replays no history) and queues one delivery per receiver, moving the
cursor in the same transaction. [`deliver_due`] sends what is due in the receiver's own format ([`render`]: a
signed JSON POST, a Slack incoming-webhook message, a PagerDuty Events API v2 event with a dedup key per alert
so acknowledging and resolving close the same PagerDuty incident, a Jira issue, a ServiceNow incident) and
retries failures with the outbox's back-off. Jira and ServiceNow get only events that open something (an
alert fired or escalated, a report overdue, a governance event); a Jira issue or a ServiceNow incident is
created per event, its key kept with the delivery. Delivery is at least once.
*/

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Value, json};
use warden_core::{NotificationEvent, RiskTier, Severity, Timestamp};
use warden_registry::routing::{Facets, Receiver, ReceiverKind, Routes};
use warden_store::metadata::{AuditQuery, DeliveryRow, NewDelivery};

use crate::notifications::signature;
use crate::{Oversight, Result};

/// Source events read per cursor and call.
const READ_PER_CALL: i64 = 500;
/// Deliveries sent per call.
const SEND_PER_CALL: i64 = 100;
/// Longest pause between attempts (as the alert webhook's).
const MAX_BACKOFF_SECONDS: i64 = 300;
const ALERTS_CURSOR: &str = "alerts";
const AUDIT_CURSOR: &str = "audit";

/// An event as routed: what every receiver's request is rendered from.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedEvent {
    pub event: NotificationEvent,
    /// When it happened (µs).
    pub at: i64,
    pub model: Option<String>,
    pub tier: Option<RiskTier>,
    pub severity: Option<Severity>,
    /// One line for a person.
    pub summary: String,
    /// The same for every event of one alert (PagerDuty's dedup key), else one per event.
    pub key: String,
    /// The source's own payload.
    pub details: Value,
}

impl RoutedEvent {
    fn to_json(&self) -> Value {
        json!({
            "event": self.event, "at": Timestamp::from_micros(self.at).to_string(), "model": self.model,
            "tier": self.tier, "severity": self.severity, "summary": self.summary, "key": self.key,
            "details": self.details,
        })
    }

    fn from_json(value: &Value) -> Option<RoutedEvent> {
        Some(RoutedEvent {
            event: serde_json::from_value(value["event"].clone()).ok()?,
            at: Timestamp::parse(value["at"].as_str()?).ok()?.micros(),
            model: value["model"].as_str().map(str::to_owned),
            tier: serde_json::from_value(value["tier"].clone()).ok(),
            severity: serde_json::from_value(value["severity"].clone()).ok(),
            summary: value["summary"].as_str()?.to_owned(),
            key: value["key"].as_str()?.to_owned(),
            details: value["details"].clone(),
        })
    }

    fn facets(&self) -> Facets<'_> {
        Facets { event: self.event, model: self.model.as_deref(), tier: self.tier, severity: self.severity }
    }

    /// Whether the event opens something a ticket is raised for (Jira, ServiceNow take only these).
    fn opens(&self) -> bool {
        !matches!(
            self.event,
            NotificationEvent::AlertAcknowledged
                | NotificationEvent::AlertResolved
                | NotificationEvent::AlertAction
                | NotificationEvent::ReportDueSoon
        )
    }
}

/// The governance event an audit action is, if it is one (`payload`: the audit event's).
pub fn governance_event(action: &str, payload: &Value) -> Option<NotificationEvent> {
    Some(match action {
        "version.register" => NotificationEvent::VersionRegistered,
        "model.promote" if payload["override"] == true => NotificationEvent::VersionPromotedByOverride,
        "model.promote" => NotificationEvent::VersionPromoted,
        "model.rollback" => NotificationEvent::ModelRolledBack,
        "model.suspend" => NotificationEvent::ModelSuspended,
        "model.resume" => NotificationEvent::ModelResumed,
        "model.retire" => NotificationEvent::ModelRetired,
        _ => return None,
    })
}

/// The alert event an outbox payload's `event` is.
fn alert_event(kind: &str) -> Option<NotificationEvent> {
    Some(match kind {
        "fired" => NotificationEvent::AlertFired,
        "escalated" => NotificationEvent::AlertEscalated,
        "acknowledged" => NotificationEvent::AlertAcknowledged,
        "resolved" => NotificationEvent::AlertResolved,
        "action" => NotificationEvent::AlertAction,
        "report_due_soon" => NotificationEvent::ReportDueSoon,
        "report_overdue" => NotificationEvent::ReportOverdue,
        _ => return None,
    })
}

/// Routes what arrived since the last call; returns the deliveries queued.
pub async fn route_new(warden: &Oversight) -> Result<usize> {
    let Some(routes) = warden.config().notification_routes.clone() else {
        // Without routes, cursors left by an earlier configuration move to the end, once a process: routes
        // turned on again start from then, not from when they were turned off.
        static SKIPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if !SKIPPED.swap(true, std::sync::atomic::Ordering::AcqRel) {
            let (outbox_end, audit_end) = warden.metadata.notification_sources_end().await?;
            for (name, end) in [(ALERTS_CURSOR, outbox_end), (AUDIT_CURSOR, audit_end)] {
                if let Some(at) = warden.metadata.notification_cursor(name).await? {
                    warden.metadata.route_notifications(name, Some(at), end, &[], warden.now()).await?;
                }
            }
        }
        return Ok(0);
    };
    let mut tiers: HashMap<String, Option<RiskTier>> = HashMap::new();
    let mut queued = 0;
    let (outbox_end, audit_end) = warden.metadata.notification_sources_end().await?;

    // Alert events and report reminders.
    let from = warden.metadata.notification_cursor(ALERTS_CURSOR).await?;
    let rows = match from {
        Some(after) => warden.metadata.outbox_after(after, READ_PER_CALL).await?,
        None => Vec::new(),
    };
    let mut deliveries = Vec::new();
    let mut to = from.unwrap_or(outbox_end);
    for row in &rows {
        to = row.id;
        let p = &row.payload;
        let Some(event) = p["event"].as_str().and_then(alert_event) else { continue };
        let alert = warden.metadata.alert(row.alert_id).await?;
        let model =
            p["alert"]["model"].as_str().map(str::to_owned).or_else(|| alert.as_ref().map(|a| a.model_name.clone()));
        let severity = p["alert"]["severity"]
            .as_str()
            .or(alert.as_ref().map(|a| a.severity.as_str()))
            .and_then(|s| s.parse::<Severity>().ok());
        let key = match event {
            NotificationEvent::ReportDueSoon | NotificationEvent::ReportOverdue => {
                let d = &p["details"];
                format!(
                    "warden-incident-{}-{}-{}",
                    d["incident"],
                    d["framework"].as_str().unwrap_or(""),
                    d["kind"].as_str().unwrap_or("")
                )
            }
            _ => format!("warden-alert-{}", row.alert_id),
        };
        let tier = tier_of(warden, &mut tiers, model.as_deref()).await?;
        let routed = RoutedEvent {
            event,
            at: p["at"].as_i64().unwrap_or(row.next_attempt_at),
            model,
            tier,
            severity,
            summary: p["summary"].as_str().unwrap_or_default().to_owned(),
            key,
            details: p.clone(),
        };
        deliveries.extend(deliveries_for(&routes, &routed, "alert", row.id));
    }
    queued += advance(warden, ALERTS_CURSOR, from, to, &deliveries).await?;

    // Registry and governance events.
    let from = warden.metadata.notification_cursor(AUDIT_CURSOR).await?;
    let events = match from {
        Some(after) => {
            let query = AuditQuery { after_seq: after, subject: None, limit: READ_PER_CALL };
            warden.metadata.audit_events(&query).await?
        }
        None => Vec::new(),
    };
    let mut deliveries = Vec::new();
    let mut to = from.unwrap_or(audit_end);
    for e in &events {
        to = to.max(e.seq);
        let Some(event) = governance_event(&e.event.action, &e.event.payload) else { continue };
        let model =
            e.event.subject.strip_prefix("model/").map(|rest| rest.split('/').next().unwrap_or(rest).to_owned());
        let tier = tier_of(warden, &mut tiers, model.as_deref()).await?;
        let routed = RoutedEvent {
            event,
            at: e.event.at,
            summary: governance_summary(
                event,
                model.as_deref().unwrap_or("?"),
                &e.event.subject,
                &e.event.actor,
                &e.event.payload,
            ),
            model,
            tier,
            severity: None,
            key: format!("warden-audit-{}", e.seq),
            details: json!({"action": e.event.action, "subject": e.event.subject, "actor": e.event.actor,
                            "seq": e.seq, "payload": e.event.payload}),
        };
        deliveries.extend(deliveries_for(&routes, &routed, "audit", e.seq));
    }
    queued += advance(warden, AUDIT_CURSOR, from, to, &deliveries).await?;
    Ok(queued)
}

/// Moves a cursor from `from` to `to` with the deliveries routed between (nothing when it has not moved); how
/// many were queued (none when another replica moved it first).
async fn advance(
    warden: &Oversight,
    name: &str,
    from: Option<i64>,
    to: i64,
    deliveries: &[NewDelivery],
) -> Result<usize> {
    if from == Some(to) {
        return Ok(0);
    }
    let moved = warden.metadata.route_notifications(name, from, to, deliveries, warden.now()).await?;
    Ok(if moved { deliveries.len() } else { 0 })
}

async fn tier_of(
    warden: &Oversight,
    tiers: &mut HashMap<String, Option<RiskTier>>,
    model: Option<&str>,
) -> Result<Option<RiskTier>> {
    let Some(model) = model else { return Ok(None) };
    if let Some(tier) = tiers.get(model) {
        return Ok(*tier);
    }
    let tier = warden.metadata.get_model(model).await?.and_then(|m| m.model.risk_tier.parse::<RiskTier>().ok());
    tiers.insert(model.to_owned(), tier);
    Ok(tier)
}

fn deliveries_for(routes: &Routes, routed: &RoutedEvent, source: &'static str, source_id: i64) -> Vec<NewDelivery> {
    routes
        .receivers_for(&routed.facets())
        .into_iter()
        .filter(|r| routed.opens() || !matches!(r.kind, ReceiverKind::Jira | ReceiverKind::Servicenow))
        .map(|r| NewDelivery {
            receiver: r.name.clone(),
            source,
            source_id,
            event: routed.event.as_str().to_owned(),
            payload: routed.to_json(),
        })
        .collect()
}

fn governance_summary(event: NotificationEvent, model: &str, subject: &str, actor: &str, payload: &Value) -> String {
    let actor = actor.strip_prefix("token:").unwrap_or(actor);
    let version = payload["version"].as_i64().or_else(|| payload["assignment"]["version"].as_i64());
    let version = version.map(|v| format!(" version {v}")).unwrap_or_default();
    let reason = payload["reason"].as_str().map(|r| format!(": {r}")).unwrap_or_default();
    match event {
        NotificationEvent::VersionRegistered => format!("{model}{version} registered by {actor}"),
        NotificationEvent::VersionPromoted => {
            format!("{model}{version} promoted through the gate by {actor} ({subject})")
        }
        NotificationEvent::VersionPromotedByOverride => {
            format!("{model}{version} promoted AGAINST the gate by {actor} ({subject}){reason}")
        }
        NotificationEvent::ModelRolledBack => format!("{model} rolled back by Warden to{version}{reason}"),
        NotificationEvent::ModelSuspended => format!("{model} suspended by {actor}{reason}"),
        NotificationEvent::ModelResumed => format!("{model} resumed by {actor}{reason}"),
        NotificationEvent::ModelRetired => format!("{model} retired by {actor}{reason}"),
        other => format!("{model}: {other}"),
    }
}

/// A request to a receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// The request that delivers `routed` (delivery `id`) to `receiver`, in the receiver's documented format.
pub fn render(receiver: &Receiver, id: i64, routed: &RoutedEvent) -> Outgoing {
    let json_type = ("Content-Type", "application/json".to_owned());
    let when = Timestamp::from_micros(routed.at).to_string();
    let model = routed.model.as_deref().unwrap_or("-");
    let severity = routed.severity.map_or("info".to_owned(), |s| s.to_string());
    let title = clip(&format!("[Warden {severity}] {model}: {}", routed.summary), 250);
    // Jira and ServiceNow: JSON both ways, basic authentication with the account and its secret.
    let ticket_headers = || {
        let pair = format!("{}:{}", receiver.user.as_deref().unwrap_or_default(), receiver.secret);
        vec![
            ("Content-Type", "application/json".to_owned()),
            ("Accept", "application/json".to_owned()),
            ("Authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))),
        ]
    };
    let description = format!(
        "{}\n\nEvent: {}\nModel: {model}\nTier: {}\nSeverity: {severity}\nAt: {when}\nKey: {}\n\nDetails:\n{}",
        routed.summary,
        routed.event,
        routed.tier.map_or("-".to_owned(), |t| t.to_string()),
        routed.key,
        serde_json::to_string_pretty(&routed.details).unwrap_or_default()
    );
    match receiver.kind {
        ReceiverKind::Webhook => {
            let body = routed.to_json().to_string();
            Outgoing {
                url: receiver.url.clone(),
                headers: vec![
                    json_type,
                    ("X-Warden-Delivery", format!("r{id}")),
                    ("X-Warden-Event", routed.event.to_string()),
                    ("X-Warden-Signature", signature(&receiver.secret, body.as_bytes())),
                ],
                body,
            }
        }
        ReceiverKind::Slack => {
            let body = json!({
                "text": title,
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": clip(&format!("*{}*\n{}", title, routed.summary), 3000)}},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("{} · {when} · {}", routed.event, routed.key)}]},
                ],
            });
            Outgoing { url: receiver.url.clone(), headers: vec![json_type], body: body.to_string() }
        }
        ReceiverKind::Pagerduty => {
            let action = match routed.event {
                NotificationEvent::AlertAcknowledged => "acknowledge",
                NotificationEvent::AlertResolved => "resolve",
                _ => "trigger",
            };
            let body = if action == "trigger" {
                let pd_severity = match routed.severity {
                    Some(Severity::Critical) => "critical",
                    Some(Severity::Warning) => "warning",
                    None if routed.event == NotificationEvent::ReportOverdue => "error",
                    None => "info",
                };
                json!({
                    "routing_key": receiver.secret, "event_action": "trigger", "dedup_key": routed.key,
                    "client": "Warden",
                    "payload": {
                        "summary": clip(&title, 1024), "source": "warden", "severity": pd_severity, "timestamp": when,
                        "component": model, "class": routed.event, "custom_details": routed.details,
                    },
                })
            } else {
                json!({"routing_key": receiver.secret, "event_action": action, "dedup_key": routed.key})
            };
            Outgoing { url: receiver.url.clone(), headers: vec![json_type], body: body.to_string() }
        }
        ReceiverKind::Jira => {
            let body = json!({"fields": {
                "project": {"key": receiver.project},
                "issuetype": {"name": receiver.issue_type},
                "summary": clip(&title, 255),
                "description": clip(&description, 30_000),
                "labels": ["warden", format!("warden-{}", routed.event)],
            }});
            Outgoing {
                url: format!("{}/rest/api/2/issue", receiver.url),
                headers: ticket_headers(),
                body: body.to_string(),
            }
        }
        ReceiverKind::Servicenow => {
            let (impact, urgency) = match routed.severity {
                Some(Severity::Critical) => ("1", "1"),
                Some(Severity::Warning) => ("2", "2"),
                None => ("3", "2"),
            };
            let body = json!({
                "short_description": clip(&title, 160), "description": clip(&description, 4000),
                "impact": impact, "urgency": urgency, "category": "software",
                "correlation_id": routed.key, "correlation_display": "Warden",
            });
            Outgoing {
                url: format!("{}/api/now/table/incident", receiver.url),
                headers: ticket_headers(),
                body: body.to_string(),
            }
        }
    }
}

/// At most `max` characters, ending in "…" when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// What a receiver's success answer says worth keeping: Jira's issue key, ServiceNow's incident number,
/// PagerDuty's dedup key.
fn response_reference(kind: ReceiverKind, body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let found = match kind {
        ReceiverKind::Jira => value["key"].as_str(),
        ReceiverKind::Servicenow => value["result"]["number"].as_str(),
        ReceiverKind::Pagerduty => value["dedup_key"].as_str(),
        _ => None,
    }?;
    Some(clip(found, 200))
}

/// Sends every due routed delivery once; returns how many were delivered.
pub async fn deliver_due(warden: &Oversight, client: &reqwest::Client) -> Result<usize> {
    let Some(routes) = warden.config().notification_routes.clone() else { return Ok(0) };
    let mut delivered = 0;
    for d in warden.metadata.due_deliveries(warden.now(), SEND_PER_CALL).await? {
        let outcome = match routes.receivers.iter().find(|r| r.name == d.receiver) {
            None => Err(format!("no receiver '{}' is configured any more", d.receiver)),
            Some(receiver) => send(client, receiver, &d).await,
        };
        let now = warden.now();
        match outcome {
            Ok(response) => {
                warden.metadata.record_routed_delivery(d.id, Some(now), None, now, response.as_deref()).await?;
                delivered += 1;
            }
            Err(error) => {
                let retry_at = now + (1i64 << d.attempts.clamp(0, 9)).min(MAX_BACKOFF_SECONDS) * 1_000_000;
                tracing::warn!(delivery = d.id, receiver = %d.receiver, attempts = d.attempts + 1, %error,
                    "notification delivery failed; will retry");
                warden.metadata.record_routed_delivery(d.id, None, Some(&error), retry_at, None).await?;
            }
        }
    }
    Ok(delivered)
}

async fn send(
    client: &reqwest::Client,
    receiver: &Receiver,
    d: &DeliveryRow,
) -> std::result::Result<Option<String>, String> {
    let routed = RoutedEvent::from_json(&d.payload).ok_or("the queued event does not read back")?;
    let outgoing = render(receiver, d.id, &routed);
    let mut request = client.post(&outgoing.url).body(outgoing.body);
    for (name, value) in outgoing.headers {
        request = request.header(name, value);
    }
    // Without the URL: a Slack or webhook URL is itself the secret.
    let response = request.send().await.map_err(|e| e.without_url().to_string())?;
    let status = response.status();
    // The answer is read within a bound: a receiver's body is never trusted to be small.
    let body = read_bounded(response, 64 * 1024).await.unwrap_or_default();
    if status.is_success() {
        Ok(response_reference(receiver.kind, &body))
    } else {
        Err(format!("{} answered {status}: {}", receiver.kind, clip(body.trim(), 300)))
    }
}

async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Option<String> {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        bytes.extend_from_slice(&chunk[..chunk.len().min(limit - bytes.len())]);
        if bytes.len() >= limit {
            break;
        }
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(kind: ReceiverKind) -> Receiver {
        Receiver {
            name: kind.to_string(),
            kind,
            url: "https://example.test/base".into(),
            secret: if kind == ReceiverKind::Pagerduty {
                "0123456789abcdef0123456789abcdef".into()
            } else {
                "s3cret".into()
            },
            user: Some("svc@bank.example".into()),
            project: Some("MRM".into()),
            issue_type: "Task".into(),
        }
    }

    fn fired() -> RoutedEvent {
        RoutedEvent {
            event: NotificationEvent::AlertFired,
            at: 1_800_000_000_000_000,
            model: Some("credit".into()),
            tier: Some(RiskTier::High),
            severity: Some(Severity::Critical),
            summary: "critical fired at 0.3100 on version 2".into(),
            key: "warden-alert-7".into(),
            details: json!({"alert": {"id": 7, "monitor": "feature_drift"}}),
        }
    }

    fn body(o: &Outgoing) -> Value {
        serde_json::from_str(&o.body).unwrap()
    }

    #[test]
    fn an_event_reads_back_as_it_was_queued() {
        let e = fired();
        assert_eq!(RoutedEvent::from_json(&e.to_json()), Some(e));
    }

    #[test]
    fn pagerduty_gets_one_dedup_key_per_alert_across_trigger_acknowledge_and_resolve() {
        let pd = receiver(ReceiverKind::Pagerduty);
        let trigger = body(&render(&pd, 1, &fired()));
        assert_eq!(trigger["event_action"], "trigger");
        assert_eq!(trigger["payload"]["severity"], "critical");
        assert_eq!(trigger["payload"]["source"], "warden");
        assert!(trigger["payload"]["summary"].as_str().unwrap().starts_with("[Warden critical] credit:"));
        for (event, action) in
            [(NotificationEvent::AlertAcknowledged, "acknowledge"), (NotificationEvent::AlertResolved, "resolve")]
        {
            let later = body(&render(&pd, 2, &RoutedEvent { event, ..fired() }));
            assert_eq!(later, json!({"routing_key": pd.secret, "event_action": action, "dedup_key": "warden-alert-7"}));
        }
    }

    #[test]
    fn each_service_gets_its_own_format() {
        let slack = body(&render(&receiver(ReceiverKind::Slack), 1, &fired()));
        assert!(slack["text"].as_str().unwrap().contains("credit"));
        assert_eq!(slack["blocks"][0]["type"], "section");
        let jira = render(&receiver(ReceiverKind::Jira), 1, &fired());
        assert_eq!(jira.url, "https://example.test/base/rest/api/2/issue");
        assert_eq!(body(&jira)["fields"]["project"]["key"], "MRM");
        assert_eq!(body(&jira)["fields"]["issuetype"]["name"], "Task");
        let auth = jira.headers.iter().find(|(k, _)| *k == "Authorization").unwrap().1.clone();
        assert_eq!(
            auth,
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("svc@bank.example:s3cret"))
        );
        let now = render(&receiver(ReceiverKind::Servicenow), 1, &fired());
        assert_eq!(now.url, "https://example.test/base/api/now/table/incident");
        assert_eq!(
            (body(&now)["impact"].as_str(), body(&now)["correlation_id"].as_str()),
            (Some("1"), Some("warden-alert-7"))
        );
        let hook = render(&receiver(ReceiverKind::Webhook), 9, &fired());
        let signed = hook.headers.iter().find(|(k, _)| *k == "X-Warden-Signature").unwrap().1.clone();
        assert_eq!(signed, signature("s3cret", hook.body.as_bytes()));
        assert_eq!(body(&hook)["event"], "alert_fired");
    }

    #[test]
    fn long_text_is_cut_to_each_field_limit() {
        let long = RoutedEvent { summary: "x".repeat(5000), ..fired() };
        let jira = body(&render(&receiver(ReceiverKind::Jira), 1, &long));
        assert_eq!(jira["fields"]["summary"].as_str().unwrap().chars().count(), 250);
        let now = body(&render(&receiver(ReceiverKind::Servicenow), 1, &long));
        assert_eq!(now["short_description"].as_str().unwrap().chars().count(), 160);
    }

    #[test]
    fn governance_actions_are_events_and_others_are_not() {
        assert_eq!(
            governance_event("model.promote", &json!({"override": true})),
            Some(NotificationEvent::VersionPromotedByOverride)
        );
        assert_eq!(governance_event("model.promote", &json!({})), Some(NotificationEvent::VersionPromoted));
        assert_eq!(governance_event("version.register", &json!({})), Some(NotificationEvent::VersionRegistered));
        assert_eq!(governance_event("monitor.hour", &json!({})), None);
    }
}
