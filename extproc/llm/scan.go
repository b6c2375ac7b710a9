package llm

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Sentinel errors. Every parse error wraps exactly one of them (test with
// errors.Is) and, when it is a *ParseError, carries the byte offset.
var (
	// ErrMalformed: the body is not valid JSON (RFC 8259).
	ErrMalformed = errors.New("malformed JSON")
	// ErrInvalidUTF8: a JSON string in a request holds bytes that are not
	// UTF-8. Requests are rejected rather than repaired: detectors must see
	// exactly the text the provider will see.
	ErrInvalidUTF8 = errors.New("invalid UTF-8 in JSON string")
	// ErrShape: valid JSON, but a field Ward inspects has the wrong type
	// (e.g. "messages": 5). Providers reject these too.
	ErrShape = errors.New("unexpected JSON shape")
	// ErrTooDeep: valid JSON nested deeper than maxDepth; refused so hostile
	// bodies cannot exhaust the stack.
	ErrTooDeep = errors.New("JSON nested too deeply")
)

// ParseError locates a parse failure in the body.
type ParseError struct {
	Offset int    // byte offset in the body
	Err    error  // one of the sentinels above
	Msg    string // detail
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("llm: %v at byte %d: %s", e.Err, e.Offset, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// maxDepth bounds nesting so hostile bodies cannot exhaust the stack.
const maxDepth = 512

// scanner is a hand-written pull parser over a JSON body. It never
// allocates except for decoded strings that the caller keeps. Errors are
// sticky: after the first one every method is a no-op returning zero
// values, so parsing code reads straight through and checks s.err once.
type scanner struct {
	b   []byte
	i   int
	err error
	// strict rejects invalid UTF-8 inside strings; otherwise it is replaced
	// by U+FFFD in decoded text (as encoding/json does).
	strict bool
	depth  int
	// scratch holds unescaped object keys so `switch string(key)` does
	// not allocate.
	scratch []byte
}

func (s *scanner) fail(err error, off int, msg string) {
	if s.err == nil {
		s.err = &ParseError{Offset: off, Err: err, Msg: msg}
	}
	s.i = len(s.b)
}

func (s *scanner) failf(off int, format string, args ...any) {
	s.fail(ErrMalformed, off, fmt.Sprintf(format, args...))
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the first byte of the next value (after whitespace), or 0 at
// the end of input.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) bool {
	s.ws()
	if s.err != nil {
		return false
	}
	if s.i >= len(s.b) {
		s.failf(s.i, "unexpected end of input, want %q", c)
		return false
	}
	if s.b[s.i] != c {
		s.failf(s.i, "unexpected %q, want %q", s.b[s.i], c)
		return false
	}
	s.i++
	return true
}

// end checks that only whitespace follows the top-level value.
func (s *scanner) end() {
	s.ws()
	if s.err == nil && s.i < len(s.b) {
		s.failf(s.i, "trailing data after JSON value")
	}
}

// objStart consumes '{' and the first key. It returns ok=false for an empty
// object or on error. The caller must consume the value for every key.
func (s *scanner) objStart() (key []byte, ok bool) {
	if !s.expect('{') {
		return nil, false
	}
	s.depth++
	if s.depth > maxDepth {
		s.fail(ErrTooDeep, s.i, "nesting deeper than "+strconv.Itoa(maxDepth))
		return nil, false
	}
	if s.peek() == '}' {
		s.i++
		s.depth--
		return nil, false
	}
	return s.key()
}

// objNext consumes ',' and the next key, or '}' (ok=false).
func (s *scanner) objNext() (key []byte, ok bool) {
	c := s.peek()
	if s.err != nil {
		return nil, false
	}
	switch c {
	case ',':
		s.i++
		return s.key()
	case '}':
		s.i++
		s.depth--
		return nil, false
	case 0:
		s.failf(s.i, "unexpected end of input in object")
	default:
		s.failf(s.i, "unexpected %q in object, want ',' or '}'", c)
	}
	return nil, false
}

func (s *scanner) key() ([]byte, bool) {
	if s.peek() != '"' {
		if s.err == nil {
			s.failf(s.i, "object key must be a string")
		}
		return nil, false
	}
	start := s.i
	end, simple := s.skipString()
	if s.err != nil {
		return nil, false
	}
	var k []byte
	if simple {
		k = s.b[start+1 : end-1]
	} else {
		s.scratch = s.appendUnescaped(s.scratch[:0], start, end)
		k = s.scratch
	}
	if !s.expect(':') {
		return nil, false
	}
	return k, true
}

// arrStart consumes '[' and reports whether an element follows.
func (s *scanner) arrStart() bool {
	if !s.expect('[') {
		return false
	}
	s.depth++
	if s.depth > maxDepth {
		s.fail(ErrTooDeep, s.i, "nesting deeper than "+strconv.Itoa(maxDepth))
		return false
	}
	if s.peek() == ']' {
		s.i++
		s.depth--
		return false
	}
	return s.err == nil
}

// arrNext consumes ',' (true) or ']' (false).
func (s *scanner) arrNext() bool {
	c := s.peek()
	if s.err != nil {
		return false
	}
	switch c {
	case ',':
		s.i++
		return true
	case ']':
		s.i++
		s.depth--
		return false
	case 0:
		s.failf(s.i, "unexpected end of input in array")
	default:
		s.failf(s.i, "unexpected %q in array, want ',' or ']'", c)
	}
	return false
}

// skipString validates the string literal at s.i (which must be '"') and
// moves past it. It returns the end offset (after the closing quote) and
// whether the literal is "simple": ASCII without escapes, so its bytes are
// its text.
func (s *scanner) skipString() (end int, simple bool) {
	b := s.b
	i := s.i + 1
	// Fast path: printable ASCII without escapes.
	for i < len(b) && plain[b[i]] {
		i++
	}
	if i < len(b) && b[i] == '"' {
		s.i = i + 1
		return s.i, true
	}
	for i < len(b) {
		c := b[i]
		switch {
		case plain[c]:
			i++
		case c == '"':
			s.i = i + 1
			return s.i, false
		case c == '\\':
			if i+1 >= len(b) {
				s.failf(i, "unexpected end of input in string escape")
				return 0, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					s.failf(i, "invalid \\u escape")
					return 0, false
				}
				i += 6
			default:
				s.failf(i, "invalid escape \\%c", b[i+1])
				return 0, false
			}
		case c < 0x20:
			s.failf(i, "control character 0x%02x in string", c)
			return 0, false
		case c < 0x80:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				if s.strict {
					s.fail(ErrInvalidUTF8, i, "byte 0x"+strconv.FormatUint(uint64(c), 16))
					return 0, false
				}
				n = 1
			}
			i += n
		}
	}
	s.failf(s.i, "unterminated string")
	return 0, false
}

// plain marks bytes that stand for themselves inside a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex4(b []byte) bool {
	for _, c := range b {
		if hexVal(c) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// appendUnescaped decodes the already validated literal b[start:end]
// (quotes included). Lone surrogates and (in lenient mode) invalid UTF-8
// become U+FFFD, as in encoding/json.
func (s *scanner) appendUnescaped(dst []byte, start, end int) []byte {
	b := s.b[start+1 : end-1]
	for i := 0; i < len(b); {
		// Copy runs of plain ASCII in bulk.
		j := i
		for j < len(b) && plain[b[j]] {
			j++
		}
		dst = append(dst, b[i:j]...)
		if i = j; i >= len(b) {
			break
		}
		c := b[i]
		if c == '\\' {
			switch b[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := rune(hex4(b[i+2:]))
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
						r2 = utf16.DecodeRune(r, rune(hex4(b[i+2:])))
						if r2 != utf8.RuneError {
							i += 6
						}
					}
					r = r2
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, b[i+1])
			}
			i += 2
			continue
		}
		if c < 0x80 {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
			i++
			continue
		}
		dst = append(dst, b[i:i+n]...)
		i += n
	}
	return dst
}

func hex4(b []byte) int {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// str reads a string value and returns its decoded text and the span of the
// literal (quotes included).
func (s *scanner) str() (text string, start, end int) {
	if s.peek() != '"' {
		s.shapeErr("string")
		return "", 0, 0
	}
	start = s.i
	end, simple := s.skipString()
	if s.err != nil {
		return "", 0, 0
	}
	if simple {
		return string(s.b[start+1 : end-1]), start, end
	}
	s.scratch = s.appendUnescaped(s.scratch[:0], start, end)
	return string(s.scratch), start, end
}

// strOrNull is str that accepts null (ok=false).
func (s *scanner) strOrNull() (text string, start, end int, ok bool) {
	if s.peek() == 'n' {
		s.literal("null")
		return "", 0, 0, false
	}
	text, start, end = s.str()
	return text, start, end, s.err == nil
}

// optStr reads a string, or skips any other value returning "". It is for
// informational fields (ids, model names in responses) where a wrong type
// must not fail the whole parse.
func (s *scanner) optStr() string {
	if s.peek() == '"' {
		t, _, _ := s.str()
		return t
	}
	s.skip()
	return ""
}

func (s *scanner) shapeErr(want string) {
	if s.err != nil {
		return
	}
	if s.i >= len(s.b) {
		s.failf(s.i, "unexpected end of input, want %s", want)
		return
	}
	// Distinguish bad JSON from a valid value of the wrong type.
	at := s.i
	s.skip()
	if s.err == nil {
		s.fail(ErrShape, at, "want "+want)
	}
}

func (s *scanner) literal(lit string) {
	s.ws()
	if s.err != nil {
		return
	}
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		s.failf(s.i, "invalid literal")
		return
	}
	s.i += len(lit)
}

// boolean reads true/false; null reads as false.
func (s *scanner) boolean() bool {
	switch s.peek() {
	case 't':
		s.literal("true")
		return true
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	default:
		s.shapeErr("boolean")
	}
	return false
}

// number validates a JSON number and returns its span.
func (s *scanner) number() (start, end int) {
	s.ws()
	b := s.b
	i := s.i
	start = i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		s.failf(i, "invalid number")
		return 0, 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.failf(i, "invalid number: no digits after '.'")
			return 0, 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.failf(i, "invalid number: no exponent digits")
			return 0, 0
		}
	}
	s.i = i
	return start, i
}

// integer reads a number as int64 (fractions truncated, out-of-range
// saturated); null reads as 0.
func (s *scanner) integer() int64 {
	switch c := s.peek(); {
	case c == 'n':
		s.literal("null")
		return 0
	case c == '-' || (c >= '0' && c <= '9'):
	default:
		s.shapeErr("number")
		return 0
	}
	start, end := s.number()
	if s.err != nil {
		return 0
	}
	var n int64
	neg := s.b[start] == '-'
	i := start
	if neg {
		i++
	}
	for ; i < end && s.b[i] >= '0' && s.b[i] <= '9'; i++ {
		d := int64(s.b[i] - '0')
		if n > (1<<63-1-d)/10 {
			n = 1<<63 - 1
			break
		}
		n = n*10 + d
	}
	if i < end && hasExponent(s.b[i:end]) {
		// Exponent form such as 1e3: rare; take the slow exact path.
		f, _ := strconv.ParseFloat(string(s.b[start:end]), 64)
		if f > 1<<62 {
			return 1<<63 - 1
		}
		if f < -(1 << 62) {
			return -(1<<63 - 1)
		}
		return int64(f)
	}
	if neg {
		return -n
	}
	return n
}

func hasExponent(b []byte) bool {
	for _, c := range b {
		if c == 'e' || c == 'E' {
			return true
		}
	}
	return false
}

// skip validates and skips any value.
func (s *scanner) skip() {
	switch c := s.peek(); {
	case s.err != nil:
	case c == '"':
		s.skipString()
	case c == '{':
		for _, ok := s.objStart(); ok; _, ok = s.objNext() {
			s.skip()
		}
	case c == '[':
		for ok := s.arrStart(); ok; ok = s.arrNext() {
			s.skip()
		}
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		s.number()
	case c == 0:
		s.failf(s.i, "unexpected end of input, want a value")
	default:
		s.failf(s.i, "unexpected %q, want a value", c)
	}
}

// raw skips a value and returns its bytes as a string.
func (s *scanner) raw() string {
	s.ws()
	start := s.i
	s.skip()
	if s.err != nil {
		return ""
	}
	return string(s.b[start:s.i])
}

// isNull consumes a null if one is next.
func (s *scanner) isNull() bool {
	if s.peek() == 'n' {
		s.literal("null")
		return true
	}
	return false
}
