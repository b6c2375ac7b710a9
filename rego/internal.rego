# The lighter profile for internal tooling: model allowlist, limits and
# scope apply; nothing is redacted and the audit keeps full content.
package ward.internal

import data.ward.injection
import data.ward.lib
import data.ward.limits
import data.ward.models
import data.ward.scope

denials := ((limits.deny | models.deny) | scope.deny) | injection.deny

default tags := ["internal"]

tags := ["internal", "model_rerouted"] if models.rerouted

decision := lib.deny_decision(lib.first(denials), "full", tags) if {
	count(denials) > 0
} else := {
	# lib.allow_decision inlined: a function call costs more than the literal.
	"allow": true,
	"reason": {"code": "ok", "message": ""},
	"status": 0,
	"redact": [],
	"route": models.route,
	"headers": limits.budget_headers,
	"audit": "full",
	"tags": tags,
	# Nothing in this profile looks at streamed output.
	"response_checks": "none",
}
