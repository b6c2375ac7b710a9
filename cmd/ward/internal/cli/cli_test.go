package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runMain(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name    string
		stdin   string
		args    []string
		wantOut string
		wantErr string
	}{
		{name: "no args", wantErr: "missing command"},
		{name: "unknown", args: []string{"serv"}, wantErr: `unknown command "serv"`},
		{name: "version", args: []string{"version"}, wantOut: "ward "},
		{name: "keys hash", stdin: "ward-demo-clinical\n", args: []string{"keys", "hash"},
			wantOut: "a2dca899cbb44717951bf4913f5e85cc4fbb4c57c01dfade6d884a3e730c24ba"},
		{name: "keys hash empty", args: []string{"keys", "hash"}, wantErr: "no key on stdin"},
		{name: "default config is valid", args: []string{"config", "check"}, wantOut: "config ok"},
		{name: "default config prints", args: []string{"config", "default"}, wantOut: "default_profile:"},
		{name: "help", args: []string{"--help"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runMain(t, tc.stdin, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("stdout %q lacks %q", out, tc.wantOut)
			}
		})
	}
}

func TestConfigCheckReportsEveryError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path, []byte("server: {grpc_addr: x}\nprofiles: {clinical: {}}\nroutes: [{profile: clnical}]\ndefault_profile: nope\n"), 0o600)
	_, _, err := runMain(t, "", "config", "check", "--config", path)
	if err == nil {
		t.Fatal("want errors")
	}
	for _, w := range []string{`routes[0].profile: unknown profile "clnical"`, `default_profile: unknown profile "nope"`, "server.grpc_addr"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}

// TestServeStartsAndStops runs the real `ward serve` on the embedded
// defaults and stops it as SIGTERM would (context cancelled).
func TestServeStartsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- Main(ctx, []string{"serve", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, strings.NewReader(""), &out, &errb)
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errb.String(), "ward listening") {
		t.Fatalf("logs: %s", errb.String())
	}
}
