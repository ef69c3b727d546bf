//! The pages as each role reads them, in-process: a model whose second version went to production by an
//! override and was rolled back by a drift incident, then every page fetched with each role's session.

use axum::Router;
use axum::body::Body;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::tests::{TestApp, german_csv, multipart};

/// The roles that log in to the dashboard, with the sections each must see (and no other).
const ROLES: [(&str, &str, &[&str]); 7] = [
    ("victor", "viewer", &["Inventory", "Findings", "Board KPIs"]),
    ("dana", "data-scientist", &["Inventory", "Findings", "Alerts &amp; incidents", "Board KPIs"]),
    ("vera", "validator", &["Inventory", "Findings", "Alerts &amp; incidents", "Audit", "Board KPIs"]),
    ("rita", "risk-officer", &["Inventory", "Findings", "Alerts &amp; incidents", "Audit", "Board KPIs"]),
    ("admin", "admin", &["Inventory", "Findings", "Alerts &amp; incidents", "Audit", "Board KPIs"]),
    ("sam", "scorer", &[]),
    ("ravi", "reviewer", &["Inventory", "Findings", "Alerts &amp; incidents", "Board KPIs"]),
];

const SECTIONS: [&str; 5] = ["Inventory", "Findings", "Alerts &amp; incidents", "Audit", "Board KPIs"];

/// Every page of the scene, with the roles refused it.
const PAGES: [(&str, &[&str]); 13] = [
    ("/ui", &["scorer"]),
    ("/ui/findings", &["scorer"]),
    ("/ui/findings?model=credit&severity=&owner=&state=open&overdue=true", &["scorer"]),
    ("/ui/models/credit", &["scorer"]),
    ("/ui/models/credit?version=2", &["scorer"]),
    ("/ui/models/credit/monitoring", &["viewer", "scorer"]),
    ("/ui/models/credit/decisions", &["viewer", "scorer"]),
    ("/ui/models/credit/decisions?request_id=no-such-request", &["viewer", "scorer"]),
    ("/ui/alerts", &["viewer", "scorer"]),
    ("/ui/audit", &["viewer", "data-scientist", "scorer", "reviewer"]),
    ("/ui/kpis", &["scorer"]),
    ("/ui/kpis?days=1", &["scorer"]),
    ("/ui/summary", &["scorer"]),
];

struct Scene {
    app: TestApp,
    router: Router,
    /// Token secrets by person.
    tokens: Vec<(&'static str, String)>,
}

impl Scene {
    /// A fresh server with the roles' tokens and nothing else.
    async fn empty() -> Scene {
        let app = TestApp::new().await;
        let router = crate::app(app.warden.clone());
        let mut tokens = Vec::new();
        for (name, role, _) in ROLES {
            let secret = if role == "admin" { app.admin.clone() } else { app.token(name, role).await };
            tokens.push((name, secret));
        }
        Scene { app, router, tokens }
    }

    /// High-risk `credit`: version 1 through validation, three approvals and the gate; version 2 by an
    /// administrator's override; then a drift on version 2 opens an incident and rolls the champion back.
    async fn governed() -> Scene {
        let scene = Scene::empty().await;
        let app = &scene.app;
        app.create_model("credit").await;
        let metadata = json!({"format": "linear-json", "target": "risk", "protected": ["sex"], "code_ref": "git:4f2a9c1",
                              "training_data_sha256": "9".repeat(64), "training_data_rows": 700});
        let artifact = warden_testdata::read("models/lr_german_linear.json");
        let (status, body) = app.register("credit", metadata.clone(), &artifact, &german_csv()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let validation = json!({"target": "risk", "bad_value": "0"}).to_string();
        let (content_type, form) =
            multipart(&[("metadata", None, validation.as_bytes()), ("data", Some("validation.csv"), &german_csv())]);
        let uri = "/v1/models/credit/versions/1/validations";
        let (status, body) = app.send(Method::POST, uri, Some(scene.token("vera")), &content_type, form).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let second_validator = app.token("vic", "validator").await;
        for token in [scene.token("vera"), &second_validator, scene.token("rita")] {
            let approval = json!({"decision": "approve", "comment": "reviewed the report"});
            let uri = "/v1/models/credit/versions/1/approvals";
            let (status, body) = app.json(Method::POST, uri, Some(token), approval).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let promote = |version: i64, body: Value, token: String| async move {
            let uri = format!("/v1/models/credit/versions/{version}/promote");
            let (status, body) = app.json(Method::POST, &uri, Some(&token), body).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        };
        promote(1, json!({"reason": "release 2026.11"}), scene.token("dana").to_owned()).await;
        let (status, body) = app.register("credit", metadata, &artifact, &german_csv()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        promote(2, json!({"reason": "hotfix for INC-7", "override": true}), app.admin.clone()).await;
        let uri = "/v1/models/credit/monitors/feature_drift";
        let change = json!({"action": "rollback", "min_decisions": 100});
        let (status, body) = app.json(Method::PUT, uri, Some(scene.token("rita")), change).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let batch = Value::Array(crate::scoring_tests::older_applicants_batch());
        let (status, body) = app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), batch).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
        assert_eq!(status, StatusCode::OK);
        let (_, champion) =
            app.json(Method::GET, "/v1/models/credit/aliases/champion", Some(&app.admin), Value::Null).await;
        assert_eq!((champion["version"].as_i64(), champion["assigned_by"].as_str()), (Some(1), Some("warden")));
        scene
    }

    fn token(&self, name: &str) -> &str {
        &self.tokens.iter().find(|(n, _)| *n == name).expect("a person of the scene").1
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// Logs `name` in through the form; the session cookie.
    async fn log_in(&self, name: &str) -> String {
        let nonce = "n".repeat(64);
        let form = format!("token={}&nonce={nonce}&next=/ui", self.token(name));
        let request = Request::post("/ui/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(COOKIE, format!("warden_login={nonce}"))
            .body(Body::from(form))
            .unwrap();
        let (status, headers, _) = self.call(request).await;
        assert_eq!((status, headers.get(LOCATION).map(|l| l.to_str().unwrap())), (StatusCode::SEE_OTHER, Some("/ui")));
        let session = headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|c| c.to_str().unwrap())
            .find(|c| c.starts_with("warden_session="))
            .expect("a session cookie");
        session.split(';').next().unwrap().to_owned()
    }

    async fn page(&self, cookie: &str, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).header(COOKIE, cookie).body(Body::empty()).unwrap();
        let (status, _, body) = self.call(request).await;
        (status, body)
    }
}

/// The labels of the page's navigation.
fn navigation(page: &str) -> Vec<&str> {
    let Some(start) = page.find("<nav>") else { return Vec::new() };
    let nav = &page[start..start + page[start..].find("</nav>").unwrap()];
    SECTIONS.iter().copied().filter(|s| nav.contains(&format!(">{s}</a>"))).collect()
}

fn has_log_out(page: &str) -> bool {
    page.contains(r#"action="/ui/logout""#) && page.contains("Log out")
}

/// The text of the element with `id` (to its matching closing tag), tags read as spaces.
fn text_of(page: &str, id: &str) -> String {
    let at = page.find(&format!(r#"id="{id}""#)).unwrap_or_else(|| panic!("no #{id}"));
    let open = page[..at].rfind('<').unwrap();
    let tag: String = page[open + 1..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    let (opening, closing) = (format!("<{tag}"), format!("</{tag}>"));
    let (mut depth, mut cursor) = (0usize, open);
    let end = loop {
        let next_open = page[cursor..].find(&opening).map(|i| cursor + i);
        let next_close = cursor + page[cursor..].find(&closing).expect("a closing tag");
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                cursor = o + opening.len();
            }
            _ => {
                depth -= 1;
                cursor = next_close + closing.len();
                if depth == 0 {
                    break next_close;
                }
            }
        }
    };
    let mut text = String::new();
    let mut in_tag = false;
    for c in page[open..end].chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn every_role_sees_only_the_sections_it_may_open_and_a_refusal_keeps_them() {
    let scene = Scene::governed().await;
    for (name, role, sections) in ROLES {
        let cookie = scene.log_in(name).await;
        for (path, refused) in PAGES {
            let (status, page) = scene.page(&cookie, path).await;
            let expected = if refused.contains(&role) { StatusCode::FORBIDDEN } else { StatusCode::OK };
            assert_eq!(status, expected, "{role} on {path}");
            if path != "/ui/summary" {
                assert_eq!(navigation(&page), sections, "{role} on {path}");
                assert!(has_log_out(&page), "{role} on {path}: no log-out button");
                assert!(
                    page.contains(&format!("{name} (Warden token) · {role}")),
                    "{role} on {path}: who is logged in"
                );
            }
            if status == StatusCode::FORBIDDEN {
                assert!(text_of(&page, "error").contains(role), "{role} on {path}: the page says why");
            }
            assert!(!page.contains("Some(") && !page.contains("None"), "{role} on {path}: a debug value");
        }
    }
    // A scorer's token opens no page: the refusal says so and still offers to log out.
    let cookie = scene.log_in("sam").await;
    let (_, page) = scene.page(&cookie, "/ui").await;
    assert!(text_of(&page, "no-sections").contains("no page for the role scorer"), "{page}");
    // A forged form is refused on a page that keeps the navigation.
    let cookie = scene.log_in("rita").await;
    let request = Request::post("/ui/audit/verify")
        .header(COOKIE, &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("csrf=forged"))
        .unwrap();
    let (status, _, page) = scene.call(request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(navigation(&page), ROLES[3].2);
    assert!(has_log_out(&page));
}

#[tokio::test]
async fn a_version_put_in_production_by_an_override_carries_a_banner_saying_who_why_and_which_decision() {
    let scene = Scene::governed().await;
    let uri = "/v1/models/credit/alias-history?alias=champion";
    let (_, history) = scene.app.json(Method::GET, uri, Some(&scene.app.admin), Value::Null).await;
    let overridden = history.as_array().unwrap().iter().find(|a| a["overridden"] == true).expect("the override");
    let decision = overridden["decision_id"].as_str().unwrap();
    for name in ["victor", "rita"] {
        let cookie = scene.log_in(name).await;
        let (status, page) = scene.page(&cookie, "/ui/models/credit?version=2").await;
        assert_eq!(status, StatusCode::OK);
        let banner = text_of(&page, "override-banner");
        assert!(banner.contains("Version 2 went to champion by an override of the gate"), "{banner}");
        assert!(banner.contains("Overridden by token:admin"), "{banner}");
        assert!(banner.contains("Reason hotfix for INC-7"), "{banner}");
        assert!(banner.contains(decision), "{banner}");
        assert!(banner.contains("no longer serving as champion"), "rolled back since: {banner}");
        // Who may read gate decisions also reads why the gate refused.
        assert_eq!(banner.contains("no validation report"), name == "rita", "{banner}");
        // The versions table marks the overridden version; version 1 (through the gate) has no banner.
        assert!(text_of(&page, "versions").contains("v2 override"), "{page}");
        let (_, first) = scene.page(&cookie, "/ui/models/credit?version=1").await;
        assert!(!first.contains("override-banner"));
    }
}

#[tokio::test]
async fn the_kpis_and_the_board_summary_list_the_periods_incidents_rollbacks_overrides_and_refusals() {
    let scene = Scene::governed().await;
    let rita = scene.log_in("rita").await;
    for path in ["/ui/kpis?days=30", "/ui/summary?days=30"] {
        let (status, page) = scene.page(&rita, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(text_of(&page, "period").contains("the last 30 days"), "{path}: the period is named");
        let incidents = text_of(&page, "period-incidents");
        assert!(
            incidents.contains("Incidents in the last 30 days")
                && incidents.contains("1 incident open")
                && incidents.contains("credit")
                && incidents.contains("credit v2")
                && incidents.contains("open"),
            "{path}: {incidents}"
        );
        let rollbacks = text_of(&page, "period-rollbacks");
        assert!(
            rollbacks.contains("1 rollback.")
                && rollbacks.contains("v2 → v1")
                && rollbacks.contains("warden")
                && rollbacks.contains("automatic rollback on alert"),
            "{path}: {rollbacks}"
        );
        let overrides = text_of(&page, "period-overrides");
        assert!(
            overrides.contains("1 override.")
                && overrides.contains("token:admin")
                && overrides.contains("hotfix for INC-7"),
            "{path}: {overrides}"
        );
        let denied = text_of(&page, "period-denied");
        assert!(
            denied.contains("1 denied decision.")
                && denied.contains("credit v2")
                && denied.contains("no validation report")
                && denied.contains("overridden"),
            "{path}: {denied}"
        );
        assert!(page.contains(r#"href="/ui/models/credit?version=2""#), "{path}: links to the version's page");
        let cards = text_of(&page, "kpis");
        assert!(
            cards.contains("1 automatic rollback)") && cards.contains("1 override in 2 promotions"),
            "{path}: {cards}"
        );
    }
    // A viewer reads the moves, and is told who may read incidents and gate decisions.
    let victor = scene.log_in("victor").await;
    let (_, page) = scene.page(&victor, "/ui/kpis?days=30").await;
    assert!(
        text_of(&page, "period-incidents")
            .contains("shown to the data-scientist, validator, risk-officer, admin and reviewer roles")
    );
    assert!(text_of(&page, "period-denied").contains("shown to the validator, risk-officer and admin roles"));
    assert!(text_of(&page, "period-overrides").contains("hotfix for INC-7"));

    // Resolved by hand, the incident stays in the period's list with who resolved it and why.
    let rita_principal = warden_registry::auth::Principal::token("rita", warden_registry::auth::Role::RiskOfficer);
    let incidents = warden_oversight::alerts::incidents(&scene.app.warden, &rita_principal, None).await.unwrap();
    warden_oversight::alerts::resolve_incident(
        &scene.app.warden,
        &rita_principal,
        incidents[0].id,
        "feed fixed upstream",
    )
    .await
    .unwrap();
    let (_, page) = scene.page(&rita, "/ui/kpis?days=30").await;
    let listed = text_of(&page, "period-incidents");
    assert!(listed.contains("resolved") && listed.contains("by rita: feed fixed upstream"), "{listed}");
}

#[tokio::test]
async fn an_empty_period_reads_as_such() {
    let scene = Scene::empty().await;
    let rita = scene.log_in("rita").await;
    let (status, page) = scene.page(&rita, "/ui/kpis?days=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&page, "period").contains("Figures for the last day"), "{page}");
    assert!(text_of(&page, "period-incidents").contains("No incident was open in the last day."));
    assert!(text_of(&page, "period-rollbacks").contains("No automatic rollback in the last day."));
    assert!(text_of(&page, "period-overrides").contains("No promotion went against the gate in the last day."));
    assert!(text_of(&page, "period-denied").contains("The gate refused nothing in the last day."));
    assert!(text_of(&page, "kpis").contains("0 deployments in the last day, 0 automatic rollbacks"));
}

/// A model fed from outside Warden shows its Kafka partitions' lag (beyond the alert level marked), records
/// set aside and KServe requests still waiting for their response; a model without such sources shows none.
#[tokio::test]
async fn the_monitoring_page_shows_stream_lag_dead_records_and_waiting_kserve_requests() {
    let scene = Scene::empty().await;
    scene.app.create_model("vendor").await;
    scene.app.create_model("other").await;
    scene.app.warden.scoring().publish_stream(warden_serving::ingest::StreamStatus {
        group: "warden".into(),
        topic: "loan-decisions".into(),
        model: "vendor".into(),
        kind: warden_core::StreamKind::Decisions,
        connected: false,
        last_error: Some("all brokers down".into()),
        partitions: vec![(0, Some(1_200), Some(1_250)), (1, Some(10), Some(250_010)), (2, None, None)],
        lag_alert: 100_000,
        expired: 3,
    });
    let letter = warden_store::metadata::DeadLetter {
        at: scene.app.warden.now(),
        source: "kafka".into(),
        topic: Some("loan-decisions".into()),
        partition: Some(1),
        offset: Some(7),
        model: Some("vendor".into()),
        reason: "not a decision record: expected value at line 1 column 1".into(),
        payload: "garbage".into(),
    };
    scene.app.warden.metadata.insert_dead_letters(&[letter]).await.unwrap();
    scene.app.warden.metadata.put_kserve_half("vendor", 1, "ev-1", "request", 1, "{}").await.unwrap();
    let cookie = scene.log_in("rita").await;
    let (status, page) = scene.page(&cookie, "/ui/models/vendor/monitoring").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let section = &page[page.find(r#"id="ingestion""#).expect("the ingestion section")..];
    for part in [
        "loan-decisions",
        "brokers do not answer",
        "all brokers down",
        "partition 1 is 250000 records behind (alert above 100000)",
        "3 records of topic 'loan-decisions' expired from it before they were stored",
        "loan-decisions/1@7",
        "not a decision record",
        "KServe: 1 request waiting for a response, 0 responses waiting for a request",
    ] {
        assert!(section.contains(part), "{part} missing from {section}");
    }
    assert!(section.contains(r#"<td class="num bad">250000</td>"#), "the lag beyond the alert level is marked");
    assert!(section.contains(r#"<td class="num">50</td>"#), "{section}");
    let (_, other) = scene.page(&cookie, "/ui/models/other/monitoring").await;
    assert!(!other.contains(r#"id="ingestion""#), "no section without a source");
}

#[tokio::test]
async fn findings_show_on_their_page_filtered_on_the_model_page_and_in_the_board_kpis() {
    let scene = Scene::governed().await;
    let app = &scene.app;
    // A scanner report on version 1 (a high and a medium vulnerability) besides the breach the drift raised.
    let uri = "/v1/models/credit/versions/1/findings/import?format=trivy";
    let report = warden_testdata::read("scans/trivy-pip.json");
    let (status, body) = app.send(Method::POST, uri, Some(scene.token("vera")), "application/json", report).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = scene.log_in("victor").await;

    let (status, page) = scene.page(&cookie, "/ui/findings").await;
    assert_eq!(status, StatusCode::OK);
    let table = text_of(&page, "findings");
    assert!(table.contains("CVE-2019-14806") || table.contains("insufficient debugger PIN"), "{table}");
    assert!(table.contains("monitoring_breach") && table.contains("critical"), "the drift's breach: {table}");
    assert_eq!(text_of(&page, "findings-count"), "3 findings of 3.");
    let (_, high) = scene.page(&cookie, "/ui/findings?model=credit&severity=high&owner=&state=&overdue=").await;
    assert!(high.contains("findings-count"), "{high}");
    assert_eq!(text_of(&high, "findings-count"), "1 finding of 3.");
    let (_, overdue) = scene.page(&cookie, "/ui/findings?overdue=true").await;
    assert_eq!(text_of(&overdue, "findings-count"), "0 findings of 3.");
    let (status, _) = scene.page(&cookie, "/ui/findings?severity=extreme").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a severity outside the set");

    // The model page lists the selected version's findings with their due dates.
    let (_, model) = scene.page(&cookie, "/ui/models/credit?version=1").await;
    let version = text_of(&model, "version-findings");
    assert!(version.contains("vulnerability") && version.contains("retail-risk"), "{version}");
    assert!(!version.contains("monitoring_breach"), "the breach is version 2's: {version}");
    let schedule = text_of(&model, "revalidation");
    assert!(schedule.starts_with("every 365 days; last validated") && !schedule.contains("overdue"), "{schedule}");
    assert!(
        schedule.contains("revalidation required: version 2 was registered after the latest validation"),
        "{schedule}"
    );

    // The board: unresolved by severity, the critical-vulnerability target row, findings per model.
    let (_, kpis) = scene.page(&cookie, "/ui/kpis").await;
    assert_eq!(text_of(&kpis, "open-findings"), "3");
    assert!(text_of(&kpis, "finding-kpis").contains("1 critical, 1 high, 1 medium, 0 low"), "{kpis}");
    let remediation = text_of(&kpis, "time-to-remediate");
    assert!(remediation.contains("vulnerability critical 0 – 2.0 days 0 of 0"), "{remediation}");
    assert_eq!(
        text_of(&kpis, "findings-per-model"),
        "Unresolved findings per model Model Unresolved Overdue credit 3 0"
    );
}

#[tokio::test]
async fn a_retired_model_is_listed_apart_and_its_page_says_who_retired_it() {
    let scene = Scene::governed().await;
    let (status, body) = scene
        .app
        .json(Method::POST, "/v1/models/credit/retire", Some(scene.token("rita")), json!({"reason": "replaced"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "high tier: asked, {body}");
    let cookie = scene.log_in("victor").await;
    let (_, page) = scene.page(&cookie, "/ui/models/credit").await;
    assert!(text_of(&page, "retirement-asked").contains("Retirement asked by token:rita"), "{page}");
    let (status, body) = scene
        .app
        .json(Method::POST, "/v1/models/credit/retire", Some(&scene.app.admin), json!({"reason": "confirmed"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, inventory) = scene.page(&cookie, "/ui").await;
    assert!(!text_of(&inventory, "inventory").contains("credit"), "in service lists it no more");
    assert!(text_of(&inventory, "retired").contains("credit"), "{inventory}");
    let (_, page) = scene.page(&cookie, "/ui/models/credit").await;
    let banner = text_of(&page, "retired-banner");
    assert!(
        banner.contains("by token:admin") && banner.contains("replaced") && banner.contains("asked by token:rita"),
        "{banner}"
    );
}

#[tokio::test]
async fn the_inventory_shows_and_filters_by_fields_and_the_model_page_says_how_its_tier_was_set() {
    let scene = Scene::governed().await;
    let schema = json!({"type": "object", "properties": {
        "business_line": {"enum": ["retail", "cards"]}, "exposure": {"type": "number"}}});
    let (status, body) = scene.app.json(Method::PUT, "/v1/inventory/fields", Some(scene.token("rita")), schema).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields = json!({"set": {"business_line": "retail", "exposure": 20_000_000}});
    let (status, body) =
        scene.app.json(Method::PATCH, "/v1/models/credit/fields", Some(scene.token("rita")), fields).await;
    assert_eq!((status, body["tier"].as_str()), (StatusCode::OK, Some("medium")), "{body}");
    let cookie = scene.log_in("victor").await;
    let (_, inventory) = scene.page(&cookie, "/ui").await;
    let table = text_of(&inventory, "inventory");
    assert!(table.contains("medium computed") && table.contains("business_line: retail exposure: 20000000"), "{table}");
    let (_, filtered) = scene.page(&cookie, "/ui?where=business_line%3Dcards").await;
    assert!(!text_of(&filtered, "inventory").contains("credit"), "{filtered}");
    let (_, filtered) = scene.page(&cookie, "/ui?q=RETAIL&where=exposure%3D20000000").await;
    assert!(text_of(&filtered, "inventory").contains("credit"), "{filtered}");
    let (_, refused) = scene.page(&cookie, "/ui?where=exposure").await;
    assert_eq!(text_of(&refused, "filter-error"), "where: 'exposure' is not name=value");
    let (_, page) = scene.page(&cookie, "/ui/models/credit").await;
    let tier = text_of(&page, "tier");
    assert!(tier.starts_with("medium (computed by token:rita "), "{tier}");
    assert!(tier.ends_with("): exposure 20000000 is at least 10000000"), "{tier}");
    assert_eq!(text_of(&page, "inventory-fields"), "business_line: retail exposure: 20000000");
}

/// The value of the first hidden `csrf` input of a page.
fn csrf_of(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a form") + r#"name="csrf" value=""#.len();
    page[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_reviewer_looks_a_decision_up_and_overrides_it_through_the_form() {
    let scene = Scene::governed().await;
    let (_, log) =
        scene.app.json(Method::GET, "/v1/models/credit/decisions?limit=1", Some(&scene.app.admin), Value::Null).await;
    let (request_id, made) = (log[0]["request_id"].as_str().unwrap(), log[0]["decision"].as_str().unwrap());
    let path = format!("/ui/models/credit/decisions?request_id={request_id}");
    let cookie = scene.log_in("ravi").await;
    let (status, page) = scene.page(&cookie, &path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Not reviewed.") && page.contains(r#"class="review""#), "{page}");
    let post = |cookie: String, form: String| {
        Request::post("/ui/models/credit/decisions/review")
            .header(COOKIE, cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap()
    };
    let form = |csrf: &str, reason: &str| {
        format!("csrf={csrf}&request_id={request_id}&action=override&decision=refer&reason_code={reason}&note=payslips")
    };
    // A reason code the policy does not list is refused on a page saying so; nothing is recorded.
    let (status, _, refused) = scene.call(post(cookie.clone(), form(&csrf_of(&page), "hunch"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.contains("not one of the policy&#39;s reason codes")
            || refused.contains("not one of the policy's reason codes"),
        "{refused}"
    );
    let (status, headers, _) = scene.call(post(cookie.clone(), form(&csrf_of(&page), "affordability"))).await;
    assert_eq!(
        (status, headers.get(LOCATION).and_then(|l| l.to_str().ok())),
        (StatusCode::SEE_OTHER, Some(path.as_str()))
    );
    let (_, page) = scene.page(&cookie, &path).await;
    let reviews = text_of(&page, "decision-v2");
    assert!(reviews.contains("token:ravi") && reviews.contains(&format!("{made} → refer")), "{reviews}");
    assert!(reviews.contains("affordability") && reviews.contains("payslips"), "{reviews}");
    // A validator reads it and is told who reviews decisions; no form.
    let cookie = scene.log_in("vera").await;
    let (_, page) = scene.page(&cookie, &path).await;
    assert!(!page.contains(r#"class="review""#), "{page}");
    assert!(page.contains("Decisions are reviewed by the reviewer and admin roles."), "{page}");
}

#[tokio::test]
async fn a_suspended_model_carries_a_banner_saying_who_why_and_what_answers() {
    let scene = Scene::governed().await;
    let cookie = scene.log_in("victor").await;
    let (_, page) = scene.page(&cookie, "/ui/models/credit").await;
    assert!(!page.contains("suspended-banner"), "not suspended yet");
    let body = json!({"reason": "complaints about refusals", "fallback": "refer"});
    let (status, state) =
        scene.app.json(Method::POST, "/v1/models/credit/suspend", Some(scene.token("rita")), body).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    let (_, page) = scene.page(&cookie, "/ui/models/credit").await;
    let banner = text_of(&page, "suspended-banner");
    assert!(banner.contains("by token:rita") && banner.contains("complaints about refusals"), "{banner}");
    assert!(banner.contains("fallback (refer)"), "{banner}");
}

#[tokio::test]
async fn a_classified_incident_shows_the_reports_it_owes_with_the_time_left() {
    let scene = Scene::governed().await;
    let (_, incidents) = scene.app.json(Method::GET, "/v1/incidents", Some(&scene.app.admin), Value::Null).await;
    let id = incidents[0]["id"].as_i64().expect("the scene's drift opened an incident");
    let now = scene.app.warden.now();
    let body = json!({"framework": "dora", "classified_at": crate::wire::timestamp(now - 3_600_000_000),
                      "aware_at": crate::wire::timestamp(now - 7_200_000_000)});
    let uri = format!("/v1/incidents/{id}/classify");
    let (status, clocks) = scene.app.json(Method::POST, &uri, Some(scene.token("rita")), body).await;
    assert_eq!(status, StatusCode::OK, "{clocks}");
    let cookie = scene.log_in("dana").await;
    let (_, page) = scene.page(&cookie, "/ui/alerts").await;
    let table = text_of(&page, &format!("clocks-{id}"));
    assert!(table.contains("dora initial") && table.contains("running"), "{table}");
    assert!(table.contains("dora final") && table.contains("4 h after classification"), "{table}");
    // Each DORA report's content opens as a page to print: filled fields with their source, the firm's marked.
    let link = format!("/ui/incidents/{id}/dora-report?kind=intermediate");
    assert!(page.contains(&link.replace('&', "&amp;")), "the clocks table links the report's fields");
    let (status, report) = scene.page(&cookie, &link).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let row = text_of(&report, "dora-date_and_time_of_classification");
    assert!(row.contains(&crate::wire::timestamp(now - 3_600_000_000)) && row.contains("classification"), "{row}");
    let row = text_of(&report, "dora-number_of_affected_transactions");
    assert!(row.contains("decision_log") && !row.contains("to complete"), "{row}");
    assert!(text_of(&report, "dora-name_of_the_entity_submitting_the_report").contains("to complete"));
    assert!(report.contains(r#"class="to-complete""#) && !report.contains("Some("), "{report}");
    let (status, _) = scene.page(&scene.log_in("victor").await, &link).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer reads no incident");
    let (status, refused) = scene.page(&cookie, &format!("/ui/incidents/{id}/dora-report?kind=report")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
}

/// A multiclass classifier's monitoring page shows the classes it decided in the latest window.
#[tokio::test]
async fn the_monitoring_page_shows_a_multiclass_models_decided_classes() {
    let scene = Scene::empty().await;
    crate::multiclass_tests::card_model(&scene.app).await;
    let rows: Vec<usize> = (0..300).collect();
    crate::multiclass_tests::score_card(&scene.app, &rows, "page").await;
    let (status, _) = scene.app.json(Method::POST, "/v1/monitors/evaluate", Some(&scene.app.admin), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = scene.log_in("rita").await;
    let (status, page) = scene.page(&cookie, "/ui/models/card/monitoring").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let section = &page[page.find(r#"id="decided-classes""#).expect("the decided classes")..];
    for class in ["highstreet card", "prepaid card", "upmarket card"] {
        assert!(section.contains(class), "{class} missing from {section}");
    }
}
