package workload

// Integration tests: the adapter against a real Pebble daemon managing a
// real nginx, in a sandbox (private mount/net/pid namespaces). They skip
// when the sandbox cannot start (not root, no unshare or nginx).

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/testenv/sandbox"
	"github.com/tempo-coordinator/coordinator/internal/testenv/testcert"
)

const (
	statusPort  = 8080
	proxyPort   = 3200
	backendPort = 9000
)

// backendHosts are worker FQDNs, resolved by nginx 1.22 (no `resolve`)
// through the sandbox's /etc/hosts when it loads its config.
var backendHosts = map[string]string{
	"worker-1.test": "127.0.0.2",
	"worker-2.test": "127.0.0.3",
	"worker-3.test": "127.0.0.4",
}

// countingAPI counts the calls that change the container.
type countingAPI struct {
	pebbleAPI
	mu     sync.Mutex
	writes []string
}

func (c *countingAPI) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, s)
}

func (c *countingAPI) reset() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes
	c.writes = nil
	return w
}

func (c *countingAPI) AddLayer(o *client.AddLayerOptions) error {
	c.note("AddLayer")
	return c.pebbleAPI.AddLayer(o)
}
func (c *countingAPI) Push(o *client.PushOptions) error {
	c.note("Push " + o.Path)
	return c.pebbleAPI.Push(o)
}
func (c *countingAPI) RemovePath(o *client.RemovePathOptions) error {
	c.note("RemovePath " + o.Path)
	return c.pebbleAPI.RemovePath(o)
}
func (c *countingAPI) Start(o *client.ServiceOptions) (string, error) {
	c.note("Start")
	return c.pebbleAPI.Start(o)
}
func (c *countingAPI) Stop(o *client.ServiceOptions) (string, error) {
	c.note("Stop")
	return c.pebbleAPI.Stop(o)
}
func (c *countingAPI) Restart(o *client.ServiceOptions) (string, error) {
	c.note("Restart")
	return c.pebbleAPI.Restart(o)
}
func (c *countingAPI) Replan(o *client.ServiceOptions) (string, error) {
	c.note("Replan")
	return c.pebbleAPI.Replan(o)
}
func (c *countingAPI) Exec(o *client.ExecOptions) (process, error) {
	c.note("Exec " + strings.Join(o.Command, " "))
	return c.pebbleAPI.Exec(o)
}

type env struct {
	sb  *sandbox.Sandbox
	c   *Container
	api *countingAPI
	hc  *http.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sb := sandbox.New(t, sandbox.Options{Hosts: backendHosts})
	c, err := Connect(sb.SocketPath())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	api := &countingAPI{pebbleAPI: c.api}
	c.api = api
	hc := sb.HTTPClient()
	hc.Timeout = 10 * time.Second
	t.Cleanup(hc.CloseIdleConnections)
	return &env{sb: sb, c: c, api: api, hc: hc}
}

// config renders nginx.conf routing :3200 to the given workers (and the
// /status server on :8080).
func (e *env) config(t *testing.T, workers ...string) []byte {
	t.Helper()
	return e.configWith(t, nil, workers...)
}

// configWith is config with tune applied to the input first (TLS).
func (e *env) configWith(t *testing.T, tune func(*coordinator.NginxInput), workers ...string) []byte {
	t.Helper()
	facts, err := e.c.NginxFacts(context.Background())
	if err != nil {
		t.Fatalf("NginxFacts: %v", err)
	}
	in := coordinator.NginxInput{
		Facts: facts,
		Routes: coordinator.Routes{
			Upstreams: []coordinator.Upstream{{Name: "backend", Role: "distributor", Port: backendPort}},
			Servers:   []coordinator.Server{{Port: proxyPort, Locations: []coordinator.Location{{Path: "/", Upstream: "backend"}}}},
		},
		AddressesByRole: map[string][]string{"distributor": workers},
		ServerName:      "coordinator-0.test",
		StatusPort:      statusPort,
	}
	if tune != nil {
		tune(&in)
	}
	return coordinator.RenderNginx(in)
}

func (e *env) apply(t *testing.T, p NginxPlan) NginxResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := e.c.ApplyNginx(ctx, p)
	if err != nil {
		t.Fatalf("ApplyNginx: %v\npebble log:\n%s", err, e.sb.Log())
	}
	return res
}

func (e *env) get(port int, path string) (int, string, error) {
	resp, err := e.hc.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitFor polls cond until it holds or a generous timeout expires.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) masterPID(t *testing.T) string {
	t.Helper()
	p, err := e.sb.HostPath(coordinator.NginxPidPath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read pid file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func (e *env) serviceStatus(t *testing.T) client.ServiceStatus {
	t.Helper()
	st, err := e.c.serviceStatus(context.Background(), NginxService)
	if err != nil {
		t.Fatal(err)
	}
	return st[NginxService]
}

// startBackends serves each worker's name on <ip>:9000 inside the sandbox.
func (e *env) startBackends(t *testing.T) {
	t.Helper()
	for name, ip := range backendHosts {
		e.sb.Backend(t, net.JoinHostPort(ip, fmt.Sprint(backendPort)), name, nil)
	}
}

func TestIntegrationNginxLifecycle(t *testing.T) {
	e := newEnv(t)
	e.startBackends(t)

	facts, err := e.c.NginxFacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if facts.Version != "1.22.1" && !strings.HasPrefix(facts.Version, "1.") {
		t.Errorf("nginx version = %q", facts.Version)
	}
	t.Logf("facts: %+v", facts)

	// First config: nginx starts and serves /status and the proxy.
	conf1 := e.config(t, "worker-1.test")
	res := e.apply(t, NginxPlan{Config: conf1, Run: true, StatusPort: statusPort})
	if res != (NginxResult{LayerChanged: true, ConfigChanged: true, Started: true}) {
		t.Fatalf("first apply = %+v", res)
	}
	code, body, err := e.get(statusPort, "/status")
	if err != nil || code != 200 || !strings.Contains(body, "Active connections") {
		t.Fatalf("/status: %d %q %v", code, body, err)
	}
	if _, body, err := e.get(proxyPort, "/"); err != nil || body != "worker-1.test" {
		t.Fatalf("proxy: %q %v", body, err)
	}
	pid := e.masterPID(t)

	// Unchanged plan: only reads, and the file is not rewritten.
	confPath, _ := e.sb.HostPath(NginxConfigPath)
	st1, err := os.Stat(confPath)
	if err != nil {
		t.Fatal(err)
	}
	e.api.reset()
	res = e.apply(t, NginxPlan{Config: conf1, Run: true, StatusPort: statusPort})
	if res.Changed() {
		t.Fatalf("unchanged apply = %+v", res)
	}
	if w := e.api.reset(); len(w) != 0 {
		t.Fatalf("unchanged apply wrote: %q", w)
	}
	st2, _ := os.Stat(confPath)
	if !st2.ModTime().Equal(st1.ModTime()) || !os.SameFile(st1, st2) {
		t.Fatal("nginx.conf was rewritten by an unchanged apply")
	}

	// Changed config: a reload, the master PID stays, the change is live.
	conf2 := e.config(t, "worker-2.test")
	res = e.apply(t, NginxPlan{Config: conf2, Run: true, StatusPort: statusPort})
	if res != (NginxResult{ConfigChanged: true, Reloaded: true}) {
		t.Fatalf("changed apply = %+v", res)
	}
	if got := e.masterPID(t); got != pid {
		t.Fatalf("master PID changed %s -> %s: restarted, not reloaded", pid, got)
	}
	waitFor(t, "worker-2 behind the proxy", func() bool {
		_, body, err := e.get(proxyPort, "/")
		return err == nil && body == "worker-2.test"
	})

	// Rejected config: old config stays live and running.
	bad := append(append([]byte{}, conf2...), []byte("\nbogus_directive on;\n")...)
	e.api.reset()
	res = e.apply(t, NginxPlan{Config: bad, Run: true, StatusPort: statusPort})
	if res.Rejected == "" || res.ConfigChanged || res.Reloaded || res.Started {
		t.Fatalf("bad config apply = %+v", res)
	}
	if !strings.Contains(res.Rejected, `unknown directive "bogus_directive"`) ||
		!strings.Contains(res.Rejected, NginxConfigPath) || strings.Contains(res.Rejected, "candidate") {
		t.Errorf("Rejected = %q", res.Rejected)
	}
	t.Logf("rejected: %s", res.Rejected)
	if got, _ := os.ReadFile(confPath); string(got) != string(conf2) {
		t.Fatal("live config replaced by a rejected one")
	}
	candPath, _ := e.sb.HostPath(NginxCandidatePath)
	if _, err := os.Stat(candPath); !os.IsNotExist(err) {
		t.Fatalf("candidate left behind: %v", err)
	}
	for _, w := range e.api.reset() {
		if w == "Push "+NginxConfigPath || w == "Exec nginx -s reload" {
			t.Fatalf("rejected config went live: %s", w)
		}
	}
	if st := e.serviceStatus(t); st != client.StatusActive {
		t.Fatalf("nginx %s after a rejected config", st)
	}
	if _, body, err := e.get(proxyPort, "/"); err != nil || body != "worker-2.test" {
		t.Fatalf("proxy after rejected config: %q %v", body, err)
	}
	if got := e.masterPID(t); got != pid {
		t.Fatalf("master PID changed after a rejected config")
	}

	// Run=false stops nginx.
	res = e.apply(t, NginxPlan{Config: conf2, Run: false, StatusPort: statusPort})
	if res != (NginxResult{Stopped: true}) {
		t.Fatalf("stop apply = %+v", res)
	}
	if st := e.serviceStatus(t); st != client.StatusInactive {
		t.Fatalf("nginx %s after Run=false", st)
	}
	waitFor(t, "nginx to stop listening", func() bool {
		_, _, err := e.get(statusPort, "/status")
		return err != nil
	})
	// Stopped and unchanged: nothing to do.
	e.api.reset()
	if res := e.apply(t, NginxPlan{Config: conf2, Run: false, StatusPort: statusPort}); res.Changed() {
		t.Fatalf("stopped unchanged apply = %+v", res)
	}
	if w := e.api.reset(); len(w) != 0 {
		t.Fatalf("stopped unchanged apply wrote: %q", w)
	}

	// Run again with a new config: a start.
	conf3 := e.config(t, "worker-3.test")
	res = e.apply(t, NginxPlan{Config: conf3, Run: true, StatusPort: statusPort})
	if res != (NginxResult{ConfigChanged: true, Started: true}) {
		t.Fatalf("restart apply = %+v", res)
	}
	if _, body, err := e.get(proxyPort, "/"); err != nil || body != "worker-3.test" {
		t.Fatalf("proxy after start: %q %v", body, err)
	}

	// The health check is in Pebble's plan and passes against the real
	// nginx (run now rather than after its 10s period).
	rc, err := e.c.api.(*countingAPI).pebbleAPI.(realAPI).RefreshCheck(&client.RefreshCheckOptions{Name: NginxCheck})
	if err != nil || rc.Error != "" || rc.Info.Level != client.ReadyLevel {
		t.Fatalf("refresh check: %+v %v", rc, err)
	}

	// Pebble gone: ErrNotReady from Connect and from a running Container.
	if err := e.sb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Connect(e.sb.SocketPath()); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Connect after Pebble stopped: %v, want ErrNotReady", err)
	}
	start := time.Now()
	if _, err := e.c.ApplyNginx(context.Background(), NginxPlan{Config: conf3, Run: true}); !errors.Is(err, ErrNotReady) {
		t.Fatalf("ApplyNginx after Pebble stopped: %v, want ErrNotReady", err)
	}
	t.Logf("ApplyNginx noticed Pebble was gone after %s", time.Since(start))
}

func TestIntegrationConnectMissingSocket(t *testing.T) {
	_, err := Connect(filepath.Join(t.TempDir(), "nginx", "pebble.socket"))
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("err = %v, want ErrNotReady", err)
	}
}

func TestIntegrationStartFailureRecovers(t *testing.T) {
	e := newEnv(t)
	e.startBackends(t)
	// Something else holds the proxy port: the config passes `nginx -t`
	// (which does not bind) but nginx cannot start.
	squat, err := e.sb.ListenInNetns("tcp", fmt.Sprintf(":%d", proxyPort))
	if err != nil {
		t.Fatal(err)
	}
	defer squat.Close()

	conf := e.config(t, "worker-1.test")
	_, err = e.c.ApplyNginx(context.Background(), NginxPlan{Config: conf, Run: true, StatusPort: statusPort})
	if err == nil {
		t.Fatal("nginx started although its port is taken")
	}
	t.Logf("start failure: %v", err)
	for _, want := range []string{"cannot start nginx", "Address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}

	// A later good plan (another port) recovers. Pebble may also be
	// retrying on its own (backoff), so started-or-reloaded both count.
	good := []byte(strings.ReplaceAll(string(conf), fmt.Sprintf("listen %d", proxyPort), "listen 3201"))
	good = []byte(strings.ReplaceAll(string(good), fmt.Sprintf("listen [::]:%d", proxyPort), "listen [::]:3201"))
	res := e.apply(t, NginxPlan{Config: good, Run: true, StatusPort: statusPort})
	if !res.ConfigChanged || !(res.Started || res.Reloaded) {
		t.Fatalf("recovery apply = %+v", res)
	}
	waitFor(t, "nginx active", func() bool { return e.serviceStatus(t) == client.StatusActive })
	if _, body, err := e.get(3201, "/"); err != nil || body != "worker-1.test" {
		t.Fatalf("proxy after recovery: %q %v", body, err)
	}
}

func TestIntegrationApplyLayer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bogus := Layer{Services: map[string]Service{"svc": {Override: "replace", Command: "/nonexistent/binary --flag", Startup: "enabled"}}}
	_, err := e.c.ApplyLayer(ctx, "test", bogus)
	if err == nil || !strings.Contains(err.Error(), "cannot replan test") {
		t.Fatalf("bogus layer: err = %v", err)
	}
	t.Logf("bogus layer: %v", err)

	good := Layer{Services: map[string]Service{"svc": {Override: "replace", Command: "sleep 3600", Startup: "enabled"}}}
	changed, err := e.c.ApplyLayer(ctx, "test", good)
	if err != nil || !changed {
		t.Fatalf("good layer: changed=%v err=%v", changed, err)
	}
	st, err := e.c.serviceStatus(ctx, "svc")
	if err != nil || st["svc"] != client.StatusActive {
		t.Fatalf("svc status %v %v", st, err)
	}
	e.api.reset()
	changed, err = e.c.ApplyLayer(ctx, "test", good)
	if err != nil || changed {
		t.Fatalf("same layer: changed=%v err=%v", changed, err)
	}
	if w := e.api.reset(); len(w) != 0 {
		t.Fatalf("same layer wrote: %q", w)
	}
}

// TestIntegrationZeroFailedRequests sends requests through nginx without
// pause while five configs add and remove backends: graceful reloads
// must not fail a single request.
func TestIntegrationZeroFailedRequests(t *testing.T) {
	e := newEnv(t)
	e.startBackends(t)
	e.apply(t, NginxPlan{Config: e.config(t, "worker-1.test"), Run: true, StatusPort: statusPort})

	load := e.sb.StartLoad(4, fmt.Sprintf("http://127.0.0.1:%d/", proxyPort))
	reloadUnderLoad(t, e, load, func(workers ...string) NginxPlan {
		return NginxPlan{Config: e.config(t, workers...), Run: true, StatusPort: statusPort}
	}, "HTTP")
}

// reloadUnderLoad reloads nginx with plan through five worker sets that
// add and remove backends while load runs, and fails on any failed
// request (what names the requests in the message) or a backend that
// never served.
func reloadUnderLoad(t *testing.T, e *env, load *sandbox.Load, plan func(workers ...string) NginxPlan, what string) {
	t.Helper()
	// waitRequests waits until n more requests completed (a count, not a time).
	waitRequests := func(n int64) {
		if err := load.WaitRequests(n, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitRequests(200)
	for i, workers := range [][]string{
		{"worker-1.test", "worker-2.test"},
		{"worker-1.test", "worker-2.test", "worker-3.test"},
		{"worker-2.test", "worker-3.test"},
		{"worker-3.test"},
		{"worker-1.test", "worker-3.test"},
	} {
		if res := e.apply(t, plan(workers...)); !res.Reloaded {
			t.Fatalf("step %d: %+v, want a reload", i, res)
		}
		waitRequests(200)
	}
	res := load.Stop()
	t.Logf("requests=%d failures=%d per-backend=%v", res.Requests, res.Failures, res.Bodies)
	if res.Failures != 0 {
		t.Fatalf("%d of %d %s requests failed during reloads; first: %q", res.Failures, res.Requests, what, res.FirstErrors)
	}
	if len(res.Bodies) != 3 {
		t.Fatalf("not every backend served: %v", res.Bodies)
	}
}

// TestIntegrationZeroFailedRequestsTLS is TestIntegrationZeroFailedRequests
// with nginx serving TLS (what a certificates relation configures): HTTPS
// clients, each keeping its connections alive, see no failed request while
// reloads add and remove workers.
func TestIntegrationZeroFailedRequestsTLS(t *testing.T) {
	e := newEnv(t)
	e.startBackends(t)
	const serverName = "coordinator-0.test"
	certPEM, keyPEM, pool := testcert.SelfSigned(t, serverName)
	files := map[string][]byte{coordinator.NginxCertPath: certPEM, coordinator.NginxKeyPath: keyPEM}
	plan := func(workers ...string) NginxPlan {
		conf := e.configWith(t, func(in *coordinator.NginxInput) { in.TLS = true }, workers...)
		return NginxPlan{Config: conf, Run: true, StatusPort: statusPort, Files: files, TLS: true}
	}
	first := plan("worker-1.test")
	if !strings.Contains(string(first.Config), "ssl_certificate ") {
		t.Fatalf("the config serves no TLS:\n%s", first.Config)
	}
	e.apply(t, first)

	tr := e.sb.HTTPTransport()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: serverName}
	load := sandbox.StartLoadWith(&http.Client{Transport: tr, Timeout: 10 * time.Second}, 4, fmt.Sprintf("https://127.0.0.1:%d/", proxyPort))
	reloadUnderLoad(t, e, load, plan, "HTTPS")
}

// TestIntegrationUpstreamVerification: with the workers serving TLS and a
// name to verify (a root CA), nginx forwards to a worker whose certificate
// the CA signed for that name, and refuses (502) one the CA did not sign:
// the certificate of another CA, or the right CA's for another name.
func TestIntegrationUpstreamVerification(t *testing.T) {
	e := newEnv(t)
	const name = "tempo.model.svc.cluster.local"
	served, key, _ := testcert.SelfSigned(t, name)
	pair, err := tls.X509KeyPair(served, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.sb.ListenInNetns("tcp", net.JoinHostPort(backendHosts["worker-1.test"], fmt.Sprint(backendPort)))
	if err != nil {
		t.Fatalf("backend listen: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "verified") })}
	go srv.Serve(tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{pair}}))
	t.Cleanup(func() { srv.Close() })
	other, _, _ := testcert.SelfSigned(t, name)

	for _, tt := range []struct {
		what       string
		ca         []byte
		verifyName string
		want       int
	}{
		// Each answer differs from the previous one: a step cannot pass on
		// the config before it.
		{"the worker's CA, its name", served, name, http.StatusOK},
		{"another CA", other, name, http.StatusBadGateway},
		{"no verification", other, "", http.StatusOK},
		{"the worker's CA, another name", served, "tempo.other.svc.cluster.local", http.StatusBadGateway},
	} {
		conf := e.configWith(t, func(in *coordinator.NginxInput) {
			in.UpstreamTLS, in.UpstreamVerifyName = true, tt.verifyName
		}, "worker-1.test")
		e.apply(t, NginxPlan{Config: conf, Run: true, StatusPort: statusPort, Files: map[string][]byte{coordinator.NginxCAPath: tt.ca}})
		// The reload takes effect as the old workers finish: new
		// connections, until the new workers answer (bounded).
		deadline := time.Now().Add(10 * time.Second)
		for {
			e.hc.CloseIdleConnections()
			code, body, err := e.get(proxyPort, "/")
			if err == nil && code == tt.want {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: %d %q %v, want %d", tt.what, code, body, err, tt.want)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestIntegrationFailedReloadIsRetried: a config that passes `nginx -t`
// but that the running master cannot load (its new port is taken) fails
// the apply, and the old config keeps serving; once the port is free the
// next apply reloads, although nginx.conf on disk already holds the new
// config.
func TestIntegrationFailedReloadIsRetried(t *testing.T) {
	e := newEnv(t)
	e.startBackends(t)
	conf1 := e.config(t, "worker-1.test")
	e.apply(t, NginxPlan{Config: conf1, Run: true, StatusPort: statusPort})
	pid := e.masterPID(t)

	squat, err := e.sb.ListenInNetns("tcp", ":3201")
	if err != nil {
		t.Fatal(err)
	}
	conf2 := []byte(strings.ReplaceAll(string(e.config(t, "worker-2.test")), fmt.Sprintf("listen %d;", proxyPort), "listen 3201;"))
	_, err = e.c.ApplyNginx(context.Background(), NginxPlan{Config: conf2, Run: true, StatusPort: statusPort})
	if err == nil || !strings.Contains(err.Error(), "kept its previous configuration") {
		t.Fatalf("reload onto a taken port: err = %v", err)
	}
	t.Logf("failed reload: %v", err)
	if _, body, err := e.get(proxyPort, "/"); err != nil || body != "worker-1.test" {
		t.Fatalf("the previous config stopped serving: %q %v", body, err)
	}

	squat.Close()
	res := e.apply(t, NginxPlan{Config: conf2, Run: true, StatusPort: statusPort})
	if res != (NginxResult{Reloaded: true}) {
		t.Fatalf("next apply = %+v, want a reload of the config already on disk", res)
	}
	if got := e.masterPID(t); got != pid {
		t.Fatalf("master PID changed %s -> %s", pid, got)
	}
	if _, body, err := e.get(3201, "/"); err != nil || body != "worker-2.test" {
		t.Fatalf("new config not live after the retry: %q %v", body, err)
	}
	if res := e.apply(t, NginxPlan{Config: conf2, Run: true, StatusPort: statusPort}); res.Changed() {
		t.Fatalf("converged apply = %+v", res)
	}
}

// TestIntegrationKeepaliveAcrossReloads: nginx reuses its connections to
// the workers (far fewer connections than requests), and keeps doing so,
// without a failed request, while reloads change the workers.
func TestIntegrationKeepaliveAcrossReloads(t *testing.T) {
	e := newEnv(t)
	var counts sandbox.BackendCounts
	for name, ip := range backendHosts {
		e.sb.Backend(t, net.JoinHostPort(ip, fmt.Sprint(backendPort)), name, &counts)
	}
	e.apply(t, NginxPlan{Config: e.config(t, "worker-1.test"), Run: true, StatusPort: statusPort})

	load := e.sb.StartLoad(4, fmt.Sprintf("http://127.0.0.1:%d/", proxyPort))
	if err := load.WaitRequests(2000, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	for i, workers := range [][]string{
		{"worker-1.test", "worker-2.test"},
		{"worker-1.test", "worker-2.test", "worker-3.test"},
		{"worker-3.test"},
	} {
		if res := e.apply(t, NginxPlan{Config: e.config(t, workers...), Run: true, StatusPort: statusPort}); !res.Reloaded {
			t.Fatalf("step %d: %+v, want a reload", i, res)
		}
		if err := load.WaitRequests(2000, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	res := load.Stop()
	t.Logf("requests=%d failures=%d, backend requests=%d over %d connections", res.Requests, res.Failures, counts.Requests.Load(), counts.Conns.Load())
	if res.Failures != 0 {
		t.Fatalf("%d of %d requests failed across reloads; first: %q", res.Failures, res.Requests, res.FirstErrors)
	}
	// Without keepalive every request opens a connection. With it, each
	// of nginx's 5 worker processes opens about one per client and
	// backend per generation (4 configs here).
	if c := counts.Conns.Load(); c*10 > counts.Requests.Load() {
		t.Fatalf("%d connections for %d requests: upstream connections are not reused", c, counts.Requests.Load())
	}
}

// TestIntegrationLargeBodies: the route limits the renderer writes let
// through what the workers accept, and leave the refusal to the worker:
// an 8 MiB OTLP/HTTP batch and a gRPC message just under 4 MiB reach the
// backend through the real nginx; a body just over the worker's 20 MiB
// reaches it too (the worker says no, with its own error), and only a body
// beyond the worker's limit and nginx's slack gets nginx's 413.
func TestIntegrationLargeBodies(t *testing.T) {
	e := newEnv(t)
	const httpLimit, grpcLimit = 20 << 20, 4 << 20 // Tempo's OTLP receivers (internal/coordinator/tempo)
	var received sync.Map                          // body size → true
	l, err := e.sb.ListenInNetns("tcp", "127.0.0.2:9000")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Store(n, true)
		if n > httpLimit {
			http.Error(w, "worker: request body too large", http.StatusRequestEntityTooLarge)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	gl, err := e.sb.ListenInNetns("tcp", "127.0.0.2:9001")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(grpcLimit), grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var m wrapperspb.BytesValue
		if err := stream.RecvMsg(&m); err != nil {
			return err
		}
		received.Store(int64(len(m.Value)), true)
		return stream.SendMsg(&emptypb.Empty{})
	}))
	go gs.Serve(gl)
	t.Cleanup(gs.Stop)

	facts, err := e.c.NginxFacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conf := coordinator.RenderNginx(coordinator.NginxInput{
		Facts: facts,
		Routes: coordinator.Routes{
			Upstreams: []coordinator.Upstream{
				{Name: "otlp-http", Role: "distributor", Port: 9000},
				{Name: "otlp-grpc", Role: "distributor", Port: 9001},
			},
			Servers: []coordinator.Server{
				{Port: 4318, Locations: []coordinator.Location{{Path: "/", Upstream: "otlp-http", MaxBodyBytes: httpLimit}}},
				{Port: 4317, GRPC: true, Locations: []coordinator.Location{{Path: "/", Upstream: "otlp-grpc", MaxBodyBytes: grpcLimit}}},
			},
		},
		AddressesByRole: map[string][]string{"distributor": {"worker-1.test"}},
		StatusPort:      statusPort,
	})
	e.apply(t, NginxPlan{Config: conf, Run: true, StatusPort: statusPort})

	post := func(size int) (int, string) {
		t.Helper()
		resp, err := e.hc.Post("http://127.0.0.1:4318/v1/traces", "application/x-protobuf", bytes.NewReader(make([]byte, size)))
		if err != nil {
			t.Fatalf("POST %d bytes: %v", size, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := post(8 << 20); code != http.StatusOK {
		t.Fatalf("8 MiB batch: %d %s", code, body)
	}
	if code, body := post(httpLimit + 512<<10); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "worker:") {
		t.Fatalf("just over the worker's limit: %d %q, want the worker's own 413", code, body)
	}
	if code, body := post(httpLimit + coordinator.NginxBodySlackBytes + 1); code != http.StatusRequestEntityTooLarge || strings.Contains(body, "worker:") {
		t.Fatalf("beyond nginx's limit: %d %q, want nginx's 413", code, body)
	}

	cc, err := grpc.NewClient("passthrough:///127.0.0.1:4317", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(e.sb.ContextDialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	payload := grpcLimit - 1024 // the message with its framing stays under the worker's limit
	if err := cc.Invoke(ctx, "/bench.Sink/Export", wrapperspb.Bytes(make([]byte, payload)), &emptypb.Empty{}); err != nil {
		t.Fatalf("gRPC message of %d bytes: %v", payload, err)
	}
	for _, n := range []int64{8 << 20, httpLimit + 512<<10, int64(payload)} {
		if _, ok := received.Load(n); !ok {
			t.Errorf("the backend never received the %d-byte body", n)
		}
	}
}
