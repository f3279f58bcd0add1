package e2e

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	pprofile "github.com/google/pprof/profile"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/pkg/parcascrape"
)

// profileWorkers relates a Parca to profiling-endpoint (unless one is),
// expands the scrape jobs the coordinator published as the Parca charm does
// (with pkg/parcascrape's consumer) and fetches from every resulting target, with
// the job's scheme and CA, a CPU profile (1 s) and a heap profile. Each must
// parse as a pprof profile of the product's own code, and come from the
// worker its juju_unit label names: the target is that unit's address and,
// for Tempo, its /debug/pprof/cmdline names that unit's own config file. It
// returns how many targets were profiled: every worker unit whose charm runs
// the workload, or the test fails.
func (c *coordinator) profileWorkers(n *network) int {
	c.t.Helper()
	rel := c.relateParca()
	if len(rel.LocalUnitData) != 0 {
		c.t.Fatalf("the coordinator unit published %v: Parca would scrape it at its bare address", rel.LocalUnitData)
	}
	// What Parca sees: our app databag and our unit (with its empty databag).
	jobs, err := parcascrape.Jobs([]parcascrape.Provider{{RelationID: rel.ID, App: c.p.name,
		AppData: rel.LocalAppData, Units: map[string]map[string]string{c.h.Model.Unit: rel.LocalUnitData}}})
	if err != nil || len(jobs) != 1 {
		c.t.Fatalf("Parca's consumer: %d jobs, %v; published %v", len(jobs), err, rel.LocalAppData)
	}
	byName := map[string]*workerUnit{}
	for _, u := range c.units() {
		byName[u.name] = u
	}
	// Parca's scrape: the job's scheme, trusting only the CA it carries.
	job := jobs[0]
	scheme := cmp.Or(job.Scheme, "http")
	client := n.httpClient()
	client.Timeout = 20 * time.Second
	if ca, _ := job.TLSConfig["ca"].(string); ca != "" {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM([]byte(ca)) {
			c.t.Fatalf("tls_config ca holds no certificate: %q", ca)
		}
		client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots}
	} else if scheme == "https" {
		c.t.Fatalf("an https job without a CA: %+v", job)
	}
	// Code every profile of the product holds, whatever it was doing.
	own := "github.com/grafana/" + c.p.name + "/"
	// The CPU profiles take a second each: fetch them all at once.
	cpus := make([][]byte, len(job.StaticConfigs))
	cpuErrs := make([]error, len(cpus))
	var wg sync.WaitGroup
	for i, sc := range job.StaticConfigs {
		if len(sc.Targets) != 1 {
			c.t.Fatalf("static config %+v: want one target per worker unit", sc)
		}
		if u := byName[sc.Labels["juju_unit"]]; u != nil && u.held != "" {
			continue
		}
		wg.Go(func() { cpus[i], cpuErrs[i] = get(client, scheme+"://"+sc.Targets[0]+"/debug/pprof/profile?seconds=1") })
	}
	wg.Wait()
	profiled, fromCmdline, held := 0, 0, 0
	for i, sc := range job.StaticConfigs {
		unit := sc.Labels["juju_unit"]
		u := byName[unit]
		if u == nil || sc.Labels["worker_application"] != u.app.name {
			c.t.Fatalf("static config %+v names no worker unit of the cluster", sc)
		}
		target := sc.Targets[0]
		if host, _, _ := net.SplitHostPort(target); host != u.ip {
			c.t.Fatalf("%s: target %s is not the unit's address %s", unit, target, u.ip)
		}
		if u.held != "" {
			// Parca gets the target and finds it down, as in a real model:
			// the coordinator cannot see that the worker charm holds it.
			held++
			continue
		}
		base := scheme + "://" + target + "/debug/pprof/"
		// Tempo serves its command line (Pyroscope answers 404): it names
		// the unit's own config file. The address alone already is the
		// unit's: only its process listens in its network namespace.
		if cmdline, err := get(client, base+"cmdline"); err == nil && !strings.Contains(string(cmdline), filepath.Join(u.dir, "config.yaml")) {
			c.t.Fatalf("%s: %s answered for another process: %q", unit, target, cmdline)
		} else if err == nil {
			fromCmdline++
		}
		if cpuErrs[i] != nil {
			c.t.Fatalf("%s: CPU profile: %v", unit, cpuErrs[i])
		}
		cpu := parseProfile(c, unit, "cpu", cpus[i])
		if cpu.PeriodType == nil || cpu.PeriodType.Type != "cpu" {
			c.t.Fatalf("%s: the CPU profile measures %v", unit, cpu.PeriodType)
		}
		heap := parseProfile(c, unit, "heap", fetch(c, client, base+"heap"))
		if len(heap.Sample) == 0 || !hasFunction(heap, own) {
			c.t.Fatalf("%s: the heap profile (%d samples) has no function of %s", unit, len(heap.Sample), own)
		}
		profiled++
	}
	if want := len(c.units()); profiled+held != want {
		c.t.Fatalf("profiled %d targets (%d workloads held by their charm), the cluster has %d units", profiled, held, want)
	}
	if c.p.name == "tempo" && fromCmdline != profiled {
		c.t.Fatalf("only %d of %d Tempo targets served their command line", fromCmdline, profiled)
	}
	return profiled
}

// relateParca relates a Parca to profiling-endpoint (once) and returns the
// relation.
func (c *coordinator) relateParca() *jujusim.Relation {
	c.t.Helper()
	if rels := c.h.Model.RelationsOf("profiling-endpoint"); len(rels) > 0 {
		return rels[0]
	}
	rel := c.h.Model.AddRelation("profiling-endpoint", "parca", nil, map[string]map[string]string{"parca/0": {}})
	c.hook("profiling-endpoint-relation-joined", jujusim.HookOptions{Relation: rel, RemoteUnit: "parca/0"})
	return rel
}

// fetch GETs url and returns the body of a 200 answer.
func fetch(c *coordinator, client *http.Client, url string) []byte {
	c.t.Helper()
	body, err := get(client, url)
	if err != nil {
		c.t.Fatal(err)
	}
	return body
}

// get GETs url and returns the body of a 200 answer, or an error.
func get(client *http.Client, url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s %v\n%.300s", url, resp.Status, err, body)
	}
	return body, nil
}

func parseProfile(c *coordinator, unit, kind string, data []byte) *pprofile.Profile {
	c.t.Helper()
	p, err := pprofile.Parse(bytes.NewReader(data))
	if err != nil {
		c.t.Fatalf("%s: the %s profile does not parse: %v", unit, kind, err)
	}
	if err := p.CheckValid(); err != nil {
		c.t.Fatalf("%s: invalid %s profile: %v", unit, kind, err)
	}
	return p
}

// hasFunction reports whether a function of the profile starts with prefix.
func hasFunction(p *pprofile.Profile, prefix string) bool {
	for _, f := range p.Function {
		if strings.HasPrefix(f.Name, prefix) {
			return true
		}
	}
	return false
}
