package bench

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// Minimum is the theoretical minimum number of hook-tool calls of one
// hook, by tool:
//
//   - one relation-ids per endpoint the charm observes that has at least
//     one relation (an endpoint without relations needs no call at all
//     when the charm knows it is empty, which is what goal-state is for);
//   - one relation-list per relation of those endpoints whose databags
//     are read (it names them; an endpoint where the charm only writes,
//     such as peers, needs none);
//   - one relation-get per remote application databag and per remote
//     unit databag the endpoint needs (Endpoint.AppData, .UnitData);
//   - one config-get and one is-leader;
//   - one relation-set per own databag whose content the hook changed,
//     one open-port or close-port per port whose state changed;
//   - one status-set only when the unit's (or the application's) status
//     changed.
//
// Writes are judged by the outcome: comparing the model before and after
// the hook, whatever the charm meant to do. Charm bookkeeping (goal-state,
// state-get/-set/-delete, opened-ports) is not part of the minimum: it is
// what the ≤ minimum+3 allowance is for.
type Minimum map[string]int

// Total is the minimum number of calls.
func (m Minimum) Total() int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// String lists the minimum by tool, in a fixed order.
func (m Minimum) String() string { return countsString(m) }

func countsString(m map[string]int) string {
	var parts []string
	for _, tool := range slices.Sorted(maps.Keys(m)) {
		if m[tool] != 0 {
			parts = append(parts, tool+" "+strconv.Itoa(m[tool]))
		}
	}
	return strings.Join(parts, ", ")
}

// minimumReads counts the reads a hook needs on the model as it is
// before the hook.
func minimumReads(endpoints []coordinator.Endpoint, m *jujusim.Model) Minimum {
	min := Minimum{"config-get": 1, "is-leader": 1}
	related := func(name string) bool {
		for _, r := range m.RelationsOf(name) {
			if !r.Broken {
				return true
			}
		}
		return false
	}
	for _, ep := range endpoints {
		ep = ep.In(m.Leader, related)
		var rels []*jujusim.Relation
		for _, r := range m.RelationsOf(ep.Name) {
			if !r.Broken {
				rels = append(rels, r)
			}
		}
		if len(rels) == 0 {
			continue
		}
		min["relation-ids"]++
		for _, r := range rels {
			if ep.ReadsData() {
				min["relation-list"]++
			}
			if ep.AppData {
				min["relation-get"]++
			}
			if ep.UnitData {
				min["relation-get"] += len(r.Units())
			}
		}
	}
	return min
}

// snapshot is what a hook may write: the unit's own databags, its ports
// and its statuses.
type snapshot struct {
	bags   map[string]map[string]string
	ports  []string
	status [2]jujusim.Status
}

func takeSnapshot(m *jujusim.Model) snapshot {
	s := snapshot{bags: map[string]map[string]string{}, ports: slices.Clone(m.OpenedPorts),
		status: [2]jujusim.Status{m.UnitStatus, m.AppStatus}}
	for _, r := range m.Relations {
		s.bags[r.Ref()+":unit"] = maps.Clone(r.LocalUnitData)
		s.bags[r.Ref()+":app"] = maps.Clone(r.LocalAppData)
	}
	sort.Strings(s.ports)
	return s
}

// addMinimumWrites adds the writes needed to go from before to after.
func addMinimumWrites(min Minimum, before, after snapshot) {
	for key, bag := range after.bags {
		if !sameBag(before.bags[key], bag) {
			min["relation-set"]++
		}
	}
	for key, bag := range before.bags {
		if _, ok := after.bags[key]; !ok && len(bag) > 0 {
			min["relation-set"]++ // cleared on a relation that went away
		}
	}
	for _, p := range after.ports {
		if !slices.Contains(before.ports, p) {
			min["open-port"]++
		}
	}
	for _, p := range before.ports {
		if !slices.Contains(after.ports, p) {
			min["close-port"]++
		}
	}
	for i := range after.status {
		if after.status[i] != before.status[i] {
			min["status-set"]++
		}
	}
}

// sameBag compares databags, nil and empty being the same.
func sameBag(a, b map[string]string) bool {
	return len(a) == len(b) && maps.Equal(a, b)
}
