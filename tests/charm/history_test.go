package charm_test

import (
	"context"
	"flag"
	"path/filepath"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/history"
)

var (
	historySeed  = flag.Int64("history.seed", -1, "run only this random-history seed, and log its history")
	historySeeds = flag.Int("history.seeds", 8, "number of random histories through the packed charms (3 under -short)")
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
	seeds := *historySeeds
	if testing.Short() {
		seeds = min(seeds, 3)
	}
	harnesses := map[*jujusim.Model]*jujusim.Harness{}
	dirs := map[string]string{}
	run := func(m *jujusim.Model, hook string, opts jujusim.HookOptions) (history.Result, error) {
		h := harnesses[m]
		if h == nil {
			h = jujusim.NewHarness(t, m)
			harnesses[m] = h
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
