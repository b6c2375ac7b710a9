// Package plan evaluates a policy from OPA's intermediate representation:
// the imperative plan OPA's own planner produces (the one its Wasm
// compiler consumes), run directly over ast values with OPA's own
// built-in implementations.
//
// Why: OPA's tree-walking evaluator (topdown) unifies, binds and plugs
// terms for every expression; that costs ~300 µs for Ward's clinical
// decision. A plan is a flat program of loads, compares, calls and
// inserts with rule results memoised, so the same decision is several
// times cheaper. topdown stays the reference: the engine falls back to it
// for any plan this package cannot run (see Compile), for tracing and for
// `ward policy test`, and a differential test and fuzz target check that
// both give the same decision (docs/policy-evaluation.md).
package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// ErrUnsupported marks a plan that uses a statement or built-in this
// package does not run; callers evaluate such policies with topdown.
var ErrUnsupported = errors.New("not supported by the plan evaluator")

// Program is a compiled plan. It is immutable and safe for concurrent use.
type Program struct {
	funcs      []*function
	main       []block // the query plan's blocks
	mainLocals int
	memoSize   int
	inputSlots []inputSlot
	resultKey  *ast.Term          // the query's one variable, when results are its bare values (unwrapResults)
	consts     map[ast.Value]bool // values of constValueStmts, shared by every evaluation
	wholeInput bool               // the plan uses the input document other than by constant paths
	shared     sharedValues       // interned objects, shared by every evaluation (intern.go)
}

type function struct {
	params  []int32
	ret     int32
	nlocals int
	blocks  []block
	memo    int // index into the memo table; -1 when not memoised
	// folded: the rule depends on data only and was evaluated at load;
	// value is its result (nil: undefined). See foldDataRules.
	folded bool
	value  *ast.Term
}

type block []stmt

// stmt is one compiled statement; the concrete types below mirror ir's,
// with operands resolved to locals or constant terms.
type stmt any

// operand is a local (local >= 0) or a constant term.
type operand struct {
	local int32
	term  *ast.Term
}

type (
	callFunc struct {
		fn     int
		args   []operand
		result int32
	}
	callBuiltin struct {
		fn     topdown.BuiltinFunc
		args   []operand
		result int32
		void   bool // no result: the call only succeeds or fails
		native native
	}
	blockStmt struct{ blocks []block }
	breakStmt struct{ index int }
	dotStmt   struct {
		src, key operand
		dst      int32
	}
	lenStmt struct {
		src operand
		dst int32
	}
	scanStmt struct {
		src, key, val int32
		body          block
	}
	notStmt    struct{ body block }
	assignStmt struct {
		src operand
		dst int32
	}
	assignOnceStmt struct {
		src operand
		dst int32
		loc string
	}
	constStmt struct {
		term *ast.Term
		dst  int32
	} // numbers and null
	makeArrayStmt struct {
		capacity int
		dst      int32
	}
	makeObjectStmt struct{ dst int32 }
	makeSetStmt    struct{ dst int32 }
	equalStmt      struct {
		a, b operand
		want bool
	}
	isTypeStmt struct {
		src  operand
		kind byte
	} // 'a'rray, 'o'bject, 's'et
	isDefinedStmt struct {
		src  int32
		want bool
	}
	resetStmt       struct{ dst int32 }
	arrayAppendStmt struct {
		arr int32
		val operand
	}
	objectInsertStmt struct {
		obj      int32
		key, val operand
		once     bool
		loc      string
	}
	objectMergeStmt struct {
		a, b, dst int32
		loc       string
	}
	setAddStmt struct {
		set int32
		val operand
	}
	resultAddStmt   struct{ src int32 }
	resultValueStmt struct {
		src int32
		key *ast.Term // for the error the object literal would have raised
	}
	objectLiteral struct {
		dst    int32
		keys   []*ast.Term
		vals   []operand
		intern *internCache // objects built from scalar values (intern.go)
	}
	dataPathStmt struct {
		dsts []int32
		vals []*ast.Term // nil from the first key the data does not have
	}
	arrayLiteral struct {
		dst    int32
		vals   []operand
		intern *internCache // arrays built from scalar values (intern.go)
	}
	returnStmt struct{ src int32 }
)

// Compile checks every statement and built-in of p and resolves names,
// strings and numbers once. Plans that need `with`, dynamic calls,
// non-deterministic or unknown built-ins return an error wrapping
// ErrUnsupported.
//
// data, when not nil, is the data document the program will always be
// evaluated with (an engine snapshot's): reads of constant paths under it
// are resolved here, once, instead of on every evaluation.
func Compile(p *ir.Policy, data ast.Value) (*Program, error) {
	if p == nil || p.Plans == nil || len(p.Plans.Plans) != 1 {
		return nil, fmt.Errorf("plan: want exactly one query plan: %w", ErrUnsupported)
	}
	c := &compiler{policy: p, byName: map[string]int{}, data: data, dataLocal: -1, inputLocal: -1, slotIDs: map[slotKey]int32{}}
	if p.Static != nil {
		c.strings = make([]*ast.Term, len(p.Static.Strings))
		for i, s := range p.Static.Strings {
			c.strings[i] = ast.StringTerm(s.Value)
		}
	}
	var fns []*ir.Func
	if p.Funcs != nil {
		fns = p.Funcs.Funcs
	}
	prog := &Program{funcs: make([]*function, len(fns))}
	c.prog = prog
	memo := 0
	for i, f := range fns {
		c.byName[f.Name] = i
		fn := &function{ret: int32(f.Return), memo: -1}
		// OPA's Wasm runtime memoises functions of (input, data) only:
		// those are rules, whose value is fixed for one evaluation.
		if len(f.Params) == 2 {
			fn.memo = memo
			memo++
		}
		for _, l := range f.Params {
			fn.params = append(fn.params, int32(l))
		}
		prog.funcs[i] = fn
	}
	if data != nil && !threaded(p, c.byName, 1) {
		c.data = nil // fold nothing: some call passes another value as data
	}
	foldInput, wholeInput := inputFolding(p, c.byName)
	prog.wholeInput = wholeInput
	var errs []error
	for i, f := range fns {
		fn := prog.funcs[i]
		c.maxLocal = int32(f.Return)
		for _, l := range fn.params {
			c.maxLocal = max(c.maxLocal, l)
		}
		// By convention the second parameter is the data document.
		c.dataLocal = -1
		if len(f.Params) >= 2 && !writes(f.Blocks, f.Params[1]) {
			c.dataLocal = f.Params[1]
		}
		// And the first is the input document.
		c.inputLocal = -1
		if foldInput {
			c.inputLocal = f.Params[0]
			c.exposed = exposedPrefixes(f.Blocks, c.inputLocal, len(c.strings))
		}
		blocks, err := c.blocks(f.Blocks)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
			continue
		}
		fn.blocks = blocks
		fn.nlocals = int(c.maxLocal) + 1
	}
	c.maxLocal = 1 // input and data
	c.dataLocal = -1
	if !writes(p.Plans.Plans[0].Blocks, 1) {
		c.dataLocal = 1
	}
	c.inputLocal = -1
	if foldInput {
		c.inputLocal = 0
		c.exposed = exposedPrefixes(p.Plans.Plans[0].Blocks, 0, len(c.strings))
	}
	main, err := c.blocks(p.Plans.Plans[0].Blocks)
	if err != nil {
		errs = append(errs, fmt.Errorf("query: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	prog.main, prog.mainLocals = main, int(c.maxLocal)+1
	prog.memoSize = memo
	prog.resultKey = unwrapResults(main, resultOnlyLocals(p.Plans.Plans[0].Blocks))
	if c.data != nil {
		foldDataRules(p, prog, c.byName, c.data)
	}
	return prog, nil
}

// resultOnlyLocals are the locals the query plan uses only to build and
// add result objects (MakeObject, inserts into it, ResultSetAdd): nothing
// else would see it hold the bare value instead (unwrapResults).
func resultOnlyLocals(bs []*ir.Block) map[ir.Local]bool {
	all, result := map[ir.Local]int{}, map[ir.Local]int{}
	v := &stmtVisitor{visit: func(s ir.Stmt) {
		eachLocalOf(s, func(l ir.Local) { all[l]++ })
		switch s := s.(type) {
		case *ir.MakeObjectStmt:
			result[s.Target]++
		case *ir.ObjectInsertStmt:
			result[s.Object]++
		case *ir.ResultSetAddStmt:
			result[s.Value]++
		}
	}}
	for _, b := range bs {
		_ = ir.Walk(v, b)
	}
	out := map[ir.Local]bool{}
	for l, n := range result {
		out[l] = n == all[l]
	}
	return out
}

type stmtVisitor struct{ visit func(ir.Stmt) }

func (*stmtVisitor) Before(any) {}
func (*stmtVisitor) After(any)  {}
func (v *stmtVisitor) Visit(x any) (ir.Visitor, error) {
	if s, ok := x.(ir.Stmt); ok {
		v.visit(s)
	}
	return v, nil
}

// unwrapResults rewrites a query whose every result is a one-key object
// literal ({"x": value}, the usual `x := data.ward.decision` query) to
// add the value itself, and returns the key (nil: not rewritten). The
// result object is then built only if Eval's caller asks for it
// (EvalValue does not).
func unwrapResults(main []block, resultOnly map[ir.Local]bool) *ast.Term {
	var key *ast.Term
	ok, results := true, 0
	var visit func(b block)
	visit = func(b block) {
		for i, s := range b {
			switch s := s.(type) {
			case *resultAddStmt:
				results++
				var l *objectLiteral
				if i > 0 {
					l, _ = b[i-1].(*objectLiteral)
				}
				if l == nil || len(l.keys) != 1 || l.dst != s.src || !resultOnly[ir.Local(l.dst)] || (key != nil && !key.Equal(l.keys[0])) {
					ok = false
					continue
				}
				key = l.keys[0]
			case *blockStmt:
				for _, sub := range s.blocks {
					visit(sub)
				}
			case *notStmt:
				visit(s.body)
			case *scanStmt:
				visit(s.body)
			}
		}
	}
	for _, b := range main {
		visit(b)
	}
	if !ok || results == 0 {
		return nil
	}
	var rewrite func(b block)
	rewrite = func(b block) {
		for i, s := range b {
			switch s := s.(type) {
			case *resultAddStmt:
				l := b[i-1].(*objectLiteral)
				// The literal's local now holds the value, which is added.
				b[i-1] = &assignStmt{src: l.vals[0], dst: l.dst}
				b[i] = &resultValueStmt{src: s.src, key: l.keys[0]}
			case *blockStmt:
				for _, sub := range s.blocks {
					rewrite(sub)
				}
			case *notStmt:
				rewrite(s.body)
			case *scanStmt:
				rewrite(s.body)
			}
		}
	}
	for _, b := range main {
		rewrite(b)
	}
	return key
}

type compiler struct {
	policy     *ir.Policy
	prog       *Program
	data       ast.Value
	dataLocal  ir.Local // the current function's data parameter, -1 if unknown
	inputLocal ir.Local // the current function's input parameter, -1: do not fold input paths
	slotIDs    map[slotKey]int32
	exposed    map[ir.Local]bool // locals whose input-run prefix value may be read (exposedPrefixes)
	strings    []*ast.Term
	byName     map[string]int
	maxLocal   int32
}

func (c *compiler) local(l ir.Local) int32 {
	c.maxLocal = max(c.maxLocal, int32(l))
	return int32(l)
}

func (c *compiler) operand(o ir.Operand) (operand, error) {
	switch v := o.Value.(type) {
	case ir.Local:
		return operand{local: c.local(v)}, nil
	case ir.Bool:
		return operand{local: -1, term: ast.InternedTerm(bool(v))}, nil
	case ir.StringIndex:
		if int(v) < 0 || int(v) >= len(c.strings) {
			return operand{}, fmt.Errorf("string index %d out of range", int(v))
		}
		return operand{local: -1, term: c.strings[v]}, nil
	}
	return operand{}, fmt.Errorf("operand %T: %w", o.Value, ErrUnsupported)
}

func (c *compiler) operands(os []ir.Operand) ([]operand, error) {
	out := make([]operand, len(os))
	for i, o := range os {
		var err error
		if out[i], err = c.operand(o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *compiler) blocks(bs []*ir.Block) ([]block, error) {
	out := make([]block, len(bs))
	for i, b := range bs {
		var err error
		if out[i], err = c.block(b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *compiler) block(b *ir.Block) (block, error) {
	out := make(block, 0, len(b.Stmts))
	for i := 0; i < len(b.Stmts); i++ {
		if cs, n := c.dataPath(b.Stmts[i:]); n > 0 {
			out = append(out, cs)
			i += n - 1
			continue
		}
		if cs, n := c.inputPath(b.Stmts[i:]); n > 0 {
			out = append(out, cs)
			i += n - 1
			continue
		}
		if cs, n, err := c.objectLiteral(b.Stmts[i:]); err != nil {
			return nil, err
		} else if n > 0 {
			out = append(out, cs...)
			i += n - 1
			continue
		}
		if cs, n, err := c.literal(b.Stmts[i:]); err != nil {
			return nil, err
		} else if n > 0 {
			out = append(out, cs)
			i += n - 1
			continue
		}
		s := b.Stmts[i]
		cs, err := c.stmt(s)
		if err != nil {
			return nil, err
		}
		if cs != nil {
			out = append(out, cs)
		}
	}
	return out, nil
}

func (c *compiler) stmt(s ir.Stmt) (stmt, error) {
	switch s := s.(type) {
	case *ir.CallStmt:
		args, err := c.operands(s.Args)
		if err != nil {
			return nil, err
		}
		if i, ok := c.byName[s.Func]; ok {
			return &callFunc{fn: i, args: args, result: c.local(s.Result)}, nil
		}
		bi, ok := ast.BuiltinMap[s.Func]
		fn := topdown.GetBuiltin(s.Func)
		if !ok || fn == nil {
			return nil, fmt.Errorf("built-in %q: %w", s.Func, ErrUnsupported)
		}
		if bi.Nondeterministic || impure[s.Func] {
			// Needs evaluation context (time, randomness, I/O, tracing)
			// that only topdown wires up.
			return nil, fmt.Errorf("built-in %q (needs evaluation context): %w", s.Func, ErrUnsupported)
		}
		return &callBuiltin{fn: fn, args: args, result: c.local(s.Result), void: bi.Decl.Result() == nil, native: natives[s.Func]}, nil
	case *ir.BlockStmt:
		bs, err := c.blocks(s.Blocks)
		if err != nil {
			return nil, err
		}
		return &blockStmt{blocks: bs}, nil
	case *ir.BreakStmt:
		return &breakStmt{index: int(s.Index)}, nil
	case *ir.DotStmt:
		src, err := c.operand(s.Source)
		if err != nil {
			return nil, err
		}
		key, err := c.operand(s.Key)
		if err != nil {
			return nil, err
		}
		return &dotStmt{src: src, key: key, dst: c.local(s.Target)}, nil
	case *ir.LenStmt:
		src, err := c.operand(s.Source)
		if err != nil {
			return nil, err
		}
		return &lenStmt{src: src, dst: c.local(s.Target)}, nil
	case *ir.ScanStmt:
		body, err := c.block(s.Block)
		if err != nil {
			return nil, err
		}
		return &scanStmt{src: c.local(s.Source), key: c.local(s.Key), val: c.local(s.Value), body: body}, nil
	case *ir.NotStmt:
		body, err := c.block(s.Block)
		if err != nil {
			return nil, err
		}
		return &notStmt{body: body}, nil
	case *ir.AssignIntStmt:
		return &constStmt{term: ast.InternedTerm(int(s.Value)), dst: c.local(s.Target)}, nil
	case *ir.AssignVarStmt:
		src, err := c.operand(s.Source)
		if err != nil {
			return nil, err
		}
		return &assignStmt{src: src, dst: c.local(s.Target)}, nil
	case *ir.AssignVarOnceStmt:
		src, err := c.operand(s.Source)
		if err != nil {
			return nil, err
		}
		return &assignOnceStmt{src: src, dst: c.local(s.Target), loc: c.location(s.Location)}, nil
	case *ir.ResetLocalStmt:
		return &resetStmt{dst: c.local(s.Target)}, nil
	case *ir.MakeNullStmt:
		return &constStmt{term: ast.InternedNullTerm, dst: c.local(s.Target)}, nil
	case *ir.MakeNumberIntStmt:
		return &constStmt{term: ast.InternedTerm(int(s.Value)), dst: c.local(s.Target)}, nil
	case *ir.MakeNumberRefStmt:
		if s.Index < 0 || s.Index >= len(c.strings) {
			return nil, fmt.Errorf("number index %d out of range", s.Index)
		}
		n := json.Number(c.policy.Static.Strings[s.Index].Value)
		if _, err := n.Float64(); err != nil {
			return nil, fmt.Errorf("number %q: %w", n, err)
		}
		return &constStmt{term: ast.NumberTerm(n), dst: c.local(s.Target)}, nil
	case *ir.MakeArrayStmt:
		return &makeArrayStmt{capacity: int(s.Capacity), dst: c.local(s.Target)}, nil
	case *ir.MakeObjectStmt:
		return &makeObjectStmt{dst: c.local(s.Target)}, nil
	case *ir.MakeSetStmt:
		return &makeSetStmt{dst: c.local(s.Target)}, nil
	case *ir.EqualStmt, *ir.NotEqualStmt:
		var a, b ir.Operand
		want := true
		if e, ok := s.(*ir.EqualStmt); ok {
			a, b = e.A, e.B
		} else {
			ne := s.(*ir.NotEqualStmt)
			a, b, want = ne.A, ne.B, false
		}
		oa, err := c.operand(a)
		if err != nil {
			return nil, err
		}
		ob, err := c.operand(b)
		if err != nil {
			return nil, err
		}
		return &equalStmt{a: oa, b: ob, want: want}, nil
	case *ir.IsArrayStmt:
		return c.isType(s.Source, 'a')
	case *ir.IsObjectStmt:
		return c.isType(s.Source, 'o')
	case *ir.IsSetStmt:
		return c.isType(s.Source, 's')
	case *ir.IsDefinedStmt:
		return &isDefinedStmt{src: c.local(s.Source), want: true}, nil
	case *ir.IsUndefinedStmt:
		return &isDefinedStmt{src: c.local(s.Source), want: false}, nil
	case *ir.ArrayAppendStmt:
		v, err := c.operand(s.Value)
		if err != nil {
			return nil, err
		}
		return &arrayAppendStmt{arr: c.local(s.Array), val: v}, nil
	case *ir.ObjectInsertStmt:
		return c.objectInsert(s.Object, s.Key, s.Value, false, s.Location)
	case *ir.ObjectInsertOnceStmt:
		return c.objectInsert(s.Object, s.Key, s.Value, true, s.Location)
	case *ir.SetAddStmt:
		v, err := c.operand(s.Value)
		if err != nil {
			return nil, err
		}
		return &setAddStmt{set: c.local(s.Set), val: v}, nil
	case *ir.ResultSetAddStmt:
		return &resultAddStmt{src: c.local(s.Value)}, nil
	case *ir.ReturnLocalStmt:
		return &returnStmt{src: c.local(s.Source)}, nil
	case *ir.ObjectMergeStmt:
		return &objectMergeStmt{a: c.local(s.A), b: c.local(s.B), dst: c.local(s.Target), loc: c.location(s.Location)}, nil
	case *ir.NopStmt:
		return nil, nil
	}
	return nil, fmt.Errorf("statement %T: %w", s, ErrUnsupported)
}

// dataPath resolves a run of DotStmts that walks a constant path down
// from the data parameter (data.ward.config.x): the values are fixed for
// the program's data, so the run becomes one statement that assigns them,
// or leaves the block where the original would have found nothing.
func (c *compiler) dataPath(ss []ir.Stmt) (stmt, int) {
	if c.data == nil || c.dataLocal < 0 {
		return nil, 0
	}
	st := &dataPathStmt{}
	src, cur := c.dataLocal, c.data
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
		var v *ast.Term
		if cur != nil {
			v = get(cur, c.strings[idx])
		}
		st.dsts = append(st.dsts, c.local(dot.Target))
		st.vals = append(st.vals, v)
		if v == nil {
			n++
			break
		}
		src, cur = dot.Target, v.Value
	}
	if n == 0 {
		return nil, 0
	}
	return st, n
}

// threaded reports whether every call of a plan function passes the
// caller's own input (arg 0) or data (arg 1) document on as that argument
// (the main plan's local 0 or 1, a function's first or second parameter),
// as OPA's planner does. Folding input and data paths inside functions
// relies on it.
func threaded(p *ir.Policy, funcs map[string]int, arg int) bool {
	ok := true
	check := func(bs []*ir.Block, doc ir.Local) {
		v := &callFinder{visit: func(call *ir.CallStmt) {
			if _, planned := funcs[call.Func]; !planned {
				return
			}
			if len(call.Args) <= arg || call.Args[arg].Value != ir.Local(doc) {
				ok = false
			}
		}}
		for _, b := range bs {
			_ = ir.Walk(v, b)
		}
	}
	check(p.Plans.Plans[0].Blocks, ir.Local(arg))
	if p.Funcs != nil {
		for _, f := range p.Funcs.Funcs {
			if len(f.Params) < 2 {
				return false
			}
			check(f.Blocks, f.Params[arg])
		}
	}
	return ok
}

type callFinder struct{ visit func(*ir.CallStmt) }

func (*callFinder) Before(any) {}
func (*callFinder) After(any)  {}
func (c *callFinder) Visit(x any) (ir.Visitor, error) {
	if call, ok := x.(*ir.CallStmt); ok {
		c.visit(call)
	}
	return c, nil
}

// writes reports whether any statement in bs assigns local l.
func writes(bs []*ir.Block, l ir.Local) bool {
	v := &writeFinder{local: l}
	for _, b := range bs {
		_ = ir.Walk(v, b)
	}
	return v.found
}

type writeFinder struct {
	local ir.Local
	found bool
}

func (*writeFinder) Before(any) {}
func (*writeFinder) After(any)  {}
func (w *writeFinder) Visit(x any) (ir.Visitor, error) {
	if s, ok := x.(ir.Stmt); ok {
		pure, other := targets(s)
		w.found = w.found || slices.Contains(pure, w.local) || slices.Contains(other, w.local)
	}
	return w, nil
}

// targets are the locals a statement assigns (not in nested blocks),
// split into pure writes, set without reading them, and the others: a
// compare-and-set (AssignVarOnceStmt), a collection changed in place
// (inserts, appends, adds), a scan's key and value (set inside its body)
// and WithStmt's local.
func targets(s ir.Stmt) (pure, other []ir.Local) {
	switch s := s.(type) {
	case *ir.CallStmt:
		return []ir.Local{s.Result}, nil
	case *ir.CallDynamicStmt:
		return []ir.Local{s.Result}, nil
	case *ir.DotStmt:
		return []ir.Local{s.Target}, nil
	case *ir.LenStmt:
		return []ir.Local{s.Target}, nil
	case *ir.AssignIntStmt:
		return []ir.Local{s.Target}, nil
	case *ir.AssignVarStmt:
		return []ir.Local{s.Target}, nil
	case *ir.ResetLocalStmt:
		return []ir.Local{s.Target}, nil
	case *ir.MakeNullStmt:
		return []ir.Local{s.Target}, nil
	case *ir.MakeNumberIntStmt:
		return []ir.Local{s.Target}, nil
	case *ir.MakeNumberRefStmt:
		return []ir.Local{s.Target}, nil
	case *ir.MakeArrayStmt:
		return []ir.Local{s.Target}, nil
	case *ir.MakeObjectStmt:
		return []ir.Local{s.Target}, nil
	case *ir.MakeSetStmt:
		return []ir.Local{s.Target}, nil
	case *ir.ObjectMergeStmt:
		return []ir.Local{s.Target}, nil
	case *ir.AssignVarOnceStmt:
		return nil, []ir.Local{s.Target}
	case *ir.ScanStmt:
		return nil, []ir.Local{s.Key, s.Value}
	case *ir.ArrayAppendStmt:
		return nil, []ir.Local{s.Array}
	case *ir.ObjectInsertStmt:
		return nil, []ir.Local{s.Object}
	case *ir.ObjectInsertOnceStmt:
		return nil, []ir.Local{s.Object}
	case *ir.SetAddStmt:
		return nil, []ir.Local{s.Set}
	case *ir.WithStmt:
		return nil, []ir.Local{s.Local}
	}
	return nil, nil
}

// literal fuses a MakeArrayStmt and the appends that directly follow it
// into one statement that builds the array at its final size: one
// allocation instead of one per element. It returns how many statements
// it consumed (0: no fusion).
func (c *compiler) literal(ss []ir.Stmt) (stmt, int, error) {
	switch mk := ss[0].(type) {
	case *ir.MakeArrayStmt:
		lit := &arrayLiteral{dst: c.local(mk.Target), intern: &internCache{}}
		n := 1
		for ; n < len(ss); n++ {
			app, ok := ss[n].(*ir.ArrayAppendStmt)
			if !ok || app.Array != mk.Target {
				break
			}
			if v, isLocal := app.Value.Value.(ir.Local); isLocal && v == mk.Target {
				break
			}
			val, err := c.operand(app.Value)
			if err != nil {
				return nil, 0, err
			}
			lit.vals = append(lit.vals, val)
		}
		if n == 1 {
			return nil, 0, nil
		}
		return c.folded(lit), n, nil
	}
	return nil, 0, nil
}

// objectLiteral fuses a MakeObjectStmt and its inserts into one statement
// that builds the object at its final size. OPA plans an object term
// {k1: v1, k2: v2} as MakeObject, then each value's statements followed by
// its insert, so the inserts are spread out; they are collected up to the
// last one as long as nothing else in between mentions the object, and
// the object is built where the last insert was. That reads each value's
// local later than its insert did, so an insert is only taken when nothing
// up to the last one writes its value's local. Object keys must be
// distinct constants, so the result is the same as inserting one by one.
// Returns the compiled statements replacing the first n of ss (0: none).
func (c *compiler) objectLiteral(ss []ir.Stmt) ([]stmt, int, error) {
	mk, ok := ss[0].(*ir.MakeObjectStmt)
	if !ok {
		return nil, 0, nil
	}
	var inserts []int // indexes into ss
	seen := map[string]bool{}
	for j := 1; j < len(ss); j++ {
		ins, ok := ss[j].(*ir.ObjectInsertStmt)
		if ok && ins.Object == mk.Target {
			idx, isStr := ins.Key.Value.(ir.StringIndex)
			if !isStr || int(idx) < 0 || int(idx) >= len(c.strings) || seen[c.policy.Static.Strings[idx].Value] {
				break
			}
			if v, isLocal := ins.Value.Value.(ir.Local); isLocal && v == mk.Target {
				break
			}
			seen[c.policy.Static.Strings[idx].Value] = true
			inserts = append(inserts, j)
			continue
		}
		if mentionsDeep(ss[j], mk.Target) {
			break
		}
	}
	// Drop inserts whose value local is written before the (new) last
	// insert, until every value is still the same when it is read.
	for len(inserts) > 0 {
		last := inserts[len(inserts)-1]
		keep := len(inserts)
		for i, j := range inserts {
			v, isLocal := ss[j].(*ir.ObjectInsertStmt).Value.Value.(ir.Local)
			if isLocal && writes([]*ir.Block{{Stmts: ss[j+1 : last+1]}}, v) {
				keep = i
				break
			}
		}
		if keep == len(inserts) {
			break
		}
		inserts = inserts[:keep]
	}
	if len(inserts) == 0 {
		return nil, 0, nil
	}
	lit := &objectLiteral{dst: c.local(mk.Target), intern: &internCache{}}
	var out []stmt
	from := 1 // start of the statements since the previous insert
	for _, j := range inserts {
		// The statements between two inserts are compiled together, so
		// paths and literals among them fuse as in any block.
		cs, err := c.block(&ir.Block{Stmts: ss[from:j]})
		if err != nil {
			return nil, 0, err
		}
		out = append(out, cs...)
		ins := ss[j].(*ir.ObjectInsertStmt)
		val, err := c.operand(ins.Value)
		if err != nil {
			return nil, 0, err
		}
		lit.keys = append(lit.keys, c.strings[ins.Key.Value.(ir.StringIndex)])
		lit.vals = append(lit.vals, val)
		from = j + 1
	}
	return append(out, c.folded(lit)), from, nil
}

// constValueStmt assigns a fresh term holding a value built at load: an
// object or array literal whose elements are all constants (the allow
// decision's {"code": "ok", "message": ""}). The value is shared by every
// evaluation; the insert and append statements copy it before changing it.
type constValueStmt struct {
	dst   int32
	value ast.Value
}

// folded returns a literal statement, or a constValueStmt when all its
// elements are constants.
func (c *compiler) folded(lit stmt) stmt {
	var vals []operand
	switch l := lit.(type) {
	case *objectLiteral:
		vals = l.vals
	case *arrayLiteral:
		vals = l.vals
	}
	for _, v := range vals {
		if v.local >= 0 {
			return lit
		}
	}
	var st *constValueStmt
	switch l := lit.(type) {
	case *objectLiteral:
		pairs := make([][2]*ast.Term, len(l.keys))
		for i, k := range l.keys {
			pairs[i] = [2]*ast.Term{k, l.vals[i].term}
		}
		st = &constValueStmt{dst: l.dst, value: ast.NewObject(pairs...)}
	case *arrayLiteral:
		elems := make([]*ast.Term, len(l.vals))
		for i, v := range l.vals {
			elems[i] = v.term
		}
		st = &constValueStmt{dst: l.dst, value: ast.NewArray(elems...)}
	default:
		return lit
	}
	if c.prog.consts == nil {
		c.prog.consts = map[ast.Value]bool{}
	}
	c.prog.consts[st.value] = true
	return st
}

// mentionsDeep reports whether s or any statement nested in it mentions l.
func mentionsDeep(s ir.Stmt, l ir.Local) bool {
	v := &mentionFinder{local: l}
	_ = ir.Walk(v, s)
	return v.found
}

type mentionFinder struct {
	local ir.Local
	found bool
}

func (*mentionFinder) Before(any) {}
func (*mentionFinder) After(any)  {}
func (f *mentionFinder) Visit(x any) (ir.Visitor, error) {
	if s, ok := x.(ir.Stmt); ok && mentions(s, f.local) {
		f.found = true
	}
	return f, nil
}

func (c *compiler) isType(o ir.Operand, kind byte) (stmt, error) {
	src, err := c.operand(o)
	if err != nil {
		return nil, err
	}
	return &isTypeStmt{src: src, kind: kind}, nil
}

func (c *compiler) objectInsert(obj ir.Local, k, v ir.Operand, once bool, loc ir.Location) (stmt, error) {
	key, err := c.operand(k)
	if err != nil {
		return nil, err
	}
	val, err := c.operand(v)
	if err != nil {
		return nil, err
	}
	return &objectInsertStmt{obj: c.local(obj), key: key, val: val, once: once, loc: c.location(loc)}, nil
}

// location renders a statement's source position for conflict errors.
func (c *compiler) location(l ir.Location) string {
	file := "?"
	if c.policy.Static != nil && l.File >= 0 && l.File < len(c.policy.Static.Files) {
		file = c.policy.Static.Files[l.File].Value
	}
	return fmt.Sprintf("%s:%d", file, l.Row)
}

// native names the built-ins the evaluator runs inline: comparisons,
// membership, count, upper/lower/contains, object.get and set union are
// most of a policy's calls, and going through the generic built-in
// interface costs more than the operation. Each computes exactly what its
// topdown implementation computes (in OPA v1.22: the same operand checks,
// and the same operand returned where topdown returns it).
type native uint8

const (
	notNative native = iota
	nativeGT
	nativeGTE
	nativeLT
	nativeLTE
	nativeEqual
	nativeNotEqual
	nativeMember
	nativeCount
	nativeUpper
	nativeLower
	nativeContains
	nativeObjectGet
	nativeSetUnion
)

var natives = map[string]native{
	ast.GreaterThan.Name:   nativeGT,
	ast.GreaterThanEq.Name: nativeGTE,
	ast.LessThan.Name:      nativeLT,
	ast.LessThanEq.Name:    nativeLTE,
	ast.Equal.Name:         nativeEqual,
	ast.NotEqual.Name:      nativeNotEqual,
	ast.Member.Name:        nativeMember,
	ast.Count.Name:         nativeCount,
	ast.Upper.Name:         nativeUpper,
	ast.Lower.Name:         nativeLower,
	ast.Contains.Name:      nativeContains,
	ast.ObjectGet.Name:     nativeObjectGet,
	ast.Or.Name:            nativeSetUnion,
}

// impure lists deterministic-flagged built-ins that still read evaluation
// context the plan evaluator does not provide.
var impure = map[string]bool{
	"internal.print":           true,
	"print":                    true,
	"trace":                    true,
	"opa.runtime":              true,
	"time.now_ns":              true,
	"rego.metadata.chain":      true,
	"rego.metadata.rule":       true,
	"internal.test_case":       true,
	"walk":                     true, // planned with a special calling convention
	"http.send":                true,
	"net.lookup_ip_addr":       true,
	"internal.template_string": true,
}
