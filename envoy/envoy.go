// Package envoy loads Ward's Envoy configurations into go-control-plane's v3
// protos, strictly: unknown fields and unregistered typed_config types are
// errors, and every message, including those packed in Any, must pass its
// protoc-gen-validate rules. The test harness reuses these helpers so the
// ext_proc behaviour it emulates (processing mode, timeouts, failure mode,
// per-route overrides, routing on x-ward-provider) is read from the same
// envoy.yaml that is deployed.
package envoy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	// Every typed_config type the configs in this repository reference.
	// protojson resolves "@type" through the global registry, so a type that
	// is not imported here is a decode error rather than a silent skip.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/aggregate/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// DefaultMessageTimeout is Envoy's ext_proc message_timeout when unset
// (ExternalProcessor.message_timeout: "If not configured, default is 200
// milliseconds").
const DefaultMessageTimeout = 200 * time.Millisecond

// ExtProcFilterName is the HTTP filter name Ward's configs use; per-route
// ExtProcPerRoute configs are keyed by it.
const ExtProcFilterName = "envoy.filters.http.ext_proc"

// LoadBootstrap reads an Envoy bootstrap file (YAML or JSON) and decodes it
// strictly. See DecodeBootstrap.
func LoadBootstrap(path string) (*bootstrapv3.Bootstrap, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("envoy: %w", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("envoy: %s: %w", path, err)
	}
	return b, nil
}

// Unmarshal decodes YAML (or JSON, a YAML subset) into m the way Envoy
// does: YAML to JSON, then protojson with unknown fields rejected and
// "@type" resolved from the registry; then every message, including the
// ones inside Any, must pass ValidateAll.
func Unmarshal(data []byte, m proto.Message) error {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	if doc == nil {
		return errors.New("empty document")
	}
	return FromValue(doc, m)
}

// FromValue decodes an already-parsed YAML value (for example the Envoy
// API part embedded in an Istio EnvoyFilter) into m, strictly, and
// validates it like Unmarshal.
func FromValue(v any, m proto.Message) error {
	j, err := json.Marshal(jsonable(v))
	if err != nil {
		return fmt.Errorf("to json: %w", err)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(j, m); err != nil {
		return fmt.Errorf("decode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return Validate(m)
}

// jsonable turns yaml.v3's generic values into ones encoding/json accepts
// (map[any]any appears for non-string keys).
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e)
		}
		return t
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = jsonable(e)
		}
		return t
	}
	return v
}

type validatorAll interface{ ValidateAll() error }

// Validate runs protoc-gen-validate's ValidateAll on m and on every message
// reachable from it, unpacking Any fields (ValidateAll alone does not look
// inside an Any). It also rejects deprecated fields: a config that relies on
// one breaks on a future Envoy.
func Validate(m proto.Message) error {
	var errs []error
	walk(m.ProtoReflect(), string(m.ProtoReflect().Descriptor().FullName()), &errs)
	return errors.Join(errs...)
}

func walk(m protoreflect.Message, path string, errs *[]error) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
			return
		}
		walk(inner.ProtoReflect(), path+"("+string(inner.ProtoReflect().Descriptor().FullName())+")", errs)
		return
	}
	if v, ok := m.Interface().(validatorAll); ok {
		if err := v.ValidateAll(); err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
			*errs = append(*errs, fmt.Errorf("%s: deprecated field", p))
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walk(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i), errs)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				walk(mv.Message(), fmt.Sprintf("%s[%s]", p, k.String()), errs)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			walk(v.Message(), p, errs)
		}
		return true
	})
}

// HTTPConnectionManager is one HCM in a bootstrap and the listener it is on.
type HTTPConnectionManager struct {
	Listener string
	HCM      *hcmv3.HttpConnectionManager
}

// HTTPConnectionManagers returns every HTTP connection manager in the
// bootstrap's static listeners, in order.
func HTTPConnectionManagers(b *bootstrapv3.Bootstrap) ([]HTTPConnectionManager, error) {
	var out []HTTPConnectionManager
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				hcm, err := unpackHCM(f)
				if err != nil {
					return nil, fmt.Errorf("listener %s: %w", l.GetName(), err)
				}
				if hcm != nil {
					out = append(out, HTTPConnectionManager{Listener: l.GetName(), HCM: hcm})
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("envoy: no http_connection_manager in static listeners")
	}
	return out, nil
}

func unpackHCM(f *listenerv3.Filter) (*hcmv3.HttpConnectionManager, error) {
	tc := f.GetTypedConfig()
	if tc == nil {
		return nil, nil
	}
	hcm := &hcmv3.HttpConnectionManager{}
	if !tc.MessageIs(hcm) {
		return nil, nil
	}
	if err := tc.UnmarshalTo(hcm); err != nil {
		return nil, err
	}
	return hcm, nil
}

// ExtProcFilter returns the ext_proc filter config of the bootstrap's HTTP
// connection managers. Every HCM that has one must carry the same config,
// so there is a single answer to "what does Envoy do with Ward".
func ExtProcFilter(b *bootstrapv3.Bootstrap) (*extprocv3.ExternalProcessor, error) {
	hcms, err := HTTPConnectionManagers(b)
	if err != nil {
		return nil, err
	}
	var found *extprocv3.ExternalProcessor
	for _, h := range hcms {
		ep, err := ExtProcIn(h.HCM)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", h.Listener, err)
		}
		if found != nil && !proto.Equal(found, ep) {
			return nil, fmt.Errorf("listener %s: ext_proc config differs from another listener's", h.Listener)
		}
		found = ep
	}
	return found, nil
}

// ExtProcIn returns the single ext_proc filter in an HCM's filter chain.
func ExtProcIn(hcm *hcmv3.HttpConnectionManager) (*extprocv3.ExternalProcessor, error) {
	var found *extprocv3.ExternalProcessor
	for _, f := range hcm.GetHttpFilters() {
		ep := &extprocv3.ExternalProcessor{}
		if tc := f.GetTypedConfig(); tc == nil || !tc.MessageIs(ep) {
			continue
		}
		if found != nil {
			return nil, errors.New("more than one ext_proc filter")
		}
		if err := f.GetTypedConfig().UnmarshalTo(ep); err != nil {
			return nil, fmt.Errorf("ext_proc %s: %w", f.GetName(), err)
		}
		found = ep
	}
	if found == nil {
		return nil, errors.New("no ext_proc filter")
	}
	return found, nil
}

// ExtProcSettings is what one HTTP request's ext_proc stream runs with once
// the filter config and the per-route overrides are merged.
type ExtProcSettings struct {
	// Disabled: the route turns ext_proc off (ExtProcPerRoute.disabled).
	Disabled bool
	// Mode is the processing mode before any mode_override from Ward.
	Mode              *extprocv3.ProcessingMode
	AllowModeOverride bool
	// MessageTimeout is per message; MaxMessageTimeout bounds Ward's
	// override_message_timeout (0 disables that API).
	MessageTimeout    time.Duration
	MaxMessageTimeout time.Duration
	// FailureModeAllow: continue without Ward on stream error or timeout
	// instead of a local 500 (504 for a timeout).
	FailureModeAllow bool
	// ClearRouteCache: Envoy recomputes the route when Ward's response sets
	// clear_route_cache (route_cache_action DEFAULT or CLEAR).
	ClearRouteCache bool
	// ReceivingNamespaces are the dynamic metadata namespaces Ward may write.
	ReceivingNamespaces []string
	// MaxReceiveMessageBytes is Envoy's gRPC receive limit (0: Envoy's default).
	MaxReceiveMessageBytes uint32
}

// Settings returns the filter-level ext_proc settings.
func Settings(ep *extprocv3.ExternalProcessor) ExtProcSettings {
	s := ExtProcSettings{
		Mode:              proto.Clone(ep.GetProcessingMode()).(*extprocv3.ProcessingMode),
		AllowModeOverride: ep.GetAllowModeOverride(),
		MessageTimeout:    DefaultMessageTimeout,
		MaxMessageTimeout: ep.GetMaxMessageTimeout().AsDuration(),
		FailureModeAllow:  ep.GetFailureModeAllow(),
		ClearRouteCache: !ep.GetDisableClearRouteCache() &&
			ep.GetRouteCacheAction() != extprocv3.ExternalProcessor_RETAIN,
		ReceivingNamespaces:    ep.GetMetadataOptions().GetReceivingNamespaces().GetUntyped(),
		MaxReceiveMessageBytes: ep.GetGrpcService().GetEnvoyGrpc().GetMaxReceiveMessageLength().GetValue(),
	}
	if s.Mode == nil {
		s.Mode = &extprocv3.ProcessingMode{}
	}
	if ep.GetMessageTimeout() != nil {
		s.MessageTimeout = ep.GetMessageTimeout().AsDuration()
	}
	return s
}

// apply merges one ExtProcPerRoute, less specific levels first: a more
// specific "overrides" clears a less specific "disabled" (ExtProcPerRoute
// docs), and each override replaces the field it sets.
func (s *ExtProcSettings) apply(pr *extprocv3.ExtProcPerRoute) {
	if pr.GetDisabled() {
		s.Disabled = true
		return
	}
	o := pr.GetOverrides()
	if o == nil {
		return
	}
	s.Disabled = false
	if o.GetProcessingMode() != nil {
		s.Mode = proto.Clone(o.GetProcessingMode()).(*extprocv3.ProcessingMode)
	}
	if o.GetFailureModeAllow() != nil {
		s.FailureModeAllow = o.GetFailureModeAllow().GetValue()
	}
	if ns := o.GetMetadataOptions().GetReceivingNamespaces(); ns != nil {
		s.ReceivingNamespaces = ns.GetUntyped()
	}
	if o.GetGrpcService().GetEnvoyGrpc().GetMaxReceiveMessageLength() != nil {
		s.MaxReceiveMessageBytes = o.GetGrpcService().GetEnvoyGrpc().GetMaxReceiveMessageLength().GetValue()
	}
}

// EffectiveExtProc returns the ext_proc settings Envoy uses for a request
// to authority and path. They come from the route matched before Ward runs,
// i.e. without any x-ward-* header (the client's copies are stripped), so
// pass only the client's own headers.
func EffectiveExtProc(b *bootstrapv3.Bootstrap, authority, path string, headers map[string]string) (ExtProcSettings, error) {
	ep, err := ExtProcFilter(b)
	if err != nil {
		return ExtProcSettings{}, err
	}
	rc, err := RouteConfig(b)
	if err != nil {
		return ExtProcSettings{}, err
	}
	s := Settings(ep)
	m, err := SelectRoute(rc, authority, path, headers)
	if err != nil {
		return ExtProcSettings{}, err
	}
	for _, tpfc := range []map[string]*anypb.Any{
		rc.GetTypedPerFilterConfig(), m.VirtualHost.GetTypedPerFilterConfig(), m.Route.GetTypedPerFilterConfig(),
	} {
		a, ok := tpfc[ExtProcFilterName]
		if !ok {
			continue
		}
		pr := &extprocv3.ExtProcPerRoute{}
		if err := a.UnmarshalTo(pr); err != nil {
			return ExtProcSettings{}, fmt.Errorf("envoy: per-route %s: %w", ExtProcFilterName, err)
		}
		s.apply(pr)
	}
	return s, nil
}

// PerRouteFor returns the ExtProcPerRoute Envoy applies to a request to
// authority and path (route configuration, virtual host and route levels
// merged, the route matched before Ward runs), as one message an emulator
// can attach to its own route: {disabled: true}, or overrides carrying the
// effective processing_mode and failure_mode_allow. It returns nil when no
// level configures ext_proc.
func PerRouteFor(b *bootstrapv3.Bootstrap, authority, path string) (*extprocv3.ExtProcPerRoute, error) {
	rc, err := RouteConfig(b)
	if err != nil {
		return nil, err
	}
	m, err := SelectRoute(rc, authority, path, nil)
	if err != nil {
		return nil, err
	}
	var configured bool
	for _, tpfc := range []map[string]*anypb.Any{
		rc.GetTypedPerFilterConfig(), m.VirtualHost.GetTypedPerFilterConfig(), m.Route.GetTypedPerFilterConfig(),
	} {
		if _, ok := tpfc[ExtProcFilterName]; ok {
			configured = true
		}
	}
	if !configured {
		return nil, nil
	}
	s, err := EffectiveExtProc(b, authority, path, nil)
	if err != nil {
		return nil, err
	}
	if s.Disabled {
		return &extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}}, nil
	}
	return &extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Overrides{Overrides: &extprocv3.ExtProcOverrides{
		ProcessingMode:   s.Mode,
		FailureModeAllow: wrapperspb.Bool(s.FailureModeAllow),
	}}}, nil
}
