package ward.internal_test

import data.ward.internal as profile

base := {
	"phase": "request",
	"profile": "internal",
	"identity": {"team": "research", "app": "notebook"},
	"provider": "openai",
	"model": "gpt-4o",
	"tokens": {"prompt_estimate": 500, "max_output": 1000},
	"detectors": {"phi": {"count": 2, "by_type": {"NAME": 1, "SSN": 1}, "new_by_type": {}, "findings": [
		{"type": "NAME", "role": "user", "message_index": 0, "start": 0, "end": 4, "score": 0.9},
		{"type": "SSN", "role": "user", "message_index": 0, "start": 10, "end": 21, "score": 0.99},
	]}},
}

test_internal_never_redacts_and_audits_full if {
	d := profile.decision with input as base
	d.allow
	d.redact == []
	d.audit == "full"
}

test_internal_enforces_allowlist if {
	d := profile.decision with input as object.union(base, {"model": "claude-opus-4"})
	not d.allow
	d.reason.code == "model_not_allowed"
}

test_internal_enforces_limits if {
	d := profile.decision with input as object.union(base, {"tokens": {"prompt_estimate": 200000, "max_output": 0}})
	not d.allow
	d.reason.code == "prompt_too_large"
	d.status == 413
}

test_internal_reroute_tagged if {
	d := profile.decision with input as object.union(base, {"identity": {"team": "cardiology", "app": "x"}, "model": "o3"})
	d.allow
	d.route == {"model": "gpt-4o-mini"}
	"model_rerouted" in d.tags
}

test_denial_priority_is_deterministic if {
	# both the model and the limits deny: the model denial wins (priority 5 < 30)
	d := profile.decision with input as object.union(base, {"model": "claude-opus-4", "tokens": {"prompt_estimate": 200000, "max_output": 0}})
	d.reason.code == "model_not_allowed"
}
