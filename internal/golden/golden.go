// Package golden compares what a test produced with a golden file and,
// under -update, rewrites the file. Every rendered artefact of the project
// (nginx.conf, worker configs, databags, Pebble layers) has one; a
// difference fails the test with a line diff, so that a reviewer sees what
// changed rather than two whole files.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files with the current output (then review the git diff)")

// Update reports whether the test binary runs with -update.
func Update() bool { return *update }

// Check compares got with the golden file at path (relative to the test's
// package directory, usually under testdata/). With -update it first
// writes got there, creating the directory. A missing file or a
// difference fails the test; the message shows the lines that differ
// ("-" the golden file, "+" got).
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it; review the file before committing it)", err)
	}
	if diff := Diff(want, got); diff != "" {
		t.Errorf("output differs from %s (-%s +got); if the change is intended, rerun with -update and review the git diff:\n%s",
			path, filepath.Base(path), diff)
	}
}

// Diff returns a line diff from want to got, "" when they are equal.
func Diff(want, got []byte) string {
	if string(want) == string(got) {
		return ""
	}
	return cmp.Diff(lines(want), lines(got))
}

// lines splits b into lines, each with its newline, so that the diff is
// one line per element with the unchanged runs elided.
func lines(b []byte) []string {
	return strings.SplitAfter(string(b), "\n")
}
