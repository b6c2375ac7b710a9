package phi

import (
	"strings"
	"unsafe"
)

// Stream scans text that arrives in chunks (SSE deltas) and releases it only
// once it is known to be safe.
//
// Guarantee: the stream cuts the text into the same segments Scan does
// (segmentEnd) and scans each segment only when it is complete, so an
// identifier split across any chunk boundary is found before any byte of it
// is released, and the findings equal those of Scan on the concatenated
// text when the hold-back equals the Scanner's MaxSegment (NewStream(0)).
// At most holdBack bytes, hence at most holdBack characters, are held back
// after each Write.
// A Stream serves one response at a time; it is not safe for concurrent use.
type Stream struct {
	sc      *Scanner
	max     int
	pending []byte
	base    int // absolute offset of pending[0]
	red     *Redactor
	st      *state
	out     []Finding
}

// NewStream returns a Stream that holds back at most holdBack bytes
// (≤ holdBack characters). holdBack ≤ 0 uses the Scanner's MaxSegment, the
// setting under which streaming finds exactly what Scan finds; a smaller
// holdBack (minimum 16) segments more finely and may miss an identifier
// whose context words lie in the previous segment.
func (s *Scanner) NewStream(holdBack int) *Stream {
	m := s.maxSeg
	if holdBack > 0 {
		m = max(holdBack, 16)
	}
	return &Stream{sc: s, max: m, st: &state{}}
}

// WithRedactor makes Write and Flush return redacted text.
func (z *Stream) WithRedactor(r *Redactor) *Stream {
	z.red = r
	return z
}

// Write adds chunk and returns the text that may be released now (redacted
// if a Redactor is set) and the findings in it. Finding offsets are byte
// offsets into the whole original stream (all chunks concatenated). The
// returned slice is reused by the next call.
func (z *Stream) Write(chunk string) (string, []Finding) {
	z.pending = append(z.pending, chunk...)
	return z.release(false)
}

// Flush releases everything still held back. The stream can be reused.
func (z *Stream) Flush() (string, []Finding) {
	safe, fs := z.release(true)
	z.base = 0
	return safe, fs
}

func (z *Stream) release(final bool) (string, []Finding) {
	z.out = z.out[:0]
	if len(z.pending) == 0 {
		return "", z.out
	}
	// The scanner does not retain text, so the buffer can be viewed as a
	// string without copying.
	text := unsafe.String(&z.pending[0], len(z.pending))
	var b strings.Builder
	p := 0
	for p < len(text) {
		e, ok := segmentCut(text, p, z.max, final)
		if !ok {
			break
		}
		first := len(z.out)
		z.out = z.sc.scanSegment(z.st, text, p, e, z.out)
		if z.red != nil {
			local := z.out[first:]
			if len(local) > 0 {
				// Redact with segment-relative offsets.
				seg := make([]Finding, len(local))
				for k, f := range local {
					f.Start -= p
					f.End -= p
					seg[k] = f
				}
				z.red.write(&b, text[p:e], seg)
			} else {
				b.WriteString(text[p:e])
			}
		} else {
			b.WriteString(text[p:e])
		}
		for k := first; k < len(z.out); k++ {
			z.out[k].Start += z.base
			z.out[k].End += z.base
		}
		p = e
	}
	safe := b.String()
	z.base += p
	z.pending = z.pending[:copy(z.pending, z.pending[p:])]
	return safe, z.out
}
