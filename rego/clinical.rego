# The clinical profile: PHI never reaches a provider without a BAA
# unredacted, the highest-risk identifiers (SSN, MBI, MRN) are blocked unless
# the route allows them, PHI the model produced (not echoed from the caller's
# own input) is redacted from outputs, and patient-facing apps do not get
# diagnosis or dosing advice.
package ward.clinical

import data.ward.injection
import data.ward.lib
import data.ward.limits
import data.ward.models
import data.ward.scope

cfg := data.ward.config.clinical

# baa: the route (Ward config) or the provider table says the upstream
# (after model routing) is covered by a business associate agreement.
baa if input.route.baa == true

baa if data.ward.config.providers[target_provider].baa == true

# target_provider is where the request will go after model routing.
target_provider := object.get(models.route, "provider", input.provider)

# Upper-cased so "ssn" and "SSN" match (lib.upper_set, inlined: a function
# call costs more than the comprehension).
allowed_phi := {upper(x) | some x in object.get(input.route, "allowed_phi", [])}

patient_facing if data.ward.config.apps[input.identity.app].patient_facing == true

# PHI types the caller put in the prompt (request phase). The input's
# by_type summary keeps this independent of the number of findings.
prompt_types contains t if {
	input.phase == "request"
	some typ, n in input.detectors.phi.by_type
	n > 0
	t := upper(typ)
	not t in allowed_phi
}

# PHI types in the model's output that were not in the caller's own input.
output_types contains t if {
	input.phase in lib.response_phases
	some typ, n in input.detectors.phi.new_by_type
	n > 0
	t := upper(typ)
	not t in allowed_phi
}

# The prompt's types that config.clinical.block_types lists (a
# comprehension over the few prompt types: cheaper than building the
# block set and intersecting).
blocked_types := {t | some t in prompt_types; t in cfg.block_types}

redact_types := prompt_types if {
	input.phase == "request"
	not baa
} else := output_types if {
	input.phase in lib.response_phases
} else := set()

# Each advice rule's regular expression runs only when one of its keywords
# occurs in the output: substring checks are far cheaper than the regex.
clinical_advice if {
	patient_facing
	input.phase in lib.response_phases
	# output.window: the part of the text a new phrase can be in (all of
	# it, except for chunks decided by response_triggers; see
	# docs/policy-input.md). object.get keeps older inputs working.
	text := lower(object.get(input.output, "window", input.output.text))
	some r in cfg.advice_rules
	count([k | some k in r.keywords; contains(text, k)]) > 0
	regex.match(r.pattern, text)
}

deny contains lib.denial(
	"phi_blocked",
	sprintf("the request contains %s, which may not be sent on this route", [concat(", ", blocked_types)]),
	403, 10,
) if count(blocked_types) > 0

deny contains lib.denial("clinical_advice", cfg.advice_message, 403, 20) if clinical_advice

denials := (((limits.deny | models.deny) | scope.deny) | injection.deny) | deny

redact := [{"type": t, "mode": cfg.redact_mode} | some t in redact_types]

audit := cfg.audit_with_phi if input.detectors.phi.count > 0

default audit := "full"

headers := object.union(limits.budget_headers, {"x-ward-redacted": concat(",", redact_types)}) if {
	count(redact_types) > 0
} else := limits.budget_headers

tags contains "clinical"

tags contains "phi" if input.detectors.phi.count > 0

tags contains "phi_redacted" if count(redact_types) > 0

tags contains "phi_blocked" if count(blocked_types) > 0

tags contains "baa" if baa

tags contains "model_rerouted" if models.rerouted

tags contains "injection_suspected" if injection.suspected

tags contains "budget_low" if limits.budget_low

tag_list := sort(tags)

# The tags of an allowed output: what it held and what was redacted.
response_tags := ["clinical", "phi", "phi_redacted"] if {
	count(redact_types) > 0
} else := ["clinical", "phi"] if {
	input.detectors.phi.count > 0
} else := ["clinical"]

decision := lib.deny_decision(lib.first(denials), audit, tag_list) if {
	count(denials) > 0
} else := {
	# At the response phases Ward reads only allow, redact and audit from
	# an allow decision: the route and headers were settled with the
	# request. Leaving them (and the request's tags) out skips the model,
	# budget and tag rules on every decided chunk of a stream.
	"allow": true,
	"reason": {"code": "ok", "message": ""},
	"status": 0,
	"redact": redact,
	"route": {},
	"headers": {},
	"audit": audit,
	"tags": response_tags,
} if {
	input.phase in lib.response_phases
} else := {
	# lib.allow_decision inlined: on the allow path (nearly every request)
	# a function call costs more than the literal (docs/policy-decision.md).
	"allow": true,
	"reason": {"code": "ok", "message": ""},
	"status": 0,
	"redact": redact,
	"route": models.route,
	"headers": headers,
	"audit": audit,
	"tags": tag_list,
	"response_checks": response_checks,
	"response_triggers": response_triggers,
	"response_trigger_window": response_trigger_window,
}

# When the answer (a buffered body, or each chunk of a stream) needs a
# response decision. The response decision redacts PHI the model produced,
# so output with findings always needs one. For patient-facing apps it also
# runs the advice rules, and an advice rule can only match where one of its
# keywords occurs: so the keywords are the response triggers, and a chunk
# needs a decision when its trigger window holds one (docs/streaming.md).
# This is exact as long as every advice pattern's match contains one of its
# keywords and spans at most response_trigger_window characters from that
# keyword to its end (a run of digits counting as one); extproc's
# TestClinicalAdviceRulesFitTheTriggers checks rego/data.json.
response_checks := "on_findings"

# Only the request decision's triggers are read: later phases skip the
# comprehension.
response_triggers := {k |
	input.phase == "request"
	patient_facing
	some r in cfg.advice_rules
	some k in r.keywords
}

# The longest shipped advice match, from its keyword to its end, is 60
# characters; a deployment adding longer rules sets
# config.clinical.advice_window.
response_trigger_window := object.get(cfg, "advice_window", 64)
