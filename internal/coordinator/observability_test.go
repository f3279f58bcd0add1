package coordinator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/pyroscope"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/internal/testenv/promrules"
)

// srcDirs are the packed assets of each product's charm, in this repository.
var srcDirs = map[string]string{
	"tempo":     "../../src",
	"pyroscope": "../../charms/pyroscope-coordinator-k8s/src",
}

// repoAssets reads a charm's assets as the charm reads them from its
// packed src/.
func repoAssets(t *testing.T, product string) coordinator.Assets {
	t.Helper()
	root := srcDirs[product]
	assets := coordinator.Assets{}
	for _, dir := range coordinator.AssetDirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			assets[filepath.ToSlash(rel)] = data
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return assets
}

// lokiUnit is a Loki unit's databag as loki_push_api publishes it.
func lokiUnit(url string) map[string]string {
	return map[string]string{"endpoint": `{"url": "` + url + `"}`, "public_address": "ignored"}
}

// observabilityModel is a leader coordinator of product with two worker
// applications, related to COS: Prometheus (metrics-endpoint, remote-write,
// datasource exchange), two Loki units plus one that has not published and
// one that published garbage, Grafana (dashboards, grafana-source).
func observabilityModel(t *testing.T, p *coordinator.Product) *coordinator.Observed {
	w1 := worker(1, p.Name+"-worker", "all", 2)
	w2 := worker(2, p.Name+"-backend", "all", 1)
	for _, w := range []*coordinator.Relation{&w1, &w2} {
		w.Endpoint = p.ClusterEndpoint
	}
	more := withS3(map[string][]coordinator.Relation{
		coordinator.MetricsEndpoint: {{ID: 13, Endpoint: coordinator.MetricsEndpoint, RemoteApp: "prometheus"}},
		coordinator.LoggingEndpoint: {{ID: 14, Endpoint: coordinator.LoggingEndpoint, RemoteApp: "loki", Units: map[string]map[string]string{
			"loki/0": lokiUnit("http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"),
			"loki/1": lokiUnit("http://loki-1.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"),
			"loki/2": {},
			"loki/3": {"endpoint": `{"url": "http://evil\"; }"}`},
		}}},
		coordinator.DashboardEndpoint:     {{ID: 15, Endpoint: coordinator.DashboardEndpoint, RemoteApp: "grafana"}},
		coordinator.GrafanaSourceEndpoint: {{ID: 11, Endpoint: coordinator.GrafanaSourceEndpoint, RemoteApp: "grafana", AppData: grafanaSourceData()}},
		p.DatasourceExchangeEndpoint: {{ID: 16, Endpoint: p.DatasourceExchangeEndpoint, RemoteApp: "prometheus", AppData: map[string]string{
			"datasources": `[{"type": "prometheus", "uid": "prom-ds-1", "grafana_uid": "grafana-1"}, {"type": "prometheus", "uid": "prom-other", "grafana_uid": "grafana-9"}]`,
		}}},
		tempo.RemoteWriteEndpoint: {{ID: 17, Endpoint: tempo.RemoteWriteEndpoint, RemoteApp: "prometheus", Units: map[string]map[string]string{
			"prometheus/0": {"remote_write": `{"url": "http://prometheus-0.prometheus-endpoints.cos.svc.cluster.local:9090/api/v1/write"}`},
		}}},
	})
	o := observed(nil, more)
	delete(o.Relations, "tempo-cluster")
	o.Relations[p.ClusterEndpoint] = []coordinator.Relation{w1, w2}
	o.App, o.Unit = p.Name, p.Name+"/0"
	o.AppFQDN = p.Name + ".m.svc.cluster.local"
	o.UnitFQDN = p.Name + "-0." + p.Name + "-endpoints.m.svc.cluster.local"
	o.Assets = repoAssets(t, p.Name)
	return o
}

// grafanaSourceData is Grafana's app databag on grafana-source: its uid and
// the uid of the application datasource it created for the coordinator.
func grafanaSourceData() map[string]string {
	return map[string]string{
		"grafana_uid": "grafana-1", "app_datasource_uid": "coordinator-ds",
		"datasource_uids": `{"tempo/0": "unit-ds-0"}`, "grafana_base_url": "http://grafana.cos.svc.cluster.local:3000",
	}
}

func products() []*coordinator.Product {
	return []*coordinator.Product{tempo.Product(), pyroscope.Product()}
}

// appData is the leader's app databag on endpoint (fails unless there is
// exactly one).
func appData(t *testing.T, d *coordinator.Desired, endpoint string) map[string]string {
	t.Helper()
	var out []map[string]string
	for _, w := range find(d, endpoint) {
		if w.App {
			out = append(out, w.Data)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d app databags on %s, want 1", len(out), endpoint)
	}
	return out[0]
}

func indentJSON(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(s), "", "  "); err != nil {
		t.Fatalf("not JSON: %v: %.200s", err, s)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// TestObservabilityGoldens: the three databags (metrics-endpoint alert
// rules, logging, grafana-dashboard, decoded), the datasource exchange and
// what reaches the workers and the log targets, for both products.
func TestObservabilityGoldens(t *testing.T) {
	for _, p := range products() {
		t.Run(p.Name, func(t *testing.T) {
			d := coordinator.Reconcile(p, observabilityModel(t, p))
			checkGolden(t, "observability/"+p.Name+"-metrics-alert-rules.json", indentJSON(t, appData(t, d, coordinator.MetricsEndpoint)["alert_rules"]))

			logging := appData(t, d, coordinator.LoggingEndpoint)
			var b bytes.Buffer
			fmt.Fprintf(&b, "metadata: %s\nalert_rules:\n%s", logging["metadata"], indentJSON(t, logging["alert_rules"]))
			checkGolden(t, "observability/"+p.Name+"-logging.txt", b.Bytes())

			checkGolden(t, "observability/"+p.Name+"-dashboards.json", decodedDashboards(t, appData(t, d, coordinator.DashboardEndpoint)["dashboards"]))

			b.Reset()
			fmt.Fprintf(&b, "%s datasources: %s\n", p.DatasourceExchangeEndpoint, appData(t, d, p.DatasourceExchangeEndpoint)["datasources"])
			fmt.Fprintf(&b, "grafana_source_data: %s\n", appData(t, d, coordinator.GrafanaSourceEndpoint)["grafana_source_data"])
			for _, w := range find(d, p.ClusterEndpoint) {
				fmt.Fprintf(&b, "%s:%d loki_endpoints: %s\n", w.Endpoint, w.RelationID, w.Data["loki_endpoints"])
			}
			for _, lt := range d.LogTargets {
				fmt.Fprintf(&b, "log target %s: %s %v\n", lt.Name, lt.URL, lt.Labels)
			}
			fmt.Fprintf(&b, "logs:\n  %s\n", strings.Join(d.Logs, "\n  "))
			checkGolden(t, "observability/"+p.Name+"-exchange-and-workers.txt", b.Bytes())
		})
	}
}

// decodedDashboards is the dashboards value with each template's content
// decoded (a golden of base64 xz would hide every change).
func decodedDashboards(t *testing.T, value string) []byte {
	t.Helper()
	var v struct {
		Templates map[string]map[string]any `json:"templates"`
		UUID      string                    `json:"uuid"`
	}
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		t.Fatal(err)
	}
	for id, tmpl := range v.Templates {
		dash, err := promrules.DecodeDashboard(tmpl["content"].(string))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		tmpl["content"] = dash
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return append(out, '\n')
}

// Every published rule group parses and validates with Prometheus's own
// rule parser (PromQL expressions with its PromQL parser); the group names
// and labels follow the reference's rules.
func TestPublishedRulesParse(t *testing.T) {
	for _, p := range products() {
		t.Run(p.Name, func(t *testing.T) {
			d := coordinator.Reconcile(p, observabilityModel(t, p))
			prom, err := promrules.ParsePrometheusRules(appData(t, d, coordinator.MetricsEndpoint)["alert_rules"])
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, g := range prom.Groups {
				names = append(names, g.Name)
				for _, r := range g.Rules {
					app := r.Labels["juju_application"]
					if r.Labels["juju_model"] != "m" || r.Labels["juju_model_uuid"] != "11111111-1111-4111-8111-111111111111" || app == "" {
						t.Errorf("%s/%s: topology labels %v", g.Name, r.Alert, r.Labels)
					}
					if strings.Contains(g.Name, "_worker_") != (app == p.Name+"-worker") {
						t.Errorf("%s/%s: labelled for %s", g.Name, r.Alert, app)
					}
					if strings.Contains(r.Expr, "%%") {
						t.Errorf("%s/%s: marker left in %q", g.Name, r.Alert, r.Expr)
					}
				}
			}
			want := []string{
				"m_11111111_" + p.Name + "_backend_" + p.Name + "_workers_rules",
				"m_11111111_" + p.Name + "_worker_" + p.Name + "_workers_rules",
				"m_11111111_" + p.Name + "_coordinator_nginx_rules",
				"m_11111111_" + p.Name + "_HostHealth_rules",
			}
			if !slices.Equal(names, want) {
				t.Errorf("prometheus groups %q, want %q", names, want)
			}
			loki, err := promrules.ParseLokiRules(appData(t, d, coordinator.LoggingEndpoint)["alert_rules"])
			if err != nil {
				t.Fatal(err)
			}
			names = nil
			for _, g := range loki.Groups {
				names = append(names, g.Name)
				for _, r := range g.Rules {
					if !strings.Contains(r.Expr, `{job=~".+"}`) {
						t.Errorf("%s: LogQL selector not set: %q", g.Name, r.Expr)
					}
				}
			}
			want = nil
			for _, id := range []string{p.Name + "_backend", p.Name + "_worker", p.Name} {
				want = append(want, "m_11111111_"+id+"_error_level_logs_rules", "m_11111111_"+id+"_high_log_volume_rules")
			}
			if !slices.Equal(names, want) {
				t.Errorf("loki groups %q, want %q", names, want)
			}
		})
	}
}

// The reference's uids, from the wire spec: the dashboard uid and the
// alternative uid are SHAKE-256 digests that Grafana keeps across
// revisions.
func TestDashboardUIDsMatchTheReference(t *testing.T) {
	if got := coordinator.DashboardUID("tempo-coordinator-k8s", "src/grafana_dashboards/tempo.json"); got != "e90096d1534b03f9af3481059f5322d4637eeb9b" {
		t.Errorf("tempo uid %s", got)
	}
	if got := coordinator.DashboardUID("pyroscope-coordinator-k8s", "src/grafana_dashboards/pyroscope.json"); got != "04b199bca7b8f6a1005be919ffeae85cb8241beb" {
		t.Errorf("pyroscope uid %s", got)
	}
	p := tempo.Product()
	o := observabilityModel(t, p)
	o.Assets = coordinator.Assets{"grafana_dashboards/tempo.json": []byte(`{"title": "x", "uid": "tempo-coordinator-overview", "tags": ["a"]}`)}
	var v struct {
		Templates map[string]struct {
			AltUID  string `json:"dashboard_alt_uid"`
			Content string `json:"content"`
		} `json:"templates"`
	}
	if err := json.Unmarshal([]byte(appData(t, coordinator.Reconcile(p, o), coordinator.DashboardEndpoint)["dashboards"]), &v); err != nil {
		t.Fatal(err)
	}
	if v.Templates["file:tempo"].AltUID != "bfec99fc305f355c" {
		t.Errorf("alt uid %q", v.Templates["file:tempo"].AltUID)
	}
	dash, err := promrules.DecodeDashboard(v.Templates["file:tempo"].Content)
	if err != nil {
		t.Fatal(err)
	}
	if dash["uid"] != "e90096d1534b03f9af3481059f5322d4637eeb9b" || fmt.Sprint(dash["tags"]) != "[a charm: tempo-coordinator-k8s]" {
		t.Errorf("dashboard uid %v tags %v", dash["uid"], dash["tags"])
	}
}

// Every packed dashboard decodes to Grafana dashboard JSON with a stable
// uid, the charm tag and queries that parse as PromQL.
func TestPackedDashboards(t *testing.T) {
	for _, p := range products() {
		t.Run(p.Name, func(t *testing.T) {
			d := coordinator.Reconcile(p, observabilityModel(t, p))
			var v struct {
				Templates map[string]struct {
					Content string `json:"content"`
				} `json:"templates"`
			}
			if err := json.Unmarshal([]byte(appData(t, d, coordinator.DashboardEndpoint)["dashboards"]), &v); err != nil {
				t.Fatal(err)
			}
			if len(v.Templates) < 3 {
				t.Errorf("%d dashboards, want at least the ingest, workers and read ones", len(v.Templates))
			}
			for id, tmpl := range v.Templates {
				dash, err := promrules.DecodeDashboard(tmpl.Content)
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				stem := strings.TrimPrefix(id, "file:")
				if dash["uid"] != coordinator.DashboardUID(p.CharmName, "src/grafana_dashboards/"+stem+".json") {
					t.Errorf("%s: uid %v", id, dash["uid"])
				}
				if !slices.Contains(dash["tags"].([]any), any("charm: "+p.CharmName)) {
					t.Errorf("%s: tags %v", id, dash["tags"])
				}
				exprs := promrules.DashboardExprs(dash)
				if len(exprs) == 0 {
					t.Errorf("%s: no query", id)
				}
				for _, e := range exprs {
					if _, err := promrules.MetricNames(e); err != nil {
						t.Errorf("%s: %q: %v", id, e, err)
					}
				}
			}
		})
	}
}

// The dashboards value changes only when a template does: another worker
// or another hook gives the same bytes (no rewrite); an edited dashboard
// gives a new uuid.
func TestDashboardsRewrittenOnlyWhenATemplateChanges(t *testing.T) {
	p := tempo.Product()
	o := observabilityModel(t, p)
	first := appData(t, coordinator.Reconcile(p, o), coordinator.DashboardEndpoint)["dashboards"]
	o.Relations[p.ClusterEndpoint] = o.Relations[p.ClusterEndpoint][:1]
	if again := appData(t, coordinator.Reconcile(p, o), coordinator.DashboardEndpoint)["dashboards"]; again != first {
		t.Error("the dashboards changed with the workers")
	}
	o.Assets["grafana_dashboards/tempo-reads.json"] = bytes.Replace(o.Assets["grafana_dashboards/tempo-reads.json"], []byte("Read path"), []byte("Reads"), 1)
	changed := appData(t, coordinator.Reconcile(p, o), coordinator.DashboardEndpoint)["dashboards"]
	uuid := func(s string) string {
		var v struct {
			UUID string `json:"uuid"`
		}
		_ = json.Unmarshal([]byte(s), &v)
		return v.UUID
	}
	if changed == first || uuid(changed) == uuid(first) || uuid(first) == "" {
		t.Errorf("an edited dashboard kept uuid %s", uuid(first))
	}
}

// The compressed dashboards are cached: a hook given the previous hook's
// cache publishes the same value, and a changed dashboard misses it.
func TestDashboardCache(t *testing.T) {
	p := tempo.Product()
	o := observabilityModel(t, p)
	first := coordinator.Reconcile(p, o)
	if len(first.DashboardCache) != 3 {
		t.Fatalf("cache %d entries", len(first.DashboardCache))
	}
	o.DashboardCache = first.DashboardCache
	second := coordinator.Reconcile(p, o)
	if appData(t, second, coordinator.DashboardEndpoint)["dashboards"] != appData(t, first, coordinator.DashboardEndpoint)["dashboards"] {
		t.Error("a cached hook publishes another value")
	}
	for k, v := range o.DashboardCache {
		o.DashboardCache = map[string]string{k: v[:len(v)-4] + "AAAA"}
	}
	if appData(t, coordinator.Reconcile(p, o), coordinator.DashboardEndpoint)["dashboards"] == appData(t, first, coordinator.DashboardEndpoint)["dashboards"] {
		t.Error("the cache is not used")
	}
	delete(o.Relations, coordinator.DashboardEndpoint)
	if d := coordinator.Reconcile(p, o); d.DashboardCache != nil {
		t.Error("a cache without dashboards")
	}
}

// A non-leader publishes no app databag, but forwards its own logs.
func TestObservabilityNonLeader(t *testing.T) {
	p := tempo.Product()
	o := observabilityModel(t, p)
	o.Leader = false
	if coordinator.AssetsNeeded(o) {
		t.Error("a non-leader reads the assets")
	}
	d := coordinator.Reconcile(p, o)
	for _, w := range d.Databags {
		if w.App {
			t.Errorf("non-leader writes %s:%d app data", w.Endpoint, w.RelationID)
		}
	}
	if len(d.LogTargets) != 2 {
		t.Errorf("log targets %+v", d.LogTargets)
	}
}

// Relating Loki gives the workers every valid Loki unit and this unit one
// log target per Loki unit; without the relation, neither.
func TestLoggingRelateUnrelate(t *testing.T) {
	for _, p := range products() {
		t.Run(p.Name, func(t *testing.T) {
			o := observabilityModel(t, p)
			d := coordinator.Reconcile(p, o)
			want := `{"loki/0":"http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push","loki/1":"http://loki-1.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"}`
			if p.Name == "tempo" {
				// Through Tempo's worker telemetry proxy.
				want = `{"loki/0":"http://tempo.m.svc.cluster.local:3300/proxy/loki/loki-0/push","loki/1":"http://tempo.m.svc.cluster.local:3300/proxy/loki/loki-1/push"}`
			}
			for _, w := range find(d, p.ClusterEndpoint) {
				if w.Data["loki_endpoints"] != want {
					t.Errorf("%d: loki_endpoints %s", w.RelationID, w.Data["loki_endpoints"])
				}
			}
			if len(d.LogTargets) != 2 || d.LogTargets[0].Name != "loki/0" || d.LogTargets[1].Labels["juju_unit"] != p.Name+"/0" ||
				d.LogTargets[0].Labels["job"] != "juju_m_11111111_"+p.Name {
				t.Errorf("log targets %+v", d.LogTargets)
			}
			if !slices.Contains(d.Logs, "ignoring invalid Loki endpoint from loki/3") {
				t.Errorf("logs %q", d.Logs)
			}
			delete(o.Relations, coordinator.LoggingEndpoint)
			d = coordinator.Reconcile(p, o)
			if len(d.LogTargets) != 0 || len(find(d, coordinator.LoggingEndpoint)) != 0 {
				t.Errorf("unrelated: targets %+v", d.LogTargets)
			}
			for _, w := range find(d, p.ClusterEndpoint) {
				if _, ok := w.Data["loki_endpoints"]; ok {
					t.Error("loki_endpoints left after the relation went")
				}
			}
		})
	}
}

// Tempo's datasource gets a service map reading the Prometheus it writes
// span metrics to, when Grafana holds both; not otherwise.
func TestServiceMap(t *testing.T) {
	p := tempo.Product()
	o := observabilityModel(t, p)
	gs := appData(t, coordinator.Reconcile(p, o), coordinator.GrafanaSourceEndpoint)["grafana_source_data"]
	if !strings.Contains(gs, `"extra_fields":{"httpMethod":"GET","serviceMap":{"datasourceUid":"prom-ds-1"}}`) {
		t.Errorf("grafana_source_data %s", gs)
	}
	delete(o.Relations, tempo.RemoteWriteEndpoint)
	gs = appData(t, coordinator.Reconcile(p, o), coordinator.GrafanaSourceEndpoint)["grafana_source_data"]
	if !strings.Contains(gs, `"extra_fields":null`) {
		t.Errorf("a service map without remote-write: %s", gs)
	}
}

// Rule files that are not valid are left out and named, never published
// half-read; fixtures testdata/rules/*.bad.rules hold the error expected.
func TestBadRuleFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/rules/*.bad.rules")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			wantErr, _ := os.ReadFile(strings.TrimSuffix(f, ".rules") + ".err")
			set, problems := coordinator.LoadRules(coordinator.Assets{"r/" + filepath.Base(f): data}, "r")
			if len(set) != 0 || len(problems) != 1 || !strings.Contains(problems[0], strings.TrimSpace(string(wantErr))) {
				t.Errorf("problems %q, want one containing %q", problems, wantErr)
			}
		})
	}
}

// BenchmarkReconcileObservability: a leader's hook with Prometheus, Loki
// and Grafana related (rules consolidated), with the three dashboards
// compressed (first hook) or taken from the previous hook's cache.
func BenchmarkReconcileObservability(b *testing.B) {
	t := &testing.T{}
	p := tempo.Product()
	o := observabilityModel(t, p)
	b.Run("compressed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			coordinator.Reconcile(p, o)
		}
	})
	o.DashboardCache = coordinator.Reconcile(p, o).DashboardCache
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			coordinator.Reconcile(p, o)
		}
	})
}

// BenchmarkReconcileObservabilityNoDashboards is the same hook without the
// grafana-dashboard relation: the difference is the dashboards' cost.
func BenchmarkReconcileObservabilityNoDashboards(b *testing.B) {
	t := &testing.T{}
	p := tempo.Product()
	o := observabilityModel(t, p)
	delete(o.Relations, coordinator.DashboardEndpoint)
	b.ReportAllocs()
	for b.Loop() {
		coordinator.Reconcile(p, o)
	}
}
