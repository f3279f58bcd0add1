package juju_test

import (
	"maps"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/juju"
)

func base(dispatch string, extra map[string]string) map[string]string {
	env := map[string]string{
		"JUJU_DISPATCH_PATH": dispatch, "JUJU_UNIT_NAME": "tempo/0", "JUJU_MODEL_NAME": "m",
		"JUJU_MODEL_UUID": "u", "JUJU_CHARM_DIR": "/charm", "JUJU_VERSION": "3.6.8",
	}
	maps.Copy(env, extra)
	return env
}

func rel(hook string, extra map[string]string) map[string]string {
	env := base("hooks/"+hook, map[string]string{"JUJU_HOOK_NAME": hook, "JUJU_RELATION": "tempo-cluster",
		"JUJU_RELATION_ID": "tempo-cluster:3", "JUJU_REMOTE_APP": "worker", "JUJU_REMOTE_UNIT": "worker/1"})
	maps.Copy(env, extra)
	return env
}

func TestContextFromEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		argv0 string
		check func(*juju.Context) bool
	}{
		{"install", base("hooks/install", map[string]string{"JUJU_HOOK_NAME": "install"}), "", func(c *juju.Context) bool {
			return c.Kind == juju.Hook && c.Name == "install" && c.Unit == "tempo/0" && c.App == "tempo" && c.Model == "m" &&
				c.ModelUUID == "u" && c.CharmDir == "/charm" && c.Relation == nil
		}},
		{"argv0 fallback", base("", nil), "/charm/hooks/start", func(c *juju.Context) bool { return c.Name == "start" && c.Kind == juju.Hook }},
		{"joined", rel("tempo-cluster-relation-joined", nil), "", func(c *juju.Context) bool {
			r := c.Relation
			return r != nil && *r == juju.RelationContext{Endpoint: "tempo-cluster", ID: 3, RemoteApp: "worker", RemoteUnit: "worker/1"} && r.Ref() == "tempo-cluster:3"
		}},
		{"changed bare id", rel("tempo-cluster-relation-changed", map[string]string{"JUJU_RELATION_ID": "3"}), "", func(c *juju.Context) bool { return c.Relation.ID == 3 }},
		{"changed app only", rel("tempo-cluster-relation-changed", map[string]string{"JUJU_REMOTE_UNIT": ""}), "", func(c *juju.Context) bool {
			return c.Relation.RemoteUnit == "" && c.Relation.RemoteApp == "worker"
		}},
		{"departed", rel("tempo-cluster-relation-departed", map[string]string{"JUJU_DEPARTING_UNIT": "worker/1"}), "", func(c *juju.Context) bool {
			return c.Relation.RemoteUnit == "worker/1"
		}},
		{"broken", rel("tempo-cluster-relation-broken", map[string]string{"JUJU_REMOTE_UNIT": ""}), "", func(c *juju.Context) bool {
			return c.Relation.RemoteUnit == "" && c.Relation.ID == 3
		}},
		{"pebble-ready", base("hooks/nginx-pebble-ready", map[string]string{"JUJU_WORKLOAD_NAME": "nginx"}), "", func(c *juju.Context) bool { return c.Name == "nginx-pebble-ready" }},
		{"action", base("actions/list-receivers", map[string]string{"JUJU_HOOK_NAME": "", "JUJU_ACTION_NAME": "list-receivers", "JUJU_ACTION_UUID": "42"}), "", func(c *juju.Context) bool {
			return c.Kind == juju.Action && c.Name == "list-receivers"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := juju.ContextFromEnv(func(k string) string { return tt.env[k] }, tt.argv0)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("unexpected context %+v (relation %+v)", c, c.Relation)
			}
		})
	}
}

func TestContextFromEnvErrors(t *testing.T) {
	tests := map[string]map[string]string{
		"no dispatch path":         base("", nil),
		"bad dispatch dir":         base("bin/install", nil),
		"missing unit":             base("hooks/install", map[string]string{"JUJU_UNIT_NAME": ""}),
		"bad unit":                 base("hooks/install", map[string]string{"JUJU_UNIT_NAME": "tempo/x"}),
		"missing model":            base("hooks/install", map[string]string{"JUJU_MODEL_UUID": ""}),
		"bad relation id":          rel("tempo-cluster-relation-changed", map[string]string{"JUJU_RELATION_ID": "tempo-cluster:x"}),
		"negative relation id":     rel("tempo-cluster-relation-changed", map[string]string{"JUJU_RELATION_ID": "-1"}),
		"mismatched id endpoint":   rel("tempo-cluster-relation-changed", map[string]string{"JUJU_RELATION_ID": "s3:3"}),
		"mismatched JUJU_RELATION": rel("tempo-cluster-relation-changed", map[string]string{"JUJU_RELATION": "s3"}),
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			if c, err := juju.ContextFromEnv(func(k string) string { return env[k] }, ""); err == nil {
				t.Fatalf("no error; got %+v", c)
			}
		})
	}
}

// TestContextIgnoresWhatTheCharmDoesNotUse: variables the charm never
// reads may be missing or odd (another Juju version) without failing the
// hook.
func TestContextIgnoresWhatTheCharmDoesNotUse(t *testing.T) {
	tests := map[string]map[string]string{
		"no JUJU_VERSION":               base("hooks/install", map[string]string{"JUJU_VERSION": ""}),
		"hook name differs":             base("hooks/install", map[string]string{"JUJU_HOOK_NAME": "start"}),
		"action name differs":           base("actions/list-receivers", map[string]string{"JUJU_ACTION_NAME": "b"}),
		"no remote app":                 rel("tempo-cluster-relation-changed", map[string]string{"JUJU_REMOTE_APP": ""}),
		"joined without remote unit":    rel("tempo-cluster-relation-joined", map[string]string{"JUJU_REMOTE_UNIT": ""}),
		"departed without departing":    rel("tempo-cluster-relation-departed", nil),
		"workload name differs":         base("hooks/nginx-pebble-ready", map[string]string{"JUJU_WORKLOAD_NAME": "tempo"}),
		"notice without key":            base("hooks/nginx-pebble-custom-notice", map[string]string{"JUJU_WORKLOAD_NAME": "nginx", "JUJU_NOTICE_ID": "1"}),
		"check without name":            base("hooks/nginx-pebble-check-failed", map[string]string{"JUJU_WORKLOAD_NAME": "nginx"}),
		"secret without id":             base("hooks/secret-changed", nil),
		"secret with an odd revision":   base("hooks/secret-rotate", map[string]string{"JUJU_SECRET_ID": "secret:a", "JUJU_SECRET_REVISION": "x"}),
		"an unknown variable of Juju 4": base("hooks/update-status", map[string]string{"JUJU_SOMETHING_NEW": "?"}),
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := juju.ContextFromEnv(func(k string) string { return env[k] }, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}
