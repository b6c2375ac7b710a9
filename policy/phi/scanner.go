package phi

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Finding is one detected identifier.
type Finding struct {
	Type Type
	// Start and End are byte offsets into the original text, End exclusive.
	// They always fall on UTF-8 rune boundaries.
	Start, End int
	// Score is the detector's confidence in [0, 1].
	Score float64
}

// Options configures a Scanner.
type Options struct {
	// Types enables only these types; nil or empty enables all.
	Types []Type
	// MinScore drops findings scoring below it. Zero means DefaultMinScore;
	// use a negative value to keep everything.
	MinScore float64
	// MaxSegment bounds, in bytes, the independent segments the text is
	// scanned in (see docs/phi.md). Zero means DefaultMaxSegment.
	MaxSegment int
}

const (
	// DefaultMinScore keeps findings a detector is reasonably sure of and
	// drops the weak ones (for example a bare 9-digit number as SSN).
	DefaultMinScore = 0.5
	// DefaultMaxSegment is the default segment limit and stream hold-back.
	DefaultMaxSegment = 512
	minSegment        = 64
)

// Scanner finds identifiers. Build it once with New; it is safe for
// concurrent use.
type Scanner struct {
	enabled  [numTypes]bool
	minScore float64
	maxSeg   int
	pool     sync.Pool // *state
}

// New validates opts and returns a Scanner.
func New(opts Options) (*Scanner, error) {
	var errs []error
	s := &Scanner{minScore: opts.MinScore, maxSeg: opts.MaxSegment}
	if s.minScore == 0 {
		s.minScore = DefaultMinScore
	}
	if s.minScore > 1 {
		errs = append(errs, fmt.Errorf("phi: options.min_score: %v is above 1", opts.MinScore))
	}
	if s.maxSeg == 0 {
		s.maxSeg = DefaultMaxSegment
	}
	if s.maxSeg < minSegment {
		errs = append(errs, fmt.Errorf("phi: options.max_segment: %d is below %d", opts.MaxSegment, minSegment))
	}
	if len(opts.Types) == 0 {
		for t := Type(1); t < numTypes; t++ {
			s.enabled[t] = true
		}
	}
	for i, t := range opts.Types {
		if t == TypeInvalid || t >= numTypes {
			errs = append(errs, fmt.Errorf("phi: options.types[%d]: unknown type %d", i, t))
			continue
		}
		s.enabled[t] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.pool.New = func() any { return &state{} }
	return s, nil
}

// MustNew is New for static options; it panics on invalid options.
func MustNew(opts Options) *Scanner {
	s, err := New(opts)
	if err != nil {
		panic(err)
	}
	return s
}

// Scan appends the findings in text to dst, sorted by Start, not
// overlapping, and returns the extended slice. It allocates nothing when
// text holds no identifier and dst has room.
func (s *Scanner) Scan(text string, dst []Finding) []Finding {
	st := s.pool.Get().(*state)
	for p := 0; p < len(text); {
		e := segmentEnd(text, p, s.maxSeg)
		dst = s.scanSegment(st, text, p, e, dst)
		p = e
	}
	s.pool.Put(st)
	return dst
}

// scanSegment scans text[p:e] and appends findings with absolute offsets.
func (s *Scanner) scanSegment(st *state, text string, p, e int, dst []Finding) []Finding {
	st.v.build(text[p:e])
	st.cands = st.cands[:0]
	st.ctx.n = 0
	st.run()
	if len(st.cands) == 0 {
		return dst
	}
	d, ok := s.disjoint(st, p, dst)
	if ok {
		return d
	}
	dst = d // the same findings, maybe more room
	// Resolve overlaps: best score, then longest, then leftmost wins.
	c := st.cands
	slices.SortFunc(c, func(a, b cand) int {
		switch {
		case a.score != b.score:
			if a.score > b.score {
				return -1
			}
			return 1
		case a.end-a.start != b.end-b.start:
			return (b.end - b.start) - (a.end - a.start)
		}
		return a.start - b.start
	})
	// The accepted findings are kept sorted by Start as they are inserted:
	// being disjoint (detectors never report an empty span), only the
	// neighbours of the insertion point can overlap a new one, and no sort
	// is needed at the end.
	first := len(dst)
	for _, x := range c {
		if !s.enabled[x.t] || x.score < s.minScore {
			continue
		}
		f := Finding{Type: x.t, Start: p + st.v.origStart(x.start), End: p + st.v.origEnd(x.end), Score: x.score}
		acc := dst[first:]
		k, _ := slices.BinarySearchFunc(acc, f.Start, func(y Finding, start int) int { return y.Start - start })
		if (k > 0 && acc[k-1].End > f.Start) || (k < len(acc) && acc[k].Start < f.End) {
			continue
		}
		dst = slices.Insert(dst, first+k, f)
	}
	return dst
}

// disjoint is the common case of scanSegment: when the kept candidates,
// in the order the detectors found them, already follow one another
// without overlapping, overlap resolution would keep every one of them
// whatever their scores, and sorting by Start keeps this order. It appends
// them and reports true, or leaves dst as it was and reports false.
func (s *Scanner) disjoint(st *state, p int, dst []Finding) ([]Finding, bool) {
	first := len(dst)
	prevEnd := -1
	for _, x := range st.cands {
		if !s.enabled[x.t] || x.score < s.minScore {
			continue
		}
		f := Finding{Type: x.t, Start: p + st.v.origStart(x.start), End: p + st.v.origEnd(x.end), Score: x.score}
		if f.Start < prevEnd || f.Start >= f.End {
			return dst[:first], false
		}
		prevEnd = f.End
		dst = append(dst, f)
	}
	return dst, true
}

// segmentEnd returns where the segment starting at p ends. Segments are the
// unit of detection: no finding, context word or overlap decision crosses
// a segment boundary, which is what lets a Stream release text early and
// still find exactly what Scan finds. The rule only looks at
// text[p:p+max], so a stream can apply it as soon as it holds that much.
func segmentEnd(text string, p, max int) int {
	e, _ := segmentCut(text, p, max, true)
	return e
}

// segmentCut is segmentEnd for a text that may continue (final false): it
// reports whether the end is already decided by the bytes present.
func segmentCut(text string, p, max int, final bool) (int, bool) {
	limit := p + max
	window := text[p:min(limit, len(text))]
	if i := strings.Index(window, "\n\n"); i >= 0 {
		return p + i + 2, true
	}
	if limit >= len(text) {
		return len(text), final
	}
	// Forced cut in the second half of the window, at the most natural
	// boundary: a newline, a sentence end, a space between words, a space.
	lo := max / 2
	best, rank := -1, 0
	for i := len(window) - 1; i > lo; i-- {
		c := window[i-1]
		r := 0
		switch {
		case c == '\n':
			r = 4
		case c == ' ' && i >= 2 && (window[i-2] == '.' || window[i-2] == '!' || window[i-2] == '?') && !isDigit(window[i]):
			r = 3
		case c == ' ' && i >= 2 && isLetter(window[i-2]) && isLower(window[i]):
			r = 2
		case c == ' ':
			r = 1
		}
		if r > rank {
			best, rank = i, r
			if r >= 3 {
				break
			}
		}
	}
	if best > 0 {
		return p + best, true
	}
	cut := limit
	for cut > p+1 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return cut, true
}

// CodePointOffsets converts findings (sorted by Start, as Scan returns them)
// from byte offsets into text to Unicode code point offsets, in place.
func CodePointOffsets(text string, fs []Finding) {
	// Offsets are non-decreasing within starts and ends separately for
	// sorted, non-overlapping findings, so one pass suffices.
	pos, cp := 0, 0
	adv := func(to int) {
		for pos < to && pos < len(text) {
			_, n := utf8.DecodeRuneInString(text[pos:])
			pos += n
			cp++
		}
	}
	for i := range fs {
		adv(fs[i].Start)
		fs[i].Start = cp
		adv(fs[i].End)
		fs[i].End = cp
	}
}
