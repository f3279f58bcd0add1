package charm

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// observedHook runs one hook with the repository's Tempo assets and counts
// the asset reads.
func observedHook(t *testing.T, m *jujusim.Model, hook string, opts jujusim.HookOptions, ctr Container, reads *int) {
	t.Helper()
	dirAssets := DirAssets("../../src")
	err := jujusim.RunInProcess(context.Background(), m, hook, opts, func(ctx context.Context, r juju.Runner, env map[string]string) error {
		hc, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "")
		require.NoError(t, err)
		c := &Charm{Product: tempo.Product(), Juju: juju.NewClient(r),
			Connect: func(string) (Container, error) { return ctr, nil },
			Assets: func() (coordinator.Assets, error) {
				*reads++
				return dirAssets()
			}}
		return c.Run(ctx, hc)
	})
	require.NoError(t, err)
}

func lokiEndpoint(n string) map[string]string {
	return map[string]string{"endpoint": jsonText(map[string]string{"url": "http://loki-" + n + ".loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"})}
}

// Relating Loki (two units), losing one unit, then the relation: the
// workers' loki_endpoints, the leader's metadata and alert rules, and the
// containers' log targets follow; unchanged hooks touch nothing.
func TestLoggingRelateUnrelate(t *testing.T) {
	m, w := newModel(true)
	n := &fakeNginx{boot: "b"}
	reads := 0
	observedHook(t, m, "update-status", jujusim.HookOptions{}, n, &reads)
	assert.Zero(t, n.logTargetCalls, "no Loki, no log target ever set")
	assert.Zero(t, reads, "no relation wants assets: none read")

	loki := m.AddRelation("logging", "loki", nil, map[string]map[string]string{"loki/0": lokiEndpoint("0"), "loki/1": lokiEndpoint("1")})
	observedHook(t, m, "logging-relation-changed", jujusim.HookOptions{Relation: loki, RemoteUnit: "loki/1"}, n, &reads)
	assert.Equal(t, 1, reads)
	require.Len(t, n.logTargets, 2)
	assert.Equal(t, "loki/1", n.logTargets[1].Name)
	assert.Equal(t, "tempo/0", n.logTargets[0].Labels["juju_unit"])
	assert.Equal(t, 2, n.logTargetCalls, "nginx and the exporter")
	// Through the worker telemetry proxy.
	assert.Contains(t, w.LocalAppData["loki_endpoints"], `"loki/1":"http://tempo.test-model.svc.cluster.local:3300/proxy/loki/loki-1/push"`)
	assert.Contains(t, loki.LocalAppData["metadata"], `"charm_name":"tempo-coordinator-k8s"`)
	assert.Contains(t, loki.LocalAppData["alert_rules"], `"name":"test_model_9f1d2c3b_tempo_worker_error_level_logs_rules"`)

	calls := n.logTargetCalls
	observedHook(t, m, "update-status", jujusim.HookOptions{}, n, &reads)
	assert.Equal(t, calls, n.logTargetCalls, "unchanged targets: Pebble not even asked")

	delete(loki.RemoteUnits, "loki/1")
	observedHook(t, m, "logging-relation-departed", jujusim.HookOptions{Relation: loki, RemoteUnit: "loki/1"}, n, &reads)
	require.Len(t, n.logTargets, 1)
	assert.NotContains(t, w.LocalAppData["loki_endpoints"], "loki/1")

	loki.Broken = true
	observedHook(t, m, "logging-relation-broken", jujusim.HookOptions{Relation: loki}, n, &reads)
	assert.Empty(t, n.logTargets, "the relation went: every target switched off")
	assert.NotContains(t, w.LocalAppData, "loki_endpoints")
	m.RemoveRelation(loki.ID)
	calls = n.logTargetCalls
	observedHook(t, m, "update-status", jujusim.HookOptions{}, n, &reads)
	assert.Equal(t, calls, n.logTargetCalls)
}

// A non-leader forwards its own logs but publishes nothing and reads no
// asset.
func TestLoggingNonLeader(t *testing.T) {
	m, _ := newModel(false)
	n := &fakeNginx{boot: "b"}
	reads := 0
	loki := m.AddRelation("logging", "loki", nil, map[string]map[string]string{"loki/0": lokiEndpoint("0")})
	m.AddRelation("grafana-dashboard", "grafana", nil, map[string]map[string]string{"grafana/0": {}})
	observedHook(t, m, "logging-relation-changed", jujusim.HookOptions{Relation: loki, RemoteUnit: "loki/0"}, n, &reads)
	assert.Len(t, n.logTargets, 1)
	assert.Empty(t, loki.LocalAppData)
	assert.Zero(t, reads)
}

// The leader publishes the dashboards once; an unchanged hook rewrites
// nothing.
func TestDashboardsPublishedOnce(t *testing.T) {
	m, _ := newModel(true)
	n := &fakeNginx{boot: "b"}
	reads := 0
	g := m.AddRelation("grafana-dashboard", "grafana", nil, map[string]map[string]string{"grafana/0": {}})
	observedHook(t, m, "grafana-dashboard-relation-joined", jujusim.HookOptions{Relation: g, RemoteUnit: "grafana/0"}, n, &reads)
	first := g.LocalAppData["dashboards"]
	require.Contains(t, first, `"file:tempo-ingest"`)
	g.LocalAppData["dashboards"] = "overwritten by someone else"
	observedHook(t, m, "update-status", jujusim.HookOptions{}, n, &reads)
	assert.Equal(t, "overwritten by someone else", g.LocalAppData["dashboards"], "an unchanged value is not rewritten")
	assert.Equal(t, 2, reads)
}
