package coordinator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// Helpers shared by the products' renderers. Like the rest of the core they
// are pure.

// MemberlistPort is the gossip port every worker of every product binds.
const MemberlistPort = 7946

// ReplicationFactor is the replication factor of a ring with this many
// members: 3 when there are at least 3, else 1 (a ring cannot replicate
// more than it has members, and 2 gives no quorum).
func ReplicationFactor(members int) int {
	if members >= 3 {
		return 3
	}
	return 1
}

// JoinMembers turns validated worker addresses into memberlist
// "host:port" join members, IPv6 addresses bracketed, in the same order.
func JoinMembers(addresses []string, port int) []string {
	out := make([]string, 0, len(addresses))
	for _, a := range addresses {
		out = append(out, HostPort(a, port))
	}
	return out
}

// MemberlistRing is the dskit ring block that keeps a ring in memberlist:
// {"kvstore": {"store": "memberlist"}}. Each call returns a new map, so a
// caller may add keys (replication_factor...) to it.
func MemberlistRing() map[string]any {
	return map[string]any{"kvstore": map[string]any{"store": "memberlist"}}
}

// S3Keys names a workload's S3 config keys; "" leaves a field out.
type S3Keys struct {
	Bucket, Endpoint, AccessKey, SecretKey, Insecure, Region string
}

// Tree is the workload's S3 config block with the given key names: the
// bucket, endpoint, credentials and insecure flag always, the region only
// when there is one. Callers add their own keys (CA, path style) to it.
func (s *S3) Tree(keys S3Keys) map[string]any {
	out := map[string]any{}
	for key, value := range map[string]any{
		keys.Bucket: s.Bucket, keys.Endpoint: s.Endpoint, keys.AccessKey: s.AccessKey,
		keys.SecretKey: s.SecretKey, keys.Insecure: s.Insecure,
	} {
		if key != "" {
			out[key] = value
		}
	}
	if keys.Region != "" && s.Region != "" {
		out[keys.Region] = s.Region
	}
	return out
}

// AppDatabags writes the same app databag content to every relation of
// an endpoint (the leader's provider data, e.g. tracing or profiling).
// Each relation gets its own copy of data.
func AppDatabags(endpoint string, relations []Relation, data map[string]string) []DatabagWrite {
	var out []DatabagWrite
	for _, rel := range relations {
		out = append(out, DatabagWrite{Endpoint: endpoint, RelationID: rel.ID, App: true, Data: maps.Clone(data)})
	}
	return out
}

// RenderYAML encodes a workload configuration tree (nested maps, which
// yaml.v3 writes with sorted keys) with a 2-space indent: the same tree
// always gives the same bytes.
func RenderYAML(tree any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(tree); err != nil {
		return nil, fmt.Errorf("cannot encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("cannot encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// EncodeJSON encodes a databag value as Python's json.dumps does: without
// escaping <, > and &, and without a trailing newline.
func EncodeJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("cannot encode JSON: %w", err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// PublicAddress is the scheme and host clients reach the coordinator at:
// those of the ingress URL when there is a usable one, else the
// application's in-cluster service name with "https" under TLS and "http"
// without. host is "" when neither is known. gRPC clients use
// HostPort(host, port).
func PublicAddress(in *RenderInput) (scheme, host string) {
	if in == nil {
		return "", ""
	}
	if u := ingressURL(in.ExternalURL); u != nil {
		return u.Scheme, u.Hostname()
	}
	return InternalAddress(in)
}

// InternalAddress is the scheme and host of the application's in-cluster
// service ("https" under TLS), for clients inside the cluster; host is ""
// when unknown.
func InternalAddress(in *RenderInput) (scheme, host string) {
	if in == nil {
		return "", ""
	}
	return internalScheme(in), in.AppFQDN
}

// ExternalHTTPURL is the most external HTTP URL of the coordinator's
// port: IngressHTTPURL behind a ready ingress, else InternalHTTPURL; ""
// when no address is known. Every URL the coordinator gives its users
// comes from here (or from PublicAddress for gRPC's host:port).
func ExternalHTTPURL(in *RenderInput, port int) string {
	if u := IngressHTTPURL(in, port); u != "" {
		return u
	}
	return InternalHTTPURL(in, port)
}

// IngressHTTPURL is the URL of the coordinator's port through the ingress,
// "" without a ready one:
//   - behind an ingress that routes a path prefix (Pyroscope's), the
//     ingress URL with its path, without a trailing slash;
//   - behind an ingress that routes each port on its own (Tempo's),
//     "<scheme>://<ingress host>:<port>".
func IngressHTTPURL(in *RenderInput, port int) string {
	if in == nil {
		return ""
	}
	u := ingressURL(in.ExternalURL)
	if u == nil {
		return ""
	}
	if u.Path != "" && u.Path != "/" {
		return u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
	}
	return u.Scheme + "://" + HostPort(u.Hostname(), port)
}

// InternalHTTPURL is the in-cluster URL of the coordinator's port:
// "<scheme>://<application service>:<port>", https under TLS; "" when the
// service name is not known.
func InternalHTTPURL(in *RenderInput, port int) string {
	if in == nil || in.AppFQDN == "" {
		return ""
	}
	return internalScheme(in) + "://" + HostPort(in.AppFQDN, port)
}

// internalScheme is the scheme nginx serves: https under TLS.
func internalScheme(in *RenderInput) string {
	if in.TLS != nil {
		return "https"
	}
	return "http"
}

// IngressPath is the path of the ingress URL ("/model-app"), "" without an
// ingress or when the ingress serves from the root.
func IngressPath(in *RenderInput) string {
	if in == nil {
		return ""
	}
	u := ingressURL(in.ExternalURL)
	if u == nil || u.Path == "/" {
		return ""
	}
	return u.Path
}

// ingressURL parses an http(s) ingress URL with a valid host; nil otherwise.
func ingressURL(raw string) *url.URL {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !ValidHost(u.Hostname()) {
		return nil
	}
	return u
}
