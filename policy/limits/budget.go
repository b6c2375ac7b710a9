package limits

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Period is a budget period: a calendar month, week (Monday) or day in
// UTC, or a fixed number of days counted from the Unix epoch.
type Period struct {
	kind string // month, week, day, days
	days int64
}

// ParsePeriod reads "month", "week", "day" or a Go duration that is a whole
// number of days ("336h" = 14 days from 1970-01-01 UTC).
func ParsePeriod(s string) (Period, error) {
	switch s {
	case "", "month":
		return Period{kind: "month"}, nil
	case "week", "day":
		return Period{kind: s}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d%(24*time.Hour) != 0 {
		return Period{}, fmt.Errorf("period %q: want month, week, day or a whole number of days such as 336h", s)
	}
	return Period{kind: "days", days: int64(d / (24 * time.Hour))}, nil
}

// Bounds returns the period containing t: [start, end), in UTC. Periods
// are whole days so ClickHouse's daily spend view answers them exactly.
func (p Period) Bounds(t time.Time) (start, end time.Time) {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch p.kind {
	case "day":
		return day, day.AddDate(0, 0, 1)
	case "week":
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		start = day.AddDate(0, 0, -back)
		return start, start.AddDate(0, 0, 7)
	case "days":
		n := day.Unix() / 86400
		start = time.Unix((n-n%p.days)*86400, 0).UTC()
		return start, start.AddDate(0, 0, int(p.days))
	default:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
}

// SpendStore shares spend between replicas (Redis). Totals are per team
// for the period named by period (its start date, e.g. "2026-11-01").
type SpendStore interface {
	// Sync adds each team's delta and returns the shared total of every
	// team in teams (and of every team in deltas).
	Sync(ctx context.Context, period string, ttl time.Duration, deltas map[string]int64, teams []string) (map[string]int64, error)
	// Floor raises each team's shared total to at least the given value.
	Floor(ctx context.Context, period string, ttl time.Duration, totals map[string]int64) error
}

// Reconciler reads the durable spend per team for [from, to) from the
// audit store (ClickHouse), the source of truth across restarts.
type Reconciler interface {
	Spend(ctx context.Context, from, to time.Time) (map[string]int64, error)
}

// BudgetConfig configures Budgets.
type BudgetConfig struct {
	Period Period
	// Limits is micro-USD per period by team; "*" applies to teams not
	// listed. A team without a limit has no budget.
	Limits map[string]int64
	Shared SpendStore // nil: this replica's spend only
	Recon  Reconciler // nil: no reconciliation
	Now    func() time.Time
}

// BudgetState is a team's budget before the current request.
type BudgetState struct {
	LimitMicroUSD int64
	SpentMicroUSD int64
	PeriodStart   time.Time
	PeriodEnd     time.Time
}

// Budgets tracks spend per team in the current period. Reads and charges
// are local and lock-cheap; Sync (Redis) and Reconcile (ClickHouse) run in
// the background and bring in what other replicas spent.
type Budgets struct {
	cfg BudgetConfig
	def int64 // the "*" limit; 0 = none

	mu    sync.Mutex
	start time.Time
	end   time.Time
	teams map[string]*spend
}

// spend is one team's view: base is the shared/durable total as of the
// last sync or reconcile, delta what this replica charged since.
type spend struct {
	base, delta int64
}

// NewBudgets returns a tracker. Limits must be non-negative.
func NewBudgets(cfg BudgetConfig) (*Budgets, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Period.kind == "" {
		cfg.Period.kind = "month"
	}
	var errs []error
	for team, v := range cfg.Limits {
		if v < 0 {
			errs = append(errs, fmt.Errorf("budget for %q: %d micro-USD is negative", team, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	b := &Budgets{cfg: cfg, def: cfg.Limits["*"], teams: map[string]*spend{}}
	b.start, b.end = cfg.Period.Bounds(cfg.Now())
	return b, nil
}

func (b *Budgets) limit(team string) (int64, bool) {
	if v, ok := b.cfg.Limits[team]; ok {
		return v, v > 0
	}
	return b.def, b.def > 0
}

// roll starts a new period when now has left the current one. b.mu held.
func (b *Budgets) roll(now time.Time) {
	if now.Before(b.end) {
		return
	}
	b.start, b.end = b.cfg.Period.Bounds(now)
	clear(b.teams)
}

// State returns team's budget; ok is false when the team has none.
func (b *Budgets) State(team string) (BudgetState, bool) {
	lim, ok := b.limit(team)
	if !ok {
		return BudgetState{}, false
	}
	now := b.cfg.Now()
	b.mu.Lock()
	b.roll(now)
	st := BudgetState{LimitMicroUSD: lim, PeriodStart: b.start, PeriodEnd: b.end}
	s := b.teams[team]
	if s == nil {
		// Tracked from now on, so the next sync fetches what other
		// replicas spent for this team.
		s = &spend{}
		b.teams[team] = s
	}
	st.SpentMicroUSD = s.base + s.delta
	b.mu.Unlock()
	return st, true
}

// Charge adds spend to team's current period. Teams without a budget are
// not tracked.
func (b *Budgets) Charge(team string, microUSD int64) {
	if microUSD <= 0 {
		return
	}
	if _, ok := b.limit(team); !ok {
		return
	}
	now := b.cfg.Now()
	b.mu.Lock()
	b.roll(now)
	s := b.teams[team]
	if s == nil {
		s = &spend{}
		b.teams[team] = s
	}
	s.delta += microUSD
	b.mu.Unlock()
}

// snapshot returns the period and the teams' deltas, taken together.
func (b *Budgets) snapshot() (start, end time.Time, deltas map[string]int64, teams []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll(b.cfg.Now())
	deltas = map[string]int64{}
	for team, s := range b.teams {
		teams = append(teams, team)
		if s.delta != 0 {
			deltas[team] = s.delta
		}
	}
	for team, v := range b.cfg.Limits {
		if v > 0 && team != "*" && b.teams[team] == nil {
			teams = append(teams, team)
		}
	}
	return b.start, b.end, deltas, teams
}

// apply moves the snapshotted deltas into base. With shared totals the
// base becomes the shared total; with a durable floor alone (no shared
// store) the base never falls below what this replica already knew.
func (b *Budgets) apply(start time.Time, sent map[string]int64, totals map[string]int64, floorOnly bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.start.Equal(start) {
		return // the period rolled over while the sync was in flight
	}
	for team, total := range totals {
		if _, ok := b.limit(team); !ok {
			continue
		}
		s := b.teams[team]
		if s == nil {
			s = &spend{}
			b.teams[team] = s
		}
		d := sent[team]
		if floorOnly {
			total = max(total, s.base+d)
		}
		s.base, s.delta = total, s.delta-d
	}
	if floorOnly {
		for team, d := range sent {
			if _, ok := totals[team]; !ok {
				if s := b.teams[team]; s != nil {
					s.base, s.delta = s.base+d, s.delta-d
				}
			}
		}
	}
}

func periodKey(start time.Time) string { return start.Format(time.DateOnly) }

// ttl keeps a period's shared counter a week past the period's end.
func ttl(end time.Time, now time.Time) time.Duration { return end.Sub(now) + 7*24*time.Hour }

// Sync pushes this replica's spend to the shared store and pulls every
// replica's totals: after it, replicas agree up to the sync interval.
// Without a shared store it does nothing.
func (b *Budgets) Sync(ctx context.Context) error {
	if b.cfg.Shared == nil {
		return nil
	}
	start, end, deltas, teams := b.snapshot()
	totals, err := b.cfg.Shared.Sync(ctx, periodKey(start), ttl(end, b.cfg.Now()), deltas, teams)
	if err != nil {
		return fmt.Errorf("budget sync: %w", err) // deltas stay local for the next try
	}
	b.apply(start, deltas, totals, false)
	return nil
}

// Reconcile reads the durable spend of the current period and raises the
// shared (or local) totals to it. Spend still in flight to the audit store
// (its flush interval) is kept from the local view, never lost to a lower
// durable figure.
func (b *Budgets) Reconcile(ctx context.Context) error {
	if b.cfg.Recon == nil {
		return nil
	}
	start, end, deltas, _ := b.snapshot()
	durable, err := b.cfg.Recon.Spend(ctx, start, end)
	if err != nil {
		return fmt.Errorf("budget reconcile: %w", err)
	}
	if b.cfg.Shared != nil {
		if err := b.cfg.Shared.Floor(ctx, periodKey(start), ttl(end, b.cfg.Now()), durable); err != nil {
			return fmt.Errorf("budget reconcile: %w", err)
		}
		return b.Sync(ctx)
	}
	b.apply(start, deltas, durable, true)
	return nil
}

// Run syncs every syncEvery and reconciles every reconcileEvery (0: never)
// until ctx ends, reporting failures to onErr (which may be nil). It
// reconciles once at start so a restarted replica knows the period's spend.
func (b *Budgets) Run(ctx context.Context, syncEvery, reconcileEvery time.Duration, onErr func(op string, err error)) {
	report := func(op string, err error) {
		if err != nil && onErr != nil && ctx.Err() == nil {
			onErr(op, err)
		}
	}
	report("reconcile", b.Reconcile(ctx))
	var syncC, reconC <-chan time.Time
	if syncEvery > 0 && b.cfg.Shared != nil {
		t := time.NewTicker(syncEvery)
		defer t.Stop()
		syncC = t.C
	}
	if reconcileEvery > 0 && b.cfg.Recon != nil {
		t := time.NewTicker(reconcileEvery)
		defer t.Stop()
		reconC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			// Last push so spend charged here is not lost on shutdown.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			report("sync", b.Sync(fctx))
			cancel()
			return
		case <-syncC:
			report("sync", b.Sync(ctx))
		case <-reconC:
			report("reconcile", b.Reconcile(ctx))
		}
	}
}

// Spent returns the spend of every team tracked this period (for status
// pages and tests).
func (b *Budgets) Spent() map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int64, len(b.teams))
	for team, s := range b.teams {
		out[team] = s.base + s.delta
	}
	return out
}

// validTeam rejects team names that would break a Redis key.
func validTeam(t string) bool { return t != "" && !strings.ContainsAny(t, "{}\r\n") }
