package charm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/workload"
)

// Keys of the unit's controller-side state (state-set), which survives pod
// churn and is committed with the hook's relation writes.
const (
	// stateDatabagPrefix + "<endpoint>:<id>:<app|unit>" holds the digest and
	// key list of what this unit last wrote to that databag.
	stateDatabagPrefix = "databag:"
	stateLeader        = "leader"
	statePorts         = "ports"
	stateStatus        = "status"
	// stateDashboardCache keeps the compressed dashboards (see
	// coordinator.Desired.DashboardCache).
	stateDashboardCache = "dashboard-cache"
)

// apply makes the world match d, touching only what differs.
func (c *Charm) apply(ctx context.Context, hc *juju.Context, o *observation, d *coordinator.Desired) error {
	newState := map[string]string{}
	if o.facts != "" {
		newState[stateNginxFacts] = o.facts
	}
	// nginx first: a failure there must not stop the relation writes.
	d, nginxStatuses := c.applyNginx(ctx, o, d, newState)
	statuses := append(slices.Clone(d.Statuses), nginxStatuses...)

	if err := c.saveCache(ctx, o, newState); err != nil {
		return err
	}
	if err := c.applyTLSState(ctx, o, d.TLS, newState); err != nil {
		return err
	}
	if err := c.applyDatabags(ctx, hc, o, d, newState); err != nil {
		return err
	}
	if err := c.applyPorts(ctx, hc, o, d.Ports, newState); err != nil {
		return err
	}
	if d.DashboardCache != nil {
		raw, _ := json.Marshal(d.DashboardCache)
		newState[stateDashboardCache] = string(raw)
	}

	status := coordinator.Summarize(statuses, d.ActiveMessage)
	record := status.Level.String() + "\n" + status.Message
	if o.state[stateStatus] != record {
		if err := c.Juju.StatusSet(ctx, status.Level.String(), status.Message, false); err != nil {
			return fmt.Errorf("cannot set status: %w", err)
		}
		newState[stateStatus] = record
	}
	for k, v := range newState {
		if o.state[k] == v {
			delete(newState, k)
		}
	}
	if len(newState) > 0 {
		if err := c.Juju.StateSet(ctx, newState); err != nil {
			return fmt.Errorf("cannot save charm state: %w", err)
		}
	}
	return nil
}

// Status messages about nginx. They never quote nginx's or Pebble's output,
// which carries timestamps, process and change ids: a status must be a pure
// function of the model, or every hook would rewrite it while a problem
// lasts. The details go to the log.
const (
	nginxRejectedStatus = "[nginx] New configuration rejected by nginx -t, the previous one keeps serving (see juju debug-log)"
	nginxWaitingStatus  = "[nginx] Waiting for the nginx container to be ready."
)

// applyNginx converges the nginx container on d. When nginx rejects the
// config because it cannot resolve an upstream host, a worker's or a
// telemetry proxy destination's (nginx resolves upstream names when it
// loads a config, and one failure refuses the whole config), that host is
// left out and the desired state is computed again, until nginx accepts
// the config or rejects it for another reason: one name that does not
// resolve (yet) cannot hold back the routes to the others. It returns the
// desired state it ended with and the statuses nginx adds.
//
// Both containers then get the unit's log targets.
func (c *Charm) applyNginx(ctx context.Context, o *observation, d *coordinator.Desired, newState map[string]string) (*coordinator.Desired, []coordinator.Status) {
	if o.nginx == nil || d.Nginx == nil {
		if o.nginxErr != nil && !notReady(o.nginxErr) {
			c.logf("nginx: %v", o.nginxErr)
			return d, []coordinator.Status{{Level: coordinator.Blocked, Message: "[nginx] " + stableCause(o.nginxErr) + " (see juju debug-log)"}}
		}
		return d, nil
	}
	res, err := o.nginx.ApplyNginx(ctx, d.Nginx.Config, d.Nginx.Run, c.Product.StatusPort, tlsFiles(o, d), d.Nginx.Files != nil)
	for err == nil && res.Rejected != "" {
		addr := coordinator.UnresolvedHost(res.Rejected, d.Nginx.Hosts)
		if addr == "" || slices.Contains(o.UnresolvedAddresses, addr) {
			break
		}
		c.logf("nginx cannot resolve upstream address %s, leaving it out of nginx.conf: %s", addr, firstLine(res.Rejected))
		o.UnresolvedAddresses = append(o.UnresolvedAddresses, addr)
		d = coordinator.Reconcile(c.Product, o.Observed)
		res, err = o.nginx.ApplyNginx(ctx, d.Nginx.Config, d.Nginx.Run, c.Product.StatusPort, tlsFiles(o, d), d.Nginx.Files != nil)
	}
	var statuses []coordinator.Status
	switch {
	case notReady(err):
		statuses = append(statuses, coordinator.Status{Level: coordinator.Waiting, Message: nginxWaitingStatus})
	case err != nil:
		c.logf("nginx: %v", err)
		statuses = append(statuses, coordinator.Status{Level: coordinator.Blocked, Message: "[nginx] " + stableCause(err) + " (see juju debug-log)"})
	case res.Rejected != "":
		c.logf("nginx rejected the new configuration: %s", res.Rejected)
		statuses = append(statuses, coordinator.Status{Level: coordinator.Blocked, Message: nginxRejectedStatus})
	}
	tlsOn := d.Nginx.Files != nil
	if err == nil && res.Rejected == "" {
		if tlsOn {
			newState[stateTLSFiles] = "on"
		} else {
			newState[stateTLSFiles] = ""
		}
	}
	c.applyLogTargets(ctx, o, NginxContainer, o.nginx, d.LogTargets, newState)
	if exporter, err := c.Connect(ExporterContainer); err != nil {
		c.logf("nginx-prometheus-exporter: not configured in this hook: %v", err)
	} else {
		var cert, key []byte
		if tlsOn {
			cert, key = d.Nginx.Files[coordinator.NginxCertPath], d.Nginx.Files[coordinator.NginxKeyPath]
		}
		err := exporter.ApplyExporter(ctx, c.Product.StatusPort, cert, key)
		if err == nil && !tlsOn && o.state[stateTLSFiles] != "" {
			err = exporter.RemoveFiles(ctx, workload.ExporterCertPath, workload.ExporterKeyPath, workload.ExporterWebConfig)
		}
		if err != nil {
			c.logf("nginx-prometheus-exporter: %v", err)
		}
		c.applyLogTargets(ctx, o, ExporterContainer, exporter, d.LogTargets, newState)
	}
	return d, statuses
}

// tlsFiles are the TLS files nginx needs; once TLS is gone, those pushed
// before, to be removed (nil) once the plain config is in.
func tlsFiles(o *observation, d *coordinator.Desired) map[string][]byte {
	if d.Nginx.Files != nil || o.state[stateTLSFiles] == "" {
		return d.Nginx.Files
	}
	return map[string][]byte{coordinator.NginxCertPath: nil, coordinator.NginxKeyPath: nil, coordinator.NginxCAPath: nil}
}

// stableCause is the part of an error the charm itself phrased ("cannot
// start nginx"), before the first ": " that introduces the details (which
// may carry change ids, timestamps or output).
func stableCause(err error) string {
	cause, _, _ := strings.Cut(firstLine(err.Error()), ": ")
	return cause
}

// applyDatabags writes each desired databag whose content differs from what
// this unit last wrote there (a digest in the unit state, so our own
// databags need not be read back), deleting keys that no longer apply.
func (c *Charm) applyDatabags(ctx context.Context, hc *juju.Context, o *observation, d *coordinator.Desired, newState map[string]string) error {
	leaderText := strconv.FormatBool(o.Leader)
	// A unit that (re)gains leadership cannot trust what it recorded last
	// time it led: another leader may have written since.
	trustAppDigests := o.state[stateLeader] == "true" && hc.Name != "leader-elected"
	newState[stateLeader] = leaderText

	live := map[string]bool{}
	for endpoint, rels := range o.Relations {
		for _, rel := range rels {
			live[coordinator.RelationRef(endpoint, rel.ID)] = true
		}
	}
	for _, w := range d.Databags {
		key := stateDatabagPrefix + databagID(w)
		digest, keys := digestOf(w.Data)
		prev := o.state[key]
		if prev == digest+" "+strings.Join(keys, ",") && (!w.App || trustAppDigests) {
			continue
		}
		if len(w.Data) == 0 && prev == "" {
			continue // nothing to write, nothing of ours to delete
		}
		data := make(map[string]string, len(w.Data))
		for k, v := range w.Data {
			data[k] = v
		}
		if _, prevKeys, ok := strings.Cut(prev, " "); ok && prevKeys != "" {
			for _, k := range strings.Split(prevKeys, ",") {
				if _, keep := data[k]; !keep {
					data[k] = "" // delete a key we wrote before
				}
			}
		}
		ref := coordinator.RelationRef(w.Endpoint, w.RelationID)
		err := c.Juju.RelationSet(ctx, ref, w.App, data)
		switch {
		case juju.IsRelationNotFound(err):
			continue
		case juju.IsNotLeader(err):
			c.logf("cannot write %s application data: no longer the leader", ref)
			continue
		case err != nil:
			return fmt.Errorf("cannot publish to %s: %w", ref, err)
		}
		newState[key] = digest + " " + strings.Join(keys, ",")
	}
	// Forget what was written to relations that are gone.
	for key := range o.state {
		id, ok := strings.CutPrefix(key, stateDatabagPrefix)
		if !ok {
			continue
		}
		if rel := id[:max(strings.LastIndex(id, ":"), 0)]; !live[rel] {
			if err := c.Juju.StateDelete(ctx, key); err != nil {
				return fmt.Errorf("cannot clean charm state: %w", err)
			}
		}
	}
	return nil
}

func databagID(w coordinator.DatabagWrite) string {
	scope := "unit"
	if w.App {
		scope = "app"
	}
	return w.Endpoint + ":" + strconv.Itoa(w.RelationID) + ":" + scope
}

// digestOf hashes a databag's content (each key and value preceded by its
// length, so that no two contents share an encoding); keys are returned
// sorted.
func digestOf(data map[string]string) (string, []string) {
	keys := slices.Sorted(maps.Keys(data))
	h := sha256.New()
	var size [8]byte
	for _, k := range keys {
		for _, s := range [2]string{k, data[k]} {
			binary.BigEndian.PutUint64(size[:], uint64(len(s)))
			h.Write(size[:])
			io.WriteString(h, s)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], keys
}

// applyPorts opens the desired TCP ports and closes the others. What is
// open is remembered in the unit state, which Juju commits with the port
// changes (both are transactional), so the two cannot disagree. With no
// record the unit is new (nothing open) unless this is the upgrade-charm
// hook of a revision, or of another charm, that kept no record: only then
// is opened-ports asked.
func (c *Charm) applyPorts(ctx context.Context, hc *juju.Context, o *observation, desired []int, newState map[string]string) error {
	var current []int
	if raw, ok := o.state[statePorts]; ok {
		current = parsePorts(raw)
	} else if hc.Name == "upgrade-charm" {
		opened, err := c.Juju.OpenedPorts(ctx)
		if err != nil {
			return fmt.Errorf("cannot list opened ports: %w", err)
		}
		for _, p := range opened {
			if p.Protocol == "tcp" && p.Number > 0 {
				current = append(current, p.Number)
			}
		}
	}
	for _, p := range desired {
		if !slices.Contains(current, p) {
			if err := c.Juju.OpenPort(ctx, juju.Port{Number: p, Protocol: "tcp"}); err != nil {
				return fmt.Errorf("cannot open port %d: %w", p, err)
			}
		}
	}
	for _, p := range current {
		if !slices.Contains(desired, p) {
			if err := c.Juju.ClosePort(ctx, juju.Port{Number: p, Protocol: "tcp"}); err != nil {
				return fmt.Errorf("cannot close port %d: %w", p, err)
			}
		}
	}
	newState[statePorts] = formatPorts(desired)
	return nil
}

func formatPorts(ports []int) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts, ",")
}

func parsePorts(raw string) []int {
	var out []int
	for part := range strings.SplitSeq(raw, ",") {
		if n, err := strconv.Atoi(part); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return coordinator.Truncate(line, 200)
}
