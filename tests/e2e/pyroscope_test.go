package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	profilespb "go.opentelemetry.io/proto/otlp/profiles/v1development"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/emptypb"
)

// cpuProfileType is the profile type ID of CPU profiles.
const cpuProfileType = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

// nginxPyroscopeHTTP is nginx's HTTP server of the Pyroscope coordinator.
const nginxPyroscopeHTTP = "127.0.0.1:8080"

// nginxPyroscopeOTLPGRPC is nginx's gRPC server of the Pyroscope
// coordinator (OTLP profiles, routed to the distributors).
const nginxPyroscopeOTLPGRPC = "127.0.0.1:42424"

// otlpProfilesExportMethod is the OTLP profiles export gRPC method.
const otlpProfilesExportMethod = "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"

// cpuPeriod is the sampling period of both pushes, in nanoseconds: 100 Hz,
// the legacy push's sampleRate. Pyroscope stores CPU samples as
// samples × cpuPeriod nanoseconds.
const cpuPeriod = int64(10 * time.Millisecond)

// pyroscopeEnv is one Pyroscope scenario.
type pyroscopeEnv struct {
	t    *testing.T
	n    *network
	c    *coordinator
	kind workerKind
	http *http.Client
	grpc *grpc.ClientConn
	// base is the HTTP base URL of Pyroscope's UI and APIs (nginx's
	// :8080 by default), without a trailing slash.
	base  string
	start time.Time
}

// newPyroscopeEnv starts the network, S3 and the coordinator related to
// S3, with HTTP and gRPC clients that reach its nginx from inside its
// sandbox network namespace.
func newPyroscopeEnv(t *testing.T) *pyroscopeEnv {
	bin := requireEnv(t, "PYROSCOPE_BIN", "pyroscope")
	start := time.Now()
	n := newNetwork(t)
	s3 := newS3(t, n)
	c := newCoordinator(t, pyroscopeProduct, n, s3, nil)
	c.start()
	c.relateS3()
	e := &pyroscopeEnv{t: t, n: n, c: c, kind: pyroscopeWorker(bin), start: start}
	e.useTLS(nil)
	t.Cleanup(func() { e.grpc.Close() })
	return e
}

// useTLS makes the clients talk TLS with cfg (HTTPS, gRPC over TLS), or
// plain HTTP and gRPC with nil.
func (e *pyroscopeEnv) useTLS(cfg *tls.Config) {
	e.t.Helper()
	creds := insecure.NewCredentials()
	if cfg != nil {
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient("passthrough:///"+nginxPyroscopeOTLPGRPC,
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(e.c.sb.ContextDialer()))
	if err != nil {
		e.t.Fatalf("cannot create the OTLP gRPC client: %v", err)
	}
	if e.grpc != nil {
		e.grpc.Close()
	}
	tr := e.c.sb.HTTPTransport()
	tr.TLSClientConfig = cfg
	scheme := "http"
	if cfg != nil {
		scheme = "https"
	}
	e.grpc, e.http, e.base = conn, &http.Client{Transport: tr, Timeout: 15 * time.Second}, scheme+"://"+nginxPyroscopeHTTP
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

// profileTicks is the total Pyroscope reads back for one push of the
// profile: CPU profiles come back in nanoseconds.
func profileTicks() int {
	return profileSamples() * int(cpuPeriod)
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
	q.Set("sampleRate", fmt.Sprint(int64(time.Second)/cpuPeriod))
	q.Set("spyName", "gospy")
	target := e.base + "/ingest?" + q.Encode()
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

// newOTLPProfile builds the profile as an OTLP CPU profile of the
// service: one sample per stack, valued in samples, with a cpu/nanoseconds
// period of cpuPeriod (which Pyroscope stores as process_cpu, each value
// multiplied by the period). The request is a ProfilesData: its wire format
// is identical to ExportProfilesServiceRequest's (field 1, repeated
// ResourceProfiles; field 2, the dictionary), which avoids the collector
// package and its grpc-gateway dependency.
func newOTLPProfile(service string) *profilespb.ProfilesData {
	// Every dictionary table starts with its zero value, which index 0
	// refers to.
	d := &profilespb.ProfilesDictionary{
		MappingTable:   []*profilespb.Mapping{{}},
		LocationTable:  []*profilespb.Location{{}},
		FunctionTable:  []*profilespb.Function{{}},
		LinkTable:      []*profilespb.Link{{}},
		StringTable:    []string{""},
		AttributeTable: []*profilespb.KeyValueAndUnit{{}},
		StackTable:     []*profilespb.Stack{{}},
	}
	strs := map[string]int32{"": 0}
	str := func(s string) int32 {
		i, ok := strs[s]
		if !ok {
			i = int32(len(d.StringTable))
			d.StringTable = append(d.StringTable, s)
			strs[s] = i
		}
		return i
	}
	// One function, and one location of one line calling it, per frame
	// name.
	locs := map[string]int32{}
	loc := func(name string) int32 {
		i, ok := locs[name]
		if !ok {
			d.FunctionTable = append(d.FunctionTable, &profilespb.Function{
				NameStrindex: str(name), SystemNameStrindex: str(name), FilenameStrindex: str("e2e.go"),
			})
			d.LocationTable = append(d.LocationTable, &profilespb.Location{Lines: []*profilespb.Line{{
				FunctionIndex: int32(len(d.FunctionTable) - 1), Line: int64(len(d.FunctionTable)),
			}}})
			i = int32(len(d.LocationTable) - 1)
			locs[name] = i
		}
		return i
	}
	var samples []*profilespb.Sample
	for _, stack := range slices.Sorted(maps.Keys(profile)) {
		frames := strings.Split(stack, ";")
		st := &profilespb.Stack{}
		for i := len(frames) - 1; i >= 0; i-- { // the leaf first
			st.LocationIndices = append(st.LocationIndices, loc(frames[i]))
		}
		d.StackTable = append(d.StackTable, st)
		samples = append(samples, &profilespb.Sample{
			StackIndex: int32(len(d.StackTable) - 1),
			Values:     []int64{int64(profile[stack])},
		})
	}
	now := time.Now()
	p := &profilespb.Profile{
		SampleType:   &profilespb.ValueType{TypeStrindex: str("samples"), UnitStrindex: str("count")},
		PeriodType:   &profilespb.ValueType{TypeStrindex: str("cpu"), UnitStrindex: str("nanoseconds")},
		Period:       cpuPeriod,
		TimeUnixNano: uint64(now.Add(-10 * time.Second).UnixNano()),
		DurationNano: uint64(10 * time.Second),
		Samples:      samples,
	}
	return &profilespb.ProfilesData{
		ResourceProfiles: []*profilespb.ResourceProfiles{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
				Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: service}}}}},
			ScopeProfiles: []*profilespb.ScopeProfiles{{Profiles: []*profilespb.Profile{p}}},
		}},
		Dictionary: d,
	}
}

// exportOTLP exports the profiles over OTLP/gRPC through nginx's :42424.
// The answer, an ExportProfilesServiceResponse, is read as an Empty: a
// partial success (field 1) is kept as unknown fields and is an error.
func (e *pyroscopeEnv) exportOTLP(ctx context.Context, data *profilespb.ProfilesData) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var resp emptypb.Empty
	if err := e.grpc.Invoke(ctx, otlpProfilesExportMethod, data, &resp); err != nil {
		return err
	}
	return partialSuccess(resp.ProtoReflect().GetUnknown())
}

// partialSuccess decodes the partial_success field of an encoded
// ExportProfilesServiceResponse; a partial success with rejected profiles
// or an error message is an error.
func partialSuccess(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("cannot decode the export answer: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("cannot decode the export answer: %w", protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		msg, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return fmt.Errorf("cannot decode the export answer: %w", protowire.ParseError(n))
		}
		b = b[n:]
		var rejected uint64
		var reason string
		for len(msg) > 0 {
			fnum, ftyp, m := protowire.ConsumeTag(msg)
			if m < 0 {
				return fmt.Errorf("cannot decode the partial success: %w", protowire.ParseError(m))
			}
			msg = msg[m:]
			switch {
			case fnum == 1 && ftyp == protowire.VarintType:
				rejected, m = protowire.ConsumeVarint(msg)
			case fnum == 2 && ftyp == protowire.BytesType:
				var v []byte
				v, m = protowire.ConsumeBytes(msg)
				reason = string(v)
			default:
				m = protowire.ConsumeFieldValue(fnum, ftyp, msg)
			}
			if m < 0 {
				return fmt.Errorf("cannot decode the partial success: %w", protowire.ParseError(m))
			}
			msg = msg[m:]
		}
		if rejected != 0 || reason != "" {
			return fmt.Errorf("partial success: %d profiles rejected: %s", int64(rejected), reason)
		}
	}
	return nil
}

// pushOTLP exports the profile for the app over OTLP/gRPC through nginx's
// :42424, retrying (bounded) while the cluster refuses writes.
func (e *pyroscopeEnv) pushOTLP(app string) {
	e.t.Helper()
	data := newOTLPProfile(app)
	deadline := time.Now().Add(ingestTimeout)
	attempts := 0
	for {
		attempts++
		err := e.exportOTLP(context.Background(), data)
		if err == nil {
			break
		}
		if attempts == 1 || attempts%20 == 0 {
			e.t.Logf("push OTLP: %v (retrying)", err)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("push OTLP profile through nginx: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if testing.Verbose() {
		e.t.Logf("pushed OTLP profile for %s after %d attempts", app, attempts)
	}
}

// render reads the app's CPU profile back through nginx's /pyroscope route
// (the query-frontend) and returns the samples and the function names.
func (e *pyroscopeEnv) render(ctx context.Context, app string) (int, []string, error) {
	q := url.Values{}
	// Legacy ingestion of "<app>.cpu", and an OTLP samples/count profile
	// with a cpu/nanoseconds period, both land as the process_cpu profile
	// type of service_name <app>.
	q.Set("query", cpuProfileType+`{service_name="`+app+`"}`)
	q.Set("from", "now-1h")
	q.Set("until", "now")
	q.Set("format", "json")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/pyroscope/render?"+q.Encode(), nil)
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
// leaf function and the expected total of ticks (CPU profiles come back in
// nanoseconds: samples × cpuPeriod, see profileTicks); it returns the
// ticks found and the time to the first non-empty answer.
func (e *pyroscopeEnv) readBack(app string) (int, time.Duration) {
	e.t.Helper()
	want := profileTicks()
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
		if err == nil && ticks == want && hasAll(names, "e2e.work", "e2e.sleep", "e2e.gc") {
			return ticks, first
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("%d ticks (want %d), names %v", ticks, want, names)
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
// nginx's /ingest and another over OTLP/gRPC through nginx's :42424, then
// a pprof profile just under 4 MiB through /ingest, and answers for all
// three through nginx's query-frontend route.
func TestPyroscopeMonolithic(t *testing.T) {
	e := newPyroscopeEnv(t)
	w := e.c.addWorker(e.n, "pyroscope-worker", "all", 1)
	if e.c.publishedConfig(w) == "" {
		t.Fatalf("no %s published to %s; status %s", e.c.p.configKey, w.name, e.c.status())
	}
	syncWorkers(t, e.c, e.n, e.kind)
	e.push("e2eapp")
	found, first := e.readBack("e2eapp")
	e.pushOTLP("e2eapp-otlp")
	foundOTLP, firstOTLP := e.readBack("e2eapp-otlp")
	// A profile just under Pyroscope's 4 MiB limit, far over nginx's
	// 1 MiB default, goes through nginx's /ingest too.
	large, ticks, function := newLargeProfile(largeProfile)
	e.pushLarge("e2elarge", large)
	firstLarge := e.readBackLarge("e2elarge", ticks, function)
	// An `all` worker profiles itself with Go's one CPU profiler: relating
	// Parca turns that off (the worker restarts), so Parca's CPU scrape
	// does not get "cpu profiling already in use".
	e.c.relateParca()
	if cfg := e.c.publishedConfig(w); !strings.Contains(cfg, "disable_push: true") {
		t.Fatalf("Parca related, but the workers still push profiles of themselves:\n%s", cfg)
	}
	syncWorkers(t, e.c, e.n, e.kind)
	profiled := e.c.profileWorkers(e.n)
	report(t, "workers=1 profiles=3 ingest: samples sent=%d found ticks=%d (ns) first read-back=%s; otlp-grpc:42424: samples sent=%d found ticks=%d (ns) first read-back=%s; "+
		"ingest of a %d-byte pprof: read back after %s; profiled=%d total=%s status=%q",
		profileSamples(), found, first.Round(time.Millisecond), profileSamples(), foundOTLP, firstOTLP.Round(time.Millisecond),
		len(large), firstLarge.Round(time.Millisecond), profiled, time.Since(e.start).Round(time.Second), e.c.status())
}

// pyroscopeRoles are the worker applications of a distributed Pyroscope,
// one per role.
var pyroscopeRoles = []string{
	"querier", "query-frontend", "query-scheduler", "ingester", "distributor",
	"compactor", "store-gateway", "tenant-settings", "ad-hoc-profiles",
}

// TestPyroscopeDistributed: one worker application per role; the same
// two pushes and read-backs as TestPyroscopeMonolithic.
func TestPyroscopeDistributed(t *testing.T) {
	e := newPyroscopeEnv(t)
	for _, role := range pyroscopeRoles {
		e.c.addWorker(e.n, "pyroscope-"+role, role, 1)
	}
	started := syncWorkers(t, e.c, e.n, e.kind)
	e.push("e2eapp")
	found, first := e.readBack("e2eapp")
	e.pushOTLP("e2eapp-otlp")
	foundOTLP, firstOTLP := e.readBack("e2eapp-otlp")
	scraped := e.c.scrapeWorkers(e.n, nil)
	names := e.c.checkMetricNames(e.kind.bin)
	profiled := e.c.profileWorkers(e.n)
	report(t, "workers=%d profiles=2 ingest: samples sent=%d found ticks=%d (ns) first read-back=%s; otlp-grpc:42424: samples sent=%d found ticks=%d (ns) first read-back=%s; scraped=%d metric names checked=%d profiled=%d total=%s status=%q",
		len(started), profileSamples(), found, first.Round(time.Millisecond), profileSamples(), foundOTLP, firstOTLP.Round(time.Millisecond), scraped, names, profiled,
		time.Since(e.start).Round(time.Second), e.c.status())
}
