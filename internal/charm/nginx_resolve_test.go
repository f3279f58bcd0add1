package charm

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// resolvingNginx behaves like nginx 1.22 at load time: a config naming an
// upstream server it cannot resolve is rejected as a whole, with the
// message (timestamp and pid included) nginx -t prints.
type resolvingNginx struct {
	fakeNginx
	unresolvable map[string]bool
	tests        int // nginx -t runs
}

func (f *resolvingNginx) ApplyNginx(ctx context.Context, config []byte, run bool, port int, files map[string][]byte, tls bool) (NginxResult, error) {
	if string(f.config) != string(config) {
		f.tests++
		for _, line := range strings.Split(string(config), "\n") {
			fields := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ";"))
			if len(fields) >= 2 && fields[0] == "server" {
				host, _, _ := strings.Cut(fields[1], ":")
				if f.unresolvable[host] {
					return NginxResult{Rejected: fmt.Sprintf("2026/12/05 08:%02d:00 [emerg] %d#%d: host not found in upstream %q in /etc/nginx/nginx.conf:12\nnginx: configuration file /etc/nginx/nginx.conf test failed",
						f.tests%60, 1000+f.tests, 1000+f.tests, fields[1])}, nil
				}
			}
		}
	}
	return f.fakeNginx.ApplyNginx(ctx, config, run, port, files, tls)
}

// hookWithLog runs one hook in-process and returns what the charm logged
// and the tool calls it made.
func hookWithLog(t *testing.T, m *jujusim.Model, hook string, ctr Container) (string, []jujusim.Call) {
	t.Helper()
	var log bytes.Buffer
	before := len(m.Calls)
	err := jujusim.RunInProcess(context.Background(), m, hook, jujusim.HookOptions{}, func(ctx context.Context, r juju.Runner, env map[string]string) error {
		hc, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "")
		require.NoError(t, err)
		c := &Charm{Product: tempo.Product(), Juju: juju.NewClient(r), Log: &log,
			Connect: func(string) (Container, error) { return ctr, nil }}
		return c.Run(ctx, hc)
	})
	require.NoError(t, err)
	return log.String(), m.Calls[before:]
}

func writes(calls []jujusim.Call) []string {
	var out []string
	for _, c := range calls {
		switch c.Tool {
		case "relation-set", "status-set", "state-set", "state-delete", "open-port", "close-port":
			out = append(out, c.Tool)
		}
	}
	return out
}

// TestRejectedConfigStatusIsStable: while nginx keeps rejecting a config,
// the status does not quote nginx -t (a timestamp and a pid that change
// every run): an unchanged hook writes nothing, and the details are in
// the log.
func TestRejectedConfigStatusIsStable(t *testing.T) {
	m, _ := newModel(true)
	calls := 0
	rejecting := &funcNginx{fakeNginx: &fakeNginx{boot: "b"}, apply: func([]byte) string {
		calls++
		return fmt.Sprintf("2026/12/05 08:00:%02d [emerg] %d#%d: unknown directive \"x\" in /etc/nginx/nginx.conf:3", calls, 100+calls, 100+calls)
	}}
	log, _ := hookWithLog(t, m, "config-changed", rejecting)
	assert.Equal(t, "blocked", m.UnitStatus.Status)
	assert.Equal(t, nginxRejectedStatus, m.UnitStatus.Message)
	assert.Contains(t, log, `[emerg] 101#101: unknown directive "x"`, "the details are logged")
	log, calls2 := hookWithLog(t, m, "update-status", rejecting)
	assert.Empty(t, writes(calls2), "an unchanged hook rewrote something while the config stays rejected")
	assert.Contains(t, log, `102#102`, "every hook logs what nginx said")
}

// funcNginx rejects every config with what apply returns.
type funcNginx struct {
	*fakeNginx
	apply func([]byte) string
}

func (f *funcNginx) ApplyNginx(_ context.Context, config []byte, _ bool, _ int, _ map[string][]byte, _ bool) (NginxResult, error) {
	return NginxResult{Rejected: f.apply(config)}, nil
}

// TestUnresolvableWorkerDoesNotHoldBackOthers: nginx cannot resolve one
// worker's name; the config routes to the others instead of being
// rejected as a whole, the status names the left-out address, a repeated
// hook writes nothing, and once the name resolves it is routed to.
func TestUnresolvableWorkerDoesNotHoldBackOthers(t *testing.T) {
	m, w := newModel(true)
	const lost = "tempo-worker-1.tempo-worker-endpoints.m.svc.cluster.local"
	w.AddUnit("tempo-worker/1", map[string]string{"address": jsonText(lost),
		"juju_topology": jsonText(map[string]string{"application": "tempo-worker", "unit": "tempo-worker/1"})})
	n := &resolvingNginx{fakeNginx: fakeNginx{boot: "b"}, unresolvable: map[string]bool{lost: true}}

	log, _ := hookWithLog(t, m, "config-changed", n)
	assert.Equal(t, "active", m.UnitStatus.Status, m.UnitStatus.Message)
	assert.Contains(t, m.UnitStatus.Message, "[nginx] Not routing to "+lost+": nginx cannot resolve them")
	assert.Contains(t, string(n.config), "server 10.1.0.6:3200;")
	assert.NotContains(t, string(n.config), lost)
	assert.True(t, n.running)
	assert.Contains(t, log, "nginx cannot resolve upstream address "+lost)
	assert.Contains(t, w.LocalAppData["worker_config"], lost, "the workers' own ring still lists it")

	_, calls := hookWithLog(t, m, "update-status", n)
	assert.Empty(t, writes(calls), "a repeated hook writes nothing")

	n.unresolvable = nil // its DNS record appeared
	hookWithLog(t, m, "update-status", n)
	assert.Contains(t, string(n.config), "server "+lost+":3200;")
	assert.NotContains(t, m.UnitStatus.Message, "Not routing")
}

// TestUnresolvedHostParsing: only a host nginx.conf names is taken from
// nginx's output, whatever its spelling there.
func TestUnresolvedHostParsing(t *testing.T) {
	hosts := []string{"W-0.example", "10.0.0.1"}
	cases := map[string]string{
		`nginx: [emerg] host not found in upstream "w-0.example:3200" in /etc/nginx/nginx.conf:9`: "W-0.example",
		`host not found in upstream "w-0.example." in x`:                                          "W-0.example",
		`host not found in upstream "other.example:3200"`:                                         "",
		`unknown directive "w-0.example"`:                                                         "",
		``:                                                                                        "",
	}
	for out, want := range cases {
		assert.Equal(t, want, coordinator.UnresolvedHost(out, hosts), "%q", out)
	}
}

// TestUnresolvableTelemetryDestinationDoesNotHoldBackOthers: the worker
// telemetry proxy names Loki and Prometheus hosts as upstream servers;
// one nginx cannot resolve is left out like a worker's address, so the
// workers' routes and the other destinations are still served.
func TestUnresolvableTelemetryDestinationDoesNotHoldBackOthers(t *testing.T) {
	m, _ := newModel(true)
	const lostLoki = "loki-0.loki-endpoints.elsewhere.svc.cluster.local"
	const lostProm = "prometheus.example.invalid"
	m.AddRelation("logging", "loki", nil, map[string]map[string]string{
		"loki/0": {"endpoint": `{"url": "http://` + lostLoki + `:3100/loki/api/v1/push"}`},
		"loki/1": {"endpoint": `{"url": "http://10.1.0.20:3100/loki/api/v1/push"}`},
	})
	m.AddRelation("send-remote-write", "prometheus", nil, map[string]map[string]string{
		"prometheus/0": {"remote_write": `{"url": "http://` + lostProm + `:9090/api/v1/write"}`},
	})
	n := &resolvingNginx{fakeNginx: fakeNginx{boot: "b"}, unresolvable: map[string]bool{lostLoki: true, lostProm: true}}

	log, _ := hookWithLog(t, m, "config-changed", n)
	assert.Equal(t, "active", m.UnitStatus.Status, m.UnitStatus.Message)
	assert.Contains(t, m.UnitStatus.Message, "[nginx] Not routing to "+lostLoki+", "+lostProm+": nginx cannot resolve them")
	conf := string(n.config)
	assert.Contains(t, conf, "server 10.1.0.6:3200;")
	assert.Contains(t, conf, "location = /proxy/loki/loki-1/push {")
	assert.Contains(t, conf, "server 10.1.0.20:3100;")
	assert.NotContains(t, conf, lostLoki)
	assert.NotContains(t, conf, lostProm)
	assert.NotContains(t, conf, "/proxy/loki/loki-0/push", "a location without its upstream")
	assert.True(t, n.running)
	assert.Contains(t, log, "nginx cannot resolve upstream address "+lostLoki)

	_, calls := hookWithLog(t, m, "update-status", n)
	assert.Empty(t, writes(calls), "a repeated hook writes nothing")

	n.unresolvable = nil
	hookWithLog(t, m, "update-status", n)
	assert.Contains(t, string(n.config), "server "+lostLoki+":3100;")
	assert.Contains(t, string(n.config), "server "+lostProm+":9090;")
	assert.NotContains(t, m.UnitStatus.Message, "Not routing")
}
