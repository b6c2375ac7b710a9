package injection

import (
	"fmt"
	"math"
	"sync"
)

// Source says where a text came from. Text from tools and retrieved
// documents should never contain instructions for the model, so the same
// signals weigh more there (indirect injection).
type Source uint8

const (
	SourceUser       Source = iota // the end user's prompt
	SourceSystem                   // the application's own system prompt
	SourceToolResult               // output of a tool / function call
	SourceDocument                 // retrieved document (RAG), web page, e-mail
)

var sourceNames = [...]string{SourceUser: "user", SourceSystem: "system", SourceToolResult: "tool", SourceDocument: "document"}

// String returns the name used by ParseSource ("user", "system", "tool", "document").
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("Source(%d)", s)
}

// ParseSource parses a Source name, e.g. from `ward scan --source tool`.
func ParseSource(name string) (Source, error) {
	for i, n := range sourceNames {
		if n == name {
			return Source(i), nil
		}
	}
	return SourceUser, fmt.Errorf("injection: unknown source %q (want user, system, tool or document)", name)
}

// Indirect reports whether text from s is third-party content.
func (s Source) Indirect() bool { return s == SourceToolResult || s == SourceDocument }

// Options bound the work done per call. Zero values take the defaults.
type Options struct {
	// MaxBytes is how much of a text is scanned: the first MaxBytes-TailBytes
	// and the last TailBytes (injections are often appended). Default 1 MiB.
	MaxBytes int
	// TailBytes, see MaxBytes. Default 64 KiB.
	TailBytes int
	// MaxDecodeDepth bounds nested decoding (base64 of hex of …). Default 2.
	MaxDecodeDepth int
	// MaxDecodeBytes bounds the decoded bytes per call. Default 64 KiB.
	MaxDecodeBytes int
	// Learned adds the learned text model (learned.go, trained on
	// deepset's train split) to the score and may report
	// learned_classifier. It catches more task hijacks that no rule names,
	// at the cost of false positives on conversational and instruction-like
	// benign text (docs/injection-evaluation.md), so it is off by default.
	Learned bool
}

// DefaultThreshold is the score at which the evaluation counts a text as an
// injection. Policies choose their own threshold.
const DefaultThreshold = 0.5

// Result is the verdict for one text. The JSON form is what `ward scan` and
// the policy input carry: {"score": 0.93, "rules": ["instruction_override"]}.
type Result struct {
	Score float64  `json:"score"`
	Rules []string `json:"rules"`
}

// Detector scores texts. Build it once with New; it is safe for concurrent use.
type Detector struct {
	opts Options
	pool sync.Pool // *scratch
}

type scratch struct {
	n     normText
	logit float64 // learned model's log-odds of the top-level text
	last  []int32 // per pattern step: word index of the last partial match
	seen  []int32 // per pattern: last word index that visited it
}

// New returns a Detector with opts (zero fields take defaults).
func New(opts Options) *Detector {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 20
	}
	if opts.TailBytes <= 0 {
		opts.TailBytes = 64 << 10
	}
	if opts.TailBytes > opts.MaxBytes/2 {
		opts.TailBytes = opts.MaxBytes / 2
	}
	if opts.MaxDecodeDepth <= 0 {
		opts.MaxDecodeDepth = 2
	}
	if opts.MaxDecodeBytes <= 0 {
		opts.MaxDecodeBytes = 64 << 10
	}
	d := &Detector{opts: opts}
	d.pool.New = func() any {
		return &scratch{last: make([]int32, stepCount), seen: make([]int32, len(patterns))}
	}
	return d
}

var defaultDetector = sync.OnceValue(func() *Detector { return New(Options{}) })

// Default returns a shared Detector with default options.
func Default() *Detector { return defaultDetector() }

// Score returns the calibrated injection probability of text and the rule
// families that fired. It never panics and runs in time linear in
// min(len(text), MaxBytes).
func (d *Detector) Score(text string, role Source) Result {
	h, logit := d.hits(text, role)
	if d.opts.Learned {
		return Result{Score: scoreLearned(h, role, logit), Rules: names(h)}
	}
	return Result{Score: score(h, role), Rules: names(h)}
}

func (d *Detector) hits(text string, role Source) (hits, float64) {
	if len(text) > d.opts.MaxBytes {
		head := d.opts.MaxBytes - d.opts.TailBytes
		text = text[:head] + "\n" + text[len(text)-d.opts.TailBytes:]
	}
	sc := d.pool.Get().(*scratch)
	budget := d.opts.MaxDecodeBytes
	h := d.scan(sc, text, 0, &budget)
	logit := sc.logit
	d.pool.Put(sc)
	if role.Indirect() {
		if h&^(1<<fIndirect|1<<fObfuscation|1<<fLearned) != 0 {
			h.set(fIndirect)
		}
	} else {
		h &^= 1 << fIndirect
	}
	return h, logit
}

func (d *Detector) scan(sc *scratch, text string, depth int, budget *int) hits {
	n := &sc.n
	n.normalize(text)
	h := match(n, sc.last, sc.seen)
	if delimiters(n.buf) {
		h.set(fDelimiter)
	}
	if depth == 0 && d.opts.Learned {
		sc.logit = learnedLogit(n)
		if sc.logit > learnedOffset {
			h.set(fLearned)
		}
	}
	if depth >= d.opts.MaxDecodeDepth {
		return h
	}
	// rot13: two or more words that are attack keywords once rotated.
	rotHits := 0
	var w [16]byte
	for _, t := range n.toks {
		// Cheap filter: the rotated first letter must start a keyword.
		if l := t.end - t.start; l >= 5 && l <= 12 && rot13First[n.buf[t.start]] {
			b := w[:copy(w[:], n.buf[t.start:t.end])]
			rot13(b)
			if rot13Keywords[string(b)] {
				rotHits++
			}
		}
	}
	var rotated []byte
	if rotHits >= 2 && *budget > 0 {
		rotated = []byte(text[:min(len(text), *budget)])
		*budget -= len(rotated)
		rot13(rotated)
	}
	// n is not used below: nested scans reuse the scratch buffers.
	if rotated != nil {
		if inner := d.scan(sc, string(rotated), depth+1, budget); inner&^(1<<fObfuscation) != 0 {
			h |= inner
			h.set(fEncoded)
		}
	}
	var payloads []Payload
	decodeEach(text, budget, func(p Payload) { payloads = append(payloads, p) })
	for _, p := range payloads {
		if inner := d.scan(sc, p.Text, depth+1, budget); inner != 0 {
			h |= inner
			h.set(fEncoded)
		}
	}
	return h
}

// Merge combines the results for the parts of one request (messages, tool
// results, documents): the highest score and the union of rules, in rule
// order.
func Merge(rs ...Result) Result {
	out := Result{Rules: []string{}}
	seen := map[string]bool{}
	for _, r := range rs {
		out.Score = max(out.Score, r.Score)
		for _, n := range r.Rules {
			seen[n] = true
		}
	}
	for _, n := range featureNames {
		if seen[n] {
			out.Rules = append(out.Rules, n)
		}
	}
	return out
}

func names(h hits) []string {
	out := make([]string, 0, 4)
	for f := feature(0); f < numFeatures; f++ {
		if h.has(f) {
			out = append(out, featureNames[f])
		}
	}
	return out
}

// score is the default, rules-only logistic model over the fired families
// (see weights.go).
func score(h hits, role Source) float64 {
	return logistic(bias, &weights, multiWeight, h, role)
}

// scoreLearned adds the learned model's logit above learnedOffset (see
// weights_learned.go). The term is one-sided: below the offset the text
// model stays silent and the rules alone decide.
func scoreLearned(h hits, role Source, logit float64) float64 {
	return logistic(learnedBias+learnedWeight*max(0, logit-learnedOffset), &learnedWeights, learnedMultiWeight, h, role)
}

func logistic(z float64, w *[numFeatures]float64, multi float64, h hits, role Source) float64 {
	k := 0
	for f := feature(0); f < fLearned; f++ {
		if h.has(f) {
			z += w[f]
			k++
		}
	}
	if k > 1 {
		z += multi * float64(k-1)
	}
	if role.Indirect() {
		z += indirectBias
	}
	return 1 / (1 + math.Exp(-z))
}
