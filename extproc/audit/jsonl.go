package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// JSONLSink writes one JSON object per line: the embedded default when no
// ClickHouse is configured. `ward audit verify --file` checks its chain.
type JSONLSink struct {
	mu  sync.Mutex
	w   io.Writer
	f   *os.File // set when the sink owns a file: fsynced per batch, closed by Close
	buf bytes.Buffer
}

// NewJSONLSink writes to w (e.g. os.Stdout); Close does not close w.
func NewJSONLSink(w io.Writer) *JSONLSink { return &JSONLSink{w: w} }

// OpenJSONLFile appends to path, creating it with mode 0600.
func OpenJSONLFile(path string) (*JSONLSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit jsonl: %w", err)
	}
	return &JSONLSink{w: f, f: f}, nil
}

// Write appends events as lines in one write; files are fsynced before it returns.
func (s *JSONLSink) Write(_ context.Context, events []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	enc.SetEscapeHTML(false)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return fmt.Errorf("audit jsonl: %w", err)
		}
	}
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return fmt.Errorf("audit jsonl: %w", err)
	}
	if s.f != nil {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("audit jsonl: fsync: %w", err)
		}
	}
	return nil
}

// Close closes the file the sink opened.
func (s *JSONLSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// ReadJSONL decodes events from r line by line, calling fn for each.
func ReadJSONL(r io.Reader, fn func(*Event) error) error {
	dec := json.NewDecoder(r)
	for line := 1; ; line++ {
		var e Event
		if err := dec.Decode(&e); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("audit jsonl: event %d: %w", line, err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
}
