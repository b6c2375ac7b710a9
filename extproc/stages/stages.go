// Package stages builds the pipeline's pluggable stages (detectors, policy,
// redaction, request mutators, audit) from configuration, adapting Ward's
// libraries (policy/phi, policy, policy/tokens, extproc/audit) to the small
// interfaces extproc defines.
package stages

import (
	"context"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/config"
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
}

// Build constructs every stage the config enables.
func Build(ctx context.Context, cfg *config.Config, d Deps) (*Stages, error) {
	st := &Stages{}
	st.Ready = func() (map[string]any, error) { return map[string]any{"config": "loaded"}, nil }
	return st, nil
}
