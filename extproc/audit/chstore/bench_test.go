package chstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/extproc/audit"
)

// BenchmarkClickHouseIngest measures Store.Write against the real server
// (one op = one event) for several insert sizes: ClickHouse pays a fixed
// cost per insert, so rows per second depend mostly on the batch size. The
// writer sends up to SinkBatch (65,536) events per insert when it falls
// behind.
//
//	.ci/clickhouse.sh && go test -run '^$' -bench ClickHouseIngest -benchtime 262144x ./extproc/audit/chstore/
func BenchmarkClickHouseIngest(b *testing.B) {
	db := testDB(b)
	s := openStore(b, clickhouseAddr(), db)
	defer s.Close(context.Background())
	c := audit.Chain{WriterID: uuid.Must(uuid.NewV7())}
	evs := make([]audit.Event, 65536)
	for i := range evs {
		e := loadEvent(i)
		c.Seal(e)
		evs[i] = *e
	}
	for _, batch := range []int{4096, 16384, 65536} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for n := 0; n < b.N; n += batch {
				k := min(batch, b.N-n)
				if err := s.Write(context.Background(), evs[:k]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkWriterToClickHouse measures the whole path one Ward runs:
// Record → batch → spool (fsync per batch) → ClickHouse, until Shutdown has
// delivered everything (one op = one event).
//
//	.ci/clickhouse.sh && go test -run '^$' -bench WriterToClickHouse -benchtime 40000x ./extproc/audit/chstore/
func BenchmarkWriterToClickHouse(b *testing.B) {
	db := testDB(b)
	s := openStore(b, clickhouseAddr(), db)
	w, err := audit.New(audit.Config{SpoolDir: b.TempDir(), Sink: s, MaxBatch: 4096, QueueSize: 65536, Logger: quietLog})
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]*audit.Event, b.N)
	for i := range evs {
		evs[i] = loadEvent(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for _, e := range evs {
		for err := w.Record(e); err != nil; err = w.Record(e) {
			if !errors.Is(err, audit.ErrQueueFull) {
				b.Fatal(err)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	if err := w.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	if st := w.Stats(); st.Sent != uint64(b.N) {
		b.Fatalf("sent %d of %d", st.Sent, b.N)
	}
}
