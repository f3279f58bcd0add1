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

// Context is the dispatch context the charm uses, read from the
// environment. Only what the charm reads is checked: a variable it never
// uses (JUJU_VERSION, JUJU_NOTICE_*, JUJU_SECRET_*, JUJU_PEBBLE_CHECK_NAME,
// JUJU_DEPARTING_UNIT, ...) may be missing or odd without failing the hook,
// so that a Juju version difference cannot wedge a unit in error.
type Context struct {
	Kind Kind
	// Name is the hook name ("config-changed") or the action name.
	Name string
	// Unit is this unit ("tempo/0"); App is its application ("tempo").
	Unit, App string
	Model     string
	ModelUUID string
	CharmDir  string
	// Relation is set for relation hooks.
	Relation *RelationContext
}

// RelationContext describes the relation a relation hook fires for.
type RelationContext struct {
	Endpoint string
	ID       int
	// RemoteApp and RemoteUnit are as Juju gave them; RemoteUnit is empty
	// in -created and -broken, and in a -changed for the app databag.
	RemoteApp, RemoteUnit string
}

// Ref is the relation's "endpoint:id" reference.
func (r RelationContext) Ref() string { return r.Endpoint + ":" + strconv.Itoa(r.ID) }

var relationSuffixes = []string{"-relation-created", "-relation-joined", "-relation-changed", "-relation-departed", "-relation-broken"}

// ContextFromEnv reads the dispatch context. argv0 stands in for
// JUJU_DISPATCH_PATH when that is unset (a hooks/<name> link). A missing or
// malformed variable the charm needs (the dispatch path, the unit, the
// model, a relation hook's relation) is an error: Juju broke its contract.
func ContextFromEnv(getenv func(string) string, argv0 string) (*Context, error) {
	dispatch := getenv("JUJU_DISPATCH_PATH")
	if dispatch == "" {
		dispatch = argv0
	}
	dir, name := path.Split(path.Clean(dispatch))
	dir = path.Base(strings.TrimSuffix(dir, "/"))
	c := &Context{
		Name:      name,
		Unit:      getenv("JUJU_UNIT_NAME"),
		Model:     getenv("JUJU_MODEL_NAME"),
		ModelUUID: getenv("JUJU_MODEL_UUID"),
		CharmDir:  getenv("JUJU_CHARM_DIR"),
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
		return c, nil
	}
	for _, suffix := range relationSuffixes {
		if endpoint, ok := strings.CutSuffix(c.Name, suffix); ok && endpoint != "" {
			rel, err := readRelationVars(getenv, endpoint)
			if err != nil {
				return nil, err
			}
			c.Relation = rel
			break
		}
	}
	return c, nil
}

// readRelationVars reads the relation of a relation hook: the charm needs
// its id (a -broken relation no longer counts; the event's databags are
// read fresh).
func readRelationVars(getenv func(string) string, endpoint string) (*RelationContext, error) {
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
	return &RelationContext{Endpoint: endpoint, ID: id, RemoteApp: getenv("JUJU_REMOTE_APP"), RemoteUnit: getenv("JUJU_REMOTE_UNIT")}, nil
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
