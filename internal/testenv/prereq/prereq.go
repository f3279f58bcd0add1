// Package prereq decides what a test does when this machine lacks what
// it needs (nginx, Pebble, namespaces, root, the real Tempo or Pyroscope):
// it skips, with the reason, except in CI (SANDBOX_REQUIRED=1), where a
// missing part is a failure, so that CI cannot pass by skipping.
package prereq

import (
	"fmt"
	"os"
	"testing"
)

// Strict reports whether missing parts fail tests (SANDBOX_REQUIRED=1).
func Strict() bool { return os.Getenv("SANDBOX_REQUIRED") == "1" }

// Missing skips the test with the reason, or fails it when Strict.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("SANDBOX_REQUIRED=1: %s", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// Heavy skips a test that starts processes, servers or sandboxes under
// -short (make unit); make test runs it.
func Heavy(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping in -short mode: starts real processes (make test runs it)")
	}
}
