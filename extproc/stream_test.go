package extproc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/identity"
	"github.com/wardhq/ward/extproc/llm"
	"github.com/wardhq/ward/extproc/stages"
)

// guardedPipeline is Ward's real pipeline (PHI engine, OPA policy) from
// the embedded config, without audit.
func guardedPipeline(t testing.TB, withPolicy bool, tweak ...func(*config.Config)) *extproc.Pipeline {
	t.Helper()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Audit.Sink = "none"
	for _, f := range tweak {
		f(cfg)
	}
	t.Setenv("OPENAI_API_KEY", "sk-test")
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-test")
	t.Setenv("AZURE_OPENAI_API_KEY", "az-test")
	st, err := stages.Build(context.Background(), cfg, stages.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := identity.NewKeyStore(cfg.Providers, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Only the PHI detector: the request-side detectors (injection, topic,
	// tokens) are not what these tests are about.
	var dets []extproc.Detector
	for _, d := range st.Detectors {
		if _, ok := d.(extproc.StreamScannerFactory); ok {
			dets = append(dets, d)
		}
	}
	p := &extproc.Pipeline{Config: cfg, Auth: identity.NewAuthenticator(cfg), Keys: keys,
		Detectors: dets, Redactor: st.Redactor}
	if withPolicy {
		p.Decider = st.Decider
	}
	return p
}

func sgHeaders(kv ...string) *corev3.HeaderMap {
	hm := &corev3.HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return hm
}

// openStream runs a clinical chat request up to the SSE response headers.
func openStream(t testing.TB, p *extproc.Pipeline) extproc.Processor {
	ctx := context.Background()
	proc := p.NewProcessor(ctx)
	if _, err := proc.RequestHeaders(ctx, &extprocv3.HttpHeaders{Headers: sgHeaders(":method", "POST", ":path", "/v1/chat/completions",
		"authorization", "Bearer ward-demo-clinical", "content-type", "application/json")}); err != nil {
		t.Fatal(err)
	}
	r, err := proc.RequestBody(ctx, &extprocv3.HttpBody{EndOfStream: true,
		Body: []byte(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Any update?"}]}`)})
	if err != nil || r.GetImmediateResponse() != nil {
		t.Fatalf("request denied: %v %v", err, r)
	}
	r, err = proc.ResponseHeaders(ctx, &extprocv3.HttpHeaders{Headers: sgHeaders(":status", "200", "content-type", "text/event-stream")})
	if err != nil || r.GetModeOverride() == nil {
		t.Fatalf("response headers: %v %v", err, r)
	}
	return proc
}

// chunkOut is what Envoy forwards for one chunk given Ward's answer.
func chunkOut(t testing.TB, in []byte, r *extprocv3.ProcessingResponse) []byte {
	body := r.GetResponseBody()
	if body == nil {
		t.Fatalf("chunk answered with %T", r.Response)
	}
	switch m := body.GetResponse().GetBodyMutation().GetMutation().(type) {
	case nil:
		return in
	case *extprocv3.BodyMutation_Body:
		return m.Body
	case *extprocv3.BodyMutation_ClearBody:
		return nil
	default:
		t.Fatalf("mutation %T", m)
	}
	return nil
}

func chatStream(text string, parts []int) []byte {
	var b bytes.Buffer
	frame := func(delta string) {
		fmt.Fprintf(&b, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":%s,"finish_reason":null}]}`+"\n\n", delta)
	}
	frame(`{"role":"assistant","content":""}`)
	prev := 0
	for _, p := range append(parts, len(text)) {
		js, _ := json.Marshal(text[prev:p])
		frame(`{"content":` + string(js) + `}`)
		prev = p
	}
	b.WriteString(`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n")
	b.WriteString(`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// feed sends stream in chunks of n bytes and returns what the client gets.
func feed(t testing.TB, proc extproc.Processor, stream []byte, n int) []byte {
	ctx := context.Background()
	var out []byte
	for i := 0; ; i += n {
		end := min(i+n, len(stream))
		r, err := proc.ResponseBody(ctx, &extprocv3.HttpBody{Body: stream[i:end], EndOfStream: end == len(stream)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, chunkOut(t, stream[i:end], r)...)
		if end == len(stream) {
			return out
		}
	}
}

func TestStreamGuardRedactsAcrossChunkSizes(t *testing.T) {
	p := guardedPipeline(t, true)
	const text = "Please call her at 617-555-0142 or email maria.garcia@example.org after 5pm. Thanks!"
	for _, n := range []int{1, 2, 3, 17, 64, 4096} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			proc := openStream(t, p)
			out := feed(t, proc, chatStream(text, []int{27, 29, 30, 55, 60}), n)
			proc.Close(context.Background(), nil)
			for _, leak := range []string{"0142", "617-", "garcia@", "example.org"} {
				if bytes.Contains(out, []byte(leak)) {
					t.Fatalf("%q leaked:\n%s", leak, out)
				}
			}
			dec := llm.NewSSEDecoder(0)
			dec.Feed(out)
			dec.Close()
			asm := llm.NewStreamAssembler(llm.EndpointChatCompletions)
			for {
				ev, ok, err := dec.Next()
				if err != nil || !ok {
					break
				}
				if _, err := asm.Consume(&ev); err != nil {
					t.Fatal(err)
				}
			}
			got := asm.Response().Choices[0]
			if !strings.Contains(got, "[PHONE]") || !strings.Contains(got, "[EMAIL]") || !strings.HasSuffix(got, "after 5pm. Thanks!") {
				t.Fatalf("client text %q", got)
			}
		})
	}
}

// FuzzStreamGuard: any bytes, split anywhere, through the real PHI engine
// and policy: one answer per chunk, no panic, and when every upstream
// data payload is JSON, so is every payload the client receives.
func FuzzStreamGuard(f *testing.F) {
	f.Add(chatStream("Call 617-555-0142 now.", []int{7, 9}), uint8(5))
	f.Add(chatStream("caf\xe9 \xff at 617-555-0142", []int{4}), uint8(1))
	f.Add([]byte(": c\r\nretry: 5\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ssn\\\":\\\"123-45-\"}}]}}]}\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"6789\\\"}\"}}]}}]}\r\n\r\n"), uint8(11))
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\ndata: x\n\nevent: weird\ndata: {}\n\n"), uint8(3))
	f.Add([]byte("data:  [DONE]"), uint8(0))
	p := guardedPipeline(f, true)
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		proc := openStream(t, p)
		defer proc.Close(context.Background(), nil)
		out := feed(t, proc, stream, int(step%32)+1)
		if !allJSON(stream) {
			return
		}
		dec := llm.NewSSEDecoder(0)
		dec.Feed(out)
		dec.Close()
		for {
			ev, ok, err := dec.Next()
			if err != nil || !ok {
				break
			}
			if ev.HasData && string(bytes.TrimSpace(ev.Data)) != "[DONE]" && !json.Valid(ev.Data) {
				t.Fatalf("client got invalid JSON %q from %q", ev.Data, stream)
			}
		}
	})
}

func allJSON(stream []byte) bool {
	dec := llm.NewSSEDecoder(0)
	dec.Feed(stream)
	dec.Close()
	for {
		ev, ok, err := dec.Next()
		if err != nil {
			return false
		}
		if !ok {
			return true
		}
		if ev.HasData && string(bytes.TrimSpace(ev.Data)) != "[DONE]" && !json.Valid(ev.Data) {
			return false
		}
	}
}

// BenchmarkStreamGuard measures Ward's time per STREAMED body chunk of a
// 4,000-token chat stream (one delta event per chunk, as providers flush)
// through the real PHI engine, with and without the response_chunk
// policy, and reports the p50/p99 per chunk. Reproduce with
//
//	go test ./extproc -run '^$' -bench StreamGuard -benchtime 3x
//
// Cases: PHI scanning alone; with the clinical policy for an app that is
// not patient-facing (response_checks on_findings), on clean text and on
// text with a phone number every ~200 words; and for a patient-facing app
// (on_findings plus the advice keywords as response_triggers) on clean
// text and on text with an advice keyword every ~200 words.
func BenchmarkStreamGuard(b *testing.B) {
	sentence := "The patient was seen today for follow-up of hypertension and reports good adherence to the current plan. "
	chunked := func(text string) [][]byte {
		words := strings.Fields(text)
		text = strings.Join(words[:4000], " ")
		var parts []int
		pos := 0
		for _, w := range words[:3999] {
			pos += len(w) + 1
			parts = append(parts, pos)
		}
		stream := chatStream(text, parts)
		// Split at event boundaries: one event per chunk.
		var chunks [][]byte
		for rest := stream; len(rest) > 0; {
			i := bytes.Index(rest, []byte("\n\n")) + 2
			chunks = append(chunks, rest[:i])
			rest = rest[i:]
		}
		return chunks
	}
	clean := chunked(strings.Repeat(sentence, 250))
	withPHI := chunked(strings.Repeat(strings.Repeat(sentence, 11)+"Call her back on 617-555-0142 today. ", 22))
	// Advice keywords (response triggers for a patient-facing app) at a
	// realistic rate, one sentence in ~200 words, never completing an
	// advice phrase: every chunk near them is decided.
	withTriggers := chunked(strings.Repeat(strings.Repeat(sentence, 11)+"She plans to start walking again after work. "+
		strings.Repeat(sentence, 11)+"Remember to take the stairs when you can. ", 11))
	patientFacing := func(c *config.Config) {
		c.Policy.Data = map[string]any{"ward": map[string]any{"config": map[string]any{"apps": map[string]any{
			"discharge-notes": map[string]any{"patient_facing": true},
		}}}}
	}
	for _, bc := range []struct {
		name   string
		policy bool
		chunks [][]byte
		tweak  []func(*config.Config)
	}{
		{"phi", false, clean, nil},
		{"phi+policy/clean", true, clean, nil},
		{"phi+policy/findings", true, withPHI, nil},
		{"phi+policy/patient-facing", true, clean, []func(*config.Config){patientFacing}},
		{"phi+policy/patient-facing-triggers", true, withTriggers, []func(*config.Config){patientFacing}},
	} {
		chunks := bc.chunks
		var n int
		for _, c := range chunks {
			n += len(c)
		}
		b.Run(bc.name, func(b *testing.B) {
			p := guardedPipeline(b, bc.policy, bc.tweak...)
			last := &lastIx{}
			p.Recorder = last
			ctx := context.Background()
			lat := make([]time.Duration, 0, len(chunks)*b.N)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				proc := openStream(b, p)
				b.StartTimer()
				for i, c := range chunks {
					t0 := time.Now()
					if _, err := proc.ResponseBody(ctx, &extprocv3.HttpBody{Body: c, EndOfStream: i == len(chunks)-1}); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				proc.Close(ctx, nil)
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs/chunk")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs/chunk")
			b.ReportMetric(float64(last.ix.ChunkDecisions), "decisions/stream")
			b.ReportMetric(float64(last.ix.MaxHeldChars), "max-held-chars")
		})
	}
}

// TestStreamGuardFinishInLastDelta: when the last delta and finish_reason
// share a chunk, the held text goes out in that chunk, not after it.
func TestStreamGuardFinishInLastDelta(t *testing.T) {
	p := guardedPipeline(t, true)
	stream := `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Reach her "},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"at 617-555-0142."},"finish_reason":"stop"}]}` + "\n\n" +
		"data: [DONE]\n\n"
	proc := openStream(t, p)
	out := feed(t, proc, []byte(stream), 5)
	proc.Close(context.Background(), nil)
	want := `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Reach her at [PHONE]."},"finish_reason":"stop"}]}` + "\n\n" +
		"data: [DONE]\n\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

// lastIx keeps the last finished interaction.
type lastIx struct{ ix *extproc.Interaction }

func (l *lastIx) Record(_ context.Context, ix *extproc.Interaction) error {
	l.ix = ix
	return nil
}

// TestStreamGuardTwoChoices: each chat choice is its own text; a flushed
// remainder travels in a copy of that choice's delta with the other
// choice's text emptied, so nothing is duplicated.
func TestStreamGuardTwoChoices(t *testing.T) {
	p := guardedPipeline(t, true)
	ev := func(i int, text string) string {
		js, _ := json.Marshal(text)
		return fmt.Sprintf(`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":%d,"delta":{"content":%s},"finish_reason":null}]}`+"\n\n", i, js)
	}
	stream := ev(0, "Phone 617-5") + ev(1, "Other line 508-") + ev(0, "55-0142 ok") + ev(1, "555-0187 fine") +
		`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{},"finish_reason":"stop"}]}` + "\n\n" +
		"data: [DONE]\n\n"
	for _, n := range []int{3, 1000} {
		proc := openStream(t, p)
		out := feed(t, proc, []byte(stream), n)
		proc.Close(context.Background(), nil)
		dec := llm.NewSSEDecoder(0)
		dec.Feed(out)
		dec.Close()
		asm := llm.NewStreamAssembler(llm.EndpointChatCompletions)
		for {
			e, ok, err := dec.Next()
			if err != nil || !ok {
				break
			}
			if _, err := asm.Consume(&e); err != nil {
				t.Fatal(err)
			}
		}
		got := asm.Response().Choices
		if len(got) != 2 || got[0] != "Phone [PHONE] ok" || got[1] != "Other line [PHONE] fine" {
			t.Fatalf("chunk %d: choices %q\n%s", n, got, out)
		}
	}
}

// TestStreamGuardRecordsStreamFacts: the interaction carries what the
// client saw and the stream's timing and hold-back figures.
func TestStreamGuardRecordsStreamFacts(t *testing.T) {
	p := guardedPipeline(t, true)
	last := &lastIx{}
	p.Recorder = last
	stream := chatStream("Please call 617-555-0142 tomorrow morning.", []int{12, 16, 20}) // + finish, usage, [DONE]
	stream = append([]byte("event: vendor.note\ndata: {\"x\":1}\n\n"), stream...)
	proc := openStream(t, p)
	feed(t, proc, stream, 9)
	proc.Close(context.Background(), nil)
	ix := last.ix
	if ix == nil {
		t.Fatal("no interaction recorded")
	}
	if got := ix.Response.Choices[0]; got != "Please call [PHONE] tomorrow morning." {
		t.Fatalf("delivered %q", got)
	}
	if len(ix.OutputFindings) != 1 {
		t.Fatalf("findings %+v", ix.OutputFindings)
	}
	if f := ix.OutputFindings[0]; ix.Response.Choices[0][f.Start:f.End] != "[PHONE]" {
		t.Fatalf("finding %+v does not point at the delivered replacement", f)
	}
	// Chat chunks have no event type, so a vendor event is an ordinary
	// (text-less) chunk there: forwarded, not unknown.
	if ix.UnknownEvents != 0 || ix.StreamEvents != 9 || ix.ChunkDecisions == 0 || ix.MaxHeldChars == 0 ||
		ix.TTFT <= 0 || ix.Outcome != "redact" || ix.Usage.OutputTokens != 9 {
		t.Fatalf("unknown %d events %d decisions %d held %d ttft %v outcome %s usage %+v",
			ix.UnknownEvents, ix.StreamEvents, ix.ChunkDecisions, ix.MaxHeldChars, ix.TTFT, ix.Outcome, ix.Usage)
	}
}

// TestResponseChecksFromThePolicy: the clinical policy asks for chunk
// decisions only where PHI was found (a non-patient-facing app), so clean
// text streams without policy evaluations and a finding still gets one,
// with its redaction.
func TestResponseChecksFromThePolicy(t *testing.T) {
	for _, tc := range []struct {
		name, text    string
		wantDecisions func(int) bool
		wantDelivered string
	}{
		{"clean text: no chunk decisions", "Rest and fluids; call the clinic if the fever lasts.", func(n int) bool { return n == 0 },
			"Rest and fluids; call the clinic if the fever lasts."},
		{"a finding: decided and redacted", "Please call 617-555-0142 tomorrow morning.", func(n int) bool { return n >= 1 },
			"Please call [PHONE] tomorrow morning."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := guardedPipeline(t, true)
			last := &lastIx{}
			p.Recorder = last
			proc := openStream(t, p)
			feed(t, proc, chatStream(tc.text, []int{5, 10, 15, 20, 25, 30}), 11)
			proc.Close(context.Background(), nil)
			ix := last.ix
			if ix.RequestDecision == nil || ix.RequestDecision.ResponseChecks != extproc.ResponseChecksOnFindings {
				t.Fatalf("request decision %+v", ix.RequestDecision)
			}
			if !tc.wantDecisions(ix.ChunkDecisions) || ix.Response.Choices[0] != tc.wantDelivered {
				t.Fatalf("%d chunk decisions, delivered %q", ix.ChunkDecisions, ix.Response.Choices[0])
			}
		})
	}
}
