package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

var endpoints = []Endpoint{EndpointChatCompletions, EndpointResponses, EndpointMessages}

func addBodySeeds(f *testing.F) {
	for _, s := range []string{
		chatRequest, responsesRequest, anthropicRequest, chatResponse, responsesResponse, anthropicResponse,
		`{}`, `[]`, `{"model":`, `{"messages":[{"role":"user","content":"a\u0000\ud800b"}]}`,
		"{\"input\":\"\xff\"}", `{"messages":[{"content":[{"type":"text","text":"x"},{"type":"tool_result","content":[{"text":"y"}]}]}]}`,
		`{"error":{"message":"m","type":"t"}}`, `{"max_tokens":1e3,"stream":true}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzParseRequest checks the parser against encoding/json: it accepts only
// valid JSON, reports ErrMalformed only for invalid JSON, and every part
// span decodes to the part's text.
func FuzzParseRequest(f *testing.F) {
	addBodySeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		valid := json.Valid(body)
		for _, ep := range endpoints {
			r, err := ParseRequest(ep, body)
			if err == nil {
				if !valid {
					t.Fatalf("%s: accepted invalid JSON %q", ep, body)
				}
				if !utf8.Valid(body) {
					t.Fatalf("%s: accepted invalid UTF-8 %q", ep, body)
				}
				checkSpans(t, body, r.Parts)
				continue
			}
			if !valid && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidUTF8) && !errors.Is(err, ErrShape) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("%s: invalid JSON gave unexpected error %v", ep, err)
			}
			if errors.Is(err, ErrMalformed) && valid {
				t.Fatalf("%s: valid JSON %q reported malformed: %v", ep, body, err)
			}
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	addBodySeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		valid := json.Valid(body)
		for _, ep := range endpoints {
			r, err := ParseResponse(ep, body)
			if err == nil {
				if !valid {
					t.Fatalf("%s: accepted invalid JSON %q", ep, body)
				}
				checkSpans(t, body, r.Parts)
				continue
			}
			if errors.Is(err, ErrMalformed) && valid {
				t.Fatalf("%s: valid JSON %q reported malformed: %v", ep, body, err)
			}
		}
	})
}

// FuzzSSEDecoder: no panic; the raw events concatenate to exactly the
// consumed input regardless of how it is split; the assemblers never
// panic on whatever the events hold.
func FuzzSSEDecoder(f *testing.F) {
	for _, s := range []string{chatStream, responsesStream, anthropicStream, sseFixture, "data: a\r", "\xEF\xBB", ":\r\r\r\n\n"} {
		f.Add([]byte(s), uint16(7), uint16(0))
	}
	f.Fuzz(runFuzzSSE)
}

func runFuzzSSE(t *testing.T, in []byte, step uint16, max uint16) {
	{
		limit := int(max)
		if limit == 0 {
			limit = 1 << 20
		}
		n := int(step%64) + 1
		d := NewSSEDecoder(limit)
		asms := []*StreamAssembler{NewStreamAssembler(EndpointChatCompletions), NewStreamAssembler(EndpointResponses), NewStreamAssembler(EndpointMessages)}
		var raw []byte
		var decErr error
		drain := func() {
			for decErr == nil {
				ev, ok, err := d.Next()
				if err != nil {
					decErr = err
					return
				}
				if !ok {
					return
				}
				if len(ev.Raw) == 0 {
					t.Fatal("empty event")
				}
				raw = append(raw, ev.Raw...)
				for _, a := range asms {
					c, err := a.Consume(&ev)
					if err != nil {
						continue
					}
					for _, dl := range c.Deltas {
						if dl.Start < 0 || dl.End > len(ev.Data) || ev.Data[dl.Start] != '"' {
							t.Fatalf("bad delta span %d..%d in %q", dl.Start, dl.End, ev.Data)
						}
					}
				}
			}
		}
		for i := 0; i < len(in); i += n {
			d.Feed(in[i:min(i+n, len(in))])
			drain()
		}
		d.Close()
		drain()
		if int64(len(raw)) != d.Consumed() || !bytes.HasPrefix(in, raw) {
			t.Fatalf("raw events %q are not the consumed prefix of %q", raw, in)
		}
		if decErr == nil && !bytes.Equal(raw, in) {
			t.Fatalf("raw events %q != input %q", raw, in)
		}
		if decErr != nil && !errors.Is(decErr, ErrSSEEventTooLarge) {
			t.Fatalf("unexpected error %v", decErr)
		}
	}
}

// FuzzRewriteStrings replaces every part of any body the parser accepts:
// the result is valid JSON and parses back to the same parts with the new
// texts.
func FuzzRewriteStrings(f *testing.F) {
	for _, s := range []string{chatRequest, responsesRequest, anthropicRequest} {
		f.Add([]byte(s), "[REDACTED]", "a\"b\\c\n\u2028\x01")
		f.Add([]byte(s), "", "bad \xff utf8")
	}
	f.Fuzz(func(t *testing.T, body []byte, a, b string) {
		for _, ep := range endpoints {
			r, err := ParseRequest(ep, body)
			if err != nil {
				continue
			}
			edits := make([]Edit, len(r.Parts))
			for i, p := range r.Parts {
				txt := a
				if i%2 == 1 {
					txt = b
				}
				edits[i] = Edit{Start: p.Start, End: p.End, NewText: txt}
			}
			out, err := RewriteStrings(body, edits)
			if err != nil {
				t.Fatalf("%s: %v", ep, err)
			}
			if !json.Valid(out) {
				t.Fatalf("%s: invalid JSON %q", ep, out)
			}
			r2, err := ParseRequest(ep, out)
			if err != nil {
				t.Fatalf("%s: reparse: %v\n%s", ep, err, out)
			}
			if len(r2.Parts) != len(r.Parts) {
				t.Fatalf("%s: %d parts after rewrite, want %d", ep, len(r2.Parts), len(r.Parts))
			}
			for i, p := range r2.Parts {
				want := jsonRoundTrip(edits[i].NewText)
				if p.Text != want || p.Role != r.Parts[i].Role {
					t.Fatalf("%s: part %d = %q/%s, want %q/%s", ep, i, p.Text, p.Role, want, r.Parts[i].Role)
				}
			}
		}
	})
}

// jsonRoundTrip is what a string becomes after JSON encoding (invalid
// UTF-8 bytes turn into U+FFFD).
func jsonRoundTrip(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// FuzzStreamAssembler feeds one event's data to every dialect: no panic,
// malformed data is an error, and every delta span decodes to its text.
func FuzzStreamAssembler(f *testing.F) {
	for _, s := range []string{chatStream, responsesStream, anthropicStream} {
		evs, _ := decodeAll(f, 0, []byte(s))
		for _, ev := range evs {
			f.Add(ev.Data, ev.Event)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, event string) {
		for _, ep := range endpoints {
			a := NewStreamAssembler(ep)
			ev := SSEEvent{Raw: data, Data: data, HasData: true, Event: event, dataStart: -1}
			c, err := a.Consume(&ev)
			if err != nil {
				if json.Valid(data) && errors.Is(err, ErrMalformed) {
					t.Fatalf("%s: valid JSON %q reported malformed: %v", ep, data, err)
				}
				continue
			}
			for _, d := range c.Deltas {
				var s string
				if err := json.Unmarshal(data[d.Start:d.End], &s); err != nil || s != d.Text {
					t.Fatalf("%s: delta span %q does not decode to %q", ep, data[d.Start:d.End], d.Text)
				}
			}
			_ = a.Response()
		}
	})
}
