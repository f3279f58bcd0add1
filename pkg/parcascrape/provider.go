package parcascrape

import (
	"fmt"
)

// AppData returns the application databag a provider's leader publishes on
// every relation of the endpoint: scrape_metadata and scrape_jobs, encoded
// byte for byte as the Python library encodes them (json.dumps). Only the
// leader may write it.
//
// The jobs are published as given: the Python provider's default (every
// unit on port 80) is [DefaultJob], to be passed explicitly. An empty list
// publishes "[]", for which the consumer scrapes nothing.
//
// It fails when the consumer would reject the data: an invalid topology, a
// target that is not host:port or *:port, an invalid duration or scheme,
// or two jobs with the same name.
func AppData(meta Topology, jobs []Job) (map[string]string, error) {
	if err := meta.validate(); err != nil {
		return nil, fmt.Errorf("cannot publish scrape jobs: %w", err)
	}
	names := map[string]bool{}
	for i := range jobs {
		if err := jobs[i].validate(); err != nil {
			return nil, fmt.Errorf("cannot publish scrape job %q: %w", jobs[i].JobName, err)
		}
		if names[jobs[i].JobName] {
			return nil, fmt.Errorf("cannot publish scrape jobs: two jobs named %q", jobs[i].JobName)
		}
		names[jobs[i].JobName] = true
	}
	if jobs == nil {
		jobs = []Job{}
	}
	metadata, err := dumps(meta)
	if err != nil {
		return nil, err
	}
	encoded, err := dumps(jobs)
	if err != nil {
		return nil, fmt.Errorf("cannot publish scrape jobs: %w", err)
	}
	return map[string]string{KeyScrapeMetadata: metadata, KeyScrapeJobs: encoded}, nil
}

// UnitData returns the unit databag each provider unit publishes so that
// the consumer expands wildcard targets to its address: its unit name and
// its address (an IP address or a DNS name; the Python library uses the
// unit's FQDN). A provider whose jobs have no wildcard target should not
// publish it: the Python consumer then adds, to every static config, a
// target at the bare address of each unit (no port).
func UnitData(unit, address string) (map[string]string, error) {
	if !unitNamePattern().MatchString(unit) {
		return nil, fmt.Errorf("cannot publish scrape unit data: invalid unit name %q", unit)
	}
	if !validHost(address) {
		return nil, fmt.Errorf("cannot publish scrape unit data: invalid address %q", address)
	}
	return map[string]string{KeyUnitName: unit, KeyUnitAddress: address}, nil
}
