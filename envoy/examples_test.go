package envoy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/wardhq/ward/extproc/config"
)

// root is the repository root relative to this package.
const root = ".."

// obj is one parsed YAML document.
type obj = map[string]any

// yamlDocs parses every document of a (multi-document) YAML file.
func yamlDocs(t *testing.T, rel string) []obj {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []obj
	for {
		var d obj
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

// dig walks a parsed YAML value: string steps index maps, int steps lists.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(obj)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := dig(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	l, _ := dig(v, path...).([]any)
	return l
}

func num(v any, path ...any) int {
	switch n := dig(v, path...).(type) {
	case int:
		return n
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return -1
}

// find returns the documents of a kind (and name, if not empty).
func find(docs []obj, kind, name string) []obj {
	var out []obj
	for _, d := range docs {
		if str(d, "kind") == kind && (name == "" || str(d, "metadata", "name") == name) {
			out = append(out, d)
		}
	}
	return out
}

func one(t *testing.T, docs []obj, kind, name string) obj {
	t.Helper()
	f := find(docs, kind, name)
	if len(f) != 1 {
		t.Fatalf("want one %s %q, found %d", kind, name, len(f))
	}
	return f[0]
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func wardProviders(t *testing.T) []string {
	t.Helper()
	c, err := config.Parse(config.DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	return keys(c.Providers)
}

// envoyPerRoute returns the ExtProcPerRoute of envoy.yaml's virtual host.
func envoyPerRoute(t *testing.T, vhost string) *extprocv3.ExtProcPerRoute {
	t.Helper()
	rc, err := RouteConfig(load(t, "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, vh := range rc.GetVirtualHosts() {
		if vh.GetName() == vhost {
			pr := &extprocv3.ExtProcPerRoute{}
			if err := vh.GetTypedPerFilterConfig()[ExtProcFilterName].UnmarshalTo(pr); err != nil {
				t.Fatal(err)
			}
			return pr
		}
	}
	t.Fatalf("envoy.yaml has no virtual host %q", vhost)
	return nil
}

// wardConfigs are Ward configs shipped with the deployment examples.
func wardConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	local, err := os.ReadFile(filepath.Join(root, "envoy/ward-local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cm := one(t, yamlDocs(t, "examples/kubernetes/ward.yaml"), "ConfigMap", "ward-config")
	return map[string][]byte{
		"envoy/ward-local.yaml":                               local,
		"examples/kubernetes/ward.yaml ConfigMap ward-config": []byte(str(cm, "data", "ward.yaml")),
	}
}

// TestWardConfigs: the Ward configs next to the Envoy configs parse with
// Ward's own parser and agree with Envoy on ports, providers and modes.
func TestWardConfigs(t *testing.T) {
	clinical, internal := envoyPerRoute(t, "clinical"), envoyPerRoute(t, "internal")
	for name, data := range wardConfigs(t) {
		t.Run(name, func(t *testing.T) {
			c, err := config.Parse(data)
			if err != nil {
				t.Fatalf("Ward rejects it: %v", err)
			}
			if port(t, c.Server.GRPCAddr) != port(t, config.DefaultGRPCAddr) || port(t, c.Server.AdminAddr) != port(t, config.DefaultAdminAddr) {
				t.Errorf("ports %s/%s differ from Ward's defaults %s/%s", c.Server.GRPCAddr, c.Server.AdminAddr, config.DefaultGRPCAddr, config.DefaultAdminAddr)
			}
			if got, want := keys(c.Providers), wardProviders(t); !slices.Equal(got, want) {
				t.Errorf("providers %v, want Ward's %v (Envoy routes exist for those)", got, want)
			}
			for name, p := range c.Providers {
				if p.KeyFile != "" && p.KeyFile != "/etc/ward/keys/"+name {
					t.Errorf("provider %s key_file %q, want /etc/ward/keys/%s (the Secret key is the provider name)", name, p.KeyFile, name)
				}
			}
			// Envoy's per-host modes and Ward's profiles must agree.
			for _, tc := range []struct {
				profile string
				pr      *extprocv3.ExtProcPerRoute
			}{{"clinical", clinical}, {"internal", internal}} {
				p, ok := c.Profiles[tc.profile]
				if !ok {
					t.Errorf("no %s profile", tc.profile)
					continue
				}
				o := tc.pr.GetOverrides()
				if p.FailOpen != o.GetFailureModeAllow().GetValue() {
					t.Errorf("profile %s fail_open=%v but Envoy failure_mode_allow=%v", tc.profile, p.FailOpen, o.GetFailureModeAllow().GetValue())
				}
				sendsResp := o.GetProcessingMode().GetResponseBodyMode() != extprocv3.ProcessingMode_NONE
				if config.Enabled(p.InspectResponse, true) != sendsResp {
					t.Errorf("profile %s inspect_response=%v but Envoy sends response bodies=%v", tc.profile, config.Enabled(p.InspectResponse, true), sendsResp)
				}
			}
			if c.DefaultProfile != "clinical" {
				t.Errorf("default_profile %q: the default host fails closed, so should Ward", c.DefaultProfile)
			}
		})
	}
}

func TestKubernetes(t *testing.T) {
	docs := yamlDocs(t, "examples/kubernetes/ward.yaml")
	dep := one(t, docs, "Deployment", "ward")
	ctr := dig(dep, "spec", "template", "spec", "containers", 0)
	if args := list(ctr, "args"); fmt.Sprint(args) != "[serve --config /etc/ward/ward.yaml]" {
		t.Errorf("args %v", args)
	}
	ports := map[string]int{}
	for _, p := range list(ctr, "ports") {
		ports[str(p, "name")] = num(p, "containerPort")
	}
	if ports["grpc"] != port(t, config.DefaultGRPCAddr) || ports["admin"] != port(t, config.DefaultAdminAddr) {
		t.Errorf("container ports %v disagree with Ward's defaults", ports)
	}
	if str(ctr, "readinessProbe", "httpGet", "path") != "/readyz" || str(ctr, "livenessProbe", "httpGet", "path") != "/healthz" ||
		str(ctr, "readinessProbe", "httpGet", "port") != "admin" {
		t.Error("probes must use Ward's admin /readyz and /healthz")
	}
	if dig(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true ||
		dig(ctr, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("want runAsNonRoot and a read-only root filesystem")
	}
	volumes := map[string]any{}
	for _, v := range list(dep, "spec", "template", "spec", "volumes") {
		volumes[str(v, "name")] = v
	}
	mounts := map[string]any{}
	for _, m := range list(ctr, "volumeMounts") {
		mounts[str(m, "mountPath")] = m
	}
	keysMount := mounts["/etc/ward/keys"]
	if keysMount == nil || str(keysMount, "subPath") != "" {
		t.Fatal("provider keys must be mounted at /etc/ward/keys, without subPath (subPath never sees Secret updates)")
	}
	if str(volumes[str(keysMount, "name")], "secret", "secretName") != "ward-provider-keys" {
		t.Error("/etc/ward/keys must come from Secret ward-provider-keys")
	}
	cfgMount := mounts["/etc/ward/ward.yaml"]
	if cm := str(volumes[str(cfgMount, "name")], "configMap", "name"); cm != "ward-config" || str(cfgMount, "subPath") != "ward.yaml" {
		t.Errorf("/etc/ward/ward.yaml must come from ConfigMap ward-config key ward.yaml, got %q", cm)
	}
	svc := one(t, docs, "Service", "ward")
	for _, p := range list(svc, "spec", "ports") {
		want := map[string]int{"grpc": port(t, config.DefaultGRPCAddr), "http-admin": port(t, config.DefaultAdminAddr)}[str(p, "name")]
		if num(p, "port") != want {
			t.Errorf("Service port %s = %d, want %d", str(p, "name"), num(p, "port"), want)
		}
		if str(p, "name") == "grpc" && str(p, "appProtocol") != "grpc" {
			t.Error("grpc port needs appProtocol grpc (HTTP/2)")
		}
	}
	deploy, err := os.ReadFile(filepath.Join(root, "docs/deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(deploy, []byte("ward-provider-keys")) {
		t.Error("docs/deploy.md must say how to create Secret ward-provider-keys")
	}
}

// wardService returns the in-cluster host and gRPC port of the ward Service.
func wardService(t *testing.T) (host string, grpcPort, adminPort int) {
	t.Helper()
	svc := one(t, yamlDocs(t, "examples/kubernetes/ward.yaml"), "Service", "ward")
	for _, p := range list(svc, "spec", "ports") {
		switch str(p, "name") {
		case "grpc":
			grpcPort = num(p, "port")
		case "http-admin":
			adminPort = num(p, "port")
		}
	}
	return str(svc, "metadata", "name") + "." + str(svc, "metadata", "namespace") + ".svc.cluster.local", grpcPort, adminPort
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(jsonable(v)) }

// decodePartial decodes an EnvoyFilter MERGE value strictly; only its
// typed_per_filter_config entries are complete messages to validate.
func decodePartial(t *testing.T, v any, m proto.Message, tpfc func() map[string]*anypb.Any) {
	t.Helper()
	j, err := jsonMarshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(j, m); err != nil {
		t.Fatalf("decode %T: %v", m, err)
	}
	for k, a := range tpfc() {
		if err := Validate(a); err != nil {
			t.Errorf("typed_per_filter_config[%s]: %v", k, err)
		}
	}
}

func TestIstio(t *testing.T) {
	var docs []obj
	for _, f := range []string{"envoyfilter.yaml", "gateway.yaml", "egress.yaml"} {
		docs = append(docs, yamlDocs(t, "examples/istio/"+f)...)
	}
	ef := one(t, docs, "EnvoyFilter", "ward-ext-proc")
	wantEP, err := ExtProcFilter(load(t, "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	host, grpcPort, adminPort := wardService(t)
	var filters []*hcmv3.HttpFilter
	var internalVH string
	var healthRoute string
	for i, p := range list(ef, "spec", "configPatches") {
		value := dig(p, "patch", "value")
		switch str(p, "applyTo") {
		case "HTTP_FILTER":
			if str(p, "patch", "operation") != "INSERT_BEFORE" || str(p, "match", "listener", "filterChain", "filter", "subFilter", "name") != "envoy.filters.http.router" {
				t.Errorf("patch %d: want INSERT_BEFORE the router", i)
			}
			f := &hcmv3.HttpFilter{}
			if err := FromValue(value, f); err != nil {
				t.Fatalf("patch %d: %v", i, err)
			}
			filters = append(filters, f)
		case "VIRTUAL_HOST":
			vh := &routev3.VirtualHost{}
			decodePartial(t, value, vh, vh.GetTypedPerFilterConfig)
			pr := &extprocv3.ExtProcPerRoute{}
			if err := vh.GetTypedPerFilterConfig()[ExtProcFilterName].UnmarshalTo(pr); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(pr, envoyPerRoute(t, "internal")) {
				t.Errorf("internal host override differs from envoy.yaml's internal virtual host")
			}
			internalVH = str(p, "match", "routeConfiguration", "vhost", "name")
		case "HTTP_ROUTE":
			r := &routev3.Route{}
			decodePartial(t, value, r, r.GetTypedPerFilterConfig)
			pr := &extprocv3.ExtProcPerRoute{}
			if err := r.GetTypedPerFilterConfig()[ExtProcFilterName].UnmarshalTo(pr); err != nil || !pr.GetDisabled() {
				t.Errorf("health route patch must disable ext_proc: %v", err)
			}
			healthRoute = str(p, "match", "routeConfiguration", "vhost", "route", "name")
		default:
			t.Errorf("patch %d: unexpected applyTo %s", i, str(p, "applyTo"))
		}
	}
	if len(filters) != 2 {
		t.Fatalf("want the strip filter and ext_proc, got %d filters", len(filters))
	}
	hm := &headermutationv3.HeaderMutation{}
	if err := filters[0].GetTypedConfig().UnmarshalTo(hm); err != nil ||
		hm.GetMutations().GetRequestMutations()[0].GetRemoveOnMatch().GetKeyMatcher().GetPrefix() != config.HeaderPrefix {
		t.Errorf("first filter must strip %s* before ext_proc (%v)", config.HeaderPrefix, err)
	}
	gotEP := &extprocv3.ExternalProcessor{}
	if err := filters[1].GetTypedConfig().UnmarshalTo(gotEP); err != nil || filters[1].GetName() != ExtProcFilterName {
		t.Fatalf("second filter must be %s: %v", ExtProcFilterName, err)
	}
	if want := fmt.Sprintf("outbound|%d||%s", grpcPort, host); gotEP.GetGrpcService().GetEnvoyGrpc().GetClusterName() != want {
		t.Errorf("cluster %q, want Istio's name for the ward Service %q", gotEP.GetGrpcService().GetEnvoyGrpc().GetClusterName(), want)
	}
	gotEP.GetGrpcService().GetEnvoyGrpc().ClusterName = wantEP.GetGrpcService().GetEnvoyGrpc().GetClusterName()
	if !proto.Equal(gotEP, wantEP) {
		t.Errorf("Istio ext_proc config differs from envoy/envoy.yaml:\n istio: %v\n envoy: %v", gotEP, wantEP)
	}

	// Routing: the VirtualService routes on Ward's header to ServiceEntry
	// hosts whose DestinationRule originates TLS with the right SNI.
	vs := one(t, docs, "VirtualService", "llm-gateway")
	if want := strings.Split(internalVH, ":")[0]; !slices.Contains(list(vs, "spec", "hosts"), any(want)) {
		t.Errorf("VIRTUAL_HOST patch targets %q, not a VirtualService host", internalVH)
	}
	providers := map[string]bool{}
	var sawHealth bool
	for _, r := range list(vs, "spec", "http") {
		if str(r, "name") == healthRoute {
			sawHealth = true
			dst := dig(r, "route", 0, "destination")
			if str(dst, "host") != host || num(dst, "port", "number") != adminPort || str(r, "rewrite", "uri") != "/readyz" {
				t.Errorf("health route must go to %s:%d/readyz", host, adminPort)
			}
			continue
		}
		for _, m := range list(r, "match") {
			hs, _ := dig(m, "headers").(obj)
			for h, v := range hs {
				if h != config.HeaderProvider {
					t.Errorf("route %s matches header %q, want %q", str(r, "name"), h, config.HeaderProvider)
				}
				providers[str(v, "exact")] = true
			}
		}
		if list(r, "route") == nil {
			continue
		}
		if list(r, "match") == nil {
			t.Errorf("route %s reaches a provider without Ward's header", str(r, "name"))
		}
		dst := dig(r, "route", 0, "destination")
		h, p := str(dst, "host"), num(dst, "port", "number")
		if str(r, "rewrite", "authority") != h {
			t.Errorf("route %s: authority must be rewritten to %s", str(r, "name"), h)
		}
		var se obj
		for _, d := range find(docs, "ServiceEntry", "") {
			if slices.Contains(list(d, "spec", "hosts"), any(h)) {
				se = d
			}
		}
		if se == nil {
			t.Errorf("no ServiceEntry for %s", h)
			continue
		}
		for _, sp := range list(se, "spec", "ports") {
			if num(sp, "number") == p && (str(sp, "protocol") != "HTTP" || num(sp, "targetPort") != 443) {
				t.Errorf("ServiceEntry %s port %d must be HTTP with targetPort 443 (TLS origination)", h, p)
			}
		}
		var tlsOK bool
		for _, dr := range find(docs, "DestinationRule", "") {
			if str(dr, "spec", "host") != h {
				continue
			}
			for _, pl := range list(dr, "spec", "trafficPolicy", "portLevelSettings") {
				if num(pl, "port", "number") == p && str(pl, "tls", "mode") == "SIMPLE" && str(pl, "tls", "sni") == h &&
					fmt.Sprint(list(pl, "tls", "subjectAltNames")) == "["+h+"]" {
					tlsOK = true
				}
			}
			if dig(dr, "spec", "trafficPolicy", "outlierDetection") == nil {
				t.Errorf("DestinationRule %s: want outlier detection", h)
			}
		}
		if !tlsOK {
			t.Errorf("no DestinationRule originating TLS to %s on port %d with SNI and SAN", h, p)
		}
	}
	if !sawHealth {
		t.Errorf("HTTP_ROUTE patch targets %q, not a VirtualService route", healthRoute)
	}
	if got, want := keys(providers), wardProviders(t); !slices.Equal(got, want) {
		t.Errorf("VirtualService routes providers %v, Ward has %v", got, want)
	}
}

// egMode maps an Envoy Gateway extProc processingMode onto Envoy's.
func egMode(t *testing.T, pm any) *extprocv3.ProcessingMode {
	t.Helper()
	body := map[string]extprocv3.ProcessingMode_BodySendMode{
		"": extprocv3.ProcessingMode_NONE, "Buffered": extprocv3.ProcessingMode_BUFFERED, "Streamed": extprocv3.ProcessingMode_STREAMED,
	}
	m := &extprocv3.ProcessingMode{
		RequestHeaderMode: extprocv3.ProcessingMode_SKIP, ResponseHeaderMode: extprocv3.ProcessingMode_SKIP,
		RequestTrailerMode: extprocv3.ProcessingMode_SKIP, ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
	}
	if r := dig(pm, "request"); r != nil {
		m.RequestHeaderMode, m.RequestBodyMode = extprocv3.ProcessingMode_SEND, body[str(r, "body")]
	}
	if r := dig(pm, "response"); r != nil {
		m.ResponseHeaderMode, m.ResponseBodyMode = extprocv3.ProcessingMode_SEND, body[str(r, "body")]
	}
	return m
}

func TestEnvoyGateway(t *testing.T) {
	docs := append(yamlDocs(t, "examples/envoy-gateway/gateway.yaml"), yamlDocs(t, "examples/envoy-gateway/teams.yaml")...)
	b := load(t, "envoy.yaml")
	ep, err := ExtProcFilter(b)
	if err != nil {
		t.Fatal(err)
	}
	base := Settings(ep)
	host, grpcPort, adminPort := wardService(t)
	wardNS := strings.Split(host, ".")[1]
	// team namespace -> the Envoy virtual host whose behaviour it must have
	teams := map[string]string{"clinical-ai": "clinical", "platform": "internal"}
	backends := map[string]string{} // Backend name -> FQDN
	for _, be := range find(docs, "Backend", "") {
		backends[str(be, "metadata", "name")] = str(be, "spec", "endpoints", 0, "fqdn", "hostname")
		if num(be, "spec", "endpoints", 0, "fqdn", "port") != 443 {
			t.Errorf("Backend %s: want port 443", str(be, "metadata", "name"))
		}
	}
	for _, tls := range find(docs, "BackendTLSPolicy", "") {
		name := str(tls, "spec", "targetRefs", 0, "name")
		if str(tls, "spec", "validation", "hostname") != backends[name] || str(tls, "spec", "validation", "wellKnownCACertificates") != "System" {
			t.Errorf("BackendTLSPolicy %s: hostname must be %q, CAs System", str(tls, "metadata", "name"), backends[name])
		}
		delete(backends, name)
	}
	for name := range backends {
		t.Errorf("Backend %s has no BackendTLSPolicy", name)
	}
	for _, be := range find(docs, "Backend", "") {
		backends[str(be, "metadata", "name")] = str(be, "spec", "endpoints", 0, "fqdn", "hostname")
	}

	for ns, vhost := range teams {
		t.Run(ns, func(t *testing.T) {
			var pol, route obj
			for _, d := range find(docs, "EnvoyExtensionPolicy", "") {
				if str(d, "metadata", "namespace") == ns {
					pol = d
				}
			}
			for _, d := range find(docs, "HTTPRoute", "") {
				if str(d, "metadata", "namespace") == ns {
					route = d
				}
			}
			if pol == nil || route == nil {
				t.Fatal("want an HTTPRoute and an EnvoyExtensionPolicy")
			}
			if str(pol, "spec", "targetRefs", 0, "kind") != "HTTPRoute" || str(pol, "spec", "targetRefs", 0, "name") != str(route, "metadata", "name") {
				t.Error("the policy must target the team's HTTPRoute")
			}
			xp := dig(pol, "spec", "extProc", 0)
			br := dig(xp, "backendRefs", 0)
			if str(br, "name")+"."+str(br, "namespace")+".svc.cluster.local" != host || num(br, "port") != grpcPort {
				t.Errorf("backendRef %v, want %s:%d", br, host, grpcPort)
			}
			eff, err := EffectiveExtProc(b, map[string]string{"clinical": "llm.example.com", "internal": "internal.example.com"}[vhost], "/v1/chat/completions", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := egMode(t, dig(xp, "processingMode")); !proto.Equal(got, eff.Mode) {
				t.Errorf("processingMode %v, want envoy.yaml's %s host %v", got, vhost, eff.Mode)
			}
			if dig(xp, "processingMode", "allowModeOverride") != true {
				t.Error("allowModeOverride must be true")
			}
			if str(xp, "messageTimeout") != base.MessageTimeout.String() {
				t.Errorf("messageTimeout %q, want %s", str(xp, "messageTimeout"), base.MessageTimeout)
			}
			if dig(xp, "failOpen") != eff.FailureModeAllow {
				t.Errorf("failOpen %v, want %v", dig(xp, "failOpen"), eff.FailureModeAllow)
			}
			if fmt.Sprint(list(xp, "metadata", "writableNamespaces")) != "["+config.DynamicMetadataNamespace+"]" {
				t.Errorf("writableNamespaces must be [%s]", config.DynamicMetadataNamespace)
			}
			providers := map[string]bool{}
			var fallback bool
			for _, r := range list(route, "spec", "rules") {
				refs := list(r, "backendRefs")
				if refs == nil {
					if str(r, "filters", 0, "extensionRef", "kind") == "HTTPRouteFilter" {
						fallback = true
					}
					continue
				}
				fqdn := backends[str(refs[0], "name")]
				if fqdn == "" || str(refs[0], "kind") != "Backend" {
					t.Errorf("rule %s: backend %v is not a provider Backend", str(r, "name"), refs[0])
				}
				if str(r, "filters", 0, "urlRewrite", "hostname") != fqdn {
					t.Errorf("rule %s: must rewrite the host to %s", str(r, "name"), fqdn)
				}
				for _, m := range list(r, "matches") {
					hs := list(m, "headers")
					if len(hs) != 1 || str(hs[0], "name") != config.HeaderProvider {
						t.Errorf("rule %s must match only on %s", str(r, "name"), config.HeaderProvider)
						continue
					}
					providers[str(hs[0], "value")] = true
				}
			}
			if !fallback {
				t.Error("want a no-provider rule: without a matching route ext_proc never runs")
			}
			if got, want := keys(providers), wardProviders(t); !slices.Equal(got, want) {
				t.Errorf("routes providers %v, Ward has %v", got, want)
			}
		})
	}
	health := one(t, docs, "HTTPRoute", "health")
	br := dig(health, "spec", "rules", 0, "backendRefs", 0)
	if str(br, "name") != "ward" || str(br, "namespace") != wardNS || num(br, "port") != adminPort ||
		str(health, "spec", "rules", 0, "filters", 0, "urlRewrite", "path", "replaceFullPath") != "/readyz" {
		t.Error("health route must go to Ward's admin /readyz")
	}
	for _, d := range find(docs, "EnvoyExtensionPolicy", "") {
		if str(d, "spec", "targetRefs", 0, "name") == "health" || str(d, "spec", "targetRefs", 0, "kind") == "Gateway" {
			t.Error("no Ward policy may cover the health route")
		}
	}
}

func TestCompose(t *testing.T) {
	docs := yamlDocs(t, "docker-compose.yaml")
	svcs, _ := dig(docs[0], "services").(obj)
	for _, s := range []string{"envoy", "ward", "ward-migrate", "fakellm", "clickhouse", "otel-collector", "jaeger"} {
		if svcs[s] == nil {
			t.Errorf("missing service %s", s)
		}
	}
	// Every bind mount and build file exists.
	for name, s := range svcs {
		for _, v := range list(s, "volumes") {
			src := strings.Split(v.(string), ":")[0]
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("service %s mounts missing %s", name, src)
				}
			}
		}
		if df := str(s, "build", "dockerfile"); df != "" {
			if _, err := os.Stat(filepath.Join(root, df)); err != nil {
				t.Errorf("service %s: missing %s", name, df)
			}
		}
		if strings.HasPrefix(str(s, "image"), "ward") && str(s, "build", "dockerfile") != "cmd/ward/Dockerfile" {
			t.Errorf("service %s: Ward image must build from cmd/ward/Dockerfile", name)
		}
	}
	mount := func(svc, target string) string {
		for _, v := range list(svcs[svc], "volumes") {
			parts := strings.Split(v.(string), ":")
			if len(parts) >= 2 && parts[1] == target {
				return parts[0]
			}
		}
		return ""
	}
	if mount("envoy", "/etc/envoy/envoy.yaml") != "./envoy/envoy-plaintext.yaml" {
		t.Error("envoy must run envoy/envoy-plaintext.yaml")
	}
	cmd := list(svcs["ward"], "command")
	if len(cmd) != 3 || cmd[0] != "serve" || cmd[1] != "--config" {
		t.Fatalf("ward command %v, want serve --config FILE", cmd)
	}
	if mount("ward", cmd[2].(string)) != "./envoy/ward-local.yaml" {
		t.Errorf("ward --config %v is not envoy/ward-local.yaml", cmd[2])
	}
	wc, err := config.Load(filepath.Join(root, "envoy/ward-local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if hc := fmt.Sprint(list(svcs["ward"], "healthcheck", "test")); !strings.Contains(hc, fmt.Sprintf("127.0.0.1:%d/readyz", port(t, wc.Server.AdminAddr))) {
		t.Errorf("ward healthcheck %s must probe /readyz on the admin port", hc)
	}
	for svc, want := range map[string]string{"envoy": "ward", "ward": "ward-migrate", "ward-migrate": "clickhouse"} {
		cond := str(svcs[svc], "depends_on", want, "condition")
		ok := map[string]string{"ward": "service_healthy", "ward-migrate": "service_completed_successfully", "clickhouse": "service_healthy"}[want]
		if cond != ok {
			t.Errorf("%s depends_on %s: condition %q, want %q", svc, want, cond, ok)
		}
	}
	for _, s := range []string{"envoy", "ward", "fakellm", "clickhouse"} {
		if dig(svcs[s], "healthcheck", "test") == nil {
			t.Errorf("service %s has no healthcheck", s)
		}
	}
	migrate := fmt.Sprint(list(svcs["ward-migrate"], "command"))
	// `ward audit migrate` takes --addr host:port (cmd/ward/internal/auditcmd).
	if !strings.Contains(migrate, "audit migrate --addr "+wc.Audit.ClickHouse.Addr) {
		t.Errorf("ward-migrate %s must migrate the ClickHouse Ward writes to (%s)", migrate, wc.Audit.ClickHouse.Addr)
	}
	// Envoy's clusters point at the compose services and Ward's ports.
	b := load(t, "envoy-plaintext.yaml")
	addrOf := func(cluster string) string {
		for _, c := range b.GetStaticResources().GetClusters() {
			if c.GetName() == cluster {
				sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
				return net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
			}
		}
		return ""
	}
	fake := fmt.Sprint(list(svcs["fakellm"], "command"))
	for cluster, want := range map[string]string{
		"ward":           net.JoinHostPort("ward", strconv.Itoa(port(t, wc.Server.GRPCAddr))),
		"ward_admin":     net.JoinHostPort("ward", strconv.Itoa(port(t, wc.Server.AdminAddr))),
		"otel_collector": wc.Telemetry.OTLPEndpoint,
		"openai_primary": "fakellm:" + fake[strings.LastIndex(fake, ":")+1:len(fake)-1],
	} {
		if got := addrOf(cluster); got != want {
			t.Errorf("envoy-plaintext cluster %s -> %s, want %s", cluster, got, want)
		}
		if h, _, _ := net.SplitHostPort(want); svcs[h] == nil && h != "otel-collector" {
			t.Errorf("cluster %s host %s is not a compose service", cluster, h)
		}
	}
	if svcs[strings.Split(wc.Telemetry.OTLPEndpoint, ":")[0]] == nil {
		t.Errorf("Ward exports to %s, not a compose service", wc.Telemetry.OTLPEndpoint)
	}
	otel := yamlDocs(t, "examples/otel/collector.yaml")[0]
	if str(otel, "receivers", "otlp", "protocols", "grpc", "endpoint") != "0.0.0.0:"+strconv.Itoa(port(t, wc.Telemetry.OTLPEndpoint)) {
		t.Error("collector must receive OTLP/gRPC on the port Envoy and Ward export to")
	}
	for pipe, p := range dig(otel, "service", "pipelines").(obj) {
		for _, kind := range []string{"receivers", "processors", "exporters"} {
			declared, _ := dig(otel, kind).(obj)
			for _, n := range list(p, kind) {
				if _, ok := declared[n.(string)]; !ok {
					t.Errorf("pipeline %s uses undeclared %s %s", pipe, kind, n)
				}
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "cmd/ward/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	stages := strings.Split(df, "\nFROM ")
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") || !strings.Contains(strings.SplitN(final, "\n", 2)[0], ":nonroot") ||
		!strings.Contains(final, "USER nonroot") {
		t.Errorf("final stage must be distroless static, non-root: %q", strings.SplitN(final, "\n", 2)[0])
	}
	for _, p := range []int{port(t, config.DefaultGRPCAddr), port(t, config.DefaultAdminAddr)} {
		if !strings.Contains(final, strconv.Itoa(p)) {
			t.Errorf("final stage does not EXPOSE %d", p)
		}
	}
	if !strings.Contains(df, "./cmd/ward") {
		t.Error("Dockerfile must build ./cmd/ward")
	}
	// The health probe compiled in the build stage is Go: keep it gofmt'd.
	start := strings.Index(df, "/probe/main.go\n")
	end := strings.Index(df, "\nEOF\n")
	if start < 0 || end < start {
		t.Fatal("probe source not found")
	}
	src := df[start+len("/probe/main.go\n") : end+1]
	formatted, err := format.Source([]byte(src))
	if err != nil {
		t.Fatalf("probe source: %v", err)
	}
	if string(formatted) != src {
		t.Error("probe source is not gofmt'd")
	}
}
