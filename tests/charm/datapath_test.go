package charm_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/sandbox"
)

// TestScaleUnderLoadWithRealNginx: the packed Pyroscope coordinator and
// Debian's nginx in front of backends on the workers' addresses (their
// port 4040 differs from nginx's own, so both fit in the sandbox's one
// network namespace). Clients query through nginx without pause while
// the workers scale 1→5→1, one hook and one reload per unit: not a
// request fails, every worker serves, nginx is reloaded (same master), and
// its connections to the workers are reused (far fewer than requests).
func TestScaleUnderLoadWithRealNginx(t *testing.T) {
	const workers = 5
	name := func(i int) string {
		return fmt.Sprintf("pyroscope-worker-%d.pyroscope-worker-endpoints.test-model.svc.cluster.local", i)
	}
	hosts := map[string]string{}
	for i := range workers {
		hosts[name(i)] = fmt.Sprintf("127.0.0.%d", 2+i)
	}
	sb := sandbox.New(t, sandbox.Options{Hosts: hosts})
	var counts sandbox.BackendCounts
	for i := range workers {
		sb.Backend(t, net.JoinHostPort(hosts[name(i)], "4040"), fmt.Sprintf("pyroscope-worker/%d", i), &counts)
	}

	e := newEnv(t, "pyroscope-coordinator-k8s", true)
	sockets := t.TempDir()
	require.NoError(t, sandbox.ContainerSockets(sockets, map[string]*sandbox.Sandbox{"nginx": sb}))
	env := map[string]string{"COORDINATOR_PEBBLE_SOCKET_DIR": sockets}
	masterPID := func() string { return nginxMasterPID(t, sb) }

	e.hook("nginx-pebble-ready", jujusim.HookOptions{Env: env})
	s3 := e.addS3()
	e.hook("s3-relation-changed", jujusim.HookOptions{Relation: s3, Env: env})
	w := e.addWorker("pyroscope-worker", "all", name(0))
	e.hook("pyroscope-cluster-relation-changed", jujusim.HookOptions{Relation: w, RemoteUnit: "pyroscope-worker/0", Env: env})
	require.Contains(t, e.status(), "active")
	pid := masterPID()
	require.NotEmpty(t, pid)

	// The query path (query-frontend) of the 'all' workers.
	load := sb.StartLoad(4, "http://127.0.0.1:8080/pyroscope/label-values")
	wait := func() { require.NoError(t, load.WaitRequests(200, 30*time.Second)) }
	wait()
	reloads := 0
	for i := 1; i < workers; i++ {
		unit := fmt.Sprintf("pyroscope-worker/%d", i)
		w.AddUnit(unit, map[string]string{
			"address":       jsonString(name(i)),
			"juju_topology": jsonString(map[string]string{"model": "test-model", "model_uuid": "u", "application": "pyroscope-worker", "unit": unit, "charm_name": "worker"}),
		})
		e.hook("pyroscope-cluster-relation-joined", jujusim.HookOptions{Relation: w, RemoteUnit: unit, Env: env})
		reloads++
		wait()
	}
	for i := workers - 1; i >= 1; i-- {
		unit := fmt.Sprintf("pyroscope-worker/%d", i)
		w.RemoveUnit(unit)
		e.hook("pyroscope-cluster-relation-departed", jujusim.HookOptions{Relation: w, RemoteUnit: unit, Env: env})
		reloads++
		wait()
	}
	res := load.Stop()
	t.Logf("scaling 1→5→1 under load: %d reloads, %d requests, %d failed, served by %v; %d backend requests over %d connections",
		reloads, res.Requests, res.Failures, res.Bodies, counts.Requests.Load(), counts.Conns.Load())
	assert.Zero(t, res.Failures, "a reload must not fail a request: %v", res.FirstErrors)
	assert.Len(t, res.Bodies, workers, "every worker served")
	assert.Equal(t, pid, masterPID(), "nginx was reloaded, not restarted")
	assert.Contains(t, e.status(), "active")
	// Without keepalive every request opens a connection to a worker.
	assert.Less(t, counts.Conns.Load()*10, counts.Requests.Load(), "upstream connections are not reused")
}
