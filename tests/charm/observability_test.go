package charm_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/promrules"
)

// TestObservabilityThroughThePackedCharm: the packed charm, with nothing
// but its own files, publishes alert rules Prometheus's parser accepts,
// dashboards that decode, Loki's metadata and rules and the workers'
// loki_endpoints; a second hook writes nothing.
func TestObservabilityThroughThePackedCharm(t *testing.T) {
	for _, tc := range []struct{ charm, cluster, worker, loki string }{
		// Tempo's workers push through its worker telemetry proxy.
		{"tempo-coordinator-k8s", "tempo-cluster", "tempo-worker", "http://tempo.test-model.svc.cluster.local:3300/proxy/loki/loki-0/push"},
		{"pyroscope-coordinator-k8s", "pyroscope-cluster", "pyroscope-worker", "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"},
	} {
		t.Run(tc.charm, func(t *testing.T) {
			e := newEnv(t, tc.charm, true)
			w := e.addWorker(tc.worker, "all", "10.1.0.6")
			w.Endpoint = tc.cluster
			e.addS3()
			prom := e.h.Model.AddRelation("metrics-endpoint", "prometheus", nil, map[string]map[string]string{"prometheus/0": {}})
			loki := e.h.Model.AddRelation("logging", "loki", nil, map[string]map[string]string{
				"loki/0": {"endpoint": `{"url": "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"}`},
			})
			grafana := e.h.Model.AddRelation("grafana-dashboard", "grafana", nil, map[string]map[string]string{"grafana/0": {}})
			e.hook("config-changed", jujusim.HookOptions{})

			rules, err := promrules.ParsePrometheusRules(prom.LocalAppData["alert_rules"])
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(rules.Groups), 3, "workers, nginx and HostHealth")
			_, err = promrules.ParseLokiRules(loki.LocalAppData["alert_rules"])
			require.NoError(t, err)
			assert.Contains(t, loki.LocalAppData["metadata"], `"charm_name":"`+tc.charm+`"`)
			assert.JSONEq(t, `{"loki/0": "`+tc.loki+`"}`, mustUnquote(t, w.LocalAppData["loki_endpoints"]))

			var dashboards struct {
				Templates map[string]struct {
					Content string `json:"content"`
					Charm   string `json:"charm"`
				} `json:"templates"`
			}
			require.NoError(t, json.Unmarshal([]byte(grafana.LocalAppData["dashboards"]), &dashboards))
			require.Len(t, dashboards.Templates, 3)
			for id, tmpl := range dashboards.Templates {
				d, err := promrules.DecodeDashboard(tmpl.Content)
				require.NoError(t, err, id)
				assert.Len(t, d["uid"], 40, id)
				assert.Equal(t, tc.charm, tmpl.Charm)
			}

			again := e.hook("update-status", jujusim.HookOptions{})
			assert.Zero(t, again.Counts["relation-set"], "%v", again.Tools())
		})
	}
}

// mustUnquote returns the JSON value itself: loki_endpoints is a JSON
// object, not a JSON string.
func mustUnquote(t *testing.T, s string) string {
	t.Helper()
	var v map[string]string
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return s
}
