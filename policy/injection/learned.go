package injection

import (
	"bytes"
	_ "embed"
	"math"

	"github.com/wardhq/ward/policy/injection/internal/learn"
)

// The learned component: a logistic model over hashed words, word pairs and
// character n-grams of the normalised text, trained offline on deepset's
// train split only (policy/injection/internal/train; deepset/prompt-injections
// is Apache-2.0, see docs/injection.md). Its logit is one more input of the
// calibrated score (learnedWeight in weights.go). It catches what the rule
// families cannot name: task hijacks and "forget everything and …" in the
// wording of that corpus.
//
//go:embed model.bin
var modelBin []byte

var model = func() *learn.Model {
	m, err := learn.Decode(modelBin)
	if err != nil {
		panic("injection: embedded model.bin: " + err.Error()) // a build defect, caught by every test
	}
	return m
}()

func init() {
	learn.Features = func(text string, cfg learn.Config, dst []uint32, ends []int) ([]uint32, []int) {
		var n normText
		n.normalize(text)
		win := 0
		eachFeature(&n, cfg, func(w int, i uint32) {
			if w != win {
				ends = append(ends, len(dst))
				win = w
			}
			dst = append(dst, i)
		})
		if len(dst) > 0 {
			ends = append(ends, len(dst))
		}
		return dst, ends
	}
}

const (
	fnvPrime  = 0x100000001b3
	seedWord  = 0xcbf29ce484222325
	seedChar  = 0x84222325cbf29ce4
	pairMix   = 0x9e3779b97f4a7c15
	markStart = 0x01 // virtual byte before a word (character n-grams)
	markEnd   = 0x02 // virtual byte after a word
)

// fmix spreads the bits of an FNV hash before the top bits pick a slot.
func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// eachFeature calls fn with the window number and the table index of every
// feature occurrence of n under cfg, in one pass over the words: linear in
// the text size. A window ends at a line break or after learn.Window words.
func eachFeature(n *normText, cfg learn.Config, fn func(win int, idx uint32)) {
	shift := 64 - uint(cfg.Bits)
	var prev uint64
	// scanned: buf before it was searched for line breaks. Joined and
	// smuggled words sit out of order at the end of buf; each byte is still
	// searched at most once.
	win, inWin, scanned := 0, 0, int32(0)
	for i, t := range n.toks {
		brk := false
		if t.start > scanned {
			brk = bytes.IndexByte(n.buf[scanned:t.start], '\n') >= 0
			scanned = t.end
		}
		if i > 0 && (inWin == learn.Window || brk) {
			win++
			inWin = 0
		}
		inWin++
		w := n.buf[t.start:t.end]
		h := uint64(seedWord)
		for _, c := range w {
			h ^= uint64(c)
			h *= fnvPrime
		}
		fn(win, uint32(fmix(h)>>shift))
		if cfg.Bigrams && inWin > 1 {
			fn(win, uint32(fmix(prev*pairMix^h^0x5bd1e995)>>shift))
		}
		prev = h
		if cfg.CharMax == 0 {
			continue
		}
		// Character n-grams of ^word$, byte-wise (non-ASCII letters are
		// multi-byte; that only adds n-grams).
		l := len(w) + 2
		for s := 0; s+int(cfg.CharMin) <= l; s++ {
			h := uint64(seedChar)
			for j := s; j < l && j < s+int(cfg.CharMax); j++ {
				c := byte(markStart)
				switch {
				case j == l-1:
					c = markEnd
				case j > 0:
					c = w[j-1]
				}
				h ^= uint64(c)
				h *= fnvPrime
				if j-s+1 >= int(cfg.CharMin) {
					fn(win, uint32(fmix(h)>>shift))
				}
			}
		}
	}
}

// learnedLogit is the learned model's log-odds for n: the maximum over its
// windows (lines, cut every learn.Window words; see there).
func learnedLogit(n *normText) float64 {
	w := model.W
	best := math.Inf(-1)
	var sum float32
	cnt, cur := 0, 0
	flush := func() {
		if cnt > 0 {
			best = max(best, float64(model.Bias)+float64(sum)/math.Sqrt(float64(cnt)))
		}
		sum, cnt = 0, 0
	}
	eachFeature(n, model.Config, func(win int, i uint32) {
		if win != cur {
			flush()
			cur = win
		}
		sum += w[i]
		cnt++
	})
	flush()
	if math.IsInf(best, -1) {
		return float64(model.Bias)
	}
	return best
}
