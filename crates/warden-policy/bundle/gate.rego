# Warden's default promotion gate.
#
# Input: {model, version, validation, approvals, target, findings, now} (documented in POLICIES.md).
# Limits: data.warden.limits (limits.json), so a bank can tighten them without editing rules.
# Decision (conftest's convention): the version may be promoted when `deny` is empty; `warn` is advisory.
package warden.gate

limits := data.warden.limits

tier := input.model.risk_tier

# --- the input itself ---------------------------------------------------------------------------------------

required_sections := ["model", "version", "validation", "approvals", "target", "findings", "now"]

deny contains sprintf("input.%s is missing: the gate cannot decide without it", [section]) if {
	some section in required_sections
	not section in object.keys(input)
}

deny contains sprintf("input.model.risk_tier '%v' is not one of high, medium, low", [tier]) if {
	"model" in object.keys(input)
	not tier in {"high", "medium", "low"}
}

# A number the validation must carry: missing or null is a refusal with the field's name, never a silent pass.
validation_number(field) := input.validation[field] if is_number(input.validation[field])

# A regression model (LGD, EAD, income) is judged on its realized values, not on AUC and calibration.
regression if input.validation.task == "regression"

# A multiclass classifier (collections strategy, product) is judged on its macro one-vs-rest AUC over its
# realized classes; it has no calibration error (one probability per class, no bad event).
multiclass if input.validation.task == "multiclass_classification"

required_numbers := ["r2", "max_feature_psi", "score_psi"] if {
	regression
} else := ["auc", "accuracy", "max_feature_psi", "score_psi"] if {
	multiclass
} else := ["auc", "ece", "max_feature_psi", "score_psi"]

deny contains sprintf("validation.%s is missing: validate the version (warden validate) before promoting it", [field]) if {
	is_object(input.validation)
	some field in required_numbers
	not validation_number(field)
}

deny contains "no validation report: validate the version (warden validate) before promoting it" if {
	"validation" in object.keys(input)
	not is_object(input.validation)
}

# --- discrimination ---------------------------------------------------------------------------------------

auc_name := "macro AUC (one-vs-rest)" if multiclass else := "AUC"

deny contains sprintf("%s %.3f is below the minimum %.2f for a %s-risk model", [auc_name, auc, minimum, tier]) if {
	not regression
	auc := validation_number("auc")
	minimum := limits.min_auc[tier]
	auc < minimum
}

warn contains sprintf("the AUC's lower 95%% bound %.3f is below the minimum %.2f for a %s-risk model", [lower, minimum, tier]) if {
	not regression
	lower := input.validation.auc_lower
	is_number(lower)
	minimum := limits.min_auc[tier]
	validation_number("auc") >= minimum
	lower < minimum
}

# --- regression models, on their realized values ------------------------------------------------------------

deny contains sprintf("R² %.3f on the realized values is below the minimum %.2f", [r2, limits.regression.min_r2]) if {
	regression
	r2 := validation_number("r2")
	r2 < limits.regression.min_r2
}

deny contains "the relative expected-loss error is undefined: the validation's realized values sum to zero or less" if {
	regression
	is_object(input.validation)
	not validation_number("relative_expected_loss_error")
}

deny contains sprintf("policy data has no warden.limits.regression.%s: the gate cannot judge a regression without it", [limit]) if {
	regression
	some limit in ["min_r2", "max_relative_expected_loss_error"]
	not is_number(limits.regression[limit])
}

deny contains sprintf("the expected-loss error is %.3f of the realized loss, above the limit %.2f", [error, limits.regression.max_relative_expected_loss_error]) if {
	regression
	error := validation_number("relative_expected_loss_error")
	error > limits.regression.max_relative_expected_loss_error
}

# --- stability ----------------------------------------------------------------------------------------------

deny contains sprintf("feature '%s' has PSI %.3f against the reference, above the limit %.2f", [feature, value, limits.max_psi]) if {
	some feature, value in input.validation.psi
	is_number(value)
	value > limits.max_psi
}

deny contains sprintf("the score's PSI %.3f against the reference is above the limit %.2f", [value, limits.max_psi]) if {
	value := validation_number("score_psi")
	value > limits.max_psi
}

# --- calibration --------------------------------------------------------------------------------------------

deny contains sprintf("expected calibration error %.3f is above the limit %.2f", [ece, limits.max_ece]) if {
	ece := validation_number("ece")
	ece > limits.max_ece
}

# --- fairness -----------------------------------------------------------------------------------------------

deny contains sprintf("disparate-impact ratio %.3f for '%s' is below %.2f (four-fifths rule)", [ratio, attribute, limits.min_disparate_impact]) if {
	some attribute, figures in input.validation.fairness
	ratio := figures.disparate_impact
	is_number(ratio)
	ratio < limits.min_disparate_impact
}

deny contains sprintf("protected attribute '%s' has no fairness figures in the validation report", [attribute]) if {
	some attribute in input.version.protected
	is_object(input.validation)
	not is_number(input.validation.fairness[attribute].disparate_impact)
}

# --- lineage and artifact -----------------------------------------------------------------------------------

deny contains sprintf("lineage incomplete: version.%s is missing", [field]) if {
	"version" in object.keys(input)
	some field in ["training_data_sha256", "code_ref"]
	not non_empty_string(input.version[field])
}

non_empty_string(value) if {
	is_string(value)
	value != ""
}

# Risk tiers listed in limits.signed_artifacts_required_for need an artifact signed by a trusted signer
# (Warden verifies the signature at registration and at every load; the input says whether there is one).
deny contains sprintf("%s-risk models need an artifact signed by a trusted signer; version %v is unsigned", [tier, input.version.number]) if {
	"version" in object.keys(input)
	tier in object.get(limits, "signed_artifacts_required_for", [])
	not input.version.artifact_signed == true
}

deny contains sprintf("artifact format '%v' is not allowed (allowed: %s)", [input.version.format, concat(", ", limits.allowed_formats)]) if {
	"version" in object.keys(input)
	not input.version.format in limits.allowed_formats
}

# --- freshness ----------------------------------------------------------------------------------------------

deny contains sprintf("the validation report is %d days old; the limit is %d days", [age_days, limits.max_validation_age_days]) if {
	is_number(input.validation.created_at)
	is_number(input.now)
	age_days := floor((input.now - input.validation.created_at) / 86400)
	age_days > limits.max_validation_age_days
}

deny contains "the validation report is of another version" if {
	is_object(input.validation)
	input.validation.version != input.version.number
}

# --- findings -----------------------------------------------------------------------------------------------

# Days a finding has before it is due, by severity, and the longest an exception or an accepted limitation may
# last: Warden reads these when a finding is raised, excepted or accepted.
finding_due_days := limits.finding_due_days

finding_exception_max_days := limits.finding_exception_max_days

# --- data retention -----------------------------------------------------------------------------------------

# The least a model's data policy may keep its decisions, in days (EU AI Act Art. 26(6): a deployer keeps the
# logs at least six months): Warden reads it when a data policy is declared.
min_decision_retention_days := limits.min_decision_retention_days

# Open, remediation proposed, or accepted as a limitation whose acceptance has expired.
unresolved(f) if f.state in {"open", "remediation_proposed"}

unresolved(f) if {
	f.state == "accepted"
	not f.accepted_until > input.now
}

# A policy exception covers a finding until its expiry.
excepted(f) if f.exception_until > input.now

deny contains sprintf("finding %v (%s, %s) is unresolved: %s", [f.id, f.kind, f.severity, f.title]) if {
	some f in input.findings
	f.severity in {"high", "critical"}
	unresolved(f)
	not excepted(f)
}

warn contains sprintf("finding %v (%s, %s) is covered by a policy exception until %v", [f.id, f.kind, f.severity, f.exception_until]) if {
	some f in input.findings
	f.severity in {"high", "critical"}
	unresolved(f)
	excepted(f)
}

warn contains sprintf("finding %v (%s, %s) is accepted as a limitation until %v", [f.id, f.kind, f.severity, f.accepted_until]) if {
	some f in input.findings
	f.severity in {"high", "critical"}
	f.state == "accepted"
	f.accepted_until > input.now
}

# --- revalidation ------------------------------------------------------------------------------------------

# Days between a model's validations, by tier: Warden reads these for each model's due date.
revalidation_days := limits.revalidation_days

# Days between a model's owner attestations, by tier: Warden opens one 30 days before each is due.
attestation_days := limits.attestation_days

# A model past its revalidation due date is promoted only once a version is validated again (which moves the
# date): input.model.revalidation is {due_at, overdue, frequency_days, required} (times in Unix seconds).
deny contains sprintf("model %s is overdue for revalidation (due %v, every %v days for a %s-risk model): validate it again first", [input.model.name, input.model.revalidation.due_at, input.model.revalidation.frequency_days, tier]) if {
	input.model.revalidation.overdue == true
}

# --- human oversight of decisions --------------------------------------------------------------------------

# The reason codes a decision review may give, whether the person whose review set a decision's current state
# may review it again (false: somebody else does), and whether retraining may take a reviewed decision as the
# label of a decision with no outcome: Warden reads these at each review and each retraining job.
review := limits.review

# --- approvals ----------------------------------------------------------------------------------------------

# Distinct approvers per role; the registrant never counts (Warden refuses such approvals too).
approvers(role) := {a.by |
	some a in input.approvals
	a.decision == "approve"
	a.role == role
	a.by != input.version.created_by
}

deny contains sprintf("%s-risk models need %d approval(s) from the %s role; %d given", [tier, needed, role, count(approvers(role))]) if {
	some role, needed in limits.approvals[tier]
	count(approvers(role)) < needed
}

deny contains sprintf("rejected by %s (%s): %s", [a.by, a.role, a.comment]) if {
	some a in input.approvals
	a.decision == "reject"
}
