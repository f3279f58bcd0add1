package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/charm"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/products"
)

// toolCall is one recorded hook-tool call and what the tool answered.
type toolCall struct {
	tool   string
	args   []string
	stdin  []byte
	stdout []byte
	err    error
}

// recorder passes calls to a runner and keeps them.
type recorder struct {
	next  juju.Runner
	calls []toolCall
}

func (r *recorder) Run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	out, err := r.next.Run(ctx, tool, args, stdin)
	r.calls = append(r.calls, toolCall{tool, slices.Clone(args), slices.Clone(stdin), out, err})
	return out, err
}

// replayer answers the recorded calls in order, at no cost.
type replayer struct {
	calls []toolCall
	next  int
}

func (r *replayer) Run(_ context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	if r.next >= len(r.calls) || r.calls[r.next].tool != tool {
		return nil, fmt.Errorf("replay: call %d is %s %v, not the recorded one", r.next, tool, args)
	}
	c := r.calls[r.next]
	r.next++
	return c.stdout, c.err
}

// hookCharm is the charm as dispatch builds it for the bench model: Tempo,
// no Pebble socket (nginx is not ready), default cluster domain.
func hookCharm(b *testing.B, r juju.Runner) *charm.Charm {
	product, err := products.ByName("tempo")
	if err != nil {
		b.Fatal(err)
	}
	return &charm.Charm{
		Product: product,
		Juju:    juju.NewClient(r),
		Connect: charm.PebbleConnector(filepath.Join(b.TempDir(), "containers")),
		Log:     io.Discard,
	}
}

// runHook runs the hook in process against the model through r.
func runHook(b *testing.B, m *jujusim.Model, hook Hook, wrap func(juju.Runner) juju.Runner) {
	err := jujusim.RunInProcess(context.Background(), m, hook.Name, HookOptions(m, hook),
		func(ctx context.Context, r juju.Runner, env map[string]string) error {
			hc, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "dispatch")
			if err != nil {
				return err
			}
			return hookCharm(b, wrap(r)).Run(ctx, hc)
		})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCharmLogic measures the charm's own work in one hook with the
// hook tools' cost taken out: a hook's tool calls and answers are
// recorded once on the simulated model, then the charm runs again and
// again against the recording (same reads, same decisions, same writes),
// so the time and allocations are the charm's logic alone: decoding the
// tools' output, Reconcile, digests, encoding the writes. What a call
// costs (fork, exec, wait) and the process start-up are measured by
// bench/run.
func BenchmarkCharmLogic(b *testing.B) {
	config, err := ConfigDefaults("..")
	if err != nil {
		b.Fatal(err)
	}
	hook := Hooks[1] // config-changed: no remote unit, the common case
	for _, size := range Sizes {
		for _, run := range []string{"first", "second"} {
			b.Run(fmt.Sprintf("units=%d/%s", size.Units, run), func(b *testing.B) {
				m := NewModel(size, config)
				if run == "second" {
					runHook(b, m, hook, func(r juju.Runner) juju.Runner { return r })
				}
				rec := &recorder{}
				runHook(b, m, hook, func(r juju.Runner) juju.Runner { rec.next = r; return rec })
				env, err := jujusim.HookEnv(m, hook.Name, HookOptions(m, hook))
				if err != nil {
					b.Fatal(err)
				}
				hc, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "dispatch")
				if err != nil {
					b.Fatal(err)
				}
				replay := &replayer{calls: rec.calls}
				c := hookCharm(b, replay)
				b.ReportAllocs()
				for b.Loop() {
					replay.next = 0
					c.Juju = juju.NewClient(replay) // a client lives for one hook
					if err := c.Run(context.Background(), hc); err != nil {
						b.Fatal(err)
					}
					if replay.next != len(rec.calls) {
						b.Fatalf("the charm made %d calls, the recording has %d", replay.next, len(rec.calls))
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(size.Units), "µs/unit")
			})
		}
	}
}
