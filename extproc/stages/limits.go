package stages

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/audit/chstore"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/policy/limits"
)

// limitStage enforces rate limits (extproc.Limiter, before policy), gives
// the policy the team's budget (Detect), and charges output tokens and
// spend when the interaction ends (Settle). It must come after the token
// detector, whose Settle fills usage and cost.
type limitStage struct {
	store   limits.Store
	remote  bool          // Redis: checks get a deadline, charges go async
	timeout time.Duration // per check, remote only
	prefix  string

	teams, apps, keys map[string]scopeRule // "*" is the default entry
	byKey             map[string]*plan     // configured keys' plans, read-only
	plans             sync.Map             // planKey → *plan for other callers
	bufs              sync.Pool            // *[limits.MaxItems]limits.Item

	budgets *limits.Budgets // nil: no budgets
	charges chan []limits.Item
	m       *limitMetrics
	log     *slog.Logger
}

// scopeRule is one scope's prepared limits; nil means unlimited.
type scopeRule struct {
	rpm, tpm *limits.Limit
}

// plan is the limits that apply to one caller (team, app, key), with the
// Redis/memory keys built once.
type plan struct {
	team, app string
	items     []limits.Item // N is set per request on a copy
	tokens    []int         // indexes of the tokens-per-minute items
	labels    []itemLabel
}

type itemLabel struct{ scope, id, kind string }

const (
	kindRequests = "requests"
	kindTokens   = "tokens"
)

// newLimitStage builds the stage from config, or returns nil when no rate
// limit or budget is configured. Background work (charges to Redis, budget
// sync and reconciliation) runs until ctx ends.
func newLimitStage(ctx context.Context, cfg *config.Config, d Deps) (*limitStage, error) {
	lc := cfg.Limits
	s := &limitStage{prefix: lc.Redis.KeyPrefix, log: d.Log, m: newLimitMetrics(d.Registry)}
	var err error
	if s.teams, err = prepareScope("teams", lc.Teams); err != nil {
		return nil, err
	}
	if s.apps, err = prepareScope("apps", lc.Apps); err != nil {
		return nil, err
	}
	if s.keys, err = prepareScope("keys", lc.Keys); err != nil {
		return nil, err
	}
	budgetLimits := map[string]int64{}
	for team, usd := range lc.Budgets.Teams {
		budgetLimits[team] = config.MicroUSD(usd)
	}
	hasRates := len(s.teams)+len(s.apps)+len(s.keys) > 0
	hasBudgets := false
	for _, v := range budgetLimits {
		hasBudgets = hasBudgets || v > 0
	}
	if !hasRates && !hasBudgets {
		return nil, nil
	}
	s.bufs.New = func() any { return new([limits.MaxItems]limits.Item) }
	s.byKey = make(map[string]*plan, len(cfg.Keys))
	for _, k := range cfg.Keys {
		s.byKey[k.ID] = s.buildPlan(k.Team, k.App, k.ID)
	}

	var client *redis.Client
	if lc.Store == "redis" {
		client = redis.NewClient(&redis.Options{
			Addr:     lc.Redis.Addr,
			Username: lc.Redis.Username,
			Password: os.Getenv(lc.Redis.PasswordEnv),
			DB:       lc.Redis.DB,
			PoolSize: lc.Redis.PoolSize,
			// A check has its own deadline; one retry fits in it.
			MaxRetries:   1,
			DialTimeout:  time.Second,
			ReadTimeout:  lc.Redis.Timeout.D(),
			WriteTimeout: lc.Redis.Timeout.D(),
		})
		s.store, s.remote, s.timeout = limits.NewRedis(client), true, lc.Redis.Timeout.D()
		s.charges = make(chan []limits.Item, 4096)
		go s.chargeLoop(ctx)
		context.AfterFunc(ctx, func() { client.Close() })
	} else {
		s.store = limits.NewMemory(nil)
	}

	if hasBudgets {
		period, err := limits.ParsePeriod(lc.Budgets.Period)
		if err != nil {
			return nil, fmt.Errorf("limits.budgets.period: %w", err)
		}
		bc := limits.BudgetConfig{Period: period, Limits: budgetLimits}
		if client != nil {
			bc.Shared = limits.NewRedisSpend(client, lc.Redis.KeyPrefix)
		}
		if cfg.Audit.Sink == "clickhouse" && config.Enabled(lc.Budgets.Reconcile, true) {
			cc := cfg.Audit.ClickHouse
			ls := &lazySpend{cfg: chstore.Config{Addr: cc.Addr, Database: cc.Database, Username: cc.User}}
			if cc.PasswordEnv != "" {
				ls.cfg.Password = os.Getenv(cc.PasswordEnv)
			}
			context.AfterFunc(ctx, ls.close)
			bc.Recon = ls
		}
		if s.budgets, err = limits.NewBudgets(bc); err != nil {
			return nil, fmt.Errorf("limits.budgets: %w", err)
		}
		go s.budgets.Run(ctx, lc.Budgets.SyncInterval.D(), lc.Budgets.ReconcileInterval.D(), func(op string, err error) {
			s.m.budgetErrors.WithLabelValues(op).Inc()
			s.log.Warn("budget "+op+" failed; local figures stand", "error", err)
		})
	}
	return s, nil
}

func prepareScope(name string, rates map[string]config.Rate) (map[string]scopeRule, error) {
	out := map[string]scopeRule{}
	for id, r := range rates {
		var sr scopeRule
		if r.RequestsPerMinute > 0 {
			l, err := limits.NewLimit(limits.Rule{PerMinute: r.RequestsPerMinute, Burst: r.RequestBurst})
			if err != nil {
				return nil, fmt.Errorf("limits.%s.%s: %w", name, id, err)
			}
			sr.rpm = &l
		}
		if r.TokensPerMinute > 0 {
			l, err := limits.NewLimit(limits.Rule{PerMinute: r.TokensPerMinute, Burst: r.TokenBurst})
			if err != nil {
				return nil, fmt.Errorf("limits.%s.%s: %w", name, id, err)
			}
			sr.tpm = &l
		}
		out[id] = sr // an entry with both 0 makes that id unlimited
	}
	return out, nil
}

func lookup(m map[string]scopeRule, id string) (scopeRule, bool) {
	if r, ok := m[id]; ok {
		return r, true
	}
	r, ok := m["*"]
	return r, ok
}

type planKey struct{ team, app, key string }

// planFor returns the caller's plan: precomputed for configured keys,
// else built once per (team, app, key) and cached.
func (s *limitStage) planFor(team, app, key string) *plan {
	if p := s.byKey[key]; p != nil && p.team == team && p.app == app {
		return p
	}
	pk := planKey{team, app, key}
	if p, ok := s.plans.Load(pk); ok {
		return p.(*plan)
	}
	actual, _ := s.plans.LoadOrStore(pk, s.buildPlan(team, app, key))
	return actual.(*plan)
}

func (s *limitStage) buildPlan(team, app, key string) *plan {
	p := &plan{team: team, app: app}
	// Every key of a plan carries the team as a Redis Cluster hash tag, so
	// one script call touches one slot.
	base := s.prefix + "rl:{" + team + "}:"
	add := func(scope, id string, r scopeRule) {
		if r.rpm != nil {
			p.items = append(p.items, limits.Item{Key: base + scope + ":" + id + ":rpm", Limit: *r.rpm})
			p.labels = append(p.labels, itemLabel{scope, id, kindRequests})
		}
		if r.tpm != nil {
			p.tokens = append(p.tokens, len(p.items))
			p.items = append(p.items, limits.Item{Key: base + scope + ":" + id + ":tpm", Limit: *r.tpm})
			p.labels = append(p.labels, itemLabel{scope, id, kindTokens})
		}
	}
	if r, ok := lookup(s.teams, team); ok {
		add("team", team, r)
	}
	if app != "" {
		if r, ok := lookup(s.apps, app); ok {
			add("app", app, r)
		}
	}
	if key != "" {
		if r, ok := lookup(s.keys, key); ok {
			add("key", key, r)
		}
	}
	return p
}

// Detect gives the policy the team's budget before the request.
func (s *limitStage) Detect(_ context.Context, phase extproc.Phase, ix *extproc.Interaction) error {
	if phase != extproc.PhaseRequest || s.budgets == nil || ix.Caller.Team == "" {
		return nil
	}
	if st, ok := s.budgets.State(ix.Caller.Team); ok {
		ix.Budget = &extproc.Budget{LimitMicroUSD: st.LimitMicroUSD, SpentMicroUSD: st.SpentMicroUSD, PeriodEnd: st.PeriodEnd}
	}
	return nil
}

// Check implements extproc.Limiter: one request and the prompt estimate
// against every limit of the caller's team, app and key, atomically.
func (s *limitStage) Check(ctx context.Context, ix *extproc.Interaction) (extproc.Decision, bool) {
	if ix.Caller.Team == "" {
		return extproc.Decision{}, true
	}
	p := s.planFor(ix.Caller.Team, ix.Caller.App, ix.Caller.KeyID)
	if len(p.items) == 0 {
		return extproc.Decision{}, true
	}
	buf := s.bufs.Get().(*[limits.MaxItems]limits.Item) // a stack array would escape through the Store interface
	defer s.bufs.Put(buf)
	items := buf[:copy(buf[:], p.items)]
	for i := range items {
		items[i].N = 1
	}
	for _, i := range p.tokens {
		items[i].N = ix.PromptTokens
	}
	if s.remote {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	res, err := s.store.Allow(ctx, items)
	if err != nil {
		if ix.Profile.FailOpen {
			s.m.storeErrors.WithLabelValues(ix.ProfileName, "fail_open").Inc()
			s.log.Warn("rate limit store failed; profile fails open", "profile", ix.ProfileName, "error", err)
			return extproc.Decision{}, true
		}
		s.m.storeErrors.WithLabelValues(ix.ProfileName, "fail_closed").Inc()
		s.log.Error("rate limit store failed; profile fails closed", "profile", ix.ProfileName, "error", err)
		return extproc.Decision{Status: http.StatusServiceUnavailable, ReasonCode: "rate_limit_unavailable",
			ReasonMessage: "the gateway's rate limiter is unavailable; this route fails closed"}, false
	}
	if res.Allowed {
		return extproc.Decision{}, true
	}
	lb := p.labels[res.Denied]
	s.m.denied.WithLabelValues(lb.scope, lb.kind).Inc()
	limit := items[res.Denied].Limit.PerMinute
	if res.TooLarge {
		return extproc.Decision{Status: http.StatusTooManyRequests, ReasonCode: "rate_limit_exceeded",
			ReasonMessage: fmt.Sprintf("Request too large for %s %s on %s per minute: limit %d, requested %d. Reduce the prompt.",
				lb.scope, lb.id, lb.kind, limit, items[res.Denied].N)}, false
	}
	secs := int64((res.RetryAfter + time.Second - 1) / time.Second) // round up: retrying early fails again
	return extproc.Decision{Status: http.StatusTooManyRequests, ReasonCode: "rate_limit_exceeded",
		ReasonMessage: fmt.Sprintf("Rate limit reached for %s %s on %s per minute: limit %d. Please try again in %ds.",
			lb.scope, lb.id, lb.kind, limit, secs),
		Headers: map[string]string{"retry-after": strconv.FormatInt(secs, 10)}}, false
}

// Settle implements extproc.Settler: output tokens (and input beyond the
// estimate) count against tokens-per-minute, cost against the budget.
func (s *limitStage) Settle(ix *extproc.Interaction) {
	team := ix.Caller.Team
	if team == "" {
		return
	}
	if s.budgets != nil {
		s.budgets.Charge(team, ix.CostMicroUSD)
	}
	// What Check charged: the prompt estimate, when the request was parsed.
	var charged int64
	if ix.Request != nil {
		charged = ix.PromptTokens
	}
	n := ix.Usage.OutputTokens + max(ix.Usage.InputTokens-charged, 0)
	if n <= 0 {
		return
	}
	p := s.planFor(team, ix.Caller.App, ix.Caller.KeyID)
	if len(p.tokens) == 0 {
		return
	}
	items := make([]limits.Item, 0, len(p.tokens))
	for _, i := range p.tokens {
		it := p.items[i]
		it.N = n
		items = append(items, it)
	}
	if !s.remote {
		s.store.Charge(context.Background(), items) // memory: cannot fail
		return
	}
	// Settle runs on the stream's goroutine: Redis gets the charge from
	// a worker, never from the hot path.
	select {
	case s.charges <- items:
	default:
		s.m.chargesDropped.Inc()
	}
}

func (s *limitStage) chargeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case items := <-s.charges:
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			if err := s.store.Charge(cctx, items); err != nil {
				s.m.chargesDropped.Inc()
				s.log.Warn("rate limit charge failed", "error", err)
			}
			cancel()
		}
	}
}

// lazySpend reads ClickHouse's spend view, connecting on first use so a
// ClickHouse that is down at start delays reconciliation instead of
// failing startup. The audit writer creates the schema.
type lazySpend struct {
	cfg   chstore.Config
	mu    sync.Mutex
	store *chstore.Store
	rec   *limits.ClickHouseSpend
}

func (l *lazySpend) Spend(ctx context.Context, from, to time.Time) (map[string]int64, error) {
	l.mu.Lock()
	if l.rec == nil {
		st, err := chstore.Open(ctx, l.cfg)
		if err != nil {
			l.mu.Unlock()
			return nil, err
		}
		rec, err := limits.NewClickHouseSpend(st.Conn(), st.Database())
		if err != nil {
			st.Close(ctx)
			l.mu.Unlock()
			return nil, err
		}
		l.store, l.rec = st, rec
	}
	rec := l.rec
	l.mu.Unlock()
	return rec.Spend(ctx, from, to)
}

func (l *lazySpend) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil {
		l.store.Close(context.Background())
	}
}

type limitMetrics struct {
	denied         *prometheus.CounterVec
	storeErrors    *prometheus.CounterVec
	chargesDropped prometheus.Counter
	budgetErrors   *prometheus.CounterVec
}

func newLimitMetrics(reg prometheus.Registerer) *limitMetrics {
	m := &limitMetrics{
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_ratelimit_denied_total", Help: "Requests refused by a rate limit, by scope (team, app, key) and kind (requests, tokens).",
		}, []string{"scope", "kind"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_ratelimit_store_errors_total", Help: "Rate limit checks whose store (Redis) failed, by profile and resolution (fail_open, fail_closed).",
		}, []string{"profile", "resolution"}),
		chargesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ward_ratelimit_charges_dropped_total", Help: "Output-token charges not applied (charge queue full or store error).",
		}),
		budgetErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_budget_errors_total", Help: "Failed budget syncs (Redis) and reconciliations (ClickHouse).",
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.denied, m.storeErrors, m.chargesDropped, m.budgetErrors)
	}
	return m
}
