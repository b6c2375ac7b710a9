// Package learn holds what the detector's learned text component shares with
// its offline trainer (policy/injection/internal/train): the feature
// configuration, the binary model format and a hook to the detector's own
// feature extractor, so that training and scoring hash exactly the same
// features of exactly the same normalised text.
package learn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Config selects the hashed features of a normalised text: every word, every
// pair of adjacent words (Bigrams) and, if CharMax > 0, the character
// n-grams of length CharMin..CharMax of each word with boundary marks.
type Config struct {
	Bits    uint8 // table size 1<<Bits
	Bigrams bool
	CharMin uint8
	CharMax uint8
}

// Validate reports a configuration the detector cannot use.
func (c Config) Validate() error {
	var errs []error
	if c.Bits < 8 || c.Bits > 24 {
		errs = append(errs, fmt.Errorf("bits: %d outside 8..24", c.Bits))
	}
	if c.CharMax > 0 && (c.CharMin < 1 || c.CharMin > c.CharMax || c.CharMax > 8) {
		errs = append(errs, fmt.Errorf("char n-grams: %d..%d invalid (want 1 <= min <= max <= 8)", c.CharMin, c.CharMax))
	}
	return errors.Join(errs...)
}

// Window is the most words scored together. A text's logit is the highest
// logit of its windows: its lines, cut every Window words. The model was
// trained on short single-line prompts; a long or multi-turn benign
// transcript must not accumulate evidence with its length.
const Window = 64

// Features is set by package injection at init: it appends to dst the table
// index of every feature occurrence in text (after the detector's
// normalisation) under cfg, and to ends the end offset in dst of each window
// (see Window). The trainer uses it; the detector's hot path computes the
// same indices without the slices.
var Features func(text string, cfg Config, dst []uint32, ends []int) ([]uint32, []int)

// Model is a logistic model over hashed features: the logit of a window
// with feature occurrences f1..fN is Bias + (W[f1]+…+W[fN]) / sqrt(N).
type Model struct {
	Config
	Bias float32
	W    []float32 // len 1<<Bits
}

var magic = [4]byte{'W', 'L', 'M', '1'}

// Encode writes m compactly: a header, then (index, weight) for the non-zero
// weights only, little-endian.
func (m *Model) Encode() []byte {
	out := append([]byte(nil), magic[:]...)
	var cb byte
	if m.Bigrams {
		cb = 1
	}
	out = append(out, m.Bits, cb, m.CharMin, m.CharMax)
	out = binary.LittleEndian.AppendUint32(out, math.Float32bits(m.Bias))
	nz := 0
	for _, w := range m.W {
		if w != 0 {
			nz++
		}
	}
	out = binary.LittleEndian.AppendUint32(out, uint32(nz))
	for i, w := range m.W {
		if w != 0 {
			out = binary.LittleEndian.AppendUint32(out, uint32(i))
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(w))
		}
	}
	return out
}

// Decode parses what Encode wrote, checking every bound.
func Decode(b []byte) (*Model, error) {
	const hdr = 4 + 4 + 4 + 4
	if len(b) < hdr || [4]byte(b[:4]) != magic {
		return nil, errors.New("learn: not a WLM1 model")
	}
	m := &Model{Config: Config{Bits: b[4], Bigrams: b[5] == 1, CharMin: b[6], CharMax: b[7]}}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("learn: %w", err)
	}
	m.Bias = math.Float32frombits(binary.LittleEndian.Uint32(b[8:]))
	nz := binary.LittleEndian.Uint32(b[12:])
	rest := b[hdr:]
	if uint64(len(rest)) != 8*uint64(nz) {
		return nil, fmt.Errorf("learn: %d weight bytes, want %d", len(rest), 8*uint64(nz))
	}
	m.W = make([]float32, 1<<m.Bits)
	for i := 0; i < int(nz); i++ {
		idx := binary.LittleEndian.Uint32(rest[8*i:])
		w := math.Float32frombits(binary.LittleEndian.Uint32(rest[8*i+4:]))
		if idx >= uint32(len(m.W)) || math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
			return nil, fmt.Errorf("learn: bad weight %d at index %d", i, idx)
		}
		m.W[idx] = w
	}
	return m, nil
}
