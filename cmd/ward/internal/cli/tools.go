package cli

import (
	"context"
	"io"

	"github.com/wardhq/ward/cmd/ward/internal/auditcmd"
	"github.com/wardhq/ward/cmd/ward/internal/policycmd"
	"github.com/wardhq/ward/cmd/ward/internal/scancmd"
	"github.com/wardhq/ward/cmd/ward/internal/tokenscmd"
)

// The thin CLIs over Ward's libraries live in their own packages; these
// adapters keep the command table uniform.

func runScan(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return scancmd.Run(ctx, args, stdin, stdout, stderr)
}

func runTokens(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return tokenscmd.Run(ctx, args, stdin, stdout, stderr)
}

func runPolicy(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return policycmd.Run(ctx, args, stdin, stdout, stderr)
}

func runAudit(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return auditcmd.Run(ctx, args, stdin, stdout, stderr)
}
