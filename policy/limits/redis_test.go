package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func redisAddr() string {
	if a := os.Getenv("WARD_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// requireRedis returns a client on the local Redis, skipping when none
// answers except under CI=true (start one with .ci/redis.sh).
func requireRedis(t testing.TB) *redis.Client {
	t.Helper()
	addr := redisAddr()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis not reachable at %s (CI=true): %v; run .ci/redis.sh", addr, err)
		}
		t.Skipf("Redis not reachable at %s: %v (run .ci/redis.sh)", addr, err)
	}
	c.Close()
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis ping: %v", err)
	}
	return client
}

// testPrefix isolates one test's keys.
func testPrefix(t testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	return "ward_test_" + hex.EncodeToString(b[:]) + ":"
}

func TestRedisAllowAndCharge(t *testing.T) {
	client := requireRedis(t)
	s := NewRedis(client)
	p := testPrefix(t)
	ctx := context.Background()
	rpm := mustLimit(t, Rule{PerMinute: 60}) // 1 per second
	tpm := mustLimit(t, Rule{PerMinute: 6000, Burst: 1000})
	items := []Item{{Key: p + "{a}:rpm", Limit: rpm, N: 1}, {Key: p + "{a}:tpm", Limit: tpm, N: 400}}
	for i := 0; i < 2; i++ {
		r, err := s.Allow(ctx, items)
		if err != nil || !r.Allowed {
			t.Fatalf("check %d: %+v %v", i, r, err)
		}
	}
	// 800 of 1000 burst used; 400 more needs 200 tokens = 2 s at 100/s.
	r, err := s.Allow(ctx, items)
	if err != nil || r.Allowed || r.Denied != 1 || r.RetryAfter < 1900*time.Millisecond || r.RetryAfter > 2*time.Second {
		t.Fatalf("third: %+v %v", r, err)
	}
	// The refused check charged nothing: a small request still fits.
	if r, _ := s.Allow(ctx, []Item{{Key: p + "{a}:tpm", Limit: tpm, N: 150}}); !r.Allowed {
		t.Fatalf("refused check was charged: %+v", r)
	}
	if err := s.Charge(ctx, []Item{{Key: p + "{a}:tpm", Limit: tpm, N: 3000}}); err != nil {
		t.Fatal(err)
	}
	r, _ = s.Allow(ctx, []Item{{Key: p + "{a}:tpm", Limit: tpm, N: 1}})
	if r.Allowed || r.RetryAfter < 29*time.Second || r.RetryAfter > 31*time.Second {
		t.Fatalf("after debt: %+v", r)
	}
	// Keys expire once the allowance is full again.
	ttl, err := client.PTTL(ctx, p+"{a}:tpm").Result()
	if err != nil || ttl <= 0 || ttl > 50*time.Second {
		t.Fatalf("pttl = %v %v", ttl, err)
	}
	if r, _ := s.Allow(ctx, []Item{{Key: p + "{b}", Limit: tpm, N: 1001}}); r.Allowed || !r.TooLarge {
		t.Fatalf("too large: %+v", r)
	}
	client.Del(ctx, p+"{a}:rpm", p+"{a}:tpm")
}

// TestRedisMatchesMemory: the same sequence gives the same admissions in
// both stores (coarse timing: Redis uses its own clock).
func TestRedisMatchesMemory(t *testing.T) {
	client := requireRedis(t)
	p := testPrefix(t)
	ctx := context.Background()
	rl := NewRedis(client)
	mem := NewMemory(nil)
	l := mustLimit(t, Rule{PerMinute: 600, Burst: 20}) // 10/s
	for i := 0; i < 40; i++ {
		n := int64(1 + i%3)
		items := []Item{{Key: p + "k", Limit: l, N: n}}
		a, err := rl.Allow(ctx, items)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := mem.Allow(ctx, items)
		if a.Allowed != b.Allowed {
			t.Fatalf("step %d: redis %+v, memory %+v", i, a, b)
		}
	}
	client.Del(ctx, p+"k")
}

// TestRedisReplicasShareState: two stores (two Ward replicas) on one Redis
// admit exactly the burst between them under concurrency.
func TestRedisReplicasShareState(t *testing.T) {
	client := requireRedis(t)
	other := redis.NewClient(&redis.Options{Addr: redisAddr()})
	defer other.Close()
	p := testPrefix(t)
	replicas := []*Redis{NewRedis(client), NewRedis(other)}
	l := mustLimit(t, Rule{PerMinute: 100})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				r, err := replicas[g%2].Allow(context.Background(), []Item{{Key: p + "shared", Limit: l, N: 1}})
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// 200 tries within well under a second: the burst of 100 plus at most
	// what refilled meanwhile (100/min).
	if n := admitted.Load(); n < 100 || n > 102 {
		t.Fatalf("admitted %d, want 100 (+refill)", n)
	}
	client.Del(context.Background(), p+"shared")
}

func TestRedisUnreachable(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer client.Close()
	_, err := NewRedis(client).Allow(context.Background(), []Item{{Key: "k", Limit: mustLimit(t, Rule{PerMinute: 1}), N: 1}})
	if err == nil {
		t.Fatal("no error from an unreachable Redis")
	}
}

// BenchmarkRedisAllow is one check of 6 limits against the local Redis:
// one EVALSHA round trip.
//
//	.ci/redis.sh && go test ./policy/limits -run '^$' -bench RedisAllow -benchtime 2000x
func BenchmarkRedisAllow(b *testing.B) {
	client := requireRedis(b)
	s := NewRedis(client)
	p := testPrefix(b)
	rpm := mustLimit(b, Rule{PerMinute: 1e11})
	tpm := mustLimit(b, Rule{PerMinute: 1e12})
	var items []Item
	for _, scope := range []string{"team", "app:a", "key:k"} {
		items = append(items,
			Item{Key: p + "{t}:" + scope + ":rpm", Limit: rpm, N: 1},
			Item{Key: p + "{t}:" + scope + ":tpm", Limit: tpm, N: 900})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r, err := s.Allow(ctx, items); err != nil || !r.Allowed {
			b.Fatal(r, err)
		}
	}
	b.StopTimer()
	for _, it := range items {
		client.Del(ctx, it.Key)
	}
}

// BenchmarkRedisPing is the bare round trip to the same Redis, the floor
// under BenchmarkRedisAllow on this machine.
func BenchmarkRedisPing(b *testing.B) {
	client := requireRedis(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := client.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
