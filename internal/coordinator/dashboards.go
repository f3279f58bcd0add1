package coordinator

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// DashboardEndpoint is where the coordinator offers Grafana its dashboards
// (grafana_dashboard, provider).
const DashboardEndpoint = "grafana-dashboard"

// dashboardTemplate is one dashboard as the grafana_dashboard interface
// carries it.
type dashboardTemplate struct {
	Charm           string            `json:"charm"`
	Content         string            `json:"content"`
	JujuTopology    dashboardTopology `json:"juju_topology"`
	InjectDropdowns bool              `json:"inject_dropdowns"`
	DashboardAltUID string            `json:"dashboard_alt_uid"`
}

// dashboardTopology is the provider's topology (no charm name, as the
// reference sends it); Grafana adds juju_* variables from it.
type dashboardTopology struct {
	Model       string `json:"model"`
	ModelUUID   string `json:"model_uuid"`
	Application string `json:"application"`
	Unit        string `json:"unit"`
}

var path40UID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{40}$`) })

// shake256Hex is the hex SHAKE-256 digest of s, n bytes long.
func shake256Hex(s string, n int) string {
	return hex.EncodeToString(sha3.SumSHAKE256([]byte(s), n))
}

// DashboardUID is the uid a dashboard gets when its file carries none of
// the "Path40" form: SHAKE-256("<charm>-<path in the charm>"), 20 bytes,
// as the reference computes it, so a dashboard keeps its uid (and its
// Grafana URL) across revisions and coordinators.
func DashboardUID(charm, charmPath string) string {
	return shake256Hex(charm+"-"+charmPath, 20)
}

// compressDashboard is xz(dashboard JSON), base64-encoded: the content
// Grafana's consumer decompresses (any valid .xz stream works). The same
// dashboard always gives the same bytes.
func compressDashboard(dashboard []byte) (string, error) {
	var buf bytes.Buffer
	// A 1 MiB dictionary holds any dashboard and costs far less to set up
	// than the 8 MiB default, on every hook that publishes.
	w, err := xz.WriterConfig{DictCap: 64 << 10, Matcher: lzma.HashTable4}.NewWriter(&buf)
	if err != nil {
		return "", fmt.Errorf("cannot compress dashboard: %w", err)
	}
	if _, err := w.Write(dashboard); err != nil {
		return "", fmt.Errorf("cannot compress dashboard: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("cannot compress dashboard: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// prepareDashboard gives a dashboard file its stable uid and the
// "charm: <charm>" tag, and returns its compressed content.
func prepareDashboard(charm, assetPath string, raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var d map[string]any
	if err := dec.Decode(&d); err != nil {
		return "", fmt.Errorf("cannot parse dashboard %s: %w", assetPath, err)
	}
	if d == nil {
		return "", fmt.Errorf("cannot parse dashboard %s: not a JSON object", assetPath)
	}
	if uid, _ := d["uid"].(string); !path40UID().MatchString(uid) {
		d["uid"] = DashboardUID(charm, "src/"+assetPath)
	}
	tags, _ := d["tags"].([]any)
	tagged := false
	for _, t := range tags {
		if s, ok := t.(string); ok && strings.HasPrefix(s, "charm: ") {
			tagged = true
		}
	}
	if !tagged {
		d["tags"] = append(tags, "charm: "+charm)
	}
	out, err := EncodeJSON(d)
	if err != nil {
		return "", fmt.Errorf("cannot encode dashboard %s: %w", assetPath, err)
	}
	return compressDashboard([]byte(out))
}

// dashboardFile reports whether an asset is a dashboard the library would
// load (*.json, *.json.tmpl, *.tmpl).
func dashboardFile(p string) bool {
	return strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".tmpl")
}

// dashboardDatabags builds the leader's "dashboards" value on every
// grafana-dashboard relation: a "file:<stem>" template per dashboard of
// src/grafana_dashboards. Its "uuid" is derived from the templates, so the
// value changes (and is rewritten) only when a template does, as the
// reference's stored uuid4 does, without state.
//
// Compressing a dashboard costs milliseconds, so each one's content is
// kept in DashboardCache under a digest of its file: a hook whose
// dashboards did not change compresses nothing; cacheOut receives the
// entries of the current dashboards.
func dashboardDatabags(p *Product, o *Observed, cacheOut *map[string]string) ([]DatabagWrite, []string) {
	rels := o.Relations[DashboardEndpoint]
	if len(rels) == 0 || !o.Leader {
		return nil, nil
	}
	var problems []string
	templates := map[string]dashboardTemplate{}
	cache := map[string]string{}
	for _, ap := range o.Assets.under(DashboardsDir) {
		if !dashboardFile(ap) {
			continue
		}
		key := dashboardCacheKey(p.CharmName, ap, o.Assets[ap])
		content, ok := o.DashboardCache[key]
		if !ok {
			var err error
			if content, err = prepareDashboard(p.CharmName, ap, o.Assets[ap]); err != nil {
				problems = append(problems, err.Error())
				continue
			}
		}
		cache[key] = content
		id := "file:" + stem(path.Base(ap))
		templates[id] = dashboardTemplate{
			Charm:   p.CharmName,
			Content: content,
			JujuTopology: dashboardTopology{
				Model: o.Model, ModelUUID: o.ModelUUID, Application: o.App, Unit: o.Unit,
			},
			InjectDropdowns: true,
			DashboardAltUID: shake256Hex(p.CharmName+"-"+id, 8),
		}
	}
	encoded := mustJSON(templates)
	*cacheOut = cache
	return AppDatabags(DashboardEndpoint, rels, map[string]string{
		"dashboards": mustJSON(struct {
			Templates map[string]dashboardTemplate `json:"templates"`
			UUID      string                       `json:"uuid"`
		}{templates, contentUUID(encoded)}),
	}), problems
}

// dashboardCacheKey identifies a dashboard file's compressed content: a
// digest of everything prepareDashboard reads.
func dashboardCacheKey(charm, assetPath string, raw []byte) string {
	h := sha256.New()
	for _, s := range []string{charm, assetPath} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// contentUUID is a version-4-shaped UUID derived from s.
func contentUUID(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
