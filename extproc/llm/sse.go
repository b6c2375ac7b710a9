package llm

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// ErrSSEEventTooLarge is returned when one event grows past the decoder's
// limit without a terminating blank line. The error is sticky: the stream
// cannot be resynchronised safely.
var ErrSSEEventTooLarge = errors.New("llm: SSE event exceeds size limit")

// DefaultMaxSSEEvent bounds one buffered event (a 1 MB event must pass).
const DefaultMaxSSEEvent = 4 << 20

// SSEEvent is one block of a text/event-stream (WHATWG HTML §9.2): the lines
// up to and including the blank line that ends it.
//
// Raw, Data and the strings' backing bytes alias the decoder's buffer and
// stay valid only until the next Feed; copy what you keep.
type SSEEvent struct {
	// Raw is the exact input bytes of the event, terminator included, so an
	// unchanged event can be forwarded byte-identical. Concatenating Raw of
	// every event yields the consumed input.
	Raw []byte
	// Event is the "event" field ("" means the default type "message").
	Event string
	// Data is the "data" lines joined with "\n" (no trailing newline).
	Data []byte
	// HasData is false for blocks that hold only comments or other fields:
	// per the spec they dispatch nothing.
	HasData bool
	ID      string
	HasID   bool
	// Retry is the reconnection time in ms when HasRetry.
	Retry    int64
	HasRetry bool
	// Incomplete is set on a trailing block that ended at end of input
	// without a blank line. Browsers drop it; SDKs vary, so guardrails must
	// still inspect it.
	Incomplete bool

	// dataStart/dataEnd is the span of the single data line's value in Raw
	// (dataStart < 0 when there are several data lines).
	dataStart, dataEnd int
}

// SSEDecoder splits a text/event-stream into events. Feed it byte chunks
// split anywhere (CRLF, LF and CR line endings, comments, id/retry/event
// fields, multi-line data); call Next until it reports no event, then Feed
// more. It is not safe for concurrent use.
type SSEDecoder struct {
	buf   []byte
	start int // first byte of the pending event
	scan  int // first byte of the first line not yet seen complete
	// searched is where the next search for a line end resumes (>= scan),
	// so an event trickling in byte by byte is scanned once, not O(n²).
	searched int
	max      int
	err      error
	eof      bool
	consumed int64 // bytes returned in events before buf[0]
	bomDone  bool
	bodyOff  int // bytes to skip (a BOM) at the start of the pending event
	dataBuf  []byte
}

// NewSSEDecoder returns a decoder that fails with ErrSSEEventTooLarge when
// one event exceeds maxEvent bytes (DefaultMaxSSEEvent if <= 0).
func NewSSEDecoder(maxEvent int) *SSEDecoder {
	if maxEvent <= 0 {
		maxEvent = DefaultMaxSSEEvent
	}
	return &SSEDecoder{max: maxEvent}
}

// Feed appends input. It invalidates slices returned by earlier Next calls.
func (d *SSEDecoder) Feed(p []byte) {
	if d.start > 0 {
		// Drop consumed bytes; events handed out are now invalid.
		n := copy(d.buf, d.buf[d.start:])
		d.buf = d.buf[:n]
		d.scan -= d.start
		d.searched -= d.start
		d.consumed += int64(d.start)
		d.start = 0
	}
	d.buf = append(d.buf, p...)
}

// Close marks the end of input: a trailing CR then counts as a line end
// and a last block without a blank line is returned as Incomplete.
func (d *SSEDecoder) Close() { d.eof = true }

// Buffered reports bytes received but not yet returned in an event.
func (d *SSEDecoder) Buffered() int { return len(d.buf) - d.start }

// Consumed reports the total bytes returned in events so far.
func (d *SSEDecoder) Consumed() int64 { return d.consumed + int64(d.start) }

// Next returns the next complete event. ok is false when more input is
// needed (or, after Close, when the input is exhausted).
func (d *SSEDecoder) Next() (ev SSEEvent, ok bool, err error) {
	if d.err != nil {
		return SSEEvent{}, false, d.err
	}
	buf := d.buf
	if !d.bomDone {
		// A UTF-8 BOM at the very start of the stream is not part of the
		// first field name.
		if len(buf) < 3 && !d.eof && bytes.HasPrefix([]byte("\xEF\xBB\xBF"), buf) {
			return SSEEvent{}, false, nil
		}
		d.bomDone = true
		if bytes.HasPrefix(buf, []byte("\xEF\xBB\xBF")) {
			d.scan, d.searched, d.bodyOff = 3, 3, 3
		}
	}
	for {
		from := max(d.scan, d.searched)
		seg := buf[from:]
		n := bytes.IndexByte(seg, '\n')
		var cr int
		if n < 0 {
			cr = bytes.IndexByte(seg, '\r')
		} else {
			cr = bytes.IndexByte(seg[:n], '\r')
		}
		if cr >= 0 {
			n = cr
		}
		if n < 0 {
			d.searched = len(buf)
			if d.eof && d.start < len(buf) {
				return d.emit(len(buf), true)
			}
			return SSEEvent{}, false, d.checkSize(len(buf))
		}
		lineEnd := from + n
		next := lineEnd + 1
		if buf[lineEnd] == '\r' {
			if next == len(buf) && !d.eof {
				// CR at the end of input may be the first half of CRLF.
				d.searched = lineEnd
				return SSEEvent{}, false, d.checkSize(len(buf))
			}
			if next < len(buf) && buf[next] == '\n' {
				next++
			}
		}
		blank := lineEnd == d.scan
		d.scan, d.searched = next, next
		if err := d.checkSize(next); err != nil {
			return SSEEvent{}, false, err
		}
		if blank {
			return d.emit(next, false)
		}
	}
}

func (d *SSEDecoder) checkSize(end int) error {
	if end-d.start > d.max {
		d.err = fmt.Errorf("%w: more than %d bytes without a blank line (at stream byte %d)",
			ErrSSEEventTooLarge, d.max, d.Consumed())
		return d.err
	}
	return nil
}

func (d *SSEDecoder) emit(end int, incomplete bool) (SSEEvent, bool, error) {
	raw := d.buf[d.start:end:end]
	ev := SSEEvent{Raw: raw, Incomplete: incomplete, dataStart: -1}
	d.parseFields(&ev, d.bodyOff)
	d.bodyOff = 0
	d.start, d.scan, d.searched = end, end, end
	return ev, true, nil
}

// parseFields interprets the lines of ev.Raw from off.
func (d *SSEDecoder) parseFields(ev *SSEEvent, off int) {
	raw := ev.Raw
	nData := 0
	for i := off; i < len(raw); {
		// Find the end of this line.
		j := i
		for j < len(raw) && raw[j] != '\n' && raw[j] != '\r' {
			j++
		}
		line := raw[i:j]
		lineStart := i
		if j < len(raw) && raw[j] == '\r' && j+1 < len(raw) && raw[j+1] == '\n' {
			i = j + 2
		} else {
			i = j + 1
		}
		if len(line) == 0 || line[0] == ':' {
			continue // blank terminator or comment
		}
		name, value := line, line[len(line):]
		vstart := lineStart + len(line)
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			name, value = line[:c], line[c+1:]
			vstart = lineStart + c + 1
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
				vstart++
			}
		}
		switch string(name) {
		case "data":
			switch nData {
			case 0:
				ev.Data = value
				ev.dataStart, ev.dataEnd = vstart, vstart+len(value)
			case 1:
				d.dataBuf = append(append(append(d.dataBuf[:0], ev.Data...), '\n'), value...)
				ev.dataStart = -1
			default:
				d.dataBuf = append(append(d.dataBuf, '\n'), value...)
			}
			nData++
			ev.HasData = true
		case "event":
			ev.Event = internEvent(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				ev.ID, ev.HasID = string(value), true
			}
		case "retry":
			if n, err := strconv.ParseInt(string(value), 10, 64); err == nil && n >= 0 && isDigits(value) {
				ev.Retry, ev.HasRetry = n, true
			}
		}
	}
	if nData > 1 {
		ev.Data = d.dataBuf
	}
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// internEvent avoids an allocation per event for the names providers use.
func internEvent(b []byte) string {
	switch string(b) {
	case "message_start":
		return "message_start"
	case "content_block_start":
		return "content_block_start"
	case "content_block_delta":
		return "content_block_delta"
	case "content_block_stop":
		return "content_block_stop"
	case "message_delta":
		return "message_delta"
	case "message_stop":
		return "message_stop"
	case "ping":
		return "ping"
	case "error":
		return "error"
	case "response.output_text.delta":
		return "response.output_text.delta"
	case "response.function_call_arguments.delta":
		return "response.function_call_arguments.delta"
	case "response.created":
		return "response.created"
	case "response.in_progress":
		return "response.in_progress"
	case "response.completed":
		return "response.completed"
	case "response.output_item.added":
		return "response.output_item.added"
	case "response.output_item.done":
		return "response.output_item.done"
	case "response.content_part.added":
		return "response.content_part.added"
	case "response.content_part.done":
		return "response.content_part.done"
	case "response.output_text.done":
		return "response.output_text.done"
	}
	return string(b)
}

// AppendTo appends the event in canonical form built from its fields
// (event, id, retry, then one "data:" line per line of Data, then a blank
// line; LF line endings; comments are not kept).
func (ev *SSEEvent) AppendTo(dst []byte) []byte {
	if ev.Event != "" {
		dst = append(append(append(dst, "event: "...), ev.Event...), '\n')
	}
	if ev.HasID {
		dst = append(append(append(dst, "id: "...), ev.ID...), '\n')
	}
	if ev.HasRetry {
		dst = strconv.AppendInt(append(dst, "retry: "...), ev.Retry, 10)
		dst = append(dst, '\n')
	}
	if ev.HasData {
		data := ev.Data
		for {
			i := bytes.IndexAny(data, "\r\n")
			if i < 0 {
				break
			}
			dst = append(append(append(dst, "data: "...), data[:i]...), '\n')
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			data = data[i+1:]
		}
		dst = append(append(append(dst, "data: "...), data...), '\n')
	}
	return append(dst, '\n')
}

// WithData returns the event's bytes with its data replaced. When the event
// has exactly one data line and data holds no line break, only the data
// value is spliced: every other byte (field order, comments, line endings)
// stays as received. Otherwise the event is re-encoded with AppendTo.
func (ev *SSEEvent) WithData(data []byte) []byte {
	if ev.dataStart >= 0 && ev.HasData && bytes.IndexAny(data, "\r\n") < 0 {
		out := make([]byte, 0, len(ev.Raw)-(ev.dataEnd-ev.dataStart)+len(data))
		out = append(out, ev.Raw[:ev.dataStart]...)
		out = append(out, data...)
		out = append(out, ev.Raw[ev.dataEnd:]...)
		if ev.Incomplete {
			// Terminate it so the client dispatches what we scanned.
			out = append(out, '\n', '\n')
		}
		return out
	}
	e := *ev
	e.Data, e.HasData = data, true
	return e.AppendTo(nil)
}
