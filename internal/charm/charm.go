// Package charm runs one hook or action: it observes the model through the
// hook tools and the workload through Pebble, asks the pure core for the
// desired state, and applies only the differences.
package charm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/juju"
)

// Containers of the coordinator's pod.
const (
	NginxContainer    = "nginx"
	ExporterContainer = "nginx-prometheus-exporter"
)

// ErrNotReady is returned by a Connector when a container's Pebble cannot
// be reached yet; the charm waits for the pebble-ready hook.
var ErrNotReady = errors.New("container not ready")

// Container is a workload container as the charm uses it.
type Container interface {
	// BootID changes when the container's Pebble restarts.
	BootID() string
	// NginxFacts detects nginx's version, IPv6 and resolver.
	NginxFacts(ctx context.Context) (coordinator.NginxFacts, error)
	// ApplyNginx makes nginx serve config (validated first) and run or
	// stop. files (TLS material) are written before the config is
	// validated; a nil value removes the file once the config is accepted.
	// tls tells the health check that nginx serves TLS.
	ApplyNginx(ctx context.Context, config []byte, run bool, statusPort int, files map[string][]byte, tls bool) (NginxResult, error)
	// ApplyExporter makes the exporter scrape nginx's status page, over
	// https and serving https with cert and key when cert is not nil.
	ApplyExporter(ctx context.Context, statusPort int, cert, key []byte) error
	// RemoveFiles removes the files that exist.
	RemoveFiles(ctx context.Context, names ...string) error
	// ApplyLogTargets makes every service of the container forward its
	// logs to exactly these Loki targets.
	ApplyLogTargets(ctx context.Context, targets []coordinator.LogTarget) error
}

// NginxResult is what ApplyNginx reports besides an error.
type NginxResult struct {
	// Rejected holds nginx -t's complaint when the new config was refused
	// (the previous one keeps serving).
	Rejected string
}

// Connector opens a container's Pebble; it returns an error wrapping
// ErrNotReady when the container is not up yet.
type Connector func(container string) (Container, error)

// Charm is one coordinator charm: a product plugged into the engine.
type Charm struct {
	Product *coordinator.Product
	Juju    *juju.Client
	Connect Connector
	// ResolvConf returns the charm container's /etc/resolv.conf (for the
	// cluster domain); nil means the default cluster.local.
	ResolvConf func() ([]byte, error)
	// Now is the clock (nil: time.Now), for the periodic full read and
	// certificate validity.
	Now func() time.Time
	// Log receives warnings; Juju files the charm's stderr in the unit log
	// at WARNING level, so logging costs no hook-tool call.
	Log io.Writer
	// Assets reads the charm's rule files and dashboards (see
	// DirAssets); nil means the charm has none. It is called only in hooks
	// that publish them.
	Assets func() (coordinator.Assets, error)
}

// Run handles one dispatch. Expected conditions (missing relations, bad
// relation data, a container not ready) end in a status and a nil error;
// an error means the hook should fail and be retried by Juju.
func (c *Charm) Run(ctx context.Context, hc *juju.Context) error {
	obs, err := c.observe(ctx, hc)
	if err != nil {
		return err
	}
	desired := coordinator.Reconcile(c.Product, obs.Observed)
	if hc.Kind != juju.Action {
		// A new key or certificate request is the result of
		// non-deterministic work: the state is computed again from it.
		prepared, err := c.prepareTLS(ctx, obs, desired.TLS)
		if err != nil {
			return err
		}
		if prepared {
			desired = coordinator.Reconcile(c.Product, obs.Observed)
		}
	}
	for _, line := range desired.Logs {
		c.logf("%s", line)
	}
	if hc.Kind == juju.Action {
		return c.runAction(ctx, hc, desired)
	}
	return c.apply(ctx, hc, obs, desired)
}

func (c *Charm) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

func (c *Charm) runAction(ctx context.Context, hc *juju.Context, d *coordinator.Desired) error {
	results, err := d.Plan.ActionResults(hc.Name, d.Input)
	if err != nil {
		return c.Juju.ActionFail(ctx, err.Error())
	}
	return c.Juju.ActionSet(ctx, results)
}

// clusterDomain finds the Kubernetes cluster domain in resolv.conf's search
// list ("<ns>.svc.cluster.local svc.cluster.local cluster.local").
func clusterDomain(resolvConf []byte) string {
	for line := range strings.SplitSeq(string(resolvConf), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "search" {
			continue
		}
		for _, f := range fields[1:] {
			if rest, ok := strings.CutPrefix(f, "svc."); ok && coordinator.ValidHost(rest) {
				return strings.TrimSuffix(rest, ".")
			}
		}
	}
	return "cluster.local"
}

// fqdns returns the in-cluster names of the application's service and of
// this unit's pod (through the headless <app>-endpoints service).
func fqdns(hc *juju.Context, domain string) (app, unit string) {
	suffix := hc.Model + ".svc." + domain
	podName := strings.ReplaceAll(hc.Unit, "/", "-")
	return hc.App + "." + suffix, podName + "." + hc.App + "-endpoints." + suffix
}
