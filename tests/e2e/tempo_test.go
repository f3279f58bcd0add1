package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"gopkg.in/yaml.v3"
)

// Bounded waits of the Tempo scenarios (not timed assertions: each is the
// longest the test waits for a condition before failing).
const (
	// ingestTimeout bounds retries of a send while the cluster is not
	// accepting writes yet (ring not complete, nginx reloading).
	ingestTimeout = 90 * time.Second
	// readTimeout bounds the wait for traces to be readable.
	readTimeout = 90 * time.Second
	// blocklistTimeout bounds the wait for traces that only S3 holds after
	// the ingester that had them left. Queriers learn of blocks another
	// ingester flushed when they next poll the blocklist
	// (storage.trace.blocklist_poll: Tempo's default, 5m, which the
	// coordinator leaves as the reference does), through the tenant index
	// the compactor rebuilds on its own poll, a minute after its ring is
	// stable. So: 5m plus margin.
	blocklistTimeout = 7 * time.Minute
)

// spansPerTrace is the size of every trace sent.
const spansPerTrace = 5

// tempoEnv is one Tempo scenario: network, S3, coordinator and client.
type tempoEnv struct {
	t      *testing.T
	n      *network
	s3     *s3Server
	c      *coordinator
	kind   workerKind
	client *tempoClient
	start  time.Time
}

// newTempoEnv deploys the coordinator (real nginx in its sandbox) related
// to S3, with the OTLP gRPC receiver enabled (OTLP HTTP always is).
func newTempoEnv(t *testing.T) *tempoEnv {
	bin := requireEnv(t, "TEMPO_BIN", "tempo")
	start := time.Now()
	n := newNetwork(t)
	s3 := newS3(t, n)
	c := newCoordinator(t, tempoProduct, n, s3, map[string]any{"always_enable_otlp_grpc": true})
	c.start()
	c.relateS3()
	client, err := newTempoClient(c.sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.close)
	return &tempoEnv{t: t, n: n, s3: s3, c: c, kind: tempoWorker(bin), client: client, start: start}
}

// sync makes the workers run what the coordinator published.
func (e *tempoEnv) sync() []*workerUnit {
	e.t.Helper()
	return syncWorkers(e.t, e.c, e.n, e.kind)
}

// send sends one trace over OTLP/HTTP and one over OTLP/gRPC, through
// nginx, retrying each (bounded) while the cluster refuses writes.
func (e *tempoEnv) send(service string) []sentTrace {
	e.t.Helper()
	var out []sentTrace
	for _, via := range []string{"otlp-http", "otlp-grpc"} {
		tr, data := newTrace(service, spansPerTrace, via)
		start := time.Now()
		attempts, err := e.sendRetrying(via, data, 15*time.Second, func(error) bool { return false })
		if err != nil {
			e.t.Fatalf("send %s trace through nginx: %v", via, err)
		}
		if testing.Verbose() {
			e.t.Logf("sent %s trace %s after %d attempts, %s", via, tr.id, attempts, time.Since(start).Round(time.Millisecond))
		}
		out = append(out, tr)
	}
	return out
}

// sendRetrying sends data over via ("otlp-http" or "otlp-grpc") through
// nginx, each attempt bounded by perTry, retrying every 500ms while the
// cluster refuses writes, until ingestTimeout or an error final says is
// final. It returns the attempts made and the last error (nil once sent).
func (e *tempoEnv) sendRetrying(via string, data *tracepb.TracesData, perTry time.Duration, final func(error) bool) (int, error) {
	deadline := time.Now().Add(ingestTimeout)
	for attempts := 1; ; attempts++ {
		ctx, cancel := context.WithTimeout(context.Background(), perTry)
		var err error
		if via == "otlp-http" {
			err = e.client.sendHTTP(ctx, data)
		} else {
			err = e.client.sendGRPC(ctx, data)
		}
		cancel()
		if err == nil {
			return attempts, nil
		}
		if final(err) || time.Now().After(deadline) {
			return attempts, err
		}
		if attempts == 1 || attempts%20 == 0 {
			e.t.Logf("send %s: %v (retrying)", via, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// readBack waits (bounded) until every trace is readable by id through
// nginx with all its spans, and, with search, until search finds each. It
// returns the spans found and the time from the call to the first trace
// read back.
//
// Search is only asked for traces an ingester still holds: Tempo searches
// the last 15 minutes (query_backend_after, not set by the coordinator)
// in the ingesters only, so a recent trace whose ingesters are gone is
// found by id (from S3) but not by search until it is 15 minutes old.
// Search also only sees a trace once its ingester has cut it from the
// live traces (trace_idle_period 10s + the 10s flush check).
func (e *tempoEnv) readBack(traces []sentTrace, mode string, search bool) (found int, first time.Duration) {
	e.t.Helper()
	return e.readBackWithin(readTimeout, traces, mode, search)
}

// readBackWithin is readBack with another bound on the wait.
func (e *tempoEnv) readBackWithin(timeout time.Duration, traces []sentTrace, mode string, search bool) (found int, first time.Duration) {
	e.t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	got := map[string]int{}
	var last error
	for {
		for _, tr := range traces {
			if got[tr.id] == tr.spans {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			n, err := e.client.traceSpans(ctx, tr.id, mode)
			cancel()
			if err != nil {
				last = fmt.Errorf("trace %s (%s): %w", tr.id, tr.via, err)
				continue
			}
			if n > 0 && first == 0 {
				first = time.Since(start)
			}
			got[tr.id] = n
		}
		done := true
		for _, tr := range traces {
			if got[tr.id] != tr.spans {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("traces not read back within %s: got %v; last error: %v", timeout, got, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, n := range got {
		found += n
	}
	if !search {
		return found, first
	}
	// Search (tags on the service name) goes through the query-frontend's
	// sharding over ingesters and backend blocks.
	services := map[string][]sentTrace{}
	for _, tr := range traces {
		services[tr.service] = append(services[tr.service], tr)
	}
	for svc, trs := range services {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			ids, err := e.client.search(ctx, svc)
			cancel()
			missing := 0
			for _, tr := range trs {
				if !ids[normaliseTraceID(tr.id)] {
					missing++
				}
			}
			if err == nil && missing == 0 {
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("search service.name=%s: %d of %d traces missing (err %v)", svc, missing, len(trs), err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return found, first
}

// joinMembers is memberlist.join_members of a published Tempo config.
func joinMembers(t testing.TB, config string) []string {
	t.Helper()
	var cfg struct {
		Memberlist struct {
			JoinMembers []string `yaml:"join_members"`
		} `yaml:"memberlist"`
	}
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatalf("published config is not YAML: %v", err)
	}
	return cfg.Memberlist.JoinMembers
}

// spans sums the spans of the traces.
func spans(traces []sentTrace) int {
	n := 0
	for _, tr := range traces {
		n += tr.spans
	}
	return n
}

// TestTempoMonolithic: one worker with role all (Tempo
// scalable-single-binary) ingests OTLP/HTTP and OTLP/gRPC through nginx and
// answers trace-by-id and search through nginx.
//
// The workers' own telemetry takes the worker telemetry proxy (port 3300):
// Prometheus scrapes the worker through it, the metrics-generator's
// remote-write reaches a receiver through it, and a trace the worker sends
// to its charm_tracing_receivers URL (self-charm-tracing related to a
// Tempo that is this one) goes through it and is read back; a trace sent
// to its workload_tracing_receivers URL (unrelated: this Tempo's own
// receiver) is read back too.
func TestTempoMonolithic(t *testing.T) {
	e := newTempoEnv(t)
	rw := newRemoteWriteReceiver(t, e.n)
	rw.relate(e.c)
	e.c.relateSelfCharmTracing()
	w := e.c.addWorker(e.n, "tempo-worker", "all", 1)
	if e.c.publishedConfig(w) == "" {
		t.Fatalf("no %s published to %s; status %s", e.c.p.configKey, w.name, e.c.status())
	}
	units := e.sync()
	traces := e.send("e2e-monolithic")
	found, first := e.readBack(traces, "", true)
	scraped := e.c.scrapeWorkers(e.n, nil)

	charm, charmURL := e.sendAsWorker(units[0], "charm_tracing_receivers")
	workload, workloadURL := e.sendAsWorker(units[0], "workload_tracing_receivers")
	if !strings.Contains(charmURL, ":3300/proxy/charm-tracing/otlp_http/") {
		t.Errorf("charm traces do not take the proxy: %s", charmURL)
	}
	own, _ := e.readBack([]sentTrace{charm, workload}, "", false)
	written, wait := rw.wait(t, 2*time.Minute)
	profiled := e.c.profileWorkers(e.n)
	names := e.c.checkMetricNames(e.kind.bin)
	report(t, "workers=1 traces=%d spans sent=%d found=%d first read-back=%s scraped=%d (through the proxy) profiled=%d "+
		"worker traces read back=%d spans (%s, %s) remote-write through the proxy: %s after %s more metric names checked=%d total=%s status=%q",
		len(traces), spans(traces), found, first.Round(time.Millisecond), scraped, profiled, own, charmURL, workloadURL,
		written, wait.Round(time.Millisecond), names, time.Since(e.start).Round(time.Second), e.c.status())
}

// tempoDistributed are the worker applications of a distributed Tempo:
// one per role, three ingesters.
var tempoDistributed = []struct {
	app, role string
	units     int
}{
	{"tempo-distributor", "distributor", 1},
	{"tempo-ingester", "ingester", 3},
	{"tempo-querier", "querier", 1},
	{"tempo-query-frontend", "query-frontend", 1},
	{"tempo-compactor", "compactor", 1},
	{"tempo-metrics-generator", "metrics-generator", 1},
}

// addDistributed relates the distributed worker applications.
func (e *tempoEnv) addDistributed() {
	e.t.Helper()
	for _, d := range tempoDistributed {
		e.c.addWorker(e.n, d.app, d.role, d.units)
	}
}

// TestTempoDistributed: one worker application per role (three ingesters,
// so replication factor 3) ingests and answers through nginx; Prometheus
// scrapes every worker unit through the telemetry proxy, and the
// metrics-generator's remote-write reaches Prometheus through it.
func TestTempoDistributed(t *testing.T) {
	e := newTempoEnv(t)
	rw := newRemoteWriteReceiver(t, e.n)
	rw.relate(e.c)
	e.addDistributed()
	cfg := e.c.publishedConfig(e.c.workers["tempo-querier"])
	if !strings.Contains(cfg, "replication_factor: 3") {
		t.Errorf("three ingesters but no replication_factor 3 in the published config:\n%s", cfg)
	}
	started := e.sync()
	for _, u := range e.c.units() {
		if u.held != "" {
			t.Logf("%s not started by its worker charm: %s", u.name, u.held)
		}
	}
	traces := e.send("e2e-distributed")
	found, first := e.readBack(traces, "", true)
	scraped := e.c.scrapeWorkers(e.n, nil)
	written, wait := rw.wait(t, 2*time.Minute)
	profiled := e.c.profileWorkers(e.n)
	report(t, "workers running=%d traces=%d spans sent=%d found=%d first read-back=%s scraped=%d (through the proxy) profiled=%d "+
		"remote-write through the proxy: %s after %s more total=%s status=%q",
		len(started), len(traces), spans(traces), found, first.Round(time.Millisecond), scraped, profiled,
		written, wait.Round(time.Millisecond), time.Since(e.start).Round(time.Second), e.c.status())
}

// indexTimeout bounds the wait for the compactor to write a tenant index
// (it waits a minute for its ring to be stable after each start).
const indexTimeout = 3 * time.Minute

// drainTimeout bounds the wait for an ingester to flush everything to S3.
const drainTimeout = 90 * time.Second

// drain makes a worker that is about to be removed flush its ingester to
// the backend and leave the ring, with Tempo's own scale-down endpoint
// (POST /shutdown: flush all in-memory traces and the WAL to the backend,
// leave the ring, stop the ingester). The Tempo worker charm does not do
// this when a unit is removed: without it, whatever the unit's ingester
// has not flushed yet is lost with the pod.
func (e *tempoEnv) drain(u *workerUnit) {
	e.t.Helper()
	client := e.n.httpClient()
	resp, err := client.Post(fmt.Sprintf("http://%s:3200/shutdown", u.ip), "text/plain", nil)
	if err != nil {
		e.t.Fatalf("drain %s: %v", u.name, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(drainTimeout)
	for !strings.Contains(u.proc.logTail(1<<20), "shutdown handler complete") {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s did not flush within %s", u.name, drainTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTempoTransition: a monolithic cluster becomes a distributed one
// without losing traces: monolithic → add a temporary `all` worker →
// relate the distributed workers and remove the monolithic one → remove
// the temporary one. Traces written at the start are read back at the
// end, when no worker that ingested them is left: they come from S3.
func TestTempoTransition(t *testing.T) {
	e := newTempoEnv(t)
	mono := e.c.addWorker(e.n, "tempo-worker", "all", 1)
	e.sync()
	before := e.send("e2e-transition-before")
	_, first := e.readBack(before, "", true)

	temp := e.c.addWorker(e.n, "tempo-temporary", "all", 1)
	restarted := len(e.sync())
	e.readBack(before, "", false)

	e.addDistributed()
	restarted += len(e.sync())
	// The mixed phase: queriers of three applications, query-frontends of
	// three. Every querier is pointed at ONE query-frontend application
	// (the reference rule), so nginx routes queries to that application's
	// query-frontends only: a query-frontend without a querier would hold
	// them until they time out.
	during := e.send("e2e-transition-during")
	e.readBack(append(slices.Clone(before), during...), "", true)

	// Before the `all` workers go, their ingesters flush everything to
	// S3 (see drain), and the test waits until the compactor has rebuilt
	// the tenant index after that: queriers (re)started later read the
	// blocklist from that index, and only poll again after
	// blocklist_poll (5m, not set by the coordinator). Without the wait a
	// querier may start with a stale index and not find the flushed
	// blocks for minutes. The compactor writes the index once its ring
	// has been stable for a minute after its (re)start.
	drainStart := time.Now()
	var removedIPs []string
	for _, u := range e.c.units() {
		if u.app == mono || u.app == temp {
			e.drain(u)
			removedIPs = append(removedIPs, u.ip)
		}
	}
	drained := time.Now()
	if last := e.s3.lastWrite("meta.json"); last.Before(drained) && last.After(drainStart) {
		drained = last
	}
	indexDeadline := time.Now().Add(indexTimeout)
	for !e.s3.writtenSince("index.json.gz", drained) {
		if time.Now().After(indexDeadline) {
			t.Fatalf("no tenant index written within %s of the drain", indexTimeout)
		}
		time.Sleep(time.Second)
	}
	indexWait := time.Since(drainStart)
	for _, w := range []*workerApp{mono, temp} {
		for _, u := range w.units {
			stopUnit(u)
		}
		e.c.removeWorker(w)
		restarted += len(e.sync())
	}
	for _, m := range joinMembers(t, e.c.publishedConfig(e.c.workers["tempo-querier"])) {
		for _, ip := range removedIPs {
			if strings.HasPrefix(m, ip+":") {
				t.Errorf("removed worker %s still in join_members", ip)
			}
		}
	}
	after := e.send("e2e-transition-after")
	all := append(append(slices.Clone(before), during...), after...)
	found, _ := e.readBack(all, "", false)
	e.readBack(append(slices.Clone(during), after...), "", true)
	// The first traces can only come from the backend now; say so
	// explicitly with Tempo's blocks-only query mode.
	foundBlocks, _ := e.readBack(before, "blocks", false)
	report(t, "phases=4 restarts=%d traces=%d spans sent=%d found=%d (first traces from S3 blocks: %d/%d spans) first read-back=%s s3 blocks=%d index wait=%s total=%s",
		restarted, len(all), spans(all), found, foundBlocks, spans(before), first.Round(time.Millisecond),
		len(e.s3.written("meta.json")), indexWait.Round(time.Second), time.Since(e.start).Round(time.Second))
}

// TestTempoWorkerLeaves: one of two `all` units departs; the coordinator
// drops it from join_members, and the remaining cluster still ingests and
// answers.
func TestTempoWorkerLeaves(t *testing.T) {
	e := newTempoEnv(t)
	w := e.c.addWorker(e.n, "tempo-worker", "all", 2)
	e.sync()
	if got := joinMembers(t, e.c.publishedConfig(w)); len(got) != 2 {
		t.Fatalf("join_members with two units = %v", got)
	}
	before := e.send("e2e-leave-before")
	e.readBack(before, "", true)

	leaving := w.units["tempo-worker/1"]
	e.drain(leaving)
	stopUnit(leaving)
	e.c.removeUnit(leaving)
	members := joinMembers(t, e.c.publishedConfig(w))
	if len(members) != 1 || !strings.HasPrefix(members[0], w.units["tempo-worker/0"].ip+":") {
		t.Fatalf("join_members after %s departed = %v", leaving.name, members)
	}
	e.sync()
	after := e.send("e2e-leave-after")
	found, first := e.readBack(after, "", true)
	// The traces written before the departure are read back too: those
	// the departed unit's ingester held were flushed to S3 by its drain,
	// and become visible to the remaining querier at its next blocklist
	// poll (see blocklistTimeout); the rest are still in the remaining
	// ingester.
	waitStart := time.Now()
	foundBefore, _ := e.readBackWithin(blocklistTimeout, before, "", true)
	report(t, "workers=2→1 join_members=%v traces=%d spans sent=%d found=%d (after the departure: %d/%d, first read-back=%s; before it: %d/%d, all readable after %s) total=%s",
		members, len(before)+len(after), spans(before)+spans(after), foundBefore+found,
		found, spans(after), first.Round(time.Millisecond), foundBefore, spans(before),
		time.Since(waitStart).Round(time.Second), time.Since(e.start).Round(time.Second))
}
