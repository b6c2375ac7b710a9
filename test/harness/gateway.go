package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

// maxUnbufferedBody bounds what the emulator holds in memory for bodies that
// Envoy would stream (NONE/STREAMED requests); it protects tests from hangs,
// not a documented Envoy limit.
const maxUnbufferedBody = 64 << 20

// Gateway is the emulated Envoy: an http.Handler plus an optional loopback
// listener.
type Gateway struct {
	cfg      Config
	rules    *checker
	conn     *grpc.ClientConn
	client   extprocv3.ExternalProcessorClient
	upstream *http.Client

	mu       sync.Mutex
	idle     *sync.Cond
	inflight int
	traces   []*Trace

	srv *http.Server
	ln  net.Listener
}

// New validates cfg (every error at once) and prepares the gRPC client. The
// connection is made lazily, as Envoy's gRPC client does.
func New(cfg Config) (*Gateway, error) {
	rules, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("harness config: %w", err)
	}
	conn, err := grpc.NewClient(cfg.ProcessorAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("harness: ext_proc client for %q: %w", cfg.ProcessorAddr, err)
	}
	g := &Gateway{
		cfg:    cfg,
		rules:  rules,
		conn:   conn,
		client: extprocv3.NewExternalProcessorClient(conn),
		upstream: &http.Client{
			// Envoy neither follows redirects nor adds/decodes gzip.
			Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	g.idle = sync.NewCond(&g.mu)
	return g, nil
}

// Start serves the gateway on a loopback port and returns its base URL.
func (g *Gateway) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("harness: listen: %w", err)
	}
	g.ln = ln
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
	return g.URL(), nil
}

// URL is the base URL after Start ("" before).
func (g *Gateway) URL() string {
	if g.ln == nil {
		return ""
	}
	return "http://" + g.ln.Addr().String()
}

// Close stops the listener and the gRPC client.
func (g *Gateway) Close() error {
	var errs []error
	if g.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs = append(errs, g.srv.Shutdown(ctx))
	}
	errs = append(errs, g.conn.Close())
	return errors.Join(errs...)
}

// Traces waits (up to 5 s) for in-flight requests to finish and returns the
// trace of every completed request, oldest first.
func (g *Gateway) Traces() []*Trace {
	deadline := time.Now().Add(5 * time.Second)
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.inflight > 0 && time.Now().Before(deadline) {
		g.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		g.mu.Lock()
	}
	return append([]*Trace(nil), g.traces...)
}

// LastTrace returns the newest completed trace, or nil.
func (g *Gateway) LastTrace() *Trace {
	ts := g.Traces()
	if len(ts) == 0 {
		return nil
	}
	return ts[len(ts)-1]
}

// Reset forgets recorded traces.
func (g *Gateway) Reset() {
	g.mu.Lock()
	g.traces = nil
	g.mu.Unlock()
}

func (g *Gateway) match(h hmap) *Route {
	path, _ := h.get(":path")
	for i := range g.cfg.Routes {
		r := &g.cfg.Routes[i]
		if !strings.HasPrefix(path, r.PathPrefix) {
			continue
		}
		ok := true
		for _, m := range r.Headers {
			v, has := h.get(strings.ToLower(m.Name))
			if !has || (m.Value != "" && v != m.Value) {
				ok = false
				break
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

// recorder captures what the client receives.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ServeHTTP runs one downstream request through the emulated filter chain:
// ext_proc filter, then router.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tr := &Trace{start: time.Now(), DynamicMetadata: map[string]*structpb.Struct{}}
	g.mu.Lock()
	g.inflight++
	g.mu.Unlock()
	rec := &recorder{ResponseWriter: w}
	x := &exchange{g: g, tr: tr, ctx: r.Context(), failOpen: g.cfg.FailureModeAllow}
	defer func() {
		x.close()
		tr.ClientResponse.Status = rec.status
		tr.ClientResponse.Header = cloneHeader(w.Header())
		tr.ClientResponse.Body = rec.body.Bytes()
		g.mu.Lock()
		g.inflight--
		g.traces = append(g.traces, tr)
		g.mu.Unlock()
	}()
	if err := x.serve(rec, r); err != nil {
		var lr *localReply
		if errors.As(err, &lr) {
			x.writeLocal(rec, lr)
			return
		}
		// Mid-stream failure: Envoy resets the downstream stream.
		tr.Reset = true
		tr.StreamClosed += " (downstream reset: " + err.Error() + ")"
		panic(http.ErrAbortHandler)
	}
}

// errReset marks failures after response headers were sent downstream.
type errReset struct{ reason string }

func (e *errReset) Error() string { return e.reason }

func (x *exchange) writeLocal(w *recorder, lr *localReply) {
	if x.tr.LocalReply == "" {
		x.tr.LocalReply = lr.details
	}
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	for k, vs := range lr.header.httpHeader() {
		h[k] = vs
	}
	h.Set("Content-Length", strconv.Itoa(len(lr.body)))
	w.WriteHeader(lr.status)
	_, _ = w.Write(lr.body)
}

func (x *exchange) serve(w *recorder, r *http.Request) error {
	g, tr := x.g, x.tr
	body, err := io.ReadAll(io.LimitReader(r.Body, maxUnbufferedBody+1))
	if err != nil {
		return &localReply{status: http.StatusBadRequest, details: "downstream read: " + err.Error()}
	}
	tr.ClientRequest = HTTPMessage{Method: r.Method, Path: r.URL.RequestURI(), Header: cloneHeader(r.Header), Body: append([]byte(nil), body...)}

	// The HTTP connection manager hands the filter chain pseudo-headers
	// plus the request headers; it generates x-request-id and sets
	// x-forwarded-proto (HCM generate_request_id / use_remote_address docs).
	h := hmap{{":authority", r.Host}, {":path", r.URL.RequestURI()}, {":method", r.Method}, {":scheme", "http"}}
	h = fromHTTP(r.Header, h)
	if r.ContentLength >= 0 && !h.has("content-length") && (r.ContentLength > 0 || r.Method == http.MethodPost || r.Method == http.MethodPut) {
		h.set("content-length", strconv.FormatInt(r.ContentLength, 10))
	}
	if !h.has("x-request-id") {
		h.set("x-request-id", uuid.NewString())
	}
	h.set("x-forwarded-proto", "http")

	// The route is resolved (and cached) when the filter first asks for
	// per-route config; only clear_route_cache makes the router recompute.
	x.route = g.match(h)
	x.modes = modesFrom(g.cfg.Mode)
	reqAttrs, respAttrs := g.cfg.RequestAttributes, g.cfg.ResponseAttributes
	if pr := x.route.perRoute(); pr != nil {
		// ExtProcPerRoute.disabled: "Disable the filter for this particular
		// vhost or route."
		if pr.GetDisabled() {
			x.done = true
		}
		if o := pr.GetOverrides(); o != nil {
			// ExtProcOverrides.processing_mode: "Set a different processing
			// mode for this route than the default."
			if o.GetProcessingMode() != nil {
				x.modes = modesFrom(o.GetProcessingMode())
			}
			if len(o.GetRequestAttributes()) > 0 {
				reqAttrs = o.GetRequestAttributes()
			}
			if len(o.GetResponseAttributes()) > 0 {
				respAttrs = o.GetResponseAttributes()
			}
			if fm := o.GetFailureModeAllow(); fm != nil {
				x.failOpen = fm.GetValue()
			}
		}
	}
	attrsSent := false
	trailers := hmap{}
	if len(r.Trailer) > 0 {
		trailers = fromHTTP(r.Trailer, trailers)
	}

	// ---- request headers ----
	if x.modes.reqHeaders && !x.done {
		req := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
			Headers: h.proto(),
			// HttpHeaders.end_of_stream: "If true, then there is no message
			// body associated with this request or response."
			EndOfStream: len(body) == 0 && len(trailers) == 0,
		}}}
		req.Attributes, attrsSent = x.attributes(reqAttrs, r, h, 0), true
		resp, err := x.call("request_headers", req)
		if err != nil {
			return err
		}
		if resp != nil {
			cr := resp.GetRequestHeaders().GetResponse()
			if err := x.applyHeaderMutation(cr.GetHeaderMutation(), &h); err != nil {
				return x.mutationReply(err)
			}
			// CommonResponse.status CONTINUE_AND_REPLACE: "replace the body
			// with the body specified in the body mutation (if present), and
			// do not send any further messages for this request".
			// CommonResponse.body_mutation in a headers response "only takes
			// effect if the status is set to CONTINUE_AND_REPLACE".
			if cr.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
				x.reqDone = true
				if bm := cr.GetBodyMutation(); bm != nil {
					body = applyBody(bm, body)
				}
			}
			x.clearRoute(cr, true)
			// mode_override: request_header_mode "is ignored".
			x.applyOverride(resp.GetModeOverride(), true)
		}
	}
	if x.removesContentLength(x.modes.reqBody, x.modes.reqHeaders) {
		h.del("content-length")
	}

	// ---- request body ----
	if len(body) > 0 && !x.done && !x.reqDone && x.modes.reqBody != BodyNone {
		eos := len(trailers) == 0 || !x.modes.reqTrailers
		var err error
		body, err = x.requestBody(r, &h, body, eos, reqAttrs, &attrsSent)
		if err != nil {
			return err
		}
	}
	if len(body) > maxUnbufferedBody {
		return &localReply{status: http.StatusRequestEntityTooLarge, details: "request body too large for the emulator"}
	}

	// ---- request trailers ----
	if len(trailers) > 0 && x.modes.reqTrailers && !x.done && !x.reqDone {
		resp, err := x.call("request_trailers", &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestTrailers{
			RequestTrailers: &extprocv3.HttpTrailers{Trailers: trailers.proto()}}})
		if err != nil {
			return err
		}
		if resp != nil {
			if err := x.applyHeaderMutation(resp.GetRequestTrailers().GetHeaderMutation(), &trailers); err != nil {
				return x.mutationReply(err)
			}
		}
	}

	// ---- router ----
	route := x.route
	if x.routeCleared {
		route = g.match(h)
		x.route = route
	}
	if route == nil {
		return &localReply{status: http.StatusNotFound, details: "route_not_found"}
	}
	tr.Route = route.Name
	return x.proxy(w, r, route, h, body, trailers, respAttrs)
}

func (rt *Route) perRoute() *ExtProcPerRoute {
	if rt == nil {
		return nil
	}
	return rt.ExtProc
}

// requestBody sends the request body per request_body_mode and returns the
// body to forward.
func (x *exchange) requestBody(r *http.Request, h *hmap, body []byte, eos bool, attrs []string, attrsSent *bool) ([]byte, error) {
	g := x.g
	withAttrs := func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingRequest {
		if !*attrsSent {
			req.Attributes, *attrsSent = x.attributes(attrs, r, *h, 0), true
		}
		return req
	}
	bodyReq := func(b []byte, end bool) *extprocv3.ProcessingRequest {
		return withAttrs(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
			RequestBody: &extprocv3.HttpBody{Body: b, EndOfStream: end}}})
	}
	switch x.modes.reqBody {
	case BodyBuffered:
		// processing_mode.proto BUFFERED: "If the body exceeds the
		// configured buffer limit, then the downstream system will receive
		// an error" (Envoy: 413 Payload Too Large on the request path).
		if len(body) > g.cfg.MaxBufferBytes {
			return nil, &localReply{status: http.StatusRequestEntityTooLarge, details: "request_payload_too_large"}
		}
		resp, err := x.call("request_body", bodyReq(body, eos))
		if err != nil || resp == nil {
			return body, err
		}
		cr := resp.GetRequestBody().GetResponse()
		// CommonResponse.header_mutation on an HttpBody response "will only
		// take effect if the current processing mode for the body is
		// BUFFERED".
		if err := x.applyHeaderMutation(cr.GetHeaderMutation(), h); err != nil {
			return nil, x.mutationReply(err)
		}
		if bm := cr.GetBodyMutation(); bm != nil {
			if err := checkContentLength(*h, bm); err != nil {
				return nil, x.mutationReply(err)
			}
			body = applyBody(bm, body)
		}
		x.clearRoute(cr, false)
		return body, nil
	case BodyBufferedPartial:
		// BUFFERED_PARTIAL: "If the body exceeds the configured buffer
		// limit, then the body contents up to the buffer limit will be
		// sent."
		n := min(len(body), g.cfg.MaxBufferBytes)
		resp, err := x.call("request_body", bodyReq(body[:n], eos && n == len(body)))
		if err != nil || resp == nil {
			return body, err
		}
		cr := resp.GetRequestBody().GetResponse()
		part := body[:n]
		if bm := cr.GetBodyMutation(); bm != nil {
			part = applyBody(bm, part)
		}
		x.clearRoute(cr, false)
		return append(append([]byte(nil), part...), body[n:]...), nil
	case BodyStreamed:
		// STREAMED: "Stream the body to the server in pieces as they are
		// seen"; each piece's BodyResponse mutation replaces/clears that
		// chunk only (CommonResponse.body_mutation: "simply replace or clear
		// the body chunk that was sent with that request").
		var out []byte
		in := make(chan piece, len(body)/g.cfg.RequestChunkSize+1)
		for off := 0; off < len(body); {
			end := min(off+g.cfg.RequestChunkSize, len(body))
			in <- piece{b: body[off:end], eos: eos && end == len(body)}
			off = end
		}
		close(in)
		err := x.pipeline("request_body", in, bodyReq, func(b []byte) error {
			out = append(out, b...)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	return body, nil
}
