package tempo

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// ActionListReceivers is the action that lists the receivers' URLs.
const ActionListReceivers = "list-receivers"

// MetricsGeneratorDisabled is the hint shown when a worker runs the
// metrics-generator but there is nowhere to send its metrics.
const MetricsGeneratorDisabled = "metrics-generator disabled. Add a relation over send-remote-write"

// Plan is what Tempo made of its options and relations in one hook; it is
// the Renderer of the coordinator.Plan that Product().Plan returns.
type Plan struct {
	// Options are the options in effect (defaults replace invalid values).
	Options Options
	// Receivers are the requested receivers, sorted by name.
	Receivers []Receiver
	// RemoteWriteURLs are the valid remote-write endpoints, sorted.
	RemoteWriteURLs []string
	// invalid has one Blocked status per invalid option.
	invalid []coordinator.Status
	// warnings describe relation data that was ignored.
	warnings []string
}

var _ coordinator.Renderer = (*Plan)(nil)

// NewPlan reads Tempo's options, tracing and remote-write relations from
// what the charm observed (only o.Config and o.Relations are used; nil
// means defaults).
func NewPlan(o *coordinator.Observed) *Plan {
	var config map[string]any
	var tracing, remoteWrite []coordinator.Relation
	if o != nil {
		config = o.Config
		tracing = o.Relations[TracingEndpoint]
		remoteWrite = o.Relations[RemoteWriteEndpoint]
	}
	p := &Plan{}
	p.Options, p.invalid = ParseOptions(config)
	p.RemoteWriteURLs, p.warnings = RemoteWriteURLs(remoteWrite)
	var receiverWarnings []string
	p.Receivers, receiverWarnings = RequestedReceivers(tracing, p.Options)
	p.warnings = append(p.warnings, receiverWarnings...)
	return p
}

// enginePlan is Product().Plan: the worker config is withheld while an
// option is invalid, so that a wrong retention never reaches the workers.
func enginePlan(o *coordinator.Observed) coordinator.Plan {
	p := NewPlan(o)
	return coordinator.Plan{Warnings: p.warnings, Publishable: len(p.invalid) == 0, Renderer: p}
}

// Statuses returns one Blocked status per invalid option, then the
// metrics-generator hint when a worker runs it without remote write.
func (p *Plan) Statuses(in *coordinator.RenderInput) []coordinator.Status {
	out := slices.Clone(p.invalid)
	if in != nil && in.Cluster.RoleUnits()[RoleMetricsGenerator] > 0 && len(p.RemoteWriteURLs) == 0 {
		out = append(out, coordinator.Status{Level: coordinator.Active, Message: MetricsGeneratorDisabled})
	}
	if proxied, ok := p.telemetryProxy(in); ok {
		out = append(out, proxied.Problems...)
	}
	return out
}

// WorkerConfig renders the Tempo configuration.
func (p *Plan) WorkerConfig(in *coordinator.RenderInput) ([]byte, error) {
	// The metrics-generator remote-writes through the telemetry proxy.
	return RenderConfig(in, p.Options.RetentionHours, p.RouteTelemetry(in).RemoteWrite)
}

// WorkerPorts lists the ports a worker with these atomic roles opens:
// memberlist and HTTP (also metrics) for every worker, the requested
// receivers for a distributor, gRPC for a query-frontend.
func (p *Plan) WorkerPorts(roles []string) []int {
	ports := []int{MemberlistPort, HTTPPort}
	if slices.Contains(roles, RoleDistributor) {
		for _, r := range p.Receivers {
			ports = append(ports, r.Port())
		}
	}
	if slices.Contains(roles, RoleQueryFrontend) {
		ports = append(ports, GRPCPort)
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// Routes lists one upstream and one server per requested receiver (to the
// distributors) and for Tempo's HTTP and gRPC APIs (to the query-frontends
// that have queriers attached: see QueriedFrontends), sorted by port, then
// the worker telemetry proxy's upstreams and server.
func (p *Plan) Routes(in *coordinator.RenderInput) coordinator.Routes {
	type route struct {
		name, role string
		port       int
		grpc       bool
		maxBody    int64
	}
	routes := []route{
		{"tempo-http", RoleQueryFrontend, HTTPPort, false, HTTPServerMaxBodyBytes},
		{"tempo-grpc", RoleQueryFrontend, GRPCPort, true, GRPCServerMaxBodyBytes},
	}
	for _, r := range p.Receivers {
		routes = append(routes, route{r.Dashed(), RoleDistributor, r.Port(), r.GRPC(), r.MaxBodyBytes()})
	}
	slices.SortFunc(routes, func(a, b route) int { return a.port - b.port })
	var queried []string
	if in != nil {
		queried = QueriedFrontends(in.AddressesByRole())
	}
	var out coordinator.Routes
	for _, r := range routes {
		up := coordinator.Upstream{Name: r.name, Role: r.role, Port: r.port}
		if r.role == RoleQueryFrontend {
			// Only the query-frontends with queriers (never nil: none
			// attached means no backend).
			up.Among = append([]string{}, queried...)
		}
		out.Upstreams = append(out.Upstreams, up)
		out.Servers = append(out.Servers, coordinator.Server{
			Port:      r.port,
			GRPC:      r.grpc,
			Locations: []coordinator.Location{{Path: "/", Upstream: r.name, MaxBodyBytes: r.maxBody}},
		})
	}
	proxy := p.proxyRoutes(in)
	out.Upstreams = append(out.Upstreams, proxy.Upstreams...)
	out.Servers = append(out.Servers, proxy.Servers...)
	return out
}

// receiverURLs maps each requested receiver to the URL clients send to
// (at the most external address), or nil when no address is known yet.
func (p *Plan) receiverURLs(in *coordinator.RenderInput) map[Receiver]string {
	scheme, host := coordinator.PublicAddress(in)
	return p.receiverURLsAt(scheme, host)
}

// receiverURLsAt maps each requested receiver to its URL at host, or nil
// when host is "".
func (p *Plan) receiverURLsAt(scheme, host string) map[Receiver]string {
	if host == "" {
		return nil
	}
	out := make(map[Receiver]string, len(p.Receivers))
	for _, r := range p.Receivers {
		out[r] = ReceiverURL(r, scheme, host)
	}
	return out
}

// ReceiverURL is the URL of receiver r at host: "<scheme>://<host>:<port>"
// for HTTP receivers, "<host>:<port>" for gRPC ones (the tracing interface
// gives gRPC endpoints without a scheme).
func ReceiverURL(r Receiver, scheme, host string) string {
	hp := coordinator.HostPort(host, r.Port())
	if r.GRPC() {
		return hp
	}
	return scheme + "://" + hp
}

type tracingProtocol struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type tracingReceiver struct {
	Protocol tracingProtocol `json:"protocol"`
	URL      string          `json:"url"`
}

// ProviderData publishes the requested receivers' URLs to every tracing
// requirer, as the tracing interface (v2) provider app databag, and the
// API URLs and readiness probe (tempo-api, probes).
func (p *Plan) ProviderData(in *coordinator.RenderInput) []coordinator.DatabagWrite {
	return append(p.tracingDatabags(in), apiDatabags(in)...)
}

func (p *Plan) tracingDatabags(in *coordinator.RenderInput) []coordinator.DatabagWrite {
	if in == nil || len(in.Relations[TracingEndpoint]) == 0 {
		return nil
	}
	urls := p.receiverURLs(in)
	if urls == nil {
		return nil
	}
	list := make([]tracingReceiver, 0, len(p.Receivers))
	for _, r := range p.Receivers {
		list = append(list, tracingReceiver{
			Protocol: tracingProtocol{Name: string(r), Type: r.Transport()},
			URL:      urls[r],
		})
	}
	encoded, err := coordinator.EncodeJSON(list)
	if err != nil {
		return nil // unreachable: structs of strings always encode
	}
	return coordinator.AppDatabags(TracingEndpoint, in.Relations[TracingEndpoint],
		map[string]string{"receivers": encoded})
}

// ActiveMessage is empty: the reference Tempo coordinator says nothing
// when all is well.
func (p *Plan) ActiveMessage(*coordinator.RenderInput) string { return "" }

// ActionResults answers list-receivers with each requested receiver's URL,
// keyed by its dashed name ("otlp-http").
func (p *Plan) ActionResults(action string, in *coordinator.RenderInput) (map[string]string, error) {
	if action != ActionListReceivers {
		return nil, fmt.Errorf("unknown action %q", coordinator.Truncate(action, 40))
	}
	urls := p.receiverURLs(in)
	if urls == nil {
		return nil, errors.New("cannot list receivers: the coordinator's address is not known yet")
	}
	out := make(map[string]string, len(urls))
	for r, u := range urls {
		out[r.Dashed()] = u
	}
	return out, nil
}
