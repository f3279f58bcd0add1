package bench

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// ScaleOut is the cost of growing a cluster through the hooks Juju fires:
// for every new worker unit, tempo-cluster-relation-joined then -changed.
type ScaleOut struct {
	Base, Added int
	Hooks       int
	// Calls counts every hook-tool call of the sequence, by tool.
	Calls map[string]int
	// Own is the charm's own CPU summed over the hooks; Wall their lifetimes.
	Own, Wall time.Duration
	// StateBytes is what state-set calls sent.
	StateBytes int
	// StateSize is the unit state's size (keys and values) at the end:
	// what counts against Juju's max-charm-state-size (2 MiB by default).
	StateSize int
}

// TotalCalls is the number of hook-tool calls of the whole sequence.
func (s *ScaleOut) TotalCalls() int {
	n := 0
	for _, c := range s.Calls {
		n += c
	}
	return n
}

// RunScaleOut builds the model of size, runs config-changed (unmeasured:
// the cluster as it stood), then adds added units round-robin over the
// worker applications, each published at once, and runs the two hooks
// Juju fires for each. Every hook must exit 0.
func (r *Runner) RunScaleOut(size Size, config map[string]any, added int) (*ScaleOut, error) {
	m := NewModel(size, config)
	if res, err := r.Run(m, "config-changed", jujusim.HookOptions{}); err != nil {
		return nil, err
	} else if res.ExitCode != 0 {
		return nil, fmt.Errorf("config-changed: exit %d\n%s", res.ExitCode, res.Stderr)
	}
	out := &ScaleOut{Base: size.Units, Added: added, Calls: map[string]int{}}
	rels := m.RelationsOf("tempo-cluster")
	for i := range added {
		rel := rels[i%len(rels)]
		unit := fmt.Sprintf("%s/%d", rel.RemoteApp, 100000+i)
		topo, _ := json.Marshal(map[string]string{"model": m.Name, "model_uuid": m.UUID,
			"application": rel.RemoteApp, "unit": unit, "charm_name": "tempo-worker-k8s"})
		rel.AddUnit(unit, map[string]string{
			"address":       jsonString(fmt.Sprintf("%s-%d.%s-endpoints.%s.svc.cluster.local", rel.RemoteApp, 100000+i, rel.RemoteApp, m.Name)),
			"juju_topology": string(topo),
		})
		for _, hook := range []string{"tempo-cluster-relation-joined", "tempo-cluster-relation-changed"} {
			res, err := r.Run(m, hook, jujusim.HookOptions{Relation: rel, RemoteUnit: unit})
			if err != nil {
				return nil, err
			}
			if res.ExitCode != 0 {
				return nil, fmt.Errorf("%s for %s: exit %d\n%s", hook, unit, res.ExitCode, res.Stderr)
			}
			out.Hooks++
			for tool, n := range res.Counts {
				out.Calls[tool] += n
			}
			out.Own += res.Own
			out.Wall += res.Wall
			out.StateBytes += res.StateBytes
		}
	}
	for k, v := range m.State {
		out.StateSize += len(k) + len(v)
	}
	return out, nil
}
