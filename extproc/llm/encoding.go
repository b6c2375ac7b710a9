package llm

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
)

var (
	// ErrUnsupportedEncoding: a content-encoding Ward cannot decode (e.g.
	// br, zstd). Route by profile: pass through unparsed or deny.
	ErrUnsupportedEncoding = errors.New("llm: unsupported content-encoding")
	// ErrBodyTooLarge: the decoded body would exceed the limit (this is
	// also what stops decompression bombs).
	ErrBodyTooLarge = errors.New("llm: decoded body exceeds limit")
	// ErrCorruptEncoding: truncated or corrupt compressed data.
	ErrCorruptEncoding = errors.New("llm: truncated or corrupt compressed body")
)

// DecodeBody undoes a Content-Encoding (identity, gzip, x-gzip, deflate;
// a comma-separated list is undone right to left) and returns at most
// limit bytes (limit <= 0 means no limit). identity returns body itself.
func DecodeBody(contentEncoding string, body []byte, limit int) ([]byte, error) {
	codings := strings.Split(contentEncoding, ",")
	out := body
	for i := len(codings) - 1; i >= 0; i-- {
		c := strings.ToLower(strings.TrimSpace(codings[i]))
		var err error
		switch c {
		case "", "identity":
			continue
		case "gzip", "x-gzip":
			out, err = gunzip(out, limit)
		case "deflate":
			out, err = inflate(out, limit)
		default:
			return nil, fmt.Errorf("%w: %q", ErrUnsupportedEncoding, c)
		}
		if err != nil {
			return nil, fmt.Errorf("content-encoding %s: %w", c, err)
		}
	}
	if limit > 0 && len(out) > limit {
		return nil, fmt.Errorf("%w: %d > %d bytes", ErrBodyTooLarge, len(out), limit)
	}
	return out, nil
}

func gunzip(b []byte, limit int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, corrupt(err)
	}
	return readLimited(zr, limit, len(b))
}

// inflate handles HTTP "deflate", which RFC 9110 defines as zlib-wrapped;
// some servers send a raw deflate stream, so that is tried second.
func inflate(b []byte, limit int) ([]byte, error) {
	if zr, err := zlib.NewReader(bytes.NewReader(b)); err == nil {
		return readLimited(zr, limit, len(b))
	}
	return readLimited(flate.NewReader(bytes.NewReader(b)), limit, len(b))
}

func readLimited(r io.ReadCloser, limit, hint int) ([]byte, error) {
	defer r.Close()
	var buf bytes.Buffer
	g := hint * 4
	if limit > 0 && g > limit+1 {
		g = limit + 1
	}
	buf.Grow(g)
	src := io.Reader(r)
	if limit > 0 {
		src = io.LimitReader(r, int64(limit)+1)
	}
	if _, err := buf.ReadFrom(src); err != nil {
		return nil, corrupt(err)
	}
	if limit > 0 && buf.Len() > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	return buf.Bytes(), nil
}

func corrupt(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: truncated (%v)", ErrCorruptEncoding, err)
	}
	return fmt.Errorf("%w: %v", ErrCorruptEncoding, err)
}

// EncodeBody applies contentEncoding (identity, gzip, x-gzip, deflate) to
// body, for re-encoding a mutated body so the Content-Encoding header
// stays true. Callers that prefer to drop the header instead can send the
// decoded body and remove Content-Encoding (and fix Content-Length).
func EncodeBody(contentEncoding string, body []byte) ([]byte, error) {
	codings := strings.Split(contentEncoding, ",")
	out := body
	for _, c := range codings {
		c = strings.ToLower(strings.TrimSpace(c))
		var buf bytes.Buffer
		var w io.WriteCloser
		switch c {
		case "", "identity":
			continue
		case "gzip", "x-gzip":
			w = gzip.NewWriter(&buf)
		case "deflate":
			w = zlib.NewWriter(&buf)
		default:
			return nil, fmt.Errorf("%w: %q", ErrUnsupportedEncoding, c)
		}
		if _, err := w.Write(out); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		out = buf.Bytes()
	}
	return out, nil
}
