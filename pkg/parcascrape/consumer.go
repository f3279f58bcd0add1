package parcascrape

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Provider is one related provider application as the consumer reads it.
type Provider struct {
	// RelationID and App name the relation in errors.
	RelationID int
	App        string
	// AppData is the remote application's databag.
	AppData map[string]string
	// Units maps every remote unit of the relation (joined, even with an
	// empty databag) to its unit databag.
	Units map[string]map[string]string
}

// ScrapeConfig is one job of Parca's scrape_configs, ready to be written
// into Parca's configuration (JSON or YAML).
type ScrapeConfig struct {
	JobName         string          `json:"job_name" yaml:"job_name"`
	StaticConfigs   []StaticConfig  `json:"static_configs" yaml:"static_configs"`
	ScrapeInterval  string          `json:"scrape_interval,omitempty" yaml:"scrape_interval,omitempty"`
	ScrapeTimeout   string          `json:"scrape_timeout,omitempty" yaml:"scrape_timeout,omitempty"`
	Scheme          string          `json:"scheme,omitempty" yaml:"scheme,omitempty"`
	ProfilingConfig map[string]any  `json:"profiling_config,omitempty" yaml:"profiling_config,omitempty"`
	TLSConfig       map[string]any  `json:"tls_config,omitempty" yaml:"tls_config,omitempty"`
	RelabelConfigs  []RelabelConfig `json:"relabel_configs" yaml:"relabel_configs"`
}

// RelabelConfig is a Parca relabel_config with the "replace" action.
type RelabelConfig struct {
	SourceLabels []string `json:"source_labels" yaml:"source_labels"`
	Separator    string   `json:"separator" yaml:"separator"`
	TargetLabel  string   `json:"target_label" yaml:"target_label"`
	Regex        string   `json:"regex" yaml:"regex"`
}

// RelationError says why a provider's data, or part of it, was left out.
type RelationError struct {
	RelationID int
	App        string
	// Unit is set when only that unit was left out.
	Unit string
	Err  error
}

func (e *RelationError) Error() string {
	if e.Unit != "" {
		return fmt.Sprintf("parca_scrape relation %d (%s): unit %s: %v", e.RelationID, e.App, e.Unit, e.Err)
	}
	return fmt.Sprintf("parca_scrape relation %d (%s): %v", e.RelationID, e.App, e.Err)
}

func (e *RelationError) Unwrap() error { return e.Err }

// maxJobsLength bounds the scrape_jobs value a consumer decodes.
const maxJobsLength = 1 << 20

// Jobs returns the scrape configurations Parca runs for the related
// providers, in the order given, as the Python consumer builds them:
//   - every job is reduced to the keys Parca accepts from a provider
//     (relabel_configs, metrics_path... are dropped), a job without
//     static_configs scrapes every unit on port 80;
//   - its name is prefixed with the provider's topology
//     ("<model>_<uuid8>_<application>_<job_name>", or only the prefix for
//     a job without a name);
//   - a "*:<port>" target becomes "<address>:<port>" for every provider
//     unit that published an address, with label juju_unit; other targets
//     are kept;
//   - the provider's labels are kept, but juju_model, juju_model_uuid,
//     juju_application and juju_charm are overwritten with its topology;
//   - a relabel sets "instance" to the topology (and juju_unit when the
//     job has unit targets), joined with "_".
//
// It differs from the Python consumer where that one breaks: a provider
// with invalid data (bad JSON, a target that is not host:port, jobs without
// scrape_metadata, a duplicate job name...) is left out with an error
// instead of failing every provider; a unit with an invalid address is left
// out; a static config without wildcard targets gets no target for the
// units (Python adds the bare unit address, without port); IPv6 addresses
// are bracketed.
//
// The error, when not nil, joins one [*RelationError] per problem; the
// jobs of every valid provider are returned anyway.
func Jobs(providers []Provider) ([]ScrapeConfig, error) {
	var out []ScrapeConfig
	var errs []error
	names := map[string]bool{}
	for _, p := range providers {
		jobs, unitErrs, err := providerJobs(p)
		errs = append(errs, unitErrs...)
		if err == nil {
			for _, j := range jobs {
				if names[j.JobName] {
					err = fmt.Errorf("job name %q is used twice", j.JobName)
					break
				}
			}
		}
		if err != nil {
			errs = append(errs, &RelationError{RelationID: p.RelationID, App: p.App, Err: err})
			continue
		}
		for _, j := range jobs {
			names[j.JobName] = true
		}
		out = append(out, jobs...)
	}
	return out, errors.Join(errs...)
}

// host is a provider unit whose wildcard targets are expanded.
type host struct {
	unit    string
	address string
}

// providerJobs builds the jobs of one provider. err leaves the whole
// provider out; unitErrs name the units left out.
func providerJobs(p Provider) (jobs []ScrapeConfig, unitErrs []error, err error) {
	if len(p.Units) == 0 {
		return nil, nil, nil
	}
	rawJobs := p.AppData[KeyScrapeJobs]
	if strings.TrimSpace(rawJobs) == "" {
		return nil, nil, nil
	}
	if len(rawJobs) > maxJobsLength {
		return nil, nil, fmt.Errorf("scrape_jobs is longer than %d bytes", maxJobsLength)
	}
	var wireJobs []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(rawJobs), &wireJobs); err != nil {
		return nil, nil, fmt.Errorf("scrape_jobs is not a list of objects: %w", err)
	}
	if len(wireJobs) == 0 {
		return nil, nil, nil
	}
	meta, err := parseTopology(p.AppData[KeyScrapeMetadata])
	if err != nil {
		return nil, nil, err
	}
	hosts, unitErrs := relationHosts(p)
	seen := map[string]bool{}
	for i, wire := range wireJobs {
		job, err := sanitize(wire)
		if err != nil {
			return nil, unitErrs, fmt.Errorf("scrape job %d: %w", i, err)
		}
		sc, err := labeledJob(job, meta, hosts)
		if err != nil {
			return nil, unitErrs, fmt.Errorf("scrape job %d: %w", i, err)
		}
		if seen[sc.JobName] {
			return nil, unitErrs, fmt.Errorf("job name %q is used twice", sc.JobName)
		}
		seen[sc.JobName] = true
		jobs = append(jobs, sc)
	}
	return jobs, unitErrs, nil
}

// parseTopology decodes scrape_metadata. Unlike the Python consumer, which
// then passes the jobs through unlabelled and with their "*" targets, jobs
// without metadata are an error.
func parseTopology(raw string) (Topology, error) {
	if strings.TrimSpace(raw) == "" {
		return Topology{}, errors.New("scrape_jobs without scrape_metadata")
	}
	var wire map[string]*string
	if err := json.Unmarshal([]byte(raw), &wire); err != nil {
		return Topology{}, fmt.Errorf("scrape_metadata is not an object of strings: %w", err)
	}
	if len(wire) == 0 {
		return Topology{}, errors.New("scrape_jobs without scrape_metadata")
	}
	get := func(k string) string {
		if v := wire[k]; v != nil {
			return *v
		}
		return ""
	}
	t := Topology{Model: get("model"), ModelUUID: get("model_uuid"), Application: get("application"),
		Unit: get("unit"), CharmName: get("charm_name")}
	if err := t.validate(); err != nil {
		return Topology{}, fmt.Errorf("scrape_metadata: %w", err)
	}
	return t, nil
}

// unitNamePattern is a Juju unit name.
var unitNamePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*/[0-9]+$`)
})

// relationHosts lists the units that published an address, sorted by unit
// name (application, then number). The name is the unit's
// parca_scrape_unit_name, else its Juju name.
func relationHosts(p Provider) ([]host, []error) {
	var hosts []host
	var errs []error
	claimed := map[string]bool{}
	for _, unit := range slices.SortedFunc(maps.Keys(p.Units), compareUnits) {
		data := p.Units[unit]
		name := data[KeyUnitName]
		if name == "" {
			name = unit
		}
		address := data[KeyUnitAddress]
		if address == "" {
			address = data[KeyLegacyHost]
		}
		switch {
		case address == "":
			continue
		case !unitNamePattern().MatchString(name):
			errs = append(errs, &RelationError{RelationID: p.RelationID, App: p.App, Unit: unit, Err: fmt.Errorf("invalid unit name %q", name)})
			continue
		case !validHost(address):
			errs = append(errs, &RelationError{RelationID: p.RelationID, App: p.App, Unit: unit, Err: fmt.Errorf("invalid address %q", address)})
			continue
		case claimed[name]:
			errs = append(errs, &RelationError{RelationID: p.RelationID, App: p.App, Unit: unit, Err: fmt.Errorf("unit name %q already used by another unit", name)})
			continue
		}
		claimed[name] = true
		hosts = append(hosts, host{unit: name, address: address})
	}
	return hosts, errs
}

// compareUnits orders unit names by application, then by unit number.
func compareUnits(a, b string) int {
	appA, numA, _ := strings.Cut(a, "/")
	appB, numB, _ := strings.Cut(b, "/")
	if c := strings.Compare(appA, appB); c != 0 {
		return c
	}
	na, errA := strconv.Atoi(numA)
	nb, errB := strconv.Atoi(numB)
	if errA == nil && errB == nil && na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

// sanitize keeps the keys a consumer accepts, with their types checked,
// over the default static config (every unit on port 80).
func sanitize(wire map[string]json.RawMessage) (Job, error) {
	job := DefaultJob()
	var err error
	// A fixed order: the first invalid key is the one named.
	for _, key := range []string{"job_name", "static_configs", "scrape_interval", "scrape_timeout", "scheme", "profiling_config", "tls_config"} {
		raw, ok := wire[key]
		if !ok || string(raw) == "null" && key != "static_configs" {
			continue
		}
		switch key {
		case "job_name":
			job.JobName, err = decode[string](raw)
		case "static_configs":
			job.StaticConfigs, err = decode[[]StaticConfig](raw)
			if err == nil && job.StaticConfigs == nil {
				err = errors.New("null")
			}
		case "scrape_interval":
			job.ScrapeInterval, err = decode[string](raw)
		case "scrape_timeout":
			job.ScrapeTimeout, err = decode[string](raw)
		case "scheme":
			job.Scheme, err = decode[string](raw)
		case "profiling_config":
			job.ProfilingConfig, err = decode[map[string]any](raw)
		case "tls_config":
			job.TLSConfig, err = decode[map[string]any](raw)
		}
		if err != nil {
			return Job{}, fmt.Errorf("invalid %s: %w", key, err)
		}
	}
	for i, sc := range job.StaticConfigs {
		if sc.Targets == nil {
			job.StaticConfigs[i].Targets = []string{}
		}
	}
	if err := job.validate(); err != nil {
		return Job{}, err
	}
	return job, nil
}

// decode decodes a JSON value into a fresh T.
func decode[T any](raw json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}

// labeledJob turns a provider's job into the scrape config Parca runs.
func labeledJob(job Job, meta Topology, hosts []host) (ScrapeConfig, error) {
	sc := ScrapeConfig{
		JobName:         meta.Identifier(),
		StaticConfigs:   []StaticConfig{},
		ScrapeInterval:  job.ScrapeInterval,
		ScrapeTimeout:   job.ScrapeTimeout,
		Scheme:          job.Scheme,
		ProfilingConfig: job.ProfilingConfig,
		TLSConfig:       job.TLSConfig,
	}
	if job.JobName != "" {
		sc.JobName += "_" + job.JobName
	}
	topologyLabels := meta.labels()
	unitTargets := false
	for _, static := range job.StaticConfigs {
		var ports, explicit []string
		for _, raw := range static.Targets {
			t, err := parseTarget(raw)
			if err != nil {
				return ScrapeConfig{}, err
			}
			if t.host == "*" {
				ports = append(ports, t.port)
			} else {
				explicit = append(explicit, strings.TrimSpace(raw))
			}
		}
		labels := maps.Clone(static.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, topologyLabels)
		if len(explicit) > 0 {
			sc.StaticConfigs = append(sc.StaticConfigs, StaticConfig{Targets: explicit, Labels: labels})
		}
		if len(ports) == 0 {
			continue
		}
		for _, h := range hosts {
			unitLabels := maps.Clone(labels)
			unitLabels["juju_unit"] = h.unit
			var targets []string
			for _, port := range ports {
				targets = append(targets, net.JoinHostPort(h.address, port))
			}
			sc.StaticConfigs = append(sc.StaticConfigs, StaticConfig{Targets: targets, Labels: unitLabels})
			unitTargets = true
		}
	}
	relabel := RelabelConfig{
		SourceLabels: []string{"juju_model", "juju_model_uuid", "juju_application"},
		Separator:    "_",
		TargetLabel:  "instance",
		Regex:        "(.*)",
	}
	if unitTargets {
		relabel.SourceLabels = append(relabel.SourceLabels, "juju_unit")
	}
	sc.RelabelConfigs = []RelabelConfig{relabel}
	return sc, nil
}
