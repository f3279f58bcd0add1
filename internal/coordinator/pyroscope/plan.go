package pyroscope

import (
	"fmt"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// Plan is what Pyroscope made of its options in one hook; it is the
// Renderer of the coordinator.Plan that Product().Plan returns.
type Plan struct {
	// Options are the options rendered: DisabledCleanup while any option
	// is invalid.
	Options Options
	// Invalid are the sorted names of the invalid options.
	Invalid []string
}

var _ coordinator.Renderer = (*Plan)(nil)

// NewPlan reads Pyroscope's options from what the charm observed (only
// o.Config is used; nil means defaults).
func NewPlan(o *coordinator.Observed) *Plan {
	var config map[string]any
	if o != nil {
		config = o.Config
	}
	p := &Plan{}
	p.Options, p.Invalid = ParseOptions(config)
	return p
}

// enginePlan is Product().Plan. It is always publishable: unlike Tempo,
// an invalid option does not stop publishing; the config then goes out
// with data clean-up disabled (DisabledCleanup), to prevent data loss,
// while the Blocked status asks for a fix — as the reference charm does.
// Pyroscope reads nothing from its requirers, so it has no warnings.
func enginePlan(o *coordinator.Observed) coordinator.Plan {
	return coordinator.Plan{Publishable: true, Renderer: NewPlan(o)}
}

// Statuses returns the Blocked status naming the invalid options, if any.
func (p *Plan) Statuses(*coordinator.RenderInput) []coordinator.Status {
	if len(p.Invalid) == 0 {
		return nil
	}
	return []coordinator.Status{invalidStatus(p.Invalid)}
}

// WorkerConfig renders the Pyroscope configuration with the options in
// effect.
func (p *Plan) WorkerConfig(in *coordinator.RenderInput) ([]byte, error) {
	return RenderConfig(in, p.Options)
}

// WorkerPorts is the same for every role: memberlist and HTTP (which also
// carries gRPC).
func (p *Plan) WorkerPorts([]string) []int {
	return []int{HTTPPort, MemberlistPort}
}

// Upstream names that are not roles.
const (
	// UpstreamWorker routes to every worker, whatever its roles (the UI).
	UpstreamWorker = "worker"
	// UpstreamDistributorGRPC routes OTLP gRPC to the distributors: gRPC
	// needs an upstream of its own (see coordinator.Upstream).
	UpstreamDistributorGRPC = "distributor-grpc"
)

// Request body limits of Pyroscope v1.21's distributor, in bytes.
const (
	// IngestMaxBodyBytes: /ingest and the Push API go through
	// -distributor.ingestion-body-limit-mb, 256 MB (of 1048576 bytes)
	// before decompression by default (pkg/validation/limits.go; the HTTP
	// middleware in pkg/util/body/limit.go, connect.WithReadMaxBytes in
	// pkg/api/connect_options.go).
	IngestMaxBodyBytes = 256 << 20
	// OTLPGRPCMaxBodyBytes: OTLP profiles over gRPC are received by a gRPC
	// server built with -server.grpc-max-recv-msg-size-bytes
	// (pkg/ingester/otlp/ingest_handler.go), dskit's default 4 MiB (only
	// the v2 architecture raises it to 100 MiB, pkg/pyroscope/pyroscope.go).
	OTLPGRPCMaxBodyBytes = 4 << 20
)

// IngestionBurstSizeMB is the distributor's rate-limiter burst, in MiB
// (limits.ingestion_burst_size_mb). Pyroscope v1.21 accepts profiles of
// up to 4 MiB (-validation.max-profile-size-bytes) but, by default, a
// burst of 2 MiB (-distributor.ingestion-burst-size-mb), and a push of
// more than the burst is always refused ("push rate limit exceeded",
// pkg/distributor/distributor.go): every valid profile between 2 and 4
// MiB was refused. Pyroscope's own advice is a burst at least the size of
// the largest push; 5 MiB holds a 4 MiB profile and its labels (at most
// 30 names of 1 KiB and values of 2 KiB). The rate (4 MiB/s) is
// Pyroscope's.
const IngestionBurstSizeMB = 5

// Routes lists one upstream per atomic role (named after it) and one to
// every worker, all on the workers' HTTP port; an HTTP server on
// StatusPort for the UI, the APIs and ingestion, and a gRPC server on
// OTLPGRPCPort for OTLP profiles.
//
// Under an ingress path ("/<model>-<app>") every HTTP route is also served
// with the path in front, which nginx removes: Traefik's https twin of the
// web router (added by the Traefik charm) drops the strip-prefix
// middleware the coordinator publishes, and forwards the path whole.
func (p *Plan) Routes(in *coordinator.RenderInput) coordinator.Routes {
	var out coordinator.Routes
	for _, role := range Roles().Atomic {
		out.Upstreams = append(out.Upstreams, coordinator.Upstream{Name: role, Role: role, Port: HTTPPort})
	}
	out.Upstreams = append(out.Upstreams, coordinator.Upstream{Name: UpstreamWorker, Port: HTTPPort},
		coordinator.Upstream{Name: UpstreamDistributorGRPC, Role: RoleDistributor, Port: HTTPPort})
	exact := func(path, upstream string) coordinator.Location {
		return coordinator.Location{Modifier: "=", Path: path, Upstream: upstream}
	}
	prefix := func(path, upstream string) coordinator.Location {
		return coordinator.Location{Path: path, Upstream: upstream}
	}
	ingest := func(l coordinator.Location) coordinator.Location {
		l.MaxBodyBytes = IngestMaxBodyBytes
		return l
	}
	// The UI, query and settings APIs set no body limit (0).
	web := []coordinator.Location{
		exact("/", UpstreamWorker),
		prefix("/assets", UpstreamWorker),
		ingest(exact("/ingest", RoleDistributor)),
		ingest(prefix("/push.v1.PusherService", RoleDistributor)),
		prefix("/pyroscope", RoleQueryFrontend),
		prefix("/querier", RoleQueryFrontend),
		prefix("/settings", RoleTenantSettings),
		prefix("/adhocprofiles", RoleAdHocProfiles),
	}
	if base := coordinator.IngressPath(in); base != "" {
		var prefixed []coordinator.Location
		for _, l := range web {
			l.Path, l.Rewrite = base+l.Path, l.Path
			prefixed = append(prefixed, l)
		}
		web = append(append(web, prefixed...), coordinator.Location{Modifier: "=", Path: base, Upstream: UpstreamWorker, Rewrite: "/"})
	}
	out.Servers = []coordinator.Server{{
		Port:      StatusPort,
		Locations: web,
	}, {
		Port:      OTLPGRPCPort,
		GRPC:      true,
		Locations: []coordinator.Location{{Path: "/opentelemetry.proto.collector", Upstream: UpstreamDistributorGRPC, MaxBodyBytes: OTLPGRPCMaxBodyBytes}},
	}}
	return out
}

// ProviderData publishes, to every profiling requirer, where to send
// profiles over OTLP gRPC: "<host>:42424" (the ingress host, else the
// application's service) and whether the connection is plain text (no
// https ingress, or no TLS without ingress). Nothing is published while
// no address is known.
func (p *Plan) ProviderData(in *coordinator.RenderInput) []coordinator.DatabagWrite {
	if in == nil || len(in.Relations[ProfilingEndpoint]) == 0 {
		return nil
	}
	scheme, host := coordinator.PublicAddress(in)
	if host == "" {
		return nil
	}
	url, err := coordinator.EncodeJSON(coordinator.HostPort(host, OTLPGRPCPort))
	if err != nil {
		return nil // unreachable: a string always encodes
	}
	insecure, err := coordinator.EncodeJSON(scheme != "https")
	if err != nil {
		return nil // unreachable: a bool always encodes
	}
	return coordinator.AppDatabags(ProfilingEndpoint, in.Relations[ProfilingEndpoint],
		map[string]string{"otlp_grpc_endpoint_url": url, "insecure": insecure})
}

// ActiveMessage says where the UI is, as the reference charm does:
// "UI ready at <the most external HTTP URL>".
func (p *Plan) ActiveMessage(in *coordinator.RenderInput) string {
	if url := coordinator.ExternalHTTPURL(in, StatusPort); url != "" {
		return "UI ready at " + url
	}
	return ""
}

// ActionResults fails: the Pyroscope coordinator has no actions.
func (p *Plan) ActionResults(action string, _ *coordinator.RenderInput) (map[string]string, error) {
	return nil, fmt.Errorf("unknown action %q: the pyroscope coordinator has no actions", coordinator.Truncate(action, 40))
}
