package harness

import (
	"fmt"
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"golang.org/x/net/http/httpguts"
)

// hmap is an ordered, lower-cased header list like Envoy's HeaderMap,
// including pseudo-headers (:method, :path, :status, ...).
type hmap []hkv

type hkv struct{ k, v string }

func (h hmap) get(k string) (string, bool) {
	for _, e := range h {
		if e.k == k {
			return e.v, true
		}
	}
	return "", false
}

func (h hmap) has(k string) bool { _, ok := h.get(k); return ok }

// set replaces every value of k with v (Envoy setCopy).
func (h *hmap) set(k, v string) {
	out := (*h)[:0]
	done := false
	for _, e := range *h {
		if e.k == k {
			if done {
				continue
			}
			e.v, done = v, true
		}
		out = append(out, e)
	}
	if !done {
		out = append(out, hkv{k, v})
	}
	*h = out
}

// add appends another value for k (Envoy addCopy).
func (h *hmap) add(k, v string) { *h = append(*h, hkv{k, v}) }

func (h *hmap) del(k string) {
	out := (*h)[:0]
	for _, e := range *h {
		if e.k != k {
			out = append(out, e)
		}
	}
	*h = out
}

// proto renders the map as external_processor.proto HttpHeaders expects:
// "All header keys will be lower-cased ... The header value is encoded in
// the raw_value field."
func (h hmap) proto() *corev3.HeaderMap {
	m := &corev3.HeaderMap{Headers: make([]*corev3.HeaderValue, 0, len(h))}
	for _, e := range h {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: e.k, RawValue: []byte(e.v)})
	}
	return m
}

// httpHeader returns the regular (non-pseudo) headers.
func (h hmap) httpHeader() http.Header {
	out := http.Header{}
	for _, e := range h {
		if strings.HasPrefix(e.k, ":") {
			continue
		}
		out[http.CanonicalHeaderKey(e.k)] = append(out[http.CanonicalHeaderKey(e.k)], e.v)
	}
	return out
}

func fromHTTP(hdr http.Header, into hmap) hmap {
	for k, vs := range hdr {
		lk := strings.ToLower(k)
		if hopByHop(lk) {
			continue
		}
		for _, v := range vs {
			into = append(into, hkv{lk, v})
		}
	}
	return into
}

// hopByHop headers are consumed by the HTTP codec and never reach filters.
func hopByHop(k string) bool {
	switch k {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer":
		return true
	}
	return false
}

// errMutation is a mutation that Envoy rejects with a local reply (500)
// whatever failure_mode_allow says: ext_proc.cc sends "an immediate response
// with an error message ... for example, after a header mutation is
// rejected".
type errMutation struct{ msg string }

func (e *errMutation) Error() string { return e.msg }

func validName(k string) bool {
	return httpguts.ValidHeaderFieldName(strings.TrimPrefix(k, ":"))
}

// applyHeaderMutation follows external_processor.proto HeaderMutation and
// Envoy's mutation_utils.cc applyHeaderMutations: removals first, then sets;
// each checked against HeaderMutationRules; ignored mutations counted.
func (x *exchange) applyHeaderMutation(m *extprocv3.HeaderMutation, h *hmap) error {
	if m == nil {
		return nil
	}
	ck := x.g.rules
	for _, k := range m.GetRemoveHeaders() {
		k = strings.ToLower(k)
		if !validName(k) {
			return &errMutation{"invalid character in remove_headers mutation"}
		}
		if !ck.removable(k) {
			x.tr.RejectedMutations++
			// HeaderMutationRules.disallow_is_error: "the filter ... will
			// terminate the request with a 500 error". Removal of ":" and
			// host headers is always silently ignored.
			if ck.disallowIsError && !strings.HasPrefix(k, ":") && k != "host" {
				return &errMutation{"invalid attempt to remove " + k}
			}
			continue
		}
		h.del(k)
	}
	for _, o := range m.GetSetHeaders() {
		if o.GetHeader() == nil {
			continue
		}
		k := strings.ToLower(o.GetHeader().GetKey())
		v, err := headerValue(o.GetHeader())
		if err != nil {
			return &errMutation{err.Error()}
		}
		if !validName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return &errMutation{"invalid character in set_headers mutation"}
		}
		exists := h.has(k)
		var appendMode, apply bool
		// HeaderValueOption.append_action; when it is the zero value
		// (APPEND_IF_EXISTS_OR_ADD) the deprecated `append` BoolValue
		// decides, and external_processor.proto says "the append field ...
		// defaults to false when used in this message" (so: overwrite).
		switch o.GetAppendAction() {
		case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
			appendMode, apply = o.GetAppend().GetValue(), true
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			appendMode, apply = true, !exists
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			appendMode, apply = false, true
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
			appendMode, apply = false, exists
		default:
			return &errMutation{fmt.Sprintf("invalid append_action %d", o.GetAppendAction())}
		}
		if !apply {
			continue
		}
		if !ck.allowed(k) {
			// HeaderMutation.set_headers: "Attempts to set the value of any
			// x-envoy header, and attempts to set the :method, :authority,
			// :scheme, or host headers will be ignored."
			x.tr.RejectedMutations++
			if ck.disallowIsError {
				return &errMutation{"invalid attempt to modify " + k}
			}
			continue
		}
		if appendMode {
			h.add(k, v)
		} else {
			h.set(k, v)
		}
	}
	return nil
}
