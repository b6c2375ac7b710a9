// Command train fits the detector's learned text component and its
// opt-in learned score on deepset's TRAIN split only, and writes
// policy/injection/model.bin and policy/injection/weights_learned.go.
//
//	go run ./policy/injection/internal/train -data ../shared/datasets/injection -write
//
// Rows whose meta.split is not "train" are dropped while reading, before any
// feature is computed: the test split is never seen. Hyperparameters (feature
// set, L2 strength) are chosen by stratified k-fold cross-validation on the
// train split; the rule weights and the learned model's weight are then fitted
// by logistic regression on the out-of-fold learned logits plus the rule
// families that fired (stacking), shrunk towards a hand-set prior.
//
// deepset/prompt-injections is Apache-2.0 (publisher deepset); the weights
// derived from it ship with that attribution (docs/injection.md).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/wardhq/ward/policy/injection"
	"github.com/wardhq/ward/policy/injection/internal/learn"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

type doc struct {
	id    string
	y     float64
	rules []string
	x     []feat   // learned features of the whole text (per config)
	wins  [][]feat // the same, per window of learn.Window words (scoring)
}

type feat struct {
	i uint32
	v float32
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	data := fs.String("data", "../shared/datasets/injection", "dataset directory")
	dir := fs.String("out", "policy/injection", "where to write model.bin and weights_learned.go")
	write := fs.Bool("write", false, "write model.bin and weights_learned.go (default: report only)")
	folds := fs.Int("folds", 5, "cross-validation folds")
	quant := fs.Float64("offset-quantile", 1, "the learned logit counts above this quantile of its out-of-fold logits on benign train rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	docs, skipped, err := loadTrain(filepath.Join(*data, "deepset_prompt_injections.jsonl"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "deepset train rows: %d (%d non-train rows dropped unread)\n", len(docs), skipped)
	fold := assignFolds(docs, *folds)

	type cand struct {
		cfg    learn.Config
		lambda float64
	}
	var cands []cand
	for _, cfg := range []learn.Config{
		{Bits: 18, CharMin: 3, CharMax: 5},
	} {
		for _, l := range []float64{1e-5, 1e-4, 1e-3} {
			cands = append(cands, cand{cfg, l})
		}
	}
	fmt.Fprintln(out, "\n| features | L2 | CV F1 (stacked) | CV log-loss | CV F1 (learned alone) |")
	fmt.Fprintln(out, "|---|--:|--:|--:|--:|")
	best, bestF1, bestLL := -1, -1.0, math.Inf(1)
	var bestStack stack
	for ci, c := range cands {
		featurize(docs, c.cfg)
		oof := make([]float64, len(docs))
		for k := 0; k < *folds; k++ {
			var tr []int
			for i := range docs {
				if fold[i] != k {
					tr = append(tr, i)
				}
			}
			m := fit(docs, tr, c.cfg, c.lambda)
			for i := range docs {
				if fold[i] == k {
					oof[i] = m.score(&docs[i])
				}
			}
		}
		st := fitStack(docs, oof, *quant)
		f1, ll := st.eval(docs, oof)
		alone := f1At(docs, oof)
		fmt.Fprintf(out, "| %s | %g | %.3f | %.3f | %.3f |\n", cfgName(c.cfg), c.lambda, f1, ll, alone)
		if f1 > bestF1+1e-9 || math.Abs(f1-bestF1) <= 1e-9 && ll < bestLL {
			best, bestF1, bestLL, bestStack = ci, f1, ll, st
		}
	}
	c := cands[best]
	fmt.Fprintf(out, "\nchosen: %s, L2 %g (CV F1 %.3f, log-loss %.3f)\n", cfgName(c.cfg), c.lambda, bestF1, bestLL)
	featurize(docs, c.cfg)
	all := make([]int, len(docs))
	for i := range all {
		all[i] = i
	}
	m := fit(docs, all, c.cfg, c.lambda)
	fmt.Fprintln(out, "\nlearned score (weights_learned.go):")
	bestStack.print(out)
	fmt.Fprintln(out, "\nrules only, for comparison with weights.go:")
	rulesOnly := fitStack(docs, nil, *quant)
	rulesOnly.print(out)
	if !*write {
		return nil
	}
	if err := os.WriteFile(filepath.Join(*dir, "model.bin"), m.Encode(), 0o644); err != nil {
		return err
	}
	src, err := bestStack.goSource(cfgName(c.cfg), c.lambda, len(docs), *folds)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*dir, "weights_learned.go"), src, 0o644)
}

// loadTrain reads deepset rows, keeping only meta.split == "train". Other
// rows are counted and discarded before their text is used.
func loadTrain(path string) ([]doc, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	det := injection.New(injection.Options{})
	var docs []doc
	skipped := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var r struct {
			ID    string `json:"id"`
			Text  string `json:"text"`
			Label string `json:"label"`
			Meta  struct {
				Split string `json:"split"`
			} `json:"meta"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, 0, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if r.Meta.Split != "train" {
			skipped++
			continue
		}
		d := doc{id: r.ID, rules: ruleFeatures(det.Score(r.Text, injection.SourceUser).Rules)}
		if r.Label == "injection" {
			d.y = 1
		}
		docs = append(docs, d)
		texts = append(texts, r.Text)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	if len(docs) == 0 {
		return nil, 0, errors.New("no train rows")
	}
	return docs, skipped, nil
}

// ruleFeatures drops the learned model's own flag: the stack sees the rules.
func ruleFeatures(rules []string) []string {
	return slices.DeleteFunc(rules, func(n string) bool { return n == learnedRule })
}

const learnedRule = "learned_classifier"

// texts holds the train texts, aligned with the docs.
var texts []string

func featurize(docs []doc, cfg learn.Config) {
	var buf []uint32
	var ends []int
	for i := range docs {
		buf, ends = learn.Features(texts[i], cfg, buf[:0], ends[:0])
		docs[i].x = sparse(buf)
		docs[i].wins = docs[i].wins[:0]
		start := 0
		for _, e := range ends {
			docs[i].wins = append(docs[i].wins, sparse(buf[start:e]))
			start = e
		}
	}
}

// sparse turns feature occurrences into (index, count/sqrt(N)).
func sparse(occ []uint32) []feat {
	cnt := map[uint32]float32{}
	for _, f := range occ {
		cnt[f]++
	}
	x := make([]feat, 0, len(cnt))
	norm := float32(1 / math.Sqrt(float64(max(len(occ), 1))))
	for f, c := range cnt {
		x = append(x, feat{f, c * norm})
	}
	sort.Slice(x, func(a, b int) bool { return x[a].i < x[b].i })
	return x
}

// assignFolds gives each row a fold, stratified by label, deterministically.
func assignFolds(docs []doc, k int) []int {
	fold := make([]int, len(docs))
	rng := rand.New(rand.NewPCG(9, 9))
	for _, y := range []float64{0, 1} {
		var idx []int
		for i := range docs {
			if docs[i].y == y {
				idx = append(idx, i)
			}
		}
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		for j, i := range idx {
			fold[i] = j % k
		}
	}
	return fold
}

type model struct{ learn.Model }

func (m *model) logit(x []feat) float64 {
	z := float64(m.Bias)
	for _, f := range x {
		z += float64(m.W[f.i] * f.v)
	}
	return z
}

// score is what the detector computes: the highest window logit.
func (m *model) score(d *doc) float64 {
	if len(d.wins) == 0 {
		return float64(m.Bias)
	}
	best := math.Inf(-1)
	for _, w := range d.wins {
		best = max(best, m.logit(w))
	}
	return best
}

// fit trains L2-regularised logistic regression on the rows tr by full-batch
// Adam (the problem is small and convex).
func fit(docs []doc, tr []int, cfg learn.Config, lambda float64) *model {
	m := &model{learn.Model{Config: cfg, W: make([]float32, 1<<cfg.Bits)}}
	used := map[uint32]bool{}
	for _, i := range tr {
		for _, f := range docs[i].x {
			used[f.i] = true
		}
	}
	idx := make([]uint32, 0, len(used))
	for i := range used {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	w := make([]float64, len(m.W))
	g := make([]float64, len(m.W))
	m1 := make([]float64, len(m.W))
	m2 := make([]float64, len(m.W))
	var b, b1, b2 float64
	const lr, beta1, beta2, eps, iters = 0.05, 0.9, 0.999, 1e-8, 1500
	n := float64(len(tr))
	for it := 1; it <= iters; it++ {
		for _, j := range idx {
			g[j] = lambda * w[j]
		}
		gb := 0.0
		for _, i := range tr {
			z := b
			for _, f := range docs[i].x {
				z += w[f.i] * float64(f.v)
			}
			e := (sigmoid(z) - docs[i].y) / n
			gb += e
			for _, f := range docs[i].x {
				g[f.i] += e * float64(f.v)
			}
		}
		c1, c2 := 1-math.Pow(beta1, float64(it)), 1-math.Pow(beta2, float64(it))
		b1, b2 = beta1*b1+(1-beta1)*gb, beta2*b2+(1-beta2)*gb*gb
		b -= lr * (b1 / c1) / (math.Sqrt(b2/c2) + eps)
		for _, j := range idx {
			m1[j] = beta1*m1[j] + (1-beta1)*g[j]
			m2[j] = beta2*m2[j] + (1-beta2)*g[j]*g[j]
			w[j] -= lr * (m1[j] / c1) / (math.Sqrt(m2[j]/c2) + eps)
		}
	}
	m.Bias = float32(b)
	for _, j := range idx {
		m.W[j] = float32(w[j])
	}
	return m
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func f1At(docs []doc, z []float64) float64 {
	var tp, fp, fn float64
	for i := range docs {
		pos := z[i] >= 0
		switch {
		case pos && docs[i].y == 1:
			tp++
		case pos:
			fp++
		case docs[i].y == 1:
			fn++
		}
	}
	return 2 * tp / (2*tp + fp + fn)
}

func cfgName(c learn.Config) string {
	s := "words"
	if c.Bigrams {
		s += "+pairs"
	}
	if c.CharMax > 0 {
		s += fmt.Sprintf("+char%d-%d", c.CharMin, c.CharMax)
	}
	return fmt.Sprintf("%s (2^%d)", s, c.Bits)
}
