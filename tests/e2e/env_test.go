package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/jujusim"
	"github.com/tempo-coordinator/coordinator/internal/testenv/prereq"
	"github.com/tempo-coordinator/coordinator/internal/testenv/sandbox"
)

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		removeStaleNamespaces()
	}
	code := m.Run()
	jujusim.CleanupBuilds()
	os.Exit(code)
}

// workloadBinary returns the path of a workload binary: $<envVar> when set
// (the Makefile exports TEMPO_BIN and PYROSCOPE_BIN), else the default
// location `make workloads` builds it to.
func workloadBinary(envVar, name string) string {
	if p := os.Getenv(envVar); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "coordinator-workloads", "bin", name)
}

// exporterBinary returns the nginx-prometheus-exporter binary the
// exporter container runs (`make workloads`, or $NGINX_EXPORTER_BIN, a
// file of that name): missing, the test is skipped, or fails in CI.
func exporterBinary(t testing.TB) string {
	t.Helper()
	bin := requireBinary(t, "NGINX_EXPORTER_BIN", "nginx-prometheus-exporter")
	if filepath.Base(bin) != "nginx-prometheus-exporter" {
		prereq.Missing(t, "%s: the exporter container runs the binary by its name, nginx-prometheus-exporter", bin)
	}
	return bin
}

// requireEnv skips the test, with the reason, when this machine cannot run
// the scenario: -short, not root, nginx/unshare/ip missing, or the
// workload binary absent. It returns the workload binary.
func requireEnv(t *testing.T, envVar, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping end-to-end scenario in -short mode")
	}
	if os.Geteuid() != 0 {
		prereq.Missing(t, "end-to-end scenarios need root (network and mount namespaces)")
	}
	if err := sandbox.Available(); err != nil {
		prereq.Missing(t, "%v (make system-deps)", err)
	}
	for _, tool := range []string{"ip", "unshare", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			prereq.Missing(t, "%s not found (make system-deps)", tool)
		}
	}
	return requireBinary(t, envVar, name)
}

// requireBinary returns the workload binary ($envVar, else the `make
// workloads` cache): missing, the test is skipped, or fails in CI.
func requireBinary(t testing.TB, envVar, name string) string {
	t.Helper()
	bin := workloadBinary(envVar, name)
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		prereq.Missing(t, "%s binary not found at %s (build it with `make workloads`, or set %s)", name, bin, envVar)
	}
	return bin
}

// report prints the scenario's result line: in the test log, and on
// stdout in verbose mode so `make e2e` shows it even when the test passes.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("e2e %s: ", t.Name()) + fmt.Sprintf(format, args...)
	t.Log(line)
	if testing.Verbose() {
		fmt.Println(line)
	}
}
