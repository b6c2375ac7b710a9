package run

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/identity"
	"github.com/wardhq/ward/extproc/stages"
)

// Version is reported in traces; the CLI sets it from its build version.
var Version = "dev"

// Ward builds the whole pipeline from cfg and serves until ctx ends.
// onListening (optional) is told the bound addresses.
func Ward(ctx context.Context, cfg *config.Config, log *slog.Logger, onListening func(Addrs)) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := extproc.NewMetrics(reg)

	keys, err := identity.NewKeyStore(cfg.Providers, log)
	if err != nil {
		return err
	}
	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	go keys.Watch(kctx, 10*time.Second)

	tracer, flushTraces, err := setupTracing(ctx, cfg.Telemetry)
	if err != nil {
		return err
	}
	st, err := stages.Build(ctx, cfg, stages.Deps{Log: log, Registry: reg})
	if err != nil {
		return err
	}
	pipe := &extproc.Pipeline{
		Config:    cfg,
		Auth:      identity.NewAuthenticator(cfg),
		Keys:      keys,
		Detectors: st.Detectors,
		Decider:   st.Decider,
		Redactor:  st.Redactor,
		Mutators:  st.Mutators,
		Recorder:  st.Recorder,
		Metrics:   metrics,
		Log:       log,
		Tracer:    tracer,
	}
	svc := extproc.NewServer(pipe.NewProcessor, cfg.Server.StreamIdleTimeout.D(), metrics, log)
	return Listen(ctx, Options{
		GRPCAddr:            cfg.Server.GRPCAddr,
		GRPCSocket:          cfg.Server.GRPCSocket,
		AdminAddr:           cfg.Server.AdminAddr,
		MaxGRPCMessageBytes: cfg.Server.MaxGRPCMessageBytes,
		ShutdownGrace:       cfg.Server.ShutdownGrace.D(),
		Service:             svc,
		Gatherer:            reg,
		Ready:               st.Ready,
		Flush:               append(st.Flush, flushTraces), // audit first, then traces
		Log:                 log,
		OnListening:         onListening,
	})
}

// InProcess starts Ward on loopback ports until stop is called; for the
// demo, the load tool and end-to-end tests.
func InProcess(ctx context.Context, cfg *config.Config, log *slog.Logger) (addrs Addrs, stop func() error, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sctx, cancel := context.WithCancel(ctx)
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- Ward(sctx, cfg, log, func(a Addrs) { ready <- a }) }()
	select {
	case a := <-ready:
		return a, func() error { cancel(); return <-done }, nil
	case err := <-done:
		cancel()
		return Addrs{}, nil, err
	}
}
