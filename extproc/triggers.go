package extproc

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxTriggerBack bounds how far back a trigger window may reach in bytes.
// Only a run of digits longer than this makes a window wider (a digit run
// counts as one character); the chunk is then decided rather than scanned,
// so a flood of digits costs decisions, never quadratic scanning.
const maxTriggerBack = 64 << 10

// triggerScan implements the policy's response_triggers for a stream
// (docs/policy-decision.md): a chunk that releases text without PHI
// findings needs a response_chunk decision only when a trigger occurs in
// the window of some output text, which is the text that arrived since the
// last check plus the `window` characters before it (a run of ASCII digits
// counting as one character), lower-cased as Rego's lower does.
//
// The window is taken from the original output text the policy sees
// (input.output.text), held-back text included, so the chunks that are
// decided, and their decisions, are exactly those of every_chunk whenever
// the policy keeps its promise.
type triggerScan struct {
	triggers [][]byte
	window   int   // characters
	checked  []int // per output text: bytes covered by the last check
	low      []byte
}

func newTriggerScan(triggers []string, window int) *triggerScan {
	s := &triggerScan{window: window, triggers: make([][]byte, len(triggers))}
	for i, t := range triggers {
		s.triggers[i] = []byte(t)
	}
	return s
}

// outputTexts is the stream's output text per choice (llm.StreamAssembler).
type outputTexts interface {
	Texts() int
	Text(i int) []byte
}

// fired reports whether a trigger occurs in the window of any output text.
// It does not move the check point: the caller calls advance once the
// chunk was allowed by a decision or needed none.
func (s *triggerScan) fired(out outputTexts) bool {
	for i := range out.Texts() {
		text := out.Text(i)
		from := s.checkedUpTo(i)
		if from >= len(text) {
			continue
		}
		start, ok := windowStart(text, from, s.window)
		if !ok {
			return true
		}
		s.low = appendLower(s.low[:0], text[start:])
		for _, t := range s.triggers {
			if bytes.Contains(s.low, t) {
				return true
			}
		}
	}
	return false
}

// windowFrom is the offset in output text i where the policy's chunk
// decision must start looking (input.output.window): the trigger window
// of the text since the last check, moved back over ASCII word characters
// so that a regexp's \b at the window's start means what it means in the
// whole text. 0 (the whole text) when the window would reach back too far.
//
// Why the window is enough: a phrase the policy looks for that is new in
// this chunk ends after the last check point and, by the policy's promise
// (its triggers are in every match, and a match spans at most `window`
// characters), starts inside the window; a phrase entirely before the
// check point was already decided on.
func (s *triggerScan) windowFrom(i int, text []byte) int {
	p, ok := windowStart(text, min(s.checkedUpTo(i), len(text)), s.window)
	if !ok {
		return 0
	}
	for q := p; p > 0 && isWordByte(text[p-1]); p-- {
		if q-p > maxTriggerBack {
			return 0
		}
	}
	return p
}

// isWordByte is RE2's \w (ASCII letters, digits, underscore).
func isWordByte(b byte) bool {
	return b == '_' || isDigitByte(b) || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z')
}

// checkedUpTo is how many bytes of output text i the last check covered.
func (s *triggerScan) checkedUpTo(i int) int {
	if i < len(s.checked) {
		return s.checked[i]
	}
	return 0
}

// advance marks the output so far as checked.
func (s *triggerScan) advance(out outputTexts) {
	for len(s.checked) < out.Texts() {
		s.checked = append(s.checked, 0)
	}
	for i := range s.checked {
		s.checked[i] = len(out.Text(i))
	}
}

// windowStart returns the smallest offset p such that text[p:from] counts
// at most window characters, a maximal run of ASCII digits counting as one.
// ok is false when p would lie more than maxTriggerBack bytes before from.
func windowStart(text []byte, from, window int) (p int, ok bool) {
	p, n := from, 0
	for p > 0 {
		r, size := utf8.DecodeLastRune(text[:p])
		cost := 1
		if isDigit(r) && p < from && isDigitByte(text[p]) {
			cost = 0 // continues the digit run counted already
		}
		if n+cost > window {
			break
		}
		n += cost
		p -= size
		if from-p > maxTriggerBack {
			return p, false
		}
	}
	return p, true
}

func isDigit(r rune) bool     { return r >= '0' && r <= '9' }
func isDigitByte(b byte) bool { return b >= '0' && b <= '9' }

// appendLower appends src lower-cased exactly as strings.ToLower (Rego's
// lower) would: rune by rune with unicode.ToLower, invalid UTF-8 as U+FFFD.
// Lower-casing rune by rune, a window's lower-cased form is the matching
// piece of the whole text's.
func appendLower(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += size
	}
	return dst
}

// outputTriggered reports whether a trigger occurs anywhere in a buffered
// response's output text (every choice), lower-cased as by Rego's lower.
func outputTriggered(triggers []string, choices []string) bool {
	for _, c := range choices {
		low := strings.ToLower(c)
		for _, t := range triggers {
			if strings.Contains(low, t) {
				return true
			}
		}
	}
	return false
}
