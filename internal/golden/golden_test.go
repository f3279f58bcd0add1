package golden_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/golden"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
}

func TestCheck(t *testing.T) {
	if golden.Update() {
		t.Skip("this test checks comparisons, not rewrites")
	}
	path := filepath.Join(t.TempDir(), "x.conf")
	want := "server {\n    listen 80;\n    location / {}\n}\n"
	if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}

	same := &recorder{TB: t}
	golden.Check(same, path, []byte(want))
	if same.failed {
		t.Errorf("equal output failed: %s", same.msg)
	}

	changed := &recorder{TB: t}
	golden.Check(changed, path, []byte(strings.Replace(want, "listen 80", "listen 8080", 1)))
	if !changed.failed {
		t.Fatal("different output passed")
	}
	// The message is a diff of the changed line, not the whole file twice.
	for _, s := range []string{"listen 80;", "listen 8080;", path} {
		if !strings.Contains(changed.msg, s) {
			t.Errorf("message lacks %q:\n%s", s, changed.msg)
		}
	}
	if strings.Count(changed.msg, "location") > 1 {
		t.Errorf("message repeats unchanged lines:\n%s", changed.msg)
	}

	missing := &recorder{TB: t}
	golden.Check(missing, filepath.Join(t.TempDir(), "none"), []byte(want))
	if !missing.failed || !strings.Contains(missing.msg, "-update") {
		t.Errorf("a missing golden file: failed=%v, message %q", missing.failed, missing.msg)
	}
}
