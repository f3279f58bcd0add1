package coordinator

// NginxFacts describes the nginx the charm talks to, detected once per
// container boot.
type NginxFacts struct {
	// Version is nginx's version ("1.22.1"); "" when unknown.
	Version string
	// IPv6 is true when the container has IPv6 addresses.
	IPv6 bool
	// Resolver is the first nameserver of the container's resolv.conf, "" if none.
	Resolver string
}

// Routes is what a product asks nginx to serve.
type Routes struct {
	Upstreams []Upstream
	Servers   []Server
}

// Upstream is a group of worker backends: every unit running Role (every
// worker when Role is ""), on Port.
//
// An upstream carries one protocol: nginx keeps the idle connections of an
// upstream in one cache, and a gRPC location handed an HTTP/1.1 connection
// fails the request ("no connection data found for keepalive http2
// connection"). A location routing gRPC to an upstream already routed
// from an HTTP server (or the reverse) is left out: give each protocol
// its own upstream.
type Upstream struct {
	Name string
	Role string
	Port int
	// Among, when not nil, restricts the backends to these worker
	// addresses (e.g. the query-frontends that have queriers attached).
	Among []string
	// Hosts, when not nil, are the backends instead of workers: hosts
	// outside the cluster (a Loki, a Prometheus); invalid ones are left out.
	Hosts []string
}

// Server is an nginx server block listening on Port.
type Server struct {
	Port int
	// GRPC servers speak HTTP/2 and use grpc_pass.
	GRPC      bool
	Locations []Location
}

// Location routes a path to an upstream.
type Location struct {
	// Modifier is "" or "=" (exact match).
	Modifier string
	Path     string
	// Upstream names the Upstream; a location whose upstream has no
	// address is left out, and so is a server left with no location.
	Upstream string
	// MaxBodyBytes is the largest request body the worker role behind
	// this route accepts: its own limit, looked up in its sources. nginx
	// accepts a little more (see NginxBodySlackBytes), so that the worker,
	// not nginx, refuses an oversized request. 0 means the worker sets no
	// limit, and nor does nginx.
	MaxBodyBytes int64
	// URI, when set, is the request URI sent upstream instead of the
	// client's ("/metrics").
	URI string
	// Rewrite, when set, replaces the Path prefix of the request URI:
	// "/" sends /<Path>v1/traces upstream as /v1/traces.
	Rewrite string
	// Scheme, when set ("http" or "https"), is the upstream's scheme;
	// by default it follows the server's TLS.
	Scheme string
	// Host, when set, is the Host header (and TLS server name) sent
	// upstream, for backends that route by name: hosts outside the
	// cluster, whose certificates nginx does not verify against the
	// workers' CA (see NginxInput.UpstreamVerifyName).
	Host string
}
