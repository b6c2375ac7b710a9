package extproc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	dto "github.com/prometheus/client_model/go"

	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/identity"
)

const badInputKey = "ward-bad-input-key"

func badInputPipeline(t testing.TB, failOpen bool) *Pipeline {
	t.Helper()
	sum := sha256.Sum256([]byte(badInputKey))
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
server: {grpc_addr: "127.0.0.1:0", max_request_body_bytes: 65536}
keys: [{id: k, sha256: %s, team: t}]
providers: {openai: {dialect: openai, key_env: WARD_BAD_INPUT_KEY}}
profiles: {p: {fail_open: %v}}
default_profile: p
`, hex.EncodeToString(sum[:]), failOpen)))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("WARD_BAD_INPUT_KEY", "sk")
	keys, err := identity.NewKeyStore(cfg.Providers, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Pipeline{Config: cfg, Auth: identity.NewAuthenticator(cfg), Keys: keys, Metrics: NewMetrics(nil)}
}

func headersMsg(path string, eos bool) *extprocv3.HttpHeaders {
	hm := &corev3.HeaderMap{}
	for _, kv := range [][2]string{{":method", "POST"}, {":path", path}, {"authorization", "Bearer " + badInputKey}} {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[0], RawValue: []byte(kv[1])})
	}
	return &extprocv3.HttpHeaders{Headers: hm, EndOfStream: eos}
}

// TestBadRequestBodiesAreCounted: each kind of bad body gets a clear
// answer (deny on fail-closed, pass on fail-open) and a metric.
func TestBadRequestBodiesAreCounted(t *testing.T) {
	tests := []struct {
		name, body, kind string
		encoding         string
	}{
		{"malformed JSON", `{"model":"gpt-4o","messages":[`, "malformed_request", ""},
		{"invalid UTF-8 in a string", "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"bad \xff\xfe\"}]}", "malformed_request", ""},
		{"not JSON at all", "\x00\x01binary", "malformed_request", ""},
		{"truncated gzip", "\x1f\x8b\x08\x00\x00\x00\x00\x00", "request_encoding", "gzip"},
		{"unknown encoding", "abc", "request_encoding", "br"},
	}
	for _, failOpen := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/fail_open=%v", tc.name, failOpen), func(t *testing.T) {
				p := badInputPipeline(t, failOpen)
				ctx := context.Background()
				proc := p.NewProcessor(ctx)
				h := headersMsg("/v1/chat/completions", false)
				if tc.encoding != "" {
					h.Headers.Headers = append(h.Headers.Headers, &corev3.HeaderValue{Key: "content-encoding", RawValue: []byte(tc.encoding)})
				}
				if _, err := proc.RequestHeaders(ctx, h); err != nil {
					t.Fatal(err)
				}
				r, err := proc.RequestBody(ctx, &extprocv3.HttpBody{Body: []byte(tc.body), EndOfStream: true})
				if err != nil {
					t.Fatal(err)
				}
				proc.Close(ctx, nil)
				ir := r.GetImmediateResponse()
				if !failOpen && (ir == nil || ir.GetStatus().GetCode() != 400) {
					t.Fatalf("fail-closed: want 400, got %v", r)
				}
				if failOpen && (ir != nil || r.GetRequestBody() == nil) {
					t.Fatalf("fail-open: want pass-through, got %v", r)
				}
				var m dto.Metric
				p.Metrics.badInput.WithLabelValues(tc.kind).Write(&m)
				if got := m.GetCounter().GetValue(); got != 1 {
					t.Fatalf("ward_bad_input_total{kind=%q} = %v", tc.kind, got)
				}
			})
		}
	}
}

// FuzzRequestBody: whatever the body, Ward answers with exactly one
// response of the matching kind (or a local reply) and never panics.
func FuzzRequestBody(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi 123-45-6789"}]}`,
		`{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`,
		`{"input":[{"role":"user","content":[{"type":"input_text","text":"y"}]}]}`,
		`{`, `[]`, `null`, "\xff",
	} {
		f.Add([]byte(s), uint8(0))
	}
	p := badInputPipeline(f, false)
	paths := []string{"/v1/chat/completions", "/v1/messages", "/v1/responses"}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		ctx := context.Background()
		proc := p.NewProcessor(ctx)
		defer proc.Close(ctx, nil)
		if _, err := proc.RequestHeaders(ctx, headersMsg(paths[int(which)%len(paths)], false)); err != nil {
			t.Fatal(err)
		}
		r, err := proc.RequestBody(ctx, &extprocv3.HttpBody{Body: body, EndOfStream: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.GetImmediateResponse() == nil && r.GetRequestBody() == nil {
			t.Fatalf("wrong response kind %T", r.Response)
		}
	})
}

// FuzzResponseStream: arbitrary SSE bytes split anywhere never break the
// stream: every chunk gets a response body answer.
func FuzzResponseStream(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"), uint8(7))
	f.Add([]byte("event: message_start\r\ndata: {\"type\":\"message_start\"\r\n\r\n: comment\nretry: 10\n\n"), uint8(3))
	p := badInputPipeline(f, false)
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		ctx := context.Background()
		proc := p.NewProcessor(ctx)
		defer proc.Close(ctx, nil)
		proc.RequestHeaders(ctx, headersMsg("/v1/chat/completions", false))
		proc.RequestBody(ctx, &extprocv3.HttpBody{Body: []byte(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"x"}]}`), EndOfStream: true})
		rh := &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: ":status", RawValue: []byte("200")}, {Key: "content-type", RawValue: []byte("text/event-stream")}}}
		if _, err := proc.ResponseHeaders(ctx, &extprocv3.HttpHeaders{Headers: rh}); err != nil {
			t.Fatal(err)
		}
		n := int(step%16) + 1
		for i := 0; i < len(stream) || i == 0; i += n {
			end := min(i+n, len(stream))
			r, err := proc.ResponseBody(ctx, &extprocv3.HttpBody{Body: stream[i:end], EndOfStream: end == len(stream)})
			if err != nil {
				t.Fatal(err)
			}
			if r.GetResponseBody() == nil && r.GetImmediateResponse() == nil {
				t.Fatalf("wrong response kind %T", r.Response)
			}
			if end == len(stream) {
				break
			}
		}
	})
}
