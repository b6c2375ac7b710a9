package ward_test

import data.ward

test_dispatch_clinical if {
	d := ward.decision with input as {"phase": "request", "profile": "clinical", "identity": {"team": "cardiology"}, "model": "gpt-4o-mini", "provider": "openai", "tokens": {"prompt_estimate": 10, "max_output": 0}, "detectors": {"phi": {"count": 0, "findings": []}}}
	d.allow
	"clinical" in d.tags
}

test_dispatch_internal if {
	d := ward.decision with input as {"phase": "request", "profile": "internal", "identity": {"team": "platform"}, "model": "anything", "tokens": {"prompt_estimate": 10, "max_output": 0}}
	d.allow
	d.tags == ["internal"]
	d.audit == "full"
}

test_passthrough_allows_without_content_audit if {
	d := ward.decision with input as {"phase": "request", "profile": "passthrough"}
	d.allow
	d.audit == "none"
}

test_unknown_profile_denied if {
	d := ward.decision with input as {"phase": "request", "profile": "nope"}
	not d.allow
	d.reason.code == "unknown_profile"
	d.status == 403
}

test_decision_shape_is_complete if {
	d := ward.decision with input as {"phase": "request", "profile": "passthrough"}
	object.keys(d) == {"allow", "reason", "status", "redact", "route", "headers", "audit", "tags"}
}
