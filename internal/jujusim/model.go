// Package jujusim simulates one unit's view of a Juju model: the hook tools
// (relation-get, status-set, secret-add, ...) with Juju's flag grammar,
// output shapes, error texts and exit codes, and Juju's transactional rule
// (relation, state, port and secret writes are kept only when the hook exits 0).
//
// It can be used in-process, through a juju.Runner (Model.Begin, RunInProcess),
// or black-box through a multi-call executable (cmd/jujusim) driven by a
// Harness that runs the built charm binary exactly as Juju does.
package jujusim

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/juju"
)

// Model is a JSON-serialisable model of one unit's view of a Juju model.
type Model struct {
	Name        string `json:"name"`
	UUID        string `json:"uuid"`
	Unit        string `json:"unit"`
	Leader      bool   `json:"leader"`
	JujuVersion string `json:"juju-version"`

	// Config is what config-get returns (the test supplies defaults).
	Config    map[string]any    `json:"config"`
	Relations []*Relation       `json:"relations"`
	State     map[string]string `json:"state"`
	Secrets   []*Secret         `json:"secrets"`
	// OpenedPorts are normalised port specs: "80/tcp", "8000-8100/udp", "icmp".
	OpenedPorts []string `json:"opened-ports"`

	UnitStatus Status `json:"unit-status"`
	AppStatus  Status `json:"app-status"`
	// StatusHistory records every successful status-set, in order.
	StatusHistory   []StatusChange `json:"status-history"`
	WorkloadVersion string         `json:"workload-version"`

	// Action is the running (or last run) action; nil in hooks.
	Action *ActionRun `json:"action,omitempty"`
	// Logs are juju-log messages, in order.
	Logs []LogEntry `json:"logs"`
	// Calls records every hook tool call, in order.
	Calls []Call `json:"calls"`
	// Networks are network-get's answers by binding name.
	Networks map[string]Network `json:"networks"`
	// GoalSince is the "since" time goal-state reports.
	GoalSince string `json:"goal-since"`

	// Hook is the context of the running hook; nil between hooks.
	Hook *HookContext `json:"hook,omitempty"`
	// Pending are the transactional writes of the running hook.
	Pending []Op `json:"pending,omitempty"`

	// Faults make hook tools misbehave (fault-injection tests).
	Faults []Fault `json:"faults,omitempty"`

	// NextRelationID and NextSecretID allocate ids.
	NextRelationID int `json:"next-relation-id"`
	NextSecretID   int `json:"next-secret-id"`
}

// Relation is one relation of the unit with its databags.
type Relation struct {
	ID        int    `json:"id"`
	Endpoint  string `json:"endpoint"`
	RemoteApp string `json:"remote-app"`
	// RemoteAppData is the remote application's databag (unused for peer
	// relations, whose single application databag is LocalAppData).
	RemoteAppData map[string]string `json:"remote-app-data"`
	// RemoteUnits are the remote units in scope with their databags.
	RemoteUnits map[string]map[string]string `json:"remote-units"`
	// Departed keeps the databags of units removed with RemoveUnit, still
	// readable by relation-get (as in a -departed hook).
	Departed      map[string]map[string]string `json:"departed,omitempty"`
	LocalAppData  map[string]string            `json:"local-app-data"`
	LocalUnitData map[string]string            `json:"local-unit-data"`
	// Broken is set while the relation's -broken hook runs: it is then
	// absent from relation-ids and has no units.
	Broken bool `json:"broken,omitempty"`
}

// Ref is the relation's "endpoint:id" reference.
func (r *Relation) Ref() string { return fmt.Sprintf("%s:%d", r.Endpoint, r.ID) }

// AddUnit puts a remote unit in scope with its databag.
func (r *Relation) AddUnit(unit string, data map[string]string) {
	if r.RemoteUnits == nil {
		r.RemoteUnits = map[string]map[string]string{}
	}
	if data == nil {
		data = map[string]string{}
	}
	r.RemoteUnits[unit] = data
	delete(r.Departed, unit)
}

// RemoveUnit takes a remote unit out of scope; its databag stays readable.
func (r *Relation) RemoveUnit(unit string) {
	data, ok := r.RemoteUnits[unit]
	if !ok {
		return
	}
	delete(r.RemoteUnits, unit)
	if r.Departed == nil {
		r.Departed = map[string]map[string]string{}
	}
	r.Departed[unit] = data
}

// Units lists the remote units in scope, sorted.
func (r *Relation) Units() []string {
	if r.Broken {
		return []string{}
	}
	return append([]string{}, slices.Sorted(maps.Keys(r.RemoteUnits))...)
}

// Status is a workload status.
type Status struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// StatusChange is one status-set call.
type StatusChange struct {
	Application bool   `json:"application"`
	Status      string `json:"status"`
	Message     string `json:"message"`
	// Hook is the hook or action that set it.
	Hook string `json:"hook"`
}

// ActionRun is an action's parameters and outcome.
type ActionRun struct {
	Name    string         `json:"name"`
	UUID    string         `json:"uuid"`
	Params  map[string]any `json:"params"`
	Results map[string]any `json:"results"`
	Failed  bool           `json:"failed"`
	Message string         `json:"message"`
	// Logs are the action-log messages, in order.
	Logs []string `json:"logs"`
}

// LogEntry is one juju-log message.
type LogEntry struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Hook    string `json:"hook"`
}

// Call is one hook tool invocation.
type Call struct {
	Tool string   `json:"tool"`
	Args []string `json:"args"`
	// StdinLen is the number of stdin bytes the tool consumed.
	StdinLen int `json:"stdin-len"`
	// Code is the tool's exit code.
	Code     int           `json:"code"`
	Duration time.Duration `json:"duration"`
	Hook     string        `json:"hook"`
}

// Secret is a secret owned by this application or unit, or shared with it.
type Secret struct {
	// ID is the bare secret id; the URI is "secret:" + ID.
	ID    string `json:"id"`
	Label string `json:"label"`
	// Owner is "application", "unit", or "" for a secret another
	// application shared with us (not listed by secret-ids, not settable).
	Owner       string            `json:"owner"`
	Description string            `json:"description"`
	Rotate      string            `json:"rotate"`
	Expire      string            `json:"expire"`
	Revision    int               `json:"revision"`
	Content     map[string]string `json:"content"`
	Grants      []SecretGrant     `json:"grants"`
}

// URI is the secret's URI as secret-add prints it.
func (s *Secret) URI() string { return "secret:" + s.ID }

// SecretGrant is one secret-grant.
type SecretGrant struct {
	Relation int    `json:"relation"`
	Unit     string `json:"unit,omitempty"`
}

// NewModel returns an empty model for the unit ("tempo/0"), not leader.
func NewModel(unit string) *Model {
	return &Model{
		Name:        "test-model",
		UUID:        "9f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8",
		Unit:        unit,
		JujuVersion: "3.6.8",
		Config:      map[string]any{},
		State:       map[string]string{},
		Networks:    map[string]Network{},
		GoalSince:   "2026-01-01 00:00:00Z",
	}
}

// App is the unit's application.
func (m *Model) App() string {
	app, _ := juju.AppOfUnit(m.Unit)
	return app
}

// AddRelation adds a relation with the next free id. For a peer relation
// (remoteApp is the unit's own application) appData is the shared
// application databag, LocalAppData.
func (m *Model) AddRelation(endpoint, remoteApp string, appData map[string]string, units map[string]map[string]string) *Relation {
	for _, r := range m.Relations {
		if r.ID >= m.NextRelationID {
			m.NextRelationID = r.ID + 1
		}
	}
	if appData == nil {
		appData = map[string]string{}
	}
	r := &Relation{
		ID: m.NextRelationID, Endpoint: endpoint, RemoteApp: remoteApp,
		RemoteAppData: map[string]string{}, RemoteUnits: map[string]map[string]string{},
		LocalAppData: map[string]string{}, LocalUnitData: map[string]string{},
	}
	if remoteApp == m.App() {
		r.LocalAppData = appData
	} else {
		r.RemoteAppData = appData
	}
	for u, d := range units {
		r.AddUnit(u, d)
	}
	m.NextRelationID++
	m.Relations = append(m.Relations, r)
	return r
}

// Relation returns the relation with the id, or nil.
func (m *Model) Relation(id int) *Relation {
	for _, r := range m.Relations {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// RelationsOf returns the endpoint's relations, by id.
func (m *Model) RelationsOf(endpoint string) []*Relation {
	var out []*Relation
	for _, r := range m.Relations {
		if r.Endpoint == endpoint {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *Relation) int { return a.ID - b.ID })
	return out
}

// RemoveRelation deletes the relation with the id.
func (m *Model) RemoveRelation(id int) {
	m.Relations = slices.DeleteFunc(m.Relations, func(r *Relation) bool { return r.ID == id })
}

// AddSecret adds a secret (owner "application", "unit", or "" for one
// shared with us) at revision 1 and returns it.
func (m *Model) AddSecret(owner, label string, content map[string]string) *Secret {
	s := &Secret{ID: m.newSecretID(), Owner: owner, Label: label, Revision: 1, Content: content}
	m.Secrets = append(m.Secrets, s)
	return s
}

func (m *Model) newSecretID() string {
	m.NextSecretID++
	// 20 characters of the base32hex alphabet, like Juju's xid-based ids.
	return fmt.Sprintf("d%019x", m.NextSecretID)
}

// Secret finds a secret by URI ("secret:<id>", "secret://<model>/<id>" or
// the bare id), or nil.
func (m *Model) Secret(uri string) *Secret {
	id := secretID(uri)
	for _, s := range m.Secrets {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func secretID(uri string) string {
	id := strings.TrimPrefix(uri, "secret:")
	if rest, ok := strings.CutPrefix(id, "//"); ok {
		id = rest[strings.LastIndex(rest, "/")+1:]
	}
	return id
}

// StatusesSet returns the statuses set for the unit (or the application),
// in order, as "status: message".
func (m *Model) StatusesSet(app bool) []string {
	var out []string
	for _, s := range m.StatusHistory {
		if s.Application == app {
			out = append(out, s.Status+": "+s.Message)
		}
	}
	return out
}

// Network is network-get's answer for a binding.
type Network struct {
	BindAddresses []struct {
		MACAddress    string `json:"mac-address"`
		InterfaceName string `json:"interface-name"`
		Addresses     []struct {
			Hostname string `json:"hostname"`
			Value    string `json:"value"`
			CIDR     string `json:"cidr"`
		} `json:"addresses"`
	} `json:"bind-addresses"`
	EgressSubnets    []string `json:"egress-subnets"`
	IngressAddresses []string `json:"ingress-addresses"`
}

// DefaultNetwork is a network-get answer for a pod with one address.
func DefaultNetwork(ip string) Network {
	var n Network
	raw := fmt.Sprintf(`{"bind-addresses":[{"mac-address":"","interface-name":"eth0","addresses":[{"hostname":"","value":%q,"cidr":"%s/32"}]}],"egress-subnets":["%s/32"],"ingress-addresses":[%q]}`, ip, ip, ip, ip)
	if err := json.Unmarshal([]byte(raw), &n); err != nil {
		panic(err)
	}
	return n
}

// Save writes the model to a file, atomically.
func (m *Model) Save(path string) error {
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return fmt.Errorf("cannot encode model: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".model-*.json")
	if err != nil {
		return fmt.Errorf("cannot save model: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot save model: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot save model: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot save model: %w", err)
	}
	return nil
}

// Load reads a model saved by Save.
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load model: %w", err)
	}
	var m Model
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("cannot decode model %s: %w", path, err)
	}
	return &m, nil
}
