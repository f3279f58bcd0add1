package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/promrules"
)

// exposedNames are the metric names of the samples of a Prometheus text
// exposition (histograms' _bucket, _sum and _count included).
func exposedNames(body []byte) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// notScraped are metric names a rule or dashboard may use that no scrape
// target exposes, each with where it comes from.
var notScraped = map[string]string{
	"up": "Prometheus's own series for every scrape target",
}

// afterAnEvent are worker metric names whose first sample needs an event
// these scenarios do not wait for (a check that waits for an error would
// be flaky), each with the event. They are checked against the worker
// binary instead: it must hold the name, or its name without the
// namespace (client_golang joins Namespace and Name at run time).
var afterAnEvent = map[string]string{
	"tempo_discarded_spans_total":           "a span discarded (rate limit, trace too large)",
	"tempodb_blocklist_poll_errors_total":   "a failed blocklist poll (a per-tenant counter)",
	"tempodb_blocklist_length":              "a tenant's first block in object storage (an ingester flush, 30m by default)",
	"tempodb_compaction_outstanding_blocks": "a tenant's first block in object storage, then a compaction cycle",
	"pyroscope_discarded_samples_total":     "a profile discarded",
}

// namedInBinary reports whether the binary holds the metric name, or the
// name without its first "_"-separated part.
func namedInBinary(binary []byte, name string) bool {
	if bytes.Contains(binary, []byte(name)) {
		return true
	}
	_, short, ok := strings.Cut(name, "_")
	return ok && bytes.Contains(binary, []byte(short))
}

// checkMetricNames relates Grafana's dashboards to the coordinator and
// checks that every metric name of the published alert rules (read back
// with Prometheus's rule parser) and dashboards (decoded) is one the
// workers or the coordinator's exporter exposed when scrapeWorkers last
// ran, or is in notScraped, or
// is in afterAnEvent and named in the worker binary bin. It returns how
// many names were checked.
func (c *coordinator) checkMetricNames(bin string) int {
	c.t.Helper()
	if len(c.exposed) == 0 {
		c.t.Fatal("checkMetricNames needs scrapeWorkers first")
	}
	grafana := c.h.Model.AddRelation("grafana-dashboard", "grafana", nil, map[string]map[string]string{"grafana/0": {}})
	c.hook("grafana-dashboard-relation-joined", jujusim.HookOptions{Relation: grafana, RemoteUnit: "grafana/0"})
	var exprs []string
	for _, rel := range c.h.Model.RelationsOf("metrics-endpoint") {
		rules, err := promrules.ParsePrometheusRules(rel.LocalAppData["alert_rules"])
		if err != nil {
			c.t.Fatalf("published alert rules: %v", err)
		}
		// The workers', nginx's and HostHealth: fewer means the charm did
		// not read its rule files, and the check would prove little.
		if len(rules.Groups) < 3 {
			c.t.Fatalf("published %d alert rule groups, want at least 3: %.300s", len(rules.Groups), rel.LocalAppData["alert_rules"])
		}
		exprs = append(exprs, promrules.RuleExprs(rules)...)
	}
	if len(exprs) == 0 {
		c.t.Fatal("no alert rule published: metrics-endpoint is not related")
	}
	var dashboards struct {
		Templates map[string]struct {
			Content string `json:"content"`
		} `json:"templates"`
	}
	if err := json.Unmarshal([]byte(grafana.LocalAppData["dashboards"]), &dashboards); err != nil || len(dashboards.Templates) == 0 {
		c.t.Fatalf("published dashboards %.200q: %v", grafana.LocalAppData["dashboards"], err)
	}
	for id, tmpl := range dashboards.Templates {
		d, err := promrules.DecodeDashboard(tmpl.Content)
		if err != nil {
			c.t.Fatalf("%s: %v", id, err)
		}
		exprs = append(exprs, promrules.DashboardExprs(d)...)
	}
	used := map[string]bool{}
	for _, e := range exprs {
		names, err := promrules.MetricNames(e)
		if err != nil {
			c.t.Fatalf("%q: %v", e, err)
		}
		for _, n := range names {
			used[n] = true
		}
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		c.t.Fatal(err)
	}
	var missing []string
	for _, n := range slices.Sorted(maps.Keys(used)) {
		switch {
		case c.exposed[n] || notScraped[n] != "":
		case afterAnEvent[n] != "" && namedInBinary(binary, n):
			c.t.Logf("%s: not exposed yet (needs %s), named in %s", n, afterAnEvent[n], bin)
		default:
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		c.t.Errorf("metric names used by the rules or dashboards that neither the %s workers nor the exporter expose: %q", c.p.name, missing)
	}
	return len(used)
}
