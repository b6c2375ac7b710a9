package chstore

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wardhq/ward/extproc/audit"
)

// detectorColumns are the schema version 4 columns.
var detectorColumns = []string{"injection_score", "injection_rules", "topic_in_scope", "topic_nearest", "topic_directive"}

// verdictEvents is a chain segment covering every combination: no
// detector ran, injection only (with and without rules, scored 0), topic
// only, both.
func verdictEvents() []*audit.Event {
	set := []func(e *audit.Event){
		func(e *audit.Event) {},
		func(e *audit.Event) {
			e.Injection = &audit.Injection{Score: 0.93, Rules: []string{"instruction_override", "system_prompt_exfiltration"}}
			e.Decision, e.ReasonCode, e.Status = audit.DecisionDeny, "injection.detected", 403
		},
		func(e *audit.Event) { e.Injection = &audit.Injection{Score: 0} },
		func(e *audit.Event) { e.Topic = &audit.Topic{InScope: 0.97, Nearest: "discharge summary"} },
		func(e *audit.Event) {
			e.Injection = &audit.Injection{Score: 0.31, Rules: []string{"persona_switch"}}
			e.Topic = &audit.Topic{InScope: 0.08, Nearest: "coding help", Directive: true}
			e.Decision, e.ReasonCode, e.Status = audit.DecisionDeny, "topic.off_scope", 403
		},
		func(e *audit.Event) { e.Topic = &audit.Topic{InScope: 0, Directive: false} },
	}
	out := make([]*audit.Event, len(set))
	for i, f := range set {
		out[i] = loadEvent(i)
		f(out[i])
	}
	return out
}

// TestDetectorVerdictsInClickHouse: verdicts round-trip exactly (NULL for a
// detector that did not run, 0 for a score of 0), and editing any detector
// column of a stored row, or giving a verdict to a row that had none, is
// reported by verify as an edit of that row only.
func TestDetectorVerdictsInClickHouse(t *testing.T) {
	db := testDB(t)
	s := openStore(t, clickhouseAddr(), db)
	defer s.Close(context.Background())
	ctx := context.Background()
	c := audit.Chain{WriterID: uuid.Must(uuid.NewV7())}
	var sent []audit.Event
	for range 3 { // 18 events, seq 1..18
		for _, e := range verdictEvents() {
			c.Seal(e)
			sent = append(sent, *e)
		}
	}
	if err := s.Write(ctx, sent); err != nil {
		t.Fatal(err)
	}
	var got []audit.Event
	if err := s.Query(ctx, "audit_events", "", "writer_id, seq", func(e *audit.Event) error {
		got = append(got, *e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sent) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, sent)
	}
	if v := verifyTable(t, s); !v.OK() || v.Events != len(sent) {
		t.Fatalf("intact: %d events, problems %v", v.Events, v.Problems)
	}
	// NULL, not 0, where a detector did not run.
	nulls := queryRows(t, s, q(db, `SELECT toUInt64(countIf(isNull(injection_score))) AS inj, toUInt64(countIf(isNull(topic_in_scope))) AS top,
    toUInt64(countIf(isNull(topic_directive))) AS dir, toUInt64(countIf(injection_score = 0)) AS inj0 FROM {db}.audit_events FINAL`))
	if r := nulls[0]; r["inj"] != "9" || r["top"] != "9" || r["dir"] != "9" || r["inj0"] != "3" {
		t.Fatalf("NULL counts: %v", r)
	}

	// Each edit rewrites one row (seq) with one column changed; the newer
	// row replaces the old one under FINAL.
	tests := []struct {
		name      string
		seq       int // 1-based; see verdictEvents for what each seq holds
		col, expr string
	}{
		{"injection score lowered", 2, "injection_score", "CAST(0.1 AS Nullable(Float32))"},
		{"injection score nulled, rules left", 8, "injection_score", "CAST(NULL AS Nullable(Float32))"},
		{"injection rules replaced", 14, "injection_rules", "['persona_switch']"},
		{"injection rules emptied", 5, "injection_rules", "emptyArrayString()"},
		{"score 0 made did-not-run", 3, "injection_score", "CAST(NULL AS Nullable(Float32))"},
		{"topic in-scope raised", 11, "topic_in_scope", "CAST(0.99 AS Nullable(Float32))"},
		{"topic nearest changed", 4, "topic_nearest", "'billing'"},
		{"topic directive cleared", 17, "topic_directive", "CAST(0 AS Nullable(UInt8))"},
		{"topic directive nulled", 10, "topic_directive", "CAST(NULL AS Nullable(UInt8))"},
		{"topic directive not a flag", 12, "topic_directive", "CAST(2 AS Nullable(UInt8))"},
		{"injection verdict given to a row without", 7, "injection_score", "CAST(0 AS Nullable(Float32))"},
		{"nearest topic given to a row without", 13, "topic_nearest", "'discharge summary'"},
		{"topic score given to a row without", 15, "topic_in_scope", "CAST(0.5 AS Nullable(Float32))"},
	}
	want := map[uint64]bool{}
	for _, tc := range tests {
		cols := strings.Split(columnList(), ", ")
		exprs := make([]string, len(cols))
		for i, name := range cols {
			exprs[i] = name
			if name == tc.col {
				exprs[i] = tc.expr
			}
		}
		stmt := fmt.Sprintf("INSERT INTO %s.audit_events (%s) SELECT %s FROM %s.audit_events WHERE seq = %d",
			db, columnList(), strings.Join(exprs, ", "), db, tc.seq)
		if err := s.Conn().Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, stmt)
		}
		want[uint64(tc.seq)] = true
	}
	v := verifyTable(t, s)
	edited := map[uint64]bool{}
	for _, p := range v.Problems {
		if p.Kind != audit.ProblemEdited {
			t.Errorf("unexpected problem %v", p)
		}
		edited[p.Seq] = true
	}
	for _, tc := range tests {
		if !edited[uint64(tc.seq)] {
			t.Errorf("%s (seq %d): not reported", tc.name, tc.seq)
		}
	}
	if len(edited) != len(want) {
		t.Errorf("edited seqs %v, want %v", edited, want)
	}
}

// TestMigrateFromVersion3AddsDetectorColumns: a database written by
// schema version 3 (no detector columns) can be read and verified before
// the upgrade; Migrate adds the columns (old rows read NULL: no detector
// ran) and records version 4; the chain continues across the upgrade with
// events that carry verdicts, and verifies end to end.
func TestMigrateFromVersion3AddsDetectorColumns(t *testing.T) {
	addr := requireClickHouse(t)
	db := "ward_test_v3_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	ctx := context.Background()
	s := openStore(t, addr, db)
	t.Cleanup(func() {
		s.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+db)
		s.Close(ctx)
	})
	// The version 3 schema, as Migrate created it.
	all := columns
	var v3 []column
	for _, c := range all {
		if !strings.HasPrefix(c.name, "injection_") && !strings.HasPrefix(c.name, "topic_") {
			v3 = append(v3, c)
		}
	}
	if len(v3) != len(all)-len(detectorColumns) {
		t.Fatalf("detector columns not found in the column list")
	}
	columns = v3
	v3List := columnList()
	ddl := s.Flavor().DDL(db)
	columns = all
	ddl = append(ddl, "CREATE TABLE "+db+".staging (\n"+s.Flavor().columnsDDL()+"\n) ENGINE = MergeTree ORDER BY seq",
		"INSERT INTO "+db+".schema_migrations SELECT 3, now(), '"+s.Flavor().name()+"', 'test'")
	for _, stmt := range ddl {
		if err := s.Conn().Exec(ctx, stmt); err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
	}
	// Rows as a version 3 Ward wrote them: the v3 columns of sealed events
	// without verdicts (written to a staging table, then copied).
	staging := &Store{cfg: s.cfg, conn: s.conn, flavor: s.flavor,
		insert: fmt.Sprintf("INSERT INTO %s.staging (%s)", db, columnList())}
	c := audit.Chain{WriterID: uuid.Must(uuid.NewV7())}
	var sent []audit.Event
	for i := range 3 {
		e := loadEvent(i)
		c.Seal(e)
		sent = append(sent, *e)
	}
	if err := staging.Write(ctx, sent); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		fmt.Sprintf("INSERT INTO %s.audit_events (%s) SELECT %s FROM %s.staging", db, v3List, v3List, db),
		fmt.Sprintf("DROP TABLE %s.staging", db),
	} {
		if err := s.Conn().Exec(ctx, stmt); err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
	}

	read := func() []audit.Event {
		var got []audit.Event
		if err := s.Query(ctx, "audit_events", "", "writer_id, seq", func(e *audit.Event) error {
			got = append(got, *e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Before the upgrade: a new reader still reads and verifies the old table.
	if got := read(); !reflect.DeepEqual(got, sent) {
		t.Fatalf("version 3 table read before migrating:\n got %+v\nwant %+v", got, sent)
	}
	if v := verifyTable(t, s); !v.OK() || v.Events != 3 {
		t.Fatalf("version 3 table: %d events, problems %v", v.Events, v.Problems)
	}

	for i := range 2 {
		res, err := s.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if wantFrom := []uint32{3, 4}[i]; res.FromVersion != wantFrom || res.ToVersion != 4 {
			t.Fatalf("migrate %d: %+v", i+1, res)
		}
	}
	types := map[string]string{}
	for _, r := range queryRows(t, s, fmt.Sprintf("SELECT name, type FROM system.columns WHERE database = '%s' AND table = 'audit_events'", db)) {
		types[r["name"]] = r["type"]
	}
	for _, c := range all {
		if types[c.name] == "" {
			t.Errorf("column %s missing after migrate", c.name)
		}
	}
	for _, c := range all {
		if slices.Contains(detectorColumns, c.name) && types[c.name] != s.Flavor().columnType(c) {
			t.Errorf("%s has type %s, want %s", c.name, types[c.name], s.Flavor().columnType(c))
		}
	}
	if n := count(t, s, q(db, "SELECT toUInt64(countIf(isNull(injection_score) AND isNull(topic_in_scope) AND isNull(topic_directive))) FROM {db}.audit_events")); n != 3 {
		t.Fatalf("old rows with NULL verdicts: %d, want 3", n)
	}

	// The chain continues with verdicts.
	for _, e := range verdictEvents() {
		c.Seal(e)
		sent = append(sent, *e)
	}
	if err := s.Write(ctx, sent[3:]); err != nil {
		t.Fatal(err)
	}
	if got := read(); !reflect.DeepEqual(got, sent) {
		t.Fatalf("after the upgrade:\n got %+v\nwant %+v", got, sent)
	}
	if v := verifyTable(t, s); !v.OK() || v.Events != len(sent) {
		t.Fatalf("chain across the upgrade: %d events, problems %v", v.Events, v.Problems)
	}
}
