package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/extproc/audit"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/llm"
	"github.com/wardhq/ward/test/fakellm"
	"github.com/wardhq/ward/test/harness"
)

// streamStack starts the stack with the JSONL audit sink, optional Ward
// config and emulator tweaks, and (when raw is non-nil) a raw upstream in
// place of the fake provider.
type streamStack struct {
	*Stack
	events func() []audit.Event
}

type streamOpts struct {
	patientFacing bool // the demo clinical app gets clinical-advice denials
	chunkSize     int  // STREAMED body chunk cap in the emulator
	splits        []int
	raw           http.Handler // replaces the fake provider
	cfg           func(*config.Config)
}

func startStreamStack(t testing.TB, o streamOpts) *streamStack {
	t.Helper()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.Audit.Sink = "file"
	cfg.Audit.File = filepath.Join(dir, "audit.jsonl")
	cfg.Audit.SpoolDir = filepath.Join(dir, "spool")
	cfg.Audit.FlushInterval = config.Duration(20 * time.Millisecond)
	if o.patientFacing {
		cfg.Policy.Data = map[string]any{"ward": map[string]any{"config": map[string]any{"apps": map[string]any{
			"discharge-notes": map[string]any{"patient_facing": true},
		}}}}
	}
	if o.cfg != nil {
		o.cfg(cfg)
	}
	var rawURL string
	if o.raw != nil {
		up := httptest.NewServer(o.raw)
		t.Cleanup(up.Close)
		rawURL = up.URL
	}
	s, err := Start(context.Background(), Options{Config: cfg, Tweak: func(hc *harness.Config) {
		hc.ResponseChunkSize = o.chunkSize
		hc.ResponseSplits = o.splits
		if rawURL != "" {
			for i := range hc.Routes {
				hc.Routes[i].Upstream = rawURL
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	return &streamStack{Stack: s, events: func() []audit.Event {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		closed = true
		f, err := os.Open(cfg.Audit.File)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var evs []audit.Event
		if err := audit.ReadJSONL(f, func(e *audit.Event) error { evs = append(evs, *e); return nil }); err != nil {
			t.Fatal(err)
		}
		return evs
	}}
}

// dialect is one streaming API as a client calls it.
type dialect struct {
	name, path string
	ep         llm.Endpoint
	hdr        func(key string) map[string]string
	body       string
}

var dialects = []dialect{
	{"chat", "/v1/chat/completions", llm.EndpointChatCompletions,
		func(k string) map[string]string { return map[string]string{"authorization": "Bearer " + k} },
		`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"How do I reach the patient?"}]}`},
	{"responses", "/v1/responses", llm.EndpointResponses,
		func(k string) map[string]string { return map[string]string{"authorization": "Bearer " + k} },
		`{"model":"gpt-4o-mini","stream":true,"input":"How do I reach the patient?"}`},
	{"anthropic", "/v1/messages", llm.EndpointMessages,
		func(k string) map[string]string {
			return map[string]string{"x-api-key": k, "anthropic-version": "2023-06-01"}
		},
		`{"model":"claude-3-5-haiku-latest","max_tokens":200,"stream":true,"messages":[{"role":"user","content":"How do I reach the patient?"}]}`},
}

// readStream checks that body is a well-formed event stream whose every
// data payload is JSON (or [DONE]) and reassembles it as a client would.
func readStream(t *testing.T, ep llm.Endpoint, body []byte) (*llm.Response, []llm.SSEEvent) {
	t.Helper()
	if !utf8.Valid(body) {
		t.Fatalf("stream is not UTF-8: %q", body)
	}
	dec := llm.NewSSEDecoder(0)
	dec.Feed(body)
	dec.Close()
	asm := llm.NewStreamAssembler(ep)
	var evs []llm.SSEEvent
	for {
		ev, ok, err := dec.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if ev.Incomplete {
			t.Fatalf("event without a terminating blank line: %q", ev.Raw)
		}
		if ev.HasData && string(ev.Data) != "[DONE]" && !json.Valid(ev.Data) {
			t.Fatalf("event data is not JSON: %q", ev.Data)
		}
		if _, err := asm.Consume(&ev); err != nil {
			t.Fatalf("client-side parse of %q: %v", ev.Raw, err)
		}
		e := ev
		e.Raw = bytes.Clone(ev.Raw)
		e.Data = bytes.Clone(ev.Data)
		evs = append(evs, e)
	}
	return asm.Response(), evs
}

func TestStreamRedactsIdentifierSplitAcrossDeltas(t *testing.T) {
	const text = "Call the patient back at 617-555-0199 today, please."
	const want = "Call the patient back at [PHONE] today, please."
	phone := strings.Index(text, "617")
	every := make([]int, 0, len(text))
	for i := 1; i < len(text); i++ {
		every = append(every, i)
	}
	splits := []struct {
		name   string
		chunks []int
	}{
		{"2 deltas", []int{phone + 5}},
		{"3 deltas", []int{phone + 2, phone + 8}},
		{"N deltas", every},
	}
	for _, d := range dialects {
		for _, sp := range splits {
			for _, chunk := range []int{0, 7} {
				t.Run(fmt.Sprintf("%s/%s/chunk=%d", d.name, sp.name, chunk), func(t *testing.T) {
					s := startStreamStack(t, streamOpts{chunkSize: chunk})
					s.Provider.SetDefault(fakellm.Script{Text: text, Chunks: sp.chunks, Usage: &fakellm.Usage{InputTokens: 9, OutputTokens: 12}})
					resp, body := post(t, s.URL, d.path, d.hdr(clinicalKey), d.body)
					if resp.StatusCode != 200 {
						t.Fatalf("status %d: %s", resp.StatusCode, body)
					}
					for _, frag := range []string{"617-555", "555-0199", "0199", "-555-"} {
						if bytes.Contains(body, []byte(frag)) {
							t.Fatalf("a fragment %q of the phone number reached the client:\n%s", frag, body)
						}
					}
					got, _ := readStream(t, d.ep, body)
					if got.Choices[0] != want {
						t.Fatalf("client reassembled %q, want %q", got.Choices[0], want)
					}
					if got.Usage.OutputTokens != 12 {
						t.Fatalf("usage not forwarded: %+v", got.Usage)
					}
					// Every upstream event that carries no text reaches the
					// client byte-identical and in order.
					up := s.Gateway.LastTrace().UpstreamResponse.Body
					_, upEvs := readStream(t, d.ep, up)
					rest := body
					for _, ev := range upEvs {
						if bytes.Contains(ev.Data, []byte("617")) || bytes.Contains(ev.Data, []byte("delta")) && !bytes.Contains(ev.Data, []byte("stop")) {
							continue
						}
						i := bytes.Index(rest, ev.Raw)
						if i < 0 {
							t.Fatalf("upstream event %q missing or out of order in:\n%s", ev.Raw, body)
						}
						rest = rest[i+len(ev.Raw):]
					}
					evs := s.events()
					if len(evs) != 1 || evs[0].Completion != want || evs[0].Decision != "redact" {
						t.Fatalf("audit: %+v", evs)
					}
				})
			}
		}
	}
}

func TestStreamStopsOnMidStreamDenial(t *testing.T) {
	const text = "Rest and drink fluids. From what you describe you may have a sinus infection, so take 400 mg ibuprofen twice daily."
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := startStreamStack(t, streamOpts{patientFacing: true, chunkSize: 64})
			s.Provider.SetDefault(fakellm.Script{Text: text})
			resp, body := post(t, s.URL, d.path, d.hdr(clinicalKey), d.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if bytes.Contains(body, []byte("ibuprofen")) || bytes.Contains(body, []byte("sinus")) {
				t.Fatalf("advice reached the client:\n%s", body)
			}
			got, evs := readStream(t, d.ep, body)
			if !strings.Contains(got.Error, "diagnosis or medication dosing") {
				t.Fatalf("no provider-shaped error event: %q\n%s", got.Error, body)
			}
			last := evs[len(evs)-1]
			switch d.ep {
			case llm.EndpointChatCompletions:
				if string(last.Data) != "[DONE]" {
					t.Fatalf("chat stream must end with [DONE]:\n%s", body)
				}
			case llm.EndpointMessages:
				if last.Event != "message_stop" {
					t.Fatalf("anthropic stream must end with message_stop:\n%s", body)
				}
			case llm.EndpointResponses:
				if last.Event != "error" {
					t.Fatalf("responses stream must end with the error event:\n%s", body)
				}
			}
			if !strings.HasPrefix(text, got.Choices[0]) {
				t.Fatalf("client text %q is not a prefix of the model's", got.Choices[0])
			}
			ae := s.events()
			if len(ae) != 1 || ae[0].Decision != "deny" || ae[0].ReasonCode != "clinical_advice" || ae[0].Completion != got.Choices[0] {
				t.Fatalf("audit must record what the client saw (%q): %+v", got.Choices[0], ae)
			}
		})
	}
}

// rawSSE serves a fixed event stream, split into writes at the given
// offsets, whatever the request.
type rawSSE struct {
	body   []byte
	splits []int
	ctype  string
}

func (r rawSSE) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ct := r.ctype
	if ct == "" {
		ct = "text/event-stream"
	}
	w.Header().Set("content-type", ct)
	w.WriteHeader(200)
	f := w.(http.Flusher)
	prev := 0
	for _, s := range append(r.splits, len(r.body)) {
		if s <= prev || s > len(r.body) {
			continue
		}
		w.Write(r.body[prev:s])
		f.Flush()
		prev = s
	}
}

func chatChunk(delta string) string {
	return `data: {"id":"chatcmpl-raw","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":` + delta + `,"finish_reason":null}]}` + "\n\n"
}

func TestStreamToolArgumentsAreScanned(t *testing.T) {
	args := []string{`{"patient":"Maria`, ` Lopez","phone":"617-5`, `55-0199","note":"call `, `back"}`}
	full := strings.Join(args, "")
	js := func(s string) string { b, _ := json.Marshal(s); return string(b) }

	var chat strings.Builder
	chat.WriteString(chatChunk(`{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"schedule_call","arguments":""}}]}`))
	for _, a := range args {
		chat.WriteString(chatChunk(`{"tool_calls":[{"index":0,"function":{"arguments":` + js(a) + `}}]}`))
	}
	chat.WriteString(`data: {"id":"chatcmpl-raw","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}` + "\n\ndata: [DONE]\n\n")

	var ant strings.Builder
	ant.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-3-5-haiku-latest\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n")
	ant.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"schedule_call\",\"input\":{}}}\n\n")
	for _, a := range args {
		ant.WriteString("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":" + js(a) + "}}\n\n")
	}
	ant.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	ant.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":20}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")

	var rs strings.Builder
	item := `{"type":"function_call","id":"fc_1","call_id":"call_1","name":"schedule_call","arguments":` + js(full) + `}`
	rs.WriteString("event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"schedule_call\",\"arguments\":\"\"}}\n\n")
	for _, a := range args {
		rs.WriteString("event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":0,\"item_id\":\"fc_1\",\"delta\":" + js(a) + "}\n\n")
	}
	rs.WriteString("event: response.function_call_arguments.done\ndata: {\"type\":\"response.function_call_arguments.done\",\"output_index\":0,\"item_id\":\"fc_1\",\"arguments\":" + js(full) + "}\n\n")
	rs.WriteString("event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":" + item + "}\n\n")
	rs.WriteString("event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"output\":[" + item + "],\"usage\":{\"input_tokens\":10,\"output_tokens\":20,\"total_tokens\":30}}}\n\n")

	for i, body := range []string{chat.String(), rs.String(), ant.String()} {
		d := dialects[i]
		t.Run(d.name, func(t *testing.T) {
			s := startStreamStack(t, streamOpts{raw: rawSSE{body: []byte(body), splits: []int{100, 333, 401, 402}}, chunkSize: 50})
			resp, out := post(t, s.URL, d.path, d.hdr(clinicalKey), d.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, out)
			}
			if bytes.Contains(out, []byte("0199")) {
				t.Fatalf("phone number in the client stream:\n%s", out)
			}
			got, _ := readStream(t, d.ep, out)
			if len(got.ToolCalls) != 1 {
				t.Fatalf("tool calls: %+v", got.ToolCalls)
			}
			a := got.ToolCalls[0].Arguments
			if !strings.Contains(a, "[PHONE]") || !json.Valid([]byte(a)) {
				t.Fatalf("arguments %q\n%s", a, out)
			}
			ae := s.events()
			if len(ae) != 1 || len(ae[0].ToolCalls) != 1 || ae[0].ToolCalls[0].Arguments != a {
				t.Fatalf("audit tool calls: %+v", ae)
			}
		})
	}
}

func TestStreamBadInput(t *testing.T) {
	big := strings.Repeat("lorem ipsum ", 1<<20/12)
	bigEvent := chatChunk(`{"content":"` + big + `"}`)
	crlf := strings.ReplaceAll(chatChunk(`{"role":"assistant","content":""}`)+chatChunk(`{"content":"Fine, thanks."}`), "\n", "\r\n")
	tests := []struct {
		name    string
		body    string
		ctype   string
		key     string
		check   func(t *testing.T, body []byte)
		outcome string
	}{
		{
			name: "CRLF, comments, retry and an unknown event pass",
			body: ": keep-alive\n\nretry: 3000\n\n" + crlf + "event: vendor.stats\ndata: {\"x\":1}\n\n" + "data: [DONE]\n\n",
			key:  clinicalKey,
			check: func(t *testing.T, body []byte) {
				got, _ := readStream(t, llm.EndpointChatCompletions, body)
				if got.Choices[0] != "Fine, thanks." || !bytes.Contains(body, []byte("event: vendor.stats\ndata: {\"x\":1}\n\n")) ||
					!bytes.Contains(body, []byte(": keep-alive\n\nretry: 3000\n\n")) {
					t.Fatalf("body:\n%q", body)
				}
			},
			outcome: "allow",
		},
		{
			name: "1 MB single event",
			body: chatChunk(`{"role":"assistant","content":""}`) + bigEvent + "data: [DONE]\n\n",
			key:  clinicalKey,
			check: func(t *testing.T, body []byte) {
				got, _ := readStream(t, llm.EndpointChatCompletions, body)
				if got.Choices[0] != big {
					t.Fatalf("big event text: %d bytes, want %d", len(got.Choices[0]), len(big))
				}
			},
			outcome: "allow",
		},
		{
			name: "non-UTF-8 in a delta",
			body: chatChunk("{\"content\":\"caf\xe9 at 617-555-0199\"}") + "data: [DONE]\n\n",
			key:  clinicalKey,
			check: func(t *testing.T, body []byte) {
				got, _ := readStream(t, llm.EndpointChatCompletions, body)
				if len(got.Choices) == 0 || got.Choices[0] != "caf\uFFFD at [PHONE]" {
					t.Fatalf("body %q", body)
				}
			},
			outcome: "redact",
		},
		{
			name: "missing blank lines end a fail-closed stream",
			body: chatChunk(`{"content":"Hello "}`) + "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\ndata: {\"choices\":[]}\n\n",
			key:  clinicalKey,
			check: func(t *testing.T, body []byte) {
				got, _ := readStream(t, llm.EndpointChatCompletions, body)
				if !strings.Contains(got.Error, "could not be inspected") || !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
					t.Fatalf("body:\n%s", body)
				}
			},
			outcome: "error",
		},
		{
			name: "missing blank lines pass on a fail-open profile",
			body: chatChunk(`{"content":"Hello "}`) + "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\ndata: {\"choices\":[]}\n\n",
			key:  internalKey,
			check: func(t *testing.T, body []byte) {
				if !bytes.HasSuffix(body, []byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\ndata: {\"choices\":[]}\n\n")) {
					t.Fatalf("body:\n%s", body)
				}
			},
		},
		{
			name: "JSON body under an SSE content type",
			body: `{"error":{"message":"overloaded","type":"server_error"}}`,
			key:  clinicalKey,
			check: func(t *testing.T, body []byte) {
				if string(body) != `{"error":{"message":"overloaded","type":"server_error"}}` {
					t.Fatalf("body %q", body)
				}
			},
		},
		{
			name: "switch from SSE to HTML mid-way",
			body: chatChunk(`{"content":"Hello there."}`) + "<html>\n<body>502 Bad Gateway</body>\n</html>\n",
			key:  clinicalKey,
			check: func(t *testing.T, body []byte) {
				if !bytes.Contains(body, []byte("Hello there.")) || !bytes.HasSuffix(body, []byte("</html>\n")) {
					t.Fatalf("body %q", body)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var splits []int
			for i := 3; i < len(tc.body); i += 1 + i%97 {
				splits = append(splits, i)
			}
			if len(tc.body) > 1<<20 {
				splits = []int{100, 1 << 19, 1<<20 + 5}
			}
			s := startStreamStack(t, streamOpts{raw: rawSSE{body: []byte(tc.body), splits: splits, ctype: tc.ctype}})
			resp, body := post(t, s.URL, "/v1/chat/completions", dialects[0].hdr(tc.key), dialects[0].body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			tc.check(t, body)
			ae := s.events()
			if len(ae) != 1 || tc.outcome != "" && ae[0].Decision != tc.outcome {
				t.Fatalf("audit: %+v", ae)
			}
		})
	}
}

func TestStreamClientCancelHalfWay(t *testing.T) {
	s := startStreamStack(t, streamOpts{})
	words := strings.Repeat("The discharge summary continues with routine follow-up notes. ", 40)
	s.Provider.SetDefault(fakellm.Script{Text: words, ChunkDelay: 2 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/chat/completions", strings.NewReader(dialects[0].body))
	for k, v := range dialects[0].hdr(clinicalKey) {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	var seen strings.Builder
	for seen.Len() < 2000 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d bytes: %v", seen.Len(), err)
		}
		seen.WriteString(line)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Gateway.Traces()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	ae := s.events()
	if len(ae) != 1 {
		t.Fatalf("%d audit events", len(ae))
	}
	if !strings.HasPrefix(words, ae[0].Completion) || len(ae[0].Completion) == len(words) {
		t.Fatalf("a cancelled stream should audit a strict prefix of the text; got %d of %d bytes (%s)", len(ae[0].Completion), len(words), ae[0].Decision)
	}
}

// TestStreamUnknownAnthropicEventPasses: an event type Ward does not know
// reaches the client byte-identical, between scanned text.
func TestStreamUnknownAnthropicEventPasses(t *testing.T) {
	unknown := "event: vendor.trace\r\ndata: {\"type\":\"vendor.trace\",\"span\":\"617\"}\r\n\r\n"
	body := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-3-5-haiku-latest\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Dial 617-55\"}}\n\n" +
		unknown +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"5-0142 now.\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":6}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	d := dialects[2]
	s := startStreamStack(t, streamOpts{raw: rawSSE{body: []byte(body), splits: []int{40, 200, 333}}, chunkSize: 11})
	resp, out := post(t, s.URL, d.path, d.hdr(clinicalKey), d.body)
	if resp.StatusCode != 200 || !bytes.Contains(out, []byte(unknown)) || bytes.Contains(out, []byte("0142")) {
		t.Fatalf("status %d:\n%q", resp.StatusCode, out)
	}
	got, _ := readStream(t, d.ep, out)
	if got.Choices[0] != "Dial [PHONE] now." {
		t.Fatalf("text %q", got.Choices[0])
	}
}
