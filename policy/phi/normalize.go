package phi

import (
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/unicode/norm"
)

// view is the normalised text the detectors read, with a map from each of its
// bytes back to the original. For pure ASCII input the view is the input
// itself and the maps are nil (identity), so clean ASCII text costs nothing.
type view struct {
	s     string  // normalised text
	start []int32 // original byte offset of the rune that produced s[i]
	end   []int32 // original end offset of that rune
	buf   []byte
	tmp   [utf8.UTFMax]byte // scratch for norm, here so it does not escape per call
}

// origStart maps a view offset to the original text.
func (v *view) origStart(i int) int {
	if v.start == nil {
		return i
	}
	return int(v.start[i])
}

// origEnd maps an exclusive view end offset to the original text.
func (v *view) origEnd(i int) int {
	if v.end == nil {
		return i
	}
	return int(v.end[i-1])
}

// invisible reports characters removed from the view: zero-width and
// formatting characters that attackers insert to split identifiers.
func invisible(r rune) bool {
	switch r {
	case 0xAD, 0x34F, 0x61C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0:
		return true
	}
	return (r >= 0x200B && r <= 0x200F) || (r >= 0x202A && r <= 0x202E) ||
		(r >= 0x2060 && r <= 0x206F) || (r >= 0xFE00 && r <= 0xFE0F) || (r >= 0xE0000 && r <= 0xE007F)
}

// stableBMP has a bit set for each BMP rune that NFKC maps to itself, so
// the common non-ASCII letters skip x/text/norm (which allocates). Built on
// first use (about 64K normalisations, once per process).
const stableLimit = 0x3000

var (
	stableOnce sync.Once
	stableBMP  [stableLimit / 64]uint64
)

func nfkcStable(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0xAC00 && r <= 0xD7A3, r >= 0x3041 && r <= 0x3096, r >= 0x30A1 && r <= 0x30FA:
		return true // CJK ideographs, Hangul syllables, kana: NFKC-stable
	case r >= stableLimit:
		return false
	}
	stableOnce.Do(func() {
		var b [4]byte
		for c := rune(0x80); c < stableLimit; c++ {
			n := utf8.EncodeRune(b[:], c)
			if norm.NFKC.IsNormal(b[:n]) {
				stableBMP[c/64] |= 1 << (c % 64)
			}
		}
	})
	return stableBMP[r/64]&(1<<(r%64)) != 0
}

func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if w&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// build fills v with the normalised view of text: NFKC per character
// (fullwidth and other compatibility forms become ASCII), invisible
// characters dropped, Unicode dashes and spaces folded to '-' and ' ', other
// decimal digits mapped to ASCII. Offsets are relative to text; base is
// added to make them absolute.
func (v *view) build(text string) {
	if isASCII(text) {
		v.s, v.start, v.end = text, nil, nil
		return
	}
	v.buf = v.buf[:0]
	v.start = v.start[:0]
	v.end = v.end[:0]
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			v.buf = append(v.buf, c)
			v.start = append(v.start, int32(i))
			v.end = append(v.end, int32(i+1))
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		before := len(v.buf)
		switch {
		case r == utf8.RuneError && n == 1:
			v.buf = append(v.buf, 0x1A) // substitute, not a word character
		case invisible(r):
		case r == 0x2010 || r == 0x2011 || r == 0x2012 || r == 0x2013 || r == 0x2014 || r == 0x2015 || r == 0x2212 || r == 0xFE63 || r == 0xFF0D:
			v.buf = append(v.buf, '-')
		case r == 0xA0 || (r >= 0x2000 && r <= 0x200A) || r == 0x202F || r == 0x205F || r == 0x3000:
			v.buf = append(v.buf, ' ')
		case r >= 0xFF01 && r <= 0xFF5E: // fullwidth ASCII, the common case
			v.buf = append(v.buf, byte(r-0xFEE0))
		case r < 0x10000 && !unicode.IsDigit(r) && nfkcStable(r):
			v.buf = append(v.buf, text[i:i+n]...)
		default:
			k := copy(v.tmp[:], text[i:i+n])
			out := norm.NFKC.Append(v.buf, v.tmp[:k]...)
			if len(out) == before+n && unicode.IsDigit(r) {
				// A decimal digit NFKC leaves alone (Arabic-Indic,
				// Devanagari, ...): Unicode keeps them in runs of ten.
				d := 0
				for d < 9 && unicode.IsDigit(r-rune(d)-1) {
					d++
				}
				out = append(out[:before], byte('0'+d%10))
			}
			v.buf = out
		}
		for j := before; j < len(v.buf); j++ {
			v.start = append(v.start, int32(i))
			v.end = append(v.end, int32(i+n))
		}
		i += n
	}
	if len(v.buf) == 0 {
		v.s = ""
		return
	}
	// The view aliases buf; it is only read until the next build.
	v.s = unsafe.String(&v.buf[0], len(v.buf))
}
