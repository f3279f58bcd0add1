package coordinator_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/pyroscope"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// traefikRelation is Traefik's side of an ingress relation, with what its
// app databag holds (raw values).
func traefikRelation(id int, data map[string]string) coordinator.Relation {
	return coordinator.Relation{ID: id, Endpoint: coordinator.IngressEndpoint, RemoteApp: "traefik", AppData: data}
}

func istioRelation(id int, data map[string]string) coordinator.Relation {
	return coordinator.Relation{ID: id, Endpoint: coordinator.IstioIngressEndpoint, RemoteApp: "istio-ingress", AppData: data}
}

// peersWith is the peer relation with the other coordinator units' data.
func peersWith(units map[string]map[string]string) []coordinator.Relation {
	return []coordinator.Relation{{ID: 0, Endpoint: coordinator.PeersEndpoint, Units: units}}
}

// ingressed is a ready Tempo coordinator (one monolithic worker, S3,
// tracing, tempo-api, probes, grafana-source, catalogue) with more relations.
func ingressed(more map[string][]coordinator.Relation) *coordinator.Observed {
	rels := withS3(listingRelations())
	rels[tempo.TracingEndpoint] = []coordinator.Relation{tracingRelation(5)}
	rels[tempo.APIEndpoint] = []coordinator.Relation{{ID: 20, Endpoint: tempo.APIEndpoint, RemoteApp: "consumer"}}
	rels[tempo.ProbesEndpoint] = []coordinator.Relation{{ID: 21, Endpoint: tempo.ProbesEndpoint, RemoteApp: "blackbox"}}
	// Somewhere for the metrics-generator's metrics: no hint in the status.
	rels[tempo.RemoteWriteEndpoint] = []coordinator.Relation{{ID: 22, Endpoint: tempo.RemoteWriteEndpoint, RemoteApp: "prometheus",
		Units: map[string]map[string]string{"prometheus/0": {"remote_write": `{"url":"http://prometheus-0.prometheus-endpoints.m.svc.cluster.local:9090/api/v1/write"}`}}}}
	for ep, rs := range more {
		rels[ep] = rs
	}
	return observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, rels)
}

// published returns what the leader wrote on an endpoint's first relation.
func published(t *testing.T, d *coordinator.Desired, endpoint string) map[string]string {
	t.Helper()
	w := find(d, endpoint)
	if len(w) == 0 {
		t.Fatalf("nothing published on %s", endpoint)
	}
	return w[0].Data
}

// urls gathers every URL the coordinator gives its users, by consumer.
func urls(t *testing.T, d *coordinator.Desired) map[string]string {
	t.Helper()
	out := map[string]string{}
	var receivers []struct {
		Protocol struct{ Name string } `json:"protocol"`
		URL      string                `json:"url"`
	}
	if err := json.Unmarshal([]byte(published(t, d, tempo.TracingEndpoint)["receivers"]), &receivers); err != nil {
		t.Fatal(err)
	}
	for _, r := range receivers {
		out["tracing "+r.Protocol.Name] = r.URL
	}
	out["grafana-source"] = published(t, d, coordinator.GrafanaSourceEndpoint)["grafana_source_app_host"]
	var endpoints map[string]string
	if err := json.Unmarshal([]byte(published(t, d, coordinator.CatalogueEndpoint)["api_endpoints"]), &endpoints); err != nil {
		t.Fatal(err)
	}
	out["catalogue status"] = endpoints["Status"]
	api := published(t, d, tempo.APIEndpoint)
	out["tempo-api http"], out["tempo-api grpc"] = api["http"], api["grpc"]
	out["probes"] = published(t, d, tempo.ProbesEndpoint)["scrape_probes"]
	return out
}

func wantURLs(t *testing.T, d *coordinator.Desired, want map[string]string) {
	t.Helper()
	got := urls(t, d)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
}

// The in-cluster URLs, as without any ingress.
var internalURLs = map[string]string{
	"tracing otlp_grpc": "tempo.m.svc.cluster.local:4317",
	"tracing otlp_http": "http://tempo.m.svc.cluster.local:4318",
	"tracing zipkin":    "http://tempo.m.svc.cluster.local:9411",
	"grafana-source":    "http://tempo.m.svc.cluster.local:3200",
	"catalogue status":  "http://tempo.m.svc.cluster.local:3200/status",
	"tempo-api http":    `{"direct_url":"http://tempo.m.svc.cluster.local:3200/"}`,
	"tempo-api grpc":    `{"direct_url":"http://tempo.m.svc.cluster.local:9096/"}`,
	"probes":            `[{"job_name":"juju_m_11111111-1111-4111-8111-111111111111_tempo","params":{"module":["http_2xx"]},"static_configs":[{"targets":["http://tempo.m.svc.cluster.local:3200/ready"]}]}]`,
}

func TestIngressTraefikReady(t *testing.T) {
	d := coordinator.Reconcile(tempo.Product(), ingressed(map[string][]coordinator.Relation{
		coordinator.IngressEndpoint: {traefikRelation(30, map[string]string{"external_host": "tempo.example.com", "scheme": "http"})},
	}))
	wantStatus(t, d, coordinator.Active, "")
	wantURLs(t, d, map[string]string{
		"tracing otlp_grpc": "tempo.example.com:4317",
		"tracing otlp_http": "http://tempo.example.com:4318",
		"tracing zipkin":    "http://tempo.example.com:9411",
		"grafana-source":    "http://tempo.example.com:3200",
		"catalogue status":  "http://tempo.example.com:3200/status",
		"tempo-api http":    `{"direct_url":"http://tempo.m.svc.cluster.local:3200/","ingress_url":"http://tempo.example.com:3200/"}`,
		"tempo-api grpc":    `{"direct_url":"http://tempo.m.svc.cluster.local:9096/","ingress_url":"http://tempo.example.com:9096/"}`,
		"probes":            `[{"job_name":"juju_m_11111111-1111-4111-8111-111111111111_tempo","params":{"module":["http_2xx"]},"static_configs":[{"targets":["http://tempo.example.com:3200/ready"]}]}]`,
	})
	// The workers, inside the cluster, trace into Tempo without the detour.
	if got := published(t, d, "tempo-cluster")["charm_tracing_receivers"]; !strings.Contains(got, `"otlp_http":"http://tempo.m.svc.cluster.local:4318"`) {
		t.Errorf("workers' charm tracing receivers %s", got)
	}
	route := published(t, d, coordinator.IngressEndpoint)
	if route["raw"] != "False" {
		t.Errorf("raw = %q", route["raw"])
	}
	checkGolden(t, "ingress/tempo-traefik-config.yaml", []byte(route["config"]))
	checkGolden(t, "ingress/tempo-traefik-static.yaml", []byte(route["static"]))
	checkGolden(t, "ingress/tempo-traefik.golden", []byte(describeDesired(d)))
	// list-receivers answers the same URLs.
	plan := tempo.NewPlan(ingressed(nil))
	got, err := plan.ActionResults(tempo.ActionListReceivers, d.Input)
	if err != nil || got["otlp-grpc"] != "tempo.example.com:4317" || got["otlp-http"] != "http://tempo.example.com:4318" {
		t.Errorf("list-receivers = %v, %v", got, err)
	}
}

// Until Traefik publishes its host and scheme, the route is published, the
// URLs stay in-cluster and the status says why.
func TestIngressTraefikNotReady(t *testing.T) {
	for name, data := range map[string]map[string]string{
		"nothing":     nil,
		"no scheme":   {"external_host": "tempo.example.com"},
		"no host":     {"scheme": "https"},
		"empty value": {"external_host": "", "scheme": "http"},
	} {
		t.Run(name, func(t *testing.T) {
			d := coordinator.Reconcile(tempo.Product(), ingressed(map[string][]coordinator.Relation{
				coordinator.IngressEndpoint: {traefikRelation(30, data)},
			}))
			wantStatus(t, d, coordinator.Active, "[ingress] ingress related but not ready (no external host yet): clients get in-cluster URLs")
			wantURLs(t, d, internalURLs)
			if published(t, d, coordinator.IngressEndpoint)["config"] == "" {
				t.Error("the route is not published while Traefik is not ready")
			}
			if len(d.Logs) != 0 {
				t.Errorf("logs %q: a provider that is not ready yet is not an error", d.Logs)
			}
		})
	}
}

// Bad data from Traefik or Istio: a log line, in-cluster URLs, and nothing
// of it anywhere in what is published.
func TestIngressBadProviderData(t *testing.T) {
	huge := strings.Repeat("a", 70) + "." + strings.Repeat("b", 600)
	for _, tc := range []struct {
		name     string
		rel      coordinator.Relation
		log      string
		poisoned string
	}{
		{"garbage host", traefikRelation(30, map[string]string{"external_host": "evil\n  injected: true", "scheme": "http"}),
			`ingress:30 (traefik): ignoring external_host "evil\n  injected: true": not a host name or IP address; clients get in-cluster URLs`, "injected"},
		{"host with a path", traefikRelation(30, map[string]string{"external_host": "h.example/x", "scheme": "http"}),
			`ingress:30 (traefik): ignoring external_host "h.example/x": not a host name or IP address; clients get in-cluster URLs`, "h.example"},
		{"odd scheme", traefikRelation(30, map[string]string{"external_host": "h.example", "scheme": "javascript"}),
			`ingress:30 (traefik): ignoring scheme "javascript": not http or https; clients get in-cluster URLs`, "h.example"},
		{"huge host", traefikRelation(30, map[string]string{"external_host": huge, "scheme": "http"}),
			`ingress:30 (traefik): ignoring external_host: 671 bytes, over the limit of 512; clients get in-cluster URLs`, "aaaa"},
		{"istio garbage tls", istioRelation(31, map[string]string{"external_host": "h.example", "tls_enabled": "maybe"}),
			`istio-ingress:31 (istio-ingress): ignoring tls_enabled "maybe": not True or False; clients get in-cluster URLs`, "h.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := coordinator.Reconcile(tempo.Product(), ingressed(map[string][]coordinator.Relation{tc.rel.Endpoint: {tc.rel}}))
			if len(d.Logs) != 1 || d.Logs[0] != tc.log {
				t.Errorf("logs %q, want [%q]", d.Logs, tc.log)
			}
			wantURLs(t, d, internalURLs)
			wantStatus(t, d, coordinator.Active, "[ingress] "+tc.rel.Endpoint+" related but not ready (no external host yet): clients get in-cluster URLs")
			for _, w := range d.Databags {
				for k, v := range w.Data {
					if strings.Contains(v, tc.poisoned) {
						t.Errorf("%s %s holds the provider's data: %q", w.Endpoint, k, v)
					}
				}
			}
		})
	}
}

// Traefik serves https and nginx serves TLS: every router redirects plain
// requests, every service (gRPC too) is reached over https, every URL is
// https.
func TestIngressTraefikHTTPSWithTLS(t *testing.T) {
	o := ingressed(map[string][]coordinator.Relation{
		coordinator.IngressEndpoint: {traefikRelation(30, map[string]string{"external_host": "10.0.0.5", "scheme": "https"})},
	})
	p := tempo.Product()
	d := coordinator.Reconcile(p, o)
	wantURLs(t, d, map[string]string{
		"tracing otlp_grpc": "10.0.0.5:4317",
		"tracing otlp_http": "https://10.0.0.5:4318",
		"grafana-source":    "https://10.0.0.5:3200",
	})
	checkGolden(t, "ingress/tempo-traefik-https-config.yaml", []byte(published(t, d, coordinator.IngressEndpoint)["config"]))

	// With the coordinator's own TLS too (the certificates integration
	// sets RenderInput.TLS): Traefik reaches nginx over https.
	served := map[int]bool{3200: true, 9096: true, 4317: true, 4318: true}
	cfg := coordinator.TraefikRoute(coordinator.TraefikInput{Ingress: *p.Ingress, Served: served, Model: "m", App: "tempo",
		Servers: []string{"tempo-0.tempo-endpoints.m.svc.cluster.local"}, TLS: true, HTTPS: true})
	out, err := coordinator.RenderYAML(cfg.Dynamic)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "ingress/tempo-traefik-tls-config.yaml", out)
	if strings.Contains(string(out), "h2c://") || strings.Contains(string(out), "http://") {
		t.Errorf("plain-text backend under TLS:\n%s", out)
	}
}

// Every coordinator unit that published its fqdn on peers is a server of
// every Traefik service; a peer that published garbage is left out, with a
// log line.
func TestIngressSeveralCoordinatorUnits(t *testing.T) {
	o := ingressed(map[string][]coordinator.Relation{
		coordinator.IngressEndpoint: {traefikRelation(30, map[string]string{"external_host": "tempo.example.com", "scheme": "http"})},
		coordinator.PeersEndpoint: peersWith(map[string]map[string]string{
			"tempo/1": {"fqdn": js("tempo-1.tempo-endpoints.m.svc.cluster.local"), "hostname": "tempo-1.tempo-endpoints.m.svc.cluster.local"},
			"tempo/2": {"fqdn": js("tempo-2.tempo-endpoints.m.svc.cluster.local")},
			"tempo/3": {},
			"tempo/4": {"fqdn": js("x'; drop")},
		}),
	})
	d := coordinator.Reconcile(tempo.Product(), o)
	config := published(t, d, coordinator.IngressEndpoint)["config"]
	for i := range 3 {
		if want := fmt.Sprintf("h2c://tempo-%d.tempo-endpoints.m.svc.cluster.local:4317", i); !strings.Contains(config, want) {
			t.Errorf("config lacks %s:\n%s", want, config)
		}
	}
	if strings.Contains(config, "drop") || strings.Contains(config, "tempo-3") {
		t.Errorf("config holds a peer that published nothing valid:\n%s", config)
	}
	if len(d.Logs) != 1 || d.Logs[0] != `ignoring the fqdn of peer "tempo/4": not a JSON host name` {
		t.Errorf("logs %q", d.Logs)
	}
	checkGolden(t, "ingress/tempo-traefik-3-units-config.yaml", []byte(config))
	if got := published(t, d, coordinator.PeersEndpoint)["fqdn"]; got != js("tempo-0.tempo-endpoints.m.svc.cluster.local") {
		t.Errorf("own fqdn on peers = %q", got)
	}

	// A non-leader publishes its fqdn, no route, and gives the same URLs.
	o.Leader = false
	d = coordinator.Reconcile(tempo.Product(), o)
	if w := find(d, coordinator.IngressEndpoint); len(w) != 0 {
		t.Errorf("a non-leader wrote %+v", w)
	}
	if got := coordinator.ExternalHTTPURL(d.Input, tempo.HTTPPort); got != "http://tempo.example.com:3200" {
		t.Errorf("non-leader's external URL = %q", got)
	}
}

// The leader reads its peers' databags only while Traefik is related.
func TestPeersReadOnlyForTheLeadersIngress(t *testing.T) {
	var peers coordinator.Endpoint
	for _, ep := range tempo.Product().Endpoints() {
		if ep.Name == coordinator.PeersEndpoint {
			peers = ep
		}
	}
	for _, tc := range []struct {
		leader, ingress, want bool
	}{{true, true, true}, {true, false, false}, {false, true, false}} {
		related := func(ep string) bool { return ep == coordinator.IngressEndpoint && tc.ingress }
		if got := peers.In(tc.leader, related).UnitData; got != tc.want {
			t.Errorf("leader=%v ingress=%v: UnitData=%v", tc.leader, tc.ingress, got)
		}
	}
}

func TestIngressIstio(t *testing.T) {
	d := coordinator.Reconcile(tempo.Product(), ingressed(map[string][]coordinator.Relation{
		coordinator.IstioIngressEndpoint: {istioRelation(31, map[string]string{"external_host": "tempo.example.com", "tls_enabled": "True"})},
	}))
	wantStatus(t, d, coordinator.Active, "")
	wantURLs(t, d, map[string]string{
		"tracing otlp_grpc": "tempo.example.com:4317",
		"tracing otlp_http": "https://tempo.example.com:4318",
		"grafana-source":    "https://tempo.example.com:3200",
		"tempo-api http":    `{"direct_url":"http://tempo.m.svc.cluster.local:3200/","ingress_url":"https://tempo.example.com:3200/"}`,
	})
	config := published(t, d, coordinator.IstioIngressEndpoint)["config"]
	var indented strings.Builder
	var v any
	if err := json.Unmarshal([]byte(config), &v); err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(&indented)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	checkGolden(t, "ingress/tempo-istio-config.json", []byte(config+"\n\n"+indented.String()))
}

// Both ingresses ready: Blocked, naming both, and in-cluster URLs.
func TestIngressBothReady(t *testing.T) {
	d := coordinator.Reconcile(tempo.Product(), ingressed(map[string][]coordinator.Relation{
		coordinator.IngressEndpoint:      {traefikRelation(30, map[string]string{"external_host": "a.example.com", "scheme": "http"})},
		coordinator.IstioIngressEndpoint: {istioRelation(31, map[string]string{"external_host": "b.example.com"})},
	}))
	wantStatus(t, d, coordinator.Blocked, "Multiple ingress relations are active ('ingress' and 'istio-ingress'). Remove one of the two: "+
		"`juju remove-relation tempo:ingress traefik` or `juju remove-relation tempo:istio-ingress istio-ingress`.")
	wantURLs(t, d, internalURLs)
	// Both still get their route: removing either one fixes everything.
	if len(find(d, coordinator.IngressEndpoint)) != 1 || len(find(d, coordinator.IstioIngressEndpoint)) != 1 {
		t.Error("a route is missing")
	}
}

// The relation removed (the charm no longer observes it): every URL is
// in-cluster again and nothing is written on it.
func TestIngressRemoved(t *testing.T) {
	d := coordinator.Reconcile(tempo.Product(), ingressed(nil))
	wantStatus(t, d, coordinator.Active, "")
	wantURLs(t, d, internalURLs)
	if w := append(find(d, coordinator.IngressEndpoint), find(d, coordinator.IstioIngressEndpoint)...); len(w) != 0 {
		t.Errorf("wrote %+v", w)
	}
}

// Pyroscope: the UI under "/<model>-<app>" (which reaches the worker
// config's api.base-url), OTLP gRPC on its own entry point.
func TestIngressPyroscope(t *testing.T) {
	o := observed(nil, withS3(listingRelations()))
	o.App, o.Unit = "pyroscope", "pyroscope/0"
	o.AppFQDN, o.UnitFQDN = "pyroscope.m.svc.cluster.local", "pyroscope-0.pyroscope-endpoints.m.svc.cluster.local"
	rel := worker(1, "pyroscope-worker", "all", 1)
	rel.Endpoint = pyroscope.ClusterEndpoint
	delete(o.Relations, "tempo-cluster")
	o.Relations[pyroscope.ClusterEndpoint] = []coordinator.Relation{rel}
	o.Relations[pyroscope.ProfilingEndpoint] = []coordinator.Relation{{ID: 40, Endpoint: pyroscope.ProfilingEndpoint, RemoteApp: "app"}}
	o.Relations[coordinator.IngressEndpoint] = []coordinator.Relation{traefikRelation(30, map[string]string{"external_host": "pyro.example.com", "scheme": "https"})}

	d := coordinator.Reconcile(pyroscope.Product(), o)
	if s := coordinator.Summarize(d.Statuses, d.ActiveMessage); s.Message != "UI ready at https://pyro.example.com/m-pyroscope" {
		t.Errorf("status %+v", s)
	}
	if !strings.Contains(string(d.WorkerConfig), "api:\n  base-url: /m-pyroscope\n") {
		t.Errorf("worker config without the base URL:\n%s", d.WorkerConfig)
	}
	prof := published(t, d, pyroscope.ProfilingEndpoint)
	if prof["otlp_grpc_endpoint_url"] != js("pyro.example.com:42424") || prof["insecure"] != "false" {
		t.Errorf("profiling %v", prof)
	}
	if got := published(t, d, coordinator.GrafanaSourceEndpoint)["grafana_source_app_host"]; got != "https://pyro.example.com/m-pyroscope" {
		t.Errorf("grafana-source %q", got)
	}
	if got := published(t, d, coordinator.CatalogueEndpoint)["url"]; got != "https://pyro.example.com/m-pyroscope" {
		t.Errorf("catalogue %q", got)
	}
	route := published(t, d, coordinator.IngressEndpoint)
	checkGolden(t, "ingress/pyroscope-traefik-https-config.yaml", []byte(route["config"]))
	checkGolden(t, "ingress/pyroscope-traefik-static.yaml", []byte(route["static"]))

	o.Relations[coordinator.IngressEndpoint][0].AppData["scheme"] = "http"
	d = coordinator.Reconcile(pyroscope.Product(), o)
	checkGolden(t, "ingress/pyroscope-traefik-config.yaml", []byte(published(t, d, coordinator.IngressEndpoint)["config"]))

	// Removed: no base URL, in-cluster URLs.
	delete(o.Relations, coordinator.IngressEndpoint)
	d = coordinator.Reconcile(pyroscope.Product(), o)
	if s := coordinator.Summarize(d.Statuses, d.ActiveMessage); s.Message != "UI ready at http://pyroscope.m.svc.cluster.local:8080" {
		t.Errorf("status %+v", s)
	}
	if strings.Contains(string(d.WorkerConfig), "base-url") {
		t.Errorf("base URL without ingress:\n%s", d.WorkerConfig)
	}
}
