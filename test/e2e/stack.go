// Package e2e runs the whole system in one process for tests and the demo:
// the fake LLM provider, Ward (the real server, real pipeline) and the
// Envoy emulator configured from envoy/envoy-plaintext.yaml's ext_proc
// filter, so what is tested is what is deployed.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"

	"github.com/wardhq/ward/envoy"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/run"
	"github.com/wardhq/ward/test/fakellm"
	"github.com/wardhq/ward/test/harness"
)

// Stack is a running fake provider, Ward and Envoy emulator.
type Stack struct {
	Provider *fakellm.Server
	Gateway  *harness.Gateway
	Ward     run.Addrs
	// URL is the gateway's base URL: point an SDK's base_url here.
	URL string

	upstream *httptest.Server
	stopWard func() error
}

// Options tune the stack.
type Options struct {
	// Config is Ward's config (nil: embedded defaults). Its listener
	// addresses are replaced by loopback ports.
	Config *config.Config
	Log    *slog.Logger
	// Tweak adjusts the emulator config after it is read from envoy.yaml
	// (e.g. chunk split points).
	Tweak func(*harness.Config)
}

// ProviderKeys are the placeholder provider credentials the stack sets
// when none are in the environment; the fake provider records what it
// received, so tests can check the injected key.
var ProviderKeys = map[string]string{
	"OPENAI_API_KEY":       "sk-fake-openai-key",
	"ANTHROPIC_API_KEY":    "sk-ant-fake-anthropic-key",
	"AZURE_OPENAI_API_KEY": "fake-azure-key",
}

// Start brings the stack up; Close tears it down.
func Start(ctx context.Context, o Options) (*Stack, error) {
	cfg := o.Config
	if cfg == nil {
		var err error
		if cfg, err = config.Load(""); err != nil {
			return nil, err
		}
	}
	cfg.Server.GRPCAddr = "127.0.0.1:0"
	cfg.Server.GRPCSocket = ""
	cfg.Server.AdminAddr = "127.0.0.1:0"
	for env, v := range ProviderKeys {
		if os.Getenv(env) == "" {
			os.Setenv(env, v)
		}
	}

	s := &Stack{Provider: fakellm.New()}
	s.upstream = httptest.NewServer(s.Provider)

	addrs, stop, err := run.InProcess(ctx, cfg, o.Log)
	if err != nil {
		s.upstream.Close()
		return nil, fmt.Errorf("start ward: %w", err)
	}
	s.Ward, s.stopWard = addrs, stop

	hc, err := HarnessConfig(addrs.GRPC, s.upstream.URL)
	if err != nil {
		s.Close()
		return nil, err
	}
	if o.Tweak != nil {
		o.Tweak(&hc)
	}
	gw, err := harness.New(hc)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Gateway = gw
	if s.URL, err = gw.Start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// HarnessConfig reads the ext_proc filter from envoy/envoy-plaintext.yaml
// and adds a route table equivalent to its routes: Envoy picks the
// provider cluster from the x-ward-provider header Ward sets, and health
// checks bypass Ward.
func HarnessConfig(wardAddr, upstream string) (harness.Config, error) {
	b, err := envoy.PlaintextBootstrap()
	if err != nil {
		return harness.Config{}, err
	}
	ep, err := envoy.ExtProcFilter(b)
	if err != nil {
		return harness.Config{}, err
	}
	hc, err := harness.FromFilterConfig(ep)
	if err != nil {
		return harness.Config{}, fmt.Errorf("envoy-plaintext.yaml ext_proc filter: %w", err)
	}
	hc.ProcessorAddr = wardAddr
	health, err := envoy.PerRouteFor(b, "clinical.local", "/healthz")
	if err != nil {
		return harness.Config{}, err
	}
	hc.Routes = []harness.Route{{Name: "health", PathPrefix: "/healthz", Upstream: upstream, ExtProc: health}}
	for _, p := range []string{"openai", "anthropic", "azure-openai"} {
		hc.Routes = append(hc.Routes, harness.Route{
			Name: p, PathPrefix: "/", Upstream: upstream,
			Headers: []harness.HeaderMatch{{Name: "x-ward-provider", Value: p}},
		})
	}
	return hc, nil
}

// Close stops everything.
func (s *Stack) Close() error {
	var errs []error
	if s.Gateway != nil {
		errs = append(errs, s.Gateway.Close())
	}
	if s.stopWard != nil {
		errs = append(errs, s.stopWard())
	}
	if s.upstream != nil {
		s.upstream.Close()
	}
	return errors.Join(errs...)
}
