package llm

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

const chatResponse = `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-2024-08-06",
"choices":[{"index":0,"message":{"role":"assistant","content":"Jane's MRN is on file.","refusal":null,
"tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"mrn\":\"123456\"}"}}],"annotations":[]},"logprobs":null,"finish_reason":"tool_calls"},
{"message":{"role":"assistant","content":"Alternative."},"index":1,"finish_reason":"stop"}],
"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},
"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}`

const responsesResponse = `{"id":"resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41","object":"response","created_at":1741476777,"status":"completed","error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":"gpt-4.1-2025-04-14",
"output":[{"type":"reasoning","id":"rs_1","summary":[]},
{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"The scan shows ","annotations":[]},{"type":"output_text","text":"no fracture.","annotations":[]}]},
{"type":"function_call","id":"fc_1","call_id":"call_9","name":"get_labs","arguments":"{\"id\":7}","status":"completed"}],
"parallel_tool_calls":true,"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":8},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":123},"user":null,"metadata":{}}`

const anthropicResponse = `{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
"content":[{"type":"thinking","thinking":"hmm","signature":"EqQB"},{"type":"text","text":"Hello "},{"type":"text","text":"John."},{"type":"tool_use","id":"toolu_01","name":"get_vitals","input":{"patient":"John"}}],
"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":2095,"cache_creation_input_tokens":5,"cache_read_input_tokens":3,"output_tokens":503,"service_tier":"standard"}}`

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name     string
		endpoint Endpoint
		body     string
		want     Response
		parts    []string
	}{
		{
			name: "chat", endpoint: EndpointChatCompletions, body: chatResponse,
			want: Response{ID: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", Model: "gpt-4o-2024-08-06",
				Choices:      []string{"Jane's MRN is on file.", "Alternative."},
				ToolCalls:    []ToolCall{{ID: "call_1", Name: "lookup", Arguments: `{"mrn":"123456"}`}},
				FinishReason: "tool_calls",
				Usage:        Usage{InputTokens: 19, OutputTokens: 10, CachedTokens: 4, ReasoningTokens: 2, Present: true}},
			parts: []string{"assistant|0|text|Jane's MRN is on file.", `assistant|0|tool_arguments|{"mrn":"123456"}`, "assistant|1|text|Alternative."},
		},
		{
			name: "responses", endpoint: EndpointResponses, body: responsesResponse,
			want: Response{ID: "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41", Model: "gpt-4.1-2025-04-14",
				Choices:      []string{"The scan shows no fracture."},
				ToolCalls:    []ToolCall{{ID: "call_9", Name: "get_labs", Arguments: `{"id":7}`}},
				FinishReason: "completed",
				Usage:        Usage{InputTokens: 36, OutputTokens: 87, CachedTokens: 8, ReasoningTokens: 64, Present: true}},
			parts: []string{"assistant|0|text|The scan shows ", "assistant|0|text|no fracture.", `assistant|0|tool_arguments|{"id":7}`},
		},
		{
			name: "responses incomplete", endpoint: EndpointResponses,
			body: `{"id":"resp_2","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[],"usage":null}`,
			want: Response{ID: "resp_2", FinishReason: "max_output_tokens"},
		},
		{
			name: "anthropic", endpoint: EndpointMessages, body: anthropicResponse,
			want: Response{ID: "msg_01XFDUDYJgAACzvnptvVoYEL", Model: "claude-sonnet-4-5-20250929",
				Choices:      []string{"Hello John."},
				ToolCalls:    []ToolCall{{ID: "toolu_01", Name: "get_vitals", Arguments: `{"patient":"John"}`}},
				FinishReason: "tool_use",
				Usage:        Usage{InputTokens: 2095, OutputTokens: 503, CachedTokens: 3, CacheWriteTokens: 5, Present: true}},
			parts: []string{"assistant|0|text|Hello ", "assistant|0|text|John.", "assistant|0|tool_arguments|John"},
		},
		{
			name: "openai error", endpoint: EndpointChatCompletions,
			body: `{"error":{"message":"Incorrect API key provided: sk-***.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			want: Response{Error: "Incorrect API key provided: sk-***."},
		},
		{
			name: "responses failed", endpoint: EndpointResponses,
			body: `{"id":"resp_3","status":"failed","error":{"code":"server_error","message":"The model failed."},"output":[]}`,
			want: Response{ID: "resp_3", FinishReason: "failed", Error: "The model failed."},
		},
		{
			name: "anthropic error", endpoint: EndpointMessages,
			body: `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}`,
			want: Response{Error: "Overloaded"},
		},
		{
			name: "error without message", endpoint: EndpointMessages,
			body: `{"type":"error","error":{"type":"api_error"}}`,
			want: Response{Error: "api_error"},
		},
		{
			name: "invalid utf8 replaced", endpoint: EndpointChatCompletions,
			body:  "{\"choices\":[{\"message\":{\"content\":\"a\xffb\"}}]}",
			want:  Response{Choices: []string{"a\uFFFDb"}},
			parts: []string{"assistant|0|text|a\uFFFDb"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResponse(tt.endpoint, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if g := summary(got.Parts); !slices.Equal(g, tt.parts) {
				t.Errorf("parts:\n got %q\nwant %q", g, tt.parts)
			}
			if tt.name != "invalid utf8 replaced" {
				checkSpans(t, []byte(tt.body), got.Parts)
			}
			got.Parts = nil
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("response:\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestParseResponseErrors(t *testing.T) {
	tests := []struct {
		name string
		ep   Endpoint
		body string
		want error
	}{
		{"truncated", EndpointChatCompletions, chatResponse[:200], ErrMalformed},
		{"not json", EndpointMessages, "<html>502 Bad Gateway</html>", ErrMalformed},
		{"choices object", EndpointChatCompletions, `{"choices":{}}`, ErrShape},
		{"string body", EndpointResponses, `"hello"`, ErrShape},
		{"unparsed", EndpointUnparsed, `{}`, ErrUnsupportedEndpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseResponse(tt.ep, []byte(tt.body)); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
