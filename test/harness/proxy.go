package harness

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// proxy forwards to the upstream and runs the response-direction phases.
func (x *exchange) proxy(w *recorder, r *http.Request, route *Route, h hmap, body []byte, trailers hmap, respAttrs []string) error {
	tr := x.tr
	path, _ := h.get(":path")
	method, _ := h.get(":method")
	authority, _ := h.get(":authority")
	ureq, err := http.NewRequestWithContext(r.Context(), method, strings.TrimSuffix(route.Upstream, "/")+path, bytes.NewReader(body))
	if err != nil {
		return &localReply{status: http.StatusBadRequest, details: "bad upstream request: " + err.Error()}
	}
	ureq.Header = h.httpHeader()
	ureq.Header.Del("Content-Length") // the Go client frames the body itself
	ureq.Host = authority
	if len(trailers) > 0 {
		ureq.Trailer = trailers.httpHeader()
	}
	sent := cloneHeader(ureq.Header)
	sent.Set("Host", authority)
	tr.UpstreamRequest = &HTTPMessage{Method: method, Path: path, Header: sent, Body: append([]byte(nil), body...)}

	resp, err := x.g.upstream.Do(ureq)
	if err != nil {
		// Envoy's router answers 503 "upstream connect error or
		// disconnect/reset before headers".
		return &localReply{status: http.StatusServiceUnavailable, body: []byte("upstream connect error or disconnect/reset before headers"), header: hmap{{"content-type", "text/plain"}}, details: "upstream_reset_before_response_started"}
	}
	defer resp.Body.Close()
	tr.UpstreamResponse = &HTTPMessage{Status: resp.StatusCode, Header: cloneHeader(resp.Header)}
	var upBody bytes.Buffer
	src := io.TeeReader(resp.Body, &upBody)
	defer func() { tr.UpstreamResponse.Body = upBody.Bytes() }()

	rh := hmap{{":status", strconv.Itoa(resp.StatusCode)}}
	rh = fromHTTP(resp.Header, rh)
	if resp.ContentLength >= 0 && !rh.has("content-length") {
		rh.set("content-length", strconv.FormatInt(resp.ContentLength, 10))
	}
	firstResp := func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingRequest {
		if !x.respFirst {
			req.Attributes, x.respFirst = x.attributes(respAttrs, r, rh, resp.StatusCode), true
		}
		return req
	}

	// ---- response headers ----
	var replaced []byte
	if x.modes.respHeaders && !x.done {
		req := firstResp(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{
			Headers: rh.proto(), EndOfStream: resp.ContentLength == 0,
		}}})
		presp, err := x.call("response_headers", req)
		if err != nil {
			return err
		}
		if presp != nil {
			cr := presp.GetResponseHeaders().GetResponse()
			if err := x.applyHeaderMutation(cr.GetHeaderMutation(), &rh); err != nil {
				return x.mutationReply(err)
			}
			if cr.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
				x.respDone = true
				if bm := cr.GetBodyMutation(); bm != nil {
					replaced = applyBody(bm, nil)
				}
			}
			// mode_override from the response-headers response governs the
			// response body and trailers (CommonResponse.clear_route_cache
			// is "ignored in the response direction").
			x.applyOverride(presp.GetModeOverride(), false)
		}
	}
	bodyMode := x.modes.respBody
	if x.done || x.respDone {
		bodyMode = BodyNone
	}
	if x.removesContentLength(bodyMode, x.modes.respHeaders) {
		rh.del("content-length")
	}
	if x.respDone {
		// The original body is discarded and the replacement sent.
		_, _ = io.Copy(io.Discard, src)
		rh.del("content-length")
		x.writeHeaders(w, rh)
		_, _ = w.Write(replaced)
		return nil
	}

	switch bodyMode {
	case BodyBuffered, BodyBufferedPartial:
		return x.bufferedResponse(w, resp, src, rh, bodyMode, firstResp)
	case BodyStreamed:
		return x.streamedResponse(w, resp, src, rh, firstResp)
	}
	// NONE: headers go downstream, the body streams through untouched.
	x.writeHeaders(w, rh)
	if err := copyFlush(w, src); err != nil {
		return &errReset{"upstream body: " + err.Error()}
	}
	return x.responseTrailers(w, resp)
}

func copyFlush(w *recorder, src io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			w.Flush()
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (x *exchange) writeHeaders(w *recorder, rh hmap) {
	code := http.StatusOK
	if s, ok := rh.get(":status"); ok {
		if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 999 {
			code = n
		}
	}
	dst := w.Header()
	for k, vs := range rh.httpHeader() {
		dst[k] = vs
	}
	w.WriteHeader(code)
}

// bufferedResponse: BUFFERED sends the whole body in one message (over the
// limit: an error to the client); BUFFERED_PARTIAL sends up to the limit.
func (x *exchange) bufferedResponse(w *recorder, resp *http.Response, src io.Reader, rh hmap, mode BodySendMode, firstResp func(*extprocv3.ProcessingRequest) *extprocv3.ProcessingRequest) error {
	limit := x.g.cfg.MaxBufferBytes
	body, err := io.ReadAll(io.LimitReader(src, int64(limit)+1))
	if err != nil {
		return &localReply{status: http.StatusBadGateway, details: "upstream body: " + err.Error()}
	}
	var rest io.Reader = bytes.NewReader(nil)
	if len(body) > limit {
		if mode == BodyBuffered {
			// processing_mode.proto BUFFERED: "If the body exceeds the
			// configured buffer limit, then the downstream system will
			// receive an error" (a 500 local reply: headers not yet sent).
			return &localReply{status: http.StatusInternalServerError, details: "response_payload_too_large"}
		}
		rest = io.MultiReader(bytes.NewReader(body[limit:]), src)
		body = body[:limit]
	}
	more := mode == BodyBufferedPartial && len(body) == limit
	if more {
		// Peek so end_of_stream is exact for a body of exactly limit bytes.
		var one [1]byte
		n, _ := io.ReadFull(rest, one[:])
		if n == 0 {
			more = false
		} else {
			rest = io.MultiReader(bytes.NewReader(one[:n]), rest)
		}
	}
	if !more {
		if _, err := io.Copy(io.Discard, rest); err != nil {
			return &localReply{status: http.StatusBadGateway, details: "upstream body: " + err.Error()}
		}
	}
	hasTrailers := !more && len(resp.Trailer) > 0 && x.modes.respTrailers
	// No body message when the headers ended the stream (content-length: 0,
	// HttpHeaders.end_of_stream).
	if resp.ContentLength != 0 {
		presp, err := x.call("response_body", firstResp(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
			ResponseBody: &extprocv3.HttpBody{Body: body, EndOfStream: !more && !hasTrailers}}}))
		if err != nil {
			return err
		}
		if presp != nil {
			cr := presp.GetResponseBody().GetResponse()
			if mode == BodyBuffered {
				if err := x.applyHeaderMutation(cr.GetHeaderMutation(), &rh); err != nil {
					return x.mutationReply(err)
				}
			}
			if bm := cr.GetBodyMutation(); bm != nil {
				if mode == BodyBuffered && x.modes.respHeaders {
					if err := checkContentLength(rh, bm); err != nil {
						return x.mutationReply(err)
					}
				}
				body = applyBody(bm, body)
			}
		}
	}
	x.writeHeaders(w, rh)
	_, _ = w.Write(body)
	w.Flush()
	if more {
		if err := copyFlush(w, rest); err != nil {
			return &errReset{"upstream body: " + err.Error()}
		}
	}
	return x.responseTrailers(w, resp)
}

// streamedResponse: STREAMED response bodies. Headers go downstream first
// (the body is not held), every chunk is sent to the processor as the
// upstream delivers it and forwarded, mutated, as its response arrives. Any
// later failure can only reset the stream (ImmediateResponse: "If a
// response has already started ... reset the stream").
func (x *exchange) streamedResponse(w *recorder, resp *http.Response, src io.Reader, rh hmap, firstResp func(*extprocv3.ProcessingRequest) *extprocv3.ProcessingRequest) error {
	x.writeHeaders(w, rh)
	w.Flush()
	in := make(chan piece)
	stop, done := make(chan struct{}), make(chan struct{})
	hasTrailers := len(resp.Trailer) > 0 && x.modes.respTrailers
	go func() {
		defer close(done)
		x.chunkUpstream(resp, src, hasTrailers, in, stop)
	}()
	// The reader must be gone before the caller reads the recorded
	// upstream body; closing the body unblocks a pending Read.
	defer func() {
		close(stop)
		_ = resp.Body.Close()
		<-done
	}()
	mk := func(b []byte, eos bool) *extprocv3.ProcessingRequest {
		return firstResp(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
			ResponseBody: &extprocv3.HttpBody{Body: b, EndOfStream: eos}}})
	}
	emit := func(b []byte) error {
		if len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		w.Flush()
		return nil
	}
	if err := x.pipeline("response_body", in, mk, emit); err != nil {
		var lr *localReply
		if errors.As(err, &lr) {
			return &errReset{lr.details}
		}
		return err
	}
	return x.responseTrailers(w, resp)
}

// chunkUpstream cuts the upstream body into the chunks Envoy would see:
// the upstream's own read boundaries, further split at ResponseSplits
// offsets and ResponseChunkSize. The last chunk carries end_of_stream when
// the length is known (content-length); for a chunked body an empty
// end_of_stream chunk follows, as Envoy's codec delivers the terminating
// chunk as an empty data frame with end_stream. With trailers, no chunk
// carries end_of_stream (HttpBody.end_of_stream: "no trailers will be
// sent").
func (x *exchange) chunkUpstream(resp *http.Response, src io.Reader, hasTrailers bool, in chan<- piece, stop <-chan struct{}) {
	defer close(in)
	put := func(p piece) bool {
		select {
		case in <- p:
			return true
		case <-stop:
			return false
		}
	}
	splits := append([]int(nil), x.g.cfg.ResponseSplits...)
	sort.Ints(splits)
	known := resp.ContentLength
	var off int64
	sentEOS := false
	buf := make([]byte, 32<<10)
	for {
		n, rerr := src.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			cut := len(data)
			if cs := x.g.cfg.ResponseChunkSize; cs > 0 && cs < cut {
				cut = cs
			}
			for _, s := range splits {
				if rel := int64(s) - off; rel > 0 && rel < int64(cut) {
					cut = int(rel)
					break
				}
			}
			p := piece{b: append([]byte(nil), data[:cut]...)}
			data = data[cut:]
			off += int64(cut)
			p.eos = known > 0 && off == known && !hasTrailers
			sentEOS = sentEOS || p.eos
			if !put(p) {
				return
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			put(piece{err: rerr})
			return
		}
	}
	if !sentEOS && !hasTrailers {
		put(piece{eos: true})
	}
}

// responseTrailers sends upstream trailers if response_trailer_mode is SEND
// ("This message is only sent if the trailers processing mode is set to
// SEND and the original upstream response has trailers").
func (x *exchange) responseTrailers(w *recorder, resp *http.Response) error {
	if len(resp.Trailer) == 0 {
		return nil
	}
	th := fromHTTP(resp.Trailer, hmap{})
	if x.modes.respTrailers && !x.done {
		presp, err := x.call("response_trailers", &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseTrailers{
			ResponseTrailers: &extprocv3.HttpTrailers{Trailers: th.proto()}}})
		if err != nil {
			var lr *localReply
			if errors.As(err, &lr) {
				return &errReset{lr.details}
			}
			return err
		}
		if presp != nil {
			if err := x.applyHeaderMutation(presp.GetResponseTrailers().GetHeaderMutation(), &th); err != nil {
				return &errReset{err.Error()}
			}
		}
	}
	for k, vs := range th.httpHeader() {
		for _, v := range vs {
			w.Header().Add(http.TrailerPrefix+k, v)
		}
	}
	return nil
}
