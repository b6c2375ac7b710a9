package policycmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTestEmbeddedLibraryPasses(t *testing.T) {
	out, stderr, err := run(t, "test")
	if err != nil {
		t.Fatalf("err %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	if !strings.Contains(out, "PASS: ") {
		t.Errorf("want an opa-test style summary, got:\n%s", out)
	}
}

func TestTestReportsFailuresAndExitsNonZero(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.rego":      "package p\n\nallow if input.x == 1\n",
		"p_test.rego": "package p_test\n\nimport data.p\n\ntest_ok if p.allow with input as {\"x\": 1}\n\ntest_bad if p.allow with input as {\"x\": 2}\n",
	})
	out, _, err := run(t, "test", dir, "-v")
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("err = %v, want ErrFailed", err)
	}
	for _, want := range []string{"data.p_test.test_ok: PASS", "data.p_test.test_bad: FAIL", "PASS: 1/2", "FAIL: 1/2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTestCoverage(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.rego":      "package p\n\nallow if input.x == 1\n",
		"p_test.rego": "package p_test\n\nimport data.p\n\ntest_ok if p.allow with input as {\"x\": 1}\n",
	})
	out, _, err := run(t, "test", "--coverage", dir)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Coverage float64        `json:"coverage"`
		Files    map[string]any `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("coverage output is not JSON: %v\n%s", err, out)
	}
	if rep.Coverage <= 0 || len(rep.Files) == 0 {
		t.Errorf("coverage report empty: %s", out)
	}
}

func TestCheckReportsEveryErrorWithLocation(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.rego": "package a\n\nx := y\n\nz := count(1, 2)\n",
		"b.rego": "package b\n\nallow if {\n",
	})
	_, stderr, err := run(t, "check", dir)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("err = %v, want ErrFailed", err)
	}
	if !strings.Contains(stderr, "b.rego:") {
		t.Errorf("parse error lacks file:line:\n%s", stderr)
	}

	// Errors of one compiler stage are all reported, each with file:line.
	dir = writeFiles(t, map[string]string{
		"a.rego": "package a\n\nx := count(1, 2)\n\nz := upper(1, 2)\n",
	})
	_, stderr, err = run(t, "check", dir)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("err = %v, want ErrFailed", err)
	}
	for _, want := range []string{"a.rego:3:", "a.rego:5:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, stderr)
		}
	}
}

func TestCheckEmbeddedOK(t *testing.T) {
	out, stderr, err := run(t, "check")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "ok") || !strings.Contains(out, "data.ward.decision: evaluated by the plan evaluator") {
		t.Errorf("out = %q", out)
	}
}

func TestCheckSaysWhenTopdownEvaluates(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.rego": "package a\n\nallow := time.now_ns() > 0\n"})
	out, stderr, err := run(t, "check", "--entrypoint", "data.a.allow", dir)
	if err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	if !strings.Contains(out, "data.a.allow: evaluated by topdown:") || !strings.Contains(out, "time.now_ns") {
		t.Errorf("out = %q", out)
	}
}

func TestEval(t *testing.T) {
	out, stderr, err := run(t, "eval", "--input", "testdata/request-clinical.json", "--explain")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	i := strings.Index(out, "\nexplanation")
	if i < 0 {
		t.Fatalf("no explanation in output:\n%s", out)
	}
	var d struct {
		Allow    bool `json:"allow"`
		Revision string
		Redact   []struct{ Type, Mode string }
		Audit    string
	}
	if err := json.Unmarshal([]byte(out[:i]), &d); err != nil {
		t.Fatalf("decision is not JSON: %v\n%s", err, out[:i])
	}
	if !d.Allow || len(d.Redact) != 2 || d.Audit != "redacted" || d.Revision == "" {
		t.Errorf("decision = %+v", d)
	}
	if !strings.Contains(out[i:], "clinical.rego") {
		t.Errorf("explanation does not point into the policy:\n%.2000s", out[i:])
	}
}

func TestEvalRejectsUnknownInputField(t *testing.T) {
	dir := writeFiles(t, map[string]string{"in.json": `{"phase":"request","profle":"clinical"}`})
	_, _, err := run(t, "eval", "--input", filepath.Join(dir, "in.json"))
	if err == nil || !strings.Contains(err.Error(), "profle") {
		t.Fatalf("err = %v, want unknown field error naming profle", err)
	}
}

func TestUsageErrors(t *testing.T) {
	if _, _, err := run(t); err == nil {
		t.Error("no command: want error")
	}
	if _, _, err := run(t, "frobnicate"); err == nil {
		t.Error("unknown command: want error")
	}
	if _, _, err := run(t, "eval"); err == nil {
		t.Error("eval without --input: want error")
	}
}

func TestCheckRequiresEntrypoint(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.rego": "package a\n\nallow := true\n"})
	_, stderr, err := run(t, "check", dir)
	if !errors.Is(err, ErrFailed) || !strings.Contains(stderr, "data.ward.decision: no rule defines it") {
		t.Fatalf("err=%v stderr=%s", err, stderr)
	}
	if out, stderr, err := run(t, "check", "--entrypoint", "data.a.allow", dir); err != nil {
		t.Fatalf("custom entrypoint: %v %s %s", err, out, stderr)
	}
	if _, _, err := run(t, "check", "--entrypoint", "", dir); err != nil {
		t.Fatalf("no entrypoint check: %v", err)
	}
}
