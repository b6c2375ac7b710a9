package llm

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Reproduce with:
//
//	go test ./extproc/llm -run '^$' -bench . -benchtime 2000x
//
// Numbers are for comparison on one machine; the shared CI box is noisy.

// chat2KB is a realistic ~2 KB clinical chat request.
var chat2KB = func() []byte {
	note := "Patient presented with intermittent chest pain radiating to the left arm, onset three days ago, " +
		"worse on exertion. History of hypertension and type 2 diabetes, on metformin 500 mg twice daily and " +
		"lisinopril 10 mg daily. Vitals: BP 148/92, HR 88, SpO2 97% on room air. ECG shows no acute ST changes. "
	body := `{"model":"gpt-4o","temperature":0.2,"stream":true,"stream_options":{"include_usage":true},"user":"clinician-17",` +
		`"messages":[{"role":"system","content":"You are a clinical documentation assistant. Be precise and cite the note."},` +
		`{"role":"user","content":"Summarise this note for the discharge letter:\n` + note + note + note + `"},` +
		`{"role":"assistant","content":"Summary: chest pain under evaluation; hypertension and diabetes controlled."},` +
		`{"role":"user","content":[{"type":"text","text":"Now list the medications with doses \u2014 as a table."}]}],` +
		`"tools":[{"type":"function","function":{"name":"lookup_medication","description":"Look up a drug by name",` +
		`"parameters":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}}],"max_completion_tokens":800}`
	return []byte(body)
}()

// response1KB is a ~1 KB chat completion response.
var response1KB = func() []byte {
	text := strings.Repeat("Metformin 500 mg twice daily; lisinopril 10 mg daily. ", 13)
	return []byte(`{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-2024-08-06",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"` + text + `","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":512,"completion_tokens":180,"total_tokens":692,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},` +
		`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}`)
}()

// longChatStream is a 4,000-chunk OpenAI chat stream (one token per chunk).
var longChatStream = func() []byte {
	var b strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&b, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" tok%d"},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n", i)
	}
	b.WriteString("data: [DONE]\n\n")
	return []byte(b.String())
}()

func BenchmarkParseRequestChat2KB(b *testing.B) {
	b.SetBytes(int64(len(chat2KB)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(EndpointChatCompletions, chat2KB); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRequestChat2KBEncodingJSON is the reflection baseline this
// package avoids: json.Unmarshal into a struct with only the fields we use,
// without offsets.
func BenchmarkParseRequestChat2KBEncodingJSON(b *testing.B) {
	type msg struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	var v struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []msg  `json:"messages"`
		Tools    []struct {
			Function struct {
				Name       string          `json:"name"`
				Parameters json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
	}
	b.SetBytes(int64(len(chat2KB)))
	b.ReportAllocs()
	for b.Loop() {
		if err := json.Unmarshal(chat2KB, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse1KB(b *testing.B) {
	b.SetBytes(int64(len(response1KB)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseResponse(EndpointChatCompletions, response1KB); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRewriteStrings(b *testing.B) {
	r, err := ParseRequest(EndpointChatCompletions, chat2KB)
	if err != nil {
		b.Fatal(err)
	}
	p := r.Parts[1]
	edits := []Edit{{Start: p.Start, End: p.End, NewText: strings.ReplaceAll(p.Text, "metformin", "[DRUG]")}}
	b.SetBytes(int64(len(chat2KB)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RewriteStrings(chat2KB, edits); err != nil {
			b.Fatal(err)
		}
	}
}

// feedStream decodes s in 1 KB body chunks (as Envoy's STREAMED mode might
// deliver it), optionally assembling.
func feedStream(b *testing.B, s []byte, asm bool) {
	d := NewSSEDecoder(0)
	var a *StreamAssembler
	if asm {
		a = NewStreamAssembler(EndpointChatCompletions)
	}
	n := 0
	for i := 0; i < len(s); i += 1024 {
		d.Feed(s[i:min(i+1024, len(s))])
		for {
			ev, ok, err := d.Next()
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				break
			}
			n++
			if asm {
				if _, err := a.Consume(&ev); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if n != 4001 {
		b.Fatalf("%d events", n)
	}
}

func BenchmarkSSEDecodeLongStream(b *testing.B) {
	b.SetBytes(int64(len(longChatStream)))
	b.ReportAllocs()
	for b.Loop() {
		feedStream(b, longChatStream, false)
	}
}

func BenchmarkStreamAssembleLongStream(b *testing.B) {
	b.SetBytes(int64(len(longChatStream)))
	b.ReportAllocs()
	for b.Loop() {
		feedStream(b, longChatStream, true)
	}
}

// BenchmarkRewriteEvent is the per-chunk cost of redacting one delta.
func BenchmarkRewriteEvent(b *testing.B) {
	d := NewSSEDecoder(0)
	d.Feed(longChatStream[:400])
	ev, ok, err := d.Next()
	if !ok || err != nil {
		b.Fatal(ok, err)
	}
	a := NewStreamAssembler(EndpointChatCompletions)
	c, err := a.Consume(&ev)
	if err != nil || len(c.Deltas) != 1 {
		b.Fatal(err)
	}
	edits := []Edit{{Start: c.Deltas[0].Start, End: c.Deltas[0].End, NewText: "[REDACTED]"}}
	b.SetBytes(int64(len(ev.Raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RewriteEvent(&ev, edits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBodyGzip(b *testing.B) {
	gz, err := EncodeBody("gzip", chat2KB)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(chat2KB)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBody("gzip", gz, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}
