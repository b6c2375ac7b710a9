# Per-team model allowlists and routing. A model that is not allowed is
# rewritten to the team's fallback; without a fallback the request is denied.
# route is what Ward sets as x-ward-model / x-ward-provider (Envoy routes on it).
package ward.models

import data.ward.lib
import data.ward.limits

team_cfg := object.get(data.ward.config.models.teams, input.identity.team, data.ward.config.models.default)

# requested_allowed is a rule, not a function, so it is evaluated once
# per decision.
requested_allowed if "*" in team_cfg.allow

requested_allowed if input.model in team_cfg.allow

fallback := team_cfg.fallback if team_cfg.fallback != ""

# A team running low on budget is moved to the cheaper model configured for
# the one it asked for (limits.budget_downgrade).
target := limits.budget_downgrade if {
	requested_allowed
	limits.budget_downgrade
} else := input.model if {
	requested_allowed
} else := fallback if {
	not requested_allowed
}

rerouted if target != input.model

default route := {}

route := r if {
	input.phase == "request"
	r := team_cfg.routes[target]
} else := {"model": target} if {
	input.phase == "request"
	rerouted
}

deny contains lib.denial(
	"model_not_allowed",
	sprintf("model %q is not allowed for team %q", [input.model, input.identity.team]),
	403, 5,
) if {
	input.phase == "request"
	not target
}
