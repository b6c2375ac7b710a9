package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunOnSample runs the evaluation on the small committed sample (copied
// under all three dataset names) so the program is exercised without the
// shared datasets.
func TestRunOnSample(t *testing.T) {
	sample, err := os.ReadFile("../../testdata/phi/presidio-sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"presidio-vectors.jsonl", "presidio-pr-vectors.jsonl", "presidio-research-synth.jsonl"} {
		if err := os.WriteFile(filepath.Join(dir, name), sample, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if err := run([]string{"-data", dir}, &out, &errb); err != nil {
		t.Fatalf("run: %v (%s)", err, errb.String())
	}
	got := out.String()
	for _, want := range []string{
		"| SSN | 1 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1/1 (100%) | – |",
		"| IBAN | 1 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1/1 (100%) | – |",
		"| PASSPORT | 1 | – (all gold weak) |",
		"**all supported (micro)**",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestRunErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-data", t.TempDir()}, &out, &errb); err == nil || !strings.Contains(err.Error(), "open dataset") {
		t.Fatalf("want open error, got %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "presidio-vectors.jsonl"), []byte("{bad\n"), 0o600)
	if err := run([]string{"-data", dir}, &out, &errb); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Fatalf("want line error, got %v", err)
	}
}
