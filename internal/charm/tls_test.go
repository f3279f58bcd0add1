package charm

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// tlsWorld is a coordinator unit with a worker, S3, a certificates
// relation to a simulated provider, a fake nginx and a clock.
type tlsWorld struct {
	t        *testing.T
	m        *jujusim.Model
	cluster  *jujusim.Relation
	certs    *jujusim.Relation
	provider *jujusim.TLSProvider
	nginx    *fakeNginx
	now      time.Time
	stderr   bytes.Buffer
}

func newTLSWorld(t *testing.T, leader bool) *tlsWorld {
	m, w := newModel(leader)
	p, err := jujusim.NewTLSProvider()
	require.NoError(t, err)
	rel := m.AddRelation(coordinator.CertificatesEndpoint, "self-signed-certificates", nil, map[string]map[string]string{"self-signed-certificates/0": {}})
	return &tlsWorld{t: t, m: m, cluster: w, certs: rel, provider: p, nginx: &fakeNginx{boot: "b"}, now: time.Now()}
}

func (w *tlsWorld) hook(name string) {
	w.t.Helper()
	var opts jujusim.HookOptions
	switch {
	case strings.HasPrefix(name, "certificates-relation-"):
		opts.Relation = w.certs
	case strings.HasPrefix(name, "tempo-cluster-relation-"):
		opts.Relation = w.cluster
	}
	err := jujusim.RunInProcess(context.Background(), w.m, name, opts, func(ctx context.Context, r juju.Runner, env map[string]string) error {
		hc, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "")
		require.NoError(w.t, err)
		c := &Charm{Product: tempo.Product(), Juju: juju.NewClient(r), Log: &w.stderr,
			Connect: func(string) (Container, error) { return w.nginx, nil },
			Now:     func() time.Time { return w.now }}
		return c.Run(ctx, hc)
	})
	require.NoError(w.t, err)
	w.assertKeyPrivate()
}

// sync lets the provider answer the unit's requests.
func (w *tlsWorld) sync() { require.NoError(w.t, w.provider.Sync(w.certs)) }

// certSecrets are the secrets holding a certificate (the library's
// label).
func (w *tlsWorld) certSecrets() []*jujusim.Secret {
	var out []*jujusim.Secret
	for _, s := range w.m.Secrets {
		if strings.Contains(s.Label, "-certificate-0-certificates-") {
			out = append(out, s)
		}
	}
	return out
}

// keySecrets counts the private key secrets.
func (w *tlsWorld) keySecrets() int {
	n := 0
	for _, s := range w.m.Secrets {
		if s.Label == coordinator.PrivateKeySecretLabel(w.m.Unit) {
			n++
		}
	}
	return n
}

func (w *tlsWorld) keySecret() *jujusim.Secret {
	for _, s := range w.m.Secrets {
		if s.Label == coordinator.PrivateKeySecretLabel(w.m.Unit) {
			return s
		}
	}
	return nil
}

// assertKeyPrivate checks that the private key appears in no databag, log
// line, tool argument or the charm's stderr.
func (w *tlsWorld) assertKeyPrivate() {
	w.t.Helper()
	s := w.keySecret()
	if s == nil {
		return
	}
	key := s.Content["private-key"]
	require.NotEmpty(w.t, key)
	body := strings.Split(key, "\n")[2] // a line of the key's base64
	var seen []string
	for _, r := range w.m.Relations {
		for _, bag := range []map[string]string{r.LocalAppData, r.LocalUnitData} {
			for _, v := range bag {
				seen = append(seen, v)
			}
		}
	}
	for _, l := range w.m.Logs {
		seen = append(seen, l.Message)
	}
	for _, c := range w.m.Calls {
		seen = append(seen, strings.Join(c.Args, " "))
	}
	for k, v := range w.m.State {
		seen = append(seen, k+v)
	}
	seen = append(seen, w.stderr.String())
	for _, v := range seen {
		require.NotContains(w.t, v, body, "the private key leaked")
	}
}

// csr is the unit's published request.
func (w *tlsWorld) csr() *x509.CertificateRequest {
	w.t.Helper()
	var reqs []struct {
		CSR string `json:"certificate_signing_request"`
		CA  *bool  `json:"ca"`
	}
	require.NoError(w.t, json.Unmarshal([]byte(w.certs.LocalUnitData["certificate_signing_requests"]), &reqs))
	require.Len(w.t, reqs, 1)
	require.NotNil(w.t, reqs[0].CA)
	assert.False(w.t, *reqs[0].CA)
	block, _ := pem.Decode([]byte(reqs[0].CSR))
	require.NotNil(w.t, block)
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	require.NoError(w.t, err)
	return csr
}

func (w *tlsWorld) servedCert() *x509.Certificate {
	w.t.Helper()
	block, _ := pem.Decode(w.nginx.files[coordinator.NginxCertPath])
	require.NotNil(w.t, block, "no certificate pushed to nginx")
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(w.t, err)
	return cert
}

func (w *tlsWorld) servesTLS() bool {
	return strings.Contains(string(w.nginx.config), " ssl;") && w.nginx.files[coordinator.NginxCertPath] != nil
}

func TestTLSRequestAndPickUp(t *testing.T) {
	w := newTLSWorld(t, true)
	w.hook("certificates-relation-created")

	secret := w.keySecret()
	require.NotNil(t, secret, "a key secret with the library's label")
	assert.Equal(t, "unit", secret.Owner)
	assert.True(t, strings.HasPrefix(secret.Content["private-key"], "-----BEGIN RSA PRIVATE KEY-----"))
	csr := w.csr()
	assert.Equal(t, "tempo", csr.Subject.CommonName)
	assert.ElementsMatch(t, []string{"tempo-0.tempo-endpoints.test-model.svc.cluster.local", "tempo.test-model.svc.cluster.local"}, csr.DNSNames)
	require.Len(t, csr.IPAddresses, 1)
	assert.Equal(t, "10.1.0.6", csr.IPAddresses[0].String())
	var unique bool
	for _, n := range csr.Subject.Names {
		if n.Type.Equal(asn1.ObjectIdentifier{2, 5, 4, 45}) && len(n.Value.(string)) == 36 {
			unique = true
		}
	}
	assert.True(t, unique, "a unique id in the subject")
	pub := csr.PublicKey
	assert.Equal(t, 2048, pub.(interface{ Size() int }).Size()*8)

	assert.Equal(t, "waiting", w.m.UnitStatus.Status)
	assert.Contains(t, w.m.UnitStatus.Message, "[certificates] Waiting for a certificate from self-signed-certificates")
	assert.False(t, w.servesTLS())
	assert.NotContains(t, w.cluster.LocalAppData, "ca_cert")

	w.sync()
	w.hook("certificates-relation-changed")
	assert.Equal(t, "active", w.m.UnitStatus.Status, w.m.UnitStatus.Message)
	assert.True(t, w.servesTLS())
	assert.True(t, w.nginx.exporterTLS)
	cert := w.servedCert()
	_, err := cert.Verify(x509.VerifyOptions{Roots: w.provider.CertPool(), DNSName: "tempo.test-model.svc.cluster.local"})
	assert.NoError(t, err)
	assert.Equal(t, w.provider.CAPEM+"\n", string(w.nginx.files[coordinator.NginxCAPath]))
	assert.Equal(t, secret.Content["private-key"]+"\n", string(w.nginx.files[coordinator.NginxKeyPath]))

	// The workers get the leader's certificate, CA and key secret, granted.
	var id, ca string
	require.NoError(t, json.Unmarshal([]byte(w.cluster.LocalAppData["privkey_secret_id"]), &id))
	require.NoError(t, json.Unmarshal([]byte(w.cluster.LocalAppData["ca_cert"]), &ca))
	assert.Equal(t, secret.URI(), id)
	assert.Equal(t, w.provider.CAPEM, ca)
	assert.Contains(t, w.cluster.LocalAppData["server_cert"], "BEGIN CERTIFICATE")
	assert.Equal(t, []jujusim.SecretGrant{{Relation: w.cluster.ID}}, w.keySecret().Grants)
	assert.Contains(t, w.cluster.LocalAppData["worker_config"], "tls_cert_path")

	// The certificate is kept in a unit-owned secret under the library's
	// label, expiring at its renewal time (90% of its validity).
	certs := w.certSecrets()
	require.Len(t, certs, 1)
	assert.Equal(t, "unit", certs[0].Owner)
	assert.Equal(t, strings.TrimSpace(w.provider.Certificates(w.certs)[0].Cert), certs[0].Content["certificate"])
	assert.Equal(t, w.certs.LocalUnitData["certificate_signing_requests"], jsonText([]map[string]any{{"certificate_signing_request": certs[0].Content["csr"], "ca": false}}))
	renewal := cert.NotBefore.Add(time.Duration(float64(cert.NotAfter.Sub(cert.NotBefore)) * 0.9))
	assert.Equal(t, renewal.UTC().Format(time.RFC3339), certs[0].Expire)

	// A repeated hook changes nothing and makes no secret call but the read.
	calls := len(w.m.Calls)
	w.hook("update-status")
	for _, c := range w.m.Calls[calls:] {
		assert.NotContains(t, []string{"secret-add", "secret-set", "secret-grant", "secret-revoke", "secret-remove", "relation-set", "state-set"}, c.Tool)
	}
}

func TestTLSCertificateSecretExpires(t *testing.T) {
	w := newTLSWorld(t, true)
	w.hook("certificates-relation-created")
	w.sync()
	w.hook("certificates-relation-changed")
	first := w.servedCert()
	csr := w.certs.LocalUnitData["certificate_signing_requests"]
	old := w.certSecrets()
	require.Len(t, old, 1)
	expire, err := time.Parse(time.RFC3339, old[0].Expire)
	require.NoError(t, err)

	// Juju runs secret-expired at the expiry: a new request with the same
	// key, the current certificate serving until it is answered.
	w.now = expire.Add(time.Second)
	w.hook("secret-expired")
	assert.NotEqual(t, csr, w.certs.LocalUnitData["certificate_signing_requests"], "a new request")
	assert.Equal(t, first.SerialNumber, w.servedCert().SerialNumber)
	assert.Equal(t, 1, w.keySecrets())

	// The new certificate gets its own secret; the expired one goes.
	w.provider.Now = func() time.Time { return w.now }
	w.sync()
	w.hook("certificates-relation-changed")
	assert.NotEqual(t, first.SerialNumber, w.servedCert().SerialNumber)
	now := w.certSecrets()
	require.Len(t, now, 1)
	assert.NotEqual(t, old[0].Label, now[0].Label)
	assert.Equal(t, strings.TrimSpace(string(w.nginx.files[coordinator.NginxCertPath])), now[0].Content["certificate"])
	next, err := time.Parse(time.RFC3339, now[0].Expire)
	require.NoError(t, err)
	assert.True(t, next.After(w.now), "expires at the new certificate's renewal time")

	// The relation goes: so does the certificate's secret.
	w.certs.Broken = true
	w.hook("certificates-relation-broken")
	w.m.RemoveRelation(w.certs.ID)
	assert.Empty(t, w.certSecrets())
	assert.Equal(t, 1, w.keySecrets())
}

func TestTLSRenewalAndExpiry(t *testing.T) {
	w := newTLSWorld(t, true)
	w.hook("certificates-relation-created")
	w.sync()
	w.hook("certificates-relation-changed")
	first := w.servedCert()
	csr := w.certs.LocalUnitData["certificate_signing_requests"]

	// The provider re-issues: the new certificate is served, same request.
	require.NoError(t, w.provider.Renew(w.certs))
	w.hook("certificates-relation-changed")
	renewed := w.servedCert()
	assert.NotEqual(t, first.SerialNumber, renewed.SerialNumber)
	assert.Equal(t, csr, w.certs.LocalUnitData["certificate_signing_requests"])

	// 90% of the validity later, a new request goes out with the same key;
	// the current certificate keeps serving until it is answered.
	w.now = renewed.NotBefore.Add(time.Duration(float64(renewed.NotAfter.Sub(renewed.NotBefore)) * 0.95))
	w.hook("update-status")
	assert.NotEqual(t, csr, w.certs.LocalUnitData["certificate_signing_requests"])
	assert.True(t, w.servesTLS())
	assert.Equal(t, renewed.SerialNumber, w.servedCert().SerialNumber)
	assert.Equal(t, 1, w.keySecrets(), "the same key")
	w.provider.Now = func() time.Time { return w.now }
	w.sync()
	w.hook("certificates-relation-changed")
	assert.NotEqual(t, renewed.SerialNumber, w.servedCert().SerialNumber)
	assert.Equal(t, "active", w.m.UnitStatus.Status)
}

func TestTLSRevocation(t *testing.T) {
	w := newTLSWorld(t, true)
	w.hook("certificates-relation-created")
	w.sync()
	w.hook("certificates-relation-changed")
	csr := w.certs.LocalUnitData["certificate_signing_requests"]
	w.provider.Revoke(w.certs)
	w.hook("certificates-relation-changed")
	assert.NotEqual(t, csr, w.certs.LocalUnitData["certificate_signing_requests"], "a new request")
	assert.False(t, w.servesTLS(), "a revoked certificate is not served")
	assert.Equal(t, "waiting", w.m.UnitStatus.Status)
	w.sync()
	w.hook("certificates-relation-changed")
	assert.True(t, w.servesTLS())
}

func TestTLSProviderErrors(t *testing.T) {
	for _, schemaKey := range []bool{false, true} {
		w := newTLSWorld(t, true)
		w.hook("certificates-relation-created")
		require.NoError(t, w.provider.Refuse(w.certs, "ip_not_allowed", "IP SANs are not allowed", schemaKey))
		w.hook("certificates-relation-changed")
		assert.Equal(t, "blocked", w.m.UnitStatus.Status)
		assert.Equal(t, "[certificates] self-signed-certificates refused the certificate request: ip_not_allowed: IP SANs are not allowed", w.m.UnitStatus.Message)
		assert.False(t, w.servesTLS())
	}
}

func TestTLSNoFlappingWhenWorkersChange(t *testing.T) {
	w := newTLSWorld(t, true)
	w.hook("certificates-relation-created")
	w.sync()
	w.hook("certificates-relation-changed")
	first := w.servedCert()

	w.cluster.AddUnit("tempo-worker/1", map[string]string{"address": jsonText("tempo-worker-1.tempo-worker-endpoints.test-model.svc.cluster.local"),
		"juju_topology": jsonText(map[string]string{"application": "tempo-worker", "unit": "tempo-worker/1"})})
	w.hook("tempo-cluster-relation-changed")
	assert.Contains(t, w.csr().DNSNames, "tempo-worker-1.tempo-worker-endpoints.test-model.svc.cluster.local", "a new request with the new worker")
	assert.True(t, w.servesTLS(), "still TLS while the new certificate is pending")
	assert.Equal(t, first.SerialNumber, w.servedCert().SerialNumber)
	assert.Contains(t, w.cluster.LocalAppData, "server_cert")
	assert.Contains(t, w.cluster.LocalAppData["worker_config"], "tls_cert_path")

	w.sync()
	w.hook("certificates-relation-changed")
	assert.Contains(t, w.servedCert().DNSNames, "tempo-worker-1.tempo-worker-endpoints.test-model.svc.cluster.local")
}

func TestTLSRelationRemoved(t *testing.T) {
	w := newTLSWorld(t, true)
	w.hook("certificates-relation-created")
	w.sync()
	w.hook("certificates-relation-changed")
	require.True(t, w.servesTLS())

	w.certs.Broken = true
	w.hook("certificates-relation-broken")
	w.m.RemoveRelation(w.certs.ID)
	assert.False(t, w.servesTLS())
	assert.NotContains(t, string(w.nginx.config), "ssl")
	assert.Empty(t, w.nginx.files, "certificate, key and CA removed")
	assert.False(t, w.nginx.exporterTLS)
	for _, k := range []string{"ca_cert", "server_cert", "privkey_secret_id"} {
		assert.NotContains(t, w.cluster.LocalAppData, k)
	}
	assert.NotContains(t, w.cluster.LocalAppData["worker_config"], "tls_cert_path")
	assert.Empty(t, w.keySecret().Grants, "grant revoked")
	assert.Equal(t, "active", w.m.UnitStatus.Status)
	assert.Empty(t, w.m.State[stateTLSCSR])
}

func TestTLSNonLeaderAndLeaderChange(t *testing.T) {
	// A non-leader requests and serves its own certificate, writes no app
	// data and grants nothing.
	w := newTLSWorld(t, false)
	w.hook("certificates-relation-created")
	w.sync()
	w.hook("certificates-relation-changed")
	assert.True(t, w.servesTLS())
	assert.Empty(t, w.cluster.LocalAppData)
	assert.Empty(t, w.keySecret().Grants)

	// The previous leader published its own certificate and key secret.
	w.cluster.LocalAppData["privkey_secret_id"] = jsonText("secret:previous-leader-key")
	w.cluster.LocalAppData["server_cert"] = jsonText("previous leader's certificate")

	// It becomes the leader: it publishes its own key secret, granted, and
	// its own certificate.
	w.m.Leader = true
	w.hook("leader-elected")
	var id string
	require.NoError(t, json.Unmarshal([]byte(w.cluster.LocalAppData["privkey_secret_id"]), &id))
	assert.Equal(t, w.keySecret().URI(), id)
	assert.Equal(t, []jujusim.SecretGrant{{Relation: w.cluster.ID}}, w.keySecret().Grants)
	var cert string
	require.NoError(t, json.Unmarshal([]byte(w.cluster.LocalAppData["server_cert"]), &cert))
	assert.Equal(t, string(w.nginx.files[coordinator.NginxCertPath]), cert+"\n", "the certificate it serves")

	// And loses leadership again: its grant is withdrawn.
	w.m.Leader = false
	w.hook("leader-settings-changed")
	assert.Empty(t, w.keySecret().Grants)
}

func TestTLSKeyFoundByLabel(t *testing.T) {
	// A unit refreshed from the Python charm: the key secret exists, the
	// state does not know it.
	w := newTLSWorld(t, true)
	w.hook("certificates-relation-created")
	key := w.keySecret().Content["private-key"]
	for k := range w.m.State {
		if strings.HasPrefix(k, "tls-") {
			delete(w.m.State, k)
		}
	}
	w.hook("upgrade-charm")
	assert.Equal(t, 1, w.keySecrets())
	assert.Equal(t, key, w.keySecret().Content["private-key"])
	w.sync()
	w.hook("certificates-relation-changed")
	assert.True(t, w.servesTLS())
}
