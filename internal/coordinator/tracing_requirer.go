package coordinator

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// maxTracingReceiversBytes bounds the receivers list a tracing provider
// may publish; larger values are ignored unread.
const maxTracingReceiversBytes = 16 << 10

// TracingRequirer is one of the coordinator's tracing requirer endpoints
// (tracing interface v2): charm tracing (where the workers' charms send
// their own traces) or workload tracing (where the workloads do).
type TracingRequirer struct {
	// Endpoint is the requirer endpoint's name; "" when the product has none.
	Endpoint string
	// Protocols are the receivers requested from the provider, in the
	// order they are published.
	Protocols []string
}

// TracingReceivers maps a tracing protocol ("otlp_http") to the URL of
// its receiver: "<scheme>://host:port[/path]" for HTTP protocols,
// "host:port" for gRPC ones (as the tracing interface gives them).
type TracingReceivers map[string]string

// tracingEndpoints are the product's tracing requirer endpoints to observe:
// the provider's app databag (its receivers) is read.
func (p *Product) tracingEndpoints() []Endpoint {
	var out []Endpoint
	for _, r := range []TracingRequirer{p.CharmTracing, p.WorkloadTracing} {
		if r.Endpoint != "" {
			out = append(out, Endpoint{Name: r.Endpoint, AppData: true})
		}
	}
	return out
}

// tracingRequests are the leader's requests on every tracing requirer
// relation: receivers = the JSON list of the protocols wanted.
func tracingRequests(p *Product, o *Observed) []DatabagWrite {
	var out []DatabagWrite
	for _, r := range []TracingRequirer{p.CharmTracing, p.WorkloadTracing} {
		if r.Endpoint == "" || len(o.Relations[r.Endpoint]) == 0 {
			continue
		}
		protocols := r.Protocols
		if protocols == nil {
			protocols = []string{}
		}
		out = append(out, AppDatabags(r.Endpoint, o.Relations[r.Endpoint],
			map[string]string{"receivers": mustJSON(protocols)})...)
	}
	return out
}

// OfferedReceivers reads what the provider of a tracing requirer relation
// offers, keeping the first valid URL of each requested protocol. It
// returns nil when nothing usable was offered (the relation is not ready),
// and a warning naming what was wrong when the provider published data
// that could not be used. Only the first relation counts (the endpoints
// have limit 1).
func OfferedReceivers(r TracingRequirer, rels []Relation) (TracingReceivers, string) {
	if r.Endpoint == "" || len(rels) == 0 {
		return nil, ""
	}
	rel := rels[0]
	raw, ok := rel.AppData["receivers"]
	if !ok || raw == "" {
		return nil, "" // the provider has not answered yet
	}
	subject := rel.Ref()
	if rel.RemoteApp != "" {
		subject += " (" + rel.RemoteApp + ")"
	}
	if len(raw) > maxTracingReceiversBytes {
		return nil, fmt.Sprintf("%s: ignoring receivers: value of %d bytes is over the limit of %d", subject, len(raw), maxTracingReceiversBytes)
	}
	var offered []struct {
		Protocol struct {
			Name string `json:"name"`
		} `json:"protocol"`
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(raw), &offered); err != nil {
		return nil, subject + ": ignoring receivers: not a JSON list of {protocol, url} objects"
	}
	out := TracingReceivers{}
	var invalid []string
	for _, rcv := range offered {
		name := rcv.Protocol.Name
		if !slices.Contains(r.Protocols, name) {
			continue
		}
		if _, seen := out[name]; seen {
			continue
		}
		if !validReceiverURL(name, rcv.URL) {
			invalid = append(invalid, fmt.Sprintf("%s %q", name, Truncate(rcv.URL, 60)))
			continue
		}
		out[name] = rcv.URL
	}
	var warning string
	switch {
	case len(invalid) > 0:
		warning = fmt.Sprintf("%s: ignoring invalid receiver URLs: %s", subject, strings.Join(invalid, ", "))
	case len(out) == 0:
		warning = fmt.Sprintf("%s: offers none of the receivers requested (%s)", subject, strings.Join(r.Protocols, ", "))
	}
	if len(out) == 0 {
		return nil, warning
	}
	return out, warning
}

// validReceiverURL checks a receiver URL of the tracing interface: an
// http(s) URL for HTTP protocols, "host:port" without a scheme for gRPC
// ones (a protocol whose name contains "grpc").
func validReceiverURL(protocol, raw string) bool {
	if len(raw) > 2048 {
		return false
	}
	if !GRPCProtocol(protocol) {
		return ValidURL(raw)
	}
	host, port, err := net.SplitHostPort(raw)
	if err != nil || !ValidHost(host) {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && validPort(n)
}

// GRPCProtocol reports whether a tracing protocol is carried over gRPC
// ("otlp_grpc", "jaeger_grpc"), as the tracing interface names them.
func GRPCProtocol(protocol string) bool { return strings.Contains(protocol, "grpc") }
