# Helpers shared by Ward's profile policies: how a denial and a decision
# are shaped, so every profile returns the documented decision document.
package ward.lib

# denial is one reason to deny. priority orders competing denials (lower
# wins) so the decision is deterministic when several rules fire.
denial(code, message, status, priority) := {
	"code": code,
	"message": message,
	"status": status,
	"priority": priority,
}

# first is the winning denial of a non-empty set.
first(denials) := ordered[0][2] if {
	ordered := sort([[d.priority, d.code, d] | some d in denials])
}

# deny_decision turns a denial into a decision document.
deny_decision(d, audit, tags) := {
	"allow": false,
	"reason": {"code": d.code, "message": d.message},
	"status": d.status,
	"redact": [],
	"route": {},
	"headers": {},
	"audit": audit,
	"tags": tags,
}

# allow_decision is the decision document for an allowed request or response.
# The clinical and internal profiles inline it on their allow path (a
# function call is measurably slower there); keep them in step.
allow_decision(redact, route, headers, audit, tags) := {
	"allow": true,
	"reason": {"code": "ok", "message": ""},
	"status": 0,
	"redact": redact,
	"route": route,
	"headers": headers,
	"audit": audit,
	"tags": tags,
}

# upper_set normalises finding type names so "ssn" and "SSN" match.
upper_set(xs) := {upper(x) | some x in xs}

response_phases := {"response", "response_chunk"}
