package extproc

import (
	"sort"
	"strings"
)

// MaskRedactor replaces each selected finding with "[TYPE]". It is the
// fallback when no PHI engine redactor is configured; overlapping findings
// are merged so no fragment of either value survives.
type MaskRedactor struct{}

// Redact implements Redactor.
func (MaskRedactor) Redact(text string, findings []Finding, rules []RedactRule) (string, []Redaction) {
	fs := make([]Finding, 0, len(findings))
	for _, f := range findings {
		if f.Start < 0 || f.End > len(text) || f.Start >= f.End || ruleFor(rules, f.Type) == nil {
			continue
		}
		fs = append(fs, f)
	}
	if len(fs) == 0 {
		return text, nil
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Start < fs[j].Start })
	var b strings.Builder
	b.Grow(len(text))
	counts := map[string]int{}
	pos := 0
	for i := 0; i < len(fs); i++ {
		f := fs[i]
		end := f.End
		for i+1 < len(fs) && fs[i+1].Start < end {
			i++
			end = max(end, fs[i].End)
		}
		if f.Start < pos {
			f.Start = pos
		}
		b.WriteString(text[pos:f.Start])
		b.WriteString("[" + f.Type + "]")
		counts[f.Type]++
		pos = end
	}
	b.WriteString(text[pos:])
	reds := make([]Redaction, 0, len(counts))
	for t, n := range counts {
		reds = append(reds, Redaction{Type: t, Mode: "mask", Count: n})
	}
	sort.Slice(reds, func(i, j int) bool { return reds[i].Type < reds[j].Type })
	return b.String(), reds
}
