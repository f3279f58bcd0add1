package charm_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/pkg/parcascrape"
)

// TestProfilingThroughThePackedCharm: the packed charm's leader publishes,
// on profiling-endpoint, one target per worker unit at the port where the
// worker serves /debug/pprof, as Parca's consumer expands it; the targets
// follow the workers as they come and go, an unchanged hook writes
// nothing, the coordinator unit publishes no address and a non-leader no
// app data.
func TestProfilingThroughThePackedCharm(t *testing.T) {
	for _, tc := range []struct{ charm, cluster, worker, port string }{
		{"tempo-coordinator-k8s", "tempo-cluster", "tempo-worker", "3200"},
		{"pyroscope-coordinator-k8s", "pyroscope-cluster", "pyroscope-worker", "4040"},
	} {
		t.Run(tc.charm, func(t *testing.T) {
			e := newEnv(t, tc.charm, true)
			w := e.addWorker(tc.worker, "all", "10.1.0.6", "10.1.0.7")
			e.addS3()
			parca := e.h.Model.AddRelation("profiling-endpoint", "parca", nil, map[string]map[string]string{"parca/0": {}})
			e.hook("profiling-endpoint-relation-joined", jujusim.HookOptions{Relation: parca, RemoteUnit: "parca/0"})

			// targets is what Parca scrapes: target by juju_unit.
			targets := func() map[string]string {
				t.Helper()
				assert.Empty(t, parca.LocalUnitData, "the coordinator unit publishes no address")
				jobs, err := parcascrape.Jobs([]parcascrape.Provider{{RelationID: parca.ID, App: e.h.Model.App(),
					AppData: parca.LocalAppData, Units: map[string]map[string]string{e.h.Model.Unit: parca.LocalUnitData}}})
				require.NoError(t, err, "%v", parca.LocalAppData)
				require.Len(t, jobs, 1)
				assert.Equal(t, "test-model_"+e.h.Model.UUID[:8]+"_"+e.h.Model.App()+"_workers", jobs[0].JobName)
				got := map[string]string{}
				for _, sc := range jobs[0].StaticConfigs {
					require.Len(t, sc.Targets, 1)
					assert.Equal(t, tc.worker, sc.Labels["worker_application"])
					got[sc.Labels["juju_unit"]] = sc.Targets[0]
				}
				return got
			}
			at := func(ip string) string { return net.JoinHostPort(ip, tc.port) }
			assert.Equal(t, map[string]string{tc.worker + "/0": at("10.1.0.6"), tc.worker + "/1": at("10.1.0.7")}, targets())

			again := e.hook("update-status", jujusim.HookOptions{})
			assert.Zero(t, again.Counts["relation-set"], "%v", again.Tools())

			w.AddUnit(tc.worker+"/2", map[string]string{"address": jsonString("10.1.0.8"),
				"juju_topology": jsonString(map[string]string{"model": "test-model", "model_uuid": "u", "application": tc.worker,
					"unit": tc.worker + "/2", "charm_name": "worker"})})
			e.hook(tc.cluster+"-relation-joined", jujusim.HookOptions{Relation: w, RemoteUnit: tc.worker + "/2"})
			assert.Equal(t, at("10.1.0.8"), targets()[tc.worker+"/2"])

			w.RemoveUnit(tc.worker + "/0")
			e.hook(tc.cluster+"-relation-departed", jujusim.HookOptions{Relation: w, RemoteUnit: tc.worker + "/0"})
			assert.Equal(t, map[string]string{tc.worker + "/1": at("10.1.0.7"), tc.worker + "/2": at("10.1.0.8")}, targets())

			// The last worker application leaves: no job (Parca would
			// otherwise default to "*:80" on the coordinator units).
			e.hook(tc.cluster+"-relation-broken", jujusim.HookOptions{Relation: w})
			assert.Equal(t, "[]", parca.LocalAppData["scrape_jobs"])
		})
	}
}

func TestProfilingNonLeaderPublishesNothing(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", false)
	e.addWorker("tempo-worker", "all", "10.1.0.6")
	e.addS3()
	parca := e.h.Model.AddRelation("profiling-endpoint", "parca", nil, map[string]map[string]string{"parca/0": {}})
	e.hook("profiling-endpoint-relation-joined", jujusim.HookOptions{Relation: parca, RemoteUnit: "parca/0"})
	assert.Empty(t, parca.LocalAppData)
	assert.Empty(t, parca.LocalUnitData)
}
