// Package tokenscmd implements `ward tokens`: count tokens of plain text or
// of JSON lines, with the same counter the proxy uses.
//
//	ward tokens --model gpt-4o < prompt.txt
//	ward tokens --jsonl --model gpt-4o < texts.jsonl
//
// JSON lines are {"id": ..., "text": "..."} or {"id": ..., "messages":
// [...], "tools": [...]} (OpenAI chat shapes); each yields {"id": ...,
// "tokens": N} in input order.
package tokenscmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/wardhq/ward/extproc/llm"
	"github.com/wardhq/ward/policy/tokens"
)

// Run executes `ward tokens` with args (without the subcommand name).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ward tokens", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonl := fs.Bool("jsonl", false, `read JSON lines {"id","text"} or {"id","messages"[,"tools"]}, write {"id","tokens"}`)
	model := fs.String("model", "gpt-4o", "model whose tokenizer and counting rules apply")
	maxBytes := fs.Int64("max-bytes", 64<<20, "largest plain-text input or JSON line accepted, in bytes")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ward tokens [--jsonl] [--model M] < input")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("ward tokens: unexpected arguments %q", fs.Args())
	}
	if *maxBytes <= 0 {
		return errors.New("ward tokens: --max-bytes must be positive")
	}
	c, err := tokens.New(tokens.Config{})
	if err != nil {
		return err
	}
	if _, known := c.EncodingFor(*model); !known && !tokens.IsAnthropic(*model) {
		fmt.Fprintf(stderr, "ward tokens: unknown model %q, counting with the fallback encoding\n", *model)
	}
	if tokens.IsAnthropic(*model) {
		fmt.Fprintf(stderr, "ward tokens: %q is an Anthropic model; counts are estimates (see docs/tokens.md)\n", *model)
	}
	if !*jsonl {
		data, err := io.ReadAll(io.LimitReader(stdin, *maxBytes+1))
		if err != nil {
			return fmt.Errorf("ward tokens: read input: %w", err)
		}
		if int64(len(data)) > *maxBytes {
			return fmt.Errorf("ward tokens: input exceeds --max-bytes=%d", *maxBytes)
		}
		_, err = fmt.Fprintln(stdout, c.Text(*model, string(data)).Tokens)
		return err
	}
	return runJSONL(ctx, c, *model, *maxBytes, stdin, stdout)
}

type toolDef struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

type message struct {
	Role    string          `json:"role"`
	Name    string          `json:"name"`
	Content json.RawMessage `json:"content"`
}

type line struct {
	ID       json.RawMessage `json:"id"`
	Text     *string         `json:"text"`
	Messages []message       `json:"messages"`
	Tools    []toolDef       `json:"tools"`
}

type result struct {
	ID            json.RawMessage `json:"id"`
	Tokens        int64           `json:"tokens"`
	UnpricedParts int             `json:"unpriced_parts,omitempty"`
}

func runJSONL(ctx context.Context, c *tokens.Counter, model string, maxBytes int64, stdin io.Reader, stdout io.Writer) error {
	r := bufio.NewReaderSize(stdin, 64<<10)
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, err := readLine(r, maxBytes)
		if err == io.EOF {
			return w.Flush()
		}
		if err != nil {
			return fmt.Errorf("ward tokens: line %d: %w", n, err)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		res, err := countLine(c, model, raw)
		if err != nil {
			return fmt.Errorf("ward tokens: line %d: %w", n, err)
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
}

// readLine returns the next line without its newline, refusing lines
// longer than maxBytes; io.EOF only when no bytes remain.
func readLine(r *bufio.Reader, maxBytes int64) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if int64(len(buf)) > maxBytes+1 {
			return nil, fmt.Errorf("line exceeds --max-bytes=%d", maxBytes)
		}
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return buf, nil
		default:
			return nil, err
		}
	}
}

func countLine(c *tokens.Counter, model string, raw []byte) (result, error) {
	var in line
	if err := json.Unmarshal(raw, &in); err != nil {
		return result{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if len(in.ID) == 0 {
		in.ID = json.RawMessage("null")
	}
	switch {
	case in.Text != nil && in.Messages != nil:
		return result{}, errors.New(`give "text" or "messages", not both`)
	case in.Text != nil:
		return result{ID: in.ID, Tokens: c.Text(model, *in.Text).Tokens}, nil
	case in.Messages != nil:
		msgs := make([]tokens.Message, 0, len(in.Messages))
		unpriced := 0
		for i, m := range in.Messages {
			texts, other, err := contentTexts(m.Content)
			if err != nil {
				return result{}, fmt.Errorf("messages[%d].content: %w", i, err)
			}
			unpriced += other
			msgs = append(msgs, tokens.Message{Role: m.Role, Name: m.Name, Texts: texts})
		}
		tools := make([]llm.Tool, 0, len(in.Tools))
		for _, t := range in.Tools {
			tools = append(tools, llm.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: string(t.Function.Parameters)})
		}
		est := c.Chat(model, msgs, tools)
		return result{ID: in.ID, Tokens: est.Tokens, UnpricedParts: unpriced}, nil
	default:
		return result{}, errors.New(`need "text" or "messages"`)
	}
}

// contentTexts returns the text of an OpenAI message content (a string, an
// array of parts, or null) and the number of non-text parts.
func contentTexts(raw json.RawMessage) ([]string, int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []string{s}, 0, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, 0, errors.New("want a string or an array of parts")
	}
	var texts []string
	other := 0
	for _, p := range parts {
		if p.Text != nil && (p.Type == "text" || p.Type == "input_text" || p.Type == "") {
			texts = append(texts, *p.Text)
		} else {
			other++
		}
	}
	return texts, other, nil
}
