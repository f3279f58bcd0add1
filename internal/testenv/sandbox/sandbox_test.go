package sandbox

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
)

func TestSandboxNetnsIsolation(t *testing.T) {
	prereq.Heavy(t)
	s := New(t, Options{Hosts: map[string]string{"worker-0.test": "127.0.0.2"}})

	// A listener inside the namespace is reachable through DialContext
	// but not from the host's namespace.
	l, err := s.ListenInNetns("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen in netns: %v", err)
	}
	defer l.Close()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "inside")
	})}
	go srv.Serve(l)
	defer srv.Close()

	resp, err := s.HTTPClient().Get("http://" + l.Addr().String() + "/")
	if err != nil {
		t.Fatalf("GET inside netns: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "inside" {
		t.Fatalf("body = %q", body)
	}

	// The same address from the host namespace must not reach it.
	c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
	if err == nil {
		// Something else on the host happens to listen there; make sure
		// it is not our server.
		c.Close()
		hresp, herr := http.Get("http://" + l.Addr().String() + "/")
		if herr == nil {
			b, _ := io.ReadAll(hresp.Body)
			hresp.Body.Close()
			if string(b) == "inside" {
				t.Fatal("sandbox listener is reachable from the host namespace")
			}
		}
	}

	// Private mounts: /etc/hosts and /etc/nginx are the sandbox's.
	hosts, err := os.ReadFile(filepath.Join(s.Root(), "hosts"))
	if err != nil || !strings.Contains(string(hosts), "127.0.0.2\tworker-0.test") {
		t.Fatalf("hosts file = %q, %v", hosts, err)
	}
	p, err := s.HostPath("/etc/nginx/mime.types")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("mime.types not copied: %v", err)
	}
	if _, err := s.HostPath("/etc/passwd"); err == nil {
		t.Fatal("HostPath accepted a path outside the private mounts")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := s.ContextDialer()(ctx, l.Addr().String())
	if err != nil {
		t.Fatalf("context dialer: %v", err)
	}
	conn.Close()
}

// TestSandboxJoinNetns: a second container of the same pod shares the
// network namespace but has its own files.
func TestSandboxJoinNetns(t *testing.T) {
	prereq.Heavy(t)
	a := New(t, Options{})
	b := New(t, Options{JoinNetns: a.NetnsPath()})
	l, err := a.ListenInNetns("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen in netns: %v", err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := b.ContextDialer()(ctx, l.Addr().String())
	if err != nil {
		t.Fatalf("the joined container does not reach the first one's listener: %v", err)
	}
	conn.Close()
	if a.Root() == b.Root() {
		t.Fatal("the two containers share their root")
	}
}

func TestSandboxCloseLeavesNoProcesses(t *testing.T) {
	prereq.Heavy(t)
	if err := Available(); err != nil {
		prereq.Missing(t, "%v", err)
	}
	s, err := Start(Options{StopGrace: 3 * time.Second})
	if err != nil {
		prereq.Missing(t, "sandbox cannot start: %v", err)
	}
	// A service that ignores SIGTERM, started through the pebble CLI.
	layer := filepath.Join(t.TempDir(), "layer.yaml")
	os.WriteFile(layer, []byte("services:\n  stubborn:\n    override: replace\n    command: sh -c 'trap \"\" TERM; while :; do sleep 1; done'\n"), 0o644)
	bin, err := PebbleBinary()
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "--combine", "l", layer}, {"start", "stubborn"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "PEBBLE_SOCKET="+s.SocketPath())
		if out, err := cmd.CombinedOutput(); err != nil {
			s.Close()
			t.Fatalf("pebble %v: %v: %s", args, err, out)
		}
	}
	var nsStat syscall.Stat_t
	if err := syscall.Stat(s.NetnsPath(), &nsStat); err != nil {
		s.Close()
		t.Fatal(err)
	}
	inNs := func() []string {
		var pids []string
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			var st syscall.Stat_t
			if syscall.Stat(filepath.Join("/proc", d.Name(), "ns", "net"), &st) == nil && st.Ino == nsStat.Ino && st.Dev == nsStat.Dev {
				pids = append(pids, d.Name())
			}
		}
		return pids
	}
	if n := len(inNs()); n < 3 { // unshare, pebble, the service (sh, sleep)
		s.Close()
		t.Fatalf("only %d processes in the sandbox before Close", n)
	}
	root := s.Root()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if pids := inNs(); len(pids) != 0 {
		var desc []string
		for _, p := range pids {
			cmdline, _ := os.ReadFile("/proc/" + p + "/cmdline")
			status, _ := os.ReadFile("/proc/" + p + "/status")
			desc = append(desc, p+" "+strings.ReplaceAll(string(cmdline), "\x00", " ")+" "+strings.Join(strings.Split(string(status), "\n")[:8], "|"))
		}
		t.Fatalf("processes left in the sandbox after Close: %q", desc)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("sandbox root %s still exists (err=%v)", root, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestStartRejectsDirUnderTmp(t *testing.T) {
	prereq.Heavy(t)
	if err := Available(); err != nil {
		prereq.Missing(t, "%v", err)
	}
	_, err := Start(Options{Dir: "/tmp/x"})
	if err == nil || !strings.Contains(err.Error(), "under /tmp") {
		t.Fatalf("err = %v, want a rejection of /tmp", err)
	}
}
