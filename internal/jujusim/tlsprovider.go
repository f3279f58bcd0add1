package jujusim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// TLSProvider is a tls-certificates v4 provider, as self-signed-certificates
// runs it: it signs the certificate requests a unit publishes in its unit
// databag (certificate_signing_requests) with its own test CA and answers
// in its application databag (certificates, request_errors).
type TLSProvider struct {
	// CA and CAPEM are the test CA certificate; CAKey signs.
	CA    *x509.Certificate
	CAPEM string
	CAKey *ecdsa.PrivateKey
	// Validity is the issued certificates' lifetime (default 90 days).
	Validity time.Duration
	// Now is the issuing time (default time.Now).
	Now func() time.Time

	serial int64
}

// TLSCertificate is one entry of the provider's certificates list.
type TLSCertificate struct {
	CA      string   `json:"ca"`
	CSR     string   `json:"certificate_signing_request"`
	Cert    string   `json:"certificate"`
	Chain   []string `json:"chain"`
	Revoked *bool    `json:"revoked,omitempty"`
}

type tlsRequest struct {
	CSR string `json:"certificate_signing_request"`
	CA  bool   `json:"ca"`
}

// NewTLSProvider creates a provider with a fresh self-signed test CA.
func NewTLSProvider() (*TLSProvider, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cannot create test CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "jujusim test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("cannot create test CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("cannot parse test CA: %w", err)
	}
	return &TLSProvider{CA: ca, CAKey: key, CAPEM: pemString("CERTIFICATE", der), serial: 1}, nil
}

func pemString(kind string, der []byte) string {
	return strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})))
}

// CertPool is a pool trusting only the test CA.
func (p *TLSProvider) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return pool
}

// Sync answers the requests of rel's local unit databag: a certificate
// for each request that has none, and the certificates of requests no
// longer made are dropped. Requests the provider cannot parse get a
// request error. It edits rel.RemoteAppData (call it between hooks).
func (p *TLSProvider) Sync(rel *Relation) error {
	var reqs []tlsRequest
	if raw := rel.LocalUnitData["certificate_signing_requests"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &reqs); err != nil {
			return fmt.Errorf("cannot parse the unit's certificate_signing_requests: %w", err)
		}
	}
	current := p.Certificates(rel)
	byCSR := map[string]TLSCertificate{}
	for _, c := range current {
		byCSR[strings.TrimSpace(c.CSR)] = c
	}
	var out []TLSCertificate
	var errs []map[string]any
	for _, r := range reqs {
		csr := strings.TrimSpace(r.CSR)
		if c, ok := byCSR[csr]; ok {
			out = append(out, c)
			continue
		}
		cert, err := p.sign(csr)
		if err != nil {
			errs = append(errs, map[string]any{"csr": csr, "error": map[string]any{"code": 999, "name": "bad_csr", "message": err.Error()}})
			continue
		}
		out = append(out, TLSCertificate{CA: p.CAPEM, CSR: csr, Cert: cert, Chain: []string{cert, p.CAPEM}})
	}
	p.setCertificates(rel, out)
	if len(errs) == 0 {
		delete(rel.RemoteAppData, "request_errors")
	} else {
		raw, _ := json.Marshal(errs)
		rel.RemoteAppData["request_errors"] = string(raw)
	}
	return nil
}

// Certificates returns the provider's certificates list.
func (p *TLSProvider) Certificates(rel *Relation) []TLSCertificate {
	var out []TLSCertificate
	if raw := rel.RemoteAppData["certificates"]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &out)
	}
	return out
}

func (p *TLSProvider) setCertificates(rel *Relation, certs []TLSCertificate) {
	if rel.RemoteAppData == nil {
		rel.RemoteAppData = map[string]string{}
	}
	raw, _ := json.Marshal(certs)
	rel.RemoteAppData["certificates"] = string(raw)
}

// Renew re-issues the certificate of every request (a new serial and
// validity period for the same request).
func (p *TLSProvider) Renew(rel *Relation) error {
	certs := p.Certificates(rel)
	for i, c := range certs {
		cert, err := p.sign(c.CSR)
		if err != nil {
			return err
		}
		certs[i].Cert, certs[i].Chain, certs[i].Revoked = cert, []string{cert, p.CAPEM}, nil
	}
	p.setCertificates(rel, certs)
	return nil
}

// Revoke marks every certificate revoked.
func (p *TLSProvider) Revoke(rel *Relation) {
	certs := p.Certificates(rel)
	yes := true
	for i := range certs {
		certs[i].Revoked = &yes
	}
	p.setCertificates(rel, certs)
}

// Refuse drops the certificates and answers every request of rel's unit
// with a request error, under the key spelling the lib uses ("csr") or,
// with schemaKey, the one of the interface's schema file
// ("certificate_signing_request").
func (p *TLSProvider) Refuse(rel *Relation, name, message string, schemaKey bool) error {
	var reqs []tlsRequest
	if err := json.Unmarshal([]byte(rel.LocalUnitData["certificate_signing_requests"]), &reqs); err != nil {
		return fmt.Errorf("cannot parse the unit's certificate_signing_requests: %w", err)
	}
	key := "csr"
	if schemaKey {
		key = "certificate_signing_request"
	}
	var errs []map[string]any
	for _, r := range reqs {
		errs = append(errs, map[string]any{key: strings.TrimSpace(r.CSR), "error": map[string]any{"code": 101, "name": name, "message": message}})
	}
	raw, _ := json.Marshal(errs)
	p.setCertificates(rel, nil)
	rel.RemoteAppData["request_errors"] = string(raw)
	return nil
}

// sign issues a server and client certificate for a PEM CSR, with the
// request's subject and SANs.
func (p *TLSProvider) sign(csrPEM string) (string, error) {
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return "", fmt.Errorf("not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("cannot parse certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return "", fmt.Errorf("bad certificate request signature: %w", err)
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	validity := p.Validity
	if validity == 0 {
		validity = 90 * 24 * time.Hour
	}
	p.serial++
	start := now().Add(-time.Minute)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      csr.Subject,
		DNSNames:     csr.DNSNames,
		IPAddresses:  csr.IPAddresses,
		NotBefore:    start,
		NotAfter:     start.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, csr.PublicKey, p.CAKey)
	if err != nil {
		return "", fmt.Errorf("cannot sign certificate: %w", err)
	}
	return pemString("CERTIFICATE", der), nil
}
