// Package limits enforces requests-per-minute and tokens-per-minute limits
// per team, app or key, and spend budgets per team.
//
// Rate limits use GCRA (the generic cell rate algorithm, a token bucket
// expressed as one "theoretical arrival time" per key): one word of state
// per key, integer arithmetic in memory, and an exact Retry-After. A request
// is checked against several limits at once (team, app and key; requests
// and tokens); the check is atomic: either every limit admits it and all
// are charged, or none is charged. Memory keeps the state in process (one
// replica); Redis shares it between replicas with one Lua script call per
// check.
package limits

import (
	"context"
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

// Limit is a Rule prepared for checking. The zero Limit is invalid; build
// one with NewLimit.
type Limit struct {
	Rule
	interval int64 // nanoseconds per unit, times scale
	tau      int64 // burst tolerance, nanoseconds
}

const (
	// scale keeps sub-nanosecond emission intervals (over 60e9 units per
	// minute) exact enough: intervals are kept in 1/scale nanoseconds.
	scale = 1 << 10
	// MaxItems bounds the limits one check may test at once.
	MaxItems   = 8
	numShards  = 64
	sweepEvery = 4096
	maxRate    = 1_000_000_000_000
)

// NewLimit validates a rule and precomputes its GCRA parameters.
func NewLimit(r Rule) (Limit, error) {
	if r.Burst == 0 {
		r.Burst = r.PerMinute
	}
	var errs []error
	if r.PerMinute <= 0 || r.PerMinute > maxRate {
		errs = append(errs, fmt.Errorf("per_minute: %d outside [1, 1e12]", r.PerMinute))
	}
	if r.Burst < 0 || r.Burst > maxRate {
		errs = append(errs, fmt.Errorf("burst: %d outside [1, 1e12]", r.Burst))
	}
	if len(errs) > 0 {
		return Limit{}, errors.Join(errs...)
	}
	l := Limit{Rule: r, interval: int64(time.Minute) * scale / r.PerMinute}
	l.tau = mulScaled(r.Burst, l.interval)
	return l, nil
}

// TooLarge reports whether n units exceed the burst, so no wait can ever
// admit them; such a request should be refused outright rather than asked
// to retry.
func (l Limit) TooLarge(n int64) bool { return mulScaled(n, l.interval) > l.tau }

// cost is the GCRA increment for n units, in nanoseconds.
func (l Limit) cost(n int64) int64 { return mulScaled(n, l.interval) }

// mulScaled returns n*interval/scale, saturating instead of overflowing.
func mulScaled(n, interval int64) int64 {
	if n <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(n), uint64(interval))
	if hi >= scale {
		return 1 << 62
	}
	q, _ := bits.Div64(hi, lo, scale)
	if q > 1<<62 {
		return 1 << 62
	}
	return int64(q)
}

// Item is one limit to test in a check: N units against Limit under Key.
// Keys name the limited thing and the unit, e.g. "ward:rl:{cardiology}:team:rpm".
type Item struct {
	Key   string
	Limit Limit
	N     int64
}

// Result is the outcome of a check.
type Result struct {
	Allowed bool
	// RetryAfter is how long until every item would fit (0 when allowed).
	RetryAfter time.Duration
	// Denied is the index of the item that refused (the longest wait), -1
	// when allowed.
	Denied int
	// TooLarge means the denied item asks for more than its burst: no
	// retry will help.
	TooLarge bool
}

// Store is where limiter state lives: in memory or in Redis.
type Store interface {
	// Allow admits and charges all items, or none (Result.Allowed false).
	// Items with N <= 0 always fit and are not charged.
	Allow(ctx context.Context, items []Item) (Result, error)
	// Charge debits all items unconditionally (output tokens known only
	// after the response); a key may go into debt, delaying its next Allow.
	Charge(ctx context.Context, items []Item) error
}

// ErrTooManyItems is returned for a check of more than MaxItems limits.
var ErrTooManyItems = fmt.Errorf("limits: more than %d items in one check", MaxItems)

// tooLarge returns the first item larger than its burst, or -1.
func tooLarge(items []Item) int {
	for i := range items {
		if items[i].N > 0 && items[i].Limit.TooLarge(items[i].N) {
			return i
		}
	}
	return -1
}

// Memory is an in-process Store. It is safe for concurrent use; keys are
// spread over shards to keep lock contention low, and a check locks the
// shards it touches in index order, so it is atomic without deadlock.
type Memory struct {
	now    func() int64
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu sync.Mutex
	// tat is each key's theoretical arrival time (ns since start), behind a
	// pointer so a check hashes each key once; a key allocates only when new.
	tat map[string]*int64
	ops int
	_   [40]byte // keep shards on separate cache lines
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store. now is the clock (nil: the
// monotonic clock), injectable for tests.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	start := now()
	m := &Memory{
		now:  func() int64 { return int64(now().Sub(start)) + int64(time.Hour) },
		seed: maphash.MakeSeed(),
	}
	for i := range m.shards {
		m.shards[i].tat = map[string]*int64{}
	}
	return m
}

// lockSet is the sorted set of shards one check touches.
type lockSet struct {
	idx [MaxItems]uint8
	n   int
}

func (m *Memory) lock(items []Item) (ls lockSet, shardOf [MaxItems]uint8) {
	for i := range items {
		s := uint8(maphash.String(m.seed, items[i].Key) % numShards)
		shardOf[i] = s
		// Insertion into a tiny sorted set.
		j := ls.n
		for j > 0 && ls.idx[j-1] > s {
			j--
		}
		if j > 0 && ls.idx[j-1] == s {
			continue
		}
		copy(ls.idx[j+1:ls.n+1], ls.idx[j:ls.n])
		ls.idx[j] = s
		ls.n++
	}
	for i := 0; i < ls.n; i++ {
		m.shards[ls.idx[i]].mu.Lock()
	}
	return ls, shardOf
}

func (m *Memory) unlock(ls lockSet) {
	for i := ls.n - 1; i >= 0; i-- {
		m.shards[ls.idx[i]].mu.Unlock()
	}
}

// Allow implements Store. It does not allocate once a key exists.
func (m *Memory) Allow(_ context.Context, items []Item) (Result, error) {
	if len(items) > MaxItems {
		return Result{Denied: -1}, ErrTooManyItems
	}
	if i := tooLarge(items); i >= 0 {
		return Result{Denied: i, TooLarge: true, RetryAfter: time.Minute}, nil
	}
	now := m.now()
	ls, shardOf := m.lock(items)
	var newTat [MaxItems]int64
	var slot [MaxItems]*int64
	var wait int64
	denied := -1
	for i := range items {
		it := &items[i]
		if it.N <= 0 {
			continue
		}
		var tat int64
		if p := m.shards[shardOf[i]].tat[it.Key]; p != nil {
			slot[i], tat = p, *p
		}
		if tat < now {
			tat = now
		}
		newTat[i] = tat + it.Limit.cost(it.N)
		if newTat[i] < tat { // a key deep in debt: saturate, never wrap to "free"
			newTat[i] = 1<<63 - 1
		}
		if w := newTat[i] - now - it.Limit.tau; w > wait {
			wait, denied = w, i
		}
	}
	if denied >= 0 {
		m.unlock(ls)
		return Result{Denied: denied, RetryAfter: time.Duration(wait)}, nil
	}
	for i := range items {
		if items[i].N <= 0 {
			continue
		}
		s := &m.shards[shardOf[i]]
		if slot[i] == nil {
			slot[i] = new(int64)
			s.tat[items[i].Key] = slot[i]
		}
		*slot[i] = newTat[i]
		s.maybeSweep(now)
	}
	m.unlock(ls)
	return Result{Allowed: true, Denied: -1}, nil
}

// Charge implements Store.
func (m *Memory) Charge(_ context.Context, items []Item) error {
	if len(items) > MaxItems {
		return ErrTooManyItems
	}
	now := m.now()
	ls, shardOf := m.lock(items)
	for i := range items {
		it := &items[i]
		if it.N <= 0 {
			continue
		}
		s := &m.shards[shardOf[i]]
		p := s.tat[it.Key]
		if p == nil {
			p = new(int64)
			s.tat[it.Key] = p
		}
		tat := max(*p, now)
		if t := tat + it.Limit.cost(it.N); t > tat { // saturate rather than wrap
			tat = t
		}
		*p = tat
		s.maybeSweep(now)
	}
	m.unlock(ls)
	return nil
}

// maybeSweep drops keys whose allowance is full again (state equal to a
// fresh key), bounding memory by the keys active in the last burst window.
func (s *shard) maybeSweep(now int64) {
	s.ops++
	if s.ops < sweepEvery {
		return
	}
	s.ops = 0
	for k, tat := range s.tat {
		if *tat <= now {
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
