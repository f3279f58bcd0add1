package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/testcert"
)

// traefikReadyTimeout bounds the wait for Traefik to route to nginx.
const traefikReadyTimeout = 60 * time.Second

// traefik is a real Traefik in a namespace of its own on the scenario's
// network (its "pod"), loaded with exactly what the coordinator published
// on the ingress relation: its static entry points merged into Traefik's
// own static configuration, as the Traefik charm merges them, and its
// dynamic configuration, verbatim, through the file provider.
type traefik struct {
	ip  string
	log string
	cmd *exec.Cmd
	// routers are the routers of the dynamic configuration loaded.
	routers []string
}

// traefikAPIPort is where Traefik's API answers (its "traefik" entry
// point), away from every port the coordinators route.
const traefikAPIPort = "9000"

// relateTraefik relates a Traefik application to the coordinator's
// ingress endpoint, publishing the address it serves at and its scheme
// ("http" or "https"), and returns the relation once the coordinator
// answered.
func (c *coordinator) relateTraefik(ip, scheme string) *jujusim.Relation {
	c.t.Helper()
	rel := c.h.Model.AddRelation("ingress", "traefik", nil, nil)
	c.hook("ingress-relation-created", jujusim.HookOptions{Relation: rel})
	rel.AddUnit("traefik/0", nil)
	c.hook("ingress-relation-joined", jujusim.HookOptions{Relation: rel, RemoteUnit: "traefik/0"})
	rel.RemoteAppData = map[string]string{"external_host": ip, "scheme": scheme}
	c.hook("ingress-relation-changed", jujusim.HookOptions{Relation: rel, RemoteUnit: "traefik/0"})
	if rel.LocalAppData["config"] == "" || rel.LocalAppData["raw"] != "False" {
		c.t.Fatalf("no route published on %s: %v; status %s", rel.Ref(), rel.LocalAppData, c.status())
	}
	return rel
}

// removeRelation removes a relation as Juju does: departed for each remote
// unit, then broken.
func (c *coordinator) removeRelation(rel *jujusim.Relation) {
	c.t.Helper()
	for _, u := range rel.Units() {
		rel.RemoveUnit(u)
		c.hook(rel.Endpoint+"-relation-departed", jujusim.HookOptions{Relation: rel, RemoteUnit: u})
	}
	c.hook(rel.Endpoint+"-relation-broken", jujusim.HookOptions{Relation: rel})
}

// hostname is the coordinator unit's in-cluster name, as it published it
// on peers (the name Traefik's services point at).
func (c *coordinator) hostname() string {
	c.t.Helper()
	for _, r := range c.h.Model.RelationsOf("peers") {
		if h := r.LocalUnitData["hostname"]; h != "" {
			return h
		}
	}
	c.t.Fatal("the coordinator published no hostname on peers")
	return ""
}

// traefikTLS is what the Traefik charm adds when it serves https: its own
// certificate (for its address) and the CA it trusts for https services
// (the coordinator's, which it receives over receive-ca-cert).
type traefikTLS struct {
	cert, key string // PEM
	backendCA string // PEM
}

// relateTestCA relates the coordinator to a certificates provider with a
// test CA: in-cluster clients trust it with the config returned, and so
// does Traefik with the options returned (its own certificate still to
// add with certify).
func (c *coordinator) relateTestCA() (*tls.Config, *traefikTLS) {
	c.t.Helper()
	provider, err := jujusim.NewTLSProvider()
	if err != nil {
		c.t.Fatal(err)
	}
	c.relateCertificates(provider)
	return &tls.Config{RootCAs: provider.CertPool(), ServerName: c.appFQDN()}, &traefikTLS{backendCA: provider.CAPEM}
}

// certify gives Traefik a certificate for its address ip, and returns the
// config of a client that trusts it.
func (o *traefikTLS) certify(t *testing.T, ip string) *tls.Config {
	t.Helper()
	cert, key, pool := testcert.SelfSigned(t, ip)
	o.cert, o.key = string(cert), string(key)
	return &tls.Config{RootCAs: pool}
}

// startTraefik runs Traefik in the namespace netns (address ip) with the
// route published on rel. Kubernetes' DNS is played by the namespace's
// /etc/hosts: the coordinator unit's name resolves to its sandbox address.
// With tlsOpts, Traefik serves https as the Traefik charm configures it:
// a "-tls" twin of every published router (same rule, service and entry
// points, without the redirect middlewares) with its certificate as the
// default one, and the coordinator's CA trusted for https services.
func startTraefik(t *testing.T, c *coordinator, netns, ip string, rel *jujusim.Relation, tlsOpts *traefikTLS) *traefik {
	t.Helper()
	bin := requireBinary(t, "TRAEFIK_BIN", "traefik")
	dir := t.TempDir()
	dynamicYAML := []byte(rel.LocalAppData["config"])
	if tlsOpts != nil {
		dynamicYAML = withTLSRouters(t, dir, dynamicYAML, tlsOpts)
	}
	dynamic := filepath.Join(dir, "dynamic.yaml")
	if err := os.WriteFile(dynamic, dynamicYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	// Traefik's own static configuration, as the Traefik charm writes it
	// (its web entry point, the file provider), with the coordinator's
	// entry points merged in.
	static := map[string]any{}
	if err := yaml.Unmarshal([]byte(rel.LocalAppData["static"]), &static); err != nil {
		t.Fatalf("published static config: %v\n%s", err, rel.LocalAppData["static"])
	}
	entryPoints, _ := static["entryPoints"].(map[string]any)
	if entryPoints == nil {
		entryPoints = map[string]any{}
	}
	entryPoints["web"] = map[string]any{"address": ":80"}
	entryPoints["websecure"] = map[string]any{"address": ":443"}
	static["entryPoints"] = entryPoints
	static["providers"] = map[string]any{"file": map[string]any{"filename": dynamic}}
	static["global"] = map[string]any{"checkNewVersion": false, "sendAnonymousUsage": false}
	static["log"] = map[string]any{"level": "DEBUG"}
	static["api"] = map[string]any{"insecure": true}
	entryPoints["traefik"] = map[string]any{"address": ":" + traefikAPIPort}
	if tlsOpts != nil {
		ca := filepath.Join(dir, "backend-ca.pem")
		if err := os.WriteFile(ca, []byte(tlsOpts.backendCA), 0o644); err != nil {
			t.Fatal(err)
		}
		static["serversTransport"] = map[string]any{"rootCAs": []string{ca}}
	}
	staticYAML, err := yaml.Marshal(static)
	if err != nil {
		t.Fatal(err)
	}
	staticPath := filepath.Join(dir, "traefik.yaml")
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(staticPath, staticYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"+coordinatorIP+" "+c.hostname()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := &traefik{ip: ip, log: filepath.Join(dir, "traefik.log"), routers: routerNames(t, dynamicYAML)}
	logf, err := os.Create(tr.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	script := "set -e\nmount --bind " + shellQuote(hosts) + " /etc/hosts\nexec \"$@\"\n"
	tr.cmd = exec.Command("ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private",
		"/bin/sh", "-c", script, "sh", bin, "--configFile="+staticPath)
	tr.cmd.Stdout, tr.cmd.Stderr = logf, logf
	tr.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := tr.cmd.Start(); err != nil {
		t.Fatalf("start traefik: %v", err)
	}
	done := make(chan struct{})
	go func() { tr.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		tr.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			tr.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			data, _ := os.ReadFile(tr.log)
			t.Logf("traefik static config:\n%s\ndynamic config:\n%s\ntraefik log (tail):\n%s",
				staticYAML, dynamicYAML, tail(string(data), 4000))
		}
	})
	return tr
}

// withTLSRouters returns the published dynamic configuration with what
// the Traefik charm adds for https (its generate_tls_config_for_route for
// an IP host): a "<router>-tls" twin of every router with tls: {}, on the
// router's first entry point (websecure for web), without middlewares, and
// Traefik's certificate (written to dir) as the default one.
func withTLSRouters(t *testing.T, dir string, published []byte, opts *traefikTLS) []byte {
	t.Helper()
	var dyn map[string]any
	if err := yaml.Unmarshal(published, &dyn); err != nil {
		t.Fatalf("published dynamic config: %v\n%s", err, published)
	}
	httpCfg, _ := dyn["http"].(map[string]any)
	routers, _ := httpCfg["routers"].(map[string]any)
	if len(routers) == 0 {
		t.Fatalf("no routers in the published dynamic config:\n%s", published)
	}
	for name, r := range maps.Clone(routers) {
		router := r.(map[string]any)
		// Its first entry point, or websecure for web.
		entryPoint := "websecure"
		if eps, _ := router["entryPoints"].([]any); len(eps) > 0 && eps[0] != "web" {
			entryPoint = eps[0].(string)
		}
		routers[name+"-tls"] = map[string]any{
			"rule": router["rule"], "service": router["service"], "entryPoints": []string{entryPoint},
			"tls": map[string]any{},
		}
	}
	cert, key := filepath.Join(dir, "traefik.crt"), filepath.Join(dir, "traefik.key")
	if err := os.WriteFile(cert, []byte(opts.cert), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte(opts.key), 0o600); err != nil {
		t.Fatal(err)
	}
	dyn["tls"] = map[string]any{"stores": map[string]any{"default": map[string]any{
		"defaultCertificate": map[string]any{"certFile": cert, "keyFile": key}}}}
	out, err := yaml.Marshal(dyn)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// redirectsToHTTPS checks that plain HTTP to Traefik at url is redirected
// to the same URL over https (the redirect middlewares published for
// Traefik's https scheme).
func redirectsToHTTPS(t *testing.T, client *http.Client, url string) {
	t.Helper()
	plain := *client
	plain.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := plain.Get(url)
	if err != nil {
		t.Fatalf("plain HTTP to Traefik: %v", err)
	}
	resp.Body.Close()
	want := "https://" + strings.TrimPrefix(url, "http://")
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != want {
		t.Fatalf("plain HTTP to %s: %s, Location %q; want a redirect to %s", url, resp.Status, resp.Header.Get("Location"), want)
	}
}

// routerNames lists the HTTP routers of a dynamic configuration.
func routerNames(t *testing.T, dynamic []byte) []string {
	t.Helper()
	var cfg struct {
		HTTP struct {
			Routers map[string]any `yaml:"routers"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(dynamic, &cfg); err != nil {
		t.Fatalf("dynamic config: %v\n%s", err, dynamic)
	}
	return slices.Sorted(maps.Keys(cfg.HTTP.Routers))
}

// allRoutersEnabled checks, through Traefik's API, that Traefik took every
// router of the configuration it was given (a router it rejects, e.g. for
// a middleware or service it cannot build, is disabled with an error).
func (tr *traefik) allRoutersEnabled(t *testing.T, client *http.Client) {
	t.Helper()
	resp, err := client.Get("http://" + net.JoinHostPort(tr.ip, traefikAPIPort) + "/api/http/routers")
	if err != nil {
		t.Fatalf("Traefik's API: %v", err)
	}
	defer resp.Body.Close()
	var routers []struct {
		Name   string   `json:"name"`
		Status string   `json:"status"`
		Errors []string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&routers); err != nil {
		t.Fatalf("Traefik's routers: %s: %v", resp.Status, err)
	}
	got := map[string]string{}
	for _, r := range routers {
		got[r.Name] = r.Status
		if r.Status != "enabled" || len(r.Errors) > 0 {
			t.Errorf("Traefik's router %s: %s %v", r.Name, r.Status, r.Errors)
		}
	}
	for _, name := range tr.routers {
		if got[name+"@file"] == "" {
			t.Errorf("Traefik did not load router %s (it has %v)", name, slices.Sorted(maps.Keys(got)))
		}
	}
}

// waitRoute waits (bounded) until GET url through Traefik answers 200.
func waitRoute(t *testing.T, client *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(traefikReadyTimeout)
	for {
		var detail string
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			detail = fmt.Sprintf("%s %q", resp.Status, body)
		} else {
			detail = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("Traefik does not route %s within %s: %s", url, traefikReadyTimeout, detail)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// hubDialer dials from the hub namespace (outside the coordinator's and
// Traefik's pods), as a client outside the cluster would reach Traefik.
func hubDialer(n *network) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) { return n.dial(ctx, "tcp", addr) }
}

// receivers decodes the tracing provider databag: protocol name → URL.
func receivers(t *testing.T, rel *jujusim.Relation) map[string]string {
	t.Helper()
	var list []struct {
		Protocol struct{ Name string } `json:"protocol"`
		URL      string                `json:"url"`
	}
	if err := json.Unmarshal([]byte(rel.LocalAppData["receivers"]), &list); err != nil {
		t.Fatalf("tracing receivers %q: %v", rel.LocalAppData["receivers"], err)
	}
	out := map[string]string{}
	for _, r := range list {
		out[r.Protocol.Name] = r.URL
	}
	return out
}

// TestTempoIngress: a real Traefik in front of the coordinator's nginx,
// configured with exactly the route the coordinator published. OTLP/HTTP
// and OTLP/gRPC traces go in at the receiver URLs published on tracing
// (Traefik's), and come back through Traefik's query route at the URL
// published on tempo-api; once the ingress is removed, every URL is
// in-cluster again.
func TestTempoIngress(t *testing.T) { tempoThroughTraefik(t, false) }

// TestTempoIngressTLS: the same with TLS at both hops: Traefik serves
// https (its scheme on the relation; plain HTTP is redirected), and the
// coordinator has a certificate, so Traefik reaches nginx over https (gRPC
// included) trusting the coordinator's CA.
func TestTempoIngressTLS(t *testing.T) { tempoThroughTraefik(t, true) }

func tempoThroughTraefik(t *testing.T, secure bool) {
	e := newTempoEnv(t)
	e.c.addWorker(e.n, "tempo-worker", "all", 1)
	c := e.c
	scheme, tlsOpts := "http", (*traefikTLS)(nil)
	var clientTLS *tls.Config
	if secure {
		var trusting *tls.Config
		trusting, tlsOpts = c.relateTestCA()
		if err := e.client.useTLS(trusting); err != nil {
			t.Fatal(err)
		}
		scheme = "https"
	}
	e.sync()
	tracing := c.h.Model.AddRelation("tracing", "otel-collector", map[string]string{"receivers": `["otlp_http","otlp_grpc"]`},
		map[string]map[string]string{"otel-collector/0": {}})
	c.hook("tracing-relation-changed", jujusim.HookOptions{Relation: tracing, RemoteUnit: "otel-collector/0"})
	inCluster := receivers(t, tracing)
	api := c.h.Model.AddRelation("tempo-api", "consumer", nil, map[string]map[string]string{"consumer/0": {}})
	c.hook("tempo-api-relation-joined", jujusim.HookOptions{Relation: api, RemoteUnit: "consumer/0"})

	netns, ip := e.n.addHost()
	ingress := c.relateTraefik(ip, scheme)
	urls := receivers(t, tracing)
	if urls["otlp_http"] != scheme+"://"+ip+":4318" || urls["otlp_grpc"] != ip+":4317" {
		t.Fatalf("receivers published with Traefik ready: %v", urls)
	}
	var httpAPI struct {
		Direct  string `json:"direct_url"`
		Ingress string `json:"ingress_url"`
	}
	if err := json.Unmarshal([]byte(api.LocalAppData["http"]), &httpAPI); err != nil || httpAPI.Ingress != scheme+"://"+ip+":3200/" {
		t.Fatalf("tempo-api http = %q (%v)", api.LocalAppData["http"], err)
	}

	client := e.n.httpClient()
	if secure {
		clientTLS = tlsOpts.certify(t, ip)
		client.Transport.(*http.Transport).TLSClientConfig = clientTLS
	}
	tr := startTraefik(t, c, netns, ip, ingress, tlsOpts)
	// Tempo's /echo answers as soon as its HTTP server runs; /ready waits
	// for the compactor ring to be stable for a minute first.
	waitRoute(t, client, httpAPI.Ingress+"api/echo")
	tr.allRoutersEnabled(t, client)
	if secure {
		redirectsToHTTPS(t, client, "http://"+ip+":3200/api/echo")
		redirectsToHTTPS(t, client, "http://"+ip+":4318/v1/traces")
	}
	via, err := dialTempo(client, hubDialer(e.n), clientTLS, urls["otlp_http"], urls["otlp_grpc"], httpAPI.Ingress)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(via.close)
	throughTraefik := *e
	throughTraefik.client = via
	traces := throughTraefik.send("e2e-ingress")
	found, first := throughTraefik.readBack(traces, "", true)

	// The ingress goes: every URL is in-cluster again.
	c.removeRelation(ingress)
	if urls = receivers(t, tracing); !maps.Equal(urls, inCluster) || !strings.HasPrefix(urls["otlp_http"], scheme+"://tempo-coordinator-k8s.") {
		t.Errorf("receivers after the ingress left: %v, want the in-cluster ones %v", urls, inCluster)
	}
	if strings.Contains(api.LocalAppData["http"], "ingress_url") {
		t.Errorf("tempo-api after the ingress left: %s", api.LocalAppData["http"])
	}
	report(t, "through traefik %s (%s): traces=%d spans sent=%d found=%d first read-back=%s total=%s status=%q",
		ip, scheme, len(traces), spans(traces), found, first.Round(time.Millisecond), time.Since(e.start).Round(time.Second), c.status())
}

// TestPyroscopeIngress: a real Traefik in front of the coordinator's nginx:
// Pyroscope's UI and /ingest under the path prefix of the URL the status
// gives ("UI ready at ..."), OTLP profiles over gRPC at the endpoint
// published on profiling, both read back through Traefik's prefix.
func TestPyroscopeIngress(t *testing.T) { pyroscopeThroughTraefik(t, false) }

// TestPyroscopeIngressTLS: the same with Traefik serving https and the
// coordinator a certificate. Traefik's https twin of the web router (on
// its websecure entry point, as the Traefik charm adds it) has none of
// the published middlewares, so the path reaches nginx with its prefix,
// which nginx removes; the reference's routes answer 404 there.
func TestPyroscopeIngressTLS(t *testing.T) { pyroscopeThroughTraefik(t, true) }

func pyroscopeThroughTraefik(t *testing.T, secure bool) {
	e := newPyroscopeEnv(t)
	w := e.c.addWorker(e.n, "pyroscope-worker", "all", 1)
	c := e.c
	scheme, tlsOpts := "http", (*traefikTLS)(nil)
	var clientTLS *tls.Config
	if secure {
		var trusting *tls.Config
		trusting, tlsOpts = c.relateTestCA()
		e.useTLS(trusting)
		scheme = "https"
	}
	profiling := c.h.Model.AddRelation("profiling", "otel-collector", nil, map[string]map[string]string{"otel-collector/0": {}})
	c.hook("profiling-relation-joined", jujusim.HookOptions{Relation: profiling, RemoteUnit: "otel-collector/0"})

	netns, ip := e.n.addHost()
	ingress := c.relateTraefik(ip, scheme)
	prefix := "/" + c.h.Model.Name + "-" + c.h.Model.App()
	base := scheme + "://" + ip + prefix
	if c.status() != "active: UI ready at "+base {
		t.Fatalf("status %q, want the UI at %s", c.status(), base)
	}
	if !strings.Contains(c.publishedConfig(w), "base-url: "+prefix) {
		t.Fatalf("worker config without api.base-url %s:\n%s", prefix, c.publishedConfig(w))
	}
	var grpcAddr string
	if err := json.Unmarshal([]byte(profiling.LocalAppData["otlp_grpc_endpoint_url"]), &grpcAddr); err != nil || grpcAddr != ip+":42424" {
		t.Fatalf("profiling endpoint %q (%v)", profiling.LocalAppData["otlp_grpc_endpoint_url"], err)
	}
	if insecure := profiling.LocalAppData["insecure"]; insecure != strconv.FormatBool(!secure) {
		t.Errorf("profiling insecure = %q with Traefik's scheme %s", insecure, scheme)
	}
	syncWorkers(t, c, e.n, e.kind)

	client := e.n.httpClient()
	client.Timeout = 15 * time.Second
	creds := insecure.NewCredentials()
	if secure {
		clientTLS = tlsOpts.certify(t, ip)
		client.Transport.(*http.Transport).TLSClientConfig = clientTLS
		creds = credentials.NewTLS(clientTLS)
	}
	tr := startTraefik(t, c, netns, ip, ingress, tlsOpts)
	waitRoute(t, client, base+"/")
	tr.allRoutersEnabled(t, client)
	if secure {
		redirectsToHTTPS(t, client, "http://"+ip+prefix+"/")
	}
	// The UI: Pyroscope serves its UI page at "/" (this Pyroscope is built
	// without the UI's assets, so the page says so; the route is what is
	// checked here).
	resp, err := client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "This route is not available in dev mode") {
		t.Fatalf("UI through Traefik: %s: %.300s", resp.Status, page)
	}

	conn, err := grpc.NewClient("passthrough:///"+grpcAddr, grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(hubDialer(e.n)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	throughTraefik := *e
	throughTraefik.http, throughTraefik.grpc, throughTraefik.base = client, conn, base
	throughTraefik.push("e2eapp-ingress")
	found, first := throughTraefik.readBack("e2eapp-ingress")
	throughTraefik.pushOTLP("e2eapp-ingress-otlp")
	foundOTLP, firstOTLP := throughTraefik.readBack("e2eapp-ingress-otlp")

	c.removeRelation(ingress)
	if strings.Contains(c.publishedConfig(w), "base-url") || !strings.HasPrefix(c.status(), "active: UI ready at "+scheme+"://pyroscope-coordinator-k8s.") {
		t.Errorf("after the ingress left: status %q, config:\n%s", c.status(), c.publishedConfig(w))
	}
	report(t, "through traefik %s: ingest samples sent=%d found ticks=%d (ns) first read-back=%s; otlp-grpc %s: found ticks=%d first read-back=%s; total=%s",
		base, profileSamples(), found, first.Round(time.Millisecond), grpcAddr, foundOTLP, firstOTLP.Round(time.Millisecond),
		time.Since(e.start).Round(time.Second))
}
