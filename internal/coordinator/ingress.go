package coordinator

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Endpoints of the ingress integrations.
const (
	// IngressEndpoint is where Traefik relates (traefik_route requirer).
	IngressEndpoint = "ingress"
	// IstioIngressEndpoint is where Istio's ingress relates
	// (istio_ingress_route requirer).
	IstioIngressEndpoint = "istio-ingress"
)

// Ingress is how a product is reached from outside the cluster.
type Ingress struct {
	// Ports are the ports routed on an entry point (Traefik) or a listener
	// (Istio) of their own, with the same number as the coordinator's: a
	// client reaches them at "<ingress host>:<port>". Traefik is given a
	// static entry point for every one of them (a change of its static
	// configuration restarts Traefik, so it does not follow the requested
	// receivers); only the ports nginx serves are routed.
	Ports []IngressPort
	// Prefixed, when set, is an HTTP port routed on Traefik's default
	// entry point under the path prefix "/<model>-<app>", which Traefik
	// strips: a client reaches it at "<scheme>://<ingress host>/<model>-<app>".
	Prefixed *IngressPort
	// Istio: the product also offers the istio-ingress endpoint.
	Istio bool
}

// IngressPort is one routed port.
type IngressPort struct {
	// Name names the entry point and the router ("otlp-grpc").
	Name string
	Port int
	GRPC bool
}

// ingressEndpoints are the endpoints the product's ingress needs observed:
// both providers publish their external host in their app databag.
func (p *Product) ingressEndpoints() []Endpoint {
	if p.Ingress == nil {
		return nil
	}
	out := []Endpoint{{Name: IngressEndpoint, AppData: true}}
	if p.Ingress.Istio {
		out = append(out, Endpoint{Name: IstioIngressEndpoint, AppData: true})
	}
	return out
}

// Limits on what an ingress provider may publish.
const maxIngressValue = 512

// MultipleIngresses starts the Blocked message while both ingresses are
// ready (the reference's words); the commands that remove either follow.
const MultipleIngresses = "Multiple ingress relations are active ('ingress' and 'istio-ingress'). Remove one of the two"

// ingressView is what the engine worked out from the ingress relations.
type ingressView struct {
	// url is the external base URL ("<scheme>://<host>[/<model>-<app>]"),
	// "" when clients must use the in-cluster URLs.
	url string
	// traefikScheme is the scheme Traefik serves, "" when unknown.
	traefikScheme string
	statuses      []Status
	logs          []string
}

// ingressProvider is one usable provider: the scheme and host it serves,
// and the relation it came from.
type ingressProvider struct {
	scheme, host string
	rel          Relation
}

// removeCommand is the juju command that removes the provider's relation.
func (p *ingressProvider) removeCommand(app string) string {
	remote := p.rel.RemoteApp
	if !ValidHost(remote) { // Juju application names are host labels
		remote = "<" + p.rel.Endpoint + " provider>"
	}
	return "`juju remove-relation " + app + ":" + p.rel.Endpoint + " " + remote + "`"
}

// resolveIngress reads the ingress providers' data and picks the external
// URL: Traefik's or Istio's when exactly one is ready, none (in-cluster
// URLs and a Blocked status) when both are. Bad data is ignored with a log
// line; a related provider that is not ready yet is named in an Active
// hint, so users know why the URLs are still in-cluster.
func resolveIngress(p *Product, o *Observed) ingressView {
	var v ingressView
	if p.Ingress == nil {
		return v
	}
	var notReady []string
	traefik, related := firstProvider(o.Relations[IngressEndpoint], readTraefik, &v.logs)
	if related && traefik == nil {
		notReady = append(notReady, IngressEndpoint)
	}
	var istio *ingressProvider
	if p.Ingress.Istio {
		var related bool
		istio, related = firstProvider(o.Relations[IstioIngressEndpoint], readIstio, &v.logs)
		if related && istio == nil {
			notReady = append(notReady, IstioIngressEndpoint)
		}
	}
	if traefik != nil {
		v.traefikScheme = traefik.scheme
	}
	var chosen *ingressProvider
	switch {
	case traefik != nil && istio != nil:
		v.statuses = append(v.statuses, Status{Blocked, MultipleIngresses + ": " +
			traefik.removeCommand(o.App) + " or " + istio.removeCommand(o.App) + "."})
		return v
	case traefik != nil:
		chosen = traefik
	case istio != nil:
		chosen = istio
	}
	if chosen != nil {
		u := url.URL{Scheme: chosen.scheme, Host: bracketIPv6(chosen.host)}
		if p.Ingress.Prefixed != nil && traefik != nil {
			u.Path = IngressPrefix(o.Model, o.App)
		}
		v.url = u.String()
	}
	if len(notReady) > 0 {
		v.statuses = append(v.statuses, Status{Active, fmt.Sprintf(
			"[ingress] %s related but not ready (no external host yet): clients get in-cluster URLs",
			strings.Join(notReady, " and "))})
	}
	return v
}

// IngressPrefix is the path under which Traefik routes a prefixed port:
// "/<model>-<app>".
func IngressPrefix(model, app string) string { return "/" + model + "-" + app }

// firstProvider reads the ingress relations of one endpoint, sorted by ID,
// and returns the first usable provider; related reports whether there is
// any relation at all.
func firstProvider(rels []Relation, read func(Relation) (*ingressProvider, string), logs *[]string) (_ *ingressProvider, related bool) {
	for _, rel := range rels {
		got, problem := read(rel)
		if got != nil {
			got.rel = rel
		}
		if problem != "" {
			subject := rel.Ref()
			if rel.RemoteApp != "" {
				subject += " (" + rel.RemoteApp + ")"
			}
			*logs = append(*logs, subject+": "+problem+"; clients get in-cluster URLs")
		}
		if got != nil {
			return got, true
		}
	}
	return nil, len(rels) > 0
}

// readTraefik reads Traefik's app databag (external_host and scheme, raw).
// Missing keys mean "not ready yet"; a problem describes invalid ones.
func readTraefik(rel Relation) (*ingressProvider, string) {
	host, scheme := rel.AppData["external_host"], rel.AppData["scheme"]
	if host == "" || scheme == "" {
		return nil, ""
	}
	if problem := checkHost(host); problem != "" {
		return nil, problem
	}
	if scheme != "http" && scheme != "https" {
		return nil, "ignoring scheme " + quoteShort(scheme) + ": not http or https"
	}
	return &ingressProvider{scheme: scheme, host: host}, ""
}

// readIstio reads Istio's app databag (external_host, and tls_enabled as
// "True"/"False", raw; missing means no TLS).
func readIstio(rel Relation) (*ingressProvider, string) {
	host := rel.AppData["external_host"]
	if host == "" {
		return nil, ""
	}
	if problem := checkHost(host); problem != "" {
		return nil, problem
	}
	switch tls := rel.AppData["tls_enabled"]; tls {
	case "True", "true":
		return &ingressProvider{scheme: "https", host: host}, ""
	case "False", "false", "":
		return &ingressProvider{scheme: "http", host: host}, ""
	default:
		return nil, "ignoring tls_enabled " + quoteShort(tls) + ": not True or False"
	}
}

// checkHost describes what is wrong with a published external host, "" if
// nothing is.
func checkHost(host string) string {
	if len(host) > maxIngressValue {
		return fmt.Sprintf("ignoring external_host: %d bytes, over the limit of %d", len(host), maxIngressValue)
	}
	if !ValidHost(host) {
		return "ignoring external_host " + quoteShort(host) + ": not a host name or IP address"
	}
	return ""
}

// quoteShort quotes an untrusted value for a log line, cut to 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "..."
	}
	return strconv.Quote(s)
}

// ingressDatabags builds the leader's app databags on the ingress
// relations: the Traefik route (dynamic and static configuration) and the
// Istio route, for the ports nginx serves.
func ingressDatabags(p *Product, o *Observed, in *RenderInput, routes Routes, v ingressView) ([]DatabagWrite, []string) {
	if p.Ingress == nil || !o.Leader || o.UnitFQDN == "" {
		return nil, nil
	}
	served := map[int]bool{}
	for _, s := range routes.Servers {
		served[s.Port] = true
	}
	var out []DatabagWrite
	var logs []string
	if rels := o.Relations[IngressEndpoint]; len(rels) > 0 {
		servers, problems := coordinatorUnits(o)
		logs = problems
		tr := TraefikRoute(TraefikInput{
			Ingress: *p.Ingress, Served: served, Model: o.Model, App: o.App,
			Servers: servers, TLS: in.TLS != nil, HTTPS: v.traefikScheme == "https",
		})
		dynamic, err := RenderYAML(tr.Dynamic)
		if err != nil {
			panic(err) // unreachable: maps of strings, lists and ints
		}
		data := map[string]string{"config": string(dynamic), "raw": "False"}
		if len(tr.Static) > 0 {
			static, err := RenderYAML(tr.Static)
			if err != nil {
				panic(err)
			}
			data["static"] = string(static)
		}
		out = append(out, AppDatabags(IngressEndpoint, rels, data)...)
	}
	if rels := o.Relations[IstioIngressEndpoint]; len(rels) > 0 && p.Ingress.Istio {
		out = append(out, AppDatabags(IstioIngressEndpoint, rels, map[string]string{
			"config": mustJSON(IstioRouteConfig(*p.Ingress, served, o.Model, o.App)),
		})...)
	}
	return out, logs
}

// coordinatorUnits lists the in-cluster names of every coordinator unit:
// this one and each peer that published a valid fqdn, sorted.
func coordinatorUnits(o *Observed) ([]string, []string) {
	hosts := []string{o.UnitFQDN}
	var logs []string
	for _, rel := range o.Relations[PeersEndpoint] {
		for _, unit := range slices.Sorted(maps.Keys(rel.Units)) {
			raw, ok := rel.Units[unit]["fqdn"]
			if !ok {
				continue // not published yet
			}
			var fqdn string
			if len(raw) > maxIngressValue || json.Unmarshal([]byte(raw), &fqdn) != nil || !ValidHost(fqdn) {
				logs = append(logs, "ignoring the fqdn of peer "+quoteShort(unit)+": not a JSON host name")
				continue
			}
			hosts = append(hosts, fqdn)
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts), logs
}

// TraefikInput is what the Traefik route depends on.
type TraefikInput struct {
	Ingress Ingress
	// Served are the ports nginx serves; only those are routed.
	Served     map[int]bool
	Model, App string
	// Servers are the coordinator units' host names, the load balancer's
	// servers.
	Servers []string
	// TLS: nginx serves TLS, so Traefik speaks https to it (gRPC too).
	TLS bool
	// HTTPS: Traefik serves https; plain requests are redirected to it.
	HTTPS bool
}

// TraefikConfig is the traefik_route requirer's data: the dynamic
// configuration (routers, services, middlewares) and the static one (the
// entry points of the ports routed on their own port).
type TraefikConfig struct {
	Dynamic map[string]any
	Static  map[string]any
}

// TraefikRoute builds the Traefik configuration the coordinator publishes.
// Names follow the reference: "juju-<model>-<app>-<name>" for routers,
// "juju-<model>-<app>-service-<name>" and "juju-<model>-<app>-middleware-<name>".
func TraefikRoute(ti TraefikInput) TraefikConfig {
	prefix := "juju-" + ti.Model + "-" + ti.App + "-"
	routers, services, middlewares := map[string]any{}, map[string]any{}, map[string]any{}
	// ownPort: the entry point has the port's own number (else it is
	// Traefik's default one, whose port is not ours to name).
	add := func(port IngressPort, entryPoint string, ownPort bool, rule string, mws []string) {
		scheme := "http"
		switch {
		case ti.TLS:
			scheme = "https"
		case port.GRPC:
			scheme = "h2c"
		}
		var servers []any
		for _, host := range ti.Servers {
			servers = append(servers, map[string]any{"url": scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port.Port))})
		}
		router := map[string]any{
			"entryPoints": []string{entryPoint},
			"rule":        rule,
			"service":     prefix + "service-" + port.Name,
		}
		if ti.HTTPS {
			// Plain requests are redirected to https on the same entry
			// point (Traefik's own TLS twin of this router serves it),
			// before any other middleware rewrites the path.
			name := prefix + "middleware-" + port.Name
			redirect := map[string]any{"permanent": true, "scheme": "https"}
			if ownPort {
				redirect["port"] = strconv.Itoa(port.Port)
			}
			middlewares[name] = map[string]any{"redirectScheme": redirect}
			mws = append([]string{name}, mws...)
		}
		if len(mws) > 0 { // Traefik rejects an empty list
			router["middlewares"] = mws
		}
		routers[prefix+port.Name] = router
		services[prefix+"service-"+port.Name] = map[string]any{"loadBalancer": map[string]any{"servers": servers}}
	}
	entryPoints := map[string]any{}
	for _, port := range ti.Ingress.Ports {
		entryPoints[port.Name] = map[string]any{"address": ":" + strconv.Itoa(port.Port)}
		if ti.Served[port.Port] {
			add(port, port.Name, true, "PathPrefix(`/`)", nil)
		}
	}
	if pp := ti.Ingress.Prefixed; pp != nil && ti.Served[pp.Port] {
		path := IngressPrefix(ti.Model, ti.App)
		strip := prefix + "middleware-stripprefix"
		middlewares[strip] = map[string]any{"stripPrefix": map[string]any{"prefixes": []string{path}}}
		add(*pp, "web", false, "PathPrefix(`"+path+"`)", []string{strip})
	}
	http := map[string]any{"routers": routers, "services": services}
	if len(middlewares) > 0 {
		http["middlewares"] = middlewares
	}
	out := TraefikConfig{Dynamic: map[string]any{"http": http}}
	if len(entryPoints) > 0 {
		out.Static = map[string]any{"entryPoints": entryPoints}
	}
	return out
}

// IstioConfig is the istio_ingress_route requirer's "config" value
// (IstioIngressRouteConfig, with its null fields).
type IstioConfig struct {
	Model      string          `json:"model"`
	Listeners  []IstioListener `json:"listeners"`
	HTTPRoutes []IstioRoute    `json:"http_routes"`
	GRPCRoutes []IstioRoute    `json:"grpc_routes"`
}

// IstioListener is a port of Istio's gateway.
type IstioListener struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
}

// IstioRoute routes a listener to the coordinator's service.
type IstioRoute struct {
	Name      string         `json:"name"`
	Listener  IstioListener  `json:"listener"`
	Backends  []IstioBackend `json:"backends"`
	Hostnames []string       `json:"hostnames"`
	Matches   []any          `json:"matches"`
	Filters   []any          `json:"filters"`
}

// IstioBackend is the coordinator's Kubernetes service at a port.
type IstioBackend struct {
	Service string `json:"service"`
	Port    int    `json:"port"`
	Weight  int    `json:"weight"`
}

// IstioRouteConfig builds the Istio route config: a listener and a route per
// port nginx serves, to the application's service.
func IstioRouteConfig(ing Ingress, served map[int]bool, model, app string) IstioConfig {
	out := IstioConfig{Model: model, Listeners: []IstioListener{}, HTTPRoutes: []IstioRoute{}, GRPCRoutes: []IstioRoute{}}
	for _, port := range ing.Ports {
		if !served[port.Port] {
			continue
		}
		l := IstioListener{Port: port.Port, Protocol: "HTTP"}
		if port.GRPC {
			l.Protocol = "GRPC"
		}
		out.Listeners = append(out.Listeners, l)
		r := IstioRoute{Name: "juju-" + model + "-" + app + "-" + port.Name, Listener: l,
			Backends: []IstioBackend{{Service: app, Port: port.Port, Weight: 100}}}
		if port.GRPC {
			out.GRPCRoutes = append(out.GRPCRoutes, r)
		} else {
			out.HTTPRoutes = append(out.HTTPRoutes, r)
		}
	}
	return out
}
