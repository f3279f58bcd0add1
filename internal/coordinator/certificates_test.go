package coordinator_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/pyroscope"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// tlsMaterial is a fixed key, request, certificate (valid 2026–2126) and
// CA for tempo/0 with one worker, tempo-worker/0 (testdata/tls).
type tlsMaterial struct {
	Key, CSR, Cert, CA string
}

func loadTLSMaterial(t *testing.T) tlsMaterial {
	t.Helper()
	raw, err := os.ReadFile("testdata/tls/material.json")
	if err != nil {
		t.Fatal(err)
	}
	var m tlsMaterial
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const testSecretID = "secret:d0000000000000000001"

// jsAny encodes any value as JSON.
func jsAny(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// certificatesRelation is a provider that answered with certs.
func certificatesRelation(certs any, requestErrors any) coordinator.Relation {
	data := map[string]string{}
	if certs != nil {
		data["certificates"] = jsAny(certs)
	}
	if requestErrors != nil {
		data["request_errors"] = jsAny(requestErrors)
	}
	return coordinator.Relation{ID: 9, Endpoint: coordinator.CertificatesEndpoint, RemoteApp: "self-signed-certificates", AppData: data,
		Units: map[string]map[string]string{"self-signed-certificates/0": {}}}
}

// tlsObserved is tempo/0 with one worker, S3 and a certificates relation
// whose provider answered with m.Cert for m.CSR.
func tlsObserved(m tlsMaterial, issued bool) *coordinator.Observed {
	var certs any = []any{}
	if issued {
		certs = []map[string]any{{"ca": m.CA, "certificate_signing_request": m.CSR, "certificate": m.Cert, "chain": []string{m.Cert, m.CA}}}
	}
	o := observed([]coordinator.Relation{worker(1, "tempo-worker", "all", 1)}, withS3(map[string][]coordinator.Relation{
		coordinator.CertificatesEndpoint: {certificatesRelation(certs, nil)},
		coordinator.MetricsEndpoint:      {{ID: 11, Endpoint: coordinator.MetricsEndpoint, RemoteApp: "prometheus"}},
		tempo.TracingEndpoint:            {tracingRelation(12)},
	}))
	o.TLS = coordinator.TLSState{PrivateKey: m.Key, KeySecretID: testSecretID, CSR: m.CSR}
	o.Now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	return o
}

func TestCertificatesGolden(t *testing.T) {
	m := loadTLSMaterial(t)
	d := coordinator.Reconcile(tempo.Product(), tlsObserved(m, true))
	if d.Input.TLS == nil {
		t.Fatalf("no TLS: %+v", d.Statuses)
	}
	checkGolden(t, "engine/tls.golden", []byte(describeDesired(d)))
	checkGolden(t, "engine/tls-nginx.conf", d.Nginx.Config)
	if d.TLS.NewKey || d.TLS.NewCSR != nil {
		t.Errorf("nothing to make, got %+v", d.TLS)
	}
	if want := []int{1}; len(d.TLS.Grants) != 1 || d.TLS.Grants[0] != want[0] {
		t.Errorf("grants %v, want %v", d.TLS.Grants, want)
	}
	if string(d.Nginx.Files[coordinator.NginxKeyPath]) != m.Key+"\n" || string(d.Nginx.Files[coordinator.NginxCertPath]) != m.Cert+"\n" ||
		string(d.Nginx.Files[coordinator.NginxCAPath]) != m.CA+"\n" {
		t.Error("nginx files are not the certificate, key and CA")
	}
	for _, w := range d.Databags {
		for k, v := range w.Data {
			if strings.Contains(v, "PRIVATE KEY") {
				t.Errorf("%s %s holds the private key", w.Endpoint, k)
			}
		}
	}
}

func TestCertificatesDecisions(t *testing.T) {
	m := loadTLSMaterial(t)
	cases := []struct {
		name  string
		edit  func(o *coordinator.Observed)
		check func(t *testing.T, d *coordinator.Desired)
	}{
		{"no key: a key and a request are made", func(o *coordinator.Observed) {
			o.TLS = coordinator.TLSState{}
		}, func(t *testing.T, d *coordinator.Desired) {
			if !d.TLS.NewKey || d.TLS.NewCSR == nil || d.Input.TLS != nil {
				t.Errorf("plan %+v tls %v", d.TLS, d.Input.TLS)
			}
			want := coordinator.CSRAttributes{CommonName: "tempo", DNSNames: []string{
				"tempo-0.tempo-endpoints.m.svc.cluster.local", "tempo-worker-0.tempo-worker-endpoints.m.svc.cluster.local", "tempo.m.svc.cluster.local"}}
			if jsAny(*d.TLS.NewCSR) != jsAny(want) {
				t.Errorf("request %+v, want %+v", *d.TLS.NewCSR, want)
			}
			wantStatus(t, d, coordinator.Waiting, "[certificates] Waiting for a certificate from self-signed-certificates (serving without TLS until then)")
			if got := find(d, coordinator.CertificatesEndpoint); len(got) != 1 || len(got[0].Data) != 0 {
				t.Errorf("certificates databag %+v", got)
			}
		}},
		{"garbage key: replaced", func(o *coordinator.Observed) {
			o.TLS.PrivateKey = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"
		}, func(t *testing.T, d *coordinator.Desired) {
			if !d.TLS.NewKey || !strings.Contains(strings.Join(d.Logs, "\n"), "unusable") {
				t.Errorf("plan %+v logs %v", d.TLS, d.Logs)
			}
			if strings.Contains(strings.Join(d.Logs, "\n"), "AAAA") {
				t.Error("the key is logged")
			}
		}},
		{"a worker joined: new request, previous certificate still served", func(o *coordinator.Observed) {
			o.Relations["tempo-cluster"] = []coordinator.Relation{worker(1, "tempo-worker", "all", 2)}
			o.TLS.Served = jsAny(map[string]string{"cert": m.Cert, "ca": m.CA, "csr": m.CSR})
			// The provider dropped the certificate of the old request.
			o.Relations[coordinator.CertificatesEndpoint] = []coordinator.Relation{certificatesRelation([]any{}, nil)}
		}, func(t *testing.T, d *coordinator.Desired) {
			if d.TLS.NewCSR == nil || !strings.Contains(jsAny(d.TLS.NewCSR.DNSNames), "tempo-worker-1.") {
				t.Errorf("request %+v", d.TLS.NewCSR)
			}
			if d.Input.TLS == nil || d.Input.TLS.ServerCert != m.Cert || !strings.Contains(string(d.Nginx.Config), " ssl;") {
				t.Error("the previous certificate is not served")
			}
		}},
		{"revoked: new request, not served", func(o *coordinator.Observed) {
			o.TLS.Served = jsAny(map[string]string{"cert": m.Cert, "ca": m.CA, "csr": m.CSR})
			o.Relations[coordinator.CertificatesEndpoint] = []coordinator.Relation{certificatesRelation([]map[string]any{
				{"ca": m.CA, "certificate_signing_request": m.CSR, "certificate": m.Cert, "revoked": true}}, nil)}
		}, func(t *testing.T, d *coordinator.Desired) {
			if d.TLS.NewCSR == nil || d.Input.TLS != nil || strings.Contains(string(d.Nginx.Config), "ssl") {
				t.Errorf("plan %+v tls %v", d.TLS, d.Input.TLS)
			}
		}},
		{"due for renewal: new request, still served", func(o *coordinator.Observed) {
			o.Now = time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC)
		}, func(t *testing.T, d *coordinator.Desired) {
			if d.TLS.NewCSR == nil || d.Input.TLS == nil {
				t.Errorf("plan %+v tls %v", d.TLS, d.Input.TLS)
			}
		}},
		{"expired: not served", func(o *coordinator.Observed) {
			o.Now = time.Date(2127, 1, 1, 0, 0, 0, 0, time.UTC)
			o.TLS.Served = jsAny(map[string]string{"cert": m.Cert, "ca": m.CA, "csr": m.CSR})
		}, func(t *testing.T, d *coordinator.Desired) {
			if d.TLS.NewCSR == nil || d.Input.TLS != nil {
				t.Errorf("plan %+v tls %v", d.TLS, d.Input.TLS)
			}
		}},
		{"provider error (library spelling)", func(o *coordinator.Observed) {
			o.Relations[coordinator.CertificatesEndpoint] = []coordinator.Relation{certificatesRelation(nil, []map[string]any{
				{"csr": m.CSR, "error": map[string]any{"code": 101, "name": "domain_not_allowed", "message": "m.svc.cluster.local\nis not allowed"}}})}
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Blocked, "[certificates] self-signed-certificates refused the certificate request: domain_not_allowed: m.svc.cluster.local")
		}},
		{"provider error (schema spelling)", func(o *coordinator.Observed) {
			o.Relations[coordinator.CertificatesEndpoint] = []coordinator.Relation{certificatesRelation(nil, []map[string]any{
				{"certificate_signing_request": m.CSR, "error": map[string]any{"code": 102}}})}
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Blocked, "[certificates] self-signed-certificates refused the certificate request: error 102")
		}},
		{"provider error about another request: ignored", func(o *coordinator.Observed) {
			o.Relations[coordinator.CertificatesEndpoint] = []coordinator.Relation{certificatesRelation(nil, []map[string]any{
				{"csr": "other", "error": map[string]any{"code": 101}}})}
		}, func(t *testing.T, d *coordinator.Desired) {
			wantStatus(t, d, coordinator.Waiting, "[certificates] Waiting for a certificate from self-signed-certificates (serving without TLS until then)")
		}},
		{"garbage provider data", func(o *coordinator.Observed) {
			o.Relations[coordinator.CertificatesEndpoint][0].AppData["certificates"] = "{not json"
			o.Relations[coordinator.CertificatesEndpoint][0].AppData["request_errors"] = "[1,2"
		}, func(t *testing.T, d *coordinator.Desired) {
			if d.Input.TLS != nil || !strings.Contains(strings.Join(d.Logs, "\n"), "unparseable certificates") {
				t.Errorf("tls %v logs %v", d.Input.TLS, d.Logs)
			}
		}},
		{"a certificate for another key: ignored", func(o *coordinator.Observed) {
			o.Relations[coordinator.CertificatesEndpoint] = []coordinator.Relation{certificatesRelation([]map[string]any{
				{"ca": m.CA, "certificate_signing_request": m.CSR, "certificate": certForOtherKey(t)}}, nil)}
		}, func(t *testing.T, d *coordinator.Desired) {
			if d.Input.TLS != nil {
				t.Error("served a certificate that is not for our key")
			}
		}},
		{"non-leader: own certificate, no worker data, no grants", func(o *coordinator.Observed) {
			o.Leader = false
		}, func(t *testing.T, d *coordinator.Desired) {
			if d.Input.TLS == nil || len(d.TLS.Grants) != 0 {
				t.Errorf("tls %v grants %v", d.Input.TLS, d.TLS.Grants)
			}
			for _, w := range d.Databags {
				if w.App {
					t.Errorf("app write by a non-leader: %s", w.Endpoint)
				}
			}
			if len(find(d, coordinator.CertificatesEndpoint)) != 1 {
				t.Error("the unit's request is not published")
			}
		}},
		{"no relation: plain", func(o *coordinator.Observed) {
			delete(o.Relations, coordinator.CertificatesEndpoint)
		}, func(t *testing.T, d *coordinator.Desired) {
			if d.Input.TLS != nil || d.TLS.Requested || d.Nginx.Files != nil || strings.Contains(string(d.Nginx.Config), "ssl") {
				t.Errorf("plan %+v", d.TLS)
			}
			for _, w := range find(d, "tempo-cluster") {
				if _, ok := w.Data["ca_cert"]; ok {
					t.Error("ca_cert without TLS")
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := tlsObserved(m, true)
			c.edit(o)
			c.check(t, coordinator.Reconcile(tempo.Product(), o))
		})
	}
}

func TestCertificatesURLs(t *testing.T) {
	m := loadTLSMaterial(t)
	d := coordinator.Reconcile(tempo.Product(), tlsObserved(m, true))
	text := describeDesired(d)
	for _, want := range []string{`"url":"https://tempo.m.svc.cluster.local:4318"`, `"scheme":"https"`} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %s in\n%s", want, text)
		}
	}
	if strings.Contains(text, "http://tempo.") {
		t.Errorf("a plain URL under TLS:\n%s", text)
	}
}

func TestCertificatesPyroscopeTerminatesAtNginx(t *testing.T) {
	m := loadTLSMaterial(t)
	o := tlsObserved(m, true)
	o.App, o.Unit = "tempo", "tempo/0" // the fixture's names
	o.Relations["pyroscope-cluster"] = []coordinator.Relation{pyroscopeWorker(1)}
	delete(o.Relations, "tempo-cluster")
	o.Relations[pyroscope.ProfilingEndpoint] = []coordinator.Relation{{ID: 13, Endpoint: pyroscope.ProfilingEndpoint, RemoteApp: "app"}}
	d := coordinator.Reconcile(pyroscope.Product(), o)
	conf := string(d.Nginx.Config)
	if !strings.Contains(conf, "listen 8080 ssl;") || strings.Contains(conf, "https://") || strings.Contains(conf, "grpcs://") {
		t.Errorf("nginx.conf:\n%s", conf)
	}
	for _, w := range find(d, pyroscope.ProfilingEndpoint) {
		if w.Data["insecure"] != "false" {
			t.Errorf("profiling databag %v", w.Data)
		}
	}
	if !strings.HasPrefix(coordinator.Summarize(d.Statuses, d.ActiveMessage).Message, "UI ready at https://") {
		t.Errorf("status %v", coordinator.Summarize(d.Statuses, d.ActiveMessage))
	}
}

// pyroscopeWorker is a monolithic Pyroscope worker at tempo-worker-0's
// address (the fixture certificate's SAN).
func pyroscopeWorker(id int) coordinator.Relation {
	unit := "tempo-worker/0"
	return coordinator.Relation{ID: id, Endpoint: "pyroscope-cluster", RemoteApp: "tempo-worker",
		AppData: map[string]string{"role": js("all")},
		Units:   map[string]map[string]string{unit: {"address": js(unitFQDN("tempo-worker", 0)), "juju_topology": topology("tempo-worker", unit)}}}
}

// certForOtherKey is a valid certificate whose key is not the fixture's.
func certForOtherKey(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "tempo"},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2126, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
}

// TestCertificatesServerNameWhilePending: a worker whose address sorts
// first joins; until its certificate arrives the workers serve the
// previous one, which does not hold that address, so their clients must
// keep verifying peers against a name it does hold.
func TestCertificatesServerNameWhilePending(t *testing.T) {
	m := loadTLSMaterial(t)
	first := coordinator.Reconcile(tempo.Product(), tlsObserved(m, true))
	o := tlsObserved(m, true)
	o.TLS.Served = first.TLS.Served
	rel := &o.Relations["tempo-cluster"][0]
	rel.Units["tempo-worker/1"] = map[string]string{"address": js("a-first.tempo-worker-endpoints.m.svc.cluster.local"),
		"juju_topology": topology("tempo-worker", "tempo-worker/1")}
	d := coordinator.Reconcile(tempo.Product(), o)
	if d.TLS.NewCSR == nil || d.Input.TLS == nil {
		t.Fatalf("want a new request while the previous certificate serves: plan %+v", d.TLS)
	}
	var cfg string
	if err := json.Unmarshal([]byte(find(d, "tempo-cluster")[0].Data["worker_config"]), &cfg); err != nil {
		t.Fatal(err)
	}
	want := "tls_server_name: " + unitFQDN("tempo-worker", 0)
	if n := strings.Count(cfg, "tls_server_name: "); n == 0 || n != strings.Count(cfg, want) {
		t.Errorf("every tls_server_name must be %q (in the served certificate):\n%s", want, cfg)
	}
	if !strings.Contains(cfg, "- a-first.tempo-worker-endpoints.m.svc.cluster.local:7946") {
		t.Errorf("the new worker is not a member:\n%s", cfg)
	}
}

// TestIsRootCA: nginx verifies the workers' certificates only against a
// self-signed CA, the one anchor OpenSSL accepts on its own.
func TestIsRootCA(t *testing.T) {
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	issue := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, string) {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	rootKey, interKey, leafKey := newKey(), newKey(), newKey()
	ca := func(serial int64, name string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, IsCA: true,
			BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	root, rootPEM := issue(ca(1, "root"), nil, &rootKey.PublicKey, rootKey)
	inter, interPEM := issue(ca(2, "intermediate"), root, &interKey.PublicKey, rootKey)
	_, leafPEM := issue(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "tempo"}}, inter, &leafKey.PublicKey, interKey)
	_, selfLeafPEM := issue(&x509.Certificate{SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "self"}}, nil, &leafKey.PublicKey, leafKey)
	for _, tt := range []struct {
		what string
		pem  string
		want bool
	}{
		{"a root CA", rootPEM, true},
		{"an intermediate CA", interPEM, false},
		{"a leaf", leafPEM, false},
		{"a self-signed leaf", selfLeafPEM, false},
		{"garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", false},
		{"nothing", "", false},
	} {
		if got := coordinator.IsRootCA(tt.pem); got != tt.want {
			t.Errorf("%s: IsRootCA = %v, want %v", tt.what, got, tt.want)
		}
	}
}
