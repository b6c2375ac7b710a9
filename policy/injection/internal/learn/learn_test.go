package learn

import (
	"bytes"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	m := &Model{Config: Config{Bits: 10, Bigrams: true, CharMin: 3, CharMax: 5}, Bias: -1.5, W: make([]float32, 1<<10)}
	m.W[3], m.W[1023] = 0.25, -2
	got, err := Decode(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Config != m.Config || got.Bias != m.Bias || len(got.W) != len(m.W) || got.W[3] != 0.25 || got.W[1023] != -2 {
		t.Errorf("round trip: %+v", got.Config)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := (&Model{Config: Config{Bits: 8}, W: make([]float32, 256)}).Encode()
	bad := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"empty":      nil,
		"magic":      bad(func(b []byte) []byte { b[0] = 'X'; return b }),
		"bits":       bad(func(b []byte) []byte { b[4] = 40; return b }),
		"char range": bad(func(b []byte) []byte { b[6], b[7] = 5, 3; return b }),
		"count":      bad(func(b []byte) []byte { b[12] = 1; return b }),
		"index":      append(bad(func(b []byte) []byte { b[12] = 1; return b }), 0xff, 0xff, 0, 0, 0, 0, 0, 0),
		"nan":        append(bad(func(b []byte) []byte { b[12] = 1; return b }), 1, 0, 0, 0, 0, 0, 0xc0, 0x7f),
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add((&Model{Config: Config{Bits: 8}, W: make([]float32, 256)}).Encode())
	f.Add([]byte("WLM1\x08\x01\x03\x05\x00\x00\x00\x00\x01\x00\x00\x00\x07\x00\x00\x00\x00\x00\x80\x3f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err == nil && len(m.W) != 1<<m.Bits {
			t.Fatalf("table %d for bits %d", len(m.W), m.Bits)
		}
	})
}
