package charm

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// fakeNginx is an in-memory nginx container.
type fakeNginx struct {
	boot     string
	facts    int // NginxFacts calls
	config   []byte
	running  bool
	reject   string
	applyErr error
	// files are the TLS files pushed; exporterTLS whether the exporter
	// was last given a certificate.
	files       map[string][]byte
	exporterTLS bool
	// logTargets are the last log targets applied, in logTargetCalls calls.
	logTargets     []coordinator.LogTarget
	logTargetCalls int
}

func (f *fakeNginx) BootID() string { return f.boot }

func (f *fakeNginx) NginxFacts(context.Context) (coordinator.NginxFacts, error) {
	f.facts++
	return coordinator.NginxFacts{Version: "1.22.1"}, nil
}

func (f *fakeNginx) ApplyNginx(_ context.Context, config []byte, run bool, _ int, files map[string][]byte, _ bool) (NginxResult, error) {
	if f.files == nil {
		f.files = map[string][]byte{}
	}
	for name, data := range files {
		if data == nil {
			delete(f.files, name)
		} else {
			f.files[name] = data
		}
	}
	if f.applyErr != nil {
		return NginxResult{}, f.applyErr
	}
	if f.reject != "" {
		return NginxResult{Rejected: f.reject}, nil
	}
	f.config, f.running = config, run
	return NginxResult{}, nil
}

func (f *fakeNginx) ApplyExporter(_ context.Context, _ int, cert, _ []byte) error {
	f.exporterTLS = cert != nil
	return nil
}

func (f *fakeNginx) RemoveFiles(_ context.Context, names ...string) error {
	for _, n := range names {
		delete(f.files, n)
	}
	return nil
}

func (f *fakeNginx) ApplyLogTargets(_ context.Context, targets []coordinator.LogTarget) error {
	f.logTargets = targets
	f.logTargetCalls++
	return nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func newModel(leader bool) (*jujusim.Model, *jujusim.Relation) {
	m := jujusim.NewModel("tempo/0")
	m.Leader = leader
	w := m.AddRelation("tempo-cluster", "tempo-worker", map[string]string{"role": jsonText("all")}, map[string]map[string]string{
		"tempo-worker/0": {"address": jsonText("10.1.0.6"), "juju_topology": jsonText(map[string]string{"application": "tempo-worker", "unit": "tempo-worker/0"})},
	})
	m.AddRelation("s3", "s3", map[string]string{"endpoint": "http://s3:9000", "bucket": "traces", "access-key": "a", "secret-key": "s"},
		map[string]map[string]string{"s3/0": {}})
	return m, w
}

// runHook runs one hook of the charm in-process against the model.
func runHook(t *testing.T, m *jujusim.Model, hook string, ctr Container) error {
	t.Helper()
	return runEvent(t, m, hook, jujusim.HookOptions{}, ctr)
}

// runEvent runs a hook with its relation context.
func runEvent(t *testing.T, m *jujusim.Model, hook string, opts jujusim.HookOptions, ctr Container) error {
	t.Helper()
	return jujusim.RunInProcess(context.Background(), m, hook, opts, func(ctx context.Context, r juju.Runner, env map[string]string) error {
		hc, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "")
		require.NoError(t, err)
		c := &Charm{Product: tempo.Product(), Juju: juju.NewClient(r), Connect: func(name string) (Container, error) {
			if ctr == nil {
				return nil, ErrNotReady
			}
			return ctr, nil
		}}
		return c.Run(ctx, hc)
	})
}

func TestNginxFactsAreDetectedOncePerBoot(t *testing.T) {
	m, _ := newModel(true)
	n := &fakeNginx{boot: "boot-1"}
	for range 3 {
		require.NoError(t, runHook(t, m, "update-status", n))
	}
	assert.Equal(t, 1, n.facts)
	n.boot = "boot-2" // the container restarted
	require.NoError(t, runHook(t, m, "update-status", n))
	assert.Equal(t, 2, n.facts)
	assert.True(t, n.running)
	assert.Equal(t, "active", m.UnitStatus.Status)
}

func TestRejectedNginxConfigIsReportedNotFatal(t *testing.T) {
	m, w := newModel(true)
	n := &fakeNginx{boot: "b", reject: "nginx: [emerg] host not found in upstream"}
	require.NoError(t, runHook(t, m, "config-changed", n))
	assert.Equal(t, "blocked", m.UnitStatus.Status)
	assert.Contains(t, m.UnitStatus.Message, "[nginx] New configuration rejected by nginx -t")
	assert.NotEmpty(t, w.LocalAppData["worker_config"], "the workers are still configured")
	n.reject = ""
	require.NoError(t, runHook(t, m, "update-status", n))
	assert.Equal(t, "active", m.UnitStatus.Status, "the next hook recovers")
}

func TestPebbleFailureKeepsRelationWrites(t *testing.T) {
	m, w := newModel(true)
	n := &fakeNginx{boot: "b", applyErr: errors.New("cannot start nginx: exited")}
	require.NoError(t, runHook(t, m, "config-changed", n), "a workload failure must not fail the hook")
	assert.Equal(t, "blocked", m.UnitStatus.Status)
	assert.Contains(t, m.UnitStatus.Message, "[nginx] cannot start nginx")
	assert.NotEmpty(t, w.LocalAppData["worker_config"])
}

func TestContainerNotReadyWaits(t *testing.T) {
	m, _ := newModel(true)
	require.NoError(t, runHook(t, m, "install", nil))
	assert.Equal(t, "waiting", m.UnitStatus.Status)
}

func TestRegainedLeadershipRepublishes(t *testing.T) {
	m, w := newModel(true)
	n := &fakeNginx{boot: "b"}
	require.NoError(t, runHook(t, m, "config-changed", n))
	published := w.LocalAppData["worker_config"]
	require.NotEmpty(t, published)
	// Another leader overwrote the databag while this unit was not leading.
	w.LocalAppData["worker_config"] = jsonText("stale")
	require.NoError(t, runHook(t, m, "update-status", n))
	assert.Equal(t, jsonText("stale"), w.LocalAppData["worker_config"], "digests are trusted while leading")
	require.NoError(t, runHook(t, m, "leader-elected", n))
	assert.Equal(t, published, w.LocalAppData["worker_config"], "a new leadership term rewrites what it owns")
}

func TestRemovedKeysAreDeleted(t *testing.T) {
	m, w := newModel(true)
	s3 := m.RelationsOf("s3")[0]
	s3.RemoteAppData["tls-ca-chain"] = jsonText([]string{"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"})
	n := &fakeNginx{boot: "b"}
	require.NoError(t, runHook(t, m, "config-changed", n))
	require.Contains(t, w.LocalAppData, "s3_tls_ca_chain")
	delete(s3.RemoteAppData, "tls-ca-chain")
	require.NoError(t, runEvent(t, m, "s3-relation-changed", jujusim.HookOptions{Relation: s3}, n))
	assert.NotContains(t, w.LocalAppData, "s3_tls_ca_chain")
}

func TestClusterDomain(t *testing.T) {
	cases := map[string]string{
		"search m.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.152.183.10\n": "cluster.local",
		"search demo.svc.k8s.example svc.k8s.example\n":                                          "k8s.example",
		"nameserver 1.1.1.1\n":      "cluster.local",
		"search svc.bad;domain\n":   "cluster.local",
		"search example.com svc.\n": "cluster.local",
		"":                          "cluster.local",
	}
	for conf, want := range cases {
		assert.Equal(t, want, clusterDomain([]byte(conf)), "%q", conf)
	}
}

func TestUpgradeLearnsOpenedPorts(t *testing.T) {
	m, _ := newModel(true)
	m.OpenedPorts = []string{"9999/tcp", "4318/tcp"} // left by a previous charm that kept no record
	n := &fakeNginx{boot: "b"}
	require.NoError(t, runHook(t, m, "upgrade-charm", n))
	assert.ElementsMatch(t, []string{"3200/tcp", "3300/tcp", "4318/tcp", "9096/tcp"}, m.OpenedPorts, "9999 closed, routed ports (and the telemetry proxy's) open")
	calls := len(m.Calls)
	require.NoError(t, runHook(t, m, "update-status", n))
	for _, c := range m.Calls[calls:] {
		assert.NotEqual(t, "opened-ports", c.Tool, "the record in state is enough")
	}
}
