package jujusim

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/juju"
)

// fixture is a leader coordinator with a worker relation (id 0), a peer
// relation (id 1) and an s3 relation (id 2).
func fixture() *Model {
	m := NewModel("tempo/0")
	m.Leader = true
	m.Config = map[string]any{"retention-period": "720h", "replicas": 3, "enable-x": true}
	m.AddRelation("tempo-cluster", "worker", map[string]string{"role": "all"},
		map[string]map[string]string{"worker/0": {"address": "10.0.0.1"}, "worker/1": {"address": "10.0.0.2"}})
	m.AddRelation("peers", "tempo", map[string]string{"shared": "yes"}, map[string]map[string]string{"tempo/1": {}})
	m.AddRelation("s3", "minio", nil, nil)
	m.Networks["tempo-cluster"] = DefaultNetwork("10.1.2.3")
	return m
}

type result struct {
	out, err string
	code     int
}

// run runs one tool inside a running hook h.
func run(m *Model, tool string, stdin *string, args ...string) result {
	var out, errOut []byte
	var code int
	if stdin == nil {
		out, errOut, code = m.Exec(tool, args, nil)
	} else {
		out, errOut, code = m.Exec(tool, args, strings.NewReader(*stdin))
	}
	return result{string(out), string(errOut), code}
}

func begin(t *testing.T, m *Model, hook string, opts HookOptions) *Hook {
	t.Helper()
	h, err := m.Begin(hook, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func ptr(s string) *string { return &s }

func TestGrammar(t *testing.T) {
	tests := []struct {
		name  string
		tool  string
		args  []string
		stdin *string
		want  result
	}{
		{"relation-ids", "relation-ids", []string{"tempo-cluster", "--format=json"}, nil, result{`["tempo-cluster:0"]` + "\n", "", 0}},
		{"relation-ids format as next arg", "relation-ids", []string{"--format", "json", "nope"}, nil, result{"[]\n", "", 0}},
		{"relation-ids default endpoint", "relation-ids", []string{"--format=json"}, nil, result{`["tempo-cluster:0"]` + "\n", "", 0}},
		{"relation-ids smart", "relation-ids", []string{"tempo-cluster"}, nil, result{"tempo-cluster:0\n", "", 0}},
		{"relation-ids extra args", "relation-ids", []string{"a", "b"}, nil, result{"", "ERROR unrecognized args: [\"b\"]\n", 2}},
		{"bad format", "relation-ids", []string{"--format=xml"}, nil, result{"", "ERROR invalid value \"xml\" for flag --format: unknown format \"xml\"\n", 2}},
		{"unknown long flag", "relation-list", []string{"--bogus"}, nil, result{"", "ERROR flag provided but not defined: --bogus\n", 2}},
		{"unknown short flag", "relation-list", []string{"-x"}, nil, result{"", "ERROR flag provided but not defined: -x\n", 2}},
		{"flag needs argument", "relation-list", []string{"-r"}, nil, result{"", "ERROR flag needs an argument: -r\n", 2}},
		{"empty flag", "relation-list", []string{"--=3"}, nil, result{"", "ERROR empty flag in argument \"--=3\"\n", 2}},
		{"help", "relation-list", []string{"--help"}, nil, result{"Usage: relation-list [options]\n", "", 0}},
		{"relation-list -r ref", "relation-list", []string{"-r", "tempo-cluster:0", "--format=json"}, nil, result{`["worker/0","worker/1"]` + "\n", "", 0}},
		{"relation-list -r bare id", "relation-list", []string{"-r", "0", "--format=json"}, nil, result{`["worker/0","worker/1"]` + "\n", "", 0}},
		{"relation-list --relation=", "relation-list", []string{"--relation=peers:1", "--format=json"}, nil, result{`["tempo/1"]` + "\n", "", 0}},
		{"relation-list -r=ref", "relation-list", []string{"-r=s3:2", "--format=json"}, nil, result{"[]\n", "", 0}},
		{"relation-list -r=bare id is gnuflag's =3", "relation-list", []string{"-r=2"}, nil, result{"", "ERROR invalid value \"=2\" for flag -r: invalid relation id\n", 2}},
		{"relation-list -rN", "relation-list", []string{"-r1", "--format=json"}, nil, result{`["tempo/1"]` + "\n", "", 0}},
		{"relation-list --app", "relation-list", []string{"-r", "0", "--app", "--format=json"}, nil, result{`"worker"` + "\n", "", 0}},
		{"relation-list --app=true", "relation-list", []string{"-r", "0", "--app=true", "--format=json"}, nil, result{`"worker"` + "\n", "", 0}},
		{"relation-list --app=False", "relation-list", []string{"-r", "2", "--app=False", "--format=json"}, nil, result{"[]\n", "", 0}},
		{"bad bool", "relation-list", []string{"--app=yes"}, nil, result{"", "ERROR invalid value \"yes\" for flag --app: strconv.ParseBool: parsing \"yes\": invalid syntax\n", 2}},
		{"relation not found -r", "relation-list", []string{"-r", "x:9"}, nil, result{"", "ERROR invalid value \"x:9\" for flag -r: relation not found\n", 2}},
		{"relation not found --relation", "relation-get", []string{"--relation=tempo-cluster:9", "-", "worker/0"}, nil, result{"", "ERROR invalid value \"tempo-cluster:9\" for flag --relation: relation not found\n", 2}},
		{"invalid relation id", "relation-list", []string{"-r", "cluster:x"}, nil, result{"", "ERROR invalid value \"cluster:x\" for flag -r: invalid relation id\n", 2}},
		{"relation-get unit", "relation-get", []string{"-r", "tempo-cluster:0", "--format=json", "-", "worker/1"}, nil, result{`{"address":"10.0.0.2"}` + "\n", "", 0}},
		{"relation-get interspersed", "relation-get", []string{"-", "worker/1", "-r", "0", "--format", "json"}, nil, result{`{"address":"10.0.0.2"}` + "\n", "", 0}},
		{"relation-get key", "relation-get", []string{"-r", "0", "--format=json", "address", "worker/0"}, nil, result{`"10.0.0.1"` + "\n", "", 0}},
		{"relation-get missing key", "relation-get", []string{"-r", "0", "--format=json", "nope", "worker/0"}, nil, result{"null\n", "", 0}},
		{"relation-get app", "relation-get", []string{"-r", "tempo-cluster:0", "--app", "-", "worker", "--format=json"}, nil, result{`{"role":"all"}` + "\n", "", 0}},
		{"relation-get app with unit name", "relation-get", []string{"-r", "0", "--app", "-", "worker/0", "--format=json"}, nil, result{`{"role":"all"}` + "\n", "", 0}},
		{"relation-get defaults to remote unit", "relation-get", []string{"--format=json"}, nil, result{`{"address":"10.0.0.1"}` + "\n", "", 0}},
		{"relation-get app defaults to remote app", "relation-get", []string{"--app", "--format=json"}, nil, result{`{"role":"all"}` + "\n", "", 0}},
		{"relation-get app name without --app", "relation-get", []string{"-r", "0", "-", "worker"}, nil, result{"", "ERROR expected unit name, got application name \"worker\"\n", 2}},
		{"relation-get bad unit", "relation-get", []string{"-r", "0", "-", "worker/x"}, nil, result{"", "ERROR invalid unit name \"worker/x\"\n", 2}},
		{"relation-get unknown unit", "relation-get", []string{"-r", "0", "-", "worker/7"}, nil, result{"", "ERROR cannot read settings for unit \"worker/7\" in relation \"tempo-cluster:0\": settings not found\n", 1}},
		{"relation-get other app", "relation-get", []string{"-r", "0", "--app", "-", "minio"}, nil, result{"", "ERROR permission denied\n", 1}},
		{"relation-get extra", "relation-get", []string{"-r", "0", "-", "worker/0", "x"}, nil, result{"", "ERROR unrecognized args: [\"x\"]\n", 2}},
		{"relation-get -- ends flags", "relation-get", []string{"-r", "0", "--format=json", "--", "-", "worker/0"}, nil, result{`{"address":"10.0.0.1"}` + "\n", "", 0}},
		{"relation-set bad arg", "relation-set", []string{"-r", "0", "novalue"}, nil, result{"", "ERROR expected \"key=value\", got \"novalue\"\n", 2}},
		{"relation-set no stdin", "relation-set", []string{"-r", "0", "--file", "-"}, nil, result{"", "ERROR hook tool requires stdin, none supplied\n", 1}},
		{"relation-set bad yaml", "relation-set", []string{"-r", "0", "--file", "-"}, ptr("[1, 2"), result{"", "", 1}},
		{"relation-set deprecated format", "relation-set", []string{"-r", "0", "--format=json", "a=b"}, nil, result{"", "--format flag deprecated for command \"relation-set\"\n", 0}},
		{"config-get", "config-get", []string{"--format=json"}, nil, result{`{"enable-x":true,"replicas":3,"retention-period":"720h"}` + "\n", "", 0}},
		{"config-get key", "config-get", []string{"replicas", "--format=json"}, nil, result{"3\n", "", 0}},
		{"config-get unknown key", "config-get", []string{"nope", "--format=json"}, nil, result{"null\n", "", 0}},
		{"config-get key and all", "config-get", []string{"-a", "replicas"}, nil, result{"", "ERROR cannot use argument --all together with key \"replicas\"\n", 2}},
		{"is-leader json", "is-leader", []string{"--format=json"}, nil, result{"true\n", "", 0}},
		{"is-leader smart", "is-leader", nil, nil, result{"True\n", "", 0}},
		{"status-set bad status", "status-set", []string{"error", "x"}, nil, result{"", "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]\n", 2}},
		{"status-set no args", "status-set", nil, nil, result{"", "ERROR invalid args, require <status> [message]\n", 2}},
		{"status-set extra", "status-set", []string{"active", "a", "b"}, nil, result{"", "ERROR unrecognized args: [\"b\"]\n", 2}},
		{"status-set dash message", "status-set", []string{"--application=false", "active", "--", "-leading dash"}, nil, result{"", "", 0}},
		{"status-get", "status-get", []string{"--include-data", "--format=json"}, nil, result{`{"message":"","status":"unknown","status-data":{}}` + "\n", "", 0}},
		{"status-get no data", "status-get", []string{"--format=json"}, nil, result{`{"status":"unknown"}` + "\n", "", 0}},
		{"status-get app", "status-get", []string{"--application", "--include-data", "--format=json"}, nil, result{`{"application-status":{"message":"","status":"unknown","status-data":{},"units":{"tempo/0":{"message":"","status":"unknown","status-data":{}}}}}` + "\n", "", 0}},
		{"application-version-set none", "application-version-set", nil, nil, result{"", "ERROR no version specified\n", 2}},
		{"application-version-set extra", "application-version-set", []string{"1", "2"}, nil, result{"", "ERROR unrecognized args: [\"2\"]\n", 2}},
		{"juju-log none", "juju-log", []string{"-l", "INFO"}, nil, result{"", "ERROR no message specified\n", 2}},
		{"network-get", "network-get", []string{"tempo-cluster", "--format=json"}, nil, result{`{"bind-addresses":[{"mac-address":"","interface-name":"eth0","addresses":[{"hostname":"","value":"10.1.2.3","cidr":"10.1.2.3/32"}]}],"egress-subnets":["10.1.2.3/32"],"ingress-addresses":["10.1.2.3"]}` + "\n", "", 0}},
		{"network-get ingress", "network-get", []string{"tempo-cluster", "--ingress-address", "--format=json"}, nil, result{`"10.1.2.3"` + "\n", "", 0}},
		{"network-get two selectors", "network-get", []string{"tempo-cluster", "--ingress-address", "--egress-subnets", "--format=json"}, nil, result{`{"egress-subnets":"10.1.2.3/32","ingress-address":"10.1.2.3"}` + "\n", "", 0}},
		{"network-get unknown", "network-get", []string{"nope"}, nil, result{"", "ERROR no network config found for binding \"nope\"\n", 1}},
		{"network-get none", "network-get", nil, nil, result{"", "ERROR no endpoint binding name specified\n", 2}},
		{"open-port bad", "open-port", []string{"http"}, nil, result{"", "ERROR expected <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp; got \"http\"\n", 2}},
		{"open-port range", "open-port", []string{"0/tcp"}, nil, result{"", "ERROR port must be in the range [1, 65535]; got \"0\"\n", 2}},
		{"open-port proto", "open-port", []string{"80/sctp"}, nil, result{"", "ERROR invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\"\n", 2}},
		{"open-port none", "open-port", nil, nil, result{"", "ERROR no port or range specified\n", 2}},
		{"action-get outside action", "action-get", []string{"--format=json"}, nil, result{"", "ERROR not running an action\n", 1}},
		{"action-set outside action", "action-set", []string{"a=b"}, nil, result{"", "ERROR not running an action\n", 1}},
		{"action-fail outside action", "action-fail", []string{"x"}, nil, result{"", "ERROR not running an action\n", 1}},
		{"action-log outside action", "action-log", []string{"x"}, nil, result{"", "ERROR not running an action\n", 1}},
		{"secret-get no uri", "secret-get", []string{"--format=json"}, nil, result{"", "ERROR require either a secret URI or label\n", 2}},
		{"secret-get peek and refresh", "secret-get", []string{"secret:x", "--peek", "--refresh"}, nil, result{"", "ERROR specify one of --peek or --refresh but not both\n", 2}},
		{"secret-get not found", "secret-get", []string{"secret:x", "--format=json"}, nil, result{"", "ERROR secret \"secret:x\" not found\n", 1}},
		{"secret-info-get not found", "secret-info-get", []string{"--label", "nope", "--format=json"}, nil, result{"", "ERROR secret \"nope\" not found\n", 1}},
		{"secret-info-get both", "secret-info-get", []string{"secret:x", "--label", "nope"}, nil, result{"", "ERROR specify either a secret URI or label but not both\n", 2}},
		{"secret-add empty", "secret-add", []string{"--label", "x"}, nil, result{"", "ERROR missing secret value or filename\n", 2}},
		{"secret-add bad key", "secret-add", []string{"A=b"}, nil, result{"", "ERROR key \"A\" not valid\n", 2}},
		{"secret-add bad owner", "secret-add", []string{"--owner", "model", "abc=d"}, nil, result{"", "ERROR secret owner \"model\" not valid\n", 2}},
		{"secret-ids empty", "secret-ids", []string{"--format=json"}, nil, result{"[]\n", "", 0}},
		{"state-get empty is null", "state-get", []string{"--format=json"}, nil, result{"null\n", "", 0}},
		{"state-get missing key", "state-get", []string{"nope", "--format=json"}, nil, result{"\"\"\n", "", 0}},
		{"state-get strict", "state-get", []string{"nope", "--strict"}, nil, result{"", "ERROR key \"nope\" not found\n", 1}},
		{"state-delete none", "state-delete", nil, nil, result{"", "ERROR specify a key\n", 2}},
		// The peer unit tempo/1 is under units, but Juju never lists a
		// peer relation under relations (the uniter facade's
		// goalStateRelations skips single-endpoint relations).
		{"goal-state", "goal-state", []string{"--format=json"}, nil, result{`{"relations":{"s3":{"minio":{"since":"2026-01-01 00:00:00Z","status":"joined"}},"tempo-cluster":{"worker":{"since":"2026-01-01 00:00:00Z","status":"joined"},"worker/0":{"since":"2026-01-01 00:00:00Z","status":"active"},"worker/1":{"since":"2026-01-01 00:00:00Z","status":"active"}}},"units":{"tempo/0":{"since":"2026-01-01 00:00:00Z","status":"active"},"tempo/1":{"since":"2026-01-01 00:00:00Z","status":"active"}}}` + "\n", "", 0}},
		{"goal-state smart refused", "goal-state", []string{"--format=smart"}, nil, result{"", "ERROR invalid value \"smart\" for flag --format: unknown format \"smart\"\n", 2}},
		{"unknown tool", "leader-get", nil, nil, result{"", "ERROR unknown hook tool \"leader-get\"\n", 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture()
			begin(t, m, "tempo-cluster-relation-changed", HookOptions{Relation: m.Relation(0), RemoteUnit: "worker/0"})
			got := run(m, tt.tool, tt.stdin, tt.args...)
			if tt.name == "relation-set bad yaml" {
				if got.code != 1 || !strings.HasPrefix(got.err, "ERROR cannot parse settings file") {
					t.Fatalf("got %+v", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("%s %q:\n got %+v\nwant %+v", tt.tool, tt.args, got, tt.want)
			}
			last := m.Calls[len(m.Calls)-1]
			if last.Tool != tt.tool || !slices.Equal(last.Args, tt.args) || last.Code != tt.want.code {
				t.Fatalf("call not recorded: %+v", last)
			}
		})
	}
}

func TestNoHookContext(t *testing.T) {
	m := fixture()
	got := run(m, "is-leader", nil)
	if got.code != 1 || !strings.HasPrefix(got.err, "ERROR no hook context") {
		t.Fatalf("got %+v", got)
	}
}

func TestNoRelationOutsideRelationHook(t *testing.T) {
	m := fixture()
	begin(t, m, "config-changed", HookOptions{})
	for _, tool := range []string{"relation-list", "relation-get", "relation-set"} {
		if got := run(m, tool, nil); got.code != 2 || got.err != "ERROR no relation id specified\n" {
			t.Errorf("%s: got %+v", tool, got)
		}
	}
	if got := run(m, "relation-ids", nil); got.code != 2 || got.err != "ERROR no endpoint name specified\n" {
		t.Errorf("relation-ids: got %+v", got)
	}
	if got := run(m, "relation-get", nil, "-r", "0"); got.code != 2 || got.err != "ERROR no unit or application specified\n" {
		t.Errorf("relation-get: got %+v", got)
	}
}

func TestLeaderRules(t *testing.T) {
	m := fixture()
	m.Leader = false
	m.Relation(0).LocalAppData["url"] = "http://tempo"
	begin(t, m, "update-status", HookOptions{})
	tests := []struct {
		tool string
		args []string
		want result
	}{
		{"relation-set", []string{"-r", "0", "--app", "a=b"}, result{"", "ERROR cannot write relation settings\n", 1}},
		{"relation-get", []string{"-r", "0", "--app", "-", "tempo", "--format=json"}, result{"", "ERROR permission denied\n", 1}},
		// A peer relation's application databag is readable by every unit.
		{"relation-get", []string{"-r", "peers:1", "--app", "-", "tempo", "--format=json"}, result{`{"shared":"yes"}` + "\n", "", 0}},
		{"relation-set", []string{"-r", "1", "--app=true", "a=b"}, result{"", "ERROR cannot write relation settings\n", 1}},
		{"relation-set", []string{"-r", "0", "--app=false", "a=b"}, result{"", "", 0}},
		{"status-set", []string{"--application", "active", "x"}, result{"", "ERROR this unit is not the leader\n", 1}},
		{"status-set", []string{"--application=True", "active", "x"}, result{"", "ERROR this unit is not the leader\n", 1}},
		{"status-get", []string{"--application", "--format=json"}, result{"", "ERROR finding application status: this unit is not the leader\n", 1}},
		{"secret-add", []string{"--label", "s3", "--file", "/nonexistent/x.json", "key=value"}, result{"", "ERROR open /nonexistent/x.json: no such file or directory\n", 1}},
		{"secret-add", []string{"--label", "s3", "key=value"}, result{"", "ERROR this unit is not the leader\n", 1}},
		{"secret-add", []string{"--owner", "application", "key=value"}, result{"", "ERROR this unit is not the leader\n", 1}},
		{"is-leader", []string{"--format=json"}, result{"false\n", "", 0}},
	}
	for _, tt := range tests {
		if got := run(m, tt.tool, nil, tt.args...); got != tt.want {
			t.Errorf("%s %q:\n got %+v\nwant %+v", tt.tool, tt.args, got, tt.want)
		}
	}
	// A unit-owned secret needs no leadership.
	got := run(m, "secret-add", nil, "--owner", "unit", "key=value")
	if got.code != 0 || !strings.HasPrefix(got.out, "secret:") {
		t.Fatalf("unit secret-add: %+v", got)
	}
	if m.AppStatus != (Status{}) {
		t.Fatalf("app status changed by a non-leader: %+v", m.AppStatus)
	}
}

func TestTransactional(t *testing.T) {
	for _, ok := range []bool{true, false} {
		m := fixture()
		m.State["keep"] = "1"
		m.State["gone"] = "1"
		m.OpenedPorts = []string{"80/tcp"}
		h := begin(t, m, "config-changed", HookOptions{})
		stdin := `{"address":"10.9.9.9","role":""}`
		steps := []struct {
			tool  string
			stdin *string
			args  []string
		}{
			{"relation-set", ptr(`{"address": "10.9.9.9"}`), []string{"-r", "tempo-cluster:0", "--file", "-"}},
			{"relation-set", ptr(stdin), []string{"-r", "0", "--app", "--file", "-"}},
			{"relation-set", nil, []string{"-r", "0", "--app", "extra=1", "role=coordinator"}},
			{"state-set", ptr("a: x\nb: \"\"\n"), []string{"--file", "-"}},
			{"state-set", nil, []string{"c=3"}},
			{"state-delete", nil, []string{"gone"}},
			{"open-port", nil, []string{"4317"}},
			{"close-port", nil, []string{"80/tcp"}},
			{"status-set", nil, []string{"active", "ready"}},
			{"status-set", nil, []string{"--application", "waiting", "workers"}},
			{"application-version-set", nil, []string{"--", "2.9.0"}},
			{"juju-log", nil, []string{"--log-level", "WARNING", "--", "careful"}},
		}
		for _, s := range steps {
			if got := run(m, s.tool, s.stdin, s.args...); got.code != 0 {
				t.Fatalf("%s %q: %+v", s.tool, s.args, got)
			}
		}
		// Read-your-writes within the hook.
		if got := run(m, "relation-get", nil, "-r", "0", "--app", "-", "tempo", "--format=json"); got.out != `{"address":"10.9.9.9","extra":"1","role":"coordinator"}`+"\n" {
			t.Fatalf("own app databag in hook: %+v", got)
		}
		if got := run(m, "relation-get", nil, "-r", "0", "-", "tempo/0", "--format=json"); got.out != `{"address":"10.9.9.9"}`+"\n" {
			t.Fatalf("own unit databag in hook: %+v", got)
		}
		if got := run(m, "state-get", nil, "--format=json"); got.out != `{"a":"x","b":"","c":"3","keep":"1"}`+"\n" {
			t.Fatalf("state in hook: %+v", got)
		}
		// opened-ports does not show pending changes.
		if got := run(m, "opened-ports", nil, "--format=json"); got.out != `["80/tcp"]`+"\n" {
			t.Fatalf("opened-ports in hook: %+v", got)
		}
		if len(h.Calls()) != len(steps)+4 {
			t.Fatalf("hook calls: %d", len(h.Calls()))
		}
		m.End(h, ok)
		m.End(h, ok) // idempotent
		r := m.Relation(0)
		if ok {
			if !maps.Equal(r.LocalAppData, map[string]string{"address": "10.9.9.9", "extra": "1", "role": "coordinator"}) ||
				!maps.Equal(r.LocalUnitData, map[string]string{"address": "10.9.9.9"}) {
				t.Fatalf("committed databags: %v %v", r.LocalAppData, r.LocalUnitData)
			}
			if !maps.Equal(m.State, map[string]string{"keep": "1", "a": "x", "b": "", "c": "3"}) {
				t.Fatalf("committed state: %v", m.State)
			}
			if !slices.Equal(m.OpenedPorts, []string{"4317/tcp"}) {
				t.Fatalf("committed ports: %v", m.OpenedPorts)
			}
		} else {
			if len(r.LocalAppData) != 0 || len(r.LocalUnitData) != 0 {
				t.Fatalf("failed hook kept databags: %v %v", r.LocalAppData, r.LocalUnitData)
			}
			if !maps.Equal(m.State, map[string]string{"keep": "1", "gone": "1"}) {
				t.Fatalf("failed hook changed state: %v", m.State)
			}
			if !slices.Equal(m.OpenedPorts, []string{"80/tcp"}) {
				t.Fatalf("failed hook changed ports: %v", m.OpenedPorts)
			}
		}
		// Immediate writes stay either way.
		if m.UnitStatus != (Status{"active", "ready"}) || m.AppStatus != (Status{"waiting", "workers"}) {
			t.Fatalf("ok=%v: statuses %+v %+v", ok, m.UnitStatus, m.AppStatus)
		}
		if got := m.StatusesSet(false); !slices.Equal(got, []string{"active: ready"}) {
			t.Fatalf("history: %v", got)
		}
		if m.WorkloadVersion != "2.9.0" || len(m.Logs) != 1 || m.Logs[0] != (LogEntry{"WARNING", "careful", "config-changed"}) {
			t.Fatalf("ok=%v: version %q logs %+v", ok, m.WorkloadVersion, m.Logs)
		}
		if m.Hook != nil || m.Pending != nil {
			t.Fatalf("hook context left over")
		}
	}
}

func TestRelationSetEmptyValueDeletesAndMerges(t *testing.T) {
	m := fixture()
	m.Relation(0).LocalUnitData = map[string]string{"a": "1", "b": "2"}
	err := RunInProcess(context.Background(), m, "config-changed", HookOptions{}, func(ctx context.Context, r juju.Runner, env map[string]string) error {
		_, err := r.Run(ctx, "relation-set", []string{"-r", "0", "--file", "-"}, []byte(`{"a":"","c":"3"}`))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Relation(0).LocalUnitData; !maps.Equal(got, map[string]string{"b": "2", "c": "3"}) {
		t.Fatalf("got %v", got)
	}
}

func TestRunInProcessDiscardsOnError(t *testing.T) {
	m := fixture()
	boom := errors.New("boom")
	err := RunInProcess(context.Background(), m, "config-changed", HookOptions{}, func(ctx context.Context, r juju.Runner, env map[string]string) error {
		if env["JUJU_DISPATCH_PATH"] != "hooks/config-changed" || env["JUJU_HOOK_NAME"] != "config-changed" {
			t.Errorf("env: %v", env)
		}
		c := juju.NewClient(r)
		if err := c.StateSet(ctx, map[string]string{"k": "v"}); err != nil {
			return err
		}
		if err := c.StatusSet(ctx, "blocked", "no s3", false); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if _, ok := m.State["k"]; ok || m.UnitStatus.Status != "blocked" {
		t.Fatalf("state %v status %+v", m.State, m.UnitStatus)
	}
}

func TestToolErrorFromRunner(t *testing.T) {
	m := fixture()
	m.Leader = false
	h := begin(t, m, "config-changed", HookOptions{})
	defer m.End(h, true)
	_, err := h.Run(context.Background(), "relation-set", []string{"-r", "0", "--app", "a=b"}, nil)
	var te *juju.ToolError
	if !errors.As(err, &te) || te.Code != 1 || te.Stderr != "ERROR cannot write relation settings\n" || !juju.IsNotLeader(err) {
		t.Fatalf("got %#v", err)
	}
	m.End(h, true)
	if _, err := h.Run(context.Background(), "is-leader", nil, nil); err == nil {
		t.Fatal("tool ran after the hook ended")
	}
}

func TestSecrets(t *testing.T) {
	m := fixture()
	shared := m.AddSecret("", "", map[string]string{"token": "abc"})
	var uri string
	err := RunInProcess(context.Background(), m, "config-changed", HookOptions{}, func(ctx context.Context, r juju.Runner, _ map[string]string) error {
		c := juju.NewClient(r)
		var err error
		uri, err = c.SecretAdd(ctx, SecretOptionsForTest("s3-creds", map[string]string{"access-key": "AK", "secret-key": "SK"}))
		if err != nil {
			return err
		}
		// Read-your-writes for a secret created in this hook.
		got, err := c.SecretGet(ctx, juju.SecretGetOptions{Label: "s3-creds"})
		if err != nil || got["secret-key"] != "SK" {
			t.Errorf("secret-get: %v %v", got, err)
		}
		if _, err := c.SecretAdd(ctx, SecretOptionsForTest("s3-creds", map[string]string{"abc": "d"})); err == nil || !strings.Contains(err.Error(), `secret with label "s3-creds" already exists`) {
			t.Errorf("duplicate label: %v", err)
		}
		if err := c.SecretSet(ctx, uri, juju.SecretOptions{Content: map[string]string{"access-key": "AK2", "secret-key": "SK"}, Description: "d"}); err != nil {
			return err
		}
		if err := c.SecretGrant(ctx, uri, "tempo-cluster:0", "worker/1"); err != nil {
			return err
		}
		if err := c.SecretGrant(ctx, uri, "tempo-cluster:0", "minio/0"); toolExit(err) != 2 {
			t.Errorf("grant to a foreign unit: %v", err)
		}
		info, err := c.SecretInfoGet(ctx, uri, "")
		if err != nil || info.Revision != 2 || info.Label != "s3-creds" || info.Owner != "application" || info.Description != "d" {
			t.Errorf("info: %+v %v", info, err)
		}
		if err := c.SecretSet(ctx, shared.URI(), juju.SecretOptions{Content: map[string]string{"token": "x"}}); toolExit(err) != 1 || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("set a shared secret: %v", err)
		}
		got, err = c.SecretGet(ctx, juju.SecretGetOptions{URI: shared.URI(), Refresh: true})
		if err != nil || got["token"] != "abc" {
			t.Errorf("shared: %v %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s := m.Secret(uri)
	if s == nil || s.Revision != 2 || s.Content["access-key"] != "AK2" || len(s.Grants) != 1 || s.Grants[0] != (SecretGrant{0, "worker/1"}) {
		t.Fatalf("committed secret: %+v", s)
	}
	err = RunInProcess(context.Background(), m, "update-status", HookOptions{}, func(ctx context.Context, r juju.Runner, _ map[string]string) error {
		out, err := r.Run(ctx, "secret-ids", []string{"--format=json"}, nil)
		if err != nil || string(out) != `["`+s.ID+`"]`+"\n" {
			t.Errorf("secret-ids: %s %v", out, err)
		}
		out, err = r.Run(ctx, "secret-get", []string{uri, "access-key#base64", "--format=json"}, nil)
		if err != nil || string(out) != `"QUsy"`+"\n" {
			t.Errorf("secret-get key: %s %v", out, err)
		}
		_, err = r.Run(ctx, "secret-get", []string{"secret:nope"}, nil)
		if !juju.IsNotFound(err) {
			t.Errorf("missing secret: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// SecretOptionsForTest builds app-owned secret options.
func SecretOptionsForTest(label string, content map[string]string) juju.SecretOptions {
	return juju.SecretOptions{Label: label, Content: content}
}

func TestActions(t *testing.T) {
	m := fixture()
	opts := HookOptions{Action: true, Params: map[string]any{"format": "yaml", "nested": map[string]any{"depth": 2}}}
	err := RunInProcess(context.Background(), m, "list-receivers", opts, func(ctx context.Context, r juju.Runner, env map[string]string) error {
		if env["JUJU_DISPATCH_PATH"] != "actions/list-receivers" || env["JUJU_HOOK_NAME"] != "" || env["JUJU_ACTION_NAME"] != "list-receivers" || env["JUJU_ACTION_UUID"] == "" {
			t.Errorf("env: %v", env)
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--format=json"}, `{"format":"yaml","nested":{"depth":2}}`},
			{[]string{"nested.depth", "--format=json"}, "2"},
			{[]string{"nested.nope", "--format=json"}, "null"},
		} {
			out, err := r.Run(ctx, "action-get", c.args, nil)
			if err != nil || string(out) != c.want+"\n" {
				t.Errorf("action-get %q: %s %v", c.args, out, err)
			}
		}
		for _, bad := range []struct{ arg, msg string }{
			{"stdout=x", `ERROR cannot set reserved action key "stdout"`},
			{"Bad=x", `ERROR key "Bad" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods`},
			{"novalue", `ERROR argument "novalue" must be of the form key...=value`},
		} {
			_, err := r.Run(ctx, "action-set", []string{bad.arg}, nil)
			var te *juju.ToolError
			if !errors.As(err, &te) || te.Code != 2 || strings.TrimSpace(te.Stderr) != bad.msg {
				t.Errorf("action-set %s: %v", bad.arg, err)
			}
		}
		if _, err := r.Run(ctx, "action-set", []string{"a.b=1", "a.c=2", "top=x"}, nil); err != nil {
			return err
		}
		if _, err := r.Run(ctx, "action-log", []string{"working", "hard"}, nil); err != nil {
			return err
		}
		_, err := r.Run(ctx, "action-fail", []string{"no receivers"}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a := m.Action
	res, _ := json.Marshal(a.Results)
	if string(res) != `{"a":{"b":"1","c":"2"},"top":"x"}` || !a.Failed || a.Message != "no receivers" || !slices.Equal(a.Logs, []string{"working hard"}) {
		t.Fatalf("action: %s %+v", res, a)
	}
	// A later hook is not an action.
	_ = RunInProcess(context.Background(), m, "update-status", HookOptions{}, func(ctx context.Context, r juju.Runner, _ map[string]string) error {
		if _, err := r.Run(ctx, "action-get", nil, nil); err == nil {
			t.Error("action-get in a hook succeeded")
		}
		return nil
	})
	if m.Action != nil {
		t.Fatal("action kept after a hook")
	}
}

func TestRelationLifecycle(t *testing.T) {
	m := fixture()
	r := m.Relation(0)
	r.RemoveUnit("worker/1")
	err := RunInProcess(context.Background(), m, "tempo-cluster-relation-departed", HookOptions{Relation: r, RemoteUnit: "worker/1"}, func(ctx context.Context, run juju.Runner, env map[string]string) error {
		if env["JUJU_DEPARTING_UNIT"] != "worker/1" || env["JUJU_REMOTE_UNIT"] != "worker/1" || env["JUJU_RELATION_ID"] != "tempo-cluster:0" {
			t.Errorf("env %v", env)
		}
		out, _ := run.Run(ctx, "relation-list", []string{"--format=json"}, nil)
		if string(out) != `["worker/0"]`+"\n" {
			t.Errorf("departing unit listed: %s", out)
		}
		// Its databag stays readable.
		out, err := run.Run(ctx, "relation-get", []string{"--format=json"}, nil)
		if err != nil || string(out) != `{"address":"10.0.0.2"}`+"\n" {
			t.Errorf("departing unit data: %s %v", out, err)
		}
		_, err = run.Run(ctx, "juju-log", []string{"bye"}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Logs[0].Message != "tempo-cluster:0: bye" || m.Logs[0].Level != "INFO" {
		t.Fatalf("log: %+v", m.Logs)
	}
	// A failing -broken hook keeps the relation; a successful one removes it.
	for _, ok := range []bool{false, true} {
		err := RunInProcess(context.Background(), m, "tempo-cluster-relation-broken", HookOptions{Relation: r}, func(ctx context.Context, run juju.Runner, env map[string]string) error {
			out, _ := run.Run(ctx, "relation-ids", []string{"tempo-cluster", "--format=json"}, nil)
			if string(out) != "[]\n" {
				t.Errorf("broken relation listed: %s", out)
			}
			if env["JUJU_REMOTE_UNIT"] != "" || env["JUJU_REMOTE_APP"] != "worker" {
				t.Errorf("env %v", env)
			}
			if !ok {
				return errors.New("fail")
			}
			return nil
		})
		if (err == nil) != ok || (m.Relation(0) == nil) != ok {
			t.Fatalf("ok=%v: err %v relation %v", ok, err, m.Relation(0))
		}
	}
}

func TestHookEnvErrors(t *testing.T) {
	m := fixture()
	for _, c := range []struct {
		hook string
		opts HookOptions
	}{
		{"tempo-cluster-relation-changed", HookOptions{}},
		{"tempo-cluster-relation-changed", HookOptions{Relation: &Relation{ID: 42}}},
		{"s3-relation-changed", HookOptions{Relation: m.Relation(0)}},
		{"tempo-cluster-relation-joined", HookOptions{Relation: m.Relation(0)}},
	} {
		if _, err := HookEnv(m, c.hook, c.opts); err == nil {
			t.Errorf("%s %+v: no error", c.hook, c.opts)
		}
	}
	env, err := HookEnv(m, "nginx-pebble-custom-notice", HookOptions{NoticeID: "7", NoticeKey: "example.com/reload", Env: map[string]string{"EXTRA": "1"}})
	if err != nil || env["JUJU_WORKLOAD_NAME"] != "nginx" || env["JUJU_NOTICE_KEY"] != "example.com/reload" || env["JUJU_NOTICE_TYPE"] != "custom" || env["EXTRA"] != "1" {
		t.Fatalf("notice env: %v %v", env, err)
	}
	c, err := juju.ContextFromEnv(func(k string) string { return env[k] }, "")
	if err != nil || c.Name != "nginx-pebble-custom-notice" || c.Unit != m.Unit {
		t.Fatalf("context from sim env: %+v %v", c, err)
	}
}

func TestFlagParserEdgeCases(t *testing.T) {
	lookup := func(id int) *Relation {
		if id == 3 {
			return &Relation{ID: 3}
		}
		return nil
	}
	defs := []flagDef{fRelation, fApp, boolF("all", "a"), stringF("log-level", "l")}
	p, err := parseFlags([]string{"-al", "DEBUG", "x", "-", "", "--app", "--relation", "c:3", "--", "-r"}, defs, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if !p.bools["all"] || p.strs["log-level"] != "DEBUG" || !p.bools["app"] || p.relation.ID != 3 || !slices.Equal(p.args, []string{"x", "-", "", "-r"}) {
		t.Fatalf("got %+v", p)
	}
	p, err = parseFlags([]string{"-lINFO", "--log-level=WARNING"}, defs, lookup)
	if err != nil || p.strs["log-level"] != "WARNING" {
		t.Fatalf("got %+v %v", p, err)
	}
	if _, err := parseFlags([]string{"-a=true"}, defs, lookup); err == nil || err.Error() != `invalid value "=true" for flag -a: strconv.ParseBool: parsing "=true": invalid syntax` {
		t.Fatalf("short bool with =: %v", err)
	}
}

// toolExit is the exit code of a failed tool, -1 for any other error or none.
func toolExit(err error) int {
	var te *juju.ToolError
	if !errors.As(err, &te) {
		return -1
	}
	return te.Code
}
