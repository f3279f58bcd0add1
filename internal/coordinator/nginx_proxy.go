package coordinator

import "strings"

// The Location fields of proxy locations (URI, Rewrite, Scheme, Host):
// how they are checked and rendered.

// validProxyFields checks what a location adds to plain routing: URI and
// Rewrite are plain absolute paths, Scheme is http or https, Host a valid
// host with an optional port.
func validProxyFields(l Location) bool {
	for _, p := range []string{l.URI, l.Rewrite} {
		if p != "" && (!strings.HasPrefix(p, "/") || len(p) > 1024 || !plainPath(p)) {
			return false
		}
	}
	if l.Scheme != "" && l.Scheme != "http" && l.Scheme != "https" {
		return false
	}
	if l.Host != "" && !validHostHeader(l.Host) {
		return false
	}
	return true
}

// validHostHeader accepts "host" and "host:port" with a valid host.
func validHostHeader(s string) bool {
	host := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.HasSuffix(s, "]") {
		host = s[:i]
		port := s[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return false
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return ValidHost(host)
}

// renderProxyExtras adds the headers of a location that names its
// upstream's Host. Any proxy_set_header in a location replaces every one
// inherited from the server, so the server's are set again.
func renderProxyExtras(loc *ngxBlock, l Location) {
	if l.Host == "" {
		return
	}
	loc.directive("proxy_set_header", "Connection", "")
	loc.directive("proxy_set_header", "X-Scope-OrgID", "$ensured_x_scope_orgid")
	loc.directive("proxy_set_header", "Host", l.Host)
	if l.Scheme == "https" {
		name := l.Host
		if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.HasSuffix(name, "]") {
			name = name[:i]
		}
		loc.directive("proxy_ssl_server_name", "on")
		loc.directive("proxy_ssl_name", strings.Trim(name, "[]"))
	}
}

// regexpQuote escapes the characters of a plain path that a PCRE regular
// expression would interpret, in a bracket ("[.]") where one is exact, so
// that the pattern needs no quoting in nginx.conf.
func regexpQuote(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case strings.IndexByte(`.+*?()|[`, c) >= 0:
			b.WriteString("[" + string(c) + "]")
		case c == ']':
			b.WriteString("[]]")
		case c == '^' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
