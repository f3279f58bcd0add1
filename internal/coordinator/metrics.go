package coordinator

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// MetricsEndpoint is where Prometheus scrapes the coordinator's nginx
// exporter and the workers (prometheus_scrape interface).
const MetricsEndpoint = "metrics-endpoint"

// NginxExporterPort is where the coordinator's nginx-prometheus-exporter
// serves /metrics.
const NginxExporterPort = 9113

// scrapeJob is one Prometheus scrape job, in the subset the
// prometheus_scrape interface accepts.
type scrapeJob struct {
	JobName        string          `json:"job_name"`
	MetricsPath    string          `json:"metrics_path"`
	Scheme         string          `json:"scheme,omitempty"`
	StaticConfigs  []staticConfig  `json:"static_configs"`
	RelabelConfigs []relabelConfig `json:"relabel_configs,omitempty"`
}

type staticConfig struct {
	Targets []string `json:"targets"`
}

// relabelConfig sets TargetLabel to Replacement (Prometheus' default
// "replace" action with no source labels).
type relabelConfig struct {
	TargetLabel string `json:"target_label"`
	Replacement string `json:"replacement"`
}

// scrapeMetadata is the coordinator's topology, which Prometheus adds to
// every target as juju_* labels.
type scrapeMetadata struct {
	Model     string `json:"model"`
	ModelUUID string `json:"model_uuid"`
	App       string `json:"application"`
	Unit      string `json:"unit"`
	CharmName string `json:"charm_name"`
}

// charmNamePattern is what a charm name published in a worker's
// juju_topology must look like to become a label value.
var charmNamePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)
})

// metricsDatabags builds what the coordinator publishes to Prometheus:
//   - every unit, in its unit databag, its own address and name, which
//     Prometheus substitutes for the "*" of the nginx exporter job, so each
//     coordinator unit's exporter is scraped under its own juju_unit (the
//     reference publishes the application's service address there, which
//     would scrape one unit at random);
//   - the leader, in the app databag, the scrape metadata and the jobs: the
//     exporter, and one job per valid worker unit at its published address,
//     relabelled with the worker's own topology (the metadata's would
//     otherwise claim the worker's metrics for the coordinator).
//
// The leader also publishes the alert rules (PrometheusRules).
//
// scrape, when not nil, says where each worker unit is scraped instead
// (through the worker telemetry proxy); a unit missing from it is not.
func metricsDatabags(p *Product, o *Observed, in *RenderInput, scrape map[string]ScrapeTarget) ([]DatabagWrite, []string) {
	rels := o.Relations[MetricsEndpoint]
	if len(rels) == 0 || o.UnitFQDN == "" {
		return nil, nil
	}
	var out []DatabagWrite
	for _, rel := range rels {
		out = append(out, DatabagWrite{Endpoint: MetricsEndpoint, RelationID: rel.ID, Data: map[string]string{
			"prometheus_scrape_unit_address": o.UnitFQDN,
			"prometheus_scrape_unit_name":    o.Unit,
		}})
	}
	if !o.Leader {
		return out, nil
	}
	// Under TLS the exporter serves https; the workers too when they serve
	// TLS themselves. Prometheus must trust the CA (no tls_config is sent,
	// as the reference does).
	exporterScheme, workerScheme := "", ""
	if in.TLS != nil {
		exporterScheme = "https"
		if p.WorkerTLS {
			workerScheme = "https"
		}
	}
	jobs := []scrapeJob{{
		JobName:       "nginx-exporter",
		MetricsPath:   "/metrics",
		Scheme:        exporterScheme,
		StaticConfigs: []staticConfig{{Targets: []string{"*:" + strconv.Itoa(NginxExporterPort)}}},
	}}
	for _, app := range in.Cluster.Apps {
		for _, u := range app.Units {
			relabel := []relabelConfig{
				{TargetLabel: "juju_model", Replacement: o.Model},
				{TargetLabel: "juju_model_uuid", Replacement: o.ModelUUID},
				{TargetLabel: "juju_application", Replacement: app.Name},
				{TargetLabel: "juju_unit", Replacement: u.Name},
			}
			if charm := u.Topology["charm_name"]; charmNamePattern().MatchString(charm) {
				relabel = append(relabel, relabelConfig{TargetLabel: "juju_charm", Replacement: charm})
			}
			target := ScrapeTarget{Address: HostPort(u.Address, p.WorkerMetricsPort), Path: "/metrics", Scheme: workerScheme}
			if scrape != nil {
				var ok bool
				if target, ok = scrape[u.Name]; !ok {
					continue
				}
			}
			jobs = append(jobs, scrapeJob{
				JobName:        strings.ReplaceAll(u.Name, "/", "-"),
				MetricsPath:    target.Path,
				Scheme:         target.Scheme,
				StaticConfigs:  []staticConfig{{Targets: []string{target.Address}}},
				RelabelConfigs: relabel,
			})
		}
	}
	rules, problems := PrometheusRules(p, o, in.Cluster)
	return append(out, AppDatabags(MetricsEndpoint, rels, map[string]string{
		"scrape_metadata": mustJSON(scrapeMetadata{Model: o.Model, ModelUUID: o.ModelUUID, App: o.App, Unit: o.Unit, CharmName: p.CharmName}),
		"scrape_jobs":     mustJSON(jobs),
		"alert_rules":     rules,
	})...), problems
}
