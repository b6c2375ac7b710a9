package plan

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Interned object and array literals.
//
// OPA's object is a Go map plus two slices: a two-key object costs five
// allocations and about 300 bytes, most of a decision's allocated memory;
// an array costs three and hashes every element. Many of a policy's
// literals have only scalar values drawn from a few distinct ones
// ({"type": t, "mode": cfg.redact_mode} per redacted PHI type,
// {"x-ward-redacted": "DOB,NAME"}, the path [input.identity.app,
// "topics"]). Each such literal keeps a small table of the values it
// built, keyed by its elements, and hands out the same value again. The
// values are shared by every evaluation, like load-time constants, so an
// object insert copies an interned object first (Program.isShared); an
// interned array is built at its length, so appending to it never writes
// into its elements.
//
// The table is per statement and bounded (maxInterned): values derived
// from the request (a model name, a user string) cannot grow it without
// limit; once full, the literal builds its objects as before. It is
// immutable once published, so readers take no lock; an insert copies it
// (at most maxInterned times per statement).

const maxInterned = 64

var internSeed = maphash.MakeSeed()

type internTable struct {
	entries map[uint64]internEntry
}

type internEntry struct {
	vals []ast.Value // the literal's values, in order
	val  ast.Value   // the object or array built from them
}

// internCache is an object literal's table.
type internCache struct {
	table atomic.Pointer[internTable]
	full  atomic.Bool
}

// scalarHash hashes the literal's values when all of them are scalars;
// ok is false otherwise (the object is built as usual).
func scalarHash(fr []*ast.Term, vals []operand) (h uint64, ok bool) {
	h = 0x9e3779b97f4a7c15
	for _, o := range vals {
		t := read(fr, o)
		if t == nil {
			return 0, false
		}
		var x uint64
		switch v := t.Value.(type) {
		case ast.String:
			x = maphash.String(internSeed, string(v))
		case ast.Number:
			x = maphash.String(internSeed, string(v)) ^ 0x5bd1e995
		case ast.Boolean:
			x = 0x27d4eb2f
			if v {
				x = 0x165667b1
			}
		case ast.Null:
			x = 0x85ebca6b
		default:
			return 0, false
		}
		h = (h ^ x) * 0x100000001b3
		h ^= h >> 29
	}
	return h, true
}

// sameScalars reports whether the entry was built from exactly these
// values (a hash match is not enough).
func (e *internEntry) sameScalars(fr []*ast.Term, vals []operand) bool {
	for i, o := range vals {
		if !scalarEqual(e.vals[i], read(fr, o).Value) {
			return false
		}
	}
	return true
}

// scalarEqual is equality of scalars by representation: 1 and 1.0 are
// different entries, which only costs a second object.
func scalarEqual(a, b ast.Value) bool {
	switch a := a.(type) {
	case ast.String:
		b, ok := b.(ast.String)
		return ok && a == b
	case ast.Number:
		b, ok := b.(ast.Number)
		return ok && a == b
	case ast.Boolean:
		b, ok := b.(ast.Boolean)
		return ok && a == b
	case ast.Null:
		_, ok := b.(ast.Null)
		return ok
	}
	return false
}

// find hashes the literal's elements and looks them up. scalar is false
// when an element is not a scalar (such a literal is never interned); v
// is nil when nothing is interned for these elements.
func (c *internCache) find(fr []*ast.Term, vals []operand) (v ast.Value, h uint64, scalar bool) {
	if h, scalar = scalarHash(fr, vals); scalar {
		v = c.lookup(h, fr, vals)
	}
	return v, h, scalar
}

// lookup returns the interned value for these elements, or nil.
func (c *internCache) lookup(h uint64, fr []*ast.Term, vals []operand) ast.Value {
	t := c.table.Load()
	if t == nil {
		return nil
	}
	e, ok := t.entries[h]
	if !ok || !e.sameScalars(fr, vals) {
		return nil
	}
	return e.val
}

// add publishes v for these elements unless the table is full or another
// evaluation published first; either way v is the caller's to use.
func (c *internCache) add(p *Program, h uint64, v ast.Value, fr []*ast.Term, vals []operand) {
	if c.full.Load() {
		return
	}
	old := c.table.Load()
	n := 0
	if old != nil {
		n = len(old.entries)
		if _, taken := old.entries[h]; taken { // a collision: keep the first
			return
		}
	}
	if n >= maxInterned {
		c.full.Store(true)
		return
	}
	next := &internTable{entries: make(map[uint64]internEntry, n+1)}
	if old != nil {
		for k, e := range old.entries {
			next.entries[k] = e
		}
	}
	e := internEntry{vals: make([]ast.Value, len(vals)), val: v}
	for i, o := range vals {
		e.vals[i] = read(fr, o).Value
	}
	next.entries[h] = e
	// Marked shared before anyone can see it in the table. Only objects:
	// an interned array is built at its length, so an append never
	// writes into it and nothing asks isShared about arrays.
	if _, ok := v.(ast.Object); ok {
		p.shared.Store(v, struct{}{})
	}
	c.table.CompareAndSwap(old, next)
}

// sharedValues is the set of interned objects; see Program.isShared.
type sharedValues = sync.Map

// isShared reports whether v is shared between evaluations (a load-time
// constant or an interned object): an object insert must copy it first.
func (p *Program) isShared(v ast.Value) bool {
	if p.consts[v] {
		return true
	}
	_, ok := p.shared.Load(v)
	return ok
}
