package plan

import (
	"maps"
	"reflect"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// Input is the input document of one evaluation, read by path. A policy
// reads a few values of the document (the phase, some detector results,
// the identity's app), so the caller builds a value when the plan first
// reads it instead of building the whole document up front: most of a
// decision's input cost is otherwise spent on objects no rule reads whole.
type Input interface {
	// Lookup is the value at path, a constant key path from the
	// document's top: nil when the document has no such value. For a
	// path of one key ok must be true; for longer ones ok false means
	// "walk from the parent path", for paths the caller does not build
	// on their own.
	Lookup(path []string) (t *ast.Term, ok bool)
	// Value is the whole document; nil when the input is undefined. The
	// evaluator asks for it only when the plan uses the document as a
	// value (passes it to a built-in, iterates over it, ...).
	Value() ast.Value
}

// ValueInput adapts a built document to Input; nil stays undefined.
func ValueInput(v ast.Value) Input {
	if v == nil {
		return nil
	}
	return valueInput{v}
}

type valueInput struct{ v ast.Value }

func (i valueInput) Lookup(path []string) (*ast.Term, bool) {
	if len(path) != 1 {
		return nil, false
	}
	return get(i.v, ast.StringTerm(path[0])), true
}

func (i valueInput) Value() ast.Value { return i.v }

// inputSlot is one constant path into the input document that the plan
// reads (input.detectors.phi.by_type and each of its prefixes): resolved
// once per evaluation, on first read, and shared by every rule.
type inputSlot struct {
	parent int32 // the slot of the path without its last key; -1 at the top
	key    *ast.Term
	path   []string
}

type slotKey struct {
	parent int32
	name   string
}

// inputPathStmt is a run of DotStmts down a constant path from the input
// parameter: each prefix is read from its slot. Like the run it replaces,
// it leaves the block at the first prefix the document does not have.
// A prefix whose local nothing else reads is not resolved (dst -1): the
// last value is defined only if every prefix is.
type inputPathStmt struct {
	slots []int32
	dsts  []int32
}

// inputPath folds a run of DotStmts with constant keys that starts at the
// current function's input parameter (see dataPath for data).
func (c *compiler) inputPath(ss []ir.Stmt) (stmt, int) {
	if c.inputLocal < 0 {
		return nil, 0
	}
	n := inputRun(ss, c.inputLocal, len(c.strings))
	if n == 0 {
		return nil, 0
	}
	st := &inputPathStmt{}
	parent := int32(-1)
	for i, s := range ss[:n] {
		dot := s.(*ir.DotStmt)
		parent = c.slot(parent, dot.Key.Value.(ir.StringIndex))
		st.slots = append(st.slots, parent)
		dst := c.local(dot.Target)
		// A prefix nothing else reads is dead after the run.
		if i < n-1 && !c.exposed[dot.Target] {
			dst = -1
		}
		st.dsts = append(st.dsts, dst)
	}
	return st, n
}

// inputRun is the length of the run of DotStmts with constant keys at the
// start of ss that walks down from the input local.
func inputRun(ss []ir.Stmt, input ir.Local, nstrings int) int {
	src := input
	n := 0
	for ; n < len(ss); n++ {
		dot, ok := ss[n].(*ir.DotStmt)
		if !ok {
			break
		}
		if from, ok := dot.Source.Value.(ir.Local); !ok || from != src {
			break
		}
		if idx, ok := dot.Key.Value.(ir.StringIndex); !ok || int(idx) < 0 || int(idx) >= nstrings {
			break
		}
		src = dot.Target
	}
	return n
}

func (c *compiler) slot(parent int32, idx ir.StringIndex) int32 {
	k := slotKey{parent, c.policy.Static.Strings[idx].Value}
	if id, ok := c.slotIDs[k]; ok {
		return id
	}
	var path []string
	if parent >= 0 {
		path = append(path, c.prog.inputSlots[parent].path...)
	}
	path = append(path, k.name)
	id := int32(len(c.prog.inputSlots))
	c.prog.inputSlots = append(c.prog.inputSlots, inputSlot{parent: parent, key: c.strings[idx], path: path})
	c.slotIDs[k] = id
	return id
}

// inputSlot resolves slot i for this evaluation.
func (m *machine) inputSlot(i int32) *ast.Term {
	if v := m.slots[i]; v != nil {
		if v == absent {
			return nil
		}
		return v
	}
	sl := &m.prog.inputSlots[i]
	var v *ast.Term
	if m.input != nil {
		var ok bool
		if v, ok = m.input.Lookup(sl.path); !ok && sl.parent >= 0 {
			if p := m.inputSlot(sl.parent); p != nil {
				v = get(p.Value, sl.key)
			}
		}
	}
	if v == nil {
		m.slots[i] = absent
	} else {
		m.slots[i] = v
	}
	return v
}

// absent marks a slot resolved to nothing.
var absent = ast.NullTerm()

// exposedPrefixes finds the locals in which an input run leaves a value
// that another statement may read: a run's prefix (every dot's target but
// the last) need not be resolved when nothing reads it outside the run.
//
// It is a forward pass over the function's statements with the set of
// locals whose current value may be a run's prefix ("uncovered"): a
// prefix write adds its local, any other write removes it, and a read of
// an uncovered local (other than by the run's next dot) exposes it. A
// nested block starts from its parent's set and gives back every local
// uncovered anywhere in it (it may break out from any point, and its
// writes are conditional); a scan's body runs again from its own end.
func exposedPrefixes(bs []*ir.Block, input ir.Local, nstrings int) map[ir.Local]bool {
	a := &prefixAnalysis{input: input, nstrings: nstrings, exposed: map[ir.Local]bool{}}
	unc := map[ir.Local]bool{}
	for _, b := range bs {
		for l := range a.block(b, unc) {
			unc[l] = true
		}
	}
	return a.exposed
}

type prefixAnalysis struct {
	input    ir.Local
	nstrings int
	exposed  map[ir.Local]bool
}

// block analyses b entered with the uncovered set in; it returns every
// local uncovered at any point of b (including those of in).
func (a *prefixAnalysis) block(b *ir.Block, in map[ir.Local]bool) map[ir.Local]bool {
	unc := maps.Clone(in)
	ever := maps.Clone(in)
	for i := 0; i < len(b.Stmts); i++ {
		if n := inputRun(b.Stmts[i:], a.input, a.nstrings); n > 0 {
			for k, s := range b.Stmts[i : i+n] {
				t := s.(*ir.DotStmt).Target
				if k < n-1 {
					unc[t], ever[t] = true, true
				} else {
					delete(unc, t)
				}
			}
			i += n - 1
			continue
		}
		s := b.Stmts[i]
		for _, r := range reads(s) {
			if unc[r] {
				a.exposed[r] = true
			}
		}
		var nested map[ir.Local]bool
		switch s := s.(type) {
		case *ir.BlockStmt:
			nested = maps.Clone(unc)
			for _, sub := range s.Blocks {
				maps.Copy(nested, a.block(sub, nested))
			}
		case *ir.NotStmt:
			nested = a.block(s.Block, unc)
		case *ir.WithStmt:
			nested = a.block(s.Block, unc)
		case *ir.ScanStmt:
			start := maps.Clone(unc)
			delete(start, s.Key)
			delete(start, s.Value)
			for {
				nested = a.block(s.Block, start)
				if len(nested) == len(start) { // nested ⊇ start: a fixpoint
					break
				}
				start = nested
			}
		}
		for l := range nested {
			unc[l], ever[l] = true, true
		}
		pure, _ := targets(s)
		for _, w := range pure {
			delete(unc, w)
		}
	}
	maps.Copy(ever, unc)
	return ever
}

// reads are the locals a statement reads in its own fields (not in nested
// blocks): every local it mentions, less one mention for each it sets
// without reading (targets' pure writes) and for a scan's key and value.
func reads(s ir.Stmt) []ir.Local {
	var out []ir.Local
	eachLocalOf(s, func(l ir.Local) { out = append(out, l) })
	set, _ := targets(s)
	if sc, ok := s.(*ir.ScanStmt); ok {
		set = []ir.Local{sc.Key, sc.Value}
	}
	for _, w := range set {
		if i := slices.Index(out, w); i >= 0 {
			out = slices.Delete(out, i, i+1)
		}
	}
	return out
}

// inputFolding reports whether input paths can be read from slots: every
// function keeps its first parameter (the input document) unchanged and
// every call passes the caller's input on, as OPA's planner does. It also
// reports whether the plan uses the document other than through constant
// paths, in which case the evaluation needs the whole of it.
func inputFolding(p *ir.Policy, funcs map[string]int) (fold, whole bool) {
	var bodies []struct {
		blocks []*ir.Block
		input  ir.Local
	}
	bodies = append(bodies, struct {
		blocks []*ir.Block
		input  ir.Local
	}{p.Plans.Plans[0].Blocks, 0})
	if p.Funcs != nil {
		for _, f := range p.Funcs.Funcs {
			if len(f.Params) < 2 {
				return false, true
			}
			bodies = append(bodies, struct {
				blocks []*ir.Block
				input  ir.Local
			}{f.Blocks, f.Params[0]})
		}
	}
	if !threaded(p, funcs, 0) {
		return false, true
	}
	whole = false
	for _, b := range bodies {
		if writes(b.blocks, b.input) {
			return false, true
		}
		whole = whole || usesInput(b.blocks, b.input, funcs, true)
	}
	return true, whole
}

// usesInput reports whether bs use the input local other than to pass it
// on as a plan function's input argument, or, with paths, to read a
// constant path from it (which inputPath folds).
func usesInput(bs []*ir.Block, input ir.Local, funcs map[string]int, paths bool) bool {
	u := &inputUses{input: input, funcs: funcs, paths: paths}
	for _, b := range bs {
		_ = ir.Walk(u, b)
	}
	return u.found
}

type inputUses struct {
	input ir.Local
	funcs map[string]int
	paths bool
	found bool
}

func (*inputUses) Before(any) {}
func (*inputUses) After(any)  {}
func (u *inputUses) Visit(x any) (ir.Visitor, error) {
	switch s := x.(type) {
	case *ir.DotStmt:
		if _, ok := s.Key.Value.(ir.StringIndex); u.paths && ok && s.Source.Value == ir.Local(u.input) && s.Target != u.input {
			return u, nil
		}
	case *ir.CallStmt:
		if _, planned := u.funcs[s.Func]; planned && len(s.Args) > 0 && s.Args[0].Value == ir.Local(u.input) {
			for _, a := range s.Args[1:] {
				u.found = u.found || a.Value == ir.Local(u.input)
			}
			return u, nil
		}
	}
	if stmt, ok := x.(ir.Stmt); ok && mentions(stmt, u.input) {
		u.found = true
	}
	return u, nil
}

// mentions reports whether a statement has local l in any of its own
// fields (not in nested blocks, which the walk visits itself).
func mentions(s ir.Stmt, l ir.Local) bool {
	found := false
	eachLocalOf(s, func(x ir.Local) { found = found || x == l })
	return found
}

// eachLocalOf calls f for every local in a statement's own fields.
func eachLocalOf(s ir.Stmt, f func(ir.Local)) {
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		if v.Type().Field(i).IsExported() {
			eachField(v.Field(i), f)
		}
	}
}

// eachField calls f for every local in one statement field: statement
// fields are locals, operands, and lists of either.
func eachField(v reflect.Value, f func(ir.Local)) {
	switch x := v.Interface().(type) {
	case ir.Local:
		f(x)
	case ir.Operand:
		if l, ok := x.Value.(ir.Local); ok {
			f(l)
		}
	case []ir.Operand:
		for _, o := range x {
			if l, ok := o.Value.(ir.Local); ok {
				f(l)
			}
		}
	case []ir.Local:
		for _, l := range x {
			f(l)
		}
	}
}
