package juju

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
)

// Runner runs one hook tool. It returns the tool's stdout, or a *ToolError
// when the tool exited non-zero. stdin is nil when the tool gets none.
type Runner interface {
	Run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error)
}

// ExecRunner runs hook tools as processes found on PATH, as Juju provides them.
type ExecRunner struct{}

// Run executes the tool; stdin is always set explicitly so that a tool never
// reads the charm's own stdin.
func (ExecRunner) Run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return nil, &ToolError{Tool: tool, Args: args, Code: exitErr.ExitCode(), Stderr: stderr.String()}
	}
	return nil, fmt.Errorf("cannot run %s: %w", tool, err)
}
