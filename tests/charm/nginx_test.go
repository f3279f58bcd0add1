package charm_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/sandbox"
)

// TestNginxLifecycleWithRealPebble is the black-box scenario: the packed
// dispatch binary, the simulated model, a real Pebble daemon and Debian's
// nginx. No workers (nginx stopped, blocked) → a consistent cluster (nginx
// running with the routes) → scaled while a client hammers nginx (a
// reload: same master, no failed request) → inconsistent (nginx stopped).
// Every nginx.conf the charm made live passes `nginx -t`.
func TestNginxLifecycleWithRealPebble(t *testing.T) {
	hosts := map[string]string{}
	for i := range 6 {
		hosts[workerName(i)] = "127.0.0." + string(rune('2'+i))
	}
	sb := sandbox.New(t, sandbox.Options{Hosts: hosts})
	e := newEnv(t, "tempo-coordinator-k8s", true)
	sockets := t.TempDir()
	require.NoError(t, sandbox.ContainerSockets(sockets, map[string]*sandbox.Sandbox{"nginx": sb}))
	opts := func(o jujusim.HookOptions) jujusim.HookOptions {
		o.Env = map[string]string{"COORDINATOR_PEBBLE_SOCKET_DIR": sockets}
		return o
	}
	pc, err := client.New(&client.Config{Socket: sb.SocketPath()})
	require.NoError(t, err)
	nginxState := func() string {
		svcs, err := pc.Services(&client.ServicesOptions{Names: []string{"nginx"}})
		if err != nil || len(svcs) == 0 {
			return "absent"
		}
		return string(svcs[0].Current)
	}
	liveConfig := func() string { return liveNginxConfig(t, sb, pc) }
	masterPID := func() string { return nginxMasterPID(t, sb) }

	// Deployed, no workers: blocked, nginx not running.
	e.hook("install", opts(jujusim.HookOptions{}))
	e.hook("nginx-pebble-ready", opts(jujusim.HookOptions{}))
	assert.Equal(t, "blocked: [consistency] Missing any worker relation.", e.status())
	assert.NotEqual(t, "active", nginxState())
	assert.Contains(t, liveConfig(), "location = /status", "the config is written (and valid) even while nginx is stopped")

	// A consistent cluster: nginx runs and routes.
	e.addS3()
	w := e.addWorker("tempo-worker", "all", workerName(0))
	e.hook("tempo-cluster-relation-changed", opts(jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/0"}))
	assert.Contains(t, e.status(), "active: ")
	assert.Equal(t, "active", nginxState())
	conf := liveConfig()
	assert.Contains(t, conf, "server "+workerName(0)+":4318;")
	assert.Contains(t, conf, "server "+workerName(0)+":3200;")
	assert.ElementsMatch(t, []string{"3200/tcp", "3300/tcp", "4318/tcp", "9096/tcp"}, e.h.Model.OpenedPorts)
	pid := masterPID()
	require.NotEmpty(t, pid)

	// Scale while a client keeps asking nginx: a reload drops nothing.
	load := sb.StartLoad(2, "http://127.0.0.1:8080/status")
	require.NoError(t, load.WaitRequests(50, 30*time.Second))
	for i := 1; i <= 4; i++ {
		w.AddUnit("tempo-worker/"+string(rune('0'+i)), map[string]string{
			"address":       jsonString(workerName(i)),
			"juju_topology": jsonString(map[string]string{"application": "tempo-worker", "unit": "tempo-worker/" + string(rune('0'+i))}),
		})
		e.hook("tempo-cluster-relation-joined", opts(jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/" + string(rune('0'+i))}))
	}
	require.NoError(t, load.WaitRequests(50, 30*time.Second))
	res := load.Stop()
	t.Logf("scaling 1 → 5 workers under load: %d requests, %d failed", res.Requests, res.Failures)
	assert.Positive(t, res.Requests)
	assert.Zero(t, res.Failures, "a reload must not drop requests: %v", res.FirstErrors)
	assert.Equal(t, pid, masterPID(), "nginx was reloaded, not restarted")
	conf = liveConfig()
	for i := range 5 {
		assert.Contains(t, conf, "server "+workerName(i)+":3200;")
		// The worker telemetry proxy follows the scaling, in the same reload.
		assert.Contains(t, conf, "location = /proxy/worker/tempo-worker-"+string(rune('0'+i))+"/metrics {")
	}

	// A second, unchanged hook touches nothing.
	again := e.hook("update-status", opts(jujusim.HookOptions{}))
	assert.Zero(t, again.Counts["relation-set"]+again.Counts["status-set"]+again.Counts["state-set"], "%v", again.Tools())
	assert.Equal(t, pid, masterPID())

	// Inconsistent: the workers switch to a single role; nginx stops.
	w.RemoteAppData["role"] = jsonString("querier")
	e.hook("tempo-cluster-relation-changed", opts(jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/0"}))
	assert.Contains(t, e.status(), "blocked: [consistency] Cluster inconsistent: missing query-frontend")
	assert.Equal(t, "inactive", nginxState())
	liveConfig()

	// And back.
	w.RemoteAppData["role"] = jsonString("all")
	e.hook("tempo-cluster-relation-changed", opts(jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/0"}))
	assert.Equal(t, "active", nginxState())
}

func workerName(i int) string {
	return "tempo-worker-" + string(rune('0'+i)) + ".tempo-worker-endpoints.test-model.svc.cluster.local"
}

// checkNginxT validates the live nginx.conf with the real nginx, run in
// the container through Pebble (where the worker names resolve).
// liveNginxConfig returns the nginx.conf in the sandbox's nginx container,
// checked with nginx -t.
func liveNginxConfig(t *testing.T, sb *sandbox.Sandbox, pc *client.Client) string {
	t.Helper()
	path, err := sb.HostPath("/etc/nginx/nginx.conf")
	require.NoError(t, err)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	checkNginxT(t, pc)
	return string(raw)
}

// nginxMasterPID returns the pid nginx's master wrote ("" before it runs).
func nginxMasterPID(t *testing.T, sb *sandbox.Sandbox) string {
	t.Helper()
	path, err := sb.HostPath("/tmp/nginx.pid")
	require.NoError(t, err)
	raw, _ := os.ReadFile(path)
	return strings.TrimSpace(string(raw))
}

func checkNginxT(t *testing.T, pc *client.Client) {
	t.Helper()
	var out strings.Builder
	p, err := pc.Exec(&client.ExecOptions{Command: []string{"nginx", "-t", "-c", "/etc/nginx/nginx.conf"}, Timeout: 30 * time.Second, Stdout: &out})
	require.NoError(t, err)
	require.NoError(t, p.Wait(), "nginx -t rejected the live config:\n%s", out.String())
	require.Contains(t, out.String(), "test is successful")
}

// TestUnresolvableWorkerWithRealNginx: Debian's nginx (1.22) resolves
// upstream names when it loads a config and refuses the whole config when
// one fails. A worker whose name does not resolve is left out of
// nginx.conf, so the others are served; an unchanged hook then writes
// nothing, and the name is routed to once it resolves.
func TestUnresolvableWorkerWithRealNginx(t *testing.T) {
	hosts := map[string]string{workerName(0): "127.0.0.2", workerName(1): "127.0.0.3"}
	sb := sandbox.New(t, sandbox.Options{Hosts: hosts})
	e := newEnv(t, "tempo-coordinator-k8s", true)
	sockets := t.TempDir()
	require.NoError(t, sandbox.ContainerSockets(sockets, map[string]*sandbox.Sandbox{"nginx": sb}))
	opts := jujusim.HookOptions{Env: map[string]string{"COORDINATOR_PEBBLE_SOCKET_DIR": sockets}}
	pc, err := client.New(&client.Config{Socket: sb.SocketPath()})
	require.NoError(t, err)
	liveConfig := func() string { return liveNginxConfig(t, sb, pc) }

	e.addS3()
	unknown := "tempo-worker-9.nowhere.invalid"
	w := e.addWorker("tempo-worker", "all", workerName(0), unknown)
	res := e.hook("config-changed", opts)
	assert.Contains(t, e.status(), "active: ")
	assert.Contains(t, e.status(), "[nginx] Not routing to "+unknown+": nginx cannot resolve them")
	conf := liveConfig()
	assert.Contains(t, conf, "server "+workerName(0)+":3200;")
	assert.NotContains(t, conf, unknown)
	assert.Contains(t, res.Stderr, "nginx cannot resolve upstream address "+unknown)

	again := e.hook("update-status", opts)
	assert.Zero(t, again.Counts["relation-set"]+again.Counts["status-set"]+again.Counts["state-set"], "%v", again.Tools())

	// The worker moves to a name that resolves: it is routed to.
	w.RemoteUnits["tempo-worker/1"]["address"] = jsonString(workerName(1))
	e.hook("tempo-cluster-relation-changed", jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/1", Env: opts.Env})
	assert.Equal(t, "active", e.h.Model.UnitStatus.Status)
	assert.NotContains(t, e.status(), "Not routing")
	assert.Contains(t, liveConfig(), "server "+workerName(1)+":3200;")
}
