package jujusim

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	CleanupBuilds()
	os.Exit(code)
}

func TestExecModeRoundTrip(t *testing.T) {
	ctx := context.Background()
	charm := Build(t, "./testdata/charm")
	m := fixture()
	h := NewHarness(t, m)
	rel := m.Relation(0)

	res, err := h.RunHook(ctx, charm, "tempo-cluster-relation-changed", HookOptions{Relation: rel, RemoteUnit: "worker/1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || res.Stdout != "dispatch tempo-cluster-relation-changed\n" {
		t.Fatalf("result: %+v", res)
	}
	wantCalls := []string{
		"relation-ids tempo-cluster --format=json",
		"relation-list -r tempo-cluster:0 --format=json",
		"relation-get -r tempo-cluster:0 - worker/0 --format=json",
		"relation-get -r tempo-cluster:0 - worker/1 --format=json",
		"relation-set -r tempo-cluster:0 --app --file -",
		"state-set --file -",
		"open-port 3200/tcp",
		"status-set --application=false active -- 2 workers",
	}
	if got := res.Tools(); !slices.Equal(got, wantCalls) {
		t.Fatalf("calls:\n%s", strings.Join(got, "\n"))
	}
	if res.Counts["relation-get"] != 2 || res.Calls[4].StdinLen == 0 {
		t.Fatalf("counts %v, relation-set stdin %d", res.Counts, res.Calls[4].StdinLen)
	}
	// The model was reloaded in place: the test's *Relation sees the commit.
	if rel.LocalAppData["workers"] != "worker/0=10.0.0.1,worker/1=10.0.0.2" || m.State["last-hook"] != "tempo-cluster-relation-changed" ||
		!slices.Equal(m.OpenedPorts, []string{"3200/tcp"}) || m.UnitStatus != (Status{"active", "2 workers"}) || m.Hook != nil {
		t.Fatalf("model after hook: %+v %+v", rel, m)
	}
	env := res.Env
	for k, want := range map[string]string{"JUJU_DISPATCH_PATH": "hooks/tempo-cluster-relation-changed", "JUJU_RELATION_ID": "tempo-cluster:0",
		"JUJU_REMOTE_APP": "worker", "JUJU_REMOTE_UNIT": "worker/1", "JUJU_CHARM_DIR": h.CharmDir, "JUJU_UNIT_NAME": "tempo/0"} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	if !strings.HasPrefix(env["PATH"], h.ToolsDir+":") {
		t.Errorf("PATH %q", env["PATH"])
	}

	// A failing hook: its relation/state/port writes are discarded, its
	// status-set stays.
	rel.AddUnit("worker/2", map[string]string{"address": "10.0.0.3"})
	m.OpenedPorts = nil
	res, err = h.RunHook(ctx, charm, "config-changed", HookOptions{Env: map[string]string{"CHARM_FAIL": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 1 || res.Stderr != "charm: asked to fail\n" {
		t.Fatalf("result: %+v", res)
	}
	if rel.LocalAppData["workers"] != "worker/0=10.0.0.1,worker/1=10.0.0.2" || m.State["last-hook"] != "tempo-cluster-relation-changed" || len(m.OpenedPorts) != 0 {
		t.Fatalf("failed hook leaked writes: %v %v %v", rel.LocalAppData, m.State, m.OpenedPorts)
	}
	if m.UnitStatus != (Status{"active", "3 workers"}) {
		t.Fatalf("status of the failed hook lost: %+v", m.UnitStatus)
	}

	// A non-leader: relation-set --app fails with Juju's error and exit code.
	m.Leader = false
	res, err = h.RunHook(ctx, charm, "config-changed", HookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "cannot write relation settings (exit 1)") || res.Calls[len(res.Calls)-1].Code != 1 {
		t.Fatalf("non-leader: %+v", res)
	}
}

func TestExecModeAction(t *testing.T) {
	charm := Build(t, "./testdata/charm")
	m := fixture()
	h := NewHarness(t, m)
	res, err := h.RunAction(context.Background(), charm, "echo", map[string]any{"text": "hi"}, HookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || res.Env["JUJU_DISPATCH_PATH"] != "actions/echo" || res.Env["JUJU_ACTION_NAME"] != "echo" {
		t.Fatalf("result: %+v", res)
	}
	if got := m.Action.Results; !maps.Equal(got["cwd"].(map[string]any), map[string]any{"ok": "true"}) || got["echo"] != "hi" || m.Action.Failed {
		t.Fatalf("action: %+v", m.Action)
	}
}

func TestExecToolsDirectly(t *testing.T) {
	m := fixture()
	h := NewHarness(t, m)
	// Without a running hook the tools refuse to run.
	code := Main("/x/is-leader", nil, nil, &strings.Builder{}, &strings.Builder{}, func(string) string { return "" })
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	path := h.Dir + "/model.json"
	m.begin("install", HookOptions{}, map[string]string{"JUJU_CONTEXT_ID": "ctx-1"})
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{ModelEnv: path, "JUJU_CONTEXT_ID": "ctx-1"}
	var out, errOut strings.Builder
	code = Main("/tools/relation-set", []string{"-r", "0", "--file", "-"}, strings.NewReader("a: b\n"), &out, &errOut, func(k string) string { return env[k] })
	if code != 0 || errOut.Len() != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	env["JUJU_CONTEXT_ID"] = "stale"
	code = Main("/tools/is-leader", nil, nil, &out, &errOut, func(k string) string { return env[k] })
	if code != 1 || !strings.Contains(errOut.String(), "bad context id") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Pending) != 1 || loaded.Pending[0].Data["a"] != "b" || loaded.Calls[0].StdinLen != 5 {
		t.Fatalf("pending: %+v calls %+v", loaded.Pending, loaded.Calls)
	}
}
