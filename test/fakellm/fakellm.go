// Package fakellm is a scripted fake LLM provider for tests, demos and load
// runs. It speaks OpenAI chat completions (POST /v1/chat/completions),
// OpenAI Responses (POST /v1/responses) and Anthropic messages
// (POST /v1/messages), as JSON or SSE with each provider's exact framing,
// reports usage, and records every request it receives.
package fakellm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Usage is the token usage a scripted reply reports.
type Usage struct {
	InputTokens  int
	OutputTokens int
}

// Script is the reply to one request.
type Script struct {
	// Text is the assistant's reply text.
	Text string
	// Chunks are byte offsets into Text where streamed deltas are split
	// (e.g. []int{3, 7} gives Text[:3], Text[3:7], Text[7:]). Nil splits
	// after every space-delimited word.
	Chunks []int
	// Usage is reported as-is; nil computes a deterministic estimate
	// (input: request body bytes / 4, output: words in Text).
	Usage *Usage
	// Status other than 0/200 returns the provider's error JSON shape with
	// ErrorMessage.
	Status       int
	ErrorMessage string
	// Delay is waited before the response headers; ChunkDelay between SSE
	// events.
	Delay      time.Duration
	ChunkDelay time.Duration
	// Model overrides the model echoed in the response.
	Model string
	// Header adds response headers.
	Header map[string]string
}

// Request is one recorded request.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Decoded from the body when it is JSON.
	Model  string
	Stream bool
}

// DefaultText is the reply when nothing is scripted.
const DefaultText = "Hello from fakellm. This is a scripted reply."

// Server is the fake provider. The zero value is not usable; call New.
type Server struct {
	mu       sync.Mutex
	queue    []Script
	byModel  map[string]Script
	fallback Script
	requests []Request
	seq      atomic.Int64
	now      func() time.Time
}

// New returns a server that answers DefaultText until scripted otherwise.
func New() *Server {
	return &Server{byModel: map[string]Script{}, fallback: Script{Text: DefaultText}, now: time.Now}
}

// SetDefault sets the reply used when neither the queue nor a model script
// applies.
func (s *Server) SetDefault(sc Script) { s.mu.Lock(); s.fallback = sc; s.mu.Unlock() }

// ScriptModel sets the reply for requests naming model.
func (s *Server) ScriptModel(model string, sc Script) {
	s.mu.Lock()
	s.byModel[model] = sc
	s.mu.Unlock()
}

// Enqueue adds replies consumed in order by the next requests, before any
// model script.
func (s *Server) Enqueue(sc ...Script) {
	s.mu.Lock()
	s.queue = append(s.queue, sc...)
	s.mu.Unlock()
}

// Requests returns a copy of every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Reset forgets recorded requests and scripts.
func (s *Server) Reset() {
	s.mu.Lock()
	s.queue, s.requests, s.byModel = nil, nil, map[string]Script{}
	s.mu.Unlock()
}

func (s *Server) pick(model string) Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		sc := s.queue[0]
		s.queue = s.queue[1:]
		return sc
	}
	if sc, ok := s.byModel[model]; ok {
		return sc
	}
	return s.fallback
}

// api identifies the provider dialect of a path.
type api int

const (
	apiChat api = iota + 1
	apiResponses
	apiMessages
)

func apiFor(path string) api {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	// Azure OpenAI's v1 API lives under /openai/v1/ (Envoy's Azure routes
	// rewrite the prefix), so the fake answers there too.
	path = strings.TrimPrefix(path, "/openai")
	switch path {
	case "/v1/chat/completions":
		return apiChat
	case "/v1/responses":
		return apiResponses
	case "/v1/messages":
		return apiMessages
	}
	return 0
}

type reqFields struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// ServeHTTP answers one provider request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	a := apiFor(r.URL.Path)
	rec := Request{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body}
	var f reqFields
	jsonErr := json.Unmarshal(body, &f)
	rec.Model, rec.Stream = f.Model, f.Stream
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()

	switch {
	case err != nil:
		writeError(w, a, http.StatusBadRequest, "could not read request body: "+err.Error())
		return
	case a == 0:
		writeError(w, apiChat, http.StatusNotFound, "unknown path "+r.URL.Path)
		return
	case r.Method != http.MethodPost:
		writeError(w, a, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	case jsonErr != nil:
		writeError(w, a, http.StatusBadRequest, "request body is not valid JSON: "+jsonErr.Error())
		return
	case f.Model == "":
		writeError(w, a, http.StatusBadRequest, "model is required")
		return
	}
	sc := s.pick(f.Model)
	if sc.Delay > 0 {
		select {
		case <-time.After(sc.Delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range sc.Header {
		w.Header().Set(k, v)
	}
	if sc.Status != 0 && sc.Status != http.StatusOK {
		msg := sc.ErrorMessage
		if msg == "" {
			msg = http.StatusText(sc.Status)
		}
		writeError(w, a, sc.Status, msg)
		return
	}
	model := f.Model
	if sc.Model != "" {
		model = sc.Model
	}
	u := Usage{InputTokens: len(body) / 4, OutputTokens: len(strings.Fields(sc.Text))}
	if sc.Usage != nil {
		u = *sc.Usage
	}
	rp := reply{s: s, w: w, r: r, sc: sc, model: model, usage: u, id: s.seq.Add(1), created: s.now().Unix()}
	switch {
	case !f.Stream:
		w.Header().Set("Content-Type", "application/json")
		var b []byte
		switch a {
		case apiChat:
			b = rp.chatJSON()
		case apiResponses:
			b = rp.responsesJSON()
		case apiMessages:
			b = rp.messagesJSON()
		}
		_, _ = w.Write(b)
	default:
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		switch a {
		case apiChat:
			rp.chatSSE(f.StreamOptions != nil && f.StreamOptions.IncludeUsage)
		case apiResponses:
			rp.responsesSSE()
		case apiMessages:
			rp.messagesSSE()
		}
	}
}

// writeError writes the provider's own error shape.
func writeError(w http.ResponseWriter, a api, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	typ := errorType(status, a)
	var b []byte
	if a == apiMessages {
		// Anthropic: {"type":"error","error":{"type":...,"message":...}}
		b = mustJSON(obj{{"type", "error"}, {"error", obj{{"type", typ}, {"message", msg}}}})
	} else {
		// OpenAI: {"error":{"message":...,"type":...,"param":null,"code":null}}
		b = mustJSON(obj{{"error", obj{{"message", msg}, {"type", typ}, {"param", nil}, {"code", nil}}}})
	}
	_, _ = w.Write(b)
}

func errorType(status int, a api) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	}
	if status >= 500 {
		if a == apiMessages {
			return "api_error"
		}
		return "server_error"
	}
	return "invalid_request_error"
}

// split cuts text at the script's chunk offsets (or after each word).
func split(text string, at []int) []string {
	var out []string
	if at == nil {
		for len(text) > 0 {
			i := strings.IndexByte(text, ' ')
			if i < 0 {
				out = append(out, text)
				break
			}
			out = append(out, text[:i+1])
			text = text[i+1:]
		}
		return out
	}
	prev := 0
	for _, p := range at {
		if p <= prev || p >= len(text) {
			continue
		}
		out = append(out, text[prev:p])
		prev = p
	}
	return append(out, text[prev:])
}

// obj is a JSON object that keeps key order, so events look like the
// providers' (e.g. "type" first).
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fakellm: marshal: %v", err)) // only fixed shapes are marshalled
	}
	return b
}
