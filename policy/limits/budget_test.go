package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardhq/ward/extproc/audit/chstore"
)

func TestPeriodBounds(t *testing.T) {
	at := time.Date(2026, 11, 27, 4, 50, 0, 0, time.FixedZone("X", -8*3600)) // 12:50 UTC
	for _, tc := range []struct {
		period     string
		start, end string
	}{
		{"", "2026-11-01", "2026-12-01"},
		{"month", "2026-11-01", "2026-12-01"},
		{"week", "2026-11-23", "2026-11-30"}, // Monday to Monday
		{"day", "2026-11-27", "2026-11-28"},
		{"24h", "2026-11-27", "2026-11-28"},
		{"336h", "2026-11-19", "2026-12-03"}, // 14-day windows from 1970-01-01
	} {
		p, err := ParsePeriod(tc.period)
		if err != nil {
			t.Fatalf("%q: %v", tc.period, err)
		}
		s, e := p.Bounds(at)
		if s.Format(time.DateOnly) != tc.start || e.Format(time.DateOnly) != tc.end || !s.Before(at) || !at.Before(e) {
			t.Errorf("%q: [%v, %v), want [%s, %s)", tc.period, s, e, tc.start, tc.end)
		}
	}
	// December rolls into the next year.
	p, _ := ParsePeriod("month")
	if _, e := p.Bounds(time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)); e.Format(time.DateOnly) != "2027-01-01" {
		t.Errorf("december end %v", e)
	}
	for _, bad := range []string{"fortnight", "36h", "-24h", "0s"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBudgetsLocal(t *testing.T) {
	c := &fakeClock{t: time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)}
	b, err := NewBudgets(BudgetConfig{Limits: map[string]int64{"*": 1_000_000, "research": 5_000_000, "free": 0}, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	st, ok := b.State("cardiology")
	if !ok || st.LimitMicroUSD != 1_000_000 || st.SpentMicroUSD != 0 || st.PeriodStart.Format(time.DateOnly) != "2026-11-01" {
		t.Fatalf("fresh: %+v %v", st, ok)
	}
	b.Charge("cardiology", 600_000)
	b.Charge("cardiology", 500_000)
	b.Charge("cardiology", -7) // ignored
	b.Charge("free", 10)       // explicit 0: no budget, not tracked
	if st, _ := b.State("cardiology"); st.SpentMicroUSD != 1_100_000 {
		t.Fatalf("spent %d", st.SpentMicroUSD)
	}
	if st, _ := b.State("research"); st.LimitMicroUSD != 5_000_000 || st.SpentMicroUSD != 0 {
		t.Fatalf("research %+v", st)
	}
	if _, ok := b.State("free"); ok {
		t.Fatal("team with budget 0 has a budget")
	}
	c.advance(2 * time.Hour) // December: a new period
	if st, _ := b.State("cardiology"); st.SpentMicroUSD != 0 || st.PeriodStart.Format(time.DateOnly) != "2026-12-01" {
		t.Fatalf("after rollover %+v", st)
	}
	if _, err := NewBudgets(BudgetConfig{Limits: map[string]int64{"x": -1}}); err == nil {
		t.Fatal("negative budget accepted")
	}
}

// fakeRecon is a Reconciler whose answer the test sets (the real one is
// TestClickHouseReconciler).
type fakeRecon struct {
	spend map[string]int64
	err   error
}

func (f *fakeRecon) Spend(context.Context, time.Time, time.Time) (map[string]int64, error) {
	return f.spend, f.err
}

// TestBudgetsReconcileLocal: without a shared store the durable figure is
// a floor; this replica's own recent spend is never lost to it.
func TestBudgetsReconcileLocal(t *testing.T) {
	rec := &fakeRecon{}
	b, _ := NewBudgets(BudgetConfig{Limits: map[string]int64{"*": 10_000_000}, Recon: rec})
	b.Charge("a", 300)
	rec.spend = map[string]int64{"a": 1000, "b": 4000} // other replicas spent more
	if err := b.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Charge("a", 50)
	if st, _ := b.State("a"); st.SpentMicroUSD != 1050 {
		t.Fatalf("a = %d, want 1050", st.SpentMicroUSD)
	}
	if st, _ := b.State("b"); st.SpentMicroUSD != 4000 {
		t.Fatalf("b = %d", st.SpentMicroUSD)
	}
	rec.spend = map[string]int64{"a": 900} // durable store behind (flush lag)
	b.Reconcile(context.Background())
	if st, _ := b.State("a"); st.SpentMicroUSD != 1050 {
		t.Fatalf("a went backwards: %d", st.SpentMicroUSD)
	}
	rec.err = errors.New("down")
	if err := b.Reconcile(context.Background()); err == nil {
		t.Fatal("error swallowed")
	}
}

// TestBudgetsSharedRedis: two replicas on one Redis agree after a sync, and
// reconciliation raises the shared figure to the durable one.
func TestBudgetsSharedRedis(t *testing.T) {
	client := requireRedis(t)
	p := testPrefix(t)
	ctx := context.Background()
	rec := &fakeRecon{spend: map[string]int64{}}
	mk := func() *Budgets {
		b, err := NewBudgets(BudgetConfig{Limits: map[string]int64{"*": 10_000_000, "ops": 1}, Shared: NewRedisSpend(client, p), Recon: rec})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	r1, r2 := mk(), mk()
	r1.Charge("a", 1000)
	r2.Charge("a", 250)
	r2.Charge("b", 7)
	r1.State("b") // r1 sees its first request for b
	for _, r := range []*Budgets{r1, r2, r1} {
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range []*Budgets{r1, r2} {
		if st, _ := r.State("a"); st.SpentMicroUSD != 1250 {
			t.Errorf("replica %d: a = %d, want 1250", i+1, st.SpentMicroUSD)
		}
	}
	if st, _ := r1.State("b"); st.SpentMicroUSD != 7 {
		t.Errorf("replica 1 learned b = %d, want 7", st.SpentMicroUSD)
	}
	// Redis lost its data (restart without persistence): ClickHouse says 5000.
	start, _ := r1.cfg.Period.Bounds(time.Now())
	client.Del(ctx, p+"budget:{a}:"+periodKey(start))
	rec.spend = map[string]int64{"a": 5000}
	r1.Charge("a", 10)
	if err := r1.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	r2.Sync(ctx)
	for i, r := range []*Budgets{r1, r2} {
		if st, _ := r.State("a"); st.SpentMicroUSD != 5010 {
			t.Errorf("replica %d after reconcile: a = %d, want 5010", i+1, st.SpentMicroUSD)
		}
	}
	// Redis down: sync fails, spend stays local and is pushed later.
	bad := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer bad.Close()
	r3, _ := NewBudgets(BudgetConfig{Limits: map[string]int64{"*": 100}, Shared: NewRedisSpend(bad, p)})
	r3.Charge("a", 5)
	if err := r3.Sync(ctx); err == nil {
		t.Fatal("sync to a dead Redis succeeded")
	}
	if st, _ := r3.State("a"); st.SpentMicroUSD != 5 {
		t.Fatalf("local spend lost: %d", st.SpentMicroUSD)
	}
	client.Del(ctx, p+"budget:{a}:"+periodKey(start), p+"budget:{b}:"+periodKey(start), p+"budget:{ops}:"+periodKey(start))
}

func clickhouseAddr() string {
	if a := os.Getenv("WARD_CLICKHOUSE_ADDR"); a != "" {
		return a
	}
	return chstore.DefaultAddr
}

// TestClickHouseReconciler runs the reconciler against the real audit
// schema: events inserted into audit_events reach spend_daily through the
// materialized view and come back summed per team for the period.
func TestClickHouseReconciler(t *testing.T) {
	addr := clickhouseAddr()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ClickHouse not reachable at %s (CI=true): %v; run .ci/clickhouse.sh", addr, err)
		}
		t.Skipf("ClickHouse not reachable at %s: %v (run .ci/clickhouse.sh)", addr, err)
	}
	conn.Close()
	var rb [4]byte
	rand.Read(rb[:])
	db := "ward_test_" + hex.EncodeToString(rb[:])
	ctx := context.Background()
	s, err := chstore.Open(ctx, chstore.Config{Addr: addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	defer s.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+db)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// INSERT ... SELECT: 18.x servers wait for a data block after VALUES.
	insert := func(team, ts string, cost int64) {
		t.Helper()
		q := fmt.Sprintf("INSERT INTO %s.audit_events (event_id, team, ts, cost_micro_usd) SELECT toUUID('%s'), '%s', toDateTime('%s'), %d",
			db, uuidV4(), team, ts, cost)
		if err := s.Conn().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	insert("cardiology", "2026-11-02 10:00:00", 1_500_000)
	insert("cardiology", "2026-11-30 23:59:59", 250_000)
	insert("cardiology", "2026-12-01 00:00:00", 99) // next period
	insert("research", "2026-11-15 12:00:00", 42)
	insert("research", "2026-10-31 23:59:59", 1000) // previous period

	rec, err := NewClickHouseSpend(s.Conn(), db)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ParsePeriod("month")
	from, to := p.Bounds(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
	got, err := rec.Spend(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"cardiology": 1_750_000, "research": 42}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("spend = %v, want %v", got, want)
	}
	// Through Budgets, as a restarted replica sees it.
	b, _ := NewBudgets(BudgetConfig{Limits: map[string]int64{"*": 2_000_000}, Recon: rec,
		Now: func() time.Time { return time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC) }})
	if err := b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.State("cardiology"); st.SpentMicroUSD != 1_750_000 {
		t.Fatalf("budget state %+v", st)
	}
	if _, err := NewClickHouseSpend(s.Conn(), "ward; DROP TABLE x"); err == nil {
		t.Fatal("bad database name accepted")
	}
}

func uuidV4() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// TestBudgetsRunSyncsInBackground: Run pushes spend on its ticker and once
// more when it stops, and reports failures.
func TestBudgetsRunSyncsInBackground(t *testing.T) {
	client := requireRedis(t)
	p := testPrefix(t)
	b, _ := NewBudgets(BudgetConfig{Limits: map[string]int64{"*": 1_000_000}, Shared: NewRedisSpend(client, p),
		Recon: &fakeRecon{err: errors.New("clickhouse down")}})
	start, _ := b.cfg.Period.Bounds(time.Now())
	key := p + "budget:{a}:" + periodKey(start)
	defer client.Del(context.Background(), key)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		b.Run(ctx, 5*time.Millisecond, time.Hour, func(op string, err error) {
			select {
			case errs <- op:
			default:
			}
		})
		close(done)
	}()
	b.Charge("a", 123)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v, _ := client.Get(context.Background(), key).Int64(); v == 123 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("spend never reached Redis")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Charge("a", 7)
	cancel()
	<-done
	if v, _ := client.Get(context.Background(), key).Int64(); v != 130 {
		t.Fatalf("final sync on stop: %d, want 130", v)
	}
	if op := <-errs; op != "reconcile" {
		t.Fatalf("reported %q, want the failed startup reconcile", op)
	}
}
