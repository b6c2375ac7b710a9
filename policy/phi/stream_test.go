package phi

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// streamAll feeds text to a stream in the given chunk sizes.
func streamAll(s *Scanner, holdBack int, text string, sizes func() int) (string, []Finding, int) {
	z := s.NewStream(holdBack)
	var out strings.Builder
	var fs []Finding
	maxHeld := 0
	for p := 0; p < len(text); {
		n := min(sizes(), len(text)-p)
		safe, f := z.Write(text[p : p+n])
		p += n
		out.WriteString(safe)
		fs = append(fs, f...)
		maxHeld = max(maxHeld, p-out.Len())
	}
	safe, f := z.Flush()
	out.WriteString(safe)
	fs = append(fs, f...)
	return out.String(), fs, maxHeld
}

func sampleDoc(rng *rand.Rand, n int) string {
	parts := []string{"Patient: John Smith ", "SSN 078-05-1123. ", "card 4111 1111 1111 1111 ", "call (415) 555-0132 ",
		"mail jane@example.org ", "seen 2024-01-05 ", "MRN: 00123456\n", "BP 120/80 stable. ", "ＳＳＮ ０７８－０５－１１２３ ",
		"IBAN GB82 WEST 1234 5698 7654 32 ", "\n\n", "ip 2001:db8::1 ", "no identifiers here at all, just words ", "Dr. Maria Garcia ",
		"lives at 42 Elm Street, Springfield, IL 62704 ", "1EG4-TE5-MK73 ", "92-year-old ", "né à Zürich\u200b "}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(parts[rng.IntN(len(parts))])
	}
	return b.String()
}

func TestStreamEqualsScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, maxSeg := range []int{64, 128, DefaultMaxSegment} {
		s := MustNew(Options{MaxSegment: maxSeg})
		for iter := 0; iter < 40; iter++ {
			text := sampleDoc(rng, 200+rng.IntN(3000))
			want := s.Scan(text, nil)
			got, fs, held := streamAll(s, 0, text, func() int { return 1 + rng.IntN(40) })
			if got != text {
				t.Fatalf("stream changed text")
			}
			if fmt.Sprint(fs) != fmt.Sprint(want) {
				t.Fatalf("maxSeg %d: stream %v\n scan %v", maxSeg, fs, want)
			}
			if held > maxSeg+40 { // +40: the last chunk is not released until the next Write
				t.Fatalf("held back %d bytes, limit %d", held, maxSeg)
			}
		}
	}
}

// TestStreamHoldBack checks the bound right after each Write.
func TestStreamHoldBack(t *testing.T) {
	s := MustNew(Options{})
	z := s.NewStream(100)
	released := 0
	text := sampleDoc(rand.New(rand.NewPCG(3, 4)), 5000)
	for p := 0; p < len(text); p += 7 {
		safe, _ := z.Write(text[p:min(p+7, len(text))])
		released += len(safe)
		if held := min(p+7, len(text)) - released; held > 100 {
			t.Fatalf("holding %d bytes > 100", held)
		}
	}
}

func TestStreamRedacts(t *testing.T) {
	s := MustNew(Options{})
	text := "SSN 078-05-1123 and card 4111 1111 1111 1111 end"
	z := s.NewStream(0).WithRedactor(maskRedactor)
	var out strings.Builder
	for i := 0; i < len(text); i++ {
		safe, _ := z.Write(text[i : i+1])
		out.WriteString(safe)
	}
	safe, _ := z.Flush()
	out.WriteString(safe)
	if got := out.String(); got != "SSN [SSN] and card [CREDIT_CARD] end" {
		t.Fatalf("got %q", got)
	}
}

func FuzzStream(f *testing.F) {
	f.Add("SSN 078-05-1123 and 4111 1111 1111 1111\n\nDr. John Smith", uint64(7))
	f.Add("０７８－０５－１１２３\u200b", uint64(1))
	f.Add(strings.Repeat("1 ", 100), uint64(3))
	f.Add("Tomomi Nishiyama lives at 86036 Rua do Arenque 1634, Goiânia\n Suite 5\n OULU 80896", uint64(5))
	s := MustNew(Options{MaxSegment: 64})
	f.Fuzz(func(t *testing.T, text string, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		want := s.Scan(text, nil)
		got, fs, _ := streamAll(s, 0, text, func() int { return 1 + rng.IntN(16) })
		if got != text {
			t.Fatalf("stream changed text: %q", got)
		}
		if fmt.Sprint(fs) != fmt.Sprint(want) {
			t.Fatalf("stream %v\n scan %v", fs, want)
		}
	})
}

// TestConcurrentScan: one Scanner shared by goroutines (run with -race).
func TestConcurrentScan(t *testing.T) {
	s := MustNew(Options{})
	texts := []string{denseIdentifiers, cleanClinical, "Le patient ０７８－０５－１１２３ né à Zürich", sampleDoc(rand.New(rand.NewPCG(5, 6)), 2000)}
	want := make([]string, len(texts))
	for k, x := range texts {
		want[k] = fmt.Sprint(s.Scan(x, nil))
	}
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var buf []Finding
			for it := 0; it < 50; it++ {
				k := (g + it) % len(texts)
				buf = s.Scan(texts[k], buf[:0])
				if got := fmt.Sprint(buf); got != want[k] {
					done <- fmt.Errorf("goroutine %d: %s != %s", g, got, want[k])
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
