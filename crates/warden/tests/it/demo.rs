//! `warden serve --demo` end to end: the portfolio it builds, a stable phase that raises no alert although
//! every monitor is judging traffic, and a drift that fires on the drifting model only.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::Server;

/// The demo's timeline (`crates/warden/src/demo.rs`): drifted loan applications arrive from 75 s.
const DRIFT_STARTS: Duration = Duration::from_secs(75);
const PORTFOLIO: [&str; 4] = ["credit-approval", "card-fraud", "collections-priority", "card-limit-review"];

fn alerts(server: &Server) -> Vec<Value> {
    server.get_json("/v1/alerts").as_array().unwrap().clone()
}

fn describe(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| {
            format!(
                "{} {} {} v{} {} {}",
                a["model"], a["monitor"], a["feature"], a["version"], a["severity"], a["value"]
            )
        })
        .collect()
}

/// How many evaluations of `monitor` on `model` judged a full window (ok, warn or alert).
fn judged(server: &Server, model: &str, monitor: &str) -> usize {
    let history = server.get_json(&format!("/v1/models/{model}/monitors/history?monitor={monitor}&limit=10000"));
    history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| ["ok", "warn", "alert"].contains(&e["status"].as_str().unwrap()))
        .count()
}

fn champion(server: &Server, model: &str) -> Option<Value> {
    let aliases = server.get_json(&format!("/v1/models/{model}/aliases"));
    aliases.as_array().unwrap().iter().find(|a| a["alias"] == "champion").cloned()
}

mod slow {
    use super::*;

    #[test]
    fn the_demo_shows_a_portfolio_stays_quiet_while_stable_and_alerts_on_the_drift() {
        let _timing = crate::support::timing_sensitive();
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let server = Server::start_with(&dir.path().join("demo"), &["--demo"]);
        let deadline = started + Duration::from_secs(60);
        while !server.data_dir.join("demo-tokens.txt").exists() {
            assert!(Instant::now() < deadline, "the demo did not set up its portfolio within a minute");
            std::thread::sleep(Duration::from_millis(200));
        }
        let setup = started.elapsed();
        assert!(setup < Duration::from_secs(30), "the portfolio took {setup:?}");

        // Four models of three tiers, in four states.
        let inventory = server.get_json("/v1/models");
        let names: Vec<&str> = inventory.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
        for model in PORTFOLIO {
            assert!(names.contains(&model), "{model} missing from {names:?}");
        }
        let tiers: std::collections::BTreeSet<&str> =
            inventory.as_array().unwrap().iter().map(|m| m["risk_tier"].as_str().unwrap()).collect();
        assert_eq!(tiers.len(), 3, "{inventory}");
        let fraud = inventory.as_array().unwrap().iter().find(|m| m["name"] == "card-fraud").unwrap();
        assert!(fraud["description"].as_str().unwrap().contains("SYNTHETIC"), "{fraud}");
        assert_eq!(champion(&server, "card-fraud").unwrap()["overridden"], false);
        let collections = champion(&server, "collections-priority").unwrap();
        assert_eq!(collections["overridden"], true, "{collections}");
        assert!(!collections["reason"].as_str().unwrap().is_empty());
        assert!(champion(&server, "card-limit-review").is_none(), "awaiting approval, not deployed");
        assert_eq!(server.get_json("/v1/models/card-limit-review/versions/1/approvals"), serde_json::json!([]));
        // Every version is validated on data held out from its training data.
        for model in PORTFOLIO {
            let reports = server.get_json(&format!("/v1/models/{model}/versions/1/validations"));
            let report = reports.as_array().unwrap().last().unwrap_or_else(|| panic!("{model} is not validated"));
            assert_eq!(report["warnings"], serde_json::json!([]), "{model} validated in-sample: {report}");
        }
        // The German models read `age`: registration said so, and the version keeps it.
        let version = server.get_json("/v1/models/credit-approval/versions/1");
        assert!(version["input_warnings"].as_array().unwrap().iter().any(|w| w["column"] == "age"), "{version}");

        // The stable phase: every monitor of the deployed models judges full windows, and none alerts.
        std::thread::sleep((started + DRIFT_STARTS - Duration::from_secs(2)).saturating_duration_since(Instant::now()));
        let stable = alerts(&server);
        assert!(stable.is_empty(), "alerts in the stable phase: {:#?}", describe(&stable));
        for (model, monitor, at_least) in [
            ("credit-approval", "feature_drift", 5),
            ("credit-approval", "score_drift", 5),
            ("credit-approval", "data_quality", 5),
            ("credit-approval", "fairness_sex", 3),
            ("credit-approval", "performance", 5),
            ("card-fraud", "feature_drift", 5),
            ("card-fraud", "score_drift", 5),
            ("card-fraud", "money_at_risk", 1),
            ("collections-priority", "feature_drift", 3),
            ("collections-priority", "performance", 1),
        ] {
            let n = judged(&server, model, monitor);
            assert!(n >= at_least, "{model}'s {monitor} judged {n} windows before the drift, expected {at_least}");
        }

        // The drift: the drifting model's feature drift fires and rolls its champion back; nothing else alerts.
        let deadline = started + DRIFT_STARTS + Duration::from_secs(90);
        loop {
            let fired = alerts(&server);
            let drift = fired.iter().any(|a| {
                a["model"] == "credit-approval" && a["monitor"] == "feature_drift" && a["severity"] == "critical"
            });
            let rolled_back = champion(&server, "credit-approval").is_some_and(|c| c["assigned_by"] == "warden");
            if drift && rolled_back {
                let elsewhere: Vec<Value> = fired.into_iter().filter(|a| a["model"] != "credit-approval").collect();
                assert!(elsewhere.is_empty(), "alerts on models that do not drift: {:#?}", describe(&elsewhere));
                break;
            }
            assert!(Instant::now() < deadline, "no drift alert and rollback: {:#?}", describe(&fired));
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}
