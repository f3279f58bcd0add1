package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// The workers' own telemetry (Tempo's worker telemetry proxy, the tracing
// requirers): what the workers are told, exercised with the real nginx and
// the real Tempo workers.

// serviceName is the coordinator application's service name as the charm
// publishes it (the host of the workers' tracing receiver URLs), "" while
// nothing names it (Pyroscope without tracing relations).
func (c *coordinator) serviceName() string {
	for _, w := range c.workers {
		for _, key := range []string{"workload_tracing_receivers", "charm_tracing_receivers"} {
			var receivers map[string]string
			if json.Unmarshal([]byte(w.rel.LocalAppData[key]), &receivers) != nil {
				continue
			}
			if u, err := url.Parse(receivers["otlp_http"]); err == nil && u.Hostname() != "" {
				return u.Hostname()
			}
		}
	}
	return ""
}

// shareServiceName gives the worker pods an /etc/hosts that resolves the
// coordinator's service name to the coordinator (what the cluster DNS does
// in Kubernetes), before they start.
func (c *coordinator) shareServiceName() {
	name := c.serviceName()
	if name == "" || c.fleet.hostsFile != "" {
		return
	}
	file := filepath.Join(c.t.TempDir(), "hosts")
	content := fmt.Sprintf("127.0.0.1 localhost\n%s %s\n", coordinatorIP, name)
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.fleet.hostsFile = file
}

// serviceDialer dials from the given namespace dial function, the
// coordinator's service name going to the coordinator.
func (c *coordinator) serviceDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	name := c.serviceName()
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil && name != "" && host == name {
			addr = net.JoinHostPort(coordinatorIP, port)
		}
		return dial(ctx, network, addr)
	}
}

// serviceClient is an HTTP client on the scenario network (the hub
// namespace) that resolves the coordinator's service name.
func (c *coordinator) serviceClient(n *network) *http.Client {
	return &http.Client{
		Transport: &http.Transport{DialContext: c.serviceDialer(n.dial), MaxIdleConnsPerHost: 4, IdleConnTimeout: 10 * time.Second},
		Timeout:   10 * time.Second,
	}
}

// podClient is an HTTP client inside a worker unit's network namespace
// (its pod), resolving the coordinator's service name.
func (c *coordinator) podClient(u *workerUnit) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := inNetns(u.netns, func() error {
			var d net.Dialer
			var err error
			conn, err = d.DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return &http.Client{Transport: &http.Transport{DialContext: c.serviceDialer(dial), DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

// remoteWriteReceiver stands for Prometheus: it takes remote-write
// requests on the hub namespace and counts them.
type remoteWriteReceiver struct {
	url  string
	mu   sync.Mutex
	reqs int
	last string // the last request's path, sender, encoding and size
	from string // the last request's source address
	got  chan struct{}
}

func newRemoteWriteReceiver(t testing.TB, n *network) *remoteWriteReceiver {
	t.Helper()
	l, err := n.listen(hubIP + ":0")
	if err != nil {
		t.Fatal(err)
	}
	r := &remoteWriteReceiver{url: fmt.Sprintf("http://%s/api/v1/write", l.Addr()), got: make(chan struct{}, 1)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || req.URL.Path != "/api/v1/write" || len(body) == 0 {
			http.Error(w, "not a remote-write request", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.reqs++
		from, _, _ := net.SplitHostPort(req.RemoteAddr)
		r.from = from
		r.last = fmt.Sprintf("%s %s from %s (%s, %s, %d bytes)", req.Method, req.URL.Path, from, req.Header.Get("Content-Encoding"),
			req.Header.Get("X-Prometheus-Remote-Write-Version"), len(body))
		r.mu.Unlock()
		select {
		case r.got <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return r
}

// relate relates the receiver over send-remote-write, as Prometheus does.
func (r *remoteWriteReceiver) relate(c *coordinator) {
	c.t.Helper()
	rel := c.h.Model.AddRelation("send-remote-write", "prometheus", nil, map[string]map[string]string{
		"prometheus/0": {"remote_write": fmt.Sprintf(`{"url": %q}`, r.url)},
	})
	c.hook("send-remote-write-relation-changed", jujusim.HookOptions{Relation: rel, RemoteUnit: "prometheus/0"})
}

// wait waits (bounded) for the first remote-write and describes it.
func (r *remoteWriteReceiver) wait(t testing.TB, timeout time.Duration) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case <-r.got:
	case <-time.After(timeout):
		t.Fatalf("no remote-write request reached the receiver within %s", timeout)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.from != coordinatorIP {
		t.Errorf("remote-write came from %s, not through the coordinator's proxy (%s)", r.from, coordinatorIP)
	}
	return r.last, time.Since(start)
}

// relateSelfCharmTracing relates self-charm-tracing to a Tempo whose
// OTLP/HTTP receiver is this coordinator's own nginx (at its pod
// address), so that the workers' charm traces take the proxy into the
// same cluster, where they can be read back.
func (c *coordinator) relateSelfCharmTracing() {
	c.t.Helper()
	rel := c.h.Model.AddRelation("self-charm-tracing", "tempo-other", nil, map[string]map[string]string{"tempo-other/0": {}})
	c.hook("self-charm-tracing-relation-joined", jujusim.HookOptions{Relation: rel, RemoteUnit: "tempo-other/0"})
	rel.RemoteAppData["receivers"] = fmt.Sprintf(`[{"protocol":{"name":"otlp_http","type":"http"},"url":"http://%s:4318"}]`, coordinatorIP)
	c.hook("self-charm-tracing-relation-changed", jujusim.HookOptions{Relation: rel})
}

// sendAsWorker sends a trace from the worker unit's pod the way the
// worker charm sends its own traces: OTLP/HTTP to the published
// receiver URL + "/v1/traces" (key is charm_tracing_receivers or
// workload_tracing_receivers). It retries (bounded) while the cluster
// refuses writes, and returns the trace and the URL used.
func (e *tempoEnv) sendAsWorker(u *workerUnit, key string) (sentTrace, string) {
	e.t.Helper()
	var receivers map[string]string
	if err := json.Unmarshal([]byte(u.app.rel.LocalAppData[key]), &receivers); err != nil || receivers["otlp_http"] == "" {
		e.t.Fatalf("%s: no otlp_http receiver published to %s: %q", key, u.app.name, u.app.rel.LocalAppData[key])
	}
	target := receivers["otlp_http"] + "/v1/traces"
	tr, data := newTrace("e2e-"+strings.ReplaceAll(key, "_", "-"), spansPerTrace, key)
	body, err := proto.Marshal(data)
	if err != nil {
		e.t.Fatal(err)
	}
	client := e.c.podClient(u)
	deadline := time.Now().Add(ingestTimeout)
	for {
		req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := client.Do(req)
		if err == nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return tr, target
			}
			err = fmt.Errorf("%s: %s", resp.Status, msg)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("POST %s from %s: %v", target, u.name, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
