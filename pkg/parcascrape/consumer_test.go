package parcascrape_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/pkg/parcascrape"
)

// pythonCase is one file of testdata/python (see its README).
type pythonCase struct {
	App        map[string]string            `json:"app"`
	Units      map[string]map[string]string `json:"units"`
	Python     json.RawMessage              `json:"python"`
	Go         json.RawMessage              `json:"go"`
	Difference string                       `json:"difference"`
}

func loadPythonCases(t *testing.T) map[string]pythonCase {
	t.Helper()
	paths, err := filepath.Glob("testdata/python/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no reference cases: %v", err)
	}
	cases := map[string]pythonCase{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var c pythonCase
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		cases[strings.TrimSuffix(filepath.Base(p), ".json")] = c
	}
	return cases
}

// sameJSON compares two values by their JSON meaning.
func sameJSON(t *testing.T, got any, want json.RawMessage) bool {
	t.Helper()
	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", raw, want)
		return false
	}
	return true
}

// The consumer returns what the Python library returns for the same
// databags, except where a case documents a deliberate difference.
func TestJobsMatchesPythonConsumer(t *testing.T) {
	for name, c := range loadPythonCases(t) {
		t.Run(name, func(t *testing.T) {
			got, err := parcascrape.Jobs([]parcascrape.Provider{{RelationID: 4, App: "my-app", AppData: c.App, Units: c.Units}})
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			want := c.Python
			if c.Go != nil {
				if c.Difference == "" {
					t.Fatal("a case with its own Go result must say why it differs")
				}
				want = c.Go
			}
			if got == nil {
				got = []parcascrape.ScrapeConfig{}
			}
			sameJSON(t, got, want)
		})
	}
}

const testMetadata = `{"model": "cos", "model_uuid": "f3b7c9a2-1d4e-4b8a-9c6f-2e5d7a8b9c01", "application": "my-app", "unit": "my-app/0", "charm_name": "my-charm"}`

var testUnits = map[string]map[string]string{
	"my-app/0":  {"parca_scrape_unit_name": "my-app/0", "parca_scrape_unit_address": "10.1.32.10"},
	"my-app/10": {"parca_scrape_unit_name": "my-app/10", "parca_scrape_unit_address": "fd00::a"},
	"my-app/2":  {"parca_scrape_unit_name": "my-app/2", "parca_scrape_unit_address": "my-app-2.my-app-endpoints.cos.svc.cluster.local"},
}

func TestJobsUnitsInOrderIPv6Bracketed(t *testing.T) {
	jobs, err := parcascrape.Jobs([]parcascrape.Provider{{AppData: map[string]string{
		"scrape_jobs": `[{"static_configs": [{"targets": ["*:8000"]}]}]`, "scrape_metadata": testMetadata,
	}, Units: testUnits}})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("%v %v", jobs, err)
	}
	var targets []string
	for _, sc := range jobs[0].StaticConfigs {
		targets = append(targets, sc.Labels["juju_unit"]+"="+strings.Join(sc.Targets, ","))
	}
	want := "my-app/0=10.1.32.10:8000 my-app/2=my-app-2.my-app-endpoints.cos.svc.cluster.local:8000 my-app/10=[fd00::a]:8000"
	if got := strings.Join(targets, " "); got != want {
		t.Errorf("targets %s, want %s", got, want)
	}
}

func TestJobsNothingToScrape(t *testing.T) {
	for name, p := range map[string]parcascrape.Provider{
		"no units":       {AppData: map[string]string{"scrape_jobs": `[{"static_configs": [{"targets": ["*:80"]}]}]`, "scrape_metadata": testMetadata}},
		"no jobs yet":    {Units: testUnits},
		"empty job list": {AppData: map[string]string{"scrape_jobs": `[]`, "scrape_metadata": testMetadata}, Units: testUnits},
	} {
		jobs, err := parcascrape.Jobs([]parcascrape.Provider{p})
		if len(jobs) != 0 || err != nil {
			t.Errorf("%s: %v %v", name, jobs, err)
		}
	}
}

// Bad provider data leaves that provider out with an error naming it, and
// the other providers' jobs are still returned.
func TestJobsRejectsBadProviderData(t *testing.T) {
	good := parcascrape.Provider{RelationID: 1, App: "good", Units: testUnits, AppData: map[string]string{
		"scrape_jobs": `[{"static_configs": [{"targets": ["*:8000"]}], "job_name": "j"}]`, "scrape_metadata": testMetadata}}
	const uuid = "f3b7c9a2-1d4e-4b8a-9c6f-2e5d7a8b9c01"
	meta := func(model, uuid, app string) string {
		b, _ := json.Marshal(map[string]string{"model": model, "model_uuid": uuid, "application": app})
		return string(b)
	}
	bad := []struct{ name, jobs, meta, err string }{
		{"not json", `[{`, testMetadata, "scrape_jobs is not a list of objects"},
		{"not a list", `{"static_configs": []}`, testMetadata, "scrape_jobs is not a list of objects"},
		{"list of strings", `["*:80"]`, testMetadata, "scrape_jobs is not a list of objects"},
		{"no metadata", `[{"static_configs": [{"targets": ["*:80"]}]}]`, ``, "scrape_jobs without scrape_metadata"},
		{"empty metadata", `[{"static_configs": [{"targets": ["*:80"]}]}]`, `{}`, "scrape_jobs without scrape_metadata"},
		{"metadata not an object", `[{}]`, `"cos"`, "scrape_metadata is not an object"},
		{"metadata number", `[{}]`, `{"model": 1}`, "scrape_metadata is not an object"},
		{"no model", `[{}]`, meta("", uuid, "a"), "no model"},
		{"no application", `[{}]`, meta("cos", uuid, ""), "no application"},
		{"uuid not v4", `[{}]`, meta("cos", "f3b7c9a2-1d4e-1b8a-9c6f-2e5d7a8b9c01", "a"), "not a version 4 UUID"},
		{"uuid upper case", `[{}]`, meta("cos", strings.ToUpper(uuid), "a"), "not a version 4 UUID"},
		{"target without port", `[{"static_configs": [{"targets": ["*"]}]}]`, testMetadata, `target "*" is not host:port`},
		{"two colons", `[{"static_configs": [{"targets": ["a:1:2"]}]}]`, testMetadata, "is not host:port"},
		{"port out of range", `[{"static_configs": [{"targets": ["*:65536"]}]}]`, testMetadata, "invalid port"},
		{"port not a number", `[{"static_configs": [{"targets": ["*:http"]}]}]`, testMetadata, "invalid port"},
		{"host with a space", `[{"static_configs": [{"targets": ["a b:80"]}]}]`, testMetadata, "invalid host"},
		{"host with a slash", `[{"static_configs": [{"targets": ["a/b:80"]}]}]`, testMetadata, "invalid host"},
		{"targets not a list", `[{"static_configs": [{"targets": "*:80"}]}]`, testMetadata, "invalid static_configs"},
		{"static_configs null", `[{"static_configs": null}]`, testMetadata, "invalid static_configs"},
		{"label not a string", `[{"static_configs": [{"targets": ["*:80"], "labels": {"a": 1}}]}]`, testMetadata, "invalid static_configs"},
		{"empty label name", `[{"static_configs": [{"targets": ["*:80"], "labels": {"": "x"}}]}]`, testMetadata, "invalid label"},
		{"job_name not a string", `[{"job_name": 5}]`, testMetadata, "invalid job_name"},
		{"bad interval", `[{"scrape_interval": "10 seconds"}]`, testMetadata, "scrape_interval"},
		{"bad timeout", `[{"scrape_timeout": 10}]`, testMetadata, "invalid scrape_timeout"},
		{"bad scheme", `[{"scheme": "ftp"}]`, testMetadata, `scheme "ftp"`},
		{"tls_config not an object", `[{"tls_config": "ca"}]`, testMetadata, "invalid tls_config"},
		{"profiling_config not an object", `[{"profiling_config": []}]`, testMetadata, "invalid profiling_config"},
		{"duplicate job name", `[{"job_name": "a"}, {"job_name": "a"}]`, testMetadata, `job name "cos_f3b7c9a2_my-app_a" is used twice`},
		{"two unnamed jobs", `[{}, {}]`, testMetadata, "is used twice"},
		{"too long", `[` + strings.Repeat(`{},`, 1<<19) + `{}]`, testMetadata, "longer than"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			p := parcascrape.Provider{RelationID: 9, App: "bad", Units: testUnits,
				AppData: map[string]string{"scrape_jobs": c.jobs, "scrape_metadata": c.meta}}
			jobs, err := parcascrape.Jobs([]parcascrape.Provider{p, good})
			var re *parcascrape.RelationError
			if !errors.As(err, &re) || re.RelationID != 9 || re.App != "bad" || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one about relation 9 containing %q", err, c.err)
			}
			if len(jobs) != 1 || jobs[0].JobName != "cos_f3b7c9a2_my-app_j" {
				t.Errorf("the good provider's jobs are lost: %+v", jobs)
			}
		})
	}
}

// A unit with a bad address or name is left out; the other units stay.
func TestJobsRejectsBadUnits(t *testing.T) {
	units := map[string]map[string]string{
		"my-app/0": {"parca_scrape_unit_name": "my-app/0", "parca_scrape_unit_address": "10.1.32.10"},
		"my-app/1": {"parca_scrape_unit_name": "my-app/1", "parca_scrape_unit_address": "evil\nhost"},
		"my-app/2": {"parca_scrape_unit_name": "../../etc", "parca_scrape_unit_address": "10.1.32.12"},
		"my-app/3": {"parca_scrape_unit_name": "my-app/0", "parca_scrape_unit_address": "10.1.32.13"},
	}
	jobs, err := parcascrape.Jobs([]parcascrape.Provider{{RelationID: 3, App: "my-app", Units: units, AppData: map[string]string{
		"scrape_jobs": `[{"static_configs": [{"targets": ["*:8000"]}]}]`, "scrape_metadata": testMetadata}}})
	if len(jobs) != 1 || len(jobs[0].StaticConfigs) != 1 || jobs[0].StaticConfigs[0].Targets[0] != "10.1.32.10:8000" {
		t.Fatalf("jobs %+v", jobs)
	}
	for _, want := range []string{"unit my-app/1: invalid address", "unit my-app/2: invalid unit name", `unit my-app/3: unit name "my-app/0" already used`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

// Two providers whose prefixed job names collide: the second is left out.
func TestJobsDuplicateAcrossProviders(t *testing.T) {
	p := parcascrape.Provider{RelationID: 1, App: "my-app", Units: testUnits, AppData: map[string]string{
		"scrape_jobs": `[{"static_configs": [{"targets": ["*:8000"]}]}]`, "scrape_metadata": testMetadata}}
	q := p
	q.RelationID = 2
	jobs, err := parcascrape.Jobs([]parcascrape.Provider{p, q})
	if len(jobs) != 1 || err == nil || !strings.Contains(err.Error(), "relation 2") {
		t.Errorf("jobs %d, error %v", len(jobs), err)
	}
}
