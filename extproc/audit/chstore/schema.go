// Package chstore stores audit events in ClickHouse: schema and migrations,
// the batch-insert Sink, and the readers behind `ward audit verify|tail|find`.
package chstore

import (
	"fmt"
	"strings"
)

// SchemaVersion is recorded in <db>.schema_migrations by Migrate.
//
// Version 3 replaced audit_events_by_user (a full copy of every event ordered
// by end user) with audit_user_index, which holds only the columns needed to
// find a user's events; see Migrate for the upgrade.
//
// Version 4 added the detector verdicts (injection_score, injection_rules,
// topic_in_scope, topic_nearest, topic_directive); Migrate adds them to
// older tables with ALTER TABLE ... ADD COLUMN.
const SchemaVersion = 4

// Objects dropped by the version 3 migration (the full-width by-user copy).
const (
	legacyByUserTable = "audit_events_by_user"
	legacyByUserView  = "audit_events_by_user_mv"
)

// column is one audit_events column: name, type on old servers (18.x/19.x),
// type on ClickHouse >= 20, and whether it holds conversation content (TTL).
type column struct {
	name, legacy, modern string
	content              bool
}

// lc is LowCardinality(String) on modern servers.
const lc = "LowCardinality(String)"

// columns in insert order. Column NAMES are identical on every server so the
// queries in examples/sql run on both; only types differ.
var columns = []column{
	{"event_id", "UUID", "UUID", false},
	{"writer_id", "UUID", "UUID", false},
	{"seq", "UInt64", "UInt64 CODEC(Delta, ZSTD(1))", false},
	{"ts", "DateTime('UTC')", "DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1))", false}, // request start
	{"start_ms", "Int64", "Int64 CODEC(Delta, ZSTD(1))", false},
	{"first_byte_ms", "Int64", "Int64 CODEC(Delta, ZSTD(1))", false},
	{"end_ms", "Int64", "Int64 CODEC(Delta, ZSTD(1))", false},
	{"request_id", "String", "String CODEC(ZSTD(1))", false},
	{"trace_id", "String", "String CODEC(ZSTD(1))", false},
	{"span_id", "String", "String CODEC(ZSTD(1))", false},
	{"team", "String", lc, false},
	{"app", "String", lc, false},
	{"key_id", "String", lc, false},
	{"end_user", "String", "String CODEC(ZSTD(1))", false},
	{"profile", "String", lc, false},
	{"endpoint", "String", lc, false},
	{"provider", "String", lc, false},
	{"model_requested", "String", lc, false},
	{"model_served", "String", lc, false},
	{"stream", "UInt8", "UInt8", false},
	{"status", "UInt16", "UInt16", false},
	{"decision", "String", lc, false},
	{"reason_code", "String", lc, false},
	{"policy_revision", "String", lc, false},
	{"phi_types", "Array(String)", "Array(" + lc + ")", false},
	{"phi_counts", "Array(UInt32)", "Array(UInt32)", false},
	{"redaction_types", "Array(String)", "Array(" + lc + ")", false},
	{"redaction_counts", "Array(UInt32)", "Array(UInt32)", false},
	{"content_level", "String", lc, false},
	{"prompt_roles", "Array(String)", "Array(" + lc + ")", true},
	{"prompt_texts", "Array(String)", "Array(String) CODEC(ZSTD(3))", true},
	{"completion", "String", "String CODEC(ZSTD(3))", true},
	{"tool_names", "Array(String)", "Array(" + lc + ")", true},
	{"tool_args", "Array(String)", "Array(String) CODEC(ZSTD(3))", true},
	{"content_hash", "String", "String CODEC(ZSTD(1))", false},
	{"input_tokens", "Int64", "Int64 CODEC(T64, ZSTD(1))", false},
	{"output_tokens", "Int64", "Int64 CODEC(T64, ZSTD(1))", false},
	{"cached_tokens", "Int64", "Int64 CODEC(T64, ZSTD(1))", false},
	{"cost_micro_usd", "Int64", "Int64 CODEC(T64, ZSTD(1))", false},
	{"latency_ms", "Int64", "Int64 CODEC(T64, ZSTD(1))", false},
	{"ttft_ms", "Int64", "Int64 CODEC(T64, ZSTD(1))", false},
	{"upstream_ms", "Int64", "Int64 CODEC(T64, ZSTD(1))", false},
	{"ward_overhead_us", "Int64", "Int64 CODEC(T64, ZSTD(1))", false},
	// Added in schema version 2 (streaming guardrails).
	{"first_token_ms", "Int64", "Int64 CODEC(Delta, ZSTD(1))", false},
	{"tpot_us", "Int64", "Int64 CODEC(T64, ZSTD(1))", false},
	{"max_held_chars", "Int64", "Int64 CODEC(T64, ZSTD(1))", false},
	// Added in schema version 4 (detector verdicts). The scores and the
	// directive flag are NULL when the detector did not run, so "not
	// checked" never reads as "scored 0"; the rules and the nearest topic
	// are then empty.
	{"injection_score", "Nullable(Float32)", "Nullable(Float32)", false},
	{"injection_rules", "Array(String)", "Array(" + lc + ")", false},
	{"topic_in_scope", "Nullable(Float32)", "Nullable(Float32)", false},
	{"topic_nearest", "String", lc, false},
	{"topic_directive", "Nullable(UInt8)", "Nullable(UInt8)", false},
	{"error", "String", "String CODEC(ZSTD(1))", false},
	{"prev_hash", "String", "String CODEC(ZSTD(1))", false},
	{"hash", "String", "String CODEC(ZSTD(1))", false},
}

// addedColumns are the columns of later schema versions, each with what a
// reader selects in its place from a table not yet migrated (`ward audit
// verify` run by a new CLI against a database an older Ward wrote). The
// values are the ones an event without those fields has.
var addedColumns = map[string]string{
	"first_token_ms":  "toInt64(0)",
	"tpot_us":         "toInt64(0)",
	"max_held_chars":  "toInt64(0)",
	"injection_score": "CAST(NULL AS Nullable(Float32))",
	"injection_rules": "emptyArrayString()",
	"topic_in_scope":  "CAST(NULL AS Nullable(Float32))",
	"topic_nearest":   "''",
	"topic_directive": "CAST(NULL AS Nullable(UInt8))",
}

// userIndexColumns are the audit_events columns copied to audit_user_index.
const userIndexColumns = "end_user, ts, event_id, team"

func (f Flavor) userIndexColumnsDDL() string {
	var b strings.Builder
	for _, name := range strings.Split(userIndexColumns, ", ") {
		for _, c := range columns {
			if c.name == name {
				if b.Len() > 0 {
					b.WriteString(",\n")
				}
				fmt.Fprintf(&b, "    %s %s", c.name, f.columnType(c))
			}
		}
	}
	return b.String()
}

// columnList is "event_id, writer_id, ..." in insert order.
func columnList() string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// Flavor selects the DDL dialect by server version.
type Flavor struct {
	Modern         bool // ClickHouse >= 20: DateTime64, LowCardinality, codecs, TTL
	ContentTTLDays int  // modern only; 0 keeps content forever
}

// FlavorFor picks the dialect for a server major version.
func FlavorFor(major uint64, contentTTLDays int) Flavor {
	return Flavor{Modern: major >= 20, ContentTTLDays: contentTTLDays}
}

func (f Flavor) name() string {
	if f.Modern {
		return "modern"
	}
	return "legacy"
}

func (f Flavor) columnsDDL() string {
	var b strings.Builder
	for i, c := range columns {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "    %s %s", c.name, f.columnType(c))
	}
	return b.String()
}

// columnType is the column's type for this flavor, with the content TTL
// where it applies.
func (f Flavor) columnType(c column) string {
	if !f.Modern {
		return c.legacy
	}
	if c.content && f.ContentTTLDays > 0 {
		return fmt.Sprintf("%s TTL toDateTime(ts) + INTERVAL %d DAY", c.modern, f.ContentTTLDays)
	}
	return c.modern
}

// DDL returns the statements Migrate runs, in order; each is idempotent.
//
// audit_events is ordered for "by team over time". audit_user_index answers
// "by end user over time": a materialized view copies only (end_user, ts,
// event_id, team) into it, and readers fetch the full events from
// audit_events by event id. A full-width copy made every insert about three
// times as expensive on ClickHouse 18.16 (see docs/audit.md, Benchmarks).
// Both are ReplacingMergeTree, so a batch replayed after a lost ack collapses
// to one row per event (read with FINAL for exact answers).
func (f Flavor) DDL(db string) []string {
	cols := f.columnsDDL()
	table := func(name, order string) string {
		return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (\n%s\n) ENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMM(ts)\nORDER BY (%s)",
			db, name, cols, order)
	}
	return []string{
		fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s", db),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.schema_migrations (version UInt32, applied_at DateTime, flavor String, server_version String) ENGINE = ReplacingMergeTree ORDER BY version", db),
		table("audit_events", "team, ts, event_id"),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.audit_user_index (\n%s\n) ENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMM(ts)\nORDER BY (end_user, ts, event_id)",
			db, f.userIndexColumnsDDL()),
		fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.audit_user_index_mv TO %s.audit_user_index AS SELECT %s FROM %s.audit_events",
			db, db, userIndexColumns, db),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.spend_daily (
    team String,
    day Date,
    provider String,
    model_served String,
    requests UInt64,
    input_tokens Int64,
    output_tokens Int64,
    cached_tokens Int64,
    cost_micro_usd Int64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (team, day, provider, model_served)`, db),
		fmt.Sprintf(`CREATE MATERIALIZED VIEW IF NOT EXISTS %s.spend_daily_mv TO %s.spend_daily AS
SELECT team, toDate(ts) AS day, provider, model_served,
    toUInt64(count()) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cached_tokens) AS cached_tokens, sum(cost_micro_usd) AS cost_micro_usd
FROM %s.audit_events GROUP BY team, day, provider, model_served`, db, db, db),
	}
}
