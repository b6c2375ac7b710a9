package llm

import (
	"bytes"
	"compress/flate"
	"errors"
	"strings"
	"testing"
)

func TestDecodeBody(t *testing.T) {
	plain := []byte(chatRequest)
	gz, err := EncodeBody("gzip", plain)
	if err != nil {
		t.Fatal(err)
	}
	zl, err := EncodeBody("deflate", plain)
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestSpeed)
	fw.Write(plain)
	fw.Close()
	double, err := EncodeBody("gzip, deflate", plain)
	if err != nil {
		t.Fatal(err)
	}
	bomb, _ := EncodeBody("gzip", bytes.Repeat([]byte{'a'}, 10<<20))

	tests := []struct {
		name, enc string
		body      []byte
		limit     int
		want      []byte
		err       error
	}{
		{"identity", "identity", plain, 0, plain, nil},
		{"none", "", plain, 0, plain, nil},
		{"gzip", "gzip", gz, 1 << 20, plain, nil},
		{"x-gzip upper", " X-GZIP ", gz, 0, plain, nil},
		{"deflate zlib", "deflate", zl, 0, plain, nil},
		{"deflate raw", "deflate", raw.Bytes(), 0, plain, nil},
		{"stacked", "gzip, deflate", double, 0, plain, nil},
		{"truncated gzip", "gzip", gz[:len(gz)/2], 0, nil, ErrCorruptEncoding},
		{"gzip missing trailer", "gzip", gz[:len(gz)-4], 0, nil, ErrCorruptEncoding},
		{"not gzip", "gzip", plain, 0, nil, ErrCorruptEncoding},
		{"trailing garbage", "gzip", append(bytes.Clone(gz), "junk"...), 0, nil, ErrCorruptEncoding},
		{"bomb", "gzip", bomb, 1 << 20, nil, ErrBodyTooLarge},
		{"identity over limit", "", plain, 10, nil, ErrBodyTooLarge},
		{"brotli", "br", plain, 0, nil, ErrUnsupportedEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBody(tt.enc, tt.body, tt.limit)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %d bytes, err %v", len(got), err)
			}
		})
	}
	if _, err := DecodeBody("gzip", gz[:len(gz)/2], 0); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated gzip error should say so: %v", err)
	}
	if _, err := EncodeBody("br", plain); !errors.Is(err, ErrUnsupportedEncoding) {
		t.Errorf("EncodeBody br: %v", err)
	}
}
