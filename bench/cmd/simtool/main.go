// Command simtool is the benchmark's hook-tool shim: linked under every
// hook tool's name (relation-get, status-set, ...) on the charm's PATH, it
// forwards the call to the benchmark's tool server over the unix socket in
// $BENCH_TOOL_SOCKET, prints the answer, reports its own rusage and exits
// with the tool's code. It does as little as possible, like Juju's jujuc
// client, so that its cost and memory stay small and measurable.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tempo-coordinator/coordinator/bench/toolwire"
)

func main() { os.Exit(run()) }

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
