// Package toolwire is the wire format between the benchmark's hook-tool
// shim (bench/cmd/simtool, one tiny process per hook-tool call, as Juju's
// jujuc client is) and the tool server in the benchmark process, which
// runs the call against the simulated model (package jujusim).
//
// One connection carries one call: the shim sends a Request, the server
// answers a Response, and the shim, after writing the tool's output, sends
// the Usage of its own process so that the benchmark can subtract the
// tools' CPU from the charm's.
package toolwire

// SocketEnv names the variable holding the tool server's unix socket path.
const SocketEnv = "BENCH_TOOL_SOCKET"

// Request is one hook-tool call as the charm made it.
type Request struct {
	// Tool is the tool's name (basename of argv[0]).
	Tool string   `json:"tool"`
	Args []string `json:"args"`
	// HasStdin is true when the call reads stdin ("--file -"); Stdin is
	// then everything the charm wrote to it.
	HasStdin bool   `json:"has-stdin,omitempty"`
	Stdin    []byte `json:"stdin,omitempty"`
	// ContextID is JUJU_CONTEXT_ID, checked against the running hook.
	ContextID string `json:"context-id"`
}

// Response is what the tool prints and its exit code.
type Response struct {
	Stdout []byte `json:"stdout,omitempty"`
	Stderr []byte `json:"stderr,omitempty"`
	Code   int    `json:"code"`
}

// Usage is the shim process's own resource usage (getrusage RUSAGE_SELF)
// taken after it wrote the tool's output, just before it exits.
type Usage struct {
	UserMicros   int64 `json:"user-us"`
	SystemMicros int64 `json:"sys-us"`
	MaxRSSKB     int64 `json:"maxrss-kb"`
}

// WantsStdin reports whether a call reads its stdin: "--file -" (or
// "--file=-"), as relation-set, state-set and secret-* accept.
func WantsStdin(args []string) bool {
	for i, a := range args {
		switch a {
		case "--file=-", "-file=-":
			return true
		case "--file", "-file":
			if i+1 < len(args) && args[i+1] == "-" {
				return true
			}
		}
	}
	return false
}

// LaunchName is the name under which the shim acts as the launcher of the
// charm process (see LaunchReport).
const LaunchName = "hookbench-launch"

// LaunchReport is what the launcher writes to its file descriptor 3 after
// the charm process it started exited: the charm's wall time, wait4
// rusage and own CPU. The launcher first writes the charm's pid on a line
// of its own.
//
// The launcher exists because Linux's ru_maxrss of a child includes the
// peak RSS of the memory it had before exec, i.e. of the parent that
// vforked it: started from the (large) benchmark process, the charm's
// ru_maxrss would be the benchmark's. The launcher is small.
type LaunchReport struct {
	WallNanos    int64 `json:"wall-ns"`
	UserMicros   int64 `json:"user-us"`
	SystemMicros int64 `json:"sys-us"`
	MaxRSSKB     int64 `json:"maxrss-kb"`
	ExitCode     int   `json:"exit-code"`
	// OwnNanos is the charm's own CPU time, all its threads and none of
	// its children: its process CPU clock (CPUCLOCK_SCHED, the scheduler's
	// exact run time), read after it exited and before it was reaped.
	// 0 when the clock could not be read.
	OwnNanos int64 `json:"own-ns"`
}
