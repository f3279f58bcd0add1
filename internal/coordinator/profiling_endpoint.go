package coordinator

import (
	"github.com/tempo-coordinator/coordinator/pkg/parcascrape"
)

// ParcaScrapeEndpoint (profiling-endpoint) is where Parca scrapes the workers' Go profiles
// (parca_scrape interface, provider side).
const ParcaScrapeEndpoint = parcascrape.DefaultEndpoint

// profilingJobName is the name of the one job: a fixed string, so that the
// profiles keep one job (Parca prefixes it with the coordinator's topology)
// across leader changes.
const profilingJobName = "workers"

// profilingDatabags builds what the leader publishes to Parca on every
// profiling-endpoint relation: the coordinator's topology and one job
// scraping each valid worker unit's Go pprof endpoints (/debug/pprof/*,
// served by the workers' HTTP server next to /metrics) at its published
// address.
//
// Each target is labelled with its worker: juju_unit (the worker unit),
// worker_application and, when it is a valid charm name, worker_charm.
// Parca overwrites juju_model, juju_model_uuid, juju_application and
// juju_charm with the coordinator's topology; juju_unit and the worker_*
// labels survive. Parca also sets every target's instance label to
// "<model>_<model uuid>_<coordinator>" (juju_unit joins it only for units
// that publish an address): the worker labels keep the profiles apart.
//
// The coordinator units publish no parca_scrape_unit_address or
// parca_scrape_unit_name: the job has no wildcard target (nothing runs long
// enough in the coordinator's own containers to be worth profiling), and
// the Python consumer adds, to every static config, a target at the bare
// address of each unit that published one, which would make Parca scrape
// each coordinator unit on port 80 under the worker's labels.
//
// With TLS, workers that serve their HTTP port with the coordinator's
// certificate (Product.WorkerTLS) are scraped over https, with the CA
// inline (Parca runs in another pod). The previous content is rewritten
// only when it changes (the charm compares digests).
func profilingDatabags(p *Product, o *Observed, in *RenderInput) ([]DatabagWrite, []string) {
	rels := o.Relations[ParcaScrapeEndpoint]
	if len(rels) == 0 || !o.Leader {
		return nil, nil
	}
	job := parcascrape.Job{JobName: profilingJobName, StaticConfigs: []parcascrape.StaticConfig{}}
	if in.TLS != nil && p.WorkerTLS {
		job.Scheme = "https"
		job.TLSConfig = map[string]any{"ca": in.TLS.CACert}
	}
	for _, app := range in.Cluster.Apps {
		for _, u := range app.Units {
			labels := map[string]string{"juju_unit": u.Name, "worker_application": app.Name}
			if charm := u.Topology["charm_name"]; charmNamePattern().MatchString(charm) {
				labels["worker_charm"] = charm
			}
			job.StaticConfigs = append(job.StaticConfigs, parcascrape.StaticConfig{
				Targets: []string{HostPort(u.Address, p.WorkerMetricsPort)}, Labels: labels,
			})
		}
	}
	var jobs []parcascrape.Job
	if len(job.StaticConfigs) > 0 {
		jobs = append(jobs, job)
	}
	data, err := parcascrape.AppData(parcascrape.Topology{
		Model: o.Model, ModelUUID: o.ModelUUID, Application: o.App, Unit: o.Unit, CharmName: p.CharmName,
	}, jobs)
	if err != nil {
		return nil, []string{"not publishing profiling targets: " + err.Error()}
	}
	return AppDatabags(ParcaScrapeEndpoint, rels, data), nil
}
