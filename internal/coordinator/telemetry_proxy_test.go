package coordinator

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/golden"
)

// proxyInput is a cluster of two workers (one with a name that is no unit
// name), two Loki units (one hostile), remote-write URLs (two hosts with
// the same first label, an IP address, a hostile one) and the charm and
// workload tracing receivers of another Tempo.
func proxyInput() (WorkerTelemetry, []WorkerUnit) {
	units := []WorkerUnit{
		{Name: "tempo-worker/0", Address: "127.0.0.2"},
		{Name: "tempo-worker/1", Address: "127.0.0.3"},
		{Name: "evil;}/0", Address: "127.0.0.4"},
	}
	direct := WorkerTelemetry{
		Loki: LokiEndpoints{
			{"loki-https/0", "https://loki.example.com/cos-loki-0/loki/api/v1/push"},
			{"loki/0", "http://127.0.0.5:3100/loki/api/v1/push"},
			{"loki/1", "http://evil.example:3100/x;}"},
			{"loki/2 ; evil", "http://127.0.0.6:3100/loki/api/v1/push"},
			{"loki/not-a-num", "http://127.0.0.6:3100/loki/api/v1/push"},
		},
		RemoteWrite: []string{
			"http://127.0.0.7:9090/api/v1/write",
			"http://prometheus-0.a.svc.cluster.local:9090/api/v1/write",
			"http://prometheus-0.b.svc.cluster.local:9090/api/v1/write",
			"http://[fd00::7]:9090/api/v1/write",
			"http://evil.example/\"; }",
		},
		CharmTracing:    TracingReceivers{"otlp_http": "http://127.0.0.8:4318"},
		WorkloadTracing: TracingReceivers{"otlp_http": "https://tempo2.example.com/otlp"},
	}
	return direct, units
}

func testProxy(tls bool) TelemetryProxy {
	return TelemetryProxy{Port: 3300, Host: "tempo.m.svc.cluster.local", TLS: tls, WorkerMetricsPort: 3200}
}

func TestTelemetryProxyPublished(t *testing.T) {
	direct, units := proxyInput()
	got := testProxy(false).Route(direct, units)
	const base = "http://tempo.m.svc.cluster.local:3300"
	wantLoki := map[string]string{
		"loki/0":       base + "/proxy/loki/loki-0/push",
		"loki-https/0": base + "/proxy/loki/loki-https-0/push",
	}
	if !mapsEqual(got.Published.Loki.Map(), wantLoki) {
		t.Errorf("loki = %v, want %v", got.Published.Loki, wantLoki)
	}
	wantRW := []string{
		base + "/proxy/remote-write/127-0-0-7/write",
		base + "/proxy/remote-write/fd00--7/write",
		base + "/proxy/remote-write/prometheus-0-2/write",
		base + "/proxy/remote-write/prometheus-0/write",
	}
	if !slices.Equal(got.Published.RemoteWrite, wantRW) {
		t.Errorf("remote write = %v, want %v", got.Published.RemoteWrite, wantRW)
	}
	if got.Published.CharmTracing["otlp_http"] != base+"/proxy/charm-tracing/otlp_http/" ||
		got.Published.WorkloadTracing["otlp_http"] != base+"/proxy/workload-tracing/otlp_http/" {
		t.Errorf("tracing = %v, %v", got.Published.CharmTracing, got.Published.WorkloadTracing)
	}
	wantScrape := map[string]ScrapeTarget{
		"tempo-worker/0": {Address: "tempo.m.svc.cluster.local:3300", Path: "/proxy/worker/tempo-worker-0/metrics"},
		"tempo-worker/1": {Address: "tempo.m.svc.cluster.local:3300", Path: "/proxy/worker/tempo-worker-1/metrics"},
	}
	if !mapsEqual(got.Published.Scrape, wantScrape) {
		t.Errorf("scrape = %v, want %v", got.Published.Scrape, wantScrape)
	}
	if len(got.Problems) != 0 {
		t.Errorf("problems %v", got.Problems)
	}
	if len(got.Routes.Servers) != 1 || got.Routes.Servers[0].Port != 3300 {
		t.Fatalf("servers %+v", got.Routes.Servers)
	}
	// One location per published destination, every one of them rendered.
	conf := string(RenderNginx(NginxInput{Facts: NginxFacts{Version: "1.27.5"}, Routes: got.Routes, StatusPort: 8080}))
	if n, want := strings.Count(conf, "location "), 2+2+4+2+2; n != want {
		t.Errorf("%d locations (status pages included), want %d:\n%s", n, want, conf)
	}
	for _, bad := range []string{"evil", "not-a-num"} {
		if strings.Contains(conf, bad) {
			t.Errorf("%q reached nginx.conf:\n%s", bad, conf)
		}
	}

	tls := testProxy(true).Route(direct, units)
	if !strings.HasPrefix(tls.Published.Loki.Map()["loki/0"], "https://tempo.m.svc.cluster.local:3300/") {
		t.Errorf("under TLS the proxy's URLs are https: %v", tls.Published.Loki)
	}
}

// A gRPC tracing receiver cannot go through the proxy (HTTP only): it is
// left out, with a status that says so; the HTTP ones still go.
func TestTelemetryProxyRefusesGRPC(t *testing.T) {
	direct := WorkerTelemetry{WorkloadTracing: TracingReceivers{"otlp_grpc": "tempo2.example.com:4317", "otlp_http": "http://tempo2.example.com:4318"}}
	got := testProxy(false).Route(direct, nil)
	if _, ok := got.Published.WorkloadTracing["otlp_grpc"]; ok || got.Published.WorkloadTracing["otlp_http"] == "" {
		t.Errorf("workload tracing = %v", got.Published.WorkloadTracing)
	}
	want := []Status{{Blocked, "[workload-tracing] cannot proxy gRPC receivers (otlp_grpc): the worker telemetry proxy carries HTTP only; request an HTTP protocol"}}
	if !slices.Equal(got.Problems, want) {
		t.Errorf("problems = %v, want %v", got.Problems, want)
	}
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestTelemetryProxyNginxGolden: the proxy's nginx.conf (with Tempo-like
// routes beside it), for the newest nginx and under TLS; nginx -t accepts
// both (rendered for the local nginx when it is older).
func TestTelemetryProxyNginxGolden(t *testing.T) {
	direct, units := proxyInput()
	direct.Loki = LokiEndpoints{{"loki/0", "http://127.0.0.5:3100/loki/api/v1/push"}, {"loki/1", "https://127.0.0.9/loki/api/v1/push"}}
	direct.RemoteWrite = []string{"http://127.0.0.7:9090/api/v1/write"}
	direct.WorkloadTracing = TracingReceivers{"otlp_http": "https://127.0.0.10:4318/prefix/"}
	for _, tls := range []bool{false, true} {
		name := "tempo-telemetry-proxy-1.27.5"
		if tls {
			name = "tempo-telemetry-proxy-tls-1.27.5"
		}
		t.Run(name, func(t *testing.T) {
			proxied := testProxy(tls).Route(direct, units[:2])
			routes := Routes{
				Upstreams: append([]Upstream{{Name: "otlp-http", Role: "distributor", Port: 4318}}, proxied.Routes.Upstreams...),
				Servers:   append([]Server{{Port: 4318, Locations: []Location{{Path: "/", Upstream: "otlp-http"}}}}, proxied.Routes.Servers...),
			}
			in := NginxInput{
				Facts: NginxFacts{Version: "1.27.5", Resolver: "10.152.183.10"}, Routes: routes,
				AddressesByRole: map[string][]string{"distributor": {"127.0.0.2"}}, AllAddresses: []string{"127.0.0.2", "127.0.0.3"},
				ServerName: "tempo-0.tempo-endpoints.m.svc.cluster.local", TLS: tls, UpstreamTLS: tls, StatusPort: 8080,
			}
			if tls {
				in.UpstreamVerifyName = "tempo.m.svc.cluster.local"
			}
			conf := RenderNginx(in)
			golden.Check(t, goldenPath(name), conf)
			for _, want := range []string{
				"location = /proxy/worker/tempo-worker-0/metrics {",
				"set $backend " + map[bool]string{false: "http", true: "https"}[tls] + "://worker-telemetry-proxy-worker-tempo-worker-0/metrics;",
				"set $backend https://worker-telemetry-proxy-loki-loki-1/loki/api/v1/push;",
				"proxy_ssl_name 127.0.0.9;",
				"rewrite ^/proxy/workload-tracing/otlp_http/(.*) /prefix/$1 break;",
			} {
				if !strings.Contains(string(conf), want) {
					t.Errorf("nginx.conf lacks %q", want)
				}
			}
			nginx, version := requireNginx(t)
			if !NginxAtLeast(version, 1, 27, 5) {
				in.Facts.Version = version
				conf = RenderNginx(in)
			}
			nginxCheck(t, nginx, conf)
		})
	}
}

// TestTelemetryProxyWithRealNginx puts the real nginx with the proxy's
// server in front of a Go backend standing for the workers, Loki,
// Prometheus and another Tempo: each proxied URL reaches the backend at
// the path the destination expects, with the destination's Host.
func TestTelemetryProxyWithRealNginx(t *testing.T) {
	nginx, version := requireNginx(t)
	type seen struct{ host, uri, body string }
	got := make(chan seen, 1)
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Host, r.RequestURI, string(body)}
		io.WriteString(w, "ok")
	}))
	backend.Listener.Close()
	backend.Listener = l
	backend.Start()
	defer backend.Close()
	port := l.Addr().(*net.TCPAddr).Port

	x := TelemetryProxy{Port: freePort(t), Host: "127.0.0.1", WorkerMetricsPort: port}
	at := func(host, path string) string { return fmt.Sprintf("http://%s:%d%s", host, port, path) }
	direct := WorkerTelemetry{
		Loki:            LokiEndpoints{{"loki/0", at("127.0.0.3", "/loki/api/v1/push")}},
		RemoteWrite:     []string{at("127.0.0.4", "/api/v1/write")},
		CharmTracing:    TracingReceivers{"otlp_http": at("127.0.0.5", "")},
		WorkloadTracing: TracingReceivers{"otlp_http": at("127.0.0.6", "/base/")},
	}
	proxied := x.Route(direct, []WorkerUnit{{Name: "tempo-worker/0", Address: "127.0.0.2"}})
	statusPort := freePort(t)
	conf := RenderNginx(NginxInput{Facts: NginxFacts{Version: version}, Routes: proxied.Routes, ServerName: "localhost", StatusPort: statusPort})
	dir, confPath := nginxTestDir(t, conf)
	cmd := exec.Command(nginx, "-p", dir, "-c", confPath, "-e", "stderr", "-g", "daemon off;")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	waitFor(t, client, fmt.Sprintf("http://127.0.0.1:%d/status", statusPort), &logs)

	pub := proxied.Published
	for _, tc := range []struct {
		method, url, wantHost, wantURI string
	}{
		{"GET", "http://127.0.0.1:" + fmt.Sprint(x.Port) + pub.Scrape["tempo-worker/0"].Path, "worker-telemetry-proxy-worker-tempo-worker-0", "/metrics"},
		{"POST", pub.Loki.Map()["loki/0"], fmt.Sprintf("127.0.0.3:%d", port), "/loki/api/v1/push"},
		{"POST", pub.RemoteWrite[0], fmt.Sprintf("127.0.0.4:%d", port), "/api/v1/write"},
		{"POST", pub.CharmTracing["otlp_http"] + "/v1/traces", fmt.Sprintf("127.0.0.5:%d", port), "/v1/traces"},
		{"POST", pub.WorkloadTracing["otlp_http"] + "v1/traces", fmt.Sprintf("127.0.0.6:%d", port), "/base/v1/traces"},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader("payload"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", tc.method, tc.url, err, logs.String())
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s: status %d\n%s", tc.method, tc.url, resp.StatusCode, logs.String())
			continue
		}
		s := <-got
		if s.host != tc.wantHost || s.uri != tc.wantURI || (tc.method == "POST" && s.body != "payload") {
			t.Errorf("%s %s reached the backend as Host %q %s body %q, want Host %q %s", tc.method, tc.url, s.host, s.uri, s.body, tc.wantHost, tc.wantURI)
		}
	}
}

// waitFor polls url until nginx answers 200.
func waitFor(t *testing.T, client *http.Client, url string, logs *syncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx never served %s: %v\n%s", url, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
