//! The dashboard in a real browser (headless Chromium through ChromeDriver). On the live demo that the
//! README's first command starts: log in, every page renders with data, an alert acknowledged from the page,
//! and a viewer refused what their role may not do. On a governed model (an override, a rollback, an
//! incident): every page as every role, at desktop width and on a 420-pixel phone, and printed. Screenshots
//! of each page are kept in `target/screenshots/` (`demo/`, and `roles/<role>/`) as CI artefacts.
//!
//! Chromium and ChromeDriver come from Debian; `scripts/install-browser.sh` installs them when they are
//! missing (it needs root or sudo, as the test suite's machines have).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::{self, Server};

pub(crate) struct Driver(Child);

impl Driver {
    /// ChromeDriver on a free port of 127.0.0.1; stopped when dropped.
    pub(crate) fn start(path: &std::path::Path) -> (Driver, u16) {
        let port = free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        (Driver(child), port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn chromedriver() -> PathBuf {
    // Tests asking at once wait for one install (a second apt-get beside it failed on the package lock, and
    // the driver appears on disk before the browser is configured).
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = PathBuf::from("/usr/bin/chromedriver");
    if !path.exists() || !Path::new("/usr/bin/chromium").exists() || !Path::new("/usr/bin/pdftotext").exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-browser.sh");
        let status = Command::new("bash").arg(&script).status().expect("the browser install script runs");
        assert!(status.success(), "{} failed: the dashboard tests need Chromium and ChromeDriver", script.display());
    }
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) async fn browser(port: u16) -> Client {
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1100"],
        }
    });
    let capabilities = capabilities.as_object().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return client,
            Err(err) if Instant::now() < deadline => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("cannot start a Chromium session through ChromeDriver: {err}"),
        }
    }
}

/// `target/screenshots/<under>`, kept by CI as artefacts (`.ci/run` says where).
fn screenshots(under: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("the target directory");
    let dir = target.join("screenshots").join(under);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(screenshots("demo").join(format!("{name}.png")), png).unwrap();
}

pub(crate) async fn text(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}")).text().await.unwrap()
}

async fn count(client: &Client, css: &str) -> usize {
    client.find_all(Locator::Css(css)).await.unwrap().len()
}

async fn log_in(client: &Client, url: &str, token: &str) {
    client.goto(&format!("{url}/ui")).await.unwrap();
    assert!(
        client.current_url().await.unwrap().path().starts_with("/ui/login"),
        "not logged in: sent to the login page"
    );
    client.find(Locator::Id("token")).await.unwrap().send_keys(token).await.unwrap();
    client.find(Locator::Id("login")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Id("inventory")).await.unwrap();
}

async fn log_out(client: &Client) {
    client.find(Locator::Css("header form.who button")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Id("token")).await.unwrap();
}

/// GET with the admin token, from inside the test's runtime.
async fn api(server: &Server, path: &str) -> serde_json::Value {
    let response = support::http_client()
        .get(format!("{}{path}", server.url))
        .bearer_auth(server.admin_token())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "GET {path}: {}", response.status());
    response.json().await.unwrap()
}

fn demo_token(server: &Server, name: &str) -> String {
    let listing = std::fs::read_to_string(server.data_dir.join("demo-tokens.txt")).unwrap();
    let line = listing.lines().find(|l| l.split_whitespace().next() == Some(name)).expect("demo person");
    line.split_whitespace().nth(2).unwrap().to_owned()
}

/// Waits (up to three minutes) until the demo's drift (from 75 s) has rolled the champion back.
fn wait_for_rollback(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if server.data_dir.join("demo-tokens.txt").exists() {
            let champion = server.get_json("/v1/models/credit-approval/aliases");
            let rolled = champion
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["alias"] == "champion" && a["assigned_by"] == "warden");
            if rolled {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the demo's champion was not rolled back in time");
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Waits until an alert fires on the demo's credit model after the rollback: the version rolled back from no
/// longer serves, so its alerts resolve; the drifted traffic then raises the restored champion's own.
fn wait_for_firing_alert(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let aliases = server.get_json("/v1/models/credit-approval/aliases");
        let champion =
            aliases.as_array().into_iter().flatten().find(|a| a["alias"] == "champion").map(|a| a["version"].clone());
        let alerts = server.get_json("/v1/alerts?state=open");
        let firing = alerts.as_array().into_iter().flatten().any(|a| {
            a["model"] == "credit-approval" && a["state"] == "firing" && Some(&a["version"]) == champion.as_ref()
        });
        if firing {
            return;
        }
        assert!(Instant::now() < deadline, "no alert fired on the restored champion: {alerts}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Logs in with a token whatever the role (a role without an inventory lands on a refusal page).
async fn log_in_as(client: &Client, url: &str, token: &str) {
    client.goto(&format!("{url}/ui/login")).await.unwrap();
    client.find(Locator::Id("token")).await.unwrap().send_keys(token).await.unwrap();
    client.find(Locator::Id("login")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css("header.top form.who")).await.unwrap();
}

async fn script(client: &Client, code: &str) -> serde_json::Value {
    client.execute(code, vec![]).await.unwrap_or_else(|e| panic!("{code}: {e}"))
}

/// A screenshot of the whole page (the window made as tall as the page) at `width` CSS pixels, into `path`.
async fn full_page(client: &Client, width: u32, path: &Path) {
    client.set_window_size(width, 900).await.unwrap();
    // The window's height takes in the browser's own frame: add it to the page's.
    let height =
        script(client, "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight")
            .await
            .as_u64()
            .unwrap();
    client.set_window_size(width, (height as u32).clamp(600, 12_000)).await.unwrap();
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{}: not a PNG", path.display());
    std::fs::write(path, png).unwrap();
}

/// The print style sheet applied on screen (the `@media print` rules as plain rules), so that the page can
/// be checked and photographed as it prints; how many rules it has.
const AS_PRINTED: &str = "const rules = [];
    for (const sheet of document.styleSheets) for (const rule of sheet.cssRules)
        if (rule.media && rule.media.mediaText === 'print') for (const inner of rule.cssRules) rules.push(inner.cssText);
    const style = document.createElement('style');
    style.textContent = rules.join('\\n');
    document.head.appendChild(style);
    return rules.length;";

/// Whether nothing of the page is wider than the window (tables scroll inside their own box).
const FITS: &str = "return document.documentElement.scrollWidth <= document.documentElement.clientWidth";

/// What a printed page must not show: navigation, buttons and forms; and its text is black on white.
const PRINTS_CLEANLY: &str = "const hidden = [...document.querySelectorAll('header, nav, form, button, a.button')]
        .every(e => e.offsetParent === null);
    const body = getComputedStyle(document.body);
    const text = [...document.querySelectorAll('main *')].every(e => getComputedStyle(e).color === 'rgb(0, 0, 0)');
    return hidden && body.backgroundColor === 'rgb(255, 255, 255)' && text;";

/// A governed model: version 1 through validation, approvals and the gate; version 2 by an administrator's
/// override; a drift on version 2 that opens an incident and rolls the champion back to version 1. A second,
/// high-risk model awaits validation. Returns the people's tokens by name.
fn governed_scene(server: &Server, dir: &Path) -> Vec<(&'static str, &'static str, String)> {
    let ok =
        |out: std::process::Output| assert!(out.status.success(), "{}{}", support::stdout(&out), support::stderr(&out));
    ok(server.cli(&["model", "create", "credit", "--owner", "retail-risk", "--risk-tier", "medium"]));
    let mut people = vec![("admin", "admin", server.admin_token())];
    for (name, role) in [
        ("victor", "viewer"),
        ("dana", "data-scientist"),
        ("vera", "validator"),
        ("rita", "risk-officer"),
        ("sam", "scorer"),
    ] {
        let out = server.cli(&["token", "create", "--name", name, "--role", role]);
        people.push((name, role, support::stdout(&out).trim().to_owned()));
        ok(out);
    }
    let token = |name: &str| people.iter().find(|p| p.0 == name).unwrap().2.clone();
    let german = warden_testdata::path("datasets/german.csv");
    let german = german.to_str().unwrap();
    let artifact = warden_testdata::path("models/lr_german_linear.json");
    let lineage = ["--protected", "sex", "--code-ref", "git:4e1a2b", "--training-data", german];
    support::register_german(server, Some(&token("dana")), &artifact, "linear-json", &lineage);
    ok(server.cli_as(
        Some(&token("vera")),
        &["validate", "credit", "1", "--data", german, "--target", "risk", "--bad-value", "0"],
    ));
    for (who, comment) in [("vera", "validation passed"), ("rita", "within appetite")] {
        ok(server.cli_as(Some(&token(who)), &["approve", "credit", "1", "--comment", comment]));
    }
    ok(server.cli_as(Some(&token("dana")), &["promote", "credit", "1", "--reason", "release 2026.11"]));
    support::register_german(server, Some(&token("dana")), &artifact, "linear-json", &lineage);
    ok(server.cli(&["promote", "credit", "2", "--override", "--reason", "hotfix for INC-7, validation to follow"]));
    ok(server.cli(&["monitor", "set", "credit", "feature_drift", "--min-decisions", "100", "--action", "rollback"]));
    ok(server.cli(&["model", "create", "card-fraud", "--owner", "fraud-ops", "--risk-tier", "high"]));
    let artifact_arg = artifact.to_str().unwrap();
    ok(server.cli_as(
        Some(&token("dana")),
        &[
            "model",
            "register",
            "card-fraud",
            "--artifact",
            artifact_arg,
            "--format",
            "linear-json",
            "--reference",
            german,
            "--target",
            "risk",
        ],
    ));
    // Older applicants only: the age drift fires a critical alert, an incident, and the rollback.
    let text = std::fs::read_to_string(german).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let age = header.split(',').position(|c| c == "age").unwrap();
    let older: Vec<&str> = lines.filter(|l| l.split(',').nth(age).unwrap().parse::<f64>().unwrap() > 40.0).collect();
    let input = dir.join("older.csv");
    std::fs::write(&input, format!("{header}\n{}\n", older.join("\n"))).unwrap();
    let output = dir.join("scored.csv");
    ok(server.cli(&["score", "credit", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let evaluated = runtime.block_on(
        support::http_client()
            .post(format!("{}/v1/monitors/evaluate", server.url))
            .bearer_auth(server.admin_token())
            .send(),
    );
    assert!(evaluated.unwrap().status().is_success());
    let champion = server.get_json("/v1/models/credit/aliases/champion");
    assert_eq!(
        (champion["version"].as_i64(), champion["assigned_by"].as_str()),
        (Some(1), Some("warden")),
        "{champion}"
    );
    people
}

/// The pages walked, with a file name each and the roles refused each.
const PAGES: [(&str, &str, &[&str]); 9] = [
    ("1-inventory", "/ui", &["scorer"]),
    ("9-findings", "/ui/findings", &["scorer"]),
    ("2-model", "/ui/models/credit", &["scorer"]),
    ("3-model-override", "/ui/models/credit?version=2", &["scorer"]),
    ("4-monitoring", "/ui/models/credit/monitoring", &["viewer", "scorer"]),
    ("5-alerts", "/ui/alerts", &["viewer", "scorer"]),
    ("6-audit", "/ui/audit", &["viewer", "data-scientist", "scorer"]),
    ("7-kpis", "/ui/kpis?days=30", &["scorer"]),
    ("8-summary", "/ui/summary?days=30", &["scorer"]),
];

/// The navigation each role must see (and no more).
fn sections(role: &str) -> &'static [&'static str] {
    match role {
        "viewer" => &["Inventory", "Findings", "Board KPIs"],
        "data-scientist" => &["Inventory", "Findings", "Alerts & incidents", "Board KPIs"],
        "scorer" => &[],
        _ => &["Inventory", "Findings", "Alerts & incidents", "Audit", "Board KPIs"],
    }
}

/// Drives a real browser (Chromium and ChromeDriver, installed on first use) through the live demo.
mod slow {
    use super::*;

    #[test]
    fn the_dashboard_shows_the_live_demo_and_enforces_roles() {
        let _timing = crate::support::timing_sensitive();
        let driver_path = chromedriver();
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_with(&dir.path().join("demo"), &["--demo"]);
        let (driver, port) = Driver::start(&driver_path);
        wait_for_rollback(&server);
        // The CLI reads the same inventory and KPIs as the pages.
        let inventory = support::stdout(&server.cli(&["inventory"]));
        assert!(inventory.contains("credit-approval") && inventory.contains("medium"), "{inventory}");
        let kpis = support::stdout(&server.cli(&["kpis", "--days", "1"]));
        assert!(
            kpis.contains("audit coverage") && kpis.contains("100.0%") && kpis.contains("1 automatic rollback)"),
            "{kpis}"
        );
        // The demo's logged decisions and outcomes retrain a candidate from the command line.
        let dana = demo_token(&server, "dana");
        let out = server.cli_as(Some(&dana), &["retrain", "credit-approval"]);
        let printed = support::stdout(&out);
        assert!(out.status.success(), "{printed}{}", support::stderr(&out));
        assert!(
            printed.contains("labelled decisions") && printed.contains("registered version 3 (parent 1)"),
            "{printed}"
        );
        let jobs = support::stdout(&server.cli_as(Some(&dana), &["retrain", "credit-approval", "--list"]));
        assert!(jobs.contains("builtin-lr") && jobs.contains("token:dana"), "{jobs}");
        wait_for_firing_alert(&server);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let client = browser(port).await;
            let url = server.url.clone();

            // A risk officer: reads everything, may acknowledge alerts.
            log_in(&client, &url, &demo_token(&server, "rita")).await;
            assert_eq!(text(&client, "#whoami").await, "rita (Warden token) · risk-officer");
            assert!(text(&client, "#inventory").await.contains("credit-approval"));
            assert_eq!(count(&client, "#inventory tbody tr").await, 4, "the demo's portfolio");
            shot(&client, "1-inventory").await;

            client.goto(&format!("{url}/ui/models/credit-approval")).await.unwrap();
            assert_eq!(count(&client, "#versions tbody tr").await, 3, "the two demo versions and the retrained candidate");
            assert!(text(&client, "#versions").await.contains("git:demo/credit-models@v1"));
            assert!(text(&client, "#validation-figures").await.contains("ROC AUC"));
            assert!(text(&client, "#multivariate").await.contains("reconstruction error (reference"));
            assert!(text(&client, "#explanation-shift").await.contains("mean |contribution|"));
            assert!(count(&client, "svg.chart").await >= 5, "timeline, ROC, reliability, scores, fairness");
            assert_eq!(count(&client, "#approvals tbody tr").await, 2, "validator and risk officer");
            assert!(text(&client, "#gate").await.contains("allow"));
            shot(&client, "2-model").await;
            // The model documentation, from the page's button: written from the ledger, every figure cited.
            client.find(Locator::Id("model-docs")).await.unwrap().click().await.unwrap();
            client.wait().for_element(Locator::Css("h2#monitoring")).await.unwrap();
            assert!(text(&client, "h1").await.starts_with("Model documentation: credit-approval"));
            assert!(count(&client, "data.figure").await > 30, "figures with their citations");
            assert!(text(&client, "#performance + p").await.contains("Validated by"));
            // The monitoring report of the last 30 days, from the model page's other button.
            client.back().await.unwrap();
            client.find(Locator::Id("monitoring-report")).await.unwrap().click().await.unwrap();
            client.wait().for_element(Locator::Css("h2#plan")).await.unwrap();
            assert!(text(&client, "h1").await.starts_with("Ongoing monitoring report: credit-approval"));
            assert!(text(&client, "h2#rollbacks + table").await.contains("model.rollback"), "the rollback is listed");
            assert!(count(&client, "data.figure").await > 10, "alerts, rollback and plan cited");

            client.goto(&format!("{url}/ui/models/credit-approval/monitoring")).await.unwrap();
            assert!(count(&client, "svg.heat rect").await > 8, "a drift heat map with cells");
            assert!(count(&client, "#monitor-charts figure").await >= 5);
            assert!(count(&client, "svg .marker").await >= 1, "alert markers on the charts");
            shot(&client, "3-monitoring").await;

            client.goto(&format!("{url}/ui/alerts")).await.unwrap();
            shot(&client, "4-alerts").await;
            let page = text(&client, "main").await;
            assert!(page.contains("rolled back: champion from version 2 to version 1"), "{page}");
            assert!(count(&client, "section.incident").await >= 1, "the drift opened an incident");
            // Acknowledge a firing alert from the page.
            let ack = client.find(Locator::Css("#open-alerts button.ack")).await.expect("a firing alert to acknowledge");
            let row = ack.find(Locator::XPath("./ancestor::tr")).await.unwrap();
            let id = row.attr("id").await.unwrap().unwrap().trim_start_matches("alert-").to_owned();
            ack.click().await.unwrap();
            client.wait().for_element(Locator::Css("#open-alerts, #no-open-alerts")).await.unwrap();
            // The old page has those elements too: wait for the form's POST to land before reading the alert.
            let started = std::time::Instant::now();
            let mut alert = api(&server, &format!("/v1/alerts/{id}")).await;
            while alert["state"] == "firing" && started.elapsed() < std::time::Duration::from_secs(10) {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                alert = api(&server, &format!("/v1/alerts/{id}")).await;
            }
            assert!(
                alert["state"] == "acknowledged" || alert["state"] == "resolved",
                "acknowledged from the page: {alert}"
            );
            let events = alert["events"].as_array().unwrap();
            assert!(events.iter().any(|e| e["kind"] == "acknowledged" && e["actor"] == "token:rita"), "{alert}");

            client.goto(&format!("{url}/ui/audit")).await.unwrap();
            assert!(text(&client, "#ledger-size").await.parse::<u64>().unwrap() > 10);
            assert!(count(&client, "#ledger tbody tr").await >= 10);
            client.find(Locator::Id("verify")).await.unwrap().click().await.unwrap();
            client.wait().for_element(Locator::Id("verification")).await.unwrap();
            assert!(text(&client, "#verification").await.contains("verified"), "the ledger verifies");
            assert!(text(&client, "#checkpoint").await.contains("warden"), "the signed checkpoint is shown");
            shot(&client, "5-audit").await;

            client.goto(&format!("{url}/ui/kpis")).await.unwrap();
            assert_eq!(text(&client, "#audit-coverage").await, "100.0%");
            assert!(text(&client, "#kpis").await.contains("automatic rollback"));
            shot(&client, "6-kpis").await;
            client.find(Locator::Id("printable")).await.unwrap().click().await.unwrap();
            client.wait().for_element(Locator::Css("body.print")).await.unwrap();
            shot(&client, "7-summary").await;

            // A form without this session's cross-site token is refused.
            let status = client
                .execute(
                    "return fetch('/ui/audit/verify', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf=forged'}).then(r => r.status)",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(status, json!(403));
            client.goto(&format!("{url}/ui")).await.unwrap();
            log_out(&client).await;

            // A viewer: reads the inventory, is refused alerts and their actions.
            log_in(&client, &url, &demo_token(&server, "victor")).await;
            assert_eq!(text(&client, "#whoami").await, "victor (Warden token) · viewer");
            client.goto(&format!("{url}/ui/alerts")).await.unwrap();
            assert!(text(&client, "#error").await.contains("viewer"), "the page says why");
            shot(&client, "8-viewer-refused").await;
            client.goto(&format!("{url}/ui")).await.unwrap();
            let firing = api(&server, "/v1/alerts?state=firing").await;
            let firing_id = firing.as_array().unwrap().first().map(|a| a["id"].as_i64().unwrap());
            let target = firing_id.unwrap_or(1);
            let script = format!(
                "return fetch('/ui/alerts/{target}/acknowledge', {{method: 'POST', headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, body: 'csrf=' + document.querySelector('input[name=csrf]').value}}).then(r => r.status)"
            );
            assert_eq!(client.execute(&script, vec![]).await.unwrap(), json!(403), "a viewer may not acknowledge");
            if firing_id.is_some() {
                assert_ne!(api(&server, &format!("/v1/alerts/{target}")).await["acknowledged_by"], "victor");
            }
            log_out(&client).await;
            // After logging out the session is gone: pages send to the login form again.
            client.goto(&format!("{url}/ui/kpis")).await.unwrap();
            assert!(client.current_url().await.unwrap().path().starts_with("/ui/login"));
            client.close().await.unwrap();
        });
        drop(driver);
    }

    #[test]
    fn every_page_reads_well_for_every_role_on_a_desktop_and_a_phone_and_in_print() {
        let driver_path = chromedriver();
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(&dir.path().join("data"));
        let people = governed_scene(&server, dir.path());
        let (driver, port) = Driver::start(&driver_path);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let client = browser(port).await;
            let url = server.url.clone();
            for (name, role, token) in &people {
                let dir = screenshots(&format!("roles/{role}"));
                log_in_as(&client, &url, token).await;
                for (file, path, refused) in PAGES {
                    client.set_window_size(1400, 900).await.unwrap();
                    client.goto(&format!("{url}{path}")).await.unwrap();
                    let is_refused = count(&client, "#error").await == 1;
                    assert_eq!(is_refused, refused.contains(role), "{role} on {path}");
                    if is_refused {
                        assert!(text(&client, "#error").await.contains(role), "{role} on {path}: the page says why");
                    }
                    if path.starts_with("/ui/summary") && !is_refused {
                        assert_eq!(count(&client, "header.top").await, 0, "the summary is a printable page");
                        assert!(text(&client, "#period").await.contains("the last 30 days"));
                    } else {
                        let mut shown = Vec::new();
                        for link in client.find_all(Locator::Css("header.top nav a")).await.unwrap() {
                            shown.push(link.text().await.unwrap());
                        }
                        assert_eq!(shown, sections(role), "{role} on {path}: the navigation");
                        assert_eq!(
                            text(&client, "#whoami").await,
                            format!("{name} (Warden token) · {role}"),
                            "{role} on {path}"
                        );
                        assert_eq!(count(&client, "header.top form.who button").await, 1, "{role} on {path}: log out");
                    }
                    let source = client.source().await.unwrap();
                    assert!(!source.contains("Some(") && !source.contains("None"), "{role} on {path}: a debug value");
                    full_page(&client, 1400, &dir.join(format!("{file}-desktop.png"))).await;
                    full_page(&client, 420, &dir.join(format!("{file}-420px.png"))).await;
                    assert_eq!(
                        script(&client, FITS).await,
                        json!(true),
                        "{role} on {path}: wider than a 420 px screen"
                    );
                    if !is_refused && (path.starts_with("/ui/summary") || path.starts_with("/ui/kpis")) {
                        client.set_window_size(900, 900).await.unwrap();
                        assert!(script(&client, AS_PRINTED).await.as_u64().unwrap() > 3, "the print style sheet");
                        assert_eq!(script(&client, PRINTS_CLEANLY).await, json!(true), "{role} on {path}: printed");
                        full_page(&client, 800, &dir.join(format!("{file}-print.png"))).await;
                    }
                }
                // What each role sees of governance on the pages it may open.
                if *role != "scorer" {
                    client.goto(&format!("{url}/ui/models/credit?version=2")).await.unwrap();
                    let banner = text(&client, "#override-banner").await;
                    assert!(
                        banner.contains("token:admin")
                            && banner.contains("hotfix for INC-7")
                            && banner.contains("dec_"),
                        "{banner}"
                    );
                    client.goto(&format!("{url}/ui/kpis?days=30")).await.unwrap();
                    assert!(text(&client, "#period-rollbacks").await.contains("v2 → v1"));
                    assert!(text(&client, "#period-overrides").await.contains("hotfix for INC-7"));
                    let link = client.find(Locator::Css("#period-overrides a")).await.unwrap();
                    assert_eq!(link.attr("href").await.unwrap().as_deref(), Some("/ui/models/credit?version=2"));
                }
                client.set_window_size(1400, 900).await.unwrap();
                client.goto(&format!("{url}/ui/kpis")).await.unwrap();
                log_out(&client).await;
            }
            client.close().await.unwrap();
        });
        drop(driver);
    }
}
