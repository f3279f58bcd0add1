package coordinator

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// PeersEndpoint is the peer endpoint every coordinator has.
const PeersEndpoint = "peers"

// Endpoint says what the charm reads from the relations of an endpoint.
type Endpoint struct {
	Name string
	// AppData: read the remote application's databag.
	AppData bool
	// UnitData: read every remote unit's databag.
	UnitData bool
	// Peer marks the peer endpoint. goal-state never lists peer
	// relations, so the charm cannot learn from it whether one exists.
	Peer bool
	// UnitDataForLeaderWith names an endpoint: while it has a relation,
	// the leader also reads every remote unit's databag (the peers' fqdn
	// matter only to the leader's ingress route).
	UnitDataForLeaderWith string
	// AppDataForLeaderWith names an endpoint: while it has a relation, the
	// leader also reads the remote application's databag.
	AppDataForLeaderWith string
}

// In is the endpoint as read in one hook: UnitDataForLeaderWith resolved
// for a unit that is (or not) the leader, given which endpoints have
// relations.
func (e Endpoint) In(leader bool, related func(endpoint string) bool) Endpoint {
	if e.UnitDataForLeaderWith != "" && leader && related(e.UnitDataForLeaderWith) {
		e.UnitData = true
	}
	if e.AppDataForLeaderWith != "" && leader && related(e.AppDataForLeaderWith) {
		e.AppData = true
	}
	return e
}

// ReadsData reports whether the charm reads any databag of the endpoint's
// relations (and so needs their units listed).
func (e Endpoint) ReadsData() bool { return e.AppData || e.UnitData }

// Endpoints lists what the engine observes for a product, in a fixed order.
func (p *Product) Endpoints() []Endpoint {
	return slices.Concat([]Endpoint{
		{Name: p.ClusterEndpoint, AppData: true, UnitData: true},
		{Name: S3Endpoint, AppData: true},
		{Name: PeersEndpoint, Peer: true, UnitDataForLeaderWith: IngressEndpoint},
		{Name: MetricsEndpoint},
		{Name: ParcaScrapeEndpoint},
		{Name: CertificatesEndpoint, AppData: true},
		{Name: LoggingEndpoint, UnitData: true},
		{Name: DashboardEndpoint},
	}, p.ExtraEndpoints, p.tracingEndpoints(), p.listingEndpoints(), p.ingressEndpoints())
}

// Desired is the state the charm wants after a hook, computed from
// Observed alone. The charm applies only what differs from what is there.
type Desired struct {
	// Statuses are the status candidates, most important first; see Summarize.
	Statuses []Status
	// ActiveMessage is the Active status's message when no candidate has
	// one: Summarize's fallback.
	ActiveMessage string
	// Logs are lines worth a warning in the unit log (rejected worker data...).
	Logs []string
	// Databags are the complete contents this unit wants in its own
	// databags: app databags (leader only) and unit databags. A relation
	// with no entry is left as it is.
	Databags []DatabagWrite
	// Consistent is true when every required role is present.
	Consistent bool
	// Nginx is the load balancer's desired state; nil when the nginx
	// container cannot be reached.
	Nginx *NginxPlan
	// Ports are the TCP ports to open on the unit, sorted.
	Ports []int
	// WorkerConfig is what every worker was sent; nil when it is not
	// (re)published in this hook.
	WorkerConfig []byte
	// Input is what the renderers saw (for actions and previews).
	Input *RenderInput
	// Plan is the product's plan for this hook.
	Plan Plan
	// TLS is what the charm must do for TLS (keys, requests, grants).
	TLS *TLSPlan
	// LogTargets are where this unit's containers forward their logs
	// (Pebble log targets); empty removes every target.
	LogTargets []LogTarget
	// DashboardCache holds the compressed content of every published
	// dashboard, by digest of its file, for the next hook's Observed; nil
	// when no dashboard was published (the previous cache stays).
	DashboardCache map[string]string
}

// NginxPlan is the nginx config and whether nginx should run.
type NginxPlan struct {
	Config []byte
	Run    bool
	// Files are the TLS files nginx.conf refers to, by path in the nginx
	// container (certificate, key, CA); nil without TLS.
	Files map[string][]byte
	// Hosts are the upstream server hosts Config names: the workers'
	// addresses and the telemetry proxy's destinations.
	Hosts []string
}

// Reconcile computes the desired state from what was observed. It is pure:
// the same Observed always gives the same Desired.
func Reconcile(p *Product, o *Observed) *Desired {
	d := &Desired{}
	plan := p.Plan(o)
	d.Plan = plan
	clusterRels := o.Relations[p.ClusterEndpoint]
	cluster, problems := AggregateCluster(p.Roles, clusterRels)
	var invalid []string
	for _, pr := range problems {
		if pr.Pending {
			continue
		}
		d.Logs = append(d.Logs, "ignoring worker data: "+pr.String())
		invalid = append(invalid, pr.Subject)
	}
	in := &RenderInput{
		Cluster: cluster, AppFQDN: o.AppFQDN, UnitFQDN: o.UnitFQDN,
		Model: o.Model, App: o.App, ModelUUID: o.ModelUUID, Unit: o.Unit,
		Relations: o.Relations, Config: o.Config,
	}
	d.Input = in
	ingress := resolveIngress(p, o)
	in.ExternalURL = ingress.url
	d.Logs = append(d.Logs, ingress.logs...)
	var tlsStatuses []Status
	var tlsLogs []string
	in.TLS, d.TLS, tlsStatuses, tlsLogs = certificates(o, p.ClusterEndpoint, cluster)
	d.Logs = append(d.Logs, tlsLogs...)
	in.LokiEndpoints, d.Logs = lokiEndpoints(o.Relations[LoggingEndpoint], d.Logs)
	d.LogTargets = logTargets(p, o, in.LokiEndpoints)
	in.Telemetry, d.Logs = observeTelemetry(p, in, d.Logs)
	published := publishedTelemetry(plan, in)

	// Status candidates: the order decides ties between equal levels (the
	// ingress conflict first, as in the reference).
	for _, s := range ingress.statuses {
		if s.Level == Blocked {
			d.Statuses = append(d.Statuses, s)
		}
	}
	requiredMissing, optionalMissing := p.Roles.Missing(cluster.RoleUnits())
	switch {
	case len(clusterRels) == 0:
		d.Statuses = append(d.Statuses, Status{Blocked, "[consistency] Missing any worker relation."})
	case len(requiredMissing) > 0:
		d.Statuses = append(d.Statuses, Status{Blocked, fmt.Sprintf(
			"[consistency] Cluster inconsistent: missing %s. Enable them on a worker, e.g. `juju config <worker> role-%s=true`",
			strings.Join(requiredMissing, ", "), requiredMissing[0])})
	default:
		d.Consistent = true
	}
	s3Rels := o.Relations[S3Endpoint]
	switch {
	case len(s3Rels) == 0:
		d.Statuses = append(d.Statuses, Status{Blocked, "[s3] Missing S3 integration."})
	default:
		s3, reasons := ParseS3(s3Rels[0])
		if s3 == nil {
			d.Statuses = append(d.Statuses, Status{Blocked, "[s3] S3 not ready (probably misconfigured)."})
			d.Logs = append(d.Logs, "s3 relation "+s3Rels[0].Ref()+" not usable: "+strings.Join(reasons, "; "))
		}
		in.S3 = s3
	}
	d.Statuses = append(d.Statuses, tlsStatuses...)
	d.Statuses = append(d.Statuses, plan.Statuses(in)...)
	d.ActiveMessage = plan.ActiveMessage(in)
	d.Logs = append(d.Logs, plan.Warnings...)
	if o.Nginx == nil {
		d.Statuses = append(d.Statuses, Status{Waiting, "[nginx] Waiting for the nginx container to be ready."})
	}
	if d.Consistent && len(optionalMissing) > 0 {
		d.Statuses = append(d.Statuses, Status{Active, fmt.Sprintf(
			"Degraded: no worker runs %s (`juju config <worker> role-%s=true` to enable)",
			strings.Join(optionalMissing, ", "), optionalMissing[0])})
	}
	for _, s := range ingress.statuses {
		if s.Level != Blocked {
			d.Statuses = append(d.Statuses, s)
		}
	}
	if len(invalid) > 0 {
		slices.Sort(invalid)
		d.Statuses = append(d.Statuses, Status{Active, "Ignoring invalid data from " + strings.Join(slices.Compact(invalid), ", ") + " (see juju debug-log)"})
	}

	// Workers: publish one config to every worker app, only when it is complete.
	if o.Leader && d.Consistent && in.S3 != nil && plan.Publishable {
		config, err := plan.WorkerConfig(in)
		if err != nil {
			d.Statuses = append([]Status{{Blocked, "[config] cannot render the worker configuration: " + err.Error()}}, d.Statuses...)
		} else {
			d.WorkerConfig = config
			d.Databags = append(d.Databags, clusterDatabags(p, plan, in, config, published)...)
		}
	}
	if o.Leader {
		d.Databags = append(d.Databags, withdrawnDatabags(p, clusterRels, cluster)...)
		for _, rel := range s3Rels {
			d.Databags = append(d.Databags, S3Request(rel))
		}
		d.Databags = append(d.Databags, plan.ProviderData(in)...)
		d.Databags = append(d.Databags, tracingRequests(p, o)...)
		d.Databags = append(d.Databags, listingDatabags(p, o, in)...)
		d.Databags = append(d.Databags, datasourceExchangeDatabags(p, o)...)
		logging, logProblems := loggingDatabags(p, o, in)
		d.Databags = append(d.Databags, logging...)
		dashboards, dashProblems := dashboardDatabags(p, o, &d.DashboardCache)
		d.Databags = append(d.Databags, dashboards...)
		d.Logs = append(d.Logs, append(logProblems, dashProblems...)...)
	}
	metrics, ruleProblems := metricsDatabags(p, o, in, published.Scrape)
	d.Databags = append(d.Databags, metrics...)
	d.Logs = append(d.Logs, ruleProblems...)
	profiling, logs := profilingDatabags(p, o, in)
	d.Databags, d.Logs = append(d.Databags, profiling...), append(d.Logs, logs...)
	d.Databags = append(d.Databags, certificatesDatabags(o, d.TLS)...)
	// Every unit's name on peers: raw "hostname" (the coordinated-workers
	// key) and JSON "fqdn" (the leader's ingress route reads it).
	for _, rel := range o.Relations[PeersEndpoint] {
		d.Databags = append(d.Databags, DatabagWrite{Endpoint: PeersEndpoint, RelationID: rel.ID,
			Data: map[string]string{"hostname": o.UnitFQDN, "fqdn": mustJSON(o.UnitFQDN)}})
	}

	// nginx, the ingress routes and ports.
	routes := plan.Routes(in)
	ingressBags, ingressLogs := ingressDatabags(p, o, in, routes, ingress)
	d.Databags = append(d.Databags, ingressBags...)
	d.Logs = append(d.Logs, ingressLogs...)
	for _, s := range routes.Servers {
		d.Ports = append(d.Ports, s.Port)
	}
	slices.Sort(d.Ports)
	d.Ports = slices.Compact(d.Ports)
	if o.Nginx != nil {
		byRole, all := withoutUnresolved(in.AddressesByRole(), cluster.Addresses(), o.UnresolvedAddresses)
		if len(o.UnresolvedAddresses) > 0 {
			d.Statuses = append(d.Statuses, unresolvedStatus(o.UnresolvedAddresses))
		}
		facts := *o.Nginx
		if _, err := netip.ParseAddr(facts.Resolver); err != nil {
			// resolv.conf names nameservers by address; nginx would have to
			// resolve any other name when it loads the config, and fail.
			facts.Resolver = ""
		}
		routes = routesWithoutUnresolved(routes, o.UnresolvedAddresses)
		upstreamTLS := in.TLS != nil && p.WorkerTLS
		var verifyName string
		if upstreamTLS && isRootCA(in.TLS.CACert) {
			// The workers serve the leader's certificate, which names the
			// application's service whichever unit asked for it.
			verifyName = o.AppFQDN
		}
		d.Nginx = &NginxPlan{Run: d.Consistent, Hosts: upstreamHosts(all, routes), Config: RenderNginx(NginxInput{
			Facts: facts, Routes: routes, AddressesByRole: byRole,
			AllAddresses: all, ServerName: o.UnitFQDN, TLS: in.TLS != nil,
			UpstreamTLS: upstreamTLS, UpstreamVerifyName: verifyName, StatusPort: p.StatusPort,
		})}
		if in.TLS != nil {
			d.Nginx.Files = map[string][]byte{
				NginxCertPath: pemFile(in.TLS.ServerCert),
				NginxKeyPath:  pemFile(in.TLS.PrivateKey),
				NginxCAPath:   pemFile(in.TLS.CACert),
			}
		}
	}
	return d
}

// pemFile is PEM text as a file: trimmed, with one final newline.
func pemFile(s string) []byte { return []byte(strings.TrimSpace(s) + "\n") }

// clusterDatabags builds the provider app databag of every worker relation
// with a valid role. Every value is JSON-encoded, as the reference does.
func clusterDatabags(p *Product, plan Plan, in *RenderInput, config []byte, telemetry WorkerTelemetry) []DatabagWrite {
	// What every worker gets is encoded once; only the ports depend on the roles.
	shared := map[string]string{
		p.ConfigKey:     mustJSON(string(config)),
		"worker_labels": mustJSON(map[string]string{"app.kubernetes.io/part-of": in.App}),
	}
	if in.S3.CAChain != "" {
		shared["s3_tls_ca_chain"] = mustJSON(in.S3.CAChain)
	}
	maps.Copy(shared, telemetryKeys(telemetry))
	if t := in.TLS; t != nil && t.KeySecretID != "" {
		// The leader's own certificate and key: its SANs hold every worker
		// address, so the workers serve with it.
		shared["ca_cert"] = mustJSON(strings.TrimSpace(t.CACert))
		shared["server_cert"] = mustJSON(strings.TrimSpace(t.ServerCert))
		shared["privkey_secret_id"] = mustJSON(t.KeySecretID)
	}
	var out []DatabagWrite
	for _, app := range in.Cluster.Apps {
		data := maps.Clone(shared)
		data["worker_ports"] = mustJSON(plan.WorkerPorts(app.Roles))
		out = append(out, DatabagWrite{Endpoint: p.ClusterEndpoint, RelationID: app.RelationID, App: true, Data: data})
	}
	return out
}

// withdrawnDatabags empties the provider app databag of every worker
// relation whose application is not part of the cluster (its role is
// invalid or not published): a config it was sent before would keep it
// running, and gossiping in the ring, with a cluster it no longer belongs
// to. Only what this unit wrote is deleted; nothing is written where
// nothing was.
func withdrawnDatabags(p *Product, rels []Relation, cluster Cluster) []DatabagWrite {
	var out []DatabagWrite
	for _, rel := range rels {
		if !slices.ContainsFunc(cluster.Apps, func(a WorkerApp) bool { return a.RelationID == rel.ID }) {
			out = append(out, DatabagWrite{Endpoint: p.ClusterEndpoint, RelationID: rel.ID, App: true, Data: map[string]string{}})
		}
	}
	return out
}

// mustJSON encodes a value the charm built itself (never fails for the
// types used here), without HTML escaping, as Python's json.dumps does.
func mustJSON(v any) string {
	s, err := EncodeJSON(v)
	if err != nil {
		panic(fmt.Sprintf("cannot encode %T: %v", v, err))
	}
	return s
}

// Summarize picks the status to show: the most severe candidate, the first
// among equals; when the result is Active, every active message is joined
// so that hints are not lost.
func Summarize(candidates []Status, fallback string) Status {
	top := Highest(candidates, fallback)
	if top.Level != Active {
		return top
	}
	var msgs []string
	for _, s := range candidates {
		if s.Message != "" {
			msgs = append(msgs, s.Message)
		}
	}
	if len(msgs) == 0 {
		return Status{Active, fallback}
	}
	return Status{Active, strings.Join(msgs, "; ")}
}
