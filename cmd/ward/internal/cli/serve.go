package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/wardhq/ward/extproc/config"
	"github.com/wardhq/ward/extproc/run"
)

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	path := fs.String("config", os.Getenv("WARD_CONFIG"), "config file (YAML); empty = embedded defaults (env WARD_CONFIG)")
	grpcAddr := fs.String("grpc-addr", "", "override server.grpc_addr")
	adminAddr := fs.String("admin-addr", "", "override server.admin_addr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if *grpcAddr != "" {
		cfg.Server.GRPCAddr = *grpcAddr
	}
	if *adminAddr != "" {
		cfg.Server.AdminAddr = *adminAddr
	}
	log := newLogger(cfg.Log, stderr)
	run.Version = Version
	return run.Ward(ctx, cfg, log, nil)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func runConfig(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: ward config check --config FILE | ward config default")
	}
	switch args[0] {
	case "default":
		_, err := stdout.Write(config.DefaultYAML())
		return err
	case "check":
		fs := newFlags("config check", stderr)
		path := fs.String("config", "", "config file to check (empty = embedded defaults)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if _, err := config.Load(*path); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "config ok")
		return nil
	}
	return fmt.Errorf("unknown config subcommand %q (check, default)", args[0])
}

// runKeys prints the SHA-256 of a caller key read from stdin, for the
// config's keys[].sha256: the plain key never goes into a file.
func runKeys(_ context.Context, args []string, stdin io.Reader, stdout, _ io.Writer) error {
	if len(args) == 0 || args[0] != "hash" {
		return fmt.Errorf("usage: ward keys hash < keyfile")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	key := strings.TrimSpace(line)
	if key == "" {
		return fmt.Errorf("no key on stdin")
	}
	sum := sha256.Sum256([]byte(key))
	fmt.Fprintln(stdout, hex.EncodeToString(sum[:]))
	return nil
}
