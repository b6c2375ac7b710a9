package limits

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
)

// RedisSpend is a SpendStore: one integer counter of micro-USD per team and
// period, "<prefix>budget:{<team>}:<period start>".
type RedisSpend struct {
	client redis.Cmdable
	prefix string
	floor  *redis.Script
}

var _ SpendStore = (*RedisSpend)(nil)

// floorScript raises a counter to ARGV[1] if it is lower, refreshing the TTL.
const floorScript = `
local cur = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
local v = tonumber(ARGV[1])
if cur < v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return v
end
return cur
`

// NewRedisSpend returns a SpendStore on client with key prefix (e.g. "ward:").
func NewRedisSpend(client redis.Cmdable, prefix string) *RedisSpend {
	return &RedisSpend{client: client, prefix: prefix, floor: redis.NewScript(floorScript)}
}

func (r *RedisSpend) key(period, team string) string {
	return r.prefix + "budget:{" + team + "}:" + period
}

// Sync implements SpendStore in one pipelined round trip: INCRBY for teams
// with a delta, GET for the others.
func (r *RedisSpend) Sync(ctx context.Context, period string, ttl time.Duration, deltas map[string]int64, teams []string) (map[string]int64, error) {
	incr := map[string]*redis.IntCmd{}
	get := map[string]*redis.StringCmd{}
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for team, d := range deltas {
			if !validTeam(team) {
				continue
			}
			k := r.key(period, team)
			incr[team] = p.IncrBy(ctx, k, d)
			p.PExpire(ctx, k, ttl)
		}
		for _, team := range teams {
			if _, ok := deltas[team]; !ok && validTeam(team) {
				get[team] = p.Get(ctx, r.key(period, team))
			}
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	out := make(map[string]int64, len(incr)+len(get))
	for team, c := range incr {
		v, err := c.Result()
		if err != nil {
			return nil, fmt.Errorf("redis: budget of %q: %w", team, err)
		}
		out[team] = v
	}
	for team, c := range get {
		v, err := c.Int64()
		if err == redis.Nil {
			v, err = 0, nil
		}
		if err != nil {
			return nil, fmt.Errorf("redis: budget of %q: %w", team, err)
		}
		out[team] = v
	}
	return out, nil
}

// Floor implements SpendStore (one pipelined round trip).
func (r *RedisSpend) Floor(ctx context.Context, period string, ttl time.Duration, totals map[string]int64) error {
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for team, v := range totals {
			if validTeam(team) {
				r.floor.Eval(ctx, p, // EVALSHA has no NOSCRIPT fallback in a pipeline
					[]string{r.key(period, team)}, v, ttl.Milliseconds())
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Querier is the part of a ClickHouse connection the reconciler uses
// (clickhouse-go's driver.Conn, e.g. chstore.Store.Conn()).
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

// ClickHouseSpend is a Reconciler over the audit database's spend_daily
// view (see extproc/audit/chstore), summed per team over whole days.
//
// spend_daily is filled at insert time, so a batch replayed after a lost
// acknowledgement is counted twice there: the budget errs on the side of
// stopping a team early, never late.
type ClickHouseSpend struct {
	conn  Querier
	query string
}

var _ Reconciler = (*ClickHouseSpend)(nil)

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// NewClickHouseSpend returns a Reconciler reading database's spend_daily.
func NewClickHouseSpend(conn Querier, database string) (*ClickHouseSpend, error) {
	if !identRe.MatchString(database) {
		return nil, fmt.Errorf("clickhouse database %q is not a plain identifier", database)
	}
	return &ClickHouseSpend{conn: conn, query: "SELECT team, toInt64(sum(cost_micro_usd)) FROM " + database +
		".spend_daily WHERE day >= toDate(?) AND day < toDate(?) GROUP BY team"}, nil
}

// Spend implements Reconciler. from and to are whole UTC days.
func (c *ClickHouseSpend) Spend(ctx context.Context, from, to time.Time) (map[string]int64, error) {
	rows, err := c.conn.Query(ctx, c.query, from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("clickhouse spend: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var team string
		var v int64
		if err := rows.Scan(&team, &v); err != nil {
			return nil, fmt.Errorf("clickhouse spend: %w", err)
		}
		out[team] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse spend: %w", err)
	}
	return out, nil
}
