package coordinator

// Product is what makes the engine a Tempo or a Pyroscope coordinator:
// names, the role table, and a planner that reads the product's own
// config options and relations.
type Product struct {
	// Name is the workload's name ("tempo", "pyroscope").
	Name string
	// CharmName is the coordinator charm's name in metadata.yaml.
	CharmName string
	// ClusterEndpoint is the endpoint the workers relate to.
	ClusterEndpoint string
	// ConfigKey is the provider app databag key carrying the worker config
	// ("worker_config" for tempo_cluster, "config" for pyroscope_cluster).
	ConfigKey string
	// Roles is the product's role table.
	Roles RoleTable
	// StatusPort is the nginx port that serves /status locally (for the
	// exporter and the Pebble health check).
	StatusPort int
	// ExtraEndpoints are the product-only endpoints the engine observes
	// (e.g. tracing for Tempo).
	ExtraEndpoints []Endpoint
	// WorkerMetricsPort is the workers' HTTP port, where they serve
	// /metrics and Go's /debug/pprof (dskit's instrumentation handlers).
	WorkerMetricsPort int
	// WorkerTLS is true when, with TLS on, the workers serve their HTTP
	// port with the coordinator's certificate (Tempo); false when nginx
	// terminates TLS and the workers serve plain HTTP (Pyroscope).
	WorkerTLS bool
	// GrafanaSource, when set, is offered to Grafana over grafana-source.
	GrafanaSource *GrafanaSource
	// Catalogue, when set, is the product's entry in a catalogue.
	Catalogue *CatalogueItem
	// CharmTracing and WorkloadTracing are the tracing requirers whose
	// receivers the workers' charms and workloads send their traces to.
	CharmTracing, WorkloadTracing TracingRequirer
	// Ingress, when set, is how the product is routed by an ingress
	// (traefik_route, and istio_ingress_route when Ingress.Istio).
	Ingress *Ingress
	// DatasourceExchangeEndpoint is the product's grafana_datasource_exchange
	// endpoint ("" for none).
	DatasourceExchangeEndpoint string
	// Plan reads the product's config options and product-only relations
	// and returns what the engine needs to render and publish.
	Plan func(o *Observed) Plan
}

// Plan is a product's answer for one hook: what it made of its options and
// product-only relations (data), and its Renderer for what depends on the
// validated cluster.
type Plan struct {
	// Warnings lists problems worth a log line that do not change the
	// status (e.g. a tracing requirer that published garbage).
	Warnings []string
	// Publishable is false when the worker config must not be (re)published,
	// e.g. because an option is invalid; the reason is in Statuses.
	Publishable bool
	Renderer
}

// Renderer is what a product renders from the validated input.
type Renderer interface {
	// Statuses lists product-specific status candidates (invalid options,
	// hints), most important first.
	Statuses(in *RenderInput) []Status
	// WorkerConfig renders the one workload configuration every worker
	// runs. The engine calls it only with S3 set and a Publishable plan.
	WorkerConfig(in *RenderInput) ([]byte, error)
	// WorkerPorts lists the ports a worker with these atomic roles opens.
	WorkerPorts(roles []string) []int
	// Routes lists nginx upstreams and servers.
	Routes(in *RenderInput) Routes
	// ProviderData returns the leader's app databags for the product-only
	// provider relations (tracing, profiling), keyed by relation.
	ProviderData(in *RenderInput) []DatabagWrite
	// ActionResults answers a product action, or an error message.
	ActionResults(action string, in *RenderInput) (map[string]string, error)
	// ActiveMessage is the message of the Active status when no other
	// status candidate has one ("" for none).
	ActiveMessage(in *RenderInput) string
}

// RenderInput is everything a renderer may depend on, already validated.
type RenderInput struct {
	Cluster Cluster
	// S3 is the object storage; nil when not ready.
	S3 *S3
	// TLS is the certificate material; nil without TLS.
	TLS *TLS
	// Telemetry is where the relations offer to take the workers' own
	// telemetry (before any routing by the product).
	Telemetry WorkerTelemetry
	// LokiEndpoints are where the workers push their logs ("loki_endpoints"),
	// one per Loki unit; a proxy may rewrite them before they are published.
	LokiEndpoints LokiEndpoints
	// ExternalURL is the ingress URL ("scheme://host[/path]"), "" without
	// a ready ingress. Renderers read it through ExternalHTTPURL,
	// PublicAddress and IngressPath, never directly.
	ExternalURL string
	// AppFQDN is the coordinator application's in-cluster service name.
	AppFQDN string
	// UnitFQDN is this unit's in-cluster name.
	UnitFQDN string
	// Model and App name the coordinator; ModelUUID and Unit complete its
	// topology.
	Model, App      string
	ModelUUID, Unit string
	// Relations are every observed relation, by endpoint.
	Relations map[string][]Relation
	// Config is the raw config-get map.
	Config map[string]any

	byRole map[string][]string
}

// AddressesByRole is Cluster.AddressesByRole, computed once per input: the
// worker config, the routes and nginx.conf all need it. Callers must not
// modify the result, nor Cluster after the first call.
func (in *RenderInput) AddressesByRole() map[string][]string {
	if in.byRole == nil {
		in.byRole = in.Cluster.AddressesByRole()
	}
	return in.byRole
}

// S3 is a validated S3 connection for the workers.
type S3 struct {
	// Endpoint is "host[:port]", without scheme, without a default port.
	Endpoint  string
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
	// Insecure is true for plain HTTP: an endpoint that is neither
	// https:// nor given a CA chain (see ParseS3).
	Insecure bool
	// PathStyle requests path-style addressing (s3-uri-style=path).
	PathStyle bool
	// CAChain is the PEM CA chain to trust, "" for none.
	CAChain string
}

// TLS is the certificate material from the certificates relation: this
// unit's certificate, its CA and the unit's private key.
type TLS struct {
	CACert     string
	ServerCert string
	PrivateKey string
	// KeySecretID is the URI of the secret holding PrivateKey, which the
	// leader grants to the workers; "" when unknown.
	KeySecretID string
}

// Covers reports whether the server certificate is valid for host (a
// DNS name or an IP address among its SANs).
func (t *TLS) Covers(host string) bool {
	cert := parseCertificate(t.ServerCert)
	return cert != nil && cert.VerifyHostname(host) == nil
}

// DatabagWrite is the complete content this charm wants in one of its own
// databags (the app databag for the leader, else the unit databag).
type DatabagWrite struct {
	Endpoint   string
	RelationID int
	App        bool
	Data       map[string]string
}
