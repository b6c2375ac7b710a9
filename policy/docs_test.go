package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// jsonBlocks returns the ```json blocks of a Markdown file.
func jsonBlocks(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("%s not present", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, part := range strings.Split(string(b), "```json\n")[1:] {
		blocks = append(blocks, part[:strings.Index(part, "```")])
	}
	return blocks
}

// The documented examples must be valid documents that the library decides
// as the docs say.
func TestDocsInputExample(t *testing.T) {
	blocks := jsonBlocks(t, "../docs/policy-input.md")
	var in Input
	dec := json.NewDecoder(strings.NewReader(blocks[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("input example: %v", err)
	}
	var wrapper struct {
		Output *Output `json:"output"`
	}
	if err := json.Unmarshal([]byte("{"+strings.TrimSpace(blocks[1])+"}"), &wrapper); err != nil || wrapper.Output == nil {
		t.Fatalf("output example: %v", err)
	}
	if wrapper.Output.FinishReason != "stop" || wrapper.Output.Usage.OutputTokens != 31 {
		t.Errorf("output example: %+v", wrapper.Output)
	}
	e := newEngine(t, Embedded(), Options{})
	d, err := e.Decide(context.Background(), "", &in)
	if err != nil || !d.Allow || len(d.Redact) != 2 || d.Audit != AuditRedacted {
		t.Errorf("decision on the documented input: %+v %v", d, err)
	}
}

func TestDocsDecisionExamples(t *testing.T) {
	blocks := jsonBlocks(t, "../docs/policy-decision.md")
	if len(blocks) < 2 {
		t.Fatalf("want 2 examples, got %d", len(blocks))
	}
	for i, blk := range blocks[:2] {
		v, err := ast.ValueFromReader(bytes.NewReader([]byte(blk)))
		if err != nil {
			t.Fatalf("example %d: %v", i, err)
		}
		d, err := DecodeDecision(v)
		if err != nil {
			t.Fatalf("example %d: %v", i, err)
		}
		if d.Allow != (i == 0) {
			t.Errorf("example %d: allow %v", i, d.Allow)
		}
	}
}
