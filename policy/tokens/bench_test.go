package tokens

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardhq/ward/extproc/llm"
)

// cpuTime is this process's user+system CPU time. The benchmarks report
// "cpu-MB/s" from it beside Go's wall-clock MB/s because the build machine
// is shared: wall time there includes waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs fn b.N times and reports throughput per CPU second.
func measure(b *testing.B, size int, fn func()) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		fn()
	}
	if cpu := (cpuTime() - start).Seconds(); cpu > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu, "cpu-MB/s")
	}
}

// Throughput over the whole cross-check corpus (~0.9 MB, every kind of
// text), Ward's count-only path against tiktoken-go. Reproduce, together
// with npm tiktoken's figure on the same corpus:
//
//	make -C test/tokens bench
func BenchmarkCount(b *testing.B) {
	var sb strings.Builder
	for _, c := range loadCorpus(b) {
		sb.WriteString(c.Text)
		sb.WriteByte('\n')
	}
	corpus := sb.String()
	for _, name := range encodingNames {
		enc, ref := mustEncoding(b, name), reference(b, name)
		b.Run("ward/"+name, func(b *testing.B) {
			measure(b, len(corpus), func() { enc.Count(corpus) })
		})
		b.Run("tiktoken-go/"+name, func(b *testing.B) {
			measure(b, len(corpus), func() { ref.EncodeOrdinary(corpus) })
		})
	}
}

// BenchmarkCountPrompt is the request-path case: one 4 KB clinical prompt.
func BenchmarkCountPrompt(b *testing.B) {
	var prompt string
	for _, c := range loadCorpus(b) {
		if c.ID == "100k-clinical" {
			prompt = c.Text[:4096]
		}
	}
	enc := mustEncoding(b, O200KBase)
	measure(b, len(prompt), func() { enc.Count(prompt) })
}

// BenchmarkCountLongRun is the worst case for the merge: one 1 MB piece.
func BenchmarkCountLongRun(b *testing.B) {
	s := strings.Repeat(" ", 1<<20) + "x"
	enc := mustEncoding(b, O200KBase)
	measure(b, len(s), func() { enc.Count(s) })
}

// BenchmarkRequest is the proxy's pre-request estimate for a typical chat
// request with one tool definition (cached after the first call).
func BenchmarkRequest(b *testing.B) {
	c, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	var note string
	for _, t := range loadCorpus(b) {
		if t.ID == "100k-clinical" {
			note = t.Text[:2048]
		}
	}
	req := &llm.Request{
		Provider: llm.ProviderOpenAI, Model: "gpt-4o",
		Parts: []llm.Part{
			{Role: llm.RoleSystem, Text: "You are a careful clinical documentation assistant.", Message: 0},
			{Role: llm.RoleUser, Text: note, Message: 1},
		},
		Tools: []llm.Tool{{Name: "lookup_code", Description: "Look up an ICD-10 code.",
			Parameters: `{"type":"object","properties":{"code":{"type":"string","description":"ICD-10 code"}}}`}},
	}
	measure(b, len(note), func() { c.Request(req) })
}

// BenchmarkCount10MB: a 10 MB prompt of ordinary mixed text (the 100 KB
// mixed corpus text repeated), the "huge prompt" bad-input case.
func BenchmarkCount10MB(b *testing.B) {
	var mixed string
	for _, c := range loadCorpus(b) {
		if c.ID == "100k-mixed" {
			mixed = c.Text
		}
	}
	s := strings.Repeat(mixed+"\n", (10<<20)/(len(mixed)+1))
	enc := mustEncoding(b, O200KBase)
	measure(b, len(s), func() { enc.Count(s) })
}
