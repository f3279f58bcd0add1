// Command demo is `make demo`: a simulated Juju model drives the built
// coordinator charm through a deployment's life, with a real Pebble daemon
// managing Debian's nginx in private namespaces.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/sandbox"
	"github.com/tempo-coordinator/coordinator/internal/workload"
)

func main() {
	dispatch := flag.String("dispatch", "build/dispatch", "the built charm binary")
	quiet := flag.Bool("quiet", false, "do not print the rendered files")
	exporter := flag.String("exporter", "", "the nginx-prometheus-exporter binary the exporter container runs (none: no exporter container)")
	flag.Parse()
	if err := run(*dispatch, *exporter, !*quiet); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// worker is a simulated worker unit: its pod name, address and roles.
type worker struct {
	app, unit, fqdn, ip string
	roles               []string
}

type demo struct {
	h        *jujusim.Harness
	dispatch string
	sockets  string
	sb       *sandbox.Sandbox
	exporter *sandbox.Sandbox // nil without an exporter binary
	out      io.Writer
	workers  map[string][]worker // by app
	rels     map[string]*jujusim.Relation
	nextIP   int
}

func run(dispatchPath, exporterPath string, files bool) error {
	dispatch, err := filepath.Abs(dispatchPath)
	if err != nil {
		return err
	}
	if err := sandbox.Available(); err != nil {
		return fmt.Errorf("cannot run the demo here: %w", err)
	}
	work, err := os.MkdirTemp("", "coordinator-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	fmt.Println("building the simulated hook tools and Pebble...")
	toolsBin := filepath.Join(work, "jujusim")
	if out, err := exec.Command("go", "build", "-o", toolsBin, jujusim.SimPackage).CombinedOutput(); err != nil {
		return fmt.Errorf("cannot build the simulated hook tools: %v\n%s", err, out)
	}
	// Worker pods' DNS names resolve inside the sandbox, as they do in the cluster.
	hosts := map[string]string{}
	d := &demo{dispatch: dispatch, out: os.Stdout, workers: map[string][]worker{}, rels: map[string]*jujusim.Relation{}, nextIP: 10}
	plan := []struct{ app, role string }{
		{"tempo-worker", "all"}, {"tempo-querier", "querier"}, {"tempo-query-frontend", "query-frontend"},
		{"tempo-ingester", "ingester"}, {"tempo-ingester", "ingester"}, {"tempo-ingester", "ingester"},
		{"tempo-distributor", "distributor"}, {"tempo-compactor", "compactor"}, {"tempo-metrics-generator", "metrics-generator"},
	}
	for _, p := range plan {
		w := d.newWorker(p.app, p.role)
		hosts[w.fqdn] = w.ip
	}
	sb, err := sandbox.Start(sandbox.Options{Hosts: hosts})
	if err != nil {
		return fmt.Errorf("cannot start Pebble and nginx: %w", err)
	}
	defer sb.Close()
	d.sb = sb
	containers := map[string]*sandbox.Sandbox{"nginx": sb}
	if exporterPath != "" {
		if filepath.Base(exporterPath) != workload.ExporterService {
			return fmt.Errorf("the exporter binary must be named %s: %s", workload.ExporterService, exporterPath)
		}
		// The pod's second container: its own Pebble and files, nginx's
		// network namespace.
		exporter, err := sandbox.Start(sandbox.Options{JoinNetns: sb.NetnsPath(), Path: []string{filepath.Dir(exporterPath)}})
		if err != nil {
			return fmt.Errorf("cannot start the exporter container: %w", err)
		}
		defer exporter.Close()
		d.exporter = exporter
		containers[workload.ExporterService] = exporter
	}

	// The charm directory and the Pebble socket where Juju would put them.
	charmDir := filepath.Join(work, "charm")
	d.sockets = filepath.Join(work, "containers")
	for _, dir := range []string{charmDir, filepath.Join(work, "tools")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	for _, f := range []string{"metadata.yaml", "config.yaml", "actions.yaml"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("run the demo from the repository root: %w", err)
		}
		if err := os.WriteFile(filepath.Join(charmDir, f), raw, 0o644); err != nil {
			return err
		}
	}
	if err := sandbox.ContainerSockets(d.sockets, containers); err != nil {
		return err
	}
	model := jujusim.NewModel("tempo/0")
	model.Name = "demo"
	model.Leader = true
	model.Config = map[string]any{"retention-period": 720}
	d.h = &jujusim.Harness{Model: model, Dir: work, ToolsDir: filepath.Join(work, "tools"), CharmDir: charmDir}
	for _, name := range jujusim.ToolNames() {
		if err := os.Symlink(toolsBin, filepath.Join(d.h.ToolsDir, name)); err != nil {
			return err
		}
	}

	d.step("1. juju deploy tempo-coordinator-k8s tempo --trust")
	hooks := []string{"install", "leader-elected", "config-changed", "start", "nginx-pebble-ready"}
	if d.exporter != nil {
		hooks = append(hooks, workload.ExporterService+"-pebble-ready")
	}
	for _, hook := range hooks {
		if err := d.hook(hook, jujusim.HookOptions{}); err != nil {
			return err
		}
	}
	d.status()

	d.step("2. juju deploy tempo-worker-k8s tempo-worker; juju integrate tempo tempo-worker   (monolithic: role all)")
	if err := d.relate("tempo-worker"); err != nil {
		return err
	}
	d.status()

	d.step("3. juju integrate tempo s3   (the s3-integrator publishes endpoint, bucket and credentials)")
	s3 := model.AddRelation("s3", "s3-integrator", nil, map[string]map[string]string{"s3-integrator/0": {}})
	if err := d.hook("s3-relation-joined", jujusim.HookOptions{Relation: s3, RemoteUnit: "s3-integrator/0"}); err != nil {
		return err
	}
	s3.RemoteAppData = map[string]string{"endpoint": "http://minio.demo.svc.cluster.local:9000", "bucket": s3.LocalAppData["bucket"],
		"access-key": "demo-access-key", "secret-key": "demo-secret-key", "s3-uri-style": "path"}
	if err := d.hook("s3-relation-changed", jujusim.HookOptions{Relation: s3, RemoteUnit: "s3-integrator/0"}); err != nil {
		return err
	}
	d.status()
	d.traffic()
	if files {
		d.files()
	}

	d.step("4. go distributed: one worker app per role, 3 ingesters (nginx reloads, no restart)")
	before := d.nginxPID()
	for _, app := range []string{"tempo-querier", "tempo-query-frontend", "tempo-ingester", "tempo-distributor", "tempo-compactor", "tempo-metrics-generator"} {
		if err := d.relate(app); err != nil {
			return err
		}
	}
	d.status()
	fmt.Fprintf(d.out, "nginx master pid before %s, after %s (same process: reloaded, not restarted)\n", before, d.nginxPID())
	d.traffic()

	d.step("5. juju remove-relation tempo tempo-worker   (the temporary all-in-one worker leaves)")
	if err := d.unrelate("tempo-worker"); err != nil {
		return err
	}
	d.status()
	d.traffic()

	d.step("6. juju remove-relation tempo tempo-compactor   (a required role is gone: nginx stops)")
	if err := d.unrelate("tempo-compactor"); err != nil {
		return err
	}
	d.status()

	d.step("7. juju integrate tempo tempo-compactor   (consistent again: nginx starts)")
	if err := d.relate("tempo-compactor"); err != nil {
		return err
	}
	d.status()
	d.step("8. juju run tempo/0 update-status   (nothing changed: no write at all)")
	if err := d.hook("update-status", jujusim.HookOptions{}); err != nil {
		return err
	}
	return nil
}

func (d *demo) newWorker(app, role string) worker {
	n := len(d.workers[app])
	d.nextIP++
	w := worker{app: app, unit: fmt.Sprintf("%s/%d", app, n), roles: []string{role},
		fqdn: fmt.Sprintf("%s-%d.%s-endpoints.demo.svc.cluster.local", app, n, app),
		ip:   fmt.Sprintf("127.0.0.%d", d.nextIP)}
	d.workers[app] = append(d.workers[app], w)
	return w
}

func (d *demo) step(title string) { fmt.Fprintf(d.out, "\n\033[1m== %s\033[0m\n", title) }

// hook runs one hook and prints the hook-tool calls it made.
func (d *demo) hook(name string, opts jujusim.HookOptions) error {
	opts.Env = map[string]string{"COORDINATOR_PEBBLE_SOCKET_DIR": d.sockets}
	res, err := d.h.RunHook(context.Background(), d.dispatch, name, opts)
	if err != nil {
		return err
	}
	var counts []string
	for _, tool := range slices.Sorted(maps.Keys(res.Counts)) {
		counts = append(counts, fmt.Sprintf("%s×%d", tool, res.Counts[tool]))
	}
	fmt.Fprintf(d.out, "  hook %-32s exit %d, %2d tool calls: %s\n", name, res.ExitCode, len(res.Calls), strings.Join(counts, " "))
	for _, line := range strings.Split(strings.TrimSpace(res.Stderr), "\n") {
		if line != "" {
			fmt.Fprintf(d.out, "    log: %s\n", line)
		}
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("hook %s failed", name)
	}
	return nil
}

// relate relates a worker app: joined/changed per unit, as Juju fires them.
func (d *demo) relate(app string) error {
	ws := d.workers[app]
	rel := d.h.Model.AddRelation("tempo-cluster", app, nil, nil)
	d.rels[app] = rel
	for _, w := range ws {
		rel.AddUnit(w.unit, map[string]string{
			"address":       jsonText(w.fqdn),
			"juju_topology": jsonText(map[string]string{"model": "demo", "model_uuid": d.h.Model.UUID, "application": app, "unit": w.unit, "charm_name": "tempo-worker-k8s"}),
		})
		if err := d.hook("tempo-cluster-relation-joined", jujusim.HookOptions{Relation: rel, RemoteUnit: w.unit}); err != nil {
			return err
		}
	}
	rel.RemoteAppData["role"] = jsonText(ws[0].roles[0])
	return d.hook("tempo-cluster-relation-changed", jujusim.HookOptions{Relation: rel, RemoteUnit: ws[0].unit})
}

func (d *demo) unrelate(app string) error {
	rel := d.rels[app]
	for _, w := range d.workers[app] {
		rel.RemoveUnit(w.unit)
		if err := d.hook("tempo-cluster-relation-departed", jujusim.HookOptions{Relation: rel, RemoteUnit: w.unit}); err != nil {
			return err
		}
	}
	if err := d.hook("tempo-cluster-relation-broken", jujusim.HookOptions{Relation: rel}); err != nil {
		return err
	}
	d.h.Model.RemoveRelation(rel.ID)
	return nil
}

// status prints a `juju status`-like view of the coordinator and its workers.
func (d *demo) status() {
	m := d.h.Model
	tw := tabwriter.NewWriter(d.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nUnit\tWorkload\tPorts\tMessage")
	fmt.Fprintf(tw, "tempo/0*\t%s\t%s\t%s\n", m.UnitStatus.Status, strings.Join(m.OpenedPorts, ","), m.UnitStatus.Message)
	tw.Flush()
	tw = tabwriter.NewWriter(d.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nWorker app\tRole\tUnits\tConfig received\tworker_ports")
	for _, rel := range m.RelationsOf("tempo-cluster") {
		var role string
		_ = json.Unmarshal([]byte(rel.RemoteAppData["role"]), &role)
		got := "no"
		if cfg := rel.LocalAppData["worker_config"]; cfg != "" {
			got = fmt.Sprintf("yes (%d bytes)", len(cfg))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", rel.RemoteApp, role, len(rel.RemoteUnits), got, rel.LocalAppData["worker_ports"])
	}
	tw.Flush()
	fmt.Fprintf(d.out, "nginx: %s\n", serviceState(d.sb, workload.NginxService))
	if d.exporter != nil {
		fmt.Fprintf(d.out, "exporter: %s\n", serviceState(d.exporter, workload.ExporterService))
	}
}

// serviceState is the state of a container's Pebble service.
func serviceState(c *sandbox.Sandbox, service string) string {
	p, err := workload.Connect(c.SocketPath())
	if err != nil {
		return err.Error()
	}
	state, err := p.ServiceStatus(context.Background(), service)
	if err != nil {
		return err.Error()
	}
	if state == "" {
		return "no " + service + " service yet"
	}
	return state
}

func (d *demo) nginxPID() string {
	path, err := d.sb.HostPath("/tmp/nginx.pid")
	if err != nil {
		return "?"
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "none"
	}
	return strings.TrimSpace(string(raw))
}

// traffic asks nginx for its status page, as nginx-prometheus-exporter and
// the Pebble health check do. The demo's workers are simulated (their pod
// names resolve to this namespace's loopback, where nginx itself listens),
// so no trace request is sent; `make e2e` sends real traces to real Tempo.
func (d *demo) traffic() {
	hc := d.sb.HTTPClient()
	hc.Timeout = 5 * time.Second
	for _, req := range []struct{ method, url, what string }{
		{"GET", "http://127.0.0.1:8080/status", "nginx status"},
	} {
		r, _ := http.NewRequest(req.method, req.url, strings.NewReader("{}"))
		resp, err := hc.Do(r)
		if err != nil {
			fmt.Fprintf(d.out, "  %-15s via nginx → error: %v\n", req.what, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(d.out, "  %-15s via nginx %-32s → %d %s\n", req.what, req.url, resp.StatusCode, firstLine(string(body)))
	}
	if d.exporter == nil {
		return
	}
	// What Prometheus scrapes: the exporter's view of nginx.
	const metrics = "http://127.0.0.1:9113/metrics"
	resp, err := hc.Get(metrics)
	if err != nil {
		fmt.Fprintf(d.out, "  %-15s %-42s → error: %v\n", "exporter", metrics, err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	up := "no nginx_up sample"
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "nginx_up ") {
			up = line
		}
	}
	fmt.Fprintf(d.out, "  %-15s %-42s → %d %s\n", "exporter", metrics, resp.StatusCode, up)
}

// files prints what the charm rendered: nginx.conf from the container and
// the worker config from the databag.
func (d *demo) files() {
	if path, err := d.sb.HostPath("/etc/nginx/nginx.conf"); err == nil {
		if raw, err := os.ReadFile(path); err == nil {
			fmt.Fprintf(d.out, "\n--- /etc/nginx/nginx.conf in the nginx container ---\n%s", raw)
		}
	}
	for _, rel := range d.h.Model.RelationsOf("tempo-cluster") {
		var cfg string
		if json.Unmarshal([]byte(rel.LocalAppData["worker_config"]), &cfg) == nil {
			fmt.Fprintf(d.out, "\n--- worker_config published to %s ---\n%s", rel.RemoteApp, cfg)
			return
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
