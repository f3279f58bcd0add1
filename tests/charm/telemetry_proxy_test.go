package charm_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
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
