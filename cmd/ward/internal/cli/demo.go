package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/test/e2e"
	"github.com/wardhq/ward/test/fakellm"
)

// runDemo starts the fake provider, Ward on its embedded defaults and the
// Envoy emulator in this process, sends a few realistic requests and shows
// what happened to each. No external service is needed.
func runDemo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	path := fs.String("config", "", "Ward config (empty = embedded defaults)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	cfg.Audit.Sink = "none"
	s, err := e2e.Start(ctx, e2e.Options{Config: cfg})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "Ward demo: Envoy emulator %s → Ward ext_proc %s → fake OpenAI/Anthropic provider\n", s.URL, s.Ward.GRPC)
	fmt.Fprintf(stdout, "(Envoy's ext_proc settings are read from envoy/envoy-plaintext.yaml; Ward runs its embedded defaults.)\n")
	return e2e.RunDemo(ctx, s, stdout)
}

// runFakeLLM serves the fake provider (docker compose uses it too).
func runFakeLLM(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return fakellm.Run(ctx, args, stdin, stdout, stderr)
}
