package fakellm

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// reply renders one scripted answer in a provider's dialect.
type reply struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	sc      Script
	model   string
	usage   Usage
	id      int64
	created int64
}

// event writes one SSE event and flushes it. An empty name writes only
// the data line (OpenAI chat completions framing).
func (rp *reply) event(name string, data []byte) bool {
	if rp.sc.ChunkDelay > 0 {
		select {
		case <-time.After(rp.sc.ChunkDelay):
		case <-rp.r.Context().Done():
			return false
		}
	}
	buf := make([]byte, 0, len(name)+len(data)+16)
	if name != "" {
		buf = append(append(append(buf, "event: "...), name...), '\n')
	}
	buf = append(append(append(buf, "data: "...), data...), "\n\n"...)
	_, _ = rp.w.Write(buf)
	if f, ok := rp.w.(http.Flusher); ok {
		f.Flush()
	}
	return rp.r.Context().Err() == nil
}

// ---- OpenAI chat completions ----

func (rp *reply) chatID() string { return fmt.Sprintf("chatcmpl-fake%06d", rp.id) }

func (rp *reply) chatUsage() obj {
	return obj{
		{"prompt_tokens", rp.usage.InputTokens},
		{"completion_tokens", rp.usage.OutputTokens},
		{"total_tokens", rp.usage.InputTokens + rp.usage.OutputTokens},
	}
}

func (rp *reply) chatJSON() []byte {
	return mustJSON(obj{
		{"id", rp.chatID()},
		{"object", "chat.completion"},
		{"created", rp.created},
		{"model", rp.model},
		{"choices", []obj{{
			{"index", 0},
			{"message", obj{{"role", "assistant"}, {"content", rp.sc.Text}, {"refusal", nil}}},
			{"logprobs", nil},
			{"finish_reason", "stop"},
		}}},
		{"usage", rp.chatUsage()},
	})
}

// chatSSE: `data: {chunk}\n\n` per delta, a final chunk with
// finish_reason, the usage chunk (choices: []) when
// stream_options.include_usage, then `data: [DONE]\n\n`.
func (rp *reply) chatSSE(includeUsage bool) {
	chunk := func(delta obj, finish any) []byte {
		o := obj{
			{"id", rp.chatID()},
			{"object", "chat.completion.chunk"},
			{"created", rp.created},
			{"model", rp.model},
			{"choices", []obj{{{"index", 0}, {"delta", delta}, {"logprobs", nil}, {"finish_reason", finish}}}},
		}
		if includeUsage {
			o = append(o, kv{"usage", nil})
		}
		return mustJSON(o)
	}
	if !rp.event("", chunk(obj{{"role", "assistant"}, {"content", ""}, {"refusal", nil}}, nil)) {
		return
	}
	// Content deltas are the bulk of a stream: render the constant frame
	// once and splice in each JSON-escaped part.
	frame := string(chunk(obj{{"content", "\x00"}}, nil))
	pre, post, _ := strings.Cut(frame, `"\u0000"`)
	for _, part := range split(rp.sc.Text, rp.sc.Chunks) {
		if !rp.event("", splice(pre, part, post)) {
			return
		}
	}
	if !rp.event("", chunk(obj{}, "stop")) {
		return
	}
	if includeUsage {
		if !rp.event("", mustJSON(obj{
			{"id", rp.chatID()},
			{"object", "chat.completion.chunk"},
			{"created", rp.created},
			{"model", rp.model},
			{"choices", []obj{}},
			{"usage", rp.chatUsage()},
		})) {
			return
		}
	}
	rp.event("", []byte("[DONE]"))
}

// ---- OpenAI Responses ----

func (rp *reply) respIDs() (resp, msg string) {
	return fmt.Sprintf("resp_fake%06d", rp.id), fmt.Sprintf("msg_fake%06d", rp.id)
}

func (rp *reply) responseObj(status string, withOutput bool) obj {
	rid, mid := rp.respIDs()
	output := []obj{}
	var usage any
	if withOutput {
		output = []obj{rp.outputItem(mid, "completed", rp.sc.Text)}
		usage = obj{
			{"input_tokens", rp.usage.InputTokens},
			{"input_tokens_details", obj{{"cached_tokens", 0}}},
			{"output_tokens", rp.usage.OutputTokens},
			{"output_tokens_details", obj{{"reasoning_tokens", 0}}},
			{"total_tokens", rp.usage.InputTokens + rp.usage.OutputTokens},
		}
	}
	return obj{
		{"id", rid},
		{"object", "response"},
		{"created_at", rp.created},
		{"status", status},
		{"error", nil},
		{"model", rp.model},
		{"output", output},
		{"usage", usage},
	}
}

func (rp *reply) outputItem(mid, status, text string) obj {
	content := []obj{}
	if status == "completed" {
		content = []obj{{{"type", "output_text"}, {"text", text}, {"annotations", []obj{}}}}
	}
	return obj{{"type", "message"}, {"id", mid}, {"status", status}, {"role", "assistant"}, {"content", content}}
}

func (rp *reply) responsesJSON() []byte { return mustJSON(rp.responseObj("completed", true)) }

// responsesSSE: `event: <type>\ndata: {"type":<type>,"sequence_number":n,...}\n\n`
// for response.created … response.output_text.delta … response.completed.
func (rp *reply) responsesSSE() {
	_, mid := rp.respIDs()
	seq := 0
	ev := func(typ string, fields ...kv) bool {
		o := append(obj{{"type", typ}, {"sequence_number", seq}}, fields...)
		seq++
		return rp.event(typ, mustJSON(o))
	}
	part := func(text string) obj {
		return obj{{"type", "output_text"}, {"text", text}, {"annotations", []obj{}}}
	}
	if !ev("response.created", kv{"response", rp.responseObj("in_progress", false)}) ||
		!ev("response.in_progress", kv{"response", rp.responseObj("in_progress", false)}) ||
		!ev("response.output_item.added", kv{"output_index", 0}, kv{"item", rp.outputItem(mid, "in_progress", "")}) ||
		!ev("response.content_part.added", kv{"item_id", mid}, kv{"output_index", 0}, kv{"content_index", 0}, kv{"part", part("")}) {
		return
	}
	for _, d := range split(rp.sc.Text, rp.sc.Chunks) {
		pre := `{"type":"response.output_text.delta","sequence_number":` + strconv.Itoa(seq) +
			`,"item_id":` + string(mustJSON(mid)) + `,"output_index":0,"content_index":0,"delta":`
		seq++
		if !rp.event("response.output_text.delta", splice(pre, d, "}")) {
			return
		}
	}
	_ = ev("response.output_text.done", kv{"item_id", mid}, kv{"output_index", 0}, kv{"content_index", 0}, kv{"text", rp.sc.Text}) &&
		ev("response.content_part.done", kv{"item_id", mid}, kv{"output_index", 0}, kv{"content_index", 0}, kv{"part", part(rp.sc.Text)}) &&
		ev("response.output_item.done", kv{"output_index", 0}, kv{"item", rp.outputItem(mid, "completed", rp.sc.Text)}) &&
		ev("response.completed", kv{"response", rp.responseObj("completed", true)})
}

// ---- Anthropic messages ----

func (rp *reply) msgID() string { return fmt.Sprintf("msg_fake%06d", rp.id) }

func (rp *reply) messagesJSON() []byte {
	return mustJSON(obj{
		{"id", rp.msgID()},
		{"type", "message"},
		{"role", "assistant"},
		{"model", rp.model},
		{"content", []obj{{{"type", "text"}, {"text", rp.sc.Text}}}},
		{"stop_reason", "end_turn"},
		{"stop_sequence", nil},
		{"usage", obj{{"input_tokens", rp.usage.InputTokens}, {"output_tokens", rp.usage.OutputTokens}}},
	})
}

// messagesSSE: message_start, content_block_start, ping,
// content_block_delta…, content_block_stop, message_delta (stop_reason and
// cumulative output usage), message_stop.
func (rp *reply) messagesSSE() {
	ev := func(typ string, fields ...kv) bool {
		return rp.event(typ, mustJSON(append(obj{{"type", typ}}, fields...)))
	}
	if !ev("message_start", kv{"message", obj{
		{"id", rp.msgID()},
		{"type", "message"},
		{"role", "assistant"},
		{"model", rp.model},
		{"content", []obj{}},
		{"stop_reason", nil},
		{"stop_sequence", nil},
		{"usage", obj{{"input_tokens", rp.usage.InputTokens}, {"output_tokens", 1}}},
	}}) ||
		!ev("content_block_start", kv{"index", 0}, kv{"content_block", obj{{"type", "text"}, {"text", ""}}}) ||
		!ev("ping") {
		return
	}
	for _, d := range split(rp.sc.Text, rp.sc.Chunks) {
		if !rp.event("content_block_delta", splice(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`, d, "}}")) {
			return
		}
	}
	_ = ev("content_block_stop", kv{"index", 0}) &&
		ev("message_delta", kv{"delta", obj{{"stop_reason", "end_turn"}, {"stop_sequence", nil}}}, kv{"usage", obj{{"output_tokens", rp.usage.OutputTokens}}}) &&
		ev("message_stop")
}

// splice returns pre + JSON string of s + post.
func splice(pre, s, post string) []byte {
	b := make([]byte, 0, len(pre)+len(s)+len(post)+8)
	b = append(b, pre...)
	b = append(b, mustJSON(s)...)
	return append(b, post...)
}
