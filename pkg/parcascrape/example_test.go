package parcascrape_test

import (
	"fmt"

	"github.com/tempo-coordinator/coordinator/pkg/parcascrape"
)

// A profiled charm's leader publishes one job scraping every unit on port
// 6060; each unit publishes its address.
func ExampleAppData() {
	app, err := parcascrape.AppData(parcascrape.Topology{Model: "cos", ModelUUID: "f3b7c9a2-1d4e-4b8a-9c6f-2e5d7a8b9c01",
		Application: "my-app", Unit: "my-app/0", CharmName: "my-charm"},
		[]parcascrape.Job{{JobName: "pprof", StaticConfigs: []parcascrape.StaticConfig{{Targets: []string{"*:6060"}}}}})
	if err != nil {
		panic(err)
	}
	unit, _ := parcascrape.UnitData("my-app/0", "my-app-0.my-app-endpoints.cos.svc.cluster.local")
	fmt.Println(app["scrape_jobs"])
	fmt.Println(unit["parca_scrape_unit_address"])
	// Output:
	// [{"static_configs": [{"targets": ["*:6060"]}], "job_name": "pprof"}]
	// my-app-0.my-app-endpoints.cos.svc.cluster.local
}

// A Parca charm turns every related provider's databags into its
// scrape_configs.
func ExampleJobs() {
	jobs, err := parcascrape.Jobs([]parcascrape.Provider{{
		RelationID: 7, App: "my-app",
		AppData: map[string]string{
			"scrape_metadata": `{"model": "cos", "model_uuid": "f3b7c9a2-1d4e-4b8a-9c6f-2e5d7a8b9c01", "application": "my-app", "unit": "my-app/0", "charm_name": "my-charm"}`,
			"scrape_jobs":     `[{"static_configs": [{"targets": ["*:6060"]}], "job_name": "pprof"}]`,
		},
		Units: map[string]map[string]string{
			"my-app/0": {"parca_scrape_unit_name": "my-app/0", "parca_scrape_unit_address": "10.1.32.10"},
		},
	}})
	if err != nil {
		fmt.Println("left out:", err) // the valid providers' jobs are still there
	}
	for _, j := range jobs {
		fmt.Println(j.JobName, j.StaticConfigs[0].Targets, j.StaticConfigs[0].Labels["juju_unit"])
	}
	// Output:
	// cos_f3b7c9a2_my-app_pprof [10.1.32.10:6060] my-app/0
}
