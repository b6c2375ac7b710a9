package extproc_test

import (
	"context"
	"testing"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/identity"
	"github.com/wardhq/ward/test/load"
)

// BenchmarkExchange measures Ward's own per-stream work for one whole
// exchange (2 KB chat request, 1 KB JSON or SSE response), without gRPC:
//
//	go test -run '^$' -bench Exchange -benchmem ./extproc/
func BenchmarkExchange(b *testing.B) {
	for _, tc := range []struct {
		name string
		sse  bool
	}{{"json", false}, {"sse20", true}} {
		b.Run(tc.name, func(b *testing.B) {
			b.Setenv("WARD_TEST_OPENAI_KEY", "sk-bench")
			cfg := testConfig(b, "")
			keys, err := identity.NewKeyStore(cfg.Providers, nil)
			if err != nil {
				b.Fatal(err)
			}
			p := &extproc.Pipeline{Config: cfg, Auth: identity.NewAuthenticator(cfg), Keys: keys}
			ex := load.NewExchange("/v1/chat/completions", testKey, tc.sse, 20)
			ctx := context.Background()
			b.SetBytes(ex.BodyBytes())
			b.ReportAllocs()
			for b.Loop() {
				proc := p.NewProcessor(ctx)
				if err := ex.Drive(ctx, proc); err != nil {
					b.Fatal(err)
				}
				proc.Close(ctx, nil)
			}
		})
	}
}
