package extproc_test

import (
	"context"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

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
			var bytes int64
			for _, m := range ex.Msgs {
				bytes += int64(len(m.GetRequestBody().GetBody()) + len(m.GetResponseBody().GetBody()))
			}
			ctx := context.Background()
			b.SetBytes(bytes)
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
