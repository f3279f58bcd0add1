// Command hookbench measures the built dispatch binary's cost per hook as
// the cluster grows (see package bench) and prints Markdown tables. It is
// run by bench/run, which builds it and the hook-tool shim.
//
//	hookbench -dispatch build/dispatch -shim /tmp/simtool [-charm .] [-reps 5]
//
// With -compare OTHER, it runs the two binaries alternately on the same
// hooks instead and prints their own CPU side by side: on a shared
// machine, interleaving is what makes a difference of a few percent
// visible.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tempo-coordinator/coordinator/bench"
	"github.com/tempo-coordinator/coordinator/bench/replay"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// envList collects repeated -env KEY=VALUE flags.
type envList []string

func (l *envList) String() string { return strings.Join(*l, " ") }

func (l *envList) Set(kv string) error {
	if !strings.Contains(kv, "=") {
		return fmt.Errorf("want KEY=VALUE, got %q", kv)
	}
	*l = append(*l, kv)
	return nil
}

var (
	dispatchEnv     envList
	configOverrides envList
	showStderr      = flag.Bool("stderr", false, "print the charm's standard error after every run")
)

func main() {
	flag.Var(&configOverrides, "config", "KEY=VALUE overriding a config option's default (VALUE as JSON, else a string; repeatable)")
	flag.Var(&dispatchEnv, "env", "KEY=VALUE added to the charm's environment (repeatable; both binaries with -compare)")
	dispatch := flag.String("dispatch", "build/dispatch", "the built charm binary")
	shim := flag.String("shim", "", "the hook-tool shim (bench/cmd/simtool), built")
	charmDir := flag.String("charm", ".", "directory with the charm's metadata.yaml and config.yaml")
	sizes := flag.String("sizes", "1,10,100,1000", "worker unit counts")
	reps := flag.Int("reps", 5, "repetitions per case (medians are reported)")
	repsLarge := flag.Int("reps-large", 3, "repetitions for 1000 units and more")
	calRuns := flag.Int("calibrate", 200, "shim runs for the calibration")
	floor := flag.String("floor", "", "the read-floor program (bench/cmd/readfloor), built; empty: no floor table")
	compare := flag.String("compare", "", "another dispatch binary to compare with, hook by hook (no other table)")
	scaleOut := flag.Int("scaleout", 0, "add this many units to the largest size through joined+changed hooks and print the totals (with -compare: for both binaries; no other table)")
	flag.Parse()
	if *shim == "" {
		fmt.Fprintln(os.Stderr, "hookbench: -shim is required")
		os.Exit(2)
	}
	if *scaleOut > 0 {
		binaries := []string{*dispatch}
		if *compare != "" {
			binaries = append(binaries, *compare)
		}
		if err := runScaleOut(binaries, *shim, *charmDir, *sizes, *scaleOut); err != nil {
			fmt.Fprintf(os.Stderr, "hookbench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if *compare != "" {
		if err := runCompare(*dispatch, *compare, *shim, *charmDir, *sizes, *reps, *calRuns); err != nil {
			fmt.Fprintf(os.Stderr, "hookbench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*dispatch, *shim, *floor, *charmDir, *sizes, *reps, *repsLarge, *calRuns); err != nil {
		fmt.Fprintf(os.Stderr, "hookbench: %v\n", err)
		os.Exit(1)
	}
}

// parseSizes picks the scenarios of a comma-separated list of unit counts.
func parseSizes(list string) ([]bench.Size, error) {
	var sizes []bench.Size
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("bad size %q", f)
		}
		found := false
		for _, s := range bench.Sizes {
			if s.Units == n {
				sizes, found = append(sizes, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("no scenario with %d units", n)
		}
	}
	return sizes, nil
}

// setup reads the sizes and the charm's config defaults and starts a
// runner for dispatch; the caller closes it.
func setup(dispatch, shim, charmDir, sizeList string) ([]bench.Size, map[string]any, *bench.Runner, error) {
	sizes, err := parseSizes(sizeList)
	if err != nil {
		return nil, nil, nil, err
	}
	config, err := bench.ConfigDefaults(charmDir)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, kv := range configOverrides {
		k, v, _ := strings.Cut(kv, "=")
		var value any
		if err := json.Unmarshal([]byte(v), &value); err != nil {
			value = v // not JSON: a string
		}
		config[k] = value
	}
	r, err := bench.NewRunner(dispatch, shim, charmDir)
	if err != nil {
		return nil, nil, nil, err
	}
	r.Env = dispatchEnv
	if *showStderr {
		r.Stderr = os.Stderr
	}
	return sizes, config, r, nil
}

func run(dispatch, shim, floor, charmDir, sizeList string, reps, repsLarge, calRuns int) error {
	sizes, config, r, err := setup(dispatch, shim, charmDir, sizeList)
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := os.Stat(dispatch)
	if err != nil {
		return err
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("Measured %s on %s/%s, %d CPUs (load average at start: %s), %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(),
		strings.Join(strings.Fields(string(load))[:3], " "), runtime.Version())
	fmt.Printf("dispatch binary: %s, %d bytes (%.1f MB).\n\n", dispatch, fi.Size(), float64(fi.Size())/(1<<20))

	cal, err := r.Calibrate(calRuns)
	if err != nil {
		return err
	}
	fmt.Printf("Shim calibration (%d runs, medians): total CPU %v per call, CPU after its self-report %v, "+
		"wall around the server's handling %v, peak RSS ≤ %.1f MB; a tool process costs its caller %v of CPU (juju.ProcessRunner running /bin/true, mean).\n\n",
		cal.Runs, cal.ShimCPU.Round(time.Microsecond), cal.ExitCPU.Round(time.Microsecond),
		cal.SpawnWall.Round(time.Microsecond), float64(cal.ShimMaxRSSKB)/1024, cal.ParentSpawnCPU.Round(time.Microsecond))

	var cases []*bench.Case
	for _, size := range sizes {
		n := reps
		if size.Units >= 1000 {
			n = repsLarge
		}
		for _, hook := range bench.Hooks {
			first := &bench.Case{Size: size, Hook: hook.Name}
			second := &bench.Case{Size: size, Hook: hook.Name, Second: true}
			for range n {
				m, err := r.NewWarmModel(size, config, hook)
				if err != nil {
					return err
				}
				for _, c := range []*bench.Case{first, second} {
					res, err := r.Run(m, hook.Name, bench.HookOptions(m, hook))
					if err != nil {
						return err
					}
					if res.ExitCode != 0 {
						return fmt.Errorf("%d units, %s (%s): exit %d\n%s", size.Units, hook.Name, c.Run(), res.ExitCode, res.Stderr)
					}
					c.Runs = append(c.Runs, res)
				}
			}
			fmt.Fprintf(os.Stderr, "hookbench: %d units, %s done\n", size.Units, hook.Name)
			cases = append(cases, first, second)
		}
	}
	bench.WriteTables(os.Stdout, cases, cal)
	if floor == "" {
		return nil
	}
	// The floors: a program that makes the same reads as an unchanged
	// update-status and nothing else, then the same program replaying
	// after its reads the writes of the charm's first update-status.
	r.Dispatch = floor
	baseEnv := r.Env
	var floors []bench.Floor
	for _, size := range sizes {
		n := reps
		if size.Units >= 1000 {
			n = repsLarge
		}
		writes, err := firstHookWrites(cases, size)
		if err != nil {
			return err
		}
		defer os.Remove(writes)
		f := bench.Floor{
			Reads:  &bench.Case{Size: size, Hook: "update-status", Second: true},
			Writes: &bench.Case{Size: size, Hook: "update-status"},
		}
		for range n {
			for _, c := range []*bench.Case{f.Reads, f.Writes} {
				r.Env = baseEnv
				if c == f.Writes {
					r.Env = append(slices.Clone(baseEnv), replay.Env+"="+writes)
				}
				m, err := r.NewWarmModel(size, config, bench.Hooks[2])
				if err != nil {
					return err
				}
				res, err := r.Run(m, c.Hook, jujusim.HookOptions{})
				if err != nil {
					return err
				}
				if res.ExitCode != 0 {
					return fmt.Errorf("read floor, %d units: exit %d\n%s", size.Units, res.ExitCode, res.Stderr)
				}
				c.Runs = append(c.Runs, res)
			}
		}
		r.Env = baseEnv
		fmt.Fprintf(os.Stderr, "hookbench: %d units, read floor done\n", size.Units)
		floors = append(floors, f)
	}
	bench.WriteFloorTable(os.Stdout, floors, cases, cal)
	return nil
}

// firstHookWrites writes to a temporary file the write calls of the
// charm's first update-status at this size (its first repetition), in
// the read floor's replay format, and returns the file's path.
func firstHookWrites(cases []*bench.Case, size bench.Size) (string, error) {
	for _, c := range cases {
		if c.Size == size && c.Hook == "update-status" && !c.Second && len(c.Runs) > 0 {
			f, err := os.CreateTemp("", "hookbench-writes-*")
			if err != nil {
				return "", err
			}
			defer f.Close()
			if _, err := f.Write(replay.Encode(c.Runs[0].Writes())); err != nil {
				return "", err
			}
			return f.Name(), f.Close()
		}
	}
	return "", fmt.Errorf("no first update-status at %d units to take the writes from", size.Units)
}

// runCompare runs binaries a and b alternately, rep by rep and in turns
// first, on every hook
// of every size (first and unchanged second hook) and prints each one's
// own CPU: median and lower quartile of the wait4-derived figure, and
// median of the exact schedstat lower bound.
func runCompare(a, b, shim, charmDir, sizeList string, reps, calRuns int) error {
	sizes, config, r, err := setup(a, shim, charmDir, sizeList)
	if err != nil {
		return err
	}
	defer r.Close()
	cal, err := r.Calibrate(calRuns)
	if err != nil {
		return err
	}
	fmt.Printf("A = %s, B = %s; %d alternating repetitions per case, each binary first in turn.\n\n", a, b, reps)
	fmt.Println("| units | hook | run | A own CPU ms (median / p25) | B own CPU ms (median / p25) | A at last call ms | B at last call ms | B − A (medians) |")
	fmt.Println("|---:|---|---|---:|---:|---:|---:|---:|")
	for _, size := range sizes {
		for _, hook := range bench.Hooks {
			var own, last [2][2][]time.Duration // [binary][first/second]
			for rep := range reps {
				for k := range 2 {
					// Each rep swaps who goes first, so that neither
					// binary always runs just after the other.
					i := (k + rep) % 2
					r.Dispatch = []string{a, b}[i]
					bin := r.Dispatch
					m, err := r.NewWarmModel(size, config, hook)
					if err != nil {
						return err
					}
					for run := range 2 {
						res, err := r.Run(m, hook.Name, bench.HookOptions(m, hook))
						if err != nil {
							return err
						}
						if res.ExitCode != 0 {
							return fmt.Errorf("%s, %d units, %s: exit %d\n%s", bin, size.Units, hook.Name, res.ExitCode, res.Stderr)
						}
						at, _ := res.CharmAtLastCall()
						own[i][run] = append(own[i][run], res.OwnCPU(cal))
						last[i][run] = append(last[i][run], at)
					}
				}
			}
			for run, name := range []string{"first", "second"} {
				ma, mb := quantile(own[0][run], 0.5), quantile(own[1][run], 0.5)
				fmt.Printf("| %d | %s | %s | %.2f / %.2f | %.2f / %.2f | %.2f | %.2f | %+.2f |\n", size.Units, bench.ShortHook(hook.Name), name,
					msf(ma), msf(quantile(own[0][run], 0.25)), msf(mb), msf(quantile(own[1][run], 0.25)),
					msf(quantile(last[0][run], 0.5)), msf(quantile(last[1][run], 0.5)), msf(mb-ma))
			}
		}
	}
	return nil
}

// quantile returns the q-quantile (0..1) of ds, by rank.
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
