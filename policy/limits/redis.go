package limits

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is the multi-key GCRA check, run atomically by Redis. Time is
// Redis's own clock (TIME), so replicas with skewed clocks agree. State is
// the theoretical arrival time in microseconds, written with %.0f because
// Lua's default number format keeps only 14 digits. Keys expire when their
// allowance is full again, so idle keys cost nothing.
//
//	KEYS[i]                  one per item
//	ARGV[1]                  "a" (allow: all or none) or "c" (charge)
//	ARGV[2+3(i-1)] .. +2     interval µs per unit, burst tolerance µs, units
//
// Returns {allowed 0|1, wait µs, denied item (1-based, 0 when allowed)}.
const gcraScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local allow = ARGV[1] == 'a'
local cur = redis.call('MGET', unpack(KEYS))
local newtat = {}
local wait, denied = 0, 0
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 3
  local interval, tau, n = tonumber(ARGV[b]), tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  local tat = tonumber(cur[i] or 0) or 0
  if tat < now then tat = now end
  newtat[i] = tat + n * interval
  if allow and n > 0 then
    local w = newtat[i] - now - tau
    if w > wait then wait, denied = w, i end
  end
end
if denied > 0 then return {0, math.ceil(wait), denied} end
for i = 1, #KEYS do
  local ttl = math.ceil((newtat[i] - now) / 1000)
  if ttl > 0 then
    redis.call('SET', KEYS[i], string.format('%.0f', newtat[i]), 'PX', ttl)
  end
end
return {1, 0, 0}
`

// Redis is a Store shared by every replica that uses the same Redis. A
// check is one EVALSHA round trip (EVAL once after a Redis restart).
//
// The keys of one check should share a Redis Cluster hash slot: put the
// team in a hash tag, e.g. "ward:rl:{cardiology}:app:scribe:rpm".
type Redis struct {
	client redis.Scripter
	script *redis.Script
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Store on client (a *redis.Client, *redis.ClusterClient
// or anything that runs scripts).
func NewRedis(client redis.Scripter) *Redis {
	return &Redis{client: client, script: redis.NewScript(gcraScript)}
}

// Allow implements Store.
func (r *Redis) Allow(ctx context.Context, items []Item) (Result, error) {
	if len(items) > MaxItems {
		return Result{Denied: -1}, ErrTooManyItems
	}
	if i := tooLarge(items); i >= 0 {
		return Result{Denied: i, TooLarge: true, RetryAfter: time.Minute}, nil
	}
	v, err := r.run(ctx, "a", items)
	if err != nil {
		return Result{Denied: -1}, err
	}
	if v[0] == 1 {
		return Result{Allowed: true, Denied: -1}, nil
	}
	denied := int(v[2]) - 1
	if denied < 0 || denied >= len(items) {
		return Result{Denied: -1}, fmt.Errorf("limits: redis script returned item %d of %d", v[2], len(items))
	}
	return Result{Denied: denied, RetryAfter: time.Duration(v[1]) * time.Microsecond}, nil
}

// Charge implements Store.
func (r *Redis) Charge(ctx context.Context, items []Item) error {
	if len(items) > MaxItems {
		return ErrTooManyItems
	}
	_, err := r.run(ctx, "c", items)
	return err
}

func (r *Redis) run(ctx context.Context, mode string, items []Item) ([3]int64, error) {
	var out [3]int64
	keys := make([]string, len(items))
	args := make([]any, 1, 1+3*len(items))
	args[0] = mode
	for i := range items {
		it := &items[i]
		keys[i] = it.Key
		n := max(it.N, 0)
		// µs per unit; float64 keeps rates up to 1e12/min (0.06 ns/unit).
		us := float64(time.Minute/time.Microsecond) / float64(it.Limit.PerMinute)
		args = append(args,
			strconv.FormatFloat(us, 'g', -1, 64),
			strconv.FormatFloat(us*float64(it.Limit.Burst), 'g', -1, 64),
			strconv.FormatInt(n, 10))
	}
	res, err := r.script.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return out, fmt.Errorf("limits: redis: %w", err)
	}
	if len(res) != 3 {
		return out, fmt.Errorf("limits: redis script returned %d values", len(res))
	}
	copy(out[:], res)
	return out, nil
}
