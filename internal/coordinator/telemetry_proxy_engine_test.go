package coordinator_test

import (
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// TestTempoTelemetryProxyGolden: a Tempo leader with two workers, a
// Prometheus taking remote-write and scraping, a Loki, and another Tempo
// for the workers' charm traces. Everything the workers are told goes through the
// proxy on port 3300, and nginx.conf has the proxy's server.
func TestTempoTelemetryProxyGolden(t *testing.T) {
	o := observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 2)}, withS3(map[string][]coordinator.Relation{
		tempo.RemoteWriteEndpoint:   {remoteWriteRelation()},
		coordinator.MetricsEndpoint: {{ID: 13, Endpoint: coordinator.MetricsEndpoint, RemoteApp: "prometheus"}},
		tempo.CharmTracingEndpoint:  {selfTracing(tempo.CharmTracingEndpoint, 30, remoteTempo)},
		coordinator.LoggingEndpoint: {{ID: 14, Endpoint: coordinator.LoggingEndpoint, RemoteApp: "loki", Units: map[string]map[string]string{
			"loki/0": {"endpoint": `{"url": "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"}`},
		}}},
	}))
	d := coordinator.Reconcile(tempo.Product(), o)
	checkGolden(t, "engine/telemetry-proxy.golden", []byte(describeDesired(d)))
	checkGolden(t, "nginx/tempo-telemetry-proxy-engine.conf", d.Nginx.Config)

	c := find(d, "tempo-cluster")[0].Data
	for key, want := range map[string]string{
		"charm_tracing_receivers":    `{"otlp_http":"http://tempo.m.svc.cluster.local:3300/proxy/charm-tracing/otlp_http/"}`,
		"workload_tracing_receivers": `{"otlp_http":"http://tempo.m.svc.cluster.local:4318"}`,
		"loki_endpoints":             `{"loki/0":"http://tempo.m.svc.cluster.local:3300/proxy/loki/loki-0/push"}`,
		"remote_write_endpoints": `[{"url":"http://tempo.m.svc.cluster.local:3300/proxy/remote-write/prometheus-0/write"},` +
			`{"url":"http://tempo.m.svc.cluster.local:3300/proxy/remote-write/prometheus-1/write"}]`,
	} {
		if c[key] != want {
			t.Errorf("%s = %s, want %s", key, c[key], want)
		}
	}
	wantConfigContains(t, d, "url: http://tempo.m.svc.cluster.local:3300/proxy/remote-write/prometheus-0/write")
	conf := string(d.Nginx.Config)
	for _, want := range []string{
		"listen 3300;",
		"location = /proxy/worker/tempo-worker-1/metrics {",
		"server " + unitFQDN("tempo-worker", 1) + ":3200 resolve;",
		"location = /proxy/remote-write/prometheus-1/write {",
		"location = /proxy/loki/loki-0/push {",
		"set $backend http://worker-telemetry-proxy-loki-loki-0/loki/api/v1/push;",
		"server loki-0.loki-endpoints.cos.svc.cluster.local:3100 resolve;",
		"set $backend http://worker-telemetry-proxy-charm-otlp_http;",
		"server tempo2.other.svc.cluster.local:4318 resolve;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	if !strings.Contains(find(d, coordinator.MetricsEndpoint)[1].Data["scrape_jobs"], `"metrics_path":"/proxy/worker/tempo-worker-1/metrics","static_configs":[{"targets":["tempo.m.svc.cluster.local:3300"]}]`) {
		t.Errorf("scrape jobs do not go through the proxy: %s", find(d, coordinator.MetricsEndpoint)[1].Data["scrape_jobs"])
	}

	// A worker nginx cannot resolve loses its proxy location too.
	o.UnresolvedAddresses = []string{unitFQDN("tempo-worker", 1)}
	conf = string(coordinator.Reconcile(tempo.Product(), o).Nginx.Config)
	if strings.Contains(conf, unitFQDN("tempo-worker", 1)) || strings.Contains(conf, "/proxy/worker/tempo-worker-1/") ||
		!strings.Contains(conf, "/proxy/worker/tempo-worker-0/") {
		t.Errorf("the unresolved worker is still routed to:\n%s", conf)
	}
}
