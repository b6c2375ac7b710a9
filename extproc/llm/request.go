package llm

import (
	"errors"
	"fmt"
)

// PartKind tells prose from other inspectable strings in a request.
type PartKind string

const (
	PartText PartKind = "" // message text, system prompt, tool result
	// PartToolArguments is a tool call's arguments (OpenAI
	// function.arguments / Responses arguments, or each string value inside
	// an Anthropic tool_use input object).
	PartToolArguments PartKind = "tool_arguments"
)

// ErrUnsupportedEndpoint is returned for endpoints this package does not
// parse (EndpointUnparsed): route them by profile instead.
var ErrUnsupportedEndpoint = errors.New("llm: endpoint not parsed")

// ParseRequest parses an OpenAI chat completions, OpenAI Responses or
// Anthropic messages request body. It walks the bytes once with a
// hand-written scanner; the only allocations are the strings it returns.
//
// Errors wrap ErrMalformed (not JSON), ErrInvalidUTF8 (a string holds
// non-UTF-8 bytes) or ErrShape (a field Ward reads has the wrong type);
// *ParseError carries the byte offset. Unknown fields are skipped but still
// validated as JSON.
func ParseRequest(endpoint Endpoint, body []byte) (*Request, error) {
	// Most requests have a handful of parts: one allocation instead of
	// three or four growth steps (measured in BenchmarkParseRequestChat2KB).
	r := &Request{Endpoint: endpoint, Parts: make([]Part, 0, 8)}
	p := reqParser{s: scanner{b: body, strict: true}, r: r}
	switch endpoint {
	case EndpointChatCompletions:
		r.Provider = ProviderOpenAI
		p.chat()
	case EndpointResponses:
		r.Provider = ProviderOpenAI
		p.responses()
	case EndpointMessages:
		r.Provider = ProviderAnthropic
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

type reqParser struct {
	s scanner
	r *Request
}

// tok reads a string value as bytes valid until the next scanner call that
// decodes a key or token; other value types are skipped and yield nil.
func (s *scanner) tok() []byte {
	if s.peek() != '"' {
		s.skip()
		return nil
	}
	start := s.i
	end, simple := s.skipString()
	if s.err != nil {
		return nil
	}
	if simple {
		return s.b[start+1 : end-1]
	}
	s.scratch = s.appendUnescaped(s.scratch[:0], start, end)
	return s.scratch
}

func mapRole(b []byte) Role {
	switch string(b) {
	case "system", "developer":
		return RoleSystem
	case "user":
		return RoleUser
	case "assistant", "model":
		return RoleAssistant
	case "tool", "function":
		return RoleTool
	case "":
		return RoleUser
	}
	// Unknown roles are kept verbatim so policy can see them.
	return Role(b)
}

// setRole gives every part appended since first that has no role yet the
// role of its enclosing message.
func (p *reqParser) setRole(first int, role Role) {
	for i := first; i < len(p.r.Parts); i++ {
		if p.r.Parts[i].Role == "" {
			p.r.Parts[i].Role = role
		}
	}
}

func (p *reqParser) addPart(msg int, kind PartKind, text string, start, end int) {
	p.r.Parts = append(p.r.Parts, Part{Message: msg, Kind: kind, Text: text, Start: start, End: end})
}

// strPart reads a string (or null) value into a part without a role yet.
func (p *reqParser) strPart(msg int, kind PartKind) (string, bool) {
	t, a, b, ok := p.s.strOrNull()
	if ok {
		p.addPart(msg, kind, t, a, b)
	}
	return t, ok
}

func (p *reqParser) topObject() bool {
	if p.s.peek() != '{' {
		p.s.shapeErr("object")
		return false
	}
	return true
}

func (p *reqParser) endUser(user, safetyID string) {
	if safetyID != "" {
		p.r.EndUser = safetyID
	} else {
		p.r.EndUser = user
	}
}

// chat parses POST /v1/chat/completions.
func (p *reqParser) chat() {
	s, r := &p.s, p.r
	if !p.topObject() {
		return
	}
	var user, sid string
	var maxTokens, maxCompletion int64
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "model":
			r.Model, _, _, _ = s.strOrNull()
		case "stream":
			r.Stream = s.boolean()
		case "stream_options":
			if s.isNull() {
				continue
			}
			for k, ok := s.objStart(); ok; k, ok = s.objNext() {
				if string(k) == "include_usage" {
					r.IncludeUsage = s.boolean()
				} else {
					s.skip()
				}
			}
		case "user":
			user, _, _, _ = s.strOrNull()
		case "safety_identifier":
			sid, _, _, _ = s.strOrNull()
		case "max_tokens":
			maxTokens = s.integer()
		case "max_completion_tokens":
			maxCompletion = s.integer()
		case "messages":
			p.chatMessages()
		case "tools", "functions":
			p.tools()
		default:
			s.skip()
		}
	}
	p.endUser(user, sid)
	r.MaxOutputTokens = maxTokens
	if maxCompletion != 0 {
		r.MaxOutputTokens = maxCompletion
	}
}

func (p *reqParser) chatMessages() {
	s := &p.s
	if s.peek() != '[' {
		s.shapeErr("array of messages")
		return
	}
	msg := 0
	for ok := s.arrStart(); ok; ok = s.arrNext() {
		if s.peek() != '{' {
			s.shapeErr("message object")
			return
		}
		first := len(p.r.Parts)
		role := RoleUser
		for k, ok := s.objStart(); ok; k, ok = s.objNext() {
			switch string(k) {
			case "role":
				role = mapRole(s.tok())
			case "content":
				p.content(msg)
			case "refusal":
				p.strPart(msg, PartText)
			case "tool_calls":
				if s.isNull() {
					continue
				}
				if s.peek() != '[' {
					s.shapeErr("array of tool calls")
					return
				}
				for ok := s.arrStart(); ok; ok = s.arrNext() {
					p.chatToolCall(msg)
				}
			case "function_call": // legacy single call
				if !s.isNull() {
					p.chatFunction(msg, "")
				}
			default:
				s.skip()
			}
		}
		p.setRole(first, role)
		msg++
	}
}

// chatToolCall parses {"id","type","function":{"name","arguments"}} (or a
// custom tool call {"custom":{"name","input"}}).
func (p *reqParser) chatToolCall(msg int) {
	s := &p.s
	if s.peek() != '{' {
		s.shapeErr("tool call object")
		return
	}
	var id string
	at := len(p.r.ToolCalls)
	seen := false
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "id":
			id = s.optStr()
		case "function", "custom":
			if !s.isNull() {
				p.chatFunction(msg, "")
				seen = true
			}
		default:
			s.skip()
		}
	}
	if seen && at < len(p.r.ToolCalls) {
		p.r.ToolCalls[at].ID = id
	}
}

// chatFunction parses {"name","arguments"|"input"} and records a tool call
// plus an arguments part.
func (p *reqParser) chatFunction(msg int, id string) {
	s := &p.s
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
			tc.Arguments, _ = p.strPart(msg, PartToolArguments)
		default:
			s.skip()
		}
	}
	p.r.ToolCalls = append(p.r.ToolCalls, tc)
}

// tools parses an array of tool definitions in any of the three dialects:
// chat {"type":"function","function":{name,description,parameters}},
// legacy functions / Responses flat {name,description,parameters}, and
// Anthropic {name,description,input_schema}. Built-in tools without a name
// are recorded under their type (e.g. "web_search").
func (p *reqParser) tools() {
	s := &p.s
	if s.isNull() {
		return
	}
	if s.peek() != '[' {
		s.shapeErr("array of tools")
		return
	}
	for ok := s.arrStart(); ok; ok = s.arrNext() {
		var t Tool
		var typ string
		p.tool(&t, &typ)
		if t.Name == "" {
			t.Name = typ
		}
		p.r.Tools = append(p.r.Tools, t)
	}
}

func (p *reqParser) tool(t *Tool, typ *string) {
	s := &p.s
	if s.peek() != '{' {
		s.shapeErr("tool object")
		return
	}
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "type":
			*typ = s.optStr()
		case "name":
			t.Name = s.optStr()
		case "description":
			t.Description = s.optStr()
		case "parameters", "input_schema":
			t.Parameters = s.raw()
		case "function", "custom":
			if !s.isNull() {
				p.tool(t, typ)
			}
		default:
			s.skip()
		}
	}
}

// content parses message content: a string, null, or an array of content
// parts/blocks.
func (p *reqParser) content(msg int) {
	s := &p.s
	switch s.peek() {
	case '"':
		p.strPart(msg, PartText)
	case 'n':
		s.literal("null")
	case '[':
		for ok := s.arrStart(); ok; ok = s.arrNext() {
			if s.peek() == '"' { // tolerated by some SDKs: bare string parts
				p.strPart(msg, PartText)
				continue
			}
			p.block(msg)
		}
	default:
		s.shapeErr("string or array content")
	}
}

type blockType uint8

const (
	btText blockType = iota // text, input_text, output_text, unknown types with text
	btNonText
	btToolUse
	btToolResult
	btDocument
)

func classifyBlock(b []byte) blockType {
	switch string(b) {
	case "image_url", "input_image", "image", "input_audio", "audio", "file", "input_file", "container_upload":
		return btNonText
	case "document":
		return btDocument
	case "tool_use", "server_tool_use":
		return btToolUse
	case "tool_result", "web_search_tool_result":
		return btToolResult
	}
	return btText
}

// block parses one content part/block: OpenAI {"type":"text","text"},
// {"type":"image_url",...}; Responses input_text/input_image/input_file;
// Anthropic text, image, document, tool_use, tool_result (whose content
// is a string or blocks). Keys can come in any order, so the type is
// applied after the object is read.
func (p *reqParser) block(msg int) {
	s := &p.s
	if s.peek() != '{' {
		s.shapeErr("content part object")
		return
	}
	first := len(p.r.Parts)
	bt := btText
	var tc ToolCall
	docText := false
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "type":
			bt = classifyBlock(s.tok())
		case "text", "thinking", "refusal":
			p.strPart(msg, PartText)
		case "id":
			tc.ID = s.optStr()
		case "name":
			tc.Name = s.optStr()
		case "input":
			// Anthropic tool_use input is an object: inspect every
			// string value inside it.
			s.ws()
			start := s.i
			p.walkStrings(msg)
			if s.err == nil {
				tc.Arguments = string(s.b[start:s.i])
			}
		case "content":
			p.content(msg)
		case "source":
			docText = p.source(msg) || docText
		default:
			s.skip()
		}
	}
	switch bt {
	case btNonText:
		p.r.NonTextParts++
	case btDocument:
		if !docText {
			p.r.NonTextParts++
		}
	case btToolUse:
		p.setRole(first, RoleAssistant)
		p.r.ToolCalls = append(p.r.ToolCalls, tc)
	case btToolResult:
		p.setRole(first, RoleTool)
	}
}

// source reads an Anthropic document source; a plain-text source
// ({"type":"text","data":"..."}) becomes a text part.
func (p *reqParser) source(msg int) bool {
	s := &p.s
	if s.peek() != '{' {
		s.skip()
		return false
	}
	isText := false
	var part Part
	hasData := false
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "type":
			isText = string(s.tok()) == "text"
		case "data":
			if s.peek() == '"' {
				part.Text, part.Start, part.End = s.str()
				hasData = true
			} else {
				s.skip()
			}
		default:
			s.skip()
		}
	}
	if isText && hasData {
		p.addPart(msg, PartText, part.Text, part.Start, part.End)
		return true
	}
	return false
}

// walkStrings adds every string value (not key) inside a value as a tool
// arguments part.
func (p *reqParser) walkStrings(msg int) {
	s := &p.s
	switch s.peek() {
	case '"':
		p.strPart(msg, PartToolArguments)
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

// responses parses POST /v1/responses.
func (p *reqParser) responses() {
	s, r := &p.s, p.r
	if !p.topObject() {
		return
	}
	var user, sid string
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "model":
			r.Model, _, _, _ = s.strOrNull()
		case "stream":
			r.Stream = s.boolean()
		case "user":
			user, _, _, _ = s.strOrNull()
		case "safety_identifier":
			sid, _, _, _ = s.strOrNull()
		case "max_output_tokens":
			r.MaxOutputTokens = s.integer()
		case "instructions":
			first := len(r.Parts)
			p.strPart(-1, PartText)
			p.setRole(first, RoleSystem)
		case "input":
			p.responsesInput()
		case "tools":
			p.tools()
		default:
			s.skip()
		}
	}
	p.endUser(user, sid)
}

func (p *reqParser) responsesInput() {
	s := &p.s
	switch s.peek() {
	case '"':
		first := len(p.r.Parts)
		p.strPart(0, PartText)
		p.setRole(first, RoleUser)
		return
	case '[':
	default:
		s.shapeErr("string or array input")
		return
	}
	msg := 0
	for ok := s.arrStart(); ok; ok = s.arrNext() {
		p.responsesItem(msg)
		msg++
	}
}

// responsesItem parses one input item: a message ({"role","content"}, with
// or without "type":"message"), function_call, function_call_output,
// custom_tool_call(_output). Other item types (reasoning, item_reference,
// built-in tool calls) are validated and skipped.
func (p *reqParser) responsesItem(msg int) {
	s := &p.s
	if s.peek() != '{' {
		s.shapeErr("input item object")
		return
	}
	first := len(p.r.Parts)
	role := RoleUser
	var typ []byte
	var typBuf [32]byte
	var tc ToolCall
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "type":
			typ = append(typBuf[:0], s.tok()...)
		case "role":
			role = mapRole(s.tok())
		case "content":
			p.content(msg)
		case "name":
			tc.Name = s.optStr()
		case "call_id":
			tc.ID = s.optStr()
		case "arguments", "input":
			tc.Arguments, _ = p.strPart(msg, PartToolArguments)
		case "output":
			if s.peek() == '"' {
				p.strPart(msg, PartText)
			} else {
				p.content(msg)
			}
		default:
			s.skip()
		}
	}
	switch string(typ) {
	case "function_call", "custom_tool_call":
		p.setRole(first, RoleAssistant)
		p.r.ToolCalls = append(p.r.ToolCalls, tc)
	case "function_call_output", "custom_tool_call_output":
		p.setRole(first, RoleTool)
	default:
		p.setRole(first, role)
	}
}

// messages parses Anthropic POST /v1/messages.
func (p *reqParser) messages() {
	s, r := &p.s, p.r
	if !p.topObject() {
		return
	}
	for k, ok := s.objStart(); ok; k, ok = s.objNext() {
		switch string(k) {
		case "model":
			r.Model, _, _, _ = s.strOrNull()
		case "stream":
			r.Stream = s.boolean()
		case "max_tokens":
			r.MaxOutputTokens = s.integer()
		case "system":
			first := len(r.Parts)
			p.content(-1)
			p.setRole(first, RoleSystem)
		case "messages":
			p.chatMessages()
		case "tools":
			p.tools()
		case "metadata":
			if s.isNull() {
				continue
			}
			if s.peek() != '{' {
				s.shapeErr("metadata object")
				continue
			}
			for k, ok := s.objStart(); ok; k, ok = s.objNext() {
				if string(k) == "user_id" {
					r.EndUser, _, _, _ = s.strOrNull()
				} else {
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
}
