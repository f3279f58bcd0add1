// Command hookbench measures the built dispatch binary's cost per hook as
// the cluster grows (see package bench) and prints Markdown tables. It is
// run by bench/run, which builds it and the hook-tool shim.
//
//	hookbench -dispatch build/dispatch -shim /tmp/simtool [-charm .] [-reps 5]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tempo-coordinator/coordinator/bench"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

func main() {
	dispatch := flag.String("dispatch", "build/dispatch", "the built charm binary")
	shim := flag.String("shim", "", "the hook-tool shim (bench/cmd/simtool), built")
	charmDir := flag.String("charm", ".", "directory with the charm's metadata.yaml and config.yaml")
	sizes := flag.String("sizes", "1,10,100,1000", "worker unit counts")
	reps := flag.Int("reps", 5, "repetitions per case (medians are reported)")
	repsLarge := flag.Int("reps-large", 3, "repetitions for 1000 units and more")
	calRuns := flag.Int("calibrate", 200, "shim runs for the calibration")
	floor := flag.String("floor", "", "the read-floor program (bench/cmd/readfloor), built; empty: no floor table")
	flag.Parse()
	if *shim == "" {
		fmt.Fprintln(os.Stderr, "hookbench: -shim is required")
		os.Exit(2)
	}
	if err := run(*dispatch, *shim, *floor, *charmDir, *sizes, *reps, *repsLarge, *calRuns); err != nil {
		fmt.Fprintf(os.Stderr, "hookbench: %v\n", err)
		os.Exit(1)
	}
}

func run(dispatch, shim, floor, charmDir, sizeList string, reps, repsLarge, calRuns int) error {
	var sizes []bench.Size
	for _, f := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("bad size %q", f)
		}
		found := false
		for _, s := range bench.Sizes {
			if s.Units == n {
				sizes, found = append(sizes, s), true
			}
		}
		if !found {
			return fmt.Errorf("no scenario with %d units", n)
		}
	}
	config, err := bench.ConfigDefaults(charmDir)
	if err != nil {
		return err
	}
	r, err := bench.NewRunner(dispatch, shim, charmDir)
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
				m := bench.NewModel(size, config)
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
	// The floor: the same reads as an unchanged update-status, by a
	// program that does nothing else.
	r.Dispatch = floor
	var floors []*bench.Case
	for _, size := range sizes {
		n := reps
		if size.Units >= 1000 {
			n = repsLarge
		}
		c := &bench.Case{Size: size, Hook: "update-status", Second: true}
		for range n {
			m := bench.NewModel(size, config)
			res, err := r.Run(m, c.Hook, jujusim.HookOptions{})
			if err != nil {
				return err
			}
			if res.ExitCode != 0 {
				return fmt.Errorf("read floor, %d units: exit %d\n%s", size.Units, res.ExitCode, res.Stderr)
			}
			c.Runs = append(c.Runs, res)
		}
		fmt.Fprintf(os.Stderr, "hookbench: %d units, read floor done\n", size.Units)
		floors = append(floors, c)
	}
	bench.WriteFloorTable(os.Stdout, floors, cases, cal)
	return nil
}
