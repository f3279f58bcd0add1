package workload

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/canonical/pebble/client"
	"gopkg.in/yaml.v3"
)

// fakePebble is an in-memory stand-in for a Pebble daemon managing nginx.
type fakePebble struct {
	files    map[string][]byte
	perms    map[string]os.FileMode
	plan     Layer
	status   map[string]client.ServiceStatus
	since    map[string]time.Time // when each service's status last changed
	changes  map[string]*client.Change
	nextID   int
	calls    []string // every API call, in order
	reloads  int
	execs    [][]string
	bootID   string
	sysErr   error
	startErr string // when set, Start/Replan changes fail with it
	// dieAfterStart: nginx passes Pebble's start check, then exits (as
	// after its bind retries) and never writes its pid file.
	dieAfterStart bool
	logs          []client.LogEntry
	// exec overrides the default command behaviour when set.
	exec func(cmd []string, stdout, stderr io.Writer) (exit int, err error)
	// failReloads: that many `nginx -s reload` exit 0 but the master keeps
	// its configuration (as when a new listen port is taken).
	failReloads int
	// workerGen numbers nginx's generations of worker processes.
	workerGen int
}

func newFakePebble() *fakePebble {
	return &fakePebble{
		files:   map[string][]byte{"/etc/resolv.conf": []byte("search x\nnameserver 10.0.0.10\nnameserver 10.0.0.11\n")},
		perms:   map[string]os.FileMode{},
		status:  map[string]client.ServiceStatus{},
		since:   map[string]time.Time{},
		changes: map[string]*client.Change{},
		bootID:  "boot-1",
	}
}

// writes lists the calls that change state in the container.
func (f *fakePebble) writes() []string {
	var w []string
	for _, c := range f.calls {
		switch strings.Fields(c)[0] {
		case "AddLayer", "Start", "Stop", "Restart", "Replan", "Push", "RemovePath":
			w = append(w, c)
		case "Exec":
			if !strings.HasPrefix(c, "Exec nginx -v") {
				w = append(w, c)
			}
		}
	}
	return w
}

func (f *fakePebble) change(err string) string {
	f.nextID++
	id := strconv.Itoa(f.nextID)
	f.changes[id] = &client.Change{ID: id, Ready: true, Status: "Done", Err: err}
	if err != "" {
		f.changes[id].Status = "Error"
	}
	return id
}

func (f *fakePebble) SysInfo() (*client.SysInfo, error) {
	f.calls = append(f.calls, "SysInfo")
	if f.sysErr != nil {
		return nil, f.sysErr
	}
	return &client.SysInfo{Version: "v1.26.0", BootID: f.bootID}, nil
}

func (f *fakePebble) PlanBytes(*client.PlanOptions) ([]byte, error) {
	f.calls = append(f.calls, "PlanBytes")
	return yaml.Marshal(f.plan)
}

func (f *fakePebble) AddLayer(o *client.AddLayerOptions) error {
	f.calls = append(f.calls, "AddLayer "+o.Label)
	if !o.Combine {
		return errors.New("fake: only combine is supported")
	}
	var l Layer
	if err := yaml.Unmarshal(o.LayerData, &l); err != nil {
		return err
	}
	if f.plan.Services == nil {
		f.plan.Services = map[string]Service{}
	}
	if f.plan.Checks == nil {
		f.plan.Checks = map[string]Check{}
	}
	for n, s := range l.Services {
		f.plan.Services[n] = s
	}
	for n, c := range l.Checks {
		f.plan.Checks[n] = c
	}
	return nil
}

func (f *fakePebble) Services(o *client.ServicesOptions) ([]*client.ServiceInfo, error) {
	f.calls = append(f.calls, "Services")
	var out []*client.ServiceInfo
	for _, n := range o.Names {
		if _, ok := f.plan.Services[n]; !ok {
			continue
		}
		st := f.status[n]
		if st == "" {
			st = client.StatusInactive
		}
		out = append(out, &client.ServiceInfo{Name: n, Current: st, CurrentSince: f.since[n]})
	}
	return out, nil
}

func (f *fakePebble) setAll(names []string, st client.ServiceStatus) {
	for _, n := range names {
		f.setStatus(n, st)
	}
}

// setStatus changes a service's status, and its current-since as Pebble
// does: only when the status changes.
func (f *fakePebble) setStatus(name string, st client.ServiceStatus) {
	if f.status[name] != st {
		f.since[name] = time.Unix(1700000000, 0).Add(time.Duration(len(f.calls)) * time.Second)
	}
	f.status[name] = st
}

// newWorkers replaces nginx's worker processes (master pid 42).
func (f *fakePebble) newWorkers() {
	f.workerGen++
	f.files["/proc/42/task/42/children"] = fmt.Appendf(nil, "%d %d\n", 100*f.workerGen, 100*f.workerGen+1)
}

func (f *fakePebble) Start(o *client.ServiceOptions) (string, error) {
	f.calls = append(f.calls, "Start "+strings.Join(o.Names, ","))
	if f.startErr != "" {
		f.setAll(o.Names, client.StatusBackoff)
		return f.change(f.startErr), nil
	}
	f.setAll(o.Names, client.StatusActive)
	f.nginxStarted(o.Names)
	return f.change(""), nil
}

// nginxStarted writes nginx's pid file, or lets it die.
func (f *fakePebble) nginxStarted(names []string) {
	for _, n := range names {
		if n != NginxService {
			continue
		}
		if f.dieAfterStart {
			f.setStatus(n, client.StatusBackoff)
			continue
		}
		if pid := pidPath(f.files[NginxConfigPath]); pid != "" {
			f.files[pid] = []byte("42\n")
		}
		f.newWorkers()
	}
}

func (f *fakePebble) Stop(o *client.ServiceOptions) (string, error) {
	f.calls = append(f.calls, "Stop "+strings.Join(o.Names, ","))
	f.setAll(o.Names, client.StatusInactive)
	return f.change(""), nil
}

func (f *fakePebble) Restart(o *client.ServiceOptions) (string, error) {
	f.calls = append(f.calls, "Restart "+strings.Join(o.Names, ","))
	f.setAll(o.Names, client.StatusInactive)
	f.setAll(o.Names, client.StatusActive)
	f.nginxStarted(o.Names)
	return f.change(""), nil
}

func (f *fakePebble) Replan(o *client.ServiceOptions) (string, error) {
	f.calls = append(f.calls, "Replan")
	if f.startErr != "" {
		return f.change(f.startErr), nil
	}
	for n, s := range f.plan.Services {
		if s.Startup == "enabled" {
			f.setStatus(n, client.StatusActive)
		}
	}
	return f.change(""), nil
}

func (f *fakePebble) WaitChange(id string, _ *client.WaitChangeOptions) (*client.Change, error) {
	f.calls = append(f.calls, "WaitChange "+id)
	chg, ok := f.changes[id]
	if !ok {
		return nil, fmt.Errorf("fake: no change %s", id)
	}
	return chg, nil
}

func (f *fakePebble) Pull(o *client.PullOptions) error {
	f.calls = append(f.calls, "Pull "+o.Path)
	data, ok := f.files[o.Path]
	if !ok {
		// What the real v1.26 client returns for a missing file.
		return errors.New(`expected first field name to be "files", got "response"`)
	}
	_, err := o.Target.Write(data)
	return err
}

func (f *fakePebble) Push(o *client.PushOptions) error {
	f.calls = append(f.calls, "Push "+o.Path)
	data, err := io.ReadAll(o.Source)
	if err != nil {
		return err
	}
	f.files[o.Path] = data
	f.perms[o.Path] = o.Permissions
	return nil
}

func (f *fakePebble) ListFiles(o *client.ListFilesOptions) ([]*client.FileInfo, error) {
	f.calls = append(f.calls, "ListFiles "+o.Path)
	if _, ok := f.files[o.Path]; !ok {
		return nil, &client.Error{Kind: client.ErrorKindNotFound, Message: "stat " + o.Path + ": no such file or directory"}
	}
	return []*client.FileInfo{{}}, nil
}

func (f *fakePebble) RemovePath(o *client.RemovePathOptions) error {
	f.calls = append(f.calls, "RemovePath "+o.Path)
	if _, ok := f.files[o.Path]; !ok {
		return &client.Error{Kind: client.ErrorKindNotFound, Message: "remove " + o.Path + ": no such file or directory"}
	}
	delete(f.files, o.Path)
	return nil
}

func (f *fakePebble) Logs(o *client.LogsOptions) error {
	f.calls = append(f.calls, "Logs")
	for _, e := range f.logs {
		if err := o.WriteLog(e); err != nil {
			return err
		}
	}
	return nil
}

type fakeProcess struct{ err error }

func (p fakeProcess) Wait() error { return p.err }

type fakeExitError int

func (e fakeExitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e fakeExitError) ExitCode() int { return int(e) }

func (f *fakePebble) Exec(o *client.ExecOptions) (process, error) {
	f.calls = append(f.calls, "Exec "+strings.Join(o.Command, " "))
	f.execs = append(f.execs, o.Command)
	if o.Timeout <= 0 {
		return nil, errors.New("fake: exec without a timeout")
	}
	stderr := o.Stderr
	if stderr == nil {
		stderr = o.Stdout
	}
	run := f.exec
	if run == nil {
		run = f.defaultExec
	}
	exit, err := run(o.Command, o.Stdout, stderr)
	if err != nil {
		return nil, err
	}
	if exit != 0 {
		return fakeProcess{fakeExitError(exit)}, nil
	}
	return fakeProcess{}, nil
}

// defaultExec mimics nginx: -v prints its version, -t rejects configs
// containing "invalid", -s reload needs a running master.
func (f *fakePebble) defaultExec(cmd []string, stdout, stderr io.Writer) (int, error) {
	switch strings.Join(cmd, " ") {
	case "nginx -v":
		fmt.Fprintln(stderr, "nginx version: nginx/1.22.1")
		return 0, nil
	case "nginx -s reload":
		if f.status[NginxService] != client.StatusActive {
			fmt.Fprintln(stderr, `nginx: [error] open() "/tmp/nginx.pid" failed`)
			return 1, nil
		}
		if f.failReloads > 0 {
			f.failReloads--
			f.logs = append(f.logs, client.LogEntry{Service: NginxService, Message: "[emerg] bind() to 0.0.0.0:3201 failed (98: Address already in use)\n"})
			return 0, nil
		}
		f.reloads++
		f.newWorkers()
		return 0, nil
	}
	if len(cmd) == 4 && cmd[0] == "nginx" && cmd[1] == "-t" && cmd[2] == "-c" {
		data, ok := f.files[cmd[3]]
		if !ok {
			fmt.Fprintf(stderr, "nginx: [emerg] open() %q failed\n", cmd[3])
			return 1, nil
		}
		if bytes.Contains(data, []byte("invalid")) {
			fmt.Fprintf(stderr, "nginx: [emerg] unknown directive \"invalid\" in %s:1\nnginx: configuration file %s test failed\n", cmd[3], cmd[3])
			return 1, nil
		}
		fmt.Fprintf(stderr, "nginx: configuration file %s test is successful\n", cmd[3])
		return 0, nil
	}
	return 0, &client.Error{Message: fmt.Sprintf("cannot find executable %q", cmd[0])}
}
