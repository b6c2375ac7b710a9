package fakellm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/test/fakellm"
)

type sseEvent struct {
	name string
	data string
}

// parseSSE splits a body into events, failing on anything that is not
// `event:`/`data:` lines separated by a blank line.
func parseSSE(t *testing.T, body string) []sseEvent {
	t.Helper()
	if !strings.HasSuffix(body, "\n\n") {
		t.Fatalf("SSE body does not end with a blank line: %q", body)
	}
	var out []sseEvent
	for _, block := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		var ev sseEvent
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			default:
				t.Fatalf("bad SSE line %q", line)
			}
		}
		out = append(out, ev)
	}
	return out
}

func post(t *testing.T, h http.Handler, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sk-test")
	h.ServeHTTP(rec, req)
	return rec
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", s, err)
	}
	return m
}

func dig(m any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, _ := m.(map[string]any)
			m = mm[k]
		case int:
			a, _ := m.([]any)
			if k >= len(a) {
				return nil
			}
			m = a[k]
		}
	}
	return m
}

func TestJSONReplies(t *testing.T) {
	tests := []struct {
		path, body string
		text       []any
		in, out    []any
	}{
		{"/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`,
			[]any{"choices", 0, "message", "content"}, []any{"usage", "prompt_tokens"}, []any{"usage", "completion_tokens"}},
		{"/v1/responses", `{"model":"gpt-4o","input":"hi"}`,
			[]any{"output", 0, "content", 0, "text"}, []any{"usage", "input_tokens"}, []any{"usage", "output_tokens"}},
		{"/v1/messages", `{"model":"claude","max_tokens":5,"messages":[]}`,
			[]any{"content", 0, "text"}, []any{"usage", "input_tokens"}, []any{"usage", "output_tokens"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s := fakellm.New()
			s.Enqueue(fakellm.Script{Text: "Patient is stable.", Usage: &fakellm.Usage{InputTokens: 11, OutputTokens: 4}})
			rec := post(t, s, tt.path, tt.body)
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %s", rec.Code, rec.Header().Get("Content-Type"))
			}
			m := decode(t, rec.Body.String())
			if dig(m, tt.text...) != "Patient is stable." || dig(m, tt.in...) != 11.0 || dig(m, tt.out...) != 4.0 {
				t.Fatalf("reply %s", rec.Body)
			}
		})
	}
}

func TestChatSSEFraming(t *testing.T) {
	for _, includeUsage := range []bool{false, true} {
		s := fakellm.New()
		s.Enqueue(fakellm.Script{Text: "Hello there world", Chunks: []int{3, 9}, Usage: &fakellm.Usage{InputTokens: 7, OutputTokens: 3}})
		body := `{"model":"gpt-4o","stream":true,"messages":[]}`
		if includeUsage {
			body = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[]}`
		}
		rec := post(t, s, "/v1/chat/completions", body)
		if rec.Header().Get("Content-Type") != "text/event-stream" {
			t.Fatalf("content-type %q", rec.Header().Get("Content-Type"))
		}
		evs := parseSSE(t, rec.Body.String())
		if last := evs[len(evs)-1]; last.data != "[DONE]" || last.name != "" {
			t.Fatalf("last event %+v", last)
		}
		var text []string
		var usage any
		var finish int
		for _, ev := range evs[:len(evs)-1] {
			if ev.name != "" {
				t.Fatalf("chat completions events carry no event: line, got %q", ev.name)
			}
			m := decode(t, ev.data)
			if m["object"] != "chat.completion.chunk" {
				t.Fatalf("object %v", m["object"])
			}
			if c, ok := dig(m, "choices", 0, "delta", "content").(string); ok && c != "" {
				text = append(text, c)
			}
			if dig(m, "choices", 0, "finish_reason") == "stop" {
				finish++
			}
			if u := m["usage"]; u != nil {
				usage = u
				if len(m["choices"].([]any)) != 0 {
					t.Error("usage chunk must have empty choices")
				}
			}
			if _, has := m["usage"]; has != includeUsage {
				t.Errorf("usage key present=%v with include_usage=%v", has, includeUsage)
			}
		}
		if strings.Join(text, "|") != "Hel|lo the|re world" || finish != 1 {
			t.Fatalf("deltas %q finish %d", text, finish)
		}
		if includeUsage != (usage != nil) || (usage != nil && dig(usage, "total_tokens") != 10.0) {
			t.Fatalf("usage %v (include_usage=%v)", usage, includeUsage)
		}
	}
}

func TestResponsesSSEFraming(t *testing.T) {
	s := fakellm.New()
	s.Enqueue(fakellm.Script{Text: "a b", Usage: &fakellm.Usage{InputTokens: 2, OutputTokens: 2}})
	evs := parseSSE(t, post(t, s, "/v1/responses", `{"model":"gpt-4o","stream":true,"input":"x"}`).Body.String())
	var names []string
	var deltas string
	for i, ev := range evs {
		m := decode(t, ev.data)
		if m["type"] != ev.name || m["sequence_number"] != float64(i) {
			t.Fatalf("event %d: name %q type %v seq %v", i, ev.name, m["type"], m["sequence_number"])
		}
		names = append(names, ev.name)
		if ev.name == "response.output_text.delta" {
			deltas += m["delta"].(string)
		}
		if ev.name == "response.completed" && dig(m, "response", "usage", "output_tokens") != 2.0 {
			t.Errorf("completed usage %v", dig(m, "response", "usage"))
		}
	}
	want := "response.created response.in_progress response.output_item.added response.content_part.added " +
		"response.output_text.delta response.output_text.delta response.output_text.done response.content_part.done " +
		"response.output_item.done response.completed"
	if strings.Join(names, " ") != want || deltas != "a b" {
		t.Fatalf("events %v deltas %q", names, deltas)
	}
}

func TestMessagesSSEFraming(t *testing.T) {
	s := fakellm.New()
	s.Enqueue(fakellm.Script{Text: "x y z", Usage: &fakellm.Usage{InputTokens: 5, OutputTokens: 3}})
	evs := parseSSE(t, post(t, s, "/v1/messages", `{"model":"claude","stream":true,"max_tokens":9,"messages":[]}`).Body.String())
	var names []string
	var text string
	for _, ev := range evs {
		m := decode(t, ev.data)
		if m["type"] != ev.name {
			t.Fatalf("type %v under event %q", m["type"], ev.name)
		}
		if !strings.HasPrefix(ev.data, `{"type":`) {
			t.Errorf("type is not the first key: %s", ev.data)
		}
		names = append(names, ev.name)
		switch ev.name {
		case "message_start":
			if dig(m, "message", "usage", "input_tokens") != 5.0 {
				t.Errorf("message_start usage %v", dig(m, "message", "usage"))
			}
		case "content_block_delta":
			text += dig(m, "delta", "text").(string)
		case "message_delta":
			if dig(m, "usage", "output_tokens") != 3.0 || dig(m, "delta", "stop_reason") != "end_turn" {
				t.Errorf("message_delta %s", ev.data)
			}
		}
	}
	want := "message_start content_block_start ping content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != want || text != "x y z" {
		t.Fatalf("events %v text %q", names, text)
	}
}

func TestProviderErrorShapes(t *testing.T) {
	tests := []struct {
		name, path, body string
		script           *fakellm.Script
		status           int
		typ              []any
		want             string
	}{
		{"openai rate limit", "/v1/chat/completions", `{"model":"m"}`, &fakellm.Script{Status: 429, ErrorMessage: "slow down"}, 429, []any{"error", "type"}, "rate_limit_error"},
		{"anthropic overloaded", "/v1/messages", `{"model":"m"}`, &fakellm.Script{Status: 529}, 529, []any{"error", "type"}, "api_error"},
		{"malformed JSON", "/v1/messages", `{"model":`, nil, 400, []any{"type"}, "error"},
		{"missing model", "/v1/responses", `{}`, nil, 400, []any{"error", "type"}, "invalid_request_error"},
		{"unknown path", "/v2/x", `{}`, nil, 404, []any{"error", "type"}, "not_found_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakellm.New()
			if tt.script != nil {
				s.Enqueue(*tt.script)
			}
			rec := post(t, s, tt.path, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d", rec.Code)
			}
			if got := dig(decode(t, rec.Body.String()), tt.typ...); got != tt.want {
				t.Fatalf("%v = %v in %s", tt.typ, got, rec.Body)
			}
		})
	}
}

func TestScriptSelectionAndRecording(t *testing.T) {
	s := fakellm.New()
	s.ScriptModel("claude", fakellm.Script{Text: "by model"})
	s.Enqueue(fakellm.Script{Text: "queued"})
	texts := []string{}
	for range 3 {
		rec := post(t, s, "/v1/messages", `{"model":"claude","max_tokens":1,"messages":[]}`)
		texts = append(texts, dig(decode(t, rec.Body.String()), "content", 0, "text").(string))
	}
	rec := post(t, s, "/v1/messages", `{"model":"other","max_tokens":1,"messages":[]}`)
	texts = append(texts, dig(decode(t, rec.Body.String()), "content", 0, "text").(string))
	if strings.Join(texts, "|") != "queued|by model|by model|"+fakellm.DefaultText {
		t.Fatalf("texts %q", texts)
	}
	reqs := s.Requests()
	if len(reqs) != 4 || reqs[0].Header.Get("Authorization") != "Bearer sk-test" || reqs[3].Model != "other" || reqs[0].Path != "/v1/messages" {
		t.Fatalf("recorded %+v", reqs)
	}
	s.Reset()
	if len(s.Requests()) != 0 {
		t.Error("Reset kept requests")
	}
}

func TestDelayHonoursCancellation(t *testing.T) {
	s := fakellm.New()
	s.Enqueue(fakellm.Script{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{"model":"m"}`)).WithContext(ctx)
	done := make(chan struct{})
	go func() { s.ServeHTTP(httptest.NewRecorder(), req); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Delay ignored request cancellation")
	}
}

// syncBuf is a goroutine-safe writer for Run's stdout.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuf
	errc := make(chan error, 1)
	go func() {
		errc <- fakellm.Run(ctx, []string{"--addr", "127.0.0.1:0", "--text", "from flag"}, nil, &out, io.Discard)
	}()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	var url string
	for i := 0; i < 500 && url == ""; i++ {
		url = re.FindString(out.String())
		time.Sleep(5 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("no address printed: %q", out.String())
	}
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "from flag") {
		t.Fatalf("reply %s", b)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := fakellm.Run(context.Background(), []string{"--nope"}, nil, io.Discard, io.Discard); err == nil {
		t.Error("bad flag accepted")
	}
}

func FuzzServeHTTP(f *testing.F) {
	f.Add("/v1/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`)
	f.Add("/v1/responses", `{"model":"m","stream":true}`)
	f.Add("/v1/messages", `{"model":"m","stream":false}`)
	f.Add("/v1/messages", "\xff\xfe{")
	f.Add("/v1/chat/completions", `{"model":1}`)
	f.Fuzz(func(t *testing.T, path, body string) {
		u, err := url.ParseRequestURI(path)
		if err != nil {
			return // not a request target a client could send
		}
		s := fakellm.New()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.URL = u
		s.ServeHTTP(rec, req)
		if rec.Code != 200 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("error reply is not JSON: %d %q", rec.Code, rec.Body)
		}
		if len(s.Requests()) != 1 {
			t.Fatal("request not recorded")
		}
	})
}

func TestAzurePathPrefix(t *testing.T) {
	srv := httptest.NewServer(fakellm.New())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/openai/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("Azure-style path: status %d", resp.StatusCode)
	}
}
