package main

import (
	"os"
	"strings"
	"testing"
)

// phaseIndex finds a phase by a fragment of its name.
func phaseIndex(t *testing.T, fragment string) int {
	t.Helper()
	for i, p := range phases {
		if strings.Contains(p.name, fragment) {
			return i
		}
	}
	t.Fatalf("no phase named like %q", fragment)
	return -1
}

// testdata/dispatch.perf holds real samples of a hook run (perf script
// -F comm,pid,tid,ip,sym), one per phase, in this order, with one sample
// of another command, which must not be counted, before the last.
func TestCountPhases(t *testing.T) {
	f, err := os.Open("testdata/dispatch.perf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts, err := countPhases(f, "dispatch")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, len(phases))
	for _, fragment := range []string{
		"exec (loading",        // the charm's own execve (user stack: the launcher's)
		"the Go runtime",       // runtime.schedinit
		"package init",         // runtime.doInit1
		"starting the process", // clone3 in the parent
		"waiting for",          // pollExit
		"decoding",             // (*Client).runJSON, not in the runner
		"runtime threads",      // sysmon
		"Reconcile",            // coordinator.Reconcile under main.main
		"applying",             // (*Charm).apply
		"exit",                 // do_group_exit
		"before its exec",      // a tool child's execve, on the charm's stack
	} {
		want[phaseIndex(t, fragment)]++
	}
	for i, p := range phases {
		if counts[i] != want[i] {
			t.Errorf("%s: %d samples, want %d", p.name, counts[i], want[i])
		}
	}
}

func TestToolChildIsNotTheCharms(t *testing.T) {
	child := stack{"github.com/tempo-coordinator/coordinator/internal/juju.clone3Exec.abi0": true,
		"__x64_sys_execve": true, "main.main": true}
	parent := stack{"github.com/tempo-coordinator/coordinator/internal/juju.clone3Exec.abi0": true,
		"__do_sys_clone3": true, "main.main": true}
	if i := classify(child); phases[i].charm {
		t.Errorf("a tool child before exec is counted as %q", phases[i].name)
	}
	if i := classify(parent); phases[i].name != phases[phaseIndex(t, "starting the process")].name {
		t.Errorf("the parent in clone3 is counted as %q", phases[i].name)
	}
}

func TestWriteTable(t *testing.T) {
	counts := make([]int, len(phases))
	counts[phaseIndex(t, "Reconcile")] = 3
	counts[phaseIndex(t, "exit")] = 1
	counts[phaseIndex(t, "before its exec")] = 2
	var b strings.Builder
	if err := writeTable(&b, counts); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"| logic: Reconcile (the pure core) | 3 | 75.0 % |",
		"| exit (tearing down the address space) | 1 | 25.0 % |",
		"| **the charm's own** | **4** | **100 %** |",
		"tool process, before its exec (not the charm's), 2 samples (50.0 % of the charm's own; excluded)",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, b.String())
		}
	}
	if err := writeTable(&b, make([]int, len(phases))); err == nil {
		t.Error("no error without samples")
	}
}
