package llm

import "fmt"

// ParseResponse parses a buffered (non-streaming) JSON response of the
// given endpoint, including usage, or a provider error body ({"error":{...}}
// for OpenAI, {"type":"error","error":{...}} for Anthropic), whose message
// lands in Response.Error.
//
// Invalid UTF-8 in a response string is not an error: the decoded text has
// U+FFFD in its place (the provider produced it; refusing it would only
// hide the output from audit). Errors wrap ErrMalformed or ErrShape.
func ParseResponse(endpoint Endpoint, body []byte) (*Response, error) {
	r := &Response{}
	p := respParser{s: scanner{b: body}, r: r}
	if p.s.peek() != '{' {
		p.s.shapeErr("object")
		return nil, p.s.err
	}
	switch endpoint {
	case EndpointChatCompletions:
		p.chat()
	case EndpointResponses:
		p.responses()
	case EndpointMessages:
		p.messages()
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedEndpoint, endpoint)
	}
	p.s.end()
	if p.s.err != nil {
		return nil, p.s.err
	}
	return r, nil
}

type respParser struct {
	s scanner
	r *Response
}

// choice returns a pointer to Choices[i], growing the slice as needed.
// Indices are bounded so a hostile "index" cannot allocate gigabytes.
func (p *respParser) choice(i int) *string {
	const maxChoices = 128
	if i < 0 || i >= maxChoices {
		i = 0
	}
	for len(p.r.Choices) <= i {
		p.r.Choices = append(p.r.Choices, "")
	}
	return &p.r.Choices[i]
}

// text reads a string-or-null output text, appending it to choice i and
// recording its span.
func (p *respParser) text(i int) {
	t, a, b, ok := p.s.strOrNull()
	if !ok {
		return
	}
	c := p.choice(i)
	*c += t
	p.r.Parts = append(p.r.Parts, Part{Role: RoleAssistant, Text: t, Message: i, Start: a, End: b})
}

// usage parses all three usage shapes into u.
func parseUsage(s *scanner, u *Usage) {
	if s.isNull() {
		return
	}
	if s.peek() != '{' {
		s.shapeErr("usage object")
		return
	}
	u.Present = true
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "prompt_tokens", "input_tokens":
			u.InputTokens = s.integer()
		case "completion_tokens", "output_tokens":
			u.OutputTokens = s.integer()
		case "cache_read_input_tokens":
			u.CachedTokens = s.integer()
		case "cache_creation_input_tokens":
			u.CacheWriteTokens = s.integer()
		case "prompt_tokens_details", "input_tokens_details":
			detail(s, "cached_tokens", &u.CachedTokens)
		case "completion_tokens_details", "output_tokens_details":
			detail(s, "reasoning_tokens", &u.ReasoningTokens)
		default:
			s.skip()
		}
	}
}

func detail(s *scanner, key string, dst *int64) {
	if s.isNull() {
		return
	}
	if s.peek() != '{' {
		s.skip()
		return
	}
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		if string(k) == key {
			*dst = s.integer()
		} else {
			s.skip()
		}
	}
}

// errorObject reads an error object (null is no error) and returns its
// message (or its type/code when the message is empty).
func errorObject(s *scanner) string {
	if s.isNull() {
		return ""
	}
	if s.peek() == '"' { // some proxies send "error": "text"
		t, _, _ := s.str()
		return t
	}
	if s.peek() != '{' {
		s.skip()
		return ""
	}
	var msg, typ string
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "message":
			msg = s.optStr()
		case "type", "code":
			if t := s.optStr(); typ == "" {
				typ = t
			}
		default:
			s.skip()
		}
	}
	if msg == "" {
		msg = typ
	}
	if msg == "" {
		msg = "unknown error"
	}
	return msg
}

func (p *respParser) chat() {
	s, r := &p.s, p.r
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "id":
			r.ID = s.optStr()
		case "model":
			r.Model = s.optStr()
		case "usage":
			parseUsage(s, &r.Usage)
		case "error":
			r.Error = errorObject(s)
		case "choices":
			if s.peek() != '[' {
				s.shapeErr("array of choices")
				return
			}
			n := 0
			for ok := s.arrStart(); ok; ok = s.arrNext() {
				p.chatChoice(n)
				n++
			}
		default:
			s.skip()
		}
	}
}

func (p *respParser) chatChoice(pos int) {
	s, r := &p.s, p.r
	if s.peek() != '{' {
		s.shapeErr("choice object")
		return
	}
	// "index" may follow "message": parse the message at its position and
	// move it if the index differs (rare: providers send index first).
	idx := pos
	firstPart := len(r.Parts)
	var finish string
	var msgText string
	hasMsg := false
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "index":
			idx = int(s.integer())
		case "finish_reason":
			finish = s.optStr()
		case "message", "delta":
			if s.isNull() {
				continue
			}
			if s.peek() != '{' {
				s.shapeErr("message object")
				return
			}
			hasMsg = true
			for k, ok := s.objStart(); ok; k, ok = s.objNext() {
				switch string(k) {
				case "content", "refusal":
					t, a, b, ok := s.strOrNull()
					if ok {
						msgText += t
						r.Parts = append(r.Parts, Part{Role: RoleAssistant, Text: t, Start: a, End: b})
					}
				case "tool_calls":
					p.toolCalls()
				case "function_call":
					p.function("")
				default:
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
	if idx < 0 || idx >= 128 {
		idx = pos
	}
	for i := firstPart; i < len(r.Parts); i++ {
		r.Parts[i].Message = idx
	}
	if hasMsg || finish != "" {
		*p.choice(idx) += msgText
	}
	if idx == 0 || r.FinishReason == "" {
		if finish != "" {
			r.FinishReason = finish
		}
	}
}

func (p *respParser) toolCalls() {
	s := &p.s
	if s.isNull() {
		return
	}
	if s.peek() != '[' {
		s.shapeErr("array of tool calls")
		return
	}
	for ok := s.arrStart(); ok; ok = s.arrNext() {
		if s.peek() != '{' {
			s.shapeErr("tool call object")
			return
		}
		var id string
		at := len(p.r.ToolCalls)
		for k, ok := s.objStart(); ok; k, ok = s.objNext() {
			switch string(k) {
			case "id":
				id = s.optStr()
			case "function", "custom":
				p.function(id)
			default:
				s.skip()
			}
		}
		if at < len(p.r.ToolCalls) {
			p.r.ToolCalls[at].ID = id
		}
	}
}

func (p *respParser) function(id string) {
	s := &p.s
	if s.isNull() {
		return
	}
	if s.peek() != '{' {
		s.shapeErr("function object")
		return
	}
	tc := ToolCall{ID: id}
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "name":
			tc.Name = s.optStr()
		case "arguments", "input":
			tc.Arguments = p.args(0)
		default:
			s.skip()
		}
	}
	p.r.ToolCalls = append(p.r.ToolCalls, tc)
}

// responses parses an OpenAI Responses object (also used for the nested
// "response" of streamed response.completed events).
func (p *respParser) responses() {
	s, r := &p.s, p.r
	var status, incomplete string
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "id":
			r.ID = s.optStr()
		case "model":
			r.Model = s.optStr()
		case "status":
			status = s.optStr()
		case "usage":
			parseUsage(s, &r.Usage)
		case "error":
			r.Error = errorObject(s)
		case "incomplete_details":
			if s.peek() != '{' {
				s.skip()
				continue
			}
			for k, ok := s.objStart(); ok; k, ok = s.objNext() {
				if string(k) == "reason" {
					incomplete = s.optStr()
				} else {
					s.skip()
				}
			}
		case "output":
			if s.peek() != '[' {
				s.shapeErr("array of output items")
				return
			}
			for ok := s.arrStart(); ok; ok = s.arrNext() {
				p.responsesItem()
			}
		default:
			s.skip()
		}
	}
	r.FinishReason = status
	if incomplete != "" {
		r.FinishReason = incomplete
	}
}

// responsesItem parses one output item: a message with output_text /
// refusal parts, or a function_call. Reasoning and built-in tool items are
// skipped.
func (p *respParser) responsesItem() {
	s, r := &p.s, p.r
	if s.peek() != '{' {
		s.shapeErr("output item object")
		return
	}
	var tc ToolCall
	var typBuf [32]byte
	var typ []byte
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "type":
			typ = append(typBuf[:0], s.tok()...)
		case "call_id":
			tc.ID = s.optStr()
		case "name":
			tc.Name = s.optStr()
		case "arguments", "input":
			tc.Arguments = p.args(0)
		case "content":
			if s.isNull() {
				continue
			}
			if s.peek() != '[' {
				s.shapeErr("array of content parts")
				return
			}
			for ok := s.arrStart(); ok; ok = s.arrNext() {
				if s.peek() != '{' {
					s.shapeErr("content part object")
					return
				}
				for k, ok := s.objStart(); ok; k, ok = s.objNext() {
					switch string(k) {
					case "text", "refusal":
						p.text(0)
					default:
						s.skip()
					}
				}
			}
		default:
			s.skip()
		}
	}
	switch string(typ) {
	case "function_call", "custom_tool_call":
		r.ToolCalls = append(r.ToolCalls, tc)
	}
}

// messages parses an Anthropic message object (also the nested "message"
// of a streamed message_start event).
func (p *respParser) messages() {
	s, r := &p.s, p.r
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "id":
			r.ID = s.optStr()
		case "model":
			r.Model = s.optStr()
		case "stop_reason":
			r.FinishReason = s.optStr()
		case "usage":
			parseUsage(s, &r.Usage)
		case "error":
			r.Error = errorObject(s)
		case "content":
			if s.peek() != '[' {
				s.shapeErr("array of content blocks")
				return
			}
			for ok := s.arrStart(); ok; ok = s.arrNext() {
				p.anthropicBlock()
			}
		default:
			s.skip()
		}
	}
}

func (p *respParser) anthropicBlock() {
	s, r := &p.s, p.r
	if s.peek() != '{' {
		s.shapeErr("content block object")
		return
	}
	var tc ToolCall
	var typBuf [32]byte
	var typ []byte
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "type":
			typ = append(typBuf[:0], s.tok()...)
		case "text":
			p.text(0)
		case "id":
			tc.ID = s.optStr()
		case "name":
			tc.Name = s.optStr()
		case "input":
			tc.Arguments = p.args(0)
		default:
			s.skip()
		}
	}
	switch string(typ) {
	case "tool_use", "server_tool_use":
		r.ToolCalls = append(r.ToolCalls, tc)
	}
}

// args reads tool-call arguments: a string (OpenAI) is one part; an object
// (Anthropic tool_use input) yields a part per string value inside it. It
// returns the arguments text (raw JSON for objects).
func (p *respParser) args(msg int) string {
	s := &p.s
	if s.peek() == '"' {
		t, a, b := s.str()
		if s.err == nil {
			p.r.Parts = append(p.r.Parts, Part{Role: RoleAssistant, Kind: PartToolArguments, Text: t, Message: msg, Start: a, End: b})
		}
		return t
	}
	s.ws()
	start := s.i
	p.walkStrings(msg)
	if s.err != nil {
		return ""
	}
	return string(s.b[start:s.i])
}

func (p *respParser) walkStrings(msg int) {
	s := &p.s
	switch s.peek() {
	case '"':
		t, a, b := s.str()
		if s.err == nil {
			p.r.Parts = append(p.r.Parts, Part{Role: RoleAssistant, Kind: PartToolArguments, Text: t, Message: msg, Start: a, End: b})
		}
	case '{':
		for _, ok := s.objStart(); ok; _, ok = s.objNext() {
			p.walkStrings(msg)
		}
	case '[':
		for ok := s.arrStart(); ok; ok = s.arrNext() {
			p.walkStrings(msg)
		}
	default:
		s.skip()
	}
}
