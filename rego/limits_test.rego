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

budget_req(model, limit, remaining) := object.union(req("cardiology", 10, 0), {
	"model": model,
	"tokens": {"prompt_estimate": 10, "max_output": 0, "budget": {"limit": limit, "spent": limit - remaining, "remaining": remaining, "unit": "usd"}},
})

test_budget_low_warns_and_downgrades if {
	inp := budget_req("gpt-4o", 500, 20)
	limits.budget_low with input as inp
	limits.budget_headers == {"x-ward-budget-remaining-usd": "20"} with input as inp
	limits.budget_downgrade == "gpt-4o-mini" with input as inp
		with data.ward.config.limits.budget as {"downgrade": {"gpt-4o": "gpt-4o-mini"}}
	count(limits.deny) == 0 with input as inp
}

test_budget_not_low if {
	inp := budget_req("gpt-4o", 500, 100)
	not limits.budget_low with input as inp
	limits.budget_headers == {} with input as inp
	not limits.budget_downgrade with input as inp
		with data.ward.config.limits.budget as {"downgrade": {"gpt-4o": "gpt-4o-mini"}}
}

test_budget_warn_threshold_from_data if {
	inp := budget_req("gpt-4o", 500, 100)
	limits.budget_low with input as inp with data.ward.config.limits.budget as {"warn_below": 0.25}
}

test_budget_no_downgrade_without_mapping if {
	not limits.budget_downgrade with input as budget_req("o3", 500, 1)
}

test_budget_header_rounds_to_cents if {
	limits.budget_headers == {"x-ward-budget-remaining-usd": "0.57"} with input as budget_req("gpt-4o", 500, 0.5691)
}

# The profiles apply the budget hooks: a clinical request from a team low on
# budget is moved to the cheaper model and the caller is told what is left.
test_clinical_applies_budget_downgrade_and_warning if {
	inp := object.union(budget_req("gpt-4o", 500, 20), {
		"profile": "clinical", "provider": "openai", "endpoint": "chat_completions",
		"identity": {"team": "cardiology", "app": "scribe"},
		"detectors": {"phi": {"count": 0, "by_type": {}, "new_by_type": {}, "findings": []}},
		"route": {"baa": false, "allowed_phi": []},
	})
	d := data.ward.decision with input as inp
	d.allow == true
	d.route.model == "gpt-4o-mini"
	d.headers["x-ward-budget-remaining-usd"] == "20"
	"budget_low" in d.tags
}

test_internal_warns_when_budget_low if {
	inp := object.union(budget_req("o3", 500, 20), {"profile": "internal", "identity": {"team": "platform", "app": "tools"}})
	d := data.ward.decision with input as inp
	d.allow == true
	d.headers["x-ward-budget-remaining-usd"] == "20"
}
