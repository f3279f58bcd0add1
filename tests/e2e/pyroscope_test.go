package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// cpuProfileType is the profile type ID of CPU profiles.
const cpuProfileType = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

// nginxPyroscopeHTTP is nginx's HTTP server of the Pyroscope coordinator.
const nginxPyroscopeHTTP = "127.0.0.1:8080"

// pyroscopeEnv is one Pyroscope scenario.
type pyroscopeEnv struct {
	t     *testing.T
	n     *network
	c     *coordinator
	kind  workerKind
	http  *http.Client
	start time.Time
}

func newPyroscopeEnv(t *testing.T) *pyroscopeEnv {
	bin := requireEnv(t, "PYROSCOPE_BIN", "pyroscope")
	start := time.Now()
	n := newNetwork(t)
	s3 := newS3(t, n)
	c := newCoordinator(t, pyroscopeProduct, n, s3, nil)
	c.start()
	c.relateS3()
	client := c.sb.HTTPClient()
	client.Timeout = 15 * time.Second
	return &pyroscopeEnv{t: t, n: n, c: c, kind: pyroscopeWorker(bin), http: client, start: start}
}

// profile is a small CPU profile in the folded ("collapsed") format:
// stack frames separated by ';', then the sample count.
var profile = map[string]int{
	"main;e2e.handler;e2e.work":  300,
	"main;e2e.handler;e2e.sleep": 100,
	"main;e2e.gc":                50,
}

// profileSamples is the total of the profile's samples.
func profileSamples() int {
	n := 0
	for _, v := range profile {
		n += v
	}
	return n
}

// push sends the profile through nginx's /ingest (Pyroscope's legacy
// ingestion API, routed to the distributors), retrying (bounded) while the
// cluster refuses writes.
func (e *pyroscopeEnv) push(app string) {
	e.t.Helper()
	var body strings.Builder
	for stack, n := range profile {
		fmt.Fprintf(&body, "%s %d\n", stack, n)
	}
	now := time.Now()
	q := url.Values{}
	q.Set("name", app+".cpu{env=e2e}")
	q.Set("from", fmt.Sprint(now.Add(-10*time.Second).Unix()))
	q.Set("until", fmt.Sprint(now.Unix()))
	q.Set("format", "folded")
	q.Set("sampleRate", "100")
	q.Set("spyName", "gospy")
	target := "http://" + nginxPyroscopeHTTP + "/ingest?" + q.Encode()
	deadline := time.Now().Add(ingestTimeout)
	attempts := 0
	for {
		attempts++
		err := func() error {
			req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(body.String()))
			req.Header.Set("Content-Type", "text/plain")
			resp, err := e.http.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("POST /ingest: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
			}
			return nil
		}()
		if err == nil {
			break
		}
		if attempts == 1 || attempts%20 == 0 {
			e.t.Logf("push: %v (retrying)", err)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("push profile through nginx: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if testing.Verbose() {
		e.t.Logf("pushed profile for %s after %d attempts", app, attempts)
	}
}

// render reads the app's CPU profile back through nginx's /pyroscope route
// (the query-frontend) and returns the samples and the function names.
func (e *pyroscopeEnv) render(ctx context.Context, app string) (int, []string, error) {
	q := url.Values{}
	// Legacy ingestion of "<app>.cpu" lands as the process_cpu profile type
	// of service_name <app>.
	q.Set("query", cpuProfileType+`{service_name="`+app+`"}`)
	q.Set("from", "now-1h")
	q.Set("until", "now")
	q.Set("format", "json")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+nginxPyroscopeHTTP+"/pyroscope/render?"+q.Encode(), nil)
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusOK {
		return 0, nil, fmt.Errorf("GET /pyroscope/render: %s: %s", resp.Status, truncate(strings.TrimSpace(string(raw)), 300))
	}
	var doc struct {
		Flamebearer struct {
			NumTicks int      `json:"numTicks"`
			Names    []string `json:"names"`
		} `json:"flamebearer"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return 0, nil, fmt.Errorf("render answer: %w: %s", err, truncate(string(raw), 200))
	}
	return doc.Flamebearer.NumTicks, doc.Flamebearer.Names, nil
}

// readBack waits (bounded) until the profile is read back with every
// leaf function; it returns the ticks found (CPU profiles come back in
// nanoseconds: samples × 1e9/sampleRate) and the time to the first
// non-empty answer.
func (e *pyroscopeEnv) readBack(app string) (int, time.Duration) {
	e.t.Helper()
	start := time.Now()
	deadline := start.Add(readTimeout)
	var first time.Duration
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		ticks, names, err := e.render(ctx, app)
		cancel()
		if err == nil && ticks > 0 && first == 0 {
			first = time.Since(start)
		}
		if err == nil && ticks > 0 && hasAll(names, "e2e.work", "e2e.sleep", "e2e.gc") {
			return ticks, first
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("%d samples, names %v", ticks, names)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("profile of %s not read back within %s: %v", app, readTimeout, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// hasAll reports whether names holds every one of want.
func hasAll(names []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, n := range names {
			if n == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// TestPyroscopeMonolithic: one `all` worker ingests a profile through
// nginx and answers through nginx's query-frontend route.
func TestPyroscopeMonolithic(t *testing.T) {
	e := newPyroscopeEnv(t)
	w := e.c.addWorker(e.n, "pyroscope-worker", "all", 1)
	if e.c.publishedConfig(w) == "" {
		t.Fatalf("no %s published to %s; status %s", e.c.p.configKey, w.name, e.c.status())
	}
	syncWorkers(t, e.c, e.n, e.kind)
	e.push("e2eapp")
	found, first := e.readBack("e2eapp")
	report(t, "workers=1 profiles=1 samples sent=%d found ticks=%d (ns) first read-back=%s total=%s status=%q",
		profileSamples(), found, first.Round(time.Millisecond), time.Since(e.start).Round(time.Second), e.c.status())
}

// pyroscopeRoles are the worker applications of a distributed Pyroscope,
// one per role.
var pyroscopeRoles = []string{
	"querier", "query-frontend", "query-scheduler", "ingester", "distributor",
	"compactor", "store-gateway", "tenant-settings", "ad-hoc-profiles",
}

// TestPyroscopeDistributed: one worker application per role.
func TestPyroscopeDistributed(t *testing.T) {
	e := newPyroscopeEnv(t)
	for _, role := range pyroscopeRoles {
		e.c.addWorker(e.n, "pyroscope-"+role, role, 1)
	}
	started := syncWorkers(t, e.c, e.n, e.kind)
	e.push("e2eapp")
	found, first := e.readBack("e2eapp")
	report(t, "workers=%d profiles=1 samples sent=%d found ticks=%d (ns) first read-back=%s total=%s status=%q",
		len(started), profileSamples(), found, first.Round(time.Millisecond), time.Since(e.start).Round(time.Second), e.c.status())
}
