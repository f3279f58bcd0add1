package pyroscope

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/golden"
)

// worker is a Pyroscope worker application as a test sees it: a name, the
// role string its leader publishes and how many units it has. Units live
// at their pod's in-cluster name, unless ips gives their addresses.
type worker struct {
	app, role string
	units     int
	ips       []string
}

// addresses are the worker's unit addresses, in unit order.
func (w worker) addresses() []string {
	if w.ips != nil {
		return w.ips
	}
	out := make([]string, w.units)
	for i := range out {
		out[i] = podName(w.app, i)
	}
	return out
}

// podName is the in-cluster name of unit n of app, in model "m".
func podName(app string, n int) string {
	return app + "-" + strconv.Itoa(n) + "." + app + "-endpoints.m.svc.cluster.local"
}

// quoted is s as the Python charms publish strings: JSON-encoded.
func quoted(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// relation is the pyroscope-cluster relation of w, holding what a real
// Pyroscope worker publishes.
func (w worker) relation(id int) coordinator.Relation {
	rel := coordinator.Relation{
		ID: id, Endpoint: ClusterEndpoint, RemoteApp: w.app,
		AppData: map[string]string{"role": quoted(w.role)},
		Units:   map[string]map[string]string{},
	}
	for i, addr := range w.addresses() {
		unit := w.app + "/" + strconv.Itoa(i)
		topology, _ := json.Marshal(map[string]string{
			"model": "m", "model_uuid": "11111111-2222-4333-8444-555555555555",
			"application": w.app, "unit": unit, "charm_name": "pyroscope-worker-k8s",
		})
		rel.Units[unit] = map[string]string{"address": quoted(addr), "juju_topology": string(topology)}
	}
	return rel
}

// relations numbers the workers' relations from 100.
func relations(ws ...worker) []coordinator.Relation {
	out := make([]coordinator.Relation, 0, len(ws))
	for i, w := range ws {
		out = append(out, w.relation(100+i))
	}
	return out
}

// clusterOf aggregates the workers; any rejected data fails the test.
func clusterOf(t *testing.T, ws ...worker) coordinator.Cluster {
	t.Helper()
	c, problems := coordinator.AggregateCluster(Roles(), relations(ws...))
	if len(problems) != 0 {
		t.Fatalf("workers rejected: %v", problems)
	}
	return c
}

// Worker sets used by several tests.
var (
	monolith = []worker{{app: "pyroscope-worker", role: "all", units: 1}}
	// perRole is one single-unit application per atomic role.
	perRole = func() []worker {
		var ws []worker
		for _, r := range Roles().Atomic {
			ws = append(ws, worker{app: "pyro-" + r, role: r, units: 1})
		}
		return ws
	}()
)

// minio is the S3 storage of most tests: in-cluster MinIO over plain HTTP.
func minio() *coordinator.S3 {
	return &coordinator.S3{
		Endpoint: "minio.m.svc.cluster.local:9000", Bucket: "pyroscope",
		AccessKey: "minio-user", SecretKey: "minio-secret-key", Insecure: true,
	}
}

// input is a render input for workers ws with MinIO storage.
func input(t *testing.T, ws ...worker) *coordinator.RenderInput {
	t.Helper()
	return &coordinator.RenderInput{
		Cluster: clusterOf(t, ws...), S3: minio(),
		AppFQDN: "pyroscope.m.svc.cluster.local", UnitFQDN: "pyroscope-0.pyroscope-endpoints.m.svc.cluster.local",
		Model: "m", App: "pyroscope", Relations: map[string][]coordinator.Relation{},
	}
}

// checkGolden compares got with testdata/<file> (golden.Check).
func checkGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", file), got)
}
