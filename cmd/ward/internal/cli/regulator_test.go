package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/extproc/audit/chstore"
	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/test/e2e"
	"github.com/wardhq/ward/test/fakellm"
)

func clickhouseAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("WARD_CLICKHOUSE_ADDR")
	if addr == "" {
		addr = chstore.DefaultAddr
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ClickHouse not reachable at %s (CI=true): %v; run .ci/clickhouse.sh", addr, err)
		}
		t.Skipf("ClickHouse not reachable at %s: %v (run .ci/clickhouse.sh)", addr, err)
	}
	c.Close()
	return addr
}

// TestRegulatorQuestion answers "what did the AI tell this user, and when"
// end to end: requests through the Envoy emulator and Ward land in a real
// ClickHouse, and `ward audit find` prints the conversation; `ward audit
// verify` checks the hash chain.
func TestRegulatorQuestion(t *testing.T) {
	addr := clickhouseAddr(t)
	var b [4]byte
	rand.Read(b[:])
	db := "ward_e2e_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		s, err := chstore.Open(context.Background(), chstore.Config{Addr: addr, Database: db})
		if err == nil {
			s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			s.Close(context.Background())
		}
	})

	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Audit.Sink = "clickhouse"
	cfg.Audit.ClickHouse.Addr = addr
	cfg.Audit.ClickHouse.Database = db
	cfg.Audit.SpoolDir = filepath.Join(t.TempDir(), "spool")
	cfg.Audit.FlushInterval = config.Duration(20 * time.Millisecond)
	s, err := e2e.Start(context.Background(), e2e.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	s.Provider.SetDefault(fakellm.Script{Text: "Rest, drink fluids and call the clinic if the fever lasts beyond three days."})
	start := time.Now().UTC()
	req, _ := http.NewRequest("POST", s.URL+"/v1/chat/completions", strings.NewReader(
		`{"model":"gpt-4o-mini","user":"patient-7731","messages":[{"role":"user","content":"I have had a fever since yesterday, what should I do?"}]}`))
	req.Header.Set("authorization", "Bearer ward-demo-clinical")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := s.Close(); err != nil { // drains the audit writer into ClickHouse
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	args := []string{"audit", "find", "--addr", addr, "--database", db, "--user", "patient-7731",
		"--at", start.Format(time.RFC3339), "--window", "10m"}
	if err := Main(context.Background(), args, strings.NewReader(""), &out, &errb); err != nil {
		t.Fatalf("audit find: %v\n%s", err, errb.String())
	}
	transcript := out.String()
	for _, want := range []string{"fever since yesterday", "Rest, drink fluids", "clinical-ai"} {
		if !strings.Contains(transcript, want) {
			t.Fatalf("transcript lacks %q:\n%s", want, transcript)
		}
	}
	out.Reset()
	if err := Main(context.Background(), []string{"audit", "verify", "--addr", addr, "--database", db}, strings.NewReader(""), &out, &errb); err != nil {
		t.Fatalf("audit verify: %v\n%s%s", err, out.String(), errb.String())
	}
}
