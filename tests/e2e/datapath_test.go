package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	pprofile "github.com/google/pprof/profile"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// The large requests of the data path (issue 15): what collectors and
// profilers send in one request, which nginx must let through to the
// workers.
const (
	// largeHTTPBatch is an OTLP/HTTP batch well under Tempo's 20 MiB
	// receiver limit and far over nginx's 1 MiB default.
	largeHTTPBatch = 8 << 20
	// largeGRPCBatch is an OTLP/gRPC message just under the distributor's
	// gRPC receiver limit (4 MiB).
	largeGRPCBatch = tempo.ReceiverGRPCMaxBodyBytes - 16<<10
	// largeProfile is an /ingest pprof body just under Pyroscope's
	// validation limit (validation.max-profile-size-bytes, 4 MiB of
	// uncompressed profile).
	largeProfile = 4<<20 - 64<<10
)

// Shape of the spans of a large batch: attribute values stay under the
// distributor's max_attribute_bytes (2 KB, truncated beyond), traces under
// the ingester's max_bytes_per_trace (5 MB, refused beyond).
const (
	largeAttrBytes     = 1000
	largeAttrsPerSpan  = 4
	largeSpansPerTrace = 200
)

// newLargeBatch builds one OTLP request of whole traces for the service,
// of at least size bytes (atMost false) or of at most size bytes and as
// close to it as a span allows (atMost true).
func newLargeBatch(service, via string, size int, atMost bool) ([]sentTrace, *tracepb.TracesData) {
	rs := &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
		Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: service}}}}}}
	data := &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{rs}}
	scope := &tracepb.ScopeSpans{}
	rs.ScopeSpans = []*tracepb.ScopeSpans{scope}
	now := time.Now()
	var traces []sentTrace
	var traceID, rootID []byte
	span := func(i int) *tracepb.Span {
		id := make([]byte, 8)
		rand.Read(id)
		s := &tracepb.Span{
			TraceId: traceID, SpanId: id, Name: fmt.Sprintf("e2e-large-%d", i),
			Kind:              tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(time.Millisecond).UnixNano()),
		}
		for a := 0; a < largeAttrsPerSpan; a++ {
			v := make([]byte, largeAttrBytes/2)
			rand.Read(v)
			s.Attributes = append(s.Attributes, &commonpb.KeyValue{Key: fmt.Sprintf("e2e.payload.%d", a),
				Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: hex.EncodeToString(v)}}})
		}
		if rootID == nil {
			rootID = id
		} else {
			s.ParentSpanId = rootID
		}
		return s
	}
	spanSize := 0
	for total := 0; total < size; {
		if len(traces) == 0 || traces[len(traces)-1].spans == largeSpansPerTrace {
			traceID = make([]byte, 16)
			rand.Read(traceID)
			rootID = nil
			traces = append(traces, sentTrace{id: hex.EncodeToString(traceID), service: service, via: via})
		}
		s := span(traces[len(traces)-1].spans)
		scope.Spans = append(scope.Spans, s)
		traces[len(traces)-1].spans++
		spanSize = proto.Size(s) + 4 // with its tag and length
		total += spanSize
	}
	// Trim leaf spans (never a root) until the request fits.
	for atMost && proto.Size(data) > size {
		last := &traces[len(traces)-1]
		if last.spans == 1 {
			traces = traces[:len(traces)-1]
		} else {
			last.spans--
		}
		scope.Spans = scope.Spans[:len(scope.Spans)-1]
	}
	return traces, data
}

// sendLarge sends one large batch over via ("otlp-http" or "otlp-grpc"),
// retrying (bounded) while the cluster refuses writes, and returns the
// request's size.
func (e *tempoEnv) sendLarge(via string, data *tracepb.TracesData) int {
	e.t.Helper()
	refused := func(err error) bool {
		return strings.Contains(err.Error(), "413") || strings.Contains(err.Error(), "ResourceExhausted")
	}
	if _, err := e.sendRetrying(via, data, 60*time.Second, refused); err != nil {
		e.t.Fatalf("large %s batch of %d bytes through nginx: %v", via, proto.Size(data), err)
	}
	return proto.Size(data)
}

// TestTempoLargeBatches: an 8 MiB OTLP/HTTP batch and an OTLP/gRPC batch
// just under the distributor's 4 MiB gRPC limit go through the
// coordinator's nginx (whose default would refuse anything over 1 MiB)
// to a real Tempo, and every trace of both is read back through nginx.
func TestTempoLargeBatches(t *testing.T) {
	e := newTempoEnv(t)
	e.c.addWorker(e.n, "tempo-worker", "all", 1)
	e.sync()
	httpTraces, httpData := newLargeBatch("e2e-large-http", "otlp-http", largeHTTPBatch, false)
	grpcTraces, grpcData := newLargeBatch("e2e-large-grpc", "otlp-grpc", largeGRPCBatch, true)
	httpSize := e.sendLarge("otlp-http", httpData)
	grpcSize := e.sendLarge("otlp-grpc", grpcData)
	if httpSize < largeHTTPBatch || grpcSize > tempo.ReceiverGRPCMaxBodyBytes || grpcSize < largeGRPCBatch-16<<10 {
		t.Fatalf("batch sizes %d (http) and %d (grpc) are not the ones this test is about", httpSize, grpcSize)
	}
	all := append(httpTraces, grpcTraces...)
	found, first := e.readBack(all, "", false)
	report(t, "otlp-http batch=%d bytes (%d traces) otlp-grpc batch=%d bytes (%d traces) spans sent=%d found=%d first read-back=%s total=%s",
		httpSize, len(httpTraces), grpcSize, len(grpcTraces), spans(all), found, first.Round(time.Millisecond), time.Since(e.start).Round(time.Second))
}

// blockSpans is how many spans TestTempoBlocks sends, in blockRounds
// rounds blockRoundGap apart: a steady trickle that spans several of the
// ingester's flush checks (every 10s), each of which cuts the head block
// once it is over max_block_bytes.
const (
	blockSpans    = 1000
	blockRounds   = 4
	blockRoundGap = 12 * time.Second
)

// TestTempoBlocks measures what 1000 spans leave in S3 with the
// ingester settings the coordinator publishes: blocks (one meta.json
// each) and objects. The ingester is then drained (Tempo's /shutdown
// flushes every trace it holds). With Tempo's own max_block_bytes (500
// MiB) the trickle stays in one head block until the drain: one block.
// The reference's max_block_bytes: 100 cut a block at every flush check
// that found a trace, several here, and about 8640 a day per ingester
// under steady load.
func TestTempoBlocks(t *testing.T) {
	e := newTempoEnv(t)
	w := e.c.addWorker(e.n, "tempo-worker", "all", 1)
	units := e.sync()
	var sent []sentTrace
	for round := 0; round < blockRounds; round++ {
		if round > 0 {
			time.Sleep(blockRoundGap)
		}
		// send sends one OTLP/HTTP and one OTLP/gRPC trace.
		for n := 0; n < blockSpans/blockRounds/(2*spansPerTrace); n++ {
			sent = append(sent, e.send(fmt.Sprintf("e2e-blocks-%d", round))...)
		}
	}
	found, _ := e.readBack(sent, "", false)
	e.drain(units[0])
	blocks := e.s3.written("meta.json")
	objects := 0
	for _, k := range e.s3.written("/") {
		if strings.Count(k, "/") == 3 { // bucket/tenant/block/object
			objects++
		}
	}
	t.Logf("published ingester settings: %s", ingesterLine(e.c.publishedConfig(w)))
	report(t, "spans sent=%d (over %d rounds %s apart) read back=%d blocks=%d objects=%d",
		spans(sent), blockRounds, blockRoundGap, found, len(blocks), objects)
	if len(blocks) > 1 {
		t.Errorf("%d spans trickled over %s left %d blocks in S3, want 1 (a block cut at every flush check): %v",
			spans(sent), time.Duration(blockRounds-1)*blockRoundGap, len(blocks), blocks)
	}
	if len(blocks) == 0 {
		t.Errorf("the drain left no block in S3")
	}
}

// ingesterLine is the ingester block of a published Tempo config, on one
// line.
func ingesterLine(cfg string) string {
	var out []string
	in := false
	for _, l := range strings.Split(cfg, "\n") {
		switch {
		case l == "ingester:":
			in = true
		case in && strings.HasPrefix(l, " "):
			if !strings.Contains(l, "ring") && !strings.Contains(l, "kvstore") && !strings.Contains(l, "store:") && !strings.Contains(l, "replication") && !strings.Contains(l, "lifecycler") {
				out = append(out, strings.TrimSpace(l))
			}
		default:
			in = false
		}
	}
	return strings.Join(out, " ")
}

// newLargeProfile builds a Go-shaped CPU profile (samples/count and
// cpu/nanoseconds, period cpuPeriod) whose uncompressed encoding is at
// most size bytes and within 64 KiB (four functions) of it. Its bulk is in the
// functions' file names, which the flame graph does not carry: the read
// back stays small. It returns the profile's encoding, the total of its
// cpu values in ticks as Pyroscope answers them, and one function name.
func newLargeProfile(size int) ([]byte, int, string) {
	const fileBytes = 16 << 10
	const depth = 4
	encode := func(funcs int) ([]byte, int) {
		p := &pprofile.Profile{
			SampleType: []*pprofile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
			PeriodType: &pprofile.ValueType{Type: "cpu", Unit: "nanoseconds"},
			Period:     cpuPeriod,
			TimeNanos:  time.Now().UnixNano(),
		}
		pad := strings.Repeat("x", fileBytes)
		m := &pprofile.Mapping{ID: 1, File: "/usr/bin/e2e", Start: 0x1000, Limit: 0xffffff}
		p.Mapping = []*pprofile.Mapping{m}
		var locs []*pprofile.Location
		for i := 0; i < funcs; i++ {
			f := &pprofile.Function{ID: uint64(i + 1), Name: fmt.Sprintf("e2e.large.f%04d", i),
				Filename: fmt.Sprintf("/src/e2e/large/%04d/%s.go", i, pad)}
			p.Function = append(p.Function, f)
			l := &pprofile.Location{ID: uint64(i + 1), Mapping: m, Address: uint64(0x1000 + i), Line: []pprofile.Line{{Function: f, Line: 1}}}
			p.Location = append(p.Location, l)
			locs = append(locs, l)
		}
		ticks := 0
		for i := 0; i+depth <= len(locs); i += depth {
			n := int64(i/depth + 1)
			p.Sample = append(p.Sample, &pprofile.Sample{Location: locs[i : i+depth], Value: []int64{n, n * cpuPeriod}})
			ticks += int(n * cpuPeriod)
		}
		var buf bytes.Buffer
		if err := p.WriteUncompressed(&buf); err != nil {
			panic(err)
		}
		return buf.Bytes(), ticks
	}
	funcs := size / (fileBytes + 64) / depth * depth
	body, ticks := encode(funcs)
	for len(body) > size {
		funcs -= depth
		body, ticks = encode(funcs)
	}
	return body, ticks, "e2e.large.f0000"
}

// pushLarge posts the pprof body to nginx's /ingest (format=pprof),
// retrying (bounded) while the cluster refuses writes; a 413 or a rate
// limit is final.
func (e *pyroscopeEnv) pushLarge(app string, body []byte) {
	e.t.Helper()
	now := time.Now()
	q := url.Values{}
	// A pprof push names the service alone: its profile types come from
	// the profile's sample types (the folded push's ".cpu" suffix would
	// stay in service_name).
	q.Set("name", app+"{env=e2e}")
	q.Set("from", fmt.Sprint(now.Add(-10*time.Second).Unix()))
	q.Set("until", fmt.Sprint(now.Unix()))
	q.Set("format", "pprof")
	q.Set("spyName", "gospy")
	target := "http://" + nginxPyroscopeHTTP + "/ingest?" + q.Encode()
	deadline := time.Now().Add(ingestTimeout)
	for attempt := 1; ; attempt++ {
		req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := e.http.Do(req)
		if err == nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return
			}
			err = fmt.Errorf("POST /ingest: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
			if resp.StatusCode == http.StatusRequestEntityTooLarge || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusBadRequest {
				e.t.Fatalf("%d-byte profile through nginx: %v", len(body), err)
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d-byte profile through nginx: %v", len(body), err)
		}
		if attempt == 1 {
			e.t.Logf("large profile: %v (retrying)", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// readBackLarge waits (bounded) until the app's CPU profile reads back
// through nginx with the ticks sent and the function named.
func (e *pyroscopeEnv) readBackLarge(app string, ticks int, function string) time.Duration {
	e.t.Helper()
	start := time.Now()
	deadline := start.Add(readTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		got, names, err := e.render(ctx, app)
		cancel()
		if err == nil && got == ticks && hasAll(names, function) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("large profile of %s not read back within %s: %d ticks of %d, %d names, err %v", app, readTimeout, got, ticks, len(names), err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestLargeRequestShapes checks the builders of the large requests
// without a cluster: the sizes the scenarios are about, every trace under
// Tempo's per-trace limit, the profile a valid pprof.
func TestLargeRequestShapes(t *testing.T) {
	for _, tc := range []struct {
		size   int
		atMost bool
	}{{largeHTTPBatch, false}, {largeGRPCBatch, true}} {
		traces, data := newLargeBatch("shape", "otlp-http", tc.size, tc.atMost)
		got := proto.Size(data)
		if (!tc.atMost && got < tc.size) || (tc.atMost && (got > tc.size || got < tc.size-8<<10)) {
			t.Errorf("batch for %d bytes (at most: %v) is %d bytes", tc.size, tc.atMost, got)
		}
		n := 0
		for _, tr := range traces {
			n += tr.spans
		}
		if spans := len(data.ResourceSpans[0].ScopeSpans[0].Spans); spans != n {
			t.Errorf("%d spans in the batch, %d counted in its traces", spans, n)
		}
		if per := got / len(traces); per > 5e6/2 {
			t.Errorf("traces of about %d bytes: too close to Tempo's 5 MB per trace", per)
		}
	}
	body, ticks, function := newLargeProfile(largeProfile)
	if len(body) > largeProfile || len(body) < largeProfile-64<<10 {
		t.Errorf("profile is %d bytes, want at most %d and within 64 KiB", len(body), largeProfile)
	}
	p, err := pprofile.ParseData(body)
	if err != nil {
		t.Fatalf("the profile does not parse: %v", err)
	}
	total := 0
	for _, s := range p.Sample {
		total += int(s.Value[1])
	}
	if total != ticks || !hasFunction(p, function) {
		t.Errorf("profile: %d cpu ns (want %d), has %s: %v", total, ticks, function, hasFunction(p, function))
	}
}
