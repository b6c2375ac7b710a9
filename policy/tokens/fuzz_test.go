package tokens

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Pre-tokenizer patterns exactly as tiktoken-go v0.1.8 compiles them.
var patterns = map[string]string{
	O200KBase: strings.Join([]string{
		`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
		`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
		`\p{N}{1,3}`,
		` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
		`\s*[\r\n]+`,
		`\s+(?!\S)`,
		`\s+`,
	}, "|"),
	CL100KBase: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
}

var regexCache = map[string]*regexp2.Regexp{}

// regexPieces splits valid UTF-8 text with the regexp2 pattern, as
// tiktoken-go does (regexp2 reports rune offsets).
func regexPieces(t testing.TB, pattern, text string) []string {
	t.Helper()
	refMu.Lock()
	re, ok := regexCache[pattern]
	if !ok {
		re = regexp2.MustCompile(pattern, regexp2.None)
		regexCache[pattern] = re
	}
	refMu.Unlock()
	runes := []rune(text)
	var out []string
	m, err := re.FindStringMatch(text)
	for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
		out = append(out, string(runes[m.Index:m.Index+m.Length]))
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func checkAgainstReference(t *testing.T, s string) {
	t.Helper()
	valid := s
	if !utf8.ValidString(s) {
		valid = sanitize(s)
	}
	for _, name := range encodingNames {
		enc := mustEncoding(t, name)
		var got []string
		enc.Pieces(valid, func(p string) { got = append(got, p) })
		want := regexPieces(t, patterns[name], valid)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("%s pieces of %q:\n got %q\nwant %q", name, s, got, want)
		}
		if n, w := enc.Count(s), len(reference(t, name).EncodeOrdinary(s)); n != w {
			t.Fatalf("%s Count(%q) = %d, tiktoken-go = %d", name, s, n, w)
		}
	}
}

func TestPiecesMatchRegexEdgeCases(t *testing.T) {
	for _, s := range edgeCases {
		checkAgainstReference(t, s)
	}
}

// FuzzCount is the differential fuzz target: for any input, Ward's pieces
// equal the regex's and its count equals tiktoken-go's EncodeOrdinary.
//
//	go test ./policy/tokens -run '^$' -fuzz FuzzCount -fuzztime 60s
func FuzzCount(f *testing.F) {
	for _, s := range edgeCases {
		f.Add(s)
	}
	f.Add("Ab\u0301C'd e\u0301'S \u0301'll")
	f.Add("ǅA ǅa Aǅ ʰA Aʰ AʰB 'S'T")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1024 { // tiktoken-go's merge is quadratic in piece length
			s = s[:1024]
		}
		checkAgainstReference(t, s)
	})
}

// TestLargeMergeEqualsSmall checks the heap-based merge against the
// quadratic one on pieces short enough for both.
func TestLargeMergeEqualsSmall(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{" ", "  ", "\n", "=", "-", "a", "e", "th", "ing", "😀", "日", "\t", "/", "0"}
	for _, name := range encodingNames {
		enc := mustEncoding(t, name)
		for i := 0; i < 3000; i++ {
			var b strings.Builder
			for b.Len() < 2+rng.IntN(smallPiece-4) {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			p := b.String()
			if len(p) > smallPiece {
				p = p[:smallPiece]
			}
			if small, large := enc.countSmall(p), enc.countLarge(p); small != large {
				t.Fatalf("%s piece %q: small %d, large %d", name, p, small, large)
			}
		}
	}
}
