package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	workloadpkg "github.com/tempo-coordinator/coordinator/internal/workload"
)

// relateCertificates relates the coordinator to a simulated tls-certificates
// provider and lets it answer the unit's request.
func (c *coordinator) relateCertificates(p *jujusim.TLSProvider) *jujusim.Relation {
	c.t.Helper()
	rel := c.h.Model.AddRelation("certificates", "self-signed-certificates", nil, nil)
	c.hook("certificates-relation-created", jujusim.HookOptions{Relation: rel})
	rel.AddUnit("self-signed-certificates/0", nil)
	c.hook("certificates-relation-joined", jujusim.HookOptions{Relation: rel, RemoteUnit: "self-signed-certificates/0"})
	c.answerCertificates(p, rel)
	return rel
}

// answerCertificates lets the provider answer the unit's current request.
func (c *coordinator) answerCertificates(p *jujusim.TLSProvider, rel *jujusim.Relation) {
	c.t.Helper()
	if err := p.Sync(rel); err != nil {
		c.t.Fatal(err)
	}
	c.hook("certificates-relation-changed", jujusim.HookOptions{Relation: rel, RemoteUnit: "self-signed-certificates/0"})
}

// appFQDN is the coordinator application's in-cluster name (a SAN of its
// certificate).
func (c *coordinator) appFQDN() string {
	return c.h.Model.App() + "." + c.h.Model.Name + ".svc.cluster.local"
}

// statusOverTLS GETs nginx's status page at addr (in the coordinator's
// sandbox) over https with cfg.
func statusOverTLS(c *coordinator, addr string, cfg *tls.Config) error {
	tr := c.sb.HTTPTransport()
	tr.TLSClientConfig = cfg
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/status", nil)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// workersServeTLS checks that every worker unit serves its HTTP port over
// TLS with a certificate the test CA signed for its address (one of the
// published certificate's SANs), and refuses plain HTTP.
func workersServeTLS(t *testing.T, e *tempoEnv, p *jujusim.TLSProvider) {
	t.Helper()
	for _, u := range e.c.units() {
		client := e.n.httpClient()
		client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: p.CertPool()}
		resp, err := client.Get("https://" + u.ip + ":3200/ready")
		if err != nil {
			t.Fatalf("%s does not serve TLS with the published certificate: %v", u.name, err)
		}
		resp.Body.Close()
		resp, err = e.n.httpClient().Get("http://" + u.ip + ":3200/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s answers plain HTTP under TLS: %s", u.name, resp.Status)
			}
		}
	}
}

// TestTempoTLS: a certificates relation to a provider with a test CA. Real
// Tempo workers serve TLS with the certificate and key the coordinator
// published (the key from the granted secret, written where the worker
// charm writes it); spans go in over HTTPS and gRPC over TLS through nginx
// and are read back over HTTPS by a client trusting only the test CA. A
// worker is added (a new request for the new SANs: nginx keeps serving TLS
// with the previous certificate until the new one arrives), then the
// relation is removed: back to plain HTTP, the traces still readable.
func TestTempoTLS(t *testing.T) {
	e := newTempoEnv(t)
	w := e.c.addWorker(e.n, "tempo-worker", "all", 1)
	provider, err := jujusim.NewTLSProvider()
	if err != nil {
		t.Fatal(err)
	}
	certs := e.c.relateCertificates(provider)
	if !strings.HasPrefix(e.c.status(), "active") || w.rel.LocalAppData["server_cert"] == "" {
		t.Fatalf("TLS not on: status %s", e.c.status())
	}
	trusting := &tls.Config{RootCAs: provider.CertPool(), ServerName: e.c.appFQDN()}
	if err := e.client.useTLS(trusting); err != nil {
		t.Fatal(err)
	}
	e.sync()
	workersServeTLS(t, e, provider)
	// nginx verifies the workers' certificates (the test CA is a root):
	// every span below went through that verification.
	confPath, err := e.c.sb.HostPath(workloadpkg.NginxConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"proxy_ssl_verify on;", "grpc_ssl_verify on;", "_ssl_name " + e.c.appFQDN() + ";"} {
		if !strings.Contains(string(conf), d) {
			t.Fatalf("nginx.conf under TLS lacks %q:\n%s", d, conf)
		}
	}
	traces := e.send("e2e-tls")
	found, first := e.readBack(traces, "", true)
	// Prometheus and Parca reach the workers with the scheme (and, for
	// Parca, the CA) the coordinator published.
	scraped := e.c.scrapeWorkers(e.n, provider.CertPool())
	profiled := e.c.profileWorkers(e.n)

	// A client that does not trust the test CA is refused.
	if err := statusOverTLS(e.c, nginxTempoAPI, &tls.Config{ServerName: e.c.appFQDN()}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the test CA: %v", err)
	}

	// A worker joins: the request changes; TLS keeps serving meanwhile.
	e.c.addUnit(e.n, w)
	if err := statusOverTLS(e.c, nginxTempoAPI, trusting); err != nil {
		t.Fatalf("TLS dropped while the new certificate is pending: %v", err)
	}
	if w.rel.LocalAppData["server_cert"] == "" {
		t.Fatal("the workers lost their certificate while the new one is pending")
	}
	e.sync()
	e.c.answerCertificates(provider, certs)
	e.sync() // the new certificate (with the new worker's address)
	workersServeTLS(t, e, provider)
	more := e.send("e2e-tls-scaled")
	found2, _ := e.readBack(more, "", false)

	// The relation goes: plain HTTP again; what was written is readable.
	certs.Broken = true
	e.c.hook("certificates-relation-broken", jujusim.HookOptions{Relation: certs})
	e.c.h.Model.RemoveRelation(certs.ID)
	if w.rel.LocalAppData["privkey_secret_id"] != "" {
		t.Error("privkey_secret_id still published")
	}
	if err := e.client.useTLS(nil); err != nil {
		t.Fatal(err)
	}
	e.sync()
	found3, _ := e.readBack(append(traces, more...), "", false)
	report(t, "TLS: traces=%d spans sent=%d found=%d first read-back=%s scraped=%d profiled=%d (https); after a worker joined found=%d; after removal (plain) found=%d; total=%s status=%q",
		len(traces), spans(traces), found, first.Round(time.Millisecond), scraped, profiled, found2, found3, time.Since(e.start).Round(time.Second), e.c.status())
}

// TestPyroscopeTLS: the same for Pyroscope, where TLS ends at nginx (the
// workers serve plain HTTP). A profile goes in over HTTPS (/ingest) and
// one over OTLP gRPC over TLS, both are read back over HTTPS by a client
// trusting only the test CA; a worker unit is added (nginx keeps serving
// TLS while the new certificate is pending), then the relation is removed:
// back to plain HTTP, the profiles still readable.
func TestPyroscopeTLS(t *testing.T) {
	e := newPyroscopeEnv(t)
	w := e.c.addWorker(e.n, "pyroscope-worker", "all", 1)
	provider, err := jujusim.NewTLSProvider()
	if err != nil {
		t.Fatal(err)
	}
	certs := e.c.relateCertificates(provider)
	if !strings.HasPrefix(e.c.status(), "active") || !strings.Contains(e.c.status(), "https://") {
		t.Fatalf("TLS not on: status %s", e.c.status())
	}
	if w.rel.LocalAppData["server_cert"] == "" || w.rel.LocalAppData["privkey_secret_id"] == "" {
		t.Errorf("the workers did not get the certificate and key secret: %v", w.rel.LocalAppData)
	}
	trusting := &tls.Config{RootCAs: provider.CertPool(), ServerName: e.c.appFQDN()}
	e.useTLS(trusting)
	syncWorkers(t, e.c, e.n, e.kind)
	e.push("e2e-tls")
	found, first := e.readBack("e2e-tls")
	e.pushOTLP("e2e-tls-otlp")
	foundOTLP, _ := e.readBack("e2e-tls-otlp")

	for _, addr := range []string{nginxPyroscopeHTTP, nginxPyroscopeOTLPGRPC} {
		if err := statusOverTLS(e.c, addr, &tls.Config{ServerName: e.c.appFQDN()}); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s, a client without the test CA: %v", addr, err)
		}
	}

	// A worker joins: the request changes; TLS keeps serving meanwhile.
	e.c.addUnit(e.n, w)
	for _, addr := range []string{nginxPyroscopeHTTP, nginxPyroscopeOTLPGRPC} {
		if err := statusOverTLS(e.c, addr, trusting); err != nil {
			t.Fatalf("%s: TLS dropped while the new certificate is pending: %v", addr, err)
		}
	}
	syncWorkers(t, e.c, e.n, e.kind)
	e.c.answerCertificates(provider, certs)
	e.push("e2e-tls-scaled")
	found2, _ := e.readBack("e2e-tls-scaled")

	// The relation goes: plain HTTP again; what was written is readable.
	certs.Broken = true
	e.c.hook("certificates-relation-broken", jujusim.HookOptions{Relation: certs})
	e.c.h.Model.RemoveRelation(certs.ID)
	if w.rel.LocalAppData["privkey_secret_id"] != "" {
		t.Error("privkey_secret_id still published")
	}
	if strings.Contains(e.c.status(), "https://") {
		t.Errorf("status after the removal: %s", e.c.status())
	}
	e.useTLS(nil)
	syncWorkers(t, e.c, e.n, e.kind)
	found3, _ := e.readBack("e2e-tls")
	e.readBack("e2e-tls-scaled")
	report(t, "TLS: profiles=3 ingest over https found ticks=%d (first read-back=%s), otlp-grpc over TLS found ticks=%d; after a worker joined found=%d; after removal (plain) found=%d; total=%s status=%q",
		found, first.Round(time.Millisecond), foundOTLP, found2, found3, time.Since(e.start).Round(time.Second), e.c.status())
}
