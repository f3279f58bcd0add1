package coordinator

import (
	"bytes"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Where the rule files live under src/: the coordinator's own nginx rules,
// the rules about the workers (PromQL), and the log rules (LogQL) applied
// to the coordinator and to every worker application.
const (
	NginxRulesDir  = PrometheusRulesDir + "/nginx"
	WorkerRulesDir = PrometheusRulesDir + "/workers"
)

// RuleGroup is a Prometheus or Loki rule group, as rule files and the
// alert_rules databag value hold it. JSON fields are in alphabetical
// order: the value is published with sorted keys, as the reference does.
type RuleGroup struct {
	Name  string `json:"name" yaml:"name"`
	Rules []Rule `json:"rules" yaml:"rules"`
}

// Rule is an alerting (Alert) or recording (Record) rule.
type Rule struct {
	Alert       string            `json:"alert,omitempty" yaml:"alert,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
	Expr        string            `json:"expr" yaml:"expr"`
	For         string            `json:"for,omitempty" yaml:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Record      string            `json:"record,omitempty" yaml:"record,omitempty"`
}

// ruleSet is the rule groups of one directory, each with the directory it
// was found in (relative to the set's root, "" at the root), which becomes
// part of the group's published name.
type ruleSet []struct {
	subdir string
	group  RuleGroup
}

// queryLanguage is the language of a rule's expression.
type queryLanguage int

const (
	promQL queryLanguage = iota
	logQL
)

// ruleTopology is whom a rule is about: its labels, and the prefix of its
// group's name.
type ruleTopology struct {
	Model, ModelUUID, App, CharmName string
}

// identifier is "<model>_<first 8 characters of the model UUID>_<app>".
func (t ruleTopology) identifier() string {
	uuid := t.ModelUUID
	if len(uuid) > 8 {
		uuid = uuid[:8]
	}
	return strings.ReplaceAll(t.Model+"_"+uuid+"_"+t.App, "/", "_")
}

// LoadRules parses every rule file under dir of the assets: either a
// Prometheus rule file ("groups: [...]") or a single rule, which becomes a
// group named after the file. A file that does not parse is left out and
// named in the returned problems.
func LoadRules(assets Assets, dir string) (ruleSet, []string) {
	var set ruleSet
	var problems []string
	for _, p := range assets.under(dir) {
		switch path.Ext(p) {
		case ".rule", ".rules", ".yaml", ".yml":
		default:
			continue
		}
		groups, err := parseRuleFile(p, assets[p])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		subdir := strings.TrimPrefix(path.Dir(strings.TrimPrefix(p, dir+"/")), ".")
		for _, g := range groups {
			set = append(set, struct {
				subdir string
				group  RuleGroup
			}{strings.ReplaceAll(subdir, "/", "_"), g})
		}
	}
	return set, problems
}

// parseRuleFile reads one rule file, rejecting unknown fields (a typo in
// a packed file must not publish a rule that means something else).
func parseRuleFile(name string, data []byte) ([]RuleGroup, error) {
	// One pass reads either form: a file has groups, or the fields of a
	// single rule, never both.
	var f struct {
		Groups []RuleGroup `yaml:"groups"`
		Rule   `yaml:",inline"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("cannot parse rule file %s: %w", name, err)
	}
	groups := f.Groups
	switch {
	case groups != nil && !reflect.ValueOf(f.Rule).IsZero():
		return nil, fmt.Errorf("cannot parse rule file %s: groups and a rule in one file", name)
	case groups == nil:
		groups = []RuleGroup{{Name: stem(name), Rules: []Rule{f.Rule}}}
	}
	for _, g := range groups {
		if g.Name == "" || len(g.Rules) == 0 {
			return nil, fmt.Errorf("cannot parse rule file %s: a group without a name or rules", name)
		}
		for _, r := range g.Rules {
			if (r.Alert == "") == (r.Record == "") || strings.TrimSpace(r.Expr) == "" {
				return nil, fmt.Errorf("cannot parse rule file %s: group %s: a rule needs an expression and exactly one of alert and record", name, g.Name)
			}
		}
	}
	return groups, nil
}

var (
	qualifiedGroupName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^.*?_[\da-f]{8}_.*?rules$`) })
	groupNameInvalid   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-zA-Z0-9_:]`) })
	topologyMarker     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`%%juju_topology%%,?`) })
)

// applyTopology gives every group of the set the topology of whom it is
// about, as the reference's rule library does: a group name not already
// qualified becomes "<identifier>[_<subdir>]_<name>_rules" (characters
// Prometheus refuses replaced with "_"); the juju_model, juju_model_uuid,
// juju_application and juju_charm labels are added where missing (the
// consumer turns them into selectors); the %%juju_topology%% marker is
// removed from PromQL expressions and becomes job=~".+" in LogQL ones.
func applyTopology(set ruleSet, t ruleTopology, lang queryLanguage) []RuleGroup {
	marker := ""
	if lang == logQL {
		marker = `job=~".+"`
	}
	var out []RuleGroup
	for _, sg := range set {
		name := sg.group.Name
		if !qualifiedGroupName().MatchString(name) {
			prefix := t.identifier()
			if sg.subdir != "" {
				prefix += "_" + sg.subdir
			}
			name = prefix + "_" + name
			if !strings.HasSuffix(name, "_rules") {
				name += "_rules"
			}
		}
		g := RuleGroup{Name: groupNameInvalid().ReplaceAllString(name, "_")}
		for _, r := range sg.group.Rules {
			labels := make(map[string]string, len(r.Labels)+4)
			for k, v := range r.Labels {
				labels[k] = v
			}
			setMissing(labels, "juju_model", t.Model)
			setMissing(labels, "juju_model_uuid", t.ModelUUID)
			setMissing(labels, "juju_application", t.App)
			if t.CharmName != "" {
				setMissing(labels, "juju_charm", t.CharmName)
			}
			r.Labels = labels
			r.Expr = topologyMarker().ReplaceAllString(r.Expr, marker)
			g.Rules = append(g.Rules, r)
		}
		out = append(out, g)
	}
	return out
}

func setMissing(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// hostHealthRules is the generic group every application's rules carry:
// its targets down, or no target scraped at all.
func hostHealthRules() ruleSet {
	return ruleSet{{group: RuleGroup{Name: "HostHealth", Rules: []Rule{
		{
			Alert: "HostDown", Expr: "up < 1", For: "5m",
			Labels: map[string]string{"severity": "critical"},
			Annotations: map[string]string{
				"summary":     "Target {{ $labels.instance }} of {{ $labels.juju_application }} is down.",
				"description": "Prometheus could not scrape {{ $labels.instance }} ({{ $labels.juju_unit }}) for 5 minutes.",
			},
		},
		{
			Alert: "HostMetricsMissing", Expr: "absent(up)", For: "5m",
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     "No target of {{ $labels.juju_application }} is scraped.",
				"description": "Prometheus has had no scrape result for {{ $labels.juju_application }} in model {{ $labels.juju_model }} for 5 minutes.",
			},
		},
	}}}}
}

// workerTopology is the rule topology of a worker application: our model
// (workers are in it), the application's name and, when valid, the charm
// name its first unit publishes.
func workerTopology(o *Observed, app WorkerApp) ruleTopology {
	t := ruleTopology{Model: o.Model, ModelUUID: o.ModelUUID, App: app.Name}
	if len(app.Units) > 0 {
		if charm := app.Units[0].Topology["charm_name"]; charmNamePattern().MatchString(charm) {
			t.CharmName = charm
		}
	}
	return t
}

// coordinatorTopology is the rule topology of the coordinator itself.
func coordinatorTopology(p *Product, o *Observed) ruleTopology {
	return ruleTopology{Model: o.Model, ModelUUID: o.ModelUUID, App: o.App, CharmName: p.CharmName}
}

// PrometheusRules is the alert_rules value for metrics-endpoint: the worker
// rules once per worker application with that application's topology,
// then the nginx rules and the HostHealth group with the coordinator's.
func PrometheusRules(p *Product, o *Observed, cluster Cluster) (string, []string) {
	workers, problems := LoadRules(o.Assets, WorkerRulesDir)
	nginx, more := LoadRules(o.Assets, NginxRulesDir)
	var groups []RuleGroup
	for _, app := range cluster.Apps {
		groups = append(groups, applyTopology(workers, workerTopology(o, app), promQL)...)
	}
	self := coordinatorTopology(p, o)
	groups = append(groups, applyTopology(nginx, self, promQL)...)
	groups = append(groups, applyTopology(hostHealthRules(), self, promQL)...)
	return rulesValue(groups), append(problems, more...)
}

// LokiRules is the alert_rules value for logging: the log rules once per
// worker application and once for the coordinator.
func LokiRules(p *Product, o *Observed, cluster Cluster) (string, []string) {
	logs, problems := LoadRules(o.Assets, LokiRulesDir)
	var groups []RuleGroup
	for _, app := range cluster.Apps {
		groups = append(groups, applyTopology(logs, workerTopology(o, app), logQL)...)
	}
	groups = append(groups, applyTopology(logs, coordinatorTopology(p, o), logQL)...)
	return rulesValue(groups), problems
}

// rulesValue encodes groups as {"groups": [...]}, or {} for none.
func rulesValue(groups []RuleGroup) string {
	if len(groups) == 0 {
		return "{}"
	}
	return mustJSON(struct {
		Groups []RuleGroup `json:"groups"`
	}{groups})
}
