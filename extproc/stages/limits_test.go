package stages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/identity"
	"github.com/wardhq/ward/policy/limits"
	"github.com/wardhq/ward/policy/tokens"
)

// limitsConfig is a config with two keys of one team and the given
// limits section (indented under "limits:").
func limitsConfig(t testing.TB, limitsYAML string) *config.Config {
	t.Helper()
	sum := func(k string) string { s := sha256.Sum256([]byte(k)); return hex.EncodeToString(s[:]) }
	y := fmt.Sprintf(`
server: {grpc_addr: "127.0.0.1:0"}
keys:
  - {id: k1, sha256: %s, team: cardiology, app: scribe}
  - {id: k2, sha256: %s, team: cardiology, app: portal}
providers:
  openai: {dialect: openai, key_env: WARD_TEST_OPENAI_KEY}
  anthropic: {dialect: anthropic, key_env: WARD_TEST_ANTHROPIC_KEY}
profiles:
  clinical: {fail_open: false}
  internal: {fail_open: true}
routes:
  - {app: portal, profile: internal}
default_profile: clinical
policy: {timeout: 2s}
limits:
%s`, sum("key-one"), sum("key-two"), limitsYAML)
	c, err := config.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// limitsPipeline wires the real token counter and pricer, the limits stage
// and (optionally) the real policy engine into a pipeline.
func limitsPipeline(t testing.TB, cfg *config.Config, reg prometheus.Registerer, withPolicy bool) (*extproc.Pipeline, *limitStage) {
	t.Helper()
	t.Setenv("WARD_TEST_OPENAI_KEY", "sk-openai")
	t.Setenv("WARD_TEST_ANTHROPIC_KEY", "sk-ant")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	keys, err := identity.NewKeyStore(cfg.Providers, nil)
	if err != nil {
		t.Fatal(err)
	}
	counter, err := tokens.New(tokens.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pricer, err := tokens.NewPricer(tokens.PricingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	lim, err := newLimitStage(ctx, cfg, Deps{Log: quiet, Registry: reg})
	if err != nil || lim == nil {
		t.Fatalf("limit stage: %v %v", lim, err)
	}
	p := &extproc.Pipeline{
		Config: cfg, Auth: identity.NewAuthenticator(cfg), Keys: keys,
		Detectors: []extproc.Detector{&tokenDetector{counter: counter, pricer: pricer}, lim},
	}
	if withPolicy {
		engine, err := newPolicyEngine(ctx, cfg, quiet)
		if err != nil {
			t.Fatal(err)
		}
		p.Decider = &policyDecider{engine: engine, cfg: cfg}
	}
	return p, lim
}

func headerMap(kv ...string) *extprocv3.HttpHeaders {
	hm := &corev3.HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return &extprocv3.HttpHeaders{Headers: hm}
}

// outcome is what the client saw of one exchange.
type outcome struct {
	status  int // 0: forwarded upstream
	headers map[string]string
	body    string
	ix      *extproc.Interaction
}

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Summarise the discharge note for the cardiology ward round."}]}`

// exchange runs one request through the processor; when it goes upstream,
// the fake provider answers with usage (prompt, completion tokens).
func exchange(t testing.TB, p *extproc.Pipeline, path, key, body string, usageIn, usageOut int) outcome {
	t.Helper()
	ctx := context.Background()
	proc := p.NewProcessor(ctx)
	rec := &captureRecorder{}
	p.Recorder = rec
	resp, err := proc.RequestHeaders(ctx, headerMap(":method", "POST", ":path", path, ":authority", "gw", "content-type", "application/json", "authorization", "Bearer "+key))
	if err != nil {
		t.Fatal(err)
	}
	if ir := resp.GetImmediateResponse(); ir != nil {
		t.Fatalf("denied at headers: %s", ir.GetBody())
	}
	resp, err = proc.RequestBody(ctx, &extprocv3.HttpBody{Body: []byte(body), EndOfStream: true})
	if err != nil {
		t.Fatal(err)
	}
	if ir := resp.GetImmediateResponse(); ir != nil {
		o := outcome{status: int(ir.GetStatus().GetCode()), headers: map[string]string{}, body: string(ir.GetBody())}
		for _, h := range ir.GetHeaders().GetSetHeaders() {
			o.headers[h.GetHeader().GetKey()] = string(h.GetHeader().GetRawValue())
		}
		proc.Close(ctx, nil)
		o.ix = rec.ix
		return o
	}
	proc.ResponseHeaders(ctx, headerMap(":status", "200", "content-type", "application/json"))
	rb := fmt.Sprintf(`{"id":"c1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		usageIn, usageOut, usageIn+usageOut)
	proc.ResponseBody(ctx, &extprocv3.HttpBody{Body: []byte(rb), EndOfStream: true})
	proc.Close(ctx, nil)
	return outcome{ix: rec.ix}
}

type captureRecorder struct{ ix *extproc.Interaction }

func (c *captureRecorder) Record(_ context.Context, ix *extproc.Interaction) error {
	c.ix = ix
	return nil
}

func TestRequestsPerMinute429WithRetryAfter(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := limitsConfig(t, `  teams: {"*": {requests_per_minute: 60, request_burst: 2}}
  keys: {k2: {requests_per_minute: 1000}}
`)
	p, _ := limitsPipeline(t, cfg, reg, false)
	for i := 0; i < 2; i++ {
		if o := exchange(t, p, "/v1/chat/completions", "key-one", chatBody, 20, 5); o.status != 0 {
			t.Fatalf("request %d denied: %d %s", i, o.status, o.body)
		}
	}
	o := exchange(t, p, "/v1/chat/completions", "key-one", chatBody, 20, 5)
	if o.status != 429 || o.headers["retry-after"] != "1" || o.headers["x-ward-decision"] != "deny" {
		t.Fatalf("third: %d %v %s", o.status, o.headers, o.body)
	}
	var e struct {
		Error struct{ Message, Type, Code string }
	}
	if err := json.Unmarshal([]byte(o.body), &e); err != nil || e.Error.Code != "rate_limit_exceeded" ||
		!strings.Contains(e.Error.Message, "team cardiology on requests per minute: limit 60") {
		t.Fatalf("OpenAI error shape: %s (%v)", o.body, err)
	}
	if o.ix.Outcome != "deny" || o.ix.ReasonCode != "rate_limit_exceeded" {
		t.Fatalf("audit: %s %s", o.ix.Outcome, o.ix.ReasonCode)
	}
	// The same team's other key shares the team limit.
	if o := exchange(t, p, "/v1/chat/completions", "key-two", chatBody, 20, 5); o.status != 429 {
		t.Fatalf("team limit not shared across keys: %d", o.status)
	}
	// Anthropic callers get Anthropic's error shape.
	o = exchange(t, p, "/v1/messages", "key-one", `{"model":"claude-3-5-haiku-latest","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`, 0, 0)
	var ae struct {
		Type  string
		Error struct{ Type, Message string }
	}
	if json.Unmarshal([]byte(o.body), &ae); o.status != 429 || ae.Type != "error" || ae.Error.Type != "rate_limit_error" {
		t.Fatalf("anthropic: %d %s", o.status, o.body)
	}
	if n := counterSum(t, reg, "ward_ratelimit_denied_total"); n != 3 {
		t.Fatalf("denied metric = %v", n)
	}
}

// counterSum adds up every series of a counter family in reg.
func counterSum(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func TestTokensPerMinuteChargesPromptThenOutput(t *testing.T) {
	cfg := limitsConfig(t, `  apps: {scribe: {tokens_per_minute: 6000, token_burst: 1000}}
`)
	p, lim := limitsPipeline(t, cfg, nil, false)
	o := exchange(t, p, "/v1/chat/completions", "key-one", chatBody, 20, 990)
	if o.status != 0 || o.ix.PromptTokens <= 0 {
		t.Fatalf("first: %d, prompt estimate %d", o.status, o.ix.PromptTokens)
	}
	// Prompt (~20) + output 990 used more than the 1000 burst: the next
	// prompt does not fit, and the wait covers the debt at 100 tokens/s.
	o = exchange(t, p, "/v1/chat/completions", "key-one", chatBody, 20, 0)
	if o.status != 429 || o.headers["retry-after"] == "" || !strings.Contains(o.body, "app scribe on tokens per minute") {
		t.Fatalf("second: %d %v %s", o.status, o.headers, o.body)
	}
	// Other apps of the team are not limited.
	if o := exchange(t, p, "/v1/chat/completions", "key-two", chatBody, 20, 900); o.status != 0 {
		t.Fatalf("portal limited by scribe's limit: %s", o.body)
	}
	// A prompt larger than the burst can never fit: no Retry-After.
	big := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("word ", 1500) + `"}]}`
	lim.store = limits.NewMemory(nil) // a fresh window
	o = exchange(t, p, "/v1/chat/completions", "key-one", big, 0, 0)
	if o.status != 429 || o.headers["retry-after"] != "" || !strings.Contains(o.body, "Request too large") {
		t.Fatalf("too large: %d %v %s", o.status, o.headers, o.body)
	}
}

// TestBudgetReachesPolicy: spend settles into the team's budget and the
// real policy denies once it is exhausted (rego/limits.rego).
func TestBudgetReachesPolicy(t *testing.T) {
	cfg := limitsConfig(t, `  budgets: {teams: {"*": 0.001}}
`)
	p, lim := limitsPipeline(t, cfg, nil, true)
	// gpt-4o-mini output costs 0.60 USD per million tokens: 2000 output
	// tokens cost 1200 micro-USD, more than the 1000 budget.
	o := exchange(t, p, "/v1/chat/completions", "key-one", chatBody, 20, 2000)
	if o.status != 0 {
		t.Fatalf("first: %d %s", o.status, o.body)
	}
	if o.ix.Budget == nil || o.ix.Budget.LimitMicroUSD != 1000 || o.ix.Budget.SpentMicroUSD != 0 || o.ix.CostMicroUSD <= 1000 {
		t.Fatalf("budget %+v cost %d", o.ix.Budget, o.ix.CostMicroUSD)
	}
	in := (&policyDecider{cfg: cfg}).input(extproc.PhaseRequest, o.ix)
	if b := in.Tokens.Budget; b == nil || b.Unit != "usd" || b.Limit != 0.001 || b.Remaining != 0.001 {
		t.Fatalf("policy input budget %+v", in.Tokens.Budget)
	}
	if st, _ := lim.budgets.State("cardiology"); st.SpentMicroUSD != o.ix.CostMicroUSD {
		t.Fatalf("spent %d, cost %d", st.SpentMicroUSD, o.ix.CostMicroUSD)
	}
	o = exchange(t, p, "/v1/chat/completions", "key-two", chatBody, 20, 5)
	if o.status != 429 || !strings.Contains(o.body, "budget") || o.ix.ReasonCode != "budget_exceeded" {
		t.Fatalf("over budget: %d %s %s", o.status, o.body, o.ix.ReasonCode)
	}
}

func TestRedisUnreachableFollowsProfile(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := limitsConfig(t, `  store: redis
  redis: {addr: "127.0.0.1:1", timeout: 50ms}
  teams: {"*": {requests_per_minute: 100}}
`)
	p, _ := limitsPipeline(t, cfg, reg, false)
	o := exchange(t, p, "/v1/chat/completions", "key-one", chatBody, 20, 5)
	if o.status != 503 || !strings.Contains(o.body, "rate limiter is unavailable") {
		t.Fatalf("clinical (fail closed): %d %s", o.status, o.body)
	}
	if o := exchange(t, p, "/v1/chat/completions", "key-two", chatBody, 20, 5); o.status != 0 || o.ix.ProfileName != "internal" {
		t.Fatalf("internal (fail open): %d %s", o.status, o.body)
	}
	if n := counterSum(t, reg, "ward_ratelimit_store_errors_total"); n != 2 {
		t.Fatalf("store errors metric = %v", n)
	}
}

func requireRedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("WARD_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis not reachable at %s (CI=true): %v; run .ci/redis.sh", addr, err)
		}
		t.Skipf("Redis not reachable at %s: %v (run .ci/redis.sh)", addr, err)
	}
	c.Close()
	return addr
}

// TestRedisSharedBetweenReplicas: two pipelines (two Ward replicas) on one
// Redis share a team's requests-per-minute.
func TestRedisSharedBetweenReplicas(t *testing.T) {
	addr := requireRedisAddr(t)
	prefix := fmt.Sprintf("ward_test_%d:", time.Now().UnixNano())
	cfg := limitsConfig(t, fmt.Sprintf(`  store: redis
  redis: {addr: %q, key_prefix: %q, timeout: 500ms}
  teams: {"*": {requests_per_minute: 3}}
`, addr, prefix))
	a, _ := limitsPipeline(t, cfg, nil, false)
	b, _ := limitsPipeline(t, cfg, nil, false)
	var got []int
	for i, p := range []*extproc.Pipeline{a, b, a, b} {
		o := exchange(t, p, "/v1/chat/completions", "key-one", chatBody, 20, 5)
		got = append(got, o.status)
		if i == 3 && o.headers["retry-after"] != "20" {
			t.Errorf("retry-after %q, want 20", o.headers["retry-after"])
		}
	}
	if fmt.Sprint(got) != "[0 0 0 429]" {
		t.Fatalf("statuses %v, want [0 0 0 429]", got)
	}
}

// BenchmarkLimitCheck is the stage's request-phase cost with the memory
// store: team, app and key limits on requests and tokens.
//
//	go test ./extproc/stages -run '^$' -bench LimitCheck -benchtime 100000x
func BenchmarkLimitCheck(b *testing.B) {
	cfg := limitsConfig(b, `  teams: {"*": {requests_per_minute: 100000000000, tokens_per_minute: 1000000000000}}
  apps: {"*": {requests_per_minute: 100000000000, tokens_per_minute: 1000000000000}}
  keys: {"*": {requests_per_minute: 100000000000, tokens_per_minute: 1000000000000}}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lim, err := newLimitStage(ctx, cfg, Deps{Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	ix := &extproc.Interaction{Caller: identity.Caller{Team: "cardiology", App: "scribe", KeyID: "k1"}, PromptTokens: 900}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := lim.Check(ctx, ix); !ok {
			b.Fatal("denied")
		}
	}
}
