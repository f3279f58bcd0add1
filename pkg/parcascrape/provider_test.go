package parcascrape_test

import (
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/pkg/parcascrape"
)

var testTopology = parcascrape.Topology{Model: "cos", ModelUUID: "f3b7c9a2-1d4e-4b8a-9c6f-2e5d7a8b9c01",
	Application: "my-app", Unit: "my-app/0", CharmName: "my-charm"}

// The jobs of the documentation's examples (seed 003), as a Go charm writes
// them, give the databag the Python provider publishes, byte for byte (the
// reference bytes are the app databags of testdata/python/seed-*.json).
func TestAppDataSeedExamplesByteForByte(t *testing.T) {
	cases := loadPythonCases(t)
	examples := map[string][]parcascrape.Job{
		// ProfilingEndpointProvider(self): no jobs.
		"seed-default": {parcascrape.DefaultJob()},
		// [{"static_configs": [{"targets": ["*:8000"]}]}]
		"seed-port-8000": {{StaticConfigs: []parcascrape.StaticConfig{{Targets: []string{"*:8000"}}}}},
		"seed-two-ports": {{StaticConfigs: []parcascrape.StaticConfig{{Targets: []string{"*:8000", "*:8081"}}}}},
		"seed-explicit-and-wildcard": {{StaticConfigs: []parcascrape.StaticConfig{{
			Targets: []string{"10.1.32.215:7000", "*:8000"}, Labels: map[string]string{"some-key": "some-value"}}}}},
		"seed-two-named-jobs": {
			{JobName: "my-first-job", StaticConfigs: []parcascrape.StaticConfig{{Targets: []string{"*:7000"}, Labels: map[string]string{"some-key": "some-value"}}}},
			{JobName: "my-second-job", StaticConfigs: []parcascrape.StaticConfig{{Targets: []string{"*:8000"}, Labels: map[string]string{"some-other-key": "some-other-value"}}}},
		},
		// ProfilingEndpointProvider(self, jobs=[{"static_configs": [{"targets": ["*:8080"]}]}])
		"seed-port-8080": {{StaticConfigs: []parcascrape.StaticConfig{{Targets: []string{"*:8080"}}}}},
	}
	for name, jobs := range examples {
		t.Run(name, func(t *testing.T) {
			want, ok := cases[name]
			if !ok {
				t.Fatalf("no reference case %s", name)
			}
			got, err := parcascrape.AppData(testTopology, jobs)
			if err != nil {
				t.Fatal(err)
			}
			if got["scrape_jobs"] != want.App["scrape_jobs"] || got["scrape_metadata"] != want.App["scrape_metadata"] || len(got) != 2 {
				t.Errorf("got  %q\nwant %q", got, want.App)
			}
		})
	}
}

func TestAppDataNoJobs(t *testing.T) {
	got, err := parcascrape.AppData(testTopology, nil)
	if err != nil || got["scrape_jobs"] != "[]" {
		t.Errorf("%q %v", got, err)
	}
}

// Everything else a job may carry, in the Python library's key order.
func TestAppDataAllKeys(t *testing.T) {
	got, err := parcascrape.AppData(testTopology, []parcascrape.Job{{
		JobName: "workers", ScrapeInterval: "15s", ScrapeTimeout: "10s", Scheme: "https",
		ProfilingConfig: map[string]any{"path_prefix": "/p"},
		TLSConfig:       map[string]any{"ca": "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n"},
		StaticConfigs:   []parcascrape.StaticConfig{{Targets: []string{"[fd00::1]:3200"}, Labels: map[string]string{"juju_unit": "w/0", "b": "é"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"static_configs": [{"targets": ["[fd00::1]:3200"], "labels": {"b": "\u00e9", "juju_unit": "w/0"}}], "job_name": "workers", ` +
		`"scrape_interval": "15s", "scrape_timeout": "10s", "scheme": "https", "profiling_config": {"path_prefix": "/p"}, ` +
		`"tls_config": {"ca": "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n"}}]`
	if got["scrape_jobs"] != want {
		t.Errorf("got  %s\nwant %s", got["scrape_jobs"], want)
	}
}

func TestAppDataRejects(t *testing.T) {
	job := func(mod func(*parcascrape.Job)) []parcascrape.Job {
		j := parcascrape.Job{JobName: "a", StaticConfigs: []parcascrape.StaticConfig{{Targets: []string{"*:80"}}}}
		mod(&j)
		return []parcascrape.Job{j}
	}
	for name, c := range map[string]struct {
		meta parcascrape.Topology
		jobs []parcascrape.Job
		err  string
	}{
		"bad uuid":       {parcascrape.Topology{Model: "m", ModelUUID: "x", Application: "a"}, nil, "not a version 4 UUID"},
		"no model":       {parcascrape.Topology{ModelUUID: testTopology.ModelUUID, Application: "a"}, nil, "no model"},
		"bad target":     {testTopology, job(func(j *parcascrape.Job) { j.StaticConfigs[0].Targets = []string{"host"} }), "not host:port"},
		"bad scheme":     {testTopology, job(func(j *parcascrape.Job) { j.Scheme = "HTTPS" }), "scheme"},
		"bad interval":   {testTopology, job(func(j *parcascrape.Job) { j.ScrapeInterval = "1.5s" }), "scrape_interval"},
		"duplicate name": {testTopology, append(job(func(*parcascrape.Job) {}), job(func(*parcascrape.Job) {})...), `two jobs named "a"`},
	} {
		if _, err := parcascrape.AppData(c.meta, c.jobs); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", name, err, c.err)
		}
	}
}

func TestUnitData(t *testing.T) {
	got, err := parcascrape.UnitData("my-app/0", "my-app-0.my-app-endpoints.cos.svc.cluster.local")
	if err != nil || len(got) != 2 || got["parca_scrape_unit_name"] != "my-app/0" ||
		got["parca_scrape_unit_address"] != "my-app-0.my-app-endpoints.cos.svc.cluster.local" {
		t.Errorf("%q %v", got, err)
	}
	for _, bad := range [][2]string{{"my-app", "10.0.0.1"}, {"my-app/0", ""}, {"my-app/0", "a b"}} {
		if _, err := parcascrape.UnitData(bad[0], bad[1]); err == nil {
			t.Errorf("UnitData(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// What a Go provider publishes, a Go consumer reads back.
func TestProviderToConsumer(t *testing.T) {
	app, err := parcascrape.AppData(testTopology, []parcascrape.Job{
		{JobName: "profiles", Scheme: "https", TLSConfig: map[string]any{"ca": "PEM"}, StaticConfigs: []parcascrape.StaticConfig{
			{Targets: []string{"*:6060"}, Labels: map[string]string{"team": "x"}},
			{Targets: []string{"other.example:7070"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]map[string]string{}
	for _, u := range [][2]string{{"my-app/0", "10.0.0.1"}, {"my-app/1", "10.0.0.2"}} {
		if units[u[0]], err = parcascrape.UnitData(u[0], u[1]); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := parcascrape.Jobs([]parcascrape.Provider{{AppData: app, Units: units}})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("%+v %v", jobs, err)
	}
	j := jobs[0]
	if j.JobName != "cos_f3b7c9a2_my-app_profiles" || j.Scheme != "https" || j.TLSConfig["ca"] != "PEM" || len(j.StaticConfigs) != 3 {
		t.Fatalf("%+v", j)
	}
	var got []string
	for _, sc := range j.StaticConfigs {
		got = append(got, strings.Join(sc.Targets, ",")+" unit="+sc.Labels["juju_unit"]+" team="+sc.Labels["team"]+" app="+sc.Labels["juju_application"])
	}
	want := "10.0.0.1:6060 unit=my-app/0 team=x app=my-app|10.0.0.2:6060 unit=my-app/1 team=x app=my-app|other.example:7070 unit= team= app=my-app"
	if strings.Join(got, "|") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
	if src := j.RelabelConfigs[0].SourceLabels; len(src) != 4 || src[3] != "juju_unit" {
		t.Errorf("relabel %+v", j.RelabelConfigs)
	}
}
