package config

import (
	"math"
	"net"
	"strings"
	"time"
)

// Limits configures rate limits and spend budgets (docs/limits.md).
type Limits struct {
	// Store holds the limiter state: "memory" (default; per replica) or
	// "redis" (shared by every replica on the same Redis).
	Store string `yaml:"store"`
	Redis Redis  `yaml:"redis"`
	// Teams, Apps and Keys set rate limits by team, app or key ID; the
	// entry "*" applies to every team (app, key) without its own entry.
	// A request is checked against all three scopes at once.
	Teams map[string]Rate `yaml:"teams"`
	Apps  map[string]Rate `yaml:"apps"`
	Keys  map[string]Rate `yaml:"keys"`
	// Budgets are spend limits per team and period.
	Budgets Budgets `yaml:"budgets"`
}

// Rate is one scope's limits; 0 means unlimited.
type Rate struct {
	RequestsPerMinute int64 `yaml:"requests_per_minute"`
	// TokensPerMinute counts prompt tokens (estimated before the request)
	// and output tokens (from the provider's usage, after the response).
	TokensPerMinute int64 `yaml:"tokens_per_minute"`
	// Bursts default to the per-minute figure.
	RequestBurst int64 `yaml:"request_burst"`
	TokenBurst   int64 `yaml:"token_burst"`
}

// Redis locates the shared limiter store.
type Redis struct {
	Addr        string `yaml:"addr"`
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
	DB          int    `yaml:"db"`
	// KeyPrefix starts every key Ward writes (default "ward:").
	KeyPrefix string `yaml:"key_prefix"`
	// Timeout bounds one check (default 50ms); past it the route
	// profile's fail_open decides.
	Timeout  Duration `yaml:"timeout"`
	PoolSize int      `yaml:"pool_size"`
}

// Budgets are spend limits per team.
type Budgets struct {
	// Period: month (default, UTC calendar month), week (from Monday),
	// day, or a whole number of days as a duration ("336h").
	Period string `yaml:"period"`
	// Teams maps team → USD per period; "*" applies to unlisted teams. 0 or
	// absent: no budget.
	Teams map[string]float64 `yaml:"teams"`
	// SyncInterval is how often spend is exchanged through Redis (store:
	// redis); replicas agree within it. Default 1s.
	SyncInterval Duration `yaml:"sync_interval"`
	// ReconcileInterval is how often spend is re-read from ClickHouse's
	// spend view (audit.sink: clickhouse). Default 1m; "0s" never is not
	// allowed, set reconcile: false instead.
	ReconcileInterval Duration `yaml:"reconcile_interval"`
	// Reconcile turns ClickHouse reconciliation off when false (default:
	// on whenever audit.sink is clickhouse).
	Reconcile *bool `yaml:"reconcile"`
}

// MicroUSD returns a USD amount in integer micro-dollars.
func MicroUSD(usd float64) int64 { return int64(math.Round(usd * 1e6)) }

// applyDefaults fills the zero values of limits.
func (l *Limits) applyDefaults() {
	if l.Store == "" {
		l.Store = "memory"
	}
	if l.Redis.KeyPrefix == "" {
		l.Redis.KeyPrefix = "ward:"
	}
	if l.Redis.Timeout == 0 {
		l.Redis.Timeout = Duration(50 * time.Millisecond)
	}
	if l.Budgets.Period == "" {
		l.Budgets.Period = "month"
	}
	if l.Budgets.SyncInterval == 0 {
		l.Budgets.SyncInterval = Duration(time.Second)
	}
	if l.Budgets.ReconcileInterval == 0 {
		l.Budgets.ReconcileInterval = Duration(time.Minute)
	}
}

// maxRate matches policy/limits' bound (1e12 units a minute).
const maxRate = 1_000_000_000_000

// validate checks the limits section, adding every problem with its path
// (Config.Validate calls it). It fills the defaults first, which is
// idempotent, so the section needs no separate call from applyDefaults.
func (l *Limits) validate(errs *errList) {
	l.applyDefaults()
	if !oneOf(l.Store, "memory", "redis") {
		errs.add("limits.store", "unknown store %q (memory, redis)", l.Store)
	}
	r := l.Redis
	if l.Store == "redis" && r.Addr == "" {
		errs.add("limits.redis.addr", "required when limits.store is redis")
	}
	if r.Addr != "" {
		if _, _, err := net.SplitHostPort(r.Addr); err != nil {
			errs.add("limits.redis.addr", "%v", err)
		}
	}
	if r.DB < 0 {
		errs.add("limits.redis.db", "must be >= 0")
	}
	if r.PoolSize < 0 {
		errs.add("limits.redis.pool_size", "must be >= 0")
	}
	if r.Timeout < 0 {
		errs.add("limits.redis.timeout", "must be positive")
	}
	if strings.ContainsAny(r.KeyPrefix, " {}\r\n") {
		errs.add("limits.redis.key_prefix", "must not contain spaces, braces or newlines, got %q", r.KeyPrefix)
	}
	for _, scope := range []struct {
		name  string
		rates map[string]Rate
	}{{"teams", l.Teams}, {"apps", l.Apps}, {"keys", l.Keys}} {
		for _, id := range sortedKeys(scope.rates) {
			p := "limits." + scope.name + "." + id
			if id == "" || strings.ContainsAny(id, "{}\r\n") {
				errs.add(p, "invalid name %q", id)
			}
			rt := scope.rates[id]
			for _, f := range []struct {
				name string
				v    int64
			}{
				{"requests_per_minute", rt.RequestsPerMinute}, {"tokens_per_minute", rt.TokensPerMinute},
				{"request_burst", rt.RequestBurst}, {"token_burst", rt.TokenBurst},
			} {
				if f.v < 0 || f.v > maxRate {
					errs.add(p+"."+f.name, "%d outside [0, 1e12]", f.v)
				}
			}
			if rt.RequestBurst > 0 && rt.RequestsPerMinute == 0 {
				errs.add(p+".request_burst", "set requests_per_minute too")
			}
			if rt.TokenBurst > 0 && rt.TokensPerMinute == 0 {
				errs.add(p+".token_burst", "set tokens_per_minute too")
			}
		}
	}
	b := l.Budgets
	if !validPeriod(b.Period) {
		errs.add("limits.budgets.period", "want month, week, day or a whole number of days such as 336h, got %q", b.Period)
	}
	for _, team := range sortedKeys(b.Teams) {
		p := "limits.budgets.teams." + team
		if team == "" || strings.ContainsAny(team, "{}\r\n") {
			errs.add(p, "invalid team name %q", team)
		}
		if v := b.Teams[team]; math.IsNaN(v) || v < 0 || v > 1e12 {
			errs.add(p, "USD amount %v outside [0, 1e12]", v)
		}
	}
	if b.SyncInterval < 0 {
		errs.add("limits.budgets.sync_interval", "must be positive")
	}
	if b.ReconcileInterval < Duration(time.Second) {
		errs.add("limits.budgets.reconcile_interval", "must be at least 1s")
	}
}

func validPeriod(s string) bool {
	switch s {
	case "month", "week", "day":
		return true
	}
	d, err := time.ParseDuration(s)
	return err == nil && d > 0 && d%(24*time.Hour) == 0
}
