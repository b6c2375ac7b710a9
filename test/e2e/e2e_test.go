package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/test/fakellm"
)

const (
	clinicalKey = "ward-demo-clinical"
	internalKey = "ward-demo-internal"
)

func startStack(t *testing.T) *Stack {
	t.Helper()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Audit.Sink = "none"
	s, err := Start(context.Background(), Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func post(t *testing.T, url, path string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("content-type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestChatThroughGateway(t *testing.T) {
	s := startStack(t)
	s.Provider.SetDefault(fakellm.Script{Text: "Take the medication with food."})
	resp, body := post(t, s.URL, "/v1/chat/completions", map[string]string{
		"authorization": "Bearer " + internalKey,
		"x-ward-team":   "someone-else", // spoofing attempt
	}, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"How should I take metformin?"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if !strings.Contains(string(body), "Take the medication with food.") {
		t.Fatalf("body: %s", body)
	}
	if resp.Header.Get("x-ward-event-id") == "" {
		t.Fatal("client should get the audit event id")
	}
	reqs := s.Provider.Requests()
	if len(reqs) != 1 {
		t.Fatalf("provider got %d requests", len(reqs))
	}
	got := reqs[0].Header
	if got.Get("authorization") != "Bearer "+ProviderKeys["OPENAI_API_KEY"] {
		t.Fatalf("provider saw credential %q; want the injected provider key", got.Get("authorization"))
	}
	if strings.Contains(strings.Join(got.Values("authorization"), ","), internalKey) {
		t.Fatal("the caller's Ward key leaked upstream")
	}
	if got.Get("x-ward-team") != "platform" || got.Get("x-ward-provider") != "openai" {
		t.Fatalf("identity headers upstream: team=%q provider=%q", got.Get("x-ward-team"), got.Get("x-ward-provider"))
	}
	tr := s.Gateway.LastTrace()
	if tr.Route != "openai" {
		t.Fatalf("envoy route %q, want openai (chosen from Ward's x-ward-provider)", tr.Route)
	}
}

func TestUnauthenticatedGetsProviderShapedError(t *testing.T) {
	s := startStack(t)
	for _, tc := range []struct {
		path, body, wantType string
	}{
		{"/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`, "invalid_request_error"},
		{"/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[]}`, "authentication_error"},
	} {
		resp, body := post(t, s.URL, tc.path, map[string]string{"authorization": "Bearer wrong"}, tc.body)
		if resp.StatusCode != 401 {
			t.Fatalf("%s: status %d", tc.path, resp.StatusCode)
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: body not JSON: %s", tc.path, body)
		}
		if !strings.Contains(string(body), tc.wantType) {
			t.Fatalf("%s: body %s lacks %s", tc.path, body, tc.wantType)
		}
	}
	if n := len(s.Provider.Requests()); n != 0 {
		t.Fatalf("provider was called %d times for unauthenticated requests", n)
	}
}

func TestAnthropicStreamPassesThrough(t *testing.T) {
	s := startStack(t)
	s.Provider.SetDefault(fakellm.Script{Text: "Rest, fluids, and follow up in a week.", Chunks: []int{4, 11, 20}})
	resp, body := post(t, s.URL, "/v1/messages", map[string]string{"x-api-key": clinicalKey, "anthropic-version": "2023-06-01"},
		`{"model":"claude-sonnet-4-5","max_tokens":200,"stream":true,"messages":[{"role":"user","content":"Advice for a cold?"}]}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("content-type"), "text/event-stream") {
		t.Fatalf("status %d type %q: %s", resp.StatusCode, resp.Header.Get("content-type"), body)
	}
	var text strings.Builder
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		var ev struct {
			Type  string `json:"type"`
			Delta struct {
				Text string `json:"text"`
			} `json:"delta"`
		}
		if err := json.Unmarshal([]byte(line[6:]), &ev); err != nil {
			t.Fatalf("bad event %q: %v", line, err)
		}
		if ev.Type == "content_block_delta" {
			text.WriteString(ev.Delta.Text)
		}
	}
	if text.String() != "Rest, fluids, and follow up in a week." {
		t.Fatalf("reassembled %q", text.String())
	}
	if got := s.Provider.Requests()[0].Header.Get("x-api-key"); got != ProviderKeys["ANTHROPIC_API_KEY"] {
		t.Fatalf("anthropic key not injected: %q", got)
	}
	tr := s.Gateway.LastTrace()
	var sawOverride bool
	for _, m := range tr.Messages {
		if m.Response != nil && m.Response.GetModeOverride() != nil {
			sawOverride = true
		}
	}
	if !sawOverride {
		t.Fatal("Ward should switch the SSE response to STREAMED")
	}
}

func TestHealthBypassesWard(t *testing.T) {
	s := startStack(t)
	req, _ := http.NewRequest("GET", s.URL+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr := s.Gateway.LastTrace()
	if len(tr.Messages) != 0 {
		t.Fatalf("health check went through ext_proc: %v", tr.Phases())
	}
}
