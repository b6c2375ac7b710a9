package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardhq/ward/extproc/audit"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/test/fakellm"
)

// auditedStack runs the stack with the JSONL file sink; events() stops the
// stack (flushing the audit writer) and returns what was written.
func auditedStack(t *testing.T, tweak func(*config.Config)) (*Stack, func() []audit.Event) {
	t.Helper()
	ss := startStreamStack(t, streamOpts{cfg: tweak})
	return ss.Stack, ss.events
}

func TestClinicalRedactsPHIBeforeTheProvider(t *testing.T) {
	s, events := auditedStack(t, nil)
	const prompt = "Patient Maria Garcia (DOB 03/14/1961) called from 617-555-0142 about her refill."
	resp, body := post(t, s.URL, "/v1/chat/completions", map[string]string{"authorization": "Bearer " + clinicalKey},
		`{"model":"gpt-4o-mini","user":"dr-chen","messages":[{"role":"user","content":"`+prompt+`"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if resp.Header.Get("x-ward-decision") != "redact" || !strings.Contains(resp.Header.Get("x-ward-redacted"), "PHONE") {
		t.Fatalf("the caller should learn what was redacted: decision %q redacted %q", resp.Header.Get("x-ward-decision"), resp.Header.Get("x-ward-redacted"))
	}
	got := string(s.Provider.Requests()[0].Body)
	for _, leaked := range []string{"Maria Garcia", "03/14/1961", "617-555-0142"} {
		if strings.Contains(got, leaked) {
			t.Fatalf("provider without a BAA received %q: %s", leaked, got)
		}
	}
	if !strings.Contains(got, "[PHONE]") || !json.Valid(s.Provider.Requests()[0].Body) {
		t.Fatalf("provider body: %s", got)
	}
	evs := events()
	if len(evs) != 1 {
		t.Fatalf("%d audit events", len(evs))
	}
	e := evs[0]
	if e.Decision != "redact" || e.Team != "clinical-ai" || e.EndUser != "dr-chen" || e.Status != 200 {
		t.Fatalf("event: %+v", e)
	}
	if e.PolicyRevision == "" || e.ID.String() != resp.Header.Get("x-ward-event-id") {
		t.Fatalf("revision %q, id %s vs header %s", e.PolicyRevision, e.ID, resp.Header.Get("x-ward-event-id"))
	}
	if len(e.Redactions) == 0 || len(e.PHI) == 0 {
		t.Fatalf("redactions %v phi %v", e.Redactions, e.PHI)
	}
	raw, _ := json.Marshal(e)
	if strings.Contains(string(raw), "617-555-0142") {
		t.Fatal("the audit trail stored a PHI value at the redacted content level")
	}
	if e.InputTokens == 0 || e.CostMicroUSD == 0 {
		t.Fatalf("tokens %d cost %d", e.InputTokens, e.CostMicroUSD)
	}
}

func TestClinicalBlocksHighRiskIdentifiers(t *testing.T) {
	s, events := auditedStack(t, nil)
	resp, body := post(t, s.URL, "/v1/chat/completions", map[string]string{"authorization": "Bearer " + clinicalKey},
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Summarise the chart for MRN 00482913."}]}`)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "phi_blocked") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if n := len(s.Provider.Requests()); n != 0 {
		t.Fatalf("provider got %d requests", n)
	}
	evs := events()
	if len(evs) != 1 || evs[0].Decision != "deny" || evs[0].ReasonCode != "phi_blocked" || evs[0].Status != 403 {
		t.Fatalf("events: %+v", evs)
	}
}

func TestOutputPHIRedactedButEchoKept(t *testing.T) {
	s, _ := auditedStack(t, nil)
	s.Provider.SetDefault(fakellm.Script{Text: "Reach the patient at 617-555-0199; the clinic line is on file."})
	resp, body := post(t, s.URL, "/v1/chat/completions", map[string]string{"authorization": "Bearer " + clinicalKey},
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"How should I contact the patient?"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "617-555-0199") || !json.Valid(body) {
		t.Fatalf("model-produced PHI reached the client: %s", body)
	}
	if resp.Header.Get("content-length") != "" && resp.ContentLength != int64(len(body)) {
		t.Fatalf("content-length %d for %d bytes", resp.ContentLength, len(body))
	}
}

func TestStreamingUsageIsRequestedAndPriced(t *testing.T) {
	s, events := auditedStack(t, nil)
	s.Provider.SetDefault(fakellm.Script{Text: "A short streamed answer.", Usage: &fakellm.Usage{InputTokens: 21, OutputTokens: 6}})
	resp, body := post(t, s.URL, "/v1/chat/completions", map[string]string{"authorization": "Bearer " + internalKey},
		`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say something short."}]}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "data: [DONE]") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if !strings.Contains(string(s.Provider.Requests()[0].Body), `"include_usage":true`) {
		t.Fatalf("Ward should ask for usage on streams: %s", s.Provider.Requests()[0].Body)
	}
	evs := events()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	if !e.Stream || e.InputTokens != 21 || e.OutputTokens != 6 || e.CostMicroUSD <= 0 {
		t.Fatalf("stream usage: %+v", e)
	}
	if e.Completion != "A short streamed answer." {
		t.Fatalf("completion %q", e.Completion)
	}
	if e.FirstToken.IsZero() || e.FirstToken.Before(e.Start) || e.TTFTMs() < 0 {
		t.Fatalf("stream timing: first token %v, start %v", e.FirstToken, e.Start)
	}
}

func TestAuditChainVerifies(t *testing.T) {
	s, events := auditedStack(t, nil)
	for i := 0; i < 5; i++ {
		post(t, s.URL, "/v1/chat/completions", map[string]string{"authorization": "Bearer " + internalKey},
			`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"ping"}]}`)
	}
	evs := events()
	if len(evs) != 5 {
		t.Fatalf("%d events", len(evs))
	}
	var v audit.Verifier
	for i := range evs {
		v.Add(&evs[i])
	}
	if !v.OK() {
		t.Fatalf("chain problems: %v", v.Problems)
	}
	// Tamper with one event: the chain must say so.
	evs[2].Completion = "something else"
	var tv audit.Verifier
	for i := range evs {
		tv.Add(&evs[i])
	}
	if tv.OK() {
		t.Fatal("an edited event went unnoticed")
	}
}

// An app with topics refuses off-topic requests through the whole
// pipeline (topic detector → policy input → scope.rego → ImmediateResponse).
// In refuse_directives mode an off-topic question is answered and an
// off-topic directive is refused; in the default mode both are refused.
func TestTopicScopeModes(t *testing.T) {
	discharge := config.TopicSpec{Allowed: map[string][]string{
		"discharge_instructions": {
			"Summarise the discharge instructions for this patient",
			"Rewrite the discharge summary in plain language for the family",
			"List the follow-up appointments and medication changes after discharge",
			"What should the patient do about wound care after going home from the hospital?",
		},
	}}
	const inScope, question, offTopic = "Summarise the discharge instructions for this patient in plain language.",
		"What is the capital of France?", "Write a poem about the ocean and the stars."
	for _, tc := range []struct {
		mode   string
		prompt string
		want   int
	}{
		{"refuse_directives", inScope, 200},
		{"refuse_directives", question, 200},
		{"refuse_directives", offTopic, 403},
		{"refuse", question, 403},
		{"refuse", offTopic, 403},
	} {
		t.Run(tc.mode+"/"+tc.prompt, func(t *testing.T) {
			s, events := auditedStack(t, func(c *config.Config) {
				c.Topics = map[string]config.TopicSpec{"discharge-notes": discharge}
				c.Policy.Data = map[string]any{"ward": map[string]any{"config": map[string]any{"apps": map[string]any{
					"discharge-notes": map[string]any{"topics": []any{"discharge_instructions"}, "off_topic": tc.mode},
				}}}}
			})
			resp, body := post(t, s.URL, "/v1/chat/completions", map[string]string{"authorization": "Bearer " + clinicalKey},
				`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"`+tc.prompt+`"}]}`)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			evs := events()
			if len(evs) != 1 {
				t.Fatalf("%d audit events", len(evs))
			}
			// The verdicts the policy decided on are in the audit event.
			if tp := evs[0].Topic; tp == nil || tp.Directive != (tc.prompt != question) || (tp.Nearest == "discharge_instructions") != (tc.prompt == inScope) {
				t.Fatalf("audit topic verdict %+v for %q", tp, tc.prompt)
			}
			if evs[0].Injection == nil {
				t.Fatalf("audit event without the injection verdict: %+v", evs[0])
			}
			if tc.want == 403 {
				if !strings.Contains(string(body), "off_topic") || evs[0].ReasonCode != "off_topic" || len(s.Provider.Requests()) != 0 {
					t.Fatalf("body %s, event %+v, provider requests %d", body, evs[0], len(s.Provider.Requests()))
				}
			} else if len(s.Provider.Requests()) != 1 {
				t.Fatalf("provider requests %d", len(s.Provider.Requests()))
			}
		})
	}
}
