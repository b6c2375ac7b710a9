// Package policycmd implements `ward policy`: test, eval and check for
// Ward's Rego policies, with the same conventions as `opa test` / `opa eval`
// / `opa check`.
package policycmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/lineage"

	"github.com/wardhq/ward/policy"
)

const usage = `usage: ward policy <command> [flags]

commands:
  test  [dir] [-v] [--coverage] [--run REGEX]   run Rego unit tests (default: the embedded library)
  eval  --input input.json [--explain] [--entrypoint data.ward.decision] [--dir D | --bundle B]
                                                 print the decision for an input document
  check [dir|bundle.tar.gz] [--entrypoint E]    compile and type-check; report every error as file:line;
                                                 say which evaluator runs E (docs/policy-evaluation.md)
`

// ErrFailed is returned when tests fail or a check finds errors; the
// details have been written to stdout/stderr. The caller exits non-zero.
var ErrFailed = errors.New("policy: failed")

// Run executes `ward policy <args>`.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("policy: missing command")
	}
	switch args[0] {
	case "test":
		return runTest(ctx, args[1:], stdout, stderr)
	case "eval":
		return runEval(ctx, args[1:], stdin, stdout, stderr)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("policy: unknown command %q", args[0])
}

// parse parses flags that may come before or after positional arguments
// (`ward policy test dir -v`, as opa allows).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func sourceFor(path string) policy.Source {
	switch {
	case path == "":
		return policy.Embedded()
	case strings.HasSuffix(path, ".tar.gz") || strings.HasSuffix(path, ".tgz") ||
		strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://"):
		return policy.Bundle(path)
	}
	return policy.Dir(path)
}

func runTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ward policy test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "verbose: print every test and failure traces")
	coverage := fs.Bool("coverage", false, "report coverage as JSON (like opa test --coverage)")
	fs.BoolVar(coverage, "c", false, "shorthand for --coverage")
	run := fs.String("run", "", "run only tests matching this regular expression")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("policy test: want at most one directory, got %d", len(pos))
	}
	dir := ""
	if len(pos) == 1 {
		dir = pos[0]
	}
	tr, err := policy.RunTests(ctx, sourceFor(dir), policy.TestOptions{Verbose: *verbose, Coverage: *coverage, Run: *run})
	if err != nil {
		printErrors(stderr, err)
		return ErrFailed
	}
	ch := make(chan *tester.Result, len(tr.Results))
	for _, r := range tr.Results {
		ch <- r
	}
	close(ch)
	var rep tester.Reporter = tester.PrettyReporter{Output: stdout, Verbose: *verbose}
	if *coverage {
		rep = tester.JSONCoverageReporter{Cover: tr.Cover, Modules: tr.Modules, Output: stdout, Verbose: *verbose}
	}
	if err := rep.Report(ch); err != nil {
		return err
	}
	if len(tr.Results) == 0 {
		fmt.Fprintln(stderr, "no tests were run")
		return ErrFailed
	}
	if tr.Failed() > 0 {
		return ErrFailed
	}
	return nil
}

func runEval(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ward policy eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	inputPath := fs.String("input", "", "input document (JSON; - for stdin)")
	explain := fs.Bool("explain", false, "print the evaluation trace after the decision")
	entrypoint := fs.String("entrypoint", policy.DefaultEntrypoint, "query to evaluate")
	dir := fs.String("dir", "", "policy directory (default: embedded library)")
	bundlePath := fs.String("bundle", "", "policy bundle .tar.gz path or URL")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *inputPath == "" {
		return errors.New("policy eval: --input is required")
	}
	if *dir != "" && *bundlePath != "" {
		return errors.New("policy eval: use --dir or --bundle, not both")
	}
	src := policy.Embedded()
	if *dir != "" {
		src = policy.Dir(*dir)
	} else if *bundlePath != "" {
		src = policy.Bundle(*bundlePath)
	}
	var r io.Reader = stdin
	if *inputPath != "-" {
		f, err := os.Open(*inputPath)
		if err != nil {
			return fmt.Errorf("policy eval: %w", err)
		}
		defer f.Close()
		r = f
	}
	var in policy.Input
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("policy eval: input %s: %w", *inputPath, err)
	}
	eng, err := policy.New(ctx, src, policy.Options{Entrypoint: *entrypoint, Logger: discardLogger()})
	if err != nil {
		printErrors(stderr, err)
		return ErrFailed
	}
	d, trace, evalErr := eng.Explain(ctx, "", &in)
	out := struct {
		policy.Decision
		Error string `json:"error,omitempty"`
	}{Decision: d}
	if evalErr != nil {
		out.Error = evalErr.Error()
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	if *explain {
		fmt.Fprintln(stdout, "\nexplanation (evaluation trace):")
		topdown.PrettyTraceWithLocation(stdout, lineage.Debug(trace))
	}
	if evalErr != nil {
		return ErrFailed
	}
	return nil
}

func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ward policy check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	entrypoint := fs.String("entrypoint", policy.DefaultEntrypoint, "decision rule that must be defined (\"\" to skip)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("policy check: want at most one directory or bundle, got %d", len(pos))
	}
	path := ""
	if len(pos) == 1 {
		path = pos[0]
	}
	src := sourceFor(path)
	var eps []string
	if *entrypoint != "" {
		eps = append(eps, *entrypoint)
	}
	if err := policy.Check(src, eps...); err != nil {
		printErrors(stderr, err)
		return ErrFailed
	}
	fmt.Fprintf(stdout, "%s: ok\n", src)
	if *entrypoint == "" {
		return nil
	}
	// Say how Ward will evaluate the entrypoint: a policy author wants to
	// know when a construct keeps it off the plan evaluator.
	eng, err := policy.New(context.Background(), src, policy.Options{Entrypoint: *entrypoint, Logger: discardLogger()})
	if err != nil {
		return fmt.Errorf("policy check: load %s: %w", src, err)
	}
	for _, st := range eng.Status().Entrypoints {
		if st.Evaluator == policy.EvaluatorPlan {
			fmt.Fprintf(stdout, "%s: evaluated by the plan evaluator\n", st.Entrypoint)
		} else {
			fmt.Fprintf(stdout, "%s: evaluated by topdown: %s\n", st.Entrypoint, st.Reason)
		}
	}
	return nil
}

// printErrors writes one line per error, file:line:col first when known.
func printErrors(w io.Writer, err error) {
	var astErrs ast.Errors
	var loadErrs loader.Errors
	switch {
	case errors.As(err, &astErrs):
		for _, e := range astErrs {
			printASTError(w, e)
		}
	case errors.As(err, &loadErrs):
		for _, e := range loadErrs {
			var ae *ast.Error
			if errors.As(e, &ae) {
				printASTError(w, ae)
				continue
			}
			var aes ast.Errors
			if errors.As(e, &aes) {
				for _, ae := range aes {
					printASTError(w, ae)
				}
				continue
			}
			fmt.Fprintln(w, e)
		}
	default:
		fmt.Fprintln(w, err)
	}
}

func printASTError(w io.Writer, e *ast.Error) {
	if e.Location != nil {
		fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", e.Location.File, e.Location.Row, e.Location.Col, e.Code, e.Message)
		return
	}
	fmt.Fprintf(w, "%s: %s\n", e.Code, e.Message)
}
