package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/wardhq/ward/extproc/llm"
)

// The hand-built AST must be exactly the JSON document the docs describe:
// compare it with the value OPA would build from encoding/json output.
func TestInputASTMatchesJSON(t *testing.T) {
	full := clinicalInput(600)
	full.Stream = true
	full.Tools = []Tool{{Name: "lookup", Description: "find a patient", Parameters: `{"type":"object"}`}}
	full.ToolCalls = []ToolCall{{ID: "c1", Name: "lookup", Arguments: `{"mrn":"123"}`}}
	full.Detectors.Injection = &Injection{Score: 0.75, Rules: []string{"ignore_previous"}}
	full.Detectors.PHI.Findings[0].InInput = true
	full.Detectors.PHI.Findings[1].MessageIndex = -1
	full.Tokens.Budget = &Budget{Limit: 100, Spent: 99.5, Remaining: 0.5, Unit: "usd"}
	full.Tokens.PromptEstimate = 1 << 40
	full.Route = Route{Name: "azure", BAA: true, AllowedPHI: []string{"MRN"}}
	full.Detectors.PHI.Count = len(full.Detectors.PHI.Findings)
	full.Detectors.PHI.ByType = map[string]int{}
	for _, f := range full.Detectors.PHI.Findings {
		full.Detectors.PHI.ByType[f.Type]++
	}
	full.Detectors.PHI.NewByType = map[string]int{}
	full.Output = &Output{Text: "ok", Delta: "k", ToolCalls: []ToolCall{}, FinishReason: "stop", Usage: Usage{InputTokens: 10, OutputTokens: 700, Present: true}}

	minimal := &Input{Version: 1, Phase: PhaseResponseChunk, Messages: []Message{}, Tools: []Tool{}, ToolCalls: []ToolCall{},
		Detectors: Detectors{PHI: PHI{ByType: map[string]int{}, NewByType: map[string]int{}, Findings: []Finding{}}}, Route: Route{AllowedPHI: []string{}}}

	for name, in := range map[string]*Input{"full": full, "minimal": minimal} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := util.UnmarshalJSON(b, &doc); err != nil {
				t.Fatal(err)
			}
			want, err := ast.InterfaceToValue(doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := in.AST(); got.Compare(want) != 0 {
				t.Errorf("AST differs from JSON:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestInputDerivesPHISummary(t *testing.T) {
	in := &Input{Detectors: Detectors{PHI: PHI{Findings: []Finding{
		{Type: "NAME", Role: "output", InInput: true},
		{Type: "NAME", Role: "output"},
		{Type: "PHONE", Role: "output"},
		{Type: "DOB", Role: "user"},
	}}}}
	// More distinct types than the builder's small table.
	for i := range 20 {
		in.Detectors.PHI.Findings = append(in.Detectors.PHI.Findings, Finding{Type: "T" + strconv.Itoa(i%18), Role: "output"})
	}
	phi := in.AST().(ast.Object).Get(ast.StringTerm("detectors")).Value.(ast.Object).Get(ast.StringTerm("phi")).Value.(ast.Object)
	get := func(field, typ string) int {
		t := phi.Get(ast.StringTerm(field)).Value.(ast.Object).Get(ast.StringTerm(typ))
		if t == nil {
			return 0
		}
		n, _ := t.Value.(ast.Number).Int()
		return n
	}
	if c, _ := phi.Get(ast.StringTerm("count")).Value.(ast.Number).Int(); c != 24 {
		t.Errorf("count = %d", c)
	}
	for _, c := range []struct {
		field, typ string
		want       int
	}{
		{"by_type", "NAME", 2}, {"by_type", "DOB", 1}, {"by_type", "T0", 2}, {"by_type", "T17", 1},
		{"new_by_type", "NAME", 1}, {"new_by_type", "PHONE", 1}, {"new_by_type", "DOB", 0}, {"new_by_type", "T1", 2},
	} {
		if got := get(c.field, c.typ); got != c.want {
			t.Errorf("%s[%s] = %d, want %d", c.field, c.typ, got, c.want)
		}
	}
}

func TestSetRequestResponse(t *testing.T) {
	req := &llm.Request{
		Endpoint: llm.EndpointMessages, Provider: llm.ProviderAnthropic, Model: "claude-sonnet-4-5", Stream: true,
		EndUser: "u9", MaxOutputTokens: 1024,
		Parts:     []llm.Part{{Role: llm.RoleSystem, Text: "sys", Message: -1}, {Role: llm.RoleUser, Text: "hi", Message: 0}},
		Tools:     []llm.Tool{{Name: "t", Description: "d", Parameters: "{}"}},
		ToolCalls: []llm.ToolCall{{ID: "1", Name: "t", Arguments: "{}"}},
	}
	var in Input
	in.SetRequest(req)
	if in.Provider != "anthropic" || in.Endpoint != "messages" || in.Model != "claude-sonnet-4-5" || !in.Stream ||
		in.Identity.EndUser != "u9" || in.Tokens.MaxOutput != 1024 || len(in.Messages) != 2 || in.Messages[0].Index != -1 ||
		in.Messages[1].Role != "user" || in.Tools[0].Name != "t" || in.ToolCalls[0].ID != "1" {
		t.Errorf("SetRequest: %+v", in)
	}
	in.SetResponse(&llm.Response{Choices: []string{"answer", "second"}, FinishReason: "end_turn",
		Usage: llm.Usage{InputTokens: 3, OutputTokens: 4, Present: true}})
	if in.Output == nil || in.Output.Text != "answer" || in.Output.Usage.OutputTokens != 4 || in.Output.FinishReason != "end_turn" {
		t.Errorf("SetResponse: %+v", in.Output)
	}
}

// Reload under concurrent load: every decision succeeds and sees either the
// old or the new policy, never an error or a half-loaded state.
func TestReloadUnderLoad(t *testing.T) {
	bs := &bundleServer{hold: make(chan chan struct{}, 1)}
	revs := []string{"r0", "r1", "r2", "r3", "r4", "r5"}
	bodies := make([][]byte, len(revs))
	for i, r := range revs {
		bodies[i] = buildBundle(t, r, map[string]string{"ward/p.rego": allowPolicy(r)}, nil, "")
	}
	bs.set(bodies[0], `"r0"`)
	srv := newServer(t, bs)
	e := newEngine(t, Bundle(srv), Options{Timeout: time.Second})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var n, bad atomic.Int64
	var maxLatency atomic.Int64
	in := clinicalInput(1024)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				start := time.Now()
				d, err := e.Decide(context.Background(), "", in)
				if l := int64(time.Since(start)); l > maxLatency.Load() {
					maxLatency.Store(l)
				}
				n.Add(1)
				if err != nil || !d.Allow || d.Reason.Message != d.Revision {
					bad.Add(1)
				}
			}
		}()
	}
	// Freeze one reload mid-fetch and require decisions to keep completing:
	// the hot path never waits for a reload.
	release := make(chan struct{})
	bs.hold <- release
	bs.set(bodies[1], `"r1"`)
	reloaded := make(chan error)
	go func() { _, err := e.Reload(ctx); reloaded <- err }()
	for len(bs.hold) > 0 { // wait until the server holds the request
		time.Sleep(time.Millisecond)
	}
	n0 := n.Load()
	deadline := time.Now().Add(30 * time.Second)
	for n.Load() < n0+50 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n.Load() < n0+50 {
		t.Fatalf("decisions stalled while a reload was in progress (%d completed)", n.Load()-n0)
	}
	close(release)
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	for i := 2; i < len(revs); i++ {
		time.Sleep(10 * time.Millisecond)
		bs.set(bodies[i], `"`+revs[i]+`"`)
		if _, err := e.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	cancel()
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d decisions failed or were inconsistent during reloads", bad.Load(), n.Load())
	}
	if e.Revision() != "r5" || n.Load() == 0 {
		t.Fatalf("revision %s after %d decisions", e.Revision(), n.Load())
	}
	t.Logf("%d decisions across %d reloads, max latency %s", n.Load(), len(revs)-1, time.Duration(maxLatency.Load()))
}

func FuzzDecodeDecision(f *testing.F) {
	for _, seed := range []string{
		`{"allow": true}`,
		`{"allow": false, "status": 403, "reason": {"code": "x", "message": "y"}}`,
		`{"allow": true, "redact": [{"type": "NAME", "mode": "mask"}], "route": {"model": "m", "provider": "p"}, "headers": {"X-A": "b"}, "audit": "redacted", "tags": ["a"]}`,
		`{"allow": "true"}`, `[]`, `null`, `{"allow": true, "status": 1e400}`, `{"allow": true, "tags": {"set": 1}}`,
		`{"allow": false, "status": -1}`, `{"allow": true, "redact": [1]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ast.ValueFromReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		d, err := DecodeDecision(v)
		if err == nil && !d.Allow && d.Status == 0 {
			t.Errorf("denial without status: %+v", d)
		}
		if err == nil && d.Audit == "" {
			t.Errorf("no audit level: %+v", d)
		}
	})
}

// TestInputPartsOnlyWhenRead: message texts, tools and tool calls enter
// the evaluated document only when some rule can read them.
func TestInputPartsOnlyWhenRead(t *testing.T) {
	if p := newEngine(t, Embedded(), Options{}).cur.Load().parts; p != (parts{}) {
		t.Errorf("embedded library reads %+v; the hot path would carry them", p)
	}
	tests := []struct {
		policy string
		want   parts
	}{
		{`decision := {"allow": true, "tags": [m.text | some m in input.messages]}`, parts{messages: true}},
		{`decision := {"allow": true, "tags": [t.name | some t in input.tools]}`, parts{tools: true}},
		{`decision := {"allow": true, "tags": [c.name | some c in input.tool_calls]}`, parts{toolCalls: true}},
		{`decision := {"allow": true, "tags": [c.name | some c in input.output.tool_calls]}`, parts{}},
		{`decision := {"allow": true, "tags": [k | some k, _ in input]}`, allParts},
	}
	in := &Input{
		Messages:  []Message{{Role: "user", Text: "hello"}},
		Tools:     []Tool{{Name: "lookup"}},
		ToolCalls: []ToolCall{{Name: "lookup_call"}},
		Output:    &Output{ToolCalls: []ToolCall{{Name: "out_call"}}},
	}
	for _, tc := range tests {
		e := newEngine(t, fsSource(map[string]string{"p.rego": "package ward\n\n" + tc.policy + "\n"}), Options{})
		if got := e.cur.Load().parts; got != tc.want {
			t.Errorf("%s: parts %+v, want %+v", tc.policy, got, tc.want)
			continue
		}
		d, err := e.Decide(context.Background(), "", in)
		if err != nil || len(d.Tags) == 0 {
			t.Errorf("%s: the policy did not get what it reads: %+v %v", tc.policy, d, err)
		}
	}
}

// The plan evaluator reads the input through lazyInput.Lookup, which
// builds some deep values on their own. Every path it answers must give
// exactly what walking the whole document gives, for every part
// selection and with optional parts present and absent.
func TestLazyInputMatchesDocument(t *testing.T) {
	rich := clinicalInput(600)
	rich.Detectors.Injection = &Injection{Score: 0.75, Rules: []string{"ignore_previous", "dan"}}
	rich.Detectors.PHI.Findings[0].Role, rich.Detectors.PHI.Findings[0].InInput = "output", false
	rich.Tokens.Budget = &Budget{Limit: 100, Spent: 99.5, Remaining: 0.5, Unit: "usd"}
	rich.Route = Route{Name: "azure", BAA: true, AllowedPHI: []string{"MRN"}}
	rich.Output = &Output{Text: "ok", Window: "ok", FinishReason: "stop", Usage: Usage{OutputTokens: 7, Present: true}}
	summarised := clinicalInput(300)
	summarised.Detectors.PHI.Count = 3
	summarised.Detectors.PHI.ByType = map[string]int{"SSN": 2, "MRN": 1}
	summarised.Detectors.PHI.NewByType = map[string]int{}
	summarised.Detectors.Topic = nil
	inputs := map[string]*Input{"rich": rich, "summarised": summarised, "empty": {}}
	// Names no document has, at every level.
	extra := []string{"nope", "budget", "findings", "injection", "topic", "phi", "score", "baa", "in_scope"}
	for name, in := range inputs {
		for _, p := range []parts{{}, allParts} {
			doc := in.ast(p)
			var paths [][]string
			var collect func(v ast.Value, path []string)
			collect = func(v ast.Value, path []string) {
				if len(path) > 0 {
					paths = append(paths, path)
				}
				if len(path) == 3 {
					return
				}
				keys := append([]string(nil), extra...)
				if obj, ok := v.(ast.Object); ok {
					for _, k := range obj.Keys() {
						keys = append(keys, string(k.Value.(ast.String)))
					}
				}
				for _, k := range keys {
					next := append(append([]string(nil), path...), k)
					if c := get(v, k); c != nil {
						collect(c.Value, next)
					} else {
						collect(nil, next) // and deeper under an absent key
					}
				}
			}
			collect(doc, nil)
			for _, path := range paths {
				want := walk(doc, path)
				lazy := &lazyInput{in: in, p: p, b: builder{findings: p.findings}}
				got, ok := lazy.Lookup(path)
				if !ok {
					if len(path) == 1 {
						t.Errorf("%s %+v: Lookup(%v) must answer top-level keys", name, p, path)
					}
					continue
				}
				if (got == nil) != (want == nil) || (got != nil && got.Value.Compare(want.Value) != 0) {
					t.Errorf("%s %+v: Lookup(%v) = %v, the document has %v", name, p, path, got, want)
				}
			}
			if v := (&lazyInput{in: in, p: p}).Value(); v.Compare(doc) != 0 {
				t.Errorf("%s %+v: Value() differs from the document", name, p)
			}
		}
	}
}

func get(v ast.Value, key string) *ast.Term {
	if obj, ok := v.(ast.Object); ok {
		return obj.Get(ast.StringTerm(key))
	}
	return nil
}

func walk(v ast.Value, path []string) *ast.Term {
	var t *ast.Term
	for _, k := range path {
		if t = get(v, k); t == nil {
			return nil
		}
		v = t.Value
	}
	return t
}

// A prepared route's value is shared by every decision; when the fields
// change after Prepared, the document must show the new fields.
func TestPreparedRoute(t *testing.T) {
	base := Route{Name: "azure", BAA: true, AllowedPHI: []string{"MRN"}}
	routeOf := func(r Route) ast.Value {
		in := &Input{Route: r}
		v, _ := (&lazyInput{in: in}).Lookup([]string{"route"})
		return v.Value
	}
	want := routeOf(base)
	p := base.Prepared()
	if got := routeOf(p); got.Compare(want) != 0 {
		t.Fatalf("prepared %v, built %v", got, want)
	}
	if a, b := routeOf(p), routeOf(p); a != b {
		t.Error("a prepared route is built again")
	}
	for name, change := range map[string]func(*Route){
		"name":                func(r *Route) { r.Name = "openai" },
		"baa":                 func(r *Route) { r.BAA = false },
		"allowed_phi":         func(r *Route) { r.AllowedPHI = []string{"SSN"} },
		"allowed_phi element": func(r *Route) { r.AllowedPHI[0] = "DOB" },
	} {
		r := Route{Name: base.Name, BAA: base.BAA, AllowedPHI: slices.Clone(base.AllowedPHI)}.Prepared()
		change(&r)
		fresh := Route{Name: r.Name, BAA: r.BAA, AllowedPHI: r.AllowedPHI}
		if got, want := routeOf(r), routeOf(fresh); got.Compare(want) != 0 {
			t.Errorf("%s changed after Prepared: document has %v, want %v", name, got, want)
		}
	}
}
