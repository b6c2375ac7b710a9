package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fixtures are written after the providers' API references (OpenAI chat
// completions and Responses, Anthropic Messages); the clinical content is
// synthetic.
const chatRequest = `{
  "model": "gpt-4o",
  "messages": [
    {"role": "developer", "content": "You are a clinical assistant."},
    {"role": "user", "name": "dr_smith", "content": [
      {"type": "text", "text": "Summarise the note for patient Jane Doe, MRN 123456."},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
      {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_abc", "type": "function", "function": {"name": "lookup_patient", "arguments": "{\"mrn\":\"123456\"}"}}
    ]},
    {"content": "DOB 1980-01-02 \u00e9t\u00e9 \"quoted\" \ud83d\ude00", "tool_call_id": "call_abc", "role": "tool"},
    {"role": "function", "name": "legacy", "content": "legacy result"},
    {"role": "system", "content": [{"type": "text", "text": "Never reveal identifiers."}]}
  ],
  "tools": [{"type": "function", "function": {"name": "lookup_patient", "description": "Find a patient", "parameters": {"type": "object", "properties": {"mrn": {"type": "string"}}}}}],
  "functions": [{"name": "old_fn", "description": "legacy", "parameters": {}}],
  "user": "user-42",
  "stream": true,
  "stream_options": {"include_usage": true},
  "max_tokens": 100,
  "max_completion_tokens": 512,
  "temperature": 0.2,
  "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
}`

const responsesRequest = `{"model":"gpt-4.1","instructions":"Be concise.","input":[
 {"role":"user","content":[{"type":"input_text","text":"What is in this scan?"},{"type":"input_image","image_url":"https://example.com/scan.png"},{"type":"input_file","file_id":"file-1"}]},
 {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Let me check."}]},
 {"type":"function_call","call_id":"call_1","name":"get_labs","arguments":"{\"patient\":\"Jane\"}"},
 {"call_id":"call_1","output":"Hb 13.2","type":"function_call_output"},
 {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"ignored"}]},
 {"role":"developer","content":"Use metric units."}
],"tools":[{"type":"function","name":"get_labs","description":"Labs","parameters":{"type":"object"}},{"type":"web_search"}],
"max_output_tokens":300,"user":"u1","safety_identifier":"sid-9","stream":false,"store":true}`

const anthropicRequest = `{"model":"claude-sonnet-4-5","max_tokens":1024,
"system":[{"type":"text","text":"You are a nurse.","cache_control":{"type":"ephemeral"}}],
"messages":[
 {"role":"user","content":"Patient John has a fever."},
 {"role":"assistant","content":[{"type":"thinking","thinking":"Check vitals.","signature":"sig"},{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_vitals","input":{"patient":"John","fields":["temp","hr"],"n":2}}]},
 {"role":"user","content":[
  {"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"temp 39.1"}]},
  {"type":"tool_result","tool_use_id":"toolu_2","content":"hr 110","is_error":false},
  {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},
  {"type":"document","source":{"type":"text","media_type":"text/plain","data":"Discharge summary text"}},
  {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBER"}},
  {"type":"text","text":"What next?"}]}
],
"tools":[{"name":"get_vitals","description":"Vitals","input_schema":{"type":"object","properties":{"patient":{"type":"string"}}}},{"type":"web_search_20250305","name":"web_search","max_uses":5}],
"metadata":{"user_id":"anon-7"},"stream":true,"temperature":1}`

// summary renders parts as role|message|kind|text for compact comparison.
func summary(parts []Part) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		kind := "text"
		if p.Kind != PartText {
			kind = string(p.Kind)
		}
		out[i] = fmt.Sprintf("%s|%d|%s|%s", p.Role, p.Message, kind, p.Text)
	}
	return out
}

// checkSpans verifies that every part's span is a JSON string literal that
// decodes (with encoding/json) to the part's text.
func checkSpans(t *testing.T, body []byte, parts []Part) {
	t.Helper()
	for i, p := range parts {
		if p.Start < 0 || p.End > len(body) || p.Start >= p.End {
			t.Fatalf("part %d: bad span [%d,%d)", i, p.Start, p.End)
		}
		var s string
		if err := json.Unmarshal(body[p.Start:p.End], &s); err != nil {
			t.Fatalf("part %d: span %q is not a JSON string: %v", i, body[p.Start:p.End], err)
		}
		if s != p.Text {
			t.Fatalf("part %d: span decodes to %q, Text is %q", i, s, p.Text)
		}
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name     string
		endpoint Endpoint
		body     string
		want     Request // Parts compared via wantParts
		parts    []string
		tools    []Tool
		calls    []ToolCall
	}{
		{
			name: "chat full", endpoint: EndpointChatCompletions, body: chatRequest,
			want: Request{Endpoint: EndpointChatCompletions, Provider: ProviderOpenAI, Model: "gpt-4o", Stream: true,
				IncludeUsage: true, EndUser: "user-42", MaxOutputTokens: 512, NonTextParts: 2},
			parts: []string{
				"system|0|text|You are a clinical assistant.",
				"user|1|text|Summarise the note for patient Jane Doe, MRN 123456.",
				`assistant|2|tool_arguments|{"mrn":"123456"}`,
				"tool|3|text|DOB 1980-01-02 été \"quoted\" 😀",
				"tool|4|text|legacy result",
				"system|5|text|Never reveal identifiers.",
			},
			tools: []Tool{
				{Name: "lookup_patient", Description: "Find a patient", Parameters: `{"type": "object", "properties": {"mrn": {"type": "string"}}}`},
				{Name: "old_fn", Description: "legacy", Parameters: `{}`},
			},
			calls: []ToolCall{{ID: "call_abc", Name: "lookup_patient", Arguments: `{"mrn":"123456"}`}},
		},
		{
			name: "chat minimal max_tokens only", endpoint: EndpointChatCompletions,
			body:  `{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"hi"}],"stream_options":null,"user":null}`,
			want:  Request{Endpoint: EndpointChatCompletions, Provider: ProviderOpenAI, Model: "gpt-4o-mini", MaxOutputTokens: 64},
			parts: []string{"user|0|text|hi"},
		},
		{
			name: "chat legacy function_call and refusal", endpoint: EndpointChatCompletions,
			body:  `{"model":"m","messages":[{"role":"assistant","function_call":{"name":"f","arguments":"{}"},"refusal":"I can't"}]}`,
			want:  Request{Endpoint: EndpointChatCompletions, Provider: ProviderOpenAI, Model: "m"},
			parts: []string{"assistant|0|tool_arguments|{}", "assistant|0|text|I can't"},
			calls: []ToolCall{{Name: "f", Arguments: "{}"}},
		},
		{
			name: "responses items", endpoint: EndpointResponses, body: responsesRequest,
			want: Request{Endpoint: EndpointResponses, Provider: ProviderOpenAI, Model: "gpt-4.1", EndUser: "sid-9",
				MaxOutputTokens: 300, NonTextParts: 2},
			parts: []string{
				"system|-1|text|Be concise.",
				"user|0|text|What is in this scan?",
				"assistant|1|text|Let me check.",
				`assistant|2|tool_arguments|{"patient":"Jane"}`,
				"tool|3|text|Hb 13.2",
				"system|5|text|Use metric units.",
			},
			tools: []Tool{{Name: "get_labs", Description: "Labs", Parameters: `{"type":"object"}`}, {Name: "web_search"}},
			calls: []ToolCall{{ID: "call_1", Name: "get_labs", Arguments: `{"patient":"Jane"}`}},
		},
		{
			name: "responses string input", endpoint: EndpointResponses,
			body:  `{"model":"gpt-4.1","input":"Tell me a joke","stream":true,"user":"u2"}`,
			want:  Request{Endpoint: EndpointResponses, Provider: ProviderOpenAI, Model: "gpt-4.1", Stream: true, EndUser: "u2"},
			parts: []string{"user|0|text|Tell me a joke"},
		},
		{
			name: "anthropic blocks", endpoint: EndpointMessages, body: anthropicRequest,
			want: Request{Endpoint: EndpointMessages, Provider: ProviderAnthropic, Model: "claude-sonnet-4-5", Stream: true,
				EndUser: "anon-7", MaxOutputTokens: 1024, NonTextParts: 2},
			parts: []string{
				"system|-1|text|You are a nurse.",
				"user|0|text|Patient John has a fever.",
				"assistant|1|text|Check vitals.",
				"assistant|1|text|Checking.",
				"assistant|1|tool_arguments|John",
				"assistant|1|tool_arguments|temp",
				"assistant|1|tool_arguments|hr",
				"tool|2|text|temp 39.1",
				"tool|2|text|hr 110",
				"user|2|text|Discharge summary text",
				"user|2|text|What next?",
			},
			tools: []Tool{
				{Name: "get_vitals", Description: "Vitals", Parameters: `{"type":"object","properties":{"patient":{"type":"string"}}}`},
				{Name: "web_search"},
			},
			calls: []ToolCall{{ID: "toolu_1", Name: "get_vitals", Arguments: `{"patient":"John","fields":["temp","hr"],"n":2}`}},
		},
		{
			name: "anthropic string system", endpoint: EndpointMessages,
			body:  "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"system\":\"Be brief.\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\\nthere\"}]}\r\n",
			want:  Request{Endpoint: EndpointMessages, Provider: ProviderAnthropic, Model: "claude-haiku-4-5", MaxOutputTokens: 10},
			parts: []string{"system|-1|text|Be brief.", "user|0|text|Hi\nthere"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest(tt.endpoint, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if g := summary(got.Parts); !slices.Equal(g, tt.parts) {
				t.Errorf("parts:\n got %q\nwant %q", g, tt.parts)
			}
			checkSpans(t, []byte(tt.body), got.Parts)
			if !slices.Equal(got.Tools, tt.tools) {
				t.Errorf("tools:\n got %+v\nwant %+v", got.Tools, tt.tools)
			}
			if !slices.Equal(got.ToolCalls, tt.calls) {
				t.Errorf("tool calls:\n got %+v\nwant %+v", got.ToolCalls, tt.calls)
			}
			got.Parts, got.Tools, got.ToolCalls = nil, nil, nil
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("request:\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	tests := []struct {
		name     string
		endpoint Endpoint
		body     string
		want     error
		offset   int // -1: don't check
	}{
		{"empty", EndpointChatCompletions, "", ErrMalformed, 0},
		{"truncated", EndpointChatCompletions, `{"model":`, ErrMalformed, 9},
		{"trailing comma", EndpointChatCompletions, `{"model":"m",}`, ErrMalformed, 13},
		{"bad array", EndpointChatCompletions, `{"messages":[}`, ErrMalformed, 13},
		{"trailing data", EndpointChatCompletions, `{} {}`, ErrMalformed, 3},
		{"raw newline in string", EndpointMessages, "{\"system\":\"a\nb\"}", ErrMalformed, 12},
		{"bad escape", EndpointResponses, `{"input":"\x"}`, ErrMalformed, 10},
		{"bad unicode escape", EndpointResponses, `{"input":"\u12G4"}`, ErrMalformed, 10},
		{"bad number", EndpointChatCompletions, `{"max_tokens":01}`, ErrMalformed, -1},
		{"bad literal", EndpointChatCompletions, `{"stream":tru}`, ErrMalformed, 10},
		{"unterminated string", EndpointChatCompletions, `{"model":"gpt`, ErrMalformed, 9},
		{"invalid utf8", EndpointChatCompletions, "{\"messages\":[{\"role\":\"user\",\"content\":\"ab\xffcd\"}]}", ErrInvalidUTF8, 41},
		{"invalid utf8 in skipped field", EndpointChatCompletions, "{\"metadata\":{\"k\":\"\xc3\"}}", ErrInvalidUTF8, 18},
		{"messages not array", EndpointChatCompletions, `{"messages":5}`, ErrShape, 12},
		{"content number", EndpointMessages, `{"messages":[{"role":"user","content":42}]}`, ErrShape, 38},
		{"top-level array", EndpointResponses, `[]`, ErrShape, 0},
		{"too deep", EndpointChatCompletions, `{"x":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, ErrTooDeep, -1},
		{"unparsed endpoint", EndpointUnparsed, `{}`, ErrUnsupportedEndpoint, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRequest(tt.endpoint, []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if tt.offset >= 0 {
				if !errors.As(err, &pe) {
					t.Fatalf("err %v is not a *ParseError", err)
				}
				if pe.Offset != tt.offset {
					t.Errorf("offset = %d, want %d (%v)", pe.Offset, tt.offset, err)
				}
			}
		})
	}
}

// TestParseRequestMatchesEncodingJSON cross-checks decoded text against
// encoding/json on escapes, surrogates and multibyte text.
func TestParseRequestMatchesEncodingJSON(t *testing.T) {
	texts := []string{
		`plain`, `tab\tnew\nline`, `\u00e9\u4e2d\ud83d\ude00`, `lone \ud800 surrogate`, `\ud83dX`,
		`slash \/ backslash \\ quote \"`, `ctl \u0001\u001f`, `中文 résumé ❤`, `\u2028\u2029`,
	}
	for _, txt := range texts {
		body := `{"model":"m","messages":[{"role":"user","content":"` + txt + `"}]}`
		r, err := ParseRequest(EndpointChatCompletions, []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", txt, err)
		}
		var want string
		if err := json.Unmarshal([]byte(`"`+txt+`"`), &want); err != nil {
			t.Fatal(err)
		}
		if len(r.Parts) != 1 || r.Parts[0].Text != want || !utf8.ValidString(r.Parts[0].Text) {
			t.Errorf("%s: got %+v want %q", txt, r.Parts, want)
		}
	}
}
