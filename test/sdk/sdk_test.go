// Package sdk drives Ward's streamed guardrails with the official OpenAI
// and Anthropic Node SDKs (pinned in package-lock.json): the Go test starts
// the stack (fake provider, Ward, Envoy emulator) and runs `node --test`
// against it. Install the SDKs with `cd test/sdk && npm ci`.
package sdk

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/test/e2e"
	"github.com/wardhq/ward/test/fakellm"
	"github.com/wardhq/ward/test/harness"
)

// scenario is one scripted reply, selected by model name.
type scenario struct {
	Text   string `json:"text"`
	Want   string `json:"want"` // what the client must reassemble
	Leak   string `json:"leak"` // must never reach the client
	chunks []int
	delay  time.Duration
}

func scenarios() map[string]scenario {
	const phone = "Call the patient back at 617-555-0199 today, please."
	const phoneWant = "Call the patient back at [PHONE] today, please."
	at := strings.Index(phone, "617")
	every := make([]int, 0, len(phone))
	for i := 1; i < len(phone); i++ {
		every = append(every, i)
	}
	const multi = "Café résumé — naïve 東京 🙂 then call 617-555-0199, merci."
	m := strings.Index(multi, "617")
	long := strings.Repeat("The discharge summary continues with routine follow-up notes. ", 30)
	return map[string]scenario{
		"split-2":   {Text: phone, Want: phoneWant, Leak: "0199", chunks: []int{at + 5}},
		"split-3":   {Text: phone, Want: phoneWant, Leak: "0199", chunks: []int{at + 2, at + 8}},
		"split-n":   {Text: phone, Want: phoneWant, Leak: "0199", chunks: every},
		"multibyte": {Text: multi, Want: "Café résumé — naïve 東京 🙂 then call [PHONE], merci.", Leak: "0199", chunks: []int{6, 9, 14, m + 3, m + 9}},
		"advice": {Text: "Rest and drink fluids. From what you describe you may have a sinus infection, so take 400 mg ibuprofen twice daily.",
			Leak: "ibuprofen"},
		"long": {Text: long, Want: long, delay: 3 * time.Millisecond},
	}
}

func TestSDKStreams(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	for _, pkg := range []string{"openai", "@anthropic-ai/sdk"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			skipOrFail(t, pkg+" is not installed: run `cd test/sdk && npm ci`")
		}
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Audit.Sink = "none"
	// The demo clinical app is patient-facing here (so advice is stopped)
	// and may name any model (the model names select the scenarios).
	cfg.Policy.Data = map[string]any{"ward": map[string]any{"config": map[string]any{
		"apps":   map[string]any{"discharge-notes": map[string]any{"patient_facing": true}},
		"models": map[string]any{"teams": map[string]any{"clinical-ai": map[string]any{"allow": []any{"*"}}}},
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := e2e.Start(ctx, e2e.Options{Config: cfg, Tweak: func(hc *harness.Config) {
		// Body chunks of 7 bytes split SSE events, JSON strings and
		// multibyte characters anywhere.
		hc.ResponseChunkSize = 7
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := scenarios()
	for model, x := range sc {
		s.Provider.ScriptModel(model, fakellm.Script{Text: x.Text, Chunks: x.chunks, ChunkDelay: x.delay,
			Usage: &fakellm.Usage{InputTokens: 12, OutputTokens: 20}})
	}
	js, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "scenarios.json")
	if err := os.WriteFile(file, js, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, "--test", "--test-concurrency=1", "openai.test.mjs", "anthropic.test.mjs")
	cmd.Env = append(os.Environ(), "WARD_URL="+s.URL, "WARD_SCENARIOS="+file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// skipOrFail skips when a tool is missing on a developer machine and fails
// in CI, where the SDK tests must run.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}
