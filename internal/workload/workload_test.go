package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

func newFakeContainer(t *testing.T) (*Container, *fakePebble) {
	t.Helper()
	f := newFakePebble()
	c, err := connect(f)
	if err != nil {
		t.Fatal(err)
	}
	f.calls = nil
	return c, f
}

var confA = []byte("events {}\nhttp { server { listen 8080; } }\n")
var confB = []byte("events {}\nhttp { server { listen 8081; } }\n")

func apply(t *testing.T, c *Container, p NginxPlan) NginxResult {
	t.Helper()
	res, err := c.ApplyNginx(context.Background(), p)
	if err != nil {
		t.Fatalf("ApplyNginx: %v", err)
	}
	return res
}

func TestConnectNotReady(t *testing.T) {
	dir := t.TempDir()
	// Missing socket.
	_, err := Connect(filepath.Join(dir, "pebble.socket"))
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("missing socket: err = %v, want ErrNotReady", err)
	}
	// A socket file nobody listens on: connection refused.
	p := filepath.Join(dir, "dead.socket")
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("socket file vanished: %v", err)
	}
	_, err = Connect(p)
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("refused: err = %v, want ErrNotReady", err)
	}
}

func TestConnectErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		err      error
		notReady bool
	}{
		{client.ConnectionError{}, true},
		{&client.SocketNotFoundError{Path: "/x"}, true},
		{fmt.Errorf("wrapped: %w", client.ConnectionError{}), true},
		{&client.Error{Kind: client.ErrorKindPermissionDenied, Message: "denied"}, false},
	} {
		f := newFakePebble()
		f.sysErr = tc.err
		_, err := connect(f)
		if err == nil || errors.Is(err, ErrNotReady) != tc.notReady {
			t.Errorf("SysInfo error %v: got %v, notReady want %v", tc.err, err, tc.notReady)
		}
	}
	c, _ := newFakeContainer(t)
	if c.BootID() != "boot-1" {
		t.Fatalf("BootID = %q", c.BootID())
	}
}

func TestApplyNginxFirstConfigStarts(t *testing.T) {
	c, f := newFakeContainer(t)
	res := apply(t, c, NginxPlan{Config: confA, Run: true, StatusPort: 8080})
	want := NginxResult{LayerChanged: true, ConfigChanged: true, Started: true}
	if res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	if string(f.files[NginxConfigPath]) != string(confA) {
		t.Fatalf("config = %q", f.files[NginxConfigPath])
	}
	if _, ok := f.files[NginxCandidatePath]; ok {
		t.Fatal("candidate left behind")
	}
	wantWrites := []string{
		"AddLayer nginx",
		"Push " + NginxCandidatePath,
		"Exec nginx -t -c " + NginxCandidatePath,
		"RemovePath " + NginxCandidatePath,
		"Push " + NginxConfigPath,
		"Start nginx",
		"Push " + NginxLoadedPath, // once nginx is up
	}
	if got := f.writes(); !reflect.DeepEqual(got, wantWrites) {
		t.Fatalf("writes = %q\nwant     %q", got, wantWrites)
	}
	if f.plan.Checks[NginxCheck].HTTP.URL != "http://localhost:8080/status" {
		t.Fatalf("check = %+v", f.plan.Checks[NginxCheck])
	}
}

func TestApplyNginxUnchangedOnlyReads(t *testing.T) {
	c, f := newFakeContainer(t)
	p := NginxPlan{Config: confA, Run: true, StatusPort: 8080, Files: map[string][]byte{
		"/etc/nginx/certs/server.cert": []byte("CERT"),
		"/etc/nginx/certs/old.cert":    nil,
	}}
	apply(t, c, p)
	f.calls = nil
	res := apply(t, c, p)
	if res.Changed() || res != (NginxResult{}) {
		t.Fatalf("result = %+v, want nothing changed", res)
	}
	if w := f.writes(); len(w) != 0 {
		t.Fatalf("unchanged plan wrote: %q", w)
	}
}

func TestApplyNginxChangedConfigReloads(t *testing.T) {
	c, f := newFakeContainer(t)
	apply(t, c, NginxPlan{Config: confA, Run: true, StatusPort: 8080})
	f.calls = nil
	res := apply(t, c, NginxPlan{Config: confB, Run: true, StatusPort: 8080})
	want := NginxResult{ConfigChanged: true, Reloaded: true}
	if res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	if f.reloads != 1 {
		t.Fatalf("reloads = %d", f.reloads)
	}
	for _, w := range f.writes() {
		if strings.HasPrefix(w, "Restart") || strings.HasPrefix(w, "Start") || strings.HasPrefix(w, "Stop") {
			t.Fatalf("config change touched the service: %q", f.writes())
		}
	}
}

// Configs with a pid file, so that a reload can be checked.
var (
	confPid1 = []byte("pid /tmp/nginx.pid;\nevents {}\nhttp { server { listen 8080; } }\n")
	confPid2 = []byte("pid /tmp/nginx.pid;\nevents {}\nhttp { server { listen 8080; } server { listen 3201; } }\n")
)

// TestApplyNginxFailedReloadIsRetried: nginx acknowledges the reload
// signal but keeps its old config (no new worker); the apply fails, and
// the next one reloads although nginx.conf already holds the new config.
func TestApplyNginxFailedReloadIsRetried(t *testing.T) {
	c, f := newFakeContainer(t)
	apply(t, c, NginxPlan{Config: confPid1, Run: true})

	f.failReloads = 1
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := c.ApplyNginx(ctx, NginxPlan{Config: confPid2, Run: true})
	if err == nil || !strings.Contains(err.Error(), "kept its previous configuration") || !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("failed reload: res=%+v err=%v", res, err)
	}
	if string(f.files[NginxConfigPath]) != string(confPid2) || f.reloads != 0 {
		t.Fatalf("config on disk %q, %d reloads", f.files[NginxConfigPath], f.reloads)
	}

	f.calls = nil
	res = apply(t, c, NginxPlan{Config: confPid2, Run: true})
	if res != (NginxResult{Reloaded: true}) || f.reloads != 1 {
		t.Fatalf("next apply = %+v (%d reloads), want a reload of the unchanged file", res, f.reloads)
	}
	f.calls = nil
	if res := apply(t, c, NginxPlan{Config: confPid2, Run: true}); res.Changed() || len(f.writes()) != 0 {
		t.Fatalf("converged apply = %+v, writes %q", res, f.writes())
	}
}

// TestApplyNginxKilledBeforeReload: a hook wrote the new config and died
// before reloading; the next apply reloads it.
func TestApplyNginxKilledBeforeReload(t *testing.T) {
	c, f := newFakeContainer(t)
	apply(t, c, NginxPlan{Config: confPid1, Run: true})
	f.files[NginxConfigPath] = confPid2
	res := apply(t, c, NginxPlan{Config: confPid2, Run: true})
	if res != (NginxResult{Reloaded: true}) || f.reloads != 1 {
		t.Fatalf("apply = %+v (%d reloads), want a reload", res, f.reloads)
	}
}

// TestApplyNginxRestartedByPebble: Pebble restarted nginx (it reread
// nginx.conf, but what it loaded is no longer known): one reload, then
// nothing.
func TestApplyNginxRestartedByPebble(t *testing.T) {
	c, f := newFakeContainer(t)
	apply(t, c, NginxPlan{Config: confPid1, Run: true})
	f.calls = append(f.calls, "crash")
	f.setStatus(NginxService, client.StatusBackoff)
	f.calls = append(f.calls, "auto-restart")
	f.setStatus(NginxService, client.StatusActive)
	if res := apply(t, c, NginxPlan{Config: confPid1, Run: true}); res != (NginxResult{Reloaded: true}) {
		t.Fatalf("apply after a restart = %+v", res)
	}
	if res := apply(t, c, NginxPlan{Config: confPid1, Run: true}); res.Changed() {
		t.Fatalf("second apply = %+v", res)
	}
}

func TestApplyNginxRejectedConfigKeepsOld(t *testing.T) {
	c, f := newFakeContainer(t)
	apply(t, c, NginxPlan{Config: confA, Run: true})
	f.files["/etc/nginx/certs/server.cert"] = []byte("CERT")
	f.calls = nil
	bad := []byte("invalid;\n")
	// The plan also drops a file: a rejected config must keep the files
	// the running config may still need.
	res := apply(t, c, NginxPlan{Config: bad, Run: true, Files: map[string][]byte{"/etc/nginx/certs/server.cert": nil}})
	if res.Rejected == "" || res.ConfigChanged || res.Reloaded {
		t.Fatalf("result = %+v, want rejected without change", res)
	}
	if !strings.Contains(res.Rejected, `unknown directive "invalid" in /etc/nginx/nginx.conf:1`) || strings.Contains(res.Rejected, "candidate") {
		t.Fatalf("Rejected = %q, want nginx's message about nginx.conf", res.Rejected)
	}
	if string(f.files[NginxConfigPath]) != string(confA) {
		t.Fatalf("old config replaced: %q", f.files[NginxConfigPath])
	}
	if _, ok := f.files[NginxCandidatePath]; ok {
		t.Fatal("candidate left behind")
	}
	if f.status[NginxService] != client.StatusActive || f.reloads != 0 {
		t.Fatalf("status=%s reloads=%d", f.status[NginxService], f.reloads)
	}
	if _, ok := f.files["/etc/nginx/certs/server.cert"]; !ok || res.FilesChanged {
		t.Fatalf("file removed although the config was rejected: %+v", res)
	}
}

func TestApplyNginxFiles(t *testing.T) {
	c, f := newFakeContainer(t)
	apply(t, c, NginxPlan{Config: confA, Run: true})
	f.files["/etc/nginx/certs/old.pem"] = []byte("OLD")
	f.calls = nil
	res := apply(t, c, NginxPlan{Config: confA, Run: true, Files: map[string][]byte{
		"/etc/nginx/certs/server.cert": []byte("CERT"),
		"/etc/nginx/certs/server.key":  []byte("KEY"),
		"/etc/nginx/certs/old.pem":     nil,
		"/etc/nginx/certs/absent.pem":  nil,
	}})
	want := NginxResult{FilesChanged: true, Reloaded: true}
	if res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	if f.perms["/etc/nginx/certs/server.key"] != 0o600 || f.perms["/etc/nginx/certs/server.cert"] != 0o644 {
		t.Fatalf("perms = %v", f.perms)
	}
	if _, ok := f.files["/etc/nginx/certs/old.pem"]; ok {
		t.Fatal("old.pem not removed")
	}
	for _, w := range f.writes() {
		if strings.Contains(w, "absent.pem") {
			t.Fatalf("removed a missing file: %q", f.writes())
		}
	}
}

func TestApplyNginxRunFalseStops(t *testing.T) {
	c, f := newFakeContainer(t)
	apply(t, c, NginxPlan{Config: confA, Run: true})
	res := apply(t, c, NginxPlan{Config: confB, Run: false})
	if res != (NginxResult{ConfigChanged: true, Stopped: true}) {
		t.Fatalf("result = %+v", res)
	}
	if f.status[NginxService] != client.StatusInactive {
		t.Fatalf("status = %s", f.status[NginxService])
	}
	f.calls = nil
	res = apply(t, c, NginxPlan{Config: confB, Run: false})
	if res.Changed() || len(f.writes()) != 0 {
		t.Fatalf("stopped + unchanged: result %+v writes %q", res, f.writes())
	}
	// Run again: a start, not a reload.
	res = apply(t, c, NginxPlan{Config: confB, Run: true})
	if res != (NginxResult{Started: true}) || f.reloads != 0 {
		t.Fatalf("result = %+v reloads=%d", res, f.reloads)
	}
}

func TestApplyNginxStopsBackoff(t *testing.T) {
	c, f := newFakeContainer(t)
	apply(t, c, NginxPlan{Config: confA, Run: true})
	f.status[NginxService] = client.StatusBackoff
	if res := apply(t, c, NginxPlan{Config: confA, Run: false}); !res.Stopped {
		t.Fatalf("backoff service not stopped: %+v", res)
	}
}

func TestApplyNginxFailedChangeIsError(t *testing.T) {
	c, f := newFakeContainer(t)
	f.startErr = "cannot perform the following tasks:\n- Start service \"nginx\" (service start attempt: exited quickly with code 1, will restart)"
	f.logs = []client.LogEntry{{Service: "nginx", Message: "nginx: [emerg] bind() to 0.0.0.0:8080 failed (98: Address already in use)\n"}}
	_, err := c.ApplyNginx(context.Background(), NginxPlan{Config: confA, Run: true})
	if err == nil {
		t.Fatal("a failed start change (WaitChange ok, chg.Err set) was not an error")
	}
	for _, want := range []string{"cannot start nginx", "exited quickly", "Address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// Recovery: the next apply starts it again.
	f.startErr = ""
	res := apply(t, c, NginxPlan{Config: confA, Run: true})
	if !res.Started {
		t.Fatalf("no start on recovery: %+v", res)
	}
}

func TestApplyNginxServiceChangeRestarts(t *testing.T) {
	c, f := newFakeContainer(t)
	apply(t, c, NginxPlan{Config: confA, Run: true})
	s := f.plan.Services[NginxService]
	s.Command = "nginx -g 'daemon off; old;'"
	f.plan.Services[NginxService] = s
	res := apply(t, c, NginxPlan{Config: confB, Run: true})
	if res != (NginxResult{LayerChanged: true, ConfigChanged: true, Restarted: true}) {
		t.Fatalf("result = %+v", res)
	}
	// Only the check changed: no restart, no reload needed for it.
	res = apply(t, c, NginxPlan{Config: confB, Run: true, StatusPort: 9999})
	if res != (NginxResult{LayerChanged: true}) {
		t.Fatalf("check-only change: result = %+v", res)
	}
}

func TestApplyNginxExecInfraErrorIsError(t *testing.T) {
	c, f := newFakeContainer(t)
	f.exec = func(cmd []string, stdout, stderr io.Writer) (int, error) {
		return 0, &client.Error{Message: `cannot find executable "nginx"`}
	}
	_, err := c.ApplyNginx(context.Background(), NginxPlan{Config: confA, Run: true})
	if err == nil || !strings.Contains(err.Error(), "cannot validate nginx config") {
		t.Fatalf("err = %v", err)
	}
	if _, ok := f.files[NginxCandidatePath]; ok {
		t.Fatal("candidate left behind")
	}
	if _, ok := f.files[NginxConfigPath]; ok {
		t.Fatal("unvalidated config went live")
	}
}

func TestApplyNginxCancelledContext(t *testing.T) {
	c, f := newFakeContainer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.ApplyNginx(ctx, NginxPlan{Config: confA, Run: true}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(f.calls) != 0 {
		t.Fatalf("calls after cancel: %q", f.calls)
	}
}

func TestApplyLayer(t *testing.T) {
	c, f := newFakeContainer(t)
	ctx := context.Background()
	changed, err := c.ApplyLayer(ctx, ExporterLabel, ExporterLayer(8080))
	if err != nil || !changed {
		t.Fatalf("first: changed=%v err=%v", changed, err)
	}
	if !reflect.DeepEqual(f.writes(), []string{"AddLayer " + ExporterLabel, "Replan"}) {
		t.Fatalf("writes = %q", f.writes())
	}
	f.calls = nil
	changed, err = c.ApplyLayer(ctx, ExporterLabel, ExporterLayer(8080))
	if err != nil || changed || len(f.writes()) != 0 {
		t.Fatalf("second: changed=%v err=%v writes=%q", changed, err, f.writes())
	}
	// The service died: replan without re-adding the layer.
	f.status[ExporterService] = client.StatusError
	f.calls = nil
	changed, err = c.ApplyLayer(ctx, ExporterLabel, ExporterLayer(8080))
	if err != nil || changed || !reflect.DeepEqual(f.writes(), []string{"Replan"}) {
		t.Fatalf("dead service: changed=%v err=%v writes=%q", changed, err, f.writes())
	}
	f.startErr = "boom"
	if _, err := c.ApplyLayer(ctx, ExporterLabel, ExporterLayer(9090)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failed replan: err = %v", err)
	}
}

func TestNginxFacts(t *testing.T) {
	c, f := newFakeContainer(t)
	f.files["/proc/net/if_inet6"] = []byte("00000000000000000000000000000001 01 80 10 80       lo\n")
	got, err := c.NginxFacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := coordinator.NginxFacts{Version: "1.22.1", IPv6: true, Resolver: "10.0.0.10"}
	if got != want {
		t.Fatalf("facts = %+v, want %+v", got, want)
	}
	// No IPv6, no resolv.conf, another version string.
	delete(f.files, "/proc/net/if_inet6")
	delete(f.files, "/etc/resolv.conf")
	f.exec = func(cmd []string, stdout, stderr io.Writer) (int, error) {
		fmt.Fprintln(stderr, "nginx version: nginx/1.27.3 (Ubuntu)")
		return 0, nil
	}
	got, err = c.NginxFacts(context.Background())
	if err != nil || got != (coordinator.NginxFacts{Version: "1.27.3"}) {
		t.Fatalf("facts = %+v err=%v", got, err)
	}
	f.exec = func(cmd []string, stdout, stderr io.Writer) (int, error) { return 127, nil }
	if _, err := c.NginxFacts(context.Background()); err == nil {
		t.Fatal("failing nginx -v accepted")
	}
}

func TestFirstNameserver(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "",
		"# nameserver 1.1.1.1\nsearch a\n": "",
		"options ndots:5\nnameserver fd00::a\nnameserver 10.0.0.1": "fd00::a",
		"nameserver\nnameserver 10.152.183.10\n":                   "10.152.183.10",
	} {
		if got := firstNameserver([]byte(in)); got != want {
			t.Errorf("firstNameserver(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLostPebbleIsNotReady(t *testing.T) {
	c, f := newFakeContainer(t)
	f.exec = func(cmd []string, stdout, stderr io.Writer) (int, error) {
		return 0, fmt.Errorf("dial: %w", client.ConnectionError{})
	}
	if _, err := c.ApplyNginx(context.Background(), NginxPlan{Config: confA, Run: true}); !errors.Is(err, ErrNotReady) {
		t.Fatalf("ApplyNginx err = %v, want ErrNotReady", err)
	}
	if _, err := c.NginxFacts(context.Background()); !errors.Is(err, ErrNotReady) {
		t.Fatalf("NginxFacts err = %v, want ErrNotReady", err)
	}
	f.exec = nil
	f.startErr = "boom"
	if _, err := c.ApplyLayer(context.Background(), ExporterLabel, ExporterLayer(8080)); err == nil || errors.Is(err, ErrNotReady) {
		t.Fatalf("a failed change must not be ErrNotReady: %v", err)
	}
}

func TestApplyNginxStartWaitsForPidFile(t *testing.T) {
	conf := []byte("worker_processes 1;\npid /tmp/nginx.pid;\nevents {}\n")
	c, f := newFakeContainer(t)
	f.files["/tmp/nginx.pid"] = []byte("7\n") // stale, from a killed nginx
	f.dieAfterStart = true
	f.logs = []client.LogEntry{{Service: "nginx", Message: "nginx: [emerg] bind() to 0.0.0.0:3200 failed (98: Address already in use)"}}
	_, err := c.ApplyNginx(context.Background(), NginxPlan{Config: conf, Run: true})
	if err == nil || !strings.Contains(err.Error(), "nginx exited after starting") || !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("err = %v, want the late exit reported", err)
	}
	f.dieAfterStart = false
	res := apply(t, c, NginxPlan{Config: conf, Run: true})
	if !res.Started || string(f.files["/tmp/nginx.pid"]) != "42\n" {
		t.Fatalf("recovery: %+v pid=%q", res, f.files["/tmp/nginx.pid"])
	}
}

func TestPidPath(t *testing.T) {
	for in, want := range map[string]string{
		"pid /tmp/nginx.pid;\n":                   "/tmp/nginx.pid",
		"worker_processes 5;\n  pid /run/x.pid ;": "/run/x.pid",
		"# pid /nope;\nevents {}":                 "",
		"":                                        "",
	} {
		if got := pidPath([]byte(in)); got != want {
			t.Errorf("pidPath(%q) = %q, want %q", in, got, want)
		}
	}
}
