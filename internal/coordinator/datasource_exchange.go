package coordinator

import (
	"cmp"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"sync"
)

// Endpoints of the grafana_datasource_exchange interface: Tempo requires
// it (receive-datasource), Pyroscope provides it (send-datasource). Both
// sides publish the same thing: the Grafana datasources they are.
const (
	ReceiveDatasourceEndpoint = "receive-datasource"
	SendDatasourceEndpoint    = "send-datasource"
)

// maxDatasourcesBytes bounds a remote "datasources" value.
const maxDatasourcesBytes = 64 << 10

// ExchangedDatasource is one Grafana datasource as the exchange carries it.
type ExchangedDatasource struct {
	Type       string `json:"type"`
	UID        string `json:"uid"`
	GrafanaUID string `json:"grafana_uid"`
}

// grafanaUIDPattern is what a Grafana or datasource uid must look like to
// be republished (Grafana's own uids are at most 40 such characters).
var grafanaUIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`) })

// ownDatasources are the datasources Grafana created for this coordinator,
// learnt from the grafana-source relations: per Grafana (grafana_uid), the
// application-level datasource's uid (app_datasource_uid), else the
// per-unit ones (datasource_uids). Sorted by uid, then Grafana.
func ownDatasources(p *Product, o *Observed) []ExchangedDatasource {
	if p.GrafanaSource == nil {
		return nil
	}
	var out []ExchangedDatasource
	for _, rel := range o.Relations[GrafanaSourceEndpoint] {
		grafana := rel.AppData["grafana_uid"]
		if !grafanaUIDPattern().MatchString(grafana) {
			continue
		}
		var uids []string
		if uid := rel.AppData["app_datasource_uid"]; uid != "" {
			uids = append(uids, uid)
		} else if raw := rel.AppData["datasource_uids"]; raw != "" && len(raw) <= maxDatasourcesBytes {
			var byUnit map[string]string
			if json.Unmarshal([]byte(raw), &byUnit) == nil {
				uids = slices.Collect(maps.Values(byUnit))
			}
		}
		for _, uid := range uids {
			if grafanaUIDPattern().MatchString(uid) {
				out = append(out, ExchangedDatasource{Type: p.GrafanaSource.Type, UID: uid, GrafanaUID: grafana})
			}
		}
	}
	slices.SortFunc(out, func(a, b ExchangedDatasource) int {
		return cmp.Or(cmp.Compare(a.UID, b.UID), cmp.Compare(a.GrafanaUID, b.GrafanaUID))
	})
	return slices.Compact(out)
}

// remoteDatasources are the valid datasources a relation's application
// published on the exchange.
func remoteDatasources(rel Relation) []ExchangedDatasource {
	raw := rel.AppData["datasources"]
	if raw == "" || len(raw) > maxDatasourcesBytes {
		return nil
	}
	var list []ExchangedDatasource
	if json.Unmarshal([]byte(raw), &list) != nil {
		return nil
	}
	return slices.DeleteFunc(list, func(d ExchangedDatasource) bool {
		return !grafanaUIDPattern().MatchString(d.UID) || !grafanaUIDPattern().MatchString(d.GrafanaUID) || d.Type == ""
	})
}

// datasourceExchangeDatabags publishes this coordinator's datasources on
// every exchange relation (leader).
func datasourceExchangeDatabags(p *Product, o *Observed) []DatabagWrite {
	ep := p.DatasourceExchangeEndpoint
	if ep == "" || !o.Leader || len(o.Relations[ep]) == 0 {
		return nil
	}
	own := ownDatasources(p, o)
	if own == nil {
		own = []ExchangedDatasource{}
	}
	return AppDatabags(ep, o.Relations[ep], map[string]string{"datasources": mustJSON(own)})
}

// serviceMapDatasource is the uid of the Prometheus datasource Tempo's
// service map reads: one the exchange offers, of an application this
// coordinator sends remote-write to (where the metrics-generator's
// service graphs land), in a Grafana this coordinator is a datasource of.
// "" when there is none.
func serviceMapDatasource(p *Product, o *Observed) string {
	if p.DatasourceExchangeEndpoint == "" || p.GrafanaSource == nil || p.GrafanaSource.ServiceMapEndpoint == "" {
		return ""
	}
	writesTo := map[string]bool{}
	for _, rel := range o.Relations[p.GrafanaSource.ServiceMapEndpoint] {
		if rel.RemoteApp != "" {
			writesTo[rel.RemoteApp] = true
		}
	}
	grafanas := map[string]bool{}
	for _, d := range ownDatasources(p, o) {
		grafanas[d.GrafanaUID] = true
	}
	for _, rel := range o.Relations[p.DatasourceExchangeEndpoint] {
		if !writesTo[rel.RemoteApp] {
			continue
		}
		for _, d := range remoteDatasources(rel) {
			if d.Type == "prometheus" && grafanas[d.GrafanaUID] {
				return d.UID
			}
		}
	}
	return ""
}
