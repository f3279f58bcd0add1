// Package parcascrape speaks the parca_scrape relation interface of the
// Parca charms (charms.parca_k8s.v0.parca_scrape), on the same wire as the
// Python library: a profiled charm (the provider) tells Parca (the consumer)
// which Go pprof endpoints to scrape.
//
// The package is pure data: databags in, databags or scrape configurations
// out, no Juju or network access. Malformed data gives an error, never a
// panic.
//
// The wire:
//   - the provider's leader writes, in its application databag,
//     scrape_metadata (its Juju topology) and scrape_jobs (a list of jobs in
//     a subset of Parca's scrape_config: job_name, static_configs,
//     scrape_interval, scrape_timeout, scheme, profiling_config,
//     tls_config), both as JSON;
//   - each provider unit may write, in its unit databag,
//     parca_scrape_unit_name and parca_scrape_unit_address (raw strings):
//     the consumer expands a wildcard target "*:<port>" to
//     "<address>:<port>" for every unit that published an address.
//
// Provider side: [AppData] and [UnitData]. Consumer side: [Jobs].
package parcascrape

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Names of the interface, its conventional endpoint and its databag keys.
const (
	Interface       = "parca_scrape"
	DefaultEndpoint = "profiling-endpoint"

	// Application databag keys (JSON values), written by the provider's leader.
	KeyScrapeMetadata = "scrape_metadata"
	KeyScrapeJobs     = "scrape_jobs"

	// Unit databag keys (raw strings), written by every provider unit
	// whose wildcard targets Parca should scrape.
	KeyUnitName    = "parca_scrape_unit_name"
	KeyUnitAddress = "parca_scrape_unit_address"
	// KeyLegacyHost is the address key of old providers, read when
	// KeyUnitAddress is absent.
	KeyLegacyHost = "parca_scrape_host"
)

// Topology is a provider's Juju topology, published as scrape_metadata.
// The consumer needs Model, ModelUUID and Application; it names jobs and
// labels profiles with them.
type Topology struct {
	Model       string `json:"model"`
	ModelUUID   string `json:"model_uuid"`
	Application string `json:"application"`
	Unit        string `json:"unit"`
	CharmName   string `json:"charm_name"`
}

// Identifier is "<model>_<first 8 characters of the model UUID>_<application>"
// (with "/" replaced by "_"): the prefix of every job name the consumer
// builds from this provider.
func (t Topology) Identifier() string {
	uuid := t.ModelUUID
	if len(uuid) > 8 {
		uuid = uuid[:8]
	}
	return strings.ReplaceAll(t.Model+"_"+uuid+"_"+t.Application, "/", "_")
}

// labels are the topology labels the consumer sets on every target,
// overwriting a provider label of the same name: juju_model,
// juju_model_uuid, juju_application and, when the charm name is known,
// juju_charm (never juju_unit).
func (t Topology) labels() map[string]string {
	l := map[string]string{
		"juju_model":       t.Model,
		"juju_model_uuid":  t.ModelUUID,
		"juju_application": t.Application,
	}
	if t.CharmName != "" {
		l["juju_charm"] = t.CharmName
	}
	return l
}

// modelUUIDPattern is what the consumer accepts as a model UUID: the
// canonical lowercase form of a version 4 UUID (the Python library rejects
// anything else).
var modelUUIDPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
})

func (t Topology) validate() error {
	switch {
	case t.Model == "":
		return errors.New("no model in the topology")
	case t.Application == "":
		return errors.New("no application in the topology")
	case !modelUUIDPattern().MatchString(t.ModelUUID):
		return fmt.Errorf("model_uuid %q is not a version 4 UUID", t.ModelUUID)
	}
	return nil
}

// Job is one scrape job as a provider publishes it: the subset of Parca's
// scrape_config the consumer keeps. The field order is the order the
// Python library writes the keys in (static_configs first).
type Job struct {
	// StaticConfigs are the targets. A target "*:<port>" stands for every
	// provider unit that published its address; any other target is
	// "<host>:<port>".
	StaticConfigs []StaticConfig `json:"static_configs"`
	// JobName must be a fixed string: the consumer prefixes it with the
	// provider's topology, and a name that changes (e.g. with the leader)
	// breaks the continuity of the profiles.
	JobName        string `json:"job_name,omitempty"`
	ScrapeInterval string `json:"scrape_interval,omitempty"`
	ScrapeTimeout  string `json:"scrape_timeout,omitempty"`
	// Scheme is "http" (the default) or "https".
	Scheme string `json:"scheme,omitempty"`
	// ProfilingConfig is Parca's profiling_config (path_prefix,
	// pprof_config...), passed through as it is.
	ProfilingConfig map[string]any `json:"profiling_config,omitempty"`
	// TLSConfig is Parca's tls_config, passed through as it is; Parca runs
	// elsewhere, so give the CA inline: {"ca": "<PEM>"}.
	TLSConfig map[string]any `json:"tls_config,omitempty"`
}

// StaticConfig is a list of targets sharing labels.
type StaticConfig struct {
	Targets []string          `json:"targets" yaml:"targets"`
	Labels  map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
}

// DefaultJob is what the Python provider publishes when its charm gives
// no job: every unit on port 80.
func DefaultJob() Job {
	return Job{StaticConfigs: []StaticConfig{{Targets: []string{"*:80"}}}}
}

// Target is a parsed scrape target: Host is "*" for a wildcard target.
type target struct {
	host string
	port string
}

// parseTarget parses "host:port", "[ipv6]:port" or "*:port".
func parseTarget(s string) (target, error) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(s))
	if err != nil {
		return target{}, fmt.Errorf("target %q is not host:port", s)
	}
	host, port = strings.TrimSpace(host), strings.TrimSpace(port)
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
		return target{}, fmt.Errorf("target %q: invalid port", s)
	}
	if host != "*" && !validHost(host) {
		return target{}, fmt.Errorf("target %q: invalid host", s)
	}
	return target{host: host, port: port}, nil
}

// validHost accepts an IP address (without zone) or a DNS name.
func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	if ip := net.ParseIP(s); ip != nil {
		return true
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// durationPattern is Prometheus' duration syntax (Parca parses
// scrape_interval and scrape_timeout with it).
var durationPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$`)
})

// validate checks what Parca would reject, so that one provider's bad job
// cannot break the consumer's whole configuration.
func (j *Job) validate() error {
	for _, d := range []struct{ name, value string }{{"scrape_interval", j.ScrapeInterval}, {"scrape_timeout", j.ScrapeTimeout}} {
		if d.value != "" && (!durationPattern().MatchString(d.value) || d.value == "0s") {
			return fmt.Errorf("%s %q is not a duration", d.name, d.value)
		}
	}
	if j.Scheme != "" && j.Scheme != "http" && j.Scheme != "https" {
		return fmt.Errorf("scheme %q is neither http nor https", j.Scheme)
	}
	if !utf8.ValidString(j.JobName) {
		return errors.New("job_name is not valid UTF-8")
	}
	for _, sc := range j.StaticConfigs {
		for _, t := range sc.Targets {
			if _, err := parseTarget(t); err != nil {
				return err
			}
		}
		for k, v := range sc.Labels {
			if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
				return fmt.Errorf("invalid label %q", k)
			}
		}
	}
	return nil
}
