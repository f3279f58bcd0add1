package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/golden"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// topologyLabels are a coordinator unit's log labels, as the core builds them.
func topologyLabels() map[string]string {
	return map[string]string{
		"product": "Juju", "charm": "tempo-coordinator-k8s", "juju_model": "cos",
		"juju_model_uuid": "12345678-1234-4123-8123-123456789012", "juju_application": "tempo",
		"juju_unit": "tempo/0", "job": "juju_cos_12345678_tempo",
	}
}

func lokiTargets(urls map[string]string) []coordinator.LogTarget {
	var out []coordinator.LogTarget
	for _, unit := range []string{"loki/0", "loki/1"} {
		if u, ok := urls[unit]; ok {
			out = append(out, coordinator.LogTarget{Name: unit, URL: u, Labels: topologyLabels()})
		}
	}
	return out
}

// The layer: one target per Loki unit; a Loki target of the plan that is
// no longer wanted is switched off, other targets are left alone.
func TestLogForwardingLayerGolden(t *testing.T) {
	current := map[string]LogTarget{
		"loki/7":  {Type: "loki", Location: "http://loki-7:3100/loki/api/v1/push", Services: []string{"all"}},
		"loki/8":  {Type: "loki", Location: removedLocation, Services: []string{"-all"}},
		"otel/0":  {Type: "opentelemetry", Location: "http://otel:4318", Services: []string{"all"}},
		"loki/0":  {Type: "loki", Location: "http://old:3100/loki/api/v1/push", Services: []string{"all"}},
		"loki/10": {Type: "loki", Location: "http://loki-10:3100/loki/api/v1/push", Services: []string{"nginx"}},
	}
	l := LogForwardingLayer(lokiTargets(map[string]string{
		"loki/0": "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push",
		"loki/1": "http://loki-1.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push",
	}), current)
	b, err := l.YAML()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "log_forwarding_layer.yaml"), b)
	if !logTargetsDiffer(l.LogTargets, current) {
		t.Error("a differing plan compares equal")
	}
	var plan Layer
	if err := yaml.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	if logTargetsDiffer(l.LogTargets, plan.LogTargets) {
		t.Error("the layer differs from itself read back")
	}
}

// lokiReceiver is a Loki push endpoint: it decodes Pebble's JSON push
// payload and keeps every line with its stream's labels.
type lokiReceiver struct {
	mu    sync.Mutex
	lines []lokiLine
}

type lokiLine struct {
	labels map[string]string
	line   string
}

func (r *lokiReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/loki/api/v1/push" || req.Method != http.MethodPost || !strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
		http.Error(w, "not a push", http.StatusBadRequest)
		return
	}
	var payload struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][2]string       `json:"values"`
		} `json:"streams"`
	}
	body, _ := io.ReadAll(req.Body)
	if err := json.Unmarshal(body, &payload); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, s := range payload.Streams {
		for _, v := range s.Values {
			r.lines = append(r.lines, lokiLine{labels: s.Stream, line: v[1]})
		}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// find returns the first line containing s.
func (r *lokiReceiver) find(s string) (lokiLine, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if strings.Contains(l.line, s) {
			return l, true
		}
	}
	return lokiLine{}, false
}

// TestIntegrationLogForwarding: real Pebble forwards nginx's log lines to
// every Loki target with the topology labels; a Loki unit that leaves
// stops receiving, and no target is left when the relation goes.
func TestIntegrationLogForwarding(t *testing.T) {
	e := newEnv(t)
	e.startBackends(t)
	e.apply(t, NginxPlan{Config: e.config(t, "worker-1.test"), Run: true, StatusPort: statusPort})
	receivers := map[string]*lokiReceiver{}
	urls := map[string]string{}
	for i, unit := range []string{"loki/0", "loki/1"} {
		l, err := e.sb.ListenInNetns("tcp", fmt.Sprintf("127.0.0.1:%d", 3100+i))
		if err != nil {
			t.Fatal(err)
		}
		r := &lokiReceiver{}
		srv := &http.Server{Handler: r}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		receivers[unit] = r
		urls[unit] = fmt.Sprintf("http://127.0.0.1:%d/loki/api/v1/push", 3100+i)
	}
	ctx := context.Background()
	label := LogForwardingLabel("nginx")

	changed, err := e.c.ApplyLogTargets(ctx, label, lokiTargets(urls))
	if err != nil || !changed {
		t.Fatalf("ApplyLogTargets: changed=%v err=%v\n%s", changed, err, e.sb.Log())
	}
	e.api.reset()
	if changed, err := e.c.ApplyLogTargets(ctx, label, lokiTargets(urls)); err != nil || changed {
		t.Fatalf("same targets: changed=%v err=%v", changed, err)
	}
	if w := e.api.reset(); len(w) != 0 {
		t.Fatalf("same targets wrote %q", w)
	}
	e.get(statusPort, "/status?both-lokis")
	for unit, r := range receivers {
		waitFor(t, unit+" to receive nginx's access log line", func() bool {
			e.get(statusPort, "/status?both-lokis")
			_, ok := r.find("both-lokis")
			return ok
		})
		got, _ := r.find("both-lokis")
		want := topologyLabels()
		want["pebble_service"] = NginxService
		for k, v := range want {
			if got.labels[k] != v {
				t.Errorf("%s: label %s=%q, want %q (labels %v)", unit, k, got.labels[k], v, got.labels)
			}
		}
	}

	// loki/1 leaves.
	delete(urls, "loki/1")
	if changed, err := e.c.ApplyLogTargets(ctx, label, lokiTargets(urls)); err != nil || !changed {
		t.Fatalf("one Loki left: changed=%v err=%v", changed, err)
	}
	waitFor(t, "loki/0 to receive lines logged after loki/1 left", func() bool {
		e.get(statusPort, "/status?after-loki-1-left")
		_, ok := receivers["loki/0"].find("after-loki-1-left")
		return ok
	})
	time.Sleep(1500 * time.Millisecond) // more than Pebble's 1 s flush period
	if _, ok := receivers["loki/1"].find("after-loki-1-left"); ok {
		t.Error("loki/1 still receives logs after it left")
	}

	// The relation goes: no target forwards anything.
	if changed, err := e.c.ApplyLogTargets(ctx, label, nil); err != nil || !changed {
		t.Fatalf("no Loki: changed=%v err=%v", changed, err)
	}
	raw, err := e.c.api.PlanBytes(nil)
	if err != nil {
		t.Fatal(err)
	}
	var plan Layer
	if err := yaml.Unmarshal(raw, &plan); err != nil {
		t.Fatal(err)
	}
	for name, lt := range plan.LogTargets {
		if !slices.Equal(lt.Services, []string{"-all"}) {
			t.Errorf("target %s still forwards %v", name, lt.Services)
		}
	}
	if changed, err := e.c.ApplyLogTargets(ctx, label, nil); err != nil || changed {
		t.Fatalf("no Loki again: changed=%v err=%v", changed, err)
	}
}
