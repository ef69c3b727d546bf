//! The role × endpoint matrix: every endpoint, called with every role, with no token, a malformed header,
//! an expired, a revoked and an unknown token, answers as `ACCESS.md` says.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use warden_lifecycle::Warden;
use warden_registry::Config;
use warden_registry::auth::Role;

use crate::access::{RULES, Rule};
use crate::tests::TestApp;

const ROLES: [&str; 7] = ["viewer", "data-scientist", "validator", "risk-officer", "admin", "scorer", "reviewer"];

/// One row of ACCESS.md: method, route, and per role `public`, `any`, `✓` or `—`.
#[derive(Debug)]
struct Row {
    method: String,
    route: String,
    cells: Vec<String>,
}

fn access_table() -> Vec<Row> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ACCESS.md");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| ["| GET ", "| POST ", "| PUT ", "| PATCH ", "| DELETE "].iter().any(|m| l.starts_with(m)))
        .map(|l| {
            let cells: Vec<String> = l.trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect();
            assert_eq!(cells.len(), 2 + ROLES.len(), "malformed row: {l}");
            Row { method: cells[0].clone(), route: cells[1].clone(), cells: cells[2..].to_vec() }
        })
        .collect()
}

/// The route with its parameters filled by values that name nothing, so allowed calls change nothing.
fn concrete(route: &str) -> String {
    route
        .replace("{name}", "absent-model")
        .replace("{version}", "1")
        .replace("{alias}", "champion")
        .replace("{monitor}", "feature_drift")
        .replace("{id}", "999999")
        .replace("{index}", "999999")
        .replace("{request_id}", "absent-request")
}

/// The table agrees with the router's rules, and both list exactly the endpoints the server has.
#[test]
fn the_table_lists_every_endpoint_with_the_rule_the_server_applies() {
    let table = access_table();
    let documented: BTreeSet<(String, String)> = table.iter().map(|r| (r.method.clone(), r.route.clone())).collect();
    assert_eq!(documented.len(), table.len(), "a row appears twice");

    let mut served: BTreeSet<(String, String)> = BTreeSet::new();
    let api = serde_json::to_value(crate::openapi()).unwrap();
    for (path, item) in api["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                served.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    served.insert(("GET".into(), "/v1/openapi.json".into()));
    assert_eq!(documented, served, "ACCESS.md and the router list different endpoints");

    let ruled: BTreeSet<(String, String)> = RULES.iter().map(|(m, r, _)| (m.to_string(), r.to_string())).collect();
    assert_eq!(ruled, served, "access::RULES and the router list different endpoints");
    for row in &table {
        let rule = crate::access::rule(&row.method.parse().unwrap(), &row.route).unwrap();
        let expected: Vec<&str> = ROLES
            .iter()
            .map(|role| match rule {
                Rule::Public => "public",
                Rule::AnyRole => "any",
                Rule::Needs(p) | Rule::InScope(p) if p.roles().contains(&role.parse::<Role>().unwrap()) => "✓",
                Rule::Needs(_) | Rule::InScope(_) => "—",
                Rule::NeedsOr(p, _) if p.roles().contains(&role.parse::<Role>().unwrap()) => "✓",
                Rule::NeedsOr(_, q) if q.roles().contains(&role.parse::<Role>().unwrap()) => "pinned",
                Rule::NeedsOr(..) => "—",
            })
            .collect();
        assert_eq!(row.cells, expected, "{} {}: ACCESS.md disagrees with access::RULES", row.method, row.route);
    }
}

/// A body that parses for the endpoint's wire type where one is needed, so an allowed role gets past the
/// parser to the service (which then finds nothing under the made-up names).
fn body_for(method: &str, route: &str) -> Value {
    match (method, route) {
        ("POST", "/v1/models") => json!({"name": "matrix-model", "owner": "o", "risk_tier": "low", "use_case": "u"}),
        ("PUT", "/v1/models/{name}/aliases/{alias}") => json!({"version": 1}),
        ("POST", "/v1/models/{name}/versions/{version}/approvals") => json!({"decision": "approve", "comment": "c"}),
        ("POST", "/v1/models/{name}/versions/{version}/promote") => json!({"alias": "production"}),
        ("POST", "/v1/models/{name}/score") => json!({"features": {}}),
        ("POST", "/v1/models/{name}/score/batch") => json!([{"features": {}}]),
        ("POST", "/v1/outcomes") => json!({"outcomes": [{"request_id": "absent", "label": 1}]}),
        ("PUT", "/v1/models/{name}/monitors/{monitor}") => json!({"kind": "feature_drift"}),
        ("POST", "/v1/alerts/{id}/acknowledge") => json!({"comment": "c"}),
        ("POST", "/v1/incidents/{id}/resolve") => json!({"comment": "c"}),
        ("POST", "/v1/incidents/{id}/classify") => {
            json!({"framework": "dora", "classified_at": "2020-01-01T00:00:00Z"})
        }
        ("POST", "/v1/incidents/{id}/reports") => json!({"framework": "dora", "kind": "initial", "reference": "r"}),
        ("POST", "/v1/models/{name}/retire" | "/v1/models/{name}/resume") => json!({"reason": "r"}),
        ("POST", "/v1/models/{name}/suspend") => json!({"reason": "r", "fallback": "refer"}),
        ("PUT", "/v1/models/{name}/data-policy") => json!({"retention": {"decisions_days": 400}, "reason": "r"}),
        ("POST", "/v1/subjects/erase") => json!({"subject_key": "nobody", "reason": "r"}),
        ("PATCH", "/v1/models/{name}/fields") => json!({"set": {"business_line": "cards"}}),
        ("PUT", "/v1/models/{name}/tier") => json!({"tier": "high", "reason": "r"}),
        ("PUT", "/v1/inventory/fields") => {
            json!({"type": "object", "properties": {"business_line": {"type": "string"}}})
        }
        ("POST", "/v1/attestations/{id}/submit") => json!({"still_used_as_documented": true, "limitations_hold": true}),
        ("POST", "/v1/attestations/{id}/review") => json!({"accept": true}),
        ("POST", "/v1/models/{name}/findings") => json!({"kind": "validation", "severity": "low", "title": "t"}),
        ("POST", "/v1/findings/{id}/propose") => json!({"remediation": "r"}),
        ("POST", "/v1/findings/{id}/close") => json!({"evidence": "e"}),
        ("POST", "/v1/findings/{id}/accept" | "/v1/findings/{id}/except") => {
            json!({"until": "2099-01-01T00:00:00Z", "reason": "r"})
        }
        ("PUT", "/v1/models/{name}/retrain/schedule") => json!({"every_hours": 24}),
        ("POST", "/v1/tokens") => json!({"name": "matrix-token", "role": "viewer"}),
        ("POST", "/v1/decisions/{request_id}/review") => {
            json!({"model": "absent-model", "action": "confirm", "reason_code": "other"})
        }
        ("PUT", "/v1/policies") => json!({"files": {}}),
        _ => Value::Null,
    }
}

/// A test app whose clock the test moves.
pub(crate) async fn app_with_clock() -> (TestApp, Arc<AtomicI64>) {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(1_800_000_000_000_000));
    let clock = now.clone();
    let config = Config { max_upload_bytes: 256 * 1024, ..Config::new(dir.path()) };
    let (warden, startup) =
        Warden::open_with_clock(config, Arc::new(move || clock.load(Ordering::SeqCst))).await.unwrap();
    let admin = std::fs::read_to_string(startup.admin_token_file.unwrap()).unwrap().trim().to_owned();
    (TestApp { dir, warden: Arc::new(warden), admin }, now)
}

#[tokio::test]
async fn every_endpoint_answers_every_role_as_the_table_says() {
    let (app, clock) = app_with_clock().await;
    let mut tokens = Vec::new();
    for role in ROLES {
        tokens.push(app.token(&format!("matrix-{role}"), role).await);
    }
    // An admin token that expires in a second, one revoked, one that never existed.
    let soon = clock.load(Ordering::SeqCst) + 1_000_000;
    let (status, created) = app
        .json(
            Method::POST,
            "/v1/tokens",
            Some(&app.admin),
            json!({"name": "short-lived", "role": "admin", "expires_at": crate::wire::timestamp(soon)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let expiring = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.json(Method::GET, "/v1/whoami", Some(&expiring), Value::Null).await.0, StatusCode::OK);
    clock.store(soon, Ordering::SeqCst);
    let revoked = app.token("revoked", "admin").await;
    assert_eq!(app.json(Method::DELETE, "/v1/tokens/revoked", Some(&app.admin), Value::Null).await.0, StatusCode::OK);
    let unknown = format!("wdn_{}", "0".repeat(64));
    let secrets: Vec<&str> = tokens.iter().map(String::as_str).chain([expiring.as_str(), revoked.as_str()]).collect();

    let mut checked = 0;
    for row in access_table() {
        let method: Method = row.method.parse().unwrap();
        let uri = concrete(&row.route);
        let body = body_for(&row.method, &row.route);
        let public = row.cells.iter().all(|c| c == "public");
        for (role, (token, cell)) in ROLES.iter().zip(tokens.iter().zip(&row.cells)) {
            if cell == "pinned" {
                // Allowed only naming a version: refused without one, past the access checks with one.
                let (status, answer) = app.json(method.clone(), &uri, Some(token), body.clone()).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{} {uri} as {role} without a version: {answer}", row.method);
                let (status, answer) =
                    app.json(method.clone(), &format!("{uri}?version=1"), Some(token), body.clone()).await;
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{uri} as {role}: {answer}"
                );
                checked += 1;
                continue;
            }
            let (status, answer) = app.json(method.clone(), &uri, Some(token), body.clone()).await;
            let allowed = cell != "—";
            if allowed {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{} {uri} as {role}: {status} {answer}",
                    row.method
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{} {uri} as {role}: {answer}", row.method);
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains(role), "{} {uri}: the refusal names the role: {message}", row.method);
            }
            for secret in &secrets {
                assert!(!answer.to_string().contains(secret), "{} {uri} echoed a token secret", row.method);
            }
            checked += 1;
        }
        let strangers: [(&str, Option<String>); 4] = [
            ("no token", None),
            ("an expired token", Some(expiring.clone())),
            ("a revoked token", Some(revoked.clone())),
            ("an unknown token", Some(unknown.clone())),
        ];
        for (who, token) in &strangers {
            let (status, answer) = app.json(method.clone(), &uri, token.as_deref(), body.clone()).await;
            if public && matches!(row.route.as_str(), "/v1/identity-provider" | "/v1/integrations/mlflow/webhook") {
                // Public, and this app has no identity provider or MLflow: it says so (with one, `warden login`
                // reads it; mlflow_tests.rs checks the webhook's signature).
                assert_eq!(status, StatusCode::NOT_FOUND, "{} {uri} with {who}: {answer}", row.method);
            } else if public {
                assert!(status.is_success(), "{} {uri} with {who}: {status} {answer}", row.method);
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {uri} with {who}: {answer}", row.method);
                if let Some(secret) = token {
                    assert!(!answer.to_string().contains(secret.as_str()), "{} {uri} echoed the secret", row.method);
                }
            }
            checked += 1;
        }
        // A header that is not a bearer token.
        let (status, _) = app.send(method.clone(), &uri, None, "application/json", Vec::new()).await;
        assert_eq!(status.as_u16() == 401, !public, "{} {uri} without Authorization", row.method);
    }
    assert!(checked >= 50 * 10, "only {checked} calls checked");

    // The reasons are told apart, without the secret.
    for (token, reason) in [(&expiring, "has expired"), (&revoked, "has been revoked"), (&unknown, "invalid token")] {
        let (_, answer) = app.json(Method::GET, "/v1/models", Some(token), Value::Null).await;
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{message}");
    }
}

/// Expiry is part of the token's record and of its audit event; a past expiry is refused.
#[tokio::test]
async fn token_expiry_is_recorded_audited_and_must_lie_ahead() {
    let (app, clock) = app_with_clock().await;
    let now = clock.load(Ordering::SeqCst);
    let past = crate::wire::timestamp(now - 1);
    let (status, answer) = app
        .json(
            Method::POST,
            "/v1/tokens",
            Some(&app.admin),
            json!({"name": "late", "role": "viewer", "expires_at": past}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, _) = app
        .json(
            Method::POST,
            "/v1/tokens",
            Some(&app.admin),
            json!({"name": "odd", "role": "viewer", "expires_at": "soon"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let until = crate::wire::timestamp(now + 3_600_000_000);
    let (status, created) = app
        .json(
            Method::POST,
            "/v1/tokens",
            Some(&app.admin),
            json!({"name": "hour", "role": "viewer", "expires_at": until}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["token"]["expires_at"], json!(until));
    let (_, listed) = app.json(Method::GET, "/v1/tokens", Some(&app.admin), Value::Null).await;
    let hour = listed.as_array().unwrap().iter().find(|t| t["name"] == "hour").unwrap();
    assert_eq!(hour["expires_at"], json!(until));
    let (_, events) = app.json(Method::GET, "/v1/audit/events?subject=token/hour", Some(&app.admin), Value::Null).await;
    assert_eq!(events[0]["action"], "token.create");
    assert_eq!(events[0]["payload"]["expires_at"], json!(now + 3_600_000_000));
    assert!(!events.to_string().contains(created["secret"].as_str().unwrap()), "the audit trail holds no secret");
}
