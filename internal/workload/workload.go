// Package workload drives the charm's workload containers through Pebble.
// It is the only package of the project that imports the Pebble client;
// the rest of the charm sees Containers, Layers and plans.
package workload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/canonical/pebble/client"
)

// ErrNotReady reports that a container's Pebble cannot be reached yet
// (socket missing, connection refused). The caller should set a Waiting
// status and exit 0: Juju fires <container>-pebble-ready later.
var ErrNotReady = errors.New("pebble not ready")

// Timeouts applied to every Pebble exec and change wait (a context
// deadline shortens them).
const (
	ExecTimeout   = 30 * time.Second
	ChangeTimeout = 60 * time.Second
)

// pebbleAPI is the part of *client.Client the adapter uses, so tests can
// substitute an in-memory fake or a counting wrapper.
type pebbleAPI interface {
	SysInfo() (*client.SysInfo, error)
	PlanBytes(*client.PlanOptions) ([]byte, error)
	AddLayer(*client.AddLayerOptions) error
	Services(*client.ServicesOptions) ([]*client.ServiceInfo, error)
	Start(*client.ServiceOptions) (string, error)
	Stop(*client.ServiceOptions) (string, error)
	Restart(*client.ServiceOptions) (string, error)
	Replan(*client.ServiceOptions) (string, error)
	WaitChange(string, *client.WaitChangeOptions) (*client.Change, error)
	Pull(*client.PullOptions) error
	Push(*client.PushOptions) error
	ListFiles(*client.ListFilesOptions) ([]*client.FileInfo, error)
	RemovePath(*client.RemovePathOptions) error
	Logs(*client.LogsOptions) error
	// Exec is client.Client.Exec with the process behind an interface.
	Exec(*client.ExecOptions) (process, error)
}

// process is a started exec (*client.ExecProcess).
type process interface{ Wait() error }

// realAPI adapts *client.Client to pebbleAPI.
type realAPI struct{ *client.Client }

func (r realAPI) Exec(o *client.ExecOptions) (process, error) {
	p, err := r.Client.Exec(o)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Container is a workload container reached through its Pebble socket.
type Container struct {
	api    pebbleAPI
	bootID string
}

// Connect opens the Pebble API at socket and checks it answers. A missing socket or a refused connection is
// reported as ErrNotReady.
func Connect(socket string) (*Container, error) {
	// Fast checks first: the client retries failed GETs for 5 seconds.
	if _, err := os.Stat(socket); err != nil {
		return nil, fmt.Errorf("cannot connect to pebble at %s: %w: %v", socket, ErrNotReady, err)
	}
	conn, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to pebble at %s: %w: %v", socket, ErrNotReady, err)
	}
	conn.Close()
	cl, err := client.New(&client.Config{Socket: socket})
	if err != nil {
		return nil, fmt.Errorf("cannot create pebble client: %w", err)
	}
	return connect(realAPI{cl})
}

func connect(api pebbleAPI) (*Container, error) {
	info, err := api.SysInfo()
	if err != nil {
		return nil, notReady(fmt.Errorf("cannot get pebble system info: %w", err))
	}
	return &Container{api: api, bootID: info.BootID}, nil
}

// notReady marks err as ErrNotReady when Pebble could not be reached
// (socket gone, connection refused or broken), e.g. because the container
// restarted in the middle of a hook.
func notReady(err error) error {
	if err == nil || errors.Is(err, ErrNotReady) {
		return err
	}
	var nf *client.SocketNotFoundError
	var ce client.ConnectionError
	if errors.As(err, &nf) || errors.As(err, &ce) {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return err
}

// BootID identifies the Pebble daemon's boot; it changes when the
// container restarts (what Juju's pebble-ready detection uses).
func (c *Container) BootID() string { return c.bootID }

// timeout returns max bounded by the context's deadline.
func timeout(ctx context.Context, max time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < max {
			if left < time.Millisecond {
				left = time.Millisecond
			}
			return left
		}
	}
	return max
}

// execResult is the outcome of a command run through Pebble.
type execResult struct {
	stdout, stderr string
	// exitCode is the command's exit code when it ran (err == nil).
	exitCode int
}

// exitCoder is implemented by *client.ExitError.
type exitCoder interface{ ExitCode() int }

// run executes cmd in the container and waits for it. A non-zero exit is
// not an error (see exitCode); failing to run or wait is.
func (c *Container) run(ctx context.Context, cmd ...string) (execResult, error) {
	if err := ctx.Err(); err != nil {
		return execResult{}, fmt.Errorf("cannot run %q: %w", strings.Join(cmd, " "), err)
	}
	var stdout, stderr bytes.Buffer
	p, err := c.api.Exec(&client.ExecOptions{
		Command: cmd,
		Timeout: timeout(ctx, ExecTimeout),
		Stdout:  &stdout,
		Stderr:  &stderr,
	})
	if err == nil {
		err = p.Wait()
	}
	res := execResult{stdout: stdout.String(), stderr: stderr.String()}
	var ec exitCoder
	if errors.As(err, &ec) {
		res.exitCode = ec.ExitCode()
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("cannot run %q: %w", strings.Join(cmd, " "), err)
	}
	return res, nil
}

// readFile pulls a file; exists is false when it is missing.
func (c *Container) readFile(ctx context.Context, p string) (data []byte, exists bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("cannot read %s: %w", p, err)
	}
	var buf bytes.Buffer
	perr := c.api.Pull(&client.PullOptions{Path: p, Target: &buf})
	if perr == nil {
		return buf.Bytes(), true, nil
	}
	// Pebble v1.26's client reports a missing file with an unhelpful
	// decoding error, not a not-found *client.Error: ask again with a stat.
	if _, err := c.api.ListFiles(&client.ListFilesOptions{Path: p, Itself: true}); isNotFound(err) {
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("cannot read %s: %w", p, perr)
}

func isNotFound(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Kind == client.ErrorKindNotFound
}

// writeFile pushes data to p (creating parent directories).
func (c *Container) writeFile(ctx context.Context, p string, data []byte, perm os.FileMode) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cannot write %s: %w", p, err)
	}
	if err := c.api.Push(&client.PushOptions{Path: p, Source: bytes.NewReader(data), MakeDirs: true, Permissions: perm}); err != nil {
		return fmt.Errorf("cannot write %s: %w", p, err)
	}
	return nil
}

// removeFile removes p; a missing file is not an error.
func (c *Container) removeFile(ctx context.Context, p string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cannot remove %s: %w", p, err)
	}
	if err := c.api.RemovePath(&client.RemovePathOptions{Path: p}); err != nil && !isNotFound(err) {
		return fmt.Errorf("cannot remove %s: %w", p, err)
	}
	return nil
}

// wait waits for a change and fails if it failed: WaitChange succeeds even
// when the change itself errored (chg.Err).
func (c *Container) wait(ctx context.Context, what, id string) error {
	chg, err := c.api.WaitChange(id, &client.WaitChangeOptions{Timeout: timeout(ctx, ChangeTimeout)})
	if err != nil {
		return fmt.Errorf("cannot %s: waiting for change %s: %w", what, id, err)
	}
	if chg.Err != "" {
		return fmt.Errorf("cannot %s: change %s failed: %s", what, id, chg.Err)
	}
	if !chg.Ready {
		return fmt.Errorf("cannot %s: change %s not ready (status %s)", what, id, chg.Status)
	}
	return nil
}

// serviceAction runs Start/Stop/Restart/Replan and waits for the change.
// On failure the services' recent log lines are added to the error.
func (c *Container) serviceAction(ctx context.Context, what string, act func(*client.ServiceOptions) (string, error), names []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cannot %s: %w", what, err)
	}
	id, err := act(&client.ServiceOptions{Names: names})
	if err != nil {
		return fmt.Errorf("cannot %s: %w", what, err)
	}
	if err := c.wait(ctx, what, id); err != nil {
		if logs := c.recentLogs(names, 10); logs != "" {
			return fmt.Errorf("%w; recent output:\n%s", err, logs)
		}
		return err
	}
	return nil
}

// recentLogs returns the last n log lines of services (best effort).
func (c *Container) recentLogs(services []string, n int) string {
	var b strings.Builder
	_ = c.api.Logs(&client.LogsOptions{Services: services, N: n, WriteLog: func(e client.LogEntry) error {
		fmt.Fprintf(&b, "%s: %s\n", e.Service, strings.TrimRight(e.Message, "\n"))
		return nil
	}})
	return strings.TrimRight(b.String(), "\n")
}

// ServiceStatus returns a service's current status as Pebble reports it
// ("active", "inactive", ...), "" when Pebble does not know it.
func (c *Container) ServiceStatus(ctx context.Context, name string) (string, error) {
	st, err := c.serviceStatus(ctx, name)
	return string(st[name]), err
}

// serviceStatus returns the current status of each named service ("" when
// Pebble does not know it).
func (c *Container) serviceStatus(ctx context.Context, names ...string) (map[string]client.ServiceStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cannot get services: %w", err)
	}
	svcs, err := c.api.Services(&client.ServicesOptions{Names: names})
	if err != nil {
		return nil, fmt.Errorf("cannot get services: %w", err)
	}
	st := make(map[string]client.ServiceStatus, len(names))
	for _, n := range names {
		st[n] = ""
	}
	for _, s := range svcs {
		st[s.Name] = s.Current
	}
	return st, nil
}

// ensureLayer adds l under label when the plan does not already contain
// it; changedServices are the services whose definition changed.
func (c *Container) ensureLayer(ctx context.Context, label string, l Layer) (changed bool, changedServices []string, err error) {
	if err := ctx.Err(); err != nil {
		return false, nil, fmt.Errorf("cannot read pebble plan: %w", err)
	}
	plan, err := c.api.PlanBytes(nil)
	if err != nil {
		return false, nil, fmt.Errorf("cannot read pebble plan: %w", err)
	}
	changed, changedServices, err = layerDiff(l, plan)
	if err != nil || !changed {
		return false, nil, err
	}
	data, err := l.YAML()
	if err != nil {
		return false, nil, err
	}
	if err := c.api.AddLayer(&client.AddLayerOptions{Combine: true, Label: label, LayerData: data}); err != nil {
		return false, nil, fmt.Errorf("cannot add layer %q: %w", label, err)
	}
	return true, changedServices, nil
}

// ApplyLayer makes sure the layer is in the plan under label and that its
// enabled services run: it adds the layer and replans when the layer
// changed (Pebble restarts services whose definition changed) or when an
// enabled service is not active. Nothing is written when all is in place.
// Losing Pebble midway is reported as ErrNotReady.
func (c *Container) ApplyLayer(ctx context.Context, label string, l Layer) (changed bool, err error) {
	changed, err = c.applyLayer(ctx, label, l)
	return changed, notReady(err)
}

func (c *Container) applyLayer(ctx context.Context, label string, l Layer) (changed bool, err error) {
	changed, _, err = c.ensureLayer(ctx, label, l)
	if err != nil {
		return false, err
	}
	var enabled []string
	for _, name := range slices.Sorted(maps.Keys(l.Services)) {
		if l.Services[name].Startup == "enabled" {
			enabled = append(enabled, name)
		}
	}
	needReplan := changed
	if !needReplan && len(enabled) > 0 {
		st, err := c.serviceStatus(ctx, enabled...)
		if err != nil {
			return changed, err
		}
		for _, name := range enabled {
			if st[name] != client.StatusActive {
				needReplan = true
			}
		}
	}
	if needReplan {
		if err := c.serviceAction(ctx, "replan "+label, c.api.Replan, nil); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// ApplyExporter runs the nginx-prometheus-exporter scraping nginx's status
// page on statusPort: over plain HTTP when cert is nil, else over https,
// the exporter itself serving https with cert and key (written only when
// they differ; removed again when TLS goes away and they exist).
func (c *Container) ApplyExporter(ctx context.Context, statusPort int, cert, key []byte) (changed bool, err error) {
	changed, err = c.applyExporter(ctx, statusPort, cert, key)
	return changed, notReady(err)
}

func (c *Container) applyExporter(ctx context.Context, statusPort int, cert, key []byte) (bool, error) {
	files := map[string][]byte{ExporterCertPath: cert, ExporterKeyPath: key, ExporterWebConfig: []byte(exporterWebContent)}
	if cert == nil {
		return c.applyLayer(ctx, ExporterLabel, ExporterLayer(statusPort))
	}
	written := false
	for _, name := range slices.Sorted(maps.Keys(files)) {
		cur, ok, err := c.readFile(ctx, name)
		if err != nil {
			return false, err
		}
		if ok && bytes.Equal(cur, files[name]) {
			continue
		}
		if err := c.writeFile(ctx, name, files[name], filePerm(name)); err != nil {
			return false, err
		}
		written = true
	}
	sum := sha256.Sum256(append(append([]byte{}, cert...), key...))
	changed, err := c.applyLayer(ctx, ExporterLabel, ExporterTLSLayer(statusPort, hex.EncodeToString(sum[:8])))
	return changed || written, err
}

// RemoveFiles removes files that exist; it reports whether any did.
func (c *Container) RemoveFiles(ctx context.Context, names ...string) (bool, error) {
	removed := false
	for _, name := range names {
		_, ok, err := c.readFile(ctx, name)
		if err != nil {
			return removed, notReady(err)
		}
		if !ok {
			continue
		}
		if err := c.removeFile(ctx, name); err != nil {
			return removed, notReady(err)
		}
		removed = true
	}
	return removed, nil
}
