package workload

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// Paths in the nginx container.
const (
	// NginxConfigPath is the config nginx runs with.
	NginxConfigPath = "/etc/nginx/nginx.conf"
	// NginxCandidatePath is where a new config is validated (`nginx -t`)
	// before it replaces NginxConfigPath.
	NginxCandidatePath = "/etc/nginx/nginx.conf.candidate"
	// NginxLoadedPath records what the running nginx has loaded (see
	// loadedRecord), written only after a start or reload succeeded.
	NginxLoadedPath = "/etc/nginx/nginx.conf.loaded"
)

// ReloadTimeout bounds the wait for nginx to take a new configuration
// after `nginx -s reload` (a context deadline shortens it).
const ReloadTimeout = 5 * time.Second

// nginxVersionRE finds the version in `nginx -v`'s output. The patterns
// of this file are compiled when first used, not at every hook's start.
var nginxVersionRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`nginx/([0-9][^\s]*)`)
})

// NginxFacts detects what the nginx config depends on: nginx's version
// (`nginx -v`, which prints "nginx version: nginx/1.22.1" on stderr), IPv6
// availability (a non-empty /proc/net/if_inet6, which lists every IPv6
// address including ::1, like `ip -6 address show`) and the first
// nameserver of the container's /etc/resolv.conf. A missing
// /proc/net/if_inet6 (IPv6 disabled) or resolv.conf is not an error;
// losing Pebble is ErrNotReady.
func (c *Container) NginxFacts(ctx context.Context) (coordinator.NginxFacts, error) {
	f, err := c.nginxFacts(ctx)
	return f, notReady(err)
}

func (c *Container) nginxFacts(ctx context.Context) (coordinator.NginxFacts, error) {
	var f coordinator.NginxFacts
	res, err := c.run(ctx, "nginx", "-v")
	if err != nil {
		return f, fmt.Errorf("cannot detect nginx version: %w", err)
	}
	if res.exitCode != 0 {
		return f, fmt.Errorf("cannot detect nginx version: nginx -v exited with %d: %s", res.exitCode, strings.TrimSpace(res.stderr+res.stdout))
	}
	if m := nginxVersionRE().FindStringSubmatch(res.stderr + res.stdout); m != nil {
		f.Version = m[1]
	}
	inet6, ok, err := c.readFile(ctx, "/proc/net/if_inet6")
	if err != nil {
		return f, fmt.Errorf("cannot detect IPv6: %w", err)
	}
	f.IPv6 = ok && len(bytes.TrimSpace(inet6)) > 0
	resolv, ok, err := c.readFile(ctx, "/etc/resolv.conf")
	if err != nil {
		return f, fmt.Errorf("cannot detect resolver: %w", err)
	}
	if ok {
		f.Resolver = firstNameserver(resolv)
	}
	return f, nil
}

// firstNameserver returns the address of the first nameserver line of a
// resolv.conf, or "".
func firstNameserver(resolv []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(resolv))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			return fields[1]
		}
	}
	return ""
}

// NginxPlan is what the nginx container should look like.
type NginxPlan struct {
	// Config is the desired /etc/nginx/nginx.conf.
	Config []byte
	// Run is whether nginx should run. When false nginx is stopped (the
	// config is still validated and written).
	Run bool
	// Files are extra files (absolute paths, e.g. TLS certificates); a nil
	// value means the file must not exist. Files whose base name contains
	// "key" are written 0600, others 0644. They are written before the
	// config is validated (so `nginx -t` sees them); removals happen only
	// after a new config was accepted.
	Files map[string][]byte
	// StatusPort is the port of nginx's /status page, checked by the
	// layer's health check (see NginxLayer); 0 means no check.
	StatusPort int
	// TLS: nginx serves TLS (the check then only connects: NginxTLSLayer).
	TLS bool
}

// NginxResult reports what ApplyNginx did.
type NginxResult struct {
	// LayerChanged: the nginx layer was (re)added to the plan.
	LayerChanged bool
	// ConfigChanged: a new nginx.conf was validated and written.
	ConfigChanged bool
	// FilesChanged: an extra file was written or removed.
	FilesChanged bool
	// Started, Stopped, Restarted, Reloaded: what happened to nginx.
	// Restarted only happens when the service definition itself changed.
	Started, Stopped, Restarted, Reloaded bool
	// Rejected is `nginx -t`'s output when the new config was rejected;
	// the previous config stays in place and running. Not an error: the
	// charm shows it in its status.
	Rejected string
}

// Changed reports whether ApplyNginx wrote anything.
func (r NginxResult) Changed() bool {
	return r.LayerChanged || r.ConfigChanged || r.FilesChanged || r.Started || r.Stopped || r.Restarted || r.Reloaded
}

// ApplyNginx converges the nginx container on p, writing only what
// differs: layer, extra files, config (validated with `nginx -t` on a
// candidate copy before it goes live), then the service: stopped when
// !p.Run; started when not running; restarted if its layer definition
// changed; else reloaded (`nginx -s reload`, never a restart) when what
// nginx has loaded differs from the config and files on disk.
//
// What nginx has loaded is recorded in the container (NginxLoadedPath)
// only once a start or reload is known to have worked: a digest of the
// config and files, with Pebble's boot id and the time the service last
// became active (which changes when Pebble restarts nginx). So a reload
// that failed, or a hook killed between writing the config and reloading,
// is retried by the next apply although the file on disk is already the
// desired one. With nothing to change it only reads. Losing Pebble midway
// is reported as ErrNotReady; the result then tells what was already done.
func (c *Container) ApplyNginx(ctx context.Context, p NginxPlan) (NginxResult, error) {
	res, err := c.applyNginx(ctx, p)
	return res, notReady(err)
}

func (c *Container) applyNginx(ctx context.Context, p NginxPlan) (NginxResult, error) {
	var res NginxResult
	layer := NginxLayer(p.StatusPort)
	if p.TLS {
		layer = NginxTLSLayer(p.StatusPort)
	}
	layerChanged, changedSvcs, err := c.ensureLayer(ctx, NginxLabel, layer)
	if err != nil {
		return res, err
	}
	res.LayerChanged = layerChanged

	// Extra files the config may reference go first.
	var removals []string
	for _, name := range slices.Sorted(maps.Keys(p.Files)) {
		data := p.Files[name]
		if data == nil {
			removals = append(removals, name)
			continue
		}
		cur, ok, err := c.readFile(ctx, name)
		if err != nil {
			return res, err
		}
		if ok && bytes.Equal(cur, data) {
			continue
		}
		if err := c.writeFile(ctx, name, data, filePerm(name)); err != nil {
			return res, err
		}
		res.FilesChanged = true
	}

	cur, ok, err := c.readFile(ctx, NginxConfigPath)
	if err != nil {
		return res, err
	}
	live := cur // the config nginx will run with
	if !ok || !bytes.Equal(cur, p.Config) {
		rejected, err := c.validate(ctx, p.Config)
		if err != nil {
			return res, err
		}
		if rejected != "" {
			res.Rejected = rejected
		} else {
			if err := c.writeFile(ctx, NginxConfigPath, p.Config, 0o644); err != nil {
				return res, err
			}
			res.ConfigChanged = true
			live = p.Config
		}
	}

	// Remove files only once no rejected config could still need them.
	if res.Rejected == "" {
		for _, name := range removals {
			_, ok, err := c.readFile(ctx, name)
			if err != nil {
				return res, err
			}
			if !ok {
				continue
			}
			if err := c.removeFile(ctx, name); err != nil {
				return res, err
			}
			res.FilesChanged = true
		}
	}

	svc, err := c.nginxService(ctx)
	if err != nil {
		return res, err
	}
	digest := loadedDigest(live, p.Files)
	switch {
	case !p.Run:
		// Backoff too: otherwise Pebble keeps restarting it.
		if svc.Current == client.StatusActive || svc.Current == client.StatusBackoff {
			if err := c.serviceAction(ctx, "stop nginx", c.api.Stop, []string{NginxService}); err != nil {
				return res, err
			}
			res.Stopped = true
		}
		return res, nil
	case svc.Current != client.StatusActive:
		if err := c.startNginx(ctx, "start nginx", c.api.Start, live); err != nil {
			return res, err
		}
		res.Started = true
	case len(changedSvcs) > 0:
		// A new command/environment only takes effect on a restart.
		if err := c.startNginx(ctx, "restart nginx", c.api.Restart, live); err != nil {
			return res, err
		}
		res.Restarted = true
	default:
		loaded, _, err := c.readFile(ctx, NginxLoadedPath)
		if err != nil {
			return res, err
		}
		if string(loaded) == c.loadedRecord(svc, digest) {
			return res, nil
		}
		if err := c.reload(ctx, live); err != nil {
			return res, err
		}
		res.Reloaded = true
	}
	// Started, restarted or reloaded: record what nginx runs now.
	if svc, err = c.nginxService(ctx); err != nil {
		return res, err
	}
	return res, c.writeFile(ctx, NginxLoadedPath, []byte(c.loadedRecord(svc, digest)), 0o644)
}

// nginxService returns the nginx service's status (Current is "" when
// Pebble does not know it).
func (c *Container) nginxService(ctx context.Context) (client.ServiceInfo, error) {
	if err := ctx.Err(); err != nil {
		return client.ServiceInfo{}, fmt.Errorf("cannot get services: %w", err)
	}
	svcs, err := c.api.Services(&client.ServicesOptions{Names: []string{NginxService}})
	if err != nil {
		return client.ServiceInfo{}, fmt.Errorf("cannot get services: %w", err)
	}
	for _, s := range svcs {
		if s.Name == NginxService {
			return *s, nil
		}
	}
	return client.ServiceInfo{Name: NginxService}, nil
}

// loadedDigest identifies a config and the extra files it may read
// (files to remove play no part: a config that needed them differs):
// each name and content preceded by its length, so that no two sets
// share an encoding.
func loadedDigest(config []byte, files map[string][]byte) string {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field(config)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if files[name] != nil {
			field([]byte(name))
			field(files[name])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// loadedRecord is what NginxLoadedPath holds while the nginx service svc
// runs the config and files of digest: the record of another Pebble boot
// or of an nginx that Pebble restarted since (another current-since)
// never matches.
func (c *Container) loadedRecord(svc client.ServiceInfo, digest string) string {
	return fmt.Sprintf("boot-id %s\nactive-since %s\nsha256 %s\n", c.bootID, svc.CurrentSince.UTC().Format(time.RFC3339Nano), digest)
}

// pidDirectiveRE finds nginx.conf's pid directive.
var pidDirectiveRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\s*pid\s+([^;\s]+)\s*;`)
})

// pidPath returns the pid file nginx.conf configures, or "".
func pidPath(config []byte) string {
	if m := pidDirectiveRE().FindSubmatch(config); m != nil {
		return string(m[1])
	}
	return ""
}

// startNginx starts (or restarts) nginx and makes sure it really came up.
//
// Pebble calls a start successful once the process has lived for a
// second, but nginx retries a failed bind() five times, 500ms apart,
// before giving up: a port conflict kills it only after Pebble reported
// success. nginx writes its pid file once every listening socket is bound,
// so: remove the pid file, start, then wait until the pid file appears
// (up) or the service leaves the active state (failed; the error carries
// nginx's last output). Without a pid directive in the config only
// Pebble's own check applies.
func (c *Container) startNginx(ctx context.Context, what string, act func(*client.ServiceOptions) (string, error), config []byte) error {
	pid := pidPath(config)
	if pid != "" {
		if err := c.removeFile(ctx, pid); err != nil {
			return fmt.Errorf("cannot %s: %w", what, err)
		}
	}
	if err := c.serviceAction(ctx, what, act, []string{NginxService}); err != nil {
		return err
	}
	if pid == "" {
		return nil
	}
	deadline := time.Now().Add(timeout(ctx, ChangeTimeout))
	for {
		if _, err := c.api.ListFiles(&client.ListFilesOptions{Path: pid, Itself: true}); err == nil {
			return nil
		} else if !isNotFound(err) {
			return fmt.Errorf("cannot %s: checking %s: %w", what, pid, err)
		}
		st, err := c.serviceStatus(ctx, NginxService)
		if err != nil {
			return fmt.Errorf("cannot %s: %w", what, err)
		}
		if st[NginxService] != client.StatusActive {
			err := fmt.Errorf("cannot %s: nginx exited after starting (now %s)", what, st[NginxService])
			if logs := c.recentLogs([]string{NginxService}, 10); logs != "" {
				err = fmt.Errorf("%w; recent output:\n%s", err, logs)
			}
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cannot %s: nginx did not write %s within %s", what, pid, ChangeTimeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cannot %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// validate checks config with `nginx -t` on a candidate file next to the
// live one (so relative includes resolve the same way), removes the
// candidate, and returns nginx's output when the config is rejected.
func (c *Container) validate(ctx context.Context, config []byte) (rejected string, err error) {
	if err := c.writeFile(ctx, NginxCandidatePath, config, 0o644); err != nil {
		return "", err
	}
	res, runErr := c.run(ctx, "nginx", "-t", "-c", NginxCandidatePath)
	// Clean up whatever happened, with a fresh context so a cancelled
	// one does not leave the candidate behind.
	rmErr := c.removeFile(context.WithoutCancel(ctx), NginxCandidatePath)
	if runErr != nil {
		// The removal's own failure, if any, is reported with it.
		return "", errors.Join(fmt.Errorf("cannot validate nginx config: %w", runErr), rmErr)
	}
	if rmErr != nil {
		return "", rmErr
	}
	if res.exitCode == 0 {
		return "", nil
	}
	out := strings.TrimSpace(res.stderr + res.stdout)
	// Point at the file the user knows about.
	out = strings.ReplaceAll(out, NginxCandidatePath, NginxConfigPath)
	if out == "" {
		out = fmt.Sprintf("nginx -t exited with %d", res.exitCode)
	}
	return out, nil
}

// reload asks the running nginx master to reload its config gracefully,
// and waits until it did.
//
// `nginx -s reload` only sends a signal: a config that passed `nginx -t`
// can still fail in the master (a port taken by another process of the
// pod, a file it cannot open), which then logs the error and keeps the
// previous config. A successful reload starts new worker processes, so
// the master's children are compared before and after (from
// /proc/<master>/task/<master>/children). Where they cannot be read the
// signal's delivery is all that is checked.
func (c *Container) reload(ctx context.Context, config []byte) error {
	before, canCheck := c.nginxWorkers(ctx, config)
	res, err := c.run(ctx, "nginx", "-s", "reload")
	if err != nil {
		return fmt.Errorf("cannot reload nginx: %w", err)
	}
	if res.exitCode != 0 {
		return fmt.Errorf("cannot reload nginx: exit status %d: %s", res.exitCode, strings.TrimSpace(res.stderr+res.stdout))
	}
	if !canCheck {
		return nil
	}
	wait := timeout(ctx, ReloadTimeout)
	deadline := time.Now().Add(wait)
	for {
		after, ok := c.nginxWorkers(ctx, config)
		if ok && slices.ContainsFunc(after, func(pid string) bool { return !slices.Contains(before, pid) }) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			err := fmt.Errorf("cannot reload nginx: it kept its previous configuration (no new worker process within %s)", wait)
			if logs := c.recentLogs([]string{NginxService}, 10); logs != "" {
				err = fmt.Errorf("%w; recent output:\n%s", err, logs)
			}
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// nginxWorkers returns the pids of the nginx master's children; ok is
// false when they cannot be known (no pid file, no /proc children file).
func (c *Container) nginxWorkers(ctx context.Context, config []byte) (pids []string, ok bool) {
	pidFile := pidPath(config)
	if pidFile == "" {
		return nil, false
	}
	raw, found, err := c.readFile(ctx, pidFile)
	master := strings.TrimSpace(string(raw))
	if err != nil || !found || master == "" || strings.ContainsAny(master, "/. ") {
		return nil, false
	}
	children, found, err := c.readFile(ctx, "/proc/"+master+"/task/"+master+"/children")
	if err != nil || !found {
		return nil, false
	}
	return strings.Fields(string(children)), true
}

// filePerm keeps private keys private.
func filePerm(name string) os.FileMode {
	if strings.Contains(path.Base(name), "key") {
		return 0o600
	}
	return 0o644
}
