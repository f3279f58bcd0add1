package coordinator

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// S3Endpoint is the requirer endpoint for object storage.
const S3Endpoint = "s3"

// Limits on S3 provider data.
const (
	maxS3Value   = 4096
	maxS3CAChain = 64 * 1024
)

// S3Request is the leader's app databag on the s3 relation: the bucket it
// asks for, as the reference requirer does ("relation-<id>").
func S3Request(rel Relation) DatabagWrite {
	return DatabagWrite{Endpoint: S3Endpoint, RelationID: rel.ID, App: true,
		Data: map[string]string{"bucket": "relation-" + strconv.Itoa(rel.ID)}}
}

// ParseS3 validates what the S3 provider published. It returns nil and the
// reasons when the data is incomplete or invalid. The secret key never
// appears in a reason.
func ParseS3(rel Relation) (*S3, []string) {
	get := func(key string) string { return decodeLoose(rel.AppData[key]) }
	var problems []string
	for _, key := range []string{"endpoint", "bucket", "access-key", "secret-key"} {
		if get(key) == "" {
			problems = append(problems, "missing "+key)
		}
	}
	for _, key := range []string{"endpoint", "bucket", "access-key", "secret-key", "region", "s3-uri-style"} {
		if len(rel.AppData[key]) > maxS3Value {
			problems = append(problems, key+" is too long")
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	s3 := &S3{Bucket: get("bucket"), AccessKey: get("access-key"), SecretKey: get("secret-key"), Region: get("region")}
	if !validBucket(s3.Bucket) {
		problems = append(problems, fmt.Sprintf("invalid bucket name %q", Truncate(s3.Bucket, 40)))
	}
	if !printable(s3.AccessKey) || !printable(s3.SecretKey) {
		problems = append(problems, "access-key or secret-key holds control characters or is not UTF-8")
	}
	if s3.Region != "" && !validRegion(s3.Region) {
		problems = append(problems, fmt.Sprintf("invalid region %q", Truncate(s3.Region, 40)))
	}
	endpoint, https, err := parseS3Endpoint(get("endpoint"))
	if err != nil {
		problems = append(problems, err.Error())
	}
	s3.Endpoint = endpoint
	switch style := get("s3-uri-style"); style {
	case "", "host":
	case "path":
		s3.PathStyle = true
	default:
		problems = append(problems, fmt.Sprintf("invalid s3-uri-style %q: want host or path", Truncate(style, 20)))
	}
	chain, err := parseCAChain(rel.AppData["tls-ca-chain"])
	if err != nil {
		problems = append(problems, err.Error())
	}
	s3.CAChain = chain
	// An http:// (or scheme-less) endpoint with a CA chain is not
	// insecure: the workers then speak TLS to it and verify it with the
	// chain. The Python coordinators do the same, and we keep it on
	// purpose: a provider that hands us a CA means its endpoint is TLS (a
	// scheme left at http:// is the likelier mistake), and the other
	// reading would send the S3 credentials in the clear to an endpoint
	// its owner meant to be verified. If the endpoint really is plain
	// HTTP, the workers fail to connect, loudly, rather than downgrade.
	s3.Insecure = !(https || chain != "")
	if len(problems) > 0 {
		return nil, scrubSecret(problems, rel.AppData["secret-key"], s3.SecretKey)
	}
	return s3, nil
}

// scrubSecret removes the secret key from reasons, whatever quoted it (an
// endpoint with credentials, a provider that put the key in another field),
// as is or escaped by %q. Replacing bytes may split a character of the
// text around: the result is made valid UTF-8 again.
func scrubSecret(reasons []string, secrets ...string) []string {
	for i := range reasons {
		for _, s := range secrets {
			if s == "" {
				continue
			}
			reasons[i] = strings.ReplaceAll(reasons[i], s, "<secret>")
			if q := strconv.Quote(s); q[1:len(q)-1] != s {
				reasons[i] = strings.ReplaceAll(reasons[i], q[1:len(q)-1], "<secret>")
			}
		}
		reasons[i] = strings.ToValidUTF8(reasons[i], "\ufffd")
	}
	return reasons
}

// redactCredentials hides the userinfo of an endpoint before it is quoted.
func redactCredentials(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	prefix := ""
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		prefix = raw[:i+3]
	}
	return prefix + "<redacted>@" + raw[at+1:]
}

// decodeLoose returns a JSON string's content, or the raw value when it is
// not a JSON string (the s3 library writes some keys raw, some as JSON).
func decodeLoose(raw string) string {
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err == nil {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(raw)
}

// parseS3Endpoint turns "https://host:443", "http://host:9000" or
// "host:9000" into "host[:port]" without a default port, and tells whether
// the scheme was https.
func parseS3Endpoint(raw string) (string, bool, error) {
	published := raw
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("invalid endpoint %q: %s", Truncate(redactCredentials(published), 60), why)
	}
	if !strings.Contains(raw, "://") {
		raw = "//" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a URL")
	}
	if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		return bad("scheme must be http or https")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return bad("want scheme://host[:port] with no path, query or credentials")
	}
	host, port := u.Hostname(), u.Port()
	if !ValidHost(host) {
		return bad("not a DNS name or IP address")
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("invalid port")
		}
		if n == 80 || n == 443 {
			port = ""
		}
	}
	if port == "" {
		if strings.Contains(host, ":") {
			return "[" + host + "]", u.Scheme == "https", nil
		}
		return host, u.Scheme == "https", nil
	}
	return net.JoinHostPort(host, port), u.Scheme == "https", nil
}

// parseCAChain accepts a JSON list of PEM strings (the s3 interface) or a
// single PEM string, and joins certificates with a blank line.
func parseCAChain(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if len(raw) > maxS3CAChain {
		return "", fmt.Errorf("tls-ca-chain is too long")
	}
	var list []string
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		var single string
		if err := json.Unmarshal([]byte(raw), &single); err != nil {
			single = raw
		}
		list = []string{single}
	}
	var certs []string
	for _, c := range list {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.HasPrefix(c, "-----BEGIN CERTIFICATE-----") || !strings.HasSuffix(c, "-----END CERTIFICATE-----") {
			return "", fmt.Errorf("tls-ca-chain holds something that is not a PEM certificate")
		}
		certs = append(certs, c)
	}
	return strings.Join(certs, "\n\n"), nil
}

func validBucket(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func validRegion(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// printable reports whether s is UTF-8 without control characters: the
// workers' YAML config carries it as text.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
