//! Human oversight of single decisions (EU AI Act Art. 14; the ECB's guide to internal models on overrides): a
//! reviewer confirms a decision the production routes answered, overrides it with another decision, or reverses
//! it into the other of its version's two decisions, giving one of the policy's reason codes and free text.
//!
//! Reviews are append-only and each is an audited write carrying the review, so its ledger entry vouches for
//! it; the latest review says how a decision stands. The policy in force (`review` in the bundle) lists the
//! reason codes and says whether the person whose review set a decision's current state may review it again
//! (by default not: a second person confirms or changes another's override). A decision a shadow challenger or
//! a person testing a version (`pinned`) made answered nobody and is not reviewed. The `override_rate`
//! monitor reads the reviews ([`override_rates`]), and retraining may take a reviewed decision as a label
//! ([`training_rows`]) where the policy says so.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;
use warden_core::ReviewAction;
use warden_policy::ReviewPolicy;
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::{self, get_version, narrowed_to};
use warden_registry::text::{self, Lines};
use warden_store::metadata::{DecisionReviewRow, NewDecision, TrainingRow};

use crate::{Error, Oversight, Result};

/// Most reviews one decision keeps (a decision reviewed more often is a dispute to settle elsewhere).
pub const MAX_REVIEWS_PER_DECISION: i64 = 100;
/// Most reviews an override-rate evaluation or a page of decisions reads.
pub const MAX_REVIEWS_READ: i64 = 50_000;
/// Most segments an override-rate evaluation keeps apart; the decisions of the rest count under `(other)`.
pub const MAX_SEGMENTS: usize = 100;

/// What a reviewer asks.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewInput {
    /// The model whose decision it is (a request id names a decision per model).
    pub model: String,
    /// Confirm, override or reverse.
    pub action: ReviewAction,
    /// The new decision (override only; a confirmation may repeat the current one).
    pub decision: Option<String>,
    /// One of the policy's reason codes.
    pub reason_code: String,
    /// Free text.
    pub note: String,
}

/// A review as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionReview {
    pub id: i64,
    pub model: String,
    pub version: i64,
    pub request_id: String,
    /// When the decision was made (µs).
    pub decision_at: i64,
    /// When it was reviewed (µs).
    pub at: i64,
    pub reviewer: String,
    pub action: ReviewAction,
    /// The decision before and after this review.
    pub decision_before: String,
    pub decision: String,
    pub reason_code: String,
    pub note: String,
}

impl TryFrom<DecisionReviewRow> for DecisionReview {
    type Error = Error;
    fn try_from(row: DecisionReviewRow) -> Result<Self> {
        let action = row.action.parse().map_err(|e| Error::Inconsistent(format!("stored review {}: {e}", row.id)))?;
        Ok(DecisionReview {
            id: row.id,
            model: row.model_name,
            version: row.version,
            request_id: row.request_id,
            decision_at: row.decision_at,
            at: row.at,
            reviewer: row.reviewer,
            action,
            decision_before: row.decision_before,
            decision: row.decision,
            reason_code: row.reason_code,
            note: row.note,
        })
    }
}

/// The review policy of the bundle in force.
pub async fn policy(warden: &Oversight) -> Result<ReviewPolicy> {
    let (_, gate) = crate::governance::gate_in_force(warden).await?;
    let policy = gate.lock().expect("gate lock").review_policy().map_err(crate::governance::policy_error)?;
    Ok(policy)
}

/// Reviews the decision `request_id` of `input.model`.
pub async fn review(
    warden: &Oversight,
    caller: &Principal,
    request_id: &str,
    input: ReviewInput,
) -> Result<DecisionReview> {
    let model = input.model.as_str();
    text::check("model", model, text::SHORT, Lines::One)?;
    let caller = &narrowed_to(warden, caller, model).await?;
    caller.require(Permission::ReviewDecisions)?;
    text::check("request_id", request_id, text::SHORT, Lines::One)?;
    text::check("reason_code", &input.reason_code, text::SHORT, Lines::One)?;
    text::check("note", &input.note, text::LONG, Lines::Many)?;
    if let Some(decision) = &input.decision {
        text::check("decision", decision, text::SHORT, Lines::One)?;
    }
    let policy = policy(warden).await?;
    if !policy.reason_codes.contains(&input.reason_code) {
        return Err(Error::invalid_with(
            format!(
                "reason_code: '{}' is not one of the policy's reason codes ({})",
                input.reason_code,
                policy.reason_codes.join(", ")
            ),
            json!({"field": "reason_code", "allowed": policy.reason_codes}),
        ));
    }
    let decision = answered_decision(warden, caller, model, request_id).await?;
    let earlier = warden
        .metadata
        .decision_reviews(model, Some(request_id), (decision.at, decision.at), MAX_REVIEWS_PER_DECISION)
        .await?;
    // Another decision of this request id made at the same time (a version served elsewhere) is not this one.
    let earlier: Vec<DecisionReviewRow> = earlier.into_iter().filter(|r| r.version == decision.version).collect();
    let latest = earlier.last();
    if earlier.len() as i64 >= MAX_REVIEWS_PER_DECISION {
        return Err(Error::Conflict(format!(
            "decision '{request_id}' of model '{model}' has {MAX_REVIEWS_PER_DECISION} reviews, the most one keeps"
        )));
    }
    let actor = caller.actor();
    if let Some(latest) = latest
        && latest.reviewer == actor
        && !policy.self_review
    {
        return Err(Error::Forbidden(format!(
            "your review ({}, {}) set decision '{request_id}''s current state: the policy asks somebody else to \
             review it",
            latest.action,
            warden_core::Timestamp::from(latest.at).whole_seconds()
        )));
    }
    let before = latest.map_or(decision.decision.clone(), |r| r.decision.clone());
    let after = match input.action {
        ReviewAction::Confirm => match &input.decision {
            Some(given) if *given != before => {
                return Err(Error::invalid(format!(
                    "decision: a confirmation leaves the decision '{before}' as it is; override it to make it '{given}'"
                )));
            }
            _ => before.clone(),
        },
        ReviewAction::Override => match input.decision.as_deref().map(str::trim) {
            None | Some("") => return Err(Error::invalid("decision: an override names the new decision")),
            Some(given) if given == before => {
                return Err(Error::invalid(format!(
                    "decision: the decision is '{before}' already; confirm it instead of overriding it"
                )));
            }
            Some(given) => given.to_owned(),
        },
        ReviewAction::Reverse => {
            if input.decision.is_some() {
                return Err(Error::invalid(
                    "decision: a reversal turns the decision into its opposite; override it to name another",
                ));
            }
            let version = get_version(warden, &Principal::system(), model, &decision.version.to_string()).await?;
            let (positive, negative) = (&version.serving.positive_decision, &version.serving.negative_decision);
            if before == *positive {
                negative.clone()
            } else if before == *negative {
                positive.clone()
            } else {
                return Err(Error::invalid(format!(
                    "the decision is '{before}', neither of version {}'s decisions ('{positive}', '{negative}'): \
                     override it to name the decision it becomes",
                    decision.version
                )));
            }
        }
    };
    let review = DecisionReviewRow {
        id: 0,
        model_name: model.to_owned(),
        version: decision.version,
        request_id: request_id.to_owned(),
        decision_at: decision.at,
        at: warden.now(),
        reviewer: actor,
        action: input.action.as_str().to_owned(),
        decision_before: before,
        decision: after,
        reason_code: input.reason_code,
        note: input.note,
    };
    let subject = format!("model/{model}/decision/{request_id}");
    let event = registry::audit(warden, caller, "decision.review", subject, json!({}));
    let stored = warden.metadata.append_decision_review(&review, latest.map(|r| r.id), event).await?;
    DecisionReview::try_from(stored)
}

/// The decision the production routes answered for `request_id` (never a shadow's or a test's).
async fn answered_decision(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    request_id: &str,
) -> Result<NewDecision> {
    let decisions = warden_serving::scoring::decisions(warden, caller, model, Some(request_id), 100).await?;
    if decisions.len() == 100 {
        return Err(Error::Conflict(format!(
            "model '{model}' logged 100 or more decisions with request id '{request_id}': which one is meant is not \
             clear, so none is reviewed"
        )));
    }
    let (answered, others): (Vec<NewDecision>, Vec<NewDecision>) =
        decisions.into_iter().partition(|d| !["shadow", "pinned"].contains(&d.route.as_str()));
    match answered.into_iter().last() {
        Some(decision) => Ok(decision),
        None if !others.is_empty() => Err(Error::invalid(format!(
            "decision '{request_id}' of model '{model}' was made by a {} version and answered nobody: only \
             answered decisions are reviewed",
            others[0].route
        ))),
        None => Err(Error::NotFound(format!("model '{model}' has no decision with request id '{request_id}'"))),
    }
}

/// A model's decision log (of one request id when given) with each decision's reviews, oldest first.
pub async fn decisions_with_reviews(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    request_id: Option<&str>,
    limit: i64,
) -> Result<Vec<(NewDecision, Vec<DecisionReview>)>> {
    let decisions = warden_serving::scoring::decisions(warden, caller, model, request_id, limit).await?;
    let (Some(first), Some(last)) = (decisions.iter().map(|d| d.at).min(), decisions.iter().map(|d| d.at).max()) else {
        return Ok(Vec::new());
    };
    // One read for the page: the reviews of decisions made in its time span (other decisions' too, when
    // decisions arrived out of time order), within a bound that says so rather than drop some.
    let rows = warden.metadata.decision_reviews(model, request_id, (first, last), MAX_REVIEWS_READ).await?;
    if rows.len() as i64 >= MAX_REVIEWS_READ {
        return Err(Error::invalid(format!(
            "the decisions asked for span {MAX_REVIEWS_READ} reviews or more: ask for fewer decisions (limit) or \
             one request id"
        )));
    }
    let mut by_decision: HashMap<(String, i64, i64), Vec<DecisionReview>> = HashMap::new();
    for row in rows {
        let review = DecisionReview::try_from(row)?;
        by_decision.entry((review.request_id.clone(), review.version, review.decision_at)).or_default().push(review);
    }
    Ok(decisions
        .into_iter()
        .map(|d| {
            let reviews = by_decision.remove(&(d.request_id.clone(), d.version, d.at)).unwrap_or_default();
            (d, reviews)
        })
        .collect())
}

/// The override rate of a version's reviewed decisions since `since`: per decision, its latest review in the
/// window counts, and it is an override when it leaves the decision other than the model made it. With an
/// attribute (a decision attribute, else a feature), per value of it too. Each entry: key (`model`, or
/// `attribute=value`), reviewed decisions, overridden ones.
pub(crate) async fn override_rates(
    warden: &Oversight,
    model: &str,
    version: i64,
    since: i64,
    attribute: Option<&str>,
) -> Result<Vec<(String, u64, u64)>> {
    let rows =
        warden.metadata.reviews_of_decisions(model, version, since, MAX_REVIEWS_READ, attribute.is_some()).await?;
    // Newest first: the first row of a request is its latest review.
    let mut seen = std::collections::HashSet::new();
    let mut counts: std::collections::BTreeMap<String, (u64, u64)> = std::collections::BTreeMap::new();
    for row in rows {
        if !seen.insert(row.request_id.clone()) {
            continue;
        }
        let overridden = u64::from(row.decision != row.model_decision);
        let whole = counts.entry("model".to_owned()).or_default();
        whole.0 += 1;
        whole.1 += overridden;
        if let Some(attribute) = attribute {
            let mut key = format!("{attribute}={}", segment_value(&row.attributes, &row.features, attribute));
            // "model" and the segments so far, then "(other)": a continuous attribute makes no more keys.
            if !counts.contains_key(&key) && counts.len() > MAX_SEGMENTS {
                key = format!("{attribute}=(other)");
            }
            let segment = counts.entry(key).or_default();
            segment.0 += 1;
            segment.1 += overridden;
        }
    }
    Ok(counts.into_iter().map(|(key, (reviewed, overridden))| (key, reviewed, overridden)).collect())
}

/// A decision's value of `attribute`: its monitor-only attributes first, then its features; `(missing)` when
/// neither has it.
fn segment_value(attributes: &str, features: &str, attribute: &str) -> String {
    for text in [attributes, features] {
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        match &value[attribute] {
            serde_json::Value::Null => continue,
            serde_json::Value::String(text) => return text.clone(),
            other => return other.to_string(),
        }
    }
    "(missing)".to_owned()
}

/// Training rows from reviews, where the policy in force takes them as labels (off by default): a model's
/// production decisions made since `since` that were reviewed and have no outcome, labelled by the decision as
/// its latest review left it (the version's positive decision is the event); a decision overridden into
/// neither of its version's decisions is left out. Empty when the policy does not say so.
pub async fn training_rows(warden: &Oversight, model: &str, since: i64, limit: i64) -> Result<Vec<TrainingRow>> {
    if !policy(warden).await?.labels_from_reviews {
        return Ok(Vec::new());
    }
    let mut decisions_of: HashMap<i64, (String, String)> = HashMap::new();
    let mut rows = Vec::new();
    for reviewed in warden.metadata.reviewed_decisions(model, since, limit).await? {
        if !decisions_of.contains_key(&reviewed.version) {
            let version = get_version(warden, &Principal::system(), model, &reviewed.version.to_string()).await?;
            let serving = version.serving;
            decisions_of.insert(reviewed.version, (serving.positive_decision, serving.negative_decision));
        }
        let (positive, negative) = &decisions_of[&reviewed.version];
        let label = if reviewed.decision == *positive {
            true
        } else if reviewed.decision == *negative {
            false
        } else {
            continue;
        };
        rows.push(TrainingRow {
            at: reviewed.at,
            request_id: reviewed.request_id,
            version: reviewed.version,
            features: reviewed.features,
            attributes: reviewed.attributes,
            label,
        });
    }
    Ok(rows)
}
