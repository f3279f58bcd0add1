package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tempo-coordinator/coordinator/bench/replay"
	"github.com/tempo-coordinator/coordinator/bench/toolwire"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
	"github.com/tempo-coordinator/coordinator/internal/juju"
	"github.com/tempo-coordinator/coordinator/internal/jujusim"
)

// Runner runs the built dispatch binary as Juju would, one hook at a time,
// with the shim linked under every hook tool's name on PATH.
type Runner struct {
	// Dispatch is the charm binary.
	Dispatch string
	// Env adds KEY=VALUE entries to the charm's environment (e.g. GODEBUG
	// or GOGC, to compare run-time settings); empty in the published runs.
	Env []string
	// Stderr, when set, receives the charm's standard error after every
	// run (with GODEBUG=inittrace=1 or gctrace=1, the run time's report).
	Stderr   io.Writer
	dir      string
	toolsDir string
	charmDir string
	// pebbleDir has no sockets: the nginx container is "not ready", so the
	// charm sets Waiting and carries on.
	pebbleDir string
	// launcher is the shim linked as toolwire.LaunchName.
	launcher string
	server   *toolServer
}

// NewRunner prepares a temporary directory: the tools (symlinks to the
// shim), a charm directory with the charm's metadata.yaml (dispatch picks
// its product from it) and the tool server's socket. Close removes it.
func NewRunner(dispatch, shim, charmSource string) (*Runner, error) {
	var err error
	if dispatch, err = filepath.Abs(dispatch); err != nil {
		return nil, err
	}
	if shim, err = filepath.Abs(shim); err != nil {
		return nil, err
	}
	if charmSource, err = filepath.Abs(charmSource); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hookbench-")
	if err != nil {
		return nil, fmt.Errorf("cannot prepare the benchmark: %w", err)
	}
	r := &Runner{Dispatch: dispatch, dir: dir, toolsDir: filepath.Join(dir, "tools"),
		charmDir: filepath.Join(dir, "charm"), pebbleDir: filepath.Join(dir, "containers"),
		launcher: filepath.Join(dir, toolwire.LaunchName)}
	fail := func(err error) (*Runner, error) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cannot prepare the benchmark: %w", err)
	}
	for _, d := range []string{r.toolsDir, r.charmDir, r.pebbleDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail(err)
		}
	}
	for _, name := range jujusim.ToolNames() {
		if err := os.Symlink(shim, filepath.Join(r.toolsDir, name)); err != nil {
			return fail(err)
		}
	}
	if err := os.Symlink(shim, r.launcher); err != nil {
		return fail(err)
	}
	meta, err := os.ReadFile(filepath.Join(charmSource, "metadata.yaml"))
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(r.charmDir, "metadata.yaml"), meta, 0o644); err != nil {
		return fail(err)
	}
	// The charm's assets (rule files, dashboards), as make charm packs
	// them: read only when an observability relation exists.
	if err := os.Symlink(filepath.Join(charmSource, "src"), filepath.Join(r.charmDir, "src")); err != nil {
		return fail(err)
	}
	if r.server, err = newToolServer(dir); err != nil {
		return fail(err)
	}
	return r, nil
}

// Close stops the tool server and removes the temporary directory.
func (r *Runner) Close() error {
	err := r.server.close()
	return errors.Join(err, os.RemoveAll(r.dir))
}

// Result is one hook run: what the charm called and what it cost.
type Result struct {
	Hook     string
	ExitCode int
	Stderr   string
	// Calls are the hook-tool calls as the model recorded them; Counts
	// counts them by tool.
	Calls  []jujusim.Call
	Counts map[string]int
	// Minimum is the theoretical minimum for this hook on this model.
	Minimum Minimum
	// Records are the tool server's measurements, one per call.
	Records []CallRecord

	// Wall is the dispatch process's lifetime, from start to wait (as the
	// launcher measured it).
	Wall time.Duration
	// CPU is user+sys from wait4's rusage: the dispatch process plus every
	// child it waited for, i.e. the shims.
	CPU time.Duration
	// Own is the dispatch process's own CPU as its process CPU clock read
	// at exit (exact; 0 if the launcher could not read it).
	Own time.Duration
	// MaxRSSKB is wait4's ru_maxrss: the maximum of the dispatch process's
	// own peak, its waited-for children's (Linux reports the larger) and
	// its parent's before exec (the small launcher's).
	MaxRSSKB int64
	// DatabagBytes is what relation-set calls sent (stdin and key=value
	// arguments); StateBytes the same for state-set.
	DatabagBytes, StateBytes int
}

// ToolsCPU is the shims' own CPU as they reported it.
func (r *Result) ToolsCPU() time.Duration {
	var d time.Duration
	for _, rec := range r.Records {
		d += rec.SelfCPU
	}
	return d
}

// ToolsHandling is the simulated controller's time over every call.
func (r *Result) ToolsHandling() time.Duration {
	var d time.Duration
	for _, rec := range r.Records {
		d += rec.Handling
	}
	return d
}

// ToolMaxRSSKB is the largest peak resident set a shim reported.
func (r *Result) ToolMaxRSSKB() int64 {
	var m int64
	for _, rec := range r.Records {
		m = max(m, rec.SelfMaxRSSKB)
	}
	return m
}

// CharmAtLastCall is the dispatch process's own CPU (schedstat) and VmHWM
// read when its last tool call arrived: exact lower bounds of its own
// totals, which miss only the work after that call.
func (r *Result) CharmAtLastCall() (time.Duration, int64) {
	var cpu time.Duration
	var hwm int64
	for _, rec := range r.Records {
		cpu = max(cpu, rec.CharmCPU)
		hwm = max(hwm, rec.CharmHWMKB)
	}
	return cpu, hwm
}

// OwnCPU is the dispatch process's own CPU: exact (Own) when the launcher
// could read it, else derived from wait4 (Wait4OwnCPU).
func (r *Result) OwnCPU(cal Calibration) time.Duration {
	if r.Own > 0 {
		return r.Own
	}
	return r.Wait4OwnCPU(cal)
}

// Wait4OwnCPU derives the dispatch process's own CPU from wait4's
// user+sys: minus what each shim reported for itself and the shims'
// calibrated exit cost (the CPU a shim spends after its report, which
// wait4 counts too). A cross-check of Own; a calibration error of a few
// µs is multiplied by the number of calls.
func (r *Result) Wait4OwnCPU(cal Calibration) time.Duration {
	return r.CPU - r.ToolsCPU() - time.Duration(len(r.Records))*cal.ExitCPU
}

// OwnCompute is OwnCPU without the charm's side of starting and waiting
// for its tool processes (calls × the calibrated ParentSpawnCPU): the CPU
// of the charm's own logic, which an in-process tool transport would leave.
func (r *Result) OwnCompute(cal Calibration) time.Duration {
	return r.OwnCPU(cal) - time.Duration(len(r.Records))*cal.ParentSpawnCPU
}

// Extra lists the calls beyond the minimum, by tool (negative when the
// charm needed fewer than the minimum counts).
func (r *Result) Extra() map[string]int {
	out := map[string]int{}
	for tool, n := range r.Counts {
		if d := n - r.Minimum[tool]; d != 0 {
			out[tool] = d
		}
	}
	for tool, n := range r.Minimum {
		if _, ok := r.Counts[tool]; !ok && n != 0 {
			out[tool] = -n
		}
	}
	return out
}

// NewWarmModel returns a fresh model of the given size, with the config,
// after running hook once, unmeasured, on a scratch model of the same
// size: the measured hook that follows then starts in the same state as a
// second hook does, just after a hook run of the same binary (binary
// pages, tool shim and server warm), not just after the benchmark built a
// model. Without it, first hooks paid a colder start-up than second hooks.
func (r *Runner) NewWarmModel(size Size, config map[string]any, hook Hook) (*jujusim.Model, error) {
	scratch := NewModel(size, config)
	res, err := r.Run(scratch, hook.Name, HookOptions(scratch, hook))
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("warm-up %s: exit %d\n%s", hook.Name, res.ExitCode, res.Stderr)
	}
	return NewModel(size, config), nil
}

// Run runs one hook against m and commits its writes iff it exits 0.
func (r *Runner) Run(m *jujusim.Model, hook string, opts jujusim.HookOptions) (*Result, error) {
	opts.CharmDir = r.charmDir
	min := minimumReads(tempo.Product().Endpoints(), m)
	before := takeSnapshot(m)
	h, err := m.Begin(hook, opts)
	if err != nil {
		return nil, err
	}
	env := h.Env()
	env["PATH"] = r.toolsDir + string(os.PathListSeparator) + os.Getenv("PATH")
	env[toolwire.SocketEnv] = r.server.path
	env["COORDINATOR_PEBBLE_SOCKET_DIR"] = r.pebbleDir
	// The charm runs under the small launcher, which reports its pid, then
	// its wall time and wait4 rusage, on fd 3 (see toolwire.LaunchReport).
	cmd := exec.Command(r.launcher, r.Dispatch)
	cmd.Dir = r.charmDir
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, r.Env...)
	slices.Sort(cmd.Env)
	cmd.Stdin = bytes.NewReader(nil)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	pr, pw, err := os.Pipe()
	if err != nil {
		m.End(h, false)
		return nil, err
	}
	defer pr.Close()
	cmd.ExtraFiles = []*os.File{pw}

	r.server.begin(h)
	err = cmd.Start()
	pw.Close()
	if err != nil {
		r.server.end()
		m.End(h, false)
		return nil, fmt.Errorf("cannot run %s: %w", r.Dispatch, err)
	}
	report := bufio.NewReader(pr)
	var rep toolwire.LaunchReport
	var repErr error
	if line, err := report.ReadString('\n'); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
			r.server.setPID(pid)
		}
		repErr = json.NewDecoder(report).Decode(&rep)
	} else {
		repErr = err
	}
	waitErr := cmd.Wait()
	records := r.server.end()
	if r.Stderr != nil {
		fmt.Fprintf(r.Stderr, "--- %s (%s):\n%s", hook, filepath.Base(r.Dispatch), stderr.Bytes())
	}
	res := &Result{Hook: hook, Stderr: stderr.String(), Calls: h.Calls(), Counts: map[string]int{},
		Records: records, Wall: time.Duration(rep.WallNanos)}
	var exitErr *exec.ExitError
	if repErr != nil || (waitErr != nil && !errors.As(waitErr, &exitErr)) {
		m.End(h, false)
		return nil, fmt.Errorf("cannot run %s: %v, %v\n%s", r.Dispatch, repErr, waitErr, stderr.String())
	}
	res.ExitCode = rep.ExitCode
	m.End(h, res.ExitCode == 0)
	res.CPU = time.Duration(rep.UserMicros+rep.SystemMicros) * time.Microsecond
	res.MaxRSSKB = rep.MaxRSSKB
	res.Own = time.Duration(rep.OwnNanos)
	for _, c := range res.Calls {
		res.Counts[c.Tool]++
		bytes := c.StdinLen
		for _, a := range c.Args {
			if strings.Contains(a, "=") && !strings.HasPrefix(a, "-") {
				bytes += len(a)
			}
		}
		switch c.Tool {
		case "relation-set":
			res.DatabagBytes += bytes
		case "state-set":
			res.StateBytes += bytes
		}
	}
	addMinimumWrites(min, before, takeSnapshot(m))
	res.Minimum = min
	if len(records) != len(res.Calls) {
		return res, fmt.Errorf("%s: the tool server saw %d calls, the model recorded %d", hook, len(records), len(res.Calls))
	}
	return res, nil
}

// Calibration is the cost of the shim process around a call, measured by
// running it directly from the benchmark, where wait4 gives its exact
// total: ExitCPU is the CPU it spends after its self-report (exit and
// teardown, which its report cannot include), SpawnWall the wall time of
// one call minus the server's handling (fork, exec, runtime start,
// connect, exit). Both are medians.
type Calibration struct {
	Runs      int
	ExitCPU   time.Duration
	SpawnWall time.Duration
	// ShimCPU is the median total CPU of one shim run.
	ShimCPU time.Duration
	// ShimMaxRSSKB bounds a shim's own peak resident set: its ru_maxrss
	// when started by the launcher (whose own RSS it includes).
	ShimMaxRSSKB int64
	// ParentSpawnCPU is what starting and waiting for one tool process
	// costs the calling process itself, measured as the charm's own
	// juju.ProcessRunner running /bin/true (mean over the runs).
	ParentSpawnCPU time.Duration
}

// Calibrate runs the shim n times as "is-leader --format=json" in a hook
// on a one-unit model.
func (r *Runner) Calibrate(n int) (Calibration, error) {
	m := NewModel(Size{1, 1}, nil)
	h, err := m.Begin("update-status", jujusim.HookOptions{CharmDir: r.charmDir})
	if err != nil {
		return Calibration{}, err
	}
	defer m.End(h, true)
	env := os.Environ()
	for k, v := range h.Env() {
		env = append(env, k+"="+v)
	}
	env = append(env, toolwire.SocketEnv+"="+r.server.path)
	tool := filepath.Join(r.toolsDir, "is-leader")
	var exitCPU, spawn, total []time.Duration
	cal := Calibration{Runs: n}
	for range n {
		r.server.begin(h)
		cmd := &exec.Cmd{Path: tool, Args: []string{"is-leader", "--format=json"}, Env: env}
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		recs := r.server.end()
		if err != nil || len(recs) != 1 || !recs[0].HaveUsage {
			return Calibration{}, fmt.Errorf("cannot calibrate: shim run failed (%v, %d records)", err, len(recs))
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		exitCPU = append(exitCPU, cpu-recs[0].SelfCPU)
		spawn = append(spawn, wall-recs[0].Handling)
		total = append(total, cpu)
	}
	cal.ExitCPU, cal.SpawnWall, cal.ShimCPU = median(exitCPU), median(spawn), median(total)

	r.server.begin(h)
	pr, pw, err := os.Pipe()
	if err != nil {
		return Calibration{}, err
	}
	defer pr.Close()
	launch := &exec.Cmd{Path: r.launcher, Args: []string{toolwire.LaunchName, tool, "--format=json"}, Env: env,
		ExtraFiles: []*os.File{pw}}
	err = launch.Start()
	pw.Close()
	if err != nil {
		return Calibration{}, fmt.Errorf("cannot calibrate: %w", err)
	}
	var rep toolwire.LaunchReport
	report := bufio.NewReader(pr)
	if _, err := report.ReadString('\n'); err != nil {
		return Calibration{}, fmt.Errorf("cannot calibrate: %w", err)
	}
	if err := json.NewDecoder(report).Decode(&rep); err != nil {
		return Calibration{}, fmt.Errorf("cannot calibrate: %w", err)
	}
	launch.Wait()
	r.server.end()
	cal.ShimMaxRSSKB = rep.MaxRSSKB

	truePath, err := exec.LookPath("true")
	if err != nil {
		return Calibration{}, fmt.Errorf("cannot calibrate: %w", err)
	}
	tools, err := juju.NewProcessRunner()
	if err != nil {
		return Calibration{}, fmt.Errorf("cannot calibrate: %w", err)
	}
	defer tools.Close()
	before := selfCPU()
	for range n {
		if _, err := tools.Run(context.Background(), truePath, nil, nil); err != nil {
			return Calibration{}, fmt.Errorf("cannot calibrate: %w", err)
		}
	}
	cal.ParentSpawnCPU = (selfCPU() - before) / time.Duration(n)
	return cal, nil
}

// selfCPU is this process's user+sys time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// Writes are the hook's write calls (see isWrite) in the order it made
// them, for the read floor to replay.
func (r *Result) Writes() []replay.Call {
	var calls []replay.Call
	for _, rec := range r.Records {
		if isWrite(rec.Tool) {
			calls = append(calls, replay.Call{Tool: rec.Tool, Args: rec.Args, Stdin: rec.Stdin})
		}
	}
	return calls
}
