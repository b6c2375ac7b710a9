package config

import (
	"strings"
	"testing"
)

func TestDefaultsLoad(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatalf("embedded defaults must be valid: %v", err)
	}
	if c.Server.GRPCAddr != DefaultGRPCAddr || c.Server.AdminAddr != DefaultAdminAddr {
		t.Fatalf("default addresses drifted: %s %s", c.Server.GRPCAddr, c.Server.AdminAddr)
	}
	if c.ProfileFor("/healthz", "", "", "") != "passthrough" {
		t.Fatal("health checks must bypass inspection")
	}
	if c.Profiles["clinical"].FailOpen {
		t.Fatal("clinical must fail closed")
	}
}

func TestValidationReportsEveryErrorWithPath(t *testing.T) {
	y := `
server: {grpc_addr: "nope", admin_addr: ""}
log: {level: loud}
keys:
  - {id: a, sha256: "xyz", team: t}
  - {id: a, sha256: "0000000000000000000000000000000000000000000000000000000000000000"}
providers:
  openai: {dialect: openia}
profiles:
  clinical: {unknown_paths: maybe}
routes:
  - {path_prefix: /v1/, profile: clinical}
  - {path_prefix: v1, profile: clinical}
  - {path_prefix: /x, profile: clnical}
default_profile: missing
audit: {sink: clickhouse, content: everything}
policy: {evaluator: fast}
`
	_, err := Parse([]byte(y))
	if err == nil {
		t.Fatal("want errors")
	}
	want := []string{
		`server.grpc_addr:`,
		`log.level: unknown level "loud"`,
		`keys[0].sha256: must be 64 hex characters`,
		`keys[1].id: duplicate key id "a"`,
		`keys[1].team: required`,
		`providers.openai.dialect: unknown dialect "openia"`,
		`profiles.clinical.unknown_paths: unknown value "maybe"`,
		`routes[1].path_prefix: must start with /`,
		`routes[2].profile: unknown profile "clnical"`,
		`default_profile: unknown profile "missing"`,
		`audit.clickhouse.addr: required when audit.sink is clickhouse`,
		`audit.content: unknown level "everything"`,
		`policy.evaluator: must be plan or topdown, got "fast"`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
}

func TestUnknownFieldIsAnError(t *testing.T) {
	_, err := Parse([]byte("server:\n  grpc_adr: x\n"))
	if err == nil || !strings.Contains(err.Error(), "grpc_adr") {
		t.Fatalf("want unknown field error, got %v", err)
	}
}

func TestBadDuration(t *testing.T) {
	_, err := Parse([]byte("server:\n  shutdown_grace: soon\n"))
	if err == nil || !strings.Contains(err.Error(), `invalid duration "soon"`) {
		t.Fatalf("got %v", err)
	}
}

func TestProfileFor(t *testing.T) {
	c, err := Parse([]byte(`
server: {grpc_addr: ":1"}
profiles: {clinical: {}, internal: {}, special: {}}
routes:
  - {path_prefix: /v1/, team: research, profile: internal}
  - {app: triage, profile: special}
default_profile: clinical
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, team, app, keyProfile, want string }{
		{"/v1/chat/completions", "research", "", "", "internal"},
		{"/v1/chat/completions", "clinical-ai", "triage", "", "special"},
		{"/v1/chat/completions", "clinical-ai", "", "internal", "internal"},
		{"/v1/chat/completions", "clinical-ai", "", "", "clinical"},
	}
	for _, tc := range tests {
		if got := c.ProfileFor(tc.path, tc.team, tc.app, tc.keyProfile); got != tc.want {
			t.Errorf("ProfileFor(%q,%q,%q,%q) = %q, want %q", tc.path, tc.team, tc.app, tc.keyProfile, got, tc.want)
		}
	}
}
