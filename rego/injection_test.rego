package ward.injection_test

import data.ward.injection

req(profile, score) := {
	"phase": "request",
	"profile": profile,
	"detectors": {"injection": {"score": score, "rules": ["instruction_override"]}},
}

test_clinical_denies_at_default_threshold if {
	some d in injection.deny with input as req("clinical", 0.62)
	d.code == "prompt_injection"
	d.status == 403
}

test_clinical_allows_low_scores if {
	count(injection.deny) == 0 with input as req("clinical", 0.2)
}

test_internal_has_a_higher_threshold if {
	count(injection.deny) == 0 with input as req("internal", 0.62)
	count(injection.deny) == 1 with input as req("internal", 0.97)
}

test_no_detector_result_no_denial if {
	count(injection.deny) == 0 with input as {"phase": "request", "profile": "clinical", "detectors": {}}
}

test_only_requests_are_screened if {
	inp := object.union(req("clinical", 0.99), {"phase": "response"})
	count(injection.deny) == 0 with input as inp
}

test_threshold_from_data if {
	count(injection.deny) == 0 with input as req("clinical", 0.62)
		with data.ward.config.injection.threshold as {"clinical": 0.7}
}

# The profiles wire it in: a clinical request with a high score is denied.
test_clinical_profile_denies_injection if {
	d := data.ward.clinical.decision with input as {
		"phase": "request", "profile": "clinical", "provider": "openai", "model": "gpt-4o-mini",
		"identity": {"team": "cardiology", "app": "scribe"},
		"detectors": {"phi": {"count": 0, "by_type": {}, "new_by_type": {}, "findings": []}, "injection": {"score": 0.93, "rules": ["instruction_override"]}},
		"tokens": {"prompt_estimate": 20, "max_output": 100}, "route": {"baa": false, "allowed_phi": []},
	}
	d.allow == false
	d.reason.code == "prompt_injection"
}
