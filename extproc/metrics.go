package extproc

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the data plane's Prometheus instruments. Labels are bounded
// sets (profiles, endpoints, outcomes, reason codes from config and
// policy), never free text from requests.
type Metrics struct {
	streamsOpen   prometheus.Gauge
	streamErrors  *prometheus.CounterVec
	phaseSeconds  *prometheus.HistogramVec
	requests      *prometheus.CounterVec
	badInput      *prometheus.CounterVec
	findings      *prometheus.CounterVec
	policyErrors  *prometheus.CounterVec
	unknownEvents *prometheus.CounterVec
	tokens        *prometheus.CounterVec
	costMicroUSD  *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	ttft          *prometheus.HistogramVec
	tpot          *prometheus.HistogramVec
	heldChars     prometheus.Histogram
}

// NewMetrics registers the instruments on reg (nil: a private registry,
// for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		streamsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ward_extproc_streams_open", Help: "ext_proc streams currently open.",
		}),
		streamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_extproc_stream_errors_total", Help: "ext_proc streams that ended abnormally, by kind.",
		}, []string{"kind"}),
		phaseSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ward_extproc_phase_seconds", Help: "Time Ward spent on one ext_proc message, by phase.",
			Buckets: []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3, 0.25, 1},
		}, []string{"phase"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_requests_total", Help: "Interactions by profile, endpoint, team, model and outcome.",
		}, []string{"profile", "endpoint", "team", "model", "outcome"}),
		badInput: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_bad_input_total", Help: "Bodies Ward could not inspect, by kind.",
		}, []string{"kind"}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_phi_findings_total", Help: "PHI/PII findings by type, team and phase.",
		}, []string{"type", "team", "phase"}),
		policyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_policy_errors_total", Help: "Policy evaluation errors by profile and how they were resolved.",
		}, []string{"profile", "resolution"}),
		unknownEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_sse_unknown_events_total", Help: "SSE events Ward passed through without understanding them.",
		}, []string{"endpoint"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_tokens_total", Help: "Tokens by team, model and direction.",
		}, []string{"team", "model", "direction"}),
		costMicroUSD: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_cost_microusd_total", Help: "Inference cost in micro-dollars by team and model.",
		}, []string{"team", "model"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ward_interaction_seconds", Help: "Whole interaction time (request headers to end of response) by model.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"model"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ward_time_to_first_token_seconds", Help: "Request start to the first output token the client received (streams) or the response headers (buffered), by model.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"model"}),
		tpot: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ward_time_per_output_token_seconds", Help: "Mean time per output token of streamed responses, by model.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 12),
		}, []string{"model"}),
		heldChars: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ward_stream_max_held_chars", Help: "Most output characters Ward held back at once per streamed response (PHI scan look-ahead).",
			Buckets: []float64{0, 8, 16, 32, 64, 128, 256, 512, 1024, 4096},
		}),
	}
	reg.MustRegister(m.streamsOpen, m.streamErrors, m.phaseSeconds, m.requests, m.badInput,
		m.findings, m.policyErrors, m.unknownEvents, m.tokens, m.costMicroUSD, m.latency, m.ttft, m.tpot, m.heldChars)
	return m
}

// BadInput counts a body Ward could not inspect.
func (m *Metrics) BadInput(kind string) { m.badInput.WithLabelValues(kind).Inc() }

// observe records a finished interaction.
func (m *Metrics) observe(ix *Interaction) {
	model := ix.ModelRouted
	if model == "" {
		model = "unknown"
	}
	m.requests.WithLabelValues(ix.ProfileName, string(ix.Endpoint), ix.Caller.Team, model, ix.Outcome).Inc()
	for _, f := range ix.Findings {
		m.findings.WithLabelValues(f.Type, ix.Caller.Team, "request").Inc()
	}
	for _, f := range ix.OutputFindings {
		m.findings.WithLabelValues(f.Type, ix.Caller.Team, "response").Inc()
	}
	if ix.Usage.Present || ix.UsageEstimated {
		m.tokens.WithLabelValues(ix.Caller.Team, model, "input").Add(float64(ix.Usage.InputTokens))
		m.tokens.WithLabelValues(ix.Caller.Team, model, "output").Add(float64(ix.Usage.OutputTokens))
	}
	if ix.CostMicroUSD > 0 {
		m.costMicroUSD.WithLabelValues(ix.Caller.Team, model).Add(float64(ix.CostMicroUSD))
	}
	if !ix.End.IsZero() {
		m.latency.WithLabelValues(model).Observe(ix.End.Sub(ix.StreamStart).Seconds())
	}
	switch {
	case ix.TTFT > 0: // streams: the first output text the client received
		m.ttft.WithLabelValues(model).Observe(ix.TTFT.Seconds())
	case !ix.FirstByte.IsZero():
		m.ttft.WithLabelValues(model).Observe(ix.FirstByte.Sub(ix.StreamStart).Seconds())
	}
	if ix.TimePerOutputToken > 0 {
		m.tpot.WithLabelValues(model).Observe(ix.TimePerOutputToken.Seconds())
	}
	if ix.Streamed {
		m.heldChars.Observe(float64(ix.MaxHeldChars))
	}
}
