package chstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/wardhq/ward/extproc/audit"
)

// Config locates the ClickHouse database.
type Config struct {
	Addr           string        // native protocol host:port (default 127.0.0.1:9000)
	Database       string        // default "ward"
	Username       string        // default "default"
	Password       string        //
	DialTimeout    time.Duration // default 5s
	ContentTTLDays int           // content column TTL on ClickHouse >= 20; 0 = keep
}

// DefaultAddr is used when Config.Addr and WARD_CLICKHOUSE_ADDR are empty.
const DefaultAddr = "127.0.0.1:9000"

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = os.Getenv("WARD_CLICKHOUSE_ADDR")
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Database == "" {
		c.Database = "ward"
	}
	if c.Username == "" {
		c.Username = "default"
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
}

// Validate reports every invalid field at once.
func (c *Config) Validate() error {
	var errs []error
	if !identRe.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("audit.clickhouse.database: %q is not a plain identifier", c.Database))
	}
	if c.ContentTTLDays < 0 {
		errs = append(errs, fmt.Errorf("audit.clickhouse.content_ttl_days: %d, must be >= 0", c.ContentTTLDays))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("audit.clickhouse.dial_timeout: %v, must be >= 0", c.DialTimeout))
	}
	return errors.Join(errs...)
}

// Store is a ClickHouse connection for one audit database. It implements
// audit.Sink.
type Store struct {
	cfg    Config
	conn   driver.Conn
	flavor Flavor
	server string
	insert string

	mu      sync.Mutex
	selects map[string]string // table -> select list, see selectFor
}

var _ audit.Sink = (*Store)(nil)

// Open connects and detects the server version (which picks the DDL flavor).
// It does not create anything; run Migrate for that.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{cfg.Addr},
		Auth:        clickhouse.Auth{Username: cfg.Username, Password: cfg.Password},
		DialTimeout: cfg.DialTimeout,
		// The writer already batches; one connection per writer is enough.
		MaxOpenConns: 4,
		MaxIdleConns: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse %s: %w", cfg.Addr, err)
	}
	v, err := conn.ServerVersion()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse %s: server version: %w", cfg.Addr, err)
	}
	return &Store{
		cfg:    cfg,
		conn:   conn,
		flavor: FlavorFor(v.Version.Major, cfg.ContentTTLDays),
		server: v.Version.String(),
		insert: fmt.Sprintf("INSERT INTO %s.audit_events (%s)", cfg.Database, columnList()),
	}, nil
}

// Database is the database name.
func (s *Store) Database() string { return s.cfg.Database }

// Flavor is the DDL dialect chosen for the server.
func (s *Store) Flavor() Flavor { return s.flavor }

// ServerVersion is the server's version string.
func (s *Store) ServerVersion() string { return s.server }

// Conn exposes the connection for ad-hoc queries (tests, tools).
func (s *Store) Conn() driver.Conn { return s.conn }

// MigrateResult says what Migrate did.
type MigrateResult struct {
	Flavor        string
	ServerVersion string
	FromVersion   uint32 // 0 when the database was new
	ToVersion     uint32
}

// Migrate creates the database, tables and views if missing and records the
// schema version. Running it again changes nothing.
func (s *Store) Migrate(ctx context.Context) (MigrateResult, error) {
	res := MigrateResult{Flavor: s.flavor.name(), ServerVersion: s.server, ToVersion: SchemaVersion}
	for _, q := range s.flavor.DDL(s.cfg.Database) {
		if err := s.conn.Exec(ctx, q); err != nil {
			return res, fmt.Errorf("migrate: %w\n%s", err, q)
		}
	}
	if err := s.addMissingColumns(ctx); err != nil {
		return res, err
	}
	s.mu.Lock()
	s.selects = nil // the tables may have new columns now
	s.mu.Unlock()
	row := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT max(version) FROM %s.schema_migrations", s.cfg.Database))
	if err := row.Scan(&res.FromVersion); err != nil {
		return res, fmt.Errorf("migrate: read version: %w", err)
	}
	if res.FromVersion >= SchemaVersion {
		return res, nil
	}
	if res.FromVersion > 0 && res.FromVersion < 3 {
		if err := s.replaceByUserCopy(ctx); err != nil {
			return res, err
		}
	}
	// INSERT ... SELECT: 18.x servers wait for a client data block after
	// INSERT ... VALUES sent over the native protocol.
	q := fmt.Sprintf("INSERT INTO %s.schema_migrations (version, applied_at, flavor, server_version) SELECT %d, now(), '%s', '%s'",
		s.cfg.Database, SchemaVersion, s.flavor.name(), quote(s.server))
	if err := s.conn.Exec(ctx, q); err != nil {
		return res, fmt.Errorf("migrate: record version: %w", err)
	}
	return res, nil
}

// replaceByUserCopy upgrades a version 1 or 2 database: the full-width
// audit_events_by_user copy and its view are dropped and audit_user_index
// (already created and being filled by its view) is backfilled from
// audit_events. Every step can run again: the backfill may insert an event
// the view also inserted, and ReplacingMergeTree collapses the pair, so a
// migration interrupted here is finished by running it again. Nothing is
// lost: the dropped table only held copies of audit_events rows.
func (s *Store) replaceByUserCopy(ctx context.Context) error {
	db := s.cfg.Database
	for _, q := range []string{
		fmt.Sprintf("DROP TABLE IF EXISTS %s.%s", db, legacyByUserView),
		fmt.Sprintf("INSERT INTO %s.audit_user_index (%s) SELECT %s FROM %s.audit_events", db, userIndexColumns, userIndexColumns, db),
		fmt.Sprintf("DROP TABLE IF EXISTS %s.%s", db, legacyByUserTable),
	} {
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("migrate to schema 3: %w\n%s", err, q)
		}
	}
	return nil
}

// addMissingColumns brings tables created by an older schema version up to
// date. ClickHouse 18.x has no ADD COLUMN IF NOT EXISTS, so existing
// columns are read from system.columns first. New columns are appended in
// order; inserts name their columns, so position does not matter.
func (s *Store) addMissingColumns(ctx context.Context) error {
	for _, table := range []string{"audit_events"} {
		rows, err := s.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", s.cfg.Database, table)
		if err != nil {
			return fmt.Errorf("migrate: list columns of %s: %w", table, err)
		}
		have := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return fmt.Errorf("migrate: list columns of %s: %w", table, err)
			}
			have[name] = true
		}
		rows.Close()
		for _, c := range columns {
			if have[c.name] {
				continue
			}
			q := fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN %s %s", s.cfg.Database, table, c.name, s.flavor.columnType(c))
			if err := s.conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("migrate: %w\n%s", err, q)
			}
		}
	}
	return nil
}

func quote(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Write inserts events in one native-protocol batch, column by column.
func (s *Store) Write(ctx context.Context, events []audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, s.insert)
	if err != nil {
		return fmt.Errorf("clickhouse insert: %w", err)
	}
	n := len(events)
	str := func() []string { return make([]string, n) }
	num := func() []int64 { return make([]int64, n) }
	strs2 := func() [][]string { return make([][]string, n) }
	var (
		ids, writers = make([]uuid.UUID, n), make([]uuid.UUID, n)
		seq          = make([]uint64, n)
		ts           = make([]time.Time, n)
		stream       = make([]uint8, n)
		status       = make([]uint16, n)
		phiC, redC   = make([][]uint32, n), make([][]uint32, n)

		startMs, firstMs, endMs                = num(), num(), num()
		inTok, outTok, cachedTok, cost         = num(), num(), num(), num()
		latency, ttft, upstream, overhead      = num(), num(), num(), num()
		firstTok, tpot, held                   = num(), num(), num()
		requestID, traceID, spanID             = str(), str(), str()
		team, app, keyID, endUser              = str(), str(), str(), str()
		profile, endpoint, provider, modelReq  = str(), str(), str(), str()
		modelServed, decision, reason, policy  = str(), str(), str(), str()
		level, completion, contentHash, errs   = str(), str(), str(), str()
		prevHash, hash                         = str(), str()
		phiT, redT, roles, texts, toolN, toolA = strs2(), strs2(), strs2(), strs2(), strs2(), strs2()

		injScore, inScope = make([]*float32, n), make([]*float32, n)
		injRules, nearest = strs2(), str()
		directive         = make([]*uint8, n)
		scores            = make([]float32, 0, 2*n) // backs the score pointers
		flags             = make([]uint8, 0, n)     // backs the directive pointers
	)
	// The per-row array columns are carved out of two backing arrays, not
	// allocated per event.
	var nStr, nCount int
	for i := range events {
		e := &events[i]
		nCount += len(e.PHI) + len(e.Redactions)
		nStr += len(e.PHI) + len(e.Redactions) + 2*len(e.Prompt) + 2*len(e.ToolCalls)
	}
	strBuf, countBuf := make([]string, nStr), make([]uint32, nCount)
	takeStr := func(k int) []string {
		out := strBuf[:k:k]
		strBuf = strBuf[k:]
		return out
	}
	splitCounts := func(cs []audit.Count) ([]string, []uint32) {
		t, c := takeStr(len(cs)), countBuf[:len(cs):len(cs)]
		countBuf = countBuf[len(cs):]
		for i, x := range cs {
			t[i], c[i] = x.Type, x.Count
		}
		return t, c
	}
	for i := range events {
		e := &events[i]
		ids[i], writers[i], seq[i], ts[i] = e.ID, e.WriterID, e.Seq, e.Start
		startMs[i], firstMs[i], endMs[i] = audit.UnixMs(e.Start), audit.UnixMs(e.FirstByte), audit.UnixMs(e.End)
		inTok[i], outTok[i], cachedTok[i], cost[i] = e.InputTokens, e.OutputTokens, e.CachedTokens, e.CostMicroUSD
		latency[i], ttft[i], upstream[i], overhead[i] = e.LatencyMs(), e.TTFTMs(), e.UpstreamMs, e.WardOverheadUs
		firstTok[i], tpot[i], held[i] = audit.UnixMs(e.FirstToken), e.TPOTUs, e.MaxHeldChars
		requestID[i], traceID[i], spanID[i] = e.RequestID, e.TraceID, e.SpanID
		team[i], app[i], keyID[i], endUser[i] = e.Team, e.App, e.KeyID, e.EndUser
		profile[i], endpoint[i], provider[i], modelReq[i] = e.Profile, e.Endpoint, e.Provider, e.ModelRequested
		modelServed[i], decision[i], reason[i], policy[i] = e.ModelServed, e.Decision, e.ReasonCode, e.PolicyRevision
		level[i], completion[i], contentHash[i], errs[i] = e.ContentLevel, e.Completion, e.ContentHash, e.Error
		prevHash[i], hash[i] = e.PrevHash, e.Hash
		if e.Stream {
			stream[i] = 1
		}
		status[i] = uint16(min(max(e.Status, 0), 65535))
		phiT[i], phiC[i] = splitCounts(e.PHI)
		redT[i], redC[i] = splitCounts(e.Redactions)
		roles[i], texts[i] = takeStr(len(e.Prompt)), takeStr(len(e.Prompt))
		for k, m := range e.Prompt {
			roles[i][k], texts[i][k] = m.Role, m.Content
		}
		toolN[i], toolA[i] = takeStr(len(e.ToolCalls)), takeStr(len(e.ToolCalls))
		for k, tc := range e.ToolCalls {
			toolN[i][k], toolA[i][k] = tc.Name, tc.Arguments
		}
		injRules[i] = noStrings
		if in := e.Injection; in != nil {
			scores = append(scores, in.Score)
			injScore[i] = &scores[len(scores)-1]
			if len(in.Rules) > 0 {
				injRules[i] = in.Rules
			}
		}
		if tp := e.Topic; tp != nil {
			scores = append(scores, tp.InScope)
			inScope[i] = &scores[len(scores)-1]
			nearest[i] = tp.Nearest
			flag := uint8(0)
			if tp.Directive {
				flag = 1
			}
			flags = append(flags, flag)
			directive[i] = &flags[len(flags)-1]
		}
	}
	// Same order as columns.
	values := []any{
		ids, writers, seq, ts, startMs, firstMs, endMs,
		requestID, traceID, spanID, team, app, keyID, endUser,
		profile, endpoint, provider, modelReq, modelServed,
		stream, status, decision, reason, policy,
		phiT, phiC, redT, redC, level,
		roles, texts, completion, toolN, toolA, contentHash,
		inTok, outTok, cachedTok, cost, latency, ttft, upstream, overhead,
		firstTok, tpot, held,
		injScore, injRules, inScope, nearest, directive,
		errs, prevHash, hash,
	}
	if len(values) != len(columns) {
		panic("chstore: insert values do not match columns") // programming error, caught by tests
	}
	for i, v := range values {
		if err := b.Column(i).Append(v); err != nil {
			_ = b.Abort()
			return fmt.Errorf("clickhouse insert column %s: %w", columns[i].name, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("clickhouse insert: %w", err)
	}
	return nil
}

// Close closes the connection.
func (s *Store) Close(context.Context) error { return s.conn.Close() }

// selectList reads back exactly the hashed fields (derived columns skipped).
const selectList = `event_id, writer_id, seq, start_ms, first_byte_ms, end_ms,
request_id, trace_id, span_id, team, app, key_id, end_user,
profile, endpoint, provider, model_requested, model_served, stream, status,
decision, reason_code, policy_revision, phi_types, phi_counts, redaction_types, redaction_counts,
content_level, prompt_roles, prompt_texts, completion, tool_names, tool_args, content_hash,
input_tokens, output_tokens, cached_tokens, cost_micro_usd, upstream_ms, ward_overhead_us,
first_token_ms, tpot_us, max_held_chars,
injection_score, injection_rules, topic_in_scope, topic_nearest, topic_directive,
error, prev_hash, hash`

// noStrings is the empty array for rows without rules (never written to).
var noStrings = []string{}

// selectFor is selectList for table, with the columns the table lacks
// (a database not yet migrated) replaced by their values for an event
// without those fields. Cached per table; Migrate clears the cache.
func (s *Store) selectFor(ctx context.Context, table string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.selects[table]; ok {
		return q, nil
	}
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", s.cfg.Database, table)
	if err != nil {
		return "", fmt.Errorf("clickhouse: list columns of %s: %w", table, err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return "", fmt.Errorf("clickhouse: list columns of %s: %w", table, err)
		}
		have[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("clickhouse: list columns of %s: %w", table, err)
	}
	q := selectList
	if len(have) > 0 { // an unknown table keeps the list; the query then reports it
		for name, fallback := range addedColumns {
			if !have[name] {
				q = strings.Replace(q, name+",", fallback+" AS "+name+",", 1)
			}
		}
	}
	if s.selects == nil {
		s.selects = map[string]string{}
	}
	s.selects[table] = q
	return q, nil
}

// Query selects events from table (normally "audit_events") with FINAL, filtered by where (with ? args) and ordered by orderBy, and
// calls fn for each.
func (s *Store) Query(ctx context.Context, table, where, orderBy string, fn func(*audit.Event) error, args ...any) error {
	if !identRe.MatchString(table) {
		return fmt.Errorf("chstore: bad table %q", table)
	}
	sel, err := s.selectFor(ctx, table)
	if err != nil {
		return err
	}
	q := fmt.Sprintf("SELECT %s FROM %s.%s FINAL", sel, s.cfg.Database, table)
	if where != "" {
		q += " WHERE " + where
	}
	if orderBy != "" {
		q += " ORDER BY " + orderBy
	}
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("clickhouse query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e                          audit.Event
			startMs, firstMs, endMs    int64
			firstTokMs                 int64
			stream                     uint8
			status                     uint16
			phiT, redT                 []string
			phiC, redC                 []uint32
			roles, texts, toolN, toolA []string
			injScore, inScope          *float32
			injRules                   []string
			nearest                    string
			directive                  *uint8
		)
		if err := rows.Scan(&e.ID, &e.WriterID, &e.Seq, &startMs, &firstMs, &endMs,
			&e.RequestID, &e.TraceID, &e.SpanID, &e.Team, &e.App, &e.KeyID, &e.EndUser,
			&e.Profile, &e.Endpoint, &e.Provider, &e.ModelRequested, &e.ModelServed, &stream, &status,
			&e.Decision, &e.ReasonCode, &e.PolicyRevision, &phiT, &phiC, &redT, &redC,
			&e.ContentLevel, &roles, &texts, &e.Completion, &toolN, &toolA, &e.ContentHash,
			&e.InputTokens, &e.OutputTokens, &e.CachedTokens, &e.CostMicroUSD, &e.UpstreamMs, &e.WardOverheadUs,
			&firstTokMs, &e.TPOTUs, &e.MaxHeldChars,
			&injScore, &injRules, &inScope, &nearest, &directive,
			&e.Error, &e.PrevHash, &e.Hash); err != nil {
			return fmt.Errorf("clickhouse scan: %w", err)
		}
		e.Start, e.FirstByte, e.End = audit.FromUnixMs(startMs), audit.FromUnixMs(firstMs), audit.FromUnixMs(endMs)
		e.FirstToken = audit.FromUnixMs(firstTokMs)
		e.Stream, e.Status = stream == 1, int(status)
		e.PHI, e.Redactions = joinCounts(phiT, phiC), joinCounts(redT, redC)
		for i := range min(len(roles), len(texts)) {
			e.Prompt = append(e.Prompt, audit.Message{Role: roles[i], Content: texts[i]})
		}
		for i := range min(len(toolN), len(toolA)) {
			e.ToolCalls = append(e.ToolCalls, audit.ToolCall{Name: toolN[i], Arguments: toolA[i]})
		}
		e.Injection, e.Topic = verdicts(injScore, injRules, inScope, nearest, directive)
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse query: %w", err)
	}
	return nil
}

// FindUser calls fn for each event of endUser that started in [from, to),
// in start order. The user index narrows the search to the user's event ids
// (it is ordered by end user and time); the events themselves are read from
// audit_events with FINAL, so replayed duplicates appear once.
func (s *Store) FindUser(ctx context.Context, endUser string, from, to time.Time, fn func(*audit.Event) error) error {
	// ts (whole seconds on 18.x) prunes partitions and index ranges; start_ms
	// is exact.
	where := fmt.Sprintf(`event_id IN (
    SELECT event_id FROM %s.audit_user_index
    WHERE end_user = ? AND ts >= toDateTime(?) AND ts <= toDateTime(?))
AND ts >= toDateTime(?) AND ts <= toDateTime(?) AND end_user = ? AND start_ms >= ? AND start_ms < ?`, s.cfg.Database)
	lo, hi := from.Unix()-1, to.Unix()+1
	return s.Query(ctx, "audit_events", where, "start_ms, event_id", fn,
		endUser, lo, hi, lo, hi, endUser, from.UnixMilli(), to.UnixMilli())
}

// tamperedScore stands in for a score a row cannot have: Ward writes
// scores in [0, 1], so an event carrying it fails its hash.
const tamperedScore = -1

// verdicts rebuilds the detector verdicts from their columns. A verdict is
// present when its score is not NULL. Columns Ward never fills that way
// (rules or a nearest topic without a score, a NULL or non-boolean
// directive) are kept with tamperedScore, so the row is reported as edited
// instead of its extra values being silently dropped before hashing.
func verdicts(injScore *float32, rules []string, inScope *float32, nearest string, directive *uint8) (*audit.Injection, *audit.Topic) {
	var in *audit.Injection
	var tp *audit.Topic
	if len(rules) == 0 {
		rules = nil
	}
	if injScore != nil {
		in = &audit.Injection{Score: *injScore, Rules: rules}
	} else if rules != nil {
		in = &audit.Injection{Score: tamperedScore, Rules: rules}
	}
	if inScope != nil || nearest != "" || directive != nil {
		tp = &audit.Topic{InScope: tamperedScore, Nearest: nearest}
		if inScope != nil && directive != nil && *directive <= 1 {
			tp.InScope, tp.Directive = *inScope, *directive == 1
		}
	}
	return in, tp
}

func joinCounts(t []string, c []uint32) []audit.Count {
	if len(t) == 0 {
		return nil
	}
	out := make([]audit.Count, min(len(t), len(c)))
	for i := range out {
		out[i] = audit.Count{Type: t[i], Count: c[i]}
	}
	return out
}
