package stages

import (
	"context"
	"strings"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/llm"
	"github.com/wardhq/ward/policy"
	"github.com/wardhq/ward/policy/topic"
)

// policyDecider builds the policy input from the interaction once per
// phase and asks the OPA engine for the profile's entrypoint.
type policyDecider struct {
	engine *policy.Engine
	cfg    *config.Config
	routes map[routeKey]policy.Route // prepared once per profile and provider (newRoutes)
}

type routeKey struct{ profile, provider string }

// newRoutes prepares the policy input's route for every profile and
// provider of cfg: they are configuration, the same for every decision.
func newRoutes(cfg *config.Config) map[routeKey]policy.Route {
	routes := map[routeKey]policy.Route{}
	for name, pr := range cfg.Profiles {
		for prov, pc := range cfg.Providers {
			routes[routeKey{name, prov}] = policy.Route{Name: name, BAA: pc.BAA, AllowedPHI: pr.AllowedPHI}.Prepared()
		}
	}
	return routes
}

func (d *policyDecider) Decide(ctx context.Context, phase extproc.Phase, ix *extproc.Interaction) (extproc.Decision, error) {
	return d.decide(ctx, ix.Profile.PolicyEntrypoint, d.input(phase, ix))
}

// decide evaluates the profile's entrypoint and converts the engine's
// decision document into Ward's terms.
func (d *policyDecider) decide(ctx context.Context, entrypoint string, in *policy.Input) (extproc.Decision, error) {
	pd, err := d.engine.Decide(ctx, entrypoint, in)
	if err != nil {
		return extproc.Decision{Revision: pd.Revision}, err
	}
	dec := extproc.Decision{
		Allow:          pd.Allow,
		Status:         pd.Status,
		ReasonCode:     pd.Reason.Code,
		ReasonMessage:  pd.Reason.Message,
		RouteModel:     pd.Route.Model,
		RouteProvider:  pd.Route.Provider,
		Headers:        pd.Headers,
		AuditContent:   pd.Audit,
		Tags:           pd.Tags,
		Revision:       pd.Revision,
		ResponseChecks: pd.ResponseChecks,

		ResponseTriggers:      pd.ResponseTriggers,
		ResponseTriggerWindow: pd.ResponseTriggerWindow,
	}
	for _, r := range pd.Redact {
		dec.Redact = append(dec.Redact, extproc.RedactRule{Type: r.Type, Mode: r.Mode})
	}
	return dec, nil
}

func (d *policyDecider) input(phase extproc.Phase, ix *extproc.Interaction) *policy.Input {
	in := &policy.Input{
		Version: policy.InputVersion,
		Phase:   policy.Phase(phase),
		Profile: ix.ProfileName,
		Identity: policy.Identity{
			Team: ix.Caller.Team, App: ix.Caller.App, KeyID: ix.Caller.KeyID,
		},
	}
	req := ix.Request
	in.SetRequest(req)
	// Policy sees Ward's provider name (e.g. azure-openai), not only the
	// API dialect.
	if ix.ProviderName != "" {
		in.Provider = ix.ProviderName
	}
	pc := d.cfg.Providers[ix.ProviderName]
	in.Route = d.routes[routeKey{ix.ProfileName, ix.ProviderName}]
	// What the request actually has; a prepared route whose fields differ
	// builds its value again (policy.Route.Prepared).
	in.Route.Name, in.Route.BAA, in.Route.AllowedPHI = ix.ProfileName, pc.BAA, ix.Profile.AllowedPHI
	in.Tokens.PromptEstimate = ix.PromptTokens
	if b := ix.Budget; b != nil {
		in.Tokens.Budget = &policy.Budget{
			Limit: float64(b.LimitMicroUSD) / 1e6, Spent: float64(b.SpentMicroUSD) / 1e6,
			Remaining: float64(b.LimitMicroUSD-b.SpentMicroUSD) / 1e6, Unit: "usd",
		}
	}

	findings := make([]policy.Finding, 0, len(ix.Findings)+len(ix.OutputFindings))
	for _, f := range ix.Findings {
		p := req.Parts[f.Part]
		findings = append(findings, policy.Finding{
			Type: f.Type, Role: string(p.Role), MessageIndex: p.Message, Start: f.Start, End: f.End, Score: f.Score,
		})
	}
	if phase != extproc.PhaseRequest && ix.Response != nil {
		in.SetResponse(ix.Response)
		for _, f := range ix.OutputFindings {
			value, msg := outputValue(ix, f)
			findings = append(findings, policy.Finding{
				Type: f.Type, Role: "output", MessageIndex: msg, Start: f.Start, End: f.End, Score: f.Score,
				InInput: value != "" && inRequest(req, value),
			})
		}
	}
	in.Detectors.PHI.Findings = findings
	if ix.Injection != nil {
		in.Detectors.Injection = &policy.Injection{Score: ix.Injection.Score, Rules: ix.Injection.Rules}
	}
	if ix.Topic != nil {
		in.Detectors.Topic = &policy.Topic{InScope: ix.Topic.InScope >= topic.DefaultThreshold, Nearest: ix.Topic.Nearest, Score: ix.Topic.InScope, Directive: ix.Topic.Directive}
	}
	return in
}

// outputValue returns an output finding's text and its choice index.
func outputValue(ix *extproc.Interaction, f extproc.Finding) (string, int) {
	r := ix.Response
	var text string
	choice := f.Choice
	switch {
	case f.Part >= 0 && f.Part < len(r.Parts):
		text, choice = r.Parts[f.Part].Text, r.Parts[f.Part].Message
	case f.Choice >= 0 && f.Choice < len(r.Choices):
		text = r.Choices[f.Choice]
	}
	if f.Start < 0 || f.End > len(text) || f.Start >= f.End {
		return "", choice
	}
	return text[f.Start:f.End], choice
}

// inRequest reports whether the caller sent value themselves: an echo of
// the caller's own PHI is not a leak.
func inRequest(req *llm.Request, value string) bool {
	for _, p := range req.Parts {
		if strings.Contains(p.Text, value) {
			return true
		}
	}
	return false
}
