package limits

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newFake() *fakeClock                    { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func mustMemory(t *testing.T, r Rule, c *fakeClock) *Memory {
	t.Helper()
	m, err := NewMemory(r, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAllowRPM(t *testing.T) {
	c := newFake()
	m := mustMemory(t, Rule{PerMinute: 60}, c) // one per second, burst 60
	for i := 0; i < 60; i++ {
		if ok, _ := m.Allow("team-a", 1); !ok {
			t.Fatalf("request %d refused within burst", i)
		}
	}
	ok, retry := m.Allow("team-a", 1)
	if ok || retry != time.Second {
		t.Fatalf("61st: ok=%v retry=%v, want refused with 1s", ok, retry)
	}
	if ok, _ := m.Allow("team-b", 1); !ok {
		t.Fatal("other key must be independent")
	}
	c.advance(999 * time.Millisecond)
	if ok, retry := m.Allow("team-a", 1); ok || retry != time.Millisecond {
		t.Fatalf("after 999ms: ok=%v retry=%v", ok, retry)
	}
	c.advance(time.Millisecond)
	if ok, _ := m.Allow("team-a", 1); !ok {
		t.Fatal("refused after Retry-After elapsed")
	}
}

func TestAllowTPMAndCharge(t *testing.T) {
	c := newFake()
	m := mustMemory(t, Rule{PerMinute: 10_000, Burst: 10_000}, c)
	if ok, _ := m.Allow("k", 8_000); !ok { // prompt tokens before the request
		t.Fatal("8000 refused")
	}
	m.Charge("k", 4_000) // output tokens after the response: 2000 into debt
	ok, retry := m.Allow("k", 1_000)
	// Need 3000 tokens of room = 18 s at 10000/min.
	if ok || retry != 18*time.Second {
		t.Fatalf("ok=%v retry=%v, want 18s", ok, retry)
	}
	c.advance(18 * time.Second)
	if ok, _ := m.Allow("k", 1_000); !ok {
		t.Fatal("refused after 18s")
	}
}

func TestTooLargeAndEdgeCases(t *testing.T) {
	c := newFake()
	m := mustMemory(t, Rule{PerMinute: 100, Burst: 50}, c)
	if !m.TooLarge(51) || m.TooLarge(50) {
		t.Fatal("TooLarge wrong")
	}
	if ok, retry := m.Allow("k", 51); ok || retry != time.Minute {
		t.Fatalf("over burst: %v %v", ok, retry)
	}
	if ok, _ := m.Allow("k", 0); !ok {
		t.Fatal("n=0 must pass")
	}
	if ok, _ := m.Allow("k", -5); !ok {
		t.Fatal("negative n must pass without charging")
	}
	if ok, _ := m.Allow("k", 50); !ok {
		t.Fatal("full burst refused: negative n must not have charged")
	}
	m.Charge("k", 1<<62) // absurd charge saturates, no wraparound to "free"
	if ok, _ := m.Allow("k", 1); ok {
		t.Fatal("allowed after huge debt")
	}
}

func TestNewMemoryValidation(t *testing.T) {
	_, err := NewMemory(Rule{PerMinute: 0, Burst: -1}, nil)
	if err == nil || !strings.Contains(err.Error(), "per_minute") || !strings.Contains(err.Error(), "burst") {
		t.Fatalf("err = %v", err)
	}
}

func TestSweepBoundsKeys(t *testing.T) {
	c := newFake()
	m := mustMemory(t, Rule{PerMinute: 600}, c)
	for i := 0; i < 20_000; i++ {
		m.Allow("key-"+strconv.Itoa(i), 1)
		if i%1000 == 999 {
			c.advance(time.Second) // each key's debt (0.1 s) has expired
		}
	}
	if n := m.Len(); n > numShards*sweepEvery/2 {
		t.Fatalf("%d keys tracked; sweep did not run", n)
	}
}

// TestConcurrentAllowNeverOveradmits: under contention exactly the burst is
// admitted when the clock does not move.
func TestConcurrentAllowNeverOveradmits(t *testing.T) {
	c := newFake()
	m := mustMemory(t, Rule{PerMinute: 1000}, c)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if ok, _ := m.Allow("shared", 1); ok {
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

// BenchmarkAllow: the in-memory check (target ≤ 2 µs).
//
//	go test ./policy/limits -run '^$' -bench Allow -benchtime 200000x
func BenchmarkAllow(b *testing.B) {
	m, err := NewMemory(Rule{PerMinute: 1e11}, nil)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "team-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Allow(keys[i%len(keys)], 100)
			i++
		}
	})
}
