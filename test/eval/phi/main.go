// Command phi scores the policy/phi detectors on the labeled sets in
// ../shared/datasets/phi (see its README): per type precision, recall and F2,
// span-exact and overlap, printed as Markdown tables.
//
//	go run ./test/eval/phi -data ../shared/datasets/phi
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wardhq/ward/policy/phi"
)

type entity struct {
	Type  string `json:"type"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	Value string `json:"value"`
	Weak  bool   `json:"weak"`
}

type row struct {
	ID            string   `json:"id"`
	Text          string   `json:"text"`
	Entities      []entity `json:"entities"`
	LabeledTypes  []string `json:"labeled_types"`
	NondefaultCfg bool     `json:"nondefault_config"`
}

type span struct{ start, end int }

// counts are per-type tallies for one dataset.
type counts struct {
	tpExact, tpOverlap    int
	fpExact, fpOverlap    int
	fnExact, fnOverlap    int
	neg, negClean         int
	weakGold, weakFound   int
	unsupported, posRows  int
	recallMissExamples    []string
	falsePositiveExamples []string
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "eval-phi:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval-phi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "../shared/datasets/phi", "dataset directory")
	minScore := fs.Float64("min-score", phi.DefaultMinScore, "minimum finding score")
	verbose := fs.Bool("v", false, "print misses and false positives")
	only := fs.String("synth", "", "print only the synthetic-set table whose title starts with this (development, held-out, all)")
	examples := fs.Int("examples", 8, "misses and false positives printed per type with -v")
	if err := fs.Parse(args); err != nil {
		return err
	}
	maxExamples = *examples
	sc, err := phi.New(phi.Options{MinScore: *minScore})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# PHI detector evaluation\n\nCommand: `go run ./test/eval/phi -data %s` (min score %.2f)\n\n", *data, *minScore)
	for _, f := range []string{"presidio-vectors.jsonl", "presidio-pr-vectors.jsonl"} {
		rows, err := load(filepath.Join(*data, f))
		if err != nil {
			return err
		}
		res := scoreLabeled(sc, rows)
		printLabeled(stdout, f, res, *verbose)
	}
	rows, err := load(filepath.Join(*data, "presidio-research-synth.jsonl"))
	if err != nil {
		return err
	}
	// The rule set was tuned on the first half of the synthetic set; the
	// second half is reported separately as a held-out check.
	half := len(rows) / 2
	for _, part := range []struct {
		title string
		rows  []row
	}{
		{fmt.Sprintf("development half (rows 1–%d)", half), rows[:half]},
		{fmt.Sprintf("held-out half (rows %d–%d)", half+1, len(rows)), rows[half:]},
		{"all rows", rows},
	} {
		if *only != "" && !strings.HasPrefix(part.title, *only) {
			continue
		}
		printSynth(stdout, part.title, scoreSynth(sc, part.rows), *verbose)
	}
	return nil
}

func load(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, errors.New(path + ": no rows")
	}
	return rows, nil
}

// canon maps our types onto the dataset's names (FAX is a PHONE there).
func canon(t phi.Type) string {
	if t == phi.FAX {
		return "PHONE"
	}
	return t.String()
}

func predictions(sc *phi.Scanner, text string) map[string][]span {
	fs := sc.Scan(text, nil)
	phi.CodePointOffsets(text, fs)
	out := map[string][]span{}
	for _, f := range fs {
		out[canon(f.Type)] = append(out[canon(f.Type)], span{f.Start, f.End})
	}
	return out
}

func supported(t string) bool {
	if t == "PHONE" {
		return true
	}
	_, ok := phi.ParseType(t)
	return ok
}

// match pairs predictions with gold one-to-one and updates c. Gold spans
// marked weak neither count as misses nor make a matching prediction a
// false positive.
func match(c *counts, gold []entity, pred []span, text string) {
	usedE := make([]bool, len(pred))
	usedO := make([]bool, len(pred))
	for _, g := range gold {
		exact, overlap := -1, -1
		for k, p := range pred {
			if !usedE[k] && exact < 0 && p.start == g.Start && p.end == g.End {
				exact = k
			}
			if !usedO[k] && overlap < 0 && p.start < g.End && g.Start < p.end {
				overlap = k
			}
		}
		if g.Weak {
			c.weakGold++
			if overlap >= 0 {
				c.weakFound++
				usedO[overlap] = true
			}
			if exact >= 0 {
				usedE[exact] = true
			} else if overlap >= 0 {
				usedE[overlap] = true
			}
			continue
		}
		if exact >= 0 {
			usedE[exact] = true
			c.tpExact++
		} else {
			c.fnExact++
		}
		if overlap >= 0 {
			usedO[overlap] = true
			c.tpOverlap++
		} else {
			c.fnOverlap++
			if len(c.recallMissExamples) < maxExamples {
				c.recallMissExamples = append(c.recallMissExamples, fmt.Sprintf("%q in %q", g.Value, clip(text)))
			}
		}
	}
	rs := []rune(text)
	for k, p := range pred {
		if !usedE[k] {
			c.fpExact++
		}
		if !usedO[k] {
			c.fpOverlap++
			if len(c.falsePositiveExamples) < maxExamples && p.end <= len(rs) {
				c.falsePositiveExamples = append(c.falsePositiveExamples, fmt.Sprintf("%q in %q", string(rs[p.start:p.end]), clip(text)))
			}
		}
	}
}

// maxExamples bounds the misses and false positives printed per type (-v).
var maxExamples = 8

func clip(s string) string {
	r := []rune(s)
	if len(r) > 90 {
		return string(r[:90]) + "…"
	}
	return s
}

func scoreLabeled(sc *phi.Scanner, rows []row) map[string]*counts {
	res := map[string]*counts{}
	for _, r := range rows {
		if r.NondefaultCfg || len(r.LabeledTypes) == 0 {
			continue
		}
		t := r.LabeledTypes[0]
		c := res[t]
		if c == nil {
			c = &counts{}
			res[t] = c
		}
		if !supported(t) {
			c.unsupported++
			continue
		}
		pred := predictions(sc, r.Text)[t]
		if len(r.Entities) == 0 {
			c.neg++
			if len(pred) == 0 {
				c.negClean++
			} else if len(c.falsePositiveExamples) < 8 {
				c.falsePositiveExamples = append(c.falsePositiveExamples, fmt.Sprintf("negative %q", clip(r.Text)))
			}
			continue
		}
		c.posRows++
		match(c, r.Entities, pred, r.Text)
	}
	return res
}

func scoreSynth(sc *phi.Scanner, rows []row) map[string]*counts {
	res := map[string]*counts{}
	types := map[string]bool{}
	for _, r := range rows {
		for _, e := range r.Entities {
			types[e.Type] = true
		}
	}
	for t := range types {
		res[t] = &counts{}
	}
	for _, r := range rows {
		pred := predictions(sc, r.Text)
		for t := range types {
			var gold []entity
			for _, e := range r.Entities {
				if e.Type == t {
					gold = append(gold, e)
				}
			}
			if !supported(t) {
				res[t].unsupported += len(gold)
				continue
			}
			match(res[t], gold, pred[t], r.Text)
		}
	}
	return res
}

func prf(tp, fp, fn int) (p, r, f2 float64) {
	if tp+fp > 0 {
		p = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		r = float64(tp) / float64(tp+fn)
	}
	if p+r > 0 {
		f2 = 5 * p * r / (4*p + r)
	}
	return
}

func sortedKeys(m map[string]*counts) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func printLabeled(w io.Writer, name string, res map[string]*counts, verbose bool) {
	fmt.Fprintf(w, "## %s\n\nRows scored only for their labeled type; `nondefault_config` rows skipped; weak gold spans neither counted as misses nor as false positives.\n\n", name)
	fmt.Fprintln(w, "| type | pos rows | recall (overlap) | recall (exact) | precision (overlap) | precision (exact) | F2 (overlap) | F2 (exact) | negatives clean | weak found |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, t := range sortedKeys(res) {
		c := res[t]
		if c.unsupported > 0 {
			fmt.Fprintf(w, "| %s | – | not supported (%d rows) | | | | | | | |\n", t, c.unsupported)
			continue
		}
		po, ro, fo := prf(c.tpOverlap, c.fpOverlap, c.fnOverlap)
		pe, re, fe := prf(c.tpExact, c.fpExact, c.fnExact)
		neg := "–"
		if c.neg > 0 {
			neg = fmt.Sprintf("%d/%d (%.0f%%)", c.negClean, c.neg, 100*float64(c.negClean)/float64(c.neg))
		}
		weak := "–"
		if c.weakGold > 0 {
			weak = fmt.Sprintf("%d/%d", c.weakFound, c.weakGold)
		}
		if c.tpOverlap+c.fnOverlap == 0 {
			// Only weak gold: recall and precision are undefined.
			fmt.Fprintf(w, "| %s | %d | – (all gold weak) | | | | | | %s | %s |\n", t, c.posRows, neg, weak)
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %s |\n", t, c.posRows, ro, re, po, pe, fo, fe, neg, weak)
	}
	fmt.Fprintln(w)
	if verbose {
		printExamples(w, res)
	}
}

func printSynth(w io.Writer, title string, res map[string]*counts, verbose bool) {
	fmt.Fprintf(w, "## presidio-research-synth.jsonl, %s\n\nAll mapped gold spans; predictions of types the set does not label (ZIP, AGE, MRN, …) are ignored.\n\n", title)
	fmt.Fprintln(w, "| type | gold | recall (overlap) | precision (overlap) | F2 (overlap) | recall (exact) | precision (exact) | F2 (exact) |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var all, pattern counts
	for _, t := range sortedKeys(res) {
		c := res[t]
		if c.unsupported > 0 {
			fmt.Fprintf(w, "| %s | %d | not supported | | | | | |\n", t, c.unsupported)
			continue
		}
		po, ro, fo := prf(c.tpOverlap, c.fpOverlap, c.fnOverlap)
		pe, re, fe := prf(c.tpExact, c.fpExact, c.fnExact)
		fmt.Fprintf(w, "| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", t, c.tpOverlap+c.fnOverlap, ro, po, fo, re, pe, fe)
		for _, a := range []*counts{&all, &pattern} {
			if a == &pattern && (t == "NAME" || t == "ADDRESS") {
				continue
			}
			a.tpOverlap += c.tpOverlap
			a.fpOverlap += c.fpOverlap
			a.fnOverlap += c.fnOverlap
			a.tpExact += c.tpExact
			a.fpExact += c.fpExact
			a.fnExact += c.fnExact
		}
	}
	for _, x := range []struct {
		name string
		c    *counts
	}{{"**all supported (micro)**", &all}, {"**supported, without NAME/ADDRESS**", &pattern}} {
		po, ro, fo := prf(x.c.tpOverlap, x.c.fpOverlap, x.c.fnOverlap)
		pe, re, fe := prf(x.c.tpExact, x.c.fpExact, x.c.fnExact)
		fmt.Fprintf(w, "| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", x.name, x.c.tpOverlap+x.c.fnOverlap, ro, po, fo, re, pe, fe)
	}
	fmt.Fprintln(w)
	if verbose {
		printExamples(w, res)
	}
}

func printExamples(w io.Writer, res map[string]*counts) {
	for _, t := range sortedKeys(res) {
		c := res[t]
		for _, m := range c.recallMissExamples {
			fmt.Fprintf(w, "- %s miss: %s\n", t, strings.ReplaceAll(m, "\n", "\\n"))
		}
		for _, m := range c.falsePositiveExamples {
			fmt.Fprintf(w, "- %s FP: %s\n", t, strings.ReplaceAll(m, "\n", "\\n"))
		}
	}
	fmt.Fprintln(w)
}
