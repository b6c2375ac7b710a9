package limits

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFake() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func mustLimit(t testing.TB, r Rule) Limit {
	t.Helper()
	l, err := NewLimit(r)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// allow1 checks one item.
func allow1(t testing.TB, s Store, key string, l Limit, n int64) Result {
	t.Helper()
	res, err := s.Allow(context.Background(), []Item{{Key: key, Limit: l, N: n}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// stores runs a test against Memory (fake clock) and, when reachable,
// Redis (real clock, so only for tests whose timing is coarse).
func TestAllowRPM(t *testing.T) {
	c := newFake()
	m := NewMemory(c.now)
	rpm := mustLimit(t, Rule{PerMinute: 60}) // one per second, burst 60
	for i := 0; i < 60; i++ {
		if r := allow1(t, m, "team-a", rpm, 1); !r.Allowed {
			t.Fatalf("request %d refused within burst", i)
		}
	}
	r := allow1(t, m, "team-a", rpm, 1)
	if r.Allowed || r.RetryAfter != time.Second || r.Denied != 0 || r.TooLarge {
		t.Fatalf("61st: %+v, want refused with 1s", r)
	}
	if r := allow1(t, m, "team-b", rpm, 1); !r.Allowed {
		t.Fatal("other key must be independent")
	}
	c.advance(999 * time.Millisecond)
	if r := allow1(t, m, "team-a", rpm, 1); r.Allowed || r.RetryAfter != time.Millisecond {
		t.Fatalf("after 999ms: %+v", r)
	}
	c.advance(time.Millisecond)
	if r := allow1(t, m, "team-a", rpm, 1); !r.Allowed {
		t.Fatal("refused after Retry-After elapsed")
	}
}

func TestAllowTPMAndCharge(t *testing.T) {
	c := newFake()
	m := NewMemory(c.now)
	tpm := mustLimit(t, Rule{PerMinute: 10_000})
	if r := allow1(t, m, "k", tpm, 8_000); !r.Allowed { // prompt tokens before the request
		t.Fatal("8000 refused")
	}
	// Output tokens after the response: 2000 into debt.
	if err := m.Charge(context.Background(), []Item{{Key: "k", Limit: tpm, N: 4_000}}); err != nil {
		t.Fatal(err)
	}
	// Need 3000 tokens of room = 18 s at 10000/min.
	if r := allow1(t, m, "k", tpm, 1_000); r.Allowed || r.RetryAfter != 18*time.Second {
		t.Fatalf("%+v, want refused for 18s", r)
	}
	c.advance(18 * time.Second)
	if r := allow1(t, m, "k", tpm, 1_000); !r.Allowed {
		t.Fatal("refused after 18s")
	}
}

// TestAllowAllOrNothing: when one limit refuses, no other is charged.
func TestAllowAllOrNothing(t *testing.T) {
	c := newFake()
	m := NewMemory(c.now)
	team := mustLimit(t, Rule{PerMinute: 100})
	key := mustLimit(t, Rule{PerMinute: 2})
	items := []Item{{Key: "team", Limit: team, N: 1}, {Key: "key", Limit: key, N: 1}}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if r, _ := m.Allow(ctx, items); !r.Allowed {
			t.Fatalf("request %d refused", i)
		}
	}
	for i := 0; i < 50; i++ {
		r, _ := m.Allow(ctx, items)
		if r.Allowed || r.Denied != 1 || r.RetryAfter != 30*time.Second {
			t.Fatalf("refusal %d: %+v", i, r)
		}
	}
	// The team limit saw only the 2 admitted requests: 98 more fit.
	for i := 0; i < 98; i++ {
		if r := allow1(t, m, "team", team, 1); !r.Allowed {
			t.Fatalf("team request %d refused: refused checks were charged", i)
		}
	}
	if r := allow1(t, m, "team", team, 1); r.Allowed {
		t.Fatal("team over its burst")
	}
}

func TestTooLargeAndEdgeCases(t *testing.T) {
	c := newFake()
	m := NewMemory(c.now)
	l := mustLimit(t, Rule{PerMinute: 100, Burst: 50})
	if !l.TooLarge(51) || l.TooLarge(50) {
		t.Fatal("TooLarge wrong")
	}
	if r := allow1(t, m, "k", l, 51); r.Allowed || !r.TooLarge || r.RetryAfter != time.Minute {
		t.Fatalf("over burst: %+v", r)
	}
	if r := allow1(t, m, "k", l, 0); !r.Allowed {
		t.Fatal("n=0 must pass")
	}
	if r := allow1(t, m, "k", l, -5); !r.Allowed {
		t.Fatal("negative n must pass without charging")
	}
	if r := allow1(t, m, "k", l, 50); !r.Allowed {
		t.Fatal("full burst refused: negative n must have charged")
	}
	ctx := context.Background()
	for i := 0; i < 3; i++ { // absurd charges saturate, no wraparound to "free"
		m.Charge(ctx, []Item{{Key: "k", Limit: l, N: 1 << 62}})
	}
	if r := allow1(t, m, "k", l, 1); r.Allowed {
		t.Fatal("allowed after huge debt")
	}
	if _, err := m.Allow(ctx, make([]Item, MaxItems+1)); err != ErrTooManyItems {
		t.Fatalf("err = %v", err)
	}
}

func TestNewLimitValidation(t *testing.T) {
	for _, tc := range []struct {
		r    Rule
		want []string
	}{
		{Rule{PerMinute: 0, Burst: -1}, []string{"per_minute", "burst"}},
		{Rule{PerMinute: 2e12}, []string{"per_minute"}},
		{Rule{PerMinute: 10, Burst: 2e12}, []string{"burst"}},
	} {
		_, err := NewLimit(tc.r)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: err = %v, want %q", tc.r, err, w)
			}
		}
	}
	l, err := NewLimit(Rule{PerMinute: 1e12})
	if err != nil || l.Burst != 1e12 {
		t.Fatalf("max rate: %+v %v", l, err)
	}
}

func TestSweepBoundsKeys(t *testing.T) {
	c := newFake()
	m := NewMemory(c.now)
	l := mustLimit(t, Rule{PerMinute: 600})
	for i := 0; i < 20_000; i++ {
		allow1(t, m, "key-"+strconv.Itoa(i), l, 1)
		if i%1000 == 999 {
			c.advance(time.Second) // each key's debt (0.1 s) has expired
		}
	}
	if n := m.Len(); n > numShards*sweepEvery/2 {
		t.Fatalf("%d keys tracked; sweep did not run", n)
	}
}

// TestConcurrentAllowNeverOveradmits: under contention exactly the burst is
// admitted when the clock does not move, also across multi-shard checks.
func TestConcurrentAllowNeverOveradmits(t *testing.T) {
	c := newFake()
	m := NewMemory(c.now)
	shared := mustLimit(t, Rule{PerMinute: 1000})
	own := mustLimit(t, Rule{PerMinute: 1e6})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items := []Item{
				{Key: "own-" + strconv.Itoa(g), Limit: own, N: 1},
				{Key: "shared", Limit: shared, N: 1},
				{Key: "other-" + strconv.Itoa(g%3), Limit: own, N: 1},
			}
			for i := 0; i < 500; i++ {
				if r, _ := m.Allow(context.Background(), items); r.Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if admitted.Load() != 1000 {
		t.Fatalf("admitted %d, want 1000", admitted.Load())
	}
}

// BenchmarkMemoryAllow is the in-memory check of a typical request: team,
// app and key, requests and tokens (6 limits). Target ≤ 2 µs, 0 allocs.
//
//	go test ./policy/limits -run '^$' -bench MemoryAllow -benchtime 200000x
func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory(nil)
	rpm := mustLimit(b, Rule{PerMinute: 1e11})
	tpm := mustLimit(b, Rule{PerMinute: 1e12})
	const teams = 256
	plans := make([][]Item, teams)
	for i := range plans {
		id := strconv.Itoa(i)
		plans[i] = []Item{
			{Key: "ward:rl:{t" + id + "}:team:rpm", Limit: rpm, N: 1},
			{Key: "ward:rl:{t" + id + "}:team:tpm", Limit: tpm, N: 900},
			{Key: "ward:rl:{t" + id + "}:app:a:rpm", Limit: rpm, N: 1},
			{Key: "ward:rl:{t" + id + "}:app:a:tpm", Limit: tpm, N: 900},
			{Key: "ward:rl:{t" + id + "}:key:k:rpm", Limit: rpm, N: 1},
			{Key: "ward:rl:{t" + id + "}:key:k:tpm", Limit: tpm, N: 900},
		}
	}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if r, _ := m.Allow(ctx, plans[i%teams]); !r.Allowed {
				b.Fatal("refused")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				m.Allow(ctx, plans[i%teams])
				i++
			}
		})
	})
}
