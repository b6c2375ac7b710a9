package stages

import (
	"context"
	"testing"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/identity"
	"github.com/wardhq/ward/test/load"
)

// BenchmarkFullExchange is one whole exchange through every stage Ward runs
// on its embedded defaults (PHI scan and redaction, injection score, token
// count, OPA policy, pricing; audit off): a 2 KB chat request with a phone
// number on the internal profile, then a 1 KB JSON or 20-chunk SSE response.
//
//	go test -run '^$' -bench FullExchange -benchmem ./extproc/stages/
func BenchmarkFullExchange(b *testing.B) {
	for _, tc := range []struct {
		name string
		sse  bool
	}{{"json", false}, {"sse20", true}} {
		b.Run(tc.name, func(b *testing.B) {
			b.Setenv("OPENAI_API_KEY", "sk-bench")
			cfg, err := config.Load("")
			if err != nil {
				b.Fatal(err)
			}
			cfg.Audit.Sink = "none"
			ctx := context.Background()
			st, err := Build(ctx, cfg, Deps{})
			if err != nil {
				b.Fatal(err)
			}
			keys, err := identity.NewKeyStore(cfg.Providers, nil)
			if err != nil {
				b.Fatal(err)
			}
			p := &extproc.Pipeline{Config: cfg, Auth: identity.NewAuthenticator(cfg), Keys: keys,
				Detectors: st.Detectors, Decider: st.Decider, Redactor: st.Redactor, Mutators: st.Mutators}
			ex := load.NewExchange("/v1/chat/completions", "ward-demo-internal", tc.sse, 20)
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
