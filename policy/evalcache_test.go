package policy

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestVirtualCache(t *testing.T) {
	c := getVirtualCache()
	defer c.release()
	ref := ast.MustParseRef("data.ward.clinical.baa")
	other := ast.MustParseRef("data.ward.clinical.audit")
	if v, undef := c.Get(ref); v != nil || undef {
		t.Fatalf("empty cache: got %v %v", v, undef)
	}
	// The key is copied: OPA reuses the slice it passes.
	buf := ref.Copy()
	c.Put(buf, ast.BooleanTerm(true))
	buf[3] = ast.StringTerm("changed")
	if v, _ := c.Get(ref); v == nil || !v.Equal(ast.BooleanTerm(true)) {
		t.Fatalf("Get after Put: %v", v)
	}
	c.Put(other, nil)
	if v, undef := c.Get(other); v != nil || !undef {
		t.Fatalf("undefined entry: got %v %v", v, undef)
	}
	if got := len(c.Keys()); got != 1 {
		t.Fatalf("Keys: %d, want 1 (undefined entries are not keys)", got)
	}
	// A pushed frame (a `with` statement) starts empty and is discarded.
	c.Push()
	if v, _ := c.Get(ref); v != nil {
		t.Fatalf("new frame sees the outer frame: %v", v)
	}
	c.Put(ref, ast.BooleanTerm(false))
	c.Pop()
	if v, _ := c.Get(ref); v == nil || !v.Equal(ast.BooleanTerm(true)) {
		t.Fatalf("outer frame after Pop: %v", v)
	}
	// Many keys with chained hash buckets.
	for i := range 200 {
		c.Put(ast.Ref{ast.DefaultRootDocument, ast.IntNumberTerm(i)}, ast.IntNumberTerm(i))
	}
	for i := range 200 {
		if v, _ := c.Get(ast.Ref{ast.DefaultRootDocument, ast.IntNumberTerm(i)}); v == nil || !v.Equal(ast.IntNumberTerm(i)) {
			t.Fatalf("key %d: %v", i, v)
		}
	}
}

func TestDataCache(t *testing.T) {
	c := dataCache{root: ast.MustParseTerm(`{"ward": {"config": {"a": [1, 2]}}}`).Value}
	if v := c.Get(ast.MustParseRef("data.ward.config.a")); v == nil || v.Compare(ast.MustParseTerm("[1, 2]").Value) != 0 {
		t.Fatalf("got %v", v)
	}
	for _, r := range []string{"data", "data.ward.nope", "data.ward.config.a.b", "data.ward[x]"} {
		if v := c.Get(ast.MustParseRef(r)); v != nil {
			t.Errorf("%s: got %v, want a miss", r, v)
		}
	}
}

// TestDecideWithStatementsAndData checks the pooled caches against a policy
// that evaluates rules under `with` (a pushed cache frame) and reads data,
// across several decisions that reuse the pool.
func TestDecideWithStatementsAndData(t *testing.T) {
	fsys := fstest.MapFS{
		"p.rego": {Data: []byte(`package ward

limit := data.ward.cfg.limit

default over := false

over if input.version > limit

default allow := false

allow if not over

# Evaluated under with: a pushed cache frame that must not leak.
shadow := x if x := over with input.version as 100

decision := {"allow": allow, "reason": {"code": "ok", "message": ""}, "status": 0, "redact": [], "route": {}, "headers": {}, "audit": "full", "tags": [sprintf("%v", [shadow])]}
`)},
		"data.json": {Data: []byte(`{"ward": {"cfg": {"limit": 5}}}`)},
	}
	e := newEngine(t, FromFS(fsys, "test"), Options{})
	for i, tc := range []struct {
		n     int
		allow bool
	}{{1, true}, {9, false}, {5, true}, {6, false}} {
		d, err := e.Decide(context.Background(), "", &Input{Version: tc.n})
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if d.Allow != tc.allow || len(d.Tags) != 1 || d.Tags[0] != "true" {
			t.Errorf("version %d: allow %v tags %v, want allow %v tags [true]", tc.n, d.Allow, d.Tags, tc.allow)
		}
	}
}

// TestDecideConcurrentSharedCaches runs clinical decisions on several
// goroutines (the pooled virtual caches, the shared data cache and read
// transaction) and requires each to equal the sequential decision. Run it
// with -race.
func TestDecideConcurrentSharedCaches(t *testing.T) {
	e := newEngine(t, Embedded(), Options{})
	ctx := context.Background()
	req := clinicalInput(1024)
	resp := clinicalInput(1024)
	resp.Phase, resp.Identity.App = PhaseResponse, "patient-portal"
	resp.Output = &Output{Text: "You should take 400 mg of ibuprofen every 6 hours."}
	want := map[*Input]Decision{}
	for _, in := range []*Input{req, resp} {
		d, err := e.Decide(ctx, "", in)
		if err != nil {
			t.Fatal(err)
		}
		want[in] = d
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				in := req
				if (g+i)%2 == 1 {
					in = resp
				}
				d, err := e.Decide(ctx, "", in)
				if err != nil || !reflect.DeepEqual(d, want[in]) {
					t.Errorf("goroutine %d: %+v %v, want %+v", g, d, err, want[in])
					return
				}
			}
		})
	}
	wg.Wait()
}
