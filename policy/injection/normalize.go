package injection

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Token flags set by the normaliser.
const (
	tokClauseStart uint8 = 1 << iota // first word of a sentence / clause
	tokImperative                    // clause start, possibly after fillers ("please", "now")
	tokUpper                         // written in capitals (len >= 2) in the input
	tokObfuscated                    // leetspeak, homoglyph, invisible char or joined spacing
	tokJoined                        // built by joining a run of single spaced letters
	tokCapital                       // Capitalised (first letter upper, not all caps)
)

// token is a word of the normalised text: buf[start:end].
type token struct {
	start, end int32
	flags      uint8
	mask       uint64 // concept bits (c*), filled by the matcher
	mask2      uint64 // secondary concept bits (d*)
}

// normText is the normalised view of one input: lower-case, NFKC, without
// invisible characters, homoglyphs folded to ASCII, diacritics removed,
// leetspeak and s p a c e d letters undone.
type normText struct {
	buf  []byte
	toks []token

	invisible int // invisible / tag characters removed
	spaced    int // longest run of joined single letters
}

func (n *normText) reset() {
	n.buf = n.buf[:0]
	n.toks = n.toks[:0]
	n.invisible, n.spaced = 0, 0
}

func (n *normText) word(i int) []byte { return n.buf[n.toks[i].start:n.toks[i].end] }

// Normalize returns the normalised form of s used by the rules. It is
// exported for tests, debugging and `ward scan`; it never panics and runs in
// linear time on any input, including invalid UTF-8.
func Normalize(s string) string {
	var n normText
	n.normalize(s)
	return string(n.buf)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// invisible reports runes that render as nothing and are used to split
// keywords ("ig\u200bnore") or smuggle text (Unicode tag characters).
func invisible(r rune) bool {
	switch {
	case r == 0xAD, r == 0x34F, r == 0x61C, r == 0x115F, r == 0x1160, r == 0x17B4, r == 0x17B5,
		r == 0x180E, r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E,
		r >= 0x2060 && r <= 0x206F, r == 0x3164, r == 0xFEFF, r == 0xFFA0,
		r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0000 && r <= 0xE0FFF,
		r >= 0x1D173 && r <= 0x1D17A:
		return true
	}
	return false
}

// tagASCII maps Unicode tag characters (U+E0020..U+E007E) to the ASCII they
// mirror; "ASCII smuggling" hides whole instructions in them.
func tagASCII(r rune) (byte, bool) {
	if r >= 0xE0020 && r <= 0xE007E {
		return byte(r - 0xE0000), true
	}
	return 0, false
}

// normalize fills n from s. Clause starts, leetspeak and spacing are
// resolved here so the matcher only sees clean lower-case words.
func (n *normText) normalize(s string) {
	n.reset()
	if !isASCII(s) {
		s = norm.NFKC.String(s)
	}
	if cap(n.buf) < len(s)+16 {
		n.buf = make([]byte, 0, len(s)+16)
	}
	clause := true  // next word starts a clause
	inWord := false // currently inside a word
	var cur token
	var upper int       // capitals in the current word
	var lower bool      // current word has a lower-case letter
	var hidden []byte   // ASCII smuggled in tag characters
	var firstUpper bool // current word starts with a capital
	var digits bool     // current word has an ASCII digit (maybe leetspeak)
	i0 := 0             // start of the current rune
	begin := func() {
		if inWord {
			return
		}
		inWord, cur, upper, lower, digits = true, token{start: int32(len(n.buf))}, 0, false, false
		firstUpper = i0 < len(s) && s[i0] >= 'A' && s[i0] <= 'Z'
		if clause {
			cur.flags |= tokClauseStart
		}
		clause = false
	}
	flush := func() {
		if !inWord {
			return
		}
		if upper >= 2 && !lower {
			cur.flags |= tokUpper
		}
		if firstUpper && lower {
			cur.flags |= tokCapital
		}
		cur.end = int32(len(n.buf))
		if digits {
			n.finishWord(&cur)
		}
		n.toks = append(n.toks, cur)
		inWord = false
	}
	for i := 0; i < len(s); {
		i0 = i
		c := s[i]
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		if r >= utf8.RuneSelf {
			if b, ok := tagASCII(r); ok {
				n.invisible++
				hidden = append(hidden, b)
				continue
			}
			if invisible(r) {
				n.invisible++
				if inWord {
					cur.flags |= tokObfuscated
				}
				continue
			}
			if (r == '\u2019' || r == '\u02bc') && inWord && i < len(s) && isASCIILetter(s[i]) {
				// Typographic apostrophe inside a word: "don’t" reads "don't".
				n.buf = append(n.buf, '\'')
				continue
			}
			if r == utf8.RuneError {
				flush()
				n.buf = append(n.buf, ' ')
				continue
			}
			// Fold confusables and accents to ASCII where possible.
			if b, ok := homoglyph(r); ok {
				begin()
				cur.flags |= tokObfuscated
				if unicode.IsUpper(r) {
					upper++
				} else {
					lower = true
				}
				n.buf = append(n.buf, b)
				continue
			}
			if f := foldDiacritic(r); f != "" {
				begin()
				if unicode.IsUpper(r) {
					upper++
				} else {
					lower = true
				}
				n.buf = append(n.buf, f...)
				continue
			}
			if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) {
				begin()
				lower = true
				n.buf = utf8.AppendRune(n.buf, unicode.ToLower(r))
				continue
			}
			flush()
			if unicode.IsSpace(r) {
				n.buf = append(n.buf, ' ')
				continue
			}
			if unicode.IsPunct(r) || unicode.IsSymbol(r) {
				clause = true
			}
			n.buf = utf8.AppendRune(n.buf, r)
			continue
		}
		b := byte(r)
		switch {
		case asciiAlnum[b] != 0:
			// Fast path: copy the whole run of ASCII letters and digits.
			begin()
			j := i0
			var cls uint8
			for ; j < len(s) && asciiAlnum[s[j]] != 0; j++ {
				cls |= asciiAlnum[s[j]]
			}
			if cls&(alUpper|alLower) == alUpper {
				// Only an all-caps run needs its capitals counted.
				for k := i0; k < j; k++ {
					upper += int(asciiAlnum[s[k]] >> 1 & 1)
				}
			} else if cls&alUpper != 0 {
				upper++
			}
			start := len(n.buf)
			n.buf = append(n.buf, s[i0:j]...)
			if cls&alUpper != 0 {
				for k := start; k < len(n.buf); k++ {
					n.buf[k] |= asciiAlnum[n.buf[k]] >> 1 & 1 << 5 // 'A' | 0x20 == 'a'
				}
			}
			lower = lower || cls&alLower != 0
			digits = digits || cls&alDigit != 0
			i = j
		case (b == '@' || b == '$') && inWord && i < len(s) && isASCIILetter(s[i]):
			// "p@ssword", "in$tructions"
			cur.flags |= tokObfuscated
			if b == '@' {
				b = 'a'
			} else {
				b = 's'
			}
			n.buf = append(n.buf, b)
		case b == '\'' && inWord && i < len(s) && isASCIILetter(s[i]):
			// Keep contractions in one word: "don't", "you're".
			n.buf = append(n.buf, b)
		default:
			flush()
			switch b {
			case '.', '!', '?', ':', ';', '\n', '"', '(', ')', '[', ']', '{', '}', '<', '>', '|', '#', '*', '=', '\\', '/', '`', '-':
				clause = true
			}
			if b < 0x20 && b != '\n' || b == 0x7f {
				b = ' '
			}
			n.buf = append(n.buf, b)
		}
	}
	flush()
	n.joinSpaced()
	if len(hidden) > 0 {
		// Smuggled tag text is appended as its own clause so rules see it.
		var h normText
		h.normalize(string(hidden))
		off := int32(len(n.buf)) + 1
		n.buf = append(n.buf, '\n')
		n.buf = append(n.buf, h.buf...)
		for _, t := range h.toks {
			t.start += off
			t.end += off
			t.flags |= tokObfuscated
			n.toks = append(n.toks, t)
		}
	}
}

const (
	alLower uint8 = 1
	alUpper uint8 = 2
	alDigit uint8 = 4
)

// asciiAlnum classifies ASCII letters and digits for the normaliser's fast path.
var asciiAlnum = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = alLower
		t[c-'a'+'A'] = alUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = alDigit
	}
	return t
}()

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// finishWord undoes leetspeak in a word that mixes letters and digits
// ("1gn0r3" → "ignore") while leaving numbers and codes such as "2023" or
// "b12" alone: only words with two or more letters and no digits other than
// 0 1 3 4 5 7 are rewritten.
func (n *normText) finishWord(t *token) {
	w := n.buf[t.start:t.end]
	letters, leet := 0, 0
	for _, c := range w {
		switch {
		case c >= 'a' && c <= 'z':
			letters++
		case c == '0' || c == '1' || c == '3' || c == '4' || c == '5' || c == '7':
			leet++
		case c >= '0' && c <= '9':
			return // other digits: a real number/code
		}
	}
	if leet == 0 || letters < 2 {
		return
	}
	for i, c := range w {
		switch c {
		case '0':
			w[i] = 'o'
		case '1':
			w[i] = 'i'
		case '3':
			w[i] = 'e'
		case '4':
			w[i] = 'a'
		case '5':
			w[i] = 's'
		case '7':
			w[i] = 't'
		}
	}
	t.flags |= tokObfuscated
}

// joinSpaced merges runs of four or more single-letter words separated by
// short gaps ("i g n o r e", "S-A-Y") into one word appended to buf.
func (n *normText) joinSpaced() {
	toks := n.toks
	// Most texts have no run of four one-letter words: find the first one
	// before rewriting the token list.
	first, run := -1, 0
	for i := range toks {
		if toks[i].end-toks[i].start == 1 {
			run++
			if run == 4 {
				first = i - 3
				break
			}
		} else {
			run = 0
		}
	}
	if first < 0 {
		return
	}
	out := toks[:first]
	for i := first; i < len(toks); {
		j := i
		for j < len(toks) && toks[j].end-toks[j].start == 1 && isASCIILetter(n.buf[toks[j].start]) &&
			(j == i || gapOK(n.buf[toks[j-1].end:toks[j].start])) {
			j++
		}
		if j-i < 4 {
			out = append(out, toks[i])
			i++
			continue
		}
		start := int32(len(n.buf))
		n.buf = append(n.buf, ' ')
		start++
		for k := i; k < j; k++ {
			n.buf = append(n.buf, n.buf[toks[k].start])
		}
		if j-i > n.spaced {
			n.spaced = j - i
		}
		out = append(out, token{start: start, end: int32(len(n.buf)), flags: toks[i].flags&tokClauseStart | tokJoined | tokObfuscated})
		i = j
	}
	n.toks = out
}

func gapOK(g []byte) bool {
	if len(g) == 0 || len(g) > 2 {
		return false
	}
	for _, c := range g {
		if c != ' ' && c != '.' && c != '-' && c != '_' && c != '*' && c != ',' {
			return false
		}
	}
	return true
}
