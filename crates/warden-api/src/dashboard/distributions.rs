//! How each feature shifted: the reference and current distributions behind a feature-drift evaluation,
//! drawn as pairs of bars over the bins its PSI was computed on (the reference's deciles, missing values,
//! categories), so a reviewer sees where the values went and not only a PSI colour.

use maud::{Markup, html};
use warden_oversight::overview::MonitorPoint;
use warden_stats::distribution::{Bin, Distribution, WindowCounts, compare};
use warden_stats::profile::DatasetProfile;

use super::charts::{self, Values, number};

/// Categories drawn one by one; the rest are pooled in one more bar.
const MAX_CATEGORIES: usize = 12;

/// One feature of an evaluation, with its distributions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeatureShift {
    pub(crate) feature: String,
    /// The monitor's value for it (PSI or Jensen–Shannon).
    pub(crate) value: Option<f64>,
    pub(crate) status: String,
    pub(crate) distribution: Distribution,
}

/// The distributions of every feature a feature-drift evaluation kept window counts for, against the
/// evaluated version's reference profile; the most drifted first.
pub(crate) fn shifts(point: &MonitorPoint, profile: &DatasetProfile) -> Vec<FeatureShift> {
    let mut shifts: Vec<FeatureShift> = point.details["features"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(feature, key)| {
            let window: WindowCounts = serde_json::from_value(key["figures"]["window"].clone()).ok()?;
            let column = profile.columns.iter().find(|c| &c.name == feature)?;
            Some(FeatureShift {
                feature: feature.clone(),
                value: key["value"].as_f64(),
                status: key["status"].as_str().unwrap_or_default().to_owned(),
                distribution: compare(&column.summary, &window)?,
            })
        })
        .collect();
    shifts.sort_by(|a, b| {
        b.value
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.value.unwrap_or(f64::NEG_INFINITY))
            .then(a.feature.cmp(&b.feature))
    });
    shifts
}

/// A bin as people read it: `≤ 25`, `25–31`, `> 60`, `missing`, a category (`new: x` when the reference
/// never had it).
pub(crate) fn bin_label(bin: &Bin) -> String {
    match bin {
        Bin::Interval { above: None, up_to: Some(hi) } => format!("≤ {}", number(*hi)),
        Bin::Interval { above: Some(lo), up_to: Some(hi) } => format!("{}–{}", number(*lo), number(*hi)),
        Bin::Interval { above: Some(lo), up_to: None } => format!("> {}", number(*lo)),
        Bin::Interval { above: None, up_to: None } => "all values".into(),
        Bin::Category { name, unseen: false } => name.clone(),
        Bin::Category { name, unseen: true } => format!("new: {name}"),
        Bin::Missing => "missing".into(),
    }
}

/// The bars to draw: every bin of a numeric feature; the categories with the largest shares on either side
/// and the others pooled.
pub(crate) fn bars(d: &Distribution) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    let categorical = d.bins.iter().any(|b| matches!(b, Bin::Category { .. }));
    if !categorical || d.bins.len() <= MAX_CATEGORIES {
        return (d.bins.iter().map(bin_label).collect(), d.reference.clone(), d.current.clone());
    }
    let mut order: Vec<usize> = (0..d.bins.len()).collect();
    order.sort_by(|&a, &b| d.reference[b].max(d.current[b]).total_cmp(&d.reference[a].max(d.current[a])));
    let (kept, rest) = order.split_at(MAX_CATEGORIES - 1);
    let mut kept = kept.to_vec();
    kept.sort();
    let mut labels: Vec<String> = kept.iter().map(|&i| bin_label(&d.bins[i])).collect();
    let mut reference: Vec<f64> = kept.iter().map(|&i| d.reference[i]).collect();
    let mut current: Vec<f64> = kept.iter().map(|&i| d.current[i]).collect();
    labels.push(format!("{} others", rest.len()));
    reference.push(rest.iter().map(|&i| d.reference[i]).sum());
    current.push(rest.iter().map(|&i| d.current[i]).sum());
    (labels, reference, current)
}

/// A figure per feature: reference and current shares side by side.
pub(crate) fn figures(shifts: &[FeatureShift]) -> Markup {
    html! {
        div.grid #distributions {
            @for s in shifts {
                @let (labels, reference, current) = bars(&s.distribution);
                figure.distribution {
                    figcaption {
                        strong { (s.feature) } " · " (s.value.map_or("–".into(), number)) " · "
                        @match s.status.as_str() {
                            "alert" => span.bad { "alert" },
                            "warn" => span.warn { "warn" },
                            "ok" => span.ok { "ok" },
                            other => span.muted { (other) },
                        }
                        br;
                        small { (s.distribution.reference_count) " reference values, " (s.distribution.current_count) " in the window" }
                    }
                    (charts::grouped_bars(
                        &format!("{}: share of values per bin, reference against current window", s.feature),
                        &labels,
                        &[("reference", reference), ("current window", current)],
                        None,
                        Values::Share,
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;
    use warden_stats::profile::{CategoricalSummary, ColumnProfile, ColumnRole, ColumnSummary, summarise_numeric};
    use warden_stats::quantile::bin_index;

    use super::*;

    fn profile() -> DatasetProfile {
        let ages: Vec<f64> = (0..1000).map(|i| 19.0 + (i % 57) as f64).collect();
        let purposes: BTreeMap<String, u64> = (0..20).map(|i| (format!("purpose-{i:02}"), 10 + i as u64)).collect();
        DatasetProfile {
            rows: 1000,
            columns: vec![
                ColumnProfile {
                    name: "age".into(),
                    role: ColumnRole::Feature,
                    summary: ColumnSummary::Numeric(summarise_numeric(ages, 0)),
                },
                ColumnProfile {
                    name: "purpose".into(),
                    role: ColumnRole::Feature,
                    summary: ColumnSummary::Categorical(CategoricalSummary {
                        count: purposes.values().sum(),
                        missing: 0,
                        frequencies: purposes,
                    }),
                },
            ],
        }
    }

    fn point(profile: &DatasetProfile) -> MonitorPoint {
        let ColumnSummary::Numeric(age) = &profile.columns[0].summary else { unreachable!() };
        let mut bins = vec![0u64; age.decile_edges.len() + 1];
        for i in 0..300 {
            bins[bin_index(&age.decile_edges, 50.0 + (i % 25) as f64)] += 1;
        }
        let purposes: BTreeMap<String, u64> = (0..20).map(|i| (format!("purpose-{i:02}"), 5)).collect();
        let window = |w: WindowCounts| json!({"psi": 0.3, "window": w});
        MonitorPoint {
            monitor: "feature_drift".into(),
            at: 1,
            version: 2,
            status: "alert".into(),
            value: Some(1.2),
            details: json!({"features": {
                "age": {"value": 1.2, "status": "alert", "figures": window(WindowCounts::Numeric { bins, missing: 4 })},
                "purpose": {"value": 0.05, "status": "ok",
                    "figures": window(WindowCounts::Categorical { categories: purposes, missing: 0 })},
                "old_evaluation": {"value": 0.5, "status": "warn", "figures": {"psi": 0.5}},
            }}),
        }
    }

    #[test]
    fn each_feature_is_compared_with_its_reference_over_the_references_bins() {
        let profile = profile();
        let shifts = shifts(&point(&profile), &profile);
        assert_eq!(
            shifts.iter().map(|s| s.feature.as_str()).collect::<Vec<_>>(),
            ["age", "purpose"],
            "most drifted first; evaluations without counts are left out"
        );
        let ColumnSummary::Numeric(age) = &profile.columns[0].summary else { unreachable!() };
        let d = &shifts[0].distribution;
        assert_eq!(d.bins.len(), age.decile_edges.len() + 2, "the reference's bins and a missing bin");
        for shares in [&d.reference, &d.current] {
            assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let labels: Vec<String> = d.bins.iter().map(bin_label).collect();
        assert_eq!(labels[0], format!("≤ {}", number(age.decile_edges[0])));
        assert_eq!(labels.last().unwrap(), "missing");
        assert!(labels[1].contains('–'));
        assert!(d.current[0] == 0.0 && d.reference[0] > 0.05, "young applicants vanished from the window");
    }

    #[test]
    fn many_categories_keep_the_largest_and_pool_the_rest() {
        let profile = profile();
        let shifts = shifts(&point(&profile), &profile);
        let (labels, reference, current) = bars(&shifts[1].distribution);
        assert_eq!(labels.len(), MAX_CATEGORIES);
        assert_eq!(labels.last().unwrap(), "9 others");
        for shares in [&reference, &current] {
            assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12, "pooling loses nothing");
        }
    }

    #[test]
    fn the_figures_draw_both_distributions_per_feature() {
        let profile = profile();
        let html = figures(&shifts(&point(&profile), &profile)).into_string();
        assert_eq!(html.matches("<figure class=\"distribution\"").count(), 2);
        assert!(html.contains("class=\"legend\">reference<") && html.contains("class=\"legend\">current window<"));
        assert!(html.contains("1000 reference values, 304 in the window"), "{html}");
    }

    /// End to end: a drifted stream scored, a monitor round, and the monitoring page draws how age shifted
    /// beside the alert it raised.
    #[tokio::test]
    async fn the_monitoring_page_shows_how_the_evaluated_features_shifted() {
        use axum::http::{Method, StatusCode};
        use serde_json::Value;
        use warden_registry::auth::{Principal, Role};

        use super::super::Viewer;
        use super::super::pages::{MonitoringData, monitoring};

        let app = crate::tests::TestApp::new().await;
        app.create_model("credit").await;
        let metadata = json!({"format": "linear-json", "target": "risk", "protected": ["sex"]});
        let artifact = warden_testdata::read("models/lr_german_linear.json");
        let (status, body) = app.register("credit", metadata, &artifact, &crate::tests::german_csv()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let promote = json!({"alias": "champion", "override": true, "reason": "page test"});
        let uri = "/v1/models/credit/versions/1/promote";
        let (status, body) = app.json(Method::POST, uri, Some(&app.admin), promote).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let batch = Value::Array(crate::scoring_tests::older_applicants_batch());
        let (status, body) = app.json(Method::POST, "/v1/models/credit/score/batch", Some(&app.admin), batch).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app.json(Method::POST, "/v1/monitors/evaluate", Some(&app.admin), Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let rita = Principal::token("rita", Role::RiskOfficer);
        let data = MonitoringData::load(&app.warden, &rita, "credit", None).await.unwrap();
        let html = monitoring(&Viewer { principal: rita, csrf: "c".into() }, &data).into_string();
        assert!(html.contains("How features shifted"), "{html}");
        let age = html.split("<figure class=\"distribution\">").find(|f| f.contains("<strong>age</strong>")).unwrap();
        assert!(age.contains("<span class=\"bad\">alert</span>"), "{age}");
        // Only applicants over 40 were scored: the reference's younger deciles are empty in the window.
        assert!(age.contains("current window: 0.0%") && age.contains("reference: 10"), "{age}");
        assert!(html.contains("class=\"marker alert\""), "the drift alert is marked on its chart");
    }

    /// A champion and a shadow challenger evaluated in the same minutes: each monitor chart draws one line per
    /// version (the challenger's values never run into the champion's), and the heat map shows the champion's.
    #[tokio::test]
    async fn the_monitoring_page_keeps_each_versions_series_apart() {
        use axum::http::{Method, StatusCode};
        use warden_registry::auth::{Principal, Role};
        use warden_store::metadata::MonitorEvaluation;

        use super::super::Viewer;
        use super::super::pages::{MonitoringData, monitoring};

        let app = crate::tests::TestApp::new().await;
        app.create_model("credit").await;
        let metadata = json!({"format": "linear-json", "target": "risk", "protected": ["sex"]});
        let artifact = warden_testdata::read("models/lr_german_linear.json");
        for _ in 0..2 {
            let (status, body) = app.register("credit", metadata.clone(), &artifact, &crate::tests::german_csv()).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let promote = json!({"alias": "champion", "override": true, "reason": "page test"});
        let (status, body) =
            app.json(Method::POST, "/v1/models/credit/versions/1/promote", Some(&app.admin), promote).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let now = app.warden.now();
        let evaluation = |version: i64, minute: i64, value: f64| MonitorEvaluation {
            model_name: "credit".into(),
            monitor: "feature_drift".into(),
            at: now - (10 - minute) * 60_000_000,
            version,
            window_start: now - (11 - minute) * 60_000_000,
            decisions: 500,
            status: "ok".into(),
            value: Some(value),
            details: json!({"features": {"age": {"value": value, "status": "ok"}}}),
        };
        // Both versions every minute; the challenger (2) is evaluated last in each minute.
        let rows: Vec<MonitorEvaluation> =
            (0..10).flat_map(|m| [evaluation(1, m, 0.02), evaluation(2, m, 0.4)]).collect();
        app.warden.metadata.insert_monitor_evaluations(&rows, &[]).await.unwrap();

        let rita = || Principal::token("rita", Role::RiskOfficer);
        let data = MonitoringData::load(&app.warden, &rita(), "credit", None).await.unwrap();
        let html = monitoring(&Viewer { principal: rita(), csrf: "c".into() }, &data).into_string();
        let chart = html.split("<figure").find(|f| f.contains("feature_drift over time")).expect("the drift chart");
        assert!(
            chart.contains(">version 1<") && chart.contains(">version 2<"),
            "a line and a legend entry per version: {chart}"
        );
        // The champion's map, although the challenger was evaluated last.
        assert!(html.contains("Feature drift of version 1 by feature over time"), "the heat map names its version");
        let series =
            warden_oversight::overview::monitor_series_since(&app.warden, &rita(), "credit", now - 3_600_000_000, 360)
                .await
                .unwrap();
        let champion_points = series.iter().filter(|p| p.monitor == "feature_drift" && p.version == 1).count();
        assert_eq!(champion_points, 10, "the champion's evaluations are all kept beside the challenger's");
    }
}
