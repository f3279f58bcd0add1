package coordinator_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// describeDesired renders what a hook would do in a stable, readable form:
// the summarized status, logs, every databag write (keys sorted, values as
// they would be written), ports, consistency and nginx.
func describeDesired(d *coordinator.Desired) string {
	var b strings.Builder
	s := coordinator.Summarize(d.Statuses, "")
	fmt.Fprintf(&b, "status: %s %q\n", s.Level, s.Message)
	fmt.Fprintf(&b, "consistent: %v\n", d.Consistent)
	switch {
	case d.Nginx == nil:
		b.WriteString("nginx: unreachable\n")
	default:
		fmt.Fprintf(&b, "nginx: run=%v\n", d.Nginx.Run)
	}
	fmt.Fprintf(&b, "ports: %v\n", d.Ports)
	fmt.Fprintf(&b, "worker config published: %v\n", d.WorkerConfig != nil)
	b.WriteString("logs:\n")
	for _, l := range d.Logs {
		fmt.Fprintf(&b, "  - %s\n", l)
	}
	b.WriteString("databags:\n")
	for _, w := range d.Databags {
		kind := "unit"
		if w.App {
			kind = "app"
		}
		fmt.Fprintf(&b, "  %s %s\n", coordinator.RelationRef(w.Endpoint, w.RelationID), kind)
		for _, k := range slices.Sorted(maps.Keys(w.Data)) {
			fmt.Fprintf(&b, "    %s: %s\n", k, strings.ReplaceAll(w.Data[k], "\n", "\n      "))
		}
	}
	if d.WorkerConfig != nil {
		// The same config, decoded, so that a golden diff is readable.
		b.WriteString("worker config (decoded):\n")
		for _, line := range strings.SplitAfter(string(d.WorkerConfig), "\n") {
			if line != "" {
				b.WriteString("  | " + line)
			}
		}
	}
	return b.String()
}

// find returns the databag writes of an endpoint.
func find(d *coordinator.Desired, endpoint string) []coordinator.DatabagWrite {
	var out []coordinator.DatabagWrite
	for _, w := range d.Databags {
		if w.Endpoint == endpoint {
			out = append(out, w)
		}
	}
	return out
}

func statusOf(d *coordinator.Desired) coordinator.Status {
	return coordinator.Summarize(d.Statuses, "")
}

// distributedWorkers is one worker app per Tempo role, with n[role] units
// (1 by default), leaving out skip.
func distributedWorkers(n map[string]int, skip ...string) []coordinator.Relation {
	var rels []coordinator.Relation
	for i, role := range tempo.Roles().Atomic {
		if slices.Contains(skip, role) {
			continue
		}
		units := n[role]
		if units == 0 {
			units = 1
		}
		rels = append(rels, worker(i+1, "tempo-"+role, role, units))
	}
	return rels
}

func remoteWriteRelation() coordinator.Relation {
	return coordinator.Relation{ID: 20, Endpoint: tempo.RemoteWriteEndpoint, RemoteApp: "prometheus", Units: map[string]map[string]string{
		"prometheus/0": {"remote_write": `{"url": "http://prometheus-0.prometheus-endpoints.m.svc.cluster.local:9090/api/v1/write"}`},
		"prometheus/1": {"remote_write": `{"url": "http://prometheus-1.prometheus-endpoints.m.svc.cluster.local:9090/api/v1/write"}`},
		"prometheus/2": {"remote_write": `{"url": "http://evil;\n/write"}`},
		"prometheus/3": {"remote_write": `{"url": "http://evil.example:99999/write"}`},
		"prometheus/4": {},
		"prometheus/5": {"remote_write": `not json`},
		"prometheus/6": {"remote_write": `{"url": "ftp://prometheus-6.example/write"}`},
	}}
}

type engineScenario struct {
	name     string
	observed func() *coordinator.Observed
	check    func(t *testing.T, d *coordinator.Desired)
}

func wantStatus(t *testing.T, d *coordinator.Desired, level coordinator.Level, message string) {
	t.Helper()
	if got := statusOf(d); got.Level != level || got.Message != message {
		t.Errorf("status %s %q, want %s %q", got.Level, got.Message, level, message)
	}
}

func wantNoWorkerConfig(t *testing.T, d *coordinator.Desired) {
	t.Helper()
	if d.WorkerConfig != nil || len(find(d, "tempo-cluster")) != 0 {
		t.Errorf("worker config published: %d cluster databags", len(find(d, "tempo-cluster")))
	}
}

func wantConfigContains(t *testing.T, d *coordinator.Desired, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(string(d.WorkerConfig), s) {
			t.Errorf("worker config lacks %q", s)
		}
	}
}

func engineScenarios() []engineScenario {
	const degraded = "Degraded: no worker runs metrics-generator (`juju config <worker> role-metrics-generator=true` to enable)"
	return []engineScenario{
		{"monolithic", func() *coordinator.Observed {
			return observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, withS3(nil))
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Active, tempo.MetricsGeneratorDisabled)
			if !d.Consistent || !d.Nginx.Run || !slices.Equal(d.Ports, []int{3200, 3300, 4318, 9096}) {
				t.Errorf("consistent=%v run=%v ports=%v", d.Consistent, d.Nginx.Run, d.Ports)
			}
			wantConfigContains(t, d, unitFQDN("tempo-worker", 0)+":7946", "bucket: tempo", "replication_factor: 1")
			if w := find(d, "tempo-cluster"); len(w) != 1 || w[0].Data["worker_ports"] != "[3200,4318,7946,9096]" {
				t.Errorf("cluster databags %+v", w)
			}
			if w := find(d, "s3"); len(w) != 1 || w[0].Data["bucket"] != "relation-7" {
				t.Errorf("s3 request %+v", w)
			}
		}},
		{"distributed", func() *coordinator.Observed {
			return observed(distributedWorkers(nil), withS3(nil))
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Active, tempo.MetricsGeneratorDisabled)
			if len(find(d, "tempo-cluster")) != 6 {
				t.Errorf("want 6 cluster databags, got %d", len(find(d, "tempo-cluster")))
			}
			ports := map[int]string{}
			for _, w := range find(d, "tempo-cluster") {
				ports[w.RelationID] = w.Data["worker_ports"]
			}
			// relation IDs follow the table order: querier 1, query-frontend 2, ingester 3, distributor 4.
			if ports[1] != "[3200,7946]" || ports[2] != "[3200,7946,9096]" || ports[4] != "[3200,4318,7946]" {
				t.Errorf("worker_ports by relation %v", ports)
			}
		}},
		{"three-ingesters", func() *coordinator.Observed {
			return observed(distributedWorkers(map[string]int{"ingester": 3}), withS3(nil))
		}, func(t *testing.T, d *coordinator.Desired) {
			wantConfigContains(t, d, "replication_factor: 3", unitFQDN("tempo-ingester", 2)+":7946")
		}},
		{"multi-role", func() *coordinator.Observed {
			return observed([]coordinator.Relation{
				worker(1, "tempo-read", "querier,query-frontend", 1),
				worker(2, "tempo-write", "distributor,ingester", 2),
				worker(3, "tempo-backend", "compactor,metrics-generator", 1),
			}, withS3(nil))
		}, func(t *testing.T, d *coordinator.Desired) {
			if !d.Consistent || !d.Nginx.Run {
				t.Error("multi-role cluster not consistent")
			}
			ports := map[int]string{}
			for _, w := range find(d, "tempo-cluster") {
				ports[w.RelationID] = w.Data["worker_ports"]
			}
			if ports[1] != "[3200,7946,9096]" || ports[2] != "[3200,4318,7946]" || ports[3] != "[3200,7946]" {
				t.Errorf("worker_ports by relation %v", ports)
			}
		}},
		{"metrics-generator-missing", func() *coordinator.Observed {
			return observed(distributedWorkers(nil, "metrics-generator"), withS3(nil))
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Active, degraded)
			if !d.Consistent || d.WorkerConfig == nil {
				t.Error("an optional role missing must not stop publishing")
			}
		}},
		{"no-s3", func() *coordinator.Observed {
			return observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, nil)
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Blocked, "[s3] Missing S3 integration.")
			wantNoWorkerConfig(t, d)
			if !d.Nginx.Run {
				t.Error("nginx stopped for want of s3 (only consistency stops it)")
			}
		}},
		{"s3-incomplete", func() *coordinator.Observed {
			return observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)},
				map[string][]coordinator.Relation{"s3": {s3Relation(7, map[string]string{"bucket": "relation-7", "endpoint": "http://minio:9000"})}})
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Blocked, "[s3] S3 not ready (probably misconfigured).")
			wantNoWorkerConfig(t, d)
			if len(find(d, "s3")) != 1 {
				t.Error("the bucket request must still be published")
			}
			if !slices.Contains(d.Logs, "s3 relation s3:7 not usable: missing access-key; missing secret-key") {
				t.Errorf("logs %q", d.Logs)
			}
		}},
		{"no-workers", func() *coordinator.Observed {
			return observed(nil, withS3(nil))
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Blocked, "[consistency] Missing any worker relation.")
			wantNoWorkerConfig(t, d)
			if d.Consistent || d.Nginx.Run {
				t.Error("nginx runs without workers")
			}
		}},
		{"no-workers-no-s3", func() *coordinator.Observed {
			return observed(nil, nil)
		}, func(t *testing.T, d *coordinator.Desired) {
			// Both blocked: consistency is listed first and wins the tie.
			wantStatus(t, d, coordinator.Blocked, "[consistency] Missing any worker relation.")
			if !slices.Contains(d.Statuses, coordinator.Status{Level: coordinator.Blocked, Message: "[s3] Missing S3 integration."}) {
				t.Errorf("statuses %v lack the s3 candidate", d.Statuses)
			}
		}},
		{"required-role-missing", func() *coordinator.Observed {
			return observed(distributedWorkers(nil, "ingester", "compactor"), withS3(nil))
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Blocked,
				"[consistency] Cluster inconsistent: missing ingester, compactor. Enable them on a worker, e.g. `juju config <worker> role-ingester=true`")
			wantNoWorkerConfig(t, d)
			if d.Consistent || d.Nginx == nil || d.Nginx.Run {
				t.Errorf("consistent=%v nginx=%+v, want nginx stopped", d.Consistent, d.Nginx)
			}
		}},
		{"tls-less", func() *coordinator.Observed {
			return observed(distributedWorkers(nil), withS3(nil))
		}, func(t *testing.T, d *coordinator.Desired) {
			for _, w := range find(d, "tempo-cluster") {
				for _, k := range []string{"ca_cert", "server_cert", "privkey_secret_id"} {
					if _, ok := w.Data[k]; ok {
						t.Errorf("%s published without TLS", k)
					}
				}
			}
			if strings.Contains(string(d.Nginx.Config), "ssl") || strings.Contains(string(d.WorkerConfig), "tls_cert_path") {
				t.Error("TLS settings rendered without TLS")
			}
		}},
		{"s3-with-ca", func() *coordinator.Observed {
			data := s3Data()
			data["endpoint"] = "https://minio-0.minio-endpoints.m.svc.cluster.local:443"
			data["tls-ca-chain"] = jsList(testCA)
			return observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)},
				map[string][]coordinator.Relation{"s3": {s3Relation(7, data)}})
		}, func(t *testing.T, d *coordinator.Desired) {
			w := find(d, "tempo-cluster")
			if len(w) != 1 || w[0].Data["s3_tls_ca_chain"] != js(testCA) {
				t.Errorf("s3_tls_ca_chain not published: %+v", w)
			}
			wantConfigContains(t, d, "endpoint: minio-0.minio-endpoints.m.svc.cluster.local\n", "insecure: false")
		}},
		{"remote-write", func() *coordinator.Observed {
			return observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)},
				withS3(map[string][]coordinator.Relation{tempo.RemoteWriteEndpoint: {remoteWriteRelation()}}))
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Active, "")
			w := find(d, "tempo-cluster")
			// Through the worker telemetry proxy.
			want := `[{"url":"http://tempo.m.svc.cluster.local:3300/proxy/remote-write/prometheus-0/write"},` +
				`{"url":"http://tempo.m.svc.cluster.local:3300/proxy/remote-write/prometheus-1/write"}]`
			if len(w) != 1 || w[0].Data["remote_write_endpoints"] != want {
				t.Errorf("remote_write_endpoints %+v", w)
			}
			if !slices.Equal(d.Logs, []string{"ignoring invalid remote_write from prometheus/2", "ignoring invalid remote_write from prometheus/3",
				"ignoring invalid remote_write from prometheus/5", "ignoring invalid remote_write from prometheus/6"}) {
				t.Errorf("logs %q", d.Logs)
			}
			if strings.Contains(string(d.WorkerConfig), "evil") {
				t.Error("an invalid remote-write URL reached the worker config")
			}
		}},
		{"non-leader", func() *coordinator.Observed {
			o := observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)},
				withS3(map[string][]coordinator.Relation{tempo.TracingEndpoint: {tracingRelation(9)}}))
			o.Leader = false
			return o
		}, func(t *testing.T, d *coordinator.Desired) {
			for _, w := range d.Databags {
				if w.App {
					t.Errorf("non-leader writes an app databag: %s", coordinator.RelationRef(w.Endpoint, w.RelationID))
				}
			}
			peers := find(d, coordinator.PeersEndpoint)
			if len(peers) != 1 || peers[0].Data["hostname"] != "tempo-0.tempo-endpoints.m.svc.cluster.local" {
				t.Errorf("peers %+v", peers)
			}
			if d.WorkerConfig != nil || d.Nginx == nil || !d.Nginx.Run {
				t.Error("a non-leader runs nginx but publishes no worker config")
			}
		}},
		{"tracing", func() *coordinator.Observed {
			return observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)},
				withS3(map[string][]coordinator.Relation{tempo.TracingEndpoint: {tracingRelation(9)}}))
		}, func(t *testing.T, d *coordinator.Desired) {
			if !slices.Equal(d.Ports, []int{3200, 3300, 4317, 4318, 9096, 9411}) {
				t.Errorf("ports %v", d.Ports)
			}
			w := find(d, tempo.TracingEndpoint)
			if len(w) != 1 || !w[0].App || !strings.Contains(w[0].Data["receivers"], `"url":"tempo.m.svc.cluster.local:4317"`) ||
				!strings.Contains(w[0].Data["receivers"], `"url":"http://tempo.m.svc.cluster.local:9411"`) {
				t.Errorf("tracing databag %+v", w)
			}
			if c := find(d, "tempo-cluster"); len(c) != 1 || c[0].Data["worker_ports"] != "[3200,4317,4318,7946,9096,9411]" {
				t.Errorf("worker ports %+v", c)
			}
		}},
		{"listings", func() *coordinator.Observed {
			return observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, withS3(listingRelations()))
		}, func(t *testing.T, d *coordinator.Desired) {
			gs := find(d, coordinator.GrafanaSourceEndpoint)
			if len(gs) != 1 || !gs[0].App || gs[0].Data["grafana_source_app_host"] != "http://tempo.m.svc.cluster.local:3200" ||
				gs[0].Data["grafana_source_data"] != `{"model":"m","model_uuid":"11111111-1111-4111-8111-111111111111","application":"tempo","type":"tempo","extra_fields":null,"secure_extra_fields":null}` {
				t.Errorf("grafana-source databag %+v", gs)
			}
			cat := find(d, coordinator.CatalogueEndpoint)
			if len(cat) != 1 || !cat[0].App || cat[0].Data["name"] != "Tempo (tempo)" || cat[0].Data["url"] != "" ||
				!strings.Contains(cat[0].Data["api_endpoints"], `"Status":"http://tempo.m.svc.cluster.local:3200/status"`) {
				t.Errorf("catalogue databag %+v", cat)
			}
		}},
		{"listings-non-leader", func() *coordinator.Observed {
			o := observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, withS3(listingRelations()))
			o.Leader = false
			return o
		}, func(t *testing.T, d *coordinator.Desired) {
			if w := append(find(d, coordinator.GrafanaSourceEndpoint), find(d, coordinator.CatalogueEndpoint)...); len(w) != 0 {
				t.Errorf("a non-leader wrote %+v", w)
			}
		}},
		{"listings-no-address", func() *coordinator.Observed {
			o := observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, withS3(listingRelations()))
			o.AppFQDN = ""
			return o
		}, func(t *testing.T, d *coordinator.Desired) {
			if w := append(find(d, coordinator.GrafanaSourceEndpoint), find(d, coordinator.CatalogueEndpoint)...); len(w) != 0 {
				t.Errorf("published without an address: %+v", w)
			}
		}},
		{"metrics", func() *coordinator.Observed {
			w := worker(1, "tempo-worker", "all", 2)
			// A charm name that is no charm name stays out of the labels.
			w.Units["tempo-worker/1"]["juju_topology"] = `{"application":"tempo-worker","unit":"tempo-worker/1","charm_name":"x\"\ny"}`
			return observed([]coordinator.Relation{w}, withS3(map[string][]coordinator.Relation{
				coordinator.MetricsEndpoint: {{ID: 13, Endpoint: coordinator.MetricsEndpoint, RemoteApp: "prometheus"}},
			}))
		}, func(t *testing.T, d *coordinator.Desired) {
			var app, unit map[string]string
			for _, w := range find(d, coordinator.MetricsEndpoint) {
				if w.App {
					app = w.Data
				} else {
					unit = w.Data
				}
			}
			if unit["prometheus_scrape_unit_address"] != "tempo-0.tempo-endpoints.m.svc.cluster.local" || unit["prometheus_scrape_unit_name"] != "tempo/0" {
				t.Errorf("unit databag %v", unit)
			}
			var jobs []struct {
				Name    string `json:"job_name"`
				Statics []struct {
					Targets []string `json:"targets"`
				} `json:"static_configs"`
				Relabel []map[string]string `json:"relabel_configs"`
			}
			if err := json.Unmarshal([]byte(app["scrape_jobs"]), &jobs); err != nil || len(jobs) != 3 {
				t.Fatalf("scrape_jobs %q: %v", app["scrape_jobs"], err)
			}
			// Workers are scraped through the worker telemetry proxy.
			if jobs[0].Statics[0].Targets[0] != "*:9113" || jobs[1].Name != "tempo-worker-0" ||
				jobs[1].Statics[0].Targets[0] != "tempo.m.svc.cluster.local:3300" || len(jobs[1].Relabel) != 5 || len(jobs[2].Relabel) != 4 {
				t.Errorf("jobs %+v", jobs)
			}
		}},
		{"metrics-non-leader", func() *coordinator.Observed {
			o := observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, withS3(map[string][]coordinator.Relation{
				coordinator.MetricsEndpoint: {{ID: 13, Endpoint: coordinator.MetricsEndpoint, RemoteApp: "prometheus"}},
			}))
			o.Leader = false
			return o
		}, func(t *testing.T, d *coordinator.Desired) {
			w := find(d, coordinator.MetricsEndpoint)
			if len(w) != 1 || w[0].App || w[0].Data["prometheus_scrape_unit_name"] != "tempo/0" {
				t.Errorf("a non-leader should write its unit databag only: %+v", w)
			}
		}},
		{"invalid-retention", func() *coordinator.Observed {
			o := observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, withS3(nil))
			o.Config = map[string]any{"retention-period": -3.0}
			return o
		}, func(t *testing.T, d *coordinator.Desired) {
			if s := statusOf(d); s.Level != coordinator.Blocked || !strings.HasPrefix(s.Message, "[config] invalid retention-period") {
				t.Errorf("status %+v", s)
			}
			wantNoWorkerConfig(t, d)
		}},
		{"nginx-unreachable", func() *coordinator.Observed {
			o := observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, withS3(nil))
			o.Nginx = nil
			return o
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Waiting, "[nginx] Waiting for the nginx container to be ready.")
			if d.Nginx != nil || d.WorkerConfig == nil {
				t.Errorf("nginx=%v config=%v: the workers do not need nginx", d.Nginx, d.WorkerConfig != nil)
			}
		}},
	}
}

// listingRelations relates Grafana (grafana-source) and a catalogue, which
// publish nothing the coordinator reads.
func listingRelations() map[string][]coordinator.Relation {
	return map[string][]coordinator.Relation{
		coordinator.GrafanaSourceEndpoint: {{ID: 11, Endpoint: coordinator.GrafanaSourceEndpoint, RemoteApp: "grafana"}},
		coordinator.CatalogueEndpoint:     {{ID: 12, Endpoint: coordinator.CatalogueEndpoint, RemoteApp: "catalogue"}},
	}
}

func tracingRelation(id int) coordinator.Relation {
	return coordinator.Relation{ID: id, Endpoint: tempo.TracingEndpoint, RemoteApp: "grafana-agent",
		AppData: map[string]string{"receivers": `["otlp_grpc","zipkin"]`}}
}

func TestReconcileGolden(t *testing.T) {
	for _, sc := range engineScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			d := coordinator.Reconcile(tempo.Product(), sc.observed())
			checkWorkerConfigIdentical(t, d)
			sc.check(t, d)
			checkGolden(t, "engine/"+sc.name+".golden", []byte(describeDesired(d)))
		})
	}
}

// checkWorkerConfigIdentical: every worker relation gets the same bytes,
// the JSON encoding of d.WorkerConfig.
func checkWorkerConfigIdentical(t *testing.T, d *coordinator.Desired) {
	t.Helper()
	var first string
	for i, w := range find(d, "tempo-cluster") {
		raw := w.Data["worker_config"]
		var decoded string
		if err := json.Unmarshal([]byte(raw), &decoded); err != nil || decoded != string(d.WorkerConfig) {
			t.Errorf("worker_config of relation %d is not the JSON encoding of the rendered config (%v)", w.RelationID, err)
		}
		if i == 0 {
			first = raw
		} else if raw != first {
			t.Errorf("worker_config of relation %d differs from the first worker's", w.RelationID)
		}
		if !w.App || w.Data["worker_labels"] != `{"app.kubernetes.io/part-of":"tempo"}` {
			t.Errorf("relation %d: app=%v worker_labels=%q", w.RelationID, w.App, w.Data["worker_labels"])
		}
	}
}

// Reconcile is pure: the same input gives deep-equal output, whatever the
// map iteration order (hence several runs), and it does not modify its input.
func TestReconcileDeterministic(t *testing.T) {
	for _, sc := range engineScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			o := sc.observed()
			first := coordinator.Reconcile(tempo.Product(), o)
			if !reflect.DeepEqual(o, sc.observed()) {
				t.Fatal("Reconcile modified its input")
			}
			for range 10 {
				if again := coordinator.Reconcile(tempo.Product(), sc.observed()); !reflect.DeepEqual(first, again) {
					t.Fatalf("Reconcile is not deterministic:\n%s\n---\n%s", describeDesired(first), describeDesired(again))
				}
			}
		})
	}
}

// The order in which Juju lists units and relations does not change what is
// published (only relation IDs do).
func TestReconcileIndependentOfRelationOrder(t *testing.T) {
	rels := distributedWorkers(map[string]int{"ingester": 3})
	a := coordinator.Reconcile(tempo.Product(), observed(rels, withS3(nil)))
	reversed := slices.Clone(rels)
	slices.Reverse(reversed)
	b := coordinator.Reconcile(tempo.Product(), observed(reversed, withS3(nil)))
	if string(a.WorkerConfig) != string(b.WorkerConfig) || string(a.Nginx.Config) != string(b.Nginx.Config) {
		t.Error("the worker config or nginx.conf depends on the order of the relations")
	}
}

// A product with another role table (Pyroscope's) and a minimal plan runs
// through the same engine, unchanged.
func TestReconcileOtherProduct(t *testing.T) {
	p := &coordinator.Product{
		Name: "pyroscope", ClusterEndpoint: "pyroscope-cluster", ConfigKey: "config", Roles: pyroscopeRoles(), StatusPort: 8080,
		Plan: func(*coordinator.Observed) coordinator.Plan {
			return coordinator.Plan{Publishable: true, Renderer: stubPlan{}}
		},
	}
	rel := worker(1, "pyroscope-worker", "querier,query-frontend,query-scheduler,ingester,distributor,compactor,store-gateway", 1)
	rel.Endpoint = "pyroscope-cluster"
	o := observed(nil, withS3(nil))
	o.Relations["pyroscope-cluster"] = []coordinator.Relation{rel}
	d := coordinator.Reconcile(p, o)
	wantStatus(t, d, coordinator.Blocked, "[consistency] Cluster inconsistent: missing tenant-settings, ad-hoc-profiles. "+
		"Enable them on a worker, e.g. `juju config <worker> role-tenant-settings=true`")
	o.Relations["pyroscope-cluster"][0].AppData["role"] = js("all")
	d = coordinator.Reconcile(p, o)
	wantStatus(t, d, coordinator.Active, "")
	w := find(d, "pyroscope-cluster")
	if len(w) != 1 || w[0].Data["config"] != js("stub config\n") || w[0].Data["worker_ports"] != "[4040]" {
		t.Errorf("pyroscope databags %+v", w)
	}
}

type stubPlan struct{}

func (stubPlan) Statuses(*coordinator.RenderInput) []coordinator.Status { return nil }
func (stubPlan) WorkerConfig(*coordinator.RenderInput) ([]byte, error) {
	return []byte("stub config\n"), nil
}
func (stubPlan) WorkerPorts([]string) []int                                       { return []int{4040} }
func (stubPlan) Routes(*coordinator.RenderInput) coordinator.Routes               { return coordinator.Routes{} }
func (stubPlan) ProviderData(*coordinator.RenderInput) []coordinator.DatabagWrite { return nil }
func (stubPlan) ActiveMessage(*coordinator.RenderInput) string                    { return "" }
func (stubPlan) ActionResults(string, *coordinator.RenderInput) (map[string]string, error) {
	return nil, nil
}

type failingPlan struct{ stubPlan }

func (failingPlan) WorkerConfig(*coordinator.RenderInput) ([]byte, error) {
	return nil, fmt.Errorf("boom")
}

// A renderer failure blocks first, and nothing is published to the workers.
func TestReconcileRenderError(t *testing.T) {
	p := tempo.Product()
	p.Plan = func(*coordinator.Observed) coordinator.Plan {
		return coordinator.Plan{Publishable: true, Renderer: failingPlan{}}
	}
	d := coordinator.Reconcile(p, observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, withS3(nil)))
	if len(d.Statuses) == 0 || d.Statuses[0] != (coordinator.Status{Level: coordinator.Blocked,
		Message: "[config] cannot render the worker configuration: boom"}) {
		t.Errorf("statuses %v", d.Statuses)
	}
	wantNoWorkerConfig(t, d)
}
