package fakellm_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardhq/ward/test/fakellm"
)

// BenchmarkReplies measures the fake provider's own cost per reply so load
// runs can tell it is not the bottleneck:
//
//	go test -run XXX -bench . -benchtime 2000x ./test/fakellm/
func BenchmarkReplies(b *testing.B) {
	text := strings.Repeat("The patient reports mild headache. ", 30) // ~1 KB
	for _, bc := range []struct{ name, path, body string }{
		{"chat-json", "/v1/chat/completions", `{"model":"m","messages":[]}`},
		{"chat-sse", "/v1/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`},
		{"messages-sse", "/v1/messages", `{"model":"m","stream":true,"max_tokens":9}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := fakellm.New()
			s.SetDefault(fakellm.Script{Text: text})
			b.ReportAllocs()
			var n int64
			for b.Loop() {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, bc.path, strings.NewReader(bc.body)))
				n = int64(rec.Body.Len())
				s.Reset()
			}
			b.SetBytes(n)
		})
	}
}
