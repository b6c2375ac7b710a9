package tokenscmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/wardhq/ward/policy/tokens"
)

func run(t *testing.T, args []string, in string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, strings.NewReader(in), &out, &errb)
	return out.String(), errb.String(), err
}

func TestRun(t *testing.T) {
	enc, err := tokens.GetEncoding(tokens.O200KBase)
	if err != nil {
		t.Fatal(err)
	}
	cnt := func(s string) int { return enc.Count(s) }
	// system message + user message with a name; cookbook rule.
	chat := 3 + cnt("system") + cnt("Be brief.") + 3 + cnt("user") + cnt("Hi") + cnt("bob") + 1 + 3
	tests := []struct {
		name    string
		args    []string
		in      string
		want    string
		wantErr string
		stderr  string
	}{
		{name: "plain text", args: []string{"--model", "gpt-4o"}, in: "hello world", want: "2\n"},
		{name: "plain empty", args: nil, in: "", want: "0\n"},
		{name: "jsonl text", args: []string{"--jsonl"}, in: `{"id":"a","text":"hello world"}` + "\n\n" + `{"id":7,"text":""}`,
			want: `{"id":"a","tokens":2}` + "\n" + `{"id":7,"tokens":0}` + "\n"},
		{name: "jsonl chat with name and image", args: []string{"--jsonl", "--model", "gpt-4o-mini"},
			in:   `{"id":"c","messages":[{"role":"system","content":"Be brief."},{"role":"user","name":"bob","content":[{"type":"text","text":"Hi"},{"type":"image_url","image_url":{"url":"data:"}}]}]}`,
			want: `{"id":"c","tokens":` + itoa(chat) + `,"unpriced_parts":1}` + "\n"},
		{name: "unknown model warns", args: []string{"--model", "mystery"}, in: "hi", want: "1\n", stderr: "unknown model"},
		{name: "anthropic warns", args: []string{"--model", "claude-sonnet-4-5"}, in: "hi", want: "2\n", stderr: "estimates"},
		{name: "bad json", args: []string{"--jsonl"}, in: `{"id":1,"text":"x"}` + "\n{oops\n", want: `{"id":1,"tokens":1}` + "\n", wantErr: "line 2: invalid JSON"},
		{name: "both fields", args: []string{"--jsonl"}, in: `{"id":1,"text":"x","messages":[]}`, wantErr: "not both"},
		{name: "neither field", args: []string{"--jsonl"}, in: `{"id":1}`, wantErr: `need "text" or "messages"`},
		{name: "bad content", args: []string{"--jsonl"}, in: `{"id":1,"messages":[{"role":"user","content":5}]}`, wantErr: "messages[0].content"},
		{name: "line too long", args: []string{"--jsonl", "--max-bytes", "10"}, in: `{"id":1,"text":"0123456789"}`, wantErr: "exceeds --max-bytes"},
		{name: "text too long", args: []string{"--max-bytes", "3"}, in: "abcd", wantErr: "exceeds --max-bytes"},
		{name: "stray argument", args: []string{"file.txt"}, wantErr: "unexpected arguments"},
		{name: "bad flag", args: []string{"--nope"}, wantErr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := run(t, tt.args, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && out != tt.want {
				t.Errorf("stdout = %q, want %q", out, tt.want)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr = %q, want %q", stderr, tt.stderr)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestJSONLMatchesReferenceFixture runs the whole cross-check corpus through
// `ward tokens --jsonl` and compares with npm tiktoken's counts.
func TestJSONLMatchesReferenceFixture(t *testing.T) {
	corpus, err := os.ReadFile("../../../../test/tokens/testdata/corpus.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.Open("../../../../test/tokens/testdata/reference.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	want := map[string]int{}
	sc := bufio.NewScanner(ref)
	for sc.Scan() {
		var r struct {
			ID    string `json:"id"`
			O200K *int   `json:"o200k_base"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.O200K != nil {
			want[r.ID] = *r.O200K
		}
	}
	out, _, err := run(t, []string{"--jsonl", "--model", "gpt-4o"}, string(corpus))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d output lines, %d reference counts", len(lines), len(want))
	}
	for _, l := range lines {
		var r struct {
			ID     string `json:"id"`
			Tokens int    `json:"tokens"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if want[r.ID] != r.Tokens {
			t.Errorf("%s: %d tokens, npm tiktoken %d", r.ID, r.Tokens, want[r.ID])
		}
	}
}

// FuzzJSONL: any input yields output or an error, never a panic.
func FuzzJSONL(f *testing.F) {
	f.Add(`{"id":"a","text":"hello"}`)
	f.Add(`{"id":1,"messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"input_audio"}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"properties":{"a":{"type":"string","enum":[1,"b"]}}}}}]}`)
	f.Add("{\"id\":null,\"text\":\"\xff\xfe\"}\n\n{")
	f.Fuzz(func(t *testing.T, in string) {
		var out, errb bytes.Buffer
		_ = Run(context.Background(), []string{"--jsonl", "--max-bytes", "4096"}, strings.NewReader(in), &out, &errb)
	})
}

// TestChatMatchesCookbookReference compares `ward tokens --jsonl` on chat
// requests (system/user/assistant messages, names, tool definitions with
// enums) with a JavaScript transliteration of OpenAI's cookbook formulas run
// on npm tiktoken (test/tokens/chat-reference.mjs).
func TestChatMatchesCookbookReference(t *testing.T) {
	data, err := os.ReadFile("../../../../test/tokens/testdata/chat-reference.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string][]string{}
	want := map[string][]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct {
			Model  string `json:"model"`
			Tokens int    `json:"tokens"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		lines[r.Model] = append(lines[r.Model], l)
		want[r.Model] = append(want[r.Model], r.Tokens)
	}
	if len(want["gpt-4o"]) < 50 || len(want["gpt-4"]) < 50 {
		t.Fatalf("fixture too small: %d/%d", len(want["gpt-4o"]), len(want["gpt-4"]))
	}
	for model, in := range lines {
		out, _, err := run(t, []string{"--jsonl", "--model", model}, strings.Join(in, "\n"))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSpace(out), "\n")
		if len(got) != len(in) {
			t.Fatalf("%s: %d results for %d lines", model, len(got), len(in))
		}
		for i, g := range got {
			var r struct {
				ID     string `json:"id"`
				Tokens int    `json:"tokens"`
			}
			if err := json.Unmarshal([]byte(g), &r); err != nil {
				t.Fatal(err)
			}
			if r.Tokens != want[model][i] {
				t.Errorf("%s: %d tokens, cookbook reference %d", r.ID, r.Tokens, want[model][i])
			}
		}
	}
}
