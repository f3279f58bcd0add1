package coordinator

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/golden"
	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
	"github.com/tempo-coordinator/coordinator/internal/testenv/testcert"
)

const (
	nginxOld = "1.22.1" // Debian 12
	nginxNew = "1.27.5" // the production image
)

// tempoTestRoutes is a fixed set of routes shaped like Tempo's (every
// receiver to the distributors, the APIs to the query-frontends), the
// renderer's input in these tests. It is not a copy of what the Tempo
// product asks for (that also narrows the query-frontends to those with
// queriers and adds the telemetry proxy): the engine and preview goldens
// render the product's own routes.
func tempoTestRoutes() Routes {
	ups := []Upstream{
		{Name: "otlp-grpc", Role: "distributor", Port: 4317},
		{Name: "otlp-http", Role: "distributor", Port: 4318},
		{Name: "zipkin", Role: "distributor", Port: 9411},
		{Name: "jaeger-thrift-http", Role: "distributor", Port: 14268},
		{Name: "jaeger-grpc", Role: "distributor", Port: 14250},
		{Name: "tempo-http", Role: "query-frontend", Port: 3200},
		{Name: "tempo-grpc", Role: "query-frontend", Port: 9096},
	}
	grpc := map[string]bool{"otlp-grpc": true, "jaeger-grpc": true, "tempo-grpc": true}
	limits := map[string]int64{"otlp-grpc": 4 << 20, "jaeger-grpc": 4 << 20, "tempo-grpc": 16 << 20,
		"otlp-http": 20 << 20, "zipkin": 20 << 20, "jaeger-thrift-http": 20 << 20}
	var servers []Server
	for _, u := range ups {
		servers = append(servers, Server{
			Port:      u.Port,
			GRPC:      grpc[u.Name],
			Locations: []Location{{Path: "/", Upstream: u.Name, MaxBodyBytes: limits[u.Name]}},
		})
	}
	return Routes{Upstreams: ups, Servers: servers}
}

// pyroscopeTestRoutes is a fixed set of routes shaped like Pyroscope's,
// the renderer's input in these tests; pyroscope/testdata/nginx-*.conf
// and the preview goldens render the product's own routes.
func pyroscopeTestRoutes(workerPort int) Routes {
	var ups []Upstream
	for _, r := range []string{"all", "distributor", "query-frontend", "querier", "ingester", "tenant-settings", "ad-hoc-profiles"} {
		ups = append(ups, Upstream{Name: r, Role: r, Port: workerPort})
	}
	ups = append(ups, Upstream{Name: "worker", Role: "", Port: workerPort},
		Upstream{Name: "distributor-grpc", Role: "distributor", Port: workerPort})
	return Routes{
		Upstreams: ups,
		Servers: []Server{
			{Port: 8080, Locations: []Location{
				{Modifier: "=", Path: "/", Upstream: "worker"},
				{Path: "/assets", Upstream: "worker"},
				{Modifier: "=", Path: "/ingest", Upstream: "distributor", MaxBodyBytes: 256 << 20},
				{Path: "/pyroscope", Upstream: "query-frontend"},
				{Path: "/querier", Upstream: "query-frontend"},
				{Path: "/settings", Upstream: "tenant-settings"},
				{Path: "/adhocprofiles", Upstream: "ad-hoc-profiles"},
				{Path: "/push.v1.PusherService", Upstream: "distributor", MaxBodyBytes: 256 << 20},
			}},
			{Port: 42424, GRPC: true, Locations: []Location{
				{Path: "/opentelemetry.proto.collector", Upstream: "distributor-grpc", MaxBodyBytes: 4 << 20},
			}},
		},
	}
}

func tempoRoles(addrs ...string) map[string][]string {
	return map[string][]string{"distributor": addrs, "query-frontend": addrs, "ingester": addrs}
}

type nginxCase struct {
	name string
	in   NginxInput
	// needsDNS is true when the worker addresses are names that nginx
	// resolves at load time.
	needsDNS bool
}

func nginxGoldenCases() []nginxCase {
	single := func(version string) NginxInput {
		return NginxInput{
			Facts:           NginxFacts{Version: version, Resolver: "10.152.183.10"},
			Routes:          tempoTestRoutes(),
			AddressesByRole: tempoRoles("127.0.0.1"),
			AllAddresses:    []string{"127.0.0.1"},
			ServerName:      "tempo-0.tempo-endpoints.model.svc.cluster.local",
			StatusPort:      8080,
		}
	}
	distributed := func(version string) NginxInput {
		return NginxInput{
			Facts:  NginxFacts{Version: version, Resolver: "10.152.183.10"},
			Routes: tempoTestRoutes(),
			AddressesByRole: map[string][]string{
				"distributor":    {"127.0.0.3", "127.0.0.2", "localhost"},
				"query-frontend": {"127.0.0.5", "127.0.0.4"},
				"ingester":       {"127.0.0.6"},
			},
			AllAddresses: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "localhost"},
			ServerName:   "tempo-0.tempo-endpoints.model.svc.cluster.local",
			StatusPort:   8080,
		}
	}
	with := func(in NginxInput, f func(*NginxInput)) NginxInput { f(&in); return in }

	var cases []nginxCase
	for _, v := range []string{nginxOld, nginxNew} {
		cases = append(cases,
			nginxCase{name: "tempo-single-" + v, in: single(v)},
			nginxCase{name: "tempo-distributed-" + v, in: distributed(v)},
			nginxCase{name: "tempo-ipv6-" + v, in: with(distributed(v), func(in *NginxInput) {
				in.Facts.IPv6 = true
				in.Facts.Resolver = "fd00::53"
				in.AddressesByRole["query-frontend"] = []string{"::1", "127.0.0.4"}
			})},
			// The workers' certificates verified (a root CA); unverified in
			// tempo-tls-ipv6 (an intermediate CA).
			nginxCase{name: "tempo-tls-" + v, in: with(distributed(v), func(in *NginxInput) {
				in.TLS, in.UpstreamTLS, in.UpstreamVerifyName = true, true, "tempo.model.svc.cluster.local"
			})},
			nginxCase{name: "tempo-no-query-frontend-" + v, in: with(distributed(v), func(in *NginxInput) {
				delete(in.AddressesByRole, "query-frontend")
			})},
			nginxCase{name: "pyroscope-" + v, in: NginxInput{
				Facts:  NginxFacts{Version: v},
				Routes: pyroscopeTestRoutes(4040),
				AddressesByRole: map[string][]string{
					"distributor": {"127.0.0.2"}, "query-frontend": {"127.0.0.3"}, "querier": {"127.0.0.3"},
					"ingester": {"127.0.0.4"}, "tenant-settings": {"127.0.0.2"}, "ad-hoc-profiles": {"localhost"},
				},
				AllAddresses: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "localhost"},
				ServerName:   "pyroscope-0.pyroscope-endpoints.model.svc.cluster.local",
				StatusPort:   8080,
			}},
		)
	}
	fqdn := func(i int) string {
		return fmt.Sprintf("tempo-worker-%d.tempo-worker-endpoints.model.svc.cluster.local", i)
	}
	cases = append(cases,
		nginxCase{name: "tempo-tls-ipv6-" + nginxNew, in: with(distributed(nginxNew), func(in *NginxInput) {
			in.TLS, in.UpstreamTLS = true, true
			in.Facts.IPv6 = true
		})},
		// Pyroscope: nginx terminates TLS, the workers stay plain.
		nginxCase{name: "pyroscope-tls-" + nginxNew, in: NginxInput{
			Facts:  NginxFacts{Version: nginxNew},
			Routes: pyroscopeTestRoutes(4040),
			AddressesByRole: map[string][]string{
				"distributor": {"127.0.0.2"}, "query-frontend": {"127.0.0.3"}, "querier": {"127.0.0.3"},
				"ingester": {"127.0.0.4"}, "tenant-settings": {"127.0.0.2"}, "ad-hoc-profiles": {"localhost"},
			},
			AllAddresses: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "localhost"},
			ServerName:   "pyroscope-0.pyroscope-endpoints.model.svc.cluster.local",
			StatusPort:   8080,
			TLS:          true,
		}},
		nginxCase{name: "tempo-fqdn-" + nginxNew, needsDNS: true, in: with(single(nginxNew), func(in *NginxInput) {
			in.AddressesByRole = map[string][]string{
				"distributor":    {fqdn(1), fqdn(0)},
				"query-frontend": {fqdn(2)},
			}
			in.AllAddresses = []string{fqdn(0), fqdn(1), fqdn(2)}
		})},
		nginxCase{name: "tempo-unknown-version", in: single("")},
	)
	return cases
}

func goldenPath(name string) string {
	return filepath.Join("testdata", "nginx", name+".conf")
}

func TestNginxGolden(t *testing.T) {
	for _, c := range nginxGoldenCases() {
		t.Run(c.name, func(t *testing.T) {
			golden.Check(t, goldenPath(c.name), RenderNginx(c.in))
		})
	}
}

// TestNginxGoldenSemantics checks the properties the goldens are meant to
// show, so that a careless -update cannot bless a regression.
func TestNginxGoldenSemantics(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(goldenPath(name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	type check struct {
		golden      string
		contains    []string
		notContains []string
	}
	checks := []check{
		{"tempo-single-" + nginxOld,
			[]string{
				"    upstream otlp-grpc {\n        zone otlp-grpc_zone 64k;\n        server 127.0.0.1:4317;\n        keepalive 32;\n        keepalive_timeout 50s;\n    }\n",
				// Connections to workers are reused; nginx's timeouts outlast the workers'.
				"    proxy_read_timeout 300s;\n    proxy_send_timeout 300s;\n    grpc_read_timeout 300s;\n    grpc_send_timeout 300s;\n",
				// Bodies: a little more than each worker accepts (20 MiB OTLP/HTTP, 4 MiB gRPC receivers), unlimited where the worker sets no limit.
				"            client_max_body_size 21m;\n            set $backend http://otlp-http;\n",
				"            client_max_body_size 5m;\n            set $backend grpc://otlp-grpc;\n",
				"            client_max_body_size 0;\n            set $backend http://tempo-http;\n",
				"            client_max_body_size 17m;\n            set $backend grpc://tempo-grpc;\n",
				"    resolver 10.152.183.10;\n",
				"        listen 4317 http2;\n",
				"        listen 4318;\n",
				"        listen 8080;\n        server_name tempo-0.tempo-endpoints.model.svc.cluster.local;\n        proxy_http_version 1.1;\n        proxy_set_header Connection '';\n" +
					"        proxy_set_header X-Scope-OrgID $ensured_x_scope_orgid;\n        proxy_request_buffering off;\n        location = /status {\n            stub_status;\n        }\n    }\n",
				"            set $backend grpc://otlp-grpc;\n            grpc_pass $backend;\n            grpc_connect_timeout 5s;\n",
				"            set $backend http://tempo-http;\n            proxy_pass $backend;\n            proxy_connect_timeout 5s;\n",
				"        grpc_set_header X-Scope-OrgID $ensured_x_scope_orgid;\n",
				"    map $http_x_scope_orgid $ensured_x_scope_orgid {\n        default $http_x_scope_orgid;\n        '' anonymous;\n    }\n",
				"pid /tmp/nginx.pid;\n",
			},
			[]string{"resolve;", "http2 on;", "ssl", "[::]", "https://", "grpcs://"}},
		{"tempo-single-" + nginxNew,
			[]string{"        server 127.0.0.1:4317 resolve;\n", "        listen 4317;\n        http2 on;\n"},
			[]string{"listen 4317 http2", "proxy_pass $backend;\n            grpc"}},
		{"tempo-distributed-" + nginxOld,
			[]string{"        server 127.0.0.2:4318;\n        server 127.0.0.3:4318;\n        server localhost:4318;\n",
				"        server 127.0.0.4:3200;\n        server 127.0.0.5:3200;\n"},
			[]string{"127.0.0.6"}},
		{"tempo-ipv6-" + nginxNew,
			[]string{"    resolver [fd00::53];\n", "        listen [::]:4317;\n", "        listen [::]:8080;\n", "        server [::1]:3200 resolve;\n"},
			nil},
		{"tempo-ipv6-" + nginxOld,
			[]string{"        listen 9096 http2;\n        listen [::]:9096 http2;\n", "        server [::1]:9096;\n"},
			[]string{"resolve;"}},
		{"tempo-tls-" + nginxOld,
			[]string{"        listen 4317 http2 ssl;\n", "        listen 8080 ssl;\n", "set $backend grpcs://otlp-grpc;", "set $backend https://tempo-http;",
				"        ssl_certificate /etc/nginx/certs/server.cert;\n        ssl_certificate_key /etc/nginx/certs/server.key;\n        ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_ciphers HIGH:!aNULL:!MD5;\n"},
			[]string{"http://", "grpc://", "TLSv1.1"}},
		{"tempo-tls-ipv6-" + nginxNew,
			[]string{"        listen 4317 ssl;\n        listen [::]:4317 ssl;\n        http2 on;\n"},
			nil},
		{"pyroscope-tls-" + nginxNew,
			[]string{"        listen 8080 ssl;\n", "        listen 42424 ssl;\n", "set $backend http://distributor;", "set $backend grpc://distributor-grpc;",
				"        ssl_certificate /etc/nginx/certs/server.cert;\n"},
			[]string{"https://", "grpcs://"}},
		{"tempo-no-query-frontend-" + nginxOld,
			[]string{"listen 4317", "listen 8080;"},
			[]string{"3200", "9096", "tempo-http", "tempo-grpc"}},
		{"pyroscope-" + nginxNew,
			[]string{"        location = / {\n            client_max_body_size 0;\n            set $backend http://worker;\n",
				"        location /pyroscope {\n            client_max_body_size 0;\n            set $backend http://query-frontend;\n",
				"        location = /ingest {\n            client_max_body_size 257m;\n",
				"        location = /ingest {\n", "        location /push.v1.PusherService {\n",
				"        listen 42424;\n        http2 on;\n",
				"        location /opentelemetry.proto.collector {\n            client_max_body_size 5m;\n            set $backend grpc://distributor-grpc;\n",
				"    upstream worker {\n        zone worker_zone 64k;\n        server 127.0.0.2:4040;\n        server 127.0.0.3:4040;\n        server 127.0.0.4:4040;\n        server localhost:4040;\n        keepalive 32;\n",
			},
			// Only routed upstreams: no location goes to these roles.
			[]string{"resolve", "resolver", "upstream all ", "upstream querier ", "upstream ingester ", "upstream compactor ", "upstream store-gateway ", "upstream query-scheduler "}},
		{"tempo-unknown-version", []string{"listen 4317 http2;"}, []string{"resolve;", "http2 on;"}},
	}
	for _, c := range checks {
		conf := read(c.golden)
		for _, s := range c.contains {
			if !strings.Contains(conf, s) {
				t.Errorf("%s: missing %q", c.golden, s)
			}
		}
		for _, s := range c.notContains {
			if strings.Contains(conf, s) {
				t.Errorf("%s: unexpectedly contains %q", c.golden, s)
			}
		}
	}
	// Every server block serves /status exactly once.
	for _, c := range nginxGoldenCases() {
		conf := read(c.name)
		servers := strings.Count(conf, "    server {\n")
		status := strings.Count(conf, "        location = /status {\n            stub_status;\n        }\n")
		if servers == 0 || servers != status {
			t.Errorf("%s: %d servers, %d status locations", c.name, servers, status)
		}
		if !strings.Contains(conf, "        listen 8080") {
			t.Errorf("%s: no server on the status port", c.name)
		}
	}
}

func TestNginxAtLeast(t *testing.T) {
	tests := []struct {
		version             string
		major, minor, patch int
		want                bool
	}{
		{"1.22.1", 1, 25, 1, false},
		{"1.22.1", 1, 22, 1, true},
		{"1.22.1", 1, 22, 2, false},
		{"1.25.1", 1, 25, 1, true},
		{"1.25.0", 1, 25, 1, false},
		{"1.27.2", 1, 27, 3, false},
		{"1.27.3", 1, 27, 3, true},
		{"1.27.5", 1, 27, 3, true},
		{"1.28.0", 1, 27, 3, true},
		{"2.0.0", 1, 27, 3, true},
		{"1.100.0", 1, 27, 3, true},
		{"1.27", 1, 27, 0, true},
		{"1.27", 1, 27, 3, false},
		{"nginx/1.27.5", 1, 27, 3, true},
		{"nginx version: nginx/1.22.1", 1, 22, 0, true},
		{"1.27.5 (Ubuntu)", 1, 27, 3, true},
		{"", 1, 0, 0, false},
		{"garbage", 0, 0, 0, false},
		{"1", 0, 0, 0, false},
		{"1..3", 0, 0, 0, false},
		{"1.2.3.4", 0, 0, 0, false},
		{"99999999999999999999.1.1", 0, 0, 0, false},
	}
	for _, tt := range tests {
		if got := NginxAtLeast(tt.version, tt.major, tt.minor, tt.patch); got != tt.want {
			t.Errorf("NginxAtLeast(%q, %d, %d, %d) = %v, want %v", tt.version, tt.major, tt.minor, tt.patch, got, tt.want)
		}
	}
}

func TestNginxVersionGates(t *testing.T) {
	base := func(version, resolver string) NginxInput {
		return NginxInput{
			Facts:           NginxFacts{Version: version, Resolver: resolver},
			Routes:          tempoTestRoutes(),
			AddressesByRole: tempoRoles("10.1.0.7"),
			ServerName:      "tempo-0",
			StatusPort:      8080,
		}
	}
	tests := []struct {
		version, resolver         string
		resolve, http2On, resolvr bool
	}{
		{"1.22.1", "10.0.0.53", false, false, true},
		{"1.25.0", "10.0.0.53", false, false, true},
		{"1.25.1", "10.0.0.53", false, true, true},
		{"1.27.2", "10.0.0.53", false, true, true},
		{"1.27.3", "10.0.0.53", true, true, true},
		{"1.27.5", "10.0.0.53", true, true, true},
		{"1.27.5", "", false, true, false},
		{"1.27.5", "bad;resolver", false, true, false},
		{"", "10.0.0.53", false, false, true},
		{"not-a-version", "10.0.0.53", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.resolver, func(t *testing.T) {
			conf := string(RenderNginx(base(tt.version, tt.resolver)))
			if got := strings.Contains(conf, "server 10.1.0.7:4317 resolve;"); got != tt.resolve {
				t.Errorf("resolve = %v, want %v\n%s", got, tt.resolve, conf)
			}
			if got := strings.Contains(conf, " resolve;"); got != tt.resolve {
				t.Errorf("any resolve = %v, want %v", got, tt.resolve)
			}
			if got := strings.Contains(conf, "http2 on;"); got != tt.http2On {
				t.Errorf("http2 on = %v, want %v", got, tt.http2On)
			}
			if got := strings.Contains(conf, "listen 4317 http2;"); got == tt.http2On {
				t.Errorf("listen http2 = %v, want %v", got, !tt.http2On)
			}
			if got := strings.Contains(conf, "resolver "); got != tt.resolvr {
				t.Errorf("resolver = %v, want %v", got, tt.resolvr)
			}
			if strings.Contains(conf, "http2 on;") && strings.Contains(conf, "listen 4318 http2") {
				t.Error("HTTP server got http2")
			}
		})
	}
}

func TestNginxIPv6Listen(t *testing.T) {
	for _, ipv6 := range []bool{false, true} {
		for _, tls := range []bool{false, true} {
			in := NginxInput{
				Facts:           NginxFacts{Version: nginxOld, IPv6: ipv6},
				Routes:          tempoTestRoutes(),
				AddressesByRole: tempoRoles("10.1.0.7"),
				TLS:             tls,
				UpstreamTLS:     tls,
				StatusPort:      8080,
			}
			conf := string(RenderNginx(in))
			v4 := strings.Count(conf, "        listen ")
			v6 := strings.Count(conf, "        listen [::]:")
			servers := strings.Count(conf, "    server {\n")
			if servers != 8 { // 7 routed ports + the status port
				t.Fatalf("ipv6=%v tls=%v: %d servers, want 8", ipv6, tls, servers)
			}
			wantV6 := 0
			if ipv6 {
				wantV6 = servers
			}
			if v6 != wantV6 || v4-v6 != servers {
				t.Errorf("ipv6=%v tls=%v: %d listen lines, %d IPv6 ones, %d servers", ipv6, tls, v4, v6, servers)
			}
			if ipv6 && !strings.Contains(conf, "listen [::]:4317 http2"+map[bool]string{true: " ssl", false: ""}[tls]+";") {
				t.Errorf("ipv6=%v tls=%v: IPv6 listen lacks the IPv4 listen's parameters\n%s", ipv6, tls, conf)
			}
		}
	}
}

func TestNginxSkipsInvalidAddresses(t *testing.T) {
	hostile := []string{"x;}", "evil host", "a{b", "a'b", `a"b`, "a$b", "a#b", "fe80::1%eth0", "-bad", "", "a\nserver 6.6.6.6:1"}
	in := NginxInput{
		Facts:  NginxFacts{Version: nginxNew, Resolver: "10.0.0.53"},
		Routes: tempoTestRoutes(),
		AddressesByRole: map[string][]string{
			"distributor":    append([]string{"10.1.0.7"}, hostile...),
			"query-frontend": hostile, // nothing valid: its servers disappear
		},
		AllAddresses: hostile,
		ServerName:   "x;}",
		StatusPort:   8080,
	}
	conf := string(RenderNginx(in))
	for _, h := range hostile[:len(hostile)-2] {
		if strings.Contains(conf, h) {
			t.Errorf("hostile address %q appears in\n%s", h, conf)
		}
	}
	for _, s := range []string{"6.6.6.6", "server_name", "tempo-http", "3200", "9096", "eth0"} {
		if strings.Contains(conf, s) {
			t.Errorf("%q appears in\n%s", s, conf)
		}
	}
	if !strings.Contains(conf, "server 10.1.0.7:4317 resolve;") {
		t.Errorf("valid address missing\n%s", conf)
	}
	if n := strings.Count(conf, "server 10.1.0.7:4317"); n != 1 {
		t.Errorf("valid address rendered %d times", n)
	}
}

func TestNginxSkipsInvalidRoutes(t *testing.T) {
	in := NginxInput{
		Facts: NginxFacts{Version: nginxOld},
		Routes: Routes{
			Upstreams: []Upstream{
				{Name: "good", Role: "distributor", Port: 4040},
				{Name: "good", Role: "querier", Port: 9999}, // duplicate name: first wins
				{Name: "bad;name", Role: "distributor", Port: 4040},
				{Name: "noport", Role: "distributor", Port: 0},
			},
			Servers: []Server{
				{Port: 9000, Locations: []Location{
					{Path: "/ok", Upstream: "good"},
					{Path: "/ok", Upstream: "good"}, // duplicate location
					{Modifier: "=", Path: "/status", Upstream: "good"},
					{Modifier: "~", Path: "/re", Upstream: "good"},
					{Path: "relative", Upstream: "good"},
					{Path: "/x;}", Upstream: "good"},
					{Path: "/$var", Upstream: "good"},
					{Path: "/missing", Upstream: "bad;name"},
					{Path: "/noport", Upstream: "noport"},
				}},
				{Port: 9000, Locations: []Location{{Path: "/merged", Upstream: "good"}}},
				{Port: 70000, Locations: []Location{{Path: "/", Upstream: "good"}}},
				{Port: 9001, Locations: []Location{{Path: "/", Upstream: "absent"}}},
			},
		},
		AddressesByRole: map[string][]string{"distributor": {"10.0.0.1"}, "querier": {"10.0.0.2"}},
		StatusPort:      8080,
	}
	conf := string(RenderNginx(in))
	for _, s := range []string{"10.0.0.2", "9999", "bad;name", "noport", "/re", "relative", "/x;}", "/$var", "70000", "9001", "absent", "/missing"} {
		if strings.Contains(conf, s) {
			t.Errorf("%q appears in\n%s", s, conf)
		}
	}
	for s, n := range map[string]int{
		"    upstream good {\n":        1,
		"        location /ok {\n":     1,
		"        location /merged {\n": 1,
		"        location = /status":   2,
		"        listen 9000;\n":       1,
		"        listen 8080;\n":       1,
		"    server {\n":               2,
	} {
		if got := strings.Count(conf, s); got != n {
			t.Errorf("%q appears %d times, want %d\n%s", s, got, n, conf)
		}
	}
}

// TestNginxRoutedUpstreamsOnly: an upstream no location uses is not
// rendered, and a location handing gRPC to an upstream that already
// carries HTTP/1.1 (one keepalive cache for both) is left out.
func TestNginxRoutedUpstreamsOnly(t *testing.T) {
	in := NginxInput{
		Facts: NginxFacts{Version: nginxNew},
		Routes: Routes{
			Upstreams: []Upstream{
				{Name: "used", Role: "distributor", Port: 4040},
				{Name: "unused", Role: "distributor", Port: 4040},
				{Name: "grpc-only", Role: "distributor", Port: 4040},
			},
			Servers: []Server{
				{Port: 8080, Locations: []Location{{Path: "/ingest", Upstream: "used"}}},
				{Port: 42424, GRPC: true, Locations: []Location{
					{Path: "/mixed", Upstream: "used"},
					{Path: "/otlp", Upstream: "grpc-only"},
				}},
			},
		},
		AddressesByRole: map[string][]string{"distributor": {"10.0.0.1"}},
		StatusPort:      8080,
	}
	conf := string(RenderNginx(in))
	for s, n := range map[string]int{
		"    upstream used {\n":      1,
		"    upstream grpc-only {\n": 1,
		"upstream unused":            0,
		"location /mixed":            0,
		"location /otlp {\n":         1,
		"location /ingest {\n":       1,
		"        keepalive 32;\n":    2,
	} {
		if got := strings.Count(conf, s); got != n {
			t.Errorf("%q appears %d times, want %d\n%s", s, got, n, conf)
		}
	}
}

func TestNginxStatusServer(t *testing.T) {
	t.Run("no routes", func(t *testing.T) {
		conf := string(RenderNginx(NginxInput{Facts: NginxFacts{Version: nginxOld}, StatusPort: 8080}))
		want := "    server {\n        listen 8080;\n        proxy_http_version 1.1;\n        proxy_set_header Connection '';\n" +
			"        proxy_set_header X-Scope-OrgID $ensured_x_scope_orgid;\n        proxy_request_buffering off;\n" +
			"        location = /status {\n            stub_status;\n        }\n    }\n}\n"
		if !strings.HasSuffix(conf, want) {
			t.Errorf("want a status-only server, got\n%s", conf)
		}
	})
	t.Run("status port shared with a route", func(t *testing.T) {
		in := NginxInput{
			Facts:           NginxFacts{Version: nginxOld},
			Routes:          pyroscopeTestRoutes(4040),
			AddressesByRole: map[string][]string{"distributor": {"10.0.0.1"}},
			AllAddresses:    []string{"10.0.0.1"},
			StatusPort:      8080,
		}
		conf := string(RenderNginx(in))
		if n := strings.Count(conf, "listen 8080;"); n != 1 {
			t.Errorf("listen 8080 appears %d times\n%s", n, conf)
		}
		if n := strings.Count(conf, "location = /status"); n != 2 {
			t.Errorf("%d status locations, want 2 (8080 and 42424)\n%s", n, conf)
		}
	})
}

func TestNginxServersSortedByPort(t *testing.T) {
	in := NginxInput{
		Facts:           NginxFacts{Version: nginxOld},
		Routes:          tempoTestRoutes(),
		AddressesByRole: tempoRoles("10.0.0.1"),
		StatusPort:      1234,
	}
	conf := string(RenderNginx(in))
	re := regexp.MustCompile(`(?m)^        listen (\d+)`)
	var ports []int
	for _, m := range re.FindAllStringSubmatch(conf, -1) {
		p, _ := strconv.Atoi(m[1])
		ports = append(ports, p)
	}
	want := []int{1234, 3200, 4317, 4318, 9096, 9411, 14250, 14268}
	if fmt.Sprint(ports) != fmt.Sprint(want) {
		t.Errorf("ports %v, want %v", ports, want)
	}
}

func TestNginxDeterministic(t *testing.T) {
	for _, c := range nginxGoldenCases() {
		a, b := RenderNginx(c.in), RenderNginx(c.in)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renders differ", c.name)
		}
	}
	// The order of worker addresses does not matter.
	in := nginxGoldenCases()[1].in
	a := RenderNginx(in)
	in.AddressesByRole["distributor"] = []string{"localhost", "127.0.0.2", "127.0.0.3", "127.0.0.2"}
	if b := RenderNginx(in); !bytes.Equal(a, b) {
		t.Errorf("address order or duplicates change the output:\n%s\n---\n%s", a, b)
	}
}

func TestNginxQuote(t *testing.T) {
	tests := map[string]string{
		"plain":        "plain",
		"$var":         "$var",
		"~^[23]":       "~^[23]",
		"":             "''",
		"a b":          "'a b'",
		"x;}":          "'x;}'",
		`it's "q" \ok`: `'it\'s "q" \\ok'`,
	}
	for in, want := range tests {
		if got := ngxQuote(in); got != want {
			t.Errorf("ngxQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestRegexpQuote: a rewrite pattern matches its path literally, captures
// the rest, and needs no quoting in nginx.conf unless the path holds '^'.
func TestRegexpQuote(t *testing.T) {
	for _, path := range []string{"/m-app/push.v1.PusherService", "/a+b*c?d", "/(x)|[y]", "/plain", "/x^y"} {
		pattern := "^" + regexpQuote(path) + "(.*)"
		re := regexp.MustCompile(pattern)
		if m := re.FindStringSubmatch(path + "/rest?q=1"); m == nil || m[1] != "/rest?q=1" {
			t.Errorf("%s does not match %s/rest?q=1 with the rest captured: %q", pattern, path, m)
		}
		for i := range len(path) {
			altered := path[:i] + "Z" + path[i+1:]
			if re.MatchString(altered) {
				t.Errorf("%s matches %s", pattern, altered)
			}
		}
		if !strings.Contains(path, "^") && ngxQuote(pattern) != pattern {
			t.Errorf("%s needs quoting: %s", pattern, ngxQuote(pattern))
		}
	}
}

// --- real nginx ---

var localNginx struct {
	once    sync.Once
	path    string
	version string
}

// requireNginx returns the nginx binary and its version, or skips.
func requireNginx(t *testing.T) (string, string) {
	t.Helper()
	prereq.Heavy(t)
	localNginx.once.Do(func() {
		p, err := exec.LookPath("nginx")
		if err != nil {
			return
		}
		out, _ := exec.Command(p, "-v").CombinedOutput()
		localNginx.path = p
		localNginx.version = strings.TrimSpace(string(out))
	})
	if localNginx.path == "" {
		prereq.Missing(t, "nginx is not on PATH; install it (apt-get install -y nginx) to check the rendered configs with the real nginx")
	}
	return localNginx.path, localNginx.version
}

// nginxTestDir writes conf into a fresh directory, pointing every path the
// config uses (pid, temp paths, certificates, mime.types) into it, so that
// nginx needs nothing of the machine's /etc/nginx or /tmp.
func nginxTestDir(t *testing.T, conf []byte) (dir, confPath string) {
	t.Helper()
	dir = t.TempDir()
	s := string(conf)
	s = strings.ReplaceAll(s, " /tmp/", " "+dir+"/")
	mime := "/etc/nginx/mime.types"
	if _, err := os.Stat(mime); err != nil {
		mime = filepath.Join(dir, "mime.types")
		if err := os.WriteFile(mime, []byte("types {\n    text/plain txt;\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s = strings.ReplaceAll(s, "include /etc/nginx/mime.types;", "include "+mime+";")
	}
	if strings.Contains(s, NginxCertPath) || strings.Contains(s, NginxCAPath) {
		cert, key := writeSelfSignedCert(t, dir)
		s = strings.ReplaceAll(s, NginxCertPath, cert)
		s = strings.ReplaceAll(s, NginxKeyPath, key)
		// The self-signed certificate is its own CA.
		s = strings.ReplaceAll(s, NginxCAPath, cert)
	}
	if strings.Contains(s, " "+NginxPidPath) || strings.Contains(s, " /tmp/client_temp") || strings.Contains(s, "/etc/nginx/certs") || strings.Contains(s, "/usr/local/share/ca-certificates") {
		t.Fatalf("a machine path survived the rewrite:\n%s", s)
	}
	confPath = filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, confPath
}

func writeSelfSignedCert(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	certPEM, keyPEM, _ := testcert.SelfSigned(t, "localhost")
	certPath, keyPath = filepath.Join(dir, "server.cert"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// nginxCheck runs "nginx -t" on conf and fails on any error or warning.
func nginxCheck(t *testing.T, nginx string, conf []byte) {
	t.Helper()
	dir, confPath := nginxTestDir(t, conf)
	cmd := exec.Command(nginx, "-t", "-p", dir, "-c", confPath, "-e", "stderr")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t failed: %v\n%s\nconfig:\n%s", err, out, conf)
	}
	for _, level := range []string{"[warn]", "[emerg]", "[alert]", "[crit]", "[error]"} {
		if bytes.Contains(out, []byte(level)) {
			t.Errorf("nginx -t reported %s:\n%s", level, out)
		}
	}
	if !bytes.Contains(out, []byte("test is successful")) {
		t.Errorf("nginx -t did not report success:\n%s", out)
	}
}

// TestNginxConfigTest runs the real "nginx -t" on every golden. Goldens for
// a newer nginx than the local one are rendered again for the local version
// (same input, the local version's syntax) and checked that way; their
// version-specific syntax ("resolve", "http2 on") is covered by the goldens
// and TestNginxVersionGates only.
func TestNginxConfigTest(t *testing.T) {
	nginx, version := requireNginx(t)
	t.Logf("local %s", version)
	for _, c := range nginxGoldenCases() {
		t.Run(c.name, func(t *testing.T) {
			if c.needsDNS {
				for _, a := range c.in.AllAddresses {
					if _, err := net.LookupHost(a); err != nil {
						t.Skipf("worker name %s does not resolve here (%v); nginx without \"resolve\" resolves upstream names at load time", a, err)
					}
				}
			}
			conf, err := os.ReadFile(goldenPath(c.name))
			if err != nil {
				t.Fatal(err)
			}
			if maj, min, patch := mustVersion(t, c.in.Facts.Version); c.in.Facts.Version != "" && !NginxAtLeast(version, maj, min, patch) {
				in := c.in
				in.Facts.Version = version
				conf = RenderNginx(in)
				t.Logf("local nginx is older than %s: checking the same input rendered for %s", c.in.Facts.Version, version)
			}
			nginxCheck(t, nginx, conf)
		})
	}
}

func mustVersion(t *testing.T, v string) (int, int, int) {
	t.Helper()
	if v == "" {
		return 0, 0, 0
	}
	p, ok := parseNginxVersion(v)
	if !ok {
		t.Fatalf("bad version %q", v)
	}
	return p[0], p[1], p[2]
}

// TestNginxConfigTestRejectsBrokenConfig shows nginxCheck can fail: the
// local nginx must reject syntax it does not know.
func TestNginxConfigTestRejectsBrokenConfig(t *testing.T) {
	nginx, _ := requireNginx(t)
	conf := RenderNginx(NginxInput{Facts: NginxFacts{Version: nginxOld}, StatusPort: 8080})
	broken := bytes.Replace(conf, []byte("stub_status;"), []byte("stub_status; no_such_directive on;"), 1)
	dir, confPath := nginxTestDir(t, broken)
	out, err := exec.Command(nginx, "-t", "-p", dir, "-c", confPath, "-e", "stderr").CombinedOutput()
	if err == nil {
		t.Fatalf("nginx -t accepted an unknown directive:\n%s", out)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestNginxProxiesOriginalURI runs the real nginx with Pyroscope-like routes
// in front of a Go backend and checks that "set $backend" + "proxy_pass
// $backend" forwards the original request URI (path, encoding and query)
// unchanged, that "grpc_pass $backend" forwards gRPC calls with their path,
// that the tenant header defaults to "anonymous" (proxy_set_header and
// grpc_set_header), and that the status page works.
func TestNginxProxiesOriginalURI(t *testing.T) {
	nginx, _ := requireNginx(t)

	type seen struct{ uri, org string }
	got := make(chan seen, 1)
	// The backend speaks HTTP/1.1 and cleartext HTTP/2 (what grpc_pass uses)
	// on one port, like a Pyroscope worker.
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.RequestURI, r.Header.Get("X-Scope-OrgID")}
		if r.ProtoMajor == 2 {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/grpc")
			w.Write([]byte{0, 0, 0, 0, 0}) // an empty gRPC message
			w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
			return
		}
		io.WriteString(w, "ok")
	}))
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	backend.Config.Protocols = &protocols
	backend.Start()
	defer backend.Close()
	backendPort := backend.Listener.Addr().(*net.TCPAddr).Port

	routes := pyroscopeTestRoutes(backendPort)
	httpPort, grpcPort, statusPort := freePort(t), freePort(t), freePort(t)
	routes.Servers[0].Port = httpPort
	routes.Servers[1].Port = grpcPort
	roles := map[string][]string{}
	for _, u := range routes.Upstreams {
		if u.Role != "" && u.Role != "all" {
			roles[u.Role] = []string{"127.0.0.1"}
		}
	}
	conf := RenderNginx(NginxInput{
		Facts:           NginxFacts{Version: localNginx.version},
		Routes:          routes,
		AddressesByRole: roles,
		AllAddresses:    []string{"127.0.0.1"},
		ServerName:      "localhost",
		StatusPort:      statusPort,
	})
	dir, confPath := nginxTestDir(t, conf)
	cmd := exec.Command(nginx, "-p", dir, "-c", confPath, "-e", "stderr", "-g", "daemon off;")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(os.Interrupt) // SIGINT: fast shutdown
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()

	client := &http.Client{Timeout: 5 * time.Second}
	statusURL := fmt.Sprintf("http://127.0.0.1:%d/status", statusPort)
	var status []byte
	for deadline := time.Now().Add(15 * time.Second); ; {
		select {
		case err := <-exited:
			t.Fatalf("nginx exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := client.Get(statusURL)
		if err == nil {
			status, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx never served %s: %v\n%s", statusURL, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !bytes.Contains(status, []byte("Active connections:")) {
		t.Errorf("status page: %q", status)
	}

	tests := []struct{ uri, org, wantOrg string }{
		{"/pyroscope/render?query=process_cpu%3Acpu&from=now-1h", "", "anonymous"},
		{"/ingest?name=app.cpu%7B%7D&spyName=gospy", "tenant-a", "tenant-a"},
		{"/querier.v1.QuerierService/LabelNames", "", "anonymous"},
		{"/assets/a%2Fb/app.js", "", "anonymous"},
		{"/", "", "anonymous"},
		{"/push.v1.PusherService/Push", "t", "t"},
		{"/settings.v1.SettingsService/Get", "", "anonymous"},
		{"/adhocprofiles.v1.AdHocProfileService/List", "", "anonymous"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, tt.uri), nil)
		if tt.org != "" {
			req.Header.Set("X-Scope-OrgID", tt.org)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.uri, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d\n%s", tt.uri, resp.StatusCode, logs.String())
			continue
		}
		s := <-got
		if s.uri != tt.uri || s.org != tt.wantOrg {
			t.Errorf("GET %s reached the worker as %s with X-Scope-OrgID %q, want %s and %q", tt.uri, s.uri, s.org, tt.uri, tt.wantOrg)
		}
	}
	// gRPC (cleartext HTTP/2 with prior knowledge) through grpc_pass.
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	grpcClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Protocols: &h2c}}
	for _, org := range []string{"", "tenant-b"} {
		const path = "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d%s", grpcPort, path), bytes.NewReader([]byte{0, 0, 0, 0, 0}))
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("TE", "trailers")
		want := "anonymous"
		if org != "" {
			req.Header.Set("X-Scope-OrgID", org)
			want = org
		}
		resp, err := grpcClient.Do(req)
		if err != nil {
			t.Fatalf("gRPC %s: %v\n%s", path, err, logs.String())
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || resp.Trailer.Get("Grpc-Status") != "0" {
			t.Errorf("gRPC %s: %s %s, grpc-status %q\n%s", path, resp.Proto, resp.Status, resp.Trailer.Get("Grpc-Status"), logs.String())
			continue
		}
		s := <-got
		if s.uri != path || s.org != want {
			t.Errorf("gRPC %s reached the worker as %s with X-Scope-OrgID %q, want %q", path, s.uri, s.org, want)
		}
	}

	// A path no location routes is not forwarded (nginx answers it from its
	// own, here unreadable, html root).
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/unrouted", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("GET /unrouted: status %d", resp.StatusCode)
	}
	select {
	case s := <-got:
		t.Errorf("GET /unrouted reached the worker as %s", s.uri)
	default:
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutines of exec.Cmd
// and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
