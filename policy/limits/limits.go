// Package limits enforces requests-per-minute and tokens-per-minute limits
// per team, app or key. Memory is the in-process limiter (one replica);
// a Redis implementation with the same semantics is planned for several
// replicas.
//
// The algorithm is GCRA (the generic cell rate algorithm, a token bucket
// expressed as one "theoretical arrival time" per key): integer arithmetic,
// one word of state per key, and an exact Retry-After.
package limits

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
)

// Rule is one rate limit: PerMinute units (requests or tokens) per minute,
// with bursts of up to Burst units (default: PerMinute, i.e. a full minute's
// allowance may be spent at once).
type Rule struct {
	PerMinute int64
	Burst     int64
}

// Memory is an in-memory GCRA limiter for one Rule over many keys. It is
// safe for concurrent use; keys are spread over shards to keep lock
// contention low.
type Memory struct {
	interval int64 // nanoseconds per unit, scaled by scale
	tau      int64 // burst tolerance, nanoseconds
	now      func() int64
	seed     maphash.Seed
	shards   [numShards]shard
}

const (
	numShards = 64
	// scale keeps sub-nanosecond emission intervals exact enough: intervals
	// are kept in 1/scale nanoseconds.
	scale      = 1 << 10
	sweepEvery = 4096
)

type shard struct {
	mu  sync.Mutex
	tat map[string]int64 // theoretical arrival time, ns since start
	ops int
	_   [40]byte // keep shards on separate cache lines
}

// NewMemory returns a limiter enforcing rule. now is the clock (nil: the
// monotonic clock), injectable for tests.
func NewMemory(rule Rule, now func() time.Time) (*Memory, error) {
	if rule.Burst == 0 {
		rule.Burst = rule.PerMinute
	}
	var errs []error
	if rule.PerMinute <= 0 || rule.PerMinute > 1e12 {
		errs = append(errs, fmt.Errorf("per_minute: %d outside [1, 1e12]", rule.PerMinute))
	}
	if rule.Burst < 0 || rule.Burst > 1e12 {
		errs = append(errs, fmt.Errorf("burst: %d outside [1, 1e12]", rule.Burst))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if now == nil {
		now = time.Now
	}
	start := now()
	m := &Memory{
		interval: int64(time.Minute) * scale / rule.PerMinute,
		now:      func() int64 { return int64(now().Sub(start)) },
		seed:     maphash.MakeSeed(),
	}
	m.tau = mulScaled(rule.Burst, m.interval)
	for i := range m.shards {
		m.shards[i].tat = map[string]int64{}
	}
	return m, nil
}

// mulScaled returns n*interval/scale, saturating instead of overflowing.
func mulScaled(n, interval int64) int64 {
	hi, lo := bits.Mul64(uint64(n), uint64(interval))
	if hi >= scale {
		return 1<<63 - 1
	}
	q, _ := bits.Div64(hi, lo, scale)
	if q > 1<<62 {
		return 1 << 62
	}
	return int64(q)
}

func (m *Memory) shard(key string) *shard {
	return &m.shards[maphash.String(m.seed, key)%numShards]
}

// TooLarge reports whether n units exceed the burst, so Allow can never
// admit them; the caller should reject such a request outright (OpenAI
// answers "request too large") rather than ask the client to retry.
func (m *Memory) TooLarge(n int64) bool { return mulScaled(n, m.interval) > m.tau }

// Allow admits n units for key if the key's budget has room, and charges
// them. Otherwise it charges nothing and returns how long until n units
// would fit. A request larger than the burst is refused with a full minute
// (see TooLarge). n <= 0 always succeeds.
func (m *Memory) Allow(key string, n int64) (ok bool, retryAfter time.Duration) {
	if n <= 0 {
		return true, 0
	}
	cost := mulScaled(n, m.interval)
	if cost > m.tau {
		return false, time.Minute
	}
	now := m.now()
	s := m.shard(key)
	s.mu.Lock()
	tat, found := s.tat[key]
	if !found || tat < now {
		tat = now
	}
	newTat := tat + cost
	if wait := newTat - now - m.tau; wait > 0 {
		s.mu.Unlock()
		return false, time.Duration(wait)
	}
	s.tat[key] = newTat
	s.maybeSweep(now)
	s.mu.Unlock()
	return true, 0
}

// Charge debits n units unconditionally (output tokens known only after the
// response); the key may go into debt, delaying its next Allow.
func (m *Memory) Charge(key string, n int64) {
	if n <= 0 {
		return
	}
	cost := mulScaled(n, m.interval)
	now := m.now()
	s := m.shard(key)
	s.mu.Lock()
	tat := s.tat[key]
	if tat < now {
		tat = now
	}
	if tat+cost > tat { // saturate rather than wrap
		tat += cost
	}
	s.tat[key] = tat
	s.maybeSweep(now)
	s.mu.Unlock()
}

// maybeSweep drops keys whose budget is full again (state equal to a fresh
// key), bounding memory by the keys active in the last burst window.
func (s *shard) maybeSweep(now int64) {
	s.ops++
	if s.ops < sweepEvery {
		return
	}
	s.ops = 0
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
}

// Len returns the number of keys currently tracked (for metrics and tests).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}
