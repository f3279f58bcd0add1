// Package pyroscope is the Grafana Pyroscope product of the coordinator:
// its role table, config options, worker configuration, nginx routes and
// the profiling provider databags.
//
// Like the coordinator core it is pure: it reads only what the engine
// observed and returns data.
package pyroscope

import (
	"slices"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// Pyroscope roles. A worker may run several of them ("querier,ingester").
const (
	RoleQuerier        = "querier"
	RoleQueryFrontend  = "query-frontend"
	RoleQueryScheduler = "query-scheduler"
	RoleIngester       = "ingester"
	RoleDistributor    = "distributor"
	RoleCompactor      = "compactor"
	RoleStoreGateway   = "store-gateway"
	RoleTenantSettings = "tenant-settings"
	RoleAdHocProfiles  = "ad-hoc-profiles"
	// RoleAll is the meta role of a monolithic worker.
	RoleAll = "all"
)

// Ports of the workers and of nginx on the coordinator.
const (
	// HTTPPort is where Pyroscope workers serve everything, HTTP and gRPC
	// (connect) alike.
	HTTPPort = 4040
	// MemberlistPort is the workers' gossip port.
	MemberlistPort = coordinator.MemberlistPort
	// StatusPort is nginx's HTTP server (UI, API, ingestion) on the
	// coordinator; it also serves /status.
	StatusPort = 8080
	// OTLPGRPCPort is nginx's gRPC server on the coordinator (OTLP
	// profiles ingestion). Pyroscope serves HTTP and gRPC on one port,
	// which an ingress cannot split, so gRPC gets a port of its own.
	OTLPGRPCPort = 42424
)

// Endpoints only Pyroscope has.
const (
	// ClusterEndpoint is where the workers relate (pyroscope_cluster).
	ClusterEndpoint = "pyroscope-cluster"
	// ProfilingEndpoint is the profiling provider endpoint (interface
	// profiling): the coordinator publishes where to send profiles.
	ProfilingEndpoint = "profiling"
	// CharmTracingEndpoint is where the workers' charms learn where to
	// send their traces (tracing requirer, otlp_http).
	CharmTracingEndpoint = "charm-tracing"
	// WorkloadTracingEndpoint is where the Pyroscope workers learn where
	// to send their traces (tracing requirer, jaeger_thrift_http).
	WorkloadTracingEndpoint = "workload-tracing"
)

// Roles is Pyroscope's role table: every atomic role is required, and
// "all" stands for all of them.
func Roles() coordinator.RoleTable {
	atomic := []string{
		RoleQuerier, RoleQueryFrontend, RoleQueryScheduler, RoleIngester, RoleDistributor,
		RoleCompactor, RoleStoreGateway, RoleTenantSettings, RoleAdHocProfiles,
	}
	return coordinator.RoleTable{
		Atomic:   atomic,
		Required: slices.Clone(atomic),
		Meta:     map[string][]string{RoleAll: slices.Clone(atomic)},
	}
}

// Product returns the Pyroscope product for the coordinator engine.
func Product() *coordinator.Product {
	return &coordinator.Product{
		Name:            "pyroscope",
		CharmName:       "pyroscope-coordinator-k8s",
		ClusterEndpoint: ClusterEndpoint,
		ConfigKey:       "config",
		Roles:           Roles(),
		StatusPort:      StatusPort,
		// The profiling requirers publish nothing we need: only their
		// relation IDs matter, to write our app databag.
		ExtraEndpoints:    []coordinator.Endpoint{{Name: ProfilingEndpoint}},
		CharmTracing:      coordinator.TracingRequirer{Endpoint: CharmTracingEndpoint, Protocols: []string{"otlp_http"}},
		WorkloadTracing:   coordinator.TracingRequirer{Endpoint: WorkloadTracingEndpoint, Protocols: []string{"jaeger_thrift_http"}},
		WorkerMetricsPort: HTTPPort,
		// Pyroscope has no end-to-end TLS: nginx terminates it.
		WorkerTLS:     false,
		GrafanaSource: &coordinator.GrafanaSource{Type: "grafana-pyroscope-datasource", Port: StatusPort},
		// Pyroscope offers its datasources to the other datasources here.
		DatasourceExchangeEndpoint: coordinator.SendDatasourceEndpoint,
		Catalogue: &coordinator.CatalogueItem{
			Title:       "Pyroscope",
			Description: "Continuous profiling backend (Grafana Pyroscope): collects, stores and queries profiles of the applications that send them, with a UI to explore them.",
			Icon:        "flame",
			HasUI:       true,
			Port:        StatusPort,
			APIDocs:     "https://grafana.com/docs/pyroscope/latest/reference-server-api/",
		},
		// The UI, APIs and HTTP ingestion under "/<model>-<app>" on
		// Traefik's default entry point; OTLP over gRPC on its own port.
		Ingress: &coordinator.Ingress{
			Ports:    []coordinator.IngressPort{{Name: "pyroscope-grpc-server", Port: OTLPGRPCPort, GRPC: true}},
			Prefixed: &coordinator.IngressPort{Name: "web", Port: StatusPort},
		},
		Plan: enginePlan,
	}
}
