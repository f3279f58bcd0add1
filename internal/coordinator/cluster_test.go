package coordinator_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// clusterCase is a relation fixture (testdata/cluster/*.json) and its
// expected outcome. Relations are exactly what Juju returns (databag values
// raw); the harness adds a valid monolithic worker, "tempo-good" with two
// units on relation 100, so that the rest of the cluster is consistent.
type clusterCase struct {
	Comment   string                 `json:"comment"`
	Relations []coordinator.Relation `json:"relations"`
	Want      struct {
		// Apps maps each valid app to the units kept; "tempo-good" defaults
		// to both its units.
		Apps map[string][]string `json:"apps"`
		// Problems in order; Reason is a substring.
		Problems []struct {
			Subject string `json:"subject"`
			Reason  string `json:"reason"`
			Pending bool   `json:"pending"`
		} `json:"problems"`
		// Absent strings must reach neither the worker config, nor
		// nginx.conf, nor any databag, nor the status.
		Absent []string `json:"absent"`
	} `json:"want"`
}

const goodApp = "tempo-good"

func loadClusterCases(t *testing.T) map[string]clusterCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "cluster", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	cases := map[string]clusterCase{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c clusterCase
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases[strings.TrimSuffix(filepath.Base(f), ".json")] = c
	}
	return cases
}

// generatedClusterCases are the cases too large for a fixture file.
func generatedClusterCases() map[string]clusterCase {
	huge := strings.Repeat("evil", 256*1024) // 1 MiB
	label := strings.Repeat("a", 63)
	host253 := strings.Join([]string{label, label, label, strings.Repeat("b", 61)}, ".") // 4*63-2+3 = 253
	host254 := host253 + "c"
	mk := func(comment string, rel coordinator.Relation, apps map[string][]string, subject, reason string, absent ...string) clusterCase {
		var c clusterCase
		c.Comment, c.Relations, c.Want.Apps, c.Want.Absent = comment, []coordinator.Relation{rel}, apps, absent
		if subject != "" {
			c.Want.Problems = append(c.Want.Problems, struct {
				Subject string `json:"subject"`
				Reason  string `json:"reason"`
				Pending bool   `json:"pending"`
			}{subject, reason, false})
		}
		return c
	}
	withUnit := func(role, address, topo string) coordinator.Relation {
		rel := worker(2, "evil", "querier", 2)
		rel.AppData["role"] = role
		rel.Units["evil/0"] = map[string]string{"address": address, "juju_topology": topo}
		return rel
	}
	evil1 := []string{"evil/1"}
	return map[string]clusterCase{
		"huge-role": mk("1 MiB role", withUnit(js(huge), js("evil-0.example"), topology("evil", "evil/0")), nil,
			"evil", "invalid role: value of 1048578 bytes is over the limit of 1024", "evilevil", "evil-0"),
		"huge-address": mk("1 MiB address", withUnit(js("querier"), js(huge), topology("evil", "evil/0")), map[string][]string{"evil": evil1},
			"evil/0", "invalid address: value of 1048578 bytes is over the limit of 255", "evilevil"),
		"huge-topology": mk("1 MiB juju_topology", withUnit(js("querier"), js("evil-0.example"), `{"application":"evil","unit":"evil/0","x":"`+huge+`"}`),
			map[string][]string{"evil": evil1}, "evil/0", "invalid juju_topology: value of", "evilevil", "evil-0"),
		"address-254": mk("a 254-character host name", withUnit(js("querier"), js(host254), topology("evil", "evil/0")),
			map[string][]string{"evil": evil1}, "evil/0", "invalid address", host254[:100]),
		"address-253": mk("a 253-character host name is valid (control case)", withUnit(js("querier"), js(host253), topology("evil", "evil/0")),
			map[string][]string{"evil": {"evil/0", "evil/1"}}, "", ""),
	}
}

func TestAggregateClusterFixtures(t *testing.T) {
	cases := loadClusterCases(t)
	for name, c := range generatedClusterCases() {
		cases[name] = c
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		t.Run(name, func(t *testing.T) { runClusterCase(t, cases[name]) })
	}
}

func runClusterCase(t *testing.T, c clusterCase) {
	rels := append([]coordinator.Relation{}, c.Relations...)
	rels = append(rels, worker(100, goodApp, "all", 2))
	for i := range rels {
		rels[i].Endpoint = "tempo-cluster"
	}
	sort.Slice(rels, func(i, j int) bool { return rels[i].ID < rels[j].ID }) // as Juju lists them
	wantApps := map[string][]string{goodApp: {goodApp + "/0", goodApp + "/1"}}
	for app, units := range c.Want.Apps {
		wantApps[app] = units
	}

	// The cluster: valid apps with their valid units, problems named.
	cluster, problems := coordinator.AggregateCluster(tempo.Roles(), rels)
	gotApps := map[string][]string{}
	for _, app := range cluster.Apps {
		gotApps[app.Name] = []string{}
		for _, u := range app.Units {
			gotApps[app.Name] = append(gotApps[app.Name], u.Name)
		}
	}
	if fmt.Sprint(gotApps) != fmt.Sprint(wantApps) {
		t.Errorf("apps %v, want %v", gotApps, wantApps)
	}
	if len(problems) != len(c.Want.Problems) {
		t.Fatalf("problems %q, want %d", problems, len(c.Want.Problems))
	}
	var invalid []string
	for i, w := range c.Want.Problems {
		p := problems[i]
		if p.Subject != w.Subject || p.Pending != w.Pending || !strings.Contains(p.Reason, w.Reason) {
			t.Errorf("problem %d = %+v, want %+v", i, p, w)
		}
		if len(p.Reason) > 200 {
			t.Errorf("problem %d reason is %d bytes long: untrusted data is not truncated", i, len(p.Reason))
		}
		if !w.Pending {
			invalid = append(invalid, w.Subject)
		}
	}

	// Reconcile: the valid rest is published, nothing of the bad data is.
	d := coordinator.Reconcile(tempo.Product(), observed(rels, withS3(nil)))
	if !d.Consistent || d.WorkerConfig == nil || d.Nginx == nil || !d.Nginx.Run {
		t.Fatalf("the valid rest of the cluster is not published: consistent=%v config=%v nginx=%+v statuses=%v",
			d.Consistent, d.WorkerConfig != nil, d.Nginx, d.Statuses)
	}
	for _, app := range cluster.Apps {
		for _, u := range app.Units {
			if !strings.Contains(string(d.WorkerConfig), u.Address) {
				t.Errorf("valid unit %s (%s) missing from the worker config", u.Name, u.Address)
			}
			if app.Name == goodApp && !strings.Contains(string(d.Nginx.Config), u.Address) {
				t.Errorf("valid unit %s (%s) missing from nginx.conf", u.Name, u.Address)
			}
		}
	}
	var published []int
	var everything strings.Builder
	everything.Write(d.WorkerConfig)
	everything.Write(d.Nginx.Config)
	for _, w := range d.Databags {
		if w.Endpoint == "tempo-cluster" && len(w.Data) > 0 {
			published = append(published, w.RelationID)
		}
		for k, v := range w.Data {
			everything.WriteString(k + "=" + v + "\n")
		}
	}
	var wantPublished []int
	for _, app := range cluster.Apps {
		wantPublished = append(wantPublished, app.RelationID)
	}
	slices.Sort(published)
	slices.Sort(wantPublished)
	if !slices.Equal(published, wantPublished) {
		t.Errorf("worker config published to relations %v, want %v (the apps with a valid role)", published, wantPublished)
	}
	status := coordinator.Summarize(d.Statuses, "")
	everything.WriteString(status.Message)
	for _, bad := range c.Want.Absent {
		if strings.Contains(everything.String(), bad) {
			t.Errorf("%q reached the rendered output", bad)
		}
	}

	// Rejected data is named in the status and logged; pending data is not.
	slices.Sort(invalid)
	invalid = slices.Compact(invalid)
	if len(invalid) > 0 {
		want := "Ignoring invalid data from " + strings.Join(invalid, ", ") + " (see juju debug-log)"
		if status.Level != coordinator.Active || !strings.Contains(status.Message, want) {
			t.Errorf("status %+v does not contain %q", status, want)
		}
	} else if strings.Contains(status.Message, "Ignoring") {
		t.Errorf("status %+v names invalid data where there is none", status)
	}
	logs := strings.Join(d.Logs, "\n")
	for _, w := range c.Want.Problems {
		logged := strings.Contains(logs, "ignoring worker data: "+w.Subject+": ")
		if logged == w.Pending {
			t.Errorf("problem of %s logged=%v, pending=%v: %q", w.Subject, logged, w.Pending, d.Logs)
		}
	}
}

// ValidHost is what keeps untrusted addresses out of nginx.conf and YAML.
func TestValidHost(t *testing.T) {
	good := []string{"a", "tempo-worker-0.tempo-worker-endpoints.m.svc.cluster.local", "x.example.", "10.0.0.1", "fd00::1",
		"::ffff:10.0.0.1", "A-b.C", strings.Repeat("a", 63), "0.example", "1a.2b", "worker-0.x1"}
	bad := []string{"", ".", "a..b", "-a", "a-", "a_b", "a b", "a;b", "a{b", "a}b", "a\nb", `a"b`, "a'b", "a/b", "a:80", "[fd00::1]",
		"fe80::1%eth0", "é.example", strings.Repeat("a", 64), strings.Repeat("a.", 127) + "ab", "$a", "a\x00",
		// Not IP addresses, yet their last label is all digits (RFC 3696): nginx cannot resolve them.
		"999.1.1.1", "1.2.3", "10.0.0.1.", "127.1", "42", "worker.0", "0x7f.1"}
	for _, h := range good {
		if !coordinator.ValidHost(h) {
			t.Errorf("ValidHost(%q) = false", h)
		}
	}
	for _, h := range bad {
		if coordinator.ValidHost(h) {
			t.Errorf("ValidHost(%q) = true", h)
		}
	}
}

func TestClusterViews(t *testing.T) {
	c, problems := coordinator.AggregateCluster(tempo.Roles(), []coordinator.Relation{
		worker(3, "ingester", "ingester", 3), worker(1, "fe", "query-frontend,querier", 1), worker(2, "all", "all", 1),
	})
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	if got := []string{c.Apps[0].Name, c.Apps[1].Name, c.Apps[2].Name}; !slices.Equal(got, []string{"all", "fe", "ingester"}) {
		t.Errorf("apps not sorted by name: %v", got)
	}
	units := c.RoleUnits()
	if units["ingester"] != 4 || units["querier"] != 2 || units["compactor"] != 1 || units["metrics-generator"] != 1 {
		t.Errorf("RoleUnits = %v", units)
	}
	byRole := c.AddressesByRole()
	if got := byRole["query-frontend"]; !slices.Equal(got, []string{unitFQDN("all", 0), unitFQDN("fe", 0)}) {
		t.Errorf("query-frontend addresses %v", got)
	}
	if len(c.Addresses()) != 5 || !slices.IsSorted(c.Addresses()) {
		t.Errorf("Addresses = %v", c.Addresses())
	}
	names := []string{}
	for _, u := range c.Units() {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{"all/0", "fe/0", "ingester/0", "ingester/1", "ingester/2"}) {
		t.Errorf("Units = %v", names)
	}
	if c.Relations != 3 {
		t.Errorf("Relations = %d", c.Relations)
	}
}
