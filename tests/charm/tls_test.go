package charm_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/sandbox"
)

const tempoUnitFQDN = "tempo-0.tempo-endpoints.test-model.svc.cluster.local"

// TestTLSWithRealNginx drives the packed charm through a certificates
// relation to a simulated provider (a test CA) with a real Pebble and
// nginx: nginx serves TLS on every port to a client trusting only the test
// CA (HTTP/2 by ALPN on the gRPC ports; a client that does not trust it
// fails, plain HTTP is refused), routes to the workers over https/grpcs,
// publishes a certificate and a granted key secret that form a key pair
// (what the worker charm serves with), and goes back to plain HTTP when the
// relation is removed (files removed, grant revoked). The data path through
// real TLS workers is tests/e2e's.
func TestTLSWithRealNginx(t *testing.T) {
	worker := workerName(0)
	sb := sandbox.New(t, sandbox.Options{Hosts: map[string]string{worker: "127.0.0.2"}})
	e := newEnv(t, "tempo-coordinator-k8s", true)
	sockets := t.TempDir()
	require.NoError(t, sandbox.ContainerSockets(sockets, map[string]*sandbox.Sandbox{"nginx": sb}))
	opts := func(o jujusim.HookOptions) jujusim.HookOptions {
		o.Env = map[string]string{"COORDINATOR_PEBBLE_SOCKET_DIR": sockets}
		return o
	}
	pc, err := client.New(&client.Config{Socket: sb.SocketPath()})
	require.NoError(t, err)

	e.hook("nginx-pebble-ready", opts(jujusim.HookOptions{}))
	e.addS3()
	w := e.addWorker("tempo-worker", "all", worker)
	tracing := e.h.Model.AddRelation("tracing", "app", map[string]string{"receivers": `["otlp_grpc","otlp_http"]`},
		map[string]map[string]string{"app/0": {}})
	e.hook("tracing-relation-changed", opts(jujusim.HookOptions{Relation: tracing, RemoteUnit: "app/0"}))
	require.Contains(t, e.status(), "active")

	provider, err := jujusim.NewTLSProvider()
	require.NoError(t, err)
	certs := e.h.Model.AddRelation(coordinator.CertificatesEndpoint, "self-signed-certificates", nil,
		map[string]map[string]string{"self-signed-certificates/0": {}})
	e.hook("certificates-relation-created", opts(jujusim.HookOptions{Relation: certs}))
	require.Contains(t, e.status(), "waiting: [certificates] Waiting for a certificate")
	require.NoError(t, provider.Sync(certs))
	res := e.hook("certificates-relation-changed", opts(jujusim.HookOptions{Relation: certs, RemoteUnit: "self-signed-certificates/0"}))
	require.Contains(t, e.status(), "active", res.Stderr)
	checkNginxT(t, pc)

	// The worker serves TLS with what the leader published.
	var certPEM, secretID string
	require.NoError(t, json.Unmarshal([]byte(w.LocalAppData["server_cert"]), &certPEM))
	require.NoError(t, json.Unmarshal([]byte(w.LocalAppData["privkey_secret_id"]), &secretID))
	secret := e.h.Model.Secret(secretID)
	require.NotNil(t, secret)
	require.Contains(t, secret.Grants, jujusim.SecretGrant{Relation: w.ID}, "the key is granted to the worker relation")
	workerCert, err := tls.X509KeyPair([]byte(certPEM), []byte(secret.Content["private-key"]))
	require.NoError(t, err)
	for _, leaked := range []string{res.Stdout, res.Stderr, strings.Join(res.Tools(), "\n")} {
		assert.NotContains(t, leaked, strings.Split(secret.Content["private-key"], "\n")[1])
	}
	require.NotEmpty(t, workerCert.Certificate)
	// The certificate is kept in a unit-owned secret that expires at its
	// renewal time (secret-add --expire through the tools).
	certSecret := certificateSecret(e.h.Model)
	require.NotNil(t, certSecret, "no certificate secret")
	assert.Equal(t, certPEM, certSecret.Content["certificate"])
	expire, err := time.Parse(time.RFC3339, certSecret.Expire)
	require.NoError(t, err, "expiry %q", certSecret.Expire)
	leaf, err := x509.ParseCertificate(workerCert.Certificate[0])
	require.NoError(t, err)
	assert.True(t, expire.After(time.Now()) && expire.Before(leaf.NotAfter), "expires at %s", expire)

	trusting := &tls.Config{RootCAs: provider.CertPool(), ServerName: tempoUnitFQDN}
	httpsClient := func(cfg *tls.Config) *http.Client {
		tr := sb.HTTPTransport()
		tr.TLSClientConfig = cfg
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}

	// A client trusting only the test CA gets the status page on every
	// port (the exporter's and Pebble's view), over HTTP/1.1 and HTTP/2.
	for _, port := range []string{"8080", "4318", "3200"} {
		resp, err := httpsClient(trusting).Get("https://127.0.0.1:" + port + "/status")
		require.NoError(t, err, port)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, port)
	}
	// The gRPC servers speak TLS with HTTP/2 (ALPN h2), as gRPC clients need.
	for _, port := range []string{"4317", "9096"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		raw, err := sb.DialContext(ctx, "tcp", "127.0.0.1:"+port)
		cancel()
		require.NoError(t, err, port)
		cfg := trusting.Clone()
		cfg.NextProtos = []string{"h2"}
		conn := tls.Client(raw, cfg)
		require.NoError(t, conn.Handshake(), port)
		assert.Equal(t, "h2", conn.ConnectionState().NegotiatedProtocol, port)
		conn.Close()
	}
	conf, err := os.ReadFile(must(sb.HostPath("/etc/nginx/nginx.conf")))
	require.NoError(t, err)
	assert.Contains(t, string(conf), "set $backend grpcs://otlp-grpc;", "Tempo workers are reached over TLS")
	assert.Contains(t, string(conf), "set $backend https://otlp-http;")

	// A client that does not trust the test CA fails; so does plain HTTP.
	_, err = httpsClient(&tls.Config{ServerName: tempoUnitFQDN}).Get("https://127.0.0.1:8080/status")
	var unknown x509.UnknownAuthorityError
	require.Error(t, err)
	assert.True(t, errors.As(err, &unknown), "%v", err)
	resp, err := sb.HTTPClient().Get("http://127.0.0.1:8080/status")
	if err == nil {
		resp.Body.Close()
		assert.Equal(t, 400, resp.StatusCode, "plain HTTP to a TLS port")
	}

	// The relation goes: plain HTTP again, files removed, grant revoked.
	certs.Broken = true
	e.hook("certificates-relation-broken", opts(jujusim.HookOptions{Relation: certs}))
	e.h.Model.RemoveRelation(certs.ID)
	checkNginxT(t, pc)
	resp, err = sb.HTTPClient().Get("http://127.0.0.1:8080/status")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	for _, p := range []string{coordinator.NginxCertPath, coordinator.NginxKeyPath, coordinator.NginxCAPath} {
		host, err := sb.HostPath(p)
		require.NoError(t, err)
		_, err = os.Stat(host)
		assert.True(t, os.IsNotExist(err), "%s still there", p)
	}
	assert.NotContains(t, w.LocalAppData, "privkey_secret_id")
	assert.Empty(t, e.h.Model.Secret(secretID).Grants)
	assert.Nil(t, certificateSecret(e.h.Model), "the certificate's secret removed")
}

// certificateSecret is the unit's certificate secret (the library's label),
// nil if none.
func certificateSecret(m *jujusim.Model) *jujusim.Secret {
	for _, s := range m.Secrets {
		if strings.Contains(s.Label, "-certificate-0-certificates-") {
			return s
		}
	}
	return nil
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}
