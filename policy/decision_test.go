package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestDecodeResponseTriggers: response_triggers is an array or a set of
// non-empty lower-case strings, bounded in count and length; the window
// defaults to 256 characters when there are triggers and is dropped when
// there are none. A wrong shape names the field.
func TestDecodeResponseTriggers(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"allow": true, "response_triggers": [`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"t`)
			b.WriteString(strings.Repeat("x", i%50))
			b.WriteByte('"')
		}
		b.WriteString(`]}`)
		return b.String()
	}
	tests := []struct {
		name     string
		doc      string
		triggers []string
		window   int
		field    string // ShapeError field; "" = no error
	}{
		{name: "absent", doc: `{"allow": true}`},
		{name: "array", doc: `{"allow": true, "response_checks": "on_findings", "response_triggers": ["take", "mg"]}`,
			triggers: []string{"take", "mg"}, window: DefaultResponseTriggerWindow},
		{name: "set", doc: `{"allow": true, "response_triggers": {"take", "mg"}}`, triggers: []string{"mg", "take"}, window: 256},
		{name: "window", doc: `{"allow": true, "response_triggers": ["take"], "response_trigger_window": 64}`, triggers: []string{"take"}, window: 64},
		{name: "window without triggers is dropped", doc: `{"allow": true, "response_trigger_window": 64}`},
		{name: "empty list", doc: `{"allow": true, "response_triggers": []}`},
		{name: "non-ascii lower-case", doc: `{"allow": true, "response_triggers": ["prise de médicament"]}`, triggers: []string{"prise de médicament"}, window: 256},
		{name: "at the count limit", doc: many(MaxResponseTriggers), window: 256},
		{name: "over the count limit", doc: many(MaxResponseTriggers + 1), field: "response_triggers"},
		{name: "not a list", doc: `{"allow": true, "response_triggers": "take"}`, field: "response_triggers"},
		{name: "object", doc: `{"allow": true, "response_triggers": {"take": true}}`, field: "response_triggers"},
		{name: "number element", doc: `{"allow": true, "response_triggers": ["take", 1]}`, field: "response_triggers[1]"},
		{name: "empty string", doc: `{"allow": true, "response_triggers": ["take", ""]}`, field: "response_triggers[1]"},
		{name: "upper case", doc: `{"allow": true, "response_triggers": ["Take"]}`, field: "response_triggers[0]"},
		{name: "too long", doc: `{"allow": true, "response_triggers": ["` + strings.Repeat("a", MaxResponseTriggerBytes+1) + `"]}`, field: "response_triggers[0]"},
		{name: "64 bytes", doc: `{"allow": true, "response_triggers": ["` + strings.Repeat("a", MaxResponseTriggerBytes) + `"]}`,
			triggers: []string{strings.Repeat("a", MaxResponseTriggerBytes)}, window: 256},
		{name: "window zero", doc: `{"allow": true, "response_triggers": ["a"], "response_trigger_window": 0}`, field: "response_trigger_window"},
		{name: "window too large", doc: `{"allow": true, "response_triggers": ["a"], "response_trigger_window": 4097}`, field: "response_trigger_window"},
		{name: "window fraction", doc: `{"allow": true, "response_triggers": ["a"], "response_trigger_window": 1.5}`, field: "response_trigger_window"},
		{name: "window string", doc: `{"allow": true, "response_triggers": ["a"], "response_trigger_window": "64"}`, field: "response_trigger_window"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			term, err := ast.ParseTerm(tc.doc) // Rego syntax: sets too
			if err != nil {
				t.Fatal(err)
			}
			d, err := DecodeDecision(term.Value)
			if tc.field != "" {
				var se *ShapeError
				if !errors.As(err, &se) || se.Field != tc.field || !errors.Is(err, ErrShape) {
					t.Fatalf("err = %v, want a ShapeError on %q", err, tc.field)
				}
				if !strings.Contains(err.Error(), `"`+tc.field+`"`) {
					t.Errorf("message does not name the field: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "at the count limit" {
				if len(d.ResponseTriggers) != MaxResponseTriggers {
					t.Fatalf("%d triggers", len(d.ResponseTriggers))
				}
			} else if !slices.Equal(d.ResponseTriggers, tc.triggers) {
				t.Fatalf("triggers %q, want %q", d.ResponseTriggers, tc.triggers)
			}
			if d.ResponseTriggerWindow != tc.window {
				t.Fatalf("window %d, want %d", d.ResponseTriggerWindow, tc.window)
			}
		})
	}
}
