package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// sampleEvent is a realistic clinical interaction.
func sampleEvent(i int) *Event {
	start := time.Date(2026, 11, 17, 14, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return &Event{
		ID:             uuid.Must(uuid.NewV7()),
		Start:          start,
		FirstByte:      start.Add(180 * time.Millisecond),
		End:            start.Add(900 * time.Millisecond),
		RequestID:      fmt.Sprintf("req-%d", i),
		TraceID:        "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:         "00f067aa0ba902b7",
		Team:           "cardiology",
		App:            "discharge-notes",
		KeyID:          "key-1",
		EndUser:        "patient-0042",
		Profile:        "clinical",
		Endpoint:       "openai.chat",
		Provider:       "openai",
		ModelRequested: "gpt-4o",
		ModelServed:    "gpt-4o-2024-08-06",
		Status:         200,
		Decision:       DecisionRedact,
		ReasonCode:     "phi.redacted",
		PolicyRevision: "rev-7",
		PHI:            []Count{{Type: "NAME", Count: 2}, {Type: "MRN", Count: 1}},
		Redactions:     []Count{{Type: "NAME", Count: 2}},
		ContentLevel:   ContentRedacted,
		Prompt:         []Message{{Role: "system", Content: "You are a clinical assistant."}, {Role: "user", Content: fmt.Sprintf("Summarise the discharge of [NAME] #%d", i)}},
		Completion:     "The patient was discharged in stable condition.",
		ToolCalls:      []ToolCall{{Name: "lookup_med", Arguments: `{"drug":"metoprolol"}`}},
		InputTokens:    120,
		OutputTokens:   40,
		CostMicroUSD:   900,
		UpstreamMs:     700,
		WardOverheadUs: 850,
	}
}

func sealed(n int) []Event {
	c := Chain{WriterID: uuid.Must(uuid.NewV7())}
	out := make([]Event, n)
	for i := range out {
		e := sampleEvent(i)
		c.Seal(e)
		out[i] = *e
	}
	return out
}

func verify(evs []Event) *Verifier {
	v := &Verifier{}
	for i := range evs {
		v.Add(&evs[i])
	}
	return v
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func([]Event) []Event
		want   string
	}{
		{"intact", func(e []Event) []Event { return e }, ""},
		{"edited decision", func(e []Event) []Event { e[3].Decision = DecisionAllow; return e }, ProblemEdited},
		{"edited cost", func(e []Event) []Event { e[3].CostMicroUSD = 1; return e }, ProblemEdited},
		{"edited completion", func(e []Event) []Event { e[3].Completion = "changed"; return e }, ProblemContentEdited},
		{"deleted row", func(e []Event) []Event { return append(e[:3], e[4:]...) }, ProblemMissing},
		{"deleted head", func(e []Event) []Event { return e[1:] }, ProblemHeadMissing},
		{"reordered seq swapped", func(e []Event) []Event {
			e[3].Seq, e[4].Seq = e[4].Seq, e[3].Seq
			e[3], e[4] = e[4], e[3]
			return e
		}, ProblemEdited},
		{"duplicate seq", func(e []Event) []Event {
			d := e[3]
			d.ID = uuid.Must(uuid.NewV7())
			return append(e[:4], append([]Event{d}, e[4:]...)...)
		}, ProblemDuplicate},
		{"relinked after delete", func(e []Event) []Event {
			// Delete event 3 and renumber/re-hash event 4 without knowing the
			// chain: the link to event 2 breaks.
			e = append(e[:3], e[4:]...)
			e[3].Seq = 4
			e[3].Hash, _ = ComputeHash(&e[3], nil)
			return e
		}, ProblemBrokenLink},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := verify(tc.tamper(sealed(8)))
			if tc.want == "" {
				if !v.OK() {
					t.Fatalf("problems on intact chain: %v", v.Problems)
				}
				if v.Events != 8 || v.Writers != 1 {
					t.Fatalf("events=%d writers=%d", v.Events, v.Writers)
				}
				return
			}
			for _, p := range v.Problems {
				if p.Kind == tc.want {
					return
				}
			}
			t.Fatalf("want %s, got %v", tc.want, v.Problems)
		})
	}
}

func TestVerifyContentExpiry(t *testing.T) {
	evs := sealed(3)
	evs[1].Prompt, evs[1].Completion, evs[1].ToolCalls = nil, "", nil // TTL cleared the content
	v := verify(evs)
	if !v.OK() || v.ContentExpired != 1 {
		t.Fatalf("ok=%v expired=%d problems=%v", v.OK(), v.ContentExpired, v.Problems)
	}
}

func TestSpoolCorruptRecordSkipped(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := OpenSpool(dir, SpoolOptions{SegmentBytes: 1 << 20, MaxBytes: 1 << 30, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	var frames []byte
	var offs []int
	for i := range 5 {
		offs = append(offs, len(frames))
		frames = AppendFrame(frames, []byte(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, bytes.Repeat([]byte("x"), 100))))
	}
	start, end, err := sp.Append(frames)
	if err != nil {
		t.Fatal(err)
	}
	sp.Close()
	// Flip a payload byte of record 2: its CRC no longer matches.
	path := filepath.Join(dir, fmt.Sprintf("seg-%020d.wal", start.Seg))
	data, _ := os.ReadFile(path)
	data[offs[2]+frameHeader+3] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	sp, last, err := OpenSpool(dir, SpoolOptions{SegmentBytes: 1 << 20, MaxBytes: 1 << 30, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if !bytes.Contains(last, []byte(`"n":4`)) {
		t.Fatalf("last record = %q", last)
	}
	var got []string
	pos := sp.AckPos()
	for pos.Less(end) {
		recs, next, _, err := sp.Read(pos, 100, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got = append(got, string(r[:6]))
		}
		pos = next
	}
	want := []string{`{"n":0`, `{"n":1`, `{"n":3`, `{"n":4`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replayed %v, want %v", got, want)
	}
	if sp.Corrupt() != 1 {
		t.Fatalf("corrupt = %d, want 1", sp.Corrupt())
	}
}

func TestSpoolTornTailTruncated(t *testing.T) {
	dir := t.TempDir()
	opt := SpoolOptions{SegmentBytes: 1 << 20, MaxBytes: 1 << 30, Logger: quietLog}
	sp, _, err := OpenSpool(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sp.Append(AppendFrame(AppendFrame(nil, []byte("one")), []byte("two"))); err != nil {
		t.Fatal(err)
	}
	sp.Close()
	path := filepath.Join(dir, fmt.Sprintf("seg-%020d.wal", 1))
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(AppendFrame(nil, []byte("three"))[:9]) // crash mid-write
	f.Close()
	sp, last, err := OpenSpool(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if string(last) != "two" {
		t.Fatalf("last = %q", last)
	}
	if _, _, err := sp.Append(AppendFrame(nil, []byte("four"))); err != nil {
		t.Fatal(err)
	}
	recs, _, _, err := sp.Read(Pos{Seg: 1}, 10, 1<<20, nil)
	if err != nil || len(recs) != 3 || string(recs[2]) != "four" || sp.Corrupt() != 0 {
		t.Fatalf("recs=%q corrupt=%d err=%v", recs, sp.Corrupt(), err)
	}
}

func TestSpoolRotatesAndDeletesAcked(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := OpenSpool(dir, SpoolOptions{SegmentBytes: 4096, MaxBytes: 1 << 20, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	payload := bytes.Repeat([]byte("p"), 1000)
	var end Pos
	for range 20 {
		if _, end, err = sp.Append(AppendFrame(nil, payload)); err != nil {
			t.Fatal(err)
		}
	}
	if sp.Segments() < 5 {
		t.Fatalf("segments = %d, want rotation", sp.Segments())
	}
	n, pos := 0, sp.AckPos()
	for pos.Less(sp.Norm(end)) {
		recs, next, _, err := sp.Read(pos, 3, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		n += len(recs)
		pos = next
		if err := sp.Ack(pos); err != nil {
			t.Fatal(err)
		}
	}
	if n != 20 || sp.Segments() != 1 || sp.UnsentBytes() != 0 {
		t.Fatalf("read %d, segments %d, unsent %d", n, sp.Segments(), sp.UnsentBytes())
	}
}

// flakySink is the boundary double for a sink that is down: it fails while
// down is set and otherwise forwards to a real JSONL sink.
type flakySink struct {
	down atomic.Bool
	next Sink
}

func (f *flakySink) Write(ctx context.Context, evs []Event) error {
	if f.down.Load() {
		return errors.New("sink down")
	}
	return f.next.Write(ctx, evs)
}
func (f *flakySink) Close(ctx context.Context) error { return f.next.Close(ctx) }

func readJSONLFile(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Event
	if err := ReadJSONL(f, func(e *Event) error { out = append(out, *e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func testConfig(t *testing.T, spool string, sink Sink) Config {
	return Config{SpoolDir: spool, Sink: sink, FlushInterval: 5 * time.Millisecond, MaxBatch: 64, QueueSize: 4096,
		RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond, Logger: quietLog}
}

func TestWriterDeliversInChainOrder(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "audit.jsonl")
	sink, err := OpenJSONLFile(out)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(testConfig(t, filepath.Join(dir, "spool"), sink))
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n / 4 {
				e := sampleEvent(g*1000 + i)
				var err error
				if i%50 == 0 {
					err = w.RecordDurable(context.Background(), e)
				} else {
					for err = w.Record(e); errors.Is(err, ErrQueueFull); err = w.Record(e) {
						time.Sleep(time.Millisecond)
					}
				}
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := readJSONLFile(t, out)
	v := verify(evs)
	if len(evs) != n || !v.OK() {
		t.Fatalf("got %d events, problems %v", len(evs), v.Problems)
	}
	st := w.Stats()
	if st.Spooled != n || st.Sent != n || st.SpoolBytes != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := w.Record(sampleEvent(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Record after Shutdown = %v", err)
	}
}

func TestWriterReplaysAfterOutageAndRestart(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	out := filepath.Join(dir, "audit.jsonl")
	jsonl, err := OpenJSONLFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sink := &flakySink{next: jsonl}
	w, err := New(testConfig(t, spool, sink))
	if err != nil {
		t.Fatal(err)
	}
	writer := w.WriterID()
	record := func(w *Writer, from, to int) {
		for i := from; i < to; i++ {
			if err := w.RecordDurable(context.Background(), sampleEvent(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	record(w, 0, 100)
	sink.down.Store(true)
	record(w, 100, 300)
	time.Sleep(30 * time.Millisecond)
	if st := w.Stats(); st.SpoolBytes == 0 || st.SinkErrors == 0 {
		t.Fatalf("expected a backlog while the sink is down: %+v", st)
	}
	// Shut down while the sink is still down: the backlog stays in the spool.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	w.Shutdown(ctx)
	cancel()

	jsonl, err = OpenJSONLFile(out)
	if err != nil {
		t.Fatal(err)
	}
	w, err = New(testConfig(t, spool, jsonl))
	if err != nil {
		t.Fatal(err)
	}
	if w.WriterID() != writer {
		t.Fatalf("restart started a new chain %s, want %s", w.WriterID(), writer)
	}
	record(w, 300, 350)
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Replayed == 0 {
		t.Fatalf("no replay counted: %+v", st)
	}
	evs := readJSONLFile(t, out)
	seen := map[uuid.UUID]int{}
	for _, e := range evs {
		seen[e.ID]++
	}
	if len(seen) != 350 {
		t.Fatalf("distinct events %d, want 350 (rows %d)", len(seen), len(evs))
	}
	// A sink that lost an ack may see a batch twice; dedupe like ClickHouse does.
	uniq := evs[:0]
	last := uint64(0)
	for _, e := range evs {
		if e.Seq > last {
			uniq = append(uniq, e)
			last = e.Seq
		}
	}
	v := verify(uniq)
	if !v.OK() || v.Events != 350 {
		t.Fatalf("chain across restart: events %d problems %v", v.Events, v.Problems)
	}
	if h := w.ChainHead(); len(v.Heads) != 1 || v.Heads[0] != h || h.LastSeq != 350 {
		t.Fatalf("writer head %+v, verifier heads %+v", h, v.Heads)
	}
}

func TestWriterSpoolFull(t *testing.T) {
	dir := t.TempDir()
	sink := &flakySink{next: NewJSONLSink(io.Discard)}
	sink.down.Store(true)
	cfg := testConfig(t, dir, sink)
	cfg.SegmentBytes, cfg.SpoolMaxBytes = 4096, 16384
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var full error
	for i := 0; i < 200 && full == nil; i++ {
		if err := w.RecordDurable(context.Background(), sampleEvent(i)); err != nil {
			full = err
		}
	}
	if !errors.Is(full, ErrSpoolFull) {
		t.Fatalf("got %v, want ErrSpoolFull", full)
	}
	if err := w.Record(sampleEvent(0)); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("Record = %v, want ErrSpoolFull", err)
	}
	sink.down.Store(false) // sink back: spool drains and accepts again
	deadline := time.Now().Add(5 * time.Second)
	for w.Record(sampleEvent(1)) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("spool never drained: %+v", w.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := w.Stats(); st.DroppedSpool == 0 {
		t.Fatalf("drops not counted: %+v", st)
	}
	w.Shutdown(context.Background())
}

func TestConfigValidateReportsAll(t *testing.T) {
	c := Config{QueueSize: -1, MaxBatch: -1, FlushInterval: -1, SinkTimeout: 1, RetryMin: 1, RetryMax: 1, SegmentBytes: 1, SpoolMaxBytes: 1}
	err := c.Validate()
	for _, want := range []string{"audit.spool_dir", "audit.sink", "audit.queue_size", "audit.max_batch", "audit.flush_interval", "audit.segment_bytes"} {
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("missing %s in %v", want, err)
		}
	}
}

// FuzzSpoolRead feeds arbitrary segment bytes to the reader: it must never
// panic or loop, and must only return records whose checksum holds.
func FuzzSpoolRead(f *testing.F) {
	f.Add(AppendFrame(AppendFrame(nil, []byte("a")), []byte("bc")))
	f.Add([]byte("WRD1\xff\xff\xff\x7f...."))
	f.Add(append([]byte("garbage"), AppendFrame(nil, []byte("x"))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "seg-00000000000000000001.wal"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		sp, _, err := OpenSpool(dir, SpoolOptions{SegmentBytes: 1 << 20, MaxBytes: 1 << 30, Logger: quietLog})
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		pos := Pos{Seg: 1}
		for i := 0; pos.Less(sp.End()); i++ {
			if i > len(data)+1 {
				t.Fatal("reader does not make progress")
			}
			recs, next, _, err := sp.Read(pos, 10, 64, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if _, _, ok := parseFrame(AppendFrame(nil, r)); !ok {
					t.Fatal("invalid record returned")
				}
			}
			if !pos.Less(next) {
				t.Fatalf("no progress at %v", pos)
			}
			pos = next
		}
	})
}

func TestCodecRoundTrip(t *testing.T) {
	evs := sealed(3)
	evs[1].FirstByte, evs[1].PHI, evs[1].Prompt, evs[1].ToolCalls, evs[1].Completion = time.Time{}, nil, nil, nil, ""
	evs[2].Stream, evs[2].Error, evs[2].Status = true, "upstream reset\n\x00", 502
	for i := range evs {
		var got Event
		if err := DecodeEvent(AppendEncoded(nil, &evs[i]), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, evs[i]) {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i, got, evs[i])
		}
	}
	p := AppendEncoded(nil, &evs[0])
	for _, bad := range [][]byte{nil, {9}, p[:len(p)-1], append(slices.Clone(p), 0)} {
		var e Event
		if err := DecodeEvent(bad, &e); err == nil {
			t.Errorf("DecodeEvent accepted %d bytes", len(bad))
		}
	}
}

// FuzzDecodeEvent: arbitrary bytes never panic or over-allocate, and what
// decodes re-encodes to the same bytes.
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range sealed(2) {
		f.Add(AppendEncoded(nil, &e))
	}
	withVerdicts := withDetectors(sampleEvent(3))
	var c Chain
	c.Seal(withVerdicts)
	f.Add(AppendEncoded(nil, withVerdicts))
	f.Add([]byte{1})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if DecodeEvent(data, &e) != nil {
			return
		}
		var again Event
		if err := DecodeEvent(AppendEncoded(nil, &e), &again); err != nil || !reflect.DeepEqual(e, again) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

// TestDecodeVersion1Records: spool records written before the streaming
// fields existed still decode after an upgrade (replay must not lose them).
func TestDecodeVersion1Records(t *testing.T) {
	e := sampleEvent(3)
	var c Chain
	c.Seal(e)
	v2 := AppendEncoded(nil, e)
	// A version 1 record is the version 2 layout without the three 8-byte
	// streaming fields that precede the four trailing strings.
	tail := 0
	for _, s := range []string{e.Error, e.ContentHash, e.PrevHash, e.Hash} {
		tail += len(binary.AppendUvarint(nil, uint64(len(s)))) + len(s)
	}
	cut := len(v2) - tail
	v1 := append([]byte{1}, v2[1:cut-24]...)
	v1 = append(v1, v2[cut:]...)
	var got Event
	if err := DecodeEvent(v1, &got); err != nil {
		t.Fatal(err)
	}
	if got.Hash != e.Hash || got.Completion != e.Completion || got.WardOverheadUs != e.WardOverheadUs || got.TPOTUs != 0 {
		t.Fatalf("v1 decode: %+v", got)
	}
	if err := DecodeEvent(append([]byte{9}, v2[1:]...), &got); err == nil {
		t.Fatal("an unknown version must be refused")
	}
}

// sizeSink records the size of every write and forwards to a real sink.
type sizeSink struct {
	mu    sync.Mutex
	sizes []int
	seqs  []uint64
	next  Sink
}

func (s *sizeSink) Write(ctx context.Context, evs []Event) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(evs))
	for i := range evs {
		s.seqs = append(s.seqs, evs[i].Seq)
	}
	s.mu.Unlock()
	return s.next.Write(ctx, evs)
}
func (s *sizeSink) Close(ctx context.Context) error { return s.next.Close(ctx) }

// TestWriterCatchUpSpansSegments: a backlog spread over many small spool
// segments is shipped in SinkBatch-sized writes (ClickHouse pays per insert),
// in chain order, each event once.
func TestWriterCatchUpSpansSegments(t *testing.T) {
	spool := t.TempDir()
	down := &flakySink{next: NewJSONLSink(io.Discard)}
	down.down.Store(true)
	cfg := testConfig(t, spool, down)
	cfg.SegmentBytes, cfg.SinkBatch = 4096, 250
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if err := w.RecordDurable(context.Background(), sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	w.Shutdown(ctx) // the backlog stays in the spool
	cancel()

	sink := &sizeSink{next: NewJSONLSink(io.Discard)}
	cfg.Sink = sink
	w, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []int{250, 50}; !slices.Equal(sink.sizes, want) {
		t.Fatalf("write sizes %v, want %v (segments of 4 KiB hold a few events each)", sink.sizes, want)
	}
	for i, seq := range sink.seqs {
		if seq != uint64(i+1) {
			t.Fatalf("write %d has seq %d, want %d", i, seq, i+1)
		}
	}
}
