package policy

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// OPA's default virtual-document cache is a trie of hash maps built afresh
// for every evaluation: with Ward's ~50 rules per decision that is a fifth
// of the decision's allocations. virtualCache keeps the same semantics in
// flat, reusable slices and maps, pooled across decisions, so a warm
// decision allocates nothing for it.

// vcEntry is one cached rule result. The key is copied into the frame's
// key arena: OPA passes slices of buffers it later overwrites.
type vcEntry struct {
	key       int32 // offset of the key in vcFrame.keys
	n         int32 // key length
	next      int32 // next entry with the same hash, -1 at the end
	undefined bool
	value     *ast.Term
}

type vcFrame struct {
	heads   map[int]int32 // ref hash → first entry
	entries []vcEntry
	keys    []*ast.Term
}

func (f *vcFrame) reset() {
	clear(f.heads)
	clear(f.entries) // drop references to the last decision's values
	f.entries = f.entries[:0]
	clear(f.keys)
	f.keys = f.keys[:0]
}

func (f *vcFrame) find(ref ast.Ref, h int) *vcEntry {
	i, ok := f.heads[h]
	if !ok {
		return nil
	}
	for i >= 0 {
		e := &f.entries[i]
		if int(e.n) == len(ref) && ast.Ref(f.keys[e.key:e.key+e.n]).Equal(ref) {
			return e
		}
		i = e.next
	}
	return nil
}

// virtualCache implements topdown.VirtualCache. Frames are pushed for
// `with` statements; each frame starts empty, like OPA's.
type virtualCache struct {
	frames []*vcFrame
	depth  int
}

var _ topdown.VirtualCache = (*virtualCache)(nil)

var virtualCachePool = sync.Pool{New: func() any {
	c := &virtualCache{}
	c.Push()
	return c
}}

func getVirtualCache() *virtualCache { return virtualCachePool.Get().(*virtualCache) }

// release resets c to one empty frame and returns it to the pool.
func (c *virtualCache) release() {
	for i := range c.depth {
		c.frames[i].reset()
	}
	c.depth = 1
	virtualCachePool.Put(c)
}

func (c *virtualCache) Push() {
	if c.depth == len(c.frames) {
		c.frames = append(c.frames, &vcFrame{heads: make(map[int]int32, 64)})
	}
	c.depth++
}

func (c *virtualCache) Pop() {
	c.depth--
	c.frames[c.depth].reset()
}

func (c *virtualCache) top() *vcFrame { return c.frames[c.depth-1] }

// Get returns the cached value (nil, false: not cached; nil, true: cached
// as undefined).
func (c *virtualCache) Get(ref ast.Ref) (*ast.Term, bool) {
	e := c.top().find(ref, ref.Hash())
	if e == nil {
		return nil, false
	}
	if e.undefined {
		return nil, true
	}
	return e.value, false
}

// Put caches value for ref (nil marks ref undefined), as OPA's cache does.
func (c *virtualCache) Put(ref ast.Ref, value *ast.Term) {
	f := c.top()
	h := ref.Hash()
	e := f.find(ref, h)
	if e == nil {
		next, ok := f.heads[h]
		if !ok {
			next = -1
		}
		f.entries = append(f.entries, vcEntry{key: int32(len(f.keys)), n: int32(len(ref)), next: next})
		f.keys = append(f.keys, ref...)
		f.heads[h] = int32(len(f.entries) - 1)
		e = &f.entries[len(f.entries)-1]
	}
	if value != nil {
		e.value = value
	} else {
		e.undefined = true
	}
}

// Keys returns the refs cached in the active frame.
func (c *virtualCache) Keys() []ast.Ref {
	f := c.top()
	keys := make([]ast.Ref, 0, len(f.entries))
	for i := range f.entries {
		e := &f.entries[i]
		if e.value != nil {
			keys = append(keys, ast.Ref(f.keys[e.key:e.key+e.n]).Copy())
		}
	}
	return keys
}

// dataCache implements topdown.BaseCache over the snapshot's whole data
// document, read once at load: the store never changes after a load, so
// every decision shares it and reads base documents without a storage
// transaction read, a path conversion or a per-decision cache trie.
type dataCache struct {
	root ast.Value
}

var _ topdown.BaseCache = dataCache{}

// Get returns the value at ref (data.a.b...), or nil if there is none.
func (c dataCache) Get(ref ast.Ref) ast.Value {
	if len(ref) < 2 || c.root == nil { // data itself: let OPA read it (it strips system keys)
		return nil
	}
	v, err := c.root.Find(ref[1:])
	if err != nil {
		return nil
	}
	return v
}

// Put is a no-op: everything readable is already cached, and the cache is
// shared by concurrent decisions.
func (dataCache) Put(ast.Ref, ast.Value) {}
