# Token limits and budgets: oversized prompts, too large a max_tokens and
# an exhausted budget are denied before anything reaches a provider.
package ward.limits

import data.ward.lib

cfg := object.union(
	data.ward.config.limits.default,
	object.get(data.ward.config.limits, ["teams", input.identity.team], {}),
)

deny contains lib.denial(
	"prompt_too_large",
	sprintf("the prompt is about %d tokens; the limit is %d", [input.tokens.prompt_estimate, cfg.max_prompt_tokens]),
	413, 30,
) if {
	input.phase == "request"
	cfg.max_prompt_tokens > 0
	input.tokens.prompt_estimate > cfg.max_prompt_tokens
}

deny contains lib.denial(
	"max_output_too_large",
	sprintf("max output tokens %d exceeds the limit of %d", [input.tokens.max_output, cfg.max_output_tokens]),
	400, 31,
) if {
	input.phase == "request"
	cfg.max_output_tokens > 0
	input.tokens.max_output > cfg.max_output_tokens
}

deny contains lib.denial("budget_exceeded", "the budget for this key is exhausted", 429, 32) if {
	input.phase == "request"
	b := input.tokens.budget
	b.limit > 0
	b.remaining <= 0
}
