package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// Files are the Rego modules (tests included) and data of a source, as
// `ward policy test` and `ward policy check` see them.
type Files struct {
	Modules map[string]*ast.Module
	Data    map[string]any
}

// LoadFiles parses every module (including _test.rego) and data file of
// src with OPA's loader. Parse errors come back as loader/ast errors that
// carry file:line.
func LoadFiles(src Source) (*Files, error) {
	fl := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).WithProcessAnnotation(true).WithCapabilities(Capabilities())
	var paths []string
	switch src.kind {
	case kindFS:
		fl = fl.WithFS(src.fsys)
		paths = []string{"."}
	case kindDir, kindFile:
		paths = []string{src.loc}
	default:
		return nil, fmt.Errorf("%s: only the embedded library, a directory or a bundle file can be loaded here", src)
	}
	res, err := fl.All(paths)
	if err != nil {
		return nil, err
	}
	return &Files{Modules: res.ParsedModules(), Data: res.Documents}, nil
}

// Check compiles and type-checks every module of src, with the engine's
// capabilities. The error is an ast.Errors (each with a location) when
// compilation fails. Each entrypoint must be defined by some rule: a bundle
// without data.ward.decision would deny every request by default.
func Check(src Source, entrypoints ...string) error {
	f, err := LoadFiles(src)
	if err != nil {
		return err
	}
	c := ast.NewCompiler().SetErrorLimit(0).WithEnablePrintStatements(true).WithCapabilities(Capabilities())
	c.Compile(f.Modules)
	if c.Failed() {
		return c.Errors
	}
	var errs ast.Errors
	for _, ep := range entrypoints {
		ref, err := ast.ParseRef(ep)
		if err != nil {
			return fmt.Errorf("entrypoint %q: %w", ep, err)
		}
		if len(c.GetRulesForVirtualDocument(ref)) == 0 {
			errs = append(errs, ast.NewError(ast.CompileErr, nil, "entrypoint %s: no rule defines it (every decision would be denied by default)", ep))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// TestRun is the outcome of running a source's Rego unit tests.
type TestRun struct {
	Results []*tester.Result
	Modules map[string]*ast.Module
	// Cover is set when coverage was requested.
	Cover *cover.Cover
}

// Failed counts failing and erroring tests.
func (r *TestRun) Failed() int {
	n := 0
	for _, res := range r.Results {
		if !res.Pass() && !res.Skip {
			n++
		}
	}
	return n
}

// TestOptions select what RunTests does.
type TestOptions struct {
	Verbose  bool   // record traces of failing tests
	Coverage bool   // collect coverage
	Run      string // regexp filter on test names ("" = all)
	Timeout  time.Duration
}

// RunTests runs src's Rego unit tests (rules named test_*) with OPA's
// tester, as `opa test` does.
func RunTests(ctx context.Context, src Source, opts TestOptions) (*TestRun, error) {
	f, err := LoadFiles(src)
	if err != nil {
		return nil, err
	}
	if len(f.Modules) == 0 {
		return nil, errors.New("no Rego modules found")
	}
	store := inmem.NewFromObject(f.Data)
	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)

	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	run := &TestRun{Modules: f.Modules}
	compiler := ast.NewCompiler().
		WithCapabilities(Capabilities()).
		WithPathConflictsCheck(storage.NonEmpty(ctx, store, txn)).
		WithEnablePrintStatements(true)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetModules(f.Modules).
		CapturePrintOutput(true).
		EnableTracing(opts.Verbose).
		SetTimeout(timeout).
		Filter(opts.Run)
	if opts.Coverage {
		run.Cover = cover.New()
		runner = runner.SetCoverageQueryTracer(run.Cover)
	}
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return nil, err
	}
	for r := range ch {
		run.Results = append(run.Results, r)
	}
	return run, nil
}

// Fsys returns the fs.FS behind an embedded/FS source (nil otherwise).
func (s Source) Fsys() fs.FS { return s.fsys }
