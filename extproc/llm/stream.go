package llm

import (
	"fmt"
)

// DeltaKind says what a streamed text fragment is.
type DeltaKind uint8

const (
	DeltaText          DeltaKind = iota // output text (or refusal)
	DeltaToolArguments                  // a fragment of tool-call arguments
	DeltaReasoning                      // thinking / reasoning text shown to the client
	// DeltaFinal is a complete text repeated in a closing event (OpenAI
	// Responses *.done and response.completed): not accumulated, but it
	// reaches the client, so a redactor must rewrite it too.
	DeltaFinal
)

// Delta is one text fragment inside a streamed event.
type Delta struct {
	Kind DeltaKind
	// Index is the choice index (chat), output_index (Responses) or content
	// block index (Anthropic).
	Index int
	// ToolIndex is the chat tool_calls[].index for tool deltas, else -1.
	ToolIndex int
	Text      string
	// Start and End span the JSON string literal in SSEEvent.Data (quotes
	// included): pass them as Edits to RewriteEvent.
	Start, End int
}

// StreamEventKind classifies a consumed event.
type StreamEventKind uint8

const (
	StreamOther   StreamEventKind = iota // known event carrying no text (role chunk, ping, block stop, ...)
	StreamDelta                          // carries Deltas
	StreamDone                           // terminal event: [DONE], message_stop, response.completed/incomplete
	StreamError                          // provider error event (Response().Error has the message)
	StreamUnknown                        // not recognised; pass it through untouched (counted)
	StreamEmpty                          // no data: comments, keep-alives, retry-only blocks
)

// StreamChunk is what one event contributed.
type StreamChunk struct {
	Kind StreamEventKind
	// Deltas is valid until the next Consume.
	Deltas []Delta
}

// StreamAssembler turns the events of one streamed response into text
// deltas and, at the end, the assembled Response. Invalid UTF-8 in event
// JSON is replaced by U+FFFD, as in ParseResponse.
type StreamAssembler struct {
	endpoint Endpoint
	resp     Response
	texts    [][]byte
	tools    []toolAcc
	pending  []toolMeta
	deltas   []Delta
	unknown  int
	events   int
	done     bool
	typBuf   [64]byte
}

type toolAcc struct {
	a, b     int // (choice, tool index) / (output_index, 0) / (block index, 0)
	id, name string
	args     []byte
}

type toolMeta struct {
	ti       int
	id, name string
}

// maxIndex bounds choice/block indices taken from the stream.
const maxIndex = 1024

// NewStreamAssembler returns an assembler for the endpoint's stream dialect.
func NewStreamAssembler(endpoint Endpoint) *StreamAssembler {
	return &StreamAssembler{endpoint: endpoint}
}

// Unknown reports how many events were not recognised.
func (a *StreamAssembler) Unknown() int { return a.unknown }

// Events reports how many events with data were consumed.
func (a *StreamAssembler) Events() int { return a.events }

// Done reports whether a terminal event has been seen.
func (a *StreamAssembler) Done() bool { return a.done }

// Consume interprets one event. A data payload that is not valid JSON is an
// error (wrapping ErrMalformed); the caller decides whether to pass the event
// through or end the stream.
func (a *StreamAssembler) Consume(ev *SSEEvent) (StreamChunk, error) {
	a.deltas = a.deltas[:0]
	if !ev.HasData {
		return StreamChunk{Kind: StreamEmpty}, nil
	}
	a.events++
	s := scanner{b: ev.Data}
	var kind StreamEventKind
	switch a.endpoint {
	case EndpointChatCompletions:
		if string(bytesTrimSpace(ev.Data)) == "[DONE]" {
			a.done = true
			return StreamChunk{Kind: StreamDone}, nil
		}
		kind = a.chatChunk(&s)
	case EndpointResponses:
		kind = a.responsesEvent(&s, ev.Event)
	case EndpointMessages:
		kind = a.anthropicEvent(&s, ev.Event)
	default:
		return StreamChunk{}, fmt.Errorf("%w: %q", ErrUnsupportedEndpoint, a.endpoint)
	}
	s.end()
	if s.err != nil {
		a.deltas = a.deltas[:0]
		return StreamChunk{}, s.err
	}
	switch kind {
	case StreamUnknown:
		a.unknown++
	case StreamDone:
		a.done = true
	case StreamOther:
		if len(a.deltas) > 0 {
			kind = StreamDelta
		}
	}
	return StreamChunk{Kind: kind, Deltas: a.deltas}, nil
}

func bytesTrimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// Texts reports how many output texts (Response().Choices) there are so far.
func (a *StreamAssembler) Texts() int { return len(a.texts) }

// Text returns output text i as assembled so far, the bytes that become
// Response().Choices[i], without copying: read it before the next Consume.
func (a *StreamAssembler) Text(i int) []byte {
	if i < 0 || i >= len(a.texts) {
		return nil
	}
	return a.texts[i]
}

// Response returns the assembled response so far (a fresh copy).
func (a *StreamAssembler) Response() *Response {
	r := a.resp
	r.Choices = make([]string, len(a.texts))
	for i, t := range a.texts {
		r.Choices[i] = string(t)
	}
	r.ToolCalls = make([]ToolCall, 0, len(a.tools))
	for _, t := range a.tools {
		r.ToolCalls = append(r.ToolCalls, ToolCall{ID: t.id, Name: t.name, Arguments: string(t.args)})
	}
	return &r
}

func (a *StreamAssembler) text(i int) *[]byte {
	if i < 0 || i >= maxIndex {
		i = 0
	}
	for len(a.texts) <= i {
		a.texts = append(a.texts, nil)
	}
	return &a.texts[i]
}

func (a *StreamAssembler) tool(x, y int) *toolAcc {
	for i := range a.tools {
		if a.tools[i].a == x && a.tools[i].b == y {
			return &a.tools[i]
		}
	}
	if len(a.tools) >= maxIndex {
		return &a.tools[len(a.tools)-1]
	}
	a.tools = append(a.tools, toolAcc{a: x, b: y})
	return &a.tools[len(a.tools)-1]
}

func (a *StreamAssembler) addDelta(s *scanner, kind DeltaKind, index, toolIndex int) {
	if s.peek() != '"' {
		// null, or a non-text payload (e.g. an object) of an event we do
		// not interpret: validate and move on.
		s.skip()
		return
	}
	t, start, end := s.str()
	if s.err == nil {
		a.deltas = append(a.deltas, Delta{Kind: kind, Index: index, ToolIndex: toolIndex, Text: t, Start: start, End: end})
	}
}

// accumulate adds deltas[first:] to the assembled text and tool calls.
func (a *StreamAssembler) accumulate(first int) {
	for _, d := range a.deltas[first:] {
		switch d.Kind {
		case DeltaText:
			t := a.text(d.Index)
			*t = append(*t, d.Text...)
		case DeltaToolArguments:
			ti := max(d.ToolIndex, 0)
			t := a.tool(d.Index, ti)
			t.args = append(t.args, d.Text...)
		}
	}
}

// chatChunk handles one chat.completion.chunk (or an error object).
func (a *StreamAssembler) chatChunk(s *scanner) StreamEventKind {
	if s.peek() != '{' {
		s.shapeErr("chunk object")
		return StreamOther
	}
	kind := StreamOther
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "id":
			a.setOnce(&a.resp.ID, s)
		case "model":
			a.setOnce(&a.resp.Model, s)
		case "usage":
			var u Usage
			parseUsage(s, &u)
			if u.Present {
				a.resp.Usage = u
			}
		case "error":
			if msg := errorObject(s); msg != "" {
				a.resp.Error = msg
				kind = StreamError
			}
		case "choices":
			if s.peek() != '[' {
				s.shapeErr("array of choices")
				return kind
			}
			pos := 0
			for ok := s.arrStart(); ok; ok = s.arrNext() {
				a.chatChoice(s, pos)
				pos++
			}
		default:
			s.skip()
		}
	}
	return kind
}

func (a *StreamAssembler) setOnce(dst *string, s *scanner) {
	if *dst == "" {
		*dst = s.optStr()
	} else {
		s.skip()
	}
}

func (a *StreamAssembler) chatChoice(s *scanner, pos int) {
	if s.peek() != '{' {
		s.shapeErr("choice object")
		return
	}
	first := len(a.deltas)
	a.pending = a.pending[:0]
	idx := pos
	var finish string
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "index":
			idx = int(s.integer())
		case "finish_reason":
			finish = s.optStr()
		case "delta", "message":
			if s.isNull() {
				continue
			}
			if s.peek() != '{' {
				s.shapeErr("delta object")
				return
			}
			for k, ok := s.objStart(); ok; k, ok = s.objNext() {
				switch string(k) {
				case "content", "refusal":
					a.addDelta(s, DeltaText, 0, -1)
				case "reasoning_content", "reasoning":
					a.addDelta(s, DeltaReasoning, 0, -1)
				case "tool_calls":
					a.chatToolDeltas(s)
				default:
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
	if idx < 0 || idx >= maxIndex {
		idx = pos
	}
	for i := first; i < len(a.deltas); i++ {
		a.deltas[i].Index = idx
	}
	for _, m := range a.pending {
		t := a.tool(idx, m.ti)
		if m.id != "" {
			t.id = m.id
		}
		if m.name != "" {
			t.name = m.name
		}
	}
	a.accumulate(first)
	if finish != "" && (idx == 0 || a.resp.FinishReason == "") {
		a.resp.FinishReason = finish
	}
}

func (a *StreamAssembler) chatToolDeltas(s *scanner) {
	if s.isNull() {
		return
	}
	if s.peek() != '[' {
		s.shapeErr("array of tool calls")
		return
	}
	pos := 0
	for ok := s.arrStart(); ok; ok = s.arrNext() {
		if s.peek() != '{' {
			s.shapeErr("tool call object")
			return
		}
		first := len(a.deltas)
		m := toolMeta{ti: pos}
		for k, ok := s.objStart(); ok; k, ok = s.objNext() {
			switch string(k) {
			case "index":
				m.ti = int(s.integer())
			case "id":
				m.id = s.optStr()
			case "function", "custom":
				if s.isNull() {
					continue
				}
				if s.peek() != '{' {
					s.shapeErr("function object")
					return
				}
				for k, ok := s.objStart(); ok; k, ok = s.objNext() {
					switch string(k) {
					case "name":
						m.name = s.optStr()
					case "arguments", "input":
						a.addDelta(s, DeltaToolArguments, 0, 0)
					default:
						s.skip()
					}
				}
			default:
				s.skip()
			}
		}
		if m.ti < 0 || m.ti >= maxIndex {
			m.ti = pos
		}
		for i := first; i < len(a.deltas); i++ {
			a.deltas[i].ToolIndex = m.ti
		}
		a.pending = append(a.pending, m)
		pos++
	}
}

// eventType reads the "type" member into a.typBuf.
func (a *StreamAssembler) eventType(s *scanner) []byte {
	t := s.tok()
	if len(t) > len(a.typBuf) {
		return t[:0]
	}
	return append(a.typBuf[:0], t...)
}

// responsesEvent handles one OpenAI Responses streaming event.
func (a *StreamAssembler) responsesEvent(s *scanner, event string) StreamEventKind {
	if s.peek() != '{' {
		s.shapeErr("event object")
		return StreamOther
	}
	var typ []byte
	outIdx := 0
	first := len(a.deltas)
	var item toolAcc
	var itemIsCall bool
	var errMsg, errCode string
	var nested Response
	hasNested := false
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "type":
			typ = a.eventType(s)
		case "output_index":
			outIdx = int(s.integer())
		case "delta":
			a.addDelta(s, DeltaText, 0, -1) // kind fixed below from the type
		case "text", "arguments", "refusal":
			a.addDelta(s, DeltaFinal, 0, -1)
		case "item":
			itemIsCall = a.responsesItem(s, &item)
		case "part":
			a.finalStrings(s)
		case "response":
			if s.peek() != '{' {
				s.skip()
				continue
			}
			p := respParser{s: scanner{b: s.b, i: s.i, depth: s.depth}, r: &nested}
			p.responses()
			// Texts in the nested response reach the client too.
			for _, part := range nested.Parts {
				a.deltas = append(a.deltas, Delta{Kind: DeltaFinal, ToolIndex: -1, Text: part.Text, Start: part.Start, End: part.End})
			}
			if p.s.err != nil {
				s.err = p.s.err
				s.i = len(s.b)
				return StreamOther
			}
			s.i = p.s.i
			hasNested = true
		case "code":
			errCode = s.optStr()
		case "message":
			errMsg = s.optStr()
		case "error":
			if m := errorObject(s); m != "" {
				errMsg = m
			}
		default:
			s.skip()
		}
	}
	if typ == nil {
		typ = append(a.typBuf[:0], event...)
	}
	for i := first; i < len(a.deltas); i++ {
		a.deltas[i].Index = outIdx
	}
	setKind := func(k DeltaKind) {
		for i := first; i < len(a.deltas); i++ {
			if a.deltas[i].Kind == DeltaText {
				a.deltas[i].Kind = k
			}
		}
	}
	kind := StreamOther
	switch string(typ) {
	case "response.output_text.delta", "response.refusal.delta":
		a.accumulateResponses(first)
	case "response.function_call_arguments.delta", "response.custom_tool_call_input.delta":
		setKind(DeltaToolArguments)
		a.accumulateResponses(first)
	case "response.reasoning_summary_text.delta", "response.reasoning_text.delta":
		setKind(DeltaReasoning)
	case "response.output_item.added", "response.output_item.done":
		if itemIsCall {
			t := a.tool(outIdx, 0)
			if item.id != "" {
				t.id = item.id
			}
			if item.name != "" {
				t.name = item.name
			}
		}
	case "response.created", "response.in_progress", "response.queued":
		a.mergeResponse(&nested, hasNested)
	case "response.completed", "response.incomplete":
		a.mergeResponse(&nested, hasNested)
		kind = StreamDone
	case "response.failed":
		a.mergeResponse(&nested, hasNested)
		if a.resp.Error == "" {
			a.resp.Error = "response failed"
		}
		kind = StreamError
	case "error":
		if errMsg == "" {
			errMsg = errCode
		}
		if errMsg == "" {
			errMsg = "unknown error"
		}
		a.resp.Error = errMsg
		kind = StreamError
	case "response.output_text.done", "response.function_call_arguments.done",
		"response.content_part.added", "response.content_part.done",
		"response.refusal.done", "response.output_text.annotation.added",
		"response.reasoning_summary_part.added", "response.reasoning_summary_part.done",
		"response.reasoning_summary_text.done", "response.reasoning_text.done",
		"response.custom_tool_call_input.done":
	default:
		kind = StreamUnknown
	}
	return kind
}

func (a *StreamAssembler) accumulateResponses(first int) {
	for _, d := range a.deltas[first:] {
		switch d.Kind {
		case DeltaText:
			t := a.text(0)
			*t = append(*t, d.Text...)
		case DeltaToolArguments:
			t := a.tool(d.Index, 0)
			t.args = append(t.args, d.Text...)
		}
	}
}

func (a *StreamAssembler) mergeResponse(n *Response, ok bool) {
	if !ok {
		return
	}
	if n.ID != "" {
		a.resp.ID = n.ID
	}
	if n.Model != "" {
		a.resp.Model = n.Model
	}
	if n.Usage.Present {
		a.resp.Usage = n.Usage
	}
	if n.FinishReason != "" {
		a.resp.FinishReason = n.FinishReason
	}
	if n.Error != "" {
		a.resp.Error = n.Error
	}
}

// responsesItem reads an output item of output_item.added/done: tool call
// identity, and any text inside (reported as DeltaFinal).
func (a *StreamAssembler) responsesItem(s *scanner, t *toolAcc) bool {
	if s.peek() != '{' {
		s.skip()
		return false
	}
	isCall := false
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "type":
			switch string(s.tok()) {
			case "function_call", "custom_tool_call":
				isCall = true
			}
		case "call_id":
			t.id = s.optStr()
		case "name":
			t.name = s.optStr()
		case "arguments", "input", "text", "refusal":
			a.addDelta(s, DeltaFinal, 0, -1)
		case "content", "summary":
			a.finalStrings(s)
		default:
			s.skip()
		}
	}
	return isCall
}

// finalStrings reports "text"/"refusal"/"arguments" strings anywhere inside
// a value as DeltaFinal.
func (a *StreamAssembler) finalStrings(s *scanner) {
	switch s.peek() {
	case '{':
		for k, ok := s.objStart(); ok; k, ok = s.objNext() {
			switch string(k) {
			case "text", "refusal", "arguments":
				if s.peek() == '"' {
					a.addDelta(s, DeltaFinal, 0, -1)
					continue
				}
			}
			a.finalStrings(s)
		}
	case '[':
		for ok := s.arrStart(); ok; ok = s.arrNext() {
			a.finalStrings(s)
		}
	default:
		s.skip()
	}
}

// anthropicEvent handles one Anthropic Messages streaming event.
func (a *StreamAssembler) anthropicEvent(s *scanner, event string) StreamEventKind {
	if s.peek() != '{' {
		s.shapeErr("event object")
		return StreamOther
	}
	var typ []byte
	index := 0
	first := len(a.deltas)
	var block toolAcc
	blockIsTool := false
	var usage Usage
	var msg Response
	hasMsg := false
	var stop string
	var errMsg string
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "type":
			typ = a.eventType(s)
		case "index":
			index = int(s.integer())
		case "message":
			if s.peek() != '{' {
				s.skip()
				continue
			}
			p := respParser{s: scanner{b: s.b, i: s.i, depth: s.depth}, r: &msg}
			p.messages()
			// Text already present in message_start reaches the client.
			for _, part := range msg.Parts {
				a.deltas = append(a.deltas, Delta{Kind: DeltaText, ToolIndex: -1, Text: part.Text, Start: part.Start, End: part.End})
			}
			if p.s.err != nil {
				s.err = p.s.err
				s.i = len(s.b)
				return StreamOther
			}
			s.i = p.s.i
			hasMsg = true
		case "content_block":
			blockIsTool = a.anthropicBlock(s, &block)
		case "delta":
			if s.peek() != '{' {
				s.skip()
				continue
			}
			for k, ok := s.objStart(); ok; k, ok = s.objNext() {
				switch string(k) {
				case "text":
					a.addDelta(s, DeltaText, 0, -1)
				case "partial_json":
					a.addDelta(s, DeltaToolArguments, 0, -1)
				case "thinking":
					a.addDelta(s, DeltaReasoning, 0, -1)
				case "stop_reason":
					stop = s.optStr()
				default:
					s.skip()
				}
			}
		case "usage":
			parseUsage(s, &usage)
		case "error":
			errMsg = errorObject(s)
		default:
			s.skip()
		}
	}
	if typ == nil {
		typ = append(a.typBuf[:0], event...)
	}
	if index < 0 || index >= maxIndex {
		index = 0
	}
	for i := first; i < len(a.deltas); i++ {
		a.deltas[i].Index = index
	}
	switch string(typ) {
	case "message_start":
		if hasMsg {
			a.resp.ID, a.resp.Model = msg.ID, msg.Model
			if msg.Usage.Present {
				a.resp.Usage = msg.Usage
			}
			for _, d := range a.deltas[first:] {
				t := a.text(0)
				*t = append(*t, d.Text...)
			}
		}
		return StreamOther
	case "content_block_start":
		if blockIsTool {
			t := a.tool(index, 0)
			t.id, t.name = block.id, block.name
		}
		a.accumulateAnthropic(first, index)
		return StreamOther
	case "content_block_delta":
		a.accumulateAnthropic(first, index)
		return StreamOther
	case "content_block_stop", "ping":
		return StreamOther
	case "message_delta":
		if stop != "" {
			a.resp.FinishReason = stop
		}
		if usage.Present {
			u := &a.resp.Usage
			u.Present = true
			// message_delta usage is cumulative; fields absent read 0.
			if usage.OutputTokens != 0 {
				u.OutputTokens = usage.OutputTokens
			}
			if usage.InputTokens != 0 {
				u.InputTokens = usage.InputTokens
			}
			if usage.CachedTokens != 0 {
				u.CachedTokens = usage.CachedTokens
			}
			if usage.CacheWriteTokens != 0 {
				u.CacheWriteTokens = usage.CacheWriteTokens
			}
		}
		return StreamOther
	case "message_stop":
		return StreamDone
	case "error":
		if errMsg == "" {
			errMsg = "unknown error"
		}
		a.resp.Error = errMsg
		return StreamError
	}
	return StreamUnknown
}

func (a *StreamAssembler) accumulateAnthropic(first, index int) {
	for _, d := range a.deltas[first:] {
		switch d.Kind {
		case DeltaText:
			t := a.text(0)
			*t = append(*t, d.Text...)
		case DeltaToolArguments:
			t := a.tool(index, 0)
			t.args = append(t.args, d.Text...)
		}
	}
}

// anthropicBlock reads a content_block_start block: tool identity, and any
// initial text (normally empty) as a delta.
func (a *StreamAssembler) anthropicBlock(s *scanner, t *toolAcc) bool {
	if s.peek() != '{' {
		s.skip()
		return false
	}
	isTool := false
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "type":
			switch string(s.tok()) {
			case "tool_use", "server_tool_use":
				isTool = true
			}
		case "id":
			t.id = s.optStr()
		case "name":
			t.name = s.optStr()
		case "text":
			a.addDelta(s, DeltaText, 0, -1)
		case "thinking":
			a.addDelta(s, DeltaReasoning, 0, -1)
		default:
			s.skip()
		}
	}
	return isTool
}

// RewriteEvent returns ev's bytes with the delta strings at the given spans
// of ev.Data replaced (see RewriteStrings); everything else in the event is
// kept byte-identical where the event has a single data line.
func RewriteEvent(ev *SSEEvent, edits []Edit) ([]byte, error) {
	data, err := RewriteStrings(ev.Data, edits)
	if err != nil {
		return nil, err
	}
	return ev.WithData(data), nil
}
