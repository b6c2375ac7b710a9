package stages

import (
	"context"
	"fmt"
	"os"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/policy/phi"
)

// phiDetector runs the PHI scanner over every request part and every
// buffered output part.
type phiDetector struct {
	scanner *phi.Scanner
}

func (d *phiDetector) Detect(_ context.Context, phase extproc.Phase, ix *extproc.Interaction) error {
	var buf [16]phi.Finding
	switch phase {
	case extproc.PhaseRequest:
		for i, p := range ix.Request.Parts {
			for _, f := range d.scanner.Scan(p.Text, buf[:0]) {
				ix.Findings = append(ix.Findings, extproc.Finding{Type: f.Type.String(), Part: i, Choice: -1, Start: f.Start, End: f.End, Score: f.Score})
			}
		}
	case extproc.PhaseResponse:
		r := ix.Response
		if len(r.Parts) > 0 {
			for i, p := range r.Parts {
				for _, f := range d.scanner.Scan(p.Text, buf[:0]) {
					ix.OutputFindings = append(ix.OutputFindings, extproc.Finding{Type: f.Type.String(), Part: i, Choice: p.Message, Start: f.Start, End: f.End, Score: f.Score})
				}
			}
			return nil
		}
		for i, c := range r.Choices {
			for _, f := range d.scanner.Scan(c, buf[:0]) {
				ix.OutputFindings = append(ix.OutputFindings, extproc.Finding{Type: f.Type.String(), Part: -1, Choice: i, Start: f.Start, End: f.End, Score: f.Score})
			}
		}
	}
	return nil
}

// phiRedactor applies the decision's per-type modes with the PHI engine's
// redactors (mask, partial, pseudonym). Overlapping findings are merged so
// no fragment of either value survives.
type phiRedactor struct {
	byMode map[string]*phi.Redactor
}

func newPHIRedactor(cfg config.PHI) (*phiRedactor, error) {
	r := &phiRedactor{byMode: map[string]*phi.Redactor{}}
	for _, m := range []phi.Mode{phi.Mask, phi.Partial} {
		red, err := phi.NewRedactor(phi.RedactorOptions{Default: m})
		if err != nil {
			return nil, err
		}
		r.byMode[m.String()] = red
	}
	if cfg.PseudonymKeyEnv != "" {
		key := os.Getenv(cfg.PseudonymKeyEnv)
		red, err := phi.NewRedactor(phi.RedactorOptions{Default: phi.Pseudonym, Key: []byte(key)})
		if err != nil {
			return nil, fmt.Errorf("phi.pseudonym_key_env (%s): %w", cfg.PseudonymKeyEnv, err)
		}
		r.byMode["pseudonym"] = red
	}
	return r, nil
}

func (r *phiRedactor) Redact(text string, findings []extproc.Finding, rules []extproc.RedactRule) (string, []extproc.Redaction) {
	return extproc.SpliceFindings(text, findings, func(value string, f extproc.Finding) (string, string) {
		mode := modeFor(rules, f.Type)
		red, ok := r.byMode[mode]
		if !ok {
			// pseudonym without a key configured: never leak, mask instead.
			mode, red = "mask", r.byMode["mask"]
		}
		typ, _ := phi.ParseType(f.Type)
		return red.Redact(value, []phi.Finding{{Type: typ, Start: 0, End: len(value), Score: f.Score}}), mode
	})
}

func modeFor(rules []extproc.RedactRule, typ string) string {
	for _, r := range rules {
		if r.Type == typ || r.Type == "*" {
			if r.Mode == "" {
				return "mask"
			}
			return r.Mode
		}
	}
	return "mask"
}
