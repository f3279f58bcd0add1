// Package juju talks to the Juju unit agent: it reads the hook context from
// the environment and runs the hook tools (relation-get, status-set, ...)
// through an injectable Runner, always asking for JSON.
package juju

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Kind says whether the charm runs for a hook or an action.
type Kind int

// The kinds of dispatch.
const (
	Hook Kind = iota
	Action
)

// Context is the validated dispatch context read from the environment.
type Context struct {
	Kind Kind
	// Name is the hook name ("config-changed") or the action name.
	Name string
	// Unit is this unit ("tempo/0"); App is its application ("tempo").
	Unit, App string
	Model     string
	ModelUUID string
	CharmDir  string
	// JujuVersion is the agent's version, "" when not given.
	JujuVersion string

	// Relation is set for relation hooks.
	Relation *RelationContext
	// Workload is the container of a <container>-pebble-* hook.
	Workload string
	// CheckName is the Pebble check of a check-failed/recovered hook.
	CheckName string
	// Notice is set for <container>-pebble-custom-notice hooks.
	Notice *Notice
	// Secret is set for secret hooks.
	Secret *SecretContext
	// ActionUUID identifies the running action.
	ActionUUID string
}

// RelationContext describes the relation a relation hook fires for.
type RelationContext struct {
	Endpoint string
	ID       int
	// RemoteApp is always set; RemoteUnit is empty in -created and -broken.
	RemoteApp, RemoteUnit string
	// DepartingUnit is set in -departed.
	DepartingUnit string
}

// Ref is the relation's "endpoint:id" reference.
func (r RelationContext) Ref() string { return r.Endpoint + ":" + strconv.Itoa(r.ID) }

// Notice is a Pebble notice that triggered a custom-notice hook.
type Notice struct{ ID, Type, Key string }

// SecretContext is the secret a secret hook is about.
type SecretContext struct {
	ID, Label string
	Revision  int
}

var relationSuffixes = []string{"-relation-created", "-relation-joined", "-relation-changed", "-relation-departed", "-relation-broken"}

var workloadSuffixes = []string{"-pebble-ready", "-pebble-custom-notice", "-pebble-check-failed", "-pebble-check-recovered"}

// ContextFromEnv reads and validates the dispatch context. argv0 stands in
// for JUJU_DISPATCH_PATH when that is unset (a hooks/<name> link).
// A missing or malformed variable is an error: Juju broke its contract.
func ContextFromEnv(getenv func(string) string, argv0 string) (*Context, error) {
	dispatch := getenv("JUJU_DISPATCH_PATH")
	if dispatch == "" {
		dispatch = argv0
	}
	dir, name := path.Split(path.Clean(dispatch))
	dir = path.Base(strings.TrimSuffix(dir, "/"))
	c := &Context{
		Name:        name,
		Unit:        getenv("JUJU_UNIT_NAME"),
		Model:       getenv("JUJU_MODEL_NAME"),
		ModelUUID:   getenv("JUJU_MODEL_UUID"),
		CharmDir:    getenv("JUJU_CHARM_DIR"),
		JujuVersion: getenv("JUJU_VERSION"),
	}
	switch dir {
	case "hooks":
		c.Kind = Hook
	case "actions":
		c.Kind = Action
	default:
		return nil, fmt.Errorf("invalid JUJU_DISPATCH_PATH %q: want hooks/<name> or actions/<name>", dispatch)
	}
	if name == "" || name == "." {
		return nil, fmt.Errorf("invalid JUJU_DISPATCH_PATH %q: no hook or action name", dispatch)
	}
	app, ok := AppOfUnit(c.Unit)
	if !ok {
		return nil, fmt.Errorf("invalid JUJU_UNIT_NAME %q: want <application>/<number>", c.Unit)
	}
	c.App = app
	if c.Model == "" || c.ModelUUID == "" {
		return nil, fmt.Errorf("JUJU_MODEL_NAME and JUJU_MODEL_UUID must be set")
	}
	if c.Kind == Action {
		if an := getenv("JUJU_ACTION_NAME"); an != "" && an != name {
			return nil, fmt.Errorf("JUJU_ACTION_NAME %q does not match JUJU_DISPATCH_PATH %q", an, dispatch)
		}
		c.ActionUUID = getenv("JUJU_ACTION_UUID")
		return c, nil
	}
	if err := c.readHookVars(getenv); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Context) readHookVars(getenv func(string) string) error {
	if hn := getenv("JUJU_HOOK_NAME"); hn != "" && hn != c.Name {
		return fmt.Errorf("JUJU_HOOK_NAME %q does not match the dispatch path's hook %q", hn, c.Name)
	}
	for _, suffix := range relationSuffixes {
		if endpoint, ok := strings.CutSuffix(c.Name, suffix); ok && endpoint != "" {
			rel, err := readRelationVars(getenv, endpoint, suffix)
			if err != nil {
				return err
			}
			c.Relation = rel
			return nil
		}
	}
	for _, suffix := range workloadSuffixes {
		if container, ok := strings.CutSuffix(c.Name, suffix); ok && container != "" {
			c.Workload = getenv("JUJU_WORKLOAD_NAME")
			if c.Workload != container {
				return fmt.Errorf("JUJU_WORKLOAD_NAME %q does not match hook %q", c.Workload, c.Name)
			}
			switch suffix {
			case "-pebble-custom-notice":
				c.Notice = &Notice{ID: getenv("JUJU_NOTICE_ID"), Type: getenv("JUJU_NOTICE_TYPE"), Key: getenv("JUJU_NOTICE_KEY")}
				if c.Notice.ID == "" || c.Notice.Key == "" {
					return fmt.Errorf("JUJU_NOTICE_ID and JUJU_NOTICE_KEY must be set for %s", c.Name)
				}
			case "-pebble-check-failed", "-pebble-check-recovered":
				c.CheckName = getenv("JUJU_PEBBLE_CHECK_NAME")
				if c.CheckName == "" {
					return fmt.Errorf("JUJU_PEBBLE_CHECK_NAME must be set for %s", c.Name)
				}
			}
			return nil
		}
	}
	if strings.HasPrefix(c.Name, "secret-") {
		c.Secret = &SecretContext{ID: getenv("JUJU_SECRET_ID"), Label: getenv("JUJU_SECRET_LABEL")}
		if c.Secret.ID == "" {
			return fmt.Errorf("JUJU_SECRET_ID must be set for %s", c.Name)
		}
		if rev := getenv("JUJU_SECRET_REVISION"); rev != "" {
			n, err := strconv.Atoi(rev)
			if err != nil || n < 0 {
				return fmt.Errorf("invalid JUJU_SECRET_REVISION %q", rev)
			}
			c.Secret.Revision = n
		}
	}
	return nil
}

func readRelationVars(getenv func(string) string, endpoint, suffix string) (*RelationContext, error) {
	if got := getenv("JUJU_RELATION"); got != endpoint {
		return nil, fmt.Errorf("JUJU_RELATION %q does not match hook endpoint %q", got, endpoint)
	}
	rawID := getenv("JUJU_RELATION_ID")
	idEndpoint, idText, found := strings.Cut(rawID, ":")
	if !found {
		idText, idEndpoint = rawID, endpoint
	}
	id, err := strconv.Atoi(idText)
	if err != nil || id < 0 || idEndpoint != endpoint {
		return nil, fmt.Errorf("invalid JUJU_RELATION_ID %q: want %s:<number>", rawID, endpoint)
	}
	rel := &RelationContext{Endpoint: endpoint, ID: id, RemoteApp: getenv("JUJU_REMOTE_APP"), RemoteUnit: getenv("JUJU_REMOTE_UNIT")}
	if rel.RemoteApp == "" {
		return nil, fmt.Errorf("JUJU_REMOTE_APP must be set for %s%s", endpoint, suffix)
	}
	switch suffix {
	case "-relation-joined", "-relation-changed", "-relation-departed":
		// -changed may be for the remote app's databag alone (no remote unit).
		if rel.RemoteUnit == "" && suffix != "-relation-changed" {
			return nil, fmt.Errorf("JUJU_REMOTE_UNIT must be set for %s%s", endpoint, suffix)
		}
	}
	if rel.RemoteUnit != "" {
		if app, ok := AppOfUnit(rel.RemoteUnit); !ok || app != rel.RemoteApp {
			return nil, fmt.Errorf("invalid JUJU_REMOTE_UNIT %q for application %q", rel.RemoteUnit, rel.RemoteApp)
		}
	}
	if suffix == "-relation-departed" {
		rel.DepartingUnit = getenv("JUJU_DEPARTING_UNIT")
		if _, ok := AppOfUnit(rel.DepartingUnit); !ok {
			return nil, fmt.Errorf("invalid JUJU_DEPARTING_UNIT %q", rel.DepartingUnit)
		}
	}
	return rel, nil
}

// AppOfUnit returns the application of a unit name "app/N".
func AppOfUnit(unit string) (string, bool) {
	app, num, ok := strings.Cut(unit, "/")
	if !ok || app == "" {
		return "", false
	}
	if n, err := strconv.Atoi(num); err != nil || n < 0 || strconv.Itoa(n) != num {
		return "", false
	}
	return app, true
}
