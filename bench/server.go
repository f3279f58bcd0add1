package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tempo-coordinator/coordinator/bench/toolwire"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// CallRecord is what the tool server measured for one hook-tool call.
type CallRecord struct {
	Tool string
	// Args and Stdin are the call as the charm made it (Stdin nil when it
	// read none), kept for write tools only (see isWrite): the read floor
	// replays a first hook's writes.
	Args  []string
	Stdin []byte
	// Handling is the server's time for the call, from the request read
	// to the answer sent (the simulated controller's work).
	Handling time.Duration
	// HaveUsage is false when the shim exited without reporting.
	HaveUsage bool
	// SelfCPU (user+sys) and SelfMaxRSSKB are the shim's own rusage.
	SelfCPU      time.Duration
	SelfMaxRSSKB int64
	// CharmCPU is the charm process's own CPU (the sum of its threads'
	// schedstat run time) and CharmHWMKB its VmHWM, read when the call
	// arrived; zero when the charm's pid was not known yet.
	CharmCPU   time.Duration
	CharmHWMKB int64
}

// toolServer answers the shims' calls with the simulated model, playing
// Juju's unit agent. One hook runs at a time.
type toolServer struct {
	path string
	ln   net.Listener

	mu      sync.Mutex
	hook    *jujusim.Hook
	context string
	pid     int
	records []CallRecord
	conns   sync.WaitGroup
}

func newToolServer(dir string) (*toolServer, error) {
	path := filepath.Join(dir, "agent.socket")
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot start the tool server: %w", err)
	}
	s := &toolServer{path: path, ln: ln}
	go s.serve()
	return s, nil
}

func (s *toolServer) close() error { return s.ln.Close() }

func (s *toolServer) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			defer conn.Close()
			s.handle(conn)
		}()
	}
}

// begin routes calls to the hook until end.
func (s *toolServer) begin(h *jujusim.Hook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook, s.context, s.pid, s.records = h, h.Getenv("JUJU_CONTEXT_ID"), 0, nil
}

// setPID names the charm process, whose own CPU and memory are sampled at
// every call.
func (s *toolServer) setPID(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pid = pid
}

// end waits for the calls in flight and returns the hook's records, in
// arrival order.
func (s *toolServer) end() []CallRecord {
	s.conns.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.records
	s.hook, s.context, s.pid, s.records = nil, "", 0, nil
	return recs
}

func (s *toolServer) handle(conn net.Conn) {
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	dec := json.NewDecoder(bufio.NewReader(conn))
	enc := json.NewEncoder(conn)
	var req toolwire.Request
	if err := dec.Decode(&req); err != nil {
		return
	}
	start := time.Now()
	s.mu.Lock()
	hook, context, pid := s.hook, s.context, s.pid
	s.mu.Unlock()
	rec := CallRecord{Tool: req.Tool}
	if isWrite(req.Tool) {
		rec.Args = req.Args
		if req.HasStdin {
			rec.Stdin = append([]byte{}, req.Stdin...)
		}
	}
	var resp toolwire.Response
	switch {
	case hook == nil || req.ContextID != context:
		resp = toolwire.Response{Code: 1, Stderr: []byte("ERROR bad context id " + strconv.Quote(req.ContextID) + ": no such hook is running\n")}
	default:
		resp = runTool(hook, req)
		if pid != 0 {
			rec.CharmCPU, rec.CharmHWMKB = processStats(pid)
		}
	}
	rec.Handling = time.Since(start)
	if err := enc.Encode(resp); err != nil {
		return
	}
	var u toolwire.Usage
	if err := dec.Decode(&u); err == nil {
		rec.HaveUsage = true
		rec.SelfCPU = time.Duration(u.UserMicros+u.SystemMicros) * time.Microsecond
		rec.SelfMaxRSSKB = u.MaxRSSKB
	}
	s.mu.Lock()
	s.records = append(s.records, rec)
	s.mu.Unlock()
}

func runTool(h *jujusim.Hook, req toolwire.Request) toolwire.Response {
	var stdin []byte
	if req.HasStdin {
		stdin = req.Stdin
		if stdin == nil {
			stdin = []byte{}
		}
	}
	out, err := h.Run(context.Background(), req.Tool, req.Args, stdin)
	var te *juju.ToolError
	switch {
	case err == nil:
		return toolwire.Response{Stdout: out}
	case errors.As(err, &te):
		return toolwire.Response{Code: te.Code, Stderr: []byte(te.Stderr)}
	default:
		return toolwire.Response{Code: 1, Stderr: []byte("ERROR " + err.Error() + "\n")}
	}
}

// processStats reads a live process's own CPU time so far (the sum of the
// first schedstat field, nanoseconds on CPU, over its threads; children
// are not included) and its peak resident set (VmHWM, kB).
func processStats(pid int) (cpu time.Duration, hwmKB int64) {
	dir := "/proc/" + strconv.Itoa(pid)
	tasks, _ := os.ReadDir(dir + "/task")
	for _, t := range tasks {
		raw, err := os.ReadFile(dir + "/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		field, _, _ := strings.Cut(string(raw), " ")
		if ns, err := strconv.ParseInt(field, 10, 64); err == nil {
			cpu += time.Duration(ns)
		}
	}
	if raw, err := os.ReadFile(dir + "/status"); err == nil {
		for line := range bytes.Lines(raw) {
			if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
				fields := strings.Fields(string(rest))
				if len(fields) > 0 {
					hwmKB, _ = strconv.ParseInt(fields[0], 10, 64)
				}
			}
		}
	}
	return cpu, hwmKB
}

// isWrite reports whether a hook tool changes the model (what a hook
// commits), as opposed to reading it.
func isWrite(tool string) bool {
	switch tool {
	case "relation-set", "state-set", "state-delete", "status-set", "open-port", "close-port", "application-version-set":
		return true
	}
	return false
}
