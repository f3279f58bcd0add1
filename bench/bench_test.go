package bench

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tempo-coordinator/coordinator/bench/replay"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jujusim.CleanupBuilds()
	os.Exit(code)
}

func newTestRunner(t *testing.T) *Runner {
	t.Helper()
	dispatch := jujusim.Build(t, "github.com/tempo-coordinator/coordinator/cmd/dispatch")
	shim := jujusim.Build(t, "github.com/tempo-coordinator/coordinator/bench/cmd/simtool")
	r, err := NewRunner(dispatch, shim, "..")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestHookCallBounds runs every benchmark hook on every size, as a first
// hook and as an unchanged second hook, and checks the call counts: at
// most minimum+3 calls, and no relation-set nor status-set when nothing
// changed. It measures no time.
func TestHookCallBounds(t *testing.T) {
	r := newTestRunner(t)
	config, err := ConfigDefaults("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range Sizes {
		if testing.Short() && size.Units > 100 {
			continue
		}
		for _, hook := range Hooks {
			m := NewModel(size, config)
			first := run(t, r, m, hook)
			checkBound(t, size, hook, "first", first)
			second := run(t, r, m, hook)
			checkBound(t, size, hook, "second", second)
			if n := second.Counts["relation-set"]; n != 0 {
				t.Errorf("%d units, unchanged second %s: %d relation-set calls, want 0", size.Units, hook.Name, n)
			}
			if n := second.Counts["status-set"]; n != 0 {
				t.Errorf("%d units, unchanged second %s: %d status-set calls, want 0", size.Units, hook.Name, n)
			}
			if w := second.Minimum["relation-set"] + second.Minimum["status-set"]; w != 0 {
				t.Errorf("%d units, second %s changed the model (%d writes were needed): the charm is not idempotent", size.Units, hook.Name, w)
			}
			// The second hook reads from the observation cache: its cost
			// must not grow with the cluster (issue #23: at most 30 calls).
			if n := len(second.Calls); n > maxCachedHookCalls {
				t.Errorf("%d units, unchanged second %s: %d calls, want at most %d: %v", size.Units, hook.Name, n, maxCachedHookCalls, countsString(second.Counts))
			}
			// A third hook must cost exactly what the second did.
			if third := run(t, r, m, hook); !maps.Equal(third.Counts, second.Counts) {
				t.Errorf("%d units, %s: third hook calls %v differ from the second's %v", size.Units, hook.Name, third.Counts, second.Counts)
			}
		}
	}
}

// TestHookCallBoundsWithCOS: the same bounds with the observability stack
// related (Prometheus, two Loki units, Grafana): the alert rules, the Loki
// data and the dashboards cost their relation reads and first writes, and
// nothing more; an unchanged hook rewrites none of them.
func TestHookCallBoundsWithCOS(t *testing.T) {
	r := newTestRunner(t)
	config, err := ConfigDefaults("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range Sizes[:3] {
		if testing.Short() && size.Units > 10 {
			continue
		}
		for _, hook := range Hooks {
			m := NewModel(size, config)
			RelateCOS(m)
			first := run(t, r, m, hook)
			checkBound(t, size, hook, "first", first)
			for _, ep := range []string{"metrics-endpoint", "logging", "grafana-dashboard", "grafana-source"} {
				if len(m.RelationsOf(ep)[0].LocalAppData) == 0 {
					t.Errorf("%d units, first %s: nothing published on %s", size.Units, hook.Name, ep)
				}
			}
			second := run(t, r, m, hook)
			checkBound(t, size, hook, "second", second)
			if n := second.Counts["relation-set"] + second.Counts["status-set"]; n != 0 {
				t.Errorf("%d units, unchanged second %s with COS: %d writes: %v", size.Units, hook.Name, n, countsString(second.Counts))
			}
			if n := len(second.Calls); n > maxCachedHookCalls {
				t.Errorf("%d units, unchanged second %s with COS: %d calls, want at most %d: %v", size.Units, hook.Name, n, maxCachedHookCalls, countsString(second.Counts))
			}
		}
	}
}

// maxCachedHookCalls bounds the calls of a hook that reads from the
// observation cache, whatever the cluster's size.
const maxCachedHookCalls = 30

// TestScaleOutHooksStayFlat grows a cluster through joined and changed
// hooks: each new unit's hooks read its databag, not the cluster's.
func TestScaleOutHooksStayFlat(t *testing.T) {
	r := newTestRunner(t)
	config, err := ConfigDefaults("..")
	if err != nil {
		t.Fatal(err)
	}
	size, added := Sizes[2], 5
	if !testing.Short() {
		size = Sizes[3]
	}
	s, err := r.RunScaleOut(size, config, added)
	if err != nil {
		t.Fatal(err)
	}
	if s.Hooks != 2*added {
		t.Fatalf("%d hooks, want %d", s.Hooks, 2*added)
	}
	// Per hook: the cached reads plus the writes of a changed ring
	// (one relation-set per worker application, state-set).
	if max := s.Hooks * (maxCachedHookCalls + size.Apps); s.TotalCalls() > max {
		t.Errorf("%d units + %d: %d calls, want at most %d: %v", size.Units, added, s.TotalCalls(), max, countsString(s.Calls))
	}
	if got, want := s.Calls["relation-get"], s.Hooks*2; got > want {
		t.Errorf("%d relation-get calls, want at most %d (the event's unit and app per hook)", got, want)
	}
}

func run(t *testing.T, r *Runner, m *jujusim.Model, hook Hook) *Result {
	t.Helper()
	res, err := r.Run(m, hook.Name, HookOptions(m, hook))
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("%s exited %d:\n%s", hook.Name, res.ExitCode, res.Stderr)
	}
	return res
}

func checkBound(t *testing.T, size Size, hook Hook, which string, res *Result) {
	t.Helper()
	calls, min := len(res.Calls), res.Minimum.Total()
	if calls <= min+3 {
		return
	}
	extra := res.Extra()
	t.Errorf("%d units, %s %s: %d calls > minimum %d + 3\nmeasured: %v\nminimum:  %v\nbeyond the minimum: %v",
		size.Units, which, hook.Name, calls, min, countsString(res.Counts), res.Minimum, extra)
}

// TestFloorReplaysTheFirstHook checks the first-hook floor: the read floor
// replaying a charm's first-hook writes makes the same calls, tool by
// tool, and leaves a fresh model exactly as the charm left its own.
func TestFloorReplaysTheFirstHook(t *testing.T) {
	r := newTestRunner(t)
	config, err := ConfigDefaults("..")
	if err != nil {
		t.Fatal(err)
	}
	size, hook := Sizes[1], Hooks[2]
	charmModel := NewModel(size, config)
	charm := run(t, r, charmModel, hook)

	writes := filepath.Join(t.TempDir(), "writes")
	if err := os.WriteFile(writes, replay.Encode(charm.Writes()), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Dispatch = jujusim.Build(t, "github.com/tempo-coordinator/coordinator/bench/cmd/readfloor")
	r.Env = []string{replay.Env + "=" + writes}
	floorModel := NewModel(size, config)
	floor := run(t, r, floorModel, hook)

	if !maps.Equal(floor.Counts, charm.Counts) {
		t.Errorf("floor calls %v, charm calls %v", countsString(floor.Counts), countsString(charm.Counts))
	}
	if got, want := takeSnapshot(floorModel), takeSnapshot(charmModel); !reflect.DeepEqual(got, want) {
		t.Errorf("the floor left the model as\n%+v\nthe charm left it as\n%+v", got, want)
	}
	if !maps.Equal(floorModel.State, charmModel.State) {
		t.Errorf("floor unit state %v, charm's %v", floorModel.State, charmModel.State)
	}
	if len(takeSnapshot(charmModel).ports) == 0 {
		t.Errorf("the charm's first hook opened no port: the replay is not exercised")
	}
}
