package harness

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/proto"
)

// FuzzApplyHeaderMutation feeds arbitrary HeaderMutation messages (the
// processor is untrusted input to Envoy) through the mutation rules: never
// a panic, routing/system headers never change, x-envoy-* never appears.
func FuzzApplyHeaderMutation(f *testing.F) {
	seed := func(m *extprocv3.HeaderMutation) {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(&extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-a", RawValue: []byte("1")}}}})
	seed(&extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: ":authority", RawValue: []byte("evil")}}}, RemoveHeaders: []string{"host", ":path"}})
	seed(&extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "X-Envoy-Original-Path", RawValue: []byte("/")}, AppendAction: corev3.HeaderValueOption_ADD_IF_ABSENT}}})
	seed(&extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-b", Value: "v", RawValue: []byte("r")}, AppendAction: 99}}})
	rules, err := newChecker(nil)
	if err != nil {
		f.Fatal(err)
	}
	g := &Gateway{rules: rules}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m extprocv3.HeaderMutation
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		h := hmap{{":authority", "a"}, {":method", "POST"}, {":scheme", "http"}, {":path", "/p"}, {"host", "a"}, {"x-a", "0"}}
		x := &exchange{g: g, tr: &Trace{}}
		_ = x.applyHeaderMutation(&m, &h)
		for _, k := range []string{":authority", ":method", ":scheme", "host"} {
			if v, _ := h.get(k); v != map[string]string{":authority": "a", ":method": "POST", ":scheme": "http", "host": "a"}[k] {
				t.Fatalf("%s changed to %q", k, v)
			}
		}
		if !h.has(":path") {
			t.Fatal(":path removed")
		}
		for _, e := range h {
			if strings.HasPrefix(e.k, "x-envoy") {
				t.Fatalf("x-envoy header %q added", e.k)
			}
		}
	})
}

func TestHmapSetKeepsOrderAndCollapses(t *testing.T) {
	h := hmap{{"a", "1"}, {"b", "2"}, {"a", "3"}}
	h.set("a", "x")
	if len(h) != 2 || h[0] != (hkv{"a", "x"}) || h[1] != (hkv{"b", "2"}) {
		t.Fatalf("set: %v", h)
	}
	h.add("b", "4")
	h.del("b")
	if len(h) != 1 {
		t.Fatalf("del: %v", h)
	}
}
