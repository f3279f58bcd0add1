package sandbox

import (
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
