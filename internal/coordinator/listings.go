package coordinator

// Endpoints where the coordinator lists itself for other applications.
const (
	GrafanaSourceEndpoint = "grafana-source"
	CatalogueEndpoint     = "catalogue"
)

// GrafanaSource is the datasource a product offers Grafana over the
// grafana_datasource interface, as one application-level datasource
// (stable across leader changes) at the coordinator's most external URL.
type GrafanaSource struct {
	// Type is Grafana's datasource type ("tempo", "grafana-pyroscope-datasource").
	Type string
	// Port is the coordinator port Grafana queries.
	Port int
	// ServiceMapEndpoint, when set, names the remote-write endpoint: the
	// datasource's service map reads the Prometheus written to there
	// (Tempo's metrics-generator), when the datasource exchange offers it.
	ServiceMapEndpoint string
}

// CatalogueItem is a product's entry in a catalogue (catalogue interface).
type CatalogueItem struct {
	// Title names the product; the entry is "<Title> (<application>)".
	Title       string
	Description string
	// Icon is an Iconify Material Design Icons name.
	Icon string
	// HasUI: the entry links to the coordinator's most external HTTP URL
	// on Port (Pyroscope serves a UI there); without it the link is empty.
	HasUI bool
	// Port is the HTTP port of the UI and of the API endpoints.
	Port int
	// APIDocs is a URL to the product's API documentation, "" for none.
	APIDocs string
	// APIEndpoints maps a label to a path on Port ("/status").
	APIEndpoints map[string]string
}

// grafanaSourceData is the grafana_source_data value: who we are and what
// kind of datasource (no extra or secure fields).
type grafanaSourceData struct {
	Model             string `json:"model"`
	ModelUUID         string `json:"model_uuid"`
	Application       string `json:"application"`
	Type              string `json:"type"`
	ExtraFields       any    `json:"extra_fields"`
	SecureExtraFields any    `json:"secure_extra_fields"`
}

// listingEndpoints are the endpoints the product's listings need observed:
// only their relation IDs matter (nothing is read from them).
func (p *Product) listingEndpoints() []Endpoint {
	var out []Endpoint
	if p.GrafanaSource != nil {
		// Grafana's app databag names the datasources it created for us,
		// which the leader republishes on the datasource exchange (and
		// matches against it for Tempo's service map): read only then.
		out = append(out, Endpoint{Name: GrafanaSourceEndpoint, AppDataForLeaderWith: p.DatasourceExchangeEndpoint})
	}
	if ep := p.DatasourceExchangeEndpoint; ep != "" {
		out = append(out, Endpoint{Name: ep, AppDataForLeaderWith: ep})
	}
	if p.Catalogue != nil {
		out = append(out, Endpoint{Name: CatalogueEndpoint})
	}
	return out
}

// listingDatabags builds the leader's app databags on the grafana-source
// and catalogue relations. Nothing is published while the coordinator's
// address is unknown.
func listingDatabags(p *Product, o *Observed, in *RenderInput) []DatabagWrite {
	var out []DatabagWrite
	if gs := p.GrafanaSource; gs != nil && len(o.Relations[GrafanaSourceEndpoint]) > 0 {
		if url := ExternalHTTPURL(in, gs.Port); url != "" {
			var extra any
			if gs.ServiceMapEndpoint != "" {
				if uid := serviceMapDatasource(p, o); uid != "" {
					extra = map[string]any{"httpMethod": "GET", "serviceMap": map[string]string{"datasourceUid": uid}}
				}
			}
			out = append(out, AppDatabags(GrafanaSourceEndpoint, o.Relations[GrafanaSourceEndpoint], map[string]string{
				"grafana_source_data": mustJSON(grafanaSourceData{
					Model: o.Model, ModelUUID: o.ModelUUID, Application: o.App, Type: gs.Type, ExtraFields: extra,
				}),
				"grafana_source_app_host": url,
			})...)
		}
	}
	if c := p.Catalogue; c != nil && len(o.Relations[CatalogueEndpoint]) > 0 {
		if base := ExternalHTTPURL(in, c.Port); base != "" {
			data := map[string]string{
				"name":        c.Title + " (" + o.App + ")",
				"description": c.Description,
				"icon":        c.Icon,
			}
			if c.HasUI {
				data["url"] = base
			}
			if c.APIDocs != "" {
				data["api_docs"] = c.APIDocs
			}
			if len(c.APIEndpoints) > 0 {
				endpoints := make(map[string]string, len(c.APIEndpoints))
				for label, path := range c.APIEndpoints {
					endpoints[label] = base + path
				}
				data["api_endpoints"] = mustJSON(endpoints)
			}
			out = append(out, AppDatabags(CatalogueEndpoint, o.Relations[CatalogueEndpoint], data)...)
		}
	}
	return out
}
