// Package bench measures what one hook costs the coordinator charm as the
// cluster grows: it runs the BUILT dispatch binary against a simulated
// model (package jujusim) with hook tools on PATH, and reports hook-tool
// calls by tool next to the theoretical minimum, wall and CPU time, the
// binary's own time and memory, and the bytes written to databags.
//
// Every hook-tool call is a separate process, as in Juju: a tiny shim
// (bench/cmd/simtool) that forwards the call over a unix socket to a tool
// server in the benchmark process, which runs it against the model. The
// shim reports its own rusage, so the tools' CPU can be told from the
// charm's: wait4's rusage of the dispatch process includes every child it
// waited for. See Runner and RESULTS.md for the method.
package bench

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// Size is one cluster size: Units worker units spread over Apps worker
// applications, related to the coordinator over tempo-cluster, plus an s3
// relation to an s3-integrator and the coordinator's peer relation.
type Size struct {
	Units, Apps int
}

// Sizes are the cluster sizes the benchmark and the tests run.
var Sizes = []Size{{1, 1}, {10, 3}, {100, 6}, {1000, 10}}

// Hook is one hook the benchmark runs.
type Hook struct {
	Name string
	// Relation is true for the tempo-cluster relation hook, whose remote
	// unit is the first worker's first unit.
	Relation bool
}

// Hooks are the hooks the benchmark runs.
var Hooks = []Hook{
	{Name: "tempo-cluster-relation-changed", Relation: true},
	{Name: "config-changed"},
	{Name: "update-status"},
}

// CoordinatorUnit is the unit the charm runs as (the leader).
const CoordinatorUnit = "tempo/0"

// workerRoles are the worker applications' roles: a monolithic worker for
// one app, three apps sharing the roles, then one app per role and extra
// apps scaling the busiest roles.
func workerRoles(apps int) []string {
	switch {
	case apps <= 1:
		return []string{"all"}
	case apps < 6:
		roles := []string{"querier,query-frontend", "ingester,distributor", "compactor,metrics-generator"}
		for len(roles) < apps {
			roles = append(roles, "all")
		}
		return roles[:apps]
	}
	roles := []string{"querier", "query-frontend", "ingester", "distributor", "compactor", "metrics-generator"}
	extra := []string{"ingester", "querier", "distributor", "query-frontend"}
	for i := 0; len(roles) < apps; i++ {
		roles = append(roles, extra[i%len(extra)])
	}
	return roles
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// NewModel returns the model of a size: the coordinator tempo/0 (leader,
// config at its defaults) related to the worker applications, each unit
// with the address and topology a Tempo worker publishes, and to an
// s3-integrator that published its bucket and credentials. config holds
// the charm's option defaults (see ConfigDefaults).
func NewModel(size Size, config map[string]any) *jujusim.Model {
	m := jujusim.NewModel(CoordinatorUnit)
	m.Name = "bench"
	m.Leader = true
	m.Config = maps.Clone(config)
	roles := workerRoles(size.Apps)
	for i, role := range roles {
		app := fmt.Sprintf("tempo-worker-%d", i)
		n := size.Units / len(roles)
		if i < size.Units%len(roles) {
			n++
		}
		units := map[string]map[string]string{}
		for u := range n {
			unit := fmt.Sprintf("%s/%d", app, u)
			topo, _ := json.Marshal(map[string]string{
				"model": m.Name, "model_uuid": m.UUID, "application": app,
				"unit": unit, "charm_name": "tempo-worker-k8s",
			})
			units[unit] = map[string]string{
				"address":       jsonString(fmt.Sprintf("%s-%d.%s-endpoints.%s.svc.cluster.local", app, u, app, m.Name)),
				"juju_topology": string(topo),
			}
		}
		m.AddRelation("tempo-cluster", app, map[string]string{"role": jsonString(role)}, units)
	}
	m.AddRelation("s3", "s3-integrator", map[string]string{
		"endpoint":     "http://minio.bench.svc.cluster.local:9000",
		"bucket":       "tempo",
		"access-key":   "AKIDEXAMPLE",
		"secret-key":   "wJalrXUtnFEMI/K7MDENGbPxRfiCYEXAMPLEKEY",
		"s3-uri-style": "path",
	}, map[string]map[string]string{"s3-integrator/0": {}})
	// Juju creates the peer relation with the application; a single
	// coordinator unit is alone in it.
	m.AddRelation("peers", "tempo", nil, nil)
	return m
}

// HookOptions returns the options of the hook on a model made by NewModel.
func HookOptions(m *jujusim.Model, h Hook) jujusim.HookOptions {
	if !h.Relation {
		return jujusim.HookOptions{}
	}
	rel := m.RelationsOf("tempo-cluster")[0]
	return jujusim.HookOptions{Relation: rel, RemoteUnit: rel.Units()[0]}
}

// ConfigDefaults reads the option defaults from a charm's config.yaml,
// which is what config-get returns for a fresh deployment.
func ConfigDefaults(charmDir string) (map[string]any, error) {
	raw, err := os.ReadFile(filepath.Join(charmDir, "config.yaml"))
	if err != nil {
		return nil, fmt.Errorf("cannot read the charm config: %w", err)
	}
	var doc struct {
		Options map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"options"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("cannot parse the charm config: %w", err)
	}
	out := map[string]any{}
	for name, o := range doc.Options {
		if o.Default != nil {
			out[name] = o.Default
		}
	}
	return out, nil
}

// RelateCOS relates the model's coordinator to the observability stack:
// Prometheus (metrics-endpoint), two Loki units (logging), Grafana
// (grafana-dashboard and grafana-source). The leader then reads the
// charm's assets and publishes alert rules, dashboards and the Loki data.
func RelateCOS(m *jujusim.Model) {
	m.AddRelation("metrics-endpoint", "prometheus", nil, map[string]map[string]string{"prometheus/0": {}})
	loki := map[string]map[string]string{}
	for u := range 2 {
		url := fmt.Sprintf("http://loki-%d.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push", u)
		loki[fmt.Sprintf("loki/%d", u)] = map[string]string{"endpoint": `{"url": ` + jsonString(url) + `}`}
	}
	m.AddRelation("logging", "loki", nil, loki)
	m.AddRelation("grafana-dashboard", "grafana", nil, map[string]map[string]string{"grafana/0": {}})
	m.AddRelation("grafana-source", "grafana", map[string]string{
		"grafana_uid": "grafana-1", "grafana_base_url": "http://grafana.cos.svc.cluster.local:3000",
	}, map[string]map[string]string{"grafana/0": {}})
}
