package sandbox

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSandboxNetnsIsolation(t *testing.T) {
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

func TestSandboxCloseLeavesNoProcesses(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	s, err := Start(Options{})
	if err != nil {
		t.Skipf("sandbox cannot start: %v", err)
	}
	unsharePID := s.cmd.Process.Pid
	pebblePID := s.pebblePID()
	if pebblePID == 0 {
		s.Close()
		t.Fatal("no pebble child process found")
	}
	root := s.Root()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, pid := range []int{unsharePID, pebblePID} {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d still exists after Close", pid)
		}
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("sandbox root %s still exists (err=%v)", root, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestStartRejectsDirUnderTmp(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	_, err := Start(Options{Dir: "/tmp/x"})
	if err == nil || !strings.Contains(err.Error(), "under /tmp") {
		t.Fatalf("err = %v, want a rejection of /tmp", err)
	}
}
