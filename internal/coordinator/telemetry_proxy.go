package coordinator

import (
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ProxyUpstreamPrefix starts the name of every upstream of the worker
// telemetry proxy.
const ProxyUpstreamPrefix = "worker-telemetry-proxy"

// TelemetryProxy is the worker telemetry proxy: an nginx server on the
// coordinator through which the workers' metrics are scraped and their
// logs, remote-write and traces leave the cluster, so that a service
// mesh or a network policy only has to let the coordinator through.
type TelemetryProxy struct {
	// Port is the proxy's nginx port.
	Port int
	// Host is the coordinator's application service name: the host of
	// every proxied URL.
	Host string
	// TLS: the proxy listens with TLS (its URLs are https) and the
	// workers serve their metrics over https.
	TLS bool
	// WorkerMetricsPort is where the workers serve /metrics.
	WorkerMetricsPort int
}

// ScrapeTarget is where Prometheus scrapes one worker unit.
type ScrapeTarget struct {
	// Address is "host:port".
	Address string
	// Path is the metrics path.
	Path string
	// Scheme is "https" or "" (http).
	Scheme string
}

// ProxiedTelemetry is the result of routing the workers' telemetry
// through the proxy.
type ProxiedTelemetry struct {
	// Published is what the workers are told: every destination is a
	// URL of the proxy.
	Published WorkerTelemetry
	// Routes are the proxy's upstreams and its server.
	Routes Routes
	// Problems name destinations that could not be proxied (and were
	// left out), for the status.
	Problems []Status
}

// tracingProtocolPattern is a tracing protocol name ("otlp_http").
var tracingProtocolPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
})

// Route sends the workers' telemetry through the proxy: every valid
// worker unit's metrics, every Loki unit's push endpoint, every
// remote-write URL and every HTTP tracing receiver get an upstream and a
// location on the proxy's server, and the workers are given the proxy's
// URLs. Destinations that cannot be proxied (gRPC tracing: the proxy
// carries HTTP only) are left out and named in Problems. Untrusted names
// and URLs are validated before they reach nginx.conf; what fails is
// left out.
func (x TelemetryProxy) Route(direct WorkerTelemetry, units []WorkerUnit) ProxiedTelemetry {
	var out ProxiedTelemetry
	server := Server{Port: x.Port}
	scheme := "http"
	if x.TLS {
		scheme = "https"
	}
	base := scheme + "://" + HostPort(x.Host, x.Port)
	scrapeScheme := "" // Prometheus' default, http
	if x.TLS {
		scrapeScheme = "https"
	}
	add := func(up Upstream, loc Location) {
		loc.Upstream = up.Name
		out.Routes.Upstreams = append(out.Routes.Upstreams, up)
		server.Locations = append(server.Locations, loc)
	}

	if len(units) > 0 {
		out.Published.Scrape = map[string]ScrapeTarget{}
	}
	for _, u := range units {
		if !validUnitName(u.Name) || !ValidHost(u.Address) {
			continue
		}
		id := ProxyUnitName(u.Name)
		path := "/proxy/worker/" + id + "/metrics"
		add(Upstream{Name: ProxyUpstreamPrefix + "-worker-" + id, Port: x.WorkerMetricsPort, Hosts: []string{u.Address}},
			Location{Modifier: "=", Path: path, URI: "/metrics"})
		out.Published.Scrape[u.Name] = ScrapeTarget{Address: HostPort(x.Host, x.Port), Path: path, Scheme: scrapeScheme}
	}

	for _, ep := range direct.Loki {
		d, ok := parseDestination(ep.URL)
		if !ok || !validUnitName(ep.Unit) {
			continue
		}
		id := ProxyUnitName(ep.Unit)
		path := "/proxy/loki/" + id + "/push"
		add(d.upstream(ProxyUpstreamPrefix+"-loki-"+id), d.location("=", path, d.path, ""))
		out.Published.Loki = append(out.Published.Loki, LokiEndpoint{Unit: ep.Unit, URL: base + path})
	}

	taken := map[string]bool{}
	for _, raw := range direct.RemoteWrite {
		d, ok := parseDestination(raw)
		if !ok {
			continue
		}
		id := uniqueID(remoteWriteID(d.host), taken)
		path := "/proxy/remote-write/" + id + "/write"
		add(d.upstream(ProxyUpstreamPrefix+"-remote-write-"+id), d.location("=", path, d.pathAndQuery(), ""))
		out.Published.RemoteWrite = append(out.Published.RemoteWrite, base+path)
	}
	slices.Sort(out.Published.RemoteWrite)

	for _, kind := range []struct {
		name     string
		offered  TracingReceivers
		proxied  *TracingReceivers
		endpoint string
	}{
		{"charm", direct.CharmTracing, &out.Published.CharmTracing, "charm-tracing"},
		{"workload", direct.WorkloadTracing, &out.Published.WorkloadTracing, "workload-tracing"},
	} {
		var refused []string
		for _, proto := range slices.Sorted(maps.Keys(kind.offered)) {
			if !tracingProtocolPattern().MatchString(proto) {
				continue
			}
			if GRPCProtocol(proto) {
				refused = append(refused, proto)
				continue
			}
			d, ok := parseDestination(kind.offered[proto])
			if !ok {
				continue
			}
			path := "/proxy/" + kind.endpoint + "/" + proto + "/"
			add(d.upstream(ProxyUpstreamPrefix+"-"+kind.name+"-"+proto),
				d.location("", path, "", strings.TrimSuffix(d.path, "/")+"/"))
			if *kind.proxied == nil {
				*kind.proxied = TracingReceivers{}
			}
			(*kind.proxied)[proto] = base + path
		}
		if len(refused) > 0 {
			out.Problems = append(out.Problems, Status{Blocked, fmt.Sprintf(
				"[%s] cannot proxy gRPC receivers (%s): the worker telemetry proxy carries HTTP only; request an HTTP protocol",
				kind.endpoint, strings.Join(refused, ", "))})
		}
	}
	out.Routes.Servers = []Server{server}
	return out
}

// destination is a validated http(s) URL outside the proxy.
type destination struct {
	scheme, host, path, query string
	port                      int
}

// parseDestination validates an http(s) URL as ValidURL does and splits
// it; a missing port is the scheme's default.
func parseDestination(raw string) (destination, bool) {
	if !ValidURL(raw) {
		return destination{}, false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return destination{}, false
	}
	d := destination{scheme: u.Scheme, host: u.Hostname(), path: u.EscapedPath(), query: u.RawQuery, port: 80}
	if d.scheme == "https" {
		d.port = 443
	}
	if p := u.Port(); p != "" {
		d.port, _ = strconv.Atoi(p)
	}
	if d.path == "" {
		d.path = "/"
	}
	return d, plainPath(d.path) && plainPath(d.query)
}

func (d destination) pathAndQuery() string {
	if d.query == "" {
		return d.path
	}
	return d.path + "?" + d.query
}

func (d destination) upstream(name string) Upstream {
	return Upstream{Name: name, Port: d.port, Hosts: []string{d.host}}
}

// location routes path to the destination: with uri, the request URI is
// replaced by it; with rewrite, the path prefix is replaced by it.
func (d destination) location(modifier, path, uri, rewrite string) Location {
	host := d.host
	if (d.scheme == "http" && d.port != 80) || (d.scheme == "https" && d.port != 443) {
		host = HostPort(d.host, d.port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return Location{Modifier: modifier, Path: path, URI: uri, Rewrite: rewrite, Scheme: d.scheme, Host: host}
}

// remoteWriteID names a remote-write host in the proxy's paths: an IP
// address with '.' and ':' as '-', else the first DNS label ("prometheus-0"
// for prometheus-0.prometheus-endpoints.cos.svc.cluster.local), as the
// reference does.
func remoteWriteID(host string) string {
	if ip, err := netip.ParseAddr(host); err == nil {
		return strings.NewReplacer(".", "-", ":", "-").Replace(ip.String())
	}
	label, _, _ := strings.Cut(host, ".")
	return strings.Trim(label, "-")
}

// uniqueID returns id, or id-2, id-3... when it is already taken (two
// remote-write URLs on hosts with the same first label), and takes it.
func uniqueID(id string, taken map[string]bool) string {
	out := id
	for n := 2; taken[out]; n++ {
		out = id + "-" + strconv.Itoa(n)
	}
	taken[out] = true
	return out
}
