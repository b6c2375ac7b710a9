package stages

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/extproc/audit"
	"github.com/wardhq/ward/extproc/audit/chstore"
	"github.com/wardhq/ward/extproc/config"
)

// auditRecorder turns a finished interaction into an audit event and hands
// it to the writer: asynchronously, or durably (fsynced to the spool before
// Envoy gets the final response) on strict profiles.
type auditRecorder struct {
	w       *audit.Writer
	ceiling string // audit.content: the most content ever stored
}

func (r *auditRecorder) Record(ctx context.Context, ix *extproc.Interaction) error {
	e := toEvent(ix, r.ceiling)
	var err error
	if ix.Profile.AuditDurability == "strict" {
		err = r.w.RecordDurable(ctx, e)
	} else {
		err = r.w.Record(e)
	}
	return err
}

// Admit refuses new work on fail-closed profiles while the spool is full.
func (r *auditRecorder) Admit() error {
	if r.w.SpoolFull() {
		return audit.ErrSpoolFull
	}
	return nil
}

// contentLevel is the lower of the configured ceiling and the policy's
// choice: policy may store less than the operator allows, never more.
func contentLevel(ceiling string, decisions ...*extproc.Decision) string {
	rank := map[string]int{"none": 0, "redacted": 1, "full": 2}
	level := ceiling
	for _, d := range decisions {
		if d == nil || d.AuditContent == "" {
			continue
		}
		if r, ok := rank[d.AuditContent]; ok && r < rank[level] {
			level = d.AuditContent
		}
	}
	return level
}

func toEvent(ix *extproc.Interaction, ceiling string) *audit.Event {
	e := &audit.Event{
		Start: ix.StreamStart, FirstByte: ix.FirstByte, End: ix.End,
		RequestID: ix.RequestID, TraceID: ix.TraceID, SpanID: ix.SpanID,
		Team: ix.Caller.Team, App: ix.Caller.App, KeyID: ix.Caller.KeyID,
		Profile: ix.ProfileName, Endpoint: string(ix.Endpoint), Provider: ix.ProviderName,
		ModelRequested: ix.ModelRequested, ModelServed: ix.ModelRouted,
		Status:   ix.ResponseStatus,
		Decision: ix.Outcome, ReasonCode: ix.ReasonCode,
		InputTokens: ix.Usage.InputTokens, OutputTokens: ix.Usage.OutputTokens, CachedTokens: ix.Usage.CachedTokens,
		CostMicroUSD:   ix.CostMicroUSD,
		WardOverheadUs: ix.WardTime.Microseconds(),
		TPOTUs:         ix.TimePerOutputToken.Microseconds(),
		MaxHeldChars:   int64(ix.MaxHeldChars),
	}
	if ix.TTFT > 0 {
		e.FirstToken = ix.StreamStart.Add(ix.TTFT)
	}
	if id, err := uuid.Parse(ix.EventID); err == nil {
		e.ID = id
	}
	if ix.Request != nil {
		e.EndUser = ix.Request.EndUser
		e.Stream = ix.Request.Stream
	}
	if ix.Response != nil && ix.Response.Model != "" {
		e.ModelServed = ix.Response.Model
	}
	if !ix.FirstByte.IsZero() && !ix.End.IsZero() {
		e.UpstreamMs = (ix.End.Sub(ix.StreamStart) - ix.WardTime).Milliseconds()
	}
	for _, d := range []*extproc.Decision{ix.ResponseDecision, ix.RequestDecision} {
		if d != nil && d.Revision != "" {
			e.PolicyRevision = d.Revision
			break
		}
	}
	e.PHI = countTypes(ix.Findings, ix.OutputFindings)
	red := map[string]int{}
	for _, r := range ix.Redactions {
		red[r.Type] += r.Count
	}
	e.Redactions = sortedCounts(red)
	// Detector verdicts: left nil when the detector did not run, so the
	// trail tells "not checked" from "scored 0". The rules slice is only
	// read after this point, by the writer.
	if in := ix.Injection; in != nil {
		e.Injection = &audit.Injection{Score: float32(in.Score), Rules: in.Rules}
	}
	if tp := ix.Topic; tp != nil && tp.Known {
		e.Topic = &audit.Topic{InScope: float32(tp.InScope), Nearest: tp.Nearest, Directive: tp.Directive}
	}
	var errs []string
	if ix.Err != nil {
		errs = append(errs, ix.Err.Error())
	}
	if ix.UsageError != "" {
		errs = append(errs, "usage rejected: "+ix.UsageError)
	}
	if ix.UsageEstimated {
		errs = append(errs, "usage estimated by Ward (provider reported none)")
	}
	if len(errs) > 0 {
		e.Error = joinErrs(errs)
	}

	e.ContentLevel = contentLevel(ceiling, ix.RequestDecision, ix.ResponseDecision)
	if e.ContentLevel == "none" {
		return e
	}
	redact := e.ContentLevel == "redacted"
	mask := extproc.MaskRedactor{}
	all := []extproc.RedactRule{{Type: "*", Mode: "mask"}}
	if ix.Request != nil {
		for i, p := range ix.Request.Parts {
			text := p.Text
			if redact {
				text, _ = mask.Redact(text, findingsFor(ix.Findings, i), all)
			}
			e.Prompt = append(e.Prompt, audit.Message{Role: string(p.Role), Content: text})
		}
	}
	if ix.Response != nil {
		// The completion as the client received it (after any redaction
		// Ward applied), then masked again at the "redacted" level.
		text := delivered(ix)
		if redact {
			text, _ = mask.Redact(text, outputFindingsIn(ix, text), all)
		}
		e.Completion = text
		for _, tc := range ix.Response.ToolCalls {
			e.ToolCalls = append(e.ToolCalls, audit.ToolCall{Name: tc.Name, Arguments: tc.Arguments})
		}
	}
	return e
}

// delivered is the main output text as the client saw it.
func delivered(ix *extproc.Interaction) string {
	if len(ix.Response.Choices) == 0 {
		return ""
	}
	return ix.Response.Choices[0]
}

func findingsFor(fs []extproc.Finding, part int) []extproc.Finding {
	var out []extproc.Finding
	for _, f := range fs {
		if f.Part == part {
			out = append(out, f)
		}
	}
	return out
}

// outputFindingsIn maps output findings onto the assembled completion text
// by value, since buffered findings are located per JSON string part.
func outputFindingsIn(ix *extproc.Interaction, text string) []extproc.Finding {
	var out []extproc.Finding
	r := ix.Response
	for _, f := range ix.OutputFindings {
		var src string
		switch {
		case f.Part >= 0 && f.Part < len(r.Parts):
			src = r.Parts[f.Part].Text
		case f.Part < 0 && f.Choice >= 0 && f.Choice < len(r.Choices):
			src = r.Choices[f.Choice]
		}
		if f.Start < 0 || f.End > len(src) || f.Start >= f.End {
			continue
		}
		v := src[f.Start:f.End]
		for off := 0; off <= len(text); {
			i := strings.Index(text[off:], v)
			if i < 0 {
				break
			}
			out = append(out, extproc.Finding{Type: f.Type, Start: off + i, End: off + i + len(v)})
			off += i + len(v)
		}
	}
	return out
}

func countTypes(lists ...[]extproc.Finding) []audit.Count {
	m := map[string]int{}
	for _, l := range lists {
		for _, f := range l {
			m[f.Type]++
		}
	}
	return sortedCounts(m)
}

func sortedCounts(m map[string]int) []audit.Count {
	out := make([]audit.Count, 0, len(m))
	for t, n := range m {
		out = append(out, audit.Count{Type: t, Count: uint32(n)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

func joinErrs(errs []string) string { return strings.Join(errs, "; ") }

// newAuditWriter builds the sink and the writer from config. shutdown
// drains the writer, and removes the spool directory when it was a
// temporary one (nothing in it can be replayed by a later process).
func newAuditWriter(ctx context.Context, c config.Audit, log *slog.Logger, stdout io.Writer) (w *audit.Writer, shutdown func(context.Context) error, err error) {
	var sink audit.Sink
	switch c.Sink {
	case "stdout":
		if stdout == nil {
			stdout = os.Stdout
		}
		sink = audit.NewJSONLSink(stdout)
	case "file":
		s, err := audit.OpenJSONLFile(c.File)
		if err != nil {
			return nil, nil, fmt.Errorf("audit.file: %w", err)
		}
		sink = s
	case "clickhouse":
		cc := chstore.Config{
			Addr: c.ClickHouse.Addr, Database: c.ClickHouse.Database, Username: c.ClickHouse.User,
			ContentTTLDays: c.ClickHouse.ContentTTLDays,
		}
		if c.ClickHouse.PasswordEnv != "" {
			cc.Password = os.Getenv(c.ClickHouse.PasswordEnv)
		}
		sink = &lazyClickHouse{cfg: cc, log: log}
	default:
		return nil, nil, fmt.Errorf("audit.sink: unknown sink %q", c.Sink)
	}
	dir, temp := c.SpoolDir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "ward-audit-spool-")
		if err != nil {
			return nil, nil, fmt.Errorf("audit.spool_dir: %w", err)
		}
		dir, temp = d, true
		log.Warn("audit.spool_dir not set: spooling to a temporary directory that does not survive a restart", "dir", dir)
	}
	w, err = audit.New(audit.Config{
		SpoolDir: dir, Sink: sink, QueueSize: c.QueueSize, MaxBatch: c.BatchSize,
		FlushInterval: c.FlushInterval.D(), SpoolMaxBytes: c.SpoolMaxBytes, Logger: log,
	})
	if err != nil {
		return nil, nil, err
	}
	shutdown = func(ctx context.Context) error {
		err := w.Shutdown(ctx)
		if temp && err == nil && w.Stats().SpoolBytes == 0 {
			os.RemoveAll(dir)
		}
		return err
	}
	return w, shutdown, nil
}

// lazyClickHouse connects (and migrates) on first use, so Ward starts and
// spools while ClickHouse is down; the writer retries failed writes.
type lazyClickHouse struct {
	cfg   chstore.Config
	log   *slog.Logger
	mu    sync.Mutex
	store *chstore.Store
}

func (l *lazyClickHouse) get(ctx context.Context) (*chstore.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil {
		return l.store, nil
	}
	s, err := chstore.Open(ctx, l.cfg)
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("clickhouse migrate: %w", err)
	}
	l.log.Info("audit: connected to ClickHouse", "addr", l.cfg.Addr, "server", s.ServerVersion())
	l.store = s
	return s, nil
}

func (l *lazyClickHouse) Write(ctx context.Context, events []audit.Event) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.Write(ctx, events)
}

func (l *lazyClickHouse) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store == nil {
		return nil
	}
	return l.store.Close(ctx)
}
