package tokens

import (
	"strings"
	"testing"

	"github.com/wardhq/ward/extproc/llm"
)

func newCounter(t *testing.T, cfg Config) *Counter {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEncodingFor(t *testing.T) {
	c := newCounter(t, Config{Models: map[string]string{"my-azure-deploy": CL100KBase, "gpt-4o-legacy": CL100KBase}})
	tests := []struct {
		model string
		want  string
		known bool
	}{
		{"gpt-4o", O200KBase, true},
		{"gpt-4o-mini-2024-07-18", O200KBase, true},
		{"openai/gpt-4o", O200KBase, true},
		{"GPT-4.1-nano", O200KBase, true},
		{"gpt-5", O200KBase, true},
		{"gpt-5.1-codex", O200KBase, true},
		{"o1-mini", O200KBase, true},
		{"o3", O200KBase, true},
		{"o4-mini-2025-04-16", O200KBase, true},
		{"gpt-4", CL100KBase, true},
		{"gpt-4-0613", CL100KBase, true},
		{"gpt-4-turbo", CL100KBase, true},
		{"gpt-3.5-turbo-0125", CL100KBase, true},
		{"my-azure-deploy", CL100KBase, true},
		{"gpt-4o-legacy-x", CL100KBase, true}, // longest key wins
		{"gpt-4omni", O200KBase, false},       // no family boundary: unknown
		{"o10", O200KBase, false},
		{"llama-3-70b", O200KBase, false},
		{"", O200KBase, false},
	}
	for _, tt := range tests {
		enc, known := c.EncodingFor(tt.model)
		if enc.Name() != tt.want || known != tt.known {
			t.Errorf("EncodingFor(%q) = %s, %v; want %s, %v", tt.model, enc.Name(), known, tt.want, tt.known)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := New(Config{Fallback: "p50k_base", AnthropicRatio: 9, Models: map[string]string{"x": "nope", " ": O200KBase}})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"tokens.fallback", "tokens.anthropic_ratio", `tokens.models["x"]`, "empty model name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestTextEstimateFlags(t *testing.T) {
	c := newCounter(t, Config{})
	o200k := mustEncoding(t, O200KBase)
	text := "Patient reports chest pain since Tuesday."
	n := int64(o200k.Count(text))
	tests := []struct {
		model string
		want  Estimate
	}{
		{"gpt-4o", Estimate{Tokens: n, Encoding: O200KBase, Exact: true}},
		{"mystery-model", Estimate{Tokens: n, Encoding: O200KBase, UnknownModel: true}},
		{"claude-sonnet-4-5", Estimate{Tokens: int64(float64(n)*DefaultAnthropicRatio + 0.999999), Encoding: O200KBase}},
	}
	for _, tt := range tests {
		if got := c.Text(tt.model, text); got != tt.want {
			t.Errorf("Text(%q) = %+v, want %+v", tt.model, got, tt.want)
		}
	}
}

// TestRequestChatRules checks the OpenAI cookbook arithmetic: 3 per
// message plus its role, parts of one message summed, 3 for reply priming,
// and the tool-definition formula.
func TestRequestChatRules(t *testing.T) {
	c := newCounter(t, Config{})
	enc := mustEncoding(t, O200KBase)
	cnt := func(s string) int64 { return int64(enc.Count(s)) }
	req := &llm.Request{
		Provider: llm.ProviderOpenAI, Model: "gpt-4o",
		Parts: []llm.Part{
			{Role: llm.RoleSystem, Text: "You are a careful clinical assistant.", Message: 0},
			{Role: llm.RoleUser, Text: "Summarise this note:", Message: 1},
			{Role: llm.RoleUser, Text: "BP 142/91, HR 104.", Message: 1},
		},
		NonTextParts: 2,
	}
	want := 3 + cnt("system") + cnt("You are a careful clinical assistant.") +
		3 + cnt("user") + cnt("Summarise this note:") + cnt("BP 142/91, HR 104.") + 3
	got := c.Request(req)
	if got.Tokens != want || got.Exact || got.UnpricedParts != 2 || got.Encoding != O200KBase {
		t.Fatalf("Request = %+v, want %d tokens, inexact with 2 unpriced parts", got, want)
	}
	req.NonTextParts = 0
	if got := c.Request(req); !got.Exact || got.Tokens != want {
		t.Fatalf("text-only request = %+v, want exact %d", got, want)
	}

	req.Tools = []llm.Tool{{
		Name: "get_vitals", Description: "Fetch vitals for a patient.",
		Parameters: `{"type":"object","properties":{"mrn":{"type":"string","description":"Medical record number."},"unit":{"type":"string","enum":["metric","imperial"]}}}`,
	}}
	// func_init 7 + "get_vitals:Fetch vitals for a patient" + prop_init 3 +
	// per property prop_key 3 + "key:type:desc" (+ enum_init -3 and 3 + item
	// per enum value) + func_end 12.
	props := 3 + (3 + cnt("mrn:string:Medical record number")) +
		(3 - 3 + 3 + cnt("metric") + 3 + cnt("imperial") + cnt("unit:string:"))
	toolTokens := 7 + cnt("get_vitals:Fetch vitals for a patient") + props + 12
	if got := c.Request(req); got.Tokens != want+toolTokens {
		t.Fatalf("with tools: %d, want %d", got.Tokens, want+toolTokens)
	}
	// cl100k models use func_init 10.
	req.Model = "gpt-4"
	cl := mustEncoding(t, CL100KBase)
	if got := c.Request(req); got.Encoding != CL100KBase || got.Tokens <= int64(cl.Count("get_vitals"))+10 {
		t.Fatalf("gpt-4 request = %+v", got)
	}
}

func TestRequestAnthropicAndUnknown(t *testing.T) {
	c := newCounter(t, Config{AnthropicRatio: 1.5})
	req := &llm.Request{Provider: llm.ProviderAnthropic, Model: "claude-sonnet-4-5",
		Parts: []llm.Part{{Role: llm.RoleSystem, Text: "Be brief.", Message: -1}, {Role: llm.RoleUser, Text: "Hello there", Message: 0}}}
	got := c.Request(req)
	req2 := *req
	req2.Provider, req2.Model = llm.ProviderOpenAI, "gpt-4o"
	base := c.Request(&req2).Tokens
	if got.Exact || got.Tokens != (base*3+1)/2 {
		t.Fatalf("anthropic = %+v, want ceil(%d*1.5) inexact", got, base)
	}
	req2.Model = "some-local-model"
	if u := c.Request(&req2); !u.UnknownModel || u.Exact || u.Tokens != base {
		t.Fatalf("unknown model = %+v", u)
	}
}

func TestRequestBadToolSchemaCountsText(t *testing.T) {
	c := newCounter(t, Config{})
	req := &llm.Request{Model: "gpt-4o", Tools: []llm.Tool{{Name: "f", Parameters: "{not json"}}}
	if got := c.Request(req); got.Tokens < 3+7+12 {
		t.Fatalf("got %+v", got)
	}
}
