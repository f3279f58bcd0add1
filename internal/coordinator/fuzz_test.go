package coordinator_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/pyroscope"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
	"github.com/tempo-coordinator/coordinator/internal/testenv/props"
)

// hostile is a model whose every databag value comes from the fuzzer.
type hostile struct {
	Leader, NginxUp, IPv6                                                  bool
	Version, Resolver                                                      string
	Role1, Addr1, Addr2, Topology, Role2, Addr3                            string
	S3Endpoint, Bucket, AccessKey, SecretKey, Region, URIStyle, CA, Config string
	AppData, UnitData                                                      string
	// PrivateKey is the unit's TLS key as read from its secret.
	PrivateKey string
	// CSR is the certificate request the unit last published (with the
	// provider's "certificates" in AppData, the certificate it serves).
	CSR string
}

// observed builds the coordinator's view: two worker applications, an S3
// provider, and one relation on every other endpoint of the product whose
// app and unit databags are AppData and UnitData (JSON objects).
func (h hostile) observed(p *coordinator.Product) *coordinator.Observed {
	topo := func(unit string) map[string]string {
		return map[string]string{"address": "", "juju_topology": h.Topology}
	}
	units1 := map[string]map[string]string{"w1/0": topo("w1/0"), "w1/1": topo("w1/1")}
	units1["w1/0"]["address"], units1["w1/1"]["address"] = h.Addr1, h.Addr2
	units2 := map[string]map[string]string{"w2/0": topo("w2/0")}
	units2["w2/0"]["address"] = h.Addr3
	rels := map[string][]coordinator.Relation{
		p.ClusterEndpoint: {
			{ID: 1, Endpoint: p.ClusterEndpoint, RemoteApp: "w1", AppData: map[string]string{"role": h.Role1}, Units: units1},
			{ID: 2, Endpoint: p.ClusterEndpoint, RemoteApp: "w2", AppData: map[string]string{"role": h.Role2}, Units: units2},
		},
	}
	s3 := map[string]string{}
	for k, v := range map[string]string{"endpoint": h.S3Endpoint, "bucket": h.Bucket, "access-key": h.AccessKey,
		"secret-key": h.SecretKey, "region": h.Region, "s3-uri-style": h.URIStyle, "tls-ca-chain": h.CA} {
		if v != "" {
			s3[k] = v
		}
	}
	rels[coordinator.S3Endpoint] = []coordinator.Relation{{ID: 3, Endpoint: coordinator.S3Endpoint, RemoteApp: "s3", AppData: s3,
		Units: map[string]map[string]string{"s3/0": {}}}}
	var app, unit map[string]string
	_ = json.Unmarshal([]byte(h.AppData), &app)
	_ = json.Unmarshal([]byte(h.UnitData), &unit)
	for i, ep := range p.Endpoints() {
		if ep.Name == p.ClusterEndpoint || ep.Name == coordinator.S3Endpoint {
			continue
		}
		rels[ep.Name] = []coordinator.Relation{{ID: 10 + i, Endpoint: ep.Name, RemoteApp: "other",
			AppData: app, Units: map[string]map[string]string{"other/0": unit}}}
	}
	var config map[string]any
	_ = json.Unmarshal([]byte(h.Config), &config)
	o := &coordinator.Observed{
		Model: "m", ModelUUID: "11111111-1111-4111-8111-111111111111", App: p.Name, Unit: p.Name + "/0",
		Leader: h.Leader, Config: config, Relations: rels,
		AppFQDN: p.Name + ".m.svc.cluster.local", UnitFQDN: p.Name + "-0." + p.Name + "-endpoints.m.svc.cluster.local",
	}
	if h.NginxUp {
		o.Nginx = &coordinator.NginxFacts{Version: h.Version, Resolver: h.Resolver, IPv6: h.IPv6}
	}
	o.TLS.PrivateKey, o.TLS.CSR = h.PrivateKey, h.CSR
	o.Now = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	return o
}

func (h hostile) strings() []string {
	return []string{h.Version, h.Resolver, h.Role1, h.Addr1, h.Addr2, h.Topology, h.Role2, h.Addr3, h.S3Endpoint, h.Bucket,
		h.AccessKey, h.Region, h.URIStyle, h.CA, h.Config, h.AppData, h.UnitData}
}

// js encodes a databag value the way charms do.
func jsv(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func hostileSeeds(p *coordinator.Product) []hostile {
	topo := jsv(map[string]string{"model": "m", "application": "w1", "unit": "w1/0", "charm_name": "worker"})
	good := hostile{Leader: true, NginxUp: true, Version: "1.22.1", Resolver: "10.152.183.10",
		Role1: jsv("all"), Addr1: jsv("w1-0.w1-endpoints.m.svc.cluster.local"), Addr2: jsv("10.1.0.7"), Topology: topo,
		Role2: jsv("querier"), Addr3: jsv("fd00::3"),
		S3Endpoint: "http://minio.m.svc.cluster.local:9000", Bucket: "traces", AccessKey: "AKIAEXAMPLE",
		SecretKey: "s3cr3t-Value-that-is-long", Region: "eu-west-1", URIStyle: "path",
		Config:   `{"retention-period": 720, "retention_period": "720h", "always_enable_zipkin": true}`,
		AppData:  jsv(map[string]string{"receivers": `["otlp_grpc","zipkin","jaeger_thrift_http"]`}),
		UnitData: jsv(map[string]string{"remote_write": `{"url": "http://prom.m.svc.cluster.local:9090/api/v1/write"}`}),
	}
	evil := good
	evil.Addr1 = jsv("x;} server { listen 1; " + props.Marker)
	evil.Addr2 = jsv("999.1.1.1")
	evil.Role1 = jsv("all\n" + props.Marker + ": 1")
	evil.Role2 = jsv("querier")
	evil.Addr3 = jsv("a\nINJECTED: {}")
	evil.Topology = `{"application": "w1\n` + props.Marker + `: x", "unit": "w1/0"}`
	evil.Bucket = "b\n" + props.Marker + ": x"
	evil.S3Endpoint = "http://minio:9000/\n" + props.Marker + ": x"
	evil.Region = "r'" + props.Marker
	evil.CA = "-----BEGIN CERTIFICATE-----\n" + props.Marker + ": x\n-----END CERTIFICATE-----"
	evil.AppData = jsv(map[string]string{"receivers": `["otlp_grpc\n` + props.Marker + `"]`})
	evil.UnitData = jsv(map[string]string{"remote_write": `{"url": "http://x/;} INJECTED {"}`})
	unicode := good
	unicode.SecretKey = "sécret-ключ-\u2028-long-enough"
	unicode.Addr1 = jsv("Ӂ.example")
	unicode.Bucket = "b\xff"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	integrations := good
	integrations.PrivateKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	integrations.AppData = jsv(map[string]string{
		"receivers":     `[{"protocol": {"name": "otlp_http", "type": "http"}, "url": "http://tempo.m.svc:4318"}]`,
		"external_host": "ingress.example.com", "scheme": "https", "tls_enabled": "true",
		"certificates": `[]`, "grafana_uid": "g-1", "app_datasource_uid": "ds-1",
	})
	integrations.UnitData = jsv(map[string]string{
		"endpoint":     `{"url": "http://loki-0.loki-endpoints.m.svc.cluster.local:3100/loki/api/v1/push"}`,
		"fqdn":         jsv("tempo-1.tempo-endpoints.m.svc.cluster.local"),
		"remote_write": `{"url": "http://prom.m.svc.cluster.local:9090/api/v1/write"}`,
	})
	served := integrations
	served.CSR, served.AppData = servedCertificate(p, served, key)
	hostileKey := integrations
	hostileKey.PrivateKey = "-----BEGIN PRIVATE KEY-----\n" + props.Marker + "\n-----END PRIVATE KEY-----\n"
	partial := good
	partial.NginxUp, partial.Leader, partial.SecretKey, partial.Role2 = false, false, "", ""
	seeds := []hostile{good, evil, unicode, partial, integrations, hostileKey, served}
	if p.Name == "pyroscope" {
		for i := range seeds {
			seeds[i].Role2 = jsv("querier,query-frontend")
		}
	}
	return seeds
}

// servedCertificate returns, for a model like h whose unit key is key, the
// unit's certificate request for its names and the provider's app data
// answering it with a certificate signed by a test CA: the seed from which
// the fuzzer explores TLS (nginx's TLS listeners, the workers' TLS config,
// the certificates relation's data).
func servedCertificate(p *coordinator.Product, h hostile, key *ecdsa.PrivateKey) (csrPEM, appData string) {
	o := h.observed(p)
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: o.App}, DNSNames: []string{o.AppFQDN, o.UnitFQDN}}
	for _, raw := range []string{h.Addr1, h.Addr2, h.Addr3} {
		var addr string
		_ = json.Unmarshal([]byte(raw), &addr)
		if ip := net.ParseIP(addr); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, addr)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		panic(err)
	}
	csrPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	notBefore := o.Now.Add(-time.Hour)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: notBefore, NotAfter: notBefore.Add(10 * 24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		panic(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: tmpl.Subject, DNSNames: tmpl.DNSNames, IPAddresses: tmpl.IPAddresses,
		NotBefore: notBefore, NotAfter: notBefore.Add(10 * 24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		panic(err)
	}
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	var app map[string]string
	_ = json.Unmarshal([]byte(h.AppData), &app)
	app["certificates"] = jsv([]map[string]string{{"ca": caPEM, "certificate_signing_request": csrPEM,
		"certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})), "chain": jsv([]string{caPEM})}})
	return csrPEM, jsv(app)
}

func fuzzReconcile(f *testing.F, p *coordinator.Product) {
	for _, h := range hostileSeeds(p) {
		f.Add(h.Leader, h.NginxUp, h.IPv6, h.Version, h.Resolver, h.Role1, h.Addr1, h.Addr2, h.Topology, h.Role2, h.Addr3,
			h.S3Endpoint, h.Bucket, h.AccessKey, h.SecretKey, h.Region, h.URIStyle, h.CA, h.Config, h.AppData, h.UnitData, h.PrivateKey, h.CSR)
	}
	f.Fuzz(func(t *testing.T, leader, nginxUp, ipv6 bool, version, resolver, role1, addr1, addr2, topo, role2, addr3,
		s3Endpoint, bucket, accessKey, secretKey, region, uriStyle, ca, config, appData, unitData, privateKey, csr string) {
		h := hostile{leader, nginxUp, ipv6, version, resolver, role1, addr1, addr2, topo, role2, addr3,
			s3Endpoint, bucket, accessKey, secretKey, region, uriStyle, ca, config, appData, unitData, privateKey, csr}
		checkReconcile(t, p, h)
	})
}

// FuzzReconcileTempo runs the whole engine over a hostile model.
func FuzzReconcileTempo(f *testing.F) { fuzzReconcile(f, tempo.Product()) }

// FuzzReconcilePyroscope runs the whole engine over a hostile model.
func FuzzReconcilePyroscope(f *testing.F) { fuzzReconcile(f, pyroscope.Product()) }

func checkReconcile(t *testing.T, p *coordinator.Product, h hostile) {
	o := h.observed(p)
	// A hook has minutes; Reconcile on any input must take far less. A
	// panic in another goroutine ends the fuzz worker, which records the
	// input.
	watchdog := time.AfterFunc(10*time.Second, func() { panic("Reconcile took more than 10s on this input") })
	d := coordinator.Reconcile(p, o)
	watchdog.Stop()

	// Pure: the same model gives the same answer.
	again := coordinator.Reconcile(p, h.observed(p))
	if !reflect.DeepEqual(d.Statuses, again.Statuses) || !reflect.DeepEqual(d.Logs, again.Logs) ||
		!reflect.DeepEqual(d.Databags, again.Databags) || !reflect.DeepEqual(d.Nginx, again.Nginx) ||
		!reflect.DeepEqual(d.Ports, again.Ports) || string(d.WorkerConfig) != string(again.WorkerConfig) {
		t.Fatal("Reconcile is not a function of the model")
	}

	// The secret is checked only where it cannot appear by coincidence:
	// long enough, in no other input, and absent from what a model with
	// another secret gives.
	secret := ""
	if s3, _ := coordinator.ParseS3(o.Relations[coordinator.S3Endpoint][0]); s3 != nil && len(s3.SecretKey) >= 8 {
		secret = s3.SecretKey
		other := h
		other.SecretKey = `"zz-another-secret-zz"`
		od := coordinator.Reconcile(p, other.observed(p))
		if dump(od) != "" && strings.Contains(dump(od), secret) {
			secret = ""
		}
		for _, s := range h.strings() {
			if strings.Contains(s, secret) {
				secret = ""
			}
		}
	}

	// The private key goes to nginx's key file only.
	if key := h.PrivateKey; len(key) >= 32 && !slices.ContainsFunc(h.strings(), func(s string) bool { return strings.Contains(s, key) }) {
		if strings.Contains(dump(d), key) {
			t.Fatal("the private key reaches a log, a status, a databag, nginx.conf or the worker config")
		}
	}
	for _, line := range d.Logs {
		if err := props.CheckText(line, secret); err != nil {
			t.Fatalf("log: %v", err)
		}
	}
	for _, s := range d.Statuses {
		if err := props.CheckText(s.Message, secret); err != nil {
			t.Fatalf("status: %v", err)
		}
	}

	s3Ready := false
	if s3, _ := coordinator.ParseS3(o.Relations[coordinator.S3Endpoint][0]); s3 != nil {
		s3Ready = true
	}
	var published []string
	for _, w := range d.Databags {
		if w.App && !o.Leader {
			t.Fatalf("a non-leader writes the app databag of %s:%d", w.Endpoint, w.RelationID)
		}
		for k, v := range w.Data {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("databag %s:%d %q holds invalid UTF-8", w.Endpoint, w.RelationID, k)
			}
			if w.Endpoint == p.ClusterEndpoint && k == p.ConfigKey {
				published = append(published, v)
				continue
			}
			if secret != "" && strings.Contains(v, secret) {
				t.Fatalf("the secret reaches databag %s:%d key %q", w.Endpoint, w.RelationID, k)
			}
		}
	}
	if len(published) > 0 {
		if !s3Ready || !d.Consistent {
			t.Fatal("a worker config is published without S3 or with a required role missing")
		}
		for _, v := range published {
			if v != published[0] {
				t.Fatal("the workers are sent different configs")
			}
		}
		var cfg string
		if err := json.Unmarshal([]byte(published[0]), &cfg); err != nil || cfg != string(d.WorkerConfig) {
			t.Fatalf("published config is not the JSON string of the worker config: %v", err)
		}
	}
	if d.WorkerConfig != nil {
		if err := props.CheckWorkerYAML(d.WorkerConfig, secret); err != nil {
			t.Fatalf("%v\n%s", err, d.WorkerConfig)
		}
	}
	if d.Nginx != nil {
		if secret != "" && strings.Contains(string(d.Nginx.Config), secret) {
			t.Fatal("the secret reaches nginx.conf")
		}
		var workers []string
		for _, u := range d.Input.Cluster.Units() {
			workers = append(workers, u.Address)
		}
		// The worker telemetry proxy also routes to the destinations the
		// relations offer (validated URLs).
		workers = append(workers, telemetryHosts(d)...)
		if err := props.CheckNginx(d.Nginx.Config, workers); err != nil {
			t.Fatalf("%v\n%s", err, d.Nginx.Config)
		}
		sampleNginxT(t, d.Nginx.Config, o.Nginx.Version)
	}
}

func dump(d *coordinator.Desired) string {
	var b strings.Builder
	b.Write(d.WorkerConfig)
	if d.Nginx != nil {
		b.Write(d.Nginx.Config)
	}
	fmt.Fprint(&b, d.Logs, d.Statuses, d.Databags)
	return b.String()
}

var nginxTRuns, nginxTChecked int

// sampleNginxT runs Debian's nginx -t on some rendered configs: every seed
// when the targets run as tests, one input in 2000 while fuzzing, when the
// config was rendered for an nginx no newer than Debian's 1.22 (see
// props.NginxT). Not under -short; with SANDBOX_REQUIRED=1 a missing nginx
// fails.
func sampleNginxT(t *testing.T, conf []byte, version string) {
	fuzzing := flag.Lookup("test.fuzz") != nil && flag.Lookup("test.fuzz").Value.String() != ""
	nginxTRuns++
	if fuzzing && nginxTRuns%2000 != 1 || coordinator.NginxAtLeast(version, 1, 22, 2) {
		return
	}
	if testing.Short() {
		return
	}
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if prereq.Strict() {
			t.Fatal("nginx is not installed (make system-deps)")
		}
		return
	}
	if err := props.NginxT(bin, t.TempDir(), conf); err != nil {
		t.Fatalf("%v\n%s", err, conf)
	}
	nginxTChecked++
}

// TestFuzzSeedsReachTheRenderers makes sure the good seeds publish a
// worker config and pass nginx -t, so that the fuzz properties are
// exercised and not vacuously true.
func TestFuzzSeedsReachTheRenderers(t *testing.T) {
	for _, p := range []*coordinator.Product{tempo.Product(), pyroscope.Product()} {
		h := hostileSeeds(p)[0]
		d := coordinator.Reconcile(p, h.observed(p))
		if d.WorkerConfig == nil || d.Nginx == nil || !strings.Contains(string(d.Nginx.Config), "server 10.1.0.7:") {
			t.Fatalf("%s: the good seed publishes nothing: %v", p.Name, d.Statuses)
		}
		tls := hostileSeeds(p)[6]
		if d := coordinator.Reconcile(p, tls.observed(p)); d.TLS == nil || d.TLS.Served == "" || d.TLS.NewCSR != nil ||
			d.Nginx == nil || !strings.Contains(string(d.Nginx.Config), " ssl") {
			t.Fatalf("%s: the TLS seed serves no certificate: %v %+v", p.Name, d.Statuses, d.TLS)
		}
		if _, err := exec.LookPath("nginx"); err == nil && !testing.Short() {
			before := nginxTChecked
			checkReconcile(t, p, h)
			if nginxTChecked != before+1 {
				t.Errorf("%s: nginx -t did not run on the good seed", p.Name)
			}
		}
	}
}

// telemetryHosts are the hosts of the destinations of the workers'
// telemetry (remote-write, Loki, tracing) the engine accepted.
func telemetryHosts(d *coordinator.Desired) []string {
	in := d.Input
	var urls []string
	if tp, ok := d.Plan.Renderer.(*tempo.Plan); ok {
		urls = slices.Clone(tp.RemoteWriteURLs)
	}
	for _, m := range []map[string]string{in.Telemetry.Loki.Map(), in.Telemetry.CharmTracing, in.Telemetry.WorkloadTracing} {
		for _, u := range m {
			urls = append(urls, u)
		}
	}
	var hosts []string
	for _, raw := range urls {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
			hosts = append(hosts, u.Hostname())
		}
	}
	return hosts
}
