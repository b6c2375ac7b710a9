package ward.limits_test

import data.ward.limits

req(team, prompt, max_out) := {
	"phase": "request",
	"identity": {"team": team},
	"tokens": {"prompt_estimate": prompt, "max_output": max_out},
}

test_within_limits if {
	count(limits.deny) == 0 with input as req("cardiology", 1000, 1000)
}

test_prompt_too_large if {
	ds := limits.deny with input as req("cardiology", 32001, 0)
	some d in ds
	d.code == "prompt_too_large"
	d.status == 413
}

test_team_override_raises_limit if {
	count(limits.deny) == 0 with input as req("research", 100000, 16000)
}

test_max_output_too_large if {
	ds := limits.deny with input as req("cardiology", 10, 5000)
	{d.code | some d in ds} == {"max_output_too_large"}
}

test_budget_exceeded if {
	inp := object.union(req("cardiology", 10, 0), {"tokens": {"prompt_estimate": 10, "max_output": 0, "budget": {"limit": 100, "spent": 100, "remaining": 0}}})
	ds := limits.deny with input as inp
	some d in ds
	d.code == "budget_exceeded"
	d.status == 429
}

test_budget_without_limit_is_unlimited if {
	inp := object.union(req("cardiology", 10, 0), {"tokens": {"prompt_estimate": 10, "max_output": 0, "budget": {"limit": 0, "spent": 5, "remaining": 0}}})
	count(limits.deny) == 0 with input as inp
}

test_limits_only_at_request_phase if {
	inp := object.union(req("cardiology", 999999, 0), {"phase": "response"})
	count(limits.deny) == 0 with input as inp
}
