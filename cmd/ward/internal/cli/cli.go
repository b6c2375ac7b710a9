// Package cli is Ward's command line: a testable Main that dispatches to
// subcommands. cmd/ward/main.go only wires signals and the exit code.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Command is one subcommand.
type Command struct {
	Summary string
	Run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// ExitError carries a process exit code (e.g. failing policy tests) without
// printing anything more.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3".
var Version = "dev"

func commands() map[string]Command {
	return map[string]Command{
		"serve":   {"run the ext_proc server (embedded defaults without --config)", runServe},
		"config":  {"check a config file: ward config check --config FILE; print defaults: ward config default", runConfig},
		"keys":    {"hash a caller key for the config: ward keys hash (reads the key on stdin)", runKeys},
		"version": {"print the version", runVersion},
		"demo":    {"send realistic requests through an in-process Envoy emulator and fake LLM, and show what happens", runDemo},
		"fakellm": {"run the fake OpenAI/Anthropic upstream used by tests, the demo and docker compose", runFakeLLM},
		"bench":   {"load-test an ext_proc server against a no-op one and print throughput and latency", runBench},
		"scan":    {"find PHI/PII in text or JSON lines (--jsonl), or redact it (--redact MODE)", runScan},
		"tokens":  {"count tokens of text or JSON lines with OpenAI's tokenizers", runTokens},
		"policy":  {"test, evaluate or check Rego policies (ward policy test|eval|check)", runPolicy},
		"audit":   {"manage and read the audit trail (ward audit migrate|verify|tail|find)", runAudit},
	}
}

// Main runs the ward command line.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return errors.New("missing command")
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	// Subcommands name themselves in their errors ("policy: …").
	err := c.Run(ctx, args[1:], stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func usage(w io.Writer, cmds map[string]Command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("ward: the guardrail layer in front of every LLM call (Envoy ext_proc)\n\nUsage: ward COMMAND [flags]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-8s %s\n", n, cmds[n].Summary)
	}
	b.WriteString("\nRun 'ward COMMAND -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}

func runVersion(_ context.Context, _ []string, _ io.Reader, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "ward", Version)
	return nil
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ward "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
