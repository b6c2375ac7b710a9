package chstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/extproc/audit"
)

// assertExactlyOnce checks that every id is in the table once (after FINAL),
// nothing else is, and the hash chain verifies.
func assertExactlyOnce(t *testing.T, s *Store, ids map[uuid.UUID]bool) {
	t.Helper()
	db := s.Database()
	if n := count(t, s, q(db, "SELECT count() FROM {db}.audit_events FINAL")); n != uint64(len(ids)) {
		t.Errorf("FINAL rows = %d, want %d", n, len(ids))
	}
	if n := count(t, s, q(db, "SELECT uniqExact(event_id) FROM {db}.audit_events")); n != uint64(len(ids)) {
		t.Errorf("distinct event ids = %d, want %d", n, len(ids))
	}
	missing := 0
	seen := map[uuid.UUID]bool{}
	v := &audit.Verifier{}
	if err := s.Query(context.Background(), "audit_events", "", "writer_id, seq", func(e *audit.Event) error {
		seen[e.ID] = true
		v.Add(e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id := range ids {
		if !seen[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d acknowledged events missing from ClickHouse", missing)
	}
	if !v.OK() {
		t.Errorf("chain problems: %v", v.Problems[:min(5, len(v.Problems))])
	}
}

// TestClickHouseOutageUnderLoad cuts the connection to the real server for a
// while under continuous load (through a proxy the test controls, so the
// shared server keeps running) and checks every event arrives exactly once.
func TestClickHouseOutageUnderLoad(t *testing.T) {
	db := testDB(t)
	p := newProxy(t, clickhouseAddr())
	s := openStore(t, p.addr(), db)
	w := newWriter(t, t.TempDir(), s)

	ids := map[uuid.UUID]bool{}
	var recorded atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(2 * time.Second)
		for i := 0; time.Now().Before(deadline); i++ {
			e := loadEvent(i)
			id := e.ID
			err := w.Record(e)
			for errors.Is(err, audit.ErrQueueFull) {
				time.Sleep(100 * time.Microsecond)
				err = w.Record(e)
			}
			if err != nil {
				t.Error(err)
				return
			}
			ids[id] = true
			recorded.Add(1)
			if i%2 == 0 {
				time.Sleep(time.Millisecond) // ~1000 events/s: the shared test server is small
			}
		}
	}()
	time.Sleep(400 * time.Millisecond)
	p.cut()
	time.Sleep(time.Second)
	during := w.Stats()
	p.restore()
	<-done

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	t.Logf("recorded %d; during outage: spool %d bytes, oldest unsent %v; final %+v", recorded.Load(), during.SpoolBytes, during.OldestUnsentAge, st)
	if during.SpoolBytes == 0 || during.OldestUnsentAge == 0 {
		t.Errorf("outage not visible in stats: %+v", during)
	}
	if st.SinkErrors == 0 || st.Replayed == 0 || st.SpoolBytes != 0 || st.DroppedQueue+st.DroppedSpool != 0 {
		t.Errorf("stats after recovery: %+v", st)
	}
	direct := openStore(t, clickhouseAddr(), db)
	defer direct.Close(context.Background())
	assertExactlyOnce(t, direct, ids)
}

// TestHelperProcess is the Ward stand-in for the crash tests: it records
// events and prints each id once Record/RecordDurable returned.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("WARD_AUDIT_HELPER")
	if mode == "" {
		t.Skip("helper process for the crash tests")
	}
	s, err := Open(context.Background(), Config{Addr: os.Getenv("WARD_CLICKHOUSE_ADDR"), Database: os.Getenv("WARD_AUDIT_HELPER_DB")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w := newWriter(t, os.Getenv("WARD_AUDIT_HELPER_SPOOL"), s)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		select {
		case <-term:
			out.Flush()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			w.Shutdown(ctx) // sink is cut: what is not shipped stays spooled
			cancel()
			os.Exit(0)
		default:
		}
		e := loadEvent(i)
		id := e.ID
		if mode == "strict" {
			err = w.RecordDurable(context.Background(), e)
		} else {
			err = w.Record(e)
		}
		if errors.Is(err, audit.ErrQueueFull) {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(out, id)
		if mode == "strict" {
			out.Flush() // the "final response" is only sent after the event is durable
		}
	}
}

func runCrash(t *testing.T, mode string, sig syscall.Signal) {
	db := testDB(t)
	p := newProxy(t, clickhouseAddr())
	spool := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "WARD_AUDIT_HELPER="+mode, "WARD_AUDIT_HELPER_SPOOL="+spool,
		"WARD_AUDIT_HELPER_DB="+db, "WARD_CLICKHOUSE_ADDR="+p.addr())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ids := map[uuid.UUID]bool{}
	sc := bufio.NewScanner(stdout)
	read := func(n int) {
		for len(ids) < n && sc.Scan() {
			id, err := uuid.Parse(sc.Text())
			if err != nil {
				t.Fatalf("helper printed %q", sc.Text())
			}
			ids[id] = true
		}
	}
	read(300)
	p.cut() // ClickHouse unreachable: the rest only reaches the spool
	read(600)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	read(1 << 30) // ids printed before the signal took effect
	cmd.Wait()
	p.restore()
	if len(ids) < 600 {
		t.Fatalf("helper acknowledged only %d events", len(ids))
	}

	// Restart: a new writer on the same spool replays what was not confirmed.
	s := openStore(t, clickhouseAddr(), db)
	w := newWriter(t, spool, s)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d acknowledged events; restart replayed %d", mode, len(ids), w.Stats().Replayed)
	direct := openStore(t, clickhouseAddr(), db)
	defer direct.Close(context.Background())
	// Events spooled but not yet acknowledged when the process died are also
	// delivered; check the acknowledged ones are all there, exactly once.
	db2 := direct.Database()
	if n := count(t, direct, q(db2, "SELECT count() FROM {db}.audit_events FINAL")); n < uint64(len(ids)) {
		t.Errorf("rows %d < acknowledged %d", n, len(ids))
	}
	if n, u := count(t, direct, q(db2, "SELECT count() FROM {db}.audit_events FINAL")),
		count(t, direct, q(db2, "SELECT uniqExact(event_id) FROM {db}.audit_events")); n != u {
		t.Errorf("FINAL rows %d != distinct ids %d", n, u)
	}
	seen := map[uuid.UUID]bool{}
	v := &audit.Verifier{}
	if err := direct.Query(context.Background(), "audit_events", "", "writer_id, seq", func(e *audit.Event) error {
		seen[e.ID] = true
		v.Add(e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id := range ids {
		if !seen[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged events lost", missing, len(ids))
	}
	if !v.OK() {
		t.Errorf("chain problems after crash: %v", v.Problems[:min(5, len(v.Problems))])
	}
}

// TestStrictSurvivesSIGKILL: every event whose RecordDurable returned (the
// request got its final response) is in ClickHouse after a restart.
func TestStrictSurvivesSIGKILL(t *testing.T) { runCrash(t, "strict", syscall.SIGKILL) }

// TestSIGTERMLosesNothing: on SIGTERM Ward shuts the writer down; events the
// sink could not take in time stay spooled and arrive after restart.
func TestSIGTERMLosesNothing(t *testing.T) { runCrash(t, "async", syscall.SIGTERM) }
