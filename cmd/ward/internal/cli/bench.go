package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/run"
	"github.com/wardhq/ward/test/load"
)

// runBench is `ward bench`: Ward vs a no-op ext_proc server in one run.
// Without --target it starts Ward in-process on the embedded defaults
// (audit off, so the numbers measure the data plane, not stdout).
func runBench(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	o, err := load.ParseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.Target == "" {
		addr, stop, err := startInProcess(ctx)
		if err != nil {
			return err
		}
		defer stop()
		o.Target = addr
		fmt.Fprintf(stdout, "started Ward in-process on %s (embedded defaults; client and servers share this machine's CPUs)\n", addr)
	}
	ward, noop, err := load.Compare(ctx, o)
	if err != nil {
		return err
	}
	load.Print(stdout, o, ward, noop)
	return nil
}

// startInProcess serves Ward on a loopback port until stop is called.
func startInProcess(ctx context.Context) (addr string, stop func(), err error) {
	cfg, err := config.Load("")
	if err != nil {
		return "", nil, err
	}
	cfg.Server.GRPCAddr = "127.0.0.1:0"
	cfg.Server.AdminAddr = ""
	cfg.Audit.Sink = "none"
	// The exchange never reaches a provider; a placeholder key lets the
	// pipeline run its key-injection step as in production.
	for _, p := range cfg.Providers {
		if p.KeyEnv != "" && os.Getenv(p.KeyEnv) == "" {
			os.Setenv(p.KeyEnv, "sk-placeholder-not-sent-anywhere")
		}
	}
	addrs, stopWard, err := run.InProcess(ctx, cfg, nil)
	if err != nil {
		return "", nil, fmt.Errorf("in-process Ward failed to start: %w", err)
	}
	return addrs.GRPC, func() { stopWard() }, nil
}
