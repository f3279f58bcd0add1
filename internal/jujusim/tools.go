package jujusim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/juju"
)

// ToolNames lists the hook tools the simulator implements.
func ToolNames() []string { return slices.Sorted(maps.Keys(tools)) }

// exitError is a tool failure: Juju prints "ERROR <msg>" and exits with code.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usagef is an Init or flag error: exit 2.
func usagef(format string, a ...any) error {
	return &exitError{2, fmt.Sprintf(format, a...)}
}

// failf is a Run error: exit 1.
func failf(format string, a ...any) error {
	return &exitError{1, fmt.Sprintf(format, a...)}
}

func unrecognized(args []string) error { return usagef("unrecognized args: %q", args) }

// toolCtx is one tool invocation.
type toolCtx struct {
	m *Model // committed model: immediate writes and pending ops go here
	v *Model // the hook's view: committed data plus pending writes
	p *parsedFlags

	stdin     io.Reader
	stdinRead int
	stdout    bytes.Buffer
	stderr    bytes.Buffer
}

type tool struct {
	flags []flagDef
	run   func(t *toolCtx) error
}

var (
	fRelation = flagDef{names: []string{"r", "relation"}, kind: relationFlag}
	fFormat   = flagDef{names: []string{"format"}, kind: formatFlag}
	fApp      = flagDef{names: []string{"app"}, kind: boolFlag}
	fFile     = flagDef{names: []string{"file"}, kind: stringFlag}
)

func boolF(names ...string) flagDef   { return flagDef{names: names, kind: boolFlag} }
func stringF(names ...string) flagDef { return flagDef{names: names, kind: stringFlag} }

var tools map[string]tool

func init() {
	secretUpsert := []flagDef{stringF("label"), stringF("description"), stringF("expire"), stringF("rotate"), stringF("owner"), fFile}
	tools = map[string]tool{
		"relation-ids":            {[]flagDef{fFormat}, atMostOneArg(relationIDs)},
		"relation-list":           {[]flagDef{fRelation, fApp, fFormat}, relationList},
		"relation-get":            {[]flagDef{fRelation, fApp, fFormat}, relationGet},
		"relation-set":            {[]flagDef{fRelation, fApp, fFile, fFormat}, relationSet},
		"config-get":              {[]flagDef{boolF("all", "a"), fFormat}, atMostOneArg(configGet)},
		"is-leader":               {[]flagDef{fFormat}, isLeader},
		"status-set":              {[]flagDef{boolF("application")}, statusSet},
		"status-get":              {[]flagDef{boolF("include-data"), boolF("application"), fFormat}, statusGet},
		"application-version-set": {nil, applicationVersionSet},
		"juju-log":                {[]flagDef{stringF("log-level", "l"), boolF("debug")}, jujuLog},
		"network-get": {[]flagDef{fRelation, boolF("bind-address"), boolF("ingress-address"),
			boolF("egress-subnets"), boolF("primary-address"), fFormat}, oneArg("no endpoint binding name specified", networkGet)},
		"open-port":       {[]flagDef{stringF("endpoints")}, oneArg("no port or range specified", portCmd("open-port"))},
		"close-port":      {[]flagDef{stringF("endpoints")}, oneArg("no port or range specified", portCmd("close-port"))},
		"opened-ports":    {[]flagDef{boolF("endpoints"), fFormat}, openedPorts},
		"action-get":      {[]flagDef{fFormat}, atMostOneArg(actionGet)},
		"action-set":      {nil, actionSet},
		"action-fail":     {nil, atMostOneArg(actionFail)},
		"action-log":      {nil, actionLog},
		"secret-add":      {secretUpsert, secretAdd},
		"secret-set":      {secretUpsert, secretSet},
		"secret-get":      {[]flagDef{stringF("label"), boolF("peek"), boolF("refresh"), fFormat}, secretGet},
		"secret-grant":    {[]flagDef{fRelation, stringF("unit")}, oneArg("missing secret URI", secretGrant)},
		"secret-revoke":   {[]flagDef{fRelation, stringF("app"), stringF("unit")}, oneArg("missing secret URI", secretRevoke)},
		"secret-remove":   {[]flagDef{stringF("revision")}, oneArg("missing secret URI", secretRemove)},
		"secret-ids":      {[]flagDef{fFormat}, secretIDs},
		"secret-info-get": {[]flagDef{stringF("label"), fFormat}, atMostOneArg(secretInfoGet)},
		"state-get":       {[]flagDef{boolF("strict"), fFormat}, atMostOneArg(stateGet)},
		"state-set":       {[]flagDef{fFile}, stateSet},
		"state-delete":    {nil, oneArg("specify a key", stateDelete)},
		"goal-state":      {[]flagDef{{names: []string{"format"}, kind: formatFlag, formats: []string{"json", "yaml"}}}, goalState},
	}
}

// atMostOneArg wraps a tool that takes at most one positional argument.
func atMostOneArg(run func(*toolCtx) error) func(*toolCtx) error {
	return func(t *toolCtx) error {
		if len(t.p.args) > 1 {
			return unrecognized(t.p.args[1:])
		}
		return run(t)
	}
}

// oneArg wraps a tool that takes exactly one positional argument; missing
// is Juju's usage error when it is absent.
func oneArg(missing string, run func(*toolCtx) error) func(*toolCtx) error {
	return atMostOneArg(func(t *toolCtx) error {
		if len(t.p.args) == 0 {
			return usagef("%s", missing)
		}
		return run(t)
	})
}

// Exec runs one hook tool against the model as Juju's unit agent would:
// it returns the tool's stdout, stderr ("ERROR <msg>\n" on failure) and
// exit code, and records the call in m.Calls. stdin is read only by tools
// given "--file -"; a nil stdin means none was supplied.
func (m *Model) Exec(toolName string, args []string, stdin io.Reader) (stdout, stderr []byte, code int) {
	start := time.Now()
	t := &toolCtx{m: m, stdin: stdin}
	err := t.exec(toolName, args)
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		t.stdout.Reset()
		fmt.Fprintf(&t.stderr, "ERROR %s\n", err.Error())
	}
	hook := ""
	if m.Hook != nil {
		hook = m.Hook.Name
	}
	m.Calls = append(m.Calls, Call{Tool: toolName, Args: slices.Clone(args), StdinLen: t.stdinRead,
		Code: code, Duration: time.Since(start), Hook: hook})
	return t.stdout.Bytes(), t.stderr.Bytes(), code
}

func (t *toolCtx) exec(name string, args []string) error {
	tl, ok := tools[name]
	if !ok {
		return failf("unknown hook tool %q", name)
	}
	if t.m.Hook == nil {
		return failf("no hook context: hook tools run only during a hook or action")
	}
	t.v = t.m.view()
	p, err := parseFlags(args, slices.Clone(tl.flags), t.v.Relation)
	if err != nil {
		return usagef("%s", err.Error())
	}
	if p.help {
		fmt.Fprintf(&t.stdout, "Usage: %s [options]\n", name)
		return nil
	}
	t.p = p
	return tl.run(t)
}

// hookRelation is the relation of the running relation hook, or nil.
func (t *toolCtx) hookRelation() *Relation {
	if h := t.m.Hook; h != nil && h.InRelation {
		return t.v.Relation(h.RelationID)
	}
	return nil
}

// relation is -r, defaulting to the hook's relation.
func (t *toolCtx) relation() (*Relation, error) {
	if t.p.relation != nil {
		return t.p.relation, nil
	}
	if r := t.hookRelation(); r != nil {
		return r, nil
	}
	return nil, usagef("no relation id specified")
}

// write formats v as --format asks (default def) and writes it.
func (t *toolCtx) write(def string, v any) error {
	format := def
	if f, ok := t.p.strs["format"]; ok {
		format = f
	}
	var out []byte
	var err error
	switch format {
	case "json":
		out, err = json.Marshal(v)
	case "yaml":
		out, err = yaml.Marshal(v)
	default: // smart
		switch x := v.(type) {
		case nil:
		case string:
			out = []byte(x)
		case []string:
			out = []byte(strings.Join(x, "\n"))
		case bool:
			out = []byte("False")
			if x {
				out = []byte("True")
			}
		default:
			out, err = yaml.Marshal(v)
		}
	}
	if err != nil {
		return failf("cannot format output: %v", err)
	}
	t.stdout.Write(out)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		t.stdout.WriteByte('\n')
	}
	return nil
}

// readFile reads a --file argument; "-" is stdin.
func (t *toolCtx) readFile(path string) ([]byte, error) {
	if path != "-" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, failf("%v", err)
		}
		return data, nil
	}
	if t.stdin == nil {
		return nil, failf("hook tool requires stdin, none supplied")
	}
	data, err := io.ReadAll(t.stdin)
	t.stdinRead += len(data)
	if err != nil {
		return nil, failf("cannot read stdin: %v", err)
	}
	return data, nil
}

// readSettings reads a YAML (or JSON) map of strings from --file.
func (t *toolCtx) readSettings(path string) (map[string]string, error) {
	data, err := t.readFile(path)
	if err != nil {
		return nil, err
	}
	var out map[string]string
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, failf("cannot parse settings file %q: %v", path, err)
	}
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

// keyValues parses key=value arguments.
func keyValues(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, usagef("expected \"key=value\", got %q", a)
		}
		out[k] = v
	}
	return out, nil
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func relationIDs(t *toolCtx) error {
	args := t.p.args
	endpoint := ""
	if len(args) == 1 {
		endpoint = args[0]
	} else if r := t.hookRelation(); r != nil {
		endpoint = r.Endpoint
	}
	if endpoint == "" {
		return usagef("no endpoint name specified")
	}
	refs := []string{}
	for _, r := range t.v.RelationsOf(endpoint) {
		if !r.Broken {
			refs = append(refs, r.Ref())
		}
	}
	return t.write("smart", refs)
}

func relationList(t *toolCtx) error {
	r, err := t.relation()
	if err != nil {
		return err
	}
	if len(t.p.args) > 0 {
		return unrecognized(t.p.args)
	}
	if t.p.bools["app"] {
		return t.write("smart", r.RemoteApp)
	}
	return t.write("smart", r.Units())
}

func relationGet(t *toolCtx) error {
	args := t.p.args
	key := ""
	if len(args) > 0 {
		key, args = args[0], args[1:]
		if key == "-" {
			key = ""
		}
	}
	r, err := t.relation()
	if err != nil {
		return err
	}
	app := t.p.bools["app"]
	h := t.m.Hook
	name := ""
	switch {
	case len(args) > 0:
		name, args = args[0], args[1:]
	case app && h.RemoteApp != "":
		name = h.RemoteApp
	case h.RemoteUnit != "":
		name = h.RemoteUnit
	case h.RemoteApp != "":
		name, app = h.RemoteApp, true
	}
	if name == "" {
		return usagef("no unit or application specified")
	}
	if len(args) > 0 {
		return unrecognized(args)
	}
	if strings.Contains(name, "/") {
		unitApp, ok := appOfUnit(name)
		if !ok {
			return usagef("invalid unit name %q", name)
		}
		if app {
			name = unitApp
		}
	} else if !app {
		return usagef("expected unit name, got application name %q", name)
	}
	var bag map[string]string
	switch {
	case app && name == t.m.App():
		// A leader reads its own pending writes; any unit may read a peer
		// relation's application databag; otherwise the controller refuses.
		if !t.m.Leader && r.RemoteApp != t.m.App() {
			return failf("permission denied")
		}
		bag = r.LocalAppData
	case app && name == r.RemoteApp:
		bag = r.RemoteAppData
	case app:
		return failf("permission denied")
	case name == t.m.Unit:
		bag = r.LocalUnitData
	default:
		unitApp, _ := appOfUnit(name)
		if unitApp != r.RemoteApp {
			return failf("permission denied")
		}
		var ok bool
		if bag, ok = r.RemoteUnits[name]; !ok {
			if bag, ok = r.Departed[name]; !ok {
				return failf("cannot read settings for unit %q in relation %q: settings not found", name, r.Ref())
			}
		}
	}
	if key == "" {
		return t.write("smart", orEmpty(bag))
	}
	if v, ok := bag[key]; ok {
		return t.write("smart", v)
	}
	return t.write("smart", nil)
}

func appOfUnit(unit string) (string, bool) { return juju.AppOfUnit(unit) }

func relationSet(t *toolCtx) error {
	r, err := t.relation()
	if err != nil {
		return err
	}
	kv, err := keyValues(t.p.args)
	if err != nil {
		return err
	}
	if t.p.has("format") {
		fmt.Fprintf(&t.stderr, "--format flag deprecated for command \"relation-set\"\n")
	}
	data := map[string]string{}
	if file, ok := t.p.strs["file"]; ok {
		if data, err = t.readSettings(file); err != nil {
			return err
		}
	}
	maps.Copy(data, kv)
	app := t.p.bools["app"]
	if app && !t.m.Leader {
		return failf("cannot write relation settings")
	}
	t.m.Pending = append(t.m.Pending, Op{Kind: "relation-set", Relation: r.ID, App: app, Data: data})
	return nil
}

func configGet(t *toolCtx) error {
	args := t.p.args
	all := t.p.bools["all"]
	if len(args) == 1 {
		if all {
			return usagef("cannot use argument --all together with key %q", args[0])
		}
		return t.write("smart", t.m.Config[args[0]])
	}
	cfg := t.m.Config
	if cfg == nil {
		cfg = map[string]any{}
	}
	return t.write("smart", cfg)
}

func isLeader(t *toolCtx) error {
	if len(t.p.args) > 0 {
		return unrecognized(t.p.args)
	}
	return t.write("smart", t.m.Leader)
}

var validStatuses = []string{"maintenance", "blocked", "waiting", "active"}

func statusSet(t *toolCtx) error {
	args := t.p.args
	if len(args) < 1 {
		return usagef("invalid args, require <status> [message]")
	}
	if len(args) > 2 {
		return unrecognized(args[2:])
	}
	if !slices.Contains(validStatuses, args[0]) {
		return usagef("invalid status %q, expected one of %v", args[0], validStatuses)
	}
	s := Status{Status: args[0]}
	if len(args) == 2 {
		s.Message = args[1]
	}
	app := t.p.bools["application"]
	if app {
		if !t.m.Leader {
			return failf("this unit is not the leader")
		}
		t.m.AppStatus = s
	} else {
		t.m.UnitStatus = s
	}
	t.m.StatusHistory = append(t.m.StatusHistory, StatusChange{Application: app, Status: s.Status, Message: s.Message, Hook: t.m.Hook.Name})
	return nil
}

func statusDetails(s Status, includeData bool) map[string]any {
	st := s.Status
	if st == "" {
		st = "unknown"
	}
	if !includeData {
		return map[string]any{"status": st}
	}
	return map[string]any{"status": st, "message": s.Message, "status-data": map[string]any{}}
}

func statusGet(t *toolCtx) error {
	if len(t.p.args) > 0 {
		return unrecognized(t.p.args)
	}
	data := t.p.bools["include-data"]
	if !t.p.bools["application"] {
		if !data && t.p.strs["format"] != "json" && t.p.strs["format"] != "yaml" {
			return t.write("smart", statusDetails(t.m.UnitStatus, false)["status"])
		}
		return t.write("smart", statusDetails(t.m.UnitStatus, data))
	}
	if !t.m.Leader {
		return failf("finding application status: this unit is not the leader")
	}
	details := statusDetails(t.m.AppStatus, data)
	details["units"] = map[string]any{t.m.Unit: statusDetails(t.m.UnitStatus, data)}
	return t.write("smart", map[string]any{"application-status": details})
}

func applicationVersionSet(t *toolCtx) error {
	switch args := t.p.args; {
	case len(args) == 0:
		return usagef("no version specified")
	case len(args) > 1:
		return unrecognized(args[1:])
	default:
		t.m.WorkloadVersion = args[0]
	}
	return nil
}

var logLevels = []string{"TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}

func jujuLog(t *toolCtx) error {
	if len(t.p.args) == 0 {
		return usagef("no message specified")
	}
	level := strings.ToUpper(t.p.strs["log-level"])
	if t.p.bools["debug"] {
		level = "DEBUG"
	}
	if level == "" {
		level = "INFO"
	}
	if !slices.Contains(logLevels, level) {
		t.m.Logs = append(t.m.Logs, LogEntry{Level: "WARNING", Message: fmt.Sprintf("Specified log level %q is not valid", t.p.strs["log-level"]), Hook: t.m.Hook.Name})
		level = "INFO"
	}
	msg := strings.Join(t.p.args, " ")
	if r := t.hookRelation(); r != nil {
		msg = r.Ref() + ": " + msg
	}
	t.m.Logs = append(t.m.Logs, LogEntry{Level: level, Message: msg, Hook: t.m.Hook.Name})
	return nil
}

func networkGet(t *toolCtx) error {
	args := t.p.args
	n, ok := t.m.Networks[args[0]]
	if !ok {
		return failf("no network config found for binding %q", args[0])
	}
	sel := map[string]any{}
	if t.p.bools["bind-address"] || t.p.bools["primary-address"] {
		addr := ""
		if len(n.BindAddresses) > 0 && len(n.BindAddresses[0].Addresses) > 0 {
			addr = n.BindAddresses[0].Addresses[0].Value
		}
		sel["bind-address"] = addr
	}
	if t.p.bools["ingress-address"] {
		addr := ""
		if len(n.IngressAddresses) > 0 {
			addr = n.IngressAddresses[0]
		}
		sel["ingress-address"] = addr
	}
	if t.p.bools["egress-subnets"] {
		sel["egress-subnets"] = strings.Join(n.EgressSubnets, ",")
	}
	switch len(sel) {
	case 0:
		return t.write("smart", n)
	case 1:
		for _, v := range sel {
			return t.write("smart", v)
		}
	}
	return t.write("smart", sel)
}

// normalisePort validates an open-port/close-port argument and returns
// it as opened-ports prints it.
func normalisePort(spec string) (string, error) {
	s := strings.ToLower(spec)
	if s == "icmp" {
		return s, nil
	}
	ports, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return "", usagef("invalid protocol %q, expected \"tcp\", \"udp\", or \"icmp\"", proto)
	}
	fromText, toText, isRange := strings.Cut(ports, "-")
	from, err1 := strconv.Atoi(fromText)
	to, err2 := from, error(nil)
	if isRange {
		to, err2 = strconv.Atoi(toText)
	}
	if err1 != nil || err2 != nil {
		return "", usagef("expected <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp; got %q", spec)
	}
	for _, p := range []int{from, to} {
		if p < 1 || p > 65535 {
			return "", usagef("port must be in the range [1, 65535]; got %q", strconv.Itoa(p))
		}
	}
	if from > to {
		return "", usagef("invalid port range %q", spec)
	}
	if isRange {
		return fmt.Sprintf("%d-%d/%s", from, to, proto), nil
	}
	return fmt.Sprintf("%d/%s", from, proto), nil
}

func portCmd(kind string) func(*toolCtx) error {
	return func(t *toolCtx) error {
		args := t.p.args
		port, err := normalisePort(args[0])
		if err != nil {
			return err
		}
		t.m.Pending = append(t.m.Pending, Op{Kind: kind, Port: port})
		return nil
	}
}

func portSortKey(p string) (int, string) {
	num, proto, _ := strings.Cut(p, "/")
	num, _, _ = strings.Cut(num, "-")
	n, err := strconv.Atoi(num)
	if err != nil {
		return 1 << 20, p
	}
	return n, proto
}

func openedPorts(t *toolCtx) error {
	if len(t.p.args) > 0 {
		return unrecognized(t.p.args)
	}
	// Committed ports only: pending opens are not shown (Juju's doc string).
	ports := slices.Clone(t.m.OpenedPorts)
	slices.SortFunc(ports, func(a, b string) int {
		an, ap := portSortKey(a)
		bn, bp := portSortKey(b)
		if an != bn {
			return an - bn
		}
		return strings.Compare(ap, bp)
	})
	out := []string{}
	for _, p := range ports {
		if t.p.bools["endpoints"] {
			p += " (*)"
		}
		out = append(out, p)
	}
	return t.write("smart", out)
}

func (t *toolCtx) action() (*ActionRun, error) {
	if t.m.Hook.Kind != KindAction || t.m.Action == nil {
		return nil, failf("not running an action")
	}
	return t.m.Action, nil
}

func actionGet(t *toolCtx) error {
	args := t.p.args
	a, err := t.action()
	if err != nil {
		return err
	}
	var v any = a.Params
	if a.Params == nil {
		v = map[string]any{}
	}
	if len(args) == 1 {
		for _, part := range strings.Split(args[0], ".") {
			m, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = m[part]
		}
	}
	return t.write("smart", v)
}

var actionKeyRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

var reservedActionKeys = []string{"stdout", "stdout-encoding", "stderr", "stderr-encoding"}

func actionSet(t *toolCtx) error {
	if len(t.p.args) == 0 {
		return usagef("no key=value pairs specified")
	}
	type kv struct {
		path  []string
		value string
	}
	var sets []kv
	for _, arg := range t.p.args {
		k, v, ok := strings.Cut(arg, "=")
		if !ok || k == "" {
			return usagef("argument %q must be of the form key...=value", arg)
		}
		path := strings.Split(k, ".")
		for _, part := range path {
			if !actionKeyRE.MatchString(part) {
				return usagef("key %q must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods", part)
			}
		}
		if slices.Contains(reservedActionKeys, path[0]) {
			return usagef("cannot set reserved action key %q", path[0])
		}
		sets = append(sets, kv{path, v})
	}
	a, err := t.action()
	if err != nil {
		return err
	}
	if a.Results == nil {
		a.Results = map[string]any{}
	}
	for _, s := range sets {
		m := a.Results
		for _, part := range s.path[:len(s.path)-1] {
			next, ok := m[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[part] = next
			}
			m = next
		}
		m[s.path[len(s.path)-1]] = s.value
	}
	return nil
}

func actionFail(t *toolCtx) error {
	args := t.p.args
	a, err := t.action()
	if err != nil {
		return err
	}
	a.Failed = true
	a.Message = "action failed without reason given, check action for errors"
	if len(args) == 1 {
		a.Message = args[0]
	}
	return nil
}

func actionLog(t *toolCtx) error {
	if len(t.p.args) == 0 {
		return usagef("no message specified")
	}
	a, err := t.action()
	if err != nil {
		return err
	}
	a.Logs = append(a.Logs, strings.Join(t.p.args, " "))
	return nil
}

var (
	secretKeyRE     = regexp.MustCompile(`^([a-z](?:-?[a-z0-9]){2,})$`)
	rotatePolicies  = []string{"never", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly"}
	secretOwnerKind = []string{"application", "unit"}
)

// secretContent reads --file and key=value, key#base64=..., key#file=path
// arguments into plain content.
func (t *toolCtx) secretContent(args []string) (map[string]string, error) {
	raw := map[string]string{}
	if file, ok := t.p.strs["file"]; ok {
		data, err := t.readFile(file)
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, failf("cannot parse secret file %q: %v", file, err)
		}
	}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, usagef("expected \"key=value\", got %q", a)
		}
		raw[k] = v
	}
	content := map[string]string{}
	for k, v := range raw {
		key, enc, _ := strings.Cut(k, "#")
		switch enc {
		case "":
		case "base64":
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, usagef("invalid base64 value for key %q", key)
			}
			v = string(b)
		case "file":
			b, err := os.ReadFile(v)
			if err != nil {
				return nil, usagef("cannot read secret value for key %q: %v", key, err)
			}
			v = string(b)
		default:
			return nil, usagef("key %q not valid", k)
		}
		if !secretKeyRE.MatchString(key) {
			return nil, usagef("key %q not valid", key)
		}
		content[key] = v
	}
	return content, nil
}

func (t *toolCtx) secretMeta() error {
	if r, ok := t.p.strs["rotate"]; ok && !slices.Contains(rotatePolicies, r) {
		return usagef("rotate policy %q not valid", r)
	}
	if o, ok := t.p.strs["owner"]; ok && !slices.Contains(secretOwnerKind, o) {
		return usagef("secret owner %q not valid", o)
	}
	return nil
}

func (t *toolCtx) labelTaken(label, exceptID string) bool {
	for _, s := range t.v.Secrets {
		if s.Owner != "" && s.Label == label && s.ID != exceptID {
			return true
		}
	}
	return false
}

func secretAdd(t *toolCtx) error {
	if err := t.secretMeta(); err != nil {
		return err
	}
	content, err := t.secretContent(t.p.args)
	if err != nil {
		return err
	}
	if len(content) == 0 {
		return usagef("missing secret value or filename")
	}
	owner := "application"
	if o, ok := t.p.strs["owner"]; ok {
		owner = o
	}
	if owner == "application" && !t.m.Leader {
		return failf("this unit is not the leader")
	}
	label := t.p.strs["label"]
	if label != "" && t.labelTaken(label, "") {
		return failf("secret with label %q already exists", label)
	}
	s := &Secret{ID: t.m.newSecretID(), Label: label, Owner: owner, Description: t.p.strs["description"],
		Rotate: t.p.strs["rotate"], Expire: t.p.strs["expire"], Revision: 1, Content: content}
	t.m.Pending = append(t.m.Pending, Op{Kind: "secret-add", Secret: s})
	return t.write("smart", s.URI())
}

// ownedSecret finds a secret this unit may manage.
func (t *toolCtx) ownedSecret(uri string) (*Secret, error) {
	s := t.v.Secret(uri)
	if s == nil {
		return nil, failf("secret %q not found", uri)
	}
	if s.Owner == "" {
		return nil, failf("permission denied")
	}
	if s.Owner == "application" && !t.m.Leader {
		return nil, failf("this unit is not the leader")
	}
	return s, nil
}

func secretSet(t *toolCtx) error {
	if len(t.p.args) == 0 {
		return usagef("missing secret URI")
	}
	if err := t.secretMeta(); err != nil {
		return err
	}
	uri := t.p.args[0]
	content, err := t.secretContent(t.p.args[1:])
	if err != nil {
		return err
	}
	s, err := t.ownedSecret(uri)
	if err != nil {
		return err
	}
	upd := &Secret{ID: s.ID, Label: t.p.strs["label"], Description: t.p.strs["description"],
		Rotate: t.p.strs["rotate"], Expire: t.p.strs["expire"]}
	if len(content) > 0 {
		upd.Content = content
	}
	if upd.Label != "" && t.labelTaken(upd.Label, s.ID) {
		return failf("secret with label %q already exists", upd.Label)
	}
	meta := &SecretMeta{Label: t.p.has("label"), Description: t.p.has("description"), Rotate: t.p.has("rotate"), Expire: t.p.has("expire")}
	t.m.Pending = append(t.m.Pending, Op{Kind: "secret-set", Secret: upd, Meta: meta})
	return nil
}

func secretGet(t *toolCtx) error {
	args := t.p.args
	label := t.p.strs["label"]
	uri := ""
	if len(args) > 0 && (label == "" || strings.HasPrefix(args[0], "secret:")) {
		uri, args = args[0], args[1:]
	}
	if uri == "" && label == "" {
		return usagef("require either a secret URI or label")
	}
	if t.p.bools["peek"] && t.p.bools["refresh"] {
		return usagef("specify one of --peek or --refresh but not both")
	}
	key := ""
	if len(args) > 0 {
		key, args = args[0], args[1:]
	}
	if len(args) > 0 {
		return unrecognized(args)
	}
	var s *Secret
	if uri != "" {
		s = t.v.Secret(uri)
	} else {
		for _, c := range t.v.Secrets {
			if c.Label == label {
				s = c
			}
		}
	}
	if s == nil {
		if uri == "" {
			uri = label
		}
		return failf("secret %q not found", uri)
	}
	if key == "" {
		return t.write("yaml", orEmpty(s.Content))
	}
	name, enc, _ := strings.Cut(key, "#")
	v, ok := s.Content[name]
	if !ok {
		return failf("secret key %q not found", name)
	}
	if enc == "base64" {
		v = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return t.write("yaml", v)
}

func secretGrant(t *toolCtx) error {
	args := t.p.args
	r := t.p.relation
	if r == nil {
		return usagef("missing relation")
	}
	unit := t.p.strs["unit"]
	if unit != "" {
		if app, ok := appOfUnit(unit); !ok || app != r.RemoteApp {
			return usagef("cannot specify unit %q in relation to application %q", unit, r.RemoteApp)
		}
	}
	s, err := t.ownedSecret(args[0])
	if err != nil {
		return err
	}
	t.m.Pending = append(t.m.Pending, Op{Kind: "secret-grant", Secret: &Secret{ID: s.ID}, Grant: &SecretGrant{Relation: r.ID, Unit: unit}})
	return nil
}

// secretRevoke removes grants: those of the relation (-r), of a unit
// (--unit) or of an application (--app, every relation with it).
func secretRevoke(t *toolCtx) error {
	r := t.p.relation
	app, unit := t.p.strs["app"], t.p.strs["unit"]
	if r == nil && app == "" && unit == "" {
		return usagef("missing relation or application or unit")
	}
	if unit != "" {
		if _, ok := appOfUnit(unit); !ok {
			return usagef("invalid unit name %q", unit)
		}
	}
	s, err := t.ownedSecret(t.p.args[0])
	if err != nil {
		return err
	}
	rev := &SecretRevoke{Unit: unit, App: app}
	if r != nil {
		rev.Relation = &r.ID
	}
	t.m.Pending = append(t.m.Pending, Op{Kind: "secret-revoke", Secret: &Secret{ID: s.ID}, Revoke: rev})
	return nil
}

// secretRemove removes a secret this unit owns (all revisions; a
// --revision removes only that one, which the simulator does not track).
func secretRemove(t *toolCtx) error {
	if rev, ok := t.p.strs["revision"]; ok {
		if n, err := strconv.Atoi(rev); err != nil || n < 1 {
			return usagef("revision must be a positive integer")
		}
	}
	s, err := t.ownedSecret(t.p.args[0])
	if err != nil {
		return err
	}
	t.m.Pending = append(t.m.Pending, Op{Kind: "secret-remove", Secret: &Secret{ID: s.ID}})
	return nil
}

func secretIDs(t *toolCtx) error {
	if len(t.p.args) > 0 {
		return unrecognized(t.p.args)
	}
	ids := []string{}
	for _, s := range t.v.Secrets {
		if s.Owner != "" {
			ids = append(ids, s.ID)
		}
	}
	slices.Sort(ids)
	return t.write("yaml", ids)
}

func secretInfoGet(t *toolCtx) error {
	args := t.p.args
	label, hasLabel := t.p.strs["label"]
	if len(args) == 1 && hasLabel {
		return usagef("specify either a secret URI or label but not both")
	}
	if len(args) == 0 && !hasLabel {
		return usagef("require either a secret URI or label")
	}
	var s *Secret
	want := label
	if len(args) == 1 {
		want = args[0]
		s = t.v.Secret(want)
	} else {
		for _, c := range t.v.Secrets {
			if c.Owner != "" && c.Label == label {
				s = c
			}
		}
	}
	if s == nil || s.Owner == "" {
		return failf("secret %q not found", want)
	}
	info := map[string]any{"revision": s.Revision, "label": s.Label, "owner": s.Owner}
	if s.Description != "" {
		info["description"] = s.Description
	}
	if s.Rotate != "" {
		info["rotation"] = s.Rotate
	}
	if s.Expire != "" {
		info["expiry"] = s.Expire
	}
	return t.write("yaml", map[string]any{s.ID: info})
}

func stateGet(t *toolCtx) error {
	args := t.p.args
	if len(args) == 0 || args[0] == "-" {
		var state map[string]string // Juju 4 prints null for an empty state
		if len(t.v.State) > 0 {
			state = t.v.State
		}
		return t.write("smart", state)
	}
	v, ok := t.v.State[args[0]]
	if !ok && t.p.bools["strict"] {
		return failf("key %q not found", args[0])
	}
	return t.write("smart", v)
}

func stateSet(t *toolCtx) error {
	kv, err := keyValues(t.p.args)
	if err != nil {
		return err
	}
	data := map[string]string{}
	if file, ok := t.p.strs["file"]; ok {
		if data, err = t.readSettings(file); err != nil {
			return err
		}
	}
	maps.Copy(data, kv)
	t.m.Pending = append(t.m.Pending, Op{Kind: "state-set", Data: data})
	return nil
}

func stateDelete(t *toolCtx) error {
	args := t.p.args
	t.m.Pending = append(t.m.Pending, Op{Kind: "state-delete", Key: args[0]})
	return nil
}

func goalState(t *toolCtx) error {
	if len(t.p.args) > 0 {
		return unrecognized(t.p.args)
	}
	since := t.m.GoalSince
	entry := func(status string) map[string]string { return map[string]string{"status": status, "since": since} }
	units := map[string]any{t.m.Unit: entry("active")}
	relations := map[string]map[string]any{}
	for _, r := range t.v.Relations {
		if r.Broken {
			continue
		}
		if r.RemoteApp == t.m.App() {
			// Juju lists the application's other units, but never a peer
			// relation (the uniter facade's goalStateRelations skips
			// relations with a single endpoint).
			for _, u := range r.Units() {
				units[u] = entry("active")
			}
			continue
		}
		eps := relations[r.Endpoint]
		if eps == nil {
			eps = map[string]any{}
			relations[r.Endpoint] = eps
		}
		eps[r.RemoteApp] = entry("joined")
		for _, u := range r.Units() {
			eps[u] = entry("active")
		}
	}
	return t.write("yaml", map[string]any{"units": units, "relations": relations})
}
