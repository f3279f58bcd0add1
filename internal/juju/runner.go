package juju

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// Runner runs one hook tool. It returns the tool's stdout, or a *ToolError
// when the tool exited non-zero. stdin is nil when the tool gets none.
type Runner interface {
	Run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error)
}

// ProcessRunner runs hook tools as processes found on PATH, as Juju
// provides them, with os/exec. A hook makes one call per databag, so a
// call is kept cheap: each tool is looked up on PATH once, and the tool's
// stdin, stdout and stderr are three in-memory files (memfd) reused from
// call to call, which os/exec hands to the child as they are: no pipes and
// no copying goroutines. A tool that leaves a background process behind
// cannot hold the call open either, as it could with a pipe. When the
// call's context ends (the hook's timeout), the tool is killed.
// A ProcessRunner is not safe for concurrent use.
type ProcessRunner struct {
	env   []string
	paths map[string]string
	// stdin, stdout and stderr are the tool's standard files.
	stdin, stdout, stderr *os.File
}

// NewProcessRunner prepares the in-memory files. Close releases them.
func NewProcessRunner() (*ProcessRunner, error) {
	r := &ProcessRunner{env: os.Environ(), paths: map[string]string{}}
	for _, f := range []struct {
		name string
		file **os.File
	}{{"tool-stdin", &r.stdin}, {"tool-stdout", &r.stdout}, {"tool-stderr", &r.stderr}} {
		fd, err := unix.MemfdCreate(f.name, unix.MFD_CLOEXEC)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("cannot create a memory file for hook tools: %w", err)
		}
		*f.file = os.NewFile(uintptr(fd), f.name)
	}
	return r, nil
}

// Close releases the in-memory files.
func (r *ProcessRunner) Close() error {
	for _, f := range []*os.File{r.stdin, r.stdout, r.stderr} {
		if f != nil {
			f.Close()
		}
	}
	return nil
}

// Run executes the tool and waits for it. Its stdin is stdin (empty when
// nil), never the charm's own. When ctx ends first, the tool is killed.
func (r *ProcessRunner) Run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	path, err := r.lookPath(tool)
	if err != nil {
		return nil, fmt.Errorf("cannot run %s: %w", tool, err)
	}
	if err := r.prepare(stdin); err != nil {
		return nil, fmt.Errorf("cannot run %s: %w", tool, err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Args[0] = tool // as a shell would: Juju's tools read their name from argv[0]
	cmd.Env = r.env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r.stdin, r.stdout, r.stderr
	runErr := cmd.Run()
	var exit *exec.ExitError
	switch {
	case runErr == nil:
		out, err := readAll(r.stdout)
		if err != nil {
			return nil, fmt.Errorf("cannot read the output of %s: %w", tool, err)
		}
		return out, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("cannot run %s: %w", tool, ctx.Err())
	case errors.As(runErr, &exit) && exit.Exited():
		stderr, err := readAll(r.stderr)
		if err != nil {
			stderr = []byte("(cannot read its standard error: " + err.Error() + ")")
		}
		return nil, &ToolError{Tool: tool, Args: args, Code: exit.ExitCode(), Stderr: string(stderr)}
	case errors.As(runErr, &exit):
		status, _ := exit.Sys().(syscall.WaitStatus)
		return nil, fmt.Errorf("cannot run %s: killed by %v", tool, status.Signal())
	default:
		return nil, fmt.Errorf("cannot run %s: %w", tool, runErr)
	}
}

// lookPath resolves a tool on PATH once per runner.
func (r *ProcessRunner) lookPath(tool string) (string, error) {
	if path, ok := r.paths[tool]; ok {
		return path, nil
	}
	path, err := exec.LookPath(tool)
	if err != nil {
		return "", err
	}
	r.paths[tool] = path
	return path, nil
}

// prepare empties the three files and writes data to stdin. The files'
// offsets are shared with the child, so each is rewound: the child reads
// stdin from the start and writes its output from the start.
func (r *ProcessRunner) prepare(data []byte) error {
	for _, f := range []*os.File{r.stdin, r.stdout, r.stderr} {
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	if len(data) == 0 {
		return nil
	}
	if _, err := r.stdin.Write(data); err != nil {
		return err
	}
	_, err := r.stdin.Seek(0, io.SeekStart)
	return err
}

// readAll returns what the tool wrote to f.
func readAll(f *os.File) ([]byte, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	out := make([]byte, info.Size())
	if _, err := f.ReadAt(out, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return out, nil
}
