package chstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/extproc/audit"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func clickhouseAddr() string {
	if a := os.Getenv("WARD_CLICKHOUSE_ADDR"); a != "" {
		return a
	}
	return DefaultAddr
}

// requireClickHouse skips when no server answers, except under CI=true.
func requireClickHouse(t testing.TB) string {
	t.Helper()
	addr := clickhouseAddr()
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

// testDB returns a fresh, migrated database name, dropped when the test ends.
func testDB(t testing.TB) string {
	t.Helper()
	addr := requireClickHouse(t)
	var b [4]byte
	rand.Read(b[:])
	db := "ward_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	s, err := Open(ctx, Config{Addr: addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		s.Close(context.Background())
	})
	return db
}

func openStore(t testing.TB, addr, db string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Addr: addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newWriter(t testing.TB, spool string, sink audit.Sink) *audit.Writer {
	t.Helper()
	w, err := audit.New(audit.Config{SpoolDir: spool, Sink: sink, FlushInterval: 10 * time.Millisecond,
		RetryMin: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond, SinkTimeout: 3 * time.Second, Logger: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// queryRows runs q and returns every row as column name → formatted value.
func queryRows(t testing.TB, s *Store, q string) []map[string]string {
	t.Helper()
	rows, err := s.Conn().Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []map[string]string
	for rows.Next() {
		ptrs := make([]any, len(types))
		for i, ct := range types {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for i, ct := range types {
			rv := reflect.ValueOf(ptrs[i]).Elem()
			if rv.Kind() == reflect.Pointer { // Nullable columns
				if rv.IsNil() {
					m[ct.Name()] = "NULL"
					continue
				}
				rv = rv.Elem()
			}
			v := rv.Interface()
			if tm, ok := v.(time.Time); ok {
				v = tm.UTC().Format(time.DateTime)
			}
			m[ct.Name()] = fmt.Sprint(v)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t testing.TB, s *Store, q string) uint64 {
	t.Helper()
	var n uint64
	if err := s.Conn().QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	return n
}

// verifyTable runs the chain verifier over a table.
func verifyTable(t testing.TB, s *Store) *audit.Verifier {
	t.Helper()
	v := &audit.Verifier{}
	err := s.Query(context.Background(), "audit_events", "", "writer_id, seq", func(e *audit.Event) error {
		v.Add(e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// loadEvent is a small realistic event for load tests.
func loadEvent(i int) *audit.Event {
	start := time.Now().Add(-600 * time.Millisecond) // the interaction just ended
	return &audit.Event{
		ID: uuid.Must(uuid.NewV7()), Start: start, FirstByte: start.Add(120 * time.Millisecond), End: start.Add(600 * time.Millisecond),
		RequestID: fmt.Sprintf("req-%d", i), TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331",
		Team: []string{"cardiology", "oncology", "radiology"}[i%3], App: "notes", KeyID: "key-1",
		EndUser: fmt.Sprintf("patient-%04d", i%500), Profile: "clinical", Endpoint: "openai.chat", Provider: "openai",
		ModelRequested: "gpt-4o", ModelServed: "gpt-4o-2024-08-06", Status: 200, Decision: audit.DecisionAllow,
		PolicyRevision: "rev-7", PHI: []audit.Count{{Type: "NAME", Count: 1}}, ContentLevel: audit.ContentRedacted,
		Prompt:      []audit.Message{{Role: "user", Content: "Summarise the discharge note for [NAME], admitted with chest pain, troponin negative."}},
		Completion:  "Patient admitted with chest pain; troponin negative; discharged on aspirin with cardiology follow-up.",
		InputTokens: 210, OutputTokens: 48, CostMicroUSD: 1005, UpstreamMs: 470, WardOverheadUs: 640,
	}
}

// proxy is a TCP proxy the test controls, to cut ClickHouse off and bring it
// back without touching the shared server.
type proxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	down     bool
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func newProxy(t testing.TB, upstream string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.upstream)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[u] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		p.wg.Add(2)
		go pipe(u, c)
		go pipe(c, u)
	}
}

// cut drops every open connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func q(db, sql string) string { return strings.ReplaceAll(sql, "{db}", db) }

func testLog() *slog.Logger {
	if os.Getenv("WARD_AUDIT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return quietLog
}
