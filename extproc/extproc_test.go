package extproc_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/identity"
)

const testKey = "ward-test-key"

func testConfig(t testing.TB, extra string) *config.Config {
	t.Helper()
	sum := sha256.Sum256([]byte(testKey))
	y := fmt.Sprintf(`
server: {grpc_addr: "127.0.0.1:0", max_request_body_bytes: 4096}
keys:
  - {id: k1, sha256: %s, team: clinical-ai, app: notes}
providers:
  openai: {dialect: openai, key_env: WARD_TEST_OPENAI_KEY}
  anthropic: {dialect: anthropic, key_env: WARD_TEST_ANTHROPIC_KEY}
  azure-openai: {dialect: openai, auth_header: api-key, key_env: WARD_TEST_AZURE_KEY}
profiles:
  clinical: {fail_open: false, unknown_paths: deny}
  internal: {fail_open: true}
  passthrough: {inspect_request: false, inspect_response: false, require_auth: false, fail_open: true}
routes:
  - {path_prefix: /healthz, profile: passthrough}
  - {path_prefix: /internal/, profile: internal}
default_profile: clinical
%s`, hex.EncodeToString(sum[:]), extra)
	c, err := config.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recorder captures finished interactions.
type recorder struct {
	mu  sync.Mutex
	ixs []*extproc.Interaction
}

func (r *recorder) Record(_ context.Context, ix *extproc.Interaction) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ixs = append(r.ixs, ix)
	return nil
}

func (r *recorder) last(t *testing.T) *extproc.Interaction {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		n := len(r.ixs)
		var ix *extproc.Interaction
		if n > 0 {
			ix = r.ixs[n-1]
		}
		r.mu.Unlock()
		if ix != nil {
			return ix
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no interaction recorded")
	return nil
}

// fixedDecider returns a fixed decision per phase.
type fixedDecider struct {
	req, resp extproc.Decision
	err       error
}

func (d fixedDecider) Decide(_ context.Context, p extproc.Phase, _ *extproc.Interaction) (extproc.Decision, error) {
	if d.err != nil {
		return extproc.Decision{}, d.err
	}
	if p == extproc.PhaseRequest {
		return d.req, nil
	}
	return d.resp, nil
}

// ssnDetector marks every "123-45-6789" as an SSN finding (a stand-in for
// the PHI engine, which has its own tests).
type ssnDetector struct{}

func (ssnDetector) Detect(_ context.Context, p extproc.Phase, ix *extproc.Interaction) error {
	const v = "123-45-6789"
	if p == extproc.PhaseRequest {
		for i, part := range ix.Request.Parts {
			if j := strings.Index(part.Text, v); j >= 0 {
				ix.Findings = append(ix.Findings, extproc.Finding{Type: "SSN", Part: i, Start: j, End: j + len(v), Score: 1})
			}
		}
		return nil
	}
	for i, p := range ix.Response.Parts {
		if j := strings.Index(p.Text, v); j >= 0 {
			ix.OutputFindings = append(ix.OutputFindings, extproc.Finding{Type: "SSN", Part: i, Choice: p.Message, Start: j, End: j + len(v), Score: 1})
		}
	}
	return nil
}

type env struct {
	client extprocv3.ExternalProcessorClient
	rec    *recorder
}

func start(t *testing.T, cfg *config.Config, dec extproc.Decider, idle time.Duration, opts ...func(*extproc.Pipeline)) *env {
	t.Helper()
	t.Setenv("WARD_TEST_OPENAI_KEY", "sk-real-openai")
	t.Setenv("WARD_TEST_ANTHROPIC_KEY", "sk-ant-real")
	t.Setenv("WARD_TEST_AZURE_KEY", "azure-real")
	keys, err := identity.NewKeyStore(cfg.Providers, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	p := &extproc.Pipeline{
		Config:    cfg,
		Auth:      identity.NewAuthenticator(cfg),
		Keys:      keys,
		Detectors: []extproc.Detector{ssnDetector{}},
		Decider:   dec,
		Recorder:  rec,
		Metrics:   extproc.NewMetrics(nil),
	}
	for _, o := range opts {
		o(p)
	}
	if idle == 0 {
		idle = time.Minute
	}
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, extproc.NewServer(p.NewProcessor, idle, p.Metrics, nil))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &env{client: extprocv3.NewExternalProcessorClient(conn), rec: rec}
}

func hdrs(kv ...string) *extprocv3.HttpHeaders {
	hm := &corev3.HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return &extprocv3.HttpHeaders{Headers: hm}
}

func reqHeaders(path string, kv ...string) *extprocv3.ProcessingRequest {
	h := hdrs(append([]string{":method", "POST", ":path", path, ":authority", "gw.local", "content-type", "application/json"}, kv...)...)
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h}}
}

func reqBody(b []byte) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: b, EndOfStream: true}}}
}

func respHeaders(status int, kv ...string) *extprocv3.ProcessingRequest {
	h := hdrs(append([]string{":status", strconv.Itoa(status)}, kv...)...)
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: h}}
}

func respBody(b []byte, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: b, EndOfStream: eos}}}
}

// exchange sends each message and returns the single response to each,
// failing on a response of the wrong kind (Envoy's one-response rule).
func (e *env) exchange(t *testing.T, msgs ...*extprocv3.ProcessingRequest) []*extprocv3.ProcessingResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := e.client.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*extprocv3.ProcessingResponse
	for _, m := range msgs {
		if err := st.Send(m); err != nil {
			t.Fatal(err)
		}
		r, err := st.Recv()
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		out = append(out, r)
		if _, ok := r.Response.(*extprocv3.ProcessingResponse_ImmediateResponse); ok {
			break
		}
		if !kindMatches(m, r) {
			t.Fatalf("response kind %T does not match request kind %T", r.Response, m.Request)
		}
	}
	st.CloseSend()
	return out
}

func kindMatches(req *extprocv3.ProcessingRequest, resp *extprocv3.ProcessingResponse) bool {
	switch req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		_, ok := resp.Response.(*extprocv3.ProcessingResponse_RequestHeaders)
		return ok
	case *extprocv3.ProcessingRequest_RequestBody:
		_, ok := resp.Response.(*extprocv3.ProcessingResponse_RequestBody)
		return ok
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		_, ok := resp.Response.(*extprocv3.ProcessingResponse_ResponseHeaders)
		return ok
	case *extprocv3.ProcessingRequest_ResponseBody:
		_, ok := resp.Response.(*extprocv3.ProcessingResponse_ResponseBody)
		return ok
	}
	return false
}

func setHeaders(c *extprocv3.CommonResponse) map[string]string {
	m := map[string]string{}
	for _, h := range c.GetHeaderMutation().GetSetHeaders() {
		m[h.GetHeader().GetKey()] = string(h.GetHeader().GetRawValue())
	}
	return m
}

func removed(c *extprocv3.CommonResponse) map[string]bool {
	m := map[string]bool{}
	for _, h := range c.GetHeaderMutation().GetRemoveHeaders() {
		m[h] = true
	}
	return m
}

const chatBody = `{"model":"gpt-4o","messages":[{"role":"system","content":"You are a clinical scribe."},{"role":"user","content":"Patient SSN 123-45-6789, summarise the visit."}],"user":"patient-42"}`

func TestAuthentication(t *testing.T) {
	e := start(t, testConfig(t, ""), nil, 0)
	tests := []struct {
		name       string
		path       string
		hdrs       []string
		wantStatus int
		wantBody   string
	}{
		{"missing key openai shape", "/v1/chat/completions", nil, 401, `"error":{"message":"no API key`},
		{"unknown key anthropic shape", "/v1/messages", []string{"x-api-key", "nope"}, 401, `"type":"error","error":{"type":"authentication_error"`},
		{"wrong bearer", "/v1/chat/completions", []string{"authorization", "Bearer nope"}, 401, `invalid API key`},
		{"unknown path on clinical", "/v1/embeddings", []string{"authorization", "Bearer " + testKey}, 404, `unknown_path`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := e.exchange(t, reqHeaders(tc.path, tc.hdrs...))
			ir := out[0].GetImmediateResponse()
			if ir == nil {
				t.Fatalf("want ImmediateResponse, got %T", out[0].Response)
			}
			if int(ir.GetStatus().GetCode()) != tc.wantStatus {
				t.Fatalf("status %d, want %d", ir.GetStatus().GetCode(), tc.wantStatus)
			}
			if !bytes.Contains(ir.Body, []byte(tc.wantBody)) {
				t.Fatalf("body %s lacks %s", ir.Body, tc.wantBody)
			}
			if !json.Valid(ir.Body) {
				t.Fatalf("body is not JSON: %s", ir.Body)
			}
			ix := e.rec.last(t)
			if ix.Outcome != "deny" {
				t.Fatalf("audited outcome %q", ix.Outcome)
			}
		})
	}
}

func TestKeyInjectionAndSpoofing(t *testing.T) {
	e := start(t, testConfig(t, ""), nil, 0)
	out := e.exchange(t, reqHeaders("/v1/chat/completions",
		"authorization", "Bearer "+testKey,
		"x-ward-team", "spoofed-team",
		"x-ward-profile", "passthrough",
	), reqBody([]byte(chatBody)))
	c := out[0].GetRequestHeaders().GetResponse()
	set, rm := setHeaders(c), removed(c)
	if set["authorization"] != "Bearer sk-real-openai" {
		t.Fatalf("provider key not injected: %q", set["authorization"])
	}
	if set["x-ward-team"] != "clinical-ai" || set["x-ward-app"] != "notes" || set["x-ward-provider"] != "openai" {
		t.Fatalf("identity headers wrong: %v", set)
	}
	if !rm["x-ward-team"] || !rm["x-ward-profile"] {
		t.Fatalf("client x-ward-* headers not removed: %v", rm)
	}
	if !c.GetClearRouteCache() {
		t.Fatal("route cache must be cleared after setting x-ward-provider")
	}
	if mo := out[0].GetModeOverride(); mo.GetRequestBodyMode() != filterv3.ProcessingMode_BUFFERED || mo.GetResponseBodyMode() != filterv3.ProcessingMode_BUFFERED {
		t.Fatalf("an inspecting profile must ask for buffered bodies: %v", mo)
	}
	md := out[0].GetDynamicMetadata().GetFields()["ward"].GetStructValue().GetFields()
	if md["team"].GetStringValue() != "clinical-ai" || md["provider"].GetStringValue() != "openai" {
		t.Fatalf("dynamic metadata: %v", md)
	}
	ix := e.rec.last(t)
	if ix.Caller.Team != "clinical-ai" || ix.ProfileName != "clinical" || ix.Request == nil || ix.Request.EndUser != "patient-42" {
		t.Fatalf("interaction: %+v", ix)
	}
}

func TestRequestDecisions(t *testing.T) {
	auth := []string{"authorization", "Bearer " + testKey}
	tests := []struct {
		name  string
		dec   fixedDecider
		body  string
		check func(t *testing.T, r *extprocv3.ProcessingResponse, ix *extproc.Interaction)
	}{
		{
			name: "deny uses provider error shape",
			dec:  fixedDecider{req: extproc.Decision{Allow: false, Status: 403, ReasonCode: "phi_blocked", ReasonMessage: "SSN may not be sent"}},
			body: chatBody,
			check: func(t *testing.T, r *extprocv3.ProcessingResponse, ix *extproc.Interaction) {
				ir := r.GetImmediateResponse()
				if ir == nil || ir.GetStatus().GetCode() != 403 || !bytes.Contains(ir.Body, []byte("SSN may not be sent")) {
					t.Fatalf("want 403 deny, got %v", r)
				}
				if ix.ReasonCode != "phi_blocked" || ix.Outcome != "deny" {
					t.Fatalf("audit: %s %s", ix.Outcome, ix.ReasonCode)
				}
			},
		},
		{
			name: "redact rewrites body and fixes content-length",
			dec:  fixedDecider{req: extproc.Decision{Allow: true, Redact: []extproc.RedactRule{{Type: "SSN", Mode: "mask"}}}},
			body: chatBody,
			check: func(t *testing.T, r *extprocv3.ProcessingResponse, ix *extproc.Interaction) {
				c := r.GetRequestBody().GetResponse()
				nb := c.GetBodyMutation().GetBody()
				if bytes.Contains(nb, []byte("6789")) || !bytes.Contains(nb, []byte("Patient SSN [SSN], summarise")) {
					t.Fatalf("body not redacted: %s", nb)
				}
				if !json.Valid(nb) {
					t.Fatalf("redacted body is not JSON: %s", nb)
				}
				if setHeaders(c)["content-length"] != strconv.Itoa(len(nb)) {
					t.Fatalf("content-length %q for %d bytes", setHeaders(c)["content-length"], len(nb))
				}
				if ix.Outcome != "redact" || len(ix.Redactions) != 1 || ix.Redactions[0].Count != 1 {
					t.Fatalf("audit: %s %+v", ix.Outcome, ix.Redactions)
				}
			},
		},
		{
			name: "route to another provider and model",
			dec:  fixedDecider{req: extproc.Decision{Allow: true, RouteProvider: "azure-openai", RouteModel: "gpt-4o-clinical"}},
			body: chatBody,
			check: func(t *testing.T, r *extprocv3.ProcessingResponse, ix *extproc.Interaction) {
				c := r.GetRequestBody().GetResponse()
				set := setHeaders(c)
				if set["x-ward-provider"] != "azure-openai" || set["api-key"] != "azure-real" || set["x-ward-model"] != "gpt-4o-clinical" {
					t.Fatalf("headers: %v", set)
				}
				if !removed(c)["authorization"] || !c.GetClearRouteCache() {
					t.Fatal("old credential must be removed and route recomputed")
				}
				if !bytes.Contains(c.GetBodyMutation().GetBody(), []byte(`"model":"gpt-4o-clinical"`)) {
					t.Fatalf("model not rewritten: %s", c.GetBodyMutation().GetBody())
				}
				if ix.ModelRequested != "gpt-4o" || ix.ModelRouted != "gpt-4o-clinical" || ix.ProviderName != "azure-openai" {
					t.Fatalf("audit: %+v", ix)
				}
			},
		},
		{
			name: "policy error fails closed on clinical",
			dec:  fixedDecider{err: fmt.Errorf("boom")},
			body: chatBody,
			check: func(t *testing.T, r *extprocv3.ProcessingResponse, ix *extproc.Interaction) {
				ir := r.GetImmediateResponse()
				if ir == nil || ir.GetStatus().GetCode() != 503 || ix.ReasonCode != "policy_error" {
					t.Fatalf("want 503 policy_error, got %v", r)
				}
			},
		},
		{
			name: "malformed JSON on clinical is a clear 400",
			dec:  fixedDecider{req: extproc.Decision{Allow: true}},
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"`,
			check: func(t *testing.T, r *extprocv3.ProcessingResponse, ix *extproc.Interaction) {
				ir := r.GetImmediateResponse()
				if ir == nil || ir.GetStatus().GetCode() != 400 || !bytes.Contains(ir.Body, []byte("not a valid chat_completions request")) {
					t.Fatalf("want 400, got %v", r)
				}
			},
		},
		{
			name: "body over the limit is 413",
			dec:  fixedDecider{req: extproc.Decision{Allow: true}},
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("a", 5000) + `"}]}`,
			check: func(t *testing.T, r *extprocv3.ProcessingResponse, ix *extproc.Interaction) {
				if r.GetImmediateResponse().GetStatus().GetCode() != 413 {
					t.Fatalf("want 413, got %v", r)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, testConfig(t, ""), tc.dec, 0)
			out := e.exchange(t, reqHeaders("/v1/chat/completions", auth...), reqBody([]byte(tc.body)))
			if len(out) != 2 {
				t.Fatalf("got %d responses", len(out))
			}
			tc.check(t, out[1], e.rec.last(t))
		})
	}
}

func TestPolicyErrorFailsOpenOnInternal(t *testing.T) {
	e := start(t, testConfig(t, ""), fixedDecider{err: fmt.Errorf("boom")}, 0)
	out := e.exchange(t, reqHeaders("/internal/v1/chat/completions", "authorization", "Bearer "+testKey), reqBody([]byte(chatBody)))
	// /internal/v1/chat/completions is not an LLM path Ward parses, so it
	// passes (audited as unparsed) on the fail-open internal profile.
	if out[len(out)-1].GetImmediateResponse() != nil {
		t.Fatalf("internal profile must not deny: %v", out)
	}
	if ix := e.rec.last(t); ix.Outcome != "unparsed" {
		t.Fatalf("outcome %q", ix.Outcome)
	}
}

func TestGzipRequestIsInspectedAndSentDecoded(t *testing.T) {
	dec := fixedDecider{req: extproc.Decision{Allow: true, Redact: []extproc.RedactRule{{Type: "*", Mode: "mask"}}}}
	e := start(t, testConfig(t, ""), dec, 0)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(chatBody))
	zw.Close()
	out := e.exchange(t, reqHeaders("/v1/chat/completions", "authorization", "Bearer "+testKey, "content-encoding", "gzip"), reqBody(buf.Bytes()))
	c := out[1].GetRequestBody().GetResponse()
	if !removed(c)["content-encoding"] {
		t.Fatal("content-encoding must be removed when Ward sends the decoded body")
	}
	if !bytes.Contains(c.GetBodyMutation().GetBody(), []byte("[SSN]")) {
		t.Fatalf("gzip body not inspected: %s", c.GetBodyMutation().GetBody())
	}

	// Truncated gzip: a clear 400 on a fail-closed profile.
	out = e.exchange(t, reqHeaders("/v1/chat/completions", "authorization", "Bearer "+testKey, "content-encoding", "gzip"), reqBody(buf.Bytes()[:buf.Len()/2]))
	if out[1].GetImmediateResponse().GetStatus().GetCode() != 400 {
		t.Fatalf("truncated gzip: %v", out[1])
	}
}

func TestResponsePhases(t *testing.T) {
	auth := []string{"authorization", "Bearer " + testKey}
	redact := fixedDecider{req: extproc.Decision{Allow: true}, resp: extproc.Decision{Allow: true, Redact: []extproc.RedactRule{{Type: "SSN", Mode: "mask"}}}}
	t.Run("buffered JSON response is redacted", func(t *testing.T) {
		e := start(t, testConfig(t, ""), redact, 0)
		resp := `{"id":"c1","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"The SSN on file is 123-45-6789."},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":9,"total_tokens":29}}`
		out := e.exchange(t, reqHeaders("/v1/chat/completions", auth...), reqBody([]byte(chatBody)),
			respHeaders(200, "content-type", "application/json", "content-length", strconv.Itoa(len(resp))),
			respBody([]byte(resp), true))
		if out[2].ModeOverride != nil {
			t.Fatal("JSON responses stay BUFFERED")
		}
		if setHeaders(out[2].GetResponseHeaders().GetResponse())["x-ward-event-id"] == "" {
			t.Fatal("event id not returned to the client")
		}
		c := out[3].GetResponseBody().GetResponse()
		nb := c.GetBodyMutation().GetBody()
		if !bytes.Contains(nb, []byte("The SSN on file is [SSN].")) || setHeaders(c)["content-length"] != strconv.Itoa(len(nb)) {
			t.Fatalf("response not redacted consistently: %s %v", nb, setHeaders(c))
		}
		ix := e.rec.last(t)
		if ix.Usage.InputTokens != 20 || ix.Usage.OutputTokens != 9 || ix.ResponseStatus != 200 {
			t.Fatalf("usage/status: %+v %d", ix.Usage, ix.ResponseStatus)
		}
	})
	t.Run("response_checks none skips the response decision", func(t *testing.T) {
		dec := fixedDecider{req: extproc.Decision{Allow: true, ResponseChecks: extproc.ResponseChecksNone},
			resp: extproc.Decision{Allow: false, ReasonCode: "would_deny"}}
		e := start(t, testConfig(t, ""), dec, 0)
		resp := `{"id":"c1","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"SSN 123-45-6789"}}]}`
		out := e.exchange(t, reqHeaders("/v1/chat/completions", auth...), reqBody([]byte(chatBody)),
			respHeaders(200, "content-type", "application/json"), respBody([]byte(resp), true))
		if out[3].GetImmediateResponse() != nil || out[3].GetResponseBody().GetResponse().GetBodyMutation() != nil {
			t.Fatalf("the policy said it needs no response checks: %v", out[3])
		}
		if ix := e.rec.last(t); ix.ResponseDecision != nil {
			t.Fatalf("response decided anyway: %+v", ix.ResponseDecision)
		}
	})
	t.Run("SSE response switches to STREAMED and is tapped", func(t *testing.T) {
		e := start(t, testConfig(t, ""), redact, 0)
		stream := "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n" +
			"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n" +
			"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n" +
			"data: [DONE]\n\n"
		msgs := []*extprocv3.ProcessingRequest{reqHeaders("/v1/chat/completions", auth...), reqBody([]byte(chatBody)),
			respHeaders(200, "content-type", "text/event-stream")}
		// Split the stream at awkward points, as Envoy's STREAMED chunks may.
		for i := 0; i < len(stream); i += 37 {
			end := min(i+37, len(stream))
			msgs = append(msgs, respBody([]byte(stream[i:end]), end == len(stream)))
		}
		out := e.exchange(t, msgs...)
		mo := out[2].GetModeOverride()
		if mo.GetResponseBodyMode() != filterv3.ProcessingMode_STREAMED {
			t.Fatalf("mode_override: %v", mo)
		}
		for _, r := range out[3:] {
			if r.GetResponseBody().GetResponse().GetBodyMutation() != nil {
				t.Fatal("streamed chunks pass unchanged")
			}
		}
		ix := e.rec.last(t)
		if !ix.Streamed || ix.Response == nil || ix.Response.Choices[0] != "Hello" || ix.Usage.OutputTokens != 2 {
			t.Fatalf("tap: %+v %+v", ix.Response, ix.Usage)
		}
	})
}

func TestPassthroughProfileSkipsBodies(t *testing.T) {
	e := start(t, testConfig(t, ""), fixedDecider{req: extproc.Decision{Allow: false}}, 0)
	h := reqHeaders("/healthz")
	h.GetRequestHeaders().EndOfStream = true
	out := e.exchange(t, h)
	r := out[0]
	if r.GetImmediateResponse() != nil {
		t.Fatal("health checks need no key and are not denied")
	}
	mo := r.GetModeOverride()
	if mo.GetRequestBodyMode() != filterv3.ProcessingMode_NONE || mo.GetResponseBodyMode() != filterv3.ProcessingMode_NONE {
		t.Fatalf("passthrough should turn body processing off: %v", mo)
	}
}

func TestIdleStreamIsClosed(t *testing.T) {
	e := start(t, testConfig(t, ""), nil, 100*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := e.client.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Open a stream and never send: Ward must end it, not hang.
	_, err = st.Recv()
	if err == nil || err == io.EOF {
		t.Fatalf("want idle timeout error, got %v", err)
	}
}

func TestEnvoyClosesMidStream(t *testing.T) {
	e := start(t, testConfig(t, ""), nil, 0)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := e.client.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(reqHeaders("/v1/chat/completions", "authorization", "Bearer "+testKey))
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel() // Envoy resets the stream before the body.
	ix := e.rec.last(t)
	if ix.Outcome == "" || ix.Caller.Team != "clinical-ai" {
		t.Fatalf("aborted exchange must still be audited: %+v", ix)
	}
}

func TestTraceContinuesEnvoysTrace(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	e := start(t, testConfig(t, ""), fixedDecider{req: extproc.Decision{Allow: true}, resp: extproc.Decision{Allow: true}}, 0,
		func(p *extproc.Pipeline) { p.Tracer = tp.Tracer("ward") })
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp := `{"id":"c1","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`
	e.exchange(t, reqHeaders("/v1/chat/completions", "authorization", "Bearer "+testKey, "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01"),
		reqBody([]byte(chatBody)), respHeaders(200, "content-type", "application/json"), respBody([]byte(resp), true))
	ix := e.rec.last(t)
	if ix.TraceID != traceID {
		t.Fatalf("trace id %q, want Envoy's %q", ix.TraceID, traceID)
	}
	var root sdktrace.ReadOnlySpan
	names := map[string]bool{}
	for _, s := range sr.Ended() {
		names[s.Name()] = true
		if s.Name() == "ward.interaction" {
			root = s
		}
	}
	if root == nil || !names["ward.detect"] || !names["ward.policy"] {
		t.Fatalf("spans: %v", names)
	}
	attrs := map[string]string{}
	for _, a := range root.Attributes() {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	for k, v := range map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
		"gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": "3", "gen_ai.usage.output_tokens": "1",
		"ward.team": "clinical-ai",
	} {
		if attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, attrs[k], v)
		}
	}
	for k, v := range attrs {
		if strings.Contains(v, "Patient SSN") {
			t.Fatalf("prompt text leaked into span attribute %s", k)
		}
	}
}
