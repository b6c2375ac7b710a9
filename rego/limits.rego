# Token limits and budgets: oversized prompts, too large a max_tokens and
# an exhausted budget are denied before anything reaches a provider.
package ward.limits

import data.ward.lib

# limit is the team's setting, else the default (0 = unlimited).
limit(name) := object.get(data.ward.config.limits, ["teams", input.identity.team, name], data.ward.config.limits.default[name])

deny contains lib.denial(
	"prompt_too_large",
	sprintf("the prompt is about %d tokens; the limit is %d", [input.tokens.prompt_estimate, max_prompt]),
	413, 30,
) if {
	input.phase == "request"
	max_prompt := limit("max_prompt_tokens")
	max_prompt > 0
	input.tokens.prompt_estimate > max_prompt
}

deny contains lib.denial(
	"max_output_too_large",
	sprintf("max output tokens %d exceeds the limit of %d", [input.tokens.max_output, max_output]),
	400, 31,
) if {
	input.phase == "request"
	max_output := limit("max_output_tokens")
	max_output > 0
	input.tokens.max_output > max_output
}

deny contains lib.denial("budget_exceeded", "the budget for this key is exhausted", 429, 32) if {
	input.phase == "request"
	b := input.tokens.budget
	b.limit > 0
	b.remaining <= 0
}
