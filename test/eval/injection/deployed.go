package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strings"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/wardhq/ward/policy/injection"
	"github.com/wardhq/ward/policy/topic"
	wardrego "github.com/wardhq/ward/rego"
)

// Deepset as a deployed app: deepset's prompts were written against a
// news / general-knowledge assistant, so the deployed configuration for it is
// an app whose topic scope is built from its benign prompts, with the
// injection detector in front. The verdict for a prompt is what Ward's
// default policy does at the request phase: rego/injection.rego denies at
// score >= threshold (0.5 for the clinical profile), rego/scope.rego denies
// when the topic is out of scope or its nearest topic is not one of the app's
// configured topics. Both are evaluated by OPA over the real modules and
// data.json, with the app added to data.ward.config.apps.
//
// Split discipline: the app's examples are deepset **train** benign rows
// only. Every choice is made by stratified k-fold cross-validation on train
// (the scope is built from the benign rows of k-1 folds and scores the
// held-out fold's benign and injection rows); the test split is scored once,
// with the app built from all benign train rows, and only its counts are
// printed.

const (
	deployedApp   = "news-qa"
	deployedTopic = "news"
	deepsetFile   = "deepset_prompt_injections"
)

// verdicts is what the policy decided for one prompt.
type verdicts struct{ inj, scope bool }

// policyEval runs the request-phase denials of rego/injection.rego and
// rego/scope.rego.
type policyEval struct {
	pq rego.PreparedEvalQuery
}

// deployedAppConfig is one app added to data.ward.config.apps.
type deployedAppConfig struct {
	name     string
	topics   []string
	offTopic string // data.ward.config.apps[name].off_topic; "" leaves it unset (rego default "refuse")
}

// Off-topic modes of rego/scope.rego.
const (
	modeRefuse           = "refuse"
	modeRefuseDirectives = "refuse_directives"
)

// withModes returns each app twice: as configured (mode unset, "refuse")
// and as name+"/"+modeRefuseDirectives with off_topic "refuse_directives".
func withModes(apps map[string][]string) []deployedAppConfig {
	var out []deployedAppConfig
	for name, topics := range apps {
		out = append(out, deployedAppConfig{name, topics, ""},
			deployedAppConfig{name + "/" + modeRefuseDirectives, topics, modeRefuseDirectives})
	}
	return out
}

func newPolicyEval(ctx context.Context, apps []deployedAppConfig) (*policyEval, error) {
	opts := []func(*rego.Rego){
		rego.Query("i := count(data.ward.injection.deny) > 0; s := count(data.ward.scope.deny) > 0"),
	}
	for _, name := range []string{"lib.rego", "injection.rego", "scope.rego"} {
		src, err := fs.ReadFile(wardrego.FS, name)
		if err != nil {
			return nil, err
		}
		opts = append(opts, rego.Module(name, string(src)))
	}
	raw, err := fs.ReadFile(wardrego.FS, "data.json")
	if err != nil {
		return nil, err
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, fmt.Errorf("rego/data.json: %w", err)
	}
	cfg := data["ward"].(map[string]any)["config"].(map[string]any)
	for _, app := range apps {
		ts := make([]any, len(app.topics))
		for i, t := range app.topics {
			ts[i] = t
		}
		c := map[string]any{"topics": ts}
		if app.offTopic != "" {
			c["off_topic"] = app.offTopic
		}
		cfg["apps"].(map[string]any)[app.name] = c
	}
	opts = append(opts, rego.Store(inmem.NewFromObject(data)))
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare policy: %w", err)
	}
	return &policyEval{pq: pq}, nil
}

// decide builds the policy input the pipeline builds (extproc/stages/policy.go)
// for a single user message and evaluates it. The input carries
// detectors.topic.directive = t.Directive, which the pipeline does not fill
// yet (policy.Topic has no such field; docs/injection.md, wiring).
func (p *policyEval) decide(ctx context.Context, app string, inj injection.Result, t topic.Result) (verdicts, error) {
	rules := make([]any, len(inj.Rules))
	for i, r := range inj.Rules {
		rules[i] = r
	}
	input := map[string]any{
		"phase":    "request",
		"profile":  "clinical",
		"identity": map[string]any{"app": app},
		"detectors": map[string]any{
			"injection": map[string]any{"score": inj.Score, "rules": rules},
			"topic": map[string]any{
				"in_scope":  t.InScopeAt(topic.DefaultThreshold),
				"nearest":   t.Nearest,
				"score":     t.InScope,
				"directive": t.Directive,
			},
		},
	}
	rs, err := p.pq.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return verdicts{}, err
	}
	if len(rs) != 1 {
		return verdicts{}, fmt.Errorf("policy: %d results, want 1", len(rs))
	}
	b := rs[0].Bindings
	i, ok1 := b["i"].(bool)
	s, ok2 := b["s"].(bool)
	if !ok1 || !ok2 {
		return verdicts{}, fmt.Errorf("policy: unexpected bindings %v", b)
	}
	return verdicts{inj: i, scope: s}, nil
}

// triple counts detector alone, scope alone and combined (either denies).
type triple struct{ det, scope, both counts }

func (t *triple) add(r *row, v verdicts) {
	inj := r.Label == "injection"
	t.det.addPos(inj, v.inj)
	t.scope.addPos(inj, v.scope)
	t.both.addPos(inj, v.inj || v.scope)
}

func (c *counts) addPos(inj, pos bool) {
	switch {
	case inj && pos:
		c.tp++
	case inj:
		c.fn++
	case pos:
		c.fp++
	default:
		c.tn++
	}
}

func (c counts) line(name string) string {
	return fmt.Sprintf("| %s | %d | %d | %d | %s | %s | %s | %s |", name, c.tp, c.fp, c.fn,
		f(c.precision()), f(c.recall()), f(c.f1()), f(c.fpr()))
}

// deployedSetting is one configuration compared by cross-validation.
type deployedSetting struct {
	name string
	// keep reports whether a benign training row becomes an example.
	keep func(i int, r *row) bool
}

// deployedSettings are the example sets compared by cross-validation;
// deployedTestSetting is the one the test split is scored with.
var deployedSettings = []deployedSetting{
	{"all benign train rows of the k-1 folds", func(int, *row) bool { return true }},
	{"every 2nd benign row", func(i int, _ *row) bool { return i%2 == 0 }},
	{"every 4th benign row", func(i int, _ *row) bool { return i%4 == 0 }},
}

// deployedTestSetting was chosen by the cross-validation of round 6
// (docs/injection-evaluation.md) before the test split was scored: the
// highest combined F1 of "refuse_directives" with topic.DirectiveCues
// (0.943, against 0.938 and 0.932 with more examples; the same FPR, 0.006).
// With the directive gate, a stricter scope costs few questions. Round 5
// (mode "refuse") used setting 0.
const deployedTestSetting = 2

// directiveGate is one directive signal for the "refuse_directives" mode:
// the cues of topic.Directives that count.
type directiveGate struct {
	name string
	cues topic.Cues
}

// directiveGates are compared by cross-validation; the first is
// topic.DirectiveCues (what topic.Result.Directive reports) and is the one
// the test split is scored with.
var directiveGates = []directiveGate{
	{"imperative + address", topic.DirectiveCues},
	{"imperative + address + request", topic.CueImperative | topic.CueAddress | topic.CueRequest},
	{"imperative", topic.CueImperative},
	{"address", topic.CueAddress},
}

// modeCounts are the verdict counts of one example set: the detector, and
// scope and combined per off-topic mode ("refuse", then one per gate).
type modeCounts struct {
	refuse triple
	gates  []triple
}

// decideModes scores one row under every mode.
func decideModes(ctx context.Context, pe *policyEval, app string, r *row, tr topic.Result, mc *modeCounts) (refuse verdicts, err error) {
	refuse, err = pe.decide(ctx, app, r.res, tr)
	if err != nil {
		return refuse, err
	}
	mc.refuse.add(r, refuse)
	cues := topic.Directives(r.Text)
	for gi, g := range directiveGates {
		tr.Directive = cues&g.cues != 0
		v, err := pe.decide(ctx, app+"/"+modeRefuseDirectives, r.res, tr)
		if err != nil {
			return refuse, err
		}
		mc.gates[gi].add(r, v)
	}
	return refuse, nil
}

func newModeCounts() *modeCounts { return &modeCounts{gates: make([]triple, len(directiveGates))} }

// rowsOut prints one block of mode counts (prefix: the leading table cells).
func (mc *modeCounts) rowsOut(out io.Writer, prefix string, gates []int) {
	line := func(name string, c counts) {
		fmt.Fprintf(out, "%s%s\n", prefix, strings.TrimPrefix(c.line(name), "|"))
	}
	line("detector alone", mc.refuse.det)
	line("scope alone, refuse", mc.refuse.scope)
	line("combined, refuse", mc.refuse.both)
	for _, gi := range gates {
		g := directiveGates[gi]
		line("scope alone, refuse_directives ("+g.name+")", mc.gates[gi].scope)
		line("combined, refuse_directives ("+g.name+")", mc.gates[gi].both)
	}
}

// evalDeployed prints the cross-validation on deepset train and, unless the
// test rows were dropped (-dev), the one-shot test numbers.
func evalDeployed(rows []row, k int, showScope, showDirective bool, out io.Writer) error {
	ctx := context.Background()
	pe, err := newPolicyEval(ctx, withModes(map[string][]string{deployedApp: {deployedTopic}}))
	if err != nil {
		return err
	}
	var train, test []*row
	for i := range rows {
		r := &rows[i]
		if r.file != deepsetFile {
			continue
		}
		switch r.Meta.Split {
		case "train":
			train = append(train, r)
		case "test":
			test = append(test, r)
		}
	}
	// Stratified folds: within each (label, language) stratum, in file
	// order, rows are dealt to folds in turn.
	fold := make([]int, len(train))
	seen := map[string]int{}
	for i, r := range train {
		key := r.Label + "/" + r.Lang
		fold[i] = seen[key] % k
		seen[key]++
	}
	allGates := make([]int, len(directiveGates))
	for i := range allGates {
		allGates[i] = i
	}
	fmt.Fprintf(out, "## Deepset as a deployed app (injection detector + topic scope)\n\n")
	fmt.Fprintf(out, "App %q, one allowed topic %q built from deepset train benign rows (plus the built-in %q); verdict = rego/injection.rego or rego/scope.rego denies (OPA over rego/*.rego and data.json, profile clinical, injection threshold %.2f, in_scope threshold %.2f). "+
		"Off-topic mode \"refuse\" (the default) refuses every off-topic prompt; \"refuse_directives\" only those with a directive (topic.Directives; the cues in brackets).\n\n",
		deployedApp, deployedTopic, topic.OtherTopic, injection.DefaultThreshold, topic.DefaultThreshold)
	fmt.Fprintf(out, "### Stratified %d-fold cross-validation on deepset train (%d rows; scope built from the benign rows of the other folds)\n\n", k, len(train))
	fmt.Fprintln(out, "| setting | examples per fold (mean) | verdict | TP | FP | FN | precision | recall | F1 | FPR |")
	fmt.Fprintln(out, "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|")
	var aucs []string
	for si, s := range deployedSettings {
		mc := newModeCounts()
		var scores []scored
		examples := 0
		for fi := 0; fi < k; fi++ {
			var ex []string
			n := 0
			for i, r := range train {
				if fold[i] == fi || r.Label != "benign" {
					continue
				}
				if s.keep(n, r) {
					ex = append(ex, r.Text)
				}
				n++
			}
			examples += len(ex)
			cls, err := newDeployedApp(ex)
			if err != nil {
				return err
			}
			for i, r := range train {
				if fold[i] != fi {
					continue
				}
				tr := cls.Classify(deployedApp, r.Text)
				v, err := decideModes(ctx, pe, deployedApp, r, tr, mc)
				if err != nil {
					return err
				}
				scores = append(scores, scored{1 - tr.InScope, r.Label == "injection"})
				inj := r.Label == "injection"
				if si == 0 && showScope && v.scope != inj {
					fmt.Fprintf(out, "SCOPE %s %s %s det=%v in=%.3f %s %q\n", r.ID, r.Label, r.Lang, v.inj, tr.InScope, tr.Nearest, clip(r.Text, 160))
				}
				// Off-topic rows the default directive gate decides wrongly.
				if si == 0 && showDirective && v.scope && !v.inj && tr.Directive != inj {
					fmt.Fprintf(out, "DIRECTIVE %s %s %s directive=%v cues=%03b %q\n", r.ID, r.Label, r.Lang, tr.Directive, topic.Directives(r.Text), clip(r.Text, 160))
				}
			}
		}
		mean := fmt.Sprintf("%.0f", float64(examples)/float64(k))
		aucs = append(aucs, fmt.Sprintf("%s: %.3f", s.name, auc(scores)))
		mc.rowsOut(out, fmt.Sprintf("| %s | %s |", s.name, mean), allGates)
	}
	fmt.Fprintln(out, "\nThe detector rows are in-sample: its rules and weights were developed on these train rows (test recall is reported separately).")
	fmt.Fprintf(out, "\nOut-of-fold ROC AUC of 1 − in_scope (injection vs benign; threshold-free): %s.\n", strings.Join(aucs, "; "))
	if len(test) == 0 {
		fmt.Fprintln(out, "\nDeepset test rows dropped (-dev): no test numbers.")
		return nil
	}
	s := deployedSettings[deployedTestSetting]
	var ex []string
	n := 0
	for _, r := range train {
		if r.Label == "benign" {
			if s.keep(n, r) {
				ex = append(ex, r.Text)
			}
			n++
		}
	}
	cls, err := newDeployedApp(ex)
	if err != nil {
		return err
	}
	mc := newModeCounts()
	for _, r := range test {
		if _, err := decideModes(ctx, pe, deployedApp, r, cls.Classify(deployedApp, r.Text), mc); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\n### Deepset test (%d rows), scope built from %d benign train rows (%s)\n\n", len(test), len(ex), s.name)
	fmt.Fprintln(out, "| verdict | TP | FP | FN | precision | recall | F1 | FPR |")
	fmt.Fprintln(out, "|---|--:|--:|--:|--:|--:|--:|--:|")
	mc.rowsOut(out, "|", []int{0})
	return nil
}

func newDeployedApp(examples []string) (*topic.Classifier, error) {
	return topic.New(map[string]topic.AppSpec{
		deployedApp: {Allowed: map[string][]string{deployedTopic: examples}},
	})
}

type scored struct {
	score float64
	pos   bool
}

// auc is the probability that a random positive outscores a random
// negative (ties count half).
func auc(xs []scored) float64 {
	var pos, neg []float64
	for _, x := range xs {
		if x.pos {
			pos = append(pos, x.score)
		} else {
			neg = append(neg, x.score)
		}
	}
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN()
	}
	var s float64
	for _, p := range pos {
		for _, n := range neg {
			switch {
			case p > n:
				s++
			case p == n:
				s += 0.5
			}
		}
	}
	return s / float64(len(pos)*len(neg))
}
