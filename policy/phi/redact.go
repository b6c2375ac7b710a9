package phi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"unicode/utf8"
)

// Mode is how a Redactor replaces a finding.
type Mode uint8

const (
	// Mask replaces the value with its type: [SSN].
	Mask Mode = iota + 1
	// Partial keeps what Safe Harbor or common practice allows: the last
	// four digits of numbers (***-**-6789), the first three digits of a
	// ZIP (000 for restricted ZIP3s). Types without a partial form are
	// masked.
	Partial
	// Pseudonym replaces the value with a keyed HMAC-SHA256 token,
	// [SSN:7f3a9c1d], stable for the same key and value.
	Pseudonym
)

// ParseMode parses "mask", "partial" or "pseudonym".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "mask":
		return Mask, nil
	case "partial":
		return Partial, nil
	case "pseudonym":
		return Pseudonym, nil
	}
	return 0, fmt.Errorf("phi: unknown redaction mode %q (want mask, partial or pseudonym)", s)
}

func (m Mode) String() string {
	switch m {
	case Mask:
		return "mask"
	case Partial:
		return "partial"
	case Pseudonym:
		return "pseudonym"
	}
	return "invalid"
}

// RedactorOptions configures a Redactor.
type RedactorOptions struct {
	// Default applies to types without an entry in Modes. Zero means Mask.
	Default Mode
	Modes   map[Type]Mode
	// Key is the HMAC secret for Pseudonym (per tenant). Required, at
	// least 16 bytes, when any mode is Pseudonym.
	Key []byte
}

// Redactor rewrites text so that no finding's value survives. It is safe
// for concurrent use.
type Redactor struct {
	modes [numTypes]Mode
	key   []byte
	macs  sync.Pool // hash.Hash
}

// NewRedactor validates opts and returns a Redactor.
func NewRedactor(opts RedactorOptions) (*Redactor, error) {
	r := &Redactor{key: append([]byte(nil), opts.Key...)}
	def := opts.Default
	if def == 0 {
		def = Mask
	}
	var errs []error
	if def > Pseudonym {
		errs = append(errs, fmt.Errorf("phi: redactor.default: invalid mode %d", def))
	}
	for t := range r.modes {
		r.modes[t] = def
	}
	pseudo := def == Pseudonym
	for t, m := range opts.Modes {
		switch {
		case t == TypeInvalid || t >= numTypes:
			errs = append(errs, fmt.Errorf("phi: redactor.modes: unknown type %d", t))
		case m < Mask || m > Pseudonym:
			errs = append(errs, fmt.Errorf("phi: redactor.modes[%s]: invalid mode %d", t, m))
		default:
			r.modes[t] = m
			pseudo = pseudo || m == Pseudonym
		}
	}
	if pseudo && len(opts.Key) < 16 {
		errs = append(errs, errors.New("phi: redactor.key: pseudonym mode needs a key of at least 16 bytes"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r.macs.New = func() any { return hmac.New(sha256.New, r.key) }
	return r, nil
}

// Redact returns text with every finding replaced. Findings may overlap
// and come in any order; overlapping ones are merged and the merged span is
// replaced as the type of its first finding.
func (r *Redactor) Redact(text string, findings []Finding) string {
	if len(findings) == 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	r.write(&b, text, findings)
	return b.String()
}

func (r *Redactor) write(b *strings.Builder, text string, findings []Finding) {
	fs := findings
	sorted := true
	for k := 1; k < len(fs); k++ {
		if fs[k].Start < fs[k-1].Start {
			sorted = false
			break
		}
	}
	if !sorted {
		fs = append([]Finding(nil), findings...)
		sortFindings(fs)
	}
	pos := 0
	for k := 0; k < len(fs); {
		f := fs[k]
		start, end := clamp(f.Start, text), clamp(f.End, text)
		k++
		for k < len(fs) && clamp(fs[k].Start, text) < end {
			end = max(end, clamp(fs[k].End, text))
			k++
		}
		if start < pos {
			start = pos
		}
		if end <= start {
			continue
		}
		b.WriteString(text[pos:start])
		r.replace(b, f.Type, text[start:end], end-start == f.End-f.Start)
		pos = end
	}
	b.WriteString(text[pos:])
}

func clamp(i int, text string) int {
	if i < 0 {
		return 0
	}
	if i > len(text) {
		return len(text)
	}
	for i < len(text) && !utf8.RuneStart(text[i]) {
		i++
	}
	return i
}

func sortFindings(fs []Finding) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Start < fs[j-1].Start; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// replace writes the replacement of value (of type t). exact is false when
// overlapping findings were merged, in which case Partial falls back to Mask
// so no merged fragment can leak.
func (r *Redactor) replace(b *strings.Builder, t Type, value string, exact bool) {
	switch r.modes[t] {
	case Pseudonym:
		b.WriteString("[")
		b.WriteString(t.String())
		b.WriteString(":")
		b.WriteString(r.Pseudonym(t, value))
		b.WriteString("]")
		return
	case Partial:
		if exact && partial(b, t, value) {
			return
		}
	}
	b.WriteString("[")
	b.WriteString(t.String())
	b.WriteString("]")
}

// Pseudonym returns the 8-hex-digit keyed token for value. The value is
// canonicalised first (letters and digits only, upper case) so that
// 078-05-1123 and 078 05 1123 get the same token.
func (r *Redactor) Pseudonym(t Type, value string) string {
	h := r.macs.Get().(hash.Hash)
	h.Reset()
	var buf [64]byte
	out := append(buf[:0], t.String()...)
	out = append(out, 0)
	for i := 0; i < len(value); i++ {
		c := value[i]
		if isAlnum(c) || c >= utf8.RuneSelf {
			out = append(out, upper(c))
		}
	}
	h.Write(out)
	sum := h.Sum(buf[:0])
	r.macs.Put(h)
	return hex.EncodeToString(sum[:4])
}

// partial writes the partial form of value and reports whether t has one.
func partial(b *strings.Builder, t Type, value string) bool {
	switch t {
	case SSN, ITIN, CREDIT_CARD, ACCOUNT_NUMBER, BANK_ACCOUNT, PHONE, FAX, MRN, HEALTH_PLAN_ID, MBI, IBAN, DRIVER_LICENSE, PASSPORT, NPI, ABA_ROUTING, DEVICE_ID, VIN, LICENSE_NUMBER, DEA:
		// Keep the last four digits (or alphanumerics) when the value has
		// at least eight, so at most half of it is shown.
		n := 0
		for i := 0; i < len(value); i++ {
			if isAlnum(value[i]) {
				n++
			}
		}
		if n < 8 {
			return false
		}
		keep := n - 4
		for i := 0; i < len(value); i++ {
			c := value[i]
			switch {
			case !isAlnum(c) && c < utf8.RuneSelf:
				b.WriteByte(c)
			case keep > 0:
				if isAlnum(c) {
					keep--
				}
				b.WriteByte('*')
			default:
				b.WriteByte(c)
			}
		}
		return true
	case ZIP:
		if len(value) < 5 || !isDigit(value[0]) || !isDigit(value[1]) || !isDigit(value[2]) {
			return false
		}
		if RestrictedZIP3(value[:3]) {
			b.WriteString("000**")
		} else {
			b.WriteString(value[:3])
			b.WriteString("**")
		}
		return true
	case DATE:
		// Safe Harbor keeps the year.
		for i := 0; i+4 <= len(value); i++ {
			if (i == 0 || !isDigit(value[i-1])) && isDigit(value[i]) && isDigit(value[i+1]) && isDigit(value[i+2]) && isDigit(value[i+3]) && (i+4 == len(value) || !isDigit(value[i+4])) {
				b.WriteString("[DATE:")
				b.WriteString(value[i : i+4])
				b.WriteString("]")
				return true
			}
		}
	case AGE:
		b.WriteString("90+")
		return true
	}
	return false
}
