package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Addresses of the private network every scenario builds. The whole subnet
// lives in namespaces the test creates, so it cannot clash with the host.
const (
	subnetPrefix = "10.77.0."
	subnetBits   = 24
	// hubIP is the bridge's own address in the hub namespace, where the
	// test's S3 server listens.
	hubIP = subnetPrefix + "254"
	// coordinatorIP is the coordinator sandbox's eth0 address.
	coordinatorIP = subnetPrefix + "1"
	// firstWorkerHost is the host part of the first worker address.
	firstWorkerHost = 10
)

// nsPrefix names every namespace this test process creates
// ("e2e-<pid>-<n>"), so stale ones from a killed run can be recognised.
var nsPrefix = fmt.Sprintf("e2e-%d-", os.Getpid())

var nsCounter atomic.Int64

// network is one scenario's private network: a hub namespace with a
// bridge, and veth-connected namespaces hanging off it.
type network struct {
	t   testing.TB
	hub string // the hub namespace's name

	mu       sync.Mutex
	nextHost int
	nextVeth int
}

// newNetwork creates the hub namespace and its bridge, and deletes every
// namespace of the network in t.Cleanup (after the processes using them
// were stopped by cleanups registered later).
func newNetwork(t testing.TB) *network {
	t.Helper()
	n := &network{t: t, nextHost: firstWorkerHost}
	n.hub = n.addNetns()
	n.ip("-n", n.hub, "link", "add", "br0", "type", "bridge")
	n.ip("-n", n.hub, "addr", "add", fmt.Sprintf("%s/%d", hubIP, subnetBits), "dev", "br0")
	n.ip("-n", n.hub, "link", "set", "br0", "up")
	return n
}

// addNetns creates an empty named namespace with loopback up.
func (n *network) addNetns() string {
	name := nsPrefix + strconv.FormatInt(nsCounter.Add(1), 10)
	n.ip("netns", "add", name)
	n.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			n.t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	n.ip("-n", name, "link", "set", "lo", "up")
	return name
}

// ip runs the ip command, failing the test on error.
func (n *network) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// connect plugs the namespace target (a name under /run/netns) into the
// bridge as eth0 with the address ip.
func (n *network) connect(target, ip string) {
	n.t.Helper()
	n.mu.Lock()
	n.nextVeth++
	veth := fmt.Sprintf("v%d", n.nextVeth)
	n.mu.Unlock()
	n.ip("-n", n.hub, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", target)
	n.ip("-n", n.hub, "link", "set", veth, "master", "br0", "up")
	n.ip("-n", target, "addr", "add", fmt.Sprintf("%s/%d", ip, subnetBits), "dev", "eth0")
	n.ip("-n", target, "link", "set", "eth0", "up")
}

// addHost creates a namespace for one worker unit (its "pod"), connected
// to the bridge, and returns its name and address.
func (n *network) addHost() (netns, ip string) {
	n.t.Helper()
	n.mu.Lock()
	host := n.nextHost
	n.nextHost++
	n.mu.Unlock()
	if host >= 254 {
		n.t.Fatal("out of worker addresses")
	}
	netns = n.addNetns()
	ip = subnetPrefix + strconv.Itoa(host)
	n.connect(netns, ip)
	return netns, ip
}

// attach connects an existing namespace (a /proc/<pid>/ns/net path, such
// as the coordinator sandbox's) to the bridge with the address ip. It is
// given a name with `ip netns attach` for the duration of the test.
func (n *network) attach(nsPath, ip string) {
	n.t.Helper()
	pid := strings.TrimSuffix(strings.TrimPrefix(nsPath, "/proc/"), "/ns/net")
	if _, err := strconv.Atoi(pid); err != nil {
		n.t.Fatalf("cannot attach %s: not a /proc/<pid>/ns/net path", nsPath)
	}
	name := nsPrefix + strconv.FormatInt(nsCounter.Add(1), 10)
	n.ip("netns", "attach", name, pid)
	n.t.Cleanup(func() {
		// Only the name goes: the namespace itself belongs to its process.
		exec.Command("ip", "netns", "del", name).Run()
	})
	n.connect(name, ip)
}

// inNetns runs fn on an OS thread switched into the named namespace;
// sockets fn creates stay in that namespace.
func inNetns(name string, fn func() error) error {
	f, err := os.Open(filepath.Join("/run/netns", name))
	if err != nil {
		return fmt.Errorf("cannot open namespace %s: %w", name, err)
	}
	defer f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("cannot enter namespace %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// The thread stays locked and dies with the goroutine.
			errc <- errors.Join(ferr, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// listen is net.Listen inside the hub namespace.
func (n *network) listen(addr string) (net.Listener, error) {
	var l net.Listener
	err := inNetns(n.hub, func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	return l, err
}

// dial dials addr from the hub namespace (the bridge reaches every
// worker and the coordinator).
func (n *network) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(n.hub, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// httpClient talks to the workers from the hub namespace.
func (n *network) httpClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{DialContext: n.dial, MaxIdleConnsPerHost: 4, IdleConnTimeout: 10 * time.Second},
		Timeout:   10 * time.Second,
	}
}

// removeStaleNamespaces deletes namespaces left by e2e test processes that
// no longer exist (a run killed before its cleanups ran).
func removeStaleNamespaces() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "e2e-")
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // still running
		}
		exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}
