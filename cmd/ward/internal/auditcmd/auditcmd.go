// Package auditcmd implements `ward audit`: migrate the ClickHouse schema,
// verify the hash chain, follow new events, and print a conversation as a
// transcript for the compliance officer who does not write SQL.
package auditcmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/extproc/audit"
	"github.com/wardhq/ward/extproc/audit/chstore"
)

const usage = `usage: ward audit <command> [flags]

commands:
  migrate [--content-ttl-days N]          create database, tables and views (idempotent)
  verify  [--allow-head-gap] [--file F]   check the hash chain: edited, deleted or reordered rows
  tail    [--team T] [--user U] [--json] [--from TIME] [--interval 1s] [--lookback 5m]
                                          follow new events
  find    --user U --at TIME [--window 1h] [--json]
                                          print the conversation around TIME as a transcript

connection flags (all commands): --addr host:9000 (default $WARD_CLICKHOUSE_ADDR or 127.0.0.1:9000),
  --database ward, --user-name default, --password-env VAR (name of the env var holding the password)
TIME: RFC 3339 (2026-11-17T14:00:00Z) or "2026-11-17 14:00[:05]" in UTC.
`

// ErrProblems is returned by verify when the chain does not hold; the
// problems have been written to stdout.
var ErrProblems = errors.New("audit: verification failed")

// Run executes `ward audit <args>`.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("audit: missing command")
	}
	switch args[0] {
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr)
	case "verify":
		return runVerify(ctx, args[1:], stdin, stdout, stderr)
	case "tail":
		return runTail(ctx, args[1:], stdout, stderr)
	case "find":
		return runFind(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("audit: unknown command %q", args[0])
}

type conn struct {
	addr, database, user, passwordEnv string
	ttl                               int
}

func (c *conn) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "", "ClickHouse native address (default $WARD_CLICKHOUSE_ADDR or 127.0.0.1:9000)")
	fs.StringVar(&c.database, "database", "ward", "database")
	fs.StringVar(&c.user, "user-name", "default", "ClickHouse user")
	fs.StringVar(&c.passwordEnv, "password-env", "", "name of the environment variable holding the password")
}

func (c *conn) open(ctx context.Context) (*chstore.Store, error) {
	cfg := chstore.Config{Addr: c.addr, Database: c.database, Username: c.user, ContentTTLDays: c.ttl}
	if c.passwordEnv != "" {
		cfg.Password = os.Getenv(c.passwordEnv)
	}
	return chstore.Open(ctx, cfg)
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ward audit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", stderr)
	var c conn
	c.flags(fs)
	fs.IntVar(&c.ttl, "content-ttl-days", 0, "ClickHouse >= 20: drop prompt/completion text after N days (0 keeps it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	res, err := s.Migrate(ctx)
	if err != nil {
		return err
	}
	if res.FromVersion >= res.ToVersion {
		fmt.Fprintf(stdout, "database %s is at schema version %d (ClickHouse %s, %s DDL); nothing to do\n", s.Database(), res.ToVersion, res.ServerVersion, res.Flavor)
		return nil
	}
	fmt.Fprintf(stdout, "database %s migrated from schema version %d to %d (ClickHouse %s, %s DDL)\n", s.Database(), res.FromVersion, res.ToVersion, res.ServerVersion, res.Flavor)
	return nil
}

func runVerify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("verify", stderr)
	var c conn
	c.flags(fs)
	file := fs.String("file", "", "verify a JSON-lines audit file instead of ClickHouse (- for stdin)")
	allowHeadGap := fs.Bool("allow-head-gap", false, "accept chains that start after seq 1 (old partitions dropped)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	v := &audit.Verifier{AllowHeadGap: *allowHeadGap}
	var source string
	if *file != "" {
		source = *file
		r := stdin
		if *file != "-" {
			f, err := os.Open(*file)
			if err != nil {
				return fmt.Errorf("audit verify: %w", err)
			}
			defer f.Close()
			r = f
		}
		// A JSONL sink is in chain order per writer, but several writers
		// may share a file: verify each writer's events in order.
		byWriter := map[uuid.UUID][]audit.Event{}
		var order []uuid.UUID
		if err := audit.ReadJSONL(r, func(e *audit.Event) error {
			if _, ok := byWriter[e.WriterID]; !ok {
				order = append(order, e.WriterID)
			}
			byWriter[e.WriterID] = append(byWriter[e.WriterID], *e)
			return nil
		}); err != nil {
			return err
		}
		for _, w := range order {
			for i := range byWriter[w] {
				v.Add(&byWriter[w][i])
			}
		}
	} else {
		s, err := c.open(ctx)
		if err != nil {
			return err
		}
		defer s.Close(ctx)
		source = "ClickHouse " + s.Database() + ".audit_events"
		if err := s.Query(ctx, "audit_events", "", "writer_id, seq", func(e *audit.Event) error {
			v.Add(e)
			return nil
		}); err != nil {
			return err
		}
	}
	for _, p := range v.Problems {
		fmt.Fprintln(stdout, p)
	}
	for _, h := range v.Heads {
		fmt.Fprintf(stdout, "writer %s: seq %d..%d, head %s\n", h.WriterID, h.FirstSeq, h.LastSeq, h.Hash)
	}
	fmt.Fprintf(stdout, "%s: %d events from %d writers, %d problems", source, v.Events, v.Writers, len(v.Problems))
	if v.ContentExpired > 0 {
		fmt.Fprintf(stdout, ", %d with expired content", v.ContentExpired)
	}
	fmt.Fprintln(stdout)
	if !v.OK() {
		return ErrProblems
	}
	return nil
}

func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tail", stderr)
	var c conn
	c.flags(fs)
	team := fs.String("team", "", "only this team")
	user := fs.String("user", "", "only this end user")
	asJSON := fs.Bool("json", false, "print events as JSON lines")
	interval := fs.Duration("interval", time.Second, "poll interval")
	lookback := fs.Duration("lookback", 5*time.Minute, "also show late events (replayed from a spool) this far back")
	fromFlag := fs.String("from", "", "first show events that started at or after TIME (default: only new events)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *interval <= 0 || *lookback <= 0 {
		return errors.New("audit tail: --interval and --lookback must be > 0")
	}
	var from time.Time
	if *fromFlag != "" {
		t, err := ParseTime(*fromFlag)
		if err != nil {
			return fmt.Errorf("audit tail: --from: %w", err)
		}
		from = t
	}
	s, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	where := "start_ms >= ?"
	var extra []any
	if *team != "" {
		where += " AND team = ?"
		extra = append(extra, *team)
	}
	if *user != "" {
		where += " AND end_user = ?"
		extra = append(extra, *user)
	}
	seen := map[uuid.UUID]int64{} // event id → start_ms, pruned past the lookback
	since := time.Now().Add(-*lookback).UnixMilli()
	first := from.IsZero() // without --from, the first poll only marks what exists
	if !first {
		since = from.UnixMilli()
	}
	enc := json.NewEncoder(stdout)
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		err := s.Query(ctx, "audit_events", where, "start_ms, event_id", func(e *audit.Event) error {
			if _, ok := seen[e.ID]; ok {
				return nil
			}
			seen[e.ID] = audit.UnixMs(e.Start)
			if first {
				return nil // start with what happens from now on
			}
			if *asJSON {
				return enc.Encode(e)
			}
			_, err := fmt.Fprintln(stdout, summary(e))
			return err
		}, append([]any{since}, extra...)...)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		first = false
		since = time.Now().Add(-*lookback).UnixMilli()
		if !from.IsZero() {
			since = max(since, from.UnixMilli()) // never show events before --from
		}
		for id, ms := range seen {
			if ms < since {
				delete(seen, id)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// summary is one line per event for tail.
func summary(e *audit.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s team=%s app=%s user=%s %s %s→%s status=%d decision=%s",
		e.Start.UTC().Format("2006-01-02T15:04:05.000Z"), e.ID, e.Team, e.App, e.EndUser, e.Endpoint,
		e.ModelRequested, e.ModelServed, e.Status, e.Decision)
	if e.ReasonCode != "" {
		fmt.Fprintf(&b, " reason=%s", e.ReasonCode)
	}
	fmt.Fprintf(&b, " tokens=%d/%d cost_usd=%.6f latency_ms=%d", e.InputTokens, e.OutputTokens, float64(e.CostMicroUSD)/1e6, e.LatencyMs())
	if len(e.PHI) > 0 {
		fmt.Fprintf(&b, " phi=%s", counts(e.PHI))
	}
	if in := e.Injection; in != nil {
		fmt.Fprintf(&b, " injection=%.2f", in.Score)
		if len(in.Rules) > 0 {
			fmt.Fprintf(&b, "[%s]", strings.Join(in.Rules, ","))
		}
	}
	if tp := e.Topic; tp != nil {
		fmt.Fprintf(&b, " topic=%.2f", tp.InScope)
		if tp.Nearest != "" {
			fmt.Fprintf(&b, "/%s", tp.Nearest)
		}
		if tp.Directive {
			b.WriteString("/directive")
		}
	}
	if e.Error != "" {
		fmt.Fprintf(&b, " error=%q", e.Error)
	}
	return b.String()
}

func counts(cs []audit.Count) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s×%d", c.Type, c.Count)
	}
	return strings.Join(parts, ",")
}

// ParseTime accepts RFC 3339 or "2006-01-02 15:04[:05]" (UTC).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339 (2026-11-17T14:00:00Z) or \"2026-11-17 14:00\" (UTC)", s)
}

func runFind(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("find", stderr)
	var c conn
	c.flags(fs)
	user := fs.String("user", "", "end user (required)")
	at := fs.String("at", "", "time of interest (required)")
	window := fs.Duration("window", time.Hour, "width of the window centred on --at")
	asJSON := fs.Bool("json", false, "print events as JSON lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var errs []error
	if *user == "" {
		errs = append(errs, errors.New("--user: required"))
	}
	var when time.Time
	if *at == "" {
		errs = append(errs, errors.New("--at: required"))
	} else if t, err := ParseTime(*at); err != nil {
		errs = append(errs, fmt.Errorf("--at: %w", err))
	} else {
		when = t
	}
	if *window <= 0 {
		errs = append(errs, errors.New("--window: must be > 0"))
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("audit find: %w", err)
	}
	from, to := when.Add(-*window/2), when.Add(*window/2)
	s, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	var events []audit.Event
	if err := s.FindUser(ctx, *user, from, to, func(e *audit.Event) error {
		events = append(events, *e)
		return nil
	}); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for i := range events {
			if err := enc.Encode(&events[i]); err != nil {
				return err
			}
		}
		return nil
	}
	return WriteTranscript(stdout, *user, from, to, events)
}

const stamp = "2006-01-02 15:04:05.000Z"

// WriteTranscript prints events as a conversation. Messages repeated from the
// previous exchange (chat history resent with every request) are shown once.
func WriteTranscript(w io.Writer, user string, from, to time.Time, events []audit.Event) error {
	fmt.Fprintf(w, "Conversation with %s, %s to %s (UTC): %d exchange(s)\n",
		user, from.UTC().Format("2006-01-02 15:04:05"), to.UTC().Format("2006-01-02 15:04:05"), len(events))
	if len(events) == 0 {
		_, err := fmt.Fprintln(w, "No events in this window.")
		return err
	}
	var prev []audit.Message
	for i := range events {
		e := &events[i]
		fmt.Fprintf(w, "\n── %s  %s/%s  %s  decision=%s", e.Start.UTC().Format(stamp), e.Team, e.App, e.ModelServed, e.Decision)
		if e.ReasonCode != "" {
			fmt.Fprintf(w, " (%s)", e.ReasonCode)
		}
		fmt.Fprintf(w, "  policy=%s  content=%s\n   event %s  trace %s  status %d\n", e.PolicyRevision, e.ContentLevel, e.ID, e.TraceID, e.Status)
		if len(e.PHI) > 0 || len(e.Redactions) > 0 {
			fmt.Fprintf(w, "   PHI found: %s  redacted: %s\n", orNone(counts(e.PHI)), orNone(counts(e.Redactions)))
		}
		if d := detectorLine(e); d != "" {
			fmt.Fprintf(w, "   Detectors: %s\n", d)
		}
		if e.ContentLevel == audit.ContentNone || e.ContentLevel == "" {
			fmt.Fprintln(w, "   (policy kept no conversation text for this exchange)")
			prev = nil
			continue
		}
		if len(e.Prompt) == 0 && e.Completion == "" && len(e.ToolCalls) == 0 {
			fmt.Fprintln(w, "   (conversation text has expired under the retention policy)")
			prev = nil
			continue
		}
		skip := 0
		for skip < len(prev) && skip < len(e.Prompt) && prev[skip] == e.Prompt[skip] {
			skip++
		}
		if skip > 0 {
			fmt.Fprintf(w, "   (%d earlier message(s) repeated from the previous exchange)\n", skip)
		}
		for _, m := range e.Prompt[skip:] {
			writeMessage(w, m.Role, m.Content)
		}
		for _, tc := range e.ToolCalls {
			writeMessage(w, "assistant → tool "+tc.Name, tc.Arguments)
		}
		switch {
		case e.Completion != "":
			writeMessage(w, "assistant", e.Completion)
		case e.Decision == audit.DecisionDeny:
			fmt.Fprintln(w, "   [blocked by policy: the model was not called or its answer was withheld]")
		case e.Error != "":
			fmt.Fprintf(w, "   [no answer: %s]\n", e.Error)
		}
		prev = append(append(prev[:0:0], e.Prompt...), audit.Message{Role: "assistant", Content: e.Completion})
	}
	return nil
}

// detectorLine describes the detector verdicts, "" when none ran.
func detectorLine(e *audit.Event) string {
	var parts []string
	if in := e.Injection; in != nil {
		p := fmt.Sprintf("injection %.2f", in.Score)
		if len(in.Rules) > 0 {
			p += " (" + strings.Join(in.Rules, ", ") + ")"
		}
		parts = append(parts, p)
	}
	if tp := e.Topic; tp != nil {
		p := fmt.Sprintf("topic in-scope %.2f", tp.InScope)
		var notes []string
		if tp.Nearest != "" {
			notes = append(notes, "nearest "+tp.Nearest)
		}
		if tp.Directive {
			notes = append(notes, "directive")
		}
		if len(notes) > 0 {
			p += " (" + strings.Join(notes, ", ") + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func writeMessage(w io.Writer, role, content string) {
	lines := strings.Split(strings.TrimRight(content, "\n"), "\n")
	fmt.Fprintf(w, "   %s: %s\n", role, lines[0])
	pad := strings.Repeat(" ", len(role)+5)
	for _, l := range lines[1:] {
		fmt.Fprintf(w, "%s%s\n", pad, l)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
