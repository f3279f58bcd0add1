package tempo

import "github.com/tempo-coordinator/coordinator/internal/coordinator"

// Endpoints where Tempo tells other charms where its API is.
const (
	// APIEndpoint provides tempo_api: Tempo's HTTP and gRPC API URLs.
	APIEndpoint = "tempo-api"
	// ProbesEndpoint provides blackbox_exporter_probes: a probe of
	// Tempo's readiness at its most external URL.
	ProbesEndpoint = "probes"
)

// apiURLs is one tempo_api value: the in-cluster URL and, behind an
// ingress, the ingress URL (each with the trailing slash pydantic's
// AnyHttpUrl gives the reference's).
type apiURLs struct {
	DirectURL  string `json:"direct_url"`
	IngressURL string `json:"ingress_url,omitempty"`
}

// probeJob is a blackbox probe job (the blackbox_probes library's
// ProbesJobModel, named as the library prefixes it).
type probeJob struct {
	JobName       string              `json:"job_name"`
	Params        map[string][]string `json:"params"`
	StaticConfigs []probeTargets      `json:"static_configs"`
}

type probeTargets struct {
	Targets []string `json:"targets"`
}

// topology is the coordinator's Juju topology (cosl JujuTopology.as_dict).
type topology struct {
	Model     string `json:"model"`
	ModelUUID string `json:"model_uuid"`
	App       string `json:"application"`
	Unit      string `json:"unit"`
	CharmName string `json:"charm_name"`
}

// apiDatabags builds the leader's tempo-api and probes app databags.
// Nothing is published while the coordinator's address is unknown.
func apiDatabags(in *coordinator.RenderInput) []coordinator.DatabagWrite {
	if in == nil || coordinator.InternalHTTPURL(in, HTTPPort) == "" {
		return nil
	}
	var out []coordinator.DatabagWrite
	if rels := in.Relations[APIEndpoint]; len(rels) > 0 {
		data := map[string]string{}
		for key, port := range map[string]int{"http": HTTPPort, "grpc": GRPCPort} {
			v := apiURLs{DirectURL: coordinator.InternalHTTPURL(in, port) + "/"}
			if u := coordinator.IngressHTTPURL(in, port); u != "" {
				v.IngressURL = u + "/"
			}
			data[key] = mustJSON(v)
		}
		out = append(out, coordinator.AppDatabags(APIEndpoint, rels, data)...)
	}
	if rels := in.Relations[ProbesEndpoint]; len(rels) > 0 {
		jobs := []probeJob{{
			JobName:       "juju_" + in.Model + "_" + in.ModelUUID + "_" + in.App,
			Params:        map[string][]string{"module": {"http_2xx"}},
			StaticConfigs: []probeTargets{{Targets: []string{coordinator.ExternalHTTPURL(in, HTTPPort) + "/ready"}}},
		}}
		out = append(out, coordinator.AppDatabags(ProbesEndpoint, rels, map[string]string{
			"scrape_metadata": mustJSON(topology{Model: in.Model, ModelUUID: in.ModelUUID, App: in.App, Unit: in.Unit, CharmName: CharmName}),
			"scrape_probes":   mustJSON(jobs),
			"scrape_modules":  "{}",
		})...)
	}
	return out
}

// mustJSON encodes values built here (structs of strings, which always
// encode).
func mustJSON(v any) string {
	s, err := coordinator.EncodeJSON(v)
	if err != nil {
		panic(err)
	}
	return s
}
