package coordinator_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// benchSizes are the cluster sizes of the hook benchmark (bench/): worker
// units spread over worker applications.
var benchSizes = []struct{ units, apps int }{{1, 1}, {10, 3}, {100, 6}, {1000, 10}}

// benchRoles gives each worker application a role so that the cluster is
// consistent at every size (as bench.NewModel does).
func benchRoles(apps int) []string {
	switch {
	case apps == 1:
		return []string{"all"}
	case apps < 6:
		return []string{"querier,query-frontend", "ingester,distributor", "compactor,metrics-generator"}[:apps]
	}
	roles := []string{"querier", "query-frontend", "ingester", "distributor", "compactor", "metrics-generator"}
	extra := []string{"ingester", "querier", "distributor", "query-frontend"}
	for i := 0; len(roles) < apps; i++ {
		roles = append(roles, extra[i%len(extra)])
	}
	return roles
}

func benchJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// benchObserved is what a leader coordinator observes with the given
// number of worker units over apps worker applications and a complete s3
// relation; nginx is reachable (its config is rendered) when withNginx.
func benchObserved(units, apps int, withNginx bool) *coordinator.Observed {
	var cluster []coordinator.Relation
	for i, role := range benchRoles(apps) {
		app := fmt.Sprintf("tempo-worker-%d", i)
		n := units / apps
		if i < units%apps {
			n++
		}
		rel := coordinator.Relation{ID: i, Endpoint: "tempo-cluster", RemoteApp: app,
			AppData: map[string]string{"role": benchJSON(role)}, Units: map[string]map[string]string{}}
		for u := range n {
			unit := fmt.Sprintf("%s/%d", app, u)
			rel.Units[unit] = map[string]string{
				"address": benchJSON(fmt.Sprintf("%s-%d.%s-endpoints.bench.svc.cluster.local", app, u, app)),
				"juju_topology": benchJSON(map[string]string{"model": "bench", "model_uuid": "9f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8",
					"application": app, "unit": unit, "charm_name": "tempo-worker-k8s"}),
			}
		}
		cluster = append(cluster, rel)
	}
	s3 := coordinator.Relation{ID: apps, Endpoint: coordinator.S3Endpoint, RemoteApp: "s3-integrator",
		AppData: map[string]string{"endpoint": "http://minio.bench.svc.cluster.local:9000", "bucket": "tempo",
			"access-key": "AKIDEXAMPLE", "secret-key": "wJalrXUtnFEMI/K7MDENGbPxRfiCYEXAMPLEKEY", "s3-uri-style": "path"},
		Units: map[string]map[string]string{"s3-integrator/0": {}}}
	o := &coordinator.Observed{
		Model: "bench", ModelUUID: "9f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8", App: "tempo", Unit: "tempo/0", Leader: true,
		Config:    map[string]any{"retention-period": 720},
		Relations: map[string][]coordinator.Relation{"tempo-cluster": cluster, coordinator.S3Endpoint: {s3}},
		AppFQDN:   "tempo.bench.svc.cluster.local",
		UnitFQDN:  "tempo-0.tempo-endpoints.bench.svc.cluster.local",
	}
	if withNginx {
		o.Nginx = &coordinator.NginxFacts{Version: "1.27.5", Resolver: "10.152.183.10"}
	}
	return o
}

// BenchmarkReconcile measures the pure core (observed → desired) as the
// cluster grows, with nginx reachable (nginx.conf rendered) and absent (as
// in the hook benchmark, which runs without a Pebble socket). Besides the
// usual ns/op, B/op and allocs/op it reports the cost per worker unit:
// flat per-unit figures across sizes mean linear growth.
func BenchmarkReconcile(b *testing.B) {
	p := tempo.Product()
	for _, withNginx := range []bool{true, false} {
		for _, s := range benchSizes {
			name := fmt.Sprintf("nginx=%t/units=%d", withNginx, s.units)
			b.Run(name, func(b *testing.B) {
				o := benchObserved(s.units, s.apps, withNginx)
				if d := coordinator.Reconcile(p, o); !d.Consistent || d.WorkerConfig == nil {
					b.Fatalf("the benchmark cluster is not complete: %+v", d.Statuses)
				}
				b.ReportAllocs()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				b.ResetTimer()
				for b.Loop() {
					coordinator.Reconcile(p, o)
				}
				b.StopTimer()
				runtime.ReadMemStats(&after)
				perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(perOp/float64(s.units), "ns/unit")
				b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/float64(s.units), "allocs/unit")
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(s.units), "B/unit")
			})
		}
	}
}
