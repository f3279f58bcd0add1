package charm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// committed is everything a hook's success commits (relation data, state,
// ports), for comparing models.
func committed(m *jujusim.Model) string {
	type rel struct{ App, Unit map[string]string }
	rels := map[string]rel{}
	for _, r := range m.Relations {
		rels[r.Ref()] = rel{r.LocalAppData, r.LocalUnitData}
	}
	b, _ := json.Marshal(struct {
		Rels  map[string]rel
		State map[string]string
		Ports []string
	}{rels, m.State, m.OpenedPorts})
	return string(b)
}

// runCtx runs one hook in-process with a context and a connector.
func runCtx(ctx context.Context, t *testing.T, m *jujusim.Model, hook string, connect Connector) error {
	t.Helper()
	return jujusim.RunInProcess(ctx, m, hook, jujusim.HookOptions{}, func(ctx context.Context, r juju.Runner, env map[string]string) error {
		hc, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "")
		require.NoError(t, err)
		// A fixed clock: the control and the faulty unit record the same
		// time of their last full read, whenever each hook runs.
		c := &Charm{Product: tempo.Product(), Juju: juju.NewClient(r), Connect: connect, Now: func() time.Time { return faultsClock }}
		return c.Run(ctx, hc)
	})
}

// faultsClock is the time of every hook runCtx runs.
var faultsClock = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func connectTo(ctr Container) Connector {
	return func(string) (Container, error) { return ctr, nil }
}

// TestToolFaults injects a failure into one hook tool at a time, on a
// first hook and on a hook after a change, and checks: a hook that cannot
// observe or apply fully exits non-zero, so that Juju discards its writes
// as a whole (nothing published is replaced by a partial state), and runs
// it again; the next hook, without the fault, ends where a hook that never
// met the fault ends.
func TestToolFaults(t *testing.T) {
	faults := []struct {
		fault jujusim.Fault
		// tolerated: the charm can complete without the tool's answer.
		tolerated bool
	}{
		{fault: jujusim.Fault{Tool: "goal-state", Kind: jujusim.FaultFail}, tolerated: true},
		{fault: jujusim.Fault{Tool: "goal-state", Kind: jujusim.FaultGarbage}, tolerated: true},
		{fault: jujusim.Fault{Tool: "is-leader", Kind: jujusim.FaultFail}},
		{fault: jujusim.Fault{Tool: "is-leader", Kind: jujusim.FaultGarbage}},
		{fault: jujusim.Fault{Tool: "config-get", Kind: jujusim.FaultGarbage}},
		{fault: jujusim.Fault{Tool: "state-get", Kind: jujusim.FaultGarbage}},
		{fault: jujusim.Fault{Tool: "relation-ids", Kind: jujusim.FaultFail}},
		{fault: jujusim.Fault{Tool: "relation-list", Kind: jujusim.FaultGarbage}},
		{fault: jujusim.Fault{Tool: "relation-get", Kind: jujusim.FaultFail}},
		{fault: jujusim.Fault{Tool: "relation-get", Kind: jujusim.FaultGarbage, After: 1}},
		{fault: jujusim.Fault{Tool: "relation-get", Kind: jujusim.FaultHang}},
		// relation-set failing halfway through the writes.
		{fault: jujusim.Fault{Tool: "relation-set", Kind: jujusim.FaultFail, After: 1}},
		{fault: jujusim.Fault{Tool: "relation-set", Kind: jujusim.FaultHang, After: 1}},
		{fault: jujusim.Fault{Tool: "open-port", Kind: jujusim.FaultFail, After: 1}},
		{fault: jujusim.Fault{Tool: "status-set", Kind: jujusim.FaultFail}},
		{fault: jujusim.Fault{Tool: "state-set", Kind: jujusim.FaultFail}},
	}
	for _, tc := range faults {
		hit := false
		for _, later := range []bool{false, true} {
			name := fmt.Sprintf("%s-%s-after%d-later=%v", tc.fault.Tool, tc.fault.Kind, tc.fault.After, later)
			t.Run(name, func(t *testing.T) {
				faulty, _ := newModel(true)
				control, _ := newModel(true)
				nf, nc := &fakeNginx{boot: "b"}, &fakeNginx{boot: "b"}
				if later {
					for _, m := range []*jujusim.Model{faulty, control} {
						n := nc
						if m == faulty {
							n = nf
						}
						require.NoError(t, runCtx(context.Background(), t, m, "config-changed", connectTo(n)))
						m.RelationsOf("tempo-cluster")[0].AddUnit("tempo-worker/1", map[string]string{
							"address": jsonText("10.1.0.7"), "juju_topology": jsonText(map[string]string{"application": "tempo-worker", "unit": "tempo-worker/1"})})
					}
				}
				before := committed(faulty)
				faulty.Faults = []jujusim.Fault{tc.fault}
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				err := runCtx(ctx, t, faulty, "update-status", connectTo(nf))
				if tc.tolerated {
					require.NoError(t, err)
				} else if err == nil {
					// Only a fault the charm never met may let it succeed.
					require.LessOrEqual(t, faulty.Faults[0].Seen, tc.fault.After, "the hook succeeded despite the fault")
				} else {
					assert.Equal(t, before, committed(faulty), "a failed hook's writes must all be discarded")
				}
				hit = hit || faulty.Faults[0].Seen > tc.fault.After
				faulty.Faults = nil
				require.NoError(t, runCtx(context.Background(), t, faulty, "update-status", connectTo(nf)))
				require.NoError(t, runCtx(context.Background(), t, control, "update-status", connectTo(nc)))
				assert.Equal(t, committed(control), committed(faulty), "the next hook converges")
				assert.Equal(t, control.UnitStatus, faulty.UnitStatus)
				assert.Equal(t, string(nc.config), string(nf.config))
			})
		}
		assert.True(t, hit, "the fault on %s never struck: the test proves nothing", tc.fault.Tool)
	}
}

// faultyNginx fails ApplyNginx as the workload adapter does when Pebble
// misbehaves, or hangs until the hook's context ends.
type faultyNginx struct {
	fakeNginx
	err  error
	hang bool
}

func (f *faultyNginx) ApplyNginx(ctx context.Context, config []byte, run bool, port int, files map[string][]byte, tls bool) (NginxResult, error) {
	if f.hang {
		<-ctx.Done()
		return NginxResult{}, fmt.Errorf("cannot run \"nginx -t -c /etc/nginx/nginx.conf.candidate\": %w", ctx.Err())
	}
	if f.err != nil {
		return NginxResult{}, f.err
	}
	return f.fakeNginx.ApplyNginx(ctx, config, run, port, files, tls)
}

// TestPebbleFaults: with Pebble unreachable, a push failing or nginx -t
// failing, the hook exits 0 with a status naming the problem, the workers
// are still configured, nginx keeps its previous config, a repeated hook
// writes nothing, and the next successful hook converges. An exec hanging
// until the hook's time is up fails the hook as a whole.
func TestPebbleFaults(t *testing.T) {
	cases := []struct {
		name    string
		connect func(n *faultyNginx) Connector
		status  string
	}{
		{"unreachable", func(*faultyNginx) Connector {
			return func(string) (Container, error) {
				return nil, fmt.Errorf("%w: cannot connect to pebble: dial unix: connection refused", ErrNotReady)
			}
		}, "waiting: [nginx] Waiting for the nginx container to be ready."},
		{"connect-error", func(*faultyNginx) Connector {
			return func(string) (Container, error) {
				return nil, errors.New("cannot create pebble client: permission denied")
			}
		}, "blocked: [nginx] cannot create pebble client (see juju debug-log)"},
		{"push-failing", func(n *faultyNginx) Connector {
			n.err = errors.New("cannot write /etc/nginx/nginx.conf.candidate: change 42 failed at 08:00:01: disk full")
			return connectTo(n)
		}, "blocked: [nginx] cannot write /etc/nginx/nginx.conf.candidate (see juju debug-log)"},
		{"nginx-t-failing", func(n *faultyNginx) Connector {
			n.reject = "2026/12/05 08:00:01 [emerg] 12#12: unexpected end of file"
			return connectTo(n)
		}, "blocked: " + nginxRejectedStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, w := newModel(true)
			n := &faultyNginx{fakeNginx: fakeNginx{boot: "b"}}
			good := &fakeNginx{boot: "b"}
			require.NoError(t, runCtx(context.Background(), t, m, "config-changed", connectTo(good)))
			served := string(good.config)
			w.AddUnit("tempo-worker/1", map[string]string{"address": jsonText("10.1.0.7"),
				"juju_topology": jsonText(map[string]string{"application": "tempo-worker", "unit": "tempo-worker/1"})})
			n.config, n.running = good.config, true
			require.NoError(t, runCtx(context.Background(), t, m, "config-changed", tc.connect(n)), "an expected condition exits 0")
			assert.Equal(t, tc.status, m.UnitStatus.Status+": "+m.UnitStatus.Message)
			assert.Contains(t, w.LocalAppData["worker_config"], "10.1.0.7", "the workers are configured all the same")
			assert.Equal(t, served, string(n.config), "nginx keeps serving its previous config")
			calls := len(m.Calls)
			require.NoError(t, runCtx(context.Background(), t, m, "update-status", tc.connect(n)))
			assert.Empty(t, writes(m.Calls[calls:]), "a repeated hook writes nothing while the fault lasts")
			require.NoError(t, runCtx(context.Background(), t, m, "update-status", connectTo(good)))
			assert.Equal(t, "active", m.UnitStatus.Status, m.UnitStatus.Message)
			assert.Contains(t, string(good.config), "10.1.0.7:3200")
		})
	}

	t.Run("exec-hanging", func(t *testing.T) {
		m, _ := newModel(true)
		before := committed(m)
		n := &faultyNginx{fakeNginx: fakeNginx{boot: "b"}, hang: true}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := runCtx(ctx, t, m, "config-changed", connectTo(n))
		require.Error(t, err, "out of time: Juju must run the hook again")
		assert.Equal(t, before, committed(m), "nothing of a hook that ran out of time is kept")
		good := &fakeNginx{boot: "b"}
		require.NoError(t, runCtx(context.Background(), t, m, "config-changed", connectTo(good)))
		assert.Equal(t, "active", m.UnitStatus.Status)
	})
}
