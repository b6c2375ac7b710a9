package envoy

import (
	"bytes"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	aggregatev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/aggregate/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"

	"github.com/wardhq/ward/extproc/config"
)

// bootstraps are every Envoy bootstrap in the repository.
var bootstraps = []string{"envoy.yaml", "envoy-plaintext.yaml"}

func load(t *testing.T, path string) *bootstrapv3.Bootstrap {
	t.Helper()
	b, err := LoadBootstrap(path)
	if err != nil {
		t.Fatalf("LoadBootstrap(%s): %v", path, err)
	}
	return b
}

// wardMode is the processing mode Ward's server is written for (BRIEF and
// extproc/config): headers SEND, bodies BUFFERED, trailers SKIP.
var wardMode = &extprocv3.ProcessingMode{
	RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
	RequestBodyMode:     extprocv3.ProcessingMode_BUFFERED,
	RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
	ResponseHeaderMode:  extprocv3.ProcessingMode_SEND,
	ResponseBodyMode:    extprocv3.ProcessingMode_BUFFERED,
	ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
}

// TestStrictDecoding proves the loader is as strict as Envoy: each broken
// document must be rejected, and for the reason given.
func TestStrictDecoding(t *testing.T) {
	const extProc = `
name: envoy.filters.http.ext_proc
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
  grpc_service: { envoy_grpc: { cluster_name: ward } }
`
	tests := []struct {
		name, doc, wantErr string
	}{
		{"valid", extProc, ""},
		{"unknown field", extProc + "  bogus_field: true\n", "bogus_field"},
		{"unknown enum", extProc + "  processing_mode: { request_body_mode: BUFERED }\n", "BUFERED"},
		{"unregistered type", `
name: x
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope
`, "nope"},
		// PGV rule inside an Any: grpc_service.envoy_grpc.cluster_name has min_len 1.
		{"invalid inside Any", `
name: envoy.filters.http.ext_proc
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
  grpc_service: { envoy_grpc: { cluster_name: "" } }
`, "ClusterName"},
		{"not yaml", "name: [", "yaml"},
		{"empty", "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Unmarshal([]byte(tt.doc), &hcmv3.HttpFilter{})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("accepted, want error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

// TestDeprecatedFieldRejected: a config leaning on a deprecated field
// (here ExtProcOverrides.async_mode) would break on a future Envoy.
func TestDeprecatedFieldRejected(t *testing.T) {
	err := Unmarshal([]byte("overrides: { async_mode: true }\n"), &extprocv3.ExtProcPerRoute{})
	if err == nil || !strings.Contains(err.Error(), "async_mode: deprecated field") {
		t.Fatalf("err = %v, want a deprecated-field error for async_mode", err)
	}
}

// TestNoYAMLMergeKeys: Envoy's YAML loader (yaml-cpp) expands anchors and
// aliases but not "<<" merge keys (envoyproxy/envoy#12926), which yaml.v3
// would silently accept here.
func TestNoYAMLMergeKeys(t *testing.T) {
	for _, path := range bootstraps {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("<<:")) {
			t.Errorf("%s uses a YAML merge key, which Envoy does not support", path)
		}
	}
}

func TestBootstrapsAgree(t *testing.T) {
	tlsB, plainB := load(t, "envoy.yaml"), load(t, "envoy-plaintext.yaml")
	ep1, err := ExtProcFilter(tlsB)
	if err != nil {
		t.Fatal(err)
	}
	ep2, err := ExtProcFilter(plainB)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(ep1, ep2) {
		t.Error("ext_proc config differs between envoy.yaml and envoy-plaintext.yaml")
	}
	rc1, err := RouteConfig(tlsB)
	if err != nil {
		t.Fatal(err)
	}
	rc2, err := RouteConfig(plainB)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(rc1, rc2) {
		t.Error("route_config differs between envoy.yaml and envoy-plaintext.yaml")
	}
	names := func(b *bootstrapv3.Bootstrap) []string {
		var n []string
		for _, c := range b.GetStaticResources().GetClusters() {
			n = append(n, c.GetName())
		}
		return n
	}
	if a, b := names(tlsB), names(plainB); !slices.Equal(a, b) {
		t.Errorf("cluster names differ: %v vs %v", a, b)
	}
}

func TestFilterChain(t *testing.T) {
	for _, path := range bootstraps {
		t.Run(path, func(t *testing.T) {
			hcms, err := HTTPConnectionManagers(load(t, path))
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hcms {
				fs := h.HCM.GetHttpFilters()
				idx := func(m proto.Message) int {
					return slices.IndexFunc(fs, func(f *hcmv3.HttpFilter) bool { return f.GetTypedConfig().MessageIs(m) })
				}
				strip, ep, router := idx(&headermutationv3.HeaderMutation{}), idx(&extprocv3.ExternalProcessor{}), idx(&routerv3.Router{})
				if strip < 0 || ep < 0 || router < 0 {
					t.Fatalf("filters: strip=%d ext_proc=%d router=%d; all three are required", strip, ep, router)
				}
				if !(strip < ep && ep < router) || router != len(fs)-1 {
					t.Errorf("order: strip=%d ext_proc=%d router=%d of %d; want strip < ext_proc < router (last)", strip, ep, router, len(fs))
				}
				if fs[ep].GetName() != ExtProcFilterName {
					t.Errorf("ext_proc filter is named %q; per-route configs are keyed by %q", fs[ep].GetName(), ExtProcFilterName)
				}
				// The strip filter must drop every client-sent x-ward-* header.
				hm := &headermutationv3.HeaderMutation{}
				if err := fs[strip].GetTypedConfig().UnmarshalTo(hm); err != nil {
					t.Fatal(err)
				}
				var prefixes []string
				for _, m := range hm.GetMutations().GetRequestMutations() {
					prefixes = append(prefixes, m.GetRemoveOnMatch().GetKeyMatcher().GetPrefix())
				}
				if !slices.Contains(prefixes, config.HeaderPrefix) {
					t.Errorf("strip filter removes prefixes %q, want %q", prefixes, config.HeaderPrefix)
				}
				for _, hdr := range []string{config.HeaderTeam, config.HeaderApp, config.HeaderKeyID, config.HeaderProvider,
					config.HeaderModel, config.HeaderProfile, config.HeaderDecision, config.HeaderEventID} {
					if !strings.HasPrefix(hdr, config.HeaderPrefix) {
						t.Errorf("Ward header %q lacks prefix %q, the strip filter would miss it", hdr, config.HeaderPrefix)
					}
				}
				hcm := h.HCM
				if !hcm.GetUseRemoteAddress().GetValue() || hcm.GetGenerateRequestId() != nil && !hcm.GetGenerateRequestId().GetValue() ||
					hcm.GetPreserveExternalRequestId() || !hcm.GetAlwaysSetRequestIdInResponse() {
					t.Error("x-request-id: want use_remote_address, generate_request_id, no external ids, id in response")
				}
				if hcm.GetTracing().GetProvider().GetName() != "envoy.tracers.opentelemetry" {
					t.Errorf("tracing provider %q, want OpenTelemetry (W3C traceparent)", hcm.GetTracing().GetProvider().GetName())
				}
				if !hcm.GetStripAnyHostPort() {
					t.Error("strip_any_host_port must be on: SelectRoute (and so the harness) matches hosts without the port")
				}
				if !hcm.GetNormalizePath().GetValue() || !hcm.GetMergeSlashes() {
					t.Error("normalize_path and merge_slashes must be on: Ward and the routes decide on :path")
				}
			}
		})
	}
}

func TestExtProcMatchesWard(t *testing.T) {
	for _, path := range bootstraps {
		t.Run(path, func(t *testing.T) {
			b := load(t, path)
			ep, err := ExtProcFilter(b)
			if err != nil {
				t.Fatal(err)
			}
			s := Settings(ep)
			if !proto.Equal(s.Mode, wardMode) {
				t.Errorf("processing_mode = %v, want %v", s.Mode, wardMode)
			}
			if !s.AllowModeOverride {
				t.Error("allow_mode_override must be true: Ward switches SSE responses to STREAMED")
			}
			if s.FailureModeAllow {
				t.Error("filter-level failure_mode_allow must be false (fail closed)")
			}
			if !s.ClearRouteCache {
				t.Error("route cache clearing disabled: routing on x-ward-provider would never see Ward's header")
			}
			if s.MessageTimeout <= 0 || s.MaxMessageTimeout < s.MessageTimeout {
				t.Errorf("message_timeout %v, max_message_timeout %v", s.MessageTimeout, s.MaxMessageTimeout)
			}
			if !slices.Equal(s.ReceivingNamespaces, []string{config.DynamicMetadataNamespace}) {
				t.Errorf("receiving namespaces %q, want only %q", s.ReceivingNamespaces, config.DynamicMetadataNamespace)
			}
			if s.MaxReceiveMessageBytes != config.DefaultMaxGRPCMessageBytes {
				t.Errorf("max_receive_message_length %d, want Ward's %d", s.MaxReceiveMessageBytes, config.DefaultMaxGRPCMessageBytes)
			}
			if ep.GetObservabilityMode() || ep.GetSendBodyWithoutWaitingForHeaderResponse() || ep.GetDisableImmediateResponse() {
				t.Error("observability/async modes and disable_immediate_response break Ward's protocol")
			}
			// Ward's cluster: gRPC (HTTP/2) to the default socket or port.
			c := cluster(t, b, ep.GetGrpcService().GetEnvoyGrpc().GetClusterName())
			if h2 := httpOptions(t, c).GetExplicitHttpConfig().GetHttp2ProtocolOptions(); h2 == nil {
				t.Error("ward cluster must speak HTTP/2 (gRPC)")
			}
			if got := c.GetCircuitBreakers().GetThresholds(); len(got) == 0 || got[0].GetMaxRequests().GetValue() < 4096 {
				t.Error("ward cluster needs max_requests >= 4096: one gRPC stream per in-flight HTTP request")
			}
			if len(c.GetHealthChecks()) == 0 || c.GetHealthChecks()[0].GetGrpcHealthCheck() == nil {
				t.Error("ward cluster should use Ward's gRPC health service")
			}
			addr := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()
			_, grpcPort, _ := net.SplitHostPort(config.DefaultGRPCAddr)
			if p := addr.GetPipe().GetPath(); p != "" {
				if p != config.DefaultGRPCSocket {
					t.Errorf("ward socket %q, want %q", p, config.DefaultGRPCSocket)
				}
			} else if got := strconv.Itoa(int(addr.GetSocketAddress().GetPortValue())); got != grpcPort {
				t.Errorf("ward port %s, want %s", got, grpcPort)
			}
			// Buffered bodies must fit in Envoy's buffer.
			for _, l := range b.GetStaticResources().GetListeners() {
				if got := l.GetPerConnectionBufferLimitBytes().GetValue(); got < config.DefaultMaxRequestBodyBytes {
					t.Errorf("listener %s buffer %d < Ward's max request body %d: Envoy would 413 first", l.GetName(), got, config.DefaultMaxRequestBodyBytes)
				}
			}
		})
	}
}

// TestPerRouteExtProc asserts what Ward sees on each kind of route, through
// the same EffectiveExtProc the harness uses.
func TestPerRouteExtProc(t *testing.T) {
	lighter := proto.Clone(wardMode).(*extprocv3.ProcessingMode)
	lighter.ResponseBodyMode = extprocv3.ProcessingMode_NONE
	tests := []struct {
		authority, path string
		disabled        bool
		failOpen        bool
		mode            *extprocv3.ProcessingMode
	}{
		{"llm.example.com", "/v1/chat/completions", false, false, wardMode},
		{"llm.example.com:8443", "/v1/messages?beta=true", false, false, wardMode},
		{"localhost:8080", "/v1/responses", false, false, wardMode},
		{"llm.example.com", "/v1/files", false, false, wardMode},
		{"internal.example.com", "/v1/chat/completions", false, true, lighter},
		{"internal.localhost:8080", "/v1/messages", false, true, lighter},
		{"llm.example.com", "/healthz", true, false, nil},
		{"internal.example.com", "/healthz", true, true, nil},
	}
	for _, path := range bootstraps {
		b := load(t, path)
		for _, tt := range tests {
			t.Run(path+" "+tt.authority+tt.path, func(t *testing.T) {
				s, err := EffectiveExtProc(b, tt.authority, tt.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if s.Disabled != tt.disabled {
					t.Fatalf("disabled = %v, want %v", s.Disabled, tt.disabled)
				}
				if tt.disabled {
					return
				}
				if s.FailureModeAllow != tt.failOpen {
					t.Errorf("failure_mode_allow = %v, want %v", s.FailureModeAllow, tt.failOpen)
				}
				if !proto.Equal(s.Mode, tt.mode) {
					t.Errorf("mode = %v, want %v", s.Mode, tt.mode)
				}
			})
		}
	}
}

// TestRouting follows a request through route selection twice, as Envoy
// does: before Ward (no x-ward-provider) and after clear_route_cache.
func TestRouting(t *testing.T) {
	_, adminPort, _ := net.SplitHostPort(config.DefaultAdminAddr)
	tests := []struct {
		authority, path, provider string
		cluster, rewrite          string
		status                    uint32 // direct response
	}{
		{"llm.example.com", "/v1/chat/completions", "", "", "", 503},
		{"llm.example.com", "/v1/chat/completions", "openai", "openai", "", 0},
		{"llm.example.com", "/v1/responses/resp_123", "openai", "openai", "", 0},
		{"llm.example.com", "/v1/chat/completions", "azure-openai", "azure_openai", "/openai/v1/chat/completions", 0},
		{"llm.example.com", "/v1/responses", "azure-openai", "azure_openai", "/openai/v1/responses", 0},
		{"llm.example.com", "/v1/messages", "anthropic", "anthropic", "", 0},
		{"llm.example.com", "/v1/messages", "openai", "", "", 503},
		{"llm.example.com", "/v1/chat/completionsX", "openai", "", "", 503},
		{"llm.example.com", "/admin", "openai", "", "", 404},
		{"internal.example.com", "/v1/messages/count_tokens", "anthropic", "anthropic", "", 0},
		{"internal.example.com", "/v1/chat/completions", "", "", "", 503},
		{"llm.example.com", "/healthz", "", "ward_admin", "/readyz", 0},
	}
	for _, path := range bootstraps {
		b := load(t, path)
		rc, err := RouteConfig(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(path+" "+tt.authority+tt.path+" "+tt.provider, func(t *testing.T) {
				h := map[string]string{}
				if tt.provider != "" {
					h[config.HeaderProvider] = tt.provider
				}
				m, err := SelectRoute(rc, tt.authority, tt.path, h)
				if err != nil {
					t.Fatal(err)
				}
				if tt.status != 0 {
					if got := m.Route.GetDirectResponse().GetStatus(); got != tt.status {
						t.Fatalf("route %s: direct status %d, want %d", m.Route.GetName(), got, tt.status)
					}
					return
				}
				ra := m.Route.GetRoute()
				if ra.GetCluster() != tt.cluster || ra.GetPrefixRewrite() != tt.rewrite {
					t.Fatalf("route %s: cluster %q rewrite %q, want %q %q", m.Route.GetName(), ra.GetCluster(), ra.GetPrefixRewrite(), tt.cluster, tt.rewrite)
				}
				if tt.cluster == "ward_admin" {
					port := cluster(t, b, "ward_admin").GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue()
					if strconv.Itoa(int(port)) != adminPort {
						t.Errorf("ward_admin port %d, want Ward's admin port %s", port, adminPort)
					}
				}
			})
		}
	}
}

// TestRouteTable checks properties of every route rather than examples.
func TestRouteTable(t *testing.T) {
	for _, path := range bootstraps {
		t.Run(path, func(t *testing.T) {
			b := load(t, path)
			rc, err := RouteConfig(b)
			if err != nil {
				t.Fatal(err)
			}
			providers := map[string]bool{}
			for _, vh := range rc.GetVirtualHosts() {
				for _, key := range keys(vh.GetTypedPerFilterConfig()) {
					if key != ExtProcFilterName {
						t.Errorf("vhost %s: per-filter config %q matches no filter", vh.GetName(), key)
					}
				}
				rp := vh.GetRetryPolicy()
				for _, want := range []string{"5xx", "reset", "retriable-status-codes"} {
					if !slices.Contains(strings.Split(rp.GetRetryOn(), ","), want) {
						t.Errorf("vhost %s: retry_on %q lacks %s", vh.GetName(), rp.GetRetryOn(), want)
					}
				}
				if !slices.Contains(rp.GetRetriableStatusCodes(), 429) || rp.GetRetryBackOff() == nil || rp.GetNumRetries().GetValue() == 0 {
					t.Errorf("vhost %s: want retries on 429 with back-off", vh.GetName())
				}
				for _, r := range vh.GetRoutes() {
					for _, key := range keys(r.GetTypedPerFilterConfig()) {
						if key != ExtProcFilterName {
							t.Errorf("route %s: per-filter config %q matches no filter", r.GetName(), key)
						}
					}
					ra := r.GetRoute()
					if ra == nil {
						continue
					}
					c := cluster(t, b, ra.GetCluster())
					for _, h := range r.GetMatch().GetHeaders() {
						if h.GetName() != config.HeaderProvider {
							t.Errorf("route %s matches header %q; Envoy routes on %q only", r.GetName(), h.GetName(), config.HeaderProvider)
						}
						providers[h.GetStringMatch().GetExact()] = true
					}
					if ra.GetCluster() == "ward_admin" {
						continue
					}
					if ra.GetTimeout().AsDuration() < 60e9 || !ra.GetAutoHostRewrite().GetValue() {
						t.Errorf("route %s: want a long timeout and auto_host_rewrite for provider %s", r.GetName(), c.GetName())
					}
					if len(r.GetMatch().GetHeaders()) == 0 {
						t.Errorf("route %s reaches provider %s without Ward's %s header", r.GetName(), c.GetName(), config.HeaderProvider)
					}
				}
			}
			wardCfg, err := config.Parse(config.DefaultYAML())
			if err != nil {
				t.Fatalf("Ward's default config: %v", err)
			}
			for name := range wardCfg.Providers {
				if !providers[name] {
					t.Errorf("Ward provider %q has no route", name)
				}
			}
			for name := range providers {
				if _, ok := wardCfg.Providers[name]; !ok {
					t.Errorf("route for provider %q that Ward does not know", name)
				}
			}
		})
	}
}

func TestClusters(t *testing.T) {
	for _, path := range bootstraps {
		t.Run(path, func(t *testing.T) {
			b := load(t, path)
			cs := b.GetStaticResources().GetClusters()
			for _, c := range cs {
				if c.GetName() == "ward" || c.GetName() == "ward_admin" || c.GetName() == "otel_collector" {
					continue
				}
				if agg := aggregate(t, c); agg != nil {
					if len(agg.GetClusters()) < 2 {
						t.Errorf("aggregate %s: want a primary and a secondary", c.GetName())
					}
					for _, sub := range agg.GetClusters() {
						cluster(t, b, sub)
					}
					checkRetryBudget(t, c)
					continue
				}
				checkRetryBudget(t, c)
				od := c.GetOutlierDetection()
				if od == nil || od.GetConsecutive_5Xx().GetValue() == 0 || od.GetMaxEjectionPercent().GetValue() != 100 {
					t.Errorf("cluster %s: want outlier detection on 5xx that may eject every host", c.GetName())
				}
				ts := c.GetTransportSocket()
				if path != "envoy.yaml" {
					continue
				}
				// Provider TLS: SNI, SAN and endpoint name agree, CA is checked.
				tc := &tlsv3.UpstreamTlsContext{}
				if ts == nil || ts.GetTypedConfig().UnmarshalTo(tc) != nil {
					t.Errorf("cluster %s: no upstream TLS", c.GetName())
					continue
				}
				ep := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint()
				host := ep.GetAddress().GetSocketAddress().GetAddress()
				if ep.GetHostname() != host {
					t.Errorf("cluster %s: endpoint hostname %q, want %q for auto_host_rewrite", c.GetName(), ep.GetHostname(), host)
				}
				vc := tc.GetCommonTlsContext().GetValidationContext()
				sans := vc.GetMatchTypedSubjectAltNames()
				if tc.GetSni() != host || len(sans) != 1 || sans[0].GetMatcher().GetExact() != host || vc.GetTrustedCa().GetFilename() == "" {
					t.Errorf("cluster %s: sni %q, SANs %v, CA %q; want all = %q", c.GetName(), tc.GetSni(), sans, vc.GetTrustedCa().GetFilename(), host)
				}
				if httpOptions(t, c).GetAutoConfig() == nil {
					t.Errorf("cluster %s: want ALPN auto_config (h2 or HTTP/1.1)", c.GetName())
				}
			}
		})
	}
}

func TestDownstreamTLS(t *testing.T) {
	b := load(t, "envoy.yaml")
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			tc := &tlsv3.DownstreamTlsContext{}
			if err := fc.GetTransportSocket().GetTypedConfig().UnmarshalTo(tc); err != nil {
				t.Fatalf("listener %s: no TLS: %v", l.GetName(), err)
			}
			certs := tc.GetCommonTlsContext().GetTlsCertificates()
			if len(certs) != 1 || certs[0].GetCertificateChain().GetFilename() != "/etc/envoy/tls/tls.crt" ||
				certs[0].GetPrivateKey().GetFilename() != "/etc/envoy/tls/tls.key" {
				t.Errorf("listener %s: certificate paths differ from the documented /etc/envoy/tls/tls.{crt,key}", l.GetName())
			}
		}
	}
}

func checkRetryBudget(t *testing.T, c *clusterv3.Cluster) {
	t.Helper()
	th := c.GetCircuitBreakers().GetThresholds()
	if len(th) == 0 || th[0].GetRetryBudget().GetBudgetPercent().GetValue() <= 0 {
		t.Errorf("cluster %s: want a retry budget", c.GetName())
	}
}

func aggregate(t *testing.T, c *clusterv3.Cluster) *aggregatev3.ClusterConfig {
	t.Helper()
	ct := c.GetClusterType()
	if ct == nil {
		return nil
	}
	agg := &aggregatev3.ClusterConfig{}
	if err := ct.GetTypedConfig().UnmarshalTo(agg); err != nil {
		t.Fatalf("cluster %s: %v", c.GetName(), err)
	}
	if c.GetLbPolicy() != clusterv3.Cluster_CLUSTER_PROVIDED {
		t.Errorf("aggregate %s: lb_policy must be CLUSTER_PROVIDED", c.GetName())
	}
	return agg
}

func cluster(t *testing.T, b *bootstrapv3.Bootstrap, name string) *clusterv3.Cluster {
	t.Helper()
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == name {
			return c
		}
	}
	t.Fatalf("no cluster %q", name)
	return nil
}

func httpOptions(t *testing.T, c *clusterv3.Cluster) *httpv3.HttpProtocolOptions {
	t.Helper()
	o := &httpv3.HttpProtocolOptions{}
	a, ok := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
	if !ok {
		return o
	}
	if err := a.UnmarshalTo(o); err != nil {
		t.Fatalf("cluster %s: %v", c.GetName(), err)
	}
	return o
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}
