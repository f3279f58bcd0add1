package sandbox

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
)

// New starts a sandbox for a test and closes it in t.Cleanup. It skips the
// test under -short, and with the reason when the sandbox cannot start on
// this machine (not root, unshare or nginx missing, namespaces refused),
// unless SANDBOX_REQUIRED=1 is set (CI), in which case it fails the test.
func New(t testing.TB, opts Options) *Sandbox {
	t.Helper()
	prereq.Heavy(t)
	s, err := Start(opts)
	if err != nil {
		prereq.Missing(t, "sandbox cannot start: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", s.Log())
		}
		if err := s.Close(); err != nil {
			t.Errorf("sandbox close: %v", err)
		}
	})
	return s
}

// BackendCounts counts what backends started by Backend served.
type BackendCounts struct {
	Requests, Conns atomic.Int64
}

// Backend serves HTTP at addr inside the sandbox's network namespace until
// the test ends, answering every request with body; counts, when not nil,
// counts its requests and new connections.
func (s *Sandbox) Backend(t testing.TB, addr, body string, counts *BackendCounts) {
	t.Helper()
	l, err := s.ListenInNetns("tcp", addr)
	if err != nil {
		t.Fatalf("backend listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if counts != nil {
			counts.Requests.Add(1)
		}
		io.WriteString(w, body)
	})}
	if counts != nil {
		srv.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				counts.Conns.Add(1)
			}
		}
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}
