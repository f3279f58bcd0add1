package pyroscope

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

func TestProductIdentity(t *testing.T) {
	p := Product()
	got := []any{p.Name, p.CharmName, p.ClusterEndpoint, p.ConfigKey, p.StatusPort}
	want := []any{"pyroscope", "pyroscope-coordinator-k8s", "pyroscope-cluster", "config", 8080}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("identity = %v, want %v", got, want)
	}
	if err := p.Roles.Validate(); err != nil {
		t.Fatal(err)
	}
	nine := []string{"querier", "query-frontend", "query-scheduler", "ingester", "distributor",
		"compactor", "store-gateway", "tenant-settings", "ad-hoc-profiles"}
	if !slices.Equal(p.Roles.Atomic, nine) || !slices.Equal(p.Roles.Required, nine) || len(p.Roles.Optional) != 0 {
		t.Errorf("roles: atomic %v, required %v, optional %v", p.Roles.Atomic, p.Roles.Required, p.Roles.Optional)
	}
	for _, role := range []string{"all", "ingester,all", strings.Join(nine, ",")} {
		if got, err := p.Roles.Expand(role); err != nil || !slices.Equal(got, slices.Sorted(slices.Values(nine))) {
			t.Errorf("Expand(%q) = %v, %v", role, got, err)
		}
	}
	if got, err := p.Roles.Expand("query-frontend,querier"); err != nil || !slices.Equal(got, []string{"querier", "query-frontend"}) {
		t.Errorf("multi-role expands to %v, %v", got, err)
	}
	if !reflect.DeepEqual(p.ExtraEndpoints, []coordinator.Endpoint{{Name: "profiling"}}) {
		t.Errorf("extra endpoints = %+v: profiling only, reading nothing", p.ExtraEndpoints)
	}
	if plan := p.Plan(nil); !plan.Publishable || plan.Warnings != nil {
		t.Errorf("plan = %+v: publishable, without warnings", plan)
	} else if _, isPyroscope := plan.Renderer.(*Plan); !isPyroscope {
		t.Error("Plan does not render with a pyroscope plan")
	}
}

func TestOptions(t *testing.T) {
	def := DefaultOptions()
	off := DisabledCleanup()
	for _, tc := range []struct {
		name    string
		config  map[string]any
		want    Options
		invalid []string
	}{
		{"unset", nil, def, nil},
		{"nulls", map[string]any{"retention_period": nil, "deletion_delay": nil, "cleanup_interval": nil}, def, nil},
		{"every unit", map[string]any{"retention_period": "2y", "deletion_delay": "1w", "cleanup_interval": "500ms"},
			Options{"2y", "1w", "500ms"}, nil},
		{"zero retention and delay", map[string]any{"retention_period": "0", "deletion_delay": "0"},
			Options{"0", "0", "15m"}, nil},
		{"leading zeros", map[string]any{"retention_period": "007d"}, Options{"007d", "12h", "15m"}, nil},
		{"zero cleanup interval", map[string]any{"cleanup_interval": "0"}, off, []string{"cleanup_interval"}},
		{"zero cleanup interval with unit", map[string]any{"cleanup_interval": "0s"}, off, []string{"cleanup_interval"}},
		{"no unit", map[string]any{"retention_period": "30"}, off, []string{"retention_period"}},
		{"two units", map[string]any{"retention_period": "1h30m"}, off, []string{"retention_period"}},
		{"fraction", map[string]any{"deletion_delay": "1.5h"}, off, []string{"deletion_delay"}},
		{"negative", map[string]any{"deletion_delay": "-1h"}, off, []string{"deletion_delay"}},
		{"unknown unit", map[string]any{"cleanup_interval": "5x"}, off, []string{"cleanup_interval"}},
		{"upper case", map[string]any{"retention_period": "1D"}, off, []string{"retention_period"}},
		{"spaces", map[string]any{"retention_period": " 1d"}, off, []string{"retention_period"}},
		{"empty", map[string]any{"retention_period": ""}, off, []string{"retention_period"}},
		{"trailing newline", map[string]any{"retention_period": "1d\n"}, off, []string{"retention_period"}},
		{"overflow", map[string]any{"retention_period": "300y"}, off, []string{"retention_period"}},
		{"huge number", map[string]any{"deletion_delay": "99999999999999999999ms"}, off, []string{"deletion_delay"}},
		{"largest", map[string]any{"retention_period": "292y"}, Options{"292y", "12h", "15m"}, nil},
		{"a number", map[string]any{"retention_period": 24.0}, off, []string{"retention_period"}},
		{"a bool", map[string]any{"deletion_delay": false}, off, []string{"deletion_delay"}},
		{"all bad, sorted", map[string]any{"retention_period": "x", "deletion_delay": "y", "cleanup_interval": "z"},
			off, []string{"cleanup_interval", "deletion_delay", "retention_period"}},
		{"one bad disables the others", map[string]any{"retention_period": "30d", "deletion_delay": "1h", "cleanup_interval": "1"},
			off, []string{"cleanup_interval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(&coordinator.Observed{Config: tc.config})
			if p.Options != tc.want {
				t.Errorf("options = %+v, want %+v", p.Options, tc.want)
			}
			if !slices.Equal(p.Invalid, tc.invalid) {
				t.Errorf("invalid = %q, want %q", p.Invalid, tc.invalid)
			}
			if !Product().Plan(&coordinator.Observed{Config: tc.config}).Publishable {
				t.Error("invalid options must not stop publishing (clean-up is disabled instead)")
			}
			statuses := p.Statuses(nil)
			if len(tc.invalid) == 0 {
				if len(statuses) != 0 {
					t.Errorf("statuses = %v, want none", statuses)
				}
				return
			}
			quoted := "'" + strings.Join(tc.invalid, "', '") + "'"
			want := []coordinator.Status{{Level: coordinator.Blocked,
				Message: "[config] The following configurations are not valid: [" + quoted + "]"}}
			if !reflect.DeepEqual(statuses, want) {
				t.Errorf("statuses = %v, want %v", statuses, want)
			}
		})
	}
}

func TestDurationRendering(t *testing.T) {
	for _, tc := range []struct {
		option      string
		model, goes any
	}{
		{"0", 0, 0},
		{"1d", "1d", "24h"},
		{"2w", "2w", "336h"},
		{"1y", "1y", "8760h"},
		{"12h", "12h", "12h"},
		{"15m", "15m", "15m"},
		{"30s", "30s", "30s"},
		{"250ms", "250ms", "250ms"},
	} {
		if got := modelDuration(tc.option); got != tc.model {
			t.Errorf("modelDuration(%q) = %#v, want %#v", tc.option, got, tc.model)
		}
		if got := goDuration(tc.option); got != tc.goes {
			t.Errorf("goDuration(%q) = %#v, want %#v", tc.option, got, tc.goes)
		}
	}
}

func TestWorkerPortsEveryRole(t *testing.T) {
	p := NewPlan(nil)
	for _, roles := range [][]string{nil, {"all"}, Roles().Atomic, {"querier"}, {"distributor", "ingester"}} {
		if got := p.WorkerPorts(roles); !slices.Equal(got, []int{4040, 7946}) {
			t.Errorf("WorkerPorts(%v) = %v, want [4040 7946]", roles, got)
		}
	}
}

func TestRoutes(t *testing.T) {
	got := NewPlan(nil).Routes(nil)
	var upstreams []coordinator.Upstream
	for _, r := range Roles().Atomic {
		upstreams = append(upstreams, coordinator.Upstream{Name: r, Role: r, Port: 4040})
	}
	upstreams = append(upstreams, coordinator.Upstream{Name: "worker", Port: 4040},
		coordinator.Upstream{Name: "distributor-grpc", Role: "distributor", Port: 4040})
	loc := func(mod, path, up string) coordinator.Location {
		return coordinator.Location{Modifier: mod, Path: path, Upstream: up}
	}
	// Pyroscope's distributor takes 256 MiB bodies over HTTP (see plan.go).
	ingest := func(l coordinator.Location) coordinator.Location {
		l.MaxBodyBytes = 256 << 20
		return l
	}
	want := coordinator.Routes{Upstreams: upstreams, Servers: []coordinator.Server{
		{Port: 8080, Locations: []coordinator.Location{
			loc("=", "/", "worker"),
			loc("", "/assets", "worker"),
			ingest(loc("=", "/ingest", "distributor")),
			ingest(loc("", "/push.v1.PusherService", "distributor")),
			loc("", "/pyroscope", "query-frontend"),
			loc("", "/querier", "query-frontend"),
			loc("", "/settings", "tenant-settings"),
			loc("", "/adhocprofiles", "ad-hoc-profiles"),
		}},
		{Port: 42424, GRPC: true, Locations: []coordinator.Location{{Path: "/opentelemetry.proto.collector", Upstream: "distributor-grpc", MaxBodyBytes: 4 << 20}}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes:\n got %+v\nwant %+v", got, want)
	}
}

// TestNginxGolden pins the nginx.conf the Pyroscope routes make.
func TestNginxGolden(t *testing.T) {
	for name, ws := range map[string][]worker{"nginx-distributed.conf": perRole, "nginx-monolithic.conf": monolith} {
		t.Run(name, func(t *testing.T) {
			in := input(t, ws...)
			conf := coordinator.RenderNginx(coordinator.NginxInput{
				Facts:           coordinator.NginxFacts{Version: "1.27.5", Resolver: "10.152.183.10"},
				Routes:          NewPlan(nil).Routes(in),
				AddressesByRole: in.Cluster.AddressesByRole(),
				AllAddresses:    in.Cluster.Addresses(),
				ServerName:      in.UnitFQDN,
				StatusPort:      StatusPort,
			})
			checkGolden(t, name, conf)
			for _, want := range []string{"listen 8080;", "listen 42424;", "location = /ingest", "grpc_pass", "location = /status"} {
				if !strings.Contains(string(conf), want) {
					t.Errorf("nginx.conf lacks %q", want)
				}
			}
		})
	}
}

// profilingInput is a render input with profiling relations ids.
func profilingInput(t *testing.T, ids ...int) *coordinator.RenderInput {
	in := input(t, monolith...)
	for _, id := range ids {
		in.Relations[ProfilingEndpoint] = append(in.Relations[ProfilingEndpoint],
			coordinator.Relation{ID: id, Endpoint: ProfilingEndpoint, RemoteApp: "otel-collector"})
	}
	return in
}

func TestActiveMessage(t *testing.T) {
	in := &coordinator.RenderInput{AppFQDN: "pyroscope.m.svc.cluster.local"}
	if got, want := NewPlan(nil).ActiveMessage(in), "UI ready at http://pyroscope.m.svc.cluster.local:8080"; got != want {
		t.Errorf("ActiveMessage = %q, want %q", got, want)
	}
	in.ExternalURL = "https://pyro.example.com/m-pyroscope"
	if got, want := NewPlan(nil).ActiveMessage(in), "UI ready at https://pyro.example.com/m-pyroscope"; got != want {
		t.Errorf("ActiveMessage with ingress = %q, want %q", got, want)
	}
	if got := NewPlan(nil).ActiveMessage(&coordinator.RenderInput{}); got != "" {
		t.Errorf("ActiveMessage without an address = %q, want none", got)
	}
}

func TestProfilingDatabag(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tls      bool
		external string
		url      string
		insecure bool
	}{
		{"in cluster", false, "", "pyroscope.m.svc.cluster.local:42424", true},
		{"in cluster with TLS", true, "", "pyroscope.m.svc.cluster.local:42424", false},
		{"http ingress", true, "http://pyro.example.com/m-pyroscope", "pyro.example.com:42424", true},
		{"https ingress", false, "https://pyro.example.com/m-pyroscope", "pyro.example.com:42424", false},
		{"ingress port dropped", false, "http://10.0.0.9:80", "10.0.0.9:42424", true},
		{"ipv6 ingress", false, "https://[fd00::9]/x", "[fd00::9]:42424", false},
		{"unusable ingress", false, "ftp://pyro.example.com", "pyroscope.m.svc.cluster.local:42424", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := profilingInput(t, 7)
			in.ExternalURL = tc.external
			if tc.tls {
				in.TLS = &coordinator.TLS{CACert: "ca", ServerCert: "cert", PrivateKey: "key"}
			}
			writes := NewPlan(nil).ProviderData(in)
			if len(writes) != 1 {
				t.Fatalf("%d writes, want 1", len(writes))
			}
			w := writes[0]
			if w.Endpoint != "profiling" || w.RelationID != 7 || !w.App || len(w.Data) != 2 {
				t.Errorf("write = %+v", w)
			}
			var url string
			var insecure bool
			if err := json.Unmarshal([]byte(w.Data["otlp_grpc_endpoint_url"]), &url); err != nil || url != tc.url {
				t.Errorf("otlp_grpc_endpoint_url = %s (%v), want %q", w.Data["otlp_grpc_endpoint_url"], err, tc.url)
			}
			if err := json.Unmarshal([]byte(w.Data["insecure"]), &insecure); err != nil || insecure != tc.insecure {
				t.Errorf("insecure = %s (%v), want %v", w.Data["insecure"], err, tc.insecure)
			}
		})
	}
}

func TestProfilingDatabagRelations(t *testing.T) {
	p := NewPlan(nil)
	if got := p.ProviderData(profilingInput(t)); got != nil {
		t.Errorf("no profiling relation: %+v", got)
	}
	if got := p.ProviderData(nil); got != nil {
		t.Errorf("no input: %+v", got)
	}
	unknown := profilingInput(t, 3)
	unknown.AppFQDN = ""
	if got := p.ProviderData(unknown); got != nil {
		t.Errorf("no address yet: %+v", got)
	}
	writes := p.ProviderData(profilingInput(t, 3, 12))
	if len(writes) != 2 || writes[0].RelationID != 3 || writes[1].RelationID != 12 ||
		!reflect.DeepEqual(writes[0].Data, writes[1].Data) {
		t.Fatalf("writes = %+v", writes)
	}
	// The exact bytes, as the Python requirer's json.loads reads them.
	checkGolden(t, "profiling-databag.json", []byte(writes[0].Data["otlp_grpc_endpoint_url"]+"\n"+writes[0].Data["insecure"]+"\n"))
}

func TestNoActions(t *testing.T) {
	for _, action := range []string{"list-receivers", "", strings.Repeat("a", 100)} {
		got, err := NewPlan(nil).ActionResults(action, input(t, monolith...))
		if err == nil || got != nil {
			t.Errorf("ActionResults(%q) = %v, %v; want an error", action, got, err)
		}
	}
}
