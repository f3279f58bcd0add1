package coordinator

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// hostNotFoundRE finds the upstream nginx could not resolve in `nginx -t`'s
// output: `host not found in upstream "name:port" in /etc/nginx/nginx.conf:12`.
var hostNotFoundRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`host not found in upstream "([^"]{1,300})"`)
})

// UnresolvedHost returns the host among hosts (as hosts spell it) that
// nginx's output says it could not resolve, or "" when the output names
// none of them. nginx 1.22 resolves upstream server names when it loads a
// config and refuses the whole config when one fails; the charm leaves
// such a host out (Observed.UnresolvedAddresses) so that one worker, Loki,
// Prometheus or tracing host whose name does not resolve (yet) cannot hold
// back the routes to all the others.
func UnresolvedHost(nginxOutput string, hosts []string) string {
	m := hostNotFoundRE().FindStringSubmatch(nginxOutput)
	if m == nil {
		return ""
	}
	host := m[1]
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	key := hostKey(host)
	for _, h := range hosts {
		if hostKey(h) == key {
			return h
		}
	}
	return ""
}

// withoutUnresolved removes the addresses nginx cannot resolve from what
// nginx.conf routes to.
func withoutUnresolved(byRole map[string][]string, all []string, unresolved []string) (map[string][]string, []string) {
	if len(unresolved) == 0 {
		return byRole, all
	}
	gone := map[string]bool{}
	for _, a := range unresolved {
		gone[hostKey(a)] = true
	}
	drop := func(a string) bool { return gone[hostKey(a)] }
	out := make(map[string][]string, len(byRole))
	for role, addrs := range byRole {
		out[role] = slices.DeleteFunc(slices.Clone(addrs), drop)
	}
	return out, slices.DeleteFunc(slices.Clone(all), drop)
}

// unresolvedStatus names the addresses left out of nginx.conf.
func unresolvedStatus(unresolved []string) Status {
	names := slices.Sorted(slices.Values(unresolved))
	names = slices.Compact(names)
	more := ""
	if len(names) > 3 {
		more = fmt.Sprintf(" and %d more", len(names)-3)
		names = names[:3]
	}
	return Status{Active, "[nginx] Not routing to " + strings.Join(names, ", ") + more + ": nginx cannot resolve them"}
}

// routesWithoutUnresolved removes the addresses nginx cannot resolve from
// the upstreams with explicit hosts (the worker telemetry proxy's: worker
// units, Loki units, remote-write and tracing hosts).
func routesWithoutUnresolved(routes Routes, unresolved []string) Routes {
	if len(unresolved) == 0 {
		return routes
	}
	gone := map[string]bool{}
	for _, a := range unresolved {
		gone[hostKey(a)] = true
	}
	out := Routes{Servers: routes.Servers, Upstreams: make([]Upstream, len(routes.Upstreams))}
	for i, u := range routes.Upstreams {
		if u.Hosts != nil {
			u.Hosts = slices.DeleteFunc(slices.Clone(u.Hosts), func(a string) bool { return gone[hostKey(a)] })
		}
		out.Upstreams[i] = u
	}
	return out
}

// upstreamHosts are the hosts nginx.conf names as upstream servers: the
// workers' addresses and the explicit hosts of the routes' upstreams,
// sorted, without repeats.
func upstreamHosts(workers []string, routes Routes) []string {
	out := slices.Clone(workers)
	for _, u := range routes.Upstreams {
		out = append(out, u.Hosts...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
