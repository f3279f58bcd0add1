package charm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// otherTempo is what another Tempo publishes on a tracing relation.
const otherTempo = `[{"protocol":{"name":"otlp_http","type":"http"},"url":"http://tempo2.other.svc.cluster.local:4318"},` +
	`{"protocol":{"name":"jaeger_thrift_http","type":"http"},"url":"http://tempo2.other.svc.cluster.local:14268"}]`

// TestTracingRequirersRelateAndUnrelate walks each tracing requirer of
// both charms through relate (the request is written), the provider's
// answer (the workers get its URL; Tempo's through its telemetry proxy),
// and relation-broken (Tempo's workers trace into their own Tempo again;
// Pyroscope's are told nothing).
func TestTracingRequirersRelateAndUnrelate(t *testing.T) {
	own := `{"otlp_http":"http://tempo.test-model.svc.cluster.local:4318"}`
	for _, tc := range []struct {
		charm, endpoint, key, request, answer, unrelated string
	}{
		// Tempo's workers reach the other Tempo through the worker telemetry proxy.
		{"tempo-coordinator-k8s", "self-charm-tracing", "charm_tracing_receivers", `["otlp_http"]`,
			`{"otlp_http":"http://tempo.test-model.svc.cluster.local:3300/proxy/charm-tracing/otlp_http/"}`, own},
		{"tempo-coordinator-k8s", "self-workload-tracing", "workload_tracing_receivers", `["otlp_http"]`,
			`{"otlp_http":"http://tempo.test-model.svc.cluster.local:3300/proxy/workload-tracing/otlp_http/"}`, own},
		{"pyroscope-coordinator-k8s", "charm-tracing", "charm_tracing_receivers", `["otlp_http"]`,
			`{"otlp_http":"http://tempo2.other.svc.cluster.local:4318"}`, ""},
		{"pyroscope-coordinator-k8s", "workload-tracing", "workload_tracing_receivers", `["jaeger_thrift_http"]`,
			`{"jaeger_thrift_http":"http://tempo2.other.svc.cluster.local:14268"}`, ""},
	} {
		t.Run(tc.charm+"/"+tc.endpoint, func(t *testing.T) {
			e := newEnv(t, tc.charm, true)
			w := e.addWorker("worker", "all", "10.1.0.8")
			e.addS3()
			e.hook("config-changed", jujusim.HookOptions{})
			assert.Equal(t, tc.unrelated, w.LocalAppData[tc.key], "before the relation")

			rel := e.h.Model.AddRelation(tc.endpoint, "tempo2", nil, map[string]map[string]string{"tempo2/0": {}})
			e.hook(tc.endpoint+"-relation-joined", jujusim.HookOptions{Relation: rel, RemoteUnit: "tempo2/0"})
			assert.Equal(t, tc.request, rel.LocalAppData["receivers"])
			assert.Equal(t, tc.unrelated, w.LocalAppData[tc.key], "before the provider answers")

			rel.RemoteAppData["receivers"] = otherTempo
			e.hook(tc.endpoint+"-relation-changed", jujusim.HookOptions{Relation: rel})
			assert.Equal(t, tc.answer, w.LocalAppData[tc.key], "once the provider answered")
			again := e.hook("update-status", jujusim.HookOptions{})
			assert.Zero(t, again.Counts["relation-set"], "%v", again.Tools())

			e.hook(tc.endpoint+"-relation-broken", jujusim.HookOptions{Relation: rel})
			e.h.Model.RemoveRelation(rel.ID)
			assert.Equal(t, tc.unrelated, w.LocalAppData[tc.key], "after relation-broken")
		})
	}
}
