package juju

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Client runs hook tools with --format=json and caches reads for the
// duration of one hook: each databag, config and leadership is read once.
// Writes update the cache (Juju gives read-your-writes within a hook).
// A Client is not safe for concurrent use.
type Client struct {
	run Runner

	relationIDs map[string][]int
	units       map[string][]string
	remoteApps  map[string]string
	databags    map[databagKey]map[string]string
	config      map[string]any
	leader      *bool
	state       map[string]string
}

type databagKey struct {
	relation string
	entity   string
	app      bool
}

// NewClient returns a client that runs tools through r.
func NewClient(r Runner) *Client {
	return &Client{
		run:         r,
		relationIDs: map[string][]int{},
		units:       map[string][]string{},
		remoteApps:  map[string]string{},
		databags:    map[databagKey]map[string]string{},
	}
}

func (c *Client) runJSON(ctx context.Context, out any, tool string, args ...string) error {
	stdout, err := c.run.Run(ctx, tool, append(args, "--format=json"), nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		return fmt.Errorf("cannot parse %s output: %w", tool, err)
	}
	return nil
}

// RelationIDs lists the ids of the endpoint's relations, sorted.
func (c *Client) RelationIDs(ctx context.Context, endpoint string) ([]int, error) {
	if ids, ok := c.relationIDs[endpoint]; ok {
		return ids, nil
	}
	var refs []string
	if err := c.runJSON(ctx, &refs, "relation-ids", endpoint); err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(refs))
	for _, ref := range refs {
		id, err := strconv.Atoi(ref[strings.LastIndex(ref, ":")+1:])
		if err != nil {
			return nil, fmt.Errorf("cannot parse relation id %q from relation-ids", ref)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c.relationIDs[endpoint] = ids
	return ids, nil
}

// RelationList lists the remote units in scope of the relation, sorted.
func (c *Client) RelationList(ctx context.Context, rel string) ([]string, error) {
	if units, ok := c.units[rel]; ok {
		return units, nil
	}
	var units []string
	if err := c.runJSON(ctx, &units, "relation-list", "-r", rel); err != nil {
		return nil, err
	}
	slices.Sort(units)
	c.units[rel] = units
	return units, nil
}

// RelationApp returns the relation's remote application.
func (c *Client) RelationApp(ctx context.Context, rel string) (string, error) {
	if app, ok := c.remoteApps[rel]; ok {
		return app, nil
	}
	var app string
	if err := c.runJSON(ctx, &app, "relation-list", "-r", rel, "--app"); err != nil {
		return "", err
	}
	c.remoteApps[rel] = app
	return app, nil
}

// RelationGet reads a whole databag: a unit's, or an application's when app is true.
func (c *Client) RelationGet(ctx context.Context, rel, entity string, app bool) (map[string]string, error) {
	key := databagKey{rel, entity, app}
	if data, ok := c.databags[key]; ok {
		return data, nil
	}
	args := []string{"-r", rel}
	if app {
		args = append(args, "--app")
	}
	var data map[string]string
	if err := c.runJSON(ctx, &data, "relation-get", append(args, "-", entity)...); err != nil {
		return nil, err
	}
	if data == nil {
		data = map[string]string{}
	}
	c.databags[key] = data
	return data, nil
}

// RelationSet writes keys to this unit's databag, or to the application's
// when app is true (leader only). An empty value deletes the key. The data
// goes through stdin, never argv.
func (c *Client) RelationSet(ctx context.Context, rel string, app bool, data map[string]string) error {
	payload, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("cannot encode relation data: %w", err)
	}
	args := []string{"-r", rel}
	if app {
		args = append(args, "--app")
	}
	if _, err := c.run.Run(ctx, "relation-set", append(args, "--file", "-"), payload); err != nil {
		return err
	}
	for key, cached := range c.databags {
		if key.relation == rel && key.app == app {
			for k, v := range data {
				if v == "" {
					delete(cached, k)
				} else {
					cached[k] = v
				}
			}
		}
	}
	return nil
}

// ConfigGet returns the charm's config (options that are set or have a default).
func (c *Client) ConfigGet(ctx context.Context) (map[string]any, error) {
	if c.config != nil {
		return c.config, nil
	}
	var config map[string]any
	if err := c.runJSON(ctx, &config, "config-get"); err != nil {
		return nil, err
	}
	if config == nil {
		config = map[string]any{}
	}
	c.config = config
	return config, nil
}

// IsLeader reports whether this unit is the leader.
func (c *Client) IsLeader(ctx context.Context) (bool, error) {
	if c.leader != nil {
		return *c.leader, nil
	}
	var leader bool
	if err := c.runJSON(ctx, &leader, "is-leader"); err != nil {
		return false, err
	}
	c.leader = &leader
	return leader, nil
}

// StatusSet sets the unit's status, or the application's when app is true.
func (c *Client) StatusSet(ctx context.Context, status, message string, app bool) error {
	_, err := c.run.Run(ctx, "status-set", []string{"--application=" + strconv.FormatBool(app), status, "--", message}, nil)
	return err
}

// Port is an opened port: a number and a protocol ("tcp", "udp").
type Port struct {
	Number   int
	Protocol string
}

// String formats the port as open-port takes it ("4317/tcp").
func (p Port) String() string { return strconv.Itoa(p.Number) + "/" + p.Protocol }

// OpenPort opens a port on the unit.
func (c *Client) OpenPort(ctx context.Context, p Port) error {
	_, err := c.run.Run(ctx, "open-port", []string{p.String()}, nil)
	return err
}

// ClosePort closes a port on the unit.
func (c *Client) ClosePort(ctx context.Context, p Port) error {
	_, err := c.run.Run(ctx, "close-port", []string{p.String()}, nil)
	return err
}

// OpenedPorts lists the unit's opened ports (single ports only; ranges and
// icmp are returned with Number 0 and the raw text as Protocol).
func (c *Client) OpenedPorts(ctx context.Context) ([]Port, error) {
	var raw []string
	if err := c.runJSON(ctx, &raw, "opened-ports"); err != nil {
		return nil, err
	}
	ports := make([]Port, 0, len(raw))
	for _, r := range raw {
		num, proto, _ := strings.Cut(r, "/")
		n, err := strconv.Atoi(num)
		if err != nil {
			ports = append(ports, Port{Protocol: r})
			continue
		}
		ports = append(ports, Port{Number: n, Protocol: proto})
	}
	return ports, nil
}

// ActionSet records action results; keys may be dotted to nest.
func (c *Client) ActionSet(ctx context.Context, results map[string]string) error {
	args := make([]string, 0, len(results))
	for _, k := range slices.Sorted(maps.Keys(results)) {
		args = append(args, k+"="+results[k])
	}
	_, err := c.run.Run(ctx, "action-set", args, nil)
	return err
}

// ActionFail marks the running action as failed with a message.
func (c *Client) ActionFail(ctx context.Context, message string) error {
	_, err := c.run.Run(ctx, "action-fail", []string{message}, nil)
	return err
}

// SecretGetOptions selects a secret and how to read it.
type SecretGetOptions struct {
	URI, Label    string
	Peek, Refresh bool
}

// SecretGet reads a secret's content.
func (c *Client) SecretGet(ctx context.Context, o SecretGetOptions) (map[string]string, error) {
	var args []string
	if o.URI != "" {
		args = append(args, o.URI)
	}
	if o.Label != "" {
		args = append(args, "--label", o.Label)
	}
	if o.Peek {
		args = append(args, "--peek")
	}
	if o.Refresh {
		args = append(args, "--refresh")
	}
	var content map[string]string
	err := c.runJSON(ctx, &content, "secret-get", args...)
	return content, err
}

// SecretOptions are the content and metadata of secret-add and secret-set.
type SecretOptions struct {
	Label, Description string
	// Owner is "application" (default, leader only) or "unit".
	Owner   string
	Content map[string]string
	// Expire is when the secret's revision expires (Juju then runs
	// secret-expired for its owner); zero: never.
	Expire time.Time
}

// SecretAdd creates a secret and returns its URI. The content goes through
// a private temporary file, never argv.
func (c *Client) SecretAdd(ctx context.Context, o SecretOptions) (string, error) {
	args, cleanup, err := secretArgs(o)
	if err != nil {
		return "", err
	}
	defer cleanup()
	stdout, err := c.run.Run(ctx, "secret-add", args, nil)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(stdout)), nil
}

// SecretSet updates a secret's content or metadata.
func (c *Client) SecretSet(ctx context.Context, uri string, o SecretOptions) error {
	args, cleanup, err := secretArgs(o)
	if err != nil {
		return err
	}
	defer cleanup()
	_, err = c.run.Run(ctx, "secret-set", append([]string{uri}, args...), nil)
	return err
}

func secretArgs(o SecretOptions) ([]string, func(), error) {
	var args []string
	if o.Label != "" {
		args = append(args, "--label", o.Label)
	}
	if o.Description != "" {
		args = append(args, "--description", o.Description)
	}
	if o.Owner != "" {
		args = append(args, "--owner", o.Owner)
	}
	if !o.Expire.IsZero() {
		args = append(args, "--expire", o.Expire.UTC().Format(time.RFC3339))
	}
	if len(o.Content) == 0 {
		return args, func() {}, nil
	}
	f, err := os.CreateTemp("", "secret-*.json")
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create secret content file: %w", err)
	}
	cleanup := func() { os.Remove(f.Name()) }
	payload, _ := json.Marshal(o.Content)
	if _, err := f.Write(payload); err != nil {
		f.Close()
		cleanup()
		return nil, nil, fmt.Errorf("cannot write secret content file: %w", err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("cannot write secret content file: %w", err)
	}
	return append(args, "--file", f.Name()), cleanup, nil
}

// SecretRemove removes a secret this unit or application owns, with all
// its revisions.
func (c *Client) SecretRemove(ctx context.Context, uri string) error {
	_, err := c.run.Run(ctx, "secret-remove", []string{uri}, nil)
	return err
}

// SecretGrant gives the relation's remote application (or one unit) read access.
func (c *Client) SecretGrant(ctx context.Context, uri, rel, unit string) error {
	args := []string{uri, "-r", rel}
	if unit != "" {
		args = append(args, "--unit", unit)
	}
	_, err := c.run.Run(ctx, "secret-grant", args, nil)
	return err
}

// SecretRevoke withdraws the access granted to the relation's remote
// application (and its units).
func (c *Client) SecretRevoke(ctx context.Context, uri, rel string) error {
	_, err := c.run.Run(ctx, "secret-revoke", []string{uri, "-r", rel}, nil)
	return err
}

// SecretInfo is secret-info-get's metadata for one secret.
type SecretInfo struct {
	ID          string `json:"-"`
	Revision    int    `json:"revision"`
	Label       string `json:"label"`
	Owner       string `json:"owner"`
	Description string `json:"description"`
	Rotation    string `json:"rotation"`
	Expiry      string `json:"expiry"`
}

// SecretInfoGet reads a secret's metadata by URI or label.
func (c *Client) SecretInfoGet(ctx context.Context, uri, label string) (SecretInfo, error) {
	args := []string{}
	if uri != "" {
		args = append(args, uri)
	} else {
		args = append(args, "--label", label)
	}
	var out map[string]SecretInfo
	if err := c.runJSON(ctx, &out, "secret-info-get", args...); err != nil {
		return SecretInfo{}, err
	}
	for id, info := range out {
		info.ID = id
		return info, nil
	}
	return SecretInfo{}, fmt.Errorf("cannot read secret info: secret-info-get returned nothing")
}

// StateGet returns the unit's controller-side state (all keys).
func (c *Client) StateGet(ctx context.Context) (map[string]string, error) {
	if c.state != nil {
		return c.state, nil
	}
	var state map[string]string
	if err := c.runJSON(ctx, &state, "state-get"); err != nil {
		return nil, err
	}
	if state == nil {
		state = map[string]string{}
	}
	c.state = state
	return state, nil
}

// StateSet stores keys in the unit's controller-side state, through stdin.
func (c *Client) StateSet(ctx context.Context, values map[string]string) error {
	payload, err := json.Marshal(values)
	if err != nil {
		return fmt.Errorf("cannot encode state: %w", err)
	}
	if _, err := c.run.Run(ctx, "state-set", []string{"--file", "-"}, payload); err != nil {
		return err
	}
	if c.state != nil {
		maps.Copy(c.state, values)
	}
	return nil
}

// StateDelete removes a key from the unit's state.
func (c *Client) StateDelete(ctx context.Context, key string) error {
	if _, err := c.run.Run(ctx, "state-delete", []string{key}, nil); err != nil {
		return err
	}
	if c.state != nil {
		delete(c.state, key)
	}
	return nil
}

// GoalState is goal-state's view of the units and relations Juju intends.
type GoalState struct {
	Units     map[string]GoalStatus            `json:"units"`
	Relations map[string]map[string]GoalStatus `json:"relations"`
}

// GoalStatus is one entry of the goal state.
type GoalStatus struct {
	Status string `json:"status"`
	Since  string `json:"since"`
}

// GoalState reads the goal state: which endpoints have relations.
func (c *Client) GoalState(ctx context.Context) (GoalState, error) {
	var g GoalState
	err := c.runJSON(ctx, &g, "goal-state")
	return g, err
}
