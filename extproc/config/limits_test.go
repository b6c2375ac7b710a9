package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// parseLimits decodes a limits section strictly and validates it.
func parseLimits(t *testing.T, y string) (Limits, error) {
	t.Helper()
	var l Limits
	dec := yaml.NewDecoder(bytes.NewReader([]byte(y)))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("decode: %v", err)
	}
	var errs errList
	l.validate(&errs)
	return l, errors.Join(errs...)
}

func TestLimitsDefaults(t *testing.T) {
	l, err := parseLimits(t, "teams: {'*': {requests_per_minute: 600}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if l.Store != "memory" || l.Redis.KeyPrefix != "ward:" || l.Redis.Timeout.D() != 50*time.Millisecond ||
		l.Budgets.Period != "month" || l.Budgets.SyncInterval.D() != time.Second || l.Budgets.ReconcileInterval.D() != time.Minute {
		t.Fatalf("defaults: %+v", l)
	}
}

func TestLimitsFullExample(t *testing.T) {
	y := `
store: redis
redis: {addr: "127.0.0.1:6379", db: 2, key_prefix: "ward:prod:", timeout: 20ms, pool_size: 32}
teams:
  "*": {requests_per_minute: 600, tokens_per_minute: 200000}
  research: {requests_per_minute: 1200, tokens_per_minute: 1000000, token_burst: 250000}
apps:
  scribe: {tokens_per_minute: 500000}
keys:
  "*": {requests_per_minute: 120}
budgets:
  period: 336h
  teams: {"*": 500, research: 20000.50}
  sync_interval: 2s
  reconcile_interval: 30s
  reconcile: false
`
	l, err := parseLimits(t, y)
	if err != nil {
		t.Fatal(err)
	}
	if l.Teams["research"].TokenBurst != 250000 || MicroUSD(l.Budgets.Teams["research"]) != 20_000_500_000 ||
		Enabled(l.Budgets.Reconcile, true) || l.Redis.DB != 2 {
		t.Fatalf("parsed %+v", l)
	}
}

func TestLimitsValidationReportsEveryErrorWithPath(t *testing.T) {
	y := `
store: memcached
redis: {addr: "nohost", db: -1, key_prefix: "a b", timeout: -1s, pool_size: -3}
teams:
  "*": {requests_per_minute: -1, tokens_per_minute: 2000000000000}
  "x{y}": {requests_per_minute: 1}
apps:
  scribe: {token_burst: 10}
keys:
  k1: {request_burst: 5}
budgets:
  period: fortnight
  teams: {ops: -5}
  sync_interval: -1s
  reconcile_interval: 10ms
`
	_, err := parseLimits(t, y)
	if err == nil {
		t.Fatal("want errors")
	}
	want := []string{
		`limits.store: unknown store "memcached"`,
		`limits.redis.addr:`,
		`limits.redis.db: must be >= 0`,
		`limits.redis.pool_size: must be >= 0`,
		`limits.redis.timeout: must be positive`,
		`limits.redis.key_prefix: must not contain`,
		`limits.teams.*.requests_per_minute: -1 outside`,
		`limits.teams.*.tokens_per_minute: 2000000000000 outside`,
		`limits.teams.x{y}: invalid name`,
		`limits.apps.scribe.token_burst: set tokens_per_minute too`,
		`limits.keys.k1.request_burst: set requests_per_minute too`,
		`limits.budgets.period: want month`,
		`limits.budgets.teams.ops: USD amount -5`,
		`limits.budgets.sync_interval: must be positive`,
		`limits.budgets.reconcile_interval: must be at least 1s`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if _, err := parseLimits(t, "store: redis\n"); err == nil || !strings.Contains(err.Error(), "limits.redis.addr: required") {
		t.Errorf("redis without addr: %v", err)
	}
	for _, p := range []string{"month", "week", "day", "24h", "720h"} {
		if _, err := parseLimits(t, "budgets: {period: "+p+"}\n"); err != nil {
			t.Errorf("period %s: %v", p, err)
		}
	}
}

// TestLimitsThroughParse: the section is part of the config document,
// defaults included, and its errors join the others.
func TestLimitsThroughParse(t *testing.T) {
	base := "server: {grpc_addr: \"127.0.0.1:0\"}\nprofiles: {clinical: {}}\ndefault_profile: clinical\n"
	c, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.Store != "memory" || c.Limits.Budgets.Period != "month" {
		t.Fatalf("limits defaults not applied: %+v", c.Limits)
	}
	_, err = Parse([]byte(base + "log: {level: loud}\nlimits: {store: memcached, budgets: {period: fortnight}}\n"))
	for _, w := range []string{"log.level", "limits.store", "limits.budgets.period"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}
