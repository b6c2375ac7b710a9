package extproc

import (
	"time"

	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/identity"
	"github.com/wardhq/ward/extproc/llm"
)

// Phase is the point of the exchange a stage runs at.
type Phase string

const (
	PhaseRequest       Phase = "request"
	PhaseResponse      Phase = "response"
	PhaseResponseChunk Phase = "response_chunk"
)

// Interaction is everything Ward learns about one HTTP exchange. It is
// owned by a single stream goroutine, so stages read and write it without
// locks.
type Interaction struct {
	// EventID (UUIDv7) names the audit event; it is returned to the client
	// in x-ward-event-id so a support ticket can point at it.
	EventID       string
	StreamStart   time.Time
	RequestID     string // x-request-id
	Traceparent   string
	TraceID       string // Ward's interaction span, in Envoy's trace when traceparent came in
	SpanID        string
	Method        string
	Path          string
	Caller        identity.Caller
	Authenticated bool
	ProfileName   string
	Profile       config.Profile

	Endpoint llm.Endpoint
	Dialect  llm.Provider
	// ProviderName is the configured upstream Ward routed to (e.g.
	// "azure-openai"); it starts as the dialect's default provider.
	ProviderName string
	// ModelRequested is what the caller asked for; ModelRouted is what Ward
	// sent upstream after policy routing (equal when not rerouted).
	ModelRequested string
	ModelRouted    string

	Request     *llm.Request
	RequestBody []byte // decoded (gzip removed) request body, as inspected

	// Detections on the request (PhaseRequest) and on output.
	Findings       []Finding
	OutputFindings []Finding
	Injection      *InjectionScore
	Topic          *TopicScore
	PromptTokens   int64 // pre-request estimate
	// Budget is the team's spend budget before this request (nil: none
	// applies); the limits stage fills it for the policy input.
	Budget *Budget

	RequestDecision  *Decision
	ResponseDecision *Decision
	// Redactions lists the finding types redacted, per phase.
	Redactions []Redaction

	ResponseStatus      int
	ResponseContentType string
	Streamed            bool
	Response            *llm.Response
	Usage               llm.Usage
	UsageEstimated      bool
	UsageError          string // provider usage rejected as absurd
	CostMicroUSD        int64

	// Streamed responses (docs/streaming.md). For a guarded stream,
	// Response holds what the client received (redacted, cut at a stop)
	// once the interaction ends, and stream OutputFindings point into it.
	TTFT               time.Duration // request start → first output text sent to the client
	TimePerOutputToken time.Duration // first → last output text, per output token after the first
	MaxHeldChars       int           // most output characters held back at once
	StreamEvents       int           // SSE events with data seen
	UnknownEvents      int           // events Ward did not recognise, passed through untouched
	ChunkDecisions     int           // response_chunk policy evaluations
	// OutputWindowFrom is where, in choice 0's output text, the policy's
	// response_chunk decision needs to start looking (input.output.window):
	// 0 (the whole text) unless response_triggers are on, when it is the
	// trigger window of the chunk being decided, moved back to the start
	// of a word.
	OutputWindowFrom int

	FirstByte time.Time // response headers seen
	End       time.Time
	// WardTime is Ward's own processing time across all messages.
	WardTime time.Duration

	// Outcome is the final decision label for audit and metrics: allow,
	// deny, redact, error, unparsed.
	Outcome    string
	ReasonCode string
	Err        error
	// Unparsed marks traffic Ward forwarded without understanding it.
	Unparsed bool

	bodyChanged bool // RequestBody differs from what the caller sent
	rerouted    bool // a routing header changed: Envoy must recompute the route
}

// Finding is one detected identifier. Offsets are bytes into the text of
// Request.Parts[Part] (request) or Response.Parts[Part] (buffered output).
// For a reassembled stream, which has no Parts, Part is -1 and offsets are
// into Response.Choices[Choice].
type Finding struct {
	Type       string
	Part       int
	Choice     int
	Start, End int
	Score      float64
}

// InjectionScore is the prompt-injection detector's verdict.
type InjectionScore struct {
	Score float64
	Rules []string
}

// TopicScore is the per-app topic classifier's verdict.
type TopicScore struct {
	InScope   float64
	Nearest   string
	Known     bool
	Directive bool // the prompt instructs the assistant (topic.Directive)
}

// Redaction records what was redacted where.
type Redaction struct {
	Phase Phase
	Type  string
	Mode  string
	Count int
}

// Budget is a team's spend budget for the current period, in micro-USD.
type Budget struct {
	LimitMicroUSD int64
	SpentMicroUSD int64
	PeriodEnd     time.Time
}

// Decision is a policy outcome in Ward's terms (independent of Rego).
type Decision struct {
	Allow         bool
	Status        int // HTTP status for denials (default 403)
	ReasonCode    string
	ReasonMessage string
	// Redact lists finding types to redact and how; Type "*" means all.
	Redact        []RedactRule
	RouteModel    string
	RouteProvider string
	Headers       map[string]string
	// AuditContent lowers the stored content level: full, redacted, none.
	AuditContent string
	Tags         []string
	Revision     string // policy bundle revision that decided
	// FailedOpen marks a decision taken because the policy errored on a
	// fail-open profile.
	FailedOpen bool
	// ResponseChecks (request decisions) says when the response needs a
	// policy decision: a buffered body, or each chunk of a stream that
	// releases text: ResponseChecksEveryChunk (also when empty),
	// ResponseChecksOnFindings (only with output PHI findings) or
	// ResponseChecksNone.
	ResponseChecks string
	// ResponseTriggers (request decisions, with ResponseChecksOnFindings)
	// are lower-case strings that make a chunk without findings need a
	// decision after all: when one occurs in the chunk's trigger window,
	// the output text since the last check plus ResponseTriggerWindow
	// characters before it (docs/policy-decision.md); for a buffered body,
	// anywhere in the output.
	ResponseTriggers      []string
	ResponseTriggerWindow int // characters; 0 means the default, 256
}

// responseChecks is what the request decision asked for, every_chunk by
// default (also when the request was not decided).
func (ix *Interaction) responseChecks() string {
	if d := ix.RequestDecision; d != nil && d.ResponseChecks != "" {
		return d.ResponseChecks
	}
	return ResponseChecksEveryChunk
}

// responseTriggers returns the request decision's triggers and window
// when they apply (response_checks on_findings).
func (ix *Interaction) responseTriggers() ([]string, int) {
	d := ix.RequestDecision
	if d == nil || d.ResponseChecks != ResponseChecksOnFindings || len(d.ResponseTriggers) == 0 {
		return nil, 0
	}
	w := d.ResponseTriggerWindow
	if w <= 0 {
		w = DefaultResponseTriggerWindow
	}
	return d.ResponseTriggers, w
}

// DefaultResponseTriggerWindow is the trigger window, in characters, when
// the policy names triggers but no window.
const DefaultResponseTriggerWindow = 256

// ResponseChecks values (the policy decision document's response_checks).
const (
	ResponseChecksEveryChunk = "every_chunk"
	ResponseChecksOnFindings = "on_findings"
	ResponseChecksNone       = "none"
)

// RedactRule says how to redact one finding type.
type RedactRule struct {
	Type string
	Mode string // mask, partial, pseudonym
}
