package coordinator_test

import (
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// remoteTempo is another Tempo's answer on a tracing relation (tracing v2
// provider app databag).
const remoteTempo = `[{"protocol":{"name":"otlp_grpc","type":"grpc"},"url":"tempo2.other.svc.cluster.local:4317"},` +
	`{"protocol":{"name":"otlp_http","type":"http"},"url":"http://tempo2.other.svc.cluster.local:4318"},` +
	`{"protocol":{"name":"zipkin","type":"http"},"url":"http://tempo2.other.svc.cluster.local:9411"}]`

func selfTracing(endpoint string, id int, receivers string) coordinator.Relation {
	rel := coordinator.Relation{ID: id, Endpoint: endpoint, RemoteApp: "tempo2", Units: map[string]map[string]string{"tempo2/0": {}}}
	if receivers != "" {
		rel.AppData = map[string]string{"receivers": receivers}
	}
	return rel
}

func TestOfferedReceivers(t *testing.T) {
	req := coordinator.TracingRequirer{Endpoint: "charm-tracing", Protocols: []string{"otlp_http", "otlp_grpc"}}
	for _, tc := range []struct {
		name, receivers string
		want            coordinator.TracingReceivers
		warning         string // a substring; "" for none
	}{
		{"not answered", "", nil, ""},
		{"requested only", remoteTempo, coordinator.TracingReceivers{
			"otlp_http": "http://tempo2.other.svc.cluster.local:4318", "otlp_grpc": "tempo2.other.svc.cluster.local:4317"}, ""},
		{"first of a protocol wins", `[{"protocol":{"name":"otlp_http"},"url":"https://a.example:4318"},{"protocol":{"name":"otlp_http"},"url":"http://b.example:4318"}]`,
			coordinator.TracingReceivers{"otlp_http": "https://a.example:4318"}, ""},
		{"none requested", `[{"protocol":{"name":"zipkin","type":"http"},"url":"http://t:9411"}]`, nil, "offers none of the receivers requested (otlp_http, otlp_grpc)"},
		{"not JSON", `{{`, nil, "not a JSON list"},
		{"not a list", `{"otlp_http":"http://t:4318"}`, nil, "not a JSON list"},
		{"too large", `[` + strings.Repeat(" ", 20000) + `]`, nil, "over the limit"},
		{"hostile URL", `[{"protocol":{"name":"otlp_http"},"url":"http://evil;\n}/x"},{"protocol":{"name":"otlp_grpc"},"url":"t.example:4317"}]`,
			coordinator.TracingReceivers{"otlp_grpc": "t.example:4317"}, `ignoring invalid receiver URLs: otlp_http "http://evil;\n}/x"`},
		{"gRPC URL with a scheme", `[{"protocol":{"name":"otlp_grpc"},"url":"http://t.example:4317"}]`, nil, "invalid receiver URLs"},
		{"gRPC URL without port", `[{"protocol":{"name":"otlp_grpc"},"url":"t.example"}]`, nil, "invalid receiver URLs"},
		{"HTTP URL not http", `[{"protocol":{"name":"otlp_http"},"url":"file:///etc/passwd"}]`, nil, "invalid receiver URLs"},
		{"credentials in URL", `[{"protocol":{"name":"otlp_http"},"url":"http://u:p@t.example:4318"}]`, nil, "invalid receiver URLs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warning := coordinator.OfferedReceivers(req, []coordinator.Relation{selfTracing("charm-tracing", 3, tc.receivers)})
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
			if (tc.warning == "") != (warning == "") || !strings.Contains(warning, tc.warning) {
				t.Errorf("warning %q, want one containing %q", warning, tc.warning)
			}
			if len(warning) > 300 {
				t.Errorf("warning of %d bytes: untrusted data is not truncated", len(warning))
			}
		})
	}
}

// tracingScenarios relate and unrelate the Tempo coordinator's own tracing
// requirers.
func tracingScenarios() []engineScenario {
	mono := []coordinator.Relation{worker(1, "tempo-worker", "all", 1)}
	own := `{"otlp_http":"http://tempo.m.svc.cluster.local:4318"}`
	return []engineScenario{
		{"self-tracing-unrelated", func() *coordinator.Observed {
			return observed(mono, withS3(nil))
		}, func(t *testing.T, d *coordinator.Desired) {
			c := find(d, "tempo-cluster")[0].Data
			if c["charm_tracing_receivers"] != own || c["workload_tracing_receivers"] != own {
				t.Errorf("without a relation the workers trace into their own Tempo: %v", c)
			}
			if len(find(d, tempo.CharmTracingEndpoint))+len(find(d, tempo.WorkloadTracingEndpoint)) != 0 {
				t.Error("a request was written without a relation")
			}
		}},
		{"self-tracing-related", func() *coordinator.Observed {
			return observed(mono, withS3(map[string][]coordinator.Relation{
				tempo.CharmTracingEndpoint:    {selfTracing(tempo.CharmTracingEndpoint, 30, remoteTempo)},
				tempo.WorkloadTracingEndpoint: {selfTracing(tempo.WorkloadTracingEndpoint, 31, "")},
			}))
		}, func(t *testing.T, d *coordinator.Desired) {
			for _, ep := range []string{tempo.CharmTracingEndpoint, tempo.WorkloadTracingEndpoint} {
				if w := find(d, ep); len(w) != 1 || !w[0].App || w[0].Data["receivers"] != `["otlp_http"]` {
					t.Errorf("%s request %+v", ep, w)
				}
			}
			c := find(d, "tempo-cluster")[0].Data
			if c["charm_tracing_receivers"] != `{"otlp_http":"http://tempo.m.svc.cluster.local:3300/proxy/charm-tracing/otlp_http/"}` {
				t.Errorf("charm tracing goes to the related Tempo through the proxy: %v", c["charm_tracing_receivers"])
			}
			if c["workload_tracing_receivers"] != own {
				t.Errorf("until the provider answers, workloads trace into their own Tempo: %v", c["workload_tracing_receivers"])
			}
		}},
		{"self-tracing-answered", func() *coordinator.Observed {
			return observed(mono, withS3(map[string][]coordinator.Relation{
				tempo.CharmTracingEndpoint:    {selfTracing(tempo.CharmTracingEndpoint, 30, remoteTempo)},
				tempo.WorkloadTracingEndpoint: {selfTracing(tempo.WorkloadTracingEndpoint, 31, remoteTempo)},
			}))
		}, func(t *testing.T, d *coordinator.Desired) {
			c := find(d, "tempo-cluster")[0].Data
			for key, want := range map[string]string{
				"charm_tracing_receivers":    `{"otlp_http":"http://tempo.m.svc.cluster.local:3300/proxy/charm-tracing/otlp_http/"}`,
				"workload_tracing_receivers": `{"otlp_http":"http://tempo.m.svc.cluster.local:3300/proxy/workload-tracing/otlp_http/"}`,
			} {
				if c[key] != want {
					t.Errorf("%s = %s, want %s (through the proxy)", key, c[key], want)
				}
			}
			conf := string(d.Nginx.Config)
			for _, want := range []string{"location /proxy/charm-tracing/otlp_http/ {", "location /proxy/workload-tracing/otlp_http/ {"} {
				if !strings.Contains(conf, want) {
					t.Errorf("nginx.conf lacks %q", want)
				}
			}
		}},
		{"self-tracing-hostile", func() *coordinator.Observed {
			return observed(mono, withS3(map[string][]coordinator.Relation{
				tempo.CharmTracingEndpoint:    {selfTracing(tempo.CharmTracingEndpoint, 30, `[{"protocol":{"name":"otlp_http"},"url":"http://x;} server {/"}]`)},
				tempo.WorkloadTracingEndpoint: {selfTracing(tempo.WorkloadTracingEndpoint, 31, `"otlp_http"`)},
			}))
		}, func(t *testing.T, d *coordinator.Desired) {
			c := find(d, "tempo-cluster")[0].Data
			if c["charm_tracing_receivers"] != own || c["workload_tracing_receivers"] != own {
				t.Errorf("unusable provider data falls back to the own Tempo: %v", c)
			}
			if len(d.Logs) < 2 {
				t.Errorf("no warning about the provider data: %q", d.Logs)
			}
		}},
		{"self-tracing-non-leader", func() *coordinator.Observed {
			o := observed(mono, withS3(map[string][]coordinator.Relation{
				tempo.CharmTracingEndpoint: {selfTracing(tempo.CharmTracingEndpoint, 30, remoteTempo)},
			}))
			o.Leader = false
			return o
		}, func(t *testing.T, d *coordinator.Desired) {
			for _, w := range d.Databags {
				if w.App {
					t.Errorf("a non-leader wrote %s", coordinator.RelationRef(w.Endpoint, w.RelationID))
				}
			}
		}},
	}
}

func TestReconcileSelfTracingGolden(t *testing.T) {
	for _, sc := range tracingScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			d := coordinator.Reconcile(tempo.Product(), sc.observed())
			sc.check(t, d)
			checkGolden(t, "engine/"+sc.name+".golden", []byte(describeDesired(d)))
		})
	}
}
