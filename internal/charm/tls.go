package charm

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/juju"
)

// Unit state keys of the TLS material (the private key itself lives only
// in its secret).
const (
	stateTLSKeySecret = "tls-key-secret"  // URI of the private key's secret
	stateTLSCSR       = "tls-csr"         // the certificate request published
	stateTLSServed    = "tls-served"      // the certificate served (coordinator.TLSPlan.Served)
	stateTLSGrants    = "tls-grants"      // cluster relation ids the key is granted to
	stateTLSFiles     = "tls-files"       // "on" while TLS files are in the containers
	stateTLSCert      = "tls-cert-secret" // "<URI> <label>" of the served certificate's secret
)

// privateKeyField is the key of the private key in its secret's content
// (the tls-certificates library's).
const privateKeyField = "private-key"

// oidUniqueIdentifier is x500UniqueIdentifier (2.5.4.45), which the
// tls-certificates library adds to every request's subject.
var oidUniqueIdentifier = asn1.ObjectIdentifier{2, 5, 4, 45}

// observeTLS reads what the charm left for TLS: the request and served
// certificate from the unit state and, while a certificates relation
// exists, the private key from its secret (found by URI, else by the
// library's label).
func (c *Charm) observeTLS(ctx context.Context, o *observation) error {
	st := &o.TLS
	st.CSR, st.Served, st.KeySecretID = o.state[stateTLSCSR], o.state[stateTLSServed], o.state[stateTLSKeySecret]
	if len(o.Relations[coordinator.CertificatesEndpoint]) == 0 {
		return nil
	}
	if st.KeySecretID != "" {
		content, err := c.Juju.SecretGet(ctx, juju.SecretGetOptions{URI: st.KeySecretID})
		if err == nil {
			st.PrivateKey = content[privateKeyField]
			return nil
		}
		if !juju.IsNotFound(err) {
			return fmt.Errorf("cannot read the private key's secret: %w", err)
		}
		st.KeySecretID = ""
	}
	info, err := c.Juju.SecretInfoGet(ctx, "", coordinator.PrivateKeySecretLabel(o.Unit))
	if juju.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot look up the private key's secret: %w", err)
	}
	uri := info.ID
	if !strings.HasPrefix(uri, "secret:") {
		uri = "secret:" + uri
	}
	content, err := c.Juju.SecretGet(ctx, juju.SecretGetOptions{URI: uri})
	if err != nil {
		return fmt.Errorf("cannot read the private key's secret: %w", err)
	}
	st.KeySecretID, st.PrivateKey = uri, content[privateKeyField]
	return nil
}

// prepareTLS does the non-deterministic work the plan asks for: a new
// private key (kept in a unit-owned secret) and a new certificate request.
// It updates o with the results and reports whether it did anything, in
// which case the caller reconciles again from the updated observation.
func (c *Charm) prepareTLS(ctx context.Context, o *observation, p *coordinator.TLSPlan) (bool, error) {
	if p == nil || !p.Requested || (!p.NewKey && p.NewCSR == nil) {
		return false, nil
	}
	if p.NewKey {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return false, fmt.Errorf("cannot generate a private key: %w", err)
		}
		keyPEM := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
		opts := juju.SecretOptions{Content: map[string]string{privateKeyField: keyPEM}}
		if o.TLS.KeySecretID != "" {
			if err := c.Juju.SecretSet(ctx, o.TLS.KeySecretID, opts); err != nil {
				return false, fmt.Errorf("cannot replace the private key: %w", err)
			}
		} else {
			opts.Label, opts.Owner = coordinator.PrivateKeySecretLabel(o.Unit), "unit"
			opts.Description = "private key of " + o.Unit + "'s TLS certificate"
			uri, err := c.Juju.SecretAdd(ctx, opts)
			if err != nil {
				return false, fmt.Errorf("cannot store the private key: %w", err)
			}
			o.TLS.KeySecretID = uri
		}
		o.TLS.PrivateKey = keyPEM
	}
	if p.NewCSR != nil {
		csr, err := newCSR(o.TLS.PrivateKey, *p.NewCSR)
		if err != nil {
			return false, err
		}
		o.TLS.CSR = csr
	}
	// What was served keeps serving until the new request is answered.
	o.TLS.Served = p.Served
	return true, nil
}

// newCSR makes a certificate request as the tls-certificates library
// does: the attributes, a random unique identifier in the subject, signed
// with the unit's key; PEM without a final newline.
func newCSR(keyPEM string, a coordinator.CSRAttributes) (string, error) {
	key := coordinator.ParsePrivateKey(keyPEM)
	if key == nil {
		return "", errors.New("cannot make a certificate request: no usable private key")
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("cannot make a certificate request: %w", err)
	}
	id[6], id[8] = id[6]&0x0f|0x40, id[8]&0x3f|0x80 // a version 4 UUID
	h := hex.EncodeToString(id[:])
	uuid := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	tmpl := &x509.CertificateRequest{
		Subject: pkix.Name{
			CommonName: a.CommonName,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidUniqueIdentifier, Value: uuid}},
		},
		DNSNames: a.DNSNames,
	}
	for _, ip := range a.IPs {
		if parsed := net.ParseIP(ip); parsed != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, parsed)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return "", fmt.Errorf("cannot make a certificate request: %w", err)
	}
	return strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))), nil
}

// applyTLSState records the TLS material's state and grants the key's
// secret to exactly the cluster relations the plan names.
func (c *Charm) applyTLSState(ctx context.Context, o *observation, p *coordinator.TLSPlan, newState map[string]string) error {
	if p == nil {
		return nil
	}
	var want []int
	if p.Requested {
		want = p.Grants
	}
	granted := parsePorts(o.state[stateTLSGrants])
	uri := o.TLS.KeySecretID
	if uri != "" {
		for _, id := range want {
			if slices.Contains(granted, id) {
				continue
			}
			ref := coordinator.RelationRef(c.Product.ClusterEndpoint, id)
			if err := c.Juju.SecretGrant(ctx, uri, ref, ""); err != nil && !juju.IsRelationNotFound(err) {
				return fmt.Errorf("cannot grant the private key to %s: %w", ref, err)
			}
		}
		for _, id := range granted {
			if slices.Contains(want, id) {
				continue
			}
			ref := coordinator.RelationRef(c.Product.ClusterEndpoint, id)
			if err := c.Juju.SecretRevoke(ctx, uri, ref); err != nil && !juju.IsRelationNotFound(err) && !juju.IsNotFound(err) {
				return fmt.Errorf("cannot revoke the private key from %s: %w", ref, err)
			}
		}
	}
	newState[stateTLSGrants] = formatIDs(want)
	cert, err := c.applyCertificateSecret(ctx, o.state[stateTLSCert], p)
	if err != nil {
		return err
	}
	newState[stateTLSCert] = cert
	if uri != "" {
		newState[stateTLSKeySecret] = uri
	}
	if p.Requested {
		newState[stateTLSCSR] = o.TLS.CSR
		newState[stateTLSServed] = p.Served
	} else {
		newState[stateTLSCSR], newState[stateTLSServed] = "", ""
	}
	return nil
}

// applyCertificateSecret keeps the served certificate in the secret the
// plan names (have is the state's "<URI> <label>" of the current one): a
// new certificate gets a new secret, expiring at its renewal time, and the
// previous one is removed. It returns the new state value.
func (c *Charm) applyCertificateSecret(ctx context.Context, have string, p *coordinator.TLSPlan) (string, error) {
	uri, label, _ := strings.Cut(have, " ")
	want := p.CertSecret
	if !p.Requested {
		want = nil
	}
	if want != nil && want.Label == label {
		return have, nil
	}
	if uri != "" {
		if err := c.Juju.SecretRemove(ctx, uri); err != nil && !juju.IsNotFound(err) {
			return "", fmt.Errorf("cannot remove the previous certificate's secret: %w", err)
		}
	}
	if want == nil {
		return "", nil
	}
	uri, err := c.Juju.SecretAdd(ctx, juju.SecretOptions{Label: want.Label, Owner: "unit", Content: want.Content,
		Expire: want.Expire, Description: "this unit's TLS certificate; renewed when it expires"})
	if err != nil {
		return "", fmt.Errorf("cannot keep the certificate in a secret: %w", err)
	}
	return uri + " " + want.Label, nil
}

func formatIDs(ids []int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	return strings.Join(parts, ",")
}
