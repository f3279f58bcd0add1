// Package history drives a coordinator charm through seeded random
// histories of Juju events (relations joined, changed, departed and broken
// for workers, S3 and every other integration; config, leadership,
// upgrade, peers) and checks invariants after every hook and history
// independence at the end. The charm is run by a Runner: the packed charm
// under the simulated model's hook tools (tests/charm), or the same code
// in-process (internal/charm), which is fast enough for many seeds.
package history

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// Result is what a Runner reports of one hook.
type Result struct {
	ExitCode int
	// Stderr is what the charm logged (Juju files it in the unit log).
	Stderr string
	// Calls are the hook's tool calls.
	Calls []jujusim.Call
	// NginxChanged says that the hook changed nginx's config or started or
	// stopped it (runners that simulate the container; the packed charms
	// run without one).
	NginxChanged bool
}

// Runner runs one hook of the charm against m (which it updates as Juju
// would: the hook's writes are kept iff it exits 0).
type Runner func(m *jujusim.Model, hook string, opts jujusim.HookOptions) (Result, error)

// ProductOf is the charm a seed drives: even seeds Tempo, odd Pyroscope.
func ProductOf(seed int64) Product { return Products[seed%int64(len(Products))] }

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Secret is the S3 secret key of every history: it must never
// reach a log or a status.
const Secret = "hist-S3-secret-key-value"

// event is one change of the model and the hook Juju runs for it. Events
// are drawn from a seed up front, so that a history can be replayed with
// events left out (to shrink a failing one); an event whose subject is
// gone is skipped.
type Event struct {
	Kind string `json:"kind"`
	// App is the remote application (workers: w0..w4; others: their endpoint).
	App  string `json:"app,omitempty"`
	Role string `json:"role,omitempty"`
	// N is a count or a variant, by kind.
	N    int  `json:"n,omitempty"`
	Good bool `json:"good,omitempty"`
}

func (e Event) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// product is what a history needs to know of each charm.
type Product struct {
	Charm, Cluster, ConfigKey string
	Roles                     []string // good roles, meta and atomic, and a few bad ones
	Others                    []string // other endpoints with their remote data
	Options                   []map[string]any
}

var Products = []Product{
	{Charm: "tempo-coordinator-k8s", Cluster: "tempo-cluster", ConfigKey: "worker_config",
		Roles: []string{"all", "all", "querier", "query-frontend", "ingester", "distributor", "compactor", "metrics-generator", "querier,query-frontend", "ingester,distributor,compactor", "bogus", ""},
		Others: []string{"tracing", "send-remote-write", "grafana-source", "catalogue", "metrics-endpoint", "ingress", "logging",
			"self-charm-tracing", "self-workload-tracing", "receive-datasource", "profiling-endpoint", "grafana-dashboard", "tempo-api", "probes"},
		Options: []map[string]any{{"retention-period": 720}, {"retention-period": "forever"}, {"always_enable_zipkin": true}, {"always_enable_zipkin": false}}},
	{Charm: "pyroscope-coordinator-k8s", Cluster: "pyroscope-cluster", ConfigKey: "config",
		Roles: []string{"all", "all", "querier", "query-frontend", "query-scheduler", "store-gateway", "ingester,distributor", "compactor,tenant-settings,ad-hoc-profiles", "querier,query-frontend,query-scheduler,store-gateway", "bogus", ""},
		Others: []string{"profiling", "grafana-source", "catalogue", "metrics-endpoint", "ingress", "logging",
			"charm-tracing", "workload-tracing", "send-datasource", "profiling-endpoint", "grafana-dashboard"},
		Options: []map[string]any{{"retention_period": "720h"}, {"retention_period": "forever"}, {"deletion_delay": "2h"}}},
}

// Draw draws the events of one history from its seed.
func Draw(seed int64, hooks int, p Product) []Event {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	var out []Event
	for range hooks {
		app := fmt.Sprintf("w%d", r.IntN(5))
		var e Event
		switch k := r.IntN(100); {
		case k < 12:
			// Half of the new workers run every role, so that most
			// histories reach a complete cluster and publish.
			role := "all"
			if r.IntN(2) == 0 {
				role = p.Roles[r.IntN(len(p.Roles))]
			}
			e = Event{Kind: "add-worker", App: app, Role: role, N: 1 + r.IntN(3)}
		case k < 18:
			e = Event{Kind: "change-unit", App: app, N: r.IntN(8)}
		case k < 26:
			e = Event{Kind: "add-unit", App: app, N: r.IntN(8)}
		case k < 32:
			e = Event{Kind: "remove-unit", App: app}
		case k < 38:
			e = Event{Kind: "set-role", App: app, Role: p.Roles[r.IntN(len(p.Roles))]}
		case k < 44:
			e = Event{Kind: "remove-worker", App: app}
		case k < 52:
			e = Event{Kind: "s3", Good: r.IntN(4) > 0}
		case k < 55:
			e = Event{Kind: "remove-s3"}
		case k < 62:
			e = Event{Kind: "add-other", App: p.Others[r.IntN(len(p.Others))], N: r.IntN(3)}
		case k < 66:
			e = Event{Kind: "remove-other", App: p.Others[r.IntN(len(p.Others))]}
		case k < 72:
			e = Event{Kind: "config", N: r.IntN(len(p.Options))}
		case k < 80:
			e = Event{Kind: "leader", Good: r.IntN(3) > 0}
		case k < 83:
			e = Event{Kind: "upgrade-charm"}
		case k < 86:
			e = Event{Kind: "peers", N: r.IntN(3)}
		case k < 89:
			e = Event{Kind: "pebble-restart"}
		case k < 91:
			e = Event{Kind: "container-down"}
		default:
			e = Event{Kind: "update-status"}
		}
		out = append(out, e)
	}
	return out
}

// workerAddress is unit i of app's address; variant 7 is hostile, 6 looks
// like an IPv4 address without being one, 5 repeats another unit's.
func workerAddress(app string, i, variant int) string {
	switch variant {
	case 7:
		return "x;} server { listen 1"
	case 6:
		return "999.1.1." + fmt.Sprint(i)
	case 5:
		return "w0-0.w0-endpoints.test-model.svc.cluster.local"
	}
	return fmt.Sprintf("%s-%d.%s-endpoints.test-model.svc.cluster.local", app, i, app)
}

// history runs events against a fresh unit of one charm.
type history struct {
	t      *testing.T
	runner Runner
	m      *jujusim.Model
	p      Product
	lg     []string // what happened, for the report
	// sockets is the Pebble socket directory (empty: nginx not ready).
	sockets string
	// nginx is the nginx container's Pebble boot id, "" while it is down;
	// runners that simulate the container read it from NginxEnv.
	nginx string
	boots int
}

// NginxEnv is the variable of a hook's options.Env telling a runner that
// simulates the nginx container its Pebble boot id ("" while down).
const NginxEnv = "HISTORY_NGINX_BOOT"

// ScratchEnv is set in a hook's options.Env when the model is a throwaway
// copy of the history's unit (the cache check): a runner that simulates the
// nginx container runs the hook on a copy of the container of the last
// model it ran that was not a copy, and leaves that container as it was.
const ScratchEnv = "HISTORY_SCRATCH"

// Failure is a broken invariant.
type Failure struct {
	step int
	msg  string
}

// run applies the events and checks the invariants after every hook; it
// returns the first failure, or nil.
func (h *history) run(events []Event) *Failure {
	m := h.m
	h.hook("install", jujusim.HookOptions{})
	for i, ev := range events {
		name, opts, ok := h.apply(ev)
		if !ok {
			continue
		}
		before := snapshot(m)
		res, err := h.runner(h.m, name, h.withEnv(opts))
		if err != nil {
			return &Failure{i, fmt.Sprintf("%s: harness: %v", name, err)}
		}
		h.lg = append(h.lg, fmt.Sprintf("%2d %-60s %s -> %s: %s", i, ev, name, m.UnitStatus.Status, m.UnitStatus.Message))
		if msg := h.check(name, res, before); msg != "" {
			return &Failure{i, msg}
		}
		if msg := h.checkCache(); msg != "" {
			return &Failure{i, fmt.Sprintf("after %s: %s", name, msg)}
		}
		// The same hook again writes nothing (leader-elected rewrites by
		// design; a broken relation is gone).
		if !strings.HasSuffix(name, "-relation-broken") && name != "leader-elected" {
			again, err := h.runner(h.m, name, h.withEnv(opts))
			if err != nil {
				return &Failure{i, fmt.Sprintf("%s again: harness: %v", name, err)}
			}
			if w := writes(again); len(w) > 0 {
				return &Failure{i, fmt.Sprintf("%s repeated wrote %v", name, w)}
			}
		}
	}
	return h.fresh()
}

// withEnv completes a hook's options. The model's records of past hooks
// are dropped first: every tool call loads and saves the model.
func (h *history) withEnv(o jujusim.HookOptions) jujusim.HookOptions {
	if h.sockets == "" {
		h.sockets = h.t.TempDir()
	}
	m := h.m
	m.Calls, m.Logs, m.StatusHistory = nil, nil, nil
	o.Env = map[string]string{"COORDINATOR_PEBBLE_SOCKET_DIR": h.sockets, NginxEnv: h.nginx}
	return o
}

func (h *history) hook(name string, opts jujusim.HookOptions) {
	res, err := h.runner(h.m, name, h.withEnv(opts))
	if err != nil || res.ExitCode != 0 {
		h.t.Fatalf("%s: %v %s", name, err, res.Stderr)
	}
}

func (h *history) worker(app string) *jujusim.Relation {
	for _, r := range h.m.RelationsOf(h.p.Cluster) {
		if r.RemoteApp == app {
			return r
		}
	}
	return nil
}

func (h *history) other(endpoint string) *jujusim.Relation {
	if rs := h.m.RelationsOf(endpoint); len(rs) > 0 {
		return rs[0]
	}
	return nil
}

func unitData(app string, i, variant int) map[string]string {
	unit := fmt.Sprintf("%s/%d", app, i)
	return map[string]string{
		"address":       jsonText(workerAddress(app, i, variant)),
		"juju_topology": jsonText(map[string]string{"model": "test-model", "model_uuid": "u", "application": app, "unit": unit, "charm_name": "worker"}),
	}
}

func s3Data(good bool) map[string]string {
	d := map[string]string{"endpoint": "http://minio.test-model.svc.cluster.local:9000", "bucket": "data",
		"access-key": "AKIAHISTORY", "secret-key": Secret, "s3-uri-style": "path"}
	if !good {
		d["endpoint"] = "ftp://minio/x"
	}
	return d
}

// otherData is what each other endpoint's remote side publishes.
func otherData(endpoint string, variant int) (app map[string]string, unit map[string]string) {
	switch endpoint {
	case "tracing":
		recv := [][]string{{"otlp_grpc"}, {"zipkin", "jaeger_thrift_http"}, {"bogus\n"}}[variant]
		return map[string]string{"receivers": jsonText(recv)}, map[string]string{}
	case "send-remote-write":
		url := []string{"http://prom.test-model.svc.cluster.local:9090/api/v1/write", "http://prom-1:9090/w", "javascript:x"}[variant]
		return map[string]string{}, map[string]string{"remote_write": jsonText(map[string]string{"url": url})}
	case "ingress": // Traefik's traefik_route
		host := []string{"traefik.example.com", "10.0.0.9", "x y;}"}[variant]
		scheme := []string{"http", "https", "gopher"}[variant]
		return map[string]string{"external_host": host, "scheme": scheme}, map[string]string{}
	case "logging": // Loki's loki_push_api
		url := []string{"http://loki-0.loki-endpoints.test-model.svc.cluster.local:3100/loki/api/v1/push", "https://loki.example.com/loki/api/v1/push", "javascript:x"}[variant]
		return map[string]string{}, map[string]string{"endpoint": jsonText(map[string]string{"url": url})}
	case "self-charm-tracing", "self-workload-tracing", "charm-tracing", "workload-tracing": // Tempo's tracing provider
		receivers := []any{
			[]map[string]any{{"protocol": map[string]string{"name": "otlp_http", "type": "http"}, "url": "http://tempo.test-model.svc.cluster.local:4318"}},
			[]map[string]any{{"protocol": map[string]string{"name": "jaeger_thrift_http", "type": "http"}, "url": "http://tempo.test-model.svc.cluster.local:14268"},
				{"protocol": map[string]string{"name": "otlp_http", "type": "http"}, "url": "https://tempo.example.com:4318"}},
			"not a list",
		}[variant]
		return map[string]string{"receivers": jsonText(receivers)}, map[string]string{}
	case "receive-datasource", "send-datasource": // grafana_datasource_exchange
		ds := []string{jsonText([]map[string]string{{"type": "prometheus", "uid": "prom-1", "grafana_uid": "grafana-1"}}),
			jsonText([]map[string]string{{"type": "loki", "uid": "loki-1", "grafana_uid": "grafana-1"}, {"type": "prometheus", "uid": "prom-2", "grafana_uid": "grafana-1"}}),
			"{bad"}[variant]
		return map[string]string{"datasources": ds}, map[string]string{}
	case "grafana-source": // Grafana names the datasources it made of ours
		switch variant {
		case 0:
			return map[string]string{"grafana_uid": "grafana-1", "datasource_uids": jsonText(map[string]string{"u/0": "ds-1"})}, map[string]string{}
		case 1:
			return map[string]string{"grafana_uid": "grafana-1", "app_datasource_uid": "ds-app"}, map[string]string{}
		}
		return map[string]string{"grafana_uid": "bad uid!", "datasource_uids": "[1]"}, map[string]string{}
	}
	return map[string]string{}, map[string]string{}
}

// apply changes the model for ev and returns the hook to run, or false
// when the event does not apply (its subject is missing or already there).
func (h *history) apply(ev Event) (string, jujusim.HookOptions, bool) {
	m := h.m
	switch ev.Kind {
	case "add-worker":
		if h.worker(ev.App) != nil {
			return "", jujusim.HookOptions{}, false
		}
		units := map[string]map[string]string{}
		for i := range ev.N {
			units[fmt.Sprintf("%s/%d", ev.App, i)] = unitData(ev.App, i, 0)
		}
		appData := map[string]string{}
		if ev.Role != "" {
			appData["role"] = jsonText(ev.Role)
		}
		r := m.AddRelation(h.p.Cluster, ev.App, appData, units)
		return h.p.Cluster + "-relation-changed", jujusim.HookOptions{Relation: r, RemoteUnit: ev.App + "/0"}, true
	case "add-unit":
		r := h.worker(ev.App)
		if r == nil {
			return "", jujusim.HookOptions{}, false
		}
		i := len(r.RemoteUnits) + len(r.Departed)
		unit := fmt.Sprintf("%s/%d", ev.App, i)
		r.AddUnit(unit, unitData(ev.App, i, ev.N))
		return h.p.Cluster + "-relation-joined", jujusim.HookOptions{Relation: r, RemoteUnit: unit}, true
	case "change-unit":
		// A unit publishes another address (variant N, as add-unit).
		r := h.worker(ev.App)
		if r == nil || len(r.RemoteUnits) == 0 {
			return "", jujusim.HookOptions{}, false
		}
		unit := slices.Min(slices.Collect(maps.Keys(r.RemoteUnits)))
		var i int
		fmt.Sscanf(unit[strings.LastIndex(unit, "/")+1:], "%d", &i)
		r.RemoteUnits[unit] = unitData(ev.App, i, ev.N)
		return h.p.Cluster + "-relation-changed", jujusim.HookOptions{Relation: r, RemoteUnit: unit}, true
	case "remove-unit":
		r := h.worker(ev.App)
		if r == nil || len(r.RemoteUnits) == 0 {
			return "", jujusim.HookOptions{}, false
		}
		unit := slices.Max(slices.Collect(maps.Keys(r.RemoteUnits)))
		r.RemoveUnit(unit)
		return h.p.Cluster + "-relation-departed", jujusim.HookOptions{Relation: r, RemoteUnit: unit}, true
	case "set-role":
		r := h.worker(ev.App)
		if r == nil {
			return "", jujusim.HookOptions{}, false
		}
		r.RemoteAppData["role"] = jsonText(ev.Role)
		return h.p.Cluster + "-relation-changed", jujusim.HookOptions{Relation: r}, true
	case "remove-worker":
		r := h.worker(ev.App)
		if r == nil {
			return "", jujusim.HookOptions{}, false
		}
		return h.p.Cluster + "-relation-broken", jujusim.HookOptions{Relation: r}, true
	case "s3":
		r := h.other("s3")
		if r == nil {
			r = m.AddRelation("s3", "s3-integrator", s3Data(ev.Good), map[string]map[string]string{"s3-integrator/0": {}})
		} else {
			r.RemoteAppData = s3Data(ev.Good)
		}
		return "s3-relation-changed", jujusim.HookOptions{Relation: r, RemoteUnit: "s3-integrator/0"}, true
	case "remove-s3", "remove-other":
		endpoint := "s3"
		if ev.Kind == "remove-other" {
			endpoint = ev.App
		}
		r := h.other(endpoint)
		if r == nil {
			return "", jujusim.HookOptions{}, false
		}
		return endpoint + "-relation-broken", jujusim.HookOptions{Relation: r}, true
	case "add-other":
		app, unit := otherData(ev.App, ev.N)
		r := h.other(ev.App)
		remote := ev.App + "-app"
		if r == nil {
			r = m.AddRelation(ev.App, remote, app, map[string]map[string]string{remote + "/0": unit})
		} else {
			r.RemoteAppData = app
			r.RemoteUnits[remote+"/0"] = unit
		}
		return ev.App + "-relation-changed", jujusim.HookOptions{Relation: r, RemoteUnit: remote + "/0"}, true
	case "config":
		maps.Copy(m.Config, h.p.Options[ev.N])
		return "config-changed", jujusim.HookOptions{}, true
	case "leader":
		if m.Leader == ev.Good {
			return "", jujusim.HookOptions{}, false
		}
		m.Leader = ev.Good
		if ev.Good {
			return "leader-elected", jujusim.HookOptions{}, true
		}
		return "leader-settings-changed", jujusim.HookOptions{}, true
	case "peers":
		app := strings.SplitN(h.p.Charm, "-", 2)[0]
		r := h.other("peers")
		if r == nil {
			r = m.AddRelation("peers", app, nil, nil)
		}
		for u := range r.RemoteUnits {
			r.RemoveUnit(u)
		}
		for i := 1; i <= ev.N; i++ {
			r.AddUnit(fmt.Sprintf("%s/%d", app, i), map[string]string{"fqdn": jsonText(fmt.Sprintf("%s-%d.%s-endpoints.test-model.svc.cluster.local", app, i, app))})
		}
		return "peers-relation-changed", jujusim.HookOptions{Relation: r}, true
	case "pebble-restart":
		h.boots++
		h.nginx = fmt.Sprintf("boot-%d", h.boots)
		return "nginx-pebble-ready", jujusim.HookOptions{}, true
	case "container-down":
		if h.nginx == "" {
			return "", jujusim.HookOptions{}, false
		}
		h.nginx = ""
		return "update-status", jujusim.HookOptions{}, true
	case "upgrade-charm", "update-status":
		return ev.Kind, jujusim.HookOptions{}, true
	}
	panic("unknown event " + ev.Kind)
}

// modelSnapshot is what a hook may change, for before/after comparisons.
type modelSnapshot struct {
	appData map[int]map[string]string
}

func snapshot(m *jujusim.Model) modelSnapshot {
	s := modelSnapshot{appData: map[int]map[string]string{}}
	for _, r := range m.Relations {
		s.appData[r.ID] = maps.Clone(r.LocalAppData)
	}
	return s
}

// writes lists the writing tool calls of a hook.
func writes(res Result) []string {
	var out []string
	for _, c := range res.Calls {
		switch c.Tool {
		case "relation-set", "status-set", "state-set", "state-delete", "open-port", "close-port", "juju-log":
			if c.Tool == "juju-log" {
				continue
			}
			out = append(out, strings.TrimSpace(c.Tool+" "+strings.Join(c.Args, " ")))
		}
	}
	return out
}

// check verifies the invariants after one hook.
func (h *history) check(name string, res Result, before modelSnapshot) string {
	m := h.m
	if res.ExitCode != 0 {
		return fmt.Sprintf("%s exited %d: %s", name, res.ExitCode, res.Stderr)
	}
	if strings.Contains(res.Stderr, Secret) || strings.Contains(m.UnitStatus.Message, Secret) {
		return "the S3 secret reached the log or the status"
	}
	for _, l := range m.Logs {
		if strings.Contains(l.Message, Secret) {
			return "the S3 secret reached juju-log"
		}
	}
	if !m.Leader {
		for _, c := range res.Calls {
			if c.Tool == "relation-set" && slices.Contains(c.Args, "--app") {
				return "a non-leader wrote application data: " + strings.Join(c.Args, " ")
			}
		}
	}
	s3 := h.other("s3")
	s3Good := s3 != nil && !strings.HasPrefix(s3.RemoteAppData["endpoint"], "ftp")
	var configs []string
	for _, r := range m.RelationsOf(h.p.Cluster) {
		v := r.LocalAppData[h.p.ConfigKey]
		if v != before.appData[r.ID][h.p.ConfigKey] && v != "" && !s3Good {
			return fmt.Sprintf("a config was published to %s without S3", r.Ref())
		}
		if v != "" {
			configs = append(configs, v)
		}
	}
	for _, c := range configs {
		if c != configs[0] {
			return "the worker relations hold different configs"
		}
	}
	return ""
}

// checkCache checks the unit's observation cache (internal/charm/obscache.go:
// what the charm last read of every remote databag, kept in the unit state
// so that a relation hook reads only what it is about) against a full read
// of the model. On a copy of the model, upgrade-charm, which reads every
// databag, must change nothing: no databag, status or port, no unit state
// (not even the time of the last full read, which only a periodic resync
// or an unusable cache renews), and not nginx. A cache entry that differs from the model shows as that entry
// rewritten by the full read, and, where it mattered, as another config.
func (h *history) checkCache() string {
	c, err := copyModel(h.m)
	if err != nil {
		return err.Error()
	}
	opts := h.withEnv(jujusim.HookOptions{})
	opts.Env[ScratchEnv] = "1"
	res, err := h.runner(c, "upgrade-charm", opts)
	if err != nil {
		return fmt.Sprintf("cache check: harness: %v", err)
	}
	if res.ExitCode != 0 {
		return fmt.Sprintf("cache check: upgrade-charm on a copy of the model exited %d: %s", res.ExitCode, res.Stderr)
	}
	var diffs []string
	for _, w := range writes(res) {
		if !strings.HasPrefix(w, "state-") { // compared below, key by key
			diffs = append(diffs, w)
		}
	}
	if res.NginxChanged {
		diffs = append(diffs, "nginx reloaded")
	}
	cached, full := h.m.State, c.State
	keys := slices.Sorted(maps.Keys(cached))
	for k := range full {
		if _, ok := cached[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if cached[k] != full[k] {
			diffs = append(diffs, fmt.Sprintf("state %s: cached %.300q, full read %.300q", k, cached[k], full[k]))
		}
	}
	if len(diffs) > 0 {
		// The S3 databag is cached too: keep its secret out of the report.
		return strings.ReplaceAll("the observation cache differs from a full read (upgrade-charm on a copy of the model changes it): "+
			strings.Join(diffs, "; "), Secret, "<S3 secret>")
	}
	return ""
}

// copyModel returns a deep copy of m without the records of past hooks.
func copyModel(m *jujusim.Model) (*jujusim.Model, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	c := &jujusim.Model{}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, err
	}
	c.Calls, c.Logs, c.StatusHistory = nil, nil, nil
	return c, nil
}

// fresh checks history independence: a fresh unit given the final model
// (the remote data, config and leadership; nothing it wrote itself)
// computes in one hook the same databags, status and ports.
func (h *history) fresh() *Failure {
	m := h.m
	f, err := copyModel(m)
	if err != nil {
		return &Failure{-1, err.Error()}
	}
	f.State, f.OpenedPorts = map[string]string{}, nil
	f.UnitStatus = jujusim.Status{}
	for _, r := range f.Relations {
		r.LocalAppData, r.LocalUnitData = map[string]string{}, map[string]string{}
		r.Departed = nil
	}
	res, err := h.runner(f, "config-changed", h.withEnv(jujusim.HookOptions{}))
	if err != nil || res.ExitCode != 0 {
		return &Failure{-1, fmt.Sprintf("fresh unit: %v %s", err, res.Stderr)}
	}
	if got, want := f.UnitStatus.Status+": "+f.UnitStatus.Message, m.UnitStatus.Status+": "+m.UnitStatus.Message; got != want {
		return &Failure{-1, fmt.Sprintf("history independence: status %q, a fresh unit says %q", want, got)}
	}
	if got, want := slices.Sorted(slices.Values(f.OpenedPorts)), slices.Sorted(slices.Values(m.OpenedPorts)); !slices.Equal(got, want) {
		return &Failure{-1, fmt.Sprintf("history independence: ports %v, a fresh unit opens %v", want, got)}
	}
	for _, r := range m.Relations {
		fr := f.Relation(r.ID)
		if !reflect.DeepEqual(nonEmpty(fr.LocalUnitData), nonEmpty(r.LocalUnitData)) {
			return &Failure{-1, fmt.Sprintf("history independence: unit data of %s is %v, a fresh unit writes %v", r.Ref(), r.LocalUnitData, fr.LocalUnitData)}
		}
		// The last complete config stays published while a new one cannot
		// be (S3 gone, a role missing): workers keep running on it.
		keptLastGood := r.Endpoint == h.p.Cluster && fr.LocalAppData[h.p.ConfigKey] == ""
		if m.Leader && !keptLastGood && !reflect.DeepEqual(nonEmpty(fr.LocalAppData), nonEmpty(r.LocalAppData)) {
			return &Failure{-1, fmt.Sprintf("history independence: app data of %s differs from a fresh unit's:\nhistory: %v\nfresh:   %v",
				r.Ref(), keysOf(r.LocalAppData), keysOf(fr.LocalAppData))}
		}
	}
	return nil
}

func nonEmpty(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

func keysOf(m map[string]string) []string { return slices.Sorted(maps.Keys(nonEmpty(m))) }

// Run runs one seed and returns its failure and log.
func Run(t *testing.T, run Runner, seed int64, events []Event) (*Failure, []string) {
	p := ProductOf(seed)
	m := jujusim.NewModel(strings.SplitN(p.Charm, "-", 2)[0] + "/0")
	m.Leader = true
	h := &history{t: t, runner: run, m: m, p: p, nginx: "boot-0"}
	return h.run(events), h.lg
}

// Shrink removes events from a failing history while it still fails with
// the same kind of failure, one at a time, and returns what is left.
func Shrink(t *testing.T, run Runner, seed int64, events []Event, failure *Failure) []Event {
	kind := failure.msg
	if i := strings.IndexAny(kind, ":\n"); i > 0 {
		kind = kind[:i]
	}
	if failure.step >= 0 {
		events = events[:failure.step+1]
	}
	for i := len(events) - 1; i >= 0; i-- {
		candidate := slices.Delete(slices.Clone(events), i, i+1)
		var f *Failure
		t.Run("shrink", func(t *testing.T) { f, _ = Run(t, run, seed, candidate) })
		if f != nil && strings.HasPrefix(f.msg, kind) {
			events = candidate
		}
	}
	return events
}

// Test drives the charm through seeded random
// histories of relation, config, leadership and upgrade events and checks,
// after every hook: exit 0; no secret in a log or the status; no app data
// written by a non-leader; no config published without S3; one config for
// every worker; the observation cache equals a full read (checkCache); the
// same hook again writes nothing. At the end of each
// history, a fresh unit given the final model computes the same status,
// ports and databags in one hook (history independence). A failure prints
// the seed, the history and a shrunk reproduction. only >= 0 runs that
// seed alone and logs its history.
func Test(t *testing.T, run Runner, seeds, hooks int, only int64) {
	var list []int64
	if only >= 0 {
		list = []int64{only}
	} else {
		for s := range seeds {
			list = append(list, int64(s))
		}
	}
	for _, seed := range list {
		p := ProductOf(seed)
		events := Draw(seed, hooks, p)
		var failure *Failure
		var lg []string
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			failure, lg = Run(t, run, seed, events)
			if only >= 0 {
				t.Logf("%s history:\n%s", p.Charm, strings.Join(lg, "\n"))
			}
			if failure != nil {
				t.Errorf("seed %d (%s), step %d: %s\nhistory:\n%s", seed, p.Charm, failure.step, failure.msg, strings.Join(lg, "\n"))
			}
		})
		if !ok && failure != nil {
			small := Shrink(t, run, seed, events, failure)
			var b strings.Builder
			for _, ev := range small {
				fmt.Fprintf(&b, "  %s\n", ev)
			}
			t.Errorf("seed %d: minimal reproduction (%d of %d events, %s):\n%s", seed, len(small), len(events), p.Charm, b.String())
			return
		}
	}
}
