//! Conversions from the lifecycle's types into the HTTP bodies of `warden-api-types` (which hold no logic
//! and know nothing of the lifecycle), and the few the other way.

use serde::Serialize;
use serde::de::DeserializeOwned;
pub use warden_api_types::*;
use warden_registry::auth::TokenInfo;
use warden_registry::registry::{AliasAssignment, AuditEvent, Micros};
use warden_registry::registry::{FeatureSpec, Model, Version};

use crate::error::ApiError;

/// Formats microseconds since the epoch as RFC 3339 UTC (through [`Timestamp`], the one way to format a time).
pub fn timestamp(micros: Micros) -> String {
    Timestamp::from_micros(micros).to_string()
}

/// Parses an RFC 3339 timestamp into microseconds since the epoch.
pub fn parse_timestamp(text: &str) -> Option<Micros> {
    Timestamp::parse(text).ok().map(Timestamp::micros)
}

/// A lifecycle value as its HTTP body.
pub(crate) trait ToWire {
    /// The body.
    type Wire;
    /// Converts.
    fn to_wire(self) -> Self::Wire;
}

/// A lifecycle record that is its own serde form on the wire (reports, decisions, monitors, alerts: stored as
/// that JSON) as the wire type that describes that form. Checked in debug builds (every test) to keep every
/// field: a field the wire type lacks, or renders differently, fails the request with a 500.
pub(crate) fn retype<W: DeserializeOwned + Serialize>(value: impl Serialize) -> Result<W, ApiError> {
    let internal = |e: serde_json::Error| ApiError::from(warden_registry::Error::json("rendering a response", e));
    let json = serde_json::to_value(value).map_err(internal)?;
    let wire: W = if cfg!(debug_assertions) {
        let wire = W::deserialize(&json).map_err(internal)?;
        let back = serde_json::to_value(&wire).map_err(internal)?;
        if back != json {
            return Err(warden_registry::Error::Inconsistent(format!(
                "the wire type {} does not render the lifecycle's record as it is: {json} became {back}",
                std::any::type_name::<W>()
            ))
            .into());
        }
        wire
    } else {
        serde_json::from_value(json).map_err(internal)?
    };
    Ok(wire)
}

/// [`retype`] for each of a list.
pub(crate) fn retype_all<W: DeserializeOwned + Serialize, T: Serialize>(values: Vec<T>) -> Result<Vec<W>, ApiError> {
    values.into_iter().map(retype).collect()
}

impl ToWire for Model {
    type Wire = ModelBody;
    fn to_wire(self) -> ModelBody {
        let m = self;
        ModelBody {
            name: m.input.name,
            description: m.input.description,
            owner: m.input.owner,
            risk_tier: m.input.risk_tier.as_str().parse().expect("the lifecycle's tiers are the wire's"),
            use_case: m.input.use_case,
            business_line: m.input.business_line,
            tags: m.input.tags,
            created_at: Timestamp::from_micros(m.created_at),
            created_by: m.created_by,
            latest_version: m.latest_version,
            retirement: retirement_body(&m.retirement),
        }
    }
}

/// A model's retirement on the wire (`None`: in service).
pub(crate) fn retirement_body(r: &warden_store::metadata::ModelRetirement) -> Option<RetirementBody> {
    let (by, at) = (r.requested_by.clone()?, r.requested_at?);
    Some(RetirementBody {
        state: if r.retired_at.is_some() { "retired" } else { "requested" }.into(),
        requested_by: by,
        requested_at: Timestamp::from_micros(at),
        reason: r.reason.clone().unwrap_or_default(),
        retired_by: r.retired_by.clone(),
        retired_at: r.retired_at.map(Timestamp::from_micros),
    })
}

impl ToWire for FeatureSpec {
    type Wire = Feature;
    fn to_wire(self) -> Feature {
        let f = self;
        let unknown_category =
            (f.unknown_category == warden_registry::registry::UnknownCategory::Missing).then(|| "missing".to_owned());
        Feature {
            name: f.name,
            kind: f.kind.to_string(),
            categories: f.categories,
            nullable: f.nullable,
            encoding: f.encoding,
            unknown_category,
        }
    }
}

/// A lifecycle serving configuration as its body.
pub(crate) fn serving_config(s: warden_registry::registry::ServingConfig) -> ServingConfig {
    ServingConfig {
        task: s.task,
        classes: s.classes,
        threshold: s.threshold,
        positive_decision: s.positive_decision,
        negative_decision: s.negative_decision,
        reason_count: s.reason_count,
        lgd: s.lgd,
        exposure_column: s.exposure_column,
    }
}

/// A serving configuration body as the lifecycle's.
pub(crate) fn lifecycle_serving_config(s: ServingConfig) -> warden_registry::registry::ServingConfig {
    warden_registry::registry::ServingConfig {
        task: s.task,
        classes: s.classes,
        threshold: s.threshold,
        positive_decision: s.positive_decision,
        negative_decision: s.negative_decision,
        reason_count: s.reason_count,
        lgd: s.lgd,
        exposure_column: s.exposure_column,
    }
}

/// The version, with or without its profile.
pub(crate) fn version_body(v: Version, with_profile: bool) -> VersionBody {
    VersionBody {
        model: v.model,
        version: v.number,
        format: v.format.as_str().into(),
        artifact: Blob { sha256: v.artifact_sha256, size: v.artifact_size },
        feature_schema: v.feature_schema.into_iter().map(ToWire::to_wire).collect(),
        reference: Reference {
            sha256: v.reference_sha256,
            size: v.reference_size,
            format: v.reference_format,
            rows: v.profile.rows,
            target: v.target,
            protected: v.protected,
            profile: with_profile.then(|| serde_json::to_value(&v.profile).expect("profile serialises")),
        },
        lineage: LineageBody {
            training_data_sha256: v.lineage.training_data_sha256,
            training_data_rows: v.lineage.training_data_rows,
            code_ref: v.lineage.code_ref,
            hyperparameters: v.lineage.hyperparameters,
            parent_version: v.lineage.parent_version,
            artifact_signer: v.lineage.artifact_signature.map(|s| s.signer),
        },
        serving: serving_config(v.serving),
        input_warnings: v
            .input_warnings
            .into_iter()
            .map(|w| InputWarningBody { column: w.column, kind: w.kind.as_str().into(), message: w.message })
            .collect(),
        created_at: Timestamp::from_micros(v.created_at),
        created_by: v.created_by,
    }
}

impl ToWire for AliasAssignment {
    type Wire = AliasBody;
    fn to_wire(self) -> AliasBody {
        let a = self;
        AliasBody {
            model: a.model_name,
            alias: a.alias,
            version: a.version,
            assigned_at: Timestamp::from_micros(a.assigned_at),
            assigned_by: a.assigned_by,
            reason: a.reason,
            traffic: a.traffic,
            decision_id: a.decision_id,
            overridden: a.overridden,
        }
    }
}

impl ToWire for TokenInfo {
    type Wire = TokenBody;
    fn to_wire(self) -> TokenBody {
        let t = self;
        TokenBody {
            name: t.name,
            role: t.role.as_str().into(),
            created_at: Timestamp::from_micros(t.created_at),
            created_by: t.created_by,
            revoked_at: t.revoked_at.map(Timestamp::from_micros),
            expires_at: t.expires_at.map(Timestamp::from_micros),
            subject: t.subject,
        }
    }
}

impl ToWire for AuditEvent {
    type Wire = AuditEventBody;
    fn to_wire(self) -> AuditEventBody {
        let e = self;
        AuditEventBody {
            seq: e.seq,
            at: Timestamp::from_micros(e.event.at),
            actor: e.event.actor,
            action: e.event.action,
            subject: e.event.subject,
            payload: e.event.payload,
        }
    }
}

/// A scoring request body as the lifecycle's request.
pub(crate) fn score_request(b: ScoreRequestBody) -> warden_serving::scoring::ScoreRequest {
    warden_serving::scoring::ScoreRequest {
        request_id: b.request_id,
        features: b.features,
        attributes: b.attributes,
        explain: b.explain,
    }
}

fn route(r: warden_serving::scoring::Route) -> Route {
    match r {
        warden_serving::scoring::Route::Champion => Route::Champion,
        warden_serving::scoring::Route::Canary => Route::Canary,
        warden_serving::scoring::Route::Shadow => Route::Shadow,
        warden_serving::scoring::Route::Pinned => Route::Pinned,
        warden_serving::scoring::Route::Unapproved => Route::Unapproved,
        warden_serving::scoring::Route::Fallback => Route::Fallback,
    }
}

impl ToWire for warden_serving::scoring::ScoreResponse {
    type Wire = ScoreResponseBody;
    fn to_wire(self) -> ScoreResponseBody {
        let r = self;
        ScoreResponseBody {
            request_id: r.request_id,
            model: r.model,
            version: r.version,
            route: route(r.route),
            score: (!r.score.is_nan()).then_some(r.score),
            decision: r.decision,
            probabilities: r.probabilities,
            reasons: r.reasons.map(|reasons| {
                reasons
                    .into_iter()
                    .map(|r| ReasonBody { feature: r.feature, value: r.value, contribution: r.contribution })
                    .collect()
            }),
            contributions: r.contributions,
            base: r.base,
        }
    }
}

impl ToWire for warden_oversight::clocks::IncidentClocks {
    type Wire = Result<IncidentClocksBody, ApiError>;
    fn to_wire(self) -> Result<IncidentClocksBody, ApiError> {
        let corrupt =
            |e: warden_core::UnknownValue| ApiError::from(warden_registry::Error::Inconsistent(format!("stored: {e}")));
        let classifications = self
            .classifications
            .into_iter()
            .map(|c| {
                Ok(ClassificationBody {
                    id: c.id,
                    at: Timestamp::from_micros(c.at),
                    actor: c.actor,
                    framework: c.framework.parse().map_err(corrupt)?,
                    classified_at: Timestamp::from_micros(c.classified_at),
                    aware_at: Timestamp::from_micros(c.aware_at),
                    ground: c.ground.as_deref().map(str::parse).transpose().map_err(corrupt)?,
                    severity: c.severity,
                    note: c.note,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        let reports = self
            .reports
            .into_iter()
            .map(|r| {
                Ok(SubmittedReportBody {
                    id: r.id,
                    at: Timestamp::from_micros(r.at),
                    actor: r.actor,
                    framework: r.framework.parse().map_err(corrupt)?,
                    kind: r.kind.parse().map_err(corrupt)?,
                    submitted_at: Timestamp::from_micros(r.submitted_at),
                    reference: r.reference,
                    content_sha256: r.content_sha256,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        let owed = self
            .owed
            .into_iter()
            .map(|(o, stage, seconds_left)| OwedReportBody {
                framework: o.framework,
                kind: o.kind,
                due_at: Timestamp::from_micros(o.due_at),
                basis: o.basis.to_owned(),
                submitted_at: o.submitted_at.map(Timestamp::from_micros),
                stage,
                seconds_left,
            })
            .collect();
        Ok(IncidentClocksBody { incident_id: self.incident_id, classifications, reports, owed })
    }
}

impl ToWire for warden_registry::personal_data::DataPolicy {
    type Wire = (RetentionBody, PersonalDataBody);
    fn to_wire(self) -> (RetentionBody, PersonalDataBody) {
        let (r, p) = (self.retention, self.personal);
        (
            RetentionBody {
                decisions_days: r.decisions_days,
                features_days: r.features_days,
                outcomes_days: r.outcomes_days,
            },
            PersonalDataBody { fields: p.fields, subject_key: p.subject_key },
        )
    }
}

/// The policy a `PUT /v1/models/{name}/data-policy` body declares.
pub(crate) fn data_policy(body: DataPolicyPutBody) -> (warden_registry::personal_data::DataPolicy, String) {
    use warden_registry::personal_data::{DataPolicy, PersonalData, Retention};
    let (r, p) = (body.retention, body.personal);
    let policy = DataPolicy {
        retention: Retention {
            decisions_days: r.decisions_days,
            features_days: r.features_days,
            outcomes_days: r.outcomes_days,
        },
        personal: PersonalData { fields: p.fields, subject_key: p.subject_key },
    };
    (policy, body.reason)
}

impl ToWire for warden_store::metadata::DataPurgeRow {
    type Wire = Result<DataPurgeBody, ApiError>;
    fn to_wire(self) -> Result<DataPurgeBody, ApiError> {
        let kind = self.kind.parse::<DataPurgeKind>().map_err(|e| {
            ApiError::from(warden_registry::Error::Inconsistent(format!("stored purge {}: {e}", self.id)))
        })?;
        Ok(DataPurgeBody {
            id: self.id,
            model: self.model_name,
            at: Timestamp::from_micros(self.at),
            actor: self.actor,
            kind,
            before: self.before.map(Timestamp::from_micros),
            rows: self.rows,
            sha256: self.sha256,
        })
    }
}

impl ToWire for warden_oversight::retention::DataPolicyView {
    type Wire = Result<DataPolicyBody, ApiError>;
    fn to_wire(self) -> Result<DataPolicyBody, ApiError> {
        let (retention, personal) = self.policy.to_wire();
        Ok(DataPolicyBody {
            model: self.model,
            retention,
            personal,
            declared_by: self.declared_by,
            declared_at: self.declared_at.map(Timestamp::from_micros),
            reason: self.reason,
            min_decision_days: self.min_decision_days,
            purges: self.purges.into_iter().map(ToWire::to_wire).collect::<Result<_, _>>()?,
        })
    }
}

impl ToWire for warden_oversight::dora::DoraReport {
    type Wire = DoraReportBody;
    fn to_wire(self) -> DoraReportBody {
        let sections = self
            .sections
            .into_iter()
            .map(|s| DoraSectionBody {
                title: s.title.to_owned(),
                fields: s
                    .fields
                    .into_iter()
                    .map(|f| DoraFieldBody {
                        key: f.key.to_owned(),
                        label: f.label.to_owned(),
                        value: f.value,
                        source: f.source,
                    })
                    .collect(),
            })
            .collect();
        DoraReportBody {
            incident_id: self.incident_id,
            kind: self.kind,
            generated_at: Timestamp::from_micros(self.generated_at),
            period_from: Timestamp::from_micros(self.period_from),
            period_to: Timestamp::from_micros(self.period_to),
            sections,
            to_complete: self.to_complete.into_iter().map(str::to_owned).collect(),
        }
    }
}

impl ToWire for warden_oversight::suspension::Suspension {
    type Wire = SuspensionBody;
    fn to_wire(self) -> SuspensionBody {
        SuspensionBody {
            model: self.model,
            suspended: self.suspended,
            by: self.by,
            at: self.at.map(Timestamp::from_micros),
            reason: self.reason,
            fallback: self.fallback,
            fallback_version: self.fallback_version,
        }
    }
}

impl ToWire for warden_oversight::reviews::DecisionReview {
    type Wire = DecisionReviewBody;
    fn to_wire(self) -> DecisionReviewBody {
        let r = self;
        DecisionReviewBody {
            id: r.id,
            model: r.model,
            version: r.version,
            request_id: r.request_id,
            decision_at: Timestamp::from_micros(r.decision_at),
            at: Timestamp::from_micros(r.at),
            reviewer: r.reviewer,
            action: r.action,
            decision_before: r.decision_before,
            decision: r.decision,
            reason_code: r.reason_code,
            note: r.note,
        }
    }
}

impl ToWire for (warden_registry::registry::NewDecision, Vec<warden_oversight::reviews::DecisionReview>) {
    type Wire = Result<DecisionBody, ApiError>;
    fn to_wire(self) -> Result<DecisionBody, ApiError> {
        let (d, reviews) = self;
        let route = d.route.parse::<Route>().map_err(|e| {
            ApiError::from(warden_registry::Error::Inconsistent(format!("a logged decision's route: {e}")))
        })?;
        Ok(DecisionBody {
            at: Timestamp::from_micros(d.at),
            request_id: d.request_id,
            version: d.version,
            route,
            features: d.features,
            attributes: d.attributes,
            score: (!d.score.is_nan()).then_some(d.score),
            probabilities: d.probabilities,
            decision: d.decision,
            latency_us: d.latency_us,
            source: d.source.parse().map_err(|e| {
                ApiError::from(warden_registry::Error::Inconsistent(format!("a logged decision's source: {e}")))
            })?,
            reviews: reviews.into_iter().map(ToWire::to_wire).collect(),
        })
    }
}

impl ToWire for warden_serving::ingest::IngestionStatus {
    type Wire = IngestionBody;
    fn to_wire(self) -> IngestionBody {
        let (total, letters) = self.dead_letters;
        IngestionBody {
            pending_outcomes: self.pending_outcomes,
            dead_letters: total,
            recent_dead_letters: letters
                .into_iter()
                .map(|l| DeadLetterBody {
                    at: Timestamp::from_micros(l.at),
                    source: l.source,
                    topic: l.topic,
                    partition: l.partition,
                    offset: l.offset,
                    model: l.model,
                    reason: l.reason,
                    payload: l.payload,
                })
                .collect(),
            kserve_waiting: self
                .kserve_waiting
                .into_iter()
                .map(|(model, requests, responses, oldest)| KserveWaitingBody {
                    model,
                    requests,
                    responses,
                    oldest: oldest.map(Timestamp::from_micros),
                })
                .collect(),
            streams: self
                .streams
                .into_iter()
                .map(|s| StreamBody {
                    group: s.group,
                    topic: s.topic,
                    model: s.model,
                    kind: s.kind,
                    connected: s.connected,
                    last_error: s.last_error,
                    partitions: s
                        .partitions
                        .into_iter()
                        .map(|(partition, position, high_watermark)| StreamPartitionBody {
                            partition,
                            position,
                            high_watermark,
                            lag: warden_serving::ingest::StreamStatus::lag(position, high_watermark),
                        })
                        .collect(),
                    expired: s.expired,
                })
                .collect(),
        }
    }
}
