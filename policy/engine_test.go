package policy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

func newEngine(t testing.TB, src Source, opts Options) *Engine {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second // shared CI machines are slow; deadline tests set their own
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	e, err := New(context.Background(), src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDecideEmbeddedClinical(t *testing.T) {
	e := newEngine(t, Embedded(), Options{})
	ctx := context.Background()

	tests := []struct {
		name     string
		mutate   func(in *Input)
		allow    bool
		code     string
		status   int
		redact   []string
		route    RouteTarget
		audit    string
		wantTags []string
	}{
		{
			name:   "phi redacted for provider without BAA",
			mutate: func(in *Input) {},
			allow:  true, code: "ok", redact: []string{"DOB", "NAME", "PHONE"}, audit: AuditRedacted,
			wantTags: []string{"clinical", "phi", "phi_redacted"},
		},
		{
			name:   "BAA route: no redaction",
			mutate: func(in *Input) { in.Route.BAA = true },
			allow:  true, code: "ok", audit: AuditRedacted, wantTags: []string{"baa"},
		},
		{
			name: "SSN blocked",
			mutate: func(in *Input) {
				in.Detectors.PHI.Findings = append(in.Detectors.PHI.Findings, Finding{Type: "SSN", Role: "user", MessageIndex: 1, Start: 1, End: 12, Score: 1})
				in.Detectors.PHI.Count++
			},
			allow: false, code: "phi_blocked", status: 403, audit: AuditRedacted, wantTags: []string{"phi_blocked"},
		},
		{
			name:   "team route to Azure deployment",
			mutate: func(in *Input) { in.Model = "gpt-4o" },
			allow:  true, code: "ok", route: RouteTarget{Model: "gpt-4o-clinical", Provider: "azure-openai"}, audit: AuditRedacted,
		},
		{
			name:   "budget exhausted",
			mutate: func(in *Input) { in.Tokens.Budget = &Budget{Limit: 10, Spent: 10, Remaining: 0, Unit: "usd"} },
			allow:  false, code: "budget_exceeded", status: 429, audit: AuditRedacted,
		},
		{
			name: "patient-facing output with dosing advice",
			mutate: func(in *Input) {
				in.Phase = PhaseResponse
				in.Identity.App = "patient-portal"
				in.Detectors = Detectors{PHI: PHI{ByType: map[string]int{}}}
				in.Output = &Output{Text: "You should take 400 mg of ibuprofen every 6 hours."}
			},
			allow: false, code: "clinical_advice", status: 403, audit: AuditFull,
		},
		{
			name:   "unknown profile",
			mutate: func(in *Input) { in.Profile = "bogus" },
			allow:  false, code: "unknown_profile", status: 403, audit: AuditFull,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := clinicalInput(1024)
			tc.mutate(in)
			d, err := e.Decide(ctx, "", in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tc.allow || d.Reason.Code != tc.code || d.Status != tc.status || d.Audit != tc.audit {
				t.Errorf("got allow=%v code=%q status=%d audit=%q; want %v %q %d %q (%+v)",
					d.Allow, d.Reason.Code, d.Status, d.Audit, tc.allow, tc.code, tc.status, tc.audit, d)
			}
			var types []string
			for _, r := range d.Redact {
				types = append(types, r.Type)
				if r.Mode != "mask" {
					t.Errorf("redact %s mode %q", r.Type, r.Mode)
				}
			}
			if strings.Join(types, ",") != strings.Join(tc.redact, ",") {
				t.Errorf("redact = %v, want %v", types, tc.redact)
			}
			if d.Route != tc.route {
				t.Errorf("route = %+v, want %+v", d.Route, tc.route)
			}
			for _, tag := range tc.wantTags {
				if !contains(d.Tags, tag) {
					t.Errorf("tags %v lack %q", d.Tags, tag)
				}
			}
			if !strings.HasPrefix(d.Revision, "sha256:") || d.Entrypoint != DefaultEntrypoint {
				t.Errorf("revision %q entrypoint %q", d.Revision, d.Entrypoint)
			}
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestDecidePerProfileEntrypoint(t *testing.T) {
	e := newEngine(t, Embedded(), Options{Entrypoints: []string{"data.ward.internal.decision"}})
	in := clinicalInput(256)
	d, err := e.Decide(context.Background(), "data.ward.internal.decision", in)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow || len(d.Redact) != 0 || d.Audit != AuditFull || d.Entrypoint != "data.ward.internal.decision" {
		t.Errorf("internal decision = %+v", d)
	}
	// An entrypoint not named up front is prepared on first use.
	d, err = e.Decide(context.Background(), "data.ward.clinical.decision", in)
	if err != nil || !d.Allow || len(d.Redact) == 0 {
		t.Errorf("clinical decision = %+v, %v", d, err)
	}
	if _, err := e.Decide(context.Background(), "input.x", in); err == nil {
		t.Error("non-data entrypoint: want error")
	}
}

func TestDataOverride(t *testing.T) {
	e := newEngine(t, Embedded(), Options{Data: map[string]any{
		"ward": map[string]any{"config": map[string]any{"providers": map[string]any{"openai": map[string]any{"baa": true}}}},
	}})
	d, err := e.Decide(context.Background(), "", clinicalInput(256))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Redact) != 0 || !contains(d.Tags, "baa") {
		t.Errorf("override did not mark openai as BAA: %+v", d)
	}
	// The rest of the default data is still there.
	in := clinicalInput(256)
	in.Model = "gpt-4o"
	d, _ = e.Decide(context.Background(), "", in)
	if d.Route.Provider != "azure-openai" {
		t.Errorf("deep merge lost model routes: %+v", d)
	}
}

func fsSource(files map[string]string) Source {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return FromFS(m, "test")
}

func TestBadDecisions(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		field  string // the ShapeError field, "" for other errors
		undef  bool
	}{
		{name: "allow missing", policy: `decision := {"reason": {"code": "x"}}`, field: "allow"},
		{name: "allow wrong type", policy: `decision := {"allow": "yes"}`, field: "allow"},
		{name: "not an object", policy: `decision := true`, field: "decision"},
		{name: "status string", policy: `decision := {"allow": false, "status": "403"}`, field: "status"},
		{name: "status out of range", policy: `decision := {"allow": false, "status": 1000}`, field: "status"},
		{name: "reason code number", policy: `decision := {"allow": true, "reason": {"code": 1}}`, field: "reason.code"},
		{name: "redact type missing", policy: `decision := {"allow": true, "redact": [{"type": "NAME"}, {"mode": "mask"}]}`, field: "redact[1].type"},
		{name: "redact type number", policy: `decision := {"allow": true, "redact": [{"type": "NAME"}, {"type": 7}]}`, field: "redact[1].type"},
		{name: "redact mode number", policy: `decision := {"allow": true, "redact": [{"type": "NAME", "mode": true}]}`, field: "redact[0].mode"},
		{name: "route not object", policy: `decision := {"allow": true, "route": "gpt-4o"}`, field: "route"},
		{name: "header value number", policy: `decision := {"allow": true, "headers": {"x-a": 1}}`, field: "headers.x-a"},
		{name: "audit unknown", policy: `decision := {"allow": true, "audit": "everything"}`, field: "audit"},
		{name: "response_checks unknown", policy: `decision := {"allow": true, "response_checks": "sometimes"}`, field: "response_checks"},
		{name: "response_checks not a string", policy: `decision := {"allow": true, "response_checks": 1}`, field: "response_checks"},
		{name: "tags not strings", policy: `decision := {"allow": true, "tags": ["a", 2]}`, field: "tags[1]"},
		{name: "conflict error", policy: "decision := {\"allow\": true} if input.phase == \"request\"\n\ndecision := {\"allow\": false} if input.phase == \"request\""},
		{name: "undefined", policy: `decision := {"allow": true} if input.never`, undef: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, fsSource(map[string]string{"p.rego": "package ward\n\n" + tc.policy + "\n"}), Options{})
			d, err := e.Decide(context.Background(), "", &Input{Phase: PhaseRequest, Profile: "clinical"})
			if d.Allow {
				t.Fatalf("bad policy allowed: %+v", d)
			}
			if tc.undef {
				if err != nil || d.Reason.Code != ReasonNoDecision || d.Err != nil || d.Status != 403 {
					t.Fatalf("undefined: d=%+v err=%v", d, err)
				}
				if s := e.Status(); s.Undefined != 1 {
					t.Errorf("undefined counter %d", s.Undefined)
				}
				return
			}
			if err == nil || d.Err == nil || d.Reason.Code != ReasonPolicyError || d.Status != 500 {
				t.Fatalf("want fail-closed policy_error, got d=%+v err=%v", d, err)
			}
			if tc.field != "" {
				var se *ShapeError
				if !errors.As(err, &se) || se.Field != tc.field || !errors.Is(err, ErrShape) {
					t.Fatalf("err = %v, want ShapeError on %q", err, tc.field)
				}
				if !strings.Contains(err.Error(), `"`+tc.field+`"`) {
					t.Errorf("message does not name the field: %v", err)
				}
			}
			if s := e.Status(); s.Errors != 1 {
				t.Errorf("error counter %d", s.Errors)
			}
			open := FailOpen(d)
			if !open.Allow || open.Err == nil || open.Reason.Code != ReasonFailOpen || !contains(open.Tags, "policy_error") {
				t.Errorf("FailOpen = %+v", open)
			}
		})
	}
}

func TestSlowPolicyHitsDeadline(t *testing.T) {
	// 4000 × 4000 iterations: seconds of work, stopped by the deadline.
	slow := `package ward

xs := numbers.range(1, 4000)

decision := {"allow": true} if {
	count([1 | some i in xs; some j in xs; i * j == -1]) >= 0
}
`
	e := newEngine(t, fsSource(map[string]string{"p.rego": slow}), Options{Timeout: 20 * time.Millisecond})
	start := time.Now()
	d, err := e.Decide(context.Background(), "", &Input{Phase: PhaseRequest})
	took := time.Since(start)
	if err == nil || d.Allow || d.Reason.Code != ReasonPolicyError {
		t.Fatalf("want deadline failure, got d=%+v err=%v", d, err)
	}
	if !strings.Contains(err.Error(), "deadline") {
		t.Errorf("error does not say deadline: %v", err)
	}
	if took > 3*time.Second { // unbounded, the loop runs for many seconds
		t.Errorf("deadline not enforced: took %s", took)
	}
	if s := e.Status(); s.Timeouts != 1 || s.Errors != 1 {
		t.Errorf("status %+v", s)
	}
	if !FailOpen(d).Allow {
		t.Error("FailOpen of a timeout must allow")
	}

	// The caller giving up is not a policy timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	e2 := newEngine(t, fsSource(map[string]string{"p.rego": slow}), Options{Timeout: 10 * time.Second})
	d, err = e2.Decide(ctx, "", &Input{Phase: PhaseRequest})
	if err == nil || d.Allow || !strings.Contains(err.Error(), "cancelled by the caller") {
		t.Fatalf("caller cancel: d=%+v err=%v", d, err)
	}
	if s := e2.Status(); s.Timeouts != 0 || s.Errors != 1 {
		t.Errorf("status after caller cancel %+v", s)
	}
}

func TestNewFailsOnBadSource(t *testing.T) {
	cases := map[string]Source{
		"missing dir":     Dir(filepath.Join(t.TempDir(), "nope")),
		"compile error":   fsSource(map[string]string{"p.rego": "package ward\n\ndecision := x\n"}),
		"parse error":     fsSource(map[string]string{"p.rego": "package ward\n\ndecision := {\n"}),
		"no modules":      fsSource(map[string]string{"data.json": "{}"}),
		"corrupt bundle":  Bundle(writeTemp(t, "b.tar.gz", []byte("not a tarball"))),
		"network builtin": fsSource(map[string]string{"p.rego": "package ward\n\ndecision := {\"allow\": http.send({\"method\": \"get\", \"url\": \"http://x\"}).status_code == 200}\n"}),
		"unset":           {},
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(context.Background(), src, Options{Logger: quietLogger()})
			if err == nil {
				t.Fatal("want error")
			}
			if name == "network builtin" && !strings.Contains(err.Error(), "http.send") {
				t.Errorf("error does not name the forbidden builtin: %v", err)
			}
		})
	}
	_, err := New(context.Background(), Embedded(), Options{Timeout: -1, Entrypoint: "input.x", Verify: &Verify{}})
	for _, want := range []string{"timeout", "entrypoint", "verify.key_id", "verify.key:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("options error %v lacks %q", err, want)
		}
	}
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDirReloadKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	write := func(src string) {
		if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(allowPolicy("v1"))
	// Test files in the directory are not part of the serving policy;
	// other files are ignored.
	for name, body := range map[string]string{
		"p_test.rego": "package p_test\n\ntest_x if true\n",
		"README.md":   "# policies\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := newEngine(t, Dir(dir), Options{})
	for name := range e.cur.Load().compiler.Modules {
		if strings.HasSuffix(name, "_test.rego") {
			t.Errorf("test module %s loaded into the serving policy", name)
		}
	}
	rev1 := e.Revision()
	ctx := context.Background()

	write("package ward\n\ndecision := {\n") // broken
	if _, err := e.Reload(ctx); err == nil {
		t.Fatal("broken reload: want error")
	}
	s := e.Status()
	if s.LastError == "" || !strings.Contains(s.LastError, "p.rego") || s.Revision != rev1 || s.ReloadFailures != 1 {
		t.Errorf("status after failed reload: %+v", s)
	}
	d, err := e.Decide(ctx, "", &Input{})
	if err != nil || d.Reason.Message != "v1" || d.Revision != rev1 {
		t.Fatalf("last good policy not kept: %+v %v", d, err)
	}

	write(allowPolicy("v1")) // fixed, same content as before: nothing to do
	if changed, err := e.Reload(ctx); err != nil || changed {
		t.Fatalf("unchanged reload: changed=%v err=%v", changed, err)
	}
	if s := e.Status(); s.LastError != "" || s.Reloads != 1 {
		t.Errorf("status after the source was fixed: %+v", s)
	}
	write(allowPolicy("v2"))
	if changed, err := e.Reload(ctx); err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	d, _ = e.Decide(ctx, "", &Input{})
	if d.Reason.Message != "v2" || d.Revision == rev1 {
		t.Errorf("new policy not active: %+v", d)
	}
	if s := e.Status(); s.LastError != "" || s.Reloads != 2 {
		t.Errorf("status after good reload: %+v", s)
	}
}

// bundleServer serves whatever bundle is current with an ETag and honours
// If-None-Match, like an OPA bundle server.
type bundleServer struct {
	// hold, when set, makes the next GET signal started and wait for
	// release: a reload frozen mid-fetch.
	hold     chan chan struct{}
	mu       sync.Mutex
	body     []byte
	etag     string
	status   int
	requests atomic.Int64
	notMod   atomic.Int64
}

func (s *bundleServer) set(body []byte, etag string) {
	s.mu.Lock()
	s.body, s.etag, s.status = body, etag, 0
	s.mu.Unlock()
}

func (s *bundleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.hold != nil {
		select {
		case release := <-s.hold:
			<-release
		default:
		}
	}
	s.mu.Lock()
	body, etag, status := s.body, s.etag, s.status
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, "down", status)
		return
	}
	if etag != "" && r.Header.Get("If-None-Match") == etag {
		s.notMod.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(body)
}

func TestHTTPBundlePollingWithETag(t *testing.T) {
	bs := &bundleServer{}
	bs.set(buildBundle(t, "rev-1", map[string]string{"ward/p.rego": allowPolicy("one")}, nil, ""), `"e1"`)
	srv := httptest.NewServer(bs)
	defer srv.Close()
	ctx := context.Background()

	e := newEngine(t, Bundle(srv.URL+"/bundles/ward.tar.gz"), Options{})
	if e.Revision() != "rev-1" {
		t.Fatalf("revision %q", e.Revision())
	}
	// Unchanged: 304, nothing recompiled.
	if changed, err := e.Reload(ctx); err != nil || changed || bs.notMod.Load() != 1 {
		t.Fatalf("304 poll: changed=%v err=%v notMod=%d", changed, err, bs.notMod.Load())
	}
	// New revision.
	bs.set(buildBundle(t, "rev-2", map[string]string{"ward/p.rego": allowPolicy("two")}, nil, ""), `"e2"`)
	if changed, err := e.Reload(ctx); err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	d, _ := e.Decide(ctx, "", &Input{})
	if d.Revision != "rev-2" || d.Reason.Message != "two" {
		t.Fatalf("decision after reload %+v", d)
	}
	// Server down, corrupt body, bundle that does not compile: keep rev-2.
	bs.mu.Lock()
	bs.status = http.StatusServiceUnavailable
	bs.mu.Unlock()
	if _, err := e.Reload(ctx); err == nil || !strings.Contains(e.Status().LastError, "503") {
		t.Errorf("503: err=%v status=%+v", err, e.Status())
	}
	bs.set([]byte("\x1f\x8b garbage"), `"e3"`)
	if _, err := e.Reload(ctx); err == nil {
		t.Error("corrupt bundle: want error")
	}
	bs.set(buildBundle(t, "rev-4", map[string]string{"ward/p.rego": "package ward\n\ndecision := y\n"}, nil, ""), `"e4"`)
	if _, err := e.Reload(ctx); err == nil || !strings.Contains(e.Status().LastError, "rego_") {
		t.Errorf("uncompilable bundle: err=%v status=%+v", err, e.Status())
	}
	srv.Close()
	if _, err := e.Reload(ctx); err == nil {
		t.Error("unreachable: want error")
	}
	d, err := e.Decide(ctx, "", &Input{})
	if err != nil || d.Revision != "rev-2" || d.Reason.Message != "two" {
		t.Fatalf("last good not kept: %+v %v", d, err)
	}
	if s := e.Status(); s.ReloadFailures != 4 || s.Revision != "rev-2" {
		t.Errorf("status %+v", s)
	}
}

func TestWatchPolls(t *testing.T) {
	bs := &bundleServer{}
	bs.set(buildBundle(t, "w1", map[string]string{"ward/p.rego": allowPolicy("one")}, nil, ""), `"w1"`)
	srv := httptest.NewServer(bs)
	defer srv.Close()
	e := newEngine(t, Bundle(srv.URL), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Watch(ctx, 5*time.Millisecond); close(done) }()
	bs.set(buildBundle(t, "w2", map[string]string{"ward/p.rego": allowPolicy("two")}, nil, ""), `"w2"`)
	deadline := time.Now().Add(5 * time.Second)
	for e.Revision() != "w2" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if e.Revision() != "w2" {
		t.Fatalf("Watch did not pick up the new bundle: %q", e.Revision())
	}
}

func TestSignedBundles(t *testing.T) {
	priv, pub := rsaKeys(t)
	otherPriv, _ := rsaKeys(t)
	mods := map[string]string{"ward/p.rego": allowPolicy("signed")}
	verify := &Verify{KeyID: "ward", Key: pub}

	signed := writeTemp(t, "signed.tar.gz", buildBundle(t, "s1", mods, map[string]any{"a": 1}, priv))
	e := newEngine(t, Bundle(signed), Options{Verify: verify})
	if e.Revision() != "s1" {
		t.Fatalf("revision %q", e.Revision())
	}

	want := map[string]string{
		"unsigned":       "missing .signatures.json",
		"wrong key":      "verification error",
		"tampered after": "digest mismatch",
	}
	for name, body := range map[string][]byte{
		"unsigned":       buildBundle(t, "u1", mods, nil, ""),
		"wrong key":      buildBundle(t, "w1", mods, nil, otherPriv),
		"tampered after": tamper(t, priv),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(context.Background(), Bundle(writeTemp(t, "b.tar.gz", body)), Options{Verify: verify, Logger: quietLogger()})
			if err == nil || !strings.Contains(err.Error(), want[name]) {
				t.Fatalf("err = %v, want %q", err, want[name])
			}
		})
	}
	// Without verification the unsigned bundle loads.
	newEngine(t, Bundle(writeTemp(t, "u.tar.gz", buildBundle(t, "u1", mods, nil, ""))), Options{})
}

// tamper signs one policy and ships another under the same signature.
func tamper(t *testing.T, priv string) []byte {
	good := buildBundle(t, "t1", map[string]string{"ward/p.rego": allowPolicy("good")}, nil, priv)
	b := buildBundle(t, "t1", map[string]string{"ward/p.rego": allowPolicy("evil")}, nil, "")
	return spliceSignature(t, good, b)
}

func TestFindingsOnlyWhenRead(t *testing.T) {
	tests := []struct {
		policy string
		reads  bool
	}{
		{`decision := {"allow": input.detectors.phi.count == 0}`, false},
		{`decision := {"allow": count(input.detectors.phi.findings) == 0}`, true},
		{`decision := {"allow": count(input.detectors.phi) == 0}`, true},
		{`decision := {"allow": count(input) == 0}`, true},
		{"decision := {\"allow\": true} if {\n\tsome k\n\tinput.detectors[k]\n}", true},
		{`decision := {"allow": input.route.baa}`, false},
	}
	for _, tc := range tests {
		e := newEngine(t, fsSource(map[string]string{"p.rego": "package ward\n\n" + tc.policy + "\n"}), Options{})
		if got := e.cur.Load().parts.findings; got != tc.reads {
			t.Errorf("%s: reads findings = %v, want %v", tc.policy, got, tc.reads)
		}
	}
	// Ward's own library decides from the per-type summaries.
	if newEngine(t, Embedded(), Options{}).cur.Load().parts.findings {
		t.Error("embedded library reads findings; the hot path would carry every span")
	}
	// A policy that reads findings gets them.
	e := newEngine(t, fsSource(map[string]string{"p.rego": `package ward

decision := {"allow": true, "tags": [f.type | some f in input.detectors.phi.findings]}
`}), Options{})
	d, err := e.Decide(context.Background(), "", &Input{Detectors: Detectors{PHI: PHI{Findings: []Finding{{Type: "MRN"}}}}})
	if err != nil || len(d.Tags) != 1 || d.Tags[0] != "MRN" {
		t.Errorf("findings not passed: %+v %v", d, err)
	}
}

func TestStartPending(t *testing.T) {
	bs := &bundleServer{}
	bs.set(nil, "")
	bs.mu.Lock()
	bs.status = http.StatusBadGateway
	bs.mu.Unlock()
	url := newServer(t, bs)
	if _, err := New(context.Background(), Bundle(url), Options{Logger: quietLogger()}); err == nil {
		t.Fatal("unreachable bundle at start: want error without StartPending")
	}
	e := newEngine(t, Bundle(url), Options{StartPending: true})
	if s := e.Status(); s.Ready || s.LastError == "" || e.Revision() != "" {
		t.Fatalf("pending status %+v", s)
	}
	d, err := e.Decide(context.Background(), "", &Input{})
	if !errors.Is(err, ErrNoPolicy) || d.Allow || d.Reason.Code != ReasonPolicyError {
		t.Fatalf("pending decision %+v %v", d, err)
	}
	bs.set(buildBundle(t, "late", map[string]string{"ward/p.rego": allowPolicy("late")}, nil, ""), `"l"`)
	if _, err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d, err := e.Decide(context.Background(), "", &Input{}); err != nil || !d.Allow || !e.Status().Ready {
		t.Fatalf("after load %+v %v", d, err)
	}
}

func TestEmbeddedExcludesTests(t *testing.T) {
	e := newEngine(t, Embedded(), Options{})
	n := 0
	for name := range e.cur.Load().compiler.Modules {
		n++
		if strings.HasSuffix(name, "_test.rego") {
			t.Errorf("test module %s loaded into the serving policy", name)
		}
	}
	if n != 8 {
		t.Errorf("%d modules loaded, want the 8 library modules", n)
	}
}
