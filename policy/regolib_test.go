package policy

import (
	"context"
	"testing"
)

// TestRegoLibrary runs every _test.rego in rego/ through OPA's tester, so
// `go test ./policy/...` covers Ward's policy library.
func TestRegoLibrary(t *testing.T) {
	run, err := RunTests(context.Background(), Embedded(), TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) < 30 {
		t.Errorf("ran %d Rego tests, expected the whole library (>= 30)", len(run.Results))
	}
	for _, r := range run.Results {
		if r.Error != nil {
			t.Errorf("%s.%s: error: %v", r.Package, r.Name, r.Error)
		} else if r.Fail {
			t.Errorf("%s.%s: FAIL (%s)", r.Package, r.Name, r.Location)
		}
	}
}

func TestRegoLibraryChecks(t *testing.T) {
	if err := Check(Embedded(), DefaultEntrypoint, "data.ward.clinical.decision", "data.ward.internal.decision"); err != nil {
		t.Fatal(err)
	}
}

// An app in refuse_directives mode answers an off-topic question and
// refuses an off-topic directive; the topic result's directive field
// reaches scope.rego through the input (either evaluator).
func TestOffTopicDirectivesMode(t *testing.T) {
	for _, ev := range []string{EvaluatorPlan, EvaluatorTopdown} {
		e := newEngine(t, Embedded(), Options{Evaluator: ev, Data: newsdeskData})
		for _, tc := range []struct {
			app       string
			directive bool
			refused   bool
		}{
			{"newsdesk", false, false},
			{"newsdesk", true, true},
			{"burrito-bot", false, true}, // refuse (the default) ignores the signal
			{"burrito-bot", true, true},
		} {
			in := clinicalInput(256)
			in.Identity.App = tc.app
			in.Detectors.Topic = &Topic{InScope: false, Nearest: "coding", Score: 0.05, Directive: tc.directive}
			d, err := e.Decide(context.Background(), "", in)
			if err != nil {
				t.Fatal(err)
			}
			if refused := !d.Allow && d.Reason.Code == "off_topic"; refused != tc.refused {
				t.Errorf("%s: app %s, directive %v: decision %+v, want refused %v", ev, tc.app, tc.directive, d, tc.refused)
			}
		}
	}
}
