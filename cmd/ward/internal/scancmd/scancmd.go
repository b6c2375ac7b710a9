// Package scancmd implements `ward scan`: find PHI/PII in plain text or JSON
// lines and print the findings (or the redacted text) as JSON lines.
//
// Output contract (stable; tools depend on it): one JSON line per input,
//
//	{"id": "...", "findings": [{"type": "SSN", "start": 10, "end": 21, "score": 0.95}]}
//
// where start/end are Unicode code point offsets into the original text,
// end exclusive. With --redact MODE the redacted text is printed instead:
// raw for plain-text input, {"id": "...", "text": "..."} for --jsonl.
package scancmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/wardhq/ward/policy/injection"
	"github.com/wardhq/ward/policy/phi"
	"github.com/wardhq/ward/policy/topic"
)

// maxInput bounds one plain-text input or one JSON line.
const maxInput = 256 << 20

// Run executes `ward scan` with args (without the subcommand name).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ward scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ward scan [--jsonl] [--redact mask|partial|pseudonym] [--min-score F] [--types T1,T2] [file ...]")
		fmt.Fprintln(stderr, "Reads stdin when no file is given. Pseudonyms use the key in $WARD_PHI_KEY (or --key-env).")
		fs.PrintDefaults()
	}
	jsonl := fs.Bool("jsonl", false, `input is JSON lines {"id": "...", "text": "..."}`)
	redact := fs.String("redact", "", "print redacted text instead of findings: mask, partial or pseudonym")
	minScore := fs.Float64("min-score", phi.DefaultMinScore, "drop findings scoring below this")
	types := fs.String("types", "", "comma-separated types to detect (default all)")
	keyEnv := fs.String("key-env", "WARD_PHI_KEY", "environment variable holding the pseudonym key")
	source := fs.String("source", "user", "where the text comes from, for injection scoring: user, system, tool or document")
	app := fs.String("app", "", "also classify each text against this app's topics (needs --topics)")
	topics := fs.String("topics", "", `topic spec YAML: apps: {NAME: {allowed: {topic: [examples]}, disallowed: {...}}}`)
	if err := fs.Parse(args); err != nil {
		return err
	}

	var errs []error
	opts := phi.Options{MinScore: *minScore}
	if *minScore == 0 {
		opts.MinScore = -1 // explicit 0 keeps everything
	}
	if *types != "" {
		for _, name := range strings.Split(*types, ",") {
			t, ok := phi.ParseType(strings.TrimSpace(strings.ToUpper(name)))
			if !ok {
				errs = append(errs, fmt.Errorf("--types: unknown type %q", name))
				continue
			}
			opts.Types = append(opts.Types, t)
		}
	}
	sc, err := phi.New(opts)
	if err != nil {
		errs = append(errs, err)
	}
	var red *phi.Redactor
	if *redact != "" {
		mode, err := phi.ParseMode(*redact)
		if err != nil {
			errs = append(errs, fmt.Errorf("--redact: %w", err))
		} else {
			ro := phi.RedactorOptions{Default: mode}
			if mode == phi.Pseudonym {
				ro.Key = []byte(os.Getenv(*keyEnv))
			}
			if red, err = phi.NewRedactor(ro); err != nil {
				errs = append(errs, fmt.Errorf("--redact %s (key from $%s): %w", *redact, *keyEnv, err))
			}
		}
	}
	src, err := injection.ParseSource(*source)
	if err != nil {
		errs = append(errs, fmt.Errorf("--source: %w", err))
	}
	var cls *topic.Classifier
	switch {
	case *app != "" && *topics == "":
		errs = append(errs, errors.New("--app needs --topics FILE"))
	case *topics != "":
		if cls, err = topic.Load(*topics); err != nil {
			errs = append(errs, fmt.Errorf("--topics: %w", err))
		} else if *app != "" && !slices.Contains(cls.Apps(), *app) {
			errs = append(errs, fmt.Errorf("--app: %q is not in %s (apps: %s)", *app, *topics, strings.Join(cls.Apps(), ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	s := &scan{sc: sc, red: red, out: out, stderr: stderr, jsonl: *jsonl,
		inj: injection.Default(), source: src, topics: cls, app: *app}
	inputs := fs.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	for _, name := range inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.input(ctx, name, stdin); err != nil {
			errs = append(errs, err)
		}
	}
	if err := out.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("write output: %w", err))
	}
	return errors.Join(errs...)
}

type scan struct {
	sc     *phi.Scanner
	red    *phi.Redactor
	out    *bufio.Writer
	stderr io.Writer
	jsonl  bool
	buf    []phi.Finding

	inj    *injection.Detector
	source injection.Source
	topics *topic.Classifier // nil without --topics
	app    string
}

func (s *scan) input(ctx context.Context, name string, stdin io.Reader) error {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		r = f
	}
	if !s.jsonl {
		data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if len(data) > maxInput {
			return fmt.Errorf("read %s: input larger than %d bytes", name, maxInput)
		}
		return s.emit(name, string(data), false)
	}
	br := bufio.NewReaderSize(r, 1<<16)
	var bad int
	for line := 1; ; line++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, err := readLine(br)
		if len(bytes.TrimSpace(raw)) > 0 {
			var rec struct {
				ID   *string `json:"id"`
				Text *string `json:"text"`
			}
			if jerr := json.Unmarshal(raw, &rec); jerr != nil || rec.Text == nil {
				if jerr == nil {
					jerr = errors.New(`missing "text"`)
				}
				fmt.Fprintf(s.stderr, "ward scan: %s:%d: %v\n", name, line, jerr)
				bad++
			} else {
				id := ""
				if rec.ID != nil {
					id = *rec.ID
				}
				if werr := s.emit(id, *rec.Text, true); werr != nil {
					return werr
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s:%d: %w", name, line, err)
		}
	}
	if bad > 0 {
		return fmt.Errorf("%s: %d invalid JSON line(s)", name, bad)
	}
	return nil
}

// readLine reads one line of at most maxInput bytes (without the newline).
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxInput {
			return nil, fmt.Errorf("line longer than %d bytes", maxInput)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

type finding struct {
	Type  string  `json:"type"`
	Start int     `json:"start"`
	End   int     `json:"end"`
	Score float64 `json:"score"`
}

func (s *scan) emit(id, text string, jsonl bool) error {
	s.buf = s.sc.Scan(text, s.buf[:0])
	if s.red != nil {
		red := s.red.Redact(text, s.buf)
		if !jsonl {
			_, err := s.out.WriteString(red)
			return err
		}
		return s.writeJSON(struct {
			ID   string `json:"id"`
			Text string `json:"text"`
		}{id, red})
	}
	phi.CodePointOffsets(text, s.buf)
	fs := make([]finding, len(s.buf))
	for i, f := range s.buf {
		fs[i] = finding{f.Type.String(), f.Start, f.End, f.Score}
	}
	line := struct {
		ID        string           `json:"id"`
		Findings  []finding        `json:"findings"`
		Injection injection.Result `json:"injection"`
		Topic     *topic.Result    `json:"topic,omitempty"`
	}{ID: id, Findings: fs, Injection: s.inj.Score(text, s.source)}
	// Three decimals are all a threshold needs and keep lines stable.
	line.Injection.Score = math.Round(line.Injection.Score*1000) / 1000
	if s.topics != nil && s.app != "" {
		r := s.topics.Classify(s.app, text)
		line.Topic = &r
	}
	return s.writeJSON(line)
}

func (s *scan) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	s.out.Write(b)
	return s.out.WriteByte('\n')
}
