package stages

import (
	"context"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/llm"
	"github.com/wardhq/ward/policy/injection"
	"github.com/wardhq/ward/policy/tokens"
	"github.com/wardhq/ward/policy/topic"
)

// injectionDetector scores every request part and keeps the worst one:
// one injected tool result is enough to compromise the exchange.
type injectionDetector struct {
	det *injection.Detector
}

func (d *injectionDetector) Detect(_ context.Context, phase extproc.Phase, ix *extproc.Interaction) error {
	if phase != extproc.PhaseRequest {
		return nil
	}
	results := make([]injection.Result, 0, len(ix.Request.Parts))
	for _, p := range ix.Request.Parts {
		src := injection.SourceUser
		switch p.Role {
		case llm.RoleSystem:
			src = injection.SourceSystem
		case llm.RoleTool:
			src = injection.SourceToolResult
		case llm.RoleAssistant:
			continue // the model's own earlier turns
		}
		results = append(results, d.det.Score(p.Text, src))
	}
	m := injection.Merge(results...)
	out := &extproc.InjectionScore{Score: m.Score, Rules: m.Rules}
	ix.Injection = out
	return nil
}

// topicDetector classifies the user's text against the app's topics.
type topicDetector struct {
	cls *topic.Classifier
}

func (d *topicDetector) Detect(_ context.Context, phase extproc.Phase, ix *extproc.Interaction) error {
	if phase != extproc.PhaseRequest || ix.Caller.App == "" {
		return nil
	}
	// The latest user message is what the app is being asked to do now.
	var text string
	for _, p := range ix.Request.Parts {
		if p.Role == llm.RoleUser {
			text = p.Text
		}
	}
	if text == "" {
		return nil
	}
	r := d.cls.Classify(ix.Caller.App, text)
	if !r.Known {
		return nil
	}
	ix.Topic = &extproc.TopicScore{InScope: r.InScope, Nearest: r.Nearest, Known: true, Directive: r.Directive}
	return nil
}

// tokenDetector estimates prompt tokens before the request goes upstream;
// at the response it prices the provider's usage, or counts the output
// itself when the provider reported none (marked estimated).
type tokenDetector struct {
	counter *tokens.Counter
	pricer  *tokens.Pricer
}

func (d *tokenDetector) Detect(_ context.Context, phase extproc.Phase, ix *extproc.Interaction) error {
	if phase == extproc.PhaseRequest {
		ix.PromptTokens = d.counter.Request(ix.Request).Tokens
	}
	return nil
}

// settle fills usage and cost at the end of an interaction.
func (d *tokenDetector) settle(ix *extproc.Interaction) {
	if ix.Response != nil && ix.Response.Usage.Present {
		ix.Usage = ix.Response.Usage
		if err := tokens.CheckUsage(ix.ModelRouted, ix.Usage); err != nil {
			// Absurd figures from an upstream are not billed as reported.
			ix.UsageError = err.Error()
			ix.Usage = llm.Usage{}
		}
	}
	if !ix.Usage.Present && ix.Response != nil && ix.Request != nil {
		var out int64
		for _, c := range ix.Response.Choices {
			out += d.counter.Text(ix.ModelRouted, c).Tokens
		}
		for _, tc := range ix.Response.ToolCalls {
			out += d.counter.Text(ix.ModelRouted, tc.Arguments).Tokens
		}
		ix.Usage = llm.Usage{InputTokens: ix.PromptTokens, OutputTokens: out}
		ix.UsageEstimated = true
	}
	model := ix.ModelRouted
	if ix.Response != nil && ix.Response.Model != "" {
		model = ix.Response.Model
	}
	if cost, ok := d.pricer.Cost(model, ix.Usage); ok {
		ix.CostMicroUSD = cost
	} else if cost, ok := d.pricer.Cost(ix.ModelRouted, ix.Usage); ok {
		ix.CostMicroUSD = cost
	}
}

// Settle implements extproc.Settler: usage and cost are settled once, when
// the interaction ends, whether the response was buffered, streamed or cut.
func (d *tokenDetector) Settle(ix *extproc.Interaction) { d.settle(ix) }

// includeUsage asks OpenAI to report usage at the end of a streamed chat
// completion (stream_options.include_usage). The client then also receives
// one extra chunk with an empty choices array and the usage, which the
// official SDKs expose as the stream's usage.
type includeUsage struct{}

func (includeUsage) MutateRequest(ix *extproc.Interaction, body []byte) ([]byte, error) {
	r := ix.Request
	if r == nil || r.Endpoint != llm.EndpointChatCompletions || !r.Stream || r.IncludeUsage {
		return body, nil
	}
	return llm.SetIncludeUsage(body)
}
