package plan

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// recordingInput answers every path directly (as a caller that builds
// deep values on their own would) and records what the evaluator asked.
type recordingInput struct {
	doc   ast.Value
	asked []string
	whole int
}

func (r *recordingInput) Lookup(path []string) (*ast.Term, bool) {
	r.asked = append(r.asked, strings.Join(path, "."))
	var t *ast.Term
	v := r.doc
	for _, k := range path {
		if t = get(v, ast.StringTerm(k)); t == nil {
			return nil, true
		}
		v = t.Value
	}
	return t, true
}

func (r *recordingInput) Value() ast.Value { r.whole++; return r.doc }

// Input paths are read through per-evaluation slots and a prefix of a
// path is resolved only when something other than the path's next dot
// may read it. Each case runs with a caller that answers deep paths
// itself (recordingInput) and with one that only answers top-level keys
// (ValueInput, so the evaluator walks); both must give the same result.
func TestInputPaths(t *testing.T) {
	dot := func(src, key, dst int) ir.Stmt {
		return &ir.DotStmt{Source: l(src), Key: str(key), Target: ir.Local(dst)}
	}
	tests := []struct {
		name   string
		p      *ir.Policy
		input  string
		want   string
		asked  []string // paths looked up, in order
		whole  bool     // the plan needed the whole document
		folded bool     // the plan has input paths read through slots
	}{
		{
			name:   "a dead prefix is not resolved",
			p:      policyOf([]string{"a", "b"}, nil, blk(with([]ir.Stmt{dot(0, 1, 2), dot(2, 2, 3)}, result(3)...)...)),
			input:  `{"a": {"b": 1}}`,
			want:   "1",
			asked:  []string{"a.b"},
			folded: true,
		},
		{
			name: "a prefix read after its run is resolved",
			p: policyOf([]string{"a", "b"}, nil, blk(with([]ir.Stmt{
				dot(0, 1, 2), dot(2, 2, 3), &ir.AssignVarStmt{Source: l(2), Target: 4},
			}, result(4)...)...)),
			input:  `{"a": {"b": 1}}`,
			want:   `{"b": 1}`,
			asked:  []string{"a", "a.b"},
			folded: true,
		},
		{
			name: "an absent prefix leaves the block",
			p: policyOf([]string{"a", "b"}, nil,
				blk(with([]ir.Stmt{dot(0, 1, 2), dot(2, 2, 3)}, result(3)...)...),
				blk(with([]ir.Stmt{num(7, 3)}, result(3)...)...)),
			input:  `{"c": 1}`,
			want:   "7",
			asked:  []string{"a.b"},
			folded: true,
		},
		{
			// In the second iteration the scan body reads local 2 before
			// the run writes it: it sees the first iteration's prefix.
			name: "a prefix read by the next iteration of a scan is resolved",
			p: policyOf([]string{"a", "b", "xs"}, nil, blk(with([]ir.Stmt{
				dot(0, 3, 5),
				&ir.ScanStmt{Source: 5, Key: 6, Value: 7, Block: blk(
					&ir.AssignVarStmt{Source: l(2), Target: 8},
					dot(0, 1, 2), dot(2, 2, 3),
				)},
			}, result(8)...)...)),
			input:  `{"a": {"b": 1}, "xs": [1, 2]}`,
			want:   `{"b": 1}`,
			asked:  []string{"xs", "a", "a.b"},
			folded: true,
		},
		{
			// Inside a nested block the prefix may be left behind by a
			// break, so a read after the block sees it.
			name: "a prefix written in a nested block and read after it is resolved",
			p: policyOf([]string{"a", "b"}, nil, blk(with([]ir.Stmt{
				&ir.BlockStmt{Blocks: []*ir.Block{blk(dot(0, 1, 2), dot(2, 2, 3))}},
				&ir.AssignVarStmt{Source: l(2), Target: 4},
			}, result(4)...)...)),
			input:  `{"a": {"b": 1}}`,
			want:   `{"b": 1}`,
			asked:  []string{"a", "a.b"},
			folded: true,
		},
		{
			name: "a prefix overwritten before any read is not resolved",
			p: policyOf([]string{"a", "b"}, nil, blk(with([]ir.Stmt{
				dot(0, 1, 2), dot(2, 2, 3), num(5, 2), &ir.AssignVarStmt{Source: l(2), Target: 4},
			}, result(4)...)...)),
			input:  `{"a": {"b": 1}}`,
			want:   "5",
			asked:  []string{"a.b"},
			folded: true,
		},
		{
			name: "the document used as a value is built whole",
			p: policyOf(nil, nil, blk(with([]ir.Stmt{
				&ir.CallStmt{Func: "count", Args: []ir.Operand{l(0)}, Result: 2},
			}, result(2)...)...)),
			input: `{"a": 1, "b": 2}`,
			want:  "2",
			whole: true,
		},
		{
			// f reads its own first parameter; the caller passes an
			// object of its own, not the input, so nothing is folded.
			name: "no folding when a call passes something else as input",
			p: policyOf([]string{"a"}, []*ir.Func{{
				Name: "g0.data.f", Params: []ir.Local{0, 1}, Return: 2,
				Blocks: []*ir.Block{
					blk(dot(0, 1, 3), &ir.AssignVarOnceStmt{Source: l(3), Target: 2}),
					blk(&ir.ReturnLocalStmt{Source: 2}),
				},
			}}, blk(with([]ir.Stmt{
				&ir.MakeObjectStmt{Target: 5},
				&ir.ObjectInsertStmt{Key: str(1), Value: ir.Operand{Value: ir.Bool(true)}, Object: 5},
				&ir.CallStmt{Func: "g0.data.f", Args: []ir.Operand{l(5), l(1)}, Result: 6},
			}, result(6)...)...)),
			input: `{"a": 1}`,
			want:  "true",
			whole: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := Compile(tc.p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if folded := len(prog.inputSlots) > 0; folded != tc.folded || prog.wholeInput != tc.whole {
				t.Errorf("folded %v, whole %v; want %v, %v", folded, prog.wholeInput, tc.folded, tc.whole)
			}
			doc := ast.MustParseTerm(tc.input).Value
			rec := &recordingInput{doc: doc}
			for _, in := range []Input{rec, ValueInput(doc)} {
				r, n, err := prog.Eval(context.Background(), time.Time{}, in, ast.NewObject())
				if err != nil || n != 1 {
					t.Fatalf("%T: %d results, %v", in, n, err)
				}
				if got := r.Value.(ast.Object).Get(ast.StringTerm("x")).String(); got != tc.want {
					t.Errorf("%T: got %s, want %s", in, got, tc.want)
				}
			}
			if !slices.Equal(rec.asked, tc.asked) {
				t.Errorf("looked up %q, want %q", rec.asked, tc.asked)
			}
			if (rec.whole > 0) != tc.whole {
				t.Errorf("whole document built %d times, want %v", rec.whole, tc.whole)
			}
		})
	}
}
