package main

import (
	"context"
	"math"
	"testing"

	"github.com/wardhq/ward/policy/injection"
	"github.com/wardhq/ward/policy/topic"
)

// TestPolicyEval checks the deployed verdict against rego/injection.rego and
// rego/scope.rego (embedded; no dataset needed).
func TestPolicyEval(t *testing.T) {
	ctx := context.Background()
	pe, err := newPolicyEval(ctx, withModes(map[string][]string{deployedApp: {deployedTopic}}))
	if err != nil {
		t.Fatal(err)
	}
	qApp := deployedApp + "/" + modeRefuseDirectives
	clean := injection.Result{Score: 0.13, Rules: []string{}}
	attack := injection.Result{Score: 0.93, Rules: []string{"instruction_override"}}
	on := topic.Result{InScope: 0.9, Nearest: deployedTopic, Known: true}
	tests := []struct {
		name string
		app  string
		inj  injection.Result
		top  topic.Result
		want verdicts
	}{
		{"clean and in scope", deployedApp, clean, on, verdicts{}},
		{"injection", deployedApp, attack, on, verdicts{inj: true}},
		{"threshold is inclusive", deployedApp, injection.Result{Score: injection.DefaultThreshold, Rules: []string{}}, on, verdicts{inj: true}},
		{"out of scope", deployedApp, clean, topic.Result{InScope: 0.2, Nearest: topic.OtherTopic, Known: true}, verdicts{scope: true}},
		{"low in_scope, allowed nearest", deployedApp, clean, topic.Result{InScope: 0.3, Nearest: deployedTopic, Known: true}, verdicts{scope: true}},
		{"nearest not a configured topic", deployedApp, clean, topic.Result{InScope: 0.6, Nearest: topic.OtherTopic, Known: true}, verdicts{scope: true}},
		{"both", deployedApp, attack, topic.Result{InScope: 0.1, Nearest: topic.OtherTopic, Known: true}, verdicts{inj: true, scope: true}},
		{"app without topics", "scribe", clean, topic.Result{InScope: 0.1, Nearest: topic.OtherTopic, Known: true}, verdicts{}},
		{"refuse: off-topic question", deployedApp, clean, topic.Result{InScope: 0.1, Nearest: topic.OtherTopic, Known: true}, verdicts{scope: true}},
		{"refuse_directives: off-topic question", qApp, clean, topic.Result{InScope: 0.1, Nearest: topic.OtherTopic, Known: true}, verdicts{}},
		{"refuse_directives: off-topic directive", qApp, clean, topic.Result{InScope: 0.1, Nearest: topic.OtherTopic, Known: true, Directive: true}, verdicts{scope: true}},
		{"refuse_directives: in-scope directive", qApp, clean, topic.Result{InScope: 0.9, Nearest: deployedTopic, Known: true, Directive: true}, verdicts{}},
		{"refuse_directives: injection question", qApp, attack, topic.Result{InScope: 0.1, Nearest: topic.OtherTopic, Known: true}, verdicts{inj: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pe.decide(ctx, tt.app, tt.inj, tt.top)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAUC(t *testing.T) {
	tests := []struct {
		xs   []scored
		want float64
	}{
		{[]scored{{0.9, true}, {0.1, false}}, 1},
		{[]scored{{0.1, true}, {0.9, false}}, 0},
		{[]scored{{0.5, true}, {0.5, false}}, 0.5},
		{[]scored{{0.9, true}, {0.4, true}, {0.5, false}, {0.1, false}}, 0.75},
	}
	for _, tt := range tests {
		if got := auc(tt.xs); got != tt.want {
			t.Errorf("auc(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
	if got := auc([]scored{{1, true}}); !math.IsNaN(got) {
		t.Errorf("auc without negatives = %v, want NaN", got)
	}
}
