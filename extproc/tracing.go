package extproc

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wardhq/ward/extproc/llm"
)

var traceContext = propagation.TraceContext{}

// startInteractionSpan opens the interaction's span, continuing the trace
// Envoy started (its traceparent header), so Ward's work shows inside the
// gateway's trace.
func (w *wardProcessor) startInteractionSpan(ctx context.Context) {
	tr := w.p.tracer()
	if w.ix.Traceparent != "" {
		ctx = traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": w.ix.Traceparent})
	}
	w.spanCtx, w.span = tr.Start(ctx, "ward.interaction", trace.WithSpanKind(trace.SpanKindServer))
	if sc := w.span.SpanContext(); sc.IsValid() {
		w.ix.TraceID, w.ix.SpanID = sc.TraceID().String(), sc.SpanID().String()
	}
}

// stageSpan opens a child span for one pipeline stage.
func (w *wardProcessor) stageSpan(name string) trace.Span {
	if w.span == nil {
		return noop.Span{}
	}
	_, s := w.p.tracer().Start(w.spanCtx, name)
	return s
}

// endInteractionSpan records GenAI semantic-convention attributes and Ward's
// outcome. No prompt or completion text goes into spans.
func (w *wardProcessor) endInteractionSpan() {
	if w.span == nil {
		return
	}
	ix := w.ix
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameChat,
		semconv.GenAIProviderNameKey.String(genAIProvider(ix.ProviderName, ix.Dialect)),
		attribute.String("ward.profile", ix.ProfileName),
		attribute.String("ward.outcome", ix.Outcome),
		attribute.String("ward.event_id", ix.EventID),
		attribute.String("ward.endpoint", string(ix.Endpoint)),
	}
	if ix.Caller.Team != "" {
		attrs = append(attrs, attribute.String("ward.team", ix.Caller.Team), attribute.String("ward.app", ix.Caller.App))
	}
	if ix.ReasonCode != "" {
		attrs = append(attrs, attribute.String("ward.reason", ix.ReasonCode))
	}
	if ix.ModelRequested != "" {
		attrs = append(attrs, semconv.GenAIRequestModel(ix.ModelRequested))
	}
	if ix.Response != nil && ix.Response.Model != "" {
		attrs = append(attrs, semconv.GenAIResponseModel(ix.Response.Model))
	}
	if ix.Usage.Present || ix.UsageEstimated {
		attrs = append(attrs, semconv.GenAIUsageInputTokens(int(ix.Usage.InputTokens)), semconv.GenAIUsageOutputTokens(int(ix.Usage.OutputTokens)))
	}
	if ix.ResponseStatus != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(ix.ResponseStatus))
	}
	if len(ix.Findings)+len(ix.OutputFindings) > 0 {
		attrs = append(attrs, attribute.Int("ward.phi.findings", len(ix.Findings)+len(ix.OutputFindings)))
	}
	w.span.SetAttributes(attrs...)
	if ix.Err != nil {
		w.span.SetStatus(codes.Error, ix.ReasonCode)
	}
	w.span.End()
}

// genAIProvider maps Ward's provider names to the semantic-convention
// values of gen_ai.provider.name.
func genAIProvider(name string, dialect llm.Provider) string {
	switch name {
	case "openai":
		return "openai"
	case "anthropic":
		return "anthropic"
	case "azure-openai":
		return "azure.ai.openai"
	}
	if name == "" {
		return string(dialect)
	}
	return name
}

func (p *Pipeline) tracer() trace.Tracer {
	if p.Tracer != nil {
		return p.Tracer
	}
	return noop.NewTracerProvider().Tracer("")
}
