// Command perfphases tells where the charm's own CPU goes during hooks, by
// phase of a hook's life. It reads the output of
//
//	perf script -F comm,pid,tid,ip,sym
//
// for samples of the dispatch binary (recorded with call graphs, see
// bench/profile) and prints a Markdown table: start-up (exec, the Go
// runtime, package initialisation), tool calls (starting a tool process, waiting
// for and reaping it, the runner's other work), the charm's logic (split
// into decoding the tools' output, Reconcile and applying), the runtime's
// own threads, and exit.
//
// A tool process runs the charm's code and carries its name between clone
// and exec; those samples are the tool's, not the charm's, and are counted
// apart.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	comm := flag.String("comm", "dispatch", "count only the samples of this command name")
	flag.Parse()
	counts, err := countPhases(os.Stdin, *comm)
	if err != nil {
		fmt.Fprintf(os.Stderr, "perfphases: %v\n", err)
		os.Exit(1)
	}
	if err := writeTable(os.Stdout, counts); err != nil {
		fmt.Fprintf(os.Stderr, "perfphases: %v\n", err)
		os.Exit(1)
	}
}

// phase is one line of the table: a sample belongs to the first phase
// whose rule matches its stack.
type phase struct {
	name string
	// charm is false for CPU that is not the charm's own.
	charm bool
	match func(s stack) bool
}

// stack is the set of function names of one sample's call chain.
type stack map[string]bool

// has reports whether any frame's name contains one of the fragments.
func (s stack) has(fragments ...string) bool {
	for name := range s {
		for _, f := range fragments {
			if strings.Contains(name, f) {
				return true
			}
		}
	}
	return false
}

const juju = "coordinator/internal/juju."

// phases are tried in order. Package initialisation runs before main.main,
// so the first rules need not exclude it; the runner's phases come before
// the logic that calls them.
var phases = []phase{
	{name: "tool process, before its exec (not the charm's)", match: func(s stack) bool {
		// The child of clone3Exec runs its assembly, on the parent's
		// stack, until its execve is done; the parent's samples there are
		// inside clone3 itself.
		return s.has(juju+"clone3Exec") && !s.has("__do_sys_clone3", "kernel_clone")
	}},
	{name: "exit (tearing down the address space)", charm: true, match: func(s stack) bool {
		return s.has("do_exit", "do_group_exit")
	}},
	{name: "start-up: exec (loading the charm's binary)", charm: true, match: func(s stack) bool {
		return s.has("__x64_sys_execve")
	}},
	{name: "start-up: package initialisation", charm: true, match: func(s stack) bool {
		return s.has("runtime.doInit")
	}},
	{name: "tool calls: starting the process (clone3)", charm: true, match: func(s stack) bool {
		return s.has(juju + "clone3Exec")
	}},
	{name: "tool calls: waiting for and reaping it", charm: true, match: func(s stack) bool {
		return s.has(juju+"pollExit", juju+"wait")
	}},
	{name: "tool calls: the runner's other work (files, output)", charm: true, match: func(s stack) bool {
		return s.has(juju+"(*ProcessRunner)", juju+"NewProcessRunner")
	}},
	{name: "logic: decoding the tools' output", charm: true, match: func(s stack) bool {
		return s.has("main.main") && s.has(juju+"(*Client)")
	}},
	{name: "logic: Reconcile (the pure core)", charm: true, match: func(s stack) bool {
		return s.has("main.main") && s.has("coordinator.Reconcile")
	}},
	{name: "logic: applying (digests, writes)", charm: true, match: func(s stack) bool {
		return s.has("main.main") && s.has("charm.(*Charm).apply")
	}},
	{name: "logic: the rest (context, observing, glue)", charm: true, match: func(s stack) bool {
		return s.has("main.main")
	}},
	{name: "start-up: the Go runtime", charm: true, match: func(s stack) bool {
		return s.has("runtime.rt0_go", "runtime.schedinit", "runtime.main")
	}},
	{name: "runtime threads: scheduler, sysmon, GC", charm: true, match: func(s stack) bool {
		return s.has("runtime.sysmon", "runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge",
			"runtime.findRunnable", "runtime.schedule", "runtime.mstart")
	}},
	{name: "other (stack not unwound)", charm: true, match: func(stack) bool { return true }},
}

// countPhases reads perf script output and counts the samples of comm by
// phase (indexes into phases).
func countPhases(r io.Reader, comm string) ([]int, error) {
	counts := make([]int, len(phases))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var cur stack
	keep := false
	flush := func() {
		if keep {
			counts[classify(cur)]++
		}
		cur, keep = nil, false
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] != ' ' && line[0] != '\t':
			// A sample's header: "comm pid/tid".
			flush()
			name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			keep, cur = name == comm, stack{}
		case keep:
			// A frame: "address symbol+offset".
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				sym, _, _ := strings.Cut(fields[1], "+0x")
				cur[sym] = true
			}
		}
	}
	flush()
	return counts, sc.Err()
}

func classify(s stack) int {
	for i, p := range phases {
		if p.match(s) {
			return i
		}
	}
	return len(phases) - 1
}

// writeTable prints the charm's phases as shares of its own samples, then
// the samples that were not its own.
func writeTable(w io.Writer, counts []int) error {
	own := 0
	for i, n := range counts {
		if phases[i].charm {
			own += n
		}
	}
	if own == 0 {
		return fmt.Errorf("no sample of the charm: was perf recording with -g, and is -comm right?")
	}
	var b strings.Builder
	fmt.Fprintln(&b, "| phase | samples | share of the charm's own CPU |")
	fmt.Fprintln(&b, "|---|---:|---:|")
	for i, p := range phases {
		if p.charm {
			fmt.Fprintf(&b, "| %s | %d | %.1f %% |\n", p.name, counts[i], 100*float64(counts[i])/float64(own))
		}
	}
	fmt.Fprintf(&b, "| **the charm's own** | **%d** | **100 %%** |\n", own)
	for i, p := range phases {
		if !p.charm {
			fmt.Fprintf(&b, "\nAlso under the charm's name: %s, %d samples (%.1f %% of the charm's own; excluded).\n",
				p.name, counts[i], 100*float64(counts[i])/float64(own))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
