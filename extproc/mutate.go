package extproc

import (
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// headers is a read view of an Envoy HeaderMap with lowercase keys.
// Envoy sends header names lowercased (HTTP/2 semantics) and values in
// raw_value (HeaderValue.raw_value; value is used by older Envoys).
type headers []*corev3.HeaderValue

func (h headers) get(key string) string {
	for _, v := range h {
		if v.GetKey() == key {
			if rv := v.GetRawValue(); len(rv) > 0 {
				return string(rv)
			}
			return v.GetValue()
		}
	}
	return ""
}

// mutation accumulates header changes for one response message.
type mutation struct {
	set    []*corev3.HeaderValueOption
	remove []string
}

func (m *mutation) setHeader(key, value string) {
	m.set = append(m.set, &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, RawValue: []byte(value)},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	})
}

func (m *mutation) removeHeader(key string) { m.remove = append(m.remove, key) }

func (m *mutation) proto() *extprocv3.HeaderMutation {
	if m == nil || (len(m.set) == 0 && len(m.remove) == 0) {
		return nil
	}
	return &extprocv3.HeaderMutation{SetHeaders: m.set, RemoveHeaders: m.remove}
}

// removeClientWardHeaders strips every client-sent x-ward-* header so a
// caller cannot spoof the identity Ward asserts to Envoy and upstream.
func (m *mutation) removeClientWardHeaders(h headers, prefix string) {
	for _, v := range h {
		if strings.HasPrefix(v.GetKey(), prefix) {
			m.removeHeader(v.GetKey())
		}
	}
}

func requestHeadersResponse(c *extprocv3.CommonResponse, mode *filterv3.ProcessingMode, md *structpb.Struct) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{
		Response:        &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{Response: c}},
		ModeOverride:    mode,
		DynamicMetadata: md,
	}
}

func requestBodyResponse(c *extprocv3.CommonResponse, md *structpb.Struct) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{
		Response:        &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{Response: c}},
		DynamicMetadata: md,
	}
}

func responseHeadersResponse(c *extprocv3.CommonResponse, mode *filterv3.ProcessingMode) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{
		Response:     &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{Response: c}},
		ModeOverride: mode,
	}
}

func responseBodyResponse(c *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{
		Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{Response: c}},
	}
}

// bodyReplacement replaces a buffered body and fixes content-length:
// Envoy forwards the header as given, and a length that disagrees with the
// body makes the upstream (or Envoy's codec) reject the message.
func bodyReplacement(m *mutation, body []byte) *extprocv3.CommonResponse {
	m.setHeader("content-length", strconv.Itoa(len(body)))
	return &extprocv3.CommonResponse{
		HeaderMutation: m.proto(),
		BodyMutation:   &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: body}},
	}
}

// immediate builds a local reply: Envoy answers the client itself and
// never (or no further) contacts the upstream.
func immediate(status int, body []byte, hdrs map[string]string, details string) *extprocv3.ProcessingResponse {
	m := &mutation{}
	m.setHeader("content-type", "application/json")
	for k, v := range hdrs {
		m.setHeader(k, v)
	}
	return &extprocv3.ProcessingResponse{
		Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Headers: m.proto(),
			Body:    body,
			Details: details,
		}},
	}
}

// metadata builds dynamic metadata under Ward's namespace from string pairs.
func metadata(ns string, kv ...string) *structpb.Struct {
	fields := make(map[string]*structpb.Value, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			fields[kv[i]] = structpb.NewStringValue(kv[i+1])
		}
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		ns: structpb.NewStructValue(&structpb.Struct{Fields: fields}),
	}}
}
