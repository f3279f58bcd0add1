package pyroscope

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// observed is what a leader coordinator sees with these workers, MinIO
// over s3 (unless noS3) and an nginx container.
func observed(noS3 bool, ws ...worker) *coordinator.Observed {
	o := &coordinator.Observed{
		Model: "m", App: "pyroscope", Unit: "pyroscope/0", Leader: true,
		AppFQDN: "pyroscope.m.svc.cluster.local", UnitFQDN: "pyroscope-0.pyroscope-endpoints.m.svc.cluster.local",
		Config: map[string]any{}, Nginx: &coordinator.NginxFacts{Version: "1.27.5", Resolver: "10.152.183.10"},
		Relations: map[string][]coordinator.Relation{ClusterEndpoint: relations(ws...)},
	}
	if !noS3 {
		o.Relations[coordinator.S3Endpoint] = []coordinator.Relation{{ID: 9, Endpoint: coordinator.S3Endpoint, RemoteApp: "s3",
			AppData: map[string]string{
				"endpoint": "http://minio.m.svc.cluster.local:9000", "bucket": "pyroscope",
				"access-key": "minio-user", "secret-key": "minio-secret-key",
			}}}
	}
	return o
}

func TestReconcileStatuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    *coordinator.Observed
		want coordinator.Status
	}{
		{"no workers", observed(false),
			coordinator.Status{Level: coordinator.Blocked, Message: "[consistency] Missing any worker relation."}},
		{"no workers, no s3: consistency first", observed(true),
			coordinator.Status{Level: coordinator.Blocked, Message: "[consistency] Missing any worker relation."}},
		{"missing roles", observed(false, perRole[:7]...), coordinator.Status{Level: coordinator.Blocked,
			Message: "[consistency] Cluster inconsistent: missing tenant-settings, ad-hoc-profiles. Enable them on a worker, e.g. `juju config <worker> role-tenant-settings=true`"}},
		{"no s3", observed(true, monolith...),
			coordinator.Status{Level: coordinator.Blocked, Message: "[s3] Missing S3 integration."}},
		{"happy", observed(false, perRole...), coordinator.Status{Level: coordinator.Active, Message: ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := coordinator.Reconcile(Product(), tc.o)
			if got := coordinator.Summarize(d.Statuses, ""); got != tc.want {
				t.Errorf("status = %+v, want %+v", got, tc.want)
			}
			if (tc.want.Level == coordinator.Active) != (d.WorkerConfig != nil) {
				t.Errorf("worker config published: %v, want it only when active", d.WorkerConfig != nil)
			}
		})
	}
}

// clusterWrites returns the app databags written to worker relations.
func clusterWrites(d *coordinator.Desired) []coordinator.DatabagWrite {
	var out []coordinator.DatabagWrite
	for _, w := range d.Databags {
		if w.Endpoint == ClusterEndpoint {
			out = append(out, w)
		}
	}
	return out
}

func TestReconcilePublishesOneConfig(t *testing.T) {
	ws := []worker{
		{app: "pyro-read", role: "querier,query-frontend,query-scheduler", units: 2},
		{app: "pyro-write", role: "distributor,ingester", units: 3},
		{app: "pyro-backend", role: "compactor,store-gateway,tenant-settings,ad-hoc-profiles", units: 1},
	}
	o := observed(false, ws...)
	o.Relations[ProfilingEndpoint] = []coordinator.Relation{{ID: 40, Endpoint: ProfilingEndpoint, RemoteApp: "alloy"}}
	d := coordinator.Reconcile(Product(), o)
	if s := coordinator.Summarize(d.Statuses, ""); s.Level != coordinator.Active {
		t.Fatalf("status %+v, want active", s)
	}
	writes := clusterWrites(d)
	if len(writes) != len(ws) {
		t.Fatalf("%d cluster databags, want one per worker relation (%d)", len(writes), len(ws))
	}
	seen := map[int]bool{}
	for _, w := range writes {
		seen[w.RelationID] = true
		if !w.App {
			t.Errorf("relation %d: unit databag, want the app databag", w.RelationID)
		}
		if w.Data["config"] != writes[0].Data["config"] {
			t.Errorf("relation %d got another config than relation %d", w.RelationID, writes[0].RelationID)
		}
		if _, old := w.Data["worker_config"]; old {
			t.Error("pyroscope_cluster carries the config under \"config\", not \"worker_config\"")
		}
		if w.Data["worker_ports"] != "[4040,7946]" {
			t.Errorf("worker_ports = %s", w.Data["worker_ports"])
		}
	}
	if len(seen) != len(ws) {
		t.Errorf("databags went to relations %v", seen)
	}
	var config string
	if err := json.Unmarshal([]byte(writes[0].Data["config"]), &config); err != nil || config != string(d.WorkerConfig) {
		t.Fatalf("config is not the JSON string of the rendered config (%v)", err)
	}
	for _, want := range []string{"replication_factor: 3", "pyro-write-2.pyro-write-endpoints.m.svc.cluster.local:7946", "bucket_name: pyroscope"} {
		if !strings.Contains(config, want) {
			t.Errorf("published config lacks %q:\n%s", want, config)
		}
	}
	var profiling []coordinator.DatabagWrite
	for _, w := range d.Databags {
		if w.Endpoint == ProfilingEndpoint {
			profiling = append(profiling, w)
		}
	}
	if len(profiling) != 1 || profiling[0].Data["otlp_grpc_endpoint_url"] != `"pyroscope.m.svc.cluster.local:42424"` {
		t.Errorf("profiling databags = %+v", profiling)
	}
	if want := []int{8080, 42424}; len(d.Ports) != 2 || d.Ports[0] != want[0] || d.Ports[1] != want[1] {
		t.Errorf("ports = %v, want %v", d.Ports, want)
	}
	// Only routed upstreams: the distributor is, the store-gateway is not.
	if d.Nginx == nil || !d.Nginx.Run || !strings.Contains(string(d.Nginx.Config), "upstream distributor {") ||
		strings.Contains(string(d.Nginx.Config), "upstream store-gateway") {
		t.Errorf("nginx plan: run=%v\n%s", d.Nginx != nil && d.Nginx.Run, d.Nginx.Config)
	}
}

// TestReconcileInvalidOptionsStillPublish: an invalid option blocks the
// charm but the config still goes out, with clean-up disabled.
func TestReconcileInvalidOptionsStillPublish(t *testing.T) {
	o := observed(false, monolith...)
	o.Config = map[string]any{"retention_period": "1 day", "deletion_delay": "1h"}
	d := coordinator.Reconcile(Product(), o)
	want := coordinator.Status{Level: coordinator.Blocked,
		Message: "[config] The following configurations are not valid: ['retention_period']"}
	if got := coordinator.Summarize(d.Statuses, ""); got != want {
		t.Errorf("status = %+v, want %+v", got, want)
	}
	writes := clusterWrites(d)
	if len(writes) != 1 {
		t.Fatalf("%d cluster databags, want 1", len(writes))
	}
	for _, line := range []string{"compactor_blocks_retention_period: 0\n", "deletion_delay: 0\n", "cleanup_interval: 15m\n"} {
		if !strings.Contains(string(d.WorkerConfig), line) {
			t.Errorf("published config lacks %q:\n%s", line, d.WorkerConfig)
		}
	}
}

func TestReconcileNonLeaderPublishesNothing(t *testing.T) {
	o := observed(false, monolith...)
	o.Leader = false
	o.Relations[ProfilingEndpoint] = []coordinator.Relation{{ID: 40, Endpoint: ProfilingEndpoint}}
	d := coordinator.Reconcile(Product(), o)
	for _, w := range d.Databags {
		if w.App {
			t.Errorf("a non-leader wrote app databag %s:%d", w.Endpoint, w.RelationID)
		}
	}
}

// TestReconcileListings: the leader lists Pyroscope in Grafana (one
// application datasource at the UI's URL) and in a catalogue (linking the
// UI); the golden file holds the exact databags.
func TestReconcileListings(t *testing.T) {
	o := observed(false, monolith...)
	o.Relations[coordinator.GrafanaSourceEndpoint] = []coordinator.Relation{{ID: 50, Endpoint: coordinator.GrafanaSourceEndpoint, RemoteApp: "grafana"}}
	o.Relations[coordinator.CatalogueEndpoint] = []coordinator.Relation{{ID: 51, Endpoint: coordinator.CatalogueEndpoint, RemoteApp: "catalogue"}}
	o.ModelUUID = "22222222-2222-4222-8222-222222222222"
	d := coordinator.Reconcile(Product(), o)
	var b strings.Builder
	for _, w := range d.Databags {
		if w.Endpoint != coordinator.GrafanaSourceEndpoint && w.Endpoint != coordinator.CatalogueEndpoint {
			continue
		}
		fmt.Fprintf(&b, "%s:%d app=%v\n", w.Endpoint, w.RelationID, w.App)
		for _, k := range slices.Sorted(maps.Keys(w.Data)) {
			fmt.Fprintf(&b, "  %s: %s\n", k, w.Data[k])
		}
	}
	checkGolden(t, "listings-databags.txt", []byte(b.String()))
	for _, want := range []string{
		"grafana_source_app_host: http://pyroscope.m.svc.cluster.local:8080\n",
		`"type":"grafana-pyroscope-datasource"`,
		"url: http://pyroscope.m.svc.cluster.local:8080\n",
		"name: Pyroscope (pyroscope)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("listings lack %q:\n%s", want, b.String())
		}
	}
}
