package envoy

import (
	"errors"
	"fmt"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
)

// RouteConfig returns the inline route configuration shared by the
// bootstrap's HTTP connection managers (they must agree).
func RouteConfig(b *bootstrapv3.Bootstrap) (*routev3.RouteConfiguration, error) {
	hcms, err := HTTPConnectionManagers(b)
	if err != nil {
		return nil, err
	}
	var rc *routev3.RouteConfiguration
	for _, h := range hcms {
		r := h.HCM.GetRouteConfig()
		if r == nil {
			return nil, fmt.Errorf("envoy: listener %s: no inline route_config", h.Listener)
		}
		if rc != nil && !proto.Equal(rc, r) {
			return nil, fmt.Errorf("envoy: listener %s: route_config differs from another listener's", h.Listener)
		}
		rc = r
	}
	return rc, nil
}

// Match is the result of route selection.
type Match struct {
	VirtualHost *routev3.VirtualHost
	Route       *routev3.Route
}

// SelectRoute picks the virtual host and route Envoy would pick for a
// request, for the subset of matching Ward's configs use: domains (exact,
// "*.suffix", "prefix.*", "*"), path / prefix / path_separated_prefix, and
// header matchers with an exact string_match or present_match. Anything else
// is an error, so the harness never silently routes differently from Envoy.
// headers keys are lower-case. The query string is ignored for path matching
// (Envoy matches on the path without it).
func SelectRoute(rc *routev3.RouteConfiguration, authority, path string, headers map[string]string) (Match, error) {
	vh, err := selectVirtualHost(rc.GetVirtualHosts(), authority)
	if err != nil {
		return Match{}, err
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	for _, r := range vh.GetRoutes() {
		ok, err := routeMatches(r.GetMatch(), path, headers)
		if err != nil {
			return Match{}, fmt.Errorf("envoy: route %q: %w", r.GetName(), err)
		}
		if ok {
			return Match{VirtualHost: vh, Route: r}, nil
		}
	}
	return Match{}, fmt.Errorf("envoy: no route in virtual host %q for %s", vh.GetName(), path)
}

// selectVirtualHost follows Envoy's domain search order: exact, then the
// longest suffix wildcard, then the longest prefix wildcard, then "*". The
// port is removed first, as HCM strip_any_host_port (set in Ward's configs)
// does.
func selectVirtualHost(vhs []*routev3.VirtualHost, authority string) (*routev3.VirtualHost, error) {
	host := strings.ToLower(authority)
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	if vh := findVirtualHost(vhs, host); vh != nil {
		return vh, nil
	}
	return nil, fmt.Errorf("envoy: no virtual host for %q", authority)
}

func findVirtualHost(vhs []*routev3.VirtualHost, host string) *routev3.VirtualHost {
	var suffix, prefix, any *routev3.VirtualHost
	suffixLen, prefixLen := -1, -1
	for _, vh := range vhs {
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			switch {
			case d == "*":
				if any == nil {
					any = vh
				}
			case strings.HasPrefix(d, "*"):
				if s := d[1:]; len(host) > len(s) && strings.HasSuffix(host, s) && len(s) > suffixLen {
					suffix, suffixLen = vh, len(s)
				}
			case strings.HasSuffix(d, "*"):
				if p := d[:len(d)-1]; len(host) > len(p) && strings.HasPrefix(host, p) && len(p) > prefixLen {
					prefix, prefixLen = vh, len(p)
				}
			case d == host:
				return vh
			}
		}
	}
	switch {
	case suffix != nil:
		return suffix
	case prefix != nil:
		return prefix
	}
	return any
}

func routeMatches(m *routev3.RouteMatch, path string, headers map[string]string) (bool, error) {
	if m.GetCaseSensitive() != nil && !m.GetCaseSensitive().GetValue() {
		return false, errors.New("case-insensitive matching is not emulated")
	}
	if m.GetRuntimeFraction() != nil || len(m.GetQueryParameters()) > 0 || m.GetGrpc() != nil ||
		m.GetTlsContext() != nil || len(m.GetDynamicMetadata()) > 0 || m.GetFilterState() != nil {
		return false, errors.New("match type is not emulated")
	}
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		if !strings.HasPrefix(path, ps.Prefix) {
			return false, nil
		}
	case *routev3.RouteMatch_Path:
		if path != ps.Path {
			return false, nil
		}
	case *routev3.RouteMatch_PathSeparatedPrefix:
		p := ps.PathSeparatedPrefix
		if !strings.HasPrefix(path, p) || (len(path) > len(p) && path[len(p)] != '/') {
			return false, nil
		}
	default:
		return false, fmt.Errorf("path specifier %T is not emulated", ps)
	}
	for _, h := range m.GetHeaders() {
		v, present := headers[strings.ToLower(h.GetName())]
		var ok bool
		switch hm := h.GetHeaderMatchSpecifier().(type) {
		case *routev3.HeaderMatcher_PresentMatch:
			ok = present == hm.PresentMatch
		case *routev3.HeaderMatcher_StringMatch:
			sm := hm.StringMatch
			if _, exact := sm.GetMatchPattern().(*matcherv3.StringMatcher_Exact); !exact || sm.GetIgnoreCase() {
				return false, errors.New("only case-sensitive exact string_match is emulated")
			}
			ok = present && v == sm.GetExact()
		default:
			return false, fmt.Errorf("header matcher %T is not emulated", hm)
		}
		if h.GetInvertMatch() {
			ok = !ok
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}
