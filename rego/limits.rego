# Token limits and budgets: oversized prompts, too large a max_tokens and
# an exhausted budget are denied before anything reaches a provider.
package ward.limits

import data.ward.lib

# limit is the team's setting, else the default (0 = unlimited). The deny
# rules below inline it (a function call is measurably slower on the
# request path); keep them in step.
limit(name) := object.get(data.ward.config.limits, ["teams", input.identity.team, name], data.ward.config.limits.default[name])

deny contains lib.denial(
	"prompt_too_large",
	sprintf("the prompt is about %d tokens; the limit is %d", [input.tokens.prompt_estimate, max_prompt]),
	413, 30,
) if {
	input.phase == "request"
	max_prompt := object.get(data.ward.config.limits, ["teams", input.identity.team, "max_prompt_tokens"], data.ward.config.limits.default.max_prompt_tokens)
	max_prompt > 0
	input.tokens.prompt_estimate > max_prompt
}

deny contains lib.denial(
	"max_output_too_large",
	sprintf("max output tokens %d exceeds the limit of %d", [input.tokens.max_output, max_output]),
	400, 31,
) if {
	input.phase == "request"
	max_output := object.get(data.ward.config.limits, ["teams", input.identity.team, "max_output_tokens"], data.ward.config.limits.default.max_output_tokens)
	max_output > 0
	input.tokens.max_output > max_output
}

deny contains lib.denial("budget_exceeded", "the budget for this key is exhausted", 429, 32) if {
	input.phase == "request"
	b := input.tokens.budget
	b.limit > 0
	b.remaining <= 0
}

# Budget hooks a profile may apply: while less than warn_below (a fraction,
# default 0.1) of the budget remains, budget_headers reports what is left
# and budget_downgrade names the cheaper model configured for this one.
budget_cfg := object.get(data.ward.config.limits, "budget", {})

budget_low if {
	input.phase == "request"
	b := input.tokens.budget
	b.limit > 0
	b.remaining > 0
	b.remaining < b.limit * object.get(budget_cfg, "warn_below", 0.1)
}

budget_headers := {"x-ward-budget-remaining-usd": sprintf("%v", [round(input.tokens.budget.remaining * 100) / 100])} if budget_low

default budget_headers := {}

budget_downgrade := m if {
	budget_low
	m := object.get(budget_cfg, ["downgrade", input.model], "")
	m != ""
	m != input.model
}
