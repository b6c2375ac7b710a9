package llm

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Edit replaces the JSON string literal body[Start:End] (quotes included,
// as in Part.Start/End) with NewText, JSON-encoded.
type Edit struct {
	Start, End int
	NewText    string
}

// ErrBadEdit is returned when edits are unsorted, overlap, fall outside the
// body or do not cover exactly one string literal.
var ErrBadEdit = errors.New("llm: invalid edit")

// RewriteStrings splices JSON-encoded replacement strings into body at the
// given spans, leaving every other byte as it was. Edits must be sorted by
// Start and must not overlap; each span must be exactly one JSON string
// literal. The input is not modified.
func RewriteStrings(body []byte, edits []Edit) ([]byte, error) {
	if len(edits) == 0 {
		return body, nil
	}
	grow := 0
	prev := 0
	for i, e := range edits {
		if e.Start < prev || e.End > len(body) || e.End-e.Start < 2 {
			return nil, fmt.Errorf("%w %d: span [%d,%d) out of order, overlapping or out of range (body %d bytes)",
				ErrBadEdit, i, e.Start, e.End, len(body))
		}
		s := scanner{b: body, i: e.Start}
		if body[e.Start] != '"' {
			return nil, fmt.Errorf("%w %d: span [%d,%d) does not start a string literal", ErrBadEdit, i, e.Start, e.End)
		}
		if end, _ := s.skipString(); s.err != nil || end != e.End {
			return nil, fmt.Errorf("%w %d: span [%d,%d) is not one string literal", ErrBadEdit, i, e.Start, e.End)
		}
		grow += len(e.NewText) + 2 - (e.End - e.Start)
		prev = e.End
	}
	out := make([]byte, 0, max(len(body)+grow+16, 0))
	prev = 0
	for _, e := range edits {
		out = append(out, body[prev:e.Start]...)
		out = AppendJSONString(out, e.NewText)
		prev = e.End
	}
	return append(out, body[prev:]...), nil
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string literal. It escapes only what
// JSON requires (plus U+2028/U+2029, as encoding/json does) and replaces
// invalid UTF-8 with U+FFFD, so the output is always valid JSON.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += n
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// topKey locates a key of the top-level object. It returns the offset just
// after '{', whether the object is empty, and the value span if found.
func topKey(body []byte, key string) (open int, empty bool, vs, ve int, found bool, err error) {
	s := scanner{b: body}
	if s.peek() != '{' {
		s.shapeErr("object")
		return 0, false, 0, 0, false, s.err
	}
	open = s.i + 1
	return objKey(&s, open, key)
}

// objKey scans the object starting at s.i for key (the last occurrence
// wins, as in most JSON decoders) and then checks the rest of the body.
func objKey(s *scanner, open int, key string) (int, bool, int, int, bool, error) {
	empty := true
	vs, ve, found := 0, 0, false
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		empty = false
		if string(k) == key {
			s.ws()
			vs = s.i
			s.skip()
			ve, found = s.i, true
			continue
		}
		s.skip()
	}
	s.end()
	if s.err != nil {
		return 0, false, 0, 0, false, s.err
	}
	return open, empty, vs, ve, found, nil
}

func splice(body []byte, start, end int, repl []byte) []byte {
	out := make([]byte, 0, len(body)-(end-start)+len(repl))
	out = append(out, body[:start]...)
	out = append(out, repl...)
	return append(out, body[end:]...)
}

// insertMember inserts `"key":value` right after the '{' at open-1.
func insertMember(body []byte, open int, empty bool, key string, value []byte) []byte {
	m := AppendJSONString(nil, key)
	m = append(m, ':')
	m = append(m, value...)
	if !empty {
		m = append(m, ',')
	}
	return splice(body, open, open, m)
}

// SetModel sets the top-level "model" string (e.g. after model aliasing),
// replacing only the value bytes or inserting the member if absent.
func SetModel(body []byte, model string) ([]byte, error) {
	open, empty, vs, ve, found, err := topKey(body, "model")
	if err != nil {
		return nil, err
	}
	v := AppendJSONString(nil, model)
	if found {
		return splice(body, vs, ve, v), nil
	}
	return insertMember(body, open, empty, "model", v), nil
}

// SetIncludeUsage makes an OpenAI chat completions request carry
// stream_options.include_usage = true so a streamed response reports usage.
// Only the bytes that must change are touched; a body that already asks
// for usage is returned as is (same slice).
func SetIncludeUsage(body []byte) ([]byte, error) {
	open, empty, vs, ve, found, err := topKey(body, "stream_options")
	if err != nil {
		return nil, err
	}
	const whole = `{"include_usage":true}`
	if !found {
		return insertMember(body, open, empty, "stream_options", []byte(whole)), nil
	}
	s := scanner{b: body[:ve], i: vs}
	switch s.peek() {
	case 'n':
		return splice(body, vs, ve, []byte(whole)), nil
	case '{':
	default:
		return nil, &ParseError{Offset: vs, Err: ErrShape, Msg: "stream_options must be an object"}
	}
	iopen, iempty, ivs, ive, ifound, err := objKey(&s, vs+1, "include_usage")
	if err != nil {
		return nil, err
	}
	if !ifound {
		return insertMember(body, iopen, iempty, "include_usage", []byte("true")), nil
	}
	if string(body[ivs:ive]) == "true" {
		return body, nil
	}
	return splice(body, ivs, ive, []byte("true")), nil
}

// SortEdits sorts edits by Start; callers collecting edits from several
// detectors can use it before RewriteStrings.
func SortEdits(edits []Edit) {
	slices.SortFunc(edits, func(a, b Edit) int { return a.Start - b.Start })
}
