package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// stopGrace is how long a workload gets after SIGTERM before SIGKILL
// (Tempo can hang on SIGTERM after serving a query, an upstream bug).
const stopGrace = 5 * time.Second

// readyTimeout bounds the wait for a worker's HTTP server to answer.
const readyTimeout = 2 * time.Minute

// workerKind is how a worker charm turns what the coordinator published
// into a running workload.
type workerKind struct {
	bin string
	// port serves /ready.
	port int
	// mounts are the directories the workload writes to, outside its
	// working directory, which the worker's container provides; each is
	// bind-mounted from a per-unit directory in a private mount namespace.
	mounts []string
	// args are the command-line arguments of the worker's Pebble service.
	args func(configFile, role string) []string
	// adapt is what the worker charm itself changes in the configuration
	// before writing it (nil: nothing).
	adapt func(u *workerUnit, published string) (string, error)
	// hold says why the worker charm would not start the workload with
	// this configuration ("" to start it); nil: always start.
	hold func(u *workerUnit, config string) string
	// tls: the worker charm writes the TLS files the coordinator publishes
	// (ca_cert, server_cert, the key from privkey_secret_id) where the
	// configuration expects them, and restarts the workload when they change.
	tls bool
}

// Where the worker charms write the coordinator's TLS material
// (cos-coordinated-workers' worker.py).
const (
	workerTLSDir = "/etc/worker"
	workerCADir  = "/usr/local/share/ca-certificates"
)

// workerTLSFiles are the TLS files the worker charm writes for its
// application, by path, read from the coordinator's app databag and the
// granted key secret as the worker charm reads them; nil without TLS.
func workerTLSFiles(t testing.TB, c *coordinator, w *workerApp) map[string][]byte {
	t.Helper()
	bag := w.rel.LocalAppData
	if bag["privkey_secret_id"] == "" {
		return nil
	}
	var ca, cert, id string
	for key, out := range map[string]*string{"ca_cert": &ca, "server_cert": &cert, "privkey_secret_id": &id} {
		if err := json.Unmarshal([]byte(bag[key]), out); err != nil {
			t.Fatalf("%s databag key %s: %v", w.name, key, err)
		}
	}
	secret := c.h.Model.Secret(id)
	if secret == nil || !slices.ContainsFunc(secret.Grants, func(g jujusim.SecretGrant) bool { return g.Relation == w.rel.ID }) {
		t.Fatalf("%s cannot read secret %s: not granted to its relation", w.name, id)
	}
	return map[string][]byte{
		workerTLSDir + "/ca.cert":     []byte(ca),
		workerTLSDir + "/server.cert": []byte(cert),
		workerTLSDir + "/private.key": []byte(secret.Content["private-key"]),
		workerCADir + "/ca.crt":       []byte(ca),
	}
}

// writeTLSFiles writes files (paths inside the unit's mounts) into the
// unit's mount directories; paths of the TLS mounts not in files are
// removed.
func writeTLSFiles(t testing.TB, u *workerUnit, files map[string][]byte) {
	t.Helper()
	for _, dir := range []string{workerTLSDir, workerCADir} {
		host := filepath.Join(u.dir, "mnt", strings.ReplaceAll(strings.Trim(dir, "/"), "/", "_"))
		if err := os.RemoveAll(host); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(host, 0o755); err != nil {
			t.Fatal(err)
		}
		for path, data := range files {
			if filepath.Dir(path) == dir {
				if err := os.WriteFile(filepath.Join(host, filepath.Base(path)), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// tempoWorker is the Tempo worker charm: `/bin/tempo
// -config.file=/etc/worker/config.yaml -target <role>`, `all` running as
// scalable-single-binary. The WAL is under /etc/tempo.
func tempoWorker(bin string) workerKind {
	return workerKind{
		bin: bin, port: 3200, mounts: []string{"/etc/tempo", workerTLSDir, workerCADir}, tls: true,
		args: func(configFile, role string) []string {
			if role == "all" {
				role = "scalable-single-binary"
			}
			return []string{"-config.file=" + configFile, "-target=" + role}
		},
		adapt: tempoWorkerAdapt,
		hold:  tempoWorkerHold,
	}
}

// tempoWorkerHold is the Tempo worker charm's guard: a worker whose role
// is metrics-generator does not start Tempo while the coordinator has no
// remote-write endpoint (no metrics_generator section in the config);
// it sets Blocked("No prometheus remote-write relation configured on the
// coordinator") instead. Tempo itself would exit at once: "no
// metrics_generator.storage.path configured".
func tempoWorkerHold(u *workerUnit, config string) string {
	if u.app.role != "metrics-generator" {
		return ""
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(config), &cfg); err == nil && cfg["metrics_generator"] != nil {
		return ""
	}
	return "No prometheus remote-write relation configured on the coordinator"
}

// tempoWorkerAdapt is the Tempo worker charm's only change to the
// configuration: when it runs the metrics-generator (roles all or
// metrics-generator) and the config has a metrics_generator section, it
// adds metrics_generator.registry.external_labels with its Juju topology.
// Without a remote-write relation (these tests) the section is absent and
// the configuration runs unchanged.
func tempoWorkerAdapt(u *workerUnit, published string) (string, error) {
	if u.app.role != "all" && u.app.role != "metrics-generator" {
		return published, nil
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(published), &cfg); err != nil {
		return "", fmt.Errorf("worker config is not YAML: %w", err)
	}
	mg, ok := cfg["metrics_generator"].(map[string]any)
	if !ok {
		return published, nil
	}
	app, _, _ := strings.Cut(u.name, "/")
	labels := map[string]any{
		"juju_model": "test-model", "juju_application": app, "juju_unit": u.name,
		"juju_charm": "tempo-worker-k8s",
	}
	reg, _ := mg["registry"].(map[string]any)
	if reg == nil {
		reg = map[string]any{}
	}
	reg["external_labels"] = labels
	mg["registry"] = reg
	out, err := yaml.Marshal(cfg)
	return string(out), err
}

// pyroscopeWorker is the Pyroscope worker charm: `/usr/bin/pyroscope
// -config.file=/etc/worker/config.yaml -target=<sorted roles>`, data under
// /pyroscope-data. It changes nothing in the configuration.
func pyroscopeWorker(bin string) workerKind {
	return workerKind{
		bin: bin, port: 4040, mounts: []string{"/pyroscope-data"},
		args: func(configFile, role string) []string {
			roles := strings.Split(role, ",")
			slices.Sort(roles)
			return []string{"-config.file=" + configFile, "-target=" + strings.Join(roles, ",")}
		},
	}
}

// workload is one running worker process.
type workload struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
	once    sync.Once
}

// exited reports whether the process has ended.
func (w *workload) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// fleet is every workload of a scenario, stopped together (in parallel)
// before the namespaces go.
type fleet struct {
	mu    sync.Mutex
	procs []*workload
	// hostsFile, when set, is every pod's /etc/hosts.
	hostsFile string
}

// newFleet registers the parallel stop in t.Cleanup: call it after the
// network is created, so it runs before the namespaces are deleted.
func newFleet(t testing.TB) *fleet {
	f := &fleet{}
	t.Cleanup(f.stopAll)
	return f
}

func (f *fleet) add(w *workload) {
	f.mu.Lock()
	f.procs = append(f.procs, w)
	f.mu.Unlock()
}

// stopAll stops every workload in parallel.
func (f *fleet) stopAll() {
	f.mu.Lock()
	procs := slices.Clone(f.procs)
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.stop()
		}()
	}
	wg.Wait()
}

// stop sends SIGTERM, then SIGKILL after stopGrace, and waits.
func (w *workload) stop() {
	w.once.Do(func() {
		if w.exited() {
			return
		}
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(stopGrace):
			_ = w.cmd.Process.Kill()
			<-w.done
		}
	})
}

// logTail returns the end of the workload's log.
func (w *workload) logTail(n int) string {
	data, _ := os.ReadFile(w.logPath)
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

// ensureMountPoints creates the (empty) directories the workloads' private
// bind mounts need as mount points (e.g. /etc/tempo). Nothing is written
// in them in the host's mount namespace; they are left in place because a
// concurrent run may be using them as mount points.
func ensureMountPoints(kind workerKind) error {
	for _, m := range kind.mounts {
		if err := os.MkdirAll(m, 0o755); err != nil {
			return fmt.Errorf("cannot create mount point %s: %w", m, err)
		}
	}
	return nil
}

// startWorkload runs the unit's workload with its config file inside its
// network namespace, a private UTS namespace (hostname = pod name) and a
// private mount namespace where each of the kind's mounts is a per-unit
// directory. It is stopped in t.Cleanup.
func startWorkload(t testing.TB, kind workerKind, u *workerUnit, configFile string) *workload {
	t.Helper()
	if err := ensureMountPoints(kind); err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	// A pod has its own hostname (the pod name), which Tempo and Pyroscope
	// use as their memberlist node name and ring instance id: the units
	// must not share the machine's.
	fmt.Fprintf(&script, "set -e\nhostname %s\n", shellQuote(strings.ReplaceAll(u.name, "/", "-")))
	if u.fleet.hostsFile != "" {
		fmt.Fprintf(&script, "mount --bind %s /etc/hosts\n", shellQuote(u.fleet.hostsFile))
	}
	for _, m := range kind.mounts {
		host := filepath.Join(u.dir, "mnt", strings.ReplaceAll(strings.Trim(m, "/"), "/", "_"))
		if err := os.MkdirAll(host, 0o755); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&script, "mount --bind %s %s\n", shellQuote(host), shellQuote(m))
	}
	fmt.Fprintf(&script, "cd %s\nexec \"$@\"\n", shellQuote(u.dir))
	args := []string{"netns", "exec", u.netns, "unshare", "--mount", "--uts", "--propagation", "private",
		"/bin/sh", "-c", script.String(), "sh", kind.bin}
	args = append(args, kind.args(configFile, u.app.role)...)

	logPath := filepath.Join(u.dir, fmt.Sprintf("workload-%d.log", time.Now().UnixNano()))
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// ip, unshare and sh exec each other, so the process is the workload
	// itself; it dies with the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", u.name, err)
	}
	w := &workload{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		w.waitErr = cmd.Wait()
		close(w.done)
	}()
	u.fleet.add(w)
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", u.name, w.logTail(3000))
		}
		// E2E_LOGS=<dir> keeps every workload log for inspection.
		if dir := os.Getenv("E2E_LOGS"); dir != "" {
			if data, err := os.ReadFile(w.logPath); err == nil {
				name := fmt.Sprintf("%s-%s-%s", t.Name(), strings.ReplaceAll(u.name, "/", "-"), filepath.Base(w.logPath))
				_ = os.MkdirAll(dir, 0o755)
				_ = os.WriteFile(filepath.Join(dir, name), data, 0o644)
			}
		}
	})
	return w
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// syncWorkers does what every worker charm does on a relation change:
// write the configuration the coordinator published (as the worker
// adapts it) and restart the workload if it changed. Units whose
// application has no configuration yet are left alone. It returns the
// units (re)started, after waiting for them to be ready.
func syncWorkers(t testing.TB, c *coordinator, n *network, kind workerKind) []*workerUnit {
	t.Helper()
	c.shareServiceName()
	var started []*workerUnit
	for _, u := range c.units() {
		published := c.publishedConfig(u.app)
		if published == "" {
			continue
		}
		cfg := published
		if kind.adapt != nil {
			var err error
			if cfg, err = kind.adapt(u, published); err != nil {
				t.Fatalf("%s: %v", u.name, err)
			}
		}
		var tlsFiles map[string][]byte
		if kind.tls {
			tlsFiles = workerTLSFiles(t, c, u.app)
		}
		if u.proc != nil && !u.proc.exited() && bytes.Equal(u.config, []byte(cfg)) &&
			maps.EqualFunc(u.tlsFiles, tlsFiles, bytes.Equal) {
			continue
		}
		if u.proc != nil {
			u.proc.stop()
			u.proc = nil
		}
		if kind.hold != nil {
			if why := kind.hold(u, cfg); why != "" {
				u.held = why
				continue
			}
		}
		u.held = ""
		file := filepath.Join(u.dir, "config.yaml")
		if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		u.config = []byte(cfg)
		if kind.tls {
			writeTLSFiles(t, u, tlsFiles)
			u.tlsFiles = tlsFiles
		}
		u.proc = startWorkload(t, kind, u, file)
		started = append(started, u)
	}
	start := time.Now()
	waitServing(t, n, kind, started)
	if testing.Verbose() && len(started) > 0 {
		t.Logf("%d workers (re)started, serving after %s", len(started), time.Since(start).Round(time.Millisecond))
	}
	return started
}

// stopUnit stops a unit's workload (its pod goes away).
func stopUnit(u *workerUnit) {
	if u.proc != nil {
		u.proc.stop()
	}
}

// waitServing waits, bounded by readyTimeout, until every unit's HTTP
// server answers /ready, whatever the answer. Waiting for 200 would cost
// over a minute per (re)start: Tempo's compactor waits a minute for its
// ring to be stable (and ingesters 15s, min_ready_duration) before /ready
// says ready, while ingesting and querying work meanwhile. The scenarios'
// bounded retries on writes and reads cover the rest.
func waitServing(t testing.TB, n *network, kind workerKind, units []*workerUnit) {
	t.Helper()
	client := n.httpClient()
	client.Timeout = 2 * time.Second
	deadline := time.Now().Add(readyTimeout)
	pending := slices.Clone(units)
	var last string
	for len(pending) > 0 {
		u := pending[0]
		if u.proc.exited() {
			t.Fatalf("%s exited (%v) before serving:\n%s", u.name, u.proc.waitErr, u.proc.logTail(3000))
		}
		ok, why := answers(client, fmt.Sprintf("http://%s:%d/ready", u.ip, kind.port))
		if ok {
			pending = pending[1:]
			continue
		}
		last = u.name + ": " + why
		if time.Now().After(deadline) {
			t.Fatalf("workers not serving within %s; last: %s", readyTimeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// answers reports whether GET url got an HTTP answer, or why not.
func answers(client *http.Client, url string) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), client.Timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return true, ""
}
