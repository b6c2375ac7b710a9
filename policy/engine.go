// Package policy is Ward's policy engine: it embeds OPA, loads Rego and
// data from the embedded library, a directory or an OPA bundle (file or
// HTTP with ETag polling and optional signature verification), compiles and
// prepares queries once, swaps them atomically on reload and turns the
// input document into a Decision on the hot path.
package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// DefaultEntrypoint is the query evaluated when the caller names none.
const DefaultEntrypoint = "data.ward.decision"

// Defaults for Options.
const (
	DefaultTimeout        = 100 * time.Millisecond
	DefaultMaxBundleBytes = 64 << 20
	DefaultPollInterval   = 30 * time.Second
)

// Options tune an Engine. The zero value is usable.
type Options struct {
	// Entrypoint is the default query (DefaultEntrypoint when empty).
	Entrypoint string
	// Entrypoints are prepared at every load in addition to Entrypoint,
	// e.g. the per-profile entrypoints from Ward's config, so no request
	// pays for preparing a query.
	Entrypoints []string
	// Timeout is the evaluation deadline per decision (DefaultTimeout when
	// zero). A decision that runs over fails (closed unless FailOpen).
	Timeout time.Duration
	// Data is deep-merged over the source's data documents (config
	// overrides of team allowlists, model routes, app topics, BAA flags),
	// e.g. {"ward": {"config": {"providers": {"openai": {"baa": true}}}}}.
	// Values must be JSON-like (maps with string keys, slices, scalars).
	Data map[string]any
	// Verify requires bundles (and directories) to be signed.
	Verify *Verify
	// HTTPClient fetches URL bundles (http.DefaultClient with a 30 s
	// timeout when nil).
	HTTPClient *http.Client
	// MaxBundleBytes caps a bundle download and each file in it.
	MaxBundleBytes int64
	// Evaluator picks how decisions are evaluated: EvaluatorPlan (the
	// default) runs OPA's query plan and falls back to topdown for a plan
	// it cannot run; EvaluatorTopdown always uses OPA's topdown.
	Evaluator string
	// Logger receives reload results (slog.Default when nil).
	Logger *slog.Logger
	// StartPending lets New succeed when the first load fails (a bundle
	// server that is down at startup): every decision then fails closed
	// with ErrNoPolicy and Status().Ready is false until Reload or Watch
	// loads a policy. Without it New returns the error.
	StartPending bool
}

// ErrNoPolicy is the decision error while no policy has loaded yet.
var ErrNoPolicy = errors.New("policy: no policy loaded yet")

func (o *Options) validate() error {
	var errs []error
	if o.Entrypoint == "" {
		o.Entrypoint = DefaultEntrypoint
	}
	for i, ep := range append([]string{o.Entrypoint}, o.Entrypoints...) {
		if err := checkEntrypoint(ep); err != nil {
			field := "entrypoint"
			if i > 0 {
				field = fmt.Sprintf("entrypoints[%d]", i-1)
			}
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
		}
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must not be negative, got %s", o.Timeout))
	} else if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBundleBytes < 0 {
		errs = append(errs, fmt.Errorf("max_bundle_bytes: must not be negative"))
	} else if o.MaxBundleBytes == 0 {
		o.MaxBundleBytes = DefaultMaxBundleBytes
	}
	if v := o.Verify; v != nil {
		if v.KeyID == "" {
			errs = append(errs, errors.New("verify.key_id: required"))
		}
		if v.Key == "" {
			errs = append(errs, errors.New("verify.key: required"))
		}
	}
	switch o.Evaluator {
	case "":
		o.Evaluator = EvaluatorPlan
	case EvaluatorPlan, EvaluatorTopdown:
	default:
		errs = append(errs, fmt.Errorf("evaluator: %q is not %q or %q", o.Evaluator, EvaluatorPlan, EvaluatorTopdown))
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

func checkEntrypoint(ep string) error {
	ref, err := ast.ParseRef(ep)
	if err != nil {
		return fmt.Errorf("%q is not a reference: %w", ep, err)
	}
	if !ref.HasPrefix(ast.DefaultRootRef) {
		return fmt.Errorf("%q must start with data.", ep)
	}
	return nil
}

// Engine evaluates policy decisions. It is safe for concurrent use.
type Engine struct {
	src  Source
	opts Options

	cur atomic.Pointer[snapshot]

	reloadMu sync.Mutex // serialises reloads; guards etag
	etag     string

	statusMu    sync.Mutex
	lastErr     string
	lastErrAt   time.Time
	lastCheckAt time.Time

	entryMu     sync.Mutex
	entrypoints map[string]struct{} // every entrypoint used, prepared on reload

	reloads, reloadFailures                 atomic.Uint64
	decisions, failures, timeouts, undefEvs atomic.Uint64
}

// snapshot is one compiled policy set. It never changes after it is
// published, except for lazily added prepared queries.
type snapshot struct {
	revision string
	hash     string
	loadedAt time.Time
	compiler *ast.Compiler
	store    storage.Store
	queries  sync.Map // entrypoint → *prepared
	// planComp is the IR-mode compiler entrypoints are planned from; nil
	// when the engine evaluates with topdown only, or when planErr says
	// why the modules could not be compiled for planning.
	planComp *ast.Compiler
	planErr  error
	// txn is one read transaction every decision shares: nothing writes
	// to a snapshot's store after the load.
	txn storage.Transaction
	// data is the whole data document, the shared base-document cache.
	data dataCache
	// parts are the bulky input parts some module can read (spans,
	// message texts, tools, tool calls); the builder leaves out the rest.
	parts parts
}

// New loads src, compiles it and prepares the entrypoints. It fails if the
// first load fails: there is no last good policy to fall back to.
func New(ctx context.Context, src Source, opts Options) (*Engine, error) {
	if src.IsZero() {
		return nil, errors.New("policy: no source")
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("policy options: %w", err)
	}
	e := &Engine{src: src, opts: opts, entrypoints: map[string]struct{}{}}
	e.entrypoints[opts.Entrypoint] = struct{}{}
	for _, ep := range opts.Entrypoints {
		e.entrypoints[ep] = struct{}{}
	}
	if _, err := e.Reload(ctx); err != nil && !opts.StartPending {
		return nil, err
	}
	return e, nil
}

// Reload re-reads the source and, if it compiles, atomically replaces the
// policy. On failure the last good policy stays active and Status reports
// why. changed is false when nothing changed (HTTP 304 Not Modified, or
// the same modules and data).
func (e *Engine) Reload(ctx context.Context) (changed bool, err error) {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	now := time.Now()
	e.statusMu.Lock()
	e.lastCheckAt = now
	e.statusMu.Unlock()

	snap, etag, err := e.load(ctx)
	if errors.Is(err, errNotModified) {
		// The source is healthy again and still serves the active policy.
		e.statusMu.Lock()
		e.lastErr = ""
		e.statusMu.Unlock()
		return false, nil
	}
	if err != nil {
		e.reloadFailures.Add(1)
		err = fmt.Errorf("policy reload from %s: %w", e.src, err)
		e.statusMu.Lock()
		e.lastErr, e.lastErrAt = err.Error(), now
		e.statusMu.Unlock()
		if prev := e.cur.Load(); prev != nil {
			e.opts.Logger.Warn("policy reload failed; keeping last good policy",
				"source", e.src.String(), "revision", prev.revision, "error", err)
		} else {
			e.opts.Logger.Error("policy load failed; no policy active", "source", e.src.String(), "error", err)
		}
		return false, err
	}
	e.etag = etag
	e.cur.Store(snap)
	e.reloads.Add(1)
	e.statusMu.Lock()
	e.lastErr = ""
	e.statusMu.Unlock()
	e.opts.Logger.Info("policy loaded", "source", e.src.String(), "revision", snap.revision)
	return true, nil
}

func (e *Engine) load(ctx context.Context) (*snapshot, string, error) {
	l, err := e.src.read(ctx, e.opts.HTTPClient, e.opts.MaxBundleBytes, e.etag, e.opts.Verify)
	if err != nil {
		return nil, "", err
	}
	if cur := e.cur.Load(); cur != nil && cur.hash == l.hash && cur.revision == l.revision {
		// Same content (a directory polled by Watch): nothing to recompile.
		return nil, "", errNotModified
	}
	compiler := ast.NewCompiler().SetErrorLimit(0).WithCapabilities(Capabilities())
	compiler.Compile(l.modules)
	if compiler.Failed() {
		return nil, "", compiler.Errors
	}
	data := mergeData(l.data, e.opts.Data)
	// AST values on read: data is converted once here, not on every
	// evaluation that reads it.
	store := inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))
	snap := &snapshot{revision: l.revision, hash: l.hash, loadedAt: time.Now(), compiler: compiler, store: store,
		parts: parts{
			findings:  readsInput(compiler, findingsPath),
			messages:  readsInput(compiler, messagesPath),
			tools:     readsInput(compiler, toolsPath),
			toolCalls: readsInput(compiler, toolCallsPath),
		}}
	// Never closed: the store is private to the snapshot and read-only, so
	// the transaction's read lock is never contended and goes with it.
	if snap.txn, err = store.NewTransaction(ctx); err != nil {
		return nil, "", fmt.Errorf("open data store: %w", err)
	}
	root, err := store.Read(ctx, snap.txn, storage.RootPath)
	if err != nil {
		return nil, "", fmt.Errorf("read data: %w", err)
	}
	if v, ok := root.(ast.Value); ok {
		snap.data.root = v
	}
	e.entryMu.Lock()
	eps := make([]string, 0, len(e.entrypoints))
	for ep := range e.entrypoints {
		eps = append(eps, ep)
	}
	e.entryMu.Unlock()
	if e.opts.Evaluator != EvaluatorTopdown {
		snap.planComp, snap.planErr = planCompiler(l.modules)
	}
	for _, ep := range eps {
		if _, err := e.prepare(ctx, snap, ep); err != nil {
			return nil, "", err
		}
	}
	return snap, l.etag, nil
}

// prepare prepares ep on snapshot s for topdown and, unless the engine is
// topdown-only, plans it; an entrypoint left on topdown is logged once.
func (e *Engine) prepare(ctx context.Context, s *snapshot, ep string) (*prepared, error) {
	pq, err := rego.New(
		rego.Query(ep),
		rego.Compiler(s.compiler),
		rego.Store(s.store),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", ep, err)
	}
	p := &prepared{pq: &pq}
	switch {
	case s.planComp != nil:
		p.prog, p.planErr = planQuery(ctx, s.planComp, s.store, s.data.root, ep)
	case s.planErr != nil:
		p.planErr = s.planErr
	}
	if p.planErr != nil {
		e.opts.Logger.Info("policy entrypoint evaluated by topdown", "entrypoint", ep, "reason", p.planErr)
	}
	s.queries.Store(ep, p)
	return p, nil
}

// query returns the prepared query for ep, preparing it on first use.
func (e *Engine) query(ctx context.Context, s *snapshot, ep string) (*prepared, error) {
	if p, ok := s.queries.Load(ep); ok {
		return p.(*prepared), nil
	}
	if err := checkEntrypoint(ep); err != nil {
		return nil, err
	}
	p, err := e.prepare(ctx, s, ep)
	if err != nil {
		return nil, err
	}
	// Remember it so every later reload prepares it before the swap.
	e.entryMu.Lock()
	e.entrypoints[ep] = struct{}{}
	e.entryMu.Unlock()
	return p, nil
}

// Watch reloads the source every interval until ctx is done. Use it for
// URL bundles (ETag makes an unchanged poll cheap) and directories.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = e.Reload(ctx) // failures are logged and kept in Status
		}
	}
}

// rawResult keeps OPA from converting the result to map[string]any: the
// decision is decoded straight from the AST.
var rawResult = rego.EvalGenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil })

// Decide evaluates entrypoint ("" = Options.Entrypoint) for in. It always
// returns a usable Decision: on an evaluation error, timeout or badly shaped
// result it returns a fail-closed deny (reason policy_error) with Err set
// and the same error; callers whose profile fails open apply FailOpen. An
// undefined result is a deny by default (reason no_decision) and no error.
func (e *Engine) Decide(ctx context.Context, entrypoint string, in *Input) (Decision, error) {
	if entrypoint == "" {
		entrypoint = e.opts.Entrypoint
	}
	e.decisions.Add(1)
	snap := e.cur.Load()
	if snap == nil {
		e.failures.Add(1)
		d := failClosed(ErrNoPolicy)
		d.Entrypoint = entrypoint
		return d, ErrNoPolicy
	}
	d, err := e.decide(ctx, snap, entrypoint, in, nil)
	d.Revision = snap.revision
	d.Entrypoint = entrypoint
	if err != nil {
		e.failures.Add(1)
		d.Err = err
	}
	return d, err
}

func (e *Engine) decide(ctx context.Context, snap *snapshot, ep string, in *Input, tracer topdown.QueryTracer) (Decision, error) {
	p, err := e.query(ctx, snap, ep)
	if err != nil {
		return failClosed(err), err
	}
	var t *ast.Term
	var n int
	if p.prog != nil && tracer == nil {
		// The plan evaluator builds the parts of the input it reads, and
		// reads the clock and ctx itself every few dozen steps: no timer
		// or callback per decision.
		input := lazyInputs.Get().(*lazyInput)
		*input = lazyInput{in: in, p: snap.parts, b: builder{findings: snap.parts.findings}}
		t, n, err = evalPlan(ctx, snap, p, time.Now().Add(e.opts.Timeout), input)
		*input = lazyInput{} // what it built lives on in t, not here
		lazyInputs.Put(input)
	} else {
		input := in.ast(snap.parts)
		// The deadline and the caller's cancellation stop topdown through
		// one topdown.Cancel: a timer and a context callback, instead of a
		// derived context plus the goroutine OPA starts per evaluation.
		cancel := topdown.NewCancel()
		timer := time.AfterFunc(e.opts.Timeout, cancel.Cancel)
		stop := context.AfterFunc(ctx, cancel.Cancel)
		t, n, err = evalTopdown(ctx, snap, p, cancel, input, tracer)
		timer.Stop()
		stop()
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("policy %s: evaluation cancelled by the caller: %w", ep, err)
		case topdown.IsCancel(err):
			e.timeouts.Add(1)
			err = fmt.Errorf("policy %s: evaluation exceeded the %s deadline: %w", ep, e.opts.Timeout, err)
		default:
			err = fmt.Errorf("policy %s: %w", ep, err)
		}
		return failClosed(err), err
	}
	if n == 0 {
		e.undefEvs.Add(1)
		return undefinedDecision(), nil
	}
	if n > 1 {
		err := fmt.Errorf("policy %s: %d results, want one", ep, n)
		return failClosed(err), err
	}
	d, err := DecodeDecision(t.Value)
	if err != nil {
		err = fmt.Errorf("policy %s: %w", ep, err)
		return failClosed(err), err
	}
	return d, nil
}

// evalTopdown evaluates with OPA's reference evaluator. It returns the
// single result (if n == 1) and the number of results.
func evalTopdown(ctx context.Context, snap *snapshot, p *prepared, cancel topdown.Cancel, input ast.Value, tracer topdown.QueryTracer) (*ast.Term, int, error) {
	vc := getVirtualCache()
	opts := [...]rego.EvalOption{
		rego.EvalParsedInput(input),
		rawResult,
		rego.EvalExternalCancel(cancel),
		rego.EvalTransaction(snap.txn),
		rego.EvalBaseCache(snap.data),
		rego.EvalVirtualCache(vc),
		rego.EvalMetrics(metrics.NoOp()),
		nil,
	}
	n := len(opts) - 1
	if tracer != nil {
		opts[n] = rego.EvalQueryTracer(tracer)
		n++
	}
	rs, err := p.pq.Eval(ctx, opts[:n]...)
	vc.release()
	if err != nil {
		return nil, 0, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, 0, nil
	}
	if len(rs) > 1 {
		return nil, len(rs), nil
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, 0, fmt.Errorf("unexpected result type %T", rs[0].Expressions[0].Value)
	}
	return t, 1, nil
}

// Status is the engine's state for /readyz, logs and metrics.
type Status struct {
	// Ready is true once a policy is loaded (always, unless StartPending).
	Ready    bool      `json:"ready"`
	Source   string    `json:"source"`
	Revision string    `json:"revision"`
	LoadedAt time.Time `json:"loaded_at"`
	// LastError is why the most recent reload failed ("" after a success).
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastCheckAt time.Time `json:"last_check_at"`
	// Counters since start.
	Reloads        uint64 `json:"reloads"`
	ReloadFailures uint64 `json:"reload_failures"`
	Decisions      uint64 `json:"decisions"`
	Errors         uint64 `json:"errors"`    // decisions that failed (incl. timeouts)
	Timeouts       uint64 `json:"timeouts"`  // decisions over the deadline
	Undefined      uint64 `json:"undefined"` // decisions denied by default
	// Entrypoints says how each prepared entrypoint of the active policy
	// is evaluated, and why not by the plan when it is not.
	Entrypoints []EntrypointStatus `json:"entrypoints,omitempty"`
}

// EntrypointStatus is one prepared entrypoint in Status.
type EntrypointStatus struct {
	Entrypoint string `json:"entrypoint"`
	Evaluator  string `json:"evaluator"` // EvaluatorPlan or EvaluatorTopdown
	Reason     string `json:"reason,omitempty"`
}

// Status reports the active revision and the last reload error.
func (e *Engine) Status() Status {
	s := Status{
		Source:         e.src.String(),
		Reloads:        e.reloads.Load(),
		ReloadFailures: e.reloadFailures.Load(),
		Decisions:      e.decisions.Load(),
		Errors:         e.failures.Load(),
		Timeouts:       e.timeouts.Load(),
		Undefined:      e.undefEvs.Load(),
	}
	if snap := e.cur.Load(); snap != nil {
		s.Ready, s.Revision, s.LoadedAt = true, snap.revision, snap.loadedAt
		s.Entrypoints = snap.entrypointStatus()
	}
	e.statusMu.Lock()
	s.LastError, s.LastErrorAt, s.LastCheckAt = e.lastErr, e.lastErrAt, e.lastCheckAt
	e.statusMu.Unlock()
	return s
}

// Revision is the active policy revision.
func (e *Engine) Revision() string {
	if snap := e.cur.Load(); snap != nil {
		return snap.revision
	}
	return ""
}

// Explain evaluates like Decide with a full trace, for `ward policy eval
// --explain`. It is not for the hot path and does not touch the counters.
func (e *Engine) Explain(ctx context.Context, entrypoint string, in *Input) (Decision, []*topdown.Event, error) {
	if entrypoint == "" {
		entrypoint = e.opts.Entrypoint
	}
	snap := e.cur.Load()
	if snap == nil {
		return failClosed(ErrNoPolicy), nil, ErrNoPolicy
	}
	var buf topdown.BufferTracer
	d, err := e.decide(ctx, snap, entrypoint, in, &buf)
	d.Revision, d.Entrypoint = snap.revision, entrypoint
	if err != nil {
		d.Err = err
	}
	return d, buf, err
}

var (
	findingsPath  = []string{"detectors", "phi", "findings"}
	messagesPath  = []string{"messages"}
	toolsPath     = []string{"tools"}
	toolCallsPath = []string{"tool_calls"}
)

// readsInput reports whether any compiled rule may read input at path: a
// reference to input whose constant prefix does not diverge from path (so
// `input`, `input.detectors`, `input.detectors[x]` and
// `input.detectors.phi.findings[_]` all count; `input.detectors.phi.count`
// does not).
func readsInput(c *ast.Compiler, path []string) bool {
	found := false
	for _, m := range c.Modules {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if found || !r.HasPrefix(ast.InputRootRef) {
				return found
			}
			for i, p := range path {
				if i+1 >= len(r) {
					found = true // the ref covers the whole subtree
					return true
				}
				s, ok := r[i+1].Value.(ast.String)
				if !ok {
					found = true // dynamic access
					return true
				}
				if string(s) != p {
					return false // a different branch of input
				}
			}
			found = true
			return true
		})
		if found {
			return true
		}
	}
	return false
}

// deniedBuiltins would let a policy reach the network from the decision
// path: a latency and exfiltration risk next to patient data.
var deniedBuiltins = map[string]bool{"http.send": true, "net.lookup_ip_addr": true}

// Capabilities are OPA's for this version minus network builtins. The
// engine, `ward policy check` and `ward policy test` compile with them, so
// a policy that calls http.send fails to load with a clear error.
func Capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0]
	for _, b := range caps.Builtins {
		if !deniedBuiltins[b.Name] {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	return caps
}
