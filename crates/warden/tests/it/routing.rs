//! Notifications routed to Slack, PagerDuty, Jira, ServiceNow and a signed webhook, each played by a stub on
//! 127.0.0.1 that refuses (400) any request outside the service's documented format. The service runs in this
//! process, on the suite's store, on a clock the test moves.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use warden_lifecycle::Warden;
use warden_oversight::governance::{self, PromotionRequest};
use warden_oversight::monitoring::Round;
use warden_oversight::routing;
use warden_registry::Config;
use warden_registry::auth::{Principal, Role};
use warden_registry::binding::ScoreRequest;
use warden_registry::routing::Routes;

use crate::support::{database_for, on_postgres};
use crate::vouching::{applications, deployed};

const WEBHOOK_SECRET: &str = "governance-hook-secret";
const ROUTING_KEY: &str = "R0UT1NGKEY0123456789abcdefABCDEF";

/// One request a stub took: path, headers (lower-case names), body, and the status it answered.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
    status: u16,
}

impl Call {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Why a request breaks its service's documented format, if it does.
fn refusal(path: &str, headers: &[(String, String)], raw: &str, body: &Value) -> Option<String> {
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let text = |v: &Value, max: usize| v.as_str().is_some_and(|s| !s.is_empty() && s.chars().count() <= max);
    if header("content-type") != Some("application/json") {
        return Some("content-type is not application/json".into());
    }
    if path.starts_with("/slack") {
        // Slack incoming webhooks: `text` (the notification's fallback), optional `blocks` with a `type` each.
        if !text(&body["text"], 40_000) {
            return Some("slack: text".into());
        }
        if let Some(blocks) = body.get("blocks")
            && !blocks.as_array().is_some_and(|b| b.iter().all(|b| b["type"].is_string()))
        {
            return Some("slack: blocks".into());
        }
    } else if path == "/pd" {
        // PagerDuty Events API v2.
        if body["routing_key"].as_str().map(str::len) != Some(32) {
            return Some("pagerduty: routing_key".into());
        }
        if !text(&body["dedup_key"], 255) {
            return Some("pagerduty: dedup_key".into());
        }
        match body["event_action"].as_str() {
            Some("trigger") => {
                let p = &body["payload"];
                if !text(&p["summary"], 1024) || !text(&p["source"], 1024) {
                    return Some("pagerduty: payload.summary and payload.source".into());
                }
                if !["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap_or("")) {
                    return Some("pagerduty: payload.severity".into());
                }
            }
            Some("acknowledge" | "resolve") => {}
            _ => return Some("pagerduty: event_action".into()),
        }
    } else if path == "/jira/rest/api/2/issue" {
        // Jira's REST API v2 issue creation, with basic authentication.
        if !header("authorization").is_some_and(|a| a.starts_with("Basic ")) {
            return Some("jira: authorization".into());
        }
        let f = &body["fields"];
        if !text(&f["project"]["key"], 255) || !text(&f["issuetype"]["name"], 255) {
            return Some("jira: project and issue type".into());
        }
        if !text(&f["summary"], 255) || f["summary"].as_str().is_some_and(|s| s.contains('\n')) {
            return Some("jira: summary".into());
        }
    } else if path == "/sn/api/now/table/incident" {
        // ServiceNow's Table API, incident table.
        if !header("authorization").is_some_and(|a| a.starts_with("Basic "))
            || header("accept") != Some("application/json")
        {
            return Some("servicenow: authorization and accept".into());
        }
        if !text(&body["short_description"], 160) || !["1", "2", "3"].contains(&body["impact"].as_str().unwrap_or("")) {
            return Some("servicenow: short_description and impact".into());
        }
    } else if path == "/hook" {
        let expected = warden_oversight::notifications::signature(WEBHOOK_SECRET, raw.as_bytes());
        if header("x-warden-signature") != Some(expected.as_str()) || header("x-warden-delivery").is_none() {
            return Some("webhook: signature".into());
        }
    } else {
        return Some(format!("no such endpoint {path}"));
    }
    None
}

/// Starts the stub on 127.0.0.1: its base URL and the calls it took. The first call to `/slack` is answered
/// 503, so one delivery is retried.
fn stubs() -> (String, Arc<Mutex<Vec<Call>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
    let seen = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
            let length = headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
            let mut raw = vec![0; length];
            reader.read_exact(&mut raw).unwrap();
            let raw = String::from_utf8(raw).unwrap();
            let body: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
            let mut calls = seen.lock().unwrap();
            let n = calls.iter().filter(|c| c.path == path).count() + 1;
            let (status, answer) = match refusal(&path, &headers, &raw, &body) {
                Some(why) => (400, json!({"error": why})),
                None if path == "/slack" && n == 1 => (503, json!({"error": "try again"})),
                None if path == "/pd" => {
                    (202, json!({"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}))
                }
                None if path.starts_with("/jira") => {
                    (201, json!({"id": format!("{}", 10_000 + n), "key": format!("MRM-{n}")}))
                }
                None if path.starts_with("/sn") => {
                    (201, json!({"result": {"sys_id": format!("{n:032}"), "number": format!("INC{n:07}")}}))
                }
                None => (200, json!({"ok": true})),
            };
            calls.push(Call { path, headers, body, status });
            let answer = answer.to_string();
            let reason = match status {
                200 => "OK",
                201 => "Created",
                202 => "Accepted",
                400 => "Bad Request",
                _ => "Service Unavailable",
            };
            write!(stream, "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}", answer.len()).unwrap();
        }
    });
    (url, calls)
}

fn routes(url: &str) -> Routes {
    let text = format!(
        r#"
receivers:
  - {{name: risk-slack, kind: slack, url: "{url}/slack"}}
  - {{name: high-tier-slack, kind: slack, url: "{url}/slack-high"}}
  - {{name: on-call, kind: pagerduty, url: "{url}/pd", routing_key_file: pd}}
  - {{name: mrm-jira, kind: jira, url: "{url}/jira/", project: MRM, user: svc@bank.example, token_file: jira}}
  - {{name: itsm, kind: servicenow, url: "{url}/sn", user: warden, password_file: sn}}
  - {{name: governance, kind: webhook, url: "{url}/hook", secret_file: hook}}
routes:
  - {{receivers: [on-call], severities: [critical]}}
  - {{receivers: [risk-slack], models: [credit]}}
  - {{receivers: [high-tier-slack], tiers: [high]}}
  - {{receivers: [mrm-jira, itsm], events: [alert_fired, alert_resolved, version_promoted_by_override], tiers: [medium]}}
  - {{receivers: [governance], events: [version_registered, version_promoted, version_promoted_by_override, model_suspended, model_resumed]}}
"#
    );
    let secret = |path: &std::path::Path| match path.to_str() {
        Some("pd") => Ok(ROUTING_KEY.to_owned()),
        Some("hook") => Ok(WEBHOOK_SECRET.to_owned()),
        Some(other) => Ok(format!("{other}-secret")),
        None => Err("no".to_owned()),
    };
    Routes::parse(&text, &secret).unwrap()
}

#[test]
fn alert_and_governance_events_reach_each_receiver_in_its_format_as_the_rules_route_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (url, calls) = stubs();
    let config = Config {
        database: on_postgres().then(|| database_for(&data)),
        notification_routes: Some(routes(&url)),
        ..Config::new(&data)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(routed(config, calls));
}

async fn routed(config: Config, calls: Arc<Mutex<Vec<Call>>>) {
    let start = 1_800_000_000_000_000;
    let now = Arc::new(AtomicI64::new(start));
    let clock = now.clone();
    let (warden, _) = Warden::open_with_clock(config, Arc::new(move || clock.load(Ordering::SeqCst))).await.unwrap();
    // The router starts where the sources end: what happened before it first ran is not replayed.
    assert_eq!(routing::route_new(&warden).await.unwrap(), 0);
    deployed(&warden).await;
    let (admin, rita) = (Principal::token("admin", Role::Admin), Principal::token("rita", Role::RiskOfficer));
    // A high finding makes the gate refuse; version 1 goes to the canary alias against it: an override.
    let finding = warden_oversight::findings::NewFinding {
        version: Some(1),
        kind: warden_core::FindingKind::Validation,
        severity: warden_core::FindingSeverity::High,
        title: "segment AUC below appetite".into(),
        description: "thin-file applicants".into(),
        owner: None,
    };
    warden_oversight::findings::raise(&warden, &Principal::token("vera", Role::Validator), "credit", finding)
        .await
        .unwrap();
    let request = PromotionRequest {
        alias: Some("canary".into()),
        traffic: Some(0.1),
        reason: "weekend hotfix".into(),
        override_gate: true,
    };
    let overridden = governance::promote(&warden, &admin, "credit", "1", request).await;
    assert!(overridden.is_ok(), "{overridden:?}");
    warden_oversight::suspension::suspend(&warden, &rita, "credit", "drill", warden_core::FallbackKind::Refer, None)
        .await
        .unwrap();
    warden_oversight::suspension::resume(&warden, &rita, "credit", "drill over").await.unwrap();

    // Drift: older applicants only, so feature alerts fire (critical opens an incident); one is acknowledged,
    // the incident resolved by hand.
    let scorer = Principal::token("loan-app", Role::Scorer);
    let older = applications(true);
    let batch = (0..600).map(|i| ScoreRequest { features: older[i % older.len()].clone(), ..Default::default() });
    now.store(start + 60_000_000, Ordering::SeqCst);
    warden_serving::scoring::score_batch(&warden, &scorer, "credit", batch.collect(), None).await.unwrap();
    warden_oversight::round::run(&warden, Round::Now).await.unwrap();
    let alerts = warden_oversight::alerts::list(&warden, &admin, None, Some("credit")).await.unwrap();
    let critical = alerts.iter().find(|a| a.severity == warden_core::Severity::Critical).expect("a critical alert");
    warden_oversight::alerts::acknowledge(&warden, &rita, critical.id, "looking").await.unwrap();
    let incident = critical.incident_id.expect("an incident");
    warden_oversight::alerts::resolve_incident(&warden, &rita, incident, "a campaign for older customers")
        .await
        .unwrap();

    warden_registry::install_tls_provider();
    let client = warden_oversight::notifications::client().unwrap();
    let queued = routing::route_new(&warden).await.unwrap();
    assert!(queued > 0);
    assert_eq!(routing::route_new(&warden).await.unwrap(), 0, "each event is routed once");
    routing::deliver_due(&warden, &client).await.unwrap();
    // The refused Slack call is retried after its back-off, with nothing sent twice otherwise.
    now.store(start + 120_000_000, Ordering::SeqCst);
    routing::deliver_due(&warden, &client).await.unwrap();
    let deliveries = warden.metadata.deliveries(None, 10_000).await.unwrap();
    assert_eq!(deliveries.len(), queued);
    let pending: Vec<_> = deliveries.iter().filter(|d| d.delivered_at.is_none()).collect();
    assert!(pending.is_empty(), "{pending:#?}");

    let calls = calls.lock().unwrap().clone();
    let refused: Vec<&Call> = calls.iter().filter(|c| c.status == 400).collect();
    assert!(refused.is_empty(), "outside the documented formats: {refused:#?}");
    let to = |path: &str| calls.iter().filter(|c| c.path == path).cloned().collect::<Vec<_>>();
    assert!(to("/slack-high").is_empty(), "credit is medium tier: the high-tier rule takes none of it");

    // PagerDuty: only critical alert events, one dedup key per alert across trigger, acknowledge and resolve.
    let pd = to("/pd");
    let of_critical: Vec<&str> = pd
        .iter()
        .filter(|c| c.body["dedup_key"] == format!("warden-alert-{}", critical.id))
        .map(|c| c.body["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(of_critical, ["trigger", "acknowledge", "resolve"], "{pd:#?}");
    assert!(pd.iter().all(|c| c.body["routing_key"] == ROUTING_KEY));
    let triggered = pd.iter().find(|c| c.body["event_action"] == "trigger").unwrap();
    assert_eq!(
        (triggered.body["payload"]["severity"].as_str(), triggered.body["payload"]["component"].as_str()),
        (Some("critical"), Some("credit"))
    );

    // Jira and ServiceNow: a ticket for each alert fired and the override, none for resolutions; the
    // issue key and incident number kept with the delivery.
    let fired = alerts.len();
    assert_eq!(to("/jira/rest/api/2/issue").len(), fired + 1);
    assert_eq!(to("/sn/api/now/table/incident").len(), fired + 1);
    let jira = deliveries.iter().filter(|d| d.receiver == "mrm-jira").collect::<Vec<_>>();
    assert!(jira.iter().all(|d| d.response.as_deref().is_some_and(|k| k.starts_with("MRM-"))), "{jira:#?}");
    assert!(jira.iter().any(|d| d.event == "version_promoted_by_override"));
    let itsm = deliveries.iter().filter(|d| d.receiver == "itsm").collect::<Vec<_>>();
    assert!(itsm.iter().all(|d| d.response.as_deref().is_some_and(|n| n.starts_with("INC"))), "{itsm:#?}");

    // The signed webhook: the registry and governance events, in order, each verifiable.
    let hook: Vec<String> = to("/hook").iter().map(|c| c.body["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        hook,
        ["version_registered", "version_promoted", "version_promoted_by_override", "model_suspended", "model_resumed"]
    );
    let overridden = to("/hook").into_iter().find(|c| c.body["event"] == "version_promoted_by_override").unwrap();
    assert!(overridden.body["summary"].as_str().unwrap().contains("AGAINST the gate"), "{:?}", overridden.body);
    assert!(overridden.header("x-warden-delivery").unwrap().starts_with('r'));

    // Slack: every event of credit, the first call refused and retried.
    let slack = to("/slack");
    assert_eq!(slack[0].status, 503);
    let retried = deliveries.iter().filter(|d| d.receiver == "risk-slack" && d.attempts == 2).count();
    assert_eq!(retried, 1, "one delivery took a second attempt");
    assert_eq!(
        slack.iter().filter(|c| c.status == 200).count(),
        deliveries.iter().filter(|d| d.receiver == "risk-slack").count()
    );
}

#[test]
fn a_routes_file_that_does_not_hold_stops_the_server_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("routes.yaml");
    let cases = [
        ("routes: [{receivers: [nobody]}]", "routes[0].receivers: no receiver is named 'nobody'"),
        (
            "receivers: [{name: pd, kind: pagerduty, routing_key_file: /nonexistent/key}]",
            "receivers[0].routing_key_file: cannot read",
        ),
        ("receivers: [{name: x, kind: slack, url: 'https://x', colour: red}]", "unknown field `colour`"),
    ];
    for (text, message) in cases {
        std::fs::write(&file, text).unwrap();
        let out = crate::ingest::serve_exits(&data, &["--notification-routes", file.to_str().unwrap()]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {said}");
        assert!(said.contains(message) && said.contains("routes.yaml"), "{text}: {said}");
    }
}
