package harness_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/wardhq/ward/test/fakellm"
	"github.com/wardhq/ward/test/harness"
)

// handler scripts the fake ext_proc server: it returns the responses to
// send for one request (none, one, or several) or an error that ends the
// stream (errCleanClose ends it with OK).
type handler func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error)

var errCleanClose = errors.New("close stream cleanly")

// sleepMarker in a handler's response list makes the server pause 600ms.
var sleepMarker = &extprocv3.ProcessingResponse{}

type fakeProc struct {
	extprocv3.UnimplementedExternalProcessorServer
	handle handler
	mu     sync.Mutex
	got    []*extprocv3.ProcessingRequest
}

func (f *fakeProc) Process(st extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := st.Recv()
		if err != nil {
			return nil
		}
		f.mu.Lock()
		f.got = append(f.got, req)
		f.mu.Unlock()
		resps, err := f.handle(req)
		if errors.Is(err, errCleanClose) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, r := range resps {
			if r == sleepMarker {
				time.Sleep(600 * time.Millisecond)
				continue
			}
			if err := st.Send(r); err != nil {
				return err
			}
		}
	}
}

// startProc serves a fake processor on lis ("" = loopback TCP).
func startProc(t *testing.T, h handler, unixPath string) (*fakeProc, string) {
	t.Helper()
	network, addr := "tcp", "127.0.0.1:0"
	if unixPath != "" {
		network, addr = "unix", unixPath
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	fp := &fakeProc{handle: h}
	extprocv3.RegisterExternalProcessorServer(srv, fp)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	if unixPath != "" {
		return fp, "unix://" + unixPath
	}
	return fp, ln.Addr().String()
}

type env struct {
	proc *fakeProc
	llm  *fakellm.Server
	gw   *harness.Gateway
	url  string
}

// setup starts processor, fake LLM and gateway. Routes default to
// everything → fake LLM.
func setup(t *testing.T, cfg harness.Config, h handler) *env {
	t.Helper()
	fp, addr := startProc(t, h, "")
	llm := fakellm.New()
	up := httptest.NewServer(llm)
	t.Cleanup(up.Close)
	if cfg.ProcessorAddr == "" {
		cfg.ProcessorAddr = addr
	}
	if cfg.MessageTimeout == 0 {
		// Generous, so a loaded CI machine never turns a success path into
		// a 504; timeout tests set their own.
		cfg.MessageTimeout = 5 * time.Second
	}
	if cfg.Routes == nil {
		cfg.Routes = []harness.Route{{Name: "default", PathPrefix: "/", Upstream: up.URL}}
	}
	for i := range cfg.Routes {
		if cfg.Routes[i].Upstream == "LLM" {
			cfg.Routes[i].Upstream = up.URL
		}
	}
	gw, err := harness.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, err := gw.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	return &env{proc: fp, llm: llm, gw: gw, url: url}
}

func (e *env) post(t *testing.T, path, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// phase names the request oneof.
func phase(req *extprocv3.ProcessingRequest) string {
	switch req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return "request_headers"
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return "response_headers"
	case *extprocv3.ProcessingRequest_RequestBody:
		return "request_body"
	case *extprocv3.ProcessingRequest_ResponseBody:
		return "response_body"
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return "request_trailers"
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return "response_trailers"
	}
	return "?"
}

// reply builds the matching response kind carrying cr (nil: plain
// CONTINUE).
func reply(req *extprocv3.ProcessingRequest, cr *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	switch phase(req) {
	case "request_headers":
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{Response: cr}}}
	case "response_headers":
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{Response: cr}}}
	case "request_body":
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{Response: cr}}}
	case "response_body":
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{Response: cr}}}
	case "request_trailers":
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{HeaderMutation: cr.GetHeaderMutation()}}}
	default:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{HeaderMutation: cr.GetHeaderMutation()}}}
	}
}

func continueAll(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
	return []*extprocv3.ProcessingResponse{reply(req, nil)}, nil
}

func set(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, RawValue: []byte(v)}}
}

func bodyMut(b string) *extprocv3.BodyMutation {
	return &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: []byte(b)}}
}

const chatBody = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`

func TestPhasesFollowProcessingMode(t *testing.T) {
	tests := []struct {
		name string
		mode *harness.ProcessingMode
		want []string
	}{
		{"defaults: headers only", nil, []string{">request_headers", "<request_headers", ">response_headers", "<response_headers"}},
		{"buffered bodies", &harness.ProcessingMode{RequestBodyMode: harness.BodyBuffered, ResponseBodyMode: harness.BodyBuffered},
			[]string{">request_headers", "<request_headers", ">request_body", "<request_body", ">response_headers", "<response_headers", ">response_body", "<response_body"}},
		{"skip headers, buffered request body", &harness.ProcessingMode{RequestHeaderMode: harness.Skip, ResponseHeaderMode: harness.Skip, RequestBodyMode: harness.BodyBuffered},
			[]string{">request_body", "<request_body"}},
		{"everything skipped", &harness.ProcessingMode{RequestHeaderMode: harness.Skip, ResponseHeaderMode: harness.Skip}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, harness.Config{Mode: tt.mode}, continueAll)
			resp, body := e.post(t, "/v1/chat/completions", chatBody)
			if resp.StatusCode != 200 || !strings.Contains(body, fakellm.DefaultText) {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			tr := e.gw.LastTrace()
			if got := tr.Phases(); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("phases = %v, want %v\n%s", got, tt.want, tr)
			}
			if len(tr.Messages) > 0 && tr.Messages[0].Request.GetProtocolConfig() == nil {
				t.Error("first message lacks protocol_config")
			}
			for _, m := range tr.Messages[min(1, len(tr.Messages)):] {
				if m.Request != nil && m.Request.GetProtocolConfig() != nil {
					t.Error("protocol_config sent after the first message")
				}
			}
		})
	}
}

func TestRequestHeadersCarryPseudoHeadersAndEndOfStream(t *testing.T) {
	e := setup(t, harness.Config{RequestAttributes: []string{"request.path", "request.method"}}, continueAll)
	e.post(t, "/v1/chat/completions?x=1", chatBody, "X-Custom", "A")
	rh := e.gw.LastTrace().Messages[0].Request.GetRequestHeaders()
	got := map[string]string{}
	for _, h := range rh.GetHeaders().GetHeaders() {
		if h.GetValue() != "" {
			t.Errorf("header %q uses value, want raw_value", h.GetKey())
		}
		got[h.GetKey()] = string(h.GetRawValue())
	}
	for k, v := range map[string]string{":method": "POST", ":path": "/v1/chat/completions?x=1", ":scheme": "http", "x-custom": "A", "content-length": strconv.Itoa(len(chatBody))} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if got[":authority"] == "" || got["x-request-id"] == "" {
		t.Errorf("missing :authority or x-request-id: %v", got)
	}
	if rh.GetEndOfStream() {
		t.Error("end_of_stream true for a request with a body")
	}
	attrs := e.gw.LastTrace().Messages[0].Request.GetAttributes()["envoy.filters.http.ext_proc"].GetFields()
	if attrs["request.path"].GetStringValue() != "/v1/chat/completions?x=1" || attrs["request.method"].GetStringValue() != "POST" {
		t.Errorf("attributes = %v", attrs)
	}
}

func TestProtocolErrors(t *testing.T) {
	wrongKind := func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		if phase(req) == "request_headers" {
			// A response_headers answer to request_headers is spurious.
			return []*extprocv3.ProcessingResponse{{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}}, nil
		}
		return continueAll(req)
	}
	twoReplies := func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		r := reply(req, nil)
		return []*extprocv3.ProcessingResponse{r, r}, nil
	}
	grpcErr := func(*extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		return nil, status.Error(codes.Internal, "boom")
	}
	slow := func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		time.Sleep(600 * time.Millisecond)
		return continueAll(req)
	}
	empty := func(*extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		// No response oneof at all (standalone mode_override is only for
		// FULL_DUPLEX_STREAMED): spurious.
		return []*extprocv3.ProcessingResponse{{}}, nil
	}
	tests := []struct {
		name      string
		h         handler
		failOpen  bool
		status    int
		upstreams int
		timeout   time.Duration
	}{
		{"wrong kind closed", wrongKind, false, 500, 0, 0},
		{"wrong kind open", wrongKind, true, 200, 1, 0},
		{"empty response closed", empty, false, 500, 0, 0},
		// The extra response is noticed while the upstream call is under way
		// (as in Envoy), so only the local reply is asserted.
		{"extra response closed", twoReplies, false, 500, -1, 0},
		{"grpc error closed", grpcErr, false, 500, 0, 0},
		{"grpc error open", grpcErr, true, 200, 1, 0},
		{"timeout closed", slow, false, 504, 0, 100 * time.Millisecond},
		{"timeout open", slow, true, 200, 1, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, harness.Config{FailureModeAllow: tt.failOpen, MessageTimeout: tt.timeout}, tt.h)
			resp, body := e.post(t, "/v1/chat/completions", chatBody)
			tr := e.gw.LastTrace()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d (%q), want %d\n%s", resp.StatusCode, body, tt.status, tr)
			}
			if n := len(e.llm.Requests()); tt.upstreams >= 0 && n != tt.upstreams {
				t.Fatalf("upstream calls = %d, want %d", n, tt.upstreams)
			}
			if tr.StreamClosed == "" {
				t.Error("StreamClosed not recorded")
			}
		})
	}
}

func TestCleanCloseProceedsWithoutProcessor(t *testing.T) {
	e := setup(t, harness.Config{}, func(*extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		return nil, errCleanClose
	})
	resp, _ := e.post(t, "/v1/chat/completions", chatBody)
	tr := e.gw.LastTrace()
	if resp.StatusCode != 200 || tr.StreamClosed != "eof" || len(e.llm.Requests()) != 1 {
		t.Fatalf("status %d, closed %q, upstream %d", resp.StatusCode, tr.StreamClosed, len(e.llm.Requests()))
	}
	if got := tr.Phases(); len(got) != 1 {
		t.Errorf("phases after clean close = %v, want only the first request", got)
	}
}

func TestImmediateResponseIsLocalReply(t *testing.T) {
	e := setup(t, harness.Config{ReceivingNamespaces: []string{"ward"}}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		md, _ := structpb.NewStruct(map[string]any{"ward": map[string]any{"decision": "deny"}})
		return []*extprocv3.ProcessingResponse{{
			DynamicMetadata: md,
			Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
				Headers: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{set("content-type", "application/json"), set("x-ward-decision", "deny")}},
				Body:    []byte(`{"error":{"message":"invalid key"}}`),
				Details: "unauthenticated",
			}}}}, nil
	})
	resp, body := e.post(t, "/v1/chat/completions", chatBody)
	if resp.StatusCode != 401 || body != `{"error":{"message":"invalid key"}}` {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Ward-Decision") != "deny" {
		t.Errorf("headers = %v", resp.Header)
	}
	if n := len(e.llm.Requests()); n != 0 {
		t.Errorf("upstream called %d times", n)
	}
	tr := e.gw.LastTrace()
	if tr.UpstreamRequest != nil || !strings.Contains(tr.LocalReply, "unauthenticated") {
		t.Errorf("trace: upstream %v, local reply %q", tr.UpstreamRequest, tr.LocalReply)
	}
	if tr.DynamicMetadata["ward"].GetFields()["decision"].GetStringValue() != "deny" {
		t.Errorf("metadata = %v", tr.DynamicMetadata)
	}
}

func TestImmediateResponseDisabledIsSpurious(t *testing.T) {
	e := setup(t, harness.Config{DisableImmediateResponse: true}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		return []*extprocv3.ProcessingResponse{{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden}}}}}, nil
	})
	if resp, _ := e.post(t, "/v1/chat/completions", chatBody); resp.StatusCode != 500 {
		t.Fatalf("status = %d, want 500", resp.StatusCode)
	}
}

func TestHeaderMutationRules(t *testing.T) {
	tests := []struct {
		name     string
		rules    *mutationv3.HeaderMutationRules
		mut      *extprocv3.HeaderMutation
		status   int
		want     map[string]string // header → value upstream ("<none>": absent)
		rejected int
	}{
		{name: "set overwrites by default", mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{set("x-custom", "B")}},
			status: 200, want: map[string]string{"X-Custom": "B"}},
		{name: "append=true adds a value", mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-custom", RawValue: []byte("B")}, Append: wrapperspb.Bool(true)}}},
			status: 200, want: map[string]string{"X-Custom": "A,B"}},
		{name: "ADD_IF_ABSENT keeps existing", mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-custom", RawValue: []byte("B")}, AppendAction: corev3.HeaderValueOption_ADD_IF_ABSENT}}},
			status: 200, want: map[string]string{"X-Custom": "A"}},
		{name: "OVERWRITE_IF_EXISTS skips absent", mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-new", RawValue: []byte("B")}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS}}},
			status: 200, want: map[string]string{"X-New": "<none>"}},
		{name: "remove", mut: &extprocv3.HeaderMutation{RemoveHeaders: []string{"X-Custom"}},
			status: 200, want: map[string]string{"X-Custom": "<none>"}},
		{name: "value without raw_value sets empty", mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-custom", Value: "B"}}}},
			status: 200, want: map[string]string{"X-Custom": ""}},
		{name: "value and raw_value is an error", mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-custom", Value: "B", RawValue: []byte("B")}}}},
			status: 500},
		{name: "system and envoy headers ignored", mut: &extprocv3.HeaderMutation{
			SetHeaders:    []*corev3.HeaderValueOption{set("host", "evil"), set(":authority", "evil"), set(":method", "GET"), set(":scheme", "https"), set("x-envoy-retry-on", "5xx")},
			RemoveHeaders: []string{":path", "host"}},
			status: 200, want: map[string]string{"X-Envoy-Retry-On": "<none>"}, rejected: 7},
		{name: ":path may be changed", mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{set(":path", "/v1/messages")}},
			status: 200},
		{name: "disallow_is_error", rules: &mutationv3.HeaderMutationRules{DisallowIsError: wrapperspb.Bool(true)},
			mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{set("x-envoy-foo", "1")}}, status: 500, rejected: 1},
		{name: "allow_envoy", rules: &mutationv3.HeaderMutationRules{AllowEnvoy: wrapperspb.Bool(true)},
			mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{set("x-envoy-foo", "1")}}, status: 200, want: map[string]string{"X-Envoy-Foo": "1"}},
		{name: "disallow_all", rules: &mutationv3.HeaderMutationRules{DisallowAll: wrapperspb.Bool(true)},
			mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{set("x-custom", "B")}}, status: 200, want: map[string]string{"X-Custom": "A"}, rejected: 1},
		{name: "invalid header name", mut: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{set("bad header", "1")}}, status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, harness.Config{MutationRules: tt.rules}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
				if phase(req) == "request_headers" {
					return []*extprocv3.ProcessingResponse{reply(req, &extprocv3.CommonResponse{HeaderMutation: tt.mut})}, nil
				}
				return continueAll(req)
			})
			resp, body := e.post(t, "/v1/chat/completions", chatBody, "X-Custom", "A")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tt.status)
			}
			tr := e.gw.LastTrace()
			if tr.RejectedMutations != tt.rejected {
				t.Errorf("rejected = %d, want %d", tr.RejectedMutations, tt.rejected)
			}
			if tt.status != 200 {
				if len(e.llm.Requests()) != 0 {
					t.Error("upstream called after a rejected mutation")
				}
				return
			}
			up := e.llm.Requests()[0]
			for k, v := range tt.want {
				got, ok := up.Header[k]
				if v == "<none>" {
					if ok {
						t.Errorf("%s present: %q", k, got)
					}
					continue
				}
				if strings.Join(got, ",") != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tt.name == "system and envoy headers ignored" && (up.Method != "POST" || !strings.HasPrefix(tr.UpstreamRequest.Header.Get("Host"), "127.0.0.1")) {
				t.Errorf("routing header changed: %s host %s", up.Method, tr.UpstreamRequest.Header.Get("Host"))
			}
			if tt.name == ":path may be changed" && up.Path != "/v1/messages" {
				t.Errorf("path = %s", up.Path)
			}
		})
	}
}

func TestBufferedBodyMutationAndContentLength(t *testing.T) {
	newBody := `{"model":"gpt-4o","messages":[{"role":"user","content":"[REDACTED]"}]}`
	tests := []struct {
		name   string
		hdrMut *extprocv3.HeaderMutation // on the request-headers response
		bodyCR *extprocv3.CommonResponse // on the request-body response
		status int
		want   string
	}{
		{"mutation without fixing content-length fails", nil, &extprocv3.CommonResponse{BodyMutation: bodyMut(newBody)}, 500, ""},
		{"content-length fixed in the body response", nil, &extprocv3.CommonResponse{
			HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{set("content-length", strconv.Itoa(len(newBody)))}},
			BodyMutation:   bodyMut(newBody)}, 200, newBody},
		{"content-length removed in the headers response", &extprocv3.HeaderMutation{RemoveHeaders: []string{"content-length"}},
			&extprocv3.CommonResponse{BodyMutation: bodyMut(newBody)}, 200, newBody},
		{"same-length mutation", nil, &extprocv3.CommonResponse{BodyMutation: bodyMut(strings.Replace(chatBody, "hi", "yo", 1))}, 200, strings.Replace(chatBody, "hi", "yo", 1)},
		{"clear_body needs content-length 0", nil, &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}}}, 500, ""},
		{"no mutation", nil, nil, 200, chatBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, harness.Config{FailureModeAllow: true, Mode: &harness.ProcessingMode{RequestBodyMode: harness.BodyBuffered}},
				func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
					switch phase(req) {
					case "request_headers":
						return []*extprocv3.ProcessingResponse{reply(req, &extprocv3.CommonResponse{HeaderMutation: tt.hdrMut})}, nil
					case "request_body":
						return []*extprocv3.ProcessingResponse{reply(req, tt.bodyCR)}, nil
					}
					return continueAll(req)
				})
			resp, body := e.post(t, "/v1/chat/completions", chatBody)
			// A rejected mutation is a local reply even with
			// failure_mode_allow.
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%q), want %d\n%s", resp.StatusCode, body, tt.status, e.gw.LastTrace())
			}
			if tt.status != 200 {
				if !strings.Contains(e.gw.LastTrace().LocalReply, "content length") {
					t.Errorf("local reply = %q", e.gw.LastTrace().LocalReply)
				}
				return
			}
			up := e.llm.Requests()[0]
			if string(up.Body) != tt.want {
				t.Errorf("upstream body = %s", up.Body)
			}
		})
	}
}

func TestContinueAndReplaceFromHeaders(t *testing.T) {
	e := setup(t, harness.Config{Mode: &harness.ProcessingMode{RequestBodyMode: harness.BodyBuffered}}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		if phase(req) == "request_headers" {
			return []*extprocv3.ProcessingResponse{reply(req, &extprocv3.CommonResponse{
				Status:         extprocv3.CommonResponse_CONTINUE_AND_REPLACE,
				HeaderMutation: &extprocv3.HeaderMutation{RemoveHeaders: []string{"content-length"}},
				BodyMutation:   bodyMut(`{"model":"replaced"}`)})}, nil
		}
		return continueAll(req)
	})
	resp, _ := e.post(t, "/v1/chat/completions", chatBody)
	if resp.StatusCode != 200 || string(e.llm.Requests()[0].Body) != `{"model":"replaced"}` {
		t.Fatalf("status %d, upstream body %s", resp.StatusCode, e.llm.Requests()[0].Body)
	}
	for _, p := range e.gw.LastTrace().Phases() {
		if p == ">request_body" {
			t.Error("request_body sent after CONTINUE_AND_REPLACE")
		}
	}
}

func TestBufferedBodyTooLarge(t *testing.T) {
	e := setup(t, harness.Config{MaxBufferBytes: 16, Mode: &harness.ProcessingMode{RequestBodyMode: harness.BodyBuffered}}, continueAll)
	resp, _ := e.post(t, "/v1/chat/completions", chatBody)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || len(e.llm.Requests()) != 0 {
		t.Fatalf("status %d, upstream %d", resp.StatusCode, len(e.llm.Requests()))
	}
}

func TestBufferedPartialSendsUpToLimit(t *testing.T) {
	e := setup(t, harness.Config{MaxBufferBytes: 10, Mode: &harness.ProcessingMode{RequestBodyMode: harness.BodyBufferedPartial}}, continueAll)
	resp, _ := e.post(t, "/v1/chat/completions", chatBody)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rb := e.gw.LastTrace().Messages[2].Request.GetRequestBody()
	if string(rb.GetBody()) != chatBody[:10] || rb.GetEndOfStream() {
		t.Fatalf("partial body = %q eos=%v", rb.GetBody(), rb.GetEndOfStream())
	}
	if string(e.llm.Requests()[0].Body) != chatBody {
		t.Errorf("upstream body = %s", e.llm.Requests()[0].Body)
	}
	if _, ok := e.gw.LastTrace().UpstreamRequest.Header["Content-Length"]; ok {
		t.Error("content-length kept in BUFFERED_PARTIAL")
	}
}

// upperSSE uppercases every streamed response chunk, so the client sees
// exactly which bytes went through the processor.
func upperChunks(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
	if rb := req.GetResponseBody(); rb != nil {
		return []*extprocv3.ProcessingResponse{reply(req, &extprocv3.CommonResponse{BodyMutation: bodyMut(strings.ToUpper(string(rb.GetBody())))})}, nil
	}
	if req.GetResponseHeaders() != nil {
		r := reply(req, nil)
		r.ModeOverride = &harness.ProcessingMode{ResponseBodyMode: harness.BodyStreamed}
		return []*extprocv3.ProcessingResponse{r}, nil
	}
	return continueAll(req)
}

func TestModeOverrideToStreamed(t *testing.T) {
	stream := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	for _, allow := range []bool{true, false} {
		t.Run("allow="+strconv.FormatBool(allow), func(t *testing.T) {
			e := setup(t, harness.Config{AllowModeOverride: allow}, upperChunks)
			e.llm.Enqueue(fakellm.Script{Text: "one two three"})
			resp, body := e.post(t, "/v1/chat/completions", stream)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			tr := e.gw.LastTrace()
			var chunks int
			for _, m := range tr.Messages {
				if m.Request.GetResponseBody() != nil {
					chunks++
				}
			}
			if allow {
				if chunks < 2 || body != strings.ToUpper(string(tr.UpstreamResponse.Body)) {
					t.Fatalf("chunks=%d body=%q", chunks, body)
				}
				if resp.Header.Get("Content-Length") != "" {
					t.Error("content-length kept in STREAMED mode")
				}
			} else if chunks != 0 || body != string(tr.UpstreamResponse.Body) {
				t.Fatalf("override honoured without allow_mode_override: chunks=%d", chunks)
			}
		})
	}
}

func TestAllowedOverrideModes(t *testing.T) {
	e := setup(t, harness.Config{AllowModeOverride: true, AllowedOverrideModes: []*harness.ProcessingMode{{ResponseBodyMode: harness.BodyBuffered}}}, upperChunks)
	e.post(t, "/v1/chat/completions", chatBody)
	for _, m := range e.gw.LastTrace().Messages {
		if m.Request.GetResponseBody() != nil {
			t.Fatal("STREAMED override applied though not in allowed_override_modes")
		}
	}
}

func TestStreamedChunksSplitAtEveryByte(t *testing.T) {
	e := setup(t, harness.Config{AllowModeOverride: true, ResponseChunkSize: 1}, upperChunks)
	e.llm.Enqueue(fakellm.Script{Text: "ab", Chunks: []int{1}})
	resp, body := e.post(t, "/v1/messages", `{"model":"claude","stream":true,"max_tokens":5,"messages":[]}`)
	tr := e.gw.LastTrace()
	var n int
	var last *extprocv3.HttpBody
	for _, m := range tr.Messages {
		if rb := m.Request.GetResponseBody(); rb != nil {
			n++
			last = rb
			if len(rb.GetBody()) > 1 {
				t.Fatalf("chunk of %d bytes", len(rb.GetBody()))
			}
		}
	}
	if resp.StatusCode != 200 || n != len(tr.UpstreamResponse.Body)+1 || !last.GetEndOfStream() || len(last.GetBody()) != 0 {
		t.Fatalf("status %d, %d chunks for %d bytes, last=%v", resp.StatusCode, n, len(tr.UpstreamResponse.Body), last)
	}
	if body != strings.ToUpper(string(tr.UpstreamResponse.Body)) {
		t.Fatalf("client body not mutated chunk by chunk:\n%s", body)
	}
}

func TestStreamedChunksSplitAtOffsets(t *testing.T) {
	var mu sync.Mutex
	var got []string
	e := setup(t, harness.Config{AllowModeOverride: true, ResponseSplits: []int{5, 9}}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		if rb := req.GetResponseBody(); rb != nil {
			mu.Lock()
			got = append(got, string(rb.GetBody()))
			mu.Unlock()
		}
		return upperChunks(req)
	})
	e.llm.Enqueue(fakellm.Script{Text: "hello"})
	e.post(t, "/v1/chat/completions", `{"model":"m","stream":true,"messages":[]}`)
	up := string(e.gw.LastTrace().UpstreamResponse.Body)
	if len(got) < 3 || got[0] != up[:5] || got[1] != up[5:9] {
		t.Fatalf("chunks %q", got)
	}
}

func TestStreamedImmediateResponseResetsStream(t *testing.T) {
	e := setup(t, harness.Config{AllowModeOverride: true}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		if req.GetResponseBody() != nil {
			return []*extprocv3.ProcessingResponse{{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
				Status: &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden}}}}}, nil
		}
		return upperChunks(req)
	})
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true,"messages":[]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || rerr == nil {
		t.Fatalf("status %d, read error %v: want headers then a reset", resp.StatusCode, rerr)
	}
	if !e.gw.LastTrace().Reset {
		t.Error("trace does not record the reset")
	}
}

func TestBufferedResponseMutation(t *testing.T) {
	e := setup(t, harness.Config{Mode: &harness.ProcessingMode{ResponseBodyMode: harness.BodyBuffered}}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		if req.GetResponseBody() != nil {
			nb := `{"redacted":true}`
			return []*extprocv3.ProcessingResponse{reply(req, &extprocv3.CommonResponse{
				HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{set("content-length", strconv.Itoa(len(nb)))}},
				BodyMutation:   bodyMut(nb)})}, nil
		}
		return continueAll(req)
	})
	resp, body := e.post(t, "/v1/chat/completions", chatBody)
	if resp.StatusCode != 200 || body != `{"redacted":true}` || resp.Header.Get("Content-Length") != "17" {
		t.Fatalf("got %d %q cl=%q", resp.StatusCode, body, resp.Header.Get("Content-Length"))
	}
}

func TestClearRouteCacheRoutesOnWardProvider(t *testing.T) {
	anthropic := fakellm.New()
	anthropicSrv := httptest.NewServer(anthropic)
	t.Cleanup(anthropicSrv.Close)
	routes := func() []harness.Route {
		return []harness.Route{
			{Name: "anthropic", PathPrefix: "/", Headers: []harness.HeaderMatch{{Name: "x-ward-provider", Value: "anthropic"}}, Upstream: anthropicSrv.URL},
			{Name: "openai", PathPrefix: "/", Upstream: "LLM"},
		}
	}
	tests := []struct {
		name   string
		clear  bool
		action filterv3.ExternalProcessor_RouteCacheAction
		want   string
	}{
		{"clear_route_cache set", true, filterv3.ExternalProcessor_DEFAULT, "anthropic"},
		{"clear_route_cache unset: cached route", false, filterv3.ExternalProcessor_DEFAULT, "openai"},
		{"RETAIN ignores the bit", true, filterv3.ExternalProcessor_RETAIN, "openai"},
		{"CLEAR ignores a missing bit", false, filterv3.ExternalProcessor_CLEAR, "anthropic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			anthropic.Reset()
			e := setup(t, harness.Config{Routes: routes(), RouteCacheAction: tt.action}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
				if phase(req) == "request_headers" {
					return []*extprocv3.ProcessingResponse{reply(req, &extprocv3.CommonResponse{
						ClearRouteCache: tt.clear,
						HeaderMutation:  &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{set("x-ward-provider", "anthropic")}}})}, nil
				}
				return continueAll(req)
			})
			resp, _ := e.post(t, "/v1/messages", `{"model":"claude","max_tokens":5,"messages":[]}`)
			if resp.StatusCode != 200 || e.gw.LastTrace().Route != tt.want {
				t.Fatalf("status %d route %q, want %q", resp.StatusCode, e.gw.LastTrace().Route, tt.want)
			}
			if got := len(anthropic.Requests()) == 1; got != (tt.want == "anthropic") {
				t.Errorf("anthropic upstream requests = %d", len(anthropic.Requests()))
			}
		})
	}
}

func TestNoRouteIs404(t *testing.T) {
	e := setup(t, harness.Config{Routes: []harness.Route{{Name: "only", PathPrefix: "/v1/messages", Upstream: "LLM"}}}, continueAll)
	if resp, _ := e.post(t, "/other", "{}"); resp.StatusCode != 404 || e.gw.LastTrace().LocalReply != "route_not_found" {
		t.Fatalf("status %d, local reply %q", resp.StatusCode, e.gw.LastTrace().LocalReply)
	}
}

func TestPerRouteOverrides(t *testing.T) {
	routes := []harness.Route{
		{Name: "off", PathPrefix: "/health", Upstream: "LLM", ExtProc: &filterv3.ExtProcPerRoute{Override: &filterv3.ExtProcPerRoute_Disabled{Disabled: true}}},
		{Name: "buffered", PathPrefix: "/", Upstream: "LLM", ExtProc: &filterv3.ExtProcPerRoute{Override: &filterv3.ExtProcPerRoute_Overrides{Overrides: &filterv3.ExtProcOverrides{
			ProcessingMode: &harness.ProcessingMode{RequestBodyMode: harness.BodyBuffered, ResponseHeaderMode: harness.Skip}}}}},
	}
	e := setup(t, harness.Config{Routes: routes}, continueAll)
	e.post(t, "/health", "{}")
	if n := len(e.gw.LastTrace().Messages); n != 0 {
		t.Errorf("disabled route exchanged %d messages", n)
	}
	e.post(t, "/v1/chat/completions", chatBody)
	if got := strings.Join(e.gw.LastTrace().Phases(), ","); got != ">request_headers,<request_headers,>request_body,<request_body" {
		t.Errorf("override phases = %s", got)
	}
}

func TestDynamicMetadataReceivingNamespaces(t *testing.T) {
	e := setup(t, harness.Config{ReceivingNamespaces: []string{"ward"}}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		r := reply(req, nil)
		r.DynamicMetadata, _ = structpb.NewStruct(map[string]any{
			"ward":  map[string]any{phase(req): true},
			"other": map[string]any{"x": 1},
		})
		return []*extprocv3.ProcessingResponse{r}, nil
	})
	e.post(t, "/v1/chat/completions", chatBody)
	md := e.gw.LastTrace().DynamicMetadata
	if _, ok := md["other"]; ok {
		t.Error("namespace outside receiving_namespaces accepted")
	}
	f := md["ward"].GetFields()
	if !f["request_headers"].GetBoolValue() || !f["response_headers"].GetBoolValue() {
		t.Errorf("ward metadata not merged: %v", md["ward"])
	}
}

func TestOverrideMessageTimeout(t *testing.T) {
	for _, max := range []time.Duration{5 * time.Second, 0} {
		t.Run("max="+max.String(), func(t *testing.T) {
			e := setup(t, harness.Config{MessageTimeout: 300 * time.Millisecond, MaxMessageTimeout: max}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
				if phase(req) == "request_headers" {
					ext := &extprocv3.ProcessingResponse{OverrideMessageTimeout: durationpb.New(3 * time.Second)}
					return []*extprocv3.ProcessingResponse{ext, sleepMarker, reply(req, nil)}, nil
				}
				return continueAll(req)
			})
			resp, _ := e.post(t, "/v1/chat/completions", chatBody)
			want := 200
			if max == 0 {
				want = 504 // override_message_timeout disabled: the 300ms timer fires
			}
			if resp.StatusCode != want {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, want, e.gw.LastTrace())
			}
		})
	}
}

func TestUnixSocket(t *testing.T) {
	dir := t.TempDir()
	_, addr := startProc(t, continueAll, filepath.Join(dir, "p.sock"))
	llm := fakellm.New()
	up := httptest.NewServer(llm)
	defer up.Close()
	gw, err := harness.New(harness.Config{ProcessorAddr: addr, Routes: []harness.Route{{Name: "r", PathPrefix: "/", Upstream: up.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(chatBody)))
	if rec.Code != 200 || len(gw.LastTrace().Messages) != 4 {
		t.Fatalf("status %d, %d messages", rec.Code, len(gw.LastTrace().Messages))
	}
}

func TestNewReportsEveryError(t *testing.T) {
	_, err := harness.New(harness.Config{
		Routes:        []harness.Route{{Name: "a"}, {Name: "b", Upstream: "ftp://x"}},
		Mode:          &harness.ProcessingMode{RequestBodyMode: filterv3.ProcessingMode_FULL_DUPLEX_STREAMED},
		MutationRules: &mutationv3.HeaderMutationRules{AllowExpression: nil},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"processor_addr", "routes[0].upstream", "routes[1].upstream", "mode.request_body_mode"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestTraceStringForDemo(t *testing.T) {
	e := setup(t, harness.Config{}, continueAll)
	e.post(t, "/v1/chat/completions", chatBody)
	s := e.gw.LastTrace().String()
	for _, want := range []string{"client -> POST /v1/chat/completions", "envoy -> ext_proc request_headers", "upstream <- POST", "client <- 200"} {
		if !strings.Contains(s, want) {
			t.Errorf("trace lacks %q:\n%s", want, s)
		}
	}
	if !bytes.Contains(e.gw.LastTrace().UpstreamRequest.Body, []byte("gpt-4o")) {
		t.Error("upstream body not recorded")
	}
}

func TestFromFilterConfig(t *testing.T) {
	// What an envoy.yaml loader hands over for Ward's documented filter.
	const wardFilter = `{
	  "grpc_service": {"envoy_grpc": {"cluster_name": "ward"}, "timeout": "1s"},
	  "processing_mode": {"request_header_mode": "SEND", "response_header_mode": "SEND",
	    "request_body_mode": "BUFFERED", "response_body_mode": "BUFFERED",
	    "request_trailer_mode": "SKIP", "response_trailer_mode": "SKIP"},
	  "allow_mode_override": true,
	  "message_timeout": "0.5s",
	  "max_message_timeout": "2s",
	  "route_cache_action": "CLEAR",
	  "request_attributes": ["request.path"],
	  "metadata_options": {"receiving_namespaces": {"untyped": ["ward"]}},
	  "mutation_rules": {"disallow_is_error": true},
	  "status_on_error": {"code": 503}
	}`
	var pb filterv3.ExternalProcessor
	if err := protojson.Unmarshal([]byte(wardFilter), &pb); err != nil {
		t.Fatal(err)
	}
	c, err := harness.FromFilterConfig(&pb)
	if err != nil {
		t.Fatal(err)
	}
	if c.ProcessorCluster != "ward" || !c.AllowModeOverride || c.MessageTimeout != 500*time.Millisecond ||
		c.MaxMessageTimeout != 2*time.Second || c.RouteCacheAction != filterv3.ExternalProcessor_CLEAR ||
		c.Mode.GetResponseBodyMode() != harness.BodyBuffered || c.StatusOnError != 503 ||
		len(c.ReceivingNamespaces) != 1 || !c.MutationRules.GetDisallowIsError().GetValue() || c.RequestAttributes[0] != "request.path" {
		t.Fatalf("config = %+v", c)
	}

	// The converted config drives a real exchange: the caller resolves the
	// cluster and adds routes.
	e := setup(t, c, continueAll)
	if resp, _ := e.post(t, "/v1/chat/completions", chatBody); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := len(e.gw.LastTrace().Messages); got != 8 {
		t.Errorf("%d messages, want 8 (headers and buffered bodies both ways)", got)
	}

	pb2 := filterv3.ExternalProcessor{
		GrpcService: &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_GoogleGrpc_{GoogleGrpc: &corev3.GrpcService_GoogleGrpc{TargetUri: "unix:///var/run/ward/ward.sock"}}},
	}
	if c, err := harness.FromFilterConfig(&pb2); err != nil || c.ProcessorAddr != "unix:///var/run/ward/ward.sock" {
		t.Fatalf("google_grpc: %v %q", err, c.ProcessorAddr)
	}

	bad := filterv3.ExternalProcessor{
		ObservabilityMode:      true,
		DisableClearRouteCache: true,
		RouteCacheAction:       filterv3.ExternalProcessor_RETAIN,
		ProcessingMode:         &harness.ProcessingMode{ResponseBodyMode: filterv3.ProcessingMode_FULL_DUPLEX_STREAMED},
	}
	_, err = harness.FromFilterConfig(&bad)
	for _, want := range []string{"grpc_service", "observability_mode", "route_cache_action", "processing_mode.response_body_mode"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// A processor may hold early chunks until later ones arrive (Envoy does not
// wait for a chunk's response before sending the next one in STREAMED).
func TestStreamedChunksArePipelined(t *testing.T) {
	var mu sync.Mutex
	var held []*extprocv3.ProcessingRequest
	e := setup(t, harness.Config{AllowModeOverride: true, ResponseChunkSize: 7}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		rb := req.GetResponseBody()
		if rb == nil {
			return upperChunks(req)
		}
		mu.Lock()
		defer mu.Unlock()
		held = append(held, req)
		if !rb.GetEndOfStream() {
			return nil, nil
		}
		var out []*extprocv3.ProcessingResponse
		for _, h := range held {
			r, _ := upperChunks(h)
			out = append(out, r...)
		}
		return out, nil
	})
	resp, body := e.post(t, "/v1/responses", `{"model":"m","stream":true,"input":"x"}`)
	tr := e.gw.LastTrace()
	if resp.StatusCode != 200 || body != strings.ToUpper(string(tr.UpstreamResponse.Body)) || tr.StreamClosed != "" {
		t.Fatalf("status %d closed %q body %q", resp.StatusCode, tr.StreamClosed, body)
	}
	if len(held) < 3 {
		t.Fatalf("only %d chunks", len(held))
	}
}

func TestStreamedRequestBody(t *testing.T) {
	e := setup(t, harness.Config{RequestChunkSize: 10, Mode: &harness.ProcessingMode{RequestBodyMode: harness.BodyStreamed}}, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		if rb := req.GetRequestBody(); rb != nil {
			return []*extprocv3.ProcessingResponse{reply(req, &extprocv3.CommonResponse{BodyMutation: bodyMut(strings.ToUpper(string(rb.GetBody())))})}, nil
		}
		return continueAll(req)
	})
	resp, _ := e.post(t, "/v1/chat/completions", chatBody)
	if resp.StatusCode != 200 || string(e.llm.Requests()[0].Body) != strings.ToUpper(chatBody) {
		t.Fatalf("status %d upstream body %s", resp.StatusCode, e.llm.Requests()[0].Body)
	}
	var n int
	var last *extprocv3.HttpBody
	for _, m := range e.gw.LastTrace().Messages {
		if rb := m.Request.GetRequestBody(); rb != nil {
			n++
			last = rb
		}
	}
	if n != (len(chatBody)+9)/10 || !last.GetEndOfStream() {
		t.Fatalf("%d chunks, last eos %v", n, last.GetEndOfStream())
	}
	// processing_mode.proto: STREAMED always removes content-length.
	if _, ok := e.gw.LastTrace().UpstreamRequest.Header["Content-Length"]; ok {
		t.Error("content-length kept in STREAMED mode")
	}
}

func TestStreamedTimeoutMidStream(t *testing.T) {
	for _, failOpen := range []bool{true, false} {
		t.Run("failure_mode_allow="+strconv.FormatBool(failOpen), func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			e := setup(t, harness.Config{AllowModeOverride: true, FailureModeAllow: failOpen, MessageTimeout: 300 * time.Millisecond, ResponseChunkSize: 16},
				func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
					if req.GetResponseBody() != nil {
						mu.Lock()
						n++
						first := n == 1
						mu.Unlock()
						if !first {
							return nil, nil // stop answering after the first chunk
						}
					}
					return upperChunks(req)
				})
			req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			tr := e.gw.LastTrace()
			up := string(tr.UpstreamResponse.Body)
			if failOpen {
				// First chunk mutated, the rest passed through unmodified.
				if rerr != nil || string(b) != strings.ToUpper(up[:16])+up[16:] {
					t.Fatalf("read err %v body %q", rerr, b)
				}
			} else if rerr == nil || !tr.Reset {
				t.Fatalf("want a reset mid-stream, got err %v reset %v", rerr, tr.Reset)
			}
		})
	}
}

func TestResponseHeaderMutationAndTrailers(t *testing.T) {
	fp, addr := startProc(t, func(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
		switch phase(req) {
		case "response_headers":
			return []*extprocv3.ProcessingResponse{reply(req, &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{
				SetHeaders:    []*corev3.HeaderValueOption{set("x-ward-event-id", "ev-1"), set(":status", "202")},
				RemoveHeaders: []string{"x-upstream-secret"}}})}, nil
		case "response_trailers":
			return []*extprocv3.ProcessingResponse{reply(req, &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{
				SetHeaders: []*corev3.HeaderValueOption{set("x-usage", "redacted")}}})}, nil
		}
		return continueAll(req)
	}, "")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Usage")
		w.Header().Set("X-Upstream-Secret", "s")
		w.Header().Set("Content-Encoding", "gzip") // passed through untouched
		_, _ = w.Write([]byte("\x1f\x8bnot-really-gzip"))
		w.Header().Set("X-Usage", "42")
	}))
	defer up.Close()
	gw, err := harness.New(harness.Config{
		ProcessorAddr:  addr,
		MessageTimeout: 5 * time.Second,
		Mode:           &harness.ProcessingMode{ResponseTrailerMode: harness.Send},
		Routes:         []harness.Route{{Name: "r", PathPrefix: "/", Upstream: up.URL}},
	})
	if err != nil {
		t.Fatal(err)
	}
	url, err := gw.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	// The test client must not gunzip either.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Get(url + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("X-Ward-Event-Id") != "ev-1" || resp.Header.Get("X-Upstream-Secret") != "" {
		t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
	}
	if string(b) != "\x1f\x8bnot-really-gzip" || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("body altered: %q %v\n%s", b, resp.Header, gw.LastTrace())
	}
	if resp.Trailer.Get("X-Usage") != "redacted" {
		t.Fatalf("trailers %v", resp.Trailer)
	}
	got := strings.Join(gw.LastTrace().Phases(), ",")
	if got != ">request_headers,<request_headers,>response_headers,<response_headers,>response_trailers,<response_trailers" {
		t.Fatalf("phases %s", got)
	}
	// GET without a body: end_of_stream on the request headers.
	if !gw.LastTrace().Messages[0].Request.GetRequestHeaders().GetEndOfStream() {
		t.Error("GET request headers without end_of_stream")
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if len(fp.got) != 3 {
		t.Errorf("processor saw %d messages", len(fp.got))
	}
}

// BenchmarkGatewayRoundTrip is the emulator's own cost per request (client
// → gateway → no-op processor → fake LLM, BUFFERED both ways), so load and
// demo numbers can be read against it. Shared machine: numbers are noisy.
//
//	go test -run XXX -bench GatewayRoundTrip -benchtime 500x ./test/harness/
func BenchmarkGatewayRoundTrip(b *testing.B) {
	_, addr := startProcB(b)
	llm := fakellm.New()
	up := httptest.NewServer(llm)
	defer up.Close()
	gw, err := harness.New(harness.Config{ProcessorAddr: addr, MessageTimeout: 5 * time.Second,
		Mode:   &harness.ProcessingMode{RequestBodyMode: harness.BodyBuffered, ResponseBodyMode: harness.BodyBuffered},
		Routes: []harness.Route{{Name: "r", PathPrefix: "/", Upstream: up.URL}}})
	if err != nil {
		b.Fatal(err)
	}
	url, err := gw.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(chatBody)))
	for b.Loop() {
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		gw.Reset()
		llm.Reset()
	}
}

func startProcB(b *testing.B) (*fakeProc, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	fp := &fakeProc{handle: continueAll}
	extprocv3.RegisterExternalProcessorServer(srv, fp)
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(srv.Stop)
	return fp, ln.Addr().String()
}
