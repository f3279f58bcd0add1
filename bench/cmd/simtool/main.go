// Command simtool is the benchmark's hook-tool shim: linked under every
// hook tool's name (relation-get, status-set, ...) on the charm's PATH, it
// forwards the call to the benchmark's tool server over the unix socket in
// $BENCH_TOOL_SOCKET, prints the answer, reports its own rusage and exits
// with the tool's code. It does as little as possible, like Juju's jujuc
// client, so that its cost and memory stay small and measurable.
//
// Linked as hookbench-launch, it is instead the small parent that starts
// the charm process and reports its wait4 rusage (see toolwire.LaunchReport).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tempo-coordinator/coordinator/bench/toolwire"
)

func main() {
	if filepath.Base(os.Args[0]) == toolwire.LaunchName {
		os.Exit(launch(os.Args[1:]))
	}
	os.Exit(run())
}

// launch runs args as a child with this process's stdio and environment,
// writes its pid and then its LaunchReport to file descriptor 3, and
// exits with its code.
func launch(args []string) int {
	report := os.NewFile(3, "report")
	if len(args) == 0 || report == nil {
		fmt.Fprintln(os.Stderr, "usage: hookbench-launch PROGRAM [ARGS...] 3>REPORT")
		return 2
	}
	syscall.CloseOnExec(3) // the charm and its tools must not inherit the report pipe
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot start %s: %v\n", args[0], err)
		return 127
	}
	fmt.Fprintf(report, "%d\n", cmd.Process.Pid)
	own := ownCPUAtExit(cmd.Process.Pid)
	err := cmd.Wait()
	wall := time.Since(start)
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		fmt.Fprintf(os.Stderr, "cannot wait for %s: %v\n", args[0], err)
		return 127
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	_ = json.NewEncoder(report).Encode(toolwire.LaunchReport{
		WallNanos:  wall.Nanoseconds(),
		UserMicros: ru.Utime.Sec*1e6 + ru.Utime.Usec, SystemMicros: ru.Stime.Sec*1e6 + ru.Stime.Usec,
		MaxRSSKB: ru.Maxrss, ExitCode: cmd.ProcessState.ExitCode(), OwnNanos: own.Nanoseconds(),
	})
	return cmd.ProcessState.ExitCode()
}

// ownCPUAtExit waits until process pid has exited without reaping it,
// then reads its process CPU clock: the exact CPU time of all its threads,
// excluding its children, which the zombie keeps until it is reaped. It
// returns 0 when either step fails.
func ownCPUAtExit(pid int) time.Duration {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return 0
		}
	}
	// The kernel's MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED).
	clock := int32(^pid)<<3 | 2
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func run() int {
	tool := filepath.Base(os.Args[0])
	sock := os.Getenv(toolwire.SocketEnv)
	if sock == "" {
		fmt.Fprintf(os.Stderr, "ERROR %s not set\n", toolwire.SocketEnv)
		return 1
	}
	req := toolwire.Request{Tool: tool, Args: os.Args[1:], ContextID: os.Getenv("JUJU_CONTEXT_ID")}
	if toolwire.WantsStdin(req.Args) {
		in, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ERROR cannot read stdin: %v\n", err)
			return 1
		}
		req.HasStdin, req.Stdin = true, in
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR cannot reach the unit agent: %v\n", err)
		return 1
	}
	defer conn.Close()
	enc, dec := json.NewEncoder(conn), json.NewDecoder(conn)
	var resp toolwire.Response
	if err := enc.Encode(req); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR cannot send the call: %v\n", err)
		return 1
	}
	if err := dec.Decode(&resp); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR cannot read the answer: %v\n", err)
		return 1
	}
	os.Stdout.Write(resp.Stdout)
	os.Stderr.Write(resp.Stderr)
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		_ = enc.Encode(toolwire.Usage{
			UserMicros:   ru.Utime.Sec*1e6 + ru.Utime.Usec,
			SystemMicros: ru.Stime.Sec*1e6 + ru.Stime.Usec,
			MaxRSSKB:     ru.Maxrss,
		})
	}
	return resp.Code
}
