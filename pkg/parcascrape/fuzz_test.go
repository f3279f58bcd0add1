package parcascrape_test

import (
	"encoding/json"
	"net"
	"testing"

	"github.com/tempo-coordinator/coordinator/pkg/parcascrape"
)

// FuzzJobs feeds arbitrary provider databags to the consumer: it must not
// panic, and whatever it returns must be scrapable: every target host:port
// with a real host, every target labelled with the provider's topology.
func FuzzJobs(f *testing.F) {
	f.Add(`[{"static_configs": [{"targets": ["10.1.32.215:7000", "*:8000"], "labels": {"some-key": "some-value"}}]}]`, testMetadata, "10.1.32.10", "my-app/0")
	f.Add(`[{"job_name": "a", "static_configs": [{"targets": ["*:7000"]}], "scheme": "https", "tls_config": {"ca": "x"}}, {"job_name": "b"}]`, testMetadata, "fd00::1", "")
	f.Add(`[{"static_configs": null}]`, `{"model": "m"}`, "", "x")
	f.Add(`[{"scrape_interval": "1m30s", "profiling_config": {"path_prefix": "/x"}}]`, testMetadata, "h", "my-app/7")
	f.Fuzz(func(t *testing.T, jobs, meta, address, name string) {
		units := map[string]map[string]string{
			"my-app/0": {"parca_scrape_unit_address": address, "parca_scrape_unit_name": name},
			"my-app/1": {"parca_scrape_host": address},
		}
		out, _ := parcascrape.Jobs([]parcascrape.Provider{{AppData: map[string]string{"scrape_jobs": jobs, "scrape_metadata": meta}, Units: units}})
		for _, j := range out {
			for _, sc := range j.StaticConfigs {
				if sc.Labels["juju_model"] == "" || sc.Labels["juju_application"] == "" {
					t.Fatalf("target without topology: %+v", sc)
				}
				for _, target := range sc.Targets {
					host, _, err := net.SplitHostPort(target)
					if err != nil || host == "" || host == "*" {
						t.Fatalf("unscrapable target %q in %+v", target, j)
					}
				}
			}
			if _, err := json.Marshal(j); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzAppData: whatever a provider is given, it publishes a databag its
// consumer accepts, or an error.
func FuzzAppData(f *testing.F) {
	f.Add("my-first-job", "*:7000", "some-key", "some-value", "15s", "http")
	f.Add("", "10.1.32.215:7000", "é", "\x7f\"", "", "https")
	f.Fuzz(func(t *testing.T, name, target, key, value, interval, scheme string) {
		app, err := parcascrape.AppData(testTopology, []parcascrape.Job{{JobName: name, ScrapeInterval: interval, Scheme: scheme,
			StaticConfigs: []parcascrape.StaticConfig{{Targets: []string{target}, Labels: map[string]string{key: value}}}}})
		if err != nil {
			return
		}
		units := map[string]map[string]string{"my-app/0": {"parca_scrape_unit_address": "10.0.0.1"}}
		jobs, err := parcascrape.Jobs([]parcascrape.Provider{{AppData: app, Units: units}})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("published %q, consumer: %+v %v", app, jobs, err)
		}
	})
}
