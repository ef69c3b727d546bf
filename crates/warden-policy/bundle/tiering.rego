# Warden's default materiality tiering: a model's risk tier from its inventory fields.
#
# Input: {model: {name, owner, use_case, business_line, tags, fields}} (documented in POLICIES.md); `fields`
# holds the values the organisation's inventory schema defines (`warden inventory fields put`).
# Thresholds: data.warden.limits.materiality (limits.json), so a bank moves them without editing rules.
# Decision: `tier` ("high", "medium" or "low") and `reasons`, the facts that decided it. `tier` is undefined
# when the fields hold nothing these rules read: the model keeps the tier declared at its registration.
package warden.tiering

materiality := data.warden.limits.materiality

fields := object.get(input.model, "fields", {})

high contains "regulatory scope: EU AI Act high-risk (Annex III)" if fields.eu_ai_act_high_risk == true

high contains sprintf("exposure %v is at least %v", [fields.exposure, materiality.high_exposure]) if {
	is_number(fields.exposure)
	fields.exposure >= materiality.high_exposure
}

high contains "customer impact: high" if fields.customer_impact == "high"

medium contains sprintf("exposure %v is at least %v", [fields.exposure, materiality.medium_exposure]) if {
	is_number(fields.exposure)
	fields.exposure >= materiality.medium_exposure
	fields.exposure < materiality.high_exposure
}

medium contains "customer impact: medium" if fields.customer_impact == "medium"

low contains sprintf("exposure %v is below %v", [fields.exposure, materiality.medium_exposure]) if {
	is_number(fields.exposure)
	fields.exposure < materiality.medium_exposure
}

low contains "customer impact: low" if fields.customer_impact == "low"

# The highest tier any fact reaches.
tier := "high" if count(high) > 0

tier := "medium" if {
	count(high) == 0
	count(medium) > 0
}

tier := "low" if {
	count(high) == 0
	count(medium) == 0
	count(low) > 0
}

reasons := high if tier == "high"

reasons := medium if tier == "medium"

reasons := low if tier == "low"
