// Package sandbox runs a real Pebble daemon managing a real nginx in private
// Linux namespaces, for tests and demos.
//
// The daemon runs under `unshare --mount --net --pid --fork`: it sees a
// private loopback-only network (so fixed ports such as 4317, 3200 or 8080
// never clash with the host or with other sandboxes), and private bind
// mounts over /etc/nginx, /var/log/nginx, /var/lib/nginx, /tmp and
// optionally /etc/hosts, so the machine's own nginx files are never touched.
// Pebble is the init process of its PID namespace: when it dies, the kernel
// kills every process it started, so a sandbox cannot leak nginx processes.
//
// Test code reaches servers inside the namespace through ListenInNetns,
// DialContext, HTTPTransport and ContextDialer, which create their sockets
// inside the sandbox's network namespace.
package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrUnavailable reports that this machine cannot run a sandbox (not root,
// unshare or nginx missing, namespaces not permitted).
var ErrUnavailable = errors.New("sandbox unavailable")

// Paths mounted privately inside the sandbox; each maps to a directory
// under the sandbox root on the host.
// The CA directory is private too: under TLS the charm installs its CA
// there, which must never reach the machine's own trust store.
var privateDirs = []struct {
	inside, host string
	// create makes the mount point when the machine lacks it.
	create bool
}{
	{"/etc/nginx", "etc-nginx", false},
	{"/var/log/nginx", "var-log-nginx", false},
	{"/var/lib/nginx", "var-lib-nginx", false},
	{"/tmp", "tmp", false},
	{"/usr/local/share/ca-certificates", "ca-certificates", true},
	// The exporter container's files (its TLS web config and certificate).
	{"/etc/exporter", "etc-exporter", true},
}

// DefaultBaseDir is where sandbox roots are created when Options.Dir is
// empty. It must not be under /tmp, which is replaced inside the sandbox.
const DefaultBaseDir = "/var/tmp"

// Options configures Start.
type Options struct {
	// PebbleBin is the pebble executable. Default: $PEBBLE_BIN, else a
	// binary built once per process with `go build` (see PebbleBinary).
	PebbleBin string
	// Dir is the parent directory of the sandbox root (default
	// DefaultBaseDir). It must not be /tmp or below it.
	Dir string
	// Hosts are extra /etc/hosts entries (name -> IP) visible inside the
	// sandbox, so that nginx can resolve worker FQDNs. Nil leaves the
	// machine's /etc/hosts in place.
	Hosts map[string]string
	// StartTimeout bounds the wait for Pebble's socket (default 30s).
	StartTimeout time.Duration
	// StopGrace is how long Close waits after SIGTERM before SIGKILL
	// (default 10s).
	StopGrace time.Duration
	// JoinNetns, when set, is a network namespace (a /proc path, as
	// NetnsPath gives) to join instead of a new one: another container of
	// the same pod, with its own files and processes.
	JoinNetns string
	// Path lists directories put in front of PATH for Pebble and the
	// services it starts.
	Path []string
}

// Sandbox is a running Pebble daemon in private namespaces.
type Sandbox struct {
	root    string
	socket  string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	waitErr error
	nsFile  *os.File // the sandbox's network namespace
	pebble  int      // host PID of Pebble

	grace time.Duration

	closeOnce sync.Once
	closeErr  error
}

// Available reports why a sandbox cannot run on this machine (wrapping
// ErrUnavailable), or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (mount and network namespaces)", ErrUnavailable)
	}
	for _, bin := range []string{"unshare", "nginx", "ip", "mount"} {
		if _, err := exec.LookPath(bin); err != nil {
			hint := ""
			if bin == "nginx" {
				hint = " (apt-get update && apt-get install -y nginx)"
			}
			return fmt.Errorf("%w: %s not found%s", ErrUnavailable, bin, hint)
		}
	}
	if _, err := os.Stat("/etc/nginx/mime.types"); err != nil {
		return fmt.Errorf("%w: /etc/nginx/mime.types missing: %v", ErrUnavailable, err)
	}
	return nil
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// PebbleBinary returns the pebble executable to use: $PEBBLE_BIN when set,
// else a binary built once per process with `go build
// github.com/canonical/pebble/cmd/pebble` into a cache directory outside
// /tmp (reused and rebuilt incrementally by the Go build cache).
func PebbleBinary() (string, error) {
	if p := os.Getenv("PEBBLE_BIN"); p != "" {
		return p, nil
	}
	buildOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil || isUnder(cache, "/tmp") {
			cache = DefaultBaseDir
		}
		dir := filepath.Join(cache, "tempo-coordinator", "pebble")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = fmt.Errorf("cannot create %s: %w", dir, err)
			return
		}
		tmp, err := os.CreateTemp(dir, "pebble-build-")
		if err != nil {
			buildErr = fmt.Errorf("cannot create temp file: %w", err)
			return
		}
		tmp.Close()
		cmd := exec.Command("go", "build", "-o", tmp.Name(), "github.com/canonical/pebble/cmd/pebble")
		cmd.Dir = moduleDir()
		if out, err := cmd.CombinedOutput(); err != nil {
			os.Remove(tmp.Name())
			buildErr = fmt.Errorf("cannot build pebble: %w: %s", err, out)
			return
		}
		// Rename is atomic: concurrent test binaries never see a partial file.
		buildPath = filepath.Join(dir, "pebble")
		if err := os.Rename(tmp.Name(), buildPath); err != nil {
			buildErr = fmt.Errorf("cannot install pebble binary: %w", err)
		}
	})
	return buildPath, buildErr
}

// moduleDir returns the directory of this source file's module, so `go
// build` resolves the pebble version pinned in our go.mod even when the
// caller runs elsewhere. Falls back to the working directory.
func moduleDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	dir := filepath.Dir(file)
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return ""
}

func isUnder(p, dir string) bool {
	p = filepath.Clean(p)
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// Start launches Pebble in a fresh sandbox and waits for its API socket.
// The caller must Close the sandbox.
func Start(opts Options) (*Sandbox, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = 10 * time.Second
	}
	base := opts.Dir
	if base == "" {
		base = DefaultBaseDir
	}
	base, err := filepath.Abs(base)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve sandbox dir: %w", err)
	}
	if isUnder(base, "/tmp") {
		return nil, fmt.Errorf("sandbox dir %s must not be under /tmp (replaced inside the sandbox)", base)
	}
	bin := opts.PebbleBin
	if bin == "" {
		if bin, err = PebbleBinary(); err != nil {
			return nil, err
		}
	}
	root, err := os.MkdirTemp(base, "sandbox-")
	if err != nil {
		return nil, fmt.Errorf("cannot create sandbox root: %w", err)
	}
	s := &Sandbox{root: root, done: make(chan struct{}), grace: opts.StopGrace}
	if err := s.start(bin, opts); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sandbox) start(bin string, opts Options) error {
	for _, d := range privateDirs {
		if err := os.MkdirAll(filepath.Join(s.root, d.host), 0o755); err != nil {
			return fmt.Errorf("cannot create sandbox dir: %w", err)
		}
	}
	if err := os.Chmod(filepath.Join(s.root, "tmp"), 0o1777); err != nil {
		return fmt.Errorf("cannot chmod sandbox tmp: %w", err)
	}
	mime, err := os.ReadFile("/etc/nginx/mime.types")
	if err != nil {
		return fmt.Errorf("cannot read mime.types: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.root, "etc-nginx", "mime.types"), mime, 0o644); err != nil {
		return fmt.Errorf("cannot copy mime.types: %w", err)
	}
	// A minimal valid default config, like the one a fresh image ships.
	if err := os.WriteFile(filepath.Join(s.root, "etc-nginx", "nginx.conf"), []byte(DefaultNginxConf), 0o644); err != nil {
		return fmt.Errorf("cannot write default nginx.conf: %w", err)
	}
	// The binary must stay reachable after /tmp is replaced.
	if isUnder(bin, "/tmp") {
		data, err := os.ReadFile(bin)
		if err != nil {
			return fmt.Errorf("cannot read pebble binary: %w", err)
		}
		bin = filepath.Join(s.root, "pebble-bin")
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			return fmt.Errorf("cannot copy pebble binary: %w", err)
		}
	}

	var script strings.Builder
	script.WriteString("set -e\n")
	if opts.JoinNetns == "" {
		script.WriteString("ip link set lo up\n")
	}
	for _, d := range privateDirs {
		if d.create {
			if err := os.MkdirAll(d.inside, 0o755); err != nil {
				return fmt.Errorf("cannot create %s: %w", d.inside, err)
			}
		}
		if _, err := os.Stat(d.inside); err != nil {
			return fmt.Errorf("%w: %s missing on this machine", ErrUnavailable, d.inside)
		}
		fmt.Fprintf(&script, "mount --bind %s %s\n", shellQuote(filepath.Join(s.root, d.host)), d.inside)
	}
	if opts.Hosts != nil {
		hosts := filepath.Join(s.root, "hosts")
		if err := os.WriteFile(hosts, []byte(hostsFile(opts.Hosts)), 0o644); err != nil {
			return fmt.Errorf("cannot write hosts: %w", err)
		}
		fmt.Fprintf(&script, "mount --bind %s /etc/hosts\n", shellQuote(hosts))
	}
	fmt.Fprintf(&script, "exec %s run --create-dirs\n", shellQuote(bin))

	s.socket = filepath.Join(s.root, "pebble", ".pebble.socket")
	s.logPath = filepath.Join(s.root, "pebble.log")
	logf, err := os.Create(s.logPath)
	if err != nil {
		return fmt.Errorf("cannot create pebble log: %w", err)
	}
	defer logf.Close()

	args := []string{"unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private"}
	if opts.JoinNetns == "" {
		args = append(args, "--net")
	} else {
		// nsenter execs unshare in the network namespace joined.
		args = append([]string{"nsenter", "--net=" + opts.JoinNetns}, args...)
	}
	args = append(args, "/bin/sh", "-c", script.String())
	s.cmd = exec.Command(args[0], args[1:]...)
	env := os.Environ()
	if len(opts.Path) > 0 {
		env = append(env, "PATH="+strings.Join(append(slices.Clone(opts.Path), os.Getenv("PATH")), ":"))
	}
	s.cmd.Env = append(env,
		"PEBBLE="+filepath.Join(s.root, "pebble"),
		"PEBBLE_PERSIST=never",
		"PEBBLE_VERBOSE=1",
	)
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	// If this process dies, unshare is killed, and --kill-child takes
	// Pebble (the PID namespace's init) and everything under it along.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("cannot start unshare: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()

	deadline := time.Now().Add(opts.StartTimeout)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("%w: pebble exited during startup (%v): %s", ErrUnavailable, s.waitErr, s.Log())
		default:
		}
		if ready(s.socket) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pebble socket %s did not appear within %s: %s", s.socket, opts.StartTimeout, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// unshare(2) moved the unshare process itself into the new network
	// namespace (only the PID namespace needed the fork).
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", s.cmd.Process.Pid))
	if err != nil {
		return fmt.Errorf("cannot open sandbox network namespace: %w", err)
	}
	s.nsFile = f
	s.pebble = s.pebblePID()
	var own, theirs unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &own); err != nil {
		return fmt.Errorf("cannot stat own network namespace: %w", err)
	}
	if err := unix.Fstat(int(f.Fd()), &theirs); err != nil {
		return fmt.Errorf("cannot stat sandbox network namespace: %w", err)
	}
	if own.Ino == theirs.Ino {
		return errors.New("sandbox network namespace is the host's")
	}
	return nil
}

// ready reports whether Pebble accepts connections on socket.
func ready(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func hostsFile(hosts map[string]string) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s\t%s\n", hosts[n], n)
	}
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// DefaultNginxConf is the nginx.conf a fresh sandbox starts with: valid,
// serving nothing but a 204 on 127.0.0.1:80 inside the namespace.
const DefaultNginxConf = `worker_processes 1;
error_log /dev/stderr error;
pid /tmp/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    server { listen 127.0.0.1:80; location / { return 204; } }
}
`

// SocketPath is the Pebble API socket, reachable from the host.
func (s *Sandbox) SocketPath() string { return s.socket }

// Root is the sandbox's directory on the host.
func (s *Sandbox) Root() string { return s.root }

// HostPath maps a path inside the sandbox under one of its private mounts
// (/etc/nginx, /var/log/nginx, /var/lib/nginx, /tmp) to the same file on
// the host, so tests can inspect it without going through Pebble.
func (s *Sandbox) HostPath(inside string) (string, error) {
	inside = filepath.Clean(inside)
	for _, d := range privateDirs {
		if isUnder(inside, d.inside) {
			rel, _ := filepath.Rel(d.inside, inside)
			return filepath.Join(s.root, d.host, rel), nil
		}
	}
	return "", fmt.Errorf("%s is not under a private sandbox mount", inside)
}

// Log returns what Pebble (and, through PEBBLE_VERBOSE, its services) wrote
// so far.
func (s *Sandbox) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	return string(b)
}

// NetnsPath is a /proc path to the sandbox's network namespace (valid while
// the sandbox runs), e.g. for `nsenter --net=<path>`.
func (s *Sandbox) NetnsPath() string {
	return fmt.Sprintf("/proc/%d/ns/net", s.cmd.Process.Pid)
}

// InNetns runs fn on an OS thread switched into the sandbox's network
// namespace. Sockets created by fn stay in that namespace for their whole
// life, whichever thread later uses them. fn must not start goroutines
// that create sockets (they would run on other threads).
func (s *Sandbox) InNetns(fn func() error) error {
	if s.nsFile == nil {
		return errors.New("sandbox is not running")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("cannot open own network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(s.nsFile.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("cannot enter sandbox network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: Go terminates it when this
			// goroutine exits, so no other goroutine runs in the
			// wrong namespace.
			errc <- fmt.Errorf("cannot leave sandbox network namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// ListenInNetns is net.Listen inside the sandbox's network namespace.
func (s *Sandbox) ListenInNetns(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := s.InNetns(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// DialContext dials addr inside the sandbox's network namespace. Use IP
// addresses: names are resolved with the host's resolver configuration.
func (s *Sandbox) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := s.InNetns(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// ContextDialer has the signature grpc.WithContextDialer expects:
// grpc.NewClient(addr, grpc.WithContextDialer(sb.ContextDialer()), ...).
func (s *Sandbox) ContextDialer() func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return s.DialContext(ctx, "tcp", addr)
	}
}

// HTTPTransport returns a fresh transport whose connections are made
// inside the sandbox's network namespace.
func (s *Sandbox) HTTPTransport() *http.Transport {
	return &http.Transport{
		DialContext:         s.DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
}

// HTTPClient returns an http.Client using HTTPTransport.
func (s *Sandbox) HTTPClient() *http.Client {
	return &http.Client{Transport: s.HTTPTransport(), Timeout: 30 * time.Second}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}

// pebblePID returns the host PID of Pebble (init of the sandbox's PID
// namespace, the only child of unshare), or 0.
func (s *Sandbox) pebblePID() int {
	pid := s.cmd.Process.Pid
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	fields := bytes.Fields(b)
	if len(fields) == 0 {
		return 0
	}
	child, err := strconv.Atoi(string(fields[0]))
	if err != nil {
		return 0
	}
	return child
}

// Close stops Pebble (SIGTERM, which stops its services; SIGKILL after
// the grace period), which ends every process of the sandbox, and removes
// the sandbox directory. It is safe to call more than once.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Sandbox) close() error {
	if s.nsFile != nil {
		s.nsFile.Close()
		s.nsFile = nil
	}
	if s.cmd != nil && s.cmd.Process != nil {
		child := s.pebble
		if child == 0 {
			child = s.pebblePID()
		}
		if child > 0 {
			_ = syscall.Kill(child, syscall.SIGTERM)
		} else {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-s.done:
		case <-time.After(s.grace):
			// Killing Pebble, the PID namespace's init, makes the kernel
			// kill everything in the namespace; unshare's wait for it
			// returns only once they are all gone, so wait for unshare
			// rather than killing it too.
			if child > 0 {
				_ = syscall.Kill(child, syscall.SIGKILL)
			}
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill() // --kill-child takes Pebble along
				select {
				case <-s.done:
				case <-time.After(10 * time.Second):
					return fmt.Errorf("sandbox process %d did not exit", s.cmd.Process.Pid)
				}
			}
		}
		// Belt and braces: Pebble itself must be gone (it is reaped by
		// unshare, or by init if unshare was killed first).
		if child > 0 {
			deadline := time.Now().Add(10 * time.Second)
			for alive(child) {
				if time.Now().After(deadline) {
					return fmt.Errorf("pebble process %d did not exit", child)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	if err := os.RemoveAll(s.root); err != nil {
		return fmt.Errorf("cannot remove sandbox root: %w", err)
	}
	return nil
}

// ContainerSockets lays out the containers' Pebble sockets in dir as Juju
// shows them to a charm (<dir>/<container>/pebble.socket, the charm's
// COORDINATOR_PEBBLE_SOCKET_DIR).
func ContainerSockets(dir string, containers map[string]*Sandbox) error {
	for name, c := range containers {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(c.SocketPath(), filepath.Join(dir, name, "pebble.socket")); err != nil {
			return err
		}
	}
	return nil
}
