package charm_test

import (
	"context"
	"flag"
	"path/filepath"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/history"
	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
)

var (
	historySeed  = flag.Int64("history.seed", -1, "run only this random-history seed, and log its history")
	historySeeds = flag.Int("history.seeds", 8, "number of random histories through the packed charms")
	historyHooks = flag.Int("history.hooks", 30, "events per random history")
)

// TestRandomHistories drives the packed charms (the dispatch binary under
// the simulated model's hook tools, one process per tool call) through
// seeded random histories; see internal/testenv/history for the events
// and the invariants. internal/charm runs many more seeds in-process. Run
// one seed with
//
//	go test ./tests/charm -run TestRandomHistories -history.seed=N -v
func TestRandomHistories(t *testing.T) {
	prereq.Heavy(t) // before the subtests: they pack the charm with this t
	seeds := *historySeeds
	harnesses := map[*jujusim.Model]*jujusim.Harness{}
	dirs := map[string]string{}
	run := func(m *jujusim.Model, hook string, opts jujusim.HookOptions) (history.Result, error) {
		h := harnesses[m]
		if h == nil {
			h = jujusim.NewHarness(t, m)
			if opts.Env[history.ScratchEnv] == "" { // a copy runs once
				harnesses[m] = h
			}
		}
		charm := m.App() + "-coordinator-k8s"
		if dirs[charm] == "" {
			dirs[charm] = unpack(t, packedCharm(t, charm))
		}
		opts.CharmDir = dirs[charm]
		res, err := h.RunHook(context.Background(), filepath.Join(dirs[charm], "dispatch"), hook, opts)
		return history.Result{ExitCode: res.ExitCode, Stderr: res.Stderr, Calls: res.Calls}, err
	}
	history.Test(t, run, seeds, *historyHooks, *historySeed)
}

// TestPackedCharmToolFaults: the packed charm meets a relation-set that
// fails halfway through its writes, then a relation-get with malformed
// output (through the tools executable): it exits non-zero so that Juju
// discards the hook's writes as a whole, and the next hook publishes
// everything.
func TestPackedCharmToolFaults(t *testing.T) {
	for _, fault := range []jujusim.Fault{
		{Tool: "relation-set", Kind: jujusim.FaultFail, After: 1},
		{Tool: "relation-get", Kind: jujusim.FaultGarbage},
	} {
		t.Run(fault.Tool, func(t *testing.T) {
			e := newEnv(t, "tempo-coordinator-k8s", true)
			w := e.addWorker("tempo-worker", "all", "10.1.0.6")
			s3 := e.addS3()
			e.h.Model.Faults = []jujusim.Fault{fault}
			res, err := e.h.RunHook(context.Background(), e.dispatch, "config-changed", jujusim.HookOptions{CharmDir: e.charm,
				Env: map[string]string{"COORDINATOR_PEBBLE_SOCKET_DIR": t.TempDir()}})
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode == 0 {
				t.Fatalf("the hook succeeded despite the fault: %v", res.Tools())
			}
			if len(w.LocalAppData)+len(s3.LocalAppData)+len(e.h.Model.State) > 0 {
				t.Fatalf("a failed hook's writes were kept: %v %v %v", w.LocalAppData, s3.LocalAppData, e.h.Model.State)
			}
			e.h.Model.Faults = nil
			e.hook("config-changed", jujusim.HookOptions{})
			if w.LocalAppData["worker_config"] == "" || s3.LocalAppData["bucket"] == "" {
				t.Fatal("the next hook did not publish")
			}
		})
	}
}
