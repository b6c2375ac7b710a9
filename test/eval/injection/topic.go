package main

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/wardhq/ward/policy/topic"
)

// evalTopic builds two apps from a few dataset rows per intent / question
// type (the "training" rows) and reports the in-scope rate on every file's
// remaining rows. A banking app should accept banking questions and refuse
// the rest; a medical-questions app likewise.
func evalTopic(rows []row, perClass int, out io.Writer) error {
	bank := topic.AppSpec{Allowed: map[string][]string{}}
	med := topic.AppSpec{Allowed: map[string][]string{}}
	train := map[string]bool{}
	countB, countM := map[string]int{}, map[string]int{}
	for _, r := range rows {
		m := r.Meta
		switch {
		case r.file == "banking77_test" && countB[m.Intent] < perClass:
			countB[m.Intent]++
			bank.Allowed["banking"] = append(bank.Allowed["banking"], r.Text)
			train[r.ID] = true
		case r.file == "medquad_questions_sample" && countM[m.QType] < perClass:
			countM[m.QType]++
			med.Allowed["medical"] = append(med.Allowed["medical"], r.Text)
			train[r.ID] = true
		}
	}
	c, err := topic.New(map[string]topic.AppSpec{"banking": bank, "medical": med})
	if err != nil {
		return err
	}
	ctx := context.Background()
	pe, err := newPolicyEval(ctx, withModes(map[string][]string{"banking": {"banking"}, "medical": {"medical"}}))
	if err != nil {
		return err
	}
	// inB/inM: in scope; passB/passM: not refused by the scope in mode
	// "refuse_directives" (in scope, or not a directive).
	type agg struct{ n, inB, inM, passB, passM int }
	res := map[string]*agg{}
	// own: the deployed verdict on each app's own (benign) rows, with
	// off_topic "refuse" (own) and "refuse_directives" (ownD).
	own := map[string]*triple{"banking": {}, "medical": {}}
	ownD := map[string]*triple{"banking": {}, "medical": {}}
	for i := range rows {
		r := &rows[i]
		if train[r.ID] {
			continue
		}
		if app := map[string]string{"banking77_test": "banking", "medquad_questions_sample": "medical"}[r.file]; app != "" {
			tr := c.Classify(app, r.Text)
			v, err := pe.decide(ctx, app, r.res, tr)
			if err != nil {
				return err
			}
			own[app].add(r, v)
			if v, err = pe.decide(ctx, app+"/"+modeRefuseDirectives, r.res, tr); err != nil {
				return err
			}
			ownD[app].add(r, v)
		}
		a := res[r.group]
		if a == nil {
			a = &agg{}
			res[r.group] = a
		}
		a.n++
		if rb := c.Classify("banking", r.Text); rb.InScope >= 0.5 {
			a.inB++
			a.passB++
		} else if !rb.Directive {
			a.passB++
		}
		if rm := c.Classify("medical", r.Text); rm.InScope >= 0.5 {
			a.inM++
			a.passM++
		} else if !rm.Directive {
			a.passM++
		}
	}
	groups := make([]string, 0, len(res))
	for g := range res {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	fmt.Fprintf(out, "## Topic scope (in_scope >= 0.5), %d training prompts per banking intent / MedQuAD question type\n\n", perClass)
	fmt.Fprintf(out, "Training: %d banking and %d MedQuAD prompts (excluded below). The built-in \"other\" topic is the only negative class.\n\n",
		len(bank.Allowed["banking"]), len(med.Allowed["medical"]))
	fmt.Fprintln(out, "Last two columns: share not refused by the scope in off_topic mode \"refuse_directives\" (in scope, or off topic without a directive).")
	fmt.Fprintln(out, "\n| file [split] | n | in scope of banking app | in scope of medical app | banking, refuse_directives: let through | medical, refuse_directives: let through |")
	fmt.Fprintln(out, "|---|--:|--:|--:|--:|--:|")
	for _, g := range groups {
		a := res[g]
		fmt.Fprintf(out, "| %s | %d | %.3f | %.3f | %.3f | %.3f |\n", g, a.n, float64(a.inB)/float64(a.n), float64(a.inM)/float64(a.n),
			float64(a.passB)/float64(a.n), float64(a.passM)/float64(a.n))
	}
	fmt.Fprintln(out, "\nDeployed verdict on each app's own benign rows (rego/injection.rego or rego/scope.rego denies; same apps, same excluded training rows), with off_topic \"refuse\" (default) and \"refuse_directives\" (topic.Result.Directive):")
	fmt.Fprintln(out, "\n| app | off_topic | rows | denied by detector | denied by scope | denied (combined) | FPR combined |")
	fmt.Fprintln(out, "|---|---|--:|--:|--:|--:|--:|")
	for _, app := range []string{"banking", "medical"} {
		for _, m := range []struct {
			mode string
			t    *triple
		}{{modeRefuse, own[app]}, {modeRefuseDirectives, ownD[app]}} {
			t := m.t
			n := t.both.fp + t.both.tn
			fmt.Fprintf(out, "| %s | %s | %d | %d | %d | %d | %s |\n", app, m.mode, n, t.det.fp, t.scope.fp, t.both.fp, f(t.both.fpr()))
		}
	}
	return nil
}
