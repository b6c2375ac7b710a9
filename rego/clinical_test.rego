package ward.clinical_test

import data.ward.clinical

finding(t, role, i) := {"type": t, "role": role, "message_index": i, "start": 0, "end": 5, "score": 0.95}

req(provider, findings) := {
	"version": 1,
	"phase": "request",
	"profile": "clinical",
	"identity": {"team": "cardiology", "app": "scribe", "key_id": "k1", "end_user": "u1"},
	"provider": provider,
	"model": "gpt-4o-mini",
	"endpoint": "chat_completions",
	"stream": false,
	"messages": [{"role": "user", "text": "Patient John Smith, DOB 01/02/1960"}],
	"tokens": {"prompt_estimate": 100, "max_output": 500},
	"detectors": {"phi": summary(findings)},
	"route": {"baa": false, "allowed_phi": []},
}

# summary builds the phi detector document the way Ward's input builder does.
summary(findings) := {
	"count": count(findings),
	"by_type": {t: n | some f in findings; t := f.type; n := count([1 | some g in findings; g.type == t])},
	"new_by_type": {t: n |
		some f in findings
		f.role == "output"
		not f.in_input
		t := f.type
		n := count([1 | some g in findings; g.type == t; g.role == "output"; not g.in_input])
	},
	"findings": findings,
}

resp(app, text, findings) := {
	"version": 1,
	"phase": "response",
	"profile": "clinical",
	"identity": {"team": "cardiology", "app": app},
	"provider": "openai",
	"model": "gpt-4o-mini",
	"tokens": {"prompt_estimate": 100, "max_output": 500},
	"detectors": {"phi": summary(findings)},
	"output": {"text": text},
	"route": {"baa": false, "allowed_phi": []},
}

test_no_phi_allowed_full_audit if {
	d := clinical.decision with input as req("openai", [])
	d.allow
	d.redact == []
	d.audit == "full"
	d.status == 0
}

test_phi_redacted_for_provider_without_baa if {
	d := clinical.decision with input as req("openai", [finding("NAME", "user", 0), finding("DOB", "user", 0)])
	d.allow
	d.redact == [{"type": "DOB", "mode": "mask"}, {"type": "NAME", "mode": "mask"}]
	d.audit == "redacted"
	d.headers == {"x-ward-redacted": "DOB,NAME"}
	"phi_redacted" in d.tags
}

test_phi_not_redacted_for_baa_provider if {
	d := clinical.decision with input as req("azure-openai", [finding("NAME", "user", 0)])
	d.allow
	d.redact == []
	"baa" in d.tags
	d.audit == "redacted"
}

test_route_baa_flag_counts if {
	inp := object.union(req("openai", [finding("NAME", "user", 0)]), {"route": {"baa": true}})
	d := clinical.decision with input as inp
	d.redact == []
}

test_high_risk_types_blocked_even_with_baa if {
	every t in ["SSN", "MBI", "MRN", "ssn"] {
		d := clinical.decision with input as req("azure-openai", [finding(t, "user", 0)])
		not d.allow
		d.reason.code == "phi_blocked"
		d.status == 403
		"phi_blocked" in d.tags
	}
}

test_route_may_allow_high_risk_type if {
	inp := object.union(req("azure-openai", [finding("MRN", "user", 0)]), {"route": {"baa": true, "allowed_phi": ["MRN"]}})
	d := clinical.decision with input as inp
	d.allow
	d.redact == []
}

test_block_message_names_types_not_values if {
	d := clinical.decision with input as req("openai", [finding("SSN", "user", 0), finding("MRN", "tool", 2)])
	d.reason.message == "the request contains MRN, SSN, which may not be sent on this route"
}

test_model_generated_phi_redacted_in_output if {
	f := object.union(finding("PHONE", "output", -1), {"in_input": false})
	d := clinical.decision with input as resp("scribe", "Call 555-123-4567", [f])
	d.allow
	d.redact == [{"type": "PHONE", "mode": "mask"}]
}

test_echoed_phi_not_redacted_in_output if {
	f := object.union(finding("NAME", "output", -1), {"in_input": true})
	d := clinical.decision with input as resp("scribe", "Summary for John Smith", [f])
	d.allow
	d.redact == []
}

test_patient_facing_dosage_advice_denied if {
	every text in [
		"You should take 400 mg of ibuprofen every 6 hours.",
		"Based on your symptoms you probably have a sinus infection.",
		"Your diagnosis is type 2 diabetes.",
		"Increase your metformin to 1000mg.",
		"Take 2 tablets at bedtime.",
	] {
		d := clinical.decision with input as resp("patient-portal", text, [])
		not d.allow
		d.reason.code == "clinical_advice"
		d.status == 403
		contains(d.reason.message, "care team")
	}
}

test_patient_facing_safe_text_allowed if {
	d := clinical.decision with input as resp("patient-portal", "Your appointment is on Tuesday at 10am. Please bring your insurance card.", [])
	d.allow
}

test_clinician_app_may_receive_dosage if {
	d := clinical.decision with input as resp("scribe", "Start metformin 500 mg twice daily.", [])
	d.allow
}

test_response_allow_carries_only_what_ward_reads if {
	f := object.union(finding("PHONE", "output", -1), {"in_input": false})
	d := clinical.decision with input as resp("scribe", "Call 555-123-4567", [f])
	d.allow
	d.route == {}
	d.headers == {}
	d.tags == ["clinical", "phi", "phi_redacted"]
	d.audit == "redacted"
	clean := clinical.decision with input as resp("scribe", "All good.", [])
	clean.tags == ["clinical"]
	clean.audit == "full"
}

test_chunk_window_is_where_advice_is_looked_for if {
	# The window holds the new phrase; text before it was already decided.
	inp := object.union(resp("patient-portal", "you should take 5 mg daily", []), {
		"phase": "response_chunk",
		"output": {"text": "Earlier text. Then: take 2 tablets at bedtime", "window": "Then: take 2 tablets at bedtime"},
	})
	not clinical.decision.allow with input as inp
	ok := object.union(inp, {"output": {"text": "Earlier text. Then: take 2 tablets at bedtime", "window": "bedtime"}})
	clinical.decision.allow with input as ok
}

test_chunk_phase_checks_advice if {
	inp := object.union(resp("patient-portal", "you should take 5 mg daily", []), {"phase": "response_chunk"})
	d := clinical.decision with input as inp
	not d.allow
}

test_limits_apply_in_clinical if {
	inp := object.union(req("openai", []), {"tokens": {"prompt_estimate": 50000, "max_output": 0}})
	d := clinical.decision with input as inp
	d.reason.code == "prompt_too_large"
}

test_block_outranks_limits if {
	inp := object.union(req("openai", [finding("SSN", "user", 0)]), {"tokens": {"prompt_estimate": 50000, "max_output": 0}})
	d := clinical.decision with input as inp
	d.reason.code == "phi_blocked"
	d.audit == "redacted"
}

test_route_to_azure_for_team if {
	inp := object.union(req("openai", []), {"model": "gpt-4o"})
	d := clinical.decision with input as inp
	d.route == {"model": "gpt-4o-clinical", "provider": "azure-openai"}
}

test_routing_to_baa_provider_skips_redaction if {
	inp := object.union(req("openai", [finding("NAME", "user", 0)]), {"model": "gpt-4o"})
	d := clinical.decision with input as inp
	d.allow
	d.redact == []
	"baa" in d.tags
}

# Streamed answers: every app gets a decision on chunks with PHI findings;
# patient-facing apps also on chunks near an advice keyword (the triggers,
# kept in step with config.clinical.advice_rules).
test_response_checks_follow_patient_facing if {
	base := {
		"phase": "request", "profile": "clinical", "provider": "azure-openai", "model": "gpt-4o-mini",
		"detectors": {"phi": {"count": 0, "by_type": {}, "new_by_type": {}, "findings": []}},
		"tokens": {"prompt_estimate": 10, "max_output": 100}, "route": {"baa": true, "allowed_phi": []},
	}
	d1 := data.ward.decision with input as object.union(base, {"identity": {"team": "platform", "app": "patient-portal"}})
	d1.response_checks == "on_findings"
	d1.response_triggers == {k | some r in data.ward.config.clinical.advice_rules; some k in r.keywords}
	"take" in d1.response_triggers
	"diagnosis" in d1.response_triggers
	d1.response_trigger_window == 64
	d2 := data.ward.decision with input as object.union(base, {"identity": {"team": "platform", "app": "scribe"}})
	d2.response_checks == "on_findings"
	d2.response_triggers == set()
}

test_response_triggers_follow_the_advice_rules if {
	inp := object.union(req("openai", []), {"identity": {"team": "cardiology", "app": "patient-portal"}})
	rules := [{"keywords": ["titrate", "wean"], "pattern": "\\b(titrate|wean)\\b"}]
	d := clinical.decision with input as inp with data.ward.config.clinical.advice_rules as rules with data.ward.config.clinical.advice_window as 30
	d.response_triggers == {"titrate", "wean"}
	d.response_trigger_window == 30
}

# Every keyword is lower case: Ward matches triggers in lower-cased text.
test_advice_keywords_are_lower_case if {
	every r in data.ward.config.clinical.advice_rules {
		every k in r.keywords {
			k == lower(k)
			k != ""
		}
	}
}
