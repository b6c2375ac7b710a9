package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/google/uuid"
)

// Spool records use a compact binary encoding instead of JSON: encoding and
// decoding every event twice (spool in, spool out) in JSON cost more CPU
// than the fsync (see BenchmarkSpoolAppend and docs/audit.md).
//
// Layout: version byte, then every field in a fixed order, strings and
// lists length-prefixed (uvarint), integers as 8 bytes big-endian, UUIDs
// as 16 bytes. Times are epoch milliseconds (0 = zero time).
// Version 2 added the streaming fields (first token, time per output
// token, max held characters). Version 3 may end with the detectors
// segment (hashBuf.detectors) after the hash; versions 1 and 2 still decode.
const codecVersion = 3

// AppendEncoded appends the binary encoding of e to buf.
func AppendEncoded(buf []byte, e *Event) []byte {
	b := hashBuf(append(buf, codecVersion)).metadata(e)
	b = binary.AppendUvarint(b, uint64(len(e.Prompt)))
	for _, m := range e.Prompt {
		b = b.str(m.Role).str(m.Content)
	}
	b = b.str(e.Completion)
	b = binary.AppendUvarint(b, uint64(len(e.ToolCalls)))
	for _, tc := range e.ToolCalls {
		b = b.str(tc.Name).str(tc.Arguments)
	}
	b = b.measures(e)
	b = b.str(e.Error).str(e.ContentHash).str(e.PrevHash).str(e.Hash)
	return b.detectors(e)
}

var errTruncated = errors.New("truncated")

// decoder reads from one string copy of the record, so every decoded
// string field is a substring of it: one allocation for all text.
type decoder struct {
	s   string
	err error
}

func (d *decoder) take(n int) string {
	if d.err != nil {
		return ""
	}
	if n < 0 || n > len(d.s) {
		d.err = errTruncated
		return ""
	}
	p := d.s[:n]
	d.s = d.s[n:]
	return p
}

func (d *decoder) uvarint() int {
	if d.err != nil {
		return 0
	}
	var v uint64
	var shift uint
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if v > uint64(len(d.s)-i-1) { // a length never exceeds what is left
				break
			}
			d.s = d.s[i+1:]
			return int(v)
		}
		shift += 7
	}
	d.err = errTruncated
	return 0
}

func (d *decoder) str() string { return d.take(d.uvarint()) }

func (d *decoder) i64() int64 {
	p := d.take(8)
	if len(p) != 8 {
		return 0
	}
	var v uint64
	for i := 0; i < 8; i++ {
		v = v<<8 | uint64(p[i])
	}
	return int64(v)
}

func (d *decoder) ms() time.Time { return FromUnixMs(d.i64()) }

func (d *decoder) uuid() (u uuid.UUID) {
	copy(u[:], d.take(16))
	return u
}

func (d *decoder) counts() []Count {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	out := make([]Count, 0, min(n, 64))
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, Count{Type: d.str(), Count: uint32(d.i64())})
	}
	return out
}

var errBadDetectors = errors.New("bad detectors segment")

func (d *decoder) score() float32 {
	p := d.take(4)
	if len(p) != 4 {
		return 0
	}
	s := math.Float32frombits(uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3]))
	if !(s >= 0 && s <= 1) && d.err == nil {
		d.err = errBadDetectors // the writer clamps scores to [0, 1]
	}
	return s
}

func (d *decoder) byte() byte {
	p := d.take(1)
	if len(p) != 1 {
		return 0
	}
	return p[0]
}

// detectors reads the segment hashBuf.detectors writes.
func (d *decoder) detectors(e *Event) {
	tag, present := d.byte(), d.byte()
	if d.err == nil && (tag != segDetectors || present == 0 || present&^detKnown != 0) {
		d.err = errBadDetectors
		return
	}
	if present&detInjection != 0 {
		in := &Injection{Score: d.score()}
		if n := d.uvarint(); n > 0 {
			in.Rules = make([]string, 0, min(n, 64))
			for i := 0; i < n && d.err == nil; i++ {
				in.Rules = append(in.Rules, d.str())
			}
		}
		e.Injection = in
	}
	if present&detTopic != 0 {
		t := &Topic{InScope: d.score(), Nearest: d.str()}
		switch d.byte() {
		case 0:
		case 1:
			t.Directive = true
		default:
			if d.err == nil {
				d.err = errBadDetectors
			}
		}
		e.Topic = t
	}
}

// DecodeEvent parses the binary encoding written by AppendEncoded.
func DecodeEvent(p []byte, e *Event) error {
	if len(p) == 0 || p[0] < 1 || p[0] > codecVersion {
		return fmt.Errorf("audit: unknown event encoding")
	}
	version := p[0]
	d := &decoder{s: string(p[1:])}
	*e = Event{}
	e.ID, e.WriterID = d.uuid(), d.uuid()
	e.Seq = uint64(d.i64())
	e.Start, e.FirstByte, e.End = d.ms(), d.ms(), d.ms()
	e.RequestID, e.TraceID, e.SpanID = d.str(), d.str(), d.str()
	e.Team, e.App, e.KeyID, e.EndUser = d.str(), d.str(), d.str(), d.str()
	e.Profile, e.Endpoint, e.Provider, e.ModelRequested, e.ModelServed = d.str(), d.str(), d.str(), d.str(), d.str()
	e.Stream = d.i64() == 1
	e.Status = int(d.i64())
	e.Decision, e.ReasonCode, e.PolicyRevision = d.str(), d.str(), d.str()
	e.PHI, e.Redactions = d.counts(), d.counts()
	e.ContentLevel = d.str()
	if n := d.uvarint(); n > 0 {
		e.Prompt = make([]Message, 0, min(n, 64))
		for i := 0; i < n && d.err == nil; i++ {
			e.Prompt = append(e.Prompt, Message{Role: d.str(), Content: d.str()})
		}
	}
	e.Completion = d.str()
	if n := d.uvarint(); n > 0 {
		e.ToolCalls = make([]ToolCall, 0, min(n, 64))
		for i := 0; i < n && d.err == nil; i++ {
			e.ToolCalls = append(e.ToolCalls, ToolCall{Name: d.str(), Arguments: d.str()})
		}
	}
	e.InputTokens, e.OutputTokens, e.CachedTokens, e.CostMicroUSD = d.i64(), d.i64(), d.i64(), d.i64()
	e.UpstreamMs, e.WardOverheadUs = d.i64(), d.i64()
	if version >= 2 {
		e.FirstToken, e.TPOTUs, e.MaxHeldChars = d.ms(), d.i64(), d.i64()
	}
	e.Error, e.ContentHash, e.PrevHash, e.Hash = d.str(), d.str(), d.str(), d.str()
	if version >= 3 && d.err == nil && len(d.s) > 0 {
		d.detectors(e)
	}
	if d.err != nil {
		return fmt.Errorf("audit: decode event: %w", d.err)
	}
	if len(d.s) != 0 {
		return fmt.Errorf("audit: decode event: %d trailing bytes", len(d.s))
	}
	return nil
}

// appendEventFrame appends e as one spool record, encoding in place.
func appendEventFrame(buf []byte, e *Event) []byte {
	start := len(buf)
	buf = append(buf, frameMagic[:]...)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0)
	buf = AppendEncoded(buf, e)
	payload := buf[start+frameHeader:]
	binary.LittleEndian.PutUint32(buf[start+4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+8:], crc32.Checksum(payload, castagnoli))
	return buf
}
