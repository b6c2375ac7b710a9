package harness

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/structpb"
)

// Message is one message on the ext_proc stream, in order.
type Message struct {
	At       time.Duration                 // since the downstream request arrived
	Phase    string                        // request_headers, request_body, response_body, ...
	Request  *extprocv3.ProcessingRequest  // set when Envoy sent it
	Response *extprocv3.ProcessingResponse // set when the processor sent it
}

// HTTPMessage is a captured HTTP request or response.
type HTTPMessage struct {
	Method string // requests only
	Path   string // requests only
	Status int    // responses only
	Header http.Header
	Body   []byte
}

// Trace records everything that happened to one downstream request.
type Trace struct {
	ClientRequest    HTTPMessage
	UpstreamRequest  *HTTPMessage // nil when no upstream call was made
	UpstreamResponse *HTTPMessage
	ClientResponse   HTTPMessage
	Route            string // name of the route finally used ("" if none)
	Messages         []Message
	// DynamicMetadata is the filter metadata emitted by the processor,
	// keyed by namespace and merged across responses.
	DynamicMetadata map[string]*structpb.Struct
	// LocalReply is set when the emulator answered itself: "immediate_response",
	// "ext_proc_error_...", "route_not_found", ...
	LocalReply string
	// StreamClosed says how the ext_proc stream ended early, if it did:
	// "eof" (clean close), "failure_mode_allow: ...", "error: ...".
	StreamClosed string
	// RejectedMutations counts header mutations ignored per the rules
	// (Envoy's rejected_header_mutations counter).
	RejectedMutations int
	// Reset is true when the downstream stream was reset mid-response.
	Reset bool

	start time.Time
}

// Phases returns the phase of every message, for compact assertions:
// ">request_headers" for a request, "<request_headers" for a response.
func (t *Trace) Phases() []string {
	out := make([]string, 0, len(t.Messages))
	for _, m := range t.Messages {
		dir := ">"
		if m.Response != nil {
			dir = "<"
		}
		out = append(out, dir+m.Phase)
	}
	return out
}

// String renders the trace for demos and failure messages.
func (t *Trace) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "client -> %s %s\n", t.ClientRequest.Method, t.ClientRequest.Path)
	for _, m := range t.Messages {
		if m.Request != nil {
			fmt.Fprintf(&b, "  envoy -> ext_proc %-17s %s\n", m.Phase, compact(prototext.Format(m.Request)))
		} else {
			fmt.Fprintf(&b, "  ext_proc -> envoy %-17s %s\n", m.Phase, compact(prototext.Format(m.Response)))
		}
	}
	if t.UpstreamRequest != nil {
		fmt.Fprintf(&b, "upstream <- %s %s (%d bytes)\n", t.UpstreamRequest.Method, t.UpstreamRequest.Path, len(t.UpstreamRequest.Body))
	}
	if t.LocalReply != "" {
		fmt.Fprintf(&b, "local reply: %s\n", t.LocalReply)
	}
	fmt.Fprintf(&b, "client <- %d (%d bytes)\n", t.ClientResponse.Status, len(t.ClientResponse.Body))
	return b.String()
}

func compact(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func cloneHeader(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	return h.Clone()
}
