// Package preview renders what the charm would publish for a model
// described in a small YAML file, with no Juju: the `render` command.
package preview

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// Model is the YAML description of a model, from the coordinator's side.
type Model struct {
	// Product is the name of one of products.Charms (default "tempo").
	Product string `yaml:"product"`
	// Model and App name the coordinator (defaults "demo", the product).
	Model string `yaml:"model"`
	App   string `yaml:"app"`
	// Config is the charm's config, as config-get gives it.
	Config map[string]any `yaml:"config"`
	// Workers are the worker applications related over the cluster endpoint.
	Workers []Worker `yaml:"workers"`
	// S3 is the S3 provider's app databag (endpoint, bucket, access-key,
	// secret-key, region, s3-uri-style, tls-ca-chain); absent = no relation.
	S3 map[string]string `yaml:"s3"`
	// Tracing lists the receivers each tracing requirer asks for (Tempo).
	Tracing [][]string `yaml:"tracing"`
	// RemoteWrite lists Prometheus remote-write URLs.
	RemoteWrite []string `yaml:"remote-write"`
	// Profiling is the number of profiling requirers (Pyroscope).
	Profiling int `yaml:"profiling"`
	// Ingress is Traefik's app databag (external_host, scheme); absent =
	// no ingress relation.
	Ingress map[string]string `yaml:"ingress"`
	// Nginx describes the nginx container (default: 1.27.5, no IPv6).
	Nginx *coordinator.NginxFacts `yaml:"nginx"`
}

// Worker is one worker application.
type Worker struct {
	App  string `yaml:"app"`
	Role string `yaml:"role"`
	// Units are the units' addresses, in unit order.
	Units []string `yaml:"units"`
}

// Observed turns the description into what the charm would observe:
// relation data encoded exactly as the worker and provider charms publish it.
func (m *Model) Observed(product *coordinator.Product) *coordinator.Observed {
	model := def(m.Model, "demo")
	app := def(m.App, product.Name)
	o := &coordinator.Observed{
		Model: model, ModelUUID: "00000000-0000-4000-8000-000000000000", App: app, Unit: app + "/0",
		Leader: true, Config: m.Config, Relations: map[string][]coordinator.Relation{},
		AppFQDN:  app + "." + model + ".svc.cluster.local",
		UnitFQDN: app + "-0." + app + "-endpoints." + model + ".svc.cluster.local",
		Nginx:    &coordinator.NginxFacts{Version: "1.27.5"},
	}
	if o.Config == nil {
		o.Config = map[string]any{}
	}
	if m.Nginx != nil {
		o.Nginx = m.Nginx
	}
	id := 0
	add := func(endpoint string, rel coordinator.Relation) {
		id++
		rel.ID, rel.Endpoint = id, endpoint
		if rel.Units == nil {
			rel.Units = map[string]map[string]string{}
		}
		o.Relations[endpoint] = append(o.Relations[endpoint], rel)
	}
	for _, w := range m.Workers {
		rel := coordinator.Relation{RemoteApp: w.App, AppData: map[string]string{"role": jsonText(w.Role)}, Units: map[string]map[string]string{}}
		for i, addr := range w.Units {
			unit := w.App + "/" + strconv.Itoa(i)
			topo := map[string]string{"model": model, "model_uuid": o.ModelUUID, "application": w.App, "unit": unit, "charm_name": product.Name + "-worker-k8s"}
			rel.Units[unit] = map[string]string{"address": jsonText(addr), "juju_topology": jsonText(topo)}
		}
		add(product.ClusterEndpoint, rel)
	}
	if m.S3 != nil {
		add(coordinator.S3Endpoint, coordinator.Relation{RemoteApp: "s3-integrator", AppData: m.S3})
	}
	for i, receivers := range m.Tracing {
		add("tracing", coordinator.Relation{RemoteApp: "tracing-requirer-" + strconv.Itoa(i), AppData: map[string]string{"receivers": jsonText(receivers)}})
	}
	if len(m.RemoteWrite) > 0 {
		units := map[string]map[string]string{}
		for i, u := range m.RemoteWrite {
			units["prometheus/"+strconv.Itoa(i)] = map[string]string{"remote_write": jsonText(map[string]string{"url": u})}
		}
		add("send-remote-write", coordinator.Relation{RemoteApp: "prometheus", Units: units})
	}
	for i := 0; i < m.Profiling; i++ {
		add("profiling", coordinator.Relation{RemoteApp: "profiling-requirer-" + strconv.Itoa(i)})
	}
	if m.Ingress != nil {
		add(coordinator.IngressEndpoint, coordinator.Relation{RemoteApp: "traefik", AppData: m.Ingress})
	}
	return o
}

// Output is what the charm would do.
type Output struct {
	Status       coordinator.Status
	Logs         []string
	WorkerConfig []byte
	Nginx        *coordinator.NginxPlan
	Databags     []coordinator.DatabagWrite
	Ports        []int
}

// Render runs the engine on the described model.
func Render(product *coordinator.Product, m *Model) (*Output, error) {
	d := coordinator.Reconcile(product, m.Observed(product))
	return &Output{
		Status: coordinator.Summarize(d.Statuses, d.ActiveMessage), Logs: d.Logs, WorkerConfig: d.WorkerConfig,
		Nginx: d.Nginx, Databags: d.Databags, Ports: d.Ports,
	}, nil
}

// Parts are the names Write accepts for `only`.
var Parts = []string{"status", "worker-config", "nginx", "databags", "ports"}

// Write prints the output as sections; only selects one part ("" = all).
func (out *Output) Write(w io.Writer, only string) error {
	if only != "" && !slices.Contains(Parts, only) {
		return fmt.Errorf("unknown part %q: want one of %s", only, strings.Join(Parts, ", "))
	}
	section := func(name string) bool {
		if only == name {
			return true
		}
		if only == "" {
			fmt.Fprintf(w, "==> %s\n", name)
			return true
		}
		return false
	}
	if section("status") {
		fmt.Fprintf(w, "%s: %s\n", out.Status.Level, out.Status.Message)
		for _, l := range out.Logs {
			fmt.Fprintf(w, "log: %s\n", l)
		}
	}
	if section("worker-config") {
		if out.WorkerConfig == nil {
			fmt.Fprintln(w, "(not published: see the status)")
		}
		w.Write(out.WorkerConfig)
	}
	if section("nginx") {
		if out.Nginx != nil {
			if !out.Nginx.Run {
				fmt.Fprintln(w, "# nginx stopped (cluster inconsistent); config kept:")
			}
			w.Write(out.Nginx.Config)
		}
	}
	if section("databags") {
		for _, db := range out.Databags {
			scope := "unit"
			if db.App {
				scope = "app"
			}
			if len(db.Data) == 0 {
				fmt.Fprintf(w, "%s (%s databag): nothing (what this unit wrote there before is deleted)\n", coordinator.RelationRef(db.Endpoint, db.RelationID), scope)
				continue
			}
			fmt.Fprintf(w, "%s (%s databag):\n", coordinator.RelationRef(db.Endpoint, db.RelationID), scope)
			for _, k := range slices.Sorted(maps.Keys(db.Data)) {
				fmt.Fprintf(w, "  %s: %s\n", k, abbreviate(db.Data[k]))
			}
		}
	}
	if section("ports") {
		for _, p := range out.Ports {
			fmt.Fprintf(w, "%d/tcp\n", p)
		}
	}
	return nil
}

// abbreviate keeps long values (the worker config) readable in a listing.
func abbreviate(v string) string {
	if len(v) > 120 {
		return coordinator.Truncate(v, 117) + fmt.Sprintf(" (%d bytes)", len(v))
	}
	return v
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func def(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
