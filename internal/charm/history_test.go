package charm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/products"
	"github.com/tempo-coordinator/coordinator/internal/testenv/history"
	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
	"github.com/tempo-coordinator/coordinator/internal/testenv/props"
)

var (
	historySeed  = flag.Int64("history.seed", -1, "run only this random-history seed, and log its history")
	historySeeds = flag.Int("history.seeds", 200, "number of random histories (20 under -short)")
	historyHooks = flag.Int("history.hooks", 30, "events per random history")
)

// TestRandomHistories runs seeded random histories (see
// internal/testenv/history) through the charm's code in-process: the same
// observe, reconcile and apply as the packed dispatch binary, with the
// simulated model's tools called directly, so that many histories fit in
// a test run (tests/charm runs some through the packed charms). Run one
// seed with
//
//	go test ./internal/charm -run TestRandomHistories -history.seed=N -v
func TestRandomHistories(t *testing.T) {
	seeds := *historySeeds
	if testing.Short() {
		seeds = min(seeds, 20)
	}
	history.Test(t, inProcessRunner(t), seeds, *historyHooks, *historySeed)
}

// historyNginx is an in-memory nginx container that checks every config
// it is given with the properties the fuzz targets check (the rest is
// fakeNginx's).
type historyNginx struct {
	fakeNginx
	workers []string
	// changed says that a hook changed nginx's config or running state.
	changed bool
	nginxT  *nginxT
}

// nginxT runs Debian's nginx -t once on every distinct config the
// histories render (props.NginxT); not under -short, and without nginx
// only under SANDBOX_REQUIRED=1, where a missing nginx fails.
type nginxT struct {
	t       *testing.T
	bin     string
	checked map[[32]byte]bool
}

func newNginxT(t *testing.T) *nginxT {
	n := &nginxT{t: t, checked: map[[32]byte]bool{}}
	if testing.Short() {
		return n
	}
	bin, err := exec.LookPath("nginx")
	if err != nil && prereq.Strict() {
		t.Fatal("SANDBOX_REQUIRED=1: nginx is not installed (make system-deps)")
	}
	n.bin = bin
	return n
}

func (n *nginxT) check(config []byte) error {
	sum := sha256.Sum256(config)
	if n.bin == "" || n.checked[sum] {
		return nil
	}
	n.checked[sum] = true
	return props.NginxT(n.bin, n.t.TempDir(), config)
}

// copy returns a container in the same state that shares nothing with f.
func (f *historyNginx) copy() *historyNginx {
	c := *f
	c.files = maps.Clone(f.files)
	return &c
}

func (f *historyNginx) NginxFacts(context.Context) (coordinator.NginxFacts, error) {
	return coordinator.NginxFacts{Version: "1.22.1", Resolver: "10.152.183.10"}, nil
}

func (f *historyNginx) ApplyNginx(ctx context.Context, config []byte, run bool, port int, files map[string][]byte, tls bool) (NginxResult, error) {
	if err := props.CheckNginx(config, f.workers); err != nil {
		return NginxResult{}, fmt.Errorf("HISTORY: the charm rendered a bad nginx.conf: %w\n%s", err, config)
	}
	if err := f.nginxT.check(config); err != nil {
		return NginxResult{}, fmt.Errorf("HISTORY: %w\n%s", err, config)
	}
	before, wasRunning := string(f.config), f.running
	res, err := f.fakeNginx.ApplyNginx(ctx, config, run, port, files, tls)
	f.changed = f.changed || string(f.config) != before || f.running != wasRunning
	return res, err
}

// workerAddresses lists every address the model's worker units publish,
// and the hosts of the telemetry destinations the worker telemetry proxy
// routes to (remote-write and Loki units' URLs, tracing receivers).
func workerAddresses(m *jujusim.Model) []string {
	var out []string
	addURL := func(raw string) {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
			out = append(out, u.Hostname())
		}
	}
	for _, r := range m.Relations {
		for _, data := range r.RemoteUnits {
			var a string
			if json.Unmarshal([]byte(data["address"]), &a) == nil {
				out = append(out, a)
			}
			for _, key := range []string{"remote_write", "endpoint"} {
				var v struct {
					URL string `json:"url"`
				}
				if json.Unmarshal([]byte(data[key]), &v) == nil {
					addURL(v.URL)
				}
			}
		}
		var receivers []struct {
			URL string `json:"url"`
		}
		if json.Unmarshal([]byte(r.RemoteAppData["receivers"]), &receivers) == nil {
			for _, rcv := range receivers {
				addURL(rcv.URL)
			}
		}
	}
	return out
}

// assetsDir is where a charm's rule files and dashboards are in the
// repository (what the packed charm holds under src/).
func assetsDir(charm string) string {
	if dir := filepath.Join("..", "..", "charms", charm, "src"); dirExists(dir) {
		return dir
	}
	return filepath.Join("..", "..", "src")
}

func dirExists(dir string) bool {
	info, err := os.Stat(dir)
	return err == nil && info.IsDir()
}

func inProcessRunner(t *testing.T) history.Runner {
	containers := map[*jujusim.Model]*historyNginx{}
	var last *historyNginx // the container of the last model that was not a copy
	check := newNginxT(t)
	return func(m *jujusim.Model, hook string, opts jujusim.HookOptions) (history.Result, error) {
		ctr := containers[m]
		switch {
		case opts.Env[history.ScratchEnv] != "" && last != nil:
			ctr = last.copy()
		case ctr == nil:
			ctr = &historyNginx{nginxT: check}
			containers[m] = ctr
			last = ctr
		default:
			last = ctr
		}
		ctr.changed = false
		boot := opts.Env[history.NginxEnv]
		if boot != ctr.boot {
			ctr.boot, ctr.running = boot, false // a new Pebble: nginx is not running
		}
		ctr.workers = workerAddresses(m)
		product, err := products.ByCharmName(m.App() + "-coordinator-k8s")
		if err != nil {
			return history.Result{}, err
		}
		var log bytes.Buffer
		start := len(m.Calls)
		runErr := jujusim.RunInProcess(context.Background(), m, hook, opts, func(ctx context.Context, r juju.Runner, env map[string]string) error {
			hc, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "")
			if err != nil {
				return err
			}
			c := &Charm{Product: product, Juju: juju.NewClient(r), Log: &log, Assets: DirAssets(assetsDir(m.App() + "-coordinator-k8s")),
				Connect: func(string) (Container, error) {
					if boot == "" {
						return nil, ErrNotReady
					}
					return ctr, nil
				}}
			return c.Run(ctx, hc)
		})
		res := history.Result{Stderr: log.String(), Calls: append([]jujusim.Call(nil), m.Calls[start:]...), NginxChanged: ctr.changed}
		if strings.Contains(res.Stderr, "HISTORY:") {
			res.ExitCode = 1 // a broken property, not an expected condition
		}
		if runErr != nil {
			if strings.Contains(runErr.Error(), "no such") {
				return res, runErr
			}
			res.ExitCode = 1
			res.Stderr += runErr.Error()
		}
		return res, nil
	}
}
