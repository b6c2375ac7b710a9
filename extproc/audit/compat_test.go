package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Pinned values, computed with the code before detector verdicts existed
// (commit c4650c5): the content hash and "ward-audit-v2" chain hash of
// pinnedEvent, and its spool record in codec version 2.
const (
	pinnedContentHash = "413d8dd65d21ccedefb50e08bbd4b55b707a18832674959c891eadf081a2a11a"
	pinnedHash        = "79e80bebd44f9acc1f2b750762db6891defb7e8875dd7307057b8f88a1be9522"
	pinnedCodecV2     = "020193a1b2c3d47e5f8a9b0c1d2e3f4a5b0193a1b200007000800000000000beef000000000000002a000001a1e9ceb37b000001a1e9ceb42f000001a1e9ceb6ff0a7265712d70696e6e656420346266393266333537376233346461366133636539323964306530653437333610303066303637616130626139303262370a63617264696f6c6f67790f6469736368617267652d6e6f746573056b65792d310c70617469656e742d3030343208636c696e6963616c0b6f70656e61692e63686174066f70656e6169066770742d346f116770742d346f2d323032342d30382d3036000000000000000100000000000000c8067265646163740c7068692e7265646163746564057265762d3702034d524e0000000000000001044e414d45000000000000000201044e414d450000000000000002087265646163746564020673797374656d1d596f7520617265206120636c696e6963616c20617373697374616e742e04757365722153756d6d61726973652074686520646973636861726765206f66205b4e414d455d2f5468652070617469656e7420776173206469736368617267656420696e20737461626c6520636f6e646974696f6e2e010a6c6f6f6b75705f6d6564157b2264727567223a226d65746f70726f6c6f6c227d000000000000007800000000000000280000000000000010000000000000038400000000000002bc0000000000000352000001a1e9ceb4750000000000003a98000000000000001830757361676520657374696d617465642062792057617264202870726f7669646572207265706f72746564206e6f6e6529403431336438646436356432316363656465666235306530386262643462353562373037613138383332363734393539633839316561646630383161326131316140356632633865316139623764336334653666386130623163326433653466356136623763386439653066316132623363346435653666376138623963306431654037396538306265626434346639616363316632623735303736326462363839316465666237653838373564643733303730353762386638386131626539353232"
)

// pinnedEvent is a fixed event (every field set, no detector verdicts)
// sealed at seq 42 of a fixed writer.
func pinnedEvent() *Event {
	start := time.Date(2026, 11, 17, 14, 0, 0, 123_000_000, time.UTC)
	e := &Event{
		ID:             uuid.MustParse("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
		Start:          start,
		FirstByte:      start.Add(180 * time.Millisecond),
		End:            start.Add(900 * time.Millisecond),
		RequestID:      "req-pinned",
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
		Stream:         true,
		Status:         200,
		Decision:       DecisionRedact,
		ReasonCode:     "phi.redacted",
		PolicyRevision: "rev-7",
		PHI:            []Count{{Type: "MRN", Count: 1}, {Type: "NAME", Count: 2}},
		Redactions:     []Count{{Type: "NAME", Count: 2}},
		ContentLevel:   ContentRedacted,
		Prompt:         []Message{{Role: "system", Content: "You are a clinical assistant."}, {Role: "user", Content: "Summarise the discharge of [NAME]"}},
		Completion:     "The patient was discharged in stable condition.",
		ToolCalls:      []ToolCall{{Name: "lookup_med", Arguments: `{"drug":"metoprolol"}`}},
		InputTokens:    120,
		OutputTokens:   40,
		CachedTokens:   16,
		CostMicroUSD:   900,
		UpstreamMs:     700,
		WardOverheadUs: 850,
		FirstToken:     start.Add(250 * time.Millisecond),
		TPOTUs:         15000,
		MaxHeldChars:   24,
		Error:          "usage estimated by Ward (provider reported none)",
	}
	c := Chain{WriterID: uuid.MustParse("0193a1b2-0000-7000-8000-00000000beef"), Seq: 41,
		Last: "5f2c8e1a9b7d3c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"}
	c.Seal(e)
	return e
}

// TestHashCompatibleWithV2Trails: an event without detector verdicts hashes
// exactly as before they existed, so trails written by the previous version
// still verify, and its old spool record still decodes to the same event.
func TestHashCompatibleWithV2Trails(t *testing.T) {
	e := pinnedEvent()
	if e.ContentHash != pinnedContentHash || e.Hash != pinnedHash {
		t.Fatalf("hashes changed:\ncontent %s\nhash    %s", e.ContentHash, e.Hash)
	}
	v := &Verifier{AllowHeadGap: true}
	v.Add(e)
	if !v.OK() || v.Events != 1 {
		t.Fatalf("pinned v2 event does not verify: %v", v.Problems)
	}

	old, err := hex.DecodeString(pinnedCodecV2)
	if err != nil || old[0] != 2 {
		t.Fatalf("pinned record: %v", err)
	}
	var got Event
	if err := DecodeEvent(old, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, e) {
		t.Fatalf("codec v2 record:\n got %+v\nwant %+v", got, *e)
	}
	v = &Verifier{AllowHeadGap: true}
	v.Add(&got)
	if !v.OK() {
		t.Fatalf("decoded v2 record does not verify: %v", v.Problems)
	}
	// The current encoding of the same event differs only in the version byte.
	if cur := AppendEncoded(nil, e); cur[0] != codecVersion || !bytes.Equal(cur[1:], old[1:]) {
		t.Fatalf("encoding of an event without verdicts changed beyond the version byte")
	}
}

func withDetectors(e *Event) *Event {
	e.Injection = &Injection{Score: 0.93, Rules: []string{"instruction_override", "system_prompt_exfiltration"}}
	e.Topic = &Topic{InScope: 0.12, Nearest: "coding help", Directive: true}
	return e
}

// TestDetectorVerdictsAreHashed: every detector field is covered by the
// chain hash, and "did not run" hashes differently from "scored 0".
func TestDetectorVerdictsAreHashed(t *testing.T) {
	chain := func(first *Event) []Event {
		c := Chain{WriterID: uuid.Must(uuid.NewV7())}
		evs := []*Event{sampleEvent(0), first, sampleEvent(2)}
		out := make([]Event, len(evs))
		for i, e := range evs {
			c.Seal(e)
			out[i] = *e
		}
		return out
	}
	both := func() *Event { return withDetectors(sampleEvent(1)) }
	zero := func() *Event {
		e := sampleEvent(1)
		e.Injection = &Injection{Score: 0}
		e.Topic = &Topic{InScope: 0}
		return e
	}
	tests := []struct {
		name   string
		event  func() *Event
		tamper func(e *Event)
	}{
		{"injection score", both, func(e *Event) { e.Injection.Score = 0.2 }},
		{"injection rule renamed", both, func(e *Event) { e.Injection.Rules[1] = "persona_switch" }},
		{"injection rule removed", both, func(e *Event) { e.Injection.Rules = e.Injection.Rules[:1] }},
		{"injection rule added", both, func(e *Event) { e.Injection.Rules = append(e.Injection.Rules, "encoded_payload") }},
		{"injection rules reordered", both, func(e *Event) { slices.Reverse(e.Injection.Rules) }},
		{"injection removed", both, func(e *Event) { e.Injection = nil }},
		{"topic in-scope", both, func(e *Event) { e.Topic.InScope = 0.9 }},
		{"topic nearest", both, func(e *Event) { e.Topic.Nearest = "discharge summary" }},
		{"topic directive", both, func(e *Event) { e.Topic.Directive = false }},
		{"topic removed", both, func(e *Event) { e.Topic = nil }},
		{"both removed", both, func(e *Event) { e.Injection, e.Topic = nil, nil }},
		{"injection scored 0 becomes did-not-run", zero, func(e *Event) { e.Injection = nil }},
		{"topic scored 0 becomes did-not-run", zero, func(e *Event) { e.Topic = nil }},
		{"injection added where none ran", func() *Event { return sampleEvent(1) }, func(e *Event) { e.Injection = &Injection{} }},
		{"topic added where none ran", func() *Event { return sampleEvent(1) }, func(e *Event) { e.Topic = &Topic{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs := chain(tc.event())
			if v := verify(evs); !v.OK() {
				t.Fatalf("intact chain: %v", v.Problems)
			}
			// Tamper with a deep copy, as an edited row would be.
			var cp Event
			if err := DecodeEvent(AppendEncoded(nil, &evs[1]), &cp); err != nil {
				t.Fatal(err)
			}
			tc.tamper(&cp)
			evs[1] = cp
			v := verify(evs)
			if len(v.Problems) != 1 || v.Problems[0].Kind != ProblemEdited || v.Problems[0].Seq != 2 {
				t.Fatalf("want one edited problem at seq 2, got %v", v.Problems)
			}
		})
	}
}

func TestDetectorVerdictsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		set  func(e *Event)
	}{
		{"none", func(e *Event) {}},
		{"injection only", func(e *Event) { e.Injection = &Injection{Score: 0.5, Rules: []string{"delimiter_injection"}} }},
		{"injection scored 0, no rules", func(e *Event) { e.Injection = &Injection{} }},
		{"topic only", func(e *Event) { e.Topic = &Topic{InScope: 0.97, Nearest: "discharge summary"} }},
		{"topic without nearest", func(e *Event) { e.Topic = &Topic{InScope: 0.3, Directive: true} }},
		{"both", func(e *Event) { withDetectors(e) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := sampleEvent(4)
			tc.set(e)
			var c Chain
			c.Seal(e)

			var got Event
			if err := DecodeEvent(AppendEncoded(nil, e), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&got, e) {
				t.Fatalf("spool codec:\n got %+v\nwant %+v", got, *e)
			}

			var buf bytes.Buffer
			if err := NewJSONLSink(&buf).Write(context.Background(), []Event{*e}); err != nil {
				t.Fatal(err)
			}
			line := buf.String()
			if (e.Injection == nil) == strings.Contains(line, `"injection":`) || (e.Topic == nil) == strings.Contains(line, `"topic":`) {
				t.Fatalf("JSON must carry exactly the verdicts present: %s", line)
			}
			var n int
			if err := ReadJSONL(&buf, func(j *Event) error {
				n++
				if !reflect.DeepEqual(j, e) {
					t.Fatalf("JSON lines:\n got %+v\nwant %+v", *j, *e)
				}
				v := &Verifier{}
				v.Add(j)
				if !v.OK() {
					t.Fatalf("JSON copy does not verify: %v", v.Problems)
				}
				return nil
			}); err != nil || n != 1 {
				t.Fatalf("read %d events: %v", n, err)
			}
		})
	}
	if !strings.Contains(mustJSON(t, &Event{Injection: &Injection{}}), `"injection":{"score":0}`) {
		t.Fatal("a zero injection score must be written, not omitted")
	}
}

func mustJSON(t *testing.T, e *Event) string {
	t.Helper()
	var buf bytes.Buffer
	if err := NewJSONLSink(&buf).Write(context.Background(), []Event{*e}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestSealClampsScores: scores outside [0, 1] or NaN are stored as the
// nearest bound (0 for NaN), so JSON can carry them and they hash to one
// bit pattern; an empty rule list is stored as none.
func TestSealClampsScores(t *testing.T) {
	tests := []struct{ in, want float32 }{
		{float32(math.NaN()), 0}, {-0.2, 0}, {float32(math.Copysign(0, -1)), 0},
		{0.25, 0.25}, {1, 1}, {1.5, 1}, {float32(math.Inf(1)), 1},
	}
	for _, tc := range tests {
		e := sampleEvent(1)
		e.Injection = &Injection{Score: tc.in, Rules: []string{}}
		e.Topic = &Topic{InScope: tc.in}
		var c Chain
		c.Seal(e)
		if math.Float32bits(e.Injection.Score) != math.Float32bits(tc.want) || math.Float32bits(e.Topic.InScope) != math.Float32bits(tc.want) || e.Injection.Rules != nil {
			t.Errorf("score %v sealed as %v / %v, rules %#v; want %v", tc.in, e.Injection.Score, e.Topic.InScope, e.Injection.Rules, tc.want)
		}
		mustJSON(t, e)
	}
}

// TestDecodeRejectsBadDetectorSegments: a record whose trailing segment is
// not one the writer produces is refused, not half-read.
func TestDecodeRejectsBadDetectorSegments(t *testing.T) {
	e := withDetectors(sampleEvent(5))
	var c Chain
	c.Seal(e)
	good := AppendEncoded(nil, e)
	plain := *e
	plain.Injection, plain.Topic = nil, nil
	base := len(AppendEncoded(nil, &plain)) // where the segment starts
	with := func(seg ...byte) []byte { return append(slices.Clone(good[:base]), seg...) }
	f32 := func(f float32) []byte {
		b := math.Float32bits(f)
		return []byte{byte(b >> 24), byte(b >> 16), byte(b >> 8), byte(b)}
	}
	tests := []struct {
		name string
		rec  []byte
	}{
		{"unknown tag", with(0x02, detInjection, 0, 0, 0, 0, 0)},
		{"nothing present", with(segDetectors, 0)},
		{"unknown presence bit", with(segDetectors, 0x04)},
		{"score above 1", with(append([]byte{segDetectors, detInjection}, append(f32(1.5), 0)...)...)},
		{"NaN score", with(append([]byte{segDetectors, detInjection}, append(f32(float32(math.NaN())), 0)...)...)},
		{"directive not a bool", with(append([]byte{segDetectors, detTopic}, append(f32(0.5), 0, 2)...)...)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(slices.Clone(good), 0)},
		{"segment in a version 2 record", append([]byte{2}, good[1:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got Event
			if err := DecodeEvent(tc.rec, &got); err == nil {
				t.Fatalf("accepted: %+v %+v", got.Injection, got.Topic)
			}
		})
	}
}

// pinnedV1Hash is pinnedEvent without the streaming measures, sealed by
// the audit code before they existed (commit 6fdecb8^, prefix
// "ward-audit-v1").
const pinnedV1Hash = "44d294d766791164ca2aca3e1db8692a0b411a7e12172ec5be9ade3379d5fea2"

// TestHashCompatibleWithV1Trails: an event of the first trail format still
// verifies, and an edit of any of its fields, or a v1 hash on an event
// that has fields v1 did not know, is still reported.
func TestHashCompatibleWithV1Trails(t *testing.T) {
	v1 := func() *Event {
		e := pinnedEvent()
		e.FirstToken, e.TPOTUs, e.MaxHeldChars = time.Time{}, 0, 0
		e.Hash = pinnedV1Hash
		return e
	}
	v := &Verifier{AllowHeadGap: true}
	v.Add(v1())
	if !v.OK() {
		t.Fatalf("pinned v1 event does not verify: %v", v.Problems)
	}
	for name, edit := range map[string]func(*Event){
		"team":          func(e *Event) { e.Team = "oncology" },
		"decision":      func(e *Event) { e.Decision = DecisionAllow },
		"tokens":        func(e *Event) { e.OutputTokens++ },
		"error":         func(e *Event) { e.Error = "" },
		"tpot added":    func(e *Event) { e.TPOTUs = 15000 },
		"verdict added": func(e *Event) { e.Injection = &Injection{Score: 0.1} },
	} {
		e := v1()
		edit(e)
		v := &Verifier{AllowHeadGap: true}
		v.Add(e)
		if len(v.Problems) != 1 || v.Problems[0].Kind != ProblemEdited {
			t.Errorf("%s: problems %v, want one %q", name, v.Problems, ProblemEdited)
		}
	}
}
