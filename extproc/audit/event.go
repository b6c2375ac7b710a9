// Package audit records one tamper-evident event per LLM interaction.
//
// The pipeline builds an *Event and hands it to a Recorder (Writer). The
// writer seals events into a per-writer hash chain, appends them to a durable
// spool (fsync per batch) and ships them to a Sink (ClickHouse or JSON lines).
// See docs/audit.md for every field and the delivery guarantees.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"time"

	"github.com/google/uuid"
)

// Content levels: how much prompt/completion text the policy allowed to keep.
const (
	ContentFull     = "full"
	ContentRedacted = "redacted"
	ContentNone     = "none"
)

// Decisions as written to the decision column.
const (
	DecisionAllow  = "allow"
	DecisionRedact = "redact"
	DecisionDeny   = "deny"
)

// Event is one interaction as the audit trail stores it. The pipeline fills
// every field it knows; the writer fills WriterID, Seq, ContentHash,
// PrevHash and Hash (and ID when it is zero). After Record the event belongs
// to the writer: the caller must not touch it again.
type Event struct {
	ID       uuid.UUID `json:"event_id"`  // UUIDv7, also returned as x-ward-event-id
	WriterID uuid.UUID `json:"writer_id"` // hash chain this event belongs to
	Seq      uint64    `json:"seq"`       // position in the writer's chain, from 1

	Start     time.Time `json:"start"`               // request headers received
	FirstByte time.Time `json:"first_byte,omitzero"` // first response byte from upstream
	End       time.Time `json:"end"`                 // final response sent

	RequestID string `json:"request_id,omitempty"` // x-request-id
	TraceID   string `json:"trace_id,omitempty"`   // W3C trace id, 32 hex
	SpanID    string `json:"span_id,omitempty"`    // Ward's interaction span, 16 hex

	Team    string `json:"team,omitempty"`
	App     string `json:"app,omitempty"`
	KeyID   string `json:"key_id,omitempty"`
	EndUser string `json:"end_user,omitempty"` // the patient/clinician the app acts for

	Profile        string `json:"profile,omitempty"`  // route profile: clinical, internal, passthrough
	Endpoint       string `json:"endpoint,omitempty"` // normalised endpoint, e.g. openai.chat
	Provider       string `json:"provider,omitempty"`
	ModelRequested string `json:"model_requested,omitempty"`
	ModelServed    string `json:"model_served,omitempty"`
	Stream         bool   `json:"stream,omitempty"`
	Status         int    `json:"status,omitempty"` // HTTP status returned to the client

	Decision       string `json:"decision,omitempty"`    // allow, redact, deny
	ReasonCode     string `json:"reason_code,omitempty"` // machine-readable policy reason
	PolicyRevision string `json:"policy_revision,omitempty"`

	PHI        []Count `json:"phi,omitempty"`        // findings by type; never values
	Redactions []Count `json:"redactions,omitempty"` // redactions applied by type

	// Detector verdicts on the request. nil means the detector did not run
	// (disabled, or no topics configured for the app), which is not the
	// same as a score of 0.
	Injection *Injection `json:"injection,omitempty"`
	Topic     *Topic     `json:"topic,omitempty"`

	ContentLevel string     `json:"content_level,omitempty"` // full, redacted, none
	Prompt       []Message  `json:"prompt,omitempty"`
	Completion   string     `json:"completion,omitempty"`
	ToolCalls    []ToolCall `json:"tool_calls,omitempty"`

	InputTokens  int64 `json:"input_tokens,omitempty"`
	OutputTokens int64 `json:"output_tokens,omitempty"`
	CachedTokens int64 `json:"cached_tokens,omitempty"`
	CostMicroUSD int64 `json:"cost_micro_usd,omitempty"`

	UpstreamMs     int64 `json:"upstream_ms,omitempty"`      // time spent waiting on the provider
	WardOverheadUs int64 `json:"ward_overhead_us,omitempty"` // Ward's own processing time

	// Streamed responses: when the first output text reached the client,
	// the mean time per output token after it, and the most characters
	// Ward held back at once while scanning for identifiers split across
	// chunks.
	FirstToken   time.Time `json:"first_token,omitzero"`
	TPOTUs       int64     `json:"tpot_us,omitempty"`
	MaxHeldChars int64     `json:"max_held_chars,omitempty"`

	Error string `json:"error,omitempty"`

	ContentHash string `json:"content_hash"` // sha256 of prompt, completion, tool calls
	PrevHash    string `json:"prev_hash"`    // Hash of the previous event of this writer
	Hash        string `json:"hash"`         // sha256 over every field above
}

// Count is a type with a number of occurrences (PHI findings, redactions).
type Count struct {
	Type  string `json:"type"`
	Count uint32 `json:"count"`
}

// Injection is the prompt-injection detector's verdict. The score is kept
// as float32 (what ClickHouse stores) so a row read back hashes the same.
type Injection struct {
	Score float32  `json:"score"`           // calibrated, in [0, 1]
	Rules []string `json:"rules,omitempty"` // rule families that fired
}

// Topic is the app's topic classifier verdict.
type Topic struct {
	InScope   float32 `json:"in_scope"`          // probability the prompt is in the app's scope
	Nearest   string  `json:"nearest,omitempty"` // nearest example topic
	Directive bool    `json:"directive"`         // the prompt instructs the assistant
}

// Message is one side of the conversation as kept at ContentLevel.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ToolCall is a tool invocation the model asked for.
type ToolCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// LatencyMs is End-Start in milliseconds.
func (e *Event) LatencyMs() int64 { return durMs(e.Start, e.End) }

// TTFTMs is the time to first byte in milliseconds, 0 when unknown.
// For streams that is the first output token the client received; for
// buffered responses the first response byte.
func (e *Event) TTFTMs() int64 {
	if !e.FirstToken.IsZero() {
		return durMs(e.Start, e.FirstToken)
	}
	return durMs(e.Start, e.FirstByte)
}

func durMs(from, to time.Time) int64 {
	if from.IsZero() || to.IsZero() {
		return 0
	}
	return to.UnixMilli() - from.UnixMilli()
}

// UnixMs is t in epoch milliseconds, 0 for the zero time; the inverse of FromUnixMs.
func UnixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromUnixMs is the inverse of UnixMs.
func FromUnixMs(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// normalise truncates timestamps to what every sink stores (milliseconds, UTC)
// so a hash computed here can be recomputed from any stored copy.
func (e *Event) normalise() {
	e.Start = FromUnixMs(UnixMs(e.Start))
	e.FirstByte = FromUnixMs(UnixMs(e.FirstByte))
	e.End = FromUnixMs(UnixMs(e.End))
	e.FirstToken = FromUnixMs(UnixMs(e.FirstToken))
	if e.Injection != nil {
		e.Injection.Score = unitScore(e.Injection.Score)
		if len(e.Injection.Rules) == 0 {
			e.Injection.Rules = nil
		}
	}
	if e.Topic != nil {
		e.Topic.InScope = unitScore(e.Topic.InScope)
	}
}

// unitScore clamps a score to [0, 1] and maps NaN (and -0) to 0: every sink
// can store it (JSON has no NaN) and it hashes to one bit pattern.
func unitScore(s float32) float32 {
	if !(s > 0) {
		return 0
	}
	return min(s, 1)
}

// hashBuf appends fields in a canonical, unambiguous form (length-prefixed).
type hashBuf []byte

func (b hashBuf) str(s string) hashBuf {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (b hashBuf) i64(v int64) hashBuf { return binary.BigEndian.AppendUint64(b, uint64(v)) }

func (b hashBuf) counts(cs []Count) hashBuf {
	b = binary.AppendUvarint(b, uint64(len(cs)))
	for _, c := range cs {
		b = b.str(c.Type).i64(int64(c.Count))
	}
	return b
}

// ComputeContentHash hashes the content columns. It is kept apart from Hash so
// that content can expire (ClickHouse TTL) without breaking the chain.
func ComputeContentHash(e *Event, scratch []byte) (string, []byte) {
	b := hashBuf(append(scratch[:0], "ward-content-v1"...))
	b = binary.AppendUvarint(b, uint64(len(e.Prompt)))
	for _, m := range e.Prompt {
		b = b.str(m.Role).str(m.Content)
	}
	b = b.str(e.Completion)
	b = binary.AppendUvarint(b, uint64(len(e.ToolCalls)))
	for _, tc := range e.ToolCalls {
		b = b.str(tc.Name).str(tc.Arguments)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b
}

// ComputeHash returns the chain hash of e: sha256 over every stored field
// except Hash itself (ContentHash stands in for the content). The detector
// verdicts are a trailing segment present only when a detector ran, so
// events without them keep their "ward-audit-v2" hashes (see detectors).
func ComputeHash(e *Event, scratch []byte) (string, []byte) {
	b := hashBuf(append(scratch[:0], "ward-audit-v2"...))
	b = b.metadata(e).str(e.ContentHash).measures(e)
	b = b.str(e.Error).str(e.PrevHash)
	b = b.detectors(e)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b
}

// computeHashV1 is the chain hash of the first release of the audit
// trail, before the streaming measures (first token, time per output
// token, held characters) existed. Only the verifier uses it, for events
// that have none of the fields added since: trails written then still
// verify.
func computeHashV1(e *Event, scratch []byte) (string, []byte) {
	b := hashBuf(append(scratch[:0], "ward-audit-v1"...))
	b = b.metadata(e).str(e.ContentHash)
	b = b.i64(e.InputTokens).i64(e.OutputTokens).i64(e.CachedTokens).i64(e.CostMicroUSD)
	b = b.i64(e.UpstreamMs).i64(e.WardOverheadUs)
	b = b.str(e.Error).str(e.PrevHash)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b
}

// v1Shaped reports whether e has none of the fields added after v1.
func (e *Event) v1Shaped() bool {
	return e.FirstToken.IsZero() && e.TPOTUs == 0 && e.MaxHeldChars == 0 && e.Injection == nil && e.Topic == nil
}

// metadata appends every field from the ids to the content level, in the
// order both the hash and the spool encoding use.
func (b hashBuf) metadata(e *Event) hashBuf {
	b = append(b, e.ID[:]...)
	b = append(b, e.WriterID[:]...)
	b = b.i64(int64(e.Seq))
	b = b.i64(UnixMs(e.Start)).i64(UnixMs(e.FirstByte)).i64(UnixMs(e.End))
	b = b.str(e.RequestID).str(e.TraceID).str(e.SpanID)
	b = b.str(e.Team).str(e.App).str(e.KeyID).str(e.EndUser)
	b = b.str(e.Profile).str(e.Endpoint).str(e.Provider).str(e.ModelRequested).str(e.ModelServed)
	stream := int64(0)
	if e.Stream {
		stream = 1
	}
	b = b.i64(stream).i64(int64(e.Status))
	b = b.str(e.Decision).str(e.ReasonCode).str(e.PolicyRevision)
	b = b.counts(e.PHI).counts(e.Redactions)
	return b.str(e.ContentLevel)
}

// measures appends tokens, cost and timings, shared by the hash and the
// spool encoding so a new field cannot be added to one and missed in the
// other.
func (b hashBuf) measures(e *Event) hashBuf {
	b = b.i64(e.InputTokens).i64(e.OutputTokens).i64(e.CachedTokens).i64(e.CostMicroUSD)
	b = b.i64(e.UpstreamMs).i64(e.WardOverheadUs)
	return b.i64(UnixMs(e.FirstToken)).i64(e.TPOTUs).i64(e.MaxHeldChars)
}

// Trailing segments after the version 2 fields. Each starts with its tag;
// a later segment gets a higher tag and follows the earlier ones.
const segDetectors = 0x01

// Bits of the detectors segment's presence byte.
const (
	detInjection = 1 << 0
	detTopic     = 1 << 1
	detKnown     = detInjection | detTopic
)

// detectors appends the detector verdicts as an optional trailing segment,
// shared by the hash and the spool encoding. It appends nothing when no
// detector ran, so such an event hashes exactly as "ward-audit-v2" did
// before the segment existed. The encoding stays unambiguous: the fields
// before it are fixed-width or length-prefixed, so where they end is fixed
// by their content, and the segment (tag, presence bits, then only the
// present verdicts, each fixed-width or length-prefixed) either is absent
// or adds at least two bytes. Scores are float32 bits, big-endian.
func (b hashBuf) detectors(e *Event) hashBuf {
	if e.Injection == nil && e.Topic == nil {
		return b
	}
	var present byte
	if e.Injection != nil {
		present |= detInjection
	}
	if e.Topic != nil {
		present |= detTopic
	}
	b = append(b, segDetectors, present)
	if in := e.Injection; in != nil {
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(in.Score))
		b = binary.AppendUvarint(b, uint64(len(in.Rules)))
		for _, r := range in.Rules {
			b = b.str(r)
		}
	}
	if t := e.Topic; t != nil {
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(t.InScope))
		b = b.str(t.Nearest)
		directive := byte(0)
		if t.Directive {
			directive = 1
		}
		b = append(b, directive)
	}
	return b
}

// Chain seals events into one writer's hash chain. Not safe for concurrent use.
type Chain struct {
	WriterID uuid.UUID
	Seq      uint64 // seq of the last sealed event
	Last     string // hash of the last sealed event
	scratch  []byte
}

// Seal assigns the event its place in the chain and computes its hashes.
func (c *Chain) Seal(e *Event) {
	if e.ID == uuid.Nil {
		e.ID = uuid.Must(uuid.NewV7())
	}
	e.normalise()
	c.Seq++
	e.WriterID = c.WriterID
	e.Seq = c.Seq
	e.PrevHash = c.Last
	e.ContentHash, c.scratch = ComputeContentHash(e, c.scratch)
	e.Hash, c.scratch = ComputeHash(e, c.scratch)
	c.Last = e.Hash
}
