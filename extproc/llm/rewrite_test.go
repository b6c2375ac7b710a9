package llm

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestRewriteStrings(t *testing.T) {
	body := []byte(chatRequest)
	r, err := ParseRequest(EndpointChatCompletions, body)
	if err != nil {
		t.Fatal(err)
	}
	// Redact the user text and the tool result; the new texts need escaping.
	edits := []Edit{
		{Start: r.Parts[1].Start, End: r.Parts[1].End, NewText: "Summarise the note for patient [NAME], MRN [MRN]."},
		{Start: r.Parts[3].Start, End: r.Parts[3].End, NewText: "DOB [DATE] \"q\"\n\u2028\x01 é"},
	}
	out, err := RewriteStrings(body, edits)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("output is not valid JSON:\n%s", out)
	}
	r2, err := ParseRequest(EndpointChatCompletions, out)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Parts[1].Text != edits[0].NewText || r2.Parts[3].Text != edits[1].NewText {
		t.Errorf("reparsed texts %q / %q", r2.Parts[1].Text, r2.Parts[3].Text)
	}
	// Everything outside the spans is byte-identical.
	if string(out[:edits[0].Start]) != string(body[:edits[0].Start]) {
		t.Error("prefix changed")
	}
	tail := len(body) - edits[1].End
	if string(out[len(out)-tail:]) != string(body[edits[1].End:]) {
		t.Error("suffix changed")
	}
	for i := range r.Parts {
		if i != 1 && i != 3 && r.Parts[i].Text != r2.Parts[i].Text {
			t.Errorf("part %d changed", i)
		}
	}
}

func TestRewriteStringsInvalid(t *testing.T) {
	body := []byte(`{"a":"xy","b":"zw","n":12}`)
	tests := []struct {
		name  string
		edits []Edit
	}{
		{"unsorted", []Edit{{Start: 14, End: 18}, {Start: 5, End: 9}}},
		{"overlap", []Edit{{Start: 5, End: 9}, {Start: 8, End: 18}}},
		{"out of range", []Edit{{Start: 14, End: 99}}},
		{"negative", []Edit{{Start: -1, End: 3}}},
		{"not a string", []Edit{{Start: 23, End: 25}}},
		{"partial string", []Edit{{Start: 5, End: 8}}},
		{"two strings", []Edit{{Start: 5, End: 18}}},
		{"key inside", []Edit{{Start: 1, End: 4}, {Start: 1, End: 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := RewriteStrings(body, tt.edits); !errors.Is(err, ErrBadEdit) {
				t.Fatalf("err = %v, want ErrBadEdit", err)
			}
		})
	}
	unsorted := []Edit{{Start: 14, End: 18, NewText: "2"}, {Start: 5, End: 9, NewText: "1"}}
	SortEdits(unsorted)
	if out, err := RewriteStrings(body, unsorted); err != nil || string(out) != `{"a":"1","b":"2","n":12}` {
		t.Fatalf("sorted edits: %s %v", out, err)
	}
	out, err := RewriteStrings(body, nil)
	if err != nil || string(out) != string(body) {
		t.Fatalf("no edits: %q %v", out, err)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "\"\\/\b\f\n\r\t\x00\x1f\x7f", "é中😀", "\u2028\u2029", "bad\xff\xc3utf8", "<>&"} {
		enc := AppendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, enc, err)
		}
		want, _ := json.Marshal(s) // encoding/json also replaces invalid UTF-8
		var w string
		_ = json.Unmarshal(want, &w)
		if got != w {
			t.Errorf("%q: round trip %q, encoding/json %q", s, got, w)
		}
	}
}

func TestSetModel(t *testing.T) {
	tests := []struct{ in, model, want string }{
		{`{"model":"gpt-4o","messages":[]}`, "gpt-4o-mini", `{"model":"gpt-4o-mini","messages":[]}`},
		{`{ "messages": [], "model" : "a" }`, `b"c`, `{ "messages": [], "model" : "b\"c" }`},
		{`{"messages":[]}`, "m", `{"model":"m","messages":[]}`},
		{` {}`, "m", ` {"model":"m"}`},
	}
	for _, tt := range tests {
		got, err := SetModel([]byte(tt.in), tt.model)
		if err != nil || string(got) != tt.want {
			t.Errorf("SetModel(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := SetModel([]byte(`{"model":`), "m"); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed: %v", err)
	}
}

func TestSetIncludeUsage(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"model":"m","stream":true}`, `{"stream_options":{"include_usage":true},"model":"m","stream":true}`},
		{`{}`, `{"stream_options":{"include_usage":true}}`},
		{`{"stream":true,"stream_options":null}`, `{"stream":true,"stream_options":{"include_usage":true}}`},
		{`{"stream_options":{}}`, `{"stream_options":{"include_usage":true}}`},
		{`{"stream_options":{"x":1}}`, `{"stream_options":{"include_usage":true,"x":1}}`},
		{`{"stream_options":{"include_usage":false},"a":1}`, `{"stream_options":{"include_usage":true},"a":1}`},
		{`{"stream_options": {"include_usage": true}}`, `{"stream_options": {"include_usage": true}}`},
	}
	for _, tt := range tests {
		got, err := SetIncludeUsage([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("SetIncludeUsage(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
			continue
		}
		r, err := ParseRequest(EndpointChatCompletions, got)
		if err != nil || !r.IncludeUsage {
			t.Errorf("%s: reparse include_usage=%v err=%v", got, r != nil && r.IncludeUsage, err)
		}
	}
	for _, bad := range []string{`{"stream_options":5}`, `{"stream_options":{"a":}}`, `[]`} {
		if _, err := SetIncludeUsage([]byte(bad)); err == nil {
			t.Errorf("SetIncludeUsage(%s): want error", bad)
		}
	}
}
