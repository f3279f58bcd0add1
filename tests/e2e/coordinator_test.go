package e2e

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/sandbox"
)

// product describes what differs between the Tempo and Pyroscope
// coordinators, as the tests see them.
type product struct {
	name      string // "tempo", "pyroscope"
	charmName string // the metadata.yaml name
	charmDir  string // repository directory holding metadata.yaml, config.yaml
	cluster   string // the cluster endpoint
	configKey string // the worker config key of the provider app databag
}

var (
	tempoProduct = product{
		name: "tempo", charmName: "tempo-coordinator-k8s", charmDir: ".",
		cluster: "tempo-cluster", configKey: "worker_config",
	}
	pyroscopeProduct = product{
		name: "pyroscope", charmName: "pyroscope-coordinator-k8s", charmDir: "charms/pyroscope-coordinator-k8s",
		cluster: "pyroscope-cluster", configKey: "config",
	}
)

// repoRoot is the repository root (tests run in tests/e2e).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s", dir)
	}
	return dir
}

var (
	dispatchOnce sync.Once
	dispatchBin  string
)

// dispatchBinary is $DISPATCH_BIN when set (`make e2e` builds
// build/dispatch first), else the charm binary built once per test binary
// from the checkout (the same `go build` as `make build`).
func dispatchBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("DISPATCH_BIN"); p != "" {
		return p
	}
	dispatchOnce.Do(func() {
		dispatchBin = jujusim.Build(t, "github.com/tempo-coordinator/coordinator/cmd/dispatch")
	})
	if dispatchBin == "" {
		t.Fatal("dispatch binary was not built")
	}
	return dispatchBin
}

// coordinator is the coordinator unit under test: the simulated model and
// Harness running the built dispatch binary, and the sandbox running real
// Pebble and nginx, connected to the scenario's network.
type coordinator struct {
	t        testing.TB
	p        product
	sb       *sandbox.Sandbox
	exporter *sandbox.Sandbox // the nginx-prometheus-exporter container
	h        *jujusim.Harness
	dispatch string
	sockets  string // COORDINATOR_PEBBLE_SOCKET_DIR

	s3      *s3Server
	s3Rel   *jujusim.Relation
	workers map[string]*workerApp // by application name
	fleet   *fleet
	hooks   int
	// hookTime is the time spent running hooks.
	hookTime time.Duration
	// exposed are the metric names the workers' /metrics served when
	// scrapeWorkers last scraped them.
	exposed map[string]bool
}

// newCoordinator starts the sandbox, wires it to the network and prepares
// the model (leader unit, config defaults, peers relation).
func newCoordinator(t testing.TB, p product, n *network, s3 *s3Server, config map[string]any) *coordinator {
	t.Helper()
	root := repoRoot(t)
	sb := sandbox.New(t, sandbox.Options{StopGrace: 5 * time.Second})
	n.attach(sb.NetnsPath(), coordinatorIP)

	m := jujusim.NewModel(p.charmName + "/0")
	m.Leader = true
	m.Config = configDefaults(t, filepath.Join(root, p.charmDir, "config.yaml"))
	for k, v := range config {
		m.Config[k] = v
	}
	m.Networks["juju-info"] = jujusim.DefaultNetwork(coordinatorIP)
	m.AddRelation("peers", m.App(), nil, nil)

	h := jujusim.NewHarness(t, m)
	// The charm directory: the product's metadata.yaml (dispatch reads the
	// charm name from it), config.yaml and actions.yaml.
	for _, f := range []string{"metadata.yaml", "config.yaml", "actions.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, p.charmDir, f))
		if err != nil {
			if f == "metadata.yaml" {
				t.Fatalf("charm metadata: %v", err)
			}
			continue
		}
		if err := os.WriteFile(filepath.Join(h.CharmDir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Its assets (rule files, dashboards) as make charm packs them.
	if err := os.Symlink(filepath.Join(root, p.charmDir, "src"), filepath.Join(h.CharmDir, "src")); err != nil {
		t.Fatal(err)
	}
	// The pod's second container: the real nginx-prometheus-exporter's
	// Pebble, in nginx's network namespace, with files of its own.
	exporter := sandbox.New(t, sandbox.Options{StopGrace: 5 * time.Second, JoinNetns: sb.NetnsPath(),
		Path: []string{filepath.Dir(exporterBinary(t))}})
	// Juju exposes each workload container's Pebble socket to the charm.
	sockets := filepath.Join(h.Dir, "containers")
	if err := sandbox.ContainerSockets(sockets, map[string]*sandbox.Sandbox{"nginx": sb, "nginx-prometheus-exporter": exporter}); err != nil {
		t.Fatal(err)
	}
	c := &coordinator{t: t, p: p, sb: sb, exporter: exporter, h: h, dispatch: dispatchBinary(t), sockets: sockets,
		s3: s3, workers: map[string]*workerApp{}, fleet: newFleet(t)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("coordinator status: %+v; juju-log:\n%s", c.h.Model.UnitStatus, c.logs())
		}
	})
	return c
}

// configDefaults reads the options' defaults from a charm's config.yaml,
// as Juju gives them to config-get.
func configDefaults(t testing.TB, path string) map[string]any {
	t.Helper()
	out := map[string]any{}
	data, err := os.ReadFile(path)
	if err != nil {
		return out // a charm without options
	}
	var cfg struct {
		Options map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"options"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for k, o := range cfg.Options {
		if o.Default != nil {
			out[k] = o.Default
		}
	}
	return out
}

// hook runs one hook and fails the test if the charm exits non-zero.
func (c *coordinator) hook(name string, opts jujusim.HookOptions) {
	c.t.Helper()
	if opts.Env == nil {
		opts.Env = map[string]string{}
	}
	opts.Env["COORDINATOR_PEBBLE_SOCKET_DIR"] = c.sockets
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := c.h.RunHook(ctx, c.dispatch, name, opts)
	c.hookTime += time.Since(start)
	if testing.Verbose() {
		c.t.Logf("hook %s: %s, %d tool calls", name, time.Since(start).Round(time.Millisecond), len(res.Calls))
	}
	if err != nil {
		c.t.Fatalf("hook %s: %v", name, err)
	}
	c.hooks++
	if res.ExitCode != 0 {
		c.t.Fatalf("hook %s exited %d:\n%s%s", name, res.ExitCode, res.Stdout, res.Stderr)
	}
	if s := strings.TrimSpace(res.Stderr); s != "" && testing.Verbose() {
		c.t.Logf("hook %s stderr: %s", name, s)
	}
}

// start runs the hooks of a fresh deployment: install, leader-elected,
// config-changed, then each container's pebble-ready.
func (c *coordinator) start() {
	c.t.Helper()
	for _, h := range []string{"install", "leader-elected", "config-changed", "nginx-pebble-ready", "nginx-prometheus-exporter-pebble-ready"} {
		c.hook(h, jujusim.HookOptions{})
	}
}

// relateS3 relates the coordinator to the S3 "integrator": the coordinator
// asks for a bucket, the integrator creates it and publishes the
// connection info.
func (c *coordinator) relateS3() {
	c.t.Helper()
	const app = "s3-integrator"
	c.s3Rel = c.h.Model.AddRelation("s3", app, nil, nil)
	c.hook("s3-relation-created", jujusim.HookOptions{Relation: c.s3Rel})
	c.s3Rel.AddUnit(app+"/0", nil)
	c.hook("s3-relation-joined", jujusim.HookOptions{Relation: c.s3Rel, RemoteUnit: app + "/0"})
	bucket := c.s3Rel.LocalAppData["bucket"]
	if bucket == "" {
		bucket = c.p.name
	}
	if err := c.s3.createBucket(bucket); err != nil {
		c.t.Fatalf("create bucket %q: %v", bucket, err)
	}
	c.s3Rel.RemoteAppData = c.s3.providerData()
	c.hook("s3-relation-changed", jujusim.HookOptions{Relation: c.s3Rel, RemoteUnit: app + "/0"})
}

// workerApp is one simulated worker application related over the cluster
// endpoint.
type workerApp struct {
	name  string
	role  string // the role it publishes ("all", "ingester", "querier,query-frontend" ...)
	rel   *jujusim.Relation
	units map[string]*workerUnit // by unit name
	next  int
}

// workerUnit is one unit of a worker application: its namespace and
// address (its pod), and the workload process once started.
type workerUnit struct {
	app   *workerApp
	fleet *fleet
	name  string // "tempo-ingester/0"
	netns string
	ip    string
	dir   string // persistent per-unit directory (data, config)
	proc  *workload
	// config is the configuration file the running process uses.
	config []byte
	// held is why the worker charm keeps the workload stopped ("" if not).
	held string
	// tlsFiles are the TLS files the running process uses, by path.
	tlsFiles map[string][]byte
}

// addWorker relates a new worker application with the role and count
// units, running the relation hooks as Juju would: created, then for each
// unit joined and changed (with its unit data), then changed for the
// application data.
func (c *coordinator) addWorker(n *network, app, role string, count int) *workerApp {
	c.t.Helper()
	w := &workerApp{name: app, role: role, units: map[string]*workerUnit{}}
	w.rel = c.h.Model.AddRelation(c.p.cluster, app, nil, nil)
	c.workers[app] = w
	c.hook(c.p.cluster+"-relation-created", jujusim.HookOptions{Relation: w.rel})
	// The worker leader publishes its role when it joins.
	w.rel.RemoteAppData = map[string]string{"role": jsonString(role)}
	for i := 0; i < count; i++ {
		c.addUnit(n, w)
	}
	return w
}

// addUnit adds one unit (a new pod) to the worker application.
func (c *coordinator) addUnit(n *network, w *workerApp) *workerUnit {
	c.t.Helper()
	netns, ip := n.addHost()
	u := &workerUnit{app: w, fleet: c.fleet, name: fmt.Sprintf("%s/%d", w.name, w.next), netns: netns, ip: ip}
	w.next++
	dir, err := os.MkdirTemp(c.t.TempDir(), "unit-")
	if err != nil {
		c.t.Fatal(err)
	}
	u.dir = dir
	w.units[u.name] = u
	topology, _ := json.Marshal(map[string]string{
		"model": c.h.Model.Name, "model_uuid": c.h.Model.UUID, "application": w.name,
		"unit": u.name, "charm_name": c.p.name + "-worker-k8s",
	})
	w.rel.AddUnit(u.name, nil)
	c.hook(c.p.cluster+"-relation-joined", jujusim.HookOptions{Relation: w.rel, RemoteUnit: u.name})
	// The worker unit publishes its address and topology.
	w.rel.RemoteUnits[u.name] = map[string]string{
		"address":       jsonString(ip),
		"juju_topology": string(topology),
	}
	c.hook(c.p.cluster+"-relation-changed", jujusim.HookOptions{Relation: w.rel, RemoteUnit: u.name})
	return u
}

// removeUnit takes a unit out of the relation (the departed hook); the
// caller stops its process.
func (c *coordinator) removeUnit(u *workerUnit) {
	c.t.Helper()
	w := u.app
	w.rel.RemoveUnit(u.name)
	delete(w.units, u.name)
	c.hook(c.p.cluster+"-relation-departed", jujusim.HookOptions{Relation: w.rel, RemoteUnit: u.name})
}

// removeWorker removes a whole worker application: departed for each
// unit, then broken.
func (c *coordinator) removeWorker(w *workerApp) {
	c.t.Helper()
	for _, name := range slices.Sorted(maps.Keys(w.units)) {
		c.removeUnit(w.units[name])
	}
	c.hook(c.p.cluster+"-relation-broken", jujusim.HookOptions{Relation: w.rel})
	delete(c.workers, w.name)
}

// publishedConfig is the worker configuration the coordinator published
// to the application (the JSON-decoded databag value), or "" if none.
func (c *coordinator) publishedConfig(w *workerApp) string {
	c.t.Helper()
	raw := w.rel.LocalAppData[c.p.configKey]
	if raw == "" {
		return ""
	}
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		c.t.Fatalf("%s databag key %s is not a JSON string: %v", w.name, c.p.configKey, err)
	}
	return s
}

// units lists every worker unit, sorted by name.
func (c *coordinator) units() []*workerUnit {
	var out []*workerUnit
	for _, w := range c.workers {
		for _, u := range w.units {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *workerUnit) int { return strings.Compare(a.name, b.name) })
	return out
}

// status is the unit's workload status, "level: message".
func (c *coordinator) status() string {
	return c.h.Model.UnitStatus.Status + ": " + c.h.Model.UnitStatus.Message
}

// logs returns the juju-log messages.
func (c *coordinator) logs() string {
	var b strings.Builder
	for _, l := range c.h.Model.Logs {
		fmt.Fprintf(&b, "  %s %s: %s\n", l.Hook, l.Level, l.Message)
	}
	return b.String()
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// scrapeWorkers relates a Prometheus to metrics-endpoint, reads the scrape
// jobs the coordinator published and scrapes every worker target as
// Prometheus would, with the job's scheme (trusting only roots under
// https; nil: the system's): each must answer /metrics in the Prometheus
// text format. It returns how many targets answered.
func (c *coordinator) scrapeWorkers(n *network, roots *x509.CertPool) int {
	c.t.Helper()
	rel := c.h.Model.AddRelation("metrics-endpoint", "prometheus", nil, map[string]map[string]string{"prometheus/0": {}})
	c.hook("metrics-endpoint-relation-joined", jujusim.HookOptions{Relation: rel, RemoteUnit: "prometheus/0"})
	var jobs []struct {
		Name          string `json:"job_name"`
		Path          string `json:"metrics_path"`
		Scheme        string `json:"scheme"`
		StaticConfigs []struct {
			Targets []string `json:"targets"`
		} `json:"static_configs"`
	}
	if err := json.Unmarshal([]byte(rel.LocalAppData["scrape_jobs"]), &jobs); err != nil {
		c.t.Fatalf("scrape_jobs %q: %v", rel.LocalAppData["scrape_jobs"], err)
	}
	// Tempo's targets are its telemetry proxy, at the coordinator's
	// service name.
	client := c.serviceClient(n)
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots}
	scraped, exporters := 0, 0
	for _, job := range jobs {
		for _, sc := range job.StaticConfigs {
			for _, target := range sc.Targets {
				scheme := cmp.Or(job.Scheme, "http")
				if port, ok := strings.CutPrefix(target, "*:"); ok {
					// Prometheus expands "*" to every coordinator unit's
					// address (its unit databag): this unit's exporter.
					c.scrapeExporter(rel.LocalUnitData["prometheus_scrape_unit_address"], port, scheme, cmp.Or(job.Path, "/metrics"), roots)
					exporters++
					continue
				}
				if c.p.name == "tempo" && (!strings.HasSuffix(target, ":3300") || !strings.HasPrefix(job.Path, "/proxy/worker/")) {
					c.t.Fatalf("job %s scrapes %s%s, not through the telemetry proxy", job.Name, target, job.Path)
				}
				resp, err := client.Get(scheme + "://" + target + job.Path)
				if err != nil {
					c.t.Fatalf("job %s: scraping %s: %v", job.Name, target, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "# TYPE ") {
					c.t.Fatalf("job %s: %s%s answered %s:\n%.300s", job.Name, target, job.Path, resp.Status, body)
				}
				c.expose(body)
				scraped++
			}
		}
	}
	if want := len(c.units()); scraped != want {
		c.t.Fatalf("scraped %d worker targets, the cluster has %d units: %s", scraped, want, rel.LocalAppData["scrape_jobs"])
	}
	if exporters != 1 {
		c.t.Fatalf("%d jobs for the coordinator units' exporters, want 1: %s", exporters, rel.LocalAppData["scrape_jobs"])
	}
	return scraped
}

// expose records the metric names of a scraped /metrics body.
func (c *coordinator) expose(body []byte) {
	if c.exposed == nil {
		c.exposed = map[string]bool{}
	}
	for name := range exposedNames(body) {
		c.exposed[name] = true
	}
}

// scrapeExporter scrapes this unit's nginx-prometheus-exporter as
// Prometheus would at unitAddr:port (the unit's pod address; under https
// verifying the certificate for unitAddr against roots): it must report
// nginx up, scraping nginx's stub_status through the config the charm gave
// it. The exporter starts with the hook that configured it: a few seconds
// are allowed.
func (c *coordinator) scrapeExporter(unitAddr, port, scheme, path string, roots *x509.CertPool) {
	c.t.Helper()
	if unitAddr == "" {
		c.t.Fatal("the unit published no prometheus_scrape_unit_address")
	}
	client := c.sb.HTTPClient()
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: unitAddr}
	url := scheme + "://" + net.JoinHostPort(coordinatorIP, port) + path
	deadline := time.Now().Add(15 * time.Second)
	for {
		var detail string
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && exposedNames(body)["nginx_up"] && strings.Contains(string(body), "\nnginx_up 1\n") {
				c.expose(body)
				return
			}
			detail = fmt.Sprintf("%s: %.300s", resp.Status, body)
		} else {
			detail = err.Error()
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the exporter at %s (for %s) does not report nginx up: %s\nexporter container log:\n%s", url, unitAddr, detail, tail(c.exporter.Log(), 3000))
		}
		time.Sleep(300 * time.Millisecond)
	}
}
