package coordinator_test

import (
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/pyroscope"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/internal/testenv/props"
)

// FuzzAggregateCluster: whatever the workers publish, every unit kept has
// a valid, unique address and a topology naming its application and unit,
// every app kept has known roles, and every problem is one printable line.
func FuzzAggregateCluster(f *testing.F) {
	f.Add(jsv("all"), jsv("10.0.0.1"), jsv(map[string]string{"application": "w", "unit": "w/0"}), jsv("10.0.0.1"), jsv("querier,ingester"))
	f.Add(jsv("querier,,querier"), jsv("W.example."), `{"application":"w","unit":"w/0","x":1}`, jsv("w.example"), `"all`)
	f.Add(`"all\u0000"`, jsv("999.1.1.1"), `{"application":"","unit":"w/0"}`, jsv("::ffff:10.0.0.1"), jsv("bogus"))
	f.Add(jsv("all"), jsv("x;} "+props.Marker), `null`, `"fe80::1%eth0"`, jsv(strings.Repeat("querier,", 200)))
	roles := tempo.Roles()
	f.Fuzz(func(t *testing.T, role1, addr1, topo, addr2, role2 string) {
		rels := []coordinator.Relation{
			{ID: 1, Endpoint: "c", RemoteApp: "w1", AppData: map[string]string{"role": role1},
				Units: map[string]map[string]string{"w1/0": {"address": addr1, "juju_topology": topo}, "w1/1": {"address": addr2, "juju_topology": topo}}},
			{ID: 2, Endpoint: "c", RemoteApp: "w2", AppData: map[string]string{"role": role2},
				Units: map[string]map[string]string{"w2/0": {"address": addr2, "juju_topology": topo}}},
		}
		c, problems := coordinator.AggregateCluster(roles, rels)
		seen := map[string]bool{}
		for _, app := range c.Apps {
			if len(app.Roles) == 0 {
				t.Fatalf("app %s kept with no role", app.Name)
			}
			for _, r := range app.Roles {
				if !slices.Contains(roles.Atomic, r) {
					t.Fatalf("unknown atomic role %q kept", r)
				}
			}
			for _, u := range app.Units {
				if !coordinator.ValidHost(u.Address) {
					t.Fatalf("invalid address %q kept", u.Address)
				}
				key := strings.ToLower(strings.TrimSuffix(u.Address, "."))
				if seen[key] {
					t.Fatalf("address %q kept twice", u.Address)
				}
				seen[key] = true
				if u.Topology["application"] == "" || u.Topology["unit"] == "" {
					t.Fatalf("topology without application or unit kept: %v", u.Topology)
				}
			}
		}
		for _, p := range problems {
			if err := props.CheckText(p.String(), ""); err != nil {
				t.Fatal(err)
			}
			if len(p.String()) > 400 {
				t.Fatalf("problem quotes too much untrusted text: %d bytes", len(p.String()))
			}
		}
	})
}

// FuzzParseS3: accepted S3 data has an http(s) endpoint with a valid host,
// a valid bucket, printable keys; the secret never appears in a reason.
func FuzzParseS3(f *testing.F) {
	f.Add("http://minio:9000", "tempo", "AKIA", "secret-key-long", "us-east-1", "path", "")
	f.Add(`"https://s3.amazonaws.com"`, `"b"`, `"a"`, `"s"`, `""`, `"virtual"`, jsv([]string{"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}))
	f.Add("ftp://x/"+props.Marker, "b\nINJECTED: 1", "a", "sec\nret-value", "r;", "host", "-----BEGIN CERTIFICATE-----")
	f.Add("http://[fd00::1]:9000/path?x=1#f", "..", "a", "a-very-secret-value", "", "", "[1,2]")
	f.Fuzz(func(t *testing.T, endpoint, bucket, access, secret, region, style, ca string) {
		rel := coordinator.Relation{ID: 1, Endpoint: coordinator.S3Endpoint, AppData: map[string]string{
			"endpoint": endpoint, "bucket": bucket, "access-key": access, "secret-key": secret,
			"region": region, "s3-uri-style": style, "tls-ca-chain": ca}}
		s3, reasons := coordinator.ParseS3(rel)
		quoted := strconv.Quote(secret)
		for _, r := range reasons {
			others := endpoint + bucket + access + region + style + ca
			if len(secret) >= 8 && !strings.Contains(others, secret) && !strings.Contains(strconv.Quote(others), quoted[1:len(quoted)-1]) &&
				(strings.Contains(r, secret) || strings.Contains(r, quoted[1:len(quoted)-1])) {
				t.Fatalf("the secret appears in reason %q", r)
			}
			if err := props.CheckText(r, ""); err != nil {
				t.Fatal(err)
			}
		}
		if s3 == nil {
			if len(reasons) == 0 {
				t.Fatal("rejected without a reason")
			}
			return
		}
		host := s3.Endpoint
		if h, port, err := net.SplitHostPort(s3.Endpoint); err == nil {
			host = h
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				t.Fatalf("accepted endpoint %q", s3.Endpoint)
			}
		}
		if !coordinator.ValidHost(host) {
			t.Fatalf("accepted endpoint %q", s3.Endpoint)
		}
		for _, s := range []string{s3.Bucket, s3.AccessKey, s3.SecretKey, s3.Region} {
			if err := props.CheckText(s, ""); err != nil {
				t.Fatalf("accepted value: %v", err)
			}
		}
	})
}

// FuzzRenderNginx: whatever the addresses, server name and facts,
// nginx.conf holds only the statements the renderer emits and routes only
// to valid worker addresses.
func FuzzRenderNginx(f *testing.F) {
	f.Add("1.22.1", "10.0.0.10", false, false, "w-0.example", "fd00::1", "x;} "+props.Marker, "tempo-0.example")
	f.Add("1.27.5", "fd00::53", true, true, "W.example.", "10.0.0.1", "999.1.1.1", "a b")
	f.Add("", "", false, true, "", "\n", "a'b", "")
	p := tempo.Product()
	h := hostileSeeds(p)[0]
	routes := p.Plan(h.observed(p)).Routes(&coordinator.RenderInput{Relations: map[string][]coordinator.Relation{}})
	f.Fuzz(func(t *testing.T, version, resolver string, ipv6, tls bool, a1, a2, a3, serverName string) {
		addrs := []string{a1, a2, a3}
		in := coordinator.NginxInput{
			Facts:  coordinator.NginxFacts{Version: version, Resolver: resolver, IPv6: ipv6},
			Routes: routes, AllAddresses: addrs, ServerName: serverName, TLS: tls, StatusPort: p.StatusPort,
			AddressesByRole: map[string][]string{"querier": {a1, a2}, "query-frontend": {a2, a3}, "distributor": {a3}, "ingester": addrs},
		}
		conf := coordinator.RenderNginx(in)
		var valid []string
		for _, a := range addrs {
			if coordinator.ValidHost(a) {
				valid = append(valid, a)
			}
		}
		if err := props.CheckNginx(conf, valid); err != nil {
			t.Fatalf("%v\n%s", err, conf)
		}
	})
}

// FuzzRequestedReceivers: whatever a tracing requirer publishes, only
// known receivers are served and the warnings are printable lines.
func FuzzRequestedReceivers(f *testing.F) {
	f.Add(`["otlp_grpc","zipkin"]`, `["jaeger_thrift_http"]`)
	f.Add(`["otlp_grpc\n`+props.Marker+`"]`, `{"a":1}`)
	f.Add(`[`+strings.Repeat(`"x",`, 100)+`"y"]`, `null`)
	f.Fuzz(func(t *testing.T, a, b string) {
		rels := []coordinator.Relation{{ID: 1, Endpoint: tempo.TracingEndpoint, RemoteApp: "a", AppData: map[string]string{"receivers": a}},
			{ID: 2, Endpoint: tempo.TracingEndpoint, RemoteApp: "b", AppData: map[string]string{"receivers": b}}}
		got, warnings := tempo.RequestedReceivers(rels, tempo.Options{})
		for _, r := range got {
			if !r.Known() {
				t.Fatalf("unknown receiver %q served", r)
			}
		}
		for _, w := range warnings {
			if err := props.CheckText(w, ""); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzOptions: the juju config of either product (typed JSON values) never
// crashes the option parsers, and an invalid option is named in printable
// text.
func FuzzOptions(f *testing.F) {
	f.Add(`{"retention-period": 720, "always_enable_zipkin": true}`)
	f.Add(`{"retention_period": "1h", "deletion_delay": "-1s", "retention-period": -1}`)
	f.Add(`{"retention-period": 1e300, "retention_period": "` + props.Marker + `\n"}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var config map[string]any
		if json.Unmarshal([]byte(raw), &config) != nil {
			return
		}
		_, statuses := tempo.ParseOptions(config)
		for _, s := range statuses {
			if err := props.CheckText(s.Message, ""); err != nil {
				t.Fatal(err)
			}
		}
		_, invalid := pyroscope.ParseOptions(config)
		for _, s := range invalid {
			if err := props.CheckText(s, ""); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzUnresolvedHost: whatever nginx printed, the host picked is one of
// those nginx.conf names.
func FuzzUnresolvedHost(f *testing.F) {
	f.Add(`nginx: [emerg] host not found in upstream "w-0.example:3200" in /etc/nginx/nginx.conf:9`)
	f.Add(`host not found in upstream "[fd00::1]:3200"`)
	f.Add(`host not found in upstream "W-0.EXAMPLE."`)
	hosts := []string{"w-0.example", "fd00::1"}
	f.Fuzz(func(t *testing.T, out string) {
		if got := coordinator.UnresolvedHost(out, hosts); got != "" && got != "w-0.example" && got != "fd00::1" {
			t.Fatalf("picked %q", got)
		}
	})
}
