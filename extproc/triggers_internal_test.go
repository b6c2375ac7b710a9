package extproc

import (
	"strings"
	"testing"
)

// fixedTexts is a stream's output texts for triggerScan.
// A pointer, as *llm.StreamAssembler is: no allocation to pass it.
type fixedTexts struct{ t [][]byte }

func (f *fixedTexts) Texts() int        { return len(f.t) }
func (f *fixedTexts) Text(i int) []byte { return f.t[i] }

func TestWindowStart(t *testing.T) {
	tests := []struct {
		name         string
		text         string
		from, window int
		want         int
		ok           bool
	}{
		{"start of text", "abc", 0, 4, 0, true},
		{"whole prefix fits", "abcdef", 3, 4, 0, true},
		{"window characters back", "abcdefgh", 6, 2, 4, true},
		{"runes, not bytes", "aé日x", 6, 2, 1, true}, // "é日" before x
		{"a digit run counts once", "take 123456789 tablets", 14, 6, 0, true},
		{"digit run straddling the start is taken whole", "ab 123456 x", 9, 1, 3, true},
		{"digits after from do not join", "a1|2", 2, 1, 1, true},
		{"a run that continues past from", "x12345", 3, 1, 1, true}, // "12" at from=3, run continues: counts 1
		{"two runs count twice", "1.5", 3, 2, 1, true},
		{"huge digit run: give up", "a" + strings.Repeat("7", maxTriggerBack+10), maxTriggerBack + 11, 3, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := windowStart([]byte(tc.text), tc.from, tc.window)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("windowStart(%q, %d, %d) = %d, %v; want %d, %v", tc.text, tc.from, tc.window, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzAppendLower: the trigger window is lower-cased exactly as Rego's
// lower (strings.ToLower), whatever the bytes.
func FuzzAppendLower(f *testing.F) {
	for _, s := range []string{"TAKE 2 Tablets", "ta\u212Ae", "İSTANBUL", "ȺȾ", "\xff\xfeA", "ǅ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendLower(nil, []byte(s))), strings.ToLower(s); got != want {
			t.Fatalf("appendLower(%q) = %q, strings.ToLower = %q", s, got, want)
		}
	})
}

func TestTriggerScan(t *testing.T) {
	s := newTriggerScan([]string{"take", "mg"}, 10)
	out := &fixedTexts{[][]byte{[]byte("Rest well. You may TA")}}
	step := func(more string, want bool) {
		t.Helper()
		out.t[0] = append(out.t[0], more...)
		if got := s.fired(out); got != want {
			t.Fatalf("fired = %v on %q after %q", got, out.t[0], more)
		}
		s.advance(out)
	}
	step("", false)
	step("KE it", true)     // the keyword completes across checks
	step(" with", true)     // "TAKE it with": 12 characters, "take" starts 10 back from the check before
	step(" food, l", false) // "ake it with": the window no longer holds "take"
	step("ater", false)
	// A second output text is checked too, from its start.
	out.t = append(out.t, []byte("5 MG"))
	if !s.fired(out) {
		t.Fatal("second text not checked")
	}
}

// TestTriggerScanDoesNotAllocate: a check costs no allocation once the
// window buffer has grown (docs/streaming.md, performance).
func TestTriggerScanDoesNotAllocate(t *testing.T) {
	keywords := []string{"may have", "might have", "probably have", "likely have", "could have", "diagnosis", "diagnosed",
		"take", "taking", "increase", "decrease", "double", "start", "stop", "reduce", "mg", "mcg", "ml", "unit"}
	s := newTriggerScan(keywords, 64)
	text := []byte(strings.Repeat("The patient was seen today for follow-up of hypertension. ", 20))
	out := &fixedTexts{[][]byte{text[:100]}}
	n := 100
	allocs := testing.AllocsPerRun(50, func() {
		n = n%(len(text)-60) + 40
		out.t[0] = text[:n]
		if s.fired(out) {
			t.Fatal("fired on clean text")
		}
		s.advance(out)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per check", allocs)
	}
}

// BenchmarkTriggerScan: one check of a chunk's window (40 new bytes plus a
// 64-character window) against Ward's clinical advice keywords.
//
//	go test ./extproc -run '^$' -bench TriggerScan
func BenchmarkTriggerScan(b *testing.B) {
	keywords := []string{"may have", "might have", "probably have", "likely have", "could have", "diagnosis", "diagnosed",
		"take", "taking", "increase", "decrease", "double", "start", "stop", "reduce", "mg", "mcg", "ml", "unit"}
	s := newTriggerScan(keywords, 64)
	text := []byte(strings.Repeat("The patient was seen today for follow-up of hypertension and reports good adherence. ", 40))
	out := &fixedTexts{[][]byte{nil}}
	b.SetBytes(104)
	b.ReportAllocs()
	n := 200
	for b.Loop() {
		n += 40
		if n > len(text) {
			n = 200
		}
		out.t[0] = text[:n]
		s.checked = s.checked[:0]
		s.checked = append(s.checked, n-40)
		if s.fired(out) {
			b.Fatal("fired on clean text")
		}
	}
}
