package coordinator

import (
	"maps"
	"path"
	"slices"
	"strings"
)

// Directories of the charm's src/ that hold assets the core publishes.
const (
	PrometheusRulesDir = "prometheus_alert_rules"
	LokiRulesDir       = "loki_alert_rules"
	DashboardsDir      = "grafana_dashboards"
)

// AssetDirs lists the src/ directories the charm reads into Assets.
var AssetDirs = []string{PrometheusRulesDir, LokiRulesDir, DashboardsDir}

// Assets are the files of the charm's src/ directory that become databag
// content (alert rules, dashboards), keyed by their slash-separated path
// under src/ ("prometheus_alert_rules/nginx/nginx.rules"). The charm reads
// them; the core only transforms the bytes.
type Assets map[string][]byte

// under returns the paths of the assets below dir (recursively), sorted.
func (a Assets) under(dir string) []string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(a)) {
		if strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	return out
}

// AssetsNeeded reports whether this hook publishes anything built from the
// assets: only the leader does, and only where a relation wants them
// (alert rules over metrics-endpoint and logging, dashboards over
// grafana-dashboard). Other hooks need not read a file.
func AssetsNeeded(o *Observed) bool {
	if !o.Leader {
		return false
	}
	for _, ep := range []string{MetricsEndpoint, LoggingEndpoint, DashboardEndpoint} {
		if len(o.Relations[ep]) > 0 {
			return true
		}
	}
	return false
}

// stem is a file's name without its last extension ("tempo" for
// "grafana_dashboards/tempo.json").
func stem(p string) string {
	base := path.Base(p)
	return strings.TrimSuffix(base, path.Ext(base))
}
