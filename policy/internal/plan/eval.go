package plan

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Control-flow results of executing a block: done (ran to its end),
// returned (a ReturnLocalStmt ended the function), or n >= 0, a break out
// of n more enclosing blocks than the current one. The numbering follows
// ir.BreakStmt ("0 is the current block") and the Wasm compiler's lowering
// of blocks, scans and negations in OPA's internal/compiler/wasm.
const (
	done     = -1
	returned = -2
)

// checkEvery is how many scan iterations or calls pass between checks of
// the cancellation flag (the per-decision deadline).
const checkEvery = 64

// Eval runs the query plan over input and data. Its result set has one
// object per result, keyed by the query's variable names, as OPA's Wasm
// evaluation returns it; Eval returns the first and how many there are
// (0: undefined). Past deadline (unless zero) the evaluation stops with a
// topdown cancel error, like topdown's deadline; when ctx is done, with
// ctx's error. Both are checked every checkEvery calls and iterations: a
// clock read there costs less than the timer and context callback a
// cancellation channel would need per decision.
func (p *Program) Eval(ctx context.Context, deadline time.Time, input Input, data ast.Value) (*ast.Term, int, error) {
	first, n, err := p.run(ctx, deadline, input, data)
	if first != nil && p.resultKey != nil {
		first = ast.NewTerm(ast.NewObject([2]*ast.Term{p.resultKey, first}))
	}
	return first, n, err
}

// EvalValue is Eval for a query with one variable (`x := data.ward.decision`):
// it returns the first result's value of that variable instead of the
// result object. For other queries it returns Eval's result objects.
func (p *Program) EvalValue(ctx context.Context, deadline time.Time, input Input, data ast.Value) (*ast.Term, int, error) {
	if p.resultKey == nil {
		first, n, err := p.run(ctx, deadline, input, data)
		if err != nil || first == nil {
			return first, n, err
		}
		obj, ok := first.Value.(ast.Object)
		if !ok || obj.Len() != 1 {
			return nil, 0, fmt.Errorf("plan: result %v has more than one variable", first)
		}
		var v *ast.Term
		obj.Foreach(func(_, t *ast.Term) { v = t })
		return v, n, nil
	}
	return p.run(ctx, deadline, input, data)
}

func (p *Program) run(ctx context.Context, deadline time.Time, input Input, data ast.Value) (first *ast.Term, n int, err error) {
	m := machines.Get().(*machine)
	m.reset(p, ctx, deadline)
	m.input = input
	defer func() {
		// A bug here must fail the decision (closed, by the caller), not
		// the process. The machine is not reused after a panic.
		if r := recover(); r != nil {
			first, n, err = nil, 0, fmt.Errorf("plan: internal error: %v", r)
			return
		}
		m.release()
	}()
	fr := m.push(p.mainLocals)
	if p.wholeInput && input != nil {
		if v := input.Value(); v != nil {
			fr[0] = ast.NewTerm(v)
		}
	}
	fr[1] = ast.NewTerm(data)
	for _, b := range p.main {
		up, err := m.exec(b, fr)
		if err != nil {
			return nil, 0, err
		}
		if up == returned {
			break
		}
	}
	if len(m.results) == 0 {
		return nil, 0, nil
	}
	return m.results[0], len(m.results), nil
}

// machine is one evaluation's state, pooled: a warm evaluation reuses the
// local stack, the memo table and the built-in argument buffer.
type machine struct {
	prog     *Program
	ctx      context.Context
	deadline time.Time
	bctx     topdown.BuiltinContext
	memo     []*ast.Term
	stack    []*ast.Term
	high     int // the deepest the stack reached in this evaluation
	args     []*ast.Term
	pairs    [][2]*ast.Term
	out      *ast.Term
	emit     func(*ast.Term) error // m.capture, bound once
	ret      *ast.Term
	results  []*ast.Term
	ticks    int
	slab     []ast.Term // unused terms of the current slab (newTerm)
	input    Input
	slots    []*ast.Term // resolved input slots (inputSlot)
}

var machines = sync.Pool{New: func() any {
	m := &machine{stack: make([]*ast.Term, 0, 1024), args: make([]*ast.Term, 0, 8)}
	m.emit = m.capture
	return m
}}

var noMetrics = metrics.NoOp()

func (m *machine) reset(p *Program, ctx context.Context, deadline time.Time) {
	m.prog, m.ctx, m.deadline = p, ctx, deadline
	if cap(m.memo) < p.memoSize {
		m.memo = make([]*ast.Term, p.memoSize)
	}
	m.memo = m.memo[:p.memoSize]
	if cap(m.slots) < len(p.inputSlots) {
		m.slots = make([]*ast.Term, len(p.inputSlots))
	}
	m.slots = m.slots[:len(p.inputSlots)]
	m.bctx = topdown.BuiltinContext{Context: ctx, Metrics: noMetrics}
}

func (m *machine) release() {
	clear(m.memo)
	clear(m.slots)
	m.input = nil
	clear(m.stack[:m.high]) // drop references above the stack top too
	m.stack, m.high = m.stack[:0], 0
	clear(m.results)
	m.results = m.results[:0]
	m.prog, m.ctx, m.deadline, m.out, m.ret = nil, nil, time.Time{}, nil, nil
	m.bctx = topdown.BuiltinContext{}
	machines.Put(m)
}

// termSlab is how many terms newTerm allocates at once.
const termSlab = 32

// newTerm returns a term for v from a slab: one allocation for many
// terms. Terms escape into the evaluation's result, so a slab is never
// reset, only used up; the machine keeps the rest for the next evaluation.
func (m *machine) newTerm(v ast.Value) *ast.Term {
	if len(m.slab) == 0 {
		m.slab = make([]ast.Term, termSlab)
	}
	t := &m.slab[0]
	m.slab = m.slab[1:]
	t.Value = v
	return t
}

// firstSetCapacity is the room a set gets at its first element.
const firstSetCapacity = 4

// Collections made empty share one value until their first element: most
// partial rules and comprehensions of a decision stay empty, and an OPA
// set or object costs several allocations. Only the statements below add
// to a collection, and each replaces a shared empty value (through the
// term, which every local holding the collection shares) instead of
// changing it.
var (
	emptySet    = ast.NewSet()
	emptyObject = ast.NewObject()
	emptyArray  = ast.NewArray()
)

func (m *machine) capture(t *ast.Term) error {
	m.out = t
	return nil
}

// push returns a cleared frame of n locals. Frames are slices of one
// stack; a frame keeps its own slice if a deeper push grows the stack.
func (m *machine) push(n int) []*ast.Term {
	base := len(m.stack)
	if base+n > cap(m.stack) {
		grown := make([]*ast.Term, base, 2*cap(m.stack)+n)
		copy(grown, m.stack)
		m.stack = grown
	}
	m.stack = m.stack[:base+n]
	m.high = max(m.high, base+n)
	fr := m.stack[base : base+n : base+n]
	clear(fr)
	return fr
}

func (m *machine) pop(n int) { m.stack = m.stack[:len(m.stack)-n] }

func (m *machine) tick() error {
	m.ticks++
	if m.ticks%checkEvery != 0 {
		return nil
	}
	if !m.deadline.IsZero() && time.Now().After(m.deadline) {
		return &topdown.Error{Code: topdown.CancelErr, Message: "evaluation deadline exceeded"}
	}
	return m.ctx.Err()
}

func read(fr []*ast.Term, o operand) *ast.Term {
	if o.local >= 0 {
		return fr[o.local]
	}
	return o.term
}

func (m *machine) call(fn *function, caller []*ast.Term, args []operand) (*ast.Term, error) {
	if fn.folded {
		if fn.value == nil {
			return nil, nil
		}
		return m.newTerm(fn.value.Value), nil // a term of this evaluation's own
	}
	if fn.memo >= 0 {
		if v := m.memo[fn.memo]; v != nil {
			return v, nil
		}
	}
	if err := m.tick(); err != nil {
		return nil, err
	}
	fr := m.push(fn.nlocals)
	for i, p := range fn.params {
		fr[p] = read(caller, args[i])
	}
	var ret *ast.Term
	for _, b := range fn.blocks {
		up, err := m.exec(b, fr)
		if err != nil {
			m.pop(fn.nlocals)
			return nil, err
		}
		if up == returned {
			ret = m.ret
			break
		}
	}
	m.pop(fn.nlocals)
	if fn.memo >= 0 && ret != nil {
		m.memo[fn.memo] = ret
	}
	return ret, nil
}

// exec runs one block. A statement that is undefined leaves the block
// (break 0), as in OPA's IR. The frequent, simple statements are handled
// inline; the rest live in step so exec's stack frame stays small (exec
// runs once per block and per scanned element).
func (m *machine) exec(b block, fr []*ast.Term) (int, error) {
	for _, s := range b {
		switch s := s.(type) {
		case *dotStmt:
			if s.src.local < 0 {
				return 0, nil
			}
			src, key := fr[s.src.local], read(fr, s.key)
			if src == nil || key == nil {
				return 0, nil
			}
			v := get(src.Value, key)
			if v == nil {
				return 0, nil
			}
			fr[s.dst] = v
		case *assignStmt:
			fr[s.dst] = read(fr, s.src)
		case *equalStmt:
			a, b := read(fr, s.a), read(fr, s.b)
			if a == nil || b == nil || (ast.Compare(a.Value, b.Value) == 0) != s.want {
				return 0, nil
			}
		case *isDefinedStmt:
			if (fr[s.src] != nil) != s.want {
				return 0, nil
			}
		case *resetStmt:
			fr[s.dst] = nil
		case *constStmt:
			fr[s.dst] = s.term
		case *breakStmt:
			return s.index, nil
		case *returnStmt:
			m.ret = fr[s.src]
			return returned, nil
		case *inputPathStmt:
			for i, dst := range s.dsts {
				if dst < 0 {
					continue
				}
				v := m.inputSlot(s.slots[i])
				if v == nil {
					return 0, nil
				}
				fr[dst] = v
			}
		case *dataPathStmt:
			for i, v := range s.vals {
				if v == nil {
					return 0, nil
				}
				fr[s.dsts[i]] = v
			}
		case *callFunc:
			v, err := m.call(m.prog.funcs[s.fn], fr, s.args)
			if err != nil {
				return 0, err
			}
			if v == nil {
				return 0, nil
			}
			fr[s.result] = v
		default:
			if up, err := m.step(s, fr); err != nil || up != done {
				return up, err
			}
		}
	}
	return done, nil
}

// step runs one of the less frequent statements; done means continue.
func (m *machine) step(s stmt, fr []*ast.Term) (int, error) {
	switch s := s.(type) {
	case *callBuiltin:
		return m.callBuiltin(s, fr)
	case *blockStmt:
		for _, sub := range s.blocks {
			up, err := m.exec(sub, fr)
			if err != nil {
				return 0, err
			}
			if up == returned {
				return returned, nil
			}
			if up > 0 {
				return up - 1, nil
			}
		}
	case *scanStmt:
		return m.scan(s, fr)
	case *notStmt:
		up, err := m.exec(s.body, fr)
		switch {
		case err != nil:
			return 0, err
		case up == returned:
			return returned, nil
		case up == done: // the negated body held
			return 0, nil
		case up > 0:
			return up - 1, nil
		}
	case *assignOnceStmt:
		v := read(fr, s.src)
		if cur := fr[s.dst]; cur != nil && v != nil {
			if ast.Compare(cur.Value, v.Value) != 0 {
				return 0, conflict(s.loc)
			}
			return done, nil
		}
		fr[s.dst] = v
	case *objectLiteral:
		v, h, scalar := s.intern.find(fr, s.vals)
		if v != nil {
			fr[s.dst] = m.newTerm(v)
			return done, nil
		}
		pairs := m.pairs[:0]
		for i, k := range s.keys {
			v := read(fr, s.vals[i])
			if v == nil {
				return 0, fmt.Errorf("plan: object value for %v is undefined", k)
			}
			pairs = append(pairs, [2]*ast.Term{k, v})
		}
		obj := ast.NewObject(pairs...)
		fr[s.dst] = m.newTerm(obj)
		clear(pairs)
		m.pairs = pairs[:0]
		if scalar {
			s.intern.add(m.prog, h, obj, fr, s.vals)
		}
	case *constValueStmt:
		fr[s.dst] = m.newTerm(s.value)
	case *arrayLiteral:
		v, h, scalar := s.intern.find(fr, s.vals)
		if v != nil {
			fr[s.dst] = m.newTerm(v)
			return done, nil
		}
		elems := make([]*ast.Term, len(s.vals))
		for i, o := range s.vals {
			if elems[i] = read(fr, o); elems[i] == nil {
				return 0, fmt.Errorf("plan: array element %d is undefined", i)
			}
		}
		arr := ast.NewArray(elems...)
		fr[s.dst] = m.newTerm(arr)
		if scalar {
			s.intern.add(m.prog, h, arr, fr, s.vals)
		}
	case *makeArrayStmt:
		if s.capacity > 0 { // the planner knows the size: build it once
			fr[s.dst] = m.newTerm(ast.NewArray(make([]*ast.Term, 0, s.capacity)...))
		} else {
			fr[s.dst] = m.newTerm(emptyArray)
		}
	case *makeObjectStmt:
		fr[s.dst] = m.newTerm(emptyObject)
	case *makeSetStmt:
		fr[s.dst] = m.newTerm(emptySet)
	case *arrayAppendStmt:
		t, v := fr[s.arr], read(fr, s.val)
		arr, ok := termValue(t).(*ast.Array)
		if !ok || v == nil {
			return 0, fmt.Errorf("plan: array append to %T", termValue(t))
		}
		// Through the term, like opa_array_append changes the array in
		// place: every local holding this array sees the element.
		if arr == emptyArray {
			elems := make([]*ast.Term, 1, 4)
			elems[0] = v
			t.Value = ast.NewArray(elems...)
			return done, nil
		}
		// An interned array needs no copy: it is built at its length, so
		// Append moves its elements to a new backing array.
		if m.prog.consts[arr] {
			arr = arr.Copy()
		}
		t.Value = arr.Append(v)
	case *objectInsertStmt:
		t, k, v := fr[s.obj], read(fr, s.key), read(fr, s.val)
		obj, ok := termValue(t).(ast.Object)
		if !ok || k == nil || v == nil {
			return 0, fmt.Errorf("plan: object insert into %T", termValue(t))
		}
		if obj == emptyObject {
			t.Value = ast.NewObject([2]*ast.Term{k, v})
			return done, nil
		}
		if m.prog.isShared(obj) {
			obj = obj.Copy()
			t.Value = obj
		}
		if s.once {
			if cur := obj.Get(k); cur != nil {
				if ast.Compare(cur.Value, v.Value) != 0 {
					return 0, conflict(s.loc)
				}
				return done, nil
			}
		}
		obj.Insert(k, v)
	case *setAddStmt:
		t, v := fr[s.set], read(fr, s.val)
		set, ok := termValue(t).(ast.Set)
		if !ok || v == nil {
			return 0, fmt.Errorf("plan: set add to %T", termValue(t))
		}
		if set == emptySet {
			// Room for a few more: a set that gets a first element usually
			// gets more (tags, PHI types), and NewSet(v) would regrow its
			// key slice at the second, third and fifth.
			set = ast.NewSetWithCapacity(firstSetCapacity)
			set.Add(v)
			t.Value = set
			return done, nil
		}
		if m.prog.consts[set] {
			set = set.Copy()
			t.Value = set
		}
		set.Add(v)
	case *objectMergeStmt:
		// A recursive merge of two objects; anything else, or a key whose
		// values are not both objects, is a conflict (ir.ObjectMergeStmt).
		a, aok := termValue(fr[s.a]).(ast.Object)
		b, bok := termValue(fr[s.b]).(ast.Object)
		if !aok || !bok {
			return 0, conflict(s.loc)
		}
		merged, ok := a.Merge(b)
		if !ok {
			return 0, conflict(s.loc)
		}
		fr[s.dst] = ast.NewTerm(merged)
	case *isTypeStmt:
		if !isType(fr, s) {
			return 0, nil
		}
	case *lenStmt:
		t := read(fr, s.src)
		if t == nil {
			return 0, nil
		}
		var n int
		switch v := t.Value.(type) {
		case *ast.Array:
			n = v.Len()
		case ast.Object:
			n = v.Len()
		case ast.Set:
			n = v.Len()
		default:
			return 0, nil
		}
		fr[s.dst] = ast.InternedTerm(n)
	case *resultValueStmt:
		v := fr[s.src]
		if v == nil {
			return 0, fmt.Errorf("plan: object value for %v is undefined", s.key)
		}
		m.results = append(m.results, v)
	case *resultAddStmt:
		if v := fr[s.src]; v != nil {
			m.results = append(m.results, v)
		}
	default:
		return 0, fmt.Errorf("plan: statement %T", s)
	}
	return done, nil
}

func (m *machine) callBuiltin(s *callBuiltin, fr []*ast.Term) (int, error) {
	if s.native != notNative {
		v := nativeCall(s.native, fr, s.args)
		if v == nil {
			return 0, nil
		}
		fr[s.result] = v
		return done, nil
	}
	args := m.args[:0]
	for _, a := range s.args {
		t := read(fr, a)
		if t == nil {
			return 0, nil
		}
		args = append(args, t)
	}
	m.out = nil
	err := s.fn(m.bctx, args, m.emit)
	clear(args)
	m.args = args[:0]
	if err != nil {
		// topdown's default: a built-in error makes the call undefined,
		// unless the built-in halts evaluation.
		if h, ok := err.(topdown.Halt); ok {
			return 0, h.Err
		}
		return 0, nil
	}
	if s.void {
		return done, nil
	}
	if m.out == nil {
		return 0, nil
	}
	fr[s.result] = m.out
	return done, nil
}

// scan runs the body once per element. In the Wasm lowering the body sits
// in a loop inside a block: break 0 continues with the next element,
// break 1 leaves the scan, and higher indexes leave enclosing blocks.
func (m *machine) scan(s *scanStmt, fr []*ast.Term) (int, error) {
	src := fr[s.src]
	if src == nil {
		return done, nil
	}
	step := func(k, v *ast.Term) (int, bool, error) {
		if err := m.tick(); err != nil {
			return 0, true, err
		}
		fr[s.key], fr[s.val] = k, v
		up, err := m.exec(s.body, fr)
		switch {
		case err != nil:
			return 0, true, err
		case up == returned:
			return returned, true, nil
		case up == 1:
			return done, true, nil
		case up >= 2:
			return up - 2, true, nil
		}
		return done, false, nil
	}
	// Iteration order follows topdown's (evalTerm.enumerate): arrays by
	// index, objects by sorted key, sets in sorted order.
	switch v := src.Value.(type) {
	case *ast.Array:
		for i := range v.Len() {
			if up, stop, err := step(ast.InternedTerm(i), v.Elem(i)); stop {
				return up, err
			}
		}
	case ast.Object:
		ki := v.KeysIterator()
		for k, more := ki.Next(); more; k, more = ki.Next() {
			if up, stop, err := step(k, v.Get(k)); stop {
				return up, err
			}
		}
	case ast.Set:
		for _, e := range v.Slice() {
			if up, stop, err := step(e, e); stop {
				return up, err
			}
		}
	}
	return done, nil
}

func termValue(t *ast.Term) ast.Value {
	if t == nil {
		return nil
	}
	return t.Value
}

// get is opa_value_get: an object's value, an array's element, or a
// set's member itself.
func get(v ast.Value, key *ast.Term) *ast.Term {
	switch v := v.(type) {
	case ast.Object:
		return v.Get(key)
	case *ast.Array:
		n, ok := key.Value.(ast.Number)
		if !ok {
			return nil
		}
		i, ok := n.Int()
		if !ok || i < 0 || i >= v.Len() {
			return nil
		}
		return v.Elem(i)
	case ast.Set:
		if v.Contains(key) {
			return key
		}
	}
	return nil
}

func isType(fr []*ast.Term, s *isTypeStmt) bool {
	if s.src.local < 0 {
		return false
	}
	t := fr[s.src.local]
	if t == nil {
		return false
	}
	switch t.Value.(type) {
	case *ast.Array:
		return s.kind == 'a'
	case ast.Object:
		return s.kind == 'o'
	case ast.Set:
		return s.kind == 's'
	}
	return false
}

// conflict is topdown's error for a complete rule or object key with two
// different values.
func conflict(loc string) error {
	return &topdown.Error{Code: topdown.ConflictErr, Message: "complete rules must not produce multiple outputs (" + loc + ")"}
}

// nativeCall evaluates an inlined built-in (see natives); nil means
// undefined, as a type error makes topdown's call undefined.
func nativeCall(op native, fr []*ast.Term, args []operand) *ast.Term {
	a := read(fr, args[0])
	if a == nil {
		return nil
	}
	var b, c *ast.Term
	if len(args) > 1 {
		if b = read(fr, args[1]); b == nil {
			return nil
		}
	}
	if len(args) > 2 {
		if c = read(fr, args[2]); c == nil {
			return nil
		}
	}
	switch op {
	case nativeGT:
		return ast.InternedTerm(a.Value.Compare(b.Value) > 0)
	case nativeGTE:
		return ast.InternedTerm(a.Value.Compare(b.Value) >= 0)
	case nativeLT:
		return ast.InternedTerm(a.Value.Compare(b.Value) < 0)
	case nativeLTE:
		return ast.InternedTerm(a.Value.Compare(b.Value) <= 0)
	case nativeEqual:
		return ast.InternedTerm(a.Equal(b))
	case nativeNotEqual:
		return ast.InternedTerm(!a.Equal(b))
	case nativeMember:
		switch c := b.Value.(type) {
		case ast.Set:
			return ast.InternedTerm(c.Contains(a))
		case *ast.Array:
			return ast.InternedTerm(c.Until(a.Equal))
		case ast.Object:
			return ast.InternedTerm(c.Until(func(_, v *ast.Term) bool { return a.Equal(v) }))
		}
		return ast.InternedTerm(false)
	case nativeCount:
		switch v := a.Value.(type) {
		case *ast.Array:
			return ast.InternedTerm(v.Len())
		case ast.Object:
			return ast.InternedTerm(v.Len())
		case ast.Set:
			return ast.InternedTerm(v.Len())
		case ast.String:
			return ast.InternedTerm(len([]rune(v)))
		}
	case nativeUpper, nativeLower:
		s, ok := a.Value.(ast.String)
		if !ok {
			return nil
		}
		var changed string
		if op == nativeUpper {
			changed = strings.ToUpper(string(s))
		} else {
			changed = strings.ToLower(string(s))
		}
		if changed == string(s) {
			return a
		}
		return ast.InternedTerm(changed)
	case nativeContains:
		s, ok1 := a.Value.(ast.String)
		sub, ok2 := b.Value.(ast.String)
		if !ok1 || !ok2 {
			return nil
		}
		return ast.InternedTerm(strings.Contains(string(s), string(sub)))
	case nativeObjectGet:
		obj, ok := a.Value.(ast.Object)
		if !ok {
			return nil
		}
		path, ok := b.Value.(*ast.Array)
		if !ok {
			return cmp.Or(obj.Get(b), c)
		}
		cur := a
		for i := range path.Len() {
			if cur = cur.Get(path.Elem(i)); cur == nil {
				break
			}
		}
		return cmp.Or(cur, c)
	case nativeSetUnion:
		s1, ok1 := a.Value.(ast.Set)
		s2, ok2 := b.Value.(ast.Set)
		switch {
		case !ok1 || !ok2:
			return nil
		case s1.Len() == 0:
			return b
		case s2.Len() == 0:
			return a
		}
		return ast.NewTerm(s1.Union(s2))
	}
	return nil
}
