package plan

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// These tests pin the control flow of hand-written plans: the statement
// semantics come from ir's definitions and OPA's Wasm lowering, and the
// policy package's differential tests check the planner's real output
// against topdown.

func l(i int) ir.Operand          { return ir.Operand{Value: ir.Local(i)} }
func str(i int) ir.Operand        { return ir.Operand{Value: ir.StringIndex(i)} }
func blk(ss ...ir.Stmt) *ir.Block { return &ir.Block{Stmts: ss} }
func num(v int64, t int) ir.Stmt  { return &ir.MakeNumberIntStmt{Value: v, Target: ir.Local(t)} }
func result(t int) []ir.Stmt {
	return []ir.Stmt{&ir.MakeObjectStmt{Target: 90}, &ir.ObjectInsertStmt{Key: str(0), Value: l(t), Object: 90}, &ir.ResultSetAddStmt{Value: 90}}
}
func with(ss []ir.Stmt, more ...ir.Stmt) []ir.Stmt {
	return append(append([]ir.Stmt{}, ss...), more...)
}

// policyOf wraps query blocks (input in local 0, data in local 1) and
// functions into a policy whose string 0 is the result key "x".
func policyOf(strs []string, funcs []*ir.Func, blocks ...*ir.Block) *ir.Policy {
	st := &ir.Static{}
	for _, s := range append([]string{"x"}, strs...) {
		st.Strings = append(st.Strings, &ir.StringConst{Value: s})
	}
	return &ir.Policy{Static: st, Plans: &ir.Plans{Plans: []*ir.Plan{{Name: "q", Blocks: blocks}}}, Funcs: &ir.Funcs{Funcs: funcs}}
}

func eval(t *testing.T, p *ir.Policy, input string) (string, error) {
	t.Helper()
	prog, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var in ast.Value
	if input != "" {
		in = ast.MustParseTerm(input).Value
	}
	r, n, err := prog.Eval(context.Background(), time.Time{}, ValueInput(in), ast.NewObject())
	if err != nil || n == 0 {
		return "", err
	}
	v := r.Value.(ast.Object).Get(ast.StringTerm("x"))
	return v.String(), nil
}

func TestControlFlow(t *testing.T) {
	tests := []struct {
		name  string
		p     *ir.Policy
		input string
		want  string
	}{
		{
			name: "undefined dot leaves the block; the next block runs",
			p: policyOf([]string{"a"}, nil,
				blk(with([]ir.Stmt{&ir.DotStmt{Source: l(0), Key: str(1), Target: 2}}, result(2)...)...),
				blk(with([]ir.Stmt{num(7, 2)}, result(2)...)...)),
			input: `{"b": 1}`,
			want:  "7",
		},
		{
			name: "break 1 from a nested block skips the rest of the outer block",
			p: policyOf(nil, nil,
				blk(num(1, 2), &ir.BlockStmt{Blocks: []*ir.Block{blk(&ir.BreakStmt{Index: 1})}}, num(2, 2)),
				blk(with([]ir.Stmt{num(3, 3)}, result(3)...)...)),
			want: "3",
		},
		{
			name: "break 0 leaves only the nested block",
			p: policyOf(nil, nil,
				blk(with([]ir.Stmt{&ir.BlockStmt{Blocks: []*ir.Block{blk(&ir.BreakStmt{Index: 0}, num(9, 2))}}, num(4, 2)}, result(2)...)...)),
			want: "4",
		},
		{
			name: "not succeeds when its block is left early",
			p: policyOf([]string{"missing"}, nil,
				blk(with([]ir.Stmt{&ir.NotStmt{Block: blk(&ir.DotStmt{Source: l(0), Key: str(1), Target: 3})}, num(5, 2)}, result(2)...)...)),
			input: `{}`,
			want:  "5",
		},
		{
			name: "not fails when its block runs to the end",
			p: policyOf(nil, nil,
				blk(with([]ir.Stmt{&ir.NotStmt{Block: blk(num(1, 3))}, num(5, 2)}, result(2)...)...)),
			want: "",
		},
		{
			// Sum the elements after the first 2: break 0 continues with the
			// next element, break 1 leaves the loop.
			name: "scan: break 0 continues, break 1 leaves the loop",
			p: policyOf([]string{"xs"}, nil,
				blk(with([]ir.Stmt{
					&ir.DotStmt{Source: l(0), Key: str(1), Target: 2},
					&ir.MakeArrayStmt{Capacity: 0, Target: 3},
					&ir.ScanStmt{Source: 2, Key: 4, Value: 5, Block: blk(
						num(9, 6),
						&ir.BlockStmt{Blocks: []*ir.Block{blk(&ir.EqualStmt{A: l(5), B: l(6)}, &ir.BreakStmt{Index: 2})}},
						num(2, 6),
						&ir.EqualStmt{A: l(5), B: l(6)},
						&ir.ArrayAppendStmt{Value: l(5), Array: 3},
					)},
				}, result(3)...)...)),
			input: `{"xs": [1, 2, 2, 3, 9, 2, 4]}`,
			want:  "[2, 2]",
		},
		{
			name: "objects scan in sorted key order",
			p: policyOf([]string{"m"}, nil,
				blk(with([]ir.Stmt{
					&ir.DotStmt{Source: l(0), Key: str(1), Target: 2},
					&ir.MakeArrayStmt{Capacity: 0, Target: 3},
					&ir.ScanStmt{Source: 2, Key: 4, Value: 5, Block: blk(&ir.ArrayAppendStmt{Value: l(4), Array: 3})},
				}, result(3)...)...)),
			input: `{"m": {"c": 1, "a": 2, "b": 3}}`,
			want:  `["a", "b", "c"]`,
		},
		{
			name: "a rule function is memoised and undefined when it does not return",
			p: policyOf([]string{"k"}, []*ir.Func{{
				Name: "g0.data.f", Params: []ir.Local{0, 1}, Return: 2,
				Blocks: []*ir.Block{
					blk(&ir.DotStmt{Source: l(0), Key: str(1), Target: 3}, &ir.AssignVarOnceStmt{Source: l(3), Target: 2}),
					blk(&ir.ReturnLocalStmt{Source: 2}),
				},
			}},
				blk(with([]ir.Stmt{
					&ir.CallStmt{Func: "g0.data.f", Args: []ir.Operand{l(0), l(1)}, Result: 2},
					&ir.CallStmt{Func: "g0.data.f", Args: []ir.Operand{l(0), l(1)}, Result: 3},
					&ir.EqualStmt{A: l(2), B: l(3)},
				}, result(2)...)...)),
			input: `{"k": "v"}`,
			want:  `"v"`,
		},
		{
			// OPA plans {"a": 1, "b": 2} as MakeObject, then each value's
			// statements and its insert: one object built at the end.
			name: "object literal: inserts spread over the value statements",
			p: policyOf([]string{"a", "b"}, nil, blk(with([]ir.Stmt{
				&ir.MakeObjectStmt{Target: 5},
				num(1, 6), &ir.ObjectInsertStmt{Key: str(1), Value: l(6), Object: 5},
				num(2, 7), &ir.ObjectInsertStmt{Key: str(2), Value: l(7), Object: 5},
			}, result(5)...)...)),
			want: `{"a": 1, "b": 2}`,
		},
		{
			name: "object literal: a value's local written after its insert",
			p: policyOf([]string{"a", "b"}, nil, blk(with([]ir.Stmt{
				&ir.MakeObjectStmt{Target: 5},
				num(1, 6), &ir.ObjectInsertStmt{Key: str(1), Value: l(6), Object: 5},
				num(9, 6), &ir.ObjectInsertStmt{Key: str(2), Value: l(6), Object: 5},
			}, result(5)...)...)),
			want: `{"a": 1, "b": 9}`,
		},
		{
			name: "object literal: the object read between its inserts",
			p: policyOf([]string{"a", "b"}, nil, blk(with([]ir.Stmt{
				&ir.MakeObjectStmt{Target: 5},
				num(1, 6), &ir.ObjectInsertStmt{Key: str(1), Value: l(6), Object: 5},
				&ir.AssignVarStmt{Source: l(5), Target: 8},
				num(2, 7), &ir.ObjectInsertStmt{Key: str(2), Value: l(7), Object: 5},
			}, result(8)...)...)),
			want: `{"a": 1, "b": 2}`,
		},
		{
			name: "object literal: an undefined value leaves the block",
			p: policyOf([]string{"a", "b", "missing"}, nil,
				blk(with([]ir.Stmt{
					&ir.MakeObjectStmt{Target: 5},
					num(1, 6), &ir.ObjectInsertStmt{Key: str(1), Value: l(6), Object: 5},
					&ir.DotStmt{Source: l(0), Key: str(3), Target: 7},
					&ir.ObjectInsertStmt{Key: str(2), Value: l(7), Object: 5},
				}, result(5)...)...),
				blk(with([]ir.Stmt{num(7, 5)}, result(5)...)...)),
			input: `{}`,
			want:  "7",
		},
		{
			name: "built-ins: inline comparison and OPA's implementation",
			p: policyOf([]string{"abc"}, nil,
				blk(with([]ir.Stmt{
					num(3, 2), num(2, 3),
					&ir.CallStmt{Func: "gt", Args: []ir.Operand{l(2), l(3)}, Result: 4},
					&ir.NotEqualStmt{A: l(4), B: ir.Operand{Value: ir.Bool(false)}},
					&ir.CallStmt{Func: "upper", Args: []ir.Operand{str(1)}, Result: 5},
				}, result(5)...)...)),
			want: `"ABC"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := eval(t, tc.p, tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestConflictIsAnError(t *testing.T) {
	p := policyOf(nil, nil, blk(num(1, 2), num(2, 3), &ir.AssignVarOnceStmt{Source: l(2), Target: 4}, &ir.AssignVarOnceStmt{Source: l(3), Target: 4}))
	_, err := eval(t, p, "")
	var te *topdown.Error
	if !errors.As(err, &te) || te.Code != topdown.ConflictErr {
		t.Fatalf("want a conflict error, got %v", err)
	}
}

func TestCancelStopsALoop(t *testing.T) {
	p := policyOf([]string{"xs"}, nil, blk(
		&ir.DotStmt{Source: l(0), Key: str(1), Target: 2},
		&ir.ScanStmt{Source: 2, Key: 3, Value: 4, Block: blk(&ir.NopStmt{})},
	))
	prog, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	elems := make([]*ast.Term, 1000)
	for i := range elems {
		elems[i] = ast.InternedTerm(i)
	}
	in := ast.NewObject([2]*ast.Term{ast.StringTerm("xs"), ast.ArrayTerm(elems...)})
	past := time.Now().Add(-time.Second)
	if _, _, err := prog.Eval(context.Background(), past, ValueInput(in), ast.NewObject()); !topdown.IsCancel(err) {
		t.Fatalf("past the deadline: want a cancel error, got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := prog.Eval(ctx, time.Time{}, ValueInput(in), ast.NewObject()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: want context.Canceled, got %v", err)
	}
}

func TestCompileRefuses(t *testing.T) {
	tests := []struct {
		name string
		p    *ir.Policy
		want string
	}{
		{"no plan", &ir.Policy{}, "exactly one query plan"},
		{"with", policyOf(nil, nil, blk(&ir.WithStmt{Local: 0, Block: blk()})), "WithStmt"},
		{"dynamic call", policyOf(nil, nil, blk(&ir.CallDynamicStmt{Result: 2})), "CallDynamicStmt"},
		{"unknown built-in", policyOf(nil, nil, blk(&ir.CallStmt{Func: "no.such.builtin", Result: 2})), `"no.such.builtin"`},
		{"context built-in", policyOf(nil, nil, blk(&ir.CallStmt{Func: "time.now_ns", Result: 2})), "time.now_ns"},
		{"string index out of range", policyOf(nil, nil, blk(&ir.DotStmt{Source: l(0), Key: str(5), Target: 2})), "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.p, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error naming %q, got %v", tc.want, err)
			}
			if tc.name != "string index out of range" && !errors.Is(err, ErrUnsupported) {
				t.Errorf("want ErrUnsupported, got %v", err)
			}
		})
	}
}

// TestDataPathsAreResolvedOnce checks the load-time folding of constant
// data paths, present and missing, against evaluating without data.
func TestDataPathsAreResolvedOnce(t *testing.T) {
	data := ast.MustParseTerm(`{"cfg": {"x": {"y": 7}}}`).Value
	for _, path := range [][]string{{"cfg", "x", "y"}, {"cfg", "x", "nope"}, {"nope"}} {
		var stmts []ir.Stmt
		src := 1
		for i := range path {
			stmts = append(stmts, &ir.DotStmt{Source: l(src), Key: str(i + 1), Target: ir.Local(10 + i)})
			src = 10 + i
		}
		p := policyOf(path, nil, blk(with(stmts, result(src)...)...))
		folded, err := Compile(p, data)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := folded.main[0][0].(*dataPathStmt); !ok {
			t.Fatalf("%v: not folded: %T", path, folded.main[0][0])
		}
		plain, err := Compile(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, an, aerr := folded.Eval(context.Background(), time.Time{}, nil, data)
		b, bn, berr := plain.Eval(context.Background(), time.Time{}, nil, data)
		if aerr != nil || berr != nil || an != bn || (an == 1 && !a.Equal(b)) {
			t.Errorf("%v: folded %v (%d, %v), plain %v (%d, %v)", path, a, an, aerr, b, bn, berr)
		}
	}
}

// A call that passes something else as the data document turns folding
// off: the function's data parameter is then not the snapshot's data.
func TestNoFoldingWhenDataIsNotThreaded(t *testing.T) {
	data := ast.MustParseTerm(`{"cfg": 1}`).Value
	fn := &ir.Func{Name: "g0.data.f", Params: []ir.Local{0, 1}, Return: 2, Blocks: []*ir.Block{
		blk(&ir.DotStmt{Source: l(1), Key: str(1), Target: 3}, &ir.AssignVarOnceStmt{Source: l(3), Target: 2}),
		blk(&ir.ReturnLocalStmt{Source: 2}),
	}}
	p := policyOf([]string{"cfg"}, []*ir.Func{fn}, blk(with([]ir.Stmt{
		&ir.MakeObjectStmt{Target: 5},
		&ir.CallStmt{Func: "g0.data.f", Args: []ir.Operand{l(0), l(5)}, Result: 2},
	}, result(2)...)...))
	prog, err := Compile(p, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, n, err := prog.Eval(context.Background(), time.Time{}, nil, data); err != nil || n != 0 {
		t.Fatalf("f reads cfg from the empty object it was given: want undefined, got n=%d err=%v", n, err)
	}
}

// A query of one variable gives its values bare through EvalValue and
// wrapped in result objects through Eval; other queries only through Eval.
func TestEvalValue(t *testing.T) {
	one := policyOf(nil, nil, blk(with([]ir.Stmt{num(4, 2)}, result(2)...)...))
	two := policyOf([]string{"y"}, nil, blk(
		num(4, 2),
		&ir.MakeObjectStmt{Target: 90},
		&ir.ObjectInsertStmt{Key: str(0), Value: l(2), Object: 90},
		&ir.ObjectInsertStmt{Key: str(1), Value: l(2), Object: 90},
		&ir.ResultSetAddStmt{Value: 90},
	))
	reread := policyOf(nil, nil, blk(
		num(4, 2),
		&ir.MakeObjectStmt{Target: 90},
		&ir.ObjectInsertStmt{Key: str(0), Value: l(2), Object: 90},
		&ir.ResultSetAddStmt{Value: 90},
		&ir.IsObjectStmt{Source: l(90)},
	))
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		p         *ir.Policy
		eval      string
		evalValue string // "error": EvalValue fails
	}{
		{"one variable", one, `{"x": 4}`, `4`},
		{"two variables", two, `{"x": 4, "y": 4}`, "error"},
		// The result object's local is read again, so it keeps holding the
		// object: EvalValue unwraps the result itself.
		{"result local read again", reread, `{"x": 4}`, `4`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := Compile(tc.p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if unwrapped := prog.resultKey != nil; unwrapped != (tc.name == "one variable") {
				t.Errorf("results unwrapped: %v", unwrapped)
			}
			r, n, err := prog.Eval(ctx, time.Time{}, nil, ast.NewObject())
			if err != nil || n != 1 || r.String() != tc.eval {
				t.Errorf("Eval: %v, %d, %v; want %s", r, n, err, tc.eval)
			}
			v, n, err := prog.EvalValue(ctx, time.Time{}, nil, ast.NewObject())
			switch {
			case tc.evalValue == "error":
				if err == nil {
					t.Errorf("EvalValue: %v, want an error", v)
				}
			case err != nil || n != 1 || v.String() != tc.evalValue:
				t.Errorf("EvalValue: %v, %d, %v; want %s", v, n, err, tc.evalValue)
			}
		})
	}
}

// A literal of constants is built once at load and shared; a later insert
// or append must change this evaluation's copy, never the shared value.
func TestConstantLiteralsAreCopiedOnWrite(t *testing.T) {
	p := policyOf([]string{"a", "b"}, nil, blk(with([]ir.Stmt{
		&ir.MakeObjectStmt{Target: 5},
		&ir.ObjectInsertStmt{Key: str(1), Value: str(2), Object: 5},
		&ir.AssignVarStmt{Source: l(5), Target: 8}, // ends the literal
		num(1, 6),
		&ir.ObjectInsertStmt{Key: str(2), Value: l(6), Object: 5},
		&ir.MakeArrayStmt{Capacity: 1, Target: 9},
		&ir.ArrayAppendStmt{Value: str(1), Array: 9},
		&ir.ArrayAppendStmt{Value: l(6), Array: 9}, // not a constant: no fold
		&ir.MakeArrayStmt{Capacity: 1, Target: 10},
		&ir.ArrayAppendStmt{Value: str(1), Array: 10},
		&ir.AssignVarStmt{Source: l(10), Target: 11}, // ends the literal
		&ir.ArrayAppendStmt{Value: l(6), Array: 10},
		&ir.MakeArrayStmt{Capacity: 3, Target: 12},
		&ir.ArrayAppendStmt{Value: l(8), Array: 12},
		&ir.ArrayAppendStmt{Value: l(9), Array: 12},
		&ir.ArrayAppendStmt{Value: l(11), Array: 12},
	}, result(12)...)...))
	prog, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog.consts) != 2 {
		t.Errorf("%d constant literals, want 2", len(prog.consts))
	}
	const want = `{"x": [{"a": "b", "b": 1}, ["a", 1], ["a", 1]]}`
	for i := range 3 {
		r, _, err := prog.Eval(context.Background(), time.Time{}, nil, ast.NewObject())
		if err != nil || r.String() != want {
			t.Fatalf("evaluation %d: %v, %v; want %s", i, r, err, want)
		}
	}
	for v := range prog.consts {
		if s := v.String(); s != `{"a": "b"}` && s != `["a"]` {
			t.Errorf("a shared constant was changed: %s", s)
		}
	}
}

// Rules of data alone are evaluated once at load; rules that read the
// input, directly or through another rule, or that fail, are not.
func TestDataRulesFolded(t *testing.T) {
	rule := func(name string, ss ...ir.Stmt) *ir.Func {
		return &ir.Func{Name: name, Params: []ir.Local{0, 1}, Return: 2, Blocks: []*ir.Block{
			blk(ss...), blk(&ir.ReturnLocalStmt{Source: 2}),
		}}
	}
	call := func(fn string, dst int) ir.Stmt {
		return &ir.CallStmt{Func: fn, Args: []ir.Operand{l(0), l(1)}, Result: ir.Local(dst)}
	}
	funcs := []*ir.Func{
		rule("g0.data.d", &ir.DotStmt{Source: l(1), Key: str(1), Target: 3}, &ir.AssignVarOnceStmt{Source: l(3), Target: 2}),
		rule("g0.data.i", &ir.DotStmt{Source: l(0), Key: str(1), Target: 3}, &ir.AssignVarOnceStmt{Source: l(3), Target: 2}),
		rule("g0.data.c", call("g0.data.i", 3), &ir.AssignVarOnceStmt{Source: l(3), Target: 2}),
		rule("g0.data.e", num(1, 3), num(2, 4), &ir.AssignVarOnceStmt{Source: l(3), Target: 2}, &ir.AssignVarOnceStmt{Source: l(4), Target: 2}),
		rule("g0.data.u", &ir.DotStmt{Source: l(1), Key: str(2), Target: 3}, &ir.AssignVarOnceStmt{Source: l(3), Target: 2}),
	}
	p := policyOf([]string{"k", "missing"}, funcs, blk(with([]ir.Stmt{
		call("g0.data.d", 2), call("g0.data.i", 3), call("g0.data.c", 4),
		&ir.MakeArrayStmt{Capacity: 3, Target: 5},
		&ir.ArrayAppendStmt{Value: l(2), Array: 5},
		&ir.ArrayAppendStmt{Value: l(3), Array: 5},
		&ir.ArrayAppendStmt{Value: l(4), Array: 5},
	}, result(5)...)...))
	data := ast.MustParseTerm(`{"k": {"from": "data"}}`).Value
	prog, err := Compile(p, data)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, false, false, true} {
		if prog.funcs[i].folded != want {
			t.Errorf("%s folded = %v, want %v", funcs[i].Name, prog.funcs[i].folded, want)
		}
	}
	if prog.funcs[4].value != nil {
		t.Errorf("an undefined rule folds to %v", prog.funcs[4].value)
	}
	for _, in := range []string{`{"k": 1}`, `{"k": 2}`} {
		r, _, err := prog.Eval(context.Background(), time.Time{}, ValueInput(ast.MustParseTerm(in).Value), data)
		want := `{"x": [{"from": "data"}, ` + in[6:7] + `, ` + in[6:7] + `]}`
		if err != nil || r.String() != want {
			t.Errorf("input %s: %v, %v; want %s", in, r, err, want)
		}
	}
}

// Object and array literals of scalar values are interned: an evaluation
// with the same values gets the same value, and a statement that changes
// one in place changes a copy, never the shared value.
func TestScalarObjectLiteralsAreInterned(t *testing.T) {
	p := policyOf([]string{"a", "b"}, nil, blk(with([]ir.Stmt{
		&ir.DotStmt{Source: l(0), Key: str(1), Target: 6},
		&ir.MakeObjectStmt{Target: 5},
		&ir.ObjectInsertStmt{Key: str(1), Value: l(6), Object: 5},
		&ir.AssignVarStmt{Source: l(5), Target: 8}, // ends the literal
		&ir.ObjectInsertStmt{Key: str(2), Value: l(6), Object: 5},
		&ir.MakeObjectStmt{Target: 7},
		&ir.ObjectInsertStmt{Key: str(1), Value: l(6), Object: 7},
		&ir.AssignVarStmt{Source: l(7), Target: 9},
		&ir.MakeArrayStmt{Capacity: 1, Target: 13},
		&ir.ArrayAppendStmt{Value: l(6), Array: 13},
		&ir.AssignVarStmt{Source: l(13), Target: 14}, // ends the literal
		&ir.ArrayAppendStmt{Value: l(6), Array: 13},
		&ir.MakeArrayStmt{Capacity: 3, Target: 12},
		&ir.ArrayAppendStmt{Value: l(8), Array: 12},
		&ir.ArrayAppendStmt{Value: l(9), Array: 12},
		&ir.ArrayAppendStmt{Value: l(14), Array: 12},
	}, result(12)...)...))
	prog, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var caches []*internCache
	for _, b := range prog.main {
		for _, s := range b {
			switch lit := s.(type) {
			case *objectLiteral:
				caches = append(caches, lit.intern)
			case *arrayLiteral:
				caches = append(caches, lit.intern)
			}
		}
	}
	if len(caches) < 3 {
		t.Fatalf("%d literals compiled, want at least 3", len(caches))
	}
	var last ast.Value
	for i, a := range []string{"v", "w", "v", "v"} {
		r, _, err := prog.EvalValue(context.Background(), time.Time{}, ValueInput(ast.MustParseTerm(`{"a": "`+a+`"}`).Value), ast.NewObject())
		want := `[{"a": "` + a + `", "b": "` + a + `"}, {"a": "` + a + `"}, ["` + a + `", "` + a + `"]]`
		if err != nil || r.String() != want {
			t.Fatalf("evaluation %d: %v, %v; want %s", i, r, err, want)
		}
		second := r.Value.(*ast.Array).Elem(1).Value
		if i == 3 && second != last {
			t.Error("the same values built a second object: not interned")
		}
		last = second
	}
	for _, c := range caches {
		tab := c.table.Load()
		if tab == nil {
			continue
		}
		for _, e := range tab.entries {
			switch s := e.val.String(); s {
			case `{"a": "v"}`, `{"a": "w"}`, `["v"]`, `["w"]`, `[{"a": "v"}]`, `[{"a": "w"}]`:
			default:
				t.Errorf("an interned value was changed: %s", s)
			}
		}
	}
}

// The table of an object literal stops growing at maxInterned; values
// beyond it still build correct objects.
func TestInternTableIsBounded(t *testing.T) {
	p := policyOf([]string{"a"}, nil, blk(with([]ir.Stmt{
		&ir.DotStmt{Source: l(0), Key: str(1), Target: 6},
		&ir.MakeObjectStmt{Target: 5},
		&ir.ObjectInsertStmt{Key: str(1), Value: l(6), Object: 5},
	}, result(5)...)...))
	prog, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * maxInterned {
		in := ast.NewObject([2]*ast.Term{ast.StringTerm("a"), ast.IntNumberTerm(i)})
		r, _, err := prog.EvalValue(context.Background(), time.Time{}, ValueInput(in), ast.NewObject())
		if err != nil || r.Value.Compare(in) != 0 {
			t.Fatalf("evaluation %d: %v, %v; want %v", i, r, err, in)
		}
	}
	for _, b := range prog.main {
		for _, s := range b {
			if lit, ok := s.(*objectLiteral); ok {
				if tab := lit.intern.table.Load(); tab != nil && len(tab.entries) > maxInterned {
					t.Errorf("%d interned objects, limit %d", len(tab.entries), maxInterned)
				}
			}
		}
	}
}

// A hash match is not enough: an interned entry is used only for exactly
// the values it was built from.
func TestInternEntryMatchesValues(t *testing.T) {
	s, n1, n10, tr, null := ast.String("1"), ast.Number("1"), ast.Number("1.0"), ast.Boolean(true), ast.Null{}
	e := internEntry{vals: []ast.Value{s, n1, tr, null}}
	ops := func(vs ...ast.Value) ([]*ast.Term, []operand) {
		fr := make([]*ast.Term, len(vs))
		o := make([]operand, len(vs))
		for i, v := range vs {
			fr[i], o[i] = ast.NewTerm(v), operand{local: int32(i)}
		}
		return fr, o
	}
	for _, tc := range []struct {
		vals []ast.Value
		want bool
	}{
		{[]ast.Value{s, n1, tr, null}, true},
		{[]ast.Value{n1, n1, tr, null}, false}, // "1" is not 1
		{[]ast.Value{s, n10, tr, null}, false}, // another representation: another entry
		{[]ast.Value{s, n1, ast.Boolean(false), null}, false},
		{[]ast.Value{s, n1, tr, ast.String("")}, false},
	} {
		fr, o := ops(tc.vals...)
		if got := e.sameScalars(fr, o); got != tc.want {
			t.Errorf("%v: same = %v, want %v", tc.vals, got, tc.want)
		}
	}
}
