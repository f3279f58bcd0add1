// Package charm_test tests the product as Juju meets it: the dispatch
// binary inside the packed .charm, run black-box with nothing but the
// environment, the (simulated) hook tools on PATH and a Pebble socket.
package charm_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/products"
	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jujusim.CleanupBuilds()
	os.RemoveAll(packDir)
	os.Exit(code)
}

var (
	packMu   sync.Mutex
	packDir  string
	dispatch string
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func goCmd(args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// packedCharm builds the dispatch binary (once per test binary) and packs
// the charm exactly as `make charm` does; it returns the .charm path.
func packedCharm(t *testing.T, name string) string {
	t.Helper()
	prereq.Heavy(t)
	packMu.Lock()
	defer packMu.Unlock()
	if packDir == "" {
		dir, err := os.MkdirTemp("", "charm-test-")
		require.NoError(t, err)
		bin := filepath.Join(dir, "dispatch")
		require.NoError(t, goCmd("build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/dispatch"))
		packDir, dispatch = dir, bin
	}
	out := filepath.Join(packDir, name+".charm")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	require.NoError(t, goCmd("run", "./tools/charmpack", "-dispatch", dispatch, "-charm", name, "-out", out))
	return out
}

// unpack extracts a .charm as Juju does and returns the charm directory.
func unpack(t *testing.T, charmFile string) string {
	t.Helper()
	zr, err := zip.OpenReader(charmFile)
	require.NoError(t, err)
	defer zr.Close()
	dir := t.TempDir()
	for _, f := range zr.File {
		dest := filepath.Join(dir, f.Name)
		require.NoError(t, os.MkdirAll(filepath.Dir(dest), 0o755))
		in, err := f.Open()
		require.NoError(t, err)
		out, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, f.Mode().Perm())
		require.NoError(t, err)
		_, err = io.Copy(out, in)
		require.NoError(t, err)
		in.Close()
		require.NoError(t, out.Close())
	}
	return dir
}

func TestPackedCharmContents(t *testing.T) {
	for _, c := range products.Charms() {
		charm := c.Product.CharmName
		t.Run(charm, func(t *testing.T) {
			zr, err := zip.OpenReader(packedCharm(t, charm))
			require.NoError(t, err)
			defer zr.Close()
			modes := map[string]os.FileMode{}
			for _, f := range zr.File {
				modes[f.Name] = f.Mode()
			}
			for _, name := range []string{"dispatch", "metadata.yaml", "config.yaml", "actions.yaml", "manifest.yaml"} {
				assert.Contains(t, modes, name)
			}
			assert.Equal(t, os.FileMode(0o755), modes["dispatch"].Perm(), "dispatch must be executable")
			assert.True(t, modes["dispatch"].IsRegular())
			assert.Equal(t, os.FileMode(0o644), modes["metadata.yaml"].Perm())
			for name := range modes {
				assert.False(t, strings.HasSuffix(name, ".go"), "no Go source in the charm: %s", name)
			}
			dir := unpack(t, packedCharm(t, charm))
			meta, err := os.ReadFile(filepath.Join(dir, "metadata.yaml"))
			require.NoError(t, err)
			assert.Contains(t, string(meta), "name: "+charm+"\n")
			head := make([]byte, 4)
			f, err := os.Open(filepath.Join(dir, "dispatch"))
			require.NoError(t, err)
			_, err = io.ReadFull(f, head)
			f.Close()
			require.NoError(t, err)
			assert.Equal(t, "\x7fELF", string(head), "dispatch is the Go binary")
			out, err := exec.Command(filepath.Join(dir, "dispatch"), "version").CombinedOutput()
			require.NoError(t, err, string(out))
			assert.True(t, strings.HasPrefix(string(out), "dispatch "))
		})
	}
}

// env is one packed charm under a simulated model.
type env struct {
	t        *testing.T
	h        *jujusim.Harness
	dispatch string
	charm    string
	cluster  string
}

func newEnv(t *testing.T, charm string, leader bool) *env {
	t.Helper()
	dir := unpack(t, packedCharm(t, charm))
	app, _, _ := strings.Cut(charm, "-")
	m := jujusim.NewModel(app + "/0")
	m.Leader = leader
	h := jujusim.NewHarness(t, m)
	return &env{t: t, h: h, dispatch: filepath.Join(dir, "dispatch"), charm: dir, cluster: app + "-cluster"}
}

// hook runs a hook; the nginx container is "not ready" (no Pebble socket)
// unless the test points COORDINATOR_PEBBLE_SOCKET_DIR elsewhere.
func (e *env) hook(name string, opts jujusim.HookOptions) jujusim.HookResult {
	e.t.Helper()
	opts.CharmDir = e.charm
	if opts.Env == nil {
		opts.Env = map[string]string{}
	}
	if _, ok := opts.Env["COORDINATOR_PEBBLE_SOCKET_DIR"]; !ok {
		opts.Env["COORDINATOR_PEBBLE_SOCKET_DIR"] = e.t.TempDir()
	}
	res, err := e.h.RunHook(context.Background(), e.dispatch, name, opts)
	require.NoError(e.t, err)
	require.Equal(e.t, 0, res.ExitCode, "hook %s failed:\nstdout: %s\nstderr: %s", name, res.Stdout, res.Stderr)
	return res
}

func (e *env) status() string {
	return e.h.Model.UnitStatus.Status + ": " + e.h.Model.UnitStatus.Message
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (e *env) addWorker(app, role string, addresses ...string) *jujusim.Relation {
	units := map[string]map[string]string{}
	for i, a := range addresses {
		unit := fmt.Sprintf("%s/%d", app, i)
		units[unit] = map[string]string{
			"address":       jsonString(a),
			"juju_topology": jsonString(map[string]string{"model": "test-model", "model_uuid": "u", "application": app, "unit": unit, "charm_name": "worker"}),
		}
	}
	return e.h.Model.AddRelation(e.cluster, app, map[string]string{"role": jsonString(role)}, units)
}

func (e *env) addS3() *jujusim.Relation {
	return e.h.Model.AddRelation("s3", "s3-integrator", map[string]string{
		"endpoint": "http://minio.test-model.svc.cluster.local:9000", "bucket": "traces",
		"access-key": "AKIAEXAMPLE", "secret-key": "not-a-real-secret", "s3-uri-style": "path",
	}, map[string]map[string]string{"s3-integrator/0": {}})
}

// workerConfig decodes the config published to a worker relation.
func workerConfig(t *testing.T, rel *jujusim.Relation, key string) string {
	t.Helper()
	raw, ok := rel.LocalAppData[key]
	require.True(t, ok, "no %s published to %s", key, rel.Ref())
	var s string
	require.NoError(t, json.Unmarshal([]byte(raw), &s))
	return s
}

func TestPackedDispatchRunsEveryHookKind(t *testing.T) {
	for _, c := range products.Charms() {
		charm := c.Product.CharmName
		t.Run(charm, func(t *testing.T) {
			e := newEnv(t, charm, true)
			for _, hook := range []string{"install", "leader-elected", "config-changed", "update-status", "start"} {
				e.hook(hook, jujusim.HookOptions{})
				assert.NotEmpty(t, e.h.Model.UnitStatus.Status, "%s set no status", hook)
			}
			rel := e.addWorker("worker", "all", "10.1.0.5")
			e.hook(e.cluster+"-relation-changed", jujusim.HookOptions{Relation: rel, RemoteUnit: "worker/0"})
			assert.Equal(t, "blocked: [s3] Missing S3 integration.", e.status())
		})
	}
}

func TestTempoStatuses(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	e.hook("install", jujusim.HookOptions{})
	assert.Equal(t, "blocked: [consistency] Missing any worker relation.", e.status())

	querier := e.addWorker("tempo-querier", "querier", "10.1.0.5")
	e.hook("tempo-cluster-relation-changed", jujusim.HookOptions{Relation: querier, RemoteUnit: "tempo-querier/0"})
	assert.Contains(t, e.status(), "blocked: [consistency] Cluster inconsistent: missing query-frontend, ingester, distributor, compactor")

	e.h.Model.RemoveRelation(querier.ID)
	all := e.addWorker("tempo-worker", "all", "10.1.0.6")
	e.hook("tempo-cluster-relation-changed", jujusim.HookOptions{Relation: all, RemoteUnit: "tempo-worker/0"})
	assert.Equal(t, "blocked: [s3] Missing S3 integration.", e.status())
	_, published := all.LocalAppData["worker_config"]
	assert.False(t, published, "no config may be published without S3")

	s3 := e.h.Model.AddRelation("s3", "s3-integrator", map[string]string{"endpoint": "ftp://nope/path", "bucket": "b"}, nil)
	e.hook("s3-relation-changed", jujusim.HookOptions{Relation: s3})
	assert.Equal(t, "blocked: [s3] S3 not ready (probably misconfigured).", e.status())
	assert.Equal(t, "relation-"+fmt.Sprint(s3.ID), s3.LocalAppData["bucket"], "the leader requests a bucket")

	e.h.Model.RemoveRelation(s3.ID)
	s3 = e.addS3()
	e.hook("s3-relation-changed", jujusim.HookOptions{Relation: s3})
	// All roles are there, S3 is ready: only the nginx container is missing here.
	assert.Equal(t, "waiting: [nginx] Waiting for the nginx container to be ready.", e.status())
	config := workerConfig(t, all, "worker_config")
	assert.Contains(t, config, "10.1.0.6:7946")
	assert.Contains(t, config, "forcepathstyle: true")
	// otlp_http is always requested; other receivers only on demand.
	assert.JSONEq(t, `[3200,4318,7946,9096]`, all.LocalAppData["worker_ports"])

	e.h.Model.Config["retention-period"] = "forever"
	e.hook("config-changed", jujusim.HookOptions{})
	assert.Contains(t, e.status(), "blocked: [config] invalid retention-period")
	assert.Equal(t, config, workerConfig(t, all, "worker_config"), "an invalid option must not replace the published config")
}

func TestSecondHookWritesNothing(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	w := e.addWorker("tempo-worker", "all", "10.1.0.6", "10.1.0.7")
	e.addS3()
	first := e.hook("config-changed", jujusim.HookOptions{})
	assert.Positive(t, first.Counts["relation-set"])
	for _, hook := range []string{"config-changed", "update-status"} {
		again := e.hook(hook, jujusim.HookOptions{})
		assert.Zero(t, again.Counts["relation-set"], "%s rewrote a databag: %v", hook, again.Tools())
		assert.Zero(t, again.Counts["status-set"], "%s set an unchanged status", hook)
		assert.Zero(t, again.Counts["state-set"]+again.Counts["open-port"]+again.Counts["close-port"], "%v", again.Tools())
	}
	assert.Contains(t, workerConfig(t, w, "worker_config"), "10.1.0.7:7946")
}

func TestEveryWorkerGetsTheSameConfig(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	var rels []*jujusim.Relation
	for i, role := range []string{"querier", "query-frontend", "ingester", "distributor", "compactor", "metrics-generator"} {
		rels = append(rels, e.addWorker("tempo-"+role, role, fmt.Sprintf("10.1.1.%d", i+1)))
	}
	e.addS3()
	e.hook("config-changed", jujusim.HookOptions{})
	first := rels[0].LocalAppData["worker_config"]
	require.NotEmpty(t, first)
	for _, r := range rels {
		assert.Equal(t, first, r.LocalAppData["worker_config"], "%s got another config", r.RemoteApp)
	}
	assert.JSONEq(t, "[3200,7946,9096]", rels[1].LocalAppData["worker_ports"], "query-frontend ports")
	assert.JSONEq(t, "[3200,7946]", rels[0].LocalAppData["worker_ports"], "querier ports")
}

func TestNonLeaderPublishesNoAppData(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", false)
	w := e.addWorker("tempo-worker", "all", "10.1.0.6")
	s3 := e.addS3()
	peers := e.h.Model.AddRelation("peers", "tempo", nil, map[string]map[string]string{"tempo/1": {}})
	e.hook("config-changed", jujusim.HookOptions{})
	assert.Empty(t, w.LocalAppData)
	assert.Empty(t, s3.LocalAppData)
	assert.Equal(t, "tempo-0.tempo-endpoints.test-model.svc.cluster.local", peers.LocalUnitData["hostname"])
	assert.Equal(t, "waiting: [nginx] Waiting for the nginx container to be ready.", e.status())
}

func TestDepartedUnitLeavesTheRing(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	w := e.addWorker("tempo-worker", "all", "10.1.0.6", "10.1.0.7")
	e.addS3()
	e.hook("config-changed", jujusim.HookOptions{})
	require.Contains(t, workerConfig(t, w, "worker_config"), "10.1.0.7:7946")
	w.RemoveUnit("tempo-worker/1")
	e.hook("tempo-cluster-relation-departed", jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/1"})
	config := workerConfig(t, w, "worker_config")
	assert.NotContains(t, config, "10.1.0.7")
	assert.Contains(t, config, "10.1.0.6:7946")
}

func TestHostileWorkerDataIsExcluded(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	good := e.addWorker("tempo-worker", "all", "10.1.0.6")
	bad := e.addWorker("evil", "all", "x;} server { listen 1")
	garbage := e.h.Model.AddRelation("tempo-cluster", "garbage", map[string]string{"role": "{not json"}, map[string]map[string]string{"garbage/0": {"address": "\"10.9.9.9\"", "juju_topology": "nope"}})
	e.addS3()
	res := e.hook("config-changed", jujusim.HookOptions{})
	config := workerConfig(t, good, "worker_config")
	assert.NotContains(t, config, "listen 1")
	assert.NotContains(t, config, "10.9.9.9")
	assert.Contains(t, res.Stderr, "evil/0")
	assert.Contains(t, res.Stderr, "garbage")
	assert.Equal(t, config, workerConfig(t, bad, "worker_config"), "the app itself is valid and gets the config")
	assert.Empty(t, garbage.LocalAppData["worker_config"], "an app with an invalid role gets nothing")
}

func TestListReceiversAction(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	e.h.Model.Config["always_enable_zipkin"] = true
	res, err := e.h.RunAction(context.Background(), e.dispatch, "list-receivers", nil, jujusim.HookOptions{CharmDir: e.charm, Env: map[string]string{"COORDINATOR_PEBBLE_SOCKET_DIR": t.TempDir()}})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	require.NotNil(t, e.h.Model.Action)
	results := fmt.Sprint(e.h.Model.Action.Results)
	assert.Contains(t, results, "http://tempo.test-model.svc.cluster.local:4318")
	assert.Contains(t, results, "http://tempo.test-model.svc.cluster.local:9411")
	assert.Zero(t, res.Counts["relation-set"]+res.Counts["status-set"], "an action changes nothing: %v", res.Tools())
}

func TestBrokenJujuContractExitsOne(t *testing.T) {
	dir := unpack(t, packedCharm(t, "tempo-coordinator-k8s"))
	cases := map[string][]string{
		"no unit":         {"JUJU_DISPATCH_PATH=hooks/install", "JUJU_MODEL_NAME=m", "JUJU_MODEL_UUID=u", "JUJU_CHARM_DIR=" + dir},
		"bad relation id": {"JUJU_DISPATCH_PATH=hooks/s3-relation-changed", "JUJU_UNIT_NAME=tempo/0", "JUJU_MODEL_NAME=m", "JUJU_MODEL_UUID=u", "JUJU_CHARM_DIR=" + dir, "JUJU_RELATION=s3", "JUJU_RELATION_ID=s3:x", "JUJU_REMOTE_APP=s3"},
		"no charm dir":    {"JUJU_DISPATCH_PATH=hooks/install", "JUJU_UNIT_NAME=tempo/0", "JUJU_MODEL_NAME=m", "JUJU_MODEL_UUID=u"},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(dir, "dispatch"))
			cmd.Env = append(env, "PATH=/nonexistent")
			out, err := cmd.CombinedOutput()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr, string(out))
			assert.Equal(t, 1, exitErr.ExitCode())
			assert.True(t, strings.HasPrefix(string(out), "ERROR "), string(out))
		})
	}
}

func TestCallsStayNearTheMinimum(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	w := e.addWorker("tempo-worker", "all", "10.1.0.6", "10.1.0.7", "10.1.0.8")
	e.addS3()
	e.h.Model.AddRelation("peers", "tempo", nil, nil) // Juju creates it with the application
	e.hook("config-changed", jujusim.HookOptions{})
	res := e.hook("tempo-cluster-relation-changed", jujusim.HookOptions{Relation: w, RemoteUnit: "tempo-worker/0"})
	// goal-state; relation-ids x3 (cluster, s3, and peers, which goal-state never lists); relation-list x2 (none for
	// peers, where nothing is read); relation-get: the event's unit and its application (the other databags come
	// from the observation cache); is-leader, config-get, state-get.
	want := []string{"config-get", "goal-state", "is-leader", "relation-get", "relation-ids", "relation-list", "state-get"}
	got := slices.Sorted(maps.Keys(res.Counts))
	assert.Equal(t, want, got, "%v", res.Tools())
	assert.Equal(t, 3, res.Counts["relation-ids"])
	assert.Equal(t, 2, res.Counts["relation-list"])
	assert.Equal(t, 2, res.Counts["relation-get"])
	assert.Len(t, res.Calls, 11, "%v", res.Tools())
	// A full read (upgrade-charm): relation-get 1 app + 3 units (cluster) + 1 app (s3); nothing
	// changed, so nothing is written (the cache's read time is renewed only by the periodic resync).
	res = e.hook("upgrade-charm", jujusim.HookOptions{})
	assert.Equal(t, 5, res.Counts["relation-get"], "%v", res.Tools())
	assert.Equal(t, 0, res.Counts["state-set"], "%v", res.Tools())
	assert.Len(t, res.Calls, 14, "%v", res.Tools())
}

// TestLoneUnitPublishesItsHostname: goal-state never lists the peer
// relation, so a coordinator must look it up itself, even when it has no
// other unit yet (as Juju creates the relation with the application).
func TestLoneUnitPublishesItsHostname(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	peers := e.h.Model.AddRelation("peers", "tempo", nil, nil)
	e.hook("install", jujusim.HookOptions{})
	assert.Equal(t, "tempo-0.tempo-endpoints.test-model.svc.cluster.local", peers.LocalUnitData["hostname"])
}

// TestListingsInGrafanaAndCatalogue: relating Grafana and a catalogue to
// the leader lists the coordinator in both, at the application's address;
// an unrelated endpoint costs no relation-ids call, and a second hook
// writes nothing.
func TestListingsInGrafanaAndCatalogue(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	e.addWorker("tempo-worker", "all", "10.1.0.6")
	e.addS3()
	grafana := e.h.Model.AddRelation("grafana-source", "grafana", nil, map[string]map[string]string{"grafana/0": {}})
	first := e.hook("config-changed", jujusim.HookOptions{})
	assert.Equal(t, "http://tempo.test-model.svc.cluster.local:3200", grafana.LocalAppData["grafana_source_app_host"])
	var source map[string]any
	require.NoError(t, json.Unmarshal([]byte(grafana.LocalAppData["grafana_source_data"]), &source))
	assert.Equal(t, "tempo", source["type"])
	assert.Equal(t, "tempo", source["application"])
	assert.Equal(t, e.h.Model.Name, source["model"])
	assert.Equal(t, e.h.Model.UUID, source["model_uuid"])
	assert.Equal(t, 4, first.Counts["relation-ids"], "cluster, s3, peers and grafana-source only: %v", first.Tools())

	catalogue := e.h.Model.AddRelation("catalogue", "catalogue", nil, map[string]map[string]string{"catalogue/0": {}})
	e.hook("catalogue-relation-joined", jujusim.HookOptions{Relation: catalogue, RemoteUnit: "catalogue/0"})
	assert.Equal(t, "Tempo (tempo)", catalogue.LocalAppData["name"])
	assert.Equal(t, "transit-connection-variant", catalogue.LocalAppData["icon"])
	assert.NotContains(t, catalogue.LocalAppData, "url", "Tempo has no UI to link")
	var endpoints map[string]string
	require.NoError(t, json.Unmarshal([]byte(catalogue.LocalAppData["api_endpoints"]), &endpoints))
	assert.Equal(t, "http://tempo.test-model.svc.cluster.local:3200/status", endpoints["Status"])

	again := e.hook("update-status", jujusim.HookOptions{})
	assert.Zero(t, again.Counts["relation-set"], "%v", again.Tools())
}

// TestObservedEndpointsAreDeclared checks that every endpoint the engine
// reads for a product is declared in that charm's metadata.yaml: Juju
// refuses relation-ids for an unknown endpoint.
func TestObservedEndpointsAreDeclared(t *testing.T) {
	for _, c := range products.Charms() {
		p := c.Product
		t.Run(p.CharmName, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(repoRoot(), c.Dir, "metadata.yaml"))
			require.NoError(t, err)
			var meta map[string]any
			require.NoError(t, yaml.Unmarshal(raw, &meta))
			declared := map[string]bool{}
			for _, section := range []string{"provides", "requires", "peers"} {
				if eps, ok := meta[section].(map[string]any); ok {
					for name := range eps {
						declared[name] = true
					}
				}
			}
			for _, ep := range p.Endpoints() {
				assert.True(t, declared[ep.Name], "%s observes %q, which metadata.yaml does not declare", p.CharmName, ep.Name)
			}
		})
	}
}

func TestPyroscopeStatuses(t *testing.T) {
	e := newEnv(t, "pyroscope-coordinator-k8s", true)
	e.hook("install", jujusim.HookOptions{})
	assert.Equal(t, "blocked: [consistency] Missing any worker relation.", e.status())

	read := e.addWorker("pyro-read", "querier,query-frontend,query-scheduler,store-gateway", "10.2.0.5")
	e.hook("pyroscope-cluster-relation-changed", jujusim.HookOptions{Relation: read, RemoteUnit: "pyro-read/0"})
	assert.Equal(t, "blocked: [consistency] Cluster inconsistent: missing ingester, distributor, compactor, tenant-settings, ad-hoc-profiles. Enable them on a worker, e.g. `juju config <worker> role-ingester=true`", e.status())

	write := e.addWorker("pyro-write", "distributor,ingester", "10.2.0.6", "10.2.0.7", "10.2.0.8")
	backend := e.addWorker("pyro-backend", "compactor,tenant-settings,ad-hoc-profiles", "10.2.0.9")
	e.hook("pyroscope-cluster-relation-changed", jujusim.HookOptions{Relation: backend, RemoteUnit: "pyro-backend/0"})
	assert.Equal(t, "blocked: [s3] Missing S3 integration.", e.status())

	s3 := e.addS3()
	profiling := e.h.Model.AddRelation("profiling", "otel-collector", nil, map[string]map[string]string{"otel-collector/0": {}})
	e.hook("s3-relation-changed", jujusim.HookOptions{Relation: s3, RemoteUnit: "s3-integrator/0"})
	assert.Equal(t, "waiting: [nginx] Waiting for the nginx container to be ready.", e.status())
	config := workerConfig(t, read, "config")
	for _, rel := range []*jujusim.Relation{write, backend} {
		assert.Equal(t, read.LocalAppData["config"], rel.LocalAppData["config"], "one config for every worker")
	}
	assert.Contains(t, config, "10.2.0.8:7946")
	assert.Contains(t, config, "replication_factor: 3", "3 ingesters")
	assert.Contains(t, config, "bucket_lookup_type: path-style")
	assert.JSONEq(t, "[4040,7946]", write.LocalAppData["worker_ports"])
	assert.Equal(t, `"pyroscope.test-model.svc.cluster.local:42424"`, profiling.LocalAppData["otlp_grpc_endpoint_url"])

	e.h.Model.Config["retention_period"] = "forever"
	e.hook("config-changed", jujusim.HookOptions{})
	assert.Equal(t, "blocked: [config] The following configurations are not valid: ['retention_period']", e.status())
	cleanupOff := workerConfig(t, read, "config")
	assert.Contains(t, cleanupOff, "compactor_blocks_retention_period: 0", "data clean-up disabled rather than risking data loss")

	e.hook("pyroscope-cluster-relation-broken", jujusim.HookOptions{Relation: backend})
	assert.Contains(t, e.status(), "blocked: [consistency] Cluster inconsistent: missing compactor, tenant-settings, ad-hoc-profiles")
	again := e.hook("update-status", jujusim.HookOptions{})
	assert.Zero(t, again.Counts["relation-set"]+again.Counts["status-set"], "%v", again.Tools())
}

// TestIngressThroughThePackedCharm: the leader routes every coordinator
// unit that published its fqdn on peers through Traefik, reads its peers'
// databags only while Traefik is related, hands out Traefik's URLs, and
// goes back to in-cluster URLs when Traefik leaves.
func TestIngressThroughThePackedCharm(t *testing.T) {
	e := newEnv(t, "tempo-coordinator-k8s", true)
	e.addWorker("tempo-worker", "all", "10.1.0.6")
	e.addS3()
	peers := e.h.Model.AddRelation("peers", "tempo", nil, map[string]map[string]string{
		"tempo/1": {"fqdn": jsonString("tempo-1.tempo-endpoints.test-model.svc.cluster.local"), "hostname": "tempo-1.tempo-endpoints.test-model.svc.cluster.local"},
	})
	tracing := e.h.Model.AddRelation("tracing", "otel", map[string]string{"receivers": `["otlp_grpc"]`}, map[string]map[string]string{"otel/0": {}})
	before := e.hook("config-changed", jujusim.HookOptions{})
	assert.Equal(t, jsonString("tempo-0.tempo-endpoints.test-model.svc.cluster.local"), peers.LocalUnitData["fqdn"])
	assert.Contains(t, tracing.LocalAppData["receivers"], `"url":"tempo.test-model.svc.cluster.local:4317"`)

	ingress := e.h.Model.AddRelation("ingress", "traefik", map[string]string{"external_host": "tempo.example.com", "scheme": "https"},
		map[string]map[string]string{"traefik/0": {}})
	after := e.hook("ingress-relation-changed", jujusim.HookOptions{Relation: ingress, RemoteUnit: "traefik/0"})
	// The peer's databag is read now (the peers relation listed, tempo/1's
	// databag read), and Traefik's app databag, the event's; every other
	// databag comes from the observation cache.
	peerRead := "relation-get -r " + peers.Ref() + " - tempo/1 --format=json"
	assert.NotContains(t, before.Tools(), peerRead, "peers read without Traefik")
	assert.Contains(t, after.Tools(), peerRead)
	assert.Contains(t, after.Tools(), "relation-list -r "+peers.Ref()+" --format=json")
	assert.Contains(t, after.Tools(), "relation-get -r "+ingress.Ref()+" --app - traefik --format=json")
	assert.Equal(t, 2, after.Counts["relation-get"], "%v", after.Tools())
	config := ingress.LocalAppData["config"]
	for _, server := range []string{"h2c://tempo-0.tempo-endpoints.test-model.svc.cluster.local:4317", "h2c://tempo-1.tempo-endpoints.test-model.svc.cluster.local:4317"} {
		assert.Contains(t, config, server)
	}
	assert.Contains(t, config, "redirectScheme")
	assert.Contains(t, ingress.LocalAppData["static"], "otlp-grpc:\n    address: :4317")
	assert.Equal(t, "False", ingress.LocalAppData["raw"])
	assert.Contains(t, tracing.LocalAppData["receivers"], `"url":"tempo.example.com:4317"`)
	assert.NotContains(t, e.status(), "ingress", "Traefik is ready")

	e.hook("ingress-relation-broken", jujusim.HookOptions{Relation: ingress})
	assert.Contains(t, tracing.LocalAppData["receivers"], `"url":"tempo.test-model.svc.cluster.local:4317"`)
	last := e.hook("upgrade-charm", jujusim.HookOptions{}) // a full read
	assert.Equal(t, before.Counts["relation-get"], last.Counts["relation-get"], "peers read without Traefik: %v", last.Tools())
	assert.NotContains(t, last.Tools(), peerRead)
}
