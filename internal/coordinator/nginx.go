package coordinator

import (
	"slices"
	"strconv"
	"strings"
)

// Paths and values nginx.conf refers to.
const (
	// NginxCertPath is where the nginx container holds the server certificate.
	NginxCertPath = "/etc/nginx/certs/server.cert"
	// NginxKeyPath is where the nginx container holds the server key.
	NginxKeyPath = "/etc/nginx/certs/server.key"
	// NginxPidPath is the pid file nginx.conf configures.
	NginxPidPath = "/tmp/nginx.pid"
	// NginxStatusPath is the stub_status location every server exposes.
	NginxStatusPath = "/status"
)

// Data-path settings every route shares.
const (
	// NginxBodySlackBytes is what nginx accepts beyond a route's
	// MaxBodyBytes: the worker's limit counts the payload (a gRPC message,
	// a decoded body) while nginx counts every body byte it receives
	// (gRPC framing included), and the worker must be the one that says
	// no, with its own error.
	NginxBodySlackBytes = 1 << 20
	// NginxUpstreamKeepalive is how many idle connections each nginx
	// worker process keeps open to each upstream, so that requests reuse
	// connections (HTTP/1.1 to HTTP workers, HTTP/2 to gRPC ones) instead
	// of opening one per request and leaving it in TIME_WAIT.
	NginxUpstreamKeepalive = 32
	// NginxUpstreamKeepaliveTimeout closes an idle upstream connection
	// before the worker does, so that nginx never sends a request on a
	// connection the worker is closing. The shortest idle timeout among
	// the workers' servers is the OpenTelemetry collector's
	// confighttp.NewDefaultServerConfig (IdleTimeout 1 minute, collector
	// v0.132.0 as vendored by Tempo v2.9, used by the OTLP/HTTP receiver);
	// dskit's HTTP server (Tempo's 3200, Pyroscope's 4040) waits 120s
	// (-server.http-idle-timeout).
	NginxUpstreamKeepaliveTimeout = "50s"
	// NginxProxyTimeout bounds the wait between two reads or two writes
	// of a proxied request (proxy_read/send_timeout, and the grpc_*
	// twins, whose nginx default of 60s would cut long gRPC streams). It
	// is longer than any worker's own limit, so the worker ends a slow
	// request first: Tempo's HTTP server writes for at most 30s (dskit
	// -server.http-write-timeout), its querier gives up a search after
	// 30s and a trace lookup after 10s (modules/querier/config.go), the
	// OTLP/HTTP receiver writes for 30s (confighttp WriteTimeout);
	// Pyroscope's server read/write timeouts are dskit's 30s, doubled
	// when the query-scheduler runs in the process (pkg/pyroscope/modules.go).
	NginxProxyTimeout = "300s"
)

// NginxInput is everything nginx.conf depends on.
type NginxInput struct {
	Facts           NginxFacts
	Routes          Routes
	AddressesByRole map[string][]string // validated worker addresses per atomic role
	AllAddresses    []string            // every worker address (for upstreams with Role "")
	ServerName      string              // the unit's fqdn (validated by the caller)
	TLS             bool                // listen with ssl, certs at /etc/nginx/certs/server.{cert,key}
	UpstreamTLS     bool                // talk https/grpcs to the workers (they serve TLS)
	// UpstreamVerifyName, under UpstreamTLS, makes nginx verify the
	// workers' certificate against the CA in NginxCAPath, for this name
	// (one its SANs hold); "" leaves them unverified.
	UpstreamVerifyName string
	StatusPort         int // a server on this port always exists and serves /status
}

// NginxAtLeast reports whether the nginx version string (such as "1.22.1",
// "nginx/1.27.5" or "1.25") is at least major.minor.patch. An empty or
// unparseable version is treated as the oldest nginx supported (Debian's
// 1.22) by reporting false for every question: callers then pick the most
// conservative syntax.
func NginxAtLeast(version string, major, minor, patch int) bool {
	v, ok := parseNginxVersion(version)
	if !ok {
		return false
	}
	return compareVersion(v, [3]int{major, minor, patch}) >= 0
}

// NginxSupportsUpstreamResolve reports whether nginx accepts the "resolve"
// parameter of an upstream "server" (open-source nginx 1.27.3 and later).
func NginxSupportsUpstreamResolve(version string) bool {
	return NginxAtLeast(version, 1, 27, 3)
}

// NginxSupportsHTTP2Directive reports whether nginx has the "http2 on;"
// directive (1.25.1 and later); older versions need "listen N http2".
func NginxSupportsHTTP2Directive(version string) bool {
	return NginxAtLeast(version, 1, 25, 1)
}

func parseNginxVersion(s string) ([3]int, bool) {
	var v [3]int
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "nginx version: ")
	s = strings.TrimPrefix(s, "nginx/")
	// Keep the leading dotted number, dropping suffixes like " (Ubuntu)" or "-1~bpo".
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.') {
		end++
	}
	parts := strings.Split(s[:end], ".")
	if len(parts) < 2 || len(parts) > 3 {
		return v, false
	}
	for i, p := range parts {
		if p == "" || len(p) > 6 {
			return v, false
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func compareVersion(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// RenderNginx renders nginx.conf. The output is a pure function of in:
// rendering the same input twice gives the same bytes.
//
// Only upstreams some location routes to are rendered, each with
// keepalive connections. Upstreams with no valid address are left out,
// and so are the locations routed to them and the servers left without a
// location. A server on
// in.StatusPort always exists; every server serves "location = /status".
func RenderNginx(in NginxInput) []byte {
	resolve := in.Facts.Resolver != "" && ValidHost(in.Facts.Resolver) &&
		NginxSupportsUpstreamResolve(in.Facts.Version)

	http := &ngxBlock{}
	protocols := upstreamProtocols(in.Routes.Servers)
	upstreams := map[string]bool{} // emitted upstream names
	for _, u := range in.Routes.Upstreams {
		if !validNginxName(u.Name) || !validPort(u.Port) || upstreams[u.Name] {
			continue
		}
		if _, routed := protocols[u.Name]; !routed {
			continue
		}
		addrs := in.AllAddresses
		switch {
		case u.Hosts != nil:
			addrs = u.Hosts
		case u.Role != "":
			addrs = in.AddressesByRole[u.Role]
		}
		if u.Among != nil {
			among := make(map[string]bool, len(u.Among))
			for _, a := range u.Among {
				among[a] = true
			}
			addrs = slices.DeleteFunc(slices.Clone(addrs), func(a string) bool { return !among[a] })
		}
		servers := upstreamServers(addrs, u.Port)
		if len(servers) == 0 {
			continue
		}
		upstreams[u.Name] = true
		up := http.block("upstream", u.Name)
		up.directive("zone", u.Name+"_zone", "64k")
		for _, s := range servers {
			if resolve {
				up.directive("server", s, "resolve")
			} else {
				up.directive("server", s)
			}
		}
		up.directive("keepalive", strconv.Itoa(NginxUpstreamKeepalive))
		up.directive("keepalive_timeout", NginxUpstreamKeepaliveTimeout)
	}

	http.directive("client_body_temp_path", "/tmp/client_temp")
	http.directive("proxy_temp_path", "/tmp/proxy_temp_path")
	http.directive("fastcgi_temp_path", "/tmp/fastcgi_temp")
	http.directive("uwsgi_temp_path", "/tmp/uwsgi_temp")
	http.directive("scgi_temp_path", "/tmp/scgi_temp")
	http.directive("include", "/etc/nginx/mime.types")
	http.directive("default_type", "application/octet-stream")
	http.directive("log_format", "main", `$remote_addr - $remote_user [$time_local]  $status "$request" $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"`)
	loggable := http.block("map", "$status", "$loggable")
	loggable.directive("~^[23]", "0")
	loggable.directive("default", "1")
	orgID := http.block("map", "$http_x_scope_orgid", "$ensured_x_scope_orgid")
	orgID.directive("default", "$http_x_scope_orgid")
	orgID.directive("", "anonymous")
	http.directive("access_log", "/dev/stderr")
	http.directive("sendfile", "on")
	http.directive("tcp_nopush", "on")
	if in.Facts.Resolver != "" && ValidHost(in.Facts.Resolver) {
		http.directive("resolver", bracketIPv6(in.Facts.Resolver))
	}
	for _, name := range []string{"proxy_read_timeout", "proxy_send_timeout", "grpc_read_timeout", "grpc_send_timeout"} {
		http.directive(name, NginxProxyTimeout)
	}

	for _, s := range nginxServers(in.Routes.Servers, upstreams, protocols, in.StatusPort) {
		renderServer(http, s, in)
	}

	root := &ngxBlock{}
	root.directive("worker_processes", "5")
	root.directive("error_log", "/dev/stderr", "error")
	root.directive("pid", NginxPidPath)
	root.directive("worker_rlimit_nofile", "8192")
	root.block("events").directive("worker_connections", "4096")
	root.children = append(root.children, ngxNode{name: "http", isBlock: true, block: http})

	var b strings.Builder
	root.render(&b, 0)
	return []byte(b.String())
}

// upstreamProtocols tells, for each upstream some valid location routes
// to (no other upstream is rendered), whether it carries gRPC: the protocol of the first server (in the
// routes' order) routing to it. Locations of the other protocol are not
// rendered (see Upstream).
func upstreamProtocols(servers []Server) map[string]bool {
	grpc := portProtocols(servers)
	out := map[string]bool{}
	for _, r := range servers {
		if !validPort(r.Port) {
			continue
		}
		for _, l := range r.Locations {
			if _, seen := out[l.Upstream]; !seen && validLocation(l) && l.Modifier+" "+l.Path != "= "+NginxStatusPath {
				out[l.Upstream] = grpc[r.Port]
			}
		}
	}
	return out
}

// portProtocols tells whether each port speaks gRPC: servers sharing a
// port are merged, and the first one listed decides.
func portProtocols(servers []Server) map[int]bool {
	out := map[int]bool{}
	for _, r := range servers {
		if _, seen := out[r.Port]; !seen {
			out[r.Port] = r.GRPC
		}
	}
	return out
}

// upstreamServers returns the sorted, de-duplicated "host:port" of the valid
// addresses.
func upstreamServers(addrs []string, port int) []string {
	var out []string
	for _, a := range addrs {
		if ValidHost(a) {
			out = append(out, HostPort(a, port))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// nginxServer is a server block about to be rendered.
type nginxServer struct {
	port      int
	grpc      bool
	locations []Location
}

// nginxServers keeps the locations whose upstream was emitted for their
// protocol, merges servers sharing a port (the first one decides GRPC), drops servers left
// without a location except the status server, and sorts them by port.
func nginxServers(routes []Server, upstreams, protocols map[string]bool, statusPort int) []nginxServer {
	grpc := portProtocols(routes)
	byPort := map[int]*nginxServer{}
	seen := map[int]map[string]bool{} // port → "modifier path" already routed
	for _, r := range routes {
		if !validPort(r.Port) {
			continue
		}
		for _, l := range r.Locations {
			if !upstreams[l.Upstream] || !validLocation(l) || protocols[l.Upstream] != grpc[r.Port] {
				continue
			}
			key := l.Modifier + " " + l.Path
			if key == "= "+NginxStatusPath {
				continue // reserved for stub_status
			}
			s := byPort[r.Port]
			if s == nil {
				s = &nginxServer{port: r.Port, grpc: grpc[r.Port]}
				byPort[r.Port] = s
				seen[r.Port] = map[string]bool{}
			}
			if seen[r.Port][key] {
				continue
			}
			seen[r.Port][key] = true
			s.locations = append(s.locations, l)
		}
	}
	if validPort(statusPort) && byPort[statusPort] == nil {
		byPort[statusPort] = &nginxServer{port: statusPort}
	}
	out := make([]nginxServer, 0, len(byPort))
	for _, s := range byPort {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b nginxServer) int { return a.port - b.port })
	return out
}

func renderServer(http *ngxBlock, s nginxServer, in NginxInput) {
	http2Directive := NginxSupportsHTTP2Directive(in.Facts.Version)
	port := strconv.Itoa(s.port)
	var params []string
	if s.grpc && !http2Directive {
		params = append(params, "http2")
	}
	if in.TLS {
		params = append(params, "ssl")
	}
	srv := http.block("server")
	srv.directive("listen", append([]string{port}, params...)...)
	if in.Facts.IPv6 {
		srv.directive("listen", append([]string{"[::]:" + port}, params...)...)
	}
	if s.grpc && http2Directive {
		srv.directive("http2", "on")
	}
	if ValidHost(in.ServerName) {
		srv.directive("server_name", in.ServerName)
	}
	if s.grpc {
		srv.directive("grpc_set_header", "X-Scope-OrgID", "$ensured_x_scope_orgid")
	} else {
		// HTTP/1.1 without "Connection: close" keeps upstream
		// connections alive. Headers are set here, once: a location
		// with its own proxy_set_header would inherit none of these.
		srv.directive("proxy_http_version", "1.1")
		srv.directive("proxy_set_header", "Connection", "")
		srv.directive("proxy_set_header", "X-Scope-OrgID", "$ensured_x_scope_orgid")
		// Stream request bodies to the worker as they arrive instead of
		// spooling large batches to a temporary file first.
		srv.directive("proxy_request_buffering", "off")
	}
	if in.TLS {
		srv.directive("ssl_certificate", NginxCertPath)
		srv.directive("ssl_certificate_key", NginxKeyPath)
		srv.directive("ssl_protocols", "TLSv1.2", "TLSv1.3")
		srv.directive("ssl_ciphers", "HIGH:!aNULL:!MD5")
	}
	srv.block("location", "=", NginxStatusPath).directive("stub_status")

	scheme, pass, timeout := "http", "proxy_pass", "proxy_connect_timeout"
	if s.grpc {
		scheme, pass, timeout = "grpc", "grpc_pass", "grpc_connect_timeout"
	}
	if in.UpstreamTLS {
		scheme += "s"
	}
	for _, l := range s.locations {
		var loc *ngxBlock
		if l.Modifier == "" {
			loc = srv.block("location", l.Path)
		} else {
			loc = srv.block("location", l.Modifier, l.Path)
		}
		// A variable with no URI part makes nginx forward the original
		// request URI unchanged, and defers name resolution to the
		// upstream block of that name.
		loc.directive("client_max_body_size", maxBodySize(l.MaxBodyBytes))
		upstreamScheme := scheme
		if l.Scheme != "" {
			upstreamScheme = l.Scheme
		}
		loc.directive("set", "$backend", upstreamScheme+"://"+l.Upstream+l.URI)
		if l.Rewrite != "" {
			loc.directive("rewrite", "^"+regexpQuote(l.Path)+"(.*)", l.Rewrite+"$1", "break")
		}
		loc.directive(pass, "$backend")
		loc.directive(timeout, "5s")
		if (upstreamScheme == "https" || upstreamScheme == "grpcs") && l.Host == "" && ValidHost(in.UpstreamVerifyName) {
			renderUpstreamVerify(loc, s.grpc, in.UpstreamVerifyName)
		}
		renderProxyExtras(loc, l)
	}
}

// renderUpstreamVerify makes a location verify its worker's certificate:
// signed by the CA in NginxCAPath, for name. The workers serve the
// leader's certificate, whose chain is the leaf alone: one level.
func renderUpstreamVerify(loc *ngxBlock, grpc bool, name string) {
	prefix := "proxy_ssl_"
	if grpc {
		prefix = "grpc_ssl_"
	}
	loc.directive(prefix+"verify", "on")
	loc.directive(prefix+"trusted_certificate", NginxCAPath)
	loc.directive(prefix+"name", name)
}

// maxBodySize is client_max_body_size for a worker limit: the limit plus
// NginxBodySlackBytes, in the largest unit that is exact; "0" (no limit)
// when the worker has none.
func maxBodySize(workerLimit int64) string {
	if workerLimit <= 0 {
		return "0"
	}
	n := workerLimit + NginxBodySlackBytes
	switch {
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "m"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "k"
	}
	return strconv.FormatInt(n, 10)
}

func validPort(p int) bool { return p > 0 && p <= 65535 }

// validNginxName accepts upstream names made of letters, digits, '-', '_'
// and '.', so that "scheme://name" stays a plain host.
func validNginxName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validLocation accepts "" and "=" modifiers and absolute paths without
// characters nginx treats specially (quotes, braces, ';', '$', whitespace,
// '#', '\').
func validLocation(l Location) bool {
	if l.Modifier != "" && l.Modifier != "=" {
		return false
	}
	if !strings.HasPrefix(l.Path, "/") || len(l.Path) > 1024 {
		return false
	}
	if !plainPath(l.Path) {
		return false
	}
	return validProxyFields(l)
}

// plainPath reports whether a URI path has no character nginx treats
// specially (quotes, braces, ';', '$', whitespace, '#', '\').
func plainPath(p string) bool {
	for _, c := range []byte(p) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"'{};$#\`, c) >= 0 {
			return false
		}
	}
	return true
}

func bracketIPv6(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// ngxBlock is the body of an nginx block (or the whole file).
type ngxBlock struct {
	children []ngxNode
}

// ngxNode is a directive, with a body when isBlock.
type ngxNode struct {
	name    string
	args    []string
	isBlock bool
	block   *ngxBlock
}

func (b *ngxBlock) directive(name string, args ...string) {
	b.children = append(b.children, ngxNode{name: name, args: args})
}

func (b *ngxBlock) block(name string, args ...string) *ngxBlock {
	body := &ngxBlock{}
	b.children = append(b.children, ngxNode{name: name, args: args, isBlock: true, block: body})
	return body
}

func (b *ngxBlock) render(w *strings.Builder, depth int) {
	indent := strings.Repeat("    ", depth)
	for _, n := range b.children {
		w.WriteString(indent)
		w.WriteString(ngxQuote(n.name))
		for _, a := range n.args {
			w.WriteByte(' ')
			w.WriteString(ngxQuote(a))
		}
		if !n.isBlock {
			w.WriteString(";\n")
			continue
		}
		w.WriteString(" {\n")
		n.block.render(w, depth+1)
		w.WriteString(indent)
		w.WriteString("}\n")
	}
}

// ngxQuote returns s as one nginx token: unchanged when it has no character
// the nginx parser treats specially, else single-quoted with '\' escapes.
// Variables ($name) keep their meaning either way.
func ngxQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\r\n;{}\"'\\#") {
		return s
	}
	var b strings.Builder
	b.WriteByte('\'')
	for _, c := range []byte(s) {
		if c == '\'' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('\'')
	return b.String()
}
