package extproc

import (
	"sort"
	"strings"
)

// MaskRedactor replaces each selected finding with "[TYPE]". It is the
// fallback when no PHI engine redactor is configured.
type MaskRedactor struct{}

// Redact implements Redactor.
func (MaskRedactor) Redact(text string, findings []Finding, rules []RedactRule) (string, []Redaction) {
	selected := make([]Finding, 0, len(findings))
	for _, f := range findings {
		if ruleFor(rules, f.Type) != nil {
			selected = append(selected, f)
		}
	}
	return SpliceFindings(text, selected, func(_ string, f Finding) (string, string) {
		return "[" + f.Type + "]", "mask"
	})
}

// SpliceFindings rewrites text with replace applied to each finding's
// value. Findings may come in any order; spans outside text are ignored and
// overlapping findings are merged into one run replaced as its first
// finding, so no fragment of either value survives. It returns the new
// text and how many runs were replaced per type and mode.
func SpliceFindings(text string, findings []Finding, replace func(value string, f Finding) (repl, mode string)) (string, []Redaction) {
	fs := make([]Finding, 0, len(findings))
	for _, f := range findings {
		if f.Start >= 0 && f.End <= len(text) && f.Start < f.End {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		return text, nil
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Start < fs[j].Start })
	var b strings.Builder
	b.Grow(len(text))
	type key struct{ typ, mode string }
	counts := map[key]int{}
	pos := 0
	for i := 0; i < len(fs); i++ {
		f := fs[i]
		end := f.End
		for i+1 < len(fs) && fs[i+1].Start < end {
			i++
			end = max(end, fs[i].End)
		}
		start := max(f.Start, pos)
		repl, mode := replace(text[start:end], f)
		b.WriteString(text[pos:start])
		b.WriteString(repl)
		counts[key{f.Type, mode}]++
		pos = end
	}
	b.WriteString(text[pos:])
	reds := make([]Redaction, 0, len(counts))
	for k, n := range counts {
		reds = append(reds, Redaction{Type: k.typ, Mode: k.mode, Count: n})
	}
	sort.Slice(reds, func(i, j int) bool {
		if reds[i].Type != reds[j].Type {
			return reds[i].Type < reds[j].Type
		}
		return reds[i].Mode < reds[j].Mode
	})
	return b.String(), reds
}
