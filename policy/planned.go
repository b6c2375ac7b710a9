package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"

	"github.com/wardhq/ward/policy/internal/plan"
)

// Evaluators (Options.Evaluator).
const (
	// EvaluatorPlan evaluates OPA's query plan (policy/internal/plan),
	// falling back to topdown per entrypoint when the plan needs
	// something the plan evaluator does not run.
	EvaluatorPlan = "plan"
	// EvaluatorTopdown is OPA's reference tree-walking evaluator.
	EvaluatorTopdown = "topdown"
)

// prepared is one entrypoint of a snapshot: OPA's prepared query (always:
// topdown is the reference, and the path for tracing) and, when planning
// succeeded, the compiled plan.
type prepared struct {
	pq      *rego.PreparedEvalQuery
	prog    *plan.Program
	planErr error // why prog is nil, for the log
}

// planTarget is the rego target under which OPA hands Ward its plan: the
// documented extension point for alternative evaluators (rego.TargetPlugin).
const planTarget = "ward-plan"

func init() { rego.RegisterPlugin(planTarget, planCapture{}) }

type planKey struct{}

// planCapture receives the plan OPA's planner made for a query and stores
// it where the caller's context says; it never evaluates.
type planCapture struct{}

func (planCapture) IsTarget(t string) bool { return t == planTarget }

func (planCapture) PrepareForEval(ctx context.Context, p *ir.Policy, _ ...rego.PrepareOption) (rego.TargetPluginEval, error) {
	dst, ok := ctx.Value(planKey{}).(**ir.Policy)
	if !ok {
		return nil, errors.New("policy: the plan target is only for Ward's engine")
	}
	*dst = p
	return planCapture{}, nil
}

func (planCapture) Eval(context.Context, *rego.EvalContext, ast.Value) (ast.Value, error) {
	return nil, errors.New("policy: the plan target does not evaluate")
}

// planCompiler compiles the modules again in IR mode (OPA compiles
// slightly differently for its planner), once per snapshot, so the topdown
// compiler is not touched and every entrypoint is planned from the same one.
func planCompiler(modules map[string]*ast.Module) (*ast.Compiler, error) {
	c := ast.NewCompiler().WithCapabilities(Capabilities()).WithEvalMode(ast.EvalModeIR)
	c.Compile(modules)
	if c.Failed() {
		return nil, fmt.Errorf("plan: %w", c.Errors)
	}
	return c, nil
}

// planQuery plans entrypoint ep with OPA's planner and compiles the plan.
func planQuery(ctx context.Context, c *ast.Compiler, store storage.Store, data ast.Value, ep string) (*plan.Program, error) {
	var p *ir.Policy
	_, err := rego.New(
		rego.Query(ep),
		rego.Compiler(c),
		rego.Store(store),
		rego.Target(planTarget),
	).PrepareForEval(context.WithValue(ctx, planKey{}, &p))
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", ep, err)
	}
	prog, err := plan.Compile(p, data)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", ep, err)
	}
	return prog, nil
}

// evalPlan evaluates the compiled plan and returns the entrypoint's value
// (if n == 1) and the number of results.
func evalPlan(ctx context.Context, snap *snapshot, p *prepared, deadline time.Time, input plan.Input) (*ast.Term, int, error) {
	t, n, err := p.prog.EvalValue(ctx, deadline, input, snap.data.root)
	if err != nil || n != 1 {
		return nil, n, err
	}
	return t, 1, nil
}

// entrypointStatus lists the prepared entrypoints, sorted.
func (s *snapshot) entrypointStatus() []EntrypointStatus {
	var out []EntrypointStatus
	s.queries.Range(func(k, v any) bool {
		p := v.(*prepared)
		st := EntrypointStatus{Entrypoint: k.(string), Evaluator: EvaluatorPlan}
		if p.prog == nil {
			st.Evaluator = EvaluatorTopdown
			if p.planErr != nil {
				st.Reason = p.planErr.Error()
			}
		}
		out = append(out, st)
		return true
	})
	slices.SortFunc(out, func(a, b EntrypointStatus) int { return strings.Compare(a.Entrypoint, b.Entrypoint) })
	return out
}
