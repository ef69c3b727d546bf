# Unit tests of the default tiering: each fact reaches its tier, the highest wins, silence decides nothing.
package warden.tiering_test

import data.warden.tiering

model(fields) := {"model": {"name": "credit", "owner": "retail-risk", "fields": fields}}

test_eu_ai_act_high_risk_is_high if {
	tiering.tier == "high" with input as model({"eu_ai_act_high_risk": true, "exposure": 1000})
}

test_large_exposure_is_high if {
	tiering.tier == "high" with input as model({"exposure": 250000000})
}

test_middle_exposure_is_medium if {
	tiering.tier == "medium" with input as model({"exposure": 50000000})
	tiering.reasons == {"exposure 50000000 is at least 10000000"} with input as model({"exposure": 50000000})
}

test_small_exposure_is_low if {
	tiering.tier == "low" with input as model({"exposure": 5000000, "eu_ai_act_high_risk": false})
}

test_the_highest_fact_wins if {
	tiering.tier == "high" with input as model({"exposure": 5000000, "customer_impact": "high"})
	tiering.reasons == {"customer impact: high"} with input as model({"exposure": 5000000, "customer_impact": "high"})
}

test_no_facts_decide_nothing if {
	not tiering.tier with input as model({"business_line": "cards"})
	not tiering.tier with input as {"model": {"name": "credit"}}
}
