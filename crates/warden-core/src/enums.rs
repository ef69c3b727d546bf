//! The closed sets of the domain, each with the exact strings used on the wire and in the store.

use std::fmt;
use std::str::FromStr;

/// A text that is none of a closed set's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// What the set is (`risk tier`, `severity`, ...).
    pub what: &'static str,
    /// The text given.
    pub value: String,
    /// The allowed values.
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} '{}' (expected ", self.what, self.value)?;
        match self.expected {
            [] => {}
            [one] => f.write_str(one)?,
            [init @ .., last] => write!(f, "{} or {last}", init.join(", "))?,
        }
        f.write_str(")")
    }
}

impl std::error::Error for UnknownValue {}

/// Defines a closed set: a fieldless enum with serde, `ToSchema`, `as_str`, `ALL`, `Display` and `FromStr`.
macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        closed_set! { $(#[$meta])* $name, $what, "snake_case" { $($(#[$vmeta])* $variant = $text,)+ } }
    };
    ($(#[$meta:meta])* $name:ident, $what:literal, $case:tt { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        // Each text is its variant's name in `$case` (snake_case unless given; the test below holds serde to
        // `as_str`); the OpenAPI derive reads `rename_all`, not a literal per variant, and only as a plain token
        // (`tt`: a `literal` fragment reaches it wrapped, and is ignored).
        #[serde(rename_all = $case)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// Every value's text, in order.
            pub const NAMES: &'static [&'static str] = &[$($text,)+];

            /// The value's text on the wire and in the store.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(text: &str) -> Result<Self, UnknownValue> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { what: $what, value: text.to_owned(), expected: Self::NAMES }),
                }
            }
        }
    };
}

closed_set! {
    /// A model's risk tier, which decides how strict its gates and monitors are.
    RiskTier, "risk tier" {
        /// Material models (credit decisions).
        High = "high",
        /// Moderate impact.
        Medium = "medium",
        /// Low impact.
        Low = "low",
    }
}

closed_set! {
    /// How a model's risk tier was set.
    TierBasis, "tier basis" {
        /// Declared at registration (no tiering rule decided otherwise since).
        Declared = "declared",
        /// Computed from the model's inventory fields by the policy bundle's tiering rules.
        Computed = "computed",
        /// Set by a person over the computed tier, with a reason.
        Override = "override",
    }
}

closed_set! {
    /// How bad an alert is.
    Severity, "severity" {
        /// Over the warning threshold.
        Warning = "warning",
        /// Over the alert threshold; opens an incident.
        Critical = "critical",
    }
}

closed_set! {
    /// Where an alert is in its life.
    AlertState, "alert state" {
        /// Raised, nobody on it yet.
        Firing = "firing",
        /// Somebody is on it.
        Acknowledged = "acknowledged",
        /// The monitor is back under its thresholds.
        Resolved = "resolved",
    }
}

closed_set! {
    /// Where an incident is in its life.
    IncidentState, "incident state" {
        /// Being worked on.
        Open = "open",
        /// Closed, with the reason.
        Resolved = "resolved",
    }
}

closed_set! {
    /// What a version's score is.
    #[derive(Default)]
    ModelTask, "model task" {
        /// The probability of the bad event (default, fraud): validated on 0/1 outcomes.
        #[default]
        BinaryClassification = "binary_classification",
        /// A predicted value (loss given default, exposure at default, income): validated on realized values.
        Regression = "regression",
        /// The probability of each of several classes (a collections strategy, a product): the decision is the
        /// most probable class; validated on realized classes.
        MulticlassClassification = "multiclass_classification",
    }
}

impl ModelTask {
    /// Whether the score is a probability of the bad event (the default, left out of stored configurations).
    pub fn is_binary(&self) -> bool {
        *self == ModelTask::BinaryClassification
    }

    /// Whether the model predicts the probabilities of several classes.
    pub fn is_multiclass(&self) -> bool {
        *self == ModelTask::MulticlassClassification
    }
}

closed_set! {
    /// What a monitor watches.
    MonitorKind, "monitor kind" {
        /// Drift of each feature against the reference data.
        FeatureDrift = "feature_drift",
        /// Drift of the score.
        ScoreDrift = "score_drift",
        /// Drift of the relations between features: NannyML's data reconstruction error.
        MultivariateDrift = "multivariate_drift",
        /// Drift of each feature's contribution to the score (the reasons the model decides by).
        ExplanationDrift = "explanation_drift",
        /// Missing values, out-of-range values, unseen categories.
        DataQuality = "data_quality",
        /// Discrimination and calibration once outcomes arrive.
        Performance = "performance",
        /// Performance estimated before outcomes arrive (CBPE).
        EstimatedPerformance = "estimated_performance",
        /// Approval rates across protected groups.
        Fairness = "fairness",
        /// Expected loss and missed fraud.
        MoneyAtRisk = "money_at_risk",
        /// Deviations of the decision log from what the model would answer.
        Integrity = "integrity",
        /// Days past the model's revalidation due date (its tier's frequency since its latest validation).
        Revalidation = "revalidation",
        /// The share of reviewed decisions whose reviewer overrode or reversed them.
        OverrideRate = "override_rate",
    }
}

closed_set! {
    /// The framework an incident is classified under, each with its reporting clock.
    Framework, "framework" {
        /// A major ICT-related incident under DORA (Regulation (EU) 2022/2554, Art. 19).
        Dora = "dora",
        /// A serious incident under the EU AI Act (Art. 73).
        AiAct = "ai_act",
        /// The firm's own severity: no authority's clock.
        Internal = "internal",
    }
}

closed_set! {
    /// A report to an authority about a classified incident.
    ReportKind, "report kind" {
        /// DORA's initial notification.
        Initial = "initial",
        /// DORA's intermediate report (it may be updated: the latest counts).
        Intermediate = "intermediate",
        /// DORA's final report.
        Final = "final",
        /// The AI Act's serious-incident report.
        Report = "report",
    }
}

closed_set! {
    /// Where a report owed to an authority stands.
    ReportStage, "report stage" {
        /// Its clock runs.
        Running = "running",
        /// A quarter of its span (at most a day) is left.
        DueSoon = "due_soon",
        /// Its due time has passed and it was not submitted.
        Overdue = "overdue",
        /// Submitted in time.
        Submitted = "submitted",
        /// Submitted after its due time.
        SubmittedLate = "submitted_late",
    }
}

closed_set! {
    /// Why an AI Act serious incident is reported sooner than 15 days (Art. 73(3) and (4)).
    AiActGround, "AI Act ground" {
        /// A person died: 10 days.
        Death = "death",
        /// A widespread infringement or a serious disruption of critical infrastructure: 2 days.
        WidespreadOrCriticalInfrastructure = "widespread_or_critical_infrastructure",
        /// Any other serious incident: 15 days.
        Other = "other",
    }
}

closed_set! {
    /// What a suspended model answers instead of its production versions.
    FallbackKind, "fallback" {
        /// The champion's adverse decision (`decline` by default), without scoring.
        Decline = "decline",
        /// `refer`: to manual review, without scoring.
        Refer = "refer",
        /// A named version the gate let into the champion alias before, which scores instead.
        Version = "version",
    }
}

closed_set! {
    /// A service notifications are routed to.
    ReceiverKind, "receiver kind" {
        /// A JSON POST signed with HMAC-SHA256 (`X-Warden-Signature`).
        Webhook = "webhook",
        /// A Slack incoming webhook.
        Slack = "slack",
        /// PagerDuty's Events API v2.
        Pagerduty = "pagerduty",
        /// A Jira issue created over its REST API.
        Jira = "jira",
        /// A ServiceNow incident created over its Table API.
        Servicenow = "servicenow",
    }
}

closed_set! {
    /// What a notification is about.
    NotificationEvent, "notification event" {
        /// An alert fired.
        AlertFired = "alert_fired",
        /// An alert escalated to critical.
        AlertEscalated = "alert_escalated",
        /// A person acknowledged an alert.
        AlertAcknowledged = "alert_acknowledged",
        /// An alert resolved.
        AlertResolved = "alert_resolved",
        /// An automatic action was taken on an alert.
        AlertAction = "alert_action",
        /// A report to an authority falls due soon.
        ReportDueSoon = "report_due_soon",
        /// A report to an authority is overdue.
        ReportOverdue = "report_overdue",
        /// A version was registered.
        VersionRegistered = "version_registered",
        /// The gate let a version into a production alias.
        VersionPromoted = "version_promoted",
        /// A version was promoted against the gate's decision.
        VersionPromotedByOverride = "version_promoted_by_override",
        /// A monitor rolled a production alias back.
        ModelRolledBack = "model_rolled_back",
        /// A model was suspended (the stop switch).
        ModelSuspended = "model_suspended",
        /// A suspended model was resumed.
        ModelResumed = "model_resumed",
        /// A model was retired.
        ModelRetired = "model_retired",
    }
}

closed_set! {
    /// Who fills a field of a report to an authority.
    ReportFieldSource, "report field source" {
        /// The incident and its timeline.
        Incident = "incident",
        /// The classification recorded on the incident.
        Classification = "classification",
        /// Reports recorded as submitted.
        Reports = "reports",
        /// The model's inventory record and versions.
        Registry = "registry",
        /// The decision log, over the affected period.
        DecisionLog = "decision_log",
        /// Only the firm knows it: to be completed before submission.
        Firm = "firm",
    }
}

closed_set! {
    /// How a personal field is kept at rest.
    Protection, "protection" {
        /// A keyed hash: equal values match, the value cannot be read back.
        Tokenise = "tokenise",
        /// AES-256-GCM: read back only with the key.
        Encrypt = "encrypt",
    }
}

closed_set! {
    /// What a purge or an erasure took from the decision log.
    DataPurgeKind, "purge kind" {
        /// Whole decisions past their retention.
        Decisions = "decisions",
        /// Features and attributes past their retention.
        Features = "features",
        /// Outcomes past their retention.
        Outcomes = "outcomes",
        /// One person's features and attributes, on request.
        Erasure = "erasure",
    }
}

closed_set! {
    /// What a person's review does to a decision.
    ReviewAction, "review action" {
        /// The decision stands as it is.
        Confirm = "confirm",
        /// The decision is replaced by another the reviewer names.
        Override = "override",
        /// The decision is turned into the other of its version's two decisions.
        Reverse = "reverse",
    }
}

closed_set! {
    /// How a retraining job ended.
    JobStatus, "job status" {
        /// Deployed as challenger, in shadow.
        Deployed = "deployed",
        /// Registered; the gate objected beyond sign-offs.
        Registered = "registered",
        /// Went wrong (the job's `error` says how).
        Failed = "failed",
    }
}

closed_set! {
    /// Where a scoring request went.
    Route, "route" {
        /// The champion answered.
        Champion = "champion",
        /// The canary answered (its traffic share).
        Canary = "canary",
        /// Scored in shadow, never returned.
        Shadow = "shadow",
        /// A version named by the caller answered.
        Pinned = "pinned",
        /// Decided outside Warden by a version no production alias held at the time: a governance breach.
        Unapproved = "unapproved",
        /// Answered by the model's fallback while it was suspended (the stop switch), not by its production
        /// versions.
        Fallback = "fallback",
    }
}

closed_set! {
    /// How a logged decision arrived.
    DecisionSource, "decision source" {
        /// Warden scored it.
        Scored = "scored",
        /// Sent to `POST /v1/models/{name}/decisions` by the platform that made it.
        Http = "http",
        /// Logged by KServe's payload logger (a request and a response CloudEvent joined).
        Kserve = "kserve",
        /// Read from a Kafka topic.
        Kafka = "kafka",
    }
}

closed_set! {
    /// What a consumed stream's records are.
    StreamKind, "stream kind" {
        /// Decision records.
        Decisions = "decisions",
        /// Outcome records.
        Outcomes = "outcomes",
    }
}

closed_set! {
    /// What a finding records.
    FindingKind, "finding kind" {
        /// A weakness a validator found in the model or its development.
        Validation = "validation",
        /// A known limit of the model's use, accepted knowingly.
        Limitation = "limitation",
        /// A departure from policy allowed for a time.
        PolicyException = "policy_exception",
        /// A vulnerability a scanner reported in the scoring service, its image or its dependencies.
        Vulnerability = "vulnerability",
        /// A critical breach a monitor raised.
        MonitoringBreach = "monitoring_breach",
    }
}

closed_set! {
    /// How grave a finding is; its due date follows from it (policy data).
    FindingSeverity, "finding severity" {
        /// Minor.
        Low = "low",
        /// To be remediated in the normal course.
        Medium = "medium",
        /// Blocks promotion while open, unless an exception covers it.
        High = "high",
        /// Blocks promotion while open, unless an exception covers it; due within days.
        Critical = "critical",
    }
}

closed_set! {
    /// Where a finding is in its life.
    FindingState, "finding state" {
        /// Raised, not yet remediated.
        Open = "open",
        /// The owner says how it is remediated; a validator has yet to close it.
        RemediationProposed = "remediation_proposed",
        /// Remediated, with the evidence.
        Closed = "closed",
        /// Accepted as a limitation until its expiry.
        Accepted = "accepted",
    }
}

closed_set! {
    /// The scanner report formats findings are imported from (their names as scanners' users write them).
    ScanFormat, "scan format", "kebab-case" {
        /// SARIF 2.1.0 (static analysis: Bandit, CodeQL, Semgrep; Trivy and Grype can write it too).
        Sarif = "sarif",
        /// A CycloneDX document's vulnerabilities (VEX), spec 1.4 to 1.7.
        CyclonedxVex = "cyclonedx-vex",
        /// Trivy's JSON report (schema version 2): images, file systems, repositories.
        Trivy = "trivy",
        /// Grype's JSON report.
        Grype = "grype",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_text_and_serde() {
        fn check<T: FromStr<Err = UnknownValue> + fmt::Display + serde::Serialize + PartialEq + fmt::Debug + Copy>(
            all: &[T],
        ) {
            for &value in all {
                let text = value.to_string();
                assert_eq!(text.parse::<T>(), Ok(value));
                assert_eq!(serde_json::to_value(value).unwrap(), serde_json::Value::String(text));
            }
        }
        check(RiskTier::ALL);
        check(Severity::ALL);
        check(AlertState::ALL);
        check(IncidentState::ALL);
        check(MonitorKind::ALL);
        check(ModelTask::ALL);
        check(JobStatus::ALL);
        check(Route::ALL);
        check(DecisionSource::ALL);
        check(StreamKind::ALL);
        check(FindingKind::ALL);
        check(FindingSeverity::ALL);
        check(FindingState::ALL);
        check(ScanFormat::ALL);
        check(ReviewAction::ALL);
        check(FallbackKind::ALL);
        check(Protection::ALL);
        check(ReceiverKind::ALL);
        check(NotificationEvent::ALL);
        check(ReportFieldSource::ALL);
        check(DataPurgeKind::ALL);
        check(Framework::ALL);
        check(ReportKind::ALL);
        check(AiActGround::ALL);
        check(ReportStage::ALL);
        assert_eq!(MonitorKind::EstimatedPerformance.as_str(), "estimated_performance");
        assert_eq!(
            "extreme".parse::<RiskTier>().unwrap_err().to_string(),
            "unknown risk tier 'extreme' (expected high, medium or low)"
        );
    }
}
