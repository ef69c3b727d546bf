# Unit tests of the default gate: each rule refuses its case and stays quiet on a good input.
# Run them with `warden policy test DIR`.
package warden.gate_test

import data.warden.gate

good := {
	"model": {"name": "credit", "risk_tier": "high", "owner": "retail-risk"},
	"version": {
		"number": 2, "format": "onnx", "created_by": "dana",
		"training_data_sha256": "9f2c", "code_ref": "git:4e1a", "protected": ["sex"],
	},
	"validation": {
		"version": 2, "created_at": 1700000000, "auc": 0.80, "auc_lower": 0.77, "ece": 0.03,
		"max_feature_psi": 0.05, "psi": {"age": 0.05, "income": 0.01}, "score_psi": 0.02,
		"fairness": {"sex": {"disparate_impact": 0.91}},
	},
	"approvals": [
		{"by": "vera", "role": "validator", "decision": "approve", "comment": "ok"},
		{"by": "victor", "role": "validator", "decision": "approve", "comment": "ok"},
		{"by": "rita", "role": "risk-officer", "decision": "approve", "comment": "ok"},
	],
	"target": {"alias": "champion"},
	"findings": [
		{"id": 1, "kind": "validation", "severity": "medium", "state": "open", "title": "thin segment", "due_at": 1707000000},
		{"id": 2, "kind": "vulnerability", "severity": "critical", "state": "closed", "title": "CVE-2024-3094", "due_at": 1700100000},
	],
	"now": 1700086400,
}

# `good` with one section swapped whole (object.union merges nested objects, so it cannot drop a field).
replaced(section, value) := object.union(object.remove(good, [section]), {section: value})

test_good_input_is_allowed if {
	count(gate.deny) == 0 with input as good
}

test_low_auc_is_refused if {
	some msg in gate.deny with input as object.union(good, {"validation": object.union(good.validation, {"auc": 0.70})})
	contains(msg, "AUC 0.700 is below the minimum 0.75")
}

# A multiclass classifier's validation: its macro AUC and accuracy on the realized classes, no calibration.
multiclass_good := object.union(
	object.remove(good, ["validation"]),
	{"validation": object.union(object.remove(good.validation, ["auc_lower", "ece"]), {
		"task": "multiclass_classification", "auc": 0.81, "accuracy": 0.64, "macro_f1": 0.6,
	})},
)

test_a_multiclass_classifier_is_judged_on_its_macro_auc_without_calibration if {
	count(gate.deny) == 0 with input as multiclass_good
}

test_a_multiclass_classifier_with_a_low_macro_auc_is_refused_naming_it if {
	some msg in gate.deny with input as object.union(multiclass_good, {"validation": object.union(multiclass_good.validation, {"auc": 0.70})})
	contains(msg, "macro AUC (one-vs-rest) 0.700 is below the minimum 0.75 for a high-risk model")
}

test_a_multiclass_classifier_without_its_accuracy_is_refused if {
	without := object.union(object.remove(multiclass_good, ["validation"]), {"validation": object.remove(multiclass_good.validation, ["accuracy"])})
	some msg in gate.deny with input as without
	contains(msg, "validation.accuracy is missing")
}

# A regression model's validation: no AUC or calibration, its figures on the realized values instead.
regression_good := object.union(
	object.remove(good, ["validation"]),
	{"validation": object.union(object.remove(good.validation, ["auc", "auc_lower", "ece"]), {
		"task": "regression", "mae": 0.05, "r2": 0.71, "relative_expected_loss_error": 0.04,
	})},
)

test_a_regression_is_judged_on_its_realized_values if {
	count(gate.deny) == 0 with input as regression_good
}

test_a_regression_with_a_low_r2_is_refused if {
	some msg in gate.deny with input as object.union(regression_good, {"validation": object.union(regression_good.validation, {"r2": 0.3})})
	contains(msg, "R² 0.300 on the realized values is below the minimum 0.50")
}

test_a_regression_that_underprovisions_is_refused if {
	worse := object.union(regression_good, {"validation": object.union(regression_good.validation, {"relative_expected_loss_error": 0.2})})
	some msg in gate.deny with input as worse
	contains(msg, "expected-loss error is 0.200 of the realized loss")
}

test_a_regression_without_its_figures_is_refused if {
	without := object.union(object.remove(regression_good, ["validation"]), {"validation": object.remove(regression_good.validation, ["r2"])})
	some msg in gate.deny with input as without
	contains(msg, "validation.r2 is missing")
}

test_a_regression_with_an_undefined_expected_loss_error_is_refused_with_the_reason if {
	without := object.union(object.remove(regression_good, ["validation"]), {"validation": object.remove(regression_good.validation, ["relative_expected_loss_error"])})
	some msg in gate.deny with input as without
	contains(msg, "realized values sum to zero or less")
}

test_a_regression_without_its_limits_in_policy_data_is_refused if {
	some msg in gate.deny with input as regression_good with data.warden.limits.regression as {}
	contains(msg, "no warden.limits.regression.min_r2")
}

test_low_tier_accepts_lower_auc if {
	bad_auc := object.union(good, {"validation": object.union(good.validation, {"auc": 0.70})})
	low := object.union(bad_auc, {"model": object.union(good.model, {"risk_tier": "low"})})
	count(gate.deny) == 0 with input as low
}

test_feature_psi_above_limit_is_refused if {
	some msg in gate.deny with input as object.union(good, {"validation": object.union(good.validation, {"psi": {"age": 0.4}})})
	contains(msg, "feature 'age' has PSI 0.400")
}

test_score_psi_above_limit_is_refused if {
	some msg in gate.deny with input as object.union(good, {"validation": object.union(good.validation, {"score_psi": 0.3})})
	contains(msg, "score's PSI")
}

test_disparate_impact_below_four_fifths_is_refused if {
	fair := {"fairness": {"sex": {"disparate_impact": 0.7}}}
	some msg in gate.deny with input as object.union(good, {"validation": object.union(good.validation, fair)})
	contains(msg, "disparate-impact ratio 0.700 for 'sex'")
}

test_calibration_above_limit_is_refused if {
	some msg in gate.deny with input as object.union(good, {"validation": object.union(good.validation, {"ece": 0.2})})
	contains(msg, "expected calibration error")
}

test_missing_lineage_is_refused if {
	version := object.remove(good.version, ["code_ref"])
	some msg in gate.deny with input as replaced("version", version)
	msg == "lineage incomplete: version.code_ref is missing"
}

test_stale_validation_is_refused if {
	some msg in gate.deny with input as object.union(good, {"now": 1700000000 + (91 * 86400)})
	contains(msg, "91 days old")
}

test_format_outside_the_list_is_refused if {
	some msg in gate.deny with input as object.union(good, {"version": object.union(good.version, {"format": "pickle"})})
	contains(msg, "artifact format 'pickle' is not allowed")
}

test_high_tier_needs_two_validators if {
	approvals := [a | some a in good.approvals; a.by != "victor"]
	some msg in gate.deny with input as object.union(good, {"approvals": approvals})
	msg == "high-risk models need 2 approval(s) from the validator role; 1 given"
}

test_registrant_and_repeats_do_not_count if {
	approvals := array.concat(
		[a | some a in good.approvals; a.by != "victor"],
		[
			{"by": "dana", "role": "validator", "decision": "approve", "comment": "mine"},
			{"by": "vera", "role": "validator", "decision": "approve", "comment": "again"},
		],
	)
	some msg in gate.deny with input as object.union(good, {"approvals": approvals})
	msg == "high-risk models need 2 approval(s) from the validator role; 1 given"
}

test_a_rejection_is_refused if {
	approvals := array.concat(good.approvals, [{"by": "rex", "role": "validator", "decision": "reject", "comment": "unstable"}])
	some msg in gate.deny with input as object.union(good, {"approvals": approvals})
	msg == "rejected by rex (validator): unstable"
}

test_missing_validation_is_refused_with_a_reason if {
	some msg in gate.deny with input as object.remove(good, ["validation"])
	msg == "input.validation is missing: the gate cannot decide without it"
}

test_missing_auc_is_refused_with_a_reason if {
	some msg in gate.deny with input as replaced("validation", object.remove(good.validation, ["auc"]))
	contains(msg, "validation.auc is missing")
}

test_low_auc_lower_bound_warns if {
	some msg in gate.warn with input as object.union(good, {"validation": object.union(good.validation, {"auc_lower": 0.70})})
	contains(msg, "lower 95% bound")
}

test_unsigned_artifact_is_refused_where_the_tier_requires_signing if {
	some msg in gate.deny with input as good with data.warden.limits.signed_artifacts_required_for as ["high"]
	contains(msg, "high-risk models need an artifact signed by a trusted signer")
}

test_signed_artifact_passes_where_the_tier_requires_signing if {
	signed := object.union(good, {"version": object.union(good.version, {"artifact_signed": true, "artifact_signer": "ci"})})
	count(gate.deny) == 0 with input as signed with data.warden.limits.signed_artifacts_required_for as ["high"]
}

test_unsigned_artifact_passes_where_no_tier_requires_signing if {
	count(gate.deny) == 0 with input as good with data.warden.limits.signed_artifacts_required_for as ["medium"]
}

high_open := {"id": 3, "kind": "validation", "severity": "high", "state": "open", "title": "unstable in recent vintages", "due_at": 1702000000}

test_an_unresolved_high_finding_is_refused if {
	some msg in gate.deny with input as replaced("findings", [high_open])
	contains(msg, "finding 3 (validation, high) is unresolved")
}

test_a_proposed_remediation_still_refuses if {
	some msg in gate.deny with input as replaced("findings", [object.union(high_open, {"state": "remediation_proposed"})])
	contains(msg, "finding 3")
}

covered := object.union(high_open, {"exception_until": 1700090000})

test_an_exception_covers_a_finding if {
	count(gate.deny) == 0 with input as replaced("findings", [covered])
}

test_an_exception_warns if {
	some msg in gate.warn with input as replaced("findings", [covered])
	contains(msg, "covered by a policy exception")
}

test_a_lapsed_exception_is_refused if {
	some refusal in gate.deny with input as object.union(good, {"findings": [covered], "now": 1700090000})
	contains(refusal, "finding 3")
}

test_an_accepted_limitation_warns if {
	accepted := object.union(high_open, {"state": "accepted", "accepted_until": 1700090000})
	some msg in gate.warn with input as replaced("findings", [accepted])
	contains(msg, "accepted as a limitation")
}

test_an_accepted_limitation_passes_until_it_expires if {
	accepted := object.union(high_open, {"state": "accepted", "accepted_until": 1700090000})
	count(gate.deny) == 0 with input as replaced("findings", [accepted])
	expired := object.union(good, {"findings": [accepted], "now": 1700090001})
	some msg in gate.deny with input as expired
	contains(msg, "finding 3")
}

test_a_missing_findings_section_is_refused if {
	some msg in gate.deny with input as object.remove(good, ["findings"])
	contains(msg, "input.findings is missing")
}

test_a_model_overdue_for_revalidation_is_not_promoted if {
	overdue := {"due_at": 1690000000, "overdue": true, "frequency_days": 365, "required": null}
	model := object.union(good.model, {"revalidation": overdue})
	some msg in gate.deny with input as replaced("model", model)
	contains(msg, "model credit is overdue for revalidation (due 1690000000, every 365 days for a high-risk model)")
}

test_a_model_within_its_revalidation_schedule_passes if {
	in_time := {"due_at": 1731000000, "overdue": false, "frequency_days": 365, "required": null}
	count(gate.deny) == 0 with input as replaced("model", object.union(good.model, {"revalidation": in_time}))
}

test_the_revalidation_frequency_is_policy_data if {
	gate.revalidation_days == {"high": 365, "medium": 730, "low": 1095}
}
