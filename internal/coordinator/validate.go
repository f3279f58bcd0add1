package coordinator

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHostLength is the longest host name accepted (RFC 1035).
const MaxHostLength = 253

// ValidHost reports whether s is an IP address or a DNS name that is safe to
// render into nginx.conf and YAML: letters, digits and hyphens in labels of
// 1 to 63 characters, no label starting or ending with a hyphen, and a last
// label that is not all digits (RFC 3696 section 2): "999.1.1.1" or "1.2.3"
// look like IPv4 addresses without being one, and resolvers either reject
// them or read them as another address (inet_aton takes "1.2.3" for
// 1.2.0.3), so nginx would fail to load a config naming them.
func ValidHost(s string) bool {
	if s == "" || len(s) > MaxHostLength {
		return false
	}
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr.Zone() == ""
	}
	name := strings.TrimSuffix(s, ".")
	if last := name[strings.LastIndexByte(name, '.')+1:]; strings.Trim(last, "0123456789") == "" {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// HostPort joins a validated host and a port, bracketing IPv6 addresses.
func HostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Truncate shortens untrusted text before it is quoted in a message or a
// log: at most n bytes, then "...", without splitting a UTF-8 sequence.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// ValidURL accepts http(s) URLs with a valid host and a plain path, which
// a config can hold without quoting.
func ValidURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Fragment != "" {
		return false
	}
	if !ValidHost(u.Hostname()) {
		return false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	for _, c := range []byte(u.Path + u.RawQuery) {
		if c <= ' ' || c == '"' || c == '\'' || c == '\\' || c == ';' || c == '{' || c == '}' || c >= 0x7f {
			return false
		}
	}
	return true
}
