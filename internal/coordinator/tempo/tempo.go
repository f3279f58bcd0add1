// Package tempo is the Grafana Tempo product of the coordinator: its role
// table, config options, tracing receivers, worker configuration, nginx
// routes and the tracing provider databags.
//
// Like the coordinator core it is pure: it reads only what the engine
// observed and returns data.
package tempo

import (
	"slices"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// Tempo roles.
const (
	RoleQuerier          = "querier"
	RoleQueryFrontend    = "query-frontend"
	RoleIngester         = "ingester"
	RoleDistributor      = "distributor"
	RoleCompactor        = "compactor"
	RoleMetricsGenerator = "metrics-generator"
	// RoleAll is the meta role of a monolithic worker.
	RoleAll = "all"
)

// Ports Tempo workers listen on, and that nginx serves on the coordinator.
const (
	HTTPPort       = 3200
	GRPCPort       = 9096 // not Tempo's default 9095, which conflicts with promtail
	MemberlistPort = coordinator.MemberlistPort
	StatusPort     = 8080
)

// Receiver is a trace ingestion protocol, as named by the tracing interface.
type Receiver string

// The supported receivers.
const (
	Zipkin           Receiver = "zipkin"
	OTLPGRPC         Receiver = "otlp_grpc"
	OTLPHTTP         Receiver = "otlp_http"
	JaegerThriftHTTP Receiver = "jaeger_thrift_http"
	JaegerGRPC       Receiver = "jaeger_grpc"
)

// Receivers lists every supported receiver, sorted by name.
var Receivers = []Receiver{JaegerGRPC, JaegerThriftHTTP, OTLPGRPC, OTLPHTTP, Zipkin}

// Port is the port a receiver listens on, on the workers and on nginx.
func (r Receiver) Port() int {
	switch r {
	case Zipkin:
		return 9411
	case OTLPGRPC:
		return 4317
	case OTLPHTTP:
		return 4318
	case JaegerThriftHTTP:
		return 14268
	case JaegerGRPC:
		return 14250
	}
	return 0
}

// Request body limits of Tempo v2.9's servers, in bytes, as built from
// the config the coordinator publishes (no receiver sets its own).
const (
	// ReceiverHTTPMaxBodyBytes: the OTLP/HTTP, Zipkin and Jaeger
	// Thrift/HTTP receivers run the OpenTelemetry collector's confighttp
	// server (v0.132.0 in Tempo v2.9's go.mod), whose ToServer applies
	// defaultMaxRequestBodySize = 20 MiB when max_request_body_size is unset
	// (config/confighttp/confighttp.go).
	ReceiverHTTPMaxBodyBytes = 20 << 20
	// ReceiverGRPCMaxBodyBytes: the OTLP and Jaeger gRPC receivers run
	// configgrpc servers with max_recv_msg_size_mib unset, so grpc-go's
	// default maximum received message applies: 4 MiB.
	ReceiverGRPCMaxBodyBytes = 4 << 20
	// GRPCServerMaxBodyBytes: Tempo's own gRPC server (port 9096 here)
	// receives messages of up to 16 MiB (cmd/tempo/app/config.go sets
	// Server.GRPCServerMaxRecvMsgSize = 16 * 1024 * 1024).
	GRPCServerMaxBodyBytes = 16 << 20
	// HTTPServerMaxBodyBytes: Tempo's own HTTP server (dskit, port 3200)
	// sets no body limit (its 30s read timeout bounds a request instead).
	HTTPServerMaxBodyBytes = 0
)

// MaxBodyBytes is the largest request body the receiver accepts.
func (r Receiver) MaxBodyBytes() int64 {
	if r.GRPC() {
		return ReceiverGRPCMaxBodyBytes
	}
	return ReceiverHTTPMaxBodyBytes
}

// Transport is "grpc" or "http", as the tracing interface's protocol type.
func (r Receiver) Transport() string {
	if r == OTLPGRPC || r == JaegerGRPC {
		return "grpc"
	}
	return "http"
}

// GRPC reports whether the receiver speaks gRPC.
func (r Receiver) GRPC() bool { return r.Transport() == "grpc" }

// Dashed is the receiver's name with dashes ("otlp-grpc"), as used for
// nginx upstreams and the list-receivers action.
func (r Receiver) Dashed() string {
	b := []byte(r)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// Known reports whether r is a supported receiver.
func (r Receiver) Known() bool { return slices.Contains(Receivers, r) }

// Roles is Tempo's role table.
func Roles() coordinator.RoleTable {
	atomic := []string{RoleQuerier, RoleQueryFrontend, RoleIngester, RoleDistributor, RoleCompactor, RoleMetricsGenerator}
	return coordinator.RoleTable{
		Atomic:   atomic,
		Required: []string{RoleQuerier, RoleQueryFrontend, RoleIngester, RoleDistributor, RoleCompactor},
		Optional: []string{RoleMetricsGenerator},
		Meta:     map[string][]string{RoleAll: slices.Clone(atomic)},
	}
}

// CharmName is the Tempo coordinator charm's name.
const CharmName = "tempo-coordinator-k8s"

// Product returns the Tempo product for the coordinator engine.
func Product() *coordinator.Product {
	return &coordinator.Product{
		Name:            "tempo",
		CharmName:       CharmName,
		ClusterEndpoint: "tempo-cluster",
		ConfigKey:       "worker_config",
		Roles:           Roles(),
		StatusPort:      StatusPort,
		ExtraEndpoints: []coordinator.Endpoint{
			{Name: TracingEndpoint, AppData: true},
			{Name: RemoteWriteEndpoint, UnitData: true},
			{Name: APIEndpoint},
			{Name: ProbesEndpoint},
		},
		WorkerMetricsPort: HTTPPort,
		WorkerTLS:         true,
		CharmTracing:      coordinator.TracingRequirer{Endpoint: CharmTracingEndpoint, Protocols: []string{string(OTLPHTTP)}},
		WorkloadTracing:   coordinator.TracingRequirer{Endpoint: WorkloadTracingEndpoint, Protocols: []string{string(OTLPHTTP)}},
		GrafanaSource:     &coordinator.GrafanaSource{Type: "tempo", Port: HTTPPort, ServiceMapEndpoint: RemoteWriteEndpoint},
		// Tempo learns the Prometheus datasources (for its service map) here.
		DatasourceExchangeEndpoint: coordinator.ReceiveDatasourceEndpoint,
		Catalogue: &coordinator.CatalogueItem{
			Title:       "Tempo",
			Description: "Distributed tracing backend (Grafana Tempo): stores the traces its receivers take in and answers trace queries. It has no UI of its own; query it from Grafana.",
			Icon:        "transit-connection-variant",
			Port:        HTTPPort,
			APIDocs:     "https://grafana.com/docs/tempo/latest/api_docs/",
			APIEndpoints: map[string]string{
				"Search traces":        "/api/search?<params>",
				"Query traces (by ID)": "/api/traces/<traceID>",
				"Status":               "/status",
			},
		},
		Ingress: Ingress(),
		Plan:    enginePlan,
	}
}

// Ingress routes Tempo's APIs and every receiver on a port of its own, on
// Traefik or on Istio's ingress.
func Ingress() *coordinator.Ingress {
	ports := []coordinator.IngressPort{
		{Name: "tempo-http", Port: HTTPPort},
		{Name: "tempo-grpc", Port: GRPCPort, GRPC: true},
	}
	for _, r := range []Receiver{Zipkin, OTLPGRPC, OTLPHTTP, JaegerThriftHTTP, JaegerGRPC} {
		ports = append(ports, coordinator.IngressPort{Name: r.Dashed(), Port: r.Port(), GRPC: r.GRPC()})
	}
	return &coordinator.Ingress{Ports: ports, Istio: true}
}
