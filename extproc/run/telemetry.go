package run

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wardhq/ward/extproc/config"
)

// setupTracing returns Ward's tracer and its flush. With no OTLP endpoint
// configured tracing is a no-op (zero cost on the hot path).
func setupTracing(ctx context.Context, t config.Telemetry) (trace.Tracer, func(context.Context) error, error) {
	if t.OTLPEndpoint == "" {
		return noop.NewTracerProvider().Tracer(""), func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(t.OTLPEndpoint), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry.otlp_endpoint: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(t.SampleRatio))),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("ward"), semconv.ServiceVersion(Version))),
	)
	return tp.Tracer("github.com/wardhq/ward"), tp.Shutdown, nil
}
