package charm

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

var cacheSeed = flag.Int64("cache.seed", -1, "run only this seed of TestCacheHistories")

// pendingHook is a hook Juju has queued but not run yet.
type pendingHook struct {
	name string
	rel  *jujusim.Relation
	unit string
}

// historyModel drives random changes to a model and queues the hooks Juju
// would fire for them, coalescing a unit's (or app's) pending changes.
type historyModel struct {
	t      *testing.T
	rng    *rand.Rand
	m      *jujusim.Model
	queue  []pendingHook
	clk    *clock
	log    bytes.Buffer
	nextID int
	trace  []string
}

func (h *historyModel) enqueue(p pendingHook) {
	for _, q := range h.queue {
		if q == p {
			return // coalesced: the hook will see the latest data
		}
	}
	h.queue = append(h.queue, p)
}

func (h *historyModel) workers() []*jujusim.Relation { return h.m.RelationsOf("tempo-cluster") }

// step makes one random change or delivers queued hooks.
func (h *historyModel) step() {
	ws := h.workers()
	switch op := h.rng.IntN(10); {
	case op < 3 && len(h.queue) > 0:
		n := 1 + h.rng.IntN(len(h.queue))
		for range n {
			p := h.queue[0]
			h.queue = h.queue[1:]
			h.run(p)
		}
	case op == 3 && len(ws) > 0:
		w := ws[h.rng.IntN(len(ws))]
		units := w.Units()
		if len(units) == 0 {
			return
		}
		u := units[h.rng.IntN(len(units))]
		w.RemoteUnits[u] = workerData(h.nextID, fmt.Sprintf("10.2.%d.%d", h.nextID/200, h.nextID%200+1))
		h.nextID++
		h.note("change %s", u)
		h.enqueue(pendingHook{"tempo-cluster-relation-changed", w, u})
	case op == 4 && len(ws) > 0:
		w := ws[h.rng.IntN(len(ws))]
		u := fmt.Sprintf("%s/%d", w.RemoteApp, 100+h.nextID)
		w.AddUnit(u, workerData(h.nextID, fmt.Sprintf("10.3.%d.%d", h.nextID/200, h.nextID%200+1)))
		h.nextID++
		h.note("add %s", u)
		h.enqueue(pendingHook{"tempo-cluster-relation-joined", w, u})
		h.enqueue(pendingHook{"tempo-cluster-relation-changed", w, u})
	case op == 5 && len(ws) > 0:
		w := ws[h.rng.IntN(len(ws))]
		units := w.Units()
		if len(units) <= 1 {
			return
		}
		u := units[h.rng.IntN(len(units))]
		w.RemoveUnit(u)
		h.note("remove %s", u)
		h.queue = slices.DeleteFunc(h.queue, func(p pendingHook) bool { return p.rel == w && p.unit == u })
		h.enqueue(pendingHook{"tempo-cluster-relation-departed", w, u})
	case op == 6 && len(ws) > 0:
		w := ws[h.rng.IntN(len(ws))]
		roles := []string{"all", "querier", "ingester", "distributor", "query-frontend", "compactor", "metrics-generator"}
		w.RemoteAppData["role"] = jsonText(roles[h.rng.IntN(len(roles))])
		h.note("role of %s", w.Ref())
		h.enqueue(pendingHook{"tempo-cluster-relation-changed", w, ""})
	case op == 7:
		if len(ws) > 1 && h.rng.IntN(2) == 0 {
			w := ws[h.rng.IntN(len(ws))]
			h.note("break %s", w.Ref())
			h.queue = slices.DeleteFunc(h.queue, func(p pendingHook) bool { return p.rel == w })
			for _, u := range w.Units() {
				w.RemoveUnit(u)
				h.enqueue(pendingHook{"tempo-cluster-relation-departed", w, u})
			}
			h.enqueue(pendingHook{"tempo-cluster-relation-broken", w, ""})
			return
		}
		app := fmt.Sprintf("worker-%d", h.rng.IntN(3)) // the same app may come back
		u := app + "/0"
		w := h.m.AddRelation("tempo-cluster", app, map[string]string{"role": jsonText("all")},
			map[string]map[string]string{u: workerData(h.nextID, fmt.Sprintf("10.4.%d.%d", h.nextID/200, h.nextID%200+1))})
		h.nextID++
		h.note("relate %s as %s", app, w.Ref())
		h.enqueue(pendingHook{"tempo-cluster-relation-created", w, ""})
		h.enqueue(pendingHook{"tempo-cluster-relation-joined", w, u})
		h.enqueue(pendingHook{"tempo-cluster-relation-changed", w, u})
	case op == 8:
		h.m.Leader = !h.m.Leader
		h.note("leader=%v", h.m.Leader)
		if h.m.Leader {
			h.enqueue(pendingHook{name: "leader-elected"})
		} else {
			h.enqueue(pendingHook{name: "leader-settings-changed"})
		}
	default:
		h.clk.t = h.clk.t.Add(time.Duration(h.rng.IntN(40)) * time.Minute)
		h.enqueue(pendingHook{name: "update-status"})
	}
}

func (h *historyModel) note(format string, args ...any) {
	h.trace = append(h.trace, fmt.Sprintf(format, args...))
}

func (h *historyModel) run(p pendingHook) {
	h.t.Helper()
	opts := jujusim.HookOptions{}
	if p.rel != nil {
		if h.m.Relation(p.rel.ID) == nil {
			return // removed by its -broken hook already
		}
		opts.Relation, opts.RemoteUnit = p.rel, p.unit
	}
	h.note("hook %s %s", p.name, p.unit)
	cacheHook(h.t, h.m, p.name, opts, h.clk, &h.log)
}

// TestCacheHistories runs random histories of worker changes and the hooks
// Juju fires for them (coalesced, batched, interleaved with leadership
// changes and update-status) and checks, whenever every queued hook has
// run, that the cached observation equals a full read; at the end, that a
// fresh unit publishes exactly what this one did.
func TestCacheHistories(t *testing.T) {
	seeds, steps := 40, 40
	if testing.Short() {
		seeds = 10
	}
	for seed := range int64(seeds) {
		if *cacheSeed >= 0 && seed != *cacheSeed {
			continue
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			m, _ := cacheModel(3)
			h := &historyModel{t: t, rng: rand.New(rand.NewPCG(uint64(seed), 23)), m: m, clk: &clock{time.Unix(1_800_000_000, 0)}}
			defer func() {
				if t.Failed() {
					t.Logf("seed %d (rerun with -run TestCacheHistories -cache.seed=%d):\n%v", seed, seed, h.trace)
				}
			}()
			cacheHook(t, m, "config-changed", jujusim.HookOptions{}, h.clk, &h.log)
			for range steps {
				h.step()
				if len(h.queue) == 0 {
					requireCacheMatchesModel(t, m, h.clk)
				}
			}
			for len(h.queue) > 0 {
				p := h.queue[0]
				h.queue = h.queue[1:]
				h.run(p)
			}
			requireCacheMatchesModel(t, m, h.clk)

			// History independence: a fresh unit of the final model
			// publishes the same databags.
			fresh := jujusim.NewModel(m.Unit)
			fresh.Leader, fresh.Config = m.Leader, maps.Clone(m.Config)
			for _, r := range m.Relations { // same ids: the S3 bucket is named after its relation
				fresh.Relations = append(fresh.Relations, &jujusim.Relation{ID: r.ID, Endpoint: r.Endpoint, RemoteApp: r.RemoteApp,
					RemoteAppData: maps.Clone(r.RemoteAppData), RemoteUnits: maps.Clone(r.RemoteUnits),
					LocalAppData: map[string]string{}, LocalUnitData: map[string]string{}})
			}
			cacheHook(t, fresh, "config-changed", jujusim.HookOptions{}, h.clk, &h.log)
			for i, r := range m.Relations {
				// A non-leader does not own the app databags; while the
				// cluster cannot be configured (a required role missing)
				// the workers keep the last config they were given.
				if m.Leader && len(fresh.Relations[i].LocalAppData) > 0 {
					require.Equal(t, r.LocalAppData, fresh.Relations[i].LocalAppData, "app databag of %s", r.Ref())
				}
				require.Equal(t, r.LocalUnitData, fresh.Relations[i].LocalUnitData, "unit databag of %s", r.Ref())
			}
			require.Equal(t, m.UnitStatus, fresh.UnitStatus)
		})
	}
}
