// Package stages builds the pipeline's pluggable stages (detectors, policy,
// redaction, request mutators, audit) from configuration, adapting Ward's
// libraries (policy/phi, policy/injection, policy/topic, policy/tokens,
// policy, extproc/audit) to the small interfaces extproc defines.
package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/policy"
	"github.com/wardhq/ward/policy/injection"
	"github.com/wardhq/ward/policy/phi"
	"github.com/wardhq/ward/policy/tokens"
	"github.com/wardhq/ward/policy/topic"
)

// Deps are process-wide things stages may need.
type Deps struct {
	Log      *slog.Logger
	Registry prometheus.Registerer
	// Stdout receives the JSONL audit stream when audit.sink is stdout
	// (nil: os.Stdout).
	Stdout io.Writer
}

// Stages is the built set, plus readiness and shutdown hooks.
type Stages struct {
	Detectors []extproc.Detector
	Decider   extproc.Decider
	Redactor  extproc.Redactor
	Mutators  []extproc.RequestMutator
	Recorder  extproc.Recorder
	Ready     func() (map[string]any, error)
	Flush     []func(ctx context.Context) error
	// Policy is the engine (for status and reload hooks); nil only if
	// construction failed.
	Policy *policy.Engine
}

// Build constructs every stage the config enables. It validates all of
// them and reports every problem at once. Background work (policy polling)
// runs until ctx ends.
func Build(ctx context.Context, cfg *config.Config, d Deps) (*Stages, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	st := &Stages{}
	var errs []error

	if config.Enabled(cfg.PHI.Enabled, true) {
		sc, err := phi.New(phi.Options{})
		if err != nil {
			errs = append(errs, fmt.Errorf("phi: %w", err))
		} else {
			st.Detectors = append(st.Detectors, &phiDetector{scanner: sc})
		}
		red, err := newPHIRedactor(cfg.PHI)
		if err != nil {
			errs = append(errs, err)
		} else {
			st.Redactor = red
		}
	}
	if config.Enabled(cfg.Injection.Enabled, true) {
		st.Detectors = append(st.Detectors, &injectionDetector{det: injection.Default()})
	}
	if len(cfg.Topics) > 0 {
		spec := make(map[string]topic.AppSpec, len(cfg.Topics))
		for app, t := range cfg.Topics {
			spec[app] = topic.AppSpec{Allowed: t.Allowed, Disallowed: t.Disallowed}
		}
		cls, err := topic.New(spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("topics: %w", err))
		} else {
			st.Detectors = append(st.Detectors, &topicDetector{cls: cls})
		}
	}
	counter, err := tokens.New(tokens.Config{Models: cfg.Tokens.Models, Fallback: cfg.Tokens.Fallback, AnthropicRatio: cfg.Tokens.AnthropicRatio})
	if err != nil {
		errs = append(errs, fmt.Errorf("tokens: %w", err))
	}
	prices := map[string]tokens.Price{}
	for m, p := range cfg.Tokens.Pricing {
		prices[m] = tokens.Price(p)
	}
	pricer, err := tokens.NewPricer(tokens.PricingConfig{EffectiveDate: cfg.Tokens.PricingEffective, Models: prices})
	if err != nil {
		errs = append(errs, fmt.Errorf("tokens.pricing: %w", err))
	}
	if counter != nil && pricer != nil {
		st.Detectors = append(st.Detectors, &tokenDetector{counter: counter, pricer: pricer})
	}
	st.Mutators = append(st.Mutators, includeUsage{})
	// After the token detector: its Settle fills the usage and cost that
	// the limits stage charges.
	if lim, err := newLimitStage(ctx, cfg, d); err != nil {
		errs = append(errs, err)
	} else if lim != nil {
		st.Detectors = append(st.Detectors, lim)
	}

	engine, err := newPolicyEngine(ctx, cfg, d.Log)
	if err != nil {
		errs = append(errs, err)
	} else {
		st.Policy = engine
		st.Decider = &policyDecider{engine: engine, cfg: cfg, routes: newRoutes(cfg)}
		if cfg.Policy.Dir != "" || cfg.Policy.Bundle != "" {
			go engine.Watch(ctx, cfg.Policy.PollInterval.D())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	if cfg.Audit.Sink != "none" {
		w, shutdown, err := newAuditWriter(ctx, cfg.Audit, d.Log, d.Stdout)
		if err != nil {
			return nil, err
		}
		st.Recorder = &auditRecorder{w: w, ceiling: cfg.Audit.Content}
		st.Flush = append(st.Flush, shutdown)
		if d.Registry != nil {
			registerAuditMetrics(d.Registry, w)
		}
	}
	if d.Registry != nil {
		registerPolicyMetrics(d.Registry, engine)
	}
	st.Ready = func() (map[string]any, error) {
		ps := engine.Status()
		detail := map[string]any{"config": "loaded", "policy": ps}
		if ps.Revision == "" {
			return detail, errors.New("no policy loaded")
		}
		return detail, nil
	}
	return st, nil
}

func newPolicyEngine(ctx context.Context, cfg *config.Config, log *slog.Logger) (*policy.Engine, error) {
	src := policy.Embedded()
	switch {
	case cfg.Policy.Dir != "":
		src = policy.Dir(cfg.Policy.Dir)
	case cfg.Policy.Bundle != "":
		src = policy.Bundle(cfg.Policy.Bundle)
	}
	opts := policy.Options{Timeout: cfg.Policy.Timeout.D(), Evaluator: cfg.Policy.Evaluator, Logger: log, Data: policyData(cfg)}
	seen := map[string]bool{}
	for _, name := range sortedNames(cfg.Profiles) {
		ep := cfg.Profiles[name].PolicyEntrypoint
		if !seen[ep] {
			seen[ep] = true
			opts.Entrypoints = append(opts.Entrypoints, ep)
		}
	}
	if f := cfg.Policy.VerificationKeyFile; f != "" {
		key, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("policy.verification_key_file: %w", err)
		}
		opts.Verify = &policy.Verify{KeyID: cfg.Policy.VerificationKeyID, Key: string(key), Algorithm: cfg.Policy.VerificationAlgorithm}
	}
	e, err := policy.New(ctx, src, opts)
	if err != nil {
		return nil, fmt.Errorf("policy (%s): %w", src, err)
	}
	return e, nil
}

// policyData passes config facts the policies read (providers' BAA flags)
// and the operator's policy.data overrides.
func policyData(cfg *config.Config) map[string]any {
	providers := map[string]any{}
	for name, p := range cfg.Providers {
		providers[name] = map[string]any{"baa": p.BAA}
	}
	data := map[string]any{"ward": map[string]any{"config": map[string]any{"providers": providers}}}
	return deepMerge(data, cfg.Policy.Data)
}

func deepMerge(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = deepMerge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
