package tempo

import "github.com/tempo-coordinator/coordinator/internal/coordinator"

// Tempo's tracing requirer endpoints: where its workers' charms and
// workloads send their own traces when they should not trace into the
// cluster they belong to.
const (
	CharmTracingEndpoint    = "self-charm-tracing"
	WorkloadTracingEndpoint = "self-workload-tracing"
)

var _ coordinator.TelemetryRouter = (*Plan)(nil)

// RouteTelemetry tells the workers where to send their own telemetry:
// everything goes through the worker telemetry proxy (TelemetryProxyPort).
// Tracing goes where the self-charm-tracing and self-workload-tracing
// relations say; without one, into this Tempo: every receiver it serves,
// at its in-cluster address (the workers are in the cluster: no detour
// through the ingress). Metrics go to the remote-write endpoints.
func (p *Plan) RouteTelemetry(in *coordinator.RenderInput) coordinator.WorkerTelemetry {
	t := in.Telemetry
	t.RemoteWrite = p.RemoteWriteURLs
	if proxied, ok := p.telemetryProxy(in); ok {
		t = proxied.Published
	}
	var own coordinator.TracingReceivers
	if urls := p.receiverURLsAt(coordinator.InternalAddress(in)); urls != nil {
		own = make(coordinator.TracingReceivers, len(urls))
		for r, u := range urls {
			own[string(r)] = u
		}
	}
	// Related: the proxied receivers (none when none could be proxied).
	if in.Telemetry.CharmTracing == nil {
		t.CharmTracing = own
	}
	if in.Telemetry.WorkloadTracing == nil {
		t.WorkloadTracing = own
	}
	return t
}
