// Command injection evaluates the prompt-injection detector on the labelled
// JSON-lines corpus in ../shared/datasets/injection (see its README).
//
//	go run ./test/eval/injection -data ../shared/datasets/injection
//	go run ./test/eval/injection -data ../shared/datasets/injection -dev   # development: no deepset test rows
//
// It prints, per file (and split) and per language, precision, recall, F1 and
// false-positive rate at the default threshold, then a threshold sweep, the
// topic-scope table, and deepset as a deployed app (detector + topic scope
// through rego/injection.rego and rego/scope.rego; deployed.go): k-fold
// cross-validation on deepset train, then deepset test once.
// Weights are fitted by ./policy/injection/internal/train on deepset's train
// split only; -dev drops deepset's test rows at load so that development runs
// never see test numbers, and -show never prints test rows.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/wardhq/ward/policy/injection"
)

type row struct {
	ID    string `json:"id"`
	Text  string `json:"text"`
	Label string `json:"label"`
	Lang  string `json:"lang"`
	Meta  struct {
		Split  string `json:"split"`
		Kind   string `json:"kind"`
		Intent string `json:"intent"` // banking77
		QType  string `json:"qtype"`  // MedQuAD
	} `json:"meta"`

	file  string
	group string // file plus split / kind
	res   injection.Result
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "eval-injection:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("eval-injection", flag.ContinueOnError)
	data := fs.String("data", "../shared/datasets/injection", "dataset directory (JSON lines)")
	threshold := fs.Float64("threshold", injection.DefaultThreshold, "score threshold")
	learned := fs.Bool("learned", false, "score with the opt-in learned text model (injection.Options.Learned)")
	dev := fs.Bool("dev", false, "drop deepset's test split at load (use while developing; report without it)")
	topicPer := fs.Int("topic-examples", 3, "training prompts per banking intent / MedQuAD question type for the topic-scope table (0: skip)")
	folds := fs.Int("deployed-folds", 5, "cross-validation folds on deepset train for the deployed-app section (detector + topic scope; 0: skip)")
	showScope := fs.Bool("show-scope", false, "with the deployed-app section: print deepset train rows the out-of-fold scope gets wrong (development; test rows are never printed)")
	showDirective := fs.Bool("show-directive", false, "with the deployed-app section: print off-topic deepset train rows the directive gate gets wrong (development; test rows are never printed)")
	show := fs.String("show", "", "print misclassified rows of groups containing this string (development; test-split rows and deepset rows outside its train split are never printed)")
	showAll := fs.Bool("all", false, "with -show: print every row of the group, not only the misclassified ones")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rows, err := load(*data)
	if err != nil {
		return err
	}
	if *dev {
		rows = slices.DeleteFunc(rows, func(r row) bool {
			return r.file == "deepset_prompt_injections" && r.Meta.Split != "train"
		})
	}
	det := injection.New(injection.Options{Learned: *learned})
	for i := range rows {
		rows[i].res = det.Score(rows[i].Text, injection.SourceUser)
	}
	if *show != "" {
		for _, r := range rows {
			if !strings.Contains(r.group, *show) || r.Meta.Split == "test" ||
				r.file == "deepset_prompt_injections" && r.Meta.Split != "train" {
				continue
			}
			pos := r.res.Score >= *threshold
			if *showAll || pos != (r.Label == "injection") {
				fmt.Fprintf(out, "%s %s %.2f %v %q\n", r.ID, r.Label, r.res.Score, r.res.Rules, clip(r.Text, 200))
			}
		}
		return nil
	}
	report(rows, *threshold, out)
	reportDocuments(det, rows, *threshold, out)
	if *topicPer > 0 {
		fmt.Fprintln(out)
		if err := evalTopic(rows, *topicPer, out); err != nil {
			return err
		}
	}
	if *folds > 1 {
		fmt.Fprintln(out)
		return evalDeployed(rows, *folds, *showScope, *showDirective, out)
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func load(dir string) ([]row, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.jsonl files in %s", dir)
	}
	sort.Strings(files)
	var rows []row
	var errs []error
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		line := 0
		for sc.Scan() {
			line++
			var r row
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %w", path, line, err))
				continue
			}
			r.file, r.group = name, name
			switch {
			case r.Meta.Kind == "harmful_behavior":
				r.group = name + " [harmful, not injections]"
			case r.Meta.Kind == "benign_behavior":
				r.group = name + " [benign]"
			case r.Meta.Split != "":
				r.group = name + " [" + r.Meta.Split + "]"
			}
			rows = append(rows, r)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	return rows, errors.Join(errs...)
}

type counts struct{ tp, fp, fn, tn int }

func (c *counts) add(r *row, th float64) { c.addPos(r.Label == "injection", r.res.Score >= th) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func (c counts) precision() float64 { return ratio(c.tp, c.tp+c.fp) }
func (c counts) recall() float64    { return ratio(c.tp, c.tp+c.fn) }
func (c counts) fpr() float64       { return ratio(c.fp, c.fp+c.tn) }
func (c counts) f1() float64 {
	p, r := c.precision(), c.recall()
	if math.IsNaN(p) || math.IsNaN(r) || p+r == 0 {
		return math.NaN()
	}
	return 2 * p * r / (p + r)
}

func f(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.3f", x)
}

func tally(rows []row, th float64, key func(*row) string) (map[string]*counts, []string) {
	m := map[string]*counts{}
	var keys []string
	for i := range rows {
		k := key(&rows[i])
		if k == "" {
			continue
		}
		c, ok := m[k]
		if !ok {
			c = &counts{}
			m[k] = c
			keys = append(keys, k)
		}
		c.add(&rows[i], th)
	}
	return m, keys
}

func report(rows []row, th float64, out io.Writer) {
	fmt.Fprintf(out, "## Per file at threshold %.2f\n\n", th)
	fmt.Fprintln(out, "| file [split] | n | inj | benign | TP | FP | FN | precision | recall | F1 | FPR |")
	fmt.Fprintln(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	m, keys := tally(rows, th, func(r *row) string { return r.group })
	for _, k := range keys {
		c := m[k]
		fmt.Fprintf(out, "| %s | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s |\n", k, c.tp+c.fp+c.fn+c.tn,
			c.tp+c.fn, c.fp+c.tn, c.tp, c.fp, c.fn, f(c.precision()), f(c.recall()), f(c.f1()), f(c.fpr()))
	}

	fmt.Fprintf(out, "\n## Per file and language at threshold %.2f\n\n", th)
	fmt.Fprintln(out, "| file [split] | lang | n | precision | recall | F1 | FPR |")
	fmt.Fprintln(out, "|---|---|--:|--:|--:|--:|--:|")
	m, keys = tally(rows, th, func(r *row) string { return r.group + "\x00" + r.Lang })
	for _, k := range keys {
		c := m[k]
		g, lang, _ := strings.Cut(k, "\x00")
		fmt.Fprintf(out, "| %s | %s | %d | %s | %s | %s | %s |\n", g, lang, c.tp+c.fp+c.fn+c.tn,
			f(c.precision()), f(c.recall()), f(c.f1()), f(c.fpr()))
	}

	fmt.Fprintln(out, "\n## Threshold sweep")
	fmt.Fprintln(out, "\nInjection metrics exclude the JBB harmful requests (not injections).")
	fmt.Fprintln(out, "\n| threshold | deepset test F1 | deepset test P | deepset test R | deepset train F1 | gandalf recall | gandalf test recall | max benign FPR (file) |")
	fmt.Fprintln(out, "|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, t := range []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9} {
		g, _ := tally(rows, t, func(r *row) string { return r.group })
		file, _ := tally(rows, t, func(r *row) string {
			if r.Meta.Kind == "harmful_behavior" {
				return ""
			}
			return r.file
		})
		worst, worstName := 0.0, ""
		names := make([]string, 0, len(file))
		for name := range file {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			c := file[name]
			if c.fp+c.tn > 0 && c.tp+c.fn == 0 || strings.HasPrefix(name, "jbb") {
				if v := c.fpr(); v > worst || worstName == "" {
					worst, worstName = v, name
				}
			}
		}
		get := func(m map[string]*counts, k string) *counts {
			if c := m[k]; c != nil {
				return c
			}
			return &counts{} // group absent (e.g. -dev): metrics print as –
		}
		dt, dtr := get(g, "deepset_prompt_injections [test]"), get(g, "deepset_prompt_injections [train]")
		gt, ga := get(g, "lakera_gandalf_ignore_instructions [test]"), get(file, "lakera_gandalf_ignore_instructions")
		fmt.Fprintf(out, "| %.1f | %s | %s | %s | %s | %s | %s | %s (%s) |\n", t, f(dt.f1()), f(dt.precision()),
			f(dt.recall()), f(dtr.f1()), f(ga.recall()), f(gt.recall()), f(worst), worstName)
	}

	// Per-file sweep: recall on attack files, FPR on benign files.
	_, groups := tally(rows, th, func(r *row) string { return r.group })
	fmt.Fprintln(out, "\nPer file and split: recall (R) where the group has injections, else false-positive rate (FPR).")
	fmt.Fprint(out, "\n| threshold |")
	for _, g := range groups {
		fmt.Fprintf(out, " %s |", g)
	}
	fmt.Fprint(out, "\n|--:|")
	for range groups {
		fmt.Fprint(out, "--:|")
	}
	fmt.Fprintln(out)
	for _, t := range []float64{0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9} {
		g, _ := tally(rows, t, func(r *row) string { return r.group })
		fmt.Fprintf(out, "| %.1f |", t)
		for _, name := range groups {
			c := g[name]
			if c.tp+c.fn > 0 {
				fmt.Fprintf(out, " R %s |", f(c.recall()))
			} else {
				fmt.Fprintf(out, " FPR %s |", f(c.fpr()))
			}
		}
		fmt.Fprintln(out)
	}

	fmt.Fprintf(out, "\n## Rules fired on injections (all files, threshold %.2f)\n\n", th)
	fired := map[string]int{}
	for _, r := range rows {
		for _, n := range r.res.Rules {
			fired[r.Label+"\x00"+n]++
		}
	}
	fmt.Fprintln(out, "| rule | on injection rows | on benign rows |")
	fmt.Fprintln(out, "|---|--:|--:|")
	for _, n := range injection.RuleNames() {
		fmt.Fprintf(out, "| %s | %d | %d |\n", n, fired["injection\x00"+n], fired["benign\x00"+n])
	}
}

// reportDocuments scores every benign row as a retrieved document
// (SourceDocument): no labelled indirect-injection set is available, so this
// only measures how often ordinary third-party text would be flagged.
func reportDocuments(det *injection.Detector, rows []row, th float64, out io.Writer) {
	fmt.Fprintf(out, "\n## Benign rows scored as retrieved documents (SourceDocument), threshold %.2f\n\n", th)
	fmt.Fprintln(out, "| file | benign n | flagged | FPR | with indirect_injection |")
	fmt.Fprintln(out, "|---|--:|--:|--:|--:|")
	type agg struct{ n, fp, ind int }
	m := map[string]*agg{}
	var files []string
	for _, r := range rows {
		if r.Label != "benign" {
			continue
		}
		a := m[r.file]
		if a == nil {
			a = &agg{}
			m[r.file] = a
			files = append(files, r.file)
		}
		a.n++
		res := det.Score(r.Text, injection.SourceDocument)
		if res.Score >= th {
			a.fp++
		}
		for _, n := range res.Rules {
			if n == "indirect_injection" {
				a.ind++
			}
		}
	}
	for _, f := range files {
		a := m[f]
		fmt.Fprintf(out, "| %s | %d | %d | %.3f | %d |\n", f, a.n, a.fp, float64(a.fp)/float64(a.n), a.ind)
	}
}
