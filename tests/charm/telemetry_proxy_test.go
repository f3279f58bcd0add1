package charm_test

import (
	"encoding/json"
	"testing"

	"github.com/canonical/pebble/client"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/sandbox"
)

// TestTelemetryProxyRelateAndUnrelate: Tempo's worker telemetry proxy
// follows each of its sources through the packed charm. Port 3300 is
// open; Prometheus' remote-write and scrape jobs go through it while
// related and are gone after; a second worker unit gets its own scrape
// path; Pyroscope has no proxy.
func TestTelemetryProxyRelateAndUnrelate(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	w := e.addWorker("tempo-worker", "all", "10.1.0.9")
	e.addS3()
	e.hook("config-changed", jujusim.HookOptions{})
	assert.Contains(t, e.h.Model.OpenedPorts, "3300/tcp")
	assert.NotContains(t, w.LocalAppData, "remote_write_endpoints")

	// send-remote-write: the metrics-generator writes through the proxy.
	rw := e.h.Model.AddRelation("send-remote-write", "prometheus", nil, map[string]map[string]string{
		"prometheus/0": {"remote_write": `{"url": "http://prometheus-0.prometheus-endpoints.cos.svc.cluster.local:9090/api/v1/write"}`},
	})
	e.hook("send-remote-write-relation-changed", jujusim.HookOptions{Relation: rw, RemoteUnit: "prometheus/0"})
	proxied := "http://tempo.test-model.svc.cluster.local:3300/proxy/remote-write/prometheus-0/write"
	assert.Equal(t, `[{"url":"`+proxied+`"}]`, w.LocalAppData["remote_write_endpoints"])
	assert.Contains(t, workerConfig(t, w, "worker_config"), "url: "+proxied)
	e.hook("send-remote-write-relation-broken", jujusim.HookOptions{Relation: rw})
	e.h.Model.RemoveRelation(rw.ID)
	assert.NotContains(t, w.LocalAppData, "remote_write_endpoints")
	assert.NotContains(t, workerConfig(t, w, "worker_config"), "remote_write")

	// metrics-endpoint: every worker unit is scraped through the proxy,
	// including one that joins later.
	prom := e.h.Model.AddRelation("metrics-endpoint", "prometheus", nil, map[string]map[string]string{"prometheus/0": {}})
	e.hook("metrics-endpoint-relation-joined", jujusim.HookOptions{Relation: prom, RemoteUnit: "prometheus/0"})
	w.AddUnit("tempo-worker/1", map[string]string{
		"address":       jsonString("10.1.0.10"),
		"juju_topology": jsonString(map[string]string{"application": "tempo-worker", "unit": "tempo-worker/1"}),
	})
	e.hook("tempo-cluster-relation-joined", jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/1"})
	var jobs []struct {
		Name    string `json:"job_name"`
		Path    string `json:"metrics_path"`
		Statics []struct {
			Targets []string `json:"targets"`
		} `json:"static_configs"`
	}
	require.NoError(t, json.Unmarshal([]byte(prom.LocalAppData["scrape_jobs"]), &jobs))
	paths := map[string]string{}
	for _, j := range jobs[1:] {
		assert.Equal(t, []string{"tempo.test-model.svc.cluster.local:3300"}, j.Statics[0].Targets, j.Name)
		paths[j.Name] = j.Path
	}
	assert.Equal(t, map[string]string{
		"tempo-worker-0": "/proxy/worker/tempo-worker-0/metrics",
		"tempo-worker-1": "/proxy/worker/tempo-worker-1/metrics",
	}, paths)
	again := e.hook("update-status", jujusim.HookOptions{})
	assert.Zero(t, again.Counts["relation-set"], "%v", again.Tools())

	// Pyroscope has no proxy: no port 3300, workers scraped directly.
	p := newEnv(t, "pyroscope-coordinator-k8s", true)
	p.addWorker("pyroscope-worker", "all", "10.1.0.11")
	p.addS3()
	p.hook("config-changed", jujusim.HookOptions{})
	assert.NotContains(t, p.h.Model.OpenedPorts, "3300/tcp")
}

// TestTelemetryProxyFollowsItsSourcesWithRealNginx relates and unrelates
// each source of Tempo's worker telemetry proxy through the packed charm,
// a real Pebble and Debian's nginx: Loki (logging), Prometheus
// (send-remote-write), another Tempo (self-charm-tracing,
// self-workload-tracing) and the workers themselves (scale down). Each
// relate adds the proxy's location and the workers are told its URL; each
// unrelate removes both; every config passes `nginx -t` and nginx is
// reloaded, never restarted. A provider offering only gRPC for workload
// tracing is not proxied.
func TestTelemetryProxyFollowsItsSourcesWithRealNginx(t *testing.T) {
	const (
		lokiHost  = "loki-0.loki-endpoints.cos.svc.cluster.local"
		promHost  = "prometheus-0.prometheus-endpoints.cos.svc.cluster.local"
		otherHost = "tempo2.other.svc.cluster.local"
		proxy     = "http://tempo.test-model.svc.cluster.local:3300"
	)
	hosts := map[string]string{lokiHost: "127.0.0.10", promHost: "127.0.0.11", otherHost: "127.0.0.12"}
	for i := range 2 {
		hosts[workerName(i)] = "127.0.0." + string(rune('2'+i))
	}
	sb := sandbox.New(t, sandbox.Options{Hosts: hosts})
	e := newEnv(t, "tempo-coordinator-k8s", true)
	sockets := t.TempDir()
	require.NoError(t, sandbox.ContainerSockets(sockets, map[string]*sandbox.Sandbox{"nginx": sb}))
	hook := func(name string, o jujusim.HookOptions) jujusim.HookResult {
		t.Helper()
		o.Env = map[string]string{"COORDINATOR_PEBBLE_SOCKET_DIR": sockets}
		return e.hook(name, o)
	}
	pc, err := client.New(&client.Config{Socket: sb.SocketPath()})
	require.NoError(t, err)
	liveConfig := func() string { return liveNginxConfig(t, sb, pc) }
	masterPID := func() string { return nginxMasterPID(t, sb) }

	e.addS3()
	w := e.addWorker("tempo-worker", "all", workerName(0), workerName(1))
	hook("install", jujusim.HookOptions{})
	hook("nginx-pebble-ready", jujusim.HookOptions{})
	require.Contains(t, e.status(), "active: ")
	conf := liveConfig()
	assert.Contains(t, conf, "location = /proxy/worker/tempo-worker-0/metrics {")
	assert.Contains(t, conf, "location = /proxy/worker/tempo-worker-1/metrics {")
	pid := masterPID()
	require.NotEmpty(t, pid)
	own := `{"otlp_http":"http://tempo.test-model.svc.cluster.local:4318"}`

	for _, src := range []struct {
		endpoint, app, unit string
		unitData            map[string]string
		appData             map[string]string
		location, server    string
		key, told, untold   string
	}{
		{"logging", "loki", "loki/0",
			map[string]string{"endpoint": `{"url": "http://` + lokiHost + `:3100/loki/api/v1/push"}`}, nil,
			"location = /proxy/loki/loki-0/push {", "server " + lokiHost + ":3100;",
			"loki_endpoints", `{"loki/0":"` + proxy + `/proxy/loki/loki-0/push"}`, ""},
		{"send-remote-write", "prometheus", "prometheus/0",
			map[string]string{"remote_write": `{"url": "http://` + promHost + `:9090/api/v1/write"}`}, nil,
			"location = /proxy/remote-write/prometheus-0/write {", "server " + promHost + ":9090;",
			"remote_write_endpoints", `[{"url":"` + proxy + `/proxy/remote-write/prometheus-0/write"}]`, ""},
		{"self-charm-tracing", "tempo2", "tempo2/0", map[string]string{}, map[string]string{"receivers": otherTempo},
			"location /proxy/charm-tracing/otlp_http/ {", "server " + otherHost + ":4318;",
			"charm_tracing_receivers", `{"otlp_http":"` + proxy + `/proxy/charm-tracing/otlp_http/"}`, own},
		{"self-workload-tracing", "tempo2", "tempo2/0", map[string]string{}, map[string]string{"receivers": otherTempo},
			"location /proxy/workload-tracing/otlp_http/ {", "server " + otherHost + ":4318;",
			"workload_tracing_receivers", `{"otlp_http":"` + proxy + `/proxy/workload-tracing/otlp_http/"}`, own},
	} {
		rel := e.h.Model.AddRelation(src.endpoint, src.app, src.appData, map[string]map[string]string{src.unit: src.unitData})
		hook(src.endpoint+"-relation-changed", jujusim.HookOptions{Relation: rel, RemoteUnit: src.unit})
		assert.Contains(t, e.status(), "active: ", src.endpoint)
		conf := liveConfig()
		assert.Contains(t, conf, src.location, "%s related", src.endpoint)
		assert.Contains(t, conf, src.server, "%s related", src.endpoint)
		assert.Equal(t, src.told, w.LocalAppData[src.key], "%s related", src.endpoint)

		hook(src.endpoint+"-relation-broken", jujusim.HookOptions{Relation: rel})
		e.h.Model.RemoveRelation(rel.ID)
		conf = liveConfig()
		assert.NotContains(t, conf, src.location, "%s unrelated", src.endpoint)
		assert.NotContains(t, conf, src.server, "%s unrelated", src.endpoint)
		assert.Equal(t, src.untold, w.LocalAppData[src.key], "%s unrelated", src.endpoint)
		assert.Equal(t, pid, masterPID(), "%s: nginx was reloaded, not restarted", src.endpoint)
	}

	// A worker unit leaves: its scrape location goes with it.
	w.RemoveUnit("tempo-worker/1")
	hook("tempo-cluster-relation-departed", jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/1"})
	conf = liveConfig()
	assert.Contains(t, conf, "location = /proxy/worker/tempo-worker-0/metrics {")
	assert.NotContains(t, conf, "/proxy/worker/tempo-worker-1/")
	assert.Equal(t, pid, masterPID(), "scale down: nginx was reloaded, not restarted")

	// Workload tracing offered over gRPC only (Tempo asks for otlp_http,
	// the only kind the proxy carries): nothing is proxied, the workers
	// keep tracing into this Tempo, and the log says why.
	rel := e.h.Model.AddRelation("self-workload-tracing", "tempo2", map[string]string{
		"receivers": `[{"protocol":{"name":"otlp_grpc","type":"grpc"},"url":"` + otherHost + `:4317"}]`,
	}, map[string]map[string]string{"tempo2/0": {}})
	res := hook("self-workload-tracing-relation-changed", jujusim.HookOptions{Relation: rel, RemoteUnit: "tempo2/0"})
	assert.Contains(t, res.Stderr, "offers none of the receivers requested (otlp_http)")
	assert.Contains(t, e.status(), "active: ")
	assert.NotContains(t, liveConfig(), otherHost)
	assert.Equal(t, own, w.LocalAppData["workload_tracing_receivers"])
	assert.Equal(t, pid, masterPID())
}
