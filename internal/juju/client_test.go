package juju_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// recorder is a fake Runner that records calls and answers from a table
// keyed by the tool name.
type recorder struct {
	calls   []string
	stdins  []string
	answers map[string]string
	files   map[string]string // content of --file arguments, read during the call
}

func (r *recorder) Run(_ context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	r.calls = append(r.calls, strings.TrimSpace(tool+" "+strings.Join(args, " ")))
	r.stdins = append(r.stdins, string(stdin))
	for i, a := range args {
		if a == "--file" && i+1 < len(args) && args[i+1] != "-" {
			b, _ := os.ReadFile(args[i+1])
			if r.files == nil {
				r.files = map[string]string{}
			}
			r.files[tool] = string(b)
		}
	}
	return []byte(r.answers[tool]), nil
}

func TestClientArgvAndParsing(t *testing.T) {
	ctx := context.Background()
	r := &recorder{answers: map[string]string{
		"relation-ids":    `["tempo-cluster:7","tempo-cluster:3"]` + "\n",
		"config-get":      `{"replicas":3,"retention-period":"720h"}` + "\n",
		"is-leader":       "true\n",
		"status-get":      `{"message":"m","status":"active","status-data":{}}` + "\n",
		"network-get":     `{"bind-addresses":[{"mac-address":"","interface-name":"eth0","addresses":[{"hostname":"","value":"10.1.2.3","cidr":"10.1.2.0/24"}]}],"egress-subnets":["10.1.2.3/32"],"ingress-addresses":["10.1.2.3"]}` + "\n",
		"opened-ports":    `["80/tcp","8000-8999/udp","icmp"]` + "\n",
		"action-get":      `{"a":{"b":1}}` + "\n",
		"secret-get":      `{"password":"s3cret"}` + "\n",
		"secret-add":      "secret:abc\n",
		"secret-info-get": `{"abc":{"revision":2,"label":"x","owner":"application","description":"d","rotation":"monthly"}}` + "\n",
		"state-get":       "null\n",
		"goal-state":      `{"units":{"tempo/0":{"status":"active","since":"2026-08-01 10:00:00Z"}},"relations":{"ingress":{"traefik":{"status":"joined","since":"x"}}}}` + "\n",
	}}
	c := juju.NewClient(r)
	check := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	ids, err := c.RelationIDs(ctx, "tempo-cluster")
	check("RelationIDs", err)
	if !slices.Equal(ids, []int{3, 7}) {
		t.Fatalf("ids %v", ids)
	}
	r.answers["relation-list"] = `["worker/1","worker/0"]` + "\n"
	units, err := c.RelationList(ctx, "tempo-cluster:3")
	check("RelationList", err)
	if !slices.Equal(units, []string{"worker/0", "worker/1"}) {
		t.Fatalf("units %v", units)
	}
	r.answers["relation-list"] = `"worker"` + "\n"
	app, err := c.RelationApp(ctx, "tempo-cluster:3")
	check("RelationApp", err)
	if app != "worker" {
		t.Fatalf("app %q", app)
	}
	r.answers["relation-get"] = `{"role":"all"}` + "\n"
	data, err := c.RelationGet(ctx, "tempo-cluster:3", "worker", true)
	check("RelationGet app", err)
	if data["role"] != "all" {
		t.Fatalf("data %v", data)
	}
	r.answers["relation-get"] = "null\n"
	data, err = c.RelationGet(ctx, "tempo-cluster:3", "worker/0", false)
	check("RelationGet unit", err)
	if data == nil || len(data) != 0 {
		t.Fatalf("null databag: %#v", data)
	}
	check("RelationSet", c.RelationSet(ctx, "tempo-cluster:3", true, map[string]string{"url": "http://x", "old": ""}))
	cfg, err := c.ConfigGet(ctx)
	check("ConfigGet", err)
	if cfg["replicas"] != float64(3) {
		t.Fatalf("config %v", cfg)
	}
	leader, err := c.IsLeader(ctx)
	check("IsLeader", err)
	if !leader {
		t.Fatal("not leader")
	}
	check("StatusSet unit", c.StatusSet(ctx, "active", "-ready", false))
	check("StatusSet app", c.StatusSet(ctx, "blocked", "no s3", true))
	check("OpenPort", c.OpenPort(ctx, juju.Port{Number: 4317, Protocol: "tcp"}))
	check("ClosePort", c.ClosePort(ctx, juju.Port{Number: 53, Protocol: "udp"}))
	ports, err := c.OpenedPorts(ctx)
	check("OpenedPorts", err)
	if !slices.Equal(ports, []juju.Port{{80, "tcp"}, {0, "8000-8999/udp"}, {0, "icmp"}}) {
		t.Fatalf("ports %v", ports)
	}
	check("ActionSet", c.ActionSet(ctx, map[string]string{"z": "1", "a.b": "2"}))
	check("ActionFail", c.ActionFail(ctx, "broken"))
	content, err := c.SecretGet(ctx, juju.SecretGetOptions{URI: "secret:abc", Label: "x", Peek: true, Refresh: true})
	check("SecretGet", err)
	if content["password"] != "s3cret" {
		t.Fatalf("content %v", content)
	}
	uri, err := c.SecretAdd(ctx, juju.SecretOptions{Label: "L", Description: "D", Owner: "unit", Content: map[string]string{"password": "p"}})
	check("SecretAdd", err)
	if uri != "secret:abc" {
		t.Fatalf("uri %q", uri)
	}
	if r.files["secret-add"] != `{"password":"p"}` {
		t.Fatalf("secret-add file content %q", r.files["secret-add"])
	}
	check("SecretSet", c.SecretSet(ctx, "secret:abc", juju.SecretOptions{Description: "D2"}))
	check("SecretGrant", c.SecretGrant(ctx, "secret:abc", "tempo-cluster:3", "worker/0"))
	check("SecretRevoke", c.SecretRevoke(ctx, "secret:abc", "tempo-cluster:3"))
	info, err := c.SecretInfoGet(ctx, "", "x")
	check("SecretInfoGet", err)
	if info != (juju.SecretInfo{ID: "abc", Revision: 2, Label: "x", Owner: "application", Description: "d", Rotation: "monthly"}) {
		t.Fatalf("info %+v", info)
	}
	state, err := c.StateGet(ctx)
	check("StateGet", err)
	if state == nil || len(state) != 0 {
		t.Fatalf("null state: %#v", state)
	}
	check("StateSet", c.StateSet(ctx, map[string]string{"k": "v"}))
	check("StateDelete", c.StateDelete(ctx, "k"))
	g, err := c.GoalState(ctx)
	check("GoalState", err)
	if g.Units["tempo/0"].Status != "active" || g.Relations["ingress"]["traefik"].Status != "joined" {
		t.Fatalf("goal %+v", g)
	}

	want := []string{
		"relation-ids tempo-cluster --format=json",
		"relation-list -r tempo-cluster:3 --format=json",
		"relation-list -r tempo-cluster:3 --app --format=json",
		"relation-get -r tempo-cluster:3 --app - worker --format=json",
		"relation-get -r tempo-cluster:3 - worker/0 --format=json",
		"relation-set -r tempo-cluster:3 --app --file -",
		"config-get --format=json",
		"is-leader --format=json",
		"status-set --application=false active -- -ready",
		"status-set --application=true blocked -- no s3",
		"open-port 4317/tcp",
		"close-port 53/udp",
		"opened-ports --format=json",
		"action-set a.b=2 z=1",
		"action-fail broken",
		"secret-get secret:abc --label x --peek --refresh --format=json",
		"", // secret-add: temp file name checked below
		"secret-set secret:abc --description D2",
		"secret-grant secret:abc -r tempo-cluster:3 --unit worker/0",
		"secret-revoke secret:abc -r tempo-cluster:3",
		"secret-info-get --label x --format=json",
		"state-get --format=json",
		"state-set --file -",
		"state-delete k",
		"goal-state --format=json",
	}
	if len(r.calls) != len(want) {
		t.Fatalf("calls:\n%s", strings.Join(r.calls, "\n"))
	}
	for i, w := range want {
		if w == "" {
			prefix := "secret-add --label L --description D --owner unit --file " + os.TempDir()
			if !strings.HasPrefix(r.calls[i], prefix) || !strings.HasSuffix(r.calls[i], ".json") {
				t.Errorf("call %d: %q", i, r.calls[i])
			}
			file := r.calls[i][strings.LastIndex(r.calls[i], " ")+1:]
			if _, err := os.Stat(file); !os.IsNotExist(err) {
				t.Errorf("secret content file %s left behind", file)
			}
			continue
		}
		if r.calls[i] != w {
			t.Errorf("call %d:\n got %q\nwant %q", i, r.calls[i], w)
		}
	}
	// Data goes through stdin, never argv.
	var set map[string]string
	if err := json.Unmarshal([]byte(r.stdins[5]), &set); err != nil || !maps.Equal(set, map[string]string{"url": "http://x", "old": ""}) {
		t.Fatalf("relation-set stdin %q", r.stdins[5])
	}
	if r.stdins[22] != `{"k":"v"}` {
		t.Fatalf("state-set stdin %q", r.stdins[22])
	}
}

func TestClientCaching(t *testing.T) {
	ctx := context.Background()
	r := &recorder{answers: map[string]string{
		"relation-get": `{"a":"1","b":"2"}`, "config-get": `{}`, "is-leader": "false",
		"relation-ids": `[]`, "relation-list": `[]`, "state-get": `{"x":"1"}`,
	}}
	c := juju.NewClient(r)
	for range 2 {
		if _, err := c.RelationGet(ctx, "p:1", "tempo", true); err != nil {
			t.Fatal(err)
		}
		c.ConfigGet(ctx)
		c.IsLeader(ctx)
		c.RelationIDs(ctx, "p")
		c.RelationList(ctx, "p:1")
		c.StateGet(ctx)
	}
	if len(r.calls) != 6 {
		t.Fatalf("calls not cached:\n%s", strings.Join(r.calls, "\n"))
	}
	// Writes update the cache (read-your-writes) without a new read.
	if err := c.RelationSet(ctx, "p:1", true, map[string]string{"a": "", "c": "3"}); err != nil {
		t.Fatal(err)
	}
	data, _ := c.RelationGet(ctx, "p:1", "tempo", true)
	if !maps.Equal(data, map[string]string{"b": "2", "c": "3"}) {
		t.Fatalf("cache after write: %v", data)
	}
	c.StateSet(ctx, map[string]string{"y": "2"})
	c.StateDelete(ctx, "x")
	state, _ := c.StateGet(ctx)
	if !maps.Equal(state, map[string]string{"y": "2"}) {
		t.Fatalf("state cache: %v", state)
	}
	if len(r.calls) != 9 || r.calls[6] != "relation-set -r p:1 --app --file -" {
		t.Fatalf("calls:\n%s", strings.Join(r.calls, "\n"))
	}
}

func TestClientErrorsFromSimulator(t *testing.T) {
	ctx := context.Background()
	m := jujusim.NewModel("tempo/0")
	m.AddRelation("tempo-cluster", "worker", nil, map[string]map[string]string{"worker/0": {}})
	err := jujusim.RunInProcess(ctx, m, "update-status", jujusim.HookOptions{}, func(ctx context.Context, r juju.Runner, _ map[string]string) error {
		c := juju.NewClient(r)
		type pred struct {
			name string
			f    func(error) bool
		}
		all := []pred{{"IsRelationNotFound", juju.IsRelationNotFound}, {"IsNotLeader", juju.IsNotLeader}, {"IsNotFound", juju.IsNotFound}}
		cases := []struct {
			name string
			err  error
			want string
			code int
		}{
			{"relation gone", func() error { _, err := c.RelationList(ctx, "tempo-cluster:9"); return err }(), "IsRelationNotFound", 2},
			{"relation-set --app non-leader", c.RelationSet(ctx, "tempo-cluster:0", true, map[string]string{"a": "b"}), "IsNotLeader", 1},
			{"status-set --application non-leader", c.StatusSet(ctx, "active", "", true), "IsNotLeader", 1},
			{"secret-add app-owned non-leader", func() error {
				_, err := c.SecretAdd(ctx, juju.SecretOptions{Content: map[string]string{"key": "v"}})
				return err
			}(), "IsNotLeader", 1},
			{"own app databag non-leader", func() error { _, err := c.RelationGet(ctx, "tempo-cluster:0", "tempo", true); return err }(), "", 1},
			{"secret not found", func() error { _, err := c.SecretGet(ctx, juju.SecretGetOptions{URI: "secret:nope"}); return err }(), "IsNotFound", 1},
			{"bad status", c.StatusSet(ctx, "error", "x", false), "", 2},
			{"bad port", c.OpenPort(ctx, juju.Port{Number: 0, Protocol: "tcp"}), "", 2},
		}
		for _, tc := range cases {
			var te *juju.ToolError
			if !errors.As(tc.err, &te) || te.Code != tc.code || !strings.HasPrefix(te.Stderr, "ERROR ") {
				t.Errorf("%s: %#v", tc.name, tc.err)
				continue
			}
			for _, p := range all {
				if got := p.f(tc.err); got != (p.name == tc.want) {
					t.Errorf("%s: %s = %v (stderr %q)", tc.name, p.name, got, te.Stderr)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestToolErrorMessage(t *testing.T) {
	err := &juju.ToolError{Tool: "relation-get", Args: []string{"-r", "x:9"}, Code: 2, Stderr: "ERROR invalid value \"x:9\" for flag -r: relation not found\n"}
	if got := err.Error(); got != `relation-get -r x:9: invalid value "x:9" for flag -r: relation not found (exit 2)` {
		t.Fatalf("got %q", got)
	}
	if !juju.IsRelationNotFound(err) || juju.IsNotFound(err) {
		t.Fatal("a missing relation is not a plain not-found")
	}
	if juju.IsRelationNotFound(errors.New("relation not found")) || juju.IsNotFound(errors.New("not found")) {
		t.Fatal("predicates matched a non-tool error")
	}
}

// TestProcessRunner runs real processes: output, errors, exit codes,
// signals, the context's deadline, PATH.
func TestProcessRunner(t *testing.T) {
	dir := t.TempDir()
	script := `#!/bin/sh
case "$1" in
ok) cat; echo " args:$#";;
usage) echo "ERROR flag provided but not defined: --x" >&2; exit 2;;
fail) echo "ERROR cannot write relation settings" >&2; exit 1;;
stdin) if [ -t 0 ]; then echo tty; else wc -c | tr -d ' '; fi;;
big) head -c 300000 /dev/zero;;
background) sleep 10 & echo started;;
hang) exec sleep 30;;
selfkill) kill -TERM $$;;
esac
`
	tool := filepath.Join(dir, "fake-tool")
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := juju.NewProcessRunner()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := r.Run(ctx, tool, []string{"ok", "b"}, []byte("in"))
	if err != nil || string(out) != "in args:2\n" {
		t.Fatalf("ok: %q %v", out, err)
	}
	// stdin is always set explicitly (empty when nil), never inherited, and
	// nothing of the previous call's stdin or stdout is left over.
	out, err = r.Run(ctx, tool, []string{"stdin"}, nil)
	if err != nil || string(out) != "0\n" {
		t.Fatalf("stdin: %q %v", out, err)
	}
	out, err = r.Run(ctx, tool, []string{"big"}, nil)
	if err != nil || len(out) != 300000 {
		t.Fatalf("big output: %d bytes, %v", len(out), err)
	}
	out, err = r.Run(ctx, tool, []string{"ok"}, []byte("second"))
	if err != nil || string(out) != "second args:1\n" {
		t.Fatalf("after a big output: %q %v", out, err)
	}
	for _, c := range []struct {
		arg  string
		code int
		pred func(error) bool
	}{{"usage", 2, func(error) bool { return true }}, {"fail", 1, juju.IsNotLeader}} {
		_, err := r.Run(ctx, tool, []string{c.arg}, nil)
		var te *juju.ToolError
		if !errors.As(err, &te) || te.Code != c.code || te.Tool != tool || !slices.Equal(te.Args, []string{c.arg}) || !strings.HasPrefix(te.Stderr, "ERROR ") || !c.pred(err) {
			t.Fatalf("%s: %#v", c.arg, err)
		}
	}
	// A tool that leaves a process behind holding its stdout does not hold
	// the call open (it would with a pipe).
	done := make(chan error, 1)
	go func() {
		out, err := r.Run(ctx, tool, []string{"background"}, nil)
		if err == nil && string(out) != "started\n" {
			err = fmt.Errorf("output %q", out)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("background: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a background process held the call open")
	}
	// A tool still running when the context ends is killed.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = r.Run(short, tool, []string{"hang"}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v", err)
	}
	_, err = r.Run(ctx, tool, []string{"selfkill"}, nil)
	if err == nil || !strings.Contains(err.Error(), "killed by terminated") {
		t.Fatalf("selfkill: %v", err)
	}
	_, err = r.Run(ctx, filepath.Join(dir, "missing-tool"), nil, nil)
	var te *juju.ToolError
	if err == nil || errors.As(err, &te) || !strings.HasPrefix(err.Error(), "cannot run ") {
		t.Fatalf("missing tool: %v", err)
	}
	// Tools are found on PATH, as Juju provides them.
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err = r.Run(ctx, "fake-tool", []string{"ok"}, nil)
	if err != nil || string(out) != " args:1\n" {
		t.Fatalf("on PATH: %q %v", out, err)
	}
	// A tool elsewhere on PATH, or not executable in the first directory,
	// is found as exec.LookPath finds it.
	if err := os.WriteFile(filepath.Join(dir, "echo"), []byte("not executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"printf", "echo"} {
		out, err = r.Run(ctx, name, []string{"x"}, nil)
		if err != nil || strings.TrimSpace(string(out)) != "x" {
			t.Fatalf("%s elsewhere on PATH: %q %v", name, out, err)
		}
	}
	if _, err = r.Run(ctx, "no-such-tool", nil, nil); err == nil || !strings.Contains(err.Error(), "executable file not found") {
		t.Fatalf("a tool on no PATH directory: %v", err)
	}
}

// TestProcessRunnerClosedStdin runs a runner in a copy of this test binary
// started with its stdin closed: the memory files must not take fd 0 (the
// runtime reopens it on /dev/null), so that the tools still get their own
// stdin, stdout and stderr.
func TestProcessRunnerClosedStdin(t *testing.T) {
	if os.Getenv("JUJU_TEST_CLOSED_STDIN") == "1" {
		r, err := juju.NewProcessRunner()
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		out, err := r.Run(context.Background(), "sh", []string{"-c", "cat; echo ok; echo warn >&2"}, []byte("in "))
		fmt.Printf("%q %v\n", out, err)
		os.Exit(0)
	}
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := syscall.ForkExec(os.Args[0], []string{os.Args[0], "-test.run=^TestProcessRunnerClosedStdin$"}, &syscall.ProcAttr{
		Env:   append(os.Environ(), "JUJU_TEST_CLOSED_STDIN=1"),
		Files: []uintptr{^uintptr(0), out.Fd(), out.Fd()},
	})
	if err != nil {
		t.Fatal(err)
	}
	var status syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &status, 0, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out.Name())
	if !status.Exited() || status.ExitStatus() != 0 || string(got) != "\"in ok\\n\" <nil>\n" {
		t.Fatalf("with stdin closed: %v, output %q", status, got)
	}
}
