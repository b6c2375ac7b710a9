package extproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/identity"
	"github.com/wardhq/ward/extproc/llm"
)

// The stages of the pipeline, each a small interface defined here where it
// is used. Later features plug in as implementations without touching the
// stream loop: authn → parse → detectors → policy → mutate → audit.

// Authenticator maps the caller's credential to an identity.
type Authenticator interface {
	Authenticate(authorization, xAPIKey string) (identity.Caller, error)
}

// ProviderKeys yields the credential to inject for a provider.
type ProviderKeys interface {
	Get(provider string) (identity.ProviderKey, error)
}

// Detector annotates an interaction (PHI findings, injection and topic
// scores, token estimates) at a phase. It must not mutate bodies.
type Detector interface {
	Detect(ctx context.Context, phase Phase, ix *Interaction) error
}

// Decider is the policy stage.
type Decider interface {
	Decide(ctx context.Context, phase Phase, ix *Interaction) (Decision, error)
}

// Redactor rewrites one text given findings (offsets relative to text)
// and the rules the decision chose. It returns what it redacted.
type Redactor interface {
	Redact(text string, findings []Finding, rules []RedactRule) (string, []Redaction)
}

// Recorder receives the finished interaction (the audit stage). In async
// mode Record must not block on I/O; an error means the event could not be
// accepted (e.g. the spool is full).
type Recorder interface {
	Record(ctx context.Context, ix *Interaction) error
}

// Admitter is optionally implemented by a Recorder that can refuse new
// work (audit spool full) so fail-closed profiles deny up front.
type Admitter interface {
	Admit() error
}

// Settler is optionally implemented by a Detector that finishes its work
// when the interaction ends (usage and cost, whatever the response shape).
type Settler interface {
	Settle(ix *Interaction)
}

// Limiter is optionally implemented by a Detector that enforces rate
// limits. The pipeline consults it after the request detectors (token
// estimates are known) and before policy. ok false ends the exchange with
// the returned denial; its Headers (e.g. Retry-After) reach the client.
type Limiter interface {
	Check(ctx context.Context, ix *Interaction) (dec Decision, ok bool)
}

// RequestMutator edits an allowed request body after policy (e.g. adding
// stream_options.include_usage). It returns the body unchanged when it has
// nothing to do.
type RequestMutator interface {
	MutateRequest(ix *Interaction, body []byte) ([]byte, error)
}

// Pipeline holds the shared, read-only parts every stream uses.
type Pipeline struct {
	Config    *config.Config
	Auth      Authenticator
	Keys      ProviderKeys
	Detectors []Detector
	Decider   Decider // nil: allow everything (audit only)
	Redactor  Redactor
	Mutators  []RequestMutator
	Recorder  Recorder // nil: no audit
	Metrics   *Metrics
	Log       *slog.Logger
	Now       func() time.Time
	// Tracer traces each interaction (nil: no tracing).
	Tracer trace.Tracer

	once sync.Once
}

// NewProcessor is the ProcessorFactory.
func (p *Pipeline) NewProcessor(ctx context.Context) Processor {
	p.once.Do(func() {
		if p.Log == nil {
			p.Log = slog.New(slog.DiscardHandler)
		}
		if p.Metrics == nil {
			p.Metrics = NewMetrics(nil)
		}
		if p.Now == nil {
			p.Now = time.Now
		}
		if p.Tracer == nil {
			p.Tracer = noop.NewTracerProvider().Tracer("")
		}
	})
	now := p.Now
	ix := &Interaction{StreamStart: now()}
	if id, err := uuid.NewV7(); err == nil {
		ix.EventID = id.String()
	}
	return &wardProcessor{p: p, now: now, ix: ix}
}

// wardProcessor is the per-stream state machine:
//
//	request headers → request body → response headers → response body(ies) → close
//
// Any phase may end the exchange with an ImmediateResponse; finish runs
// exactly once, before the final message is answered when there is one.
type wardProcessor struct {
	p   *Pipeline
	now func() time.Time
	ix  *Interaction

	reqEncoding  string
	respEncoding string
	pending      []byte // request or response body chunks not yet at end_of_stream
	guard        *streamGuard
	finished     bool
	span         trace.Span
	spanCtx      context.Context
	msgStart     time.Time // when the message being processed arrived
}

func (w *wardProcessor) cfg() *config.Config { return w.p.Config }

// track adds one message's processing time to the interaction. The
// message that finishes the interaction is counted by finish, up to the
// moment the audit event is built.
func (w *wardProcessor) track(start time.Time) {
	if !w.finished {
		w.ix.WardTime += w.now().Sub(start)
	}
}

// ---- request headers -------------------------------------------------

func (w *wardProcessor) RequestHeaders(ctx context.Context, hm *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	w.msgStart = w.now()
	defer w.track(w.msgStart)
	ix := w.ix
	h := headers(hm.GetHeaders().GetHeaders())
	ix.Method = h.get(":method")
	ix.Path = h.get(":path")
	ix.RequestID = h.get("x-request-id")
	ix.Traceparent = h.get("traceparent")
	w.startInteractionSpan(ctx)
	w.reqEncoding = normEncoding(h.get("content-encoding"))
	ix.Endpoint, ix.Dialect = llm.Route(ix.Path)
	if ix.Endpoint == llm.EndpointUnparsed {
		ix.Unparsed = true
		ix.Dialect = guessDialect(ix.Path, h)
	}
	ix.ProviderName = string(ix.Dialect)

	// A first profile from the path alone decides whether the route needs
	// a caller key at all (health checks do not).
	cfg := w.cfg()
	w.setProfile(cfg.ProfileFor(ix.Path, "", "", ""))
	if config.Enabled(ix.Profile.RequireAuth, true) {
		caller, err := w.p.Auth.Authenticate(h.get("authorization"), h.get("x-api-key"))
		if err != nil {
			ix.Err = err
			return w.deny(ctx, http.StatusUnauthorized, "invalid_api_key", err.Error()), nil
		}
		ix.Caller, ix.Authenticated = caller, true
		w.setProfile(cfg.ProfileFor(ix.Path, caller.Team, caller.App, caller.Profile))
	}
	if ix.Unparsed && ix.Profile.UnknownPaths == "deny" {
		return w.deny(ctx, http.StatusNotFound, "unknown_path",
			fmt.Sprintf("path %q is not an LLM API this gateway serves", ix.Path)), nil
	}
	if a, ok := w.p.Recorder.(Admitter); ok && !ix.Profile.FailOpen {
		if err := a.Admit(); err != nil {
			ix.Err = err
			return w.deny(ctx, http.StatusServiceUnavailable, "audit_unavailable",
				"the audit trail cannot accept events; this route fails closed"), nil
		}
	}

	m := &mutation{}
	m.removeClientWardHeaders(h, config.HeaderPrefix)
	if err := w.identityHeaders(m); err != nil {
		ix.Err = err
		return w.deny(ctx, http.StatusBadGateway, "provider_key_missing",
			"the gateway has no credential for this provider"), nil
	}

	// Ward states the body modes its profile needs (mode_override in the
	// request-headers response, honoured with allow_mode_override): it turns
	// inspection off for passthrough routes and on where Envoy's route-level
	// default is lighter than the profile (e.g. response usage for cost).
	inspectReq := config.Enabled(ix.Profile.InspectRequest, true) && !ix.Unparsed
	inspectResp := config.Enabled(ix.Profile.InspectResponse, true) && !ix.Unparsed
	mode := &filterv3.ProcessingMode{
		RequestHeaderMode:  filterv3.ProcessingMode_SEND,
		RequestBodyMode:    filterv3.ProcessingMode_BUFFERED,
		ResponseHeaderMode: filterv3.ProcessingMode_SEND,
		ResponseBodyMode:   filterv3.ProcessingMode_BUFFERED,
	}
	if !inspectReq {
		mode.RequestBodyMode = filterv3.ProcessingMode_NONE
	}
	if !inspectResp {
		mode.ResponseBodyMode = filterv3.ProcessingMode_NONE
	}
	if hm.GetEndOfStream() || !inspectReq {
		// No body will follow (GET, empty POST) or none will be inspected:
		// the request phase ends here.
		if resp := w.requestPhase(ctx, nil, m); resp != nil {
			return resp, nil
		}
	}
	common := &extprocv3.CommonResponse{HeaderMutation: m.proto(), ClearRouteCache: true}
	return requestHeadersResponse(common, mode, w.metadata()), nil
}

func (w *wardProcessor) setProfile(name string) {
	w.ix.ProfileName = name
	w.ix.Profile = w.cfg().Profiles[name]
}

// identityHeaders strips the caller's credential, injects the provider's,
// and asserts identity to Envoy and upstream.
func (w *wardProcessor) identityHeaders(m *mutation) error {
	ix := w.ix
	if ix.Authenticated {
		m.setHeader(config.HeaderTeam, ix.Caller.Team)
		m.setHeader(config.HeaderKeyID, ix.Caller.KeyID)
		if ix.Caller.App != "" {
			m.setHeader(config.HeaderApp, ix.Caller.App)
		}
	}
	m.setHeader(config.HeaderProfile, ix.ProfileName)
	if ix.EventID != "" {
		m.setHeader(config.HeaderEventID, ix.EventID)
	}
	if ix.ProviderName == "" {
		return nil
	}
	m.setHeader(config.HeaderProvider, ix.ProviderName)
	if !ix.Authenticated {
		removeCredentials(m, "")
		return nil
	}
	key, err := w.p.Keys.Get(ix.ProviderName)
	if err != nil {
		return err
	}
	removeCredentials(m, key.AuthHeader)
	m.setHeader(key.AuthHeader, key.HeaderValue())
	return nil
}

// removeCredentials drops every credential header but keep, which the
// caller then overwrites with the provider key: the caller's Ward key never
// goes upstream, whatever order Envoy applies removals and sets in.
func removeCredentials(m *mutation, keep string) {
	for _, h := range [...]string{"authorization", "x-api-key", "api-key"} {
		if h != keep {
			m.removeHeader(h)
		}
	}
}

func (w *wardProcessor) metadata() *structpb.Struct {
	ix := w.ix
	return metadata(config.DynamicMetadataNamespace,
		"team", ix.Caller.Team, "app", ix.Caller.App, "key_id", ix.Caller.KeyID,
		"provider", ix.ProviderName, "profile", ix.ProfileName, "event_id", ix.EventID,
		"model", ix.ModelRouted, "decision", ix.Outcome)
}

// ---- request body ----------------------------------------------------

func (w *wardProcessor) RequestBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	w.msgStart = w.now()
	defer w.track(w.msgStart)
	limit := w.cfg().Server.MaxRequestBodyBytes
	if len(w.pending)+len(b.GetBody()) > limit {
		w.p.Metrics.BadInput("request_too_large")
		return w.deny(ctx, http.StatusRequestEntityTooLarge, "request_too_large",
			fmt.Sprintf("request body exceeds the gateway limit of %d bytes", limit)), nil
	}
	if !b.GetEndOfStream() {
		// Only BUFFERED mode hands Ward the whole body before anything goes
		// upstream; in other modes earlier chunks are already forwarded, so
		// Ward accumulates to audit but cannot enforce on them.
		w.p.Metrics.BadInput("request_body_not_buffered")
		w.pending = append(w.pending, b.GetBody()...)
		return requestBodyResponse(&extprocv3.CommonResponse{}, nil), nil
	}
	body := b.GetBody()
	if len(w.pending) > 0 {
		body = append(w.pending, body...)
		w.pending = nil
	}
	m := &mutation{}
	if resp := w.requestPhase(ctx, body, m); resp != nil {
		return resp, nil
	}
	var c *extprocv3.CommonResponse
	if w.ix.bodyChanged {
		if w.reqEncoding != "" {
			// Ward sends the decoded body; the encoding header must go too.
			m.removeHeader("content-encoding")
		}
		c = bodyReplacement(m, w.ix.RequestBody)
	} else {
		c = &extprocv3.CommonResponse{HeaderMutation: m.proto()}
	}
	c.ClearRouteCache = w.ix.rerouted
	return requestBodyResponse(c, w.metadata()), nil
}

// requestPhase parses, detects, decides and mutates the request. It returns
// a non-nil response when the exchange ends here (a denial).
func (w *wardProcessor) requestPhase(ctx context.Context, body []byte, m *mutation) *extprocv3.ProcessingResponse {
	ix := w.ix
	failOpen := ix.Profile.FailOpen
	if body != nil && !ix.Unparsed {
		decoded, err := llm.DecodeBody(w.reqEncoding, body, w.cfg().Server.MaxRequestBodyBytes)
		if err != nil {
			w.p.Metrics.BadInput("request_encoding")
			if !failOpen {
				return w.deny(ctx, http.StatusBadRequest, "invalid_request_encoding", "request body could not be decoded: "+err.Error())
			}
			ix.Unparsed, ix.Err = true, err
		} else {
			req, err := llm.ParseRequest(ix.Endpoint, decoded)
			if err != nil {
				w.p.Metrics.BadInput("malformed_request")
				if !failOpen {
					return w.deny(ctx, http.StatusBadRequest, "invalid_request", "request body is not a valid "+string(ix.Endpoint)+" request: "+err.Error())
				}
				ix.Unparsed, ix.Err = true, err
			} else {
				ix.Request, ix.RequestBody = req, decoded
				ix.ModelRequested, ix.ModelRouted = req.Model, req.Model
			}
		}
	}
	if ix.Request == nil {
		// Nothing to inspect (no body, unparsed, or passthrough profile):
		// forwarded as is and audited as such.
		return nil
	}

	w.detect(ctx, PhaseRequest)
	for _, d := range w.p.Detectors {
		if l, ok := d.(Limiter); ok {
			if dec, ok := l.Check(ctx, ix); !ok {
				ix.RequestDecision = &dec
				return w.denyDecision(ctx, dec, http.StatusTooManyRequests, "rate_limit_exceeded", "rate limit exceeded")
			}
		}
	}
	dec, resp := w.decide(ctx, PhaseRequest)
	if resp != nil {
		return resp
	}
	ix.RequestDecision = &dec
	if !dec.Allow {
		return w.denyDecision(ctx, dec, http.StatusForbidden, "policy_denied", "request denied by policy")
	}
	if err := w.applyRequestDecision(dec, m); err != nil {
		ix.Err = err
		if !failOpen {
			return w.deny(ctx, http.StatusInternalServerError, "mutation_failed", "the gateway could not apply its policy to this request")
		}
	}
	return nil
}

// detect runs every detector for a phase. A failing detector is logged
// and counted; the others still run and the policy sees what they found.
func (w *wardProcessor) detect(ctx context.Context, phase Phase) {
	span := w.stageSpan("ward.detect")
	defer span.End()
	for _, d := range w.p.Detectors {
		if err := d.Detect(ctx, phase, w.ix); err != nil {
			w.p.Log.Warn("detector failed", "phase", phase, "error", err)
			w.p.Metrics.BadInput("detector_error")
		}
	}
}

// decide runs the policy, applying the profile's failure mode. A non-nil
// response is a fail-closed denial.
func (w *wardProcessor) decide(ctx context.Context, phase Phase) (Decision, *extprocv3.ProcessingResponse) {
	ix := w.ix
	if w.p.Decider == nil {
		return Decision{Allow: true}, nil
	}
	span := w.stageSpan("ward.policy")
	dec, err := w.p.Decider.Decide(ctx, phase, ix)
	span.End()
	if err == nil {
		return dec, nil
	}
	if dec, open := w.policyFailed(err); open {
		return dec, nil
	}
	return Decision{}, w.deny(ctx, http.StatusServiceUnavailable, "policy_error", "the gateway's policy could not be evaluated; request denied")
}

// policyFailed records a policy error and applies the profile's failure
// mode: on a fail-open profile it returns the allow decision to use
// (open true); on a fail-closed one the caller ends the exchange.
func (w *wardProcessor) policyFailed(err error) (dec Decision, open bool) {
	ix := w.ix
	ix.Err = err
	if ix.Profile.FailOpen {
		w.p.Metrics.policyErrors.WithLabelValues(ix.ProfileName, "fail_open").Inc()
		w.p.Log.Warn("policy error; profile fails open", "profile", ix.ProfileName, "error", err)
		return Decision{Allow: true, FailedOpen: true, ReasonCode: "policy_error"}, true
	}
	w.p.Metrics.policyErrors.WithLabelValues(ix.ProfileName, "fail_closed").Inc()
	w.p.Log.Error("policy error; profile fails closed", "profile", ix.ProfileName, "error", err)
	return Decision{}, false
}

func (w *wardProcessor) applyRequestDecision(dec Decision, m *mutation) error {
	ix := w.ix
	body := ix.RequestBody
	changed := false
	var errs []error
	if len(dec.Redact) > 0 && len(ix.Findings) > 0 {
		edits, reds := w.redactParts(ix.Request.Parts, ix.Findings, dec.Redact, PhaseRequest)
		if len(edits) > 0 {
			nb, err := llm.RewriteStrings(body, edits)
			if err != nil {
				errs = append(errs, fmt.Errorf("redact request: %w", err))
			} else {
				body, changed = nb, true
				ix.Redactions = append(ix.Redactions, reds...)
			}
		}
	}
	if dec.RouteModel != "" && dec.RouteModel != ix.ModelRequested {
		nb, err := llm.SetModel(body, dec.RouteModel)
		if err != nil {
			errs = append(errs, fmt.Errorf("route model: %w", err))
		} else {
			body, changed = nb, true
			ix.ModelRouted = dec.RouteModel
		}
	}
	if dec.RouteProvider != "" && dec.RouteProvider != ix.ProviderName {
		if err := w.reroute(dec.RouteProvider, m); err != nil {
			errs = append(errs, err)
		}
	}
	if ix.ModelRouted != "" {
		m.setHeader(config.HeaderModel, ix.ModelRouted)
		ix.rerouted = true // Envoy may route on the model header too
	}
	setPolicyHeaders(m, dec.Headers)
	for _, mu := range w.p.Mutators {
		nb, err := mu.MutateRequest(ix, body)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !bytes.Equal(nb, body) {
			body, changed = nb, true
		}
	}
	if changed {
		ix.RequestBody = body
		ix.bodyChanged = true
	}
	return errors.Join(errs...)
}

// reroute switches the upstream provider: new routing header, new key.
func (w *wardProcessor) reroute(provider string, m *mutation) error {
	ix := w.ix
	pc, ok := w.cfg().Providers[provider]
	if !ok {
		return fmt.Errorf("policy routed to unknown provider %q", provider)
	}
	if llm.Provider(pc.Dialect) != ix.Dialect {
		return fmt.Errorf("policy routed a %s request to provider %q, which speaks %s", ix.Dialect, provider, pc.Dialect)
	}
	key, err := w.p.Keys.Get(provider)
	if err != nil {
		return err
	}
	removeCredentials(m, key.AuthHeader)
	m.setHeader(key.AuthHeader, key.HeaderValue())
	m.setHeader(config.HeaderProvider, provider)
	ix.ProviderName = provider
	ix.rerouted = true
	return nil
}

// redactParts builds body edits for every part with findings whose type
// the rules select. Findings locate their text by Part (an index into
// parts), in both directions.
func (w *wardProcessor) redactParts(parts []llm.Part, findings []Finding, rules []RedactRule, phase Phase) ([]llm.Edit, []Redaction) {
	var edits []llm.Edit
	var reds []Redaction
	for i, part := range parts {
		var fs []Finding
		for _, f := range findings {
			if f.Part == i && ruleFor(rules, f.Type) != nil {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			continue
		}
		text, r := w.redactor().Redact(part.Text, fs, rules)
		for j := range r {
			r[j].Phase = phase
		}
		reds = append(reds, r...)
		edits = append(edits, llm.Edit{Start: part.Start, End: part.End, NewText: text})
	}
	return edits, reds
}

func (w *wardProcessor) redactor() Redactor {
	if w.p.Redactor != nil {
		return w.p.Redactor
	}
	return MaskRedactor{}
}

// ---- response headers ------------------------------------------------

func (w *wardProcessor) ResponseHeaders(ctx context.Context, hm *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	w.msgStart = w.now()
	defer w.track(w.msgStart)
	ix := w.ix
	ix.FirstByte = w.now()
	h := headers(hm.GetHeaders().GetHeaders())
	ix.ResponseStatus = atoiDefault(h.get(":status"), 0)
	ix.ResponseContentType = strings.ToLower(h.get("content-type"))
	w.respEncoding = normEncoding(h.get("content-encoding"))
	m := &mutation{}
	m.setHeader(config.HeaderEventID, ix.EventID)
	if ix.RequestDecision != nil {
		// Tell the caller what happened to their request (redact or allow);
		// denials carry the header on the local reply.
		decision := "allow"
		if len(ix.Redactions) > 0 {
			decision = "redact"
		}
		m.setHeader(config.HeaderDecision, decision)
		// The policy's headers (e.g. x-ward-redacted, a budget warning)
		// reach the caller too, not only the provider.
		setPolicyHeaders(m, ix.RequestDecision.Headers)
	}
	var mode *filterv3.ProcessingMode
	inspect := config.Enabled(ix.Profile.InspectResponse, true) && !ix.Unparsed
	if inspect && strings.HasPrefix(ix.ResponseContentType, "text/event-stream") {
		ix.Streamed = true
		// Server-sent events must reach the client as they come: switch
		// this response to STREAMED (needs allow_mode_override: true).
		mode = &filterv3.ProcessingMode{ResponseBodyMode: filterv3.ProcessingMode_STREAMED}
		if h.get("content-length") != "" {
			m.removeHeader("content-length")
		}
		if w.respEncoding != "" {
			w.p.Metrics.BadInput("sse_encoded")
		} else {
			w.guard = w.newStreamGuard()
		}
	}
	resp := responseHeadersResponse(&extprocv3.CommonResponse{HeaderMutation: m.proto()}, mode)
	if hm.GetEndOfStream() {
		w.finish(ctx)
	}
	return resp, nil
}

// ---- response body ---------------------------------------------------

func (w *wardProcessor) ResponseBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	w.msgStart = w.now()
	defer w.track(w.msgStart)
	ix := w.ix
	if ix.Streamed {
		if w.guard != nil {
			// Scanned, redacted and stopped in flight (stream.go).
			return w.guard.body(ctx, b), nil
		}
		if b.GetEndOfStream() {
			w.finish(ctx)
		}
		return responseBodyResponse(&extprocv3.CommonResponse{}), nil
	}

	if !b.GetEndOfStream() {
		if len(w.pending)+len(b.GetBody()) <= w.cfg().Server.MaxResponseBodyBytes {
			w.pending = append(w.pending, b.GetBody()...)
		} else if w.pending != nil {
			w.p.Metrics.BadInput("response_too_large")
			w.pending = nil
			ix.Unparsed = true
		}
		return responseBodyResponse(&extprocv3.CommonResponse{}), nil
	}
	body := b.GetBody()
	if len(w.pending) > 0 {
		body = append(w.pending, body...)
		w.pending = nil
	}
	resp := w.responsePhase(ctx, body)
	w.finish(ctx)
	return resp, nil
}

// responsePhase inspects a complete buffered response.
func (w *wardProcessor) responsePhase(ctx context.Context, body []byte) *extprocv3.ProcessingResponse {
	ix := w.ix
	pass := responseBodyResponse(&extprocv3.CommonResponse{})
	if ix.Unparsed || !config.Enabled(ix.Profile.InspectResponse, true) || len(body) == 0 {
		return pass
	}
	if len(body) > w.cfg().Server.MaxResponseBodyBytes {
		w.p.Metrics.BadInput("response_too_large")
		return pass
	}
	decoded, err := llm.DecodeBody(w.respEncoding, body, w.cfg().Server.MaxResponseBodyBytes)
	if err != nil {
		w.p.Metrics.BadInput("response_encoding")
		ix.Err = err
		return pass
	}
	resp, err := llm.ParseResponse(ix.Endpoint, decoded)
	if err != nil {
		// An upstream that returns something else (HTML error page, plain
		// text) is passed to the client as is and audited.
		w.p.Metrics.BadInput("malformed_response")
		ix.Err = err
		return pass
	}
	ix.Response = resp
	if resp.Usage.Present {
		ix.Usage = resp.Usage
	}
	w.detect(ctx, PhaseResponse)
	// A buffered body is a stream of one chunk: the request decision's
	// response_checks says whether the policy needs to see it.
	switch ix.responseChecks() {
	case ResponseChecksNone:
		return pass
	case ResponseChecksOnFindings:
		// Triggers: text the policy's phrase checks react to needs the
		// decision even without findings.
		if triggers, _ := ix.responseTriggers(); len(ix.OutputFindings) == 0 && !outputTriggered(triggers, resp.Choices) {
			return pass
		}
	}
	dec, denial := w.decide(ctx, PhaseResponse)
	if denial != nil {
		return denial
	}
	ix.ResponseDecision = &dec
	if !dec.Allow {
		return w.denyDecision(ctx, dec, http.StatusForbidden, "policy_denied", "response withheld by policy")
	}
	if len(dec.Redact) == 0 || len(ix.OutputFindings) == 0 {
		return pass
	}
	edits, reds := w.redactParts(resp.Parts, ix.OutputFindings, dec.Redact, PhaseResponse)
	if len(edits) == 0 {
		return pass
	}
	nb, err := llm.RewriteStrings(decoded, edits)
	if err != nil {
		ix.Err = fmt.Errorf("redact response: %w", err)
		if ix.Profile.FailOpen {
			return pass
		}
		return w.deny(ctx, http.StatusBadGateway, "redaction_failed", "the gateway could not redact this response")
	}
	ix.Redactions = append(ix.Redactions, reds...)
	m := &mutation{}
	if w.respEncoding != "" {
		m.removeHeader("content-encoding")
	}
	return responseBodyResponse(bodyReplacement(m, nb))
}

// ---- end -------------------------------------------------------------

// deny ends the exchange with a local reply shaped like the provider's own
// errors, so SDKs surface it as a normal API error.
func (w *wardProcessor) deny(ctx context.Context, status int, code, message string) *extprocv3.ProcessingResponse {
	return w.denyWith(ctx, status, code, message, nil)
}

// denyWith is deny with extra response headers (Retry-After); they may
// not override Ward's own headers or pseudo-headers.
func (w *wardProcessor) denyWith(ctx context.Context, status int, code, message string, extra map[string]string) *extprocv3.ProcessingResponse {
	ix := w.ix
	ix.Outcome, ix.ReasonCode, ix.ResponseStatus = "deny", code, status
	dialect := ix.Dialect
	if dialect == llm.ProviderUnknown {
		dialect = llm.ProviderOpenAI
	}
	body := llm.ErrorBody(dialect, status, code, message)
	w.finish(ctx)
	hdrs := map[string]string{
		config.HeaderDecision: "deny",
		config.HeaderEventID:  ix.EventID,
	}
	for k, v := range extra {
		if k = strings.ToLower(k); !strings.HasPrefix(k, ":") && !reservedHeaders[k] {
			hdrs[k] = v
		}
	}
	return immediate(status, body, hdrs, "ward_"+code)
}

// denyDecision ends the exchange for a decision that denies, filling what
// the decision left out with the phase's defaults.
func (w *wardProcessor) denyDecision(ctx context.Context, dec Decision, status int, code, message string) *extprocv3.ProcessingResponse {
	return w.denyWith(ctx, orZero(dec.Status, status), orDefault(dec.ReasonCode, code), orDefault(dec.ReasonMessage, message), dec.Headers)
}

// finish completes the interaction and hands it to the recorder, once.
func (w *wardProcessor) finish(ctx context.Context) {
	if w.finished {
		return
	}
	w.finished = true
	ix := w.ix
	ix.End = w.now()
	if !w.msgStart.IsZero() {
		ix.WardTime += ix.End.Sub(w.msgStart)
	}
	if ix.Outcome == "" {
		switch {
		case ix.Unparsed:
			ix.Outcome = "unparsed"
		case len(ix.Redactions) > 0:
			ix.Outcome = "redact"
		default:
			ix.Outcome = "allow"
		}
	}
	if ix.Response != nil && ix.Response.Usage.Present {
		ix.Usage = ix.Response.Usage
	}
	if ix.Response != nil && ix.Response.Model != "" && ix.ModelRouted == "" {
		ix.ModelRouted = ix.Response.Model
	}
	for _, d := range w.p.Detectors {
		if s, ok := d.(Settler); ok {
			s.Settle(ix)
		}
	}
	w.p.Metrics.observe(ix)
	w.endInteractionSpan()
	if w.p.Recorder != nil {
		if err := w.p.Recorder.Record(context.WithoutCancel(ctx), ix); err != nil {
			w.p.Metrics.BadInput("audit_record_failed")
			w.p.Log.Error("audit record failed", "event_id", ix.EventID, "error", err)
		}
	}
}

func (w *wardProcessor) Close(ctx context.Context, streamErr error) {
	w.msgStart = time.Time{} // the stream has ended; no message is being processed
	if !w.finished && streamErr != nil && w.ix.Err == nil {
		w.ix.Err = streamErr
	}
	if !w.finished && w.ix.Outcome == "" && w.ix.ResponseStatus == 0 && w.ix.Method == "" {
		// The stream carried nothing (a client that opened and never
		// sent): nothing to audit.
		w.finished = true
		return
	}
	if !w.finished && w.ix.Streamed && w.guard != nil {
		// The stream ended early (client cancel, upstream reset): keep what
		// was delivered.
		w.guard.abort()
		if w.ix.Outcome == "" {
			w.ix.Outcome = "incomplete"
		}
	}
	w.finish(ctx)
}

// ---- helpers ---------------------------------------------------------

// setPolicyHeaders applies the headers a policy decision asks for. Policy
// may not set pseudo-headers, host, framing headers or the identity and
// routing headers Ward asserts itself.
func setPolicyHeaders(m *mutation, hs map[string]string) {
	for k, v := range hs {
		k = strings.ToLower(k)
		if strings.HasPrefix(k, ":") || reservedHeaders[k] {
			continue
		}
		m.setHeader(k, v)
	}
}

var reservedHeaders = map[string]bool{
	"host": true, "content-length": true, "content-type": true, "content-encoding": true, "transfer-encoding": true,
	"authorization": true, "x-api-key": true, "api-key": true,
	config.HeaderTeam: true, config.HeaderApp: true, config.HeaderKeyID: true, config.HeaderProvider: true,
	config.HeaderModel: true, config.HeaderProfile: true, config.HeaderDecision: true, config.HeaderEventID: true,
}

func guessDialect(path string, h headers) llm.Provider {
	if h.get("anthropic-version") != "" || strings.Contains(path, "/anthropic/") {
		return llm.ProviderAnthropic
	}
	return llm.ProviderOpenAI
}

func normEncoding(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "identity" {
		return ""
	}
	return v
}

func ruleFor(rules []RedactRule, typ string) *RedactRule {
	for i := range rules {
		if rules[i].Type == typ || rules[i].Type == "*" {
			return &rules[i]
		}
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func orZero(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func atoiDefault(s string, def int) int {
	n := 0
	if s == "" {
		return def
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
	}
	return n
}
