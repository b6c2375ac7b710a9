package policy

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/wardhq/ward/policy/internal/plan"
)

// The plan evaluator must give the same answer as topdown, OPA's
// reference evaluator, for every policy it accepts. These tests evaluate
// the same prepared entrypoint both ways on the same input and compare.

// bothWays evaluates ep with the plan and with topdown and fails unless
// both return the same value (or both fail, or both are undefined).
func bothWays(t *testing.T, e *Engine, ep string, input ast.Value) (*ast.Term, error) {
	t.Helper()
	ctx := context.Background()
	snap := e.cur.Load()
	p, err := e.query(ctx, snap, ep)
	if err != nil {
		t.Fatal(err)
	}
	if p.prog == nil {
		t.Fatalf("%s is not planned: %v", ep, p.planErr)
	}
	pt, pn, perr := evalPlan(ctx, snap, p, time.Time{}, plan.ValueInput(input))
	tt, tn, terr := evalTopdown(ctx, snap, p, topdown.NewCancel(), input, nil)
	if (perr == nil) != (terr == nil) {
		t.Fatalf("plan error %v, topdown error %v", perr, terr)
	}
	if perr != nil {
		return nil, perr
	}
	if pn != tn {
		t.Fatalf("plan gave %d results (%v), topdown %d (%v)", pn, pt, tn, tt)
	}
	if pn == 1 && ast.Compare(pt.Value, tt.Value) != 0 {
		t.Fatalf("plan:    %v\ntopdown: %v", pt, tt)
	}
	return pt, nil
}

func mustInput(t *testing.T, js string) ast.Value {
	t.Helper()
	if js == "" {
		return nil
	}
	v, err := ast.ValueFromReader(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPlanMatchesTopdownLanguage(t *testing.T) {
	const data = `{"cfg": {"x": {"y": 7}, "list": [3, 1, 2], "teams": {"a": {"models": ["m1"]}}}}`
	tests := []struct {
		name, rego string
		inputs     []string
		want       []string // the plan's result per input ("" = undefined, "error" = an error)
	}{
		{
			name:   "partial set, some-in, comparison",
			rego:   `r contains x if { some x in input.xs; x > 1 }`,
			inputs: []string{`{"xs": [1, 2, 3, 2]}`, `{"xs": []}`, `{}`},
			want:   []string{`{2, 3}`, `set()`, `set()`},
		},
		{
			name:   "partial object",
			rego:   `r[k] := v if { some k, v in input.m; v != 0 }`,
			inputs: []string{`{"m": {"a": 1, "b": 0, "c": "x"}}`},
			want:   []string{`{"a": 1, "c": "x"}`},
		},
		{
			name: "else chain and default",
			rego: `default r := "d"
r := "a" if input.a
else := "b" if input.b`,
			inputs: []string{`{"a": true}`, `{"b": true}`, `{}`, `{"a": false, "b": true}`},
			want:   []string{`"a"`, `"b"`, `"d"`, `"b"`},
		},
		{
			name:   "negation of undefined and of false",
			rego:   `r if not input.missing.deep`,
			inputs: []string{`{}`, `{"missing": {"deep": true}}`, `{"missing": {"deep": false}}`},
			want:   []string{`true`, ``, `true`},
		},
		{
			name:   "every",
			rego:   `r if every x in input.xs { x > 0 }`,
			inputs: []string{`{"xs": [1, 2]}`, `{"xs": [1, -2]}`, `{"xs": []}`},
			want:   []string{`true`, ``, `true`},
		},
		{
			name: "functions with several definitions",
			rego: `f(x) := "pos" if x > 0
f(x) := "neg" if x < 0
r := [f(1), f(-1)]
s := f(0)`,
			inputs: []string{`{}`},
			want:   []string{`["pos", "neg"]`},
		},
		{
			name: "complete rule conflict is an error both ways",
			rego: `r := 1 if input.a
r := 2 if input.b`,
			inputs: []string{`{"a": true, "b": true}`, `{"a": true}`},
			want:   []string{`error`, `1`},
		},
		{
			name:   "built-in error makes the call undefined",
			rego:   `r := to_number(input.s)`,
			inputs: []string{`{"s": "abc"}`, `{"s": "12.5"}`},
			want:   []string{``, `12.5`},
		},
		{
			name: "constant data paths, present and missing",
			rego: `r := [data.cfg.x.y, object.get(data.cfg, ["x", "z"], "dflt")]
s := data.cfg.x.nope
t := data.nope.x`,
			inputs: []string{`{}`},
			want:   []string{`[7, "dflt"]`},
		},
		{
			name:   "dynamic data lookup",
			rego:   `r := data.cfg.teams[input.team].models`,
			inputs: []string{`{"team": "a"}`, `{"team": "b"}`},
			want:   []string{`["m1"]`, ``},
		},
		{
			name:   "array comprehension keeps order; indexing",
			rego:   `r := [y | some x in input.xs; y := x * 2]`,
			inputs: []string{`{"xs": [3, 1, 2]}`},
			want:   []string{`[6, 2, 4]`},
		},
		{
			name:   "set algebra and sort",
			rego:   `r := sort((({x | some x in input.a} | {x | some x in input.b}) - {2}) & {1, 3, 4, 5})`,
			inputs: []string{`{"a": [1, 2, 3], "b": [3, 4]}`},
			want:   []string{`[1, 3, 4]`},
		},
		{
			name: "strings",
			rego: `r := {
	"upper": upper(input.s),
	"concat": concat("-", ["a", input.s]),
	"sprintf": sprintf("%s has %d", [input.s, count(input.s)]),
	"match": regex.match("^h.l", input.s),
	"prefix": startswith(input.s, "he"),
}`,
			inputs: []string{`{"s": "héllo"}`},
			want:   []string{`{"concat": "a-héllo", "match": true, "prefix": false, "sprintf": "héllo has 5", "upper": "HÉLLO"}`},
		},
		{
			name:   "numbers",
			rego:   `r := [input.n + 1, 1 == 1.0, input.f * 2, 10 / 4, input.n > 9007199254740992]`,
			inputs: []string{`{"n": 9007199254740993, "f": 0.1}`},
			want:   []string{`[9007199254740994, true, 0.2, 2.5, true]`},
		},
		{
			name: "virtual documents and ref heads",
			rego: `a.b.c := 1
a.b.d := input.x
r := a.b`,
			inputs: []string{`{"x": "y"}`, `{}`},
			want:   []string{`{"c": 1, "d": "y"}`, `{"c": 1}`},
		},
		{
			name: "non-string keys and membership",
			rego: `o := {1: "one", "1": "string one"}
r := [o[1], o["1"], "b" in input.xs, 2 in {1, 2}, "v" in {"k": "v"}, ["a", 1] in [["a", 1]]]`,
			inputs: []string{`{"xs": ["a", "b"]}`},
			want:   []string{`["one", "string one", true, true, true, true]`},
		},
		{
			name:   "undefined input",
			rego:   `r := object.get(input, "x", "none")`,
			inputs: []string{``, `{"x": 1}`},
			want:   []string{``, `1`},
		},
		{
			// Objects whose values are computed between the inserts, with
			// an undefined value, a nested object and a value reused.
			name: "object literals with computed values",
			rego: `r := {"a": upper(input.s), "n": {"len": count(input.s), "s": input.s}, "z": input.s}
u := {"a": 1, "b": input.missing}`,
			inputs: []string{`{"s": "ab"}`, `{}`},
			want:   []string{`{"a": "AB", "n": {"len": 2, "s": "ab"}, "z": "ab"}`, ``},
		},
		{
			// Input paths resolved through slots: prefixes used whole and
			// by path, in several rules, in comprehensions and negations.
			name: "input paths shared by rules",
			rego: `p := input.a.b.c
q := object.get(input.a, "b", {})
s := [x | some x in input.a.b.list; x > input.a.min]
t if not input.a.b.none
r := [p, q, s, t, input.a.b]`,
			inputs: []string{`{"a": {"b": {"c": 1, "list": [1, 5, 9]}, "min": 2}}`, `{"a": {"b": {"c": 2}}}`, `{"a": 3}`},
			want:   []string{`[1, {"c": 1, "list": [1, 5, 9]}, [5, 9], true, {"c": 1, "list": [1, 5, 9]}]`, `[2, {"c": 2}, [], true, {"c": 2}]`, ``},
		},
		{
			// The built-ins the plan evaluator runs inline, on good and
			// bad operands (a type error makes the call undefined).
			name: "inline built-ins",
			rego: `r := [
	upper(input.s), lower(input.s), upper("ABC"), contains(input.s, "b"),
	object.get(input.o, "k", "d"), object.get(input.o, ["n", "m"], "d"), object.get(input.o, ["n", "x"], "d"),
	object.get(input.o, "missing", "d"), {1} | {2}, {1} | set(), set() | {2},
	[x | x := upper(input.n)], [x | x := contains(input.n, "x")],
	[x | x := object.get(input.s, "k", "d")], [x | x := input.o | {1}],
]`,
			inputs: []string{`{"s": "aBc", "o": {"k": 1, "n": {"m": 2}}, "n": 3}`},
			want:   []string{`["ABC", "abc", "ABC", false, 1, 2, "d", "d", {1, 2}, {1}, {2}, [], [], [], []]`},
		},
		{
			name:   "object key conflict in a partial object is an error",
			rego:   `r[k] := v if { some v in input.xs; k := "same" }`,
			inputs: []string{`{"xs": [1, 2]}`, `{"xs": [1, 1]}`},
			want:   []string{`error`, `{"same": 1}`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod := "package t\n\n" + tc.rego + "\n"
			var d map[string]any
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				t.Fatal(err)
			}
			e := newEngine(t, fsSource(map[string]string{"t.rego": mod}), Options{Entrypoint: "data.t.r", Data: d})
			for i, in := range tc.inputs {
				got, err := bothWays(t, e, "data.t.r", mustInput(t, in))
				var s string
				switch {
				case err != nil:
					s = "error"
				case got != nil:
					s = got.String()
				}
				if s != tc.want[i] {
					t.Errorf("input %s: got %s, want %s", in, s, tc.want[i])
				}
			}
		})
	}
}

// Plans that need what the plan evaluator does not run are evaluated by
// topdown, with the same results, and the status says so.
func TestPlanFallsBackToTopdown(t *testing.T) {
	tests := []struct {
		name, rego, reason string
	}{
		{"with statement", `r := x if { x := g with input.a as 5 }
g := input.a`, "WithStmt"},
		{"non-deterministic built-in", `r := time.now_ns() > 0`, "time.now_ns"},
		{"walk", `r := [p | walk(input, [p, _])]`, "walk"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, fsSource(map[string]string{"t.rego": "package t\n\n" + tc.rego + "\n"}), Options{Entrypoint: "data.t.r"})
			p, err := e.query(context.Background(), e.cur.Load(), "data.t.r")
			if err != nil {
				t.Fatal(err)
			}
			if p.prog != nil || p.planErr == nil || !strings.Contains(p.planErr.Error(), tc.reason) {
				t.Fatalf("want a fallback naming %q, got prog=%v err=%v", tc.reason, p.prog != nil, p.planErr)
			}
			st := e.Status()
			if len(st.Entrypoints) != 1 || st.Entrypoints[0].Evaluator != EvaluatorTopdown || !strings.Contains(st.Entrypoints[0].Reason, tc.reason) {
				t.Errorf("status entrypoints %+v", st.Entrypoints)
			}
			// Still evaluated (by topdown).
			snap := e.cur.Load()
			if _, _, err := evalTopdown(context.Background(), snap, p, topdown.NewCancel(), mustInput(t, `{"a": 1}`), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// embeddedInputs are inputs that take Ward's policy library through its
// decision paths: every profile and phase, denials, redaction, routing.
func embeddedInputs() map[string]*Input {
	ins := map[string]*Input{}
	add := func(name string, f func(in *Input)) {
		in := clinicalInput(1024)
		f(in)
		ins[name] = in
	}
	add("clinical request with PHI", func(in *Input) {})
	add("baa route", func(in *Input) { in.Route.BAA = true })
	add("allowed phi", func(in *Input) { in.Route.AllowedPHI = []string{"dob", "NAME"} })
	add("ssn blocked", func(in *Input) {
		in.Detectors.PHI.Findings = append(in.Detectors.PHI.Findings, Finding{Type: "SSN", Role: "user", MessageIndex: 1, Start: 1, End: 12, Score: 1})
		in.Detectors.PHI.Count++
	})
	add("team routing", func(in *Input) { in.Model = "gpt-4o" })
	add("model not allowed", func(in *Input) { in.Model = "some-unlisted-model"; in.Identity.Team = "research" })
	add("budget exhausted", func(in *Input) { in.Tokens.Budget = &Budget{Limit: 10, Spent: 10, Remaining: 0, Unit: "usd"} })
	add("budget low", func(in *Input) { in.Tokens.Budget = &Budget{Limit: 10, Spent: 9.5, Remaining: 0.5, Unit: "usd"} })
	add("prompt too large", func(in *Input) {
		in.Tokens.PromptEstimate = 1 << 30
		in.Tokens.MaxOutput = 1 << 20
	})
	add("injection", func(in *Input) {
		in.Detectors.Injection = &Injection{Score: 0.97, Rules: []string{"instruction_override"}}
	})
	add("off topic", func(in *Input) {
		in.Identity.App = "burrito-bot"
		in.Detectors.Topic = &Topic{InScope: false, Nearest: "coding", Score: 0.05}
	})
	add("off topic question, refuse_directives app", func(in *Input) {
		in.Identity.App = "newsdesk"
		in.Detectors.Topic = &Topic{InScope: false, Nearest: "coding", Score: 0.05}
	})
	add("off topic directive, refuse_directives app", func(in *Input) {
		in.Identity.App = "newsdesk"
		in.Detectors.Topic = &Topic{InScope: false, Nearest: "coding", Score: 0.05, Directive: true}
	})
	add("patient-facing advice", func(in *Input) {
		in.Phase = PhaseResponse
		in.Identity.App = "patient-portal"
		in.Detectors = Detectors{PHI: PHI{ByType: map[string]int{}}}
		in.Output = &Output{Text: "You should take 400 mg of ibuprofen every 6 hours."}
	})
	add("patient-facing chunk, clean", func(in *Input) {
		in.Phase = PhaseResponseChunk
		in.Identity.App = "patient-portal"
		in.Output = &Output{Text: "Your appointment is on Monday.", Delta: "Monday."}
	})
	add("response with new PHI", func(in *Input) {
		in.Phase = PhaseResponse
		in.Detectors.PHI.NewByType = map[string]int{"phone": 2}
		in.Output = &Output{Text: "call 555-867-5309"}
	})
	add("internal", func(in *Input) { in.Profile = "internal" })
	add("internal, model not allowed", func(in *Input) { in.Profile = "internal"; in.Model = "nope" })
	add("passthrough", func(in *Input) { in.Profile = "passthrough" })
	add("unknown profile", func(in *Input) { in.Profile = "bogus" })
	return ins
}

// newsdeskData adds an app in scope.rego's refuse_directives mode to the
// embedded data.
var newsdeskData = map[string]any{"ward": map[string]any{"config": map[string]any{"apps": map[string]any{
	"newsdesk": map[string]any{"topics": []any{"news", "politics"}, "off_topic": "refuse_directives"},
}}}}

func TestPlanMatchesTopdownEmbedded(t *testing.T) {
	plan := newEngine(t, Embedded(), Options{Data: newsdeskData})
	ref := newEngine(t, Embedded(), Options{Evaluator: EvaluatorTopdown, Data: newsdeskData})
	for _, st := range plan.Status().Entrypoints {
		if st.Evaluator != EvaluatorPlan {
			t.Fatalf("embedded policy not planned: %+v", st)
		}
	}
	for name, in := range embeddedInputs() {
		t.Run(name, func(t *testing.T) {
			comparePlanTopdown(t, plan, ref, in)
		})
	}
}

func comparePlanTopdown(t *testing.T, plan, ref *Engine, in *Input) {
	t.Helper()
	ctx := context.Background()
	got, gerr := plan.Decide(ctx, "", in)
	want, werr := ref.Decide(ctx, "", in)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("plan error %v, topdown error %v", gerr, werr)
	}
	got.Err, want.Err = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan:    %+v\ntopdown: %+v", got, want)
	}
}

// FuzzPlanMatchesTopdown drives Ward's policy library with inputs built
// from fuzzed fields and requires the two evaluators to agree.
func FuzzPlanMatchesTopdown(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(0), uint8(0), uint16(0x7), uint8(3), 0.1, 0.9, int32(100), 5.0, "hello", false, uint16(0))
	f.Add(uint8(1), uint8(0), uint8(2), uint8(1), uint16(0x100), uint8(1), 0.99, 0.01, int32(1<<30), 0.0, "You may have a fracture. Take 2 tablets daily.", true, uint16(0x3))
	f.Add(uint8(2), uint8(1), uint8(1), uint8(2), uint16(0xffff), uint8(255), -1.0, 2.0, int32(-5), -3.0, "ok", false, uint16(0xffff))
	f.Add(uint8(0), uint8(3), uint8(3), uint8(3), uint16(0), uint8(0), 0.5, 0.5, int32(0), 1e300, "\xff", true, uint16(1))
	profiles := []string{"clinical", "internal", "passthrough", "nope", ""}
	phases := []Phase{PhaseRequest, PhaseResponse, PhaseResponseChunk, "other"}
	apps := []string{"patient-portal", "burrito-bot", "scribe", "newsdesk", ""}
	models := []string{"gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "unknown-model"}
	types := []string{"SSN", "MBI", "MRN", "NAME", "DOB", "PHONE", "EMAIL", "ADDRESS", "ssn", "phone", "ip", "URL", "CREDIT_CARD", "NPI", "DEA", "ZIP"}
	plan := newEngine(f, Embedded(), Options{Timeout: 10 * time.Second, Data: newsdeskData})
	ref := newEngine(f, Embedded(), Options{Evaluator: EvaluatorTopdown, Timeout: 10 * time.Second, Data: newsdeskData})
	f.Fuzz(func(t *testing.T, phase, profile, app, model uint8, phiMask uint16, n uint8, inj, inScope float64, tokens int32, budget float64, text string, baa bool, allowMask uint16) {
		in := &Input{
			Phase:    phases[int(phase)%len(phases)],
			Profile:  profiles[int(profile)%len(profiles)],
			Identity: Identity{Team: []string{"cardiology", "research", ""}[int(model)%3], App: apps[int(app)%len(apps)], KeyID: "k"},
			Provider: "openai",
			Model:    models[int(model)%len(models)],
			Endpoint: "chat",
			Messages: []Message{{Role: "user", Text: text}},
			Detectors: Detectors{
				PHI:       PHI{ByType: map[string]int{}, NewByType: map[string]int{}},
				Injection: &Injection{Score: inj, Rules: []string{"instruction_override"}},
				Topic:     &Topic{InScope: inScope >= 0.5, Nearest: "coding", Score: inScope, Directive: tokens%2 != 0},
			},
			Tokens: Tokens{PromptEstimate: int64(tokens), MaxOutput: int64(tokens) / 3, Budget: &Budget{Limit: 10, Spent: 10 - budget, Remaining: budget, Unit: "usd"}},
			Route:  Route{BAA: baa},
		}
		for i, typ := range types {
			if phiMask&(1<<i) != 0 {
				in.Detectors.PHI.ByType[typ] = int(n)
				in.Detectors.PHI.NewByType[typ] = int(n) / 2
				in.Detectors.PHI.Count += int(n)
			}
			if allowMask&(1<<i) != 0 {
				in.Route.AllowedPHI = append(in.Route.AllowedPHI, typ)
			}
		}
		if in.Phase != PhaseRequest {
			in.Output = &Output{Text: text, Delta: text}
			if in.Phase == PhaseResponseChunk {
				in.Output.Window = text[len(text)/3:]
			}
		}
		comparePlanTopdown(t, plan, ref, in)
	})
}
