package fakellm

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Run serves the fake provider until ctx is done (wired as `ward fakellm`).
//
//	--addr  listen address (default 127.0.0.1:8089)
//	--text  default reply text
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakellm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8089", "listen address")
	text := fs.String("text", DefaultText, "default reply text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("fakellm: unexpected arguments %q", fs.Args())
	}
	s := New()
	s.SetDefault(Script{Text: *text})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("fakellm: listen %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "fakellm listening on http://%s (POST /v1/chat/completions, /v1/responses, /v1/messages)\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("fakellm: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("fakellm: shutdown: %w", err)
	}
	return nil
}
