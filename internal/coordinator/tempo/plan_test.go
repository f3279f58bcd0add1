package tempo

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/golden"
)

func TestProduct(t *testing.T) {
	p := Product()
	if p.Name != "tempo" || p.CharmName != "tempo-coordinator-k8s" || p.ClusterEndpoint != "tempo-cluster" ||
		p.ConfigKey != "worker_config" || p.StatusPort != 8080 {
		t.Errorf("unexpected product identity: %+v", p)
	}
	if err := p.Roles.Validate(); err != nil {
		t.Fatal(err)
	}
	wantAtomic := []string{"querier", "query-frontend", "ingester", "distributor", "compactor", "metrics-generator"}
	if !slices.Equal(p.Roles.Atomic, wantAtomic) {
		t.Errorf("atomic roles = %v", p.Roles.Atomic)
	}
	if !slices.Equal(p.Roles.Required, wantAtomic[:5]) || !slices.Equal(p.Roles.Optional, wantAtomic[5:]) {
		t.Errorf("required %v, optional %v", p.Roles.Required, p.Roles.Optional)
	}
	all, err := p.Roles.Expand("all")
	if err != nil || !slices.Equal(all, slices.Sorted(slices.Values(wantAtomic))) {
		t.Errorf("all expands to %v, %v", all, err)
	}
	if plan := p.Plan(&coordinator.Observed{}); plan.Renderer == nil || !plan.Publishable {
		t.Errorf("Plan = %+v, want a publishable plan with a renderer", plan)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		config    map[string]any
		wantHours int
		wantOn    []Receiver
		// wantBad are the expected [config] messages, in order.
		wantBad []string
	}{
		{name: "defaults", config: nil, wantHours: 720},
		{name: "explicit nulls", config: map[string]any{"retention-period": nil, "always_enable_zipkin": nil}, wantHours: 720},
		{name: "retention", config: map[string]any{"retention-period": 24.0}, wantHours: 24},
		{name: "retention one", config: map[string]any{"retention-period": 1.0}, wantHours: 1},
		{name: "retention max", config: map[string]any{"retention-period": float64(MaxRetentionHours)}, wantHours: MaxRetentionHours},
		{name: "retention int", config: map[string]any{"retention-period": 36}, wantHours: 36},
		{name: "toggles", config: map[string]any{"always_enable_zipkin": true, "always_enable_jaeger_grpc": false, "always_enable_otlp_grpc": true},
			wantHours: 720, wantOn: []Receiver{OTLPGRPC, Zipkin}},
		{name: "retention string", config: map[string]any{"retention-period": "abc"}, wantHours: 720,
			wantBad: []string{`[config] invalid retention-period: want a whole number of hours ≥ 1, got "abc"`}},
		{name: "retention zero", config: map[string]any{"retention-period": 0.0}, wantHours: 720,
			wantBad: []string{`[config] invalid retention-period: want a whole number of hours ≥ 1, got 0`}},
		{name: "retention negative", config: map[string]any{"retention-period": -5.0}, wantHours: 720,
			wantBad: []string{`[config] invalid retention-period: want a whole number of hours ≥ 1, got -5`}},
		{name: "retention fraction", config: map[string]any{"retention-period": 1.5}, wantHours: 720,
			wantBad: []string{`[config] invalid retention-period: want a whole number of hours ≥ 1, got 1.5`}},
		{name: "retention huge", config: map[string]any{"retention-period": 1e30}, wantHours: 720,
			wantBad: []string{`[config] invalid retention-period: want at most 876000 hours (100 years), got 1e+30`}},
		{name: "retention bool", config: map[string]any{"retention-period": true}, wantHours: 720,
			wantBad: []string{`[config] invalid retention-period: want a whole number of hours ≥ 1, got true`}},
		{name: "retention list", config: map[string]any{"retention-period": []any{1.0}}, wantHours: 720,
			wantBad: []string{`[config] invalid retention-period: want a whole number of hours ≥ 1, got a list`}},
		{name: "retention long string truncated", config: map[string]any{"retention-period": strings.Repeat("x", 500)}, wantHours: 720,
			wantBad: []string{`[config] invalid retention-period: want a whole number of hours ≥ 1, got "` + strings.Repeat("x", 40) + `..."`}},
		{name: "toggle string", config: map[string]any{"always_enable_zipkin": "yes"}, wantHours: 720,
			wantBad: []string{`[config] invalid always_enable_zipkin: want true or false, got "yes"`}},
		{name: "toggle number", config: map[string]any{"always_enable_jaeger_thrift_http": 1.0}, wantHours: 720,
			wantBad: []string{`[config] invalid always_enable_jaeger_thrift_http: want true or false, got 1`}},
		{name: "several bad, fixed order", config: map[string]any{
			"always_enable_otlp_http": "no", "retention-period": "x", "always_enable_otlp_grpc": map[string]any{},
		}, wantHours: 720, wantBad: []string{
			`[config] invalid retention-period: want a whole number of hours ≥ 1, got "x"`,
			`[config] invalid always_enable_otlp_grpc: want true or false, got an object`,
			`[config] invalid always_enable_otlp_http: want true or false, got "no"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(&coordinator.Observed{Config: tc.config})
			if got := p.Options.RetentionHours; got != tc.wantHours {
				t.Errorf("retention = %d, want %d", got, tc.wantHours)
			}
			var on []Receiver
			for _, r := range Receivers {
				if p.Options.AlwaysEnable[r] {
					on = append(on, r)
				}
			}
			if !slices.Equal(on, tc.wantOn) {
				t.Errorf("always enabled = %v, want %v", on, tc.wantOn)
			}
			var bad []string
			for _, s := range p.Statuses(nil) {
				if s.Level != coordinator.Blocked {
					t.Errorf("status %q is %v, want blocked", s.Message, s.Level)
				}
				bad = append(bad, s.Message)
			}
			if !slices.Equal(bad, tc.wantBad) {
				t.Errorf("statuses:\n got %q\nwant %q", bad, tc.wantBad)
			}
			if publishable := Product().Plan(&coordinator.Observed{Config: tc.config}).Publishable; publishable != (len(tc.wantBad) == 0) {
				t.Errorf("Publishable = %v with %d invalid options", publishable, len(tc.wantBad))
			}
		})
	}
}

func TestRequestedReceivers(t *testing.T) {
	for _, tc := range []struct {
		name         string
		config       map[string]any
		tracing      []coordinator.Relation
		want         []Receiver
		wantWarnings []string
	}{
		{name: "nothing requested: otlp_http only", want: []Receiver{OTLPHTTP}},
		{name: "one requirer", tracing: []coordinator.Relation{tracingRelation(3, "app", `["otlp_grpc","zipkin"]`)},
			want: []Receiver{OTLPGRPC, OTLPHTTP, Zipkin}},
		{name: "union of requirers", tracing: []coordinator.Relation{
			tracingRelation(3, "a", `["jaeger_grpc"]`),
			tracingRelation(4, "b", `["zipkin","otlp_http"]`),
			tracingRelation(5, "c", `[]`),
		}, want: []Receiver{JaegerGRPC, OTLPHTTP, Zipkin}},
		{name: "not published yet", tracing: []coordinator.Relation{tracingRelation(3, "a", "")}, want: []Receiver{OTLPHTTP}},
		{name: "invalid JSON ignored", tracing: []coordinator.Relation{
			tracingRelation(3, "a", `["zipkin"`),
			tracingRelation(4, "b", `["jaeger_thrift_http"]`),
		}, want: []Receiver{JaegerThriftHTTP, OTLPHTTP},
			wantWarnings: []string{"tracing:3 (a): ignoring receivers: not a JSON list of strings"}},
		{name: "not a list ignored", tracing: []coordinator.Relation{tracingRelation(3, "a", `{"zipkin":true}`)},
			want: []Receiver{OTLPHTTP}, wantWarnings: []string{"tracing:3 (a): ignoring receivers: not a JSON list of strings"}},
		{name: "unknown names ignored", tracing: []coordinator.Relation{tracingRelation(3, "a", `["zipkin","tempo_http","kafka"]`)},
			want:         []Receiver{OTLPHTTP, Zipkin},
			wantWarnings: []string{`tracing:3 (a): ignoring unknown receivers "tempo_http", "kafka"`}},
		{name: "oversized ignored", tracing: []coordinator.Relation{tracingRelation(3, "a", `["zipkin"`+strings.Repeat(`,"zipkin"`, 1000)+`]`)},
			want:         []Receiver{OTLPHTTP},
			wantWarnings: []string{"tracing:3 (a): ignoring receivers: value of 9010 bytes is over the limit of 4096"}},
		{name: "always enable", config: map[string]any{"always_enable_jaeger_grpc": true, "always_enable_zipkin": false, "always_enable_otlp_http": true},
			want: []Receiver{JaegerGRPC, OTLPHTTP}},
		{name: "always enable and requirers", config: map[string]any{"always_enable_otlp_grpc": true},
			tracing: []coordinator.Relation{tracingRelation(7, "a", `["otlp_grpc","jaeger_thrift_http"]`)},
			want:    []Receiver{JaegerThriftHTTP, OTLPGRPC, OTLPHTTP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Product().Plan(&coordinator.Observed{Config: tc.config, Relations: map[string][]coordinator.Relation{TracingEndpoint: tc.tracing}})
			if got := p.Renderer.(*Plan).Receivers; !slices.Equal(got, tc.want) {
				t.Errorf("receivers = %v, want %v", got, tc.want)
			}
			if got := p.Warnings; !slices.Equal(got, tc.wantWarnings) {
				t.Errorf("warnings = %q, want %q", got, tc.wantWarnings)
			}
			if !p.Publishable {
				t.Error("garbage from a requirer must not block publishing")
			}
		})
	}
}

// planWith builds a plan whose requested receivers are exactly rs (plus
// otlp_http, which is always there).
func planWith(rs ...Receiver) *Plan {
	config := map[string]any{}
	for _, r := range rs {
		config[AlwaysEnableOption(r)] = true
	}
	return NewPlan(&coordinator.Observed{Config: config})
}

func TestWorkerPorts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plan  *Plan
		roles []string
		want  []int
	}{
		{"querier", planWith(), []string{"querier"}, []int{3200, 7946}},
		{"ingester", planWith(Zipkin), []string{"ingester"}, []int{3200, 7946}},
		{"distributor default", planWith(), []string{"distributor"}, []int{3200, 4318, 7946}},
		{"distributor all receivers", planWith(Receivers...), []string{"distributor"}, []int{3200, 4317, 4318, 7946, 9411, 14250, 14268}},
		{"query-frontend", planWith(Zipkin), []string{"query-frontend"}, []int{3200, 7946, 9096}},
		{"multi-role", planWith(OTLPGRPC), []string{"distributor", "query-frontend", "querier"}, []int{3200, 4317, 4318, 7946, 9096}},
		{"all expanded", planWith(JaegerGRPC), Roles().Meta["all"], []int{3200, 4318, 7946, 9096, 14250}},
		{"no roles", planWith(), nil, []int{3200, 7946}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.plan.WorkerPorts(tc.roles); !slices.Equal(got, tc.want) {
				t.Errorf("WorkerPorts(%v) = %v, want %v", tc.roles, got, tc.want)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	// Each route accepts the body its worker accepts (see the limits in tempo.go).
	limits := map[string]int64{
		"tempo-http": 0, "tempo-grpc": 16 << 20,
		"otlp-grpc": 4 << 20, "jaeger-grpc": 4 << 20,
		"otlp-http": 20 << 20, "zipkin": 20 << 20, "jaeger-thrift-http": 20 << 20,
	}
	server := func(port int, grpc bool, upstream string) coordinator.Server {
		return coordinator.Server{Port: port, GRPC: grpc, Locations: []coordinator.Location{{Path: "/", Upstream: upstream, MaxBodyBytes: limits[upstream]}}}
	}
	t.Run("default", func(t *testing.T) {
		got := planWith().Routes(nil)
		want := coordinator.Routes{
			Upstreams: []coordinator.Upstream{
				{Name: "tempo-http", Role: "query-frontend", Port: 3200, Among: []string{}},
				{Name: "otlp-http", Role: "distributor", Port: 4318},
				{Name: "tempo-grpc", Role: "query-frontend", Port: 9096, Among: []string{}},
			},
			Servers: []coordinator.Server{server(3200, false, "tempo-http"), server(4318, false, "otlp-http"), server(9096, true, "tempo-grpc"),
				{Port: TelemetryProxyPort}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("routes:\n got %+v\nwant %+v", got, want)
		}
	})
	t.Run("every receiver", func(t *testing.T) {
		got := planWith(Receivers...).Routes(nil)
		want := coordinator.Routes{
			Upstreams: []coordinator.Upstream{
				{Name: "tempo-http", Role: "query-frontend", Port: 3200, Among: []string{}},
				{Name: "otlp-grpc", Role: "distributor", Port: 4317},
				{Name: "otlp-http", Role: "distributor", Port: 4318},
				{Name: "tempo-grpc", Role: "query-frontend", Port: 9096, Among: []string{}},
				{Name: "zipkin", Role: "distributor", Port: 9411},
				{Name: "jaeger-grpc", Role: "distributor", Port: 14250},
				{Name: "jaeger-thrift-http", Role: "distributor", Port: 14268},
			},
			Servers: []coordinator.Server{
				server(3200, false, "tempo-http"),
				server(4317, true, "otlp-grpc"),
				server(4318, false, "otlp-http"),
				server(9096, true, "tempo-grpc"),
				server(9411, false, "zipkin"),
				server(14250, true, "jaeger-grpc"),
				server(14268, false, "jaeger-thrift-http"),
				{Port: TelemetryProxyPort},
			},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("routes:\n got %+v\nwant %+v", got, want)
		}
	})
}

func renderInput(tls bool, external string, tracingIDs ...int) *coordinator.RenderInput {
	in := &coordinator.RenderInput{AppFQDN: "tempo.m.svc.cluster.local", ExternalURL: external, Relations: map[string][]coordinator.Relation{}}
	if tls {
		in.TLS = testTLS()
	}
	for _, id := range tracingIDs {
		in.Relations[TracingEndpoint] = append(in.Relations[TracingEndpoint], tracingRelation(id, "app", `["zipkin"]`))
	}
	return in
}

func TestProviderData(t *testing.T) {
	for _, tc := range []struct {
		name string
		plan *Plan
		in   *coordinator.RenderInput
		// want is the decoded receivers list, for every relation.
		want []map[string]any
	}{
		{name: "internal http", plan: planWith(OTLPGRPC), in: renderInput(false, "", 4), want: []map[string]any{
			{"protocol": map[string]any{"name": "otlp_grpc", "type": "grpc"}, "url": "tempo.m.svc.cluster.local:4317"},
			{"protocol": map[string]any{"name": "otlp_http", "type": "http"}, "url": "http://tempo.m.svc.cluster.local:4318"},
		}},
		{name: "internal tls", plan: planWith(Zipkin), in: renderInput(true, "", 4), want: []map[string]any{
			{"protocol": map[string]any{"name": "otlp_http", "type": "http"}, "url": "https://tempo.m.svc.cluster.local:4318"},
			{"protocol": map[string]any{"name": "zipkin", "type": "http"}, "url": "https://tempo.m.svc.cluster.local:9411"},
		}},
		{name: "ingress wins", plan: planWith(JaegerGRPC), in: renderInput(false, "https://tempo.example.com", 4), want: []map[string]any{
			{"protocol": map[string]any{"name": "jaeger_grpc", "type": "grpc"}, "url": "tempo.example.com:14250"},
			{"protocol": map[string]any{"name": "otlp_http", "type": "http"}, "url": "https://tempo.example.com:4318"},
		}},
		{name: "ingress port and path dropped", plan: planWith(), in: renderInput(false, "http://10.0.0.5:8080/m-tempo", 4), want: []map[string]any{
			{"protocol": map[string]any{"name": "otlp_http", "type": "http"}, "url": "http://10.0.0.5:4318"},
		}},
		{name: "ipv6 ingress", plan: planWith(OTLPGRPC), in: renderInput(false, "http://[fd00::1]", 4), want: []map[string]any{
			{"protocol": map[string]any{"name": "otlp_grpc", "type": "grpc"}, "url": "[fd00::1]:4317"},
			{"protocol": map[string]any{"name": "otlp_http", "type": "http"}, "url": "http://[fd00::1]:4318"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writes := tc.plan.ProviderData(tc.in)
			if len(writes) != 1 {
				t.Fatalf("got %d writes, want 1", len(writes))
			}
			w := writes[0]
			if w.Endpoint != "tracing" || w.RelationID != 4 || !w.App || len(w.Data) != 1 {
				t.Errorf("unexpected write %+v", w)
			}
			var got []map[string]any
			if err := json.Unmarshal([]byte(w.Data["receivers"]), &got); err != nil {
				t.Fatalf("receivers is not JSON: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("receivers:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestProviderDataEveryRelation(t *testing.T) {
	p := planWith(Zipkin)
	if got := p.ProviderData(renderInput(false, "")); got != nil {
		t.Errorf("no tracing relation: got %v", got)
	}
	noHost := renderInput(false, "", 1)
	noHost.AppFQDN = ""
	if got := p.ProviderData(noHost); got != nil {
		t.Errorf("no address: got %v", got)
	}
	writes := p.ProviderData(renderInput(false, "", 2, 9))
	if len(writes) != 2 || writes[0].RelationID != 2 || writes[1].RelationID != 9 ||
		writes[0].Data["receivers"] != writes[1].Data["receivers"] {
		t.Errorf("writes = %+v", writes)
	}
}

// TestProviderDataGolden pins the exact bytes of the tracing databag, with
// every receiver, behind an ingress.
func TestProviderDataGolden(t *testing.T) {
	writes := planWith(Receivers...).ProviderData(renderInput(false, "https://tempo.example.com", 4))
	if len(writes) != 1 {
		t.Fatalf("got %d writes", len(writes))
	}
	got := []byte(writes[0].Data["receivers"] + "\n")
	golden.Check(t, filepath.Join("testdata", "tracing-receivers.json"), got)
}

// The tracing databag is encoded with coordinator.EncodeJSON.
func TestMarshalJSONNoHTMLEscapes(t *testing.T) {
	got, err := coordinator.EncodeJSON([]string{"http://h/?a=1&b=<2>"})
	if err != nil || got != `["http://h/?a=1&b=<2>"]` {
		t.Errorf("EncodeJSON = %s, %v", got, err)
	}
}

func TestListReceivers(t *testing.T) {
	got, err := planWith(OTLPGRPC, JaegerThriftHTTP).ActionResults("list-receivers", renderInput(false, ""))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"otlp-http":          "http://tempo.m.svc.cluster.local:4318",
		"otlp-grpc":          "tempo.m.svc.cluster.local:4317",
		"jaeger-thrift-http": "http://tempo.m.svc.cluster.local:14268",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list-receivers = %v, want %v", got, want)
	}
	got, err = planWith().ActionResults("list-receivers", renderInput(true, "https://tempo.example.com"))
	if err != nil || !reflect.DeepEqual(got, map[string]string{"otlp-http": "https://tempo.example.com:4318"}) {
		t.Errorf("list-receivers behind ingress = %v, %v", got, err)
	}
	if _, err := planWith().ActionResults("restart", renderInput(false, "")); err == nil || !strings.Contains(err.Error(), `unknown action "restart"`) {
		t.Errorf("unknown action: err = %v", err)
	}
	noHost := renderInput(false, "")
	noHost.AppFQDN = ""
	if _, err := planWith().ActionResults("list-receivers", noHost); err == nil {
		t.Error("list-receivers without an address succeeded")
	}
}

func TestFrontendAddressAndQueriedFrontends(t *testing.T) {
	qf0, qf1 := fqdn("tempo-qf", 0), fqdn("tempo-qf", 1)
	mono, temp := fqdn("tempo-worker", 0), fqdn("tempo-temporary", 0)
	querier := fqdn("tempo-querier", 0)
	for _, tc := range []struct {
		name    string
		byRole  map[string][]string
		want    string
		queried []string
	}{
		{"no query-frontend", map[string][]string{"querier": {"q-0.q-endpoints.m.svc.cluster.local"}}, "localhost:9096", nil},
		{"no workers", nil, "localhost:9096", nil},
		{"all colocated", map[string][]string{"querier": {qf0}, "query-frontend": {qf0}}, "localhost:9096", []string{qf0}},
		{"querier subset of frontends: the frontend without a querier gets no queries",
			map[string][]string{"querier": {qf1}, "query-frontend": {qf0, qf1}}, "localhost:9096", []string{qf1}},
		{"separate apps: headless service of first sorted frontend",
			map[string][]string{"querier": {"q-0.q-endpoints.m.svc.cluster.local"}, "query-frontend": {qf1, qf0, "z-0.z-endpoints.m.svc.cluster.local"}},
			"tempo-qf-endpoints.m.svc.cluster.local:9096", []string{qf0, qf1}},
		{"one querier not colocated", map[string][]string{"querier": {qf0, "q-0.q.m"}, "query-frontend": {qf0}}, "tempo-qf-endpoints.m.svc.cluster.local:9096", []string{qf0}},
		{"transition: two all workers and a distributed querier and query-frontend",
			map[string][]string{"querier": {mono, temp, querier}, "query-frontend": {mono, temp, qf0}},
			"tempo-qf-endpoints.m.svc.cluster.local:9096", []string{qf0}},
		{"ipv4 frontend kept whole", map[string][]string{"querier": {"10.1.0.7"}, "query-frontend": {"10.1.0.9", "10.1.0.8"}}, "10.1.0.8:9096", []string{"10.1.0.8"}},
		{"ipv6 frontend bracketed", map[string][]string{"querier": {"fd00::7"}, "query-frontend": {"fd00::9"}}, "[fd00::9]:9096", []string{"fd00::9"}},
		{"single label kept", map[string][]string{"querier": {"q"}, "query-frontend": {"frontend"}}, "frontend:9096", []string{"frontend"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FrontendAddress(tc.byRole); got != tc.want {
				t.Errorf("FrontendAddress = %q, want %q", got, tc.want)
			}
			if got := QueriedFrontends(tc.byRole); !slices.Equal(got, tc.queried) {
				t.Errorf("QueriedFrontends = %q, want %q", got, tc.queried)
			}
		})
	}
}

func TestStatuses(t *testing.T) {
	hint := coordinator.Status{Level: coordinator.Active, Message: MetricsGeneratorDisabled}
	for _, tc := range []struct {
		name        string
		config      map[string]any
		remoteWrite []string
		in          func(t *testing.T) *coordinator.RenderInput
		want        []coordinator.Status
	}{
		{"monolithic without remote write", nil, nil, func(t *testing.T) *coordinator.RenderInput { return baseInput(monolithic(t)) },
			[]coordinator.Status{hint}},
		{"with remote write", nil, remoteWrite, func(t *testing.T) *coordinator.RenderInput { return baseInput(monolithic(t)) }, nil},
		{"no metrics-generator worker", nil, nil, func(t *testing.T) *coordinator.RenderInput {
			return baseInput(distributed(t, RoleMetricsGenerator))
		}, nil},
		{"no workers", nil, nil, func(t *testing.T) *coordinator.RenderInput { return &coordinator.RenderInput{} }, nil},
		{"invalid option first", map[string]any{"retention-period": "abc"}, nil,
			func(t *testing.T) *coordinator.RenderInput { return baseInput(distributed(t)) },
			[]coordinator.Status{
				{Level: coordinator.Blocked, Message: `[config] invalid retention-period: want a whole number of hours ≥ 1, got "abc"`},
				hint,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(&coordinator.Observed{Config: tc.config})
			p.RemoteWriteURLs = tc.remoteWrite
			got := p.Statuses(tc.in(t))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("statuses = %+v, want %+v", got, tc.want)
			}
		})
	}
}
