package coordinator

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// Limits on what a worker may publish; anything larger is rejected unread.
const (
	maxRoleBytes     = 1024
	maxTopologyBytes = 4096
)

// Topology is a worker unit's juju_topology as published.
type Topology map[string]string

// WorkerUnit is a worker unit whose databag was valid.
type WorkerUnit struct {
	Name     string
	Address  string
	Topology Topology
}

// WorkerApp is a worker application whose role was valid, with its valid units.
type WorkerApp struct {
	RelationID int
	Name       string
	// Role is the role string as published (e.g. "all" or "querier,ingester").
	Role string
	// Roles are the atomic roles the role string expands to, sorted.
	Roles []string
	// Units are the valid units, sorted by name.
	Units []WorkerUnit
}

// Cluster is the validated view of every worker related over the cluster endpoint.
type Cluster struct {
	// Relations counts cluster relations, valid or not.
	Relations int
	// Apps are the worker applications with a valid role, sorted by name.
	Apps []WorkerApp
}

// Problem names a worker application or unit whose data was rejected (or
// is not there yet) and why. Reasons never quote more than a short,
// truncated excerpt of the untrusted value.
type Problem struct {
	Subject string
	Reason  string
	// Pending is true when nothing is wrong yet: the worker has not
	// published its data.
	Pending bool
}

// String formats the problem for logs and status messages.
func (p Problem) String() string { return p.Subject + ": " + p.Reason }

// AggregateCluster validates what every worker published over the cluster
// relations and returns the cluster made of the valid parts, plus what was
// left out and why. It never fails: bad input is excluded, not fatal.
func AggregateCluster(roles RoleTable, relations []Relation) (Cluster, []Problem) {
	c := Cluster{Relations: len(relations)}
	var problems []Problem
	for _, rel := range relations {
		app, appProblems := aggregateApp(roles, rel)
		problems = append(problems, appProblems...)
		if app != nil {
			c.Apps = append(c.Apps, *app)
		}
	}
	sort.SliceStable(c.Apps, func(i, j int) bool {
		if c.Apps[i].Name != c.Apps[j].Name {
			return c.Apps[i].Name < c.Apps[j].Name
		}
		return c.Apps[i].RelationID < c.Apps[j].RelationID
	})
	problems = append(problems, c.dropDuplicateAddresses()...)
	return c, problems
}

func aggregateApp(roles RoleTable, rel Relation) (*WorkerApp, []Problem) {
	name := rel.RemoteApp
	if name == "" {
		name = rel.Ref()
	}
	raw, ok := rel.AppData["role"]
	if !ok || raw == "" {
		return nil, []Problem{{Subject: name, Reason: "has not published its role yet", Pending: true}}
	}
	role, err := decodeJSONString(raw, maxRoleBytes)
	if err != nil {
		return nil, []Problem{{Subject: name, Reason: "invalid role: " + err.Error()}}
	}
	expanded, err := roles.Expand(role)
	if err != nil {
		return nil, []Problem{{Subject: name, Reason: "invalid role: " + err.Error()}}
	}
	app := &WorkerApp{RelationID: rel.ID, Name: name, Role: role, Roles: expanded}
	var problems []Problem
	for _, unit := range slices.Sorted(maps.Keys(rel.Units)) {
		u, problem := validateUnit(unit, rel.Units[unit])
		if problem != nil {
			problems = append(problems, *problem)
			continue
		}
		app.Units = append(app.Units, u)
	}
	return app, problems
}

func validateUnit(name string, data map[string]string) (WorkerUnit, *Problem) {
	rawAddr, hasAddr := data["address"]
	rawTopo, hasTopo := data["juju_topology"]
	if !hasAddr && !hasTopo {
		return WorkerUnit{}, &Problem{Subject: name, Reason: "has not published its address yet", Pending: true}
	}
	if !hasAddr {
		return WorkerUnit{}, &Problem{Subject: name, Reason: "missing address"}
	}
	addr, err := decodeJSONString(rawAddr, MaxHostLength+2)
	if err != nil {
		return WorkerUnit{}, &Problem{Subject: name, Reason: "invalid address: " + err.Error()}
	}
	if !ValidHost(addr) {
		return WorkerUnit{}, &Problem{Subject: name, Reason: fmt.Sprintf("invalid address %q: not a DNS name or IP address", Truncate(addr, 40))}
	}
	if !hasTopo {
		return WorkerUnit{}, &Problem{Subject: name, Reason: "missing juju_topology"}
	}
	topo, err := decodeTopology(rawTopo)
	if err != nil {
		return WorkerUnit{}, &Problem{Subject: name, Reason: "invalid juju_topology: " + err.Error()}
	}
	return WorkerUnit{Name: name, Address: addr, Topology: topo}, nil
}

// dropDuplicateAddresses keeps an address for the first unit (in app, then
// unit order) that claims it, and reports the others: two units cannot be
// the same host, so the data of one of them is wrong.
func (c *Cluster) dropDuplicateAddresses() []Problem {
	var problems []Problem
	owner := map[string]string{}
	for i := range c.Apps {
		app := &c.Apps[i]
		kept := app.Units[:0]
		for _, u := range app.Units {
			key := hostKey(u.Address)
			if first, dup := owner[key]; dup {
				problems = append(problems, Problem{Subject: u.Name, Reason: fmt.Sprintf("address %s is already used by %s", u.Address, first)})
				continue
			}
			owner[key] = u.Name
			kept = append(kept, u)
		}
		app.Units = kept
	}
	return problems
}

// hostKey is the form under which two spellings of one host compare equal:
// DNS names are case-insensitive and may end with a dot; IP addresses have
// several spellings ("::1", "0:0::1", "::ffff:10.0.0.1" for 10.0.0.1).
func hostKey(addr string) string {
	if ip, err := netip.ParseAddr(addr); err == nil {
		return ip.Unmap().String()
	}
	return strings.ToLower(strings.TrimSuffix(addr, "."))
}

func decodeJSONString(raw string, limit int) (string, error) {
	if len(raw) > limit {
		return "", fmt.Errorf("value of %d bytes is over the limit of %d", len(raw), limit)
	}
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return "", fmt.Errorf("not a JSON string")
	}
	return s, nil
}

func decodeTopology(raw string) (Topology, error) {
	if len(raw) > maxTopologyBytes {
		return nil, fmt.Errorf("value of %d bytes is over the limit of %d", len(raw), maxTopologyBytes)
	}
	var t Topology
	if err := json.Unmarshal([]byte(raw), &t); err != nil || t == nil {
		return nil, fmt.Errorf("not a JSON object of strings")
	}
	for _, key := range []string{"application", "unit"} {
		if t[key] == "" {
			return nil, fmt.Errorf("no %q", key)
		}
	}
	return t, nil
}

// AddressesByRole maps every atomic role to the sorted addresses of the
// units that run it.
func (c Cluster) AddressesByRole() map[string][]string {
	out := map[string][]string{}
	for _, app := range c.Apps {
		for _, role := range app.Roles {
			for _, u := range app.Units {
				out[role] = append(out[role], u.Address)
			}
		}
	}
	for role := range out {
		slices.Sort(out[role])
		out[role] = slices.Compact(out[role])
	}
	return out
}

// Addresses returns every worker address, sorted.
func (c Cluster) Addresses() []string {
	var out []string
	for _, app := range c.Apps {
		for _, u := range app.Units {
			out = append(out, u.Address)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// RoleUnits counts, for each atomic role, the valid units that run it.
func (c Cluster) RoleUnits() map[string]int {
	out := map[string]int{}
	for _, app := range c.Apps {
		for _, role := range app.Roles {
			out[role] += len(app.Units)
		}
	}
	return out
}

// Units returns every valid worker unit, sorted by name.
func (c Cluster) Units() []WorkerUnit {
	var out []WorkerUnit
	for _, app := range c.Apps {
		out = append(out, app.Units...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
