package juju

import (
	"context"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloneArgs is the kernel's struct clone_args (CLONE_ARGS_SIZE_VER0).
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls uint64
}

// execPlan is what the child of clone3Exec reads; the assembly knows its
// layout.
type execPlan struct {
	path       *byte
	argv, envv **byte
	fds        [3]int64
	// errno is set by the child when dup3 or execve fails.
	errno int64
}

// clone3Exec starts a child that sets up its standard files and execs as
// the plan says. It is implemented in assembly.
//
//go:noescape
func clone3Exec(args *cloneArgs, size uintptr, plan *execPlan) (pid uintptr, errno uintptr)

// fastSpawnFlags are the clone3 flags: the child shares the parent's
// memory until it execs (vfork), so nothing is copied; its signal
// handlers are reset to the defaults by the kernel (Linux 5.5), so it
// never runs the runtime's; and a pidfd is returned. Its exit signal is
// left 0: its exit sends no SIGCHLD, so the runtime's handler is not woken
// once per tool (the exit is waited for through the pidfd and wait4 with
// __WALL).
const fastSpawnFlags = unix.CLONE_VM | unix.CLONE_VFORK | unix.CLONE_PIDFD | unix.CLONE_CLEAR_SIGHAND

// spawner starts tool processes with clone3Exec: compared with
// syscall.ForkExec it prepares the environment once, and makes no pipe to
// learn whether exec failed (the child writes the errno in memory it
// shares with the parent) and no signal mask changes.
type spawner struct {
	envv   []*byte
	args   cloneArgs
	pidfd  int32
	plan   execPlan
	broken bool
}

func newSpawner(env []string) *spawner {
	s := &spawner{}
	for _, kv := range env {
		if p, err := syscall.BytePtrFromString(kv); err == nil {
			s.envv = append(s.envv, p)
		}
	}
	s.envv = append(s.envv, nil)
	return s
}

// disable makes start report errNoFastSpawn from now on.
func (s *spawner) disable() { s.broken = true }

// enabled reports whether start still starts processes itself.
func (s *spawner) enabled() bool { return !s.broken }

// start runs path with argv and the three files as stdin, stdout and
// stderr (each ≥ 3). It returns errNoFastSpawn, once, when the kernel is
// too old for these flags; the caller then uses syscall.ForkExec.
func (s *spawner) start(path string, argv []string, files [3]int) (pid, pidfd int, err error) {
	if s.broken {
		return 0, -1, errNoFastSpawn
	}
	pathp, err := syscall.BytePtrFromString(path)
	if err != nil {
		return 0, -1, err
	}
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return 0, -1, err
	}
	s.pidfd = -1
	s.args = cloneArgs{flags: fastSpawnFlags, pidfd: uint64(uintptr(unsafe.Pointer(&s.pidfd)))}
	s.plan = execPlan{path: pathp, argv: &argvp[0], envv: &s.envv[0],
		fds: [3]int64{int64(files[0]), int64(files[1]), int64(files[2])}}
	child, errno := clone3Exec(&s.args, unsafe.Sizeof(s.args), &s.plan)
	runtime.KeepAlive(pathp)
	runtime.KeepAlive(argvp)
	switch {
	case errno == uintptr(syscall.ENOSYS) || errno == uintptr(syscall.EINVAL) || errno == uintptr(syscall.E2BIG) || errno == uintptr(syscall.EPERM):
		// No clone3 or no CLONE_CLEAR_SIGHAND (before Linux 5.5), or
		// clone3 filtered out (seccomp): use the portable way.
		s.broken = true
		return 0, -1, errNoFastSpawn
	case errno != 0:
		return 0, -1, syscall.Errno(errno)
	}
	pid, pidfd = int(child), int(s.pidfd)
	if e := atomic.LoadInt64(&s.plan.errno); e != 0 {
		// The child could not exec and has exited: reap it.
		wait(context.Background(), pid, pidfd)
		return 0, -1, syscall.Errno(e)
	}
	return pid, pidfd, nil
}
