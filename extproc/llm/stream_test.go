package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Streams modelled on the providers' documented event sequences.
const chatStream = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Patient "},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Jane \u00e9"},"logprobs":null,"finish_reason":null},{"delta":{"content":"Other"},"index":1}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":""}}]},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"mrn\":"}}]},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"123\"}"}}]},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":1}}}

data: [DONE]

`

const responsesStream = `event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"gpt-4.1","output":[],"usage":null}}

event: response.in_progress
data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-4.1","output":[],"usage":null}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}}

event: response.content_part.added
data: {"type":"response.content_part.added","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hello ","logprobs":[]}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Jane","logprobs":[]}

event: response.output_text.done
data: {"type":"response.output_text.done","sequence_number":6,"item_id":"msg_1","output_index":0,"content_index":0,"text":"Hello Jane","logprobs":[]}

event: response.content_part.done
data: {"type":"response.content_part.done","sequence_number":7,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"Hello Jane","annotations":[]}}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":8,"output_index":0,"item":{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello Jane","annotations":[]}]}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":9,"output_index":1,"item":{"id":"fc_1","type":"function_call","status":"in_progress","call_id":"call_1","name":"get_labs","arguments":""}}

event: response.function_call_arguments.delta
data: {"type":"response.function_call_arguments.delta","sequence_number":10,"item_id":"fc_1","output_index":1,"delta":"{\"a\":"}

event: response.function_call_arguments.delta
data: {"type":"response.function_call_arguments.delta","sequence_number":11,"item_id":"fc_1","output_index":1,"delta":"1}"}

event: response.function_call_arguments.done
data: {"type":"response.function_call_arguments.done","sequence_number":12,"item_id":"fc_1","output_index":1,"arguments":"{\"a\":1}"}

event: response.future_event
data: {"type":"response.future_event","sequence_number":13,"payload":{"x":[1,2]}}

event: response.completed
data: {"type":"response.completed","sequence_number":14,"response":{"id":"resp_1","object":"response","status":"completed","model":"gpt-4.1-2025-04-14","output":[{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"Hello Jane","annotations":[]}]},{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_labs","arguments":"{\"a\":1}"}],"usage":{"input_tokens":5,"input_tokens_details":{"cached_tokens":1},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":3},"total_tokens":12}}}

`

const anthropicStream = "event: message_start\r\n" +
	`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":4,"cache_read_input_tokens":10,"output_tokens":1}}}` + "\r\n\r\n" +
	`event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Look up John."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

: keep-alive comment

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hello "}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"John \ud83d\ude00"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_vitals","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"patient\": "}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"John\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: some_future_event
data: {"type":"some_future_event"}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}

event: message_stop
data: {"type":"message_stop"}

`

type streamResult struct {
	resp    *Response
	deltas  []string // kind|index|tool|text
	kinds   []StreamEventKind
	unknown int
	done    bool
}

func runStream(t testing.TB, ep Endpoint, chunks ...[]byte) streamResult {
	t.Helper()
	d := NewSSEDecoder(0)
	a := NewStreamAssembler(ep)
	var res streamResult
	drain := func() {
		for {
			ev, ok, err := d.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return
			}
			c, err := a.Consume(&ev)
			if err != nil {
				t.Fatalf("consume %q: %v", ev.Raw, err)
			}
			res.kinds = append(res.kinds, c.Kind)
			for _, dl := range c.Deltas {
				res.deltas = append(res.deltas, fmt.Sprintf("%d|%d|%d|%s", dl.Kind, dl.Index, dl.ToolIndex, dl.Text))
				if got := ev.Data[dl.Start:dl.End]; string(AppendJSONString(nil, dl.Text)) != string(got) {
					var s string
					if json.Unmarshal(got, &s) != nil || s != dl.Text {
						t.Fatalf("delta span %q does not hold %q", got, dl.Text)
					}
				}
			}
		}
	}
	for _, c := range chunks {
		d.Feed(c)
		drain()
	}
	d.Close()
	drain()
	res.resp, res.unknown, res.done = a.Response(), a.Unknown(), a.Done()
	return res
}

func TestStreamAssembler(t *testing.T) {
	tests := []struct {
		name    string
		ep      Endpoint
		stream  string
		want    Response
		deltas  []string
		unknown int
	}{
		{
			name: "openai chat", ep: EndpointChatCompletions, stream: chatStream,
			want: Response{ID: "chatcmpl-1", Model: "gpt-4o-mini", Choices: []string{"Patient Jane é", "Other"},
				ToolCalls:    []ToolCall{{ID: "call_1", Name: "lookup", Arguments: `{"mrn":"123"}`}},
				FinishReason: "tool_calls", Usage: Usage{InputTokens: 10, OutputTokens: 5, CachedTokens: 2, ReasoningTokens: 1, Present: true}},
			deltas: []string{"0|0|-1|", "0|0|-1|Patient ", "0|0|-1|Jane é", "0|1|-1|Other", "1|0|0|", `1|0|0|{"mrn":`, `1|0|0|"123"}`},
		},
		{
			name: "openai responses", ep: EndpointResponses, stream: responsesStream,
			want: Response{ID: "resp_1", Model: "gpt-4.1-2025-04-14", Choices: []string{"Hello Jane"},
				ToolCalls:    []ToolCall{{ID: "call_1", Name: "get_labs", Arguments: `{"a":1}`}},
				FinishReason: "completed", Usage: Usage{InputTokens: 5, OutputTokens: 7, CachedTokens: 1, ReasoningTokens: 3, Present: true}},
			deltas: []string{
				"3|0|-1|", "0|0|-1|Hello ", "0|0|-1|Jane", "3|0|-1|Hello Jane", "3|0|-1|Hello Jane", "3|0|-1|Hello Jane",
				"3|1|-1|", `1|1|-1|{"a":`, `1|1|-1|1}`, `3|1|-1|{"a":1}`, "3|0|-1|Hello Jane", `3|0|-1|{"a":1}`,
			},
			unknown: 1,
		},
		{
			name: "anthropic", ep: EndpointMessages, stream: anthropicStream,
			want: Response{ID: "msg_1", Model: "claude-sonnet-4-5", Choices: []string{"Hello John 😀"},
				ToolCalls:    []ToolCall{{ID: "toolu_1", Name: "get_vitals", Arguments: `{"patient": "John"}`}},
				FinishReason: "tool_use", Usage: Usage{InputTokens: 25, OutputTokens: 15, CachedTokens: 10, CacheWriteTokens: 4, Present: true}},
			deltas:  []string{"2|0|-1|", "2|0|-1|Look up John.", "0|1|-1|", "0|1|-1|Hello ", "0|1|-1|John 😀", `1|2|-1|{"patient": `, `1|2|-1|"John"}`},
			unknown: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.stream)
			ref := runStream(t, tt.ep, in)
			if !slices.Equal(ref.deltas, tt.deltas) {
				t.Errorf("deltas:\n got %q\nwant %q", ref.deltas, tt.deltas)
			}
			if fmt.Sprintf("%+v", *ref.resp) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("response:\n got %+v\nwant %+v", *ref.resp, tt.want)
			}
			if ref.unknown != tt.unknown || !ref.done {
				t.Errorf("unknown = %d (want %d), done = %v", ref.unknown, tt.unknown, ref.done)
			}
			// Same result for the stream split at every byte position.
			for i := 1; i < len(in); i++ {
				got := runStream(t, tt.ep, in[:i], in[i:])
				if !slices.Equal(got.deltas, ref.deltas) || fmt.Sprint(*got.resp) != fmt.Sprint(*ref.resp) {
					t.Fatalf("split at %d differs", i)
				}
			}
		})
	}
}

// TestStreamRewrite redacts a name inside deltas and checks that the
// rewritten stream is valid SSE and JSON, reassembles to the redacted text,
// and leaves every other event byte-identical.
func TestStreamRewrite(t *testing.T) {
	for _, tc := range []struct {
		ep     Endpoint
		stream string
		name   string
	}{
		{EndpointChatCompletions, chatStream, "Jane"},
		{EndpointResponses, responsesStream, "Jane"},
		{EndpointMessages, anthropicStream, "John"},
	} {
		t.Run(string(tc.ep), func(t *testing.T) {
			d := NewSSEDecoder(0)
			d.Feed([]byte(tc.stream))
			d.Close()
			a := NewStreamAssembler(tc.ep)
			var out []byte
			changed := 0
			for {
				ev, ok, err := d.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				c, err := a.Consume(&ev)
				if err != nil {
					t.Fatal(err)
				}
				var edits []Edit
				for _, dl := range c.Deltas {
					if strings.Contains(dl.Text, tc.name) {
						edits = append(edits, Edit{Start: dl.Start, End: dl.End, NewText: strings.ReplaceAll(dl.Text, tc.name, "[NAME]")})
					}
				}
				if len(edits) == 0 {
					out = append(out, ev.Raw...)
					continue
				}
				nb, err := RewriteEvent(&ev, edits)
				if err != nil {
					t.Fatal(err)
				}
				changed++
				out = append(out, nb...)
			}
			if changed == 0 {
				t.Fatal("nothing rewritten")
			}
			res := runStream(t, tc.ep, out)
			all := strings.Join(res.resp.Choices, "") + fmt.Sprint(res.resp.ToolCalls) + strings.Join(res.deltas, "")
			if strings.Contains(all, tc.name) {
				t.Errorf("name survived rewriting: %s", all)
			}
			if !strings.Contains(res.resp.Choices[0], "[NAME]") {
				t.Errorf("choice 0 = %q", res.resp.Choices[0])
			}
			// Only the rewritten events differ.
			if n := countDiffEvents(t, []byte(tc.stream), out); n != changed {
				t.Errorf("%d events differ, rewrote %d", n, changed)
			}
		})
	}
}

func countDiffEvents(t *testing.T, a, b []byte) int {
	ea, _ := decodeAll(t, 0, a)
	eb, _ := decodeAll(t, 0, b)
	if len(ea) != len(eb) {
		t.Fatalf("event count %d vs %d", len(ea), len(eb))
	}
	n := 0
	for i := range ea {
		if !bytes.Equal(ea[i].Raw, eb[i].Raw) {
			n++
			if ea[i].Event != eb[i].Event || !json.Valid(eb[i].Data) {
				t.Errorf("event %d: rewritten event lost its type or is not JSON: %q", i, eb[i].Raw)
			}
		}
	}
	return n
}

func TestStreamErrorsAndTerminators(t *testing.T) {
	for _, ep := range []Endpoint{EndpointChatCompletions, EndpointResponses, EndpointMessages} {
		t.Run(string(ep), func(t *testing.T) {
			ev := StreamErrorEvent(ep, 400, "phi_detected", `Blocked: "PHI" in output`)
			stream := append(bytes.Clone(ev), StreamTerminator(ep)...)
			res := runStream(t, ep, stream)
			if res.resp.Error != `Blocked: "PHI" in output` {
				t.Errorf("error = %q", res.resp.Error)
			}
			if res.kinds[0] != StreamError {
				t.Errorf("kinds = %v", res.kinds)
			}
			if ep != EndpointResponses && (len(res.kinds) != 2 || res.kinds[1] != StreamDone) {
				t.Errorf("terminator kinds = %v", res.kinds)
			}
			evs, _ := decodeAll(t, 0, ev)
			var obj map[string]any
			if err := json.Unmarshal(evs[0].Data, &obj); err != nil {
				t.Fatal(err)
			}
			// The official SDKs raise on an "error" member (OpenAI) or on
			// event: error (Anthropic).
			if _, ok := obj["error"].(map[string]any); !ok {
				t.Errorf("no error object in %s", evs[0].Data)
			}
		})
	}
	// A provider's own mid-stream error.
	res := runStream(t, EndpointMessages, []byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"))
	if res.resp.Error != "Overloaded" || res.kinds[0] != StreamError {
		t.Errorf("anthropic error: %+v %v", res.resp, res.kinds)
	}
}

func TestErrorBody(t *testing.T) {
	tests := []struct {
		p      Provider
		status int
		code   string
		want   string
	}{
		{ProviderOpenAI, 401, "invalid_api_key", `{"error":{"message":"Bad \"key\"","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`},
		{ProviderOpenAI, 429, "", `{"error":{"message":"Bad \"key\"","type":"rate_limit_error","param":null,"code":null}}`},
		{ProviderUnknown, 500, "x", `{"error":{"message":"Bad \"key\"","type":"server_error","param":null,"code":"x"}}`},
		{ProviderAnthropic, 401, "invalid_api_key", `{"type":"error","error":{"type":"authentication_error","message":"Bad \"key\""}}`},
		{ProviderAnthropic, 413, "", `{"type":"error","error":{"type":"request_too_large","message":"Bad \"key\""}}`},
		{ProviderAnthropic, 503, "", `{"type":"error","error":{"type":"api_error","message":"Bad \"key\""}}`},
	}
	for _, tt := range tests {
		got := ErrorBody(tt.p, tt.status, tt.code, `Bad "key"`)
		if string(got) != tt.want {
			t.Errorf("ErrorBody(%q,%d) = %s\nwant %s", tt.p, tt.status, got, tt.want)
		}
		ep := EndpointChatCompletions
		if tt.p == ProviderAnthropic {
			ep = EndpointMessages
		}
		r, err := ParseResponse(ep, got)
		if err != nil || r.Error != `Bad "key"` {
			t.Errorf("ParseResponse(ErrorBody) = %+v, %v", r, err)
		}
	}
}

func TestStreamAssemblerBadData(t *testing.T) {
	a := NewStreamAssembler(EndpointMessages)
	ev := SSEEvent{Data: []byte(`{"type":"content_block_delta","delta":{"text":`), HasData: true}
	if _, err := a.Consume(&ev); err == nil {
		t.Fatal("want error for truncated JSON")
	}
	// Unknown endpoint.
	if _, err := NewStreamAssembler(EndpointUnparsed).Consume(&SSEEvent{Data: []byte("{}"), HasData: true}); err == nil {
		t.Fatal("want error for unparsed endpoint")
	}
	// Comment-only events are empty, not errors.
	c, err := a.Consume(&SSEEvent{Raw: []byte(": hi\n\n")})
	if err != nil || c.Kind != StreamEmpty {
		t.Fatalf("comment: %v %v", c.Kind, err)
	}
}
