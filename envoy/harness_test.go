package envoy

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/wardhq/ward/extproc/config"
)

// ExampleEffectiveExtProc shows how an Envoy emulator takes its ext_proc
// settings from the deployed envoy.yaml instead of restating them.
func ExampleEffectiveExtProc() {
	b, err := LoadBootstrap("envoy.yaml")
	if err != nil {
		panic(err)
	}
	s, err := EffectiveExtProc(b, "llm.example.com", "/v1/chat/completions", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Mode.GetRequestBodyMode(), s.Mode.GetResponseBodyMode(), s.MessageTimeout, s.FailureModeAllow, s.AllowModeOverride)

	// After Ward sets x-ward-provider and clear_route_cache, Envoy re-matches:
	rc, _ := RouteConfig(b)
	m, _ := SelectRoute(rc, "llm.example.com", "/v1/chat/completions", map[string]string{config.HeaderProvider: "openai"})
	fmt.Println(m.Route.GetRoute().GetCluster())
	// Output:
	// BUFFERED BUFFERED 2s false true
	// openai
}

func TestPerRouteFor(t *testing.T) {
	b := load(t, "envoy.yaml")
	for _, tt := range []struct{ authority, path string }{
		{"llm.example.com", "/v1/chat/completions"},
		{"internal.example.com", "/v1/messages"},
		{"llm.example.com", "/healthz"},
	} {
		pr, err := PerRouteFor(b, tt.authority, tt.path)
		if err != nil {
			t.Fatal(err)
		}
		eff, err := EffectiveExtProc(b, tt.authority, tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Applying the flattened config on top of the filter settings must
		// give the same result as walking Envoy's levels.
		ep, err := ExtProcFilter(b)
		if err != nil {
			t.Fatal(err)
		}
		s := Settings(ep)
		s.apply(pr)
		if s.Disabled != eff.Disabled || !eff.Disabled && (!proto.Equal(s.Mode, eff.Mode) || s.FailureModeAllow != eff.FailureModeAllow) {
			t.Errorf("%s%s: flattened %+v, effective %+v", tt.authority, tt.path, s, eff)
		}
	}
}

// FuzzSelectRoute: route selection takes request authority, path and
// headers from untrusted clients when the harness uses it; it must never
// panic, and must always find a route (every virtual host ends with a
// catch-all).
func FuzzSelectRoute(f *testing.F) {
	b, err := LoadBootstrap("envoy.yaml")
	if err != nil {
		f.Fatal(err)
	}
	rc, err := RouteConfig(b)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct{ authority, path, provider string }{
		{"llm.example.com", "/v1/chat/completions", "openai"},
		{"internal.example.com:8443", "/v1/messages?x=1", "anthropic"},
		{"[::1]:8080", "/healthz", ""},
		{"", "", ""},
		{"INTERNAL.", "/v1//responses", "azure-openai"},
	} {
		f.Add(s.authority, s.path, s.provider)
	}
	f.Fuzz(func(t *testing.T, authority, path, provider string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		if _, err := SelectRoute(rc, authority, path, map[string]string{config.HeaderProvider: provider}); err != nil {
			t.Fatalf("%q %q: %v", authority, path, err)
		}
	})
}
