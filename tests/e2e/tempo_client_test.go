package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tempo-coordinator/coordinator/internal/testenv/sandbox"
)

// Ports nginx serves on the coordinator (the same numbers as the workers').
const (
	nginxOTLPHTTP = "127.0.0.1:4318"
	nginxOTLPGRPC = "127.0.0.1:4317"
	nginxTempoAPI = "127.0.0.1:3200"
)

// otlpExportMethod is the OTLP trace export gRPC method.
const otlpExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// sentTrace is one trace sent through nginx.
type sentTrace struct {
	id      string // 32 hex digits
	service string
	spans   int
	via     string // "otlp-http", "otlp-grpc"
}

// newTrace builds a trace of n spans (a root and its children) for the
// service. The OTLP request is a TracesData: its wire format is identical
// to ExportTraceServiceRequest's (field 1, repeated ResourceSpans), which
// avoids the collector package and its grpc-gateway dependency.
func newTrace(service string, n int, via string) (sentTrace, *tracepb.TracesData) {
	traceID := make([]byte, 16)
	rand.Read(traceID)
	now := time.Now()
	var spans []*tracepb.Span
	var rootID []byte
	for i := 0; i < n; i++ {
		spanID := make([]byte, 8)
		rand.Read(spanID)
		s := &tracepb.Span{
			TraceId: traceID, SpanId: spanID,
			Name:              fmt.Sprintf("e2e-span-%d", i),
			Kind:              tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: uint64(now.Add(time.Duration(i) * time.Millisecond).UnixNano()),
			EndTimeUnixNano:   uint64(now.Add(time.Duration(i+1) * time.Millisecond).UnixNano()),
			Attributes: []*commonpb.KeyValue{{Key: "e2e.via", Value: &commonpb.AnyValue{
				Value: &commonpb.AnyValue_StringValue{StringValue: via}}}},
		}
		if i == 0 {
			rootID = spanID
		} else {
			s.ParentSpanId = rootID
		}
		spans = append(spans, s)
	}
	data := &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: service}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
	return sentTrace{id: hex.EncodeToString(traceID), service: service, spans: n, via: via}, data
}

// tempoClient talks to Tempo at given URLs: by default to the
// coordinator's nginx from inside its sandbox network namespace, as an
// in-cluster client of the coordinator would.
type tempoClient struct {
	sb   *sandbox.Sandbox
	http *http.Client
	grpc *grpc.ClientConn
	// otlpHTTP and api are the base URLs of the OTLP/HTTP receiver and of
	// Tempo's HTTP API ("http://host:port" or "https://host:port", no
	// trailing slash).
	otlpHTTP, api string
}

func newTempoClient(sb *sandbox.Sandbox) (*tempoClient, error) {
	c := &tempoClient{sb: sb}
	return c, c.useTLS(nil)
}

// useTLS makes the client talk to nginx with TLS with cfg (HTTPS, gRPC over
// TLS), or plain HTTP and gRPC with nil.
func (c *tempoClient) useTLS(cfg *tls.Config) error {
	scheme := "http"
	if cfg != nil {
		scheme = "https"
	}
	tr := c.sb.HTTPTransport()
	tr.TLSClientConfig = cfg
	d, err := dialTempo(&http.Client{Transport: tr, Timeout: 10 * time.Second}, c.sb.ContextDialer(), cfg,
		scheme+"://"+nginxOTLPHTTP, nginxOTLPGRPC, scheme+"://"+nginxTempoAPI)
	if err != nil {
		return err
	}
	if c.grpc != nil {
		c.grpc.Close()
	}
	d.sb = c.sb
	*c = *d
	return nil
}

// dialTempo is a client of the OTLP/HTTP receiver at otlpHTTP, the
// OTLP/gRPC one at grpcAddr ("host:port", over TLS with cfg unless nil) and
// the API at api, through the HTTP client and the dialer given.
func dialTempo(c *http.Client, dial func(context.Context, string) (net.Conn, error), cfg *tls.Config, otlpHTTP, grpcAddr, api string) (*tempoClient, error) {
	creds := insecure.NewCredentials()
	if cfg != nil {
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient("passthrough:///"+grpcAddr, grpc.WithTransportCredentials(creds), grpc.WithContextDialer(dial))
	if err != nil {
		return nil, err
	}
	return &tempoClient{http: c, grpc: conn, otlpHTTP: strings.TrimSuffix(otlpHTTP, "/"), api: strings.TrimSuffix(api, "/")}, nil
}

func (c *tempoClient) close() { c.grpc.Close() }

// sendHTTP posts the trace as OTLP/HTTP protobuf to the receiver (nginx's
// :4318 by default).
func (c *tempoClient) sendHTTP(ctx context.Context, data *tracepb.TracesData) error {
	body, err := proto.Marshal(data)
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.otlpHTTP+"/v1/traces", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v1/traces: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// sendGRPC exports the trace over OTLP/gRPC (through nginx's :4317 by
// default).
func (c *tempoClient) sendGRPC(ctx context.Context, data *tracepb.TracesData) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.grpc.Invoke(ctx, otlpExportMethod, data, &emptypb.Empty{})
}

// getJSON GETs a Tempo API path (through nginx's :3200 by default) and decodes the JSON
// answer into out; a non-200 answer is an error.
func (c *tempoClient) getJSON(ctx context.Context, path string, out any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.api+path, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, truncate(strings.TrimSpace(string(body)), 300))
	}
	return json.Unmarshal(body, out)
}

// traceSpans reads a trace by id through nginx and counts its spans
// (mode "" for Tempo's default, "blocks" for the backend only).
func (c *tempoClient) traceSpans(ctx context.Context, id, mode string) (int, error) {
	path := "/api/traces/" + id
	if mode != "" {
		path += "?mode=" + mode
	}
	var doc any
	if err := c.getJSON(ctx, path, &doc); err != nil {
		return 0, err
	}
	return countSpans(doc), nil
}

// countSpans counts the span objects in Tempo's JSON trace (whatever the
// nesting: batches/resourceSpans → scopeSpans → spans).
func countSpans(v any) int {
	n := 0
	switch t := v.(type) {
	case map[string]any:
		for k, sub := range t {
			if k == "spans" {
				if list, ok := sub.([]any); ok {
					n += len(list)
					continue
				}
			}
			n += countSpans(sub)
		}
	case []any:
		for _, sub := range t {
			n += countSpans(sub)
		}
	}
	return n
}

// search returns the trace ids Tempo's search finds for the service, over
// the last hour (so both ingesters and backend blocks are searched).
func (c *tempoClient) search(ctx context.Context, service string) (map[string]bool, error) {
	now := time.Now()
	q := url.Values{}
	q.Set("tags", "service.name="+service)
	q.Set("limit", "100")
	q.Set("start", fmt.Sprint(now.Add(-time.Hour).Unix()))
	q.Set("end", fmt.Sprint(now.Add(time.Minute).Unix()))
	var res struct {
		Traces []struct {
			TraceID string `json:"traceID"`
		} `json:"traces"`
	}
	if err := c.getJSON(ctx, "/api/search?"+q.Encode(), &res); err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for _, tr := range res.Traces {
		found[normaliseTraceID(tr.TraceID)] = true
	}
	return found, nil
}

// normaliseTraceID drops the leading zeros Tempo's search trims.
func normaliseTraceID(id string) string {
	id = strings.TrimLeft(strings.ToLower(id), "0")
	if id == "" {
		return "0"
	}
	return id
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
