package stages

import (
	"context"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

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
			var n int64
			for _, m := range ex.Msgs {
				n += int64(len(m.GetRequestBody().GetBody()) + len(m.GetResponseBody().GetBody()))
			}
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				proc := p.NewProcessor(ctx)
				for _, m := range ex.Msgs {
					var r *extprocv3.ProcessingResponse
					switch x := m.Request.(type) {
					case *extprocv3.ProcessingRequest_RequestHeaders:
						r, err = proc.RequestHeaders(ctx, x.RequestHeaders)
					case *extprocv3.ProcessingRequest_RequestBody:
						r, err = proc.RequestBody(ctx, x.RequestBody)
					case *extprocv3.ProcessingRequest_ResponseHeaders:
						r, err = proc.ResponseHeaders(ctx, x.ResponseHeaders)
					case *extprocv3.ProcessingRequest_ResponseBody:
						r, err = proc.ResponseBody(ctx, x.ResponseBody)
					}
					if err != nil || r.GetImmediateResponse() != nil {
						b.Fatalf("exchange failed: %v %v", err, r)
					}
				}
				proc.Close(ctx, nil)
			}
		})
	}
}
