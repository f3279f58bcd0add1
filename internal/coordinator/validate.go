package coordinator

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// MaxHostLength is the longest host name accepted (RFC 1035).
const MaxHostLength = 253

// ValidHost reports whether s is an IP address or a DNS name that is safe to
// render into nginx.conf and YAML: letters, digits and hyphens in labels of
// 1 to 63 characters, no label starting or ending with a hyphen.
func ValidHost(s string) bool {
	if s == "" || len(s) > MaxHostLength {
		return false
	}
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr.Zone() == ""
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
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
