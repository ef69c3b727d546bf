//! Local reports on data files: `warden drift` and `warden metrics`.

use anyhow::bail;
use serde_json::{Map, Value, json};
use warden_core::words::counted;
use warden_registry::compare::{DriftOptions, drift_report, read_features, reconstruction_report};
use warden_stats::profile::ColumnType;
use warden_stats::report::{DriftBands, FeatureDrift, FeatureReport, Verdict};

use crate::cli::{DriftArgs, FailOn, MetricsArgs};
use crate::render::{self, format_number, table};

fn statistics_json(feature: &FeatureReport) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "type".into(),
        json!(if matches!(feature.drift, FeatureDrift::Numeric(_)) { "numeric" } else { "categorical" }),
    );
    map.insert("verdict".into(), serde_json::to_value(feature.verdict).expect("verdict serialises"));
    for (name, value) in feature.statistics() {
        map.insert(name.into(), value.map_or(Value::Null, |v| json!(v)));
    }
    if let FeatureDrift::Numeric(d) = &feature.drift {
        map.insert("ks_method".into(), json!(d.ks.map(|k| k.method)));
        map.insert(
            "bins".into(),
            json!({ "edges": d.edges, "reference_counts": d.ref_counts, "current_counts": d.cur_counts }),
        );
    } else if let FeatureDrift::Categorical(d) = &feature.drift {
        map.insert("unseen_categories".into(), json!(d.unseen_categories));
        map.insert(
            "categories".into(),
            json!({ "names": d.categories, "reference_counts": d.ref_counts, "current_counts": d.cur_counts }),
        );
    }
    map.insert("quality".into(), json!({ "reference": feature.reference_quality, "current": feature.current_quality }));
    map
}

fn cell(value: Option<f64>) -> String {
    value.map_or("-".into(), format_number)
}

fn pvalue(value: Option<f64>) -> String {
    match value {
        Some(p) if p != 0.0 && p < 1e-4 => format!("{p:.1e}"),
        other => cell(other),
    }
}

/// The exit code for a verdict: 1 when it reaches `--fail-on` (said on stderr), else 0.
fn exit_code(verdict: Verdict, fail_on: Option<FailOn>) -> u8 {
    let level = match verdict {
        Verdict::Alert => Some(FailOn::Alert),
        Verdict::Warn => Some(FailOn::Warn),
        Verdict::Ok | Verdict::Insufficient => None,
    };
    match (level, fail_on) {
        (Some(level), Some(fail_on)) if level >= fail_on => {
            eprintln!("verdict {} reaches --fail-on {}", verdict_name(verdict), verdict_name(fail_level(fail_on)));
            1
        }
        _ => 0,
    }
}

fn fail_level(fail_on: FailOn) -> Verdict {
    match fail_on {
        FailOn::Warn => Verdict::Warn,
        FailOn::Alert => Verdict::Alert,
    }
}

/// A verdict's wire name (`ok`, `warn`, `alert`, `insufficient`).
fn verdict_name(verdict: Verdict) -> String {
    wire_name(verdict)
}

/// A closed set's value as its JSON spells it (a verdict, a CBPE or DLE metric).
fn wire_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The verdict and its reasons, last in a report's text.
fn print_verdict(verdict: Verdict, reasons: &[String]) {
    outln!();
    outln!("verdict {}", verdict_name(verdict).to_uppercase());
    for reason in reasons {
        outln!("  {reason}");
    }
}

/// Why estimates have no thresholds, once per distinct reason (every metric shares the reference's chunks).
fn print_threshold_problems<'a>(reasons: impl Iterator<Item = &'a str>) {
    for reason in reasons.collect::<std::collections::BTreeSet<&str>>() {
        outln!("no thresholds: {reason}");
    }
}

/// The worse of two verdicts (insufficient data counts as ok).
fn worse(a: Verdict, b: Verdict) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Alert => 2,
        Verdict::Warn => 1,
        Verdict::Ok | Verdict::Insufficient => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

pub(crate) async fn drift(args: DriftArgs) -> anyhow::Result<u8> {
    if !(args.psi_warn > 0.0 && args.psi_warn < args.psi_alert) {
        bail!("--psi-warn must be positive and below --psi-alert");
    }
    if !(2..=100).contains(&args.bins) {
        bail!("--bins must be between 2 and 100");
    }
    let options = DriftOptions {
        categorical: args.categorical.clone(),
        exclude: args.exclude.clone(),
        bands: DriftBands { psi_warn: args.psi_warn, psi_alert: args.psi_alert, bins: args.bins },
    };
    if args.multivariate && !(args.variance_share > 0.0 && args.variance_share < 1.0) {
        bail!("--variance-share is between 0 and 1, exclusive");
    }
    if args.chunk_size == Some(0) {
        bail!("--chunk-size is at least 1");
    }
    let (reference, current) = (args.reference.clone(), args.current.clone());
    let started = std::time::Instant::now();
    let report = tokio::task::spawn_blocking(move || drift_report(&reference, &current, &options))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let multivariate = if args.multivariate {
        let features: Vec<(String, ColumnType)> = report
            .features
            .iter()
            .map(|f| {
                let kind = match f.drift {
                    FeatureDrift::Numeric(_) => ColumnType::Numeric,
                    FeatureDrift::Categorical(_) => ColumnType::Categorical,
                };
                (f.name.clone(), kind)
            })
            .collect();
        let limit = warden_stats::reconstruction::MAX_COLUMNS;
        if !(2..=limit).contains(&features.len()) {
            bail!("multivariate drift: reconstruction drift needs 2 to {limit} columns (got {})", features.len());
        }
        let (reference, current) = (args.reference.clone(), args.current.clone());
        let (chunk_size, share, timing) = (args.chunk_size, args.variance_share, args.timing);
        Some(
            tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let (reference, current) = (read_features(&reference, &features)?, read_features(&current, &features)?);
                let read = started.elapsed();
                let report = reconstruction_report(&reference, &current, chunk_size, share)?;
                if timing {
                    eprintln!(
                        "multivariate drift: read {} x {} rows in {:.3} s, fitted and computed in {:.3} s",
                        reference.len(),
                        current.len(),
                        read.as_secs_f64(),
                        (started.elapsed() - read).as_secs_f64()
                    );
                }
                Ok::<_, warden_registry::Error>(report)
            })
            .await?
            .map_err(|e| anyhow::anyhow!("multivariate drift: {e}"))?,
        )
    } else {
        None
    };
    if args.timing {
        eprintln!(
            "compared {} x {} rows, {} features in {:.3} s; peak memory {}",
            report.reference_rows,
            report.current_rows,
            report.features.len(),
            started.elapsed().as_secs_f64(),
            crate::render::peak_memory()
        );
    }
    let count = |v: Verdict| report.features.iter().filter(|f| f.verdict == v).count();
    // Overall quality of the current data: every feature's cells together.
    let sum = |q: fn(&FeatureReport) -> u64| report.features.iter().map(q).sum::<u64>();
    let cells = sum(|f| f.current_quality.rows);
    let overall = json!({
        "cells": cells,
        "missing": sum(|f| f.current_quality.missing),
        "missing_rate": if cells == 0 { 0.0 } else { sum(|f| f.current_quality.missing) as f64 / cells as f64 },
        "non_finite": sum(|f| f.current_quality.non_finite),
        "type_violations": sum(|f| f.current_quality.type_violations),
        "out_of_range": sum(|f| f.current_quality.out_of_range.unwrap_or(0)),
        "unseen_categories": sum(|f| f.current_quality.unseen_categories.unwrap_or(0)),
    });
    let summary = json!({
        "features": report.features.len(), "alert": count(Verdict::Alert), "warn": count(Verdict::Warn),
        "ok": count(Verdict::Ok), "insufficient": count(Verdict::Insufficient),
    });
    let mut verdict = report.features.iter().fold(Verdict::Ok, |v, f| worse(v, f.verdict));
    if multivariate.as_ref().is_some_and(|m| m.current.iter().any(|c| c.alert)) {
        verdict = Verdict::Alert;
    }
    if args.json {
        let features: Map<String, Value> =
            report.features.iter().map(|f| (f.name.clone(), Value::Object(statistics_json(f)))).collect();
        render::json(&json!({
            "reference_rows": report.reference_rows, "current_rows": report.current_rows,
            "bands": { "psi_warn": args.psi_warn, "psi_alert": args.psi_alert, "bins": args.bins },
            "verdict": verdict_name(verdict),
            "summary": summary, "quality": overall, "features": features,
            "extra_current_columns": report.extra_current_columns,
            "multivariate": multivariate,
        }));
        return Ok(exit_code(verdict, args.fail_on));
    }
    outln!(
        "reference {} rows, current {} rows; verdict by PSI: warn >= {}, alert >= {}",
        report.reference_rows,
        report.current_rows,
        args.psi_warn,
        args.psi_alert
    );
    outln!();
    let rows: Vec<Vec<String>> = report
        .features
        .iter()
        .map(|f| {
            let stat = |name: &str| f.statistics().into_iter().find(|(n, _)| *n == name).and_then(|(_, v)| v);
            let (kind, test, p) = match &f.drift {
                FeatureDrift::Numeric(_) => ("numeric", cell(stat("ks_statistic")), pvalue(stat("ks_pvalue"))),
                FeatureDrift::Categorical(_) => {
                    ("categorical", cell(stat("chi2_statistic")), pvalue(stat("chi2_pvalue")))
                }
            };
            let distance = match &f.drift {
                FeatureDrift::Numeric(_) => cell(stat("wasserstein_normed")),
                FeatureDrift::Categorical(_) => cell(stat("linf")),
            };
            vec![
                f.name.clone(),
                kind.into(),
                serde_json::to_value(f.verdict).unwrap().as_str().unwrap().to_uppercase(),
                cell(Some(f.psi())),
                cell(stat("js_distance")),
                test,
                p,
                distance,
            ]
        })
        .collect();
    table(&["FEATURE", "TYPE", "VERDICT", "PSI", "JS", "KS / CHI2", "P-VALUE", "WASS_N / LINF"], &rows);
    outln!();
    outln!("data quality (current; reference in brackets)");
    let rows: Vec<Vec<String>> = report
        .features
        .iter()
        .map(|f| {
            let (r, c) = (f.reference_quality, f.current_quality);
            vec![
                f.name.clone(),
                format!("{:.2}% ({:.2}%)", c.missing_rate * 100.0, r.missing_rate * 100.0),
                format!("{} ({})", c.non_finite, r.non_finite),
                format!("{} ({})", c.type_violations, r.type_violations),
                c.out_of_range.map_or("-".into(), |v| v.to_string()),
                c.unseen_categories.map_or("-".into(), |v| v.to_string()),
            ]
        })
        .collect();
    table(&["FEATURE", "MISSING", "INFINITE", "WRONG TYPE", "OUT OF RANGE", "UNSEEN"], &rows);
    outln!(
        "overall: {:.2}% of {} current cells missing, {} infinite, {} of the wrong type, {} out of range, {} unseen categories",
        overall["missing_rate"].as_f64().unwrap_or(0.0) * 100.0,
        overall["cells"],
        overall["non_finite"],
        overall["type_violations"],
        overall["out_of_range"],
        overall["unseen_categories"]
    );
    outln!();
    outln!(
        "{}: {} alert, {} warn, {} ok, {} with insufficient data; verdict {}",
        counted(report.features.len() as u64, "feature", "features"),
        count(Verdict::Alert),
        count(Verdict::Warn),
        count(Verdict::Ok),
        count(Verdict::Insufficient),
        verdict_name(verdict).to_uppercase()
    );
    if !report.extra_current_columns.is_empty() {
        outln!("ignored current columns not in the reference: {}", report.extra_current_columns.join(", "));
    }
    if let Some(m) = &multivariate {
        print_multivariate(m);
    }
    Ok(exit_code(verdict, args.fail_on))
}

fn print_multivariate(m: &warden_registry::compare::ReconstructionReport) {
    outln!();
    outln!(
        "multivariate drift (data reconstruction error): {} principal components of {} features keep {:.1}% of \
         the reference's variance; chunks of {} rows",
        m.components,
        m.features.len(),
        m.explained_variance * 100.0,
        m.chunk_size
    );
    match &m.bands {
        Some(b) => outln!(
            "bands from {} reference chunks: {} to {}",
            m.reference.len(),
            b.lower.map_or("-".into(), format_number),
            format_number(b.upper)
        ),
        None => outln!("fewer than 2 reference chunks: no bands, no alert"),
    }
    let rows: Vec<Vec<String>> = m
        .current
        .iter()
        .map(|c| {
            vec![
                format!("{}-{}", c.start, c.end),
                format_number(c.figures.value),
                cell(Some(c.figures.sampling_error).filter(|v| v.is_finite())),
                if c.alert { "ALERT".into() } else { "OK".into() },
            ]
        })
        .collect();
    table(&["CURRENT ROWS", "ERROR", "SAMPLING ERROR", "VERDICT"], &rows);
    let alerts = m.current.iter().filter(|c| c.alert).count();
    outln!("{} of {} current chunks outside the bands", alerts, m.current.len());
}

/// The approval-rate ratio below which `metrics` alerts (the four-fifths rule) and warns: the default bands of
/// a `fairness` monitor's disparate impact.
const FAIRNESS_ALERT: f64 = 0.8;
const FAIRNESS_WARN: f64 = 0.9;

/// The verdict of a metrics report and why: fairness by the approval-rate ratio, CBPE by its thresholds.
fn metrics_verdict(report: &warden_registry::compare::MetricsReport) -> (Verdict, Vec<String>) {
    use warden_registry::compare::MetricsReport;
    let (mut verdict, mut reasons) = (Verdict::Ok, Vec::new());
    match report {
        MetricsReport::Realized { fairness, .. } => {
            for (attribute, threshold, f) in fairness {
                let Some(ratio) = f.demographic_parity_ratio else { continue };
                let level = if ratio < FAIRNESS_ALERT {
                    Verdict::Alert
                } else if ratio < FAIRNESS_WARN {
                    Verdict::Warn
                } else {
                    continue;
                };
                verdict = worse(verdict, level);
                reasons.push(format!(
                    "{}: approval-rate ratio by {attribute} at threshold {} is {} (warn below {FAIRNESS_WARN}, alert \
                     below {FAIRNESS_ALERT})",
                    verdict_name(level),
                    format_number(*threshold),
                    format_number(ratio)
                ));
            }
        }
        MetricsReport::Estimated { chunks, .. } => {
            for (start, end, estimates) in chunks {
                for estimate in estimates.iter().filter(|e| e.status == warden_stats::cbpe::CbpeStatus::Alert) {
                    verdict = Verdict::Alert;
                    let metric = serde_json::to_value(estimate.metric).ok();
                    reasons.push(format!(
                        "alert: rows {start}-{}: estimated {} {} outside its thresholds {} - {}",
                        end - 1,
                        metric.as_ref().and_then(Value::as_str).unwrap_or("metric"),
                        format_number(estimate.value),
                        estimate.lower_threshold.map_or_else(|| "none".to_owned(), format_number),
                        estimate.upper_threshold.map_or_else(|| "none".to_owned(), format_number)
                    ));
                }
            }
        }
    }
    (verdict, reasons)
}

pub(crate) async fn metrics(args: MetricsArgs) -> anyhow::Result<u8> {
    use warden_registry::compare::{MetricsOptions, MetricsReport, metrics_report};
    if args.chunk_size == 0 {
        bail!("--chunk-size must be positive");
    }
    if !args.class_scores.is_empty() {
        return multiclass_metrics(args).await;
    }
    if args.regression {
        return regression_metrics(args).await;
    }
    let score = args.score.clone().expect("clap requires --score without --class-score");
    let thresholds = if args.thresholds.is_empty() { vec![0.5] } else { args.thresholds.clone() };
    let options = MetricsOptions {
        score,
        label: args.label.clone(),
        prediction: args.prediction.clone(),
        decisions: (args.positive_decision.clone(), args.negative_decision.clone()),
        groups: args.groups.clone(),
        thresholds,
        reference: args.reference.clone(),
        chunk_size: args.chunk_size,
    };
    let data = args.data.clone();
    let report = tokio::task::spawn_blocking(move || metrics_report(&data, &options))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (verdict, reasons) = metrics_verdict(&report);
    let code = exit_code(verdict, args.fail_on);
    let favourable = warden_stats::fairness::FAVOURABLE_OUTCOME;
    match report {
        MetricsReport::Realized { metrics, auc_interval, fairness } => {
            if args.json {
                let fairness: Vec<Value> = fairness
                    .iter()
                    .map(|(attribute, threshold, f)| {
                        json!({ "attribute": attribute, "threshold": threshold, "favourable_outcome": favourable,
                                "four_fifths_rule_holds": f.four_fifths_rule_holds(), "fairness": f })
                    })
                    .collect();
                render::json(&json!({
                    "mode": "realized", "metrics": metrics, "auc_interval": auc_interval, "fairness": fairness,
                    "verdict": verdict_name(verdict), "verdict_reasons": reasons,
                }));
                return Ok(code);
            }
            outln!("{} rows, {} positive ({:.2}%)", metrics.n, metrics.n_pos, metrics.base_rate * 100.0);
            let auc = match (metrics.roc_auc, auc_interval) {
                (Some(a), Some(ci)) => format!(
                    "{} (95% DeLong {} - {})",
                    format_number(a),
                    format_number(ci.lower),
                    format_number(ci.upper)
                ),
                (Some(a), None) => format!("{} (interval: too few of a class)", format_number(a)),
                (None, _) => "- (one class only)".into(),
            };
            render::fields(&[
                ("ROC AUC", auc),
                ("Gini", cell(metrics.gini)),
                ("KS separation", cell(metrics.ks_separation)),
                ("Brier", format_number(metrics.brier)),
                ("log loss", format_number(metrics.log_loss)),
                ("ECE (10 bins)", format_number(metrics.ece)),
            ]);
            outln!();
            let rows: Vec<Vec<String>> = metrics
                .at_threshold
                .iter()
                .map(|t| {
                    vec![
                        format_number(t.threshold),
                        format!("{}/{}/{}/{}", t.tn, t.fp, t.r#fn, t.tp),
                        format_number(t.accuracy),
                        format_number(t.precision),
                        format_number(t.recall),
                        format_number(t.fpr),
                        format_number(t.f1),
                        format_number(t.selection_rate),
                    ]
                })
                .collect();
            table(&["THRESHOLD", "TN/FP/FN/TP", "ACCURACY", "PRECISION", "RECALL", "FPR", "F1", "SELECTED"], &rows);
            if !fairness.is_empty() {
                outln!();
                outln!("fairness (favourable outcome: {favourable})");
            }
            for (attribute, threshold, f) in &fairness {
                outln!();
                outln!(
                    "by {attribute} at threshold {}: approval-rate difference {}, ratio {}{}, equalized odds {}, equal opportunity {}",
                    format_number(*threshold),
                    format_number(f.demographic_parity_difference),
                    cell(f.demographic_parity_ratio),
                    match f.four_fifths_rule_holds() {
                        Some(true) => " (four-fifths rule holds)",
                        Some(false) => " (four-fifths rule FAILS)",
                        None => "",
                    },
                    format_number(f.equalized_odds_difference),
                    format_number(f.equal_opportunity_difference)
                );
                let rows: Vec<Vec<String>> = f
                    .by_group
                    .iter()
                    .map(|(g, r)| {
                        vec![
                            g.clone(),
                            r.count.to_string(),
                            format_number(r.selection_rate),
                            format_number(r.tpr),
                            format_number(r.fpr),
                        ]
                    })
                    .collect();
                table(&["GROUP", "COUNT", "APPROVAL RATE", "TPR (GOOD)", "FPR (BAD)"], &rows);
            }
        }
        MetricsReport::Estimated { calibrated, chunks } => {
            if args.json {
                let chunks: Vec<Value> = chunks
                    .iter()
                    .map(|(s, e, estimates)| json!({ "start": s, "end": e, "estimates": estimates }))
                    .collect();
                render::json(&json!({
                    "mode": "estimated", "method": "cbpe", "calibrated": calibrated, "chunks": chunks,
                    "verdict": verdict_name(verdict), "verdict_reasons": reasons,
                }));
                return Ok(code);
            }
            outln!(
                "no labels: performance estimated by CBPE from the labelled reference (scores {})",
                if calibrated { "recalibrated with isotonic regression" } else { "used as they are" }
            );
            let rows: Vec<Vec<String>> = chunks.iter().flat_map(|(s, e, est)| estimate_rows(*s, *e, est)).collect();
            table(&["ROWS", "METRIC", "ESTIMATE", "CONFIDENCE", "THRESHOLDS", ""], &rows);
            print_threshold_problems(chunks.iter().flat_map(|(_, _, e)| e.iter().filter_map(|e| e.reason.as_deref())));
        }
    }
    print_verdict(verdict, &reasons);
    Ok(code)
}

/// Name of a CBPE metric as JSON spells it.
fn metric_name(metric: warden_stats::cbpe::CbpeMetric) -> String {
    wire_name(metric)
}

/// An estimate outside its thresholds: (metric, value, lower threshold, upper threshold).
type OutsideThresholds = (String, f64, Option<f64>, Option<f64>);

/// The verdict of chunked estimates, with its reasons: an estimate outside its thresholds alerts; the drift of
/// the chunk's `predicted` (what the model answered) warns or alerts by its PSI band.
fn chunk_verdict<'a>(
    chunks: impl Iterator<Item = (usize, usize, Vec<OutsideThresholds>, &'a FeatureReport)>,
    predicted: &str,
) -> (Verdict, Vec<String>) {
    let (mut verdict, mut reasons) = (Verdict::Ok, Vec::new());
    for (start, end, alerts, drift) in chunks {
        let rows = format!("rows {start}-{}", end - 1);
        for (metric, value, lower, upper) in alerts {
            verdict = Verdict::Alert;
            reasons.push(format!(
                "alert: {rows}: estimated {metric} {} outside its thresholds {} - {}",
                format_number(value),
                lower.map_or_else(|| "none".to_owned(), format_number),
                upper.map_or_else(|| "none".to_owned(), format_number)
            ));
        }
        if matches!(drift.verdict, Verdict::Alert | Verdict::Warn) {
            verdict = worse(verdict, drift.verdict);
            reasons.push(format!(
                "{}: {rows}: {predicted} drifted (PSI {})",
                verdict_name(drift.verdict),
                format_number(drift.psi())
            ));
        }
    }
    (verdict, reasons)
}

/// One estimate as a table row: rows, metric, estimate, confidence, thresholds, status.
fn estimate_cells(
    (start, end): (usize, usize),
    metric: String,
    value: f64,
    (lower_bound, upper_bound): (f64, f64),
    thresholds: (Option<f64>, Option<f64>),
    status: warden_stats::cbpe::CbpeStatus,
) -> Vec<String> {
    vec![
        format!("{start}-{}", end - 1),
        metric,
        format_number(value),
        format!("{} - {}", format_number(lower_bound), format_number(upper_bound)),
        match thresholds {
            (Some(lower), Some(upper)) => format!("{} - {}", format_number(lower), format_number(upper)),
            _ => "-".into(),
        },
        match status {
            warden_stats::cbpe::CbpeStatus::Alert => "ALERT".into(),
            warden_stats::cbpe::CbpeStatus::Insufficient => "insufficient reference".into(),
            warden_stats::cbpe::CbpeStatus::Ok => String::new(),
        },
    ]
}

/// The CBPE estimates of one chunk as table rows.
fn estimate_rows(start: usize, end: usize, estimates: &[warden_stats::cbpe::CbpeEstimate]) -> Vec<Vec<String>> {
    estimates
        .iter()
        .map(|est| {
            estimate_cells(
                (start, end),
                metric_name(est.metric),
                est.value,
                (est.lower_confidence_boundary, est.upper_confidence_boundary),
                (est.lower_threshold, est.upper_threshold),
                est.status,
            )
        })
        .collect()
}

/// `warden metrics --class-score ...`: a multiclass classifier's figures on outcomes, or CBPE estimates and
/// predicted-class drift against a labelled reference.
async fn multiclass_metrics(args: MetricsArgs) -> anyhow::Result<u8> {
    use warden_registry::task_metrics::{MulticlassOptions, MulticlassReport, multiclass_report};
    let options = MulticlassOptions {
        classes: args.class_scores.clone(),
        prediction: args.prediction.clone(),
        label: args.label.clone(),
        reference: args.reference.clone(),
        chunk_size: args.chunk_size,
    };
    let data = args.data.clone();
    let report = tokio::task::spawn_blocking(move || multiclass_report(&data, &options))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (verdict, reasons) = match &report {
        MulticlassReport::Estimated { chunks, .. } => chunk_verdict(
            chunks.iter().map(|c| {
                let alerts = c.estimates.iter().filter(|e| e.status == warden_stats::cbpe::CbpeStatus::Alert);
                let alerts = alerts.map(|e| (metric_name(e.metric), e.value, e.lower_threshold, e.upper_threshold));
                (c.start, c.end, alerts.collect(), &c.prediction_drift)
            }),
            "predicted classes",
        ),
        MulticlassReport::Realized { .. } => (Verdict::Ok, Vec::new()),
    };
    let code = exit_code(verdict, args.fail_on);
    match report {
        MulticlassReport::Realized { classes, metrics } => {
            if args.json {
                render::json(&json!({
                    "mode": "realized", "task": "multiclass", "classes": classes, "metrics": metrics,
                    "verdict": verdict_name(verdict), "verdict_reasons": reasons,
                }));
                return Ok(code);
            }
            outln!("{} rows, {} classes", metrics.n, classes.len());
            render::fields(&[
                ("ROC AUC (macro, one-vs-rest)", cell(metrics.auc_macro)),
                ("accuracy", format_number(metrics.accuracy)),
                ("precision (macro)", format_number(metrics.precision_macro)),
                ("recall (macro)", format_number(metrics.recall_macro)),
                ("F1 (macro)", format_number(metrics.f1_macro)),
            ]);
            outln!();
            let rows: Vec<Vec<String>> = classes
                .iter()
                .enumerate()
                .map(|(i, class)| {
                    let mut row = vec![class.clone(), cell(metrics.auc_per_class[i])];
                    row.extend(metrics.confusion[i].iter().map(u64::to_string));
                    row
                })
                .collect();
            let mut headers = vec!["ACTUAL \\ PREDICTED".to_owned(), "AUC (ONE-VS-REST)".to_owned()];
            headers.extend(classes.iter().map(|c| c.to_uppercase()));
            let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
            table(&headers, &rows);
        }
        MulticlassReport::Estimated { classes, calibrated, chunks } => {
            if args.json {
                let chunks: Vec<Value> = chunks
                    .iter()
                    .map(|c| {
                        json!({ "start": c.start, "end": c.end, "estimates": c.estimates,
                                "prediction_drift": c.prediction_drift })
                    })
                    .collect();
                render::json(&json!({
                    "mode": "estimated", "task": "multiclass", "method": "cbpe", "classes": classes,
                    "calibrated": calibrated, "chunks": chunks,
                    "verdict": verdict_name(verdict), "verdict_reasons": reasons,
                }));
                return Ok(code);
            }
            let recalibrated: Vec<&str> =
                classes.iter().zip(&calibrated).filter(|(_, c)| **c).map(|(n, _)| n.as_str()).collect();
            outln!(
                "no outcomes: performance estimated by multiclass CBPE from the labelled reference (recalibrated: {})",
                if recalibrated.is_empty() { "no class".to_owned() } else { recalibrated.join(", ") }
            );
            let rows: Vec<Vec<String>> =
                chunks.iter().flat_map(|c| estimate_rows(c.start, c.end, &c.estimates)).collect();
            table(&["ROWS", "METRIC (MACRO)", "ESTIMATE", "CONFIDENCE", "THRESHOLDS", ""], &rows);
            outln!();
            let rows: Vec<Vec<String>> = chunks
                .iter()
                .map(|c| {
                    let drift = &c.prediction_drift;
                    vec![format!("{}-{}", c.start, c.end - 1), format_number(drift.psi()), verdict_name(drift.verdict)]
                })
                .collect();
            outln!("predicted classes against the reference's");
            table(&["ROWS", "PSI", "VERDICT"], &rows);
            print_threshold_problems(
                chunks.iter().flat_map(|c| c.estimates.iter().filter_map(|e| e.reason.as_deref())),
            );
        }
    }
    print_verdict(verdict, &reasons);
    Ok(code)
}

/// `warden metrics --regression`: a regression model's figures on outcomes, or DLE estimates and prediction
/// drift against a labelled reference.
async fn regression_metrics(args: MetricsArgs) -> anyhow::Result<u8> {
    use warden_registry::task_metrics::{RegressionOptions, RegressionReport, regression_report};
    let options = RegressionOptions {
        prediction: args.score.clone().expect("clap requires --score without --class-score"),
        label: args.label.clone(),
        features: args.features.clone(),
        reference: args.reference.clone(),
        chunk_size: args.chunk_size,
    };
    let data = args.data.clone();
    let report = tokio::task::spawn_blocking(move || regression_report(&data, &options))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (verdict, reasons) = match &report {
        RegressionReport::Estimated { chunks, .. } => chunk_verdict(
            chunks.iter().map(|c| {
                let alerts = c.estimates.iter().filter(|e| e.status == warden_stats::cbpe::CbpeStatus::Alert);
                let alerts =
                    alerts.map(|e| (loss_metric_name(e.metric), e.value, e.lower_threshold, e.upper_threshold));
                (c.start, c.end, alerts.collect(), &c.prediction_drift)
            }),
            "predictions",
        ),
        RegressionReport::Realized { .. } => (Verdict::Ok, Vec::new()),
    };
    let code = exit_code(verdict, args.fail_on);
    match report {
        RegressionReport::Realized { metrics } => {
            if args.json {
                render::json(&json!({
                    "mode": "realized", "task": "regression", "metrics": metrics,
                    "verdict": verdict_name(verdict), "verdict_reasons": reasons,
                }));
                return Ok(code);
            }
            outln!("{} rows", metrics.n);
            render::fields(&[
                ("MAE", format_number(metrics.mae)),
                ("MSE", format_number(metrics.mse)),
                ("RMSE", format_number(metrics.rmse)),
                ("MAPE", format_number(metrics.mape)),
                ("R²", format_number(metrics.r2)),
            ]);
        }
        RegressionReport::Estimated { inputs, chunks } => {
            if args.json {
                let chunks: Vec<Value> = chunks
                    .iter()
                    .map(|c| {
                        json!({ "start": c.start, "end": c.end, "estimates": c.estimates,
                                "prediction_drift": c.prediction_drift })
                    })
                    .collect();
                render::json(&json!({
                    "mode": "estimated", "task": "regression", "method": "dle", "inputs": inputs,
                    "chunks": chunks, "verdict": verdict_name(verdict), "verdict_reasons": reasons,
                }));
                return Ok(code);
            }
            outln!(
                "no outcomes: performance estimated by direct loss estimation (loss models trained on the reference, \
                 reading {} and the prediction)",
                inputs.features.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ")
            );
            let rows: Vec<Vec<String>> = chunks
                .iter()
                .flat_map(|c| {
                    c.estimates.iter().map(move |est| {
                        estimate_cells(
                            (c.start, c.end),
                            loss_metric_name(est.metric),
                            est.value,
                            (est.lower_confidence_boundary, est.upper_confidence_boundary),
                            (est.lower_threshold, est.upper_threshold),
                            est.status,
                        )
                    })
                })
                .collect();
            table(&["ROWS", "METRIC", "ESTIMATE", "CONFIDENCE", "THRESHOLDS", ""], &rows);
            outln!();
            outln!("predictions against the reference's");
            let rows: Vec<Vec<String>> = chunks
                .iter()
                .map(|c| {
                    vec![
                        format!("{}-{}", c.start, c.end - 1),
                        format_number(c.prediction_drift.psi()),
                        verdict_name(c.prediction_drift.verdict),
                    ]
                })
                .collect();
            table(&["ROWS", "PSI", "VERDICT"], &rows);
            print_threshold_problems(
                chunks.iter().flat_map(|c| c.estimates.iter().filter_map(|e| e.reason.as_deref())),
            );
        }
    }
    print_verdict(verdict, &reasons);
    Ok(code)
}

/// Name of a DLE metric as JSON spells it.
fn loss_metric_name(metric: warden_stats::dle::LossMetric) -> String {
    wire_name(metric)
}
