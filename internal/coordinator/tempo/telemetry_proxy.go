package tempo

import "github.com/tempo-coordinator/coordinator/internal/coordinator"

// TelemetryProxyPort is the nginx port of the worker telemetry proxy:
// the workers' metrics are scraped, and their logs, remote-write and
// traces leave the cluster, through the coordinator there.
const TelemetryProxyPort = 3300

// telemetryProxy routes the workers' telemetry through the proxy; ok is
// false while the coordinator's service name is unknown (no proxy URL
// can be formed).
func (p *Plan) telemetryProxy(in *coordinator.RenderInput) (coordinator.ProxiedTelemetry, bool) {
	if in == nil || in.AppFQDN == "" {
		return coordinator.ProxiedTelemetry{}, false
	}
	x := coordinator.TelemetryProxy{Port: TelemetryProxyPort, Host: in.AppFQDN, TLS: in.TLS != nil, WorkerMetricsPort: HTTPPort}
	direct := in.Telemetry
	direct.RemoteWrite = p.RemoteWriteURLs
	return x.Route(direct, in.Cluster.Units()), true
}

// proxyRoutes are the proxy's upstreams and server. The server is always
// listed, so that its port is open as the reference opens it, even while
// nginx has no location to serve there.
func (p *Plan) proxyRoutes(in *coordinator.RenderInput) coordinator.Routes {
	proxied, ok := p.telemetryProxy(in)
	if !ok {
		return coordinator.Routes{Servers: []coordinator.Server{{Port: TelemetryProxyPort}}}
	}
	return proxied.Routes
}
