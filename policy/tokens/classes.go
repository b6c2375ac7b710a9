package tokens

import (
	"sync"
	"unicode"
	"unicode/utf8"
)

// Character classes used by the hand-written pre-tokenizers. They mirror the
// Unicode properties named in the encodings' regular expressions; the tables
// come from Go's unicode package, the same tables tiktoken-go's regexp2
// engine uses, so both agree rune for rune.
const (
	cL  uint8 = 1 << iota // \p{L}
	cN                    // \p{N}
	cWS                   // \s (unicode.IsSpace, as regexp2 defines it)
	cNL                   // \r or \n
	cU                    // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (o200k "upper-ish")
	cW                    // [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k "lower-ish")
)

// bmpClass caches the class of every rune in the Basic Multilingual Plane:
// 64 KiB built once, so the scanners never binary-search a range table for
// common text.
var (
	bmpOnce  sync.Once
	bmpClass [0x10000]uint8
)

func initClasses() {
	bmpOnce.Do(func() {
		for r := rune(0); r < 0x10000; r++ {
			bmpClass[r] = classifySlow(r)
		}
	})
}

func classifySlow(r rune) uint8 {
	var c uint8
	if unicode.IsLetter(r) {
		c |= cL
	}
	if unicode.IsNumber(r) {
		c |= cN
	}
	if unicode.IsSpace(r) {
		c |= cWS
	}
	if r == '\r' || r == '\n' {
		c |= cNL
	}
	lm := unicode.Is(unicode.Lm, r) || unicode.Is(unicode.Lo, r) || unicode.IsMark(r)
	if lm || unicode.Is(unicode.Lu, r) || unicode.Is(unicode.Lt, r) {
		c |= cU
	}
	if lm || unicode.Is(unicode.Ll, r) {
		c |= cW
	}
	return c
}

// classAt returns the class of the rune at s[i] and its width in bytes. s
// must be valid UTF-8 (Count guarantees it).
func classAt(s string, i int) (uint8, int) {
	b := s[i]
	if b < utf8.RuneSelf {
		return bmpClass[b], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if r < 0x10000 {
		return bmpClass[r], n
	}
	return classifySlow(r), n
}

// runEnd returns the end of the maximal run of runes starting at i whose
// class intersects mask.
func runEnd(s string, i int, mask uint8) int {
	for i < len(s) {
		b := s[i]
		if b < utf8.RuneSelf {
			if bmpClass[b]&mask == 0 {
				return i
			}
			i++
			continue
		}
		c, n := classAt(s, i)
		if c&mask == 0 {
			return i
		}
		i += n
	}
	return i
}
