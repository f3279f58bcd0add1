package coordinator_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/pyroscope"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/pkg/parcascrape"
)

func parcaRelation(id int) coordinator.Relation {
	return coordinator.Relation{ID: id, Endpoint: coordinator.ParcaScrapeEndpoint, RemoteApp: "parca",
		Units: map[string]map[string]string{"parca/0": {}}}
}

// profilingCase observes a model with two Parca relations, runs Reconcile
// for its RenderInput and then the profiling-endpoint provider.
type profilingCase struct {
	name    string
	product *coordinator.Product
	cluster []coordinator.Relation
	leader  bool
	// tls: the model of TestCertificatesGolden (a certificates relation
	// that issued the fixture certificate, whose SANs hold one worker
	// unit's address) with cluster as its only worker.
	tls bool
}

func profilingCases() []profilingCase {
	tempoWorkers := func() []coordinator.Relation {
		w := worker(1, "tempo-worker", "all", 2)
		// A charm name that is no charm name stays out of the labels.
		w.Units["tempo-worker/1"]["juju_topology"] = `{"application":"tempo-worker","unit":"tempo-worker/1","charm_name":"x\"\ny"}`
		return []coordinator.Relation{w, worker(2, "tempo-querier", "querier", 1)}
	}
	pyroWorkers := func() []coordinator.Relation {
		w := worker(1, "pyroscope-worker", "all", 2)
		w.Endpoint = pyroscope.ClusterEndpoint
		return []coordinator.Relation{w}
	}
	return []profilingCase{
		{"tempo", tempo.Product(), tempoWorkers(), true, false},
		{"tempo-tls", tempo.Product(), []coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, true, true},
		{"pyroscope", pyroscope.Product(), pyroWorkers(), true, false},
		// Pyroscope workers serve plain HTTP behind nginx's TLS.
		{"pyroscope-tls", pyroscope.Product(), []coordinator.Relation{pyroscopeWorker(1)}, true, true},
		{"no-workers", tempo.Product(), nil, true, false},
		{"non-leader", tempo.Product(), tempoWorkers(), false, false},
	}
}

func (c profilingCase) run(t *testing.T) ([]coordinator.DatabagWrite, []string) {
	t.Helper()
	parca := []coordinator.Relation{parcaRelation(21), parcaRelation(22)}
	var o *coordinator.Observed
	if c.tls {
		o = tlsObserved(loadTLSMaterial(t), true)
		o.Relations[coordinator.ParcaScrapeEndpoint] = parca
	} else {
		o = observed(nil, withS3(map[string][]coordinator.Relation{coordinator.ParcaScrapeEndpoint: parca}))
	}
	delete(o.Relations, "tempo-cluster")
	o.Relations[c.product.ClusterEndpoint] = c.cluster
	o.Leader = c.leader
	if c.product.Name == "pyroscope" && !c.tls {
		o.App, o.Unit = "pyroscope", "pyroscope/0"
	}
	d := coordinator.Reconcile(c.product, o)
	if (d.Input.TLS != nil) != c.tls {
		t.Fatalf("TLS %v, want %v; statuses %v", d.Input.TLS != nil, c.tls, d.Statuses)
	}
	writes, logs := coordinator.ProfilingDatabags(c.product, o, d.Input)
	// Reconcile publishes the same.
	var fromReconcile []coordinator.DatabagWrite
	for _, w := range d.Databags {
		if w.Endpoint == coordinator.ParcaScrapeEndpoint {
			fromReconcile = append(fromReconcile, w)
		}
	}
	if fmt.Sprint(fromReconcile) != fmt.Sprint(writes) {
		t.Errorf("Reconcile published %v, the provider %v", fromReconcile, writes)
	}
	return writes, logs
}

// The scrape_jobs and scrape_metadata of every case, and the scrape
// configs a Parca charm builds from them with the consumer package.
func TestProfilingEndpointGolden(t *testing.T) {
	for _, c := range profilingCases() {
		t.Run(c.name, func(t *testing.T) {
			writes, logs := c.run(t)
			if len(logs) != 0 {
				t.Errorf("logs %q", logs)
			}
			var b strings.Builder
			for _, w := range writes {
				fmt.Fprintf(&b, "%s:%d app=%v\n", w.Endpoint, w.RelationID, w.App)
				for _, k := range []string{"scrape_metadata", "scrape_jobs"} {
					fmt.Fprintf(&b, "  %s: %s\n", k, w.Data[k])
				}
				if len(w.Data) != 2 {
					t.Errorf("unexpected keys in %v", w.Data)
				}
			}
			if len(writes) > 0 {
				jobs, err := parcascrape.Jobs([]parcascrape.Provider{{RelationID: 21, App: "tempo", AppData: writes[0].Data,
					Units: map[string]map[string]string{"tempo/0": {}}}})
				if err != nil {
					t.Fatalf("the consumer rejects what we publish: %v", err)
				}
				// With TLS, Parca trusts the CA the certificates provider issued with.
				if c.tls && c.product.WorkerTLS {
					if ca, _ := jobs[0].TLSConfig["ca"].(string); strings.TrimSpace(ca) != strings.TrimSpace(loadTLSMaterial(t).CA) {
						t.Errorf("tls_config ca %q is not the issuing CA", ca)
					}
				}
				out, _ := json.MarshalIndent(jobs, "  ", "  ")
				fmt.Fprintf(&b, "Parca's scrape configs (parcascrape.Jobs):\n  %s\n", out)
			}
			checkGolden(t, "profiling/"+c.name+".golden", []byte(b.String()))
			switch {
			case !c.leader && len(writes) != 0:
				t.Error("a non-leader wrote app data")
			case c.leader && len(writes) != 2:
				t.Errorf("%d writes, want one per relation", len(writes))
			}
			for _, w := range writes {
				if !w.App {
					t.Error("the coordinator units publish no unit address keys")
				}
				if strings.Contains(w.Data["scrape_jobs"], "https") != (c.tls && c.product.WorkerTLS) {
					t.Errorf("scheme: %s", w.Data["scrape_jobs"])
				}
			}
		})
	}
}

// Each worker unit is one target, labelled with its unit and application,
// at the worker's HTTP port.
func TestProfilingEndpointTargets(t *testing.T) {
	writes, _ := profilingCases()[0].run(t)
	jobs, err := parcascrape.Jobs([]parcascrape.Provider{{AppData: writes[0].Data, Units: map[string]map[string]string{"tempo/0": {}}}})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("%v %v", jobs, err)
	}
	if jobs[0].JobName != "m_11111111_tempo_workers" {
		t.Errorf("job name %q", jobs[0].JobName)
	}
	var got []string
	for _, sc := range jobs[0].StaticConfigs {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", sc.Targets, sc.Labels["juju_unit"], sc.Labels["worker_application"],
			sc.Labels["worker_charm"], sc.Labels["juju_application"]))
	}
	want := []string{
		"[" + unitFQDN("tempo-querier", 0) + ":3200] tempo-querier/0 tempo-querier tempo-worker-k8s tempo",
		"[" + unitFQDN("tempo-worker", 0) + ":3200] tempo-worker/0 tempo-worker tempo-worker-k8s tempo",
		"[" + unitFQDN("tempo-worker", 1) + ":3200] tempo-worker/1 tempo-worker  tempo",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
