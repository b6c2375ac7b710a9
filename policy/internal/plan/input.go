package plan

import (
	"reflect"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// Input is the input document of one evaluation, read by top-level key.
// A policy reads a few of the document's parts (the phase, some detector
// results, the identity), so the caller builds a part when the plan first
// reads it instead of building the whole document up front: most of a
// decision's input cost is otherwise spent on parts no rule reads.
type Input interface {
	// Top is the value of the document's top-level key name; nil when
	// the document has no such key (or is not an object).
	Top(name string) *ast.Term
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

func (i valueInput) Top(name string) *ast.Term { return get(i.v, ast.StringTerm(name)) }
func (i valueInput) Value() ast.Value          { return i.v }

// inputSlot is one constant path into the input document that the plan
// reads (input.detectors.phi.by_type and each of its prefixes): resolved
// once per evaluation, on first read, and shared by every rule.
type inputSlot struct {
	parent int32 // the slot of the path without its last key; -1 at the top
	key    *ast.Term
	name   string
}

type slotKey struct {
	parent int32
	name   string
}

// inputPathStmt is a run of DotStmts down a constant path from the input
// parameter: each prefix is read from its slot. Like the run it replaces,
// it leaves the block at the first prefix the document does not have.
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
	st := &inputPathStmt{}
	src, parent := c.inputLocal, int32(-1)
	n := 0
	for ; n < len(ss); n++ {
		dot, ok := ss[n].(*ir.DotStmt)
		if !ok {
			break
		}
		from, ok := dot.Source.Value.(ir.Local)
		if !ok || from != src {
			break
		}
		idx, ok := dot.Key.Value.(ir.StringIndex)
		if !ok || int(idx) < 0 || int(idx) >= len(c.strings) {
			break
		}
		parent = c.slot(parent, idx)
		st.slots = append(st.slots, parent)
		st.dsts = append(st.dsts, c.local(dot.Target))
		src = dot.Target
	}
	if n == 0 {
		return nil, 0
	}
	return st, n
}

func (c *compiler) slot(parent int32, idx ir.StringIndex) int32 {
	k := slotKey{parent, c.policy.Static.Strings[idx].Value}
	if id, ok := c.slotIDs[k]; ok {
		return id
	}
	id := int32(len(c.prog.inputSlots))
	c.prog.inputSlots = append(c.prog.inputSlots, inputSlot{parent: parent, key: c.strings[idx], name: k.name})
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
	if sl.parent < 0 {
		if m.input != nil {
			v = m.input.Top(sl.name)
		}
	} else if p := m.inputSlot(sl.parent); p != nil {
		v = get(p.Value, sl.key)
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
		u := &inputUses{input: b.input, funcs: funcs}
		for _, blk := range b.blocks {
			_ = ir.Walk(u, blk)
		}
		whole = whole || u.other
	}
	return true, whole
}

// inputUses finds reads of the input local other than the two the
// evaluator handles without the whole document: the source of a constant
// path (folded by inputPath) and the input argument of a plan function.
type inputUses struct {
	input ir.Local
	funcs map[string]int
	other bool
}

func (*inputUses) Before(any) {}
func (*inputUses) After(any)  {}
func (u *inputUses) Visit(x any) (ir.Visitor, error) {
	switch s := x.(type) {
	case *ir.DotStmt:
		if _, ok := s.Key.Value.(ir.StringIndex); ok && s.Source.Value == ir.Local(u.input) {
			return u, nil
		}
	case *ir.CallStmt:
		if _, planned := u.funcs[s.Func]; planned && len(s.Args) > 0 && s.Args[0].Value == ir.Local(u.input) {
			for _, a := range s.Args[1:] {
				if a.Value == ir.Local(u.input) {
					u.other = true
				}
			}
			return u, nil
		}
	}
	if stmt, ok := x.(ir.Stmt); ok && mentions(reflect.ValueOf(stmt).Elem(), u.input) {
		u.other = true
	}
	return u, nil
}

// mentions reports whether a statement has local l in any of its own
// fields (not in nested blocks, which the walk visits itself). Statement
// fields are locals, operands, and lists of either.
func mentions(v reflect.Value, l ir.Local) bool {
	for i := range v.NumField() {
		if !v.Type().Field(i).IsExported() {
			continue
		}
		switch f := v.Field(i).Interface().(type) {
		case ir.Local:
			if f == l {
				return true
			}
		case ir.Operand:
			if f.Value == ir.Local(l) {
				return true
			}
		case []ir.Operand:
			for _, o := range f {
				if o.Value == ir.Local(l) {
					return true
				}
			}
		case []ir.Local:
			for _, x := range f {
				if x == l {
					return true
				}
			}
		}
	}
	return false
}
