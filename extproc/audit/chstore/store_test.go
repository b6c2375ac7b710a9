package chstore

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/extproc/audit"
)

func TestMigrateIsIdempotentAndRecordsVersion(t *testing.T) {
	db := testDB(t) // migrated once
	s := openStore(t, clickhouseAddr(), db)
	defer s.Close(context.Background())
	res, err := s.Migrate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.FromVersion != SchemaVersion || res.ToVersion != SchemaVersion {
		t.Fatalf("second migrate: %+v", res)
	}
	if n := count(t, s, q(db, "SELECT count() FROM {db}.schema_migrations FINAL")); n != 1 {
		t.Fatalf("schema_migrations rows = %d", n)
	}
	for _, table := range []string{"audit_events", "audit_user_index", "audit_user_index_mv", "spend_daily", "spend_daily_mv"} {
		if n := count(t, s, fmt.Sprintf("SELECT count() FROM system.tables WHERE database = '%s' AND name = '%s'", db, table)); n != 1 {
			t.Errorf("table %s missing", table)
		}
	}
	// Column names in insert order; the user index is narrow.
	for table, want := range map[string][]string{
		"audit_events":     strings.Split(columnList(), ", "),
		"audit_user_index": strings.Split(userIndexColumns, ", "),
	} {
		rows := queryRows(t, s, fmt.Sprintf("SELECT name FROM system.columns WHERE database = '%s' AND table = '%s'", db, table))
		if len(rows) != len(want) {
			t.Fatalf("%s has %d columns, want %d", table, len(rows), len(want))
		}
		for i, r := range rows {
			if r["name"] != want[i] {
				t.Errorf("%s column %d = %s, want %s", table, i, r["name"], want[i])
			}
		}
	}
	t.Logf("server %s, flavor %s", s.ServerVersion(), res.Flavor)
}

func TestRoundTripAndVerifyDetectsTampering(t *testing.T) {
	db := testDB(t)
	s := openStore(t, clickhouseAddr(), db)
	w := newWriter(t, t.TempDir(), s)
	var sent []audit.Event
	for i := range 20 {
		e := loadEvent(i)
		if i == 3 {
			e.FirstByte = time.Time{} // non-streaming error path: no first byte
			e.Status, e.Decision, e.Error = 502, audit.DecisionDeny, "upstream reset"
			e.ToolCalls = []audit.ToolCall{{Name: "get_labs", Arguments: `{"mrn":"[MRN]"}`}}
			e.Stream = true
		}
		if err := w.RecordDurable(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, *e)
	}
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, clickhouseAddr(), db)
	defer s.Close(context.Background())

	// Every field survives the round trip exactly.
	var got []audit.Event
	if err := s.Query(context.Background(), "audit_events", "", "writer_id, seq", func(e *audit.Event) error {
		got = append(got, *e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sent) {
		t.Fatalf("got %d events, want %d", len(got), len(sent))
	}
	for i := range sent {
		if !reflect.DeepEqual(got[i], sent[i]) {
			t.Fatalf("event %d differs:\n got %+v\nwant %+v", i, got[i], sent[i])
		}
	}
	if v := verifyTable(t, s); !v.OK() || v.Events != 20 {
		t.Fatalf("intact table: events %d problems %v", v.Events, v.Problems)
	}

	// Edit: a newer row for the same event replaces the old one under FINAL.
	edited := sent[5]
	edited.Decision = audit.DecisionDeny
	if err := s.Write(context.Background(), []audit.Event{edited}); err != nil {
		t.Fatal(err)
	}
	// Delete: a mutation removes seq 9.
	if err := s.Conn().Exec(context.Background(), q(db, "ALTER TABLE {db}.audit_events DELETE WHERE seq = 9")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second) // 18.16 schedules mutations lazily
	for count(t, s, q(db, "SELECT count() FROM {db}.audit_events WHERE seq = 9")) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("delete mutation did not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}
	v := verifyTable(t, s)
	kinds := map[string]uint64{}
	for _, p := range v.Problems {
		kinds[p.Kind] = p.Seq
	}
	if kinds[audit.ProblemEdited] != 6 || kinds[audit.ProblemMissing] != 10 {
		t.Fatalf("want edited seq 6 and missing before seq 10, got %v", v.Problems)
	}
}

func TestWriteRejectsNothingOnEmptyBatch(t *testing.T) {
	db := testDB(t)
	s := openStore(t, clickhouseAddr(), db)
	defer s.Close(context.Background())
	if err := s.Write(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// Duplicates of one event collapse under FINAL.
	c := audit.Chain{WriterID: uuid.Must(uuid.NewV7())}
	e := loadEvent(1)
	c.Seal(e)
	for range 3 {
		if err := s.Write(context.Background(), []audit.Event{*e}); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s, q(db, "SELECT count() FROM {db}.audit_events FINAL")); n != 1 {
		t.Fatalf("FINAL count = %d, want 1", n)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{Database: "ward; DROP", ContentTTLDays: -1, DialTimeout: -1}
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"audit.clickhouse.database", "audit.clickhouse.content_ttl_days", "audit.clickhouse.dial_timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s in %v", want, err)
		}
	}
}

func TestModernDDLUsesModernTypes(t *testing.T) {
	ddl := FlavorFor(24, 30).DDL("ward")
	table := ddl[2]
	for _, want := range []string{"DateTime64(3, 'UTC')", "LowCardinality(String)", "CODEC(", "TTL toDateTime(ts) + INTERVAL 30 DAY",
		"injection_score Nullable(Float32)", "injection_rules Array(LowCardinality(String))", "topic_nearest LowCardinality(String)",
		"topic_directive Nullable(UInt8)"} {
		if !strings.Contains(table, want) {
			t.Errorf("modern DDL lacks %s", want)
		}
	}
	legacy := FlavorFor(18, 30).DDL("ward")[2]
	for _, bad := range []string{"DateTime64", "LowCardinality", "CODEC", "TTL "} {
		if strings.Contains(legacy, bad) {
			t.Errorf("legacy DDL uses %s", bad)
		}
	}
}

// TestMigrateAddsColumnsToOlderTables: a database created by schema
// version 1 (without the streaming columns) is brought up to date, and
// events with the new fields round-trip through it.
func TestMigrateAddsColumnsToOlderTables(t *testing.T) {
	addr := requireClickHouse(t)
	db := "ward_test_v1_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	ctx := context.Background()
	s := openStore(t, addr, db)
	t.Cleanup(func() {
		s.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+db)
		s.Close(ctx)
	})
	added := map[string]bool{"first_token_ms": true, "tpot_us": true, "max_held_chars": true}
	all := columns
	var v1 []column
	for _, c := range all {
		if !added[c.name] {
			v1 = append(v1, c)
		}
	}
	columns = v1
	for _, q := range s.Flavor().DDL(db) {
		if err := s.Conn().Exec(ctx, q); err != nil {
			columns = all
			t.Fatal(err)
		}
	}
	columns = all
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := loadEvent(1)
	e.FirstToken = e.Start.Add(350 * time.Millisecond)
	e.TPOTUs, e.MaxHeldChars = 21000, 37
	var c audit.Chain
	c.Seal(e)
	if err := s.Write(ctx, []audit.Event{*e}); err != nil {
		t.Fatal(err)
	}
	var got []audit.Event
	if err := s.FindUser(ctx, e.EndUser, e.Start.Add(-time.Minute), e.Start.Add(time.Minute), func(e *audit.Event) error { got = append(got, *e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].TPOTUs != 21000 || got[0].MaxHeldChars != 37 || !got[0].FirstToken.Equal(e.FirstToken) || got[0].Hash != e.Hash {
		t.Fatalf("round trip through migrated tables: %+v", got)
	}
	if ttft := count(t, s, q(db, "SELECT toUInt64(ttft_ms) FROM {db}.audit_events")); ttft != 350 {
		t.Fatalf("ttft_ms = %d, want the first token's 350", ttft)
	}
}

// TestMigrateReplacesFullByUserCopy: a version 2 database (with the
// full-width audit_events_by_user copy) is upgraded to the narrow user
// index. Events written before the upgrade are found through the backfilled
// index, the copy and its view are gone, and a second Migrate changes
// nothing.
func TestMigrateReplacesFullByUserCopy(t *testing.T) {
	addr := requireClickHouse(t)
	db := "ward_test_v2_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	ctx := context.Background()
	s := openStore(t, addr, db)
	t.Cleanup(func() {
		s.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+db)
		s.Close(ctx)
	})
	// The version 2 schema, as Migrate created it.
	for _, stmt := range []string{
		"CREATE DATABASE " + db,
		"CREATE TABLE " + db + ".schema_migrations (version UInt32, applied_at DateTime, flavor String, server_version String) ENGINE = ReplacingMergeTree ORDER BY version",
		"CREATE TABLE " + db + ".audit_events (\n" + s.Flavor().columnsDDL() + "\n) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (team, ts, event_id)",
		"CREATE TABLE " + db + ".audit_events_by_user (\n" + s.Flavor().columnsDDL() + "\n) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (end_user, ts, event_id)",
		"CREATE MATERIALIZED VIEW " + db + ".audit_events_by_user_mv TO " + db + ".audit_events_by_user AS SELECT * FROM " + db + ".audit_events",
		"INSERT INTO " + db + ".schema_migrations SELECT 2, now(), 'legacy', 'test'",
	} {
		if err := s.Conn().Exec(ctx, stmt); err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
	}
	var c audit.Chain
	old := loadEvent(7)
	c.Seal(old)
	if err := s.Write(ctx, []audit.Event{*old}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		res, err := s.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.ToVersion != SchemaVersion {
			t.Fatalf("migrate: %+v", res)
		}
	}
	for _, gone := range []string{"audit_events_by_user", "audit_events_by_user_mv"} {
		if n := count(t, s, fmt.Sprintf("SELECT count() FROM system.tables WHERE database = '%s' AND name = '%s'", db, gone)); n != 0 {
			t.Errorf("%s still exists after the upgrade", gone)
		}
	}
	if n := count(t, s, q(db, "SELECT toUInt64(max(version)) FROM {db}.schema_migrations")); n != SchemaVersion {
		t.Fatalf("schema version %d", n)
	}
	// An event written after the upgrade goes through the new view.
	fresh := loadEvent(7)
	c.Seal(fresh)
	if err := s.Write(ctx, []audit.Event{*fresh}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.FindUser(ctx, old.EndUser, old.Start.Add(-time.Minute), fresh.Start.Add(time.Minute), func(e *audit.Event) error {
		got = append(got, e.Hash)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{old.Hash, fresh.Hash}; !reflect.DeepEqual(got, want) {
		t.Fatalf("found %v, want %v (before and after the upgrade)", got, want)
	}
}
