package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// localReply is a response the emulator generates itself instead of
// proxying (Envoy's sendLocalReply).
type localReply struct {
	status  int
	header  hmap
	body    []byte
	details string
}

func (l *localReply) Error() string { return fmt.Sprintf("local reply %d: %s", l.status, l.details) }

// exchange is the per-request state of the emulated ext_proc filter.
type exchange struct {
	g      *Gateway
	tr     *Trace
	ctx    context.Context
	cancel context.CancelFunc
	stream extprocv3.ExternalProcessor_ProcessClient
	recv   chan recvResult

	modes    modes
	failOpen bool
	// done is Envoy's processing_complete_: no more messages are sent.
	done bool
	// reqDone/respDone: CONTINUE_AND_REPLACE stops further messages for
	// that direction.
	reqDone, respDone bool
	first             bool // the first message has been sent
	respFirst         bool // the first response-direction message has been sent
	routeCleared      bool
	route             *Route
}

type recvResult struct {
	resp *extprocv3.ProcessingResponse
	err  error
}

func (x *exchange) record(phase string, req *extprocv3.ProcessingRequest, resp *extprocv3.ProcessingResponse) {
	m := Message{At: time.Since(x.tr.start), Phase: phase}
	if req != nil {
		m.Request = proto.Clone(req).(*extprocv3.ProcessingRequest)
	}
	if resp != nil {
		m.Response = proto.Clone(resp).(*extprocv3.ProcessingResponse)
	}
	x.tr.Messages = append(x.tr.Messages, m)
}

func (x *exchange) open() error {
	ctx, cancel := context.WithCancel(x.ctx)
	st, err := x.g.client.Process(ctx)
	if err != nil {
		cancel()
		return err
	}
	x.stream, x.cancel = st, cancel
	x.recv = make(chan recvResult)
	go func() {
		for {
			r, err := st.Recv()
			select {
			case x.recv <- recvResult{r, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return nil
}

// close ends the stream. Envoy half-closes and resets the side stream when
// the HTTP stream completes.
func (x *exchange) close() {
	if x.stream != nil {
		_ = x.stream.CloseSend()
		x.cancel()
		x.stream = nil
	}
}

// matches reports whether resp is the response kind the proto requires for
// the request phase (external_processor.proto ProcessingResponse: "for every
// received ProcessingRequest, the server must send back exactly one
// ProcessingResponse message" of the matching field).
func matches(phase string, resp *extprocv3.ProcessingResponse) bool {
	switch phase {
	case "request_headers":
		return resp.GetRequestHeaders() != nil
	case "response_headers":
		return resp.GetResponseHeaders() != nil
	case "request_body":
		return resp.GetRequestBody() != nil
	case "response_body":
		return resp.GetResponseBody() != nil
	case "request_trailers":
		return resp.GetRequestTrailers() != nil
	case "response_trailers":
		return resp.GetResponseTrailers() != nil
	}
	return false
}

// send writes one ProcessingRequest, opening the stream first if needed.
// ok=false means the message was not sent: err is a *localReply (fail
// closed) or nil (continue without the processor).
func (x *exchange) send(phase string, req *extprocv3.ProcessingRequest) (ok bool, err error) {
	if x.done {
		return false, nil
	}
	if x.stream == nil {
		if err := x.open(); err != nil {
			// ext_proc.proto failure_mode_allow case 1: "The gRPC stream
			// cannot be established."
			_, err = x.fail("stream could not be established: "+err.Error(), x.g.cfg.StatusOnError)
			return false, err
		}
	}
	if !x.first {
		// external_processor.proto ProcessingRequest.protocol_config: "only
		// encoded in the first ProcessingRequest message".
		req.ProtocolConfig = &extprocv3.ProtocolConfiguration{
			RequestBodyMode:  modeOrNone(x.g.cfg.Mode, true),
			ResponseBodyMode: modeOrNone(x.g.cfg.Mode, false),
		}
		x.first = true
	}
	x.record(phase, req, nil)
	if err := x.stream.Send(req); err != nil {
		// grpc-go reports io.EOF from Send when the stream has ended; the
		// real status arrives on Recv.
		select {
		case r := <-x.recv:
			if r.err == io.EOF {
				_, err = x.cleanClose()
				return false, err
			}
			if r.err != nil {
				err = r.err
			}
		case <-time.After(x.g.cfg.MessageTimeout):
		}
		_, err = x.grpcError(err)
		return false, err
	}
	return true, nil
}

// receive classifies one message from the processor answering phase. It
// returns the response when it is the matching kind; (nil, nil) when
// processing continues without the processor; a *localReply error when
// Envoy would answer itself; retry when the message only extended the
// timer (override_message_timeout).
func (x *exchange) receive(phase string, r recvResult, timer *time.Timer, overridden *bool) (resp *extprocv3.ProcessingResponse, retry bool, err error) {
	if r.err == io.EOF {
		resp, err = x.cleanClose()
		return resp, false, err
	}
	if r.err != nil {
		resp, err = x.grpcError(r.err)
		return resp, false, err
	}
	resp = r.resp
	x.record(phase, nil, resp)
	if d := resp.GetOverrideMessageTimeout(); d != nil {
		// ProcessingResponse.override_message_timeout: "ignores other
		// fields in the response, stops the original timer ... and starts
		// a new timer"; "must be >= 1ms and <= max_message_timeout"; "at
		// most once in a particular ... state"; disabled unless
		// max_message_timeout >= 1ms.
		nd := d.AsDuration()
		if x.g.cfg.MaxMessageTimeout >= time.Millisecond && !*overridden &&
			nd >= time.Millisecond && nd <= x.g.cfg.MaxMessageTimeout {
			*overridden = true
			resetTimer(timer, nd)
		}
		return nil, true, nil
	}
	x.mergeMetadata(resp.GetDynamicMetadata())
	if ir := resp.GetImmediateResponse(); ir != nil {
		if x.g.cfg.DisableImmediateResponse {
			// ext_proc.proto disable_immediate_response: "ignore the
			// immediate_response message"; ext_proc.cc treats it as
			// spurious.
			resp, err = x.spurious(phase)
			return resp, false, err
		}
		x.done = true
		x.close()
		return nil, false, x.immediate(ir)
	}
	if !matches(phase, resp) {
		resp, err = x.spurious(phase)
		return resp, false, err
	}
	return resp, false, nil
}

func resetTimer(t *time.Timer, d time.Duration) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(d)
}

// call sends one ProcessingRequest and waits for its response. It returns
// (nil, nil) when processing continues without the processor (stream closed
// cleanly, or a failure under failure_mode_allow), and a *localReply error
// when Envoy would answer the client itself.
func (x *exchange) call(phase string, req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
	if x.done {
		return nil, nil
	}
	// A response with no request outstanding is spurious
	// (ext_proc.cc onReceiveMessage "Received unknown stream message").
	if x.stream != nil {
		select {
		case r := <-x.recv:
			if r.err == io.EOF {
				return x.cleanClose()
			}
			if r.err != nil {
				return x.grpcError(r.err)
			}
			x.record(phase, nil, r.resp)
			return x.spurious(phase)
		default:
		}
	}
	if ok, err := x.send(phase, req); !ok {
		return nil, err
	}
	// ext_proc.proto message_timeout: "Whenever the data plane sends a
	// message on the stream that requires a response, it will reset this
	// timer, and will stop processing and return an error ... if the timer
	// expires before a matching response is received."
	timer := time.NewTimer(x.g.cfg.MessageTimeout)
	defer timer.Stop()
	overridden := false
	for {
		select {
		case r := <-x.recv:
			resp, retry, err := x.receive(phase, r, timer, &overridden)
			if retry {
				continue
			}
			return resp, err
		case <-timer.C:
			// ext_proc.proto failure_mode_allow: "504 (for timeout case)".
			return x.fail("message timeout in "+phase, http.StatusGatewayTimeout)
		}
	}
}

// piece is one body chunk on its way to the processor.
type piece struct {
	b   []byte
	eos bool
	err error // upstream read error; ends the body
}

// pipeline runs a STREAMED body: processing_mode.proto STREAMED, "Stream the
// body to the server in pieces as they are seen". Like Envoy, it sends each
// chunk as soon as it arrives without waiting for earlier responses, and
// matches responses to outstanding chunks in order; each chunk's
// body_mutation replaces or clears that chunk only (CommonResponse
// body_mutation: "simply replace or clear the body chunk that was sent with
// that request"), and header mutations are ignored (they "only take effect
// if the current processing mode for the body is BUFFERED"). emit receives
// the bytes to forward, in order. The message timer runs while any chunk is
// outstanding and restarts on every send and response.
func (x *exchange) pipeline(phase string, in <-chan piece, mk func(b []byte, eos bool) *extprocv3.ProcessingRequest, emit func([]byte) error) error {
	var queue [][]byte
	flushRaw := func() error {
		for _, q := range queue {
			if err := emit(q); err != nil {
				return err
			}
		}
		queue = nil
		return nil
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	overridden := false
	var recv chan recvResult
	for in != nil || (len(queue) > 0 && !x.done) {
		if x.done {
			if err := flushRaw(); err != nil {
				return err
			}
			recv = nil
		} else if x.stream != nil {
			recv = x.recv
		}
		var timeout <-chan time.Time
		if len(queue) > 0 && !x.done {
			timeout = timer.C
		}
		select {
		case p, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			if p.err != nil {
				return &errReset{"body read: " + p.err.Error()}
			}
			if x.done {
				if err := emit(p.b); err != nil {
					return err
				}
				continue
			}
			sent, err := x.send(phase, mk(p.b, p.eos))
			if err != nil {
				return err
			}
			if !sent {
				// failure_mode_allow or clean close: pass through unmodified.
				if err := flushRaw(); err != nil {
					return err
				}
				if err := emit(p.b); err != nil {
					return err
				}
				continue
			}
			queue = append(queue, p.b)
			resetTimer(timer, x.g.cfg.MessageTimeout)
		case r := <-recv:
			resp, retry, err := x.receive(phase, r, timer, &overridden)
			if retry {
				continue
			}
			if err != nil {
				return err
			}
			if resp == nil {
				continue // x.done: the queue is flushed unmodified above
			}
			if len(queue) == 0 {
				// A response with no chunk outstanding is spurious.
				if _, err := x.spurious(phase); err != nil {
					return err
				}
				continue
			}
			chunk := queue[0]
			queue = queue[1:]
			cr := resp.GetResponseBody().GetResponse()
			if phase == "request_body" {
				cr = resp.GetRequestBody().GetResponse()
				x.clearRoute(cr, false)
			}
			if err := emit(applyBody(cr.GetBodyMutation(), chunk)); err != nil {
				return err
			}
			if len(queue) > 0 {
				resetTimer(timer, x.g.cfg.MessageTimeout)
			}
		case <-timeout:
			if _, err := x.fail("message timeout in "+phase, http.StatusGatewayTimeout); err != nil {
				return err
			}
		}
	}
	return flushRaw()
}

func modeOrNone(m *ProcessingMode, request bool) filterv3.ProcessingMode_BodySendMode {
	if request {
		return m.GetRequestBodyMode()
	}
	return m.GetResponseBodyMode()
}

// cleanClose: external_processor.proto step 6, "if the server closes the
// gRPC stream cleanly, then Envoy proceeds without consulting the server".
func (x *exchange) cleanClose() (*extprocv3.ProcessingResponse, error) {
	x.done = true
	x.tr.StreamClosed = "eof"
	x.close()
	return nil, nil
}

// grpcError: step 7, "if the server closes the gRPC stream with an error,
// then Envoy returns a 500 error to the client, unless the filter was
// configured to ignore errors" (status_on_error overrides the 500).
func (x *exchange) grpcError(err error) (*extprocv3.ProcessingResponse, error) {
	return x.fail("gRPC error: "+status.Convert(err).String(), x.g.cfg.StatusOnError)
}

// spurious: a response of the wrong kind. ext_proc.proto failure_mode_allow
// case 4 ("sends back spurious response messages"); ext_proc.cc closes the
// stream and continues when failure_mode_allow, else sends a local reply.
func (x *exchange) spurious(phase string) (*extprocv3.ProcessingResponse, error) {
	return x.fail("spurious response to "+phase, x.g.cfg.StatusOnError)
}

func (x *exchange) fail(reason string, code int) (*extprocv3.ProcessingResponse, error) {
	x.done = true
	x.close()
	if x.failOpen {
		x.tr.StreamClosed = "failure_mode_allow: " + reason
		return nil, nil
	}
	x.tr.StreamClosed = "error: " + reason
	return nil, &localReply{status: code, details: "ext_proc_error: " + reason}
}

// mergeMetadata emits ProcessingResponse.dynamic_metadata: "placed in the
// namespace(s) specified by the top-level field name(s) of the struct",
// restricted to metadata_options.receiving_namespaces.
func (x *exchange) mergeMetadata(s *structpb.Struct) {
	for ns, v := range s.GetFields() {
		allowed := false
		for _, a := range x.g.cfg.ReceivingNamespaces {
			allowed = allowed || a == ns
		}
		if !allowed || v.GetStructValue() == nil {
			continue
		}
		if cur, ok := x.tr.DynamicMetadata[ns]; ok {
			proto.Merge(cur, v.GetStructValue())
		} else {
			x.tr.DynamicMetadata[ns] = proto.Clone(v.GetStructValue()).(*structpb.Struct)
		}
	}
}

// immediate builds the local reply for an ImmediateResponse
// (external_processor.proto ImmediateResponse: status, headers "Apply
// changes to the default headers, which will include content-type", body
// "sent using the text/plain content type").
func (x *exchange) immediate(ir *extprocv3.ImmediateResponse) *localReply {
	// ext_proc.cc sendImmediateResponse: a missing status, or one that
	// fails isValidHttpStatus (code >= 200), becomes DefaultImmediateStatus
	// (200).
	code := int(ir.GetStatus().GetCode())
	if code < 200 {
		code = http.StatusOK
	}
	h := hmap{}
	if len(ir.GetBody()) > 0 {
		h.set("content-type", "text/plain")
	}
	// The headers go through the filter's mutation checker; a failing
	// mutation is only logged by Envoy ("Immediate response mutations
	// failed"), so the reply is still sent.
	_ = x.applyHeaderMutation(ir.GetHeaders(), &h)
	if gs := ir.GetGrpcStatus(); gs != nil {
		h.set("grpc-status", strconv.Itoa(int(gs.GetStatus())))
	}
	x.tr.LocalReply = "immediate_response"
	if ir.GetDetails() != "" {
		x.tr.LocalReply += ": " + ir.GetDetails()
	}
	return &localReply{status: code, header: h, body: ir.GetBody(), details: x.tr.LocalReply}
}

// applyOverride honours ProcessingResponse.mode_override only "if set in a
// response to" request or response headers and allow_mode_override is true
// ("If not set, mode_override API in the response message will be
// ignored"), and only if allowed_override_modes (when set) lists it.
func (x *exchange) applyOverride(o *ProcessingMode, request bool) {
	if o == nil || !x.g.cfg.AllowModeOverride {
		return
	}
	if len(x.g.cfg.AllowedOverrideModes) > 0 {
		// allowed_override_modes: "request_header_mode is not applicable in
		// any way, it's ignored in comparison".
		cmp := proto.Clone(o).(*ProcessingMode)
		cmp.RequestHeaderMode = filterv3.ProcessingMode_DEFAULT
		ok := false
		for _, a := range x.g.cfg.AllowedOverrideModes {
			ac := proto.Clone(a).(*ProcessingMode)
			ac.RequestHeaderMode = filterv3.ProcessingMode_DEFAULT
			ok = ok || proto.Equal(cmp, ac)
		}
		if !ok {
			return
		}
	}
	x.modes.override(o, request)
}

// clearRoute follows CommonResponse.clear_route_cache ("ignored in the
// response direction") and ExternalProcessor.route_cache_action /
// disable_clear_route_cache.
func (x *exchange) clearRoute(cr *extprocv3.CommonResponse, headersPhase bool) {
	switch x.g.cfg.RouteCacheAction {
	case filterv3.ExternalProcessor_RETAIN:
		return
	case filterv3.ExternalProcessor_CLEAR:
		// "Always clear the route cache irrespective of the clear_route_cache
		// bit" for responses to request headers.
		if headersPhase || cr.GetClearRouteCache() {
			x.routeCleared = true
		}
	default:
		if !x.g.cfg.DisableClearRouteCache && cr.GetClearRouteCache() {
			x.routeCleared = true
		}
	}
}

// checkContentLength follows processing_mode.proto BodySendMode: "In
// BUFFERED BodySendMode + SEND HeaderSendMode, content length header is
// allowed but it is the external processor's responsibility to set the
// content length correctly ... If they don't match, the corresponding body
// mutation will be rejected and a local reply will be sent". Envoy compares
// against body_mutation.body, so clear_body needs content-length 0 or none.
func checkContentLength(h hmap, bm *extprocv3.BodyMutation) error {
	if bm == nil {
		return nil
	}
	v, ok := h.get("content-length")
	if !ok {
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return nil
	}
	if n != len(bm.GetBody()) {
		return &errMutation{"mismatch between content length and the length of the mutated body"}
	}
	return nil
}

// applyBody is mutation_utils.cc applyBodyMutations: replace or clear.
func applyBody(bm *extprocv3.BodyMutation, body []byte) []byte {
	switch m := bm.GetMutation().(type) {
	case *extprocv3.BodyMutation_Body:
		return append([]byte(nil), m.Body...)
	case *extprocv3.BodyMutation_ClearBody:
		if m.ClearBody {
			return nil
		}
	}
	return body
}

// removesContentLength: processing_mode.proto BodySendMode, "the ext_proc
// filter will always remove the content length header" for STREAMED,
// BUFFERED_PARTIAL, and BUFFERED + SKIP headers, "unless
// allow_content_length_header is enabled".
func (x *exchange) removesContentLength(body filterv3.ProcessingMode_BodySendMode, headersSent bool) bool {
	if x.g.cfg.AllowContentLengthHeader || x.done {
		return false
	}
	switch body {
	case BodyStreamed, BodyBufferedPartial:
		return true
	case BodyBuffered:
		return !headersSent
	}
	return false
}

// mutationReply turns an errMutation into the local reply Envoy sends
// regardless of failure_mode_allow (ext_proc.cc: "Any other error results
// in an immediate response with an error message").
func (x *exchange) mutationReply(err error) *localReply {
	var me *errMutation
	if !errors.As(err, &me) {
		return &localReply{status: http.StatusInternalServerError, details: err.Error()}
	}
	x.done = true
	x.close()
	return &localReply{status: http.StatusInternalServerError, details: "ext_proc_error: " + me.msg}
}

// attributes builds ProcessingRequest.attributes for the configured
// attribute names, under the filter's name as Envoy does. Only cheap,
// well-known attributes are produced; others are omitted.
func (x *exchange) attributes(names []string, r *http.Request, h hmap, respCode int) map[string]*structpb.Struct {
	if len(names) == 0 {
		return nil
	}
	fields := map[string]*structpb.Value{}
	for _, n := range names {
		var v *structpb.Value
		switch n {
		case "request.path":
			p, _ := h.get(":path")
			v = structpb.NewStringValue(p)
		case "request.url_path":
			p, _ := h.get(":path")
			if i := strings.IndexByte(p, '?'); i >= 0 {
				p = p[:i]
			}
			v = structpb.NewStringValue(p)
		case "request.host":
			a, _ := h.get(":authority")
			v = structpb.NewStringValue(a)
		case "request.method":
			m, _ := h.get(":method")
			v = structpb.NewStringValue(m)
		case "request.scheme":
			v = structpb.NewStringValue("http")
		case "request.protocol":
			v = structpb.NewStringValue(r.Proto)
		case "request.id":
			id, _ := h.get("x-request-id")
			v = structpb.NewStringValue(id)
		case "source.address":
			v = structpb.NewStringValue(r.RemoteAddr)
		case "xds.route_name":
			if x.route != nil {
				v = structpb.NewStringValue(x.route.Name)
			}
		case "response.code":
			if respCode != 0 {
				v = structpb.NewNumberValue(float64(respCode))
			}
		}
		if v != nil {
			fields[n] = v
		}
	}
	return map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: fields}}
}
