package extproc

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/wardhq/ward/extproc/llm"
)

// StreamScanner finds identifiers in text that arrives in pieces and
// releases text only once it is known to be safe (policy/phi's Stream).
type StreamScanner interface {
	// Write adds text and returns the prefix of the held text that may be
	// released now, with the findings in it (offsets relative to the
	// returned string, Part and Choice unset).
	Write(text string) (string, []Finding)
	// Flush releases everything still held.
	Flush() (string, []Finding)
}

// StreamScannerFactory is implemented by a Detector that can scan streamed
// output in flight. holdBackChars bounds the text held back per stream.
type StreamScannerFactory interface {
	NewStreamScanner(holdBackChars int) StreamScanner
}

// ChunkDecider is optionally implemented by a Decider that can show the
// policy the newest streamed text (input.output.delta) at response_chunk.
type ChunkDecider interface {
	DecideChunk(ctx context.Context, ix *Interaction, delta string) (Decision, error)
}

// streamKey names one reassembled text: a choice/output/block's text, or
// one tool call's arguments.
type streamKey struct {
	kind  llm.DeltaKind // DeltaText or DeltaToolArguments
	index int
	tool  int
}

// streamText is the guard's state for one key.
type streamText struct {
	key    streamKey
	choice int // Response.Choices index for text keys, -1 for tools
	sc     StreamScanner
	orig   []byte // everything the upstream sent for this key
	rel    int    // bytes of orig released by the scanner
	deliv  []byte // what the client received (redacted)
	since  time.Time
	// tmpl is a copy of the last delta event for this key, re-used to
	// carry flushed text; tspans are its delta spans, tself the one of
	// this key.
	tmpl   llm.SSEEvent
	tspans []llm.Edit
	tself  int
	hasT   bool
}

// streamRelease is text the scanner released, waiting for the chunk's
// policy decision before it is redacted and rendered.
type streamRelease struct {
	key  *streamText
	text string
	fs   []Finding
	fidx int // index of fs[0] in Interaction.OutputFindings
}

// streamDelta is one delta string of an event being rendered.
type streamDelta struct {
	span llm.Edit // Start/End in ev.Data; NewText unused
	orig string   // the upstream's string (for DeltaFinal look-up)
	rel  int      // index into g.rels, or -1 (DeltaFinal / not scanned)
	fin  bool
}

// streamPiece is one unit of output for the current body chunk.
type streamPiece struct {
	ev     llm.SSEEvent // aliases the decoder buffer until the next Feed
	raw    bool         // forward ev.Raw as is
	d0, d1 int          // deltas[d0:d1]
	flush  int          // >= 0: a synthetic event carrying rels[flush]
}

type guardState uint8

const (
	guardActive guardState = iota
	guardPass              // stopped interpreting (fail-open): bytes pass unchanged
	guardEnded             // Ward ended the stream; the rest is dropped
)

// streamGuard scans and rewrites one STREAMED text/event-stream response:
// per body chunk it decodes complete events, feeds text and tool-argument
// deltas per key to a streaming scanner, asks the policy once about the
// newly released text, then re-serialises the events with the released,
// redacted text. Bytes of an incomplete event wait for the next chunk.
type streamGuard struct {
	w        *wardProcessor
	scan     StreamScannerFactory
	holdBack int
	holdMs   time.Duration

	dec   *llm.SSEDecoder
	asm   *llm.StreamAssembler
	state guardState
	// observe: nothing scans or decides per chunk (no PHI engine, a
	// Decider without response_chunk support): bytes pass unchanged and
	// the events are only followed for audit.
	observe bool

	keys     []*streamText
	origLen  []int // per choice: original bytes released so far
	delivLen [][]byte
	// delivSpan[i] is the delivered span of OutputFindings[foff+i].
	foff      int
	delivSpan [][2]int

	// trig is set when the request decision asked for on_findings with
	// response_triggers: chunks without findings are then decided when a
	// trigger occurs in their window.
	trig *triggerScan

	pieces []streamPiece
	deltas []streamDelta
	rels   []streamRelease
	out    []byte
	edits  []llm.Edit

	firstTok, lastTok time.Time
	textEvents        int
	settled           bool
}

func (w *wardProcessor) newStreamGuard() *streamGuard {
	g := &streamGuard{
		w:        w,
		holdBack: w.cfg().PHI.HoldBackChars,
		holdMs:   time.Duration(w.cfg().PHI.HoldBackMs) * time.Millisecond,
		dec:      llm.NewSSEDecoder(0),
		asm:      llm.NewStreamAssembler(w.ix.Endpoint),
		foff:     len(w.ix.OutputFindings),
	}
	for _, d := range w.p.Detectors {
		if f, ok := d.(StreamScannerFactory); ok {
			g.scan = f
			break
		}
	}
	if triggers, window := w.ix.responseTriggers(); len(triggers) > 0 {
		g.trig = newTriggerScan(triggers, window)
	}
	_, chunkPolicy := w.p.Decider.(ChunkDecider)
	g.observe = g.scan == nil && !chunkPolicy
	return g
}

// body handles one STREAMED response body chunk; it always returns exactly
// one response (Envoy's STREAMED contract).
func (g *streamGuard) body(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	in, eos := b.GetBody(), b.GetEndOfStream()
	var resp *extprocv3.ProcessingResponse
	switch g.state {
	case guardPass:
		resp = responseBodyResponse(&extprocv3.CommonResponse{})
	case guardEnded:
		resp = g.replace(in, nil)
	default:
		if g.observe {
			g.follow(in, eos)
			resp = responseBodyResponse(&extprocv3.CommonResponse{})
			break
		}
		out := g.process(ctx, in, eos)
		resp = g.replace(in, out)
	}
	if eos {
		g.settle()
		g.w.finish(ctx)
	}
	return resp
}

// follow reads the events for audit only.
func (g *streamGuard) follow(in []byte, eos bool) {
	g.dec.Feed(in)
	if eos {
		g.dec.Close()
	}
	for {
		ev, ok, err := g.dec.Next()
		if err == nil && ok {
			if ev.HasData {
				g.w.ix.StreamEvents++
			}
			_, err = g.asm.Consume(&ev)
		}
		if err != nil {
			g.w.p.Metrics.BadInput("sse_malformed")
			g.w.ix.Err = err
			g.state = guardPass // keep streaming the bytes; stop interpreting them
			return
		}
		if !ok {
			return
		}
	}
}

// replace answers a chunk with out, or with no mutation when out equals in.
func (g *streamGuard) replace(in, out []byte) *extprocv3.ProcessingResponse {
	if bytes.Equal(in, out) {
		return responseBodyResponse(&extprocv3.CommonResponse{})
	}
	bm := &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}}
	if len(out) > 0 {
		bm.Mutation = &extprocv3.BodyMutation_Body{Body: bytes.Clone(out)}
	}
	return responseBodyResponse(&extprocv3.CommonResponse{BodyMutation: bm})
}

// process runs one chunk: decode and scan (pass 1), decide, render (pass 2).
func (g *streamGuard) process(ctx context.Context, in []byte, eos bool) []byte {
	ix := g.w.ix
	g.pieces, g.deltas, g.rels, g.out = g.pieces[:0], g.deltas[:0], g.rels[:0], g.out[:0]
	g.dec.Feed(in)
	if eos {
		g.dec.Close()
	}
	var failure error
	var rest []byte // bytes to forward unparsed after a fail-open failure
	for {
		ev, ok, err := g.dec.Next()
		if err != nil {
			// Only an event above the decoder limit: its earlier bytes were
			// held and cannot be forwarded, so the stream ends on every
			// profile.
			g.w.p.Metrics.BadInput("sse_event_too_large")
			ix.Err = err
			return g.terminate(ctx, http.StatusBadGateway, "upstream_stream_invalid", "the provider's stream could not be inspected")
		}
		if !ok {
			break
		}
		if ev.Incomplete {
			// The last block has no blank line: held text goes before it,
			// or it would be appended to that block.
			g.flushAll()
		}
		if err := g.consume(&ev); err != nil {
			g.w.p.Metrics.BadInput("sse_malformed")
			ix.Err = err
			if !ix.Profile.FailOpen {
				return g.terminate(ctx, http.StatusBadGateway, "upstream_stream_invalid", "the provider's stream could not be inspected")
			}
			// Fail open: what was scanned goes out, then this event and
			// everything after it unchanged.
			failure = err
			rest = append(append([]byte(nil), ev.Raw...), in[len(in)-min(g.dec.Buffered(), len(in)):]...)
			break
		}
	}
	if failure != nil || eos {
		g.flushAll()
	}
	held := 0
	for _, k := range g.keys {
		held += utf8.RuneCount(k.orig[k.rel:])
	}
	ix.MaxHeldChars = max(ix.MaxHeldChars, held)

	dec := Decision{Allow: true}
	if g.needsDecision() {
		var denial []byte
		if dec, denial = g.decide(ctx); denial != nil {
			return denial
		}
	}
	g.render(dec)
	if failure != nil {
		g.state = guardPass
		g.out = append(g.out, rest...)
	}
	return g.out
}

// needsDecision reports whether this chunk's released text needs a
// response_chunk decision. The request decision's response_checks says what
// the policy's chunk decision depends on: every chunk with new text (the
// default), only chunks whose text holds findings (the decision is then a
// function of the findings, and text without them passes unchanged) —
// or, with response_triggers, also chunks with a trigger in their window
// (phrase checks on a patient-facing app) — or none at all.
func (g *streamGuard) needsDecision() bool {
	checks := g.w.ix.responseChecks()
	released, findings := false, false
	for _, r := range g.rels {
		if r.text != "" {
			released = true
			findings = findings || len(r.fs) > 0
		}
	}
	switch {
	case !released || checks == ResponseChecksNone:
		return false
	case checks != ResponseChecksOnFindings || findings:
		return true
	case g.trig == nil:
		return false
	case g.trig.fired(g.asm):
		return true
	}
	// No trigger: the policy promised this chunk's decision is an allow,
	// as if it had been taken, so the next window starts here.
	g.trig.advance(g.asm)
	return false
}

// consume interprets one event and queues its output piece.
func (g *streamGuard) consume(ev *llm.SSEEvent) error {
	ch, err := g.asm.Consume(ev)
	if err != nil {
		return err
	}
	if ev.HasData {
		g.w.ix.StreamEvents++
	}
	switch {
	case ch.Kind == llm.StreamEmpty || ch.Kind == llm.StreamUnknown:
		g.pieces = append(g.pieces, streamPiece{ev: *ev, raw: true, flush: -1})
		return nil
	case g.closes(ev, ch):
		g.flushAll()
	}
	d0 := len(g.deltas)
	now := g.w.now()
	// A chat chunk may carry the last delta and finish_reason together:
	// the choice's held text must go out in this very event.
	finishing := g.w.ix.Endpoint == llm.EndpointChatCompletions && bytes.Contains(ev.Data, finishReason)
	for _, d := range ch.Deltas {
		sd := streamDelta{span: llm.Edit{Start: d.Start, End: d.End}, orig: d.Text, rel: -1}
		switch d.Kind {
		case llm.DeltaText, llm.DeltaToolArguments:
			k := g.key(d)
			g.setTemplate(k, ev, ch.Deltas, d)
			if len(k.orig) == k.rel {
				k.since = now
			}
			k.orig = append(k.orig, d.Text...)
			text, fs := k.write(d.Text)
			if k.sc != nil && len(k.orig) > k.rel+len(text) && (finishing || g.holdMs > 0 && now.Sub(k.since) > g.holdMs) {
				t2, f2 := k.sc.Flush()
				text, fs = g.joinFlush(text, fs, t2, f2)
			}
			sd.rel = g.release(k, text, fs)
		case llm.DeltaFinal:
			sd.fin = true
		default:
			// Reasoning text is shown by some clients but not scanned yet
			// (docs/streaming.md, gaps).
			continue
		}
		g.deltas = append(g.deltas, sd)
	}
	if len(g.deltas) == d0 {
		g.pieces = append(g.pieces, streamPiece{ev: *ev, raw: true, flush: -1})
		return nil
	}
	g.pieces = append(g.pieces, streamPiece{ev: *ev, d0: d0, d1: len(g.deltas), flush: -1})
	return nil
}

var finishReason = []byte(`"finish_reason":"`)

// closes reports whether ev ends text (finish, block stop, done, error, a
// final repeat of the text): held text is flushed before it goes out.
func (g *streamGuard) closes(ev *llm.SSEEvent, ch llm.StreamChunk) bool {
	switch ch.Kind {
	case llm.StreamDone, llm.StreamError:
		return true
	case llm.StreamOther:
		switch ev.Event {
		case "ping", "response.created", "response.in_progress", "content_block_start",
			"response.output_item.added", "response.content_part.added":
			return false
		}
		return true
	case llm.StreamDelta:
		for _, d := range ch.Deltas {
			if d.Kind == llm.DeltaFinal {
				return true
			}
		}
	}
	return false
}

func (g *streamGuard) key(d llm.Delta) *streamText {
	sk := streamKey{kind: d.Kind, index: d.Index, tool: d.ToolIndex}
	for _, k := range g.keys {
		if k.key == sk {
			return k
		}
	}
	k := &streamText{key: sk, choice: -1}
	if d.Kind == llm.DeltaText {
		k.choice = 0
		if g.w.ix.Endpoint == llm.EndpointChatCompletions {
			k.choice = d.Index
		}
		for len(g.origLen) <= k.choice {
			g.origLen = append(g.origLen, 0)
			g.delivLen = append(g.delivLen, nil)
		}
	}
	if g.scan != nil {
		k.sc = g.scan.NewStreamScanner(g.holdBack)
	}
	g.keys = append(g.keys, k)
	return k
}

// write feeds the key's scanner (text passes as is without one).
func (k *streamText) write(s string) (string, []Finding) {
	if k.sc == nil {
		return s, nil
	}
	return k.sc.Write(s)
}

// setTemplate remembers ev as the event that carries this key's flushed
// text later. Only real delta events qualify (not a block start).
func (g *streamGuard) setTemplate(k *streamText, ev *llm.SSEEvent, all []llm.Delta, self llm.Delta) {
	switch ev.Event {
	case "content_block_start", "response.output_item.added", "response.content_part.added":
		return
	}
	// Reuse the key's buffers: ev aliases the decoder's buffer.
	raw, data := k.tmpl.Raw, k.tmpl.Data
	k.tmpl = *ev
	k.tmpl.Raw = append(raw[:0], ev.Raw...)
	k.tmpl.Data = append(data[:0], ev.Data...)
	k.tspans = k.tspans[:0]
	for _, d := range all {
		if d.Start == self.Start {
			k.tself = len(k.tspans)
		}
		k.tspans = append(k.tspans, llm.Edit{Start: d.Start, End: d.End})
	}
	k.hasT = true
}

func (g *streamGuard) joinFlush(t1 string, f1 []Finding, t2 string, f2 []Finding) (string, []Finding) {
	fs := append([]Finding(nil), f1...)
	for _, f := range f2 {
		f.Start += len(t1)
		f.End += len(t1)
		fs = append(fs, f)
	}
	return t1 + t2, fs
}

// release records released text and its findings (added to the
// interaction now, so the chunk's policy decision sees them).
func (g *streamGuard) release(k *streamText, text string, fs []Finding) int {
	ix := g.w.ix
	r := streamRelease{key: k, text: text, fidx: len(ix.OutputFindings)}
	base := 0
	if k.choice >= 0 {
		base = g.origLen[k.choice]
		g.origLen[k.choice] += len(text)
	}
	for _, f := range fs {
		f.Part, f.Choice = -1, k.choice
		f.Start += base
		f.End += base
		ix.OutputFindings = append(ix.OutputFindings, f)
	}
	if len(fs) > 0 {
		r.fs = append([]Finding(nil), fs...)
	}
	k.rel += len(text)
	g.rels = append(g.rels, r)
	return len(g.rels) - 1
}

// flushAll releases every key's held text as synthetic delta events
// placed before the event being consumed.
func (g *streamGuard) flushAll() {
	for _, k := range g.keys {
		if k.sc == nil || k.rel == len(k.orig) {
			continue
		}
		text, fs := k.sc.Flush()
		ri := g.release(k, text, fs)
		k.rel = len(k.orig)
		g.pieces = append(g.pieces, streamPiece{flush: ri})
	}
}

// decide asks the policy about the text released in this chunk. A non-nil
// result is the stream's last bytes (a denial or a fail-closed error).
func (g *streamGuard) decide(ctx context.Context) (Decision, []byte) {
	w, ix := g.w, g.w.ix
	if w.p.Decider == nil {
		return Decision{Allow: true}, nil
	}
	var delta strings.Builder
	for _, r := range g.rels {
		if r.key.choice >= 0 {
			delta.WriteString(r.text)
		}
	}
	ix.Response = g.asm.Response()
	ix.OutputWindowFrom = 0
	if g.trig != nil && g.asm.Texts() > 0 {
		ix.OutputWindowFrom = g.trig.windowFrom(0, g.asm.Text(0))
	}
	span := w.stageSpan("ward.policy")
	var dec Decision
	var err error
	if cd, ok := w.p.Decider.(ChunkDecider); ok {
		dec, err = cd.DecideChunk(ctx, ix, delta.String())
	} else {
		dec, err = w.p.Decider.Decide(ctx, PhaseResponseChunk, ix)
	}
	ix.ChunkDecisions++
	span.End()
	if err != nil {
		var open bool
		if dec, open = w.policyFailed(err); !open {
			return Decision{}, g.terminate(ctx, http.StatusServiceUnavailable, "policy_error", "the gateway's policy could not be evaluated; response stopped")
		}
	}
	ix.ResponseDecision = &dec
	if g.trig != nil && err == nil && dec.Allow {
		// The policy saw the text so far and allowed it: later windows
		// start here. Not after a fail-open error, which decided nothing.
		g.trig.advance(g.asm)
	}
	if !dec.Allow {
		return dec, g.terminate(ctx, orZero(dec.Status, http.StatusForbidden), orDefault(dec.ReasonCode, "policy_denied"), orDefault(dec.ReasonMessage, "response stopped by policy"))
	}
	return dec, nil
}

// terminate ends the stream: the provider-shaped error event, then the
// dialect's terminator; later chunks are dropped. Nothing of the current
// chunk's new text is sent.
func (g *streamGuard) terminate(_ context.Context, status int, code, message string) []byte {
	ix := g.w.ix
	g.state = guardEnded
	ix.Outcome, ix.ReasonCode = "deny", code
	if code == "policy_error" || code == "upstream_stream_invalid" {
		ix.Outcome = "error"
	}
	g.out = append(g.out[:0], llm.StreamErrorEvent(ix.Endpoint, status, code, message)...)
	return append(g.out, llm.StreamTerminator(ix.Endpoint)...)
}

// render writes the chunk's pieces with released text redacted per the
// decision's rules.
func (g *streamGuard) render(dec Decision) {
	out := g.out
	for i := range g.pieces {
		p := &g.pieces[i]
		switch {
		case p.flush >= 0:
			out = g.renderFlush(out, p.flush, dec)
		case p.raw:
			out = append(out, p.ev.Raw...)
		default:
			out = g.renderEvent(out, p, dec)
		}
	}
	g.out = out
}

func (g *streamGuard) renderEvent(out []byte, p *streamPiece, dec Decision) []byte {
	g.edits = g.edits[:0]
	changed := false
	for _, d := range g.deltas[p.d0:p.d1] {
		e := d.span
		switch {
		case d.rel >= 0:
			e.NewText = g.deliver(d.rel, dec)
		case d.fin:
			e.NewText = g.final(d.orig, dec)
		}
		if e.NewText != d.orig {
			changed = true
		}
		g.edits = append(g.edits, e)
	}
	g.emitted(g.deltas[p.d0:p.d1])
	if !changed {
		return append(out, p.ev.Raw...)
	}
	b, err := llm.RewriteEvent(&p.ev, g.edits)
	if err != nil {
		// Spans come from the assembler, so this is a bug; never forward
		// the unredacted original.
		g.w.ix.Err = err
		return out
	}
	return append(out, b...)
}

// renderFlush emits held text in a copy of the key's last delta event
// (other deltas in it emptied), or a minimal event of the dialect.
func (g *streamGuard) renderFlush(out []byte, ri int, dec Decision) []byte {
	k := g.rels[ri].key
	text := g.deliver(ri, dec)
	if text == "" {
		return out
	}
	g.markToken()
	if k.hasT {
		g.edits = g.edits[:0]
		for i, s := range k.tspans {
			if i == k.tself {
				s.NewText = text
			}
			g.edits = append(g.edits, s)
		}
		if b, err := llm.RewriteEvent(&k.tmpl, g.edits); err == nil {
			return append(out, b...)
		}
	}
	return appendSyntheticDelta(out, g.w.ix.Endpoint, k.key, text)
}

// deliver redacts released text with the decision's rules and appends it
// to what the client received.
func (g *streamGuard) deliver(ri int, dec Decision) string {
	r := &g.rels[ri]
	k := r.key
	text := r.text
	if len(r.fs) > 0 && len(dec.Redact) > 0 {
		text = g.redact(r, dec.Redact)
	} else if len(r.fs) > 0 && k.choice >= 0 {
		for i, f := range r.fs {
			g.setDelivSpan(r.fidx+i, len(g.delivLen[k.choice])+f.Start, len(g.delivLen[k.choice])+f.End)
		}
	}
	k.deliv = append(k.deliv, text...)
	if k.choice >= 0 {
		g.delivLen[k.choice] = append(g.delivLen[k.choice], text...)
	}
	return text
}

func (g *streamGuard) redact(r *streamRelease, rules []RedactRule) string {
	w, k := g.w, r.key
	var b strings.Builder
	base := 0
	if k.choice >= 0 {
		base = len(g.delivLen[k.choice])
	}
	pos := 0
	for i, f := range r.fs {
		if f.Start < pos || f.End > len(r.text) {
			continue
		}
		b.WriteString(r.text[pos:f.Start])
		value := r.text[f.Start:f.End]
		if ruleFor(rules, f.Type) != nil {
			red, reds := w.redactor().Redact(value, []Finding{{Type: f.Type, Part: -1, Choice: k.choice, Start: 0, End: len(value), Score: f.Score}}, rules)
			for j := range reds {
				reds[j].Phase = PhaseResponseChunk
			}
			w.ix.Redactions = append(w.ix.Redactions, reds...)
			value = red
		}
		if k.choice >= 0 {
			g.setDelivSpan(r.fidx+i, base+b.Len(), base+b.Len()+len(value))
		}
		b.WriteString(value)
		pos = f.End
	}
	b.WriteString(r.text[pos:])
	return b.String()
}

func (g *streamGuard) setDelivSpan(fi, start, end int) {
	i := fi - g.foff
	for len(g.delivSpan) <= i {
		g.delivSpan = append(g.delivSpan, [2]int{-1, -1})
	}
	g.delivSpan[i] = [2]int{start, end}
}

// final returns the delivered form of a complete text the upstream
// repeats in a closing event (OpenAI Responses *.done, response.completed).
func (g *streamGuard) final(orig string, dec Decision) string {
	for _, k := range g.keys {
		if k.rel == len(k.orig) && string(k.orig) == orig {
			return string(k.deliv)
		}
	}
	if g.scan == nil || orig == "" {
		return orig
	}
	// Not a text Ward streamed (e.g. several parts joined): scan it whole.
	sc := g.scan.NewStreamScanner(0)
	t1, f1 := sc.Write(orig)
	t2, f2 := sc.Flush()
	text, fs := g.joinFlush(t1, f1, t2, f2)
	if len(fs) == 0 || len(dec.Redact) == 0 {
		return text
	}
	tmp := streamRelease{key: &streamText{choice: -1}, text: text, fs: fs}
	return g.redact(&tmp, dec.Redact)
}

// emitted notes time to first token and output pacing.
func (g *streamGuard) emitted(ds []streamDelta) {
	for _, d := range ds {
		if d.rel >= 0 && g.rels[d.rel].text != "" {
			g.markToken()
			return
		}
	}
}

func (g *streamGuard) markToken() {
	now := g.w.now()
	if g.firstTok.IsZero() {
		g.firstTok = now
	}
	g.lastTok = now
	g.textEvents++
}

// settle puts what the client received into the interaction for audit:
// Response holds the delivered text and tool arguments, and output
// findings point into that text (a redacted one at its replacement).
func (g *streamGuard) settle() {
	if g.settled {
		return
	}
	g.settled = true
	ix := g.w.ix
	r := g.asm.Response()
	ix.UnknownEvents = g.asm.Unknown()
	g.w.p.Metrics.unknownEvents.WithLabelValues(string(ix.Endpoint)).Add(float64(ix.UnknownEvents))
	if g.observe {
		ix.Response = r
		return
	}
	orig := r.ToolCalls
	r.ToolCalls = make([]llm.ToolCall, len(orig))
	used := make([]bool, len(g.keys))
	for i, tc := range orig {
		r.ToolCalls[i] = tc
		for j, k := range g.keys {
			if !used[j] && k.choice < 0 && string(k.orig) == tc.Arguments {
				used[j] = true
				r.ToolCalls[i].Arguments = string(k.deliv)
				break
			}
		}
	}
	for c := range r.Choices {
		if c < len(g.delivLen) {
			r.Choices[c] = string(g.delivLen[c])
		} else {
			r.Choices[c] = ""
		}
	}
	for i := g.foff; i < len(ix.OutputFindings); i++ {
		f := &ix.OutputFindings[i]
		if f.Choice < 0 {
			continue
		}
		s := [2]int{-1, -1}
		if j := i - g.foff; j < len(g.delivSpan) {
			s = g.delivSpan[j]
		}
		if s[0] < 0 {
			f.Choice = -1 // scanned, never delivered (the stream was stopped)
			continue
		}
		f.Start, f.End = s[0], s[1]
	}
	ix.Response = r
	if !g.firstTok.IsZero() {
		ix.TTFT = g.firstTok.Sub(ix.StreamStart)
		n := int64(g.textEvents)
		if r.Usage.Present && r.Usage.OutputTokens > 0 {
			n = r.Usage.OutputTokens
		}
		if n > 1 {
			ix.TimePerOutputToken = g.lastTok.Sub(g.firstTok) / time.Duration(n-1)
		}
	}
}

// abort records what was delivered when the stream ends early (client
// cancel, upstream reset).
func (g *streamGuard) abort() {
	g.settle()
}

// appendSyntheticDelta writes a minimal delta event of the dialect, for
// held text of a key that never had a delta event to copy.
func appendSyntheticDelta(out []byte, ep llm.Endpoint, k streamKey, text string) []byte {
	idx := strconv.Itoa(k.index)
	switch ep {
	case llm.EndpointMessages:
		out = append(out, `event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":`...)
		out = append(out, idx...)
		if k.kind == llm.DeltaToolArguments {
			out = append(out, `,"delta":{"type":"input_json_delta","partial_json":`...)
		} else {
			out = append(out, `,"delta":{"type":"text_delta","text":`...)
		}
		out = llm.AppendJSONString(out, text)
		return append(out, "}}\n\n"...)
	case llm.EndpointResponses:
		typ := "response.output_text.delta"
		if k.kind == llm.DeltaToolArguments {
			typ = "response.function_call_arguments.delta"
		}
		out = append(out, "event: "+typ+"\n"+`data: {"type":"`+typ+`","output_index":`...)
		out = append(out, idx...)
		out = append(out, `,"content_index":0,"delta":`...)
		out = llm.AppendJSONString(out, text)
		return append(out, "}\n\n"...)
	}
	out = append(out, `data: {"object":"chat.completion.chunk","choices":[{"index":`...)
	out = append(out, idx...)
	if k.kind == llm.DeltaToolArguments {
		out = append(out, `,"delta":{"tool_calls":[{"index":`...)
		out = append(out, strconv.Itoa(max(k.tool, 0))...)
		out = append(out, `,"function":{"arguments":`...)
		out = llm.AppendJSONString(out, text)
		return append(out, "}}]},\"finish_reason\":null}]}\n\n"...)
	}
	out = append(out, `,"delta":{"content":`...)
	out = llm.AppendJSONString(out, text)
	return append(out, "},\"finish_reason\":null}]}\n\n"...)
}
