package coordinator

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// CertificatesEndpoint is where a tls-certificates (v4) provider issues
// every coordinator unit its own certificate (the library's unit mode).
const CertificatesEndpoint = "certificates"

// tlsLibraryID is the tls-certificates library's id, which prefixes the
// labels of the secrets it keeps.
const tlsLibraryID = "afd8c2bccf834997afce12c2706d2ede"

// Where the nginx container keeps the CA of the certificate it serves.
const NginxCAPath = "/usr/local/share/ca-certificates/ca.crt"

// renewalFraction of a certificate's validity after which a new one is
// requested (the library's renewal_relative_time).
const renewalFraction = 0.9

// PrivateKeySecretLabel is the label of the unit-owned secret holding the
// unit's private key: the tls-certificates library's own label, so that a
// unit refreshed from the Python coordinator keeps its key.
func PrivateKeySecretLabel(unit string) string {
	_, number, _ := strings.Cut(unit, "/")
	return tlsLibraryID + "-private-key-" + number + "-certificates"
}

// TLSState is this unit's certificate material as the charm last left it.
type TLSState struct {
	// PrivateKey is the unit's private key (PEM) read from its secret, ""
	// when there is none.
	PrivateKey string
	// KeySecretID is the URI of the key's secret, "" when unknown.
	KeySecretID string
	// CSR is the certificate request (PEM) this unit last published.
	CSR string
	// Served is the record of the certificate last served (TLSPlan.Served).
	Served string
}

// TLSPlan is what the charm must do for TLS beyond rendering: the
// non-deterministic work (a key, a request) and what to remember.
type TLSPlan struct {
	// Requested is true while a certificates relation exists; without it
	// the charm forgets its request and served certificate.
	Requested bool
	// NewKey asks for a new private key in the unit's secret (there is
	// none, or it is unusable).
	NewKey bool
	// NewCSR asks for a new certificate request with these attributes,
	// signed with the unit's key; nil keeps the current one.
	NewCSR *CSRAttributes
	// Served is the record of the certificate served now, "" for none.
	Served string
	// Grants are the cluster relations the key's secret must be granted
	// to (the leader's, while its certificate is served); the others are
	// revoked.
	Grants []int
	// CertSecret is the unit-owned secret that keeps the certificate
	// served, as the tls-certificates library keeps it: its expiry, at
	// renewal time, makes Juju run secret-expired then. nil: none (any
	// other is removed).
	CertSecret *CertificateSecret
}

// CertificateSecret is the secret holding the served certificate.
type CertificateSecret struct {
	// Label is the library's: one per request, so a new certificate
	// (for a new request) is a new secret.
	Label string
	// Content holds the certificate and its request.
	Content map[string]string
	// Expire is the renewal time.
	Expire time.Time
}

// certificateSecret is the secret of the certificate served from rec.
func certificateSecret(unit string, rec servedRecord) *CertificateSecret {
	cert := parseCertificate(rec.Cert)
	if cert == nil {
		return nil
	}
	_, number, _ := strings.Cut(unit, "/")
	csr := strings.TrimSpace(rec.CSR)
	sum := sha256.Sum256([]byte(csr))
	return &CertificateSecret{
		Label:   tlsLibraryID + "-certificate-" + number + "-certificates-" + hex.EncodeToString(sum[:]),
		Content: map[string]string{"certificate": strings.TrimSpace(rec.Cert), "csr": csr},
		Expire:  renewalTime(cert),
	}
}

// CSRAttributes are the contents of a certificate request: the common
// name and the subject alternative names.
type CSRAttributes struct {
	CommonName string
	DNSNames   []string
	IPs        []string
}

// servedRecord is the certificate material kept between hooks so that it
// keeps serving while a new request is pending (no private key in it).
type servedRecord struct {
	Cert string `json:"cert"`
	CA   string `json:"ca"`
	CSR  string `json:"csr"`
}

// providerCertificate is one entry of the provider's certificates list.
type providerCertificate struct {
	CA      string `json:"ca"`
	CSR     string `json:"certificate_signing_request"`
	Cert    string `json:"certificate"`
	Revoked bool   `json:"revoked"`
}

// requestError is one entry of the provider's request_errors list. The
// library writes the request under "csr", the interface's schema file
// under "certificate_signing_request": both are read.
type requestError struct {
	CSR       string `json:"csr"`
	SchemaCSR string `json:"certificate_signing_request"`
	Error     struct {
		Code    int    `json:"code"`
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"error"`
}

// certificateRequest is what this unit asks for: CN = the application,
// SANs = its own name, the application's service and every worker address
// (workers serve with the leader's certificate). IP addresses go in IP
// SANs, where clients look for them.
func certificateRequest(o *Observed, cluster Cluster) CSRAttributes {
	a := CSRAttributes{CommonName: o.App}
	for _, h := range append([]string{o.UnitFQDN, o.AppFQDN}, cluster.Addresses()...) {
		if h == "" || !ValidHost(h) {
			continue
		}
		if ip, err := netip.ParseAddr(h); err == nil {
			a.IPs = append(a.IPs, ip.String())
		} else {
			a.DNSNames = append(a.DNSNames, strings.ToLower(strings.TrimSuffix(h, ".")))
		}
	}
	slices.Sort(a.DNSNames)
	slices.Sort(a.IPs)
	a.DNSNames, a.IPs = slices.Compact(a.DNSNames), slices.Compact(a.IPs)
	return a
}

// certificates decides this unit's TLS from the certificates relation,
// its key, its last request and the certificate it served: the material
// to serve (nil: plain HTTP), what the charm must do, status candidates
// and log lines.
func certificates(o *Observed, clusterEndpoint string, cluster Cluster) (*TLS, *TLSPlan, []Status, []string) {
	rels := o.Relations[CertificatesEndpoint]
	if len(rels) == 0 {
		return nil, &TLSPlan{}, nil, nil
	}
	rel := rels[0]
	plan := &TLSPlan{Requested: true}
	want := certificateRequest(o, cluster)
	var logs []string
	var statuses []Status

	key := ParsePrivateKey(o.TLS.PrivateKey)
	if key == nil {
		if o.TLS.PrivateKey != "" {
			logs = append(logs, "the private key in secret "+PrivateKeySecretLabel(o.Unit)+" is unusable: replacing it")
		}
		plan.NewKey, plan.NewCSR = true, &want
		return nil, plan, []Status{waitingForCertificate(rel)}, logs
	}
	csr := parseCSR(o.TLS.CSR)
	if csr == nil || !samePublicKey(csr.PublicKey, key.Public()) || !csrMatches(csr, want) {
		plan.NewCSR = &want
	}

	issued, badData := providerCertificates(rel.AppData["certificates"])
	if badData {
		logs = append(logs, "ignoring unparseable certificates from "+rel.RemoteApp)
	}
	var material *TLS
	var served servedRecord
	if plan.NewCSR == nil {
		ours := strings.TrimSpace(o.TLS.CSR)
		for _, e := range issued {
			if strings.TrimSpace(e.CSR) != ours {
				continue
			}
			cert := parseCertificate(e.Cert)
			switch {
			case cert == nil || !samePublicKey(cert.PublicKey, key.Public()):
				logs = append(logs, "ignoring a certificate from "+rel.RemoteApp+" that does not match this unit's key")
				continue
			case e.Revoked:
				logs = append(logs, "the certificate from "+rel.RemoteApp+" was revoked: requesting a new one")
				plan.NewCSR = &want
			case !o.Now.Before(cert.NotAfter):
				logs = append(logs, "the certificate from "+rel.RemoteApp+" expired: requesting a new one")
				plan.NewCSR = &want
			default:
				if o.Now.After(renewalTime(cert)) {
					logs = append(logs, "the certificate from "+rel.RemoteApp+" is due for renewal: requesting a new one")
					plan.NewCSR = &want
				}
				material = &TLS{CACert: e.CA, ServerCert: e.Cert, PrivateKey: o.TLS.PrivateKey}
				served = servedRecord{Cert: e.Cert, CA: e.CA, CSR: e.CSR}
			}
			break
		}
		if material == nil && plan.NewCSR == nil {
			if msg := refusal(rel, ours); msg != "" {
				statuses = append(statuses, Status{Blocked, msg})
			}
		}
	}
	if material == nil {
		// Keep serving the previous certificate while the new request is
		// pending, rather than falling back to plain HTTP.
		if prev, ok := previousCertificate(o, key, issued); ok {
			material = &TLS{CACert: prev.CA, ServerCert: prev.Cert, PrivateKey: o.TLS.PrivateKey}
			served = prev
		}
	}
	if material == nil {
		if len(statuses) == 0 {
			statuses = append(statuses, waitingForCertificate(rel))
		}
		return nil, plan, statuses, logs
	}
	material.KeySecretID = o.TLS.KeySecretID
	plan.Served = mustJSON(served)
	plan.CertSecret = certificateSecret(o.Unit, served)
	if o.Leader && o.TLS.KeySecretID != "" {
		for _, r := range o.Relations[clusterEndpoint] {
			plan.Grants = append(plan.Grants, r.ID)
		}
	}
	return material, plan, statuses, logs
}

func waitingForCertificate(rel Relation) Status {
	return Status{Waiting, "[certificates] Waiting for a certificate from " + orUnknown(rel.RemoteApp) + " (serving without TLS until then)"}
}

func orUnknown(s string) string {
	if s == "" {
		return "the provider"
	}
	return s
}

// refusal is the status message of a provider error about csr, "" when
// the provider reported none.
func refusal(rel Relation, csr string) string {
	raw := rel.AppData["request_errors"]
	if raw == "" || len(raw) > maxProviderData {
		return ""
	}
	var errs []requestError
	if json.Unmarshal([]byte(raw), &errs) != nil {
		return ""
	}
	for _, e := range errs {
		if strings.TrimSpace(e.CSR) != csr && strings.TrimSpace(e.SchemaCSR) != csr {
			continue
		}
		what := errorText(e.Error.Name)
		if m := errorText(e.Error.Message); m != "" {
			if what != "" {
				what += ": "
			}
			what += m
		}
		if what == "" {
			what = fmt.Sprintf("error %d", e.Error.Code)
		}
		return "[certificates] " + orUnknown(rel.RemoteApp) + " refused the certificate request: " + what
	}
	return ""
}

// errorText keeps the first line of s, without control characters, at
// most 120 bytes.
func errorText(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// maxProviderData bounds what is parsed from the provider's databag.
const maxProviderData = 4 << 20

// providerCertificates parses the provider's certificates list; bad is
// true when it is present but unparseable.
func providerCertificates(raw string) (list []providerCertificate, bad bool) {
	if raw == "" {
		return nil, false
	}
	if len(raw) > maxProviderData || json.Unmarshal([]byte(raw), &list) != nil {
		return nil, true
	}
	return list, false
}

// previousCertificate is the certificate last served, when it is still
// valid for the unit's key and was not revoked since.
func previousCertificate(o *Observed, key crypto.Signer, issued []providerCertificate) (servedRecord, bool) {
	var prev servedRecord
	if o.TLS.Served == "" || json.Unmarshal([]byte(o.TLS.Served), &prev) != nil {
		return prev, false
	}
	cert := parseCertificate(prev.Cert)
	if cert == nil || !samePublicKey(cert.PublicKey, key.Public()) || !o.Now.Before(cert.NotAfter) || parseCertificate(prev.CA) == nil {
		return prev, false
	}
	for _, e := range issued {
		if e.Revoked && strings.TrimSpace(e.CSR) == strings.TrimSpace(prev.CSR) {
			return prev, false
		}
	}
	return prev, true
}

// renewalTime is when a new certificate is requested: after 90% of the
// certificate's validity.
func renewalTime(cert *x509.Certificate) time.Time {
	validity := cert.NotAfter.Sub(cert.NotBefore)
	return cert.NotBefore.Add(time.Duration(float64(validity) * renewalFraction))
}

// csrMatches reports whether a request asks for exactly want.
func csrMatches(csr *x509.CertificateRequest, want CSRAttributes) bool {
	if csr.Subject.CommonName != want.CommonName {
		return false
	}
	dns := slices.Clone(csr.DNSNames)
	slices.Sort(dns)
	ips := make([]string, 0, len(csr.IPAddresses))
	for _, ip := range csr.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			ips = append(ips, a.Unmap().String())
		}
	}
	slices.Sort(ips)
	return slices.Equal(dns, want.DNSNames) && slices.Equal(ips, want.IPs)
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// ParsePrivateKey reads a PEM private key (PKCS#1, PKCS#8 or SEC 1); nil
// when there is none or it is unusable.
func ParsePrivateKey(s string) crypto.Signer {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	signer, _ := key.(crypto.Signer)
	return signer
}

func parseCSR(s string) *x509.CertificateRequest {
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		return nil
	}
	return csr
}

// isRootCA reports whether the PEM certificate is a self-signed CA: one
// nginx (OpenSSL) can anchor a verification on. An intermediate CA cannot
// be, without its chain up to the root; the workers' certificates are then
// left unverified by nginx, as the reference leaves them.
func isRootCA(s string) bool {
	cert := parseCertificate(s)
	return cert != nil && cert.IsCA && bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil
}

func parseCertificate(s string) *x509.Certificate {
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return cert
}

// certificatesDatabags is the unit's request, in its unit databag of the
// certificates relation: the one current CSR (none while it is being
// made).
func certificatesDatabags(o *Observed, plan *TLSPlan) []DatabagWrite {
	rels := o.Relations[CertificatesEndpoint]
	if len(rels) == 0 {
		return nil
	}
	data := map[string]string{}
	if plan.NewCSR == nil && o.TLS.CSR != "" {
		data["certificate_signing_requests"] = mustJSON([]map[string]any{
			{"certificate_signing_request": strings.TrimSpace(o.TLS.CSR), "ca": false},
		})
	}
	return []DatabagWrite{{Endpoint: CertificatesEndpoint, RelationID: rels[0].ID, Data: data}}
}
