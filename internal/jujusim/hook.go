package jujusim

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"

	"github.com/tempo-coordinator/coordinator/internal/juju"
)

// Kind says whether a dispatch is a hook or an action.
type Kind string

// The kinds of dispatch.
const (
	KindHook   Kind = "hook"
	KindAction Kind = "action"
)

// HookContext is the server-side context of the running hook, which the
// tools use for their defaults (-r, the relation-get unit, log prefixes).
type HookContext struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
	// ContextID is JUJU_CONTEXT_ID; the tools executable checks it.
	ContextID  string `json:"context-id"`
	InRelation bool   `json:"in-relation"`
	RelationID int    `json:"relation-id"`
	RemoteApp  string `json:"remote-app,omitempty"`
	RemoteUnit string `json:"remote-unit,omitempty"`
}

// HookOptions describe the event beyond its name.
type HookOptions struct {
	// Relation is the relation of a <endpoint>-relation-* hook (by ID).
	Relation *Relation
	// RemoteUnit is JUJU_REMOTE_UNIT (joined, changed, departed).
	RemoteUnit string
	// DepartingUnit is JUJU_DEPARTING_UNIT; defaults to RemoteUnit.
	DepartingUnit string
	// NoticeID, NoticeType and NoticeKey describe a custom notice.
	NoticeID, NoticeType, NoticeKey string
	// CheckName is the Pebble check of a check-failed/-recovered hook.
	CheckName string
	// SecretID, SecretLabel and SecretRevision describe a secret hook.
	SecretID, SecretLabel string
	SecretRevision        int
	// Action makes the dispatch an action (RunAction sets it).
	Action bool
	// Params and ActionUUID describe an action.
	Params     map[string]any
	ActionUUID string
	// CharmDir is JUJU_CHARM_DIR (default "/var/lib/juju/agents/unit-<u>/charm").
	CharmDir string
	// Env adds or overrides environment variables.
	Env map[string]string
}

var relationHookSuffixes = []string{"-relation-created", "-relation-joined", "-relation-changed", "-relation-departed", "-relation-broken"}

var workloadHookSuffixes = []string{"-pebble-ready", "-pebble-custom-notice", "-pebble-check-failed", "-pebble-check-recovered"}

var contextCounter struct {
	sync.Mutex
	n int
}

// HookEnv returns the environment Juju gives the charm for the hook (or
// action, with opts.Action), validating the event against the model.
// PATH is not included.
func HookEnv(m *Model, name string, opts HookOptions) (map[string]string, error) {
	contextCounter.Lock()
	contextCounter.n++
	n := contextCounter.n
	contextCounter.Unlock()
	unitTag := strings.ReplaceAll(m.Unit, "/", "-")
	charmDir := opts.CharmDir
	if charmDir == "" {
		charmDir = "/var/lib/juju/agents/unit-" + unitTag + "/charm"
	}
	env := map[string]string{
		"JUJU_UNIT_NAME":            m.Unit,
		"JUJU_MODEL_NAME":           m.Name,
		"JUJU_MODEL_UUID":           m.UUID,
		"JUJU_CHARM_DIR":            charmDir,
		"CHARM_DIR":                 charmDir,
		"JUJU_VERSION":              m.JujuVersion,
		"JUJU_CONTEXT_ID":           fmt.Sprintf("%s-%s-%d", m.Unit, name, n),
		"JUJU_AGENT_SOCKET_ADDRESS": "@/var/lib/juju/agents/unit-" + unitTag + "/agent.socket",
		"JUJU_AGENT_SOCKET_NETWORK": "unix",
		"JUJU_PRINCIPAL_UNIT":       "",
		"LANG":                      "C.UTF-8",
	}
	if opts.Action {
		uuid := opts.ActionUUID
		if uuid == "" {
			uuid = strconv.Itoa(n)
		}
		env["JUJU_DISPATCH_PATH"] = "actions/" + name
		env["JUJU_HOOK_NAME"] = ""
		env["JUJU_ACTION_NAME"] = name
		env["JUJU_ACTION_UUID"] = uuid
		env["JUJU_ACTION_TAG"] = "action-" + uuid
		maps.Copy(env, opts.Env)
		return env, nil
	}
	env["JUJU_DISPATCH_PATH"] = "hooks/" + name
	env["JUJU_HOOK_NAME"] = name
	for _, suffix := range relationHookSuffixes {
		endpoint, ok := strings.CutSuffix(name, suffix)
		if !ok || endpoint == "" {
			continue
		}
		if opts.Relation == nil {
			return nil, fmt.Errorf("cannot build environment for %s: no relation given", name)
		}
		r := m.Relation(opts.Relation.ID)
		if r == nil {
			return nil, fmt.Errorf("cannot build environment for %s: relation %d not in the model", name, opts.Relation.ID)
		}
		if r.Endpoint != endpoint {
			return nil, fmt.Errorf("cannot build environment for %s: relation %s is not on endpoint %q", name, r.Ref(), endpoint)
		}
		env["JUJU_RELATION"] = endpoint
		env["JUJU_RELATION_ID"] = r.Ref()
		env["JUJU_REMOTE_APP"] = r.RemoteApp
		env["JUJU_REMOTE_UNIT"] = opts.RemoteUnit
		switch suffix {
		case "-relation-joined", "-relation-departed":
			if opts.RemoteUnit == "" {
				return nil, fmt.Errorf("cannot build environment for %s: no remote unit given", name)
			}
		case "-relation-created", "-relation-broken":
			env["JUJU_REMOTE_UNIT"] = ""
		}
		if suffix == "-relation-departed" {
			departing := opts.DepartingUnit
			if departing == "" {
				departing = opts.RemoteUnit
			}
			env["JUJU_DEPARTING_UNIT"] = departing
		}
	}
	for _, suffix := range workloadHookSuffixes {
		container, ok := strings.CutSuffix(name, suffix)
		if !ok || container == "" {
			continue
		}
		env["JUJU_WORKLOAD_NAME"] = container
		switch suffix {
		case "-pebble-custom-notice":
			env["JUJU_NOTICE_ID"] = opts.NoticeID
			env["JUJU_NOTICE_TYPE"] = opts.NoticeType
			env["JUJU_NOTICE_KEY"] = opts.NoticeKey
			if env["JUJU_NOTICE_TYPE"] == "" {
				env["JUJU_NOTICE_TYPE"] = "custom"
			}
		case "-pebble-check-failed", "-pebble-check-recovered":
			env["JUJU_PEBBLE_CHECK_NAME"] = opts.CheckName
		}
	}
	if strings.HasPrefix(name, "secret-") {
		env["JUJU_SECRET_ID"] = opts.SecretID
		env["JUJU_SECRET_LABEL"] = opts.SecretLabel
		if opts.SecretRevision > 0 {
			env["JUJU_SECRET_REVISION"] = strconv.Itoa(opts.SecretRevision)
		}
	}
	maps.Copy(env, opts.Env)
	return env, nil
}

// begin records the hook context in the model, from the environment.
func (m *Model) begin(name string, opts HookOptions, env map[string]string) {
	h := &HookContext{Kind: KindHook, Name: name, ContextID: env["JUJU_CONTEXT_ID"]}
	if opts.Action {
		h.Kind = KindAction
		m.Action = &ActionRun{Name: name, UUID: env["JUJU_ACTION_UUID"], Params: opts.Params}
	} else {
		m.Action = nil
	}
	if ref := env["JUJU_RELATION_ID"]; ref != "" {
		id, _ := strconv.Atoi(ref[strings.LastIndex(ref, ":")+1:])
		h.InRelation, h.RelationID = true, id
		h.RemoteApp, h.RemoteUnit = env["JUJU_REMOTE_APP"], env["JUJU_REMOTE_UNIT"]
		if strings.HasSuffix(name, "-relation-broken") {
			if r := m.Relation(id); r != nil {
				r.Broken = true
			}
		}
	}
	m.Hook = h
	m.Pending = nil
}

// end finishes the hook: pending writes are committed iff ok; a failed
// action is marked failed with Juju's message; a relation whose -broken
// hook succeeded is removed.
func (m *Model) end(ok bool, exitCode int) {
	m.commit(ok)
	if h := m.Hook; h != nil {
		if h.Kind == KindAction && !ok && m.Action != nil && !m.Action.Failed {
			m.Action.Failed = true
			m.Action.Message = fmt.Sprintf("exit status %d", exitCode)
		}
		if h.InRelation && strings.HasSuffix(h.Name, "-relation-broken") {
			if ok {
				m.RemoveRelation(h.RelationID)
			} else if r := m.Relation(h.RelationID); r != nil {
				r.Broken = false
			}
		}
	}
	m.Hook = nil
}

// Hook is a hook (or action) running in-process; it is the juju.Runner the
// charm code uses. It is safe for concurrent use.
type Hook struct {
	m     *Model
	env   map[string]string
	mu    sync.Mutex
	start int
	done  bool
}

var _ juju.Runner = (*Hook)(nil)

// Begin starts a hook on the model (opts.Action for an action). Tool calls
// through the returned Hook read and write the model; End finishes it.
func (m *Model) Begin(name string, opts HookOptions) (*Hook, error) {
	env, err := HookEnv(m, name, opts)
	if err != nil {
		return nil, err
	}
	m.begin(name, opts, env)
	return &Hook{m: m, env: env, start: len(m.Calls)}, nil
}

// End finishes the hook: the pending writes are kept iff ok (the hook
// process exited 0); status, logs and action results are kept either way.
func (m *Model) End(h *Hook, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	h.done = true
	code := 0
	if !ok {
		code = 1
	}
	m.end(ok, code)
}

// Env is the hook's environment (as HookEnv builds it).
func (h *Hook) Env() map[string]string { return maps.Clone(h.env) }

// Getenv looks up the hook's environment, for juju.ContextFromEnv.
func (h *Hook) Getenv(key string) string { return h.env[key] }

// Calls are the tool calls made during this hook so far.
func (h *Hook) Calls() []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Call(nil), h.m.Calls[h.start:]...)
}

// Run runs a hook tool in-process. A nil stdin means none was supplied.
func (h *Hook) Run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cannot run %s: %w", tool, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return nil, fmt.Errorf("cannot run %s: hook %s has ended", tool, h.m.Name)
	}
	if out, errOut, code, ok := h.m.injected(ctx, tool, args); ok {
		if code != 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("cannot run %s: %w", tool, err)
			}
			return nil, &juju.ToolError{Tool: tool, Args: args, Code: code, Stderr: string(errOut)}
		}
		return out, nil
	}
	var in *bytes.Reader
	if stdin != nil {
		in = bytes.NewReader(stdin)
	}
	var stdout, stderr []byte
	var code int
	if in == nil {
		stdout, stderr, code = h.m.Exec(tool, args, nil)
	} else {
		stdout, stderr, code = h.m.Exec(tool, args, in)
	}
	if code != 0 {
		return nil, &juju.ToolError{Tool: tool, Args: args, Code: code, Stderr: string(stderr)}
	}
	return stdout, nil
}

// RunInProcess runs fn as the named hook (or action, with opts.Action):
// fn gets a juju.Runner over the model and the hook's environment. The
// hook's transactional writes are kept iff fn returns nil; fn's error is
// returned.
func RunInProcess(ctx context.Context, m *Model, name string, opts HookOptions, fn func(ctx context.Context, r juju.Runner, env map[string]string) error) error {
	h, err := m.Begin(name, opts)
	if err != nil {
		return err
	}
	err = fn(ctx, h, h.Env())
	m.End(h, err == nil)
	return err
}
