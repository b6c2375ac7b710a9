package policy

import (
	"context"
	"testing"
)

// TestRegoLibrary runs every _test.rego in rego/ through OPA's tester, so
// `go test ./policy/...` covers Ward's policy library.
func TestRegoLibrary(t *testing.T) {
	run, err := RunTests(context.Background(), Embedded(), TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) < 30 {
		t.Errorf("ran %d Rego tests, expected the whole library (>= 30)", len(run.Results))
	}
	for _, r := range run.Results {
		if r.Error != nil {
			t.Errorf("%s.%s: error: %v", r.Package, r.Name, r.Error)
		} else if r.Fail {
			t.Errorf("%s.%s: FAIL (%s)", r.Package, r.Name, r.Location)
		}
	}
}

func TestRegoLibraryChecks(t *testing.T) {
	if err := Check(Embedded(), DefaultEntrypoint, "data.ward.clinical.decision", "data.ward.internal.decision"); err != nil {
		t.Fatal(err)
	}
}
