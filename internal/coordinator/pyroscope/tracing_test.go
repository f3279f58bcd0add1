package pyroscope

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// TestTracingRequirers: relating charm-tracing and workload-tracing asks
// for otlp_http and jaeger_thrift_http and hands the provider's URLs to
// the workers as they are; unrelated, the workers are told nothing (the
// Pyroscope coordinator has no trace receiver of its own).
func TestTracingRequirers(t *testing.T) {
	const tempo = `[{"protocol":{"name":"otlp_http","type":"http"},"url":"http://tempo.cos.svc.cluster.local:4318"},` +
		`{"protocol":{"name":"jaeger_thrift_http","type":"http"},"url":"http://tempo.cos.svc.cluster.local:14268"},` +
		`{"protocol":{"name":"otlp_grpc","type":"grpc"},"url":"tempo.cos.svc.cluster.local:4317"}]`
	rel := func(endpoint string, id int) coordinator.Relation {
		return coordinator.Relation{ID: id, Endpoint: endpoint, RemoteApp: "tempo", AppData: map[string]string{"receivers": tempo}}
	}

	o := observed(false, monolith...)
	d := coordinator.Reconcile(Product(), o)
	c := clusterWrites(d)[0].Data
	for _, key := range []string{"charm_tracing_receivers", "workload_tracing_receivers"} {
		if v, ok := c[key]; ok {
			t.Errorf("unrelated: %s = %s, want no key", key, v)
		}
	}

	o.Relations[CharmTracingEndpoint] = []coordinator.Relation{rel(CharmTracingEndpoint, 50)}
	o.Relations[WorkloadTracingEndpoint] = []coordinator.Relation{rel(WorkloadTracingEndpoint, 51)}
	d = coordinator.Reconcile(Product(), o)
	c = clusterWrites(d)[0].Data
	if got, want := c["charm_tracing_receivers"], `{"otlp_http":"http://tempo.cos.svc.cluster.local:4318"}`; got != want {
		t.Errorf("charm_tracing_receivers = %s, want %s", got, want)
	}
	if got, want := c["workload_tracing_receivers"], `{"jaeger_thrift_http":"http://tempo.cos.svc.cluster.local:14268"}`; got != want {
		t.Errorf("workload_tracing_receivers = %s, want %s", got, want)
	}
	var b strings.Builder
	for _, w := range d.Databags {
		if w.Endpoint != CharmTracingEndpoint && w.Endpoint != WorkloadTracingEndpoint && w.Endpoint != ClusterEndpoint {
			continue
		}
		fmt.Fprintf(&b, "%s:%d app=%v\n", w.Endpoint, w.RelationID, w.App)
		for _, k := range slices.Sorted(maps.Keys(w.Data)) {
			if strings.HasSuffix(k, "_tracing_receivers") || k == "receivers" {
				fmt.Fprintf(&b, "  %s: %s\n", k, w.Data[k])
			}
		}
	}
	checkGolden(t, "tracing-databags.txt", []byte(b.String()))
	requests := map[string]string{}
	for _, w := range d.Databags {
		if w.Endpoint == CharmTracingEndpoint || w.Endpoint == WorkloadTracingEndpoint {
			if !w.App {
				t.Errorf("%s: the request goes in the app databag", w.Endpoint)
			}
			requests[w.Endpoint] = w.Data["receivers"]
		}
	}
	if requests[CharmTracingEndpoint] != `["otlp_http"]` || requests[WorkloadTracingEndpoint] != `["jaeger_thrift_http"]` {
		t.Errorf("requests = %v", requests)
	}
}
