package sandbox

import (
	"errors"
	"os"
	"testing"
)

// New starts a sandbox for a test and closes it in t.Cleanup. It skips the
// test with the reason when the sandbox cannot start on this machine
// (not root, unshare or nginx missing, namespaces refused), unless
// SANDBOX_REQUIRED=1 is set (CI), in which case it fails the test.
func New(t testing.TB, opts Options) *Sandbox {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		if os.Getenv("SANDBOX_REQUIRED") != "1" {
			if errors.Is(err, ErrUnavailable) {
				t.Skipf("skipping: %v", err)
			}
			t.Skipf("skipping: sandbox cannot start: %v", err)
		}
		t.Fatalf("sandbox: %v", err)
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
