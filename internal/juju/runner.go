package juju

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Runner runs one hook tool. It returns the tool's stdout, or a *ToolError
// when the tool exited non-zero. stdin is nil when the tool gets none.
type Runner interface {
	Run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error)
}

// ProcessRunner runs hook tools as processes found on PATH, as Juju
// provides them. A hook makes one call per databag, so a call must cost
// its caller little: tool paths are resolved once (and a tool beside the
// first one found, in PATH's first directory where Juju puts them all, is
// run without a search); the tool's stdin, stdout and stderr are three
// in-memory files (memfd) reused from call to call, so a call is one
// fork/exec, one wait and a few system calls, with no pipes or goroutines
// of ours. A tool that leaves a background process behind cannot hold the
// call open either, as it could with a pipe.
// A ProcessRunner is not safe for concurrent use.
type ProcessRunner struct {
	env   []string
	paths map[string]string
	// toolsDir is PATH's first directory once a tool was found there.
	toolsDir        string
	stdin, out, err *os.File
	// stdinSize is the length of the stdin file's content.
	stdinSize int
	spawner   *spawner
	// outEnd is where the next tool's stdout starts: the stdout file's
	// offset, kept from call to call until it passes outRewind.
	outEnd int64
}

// outRewind is the size past which the stdout file is rewound rather than
// appended to.
const outRewind = 1 << 20

// NewProcessRunner prepares the in-memory files. Close releases them.
func NewProcessRunner() (*ProcessRunner, error) {
	r := &ProcessRunner{env: os.Environ(), paths: map[string]string{}}
	for _, f := range []struct {
		name string
		file **os.File
	}{{"tool-stdin", &r.stdin}, {"tool-stdout", &r.out}, {"tool-stderr", &r.err}} {
		// Never 0-2: Go's runtime opens /dev/null on any of them that
		// the process was started without.
		fd, err := unix.MemfdCreate(f.name, unix.MFD_CLOEXEC)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("cannot create a memory file for hook tools: %w", err)
		}
		*f.file = os.NewFile(uintptr(fd), f.name)
	}
	r.spawner = newSpawner(r.env)
	return r, nil
}

// Close releases the in-memory files.
func (r *ProcessRunner) Close() error {
	for _, f := range []*os.File{r.stdin, r.out, r.err} {
		if f != nil {
			f.Close()
		}
	}
	return nil
}

// Run executes the tool and waits for it. stdin is always set explicitly
// (empty when nil) so that a tool never reads the charm's own stdin. When
// ctx ends first, the tool is killed.
func (r *ProcessRunner) Run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	path, guessed, err := r.lookPath(tool)
	if err != nil {
		return nil, fmt.Errorf("cannot run %s: %w", tool, err)
	}
	if err := r.prepare(stdin); err != nil {
		return nil, fmt.Errorf("cannot run %s: %w", tool, err)
	}
	argv := append([]string{tool}, args...)
	pid, pidfd, err := r.start(path, argv)
	if guessed && (err == syscall.ENOENT || err == syscall.EACCES) {
		// Not in the tools directory after all: search PATH.
		delete(r.paths, tool)
		if path, err = exec.LookPath(tool); err == nil {
			r.paths[tool] = path
			pid, pidfd, err = r.start(path, argv)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot run %s: %w", tool, err)
	}
	status, err := wait(ctx, pid, pidfd)
	// Whatever happened, the next tool's output starts where this one's
	// ended (or, if that is unknown, at the start of the file).
	start := r.outEnd
	end, offErr := offset(r.out)
	r.outEnd = end
	if offErr != nil {
		r.outEnd = outRewind + 1
	}
	if err != nil {
		return nil, fmt.Errorf("cannot wait for %s: %w", tool, err)
	}
	if offErr != nil {
		return nil, fmt.Errorf("cannot read the output of %s: %w", tool, offErr)
	}
	switch {
	case status.Exited() && status.ExitStatus() == 0:
		return readAt(r.out, start, end)
	case status.Exited():
		end, _ := offset(r.err)
		stderr, _ := readAt(r.err, 0, end)
		return nil, &ToolError{Tool: tool, Args: args, Code: status.ExitStatus(), Stderr: string(stderr)}
	case ctx.Err() != nil:
		return nil, fmt.Errorf("cannot run %s: %w", tool, ctx.Err())
	default:
		return nil, fmt.Errorf("cannot run %s: killed by %v", tool, status.Signal())
	}
}

// start starts the tool with the memory files as its standard files and
// returns its pid and a pidfd (-1 when the kernel gives none).
func (r *ProcessRunner) start(path string, argv []string) (pid, pidfd int, err error) {
	files := [3]int{int(r.stdin.Fd()), int(r.out.Fd()), int(r.err.Fd())}
	pid, pidfd, err = r.spawner.start(path, argv, files)
	if err != errNoFastSpawn {
		return pid, pidfd, err
	}
	pidfd = -1
	pid, err = syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   r.env,
		Files: []uintptr{uintptr(files[0]), uintptr(files[1]), uintptr(files[2])},
		Sys:   &syscall.SysProcAttr{PidFD: &pidfd},
	})
	return pid, pidfd, err
}

// errNoFastSpawn says that the spawner cannot start processes here.
var errNoFastSpawn = errors.New("no fast spawn on this system")

// lookPath resolves a tool once per runner, as exec.LookPath does. Once a
// tool was found in PATH's first directory, where Juju puts every hook
// tool, the others are taken to be there too without a search (guessed);
// Run searches when that guess fails.
func (r *ProcessRunner) lookPath(tool string) (path string, guessed bool, err error) {
	if path, ok := r.paths[tool]; ok {
		return path, false, nil
	}
	if r.toolsDir != "" && !strings.Contains(tool, "/") {
		path = filepath.Join(r.toolsDir, tool)
		r.paths[tool] = path
		return path, true, nil
	}
	if path, err = exec.LookPath(tool); err != nil {
		return "", false, err
	}
	r.paths[tool] = path
	if first, _, _ := strings.Cut(os.Getenv("PATH"), string(os.PathListSeparator)); first != "" && !strings.Contains(tool, "/") && filepath.Dir(path) == filepath.Clean(first) {
		r.toolsDir = first
	}
	return path, false, nil
}

// wait waits for the tool to exit and reaps it, killing it if ctx ends
// first. With a pidfd (Linux 5.3 and later) the wait is a poll on it made
// as a raw system call, which the Go scheduler does not see: the hook's
// goroutine keeps its P while the tool runs, so that the runtime does not
// hand the P to another thread and poll every 20 µs to take it back. That
// scheduler traffic cost more CPU than the fork and exec. The poll lasts
// at most pollSlice, and a signal (such as the runtime's preemption
// request) interrupts it, so the goroutine stays preemptible. Without a
// pidfd, the wait is a plain wait4 and ctx cannot kill the tool.
func wait(ctx context.Context, pid, pidfd int) (syscall.WaitStatus, error) {
	if pidfd >= 0 {
		defer unix.Close(pidfd)
		if err := pollExit(ctx, pidfd); err != nil {
			unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		}
	}
	var status syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &status, unix.WALL, nil)
		if err != syscall.EINTR {
			return status, err
		}
	}
}

// pollSlice bounds one raw poll, so that ctx is checked at least this often.
const pollSlice = time.Second

// pollExit returns nil when the process behind pidfd has exited, or
// ctx's error when ctx ends first.
func pollExit(ctx context.Context, pidfd int) error {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		slice := pollSlice
		if deadline, ok := ctx.Deadline(); ok {
			slice = min(slice, time.Until(deadline))
		}
		ts := unix.NsecToTimespec(max(slice, 0).Nanoseconds())
		n, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1,
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		switch {
		case errno == 0 && n > 0:
			return nil
		case errno != 0 && errno != unix.EINTR:
			return errno
		}
	}
}

// prepare sets the tool's stdin to data and rewinds stderr. The files'
// offsets are shared with the child: it reads stdin from the start and
// writes stdout from r.outEnd and stderr from the start, so that after it
// exits the offsets tell what it wrote (see offset and readAt). Stale
// bytes past them are never read, so the output files are not truncated;
// stdin is, when it holds more than data. A call without stdin after one
// without stdin touches no file but stderr.
func (r *ProcessRunner) prepare(data []byte) error {
	if len(data) > 0 || r.stdinSize > 0 {
		fd := int(r.stdin.Fd())
		if len(data) > 0 {
			if _, err := unix.Pwrite(fd, data, 0); err != nil {
				return err
			}
		}
		if r.stdinSize > len(data) {
			if err := unix.Ftruncate(fd, int64(len(data))); err != nil {
				return err
			}
		}
		if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
			return err
		}
		r.stdinSize = len(data)
	}
	if r.outEnd > outRewind {
		if _, err := unix.Seek(int(r.out.Fd()), 0, io.SeekStart); err != nil {
			return err
		}
		r.outEnd = 0
	}
	_, err := unix.Seek(int(r.err.Fd()), 0, io.SeekStart)
	return err
}

// offset returns an output file's offset: where the child stopped writing.
func offset(f *os.File) (int64, error) {
	return unix.Seek(int(f.Fd()), 0, io.SeekCurrent)
}

// readAt returns the bytes of f from start to end.
func readAt(f *os.File, start, end int64) ([]byte, error) {
	if end <= start {
		return []byte{}, nil
	}
	buf := make([]byte, end-start)
	for n := 0; n < len(buf); {
		m, err := unix.Pread(int(f.Fd()), buf[n:], start+int64(n))
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return nil, io.ErrUnexpectedEOF
		}
		n += m
	}
	return buf, nil
}
