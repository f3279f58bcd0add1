package jujusim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
)

// ModelEnv is the variable naming the model file the tools executable uses.
const ModelEnv = "JUJUSIM_MODEL"

// SimPackage is the import path of the multi-call tools executable.
const SimPackage = "github.com/tempo-coordinator/coordinator/cmd/jujusim"

// Main is the multi-call tools executable: the tool is basename(argv0);
// the model is loaded from and saved to the file named by $JUJUSIM_MODEL
// under an exclusive lock. It returns the exit code.
func Main(argv0 string, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	tool := filepath.Base(argv0)
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ERROR "+format+"\n", a...)
		return 1
	}
	path := getenv(ModelEnv)
	if path == "" {
		return fail("%s not set", ModelEnv)
	}
	if getenv("JUJU_CONTEXT_ID") == "" {
		return fail("JUJU_CONTEXT_ID not set")
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return fail("%v", err)
	}
	defer unlock()
	m, err := Load(path)
	if err != nil {
		return fail("%v", err)
	}
	if m.Hook == nil || m.Hook.ContextID != getenv("JUJU_CONTEXT_ID") {
		return fail("bad context id %q: no such hook is running", getenv("JUJU_CONTEXT_ID"))
	}
	out, errOut, code, injected := m.injected(context.Background(), tool, args) // a hang lasts until the hook kills the tool
	if !injected {
		out, errOut, code = m.Exec(tool, args, stdin)
	}
	if err := m.Save(path); err != nil {
		return fail("%v", err)
	}
	stdout.Write(out)
	stderr.Write(errOut)
	return code
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot lock model: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot lock model: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

var builds struct {
	sync.Mutex
	dir  string
	bins map[string]string
	errs map[string]error
}

// Build compiles a main package (an import path, or a path relative to the
// test's working directory) once per test binary and returns the
// executable's path. The executables live in one temporary directory that
// CleanupBuilds removes.
func Build(tb testing.TB, pkg string) string {
	tb.Helper()
	prereq.Heavy(tb)
	builds.Lock()
	defer builds.Unlock()
	if bin, ok := builds.bins[pkg]; ok {
		return bin
	}
	if err, ok := builds.errs[pkg]; ok {
		tb.Fatal(err)
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "jujusim-build-")
		if err != nil {
			tb.Fatalf("cannot build %s: %v", pkg, err)
		}
		builds.dir = dir
		builds.bins, builds.errs = map[string]string{}, map[string]error{}
	}
	bin := filepath.Join(builds.dir, fmt.Sprintf("bin%d", len(builds.bins)+len(builds.errs)), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		err = fmt.Errorf("cannot build %s: %v\n%s", pkg, err, out)
		builds.errs[pkg] = err
		tb.Fatal(err)
	}
	builds.bins[pkg] = bin
	return bin
}

// CleanupBuilds removes the executables Build made; call it from TestMain
// after m.Run.
func CleanupBuilds() {
	builds.Lock()
	defer builds.Unlock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	builds.dir, builds.bins, builds.errs = "", nil, nil
}

// Harness runs a built charm binary against a Model through real
// executables on PATH, as Juju runs it.
type Harness struct {
	// Model is the model; tests edit it between hooks. After a hook it is
	// updated in place, keeping the identity of *Relation values.
	Model *Model
	// Dir holds the model file, the tools directory and the charm directory.
	Dir      string
	ToolsDir string
	CharmDir string
}

// NewHarness builds the tools executable (once per test binary) and
// prepares a temporary directory with a symlink per tool name.
func NewHarness(tb testing.TB, m *Model) *Harness {
	tb.Helper()
	sim := Build(tb, SimPackage)
	dir := tb.TempDir()
	h := &Harness{Model: m, Dir: dir, ToolsDir: filepath.Join(dir, "tools"), CharmDir: filepath.Join(dir, "charm")}
	for _, d := range []string{h.ToolsDir, h.CharmDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for _, name := range ToolNames() {
		if err := os.Symlink(sim, filepath.Join(h.ToolsDir, name)); err != nil {
			tb.Fatal(err)
		}
	}
	return h
}

// HookResult is the outcome of one hook or action run.
type HookResult struct {
	ExitCode       int
	Stdout, Stderr string
	// Env is the environment the charm got.
	Env map[string]string
	// Calls are the tool calls made during the hook.
	Calls []Call
	// Counts are the number of calls by tool name.
	Counts map[string]int
}

// Tools lists the calls as "tool arg arg ...", in order.
func (r HookResult) Tools() []string {
	out := make([]string, len(r.Calls))
	for i, c := range r.Calls {
		out[i] = strings.TrimSpace(c.Tool + " " + strings.Join(c.Args, " "))
	}
	return out
}

// RunHook runs the binary for the hook with a clean Juju environment and
// the tools on PATH, commits the hook's pending writes iff it exits 0 and
// reloads the model. A non-zero exit is reported in the result, not as an
// error; errors are failures of the harness itself.
func (h *Harness) RunHook(ctx context.Context, binary, hook string, opts HookOptions) (HookResult, error) {
	if opts.CharmDir == "" {
		opts.CharmDir = h.CharmDir
	}
	env, err := HookEnv(h.Model, hook, opts)
	if err != nil {
		return HookResult{}, err
	}
	modelPath := filepath.Join(h.Dir, "model.json")
	env["PATH"] = h.ToolsDir + string(os.PathListSeparator) + os.Getenv("PATH")
	env[ModelEnv] = modelPath
	if cover := os.Getenv("GOCOVERDIR"); cover != "" {
		env["GOCOVERDIR"] = cover
	}
	h.Model.begin(hook, opts, env)
	start := len(h.Model.Calls)
	if err := h.Model.Save(modelPath); err != nil {
		h.Model.end(false, 1)
		return HookResult{}, err
	}
	cmd := exec.CommandContext(ctx, binary)
	cmd.Dir = opts.CharmDir
	cmd.Env = make([]string, 0, len(env))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	sort.Strings(cmd.Env)
	cmd.Stdin = bytes.NewReader(nil)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &exitErr):
		code = exitErr.ExitCode()
	default:
		h.Model.end(false, 1)
		return HookResult{}, fmt.Errorf("cannot run %s for %s: %w", binary, hook, runErr)
	}
	loaded, err := Load(modelPath)
	if err != nil {
		h.Model.end(false, code)
		return HookResult{}, err
	}
	loaded.end(code == 0, code)
	h.adopt(loaded)
	res := HookResult{ExitCode: code, Stdout: stdout.String(), Stderr: stderr.String(), Env: env,
		Calls: append([]Call(nil), h.Model.Calls[start:]...), Counts: map[string]int{}}
	for _, c := range res.Calls {
		res.Counts[c.Tool]++
	}
	return res, nil
}

// RunAction runs the binary for an action with the parameters.
func (h *Harness) RunAction(ctx context.Context, binary, action string, params map[string]any, opts HookOptions) (HookResult, error) {
	opts.Action, opts.Params = true, params
	return h.RunHook(ctx, binary, action, opts)
}

// adopt replaces the harness model's contents with loaded, keeping the
// *Model and every surviving *Relation pointer valid.
func (h *Harness) adopt(loaded *Model) {
	old := map[int]*Relation{}
	for _, r := range h.Model.Relations {
		old[r.ID] = r
	}
	for i, r := range loaded.Relations {
		if o, ok := old[r.ID]; ok {
			*o = *r
			loaded.Relations[i] = o
		}
	}
	*h.Model = *loaded
}
