package coordinator

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// LoggingEndpoint is where the coordinator relates to Loki (loki_push_api,
// requirer): the workers and the coordinator's own containers push their
// logs to every Loki unit, and the leader publishes the log alert rules.
const LoggingEndpoint = "logging"

// maxLokiEndpointBytes bounds a Loki unit's endpoint value; anything
// larger is rejected unread.
const maxLokiEndpointBytes = 2048

// LokiEndpoint is one Loki unit's push URL.
type LokiEndpoint struct {
	// Unit is the Loki unit ("loki/0"); it names the log target.
	Unit string
	// URL is where logs are pushed ("http://.../loki/api/v1/push").
	URL string
}

// LokiEndpoints are the push URLs of every Loki unit, sorted by unit.
type LokiEndpoints []LokiEndpoint

// Map is the endpoints as the workers receive them: {unit: url}.
func (e LokiEndpoints) Map() map[string]string {
	m := make(map[string]string, len(e))
	for _, ep := range e {
		m[ep.Unit] = ep.URL
	}
	return m
}

// lokiEndpoints reads every Loki unit's endpoint ({"url": ...}, unit key
// "endpoint") from the logging relations. A unit that has not published
// yet is skipped silently; one that published garbage is named in the log.
func lokiEndpoints(rels []Relation, logs []string) (LokiEndpoints, []string) {
	var out LokiEndpoints
	for _, rel := range rels {
		for _, unit := range slices.Sorted(maps.Keys(rel.Units)) {
			raw, ok := rel.Units[unit]["endpoint"]
			if !ok || raw == "" {
				continue
			}
			var v struct {
				URL string `json:"url"`
			}
			if len(raw) > maxLokiEndpointBytes || json.Unmarshal([]byte(raw), &v) != nil || !ValidURL(v.URL) || !validUnitName(unit) {
				logs = append(logs, "ignoring invalid Loki endpoint from "+Truncate(unit, 64))
				continue
			}
			out = append(out, LokiEndpoint{Unit: unit, URL: v.URL})
		}
	}
	slices.SortFunc(out, func(a, b LokiEndpoint) int { return strings.Compare(a.Unit, b.Unit) })
	return out, logs
}

// validUnitName accepts "<application>/<number>" unit names, which Juju
// guarantees; anything else is not a unit this charm should name a
// target after.
func validUnitName(unit string) bool {
	app, num, ok := strings.Cut(unit, "/")
	if !ok || !charmNamePattern().MatchString(app) || num == "" || len(num) > 9 {
		return false
	}
	for _, c := range []byte(num) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// LogTarget is a Pebble log target: where a container's service logs go,
// and the labels every line carries.
type LogTarget struct {
	// Name is the target's name in the Pebble plan (the Loki unit's name).
	Name string
	// URL is the Loki push URL.
	URL string
	// Labels are the Juju topology of this coordinator unit.
	Labels map[string]string
}

// logTargets are the log targets of this unit's containers: one per Loki
// unit, pushing directly to Loki (never through a proxy), labelled with
// this unit's topology as the reference's log forwarder does.
func logTargets(p *Product, o *Observed, endpoints LokiEndpoints) []LogTarget {
	if len(endpoints) == 0 {
		return nil
	}
	id := coordinatorTopology(p, o).identifier()
	labels := map[string]string{
		"product":          "Juju",
		"charm":            p.CharmName,
		"juju_model":       o.Model,
		"juju_model_uuid":  o.ModelUUID,
		"juju_application": o.App,
		"juju_unit":        o.Unit,
		"job":              "juju_" + id,
	}
	out := make([]LogTarget, 0, len(endpoints))
	for _, ep := range endpoints {
		out = append(out, LogTarget{Name: ep.Unit, URL: ep.URL, Labels: maps.Clone(labels)})
	}
	return out
}

// lokiMetadata is the leader's topology, published as "metadata".
type lokiMetadata struct {
	Model     string `json:"model"`
	ModelUUID string `json:"model_uuid"`
	App       string `json:"application"`
	Unit      string `json:"unit"`
	CharmName string `json:"charm_name"`
}

// loggingDatabags builds the leader's app databag on every logging
// relation: its topology and the log alert rules.
func loggingDatabags(p *Product, o *Observed, in *RenderInput) ([]DatabagWrite, []string) {
	rels := o.Relations[LoggingEndpoint]
	if len(rels) == 0 || !o.Leader {
		return nil, nil
	}
	rules, problems := LokiRules(p, o, in.Cluster)
	return AppDatabags(LoggingEndpoint, rels, map[string]string{
		"metadata":    mustJSON(lokiMetadata{Model: o.Model, ModelUUID: o.ModelUUID, App: o.App, Unit: o.Unit, CharmName: p.CharmName}),
		"alert_rules": rules,
	}), problems
}
