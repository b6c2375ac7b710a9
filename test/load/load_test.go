package load

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestMeasureAgainstNoop(t *testing.T) {
	addr, stop, err := StartNoop()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, sse := range []bool{false, true} {
		ex := NewExchange("/v1/chat/completions", "k", sse, 7)
		o := Options{Concurrency: 4, Duration: 200 * time.Millisecond, Warmup: 20 * time.Millisecond}
		r, err := Measure(context.Background(), "no-op", addr, ex, o)
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests == 0 || r.Errors != 0 || r.Throughput <= 0 {
			t.Fatalf("sse=%v: %+v", sse, r)
		}
		if !(r.P50 <= r.P99 && r.P99 <= r.P999 && r.P999 <= r.Max) {
			t.Fatalf("percentiles out of order: %+v", r)
		}
	}
}

func TestFixtures(t *testing.T) {
	if n := len(ChatRequest()); n < 1800 || n > 2600 {
		t.Fatalf("chat request is %d bytes, want ~2 KB", n)
	}
	if n := len(ChatResponse()); n < 800 || n > 1300 {
		t.Fatalf("chat response is %d bytes, want ~1 KB", n)
	}
	chunks := SSEChunks(20)
	var all strings.Builder
	for _, c := range chunks {
		all.Write(c)
	}
	if len(chunks) != 20 || !strings.HasSuffix(all.String(), "data: [DONE]\n\n") {
		t.Fatalf("%d chunks, ends %q", len(chunks), all.String()[all.Len()-20:])
	}
}

func TestBadTargetFailsFast(t *testing.T) {
	ex := NewExchange("/v1/chat/completions", "k", false, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := Measure(ctx, "ward", "127.0.0.1:1", ex, Options{Concurrency: 1, Duration: time.Second})
	if err == nil {
		t.Fatal("want connection error")
	}
}
