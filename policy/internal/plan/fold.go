package plan

import (
	"context"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// foldDeadline bounds the evaluation of one rule at load.
const foldDeadline = 100 * time.Millisecond

// foldDataRules evaluates, once, every rule whose value depends on the
// data document only (lib.response_phases, a profile's configuration, a
// default window): data is the program's for good, so the value is the
// same for every decision, and calls to the rule return it instead of
// building it again (a set or object each time, for some). A rule reads
// the input when its body uses the input parameter other than to pass it
// on, or when it calls a rule that does. A rule that fails or runs too
// long at load is left to run per decision, where it fails the same way.
// Folded values are shared: the statements that change a collection copy
// such a value first (Program.consts).
func foldDataRules(p *ir.Policy, prog *Program, byName map[string]int, data ast.Value) {
	if p.Funcs == nil {
		return
	}
	fns := p.Funcs.Funcs
	reads := make([]bool, len(fns)) // the rule reads the input, directly or through a call
	calls := make([][]int, len(fns))
	for i, f := range fns {
		if len(f.Params) != 2 {
			reads[i] = true // a function with arguments: not a rule
			continue
		}
		c := &callFinder{visit: func(call *ir.CallStmt) {
			if j, planned := byName[call.Func]; planned {
				calls[i] = append(calls[i], j)
			}
		}}
		for _, b := range f.Blocks {
			_ = ir.Walk(c, b)
		}
		reads[i] = usesInput(f.Blocks, f.Params[0], byName, false)
	}
	for changed := true; changed; {
		changed = false
		for i := range fns {
			if reads[i] {
				continue
			}
			for _, j := range calls[i] {
				if reads[j] {
					reads[i], changed = true, true
					break
				}
			}
		}
	}
	dataTerm := ast.NewTerm(data)
	for i, fn := range prog.funcs {
		if reads[i] || fn.memo < 0 {
			continue
		}
		v, err := evalRule(prog, fn, dataTerm)
		if err != nil {
			continue
		}
		fn.folded, fn.value = true, v
		if v != nil {
			share(prog, v.Value)
		}
	}
}

// evalRule runs one rule of prog with no input and the program's data.
func evalRule(prog *Program, fn *function, data *ast.Term) (v *ast.Term, err error) {
	m := machines.Get().(*machine)
	m.reset(prog, context.Background(), time.Now().Add(foldDeadline))
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, errFold
			return
		}
		m.release()
	}()
	caller := m.push(2)
	caller[1] = data
	return m.call(fn, caller, []operand{{local: 0}, {local: 1}})
}

var errFold = &ast.Error{Code: "plan", Message: "rule not folded"}

// share registers the collections in v as shared, so the evaluator copies
// them before an insert, append or add changes one.
func share(prog *Program, v ast.Value) {
	if prog.consts == nil {
		prog.consts = map[ast.Value]bool{}
	}
	switch x := v.(type) {
	case ast.Object:
		prog.consts[x] = true
		x.Foreach(func(_, t *ast.Term) { share(prog, t.Value) })
	case *ast.Array:
		prog.consts[x] = true
		x.Foreach(func(t *ast.Term) { share(prog, t.Value) })
	case ast.Set:
		prog.consts[x] = true
		x.Foreach(func(t *ast.Term) { share(prog, t.Value) })
	}
}
