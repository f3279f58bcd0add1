// Command datapath measures the coordinator's data path: Debian's nginx,
// run by Pebble in a sandbox (private network namespace), with the
// nginx.conf the charm renders, in front of the backends it routes to.
//
// For every workload it measures, in one run, three columns: the backend
// directly, through the rendered config, and through the config the
// renderer made before issue 15 (testdata/*.pre-change.nginx.conf):
//
//   - a sink (answers every request at once) behind OTLP/HTTP (10 KB
//     posts), OTLP/gRPC (the same batch) and Pyroscope's /ingest;
//   - a real Tempo (monolithic, local storage, ingestion limits lifted so
//     that the load, not a limit, is measured) behind OTLP/HTTP and
//     OTLP/gRPC.
//
// Then it reloads the rendered config while the workers scale 1→5→1 under
// the OTLP/HTTP load and counts the failed requests.
//
// The load generators are Debian's wrk (HTTP) and ghz (gRPC, built from
// its Go module by `make bench-datapath`). Both run inside the sandbox's
// network namespace. nginx listens on 127.0.0.1 and the backends on
// 127.0.0.2 and up, so both can use the workers' port numbers.
//
// Run: make bench-datapath (as root). It prints a Markdown table.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/preview"
	"github.com/tempo-coordinator/coordinator/internal/products"
	"github.com/tempo-coordinator/coordinator/internal/testenv/sandbox"
	"github.com/tempo-coordinator/coordinator/internal/workload"
)

var (
	duration    = flag.Duration("duration", 10*time.Second, "length of each measurement")
	connections = flag.Int("connections", 32, "concurrent connections (wrk) and workers (ghz)")
	dir         = flag.String("dir", "bench/datapath", "directory of the benchmark (testdata/)")
	wrkBin      = flag.String("wrk", "wrk", "wrk executable")
	ghzBin      = flag.String("ghz", "ghz", "ghz executable")
	tempoBin    = flag.String("tempo", os.Getenv("TEMPO_BIN"), "tempo executable (empty: skip the real Tempo rows)")
	scaleSteps  = flag.Int("scale-reloads", 8, "reloads of the 1→5→1 scaling under load")
)

// Addresses inside the sandbox: nginx on 127.0.0.1, worker unit i on
// 127.0.0.(2+i).
const (
	nginxIP     = "127.0.0.1"
	maxWorkers  = 5
	spansPerReq = 10
	// spanPayload makes a request of about 10 KB with spansPerReq spans.
	spanPayload = 900
)

func workerIP(i int) string { return fmt.Sprintf("127.0.0.%d", 2+i) }

// Benchmark-only worker names: the model files name unit 0; the scaling
// adds units 1..4.
func tempoWorker(i int) string     { return fmt.Sprintf("tempo-worker-%d.bench", i) }
func pyroscopeWorker(i int) string { return fmt.Sprintf("pyroscope-worker-%d.bench", i) }

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "datapath:", err)
		os.Exit(1)
	}
}

// row is one measurement.
type row struct {
	workload, column string
	rps, p50, p99    float64 // requests/s, milliseconds
	spans            int     // spans per request (0: not traces)
	failed           int64
	detail           string // the failures by kind
}

func run() error {
	if err := sandbox.Available(); err != nil {
		return err
	}
	for _, bin := range []*string{wrkBin, ghzBin} {
		p, err := exec.LookPath(*bin)
		if err != nil {
			return fmt.Errorf("%s not found (make bench-datapath installs wrk and ghz): %w", *bin, err)
		}
		*bin = p
	}
	hosts := map[string]string{}
	for i := 0; i < maxWorkers; i++ {
		hosts[tempoWorker(i)] = workerIP(i)
		hosts[pyroscopeWorker(i)] = workerIP(i)
	}
	sb, err := sandbox.Start(sandbox.Options{Hosts: hosts})
	if err != nil {
		return err
	}
	defer sb.Close()
	// The clients' ephemeral ports stay clear of the ports nginx and the
	// backends listen on (42424 is in Linux's default range): a client
	// connection left on one would make a reload fail to bind it.
	if out, err := exec.Command("nsenter", "--net="+sb.NetnsPath(), "sysctl", "-w", "net.ipv4.ip_local_port_range=50000 60999").CombinedOutput(); err != nil {
		return fmt.Errorf("cannot set the sandbox's ephemeral ports: %v: %s", err, out)
	}
	c, err := workload.Connect(sb.SocketPath())
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("/var/tmp", "bench-datapath-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &bench{sb: sb, c: c, work: work}

	tempoConf, err := b.configs("tempo")
	if err != nil {
		return err
	}
	pyroConf, err := b.configs("pyroscope")
	if err != nil {
		return err
	}
	traceBody, err := proto.Marshal(traces(0))
	if err != nil {
		return err
	}
	if err := b.writeLoadFiles(traceBody); err != nil {
		return err
	}

	// The sink: every worker address answers on the ports routed.
	stopSinks, err := b.startSinks()
	if err != nil {
		return err
	}
	var rows []row
	columns := func(workload string, confs map[string][]byte, port int, measure func(target string) (row, error)) error {
		for _, col := range []string{"direct", "rendered", "pre-change"} {
			target := net.JoinHostPort(workerIP(0), strconv.Itoa(port))
			if col != "direct" {
				if err := b.apply(confs[col]); err != nil {
					return fmt.Errorf("%s %s: %w", workload, col, err)
				}
				target = net.JoinHostPort(nginxIP, strconv.Itoa(port))
			}
			r, err := measure(target)
			if err != nil {
				return fmt.Errorf("%s %s: %w", workload, col, err)
			}
			r.workload, r.column = workload, col
			fmt.Fprintf(os.Stderr, "%-32s %-10s %8.0f req/s p50 %6.2f ms p99 %6.2f ms failed %d (%s)\n", r.workload, r.column, r.rps, r.p50, r.p99, r.failed, r.detail)
			rows = append(rows, r)
		}
		return nil
	}
	sinkHTTP := func(target string) (row, error) { return b.wrk("http://"+target+"/v1/traces", "post.lua") }
	sinkGRPC := func(target string) (row, error) { return b.ghz(target, "static.bin") }
	if err := columns("sink, OTLP/HTTP 10 KB", tempoConf, 4318, sinkHTTP); err != nil {
		return err
	}
	if err := columns("sink, OTLP/gRPC 10 KB", tempoConf, 4317, sinkGRPC); err != nil {
		return err
	}
	if err := columns("sink, Pyroscope /ingest", pyroConf, 4040, func(target string) (row, error) {
		port := "4040"
		if strings.HasPrefix(target, nginxIP) {
			port = "8080" // nginx serves /ingest on its HTTP port
		}
		host, _, _ := net.SplitHostPort(target)
		return b.wrk("http://"+net.JoinHostPort(host, port)+"/ingest?name=bench.cpu&format=folded&spyName=gospy", "ingest.lua")
	}); err != nil {
		return err
	}

	// Reloads while the workers scale 1→5→1 under the OTLP/HTTP load.
	scale, err := b.scaleUnderLoad()
	if err != nil {
		return err
	}
	stopSinks()

	if *tempoBin != "" {
		stopTempo, err := b.startTempo()
		if err != nil {
			return err
		}
		err = columns("Tempo, OTLP/HTTP 10 KB", tempoConf, 4318, func(target string) (row, error) {
			return b.wrk("http://"+target+"/v1/traces", "traces.lua")
		})
		if err == nil {
			err = columns("Tempo, OTLP/gRPC 10 KB", tempoConf, 4317, func(target string) (row, error) { return b.ghz(target, "traces.bin") })
		}
		stopTempo()
		if err != nil {
			return err
		}
	}
	printTable(rows, scale)
	return nil
}

type bench struct {
	sb   *sandbox.Sandbox
	c    *workload.Container
	work string
}

// listenRe matches nginx's listen directives: nginx binds 127.0.0.1 so
// that the backends can bind the same ports on 127.0.0.2 and up.
var listenRe = regexp.MustCompile(`(?m)^(\s*listen )(\d+)`)

func localise(conf []byte) []byte {
	return listenRe.ReplaceAll(conf, []byte("${1}"+nginxIP+":${2}"))
}

// model reads testdata/<product>.model.yaml.
func (b *bench) model(product string) (*preview.Model, error) {
	raw, err := os.ReadFile(filepath.Join(*dir, "testdata", product+".model.yaml"))
	if err != nil {
		return nil, err
	}
	var m preview.Model
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// render renders nginx.conf for the product's model with n worker units.
func (b *bench) render(product string, n int) ([]byte, error) {
	m, err := b.model(product)
	if err != nil {
		return nil, err
	}
	m.Workers[0].Units = nil
	for i := 0; i < n; i++ {
		name := tempoWorker(i)
		if product == "pyroscope" {
			name = pyroscopeWorker(i)
		}
		m.Workers[0].Units = append(m.Workers[0].Units, name)
	}
	p, err := products.ByName(m.Product)
	if err != nil {
		return nil, err
	}
	out, err := preview.Render(p, m)
	if err != nil {
		return nil, err
	}
	if out.Nginx == nil || len(out.Nginx.Config) == 0 {
		return nil, fmt.Errorf("%s: no nginx.conf rendered (status %v)", product, out.Status)
	}
	return localise(out.Nginx.Config), nil
}

// configs are the rendered and pre-change nginx.conf of the product's
// model (one worker unit).
func (b *bench) configs(product string) (map[string][]byte, error) {
	rendered, err := b.render(product, 1)
	if err != nil {
		return nil, err
	}
	pre, err := os.ReadFile(filepath.Join(*dir, "testdata", product+".pre-change.nginx.conf"))
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"rendered": rendered, "pre-change": localise(pre)}, nil
}

// apply makes nginx run conf (started, or reloaded).
func (b *bench) apply(conf []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := b.c.ApplyNginx(ctx, workload.NginxPlan{Config: conf, Run: true})
	if err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond) // old workers finish their connections
	return nil
}

// traces is one OTLP request of spansPerReq spans of one trace, about 10
// KB; the trace id is n.
func traces(n uint64) *tracepb.TracesData {
	id := make([]byte, 16)
	binary.BigEndian.PutUint64(id[8:], n)
	var spans []*tracepb.Span
	now := uint64(time.Now().UnixNano())
	for i := 0; i < spansPerReq; i++ {
		spans = append(spans, &tracepb.Span{
			TraceId: id, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, byte(i + 1)}, Name: fmt.Sprintf("bench-span-%d", i),
			Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: now, EndTimeUnixNano: now + 1e6,
			Attributes: []*commonpb.KeyValue{{Key: "bench.payload",
				Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("p", spanPayload)}}}},
		})
	}
	return &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "bench"}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
}

// marker is the trace id the Lua script replaces with a fresh one.
var marker = []byte("BENCHMARKTRACEID")

// writeLoadFiles writes the wrk scripts and the ghz data and protoset.
func (b *bench) writeLoadFiles(body []byte) error {
	files := map[string][]byte{}
	files["body.bin"] = body
	lua := func(name, method, contentType, bodyFile string, perRequest bool) {
		var s strings.Builder
		fmt.Fprintf(&s, "local f = io.open(%q, \"rb\")\nlocal body = f:read(\"*a\")\nf:close()\n", filepath.Join(b.work, bodyFile))
		fmt.Fprintf(&s, "wrk.method = %q\nwrk.headers[\"Content-Type\"] = %q\nwrk.body = body\n", method, contentType)
		if perRequest {
			// A fresh trace id per request (a counter per thread), so
			// that Tempo sees distinct traces, none growing past its
			// per-trace limit.
			fmt.Fprintf(&s, "local parts = {}\nlocal m = %q\nlocal i = 1\n", marker)
			s.WriteString("while true do local j = string.find(body, m, i, true); if not j then table.insert(parts, string.sub(body, i)); break end; table.insert(parts, string.sub(body, i, j-1)); i = j + #m end\n")
			s.WriteString("local n = 0\nlocal threads = 0\nfunction setup(thread) threads = threads + 1; thread:set(\"tid\", threads) end\n")
			s.WriteString("function init(args) n = 0 end\n")
			s.WriteString("function request() n = n + 1; local id = string.format(\"%02d%014d\", tid or 0, n); return wrk.format(nil, nil, nil, table.concat(parts, id)) end\n")
		}
		s.WriteString(`function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("{\"requests\":%d,\"duration_us\":%d,\"p50_us\":%d,\"p99_us\":%d,\"failed\":%d,\"errors\":\"connect %d, read %d, write %d, status %d, timeout %d\"}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout, e.connect, e.read, e.write, e.status, e.timeout))
end
`)
		files[name] = []byte(s.String())
	}
	lua("post.lua", "POST", "application/x-protobuf", "body.bin", false)
	// Tempo: the body holds the marker trace id, replaced per request.
	marked, err := proto.Marshal(markedTraces())
	if err != nil {
		return err
	}
	files["marked.bin"] = marked
	lua("traces.lua", "POST", "application/x-protobuf", "marked.bin", true)
	var folded strings.Builder
	for i := 0; folded.Len() < 10<<10; i++ {
		fmt.Fprintf(&folded, "main;bench.handler;bench.work%d %d\n", i, i+1)
	}
	files["folded.txt"] = []byte(folded.String())
	lua("ingest.lua", "POST", "text/plain", "folded.txt", false)

	// ghz: the static batch, and distinct traces for Tempo (count-
	// prefixed messages, sent round-robin).
	files["static.bin"] = body
	var many []byte
	for i := uint64(1); i <= 2000; i++ {
		m, err := proto.Marshal(traces(1<<40 + i))
		if err != nil {
			return err
		}
		many = protowire.AppendVarint(many, uint64(len(m)))
		many = append(many, m...)
	}
	files["traces.bin"] = many
	set, err := protoset()
	if err != nil {
		return err
	}
	files["otlp.protoset"] = set
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(b.work, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func markedTraces() *tracepb.TracesData {
	t := traces(0)
	for _, s := range t.ResourceSpans[0].ScopeSpans[0].Spans {
		s.TraceId = marker
	}
	return t
}

// protoset is a FileDescriptorSet with the OTLP trace service, for ghz:
// the trace messages' own descriptors, and the service (whose Go package
// would bring grpc-gateway) described here.
func protoset() ([]byte, error) {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(tracepb.File_opentelemetry_proto_trace_v1_trace_proto)
	s := proto.String
	set.File = append(set.File, &descriptorpb.FileDescriptorProto{
		Name:       s("opentelemetry/proto/collector/trace/v1/trace_service.proto"),
		Package:    s("opentelemetry.proto.collector.trace.v1"),
		Dependency: []string{"opentelemetry/proto/trace/v1/trace.proto"},
		Syntax:     s("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: s("ExportTraceServiceRequest"), Field: []*descriptorpb.FieldDescriptorProto{{
				Name: s("resource_spans"), JsonName: s("resourceSpans"), Number: proto.Int32(1),
				Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(),
				Type:  descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: s(".opentelemetry.proto.trace.v1.ResourceSpans"),
			}}},
			{Name: s("ExportTraceServiceResponse")},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: s("TraceService"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name: s("Export"), InputType: s(".opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"),
				OutputType: s(".opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse"),
			}},
		}},
	})
	if _, err := protodesc.NewFiles(set); err != nil {
		return nil, fmt.Errorf("protoset: %w", err)
	}
	return proto.Marshal(set)
}

// startSinks serves, on every worker address, OTLP/HTTP (4318), OTLP/gRPC
// (4317) and Pyroscope's /ingest (4040): read the request, answer at once.
func (b *bench) startSinks() (func(), error) {
	var stops []func()
	stop := func() {
		for _, s := range stops {
			s()
		}
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	for i := 0; i < maxWorkers; i++ {
		for _, port := range []string{"4318", "4040"} {
			l, err := b.sb.ListenInNetns("tcp", net.JoinHostPort(workerIP(i), port))
			if err != nil {
				stop()
				return nil, err
			}
			srv := &http.Server{Handler: handler}
			go srv.Serve(l)
			stops = append(stops, func() { srv.Close() })
		}
		l, err := b.sb.ListenInNetns("tcp", net.JoinHostPort(workerIP(i), "4317"))
		if err != nil {
			stop()
			return nil, err
		}
		gs := grpc.NewServer(grpc.MaxRecvMsgSize(16<<20), grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			var m emptypb.Empty // any message decodes into Empty (unknown fields kept)
			if err := stream.RecvMsg(&m); err != nil {
				return err
			}
			return stream.SendMsg(&emptypb.Empty{})
		}))
		go gs.Serve(l)
		stops = append(stops, gs.Stop)
	}
	return stop, nil
}

// wrkResult is what the Lua done() prints.
type wrkResult struct {
	Requests   int64  `json:"requests"`
	DurationUS int64  `json:"duration_us"`
	P50US      int64  `json:"p50_us"`
	P99US      int64  `json:"p99_us"`
	Failed     int64  `json:"failed"`
	Errors     string `json:"errors"`
}

// inNetns runs a command inside the sandbox's network namespace.
func (b *bench) inNetns(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + b.sb.NetnsPath(), name}, args...)...)
}

// wrk loads url for -duration with the script and returns the row.
func (b *bench) wrk(url, script string) (row, error) {
	res, out, err := b.runWrk(url, script, *duration)
	if err != nil {
		return row{}, fmt.Errorf("%w\n%s", err, out)
	}
	r := row{rps: float64(res.Requests) / (float64(res.DurationUS) / 1e6), p50: float64(res.P50US) / 1000, p99: float64(res.P99US) / 1000, failed: res.Failed, detail: res.Errors}
	if strings.HasSuffix(url, "/v1/traces") {
		r.spans = spansPerReq
	}
	return r, nil
}

func (b *bench) runWrk(url, script string, d time.Duration) (wrkResult, string, error) {
	cmd := b.inNetns(*wrkBin, "-t2", fmt.Sprintf("-c%d", *connections), fmt.Sprintf("-d%ds", int(d.Seconds())),
		"--timeout", "10s", "-s", filepath.Join(b.work, script), url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return wrkResult{}, out.String(), err
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res wrkResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		return res, out.String(), fmt.Errorf("wrk output: %w", err)
	}
	return res, out.String(), nil
}

// ghz loads the OTLP trace Export method at target with the data file.
func (b *bench) ghz(target, data string) (row, error) {
	cmd := b.inNetns(*ghzBin, "--insecure", "--protoset", filepath.Join(b.work, "otlp.protoset"),
		"--call", "opentelemetry.proto.collector.trace.v1.TraceService/Export",
		"--binary-file", filepath.Join(b.work, data),
		"-c", strconv.Itoa(*connections), "--connections", "4", "-z", duration.String(),
		"--format", "json", target)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		return row{}, fmt.Errorf("ghz: %w\n%s", err, stderr.String())
	}
	var rep struct {
		Count     int64   `json:"count"`
		Rps       float64 `json:"rps"`
		Latencies []struct {
			Percentage int     `json:"percentage"`
			Latency    float64 `json:"latency"` // ns
		} `json:"latencyDistribution"`
		StatusCodes map[string]int64 `json:"statusCodeDistribution"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return row{}, fmt.Errorf("ghz output: %w: %.300s", err, out.String())
	}
	r := row{rps: rep.Rps, spans: spansPerReq, detail: fmt.Sprint(rep.StatusCodes)}
	for _, l := range rep.Latencies {
		switch l.Percentage {
		case 50:
			r.p50 = l.Latency / 1e6
		case 99:
			r.p99 = l.Latency / 1e6
		}
	}
	// ghz cancels the calls in flight when the duration ends (at most one
	// per worker): those are not failures.
	for code, n := range rep.StatusCodes {
		if code != "OK" && code != "Canceled" {
			r.failed += n
		}
	}
	return r, nil
}

// scaleResult is the reload-under-load measurement.
type scaleResult struct {
	reloads          int
	requests, failed int64
	detail           string
}

// scaleUnderLoad runs the OTLP/HTTP load through the rendered config
// while nginx reloads with 1, 2, ... 5, ... 1 worker units.
func (b *bench) scaleUnderLoad() (scaleResult, error) {
	var res scaleResult
	var confs [][]byte
	counts := []int{1, 2, 3, 4, 5, 4, 3, 2, 1}
	if *scaleSteps < len(counts)-1 {
		counts = counts[:*scaleSteps+1]
	}
	for _, n := range counts {
		conf, err := b.render("tempo", n)
		if err != nil {
			return res, err
		}
		confs = append(confs, conf)
	}
	if err := b.apply(confs[0]); err != nil {
		return res, err
	}
	step := time.Second
	d := step*time.Duration(len(confs)) + 2*time.Second
	type done struct {
		r   wrkResult
		out string
		err error
	}
	ch := make(chan done, 1)
	go func() {
		r, out, err := b.runWrk("http://"+nginxIP+":4318/v1/traces", "post.lua", d)
		ch <- done{r, out, err}
	}()
	time.Sleep(step)
	for _, conf := range confs[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		r, err := b.c.ApplyNginx(ctx, workload.NginxPlan{Config: conf, Run: true})
		cancel()
		if err != nil {
			return res, err
		}
		if !r.Reloaded {
			return res, errors.New("a scaling step did not reload nginx")
		}
		res.reloads++
		time.Sleep(step)
	}
	got := <-ch
	if got.err != nil {
		return res, fmt.Errorf("wrk: %w\n%s", got.err, got.out)
	}
	res.requests, res.failed, res.detail = got.r.Requests, got.r.Failed, got.r.Errors
	fmt.Fprintf(os.Stderr, "scaling 1→5→1: %d reloads, %d requests, %d failed (%s)\n", res.reloads, res.requests, res.failed, res.detail)
	return res, nil
}

// startTempo runs a monolithic Tempo (its own config: local storage,
// ingestion limits lifted) on worker 0's address, and waits until it
// accepts a trace.
func (b *bench) startTempo() (func(), error) {
	conf := fmt.Sprintf(`server:
  http_listen_address: %[1]s
  http_listen_port: 3200
  grpc_listen_address: %[1]s
  grpc_listen_port: 9096
  log_level: warn
distributor:
  receivers:
    otlp:
      protocols:
        grpc: {endpoint: "%[1]s:4317"}
        http: {endpoint: "%[1]s:4318"}
  ring: {kvstore: {store: inmemory}, instance_addr: %[1]s}
ingester:
  lifecycler:
    address: %[1]s
    ring: {kvstore: {store: inmemory}, replication_factor: 1}
  trace_idle_period: 10s
compactor:
  ring: {kvstore: {store: inmemory}, instance_addr: %[1]s}
metrics_generator:
  ring: {kvstore: {store: inmemory}, instance_addr: %[1]s}
memberlist: {bind_addr: [%[1]s], advertise_addr: %[1]s}
usage_report: {reporting_enabled: false}
querier:
  frontend_worker: {frontend_address: "%[1]s:9096"}
storage:
  trace:
    backend: local
    local: {path: %[2]s/traces}
    wal: {path: %[2]s/wal}
overrides:
  defaults:
    ingestion:
      rate_limit_bytes: 1000000000
      burst_size_bytes: 1000000000
      max_traces_per_user: 0
`, workerIP(0), b.work)
	path := filepath.Join(b.work, "tempo.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(b.work, "tempo.log"))
	if err != nil {
		return nil, err
	}
	cmd := b.inNetns(*tempoBin, "-config.file="+path, "-target=all")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		log.Close()
	}
	hc := b.sb.HTTPClient()
	hc.Timeout = 5 * time.Second
	body, _ := proto.Marshal(traces(1))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := hc.Post("http://"+workerIP(0)+":4318/v1/traces", "application/x-protobuf", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Fprintln(os.Stderr, "tempo accepts traces")
				return stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			tail, _ := os.ReadFile(log.Name())
			return nil, fmt.Errorf("tempo did not accept a trace within 2m (%v)\n%s", err, tail[max(0, len(tail)-3000):])
		}
		time.Sleep(time.Second)
	}
}

// printTable prints the results as Markdown.
func printTable(rows []row, scale scaleResult) {
	fmt.Printf("nginx through Pebble in a sandbox, %d connections, %s per measurement, %s\n\n", *connections, *duration, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Println("| workload | column | requests/s | spans/s | p50 ms | p99 ms | failed |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		spans := "–"
		if r.spans > 0 {
			spans = fmt.Sprintf("%.0f", r.rps*float64(r.spans))
		}
		fmt.Printf("| %s | %s | %.0f | %s | %.2f | %.2f | %d |\n", r.workload, r.column, r.rps, spans, r.p50, r.p99, r.failed)
	}
	fmt.Printf("\nReloads while the workers scale 1→5→1 under the OTLP/HTTP sink load (rendered config): %d reloads, %d requests, %d failed (%s).\n",
		scale.reloads, scale.requests, scale.failed, scale.detail)
}
