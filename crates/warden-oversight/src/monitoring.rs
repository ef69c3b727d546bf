/*!
Monitors: what is watched on each deployed model, evaluated on a schedule over the live windows, every
evaluation kept as a time series.

A model gets default monitors from its risk tier when a version is first promoted to a production alias;
they can be changed or disabled (`warden monitor set|disable`). Each evaluation reads a window of each
loaded version's traffic: the last `window_seconds` (10-second buckets), or with `window_decisions` the
newest buckets holding at least that many decisions. Below `min_decisions` the result is `insufficient`,
never an alert; when an input is missing (no LGD, no labelled reference) it is `unavailable`. Decisions
ingested later than the live windows reach (older than an hour) get their clock hour re-evaluated from the
log in the next round: a revised evaluation at the hour's end, marked `details.late_revision`, kept as
history without driving alerts.

Kinds (`statistic` picks among the figures named; the first is the default):
- `feature_drift` (`psi`, `jensen_shannon`): per feature against the version's reference profile (its deciles
  or categories, missing values as one more bin).
- `score_drift` (`psi`, `jensen_shannon`): the version's scores against its scores on the reference data.
- `explanation_drift` (`psi`, `mean_abs_shift`): for a model Warden explains, each feature's contribution to
  the score over the window's decisions (at most the first 2,000, explained at evaluation) against its
  contributions on the reference (the first 5,000 rows): PSI over the reference contributions' deciles, or the
  relative change of the mean absolute contribution; evaluated once per `window_seconds` (hourly by default).
- `multivariate_drift` (`reconstruction_error`): the mean reconstruction error of the window's decisions under
  NannyML's PCA fitted on the reference (`warden_stats::reconstruction`), installed on the version's windows at
  the first evaluation; bands learned from reference chunks by default.
- `data_quality`: per feature, the largest of the missing-rate increase over the reference, the
  out-of-range share (numeric) and the unseen-category share (categorical).
- `performance` (`auc`, `brier`, `ece`): on decisions whose outcomes have arrived (`POST /v1/outcomes`); for a
  regression model (`mae`, `rmse`, `mape`, `r2`, scikit-learn's): on decisions whose outcome carries the
  realized `value`.
- `estimated_performance` (`auc`, `accuracy`, `precision`, `recall`, `f1`): CBPE before outcomes arrive,
  fitted on the reference data's `target` column; for a regression model (`mae`, `mse`, `rmse`, `mape`):
  NannyML's direct loss estimation, its loss models trained on the reference's features, predictions and
  realized values (`warden_registry::task_metrics`, on the reference's first [`MAX_LIVE_DLE_ROWS`] rows, in
  the first round), run on the window's decisions.
- `fairness` (`disparate_impact`, `equal_opportunity`) over the groups of `attribute`: approval-rate ratio on
  live traffic; true-positive-rate gap among good outcomes once they arrive.
- `money_at_risk` (`expected_loss`, `fraud_missed`, `expected_loss_error`): mean PD × LGD × EAD of approved
  decisions relative to the reference's (+0.25 = a quarter more loss per decision); or the share of the value
  of bad outcomes that was approved; or, for a regression model (LGD, EAD), |Σ predicted − Σ realized| over
  Σ realized, each decision's value weighed by its exposure when the version names an exposure column.
- `integrity`: the loaded artifacts re-hashed, the running routes, serving configuration and policy bundle
  against the approved state in the store; any deviation is critical.
- `override_rate`: the share of the version's decisions reviewed in the window (each by its latest review)
  that a reviewer overrode or reversed, for the model and, with `attribute`, per value of that decision
  attribute or feature; `min_decisions` counts reviewed decisions. A high rate says the model is wrong or is
  being worked around.

Thresholds are static bands (`warn`, `alert`; for figures where lower is worse — AUC, estimated
performance, disparate impact — the result is `warn` at or below `warn`), or with `learned` the bands of
the reference replayed in chunks through the same computation: mean ± k·σ over the chunks' values (warn at
k − 1), as NannyML derives its thresholds. For `estimated_performance`, learned bands are CBPE's own.
*/

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warden_registry::task_metrics::LossEncoding;
use warden_stats::cbpe::{CbpeMetric, CbpeModel, ScoredRows};
use warden_stats::dle::{DleEstimate, DleModel, LossMetric, RowLoss};
use warden_stats::multiclass_cbpe::{ClassRows, MulticlassCbpeModel};
use warden_store::metadata::{MonitorEvaluation, MonitorRetune, MonitorRow, ScoredOutcome};

use crate::{Error, Oversight, Result};
use warden_core::{ModelTask, MonitorKind};
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::{RiskTier, ServingConfig, audit, get_model};
use warden_serving::scoring::{LiveDrift, LiveFeatureDrift, LoadedVersion, Window};

/// The statistics each kind offers, the default first.
fn statistics(kind: MonitorKind) -> &'static [&'static str] {
    match kind {
        MonitorKind::FeatureDrift => &["psi", "jensen_shannon"],
        MonitorKind::ScoreDrift => &["psi", "jensen_shannon", "class_psi"],
        MonitorKind::MultivariateDrift => &["reconstruction_error"],
        MonitorKind::ExplanationDrift => &["psi", "mean_abs_shift"],
        MonitorKind::Performance => {
            &["auc", "brier", "ece", "mae", "rmse", "mape", "r2", "accuracy", "macro_auc", "macro_f1"]
        }
        MonitorKind::EstimatedPerformance => {
            &["auc", "accuracy", "precision", "recall", "f1", "mae", "mse", "rmse", "mape"]
        }
        MonitorKind::Fairness => &["disparate_impact", "equal_opportunity"],
        MonitorKind::MoneyAtRisk => &["expected_loss", "fraud_missed", "expected_loss_error"],
        MonitorKind::DataQuality => &["worst"],
        MonitorKind::Integrity => &["deviations"],
        MonitorKind::Revalidation => &["days_to_due"],
        MonitorKind::OverrideRate => &["override_rate"],
    }
}

/// Whether a lower value is the worse one.
fn lower_is_worse(kind: MonitorKind, statistic: &str) -> bool {
    matches!(
        (kind, statistic),
        (MonitorKind::Performance, "auc" | "r2" | "accuracy" | "macro_auc" | "macro_f1")
            | (MonitorKind::EstimatedPerformance, "auc" | "accuracy" | "precision" | "recall" | "f1")
            | (MonitorKind::Revalidation, _)
            | (MonitorKind::Fairness, "disparate_impact")
    )
}

/// Whether a figure applies to a version's task: a multiclass classifier's decisions are classes (no approval,
/// no bad event, no price), and its own figures (accuracy, macro AUC and F1, decided-class drift) need class
/// probabilities; a regression's figures need realized values. `Err` names what does not fit.
fn fits_task(kind: MonitorKind, statistic: &str, task: ModelTask) -> std::result::Result<(), String> {
    let multiclass_only = matches!(
        (kind, statistic),
        (MonitorKind::Performance, "accuracy" | "macro_auc" | "macro_f1") | (MonitorKind::ScoreDrift, "class_psi")
    );
    let binary_decisions = matches!(
        (kind, statistic),
        (MonitorKind::Performance, "auc" | "brier" | "ece")
            | (MonitorKind::Fairness, _)
            | (MonitorKind::MoneyAtRisk, _)
    );
    let regression_only = matches!((kind, statistic), (MonitorKind::Performance, "mae" | "rmse" | "mape" | "r2"))
        || (kind == MonitorKind::EstimatedPerformance && loss_metric(statistic).is_some());
    match task {
        ModelTask::MulticlassClassification if binary_decisions || regression_only => Err(format!(
            "{kind} '{statistic}' does not apply to a multiclass classifier: its decisions are classes (its \
             figures: performance accuracy, macro_auc or macro_f1; score_drift class_psi; estimated_performance)"
        )),
        ModelTask::BinaryClassification | ModelTask::Regression if multiclass_only => {
            Err(format!("{kind} '{statistic}' is a multiclass classifier's figure; this version predicts one score"))
        }
        _ => Ok(()),
    }
}

/// Figures whose inputs are outcomes (read from the decision log) rather than the live windows.
fn reads_outcomes(kind: MonitorKind, statistic: &str) -> bool {
    matches!(
        (kind, statistic),
        (MonitorKind::Performance, _)
            | (MonitorKind::EstimatedPerformance, _)
            | (MonitorKind::Fairness, "equal_opportunity")
            | (MonitorKind::MoneyAtRisk, "fraud_missed" | "expected_loss_error")
    )
}

/// Figures read from the store each round (outcomes, reviews) rather than the live windows: their windows may
/// reach back a year, and late periods need no revision.
fn reads_store(kind: MonitorKind, statistic: &str) -> bool {
    reads_outcomes(kind, statistic) || matches!(kind, MonitorKind::OverrideRate | MonitorKind::ExplanationDrift)
}

/// Most decisions of a window an explanation-drift evaluation explains (the window's first).
pub const MAX_EXPLAINED_DECISIONS: i64 = 2_000;
/// Most reference rows explained for its baseline (the reference's first).
pub const MAX_EXPLAINED_REFERENCE_ROWS: usize = 5_000;

/// The data-quality key of schema violations on the scoring path.
const SCHEMA_KEY: &str = "(schema)";
/// Longest window of an outcome-based figure (outcomes arrive late).
const MAX_OUTCOME_WINDOW_SECONDS: i64 = 365 * 86_400;
/// Most decisions an outcome-based evaluation reads from the log.
const MAX_OUTCOME_ROWS: u64 = 200_000;
/// Largest `window_decisions`, `min_decisions` and learned `chunk_size` (a count window is whole buckets of
/// the last hour, so a larger count can never be reached; a figure this large is a typing mistake).
pub const MAX_DECISIONS: u64 = 10_000_000;
/// Largest learned-band `k` (bands beyond 100 σ never fire: a monitor that cannot alert is a mistake).
pub const MAX_LEARNED_K: f64 = 100.0;

/// Thresholds learned from the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedThresholds {
    /// Alert beyond mean ± k·σ of the reference chunks' values (warn beyond k − 1); 1 to [`MAX_LEARNED_K`].
    #[serde(default = "default_k")]
    pub k: f64,
    /// Rows per reference chunk (default: `window_decisions`, else a tenth of the reference and at least
    /// `min_decisions`); at most [`MAX_DECISIONS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<u64>,
}

fn default_k() -> f64 {
    3.0
}

/// A monitor's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Seconds of recent traffic evaluated (10 to 3600; outcome-based figures 10 s to 365 days).
    pub window_seconds: i64,
    /// Evaluate the newest decisions instead, at least this many (whole 10-second buckets of the last hour;
    /// 1 to [`MAX_DECISIONS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_decisions: Option<u64>,
    /// Below this many decisions in the window the result is `insufficient` (1 to [`MAX_DECISIONS`]).
    pub min_decisions: u64,
    /// The figure watched (see the kinds); default the kind's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// Static band: `warn` at or beyond this value.
    pub warn: f64,
    /// Static band: `alert` at or beyond this value.
    pub alert: f64,
    /// Learn the bands from the reference instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<LearnedThresholds>,
    /// Only these features (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// The monitor-only attribute (or reference column) whose groups `fairness` compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// The reference data's outcome column (CBPE, and learned bands of outcome-based figures); default the
    /// version's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The value of `target` that means the event happened (default `1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_value: Option<String>,
    /// Evaluations in a row that must breach a band before an alert fires or escalates (1: the first).
    #[serde(default = "default_consecutive")]
    pub consecutive: u32,
    /// Evaluations in a row that must be back within the bands (`ok`) before an open alert resolves, so that a
    /// figure hovering at a band does not open and close alerts over and over (1: the first clean one).
    #[serde(default = "default_resolve_after")]
    pub resolve_after: u32,
    /// Split by the value of this decision attribute or feature (`feature_drift`, `score_drift`,
    /// `data_quality`): each segment gets its own figures (named `key[attribute=segment]`), bands and alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_by: Option<String>,
    /// Most segments with figures of their own (1 to [`MAX_SEGMENTS`], default [`DEFAULT_MAX_SEGMENTS`]): the
    /// reference's most frequent values first, then values as live traffic brings them; the rest share
    /// `(other)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_segments: Option<u32>,
    /// Below this many decisions a segment's figures are `insufficient` (default `min_decisions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_segment_decisions: Option<u64>,
    /// What a critical alert does besides notifying: `notify` (nothing more), `rollback` (the champion goes
    /// back to the previous gate-approved champion), `stop_canary` (the canary alias is removed), `retrain`, or
    /// `suspend` (the stop switch, with `refer` as the fallback).
    #[serde(default = "default_action")]
    pub action: String,
}

fn default_action() -> String {
    "notify".into()
}

fn default_consecutive() -> u32 {
    1
}

/// Three clean evaluations (30 s at the default 10-second interval) before an alert resolves.
pub const DEFAULT_RESOLVE_AFTER: u32 = 3;

fn default_resolve_after() -> u32 {
    DEFAULT_RESOLVE_AFTER
}

/// Segments a segmented monitor names unless told otherwise.
pub const DEFAULT_MAX_SEGMENTS: u32 = 20;
pub use warden_serving::decision_log::MAX_SEGMENTS;

/// Actions a monitor can take.
pub const ACTIONS: [&str; 5] = ["notify", "rollback", "stop_canary", "retrain", "suspend"];

impl MonitorConfig {
    fn check(&self, kind: MonitorKind) -> Result<()> {
        if !ACTIONS.contains(&self.action.as_str()) {
            return Err(Error::invalid(format!("unknown action '{}' (expected {})", self.action, ACTIONS.join(", "))));
        }
        let statistic = self.statistic(kind);
        if reads_store(kind, statistic) {
            if !(10..=MAX_OUTCOME_WINDOW_SECONDS).contains(&self.window_seconds) {
                return Err(Error::invalid(
                    "window_seconds is 10 seconds to 365 days for outcome-based figures and override rates",
                ));
            }
        } else if !(10..=3600).contains(&self.window_seconds) {
            return Err(Error::invalid("window_seconds is 10 to 3600 (the live windows keep an hour)"));
        }
        if !(1..=60).contains(&self.consecutive) {
            return Err(Error::invalid("consecutive is 1 to 60 evaluations"));
        }
        if !(1..=60).contains(&self.resolve_after) {
            return Err(Error::invalid("resolve_after is 1 to 60 evaluations"));
        }
        if self.min_decisions == 0 || self.window_decisions == Some(0) {
            return Err(Error::invalid("min_decisions and window_decisions are at least 1"));
        }
        // A schedule is not traffic: rolling back, retraining or stopping a canary answers nothing about it,
        // and there is no distribution to learn bands from.
        if kind == MonitorKind::Revalidation && (self.action != default_action() || self.learned.is_some()) {
            return Err(Error::invalid("a revalidation monitor notifies only (action notify) and has static bands"));
        }
        // The reference data holds no reviews to learn a band from, and a count window of reviews is the
        // reviews of a time window.
        if kind == MonitorKind::OverrideRate && (self.learned.is_some() || self.window_decisions.is_some()) {
            return Err(Error::invalid(
                "an override_rate monitor has static bands and a time window (window_seconds), not learned bands or \
                 window_decisions",
            ));
        }
        for (setting, value) in [
            ("window_decisions", self.window_decisions),
            ("min_decisions", Some(self.min_decisions)),
            ("chunk_size", self.learned.as_ref().and_then(|l| l.chunk_size)),
        ] {
            if let Some(value) = value.filter(|&v| v > MAX_DECISIONS) {
                return Err(Error::invalid_with(
                    format!("{setting} is at most {MAX_DECISIONS} decisions (got {value})"),
                    serde_json::json!({"field": setting, "limit": MAX_DECISIONS}),
                ));
            }
        }
        let offered = statistics(kind);
        if !offered.contains(&statistic) {
            return Err(Error::invalid(format!(
                "'{kind}' has no statistic '{statistic}' (expected {})",
                offered.join(", ")
            )));
        }
        let ordered = if lower_is_worse(kind, statistic) { self.alert <= self.warn } else { self.warn <= self.alert };
        if !(self.warn.is_finite() && self.alert.is_finite() && 0.0 <= self.warn.min(self.alert) && ordered) {
            return Err(Error::invalid(if lower_is_worse(kind, statistic) {
                "thresholds need 0 <= alert <= warn (lower is worse for this statistic)"
            } else {
                "thresholds need 0 <= warn <= alert"
            }));
        }
        if let Some(l) = &self.learned
            && !((1.0..=MAX_LEARNED_K).contains(&l.k) && l.chunk_size != Some(0))
        {
            return Err(Error::invalid(format!(
                "learned thresholds need 1 <= k <= {MAX_LEARNED_K} and a positive chunk_size"
            )));
        }
        if let Some(attribute) = &self.segment_by {
            if !matches!(kind, MonitorKind::FeatureDrift | MonitorKind::ScoreDrift | MonitorKind::DataQuality) {
                return Err(Error::invalid(format!(
                    "segments split feature_drift, score_drift and data_quality monitors, not {kind}"
                )));
            }
            if attribute.trim().is_empty() || attribute.len() > 256 {
                return Err(Error::invalid("segment_by names an attribute or feature (1 to 256 characters)"));
            }
            if self.learned.is_some() {
                return Err(Error::invalid(
                    "a segmented monitor has static bands: each segment is judged by them (learned bands are the \
                     whole reference's)",
                ));
            }
        }
        if let Some(max) = self.max_segments
            && !(1..=MAX_SEGMENTS as u32).contains(&max)
        {
            return Err(Error::invalid_with(
                format!("max_segments is 1 to {MAX_SEGMENTS} (got {max})"),
                serde_json::json!({"field": "max_segments", "limit": MAX_SEGMENTS}),
            ));
        }
        if let Some(min) = self.min_segment_decisions
            && !(1..=MAX_DECISIONS).contains(&min)
        {
            return Err(Error::invalid_with(
                format!("min_segment_decisions is 1 to {MAX_DECISIONS} (got {min})"),
                serde_json::json!({"field": "min_segment_decisions", "limit": MAX_DECISIONS}),
            ));
        }
        if kind == MonitorKind::ExplanationDrift && (self.learned.is_some() || self.window_decisions.is_some()) {
            return Err(Error::invalid(
                "an explanation_drift monitor has static bands and a time window (window_seconds), not learned \
                 bands or window_decisions",
            ));
        }
        if kind == MonitorKind::MultivariateDrift
            && let Some(learned) = &self.learned
        {
            let window = self.window_decisions.unwrap_or(0);
            if window == 0 || self.min_decisions < window || learned.chunk_size.is_some_and(|c| c != window) {
                return Err(Error::invalid(
                    "a multivariate_drift monitor with learned bands judges windows of its reference chunks' size: \
                     it needs window_decisions, min_decisions at least window_decisions, and no other chunk_size",
                ));
            }
        }
        if kind == MonitorKind::MultivariateDrift && self.learned.is_none() && self.warn <= 0.0 {
            return Err(Error::invalid(
                "a multivariate_drift monitor learns its bands from the reference (learned), or needs a positive warn \
                 band: the reconstruction error's scale is the data's",
            ));
        }
        if kind == MonitorKind::MultivariateDrift && self.features.as_ref().is_some_and(|f| f.len() < 2) {
            return Err(Error::invalid("a multivariate_drift monitor watches at least 2 features"));
        }
        if kind == MonitorKind::Fairness && self.attribute.as_deref().is_none_or(str::is_empty) {
            return Err(Error::invalid("a fairness monitor needs an attribute"));
        }
        Ok(())
    }

    /// The statistic watched (the kind's default when unset).
    pub fn statistic<'a>(&'a self, kind: MonitorKind) -> &'a str {
        self.statistic.as_deref().unwrap_or(statistics(kind)[0])
    }
}

/// A monitor as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Monitor {
    pub model: String,
    /// Unique per model.
    pub name: String,
    /// What it watches.
    pub kind: MonitorKind,
    /// Window, minimum sample and thresholds.
    pub config: MonitorConfig,
    /// Evaluated on the schedule when set.
    pub enabled: bool,
    /// Last change (µs) and by whom.
    pub updated_at: i64,
    /// Who changed it last.
    pub updated_by: String,
}

impl TryFrom<MonitorRow> for Monitor {
    type Error = Error;
    fn try_from(row: MonitorRow) -> Result<Self> {
        let kind = row.kind.parse().map_err(|e| Error::Inconsistent(format!("stored monitor {}: {e}", row.name)))?;
        Ok(Monitor {
            config: serde_json::from_value(row.config).map_err(|e| Error::json("stored monitor config", e))?,
            model: row.model_name,
            name: row.name,
            kind,
            enabled: row.enabled,
            updated_at: row.updated_at,
            updated_by: row.updated_by,
        })
    }
}

/// A monitor of `kind` as a model of this tier starts with it: tighter, faster and on smaller samples the
/// higher the risk.
pub fn default_config(tier: RiskTier, kind: MonitorKind) -> MonitorConfig {
    let (window_seconds, min_decisions) = match tier {
        RiskTier::High => (300, 200),
        RiskTier::Medium => (600, 300),
        RiskTier::Low => (1800, 500),
    };
    let row = |high: (f64, f64), medium: (f64, f64), low: (f64, f64)| match tier {
        RiskTier::High => high,
        RiskTier::Medium => medium,
        RiskTier::Low => low,
    };
    let ((warn, alert), window_seconds, window_decisions, min_decisions) = match kind {
        MonitorKind::FeatureDrift | MonitorKind::ScoreDrift => {
            (row((0.10, 0.20), (0.10, 0.25), (0.15, 0.30)), window_seconds, None, min_decisions)
        }
        // The error's scale is the data's: the bands are learned (below) from reference chunks of the window's
        // size (a chunk's mean error varies less the larger it is), the static ones unused.
        MonitorKind::MultivariateDrift => ((0.0, 0.0), 3600, Some(1_000), 1_000),
        // PSI of the contributions, on drift's bands; hourly, over the last hour's decisions.
        MonitorKind::ExplanationDrift => (row((0.10, 0.20), (0.10, 0.25), (0.15, 0.30)), 3600, None, min_decisions),
        MonitorKind::DataQuality => {
            (row((0.02, 0.05), (0.05, 0.10), (0.05, 0.10)), window_seconds, None, min_decisions)
        }
        // The gate's minimum AUC for the tier, and 0.05 below it; the newest 1,000 labelled decisions.
        MonitorKind::Performance | MonitorKind::EstimatedPerformance => {
            (row((0.75, 0.70), (0.70, 0.65), (0.65, 0.60)), 3600, Some(1_000), min_decisions)
        }
        // The four-fifths rule.
        MonitorKind::Fairness => ((0.9, 0.8), window_seconds, None, min_decisions),
        MonitorKind::MoneyAtRisk => {
            (row((0.10, 0.20), (0.10, 0.25), (0.15, 0.30)), window_seconds, None, min_decisions)
        }
        MonitorKind::Integrity => ((1.0, 1.0), 60, None, 1),
        // Days to the due date (lower is worse): a warning 30 days ahead, an alert once it is past; hourly.
        MonitorKind::Revalidation => ((30.0, 0.0), 3600, None, 1),
        // A tenth of reviewed decisions overridden is a warning, a fifth an alert (high tier), over 30 days of
        // reviews, once at least 20 to 50 decisions were reviewed.
        MonitorKind::OverrideRate => (
            row((0.10, 0.20), (0.15, 0.25), (0.20, 0.30)),
            30 * 86_400,
            None,
            match tier {
                RiskTier::High => 20,
                RiskTier::Medium => 30,
                RiskTier::Low => 50,
            },
        ),
    };
    MonitorConfig {
        window_seconds,
        window_decisions,
        min_decisions,
        statistic: None,
        warn,
        alert,
        // NannyML's bands: the reference chunks' mean ± 3σ.
        learned: (kind == MonitorKind::MultivariateDrift).then_some(LearnedThresholds { k: 3.0, chunk_size: None }),
        features: None,
        attribute: None,
        target: None,
        bad_value: None,
        consecutive: default_consecutive(),
        resolve_after: default_resolve_after(),
        segment_by: None,
        max_segments: None,
        min_segment_decisions: None,
        action: default_action(),
    }
}

/// A default monitor of a regression model: its figure on realized values, `statistic` with (`warn`, `alert`),
/// over the newest 1,000 decisions with a realized value.
fn regression_default(config: MonitorConfig, statistic: &str, (warn, alert): (f64, f64)) -> MonitorConfig {
    MonitorConfig {
        statistic: Some(statistic.to_owned()),
        warn,
        alert,
        window_seconds: MAX_OUTCOME_WINDOW_SECONDS,
        window_decisions: Some(1_000),
        ..config
    }
}

/// The monitors every deployed model of this tier gets.
pub fn defaults(tier: RiskTier) -> Vec<(MonitorKind, MonitorConfig)> {
    [
        MonitorKind::FeatureDrift,
        MonitorKind::ScoreDrift,
        MonitorKind::DataQuality,
        MonitorKind::Performance,
        MonitorKind::Integrity,
        MonitorKind::Revalidation,
        MonitorKind::OverrideRate,
    ]
    .into_iter()
    .map(|kind| (kind, default_config(tier, kind)))
    .collect()
}

fn row(
    model: &str,
    name: &str,
    kind: MonitorKind,
    config: &MonitorConfig,
    enabled: bool,
    at: i64,
    by: &str,
) -> MonitorRow {
    MonitorRow {
        model_name: model.into(),
        name: name.into(),
        kind: kind.as_str().into(),
        config: serde_json::to_value(config).expect("a config serialises"),
        enabled,
        updated_at: at,
        updated_by: by.into(),
    }
}

/// The model's monitors still on `from`'s defaults, set to `to`'s (a fairness monitor keeps its attribute);
/// monitors someone tuned are left out. The caller writes them with the tier change, each only if its settings
/// are still those read here.
pub(crate) async fn retuned_for_tier(
    warden: &Oversight,
    model: &str,
    from: RiskTier,
    to: RiskTier,
    at: i64,
    by: &str,
) -> Result<Vec<MonitorRetune>> {
    let mut retuned = Vec::new();
    for stored in warden.metadata.monitors(Some(model)).await? {
        let (enabled, read) = (stored.enabled, stored.config.clone());
        let monitor = Monitor::try_from(stored)?;
        let attribute = monitor.config.attribute.clone();
        let default = |tier| MonitorConfig { attribute: attribute.clone(), ..default_config(tier, monitor.kind) };
        if monitor.config == default(from) && default(from) != default(to) {
            let monitor = row(model, &monitor.name, monitor.kind, &default(to), enabled, at, by);
            retuned.push(MonitorRetune { monitor, from: read });
        }
    }
    Ok(retuned)
}

/// Gives a model its tier's default monitors unless it has monitors already (a first deployment); besides
/// the tier's, a fairness monitor per protected attribute of the deployed version (declared at registration
/// or validated), and money at risk when the version prices its approvals (LGD and exposure column).
pub(crate) async fn ensure_defaults(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    version: &warden_registry::registry::Version,
) -> Result<()> {
    let existing = warden.metadata.monitors(Some(model)).await?;
    if !existing.is_empty() {
        // A model deployed before the revalidation or override-rate monitor existed gets it at its next promotion.
        for kind in [MonitorKind::Revalidation, MonitorKind::OverrideRate] {
            if existing.iter().any(|m| m.kind == kind.as_str() || m.name == kind.as_str()) {
                continue;
            }
            let tier = get_model(warden, caller, model).await?.input.risk_tier;
            let config = default_config(tier, kind);
            let name = kind.as_str();
            let monitor = row(model, name, kind, &config, true, warden.now(), &caller.actor());
            let payload = json!({ "kind": kind, "config": config });
            let event = audit(warden, caller, "monitor.default", format!("model/{model}/monitor/{name}"), payload);
            warden.metadata.put_monitor(monitor, Some(event)).await?;
        }
        return Ok(());
    }
    let tier = get_model(warden, caller, model).await?.input.risk_tier;
    let mut monitors: Vec<(String, MonitorKind, MonitorConfig)> =
        defaults(tier).into_iter().map(|(kind, config)| (kind.as_str().to_owned(), kind, config)).collect();
    let mut protected: Vec<String> = version.protected.clone();
    if let Some(report) = crate::validation::latest_report(warden, model, version.number).await? {
        protected.extend(report.fairness.keys().cloned());
    }
    protected.sort();
    protected.dedup();
    for attribute in protected {
        let config =
            MonitorConfig { attribute: Some(attribute.clone()), ..default_config(tier, MonitorKind::Fairness) };
        monitors.push((format!("fairness_{attribute}"), MonitorKind::Fairness, config));
    }
    if version.serving.task.is_multiclass() {
        // A multiclass classifier's decisions are classes: it drifts in the classes it decides, performs by its
        // macro AUC on realized classes (at its tier's AUC bands), and has no approvals to compare across groups
        // (its validation reports each class's parity).
        monitors.retain(|(_, kind, _)| *kind != MonitorKind::Fairness);
        for (_, kind, config) in &mut monitors {
            match kind {
                MonitorKind::Performance => config.statistic = Some("macro_auc".into()),
                MonitorKind::ScoreDrift => config.statistic = Some("class_psi".into()),
                _ => {}
            }
        }
    } else if version.serving.task == warden_core::ModelTask::Regression {
        // A predicted value is judged on realized values: R² and the expected-loss error, at the default gate's
        // limits (R² at least 0.5, the expected-loss error at most a tenth of the realized loss).
        for (name, kind, config) in &mut monitors {
            if *kind == MonitorKind::Performance {
                *config = regression_default(config.clone(), "r2", (0.6, 0.5));
                *name = "performance".into();
            }
        }
        let money =
            regression_default(default_config(tier, MonitorKind::MoneyAtRisk), "expected_loss_error", (0.05, 0.10));
        monitors.push(("money_at_risk".into(), MonitorKind::MoneyAtRisk, money));
    } else if version.serving.lgd.is_some() && version.serving.exposure_column.is_some() {
        monitors.push((
            "money_at_risk".into(),
            MonitorKind::MoneyAtRisk,
            default_config(tier, MonitorKind::MoneyAtRisk),
        ));
    }
    for (name, kind, config) in monitors {
        if warden_registry::registry::validate_name("monitor", &name).is_err() {
            continue;
        }
        let monitor = row(model, &name, kind, &config, true, warden.now(), &caller.actor());
        let event = audit(
            warden,
            caller,
            "monitor.default",
            format!("model/{model}/monitor/{name}"),
            json!({ "kind": kind, "config": config }),
        );
        warden.metadata.put_monitor(monitor, Some(event)).await?;
    }
    Ok(())
}

/// A model's monitors.
pub async fn list(warden: &Oversight, caller: &Principal, model: &str) -> Result<Vec<Monitor>> {
    caller.require(Permission::ReadRegistry)?;
    get_model(warden, caller, model).await?;
    warden.metadata.monitors(Some(model)).await?.into_iter().map(Monitor::try_from).collect()
}

/// What `set` changes; unset fields keep their value (or the tier default for a new monitor).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorChange {
    /// What it watches (a new monitor needs it unless its name is a kind). Text, so that an unknown kind is
    /// refused with the allowed ones named (422), not as a malformed body.
    pub kind: Option<String>,
    /// Seconds of recent traffic.
    pub window_seconds: Option<i64>,
    /// Evaluate the newest decisions instead (0 goes back to the time window).
    pub window_decisions: Option<u64>,
    /// Minimum decisions.
    pub min_decisions: Option<u64>,
    /// The figure watched.
    pub statistic: Option<String>,
    /// Warn threshold.
    pub warn: Option<f64>,
    /// Alert threshold.
    pub alert: Option<f64>,
    /// Learn the bands from the reference (`k`, optional `chunk_size`); `{"k": 0}` goes back to static bands.
    pub learned: Option<LearnedThresholds>,
    /// Only these features.
    pub features: Option<Vec<String>>,
    /// Fairness: the attribute whose groups are compared.
    pub attribute: Option<String>,
    /// The reference data's outcome column.
    pub target: Option<String>,
    /// The outcome value meaning the event happened.
    pub bad_value: Option<String>,
    /// Evaluations in a row that must breach before an alert fires.
    pub consecutive: Option<u32>,
    /// Clean evaluations in a row before an open alert resolves.
    pub resolve_after: Option<u32>,
    /// Split by this attribute or feature (`""`: no longer split).
    pub segment_by: Option<String>,
    /// Most segments with figures of their own.
    pub max_segments: Option<u32>,
    /// Below this many decisions a segment is insufficient.
    pub min_segment_decisions: Option<u64>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// `notify`, `rollback`, `stop_canary` or `retrain`.
    pub action: Option<String>,
}

/// Creates or changes a monitor (validator, risk officer, admin); audited.
pub async fn set(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    name: &str,
    change: MonitorChange,
) -> Result<Monitor> {
    caller.require(Permission::ManageMonitors)?;
    warden_registry::registry::validate_name("monitor", name)?;
    let tier = get_model(warden, caller, model).await?.input.risk_tier;
    let existing = warden.metadata.monitors(Some(model)).await?.into_iter().find(|m| m.name == name);
    let (kind, mut config, enabled) = match existing {
        Some(m) => {
            let monitor = Monitor::try_from(m)?;
            (monitor.kind, monitor.config, monitor.enabled)
        }
        None => {
            let kind: MonitorKind = match &change.kind {
                Some(kind) => kind.parse().map_err(|_| {
                    Error::invalid(format!(
                        "unknown monitor kind '{kind}' (expected {})",
                        MonitorKind::NAMES.join(", ")
                    ))
                })?,
                None => name.parse().map_err(|_| {
                    Error::invalid(format!("a new monitor needs a kind ({})", MonitorKind::NAMES.join(", ")))
                })?,
            };
            let config = default_config(tier, kind);
            (kind, config, true)
        }
    };
    if let Some(new_kind) = change.kind.as_deref()
        && new_kind != kind.as_str()
    {
        return Err(Error::invalid(format!("monitor '{name}' is a {kind} monitor; make a new one for {new_kind}")));
    }
    if let Some(v) = change.window_seconds {
        config.window_seconds = v;
    }
    if let Some(v) = change.window_decisions {
        config.window_decisions = (v > 0).then_some(v);
    }
    if let Some(v) = change.min_decisions {
        config.min_decisions = v;
    }
    if let Some(v) = change.statistic.clone() {
        config.statistic = Some(v);
    }
    if let Some(v) = change.warn {
        config.warn = v;
    }
    if let Some(v) = change.alert {
        config.alert = v;
    }
    if let Some(v) = change.learned.clone() {
        config.learned = (v.k != 0.0).then_some(v);
    }
    if let Some(v) = change.features.clone() {
        config.features = Some(v);
    }
    if let Some(v) = change.attribute.clone() {
        config.attribute = Some(v);
    }
    if let Some(v) = change.target.clone() {
        config.target = Some(v);
    }
    if let Some(v) = change.bad_value.clone() {
        config.bad_value = Some(v);
    }
    if let Some(v) = change.action.clone() {
        config.action = v;
    }
    if let Some(v) = change.consecutive {
        config.consecutive = v;
    }
    if let Some(v) = change.resolve_after {
        config.resolve_after = v;
    }
    if let Some(v) = change.segment_by.clone() {
        config.segment_by = (!v.is_empty()).then_some(v);
    }
    if let Some(v) = change.max_segments {
        config.max_segments = Some(v);
    }
    if let Some(v) = change.min_segment_decisions {
        config.min_segment_decisions = Some(v);
    }
    config.check(kind)?;
    let enabled = change.enabled.unwrap_or(enabled);
    let stored = row(model, name, kind, &config, enabled, warden.now(), &caller.actor());
    let event = audit(
        warden,
        caller,
        if enabled { "monitor.set" } else { "monitor.disable" },
        format!("model/{model}/monitor/{name}"),
        json!({ "kind": kind, "config": config, "enabled": enabled }),
    );
    warden.metadata.put_monitor(stored.clone(), Some(event)).await?.try_into()
}

/// The bands one value is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Bands {
    warn: f64,
    alert: f64,
    lower_is_worse: bool,
    /// Learned bands are crossed when the value lies beyond them; static ones at the threshold.
    learned: bool,
}

impl Bands {
    pub(crate) fn of(monitor: &Monitor) -> Bands {
        let c = &monitor.config;
        Bands {
            warn: c.warn,
            alert: c.alert,
            lower_is_worse: lower_is_worse(monitor.kind, c.statistic(monitor.kind)),
            learned: false,
        }
    }

    pub(crate) fn status(&self, v: f64) -> &'static str {
        let beyond = |limit: f64| match (self.lower_is_worse, self.learned) {
            (true, true) => v < limit,
            (true, false) => v <= limit,
            (false, true) => v > limit,
            (false, false) => v >= limit,
        };
        if beyond(self.alert) {
            "alert"
        } else if beyond(self.warn) {
            "warn"
        } else {
            "ok"
        }
    }
}

/// What a monitor setting draws from a version's reference data, computed once per version and setting.
#[derive(Debug, Default)]
pub(crate) struct Learned {
    /// Bands per key (feature, `score`, attribute or `model`) when thresholds are learned.
    bands: BTreeMap<String, Bands>,
    /// Reference chunks the bands came from, and their size.
    chunks: usize,
    chunk_size: usize,
    /// The whole reference's expected loss per decision (money at risk's baseline).
    baseline: Option<f64>,
    /// CBPE fitted on the labelled reference.
    cbpe: Option<CbpeModel>,
    /// A multiclass classifier's CBPE fitted on the labelled reference (its realized classes).
    multiclass_cbpe: Option<MulticlassCbpeModel>,
    /// A regression's direct loss estimation fitted on the reference's realized values.
    dle: Option<LiveDle>,
    /// The multivariate model fitted on the reference and installed on the version's windows: its key, the
    /// components kept and the share of variance they explain.
    reconstruction: Option<(String, usize, f64)>,
    /// An explanation-drift monitor's baseline: each feature's contributions on the reference.
    explanations: BTreeMap<String, ContributionBaseline>,
    /// A segmented monitor's baselines: the reference rows of each segment, replayed through the windows.
    segment_baselines: BTreeMap<String, warden_serving::decision_log::SegmentWindows>,
    /// Why something could not be learned.
    problem: Option<String>,
}

/// One feature's contributions on the reference: their decile edges, the reference's counts in those bins,
/// and their mean absolute value.
#[derive(Debug, Clone)]
struct ContributionBaseline {
    edges: Vec<f64>,
    counts: Vec<u64>,
    mean_abs: f64,
}

impl ContributionBaseline {
    /// Each feature's baseline from the explained rows (rows that could not be explained left out).
    fn of(explained: &[Option<BTreeMap<String, f64>>]) -> BTreeMap<String, ContributionBaseline> {
        let mut by_feature: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for row in explained.iter().flatten() {
            for (feature, c) in row {
                by_feature.entry(feature.clone()).or_default().push(*c);
            }
        }
        by_feature
            .into_iter()
            .map(|(feature, mut values)| {
                values.sort_by(f64::total_cmp);
                let edges = warden_stats::quantile::decile_edges_sorted(&values);
                let counts = warden_stats::quantile::bin_counts_sorted(&values, &edges);
                let mean_abs = values.iter().map(|v| v.abs()).sum::<f64>() / values.len() as f64;
                (feature, ContributionBaseline { edges, counts, mean_abs })
            })
            .collect()
    }
}

/// Values of an explanation-drift monitor: per feature, the PSI of the window's contributions over the
/// reference's contribution deciles, or the relative shift of their mean absolute value.
fn explanation_values(
    monitor: &Monitor,
    explained: &[Option<BTreeMap<String, f64>>],
    learned: &Learned,
) -> std::result::Result<Values, String> {
    if learned.explanations.is_empty() {
        return Err(learned.problem.clone().unwrap_or_else(|| "the reference could not be explained".into()));
    }
    let statistic = monitor.config.statistic(monitor.kind);
    let rows: Vec<&BTreeMap<String, f64>> = explained.iter().flatten().collect();
    let mut values = Values::new();
    for (feature, baseline) in &learned.explanations {
        if monitor.config.features.as_ref().is_some_and(|only| !only.contains(feature)) {
            continue;
        }
        let mut live: Vec<f64> = rows.iter().filter_map(|r| r.get(feature).copied()).collect();
        live.sort_by(f64::total_cmp);
        let (psi, shift, mean_abs) = if live.is_empty() {
            (None, None, None)
        } else {
            let counts = warden_stats::quantile::bin_counts_sorted(&live, &baseline.edges);
            let psi = warden_stats::drift::binned_psi(&baseline.counts, 0, &counts, 0);
            let mean_abs = live.iter().map(|v| v.abs()).sum::<f64>() / live.len() as f64;
            let shift = (baseline.mean_abs > 0.0).then(|| (mean_abs - baseline.mean_abs).abs() / baseline.mean_abs);
            (Some(psi), shift, Some(mean_abs))
        };
        let value = if statistic == "mean_abs_shift" { shift } else { psi };
        let figures = json!({
            "psi": psi,
            "mean_abs_shift": shift,
            "window_mean_abs": mean_abs,
            "reference_mean_abs": baseline.mean_abs,
            "sample": live.len(),
        });
        values.insert(feature.clone(), (value, figures));
    }
    Ok(values)
}

/// One decision with what outcome-based figures need.
#[derive(Debug, Clone)]
struct Labelled {
    /// The version's features as text, in its schema's order, when a regression's loss models read them.
    cells: Vec<Option<String>>,
    score: f64,
    label: Option<bool>,
    group: Option<String>,
    amount: Option<f64>,
    /// The realized value a regression model predicted.
    value: Option<f64>,
    /// The exposure column's value.
    exposure: Option<f64>,
    /// A multiclass decision's class probabilities (empty otherwise).
    probabilities: Vec<f64>,
    /// The realized class of a multiclass decision, as an index into its version's classes (an outcome naming
    /// no class of the version has none).
    class: Option<usize>,
}

/// Per key: the value (or none) and the figures behind it.
type Values = BTreeMap<String, (Option<f64>, Value)>;

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Rows read back from the log with their encrypted personal fields opened (a value that does not open stays
/// as it is), so a fairness group or an exposure reads as it was scored.
fn revealed_outcomes(warden: &Oversight, mut rows: Vec<ScoredOutcome>) -> Vec<ScoredOutcome> {
    for row in &mut rows {
        open_personal(warden, [&mut row.features, &mut row.attributes]);
    }
    rows
}

/// Opens the encrypted values of a stored decision's features and attributes.
fn open_personal(warden: &Oversight, objects: [&mut Value; 2]) {
    for values in objects {
        if let Value::Object(values) = values {
            warden.personal_data_key.reveal_what_opens(values);
        }
    }
}

fn labelled_from_log(
    rows: Vec<ScoredOutcome>,
    kind: MonitorKind,
    config: &MonitorConfig,
    version: &LoadedVersion,
) -> Vec<Labelled> {
    let exposure = version.version.serving.exposure_column.as_deref();
    let classes = &version.version.serving.classes;
    let field = |row: &ScoredOutcome, name: &str| row.attributes.get(name).or_else(|| row.features.get(name)).cloned();
    rows.into_iter()
        .map(|row| Labelled {
            cells: if reads_loss_inputs(kind, config) {
                version.version.feature_schema.iter().map(|f| row.features.get(&f.name).and_then(text_of)).collect()
            } else {
                Vec::new()
            },
            score: row.score,
            label: row.label,
            group: config.attribute.as_deref().and_then(|a| field(&row, a)).as_ref().and_then(text_of),
            amount: row.amount.or_else(|| exposure.and_then(|e| field(&row, e)).and_then(|v| v.as_f64())),
            value: row.value,
            exposure: exposure.and_then(|e| field(&row, e)).and_then(|v| v.as_f64()),
            class: row.class.as_deref().and_then(|c| classes.iter().position(|k| k == c)),
            probabilities: row.probabilities,
        })
        .collect()
}

/// The reference rows with their outcomes from the `target` column.
fn labelled_reference(
    version: &LoadedVersion,
    kind: MonitorKind,
    config: &MonitorConfig,
) -> std::result::Result<Vec<Labelled>, String> {
    let reference = &version.reference;
    let target = config.target.as_deref().or(version.version.target.as_deref()).ok_or(
        "outcome-based figures learn from the reference data's outcomes: the version has no target column; set the monitor's",
    )?;
    if !reference.others.contains_key(target) {
        return Err(format!("the reference data has no column '{target}'"));
    }
    let bad = config.bad_value.as_deref().unwrap_or("1");
    let exposure = version.version.serving.exposure_column.as_deref();
    let classes = &version.version.serving.classes;
    Ok((0..reference.len())
        .filter(|&i| reference.scores[i].is_finite())
        .map(|i| Labelled {
            cells: if reads_loss_inputs(kind, config) {
                version.version.feature_schema.iter().map(|f| reference.text(&f.name, i)).collect()
            } else {
                Vec::new()
            },
            score: reference.scores[i],
            label: reference
                .text(target, i)
                .map(|v| v == bad || v.parse::<f64>().ok().zip(bad.parse::<f64>().ok()).is_some_and(|(v, b)| v == b)),
            group: config.attribute.as_deref().and_then(|a| reference.text(a, i)),
            amount: exposure.and_then(|e| reference.number(e, i)),
            value: reference.number(target, i),
            exposure: exposure.and_then(|e| reference.number(e, i)),
            probabilities: reference.probabilities.get(i).cloned().unwrap_or_default(),
            class: reference.text(target, i).and_then(|c| classes.iter().position(|k| *k == c)),
        })
        .collect())
}

/// A multiclass classifier's rows as `warden_stats` takes them: each one's class probabilities, decided class
/// and realized class.
struct ClassColumns {
    probabilities: Vec<Vec<f64>>,
    decided: Vec<usize>,
    realized: Vec<usize>,
}

impl ClassColumns {
    /// The rows with a probability for each of `classes` (and, when `realized`, a realized class of the version).
    fn of(rows: &[Labelled], classes: usize, realized: bool) -> ClassColumns {
        let kept: Vec<&Labelled> =
            rows.iter().filter(|r| r.probabilities.len() == classes && (!realized || r.class.is_some())).collect();
        let probabilities: Vec<Vec<f64>> = kept.iter().map(|r| r.probabilities.clone()).collect();
        ClassColumns {
            decided: probabilities.iter().map(|p| warden_models::predicted_class(p).unwrap_or(0)).collect(),
            realized: kept.iter().filter_map(|r| r.class).collect(),
            probabilities,
        }
    }

    /// CBPE's view of them, with their outcomes when `labelled`.
    fn rows(&self, labelled: bool) -> ClassRows<'_> {
        ClassRows {
            probabilities: &self.probabilities,
            predictions: &self.decided,
            labels: labelled.then_some(self.realized.as_slice()),
        }
    }
}

/// A fitted CBPE's alert thresholds for a monitor's statistic.
fn thresholds_of<E>(
    metrics: &[(CbpeMetric, E, warden_stats::cbpe::Thresholds)],
    statistic: &str,
) -> warden_stats::cbpe::Thresholds {
    let wanted = cbpe_metric(statistic);
    metrics.iter().find(|m| m.0 == wanted).map(|m| m.2).expect("every metric is fitted")
}

/// Values of a live-window figure.
fn live_values(monitor: &Monitor, drift: &LiveDrift, learned: &Learned) -> std::result::Result<Values, String> {
    let config = &monitor.config;
    let statistic = config.statistic(monitor.kind);
    let mut values = Values::new();
    match monitor.kind {
        MonitorKind::FeatureDrift | MonitorKind::DataQuality => {
            for (name, f) in &drift.features {
                if config.features.as_ref().is_some_and(|only| !only.contains(name)) {
                    continue;
                }
                let value = match (monitor.kind, statistic) {
                    (MonitorKind::FeatureDrift, "jensen_shannon") => f.jensen_shannon,
                    (MonitorKind::FeatureDrift, _) => f.psi,
                    _ => quality_value(f),
                };
                let mut figures = json!(f);
                if monitor.kind == MonitorKind::DataQuality {
                    // The distribution is the drift monitor's to keep.
                    figures.as_object_mut().map(|o| o.remove("window"));
                }
                values.insert(name.clone(), (value, figures));
            }
            if monitor.kind == MonitorKind::DataQuality {
                // Schema violations: the share of requests the version's checks refused.
                let asked = drift.refused + drift.decisions;
                let share = (asked > 0).then(|| drift.refused as f64 / asked as f64);
                let figures = json!({"refused": drift.refused, "fields": drift.refused_fields, "sample": asked});
                values.insert(SCHEMA_KEY.into(), (share, figures));
            }
        }
        MonitorKind::MultivariateDrift => {
            let (key, components, explained) = learned.reconstruction.clone().ok_or_else(|| {
                learned.problem.clone().unwrap_or_else(|| "no multivariate model was fitted on the reference".into())
            })?;
            let window = drift.reconstruction.get(&key).copied().unwrap_or_default();
            let figures = window.chunk();
            let mut details = json!({
                "sample": window.count,
                "components": components,
                "explained_variance": explained,
                "features": key.split('\u{1f}').collect::<Vec<_>>(),
            });
            if let Some(f) = &figures {
                details["sampling_error"] = json!(f.sampling_error.is_finite().then_some(f.sampling_error));
                details["upper_confidence_boundary"] =
                    json!(f.upper_confidence_boundary.is_finite().then_some(f.upper_confidence_boundary));
                details["lower_confidence_boundary"] =
                    json!(f.lower_confidence_boundary.is_finite().then_some(f.lower_confidence_boundary));
            }
            values.insert("model".into(), (figures.map(|f| f.value).filter(|v| v.is_finite()), details));
        }
        MonitorKind::ScoreDrift if statistic == "class_psi" => {
            let figures = json!({"class_psi": drift.class_psi, "classes": drift.classes});
            values.insert("classes".into(), (drift.class_psi, figures));
        }
        MonitorKind::ScoreDrift => {
            let value = if statistic == "jensen_shannon" { drift.score_jensen_shannon } else { drift.score_psi };
            let figures = json!({"psi": drift.score_psi, "jensen_shannon": drift.score_jensen_shannon});
            values.insert("score".into(), (value, figures));
        }
        MonitorKind::Fairness => {
            let attribute = config.attribute.clone().unwrap_or_default();
            let groups = drift.approvals.get(&attribute);
            let min_group = (config.min_decisions / 10).max(1);
            let value = groups.and_then(|g| g.rate_ratio(min_group));
            let figures = json!({
                "groups": groups.map(|g| &g.groups),
                "min_group_decisions": min_group,
                "approval_rate": drift.approval_rate,
            });
            values.insert(attribute, (value, figures));
        }
        MonitorKind::MoneyAtRisk => {
            let live = drift.expected_loss.ok_or("the version has no LGD and exposure column to price approvals")?;
            let baseline = learned.baseline.filter(|b| *b > 0.0).ok_or("the reference's expected loss is zero")?;
            let figures = json!({"expected_loss_per_decision": live, "reference_per_decision": baseline});
            values.insert("model".into(), (Some(live / baseline - 1.0), figures));
        }
        other => return Err(format!("'{other}' is not a live-window figure")),
    }
    Ok(values)
}

fn quality_value(f: &LiveFeatureDrift) -> Option<f64> {
    let missing_increase = (f.missing_rate - f.reference_missing_rate).max(0.0);
    Some(
        [missing_increase, f.out_of_range_rate.unwrap_or(0.0), f.unseen_rate.unwrap_or(0.0)]
            .into_iter()
            .fold(0.0, f64::max),
    )
}

/// Values of an outcome-based figure over some decisions.
fn outcome_values(
    monitor: &Monitor,
    rows: &[Labelled],
    serving: &ServingConfig,
    learned: &Learned,
) -> std::result::Result<Values, String> {
    let threshold = serving.threshold;
    let config = &monitor.config;
    let statistic = config.statistic(monitor.kind);
    let labelled: Vec<&Labelled> = rows.iter().filter(|r| r.label.is_some()).collect();
    let labels: Vec<bool> = labelled.iter().map(|r| r.label == Some(true)).collect();
    let scores: Vec<f64> = labelled.iter().map(|r| r.score).collect();
    let mut values = Values::new();
    // A regression model's figures: the decisions whose outcome carries the realized value.
    let valued: Vec<&Labelled> = rows.iter().filter(|r| r.value.is_some()).collect();
    let actual: Vec<f64> = valued.iter().filter_map(|r| r.value).collect();
    let predicted: Vec<f64> = valued.iter().map(|r| r.score).collect();
    match (monitor.kind, statistic) {
        (MonitorKind::Performance, metric @ ("accuracy" | "macro_auc" | "macro_f1")) => {
            // The decisions whose outcome names one of the version's classes.
            let classed = ClassColumns::of(rows, serving.classes.len(), true);
            let m = warden_stats::multiclass::multiclass_metrics(
                serving.classes.len(),
                &classed.realized,
                &classed.decided,
                &classed.probabilities,
            );
            let value = m.as_ref().and_then(|m| match metric {
                "accuracy" => Some(m.accuracy),
                "macro_f1" => Some(m.f1_macro),
                _ => m.auc_macro,
            });
            let figures = json!({
                "with_classes": classed.decided.len(), "sample": classed.decided.len(),
                "without_a_known_class": rows.iter().filter(|r| r.label.is_some() && r.class.is_none()).count(),
                "classes": serving.classes, "figures": m,
            });
            values.insert("model".into(), (value, figures));
        }
        (MonitorKind::Performance, metric @ ("mae" | "rmse" | "mape" | "r2")) => {
            let figures = warden_stats::regression::regression_metrics(&actual, &predicted);
            let value = figures.map(|f| match metric {
                "mae" => f.mae,
                "rmse" => f.rmse,
                "mape" => f.mape,
                _ => f.r2,
            });
            let figures = json!({"with_values": valued.len(), "sample": valued.len(), "figures": figures});
            values.insert("model".into(), (value, figures));
        }
        (MonitorKind::MoneyAtRisk, "expected_loss_error") => {
            // Each decision's error in money: a predicted rate (an LGD model's) weighs by the decision's
            // exposure when the version names an exposure column; a predicted amount (EAD, a fraud loss) is money.
            let weight = |r: &Labelled| if serving.exposure_column.is_some() { r.exposure.unwrap_or(0.0) } else { 1.0 };
            let (mut predicted_loss, mut realized_loss) = (0.0, 0.0);
            for r in &valued {
                predicted_loss += r.score * weight(r);
                realized_loss += r.value.unwrap_or_default() * weight(r);
            }
            let error = predicted_loss - realized_loss;
            let value = (realized_loss > 0.0).then(|| error.abs() / realized_loss);
            let figures = json!({
                "with_values": valued.len(), "sample": valued.len(), "predicted_loss": predicted_loss,
                "realized_loss": realized_loss, "error": error, "under_provisioned": error < 0.0,
            });
            values.insert("model".into(), (value, figures));
        }
        (MonitorKind::Performance, metric) => {
            let value = match metric {
                "auc" => warden_stats::metrics::roc_auc(&labels, &scores),
                "brier" => (!scores.is_empty()).then(|| {
                    scores.iter().zip(&labels).map(|(s, &y)| (s - f64::from(u8::from(y))).powi(2)).sum::<f64>()
                        / scores.len() as f64
                }),
                _ => {
                    (!scores.is_empty()).then(|| warden_stats::metrics::expected_calibration_error(&labels, &scores).0)
                }
            };
            let bad = labels.iter().filter(|&&y| y).count();
            values.insert("model".into(), (value, json!({"labelled": labels.len(), "bad": bad})));
        }
        (MonitorKind::EstimatedPerformance, metric) if loss_metric(metric).is_some() => {
            let dle = learned.dle.as_ref().ok_or_else(|| {
                learned.problem.clone().unwrap_or_else(|| "DLE could not be fitted on the reference".into())
            })?;
            let estimate = (!rows.is_empty())
                .then(|| dle.estimate(loss_metric(metric).expect("a loss metric"), rows))
                .transpose()?;
            values.insert("model".into(), (estimate.as_ref().map(|e| e.value), json!(estimate)));
        }
        (MonitorKind::EstimatedPerformance, metric) if !serving.classes.is_empty() => {
            let cbpe = learned.multiclass_cbpe.as_ref().ok_or_else(|| {
                learned.problem.clone().unwrap_or_else(|| "multiclass CBPE could not be fitted on the reference".into())
            })?;
            let scored = ClassColumns::of(rows, cbpe.classes, false);
            let wanted = cbpe_metric(metric);
            let estimate = (!scored.decided.is_empty())
                .then(|| cbpe.estimate(scored.rows(false)))
                .transpose()
                .map_err(|e| e.to_string())?
                .and_then(|estimates| estimates.into_iter().find(|e| e.metric == wanted));
            values.insert("model".into(), (estimate.as_ref().map(|e| e.value), json!(estimate)));
        }
        (MonitorKind::EstimatedPerformance, metric) => {
            let cbpe = learned.cbpe.as_ref().ok_or_else(|| {
                learned.problem.clone().unwrap_or_else(|| "CBPE could not be fitted on the reference".into())
            })?;
            let all_scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
            let predictions: Vec<bool> = all_scores.iter().map(|&s| s >= threshold).collect();
            let wanted = cbpe_metric(metric);
            let estimate = (!rows.is_empty())
                .then(|| {
                    cbpe.estimate(ScoredRows { scores: &all_scores, predictions: &predictions, labels: None })
                        .into_iter()
                        .find(|e| e.metric == wanted)
                })
                .flatten();
            values.insert("model".into(), (estimate.as_ref().map(|e| e.value), json!(estimate)));
        }
        (MonitorKind::Fairness, _) => {
            let attribute = config.attribute.clone().unwrap_or_default();
            let grouped: Vec<&&Labelled> = labelled.iter().filter(|r| r.group.is_some()).collect();
            let good: Vec<bool> = grouped.iter().map(|r| r.label == Some(false)).collect();
            let approved: Vec<bool> = grouped.iter().map(|r| r.score < threshold).collect();
            let f = warden_stats::fairness::fairness(
                &good,
                &approved,
                grouped.iter().map(|r| r.group.as_deref().unwrap_or_default()),
            );
            let value = f.as_ref().filter(|f| f.groups.len() >= 2).map(|f| f.equal_opportunity_difference);
            values.insert(attribute, (value, json!(f.map(|f| f.by_group))));
        }
        (MonitorKind::MoneyAtRisk, _) => {
            let bad: Vec<&&Labelled> = labelled.iter().filter(|r| r.label == Some(true)).collect();
            let value_of = |r: &&&Labelled| r.amount.unwrap_or(1.0);
            let total: f64 = bad.iter().map(value_of).sum();
            let missed: f64 = bad.iter().filter(|r| r.score < threshold).map(value_of).sum();
            let value = (total > 0.0).then(|| missed / total);
            values.insert("model".into(), (value, json!({"bad_value": total, "approved_bad_value": missed})));
        }
        (other, _) => return Err(format!("'{other}' is not an outcome-based figure")),
    }
    Ok(values)
}

/// Learns what a monitor setting needs from a version's reference (blocking: replays the reference).
fn learn(monitor: &Monitor, version: &LoadedVersion) -> Learned {
    let config = &monitor.config;
    let kind = monitor.kind;
    let statistic = config.statistic(kind);
    let reference = &version.reference;
    let threshold = version.version.serving.threshold;
    let attributes: Vec<String> = config.attribute.iter().cloned().collect();
    let mut learned = Learned::default();
    if kind == MonitorKind::ExplanationDrift {
        let rows = (0..reference.len().min(MAX_EXPLAINED_REFERENCE_ROWS)).map(|i| reference.row(i)).collect();
        match warden_serving::scoring::contributions_of(version, rows) {
            Ok(explained) => learned.explanations = ContributionBaseline::of(&explained),
            Err(problem) => learned.problem = Some(problem.to_string()),
        }
        return learned;
    }
    if let Some(attribute) = &config.segment_by {
        let max = config.max_segments.unwrap_or(DEFAULT_MAX_SEGMENTS) as usize;
        let seeded = frequent_values(reference, attribute, max);
        let segmentation = warden_serving::decision_log::Segmentation::new(attribute, max, seeded);
        if let Err(problem) = version.live.install_segmentation(segmentation) {
            learned.problem = Some(problem);
            return learned;
        }
        let mut all = version.live.reference_windows(reference, 0..reference.len(), &[]);
        learned.segment_baselines = all.segments.remove(attribute).unwrap_or_default();
    }
    if kind == MonitorKind::MultivariateDrift {
        match fit_reconstruction(config, version) {
            Ok(fitted) => learned.reconstruction = Some(fitted),
            Err(problem) => {
                learned.problem = Some(problem);
                return learned;
            }
        }
    }
    if kind == MonitorKind::MoneyAtRisk {
        let all = version.live.reference_windows(reference, 0..reference.len(), &attributes);
        let drift = warden_serving::scoring::windows_drift(version, all, reference.len() as u64, 0, None);
        learned.baseline = drift.expected_loss;
    }
    let outcomes = reads_outcomes(kind, statistic);
    // The labelled reference is read only for what uses it: CBPE and learned bands.
    let needs_labels = outcomes && (kind == MonitorKind::EstimatedPerformance || config.learned.is_some());
    let labelled = if needs_labels { Some(labelled_reference(version, kind, config)) } else { None };
    if kind == MonitorKind::EstimatedPerformance && loss_metric(statistic).is_some() {
        match &labelled {
            Some(Ok(rows)) => {
                let names: Vec<String> = version.version.feature_schema.iter().map(|f| f.name.clone()).collect();
                match LiveDle::fit(rows, &names, chunk_size(config, rows.len())) {
                    Ok(dle) => learned.dle = Some(dle),
                    Err(problem) => learned.problem = Some(problem),
                }
            }
            Some(Err(problem)) => learned.problem = Some(problem.clone()),
            None => {}
        }
    } else if kind == MonitorKind::EstimatedPerformance && version.version.serving.task.is_multiclass() {
        match &labelled {
            Some(Ok(rows)) => {
                // The reference rows with one of the version's classes in the target column.
                let classes = &version.version.serving.classes;
                let reference = ClassColumns::of(rows, classes.len(), true);
                let chunk = chunk_size(config, reference.decided.len());
                match warden_registry::task_metrics::fit_multiclass_cbpe(classes, reference.rows(true), chunk) {
                    Ok(cbpe) => learned.multiclass_cbpe = Some(cbpe),
                    Err(problem) => learned.problem = Some(format!("the reference: {problem}")),
                }
            }
            Some(Err(problem)) => learned.problem = Some(problem.clone()),
            None => {}
        }
    } else if kind == MonitorKind::EstimatedPerformance {
        match &labelled {
            Some(Ok(rows)) => {
                let labels: Vec<bool> = rows.iter().map(|r| r.label == Some(true)).collect();
                let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
                let predictions: Vec<bool> = scores.iter().map(|&s| s >= threshold).collect();
                let calibrator = if warden_stats::calibration::needs_calibration(&scores, &labels) {
                    warden_stats::calibration::IsotonicCalibrator::fit(&scores, &labels)
                } else {
                    None
                };
                let chunk = chunk_size(config, rows.len());
                learned.cbpe = CbpeModel::fit(
                    ScoredRows { scores: &scores, predictions: &predictions, labels: Some(&labels) },
                    chunk,
                    calibrator,
                );
            }
            Some(Err(problem)) => learned.problem = Some(problem.clone()),
            None => {}
        }
    }
    let Some(settings) = &config.learned else { return learned };
    let rows = match &labelled {
        Some(Ok(rows)) => rows.len(),
        Some(Err(problem)) => {
            learned.problem = Some(problem.clone());
            return learned;
        }
        None => reference.len(),
    };
    let size = chunk_size(config, rows);
    let chunks = rows / size.max(1);
    learned.chunk_size = size;
    learned.chunks = chunks;
    if chunks < 2 {
        learned.problem = Some(format!(
            "the reference's {rows} rows make fewer than 2 chunks of {size}: thresholds cannot be learned"
        ));
        return learned;
    }
    let mut per_key: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for c in 0..chunks {
        let range = c * size..(c + 1) * size;
        let values = match &labelled {
            Some(Ok(rows)) => outcome_values(monitor, &rows[range], &version.version.serving, &learned),
            _ => {
                let windows = version.live.reference_windows(reference, range, &attributes);
                let drift =
                    warden_serving::scoring::windows_drift(version, windows.clone(), size as u64, 0, Some(&windows));
                live_values(monitor, &drift, &learned)
            }
        };
        match values {
            Ok(values) => {
                for (key, (value, _)) in values {
                    if let Some(v) = value {
                        per_key.entry(key).or_default().push(v);
                    }
                }
            }
            Err(problem) => {
                learned.problem = Some(problem);
                return learned;
            }
        }
    }
    let lower = lower_is_worse(kind, statistic);
    let sign = if lower { -1.0 } else { 1.0 };
    for (key, values) in per_key {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let std = warden_stats::profile::population_std(&values);
        let dle_thresholds = learned.dle.as_ref().zip(loss_metric(statistic)).map(|(dle, metric)| {
            dle.model.metrics.iter().find(|m| m.0 == metric).map(|m| m.2).expect("every metric is fitted")
        });
        if let Some(thresholds) = dle_thresholds {
            // DLE's own thresholds: the realized reference chunks' mean ± 3σ, not below 0; higher is worse.
            let Some((low, high)) = thresholds.band() else {
                learned.problem = thresholds.problem();
                continue;
            };
            // Warn one standard deviation of the reference chunks' estimates below the alert (k − 1 of k).
            let warn = (high - std).max(low);
            learned.bands.insert(key, Bands { warn, alert: high, lower_is_worse: false, learned: true });
            continue;
        }
        let cbpe_thresholds = match (&learned.cbpe, &learned.multiclass_cbpe) {
            (Some(cbpe), _) => Some(thresholds_of(&cbpe.metrics, statistic)),
            (None, Some(cbpe)) => Some(thresholds_of(&cbpe.metrics, statistic)),
            (None, None) => None,
        };
        let bands = match (cbpe_thresholds, kind) {
            // CBPE's own thresholds: the realized reference chunks' mean ± 3σ.
            (Some(thresholds), MonitorKind::EstimatedPerformance) => {
                // A reference too small to calibrate leaves the key without bands: `unavailable`, with the
                // reason, never an alert.
                let Some((low, high)) = thresholds.band() else {
                    learned.problem = thresholds.problem();
                    continue;
                };
                let sigma = (high - low) / 6.0;
                Bands { warn: low + sigma, alert: low, lower_is_worse: true, learned: true }
            }
            _ => Bands {
                warn: mean + sign * (settings.k - 1.0) * std,
                alert: mean + sign * settings.k * std,
                lower_is_worse: lower,
                learned: true,
            },
        };
        learned.bands.insert(key, bands);
    }
    learned
}

/// Fits NannyML's reconstruction model on the version's reference features (the monitor's `features`, else
/// all) and installs it on the version's windows, which fold each decision's error from then on.
fn fit_reconstruction(
    config: &MonitorConfig,
    version: &LoadedVersion,
) -> std::result::Result<(String, usize, f64), String> {
    let texts = version.reference.category_texts();
    let columns: Vec<_> = version
        .reference
        .feature_columns(&texts)
        .into_iter()
        .filter(|(name, _)| config.features.as_ref().is_none_or(|only| only.iter().any(|f| f == name)))
        .collect();
    if let Some(only) = &config.features
        && let Some(unknown) = only.iter().find(|f| !columns.iter().any(|(name, _)| name == f))
    {
        return Err(format!("'{unknown}' is not a feature of the version"));
    }
    let model = warden_stats::reconstruction::ReconstructionModel::fit(
        &columns,
        warden_stats::reconstruction::DEFAULT_VARIANCE_SHARE,
    )
    .map_err(|e| e.to_string())?;
    // The unit separator: no feature name holds it.
    let key = model.names().join("\u{1f}");
    let explained = model.explained_variance_ratio[..model.kept].iter().sum();
    let kept = model.kept;
    version.live.install_reconstruction(&key, Arc::new(model))?;
    Ok((key, kept, explained))
}

/// The DLE metric a statistic names, when it is one.
fn loss_metric(statistic: &str) -> Option<LossMetric> {
    match statistic {
        "mae" => Some(LossMetric::Mae),
        "mse" => Some(LossMetric::Mse),
        "rmse" => Some(LossMetric::Rmse),
        "mape" => Some(LossMetric::Mape),
        _ => None,
    }
}

/// Whether a monitor estimates a regression's performance (DLE), whose loss models read each decision's
/// features.
fn reads_loss_inputs(kind: MonitorKind, config: &MonitorConfig) -> bool {
    kind == MonitorKind::EstimatedPerformance && loss_metric(config.statistic(kind)).is_some()
}

/// Most reference rows a live DLE monitor trains its loss models on (the reference's first).
pub const MAX_LIVE_DLE_ROWS: usize = 100_000;

/// Direct loss estimation for a live regression model: its loss models trained on the reference's realized
/// values (`warden_registry::task_metrics`) and DLE's reference components and thresholds.
#[derive(Debug)]
struct LiveDle {
    model: DleModel,
    encoding: LossEncoding,
    loss_models: BTreeMap<RowLoss, warden_train::gbt::Booster>,
}

impl LiveDle {
    /// Fits on the labelled reference rows (each with its realized value and feature texts).
    fn fit(rows: &[Labelled], names: &[String], chunk_size: usize) -> std::result::Result<LiveDle, String> {
        let rows: Vec<&Labelled> = rows.iter().filter(|r| r.value.is_some()).collect();
        if rows.is_empty() {
            return Err("the reference has no realized values in its target column".into());
        }
        // Training runs in the monitor round: its first rows bound the time (about a second per 100,000 rows
        // and loss model in a release build).
        let rows = &rows[..rows.len().min(MAX_LIVE_DLE_ROWS)];
        let actual: Vec<f64> = rows.iter().filter_map(|r| r.value).collect();
        let predicted: Vec<f64> = rows.iter().map(|r| r.score).collect();
        let model = DleModel::fit(&actual, &predicted, chunk_size).map_err(|e| e.to_string())?;
        let cells = feature_cells(rows, names.len());
        let encoding = LossEncoding::fit(names, &cells);
        let columns = encoding.encode(&"the reference", &cells, &predicted).map_err(|e| e.to_string())?;
        let loss_models = warden_registry::task_metrics::train_loss_models(&columns, &actual, &predicted)
            .map_err(|e| e.to_string())?;
        Ok(LiveDle { model, encoding, loss_models })
    }

    /// The estimate of `metric` over decisions.
    fn estimate(&self, metric: LossMetric, rows: &[Labelled]) -> std::result::Result<DleEstimate, String> {
        let refs: Vec<&Labelled> = rows.iter().collect();
        let cells = feature_cells(&refs, self.encoding.features.len());
        let predicted: Vec<f64> = rows.iter().map(|r| r.score).collect();
        let columns = self.encoding.encode(&"the decision log", &cells, &predicted).map_err(|e| e.to_string())?;
        let losses = warden_registry::task_metrics::row_losses(&self.loss_models, &columns);
        self.model.estimate(metric, &losses[&metric.row_loss()], None).map_err(|e| e.to_string())
    }
}

/// The feature texts of rows, column by column.
fn feature_cells(rows: &[&Labelled], features: usize) -> Vec<Vec<Option<String>>> {
    (0..features).map(|f| rows.iter().map(|r| r.cells.get(f).cloned().flatten()).collect()).collect()
}

fn cbpe_metric(statistic: &str) -> CbpeMetric {
    match statistic {
        "accuracy" => CbpeMetric::Accuracy,
        "precision" => CbpeMetric::Precision,
        "recall" => CbpeMetric::Recall,
        "f1" => CbpeMetric::F1,
        _ => CbpeMetric::RocAuc,
    }
}

fn chunk_size(config: &MonitorConfig, rows: usize) -> usize {
    let chosen = config.learned.as_ref().and_then(|l| l.chunk_size).or(config.window_decisions);
    chosen.map_or_else(|| (rows / 10).max(config.min_decisions as usize), |c| c as usize).max(1)
}

/// Figures learned from loaded versions' reference data, per monitor setting: computed at first use, kept
/// while serving keeps the version loaded. Monitoring owns it; serving only hands out loaded versions.
#[derive(Default)]
pub struct LearnedCache {
    entries: Mutex<HashMap<(String, i64, String), (Weak<LoadedVersion>, Arc<Learned>)>>,
}

impl LearnedCache {
    fn get(&self, version: &Arc<LoadedVersion>, setting: &str) -> Option<Arc<Learned>> {
        let key = (version.version.model.clone(), version.version.number, setting.to_owned());
        let entries = self.entries.lock().expect("learned lock");
        // A version unloaded and loaded again is a new load: what was learned from the old one is not reused.
        entries.get(&key).filter(|(loaded, _)| loaded.as_ptr() == Arc::as_ptr(version)).map(|(_, l)| l.clone())
    }

    fn insert(&self, version: &Arc<LoadedVersion>, setting: &str, learned: Arc<Learned>) {
        let mut entries = self.entries.lock().expect("learned lock");
        // Versions serving unloaded take their learned figures with them.
        entries.retain(|_, (loaded, _)| loaded.strong_count() > 0);
        let key = (version.version.model.clone(), version.version.number, setting.to_owned());
        entries.insert(key, (Arc::downgrade(version), learned));
    }
}

/// What this monitor setting learned from this version's reference (computed at first use).
async fn learned_for(cache: &LearnedCache, monitor: &Monitor, version: &Arc<LoadedVersion>) -> Result<Arc<Learned>> {
    let setting = format!("{}:{}", monitor.kind, serde_json::to_string(&monitor.config).expect("a config serialises"));
    if let Some(found) = cache.get(version, &setting) {
        return Ok(found);
    }
    let (m, v) = (monitor.clone(), version.clone());
    let learned =
        Arc::new(tokio::task::spawn_blocking(move || learn(&m, &v)).await.map_err(|e| Error::task("learning", e))?);
    cache.insert(version, &setting, learned.clone());
    Ok(learned)
}

/// Judges the values: a result per key and overall (the worst key's).
fn judge(
    monitor: &Monitor,
    version: i64,
    at: i64,
    window_start: i64,
    decisions: u64,
    values: std::result::Result<Values, String>,
    learned: &Learned,
) -> MonitorEvaluation {
    let config = &monitor.config;
    let enough = decisions >= config.min_decisions;
    let mut per_key = serde_json::Map::new();
    let mut worst: (u8, Option<f64>) = (0, None);
    let (status, value) = match values {
        Err(reason) => {
            per_key.insert("model".into(), json!({"value": null, "status": "unavailable", "reason": reason}));
            ("unavailable", None)
        }
        Ok(values) => {
            let static_bands = Bands::of(monitor);
            for (key, (value, figures)) in values {
                // A key may carry its own sample (refused requests are not decisions); the reference has no
                // refusals to learn from, so schema violations keep the static bands.
                // A segment's key carries its own minimum.
                let minimum = figures["min_sample"].as_u64().unwrap_or(config.min_decisions);
                let enough = figures["sample"].as_u64().map_or(enough, |n| n >= minimum);
                let bands = if config.learned.is_some() && key != SCHEMA_KEY {
                    learned.bands.get(&key).copied()
                } else {
                    Some(static_bands)
                };
                let status = match (value, bands) {
                    _ if !enough => "insufficient",
                    (None, _) => "insufficient",
                    (Some(_), None) => "unavailable",
                    (Some(v), Some(b)) => b.status(v),
                };
                let rank = match status {
                    "alert" => 3,
                    "warn" => 2,
                    "ok" => 1,
                    _ => 0,
                };
                let more_extreme =
                    |a: f64, b: Option<f64>| b.is_none_or(|b| if static_bands.lower_is_worse { a < b } else { a > b });
                if enough
                    && let Some(v) = value
                    && (rank > worst.0 || (rank == worst.0 && more_extreme(v, worst.1)))
                {
                    worst = (rank, Some(v));
                }
                per_key.insert(key, json!({"value": value, "status": status, "bands": bands, "figures": figures}));
            }
            let status = match worst.0 {
                3 => "alert",
                2 => "warn",
                1 => "ok",
                _ if config.learned.is_some() && learned.problem.is_some() && enough => "unavailable",
                _ => "insufficient",
            };
            (status, worst.1)
        }
    };
    let mut details = json!({ "features": per_key });
    if config.learned.is_some() {
        details["learned"] =
            json!({"chunks": learned.chunks, "chunk_size": learned.chunk_size, "problem": learned.problem});
    }
    MonitorEvaluation {
        model_name: monitor.model.clone(),
        monitor: monitor.name.clone(),
        at,
        version,
        window_start,
        decisions: decisions as i64,
        status: status.into(),
        value,
        details,
    }
}

/// Live-window figures computed this round, by model, version and window: monitors with the same window
/// share one merge of the buckets (merging holds the version's window lock, which the decision-log writer
/// needs).
type RoundWindows = std::collections::HashMap<(String, i64, Window), Arc<LiveDrift>>;

/// Evaluates one monitor on one loaded version.
async fn evaluate_version(
    warden: &Oversight,
    monitor: &Monitor,
    version: &Arc<LoadedVersion>,
    at: i64,
    round: &mut RoundWindows,
) -> Result<MonitorEvaluation> {
    let config = &monitor.config;
    let number = version.version.number;
    if let Err(problem) = fits_task(monitor.kind, config.statistic(monitor.kind), version.version.serving.task) {
        return Ok(judge(monitor, number, at, at, 0, Err(problem), &Learned::default()));
    }
    let learned = learned_for(&warden.learned, monitor, version).await?;
    if monitor.kind == MonitorKind::ExplanationDrift {
        let since = at - config.window_seconds * 1_000_000;
        let mut rows =
            warden.metadata.decisions_between(&monitor.model, number, since, at + 1, MAX_EXPLAINED_DECISIONS).await?;
        for row in &mut rows {
            open_personal(warden, [&mut row.features, &mut row.attributes]);
        }
        let features: Vec<serde_json::Map<String, Value>> = rows
            .into_iter()
            .filter(|d| d.route != "pinned")
            .map(|d| match d.features {
                Value::Object(features) => features,
                _ => serde_json::Map::new(),
            })
            .collect();
        let loaded = version.clone();
        let explained =
            tokio::task::spawn_blocking(move || warden_serving::scoring::contributions_of(&loaded, features))
                .await
                .map_err(|e| Error::task("explaining", e))?;
        let (values, count) = match explained {
            Ok(explained) => {
                let count = explained.iter().flatten().count() as u64;
                (explanation_values(monitor, &explained, &learned), count)
            }
            Err(problem) => (Err(problem.to_string()), 0),
        };
        return Ok(judge(monitor, number, at, since.max(0), count, values, &learned));
    }
    if monitor.kind == MonitorKind::OverrideRate {
        let since = at - config.window_seconds * 1_000_000;
        let rates =
            crate::reviews::override_rates(warden, &monitor.model, number, since, config.attribute.as_deref()).await?;
        let reviewed = rates.iter().find(|(key, _, _)| key == "model").map_or(0, |r| r.1);
        let values: Values = rates
            .into_iter()
            .map(|(key, reviewed, overridden)| {
                let rate = (reviewed > 0).then(|| overridden as f64 / reviewed as f64);
                (key, (rate, json!({"sample": reviewed, "reviewed": reviewed, "overridden": overridden})))
            })
            .collect();
        return Ok(judge(monitor, number, at, since.max(0), reviewed, Ok(values), &learned));
    }
    if reads_outcomes(monitor.kind, config.statistic(monitor.kind)) {
        let since = if config.window_decisions.is_some() { i64::MIN } else { at - config.window_seconds * 1_000_000 };
        let limit = config.window_decisions.unwrap_or(MAX_OUTCOME_ROWS).min(MAX_OUTCOME_ROWS) as i64;
        let labelled_only = monitor.kind != MonitorKind::EstimatedPerformance;
        let rows = warden.metadata.scored_outcomes(&monitor.model, number, since, limit, labelled_only).await?;
        let window_start = rows.last().map_or(since.max(0), |r| r.at);
        let rows = labelled_from_log(revealed_outcomes(warden, rows), monitor.kind, config, version);
        let values = outcome_values(monitor, &rows, &version.version.serving, &learned);
        return Ok(judge(monitor, number, at, window_start, rows.len() as u64, values, &learned));
    }
    let window = match config.window_decisions {
        Some(n) => Window::Last(n),
        None => Window::Since(at - config.window_seconds * 1_000_000),
    };
    let key = (monitor.model.clone(), number, window);
    let drift = match round.get(&key) {
        Some(drift) => drift.clone(),
        None => {
            let others = warden_serving::replicas::other_buckets(warden, version, window).await?;
            let drift = Arc::new(warden_serving::scoring::version_drift(version, window, &others));
            round.insert(key, drift.clone());
            drift
        }
    };
    let values = with_segments(monitor, version, &drift, &learned);
    Ok(judge(monitor, number, at, drift.since, drift.decisions, values, &learned))
}

/// A live-window figure's values, with each segment's when the monitor is segmented (a segmentation that could
/// not be installed makes the evaluation `unavailable`, with the reason).
fn with_segments(
    monitor: &Monitor,
    version: &LoadedVersion,
    drift: &LiveDrift,
    learned: &Learned,
) -> std::result::Result<Values, String> {
    let mut values = live_values(monitor, drift, learned)?;
    if let Some(attribute) = &monitor.config.segment_by {
        if let Some(problem) = &learned.problem {
            return Err(problem.clone());
        }
        values.extend(segment_values(monitor, version, drift, learned, attribute));
    }
    Ok(values)
}

/// A segmented monitor's figure per segment, keyed `attribute=segment`: the segment's windows against the
/// reference rows of the same segment (the whole reference when it holds fewer than the segment minimum),
/// the worst feature's value for drift and data quality, with every feature's value in the figures.
fn segment_values(
    monitor: &Monitor,
    version: &LoadedVersion,
    drift: &LiveDrift,
    learned: &Learned,
    attribute: &str,
) -> Values {
    let config = &monitor.config;
    let minimum = config.min_segment_decisions.unwrap_or(config.min_decisions);
    let lower = lower_is_worse(monitor.kind, config.statistic(monitor.kind));
    let mut values = Values::new();
    for (segment, windows) in drift.segments.get(attribute).into_iter().flatten() {
        let baseline = learned.segment_baselines.get(segment).filter(|b| b.decisions >= minimum);
        let figures = warden_serving::scoring::segment_drift(
            version,
            windows.windows.clone(),
            windows.decisions,
            drift.since,
            baseline.map(|b| &b.windows),
        );
        let Ok(per_key) = live_values(monitor, &figures, learned) else { continue };
        let mut by_key = serde_json::Map::new();
        let mut worst: Option<(String, f64)> = None;
        for (key, (value, _)) in per_key.into_iter().filter(|(key, _)| key != SCHEMA_KEY) {
            if let Some(v) = value
                && worst.as_ref().is_none_or(|(_, w)| if lower { v < *w } else { v > *w })
            {
                worst = Some((key.clone(), v));
            }
            by_key.insert(key, json!(value));
        }
        let details = json!({
            "segment": segment,
            "sample": windows.decisions,
            "min_sample": minimum,
            "baseline": if baseline.is_some() { "segment" } else { "reference" },
            "worst": worst.as_ref().map(|(key, _)| key),
            "values": by_key,
        });
        values.insert(format!("{attribute}={segment}"), (worst.map(|(_, v)| v), details));
    }
    values
}

/// The reference's most frequent values of a column, at most `max` (ties by name): a segmentation's first
/// segments.
fn frequent_values(reference: &warden_registry::reference::MonitorReference, column: &str, max: usize) -> Vec<String> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut missing = 0u64;
    for i in 0..reference.len() {
        match reference.text(column, i) {
            Some(value) => *counts.entry(value).or_default() += 1,
            None => missing += 1,
        }
    }
    // Rows without a value are a segment of their own, when the reference has the column at all.
    if !counts.is_empty() && missing > 0 {
        counts.insert(warden_serving::decision_log::MISSING_SEGMENT.into(), missing);
    }
    let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.into_iter().take(max).map(|(value, _)| value).collect()
}

/// How long an outcome read from a stream waits for its decision before it is set aside (a dead record).
pub const PENDING_OUTCOME_MICROS: i64 = 7 * 86_400 * 1_000_000;

/// When monitors are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// On the schedule: the integrity check runs at most every `window_seconds` (re-hashing artifacts costs).
    Scheduled,
    /// On request: every monitor now.
    Now,
}

/// Evaluates every enabled monitor on each loaded version of its model, and stores the results; returns the
/// monitors with their evaluations (the round owner, [`crate::round`], turns them into alerts and actions).
pub(crate) async fn evaluate_all(warden: &Oversight, round: Round) -> Result<(Vec<Monitor>, Vec<MonitorEvaluation>)> {
    // Outcomes that arrived before their decisions count from the round after the decisions did.
    let now = warden.now();
    let settled = warden.metadata.settle_pending_outcomes(now, now - PENDING_OUTCOME_MICROS).await?;
    if settled.expired > 0 {
        tracing::warn!(expired = settled.expired, "outcomes whose decisions never came were set aside");
    }
    // A platform serving a version no production alias holds is checked this round, and watched even when no
    // version of its model was ever deployed (so the model has no monitors yet).
    let unapproved = warden.scoring.take_unapproved();
    for model in &unapproved {
        if let Some(version) = warden_serving::scoring::loaded_versions(warden, model).pop() {
            ensure_defaults(warden, &Principal::system(), model, &version.version).await?;
        }
    }
    let monitors: Vec<Monitor> = warden
        .metadata
        .monitors(None)
        .await?
        .into_iter()
        .filter(|m| m.enabled)
        .map(Monitor::try_from)
        .collect::<Result<_>>()?;
    if monitors.is_empty() {
        return Ok((monitors, Vec::new()));
    }
    // Every decision acknowledged so far is in the windows (and in the log, for the late periods).
    warden.scoring.log.flush().await?;
    let late = warden.metadata.late_periods(LATE_PERIODS_PER_ROUND).await?;
    let at = warden.now();
    let mut evaluations = Vec::new();
    let mut windows = RoundWindows::new();
    for monitor in &monitors {
        if monitor.kind == MonitorKind::Integrity {
            let due = schedule_due(warden, monitor, at).await?;
            // A stream falling behind or cut off is looked at every round until it recovers.
            let stream_trouble =
                warden.scoring.streams().iter().any(|s| s.model == monitor.model && s.deviation().is_some());
            if round == Round::Now || due || unapproved.contains(&monitor.model) || stream_trouble {
                evaluations.extend(crate::integrity::evaluate(warden, monitor, at).await?);
            }
            continue;
        }
        if monitor.kind == MonitorKind::Revalidation {
            let due = schedule_due(warden, monitor, at).await?;
            if round == Round::Now || due {
                // One model's schedule that cannot be read (a custom bundle's bad figure) stops no other monitor.
                match crate::revalidation::evaluate(warden, monitor, at).await {
                    Ok(evaluation) => evaluations.extend(evaluation),
                    Err(error) => tracing::error!(model = %monitor.model, %error, "revalidation not evaluated"),
                }
            }
            continue;
        }
        // Explaining a window's decisions costs: once per window, or on request.
        if monitor.kind == MonitorKind::ExplanationDrift
            && round != Round::Now
            && !schedule_due(warden, monitor, at).await?
        {
            continue;
        }
        for version in warden_serving::scoring::loaded_versions(warden, &monitor.model) {
            evaluations.push(evaluate_version(warden, monitor, &version, at, &mut windows).await?);
        }
    }
    let revised = revise_late_periods(warden, &monitors, &late).await?;
    // The hours before this one are vouched for before its evaluations are stored. Monitoring goes on when the
    // ledger cannot be written: the rows wait for the next round's entry.
    if let Err(error) = crate::vouching::vouch(warden, at, crate::vouching::MAX_ROWS).await {
        tracing::error!(%error, "monitor evaluations not vouched for this round");
    }
    // The notes read are cleared with the revisions they led to (a period with nothing to revise too).
    warden.metadata.insert_monitor_evaluations(&[&evaluations[..], &revised[..]].concat(), &late).await?;
    for e in &evaluations {
        warden.scoring.metrics.monitor(&e.model_name, &e.monitor, e.version, &e.status, e.value);
    }
    Ok((monitors, evaluations))
}

/// Whether a monitor that runs on its own schedule (not per window of traffic) is due at `at`: never
/// evaluated, or last evaluated `window_seconds` ago or more.
async fn schedule_due(warden: &Oversight, monitor: &Monitor, at: i64) -> Result<bool> {
    let last = warden.metadata.monitor_evaluations(&monitor.model, Some(&monitor.name), 1).await?;
    Ok(last.first().is_none_or(|e| at - e.at >= monitor.config.window_seconds * 1_000_000))
}

/// Most late periods one round revises (each reads the period back from the log); the rest wait for the next.
const LATE_PERIODS_PER_ROUND: i64 = 24;

/// Most decisions a late period's revision reads back from the log (the oldest of the period first).
const MAX_LATE_ROWS: i64 = 200_000;

/// Revised evaluations of the periods late decisions arrived for (decisions older than the live windows):
/// each window-based monitor of the model over the period's decisions read back from the log, stored at the
/// period's end with `details.late_revision`. They are history: alerts and actions follow the live rounds.
/// Outcome-based figures need no revision, since they read the log each round.
async fn revise_late_periods(
    warden: &Oversight,
    monitors: &[Monitor],
    late: &[warden_store::metadata::LatePeriod],
) -> Result<Vec<MonitorEvaluation>> {
    let mut revised = Vec::new();
    for period in late {
        let (model, number, start) = (&period.model_name, period.version, period.start);
        let of_model: Vec<&Monitor> = monitors
            .iter()
            .filter(|m| &m.model == model && !matches!(m.kind, MonitorKind::Integrity | MonitorKind::Revalidation))
            .filter(|m| !reads_store(m.kind, m.config.statistic(m.kind)))
            .collect();
        let loaded = warden_serving::scoring::loaded_versions(warden, model);
        let Some(version) = loaded.into_iter().find(|v| v.version.number == number) else { continue };
        if of_model.is_empty() {
            continue;
        }
        let end = start + warden_serving::ingest::LATE_PERIOD_MICROS;
        let mut rows = warden.metadata.decisions_between(model, number, start, end, MAX_LATE_ROWS).await?;
        for row in &mut rows {
            open_personal(warden, [&mut row.features, &mut row.attributes]);
        }
        let count = rows.len() as u64;
        let windows = version.live.decision_windows(&rows);
        let drift = warden_serving::scoring::windows_drift(&version, windows, count, start, None);
        for monitor in &of_model {
            let learned = learned_for(&warden.learned, monitor, &version).await?;
            let values = with_segments(monitor, &version, &drift, &learned);
            let mut evaluation = judge(monitor, number, end, start, count, values, &learned);
            if let Value::Object(details) = &mut evaluation.details {
                details.insert(
                    "late_revision".into(),
                    json!({"period_start": start, "period_end": end, "read_limit_reached": count as i64 == MAX_LATE_ROWS}),
                );
            }
            revised.push(evaluation);
        }
    }
    Ok(revised)
}

/// A model's evaluations (of one monitor when given), oldest first, the newest `limit`.
pub async fn history(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    monitor: Option<&str>,
    limit: i64,
) -> Result<Vec<Value>> {
    caller.require(Permission::ReadDecisions)?;
    get_model(warden, caller, model).await?;
    Ok(warden
        .metadata
        .monitor_evaluations(model, monitor, limit.clamp(1, 100_000))
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "monitor": e.monitor, "at": e.at, "version": e.version, "window_start": e.window_start,
                "decisions": e.decisions, "status": e.status, "value": e.value, "details": e.details,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drift(decisions: u64, psi: f64, missing: f64) -> LiveDrift {
        let figures = LiveFeatureDrift {
            psi: Some(psi),
            jensen_shannon: Some(psi / 2.0),
            missing_rate: missing,
            reference_missing_rate: 0.01,
            out_of_range_rate: Some(0.0),
            unseen_rate: None,
            window: warden_stats::distribution::WindowCounts::Numeric { bins: vec![10, 10], missing: 0 },
        };
        LiveDrift {
            version: 1,
            since: 0,
            decisions,
            features: BTreeMap::from([("age".to_owned(), figures)]),
            score_psi: Some(psi),
            score_jensen_shannon: Some(psi / 2.0),
            classes: BTreeMap::new(),
            class_psi: None,
            approval_rate: Some(0.5),
            approvals: BTreeMap::new(),
            expected_loss: None,
            refused: 0,
            refused_fields: BTreeMap::new(),
            reconstruction: BTreeMap::new(),
            segments: BTreeMap::new(),
        }
    }

    fn monitor(kind: MonitorKind) -> Monitor {
        let config = MonitorConfig {
            window_seconds: 60,
            min_decisions: 100,
            warn: 0.1,
            alert: 0.25,
            ..default_config(RiskTier::High, kind)
        };
        Monitor {
            model: "m".into(),
            name: kind.as_str().into(),
            kind,
            config,
            enabled: true,
            updated_at: 0,
            updated_by: "t".into(),
        }
    }

    fn evaluate(monitor: &Monitor, drift: &LiveDrift, learned: &Learned) -> MonitorEvaluation {
        let values = live_values(monitor, drift, learned);
        judge(monitor, drift.version, 1, drift.since, drift.decisions, values, learned)
    }

    #[test]
    fn statuses_follow_the_bands_and_small_samples_are_insufficient_not_alerts() {
        let none = Learned::default();
        let drift_monitor = monitor(MonitorKind::FeatureDrift);
        assert_eq!(evaluate(&drift_monitor, &drift(500, 0.05, 0.0), &none).status, "ok");
        assert_eq!(evaluate(&drift_monitor, &drift(500, 0.1, 0.0), &none).status, "warn");
        assert_eq!(evaluate(&drift_monitor, &drift(500, 0.4, 0.0), &none).status, "alert");
        let small = evaluate(&drift_monitor, &drift(99, 0.9, 0.0), &none);
        assert_eq!((small.status.as_str(), small.value), ("insufficient", None));
        // Another statistic of the same windows.
        let mut js = monitor(MonitorKind::FeatureDrift);
        js.config.statistic = Some("jensen_shannon".into());
        assert_eq!(evaluate(&js, &drift(500, 0.4, 0.0), &none).value, Some(0.2));
        // Score drift reads the score's PSI.
        assert_eq!(evaluate(&monitor(MonitorKind::ScoreDrift), &drift(500, 0.3, 0.0), &none).status, "alert");
        // Data quality: the missing-rate increase over the reference.
        let quality = monitor(MonitorKind::DataQuality);
        let e = evaluate(&quality, &drift(500, 0.0, 0.31), &none);
        assert_eq!(e.status, "alert");
        assert!((e.value.unwrap() - 0.30).abs() < 1e-12);
        // Money at risk without an LGD is unavailable, never an alert.
        let money = evaluate(&monitor(MonitorKind::MoneyAtRisk), &drift(500, 0.0, 0.0), &none);
        assert_eq!((money.status.as_str(), money.value), ("unavailable", None));
    }

    #[test]
    fn lower_is_worse_figures_alert_below_their_bands() {
        let mut fairness = monitor(MonitorKind::Fairness);
        fairness.config.attribute = Some("sex".into());
        fairness.config.warn = 0.9;
        fairness.config.alert = 0.8;
        fairness.config.check(MonitorKind::Fairness).unwrap();
        let mut d = drift(1_000, 0.0, 0.0);
        let mut groups = warden_stats::window::GroupRateWindow::default();
        for i in 0..500 {
            groups.add("f", i < 150);
            groups.add("m", i < 250);
        }
        d.approvals.insert("sex".into(), groups);
        let e = evaluate(&fairness, &d, &Learned::default());
        assert_eq!(e.status, "alert", "{:?}", e.details);
        assert!((e.value.unwrap() - 0.6).abs() < 1e-12);
        // Bands in the wrong order for a lower-is-worse figure are refused.
        fairness.config.warn = 0.7;
        assert!(fairness.config.check(MonitorKind::Fairness).is_err());
    }

    #[test]
    fn learned_bands_replace_the_static_ones_per_key() {
        let mut m = monitor(MonitorKind::FeatureDrift);
        m.config.learned = Some(LearnedThresholds { k: 3.0, chunk_size: None });
        let bands = Bands { warn: 0.02, alert: 0.03, lower_is_worse: false, learned: true };
        let learned = Learned { bands: BTreeMap::from([("age".to_owned(), bands)]), ..Learned::default() };
        // 0.05 is below the static warn band (0.1) but beyond the learned alert band.
        assert_eq!(evaluate(&m, &drift(500, 0.05, 0.0), &learned).status, "alert");
        assert_eq!(evaluate(&m, &drift(500, 0.025, 0.0), &learned).status, "warn");
        assert_eq!(evaluate(&m, &drift(500, 0.01, 0.0), &learned).status, "ok");
        // A key without learned bands is unavailable.
        let e = evaluate(&m, &drift(500, 0.05, 0.0), &Learned::default());
        assert_eq!(e.details["features"]["age"]["status"], "unavailable");
    }

    #[test]
    fn defaults_are_tighter_for_higher_risk_and_bad_settings_are_refused() {
        let (high, low) = (defaults(RiskTier::High), defaults(RiskTier::Low));
        assert!(high[0].1.window_seconds < low[0].1.window_seconds);
        assert!(high[0].1.alert < low[0].1.alert);
        for (kind, config) in &high {
            config.check(*kind).unwrap();
        }
        let mut config = high[0].1.clone();
        config.warn = 0.5;
        assert!(config.check(MonitorKind::FeatureDrift).is_err(), "warn above alert");
        config.warn = 0.1;
        config.window_seconds = 5;
        assert!(config.check(MonitorKind::FeatureDrift).is_err());
        config.window_seconds = 60;
        config.statistic = Some("auc".into());
        assert!(config.check(MonitorKind::FeatureDrift).is_err(), "not a drift statistic");
        let performance = default_config(RiskTier::High, MonitorKind::Performance);
        assert!(performance.check(MonitorKind::Performance).is_ok());
    }

    #[test]
    fn every_numeric_setting_has_a_documented_maximum() {
        let base = default_config(RiskTier::High, MonitorKind::FeatureDrift);
        base.check(MonitorKind::FeatureDrift).unwrap();
        let at_limit = MonitorConfig {
            window_decisions: Some(MAX_DECISIONS),
            min_decisions: MAX_DECISIONS,
            learned: Some(LearnedThresholds { k: MAX_LEARNED_K, chunk_size: Some(MAX_DECISIONS) }),
            ..base.clone()
        };
        at_limit.check(MonitorKind::FeatureDrift).unwrap();
        let over: [(&str, MonitorConfig); 5] = [
            (
                "window_decisions is at most 10000000",
                MonitorConfig { window_decisions: Some(9_999_999_999_999), ..base.clone() },
            ),
            ("min_decisions is at most 10000000", MonitorConfig { min_decisions: u64::MAX, ..base.clone() }),
            (
                "chunk_size is at most 10000000",
                MonitorConfig {
                    learned: Some(LearnedThresholds { k: 3.0, chunk_size: Some(MAX_DECISIONS + 1) }),
                    ..base.clone()
                },
            ),
            (
                "1 <= k <= 100",
                MonitorConfig { learned: Some(LearnedThresholds { k: 1e9, chunk_size: None }), ..base.clone() },
            ),
            ("window_seconds is 10 to 3600", MonitorConfig { window_seconds: i64::MAX, ..base.clone() }),
        ];
        for (want, config) in over {
            let err = config.check(MonitorKind::FeatureDrift).unwrap_err();
            assert!(matches!(err, Error::Invalid { .. }), "{err}");
            assert!(err.to_string().contains(want), "{want}: {err}");
        }
        let mut performance = default_config(RiskTier::High, MonitorKind::Performance);
        performance.window_seconds = MAX_OUTCOME_WINDOW_SECONDS + 1;
        assert!(performance.check(MonitorKind::Performance).unwrap_err().to_string().contains("365 days"));
    }
}
