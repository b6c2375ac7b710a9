// Package harness is an Envoy emulator for tests and demos: an HTTP front
// that plays the ext_proc filter's CLIENT role (one ExternalProcessor.Process
// gRPC stream per downstream request) and routes to upstreams the way an
// Envoy route table would.
//
// Every emulated behaviour carries a comment naming the Envoy doc or proto
// field it follows. Sources, abbreviated in comments:
//
//	ext_proc.proto        envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto
//	processing_mode.proto envoy/extensions/filters/http/ext_proc/v3/processing_mode.proto
//	external_processor.proto envoy/service/ext_proc/v3/external_processor.proto
//	mutation_rules.proto  envoy/config/common/mutation_rules/v3/mutation_rules.proto
//	ext_proc filter docs  docs/root/configuration/http/http_filters/ext_proc_filter.rst
//
// Known deviations are listed in docs/harness.md.
package harness

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
)

// Type aliases so callers need not import go-control-plane for the common
// case.
type (
	ProcessingMode  = filterv3.ProcessingMode
	ExtProcPerRoute = filterv3.ExtProcPerRoute
	BodySendMode    = filterv3.ProcessingMode_BodySendMode
)

// Processing-mode enum values, re-exported for brevity in tests.
const (
	Send = filterv3.ProcessingMode_SEND
	Skip = filterv3.ProcessingMode_SKIP

	BodyNone            = filterv3.ProcessingMode_NONE
	BodyStreamed        = filterv3.ProcessingMode_STREAMED
	BodyBuffered        = filterv3.ProcessingMode_BUFFERED
	BodyBufferedPartial = filterv3.ProcessingMode_BUFFERED_PARTIAL
)

// DefaultMessageTimeout is ext_proc.proto message_timeout's documented
// default: "If not configured, default is 200 milliseconds."
const DefaultMessageTimeout = 200 * time.Millisecond

// DefaultMaxBufferBytes mirrors Envoy's default per-connection buffer limit
// (1 MiB), which bounds BUFFERED bodies.
const DefaultMaxBufferBytes = 1 << 20

// HeaderMatch matches one request header exactly; an empty Value means the
// header only has to be present (route.v3.HeaderMatcher present_match).
type HeaderMatch struct {
	Name  string
	Value string
}

// Route is one entry of the emulated route table. Routes are tried in order,
// first match wins, as in Envoy's route.v3.VirtualHost routes.
type Route struct {
	Name       string
	PathPrefix string // matched against the beginning of :path
	Headers    []HeaderMatch
	// Upstream is the base URL (scheme://host:port) the request is sent to;
	// :path is appended unchanged.
	Upstream string
	// ExtProc is the route's typed_per_filter_config for the ext_proc
	// filter (ExtProcPerRoute: disabled, or overrides.processing_mode /
	// request_attributes / response_attributes / failure_mode_allow).
	ExtProc *ExtProcPerRoute
}

// Config describes one ext_proc filter plus the route table around it.
// The zero value of every field means Envoy's default for it.
type Config struct {
	// ProcessorAddr is the ext_proc server: "host:port" or "unix:///path".
	ProcessorAddr string
	// ProcessorCluster is the envoy_grpc cluster_name when built by
	// FromFilterConfig; the caller resolves it into ProcessorAddr.
	ProcessorCluster string

	// Mode is ExternalProcessor.processing_mode (nil: proto defaults,
	// i.e. headers SEND, bodies NONE, trailers SKIP).
	Mode              *ProcessingMode
	AllowModeOverride bool
	// AllowedOverrideModes is ExternalProcessor.allowed_override_modes.
	AllowedOverrideModes []*ProcessingMode
	// MessageTimeout 0 means DefaultMessageTimeout. Use a tiny positive
	// value to emulate "zero ... the timer will be triggered immediately".
	MessageTimeout time.Duration
	// MaxMessageTimeout enables override_message_timeout (0 disables it).
	MaxMessageTimeout time.Duration
	FailureModeAllow  bool
	// StatusOnError is ExternalProcessor.status_on_error (0: 500).
	StatusOnError int
	// MutationRules is ExternalProcessor.mutation_rules (nil: defaults).
	MutationRules            *mutationv3.HeaderMutationRules
	RouteCacheAction         filterv3.ExternalProcessor_RouteCacheAction
	DisableClearRouteCache   bool
	DisableImmediateResponse bool
	AllowContentLengthHeader bool
	RequestAttributes        []string
	ResponseAttributes       []string
	// ReceivingNamespaces is metadata_options.receiving_namespaces.untyped.
	// ext_proc.proto: "Set to empty or leave unset to disallow writing any
	// received dynamic metadata." Tests that assert metadata must set it.
	ReceivingNamespaces []string

	Routes []Route
	// MaxBufferBytes bounds BUFFERED/BUFFERED_PARTIAL bodies (0: 1 MiB).
	MaxBufferBytes int

	// ResponseSplits forces STREAMED response chunk boundaries at these
	// absolute body offsets, in addition to the upstream's own read
	// boundaries, so tests can split SSE events at arbitrary bytes.
	ResponseSplits []int
	// ResponseChunkSize caps each STREAMED response chunk (0: no cap).
	ResponseChunkSize int
	// RequestChunkSize caps each STREAMED request chunk (0: 64 KiB).
	RequestChunkSize int
}

// FromFilterConfig converts go-control-plane's ExternalProcessor proto (as
// loaded from an envoy.yaml http_filters entry) into a Config. Routes are not
// part of the filter config; the caller adds them. Unsupported settings are
// reported together, each with its field path.
func FromFilterConfig(pb *filterv3.ExternalProcessor) (Config, error) {
	if pb == nil {
		return Config{}, errors.New("ext_proc: nil ExternalProcessor")
	}
	var errs []error
	c := Config{
		Mode:                     pb.GetProcessingMode(),
		AllowModeOverride:        pb.GetAllowModeOverride(),
		AllowedOverrideModes:     pb.GetAllowedOverrideModes(),
		FailureModeAllow:         pb.GetFailureModeAllow(),
		MutationRules:            pb.GetMutationRules(),
		RouteCacheAction:         pb.GetRouteCacheAction(),
		DisableClearRouteCache:   pb.GetDisableClearRouteCache(),
		DisableImmediateResponse: pb.GetDisableImmediateResponse(),
		AllowContentLengthHeader: pb.GetAllowContentLengthHeader(),
		RequestAttributes:        pb.GetRequestAttributes(),
		ResponseAttributes:       pb.GetResponseAttributes(),
		ReceivingNamespaces:      pb.GetMetadataOptions().GetReceivingNamespaces().GetUntyped(),
	}
	if d := pb.GetMessageTimeout(); d != nil {
		c.MessageTimeout = d.AsDuration()
		if c.MessageTimeout == 0 {
			c.MessageTimeout = time.Nanosecond // "Zero ... triggered immediately"
		}
	}
	if d := pb.GetMaxMessageTimeout(); d != nil {
		c.MaxMessageTimeout = d.AsDuration()
	}
	if s := pb.GetStatusOnError(); s != nil {
		c.StatusOnError = int(s.GetCode())
	}
	gs := pb.GetGrpcService()
	switch {
	case gs.GetGoogleGrpc() != nil:
		c.ProcessorAddr = gs.GetGoogleGrpc().GetTargetUri()
	case gs.GetEnvoyGrpc() != nil:
		c.ProcessorCluster = gs.GetEnvoyGrpc().GetClusterName()
	default:
		errs = append(errs, errors.New("grpc_service: required (http_service is not emulated)"))
	}
	if pb.GetObservabilityMode() {
		errs = append(errs, errors.New("observability_mode: not emulated"))
	}
	if pb.GetSendBodyWithoutWaitingForHeaderResponse() {
		errs = append(errs, errors.New("send_body_without_waiting_for_header_response: not emulated"))
	}
	if pb.GetDisableClearRouteCache() && pb.GetRouteCacheAction() != filterv3.ExternalProcessor_DEFAULT {
		// ext_proc.proto: "Only one of disable_clear_route_cache or
		// route_cache_action can be set."
		errs = append(errs, errors.New("route_cache_action: cannot be set together with disable_clear_route_cache"))
	}
	errs = append(errs, validateMode("processing_mode", c.Mode)...)
	for i, m := range c.AllowedOverrideModes {
		errs = append(errs, validateMode(fmt.Sprintf("allowed_override_modes[%d]", i), m)...)
	}
	return c, errors.Join(errs...)
}

func validateMode(path string, m *ProcessingMode) []error {
	var errs []error
	for _, b := range []struct {
		name string
		mode filterv3.ProcessingMode_BodySendMode
	}{{"request_body_mode", m.GetRequestBodyMode()}, {"response_body_mode", m.GetResponseBodyMode()}} {
		switch b.mode {
		case BodyNone, BodyStreamed, BodyBuffered, BodyBufferedPartial:
		default:
			errs = append(errs, fmt.Errorf("%s.%s: %s is not emulated", path, b.name, b.mode))
		}
	}
	return errs
}

// validate checks a Config and precomputes what the hot path needs.
func (c *Config) validate() (*checker, error) {
	var errs []error
	if c.ProcessorAddr == "" {
		errs = append(errs, errors.New("processor_addr: required"))
	}
	for i, r := range c.Routes {
		if r.Upstream == "" {
			errs = append(errs, fmt.Errorf("routes[%d].upstream: required", i))
		} else if !strings.HasPrefix(r.Upstream, "http://") && !strings.HasPrefix(r.Upstream, "https://") {
			errs = append(errs, fmt.Errorf("routes[%d].upstream: %q is not an http(s) base URL", i, r.Upstream))
		}
		if r.ExtProc != nil {
			errs = append(errs, validateMode(fmt.Sprintf("routes[%d].ext_proc.overrides.processing_mode", i), r.ExtProc.GetOverrides().GetProcessingMode())...)
		}
	}
	errs = append(errs, validateMode("mode", c.Mode)...)
	if c.MessageTimeout < 0 {
		errs = append(errs, errors.New("message_timeout: negative"))
	}
	if c.MaxBufferBytes < 0 {
		errs = append(errs, errors.New("max_buffer_bytes: negative"))
	}
	ck, err := newChecker(c.MutationRules)
	if err != nil {
		errs = append(errs, fmt.Errorf("mutation_rules: %w", err))
	}
	if c.MessageTimeout == 0 {
		c.MessageTimeout = DefaultMessageTimeout
	}
	if c.MaxBufferBytes == 0 {
		c.MaxBufferBytes = DefaultMaxBufferBytes
	}
	if c.StatusOnError == 0 {
		c.StatusOnError = 500 // ext_proc.proto status_on_error: "The default status is HTTP 500"
	}
	if c.RequestChunkSize == 0 {
		c.RequestChunkSize = 64 << 10
	}
	return ck, errors.Join(errs...)
}

// checker implements HeaderMutationRules exactly as mutation_rules.proto
// documents it (and Envoy's mutation_rules.cc Checker orders the tests).
type checker struct {
	allowRouting, allowEnvoy, disallowSystem, disallowAll, disallowIsError bool
	allowExpr, disallowExpr                                                *regexp.Regexp
}

func newChecker(r *mutationv3.HeaderMutationRules) (*checker, error) {
	c := &checker{
		allowRouting:    r.GetAllowAllRouting().GetValue(),
		allowEnvoy:      r.GetAllowEnvoy().GetValue(),
		disallowSystem:  r.GetDisallowSystem().GetValue(),
		disallowAll:     r.GetDisallowAll().GetValue(),
		disallowIsError: r.GetDisallowIsError().GetValue(),
	}
	var errs []error
	if e := r.GetAllowExpression(); e != nil {
		re, err := regexp.Compile("^(?:" + e.GetRegex() + ")$")
		if err != nil {
			errs = append(errs, fmt.Errorf("allow_expression: %w", err))
		}
		c.allowExpr = re
	}
	if e := r.GetDisallowExpression(); e != nil {
		re, err := regexp.Compile("^(?:" + e.GetRegex() + ")$")
		if err != nil {
			errs = append(errs, fmt.Errorf("disallow_expression: %w", err))
		}
		c.disallowExpr = re
	}
	return c, errors.Join(errs...)
}

// allowed reports whether a set/append of header name (lower case) is
// permitted.
func (c *checker) allowed(name string) bool {
	// mutation_rules.proto disallow_expression: "disallow any header that
	// matches this regular expression regardless of any other settings".
	if c.disallowExpr != nil && c.disallowExpr.MatchString(name) {
		return false
	}
	// allow_expression: "overrides all other settings except for
	// disallow_expression".
	if c.allowExpr != nil && c.allowExpr.MatchString(name) {
		return true
	}
	if c.disallowAll {
		return false
	}
	// allow_all_routing: by default "host, :authority, :scheme, and
	// :method" cannot be modified. (:path can: it is not in this list.)
	if !c.allowRouting {
		switch name {
		case "host", ":authority", ":scheme", ":method":
			return false
		}
	}
	if c.disallowSystem && strings.HasPrefix(name, ":") {
		return false
	}
	// allow_envoy: "modification of envoy internal headers. By default,
	// these start with x-envoy ... Default is false."
	if !c.allowEnvoy && strings.HasPrefix(name, "x-envoy") {
		return false
	}
	return true
}

// removable adds external_processor.proto HeaderMutation.remove_headers:
// "Attempts to remove system headers -- any header starting with ':', plus
// host -- will be ignored", and mutation_rules.proto: "system-defined
// headers ... and the host header may never be removed".
func (c *checker) removable(name string) bool {
	if strings.HasPrefix(name, ":") || name == "host" {
		return false
	}
	return c.allowed(name)
}

// Default per-part modes (processing_mode.proto): request and response
// headers SEND, bodies NONE, trailers SKIP.
type modes struct {
	reqHeaders, respHeaders   bool
	reqTrailers, respTrailers bool
	reqBody, respBody         filterv3.ProcessingMode_BodySendMode
}

func modesFrom(m *ProcessingMode) modes {
	return modes{
		reqHeaders:   m.GetRequestHeaderMode() != Skip,
		respHeaders:  m.GetResponseHeaderMode() != Skip,
		reqTrailers:  m.GetRequestTrailerMode() == Send,
		respTrailers: m.GetResponseTrailerMode() == Send,
		reqBody:      m.GetRequestBodyMode(),
		respBody:     m.GetResponseBodyMode(),
	}
}

// override applies a mode_override. processing_mode.proto HeaderSendMode:
// in mode_override "a value of DEFAULT indicates that there is no change";
// request_header_mode "is ignored in mode_override". Body modes have no
// DEFAULT value, so the override's body modes replace the current ones (as
// Envoy's setProcessingMode does).
func (m *modes) override(o *ProcessingMode, request bool) {
	if request {
		if v := o.GetRequestTrailerMode(); v != filterv3.ProcessingMode_DEFAULT {
			m.reqTrailers = v == Send
		}
		m.reqBody = o.GetRequestBodyMode()
	}
	if v := o.GetResponseHeaderMode(); v != filterv3.ProcessingMode_DEFAULT {
		m.respHeaders = v == Send
	}
	if v := o.GetResponseTrailerMode(); v != filterv3.ProcessingMode_DEFAULT {
		m.respTrailers = v == Send
	}
	m.respBody = o.GetResponseBodyMode()
}

// headerValue reads a HeaderValue the way Envoy does with the default
// runtime guard envoy.reloadable_features.send_header_raw_value=true: only
// raw_value is read, so a mutation that sets only `value` yields an EMPTY
// header (envoyproxy/envoy#31555). Setting both is an error in
// mutation_utils.cc ("Only one of value or raw_value ... should be set").
func headerValue(h *corev3.HeaderValue) (string, error) {
	if h.GetValue() != "" && len(h.GetRawValue()) != 0 {
		return "", fmt.Errorf("header %q: only one of value or raw_value may be set", h.GetKey())
	}
	return string(h.GetRawValue()), nil
}
