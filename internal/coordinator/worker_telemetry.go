package coordinator

import "strings"

// WorkerTelemetry is where the workers send their own telemetry: what the
// leader publishes to them in the cluster app databag.
type WorkerTelemetry struct {
	// CharmTracing and WorkloadTracing are the trace receivers of the
	// workers' charms and workloads; nil when there is none.
	CharmTracing, WorkloadTracing TracingReceivers
	// RemoteWrite are Prometheus remote-write URLs, sorted: set by the
	// product's TelemetryRouter (Tempo's metrics-generator pushes there).
	RemoteWrite []string
	// Loki are the Loki units the workers push their logs to.
	Loki LokiEndpoints
	// Scrape, when not nil, says where Prometheus scrapes each worker
	// unit (by unit name) instead of at its own address.
	Scrape map[string]ScrapeTarget
}

// TelemetryRouter is implemented by a Plan that decides itself where the
// workers' telemetry goes, e.g. Tempo, whose workers trace into their own
// cluster when no tracing relation says otherwise.
type TelemetryRouter interface {
	// RouteTelemetry returns what the workers are told, given in.Telemetry
	// (the destinations the relations offer).
	RouteTelemetry(in *RenderInput) WorkerTelemetry
}

// observeTelemetry reads the destinations of the workers' telemetry from
// the relations, with warnings about unusable provider data.
func observeTelemetry(p *Product, in *RenderInput, logs []string) (WorkerTelemetry, []string) {
	t := WorkerTelemetry{Loki: in.LokiEndpoints}
	var warning string
	t.CharmTracing, warning = OfferedReceivers(p.CharmTracing, in.Relations[p.CharmTracing.Endpoint])
	if warning != "" {
		logs = append(logs, warning)
	}
	t.WorkloadTracing, warning = OfferedReceivers(p.WorkloadTracing, in.Relations[p.WorkloadTracing.Endpoint])
	if warning != "" {
		logs = append(logs, warning)
	}
	return t, logs
}

// publishedTelemetry is what the workers are told: the plan's routing when
// it has one, else the relations' destinations as they are.
func publishedTelemetry(plan Plan, in *RenderInput) WorkerTelemetry {
	if r, ok := plan.Renderer.(TelemetryRouter); ok {
		return r.RouteTelemetry(in)
	}
	return in.Telemetry
}

// telemetryKeys are the cluster app databag keys of the workers'
// telemetry; keys with nothing to say are left out.
func telemetryKeys(t WorkerTelemetry) map[string]string {
	out := map[string]string{}
	if len(t.CharmTracing) > 0 {
		out["charm_tracing_receivers"] = mustJSON(t.CharmTracing)
	}
	if len(t.WorkloadTracing) > 0 {
		out["workload_tracing_receivers"] = mustJSON(t.WorkloadTracing)
	}
	if len(t.RemoteWrite) > 0 {
		eps := make([]map[string]string, 0, len(t.RemoteWrite))
		for _, u := range t.RemoteWrite {
			eps = append(eps, map[string]string{"url": u})
		}
		out["remote_write_endpoints"] = mustJSON(eps)
	}
	if len(t.Loki) > 0 {
		out["loki_endpoints"] = mustJSON(t.Loki.Map())
	}
	return out
}

// ProxyUnitName is a unit name as the worker telemetry proxy's paths and
// upstream names spell it: "tempo-worker/0" → "tempo-worker-0".
func ProxyUnitName(unit string) string { return strings.ReplaceAll(unit, "/", "-") }
