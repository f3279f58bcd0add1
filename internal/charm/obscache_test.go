package charm

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// cacheModel is a leader with one worker application of n units and S3.
func cacheModel(n int) (*jujusim.Model, *jujusim.Relation) {
	m, w := newModel(true)
	for i := 1; i < n; i++ {
		w.AddUnit(fmt.Sprintf("tempo-worker/%d", i), workerData(i, fmt.Sprintf("10.1.1.%d", i)))
	}
	return m, w
}

func workerData(i int, address string) map[string]string {
	return map[string]string{"address": jsonText(address), "juju_topology": jsonText(map[string]string{
		"application": "tempo-worker", "unit": fmt.Sprintf("tempo-worker/%d", i)})}
}

// clock is a settable clock for the periodic resync.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// cacheHook runs a hook with a clock and a log, and returns the hook's calls.
func cacheHook(t *testing.T, m *jujusim.Model, hook string, opts jujusim.HookOptions, clk *clock, log *bytes.Buffer) []jujusim.Call {
	t.Helper()
	start := len(m.Calls)
	err := jujusim.RunInProcess(context.Background(), m, hook, opts, func(ctx context.Context, r juju.Runner, env map[string]string) error {
		hc, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "")
		require.NoError(t, err)
		c := &Charm{Product: tempo.Product(), Juju: juju.NewClient(r), Now: clk.now, Log: log,
			Connect: func(string) (Container, error) { return &fakeNginx{boot: "b"}, nil }}
		return c.Run(ctx, hc)
	})
	require.NoError(t, err, hook)
	return m.Calls[start:]
}

func countTool(calls []jujusim.Call, tool string) int {
	n := 0
	for _, c := range calls {
		if c.Tool == tool {
			n++
		}
	}
	return n
}

// requireCacheMatchesModel observes the model as the next hook would (from
// the cache) and as a fresh unit would (every databag read), and requires
// the two to be equal: the cache's whole promise.
func requireCacheMatchesModel(t *testing.T, m *jujusim.Model, clk *clock) {
	t.Helper()
	observe := func(full bool) map[string][]coordinator.Relation {
		var rels map[string][]coordinator.Relation
		err := jujusim.RunInProcess(context.Background(), m, "config-changed", jujusim.HookOptions{}, func(ctx context.Context, r juju.Runner, env map[string]string) error {
			hc, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "")
			require.NoError(t, err)
			if full {
				hc.Name = "upgrade-charm"
			}
			c := &Charm{Product: tempo.Product(), Juju: juju.NewClient(r), Now: clk.now}
			o, err := c.observe(ctx, hc)
			require.NoError(t, err)
			if full {
				require.NotEmpty(t, o.fullRead)
			} else {
				require.Empty(t, o.fullRead, "the check must observe from the cache")
			}
			rels = o.Relations
			return nil
		})
		require.NoError(t, err)
		return rels
	}
	require.Equal(t, observe(true), observe(false), "the cached observation differs from a full read")
}

func TestRelationChangedReadsOnlyTheEventUnit(t *testing.T) {
	m, w := cacheModel(50)
	clk := &clock{time.Unix(1_800_000_000, 0)}
	var log bytes.Buffer
	first := cacheHook(t, m, "config-changed", jujusim.HookOptions{}, clk, &log)
	assert.Equal(t, 50+2, countTool(first, "relation-get"), "a first hook reads every databag (50 units, 2 apps)")
	assert.NotEmpty(t, m.State[stateCacheMeta])
	requireCacheMatchesModel(t, m, clk)

	w.RemoteUnits["tempo-worker/7"] = workerData(7, "10.9.9.9")
	calls := cacheHook(t, m, "tempo-cluster-relation-changed", jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/7"}, clk, &log)
	assert.Equal(t, 2, countTool(calls, "relation-get"), "the event's unit and its application only")
	assert.Contains(t, w.LocalAppData["worker_config"], "10.9.9.9", "the change reached the workers")
	requireCacheMatchesModel(t, m, clk)

	again := cacheHook(t, m, "update-status", jujusim.HookOptions{}, clk, &log)
	assert.Zero(t, countTool(again, "relation-get"), "an unchanged hook reads no databag")
	assert.Zero(t, countTool(again, "state-set")+countTool(again, "relation-set")+countTool(again, "state-delete"), "and writes nothing")
}

func TestCoalescedChangesAreReadWhenTheirHookComes(t *testing.T) {
	m, w := cacheModel(10)
	clk := &clock{time.Unix(1_800_000_000, 0)}
	var log bytes.Buffer
	cacheHook(t, m, "config-changed", jujusim.HookOptions{}, clk, &log)
	// Unit 3 changed twice and unit 4 once; Juju delivers one changed hook
	// per unit, with the latest data.
	w.RemoteUnits["tempo-worker/3"] = workerData(3, "10.3.3.1")
	w.RemoteUnits["tempo-worker/3"] = workerData(3, "10.3.3.2")
	w.RemoteUnits["tempo-worker/4"] = workerData(4, "10.4.4.4")
	cacheHook(t, m, "tempo-cluster-relation-changed", jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/3"}, clk, &log)
	assert.Contains(t, w.LocalAppData["worker_config"], "10.3.3.2")
	assert.NotContains(t, w.LocalAppData["worker_config"], "10.4.4.4", "unit 4's change waits for its own hook")
	cacheHook(t, m, "tempo-cluster-relation-changed", jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/4"}, clk, &log)
	assert.Contains(t, w.LocalAppData["worker_config"], "10.4.4.4")
	requireCacheMatchesModel(t, m, clk)
}

func TestDepartAndJoinInOneBatch(t *testing.T) {
	m, w := cacheModel(10)
	clk := &clock{time.Unix(1_800_000_000, 0)}
	var log bytes.Buffer
	cacheHook(t, m, "config-changed", jujusim.HookOptions{}, clk, &log)
	// Unit 5 leaves and unit 10 joins before either hook ran.
	w.RemoveUnit("tempo-worker/5")
	w.AddUnit("tempo-worker/10", workerData(10, "10.1.1.10"))
	calls := cacheHook(t, m, "tempo-cluster-relation-departed", jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/5"}, clk, &log)
	assert.Equal(t, 2, countTool(calls, "relation-get"), "the unknown unit 10 and the event relation's application")
	assert.Equal(t, 1, countTool(calls, "state-delete"), "unit 5's entry goes")
	assert.NotContains(t, m.State, stateCacheUnit+w.Ref()+":tempo-worker/5")
	assert.Contains(t, m.State, stateCacheUnit+w.Ref()+":tempo-worker/10")
	assert.Contains(t, w.LocalAppData["worker_config"], "10.1.1.10")
	assert.NotContains(t, w.LocalAppData["worker_config"], "10.1.1.5:")
	requireCacheMatchesModel(t, m, clk)
}

func TestRelationRecreatedWithTheSameApp(t *testing.T) {
	m, w := cacheModel(4)
	clk := &clock{time.Unix(1_800_000_000, 0)}
	var log bytes.Buffer
	cacheHook(t, m, "config-changed", jujusim.HookOptions{}, clk, &log)
	for _, u := range w.Units() {
		w.RemoveUnit(u)
		cacheHook(t, m, "tempo-cluster-relation-departed", jujusim.HookOptions{Relation: w, RemoteUnit: u}, clk, &log)
	}
	cacheHook(t, m, "tempo-cluster-relation-broken", jujusim.HookOptions{Relation: w}, clk, &log)
	for key := range m.State {
		assert.False(t, strings.HasPrefix(key, stateCacheApp+w.Ref()) || strings.HasPrefix(key, stateCacheUnit+w.Ref()), "stale entry %s", key)
	}
	// The same application comes back, with other data, in a new relation.
	w2 := m.AddRelation("tempo-cluster", "tempo-worker", map[string]string{"role": jsonText("all")}, map[string]map[string]string{
		"tempo-worker/0": workerData(0, "10.7.7.7")})
	require.NotEqual(t, w.ID, w2.ID)
	calls := cacheHook(t, m, "tempo-cluster-relation-created", jujusim.HookOptions{Relation: w2}, clk, &log)
	assert.Equal(t, 2, countTool(calls, "relation-get"), "the new relation is read in full")
	assert.Contains(t, w2.LocalAppData["worker_config"], "10.7.7.7")
	requireCacheMatchesModel(t, m, clk)
}

func TestNonLeaderCacheServesTheNewLeader(t *testing.T) {
	m, w := cacheModel(6)
	m.Leader = false
	clk := &clock{time.Unix(1_800_000_000, 0)}
	var log bytes.Buffer
	cacheHook(t, m, "config-changed", jujusim.HookOptions{}, clk, &log)
	assert.Empty(t, w.LocalAppData["worker_config"], "a non-leader publishes nothing")
	w.RemoteUnits["tempo-worker/2"] = workerData(2, "10.2.2.2")
	cacheHook(t, m, "tempo-cluster-relation-changed", jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/2"}, clk, &log)
	requireCacheMatchesModel(t, m, clk)
	m.Leader = true
	calls := cacheHook(t, m, "leader-elected", jujusim.HookOptions{}, clk, &log)
	assert.Equal(t, 6+2, countTool(calls, "relation-get"), "leader-elected reads in full")
	assert.Contains(t, w.LocalAppData["worker_config"], "10.2.2.2")
	requireCacheMatchesModel(t, m, clk)
}

func TestFullReads(t *testing.T) {
	const units = 5
	const all = units + 2 // + the worker and S3 application databags
	setup := func(t *testing.T) (*jujusim.Model, *clock, *bytes.Buffer) {
		m, _ := cacheModel(units)
		clk := &clock{time.Unix(1_800_000_000, 0)}
		var log bytes.Buffer
		cacheHook(t, m, "config-changed", jujusim.HookOptions{}, clk, &log)
		return m, clk, &log
	}
	t.Run("periodic resync", func(t *testing.T) {
		m, clk, log := setup(t)
		clk.t = clk.t.Add(59 * time.Minute)
		assert.Zero(t, countTool(cacheHook(t, m, "update-status", jujusim.HookOptions{}, clk, log), "relation-get"))
		clk.t = clk.t.Add(time.Minute)
		calls := cacheHook(t, m, "update-status", jujusim.HookOptions{}, clk, log)
		assert.Equal(t, all, countTool(calls, "relation-get"))
		assert.Equal(t, 1, countTool(calls, "state-set"), "the read time is renewed")
		clk.t = clk.t.Add(30 * time.Minute)
		assert.Zero(t, countTool(cacheHook(t, m, "update-status", jujusim.HookOptions{}, clk, log), "relation-get"))
	})
	t.Run("configured interval", func(t *testing.T) {
		m, clk, log := setup(t)
		m.Config[ResyncOption] = float64(0)
		assert.Equal(t, all, countTool(cacheHook(t, m, "update-status", jujusim.HookOptions{}, clk, log), "relation-get"))
		assert.Zero(t, countTool(cacheHook(t, m, "config-changed", jujusim.HookOptions{}, clk, log), "relation-get"), "only update-status resyncs")
		m.Config[ResyncOption] = float64(-3)
		log.Reset()
		assert.Zero(t, countTool(cacheHook(t, m, "update-status", jujusim.HookOptions{}, clk, log), "relation-get"))
		assert.Contains(t, log.String(), "ignoring invalid observation-resync-minutes -3")
	})
	for _, hook := range []string{"upgrade-charm", "leader-elected"} {
		t.Run(hook, func(t *testing.T) {
			m, clk, log := setup(t)
			clk.t = clk.t.Add(time.Minute)
			calls := cacheHook(t, m, hook, jujusim.HookOptions{}, clk, log)
			assert.Equal(t, all, countTool(calls, "relation-get"))
			if hook == "upgrade-charm" {
				// Nothing changed: the read time (which schedules the
				// resync) is not renewed, nothing is written.
				assert.Zero(t, countTool(calls, "state-set"), "upgrade-charm with nothing changed writes no state")
			}
		})
	}
	t.Run("digest mismatch", func(t *testing.T) {
		m, clk, log := setup(t)
		for key := range m.State {
			if strings.HasPrefix(key, stateCacheUnit) {
				m.State[key] = `{"address":"\"10.6.6.6\""}`
				break
			}
		}
		log.Reset()
		assert.Equal(t, all, countTool(cacheHook(t, m, "update-status", jujusim.HookOptions{}, clk, log), "relation-get"))
		assert.Contains(t, log.String(), "does not match its digest")
		requireCacheMatchesModel(t, m, clk)
	})
	t.Run("other format", func(t *testing.T) {
		m, clk, log := setup(t)
		m.State[stateCacheMeta] = "0 x 1"
		log.Reset()
		assert.Equal(t, all, countTool(cacheHook(t, m, "update-status", jujusim.HookOptions{}, clk, log), "relation-get"))
		assert.Contains(t, log.String(), "another format")
		requireCacheMatchesModel(t, m, clk)
	})
}

func TestCacheOverBudgetFallsBackToFullReads(t *testing.T) {
	m, w := cacheModel(2)
	// 40 units of 30 KB each: 1.2 MB, over the budget.
	for i := 2; i < 42; i++ {
		data := workerData(i, fmt.Sprintf("10.1.1.%d", i))
		data["padding"] = strings.Repeat("x", 30_000)
		w.AddUnit(fmt.Sprintf("tempo-worker/%d", i), data)
	}
	clk := &clock{time.Unix(1_800_000_000, 0)}
	var log bytes.Buffer
	cacheHook(t, m, "config-changed", jujusim.HookOptions{}, clk, &log)
	assert.Contains(t, log.String(), "would exceed its budget")
	calls := cacheHook(t, m, "update-status", jujusim.HookOptions{}, clk, &log)
	assert.Equal(t, 42+2, countTool(calls, "relation-get"), "without a cache every databag is read")
	for key := range m.State {
		assert.False(t, strings.HasPrefix(key, stateCacheUnit), "no entry kept: %s", key)
	}
}
