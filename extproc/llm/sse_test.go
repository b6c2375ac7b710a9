package llm

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// decodeAll feeds chunks and returns every event (copied) after Close.
func decodeAll(t testing.TB, max int, chunks ...[]byte) ([]SSEEvent, error) {
	t.Helper()
	d := NewSSEDecoder(max)
	var out []SSEEvent
	drain := func() error {
		for {
			ev, ok, err := d.Next()
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			out = append(out, cloneEvent(ev))
		}
	}
	for _, c := range chunks {
		d.Feed(c)
		if err := drain(); err != nil {
			return out, err
		}
	}
	d.Close()
	return out, drain()
}

func cloneEvent(ev SSEEvent) SSEEvent {
	ev.Raw = bytes.Clone(ev.Raw)
	ev.Data = bytes.Clone(ev.Data)
	return ev
}

// render summarises an event's parsed fields.
func render(ev SSEEvent) string {
	s := fmt.Sprintf("event=%q data=%q hasData=%v", ev.Event, ev.Data, ev.HasData)
	if ev.HasID {
		s += fmt.Sprintf(" id=%q", ev.ID)
	}
	if ev.HasRetry {
		s += fmt.Sprintf(" retry=%d", ev.Retry)
	}
	if ev.Incomplete {
		s += " incomplete"
	}
	return s
}

func TestSSEDecoder(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"lf", "data: a\n\ndata: b\n\n", []string{`event="" data="a" hasData=true`, `event="" data="b" hasData=true`}},
		{"crlf", "event: x\r\ndata: a\r\n\r\n", []string{`event="x" data="a" hasData=true`}},
		{"cr", "data: a\rdata: b\r\r", []string{`event="" data="a\nb" hasData=true`}},
		{"mixed endings", "data: 1\r\ndata: 2\ndata: 3\r\r\n", []string{`event="" data="1\n2\n3" hasData=true`}},
		{"comment and fields", ": keep-alive\nid: 42\nretry: 1500\nevent: ping\ndata\n\n",
			[]string{`event="ping" data="" hasData=true id="42" retry=1500`}},
		{"comment only block", ": hi\n\ndata:x\n\n", []string{`event="" data="" hasData=false`, `event="" data="x" hasData=true`}},
		{"no space after colon, two spaces", "data:a\ndata:  b\n\n", []string{`event="" data="a\n b" hasData=true`}},
		{"bad retry ignored, id with NUL ignored", "retry: 12a\nid: a\x00b\ndata: z\n\n", []string{`event="" data="z" hasData=true`}},
		{"unknown field ignored", "foo: bar\ndata: z\n\n", []string{`event="" data="z" hasData=true`}},
		{"bom", "\xEF\xBB\xBFdata: a\n\n", []string{`event="" data="a" hasData=true`}},
		{"leading blank line", "\ndata: a\n\n", []string{`event="" data="" hasData=false`, `event="" data="a" hasData=true`}},
		{"incomplete at eof", "data: a\n\ndata: b", []string{`event="" data="a" hasData=true`, `event="" data="b" hasData=true incomplete`}},
		{"trailing cr at eof", "data: a\r", []string{`event="" data="a" hasData=true incomplete`}},
		{"done", "data: [DONE]\n\n", []string{`event="" data="[DONE]" hasData=true`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := decodeAll(t, 0, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var raw []byte
			for _, ev := range evs {
				got = append(got, render(ev))
				raw = append(raw, ev.Raw...)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events:\n got %q\nwant %q", got, tt.want)
			}
			if string(raw) != tt.in {
				t.Errorf("raw concatenation %q != input %q", raw, tt.in)
			}
		})
	}
}

// sseFixture mixes every line-ending style, comments, multi-byte text and a
// multi-line event.
const sseFixture = ": stream start\r\n" +
	"retry: 3000\n\n" +
	"event: message_start\r\n" +
	"data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\"}}\r\n\r\n" +
	"id: 7\rdata: {\"text\":\"caf\u00e9 \u4e2d\u6587 \U0001F600\"}\r\r" +
	"data: line1\ndata: line2\n\n" +
	"data: [DONE]\n\n"

func TestSSEDecoderEverySplit(t *testing.T) {
	in := []byte(sseFixture)
	ref, err := decodeAll(t, 0, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref) != 5 {
		t.Fatalf("reference: %d events", len(ref))
	}
	for i := 0; i <= len(in); i++ {
		got, err := decodeAll(t, 0, in[:i], in[i:])
		if err != nil {
			t.Fatalf("split %d: %v", i, err)
		}
		if len(got) != len(ref) {
			t.Fatalf("split %d: %d events, want %d", i, len(got), len(ref))
		}
		for j := range got {
			if render(got[j]) != render(ref[j]) || !bytes.Equal(got[j].Raw, ref[j].Raw) {
				t.Fatalf("split %d event %d: %s / %q, want %s / %q", i, j, render(got[j]), got[j].Raw, render(ref[j]), ref[j].Raw)
			}
		}
	}
	// Three-way splits at every pair of positions of a short event.
	short := []byte("event: e\r\ndata: x\r\n\r\n")
	for i := 0; i <= len(short); i++ {
		for j := i; j <= len(short); j++ {
			got, err := decodeAll(t, 0, short[:i], short[i:j], short[j:])
			if err != nil || len(got) != 1 || !bytes.Equal(got[0].Raw, short) || got[0].Event != "e" || string(got[0].Data) != "x" {
				t.Fatalf("split %d,%d: %v %v", i, j, got, err)
			}
		}
	}
	// Byte at a time.
	var chunks [][]byte
	for i := range in {
		chunks = append(chunks, in[i:i+1])
	}
	got, err := decodeAll(t, 0, chunks...)
	if err != nil || len(got) != len(ref) {
		t.Fatalf("byte at a time: %d events, %v", len(got), err)
	}
}

func TestSSEDecoderMaxEvent(t *testing.T) {
	big := "data: " + strings.Repeat("x", 1<<20) + "\n\n"
	// A 1 MB event passes under the default limit.
	evs, err := decodeAll(t, 0, []byte(big[:300000]), []byte(big[300000:]))
	if err != nil || len(evs) != 1 || len(evs[0].Data) != 1<<20 {
		t.Fatalf("1 MB event: %d events, %v", len(evs), err)
	}
	// Over the limit: a clear, sticky error, even before the blank line.
	d := NewSSEDecoder(1024)
	d.Feed([]byte("data: ok\n\n"))
	if _, ok, err := d.Next(); !ok || err != nil {
		t.Fatalf("first event: %v %v", ok, err)
	}
	d.Feed([]byte(big[:2000]))
	_, _, err = d.Next()
	if !errors.Is(err, ErrSSEEventTooLarge) {
		t.Fatalf("err = %v, want ErrSSEEventTooLarge", err)
	}
	if _, _, err2 := d.Next(); !errors.Is(err2, ErrSSEEventTooLarge) {
		t.Fatalf("error not sticky: %v", err2)
	}
	// A long line with no newline at all is bounded too.
	d = NewSSEDecoder(100)
	d.Feed(bytes.Repeat([]byte("a"), 101))
	if _, _, err := d.Next(); !errors.Is(err, ErrSSEEventTooLarge) {
		t.Fatalf("line without newline: %v", err)
	}
}

func TestSSEEventWithData(t *testing.T) {
	evs, err := decodeAll(t, 0, []byte(": c\r\nevent: content_block_delta\r\nid: 9\r\ndata: {\"a\":1}\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	got := ev.WithData([]byte(`{"a":2}`))
	want := ": c\r\nevent: content_block_delta\r\nid: 9\r\ndata: {\"a\":2}\r\n\r\n"
	if string(got) != want {
		t.Errorf("splice: %q want %q", got, want)
	}
	// New data with a line break is re-encoded canonically.
	got = ev.WithData([]byte("x\ny"))
	want = "event: content_block_delta\nid: 9\ndata: x\ndata: y\n\n"
	if string(got) != want {
		t.Errorf("re-encode: %q want %q", got, want)
	}
	// The canonical encoding decodes back to the same fields.
	enc := (&SSEEvent{Event: "e", Data: []byte("a\r\nb\rc"), HasData: true, Retry: 10, HasRetry: true}).AppendTo(nil)
	back, err := decodeAll(t, 0, enc)
	if err != nil || len(back) != 1 || string(back[0].Data) != "a\nb\nc" || back[0].Event != "e" || back[0].Retry != 10 {
		t.Errorf("AppendTo round trip: %q -> %+v %v", enc, back, err)
	}
}

func TestSSEDecoderIncompleteAndCounters(t *testing.T) {
	d := NewSSEDecoder(0)
	d.Feed([]byte("data: a\n\ndata: {\"x\":1}"))
	ev, ok, err := d.Next()
	if !ok || err != nil || string(ev.Data) != "a" {
		t.Fatalf("first: %v %v %q", ok, err, ev.Data)
	}
	if _, ok, _ := d.Next(); ok {
		t.Fatal("incomplete event returned before Close")
	}
	if d.Buffered() != 13 || d.Consumed() != 9 {
		t.Fatalf("buffered %d consumed %d", d.Buffered(), d.Consumed())
	}
	d.Close()
	ev, ok, err = d.Next()
	if !ok || err != nil || !ev.Incomplete || string(ev.Data) != `{"x":1}` {
		t.Fatalf("incomplete: %v %v %+v", ok, err, ev)
	}
	// A rewritten incomplete event is terminated so clients dispatch it.
	if got := string(ev.WithData([]byte(`{"x":2}`))); got != "data: {\"x\":2}\n\n" {
		t.Fatalf("WithData on incomplete: %q", got)
	}
	if _, ok, err := d.Next(); ok || err != nil {
		t.Fatalf("after end: %v %v", ok, err)
	}
	if d.Consumed() != 22 || d.Buffered() != 0 {
		t.Fatalf("consumed %d buffered %d", d.Consumed(), d.Buffered())
	}
}
